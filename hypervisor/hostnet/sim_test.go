package hostnet_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"vwire.dev/vwire/hypervisor/hostnet"
	"vwire.dev/vwire/hypervisor/sim"
)

// refusals are what both implementations refuse, whatever the kernel:
// the Linux tests run the same table against the real one.
var refusals = []struct {
	name string
	net  hostnet.Network
	want string
}{
	{"unknown NIC", hostnet.Network{Name: "n", NIC: "eth9"}, "eth9 is not a host NIC"},
	{"name too long", hostnet.Network{Name: "a-very-long-network"}, "longer than 15 bytes"},
	{"bad name", hostnet.Network{Name: "a b"}, "may hold only"},
	{"no name", hostnet.Network{}, "needs a name"},
	{"MTU too small", hostnet.Network{Name: "n", MTU: 67}, "MTU 67 is out of range (68..65535)"},
	{"MTU too large", hostnet.Network{Name: "n", MTU: 65536}, "MTU 65536 is out of range"},
	{"VNI zero", hostnet.Network{Name: "n", NIC: "eth1", VXLAN: &hostnet.VXLAN{VNI: 0}}, "VNI 0 is out of range (1..16777215)"},
	{"VNI too large", hostnet.Network{Name: "n", NIC: "eth1", VXLAN: &hostnet.VXLAN{VNI: 1 << 24}}, "VNI 16777216 is out of range"},
	{"overlay MTU over the underlay's", hostnet.Network{Name: "n", NIC: "eth1", MTU: 1500, VXLAN: &hostnet.VXLAN{VNI: 5}}, "at most 1450"},
	{"overlay without underlay", hostnet.Network{Name: "n", VXLAN: &hostnet.VXLAN{VNI: 5}}, "needs a host NIC or a local address"},
	{"overlay local nowhere", hostnet.Network{Name: "n", VXLAN: &hostnet.VXLAN{VNI: 5, Local: "198.18.99.99"}}, "no host NIC has the overlay's local address"},
	{"bad remote", hostnet.Network{Name: "n", NIC: "eth1", VXLAN: &hostnet.VXLAN{VNI: 5, Remotes: []string{"x"}}}, `remote "x" is not an IPv4 address`},
	{"VLAN and overlay", hostnet.Network{Name: "n", NIC: "eth1", VLAN: 5, VXLAN: &hostnet.VXLAN{VNI: 5}}, "either on a VLAN or an overlay"},
	{"VLAN without NIC", hostnet.Network{Name: "n", VLAN: 5}, "needs a host NIC"},
	{"VLAN out of range", hostnet.Network{Name: "n", NIC: "eth1", VLAN: 4095}, "VLAN 4095 is out of range"},
}

func newSim(t *testing.T, o hostnet.SimOptions) (*hostnet.Sim, *sim.Sim) {
	t.Helper()
	hv := sim.New()
	o.Bridges = hv
	return hostnet.NewSim(o), hv
}

func TestSimRefusals(t *testing.T) {
	h, _ := newSim(t, hostnet.SimOptions{})
	ctx := context.Background()
	for _, tc := range refusals {
		err := h.Apply(ctx, []hostnet.Network{tc.net}, nil)
		var r *hostnet.RefusedError
		if !errors.As(err, &r) || !strings.Contains(r.Reason, tc.want) {
			t.Errorf("%s: err = %v, want a refusal with %q", tc.name, err, tc.want)
		}
	}
	if nets, _ := h.Networks(ctx); len(nets) != 0 {
		t.Fatalf("refusals realised %+v", nets)
	}
	// A refusal among several networks changes none of them.
	err := h.Apply(ctx, []hostnet.Network{{Name: "ok", NIC: "eth0"}, {Name: "bad", NIC: "eth9"}}, nil)
	if nets, _ := h.Networks(ctx); err == nil || len(nets) != 0 {
		t.Fatalf("err %v, networks %+v", err, nets)
	}
}

func TestSimNoVLAN(t *testing.T) {
	h, _ := newSim(t, hostnet.SimOptions{NoVLAN: "no 802.1Q here"})
	err := h.Apply(context.Background(), []hostnet.Network{{Name: "v", NIC: "eth0", VLAN: 10}}, nil)
	if err == nil || !strings.Contains(err.Error(), "VLAN 10 cannot be realised: no 802.1Q here") {
		t.Fatalf("err = %v", err)
	}
	if h.NoVLAN(context.Background()) != "no 802.1Q here" {
		t.Fatal("NoVLAN does not say why")
	}
	long := hostnet.NewSim(hostnet.SimOptions{NICs: []hostnet.NIC{{Name: "enp0s31f6abc", MTU: 1500}}})
	err = long.Apply(context.Background(), []hostnet.Network{{Name: "v", NIC: "enp0s31f6abc", VLAN: 1000}}, nil)
	if err == nil || !strings.Contains(err.Error(), "enp0s31f6abc.1000 is longer than 15 bytes") {
		t.Fatalf("long VLAN device name: err = %v", err)
	}
}

