package engine_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"vwire.dev/vwire"
	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/agent/engineport"
	"vwire.dev/vwire/engine"
	"vwire.dev/vwire/hypervisor"
)

// Drift audit codes (engine/drift.go).
const (
	codeDrifted       = 12100
	codeRepaired      = 12101
	codeForeign       = 12102
	codeForeignUnplug = 12103
)

// events lists the descriptions of the events with a code, oldest first.
func (e *env) events(code int) []string {
	e.t.Helper()
	var evs []*vwire.Event
	if err := e.store.View(ctx(), func(tx vwire.Tx) (err error) { evs, err = tx.Events(0, 0); return }); err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Code == code {
			out = append(out, evs[i].Description)
		}
	}
	return out
}

func (e *env) setPolicy(p vwire.DriftPolicy) {
	e.t.Helper()
	if _, err := e.eng.UpdateCluster(ctx(), e.cluster.ID, func(c *vwire.Cluster) error { c.DriftPolicy = p; return nil }); err != nil {
		e.t.Fatal(err)
	}
}

// behindTheBack changes a device on the simulated host without the agent,
// as `virsh update-device --live` would.
func (e *env) behindTheBack(vmID string, n *vwire.NIC, bridge string, up bool) {
	e.t.Helper()
	d, err := e.sim.Domain(context.Background(), vmID)
	if err != nil {
		e.t.Fatal(err)
	}
	cur, _ := d.NICByAlias(n.Alias())
	dev := cur.NIC
	dev.Bridge, dev.LinkUp = bridge, up
	if _, err := e.sim.UpdateNIC(context.Background(), vmID, dev); err != nil {
		e.t.Fatal(err)
	}
}

// driftedVM is a running VM whose nic1 (on ovirtmgmt) was moved to "red"
// and its link pulled behind the engine's back.
func driftedVM(t *testing.T, e *env) (*vwire.VM, *vwire.NIC) {
	e.network("red")
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	e.start(vm.ID)
	e.behindTheBack(vm.ID, n, "red", false)
	return vm, n
}

// TestDriftReported: under the default policy, drift shows as synced=false
// with one event when it appears (not one per poll), a different drift is
// news again, and the host is left as it is.
func TestDriftReported(t *testing.T) { forEachStore(t, testDriftReported) }

func testDriftReported(t *testing.T) {
	e := newEnv(t)
	if e.cluster.DriftPolicy != vwire.DriftReport {
		t.Fatalf("default policy = %q", e.cluster.DriftPolicy)
	}
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	e.start(vm.ID)
	if err := e.sim.SetLink(vm.ID, n.Alias(), false); err != nil {
		t.Fatal(err)
	}
	e.eng.PollAll(ctx())
	e.eng.PollAll(ctx())
	if st := e.stored(n.ID); st.Synced {
		t.Error("a drifted vNIC is synced")
	}
	want := []string{"Network interface nic1 of VM vm1 drifted on host local: link is down, expected up."}
	if diff := cmp.Diff(want, e.events(codeDrifted)); diff != "" {
		t.Errorf("drift events (-want +got):\n%s", diff)
	}
	if _, up, _, _ := e.live(vm.ID, n); up {
		t.Error("the report policy repaired the link")
	}
	// The vNIC also moves: a different drift, one more event.
	e.network("red")
	e.behindTheBack(vm.ID, n, "red", false)
	e.eng.PollAll(ctx())
	e.eng.PollAll(ctx())
	want = append(want, "Network interface nic1 of VM vm1 drifted on host local: network is red, expected ovirtmgmt; link is down, expected up.")
	if diff := cmp.Diff(want, e.events(codeDrifted)); diff != "" {
		t.Errorf("drift events (-want +got):\n%s", diff)
	}
	if got := e.events(codeRepaired); len(got) != 0 {
		t.Errorf("repairs under report: %q", got)
	}
	// Put back by hand: synced again, and a later drift is news again.
	e.behindTheBack(vm.ID, n, "ovirtmgmt", true)
	e.eng.PollAll(ctx())
	if !e.stored(n.ID).Synced {
		t.Error("not synced after the drift was undone")
	}
	e.sim.SetLink(vm.ID, n.Alias(), false)
	e.eng.PollAll(ctx())
	if got := e.events(codeDrifted); len(got) != 3 {
		t.Errorf("a drift that reappeared was not reported again: %q", got)
	}
}

