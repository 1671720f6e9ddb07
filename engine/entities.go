package engine

import (
	"context"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// nameConflict turns a unique violation into oVirt's "name already used".
func nameConflict(op vwire.Op, key vwire.MsgKey, err error) error {
	if vwire.ErrorCode(err) == vwire.ECONFLICT {
		return vwire.Fail(op, key)
	}
	return err
}

func dcVars(dc *vwire.DataCenter) []string {
	return []string{"StoragePoolName", dc.Name, "DataCenterName", dc.Name, "CompatibilityVersion", dc.Version.String()}
}

// ---- data centers

// AddDataCenter creates a data center with its management network.
func (e *Engine) AddDataCenter(ctx context.Context, dc *vwire.DataCenter) error {
	op := vwire.OpAddDC
	if err := e.authorize(ctx, op, onSystem(vwire.PermitCreateStoragePool)); err != nil {
		return err
	}
	if err := vwire.ValidateName(op, dc.Name, 40, false); err != nil {
		return err
	}
	dc.ID = uuid.NewString()
	if dc.Version == (vwire.Version{}) {
		dc.Version = vwire.NewestVersion
	}
	if !vwire.IsSupportedVersion(dc.Version) {
		return unsupportedVersion(op, dc.Version)
	}
	if dc.MACPoolID == "" {
		dc.MACPoolID = vwire.DefaultMACPoolID
	}
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		if _, err := tx.MACPool(dc.MACPoolID); vwire.ErrorCode(err) == vwire.ENOTFOUND {
			return vwire.Fail(op, vwire.MsgMACPoolNotExist)
		}
		if err := tx.CreateDataCenter(dc); err != nil {
			return nameConflict(op, vwire.MsgNameAlreadyUsed, err)
		}
		mgmt := &vwire.Network{ID: uuid.NewString(), Name: vwire.ManagementNetwork, Description: "Management Network", DataCenterID: dc.ID, VMNetwork: true}
		if err := tx.CreateNetwork(mgmt); err != nil {
			return err
		}
		if err := tx.CreateProfile(&vwire.VNICProfile{ID: uuid.NewString(), Name: mgmt.Name, NetworkID: mgmt.ID, NetworkFilter: vwire.DefaultNWFilter,
			Notify: vwire.NotifyNone, BounceHold: vwire.DefaultBounceHold}); err != nil {
			return err
		}
		return newEvent(ctx, evDCAdd, dcVars(dc)...).write(tx)
	})
}

func unsupportedVersion(op vwire.Op, v vwire.Version) error {
	var s []string
	for _, x := range vwire.SupportedVersions {
		s = append(s, x.String())
	}
	return vwire.Fail(op, vwire.MsgUnsupportedVersion, "version", v.String(), "supported", strings.Join(s, ", "))
}

// UpdateDataCenter applies mutate to the stored data center and writes it,
// in one transaction, so that concurrent edits are never lost.
func (e *Engine) UpdateDataCenter(ctx context.Context, id string, mutate func(*vwire.DataCenter) error) (*vwire.DataCenter, error) {
	op := vwire.OpEditDC
	if err := e.authorize(ctx, op, on(vwire.PermitEditStoragePoolConfig, vwire.ObjDataCenter, id)); err != nil {
		return nil, err
	}
	var dc *vwire.DataCenter
	err := e.store.Update(ctx, func(tx vwire.Tx) (err error) {
		if dc, err = tx.DataCenter(id); err != nil {
			return err
		}
		if err := mutate(dc); err != nil {
			return err
		}
		if err := vwire.ValidateName(op, dc.Name, 40, false); err != nil {
			return err
		}
		if !vwire.IsSupportedVersion(dc.Version) {
			return unsupportedVersion(op, dc.Version)
		}
		// As on add: the pool must exist.
		if _, err := tx.MACPool(dc.MACPoolID); vwire.ErrorCode(err) == vwire.ENOTFOUND {
			return vwire.Fail(op, vwire.MsgMACPoolNotExist)
		}
		if err := tx.UpdateDataCenter(dc); err != nil {
			return nameConflict(op, vwire.MsgNameAlreadyUsed, err)
		}
		return newEvent(ctx, evDCUpdate, dcVars(dc)...).write(tx)
	})
	return dc, err
}

