package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/hypervisor"
)

// Method handling: one handler per verb, in a table. Each takes its verb's
// params type and returns its result type (verbs.go); verb adapts it to the
// table, decoding the params once. The framing that brings requests and
// takes answers back (transport.go) knows nothing of verbs.

// handler answers one verb, from its raw params.
type handler func(s *Server, ctx context.Context, raw json.RawMessage) (any, *RPCError)

// handlers is the protocol's dispatch table: method name → handler.
var handlers = map[string]handler{
	verbCapabilities:         verb((*Server).capabilities),
	verbAllVMStats:           verb((*Server).allVMStats),
	verbSetupNetworks:        needsBridges(verb((*Server).setupNetworks)),
	verbSetSafeNetworkConfig: needsBridges(verb((*Server).setSafeNetworkConfig)),
	verbGetStats:             verb((*Server).getStats),
	verbSettle:               verb((*Server).settle),
	verbCreate:               verb((*Server).create),
	verbDestroy:              verb((*Server).destroy),
	verbHotplugNIC:           verb((*Server).hotplug),
	verbHotunplugNIC:         verb((*Server).hotunplug),
	verbUpdateDevice:         verb((*Server).updateDevice),
	verbCertRequest:          verb((*Server).certRequest),
	verbCertInstall:          verb((*Server).certInstall),
}

// certRequest makes a new key and answers its certificate request; only an
// enrolled agent (serving mutual TLS) has an identity to renew.
func (s *Server) certRequest(_ context.Context, _ NoParams) (CertRequestResult, *RPCError) {
	if s.identity == nil {
		return CertRequestResult{}, &RPCError{Code: CodeUnexpected, Message: "this agent is not enrolled"}
	}
	csr, err := s.identity.Request()
	if err != nil {
		return CertRequestResult{}, rpcError(CodeUnexpected, err)
	}
	return CertRequestResult{CSR: string(csr)}, nil
}

// certInstall serves the new certificate to the next connections; the open
// ones (this one too) keep theirs.
func (s *Server) certInstall(ctx context.Context, p InstallCertParams) (MessageResult, *RPCError) {
	if s.identity == nil {
		return MessageResult{}, &RPCError{Code: CodeUnexpected, Message: "this agent is not enrolled"}
	}
	if err := s.identity.Install([]byte(p.Certificate)); err != nil {
		return MessageResult{}, rpcError(CodeUnexpected, err)
	}
	s.log.InfoContext(ctx, "certificate renewed")
	return MessageResult{Message: "Done"}, nil
}

// verb makes a handler of a typed one: it decodes the params into P, and
// answers the result only when there is no error (an answer has one or
// the other).
func verb[P, R any](f func(*Server, context.Context, P) (R, *RPCError)) handler {
	return func(s *Server, ctx context.Context, raw json.RawMessage) (any, *RPCError) {
		var p P
		if e := decode(raw, &p); e != nil {
			return nil, e
		}
		r, e := f(s, ctx, p)
		if e != nil {
			return nil, e
		}
		return r, nil
	}
}

// decode reads a verb's params; absent params are {}.
func decode(raw json.RawMessage, v any) *RPCError {
	if len(raw) == 0 {
		raw = []byte("{}")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return &RPCError{Code: CodeInvalidParams, Message: "Invalid params: " + err.Error()}
	}
	return nil
}

// missing refuses a call without a parameter its verb needs.
// topology reads VDSM's smp, smpCoresPerSocket and smpThreadsPerCore as
// sockets, cores and threads: smp must be a multiple of the other two.
func topology(vp VMParams) (sockets, cores, threads int, rerr *RPCError) {
	smp, cores, threads := max(vp.SMP, 1), max(vp.SMPCoresPerSocket, 1), max(vp.SMPThreadsPerCore, 1)
	if vp.SMP < 0 || vp.SMPCoresPerSocket < 0 || vp.SMPThreadsPerCore < 0 || smp > vwire.MaxVCPUs ||
		cores > smp || threads > smp || smp%(cores*threads) != 0 {
		return 0, 0, 0, &RPCError{Code: CodeInvalidParams, Message: fmt.Sprintf(
			"Invalid params: smp %d is not a whole number of sockets of %d cores of %d threads (at most %d vCPUs)",
			vp.SMP, vp.SMPCoresPerSocket, vp.SMPThreadsPerCore, vwire.MaxVCPUs)}
	}
	return smp / (cores * threads), cores, threads, nil
}

func missing(name string) *RPCError {
	return &RPCError{Code: CodeMissParam, Message: codeText[CodeMissParam] + ": " + name}
}

