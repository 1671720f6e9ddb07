// Package storetest is the conformance suite of vwire.Store: every query,
// constraint and error translation, run against each database.
package storetest

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// Run runs the suite. newStore returns an empty, migrated store; peer, when
// not nil, opens a second handle on the same database, as a second engine
// would (databases that serve one engine pass nil).
func Run(t *testing.T, newStore func(t *testing.T) vwire.Store, peer func(t *testing.T, s vwire.Store) vwire.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s vwire.Store)
	}{
		{"Entities", testEntities},
		{"UniqueAndMissing", testUniqueAndMissing},
		{"NICs", testNICs},
		{"MACLeases", testMACLeases},
		{"MACAllocation", testMACAllocation},
		{"MACBatchAllocation", testMACBatchAllocation},
		{"Events", testEvents},
		{"Tokens", testTokens},
		{"Rollback", testRollback},
		{"Templates", testTemplates},
		{"Pending", testPending},
		{"DriftPolicy", testDriftPolicy},
		{"ForeignNICs", testForeignNICs},
		{"CountVMs", testCountVMs},
		{"Filters", testFilters},
		{"Search", testSearch},
		{"EnrolmentTokens", testEnrolmentTokens},
		{"Authz", testAuthz},
		{"CPUAndComment", testCPUAndComment},
		{"NetworkFilters", testNetworkFilters},
		{"Jobs", testJobs},
		{"JobStepUpdate", testJobStepUpdate},
		{"JobStepsAndEnd", testJobStepsAndEnd},
		{"EndChange", testEndChange},
		{"Read", testRead},
		{"VMContext", testVMContext},
		{"QoS", testQoS},
		{"HostNetworks", testHostNetworks},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
	t.Run("Generations", func(t *testing.T) { testGenerations(t, newStore(t)) })
	t.Run("HostLeases", func(t *testing.T) { testHostLeases(t, newStore(t)) })
	t.Run("ConcurrentWritersIsolated", func(t *testing.T) { testConcurrentWriters(t, newStore(t)) })
	t.Run("EventWakeups", func(t *testing.T) {
		s := newStore(t)
		testEventWakeups(t, s, s)
	})
	t.Run("ConcurrentMACs", func(t *testing.T) {
		s := newStore(t)
		testConcurrentMACs(t, s, s)
	})
	if peer != nil {
		t.Run("PeerConcurrentMACs", func(t *testing.T) {
			s := newStore(t)
			testConcurrentMACs(t, s, peer(t, s))
		})
		t.Run("PeerEventWakeups", func(t *testing.T) {
			s := newStore(t)
			testEventWakeups(t, s, peer(t, s))
		})
		t.Run("PeerVMLock", func(t *testing.T) {
			s := newStore(t)
			testVMLock(t, s, peer(t, s))
		})
		t.Run("PeerNoLostUpdate", func(t *testing.T) {
			s := newStore(t)
			testNoLostUpdate(t, s, peer(t, s))
		})
	}
}

func testGenerations(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	n := newNIC(f, "nic1", "02:00:00:00:00:31")
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.CreateNIC(n); err != nil {
			return err
		}
		if err := tx.BumpVMGeneration(f.vm.ID); err != nil {
			return err
		}
		return tx.BumpVMGeneration(f.vm.ID)
	})
	// UpdateVM leaves the generation alone.
	update(t, s, func(tx vwire.Tx) error { return tx.UpdateVM(f.vm) })
	s.View(ctx(), func(tx vwire.Tx) error {
		vm, _ := tx.VM(f.vm.ID)
		if vm.Generation != 2 {
			t.Errorf("generation = %d, want 2", vm.Generation)
		}
		nics, err := tx.NICsOnHost(f.host.ID)
		if err != nil || len(nics) != 1 || nics[0].ID != n.ID {
			t.Errorf("NICsOnHost = %v, %v", nics, err)
		}
		return nil
	})
	n2 := newNIC(f, "nic2", "02:00:00:00:00:32")
	n2.Synced = false
	update(t, s, func(tx vwire.Tx) error { return tx.CreateNIC(n2) })
	s.View(ctx(), func(tx vwire.Tx) error {
		counts, err := tx.NICCounts()
		if want := (vwire.NICCount{NICs: 2, Unsynced: 1}); err != nil || counts[f.vm.ID] != want {
			t.Errorf("NICCounts()[vm] = %+v, %v; want %+v", counts[f.vm.ID], err, want)
		}
		if _, ok := counts[uuid.NewString()]; ok || len(counts) != 1 {
			t.Errorf("NICCounts() = %v: want only the fixture's VM", counts)
		}
		return nil
	})
	if err := s.Update(ctx(), func(tx vwire.Tx) error { return tx.BumpVMGeneration(uuid.NewString()) }); code(err) != vwire.ENOTFOUND {
		t.Errorf("bump of a missing VM: %v", err)
	}
}

func testHostLeases(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	now := time.UnixMilli(1700000000000)
	acquire := func(owner string, until, at time.Time) bool {
		var ok bool
		update(t, s, func(tx vwire.Tx) (err error) { ok, err = tx.AcquireHostLease(f.host.ID, owner, until, at); return })
		return ok
	}
	if !acquire("a", now.Add(time.Minute), now) {
		t.Fatal("first lease refused")
	}
	if acquire("b", now.Add(time.Minute), now.Add(time.Second)) {
		t.Fatal("b took a's valid lease")
	}
	if !acquire("a", now.Add(2*time.Minute), now.Add(time.Second)) {
		t.Fatal("a could not renew its lease")
	}
	if !acquire("b", now.Add(5*time.Minute), now.Add(3*time.Minute)) {
		t.Fatal("b could not take an expired lease")
	}
	if acquire("a", now.Add(5*time.Minute), now.Add(3*time.Minute)) {
		t.Fatal("a took b's lease back")
	}
	// One statement renews all of an owner's leases, and names them.
	renew := func(owner string, until time.Time) []string {
		var ids []string
		update(t, s, func(tx vwire.Tx) (err error) { ids, err = tx.RenewHostLeases(owner, until); return })
		return ids
	}
	if ids := renew("a", now.Add(time.Hour)); len(ids) != 0 {
		t.Fatalf("a renewed %v, holding none", ids)
	}
	if ids := renew("b", now.Add(time.Hour)); len(ids) != 1 || ids[0] != f.host.ID {
		t.Fatalf("b renewed %v, want its one host", ids)
	}
	if acquire("a", now.Add(2*time.Hour), now.Add(30*time.Minute)) {
		t.Fatal("a took a lease b's renewal extended")
	}
}

