package hostnet_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"vwire.dev/vwire/hypervisor/hostnet"
	"vwire.dev/vwire/hypervisor/internal/netnstest"
	"vwire.dev/vwire/internal/icmpping"
)

// The real kernel, in fresh network namespaces: veth pairs stand in for
// host NICs, a namespace for a host, and endpoints (a veth on a network's
// bridge whose far end has an address, in a namespace of its own) for VMs.
// Addresses are in 198.18.0.0/15. Namespaces vanish with their last handle,
// so a failed test leaves nothing behind.

// host is a namespace managed by hostnet.Linux, with only nics as its NICs
// (nil: the package's rule).
func host(t *testing.T, nics ...string) (*netnstest.NS, *hostnet.Linux) {
	t.Helper()
	netnstest.Need(t)
	ns := netnstest.NewNS(t)
	l, err := hostnet.NewLinux(hostnet.LinuxOptions{NetNS: ns.H, NICs: nics})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return ns, l
}

// cable joins a and b with a veth pair (the name on both sides), each end
// with its address (ip/24) and up.
func cable(t *testing.T, a, b *netnstest.NS, name, ipA, ipB string) {
	t.Helper()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name, PeerNamespace: netlink.NsFd(int(b.H))}
	if err := a.L.LinkAdd(v); err != nil {
		t.Fatalf("cable %s: %v", name, err)
	}
	for _, end := range []struct {
		ns *netnstest.NS
		ip string
	}{{a, ipA}, {b, ipB}} {
		lk := end.ns.Link(name)
		if end.ip != "" {
			addr, _ := netlink.ParseAddr(end.ip + "/24")
			if err := end.ns.L.AddrAdd(lk, addr); err != nil {
				t.Fatal(err)
			}
		}
		end.ns.Up(lk)
	}
}

func apply(t *testing.T, h hostnet.Host, nets []hostnet.Network, remove ...string) {
	t.Helper()
	if err := h.Apply(context.Background(), nets, remove); err != nil {
		t.Fatalf("apply %v remove %v: %v", nets, remove, err)
	}
}

func networks(t *testing.T, h hostnet.Host) []hostnet.Network {
	t.Helper()
	nets, err := h.Networks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return nets
}