// needsBridges refuses the network verbs on an agent that does not manage
// the host's networking (no hostnet.Host), before their params are
// decoded: a host that cannot do it says so whatever it was asked.
func needsBridges(h handler) handler {
	return func(s *Server, ctx context.Context, raw json.RawMessage) (any, *RPCError) {
		if s.net == nil {
			return nil, noBridges()
		}
		return h(s, ctx, raw)
	}
}

func noBridges() *RPCError {
	return &RPCError{Code: CodeSetupNetworks, Message: codeText[CodeSetupNetworks],
		Data: &ErrorData{Reason: "this agent does not manage host bridges; create them on the host"}}
}

func (s *Server) capabilities(ctx context.Context, _ NoParams) (Capabilities, *RPCError) {
	caps, err := s.hv.Capabilities(ctx)
	if err != nil {
		return Capabilities{}, rpcError(CodeUnexpected, err)
	}
	levels := make([]string, len(s.levels))
	for i, l := range s.levels {
		levels[i] = l.String()
	}
	bridges := caps.Bridges
	if bridges == nil {
		bridges = []string{}
	}
	c := Capabilities{Bridges: bridges, ClusterLevels: levels, Hypervisor: caps.Hypervisor,
		LibvirtVersion: caps.LibvirtVersion, QEMUVersion: caps.QEMUVersion, SoftwareVersion: Version,
		DomainType: caps.DomainType, DomainTypeReason: caps.DomainTypeReason,
		FiltersUnavailable: unavailable(caps.Filters, caps.FiltersReason), ShapingUnavailable: unavailable(caps.Shaping, caps.ShapingReason)}
	if err := s.hostNetworking(ctx, &c); err != nil {
		return Capabilities{}, rpcError(CodeUnexpected, err)
	}
	return c, nil
}

// unavailable is the reason a host feature is missing, "" when present.
func unavailable(ok bool, why string) string {
	if ok {
		return ""
	}
	if why == "" {
		return "not supported by this host"
	}
	return why
}

// Version is the agent's software version.
var Version = "vwire-agent 0.1"

func (s *Server) allVMStats(ctx context.Context, _ NoParams) ([]VMStats, *RPCError) {
	doms, err := s.hv.Domains(ctx)
	if err != nil {
		return nil, rpcError(CodeUnexpected, err)
	}
	out := make([]VMStats, 0, len(doms))
	for _, d := range doms {
		out = append(out, statsOf(d))
	}
	return out, nil
}

// getStats answers VM.getStats: the VM's devices with their traffic
// counters, read after the devices so that every device listed has them
// (one unplugged in between has none).
func (s *Server) getStats(ctx context.Context, p VMIDParams) ([]VMStats, *RPCError) {
	d, err := s.hv.Domain(ctx, p.VMID)
	if err != nil {
		return nil, vmError(CodeUnexpected, err)
	}
	counters, err := s.hv.InterfaceCounters(ctx, p.VMID)
	if err != nil {
		return nil, vmError(CodeUnexpected, err)
	}
	now := s.now().UnixMilli()
	st := statsOf(d)
	for i, n := range st.NICs {
		if c, ok := counters[n.Alias]; ok {
			st.NICs[i].Counters = &NICCounters{Rx: c.RxBytes, Tx: c.TxBytes, RxPackets: c.RxPackets, TxPackets: c.TxPackets,
				RxErrors: c.RxErrors, TxErrors: c.TxErrors, RxDropped: c.RxDrops, TxDropped: c.TxDrops, SampleTime: now}
		}
	}
	return []VMStats{st}, nil
}

// statsOf and nicStats put what the hypervisor reports in VDSM's terms.
func statsOf(d hypervisor.DomainState) VMStats {
	s := VMStats{VMID: d.ID, VMName: d.Name, Status: "Up", NICs: []NICStats{}}
	for _, n := range d.NICs {
		s.NICs = append(s.NICs, nicStats(n))
	}
	return s
}

func nicStats(n hypervisor.NICState) NICStats {
	return NICStats{Alias: n.Alias, MAC: n.MAC, Model: n.Model, Network: n.Bridge, LinkActive: n.LinkUp, Address: n.PCIAddress, Name: n.Tap,
		PortMirroring: mirrorList(n.PortMirroring, n.Bridge), SpecParams: specOf(n.Bandwidth), Filter: n.Filter,
		FilterParameters: wireFilterParams(n.FilterParams)}
}

// nicOf turns VDSM's device into the hypervisor's, applying VDSM's rule:
// an empty network is the dummy bridge with link down.
func nicOf(d Device) hypervisor.NIC {
	n := onDummy(hypervisor.NIC{Alias: d.Alias, MAC: d.MAC, Model: d.Model, Bridge: d.Network, LinkUp: d.LinkActive,
		Bandwidth: bandwidthOf(d.SpecParams), Filter: d.Filter, FilterParams: filterParamsOf(d.FilterParameters)})
	n.PortMirroring = mirrors(d.PortMirroring, n.Bridge)
	return n
}

