package engine_test

import (
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/agent/engineport"
	"vwire.dev/vwire/engine"
	"vwire.dev/vwire/hypervisor/hostnet"
	"vwire.dev/vwire/hypervisor/sim"
)

// netHost is a host added to the env's cluster whose networking the test
// controls: its own agent over its own simulated hypervisor and host NICs.
type netHost struct {
	h   *vwire.Host
	hv  *sim.Sim
	net *hostnet.Sim
}

func (e *env) netHost(name, addr, noVLAN string) *netHost {
	e.t.Helper()
	nh := &netHost{hv: sim.New()}
	nh.net = hostnet.NewSim(hostnet.SimOptions{Bridges: nh.hv, NoVLAN: noVLAN, NICs: []hostnet.NIC{
		{Name: "eth0", MAC: "52:54:00:00:01:01", MTU: 1500, Speed: 10000, Up: true, Addr: addr},
		{Name: "eth1", MAC: "52:54:00:00:01:02", MTU: 9000, Speed: 25000, Up: true},
	}})
	nh.hv.EnsureBridges(context.Background(), []string{"ovirtmgmt"})
	srv := httptest.NewServer(agent.NewServer(nh.hv, agent.Options{HostNet: nh.net}))
	e.t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	p, _ := strconv.Atoi(port)
	h, err := e.eng.AddHost(ctx(), engine.HostSpec{Name: name, Address: "127.0.0.1", Port: p, ClusterID: e.cluster.ID})
	if err != nil {
		e.t.Fatal(err)
	}
	nh.h = h
	return nh
}

// realised is the network as the host has it.
func (nh *netHost) realised(t *testing.T, name string) (hostnet.Network, bool) {
	t.Helper()
	nets, err := nh.net.Networks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		if n.Name == name {
			return n, true
		}
	}
	return hostnet.Network{}, false
}

func (nh *netHost) remotes(t *testing.T, name string) []string {
	t.Helper()
	n, ok := nh.realised(t, name)
	if !ok || n.VXLAN == nil {
		t.Fatalf("%s: no overlay %s realised (%+v)", nh.h.Name, name, n)
	}
	return n.VXLAN.Remotes
}

