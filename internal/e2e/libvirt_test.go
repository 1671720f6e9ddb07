package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire"
	"vwire.dev/vwire/client"
	"vwire.dev/vwire/internal/testenv"
)

// TestLinkingOnLibvirt is issue 3's "Done when": every change through the
// REST API, every check on the host.
func TestLinkingOnLibvirt(t *testing.T) {
	d := deploy(t, time.Hour)
	netA, profA := d.network(true)
	netB, profB := d.network(true)
	vm := d.vm("vwt-link")
	nic := d.addNIC(vm, vnic("nic1", profA))
	nicID := idOf(nic, true)
	mac := macOf(nic)
	d.start(vm)

	tap, pci, up := d.tap(vm, mac)
	if tap == "" || !up || testenv.Master(t, tap) != netA {
		t.Fatalf("after start: tap %q up %v master %q, want on %s", tap, up, testenv.Master(t, tap), netA)
	}
	if got := testenv.Virsh(t, "domstate", vm); got != "running" {
		t.Fatalf("domain state %q", got)
	}

	t.Run("LinkDownUp", func(t *testing.T) {
		d.update(vm, nicID, set().Linked(false))
		if got := getlink(t, vm, tap); got != "down" {
			t.Fatalf("domif-getlink after linked=false: %q", got)
		}
		d.update(vm, nicID, set().Linked(true))
		if got := getlink(t, vm, tap); got != "up" {
			t.Fatalf("domif-getlink after linked=true: %q", got)
		}
	})

	t.Run("NetworkChangeMovesTheSameTap", func(t *testing.T) {
		n := d.update(vm, nicID, set().VnicProfile(client.ProfileRef(profB)))
		if reported(n).Bridge != netB || !is(n.Synced()) {
			t.Fatalf("reported after move: %s", nicText(n))
		}
		gotTap, gotPCI, _ := d.tap(vm, mac)
		if gotTap != tap || gotPCI != pci || testenv.Master(t, tap) != netB {
			t.Fatalf("after move: tap %s pci %s master %s; want tap %s pci %s on %s", gotTap, gotPCI, testenv.Master(t, tap), tap, pci, netB)
		}
	})

	t.Run("EmptyNetworkIsDummyBridgeLinkDown", func(t *testing.T) {
		d.update(vm, nicID, set().VnicProfile(client.ProfileRef("")))
		if m := testenv.Master(t, tap); m != vwire.DummyBridge {
			t.Fatalf("master %q, want %s", m, vwire.DummyBridge)
		}
		if got := getlink(t, vm, tap); got != "down" {
			t.Fatalf("link %q on the empty network", got)
		}
		d.update(vm, nicID, set().VnicProfile(client.ProfileRef(profA)))
		if m, got := testenv.Master(t, tap), getlink(t, vm, tap); m != netA || got != "up" {
			t.Fatalf("back on %s: master %s link %s", netA, m, got)
		}
	})

	t.Run("HotPlugWithLinkState", func(t *testing.T) {
		n2 := d.addNIC(vm, vnic("nic2", profB).Linked(false))
		n2ID, mac2 := idOf(n2, true), macOf(n2)
		tap2, pci2, up2 := d.tap(vm, mac2)
		if tap2 == "" || up2 || pci2 == "" || pci2 == pci || testenv.Master(t, tap2) != netB {
			t.Fatalf("hot-plugged: tap %q up %v pci %s master %s", tap2, up2, pci2, testenv.Master(t, tap2))
		}
		if got := getlink(t, vm, tap2); got != "down" {
			t.Fatalf("hot-plugged unlinked vNIC: link %q", got)
		}
		if reported(n2).PCIAddress != pci2 {
			t.Errorf("API reports PCI %s, host has %s", reported(n2).PCIAddress, pci2)
		}
		// Nobody answers the unplug: the agent gives up with code 50 and the
		// engine keeps the vNIC plugged.
		_, err := d.PlugNIC(ctx0, vm, n2ID, false)
		if status, detail := faultOf(err); status != 400 || !strings.Contains(detail, "did not release") {
			t.Fatalf("unplug without a guest: %s", describe(err))
		}
		if n := d.nic(vm, n2ID); !is(n.Plugged()) {
			t.Fatalf("vNIC recorded unplugged: %s", nicText(n))
		}
		// A guest that answers (the ACPI eject a kernel would do) completes it.
		var slot int
		if _, err := fmtSscan(pci2, &slot); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			testenv.EjectPCISlot(t, vm, slot, func() bool { tp, _, _ := d.tap(vm, mac2); return tp == "" })
			close(done)
		}()
		d.update(vm, n2ID, set().Plugged(false))
		<-done
		if tp, _, _ := d.tap(vm, mac2); tp != "" {
			t.Fatal("device still on the host after a completed unplug")
		}
	})

	t.Run("MissingBridgeFailsWithLibvirtsReason", func(t *testing.T) {
		netC, profC := d.network(true)
		before := d.nic(vm, nicID)
		// The bridge goes away behind the engine's back.
		if out, err := exec.Command("ip", "link", "del", netC).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
		_, err := d.UpdateNIC(ctx0, vm, nicID, set().VnicProfile(client.ProfileRef(profC)).Linked(false).MustBuild())
		if status, detail := faultOf(err); status != 400 || !strings.Contains(detail, "bridge "+netC+" doesn't exist") {
			t.Fatalf("update to a missing bridge: %s", describe(err))
		}
		after := d.nic(vm, nicID)
		bl, bok := before.Linked()
		al, aok := after.Linked()
		if profileOf(after) != profileOf(before) || al != bl || aok != bok {
			t.Fatalf("database changed:\nbefore %s\nafter %s", nicText(before), nicText(after))
		}
		if m := testenv.Master(t, tap); m != netA {
			t.Fatalf("tap moved to %q", m)
		}
		evs := d.events(0, 1)
		if len(evs) == 0 {
			t.Fatal("no event")
		}
		ev := evs[0]
		if sev, _ := ev.Severity(); eventCode(ev) != 935 || sev != ovirtsdk4.LOGSEVERITY_ERROR {
			t.Fatalf("last event: %d %q %s", eventCode(ev), sev, eventText(ev))
		}
	})
}

