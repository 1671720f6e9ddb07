package engine_test

import (
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/agent/engineport"
	"vwire.dev/vwire/engine"
	"vwire.dev/vwire/hypervisor"
	"vwire.dev/vwire/hypervisor/sim"
	"vwire.dev/vwire/internal/testenv"
	"vwire.dev/vwire/store/sqlstore"
)

// env is an engine on real SQLite with one host: a JSON-RPC agent on
// loopback over the simulated hypervisor.
type env struct {
	t       testing.TB
	eng     *engine.Engine
	store   *sqlstore.DB
	sim     *sim.Sim
	host    *vwire.Host
	cluster *vwire.Cluster
	dc      *vwire.DataCenter
	mgmt    string // ovirtmgmt profile id
	// proxy, when asked for, stands between the engine and the agent.
	proxy *testenv.FreezeProxy
}

// envOpts vary an env.
type envOpts struct {
	embedded    bool
	hostTimeout time.Duration
	// hv wraps the simulated hypervisor the agent drives.
	hv func(*sim.Sim) hypervisor.Hypervisor
	// proxy puts a FreezeProxy between engine and agent.
	proxy bool
	// store wraps the store the engine uses (the test reads the real one).
	store func(vwire.Store) vwire.Store
	// observer watches the engine (observe_test.go).
	observer engine.Observer
}

// forEachStore runs a test on SQLite and on PostgreSQL.
func forEachStore(t *testing.T, fn func(t *testing.T)) {
	t.Run("sqlite", fn)
	t.Run("postgres", fn)
}

func ctx() context.Context { return engine.WithUser(context.Background(), "admin@internal-authz") }

func newEnv(t *testing.T) *env { return newEnvWith(t, true) }

// newEnvB is newEnv for benchmarks.
func newEnvB(b *testing.B) *env { return newEnvTB(b, true) }

// newEnvWith registers the agent as the embedded host (which gets every
// network of its cluster) or as a plain host whose bridges the test controls.
func newEnvWith(t *testing.T, embedded bool) *env { return newEnvTB(t, embedded) }

func newEnvTB(t testing.TB, embedded bool) *env {
	t.Helper()
	return newEnvOpts(t, envOpts{embedded: embedded})
}