// RemoveDataCenter deletes an empty data center (its networks go with it
// when no cluster uses them).
func (e *Engine) RemoveDataCenter(ctx context.Context, id string) error {
	op := vwire.OpRemoveDC
	if err := e.authorize(ctx, op, on(vwire.PermitDeleteStoragePool, vwire.ObjDataCenter, id)); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		dc, err := tx.DataCenter(id)
		if err != nil {
			return err
		}
		clusters, err := tx.Clusters(vwire.ClusterFilter{DataCenterID: id, Max: 1})
		if err != nil {
			return err
		}
		if len(clusters) > 0 {
			return vwire.Fail(op, vwire.MsgDataCenterNotEmpty)
		}
		nets, err := tx.Networks(vwire.NetworkFilter{DataCenterID: id})
		if err != nil {
			return err
		}
		for _, n := range nets {
			if err := deleteWith(tx, vwire.ObjNetwork, n.ID, tx.DeleteNetwork); err != nil {
				return err
			}
		}
		if err := deleteWith(tx, vwire.ObjDataCenter, id, tx.DeleteDataCenter); err != nil {
			return err
		}
		return newEvent(ctx, evDCRemove, dcVars(dc)...).write(tx)
	})
}

// ---- clusters

// AddCluster creates a cluster and attaches its data center's management network.
func (e *Engine) AddCluster(ctx context.Context, c *vwire.Cluster) error {
	op := vwire.OpAddCluster
	if err := e.authorize(ctx, op, on(vwire.PermitCreateCluster, vwire.ObjDataCenter, c.DataCenterID)); err != nil {
		return err
	}
	if err := vwire.ValidateName(op, c.Name, 40, false); err != nil {
		return err
	}
	c.ID = uuid.NewString()
	if c.Version == (vwire.Version{}) {
		c.Version = vwire.NewestVersion
	}
	if !vwire.IsSupportedVersion(c.Version) {
		return unsupportedVersion(op, c.Version)
	}
	if err := checkDriftPolicy(c); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		dc, err := tx.DataCenter(c.DataCenterID)
		if vwire.ErrorCode(err) == vwire.ENOTFOUND {
			return vwire.Fail(op, vwire.MsgDataCenterNotExist)
		} else if err != nil {
			return err
		}
		if c.MACPoolID == "" {
			c.MACPoolID = dc.MACPoolID
		} else if _, err := tx.MACPool(c.MACPoolID); vwire.ErrorCode(err) == vwire.ENOTFOUND {
			return vwire.Fail(op, vwire.MsgMACPoolNotExist)
		}
		if err := tx.CreateCluster(c); err != nil {
			return nameConflict(op, vwire.MsgNameAlreadyUsed, err)
		}
		nets, err := tx.Networks(vwire.NetworkFilter{DataCenterID: dc.ID, Name: vwire.ManagementNetwork})
		if err != nil {
			return err
		}
		for _, n := range nets {
			if err := tx.AttachNetwork(c.ID, n.ID, true); err != nil {
				return err
			}
		}
		return newEvent(ctx, evClusterAdd, "ClusterName", c.Name).write(tx)
	})
}

