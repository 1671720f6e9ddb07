package sqlstore

import (
	"database/sql"
	"strings"

	"vwire.dev/vwire"
)

// ---- users as the API manages them

const userCols = `id, name, domain, password_hash`

func scanUser(s interface{ Scan(...any) error }) (*vwire.User, error) {
	var u vwire.User
	err := s.Scan(&u.ID, &u.Name, &u.Domain, &u.PasswordHash)
	return &u, err
}

func (t *Tx) User(id string) (*vwire.User, error) {
	var u *vwire.User
	err := t.one("User", id, func(r *sql.Row) (err error) { u, err = scanUser(r); return },
		`SELECT `+userCols+` FROM users WHERE id = ?`, id)
	return u, err
}

func (t *Tx) Users() ([]*vwire.User, error) {
	return list(t, func(r *sql.Rows) (*vwire.User, error) { return scanUser(r) },
		`SELECT `+userCols+` FROM users ORDER BY name, domain`)
}

func (t *Tx) DeleteUser(id string) error {
	// Tokens and permissions go with the user (ON DELETE CASCADE).
	return t.execOne("User", id, `DELETE FROM users WHERE id = ?`, id)
}

// ---- roles and their permits

const roleCols = `id, name, description, administrative, mutable`

func scanRole(s interface{ Scan(...any) error }) (*vwire.Role, error) {
	var r vwire.Role
	err := s.Scan(&r.ID, &r.Name, &r.Description, &r.Administrative, &r.Mutable)
	return &r, err
}

// withPermits fills the permits of roles, in one query.
func (t *Tx) withPermits(roles []*vwire.Role) error {
	if len(roles) == 0 {
		return nil
	}
	byID := map[string]*vwire.Role{}
	for _, r := range roles {
		byID[r.ID] = r
	}
	type rp struct {
		role   string
		permit vwire.Permit
	}
	q := `SELECT role_id, permit FROM role_permits ORDER BY role_id, permit`
	var args []any
	if len(roles) == 1 {
		q = `SELECT role_id, permit FROM role_permits WHERE role_id = ? ORDER BY permit`
		args = append(args, roles[0].ID)
	}
	rows, err := list(t, func(r *sql.Rows) (rp, error) {
		var x rp
		err := r.Scan(&x.role, &x.permit)
		return x, err
	}, q, args...)
	for _, x := range rows {
		if r := byID[x.role]; r != nil {
			r.Permits = append(r.Permits, x.permit)
		}
	}
	return err
}

func (t *Tx) Role(id string) (*vwire.Role, error) {
	var r *vwire.Role
	if err := t.one("Role", id, func(row *sql.Row) (err error) { r, err = scanRole(row); return },
		`SELECT `+roleCols+` FROM roles WHERE id = ?`, id); err != nil {
		return nil, err
	}
	return r, t.withPermits([]*vwire.Role{r})
}

func (t *Tx) RoleByName(name string) (*vwire.Role, error) {
	var r *vwire.Role
	if err := t.one("Role", name, func(row *sql.Row) (err error) { r, err = scanRole(row); return },
		`SELECT `+roleCols+` FROM roles WHERE name = ?`, name); err != nil {
		return nil, err
	}
	return r, t.withPermits([]*vwire.Role{r})
}

func (t *Tx) Roles() ([]*vwire.Role, error) {
	roles, err := list(t, func(r *sql.Rows) (*vwire.Role, error) { return scanRole(r) },
		`SELECT `+roleCols+` FROM roles ORDER BY name`)
	if err != nil {
		return nil, err
	}
	return roles, t.withPermits(roles)
}

func (t *Tx) CreateRole(r *vwire.Role) error {
	if _, err := t.exec(`INSERT INTO roles (`+roleCols+`) VALUES (?, ?, ?, ?, ?)`,
		r.ID, r.Name, r.Description, r.Administrative, r.Mutable); err != nil {
		return err
	}
	return t.insertPermits(r)
}

func (t *Tx) insertPermits(r *vwire.Role) error {
	for _, p := range r.Permits {
		if _, err := t.exec(`INSERT INTO role_permits (role_id, permit) VALUES (?, ?) ON CONFLICT DO NOTHING`, r.ID, int(p)); err != nil {
			return err
		}
	}
	return nil
}

