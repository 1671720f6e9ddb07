// Package engineport adapts the agent's JSON-RPC client to the engine's port
// to a host (engine.HostClient): it maps the engine's device, update and VM
// types to VDSM's wire types and back, sends the engine's operation id
// (engine.OpID) and the request's correlation id (engine.CorrelationID, as
// the call's flow id) with each call, and classifies the client's errors
// into the engine's (engine.HostError). It imports engine and agent; the engine
// imports neither, and the binary's wiring (app) injects Dial.
package engineport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strconv"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/engine"
	"vwire.dev/vwire/pki"
)

// Dial returns the engine's dialer for agents over JSON-RPC. hostTimeout is
// the engine's (Options.HostTimeout, zero for the default): the engine gives
// every call its deadline, so the client's own bound only has to leave room
// for the longest (a link bounce's hold).
func Dial(hostTimeout time.Duration) engine.Dialer {
	return DialWith(Options{HostTimeout: hostTimeout})
}

// Options say how the engine reaches its hosts.
type Options struct {
	// HostTimeout is the engine's (zero: the default).
	HostTimeout time.Duration
	// CA and Client, when CA is set, are the engine's CA and its client
	// certificate: hosts are reached over mutual TLS only, and a host must
	// present a certificate of that CA naming its own id.
	CA     *x509.CertPool
	Client tls.Certificate
	// Embedded, when set, reaches the embedded host (the in-process agent,
	// over an in-memory connection: no network, no TLS needed).
	Embedded agent.DialFunc
	// Observe, when set, sees every host call (the engine's metrics of
	// host calls by verb and VDSM code); app sets it.
	Observe agent.CallObserver
}

// DialWith returns the engine's dialer for agents as o says.
func DialWith(o Options) engine.Dialer {
	if o.HostTimeout == 0 {
		o.HostTimeout = engine.DefaultHostTimeout
	}
	timeout := o.HostTimeout + vwire.MaxBounceHold
	return func(h *vwire.Host) engine.HostClient {
		switch {
		case h.Embedded && o.Embedded != nil:
			return New(agent.NewClientWith("http://embedded/", agent.ClientOptions{Dial: o.Embedded, Timeout: timeout, Observe: o.Observe}))
		case o.CA != nil:
			return New(agent.NewClientWith("https://"+hostPort(h)+"/",
				agent.ClientOptions{TLS: pki.EngineClientConfig(o.CA, o.Client, h.ID), Timeout: timeout, Observe: o.Observe}))
		case o.Observe != nil:
			return New(agent.NewClientWith(URL(h), agent.ClientOptions{Timeout: timeout, Observe: o.Observe}))
		}
		return New(agent.NewClient(URL(h), nil, timeout))
	}
}

func hostPort(h *vwire.Host) string { return net.JoinHostPort(h.Address, strconv.Itoa(h.Port)) }

// URL is the plain-HTTP address of a host's agent.
func URL(h *vwire.Host) string { return "http://" + hostPort(h) + "/" }

// Client is an agent client seen through the engine's port.
type Client struct{ c *agent.Client }

var (
	_ engine.HostClient      = (*Client)(nil)
	_ engine.HostCertRenewer = (*Client)(nil)
)

// New adapts c.
func New(c *agent.Client) *Client { return &Client{c} }

// Close ends the client's connection.
func (c *Client) Close() error { return c.c.Close() }

// ctx passes the engine's operation id and the request's correlation id
// (as the call's flow id) on to the agent client.
func ctx(ctx context.Context) context.Context {
	ctx = agent.WithFlowID(ctx, engine.CorrelationID(ctx))
	if op := engine.OpID(ctx); op != "" {
		return agent.WithOp(ctx, op)
	}
	return ctx
}

