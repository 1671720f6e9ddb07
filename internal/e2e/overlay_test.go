package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire/app"
	"vwire.dev/vwire/hypervisor/sim"
	"vwire.dev/vwire/internal/testenv"
)

// Addresses of TestOverlayAcrossHosts: the underlay between the two hosts,
// and the overlay's own subnet (never routed on the machine).
const (
	underA, underB      = "198.18.60.1", "198.18.60.2"
	ovlGuest            = "198.18.61.10"
	ovlPeer, otherPeer  = "198.18.61.2", "198.18.61.3"
	vxlanPort           = 4789
	segmentA, segmentB  = 100, 300
	otherSegment        = 200
	overlayPingPatience = 30 * time.Second
)

// ipCmd runs ip(8): the test builds its second host's world with it (the
// product itself uses netlink).
func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestOverlayAcrossHosts is issue 16's proof from a guest: an overlay
// network (a VXLAN segment) attached with setupnetworks on the libvirt host
// and on a second host — a second vwire-agent whose host networking is
// real inside a network namespace of its own (its hypervisor simulated) —
// carries the test guest's traffic to a peer behind the second host, and
// not to a peer of another overlay there; its segment changed while the
// guest runs, the guest reaches the peer again, over the new segment.
func TestOverlayAcrossHosts(t *testing.T) {
	d := deploy(t, time.Second)
	sfx := fmt.Sprint(time.Now().UnixNano() % 1e5)
	nsB, nsP, nsQ := "vwt-hb-"+sfx, "vwt-hp-"+sfx, "vwt-hq-"+sfx
	nicA, nicB := "vwua"+sfx, "vwub"+sfx
	for _, ns := range []string{nsB, nsP, nsQ} {
		ipCmd(t, "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	// The underlay: a veth between the two hosts.
	ipCmd(t, "link", "add", nicA, "type", "veth", "peer", "name", nicB, "netns", nsB)
	t.Cleanup(func() { exec.Command("ip", "link", "del", nicA).Run() })
	addrBridge(t, nicA, underA+"/24")
	ipCmd(t, "link", "set", nicA, "up")
	ipCmd(t, "-n", nsB, "addr", "add", underB+"/24", "dev", nicB)
	ipCmd(t, "-n", nsB, "link", "set", nicB, "up")
	ipCmd(t, "-n", nsB, "link", "set", "lo", "up")

	// The second host, enrolled like the first.
	hb := d.addHost("hb"+sfx, 1)
	hbID := idOf(hb, true)
	agB := &app.AgentMain{Listen: "127.0.0.1:0", Hypervisor: sim.New(), HostNetwork: "linux", NetNS: nsB, HostNICs: []string{nicB},
		StateDir: t.TempDir(), EnrollURL: d.eng.BaseURL(), EnrollToken: enrolmentToken(d.api, hbID), EngineCA: d.eng.CAFile()}
	if err := agB.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agB.Close() })
	d.setHostPort(hbID, agB.Port())
	waitUp(d.api, hbID)
	d.refresh(d.hostID)

	// Two overlays: the guest's, and another on a segment of its own.
	overlay := func(name string, vni int) (netID, profile string) {
		netID, profile = d.addNetwork(d.dc, d.cluster, name)
		expectOK(d.api, 200, "segment of "+name, func(ctx context.Context) error { return d.SetNetworkVXLAN(ctx, netID, vni) })
		return netID, profile
	}
	ovl, other := "ovl"+sfx, "oth"+sfx
	// What the first host's agent made in this machine's namespace goes
	// with the test (the second host's goes with its namespace).
	t.Cleanup(func() {
		for _, l := range []string{ovl, other, "vx-" + ovl, "vx-" + other} {
			exec.Command("ip", "link", "del", l).Run()
		}
	})
	ovlID, ovlProfile := overlay(ovl, segmentA)
	otherID, _ := overlay(other, otherSegment)
	attach := func(host, nic string, nets ...string) {
		var as []*ovirtsdk4.NetworkAttachment
		for _, n := range nets {
			as = append(as, ovirtsdk4.NewNetworkAttachmentBuilder().
				Network(ovirtsdk4.NewNetworkBuilder().Id(n).MustBuild()).
				HostNic(ovirtsdk4.NewHostNicBuilder().Name(nic).MustBuild()).MustBuild())
		}
		expectOK(d.api, 200, "setupnetworks on "+host, func(ctx context.Context) error {
			return d.SetupNetworks(ctx, host, as, nil, 30*time.Second)
		})
	}
	attach(d.hostID, nicA, ovlID, otherID)
	attach(hbID, nicB, ovlID, otherID)

	// A VLAN network, where the kernel has no 802.1Q (this CI machine's):
	// refused with the host's reason, nothing attached. Where it has, it
	// is realised (hostnet's TestLinuxVLAN proves that half).
	{
		vlanNet := expect(d.api, 201, "add VLAN network", func(ctx context.Context) (*ovirtsdk4.Network, error) {
			return d.AddNetwork(ctx, ovirtsdk4.NewNetworkBuilder().Name("vl"+sfx).
				DataCenter(ovirtsdk4.NewDataCenterBuilder().Id(d.dc).MustBuild()).
				Vlan(ovirtsdk4.NewVlanBuilder().Id(10).MustBuild()).MustBuild())
		})
		vlanID := idOf(vlanNet, true)
		expectOK(d.api, 201, "attach VLAN network", func(ctx context.Context) error { return d.AttachNetwork(ctx, d.cluster, vlanID) })
		err := d.SetupNetworks(context.Background(), d.hostID, []*ovirtsdk4.NetworkAttachment{ovirtsdk4.NewNetworkAttachmentBuilder().
			Network(ovirtsdk4.NewNetworkBuilder().Id(vlanID).MustBuild()).
			HostNic(ovirtsdk4.NewHostNicBuilder().Name(nicA).MustBuild()).MustBuild()}, nil, 0)
		if kernelLacks8021Q(nicA) {
			status, detail := faultOf(err)
			if err == nil || status < 400 || status >= 500 || !strings.Contains(detail, "802.1Q") {
				t.Errorf("a VLAN network on a host without 802.1Q: %s", describe(err))
			}
			t.Logf("VLAN network refused: %d %s", status, detail)
		} else if err != nil {
			t.Errorf("a VLAN network on a host with 802.1Q: %s", describe(err))
		}
	}

	// The peers, behind the second host: one on each overlay's bridge.
	peer := func(ns, port, bridge, addr string) {
		ipCmd(t, "-n", nsB, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
		ipCmd(t, "-n", nsB, "link", "set", port, "master", bridge, "up")
		ipCmd(t, "-n", ns, "addr", "add", addr+"/24", "dev", "eth0")
		ipCmd(t, "-n", ns, "link", "set", "eth0", "up")
	}
	peer(nsP, "pp"+sfx, ovl, ovlPeer)
	peer(nsQ, "pq"+sfx, other, otherPeer)

	vm := d.vm("vwt-overlay")
	n := d.addNIC(vm, vnic("nic1", ovlProfile))
	mac := macOf(n)
	g := d.bootGuestWith(t, vm, guestCmdline(map[string][]string{mac: {ovlGuest + "/24"}}, []string{ovlPeer, otherPeer}))
	c := g.console
	c.Wait(t, overlayPingPatience, ovlPeer+" answering across the overlay and "+otherPeer+" not", func(l testenv.GuestLine) bool {
		return l.Pings[ovlPeer] == "ok" && l.Pings[otherPeer] == "no"
	})
	_, pciBefore, _ := d.tap(vm, mac)

	// The segment changes under the running guest: frames on the underlay
	// carry the new VNI, and the guest reaches its peer again.
	var seen atomic.Int64
	stop := captureVNI(t, nicA, underB, segmentB, &seen)
	defer stop()
	c.Mark()
	t0 := time.Now()
	expectOK(d.api, 200, "new segment", func(ctx context.Context) error { return d.SetNetworkVXLAN(ctx, ovlID, segmentB) })
	answered := time.Since(t0)
	var newSegment time.Duration
	c.Wait(t, overlayPingPatience, ovlPeer+" answering over segment "+fmt.Sprint(segmentB), func(l testenv.GuestLine) bool {
		if seen.Load() == 0 || l.Pings[ovlPeer] != "ok" {
			return false
		}
		newSegment = time.Since(t0)
		return true
	})
	t.Logf("segment %d → %d with the guest running: the API answered in %v; the guest reported its peer answering, with VNI %d frames from the second host on the underlay, %v after the call began (console line interval 0.2 s included)",
		segmentA, segmentB, answered.Round(time.Millisecond), segmentB, newSegment.Round(time.Millisecond))
	l := c.Wait(t, 5*time.Second, "a status line", func(testenv.GuestLine) bool { return true })
	if l.Pings[otherPeer] != "no" {
		t.Errorf("the other overlay's peer answered after the change: %s", l.Raw)
	}
	if _, pci, _ := d.tap(vm, mac); pci != pciBefore {
		t.Errorf("the vNIC's PCI address changed: %s → %s", pciBefore, pci)
	}
	// The second host leaves the overlay: the first host's forwarding
	// entries follow the engine's host list, and the guest loses its peer.
	fdbHasB := func() bool {
		out, _ := exec.Command("bridge", "fdb", "show", "dev", "vx-"+ovl).CombinedOutput()
		return strings.Contains(string(out), "dst "+underB)
	}
	if !fdbHasB() {
		t.Fatalf("the first host has no forwarding entry to the second for %s", ovl)
	}
	var leave string
	for _, a := range expect(d.api, 200, "attachments of hb", func(ctx context.Context) ([]*ovirtsdk4.NetworkAttachment, error) {
		return d.NetworkAttachments(ctx, hbID)
	}) {
		if n, ok := a.Network(); ok && idOf(n, true) == ovlID {
			leave = idOf(a, true)
		}
	}
	expectOK(d.api, 200, "the second host leaves "+ovl, func(ctx context.Context) error {
		return d.SetupNetworks(ctx, hbID, nil, []string{leave}, 0)
	})
	for deadline := time.Now().Add(10 * time.Second); fdbHasB(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first host kept its forwarding entry to the second host after it left the overlay")
		}
	}
	c.Mark()
	c.Wait(t, overlayPingPatience, ovlPeer+" no longer answering", func(l testenv.GuestLine) bool { return l.Pings[ovlPeer] == "no" })

	for _, h := range []string{d.hostID, hbID} {
		for _, a := range expect(d.api, 200, "attachments", func(ctx context.Context) ([]*ovirtsdk4.NetworkAttachment, error) {
			return d.NetworkAttachments(ctx, h)
		}) {
			if in, ok := a.InSync(); !ok || !in {
				t.Errorf("host %s: an attachment is out of sync after the change", h)
			}
		}
	}
}