// testConcurrentMACs: allocations racing on two handles never hand out the
// same MAC twice.
func testConcurrentMACs(t *testing.T, a, b vwire.Store) {
	f := newFixture(t, a)
	const workers, each = 8, 10
	var mu sync.Mutex
	seen := map[vwire.MAC]bool{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				var m vwire.MAC
				err := s.Update(ctx(), func(tx vwire.Tx) (err error) { m, err = tx.AllocateMAC(f.pool, uuid.NewString()); return })
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[m] {
					t.Errorf("MAC %s handed out twice", m)
				}
				seen[m] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != workers*each {
		t.Errorf("%d distinct MACs, want %d", len(seen), workers*each)
	}
}

// testVMLock: a VM's lock held through one handle blocks the other.
func testVMLock(t *testing.T, a, b vwire.Store) {
	unlock, err := a.LockVM(ctx(), "vm-x")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan time.Time, 1)
	go func() {
		u, err := b.LockVM(ctx(), "vm-x")
		if err != nil {
			t.Error(err)
			return
		}
		got <- time.Now()
		u()
	}()
	other, err := b.LockVM(ctx(), "vm-y")
	if err != nil {
		t.Fatal(err)
	}
	other()
	time.Sleep(200 * time.Millisecond)
	released := time.Now()
	unlock()
	if at := <-got; at.Before(released) {
		t.Fatal("the second handle got the VM lock while the first held it")
	}
	// A lock waiter gives up with its context.
	unlock, _ = a.LockVM(ctx(), "vm-z")
	defer unlock()
	c, cancel := context.WithTimeout(ctx(), 100*time.Millisecond)
	defer cancel()
	if _, err := b.LockVM(c, "vm-z"); err == nil {
		t.Fatal("LockVM returned while another handle held the lock past the deadline")
	}
}

