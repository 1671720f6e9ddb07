package engine

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// The engine's queries: every read the REST API serves, in domain terms,
// each in one read transaction (a handler that renders several entities
// gets them from one consistent view). Each keeps only what the caller may
// see (engine/authz.go scope: the administrator's view, or the objects the
// user has a permission on, always so with Filter: true); an entity it may
// not see is missing. Nothing outside the engine reads the store.
//
// Filters are typed; a zero field does not filter. A filter naming a parent
// (a data center, a network) reports ENOTFOUND when that parent is missing,
// as oVirt answers for a sub-collection of a missing entity.

// view runs fn in one read transaction.
func (e *Engine) view(ctx context.Context, fn func(vwire.Tx) error) error {
	return e.store.View(ctx, fn)
}

// get reads one entity by id, if the caller may see it (scope): an
// entity it may not see is missing, as oVirt answers.
func get[T any](ctx context.Context, e *Engine, t vwire.ObjectType, kind string, load func(vwire.Tx, string) (T, error), id string) (T, error) {
	var v T
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		if v, err = load(tx, id); err != nil {
			return err
		}
		s, err := scopeOf(ctx, tx)
		if err != nil {
			return err
		}
		return s.mustSee(t, kind, id)
	})
	return v, err
}

// seen keeps, in the same transaction, the listed entities the caller may see.
func seen[T any](ctx context.Context, tx vwire.Tx, t vwire.ObjectType, items []T, err error, id func(T) string) ([]T, error) {
	if err != nil {
		return nil, err
	}
	s, err := scopeOf(ctx, tx)
	if err != nil {
		return nil, err
	}
	return visible(s, t, items, id)
}

// seeParent is a sub-collection's check: its parent must be visible.
func seeParent(ctx context.Context, tx vwire.Tx, t vwire.ObjectType, kind, id string) error {
	s, err := scopeOf(ctx, tx)
	if err != nil {
		return err
	}
	return s.mustSee(t, kind, id)
}

// searched lists what a filter with a client's search selects, as the
// caller may see it. For a caller who sees everything the store applies
// the whole search, max and page included; for another, the store applies
// the condition and the order, the caller's view is kept, and the page is
// cut from that (a page of what the caller may see, not of the table).
func searched[T any](ctx context.Context, tx vwire.Tx, t vwire.ObjectType, c vwire.SearchCollection, s *vwire.Search, max *int,
	id func(T) string, load func() ([]T, error)) ([]T, error) {
	if err := s.Check(c, *max); err != nil {
		return nil, err
	}
	sc, err := scopeOf(ctx, tx)
	if err != nil {
		return nil, err
	}
	if sc.admin() {
		return load()
	}
	page, size := s.Page, *max
	s.Page, *max = 0, 0
	defer func() { s.Page, *max = page, size }()
	items, err := load()
	if err != nil {
		return nil, err
	}
	if items, err = visible(sc, t, items, id); err != nil {
		return nil, err
	}
	if page > 1 {
		skip := min((page-1)*size, len(items))
		items = items[skip:]
	}
	if size > 0 && len(items) > size {
		items = items[:size]
	}
	return items, nil
}

// all reads a whole collection.
func all[T any](ctx context.Context, e *Engine, load func(vwire.Tx) ([]T, error)) ([]T, error) {
	var vs []T
	err := e.view(ctx, func(tx vwire.Tx) (err error) { vs, err = load(tx); return })
	return vs, err
}

// Summary is what the API root reports.
type Summary struct {
	InstanceID         string
	VMs, ActiveVMs     int
	Hosts, ActiveHosts int
}

// Summary counts VMs and hosts (in SQL), with the instance id; a user
// without the administrator's view counts what it sees.
func (e *Engine) Summary(ctx context.Context) (*Summary, error) {
	var s Summary
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		if s.InstanceID, err = tx.Meta("instance_id"); err != nil {
			return err
		}
		sc, err := scopeOf(ctx, tx)
		if err != nil {
			return err
		}
		if !sc.admin() {
			return userSummary(ctx, tx, &s)
		}
		if s.VMs, err = tx.CountVMs(""); err != nil {
			return err
		}
		if s.ActiveVMs, err = tx.CountVMs(vwire.VMUp); err != nil {
			return err
		}
		if s.Hosts, err = tx.CountHosts(""); err != nil {
			return err
		}
		s.ActiveHosts, err = tx.CountHosts(vwire.HostUp)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &s, nil
}

