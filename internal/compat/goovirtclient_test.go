package compat_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	ovirtclientlog "github.com/ovirt/go-ovirt-client-log/v3"
	ovirtclient "github.com/ovirt/go-ovirt-client/v3"

	"vwire.dev/vwire/app"
)

func startEngine(t *testing.T) *app.EngineMain {
	t.Helper()
	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: t.TempDir(), EmbeddedHost: true, AdminPassword: "secret", PKI: true,
		PollInterval: time.Hour, Out: io.Discard}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func connect(t *testing.T, m *app.EngineMain) ovirtclient.Client {
	t.Helper()
	c, err := ovirtclient.New(m.URL(), "admin@internal", "secret", ovirtclient.TLS().CACertsFromFile(m.CAFile()),
		ovirtclientlog.NewTestLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// once: go-ovirt-client retries by default for minutes; a refusal here must
// come back at once.
func once() []ovirtclient.RetryStrategy {
	return []ovirtclient.RetryStrategy{ovirtclient.MaxTries(1)}
}

// TestGoOVirtClientLifecycle is what oVirt's Terraform provider does through
// go-ovirt-client: read the cluster, host, network and Blank template,
// create a vNIC profile and a VM from Blank, add vNICs, move one to
// another profile live, wait for the VM up, stop it, remove everything,
// and find nothing left behind.
func TestGoOVirtClientLifecycle(t *testing.T) {
	m := startEngine(t)
	c := connect(t, m)

	clusters, err := c.ListClusters()
	if err != nil || len(clusters) != 1 {
		t.Fatalf("clusters: %v %v", clusters, err)
	}
	cluster := clusters[0]
	if _, err := c.GetCluster(cluster.ID()); err != nil {
		t.Fatal(err)
	}
	dcs, err := c.ListDatacenters()
	if err != nil || len(dcs) != 1 {
		t.Fatalf("data centers: %v %v", dcs, err)
	}
	if _, err := c.GetDatacenter(dcs[0].ID()); err != nil {
		t.Fatal(err)
	}
	if cls, err := dcs[0].Clusters(); err != nil || len(cls) != 1 {
		t.Fatalf("data center's clusters: %v %v", cls, err)
	}
	hosts, err := c.ListHosts()
	if err != nil || len(hosts) != 1 {
		t.Fatalf("hosts: %v %v", hosts, err)
	}
	if h, err := c.GetHost(hosts[0].ID()); err != nil || h.Status() != ovirtclient.HostStatusUp {
		t.Fatalf("host: %v %v", h, err)
	}
	nets, err := c.ListNetworks()
	if err != nil || len(nets) != 1 || nets[0].Name() != "ovirtmgmt" {
		t.Fatalf("networks: %v %v", nets, err)
	}
	net, err := c.GetNetwork(nets[0].ID())
	if err != nil {
		t.Fatal(err)
	}
	if dc, err := net.Datacenter(); err != nil || dc.ID() != dcs[0].ID() {
		t.Fatalf("network's data center: %v %v", dc, err)
	}
	profiles, err := c.ListVNICProfiles()
	if err != nil || len(profiles) != 1 {
		t.Fatalf("profiles: %v %v", profiles, err)
	}
	mgmt := profiles[0]
	second, err := c.CreateVNICProfile("second", net.ID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := c.GetVNICProfile(second.ID()); err != nil || p.Name() != "second" || p.NetworkID() != net.ID() {
		t.Fatalf("profile: %v %v", p, err)
	}

	blank, err := c.GetBlankTemplate()
	if err != nil {
		t.Fatal(err)
	}
	if tpls, err := c.ListTemplates(); err != nil || len(tpls) == 0 {
		t.Fatalf("templates: %v %v", tpls, err)
	}
	if tpl, err := c.GetTemplate(blank.ID()); err != nil || tpl.Name() != "Blank" {
		t.Fatalf("Blank: %v %v", tpl, err)
	}

	cpu := ovirtclient.NewVMCPUParams().MustWithTopo(ovirtclient.NewVMCPUTopoParams().MustWithSockets(2).MustWithCores(2).MustWithThreads(1))
	vm, err := c.CreateVM(cluster.ID(), blank.ID(), "tfvm", ovirtclient.NewCreateVMParams().MustWithComment("made by terraform").
		MustWithCPU(cpu))
	if err != nil {
		t.Fatal(err)
	}
	if topo := vm.CPU().Topo(); vm.Comment() != "made by terraform" || vm.Status() != ovirtclient.VMStatusDown ||
		vm.Memory() != 1<<30 || vm.MemoryPolicy().Guaranteed() == nil || *vm.MemoryPolicy().Guaranteed() != 1<<30 ||
		topo.Sockets() != 2 || topo.Cores() != 2 || topo.Threads() != 1 {
		t.Errorf("created VM: comment %q status %s memory %d cpu %d/%d/%d", vm.Comment(), vm.Status(), vm.Memory(),
			topo.Sockets(), topo.Cores(), topo.Threads())
	}
	if got, err := c.GetVMByName("tfvm"); err != nil || got.ID() != vm.ID() {
		t.Fatalf("VM by name: %v %v", got, err)
	}
	found, err := c.SearchVMs(ovirtclient.VMSearchParams().WithName("tfvm").WithStatuses(ovirtclient.VMStatusList{ovirtclient.VMStatusDown, ovirtclient.VMStatusUp}))
	if err != nil || len(found) != 1 {
		t.Fatalf("VM search: %v %v", found, err)
	}
	nic1, err := vm.CreateNIC("nic1", mgmt.ID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	nic2, err := c.CreateNIC(vm.ID(), second.ID(), "nic2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if nics, err := c.ListNICs(vm.ID()); err != nil || len(nics) != 2 {
		t.Fatalf("vNICs: %v %v", nics, err)
	}
	if err := c.StartVM(vm.ID()); err != nil {
		t.Fatal(err)
	}
	running, err := c.WaitForVMStatus(vm.ID(), ovirtclient.VMStatusUp)
	if err != nil {
		t.Fatal(err)
	}
	// Live: nic1 to the second profile.
	moved, err := nic1.Update(ovirtclient.UpdateNICParams().MustWithVNICProfileID(second.ID()))
	if err != nil || moved.VNICProfileID() != second.ID() {
		t.Fatalf("live move: %v %v", moved, err)
	}
	if n, err := c.GetNIC(vm.ID(), nic1.ID()); err != nil || n.VNICProfileID() != second.ID() {
		t.Fatalf("after the move: %v %v", n, err)
	}
	// A profile in use cannot be removed: the client gets a conflict.
	if err := c.RemoveVNICProfile(second.ID(), once()...); err == nil {
		t.Error("removed a profile in use")
	}
	if h, err := running.GetHost(); err != nil || h == nil || h.ID() != hosts[0].ID() {
		t.Errorf("the running VM's host: %v %v", h, err)
	}
	if err := c.StopVM(vm.ID(), false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitForVMStatus(vm.ID(), ovirtclient.VMStatusDown); err != nil {
		t.Fatal(err)
	}
	// Edits of a VM that is down: name and comment; a vNIC's name.
	renamed, err := c.UpdateVM(vm.ID(), ovirtclient.UpdateVMParams().MustWithName("tfvm2").MustWithComment("renamed"))
	if err != nil || renamed.Name() != "tfvm2" || renamed.Comment() != "renamed" {
		t.Fatalf("VM update: %v %v", renamed, err)
	}
	if n, err := c.UpdateNIC(vm.ID(), nic1.ID(), ovirtclient.UpdateNICParams().MustWithName("eth0")); err != nil || n.Name() != "eth0" {
		t.Fatalf("vNIC rename: %v %v", n, err)
	}
	// A template from the VM, found by name, ok, then removed.
	tpl, err := c.CreateTemplate(vm.ID(), "tftpl", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitForTemplateStatus(tpl.ID(), ovirtclient.TemplateStatusOK); err != nil {
		t.Fatal(err)
	}
	if got, err := c.GetTemplateByName("tftpl"); err != nil || got.ID() != tpl.ID() {
		t.Fatalf("template by name: %v %v", got, err)
	}
	if err := c.RemoveTemplate(tpl.ID()); err != nil {
		t.Fatal(err)
	}
	if err := nic2.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetNIC(vm.ID(), nic2.ID(), once()...); !isNotFound(err) {
		t.Errorf("removed vNIC: %v, want not found", err)
	}
	if err := c.RemoveVM(vm.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetVM(vm.ID(), once()...); !isNotFound(err) {
		t.Errorf("removed VM: %v, want not found", err)
	}
	if err := c.RemoveVNICProfile(second.ID()); err != nil {
		t.Fatal(err)
	}
	// Nothing left behind.
	if vms, err := c.ListVMs(); err != nil || len(vms) != 0 {
		t.Errorf("VMs left: %v %v", vms, err)
	}
	if ps, err := c.ListVNICProfiles(); err != nil || len(ps) != 1 {
		t.Errorf("profiles left: %v %v", ps, err)
	}
}

func isNotFound(err error) bool {
	var e ovirtclient.EngineError
	return errors.As(err, &e) && e.HasCode(ovirtclient.ENotFound)
}
