package engine

import (
	"context"
	"slices"

	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// The use cases of users, roles and permissions (oVirt's /users, /roles,
// /permissions), checked like every other use case.

var (
	opAddUser          = vwire.Op{Action: "add", Type: "User"}
	opRemoveUser       = vwire.Op{Action: "remove", Type: "User"}
	opEditUser         = vwire.Op{Action: "edit", Type: "User"}
	opAddRole          = vwire.Op{Action: "add", Type: "Role"}
	opEditRole         = vwire.Op{Action: "edit", Type: "Role"}
	opRemoveRole       = vwire.Op{Action: "remove", Type: "Role"}
	opAddPermission    = vwire.Op{Action: "add", Type: "Permission"}
	opRemovePermission = vwire.Op{Action: "remove", Type: "Permission"}
)

// seedAuthz writes the predefined roles as this binary defines them and
// gives admin@internal SuperUser on the system if it lacks it: on every
// start, so that an upgraded engine's roles carry its permits.
func (e *Engine) seedAuthz(ctx context.Context) error {
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		for _, r := range vwire.PredefinedRoles() {
			if err := tx.PutRole(r); err != nil {
				return err
			}
		}
		admin, err := tx.UserByName("admin", "internal")
		if vwire.ErrorCode(err) == vwire.ENOTFOUND {
			return nil
		}
		if err != nil {
			return err
		}
		ps, err := tx.Permissions(vwire.PermissionFilter{UserID: admin.ID, Object: vwire.System})
		if err != nil || slices.ContainsFunc(ps, func(p *vwire.Permission) bool { return p.RoleID == vwire.RoleSuperUser }) {
			return err
		}
		return tx.CreatePermission(&vwire.Permission{ID: uuid.NewString(), UserID: admin.ID, RoleID: vwire.RoleSuperUser, Object: vwire.System})
	})
}

func isBuiltinAdmin(u *vwire.User) bool { return u.Name == "admin" && u.Domain == "internal" }

// ---- users

// Users lists the users: all of them for an administrator, oneself otherwise.
func (e *Engine) Users(ctx context.Context) ([]*vwire.User, error) {
	var out []*vwire.User
	err := e.view(ctx, func(tx vwire.Tx) error {
		s, err := scopeOf(ctx, tx)
		if err != nil {
			return err
		}
		us, err := tx.Users()
		if err != nil {
			return err
		}
		p, _ := PrincipalOf(ctx)
		for _, u := range us {
			if s.admin() || u.ID == p.UserID {
				out = append(out, u)
			}
		}
		return nil
	})
	return out, err
}

// User reads a user the caller may see (itself, or any for an administrator).
func (e *Engine) User(ctx context.Context, id string) (*vwire.User, error) {
	var u *vwire.User
	err := e.view(ctx, func(tx vwire.Tx) error {
		s, err := scopeOf(ctx, tx)
		if err != nil {
			return err
		}
		if p, _ := PrincipalOf(ctx); !s.admin() && p.UserID != id {
			return vwire.NotFound("User", id)
		}
		u, err = tx.User(id)
		return err
	})
	return u, err
}

// AddUser creates an internal user with a password.
func (e *Engine) AddUser(ctx context.Context, name, password string) (*vwire.User, error) {
	if err := e.authorize(ctx, opAddUser, onSystem(vwire.PermitManipulateUsers)); err != nil {
		return nil, err
	}
	if err := vwire.ValidateName(opAddUser, name, 255, true); err != nil {
		return nil, err
	}
	u := &vwire.User{ID: uuid.NewString(), Name: name, Domain: "internal", PasswordHash: hashPassword(password)}
	err := e.store.Update(ctx, func(tx vwire.Tx) error {
		if _, err := tx.UserByName(name, u.Domain); err == nil {
			return vwire.Fail(opAddUser, vwire.MsgNameAlreadyUsed)
		}
		if err := tx.CreateUser(u); err != nil {
			return err
		}
		return newEvent(ctx, evUserAdd, "SubjectName", name+"@internal").write(tx)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// RemoveUser removes a user; their sessions and permissions go with them.
func (e *Engine) RemoveUser(ctx context.Context, id string) error {
	if err := e.authorize(ctx, opRemoveUser, onSystem(vwire.PermitManipulateUsers)); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		u, err := tx.User(id)
		if err != nil {
			return err
		}
		if isBuiltinAdmin(u) {
			return vwire.Fail(opRemoveUser, vwire.MsgBuiltinAdmin)
		}
		if err := tx.DeleteUserTokens(id); err != nil {
			return err
		}
		if err := tx.DeleteUser(id); err != nil {
			return err
		}
		return newEvent(ctx, evUserRemove, "SubjectName", u.Name+"@"+u.Domain).write(tx)
	})
}

// SetPassword changes a user's password (oneself, or anyone with
// MANIPULATE_USERS) and ends every session of that user.
func (e *Engine) SetPassword(ctx context.Context, id, password string) error {
	if p, ok := PrincipalOf(ctx); !ok || p.UserID != id {
		if err := e.authorize(ctx, opEditUser, onSystem(vwire.PermitManipulateUsers)); err != nil {
			return err
		}
	}
	if password == "" {
		return vwire.Incomplete("User", []string{"password"}, "changePassword")
	}
	hash := hashPassword(password)
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		u, err := tx.User(id)
		if err != nil {
			return err
		}
		u.PasswordHash = hash
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		if err := tx.DeleteUserTokens(id); err != nil {
			return err
		}
		return newEvent(ctx, evUserPassword, "SubjectName", u.Name+"@"+u.Domain).write(tx)
	})
}

