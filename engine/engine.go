// Package engine holds vwire's use cases: one method per user action, each
// validating with oVirt's rules in oVirt's order, deciding the one host
// action a change needs, calling the host agent, and writing the change and
// its audit event in one transaction.
//
// Host calls are never made inside a database transaction (a hot-unplug may
// wait seconds for a guest). Instead a use case holds the VM's lock,
// validates, reserves what it needs (a MAC), calls the host, and only then
// commits the new state. A host failure therefore leaves the database as it
// was, except the failure event, and the reservation is undone. If the
// commit itself fails after the host succeeded, the host change is reverted
// (the undo stack), so the database never claims what the host does not have.
//
// Every read the REST API serves is an engine query too (queries.go:
// DataCenters, Clusters, VMs, Events, WatchEvents...), with typed filters;
// nothing outside the engine reads the store. Each use case checks its
// permits first and each query keeps what the caller may see (authz.go).
package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// Engine runs the use cases.
type Engine struct {
	store vwire.Store
	dial  Dialer
	// signer signs hosts' certificates (enroll.go); nil: no enrolment.
	signer HostSigner
	log    *slog.Logger
	now    func() time.Time

	hostTimeout  time.Duration
	pollInterval time.Duration

	// id names this engine process, as the owner of host leases; lastBeat
	// is when it last recorded its heartbeat (Unix ms).
	id       string
	lastBeat atomic.Int64

	// leases are the hosts this engine polls, until when.
	leasesMu sync.Mutex
	leases   map[string]time.Time

	clientsMu sync.Mutex
	clients   map[string]cachedClient
	// seen is when this engine last reached each host (time.Time by host
	// id): the LastSeen a host that stops answering is recorded with.
	seen sync.Map

	// samples are the last traffic counters read of each vNIC, for rates.
	samples *nicSamples
	// lastJobSweep is when ended jobs were last cleared (Unix ms).
	lastJobSweep atomic.Int64

	auth *auth
	// obs is told of changes, drift and polls (observe.go).
	obs Observer
}

type cachedClient struct {
	addr string
	c    HostClient
}

// Options configure an Engine.
type Options struct {
	Logger *slog.Logger
	// Dial connects to host agents (required): app wires the JSON-RPC
	// adapter, agent/engineport.
	Dial Dialer
	// HostTimeout bounds each host call (default DefaultHostTimeout).
	HostTimeout time.Duration
	// PollInterval is how often hosts are polled (default 3 s).
	PollInterval time.Duration
	// Sessions configure tokens, sessions and login throttling (auth.go).
	Sessions SessionOptions
	// Signer signs enrolled hosts' certificates (app injects the engine's
	// CA); nil: hosts cannot be enrolled.
	Signer HostSigner
	// Observer is told of changes' outcomes, drift and poll cycles, for
	// metrics (observe.go); nil: nothing is.
	Observer Observer
}

// DefaultHostTimeout bounds each host call when Options.HostTimeout is zero.
const DefaultHostTimeout = 30 * time.Second