// testNoLostUpdate: read-modify-write transactions racing on two handles
// all count: none is silently overwritten.
func testNoLostUpdate(t *testing.T, a, b vwire.Store) {
	f := newFixture(t, a)
	const n = 40
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update(ctx(), func(tx vwire.Tx) error {
				net, err := tx.Network(f.net.ID)
				if err != nil {
					return err
				}
				net.MTU++
				return tx.UpdateNetwork(net)
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	a.View(ctx(), func(tx vwire.Tx) error {
		net, _ := tx.Network(f.net.ID)
		if net.MTU != f.net.MTU+n {
			t.Errorf("MTU after %d increments = %d, want %d: updates were lost", n, net.MTU, f.net.MTU+n)
		}
		return nil
	})
}

func ctx() context.Context { return context.Background() }

func update(t *testing.T, s vwire.Store, fn func(tx vwire.Tx) error) {
	t.Helper()
	if err := s.Update(ctx(), fn); err != nil {
		t.Fatal(err)
	}
}

func code(err error) vwire.Code { return vwire.ErrorCode(err) }

// fixture is a pool, data center, cluster, network, profile, host and VM.
type fixture struct {
	pool    *vwire.MACPool
	dc      *vwire.DataCenter
	cluster *vwire.Cluster
	net     *vwire.Network
	profile *vwire.VNICProfile
	host    *vwire.Host
	vm      *vwire.VM
}

func mac(s string) vwire.MAC {
	m, _ := vwire.ParseMAC(s)
	return m
}

func newFixture(t *testing.T, s vwire.Store) *fixture {
	t.Helper()
	vlan := 100
	f := &fixture{
		pool: &vwire.MACPool{ID: uuid.NewString(), Name: "pool-" + uuid.NewString()[:8], Ranges: []vwire.MACRange{{From: mac("02:00:00:00:00:00"), To: mac("02:00:00:00:00:ff")}}},
	}
	f.dc = &vwire.DataCenter{ID: uuid.NewString(), Name: "dc-" + uuid.NewString()[:8], Version: vwire.Version{Major: 4, Minor: 8}, MACPoolID: f.pool.ID}
	f.cluster = &vwire.Cluster{ID: uuid.NewString(), Name: "cl-" + uuid.NewString()[:8], DataCenterID: f.dc.ID, Version: vwire.Version{Major: 3, Minor: 1}, MACPoolID: f.pool.ID,
		DriftPolicy: vwire.DriftEnforce}
	f.net = &vwire.Network{ID: uuid.NewString(), Name: "red", DataCenterID: f.dc.ID, VLAN: &vlan, VMNetwork: true, MTU: 9000}
	f.profile = &vwire.VNICProfile{ID: uuid.NewString(), Name: "red", NetworkID: f.net.ID, PortMirroring: true,
		Notify: vwire.NotifyLinkBounce, BounceHold: 1500 * time.Millisecond}
	f.host = &vwire.Host{ID: uuid.NewString(), Name: "h-" + uuid.NewString()[:8], ClusterID: f.cluster.ID, Address: "192.0.2.1", Port: 54321,
		Status: vwire.HostUp, Networks: []string{"blue", "red"}, ClusterLevels: []vwire.Version{{Major: 3, Minor: 1}, {Major: 4, Minor: 8}},
		LibvirtVersion: "9.0.0", LastSeen: time.UnixMilli(1700000000000)}
	f.vm = &vwire.VM{ID: uuid.NewString(), Name: "vm-" + uuid.NewString()[:8], ClusterID: f.cluster.ID, TemplateID: vwire.BlankTemplateID,
		Status: vwire.VMUp, HostID: f.host.ID, PlacementHosts: []string{f.host.ID}, Memory: 1 << 30, OSType: "other",
		Kernel: "/k", Initrd: "/i", Cmdline: "console=ttyS0", CreatedAt: time.UnixMilli(1700000000123), StartTime: time.UnixMilli(1700000001000)}
	update(t, s, func(tx vwire.Tx) error {
		for _, fn := range []func() error{
			func() error { return tx.CreateMACPool(f.pool) },
			func() error { return tx.CreateDataCenter(f.dc) },
			func() error { return tx.CreateCluster(f.cluster) },
			func() error { return tx.CreateNetwork(f.net) },
			func() error { return tx.AttachNetwork(f.cluster.ID, f.net.ID, true) },
			func() error { return tx.CreateProfile(f.profile) },
			func() error { return tx.CreateHost(f.host) },
			func() error {
				if _, err := tx.Template(vwire.BlankTemplateID); err == nil {
					return nil
				}
				return tx.CreateTemplate(&vwire.Template{ID: vwire.BlankTemplateID, Name: "Blank", Memory: 1 << 30, OSType: "other", CreatedAt: time.UnixMilli(1)})
			},
			func() error { return tx.CreateVM(f.vm) },
		} {
			if err := fn(); err != nil {
				return err
			}
		}
		return nil
	})
	return f
}

func testEntities(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	err := s.View(ctx(), func(tx vwire.Tx) error {
		checks := []struct {
			name      string
			got, want any
			err       error
		}{}
		add := func(name string, want any) func(any, error) {
			return func(got any, err error) {
				checks = append(checks, struct {
					name      string
					got, want any
					err       error
				}{name, got, want, err})
			}
		}
		add("pool", f.pool)(tx.MACPool(f.pool.ID))
		add("dc", f.dc)(tx.DataCenter(f.dc.ID))
		add("cluster", f.cluster)(tx.Cluster(f.cluster.ID))
		add("network", f.net)(tx.Network(f.net.ID))
		add("profile", f.profile)(tx.Profile(f.profile.ID))
		add("host", f.host)(tx.Host(f.host.ID))
		add("vm", f.vm)(tx.VM(f.vm.ID))
		cns, err := tx.ClusterNetworks(f.cluster.ID)
		add("cluster networks", []*vwire.ClusterNetwork{{Network: *f.net, ClusterID: f.cluster.ID, Required: true}})(cns, err)
		onHost, err := tx.VMs(vwire.VMFilter{HostID: f.host.ID})
		add("vms on host", []*vwire.VM{f.vm})(onHost, err)
		for _, c := range checks {
			if c.err != nil {
				t.Errorf("%s: %v", c.name, c.err)
				continue
			}
			if d := cmp.Diff(c.want, c.got); d != "" {
				t.Errorf("%s round trip (-want +got):\n%s", c.name, d)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Updates and deletes.
	f.vm.Status, f.vm.HostID, f.vm.PlacementHosts = vwire.VMDown, "", nil
	f.host.Networks, f.host.Status = nil, vwire.HostNonResponsive
	f.net.VLAN = nil
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.UpdateVM(f.vm); err != nil {
			return err
		}
		if err := tx.UpdateHost(f.host); err != nil {
			return err
		}
		return tx.UpdateNetwork(f.net)
	})
	s.View(ctx(), func(tx vwire.Tx) error {
		vm, _ := tx.VM(f.vm.ID)
		if d := cmp.Diff(f.vm, vm); d != "" {
			t.Errorf("updated VM (-want +got):\n%s", d)
		}
		h, _ := tx.Host(f.host.ID)
		if d := cmp.Diff(f.host, h); d != "" {
			t.Errorf("updated host (-want +got):\n%s", d)
		}
		n, _ := tx.Network(f.net.ID)
		if n.VLAN != nil {
			t.Errorf("VLAN after clearing = %v", *n.VLAN)
		}
		return nil
	})
	update(t, s, func(tx vwire.Tx) error { return tx.DetachNetwork(f.cluster.ID, f.net.ID) })
	s.View(ctx(), func(tx vwire.Tx) error {
		if cns, _ := tx.ClusterNetworks(f.cluster.ID); len(cns) != 0 {
			t.Errorf("cluster networks after detach = %d", len(cns))
		}
		return nil
	})
	// Deleting a network deletes its profiles.
	update(t, s, func(tx vwire.Tx) error { return tx.DeleteNetwork(f.net.ID) })
	s.View(ctx(), func(tx vwire.Tx) error {
		if _, err := tx.Profile(f.profile.ID); code(err) != vwire.ENOTFOUND {
			t.Errorf("profile of a deleted network: err = %v, want not found", err)
		}
		return nil
	})
}

func testUniqueAndMissing(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	cases := []struct {
		name string
		fn   func(tx vwire.Tx) error
		want vwire.Code
	}{
		{"duplicate VM name", func(tx vwire.Tx) error {
			v := *f.vm
			v.ID = uuid.NewString()
			return tx.CreateVM(&v)
		}, vwire.ECONFLICT},
		{"duplicate network name in a data center", func(tx vwire.Tx) error {
			return tx.CreateNetwork(&vwire.Network{ID: uuid.NewString(), Name: f.net.Name, DataCenterID: f.dc.ID})
		}, vwire.ECONFLICT},
		{"duplicate profile name on a network", func(tx vwire.Tx) error {
			return tx.CreateProfile(&vwire.VNICProfile{ID: uuid.NewString(), Name: f.profile.Name, NetworkID: f.net.ID})
		}, vwire.ECONFLICT},
		{"duplicate host address", func(tx vwire.Tx) error {
			h := *f.host
			h.ID, h.Name = uuid.NewString(), "other"
			return tx.CreateHost(&h)
		}, vwire.ECONFLICT},
		{"cluster of a missing data center", func(tx vwire.Tx) error {
			return tx.CreateCluster(&vwire.Cluster{ID: uuid.NewString(), Name: "x", DataCenterID: uuid.NewString(), Version: vwire.NewestVersion, MACPoolID: f.pool.ID})
		}, vwire.ECONFLICT},
		{"attach twice", func(tx vwire.Tx) error { return tx.AttachNetwork(f.cluster.ID, f.net.ID, true) }, vwire.ECONFLICT},
		{"missing VM", func(tx vwire.Tx) error { _, err := tx.VM(uuid.NewString()); return err }, vwire.ENOTFOUND},
		{"update missing VM", func(tx vwire.Tx) error { v := *f.vm; v.ID = uuid.NewString(); return tx.UpdateVM(&v) }, vwire.ENOTFOUND},
		{"delete missing NIC", func(tx vwire.Tx) error { return tx.DeleteNIC(uuid.NewString()) }, vwire.ENOTFOUND},
		{"missing event", func(tx vwire.Tx) error { _, err := tx.Event(1 << 40); return err }, vwire.ENOTFOUND},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(ctx(), tc.fn)
			if code(err) != tc.want {
				t.Fatalf("err = %v (%s), want %s", err, code(err), tc.want)
			}
		})
	}
}

func newNIC(f *fixture, name, m string) *vwire.NIC {
	return &vwire.NIC{ID: uuid.NewString(), VMID: f.vm.ID, Name: name, MAC: m, Interface: vwire.IfaceVirtio, ProfileID: f.profile.ID, Linked: true, Plugged: true, Synced: true}
}

func testNICs(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	a := newNIC(f, "nic1", "02:00:00:00:00:01")
	b := newNIC(f, "nic2", "02:00:00:00:00:02")
	b.ProfileID, b.Linked, b.Plugged = "", false, false
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.CreateNIC(a); err != nil {
			return err
		}
		return tx.CreateNIC(b)
	})
	if err := s.Update(ctx(), func(tx vwire.Tx) error { return tx.CreateNIC(newNIC(f, "nic1", "02:00:00:00:00:03")) }); code(err) != vwire.ECONFLICT {
		t.Errorf("duplicate vNIC name: err = %v, want conflict", err)
	}
	obs := &vwire.NICObserved{Present: true, Alias: a.Alias(), PCIAddress: "0000:00:03.0", Bridge: "red", MAC: a.MAC, Model: "virtio", LinkUp: true,
		Mirroring: true, QoS: vwire.Bandwidth{Outbound: vwire.Rate{Average: 1, Peak: 2, Burst: 3}}, Filter: "clean-traffic",
		FilterParams: []vwire.FilterParam{{Name: "IP", Value: "198.18.1.2"}}, Error: "the host said no", At: time.UnixMilli(1700000002000)}
	update(t, s, func(tx vwire.Tx) error { return tx.SetNICObserved(a.ID, obs, true) })
	s.View(ctx(), func(tx vwire.Tx) error {
		nics, err := tx.NICs(f.vm.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantA := *a
		wantA.Observed, wantA.ProfileName, wantA.NetworkID, wantA.NetworkName, wantA.PortMirroring = obs, f.profile.Name, f.net.ID, f.net.Name, true
		wantA.Notify, wantA.BounceHold = vwire.NotifyLinkBounce, 1500*time.Millisecond
		if d := cmp.Diff([]*vwire.NIC{&wantA, b}, nics); d != "" {
			t.Errorf("NICs (-want +got):\n%s", d)
		}
		users, _ := tx.ProfileUsers(f.profile.ID)
		nusers, _ := tx.NetworkUsers(f.net.ID)
		if d := cmp.Diff([]string{f.vm.Name}, users); d != "" {
			t.Errorf("profile users: %s", d)
		}
		if d := cmp.Diff([]string{f.vm.Name}, nusers); d != "" {
			t.Errorf("network users: %s", d)
		}
		return nil
	})
	// Clearing the observed state; deleting the profile empties the vNIC's network.
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.SetNICObserved(a.ID, nil, true); err != nil {
			return err
		}
		return tx.DeleteProfile(f.profile.ID)
	})
	s.View(ctx(), func(tx vwire.Tx) error {
		n, err := tx.NIC(a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n.Observed != nil || n.ProfileID != "" || n.NetworkName != "" {
			t.Errorf("after clearing and profile delete: observed %v, profile %q, network %q", n.Observed, n.ProfileID, n.NetworkName)
		}
		return nil
	})
	// UpdateNIC writes the whole row: desired state, observed state, synced.
	upd := *b
	upd.Name, upd.Linked, upd.Synced = "nic2b", true, false
	upd.Observed = &vwire.NICObserved{Present: true, Alias: b.Alias(), PCIAddress: "0000:00:04.0", Bridge: "blue", MAC: b.MAC, Model: "e1000", At: time.UnixMilli(1700000003000)}
	update(t, s, func(tx vwire.Tx) error { return tx.UpdateNIC(&upd) })
	s.View(ctx(), func(tx vwire.Tx) error {
		n, err := tx.NIC(b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(&upd, n); d != "" {
			t.Errorf("after UpdateNIC (-want +got):\n%s", d)
		}
		return nil
	})
	// Deleting the VM deletes its vNICs and their leases.
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.LeaseMAC(f.pool, mac(a.MAC), a.ID); err != nil {
			return err
		}
		return tx.DeleteVM(f.vm.ID)
	})
	s.View(ctx(), func(tx vwire.Tx) error {
		if _, err := tx.NIC(a.ID); code(err) != vwire.ENOTFOUND {
			t.Errorf("vNIC of a deleted VM: err = %v", err)
		}
		if h, _ := tx.MACHolder(f.pool.ID, mac(a.MAC)); h != "" {
			t.Errorf("lease of a deleted VM's vNIC still held by %q", h)
		}
		return nil
	})
}