func userSummary(ctx context.Context, tx vwire.Tx, s *Summary) error {
	vms, err := tx.VMs(vwire.VMFilter{})
	if vms, err = seen(ctx, tx, vwire.ObjVM, vms, err, vmID); err != nil {
		return err
	}
	hosts, err := tx.Hosts(vwire.HostFilter{})
	if hosts, err = seen(ctx, tx, vwire.ObjHost, hosts, err, hostID); err != nil {
		return err
	}
	s.VMs, s.Hosts = len(vms), len(hosts)
	for _, v := range vms {
		if v.Status == vwire.VMUp {
			s.ActiveVMs++
		}
	}
	for _, h := range hosts {
		if h.Status == vwire.HostUp {
			s.ActiveHosts++
		}
	}
	return nil
}

func vmID(v *vwire.VM) string                     { return v.ID }
func hostID(h *vwire.Host) string                 { return h.ID }
func dcID(d *vwire.DataCenter) string             { return d.ID }
func clusterID(c *vwire.Cluster) string           { return c.ID }
func networkID(n *vwire.Network) string           { return n.ID }
func profileID(p *vwire.VNICProfile) string       { return p.ID }
func templateID(t *vwire.Template) string         { return t.ID }
func clusterNetID(n *vwire.ClusterNetwork) string { return n.ID }

// ---- data centers, clusters

// DataCenter reads one data center.
func (e *Engine) DataCenter(ctx context.Context, id string) (*vwire.DataCenter, error) {
	return get(ctx, e, vwire.ObjDataCenter, "DataCenter", vwire.Tx.DataCenter, id)
}

// DataCenters lists the data centers by name.
func (e *Engine) DataCenters(ctx context.Context) ([]*vwire.DataCenter, error) {
	return e.FindDataCenters(ctx, vwire.DataCenterFilter{})
}

// FindDataCenters lists the data centers the filter selects, by name or
// as its search sorts them.
func (e *Engine) FindDataCenters(ctx context.Context, f vwire.DataCenterFilter) ([]*vwire.DataCenter, error) {
	var out []*vwire.DataCenter
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		out, err = searched(ctx, tx, vwire.ObjDataCenter, vwire.SearchDataCenters, &f.Search, &f.Max, dcID,
			func() ([]*vwire.DataCenter, error) { return tx.DataCenters(f) })
		return err
	})
	return out, err
}

// DataCenterNames maps each data center's id to its name.
func (e *Engine) DataCenterNames(ctx context.Context) (map[string]string, error) {
	dcs, err := e.DataCenters(ctx)
	names := map[string]string{}
	for _, d := range dcs {
		names[d.ID] = d.Name
	}
	return names, err
}

// Cluster reads one cluster.
func (e *Engine) Cluster(ctx context.Context, id string) (*vwire.Cluster, error) {
	return get(ctx, e, vwire.ObjCluster, "Cluster", vwire.Tx.Cluster, id)
}

// Clusters lists the clusters the filter selects, by name; a data center
// it names must exist.
func (e *Engine) Clusters(ctx context.Context, f vwire.ClusterFilter) ([]*vwire.Cluster, error) {
	var cls []*vwire.Cluster
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		if f.DataCenterID != "" {
			if _, err := tx.DataCenter(f.DataCenterID); err != nil {
				return err
			}
			if err := seeParent(ctx, tx, vwire.ObjDataCenter, "DataCenter", f.DataCenterID); err != nil {
				return err
			}
		}
		cls, err = searched(ctx, tx, vwire.ObjCluster, vwire.SearchClusters, &f.Search, &f.Max, clusterID,
			func() ([]*vwire.Cluster, error) { return tx.Clusters(f) })
		return err
	})
	return cls, err
}

// ClusterNetworks lists the networks attached to a cluster (which must exist).
func (e *Engine) ClusterNetworks(ctx context.Context, clusterID string) ([]*vwire.ClusterNetwork, error) {
	var nets []*vwire.ClusterNetwork
	err := e.view(ctx, func(tx vwire.Tx) error {
		if _, err := tx.Cluster(clusterID); err != nil {
			return err
		}
		if err := seeParent(ctx, tx, vwire.ObjCluster, "Cluster", clusterID); err != nil {
			return err
		}
		var err error
		nets, err = tx.ClusterNetworks(clusterID)
		return err
	})
	return nets, err
}