// New returns an engine on store. o.Dial must be set.
func New(store vwire.Store, o Options) *Engine {
	e := &Engine{store: store, dial: o.Dial, signer: o.Signer, log: o.Logger, now: time.Now, hostTimeout: o.HostTimeout,
		pollInterval: o.PollInterval, clients: map[string]cachedClient{}, samples: newNICSamples(), id: uuid.NewString(),
		leases: map[string]time.Time{}, auth: newAuth(o.Sessions), obs: o.Observer}
	if e.obs == nil {
		e.obs = noObserver{}
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.hostTimeout == 0 {
		e.hostTimeout = DefaultHostTimeout
	}
	if e.pollInterval == 0 {
		e.pollInterval = 3 * time.Second
	}
	if e.dial == nil {
		panic("engine.New: Options.Dial is nil")
	}
	return e
}

// client returns the (cached) client of a host.
func (e *Engine) client(h *vwire.Host) HostClient {
	addr := hostURL(h)
	e.clientsMu.Lock()
	defer e.clientsMu.Unlock()
	if c, ok := e.clients[h.ID]; ok && c.addr == addr {
		return c.c
	}
	if old, ok := e.clients[h.ID]; ok {
		closeClient(old.c) // the host moved: its old connection is no use
	}
	c := e.dial(h)
	e.clients[h.ID] = cachedClient{addr, c}
	return c
}

func closeClient(c HostClient) {
	if cl, ok := c.(io.Closer); ok {
		cl.Close()
	}
}

// Close drops the engine's connections to its hosts.
func (e *Engine) Close() {
	e.clientsMu.Lock()
	defer e.clientsMu.Unlock()
	for id, c := range e.clients {
		closeClient(c.c)
		delete(e.clients, id)
	}
}

type ctxKey int

const (
	userKey ctxKey = iota
	correlationKey
	principalKey
)

// Principal is the authenticated user a request acts for. The engine's
// use cases and queries read it from the context (PrincipalOf) to decide
// what the caller may do and see, and audit events name it.
type Principal struct {
	UserID, Name, Domain string
}

// AuditName is how oVirt's events name a user: "admin@internal-authz".
func (p Principal) AuditName() string { return p.Name + "@" + p.Domain + "-authz" }

// WithPrincipal records who acts: for permission checks and audit events.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(WithUser(ctx, p.AuditName()), principalKey, p)
}

// PrincipalOf returns the user a request acts for; false for the engine's
// own work (polling, repair), which acts as SYSTEM.
func PrincipalOf(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey).(Principal)
	return p, ok
}

// WithUser records the name audit events give the actor, without a
// principal: a change settled later in the name of the user who asked.
func WithUser(ctx context.Context, user string) context.Context {
	return context.WithValue(ctx, userKey, user)
}

// WithCorrelation records the request's correlation id for audit events.
func WithCorrelation(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationKey, id)
}

func userOf(ctx context.Context) string {
	if u, ok := ctx.Value(userKey).(string); ok {
		return u
	}
	return "SYSTEM"
}

func correlationOf(ctx context.Context) string {
	s, _ := ctx.Value(correlationKey).(string)
	return s
}

// CorrelationID is the correlation id of the request ctx serves ("" for
// the engine's own work): the port's adapter sends it with each host call
// as the call's flow id, and the binaries' log handler writes it as
// request_id, so that one change can be followed from the REST request
// through the engine's log into the agent's.
func CorrelationID(ctx context.Context) string { return correlationOf(ctx) }

// undo is a stack of compensations (Incus' revert): each step registers its
// inverse, and if a later step fails they all run, newest first.
type undo struct{ fns []func() }

func (u *undo) add(fn func()) { u.fns = append(u.fns, fn) }
func (u *undo) success()      { u.fns = nil }
func (u *undo) run() {
	for i := len(u.fns) - 1; i >= 0; i-- {
		u.fns[i]()
	}
	u.fns = nil
}

// background is a context for compensations: they must run even when the
// request's context has ended, and keep its values (who acts, the
// correlation id), but not the operation id of a host call: a compensation
// is not the change it compensates.
func (e *Engine) background(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(WithOp(context.WithoutCancel(ctx), ""), e.hostTimeout)
}

// hostError turns a failed host call into the client's error: the code says
// a host failed, the detail carries the host's own reason.
func hostError(generic string, h *vwire.Host, err error) *vwire.Error {
	reason := err.Error()
	code := 0
	var he *HostError
	switch {
	case errors.As(err, &he) && he.Answered:
		reason, code = he.Reason, he.Code
	case errors.As(err, &he) && he.Kind == ErrHostUnreached:
		return vwire.New(vwire.MsgHostUnreachable, "generic", generic, "host", h.Name, "cause", he.Reason).Wrap(err)
	}
	ve := vwire.New(vwire.MsgHostFailed, "generic", generic, "host", h.Name, "reason", reason).Wrap(err)
	ve.HostCode = code
	return ve
}

// quoted is an error's text as an event quotes it: as a fault's detail
// reads, bracketed unless its message is bare.
func quoted(ve *vwire.Error) string {
	t := ve.Text()
	if ve.NIC != "" {
		t += " (vNIC " + ve.NIC + ")"
	}
	if m, ok := vwire.MessageOf(ve.Key); ok && m.Bare {
		return t
	}
	return "[" + t + "]"
}
