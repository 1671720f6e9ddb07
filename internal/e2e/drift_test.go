package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vwire.dev/vwire/internal/testenv"
)

// events lists the descriptions of the events with a code, newest first.
func (d *deployment) eventsWith(code int64) []string {
	d.t.Helper()
	var out []string
	for _, e := range d.events(0, 0) {
		if eventCode(e) == code {
			out = append(out, eventText(e))
		}
	}
	return out
}

// TestDriftRepairedOnLibvirt: changes made with virsh behind the engine's
// back are reported under the cluster's default policy, and repaired by the
// next poll once the cluster enforces its state; a device attached with
// virsh, unknown to the engine, is reported, then unplugged.
func TestDriftRepairedOnLibvirt(t *testing.T) {
	d := deploy(t, time.Hour) // polls are made by refreshing the host
	netA, prof := d.network(true)
	other := testenv.Bridge(t, "")
	vm := d.vm("vwt-drift-fix")
	nic := d.addNIC(vm, vnic("nic1", prof))
	nicID := idOf(nic, true)
	mac := macOf(nic)
	d.start(vm)
	tap, pci, _ := d.tap(vm, mac)
	if tap == "" || testenv.Master(t, tap) != netA {
		t.Fatalf("after start: tap %q on %q", tap, testenv.Master(t, tap))
	}
	if got := expect(d.api, 200, "drift policy", func(ctx context.Context) (string, error) { return d.DriftPolicy(ctx, d.cluster) }); got != "report" {
		t.Fatalf("default drift policy %q", got)
	}
	refresh := func() { d.refresh(d.hostID) }

	// Behind the engine's back: the cable pulled, the interface moved to
	// another bridge (keeping the profile's filter: without it that would
	// be drift too), and a device attached that vwire never made.
	testenv.Virsh(t, "domif-setlink", vm, tap, "down")
	xmlPath := filepath.Join(t.TempDir(), "iface.xml")
	move := fmt.Sprintf(`<interface type='bridge'><mac address='%s'/><source bridge='%s'/><model type='virtio'/>`+
		`<link state='down'/><alias name='ua-%s'/><rom enabled='no'/><filterref filter='vdsm-no-mac-spoofing'/></interface>`, mac, other, nicID)
	if err := os.WriteFile(xmlPath, []byte(move), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Virsh(t, "update-device", vm, xmlPath, "--live")
	const foreignMAC = "52:54:00:7e:57:01"
	testenv.Virsh(t, "attach-interface", vm, "bridge", netA, "--mac", foreignMAC, "--model", "virtio", "--live")
	if testenv.Master(t, tap) != other || getlink(t, vm, tap) != "down" {
		t.Fatalf("virsh did not drift the device: on %q, link %q", testenv.Master(t, tap), getlink(t, vm, tap))
	}

	t.Run("Report", func(t *testing.T) {
		refresh()
		refresh()
		n := d.nic(vm, nicID)
		if !isNot(n.Synced()) || reported(n).Bridge != other || reported(n).LinkState != "down" {
			t.Fatalf("after drift: %s", nicText(n))
		}
		want := fmt.Sprintf("Network interface nic1 of VM vwt-drift-fix drifted on host h1: network is %s, expected %s; link is down, expected up.", other, netA)
		if got := d.eventsWith(12100); len(got) != 1 || got[0] != want {
			t.Errorf("drift events %q, want one: %q", got, want)
		}
		if got := d.eventsWith(12102); len(got) != 1 || !strings.Contains(got[0], "MAC "+foreignMAC) {
			t.Errorf("unknown device events %q, want one naming %s", got, foreignMAC)
		}
		if m := testenv.Master(t, tap); m != other {
			t.Errorf("report moved the tap to %q", m)
		}
		if f, _, _ := d.tap(vm, foreignMAC); f == "" {
			t.Error("report unplugged the unknown device")
		}
	})

	t.Run("Enforce", func(t *testing.T) {
		c := expect(d.api, 200, "set the drift policy", func(ctx context.Context) (string, error) {
			return d.SetDriftPolicy(ctx, d.cluster, "enforce")
		})
		if c != "enforce" {
			t.Fatalf("cluster after PUT: drift policy %q", c)
		}
		// Nobody answers an unplug in a domain without a guest OS: play the
		// guest's part of the ACPI eject for the unknown device's slot.
		_, fpci, _ := d.tap(vm, foreignMAC)
		var slot int
		if _, err := fmtSscan(fpci, &slot); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			testenv.EjectPCISlot(t, vm, slot, func() bool { f, _, _ := d.tap(vm, foreignMAC); return f == "" })
		}()
		refresh()
		<-done

		if m, l := testenv.Master(t, tap), getlink(t, vm, tap); m != netA || l != "up" {
			t.Errorf("after enforce: tap on %q, link %q; want %s, up", m, l, netA)
		}
		if gotTap, gotPCI, _ := d.tap(vm, mac); gotTap != tap || gotPCI != pci {
			t.Errorf("repaired by a replug: tap %s pci %s, was %s %s", gotTap, gotPCI, tap, pci)
		}
		if f, _, _ := d.tap(vm, foreignMAC); f != "" {
			t.Error("the unknown device is still plugged")
		}
		n := d.nic(vm, nicID)
		if !is(n.Synced()) || reported(n).Bridge != netA || reported(n).LinkState != "up" {
			t.Errorf("after enforce: %s", nicText(n))
		}
		want := fmt.Sprintf("Network interface nic1 of VM vwt-drift-fix was repaired on host h1: network was %s, now %s; link was down, now up.", other, netA)
		if got := d.eventsWith(12101); len(got) != 1 || got[0] != want {
			t.Errorf("repair events %q, want one: %q", got, want)
		}
		if got := d.eventsWith(12103); len(got) != 1 || !strings.Contains(got[0], "MAC "+foreignMAC) {
			t.Errorf("unplug events %q, want one naming %s", got, foreignMAC)
		}
		// In sync: the next poll repairs nothing.
		refresh()
		if got := d.eventsWith(12101); len(got) != 1 {
			t.Errorf("repairs after a clean poll: %q", got)
		}
		if _, err := d.hv.Domains(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