func testMACLeases(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	a := newNIC(f, "nic1", "02:00:00:00:00:10")
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.CreateNIC(a); err != nil {
			return err
		}
		return tx.LeaseMAC(f.pool, mac(a.MAC), a.ID)
	})
	err := s.Update(ctx(), func(tx vwire.Tx) error { return tx.LeaseMAC(f.pool, mac(a.MAC), uuid.NewString()) })
	if code(err) != vwire.ECONFLICT {
		t.Fatalf("second lease without duplicates: err = %v, want conflict", err)
	}
	s.View(ctx(), func(tx vwire.Tx) error {
		if h, err := tx.MACHolder(f.pool.ID, mac(a.MAC)); err != nil || h != f.vm.Name {
			t.Errorf("holder = %q, %v; want %s", h, err, f.vm.Name)
		}
		return nil
	})
	// A pool that allows duplicates takes a second holder.
	f.pool.AllowDuplicates = true
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.UpdateMACPool(f.pool); err != nil {
			return err
		}
		return tx.LeaseMAC(f.pool, mac(a.MAC), uuid.NewString())
	})
	update(t, s, func(tx vwire.Tx) error { return tx.ReleaseMAC(f.pool.ID, mac(a.MAC), a.ID) })
}

func testMACAllocation(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	// A small pool over two ranges: 4 + 2 addresses.
	f.pool.Ranges = []vwire.MACRange{{From: mac("02:00:00:00:01:00"), To: mac("02:00:00:00:01:03")}, {From: mac("02:00:00:00:02:00"), To: mac("02:00:00:00:02:01")}}
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.UpdateMACPool(f.pool); err != nil {
			return err
		}
		// A custom MAC inside the range is skipped by allocation.
		return tx.LeaseMAC(f.pool, mac("02:00:00:00:01:01"), "custom")
	})
	var got []string
	for i := 0; i < 5; i++ {
		update(t, s, func(tx vwire.Tx) error {
			m, err := tx.AllocateMAC(f.pool, uuid.NewString())
			got = append(got, m.String())
			return err
		})
	}
	want := []string{"02:00:00:00:01:00", "02:00:00:00:01:02", "02:00:00:00:01:03", "02:00:00:00:02:00", "02:00:00:00:02:01"}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("allocation order (-want +got):\n%s", d)
	}
	err := s.Update(ctx(), func(tx vwire.Tx) error { _, err := tx.AllocateMAC(f.pool, uuid.NewString()); return err })
	if !errors.Is(err, vwire.ErrPoolExhausted) {
		t.Fatalf("exhausted pool: err = %v", err)
	}
	// Freeing one makes it the next, after wrapping around.
	update(t, s, func(tx vwire.Tx) error { return tx.ReleaseMAC(f.pool.ID, mac("02:00:00:00:01:01"), "custom") })
	update(t, s, func(tx vwire.Tx) error {
		m, err := tx.AllocateMAC(f.pool, uuid.NewString())
		if m.String() != "02:00:00:00:01:01" {
			t.Errorf("after wrap: got %s, want 02:00:00:00:01:01", m)
		}
		return err
	})
}