// The model: networks as realised, defaults filled in, the hypervisor's
// bridges in step, changes in place, removal.
func TestSimModel(t *testing.T) {
	h, hv := newSim(t, hostnet.SimOptions{})
	ctx := context.Background()
	want := []hostnet.Network{
		{Name: "ov", NIC: "eth1", VXLAN: &hostnet.VXLAN{VNI: 42, Remotes: []string{"198.19.0.3", "198.19.0.2", "198.19.0.3"}}},
		{Name: "plain"},
		{Name: "vl", NIC: "eth0", VLAN: 7, MTU: 9000},
	}
	if err := h.Apply(ctx, want, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := h.Networks(ctx)
	if len(got) != 3 {
		t.Fatalf("%+v", got)
	}
	ov := hostnet.Network{Name: "ov", NIC: "eth1", MTU: 1450, VXLAN: &hostnet.VXLAN{VNI: 42, Local: "198.19.0.1", Port: 4789, Remotes: []string{"198.19.0.2", "198.19.0.3"}}}
	if !got[0].Equal(ov) || got[1].MTU != 1500 || got[2].MTU != 9000 || got[2].VLAN != 7 {
		t.Fatalf("networks read back %v / %v / %v", got[0], got[1], got[2])
	}
	nics, _ := h.NICs(ctx)
	if nics[0].MTU != 9000 || nics[1].MTU != 1500 {
		t.Fatalf("NIC MTUs %d %d: eth0 raised for its VLAN, eth1 (an underlay) never", nics[0].MTU, nics[1].MTU)
	}
	caps, _ := hv.Capabilities(ctx)
	if !slices.Equal(caps.Bridges, []string{"ov", "plain", "vl"}) {
		t.Fatalf("hypervisor bridges %v", caps.Bridges)
	}
	// Again: nothing changes. Then the remotes follow the list.
	if err := h.Apply(ctx, want, nil); err != nil {
		t.Fatal(err)
	}
	if err := h.Apply(ctx, []hostnet.Network{{Name: "ov", NIC: "eth1", VXLAN: &hostnet.VXLAN{VNI: 43, Remotes: []string{"198.19.0.4"}}}}, []string{"plain", "gone"}); err != nil {
		t.Fatal(err)
	}
	got, _ = h.Networks(ctx)
	if len(got) != 2 || got[0].VXLAN.VNI != 43 || !slices.Equal(got[0].VXLAN.Remotes, []string{"198.19.0.4"}) {
		t.Fatalf("after the change: %+v", got)
	}
	if caps, _ := hv.Capabilities(ctx); !slices.Equal(caps.Bridges, []string{"ov", "vl"}) {
		t.Fatalf("hypervisor bridges %v", caps.Bridges)
	}
	// Two networks may not share a device.
	err := h.Apply(ctx, []hostnet.Network{{Name: "a", NIC: "eth0"}, {Name: "b", NIC: "eth0"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "host NIC eth0 is already used") {
		t.Fatalf("shared NIC: err = %v", err)
	}
}

// An overlay given only its local address finds its underlay NIC; a NIC
// the host gains can carry a network.
func TestSimUnderlayByAddress(t *testing.T) {
	h, _ := newSim(t, hostnet.SimOptions{})
	ctx := context.Background()
	if err := h.Apply(ctx, []hostnet.Network{{Name: "ov", VXLAN: &hostnet.VXLAN{VNI: 3, Local: "198.19.0.1"}}}, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.Networks(ctx); got[0].NIC != "eth1" || got[0].MTU != 1450 {
		t.Fatalf("%v: want the underlay eth1 found by its address", got[0])
	}
	if err := h.Apply(ctx, []hostnet.Network{{Name: "n", NIC: "eth2"}}, nil); err == nil {
		t.Fatal("eth2 accepted before the host has it")
	}
	h.SetNIC(hostnet.NIC{Name: "eth2", MTU: 9000, Up: true})
	if err := h.Apply(ctx, []hostnet.Network{{Name: "n", NIC: "eth2"}}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestVXLANDevice(t *testing.T) {
	if n := hostnet.VXLANDevice("ovl"); n != "vx-ovl" {
		t.Fatal(n)
	}
	a, b := hostnet.VXLANDevice("abcdefghijklmn"), hostnet.VXLANDevice("abcdefghijklmo")
	if len(a) > 15 || len(b) > 15 || a == b {
		t.Fatalf("%q %q: each at most 15 bytes, and distinct", a, b)
	}
}
