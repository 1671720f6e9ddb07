package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/internal/testenv"
)

// TestLinkingOnLibvirt is issue 3's "Done when": every change through the
// REST API, every check on the host.
func TestLinkingOnLibvirt(t *testing.T) {
	d := deploy(t, time.Hour)
	netA, profA := d.network(true)
	netB, profB := d.network(true)
	vm := d.vm("vwt-link")
	nic := d.must(201, "POST", "/vms/"+vm+"/nics", obj{"name": "nic1", "vnic_profile": obj{"id": profA}})
	nicPath := "/vms/" + vm + "/nics/" + str(nic, "id")
	mac := str(nic, "mac.address")
	d.must(200, "POST", "/vms/"+vm+"/start", obj{})

	tap, pci, up := d.tap(vm, mac)
	if tap == "" || !up || testenv.Master(t, tap) != netA {
		t.Fatalf("after start: tap %q up %v master %q, want on %s", tap, up, testenv.Master(t, tap), netA)
	}
	if got := testenv.Virsh(t, "domstate", vm); got != "running" {
		t.Fatalf("domain state %q", got)
	}

	t.Run("LinkDownUp", func(t *testing.T) {
		d.must(200, "PUT", nicPath, obj{"linked": "false"})
		if got := getlink(t, vm, tap); got != "down" {
			t.Fatalf("domif-getlink after linked=false: %q", got)
		}
		d.must(200, "PUT", nicPath, obj{"linked": "true"})
		if got := getlink(t, vm, tap); got != "up" {
			t.Fatalf("domif-getlink after linked=true: %q", got)
		}
	})

	t.Run("NetworkChangeMovesTheSameTap", func(t *testing.T) {
		n := d.must(200, "PUT", nicPath, obj{"vnic_profile": obj{"id": profB}})
		if str(n, "reported_state.bridge") != netB || str(n, "synced") != "true" {
			t.Fatalf("reported after move: %v", n)
		}
		gotTap, gotPCI, _ := d.tap(vm, mac)
		if gotTap != tap || gotPCI != pci || testenv.Master(t, tap) != netB {
			t.Fatalf("after move: tap %s pci %s master %s; want tap %s pci %s on %s", gotTap, gotPCI, testenv.Master(t, tap), tap, pci, netB)
		}
	})

	t.Run("EmptyNetworkIsDummyBridgeLinkDown", func(t *testing.T) {
		d.must(200, "PUT", nicPath, obj{"vnic_profile": obj{}})
		if m := testenv.Master(t, tap); m != vwire.DummyBridge {
			t.Fatalf("master %q, want %s", m, vwire.DummyBridge)
		}
		if got := getlink(t, vm, tap); got != "down" {
			t.Fatalf("link %q on the empty network", got)
		}
		d.must(200, "PUT", nicPath, obj{"vnic_profile": obj{"id": profA}})
		if m, got := testenv.Master(t, tap), getlink(t, vm, tap); m != netA || got != "up" {
			t.Fatalf("back on %s: master %s link %s", netA, m, got)
		}
	})

	t.Run("HotPlugWithLinkState", func(t *testing.T) {
		n2 := d.must(201, "POST", "/vms/"+vm+"/nics", obj{"name": "nic2", "linked": "false", "vnic_profile": obj{"id": profB}})
		tap2, pci2, up2 := d.tap(vm, str(n2, "mac.address"))
		if tap2 == "" || up2 || pci2 == "" || pci2 == pci || testenv.Master(t, tap2) != netB {
			t.Fatalf("hot-plugged: tap %q up %v pci %s master %s", tap2, up2, pci2, testenv.Master(t, tap2))
		}
		if got := getlink(t, vm, tap2); got != "down" {
			t.Fatalf("hot-plugged unlinked vNIC: link %q", got)
		}
		if str(n2, "reported_state.pci_address") != pci2 {
			t.Errorf("API reports PCI %s, host has %s", str(n2, "reported_state.pci_address"), pci2)
		}
		// Nobody answers the unplug: the agent gives up with code 50 and the
		// engine keeps the vNIC plugged.
		status, f := d.do("PUT", "/vms/"+vm+"/nics/"+str(n2, "id"), obj{"plugged": "false"})
		if status != 400 || !strings.Contains(str(f, "detail"), "did not release") {
			t.Fatalf("unplug without a guest: %d %v", status, f)
		}
		if n := d.must(200, "GET", "/vms/"+vm+"/nics/"+str(n2, "id"), nil); str(n, "plugged") != "true" {
			t.Fatalf("vNIC recorded unplugged: %v", n)
		}
		// A guest that answers (the ACPI eject a kernel would do) completes it.
		var slot int
		if _, err := fmtSscan(pci2, &slot); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			testenv.EjectPCISlot(t, vm, slot, func() bool { tp, _, _ := d.tap(vm, str(n2, "mac.address")); return tp == "" })
			close(done)
		}()
		d.must(200, "PUT", "/vms/"+vm+"/nics/"+str(n2, "id"), obj{"plugged": "false"})
		<-done
		if tp, _, _ := d.tap(vm, str(n2, "mac.address")); tp != "" {
			t.Fatal("device still on the host after a completed unplug")
		}
	})

	t.Run("MissingBridgeFailsWithLibvirtsReason", func(t *testing.T) {
		netC, profC := d.network(true)
		before := d.must(200, "GET", nicPath, nil)
		// The bridge goes away behind the engine's back.
		if out, err := exec.Command("ip", "link", "del", netC).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
		status, f := d.do("PUT", nicPath, obj{"vnic_profile": obj{"id": profC}, "linked": "false"})
		if status != 400 || !strings.Contains(str(f, "detail"), "bridge "+netC+" doesn't exist") {
			t.Fatalf("update to a missing bridge: %d %v", status, f)
		}
		after := d.must(200, "GET", nicPath, nil)
		if str(after, "vnic_profile.id") != str(before, "vnic_profile.id") || str(after, "linked") != str(before, "linked") {
			t.Fatalf("database changed:\nbefore %v\nafter %v", before, after)
		}
		if m := testenv.Master(t, tap); m != netA {
			t.Fatalf("tap moved to %q", m)
		}
		evs := d.must(200, "GET", "/events?max=1", nil)
		if ev := evs["event"].([]any)[0].(obj); str(ev, "code") != "935" || str(ev, "severity") != "error" {
			t.Fatalf("last event: %v", ev)
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
	nic := d.must(201, "POST", "/vms/"+vm+"/nics", obj{"name": "nic1", "vnic_profile": obj{"id": prof}})
	d.must(200, "POST", "/vms/"+vm+"/start", obj{})
	tap, _, _ := d.tap(vm, str(nic, "mac.address"))
	testenv.Virsh(t, "domif-setlink", vm, tap, "down")
	changed := time.Now()
	for time.Since(changed) < 3*poll {
		n := d.must(200, "GET", "/vms/"+vm+"/nics/"+str(nic, "id"), nil)
		if str(n, "synced") == "false" && str(n, "reported_state.link_state") == "down" {
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
	d.must(201, "POST", "/vms/"+vm+"/nics", obj{"name": "nic1", "vnic_profile": obj{"id": prof}})
	d.must(200, "POST", "/vms/"+vm+"/start", obj{})
	testenv.Virsh(t, "destroy", vm)
	d.must(200, "POST", "/hosts/"+d.hostID+"/refresh", obj{})
	if v := d.must(200, "GET", "/vms/"+vm, nil); str(v, "status") != "down" {
		t.Fatalf("VM after its domain vanished: %v", v)
	}
	if _, err := d.hv.Domains(context.Background()); err != nil {
		t.Fatal(err)
	}
}
