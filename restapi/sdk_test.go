package restapi_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
)

// TestOVirtGoSDK drives vwire with oVirt's own Go SDK, unchanged: SSO token,
// XML both ways, the services and builders an oVirt script uses.
func TestOVirtGoSDK(t *testing.T) {
	m := startEngine(t)
	conn, err := ovirtsdk4.NewConnectionBuilder().URL(m.URL()).Username("admin@internal").Password("secret").
		Insecure(true).Compress(true).Timeout(30 * time.Second).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sys := conn.SystemService()

	dcs, err := sys.DataCentersService().List().Search("name=Default").Send()
	if err != nil {
		t.Fatal(err)
	}
	dc := dcs.MustDataCenters().Slice()[0]
	net, err := sys.NetworksService().Add().Network(ovirtsdk4.NewNetworkBuilder().Name("red").
		DataCenter(ovirtsdk4.NewDataCenterBuilder().Id(dc.MustId()).MustBuild()).MustBuild()).Send()
	if err != nil {
		t.Fatal(err)
	}
	clusters, err := sys.ClustersService().List().Search(`name="Default"`).Send()
	if err != nil {
		t.Fatal(err)
	}
	cluster := clusters.MustClusters().Slice()[0]
	if v := cluster.MustVersion(); v.MustMajor() != 4 || v.MustMinor() != 8 {
		t.Errorf("cluster level = %d.%d", v.MustMajor(), v.MustMinor())
	}
	nets, err := sys.NetworksService().List().Search("name=red and datacenter=Default").Send()
	if err != nil || len(nets.MustNetworks().Slice()) != 1 {
		t.Fatalf("network search: %v", err)
	}
	if _, err := sys.ClustersService().ClusterService(cluster.MustId()).NetworksService().Add().
		Network(ovirtsdk4.NewNetworkBuilder().Id(net.MustNetwork().MustId()).Required(true).MustBuild()).Send(); err != nil {
		t.Fatal(err)
	}

	profiles, err := sys.VnicProfilesService().List().Send()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	for _, p := range profiles.MustProfiles().Slice() {
		byName[p.MustName()] = p.MustId()
	}

	vmResp, err := sys.VmsService().Add().Vm(ovirtsdk4.NewVmBuilder().Name("sdkvm").
		Cluster(ovirtsdk4.NewClusterBuilder().Name("Default").MustBuild()).
		Template(ovirtsdk4.NewTemplateBuilder().Name("Blank").MustBuild()).MustBuild()).Send()
	if err != nil {
		t.Fatal(err)
	}
	vmSvc := sys.VmsService().VmService(vmResp.MustVm().MustId())
	nicResp, err := vmSvc.NicsService().Add().Nic(ovirtsdk4.NewNicBuilder().Name("nic1").
		VnicProfile(ovirtsdk4.NewVnicProfileBuilder().Id(byName["ovirtmgmt"]).MustBuild()).MustBuild()).Send()
	if err != nil {
		t.Fatal(err)
	}
	nic := nicResp.MustNic()
	if !nic.MustLinked() || !nic.MustPlugged() || nic.MustInterface() != ovirtsdk4.NICINTERFACE_VIRTIO || nic.MustMac().MustAddress() == "" {
		t.Fatalf("added nic: linked %v plugged %v interface %v", nic.MustLinked(), nic.MustPlugged(), nic.MustInterface())
	}
	if _, err := vmSvc.Start().Send(); err != nil {
		t.Fatal(err)
	}
	got, err := vmSvc.Get().Send()
	if err != nil || got.MustVm().MustStatus() != ovirtsdk4.VMSTATUS_UP {
		t.Fatalf("VM after start: %v", err)
	}
	nicSvc := vmSvc.NicsService().NicService(nic.MustId())
	upd, err := nicSvc.Update().Nic(ovirtsdk4.NewNicBuilder().Linked(false).
		VnicProfile(ovirtsdk4.NewVnicProfileBuilder().Id(byName["red"]).MustBuild()).MustBuild()).Send()
	if err != nil {
		t.Fatal(err)
	}
	if n := upd.MustNic(); n.MustLinked() || n.MustVnicProfile().MustId() != byName["red"] || !n.MustSynced() || n.MustMac().MustAddress() != nic.MustMac().MustAddress() {
		t.Fatalf("after update: linked %v profile %s synced %v", n.MustLinked(), n.MustVnicProfile().MustId(), n.MustSynced())
	}
	// A refused change comes back as the SDK's conflict error with oVirt's text.
	_, err = nicSvc.Update().Nic(ovirtsdk4.NewNicBuilder().Mac(ovirtsdk4.NewMacBuilder().Address("00:1a:4a:16:01:99").MustBuild()).MustBuild()).Send()
	var conflict *ovirtsdk4.ConflictError
	if !errors.As(err, &conflict) || !strings.Contains(err.Error(), "Please un-plug the interface") {
		t.Fatalf("MAC change on a plugged vNIC: %T %v", err, err)
	}
	if _, err := nicSvc.Deactivate().Send(); err != nil {
		t.Fatal(err)
	}
	if _, err := nicSvc.Activate().Send(); err != nil {
		t.Fatal(err)
	}
	evs, err := sys.EventsService().List().Max(20).Send()
	if err != nil {
		t.Fatal(err)
	}
	codes := map[int64]bool{}
	for _, e := range evs.MustEvents().Slice() {
		codes[e.MustCode()] = true
	}
	for _, c := range []int64{932, 934, 1012, 1014, 32} {
		if !codes[c] {
			t.Errorf("event %d missing", c)
		}
	}
	if _, err := vmSvc.Stop().Send(); err != nil {
		t.Fatal(err)
	}
	if _, err := nicSvc.Remove().Send(); err != nil {
		t.Fatal(err)
	}
	_, err = nicSvc.Get().Send()
	var nf *ovirtsdk4.NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("get removed nic: %T %v", err, err)
	}
}

