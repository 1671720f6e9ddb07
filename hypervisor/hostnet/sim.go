package hostnet

import (
	"context"
	"slices"
	"sort"
	"sync"

	"vwire.dev/vwire/hypervisor"
)

// Sim is the simulated host's networking: the same model as Linux, in
// memory, with the same refusals, so that the embedded default shows the
// feature and the agent's tests run anywhere.
type Sim struct {
	mu     sync.Mutex
	nics   map[string]*NIC
	nets   map[string]Network
	noVLAN string
	// bridges is the simulated hypervisor, whose bridges (what a tap may
	// join) must be the networks realised here.
	bridges hypervisor.BridgeManager
	// fail, when set, fails the next Apply half-way, after its removals
	// (a test's fault: the kernel failing in the middle).
	fail error
}

// SimOptions configure a simulated host's networking.
type SimOptions struct {
	// NICs are the host NICs (default: eth0 and eth1, 1500, 10 Gbit/s,
	// up, eth0 with 198.18.0.1/24 and eth1 with 198.19.0.1/24).
	NICs []NIC
	// NoVLAN, when set, is why the host cannot make VLAN devices, as a
	// kernel without 802.1Q (default: it can).
	NoVLAN string
	// Bridges is told of every bridge made or removed (the simulated
	// hypervisor), so that a tap may join a network's bridge.
	Bridges hypervisor.BridgeManager
}

// DefaultSimNICs are a simulated host's NICs unless told otherwise.
func DefaultSimNICs() []NIC {
	return []NIC{
		{Name: "eth0", MAC: "52:54:00:00:00:01", MTU: 1500, Speed: 10000, Up: true, Addr: "198.18.0.1/24"},
		{Name: "eth1", MAC: "52:54:00:00:00:02", MTU: 1500, Speed: 10000, Up: true, Addr: "198.19.0.1/24"},
	}
}

var _ Host = (*Sim)(nil)

// NewSim returns a simulated host's networking with no network realised.
func NewSim(o SimOptions) *Sim {
	s := &Sim{nics: map[string]*NIC{}, nets: map[string]Network{}, noVLAN: o.NoVLAN, bridges: o.Bridges}
	if o.NICs == nil {
		o.NICs = DefaultSimNICs()
	}
	for _, n := range o.NICs {
		n.Slaves = slices.Clone(n.Slaves)
		s.nics[n.Name] = &n
	}
	return s
}

// FailNextApply makes the next Apply fail with err half-way: after its
// checks and removals, before the networks it realises (the kernel failing
// in the middle of a change).
func (s *Sim) FailNextApply(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

// SetNIC adds a host NIC or changes one (its link, MTU, address), as the
// host's administrator or cabling would; a test's host changing under the
// engine.
func (s *Sim) SetNIC(n NIC) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n.Slaves = slices.Clone(n.Slaves)
	s.nics[n.Name] = &n
}

func (s *Sim) NICs(ctx context.Context) ([]NIC, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nicList(), nil
}

func (s *Sim) nicList() []NIC {
	out := make([]NIC, 0, len(s.nics))
	for _, n := range s.nics {
		c := *n
		c.Slaves = slices.Clone(n.Slaves)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (s *Sim) Networks(ctx context.Context) ([]Network, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.netList(), nil
}

func (s *Sim) netList() []Network {
	out := make([]Network, 0, len(s.nets))
	for _, n := range s.nets {
		out = append(out, n.Clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (s *Sim) NoVLAN(context.Context) string { return s.noVLAN }

func (s *Sim) Apply(ctx context.Context, nets []Network, remove []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := check(s.nicList(), s.netList(), s.noVLAN, nets, remove)
	if err != nil {
		return err
	}
	// The hypervisor's bridges along with the networks: a tap may join
	// exactly the bridges realised here.
	if s.bridges != nil {
		if err := s.bridges.RemoveBridges(ctx, p.remove); err != nil {
			return err
		}
	}
	for _, name := range p.remove {
		delete(s.nets, name)
	}
	if err := s.fail; err != nil {
		s.fail = nil
		return err
	}
	var add []string
	for _, n := range p.apply {
		if _, ok := s.nets[n.Name]; !ok {
			add = append(add, n.Name)
		}
	}
	if s.bridges != nil {
		if err := s.bridges.EnsureBridges(ctx, add); err != nil {
			return err
		}
	}
	for _, n := range p.apply {
		// A NIC carries its networks' frames as they are: its MTU is
		// raised to the largest (never for an overlay's underlay: check).
		if nic := s.nics[n.NIC]; nic != nil && n.VXLAN == nil && nic.MTU < n.MTU {
			nic.MTU = n.MTU
		}
		s.nets[n.Name] = n
	}
	return nil
}
