package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/hypervisor"
	"vwire.dev/vwire/hypervisor/hostnet"
	"vwire.dev/vwire/internal/keyedmu"
)

// Server answers VDSM's verbs on a hypervisor.
type Server struct {
	hv  hypervisor.Hypervisor
	log *slog.Logger
	now func() time.Time
	// identity is an enrolled agent's certificate, for renewal (nil: not
	// enrolled).
	identity Identity
	// Levels are the cluster levels this agent supports.
	levels []vwire.Version
	// CallTimeout bounds each hypervisor call; UnplugTimeout bounds the wait
	// for a guest to release a device.
	callTimeout   time.Duration
	unplugTimeout time.Duration
	// observe sees each dispatched verb (Options.Observe).
	observe func(verb string, took time.Duration, code int)

	// net is the host's networking (nil: the agent does not manage it);
	// netMu serialises its changes, pending is a checked change the engine
	// has not confirmed yet (netsetup.go).
	net     hostnet.Host
	netMu   sync.Mutex
	pending *pendingCheck

	fences fences
	// tainted: VMs on which an abandoned change may still land, until when.
	tainted map[string]time.Time

	// maxStreamCalls bounds the calls in flight on one JSON-RPC stream;
	// streamLineTimeout bounds the wait for the rest of a begun line.
	maxStreamCalls    int
	streamLineTimeout time.Duration

	mu      sync.Mutex
	locks   keyedmu.Mutex       // per VM, only VMs with a call holding or waiting for the lock
	streams map[net.Conn]func() // open JSON-RPC streams and their cancels
	closed  bool
}

// Identity is an enrolled agent's certificate as renewal needs it
// (pki.AgentIdentity): a new key's request, then the signed certificate.
type Identity interface {
	Request() (csrPEM []byte, err error)
	Install(certPEM []byte) error
}

// Options tune a Server; zero values take defaults.
type Options struct {
	Logger *slog.Logger
	// Identity, for an enrolled agent, answers the renewal verbs.
	Identity      Identity
	Levels        []vwire.Version
	CallTimeout   time.Duration
	UnplugTimeout time.Duration
	// MaxStreamCalls bounds the calls in flight on one JSON-RPC stream
	// (default 64): the stream stops reading until one ends.
	MaxStreamCalls int
	// StreamLineTimeout bounds how long a stream waits for the rest of a
	// request line once its first byte came (default 30 s). An idle
	// stream, between lines, may stay open as long as the client likes.
	StreamLineTimeout time.Duration
	// Now is the agent's clock for sample times (default time.Now).
	Now func() time.Time
	// HostNet is the host's networking the agent manages (Host.setupNetworks,
	// the capabilities' host NICs and networks). Nil: on a hypervisor that
	// manages its bridges itself (the simulated one), a simulated host
	// network over it (hostnet.Sim with its default NICs); otherwise none,
	// and the network verbs are refused.
	HostNet hostnet.Host
	// Observe, when set, is told of every dispatched verb once it is
	// answered: its name ("unknown" for a method the agent lacks, so that
	// a client cannot mint names), how long it took, and the answer's
	// code (0: success). It must not block (metrics).
	Observe func(verb string, took time.Duration, code int)
}

