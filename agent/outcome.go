package agent

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// Every outcome of a call is known or found out. A call the agent answered
// has a known outcome (its result or its *RPCError); a call that never left
// the engine (*TransportError) was not carried out. Anything between — a
// deadline or a cancellation while the request was on its way or being
// carried out, a connection that broke before the answer, an answer that
// cannot be read — is an *UnknownError: the change may or may not be on the
// host. The engine then settles it with VM.settle, naming the call's
// operation id: the agent fences that id (it will never start it, however
// late the request arrives) and, under the VM's lock (so after the call, if
// it had started), reports the VM's devices. Requests also carry their
// deadline, and the agent refuses to start one whose deadline has passed.

// Codes the agent adds to VDSM's.
const (
	// CodeNotStarted: the request's deadline passed, or it was fenced by
	// VM.settle, before it could start; nothing was done.
	CodeNotStarted = 100
	// CodeOutcomeUnknown: the hypervisor failed in a way that leaves the
	// change's outcome unknown (its connection broke), and reading the
	// device back failed too.
	CodeOutcomeUnknown = 101
)

func init() {
	codeText[CodeNotStarted] = "Request not started"
	codeText[CodeOutcomeUnknown] = "Outcome of the request unknown"
}

// UnknownError is a call whose outcome is unknown: it may have been carried
// out. Settle it with VM.settle.
type UnknownError struct{ Err error }

func (e *UnknownError) Error() string { return "outcome unknown: " + e.Err.Error() }
func (e *UnknownError) Unwrap() error { return e.Err }

// IsUnknown tells whether err leaves a call's outcome unknown.
func IsUnknown(err error) bool {
	var ue *UnknownError
	var re *RPCError
	return errors.As(err, &ue) || errors.As(err, &re) && re.Code == CodeOutcomeUnknown
}

type opKey struct{}

// WithOp names the operation a call carries out, so that VM.settle can fence it.
func WithOp(ctx context.Context, opID string) context.Context {
	return context.WithValue(ctx, opKey{}, opID)
}

func opOf(ctx context.Context) string {
	s, _ := ctx.Value(opKey{}).(string)
	return s
}

// isDial tells whether a failed POST never reached the agent.
func isDial(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// meta is what a request carries besides its params.
type meta struct {
	deadline time.Time // zero: none
	op       string
}

type metaKey struct{}

func metaOf(ctx context.Context) meta {
	m, _ := ctx.Value(metaKey{}).(meta)
	return m
}

// maxOpID bounds an operation id (a UUID is 36 bytes).
const maxOpID = 64

// fenceTTL is how long a fenced operation id is remembered: far longer than
// any request can wait in a socket or a lock queue, since a request past its
// deadline is refused anyway.
const fenceTTL = 10 * time.Minute

// fences remembers the operation ids VM.settle fenced.
type fences struct {
	mu     sync.Mutex
	ids    map[string]time.Time // id → until when
	pruned time.Time
}

func (f *fences) add(id string, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ids == nil {
		f.ids = map[string]time.Time{}
	}
	if now.Sub(f.pruned) > time.Minute {
		for k, until := range f.ids {
			if now.After(until) {
				delete(f.ids, k)
			}
		}
		f.pruned = now
	}
	f.ids[id] = now.Add(fenceTTL)
}

func (f *fences) has(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.ids[id]
	return ok
}