func newEnvOpts(t testing.TB, o envOpts) *env {
	t.Helper()
	embedded := o.embedded
	if o.hostTimeout == 0 {
		o.hostTimeout = 5 * time.Second
	}
	var db *sqlstore.DB
	var err error
	if strings.Contains(t.Name(), "/postgres") {
		db, err = sqlstore.OpenPostgres(context.Background(), testenv.Postgres(t), sqlstore.PoolSizes{Read: 4, Write: 4, Lock: 16})
	} else {
		db, err = sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "vwire.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{t: t, store: db, sim: sim.New()}
	var st vwire.Store = db
	if o.store != nil {
		st = o.store(db)
	}
	e.eng = engine.New(st, engine.Options{HostTimeout: o.hostTimeout, Dial: engineport.Dial(o.hostTimeout), Observer: o.observer})
	t.Cleanup(e.eng.Close)
	if _, err := e.eng.Bootstrap(ctx(), "secret"); err != nil {
		t.Fatal(err)
	}
	var hv hypervisor.Hypervisor = e.sim
	if o.hv != nil {
		hv = o.hv(e.sim)
	}
	srv := httptest.NewServer(agent.NewServer(hv, agent.Options{UnplugTimeout: 300 * time.Millisecond}))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	if o.proxy {
		e.proxy = testenv.NewFreezeProxy(t, addr)
		addr = e.proxy.Addr
	}
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	e.sim.EnsureBridges(context.Background(), []string{"ovirtmgmt"})
	if embedded {
		e.host, err = e.eng.RegisterEmbeddedHost(ctx(), "127.0.0.1", p)
	} else {
		var clusterID string
		db.View(ctx(), func(tx vwire.Tx) error {
			cls, _ := tx.Clusters(vwire.ClusterFilter{})
			clusterID = cls[0].ID
			return nil
		})
		e.host, err = e.eng.AddHost(ctx(), engine.HostSpec{Name: "host1", Address: "127.0.0.1", Port: p, ClusterID: clusterID})
	}
	if err != nil {
		t.Fatal(err)
	}
	if e.host.Status != vwire.HostUp {
		t.Fatalf("embedded host status = %s (%s)", e.host.Status, e.host.StatusDetail)
	}
	db.View(ctx(), func(tx vwire.Tx) error {
		cls, _ := tx.Clusters(vwire.ClusterFilter{})
		e.cluster = cls[0]
		e.dc, _ = tx.DataCenter(e.cluster.DataCenterID)
		ps, _ := tx.Profiles(vwire.ProfileFilter{})
		e.mgmt = ps[0].ID
		return nil
	})
	return e
}

// network creates a network attached to the Default cluster and returns its profile id.
func (e *env) network(name string) string {
	e.t.Helper()
	n := &vwire.Network{Name: name, DataCenterID: e.dc.ID, VMNetwork: true}
	if err := e.eng.AddNetwork(ctx(), n); err != nil {
		e.t.Fatal(err)
	}
	if err := e.eng.AttachNetwork(ctx(), e.cluster.ID, n.ID, true); err != nil {
		e.t.Fatal(err)
	}
	if !e.host.Embedded {
		e.sim.EnsureBridges(context.Background(), []string{name})
		e.eng.RefreshHost(ctx(), e.host.ID)
	}
	var id string
	e.store.View(ctx(), func(tx vwire.Tx) error {
		ps, _ := tx.Profiles(vwire.ProfileFilter{})
		for _, p := range ps {
			if p.NetworkID == n.ID {
				id = p.ID
			}
		}
		return nil
	})
	return id
}

func (e *env) vm(name string) *vwire.VM {
	e.t.Helper()
	vm, err := e.eng.AddVM(ctx(), engine.VMSpec{Name: name, ClusterID: e.cluster.ID})
	if err != nil {
		e.t.Fatal(err)
	}
	return vm
}

func (e *env) nic(vmID string, s engine.NICSpec) *vwire.NIC {
	e.t.Helper()
	n, err := e.eng.AddNIC(ctx(), vmID, s)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) start(vmID string) {
	e.t.Helper()
	if _, err := e.eng.StartVM(ctx(), vmID); err != nil {
		e.t.Fatal(err)
	}
}

// live returns the device as the simulated host has it.
func (e *env) live(vmID string, n *vwire.NIC) (bridge string, up bool, pci string, present bool) {
	e.t.Helper()
	d, err := e.sim.Domain(context.Background(), vmID)
	if err != nil {
		return "", false, "", false
	}
	st, ok := d.NICByAlias(n.Alias())
	return st.Bridge, st.LinkUp, st.PCIAddress, ok
}

func (e *env) stored(id string) *vwire.NIC {
	e.t.Helper()
	var n *vwire.NIC
	if err := e.store.View(ctx(), func(tx vwire.Tx) (err error) { n, err = tx.NIC(id); return }); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) lastEvent() *vwire.Event {
	e.t.Helper()
	var evs []*vwire.Event
	e.store.View(ctx(), func(tx vwire.Tx) (err error) { evs, err = tx.Events(0, 1); return })
	return evs[0]
}

func ptr[T any](v T) *T { return &v }

func key(err error) vwire.MsgKey {
	var ve *vwire.Error
	if errors.As(err, &ve) {
		return ve.Key
	}
	return ""
}

func TestBootstrapDefaults(t *testing.T) { forEachStore(t, testBootstrapDefaults) }

func testBootstrapDefaults(t *testing.T) {
	e := newEnv(t)
	e.store.View(ctx(), func(tx vwire.Tx) error {
		if e.dc.Name != "Default" || e.cluster.Name != "Default" || e.cluster.Version != vwire.NewestVersion {
			t.Errorf("defaults: dc %s cluster %s level %s", e.dc.Name, e.cluster.Name, e.cluster.Version)
		}
		nets, _ := tx.ClusterNetworks(e.cluster.ID)
		if len(nets) != 1 || nets[0].Name != "ovirtmgmt" {
			t.Errorf("cluster networks = %v", nets)
		}
		p, _ := tx.Profile(e.mgmt)
		if p.Name != "ovirtmgmt" {
			t.Errorf("profile = %s", p.Name)
		}
		if tp, err := tx.Template(vwire.BlankTemplateID); err != nil || tp.Name != "Blank" {
			t.Errorf("Blank: %v %v", tp, err)
		}
		if pool, err := tx.MACPool(vwire.DefaultMACPoolID); err != nil || pool.Size() != 65536 {
			t.Errorf("default pool: %v %v", pool, err)
		}
		return nil
	})
	if _, err := e.eng.Authenticate(ctx(), "admin@internal", "secret"); err != nil {
		t.Errorf("admin login: %v", err)
	}
	if _, err := e.eng.Authenticate(ctx(), "admin@internal", "wrong"); vwire.ErrorCode(err) != vwire.EUNAUTHORIZED {
		t.Errorf("wrong password: %v", err)
	}
	// A second bootstrap changes nothing but the password it is given.
	if gen, err := e.eng.Bootstrap(ctx(), ""); err != nil || gen != "" {
		t.Errorf("second bootstrap: %q %v", gen, err)
	}
	if _, err := e.eng.Authenticate(ctx(), "admin@internal", "secret"); err != nil {
		t.Errorf("password lost on restart: %v", err)
	}
	// The embedded host carries every network of its cluster.
	e.network("red")
	caps, _ := e.sim.Capabilities(context.Background())
	if strings.Join(caps.Bridges, ",") != "ovirtmgmt,red" {
		t.Errorf("embedded host bridges = %v, want ovirtmgmt,red", caps.Bridges)
	}
}

func TestLiveLinking(t *testing.T) { forEachStore(t, testLiveLinking) }

func testLiveLinking(t *testing.T) {
	e := newEnv(t)
	red := e.network("red")
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	e.start(vm.ID)
	_, _, pci, _ := e.live(vm.ID, n)

	steps := []struct {
		name       string
		patch      vwire.NICPatch
		bridge     string
		up         bool
		eventCode  int
		eventMatch string
	}{
		{"pull the cable", vwire.NICPatch{Linked: ptr(false)}, "ovirtmgmt", false, 934, "Link State is DOWN."},
		{"move to red", vwire.NICPatch{ProfileID: &red}, "red", false, 934, "was updated for VM vm1.  "},
		{"plug the cable", vwire.NICPatch{Linked: ptr(true)}, "red", true, 934, "Link State is UP."},
		{"empty network", vwire.NICPatch{ProfileID: ptr("")}, vwire.DummyBridge, false, 934, "was updated"},
		{"back to red", vwire.NICPatch{ProfileID: &red}, "red", true, 934, "was updated"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			got, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, s.patch)
			if err != nil {
				t.Fatal(err)
			}
			bridge, up, gotPCI, present := e.live(vm.ID, n)
			if !present || bridge != s.bridge || up != s.up || gotPCI != pci {
				t.Fatalf("host has bridge %s up %v pci %s present %v; want %s %v %s", bridge, up, gotPCI, present, s.bridge, s.up, pci)
			}
			st := e.stored(n.ID)
			if !st.Synced || st.Observed == nil || st.Observed.Bridge != s.bridge || st.MAC != n.MAC || got.MAC != n.MAC {
				t.Fatalf("stored = %+v observed %+v", st, st.Observed)
			}
			ev := e.lastEvent()
			if ev.Code != s.eventCode || !strings.Contains(ev.Description, s.eventMatch) || ev.VMID != vm.ID {
				t.Fatalf("event = %d %q", ev.Code, ev.Description)
			}
		})
	}
}