// ---- roles: every user may read them (to know what it may grant)

// Roles lists the roles by name, with their permits.
func (e *Engine) Roles(ctx context.Context) ([]*vwire.Role, error) {
	return all(ctx, e, vwire.Tx.Roles)
}

// Role reads one role.
func (e *Engine) Role(ctx context.Context, id string) (*vwire.Role, error) {
	var r *vwire.Role
	err := e.view(ctx, func(tx vwire.Tx) (err error) { r, err = tx.Role(id); return })
	return r, err
}

func checkPermits(op vwire.Op, ps []vwire.Permit) error {
	for _, p := range ps {
		if _, ok := p.Info(); !ok {
			return vwire.Fail(op, vwire.MsgPermitUnknown, "permit", p.String())
		}
	}
	return nil
}

// AddRole creates a custom role from permits; a role with an
// administrative permit is administrative.
func (e *Engine) AddRole(ctx context.Context, r *vwire.Role) error {
	if err := e.authorize(ctx, opAddRole, onSystem(vwire.PermitManipulateRoles)); err != nil {
		return err
	}
	if err := checkPermits(opAddRole, r.Permits); err != nil {
		return err
	}
	r.ID, r.Mutable = uuid.NewString(), true
	for _, p := range r.Permits {
		if i, _ := p.Info(); i.Admin {
			r.Administrative = true
		}
	}
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		if _, err := tx.RoleByName(r.Name); err == nil {
			return vwire.Fail(opAddRole, vwire.MsgNameAlreadyUsed)
		}
		if err := tx.CreateRole(r); err != nil {
			return err
		}
		return newEvent(ctx, evRoleAdd, "RoleName", r.Name).write(tx)
	})
}

// SetRolePermits adds or removes permits of a custom role.
func (e *Engine) SetRolePermits(ctx context.Context, id string, add, remove []vwire.Permit) (*vwire.Role, error) {
	if err := e.authorize(ctx, opEditRole, onSystem(vwire.PermitManipulateRoles)); err != nil {
		return nil, err
	}
	if err := checkPermits(opEditRole, add); err != nil {
		return nil, err
	}
	var r *vwire.Role
	err := e.store.Update(ctx, func(tx vwire.Tx) (err error) {
		if r, err = tx.Role(id); err != nil {
			return err
		}
		if !r.Mutable {
			return vwire.Fail(opEditRole, vwire.MsgRoleReadOnly, "role", r.Name)
		}
		for _, p := range add {
			if !slices.Contains(r.Permits, p) {
				r.Permits = append(r.Permits, p)
			}
			if i, _ := p.Info(); i.Admin {
				r.Administrative = true
			}
		}
		r.Permits = slices.DeleteFunc(r.Permits, func(p vwire.Permit) bool { return slices.Contains(remove, p) })
		if err := tx.PutRole(r); err != nil {
			return err
		}
		return newEvent(ctx, evRoleUpdate, "RoleName", r.Name).write(tx)
	})
	return r, err
}

