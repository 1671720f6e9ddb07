package client_test

import (
	"context"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire/client"
)

// TestInfrastructure: data centers, clusters, networks attached and
// detached, profiles, templates and VMs made and removed through the
// client, and the names completion reads.
func TestInfrastructure(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	dc, err := c.AddDataCenter(ctx, ovirtsdk4.NewDataCenterBuilder().Name("dc2").Local(false).MustBuild())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.DataCenter(ctx, dc.MustId()); err != nil || got.MustName() != "dc2" {
		t.Fatalf("DataCenter: %v", err)
	}
	if dcs, err := c.DataCenters(ctx); err != nil || len(dcs) != 2 {
		t.Fatalf("DataCenters: %v %d", err, len(dcs))
	}
	cl, err := c.AddCluster(ctx, ovirtsdk4.NewClusterBuilder().Name("c2").
		DataCenter(ovirtsdk4.NewDataCenterBuilder().Id(dc.MustId()).MustBuild()).MustBuild())
	if err != nil {
		t.Fatal(err)
	}
	if cls, err := c.Clusters(ctx); err != nil || len(cls) != 2 {
		t.Fatalf("Clusters: %v %d", err, len(cls))
	}
	n, err := c.AddNetwork(ctx, ovirtsdk4.NewNetworkBuilder().Name("green").
		DataCenter(ovirtsdk4.NewDataCenterBuilder().Id(dc.MustId()).MustBuild()).MustBuild())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AttachNetwork(ctx, cl.MustId(), n.MustId()); err != nil {
		t.Fatal(err)
	}
	attached := func() bool {
		t.Helper()
		ns, err := c.ClusterNetworks(ctx, cl.MustId())
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range ns {
			if x.MustId() == n.MustId() {
				return true
			}
		}
		return false
	}
	if !attached() {
		t.Fatal("green not attached to c2")
	}
	p, err := c.AddProfile(ctx, n.MustId(), client.ProfileSpec{Name: "green-bounce", GuestNotification: "link_bounce", LinkBounceHold: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if note, err := c.ProfileNotification(ctx, p.MustId()); err != nil || note.Mode != "link_bounce" || note.Hold != 2*time.Second {
		t.Fatalf("ProfileNotification: %v %+v", err, note)
	}
	if err := c.RemoveProfile(ctx, p.MustId()); err != nil {
		t.Fatal(err)
	}
	if err := c.DetachNetwork(ctx, cl.MustId(), n.MustId()); err != nil {
		t.Fatal(err)
	}
	if attached() {
		t.Fatal("green still attached to c2")
	}
	if err := c.RemoveNetwork(ctx, n.MustId()); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveCluster(ctx, cl.MustId()); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveDataCenter(ctx, dc.MustId()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DataCenter(ctx, dc.MustId()); !client.IsNotFound(err) {
		t.Fatalf("removed data center: %v", err)
	}

	// A template from a VM, its vNICs, a VM from it; removals.
	vm := addVM(t, c, "vm1")
	if _, err := c.AddNIC(ctx, vm, ovirtsdk4.NewNicBuilder().Name("nic1").MustBuild()); err != nil {
		t.Fatal(err)
	}
	tm, err := c.AddTemplate(ctx, ovirtsdk4.NewTemplateBuilder().Name("t1").Vm(ovirtsdk4.NewVmBuilder().Id(vm).MustBuild()).MustBuild())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Template(ctx, tm.MustId()); err != nil || got.MustName() != "t1" {
		t.Fatalf("Template: %v", err)
	}
	if nics, err := c.TemplateNICs(ctx, tm.MustId()); err != nil || len(nics) != 1 || nics[0].MustName() != "nic1" {
		t.Fatalf("TemplateNICs: %v %d", err, len(nics))
	}
	if ts, err := c.Templates(ctx); err != nil || len(ts) != 2 {
		t.Fatalf("Templates: %v %d", err, len(ts))
	}
	names, err := c.Names(ctx, "templates")
	if err != nil || len(names) != 2 || (names[0].Name != "t1" && names[1].Name != "t1") {
		t.Fatalf("Names: %v %+v", err, names)
	}
	if err := c.RemoveTemplate(ctx, tm.MustId()); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveVM(ctx, vm); err != nil {
		t.Fatal(err)
	}
	if _, err := c.VM(ctx, vm); !client.IsNotFound(err) {
		t.Fatalf("removed VM: %v", err)
	}
}
