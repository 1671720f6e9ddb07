package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/hypervisor"
)

// maxRequest bounds a JSON-RPC request body.
const maxRequest = 1 << 20

// Server answers VDSM's verbs on a hypervisor.
type Server struct {
	hv  hypervisor.Hypervisor
	log *slog.Logger
	// Levels are the cluster levels this agent supports.
	levels []vwire.Version
	// CallTimeout bounds each hypervisor call; UnplugTimeout bounds the wait
	// for a guest to release a device.
	callTimeout   time.Duration
	unplugTimeout time.Duration

	fences fences
	// tainted: VMs on which an abandoned change may still land, until when.
	tainted map[string]time.Time

	// maxStreamCalls bounds the calls in flight on one JSON-RPC stream;
	// streamLineTimeout bounds the wait for the rest of a begun line.
	maxStreamCalls    int
	streamLineTimeout time.Duration

	mu      sync.Mutex
	locks   map[string]*vmLock  // only VMs with a call holding or waiting for the lock
	streams map[net.Conn]func() // open JSON-RPC streams and their cancels
	closed  bool
}

// Options tune a Server; zero values take defaults.
type Options struct {
	Logger        *slog.Logger
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
}

// NewServer returns an agent on hv.
func NewServer(hv hypervisor.Hypervisor, o Options) *Server {
	s := &Server{hv: hv, log: o.Logger, levels: o.Levels, callTimeout: o.CallTimeout, unplugTimeout: o.UnplugTimeout,
		maxStreamCalls: o.MaxStreamCalls, streamLineTimeout: o.StreamLineTimeout,
		locks: map[string]*vmLock{}, streams: map[net.Conn]func(){}, tainted: map[string]time.Time{}}
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

// vmLock is one VM's lock and the number of calls holding or waiting for
// it: the last to leave removes it, so the map holds only busy VMs, not
// every id ever seen.
type vmLock struct {
	sync.Mutex
	refs int
}

// lockVM serialises the read-modify-write of one domain's devices.
func (s *Server) lockVM(id string) func() {
	s.mu.Lock()
	l, ok := s.locks[id]
	if !ok {
		l = &vmLock{}
		s.locks[id] = l
	}
	l.refs++
	s.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		s.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(s.locks, id)
		}
		s.mu.Unlock()
	}
}