func TestMACChangeNeedsUnplug(t *testing.T) { forEachStore(t, testMACChangeNeedsUnplug) }

func testMACChangeNeedsUnplug(t *testing.T) {
	e := newEnv(t)
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	e.start(vm.ID)
	_, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{MAC: ptr("00:1a:4a:16:01:99")})
	if key(err) != vwire.MsgCannotPerformHotUpdate || vwire.ErrorCode(err) != vwire.ECONFLICT {
		t.Fatalf("MAC change on a plugged vNIC: %v", err)
	}
	// Unplug and change the MAC in one request: the unplug carries the old MAC.
	got, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{Plugged: ptr(false), MAC: ptr("00:1A:4A:16:01:99")})
	if err != nil {
		t.Fatal(err)
	}
	if got.MAC != "00:1a:4a:16:01:99" || got.Plugged {
		t.Fatalf("after unplug+MAC: %+v", got)
	}
	if _, _, _, present := e.live(vm.ID, n); present {
		t.Fatal("device still on the host after unplug")
	}
	if ev := e.lastEvent(); ev.Code != 1014 {
		t.Errorf("event = %d %s", ev.Code, ev.Description)
	}
	// The old MAC is free again, the new one is held.
	e.store.View(ctx(), func(tx vwire.Tx) error {
		old, _ := vwire.ParseMAC(n.MAC)
		if h, _ := tx.MACHolder(vwire.DefaultMACPoolID, old); h != "" {
			t.Errorf("old MAC still held by %s", h)
		}
		nm, _ := vwire.ParseMAC("00:1a:4a:16:01:99")
		if h, _ := tx.MACHolder(vwire.DefaultMACPoolID, nm); h != "vm1" {
			t.Errorf("new MAC holder = %q", h)
		}
		return nil
	})
	if _, err := e.eng.ActivateNIC(ctx(), vm.ID, n.ID); err != nil {
		t.Fatal(err)
	}
	d, _ := e.sim.Domain(context.Background(), vm.ID)
	if st, ok := d.NICByAlias(n.Alias()); !ok || st.MAC != "00:1a:4a:16:01:99" {
		t.Fatalf("replugged device = %+v %v", st, ok)
	}
	if ev := e.lastEvent(); ev.Code != 1012 {
		t.Errorf("event = %d", ev.Code)
	}
}

