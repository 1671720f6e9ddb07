package engine

import (
	"context"

	"vwire.dev/vwire"
)

// The engine's queries: every read the REST API serves, in domain terms,
// each in one read transaction (a handler that renders several entities
// gets them from one consistent view). These are the one place where reads
// will be checked against the caller's permissions (issue 13) and where the
// Filter header will apply; nothing outside the engine reads the store.
//
// Filters are typed; a zero field does not filter. A filter naming a parent
// (a data center, a network) reports ENOTFOUND when that parent is missing,
// as oVirt answers for a sub-collection of a missing entity.

// view runs fn in one read transaction.
func (e *Engine) view(ctx context.Context, fn func(vwire.Tx) error) error {
	return e.store.View(ctx, fn)
}

// get reads one entity by id.
func get[T any](ctx context.Context, e *Engine, load func(vwire.Tx, string) (T, error), id string) (T, error) {
	var v T
	err := e.view(ctx, func(tx vwire.Tx) (err error) { v, err = load(tx, id); return })
	return v, err
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

// Summary counts VMs and hosts (in SQL), with the instance id.
func (e *Engine) Summary(ctx context.Context) (*Summary, error) {
	var s Summary
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		if s.InstanceID, err = tx.Meta("instance_id"); err != nil {
			return err
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

// ---- data centers, clusters

// DataCenter reads one data center.
func (e *Engine) DataCenter(ctx context.Context, id string) (*vwire.DataCenter, error) {
	return get(ctx, e, vwire.Tx.DataCenter, id)
}

// DataCenters lists the data centers by name.
func (e *Engine) DataCenters(ctx context.Context) ([]*vwire.DataCenter, error) {
	return all(ctx, e, vwire.Tx.DataCenters)
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
	return get(ctx, e, vwire.Tx.Cluster, id)
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
		}
		cls, err = tx.Clusters(f)
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
	return get(ctx, e, vwire.Tx.Network, id)
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
		}
		nets, err = tx.Networks(f)
		return err
	})
	return nets, err
}

// Profile reads one vNIC profile.
func (e *Engine) Profile(ctx context.Context, id string) (*vwire.VNICProfile, error) {
	return get(ctx, e, vwire.Tx.Profile, id)
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
		}
		ps, err = tx.Profiles(f)
		return err
	})
	return ps, err
}

// MACPool reads one MAC pool.
func (e *Engine) MACPool(ctx context.Context, id string) (*vwire.MACPool, error) {
	return get(ctx, e, vwire.Tx.MACPool, id)
}

// MACPools lists the MAC pools.
func (e *Engine) MACPools(ctx context.Context) ([]*vwire.MACPool, error) {
	return all(ctx, e, vwire.Tx.MACPools)
}

// ---- hosts, VMs, templates

// Hosts lists the hosts the filter selects, by name.
func (e *Engine) Hosts(ctx context.Context, f vwire.HostFilter) ([]*vwire.Host, error) {
	var hs []*vwire.Host
	err := e.view(ctx, func(tx vwire.Tx) (err error) { hs, err = tx.Hosts(f); return })
	return hs, err
}

// VMs lists the VMs the filter selects, by name.
func (e *Engine) VMs(ctx context.Context, f vwire.VMFilter) ([]*vwire.VM, error) {
	var vms []*vwire.VM
	err := e.view(ctx, func(tx vwire.Tx) (err error) { vms, err = tx.VMs(f); return })
	return vms, err
}

// VMList is the VM collection with the name of each cluster, read together.
type VMList struct {
	VMs []*vwire.VM
	// ClusterNames maps a cluster's id to its name.
	ClusterNames map[string]string
}

// VMList lists the VMs the filter selects with the names of the clusters.
func (e *Engine) VMList(ctx context.Context, f vwire.VMFilter) (*VMList, error) {
	l := &VMList{ClusterNames: map[string]string{}}
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		if l.VMs, err = tx.VMs(f); err != nil {
			return err
		}
		cls, err := tx.Clusters(vwire.ClusterFilter{})
		for _, c := range cls {
			l.ClusterNames[c.ID] = c.Name
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Template reads one template.
func (e *Engine) Template(ctx context.Context, id string) (*vwire.Template, error) {
	return get(ctx, e, vwire.Tx.Template, id)
}

// Templates lists the templates.
func (e *Engine) Templates(ctx context.Context) ([]*vwire.Template, error) {
	return all(ctx, e, vwire.Tx.Templates)
}

// ---- events

// Events lists events newest first: ids greater than from (0: all), at
// most max (0: all).
func (e *Engine) Events(ctx context.Context, from int64, max int) ([]*vwire.Event, error) {
	var evs []*vwire.Event
	err := e.view(ctx, func(tx vwire.Tx) (err error) { evs, err = tx.Events(from, max); return })
	return evs, err
}

// Event reads one event.
func (e *Engine) Event(ctx context.Context, id int64) (*vwire.Event, error) {
	var ev *vwire.Event
	err := e.view(ctx, func(tx vwire.Tx) (err error) { ev, err = tx.Event(id); return })
	return ev, err
}

// WatchEvents wakes the receiver whenever events were committed, by any
// engine sharing the database, until ctx ends; the receiver then reads them
// with Events.
func (e *Engine) WatchEvents(ctx context.Context) <-chan struct{} {
	return e.store.SubscribeEvents(ctx)
}