// ClusterNetwork reads one network attached to a cluster (which must exist).
func (e *Engine) ClusterNetwork(ctx context.Context, clusterID, networkID string) (*vwire.ClusterNetwork, error) {
	nets, err := e.ClusterNetworks(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	for _, cn := range nets {
		if cn.ID == networkID {
			return cn, nil
		}
	}
	return nil, vwire.NotFound("Network", networkID)
}

// NetworkToAttach finds the network a client names to attach to a cluster
// (which must exist): by id, or by name within the cluster's data center;
// given both, they must agree.
func (e *Engine) NetworkToAttach(ctx context.Context, clusterID, id, name string) (*vwire.Network, error) {
	var found *vwire.Network
	err := e.view(ctx, func(tx vwire.Tx) error {
		c, err := tx.Cluster(clusterID)
		if err != nil {
			return err
		}
		if id != "" {
			found, err = tx.Network(id)
			if vwire.ErrorCode(err) == vwire.ENOTFOUND {
				found, err = nil, nil
			}
			return err
		}
		nets, err := tx.Networks(vwire.NetworkFilter{DataCenterID: c.DataCenterID, Name: name, Max: 1})
		if len(nets) > 0 {
			found = nets[0]
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		key := id
		if key == "" {
			key = name
		}
		return nil, vwire.New(vwire.MsgNetworkNotFound, "network", key)
	}
	if id != "" && name != "" && found.Name != name {
		return nil, vwire.New(vwire.MsgNetworkIDNameMismatch, "id", id, "name", name)
	}
	return found, nil
}

// ---- networks, profiles, MAC pools

// Network reads one network.
func (e *Engine) Network(ctx context.Context, id string) (*vwire.Network, error) {
	return get(ctx, e, vwire.ObjNetwork, "Network", vwire.Tx.Network, id)
}

// Networks lists the networks the filter selects, by name; a data center
// it names must exist.
func (e *Engine) Networks(ctx context.Context, f vwire.NetworkFilter) ([]*vwire.Network, error) {
	var nets []*vwire.Network
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		if f.DataCenterID != "" {
			if _, err := tx.DataCenter(f.DataCenterID); err != nil {
				return err
			}
			if err := seeParent(ctx, tx, vwire.ObjDataCenter, "DataCenter", f.DataCenterID); err != nil {
				return err
			}
		}
		nets, err = searched(ctx, tx, vwire.ObjNetwork, vwire.SearchNetworks, &f.Search, &f.Max, networkID,
			func() ([]*vwire.Network, error) { return tx.Networks(f) })
		return err
	})
	return nets, err
}

// Profile reads one vNIC profile.
func (e *Engine) Profile(ctx context.Context, id string) (*vwire.VNICProfile, error) {
	return get(ctx, e, vwire.ObjProfile, "VnicProfile", vwire.Tx.Profile, id)
}

// Profiles lists the vNIC profiles the filter selects; a network it names
// must exist.
func (e *Engine) Profiles(ctx context.Context, f vwire.ProfileFilter) ([]*vwire.VNICProfile, error) {
	var ps []*vwire.VNICProfile
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		if f.NetworkID != "" {
			if _, err := tx.Network(f.NetworkID); err != nil {
				return err
			}
			if err := seeParent(ctx, tx, vwire.ObjNetwork, "Network", f.NetworkID); err != nil {
				return err
			}
		}
		ps, err = searched(ctx, tx, vwire.ObjProfile, vwire.SearchProfiles, &f.Search, &f.Max, profileID,
			func() ([]*vwire.VNICProfile, error) { return tx.Profiles(f) })
		return err
	})
	return ps, err
}

// seesMACPools: MAC pools are the system's, shown to administrators of
// anything (a data center or cluster administrator picks one for a new
// cluster), never to a user-level view.
func seesMACPools(ctx context.Context, tx vwire.Tx) (bool, error) {
	s, err := scopeOf(ctx, tx)
	if err != nil || s.admin() {
		return s != nil && s.admin(), err
	}
	if filterOf(ctx) {
		return false, nil
	}
	p, _ := PrincipalOf(ctx)
	perms, err := tx.Permissions(vwire.PermissionFilter{UserID: p.UserID})
	if err != nil {
		return false, err
	}
	for _, pm := range perms {
		r, err := tx.Role(pm.RoleID)
		if err != nil {
			return false, err
		}
		if r.Administrative {
			return true, nil
		}
	}
	return false, nil
}