func testMACBatchAllocation(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	// 5 addresses over two ranges, two of them taken; the cursor starts in
	// the middle of the first range.
	f.pool.Ranges = []vwire.MACRange{{From: mac("02:00:00:00:03:00"), To: mac("02:00:00:00:03:02")}, {From: mac("02:00:00:00:04:00"), To: mac("02:00:00:00:04:01")}}
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.UpdateMACPool(f.pool); err != nil {
			return err
		}
		if err := tx.LeaseMAC(f.pool, mac("02:00:00:00:03:01"), "custom"); err != nil {
			return err
		}
		return tx.LeaseMAC(f.pool, mac("02:00:00:00:04:00"), "custom2")
	})
	ids := []string{uuid.NewString(), uuid.NewString(), uuid.NewString()}
	var got []string
	update(t, s, func(tx vwire.Tx) error {
		ms, err := tx.AllocateMACs(f.pool, ids)
		for _, m := range ms {
			got = append(got, m.String())
		}
		return err
	})
	want := []string{"02:00:00:00:03:00", "02:00:00:00:03:02", "02:00:00:00:04:01"}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("batch allocation (-want +got):\n%s", d)
	}
	for _, w := range want {
		err := s.Update(ctx(), func(tx vwire.Tx) error { return tx.LeaseMAC(f.pool, mac(w), "probe") })
		if vwire.ErrorCode(err) != vwire.ECONFLICT {
			t.Errorf("leasing %s again: err = %v, want a conflict (the batch holds it)", w, err)
		}
	}
	// Two more than the pool has: refused, and nothing is leased.
	err := s.Update(ctx(), func(tx vwire.Tx) error { _, err := tx.AllocateMACs(f.pool, []string{"a", "b"}); return err })
	if !errors.Is(err, vwire.ErrPoolExhausted) {
		t.Fatalf("batch larger than the free addresses: err = %v", err)
	}
	// Freeing one lets a batch of one through, wrapping to it.
	update(t, s, func(tx vwire.Tx) error { return tx.ReleaseMAC(f.pool.ID, mac("02:00:00:00:03:01"), "custom") })
	update(t, s, func(tx vwire.Tx) error {
		ms, err := tx.AllocateMACs(f.pool, []string{"c"})
		if err == nil && ms[0].String() != "02:00:00:00:03:01" {
			t.Errorf("after wrap: got %s, want 02:00:00:00:03:01", ms[0])
		}
		return err
	})
}

func testEvents(t *testing.T, s vwire.Store) {
	var ids []int64
	for i := 0; i < 5; i++ {
		e := &vwire.Event{Code: 930 + i, Severity: vwire.SevNormal, Description: "event", Time: time.UnixMilli(1700000000000 + int64(i)), UserName: "admin@internal-authz", VMID: "vm"}
		update(t, s, func(tx vwire.Tx) error { return tx.AddEvent(e) })
		if e.ID == 0 {
			t.Fatal("AddEvent left the id zero")
		}
		ids = append(ids, e.ID)
	}
	s.View(ctx(), func(tx vwire.Tx) error {
		all, _ := tx.Events(ids[0]-1, 0)
		if len(all) != 5 || all[0].ID != ids[4] || all[4].ID != ids[0] {
			t.Errorf("events newest first: got %d, first %d", len(all), all[0].ID)
		}
		page, _ := tx.Events(ids[2], 10)
		if len(page) != 2 || page[0].ID != ids[4] || page[1].ID != ids[3] {
			t.Errorf("events after %d: %v", ids[2], page)
		}
		two, _ := tx.Events(0, 2)
		if len(two) != 2 || two[0].ID != ids[4] {
			t.Errorf("max 2: %v", two)
		}
		e, err := tx.Event(ids[1])
		if err != nil || e.Code != 931 || !e.Time.Equal(time.UnixMilli(1700000000001)) {
			t.Errorf("event %d = %+v, %v", ids[1], e, err)
		}
		return nil
	})
}

