package agent

import (
	"context"
	"errors"
	"sort"
	"time"

	"vwire.dev/vwire/hypervisor/hostnet"
)

// Host.setupNetworks and Host.setSafeNetworkConfig (issue 16): networks
// made real through the agent's hostnet.Host, with VDSM's connectivity
// check. A checked change is kept only if the engine confirms it
// (Host.setSafeNetworkConfig) within the timeout: otherwise the networks it
// touched go back to what they were before the first unconfirmed change
// (VDSM's "last safe configuration"), because a change that cut the
// engine off the host could not be undone by the engine.

// defaultConnectivityTimeout is VDSM's connectivityTimeout default.
const defaultConnectivityTimeout = 120 * time.Second

// pendingCheck is a checked change not yet confirmed: the networks it
// touched as they were (nil: absent) and the timer that rolls them back.
type pendingCheck struct {
	safe  map[string]*hostnet.Network
	timer *time.Timer
	gen   int
}

// setupNetworks answers Host.setupNetworks, in its full form and in the
// old one (names, with remove or nothing: plain bridges), which decodes
// to the same params.
func (s *Server) setupNetworks(ctx context.Context, p ConfigureNetworksParams) (MessageResult, *RPCError) {
	if s.net == nil {
		return MessageResult{}, noBridges()
	}
	var nets []hostnet.Network
	var remove []string
	for name, n := range p.Networks {
		if n.Remove {
			remove = append(remove, name)
			continue
		}
		hn := hostnet.Network{Name: name, MTU: n.MTU, NIC: n.Nic, VLAN: n.VLAN}
		if x := n.VXLAN; x != nil {
			hn.VXLAN = &hostnet.VXLAN{VNI: x.VNI, Local: x.Local, Remotes: x.Remotes, Port: x.Port}
		}
		nets = append(nets, hn)
	}
	// A stable order: the first refusal is the same whatever the map's.
	sort.Slice(nets, func(i, j int) bool { return nets[i].Name < nets[j].Name })
	sort.Strings(remove)
	check := p.Options != nil && p.Options.ConnectivityCheck
	timeout := defaultConnectivityTimeout
	if check && p.Options.ConnectivityTimeout > 0 {
		timeout = time.Duration(p.Options.ConnectivityTimeout) * time.Second
	}

	s.netMu.Lock()
	defer s.netMu.Unlock()
	before, err := s.net.Networks(ctx)
	if err != nil {
		return MessageResult{}, rpcError(CodeSetupNetworks, err)
	}
	touched := make([]string, 0, len(nets)+len(remove))
	for _, n := range nets {
		touched = append(touched, n.Name)
	}
	touched = append(touched, remove...)
	if err := s.net.Apply(ctx, nets, remove); err != nil {
		var refused *hostnet.RefusedError
		if !errors.As(err, &refused) {
			// The kernel failed half-way: put back what was.
			if rerr := s.restore(snapshot(before, touched)); rerr != nil {
				s.log.ErrorContext(ctx, "setupNetworks: restoring the networks after a failure failed", "error", rerr)
			}
		}
		return MessageResult{}, rpcError(CodeSetupNetworks, err)
	}
	if check {
		if s.pending == nil {
			s.pending = &pendingCheck{safe: map[string]*hostnet.Network{}}
		} else {
			s.pending.timer.Stop()
		}
		for name, n := range snapshot(before, touched) {
			if _, ok := s.pending.safe[name]; !ok {
				s.pending.safe[name] = n
			}
		}
		s.pending.gen++
		gen := s.pending.gen
		s.pending.timer = time.AfterFunc(timeout, func() { s.rollback(gen) })
		s.log.InfoContext(ctx, "setupNetworks: waiting for the engine to confirm", "timeout", timeout)
	}
	return MessageResult{Message: "Done"}, nil
}

// setSafeNetworkConfig answers Host.setSafeNetworkConfig: the engine
// reaches the host, what it changed is kept.
func (s *Server) setSafeNetworkConfig(ctx context.Context, _ NoParams) (MessageResult, *RPCError) {
	if s.net == nil {
		return MessageResult{}, noBridges()
	}
	s.netMu.Lock()
	defer s.netMu.Unlock()
	if s.pending != nil {
		s.pending.timer.Stop()
		s.pending = nil
		s.log.InfoContext(ctx, "setupNetworks: the engine confirmed the networks")
	}
	return MessageResult{Message: "Done"}, nil
}

// rollback undoes the unconfirmed changes, unless a later checked change
// (another gen) restarted the wait or the engine confirmed meanwhile.
func (s *Server) rollback(gen int) {
	s.netMu.Lock()
	defer s.netMu.Unlock()
	if s.pending == nil || s.pending.gen != gen {
		return
	}
	s.rollbackLocked()
}

func (s *Server) rollbackLocked() {
	safe := s.pending.safe
	s.pending.timer.Stop()
	s.pending = nil
	if err := s.restore(safe); err != nil {
		s.log.Error("setupNetworks: rolling back unconfirmed networks failed", "error", err)
		return
	}
	s.log.Warn("setupNetworks: the engine did not confirm the networks in time; rolled back", "networks", len(safe))
}

// restore puts networks back as they were (nil: absent), on a budget of
// its own: its caller's may be what ended.
func (s *Server) restore(safe map[string]*hostnet.Network) error {
	if len(safe) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.callTimeout)
	defer cancel()
	var nets []hostnet.Network
	var remove []string
	for name, n := range safe {
		if n == nil {
			remove = append(remove, name)
		} else {
			nets = append(nets, *n)
		}
	}
	sort.Strings(remove)
	sort.Slice(nets, func(i, j int) bool { return nets[i].Name < nets[j].Name })
	return s.net.Apply(ctx, nets, remove)
}

// snapshot is the named networks as they are in have (nil: absent).
func snapshot(have []hostnet.Network, names []string) map[string]*hostnet.Network {
	out := make(map[string]*hostnet.Network, len(names))
	for _, name := range names {
		out[name] = nil
		for _, h := range have {
			if h.Name == name {
				c := h.Clone()
				out[name] = &c
			}
		}
	}
	return out
}

// closeNetworks rolls back a change still unconfirmed when the agent
// stops: as with VDSM, only a confirmed configuration outlives the agent.
func (s *Server) closeNetworks() {
	s.netMu.Lock()
	defer s.netMu.Unlock()
	if s.pending != nil {
		s.rollbackLocked()
	}
}

// hostNetworking is what capabilities report of the host's networking.
func (s *Server) hostNetworking(ctx context.Context, c *Capabilities) error {
	if s.net == nil {
		return nil
	}
	nics, err := s.net.NICs(ctx)
	if err != nil {
		return err
	}
	nets, err := s.net.Networks(ctx)
	if err != nil {
		return err
	}
	for _, n := range nics {
		c.NICs = append(c.NICs, HostNICInfo{Name: n.Name, MAC: n.MAC, MTU: n.MTU, Speed: n.Speed, Up: n.Up, Bond: n.Bond, Slaves: n.Slaves, Addr: n.Addr})
	}
	for _, n := range nets {
		ni := NetworkInfo{Name: n.Name, MTU: n.MTU, Nic: n.NIC, VLAN: n.VLAN}
		if x := n.VXLAN; x != nil {
			ni.VXLAN = &VXLANAttrs{VNI: x.VNI, Local: x.Local, Remotes: x.Remotes, Port: x.Port}
		}
		c.Networks = append(c.Networks, ni)
	}
	c.NoVLAN = s.net.NoVLAN(ctx)
	return nil
}
