package engine

import (
	"context"

	"vwire.dev/vwire"
)

// Authorization (issue 13). Every use case states, at its start and before
// any change, the permits it needs and on which objects (authorize); every
// query keeps only what the caller may see (scope). A context without a
// principal is the engine's own work (polling, repair, bootstrap) and may
// do anything.
//
// A permission holds on its object and everything beneath it: system →
// data center → cluster → VM or host; data center → network → vNIC
// profile; cluster → template. The store walks that tree upwards in the
// one SQL question (AuthzTx.Permitted) that answers a check.

type filterKey struct{}

// WithFilter records that the caller asked for the user-level view
// (oVirt's "Filter: true"): only objects it has a permission on, even for
// an administrator.
func WithFilter(ctx context.Context) context.Context {
	return context.WithValue(ctx, filterKey{}, true)
}

func filterOf(ctx context.Context) bool {
	f, _ := ctx.Value(filterKey{}).(bool)
	return f
}

// need is one permit a use case requires on one object.
type need struct {
	permit vwire.Permit
	obj    vwire.ObjectRef
}

func on(p vwire.Permit, t vwire.ObjectType, id string) need {
	return need{p, vwire.ObjectRef{Type: t, ID: id}}
}

func onSystem(p vwire.Permit) need { return need{p, vwire.System} }

// objectName is how a refusal names an object: "vNIC profile blue".
func objectName(tx vwire.Tx, o vwire.ObjectRef) string {
	name := o.ID
	var err error
	var kind string
	switch o.Type {
	case vwire.ObjSystem:
		return "the system"
	case vwire.ObjDataCenter:
		kind = "Data Center"
		var d *vwire.DataCenter
		if d, err = tx.DataCenter(o.ID); err == nil {
			name = d.Name
		}
	case vwire.ObjCluster:
		kind = "Cluster"
		var c *vwire.Cluster
		if c, err = tx.Cluster(o.ID); err == nil {
			name = c.Name
		}
	case vwire.ObjHost:
		kind = "Host"
		var h *vwire.Host
		if h, err = tx.Host(o.ID); err == nil {
			name = h.Name
		}
	case vwire.ObjVM:
		kind = "VM"
		var v *vwire.VM
		if v, err = tx.VM(o.ID); err == nil {
			name = v.Name
		}
	case vwire.ObjNetwork:
		kind = "Network"
		var n *vwire.Network
		if n, err = tx.Network(o.ID); err == nil {
			name = n.Name
		}
	case vwire.ObjProfile:
		kind = "VM network interface profile"
		var p *vwire.VNICProfile
		if p, err = tx.Profile(o.ID); err == nil {
			name = p.Name
		}
	case vwire.ObjTemplate:
		kind = "Template"
		var t *vwire.Template
		if t, err = tx.Template(o.ID); err == nil {
			name = t.Name
		}
	}
	return kind + " " + name
}

// authorize checks, in one read transaction, that the caller holds every
// permit needed. A refusal is oVirt's USER_NOT_AUTHORIZED_TO_PERFORM_ACTION
// naming the missing permit and object, and an audit event of its own
// (written after the read, as nothing else of the use case is).
func (e *Engine) authorize(ctx context.Context, op vwire.Op, needs ...need) error {
	return e.authorizeWith(ctx, op, func(vwire.Tx) ([]need, error) { return needs, nil })
}

// authorizeWith is authorize for needs that depend on the current state
// (a vNIC update needs the profile permission only if the profile changes).
func (e *Engine) authorizeWith(ctx context.Context, op vwire.Op, needsOf func(vwire.Tx) ([]need, error)) error {
	refused, what, err := e.permitted(ctx, op, needsOf)
	if err != nil || refused == nil {
		return err
	}
	e.writeEvent(ctx, newEvent(ctx, evAuthzRefused, "Action", op.Action+" "+op.Type, "Permit",
		refused.Vars[1], "Object", what))
	return refused
}

// permitted is authorizeWith's decision without its audit event: the
// refusal (nil: allowed) and the object it names. A form asking what it
// may offer (NICForm) is no attempt to act, so it is not audited.
func (e *Engine) permitted(ctx context.Context, op vwire.Op, needsOf func(vwire.Tx) ([]need, error)) (refused *vwire.Error, what string, err error) {
	p, ok := PrincipalOf(ctx)
	if !ok {
		return nil, "", nil
	}
	// Read: each check is one statement of its own; a permission removed
	// meanwhile is seen by the next request, as it would be after a
	// transaction's snapshot.
	err = e.store.Read(ctx, func(tx vwire.Tx) error {
		needs, err := needsOf(tx)
		if err != nil {
			return err
		}
		for _, n := range needs {
			ok, err := tx.Permitted(p.UserID, n.permit, n.obj)
			if err != nil {
				return err
			}
			if !ok {
				what = objectName(tx, n.obj)
				refused = vwire.Fail(op, vwire.MsgUserNotAuthorized, "permit", n.permit.String(), "object", what)
				return nil
			}
		}
		return nil
	})
	return refused, what, err
}

// ---- what a caller sees

// scope is what the caller of one query may see: everything (the engine,
// or an administrator on the system without Filter), or the objects it has
// a permission on, read once per type from the database.
type scope struct {
	tx   vwire.Tx
	user string
	all  bool
	ids  map[vwire.ObjectType]map[string]bool
}