// ServeHTTP answers one JSON-RPC request (POST, any path), or upgrades the
// connection to a JSON-RPC stream (stream.go).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), streamProtocol) {
		s.serveStream(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "JSON-RPC wants POST", http.StatusMethodNotAllowed)
		return
	}
	var resp response
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
	if err != nil || len(body) > maxRequest {
		resp = response{JSONRPC: "2.0", Error: &RPCError{Code: CodeInvalidRequest, Message: "request unreadable or larger than 1 MiB"}}
	} else {
		resp = s.handle(r.Context(), body)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

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
		resp.Result, resp.Error = s.call(context.WithValue(ctx, metaKey{}, m), req.Method, req.Params)
		lvl := slog.LevelDebug
		if resp.Error != nil {
			lvl = slog.LevelWarn
		}
		s.log.Log(ctx, lvl, "rpc", "method", req.Method, "duration", time.Since(start), "error", errText(resp.Error))
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

type vmIDParams struct {
	VMID string `json:"vmID"`
}

func decode(raw json.RawMessage, v any) *RPCError {
	if len(raw) == 0 {
		raw = []byte("{}")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return &RPCError{Code: CodeInvalidParams, Message: "Invalid params: " + err.Error()}
	}
	return nil
}

func missing(name string) *RPCError {
	return &RPCError{Code: CodeMissParam, Message: codeText[CodeMissParam] + ": " + name}
}

func (s *Server) call(ctx context.Context, method string, raw json.RawMessage) (any, *RPCError) {
	ctx, cancel := context.WithTimeout(ctx, s.callTimeout)
	defer cancel()
	if e := validate(raw); e != nil { // before any hypervisor call (validate.go)
		return nil, e
	}
	switch method {
	case "Host.getCapabilities":
		return s.capabilities(ctx)
	case "Host.getAllVmStats":
		doms, err := s.hv.Domains(ctx)
		if err != nil {
			return nil, rpcError(CodeUnexpected, err)
		}
		out := make([]VMStats, 0, len(doms))
		for _, d := range doms {
			out = append(out, statsOf(d))
		}
		return out, nil
	case "Host.setupNetworks":
		return s.setupNetworks(ctx, raw)
	case "VM.getStats":
		var p vmIDParams
		if e := decode(raw, &p); e != nil {
			return nil, e
		}
		d, err := s.hv.Domain(ctx, p.VMID)
		if err != nil {
			return nil, vmError(CodeUnexpected, err)
		}
		return []VMStats{statsOf(d)}, nil
	case "VM.settle":
		return s.settle(ctx, raw)
	case "VM.create":
		return s.create(ctx, raw)
	case "VM.destroy":
		var p vmIDParams
		if e := decode(raw, &p); e != nil {
			return nil, e
		}
		if p.VMID == "" {
			return nil, missing("vmID")
		}
		ctx, unlock, rerr := s.begin(ctx, p.VMID, 0)
		if rerr != nil {
			return nil, rerr
		}
		defer unlock()
		if err := s.hv.DestroyDomain(ctx, p.VMID); err != nil {
			if isNoDomain(err) {
				return nil, vmError(CodeUnexpected, err)
			}
			// Gone all the same (the reply was lost)?
			_, rerr := s.readBack(p.VMID)
			if isNoDomain(rerr) {
				return map[string]string{"message": "Machine destroyed"}, nil
			}
			return nil, s.outcome(p.VMID, CodeUnexpected, err, rerr)
		}
		return map[string]string{"message": "Machine destroyed"}, nil
	case "VM.hotplugNic":
		return s.hotplug(ctx, raw)
	case "VM.hotunplugNic":
		return s.hotunplug(ctx, raw)
	case "VM.updateDevice":
		return s.updateDevice(ctx, raw)
	}
	return nil, &RPCError{Code: CodeMethodNotFound, Message: "Method not found: " + method}
}

// vmError maps a missing domain to VDSM's noVM, anything else to code.
func vmError(code int, err error) *RPCError {
	var he *hypervisor.Error
	if errors.As(err, &he) && he.Code == hypervisor.ErrNoDomain {
		return rpcError(CodeNoVM, err)
	}
	return rpcError(code, err)
}

func (s *Server) capabilities(ctx context.Context) (any, *RPCError) {
	caps, err := s.hv.Capabilities(ctx)
	if err != nil {
		return nil, rpcError(CodeUnexpected, err)
	}
	levels := make([]string, len(s.levels))
	for i, l := range s.levels {
		levels[i] = l.String()
	}
	bridges := caps.Bridges
	if bridges == nil {
		bridges = []string{}
	}
	return Capabilities{Bridges: bridges, ClusterLevels: levels, Hypervisor: caps.Hypervisor,
		LibvirtVersion: caps.LibvirtVersion, QEMUVersion: caps.QEMUVersion, SoftwareVersion: Version,
		DomainType: caps.DomainType, DomainTypeReason: caps.DomainTypeReason}, nil
}

// Version is the agent's software version.
var Version = "vwire-agent 0.1"

// SetupNetworksParams is VDSM's setupNetworks, reduced to bridges:
// networks[name] = {} creates, {"remove": true} removes.
type SetupNetworksParams struct {
	Networks map[string]struct {
		Remove bool `json:"remove,omitempty"`
	} `json:"networks"`
}

func (s *Server) setupNetworks(ctx context.Context, raw json.RawMessage) (any, *RPCError) {
	bm, ok := s.hv.(hypervisor.BridgeManager)
	if !ok {
		return nil, &RPCError{Code: CodeSetupNetworks, Message: codeText[CodeSetupNetworks],
			Data: &ErrorData{Reason: "this agent does not manage host bridges; create them on the host"}}
	}
	var p SetupNetworksParams
	if e := decode(raw, &p); e != nil {
		return nil, e
	}
	var add, remove []string
	for name, n := range p.Networks {
		if name == "" || name == vwire.DummyBridge || len(name) > 15 {
			return nil, &RPCError{Code: CodeInvalidParams, Message: fmt.Sprintf("Invalid params: bad network name %q", name)}
		}
		if n.Remove {
			remove = append(remove, name)
		} else {
			add = append(add, name)
		}
	}
	if err := bm.EnsureBridges(ctx, add); err != nil {
		return nil, rpcError(CodeSetupNetworks, err)
	}
	if err := bm.RemoveBridges(ctx, remove); err != nil {
		return nil, rpcError(CodeSetupNetworks, err)
	}
	return map[string]string{"message": "Done"}, nil
}

// nicOf turns VDSM's device into the hypervisor's, applying VDSM's rule:
// an empty network is the dummy bridge with link down.
func nicOf(d Device) hypervisor.NIC {
	return onDummy(hypervisor.NIC{Alias: d.Alias, MAC: d.MAC, Model: d.Model, Bridge: d.Network, LinkUp: d.LinkActive})
}

func (s *Server) create(ctx context.Context, raw json.RawMessage) (any, *RPCError) {
	var p struct {
		VMID     string   `json:"vmID"`
		VMParams VMParams `json:"vmParams"`
	}
	if e := decode(raw, &p); e != nil {
		return nil, e
	}
	vp := p.VMParams
	if vp.VMID == "" {
		vp.VMID = p.VMID
	}
	if vp.VMID == "" || vp.VMName == "" {
		return nil, missing("vmId, vmName")
	}
	ctx, unlock, rerr := s.begin(ctx, vp.VMID, 0)
	if rerr != nil {
		return nil, rerr
	}
	defer unlock()
	d := hypervisor.Domain{ID: vp.VMID, Name: vp.VMName, MemoryMiB: vp.MemSize, Kernel: vp.Kernel, Initrd: vp.Initrd, Cmdline: vp.KernelArgs}
	for _, dev := range vp.Devices {
		if dev.Type == "interface" {
			d.NICs = append(d.NICs, nicOf(dev))
		}
	}
	if _, err := s.hv.Domain(ctx, vp.VMID); err == nil {
		return nil, rpcError(CodeVMExists, fmt.Errorf("domain %s is already running", vp.VMID))
	}
	st, err := s.hv.CreateDomain(ctx, d)
	if err != nil {
		// A broken connection may hide a domain that started all the same.
		got, rerr := s.readBack(vp.VMID)
		if rerr == nil {
			return map[string]any{"vmList": statsOf(got)}, nil
		}
		if isNoDomain(rerr) {
			rerr = nil
		}
		return nil, s.outcome(vp.VMID, CodeCreateErr, err, rerr)
	}
	return map[string]any{"vmList": statsOf(st)}, nil
}

type nicParams struct {
	VMID   string `json:"vmID"`
	Params struct {
		VMID string `json:"vmId"`
		NIC  Device `json:"nic"`
	} `json:"params"`
}

func (s *Server) hotplug(ctx context.Context, raw json.RawMessage) (any, *RPCError) {
	var p nicParams
	if e := decode(raw, &p); e != nil {
		return nil, e
	}
	if p.VMID == "" || p.Params.NIC.Alias == "" || p.Params.NIC.MAC == "" {
		return nil, missing("vmID, nic.alias, nic.macAddr")
	}
	ctx, unlock, rerr := s.begin(ctx, p.VMID, 0)
	if rerr != nil {
		return nil, rerr
	}
	defer unlock()
	want := nicOf(p.Params.NIC)
	st, err := s.hv.AttachNIC(ctx, p.VMID, want)
	if err != nil {
		// Plugged all the same (the reply was lost)? Then say so.
		dom, rerr := s.readBack(p.VMID)
		if rerr == nil {
			if got, ok := dom.NICByAlias(want.Alias); ok && strings.EqualFold(got.MAC, want.MAC) && verify(want, got) == nil {
				return map[string]any{"vmList": map[string]any{"devices": []NICStats{nicStats(got)}}}, nil
			}
		}
		return nil, s.outcome(p.VMID, CodeHotplugNic, err, rerr)
	}
	return map[string]any{"vmList": map[string]any{"devices": []NICStats{nicStats(st)}}}, nil
}

func (s *Server) hotunplug(ctx context.Context, raw json.RawMessage) (any, *RPCError) {
	var p nicParams
	if e := decode(raw, &p); e != nil {
		return nil, e
	}
	if p.VMID == "" || p.Params.NIC.Alias == "" {
		return nil, missing("vmID, nic.alias")
	}
	ctx, unlock, rerr := s.begin(ctx, p.VMID, 0)
	if rerr != nil {
		return nil, rerr
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(ctx, s.unplugTimeout)
	defer cancel()
	if err := s.hv.DetachNIC(ctx, p.VMID, p.Params.NIC.Alias); err != nil {
		dom, rerr := s.readBack(p.VMID)
		if rerr == nil {
			if _, ok := dom.NICByAlias(p.Params.NIC.Alias); !ok {
				return map[string]any{"vmList": map[string]any{}}, nil
			}
		}
		return nil, s.outcome(p.VMID, CodeHotunplugNic, err, rerr)
	}
	return map[string]any{"vmList": map[string]any{}}, nil
}

// UpdateDeviceParams is VM.updateDevice's params for an interface. Network
// and LinkActive omitted keep the current values; Network "" is the dummy
// bridge with link down (VDSM's rule).
type UpdateDeviceParams struct {
	DeviceType string  `json:"deviceType"`
	Alias      string  `json:"alias"`
	Network    *string `json:"network,omitempty"`
	LinkActive *bool   `json:"linkActive,omitempty"`
	// MAC and Model, when given with Network and LinkActive, describe the
	// whole device, so the agent need not read it first; the hypervisor
	// refuses them if they are not the device's.
	MAC   string `json:"macAddr,omitempty"`
	Model string `json:"nicModel,omitempty"`
	// Notify tells the guest of a move to another network: "link_bounce"
	// (link down, move, link up after BounceHoldMs) or "announce" (QEMU's
	// announce-self for the device); empty or "none" does nothing.
	Notify       string `json:"notify,omitempty"`
	BounceHoldMs int64  `json:"bounceHoldMs,omitempty"`
}

// whole tells whether the params describe the whole device and ask for no
// guest notification: then one hypervisor update does it all.
func (p UpdateDeviceParams) whole() bool {
	return p.MAC != "" && p.Model != "" && p.Network != nil && p.LinkActive != nil &&
		(p.Notify == "" || p.Notify == string(vwire.NotifyNone))
}

// updateDevice changes network and link of one live interface, verified by
// the device as the hypervisor reports it after the change. When the params
// describe the whole device this is a single hypervisor update: a refused
// update leaves the device as it was. Otherwise it is a read-modify-write,
// and if a later step (the second half of a link bounce, the announcement,
// the verification) fails, the original device is restored.
func (s *Server) updateDevice(ctx context.Context, raw json.RawMessage) (any, *RPCError) {
	var p struct {
		VMID   string             `json:"vmID"`
		Params UpdateDeviceParams `json:"params"`
	}
	if e := decode(raw, &p); e != nil {
		return nil, e
	}
	if p.VMID == "" || p.Params.Alias == "" {
		return nil, missing("vmID, params.alias")
	}
	if p.Params.DeviceType != "interface" {
		return nil, &RPCError{Code: CodeUpdateDevice, Message: codeText[CodeUpdateDevice],
			Data: &ErrorData{Reason: fmt.Sprintf("device type %q cannot be updated", p.Params.DeviceType)}}
	}
	if p.Params.BounceHoldMs < 0 || time.Duration(p.Params.BounceHoldMs)*time.Millisecond > vwire.MaxBounceHold {
		return nil, &RPCError{Code: CodeInvalidParams, Message: fmt.Sprintf("Invalid params: bounceHoldMs %d out of range", p.Params.BounceHoldMs)}
	}
	// The operation's own steps (the hold of a link bounce) get their own
	// budget on top of the call's.
	ctx, unlock, rerr := s.begin(ctx, p.VMID, time.Duration(p.Params.BounceHoldMs)*time.Millisecond)
	if rerr != nil {
		return nil, rerr
	}
	defer unlock()
	if p.Params.whole() {
		want := onDummy(hypervisor.NIC{Alias: p.Params.Alias, MAC: p.Params.MAC, Model: p.Params.Model,
			Bridge: *p.Params.Network, LinkUp: *p.Params.LinkActive})
		got, err := s.hv.UpdateNIC(ctx, p.VMID, want)
		if err == nil {
			err = verify(want, got)
		}
		if err != nil {
			// One update either happened or not: the device tells which.
			dom, rerr := s.readBack(p.VMID)
			if rerr == nil {
				if cur, ok := dom.NICByAlias(want.Alias); ok && verify(want, cur) == nil {
					return map[string]any{"vmList": map[string]any{}, "device": nicStats(cur)}, nil
				}
			}
			return nil, s.outcome(p.VMID, CodeUpdateDevice, err, rerr)
		}
		return map[string]any{"vmList": map[string]any{}, "device": nicStats(got)}, nil
	}
	dom, err := s.hv.Domain(ctx, p.VMID)
	if err != nil {
		return nil, vmError(CodeUpdateDevice, err)
	}
	orig, ok := dom.NICByAlias(p.Params.Alias)
	if !ok {
		return nil, rpcError(CodeUpdateDevice, hypervisor.Errorf(hypervisor.ErrDeviceMissing,
			"device not found: no device found with alias %s", p.Params.Alias))
	}
	want := orig.NIC
	if p.Params.LinkActive != nil {
		want.LinkUp = *p.Params.LinkActive
	}
	if p.Params.Network != nil {
		want.Bridge = *p.Params.Network
	}
	want = onDummy(want)
	moved := want.Bridge != orig.Bridge && want.LinkUp
	got, err := s.apply(ctx, p.VMID, orig.NIC, want, moved, p.Params)
	if err != nil {
		// Put the device back as it was, whatever step failed, on a budget
		// of its own: the operation's may be what ran out.
		rctx, cancel := context.WithTimeout(context.Background(), s.callTimeout)
		defer cancel()
		if _, rerr := s.hv.UpdateNIC(rctx, p.VMID, orig.NIC); rerr != nil {
			// Neither the new state nor the old: only the host knows.
			s.taint(p.VMID)
			return nil, rpcError(CodeOutcomeUnknown, fmt.Errorf("%w; restoring the original device also failed: %w", err, rerr))
		}
		return nil, rpcError(CodeUpdateDevice, err)
	}
	return map[string]any{"vmList": map[string]any{}, "device": nicStats(got)}, nil
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
		why = "its caller went away before it could start"
	}
	if why != "" {
		unlock()
		return nil, nil, rpcError(CodeNotStarted, errors.New(why))
	}
	opCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.callTimeout+extra)
	return opCtx, func() { cancel(); unlock() }, nil
}