// MACPool reads one MAC pool (see seesMACPools).
func (e *Engine) MACPool(ctx context.Context, id string) (*vwire.MACPool, error) {
	var p *vwire.MACPool
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		if p, err = tx.MACPool(id); err != nil {
			return err
		}
		if ok, err := seesMACPools(ctx, tx); err != nil || !ok {
			return firstErr(err, vwire.NotFound("MacPool", id))
		}
		return nil
	})
	return p, err
}

// MACPools lists the MAC pools (see seesMACPools).
func (e *Engine) MACPools(ctx context.Context) ([]*vwire.MACPool, error) {
	var ps []*vwire.MACPool
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		if ok, err := seesMACPools(ctx, tx); err != nil || !ok {
			return err
		}
		ps, err = tx.MACPools()
		return err
	})
	return ps, err
}

// ---- hosts, VMs, templates

// Hosts lists the hosts the filter selects, by name.
func (e *Engine) Hosts(ctx context.Context, f vwire.HostFilter) ([]*vwire.Host, error) {
	var hs []*vwire.Host
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		hs, err = searched(ctx, tx, vwire.ObjHost, vwire.SearchHosts, &f.Search, &f.Max, hostID,
			func() ([]*vwire.Host, error) { return tx.Hosts(f) })
		return err
	})
	return hs, err
}

// VMs lists the VMs the filter selects, by name.
func (e *Engine) VMs(ctx context.Context, f vwire.VMFilter) ([]*vwire.VM, error) {
	var vms []*vwire.VM
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		vms, err = searched(ctx, tx, vwire.ObjVM, vwire.SearchVMs, &f.Search, &f.Max, vmID,
			func() ([]*vwire.VM, error) { return tx.VMs(f) })
		return err
	})
	return vms, err
}

// VMList is the VM collection with the name of each cluster, read together.
type VMList struct {
	VMs []*vwire.VM
	// ClusterNames maps a cluster's id to its name.
	ClusterNames map[string]string
	// With WithNICs: HostNames maps a host's id to its name, and NICs
	// counts each VM's vNICs and those not synced (absent: none).
	HostNames map[string]string
	NICs      map[string]vwire.NICCount
}

// VMListOptions ask VMList for more than the VMs and their clusters.
type VMListOptions struct {
	// WithNICs also reads the hosts' names and the vNIC counts (one
	// query each, whatever the number of VMs): the console's VM list.
	WithNICs bool
}

// VMList lists the VMs the filter selects with the names of the clusters.
func (e *Engine) VMList(ctx context.Context, f vwire.VMFilter, o ...VMListOptions) (*VMList, error) {
	l := &VMList{ClusterNames: map[string]string{}}
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		if l.VMs, err = searched(ctx, tx, vwire.ObjVM, vwire.SearchVMs, &f.Search, &f.Max, vmID,
			func() ([]*vwire.VM, error) { return tx.VMs(f) }); err != nil {
			return err
		}
		cls, err := tx.Clusters(vwire.ClusterFilter{})
		if err != nil {
			return err
		}
		for _, c := range cls {
			l.ClusterNames[c.ID] = c.Name
		}
		if len(o) == 0 || !o[0].WithNICs {
			return nil
		}
		// Names of hosts the caller cannot see are no secret worth more
		// than the VM it sees running there.
		hs, err := tx.Hosts(vwire.HostFilter{})
		if err != nil {
			return err
		}
		l.HostNames = make(map[string]string, len(hs))
		for _, h := range hs {
			l.HostNames[h.ID] = h.Name
		}
		l.NICs, err = tx.NICCounts()
		return err
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Template reads one template.
func (e *Engine) Template(ctx context.Context, id string) (*vwire.Template, error) {
	return get(ctx, e, vwire.ObjTemplate, "Template", vwire.Tx.Template, id)
}

// Templates lists the templates.
func (e *Engine) Templates(ctx context.Context) ([]*vwire.Template, error) {
	return e.FindTemplates(ctx, vwire.TemplateFilter{})
}

// FindTemplates lists the templates the filter selects, by name or as its
// search sorts them.
func (e *Engine) FindTemplates(ctx context.Context, f vwire.TemplateFilter) ([]*vwire.Template, error) {
	var out []*vwire.Template
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		out, err = searched(ctx, tx, vwire.ObjTemplate, vwire.SearchTemplates, &f.Search, &f.Max, templateID,
			func() ([]*vwire.Template, error) { return tx.Templates(f) })
		return err
	})
	return out, err
}