func TestHostFailureLeavesNoLie(t *testing.T) { forEachStore(t, testHostFailureLeavesNoLie) }

func testHostFailureLeavesNoLie(t *testing.T) {
	e := newEnv(t)
	red := e.network("red")
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	e.start(vm.ID)
	// The bridge vanishes behind the engine's back; the engine still believes the host has it.
	e.sim.RemoveBridges(context.Background(), []string{"red"})
	before := e.stored(n.ID)
	_, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{ProfileID: &red, Linked: ptr(false)})
	var ve *vwire.Error
	if !errors.As(err, &ve) || ve.Code != vwire.EHOST || ve.HostCode != agent.CodeUpdateDevice ||
		!strings.Contains(ve.Text(), "bridge red doesn't exist") {
		t.Fatalf("err = %v, want a host failure with code 56 and libvirt's reason", err)
	}
	after := e.stored(n.ID)
	if after.ProfileID != before.ProfileID || after.Linked != before.Linked || after.MAC != before.MAC {
		t.Fatalf("database changed: before %+v after %+v", before, after)
	}
	if bridge, up, _, _ := e.live(vm.ID, n); bridge != "ovirtmgmt" || !up {
		t.Fatalf("host device moved: %s %v", bridge, up)
	}
	if ev := e.lastEvent(); ev.Code != 935 || ev.Severity != vwire.SevError {
		t.Fatalf("event = %d %s", ev.Code, ev.Severity)
	}

	// A failed hot plug of a new vNIC frees the MAC it took and writes 933.
	var next vwire.MAC
	e.store.View(ctx(), func(tx vwire.Tx) error { return nil })
	_, err = e.eng.AddNIC(ctx(), vm.ID, engine.NICSpec{Name: "nic2", ProfileID: red, MAC: "02:11:22:33:44:55"})
	if vwire.ErrorCode(err) != vwire.EHOST || !strings.Contains(err.Error(), "No such device") {
		t.Fatalf("hot plug on a missing bridge: %v", err)
	}
	nics, _ := e.eng.NICs(ctx(), vm.ID)
	if len(nics) != 1 {
		t.Fatalf("failed add left %d vNICs", len(nics))
	}
	e.store.View(ctx(), func(tx vwire.Tx) error {
		next, _ = vwire.ParseMAC("02:11:22:33:44:55")
		if h, _ := tx.MACHolder(vwire.DefaultMACPoolID, next); h != "" {
			t.Errorf("MAC of the failed add still held by %q", h)
		}
		return nil
	})
	if ev := e.lastEvent(); ev.Code != 933 {
		t.Fatalf("event = %d", ev.Code)
	}
}

