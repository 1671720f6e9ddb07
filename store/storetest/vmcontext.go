package storetest

import (
	"reflect"
	"testing"
	"time"

	"vwire.dev/vwire"
)

// testVMContext: a VM's context in one statement equals its parts read one
// by one: with a host and a change in flight, and without either; a missing
// VM is ENOTFOUND.
func testVMContext(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	p := vwire.Pending{VMID: f.vm.ID, EngineID: "e1", NICID: "n1", Started: time.UnixMilli(1700000002000), OpID: "op1",
		Intent: []byte(`{"kind":"nic"}`), JobID: "job1"}
	update(t, s, func(tx vwire.Tx) error { return tx.SetPending(p) })
	same := func(when string) {
		t.Helper()
		s.View(ctx(), func(tx vwire.Tx) error {
			vm, c, h, pend, err := tx.VMContext(f.vm.ID)
			if err != nil {
				t.Fatalf("%s: VMContext: %v", when, err)
			}
			wantVM, _ := tx.VM(f.vm.ID)
			wantC, _ := tx.Cluster(f.cluster.ID)
			wantP, _ := tx.PendingOf(f.vm.ID)
			var wantH *vwire.Host
			if wantVM.HostID != "" {
				wantH, _ = tx.Host(wantVM.HostID)
			}
			if !reflect.DeepEqual(vm, wantVM) || !reflect.DeepEqual(c, wantC) || !reflect.DeepEqual(h, wantH) || !reflect.DeepEqual(pend, wantP) {
				t.Errorf("%s: VMContext =\n%+v\n%+v\n%+v\n%+v\nwant\n%+v\n%+v\n%+v\n%+v", when, vm, c, h, pend, wantVM, wantC, wantH, wantP)
			}
			return nil
		})
	}
	same("with a host and a change in flight")
	s.View(ctx(), func(tx vwire.Tx) error {
		if _, _, h, pend, _ := tx.VMContext(f.vm.ID); h == nil || h.ID != f.host.ID || pend == nil || pend.JobID != "job1" {
			t.Errorf("host %+v, change %+v; want the fixture's host and the change set", h, pend)
		}
		return nil
	})
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.ClearPending(f.vm.ID); err != nil {
			return err
		}
		vm, err := tx.VM(f.vm.ID)
		if err != nil {
			return err
		}
		vm.Status, vm.HostID = vwire.VMDown, ""
		return tx.UpdateVM(vm)
	})
	same("down, nothing in flight")
	s.View(ctx(), func(tx vwire.Tx) error {
		if _, _, h, pend, _ := tx.VMContext(f.vm.ID); h != nil || pend != nil {
			t.Errorf("host %+v, change %+v; want none", h, pend)
		}
		if _, _, _, _, err := tx.VMContext("no-such-vm"); vwire.ErrorCode(err) != vwire.ENOTFOUND {
			t.Errorf("a missing VM: %v, want ENOTFOUND", err)
		}
		return nil
	})
}
