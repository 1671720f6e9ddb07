package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// testFilters checks that every filter field selects in the database what
// it says, that Max bounds the list in its order, and that an empty filter
// lists everything: two fixtures (two data centers, clusters, networks,
// hosts) and VMs in both.
func testFilters(t *testing.T, s vwire.Store) {
	a := newFixture(t, s)
	// A second fixture's host has the same address and port: move a's.
	a.host.Port = 54322
	update(t, s, func(tx vwire.Tx) error { return tx.UpdateHost(a.host) })
	b := newFixture(t, s)
	down := func(f *fixture, name string) *vwire.VM {
		return &vwire.VM{ID: uuid.NewString(), Name: name, ClusterID: f.cluster.ID, TemplateID: vwire.BlankTemplateID,
			Status: vwire.VMDown, Memory: 1 << 30, OSType: "other", CreatedAt: time.UnixMilli(1700000000000)}
	}
	a2, a3 := down(a, "zz-"+a.vm.Name), down(a, "zy-"+a.vm.Name)
	bLost := &vwire.Host{ID: uuid.NewString(), Name: "h2-" + uuid.NewString()[:8], ClusterID: b.cluster.ID, Address: "192.0.2.9",
		Port: 54321, Status: vwire.HostNonResponsive}
	update(t, s, func(tx vwire.Tx) error {
		for _, v := range []*vwire.VM{a2, a3} {
			if err := tx.CreateVM(v); err != nil {
				return err
			}
		}
		return tx.CreateHost(bLost)
	})
	ids := func(n int, err error, list func(int) string) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		out := make([]string, n)
		for i := range out {
			out[i] = list(i)
		}
		return out
	}
	check := func(what string, got []string, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
			return
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s = %v, want %v", what, got, want)
				return
			}
		}
	}
	err := s.View(ctx(), func(tx vwire.Tx) error {
		vms := func(f vwire.VMFilter) []string {
			l, err := tx.VMs(f)
			return ids(len(l), err, func(i int) string { return l[i].ID })
		}
		// Ordered by name: a.vm ("vm-…") < a3 ("zy-…") < a2 ("zz-…").
		check("VMs(cluster a)", vms(vwire.VMFilter{ClusterID: a.cluster.ID}), a.vm.ID, a3.ID, a2.ID)
		check("VMs(cluster a, max 2)", vms(vwire.VMFilter{ClusterID: a.cluster.ID, Max: 2}), a.vm.ID, a3.ID)
		check("VMs(cluster a, down)", vms(vwire.VMFilter{ClusterID: a.cluster.ID, Status: vwire.VMDown}), a3.ID, a2.ID)
		check("VMs(host b)", vms(vwire.VMFilter{HostID: b.host.ID}), b.vm.ID)
		check("VMs(name)", vms(vwire.VMFilter{Name: a2.Name}), a2.ID)
		check("VMs(name, other cluster)", vms(vwire.VMFilter{Name: a2.Name, ClusterID: b.cluster.ID}))
		check("VMs(template blank, cluster b)", vms(vwire.VMFilter{TemplateID: vwire.BlankTemplateID, ClusterID: b.cluster.ID}), b.vm.ID)
		if all := vms(vwire.VMFilter{}); len(all) < 4 {
			t.Errorf("VMs() lists %d, want at least 4", len(all))
		}

		hosts := func(f vwire.HostFilter) []string {
			l, err := tx.Hosts(f)
			return ids(len(l), err, func(i int) string { return l[i].ID })
		}
		check("Hosts(cluster b)", hosts(vwire.HostFilter{ClusterID: b.cluster.ID}), b.host.ID, bLost.ID)
		check("Hosts(cluster b, non_responsive)", hosts(vwire.HostFilter{ClusterID: b.cluster.ID, Status: vwire.HostNonResponsive}), bLost.ID)
		check("Hosts(cluster b, max 1)", hosts(vwire.HostFilter{ClusterID: b.cluster.ID, Max: 1}), b.host.ID)
		all, err := tx.CountHosts("")
		if err != nil {
			t.Fatal(err)
		}
		lost, err := tx.CountHosts(vwire.HostNonResponsive)
		if err != nil {
			t.Fatal(err)
		}
		if every := hosts(vwire.HostFilter{}); all != len(every) || lost < 1 || lost >= all {
			t.Errorf("CountHosts: all %d (Hosts lists %d), down %d", all, len(every), lost)
		}

		cls := func(f vwire.ClusterFilter) []string {
			l, err := tx.Clusters(f)
			return ids(len(l), err, func(i int) string { return l[i].ID })
		}
		check("Clusters(dc a)", cls(vwire.ClusterFilter{DataCenterID: a.dc.ID}), a.cluster.ID)
		check("Clusters(pool b)", cls(vwire.ClusterFilter{MACPoolID: b.pool.ID}), b.cluster.ID)
		check("Clusters(name a)", cls(vwire.ClusterFilter{Name: a.cluster.Name}), a.cluster.ID)

		nets := func(f vwire.NetworkFilter) []string {
			l, err := tx.Networks(f)
			return ids(len(l), err, func(i int) string { return l[i].ID })
		}
		// Both networks are named "red": the data center tells them apart.
		check("Networks(dc b)", nets(vwire.NetworkFilter{DataCenterID: b.dc.ID}), b.net.ID)
		check("Networks(dc a, red)", nets(vwire.NetworkFilter{DataCenterID: a.dc.ID, Name: "red"}), a.net.ID)
		check("Networks(dc a, blue)", nets(vwire.NetworkFilter{DataCenterID: a.dc.ID, Name: "blue"}))

		ps, err := tx.Profiles(vwire.ProfileFilter{NetworkID: a.net.ID})
		check("Profiles(net a)", ids(len(ps), err, func(i int) string { return ps[i].ID }), a.profile.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