func TestUnplugThatNeverCompletesKeepsVNICPlugged(t *testing.T) {
	forEachStore(t, testUnplugThatNeverCompletesKeepsVNICPlugged)
}

func testUnplugThatNeverCompletesKeepsVNICPlugged(t *testing.T) {
	e := newEnv(t)
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	e.start(vm.ID)
	e.sim.HoldUnplug(vm.ID, true)
	_, err := e.eng.DeactivateNIC(ctx(), vm.ID, n.ID)
	var ve *vwire.Error
	if !errors.As(err, &ve) || ve.HostCode != agent.CodeHotunplugNic || !strings.Contains(ve.Text(), "did not release") {
		t.Fatalf("err = %v", err)
	}
	if st := e.stored(n.ID); !st.Plugged {
		t.Fatal("vNIC recorded unplugged although the guest kept it")
	}
	if ev := e.lastEvent(); ev.Code != 1015 {
		t.Fatalf("event = %d", ev.Code)
	}
}

func TestStartWithEmptyAndUnlinked(t *testing.T) { forEachStore(t, testStartWithEmptyAndUnlinked) }

func testStartWithEmptyAndUnlinked(t *testing.T) {
	e := newEnv(t)
	vm := e.vm("vm1")
	empty := e.nic(vm.ID, engine.NICSpec{Name: "nic1"})
	unlinked := e.nic(vm.ID, engine.NICSpec{Name: "nic2", ProfileID: e.mgmt, Linked: ptr(false)})
	unplugged := e.nic(vm.ID, engine.NICSpec{Name: "nic3", ProfileID: e.mgmt, Plugged: ptr(false)})
	e.start(vm.ID)
	if b, up, _, ok := e.live(vm.ID, empty); !ok || b != vwire.DummyBridge || up {
		t.Errorf("empty network: %s %v %v", b, up, ok)
	}
	if b, up, _, ok := e.live(vm.ID, unlinked); !ok || b != "ovirtmgmt" || up {
		t.Errorf("unlinked: %s %v %v", b, up, ok)
	}
	if _, _, _, ok := e.live(vm.ID, unplugged); ok {
		t.Error("unplugged vNIC is on the host")
	}
	for _, n := range []*vwire.NIC{empty, unlinked, unplugged} {
		if st := e.stored(n.ID); !st.Synced || st.Observed == nil {
			t.Errorf("%s: synced %v observed %v", n.Name, st.Synced, st.Observed)
		}
	}
	if _, err := e.eng.StopVM(ctx(), vm.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sim.Domain(context.Background(), vm.ID); err == nil {
		t.Error("domain still exists after stop")
	}
	if st := e.stored(empty.ID); st.Observed != nil || !st.Synced {
		t.Errorf("after stop: %+v", st)
	}
	if err := e.eng.RemoveNIC(ctx(), vm.ID, empty.ID); err != nil {
		t.Fatal(err)
	}
}

func TestDriftShowsAsUnsynced(t *testing.T) { forEachStore(t, testDriftShowsAsUnsynced) }

func testDriftShowsAsUnsynced(t *testing.T) {
	e := newEnv(t)
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	e.start(vm.ID)
	// Like virsh domif-setlink, behind the engine's back.
	time.Sleep(5 * time.Millisecond)
	if err := e.sim.SetLink(vm.ID, n.Alias(), false); err != nil {
		t.Fatal(err)
	}
	e.eng.PollAll(ctx())
	st := e.stored(n.ID)
	if st.Synced || st.Observed.LinkUp {
		t.Fatalf("after drift: synced %v observed %+v", st.Synced, st.Observed)
	}
	// Putting it back resyncs.
	e.sim.SetLink(vm.ID, n.Alias(), true)
	e.eng.PollAll(ctx())
	if st := e.stored(n.ID); !st.Synced {
		t.Fatal("not synced after the drift was undone")
	}
	// A domain that vanishes makes the VM down.
	e.sim.DestroyDomain(context.Background(), vm.ID)
	e.eng.PollAll(ctx())
	var got *vwire.VM
	e.store.View(ctx(), func(tx vwire.Tx) (err error) { got, err = tx.VM(vm.ID); return })
	if got.Status != vwire.VMDown || got.HostID != "" {
		t.Fatalf("vanished domain: VM %s on %q", got.Status, got.HostID)
	}
	if ev := e.lastEvent(); ev.Code != 119 {
		t.Fatalf("event = %d", ev.Code)
	}
}

func TestConcurrentChangesToOneVMAreSerialised(t *testing.T) {
	forEachStore(t, testConcurrentChangesToOneVMAreSerialised)
}

func testConcurrentChangesToOneVMAreSerialised(t *testing.T) {
	e := newEnv(t)
	red := e.network("red")
	vm := e.vm("vm1")
	var nics []*vwire.NIC
	for i := 0; i < 4; i++ {
		nics = append(nics, e.nic(vm.ID, engine.NICSpec{Name: "nic" + strconv.Itoa(i), ProfileID: e.mgmt}))
	}
	e.start(vm.ID)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := nics[i%4]
			p := vwire.NICPatch{Linked: ptr(i%2 == 0)}
			if i%3 == 0 {
				p.ProfileID = &red
			}
			if _, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, p); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, n := range nics {
		st := e.stored(n.ID)
		bridge, up, _, _ := e.live(vm.ID, n)
		if bridge != st.Bridge() || up != st.LinkUp() || !st.Synced {
			t.Errorf("%s: stored bridge %s link %v, host %s %v", n.Name, st.Bridge(), st.LinkUp(), bridge, up)
		}
	}
}