// Capabilities calls Host.getCapabilities.
func (c *Client) Capabilities(cx context.Context) (engine.HostCaps, error) {
	caps, err := c.c.Capabilities(ctx(cx))
	return engine.HostCaps{Bridges: caps.Bridges, ClusterLevels: caps.ClusterLevels, LibvirtVersion: caps.LibvirtVersion,
		NICs: hostNICsOf(caps.NICs), Networks: hostNetworksOf(caps.Networks), NoVLAN: caps.NoVLAN}, classify(err)
}

// ConfigureNetworks calls Host.setupNetworks in its full form.
func (c *Client) ConfigureNetworks(cx context.Context, s engine.HostNetworkSetup) error {
	return classify(c.c.ConfigureNetworks(ctx(cx), configureParams(s)))
}

// ConfirmNetworks calls Host.setSafeNetworkConfig.
func (c *Client) ConfirmNetworks(cx context.Context) error {
	return classify(c.c.SetSafeNetworkConfig(ctx(cx)))
}

// AllVMStats calls Host.getAllVmStats.
func (c *Client) AllVMStats(cx context.Context) ([]engine.HostVM, error) {
	st, err := c.c.AllVMStats(ctx(cx))
	var out []engine.HostVM
	if st != nil {
		out = make([]engine.HostVM, len(st))
		for i, s := range st {
			out[i] = vmOf(s)
		}
	}
	return out, classify(err)
}

// VMStats calls VM.getStats.
func (c *Client) VMStats(cx context.Context, vmID string) (engine.HostVM, error) {
	st, err := c.c.VMStats(ctx(cx), vmID)
	if err != nil {
		return engine.HostVM{}, classify(err)
	}
	return vmOf(st), nil
}

// SetupNetworks calls Host.setupNetworks.
func (c *Client) SetupNetworks(cx context.Context, add, remove []string) error {
	return classify(c.c.SetupNetworks(ctx(cx), add, remove))
}

// CreateVM calls VM.create.
func (c *Client) CreateVM(cx context.Context, vm engine.HostVMSpec) (engine.HostVM, error) {
	vp := agent.VMParams{VMID: vm.ID, VMName: vm.Name, MemSize: vm.MemoryMiB, Kernel: vm.Kernel, Initrd: vm.Initrd, KernelArgs: vm.Cmdline,
		SMP: vm.CPU.VCPUs(), SMPCoresPerSocket: vm.CPU.Cores, SMPThreadsPerCore: vm.CPU.Threads}
	for _, d := range vm.Devices {
		vp.Devices = append(vp.Devices, deviceOf(d))
	}
	st, err := c.c.CreateVM(ctx(cx), vp)
	return vmOf(st), classify(err)
}

// DestroyVM calls VM.destroy.
func (c *Client) DestroyVM(cx context.Context, vmID string) error {
	return classify(c.c.DestroyVM(ctx(cx), vmID))
}

// HotplugNIC calls VM.hotplugNic.
func (c *Client) HotplugNIC(cx context.Context, vmID string, d engine.HostDevice) (engine.HostNIC, error) {
	st, err := c.c.HotplugNIC(ctx(cx), vmID, deviceOf(d))
	return nicOf(st), classify(err)
}

// HotunplugNIC calls VM.hotunplugNic.
func (c *Client) HotunplugNIC(cx context.Context, vmID string, d engine.HostDevice) error {
	return classify(c.c.HotunplugNIC(ctx(cx), vmID, deviceOf(d)))
}

// UpdateNIC calls VM.updateDevice with the whole device.
func (c *Client) UpdateNIC(cx context.Context, vmID string, u engine.DeviceUpdate) (engine.HostNIC, error) {
	network, link := u.Network, u.LinkActive
	mirror, filter, params := mirrorList(u.Mirroring, u.Network), u.Filter, filterParams(u.FilterParams)
	if mirror == nil {
		mirror = []string{}
	}
	if params == nil {
		params = []agent.FilterParam{}
	}
	spec := specParams(u.QoS)
	if spec == nil {
		spec = &agent.SpecParams{} // no limit, said explicitly
	}
	p := agent.UpdateDeviceParams{Alias: u.Alias, Network: &network, LinkActive: &link, MAC: u.MAC, Model: u.Model,
		Notify: string(u.Notify), BounceHoldMs: u.BounceHold.Milliseconds(),
		PortMirroring: &mirror, SpecParams: spec, Filter: &filter, FilterParameters: &params}
	st, err := c.c.UpdateNIC(ctx(cx), vmID, p)
	return nicOf(st), classify(err)
}