func (s *Server) create(ctx context.Context, p CreateParams) (CreateResult, *RPCError) {
	vp := p.VMParams
	if vp.VMID == "" {
		vp.VMID = p.VMID
	}
	if vp.VMID == "" || vp.VMName == "" {
		return CreateResult{}, missing("vmId, vmName")
	}
	d := hypervisor.Domain{ID: vp.VMID, Name: vp.VMName, MemoryMiB: vp.MemSize, Kernel: vp.Kernel, Initrd: vp.Initrd, Cmdline: vp.KernelArgs}
	var rerr *RPCError
	if d.Sockets, d.Cores, d.Threads, rerr = topology(vp); rerr != nil {
		return CreateResult{}, rerr
	}
	ctx, unlock, rerr := s.begin(ctx, vp.VMID, 0)
	if rerr != nil {
		return CreateResult{}, rerr
	}
	defer unlock()
	for _, dev := range vp.Devices {
		if dev.Type == "interface" {
			d.NICs = append(d.NICs, nicOf(dev))
		}
	}
	if _, err := s.hv.Domain(ctx, vp.VMID); err == nil {
		return CreateResult{}, rpcError(CodeVMExists, fmt.Errorf("domain %s is already running", vp.VMID))
	}
	st, err := s.hv.CreateDomain(ctx, d)
	if err != nil {
		// A broken connection may hide a domain that started all the same.
		got, rerr := s.readBack(vp.VMID)
		if rerr == nil {
			return CreateResult{VMList: statsOf(got)}, nil
		}
		if isNoDomain(rerr) {
			rerr = nil
		}
		return CreateResult{}, s.outcome(vp.VMID, CodeCreateErr, err, rerr)
	}
	return CreateResult{VMList: statsOf(st)}, nil
}

func (s *Server) destroy(ctx context.Context, p VMIDParams) (MessageResult, *RPCError) {
	if p.VMID == "" {
		return MessageResult{}, missing("vmID")
	}
	ctx, unlock, rerr := s.begin(ctx, p.VMID, 0)
	if rerr != nil {
		return MessageResult{}, rerr
	}
	defer unlock()
	if err := s.hv.DestroyDomain(ctx, p.VMID); err != nil {
		if isNoDomain(err) {
			return MessageResult{}, vmError(CodeUnexpected, err)
		}
		// Gone all the same (the reply was lost)?
		_, rerr := s.readBack(p.VMID)
		if isNoDomain(rerr) {
			return MessageResult{Message: "Machine destroyed"}, nil
		}
		return MessageResult{}, s.outcome(p.VMID, CodeUnexpected, err, rerr)
	}
	return MessageResult{Message: "Machine destroyed"}, nil
}

func (s *Server) hotplug(ctx context.Context, p NICParams) (HotplugResult, *RPCError) {
	if p.VMID == "" || p.Params.NIC.Alias == "" || p.Params.NIC.MAC == "" {
		return HotplugResult{}, missing("vmID, nic.alias, nic.macAddr")
	}
	ctx, unlock, rerr := s.begin(ctx, p.VMID, 0)
	if rerr != nil {
		return HotplugResult{}, rerr
	}
	defer unlock()
	want := nicOf(p.Params.NIC)
	st, err := s.hv.AttachNIC(ctx, p.VMID, want)
	if err != nil {
		// Plugged all the same (the reply was lost)? Then say so.
		dom, rerr := s.readBack(p.VMID)
		if rerr == nil {
			if got, ok := dom.NICByAlias(want.Alias); ok && strings.EqualFold(got.MAC, want.MAC) && verify(want, got) == nil {
				return HotplugResult{VMList: HotplugVMList{Devices: []NICStats{nicStats(got)}}}, nil
			}
		}
		return HotplugResult{}, s.outcome(p.VMID, CodeHotplugNic, err, rerr)
	}
	return HotplugResult{VMList: HotplugVMList{Devices: []NICStats{nicStats(st)}}}, nil
}