// UpdateCluster applies mutate to the stored cluster and writes it. Its
// level may only rise.
func (e *Engine) UpdateCluster(ctx context.Context, id string, mutate func(*vwire.Cluster) error) (*vwire.Cluster, error) {
	op := vwire.OpEditCluster
	if err := e.authorize(ctx, op, on(vwire.PermitEditClusterConfiguration, vwire.ObjCluster, id)); err != nil {
		return nil, err
	}
	var c *vwire.Cluster
	err := e.store.Update(ctx, func(tx vwire.Tx) (err error) {
		if c, err = tx.Cluster(id); err != nil {
			return err
		}
		old := *c
		if err := mutate(c); err != nil {
			return err
		}
		if err := vwire.ValidateName(op, c.Name, 40, false); err != nil {
			return err
		}
		if !vwire.IsSupportedVersion(c.Version) {
			return unsupportedVersion(op, c.Version)
		}
		if c.Version.Less(old.Version) {
			return vwire.Fail(op, vwire.MsgClusterCannotDecreaseCompatibilityVersion)
		}
		if err := checkDriftPolicy(c); err != nil {
			return err
		}
		if _, err := tx.MACPool(c.MACPoolID); vwire.ErrorCode(err) == vwire.ENOTFOUND {
			return vwire.Fail(op, vwire.MsgMACPoolNotExist)
		}
		if err := tx.UpdateCluster(c); err != nil {
			return nameConflict(op, vwire.MsgNameAlreadyUsed, err)
		}
		return newEvent(ctx, evClusterUpdate, "ClusterName", c.Name).write(tx)
	})
	return c, err
}

// RemoveCluster deletes a cluster without hosts or VMs.
func (e *Engine) RemoveCluster(ctx context.Context, id string) error {
	op := vwire.OpRemoveCluster
	if err := e.authorize(ctx, op, on(vwire.PermitDeleteCluster, vwire.ObjCluster, id)); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		c, err := tx.Cluster(id)
		if err != nil {
			return err
		}
		hosts, err := tx.Hosts(vwire.HostFilter{ClusterID: id, Max: 1})
		if err != nil {
			return err
		}
		vms, err := tx.VMs(vwire.VMFilter{ClusterID: id, Max: 1})
		if err != nil {
			return err
		}
		if len(hosts) > 0 || len(vms) > 0 {
			return vwire.Fail(op, vwire.MsgClusterNotEmpty)
		}
		if err := deleteWith(tx, vwire.ObjCluster, id, tx.DeleteCluster); err != nil {
			return err
		}
		return newEvent(ctx, evClusterRemove, "ClusterName", c.Name).write(tx)
	})
}

// AttachNetwork attaches a data center network to a cluster; embedded hosts
// of the cluster get its bridge at once.
func (e *Engine) AttachNetwork(ctx context.Context, clusterID, networkID string, required bool) error {
	op := vwire.OpAttachNetwork
	if err := e.authorize(ctx, op, on(vwire.PermitAssignClusterNetwork, vwire.ObjCluster, clusterID)); err != nil {
		return err
	}
	err := e.store.Update(ctx, func(tx vwire.Tx) error {
		c, err := tx.Cluster(clusterID)
		if err != nil {
			return err
		}
		n, err := tx.Network(networkID)
		if err != nil {
			return err
		}
		if n.DataCenterID != c.DataCenterID {
			return vwire.Fail(op, vwire.MsgNetworkNotInDataCenter)
		}
		if err := tx.AttachNetwork(clusterID, networkID, required); err != nil {
			return nameConflict(op, vwire.MsgNetworkAlreadyAttachedToCluster, err)
		}
		return newEvent(ctx, evNetworkAttach, "NetworkName", n.Name, "ClusterName", c.Name).write(tx)
	})
	if err == nil {
		e.refreshClusterHosts(ctx, clusterID)
	}
	return err
}

// DetachNetwork detaches a network from a cluster unless a VM of the cluster uses it.
func (e *Engine) DetachNetwork(ctx context.Context, clusterID, networkID string) error {
	op := vwire.OpDetachNetwork
	if err := e.authorize(ctx, op, on(vwire.PermitAssignClusterNetwork, vwire.ObjCluster, clusterID)); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		c, err := tx.Cluster(clusterID)
		if err != nil {
			return err
		}
		n, err := tx.Network(networkID)
		if err != nil {
			return err
		}
		vms, err := tx.VMs(vwire.VMFilter{ClusterID: clusterID})
		if err != nil {
			return err
		}
		var users []string
		for _, v := range vms {
			nics, err := tx.NICs(v.ID)
			if err != nil {
				return err
			}
			for _, x := range nics {
				if x.NetworkID == networkID {
					users = append(users, v.Name)
					break
				}
			}
		}
		if len(users) > 0 {
			return vwire.Fail(op, vwire.MsgNetworkInUseByVMs, "count", strconv.Itoa(len(users)), "names", strings.Join(users, ", "))
		}
		if err := notOnHosts(tx, op, networkID, clusterID); err != nil {
			return err
		}
		if err := tx.DetachNetwork(clusterID, networkID); err != nil {
			if vwire.ErrorCode(err) == vwire.ENOTFOUND {
				return vwire.Fail(op, vwire.MsgNetworkNotAttachedToCluster)
			}
			return err
		}
		return newEvent(ctx, evNetworkDetach, "NetworkName", n.Name, "ClusterName", c.Name).write(tx)
	})
}

