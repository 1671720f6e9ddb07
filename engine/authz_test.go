package engine_test

import (
	"time"

	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
)

// user adds an internal user and returns a context acting as it.
func (e *env) user(name string) (context.Context, *vwire.User) {
	e.t.Helper()
	u, err := e.eng.AddUser(ctx(), name, "pw-"+name)
	if err != nil {
		e.t.Fatal(err)
	}
	return engine.WithPrincipal(context.Background(), engine.Principal{UserID: u.ID, Name: u.Name, Domain: u.Domain}), u
}

func (e *env) grant(u *vwire.User, role string, t vwire.ObjectType, id string) {
	e.t.Helper()
	if err := e.eng.AddPermission(ctx(), &vwire.Permission{UserID: u.ID, RoleID: role, Object: vwire.ObjectRef{Type: t, ID: id}}); err != nil {
		e.t.Fatal(err)
	}
}

func refusedText(t *testing.T, err error) string {
	t.Helper()
	var ve *vwire.Error
	if !errors.As(err, &ve) || ve.Key != vwire.MsgUserNotAuthorized || ve.Code != vwire.EFORBIDDEN {
		t.Fatalf("err = %v, want USER_NOT_AUTHORIZED_TO_PERFORM_ACTION", err)
	}
	return ve.Text()
}

// TestVNICNeedsVMAndProfilePermission is oVirt's double check: a vNIC may
// move to a profile only with CONFIGURE_VM_NETWORK on the VM and on the
// profile; a refusal changes nothing, names what is missing and is audited.
func TestVNICNeedsVMAndProfilePermission(t *testing.T) {
	forEachStore(t, testVNICNeedsVMAndProfilePermission)
}