// UpdateRole edits a custom role's name, description or kind.
func (e *Engine) UpdateRole(ctx context.Context, id string, mutate func(*vwire.Role) error) (*vwire.Role, error) {
	if err := e.authorize(ctx, opEditRole, onSystem(vwire.PermitManipulateRoles)); err != nil {
		return nil, err
	}
	var r *vwire.Role
	err := e.store.Update(ctx, func(tx vwire.Tx) (err error) {
		if r, err = tx.Role(id); err != nil {
			return err
		}
		if !r.Mutable {
			return vwire.Fail(opEditRole, vwire.MsgRoleReadOnly, "role", r.Name)
		}
		if err := mutate(r); err != nil {
			return err
		}
		if err := vwire.ValidateName(opEditRole, r.Name, 126, true); err != nil {
			return err
		}
		if other, err := tx.RoleByName(r.Name); err == nil && other.ID != r.ID {
			return vwire.Fail(opEditRole, vwire.MsgNameAlreadyUsed)
		}
		if err := tx.PutRole(r); err != nil {
			return err
		}
		return newEvent(ctx, evRoleUpdate, "RoleName", r.Name).write(tx)
	})
	return r, err
}

// RemoveRole removes a custom role no permission gives.
func (e *Engine) RemoveRole(ctx context.Context, id string) error {
	if err := e.authorize(ctx, opRemoveRole, onSystem(vwire.PermitManipulateRoles)); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		r, err := tx.Role(id)
		if err != nil {
			return err
		}
		if !r.Mutable {
			return vwire.Fail(opRemoveRole, vwire.MsgRoleReadOnly, "role", r.Name)
		}
		if err := tx.DeleteRole(id); vwire.ErrorCode(err) == vwire.ECONFLICT {
			return vwire.Fail(opRemoveRole, vwire.MsgRoleInUse, "role", r.Name).Wrap(err)
		} else if err != nil {
			return err
		}
		return newEvent(ctx, evRoleRemove, "RoleName", r.Name).write(tx)
	})
}

// ---- permissions

// kindOf names an object type as a missing object's fault does.
var kindOf = map[vwire.ObjectType]string{
	vwire.ObjDataCenter: "DataCenter", vwire.ObjCluster: "Cluster", vwire.ObjHost: "Host", vwire.ObjVM: "VM",
	vwire.ObjNetwork: "Network", vwire.ObjProfile: "VnicProfile", vwire.ObjTemplate: "Template",
}

// exists tells whether an object is there (the system always is).
func exists(tx vwire.Tx, o vwire.ObjectRef) error {
	var err error
	switch o.Type {
	case vwire.ObjSystem:
		return nil
	case vwire.ObjDataCenter:
		_, err = tx.DataCenter(o.ID)
	case vwire.ObjCluster:
		_, err = tx.Cluster(o.ID)
	case vwire.ObjHost:
		_, err = tx.Host(o.ID)
	case vwire.ObjVM:
		_, err = tx.VM(o.ID)
	case vwire.ObjNetwork:
		_, err = tx.Network(o.ID)
	case vwire.ObjProfile:
		_, err = tx.Profile(o.ID)
	case vwire.ObjTemplate:
		_, err = tx.Template(o.ID)
	default:
		return vwire.NotFound(string(o.Type), o.ID)
	}
	return err
}

// Permissions lists the permissions on an object the caller sees, or of a
// user (oneself, or any for an administrator).
func (e *Engine) Permissions(ctx context.Context, f vwire.PermissionFilter) ([]*vwire.Permission, error) {
	var out []*vwire.Permission
	err := e.view(ctx, func(tx vwire.Tx) error {
		s, err := scopeOf(ctx, tx)
		if err != nil {
			return err
		}
		if f.Object.Type != "" {
			if err := exists(tx, f.Object); err != nil {
				return err
			}
			if f.Object.Type == vwire.ObjSystem {
				if !s.admin() {
					return nil // the system's permissions are the administrators' business
				}
			} else if err := s.mustSee(f.Object.Type, kindOf[f.Object.Type], f.Object.ID); err != nil {
				return err
			}
		}
		if f.UserID != "" {
			if p, _ := PrincipalOf(ctx); !s.admin() && p.UserID != f.UserID {
				return vwire.NotFound("User", f.UserID)
			}
			if _, err := tx.User(f.UserID); err != nil {
				return err
			}
		}
		out, err = tx.Permissions(f)
		return err
	})
	return out, err
}

