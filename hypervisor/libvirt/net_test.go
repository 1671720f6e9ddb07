package libvirt

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/vishvananda/netlink"

	"vwire.dev/vwire/hypervisor"
	"vwire.dev/vwire/hypervisor/internal/netnstest"
	"vwire.dev/vwire/internal/testenv"
)

func newTestHypervisor(t *testing.T) *Hypervisor {
	t.Helper()
	testenv.NeedLibvirt(t)
	h, err := New(Options{CallTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func code(err error) int {
	if he, ok := err.(*hypervisor.Error); ok {
		return he.Code
	}
	return -1
}

// vwireTC tells what vwire has on the host for a tap: its ifb, its mark,
// and whether the bridge's egress still carries vwire's filter.
func vwireTC(t *testing.T, tap, bridge string) (ifb, marked, bridgeFilter bool) {
	t.Helper()
	if _, err := netlink.LinkByName(ifbNameOf(tap)); err == nil {
		ifb = true
	}
	if l, err := netlink.LinkByName(tap); err == nil {
		marked = l.Attrs().Alias != ""
	}
	if b, err := netlink.LinkByName(bridge); err == nil {
		fs, _ := netlink.FilterList(b, netlink.HANDLE_MIN_EGRESS)
		bridgeFilter = len(fs) > 0
	}
	return
}

// ifbNameOf is tapnet's name for a tap's ifb (short tap names).
func ifbNameOf(tap string) string { return "vwq" + tap }

// TestNetFailureAtPlugUnplugsAndFails: when mirroring or limits cannot be
// applied to a plugged device's tap, the plug fails and the device is
// asked out again (VDSM's behaviour); at start, the domain is destroyed.
func TestNetFailureAtPlugUnplugsAndFails(t *testing.T) {
	h := newTestHypervisor(t)
	br := testenv.Bridge(t, "")
	id, _ := testenv.Domain(t, h, br)
	refused := hypervisor.Errorf(hypervisor.ErrSystem, "tapnet: refused by the test")
	h.netFault = func(string) error { return refused }
	n := hypervisor.NIC{Alias: "ua-" + uuid.NewString(), MAC: "02:00:00:bb:00:07", Model: "virtio", Bridge: br, LinkUp: true, PortMirroring: true}
	ctx := context.Background()
	if _, err := h.AttachNIC(ctx, id, n); err != refused {
		t.Fatalf("AttachNIC with a failing tapnet: %v, want the failure", err)
	}
	// No guest OS answers the unplug request; that it was made shows in
	// the ACPI hotplug controller: the slot's bit in PCI_DOWN (port
	// 0xae04) is set until a guest ejects the device.
	st, err := h.Domain(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	dev, ok := st.NICByAlias(n.Alias)
	if !ok {
		t.Fatal("the device is gone although no guest could release it")
	}
	var slot int
	if _, err := fmt.Sscanf(dev.PCIAddress, "0000:00:%x.0", &slot); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := testenv.Virsh(t, "qemu-monitor-command", id, "--hmp", "i /w 0xae04")
		// "portl[0xae04] = 0x00000008"
		var down int
		if _, err := fmt.Sscanf(out[strings.LastIndex(out, "=")+1:], " 0x%x", &down); err != nil {
			t.Fatalf("reading PCI_DOWN: %q: %v", out, err)
		}
		if down&(1<<slot) != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no unplug requested for slot %d (PCI_DOWN %#x) after the failed plug", slot, down)
		}
		time.Sleep(100 * time.Millisecond)
	}

	other := uuid.NewString()
	_, err = h.CreateDomain(ctx, hypervisor.Domain{ID: other, Name: "vwt-" + other[:8], MemoryMiB: 64, NICs: []hypervisor.NIC{n}})
	if err != refused {
		h.DestroyDomain(ctx, other)
		t.Fatalf("CreateDomain with a failing tapnet: %v, want the failure", err)
	}
	if _, err := h.Domain(ctx, other); code(err) != hypervisor.ErrNoDomain {
		t.Fatalf("the domain whose mirroring failed still exists: %v", err)
	}
}

// TestDomainThatDiesLeavesNothing: QEMU killed behind libvirt's back (a
// crash): its taps go, and tapnet's watcher takes vwire's filters off the
// bridge and deletes the tap's ifb.
func TestDomainThatDiesLeavesNothing(t *testing.T) {
	h := newTestHypervisor(t)
	br := testenv.Bridge(t, "")
	id := uuid.NewString()
	name := "vwt-" + id[:8]
	n := hypervisor.NIC{Alias: "ua-" + uuid.NewString(), MAC: "02:00:00:bb:00:08", Model: "virtio", Bridge: br, LinkUp: true,
		PortMirroring: true, Bandwidth: &hypervisor.Bandwidth{Outbound: &hypervisor.Rate{Average: 125}}}
	ctx := context.Background()
	st, err := h.CreateDomain(ctx, hypervisor.Domain{ID: id, Name: name, MemoryMiB: 64, NICs: []hypervisor.NIC{n}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.DestroyDomain(context.Background(), id) })
	tap := st.NICs[0].Tap
	if ifb, marked, bf := vwireTC(t, tap, br); !ifb || !marked || !bf {
		t.Fatalf("after start: ifb %v, mark %v, bridge filter %v; want all", ifb, marked, bf)
	}
	raw, err := os.ReadFile("/run/libvirt/qemu/" + name + ".pid")
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		ifb, _, bf := vwireTC(t, tap, br)
		_, err := netlink.LinkByName(tap)
		if !ifb && !bf && err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("15 s after QEMU died: ifb %v, bridge filter %v, tap gone %v", ifb, bf, err != nil)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFilterRefusedWithoutBinaries: on a host without ebtables, a device
// with a filter is refused naming the binary, one without is not, and the
// capabilities say why.
func TestFilterRefusedWithoutBinaries(t *testing.T) {
	testenv.NeedLibvirt(t)
	orig := lookPath
	lookPath = func(name string) (string, error) {
		if name == "ebtables" {
			return "", os.ErrNotExist
		}
		return orig(name)
	}
	h, err := New(Options{CallTimeout: 30 * time.Second})
	lookPath = orig
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	caps, err := h.Capabilities(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if caps.Filters || !strings.Contains(caps.FiltersReason, "ebtables") {
		t.Errorf("capabilities: filters %v (%q), want none for want of ebtables", caps.Filters, caps.FiltersReason)
	}
	br := testenv.Bridge(t, "")
	id, plain := testenv.Domain(t, h, br)
	n := hypervisor.NIC{Alias: "ua-" + uuid.NewString(), MAC: "02:00:00:bb:00:09", Model: "virtio", Bridge: br, LinkUp: true, Filter: "vdsm-no-mac-spoofing"}
	_, err = h.AttachNIC(context.Background(), id, n)
	if code(err) != hypervisor.ErrConfigUnsupported || !strings.Contains(err.Error(), "ebtables") {
		t.Fatalf("AttachNIC with a filter and no ebtables: %v", err)
	}
	plain.Filter = "vdsm-no-mac-spoofing"
	if _, err := h.UpdateNIC(context.Background(), id, plain); code(err) != hypervisor.ErrConfigUnsupported {
		t.Fatalf("UpdateNIC to a filter with no ebtables: %v", err)
	}
	plain.Filter, plain.LinkUp = "", false
	if _, err := h.UpdateNIC(context.Background(), id, plain); err != nil {
		t.Fatalf("UpdateNIC without a filter: %v", err)
	}
}

// TestMirroringReachesTheTap: with real frames between two other ports of
// the bridge, a domain's mirroring device gets copies on its tap once
// mirroring is switched on live, and none once it is off again. There is
// no guest OS to read them: QEMU leaves them in the tap's queue (1000
// frames) and the tap drops the rest, which libvirt's counters show as
// the guest's rx drops.
func TestMirroringReachesTheTap(t *testing.T) {
	h := newTestHypervisor(t)
	root := netnstest.Root(t)
	suffix := strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	br := root.Bridge("vwm" + suffix).Attrs().Name
	a := root.Port("vwa"+suffix, br, "198.18.10.1")
	b := root.Port("vwb"+suffix, br, "198.18.10.2")
	id := uuid.NewString()
	n := hypervisor.NIC{Alias: "ua-" + uuid.NewString(), MAC: "02:00:00:bb:00:0a", Model: "virtio", Bridge: br, LinkUp: true}
	ctx := context.Background()
	if _, err := h.CreateDomain(ctx, hypervisor.Domain{ID: id, Name: "vwt-" + id[:8], MemoryMiB: 64, NICs: []hypervisor.NIC{n}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.DestroyDomain(context.Background(), id) })
	reached := func(frames int) int64 {
		c0, err := h.InterfaceCounters(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		a.Send(b, frames)
		c1, err := h.InterfaceCounters(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return c1[n.Alias].RxPackets + c1[n.Alias].RxDrops - c0[n.Alias].RxPackets - c0[n.Alias].RxDrops
	}
	a.Send(b, 1) // the bridge learns where b is: no flooding to the tap
	if got := reached(2000); got > 20 {
		t.Fatalf("without mirroring the tap got %d frames of 2000 between two other ports", got)
	}
	n.PortMirroring = true
	if st, err := h.UpdateNIC(ctx, id, n); err != nil || !st.PortMirroring {
		t.Fatalf("mirroring on: %+v, %v", st, err)
	}
	// The first 1000 copies fill the tap's queue, uncounted.
	if got := reached(3000); got < 1500 {
		t.Fatalf("with mirroring the tap counted %d of 3000 frames between two other ports, want ≥1500 (3000 less its queue)", got)
	}
	n.PortMirroring = false
	if _, err := h.UpdateNIC(ctx, id, n); err != nil {
		t.Fatal(err)
	}
	if got := reached(2000); got > 20 {
		t.Fatalf("after mirroring off the tap still got %d frames", got)
	}
}
