package restapi

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"vwire.dev/vwire"
)

// Roles, their permits and permissions, in oVirt's shapes: a permit is an
// action group (id its number, name lower case); a permission names its
// role, its user and its object (<vm id=…/>, none for the system).

// ---- roles and permits

func (q *request) roleNode(r *vwire.Role) *node {
	h := q.href("roles", r.ID)
	return (&node{name: "role", href: h, id: r.ID}).add(
		str("name", r.Name), optStr("description", r.Description),
		boolean("administrative", r.Administrative), boolean("mutable", r.Mutable),
		link("permits", h+"/permits"))
}

func (q *request) permitNode(roleID string, p vwire.Permit) *node {
	info, _ := p.Info()
	id := strconv.Itoa(int(p))
	n := &node{name: "permit", id: id}
	if roleID != "" {
		n.href = q.href("roles", roleID, "permits", id)
	}
	return n.add(str("name", strings.ToLower(info.Name)), boolean("administrative", info.Admin),
		ref("role", q.href("roles", roleID), roleID))
}

func (s *Server) listRoles(q *request) error {
	rs, err := s.eng.Roles(q.ctx())
	if err != nil {
		return err
	}
	p, err := q.listParams()
	if err != nil {
		return err
	}
	n, err := collect(p, "roles", rs, func(r *vwire.Role) map[string]string {
		return map[string]string{"name": r.Name, "id": r.ID}
	}, q.roleNode)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, n)
	return nil
}