// scopeOf decides the caller's view: oVirt's user view for Filter: true,
// and for any user without an administrative role on the system.
func scopeOf(ctx context.Context, tx vwire.Tx) (*scope, error) {
	p, ok := PrincipalOf(ctx)
	if !ok {
		return &scope{all: true}, nil
	}
	s := &scope{tx: tx, user: p.UserID, ids: map[vwire.ObjectType]map[string]bool{}}
	if !filterOf(ctx) {
		admin, err := tx.AdminOnSystem(p.UserID)
		if err != nil {
			return nil, err
		}
		s.all = admin
	}
	return s, nil
}

// sees tells whether the caller may see an object.
func (s *scope) sees(t vwire.ObjectType, id string) (bool, error) {
	if s.all {
		return true, nil
	}
	if t == vwire.ObjTemplate && id == vwire.BlankTemplateID {
		return true, nil // everyone may base a VM on Blank, as oVirt grants
	}
	set, ok := s.ids[t]
	if !ok {
		ids, err := s.tx.VisibleIDs(s.user, t)
		if err != nil {
			return false, err
		}
		set = make(map[string]bool, len(ids))
		for _, id := range ids {
			set[id] = true
		}
		s.ids[t] = set
	}
	return set[id], nil
}

// admin tells whether the caller sees everything.
func (s *scope) admin() bool { return s.all }

// visible keeps the items the caller may see, in order.
func visible[T any](s *scope, t vwire.ObjectType, items []T, id func(T) string) ([]T, error) {
	if s.all {
		return items, nil
	}
	out := items[:0:0]
	for _, it := range items {
		ok, err := s.sees(t, id(it))
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, it)
		}
	}
	return out, nil
}

// mustSee is the getter's check: an object the caller may not see is
// missing, as oVirt answers 404 for it.
func (s *scope) mustSee(t vwire.ObjectType, kind, id string) error {
	ok, err := s.sees(t, id)
	if err != nil {
		return err
	}
	if !ok {
		return vwire.NotFound(kind, id)
	}
	return nil
}

// seesEvent: an administrator sees every event; a user sees the events of
// the objects it sees and its own (a refusal names no object).
func (s *scope) seesEvent(ev *vwire.Event, self string) (bool, error) {
	switch {
	case s.all:
		return true, nil
	case ev.VMID != "":
		return s.sees(vwire.ObjVM, ev.VMID)
	case ev.HostID != "":
		return s.sees(vwire.ObjHost, ev.HostID)
	case ev.TemplateID != "":
		return s.sees(vwire.ObjTemplate, ev.TemplateID)
	case ev.ClusterID != "":
		return s.sees(vwire.ObjCluster, ev.ClusterID)
	case ev.DataCenterID != "":
		return s.sees(vwire.ObjDataCenter, ev.DataCenterID)
	}
	return ev.UserName == self, nil
}

// deleteWith removes an object and the permissions on it, in the
// removal's transaction (permissions have no foreign key: they are on
// objects of every type).
func deleteWith(tx vwire.Tx, t vwire.ObjectType, id string, del func(string) error) error {
	if err := tx.DeleteObjectPermissions(vwire.ObjectRef{Type: t, ID: id}); err != nil {
		return err
	}
	if t == vwire.ObjNetwork {
		// The network's profiles go with it (ON DELETE CASCADE), and so
		// must the permissions on them.
		ps, err := tx.Profiles(vwire.ProfileFilter{NetworkID: id})
		if err != nil {
			return err
		}
		for _, p := range ps {
			if err := tx.DeleteObjectPermissions(vwire.ObjectRef{Type: vwire.ObjProfile, ID: p.ID}); err != nil {
				return err
			}
		}
	}
	return del(id)
}

// nicNeeds is oVirt's double check of a vNIC change: the owner's network
// permit (CONFIGURE_VM_NETWORK on a VM, CONFIGURE_TEMPLATE_NETWORK on a
// template) and CONFIGURE_VM_NETWORK on the vNIC profile it will use
// (VnicProfileUser carries it), when that profile is set or changes.
func nicNeeds(owner vwire.ObjectType, ownerID, nicID string, profile *string) func(vwire.Tx) ([]need, error) {
	return func(tx vwire.Tx) ([]need, error) {
		ownerPermit := vwire.PermitConfigureVMNetwork
		if owner == vwire.ObjTemplate {
			ownerPermit = vwire.PermitConfigureTemplateNetwork
		}
		needs := []need{on(ownerPermit, owner, ownerID)}
		if profile == nil || *profile == "" {
			return needs, nil
		}
		if nicID != "" {
			var cur *vwire.NIC
			var err error
			if owner == vwire.ObjVM {
				cur, err = tx.NIC(nicID)
			} else {
				cur, err = templateNIC(tx, ownerID, nicID)
			}
			if err == nil && cur.ProfileID == *profile {
				return needs, nil // unchanged: oVirt checks the profile only when it changes
			}
		}
		return append(needs, on(vwire.PermitConfigureVMNetwork, vwire.ObjProfile, *profile)), nil
	}
}

func templateNIC(tx vwire.Tx, templateID, nicID string) (*vwire.NIC, error) {
	nics, err := tx.TemplateNICs(templateID)
	if err != nil {
		return nil, err
	}
	for _, n := range nics {
		if n.ID == nicID {
			return n, nil
		}
	}
	return nil, vwire.NotFound("Nic", nicID)
}