// ---- networks and profiles

// AddNetwork creates a network and its same-named vNIC profile, as oVirt does.
func (e *Engine) AddNetwork(ctx context.Context, n *vwire.Network) error {
	op := vwire.OpAddNetwork
	if err := e.authorize(ctx, op, on(vwire.PermitCreateStoragePoolNetwork, vwire.ObjDataCenter, n.DataCenterID)); err != nil {
		return err
	}
	if err := vwire.ValidateNetwork(op, n); err != nil {
		return err
	}
	n.ID = uuid.NewString()
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		dc, err := tx.DataCenter(n.DataCenterID)
		if vwire.ErrorCode(err) == vwire.ENOTFOUND {
			return vwire.Fail(op, vwire.MsgDataCenterNotExist)
		} else if err != nil {
			return err
		}
		if err := tx.CreateNetwork(n); err != nil {
			return nameConflict(op, vwire.MsgNetworkNameInUse, err)
		}
		if n.VMNetwork {
			if err := tx.CreateProfile(&vwire.VNICProfile{ID: uuid.NewString(), Name: n.Name, NetworkID: n.ID, NetworkFilter: vwire.DefaultNWFilter,
				Notify: vwire.NotifyNone, BounceHold: vwire.DefaultBounceHold}); err != nil {
				return err
			}
		}
		return newEvent(ctx, evNetworkAdd, append(dcVars(dc), "NetworkName", n.Name)...).write(tx)
	})
}

// UpdateNetwork applies mutate to the stored network and writes it. A
// network in use keeps its name, which is the bridge its vNICs sit on.
func (e *Engine) UpdateNetwork(ctx context.Context, id string, mutate func(*vwire.Network) error) (*vwire.Network, error) {
	op := vwire.OpEditNetwork
	if err := e.authorize(ctx, op, on(vwire.PermitConfigureStoragePoolNetwork, vwire.ObjNetwork, id)); err != nil {
		return nil, err
	}
	var n *vwire.Network
	var old vwire.Network
	err := e.store.Update(ctx, func(tx vwire.Tx) (err error) {
		if n, err = tx.Network(id); err != nil {
			return err
		}
		old = *n
		if err := mutate(n); err != nil {
			return err
		}
		if err := vwire.ValidateNetwork(op, n); err != nil {
			return err
		}
		if old.Name != n.Name {
			if old.Name == vwire.ManagementNetwork {
				return vwire.Fail(op, vwire.MsgManagementNetworkCannotBeRemoved, "NetworkName", old.Name)
			}
			users, err := tx.NetworkUsers(id)
			if err != nil {
				return err
			}
			if len(users) > 0 {
				return vwire.Fail(op, vwire.MsgNetworkInUseByVMs, "count", strconv.Itoa(len(users)), "names", strings.Join(users, ", "))
			}
			// The bridges on hosts carry the old name.
			if err := notOnHosts(tx, op, id, ""); err != nil {
				return err
			}
		}
		dc, err := tx.DataCenter(old.DataCenterID)
		if err != nil {
			return err
		}
		n.ID, n.DataCenterID = old.ID, old.DataCenterID
		if err := tx.UpdateNetwork(n); err != nil {
			return nameConflict(op, vwire.MsgNetworkNameInUse, err)
		}
		return newEvent(ctx, evNetworkUpdate, append(dcVars(dc), "NetworkName", n.Name)...).write(tx)
	})
	if err == nil && hostVisibleChange(&old, n) {
		// Every host carrying it re-realises it (engine/hostnet.go), under
		// the same bridge: running vNICs stay connected.
		dctx, cancel := e.detach(ctx)
		defer cancel()
		e.realiseNetwork(dctx, n)
	}
	return n, err
}

