package engine_test

import (
	"strconv"
	"testing"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
)

// BenchmarkLinkFlip measures one live link change through the engine: the
// VM lock, the rules, the JSON-RPC call to the agent on loopback, and the
// commit with its audit event, on SQLite.
func BenchmarkLinkFlip(b *testing.B) {
	e := newEnvB(b)
	vm := e.vm("bench")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	e.start(vm.ID)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		up := i%2 == 1
		if _, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{Linked: &up}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLinkFlipParallel runs link changes on many VMs at once.
func BenchmarkLinkFlipParallel(b *testing.B) {
	e := newEnvB(b)
	type target struct{ vm, nic string }
	var ts []target
	for i := 0; i < 64; i++ {
		vm := e.vm("bench" + strconv.Itoa(i))
		n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
		e.start(vm.ID)
		ts = append(ts, target{vm.ID, n.ID})
	}
	next := make(chan int, 64)
	for i := range ts {
		next <- i
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := <-next
		up := false
		for pb.Next() {
			up = !up
			if _, err := e.eng.UpdateNIC(ctx(), ts[i].vm, ts[i].nic, vwire.NICPatch{Linked: &up}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
