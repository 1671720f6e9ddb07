package e2e

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire"
	"vwire.dev/vwire/client"
	"vwire.dev/vwire/internal/testenv"
)

// The profile attributes are set through vwire's REST client: QoS entities
// under /datacenters/{id}/qoss (oVirt's representation), a profile's
// port_mirroring, qos and network_filter.

// outbound is a network QoS entity's outbound limit: average and peak in
// Mbit/s, burst in MB (oVirt's units; all three or none).
func outbound(name string, mbps int64) *ovirtsdk4.Qos {
	return ovirtsdk4.NewQosBuilder().Name(name).Type(ovirtsdk4.QOSTYPE_NETWORK).
		OutboundAverage(mbps).OutboundPeak(mbps).OutboundBurst(1).MustBuild()
}

func (a *api) addQoS(dc string, q *ovirtsdk4.Qos) string {
	a.t.Helper()
	return idOf(expect(a, 201, "add QoS", func(ctx context.Context) (*ovirtsdk4.Qos, error) { return a.AddQoS(ctx, dc, q) }), true)
}

func (a *api) updateQoS(dc, id string, q *ovirtsdk4.Qos) {
	a.t.Helper()
	expect(a, 200, "update QoS "+id, func(ctx context.Context) (*ovirtsdk4.Qos, error) { return a.UpdateQoS(ctx, dc, id, q) })
}

func (a *api) editProfile(id string, u client.ProfileUpdate) {
	a.t.Helper()
	expect(a, 200, "update profile "+id, func(ctx context.Context) (*ovirtsdk4.VnicProfile, error) { return a.UpdateProfile(ctx, id, u) })
}

func ptr[T any](v T) *T { return &v }

// in is the deployment as seen from a subtest: the API helpers fail t,
// not the parent test (whose other subtests then still run).
func (d *deployment) in(t *testing.T) *deployment {
	c := *d
	c.api = &api{Client: d.Client, t: t}
	return &c
}