func testVNICNeedsVMAndProfilePermission(t *testing.T) {
	e := newEnv(t)
	red, blue := e.network("red"), e.network("blue")
	vm1, vm2 := e.vm("vm1"), e.vm("vm2")
	n1 := e.nic(vm1.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	n2 := e.nic(vm2.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	bob, u := e.user("bob")
	e.grant(u, vwire.RoleUserVmManager, vwire.ObjVM, vm1.ID)
	e.grant(u, vwire.RoleVnicProfileUser, vwire.ObjProfile, red)

	if _, err := e.eng.UpdateNIC(bob, vm1.ID, n1.ID, vwire.NICPatch{ProfileID: &blue}); !strings.Contains(refusedText(t, err), "profile blue") {
		t.Errorf("refusal to blue does not name the profile: %v", err)
	}
	if got := e.stored(n1.ID); got.ProfileID != e.mgmt {
		t.Errorf("a refused change changed the vNIC: profile %s", got.ProfileID)
	}
	if ev := e.lastEvent(); ev.Code != 10920 || ev.UserName != "bob@internal-authz" || !strings.Contains(ev.Description, "blue") {
		t.Errorf("refusal event = %+v", ev)
	}
	if _, err := e.eng.AddNIC(bob, vm1.ID, engine.NICSpec{Name: "nic2", ProfileID: blue}); err == nil {
		t.Error("AddNIC on blue allowed")
	} else {
		refusedText(t, err)
	}
	if _, err := e.eng.UpdateNIC(bob, vm1.ID, n1.ID, vwire.NICPatch{ProfileID: &red}); err != nil {
		t.Fatalf("move to red: %v", err)
	}
	if got := e.stored(n1.ID); got.ProfileID != red {
		t.Errorf("profile after the move = %s", got.ProfileID)
	}
	if ev := e.lastEvent(); ev.Code != 934 || ev.UserName != "bob@internal-authz" {
		t.Errorf("change event = %+v", ev)
	}
	// Unchanged profile: only the VM permission is needed (oVirt checks the
	// profile when it changes).
	if _, err := e.eng.UpdateNIC(bob, vm1.ID, n1.ID, vwire.NICPatch{ProfileID: &red, Linked: ptr(false)}); err != nil {
		t.Errorf("update keeping red: %v", err)
	}
	// vm2: neither changed nor seen.
	if _, err := e.eng.UpdateNIC(bob, vm2.ID, n2.ID, vwire.NICPatch{ProfileID: &red}); !strings.Contains(refusedText(t, err), "VM vm2") {
		t.Errorf("refusal on vm2: %v", err)
	}
	if err := e.eng.RemoveVM(bob, vm2.ID); err == nil {
		t.Error("bob removed vm2")
	} else {
		refusedText(t, err)
	}
	if _, err := e.eng.VM(bob, vm2.ID); vwire.ErrorCode(err) != vwire.ENOTFOUND {
		t.Errorf("bob reads vm2: %v", err)
	}
	if _, err := e.eng.NICs(bob, vm2.ID); vwire.ErrorCode(err) != vwire.ENOTFOUND {
		t.Errorf("bob lists vm2's vNICs: %v", err)
	}
}

// TestPermissionInheritance: a permission holds beneath its object and
// nowhere else.
func TestPermissionInheritance(t *testing.T) { forEachStore(t, testPermissionInheritance) }

func testPermissionInheritance(t *testing.T) {
	e := newEnv(t)
	red := e.network("red")
	blue := e.network("blue")
	var redNet, blueNet string
	e.store.View(ctx(), func(tx vwire.Tx) error {
		p, _ := tx.Profile(red)
		redNet = p.NetworkID
		p, _ = tx.Profile(blue)
		blueNet = p.NetworkID
		return nil
	})
	carol, cu := e.user("carol")
	e.grant(cu, vwire.RoleClusterAdmin, vwire.ObjCluster, e.cluster.ID)
	// Cluster → VM: ClusterAdmin creates and edits VMs in its cluster.
	vm, err := e.eng.AddVM(carol, engine.VMSpec{Name: "c1", ClusterID: e.cluster.ID})
	if err != nil {
		t.Fatalf("ClusterAdmin adds a VM: %v", err)
	}
	if _, err := e.eng.UpdateVM(carol, vm.ID, engine.VMPatch{Name: ptr("c2")}); err != nil {
		t.Errorf("ClusterAdmin edits a VM: %v", err)
	}
	// ...but not above it: no data center, no network of the data center.
	if err := e.eng.AddDataCenter(carol, &vwire.DataCenter{Name: "dc2", Version: vwire.NewestVersion}); err == nil {
		t.Error("ClusterAdmin added a data center")
	} else {
		refusedText(t, err)
	}
	if _, err := e.eng.UpdateNetwork(carol, redNet, func(*vwire.Network) error { return nil }); err == nil {
		t.Error("ClusterAdmin edited a network")
	}
	// Data center → network → profile: NetworkAdmin on red edits red's profile, not blue's.
	dave, du := e.user("dave")
	e.grant(du, vwire.RoleNetworkAdmin, vwire.ObjNetwork, redNet)
	if _, err := e.eng.UpdateProfile(dave, red, func(p *vwire.VNICProfile) error { p.Description = "x"; return nil }); err != nil {
		t.Errorf("NetworkAdmin on red edits red's profile: %v", err)
	}
	if _, err := e.eng.UpdateProfile(dave, blue, func(*vwire.VNICProfile) error { return nil }); err == nil {
		t.Error("NetworkAdmin on red edited blue's profile")
	}
	if ps, _ := e.eng.Profiles(dave, vwire.ProfileFilter{}); len(ps) != 1 || ps[0].ID != red {
		t.Errorf("dave sees profiles %v", ps)
	}
	// DataCenterAdmin sees both networks, and the VMs beneath.
	erin, eu := e.user("erin")
	e.grant(eu, vwire.RoleDataCenterAdmin, vwire.ObjDataCenter, e.dc.ID)
	nets, _ := e.eng.Networks(erin, vwire.NetworkFilter{})
	if !slices.ContainsFunc(nets, func(n *vwire.Network) bool { return n.ID == blueNet }) || len(nets) < 3 {
		t.Errorf("DataCenterAdmin sees networks %d", len(nets))
	}
	if _, err := e.eng.VM(erin, vm.ID); err != nil {
		t.Errorf("DataCenterAdmin reads a VM: %v", err)
	}
	if ps, _ := e.eng.MACPools(erin); len(ps) == 0 {
		t.Error("DataCenterAdmin does not see the MAC pools")
	}
	// Granting needs the permits granted: carol cannot give SuperUser on her
	// cluster; and only a SuperUser on the system gives administrative roles.
	if err := e.eng.AddPermission(carol, &vwire.Permission{UserID: du.ID, RoleID: vwire.RoleSuperUser,
		Object: vwire.ObjectRef{Type: vwire.ObjCluster, ID: e.cluster.ID}}); err == nil {
		t.Error("ClusterAdmin granted SuperUser")
	}
	if err := e.eng.AddPermission(carol, &vwire.Permission{UserID: du.ID, RoleID: vwire.RoleClusterAdmin,
		Object: vwire.ObjectRef{Type: vwire.ObjCluster, ID: e.cluster.ID}}); !vwire.IsKey(err, vwire.MsgOnlySuperUserGivesAdminRoles) {
		t.Errorf("ClusterAdmin granted ClusterAdmin: %v", err)
	}
	if err := e.eng.AddPermission(carol, &vwire.Permission{UserID: du.ID, RoleID: vwire.RoleUserVmManager,
		Object: vwire.ObjectRef{Type: vwire.ObjVM, ID: vm.ID}}); err != nil {
		t.Errorf("ClusterAdmin grants UserVmManager on a VM of its cluster: %v", err)
	}
}

// TestFilteredView: a user without an administrative role on the system
// sees only what it has permissions on, with or without Filter; an
// administrator sees everything, and with Filter what its permissions
// cover (the system: everything).
func TestFilteredView(t *testing.T) { forEachStore(t, testFilteredView) }

func testFilteredView(t *testing.T) {
	e := newEnv(t)
	vm1, vm2 := e.vm("vm1"), e.vm("vm2")
	bob, u := e.user("bob")
	e.grant(u, vwire.RoleUserVmManager, vwire.ObjVM, vm1.ID)
	for _, c := range []context.Context{bob, engine.WithFilter(bob)} {
		vms, err := e.eng.VMs(c, vwire.VMFilter{})
		if err != nil || len(vms) != 1 || vms[0].ID != vm1.ID {
			t.Errorf("bob's VMs = %v, %v", vms, err)
		}
		if cls, _ := e.eng.Clusters(c, vwire.ClusterFilter{}); len(cls) != 0 {
			t.Errorf("bob sees clusters %v", cls)
		}
		if ps, _ := e.eng.MACPools(c); len(ps) != 0 {
			t.Errorf("bob sees MAC pools")
		}
	}
	if s, _ := e.eng.Summary(bob); s.VMs != 1 {
		t.Errorf("bob's summary counts %d VMs", s.VMs)
	}
	admin := engine.WithPrincipal(context.Background(), engine.Principal{UserID: adminID(t, e), Name: "admin", Domain: "internal"})
	for _, c := range []context.Context{admin, engine.WithFilter(admin)} {
		if vms, _ := e.eng.VMs(c, vwire.VMFilter{}); len(vms) != 2 {
			t.Errorf("admin sees %d VMs", len(vms))
		}
	}
	ro, ru := e.user("ro")
	e.grant(ru, vwire.RoleReadOnlyAdmin, vwire.ObjSystem, vwire.SystemID)
	if vms, _ := e.eng.VMs(ro, vwire.VMFilter{}); len(vms) != 2 {
		t.Errorf("ReadOnlyAdmin sees %d VMs", len(vms))
	}
	if _, err := e.eng.StartVM(ro, vm2.ID); err == nil {
		t.Error("ReadOnlyAdmin started a VM")
	}
}

func adminID(t *testing.T, e *env) string {
	var id string
	e.store.View(ctx(), func(tx vwire.Tx) error {
		u, err := tx.UserByName("admin", "internal")
		if err != nil {
			t.Fatal(err)
		}
		id = u.ID
		return nil
	})
	return id
}

// TestUsersAndPermissionsAdmin: admin@internal keeps its user and its
// SuperUser permission; a password change ends the user's sessions.
func TestUsersAndPermissionsAdmin(t *testing.T) { forEachStore(t, testUsersAndPermissionsAdmin) }

func testUsersAndPermissionsAdmin(t *testing.T) {
	e := newEnv(t)
	id := adminID(t, e)
	ps, err := e.eng.Permissions(ctx(), vwire.PermissionFilter{UserID: id})
	if err != nil || len(ps) != 1 || ps[0].RoleID != vwire.RoleSuperUser || ps[0].Object != vwire.System {
		t.Fatalf("admin's permissions = %v, %v", ps, err)
	}
	if err := e.eng.RemovePermission(ctx(), ps[0].ID); !vwire.IsKey(err, vwire.MsgBuiltinAdmin) {
		t.Errorf("removing admin's SuperUser: %v", err)
	}
	if err := e.eng.RemoveUser(ctx(), id); !vwire.IsKey(err, vwire.MsgBuiltinAdmin) {
		t.Errorf("removing admin: %v", err)
	}
	bob, u := e.user("bob")
	if err := e.eng.RemoveUser(bob, id); err == nil {
		t.Error("bob removed a user")
	}
	tok, _, err := e.eng.IssueToken(ctx(), u)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.eng.SetPassword(bob, u.ID, "new"); err != nil {
		t.Fatalf("own password: %v", err)
	}
	if _, err := e.eng.TokenUser(ctx(), tok); err == nil {
		t.Error("token survived a password change")
	}
	if _, err := e.eng.Authenticate(ctx(), "bob@internal", "new"); err != nil {
		t.Errorf("new password: %v", err)
	}
	if err := e.eng.RemoveRole(ctx(), vwire.RoleSuperUser); !vwire.IsKey(err, vwire.MsgRoleReadOnly) {
		t.Errorf("removing a predefined role: %v", err)
	}
	r := &vwire.Role{Name: "NicOnly", Permits: []vwire.Permit{vwire.PermitConfigureVMNetwork, vwire.PermitLogin}}
	if err := e.eng.AddRole(ctx(), r); err != nil || r.Administrative {
		t.Fatalf("custom role: %v %+v", err, r)
	}
	e.grant(u, r.ID, vwire.ObjSystem, vwire.SystemID)
	if err := e.eng.RemoveRole(ctx(), r.ID); !vwire.IsKey(err, vwire.MsgRoleInUse) {
		t.Errorf("removing a role in use: %v", err)
	}
	if err := e.eng.RemoveUser(ctx(), u.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.RemoveRole(ctx(), r.ID); err != nil {
		t.Errorf("removing an unused custom role: %v", err)
	}
}

// TestChangeEventsNameTheUser (issue 13, point 5): every event a user's
// change writes carries that user, whatever the use case.
func TestChangeEventsNameTheUser(t *testing.T) {
	e := newEnv(t)
	carol, cu := e.user("carol")
	e.grant(cu, vwire.RoleSuperUser, vwire.ObjSystem, vwire.SystemID)
	start := e.lastEvent().ID
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	dc := &vwire.DataCenter{Name: "dc2", Version: vwire.NewestVersion}
	must("add dc", e.eng.AddDataCenter(carol, dc))
	_, err := e.eng.UpdateDataCenter(carol, dc.ID, func(d *vwire.DataCenter) error { d.Description = "x"; return nil })
	must("update dc", err)
	net := &vwire.Network{Name: "green", DataCenterID: e.dc.ID, VMNetwork: true}
	must("add network", e.eng.AddNetwork(carol, net))
	must("attach", e.eng.AttachNetwork(carol, e.cluster.ID, net.ID, false))
	p := &vwire.VNICProfile{Name: "green2", NetworkID: net.ID}
	must("add profile", e.eng.AddProfile(carol, p))
	_, err = e.eng.UpdateProfile(carol, p.ID, func(p *vwire.VNICProfile) error { p.Description = "y"; return nil })
	must("update profile", err)
	vm, err := e.eng.AddVM(carol, engine.VMSpec{Name: "cv", ClusterID: e.cluster.ID})
	must("add vm", err)
	n, err := e.eng.AddNIC(carol, vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	must("add nic", err)
	_, err = e.eng.StartVM(carol, vm.ID)
	must("start", err)
	_, err = e.eng.UpdateNIC(carol, vm.ID, n.ID, vwire.NICPatch{Linked: ptr(false)})
	must("update nic", err)
	_, err = e.eng.DeactivateNIC(carol, vm.ID, n.ID)
	must("unplug", err)
	_, err = e.eng.StopVM(carol, vm.ID)
	must("stop", err)
	must("remove nic", e.eng.RemoveNIC(carol, vm.ID, n.ID))
	_, err = e.eng.UpdateVM(carol, vm.ID, engine.VMPatch{Description: ptr("z")})
	must("update vm", err)
	must("remove vm", e.eng.RemoveVM(carol, vm.ID))
	must("remove profile", e.eng.RemoveProfile(carol, p.ID))
	must("detach", e.eng.DetachNetwork(carol, e.cluster.ID, net.ID))
	must("remove network", e.eng.RemoveNetwork(carol, net.ID))
	must("remove dc", e.eng.RemoveDataCenter(carol, dc.ID))

	evs, err := e.eng.Events(ctx(), start, 0)
	must("events", err)
	if len(evs) < 18 {
		t.Errorf("only %d events", len(evs))
	}
	for _, ev := range evs {
		if ev.UserName != "carol@internal-authz" {
			t.Errorf("event %d (%s) names %q", ev.Code, ev.Description, ev.UserName)
		}
	}
}

// TestRemovedObjectTakesItsPermissions: permissions have no foreign key
// (they are on objects of every type); a removal takes them, the
// network's also those on its profiles.
func TestRemovedObjectTakesItsPermissions(t *testing.T) {
	e := newEnv(t)
	_, u := e.user("bob")
	vm := e.vm("gone")
	red := e.network("red")
	var redNet string
	e.store.View(ctx(), func(tx vwire.Tx) error { p, _ := tx.Profile(red); redNet = p.NetworkID; return nil })
	e.grant(u, vwire.RoleUserVmManager, vwire.ObjVM, vm.ID)
	e.grant(u, vwire.RoleVnicProfileUser, vwire.ObjProfile, red)
	e.grant(u, vwire.RoleVnicProfileUser, vwire.ObjNetwork, redNet)
	if err := e.eng.RemoveVM(ctx(), vm.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.DetachNetwork(ctx(), e.cluster.ID, redNet); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.RemoveNetwork(ctx(), redNet); err != nil {
		t.Fatal(err)
	}
	if ps, err := e.eng.Permissions(ctx(), vwire.PermissionFilter{UserID: u.ID}); err != nil || len(ps) != 0 {
		t.Errorf("permissions left: %v, %v", ps, err)
	}
}

// TestEventsMaxCountsVisibleOnly: a user's max is of the events it may
// see, however many newer ones it may not (they are paged over).
func TestEventsMaxCountsVisibleOnly(t *testing.T) { forEachStore(t, testEventsMaxCountsVisibleOnly) }

func testEventsMaxCountsVisibleOnly(t *testing.T) {
	e := newEnv(t)
	vm1, vm2 := e.vm("vm1"), e.vm("vm2")
	bob, u := e.user("bob")
	e.grant(u, vwire.RoleUserVmManager, vwire.ObjVM, vm1.ID)
	add := func(vmID string, n int) (last int64) {
		if err := e.store.Update(ctx(), func(tx vwire.Tx) error {
			for i := 0; i < n; i++ {
				ev := &vwire.Event{Code: 1000, Severity: vwire.SevNormal, Description: "x", Time: time.Now(), VMID: vmID}
				if err := tx.AddEvent(ev); err != nil {
					return err
				}
				last = ev.ID
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return last
	}
	older := add(vm1.ID, 2)
	add(vm2.ID, 450) // more than two pages of what bob may not see
	newer := add(vm1.ID, 1)
	evs, err := e.eng.Events(bob, 0, 2)
	if err != nil || len(evs) != 2 || evs[0].ID != newer || evs[1].ID != older {
		t.Fatalf("bob's 2 newest events = %v, %v; want %d and %d", evs, err, newer, older)
	}
	for _, ev := range evs {
		if ev.VMID != vm1.ID {
			t.Errorf("bob sees event %d of VM %s", ev.ID, ev.VMID)
		}
	}
	if all, _ := e.eng.Events(bob, 0, 0); len(all) < 3 {
		t.Errorf("bob sees %d events without max, want at least 3", len(all))
	}
	if evs, _ := e.eng.Events(ctx(), 0, 2); len(evs) != 2 || evs[0].ID != newer {
		t.Errorf("the engine's 2 newest events = %v", evs)
	}
}