func (t *Tx) PutRole(r *vwire.Role) error {
	if _, err := t.exec(`INSERT INTO roles (`+roleCols+`) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description,
		administrative = excluded.administrative, mutable = excluded.mutable`,
		r.ID, r.Name, r.Description, r.Administrative, r.Mutable); err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM role_permits WHERE role_id = ?`, r.ID); err != nil {
		return err
	}
	return t.insertPermits(r)
}

func (t *Tx) DeleteRole(id string) error {
	return t.execOne("Role", id, `DELETE FROM roles WHERE id = ?`, id)
}

// ---- permissions

const permCols = `id, user_id, role_id, object_type, object_id`

func scanPermission(s interface{ Scan(...any) error }) (*vwire.Permission, error) {
	var p vwire.Permission
	err := s.Scan(&p.ID, &p.UserID, &p.RoleID, &p.Object.Type, &p.Object.ID)
	return &p, err
}

func (t *Tx) Permission(id string) (*vwire.Permission, error) {
	var p *vwire.Permission
	err := t.one("Permission", id, func(r *sql.Row) (err error) { p, err = scanPermission(r); return },
		`SELECT `+permCols+` FROM permissions WHERE id = ?`, id)
	return p, err
}

func (t *Tx) Permissions(f vwire.PermissionFilter) ([]*vwire.Permission, error) {
	var w where
	w.eq("user_id", f.UserID).eq("object_type", string(f.Object.Type)).eq("object_id", f.Object.ID)
	return list(t, func(r *sql.Rows) (*vwire.Permission, error) { return scanPermission(r) },
		`SELECT `+permCols+` FROM permissions`+w.sql("id", 0), w.args...)
}

func (t *Tx) CreatePermission(p *vwire.Permission) error {
	_, err := t.exec(`INSERT INTO permissions (`+permCols+`) VALUES (?, ?, ?, ?, ?)`,
		p.ID, p.UserID, p.RoleID, string(p.Object.Type), p.Object.ID)
	return err
}

func (t *Tx) DeletePermission(id string) error {
	return t.execOne("Permission", id, `DELETE FROM permissions WHERE id = ?`, id)
}

func (t *Tx) DeleteObjectPermissions(obj vwire.ObjectRef) error {
	_, err := t.exec(`DELETE FROM permissions WHERE object_type = ? AND object_id = ?`, string(obj.Type), obj.ID)
	return err
}

// ancestors lists, per object type, the (type, id) of an object's
// ancestors beneath the system, each "?" being the object's id: oVirt's
// inheritance (vwire.ObjectType) as SQL, so that a check is one statement
// whatever the object. A missing object or parent yields no row, and the
// chain then ends at the system.
var ancestors = map[vwire.ObjectType]string{
	vwire.ObjCluster: `SELECT 'data_center', data_center_id FROM clusters WHERE id = ?`,
	vwire.ObjHost: `SELECT 'cluster', cluster_id FROM hosts WHERE id = ?
		UNION ALL SELECT 'data_center', c.data_center_id FROM hosts h JOIN clusters c ON c.id = h.cluster_id WHERE h.id = ?`,
	vwire.ObjVM: `SELECT 'cluster', cluster_id FROM vms WHERE id = ?
		UNION ALL SELECT 'data_center', c.data_center_id FROM vms v JOIN clusters c ON c.id = v.cluster_id WHERE v.id = ?`,
	vwire.ObjTemplate: `SELECT 'cluster', cluster_id FROM templates WHERE id = ?
		UNION ALL SELECT 'data_center', c.data_center_id FROM templates t JOIN clusters c ON c.id = t.cluster_id WHERE t.id = ?`,
	vwire.ObjNetwork: `SELECT 'data_center', data_center_id FROM networks WHERE id = ?`,
	vwire.ObjProfile: `SELECT 'network', network_id FROM vnic_profiles WHERE id = ?
		UNION ALL SELECT 'data_center', n.data_center_id FROM vnic_profiles p JOIN networks n ON n.id = p.network_id WHERE p.id = ?`,
}

// Permitted asks one question of the database: is there a permission of
// the user, on o, one of its ancestors or the system, whose role carries
// the permit. Before, the engine read the chain object by object (a VM's
// row, its cluster's) and then asked: three statements for one answer.
func (t *Tx) Permitted(userID string, p vwire.Permit, o vwire.ObjectRef) (bool, error) {
	q := `SELECT COUNT(*) FROM permissions p JOIN role_permits rp ON rp.role_id = p.role_id
		WHERE p.user_id = ? AND rp.permit = ? AND (p.object_type = 'system' OR (p.object_type = ? AND p.object_id = ?)`
	args := []any{userID, int(p), string(o.Type), o.ID}
	if up, ok := ancestors[o.Type]; ok {
		q += ` OR (p.object_type, p.object_id) IN (` + up + `)`
		for range strings.Count(up, "?") {
			args = append(args, o.ID)
		}
	}
	var n int
	err := t.row(q+`)`, args...).Scan(&n)
	return n > 0, t.db.translate(err)
}

func (t *Tx) AdminOnSystem(userID string) (bool, error) {
	var n int
	err := t.row(`SELECT COUNT(*) FROM permissions p JOIN roles r ON r.id = p.role_id
		WHERE p.user_id = ? AND p.object_type = ? AND r.administrative = ?`, userID, string(vwire.ObjSystem), true).Scan(&n)
	return n > 0, t.db.translate(err)
}

// visibleQueries select, per object type, the objects with a permission of
// the user (the first parameter) on them or on an ancestor: the
// inheritance of vwire.ObjectType, written as joins up the tree.
var visibleQueries = map[vwire.ObjectType]string{
	vwire.ObjDataCenter: `SELECT d.id FROM data_centers d WHERE EXISTS (SELECT 1 FROM permissions p WHERE p.user_id = ? AND (
		p.object_type = 'system' OR (p.object_type = 'data_center' AND p.object_id = d.id))) ORDER BY d.id`,
	vwire.ObjCluster: `SELECT c.id FROM clusters c WHERE EXISTS (SELECT 1 FROM permissions p WHERE p.user_id = ? AND (
		p.object_type = 'system' OR (p.object_type = 'data_center' AND p.object_id = c.data_center_id)
		OR (p.object_type = 'cluster' AND p.object_id = c.id))) ORDER BY c.id`,
	vwire.ObjHost: `SELECT h.id FROM hosts h JOIN clusters c ON c.id = h.cluster_id WHERE EXISTS (SELECT 1 FROM permissions p
		WHERE p.user_id = ? AND (p.object_type = 'system' OR (p.object_type = 'data_center' AND p.object_id = c.data_center_id)
		OR (p.object_type = 'cluster' AND p.object_id = c.id) OR (p.object_type = 'host' AND p.object_id = h.id))) ORDER BY h.id`,
	vwire.ObjVM: `SELECT v.id FROM vms v JOIN clusters c ON c.id = v.cluster_id WHERE EXISTS (SELECT 1 FROM permissions p
		WHERE p.user_id = ? AND (p.object_type = 'system' OR (p.object_type = 'data_center' AND p.object_id = c.data_center_id)
		OR (p.object_type = 'cluster' AND p.object_id = c.id) OR (p.object_type = 'vm' AND p.object_id = v.id))) ORDER BY v.id`,
	vwire.ObjNetwork: `SELECT n.id FROM networks n WHERE EXISTS (SELECT 1 FROM permissions p WHERE p.user_id = ? AND (
		p.object_type = 'system' OR (p.object_type = 'data_center' AND p.object_id = n.data_center_id)
		OR (p.object_type = 'network' AND p.object_id = n.id))) ORDER BY n.id`,
	vwire.ObjProfile: `SELECT vp.id FROM vnic_profiles vp JOIN networks n ON n.id = vp.network_id WHERE EXISTS (SELECT 1 FROM permissions p
		WHERE p.user_id = ? AND (p.object_type = 'system' OR (p.object_type = 'data_center' AND p.object_id = n.data_center_id)
		OR (p.object_type = 'network' AND p.object_id = n.id) OR (p.object_type = 'vnic_profile' AND p.object_id = vp.id))) ORDER BY vp.id`,
	vwire.ObjTemplate: `SELECT t.id FROM templates t LEFT JOIN clusters c ON c.id = t.cluster_id WHERE EXISTS (SELECT 1 FROM permissions p
		WHERE p.user_id = ? AND (p.object_type = 'system' OR (p.object_type = 'data_center' AND p.object_id = c.data_center_id)
		OR (p.object_type = 'cluster' AND p.object_id = c.id) OR (p.object_type = 'template' AND p.object_id = t.id))) ORDER BY t.id`,
}

func (t *Tx) VisibleIDs(userID string, typ vwire.ObjectType) ([]string, error) {
	q, ok := visibleQueries[typ]
	if !ok {
		return nil, nil
	}
	return list(t, func(r *sql.Rows) (string, error) {
		var id string
		err := r.Scan(&id)
		return id, err
	}, q, userID)
}