// ---- events

// Events lists events newest first: ids greater than from (0: all), at
// most max (0: all).
func (e *Engine) Events(ctx context.Context, from int64, max int) ([]*vwire.Event, error) {
	return e.FindEvents(ctx, vwire.EventFilter{From: from, Max: max})
}

// FindEvents lists the events a filter selects, newest first unless its
// search sorts them. The store applies the search; for a caller who sees
// everything, its max and page too.
func (e *Engine) FindEvents(ctx context.Context, f vwire.EventFilter) ([]*vwire.Event, error) {
	if err := f.Search.Check(vwire.SearchEvents, f.Max); err != nil {
		return nil, err
	}
	var evs []*vwire.Event
	err := e.view(ctx, func(tx vwire.Tx) error {
		evs = nil
		s, err := scopeOf(ctx, tx)
		if err != nil {
			return err
		}
		if s.admin() {
			evs, err = tx.FindEvents(f)
			return err
		}
		// A user sees some events only: max and page apply to those, so
		// the log is read back batch by batch (newest first) until the
		// page is found; a sorted search reads every match once.
		self := userOf(ctx)
		skip, want := 0, 0
		if f.Max > 0 {
			if f.Search.Page > 1 {
				skip = (f.Search.Page - 1) * f.Max
			}
			want = skip + f.Max
		}
		q := f
		q.Search.Page, q.Max = 0, 0
		if want > 0 && f.Search.SortBy == "" {
			q.Max = max(200, 2*want)
		}
		defer func() {
			evs = evs[min(skip, len(evs)):]
			if f.Max > 0 && len(evs) > f.Max {
				evs = evs[:f.Max]
			}
		}()
		for {
			batch, err := tx.FindEvents(q)
			if err != nil {
				return err
			}
			for _, ev := range batch {
				if ok, err := s.seesEvent(ev, self); err != nil {
					return err
				} else if ok {
					evs = append(evs, ev)
					if want > 0 && len(evs) == want {
						return nil
					}
				}
			}
			if q.Max == 0 || len(batch) < q.Max {
				return nil
			}
			q.Before = batch[len(batch)-1].ID
		}
	})
	return evs, err
}

// VisibleEvents tells which of evs the caller may see: nil when it sees
// them all (the engine, an administrator), else the ids it may. The event
// stream reads once for every subscriber and filters per subscriber here.
func (e *Engine) VisibleEvents(ctx context.Context, evs []*vwire.Event) (map[int64]bool, error) {
	var keep map[int64]bool
	err := e.view(ctx, func(tx vwire.Tx) error {
		s, err := scopeOf(ctx, tx)
		if err != nil || s.admin() {
			return err
		}
		keep = map[int64]bool{}
		self := userOf(ctx)
		for _, ev := range evs {
			ok, err := s.seesEvent(ev, self)
			if err != nil {
				return err
			}
			keep[ev.ID] = ok
		}
		return nil
	})
	return keep, err
}

// Event reads one event.
func (e *Engine) Event(ctx context.Context, id int64) (*vwire.Event, error) {
	var ev *vwire.Event
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		if ev, err = tx.Event(id); err != nil {
			return err
		}
		s, err := scopeOf(ctx, tx)
		if err != nil {
			return err
		}
		if ok, err := s.seesEvent(ev, userOf(ctx)); err != nil || !ok {
			return firstErr(err, vwire.NotFound("Event", strconv.FormatInt(id, 10)))
		}
		return nil
	})
	return ev, err
}

// WatchEvents wakes the receiver whenever events were committed, by any
// engine sharing the database, until ctx ends; the receiver then reads them
// with Events.
func (e *Engine) WatchEvents(ctx context.Context) <-chan struct{} {
	return e.store.SubscribeEvents(ctx)
}