func (s *Server) hotunplug(ctx context.Context, p NICParams) (HotunplugResult, *RPCError) {
	if p.VMID == "" || p.Params.NIC.Alias == "" {
		return HotunplugResult{}, missing("vmID, nic.alias")
	}
	ctx, unlock, rerr := s.begin(ctx, p.VMID, 0)
	if rerr != nil {
		return HotunplugResult{}, rerr
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(ctx, s.unplugTimeout)
	defer cancel()
	if err := s.hv.DetachNIC(ctx, p.VMID, p.Params.NIC.Alias); err != nil {
		dom, rerr := s.readBack(p.VMID)
		if rerr == nil {
			if _, ok := dom.NICByAlias(p.Params.NIC.Alias); !ok {
				return HotunplugResult{}, nil
			}
		}
		return HotunplugResult{}, s.outcome(p.VMID, CodeHotunplugNic, err, rerr)
	}
	return HotunplugResult{}, nil
}

// whole tells whether the params describe the whole device and ask for no
// guest notification: then one hypervisor update does it all.
func (p UpdateDeviceParams) whole() bool {
	return p.MAC != "" && p.Model != "" && p.Network != nil && p.LinkActive != nil &&
		p.PortMirroring != nil && p.SpecParams != nil && p.Filter != nil && p.FilterParameters != nil &&
		(p.Notify == "" || p.Notify == string(vwire.NotifyNone))
}

// updateDevice changes network and link of one live interface, verified by
// the device as the hypervisor reports it after the change. When the params
// describe the whole device this is a single hypervisor update: a refused
// update leaves the device as it was. Otherwise it is a read-modify-write,
// and if a later step (the second half of a link bounce, the announcement,
// the verification) fails, the original device is restored.
func (s *Server) updateDevice(ctx context.Context, p UpdateDeviceRequest) (UpdateDeviceResult, *RPCError) {
	if p.VMID == "" || p.Params.Alias == "" {
		return UpdateDeviceResult{}, missing("vmID, params.alias")
	}
	if p.Params.DeviceType != "interface" {
		return UpdateDeviceResult{}, &RPCError{Code: CodeUpdateDevice, Message: codeText[CodeUpdateDevice],
			Data: &ErrorData{Reason: fmt.Sprintf("device type %q cannot be updated", p.Params.DeviceType)}}
	}
	if p.Params.BounceHoldMs < 0 || time.Duration(p.Params.BounceHoldMs)*time.Millisecond > vwire.MaxBounceHold {
		return UpdateDeviceResult{}, &RPCError{Code: CodeInvalidParams, Message: fmt.Sprintf("Invalid params: bounceHoldMs %d out of range", p.Params.BounceHoldMs)}
	}
	// The operation's own steps (the hold of a link bounce) get their own
	// budget on top of the call's.
	ctx, unlock, rerr := s.begin(ctx, p.VMID, time.Duration(p.Params.BounceHoldMs)*time.Millisecond)
	if rerr != nil {
		return UpdateDeviceResult{}, rerr
	}
	defer unlock()
	if p.Params.whole() {
		want := onDummy(hypervisor.NIC{Alias: p.Params.Alias, MAC: p.Params.MAC, Model: p.Params.Model,
			Bridge: *p.Params.Network, LinkUp: *p.Params.LinkActive})
		p.Params.applyAttrs(&want)
		got, err := s.hv.UpdateNIC(ctx, p.VMID, want)
		if err == nil {
			err = verify(want, got)
		}
		if err != nil {
			// One update either happened or not: the device tells which.
			dom, rerr := s.readBack(p.VMID)
			if rerr == nil {
				if cur, ok := dom.NICByAlias(want.Alias); ok && verify(want, cur) == nil {
					return UpdateDeviceResult{Device: nicStats(cur)}, nil
				}
			}
			return UpdateDeviceResult{}, s.outcome(p.VMID, CodeUpdateDevice, err, rerr)
		}
		return UpdateDeviceResult{Device: nicStats(got)}, nil
	}
	dom, err := s.hv.Domain(ctx, p.VMID)
	if err != nil {
		return UpdateDeviceResult{}, vmError(CodeUpdateDevice, err)
	}
	orig, ok := dom.NICByAlias(p.Params.Alias)
	if !ok {
		return UpdateDeviceResult{}, rpcError(CodeUpdateDevice, hypervisor.Errorf(hypervisor.ErrDeviceMissing,
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
	p.Params.applyAttrs(&want)
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
			return UpdateDeviceResult{}, rpcError(CodeOutcomeUnknown, fmt.Errorf("%w; restoring the original device also failed: %w", err, rerr))
		}
		return UpdateDeviceResult{}, rpcError(CodeUpdateDevice, err)
	}
	return UpdateDeviceResult{Device: nicStats(got)}, nil
}

// settle answers VM.settle: it fences the operation id, so that a request
// carrying it never starts, then reports the VM's devices under the VM's
// lock, that is after any change in progress.
func (s *Server) settle(ctx context.Context, p SettleParams) ([]VMStats, *RPCError) {
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
	return sameAttrs(want, got)
}
