package engine_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
	"vwire.dev/vwire/hypervisor"
	"vwire.dev/vwire/hypervisor/sim"
)

const (
	codeProfileApplied    = 12120
	codeProfileNotApplied = 11292
)

// refusing is the simulated host refusing updates of some devices, as a
// host whose shaper or filter driver fails would.
type refusing struct {
	hypervisor.Hypervisor
	mu      sync.Mutex
	aliases map[string]bool
}

func (r *refusing) refuse(alias string, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.aliases[alias] = on
}

func (r *refusing) UpdateNIC(ctx context.Context, domainID string, n hypervisor.NIC) (hypervisor.NICState, error) {
	r.mu.Lock()
	no := r.aliases[n.Alias]
	r.mu.Unlock()
	if no {
		return hypervisor.NICState{}, hypervisor.Errorf(hypervisor.ErrOperationFailed, "tc: the shaper is gone")
	}
	return r.Hypervisor.UpdateNIC(ctx, domainID, n)
}

// TestLivePortMirroring: on vwire's level 4.8 a plugged vNIC moves to and
// from a mirroring profile live, and a mirrored vNIC's link changes live;
// the host's report says it mirrors, and the PCI address stays.
func TestLivePortMirroring(t *testing.T) { forEachStore(t, testLivePortMirroring) }

func testLivePortMirroring(t *testing.T) {
	e := newEnvWith(t, false)
	red := e.network("red")
	q := &vwire.QoS{Name: "slow", DataCenterID: e.dc.ID, Type: vwire.QoSNetwork, Outbound: vwire.Rate{Average: 1, Peak: 2, Burst: 1}}
	if err := e.eng.AddQoS(ctx(), q); err != nil {
		t.Fatal(err)
	}
	// The mirroring profile also has its own filter and QoS: a move
	// carries all of the new profile's attributes.
	mirror := &vwire.VNICProfile{Name: "mirrored", NetworkID: e.networkOf(red), PortMirroring: true,
		NetworkFilter: "clean-traffic", QoSID: q.ID}
	if err := e.eng.AddProfile(ctx(), mirror); err != nil {
		t.Fatal(err)
	}
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: red})
	e.start(vm.ID)
	_, _, pci, _ := e.live(vm.ID, n)
	check := func(what string, want bool) {
		t.Helper()
		got := e.stored(n.ID)
		if got.Observed == nil || got.Observed.Mirroring != want || !got.Synced {
			t.Fatalf("%s: observed %+v synced %v, want mirroring %v and synced", what, got.Observed, got.Synced, want)
		}
		d, _ := e.sim.Domain(ctx(), vm.ID)
		st, _ := d.NICByAlias(n.Alias())
		if st.PortMirroring != want || st.PCIAddress != pci {
			t.Fatalf("%s: the host has mirroring %v at %s, want %v at %s", what, st.PortMirroring, st.PCIAddress, want, pci)
		}
	}
	if _, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{ProfileID: &mirror.ID}); err != nil {
		t.Fatalf("live move to a mirroring profile: %v", err)
	}
	check("moved to the mirroring profile", true)
	if got := e.stored(n.ID).Observed; got.Filter != "clean-traffic" || got.QoS != q.Bandwidth() {
		t.Fatalf("after the move the host has filter %q and %s, want clean-traffic and %s", got.Filter, got.QoS, q.Bandwidth())
	}
	if _, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{Linked: ptr(false)}); err != nil {
		t.Fatalf("link change of a mirrored vNIC: %v", err)
	}
	check("unlinked", true)
	if _, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{ProfileID: &red, Linked: ptr(true)}); err != nil {
		t.Fatalf("live move off the mirroring profile: %v", err)
	}
	check("moved back", false)
	if got := e.stored(n.ID).Observed; got.Filter != vwire.DefaultNWFilter || !got.QoS.IsZero() {
		t.Fatalf("moved back, the host has filter %q and %s, want %s and no QoS", got.Filter, got.QoS, vwire.DefaultNWFilter)
	}
}

// TestProfileFanOut: a profile's change reaches every running vNIC using
// it, with one event per VM; a vNIC its host cannot update stays unsynced
// with the host's reason, and the next change that reaches it clears it.
func TestProfileFanOut(t *testing.T) { forEachStore(t, testProfileFanOut) }