// TestDriftEnforced: under enforce the next poll puts the vNIC back on its
// network with its link up by a live update (same device, same PCI slot),
// records it synced, and says what it repaired; presence and MAC drift are
// repaired by plugging.
func TestDriftEnforced(t *testing.T) { forEachStore(t, testDriftEnforced) }

func testDriftEnforced(t *testing.T) {
	e := newEnv(t)
	vm, n := driftedVM(t, e)
	_, _, pci, _ := e.live(vm.ID, n)
	e.setPolicy(vwire.DriftEnforce)
	e.eng.PollAll(ctx())
	bridge, up, pciAfter, present := e.live(vm.ID, n)
	if bridge != "ovirtmgmt" || !up || !present {
		t.Fatalf("after enforce: on %q, link up %v, present %v", bridge, up, present)
	}
	if pciAfter != pci {
		t.Errorf("repaired by a replug: PCI %s → %s", pci, pciAfter)
	}
	st := e.stored(n.ID)
	if !st.Synced || st.Observed.Bridge != "ovirtmgmt" || !st.Observed.LinkUp {
		t.Errorf("after enforce: synced %v, observed %+v", st.Synced, st.Observed)
	}
	if diff := cmp.Diff([]string{"Network interface nic1 of VM vm1 drifted on host local: network is red, expected ovirtmgmt; link is down, expected up."},
		e.events(codeDrifted)); diff != "" {
		t.Errorf("drift events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Network interface nic1 of VM vm1 was repaired on host local: network was red, now ovirtmgmt; link was down, now up."},
		e.events(codeRepaired)); diff != "" {
		t.Errorf("repair events (-want +got):\n%s", diff)
	}
	// Repaired and recorded: the next poll has nothing to do.
	e.eng.PollAll(ctx())
	if got := e.events(codeRepaired); len(got) != 1 {
		t.Errorf("repairs after a clean poll: %q", got)
	}

	// Unplugged behind the back: plugged again.
	if err := e.sim.DetachNIC(context.Background(), vm.ID, n.Alias()); err != nil {
		t.Fatal(err)
	}
	e.eng.PollAll(ctx())
	if _, up, _, present := e.live(vm.ID, n); !present || !up {
		t.Errorf("unplugged device: present %v, up %v after enforce", present, up)
	}
	// Replugged with another MAC: out and in again with the database's.
	e.sim.DetachNIC(context.Background(), vm.ID, n.Alias())
	if _, err := e.sim.AttachNIC(context.Background(), vm.ID, hypervisor.NIC{Alias: n.Alias(), MAC: "02:00:00:00:77:77", Model: "e1000", Bridge: "ovirtmgmt", LinkUp: true, Filter: n.Filter}); err != nil {
		t.Fatal(err)
	}
	e.eng.PollAll(ctx())
	d, _ := e.sim.Domain(context.Background(), vm.ID)
	if got, _ := d.NICByAlias(n.Alias()); got.MAC != n.MAC || got.Model != "virtio" {
		t.Errorf("MAC/model drift: host has %s %s, want %s virtio", got.MAC, got.Model, n.MAC)
	}
	if !e.stored(n.ID).Synced {
		t.Error("not synced after the MAC was repaired")
	}
	repairs := e.events(codeRepaired)
	if want := "MAC was 02:00:00:00:77:77, now " + n.MAC + "; model was e1000, now virtio."; len(repairs) != 3 || !strings.HasSuffix(repairs[2], want) {
		t.Errorf("repair events %q, want the last to end %q", repairs, want)
	}
	// An unplugged vNIC plugged behind the back is unplugged.
	if _, err := e.eng.DeactivateNIC(ctx(), vm.ID, n.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sim.AttachNIC(context.Background(), vm.ID, hypervisor.NIC{Alias: n.Alias(), MAC: n.MAC, Model: "virtio", Bridge: "ovirtmgmt", LinkUp: true, Filter: n.Filter}); err != nil {
		t.Fatal(err)
	}
	e.eng.PollAll(ctx())
	if _, _, _, present := e.live(vm.ID, n); present {
		t.Error("an unplugged vNIC plugged behind the back is still there")
	}
	if st := e.stored(n.ID); !st.Synced || st.Observed.Present {
		t.Errorf("after unplug: synced %v observed %+v", st.Synced, st.Observed)
	}
}

// TestDriftUnknownDevice: a device no vNIC accounts for (a vwire-style alias
// of no vNIC, or libvirt's own, net0, for a device attached without one) is reported once, left alone under
// report, and unplugged under enforce.
func TestDriftUnknownDevice(t *testing.T) { forEachStore(t, testDriftUnknownDevice) }

func testDriftUnknownDevice(t *testing.T) {
	e := newEnv(t)
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	e.start(vm.ID)
	for _, d := range []hypervisor.NIC{
		{Alias: "ua-00000000-0000-0000-0000-00000000dead", MAC: "02:00:00:00:de:ad", Model: "virtio", Bridge: "ovirtmgmt", LinkUp: true},
		{Alias: "", MAC: "52:54:00:00:00:01", Model: "rtl8139", Bridge: "ovirtmgmt", LinkUp: true},
	} {
		if _, err := e.sim.AttachNIC(context.Background(), vm.ID, d); err != nil {
			t.Fatal(err)
		}
	}
	e.eng.PollAll(ctx())
	e.eng.PollAll(ctx())
	want := []string{
		"VM vm1 has a network interface unknown to the engine on host local: ua-00000000-0000-0000-0000-00000000dead (MAC 02:00:00:00:de:ad on ovirtmgmt).",
		"VM vm1 has a network interface unknown to the engine on host local: net0 (MAC 52:54:00:00:00:01 on ovirtmgmt).",
	}
	if diff := cmp.Diff(want, e.events(codeForeign)); diff != "" {
		t.Errorf("unknown device events (-want +got):\n%s", diff)
	}
	if d, _ := e.sim.Domain(context.Background(), vm.ID); len(d.NICs) != 3 {
		t.Errorf("report unplugged something: %d devices", len(d.NICs))
	}
	if !e.stored(n.ID).Synced {
		t.Error("nic1 unsynced by a device beside it")
	}
	e.setPolicy(vwire.DriftEnforce)
	e.eng.PollAll(ctx())
	d, _ := e.sim.Domain(context.Background(), vm.ID)
	if len(d.NICs) != 1 || d.NICs[0].Alias != n.Alias() {
		t.Errorf("after enforce the host has %+v, want only nic1", d.NICs)
	}
	if got := e.events(codeForeignUnplug); len(got) != 2 ||
		got[1] != "Network interface net0 (MAC 52:54:00:00:00:01 on ovirtmgmt) of VM vm1, unknown to the engine, was unplugged from host local." {
		t.Errorf("unplug events: %q", got)
	}
	// Gone: a clean poll writes nothing more, and a new one is news.
	e.eng.PollAll(ctx())
	e.sim.AttachNIC(context.Background(), vm.ID, hypervisor.NIC{Alias: "", MAC: "52:54:00:00:00:01", Model: "rtl8139", Bridge: "ovirtmgmt", LinkUp: true})
	e.eng.PollAll(ctx())
	if got := e.events(codeForeign); len(got) != 3 {
		t.Errorf("a device that came back was not reported again: %q", got)
	}
}

// raceClient runs a user's change while the poll waits for the host's
// answer, once, after the host has answered: the report the poll gets
// predates the change.
type raceClient struct {
	engine.HostClient
	once   sync.Once
	during func()
}

func (c *raceClient) AllVMStats(ctx context.Context) ([]engine.HostVM, error) {
	st, err := c.HostClient.AllVMStats(ctx)
	c.once.Do(c.during)
	return st, err
}

// TestDriftRepairNeverFightsAUser: under enforce, a VM with a change in
// flight is not repaired, nor one a user changed while the poll ran (the
// report is older than the change).
func TestDriftRepairNeverFightsAUser(t *testing.T) { forEachStore(t, testDriftRepairNeverFightsAUser) }

func testDriftRepairNeverFightsAUser(t *testing.T) {
	e := newEnv(t)
	vm, n := driftedVM(t, e)
	e.setPolicy(vwire.DriftEnforce)
	// A change in flight of a live engine.
	e.store.Update(ctx(), func(tx vwire.Tx) error {
		tx.Heartbeat("busy-engine", time.Now())
		return tx.SetPending(vwire.Pending{VMID: vm.ID, EngineID: "busy-engine", NICID: n.ID, Started: time.Now()})
	})
	e.eng.PollAll(ctx())
	if bridge, _, _, _ := e.live(vm.ID, n); bridge != "red" {
		t.Error("repaired a VM with a change in flight")
	}
	if got := e.events(codeDrifted); len(got) != 0 {
		t.Errorf("drift reported while a change is in flight: %q", got)
	}
	e.store.Update(ctx(), func(tx vwire.Tx) error { return tx.ClearPending(vm.ID) })

	// A user pulls the cable while a poll waits for the host: the poll's
	// report (red, down) is older than the user's change.
	var user error
	eng := engine.New(e.store, engine.Options{HostTimeout: 5 * time.Second, Dial: func(h *vwire.Host) engine.HostClient {
		c := engineport.New(agent.NewClient("http://"+net.JoinHostPort(h.Address, strconv.Itoa(h.Port))+"/", nil, 5*time.Second))
		return &raceClient{HostClient: c, during: func() {
			_, user = e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{Linked: ptr(false)})
		}}
	}})
	defer eng.Close()
	eng.PollAll(ctx())
	if user != nil {
		t.Fatal(user)
	}
	if got := e.events(codeRepaired); len(got) != 0 {
		t.Errorf("repaired from a report older than the user's change: %q", got)
	}
	// The user's update put the whole device as the database has it; the
	// next poll finds nothing to repair and keeps the user's link.
	e.eng.PollAll(ctx())
	bridge, up, _, _ := e.live(vm.ID, n)
	if bridge != "ovirtmgmt" || up {
		t.Errorf("after the next poll: on %q, link up %v; want ovirtmgmt, down (the user's)", bridge, up)
	}
	if st := e.stored(n.ID); !st.Synced || st.Linked {
		t.Errorf("stored: synced %v linked %v", st.Synced, st.Linked)
	}
}

// TestDriftPolicyValidated: the engine refuses a policy it does not know,
// with oVirt's bad-enum fault.
func TestDriftPolicyValidated(t *testing.T) {
	e := newEnv(t)
	_, err := e.eng.UpdateCluster(ctx(), e.cluster.ID, func(c *vwire.Cluster) error { c.DriftPolicy = "repair"; return nil })
	if vwire.ErrorCode(err) != vwire.EINVALID {
		t.Fatalf("policy repair: %v", err)
	}
	c := &vwire.Cluster{Name: "c2", DataCenterID: e.dc.ID}
	if err := e.eng.AddCluster(ctx(), c); err != nil || c.DriftPolicy != vwire.DriftReport {
		t.Fatalf("new cluster: %v, policy %q", err, c.DriftPolicy)
	}
}