// hostVisibleChange tells whether an edit changes what hosts make of a
// network: its VLAN, MTU or overlay segment.
func hostVisibleChange(a, b *vwire.Network) bool {
	vlan := func(n *vwire.Network) int {
		if n.VLAN == nil {
			return 0
		}
		return *n.VLAN
	}
	return vlan(a) != vlan(b) || a.MTU != b.MTU || a.VXLAN != b.VXLAN
}

// RemoveNetwork deletes a network no vNIC uses (its profiles go with it).
func (e *Engine) RemoveNetwork(ctx context.Context, id string) error {
	op := vwire.OpRemoveNetwork
	if err := e.authorize(ctx, op, on(vwire.PermitDeleteStoragePoolNetwork, vwire.ObjNetwork, id)); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		n, err := tx.Network(id)
		if err != nil {
			return err
		}
		if n.Name == vwire.ManagementNetwork {
			return vwire.Fail(op, vwire.MsgManagementNetworkCannotBeRemoved, "NetworkName", n.Name)
		}
		users, err := tx.NetworkUsers(id)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return vwire.Fail(op, vwire.MsgNetworkInUseByVMs, "count", strconv.Itoa(len(users)), "names", strings.Join(users, ", "))
		}
		if err := notOnHosts(tx, op, id, ""); err != nil {
			return err
		}
		dc, err := tx.DataCenter(n.DataCenterID)
		if err != nil {
			return err
		}
		if err := deleteWith(tx, vwire.ObjNetwork, id, tx.DeleteNetwork); err != nil {
			return err
		}
		return newEvent(ctx, evNetworkRemove, append(dcVars(dc), "NetworkName", n.Name)...).write(tx)
	})
}

func profileVars(tx vwire.Tx, p *vwire.VNICProfile) ([]string, error) {
	n, err := tx.Network(p.NetworkID)
	if err != nil {
		return nil, err
	}
	dc, err := tx.DataCenter(n.DataCenterID)
	if err != nil {
		return nil, err
	}
	return []string{"VnicProfileName", p.Name, "NetworkName", n.Name, "DataCenterName", dc.Name}, nil
}

func validateProfile(op vwire.Op, p *vwire.VNICProfile) error {
	if err := vwire.ValidateName(op, p.Name, 50, true); err != nil {
		return err
	}
	if p.Notify == "" {
		p.Notify = vwire.NotifyNone
	}
	if _, ok := vwire.ParseGuestNotify(string(p.Notify)); !ok || p.BounceHold < 0 || p.BounceHold > vwire.MaxBounceHold {
		return vwire.Fail(op, vwire.MsgVNICProfileBadGuestNotification, "max", strconv.FormatInt(vwire.MaxBounceHold.Milliseconds(), 10))
	}
	if _, ok := vwire.NWFilterByName(p.NetworkFilter); p.NetworkFilter != "" && !ok {
		return vwire.Fail(op, vwire.MsgNetworkFilterNotExist)
	}
	return vwire.ValidatePassThrough(op, p)
}

// checkProfileQoS is oVirt's rule for a profile's QoS: it exists
// (networkQosExistsOrNull) and belongs to the data center of the
// profile's network.
func checkProfileQoS(op vwire.Op, tx vwire.Tx, p *vwire.VNICProfile) error {
	if p.QoSID == "" {
		return nil
	}
	q, err := tx.QoS(p.QoSID)
	if vwire.ErrorCode(err) == vwire.ENOTFOUND {
		return vwire.Fail(op, vwire.MsgNetworkQoSNotExists)
	} else if err != nil {
		return err
	}
	n, err := tx.Network(p.NetworkID)
	if err != nil {
		return err
	}
	if q.DataCenterID != n.DataCenterID {
		return vwire.Fail(op, vwire.MsgNetworkQoSInvalidDCID)
	}
	return nil
}