func testProfileFanOut(t *testing.T) {
	var ref *refusing
	e := newEnvOpts(t, envOpts{hv: func(s *sim.Sim) hypervisor.Hypervisor {
		ref = &refusing{Hypervisor: s, aliases: map[string]bool{}}
		return ref
	}})
	red := e.network("red")
	a, b, c := e.vm("a"), e.vm("b"), e.vm("c")
	na := e.nic(a.ID, engine.NICSpec{Name: "nic1", ProfileID: red})
	nb := e.nic(b.ID, engine.NICSpec{Name: "nic1", ProfileID: red})
	nc := e.nic(c.ID, engine.NICSpec{Name: "nic1", ProfileID: red}) // c does not run
	e.start(a.ID)
	e.start(b.ID)
	ref.refuse(nb.Alias(), true)

	if _, err := e.eng.UpdateProfile(ctx(), red, func(p *vwire.VNICProfile) error { p.PortMirroring = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if got := e.stored(na.ID); got.Observed == nil || !got.Observed.Mirroring || !got.Synced || got.Observed.Error != "" {
		t.Fatalf("a's vNIC after the fan-out: %+v synced %v", got.Observed, got.Synced)
	}
	got := e.stored(nb.ID)
	if got.Synced || got.Observed == nil || got.Observed.Mirroring || !strings.Contains(got.Observed.Error, "the shaper is gone") {
		t.Fatalf("b's vNIC, refused by its host: %+v synced %v", got.Observed, got.Synced)
	}
	if got := e.stored(nc.ID); got.Observed != nil {
		t.Fatalf("c does not run, yet its vNIC was touched: %+v", got.Observed)
	}
	if evs := e.events(codeProfileApplied); len(evs) != 1 || !strings.Contains(evs[0], "VM a ") {
		t.Fatalf("applied events = %q, want one for VM a", evs)
	}
	if evs := e.events(codeProfileNotApplied); len(evs) != 1 || !strings.Contains(evs[0], "VM b.") || !strings.Contains(evs[0], "the shaper is gone") {
		t.Fatalf("not-applied events = %q, want one for VM b with the host's reason", evs)
	}
	// A poll keeps the reason while the vNIC still differs.
	e.eng.RefreshHost(ctx(), e.host.ID)
	if got := e.stored(nb.ID); got.Synced || !strings.Contains(got.Observed.Error, "the shaper is gone") {
		t.Fatalf("b's vNIC after a poll: %+v synced %v", got.Observed, got.Synced)
	}
	// The host recovers; the next change reaches both and clears the reason.
	ref.refuse(nb.Alias(), false)
	if _, err := e.eng.UpdateProfile(ctx(), red, func(p *vwire.VNICProfile) error { p.PortMirroring = false; return nil }); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*vwire.NIC{na, nb} {
		if got := e.stored(n.ID); !got.Synced || got.Observed.Mirroring || got.Observed.Error != "" {
			t.Fatalf("after mirroring off: %+v synced %v", got.Observed, got.Synced)
		}
	}
}

// TestQoSFanOut: editing a QoS entity changes the limit of every running
// vNIC whose profile names it; removing it removes the limit live (the
// stale limits of oVirt's 2024 and 2025 bugs), and so does clearing a
// profile's QoS.
func TestQoSFanOut(t *testing.T) { forEachStore(t, testQoSFanOut) }

func testQoSFanOut(t *testing.T) {
	e := newEnvWith(t, false)
	red := e.network("red")
	mk := func(name string, mbps int) *vwire.QoS {
		q := &vwire.QoS{Name: name, DataCenterID: e.dc.ID, Type: vwire.QoSNetwork, Outbound: vwire.Rate{Average: mbps, Peak: mbps, Burst: 1}}
		if err := e.eng.AddQoS(ctx(), q); err != nil {
			t.Fatal(err)
		}
		return q
	}
	q1, q2 := mk("q1", 1), mk("q2", 5)
	if _, err := e.eng.UpdateProfile(ctx(), red, func(p *vwire.VNICProfile) error { p.QoSID = q1.ID; return nil }); err != nil {
		t.Fatal(err)
	}
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: red})
	e.start(vm.ID)
	host := func() vwire.Bandwidth {
		t.Helper()
		d, _ := e.sim.Domain(ctx(), vm.ID)
		st, _ := d.NICByAlias(n.Alias())
		if st.Bandwidth == nil {
			return vwire.Bandwidth{}
		}
		var b vwire.Bandwidth
		if r := st.Bandwidth.Outbound; r != nil {
			peak := r.Peak
			if peak == 0 { // the host's canonical form: no peak above the average
				peak = r.Average
			}
			b.Outbound = vwire.RateFromLibvirt(vwire.LibvirtRate{Average: r.Average, Peak: peak, Burst: r.Burst})
		}
		return b
	}
	want := func(what string, b vwire.Bandwidth) {
		t.Helper()
		got := e.stored(n.ID)
		if h := host(); h != b || got.Observed.QoS != b || !got.Synced {
			t.Fatalf("%s: host %s, reported %s (synced %v), want %s", what, h, got.Observed.QoS, got.Synced, b)
		}
	}
	want("started", q1.Bandwidth())
	if _, err := e.eng.UpdateQoS(ctx(), e.dc.ID, q1.ID, func(q *vwire.QoS) error { q.Outbound.Average, q.Outbound.Peak = 2, 2; return nil }); err != nil {
		t.Fatal(err)
	}
	want("QoS raised", vwire.Bandwidth{Outbound: vwire.Rate{Average: 2, Peak: 2, Burst: 1}})
	if err := e.eng.RemoveQoS(ctx(), e.dc.ID, q1.ID); err != nil {
		t.Fatal(err)
	}
	want("QoS removed", vwire.Bandwidth{})
	if _, err := e.eng.UpdateProfile(ctx(), red, func(p *vwire.VNICProfile) error { p.QoSID = q2.ID; return nil }); err != nil {
		t.Fatal(err)
	}
	want("another QoS", q2.Bandwidth())
	if _, err := e.eng.UpdateProfile(ctx(), red, func(p *vwire.VNICProfile) error { p.QoSID = ""; return nil }); err != nil {
		t.Fatal(err)
	}
	want("profile's QoS cleared", vwire.Bandwidth{})
}