func testRollback(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	boom := errors.New("boom")
	err := s.Update(ctx(), func(tx vwire.Tx) error {
		if err := tx.CreateNIC(newNIC(f, "nic1", "02:00:00:00:00:20")); err != nil {
			return err
		}
		if err := tx.AddEvent(&vwire.Event{Code: 932, Severity: vwire.SevNormal, Description: "x"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	s.View(ctx(), func(tx vwire.Tx) error {
		if nics, _ := tx.NICs(f.vm.ID); len(nics) != 0 {
			t.Errorf("rolled-back vNIC persisted: %v", nics)
		}
		return nil
	})
}

// testEventWakeups: a subscriber on b is woken when a commits an event.
func testEventWakeups(t *testing.T, a, b vwire.Store) {
	c, cancel := context.WithCancel(ctx())
	defer cancel()
	ch := b.SubscribeEvents(c)
	quiet := func() {
		// A listener wakes its subscribers once when it (re)connects, in case
		// events came meanwhile; wait for half a second without wake-ups.
		for {
			select {
			case <-ch:
				continue
			case <-time.After(500 * time.Millisecond):
			}
			return
		}
	}
	quiet()
	update(t, a, func(tx vwire.Tx) error {
		return tx.AddEvent(&vwire.Event{Code: 932, Severity: vwire.SevNormal, Description: "wake"})
	})
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no wake-up within 5 s of a committed event")
	}
	quiet()
	// A rolled-back event wakes nobody.
	a.Update(ctx(), func(tx vwire.Tx) error {
		tx.AddEvent(&vwire.Event{Code: 933, Severity: vwire.SevError, Description: "rolled back"})
		return errors.New("roll back")
	})
	select {
	case <-ch:
		t.Fatal("woken by a rolled-back event")
	case <-time.After(500 * time.Millisecond):
	}
}

func testTemplates(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	tp := &vwire.Template{ID: uuid.NewString(), Name: "t-" + uuid.NewString()[:8], ClusterID: f.cluster.ID, Memory: 1 << 29, OSType: "other", CreatedAt: time.UnixMilli(1700000000000)}
	a := &vwire.NIC{ID: uuid.NewString(), VMID: tp.ID, Name: "nic1", Interface: vwire.IfaceE1000, ProfileID: f.profile.ID, Linked: false, Plugged: true, Synced: true}
	b := &vwire.NIC{ID: uuid.NewString(), VMID: tp.ID, Name: "nic2", Interface: vwire.IfaceVirtio, Linked: true, Plugged: false, Synced: true}
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.CreateTemplate(tp); err != nil {
			return err
		}
		if err := tx.CreateTemplateNIC(a); err != nil {
			return err
		}
		return tx.CreateTemplateNIC(b)
	})
	if err := s.Update(ctx(), func(tx vwire.Tx) error {
		return tx.CreateTemplateNIC(&vwire.NIC{ID: uuid.NewString(), VMID: tp.ID, Name: "nic1", Interface: vwire.IfaceVirtio})
	}); code(err) != vwire.ECONFLICT {
		t.Errorf("duplicate template vNIC name: %v", err)
	}
	a.Linked = true
	tp.Description = "edited"
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.UpdateTemplateNIC(a); err != nil {
			return err
		}
		return tx.UpdateTemplate(tp)
	})
	s.View(ctx(), func(tx vwire.Tx) error {
		nics, err := tx.TemplateNICs(tp.ID)
		if err != nil || len(nics) != 2 {
			t.Fatalf("TemplateNICs = %v, %v", nics, err)
		}
		if n := nics[0]; n.Name != "nic1" || !n.Linked || n.ProfileID != f.profile.ID || n.NetworkName != f.net.Name || n.Interface != vwire.IfaceE1000 || n.MAC != "" {
			t.Errorf("template vNIC = %+v", n)
		}
		if n := nics[1]; n.ProfileID != "" || n.Plugged {
			t.Errorf("template vNIC = %+v", n)
		}
		got, _ := tx.Template(tp.ID)
		if got.Description != "edited" {
			t.Errorf("template = %+v", got)
		}
		users, _ := tx.ProfileUsers(f.profile.ID)
		if len(users) != 1 || users[0] != tp.Name {
			t.Errorf("profile users = %v, want the template", users)
		}
		return nil
	})
	update(t, s, func(tx vwire.Tx) error { return tx.DeleteTemplate(tp.ID) })
	s.View(ctx(), func(tx vwire.Tx) error {
		if nics, _ := tx.TemplateNICs(tp.ID); len(nics) != 0 {
			t.Errorf("template vNICs outlived their template: %v", nics)
		}
		return nil
	})
}

// testConcurrentWriters: concurrent write transactions, some failing after
// they wrote, keep exactly the writes of those that succeeded (whatever the
// store does to batch them).
func testConcurrentWriters(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	const n = 48
	boom := errors.New("boom")
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update(ctx(), func(tx vwire.Tx) error {
				if err := tx.CreateNetwork(&vwire.Network{ID: uuid.NewString(), Name: "w" + strconv.Itoa(i), DataCenterID: f.dc.ID}); err != nil {
					return err
				}
				if i%3 == 0 {
					return boom
				}
				return nil
			})
			if (i%3 == 0) != errors.Is(err, boom) {
				t.Errorf("writer %d: err = %v", i, err)
			}
		}()
	}
	wg.Wait()
	s.View(ctx(), func(tx vwire.Tx) error {
		nets, _ := tx.Networks(vwire.NetworkFilter{})
		got := map[string]bool{}
		for _, n := range nets {
			got[n.Name] = true
		}
		for i := 0; i < n; i++ {
			if want := i%3 != 0; got["w"+strconv.Itoa(i)] != want {
				t.Errorf("network w%d present = %v, want %v", i, !want, want)
			}
		}
		return nil
	})
}

