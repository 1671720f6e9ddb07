package engine_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
	"vwire.dev/vwire/hypervisor"
	"vwire.dev/vwire/hypervisor/sim"
)

// slowSim is the simulated hypervisor with a delay before each change of a
// domain: a host that carries a change out after its caller gave up.
type slowSim struct {
	*sim.Sim
	delay atomic.Int64 // nanoseconds
}

func (s *slowSim) wait() { time.Sleep(time.Duration(s.delay.Load())) }

func (s *slowSim) AttachNIC(ctx context.Context, id string, n hypervisor.NIC) (hypervisor.NICState, error) {
	s.wait()
	return s.Sim.AttachNIC(ctx, id, n)
}

func (s *slowSim) UpdateNIC(ctx context.Context, id string, n hypervisor.NIC) (hypervisor.NICState, error) {
	s.wait()
	return s.Sim.UpdateNIC(ctx, id, n)
}

func (s *slowSim) DetachNIC(ctx context.Context, id, alias string) error {
	s.wait()
	return s.Sim.DetachNIC(ctx, id, alias)
}

func (s *slowSim) DestroyDomain(ctx context.Context, id string) error {
	s.wait()
	return s.Sim.DestroyDomain(ctx, id)
}

func slowEnv(t *testing.T, timeout time.Duration) (*env, *slowSim) {
	var slow *slowSim
	e := newEnvOpts(t, envOpts{embedded: true, hostTimeout: timeout,
		hv: func(s *sim.Sim) hypervisor.Hypervisor { slow = &slowSim{Sim: s}; return slow }})
	return e, slow
}

func errKey(err error) (vwire.Code, vwire.MsgKey) {
	var ve *vwire.Error
	if errors.As(err, &ve) {
		return ve.Code, ve.Key
	}
	return vwire.ErrorCode(err), ""
}

// events returns the codes of the events written since (exclusive).
func (e *env) eventCodes(since int64) []int {
	e.t.Helper()
	var evs []*vwire.Event
	e.store.View(ctx(), func(tx vwire.Tx) (err error) { evs, err = tx.Events(since, 0); return })
	var out []int
	for i := len(evs) - 1; i >= 0; i-- {
		out = append(out, evs[i].Code)
	}
	return out
}

func (e *env) lastEventID() int64 {
	e.t.Helper()
	var evs []*vwire.Event
	e.store.View(ctx(), func(tx vwire.Tx) (err error) { evs, err = tx.Events(0, 1); return })
	if len(evs) == 0 {
		return 0
	}
	return evs[0].ID
}

func (e *env) pending(vmID string) *vwire.Pending {
	e.t.Helper()
	var p *vwire.Pending
	e.store.View(ctx(), func(tx vwire.Tx) (err error) { p, err = tx.PendingOf(vmID); return })
	return p
}

func contains(codes []int, code int) bool {
	for _, c := range codes {
		if c == code {
			return true
		}
	}
	return false
}

// TestUnknownOutcomeAppliedLate: a host that carries a change out after the
// engine's call timed out. The answer is the truth (the change, applied),
// the database has it, and an event says it was applied late.
func TestUnknownOutcomeAppliedLate(t *testing.T) { forEachStore(t, testUnknownOutcomeAppliedLate) }

func testUnknownOutcomeAppliedLate(t *testing.T) {
	// A call times out after 600 ms; the host finishes at 900 ms, well
	// inside the 600 ms the engine then gives the settling.
	e, slow := slowEnv(t, 600*time.Millisecond)
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	e.start(vm.ID)
	since := e.lastEventID()
	slow.delay.Store(int64(900 * time.Millisecond))
	got, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{Linked: ptr(false)})
	slow.delay.Store(0)
	if err != nil {
		t.Fatalf("update applied late: err = %v, want the applied change", err)
	}
	if got.Linked || !got.Synced {
		t.Errorf("answer: linked %v synced %v, want false, true", got.Linked, got.Synced)
	}
	if _, up, _, _ := e.live(vm.ID, n); up {
		t.Error("host link is up, want down")
	}
	if s := e.stored(n.ID); s.Linked || !s.Synced {
		t.Errorf("database: linked %v synced %v, want false, true", s.Linked, s.Synced)
	}
	if p := e.pending(vm.ID); p != nil {
		t.Errorf("change still in flight: %+v", p)
	}
	codes := e.eventCodes(since)
	if !contains(codes, 10910) || !contains(codes, 934) {
		t.Errorf("events %v, want 934 and 10910 (applied late)", codes)
	}

	// A hot plug carried out late: the vNIC exists, with its MAC leased.
	slow.delay.Store(int64(900 * time.Millisecond))
	n2, err := e.eng.AddNIC(ctx(), vm.ID, engine.NICSpec{Name: "nic2", ProfileID: e.mgmt})
	slow.delay.Store(0)
	if err != nil {
		t.Fatalf("hot plug applied late: %v", err)
	}
	if _, _, _, present := e.live(vm.ID, n2); !present || !e.stored(n2.ID).Synced {
		t.Errorf("hot plug applied late: present on host %v, synced %v", present, e.stored(n2.ID).Synced)
	}
}