func (e *env) addNet(n *vwire.Network, required bool) *vwire.Network {
	e.t.Helper()
	n.DataCenterID, n.VMNetwork = e.dc.ID, true
	if err := e.eng.AddNetwork(ctx(), n); err != nil {
		e.t.Fatal(err)
	}
	if err := e.eng.AttachNetwork(ctx(), e.cluster.ID, n.ID, required); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func attachments(t *testing.T, e *env, hostID string) []*engine.AttachmentView {
	t.Helper()
	l, err := e.eng.NetworkAttachments(ctx(), hostID)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestSetupNetworks: an overlay network attached on two hosts through
// setupnetworks; each host replicates to the other, a host's drift shows
// out of sync with the difference and syncallnetworks fixes it, an edit of
// the segment reaches both hosts, and removing a host takes it off the
// other's list. The refusals come before any host is touched.
func TestSetupNetworks(t *testing.T) { forEachStore(t, testSetupNetworks) }

func testSetupNetworks(t *testing.T) {
	e := newEnvWith(t, false)
	a := e.netHost("ha", "198.18.0.1/24", "")
	b := e.netHost("hb", "198.18.0.2/24", "the kernel has no 802.1Q")
	ov := e.addNet(&vwire.Network{Name: "ov", VXLAN: 100}, false)

	nics, err := e.eng.HostNICs(ctx(), a.h.ID)
	if err != nil || len(nics) != 2 || nics[0].Name != "eth0" || nics[0].Addr != "198.18.0.1/24" || nics[1].MTU != 9000 || !nics[1].Up {
		t.Fatalf("host NICs = %+v, %v", nics, err)
	}

	setup := func(nh *netHost, p engine.SetupNetworksParams) error {
		return e.eng.SetupNetworks(ctx(), nh.h.ID, p)
	}
	attach := func(nh *netHost, netID, nic string) {
		t.Helper()
		if err := setup(nh, engine.SetupNetworksParams{Modified: []engine.AttachmentSpec{{NetworkID: netID, NIC: nic}},
			CheckConnectivity: true, Timeout: 5 * time.Second}); err != nil {
			t.Fatal(err)
		}
	}
	attach(a, ov.ID, "eth0")
	if r := a.remotes(t, "ov"); len(r) != 0 {
		t.Errorf("alone on the overlay, ha replicates to %v", r)
	}
	attach(b, ov.ID, "eth0")
	if r := a.remotes(t, "ov"); !slices.Equal(r, []string{"198.18.0.2"}) {
		t.Errorf("ha's remotes after hb joined = %v; want hb's address", r)
	}
	if r := b.remotes(t, "ov"); !slices.Equal(r, []string{"198.18.0.1"}) {
		t.Errorf("hb's remotes = %v; want ha's address", r)
	}
	l := attachments(t, e, a.h.ID)
	if len(l) != 1 || l[0].NetworkName != "ov" || l[0].NIC != "eth0" || !l[0].InSync {
		t.Fatalf("ha's attachments = %+v", l)
	}

	// Behind the engine's back, ha forgets hb.
	if err := a.net.Apply(context.Background(), []hostnet.Network{{Name: "ov", NIC: "eth0", VXLAN: &hostnet.VXLAN{VNI: 100}}}, nil); err != nil {
		t.Fatal(err)
	}
	e.eng.RefreshHost(ctx(), a.h.ID)
	l = attachments(t, e, a.h.ID)
	if l[0].InSync || !strings.Contains(l[0].Difference(), "vxlan_remotes is none, expected 198.18.0.2") {
		t.Errorf("drifted attachment: in sync %v, difference %q", l[0].InSync, l[0].Difference())
	}
	if err := e.eng.SyncAllNetworks(ctx(), a.h.ID); err != nil {
		t.Fatal(err)
	}
	if l = attachments(t, e, a.h.ID); !l[0].InSync {
		t.Errorf("after syncallnetworks: %s", l[0].Difference())
	}

	// The segment's edit re-realises the network on both hosts.
	if _, err := e.eng.UpdateNetwork(ctx(), ov.ID, func(n *vwire.Network) error { n.VXLAN = 200; return nil }); err != nil {
		t.Fatal(err)
	}
	for _, nh := range []*netHost{a, b} {
		if n, _ := nh.realised(t, "ov"); n.VXLAN == nil || n.VXLAN.VNI != 200 || len(n.VXLAN.Remotes) != 1 {
			t.Errorf("%s after the segment's edit: %+v", nh.h.Name, n)
		}
		if l := attachments(t, e, nh.h.ID); !l[0].InSync {
			t.Errorf("%s after the edit: %s", nh.h.Name, l[0].Difference())
		}
	}

	jobs, err := e.eng.Jobs(ctx(), vwire.JobFilter{})
	if err != nil || len(jobs) == 0 || jobs[0].Description != "Applying network ov on its hosts" || jobs[0].Status != vwire.JobFinished {
		t.Errorf("the edit's job: %+v, %v", jobs, err)
	} else if _, steps, err := e.eng.Job(ctx(), jobs[0].ID); err != nil || len(steps) != 2 {
		t.Errorf("the edit's job steps: %+v, %v; want one per host", steps, err)
	}

	// hb's underlay address changes: the next poll re-applies the overlay
	// on hb (its local end) and on ha (its remotes).
	b.net.SetNIC(hostnet.NIC{Name: "eth0", MAC: "52:54:00:00:01:01", MTU: 1500, Speed: 10000, Up: true, Addr: "198.18.0.9/24"})
	e.eng.RefreshHost(ctx(), b.h.ID)
	if r := a.remotes(t, "ov"); !slices.Equal(r, []string{"198.18.0.9"}) {
		t.Errorf("ha's remotes after hb's address changed = %v", r)
	}
	if n, _ := b.realised(t, "ov"); n.VXLAN == nil || n.VXLAN.Local != "198.18.0.9" {
		t.Errorf("hb's overlay after its address changed: %+v", n.VXLAN)
	}

	// Refusals, before the host is touched.
	vlan := 10
	vl := e.addNet(&vwire.Network{Name: "vl", VLAN: &vlan}, false)
	plain := e.addNet(&vwire.Network{Name: "plain"}, false)
	plain2 := e.addNet(&vwire.Network{Name: "plain2"}, false)
	other := &vwire.Network{Name: "other", DataCenterID: e.dc.ID, VMNetwork: true}
	if err := e.eng.AddNetwork(ctx(), other); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		on   *netHost
		p    engine.SetupNetworksParams
		key  vwire.MsgKey
	}{
		{"VLAN on a host without 802.1Q", b, engine.SetupNetworksParams{Modified: []engine.AttachmentSpec{{NetworkID: vl.ID, NIC: "eth1"}}}, vwire.MsgHostNoVLAN},
		{"no such NIC", a, engine.SetupNetworksParams{Modified: []engine.AttachmentSpec{{NetworkID: plain.ID, NIC: "eth9"}}}, vwire.MsgHostNICNotExist},
		{"two untagged networks on a NIC", a, engine.SetupNetworksParams{Modified: []engine.AttachmentSpec{{NetworkID: plain.ID, NIC: "eth1"}, {NetworkID: plain2.ID, NIC: "eth1"}}}, vwire.MsgNICNotExclusive},
		{"network not in the cluster", a, engine.SetupNetworksParams{Modified: []engine.AttachmentSpec{{NetworkID: other.ID, NIC: "eth1"}}}, vwire.MsgNetworkNotInCluster},
		{"overlay on a NIC without address", a, engine.SetupNetworksParams{Modified: []engine.AttachmentSpec{{NetworkID: ov.ID, NIC: "eth1"}}}, vwire.MsgHostNICNoAddress},
		{"unknown attachment", a, engine.SetupNetworksParams{Removed: []string{"nope"}}, vwire.MsgNetworkAttachmentNotExists},
	}
	for _, c := range cases {
		err := setup(c.on, c.p)
		if !vwire.IsKey(err, c.key) {
			t.Errorf("%s: %v; want %s", c.name, err, c.key)
		}
	}
	if l := attachments(t, e, a.h.ID); len(l) != 1 {
		t.Errorf("refused setups changed the attachments: %+v", l)
	}
	// A host that fails the change keeps its attachments as they were.
	a.net.FailNextApply(errors.New("netlink: device busy"))
	if err := setup(a, engine.SetupNetworksParams{Modified: []engine.AttachmentSpec{{NetworkID: plain.ID, NIC: "eth1"}}}); err == nil {
		t.Error("a failed host change succeeded")
	}
	if l := attachments(t, e, a.h.ID); len(l) != 1 {
		t.Errorf("a failed setup recorded attachments: %+v", l)
	}

	// A required network: the host lacking it stays up with a warning that
	// says which; once set up, the warning goes.
	req := e.addNet(&vwire.Network{Name: "req"}, true)
	h, _ := e.eng.RefreshHost(ctx(), a.h.ID)
	if h.Status != vwire.HostUp || !strings.Contains(h.StatusDetail, "req") {
		t.Errorf("host lacking a required network: %s (%s)", h.Status, h.StatusDetail)
	}
	if ev := e.events(519); len(ev) == 0 || !strings.Contains(ev[len(ev)-1], "missing on host: 'req'") {
		t.Errorf("events 519 = %q; want the missing network named", ev)
	}
	attach(a, req.ID, "eth1")
	if h, _ = e.eng.Host(ctx(), a.h.ID); h.Status != vwire.HostUp || h.StatusDetail != "" {
		t.Errorf("host with its required network: %s (%s)", h.Status, h.StatusDetail)
	}

	// A network hosts carry can be neither detached from their cluster
	// nor removed.
	if err := e.eng.DetachNetwork(ctx(), e.cluster.ID, ov.ID); !vwire.IsKey(err, vwire.MsgNetworkInUseByHosts) || !strings.Contains(err.Error(), "ha, hb") {
		t.Errorf("detach a network hosts carry: %v", err)
	}
	if _, err := e.eng.UpdateNetwork(ctx(), ov.ID, func(n *vwire.Network) error { n.Name = "ov2"; return nil }); !vwire.IsKey(err, vwire.MsgNetworkInUseByHosts) {
		t.Errorf("rename a network hosts carry: %v", err)
	}
	if err := e.eng.RemoveNetwork(ctx(), ov.ID); !vwire.IsKey(err, vwire.MsgNetworkInUseByHosts) {
		t.Errorf("remove a network hosts carry: %v", err)
	}

	// Removing the attachment and the host: the other stops replicating.
	if err := e.eng.RemoveHost(ctx(), b.h.ID); err != nil {
		t.Fatal(err)
	}
	if r := a.remotes(t, "ov"); len(r) != 0 {
		t.Errorf("ha's remotes after hb was removed = %v", r)
	}
	id := attachments(t, e, a.h.ID)[0].ID
	if err := setup(a, engine.SetupNetworksParams{Removed: []string{id}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.realised(t, "ov"); ok {
		t.Error("a removed attachment's network is still on the host")
	}
}

// noConfirm is a host client whose confirmation of a checked network
// change never reaches the host, as when the change cut the engine off.
type noConfirm struct{ engine.HostClient }

func (noConfirm) ConfirmNetworks(context.Context) error {
	return &engine.HostError{Kind: engine.ErrHostUnreached, Reason: "connection lost", Err: errors.New("connection lost")}
}

// TestSetupNetworksRollback: with check_connectivity, a change the engine
// cannot confirm fails, records nothing, and the host rolls it back by
// itself once the timeout passes (VDSM's rollback).
func TestSetupNetworksRollback(t *testing.T) {
	e := newEnvWith(t, false)
	a := e.netHost("ha", "198.18.0.1/24", "")
	plain := e.addNet(&vwire.Network{Name: "plain"}, false)
	dial := engineport.Dial(5 * time.Second)
	cut := engine.New(e.store, engine.Options{HostTimeout: 5 * time.Second, Dial: func(h *vwire.Host) engine.HostClient {
		return noConfirm{dial(h)}
	}})
	t.Cleanup(cut.Close)
	err := cut.SetupNetworks(ctx(), a.h.ID, engine.SetupNetworksParams{Modified: []engine.AttachmentSpec{{NetworkID: plain.ID, NIC: "eth1"}},
		CheckConnectivity: true, Timeout: time.Second})
	if err == nil {
		t.Fatal("an unconfirmed change succeeded")
	}
	// The host made the change and waits for the confirmation…
	if _, ok := a.realised(t, "plain"); !ok {
		t.Error("the host did not make the change it was asked for")
	}
	if l := attachments(t, e, a.h.ID); len(l) != 0 {
		t.Errorf("an unconfirmed change recorded attachments: %+v", l)
	}
	// …which never comes: it rolls back.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := a.realised(t, "plain"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the host kept a change the engine never confirmed")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// reportWrites counts the writes of host reports through a store.
type reportWrites struct {
	vwire.Store
	n atomic.Int32
}

type countingTx struct {
	vwire.Tx
	n *atomic.Int32
}

func (c countingTx) SetHostReport(id string, r *vwire.HostReport) error {
	c.n.Add(1)
	return c.Tx.SetHostReport(id, r)
}

func (s *reportWrites) Update(ctx context.Context, fn func(vwire.Tx) error) error {
	return s.Store.Update(ctx, func(tx vwire.Tx) error { return fn(countingTx{tx, &s.n}) })
}

// TestHostReportWrittenOnChange: a poll stores the host's NICs and
// networks only when they changed.
func TestHostReportWrittenOnChange(t *testing.T) {
	rw := &reportWrites{}
	e := newEnvOpts(t, envOpts{store: func(s vwire.Store) vwire.Store { rw.Store = s; return rw }})
	before := rw.n.Load()
	if before == 0 {
		t.Fatal("the first poll stored no report")
	}
	e.eng.RefreshHost(ctx(), e.host.ID)
	e.eng.RefreshHost(ctx(), e.host.ID)
	if n := rw.n.Load(); n != before {
		t.Errorf("unchanged polls wrote the report %d more times", n-before)
	}
	nics, err := e.eng.HostNICs(ctx(), e.host.ID)
	if err != nil || len(nics) == 0 {
		t.Fatalf("host NICs = %v, %v", nics, err)
	}
	// A change on the host is stored at the next poll.
	pl := e.addNet(&vwire.Network{Name: "pl", MTU: 9000}, false)
	if err := e.eng.SetupNetworks(ctx(), e.host.ID, engine.SetupNetworksParams{Modified: []engine.AttachmentSpec{{NetworkID: pl.ID, NIC: "eth1"}}}); err != nil {
		t.Fatal(err)
	}
	if n := rw.n.Load(); n != before+1 {
		t.Errorf("a changed host wrote the report %d times, want once", n-before)
	}
	if l := attachments(t, e, e.host.ID); len(l) != 1 || !l[0].InSync {
		t.Errorf("attachment after setup: %+v", l)
	}
}