// TestDriftShowsWithinOnePoll: a change behind the engine's back (virsh
// domif-setlink) shows as synced=false within one poll interval.
func TestDriftShowsWithinOnePoll(t *testing.T) {
	const poll = 500 * time.Millisecond
	d := deploy(t, poll)
	_, prof := d.network(true)
	vm := d.vm("vwt-drift")
	nic := d.addNIC(vm, vnic("nic1", prof))
	d.start(vm)
	tap, _, _ := d.tap(vm, macOf(nic))
	testenv.Virsh(t, "domif-setlink", vm, tap, "down")
	changed := time.Now()
	for time.Since(changed) < 3*poll {
		n := d.nic(vm, idOf(nic, true))
		if isNot(n.Synced()) && reported(n).LinkState == "down" {
			t.Logf("drift seen after %v", time.Since(changed).Round(time.Millisecond))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("drift not seen within %v (poll interval %v)", 3*poll, poll)
}

// TestVanishedDomainIsReported: a domain destroyed behind the engine's back
// makes the VM down, with an event, and nothing crashes.
func TestVanishedDomainIsReported(t *testing.T) {
	d := deploy(t, time.Hour)
	_, prof := d.network(true)
	vm := d.vm("vwt-gone")
	d.addNIC(vm, vnic("nic1", prof))
	d.start(vm)
	testenv.Virsh(t, "destroy", vm)
	d.refresh(d.hostID)
	if v := d.getVM(vm); vmStatus(v) != ovirtsdk4.VMSTATUS_DOWN {
		t.Fatalf("VM after its domain vanished: status %q", vmStatus(v))
	}
	if _, err := d.hv.Domains(context.Background()); err != nil {
		t.Fatal(err)
	}
}