// TestUnknownOutcomeNotApplied: the host is frozen while a change is on
// its way (SIGSTOP, as a proxy that holds every byte). The engine answers
// that the outcome is unknown, keeps the MAC reserved, and once the host
// wakes the poller settles the change: the host refused the late request
// (its deadline passed, and it was fenced), so the change is rolled back.
func TestUnknownOutcomeNotApplied(t *testing.T) { forEachStore(t, testUnknownOutcomeNotApplied) }

func testUnknownOutcomeNotApplied(t *testing.T) {
	e := newEnvOpts(t, envOpts{embedded: true, hostTimeout: 300 * time.Millisecond, proxy: true})
	red := e.network("red")
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	e.start(vm.ID)
	since := e.lastEventID()

	e.proxy.Freeze()
	_, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{ProfileID: &red})
	if code, key := errKey(err); code != vwire.EUNAVAILABLE || key != vwire.MsgHostOutcomeUnknown {
		t.Fatalf("move to a frozen host: err = %v, want unavailable HOST_OUTCOME_UNKNOWN", err)
	}
	_, err = e.eng.AddNIC(ctx(), vm.ID, engine.NICSpec{Name: "nic2", ProfileID: e.mgmt})
	if code, _ := errKey(err); code != vwire.EUNAVAILABLE {
		t.Fatalf("a second change while the first is unknown: err = %v, want unavailable", err)
	}
	p := e.pending(vm.ID)
	if p == nil || !p.Unknown {
		t.Fatalf("pending = %+v, want the move marked unknown", p)
	}
	e.proxy.Thaw()
	e.eng.PollAll(ctx())
	if p := e.pending(vm.ID); p != nil {
		t.Fatalf("not settled by the poll: %+v", p)
	}
	if br, up, _, _ := e.live(vm.ID, n); br != "ovirtmgmt" || !up {
		t.Errorf("host has %s up=%v, want ovirtmgmt up (the late request must not run)", br, up)
	}
	if s := e.stored(n.ID); s.ProfileID != e.mgmt || !s.Synced {
		t.Errorf("database: profile %s synced %v, want ovirtmgmt, synced", s.ProfileID, s.Synced)
	}
	if codes := e.eventCodes(since); !contains(codes, 10911) {
		t.Errorf("events %v, want 10911 (rolled back)", codes)
	}

	// A hot plug to a frozen host keeps its MAC reserved until settled,
	// then frees it; no ghost device stays on the host.
	e.proxy.Freeze()
	_, err = e.eng.AddNIC(ctx(), vm.ID, engine.NICSpec{Name: "nic2", ProfileID: e.mgmt, MAC: "00:1a:4a:16:01:77"})
	if code, _ := errKey(err); code != vwire.EUNAVAILABLE {
		t.Fatalf("hot plug to a frozen host: err = %v, want unavailable", err)
	}
	vm2 := e.vm("vm2")
	if _, err := e.eng.AddNIC(ctx(), vm2.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt, MAC: "00:1a:4a:16:01:77"}); key(err) != vwire.MsgNetworkMACAddressInUse {
		t.Errorf("the unknown hot plug's MAC given to another vNIC: err = %v", err)
	}
	e.proxy.Thaw()
	e.eng.PollAll(ctx())
	d, _ := e.sim.Domain(context.Background(), vm.ID)
	if len(d.NICs) != 1 {
		t.Errorf("host has %d devices after settling, want 1", len(d.NICs))
	}
	if _, err := e.eng.AddNIC(ctx(), vm2.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt, MAC: "00:1a:4a:16:01:77"}); err != nil {
		t.Errorf("MAC not freed after the hot plug was rolled back: %v", err)
	}
}

