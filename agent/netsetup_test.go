package agent_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/hypervisor"
	"vwire.dev/vwire/hypervisor/hostnet"
	"vwire.dev/vwire/hypervisor/sim"
)

// startNet is an agent on the simulated hypervisor with an explicit
// simulated host network (o tunes it; its bridges are the hypervisor's).
func startNet(t *testing.T, o hostnet.SimOptions) (*agent.Client, *sim.Sim, *hostnet.Sim, *agent.Server) {
	t.Helper()
	s := sim.New("red")
	o.Bridges = s
	hn := hostnet.NewSim(o)
	as := agent.NewServer(s, agent.Options{HostNet: hn})
	srv := httptest.NewServer(as)
	c := agent.NewClient(srv.URL, nil, 5*time.Second)
	t.Cleanup(func() { c.Close(); as.Close(); srv.Close() })
	return c, s, hn, as
}

func netNames(t *testing.T, c *agent.Client) (bridges, nets []string) {
	t.Helper()
	caps, err := c.Capabilities(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range caps.Networks {
		nets = append(nets, n.Name)
	}
	return caps.Bridges, nets
}

// The old form (names, remove or nothing) still makes plain bridges, which
// a VM's tap can join, and removes them.
func TestSetupNetworksOldForm(t *testing.T) {
	c, s, _, _ := startNet(t, hostnet.SimOptions{})
	ctx := context.Background()
	if err := c.SetupNetworks(ctx, []string{"green"}, nil); err != nil {
		t.Fatal(err)
	}
	bridges, nets := netNames(t, c)
	if !slices.Equal(bridges, []string{"green", "red"}) || !slices.Equal(nets, []string{"green"}) {
		t.Fatalf("bridges %v networks %v, want green,red and green", bridges, nets)
	}
	dev := agent.Device{Type: "interface", Device: "bridge", Alias: "ua-n1", MAC: "02:00:00:00:00:01", Model: "virtio", Network: "green", LinkActive: true}
	if _, err := c.CreateVM(ctx, agent.VMParams{VMID: "v1", VMName: "vm1", MemSize: 64, Devices: []agent.Device{dev}}); err != nil {
		t.Fatalf("a VM on the new bridge: %v", err)
	}
	if err := c.SetupNetworks(ctx, nil, []string{"green"}); err != nil {
		t.Fatal(err)
	}
	if caps, _ := s.Capabilities(ctx); slices.Contains(caps.Bridges, "green") {
		t.Fatalf("green still a bridge of the hypervisor: %v", caps.Bridges)
	}
	// Removing what vwire did not make (red was the host's) leaves it.
	if err := c.SetupNetworks(ctx, nil, []string{"red"}); err != nil {
		t.Fatal(err)
	}
	if bridges, _ := netNames(t, c); !slices.Equal(bridges, []string{"red"}) {
		t.Fatalf("bridges %v, want red left alone", bridges)
	}
}

// The full form realises VLAN and overlay networks, reports them as they
// are, and refuses with the host's reasons.
func TestConfigureNetworks(t *testing.T) {
	c, _, _, _ := startNet(t, hostnet.SimOptions{})
	ctx := context.Background()
	p := agent.ConfigureNetworksParams{Networks: map[string]agent.NetworkSpec{
		"vl": {MTU: 9000, Nic: "eth0", VLAN: 100},
		"ov": {Nic: "eth1", VXLAN: &agent.VXLANAttrs{VNI: 7, Remotes: []string{"198.19.0.3", "198.19.0.1", "198.19.0.2"}}},
	}}
	if err := c.ConfigureNetworks(ctx, p); err != nil {
		t.Fatal(err)
	}
	caps, err := c.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(caps.Networks) != 2 {
		t.Fatalf("networks %+v", caps.Networks)
	}
	ov, vl := caps.Networks[0], caps.Networks[1]
	// The host's own address (198.19.0.1, eth1's) is not a remote.
	if ov.Name != "ov" || ov.MTU != 1450 || ov.Nic != "eth1" || ov.VXLAN == nil || ov.VXLAN.VNI != 7 || ov.VXLAN.Local != "198.19.0.1" ||
		ov.VXLAN.Port != 4789 || !slices.Equal(ov.VXLAN.Remotes, []string{"198.19.0.2", "198.19.0.3"}) {
		t.Fatalf("overlay reads back %+v %+v", ov, ov.VXLAN)
	}
	if vl.Name != "vl" || vl.MTU != 9000 || vl.Nic != "eth0" || vl.VLAN != 100 {
		t.Fatalf("VLAN network reads back %+v", vl)
	}
	if caps.NICs[0].Name != "eth0" || caps.NICs[0].MTU != 9000 || caps.NoVLAN != "" {
		t.Fatalf("eth0 %+v (its MTU raised to the VLAN's), noVlan %q", caps.NICs[0], caps.NoVLAN)
	}
	for _, tc := range []struct {
		spec agent.NetworkSpec
		code int
		want string
	}{
		{agent.NetworkSpec{Nic: "eth9"}, agent.CodeSetupNetworks, "eth9 is not a host NIC"},
		{agent.NetworkSpec{Nic: "eth1", MTU: 1500, VXLAN: &agent.VXLANAttrs{VNI: 8}}, agent.CodeSetupNetworks, "at most 1450"},
		{agent.NetworkSpec{Nic: "eth1", VXLAN: &agent.VXLANAttrs{VNI: 7}}, agent.CodeSetupNetworks, "already used by network ov"},
		{agent.NetworkSpec{Nic: "eth0", VLAN: 100}, agent.CodeSetupNetworks, "already used by network vl"},
		{agent.NetworkSpec{MTU: 67}, agent.CodeInvalidParams, "mtu is out of range"},
		{agent.NetworkSpec{Nic: "eth0", VLAN: 4095}, agent.CodeInvalidParams, "vlan is out of range"},
		{agent.NetworkSpec{Nic: "eth0", VXLAN: &agent.VXLANAttrs{VNI: 9, Remotes: []string{"nowhere"}}}, agent.CodeInvalidParams, "not an IPv4 address"},
	} {
		err := c.ConfigureNetworks(ctx, agent.ConfigureNetworksParams{Networks: map[string]agent.NetworkSpec{"bad": tc.spec}})
		if rpcCode(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want code %d with %q", tc.spec, err, tc.code, tc.want)
		}
	}
	if _, nets := netNames(t, c); !slices.Equal(nets, []string{"ov", "vl"}) {
		t.Fatalf("refusals changed the networks: %v", nets)
	}
}

// A host without 802.1Q refuses a VLAN network with its reason, and says
// so in its capabilities.
func TestConfigureNetworksNoVLAN(t *testing.T) {
	c, _, _, _ := startNet(t, hostnet.SimOptions{NoVLAN: "the kernel has no 802.1Q VLAN support"})
	ctx := context.Background()
	err := c.ConfigureNetworks(ctx, agent.ConfigureNetworksParams{Networks: map[string]agent.NetworkSpec{"vl": {Nic: "eth0", VLAN: 100}}})
	if rpcCode(err) != agent.CodeSetupNetworks || !strings.Contains(err.Error(), "the kernel has no 802.1Q VLAN support") {
		t.Fatalf("err = %v, want the missing feature named", err)
	}
	caps, err := c.Capabilities(ctx)
	if err != nil || caps.NoVLAN != "the kernel has no 802.1Q VLAN support" {
		t.Fatalf("noVlan = %q, %v", caps.NoVLAN, err)
	}
}

// With the connectivity check, a change the engine does not confirm goes
// back to what it was before (VDSM's rollback); one it confirms stays.
func TestConnectivityCheck(t *testing.T) {
	c, s, _, _ := startNet(t, hostnet.SimOptions{})
	ctx := context.Background()
	base := agent.ConfigureNetworksParams{Networks: map[string]agent.NetworkSpec{"ov": {Nic: "eth1", VXLAN: &agent.VXLANAttrs{VNI: 7}}}}
	if err := c.ConfigureNetworks(ctx, base); err != nil {
		t.Fatal(err)
	}
	checked := &agent.SetupOptions{ConnectivityCheck: true, ConnectivityTimeout: 1}
	change := agent.ConfigureNetworksParams{Networks: map[string]agent.NetworkSpec{
		"ov":  {Nic: "eth1", VXLAN: &agent.VXLANAttrs{VNI: 8, Remotes: []string{"198.19.0.9"}}},
		"new": {Nic: "eth0"},
	}, Options: checked}
	if err := c.ConfigureNetworks(ctx, change); err != nil {
		t.Fatal(err)
	}
	caps, err := c.Capabilities(ctx)
	if err != nil || len(caps.Networks) != 2 || caps.Networks[1].VXLAN.VNI != 8 {
		t.Fatalf("before the timeout: %+v, %v", caps.Networks, err)
	}
	// A second unconfirmed change: the rollback still goes back to the
	// state before the first.
	if err := c.ConfigureNetworks(ctx, agent.ConfigureNetworksParams{Networks: map[string]agent.NetworkSpec{
		"ov": {Nic: "eth1", VXLAN: &agent.VXLANAttrs{VNI: 9}}}, Options: checked}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		caps, err = c.Capabilities(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(caps.Networks) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not rolled back: %+v", caps.Networks)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ov := caps.Networks[0]; ov.Name != "ov" || ov.VXLAN.VNI != 7 || len(ov.VXLAN.Remotes) != 0 {
		t.Fatalf("rolled back to %+v %+v, want ov on VNI 7 without remotes", ov, ov.VXLAN)
	}
	if hv, _ := s.Capabilities(ctx); slices.Contains(hv.Bridges, "new") {
		t.Fatalf("the hypervisor still has the rolled back bridge: %v", hv.Bridges)
	}

	// Confirmed in time: kept, past the timeout.
	if err := c.ConfigureNetworks(ctx, change); err != nil {
		t.Fatal(err)
	}
	if err := c.SetSafeNetworkConfig(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if _, nets := netNames(t, c); !slices.Equal(nets, []string{"new", "ov"}) {
		t.Fatalf("confirmed change not kept: %v", nets)
	}
}

// An unconfirmed change does not outlive the agent.
func TestConnectivityCheckRolledBackOnClose(t *testing.T) {
	c, _, hn, as := startNet(t, hostnet.SimOptions{})
	ctx := context.Background()
	if err := c.ConfigureNetworks(ctx, agent.ConfigureNetworksParams{Networks: map[string]agent.NetworkSpec{"new": {Nic: "eth0"}},
		Options: &agent.SetupOptions{ConnectivityCheck: true, ConnectivityTimeout: 600}}); err != nil {
		t.Fatal(err)
	}
	as.Close()
	if nets, _ := hn.Networks(ctx); len(nets) != 0 {
		t.Fatalf("after Close: %+v", nets)
	}
}

// A change the host fails half-way (not a refusal) is undone.
func TestConfigureNetworksFailureRestores(t *testing.T) {
	c, _, hn, _ := startNet(t, hostnet.SimOptions{})
	ctx := context.Background()
	if err := c.ConfigureNetworks(ctx, agent.ConfigureNetworksParams{Networks: map[string]agent.NetworkSpec{"a": {Nic: "eth0", MTU: 1400}}}); err != nil {
		t.Fatal(err)
	}
	hn.FailNextApply(errors.New("netlink: device or resource busy"))
	err := c.ConfigureNetworks(ctx, agent.ConfigureNetworksParams{Networks: map[string]agent.NetworkSpec{"a": {Remove: true}, "b": {Nic: "eth1"}}})
	if rpcCode(err) != agent.CodeSetupNetworks || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("err = %v", err)
	}
	if nets, _ := hn.Networks(ctx); len(nets) != 1 || nets[0].Name != "a" || nets[0].MTU != 1400 {
		t.Fatalf("after the failure: %+v", nets)
	}
}

// An agent without host networking (libvirt without hostnet) refuses the
// network verbs with its reason.
func TestSetupNetworksUnmanaged(t *testing.T) {
	as := agent.NewServer(noBridges{sim.New()}, agent.Options{})
	srv := httptest.NewServer(as)
	c := agent.NewClient(srv.URL, nil, 5*time.Second)
	t.Cleanup(func() { c.Close(); as.Close(); srv.Close() })
	for _, err := range []error{c.SetupNetworks(context.Background(), []string{"x"}, nil), c.SetSafeNetworkConfig(context.Background())} {
		if rpcCode(err) != agent.CodeSetupNetworks || !strings.Contains(err.Error(), "does not manage host bridges") {
			t.Fatalf("err = %v", err)
		}
	}
}

// noBridges is a hypervisor that does not manage bridges (as libvirt).
type noBridges struct{ hypervisor.Hypervisor }