// A bridge over a host NIC, with the network's MTU; the same refusals as
// the simulated host; MTU changed in place (the bridge and its port stay);
// removal leaves the NIC.
func TestLinuxBridgeOverNIC(t *testing.T) {
	ns, h := host(t)
	peer := netnstest.NewNS(t)
	cable(t, ns, peer, "eth1", "198.18.2.1", "198.18.2.2")
	ctx := context.Background()
	nics, err := h.NICs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := hostnet.NIC{Name: "eth1", MAC: ns.Link("eth1").Attrs().HardwareAddr.String(), MTU: 1500, Speed: 10000, Up: true, Addr: "198.18.2.1/24"}
	if len(nics) != 1 || !equalNIC(nics[0], want) {
		t.Fatalf("NICs = %+v, want only %+v (lo is none)", nics, want)
	}
	for _, tc := range refusals {
		err := h.Apply(ctx, []hostnet.Network{tc.net}, nil)
		var r *hostnet.RefusedError
		if !errors.As(err, &r) || !strings.Contains(r.Reason, tc.want) {
			t.Errorf("%s: err = %v, want a refusal with %q", tc.name, err, tc.want)
		}
	}
	if nets := networks(t, h); len(nets) != 0 {
		t.Fatalf("refusals realised %+v", nets)
	}

	apply(t, h, []hostnet.Network{{Name: "net1", NIC: "eth1", MTU: 9000}})
	br := ns.Link("net1")
	if br.Type() != "bridge" || br.Attrs().MTU != 9000 || ns.Link("eth1").Attrs().MasterIndex != br.Attrs().Index || ns.Link("eth1").Attrs().MTU != 9000 {
		t.Fatalf("bridge %s mtu %d; eth1 master %d mtu %d", br.Type(), br.Attrs().MTU, ns.Link("eth1").Attrs().MasterIndex, ns.Link("eth1").Attrs().MTU)
	}
	if nets := networks(t, h); len(nets) != 1 || !nets[0].Equal(hostnet.Network{Name: "net1", MTU: 9000, NIC: "eth1"}) {
		t.Fatalf("networks read back %v", nets)
	}
	// A port on it (a VM's tap), then the same again and a smaller MTU.
	ep := ns.Port("tap0", "net1", "198.18.3.1")
	if mtu := ns.Link("net1").Attrs().MTU; mtu != 9000 {
		t.Fatalf("a port of MTU 1500 joining made the bridge's MTU %d", mtu)
	}
	apply(t, h, []hostnet.Network{{Name: "net1", NIC: "eth1", MTU: 9000}})
	apply(t, h, []hostnet.Network{{Name: "net1", NIC: "eth1", MTU: 1400}})
	if b := ns.Link("net1"); b.Attrs().Index != br.Attrs().Index || b.Attrs().MTU != 1400 || ns.Link("tap0").Attrs().MasterIndex != br.Attrs().Index {
		t.Fatalf("after the MTU change: bridge %d (was %d) mtu %d, tap master %d", b.Attrs().Index, br.Attrs().Index, b.Attrs().MTU, ns.Link("tap0").Attrs().MasterIndex)
	}
	if ns.Link("eth1").Attrs().MTU != 9000 {
		t.Fatal("a host NIC's MTU was lowered")
	}
	// The host NIC moves to another network only once released.
	err = h.Apply(ctx, []hostnet.Network{{Name: "net2", NIC: "eth1"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "host NIC eth1 is already used by network net1") {
		t.Fatalf("err = %v", err)
	}
	// Another uplink under the same bridge: an overlay whose underlay is
	// eth1 (its MTU now 9000, so the overlay's 8950). The port stays; the
	// NIC is released.
	apply(t, h, []hostnet.Network{{Name: "net1", NIC: "eth1", VXLAN: &hostnet.VXLAN{VNI: 5}}})
	if b := ns.Link("net1"); b.Attrs().Index != br.Attrs().Index || ns.Link("tap0").Attrs().MasterIndex != br.Attrs().Index || ns.Link("eth1").Attrs().MasterIndex != 0 {
		t.Fatal("the uplink change replaced the bridge, dropped its port or kept the NIC")
	}
	ov := hostnet.Network{Name: "net1", NIC: "eth1", MTU: 8950, VXLAN: &hostnet.VXLAN{VNI: 5, Local: "198.18.2.1", Port: 4789}}
	if nets := networks(t, h); len(nets) != 1 || !nets[0].Equal(ov) {
		t.Fatalf("read back %v, want %v", nets, ov)
	}
	_ = ep
	apply(t, h, nil, "net1")
	if _, err := ns.L.LinkByName("net1"); err == nil {
		t.Fatal("bridge net1 left behind")
	}
	if eth1 := ns.Link("eth1"); eth1.Attrs().MasterIndex != 0 {
		t.Fatalf("eth1 still enslaved to %d", eth1.Attrs().MasterIndex)
	}
	if nets := networks(t, h); len(nets) != 0 {
		t.Fatalf("networks after removal %+v", nets)
	}
	// What vwire did not make is neither taken over nor removed.
	ns.Bridge("hostbr")
	err = h.Apply(ctx, []hostnet.Network{{Name: "hostbr", NIC: "eth1"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "did not make") {
		t.Fatalf("a network over the host's own bridge: err = %v", err)
	}
	apply(t, h, nil, "hostbr")
	// Its NIC is not taken from it either (eth1 a NIC by the allow-list:
	// by the rule, a veth on a foreign bridge is a container's port).
	if err := ns.L.LinkSetMaster(ns.Link("eth1"), ns.Link("hostbr")); err != nil {
		t.Fatal(err)
	}
	only, err := hostnet.NewLinux(hostnet.LinuxOptions{NetNS: ns.H, NICs: []string{"eth1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer only.Close()
	err = only.Apply(ctx, []hostnet.Network{{Name: "net3", NIC: "eth1"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "host NIC eth1 is a port of bridge hostbr") {
		t.Fatalf("taking a foreign bridge's NIC: err = %v", err)
	}
	if ns.Link("eth1").Attrs().MasterIndex != ns.Link("hostbr").Attrs().Index {
		t.Fatal("eth1 taken from hostbr")
	}
}

func equalNIC(a, b hostnet.NIC) bool {
	return a.Name == b.Name && a.MAC == b.MAC && a.MTU == b.MTU && a.Speed == b.Speed && a.Up == b.Up && a.Addr == b.Addr && a.Bond == b.Bond
}

// The VLAN path: refused with the kernel's reason where 802.1Q is missing
// (as on vwire's CI machine), realised where it is not.
func TestLinuxVLAN(t *testing.T) {
	a, ha := host(t, "eth1")
	b, hb := host(t, "eth1")
	cable(t, a, b, "eth1", "", "")
	ctx := context.Background()
	if why := ha.NoVLAN(ctx); why != "" {
		if !strings.Contains(why, "802.1Q") {
			t.Fatalf("NoVLAN = %q, want the missing feature named", why)
		}
		err := ha.Apply(ctx, []hostnet.Network{{Name: "vl", NIC: "eth1", VLAN: 10}}, nil)
		var r *hostnet.RefusedError
		if !errors.As(err, &r) || !strings.Contains(r.Reason, why) {
			t.Fatalf("err = %v, want the refusal with %q", err, why)
		}
		if _, err := a.L.LinkByName("vl"); err == nil {
			t.Fatal("a refused network left its bridge")
		}
		if ls, _ := a.L.LinkList(); len(ls) != 2 {
			t.Fatalf("the probe left links behind: %d links", len(ls))
		}
		t.Skip("the kernel lacks 802.1Q VLAN devices (8021q): a VLAN network is refused, as checked; its realisation cannot be tested here")
	}
	for _, x := range []struct {
		h  *hostnet.Linux
		ns *netnstest.NS
	}{{ha, a}, {hb, b}} {
		apply(t, x.h, []hostnet.Network{{Name: "vl", NIC: "eth1", VLAN: 10, MTU: 1500}})
		vl, ok := x.ns.Link("eth1.10").(*netlink.Vlan)
		if !ok || vl.VlanId != 10 || vl.Attrs().MasterIndex != x.ns.Link("vl").Attrs().Index {
			t.Fatalf("VLAN device %+v", x.ns.Link("eth1.10"))
		}
	}
	if nets := networks(t, ha); len(nets) != 1 || !nets[0].Equal(hostnet.Network{Name: "vl", MTU: 1500, NIC: "eth1", VLAN: 10}) {
		t.Fatalf("read back %v", nets)
	}
	e1 := a.Port("tapa", "vl", "198.19.10.1")
	b.Port("tapb", "vl", "198.19.10.2")
	if !ping(t, e1, net.ParseIP("198.19.10.2")) {
		t.Fatal("no ping across VLAN 10")
	}
	apply(t, ha, nil, "vl")
	if _, err := a.L.LinkByName("eth1.10"); err == nil {
		t.Fatal("the VLAN device outlived its network")
	}
}

// An overlay between two hosts: a ping crosses the segment and not to
// another segment; the segment changes live (the bridge and its port
// stay) and reaches the new one; the remotes follow the list.
func TestLinuxOverlay(t *testing.T) {
	a, ha := host(t, "eth1")
	b, hb := host(t, "eth1")
	cable(t, a, b, "eth1", "198.18.1.1", "198.18.1.2")
	overlay := func(name string, vni int, remotes ...string) hostnet.Network {
		return hostnet.Network{Name: name, NIC: "eth1", VXLAN: &hostnet.VXLAN{VNI: vni, Remotes: remotes}}
	}
	apply(t, ha, []hostnet.Network{overlay("ov", 100, "198.18.1.2")})
	apply(t, hb, []hostnet.Network{overlay("ov", 100, "198.18.1.1"), overlay("other", 200, "198.18.1.1")})
	got := networks(t, ha)
	want := hostnet.Network{Name: "ov", NIC: "eth1", MTU: 1450, VXLAN: &hostnet.VXLAN{VNI: 100, Local: "198.18.1.1", Port: 4789, Remotes: []string{"198.18.1.2"}}}
	if len(got) != 1 || !got[0].Equal(want) {
		t.Fatalf("read back %v, want %v", got, want)
	}
	vx, ok := a.Link(hostnet.VXLANDevice("ov")).(*netlink.Vxlan)
	if !ok || vx.Learning || vx.Attrs().MasterIndex != a.Link("ov").Attrs().Index {
		t.Fatalf("VXLAN device %+v: want no learning, on bridge ov", vx)
	}
	// Again: nothing is re-made. A new MTU: changed in place.
	vxIndex := vx.Attrs().Index
	apply(t, ha, []hostnet.Network{overlay("ov", 100, "198.18.1.2")})
	if a.Link(hostnet.VXLANDevice("ov")).Attrs().Index != vxIndex {
		t.Fatal("applying the same network re-made its VXLAN device")
	}
	withMTU := overlay("ov", 100, "198.18.1.2")
	withMTU.MTU = 1400
	apply(t, ha, []hostnet.Network{withMTU})
	if d := a.Link(hostnet.VXLANDevice("ov")); d.Attrs().Index != vxIndex || d.Attrs().MTU != 1400 || a.Link("ov").Attrs().MTU != 1400 {
		t.Fatalf("MTU change: VXLAN device %d (was %d) mtu %d, bridge mtu %d", d.Attrs().Index, vxIndex, d.Attrs().MTU, a.Link("ov").Attrs().MTU)
	}
	epA := a.Port("tapa", "ov", "198.19.100.1")
	b.Port("tapb", "ov", "198.19.100.2")
	b.Port("tapc", "other", "198.19.100.3")
	two, three := net.ParseIP("198.19.100.2"), net.ParseIP("198.19.100.3")
	if !ping(t, epA, two) {
		t.Fatal("no ping across VNI 100")
	}
	if ping(t, epA, three) {
		t.Fatal("VNI 100 reaches an endpoint of VNI 200")
	}

	// The segment changes under the running port.
	br := a.Link("ov").Attrs().Index
	start := time.Now()
	apply(t, ha, []hostnet.Network{overlay("ov", 200, "198.18.1.2")})
	t.Logf("VNI change applied in %v", time.Since(start).Round(time.Microsecond))
	if a.Link("ov").Attrs().Index != br || a.Link("tapa").Attrs().MasterIndex != br {
		t.Fatal("the VNI change replaced the bridge or dropped its port")
	}
	if !ping(t, epA, three) {
		t.Fatal("no ping across the new VNI 200")
	}
	// The endpoint's first tries at .3 (above) left its ARP entry failed:
	// the kernel's neighbour retry, not the overlay, bounds this figure.
	t.Logf("VNI change to first ping reply: %v", time.Since(start).Round(time.Millisecond))
	if ping(t, epA, two) {
		t.Fatal("still reaches VNI 100")
	}
	if got := networks(t, ha); len(got) != 1 || got[0].VXLAN.VNI != 200 {
		t.Fatalf("read back %v", got)
	}

	// Remotes follow the list: none (nowhere to send), two, one.
	apply(t, ha, []hostnet.Network{overlay("ov", 200)})
	if got := networks(t, ha); len(got[0].VXLAN.Remotes) != 0 {
		t.Fatalf("remotes %v, want none", got[0].VXLAN.Remotes)
	}
	if ping(t, epA, three) {
		t.Fatal("reaches the segment with no remote")
	}
	apply(t, ha, []hostnet.Network{overlay("ov", 200, "198.18.1.9", "198.18.1.2")})
	if got := networks(t, ha); !slices.Equal(got[0].VXLAN.Remotes, []string{"198.18.1.2", "198.18.1.9"}) {
		t.Fatalf("remotes %v", got[0].VXLAN.Remotes)
	}
	if !ping(t, epA, three) {
		t.Fatal("no ping once the remote is back")
	}
	apply(t, ha, []hostnet.Network{overlay("ov", 200, "198.18.1.9")})
	if got := networks(t, ha); !slices.Equal(got[0].VXLAN.Remotes, []string{"198.18.1.9"}) {
		t.Fatalf("remotes %v", got[0].VXLAN.Remotes)
	}
	// Removal takes the VXLAN device with the bridge.
	apply(t, ha, nil, "ov")
	if _, err := a.L.LinkByName(hostnet.VXLANDevice("ov")); err == nil {
		t.Fatal("the VXLAN device outlived its network")
	}
	if a.Link("eth1").Attrs().MTU != 1500 {
		t.Fatal("the underlay's MTU changed")
	}
}

// ping pings dst from the endpoint's namespace and tells whether a reply
// came.
func ping(t *testing.T, e *netnstest.Endpoint, dst net.IP) bool {
	t.Helper()
	var ok bool
	var err error
	e.NS.In(func() { ok, err = icmpping.Ping(dst, 0x7777) })
	if err != nil {
		t.Fatalf("ping: %v", err)
	}
	return ok
}

// What is a host NIC: a veth standing for one is, on a vwire network too;
// a veth on a foreign bridge (a container's), bridges and VXLAN devices are
// not; an allow-list is exactly what it names.
func TestLinuxNICRule(t *testing.T) {
	ns, h := host(t)
	peer := netnstest.NewNS(t)
	cable(t, ns, peer, "eth1", "198.18.6.1", "198.18.6.2")
	ns.Bridge("docker0")
	ns.Port("vethc", "docker0", "198.18.7.2")
	apply(t, h, []hostnet.Network{{Name: "ov", NIC: "eth1", VXLAN: &hostnet.VXLAN{VNI: 9}}, {Name: "plain"}})
	ns.Port("tapv", "plain", "198.18.8.2")
	ctx := context.Background()
	names := func(h hostnet.Host) []string {
		nics, err := h.NICs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range nics {
			out = append(out, n.Name)
		}
		return out
	}
	// tapv, a veth on a vwire bridge, counts: a test's NIC may be one.
	if got := names(h); !slices.Equal(got, []string{"eth1", "tapv"}) {
		t.Fatalf("NICs %v, want eth1 and tapv", got)
	}
	only, err := hostnet.NewLinux(hostnet.LinuxOptions{NetNS: ns.H, NICs: []string{"eth1", "eth7"}})
	if err != nil {
		t.Fatal(err)
	}
	defer only.Close()
	if got := names(only); !slices.Equal(got, []string{"eth1"}) {
		t.Fatalf("allow-listed NICs %v, want eth1", got)
	}
	// The allow-listed host refuses what is not on its list.
	err = only.Apply(ctx, []hostnet.Network{{Name: "n2", NIC: "tapv"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "tapv is not a host NIC (host NICs: eth1)") {
		t.Fatalf("err = %v", err)
	}
}

// A device vwire left detached (a change cut short) is replaced; a link of
// the same name vwire did not make is refused, and left.
func TestLinuxLeftovers(t *testing.T) {
	ns, h := host(t, "eth1")
	peer := netnstest.NewNS(t)
	cable(t, ns, peer, "eth1", "198.18.9.1", "198.18.9.2")
	ov := []hostnet.Network{{Name: "ov", NIC: "eth1", VXLAN: &hostnet.VXLAN{VNI: 11, Remotes: []string{"198.18.9.2"}}}}
	apply(t, h, ov)
	dev := ns.Link(hostnet.VXLANDevice("ov"))
	if err := ns.L.LinkSetNoMaster(dev); err != nil {
		t.Fatal(err)
	}
	if got := networks(t, h); got[0].VXLAN != nil {
		t.Fatalf("a detached device still reads as the uplink: %v", got)
	}
	apply(t, h, ov)
	if got := networks(t, h); len(got) != 1 || !got[0].Equal(hostnet.Network{Name: "ov", NIC: "eth1", MTU: 1450,
		VXLAN: &hostnet.VXLAN{VNI: 11, Local: "198.18.9.1", Port: 4789, Remotes: []string{"198.18.9.2"}}}) {
		t.Fatalf("after repair: %v", got)
	}
	// Someone else's VXLAN device with the name vwire would use.
	other := &netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: hostnet.VXLANDevice("ov2")}, VxlanId: 12, Port: 4790}
	if err := ns.L.LinkAdd(other); err != nil {
		t.Fatal(err)
	}
	err := h.Apply(context.Background(), []hostnet.Network{{Name: "ov2", NIC: "eth1", VXLAN: &hostnet.VXLAN{VNI: 13}}}, nil)
	if err == nil || !strings.Contains(err.Error(), "that vwire did not make") {
		t.Fatalf("err = %v", err)
	}
	if _, err := ns.L.LinkByName("ov2"); err == nil {
		t.Fatal("a refused network left its bridge")
	}
	ns.Link(hostnet.VXLANDevice("ov2"))
}