// waitReported polls a vNIC until what its host reported satisfies ok and
// the engine sees it synced.
func (d *deployment) waitReported(vm, nic, what string, ok func(client.ReportedState) bool) client.ReportedState {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := d.nic(vm, nic)
		if r := reported(n); ok(r) && is(n.Synced()) {
			return r
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("vNIC %s never reported %s, synced: %s", nic, what, nicText(n))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func outboundOf(r client.ReportedState) int {
	if r.QoS == nil {
		return 0
	}
	return r.QoS.OutboundAverage
}

func filterOf(r client.ReportedState) string {
	if r.NetworkFilter == nil {
		return ""
	}
	return r.NetworkFilter.Name
}

// bootGuestWith is bootGuest with the guest's whole command line.
func (d *deployment) bootGuestWith(t *testing.T, vm, cmdline string) *guestVM {
	t.Helper()
	kernel, initrd := testenv.Guest(t)
	d.updateVM(vm, ovirtsdk4.NewVmBuilder().Memory(192<<20).
		Os(ovirtsdk4.NewOperatingSystemBuilder().Kernel(kernel).Initrd(initrd).Cmdline(cmdline).MustBuild()).MustBuild())
	g := &guestVM{id: vm, console: &testenv.Console{Path: filepath.Join(d.consoleDir, vm+".log")}}
	d.start(vm)
	g.console.Wait(t, 60*time.Second, "its first status line", func(testenv.GuestLine) bool { return true })
	return g
}

// Addresses of TestGuestProfileAttributes (see traffic_test.go).
const (
	mirrorA, mirrorB, mirrorC = "198.19.15.11/24", "198.19.15.12/24", "198.19.15.13/24"
	qosHost, qosGuest         = "198.19.16.1", "198.19.16.2"
	spoofHost, spoofGuest     = "198.19.17.1", "198.19.17.2"
	ctlHost, ctlGuest         = "198.19.18.1", "198.19.18.2"
	// spoofMAC is the MAC the guest takes on the vNIC that spoofs.
	spoofMAC = "02:00:00:19:17:99"
	// burstSkip is what a timed download lets pass before its clock starts:
	// a QoS burst of 1 MB (1024 KiB for the host's shaper) and a margin.
	burstSkip = 1<<20 + 256<<10
)

// TestGuestProfileAttributes proves issue 15 from inside a running guest,
// through the REST API only: port mirroring on and off live, an outbound
// QoS applied, changed and removed live, and the anti-spoofing filter
// effective, each measured by the guest or at the bridge; and no vNIC's PCI
// address or MAC changed on the way.
func TestGuestProfileAttributes(t *testing.T) {
	d := deploy(t, time.Hour)
	netM, _ := d.network(true)
	netQ, _ := d.network(true)
	netS, _ := d.network(true)
	addrBridge(t, netQ, qosHost+"/24")
	addrBridge(t, netS, spoofHost+"/24")
	addrBridge(t, netS, ctlHost+"/24")
	a := addEndpoint(t, netM, mirrorA)
	b := addEndpoint(t, netM, mirrorB)

	// Profiles: mirroring or not on M; the anti-spoofing filter (the
	// default) or none on S; on Q, no QoS (the QoS subtest adds its own).
	mirror := idOf(d.addProfile(d.networkID(netM), client.ProfileSpec{Name: "mirror", PortMirroring: true}), true)
	plainM := idOf(d.addProfile(d.networkID(netM), client.ProfileSpec{Name: "plainM"}), true)
	plainQ := idOf(d.addProfile(d.networkID(netQ), client.ProfileSpec{Name: "plainQ"}), true)
	fp := d.addProfile(d.networkID(netS), client.ProfileSpec{Name: "filtered"})
	filtered := idOf(fp, true)
	if f, ok := fp.NetworkFilter(); !ok || f == nil {
		t.Fatalf("a new profile has no network_filter (oVirt's default is vdsm-no-mac-spoofing)")
	}
	open := idOf(d.addProfile(d.networkID(netS), client.ProfileSpec{Name: "open", NetworkFilter: ptr("")}), true)

	vm := d.vm("vwt-attrs")
	nM := d.addNIC(vm, vnic("mirror", plainM))
	nQ := d.addNIC(vm, vnic("qos", plainQ))
	nS := d.addNIC(vm, vnic("spoof", filtered))
	nC := d.addNIC(vm, vnic("control", filtered))
	macM, macQ, macS, macC := macOf(nM), macOf(nQ), macOf(nS), macOf(nC)
	nicM, nicQ, nicS := idOf(nM, true), idOf(nQ, true), idOf(nS, true)
	g := d.bootGuestWith(t, vm, guestCmdline(
		map[string][]string{macQ: {qosGuest + "/24"}, macS: {spoofGuest + "/24"}, macC: {ctlGuest + "/24"}},
		[]string{qosHost, spoofHost, ctlHost},
		"vw.promisc=1", "vw.blob=8", "vw.mac="+dashed(macS)+","+dashed(spoofMAC)))
	con := g.console
	// The guest's view once up: which interface each MAC is and how many
	// times it lost carrier. An unplug and plug would make another
	// interface of it, a link bounce another carrier loss.
	booted := con.Wait(t, 60*time.Second, "every vNIC up and every host address answering", func(l testenv.GuestLine) bool {
		for _, m := range []string{macM, macQ, spoofMAC, macC} {
			if i, ok := l.Ifaces[m]; !ok || i.Carrier != "1" {
				return false
			}
		}
		return l.Pings[qosHost] == "ok" && l.Pings[ctlHost] == "ok"
	})
	// What the host reported of each vNIC once the guest runs: its PCI
	// address and MAC must not change whatever the profile changes.
	type hw struct{ pci, mac, engineMAC string }
	before := map[string]hw{}
	for _, n := range d.nics(vm) {
		r := reported(n)
		if r.PCIAddress == "" || r.MAC == "" {
			t.Fatalf("no PCI address or MAC reported: %s", nicText(n))
		}
		before[idOf(n, true)] = hw{r.PCIAddress, r.MAC, macOf(n)}
	}

	// mirrored measures what the guest counts on its mirroring vNIC while
	// the endpoints exchange traffic; want says whether it must see it.
	mirrored := func(t *testing.T, what string, x, y *endpoint, want bool) {
		t.Helper()
		rx, frames := rxDuring(t, con, macM, x, y, exchanged)
		t.Logf("%s: the guest's vNIC counted %d packets while %d frames crossed the bridge", what, rx, frames)
		if frames < exchanged*2*9/10 {
			t.Fatalf("%s: only %d of %d frames crossed the bridge", what, frames, exchanged*2)
		}
		switch {
		case want && (rx < int64(frames)*3/4 || rx > int64(frames)*3/2):
			t.Errorf("%s: mirroring on, the guest counted %d packets for %d frames (want within [0.75, 1.5]×)", what, rx, frames)
		case !want && rx > int64(frames)/20:
			t.Errorf("%s: mirroring off, the guest counted %d packets for %d frames (want at most 5%%)", what, rx, frames)
		}
	}
	t.Run("Mirroring", func(t *testing.T) {
		d := d.in(t)
		mirroring := func(want bool) {
			d.waitReported(vm, nicM, "port mirroring "+map[bool]string{true: "on", false: "off"}[want], func(r client.ReportedState) bool {
				return r.PortMirroring == want
			})
		}
		mirrored(t, "on a profile without mirroring", a, b, false)
		d.update(vm, nicM, set().VnicProfile(client.ProfileRef(mirror)))
		mirroring(true)
		mirrored(t, "moved live to a mirroring profile", a, b, true)
		// A port the bridge gains while the vNIC mirrors: mirrored too,
		// within seconds.
		e := addEndpoint(t, netM, mirrorC)
		added := time.Now()
		for {
			rx, frames := rxDuring(t, con, macM, a, e, 200)
			if rx >= int64(frames)*3/4 {
				t.Logf("a port added to the bridge: its traffic mirrored within %v", time.Since(added).Round(100*time.Millisecond))
				break
			}
			if time.Since(added) > 15*time.Second {
				t.Errorf("a port added to the bridge: its traffic still not mirrored after %v (%d packets counted for %d frames)", time.Since(added).Round(time.Second), rx, frames)
				break
			}
		}
		mirrored(t, "a port added to the bridge while mirroring", a, e, true)
		d.editProfile(mirror, client.ProfileUpdate{PortMirroring: ptr(false)})
		mirroring(false)
		mirrored(t, "the profile's port_mirroring set to false live", a, b, false)
		d.editProfile(mirror, client.ProfileUpdate{PortMirroring: ptr(true)})
		mirroring(true)
		mirrored(t, "the profile's port_mirroring set to true live", a, b, true)
		d.update(vm, nicM, set().VnicProfile(client.ProfileRef(plainM)))
		mirroring(false)
		mirrored(t, "moved live to a profile without mirroring", a, b, false)
	})

	t.Run("QoS", func(t *testing.T) {
		d := d.in(t)
		url := "http://" + qosGuest + "/blob"
		limit := func(mbps int) {
			d.waitReported(vm, nicQ, "an outbound average of "+strconv.Itoa(mbps)+" Mbit/s", func(r client.ReportedState) bool {
				return outboundOf(r) == mbps
			})
		}
		shapedAt := func(what string, mbps int) download {
			limit(mbps)
			n := int64(mbps) * 500_000 // 4 s at the limit
			dl := timedDownload(t, url, burstSkip, n, time.Minute)
			t.Logf("%s (%d Mbit/s): %v", what, mbps, dl)
			checkShaped(t, what, dl, float64(mbps)*1000)
			return dl
		}
		unshaped := func(what string) download {
			limit(0)
			dl := timedDownload(t, url, 0, 8<<20, time.Minute)
			t.Logf("%s: %v", what, dl)
			checkFree(t, what, dl, 2000)
			return dl
		}
		free := unshaped("no QoS")
		qos := d.addQoS(d.dc, outbound("out1", 1))
		shaped := idOf(d.addProfile(d.networkID(netQ), client.ProfileSpec{Name: "shaped", QoSID: qos}), true)
		d.update(vm, nicQ, set().VnicProfile(client.ProfileRef(shaped)))
		one := shapedAt("moved live to a profile with QoS", 1)
		d.updateQoS(d.dc, qos, outbound("out1", 2))
		two := shapedAt("the QoS entity edited live", 2)
		if two.Kbps() < 1.5*one.Kbps() {
			t.Errorf("raising the limit from 1 to 2 Mbit/s raised the rate from %v to only %v", one, two)
		}
		d.editProfile(shaped, client.ProfileUpdate{QoSID: ptr("")})
		cleared := unshaped("the profile's qos cleared live")
		d.editProfile(shaped, client.ProfileUpdate{QoSID: &qos})
		again := shapedAt("the profile's qos set again live", 2)
		// The entity itself removed: the profile loses it, the running vNIC
		// its limit (oVirt's 2024 and 2025 bugs left the limit in place).
		expectOK(d.api, 200, "remove QoS "+qos, func(ctx context.Context) error { return d.RemoveQoS(ctx, d.dc, qos) })
		removed := unshaped("the QoS entity removed live")
		d.update(vm, nicQ, set().VnicProfile(client.ProfileRef(plainQ)))
		moved := unshaped("moved live to a profile without QoS")
		for _, s := range []download{one, two, again} {
			for _, f := range []download{free, cleared, removed, moved} {
				if s.Kbps() > f.Kbps()/2 {
					t.Errorf("a shaped rate %v is not 2× below an unshaped one %v", s, f)
				}
			}
		}
	})

	t.Run("AntiSpoofing", func(t *testing.T) {
		d := d.in(t)
		listen := func(what string) map[string]int {
			n := captureFrom(t, netS, []string{spoofMAC, macC, macS}, 0, func() { time.Sleep(4 * time.Second) })
			t.Logf("%s: frames heard on the bridge in 4 s by source MAC: %v", what, n)
			if n[macC] == 0 {
				t.Fatalf("%s: nothing heard from %s, which does not spoof", what, macC)
			}
			if n[macS] != 0 {
				t.Errorf("%s: frames from %s, the MAC the guest replaced", what, macS)
			}
			return n
		}
		filter := func(want string) {
			d.waitReported(vm, nicS, "network filter "+strconv.Quote(want), func(r client.ReportedState) bool { return filterOf(r) == want })
		}
		filter(vwire.DefaultNWFilter)
		if n := listen("filtered"); n[spoofMAC] != 0 {
			t.Errorf("the anti-spoofing filter let %d frames from %s through", n[spoofMAC], spoofMAC)
		}
		d.update(vm, nicS, set().VnicProfile(client.ProfileRef(open)))
		filter("")
		if n := listen("moved live to a profile without filter"); n[spoofMAC] == 0 {
			t.Errorf("without a filter nothing was heard from %s", spoofMAC)
		}
		d.update(vm, nicS, set().VnicProfile(client.ProfileRef(filtered)))
		filter(vwire.DefaultNWFilter)
		if n := listen("moved back live to the filtered profile"); n[spoofMAC] != 0 {
			t.Errorf("the filter, back, let %d frames from %s through", n[spoofMAC], spoofMAC)
		}
		// The profile's own filter removed and restored live.
		d.editProfile(filtered, client.ProfileUpdate{NetworkFilter: ptr("")})
		filter("")
		if n := listen("the profile's network_filter removed live"); n[spoofMAC] == 0 {
			t.Errorf("the profile's filter removed, nothing was heard from %s", spoofMAC)
		}
		d.editProfile(filtered, client.ProfileUpdate{NetworkFilter: ptr(vwire.DefaultNWFilter)})
		filter(vwire.DefaultNWFilter)
		if n := listen("the profile's network_filter restored live"); n[spoofMAC] != 0 {
			t.Errorf("the profile's filter restored, %d frames from %s came through", n[spoofMAC], spoofMAC)
		}
	})

	t.Run("SameHardware", func(t *testing.T) {
		d := d.in(t)
		for _, n := range d.nics(vm) {
			r, was := reported(n), before[idOf(n, true)]
			if now := (hw{r.PCIAddress, r.MAC, macOf(n)}); now != was {
				t.Errorf("vNIC %s changed: before %+v, now %+v", idOf(n, true), was, now)
			}
		}
		t.Logf("PCI addresses and MACs unchanged: %+v", before)
		l := nextLine(t, con)
		for mac, was := range booted.Ifaces {
			if now, ok := l.Ifaces[mac]; !ok || now.Name != was.Name || now.Downs != was.Downs || now.Carrier != "1" {
				t.Errorf("in the guest, %s was %s with %s carrier losses at boot; now %+v (present %v)", mac, was.Name, was.Downs, now, ok)
			}
		}
		t.Logf("in the guest, every interface kept its name and MAC, without a carrier loss: %s", l.Raw)
	})
}
