package engineport

import (
	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/engine"
)

// Host networking between the engine's terms and the agent's (issue 16).

func hostNICsOf(ns []agent.HostNICInfo) []engine.HostNICInfo {
	if len(ns) == 0 {
		return nil
	}
	out := make([]engine.HostNICInfo, len(ns))
	for i, n := range ns {
		out[i] = engine.HostNICInfo{Name: n.Name, MAC: n.MAC, MTU: n.MTU, SpeedMbps: n.Speed, Up: n.Up,
			Bond: n.Bond, Slaves: n.Slaves, Addr: n.Addr}
	}
	return out
}

func hostNetworksOf(ns []agent.NetworkInfo) []engine.HostNetwork {
	if len(ns) == 0 {
		return nil
	}
	out := make([]engine.HostNetwork, len(ns))
	for i, n := range ns {
		out[i] = engine.HostNetwork{Name: n.Name, MTU: n.MTU, NIC: n.Nic, VLAN: n.VLAN}
		if x := n.VXLAN; x != nil {
			out[i].VXLAN = &engine.HostVXLAN{VNI: x.VNI, Local: x.Local, Remotes: x.Remotes, Port: x.Port}
		}
	}
	return out
}

func configureParams(s engine.HostNetworkSetup) agent.ConfigureNetworksParams {
	p := agent.ConfigureNetworksParams{Networks: map[string]agent.NetworkSpec{}}
	for _, n := range s.Networks {
		spec := agent.NetworkSpec{MTU: n.MTU, Nic: n.NIC, VLAN: n.VLAN}
		if x := n.VXLAN; x != nil {
			spec.VXLAN = &agent.VXLANAttrs{VNI: x.VNI, Local: x.Local, Remotes: x.Remotes, Port: x.Port}
		}
		p.Networks[n.Name] = spec
	}
	for _, name := range s.Remove {
		p.Networks[name] = agent.NetworkSpec{Remove: true}
	}
	if s.CheckConnectivity {
		p.Options = &agent.SetupOptions{ConnectivityCheck: true, ConnectivityTimeout: int(s.ConnectivityTimeout.Seconds())}
	}
	return p
}