// profileUsed refuses a change a profile may not take while vNICs use it
// (oVirt's passthroughNotChangedIfUsedByVms).
func profileUsed(op vwire.Op, tx vwire.Tx, id string) error {
	users, err := tx.ProfileUsers(id)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return vwire.Fail(op, vwire.MsgVNICProfileInUse, "count", strconv.Itoa(len(users)), "names", strings.Join(users, ", "))
	}
	return nil
}

// AddProfile creates a vNIC profile on a network.
func (e *Engine) AddProfile(ctx context.Context, p *vwire.VNICProfile) error {
	op := vwire.OpAddProfile
	if err := e.authorize(ctx, op, on(vwire.PermitCreateVNICProfile, vwire.ObjNetwork, p.NetworkID)); err != nil {
		return err
	}
	if err := validateProfile(op, p); err != nil {
		return err
	}
	p.ID = uuid.NewString()
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		vars, err := profileVars(tx, p)
		if vwire.ErrorCode(err) == vwire.ENOTFOUND {
			return vwire.Fail(op, vwire.MsgNetworkNotExists)
		} else if err != nil {
			return err
		}
		if err := checkProfileQoS(op, tx, p); err != nil {
			return err
		}
		if err := tx.CreateProfile(p); err != nil {
			return nameConflict(op, vwire.MsgVNICProfileNameInUse, err)
		}
		return newEvent(ctx, evProfileAdd, vars...).write(tx)
	})
}

// UpdateProfile applies mutate to the stored profile and writes it. A
// change of what running vNICs must have (QoS, port mirroring, network
// filter) reaches them after the commit; pass-through, which makes the
// vNIC another kind of device, cannot change while vNICs use the profile.
func (e *Engine) UpdateProfile(ctx context.Context, id string, mutate func(*vwire.VNICProfile) error) (*vwire.VNICProfile, error) {
	op := vwire.OpEditProfile
	if err := e.authorize(ctx, op, on(vwire.PermitConfigureVNICProfile, vwire.ObjProfile, id)); err != nil {
		return nil, err
	}
	var p *vwire.VNICProfile
	var live bool
	err := e.store.Update(ctx, func(tx vwire.Tx) (err error) {
		if p, err = tx.Profile(id); err != nil {
			return err
		}
		old := *p
		if err := mutate(p); err != nil {
			return err
		}
		if err := validateProfile(op, p); err != nil {
			return err
		}
		p.ID, p.NetworkID = id, old.NetworkID
		vars, err := profileVars(tx, p)
		if err != nil {
			return err
		}
		if p.PassThrough != old.PassThrough {
			if err := profileUsed(op, tx, id); err != nil {
				return err
			}
		}
		if err := checkProfileQoS(op, tx, p); err != nil {
			return err
		}
		if err := tx.UpdateProfile(p); err != nil {
			return nameConflict(op, vwire.MsgVNICProfileNameInUse, err)
		}
		live = p.QoSID != old.QoSID || p.PortMirroring != old.PortMirroring || p.NetworkFilter != old.NetworkFilter
		return newEvent(ctx, evProfileUpdate, vars...).write(tx)
	})
	if err != nil {
		return nil, err
	}
	if live {
		e.fanOut(ctx, op, []string{id})
	}
	return p, nil
}

// RemoveProfile deletes a profile no vNIC uses.
func (e *Engine) RemoveProfile(ctx context.Context, id string) error {
	op := vwire.OpRemoveProfile
	if err := e.authorize(ctx, op, on(vwire.PermitDeleteVNICProfile, vwire.ObjProfile, id)); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		p, err := tx.Profile(id)
		if err != nil {
			return err
		}
		users, err := tx.ProfileUsers(id)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return vwire.Fail(op, vwire.MsgVNICProfileInUse, "count", strconv.Itoa(len(users)), "names", strings.Join(users, ", "))
		}
		vars, err := profileVars(tx, p)
		if err != nil {
			return err
		}
		if err := deleteWith(tx, vwire.ObjProfile, id, tx.DeleteProfile); err != nil {
			return err
		}
		return newEvent(ctx, evProfileRemove, vars...).write(tx)
	})
}