func TestClusterLevelGates(t *testing.T) { forEachStore(t, testClusterLevelGates) }

func testClusterLevelGates(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		level string
		spec  engine.NICSpec
		key   vwire.MsgKey
	}{
		{"3.1", engine.NICSpec{Name: "n", ProfileID: "MGMT", Linked: ptr(false)}, vwire.MsgUnlinkingIsNotSupported},
		{"3.1", engine.NICSpec{Name: "n"}, vwire.MsgNullNetworkIsNotSupported},
		{"3.0", engine.NICSpec{Name: "n", ProfileID: "MGMT"}, ""},
		{"3.2", engine.NICSpec{Name: "n", Linked: ptr(false)}, ""},
	}
	for i, tc := range cases {
		t.Run(tc.level+"/"+string(tc.key), func(t *testing.T) {
			v, _ := vwire.ParseVersion(tc.level)
			c := &vwire.Cluster{Name: "c" + strconv.Itoa(i), DataCenterID: e.dc.ID, Version: v}
			if err := e.eng.AddCluster(ctx(), c); err != nil {
				t.Fatal(err)
			}
			vm, err := e.eng.AddVM(ctx(), engine.VMSpec{Name: "vm-" + strconv.Itoa(i), ClusterID: c.ID})
			if err != nil {
				t.Fatal(err)
			}
			if tc.spec.ProfileID == "MGMT" {
				tc.spec.ProfileID = e.mgmt
			}
			_, err = e.eng.AddNIC(ctx(), vm.ID, tc.spec)
			if key(err) != tc.key {
				t.Fatalf("err = %v, want key %q", err, tc.key)
			}
		})
	}
}