// Settle calls VM.settle.
func (c *Client) Settle(cx context.Context, vmID, opID string) (engine.HostVM, bool, error) {
	st, found, err := c.c.Settle(ctx(cx), vmID, opID)
	return vmOf(st), found, classify(err)
}

// deviceOf is a device in VDSM's legacy device form.
func deviceOf(d engine.HostDevice) agent.Device {
	return agent.Device{Type: "interface", Device: "bridge", DeviceID: d.ID, Alias: d.Alias, MAC: d.MAC,
		Model: d.Model, Network: d.Network, LinkActive: d.LinkActive,
		PortMirroring: mirrorList(d.Mirroring, d.Network), SpecParams: specParams(d.QoS), Filter: d.Filter,
		FilterParameters: filterParams(d.FilterParams)}
}

func nicOf(s agent.NICStats) engine.HostNIC {
	n := engine.HostNIC{Alias: s.Alias, MAC: s.MAC, Model: s.Model, Network: s.Network, LinkActive: s.LinkActive,
		Address: s.Address, Name: s.Name, Mirroring: len(s.PortMirroring) > 0 && s.PortMirroring[0] == s.Network,
		QoS: bandwidthOf(s.SpecParams), Filter: s.Filter, FilterParams: hostFilterParams(s.FilterParameters)}
	if c := s.Counters; c != nil {
		n.Counters = &engine.HostNICCounters{RxBytes: c.Rx, RxPackets: c.RxPackets, RxErrors: c.RxErrors, RxDrops: c.RxDropped,
			TxBytes: c.Tx, TxPackets: c.TxPackets, TxErrors: c.TxErrors, TxDrops: c.TxDropped, SampledAt: time.UnixMilli(c.SampleTime)}
	}
	return n
}

func vmOf(s agent.VMStats) engine.HostVM {
	vm := engine.HostVM{VMID: s.VMID, VMName: s.VMName, Status: s.Status}
	if s.NICs != nil {
		vm.NICs = make([]engine.HostNIC, len(s.NICs))
		for i, n := range s.NICs {
			vm.NICs[i] = nicOf(n)
		}
	}
	return vm
}

// classify turns the client's errors into the engine's: an answer (with
// VDSM's code and the host's reason), a call that never reached the host, or
// one whose outcome is unknown. Other errors pass unchanged.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var re *agent.RPCError
	var te *agent.TransportError
	switch {
	case errors.As(err, &re):
		kind := engine.ErrHostRefused
		switch re.Code {
		case agent.CodeNoVM:
			kind = engine.ErrNoVM
		case agent.CodeOutcomeUnknown:
			kind = engine.ErrOutcomeUnknown
		}
		return &engine.HostError{Kind: kind, Answered: true, Code: re.Code, Reason: re.Reason(), Err: err}
	case agent.IsUnknown(err):
		return &engine.HostError{Kind: engine.ErrOutcomeUnknown, Err: err}
	case errors.As(err, &te):
		return &engine.HostError{Kind: engine.ErrHostUnreached, Reason: te.Err.Error(), Err: err}
	}
	return err
}

// CertificateRequest calls Host.certificateRequest.
func (c *Client) CertificateRequest(cx context.Context) ([]byte, error) {
	csr, err := c.c.CertificateRequest(ctx(cx))
	return csr, classify(err)
}

// InstallCertificate calls Host.installCertificate.
func (c *Client) InstallCertificate(cx context.Context, certPEM []byte) error {
	return classify(c.c.InstallCertificate(ctx(cx), certPEM))
}
