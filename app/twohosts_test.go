package app_test

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/app"
	"vwire.dev/vwire/hypervisor/sim"
	"vwire.dev/vwire/internal/icmpping"
)

// Two hosts as the CI runs them: two vwire-agents, each with its
// host networking real in a namespace of its own (hypervisor simulated),
// an underlay cable between them, and an endpoint (a VM's stand-in) on a
// network's bridge in each. Everything goes through the agents' JSON-RPC,
// as the engine drives it: the overlay carries a ping between the hosts and
// not to another segment, the segment changes under a running endpoint,
// and the forwarding entries follow the engine's host list.
func TestTwoAgentsOverlay(t *testing.T) {
	nsA, hA := makeNS(t, "a")
	nsB, hB := makeNS(t, "b")
	nsBh, err := netns.GetFromName(nsB)
	if err != nil {
		t.Fatal(err)
	}
	defer nsBh.Close()
	if err := hA.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth1"}, PeerName: "eth1", PeerNamespace: netlink.NsFd(int(nsBh))}); err != nil {
		t.Fatal(err)
	}
	up(t, hA, "eth1", "198.18.20.1")
	up(t, hB, "eth1", "198.18.20.2")
	ctx := context.Background()
	client := func(ns string) *agent.Client {
		m := &app.AgentMain{Listen: "127.0.0.1:0", Hypervisor: sim.New(), HostNetwork: "linux", NetNS: ns, HostNICs: []string{"eth1"}}
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		c := agent.NewClient("http://"+m.Addr(), nil, 5*time.Second)
		t.Cleanup(func() { c.Close() })
		return c
	}
	a, b := client(nsA), client(nsB)
	overlay := func(vni int, remotes ...string) agent.NetworkSpec {
		return agent.NetworkSpec{Nic: "eth1", VXLAN: &agent.VXLANAttrs{VNI: vni, Remotes: remotes}}
	}
	configure := func(c *agent.Client, nets map[string]agent.NetworkSpec) {
		t.Helper()
		if err := c.ConfigureNetworks(ctx, agent.ConfigureNetworksParams{Networks: nets}); err != nil {
			t.Fatal(err)
		}
	}
	configure(a, map[string]agent.NetworkSpec{"ov": overlay(500, "198.18.20.2")})
	configure(b, map[string]agent.NetworkSpec{"ov": overlay(500, "198.18.20.1"), "iso": overlay(501, "198.18.20.1")})
	epA := endpoint(t, hA, "ov", "tapa", "198.19.50.1")
	endpoint(t, hB, "ov", "tapb", "198.19.50.2")
	endpoint(t, hB, "iso", "tapc", "198.19.50.3")
	two, three := net.ParseIP("198.19.50.2"), net.ParseIP("198.19.50.3")
	if !pingFrom(t, epA, two) {
		t.Fatal("no ping across VNI 500 between the agents' hosts")
	}
	if pingFrom(t, epA, three) {
		t.Fatal("VNI 500 reaches VNI 501")
	}
	configure(a, map[string]agent.NetworkSpec{"ov": overlay(501, "198.18.20.2")})
	if !pingFrom(t, epA, three) {
		t.Fatal("no ping across VNI 501 after the change")
	}
	// B leaves the engine's list of hosts carrying the segment, then joins.
	configure(a, map[string]agent.NetworkSpec{"ov": overlay(501)})
	if pingFrom(t, epA, three) {
		t.Fatal("reaches B with B out of the remotes")
	}
	configure(a, map[string]agent.NetworkSpec{"ov": overlay(501, "198.18.20.2")})
	if !pingFrom(t, epA, three) {
		t.Fatal("no ping once B is a remote again")
	}
	caps, err := a.Capabilities(ctx)
	if err != nil || len(caps.Networks) != 1 || caps.Networks[0].VXLAN.VNI != 501 || caps.Networks[0].VXLAN.Local != "198.18.20.1" {
		t.Fatalf("A reports %+v, %v", caps.Networks, err)
	}
}

// endpoint puts a veth named port on bridge in the namespace of h, its
// other end (eth0, ip/24) in a namespace of its own, which it returns.
func endpoint(t *testing.T, h *netlink.Handle, bridge, port, ip string) netns.NsHandle {
	t.Helper()
	ns := anonNS(t)
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: port}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(ns))}); err != nil {
		t.Fatal(err)
	}
	br, err := h.LinkByName(bridge)
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.LinkByName(port)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetMaster(p, br); err != nil {
		t.Fatal(err)
	}
	up(t, h, port, "")
	eh, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer eh.Close()
	up(t, eh, "eth0", ip)
	up(t, eh, "lo", "")
	return ns
}

// anonNS makes an unnamed namespace; it vanishes with its handle.
func anonNS(t *testing.T) netns.NsHandle {
	t.Helper()
	var ns netns.NsHandle
	var err error
	inThread(func() {
		var orig netns.NsHandle
		if orig, err = netns.Get(); err != nil {
			return
		}
		defer orig.Close()
		if ns, err = netns.New(); err != nil {
			return
		}
		err = netns.Set(orig)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

// inThread runs fn on a thread of its own, which ends with it: whatever
// namespace fn leaves it in, no other goroutine runs there.
func inThread(fn func()) {
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked
		defer close(done)
		fn()
	}()
	<-done
}

// pingFrom pings dst from ns and tells whether a reply came.
func pingFrom(t *testing.T, ns netns.NsHandle, dst net.IP) bool {
	t.Helper()
	var ok bool
	var err error
	inThread(func() {
		if err = netns.Set(ns); err != nil {
			return
		}
		ok, err = icmpping.Ping(dst, 0x5757)
	})
	if err != nil {
		t.Fatalf("ping: %v", err)
	}
	return ok
}
