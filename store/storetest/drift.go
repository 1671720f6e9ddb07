package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// testDriftPolicy: a cluster's policy round-trips, and a cluster made
// without one reports (the default, as old rows get from the migration).
func testDriftPolicy(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	plain := &vwire.Cluster{ID: uuid.NewString(), Name: "cl-" + uuid.NewString()[:8], DataCenterID: f.dc.ID,
		Version: vwire.NewestVersion, MACPoolID: f.pool.ID}
	update(t, s, func(tx vwire.Tx) error { return tx.CreateCluster(plain) })
	read := func(id string) vwire.DriftPolicy {
		t.Helper()
		var c *vwire.Cluster
		if err := s.View(ctx(), func(tx vwire.Tx) (err error) { c, err = tx.Cluster(id); return }); err != nil {
			t.Fatal(err)
		}
		return c.DriftPolicy
	}
	if got := read(plain.ID); got != vwire.DriftReport {
		t.Errorf("policy of a cluster made without one = %q, want %q", got, vwire.DriftReport)
	}
	if got := read(f.cluster.ID); got != vwire.DriftEnforce {
		t.Errorf("policy = %q, want %q", got, vwire.DriftEnforce)
	}
	f.cluster.DriftPolicy = vwire.DriftReport
	update(t, s, func(tx vwire.Tx) error { return tx.UpdateCluster(f.cluster) })
	if got := read(f.cluster.ID); got != vwire.DriftReport {
		t.Errorf("policy after update = %q, want %q", got, vwire.DriftReport)
	}
}

// testForeignNICs: the unknown devices reported for a VM are written only by
// SetForeignNICs, and every read of the VM carries them.
func testForeignNICs(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	keys := []string{"1700000001000 net1 52:54:00:00:00:01", "1700000001000 ua-x 02:00:00:00:00:09"}
	update(t, s, func(tx vwire.Tx) error { return tx.SetForeignNICs(f.vm.ID, keys) })
	check := func(what string, want []string) {
		t.Helper()
		s.View(ctx(), func(tx vwire.Tx) error {
			vm, err := tx.VM(f.vm.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, vm.ForeignNICs); diff != "" {
				t.Errorf("%s: VM (-want +got):\n%s", what, diff)
			}
			on, err := tx.VMs(vwire.VMFilter{HostID: f.host.ID})
			if err != nil || len(on) != 1 {
				t.Fatalf("VMsOnHost = %v, %v", on, err)
			}
			if diff := cmp.Diff(want, on[0].ForeignNICs); diff != "" {
				t.Errorf("%s: VMsOnHost (-want +got):\n%s", what, diff)
			}
			return nil
		})
	}
	check("set", keys)
	// A use case writing the VM from a copy read earlier must not undo it.
	stale := *f.vm
	stale.Description = "edited"
	update(t, s, func(tx vwire.Tx) error { return tx.UpdateVM(&stale) })
	check("after UpdateVM", keys)
	update(t, s, func(tx vwire.Tx) error { return tx.SetForeignNICs(f.vm.ID, nil) })
	check("cleared", nil)
	err := s.Update(ctx(), func(tx vwire.Tx) error { return tx.SetForeignNICs(uuid.NewString(), keys) })
	if code(err) != vwire.ENOTFOUND {
		t.Errorf("missing VM: %v, want not found", err)
	}
}