// NewServer returns an agent on hv.
func NewServer(hv hypervisor.Hypervisor, o Options) *Server {
	s := &Server{hv: hv, log: o.Logger, identity: o.Identity, levels: o.Levels, callTimeout: o.CallTimeout, unplugTimeout: o.UnplugTimeout,
		maxStreamCalls: o.MaxStreamCalls, streamLineTimeout: o.StreamLineTimeout,
		streams: map[net.Conn]func(){}, tainted: map[string]time.Time{}, now: o.Now, net: o.HostNet, observe: o.Observe}
	if bm, ok := hv.(hypervisor.BridgeManager); ok && s.net == nil {
		s.net = hostnet.NewSim(hostnet.SimOptions{Bridges: bm})
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.levels == nil {
		s.levels = vwire.SupportedVersions
	}
	if s.callTimeout == 0 {
		s.callTimeout = 30 * time.Second
	}
	if s.unplugTimeout == 0 {
		s.unplugTimeout = 10 * time.Second
	}
	if s.maxStreamCalls <= 0 {
		s.maxStreamCalls = 64
	}
	if s.streamLineTimeout <= 0 {
		s.streamLineTimeout = 30 * time.Second
	}
	return s
}

// lockVM serialises the read-modify-write of one domain's devices; the
// lock's entry is freed once unused (keyedmu).
func (s *Server) lockVM(id string) func() { return s.locks.Lock(id) }

// handle answers one JSON-RPC request.
func (s *Server) handle(ctx context.Context, body []byte) response {
	var req request
	resp := response{JSONRPC: "2.0"}
	switch {
	case json.Unmarshal(body, &req) != nil:
		resp.Error = &RPCError{Code: CodeParseError, Message: "Parse error"}
	case req.JSONRPC != "2.0" || req.Method == "":
		resp.ID = req.ID
		resp.Error = &RPCError{Code: CodeInvalidRequest, Message: "Invalid Request"}
	case len(req.Op) > maxOpID:
		resp.ID = req.ID
		resp.Error = &RPCError{Code: CodeInvalidRequest, Message: "Invalid Request: op longer than 64 bytes"}
	case len(req.FlowID) > maxFlowID:
		resp.ID = req.ID
		resp.Error = &RPCError{Code: CodeInvalidRequest, Message: "Invalid Request: flow_id longer than 64 bytes"}
	case req.Deadline != 0 && time.Now().UnixMilli() > req.Deadline:
		// It waited too long on its way; its caller has given up on it.
		resp.ID = req.ID
		resp.Error = rpcError(CodeNotStarted, errors.New("the request's deadline passed before it could start"))
	default:
		resp.ID = req.ID
		start := time.Now()
		m := meta{op: req.Op}
		if req.Deadline != 0 {
			m.deadline = time.UnixMilli(req.Deadline)
		}
		ctx = WithFlowID(ctx, req.FlowID)
		resp.Result, resp.Error = s.call(context.WithValue(ctx, metaKey{}, m), req.Method, req.Params)
		// The engine's polls are debug; a call that serves a request (it
		// has a flow id: a user's change) is logged at info, with the
		// request's id (the log handler reads it from ctx).
		lvl := slog.LevelDebug
		switch {
		case resp.Error != nil:
			lvl = slog.LevelWarn
		case req.FlowID != "":
			lvl = slog.LevelInfo
		}
		took := time.Since(start)
		s.log.Log(ctx, lvl, "rpc", "method", req.Method, "duration", took, "error", errText(resp.Error))
		if s.observe != nil {
			verb, code := req.Method, 0
			if _, ok := handlers[verb]; !ok {
				verb = "unknown"
			}
			if resp.Error != nil {
				code = resp.Error.Code
			}
			s.observe(verb, took, code)
		}
	}
	if resp.Error == nil && resp.Result == nil {
		resp.Result = struct{}{}
	}
	return resp
}

func errText(e *RPCError) string {
	if e == nil {
		return ""
	}
	return e.Error()
}

// call runs one verb: the form of every field first (validate.go), before
// any hypervisor call, then the verb's handler (handlers.go), which decodes
// its params.
func (s *Server) call(ctx context.Context, method string, raw json.RawMessage) (any, *RPCError) {
	ctx, cancel := context.WithTimeout(ctx, s.callTimeout)
	defer cancel()
	if e := validate(raw); e != nil {
		return nil, e
	}
	h, ok := handlers[method]
	if !ok {
		return nil, &RPCError{Code: CodeMethodNotFound, Message: "Method not found: " + method}
	}
	return h(s, ctx, raw)
}

// vmError maps a missing domain to VDSM's noVM, anything else to code.
func vmError(code int, err error) *RPCError {
	var he *hypervisor.Error
	if errors.As(err, &he) && he.Code == hypervisor.ErrNoDomain {
		return rpcError(CodeNoVM, err)
	}
	return rpcError(code, err)
}

// begin starts a change of a VM's devices: it takes the VM's lock, then
// refuses a request that was fenced by VM.settle, whose deadline passed or
// whose caller went away while it waited (nothing is done: CodeNotStarted).
// A change that starts runs to its end on a budget of its own (the call
// timeout plus extra), whatever becomes of its caller, so that it is never
// cut half-way; the caller's VM.settle waits for it on the lock.
func (s *Server) begin(ctx context.Context, vmID string, extra time.Duration) (context.Context, func(), *RPCError) {
	unlock := s.lockVM(vmID)
	m := metaOf(ctx)
	var why string
	switch {
	case m.op != "" && s.fences.has(m.op):
		why = "the request was settled before it could start"
	case !m.deadline.IsZero() && time.Now().After(m.deadline):
		why = "the request's deadline passed while it waited for the VM"
	case ctx.Err() != nil:
		why = "its caller went away, or its time ran out, before it could start"
	}
	if why != "" {
		unlock()
		return nil, nil, rpcError(CodeNotStarted, errors.New(why))
	}
	opCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.callTimeout+extra)
	return opCtx, func() { cancel(); unlock() }, nil
}