// testPending: a change in flight keeps what it asks of the host, and is
// listed for settling once marked unknown or once its engine stopped beating.
func testPending(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	now := time.UnixMilli(1700000000000)
	p := vwire.Pending{VMID: f.vm.ID, EngineID: "e1", NICID: "n1", Started: now, OpID: "op-1", Intent: []byte(`{"kind":"update"}`)}
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.Heartbeat("e1", now); err != nil {
			return err
		}
		return tx.SetPending(p)
	})
	unsettled := func(since time.Time) (got []vwire.Pending) {
		s.View(ctx(), func(tx vwire.Tx) (err error) {
			got, err = tx.UnsettledPending(f.host.ID, since, now.Add(-time.Hour))
			return
		})
		return got
	}
	s.View(ctx(), func(tx vwire.Tx) error {
		got, err := tx.PendingOf(f.vm.ID)
		if err != nil || got == nil || !got.Equal(p) {
			t.Errorf("PendingOf = %+v, %v; want %+v", got, err, p)
		}
		return nil
	})
	if got := unsettled(now.Add(-time.Second)); len(got) != 0 {
		t.Errorf("a change of a live engine is listed for settling: %+v", got)
	}
	if got := unsettled(now.Add(time.Second)); len(got) != 1 || !got[0].Equal(p) {
		t.Errorf("a change of a dead engine: %+v, want it", got)
	}
	// One older than any operation may take is listed, whoever owns it.
	s.View(ctx(), func(tx vwire.Tx) error {
		got, err := tx.UnsettledPending(f.host.ID, now.Add(-time.Second), now.Add(time.Second))
		if err != nil || len(got) != 1 {
			t.Errorf("a change older than any operation: %+v, %v; want it", got, err)
		}
		return nil
	})
	update(t, s, func(tx vwire.Tx) error { return tx.MarkPendingUnknown(f.vm.ID) })
	p.Unknown = true
	if got := unsettled(now.Add(-time.Second)); len(got) != 1 || !got[0].Equal(p) {
		t.Errorf("an unknown change of a live engine: %+v, want it", got)
	}
	// A new record replaces the old one whole.
	q := vwire.Pending{VMID: f.vm.ID, EngineID: "e2", Started: now.Add(time.Minute)}
	update(t, s, func(tx vwire.Tx) error { return tx.SetPending(q) })
	s.View(ctx(), func(tx vwire.Tx) error {
		got, err := tx.PendingOf(f.vm.ID)
		if err != nil || got == nil || !got.Equal(q) {
			t.Errorf("after replacing: PendingOf = %+v, %v; want %+v", got, err, q)
		}
		return nil
	})
	update(t, s, func(tx vwire.Tx) error { return tx.ClearPending(f.vm.ID) })
	s.View(ctx(), func(tx vwire.Tx) error {
		if got, err := tx.PendingOf(f.vm.ID); got != nil || err != nil {
			t.Errorf("after clearing: PendingOf = %+v, %v", got, err)
		}
		return nil
	})
}