// captureVNI counts, in the background until stopped, the VXLAN frames on
// dev whose VNI is vni and that come from the host at from: the far end
// sending on the new segment, so that the peer's replies travel on it.
func captureVNI(t *testing.T, dev, from string, vni int, seen *atomic.Int64) (stop func()) {
	t.Helper()
	fd := packetSocket(t, dev)
	src := net.ParseIP(from).To4()
	var done atomic.Bool
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		buf := make([]byte, 2048)
		for !done.Load() {
			n, _, err := syscall.Recvfrom(fd, buf, 0)
			// Ethernet (14) + IPv4 (20, no options from the kernel's
			// VXLAN) + UDP (8) + VXLAN (8).
			if err != nil || n < 50 || binary.BigEndian.Uint16(buf[12:14]) != 0x0800 || buf[23] != syscall.IPPROTO_UDP {
				continue
			}
			ihl := int(buf[14]&0x0f) * 4
			udp := 14 + ihl
			if n < udp+16 || binary.BigEndian.Uint16(buf[udp+2:]) != vxlanPort || !net.IP(buf[26:30]).Equal(src) {
				continue
			}
			got := int(buf[udp+12])<<16 | int(buf[udp+13])<<8 | int(buf[udp+14])
			if got == vni {
				seen.Add(1)
			}
		}
	}()
	return func() {
		done.Store(true)
		<-finished
		syscall.Close(fd)
	}
}

// kernelLacks8021Q tells whether this kernel cannot make VLAN devices (on
// the veth nic): the module is neither loaded nor built in.
func kernelLacks8021Q(nic string) bool {
	err := exec.Command("ip", "link", "add", "link", nic, "name", "vwt-vlanprobe", "type", "vlan", "id", "4000").Run()
	if err == nil {
		exec.Command("ip", "link", "del", "vwt-vlanprobe").Run()
		return false
	}
	return true
}