// readBack reads a VM after a failed change, on a budget of its own.
func (s *Server) readBack(vmID string) (hypervisor.DomainState, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.callTimeout)
	defer cancel()
	return s.hv.Domain(ctx, vmID)
}

// outcome is the error of a change that failed and was not found applied
// on reading the VM back (readErr: the read-back failed). A call the
// hypervisor abandoned may still be carried out: its outcome is unknown,
// and the VM is tainted for a while, during which VM.settle will not call
// it settled either.
func (s *Server) outcome(vmID string, code int, err, readErr error) *RPCError {
	var he *hypervisor.Error
	if errors.As(err, &he) && he.Code == hypervisor.ErrAbandoned {
		s.taint(vmID)
		if readErr != nil {
			err = fmt.Errorf("%w; reading the VM back failed too: %w", err, readErr)
		}
		return rpcError(CodeOutcomeUnknown, err)
	}
	// A broken connection ends the hypervisor's job with it: what the VM
	// reads back is the outcome, unless it could not be read.
	if readErr != nil && uncertain(err) {
		return rpcError(CodeOutcomeUnknown, fmt.Errorf("%w; reading the VM back failed too: %w", err, readErr))
	}
	return vmError(code, err)
}

// taint records that a change abandoned on a VM may still land, for twice
// the call timeout (a hypervisor job outlives its client by at most its
// own timeout).
func (s *Server) taint(vmID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for id, until := range s.tainted {
		if now.After(until) {
			delete(s.tainted, id)
		}
	}
	s.tainted[vmID] = now.Add(2 * s.callTimeout)
}

// taintedUntil tells until when a VM may still see an abandoned change land.
func (s *Server) taintedUntil(vmID string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.tainted[vmID]
	if ok && time.Now().After(until) {
		delete(s.tainted, vmID)
		return time.Time{}, false
	}
	return until, ok
}

func uncertain(err error) bool {
	var he *hypervisor.Error
	if errors.As(err, &he) {
		return he.Code == hypervisor.ErrSystem || he.Code == hypervisor.ErrAbandoned
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

func isNoDomain(err error) bool {
	var he *hypervisor.Error
	return errors.As(err, &he) && he.Code == hypervisor.ErrNoDomain
}

// onDummy applies VDSM's rule: a device without a network is on the dummy
// bridge with its link down.
func onDummy(n hypervisor.NIC) hypervisor.NIC {
	if n.Bridge == "" || n.Bridge == vwire.DummyBridge {
		n.Bridge, n.LinkUp = vwire.DummyBridge, false
	}
	return n
}