func (s *Server) getRole(q *request) error {
	r, err := s.eng.Role(q.ctx(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	q.write(http.StatusOK, q.roleNode(r))
	return nil
}

// permitOf reads a permit reference: <permit id="9"/> or by name.
func permitOf(n *in) (vwire.Permit, error) {
	if id, ok := n.str("id"); ok && id != "" {
		i, err := strconv.Atoi(id)
		if p := vwire.Permit(i); err == nil {
			if _, known := p.Info(); known {
				return p, nil
			}
		}
		return 0, vwire.New(vwire.MsgReferenceNotFound, "kind", "Permit", "ref", id)
	}
	name, _ := n.str("name")
	if p, ok := vwire.PermitByName(name); ok {
		return p, nil
	}
	return 0, vwire.New(vwire.MsgReferenceNotFound, "kind", "Permit", "ref", name)
}

func (s *Server) addRole(q *request) error {
	b, err := q.body()
	if err != nil {
		return err
	}
	r := &vwire.Role{}
	r.Name, _ = b.str("name")
	r.Description, _ = b.str("description")
	var permits []*in
	if ps := b.child("permits"); ps != nil {
		permits = ps.children("permit")
	}
	var missing []string
	if r.Name == "" {
		missing = append(missing, "name")
	}
	if len(permits) == 0 {
		missing = append(missing, "permits.permit.id")
	}
	if len(missing) > 0 {
		return vwire.Incomplete("Role", missing, "add")
	}
	if a, err := b.boolp("administrative"); err != nil {
		return err
	} else if a != nil {
		r.Administrative = *a
	}
	for _, pn := range permits {
		p, err := permitOf(pn)
		if err != nil {
			return err
		}
		r.Permits = append(r.Permits, p)
	}
	if err := s.eng.AddRole(q.ctx(), r); err != nil {
		return err
	}
	q.created(q.roleNode(r))
	return nil
}

func applyRole(b *in, r *vwire.Role) error {
	if v := b.strp("name"); v != nil {
		r.Name = *v
	}
	if v := b.strp("description"); v != nil {
		r.Description = *v
	}
	a, err := b.boolp("administrative")
	if a != nil {
		r.Administrative = *a
	}
	return err
}

func (s *Server) removeRole(q *request) error {
	if err := s.eng.RemoveRole(q.ctx(), q.r.PathValue("id")); err != nil {
		return err
	}
	q.done()
	return nil
}

func (s *Server) listPermits(q *request) error {
	r, err := s.eng.Role(q.ctx(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	ps := slices.Clone(r.Permits)
	slices.Sort(ps)
	out := el("permits")
	for _, p := range ps {
		out.add(item(q.permitNode(r.ID, p)))
	}
	q.write(http.StatusOK, out)
	return nil
}

// rolePermit finds the permit the path names among its role's.
func (s *Server) rolePermit(q *request) (*vwire.Role, vwire.Permit, error) {
	r, err := s.eng.Role(q.ctx(), q.r.PathValue("id"))
	if err != nil {
		return nil, 0, err
	}
	pid := q.r.PathValue("pid")
	for _, p := range r.Permits {
		if strconv.Itoa(int(p)) == pid {
			return r, p, nil
		}
	}
	return nil, 0, vwire.NotFound("Permit", pid)
}

func (s *Server) getPermit(q *request) error {
	r, p, err := s.rolePermit(q)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, q.permitNode(r.ID, p))
	return nil
}

func (s *Server) addPermit(q *request) error {
	b, err := q.body()
	if err != nil {
		return err
	}
	p, err := permitOf(b)
	if err != nil {
		return err
	}
	r, err := s.eng.SetRolePermits(q.ctx(), q.r.PathValue("id"), []vwire.Permit{p}, nil)
	if err != nil {
		return err
	}
	q.created(q.permitNode(r.ID, p))
	return nil
}

func (s *Server) removePermit(q *request) error {
	r, p, err := s.rolePermit(q)
	if err != nil {
		return err
	}
	if _, err := s.eng.SetRolePermits(q.ctx(), r.ID, nil, []vwire.Permit{p}); err != nil {
		return err
	}
	q.done()
	return nil
}

// ---- permissions

// permissionObjects maps an object type to its REST collection and the
// element a permission names it by.
var permissionObjects = []struct {
	typ        vwire.ObjectType
	collection string
}{
	{vwire.ObjDataCenter, "datacenters"}, {vwire.ObjCluster, "clusters"}, {vwire.ObjHost, "hosts"},
	{vwire.ObjNetwork, "networks"}, {vwire.ObjProfile, "vnicprofiles"}, {vwire.ObjTemplate, "templates"},
	{vwire.ObjVM, "vms"},
}

func collectionOf(t vwire.ObjectType) string {
	for _, o := range permissionObjects {
		if o.typ == t {
			return o.collection
		}
	}
	return ""
}

func (q *request) permissionNode(p *vwire.Permission) *node {
	h := q.href("permissions", p.ID)
	if c := collectionOf(p.Object.Type); c != "" {
		h = q.href(c, p.Object.ID, "permissions", p.ID)
	}
	n := (&node{name: "permission", href: h, id: p.ID}).add(
		ref("role", q.href("roles", p.RoleID), p.RoleID),
		ref("user", q.href("users", p.UserID), p.UserID))
	if c := collectionOf(p.Object.Type); c != "" {
		n.add(ref(string(p.Object.Type), q.href(c, p.Object.ID), p.Object.ID))
	}
	return n
}

func (q *request) writePermissions(ps []*vwire.Permission) {
	out := el("permissions")
	for _, p := range ps {
		out.add(item(q.permissionNode(p)))
	}
	q.write(http.StatusOK, out)
}

// objectPermissions serves /{collection}/{id}/permissions (system: /permissions).
func (s *Server) objectPermissions(t vwire.ObjectType) (list, add, get, remove handler) {
	objOf := func(q *request) vwire.ObjectRef {
		if t == vwire.ObjSystem {
			return vwire.System
		}
		return vwire.ObjectRef{Type: t, ID: q.r.PathValue("id")}
	}
	list = func(q *request) error {
		ps, err := s.eng.Permissions(q.ctx(), vwire.PermissionFilter{Object: objOf(q)})
		if err != nil {
			return err
		}
		q.writePermissions(ps)
		return nil
	}
	add = func(q *request) error {
		b, err := q.body()
		if err != nil {
			return err
		}
		p := &vwire.Permission{Object: objOf(q)}
		if p.RoleID, err = s.roleRef(q, b); err != nil {
			return err
		}
		if id, _, _ := b.ref("user"); id != "" {
			p.UserID = id
		} else {
			return vwire.Incomplete("Permission", []string{"user.id"}, "add")
		}
		if err := s.eng.AddPermission(q.ctx(), p); err != nil {
			return err
		}
		q.created(q.permissionNode(p))
		return nil
	}
	// get and remove find the permission where the path says it is.
	find := func(q *request) (*vwire.Permission, error) {
		p, err := s.eng.Permission(q.ctx(), q.r.PathValue("pid"))
		if err != nil {
			return nil, err
		}
		if p.Object != objOf(q) {
			return nil, vwire.NotFound("Permission", p.ID)
		}
		return p, nil
	}
	get = func(q *request) error {
		p, err := find(q)
		if err != nil {
			return err
		}
		q.write(http.StatusOK, q.permissionNode(p))
		return nil
	}
	remove = func(q *request) error {
		p, err := find(q)
		if err != nil {
			return err
		}
		if err := s.eng.RemovePermission(q.ctx(), p.ID); err != nil {
			return err
		}
		q.done()
		return nil
	}
	return list, add, get, remove
}

// roleRef reads <role id=…/> or <role><name>…</name></role>.
func (s *Server) roleRef(q *request, b *in) (string, error) {
	id, name, _ := b.ref("role")
	if id != "" {
		return id, nil
	}
	if name == "" {
		return "", vwire.Incomplete("Permission", []string{"role.id|name"}, "add")
	}
	rs, err := s.eng.Roles(q.ctx())
	if err != nil {
		return "", err
	}
	r, err := resolve("Role", "", name, rs, func(r *vwire.Role) string { return r.ID }, func(r *vwire.Role) string { return r.Name })
	if err != nil {
		return "", err
	}
	return r.ID, nil
}

// userPermissions serves /users/{id}/permissions: the user's permissions,
// and an add naming the object (oVirt requires one).
func (s *Server) listUserPermissions(q *request) error {
	ps, err := s.eng.Permissions(q.ctx(), vwire.PermissionFilter{UserID: q.r.PathValue("id")})
	if err != nil {
		return err
	}
	q.writePermissions(ps)
	return nil
}

func (s *Server) addUserPermission(q *request) error {
	b, err := q.body()
	if err != nil {
		return err
	}
	p := &vwire.Permission{UserID: q.r.PathValue("id")}
	if p.RoleID, err = s.roleRef(q, b); err != nil {
		return err
	}
	for _, o := range permissionObjects {
		if id, _, _ := b.ref(string(o.typ)); id != "" {
			p.Object = vwire.ObjectRef{Type: o.typ, ID: id}
		}
	}
	if p.Object.Type == "" {
		return vwire.Incomplete("Permission", []string{"data_center|cluster|host|network|vnic_profile|template|vm.id"}, "add")
	}
	if _, err := s.eng.User(q.ctx(), p.UserID); err != nil {
		return err
	}
	if err := s.eng.AddPermission(q.ctx(), p); err != nil {
		return err
	}
	q.created(q.permissionNode(p))
	return nil
}

func (s *Server) userPermission(q *request) (*vwire.Permission, error) {
	p, err := s.eng.Permission(q.ctx(), q.r.PathValue("pid"))
	if err != nil {
		return nil, err
	}
	if p.UserID != q.r.PathValue("id") {
		return nil, vwire.NotFound("Permission", p.ID)
	}
	return p, nil
}

func (s *Server) getUserPermission(q *request) error {
	p, err := s.userPermission(q)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, q.permissionNode(p))
	return nil
}

func (s *Server) removeUserPermission(q *request) error {
	p, err := s.userPermission(q)
	if err != nil {
		return err
	}
	if err := s.eng.RemovePermission(q.ctx(), p.ID); err != nil {
		return err
	}
	q.done()
	return nil
}
