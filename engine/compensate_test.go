package engine_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
	"vwire.dev/vwire/hypervisor"
	"vwire.dev/vwire/hypervisor/sim"
)

// refusingStore refuses the next write transaction once armed: the
// database failing to record a change the host already has.
type refusingStore struct {
	vwire.Store
	armed atomic.Bool
}

var errRefused = errors.New("the database refused the write")

func (s *refusingStore) Update(ctx context.Context, fn func(vwire.Tx) error) error {
	if s.armed.CompareAndSwap(true, false) {
		return errRefused
	}
	return s.Store.Update(ctx, fn)
}

// recordFailSim arms the store's refusal when the host has done a change,
// and fails the reverts asked for.
type recordFailSim struct {
	*sim.Sim
	store                     *refusingStore
	refuseCreate, refuseNIC   atomic.Bool
	failDestroy, failNICCalls atomic.Bool
}

func (s *recordFailSim) CreateDomain(ctx context.Context, d hypervisor.Domain) (hypervisor.DomainState, error) {
	st, err := s.Sim.CreateDomain(ctx, d)
	if err == nil && s.refuseCreate.Load() {
		s.store.armed.Store(true)
	}
	return st, err
}

func (s *recordFailSim) DestroyDomain(ctx context.Context, id string) error {
	if s.failDestroy.Load() {
		return errors.New("destroy failed")
	}
	return s.Sim.DestroyDomain(ctx, id)
}

func (s *recordFailSim) UpdateNIC(ctx context.Context, id string, n hypervisor.NIC) (hypervisor.NICState, error) {
	if s.failNICCalls.Load() {
		return hypervisor.NICState{}, errors.New("update failed")
	}
	st, err := s.Sim.UpdateNIC(ctx, id, n)
	if err == nil && s.refuseNIC.CompareAndSwap(true, false) { // not the revert's call
		s.store.armed.Store(true)
		s.failNICCalls.Store(s.failDestroy.Load()) // the revert fails too
	}
	return st, err
}

func recordFailEnv(t *testing.T) (*env, *recordFailSim) {
	rs := &recordFailSim{store: &refusingStore{}}
	e := newEnvOpts(t, envOpts{embedded: true,
		store: func(s vwire.Store) vwire.Store { rs.store.Store = s; return rs.store },
		hv:    func(s *sim.Sim) hypervisor.Hypervisor { rs.Sim = s; return rs }})
	return e, rs
}

func (e *env) vmState(id string) *vwire.VM {
	e.t.Helper()
	var vm *vwire.VM
	e.store.View(ctx(), func(tx vwire.Tx) (err error) { vm, err = tx.VM(id); return })
	return vm
}

// TestStartCompensated: the host started the VM but the database refused to
// record it. The VM is destroyed on the host and put back down with the run
// failure event; if the destroy fails, the start stays in flight, marked
// unknown, and settling records the VM up (the host runs it).
func TestStartCompensated(t *testing.T) { forEachStore(t, testStartCompensated) }

func testStartCompensated(t *testing.T) {
	e, rs := recordFailEnv(t)
	vm := e.vm("vm1")
	e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	since := e.lastEventID()
	rs.refuseCreate.Store(true)
	if _, err := e.eng.StartVM(ctx(), vm.ID); !errors.Is(err, errRefused) {
		t.Fatalf("start: err = %v, want the refusal", err)
	}
	if got := e.vmState(vm.ID); got.Status != vwire.VMDown || got.HostID != "" {
		t.Errorf("after a reverted start: status %s host %q, want down, none", got.Status, got.HostID)
	}
	if _, err := e.sim.Domain(context.Background(), vm.ID); err == nil {
		t.Errorf("the host still runs the VM after the revert")
	}
	if p := e.pending(vm.ID); p != nil {
		t.Errorf("a change is still in flight (unknown %v)", p.Unknown)
	}
	if codes := e.eventCodes(since); !contains(codes, 54) {
		t.Errorf("events %v, want the run failure (54)", codes)
	}

	// The destroy fails: the VM may run, so it is neither marked down nor
	// forgotten.
	rs.failDestroy.Store(true)
	if _, err := e.eng.StartVM(ctx(), vm.ID); !errors.Is(err, errRefused) {
		t.Fatalf("start: err = %v, want the refusal", err)
	}
	rs.refuseCreate.Store(false)
	rs.failDestroy.Store(false)
	if got := e.vmState(vm.ID); got.Status == vwire.VMDown {
		t.Errorf("after a failed revert the VM is marked down, but the host runs it")
	}
	if p := e.pending(vm.ID); p == nil || !p.Unknown {
		t.Fatalf("after a failed revert: in flight %v, want the start marked unknown", p != nil)
	}
	e.eng.PollAll(ctx())
	if got := e.vmState(vm.ID); got.Status != vwire.VMUp {
		t.Errorf("settled: status %s, want up (the host runs it)", got.Status)
	}
	if p := e.pending(vm.ID); p != nil {
		t.Errorf("settled: still in flight (unknown %v)", p.Unknown)
	}
}

// TestLiveUpdateCompensated: the host changed the vNIC but the database
// refused to record it. The host is put back; if that fails, the change
// stays in flight marked unknown, and settling records it.
func TestLiveUpdateCompensated(t *testing.T) { forEachStore(t, testLiveUpdateCompensated) }

func testLiveUpdateCompensated(t *testing.T) {
	e, rs := recordFailEnv(t)
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	e.start(vm.ID)
	rs.refuseNIC.Store(true)
	if _, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{Linked: ptr(false)}); !errors.Is(err, errRefused) {
		t.Fatalf("update: err = %v, want the refusal", err)
	}
	if _, up, _, _ := e.live(vm.ID, n); !up {
		t.Errorf("the host kept the link down after the revert")
	}
	if got := e.stored(n.ID); !got.Linked {
		t.Errorf("the database has the refused change")
	}
	if p := e.pending(vm.ID); p != nil {
		t.Errorf("a change is still in flight (unknown %v)", p.Unknown)
	}

	rs.refuseNIC.Store(true)
	rs.failDestroy.Store(true) // the revert fails
	if _, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{Linked: ptr(false)}); !errors.Is(err, errRefused) {
		t.Fatalf("update: err = %v, want the refusal", err)
	}
	rs.failDestroy.Store(false)
	rs.failNICCalls.Store(false)
	if p := e.pending(vm.ID); p == nil || !p.Unknown {
		t.Fatalf("after a failed revert: in flight %v, want the change marked unknown", p != nil)
	}
	e.eng.PollAll(ctx())
	if got := e.stored(n.ID); got.Linked {
		t.Errorf("settled: the database does not have the change the host has")
	}
	if p := e.pending(vm.ID); p != nil {
		t.Errorf("settled: still in flight (unknown %v)", p.Unknown)
	}
}