// Permission reads one permission, seen as its object is (or as its user
// sees its own).
func (e *Engine) Permission(ctx context.Context, id string) (*vwire.Permission, error) {
	var p *vwire.Permission
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		s, err := scopeOf(ctx, tx)
		if err != nil {
			return err
		}
		if p, err = tx.Permission(id); err != nil {
			return err
		}
		me, _ := PrincipalOf(ctx)
		if s.admin() || p.UserID == me.UserID {
			return nil
		}
		if p.Object.Type == vwire.ObjSystem {
			return vwire.NotFound("Permission", id)
		}
		if ok, err := s.sees(p.Object.Type, p.Object.ID); err != nil || !ok {
			return firstErr(err, vwire.NotFound("Permission", id))
		}
		return nil
	})
	return p, err
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// AddPermission gives a user a role on an object. The caller needs
// MANIPULATE_PERMISSIONS there and must itself hold every permit of the
// role there: nobody grants more than they have.
func (e *Engine) AddPermission(ctx context.Context, p *vwire.Permission) error {
	op := opAddPermission
	err := e.authorizeWith(ctx, op, func(tx vwire.Tx) ([]need, error) {
		if err := exists(tx, p.Object); err != nil {
			return nil, err
		}
		needs := []need{{vwire.PermitManipulatePermissions, p.Object}}
		if r, err := tx.Role(p.RoleID); err == nil {
			for _, pm := range r.Permits {
				needs = append(needs, need{pm, p.Object})
			}
		}
		return needs, nil
	})
	if err != nil {
		return err
	}
	if err := e.adminRoleGiver(ctx, op, p.RoleID); err != nil {
		return err
	}
	p.ID = uuid.NewString()
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		u, err := tx.User(p.UserID)
		if vwire.ErrorCode(err) == vwire.ENOTFOUND {
			return vwire.New(vwire.MsgReferenceNotFound, "kind", "User", "ref", p.UserID)
		}
		if err != nil {
			return err
		}
		r, err := tx.Role(p.RoleID)
		if vwire.ErrorCode(err) == vwire.ENOTFOUND {
			return vwire.New(vwire.MsgReferenceNotFound, "kind", "Role", "ref", p.RoleID)
		}
		if err != nil {
			return err
		}
		if err := tx.CreatePermission(p); err != nil {
			return err
		}
		return newEvent(ctx, evPermissionAdd, "SubjectName", u.Name+"@"+u.Domain, "RoleName", r.Name,
			"Object", objectName(tx, p.Object)).write(tx)
	})
}

// RemovePermission removes a permission; admin@internal keeps SuperUser on
// the system, so that someone always administers the engine.
func (e *Engine) RemovePermission(ctx context.Context, id string) error {
	op := opRemovePermission
	err := e.authorizeWith(ctx, op, func(tx vwire.Tx) ([]need, error) {
		p, err := tx.Permission(id)
		if err != nil {
			return nil, err
		}
		return []need{{vwire.PermitManipulatePermissions, p.Object}}, nil
	})
	if err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		p, err := tx.Permission(id)
		if err != nil {
			return err
		}
		u, err := tx.User(p.UserID)
		if err != nil {
			return err
		}
		if isBuiltinAdmin(u) && p.RoleID == vwire.RoleSuperUser && p.Object.Type == vwire.ObjSystem {
			return vwire.Fail(op, vwire.MsgBuiltinAdmin)
		}
		r, err := tx.Role(p.RoleID)
		if err != nil {
			return err
		}
		if err := tx.DeletePermission(id); err != nil {
			return err
		}
		return newEvent(ctx, evPermissionRemove, "SubjectName", u.Name+"@"+u.Domain, "RoleName", r.Name,
			"Object", objectName(tx, p.Object)).write(tx)
	})
}

// adminRoleGiver is oVirt's rule that only a SuperUser on the system gives
// administrative roles: an administrator of one cluster cannot make others
// administrators there.
func (e *Engine) adminRoleGiver(ctx context.Context, op vwire.Op, roleID string) error {
	me, ok := PrincipalOf(ctx)
	if !ok {
		return nil
	}
	return e.view(ctx, func(tx vwire.Tx) error {
		r, err := tx.Role(roleID)
		if err != nil || !r.Administrative {
			return nil // a missing role is reported by the add itself
		}
		ps, err := tx.Permissions(vwire.PermissionFilter{UserID: me.UserID, Object: vwire.System})
		if err != nil || slices.ContainsFunc(ps, func(p *vwire.Permission) bool { return p.RoleID == vwire.RoleSuperUser }) {
			return err
		}
		return vwire.Fail(op, vwire.MsgOnlySuperUserGivesAdminRoles, "role", r.Name)
	})
}