// testCountVMs counts by status in SQL, relative to what the store held.
func testCountVMs(t *testing.T, s vwire.Store) {
	count := func() (all, up, down int) {
		t.Helper()
		err := s.View(ctx(), func(tx vwire.Tx) (err error) {
			if all, err = tx.CountVMs(""); err != nil {
				return err
			}
			if up, err = tx.CountVMs(vwire.VMUp); err != nil {
				return err
			}
			down, err = tx.CountVMs(vwire.VMDown)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	all0, up0, down0 := count()
	f := newFixture(t, s) // one VM up
	for i := 0; i < 2; i++ {
		v := &vwire.VM{ID: uuid.NewString(), Name: "down-" + uuid.NewString()[:8], ClusterID: f.cluster.ID, TemplateID: vwire.BlankTemplateID,
			Status: vwire.VMDown, Memory: 1 << 30, OSType: "other", CreatedAt: time.UnixMilli(1700000000000)}
		update(t, s, func(tx vwire.Tx) error { return tx.CreateVM(v) })
	}
	all, up, down := count()
	if all-all0 != 3 || up-up0 != 1 || down-down0 != 2 {
		t.Errorf("CountVMs: all +%d, up +%d, down +%d; want +3, +1, +2", all-all0, up-up0, down-down0)
	}
	var vms []*vwire.VM
	s.View(ctx(), func(tx vwire.Tx) (err error) { vms, err = tx.VMs(vwire.VMFilter{}); return })
	if len(vms) != all {
		t.Errorf("CountVMs(\"\") = %d, VMs() lists %d", all, len(vms))
	}
}

// testCPUAndComment: a VM's and a template's CPU topology and comment are
// stored, read and changed.
func testCPUAndComment(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	tp := &vwire.Template{ID: uuid.NewString(), Name: "t-" + uuid.NewString()[:8], ClusterID: f.cluster.ID, Memory: 1 << 29,
		CPU: vwire.CPUTopology{Sockets: 2, Cores: 3, Threads: 1}, Comment: "tmpl note", OSType: "other", CreatedAt: time.UnixMilli(1)}
	update(t, s, func(tx vwire.Tx) error { return tx.CreateTemplate(tp) })
	vm := *f.vm
	vm.CPU, vm.Comment = vwire.CPUTopology{Sockets: 1, Cores: 4, Threads: 2}, "vm note"
	update(t, s, func(tx vwire.Tx) error { return tx.UpdateVM(&vm) })
	s.View(ctx(), func(tx vwire.Tx) error {
		got, err := tx.Template(tp.ID)
		if err != nil || got.CPU != tp.CPU || got.Comment != "tmpl note" {
			t.Errorf("template = %+v, %v", got, err)
		}
		v, err := tx.VM(vm.ID)
		if err != nil || v.CPU != vm.CPU || v.Comment != "vm note" {
			t.Errorf("VM = %+v, %v", v, err)
		}
		return nil
	})
	tp.CPU.Threads, tp.Comment = 2, ""
	update(t, s, func(tx vwire.Tx) error { return tx.UpdateTemplate(tp) })
	s.View(ctx(), func(tx vwire.Tx) error {
		if got, err := tx.Template(tp.ID); err != nil || got.CPU.Threads != 2 || got.Comment != "" {
			t.Errorf("updated template = %+v, %v", got, err)
		}
		return nil
	})
}

// testNetworkFilters: a profile's filter is stored and changed; a vNIC's
// filter parameters are stored, changed, removed, and go with the vNIC.
func testNetworkFilters(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	p := &vwire.VNICProfile{ID: uuid.NewString(), Name: "nf-" + uuid.NewString()[:8], NetworkID: f.net.ID, NetworkFilter: "clean-traffic"}
	update(t, s, func(tx vwire.Tx) error { return tx.CreateProfile(p) })
	p.NetworkFilter = ""
	update(t, s, func(tx vwire.Tx) error { return tx.UpdateProfile(p) })
	s.View(ctx(), func(tx vwire.Tx) error {
		if got, err := tx.Profile(p.ID); err != nil || got.NetworkFilter != "" {
			t.Errorf("profile after clearing its filter = %+v, %v", got, err)
		}
		return nil
	})
	n := &vwire.NIC{ID: uuid.NewString(), VMID: f.vm.ID, Name: "nfnic", MAC: "02:00:00:00:0f:01", Interface: vwire.IfaceVirtio, Linked: true, Plugged: true, Synced: true}
	a := &vwire.FilterParameter{ID: uuid.NewString(), NICID: n.ID, Name: "IP", Value: "198.51.100.7"}
	b := &vwire.FilterParameter{ID: uuid.NewString(), NICID: n.ID, Name: "IP", Value: "198.51.100.8"}
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.CreateNIC(n); err != nil {
			return err
		}
		if err := tx.CreateFilterParameter(a); err != nil {
			return err
		}
		return tx.CreateFilterParameter(b)
	})
	b.Value = "198.51.100.9"
	update(t, s, func(tx vwire.Tx) error { return tx.UpdateFilterParameter(b) })
	s.View(ctx(), func(tx vwire.Tx) error {
		ps, err := tx.FilterParameters(n.ID)
		if err != nil || len(ps) != 2 {
			t.Fatalf("parameters = %v, %v", ps, err)
		}
		if got, err := tx.FilterParameter(b.ID); err != nil || got.Value != "198.51.100.9" || got.NICID != n.ID {
			t.Errorf("updated parameter = %+v, %v", got, err)
		}
		return nil
	})
	update(t, s, func(tx vwire.Tx) error { return tx.DeleteFilterParameter(a.ID) })
	if err := s.Update(ctx(), func(tx vwire.Tx) error { return tx.DeleteFilterParameter(a.ID) }); code(err) != vwire.ENOTFOUND {
		t.Errorf("deleting a deleted parameter: %v", err)
	}
	update(t, s, func(tx vwire.Tx) error { return tx.DeleteNIC(n.ID) })
	s.View(ctx(), func(tx vwire.Tx) error {
		if _, err := tx.FilterParameter(b.ID); code(err) != vwire.ENOTFOUND {
			t.Errorf("a removed vNIC's parameter: %v", err)
		}
		return nil
	})
}

// testJobs: jobs and steps are stored, filtered by owner and correlation
// id (newest first), ended, and cleared with their steps once ended.
func testJobs(t *testing.T, s vwire.Store) {
	t0 := time.UnixMilli(1700000000000)
	a := &vwire.Job{ID: uuid.NewString(), Description: "Launching VM a", Status: vwire.JobStarted, CorrelationID: "c1", OwnerID: "u1",
		OwnerName: "bob@internal-authz", Start: t0, LastUpdated: t0}
	b := &vwire.Job{ID: uuid.NewString(), Description: "Stopping VM a", Status: vwire.JobStarted, CorrelationID: "c2", OwnerID: "u2",
		Start: t0.Add(time.Second), LastUpdated: t0.Add(time.Second)}
	st := &vwire.JobStep{ID: uuid.NewString(), JobID: a.ID, Number: 1, Type: vwire.StepExecuting, Description: "Executing", Status: vwire.JobStarted, Start: t0}
	update(t, s, func(tx vwire.Tx) error {
		for _, j := range []*vwire.Job{a, b} {
			if err := tx.CreateJob(j); err != nil {
				return err
			}
		}
		return tx.CreateJobStep(st)
	})
	s.View(ctx(), func(tx vwire.Tx) error {
		if js, err := tx.Jobs(vwire.JobFilter{CorrelationID: "c1"}); err != nil || len(js) != 1 || js[0].ID != a.ID || js[0].OwnerName != "bob@internal-authz" {
			t.Errorf("jobs of c1 = %v, %v", js, err)
		}
		if js, _ := tx.Jobs(vwire.JobFilter{OwnerID: "u2"}); len(js) != 1 || js[0].ID != b.ID {
			t.Errorf("jobs of u2 = %v", js)
		}
		if js, _ := tx.Jobs(vwire.JobFilter{Max: 1}); len(js) != 1 || js[0].ID != b.ID {
			t.Errorf("newest job = %v", js)
		}
		return nil
	})
	a.End = t0.Add(time.Minute)
	update(t, s, func(tx vwire.Tx) error { return tx.EndJob(a.ID, vwire.JobFinished, a.End) })
	// Ending it again changes nothing.
	update(t, s, func(tx vwire.Tx) error { return tx.EndJob(a.ID, vwire.JobFailed, t0.Add(time.Hour)) })
	s.View(ctx(), func(tx vwire.Tx) error {
		j, err := tx.Job(a.ID)
		if err != nil || j.Status != vwire.JobFinished || !j.End.Equal(a.End) {
			t.Errorf("ended job = %+v, %v", j, err)
		}
		if steps, err := tx.JobSteps(a.ID); err != nil || len(steps) != 1 || steps[0].Status != vwire.JobFinished {
			t.Errorf("steps = %v, %v", steps, err)
		}
		return nil
	})
	// Clearing: the finished job goes (with its step), the running one stays.
	update(t, s, func(tx vwire.Tx) error { return tx.DeleteJobsEnded(vwire.JobFinished, t0.Add(time.Hour)) })
	s.View(ctx(), func(tx vwire.Tx) error {
		if _, err := tx.Job(a.ID); code(err) != vwire.ENOTFOUND {
			t.Errorf("a cleared job: %v", err)
		}
		if steps, _ := tx.JobSteps(a.ID); len(steps) != 0 {
			t.Errorf("a cleared job's steps remain: %v", steps)
		}
		if _, err := tx.Job(b.ID); err != nil {
			t.Errorf("a running job was cleared: %v", err)
		}
		return nil
	})
}