// TestUnknownOutcomeSettledByNextOperation: the VM's next operation settles
// an unknown change before it runs, and a host that wakes during the
// engine's own settling gives the truth at once.
func TestUnknownOutcomeSettledByNextOperation(t *testing.T) {
	// A call times out after 1 s and its settling after 1 s more: thawing
	// at 1.5 s falls between, with room for a loaded machine.
	e := newEnvOpts(t, envOpts{embedded: true, hostTimeout: time.Second, proxy: true})
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	e.start(vm.ID)
	e.proxy.Freeze()
	if _, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{Linked: ptr(false)}); vwire.ErrorCode(err) != vwire.EUNAVAILABLE {
		t.Fatalf("err = %v, want unavailable", err)
	}
	e.proxy.Thaw()
	got, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{Name: ptr("eth0")})
	if err != nil || got.Name != "eth0" || !got.Linked {
		t.Fatalf("next operation: %+v, %v; want renamed, still linked (the unknown change was not applied)", got, err)
	}
	// Thawed while the engine settles: the answer is definite.
	e.proxy.Freeze()
	go func() { time.Sleep(1500 * time.Millisecond); e.proxy.Thaw() }()
	_, err = e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{Linked: ptr(false)})
	if code, key := errKey(err); code != vwire.EHOST || key != vwire.MsgHostNotApplied {
		t.Fatalf("host woke while settling: err = %v, want a definite host failure (not applied)", err)
	}
	if _, up, _, _ := e.live(vm.ID, n); !up || e.pending(vm.ID) != nil || !e.stored(n.ID).Linked {
		t.Error("a change reported not applied is on the host or still in flight")
	}
}

// TestClientGoneDoesNotCutChange: a client that disconnects mid-change does
// not cancel the host call; the change completes and is recorded.
func TestClientGoneDoesNotCutChange(t *testing.T) {
	e, slow := slowEnv(t, 5*time.Second)
	red := e.network("red")
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	e.start(vm.ID)
	slow.delay.Store(int64(400 * time.Millisecond))
	cctx, cancel := context.WithTimeout(ctx(), 100*time.Millisecond)
	defer cancel()
	_, err := e.eng.UpdateNIC(cctx, vm.ID, n.ID, vwire.NICPatch{ProfileID: &red})
	slow.delay.Store(0)
	br, _, _, _ := e.live(vm.ID, n)
	s := e.stored(n.ID)
	if err != nil || br != "red" || s.ProfileID != red || !s.Synced {
		t.Errorf("client gone: err %v, host %s, database profile %s synced %v; want the move done and recorded", err, br, s.ProfileID, s.Synced)
	}
}

// TestBounceHoldLongerThanCallTimeout: a move whose link bounce holds the
// link down longer than the host call timeout still completes: the call's
// deadline grows with the hold, and the host runs it on its own budget.
func TestBounceHoldLongerThanCallTimeout(t *testing.T) {
	e := newEnvOpts(t, envOpts{embedded: true, hostTimeout: 300 * time.Millisecond})
	red := e.network("red")
	if _, err := e.eng.UpdateProfile(ctx(), red, func(p *vwire.VNICProfile) error {
		p.Notify, p.BounceHold = vwire.NotifyLinkBounce, 700*time.Millisecond
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	e.start(vm.ID)
	start := time.Now()
	got, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{ProfileID: &red})
	if err != nil || !got.Synced {
		t.Fatalf("move with a 700 ms hold and a 300 ms call timeout: %v", err)
	}
	if d := time.Since(start); d < 700*time.Millisecond {
		t.Errorf("move took %v, want at least the hold", d)
	}
	if br, up, _, _ := e.live(vm.ID, n); br != "red" || !up {
		t.Errorf("host: %s up=%v, want red up", br, up)
	}
}