// newHost starts another agent on its own simulated host, with the
// ovirtmgmt bridge, and registers it in a cluster.
func newHost(t *testing.T, e *env, clusterID string) *vwire.Host {
	t.Helper()
	s := sim.New("ovirtmgmt")
	srv := httptest.NewServer(agent.NewServer(s, agent.Options{}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	p, _ := strconv.Atoi(port)
	h, err := e.eng.AddHost(ctx(), engine.HostSpec{Name: "h" + port, Address: "127.0.0.1", Port: p, ClusterID: clusterID})
	if err != nil || h.Status != vwire.HostUp {
		t.Fatalf("add host: %v %+v", err, h)
	}
	return h
}

func (e *env) networkOf(profileID string) string {
	var id string
	e.store.View(ctx(), func(tx vwire.Tx) error { p, _ := tx.Profile(profileID); id = p.NetworkID; return nil })
	return id
}

// TestStuckPoweringUpIsSettled: a VM left powering up by an engine that died
// between the host call and the commit is settled by the next poll.
func TestStuckPoweringUpIsSettled(t *testing.T) { forEachStore(t, testStuckPoweringUpIsSettled) }

func testStuckPoweringUpIsSettled(t *testing.T) {
	e := newEnv(t)
	for _, onHost := range []bool{true, false} {
		vm := e.vm("stuck" + strconv.FormatBool(onHost))
		vm.Status, vm.HostID = vwire.VMPoweringUp, e.host.ID
		e.store.Update(ctx(), func(tx vwire.Tx) error { return tx.UpdateVM(vm) })
		if onHost {
			e.sim.CreateDomain(context.Background(), hypervisor.Domain{ID: vm.ID, Name: vm.Name})
		}
		e.eng.PollAll(ctx())
		var got *vwire.VM
		e.store.View(ctx(), func(tx vwire.Tx) (err error) { got, err = tx.VM(vm.ID); return })
		want := vwire.VMDown
		if onHost {
			want = vwire.VMUp
		}
		if got.Status != want {
			t.Errorf("on host %v: status %s, want %s", onHost, got.Status, want)
		}
	}
}

// TestGuestNotification: the target profile decides how the guest learns of
// a move; a link change or a move to no network notifies nothing.
func TestGuestNotification(t *testing.T) { forEachStore(t, testGuestNotification) }

func testGuestNotification(t *testing.T) {
	e := newEnv(t)
	plain := e.network("plain")
	bounce := e.network("bounce")
	ann := e.network("ann")
	for id, mode := range map[string]vwire.GuestNotify{bounce: vwire.NotifyLinkBounce, ann: vwire.NotifyAnnounce} {
		if _, err := e.eng.UpdateProfile(ctx(), id, func(p *vwire.VNICProfile) error {
			p.Notify, p.BounceHold = mode, 20*time.Millisecond
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: plain})
	e.start(vm.ID)
	move := func(profile string) {
		t.Helper()
		if _, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{ProfileID: &profile}); err != nil {
			t.Fatal(err)
		}
	}
	move(bounce)
	if d := e.sim.LinkDowns(vm.ID, n.Alias()); d != 1 {
		t.Errorf("after a move to a link_bounce profile: %d link downs, want 1", d)
	}
	if b, up, _, _ := e.live(vm.ID, n); b != "bounce" || !up {
		t.Errorf("after the bounce: bridge %s up %v", b, up)
	}
	move(ann)
	if a := e.sim.Announcements(vm.ID, n.Alias()); a != 1 {
		t.Errorf("after a move to an announce profile: %d announcements, want 1", a)
	}
	move(plain)
	if d, a := e.sim.LinkDowns(vm.ID, n.Alias()), e.sim.Announcements(vm.ID, n.Alias()); d != 1 || a != 1 {
		t.Errorf("a move to a silent profile notified: downs %d announcements %d", d, a)
	}
	// Moving within the announce profile's network with link changes only: nothing.
	move(ann)
	e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{Linked: ptr(false)})
	e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{Linked: ptr(true)})
	if a := e.sim.Announcements(vm.ID, n.Alias()); a != 2 {
		t.Errorf("link changes announced: %d, want 2", a)
	}
	_, err := e.eng.UpdateProfile(ctx(), bounce, func(p *vwire.VNICProfile) error { p.BounceHold = time.Hour; return nil })
	if key(err) != vwire.MsgVNICProfileBadGuestNotification {
		t.Errorf("an hour-long hold: %v", err)
	}
}

// TestRepairAfterEngineDeath: an engine died after its host calls and
// before its commits. The poller, once the dead engine's heartbeat is old,
// makes the host match the database and frees what the change had taken.
func TestRepairAfterEngineDeath(t *testing.T) { forEachStore(t, testRepairAfterEngineDeath) }