// settle answers VM.settle: it fences the operation id, so that a request
// carrying it never starts, then reports the VM's devices under the VM's
// lock, that is after any change in progress.
func (s *Server) settle(ctx context.Context, raw json.RawMessage) (any, *RPCError) {
	var p struct {
		VMID string `json:"vmID"`
		Op   string `json:"op"`
	}
	if e := decode(raw, &p); e != nil {
		return nil, e
	}
	if p.VMID == "" {
		return nil, missing("vmID")
	}
	if len(p.Op) > maxOpID {
		return nil, &RPCError{Code: CodeInvalidParams, Message: "Invalid params: op longer than 64 bytes"}
	}
	if p.Op != "" {
		s.fences.add(p.Op, time.Now())
	}
	defer s.lockVM(p.VMID)()
	if until, ok := s.taintedUntil(p.VMID); ok {
		return nil, rpcError(CodeOutcomeUnknown, fmt.Errorf("a change the hypervisor abandoned on this VM may still land until %s", until.UTC().Format(time.RFC3339)))
	}
	d, err := s.hv.Domain(ctx, p.VMID)
	if err != nil {
		return nil, vmError(CodeUnexpected, err)
	}
	return []VMStats{statsOf(d)}, nil
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

// apply performs the update, with the guest notification the engine asked
// for when the device moves to another bridge with its link up, and reads
// the device back.
func (s *Server) apply(ctx context.Context, vmID string, orig, want hypervisor.NIC, moved bool, p UpdateDeviceParams) (hypervisor.NICState, error) {
	if moved && p.Notify == string(vwire.NotifyLinkBounce) {
		down := want
		down.LinkUp = false
		if _, err := s.hv.UpdateNIC(ctx, vmID, down); err != nil {
			return hypervisor.NICState{}, err
		}
		select {
		case <-ctx.Done():
			return hypervisor.NICState{}, ctx.Err()
		case <-time.After(time.Duration(p.BounceHoldMs) * time.Millisecond):
		}
	}
	got, err := s.hv.UpdateNIC(ctx, vmID, want)
	if err != nil {
		return hypervisor.NICState{}, err
	}
	if err := verify(want, got); err != nil {
		return got, err
	}
	if moved && p.Notify == string(vwire.NotifyAnnounce) {
		if err := s.hv.Announce(ctx, vmID, want.Alias); err != nil {
			return got, err
		}
	}
	return got, nil
}

// verify checks the device as the hypervisor read it back after the update.
func verify(want hypervisor.NIC, got hypervisor.NICState) error {
	if got.Bridge != want.Bridge || got.LinkUp != want.LinkUp {
		return fmt.Errorf("device %s reads back bridge %s link %v, want bridge %s link %v",
			want.Alias, got.Bridge, got.LinkUp, want.Bridge, want.LinkUp)
	}
	return nil
}