// HostNICs lists a host's NICs and bonds as it last reported them.
func (e *Engine) HostNICs(ctx context.Context, hostID string) ([]vwire.HostNICReport, error) {
	var r *vwire.HostReport
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		if err := seeParent(ctx, tx, vwire.ObjHost, "Host", hostID); err != nil {
			return err
		}
		if _, err := tx.Host(hostID); err != nil {
			return err
		}
		r, err = tx.HostReport(hostID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return r.NICs, nil
}

// ReportedConfig is one property of an attachment, as wanted and as the
// host has it (oVirt's reported_configuration).
type ReportedConfig struct {
	Name             string
	Expected, Actual string
	InSync           bool
}

// AttachmentView is a network attachment with its network's name and
// whether the host has it as defined.
type AttachmentView struct {
	vwire.NetworkAttachment
	NetworkName string
	InSync      bool
	Reported    []ReportedConfig
}

// Difference says in words what differs ("" when in sync).
func (v *AttachmentView) Difference() string {
	var d []string
	for _, r := range v.Reported {
		if !r.InSync {
			d = append(d, r.Name+" is "+orNone(r.Actual)+", expected "+orNone(r.Expected))
		}
	}
	return strings.Join(d, "; ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// NetworkAttachments lists a host's network attachments with their sync state.
func (e *Engine) NetworkAttachments(ctx context.Context, hostID string) ([]*AttachmentView, error) {
	var out []*AttachmentView
	err := e.view(ctx, func(tx vwire.Tx) error {
		if err := seeParent(ctx, tx, vwire.ObjHost, "Host", hostID); err != nil {
			return err
		}
		hn, err := loadHostNet(tx, hostID)
		if err != nil {
			return err
		}
		for _, a := range hn.attach {
			out = append(out, hn.view(a))
		}
		return nil
	})
	slices.SortFunc(out, func(a, b *AttachmentView) int { return strings.Compare(a.NetworkName, b.NetworkName) })
	return out, err
}

// NetworkAttachment reads one attachment of a host.
func (e *Engine) NetworkAttachment(ctx context.Context, hostID, id string) (*AttachmentView, error) {
	l, err := e.NetworkAttachments(ctx, hostID)
	if err != nil {
		return nil, err
	}
	for _, v := range l {
		if v.ID == id {
			return v, nil
		}
	}
	return nil, vwire.NotFound("NetworkAttachment", id)
}

// view compares an attachment's desired state with the host's report.
func (hn *hostNet) view(a *vwire.NetworkAttachment) *AttachmentView {
	n := hn.nets[a.NetworkID]
	v := &AttachmentView{NetworkAttachment: *a, NetworkName: n.Name, InSync: true}
	want := hn.desired(n, a)
	got, present := hn.report.Network(n.Name)
	add := func(name, expected, actual string) {
		r := ReportedConfig{Name: name, Expected: expected, Actual: actual, InSync: expected == actual}
		v.InSync = v.InSync && r.InSync
		v.Reported = append(v.Reported, r)
	}
	if !present {
		add("present", "true", "false")
		return v
	}
	// MTU 0 is the default: 1500, or for an overlay its underlay's MTU
	// less VXLAN's 50 bytes of headers (as the host realises it).
	def := 1500
	if want.VXLAN != nil {
		if nic, ok := hn.report.NIC(a.NIC); ok && nic.MTU > 0 {
			def = nic.MTU
		}
		def -= 50
	}
	add("mtu", strconv.Itoa(mtuOr(want.MTU, def)), strconv.Itoa(mtuOr(got.MTU, def)))
	add("host_nic", want.NIC, got.NIC)
	add("vlan", intOrEmpty(want.VLAN), intOrEmpty(got.VLAN))
	var wantVNI int
	var wantLocal string
	var wantRemotes []string
	if want.VXLAN != nil {
		wantVNI, wantLocal, wantRemotes = want.VXLAN.VNI, want.VXLAN.Local, want.VXLAN.Remotes
	}
	add("vxlan_segment", intOrEmpty(wantVNI), intOrEmpty(got.VNI))
	if wantVNI != 0 || got.VNI != 0 {
		add("vxlan_local", wantLocal, addrOnly(got.Local))
		add("vxlan_remotes", strings.Join(wantRemotes, ","), strings.Join(sortedCopy(got.Remotes), ","))
	}
	return v
}

func mtuOr(m, def int) int {
	if m == 0 {
		return def
	}
	return m
}

func intOrEmpty(i int) string {
	if i == 0 {
		return ""
	}
	return strconv.Itoa(i)
}

// HostNICID is a host NIC's id: stable, derived from its host and name, as
// hosts report NICs by name and oVirt's API names them by id.
func HostNICID(hostID, name string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("vwire:host-nic:"+hostID+"/"+name)).String()
}
