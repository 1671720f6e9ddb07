package storetest

import (
	"slices"
	"testing"

	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// testAuthz covers users, roles with permits, permissions, the permit
// check over an inheritance chain and the visible-objects query of every
// object type.
func testAuthz(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	u := &vwire.User{ID: uuid.NewString(), Name: "u" + uuid.NewString()[:6], Domain: "internal", PasswordHash: "h"}
	role := &vwire.Role{ID: uuid.NewString(), Name: "r" + uuid.NewString()[:6], Description: "d", Mutable: true,
		Permits: []vwire.Permit{vwire.PermitConfigureVMNetwork, vwire.PermitLogin}}
	admin := &vwire.Role{ID: uuid.NewString(), Name: "a" + uuid.NewString()[:6], Administrative: true, Permits: []vwire.Permit{vwire.PermitLogin}}
	onVM := &vwire.Permission{ID: uuid.NewString(), UserID: u.ID, RoleID: role.ID, Object: vwire.ObjectRef{Type: vwire.ObjVM, ID: f.vm.ID}}
	onProfile := &vwire.Permission{ID: uuid.NewString(), UserID: u.ID, RoleID: role.ID, Object: vwire.ObjectRef{Type: vwire.ObjProfile, ID: f.profile.ID}}
	update(t, s, func(tx vwire.Tx) error {
		for _, fn := range []func() error{
			func() error { return tx.CreateUser(u) },
			func() error { return tx.CreateRole(role) },
			func() error { return tx.CreateRole(admin) },
			func() error { return tx.CreatePermission(onVM) },
			func() error { return tx.CreatePermission(onProfile) },
			func() error {
				return tx.CreateToken(&vwire.Token{Hash: "tok-" + u.ID, UserID: u.ID, Kind: vwire.TokenSSO, Created: f.vm.CreatedAt, LastUsed: f.vm.CreatedAt, Expires: f.vm.CreatedAt.AddDate(100, 0, 0)})
			},
		} {
			if err := fn(); err != nil {
				return err
			}
		}
		return nil
	})
	onTheVM := vwire.ObjectRef{Type: vwire.ObjVM, ID: f.vm.ID}
	s.View(ctx(), func(tx vwire.Tx) error {
		if got, err := tx.User(u.ID); err != nil || got.Name != u.Name {
			t.Errorf("User = %v, %v", got, err)
		}
		if users, err := tx.Users(); err != nil || !slices.ContainsFunc(users, func(x *vwire.User) bool { return x.ID == u.ID }) {
			t.Errorf("Users = %v, %v", users, err)
		}
		r, err := tx.RoleByName(role.Name)
		if err != nil || r.ID != role.ID || !r.Mutable || r.Administrative || len(r.Permits) != 2 {
			t.Errorf("RoleByName = %+v, %v", r, err)
		}
		if r, err := tx.Role(admin.ID); err != nil || !r.Administrative || r.Mutable {
			t.Errorf("Role = %+v, %v", r, err)
		}
		if ok, err := tx.Permitted(u.ID, vwire.PermitConfigureVMNetwork, onTheVM); err != nil || !ok {
			t.Errorf("Permitted on the VM = %v, %v", ok, err)
		}
		if ok, _ := tx.Permitted(u.ID, vwire.PermitDeleteVM, onTheVM); ok {
			t.Error("Permitted a permit the role lacks")
		}
		if ok, _ := tx.Permitted(u.ID, vwire.PermitConfigureVMNetwork, vwire.ObjectRef{Type: vwire.ObjCluster, ID: f.cluster.ID}); ok {
			t.Error("a permission on a VM holds on its cluster")
		}
		if ok, _ := tx.AdminOnSystem(u.ID); ok {
			t.Error("AdminOnSystem without a system permission")
		}
		ps, err := tx.Permissions(vwire.PermissionFilter{Object: onVM.Object})
		if err != nil || len(ps) != 1 || ps[0].ID != onVM.ID || ps[0].RoleID != role.ID {
			t.Errorf("Permissions on the VM = %v, %v", ps, err)
		}
		if ps, _ := tx.Permissions(vwire.PermissionFilter{UserID: u.ID}); len(ps) != 2 {
			t.Errorf("Permissions of the user = %d, want 2", len(ps))
		}
		want := map[vwire.ObjectType][]string{
			vwire.ObjVM: {f.vm.ID}, vwire.ObjProfile: {f.profile.ID}, vwire.ObjCluster: nil, vwire.ObjNetwork: nil,
			vwire.ObjHost: nil, vwire.ObjDataCenter: nil, vwire.ObjTemplate: nil,
		}
		for typ, ids := range want {
			if got, err := tx.VisibleIDs(u.ID, typ); err != nil || !slices.Equal(got, ids) {
				t.Errorf("VisibleIDs(%s) = %v, %v; want %v", typ, got, err, ids)
			}
		}
		return nil
	})

	// A permission on the data center holds beneath it: clusters, hosts,
	// VMs, networks, profiles.
	onDC := &vwire.Permission{ID: uuid.NewString(), UserID: u.ID, RoleID: admin.ID, Object: vwire.ObjectRef{Type: vwire.ObjDataCenter, ID: f.dc.ID}}
	update(t, s, func(tx vwire.Tx) error { return tx.CreatePermission(onDC) })
	s.View(ctx(), func(tx vwire.Tx) error {
		for typ, id := range map[vwire.ObjectType]string{vwire.ObjDataCenter: f.dc.ID, vwire.ObjCluster: f.cluster.ID,
			vwire.ObjHost: f.host.ID, vwire.ObjVM: f.vm.ID, vwire.ObjNetwork: f.net.ID, vwire.ObjProfile: f.profile.ID} {
			if got, err := tx.VisibleIDs(u.ID, typ); err != nil || !slices.Contains(got, id) {
				t.Errorf("with the data center: VisibleIDs(%s) = %v, %v", typ, got, err)
			}
		}
		return nil
	})
	// Duplicate permission: ECONFLICT; a role in use cannot go.
	if err := s.Update(ctx(), func(tx vwire.Tx) error {
		dup := *onVM
		dup.ID = uuid.NewString()
		return tx.CreatePermission(&dup)
	}); code(err) != vwire.ECONFLICT {
		t.Errorf("duplicate permission: %v", err)
	}
	if err := s.Update(ctx(), func(tx vwire.Tx) error { return tx.DeleteRole(role.ID) }); code(err) != vwire.ECONFLICT {
		t.Errorf("delete of a role in use: %v", err)
	}
	// System: everything, and the administrator's view with an admin role.
	update(t, s, func(tx vwire.Tx) error {
		return tx.CreatePermission(&vwire.Permission{ID: uuid.NewString(), UserID: u.ID, RoleID: admin.ID, Object: vwire.System})
	})
	s.View(ctx(), func(tx vwire.Tx) error {
		if ok, err := tx.AdminOnSystem(u.ID); err != nil || !ok {
			t.Errorf("AdminOnSystem = %v, %v", ok, err)
		}
		if got, _ := tx.VisibleIDs(u.ID, vwire.ObjTemplate); !slices.Contains(got, vwire.BlankTemplateID) {
			t.Errorf("with the system: templates = %v", got)
		}
		return nil
	})
	// PutRole replaces permits; removals.
	role.Permits = []vwire.Permit{vwire.PermitLogin}
	role.Description = "changed"
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.PutRole(role); err != nil {
			return err
		}
		if err := tx.DeleteObjectPermissions(onProfile.Object); err != nil {
			return err
		}
		return tx.DeletePermission(onVM.ID)
	})
	s.View(ctx(), func(tx vwire.Tx) error {
		if r, err := tx.Role(role.ID); err != nil || r.Description != "changed" || !slices.Equal(r.Permits, role.Permits) {
			t.Errorf("after PutRole: %+v, %v", r, err)
		}
		if _, err := tx.Permission(onProfile.ID); code(err) != vwire.ENOTFOUND {
			t.Errorf("permission on a removed object: %v", err)
		}
		return nil
	})
	if err := s.Update(ctx(), func(tx vwire.Tx) error { return tx.DeletePermission(onVM.ID) }); code(err) != vwire.ENOTFOUND {
		t.Errorf("second delete: %v", err)
	}
	// Removing the user takes their permissions and tokens.
	update(t, s, func(tx vwire.Tx) error { return tx.DeleteUser(u.ID) })
	s.View(ctx(), func(tx vwire.Tx) error {
		if ps, _ := tx.Permissions(vwire.PermissionFilter{UserID: u.ID}); len(ps) != 0 {
			t.Errorf("permissions of a removed user: %v", ps)
		}
		if _, _, err := tx.Token("tok-" + u.ID); code(err) != vwire.ENOTFOUND {
			t.Errorf("token of a removed user: %v", err)
		}
		return nil
	})
	update(t, s, func(tx vwire.Tx) error { return tx.DeleteRole(role.ID) })
}
