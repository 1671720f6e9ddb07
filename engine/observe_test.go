package engine_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
)

// recorder is an engine.Observer that keeps what it is told.
type recorder struct {
	mu       sync.Mutex
	changes  []string // "kind outcome"
	found    int
	repaired int
	polls    map[string]int // by host, reached ones
}

func (r *recorder) Change(kind, outcome string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, kind+" "+outcome)
}

func (r *recorder) Drift(found, repaired int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.found += found
	r.repaired += repaired
}

func (r *recorder) PollCycle(host string, took time.Duration, reached bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.polls == nil {
		r.polls = map[string]int{}
	}
	if reached {
		r.polls[host]++
	}
}

// since returns the changes told after the first n.
func (r *recorder) since(n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.changes[n:])
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.changes)
}

// TestObserver: each outcome of a change is told once, where it is known;
// an unknown one is told again when settled; drift and polls are told.
func TestObserver(t *testing.T) {
	rec := &recorder{}
	e := newEnvOpts(t, envOpts{embedded: true, hostTimeout: 300 * time.Millisecond, proxy: true, observer: rec})
	red := e.network("red")
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt}) // VM down: no host change
	want := func(step string, from int, w ...string) {
		t.Helper()
		if got := rec.since(from); !slices.Equal(got, w) {
			t.Errorf("%s: told %q, want %q", step, got, w)
		}
	}
	want("a vNIC added to a stopped VM", 0)

	at := rec.count()
	e.start(vm.ID)
	want("start", at, "start applied")

	at = rec.count()
	if _, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{Linked: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	want("live update", at, "nic applied")

	// The host refuses: its bridge is gone behind the engine's back.
	e.sim.RemoveBridges(context.Background(), []string{"red"})
	at = rec.count()
	if _, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{ProfileID: &red}); vwire.ErrorCode(err) != vwire.EHOST {
		t.Fatalf("move to a missing bridge: %v", err)
	}
	want("host refusal", at, "nic refused")
	e.sim.EnsureBridges(context.Background(), []string{"red"})

	// A refusal by the rules never reaches a host: not a change.
	at = rec.count()
	if _, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{MAC: ptr("00:1a:4a:16:01:99")}); err == nil {
		t.Fatal("a MAC change of a plugged vNIC on a running VM was allowed")
	}
	want("rule refusal", at)

	// Unknown, then settled by the poller once the host answers again.
	at = rec.count()
	e.proxy.Freeze()
	if _, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{Linked: ptr(true)}); vwire.ErrorCode(err) != vwire.EUNAVAILABLE {
		t.Fatalf("update to a frozen host: %v", err)
	}
	want("frozen host", at, "nic unknown")
	e.proxy.Thaw()
	e.eng.PollAll(ctx())
	want("thawed, polled", at, "nic unknown", "nic settled")

	// Drift: the cable plugged back behind the engine's back.
	if err := e.sim.SetLink(vm.ID, n.Alias(), true); err != nil {
		t.Fatal(err)
	}
	e.eng.PollAll(ctx())
	rec.mu.Lock()
	found, polls := rec.found, rec.polls[e.host.Name]
	rec.mu.Unlock()
	if found != 1 {
		t.Errorf("drift found %d, want 1", found)
	}
	if polls < 2 {
		t.Errorf("%d reached polls of %s told, want 2", polls, e.host.Name)
	}
	// Under enforce the next poll repairs it.
	e.setPolicy(vwire.DriftEnforce)
	e.eng.PollAll(ctx())
	rec.mu.Lock()
	repaired := rec.repaired
	rec.mu.Unlock()
	if repaired != 1 {
		t.Errorf("drift repaired %d, want 1", repaired)
	}

	at = rec.count()
	if _, err := e.eng.StopVM(ctx(), vm.ID); err != nil {
		t.Fatal(err)
	}
	want("stop", at, fmt.Sprint("stop ", engine.OutcomeApplied))
}