// TestOVirtGoSDKPermissions is the done-when through oVirt's Go SDK: the
// administrator grants with the SDK's builders; the user moves vm1's vNIC
// to red, is refused blue (naming it), and lists only vm1 with filter=true.
func TestOVirtGoSDKPermissions(t *testing.T) {
	w := newWorld(t)
	bobID, _ := w.addUser(t, "bob")
	connect := func(user, pw string) *ovirtsdk4.Connection {
		// HTTPS verified with the engine's CA, as oVirt's clients connect.
		conn, err := ovirtsdk4.NewConnectionBuilder().URL(w.m.URL()).Username(user).Password(pw).
			CAFile(w.m.CAFile()).Timeout(30 * time.Second).Build()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	sys := connect("admin@internal", "secret").SystemService()
	grant := func(perms *ovirtsdk4.AssignedPermissionsService, role string) {
		if _, err := perms.Add().Permission(ovirtsdk4.NewPermissionBuilder().
			Role(ovirtsdk4.NewRoleBuilder().Name(role).MustBuild()).
			User(ovirtsdk4.NewUserBuilder().Id(bobID).MustBuild()).MustBuild()).Send(); err != nil {
			t.Fatalf("grant %s: %v", role, err)
		}
	}
	grant(sys.VmsService().VmService(w.vm1).PermissionsService(), "UserVmManager")
	grant(sys.VnicProfilesService().ProfileService(w.red).PermissionsService(), "VnicProfileUser")

	bob := connect("bob@internal", "pw-bob").SystemService()
	nic := bob.VmsService().VmService(w.vm1).NicsService().NicService(w.nic1)
	_, err := nic.Update().Nic(ovirtsdk4.NewNicBuilder().VnicProfile(ovirtsdk4.NewVnicProfileBuilder().Id(w.blue).MustBuild()).MustBuild()).Send()
	if _, denied := errors.AsType[*ovirtsdk4.AuthError](err); !denied || !strings.Contains(err.Error(), "blue") {
		t.Errorf("move to blue: %v, want the SDK's AuthError naming blue", err)
	}
	upd, err := nic.Update().Nic(ovirtsdk4.NewNicBuilder().VnicProfile(ovirtsdk4.NewVnicProfileBuilder().Id(w.red).MustBuild()).MustBuild()).Send()
	if err != nil || upd.MustNic().MustVnicProfile().MustId() != w.red {
		t.Fatalf("move to red: %v", err)
	}
	vms, err := bob.VmsService().List().Filter(true).Send()
	if err != nil || len(vms.MustVms().Slice()) != 1 || vms.MustVms().Slice()[0].MustId() != w.vm1 {
		t.Errorf("bob's VMs with filter: %v", err)
	}
	if _, err := bob.VmsService().VmService(w.vm2).Get().Send(); err == nil {
		t.Error("bob reads vm2")
	}
}