// ---- MAC pools

func validatePool(op vwire.Op, p *vwire.MACPool) error {
	if err := vwire.ValidateName(op, p.Name, 40, true); err != nil {
		return err
	}
	return vwire.ValidateMACRanges(op, p.Ranges)
}

// AddMACPool creates a MAC pool.
func (e *Engine) AddMACPool(ctx context.Context, p *vwire.MACPool) error {
	op := vwire.OpAddMACPool
	if err := e.authorize(ctx, op, onSystem(vwire.PermitCreateMACPool)); err != nil {
		return err
	}
	if len(p.Ranges) == 0 {
		return vwire.Incomplete("MacPool", []string{"ranges"}, "add")
	}
	if err := validatePool(op, p); err != nil {
		return err
	}
	p.ID, p.DefaultPool = uuid.NewString(), false
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		if err := tx.CreateMACPool(p); err != nil {
			return nameConflict(op, vwire.MsgNameAlreadyUsed, err)
		}
		return newEvent(ctx, evMACPoolAdd, "MacPoolName", p.Name, "MacPoolId", p.ID).write(tx)
	})
}

// UpdateMACPool applies mutate to the stored pool and writes it. Forbidding
// duplicates again is refused: leases of a pool with duplicates cannot be
// proven unique.
func (e *Engine) UpdateMACPool(ctx context.Context, id string, mutate func(*vwire.MACPool) error) (*vwire.MACPool, error) {
	op := vwire.OpEditMACPool
	if err := e.authorize(ctx, op, onSystem(vwire.PermitEditMACPool)); err != nil {
		return nil, err
	}
	var p *vwire.MACPool
	err := e.store.Update(ctx, func(tx vwire.Tx) (err error) {
		if p, err = tx.MACPool(id); err != nil {
			return err
		}
		old := *p
		if err := mutate(p); err != nil {
			return err
		}
		if len(p.Ranges) == 0 {
			return vwire.Incomplete("MacPool", []string{"ranges"}, "update")
		}
		if err := validatePool(op, p); err != nil {
			return err
		}
		if old.AllowDuplicates && !p.AllowDuplicates {
			return vwire.Fail(op, vwire.MsgMACPoolHasDuplicates, "macs", "(disallowing duplicates again is not supported)")
		}
		p.ID, p.DefaultPool = old.ID, old.DefaultPool
		if err := tx.UpdateMACPool(p); err != nil {
			return nameConflict(op, vwire.MsgNameAlreadyUsed, err)
		}
		return newEvent(ctx, evMACPoolUpdate, "MacPoolName", p.Name, "MacPoolId", p.ID).write(tx)
	})
	return p, err
}

// RemoveMACPool deletes a pool no cluster or data center uses.
func (e *Engine) RemoveMACPool(ctx context.Context, id string) error {
	op := vwire.OpRemoveMACPool
	if err := e.authorize(ctx, op, onSystem(vwire.PermitDeleteMACPool)); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		p, err := tx.MACPool(id)
		if err != nil {
			return err
		}
		if p.DefaultPool {
			return vwire.Fail(op, vwire.MsgDefaultMACPoolCannotBeRemoved)
		}
		clusters, err := tx.Clusters(vwire.ClusterFilter{MACPoolID: id})
		if err != nil {
			return err
		}
		var users []string
		for _, c := range clusters {
			users = append(users, c.Name)
		}
		if len(users) > 0 {
			return vwire.Fail(op, vwire.MsgMACPoolInUse, "names", strings.Join(users, ", "))
		}
		if err := tx.DeleteMACPool(id); err != nil {
			return err
		}
		return newEvent(ctx, evMACPoolRemove, "MacPoolName", p.Name, "MacPoolId", p.ID).write(tx)
	})
}
