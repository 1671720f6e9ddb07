package app_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/app"
	"vwire.dev/vwire/hypervisor"
	"vwire.dev/vwire/hypervisor/hostnet"
	"vwire.dev/vwire/hypervisor/sim"
)

// needRoot fails under CI=true and skips elsewhere when not root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("host networking tests need root under CI=true")
		}
		t.Skip("host networking tests need root (network namespaces)")
	}
}

// makeNS makes a named network namespace (/run/netns/vwire-app-<pid>-tag,
// as ip netns add does), deleted at cleanup, and a netlink handle in it.
func makeNS(t *testing.T, tag string) (string, *netlink.Handle) {
	t.Helper()
	needRoot(t)
	name := fmt.Sprintf("vwire-app-%d-%s", os.Getpid(), tag)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread, left in the new namespace, ends with the goroutine
		h, err := netns.NewNamed(name)
		if err == nil {
			h.Close()
		}
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netns.DeleteNamed(name) })
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return name, h
}

// up addresses (ip/24, "" none) and brings up a link.
func up(t *testing.T, h *netlink.Handle, name, ip string) {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	if ip != "" {
		addr, _ := netlink.ParseAddr(ip + "/24")
		if err := h.AddrAdd(l, addr); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
}

// namedNS is a namespace holding the veth pair eth1 (198.18.5.1/24) and
// peer1.
func namedNS(t *testing.T) string {
	t.Helper()
	name, h := makeNS(t, "x")
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth1"}, PeerName: "peer1"}); err != nil {
		t.Fatal(err)
	}
	up(t, h, "eth1", "198.18.5.1")
	up(t, h, "peer1", "")
	return name
}

// A second host as the tests run it: a simulated hypervisor with
// its host networking real, in a namespace of its own. The network is made
// there (not in the agent's namespace), a VM's tap may join it, and an
// unconfirmed change does not outlive the agent.
func TestAgentHostNetworkInNamespace(t *testing.T) {
	name := namedNS(t)
	m := &app.AgentMain{Listen: "127.0.0.1:0", Hypervisor: sim.New(), HostNetwork: "linux", NetNS: name, HostNICs: []string{"eth1"}}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	c := agent.NewClient("http://"+m.Addr(), nil, 5*time.Second)
	defer c.Close()
	ctx := context.Background()
	ov := agent.NetworkSpec{Nic: "eth1", VXLAN: &agent.VXLANAttrs{VNI: 300, Remotes: []string{"198.18.5.2"}}}
	if err := c.ConfigureNetworks(ctx, agent.ConfigureNetworksParams{Networks: map[string]agent.NetworkSpec{"ov": ov}}); err != nil {
		t.Fatal(err)
	}
	caps, err := c.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(caps.NICs) != 1 || caps.NICs[0].Name != "eth1" || caps.NICs[0].Addr != "198.18.5.1/24" || caps.NICs[0].Speed != 10000 {
		t.Fatalf("host NICs %+v", caps.NICs)
	}
	if len(caps.Networks) != 1 || caps.Networks[0].VXLAN == nil || caps.Networks[0].VXLAN.Local != "198.18.5.1" || !slices.Contains(caps.Bridges, "ov") {
		t.Fatalf("networks %+v, bridges %v", caps.Networks, caps.Bridges)
	}
	if caps.NoVLAN != "" {
		t.Logf("this kernel: %s", caps.NoVLAN)
	}
	if _, err := netlink.LinkByName("ov"); err == nil {
		t.Fatal("the network was made in the agent's own namespace")
	}
	dev := agent.Device{Type: "interface", Device: "bridge", Alias: "ua-n1", MAC: "02:00:00:00:00:01", Model: "virtio", Network: "ov", LinkActive: true}
	if _, err := c.CreateVM(ctx, agent.VMParams{VMID: "v1", VMName: "vm1", MemSize: 64, Devices: []agent.Device{dev}}); err != nil {
		t.Fatalf("a VM on the network: %v", err)
	}
	ov.VXLAN = &agent.VXLANAttrs{VNI: 301}
	if err := c.ConfigureNetworks(ctx, agent.ConfigureNetworksParams{Networks: map[string]agent.NetworkSpec{"ov": ov},
		Options: &agent.SetupOptions{ConnectivityCheck: true, ConnectivityTimeout: 600}}); err != nil {
		t.Fatal(err)
	}
	m.Close()
	l, err := hostnet.NewLinuxNamed(name, hostnet.LinuxOptions{NICs: []string{"eth1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	nets, err := l.Networks(ctx)
	if err != nil || len(nets) != 1 || nets[0].VXLAN.VNI != 300 || len(nets[0].VXLAN.Remotes) != 1 {
		t.Fatalf("after the agent stopped: %v, %v; want the confirmed VNI 300 back", nets, err)
	}
}

// Without a choice, the simulated hypervisor gets simulated host networking.
func TestAgentHostNetworkDefaultSim(t *testing.T) {
	m := &app.AgentMain{Listen: "127.0.0.1:0", Hypervisor: sim.New()}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	c := agent.NewClient("http://"+m.Addr(), nil, 5*time.Second)
	defer c.Close()
	caps, err := c.Capabilities(context.Background())
	if err != nil || len(caps.NICs) != 2 || caps.NICs[0].Name != "eth0" {
		t.Fatalf("capabilities %+v, %v", caps, err)
	}
	bad := &app.AgentMain{Listen: "127.0.0.1:0", Hypervisor: sim.New(), NetNS: "x"}
	if err := bad.Start(); err == nil {
		bad.Close()
		t.Fatal("--netns with simulated host networking accepted")
	}
	real := &app.AgentMain{Listen: "127.0.0.1:0", Hypervisor: noBridges{sim.New()}, NetNS: "x"}
	if err := real.Start(); err == nil || !strings.Contains(err.Error(), "--netns is for a simulated hypervisor") {
		real.Close()
		t.Fatalf("--netns with a real hypervisor: err = %v", err)
	}
}

// noBridges is a hypervisor that manages no bridges (as libvirt).
type noBridges struct{ hypervisor.Hypervisor }