func testRepairAfterEngineDeath(t *testing.T) {
	e := newEnv(t)
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	e.start(vm.ID)
	// What the dead engine did: pulled nic1's cable and plugged a new vNIC
	// whose row it never wrote, with a MAC it had leased.
	e.sim.SetLink(vm.ID, n.Alias(), false)
	ghost := hypervisor.NIC{Alias: "ua-ghost", MAC: "02:00:00:00:66:66", Model: "virtio", Bridge: "ovirtmgmt", LinkUp: true}
	if _, err := e.sim.AttachNIC(context.Background(), vm.ID, ghost); err != nil {
		t.Fatal(err)
	}
	long := time.Now().Add(-time.Hour)
	e.store.Update(ctx(), func(tx vwire.Tx) error {
		pool, _ := tx.MACPool(vwire.DefaultMACPoolID)
		if err := tx.LeaseMAC(pool, 0x020000006666, "ghost"); err != nil {
			return err
		}
		if err := tx.Heartbeat("dead-engine", long); err != nil {
			return err
		}
		return tx.SetPending(vwire.Pending{VMID: vm.ID, EngineID: "dead-engine", NICID: "ghost", Started: long})
	})
	e.eng.PollAll(ctx())
	if _, up, _, _ := e.live(vm.ID, n); !up {
		t.Error("nic1's link not restored to the database's state")
	}
	d, _ := e.sim.Domain(context.Background(), vm.ID)
	if _, ok := d.NICByAlias("ua-ghost"); ok {
		t.Error("the uncommitted vNIC is still plugged")
	}
	e.store.View(ctx(), func(tx vwire.Tx) error {
		if p, _ := tx.UnsettledPending(e.host.ID, time.Now(), time.Now()); len(p) != 0 {
			t.Errorf("change still pending: %v", p)
		}
		return nil
	})
	if err := e.store.Update(ctx(), func(tx vwire.Tx) error {
		pool, _ := tx.MACPool(vwire.DefaultMACPoolID)
		return tx.LeaseMAC(pool, 0x020000006666, "other")
	}); err != nil {
		t.Errorf("the uncommitted vNIC's MAC is still leased: %v", err)
	}
	// A change in flight of a live engine is left alone.
	e.store.Update(ctx(), func(tx vwire.Tx) error {
		tx.Heartbeat("busy-engine", time.Now())
		return tx.SetPending(vwire.Pending{VMID: vm.ID, EngineID: "busy-engine", Started: time.Now()})
	})
	e.sim.SetLink(vm.ID, n.Alias(), false)
	e.eng.PollAll(ctx())
	if _, up, _, _ := e.live(vm.ID, n); up {
		t.Error("repaired a VM whose engine is alive")
	}
}

// countingStore counts write transactions.
type countingStore struct {
	vwire.Store
	updates atomic.Int64
}

func (c *countingStore) Update(ctx context.Context, fn func(vwire.Tx) error) error {
	c.updates.Add(1)
	return c.Store.Update(ctx, fn)
}

// TestUnchangedPollWritesNothing: polling a host whose VMs did not change
// costs no write.
func TestUnchangedPollWritesNothing(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 3; i++ {
		vm := e.vm("p" + strconv.Itoa(i))
		e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
		e.start(vm.ID)
	}
	cs := &countingStore{Store: e.store}
	eng := engine.New(cs, engine.Options{HostTimeout: 5 * time.Second, Dial: engineport.Dial(5 * time.Second)})
	eng.PollAll(ctx())
	before := cs.updates.Load()
	eng.PollAll(ctx())
	if n := cs.updates.Load() - before; n != 0 {
		t.Errorf("an unchanged poll wrote %d transactions", n)
	}
	// A change behind the engine's back is written.
	var vm *vwire.VM
	e.store.View(ctx(), func(tx vwire.Tx) error { all, _ := tx.VMs(vwire.VMFilter{}); vm = all[0]; return nil })
	nics, _ := e.eng.NICs(ctx(), vm.ID)
	e.sim.SetLink(vm.ID, nics[0].Alias(), false)
	before = cs.updates.Load()
	eng.PollAll(ctx())
	if n := cs.updates.Load() - before; n != 1 {
		t.Errorf("a poll with one VM changed wrote %d transactions, want 1", n)
	}
}
