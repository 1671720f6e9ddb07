package engine

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// maxPCIDevices is oVirt's default osinfo limit; a VM also has one monitor
// and the balloon on the PCI bus (reference §2.6).
const maxPCIDevices = 26

// vmCtx is what the vNIC rules read about a VM.
type vmCtx struct {
	vm      *vwire.VM
	cluster *vwire.Cluster
	nics    []*vwire.NIC
	// host is the host the VM runs on, nil when it does not run.
	host *vwire.Host
	// pool and nets are read on first use (see macPool, clusterNetwork): a
	// link change needs neither.
	pool *vwire.MACPool
	nets map[string]*vwire.ClusterNetwork
	// pending is a change in flight left by an operation that died.
	pending *vwire.Pending
	// dirty: a host change could not be reverted after the database
	// refused to record it; the change stays in flight, to be settled.
	dirty bool
}

// macPool is the MAC pool of the VM's cluster.
func (c *vmCtx) macPool(tx vwire.Tx) (*vwire.MACPool, error) {
	if c.pool == nil {
		p, err := tx.MACPool(c.cluster.MACPoolID)
		if err != nil {
			return nil, err
		}
		c.pool = p
	}
	return c.pool, nil
}

// leaseMAC leases mac (or the pool's next) to the VM's vNIC nicID.
func (c *vmCtx) leaseMAC(tx vwire.Tx, op vwire.Op, mac, nicID string) (string, error) {
	pool, err := c.macPool(tx)
	if err != nil {
		return "", err
	}
	return leaseMAC(tx, op, pool, mac, nicID)
}

// clusterNetwork finds a network attached to the VM's cluster.
func (c *vmCtx) clusterNetwork(tx vwire.Tx, id string) (*vwire.ClusterNetwork, bool, error) {
	if c.nets == nil {
		cns, err := tx.ClusterNetworks(c.cluster.ID)
		if err != nil {
			return nil, false, err
		}
		c.nets = make(map[string]*vwire.ClusterNetwork, len(cns))
		for _, cn := range cns {
			c.nets[cn.ID] = cn
		}
	}
	cn, ok := c.nets[id]
	return cn, ok, nil
}

func (c *vmCtx) running() bool { return c.vm.Status == vwire.VMUp && c.host != nil }

func (c *vmCtx) nic(id string) *vwire.NIC {
	for _, n := range c.nics {
		if n.ID == id {
			return n
		}
	}
	return nil
}

func loadVM(tx vwire.Tx, vmID string) (*vmCtx, error) {
	c := &vmCtx{}
	var err error
	if c.vm, c.cluster, c.host, c.pending, err = tx.VMContext(vmID); err != nil {
		return nil, err
	}
	if c.nics, err = tx.NICs(vmID); err != nil {
		return nil, err
	}
	return c, nil
}

// errUnsettled abandons a transaction that found a change in flight.
var errUnsettled = errors.New("a change is in flight on the VM")

// settled runs fn, which loads the VM's context into *c, in a write
// transaction, so that the rules are checked against the state the change
// commits on. fn returns early (nil) when the context shows a change in
// flight that a dead operation left: then the transaction is abandoned, the
// change repaired, and fn runs again. The caller holds the VM's lock.
func (e *Engine) settled(ctx context.Context, c **vmCtx, fn func(tx vwire.Tx) error) error {
	for attempt := 0; ; attempt++ {
		// Provisional: a change marked in flight needs no sync of its own
		// (vwire.Provisional); an outcome recorded here is synced.
		err := e.store.Update(vwire.Provisional(ctx), func(tx vwire.Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			if *c != nil && (*c).pending != nil {
				return errUnsettled
			}
			return nil
		})
		if !errors.Is(err, errUnsettled) {
			return err
		}
		if attempt > 0 {
			return vwire.New(vwire.MsgChangeNotRepaired)
		}
		if _, err := e.settleLocked(ctx, *(*c).pending); err != nil {
			return unsettledError(err)
		}
	}
}

// editable: oVirt lets vNICs change only when the VM is Up, Down or ImageLocked.
func editable(s vwire.VMStatus) bool {
	return s == vwire.VMUp || s == vwire.VMDown || s == vwire.VMImageLocked
}

// resolveProfile checks rules #11/#11b (profile exists, its network is in the
// VM's cluster) and fills the vNIC's profile and network fields.
func resolveProfile(tx vwire.Tx, op vwire.Op, c *vmCtx, n *vwire.NIC) error {
	n.ProfileName, n.NetworkID, n.NetworkName, n.PortMirroring, n.Notify, n.BounceHold = "", "", "", false, "", 0
	n.QoS, n.Filter = vwire.Bandwidth{}, ""
	if n.ProfileID == "" {
		return nil
	}
	p, err := tx.Profile(n.ProfileID)
	if vwire.ErrorCode(err) == vwire.ENOTFOUND {
		return vwire.Fail(op, vwire.MsgVNICProfileNotExists)
	} else if err != nil {
		return err
	}
	cn, ok, err := c.clusterNetwork(tx, p.NetworkID)
	if err != nil {
		return err
	}
	if !ok {
		return vwire.Fail(op, vwire.MsgNetworkNotExistsInCurrentCluster)
	}
	// oVirt's rule: a pass-through profile is for PCI pass-through vNICs
	// only, and they for it.
	if p.PassThrough != (n.Interface == vwire.IfacePCIPassthrough) {
		return vwire.Fail(op, vwire.MsgVMInterfaceTypeNotMatchProfile)
	}
	n.ProfileName, n.NetworkID, n.NetworkName, n.PortMirroring = p.Name, cn.ID, cn.Name, p.PortMirroring
	n.Notify, n.BounceHold = p.Notify, p.BounceHold
	n.Filter = p.NetworkFilter
	if p.QoSID != "" {
		q, err := tx.QoS(p.QoSID)
		if err != nil {
			return err
		}
		n.QoS = q.Bandwidth()
	}
	return nil
}

// checkPlug applies the rules of plugging into a running VM (reference §2.4).
func checkPlug(op vwire.Op, c *vmCtx, n *vwire.NIC) error {
	if !c.cluster.Version.SupportsHotPlug() {
		return vwire.Fail(op, vwire.MsgHotPlugIsNotSupported)
	}
	if n.NetworkName != "" && !c.host.HasNetwork(n.NetworkName) {
		return vwire.Fail(op, vwire.MsgActivateDeactivateNetworkNotInVDS)
	}
	return nil
}

// checkMACFree refuses a MAC another vNIC holds, naming its VM.
func checkMACFree(tx vwire.MACPoolTx, op vwire.Op, pool *vwire.MACPool, mac string) error {
	if pool.AllowDuplicates || mac == "" {
		return nil
	}
	m, _ := vwire.ParseMAC(mac)
	holder, err := tx.MACHolder(pool.ID, m)
	if err != nil {
		return err
	}
	if holder != "" {
		return vwire.Fail(op, vwire.MsgNetworkMACAddressInUse, "MacAddress", mac, "VmName", holder)
	}
	return nil
}

// leaseMAC leases mac (or, when empty, the pool's next free MAC) to the vNIC.
func leaseMAC(tx vwire.MACPoolTx, op vwire.Op, pool *vwire.MACPool, mac, nicID string) (string, error) {
	if mac == "" {
		m, err := tx.AllocateMAC(pool, nicID)
		if err != nil {
			return "", poolExhausted(op, err)
		}
		return m.String(), nil
	}
	if err := checkMACFree(tx, op, pool, mac); err != nil {
		return "", err
	}
	m, _ := vwire.ParseMAC(mac)
	err := tx.LeaseMAC(pool, m, nicID)
	if vwire.ErrorCode(err) == vwire.ECONFLICT {
		// Lost a race with another request for the same MAC.
		return "", vwire.Fail(op, vwire.MsgNetworkMACAddressInUse, "MacAddress", mac, "VmName", "another VM")
	}
	return mac, err
}

// poolExhausted gives the store's "no free MAC" oVirt's message for op.
func poolExhausted(op vwire.Op, err error) error {
	if errors.Is(err, vwire.ErrPoolExhausted) {
		return vwire.Fail(op, vwire.MsgMACPoolNotEnoughMACAddresses).Wrap(err)
	}
	return err
}

func releaseMAC(tx vwire.MACPoolTx, poolID, mac, nicID string) error {
	m, ok := vwire.ParseMAC(mac)
	if !ok {
		return nil
	}
	return tx.ReleaseMAC(poolID, m, nicID)
}

// device is the vNIC as the host agent takes it.
func device(n *vwire.NIC) HostDevice {
	return HostDevice{ID: n.ID, Alias: n.Alias(), MAC: n.MAC,
		Model: n.Interface.Model(), Network: n.NetworkName, LinkActive: n.Linked,
		Mirroring: n.Mirrors(), QoS: n.QoS, Filter: n.Filter, FilterParams: n.FilterParams}
}

// updateParams asks the host to put a plugged vNIC's device in the state n
// describes (the whole device, so the host need not read it first).
func updateParams(n *vwire.NIC) DeviceUpdate {
	return DeviceUpdate{Alias: n.Alias(), Network: n.NetworkName, LinkActive: n.Linked,
		MAC: n.MAC, Model: n.Interface.Model(),
		Mirroring: n.Mirrors(), QoS: n.QoS, Filter: n.Filter, FilterParams: n.FilterParams}
}

func (e *Engine) observed(s HostNIC) *vwire.NICObserved {
	return &vwire.NICObserved{Present: true, Alias: s.Alias, PCIAddress: s.Address, Bridge: s.Network, MAC: s.MAC,
		Model: s.Model, LinkUp: s.LinkActive, Mirroring: s.Mirroring, QoS: s.QoS, Filter: s.Filter,
		FilterParams: s.FilterParams, At: e.now()}
}

// NICSpec is a vNIC to add. An empty ProfileID is the empty network, as
// oVirt v4 reads a nic without vnic_profile.
type NICSpec struct {
	Name      string
	MAC       string
	Interface vwire.NICInterface
	ProfileID string
	Linked    *bool
	Plugged   *bool
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// AddNIC adds a vNIC to a VM; a plugged vNIC of a running VM is hot-plugged.
func (e *Engine) AddNIC(ctx context.Context, vmID string, s NICSpec) (*vwire.NIC, error) {
	op := vwire.OpAddNic
	if err := e.authorizeWith(ctx, op, nicNeeds(vwire.ObjVM, vmID, "", &s.ProfileID)); err != nil {
		return nil, err
	}
	if err := vwire.ValidateNICName(op, s.Name); err != nil {
		return nil, err
	}
	mac, err := vwire.ValidateMAC(op, s.MAC, true)
	if err != nil {
		return nil, err
	}
	if s.Interface == "" {
		s.Interface = vwire.IfaceVirtio
	}
	n := &vwire.NIC{ID: uuid.NewString(), VMID: vmID, Name: s.Name, MAC: mac, Interface: s.Interface, ProfileID: s.ProfileID,
		Linked: boolOr(s.Linked, true), Plugged: boolOr(s.Plugged, true), Synced: true}

	unlock, err := e.store.LockVM(ctx, vmID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ctx = vwire.VMScoped(ctx) // the VM is locked: its writes may run READ COMMITTED
	ctx, cancel := e.detach(ctx)
	defer cancel()
	// One transaction checks the rules and either adds the vNIC (nothing to
	// do on a host) or reserves its MAC and marks the hot plug in flight.
	var c *vmCtx
	var f inFlight
	var pl hostPlan
	err = e.settled(ctx, &c, func(tx vwire.Tx) (err error) {
		if c, err = loadVM(tx, vmID); err != nil || c.pending != nil {
			return err
		}
		if !editable(c.vm.Status) {
			return vwire.Fail(op, vwire.MsgNetworkCannotAddInterfaceWhenVMStatusNotUpDownLocked)
		}
		for _, o := range c.nics {
			if o.Name == n.Name {
				return vwire.Fail(op, vwire.MsgNetworkInterfaceNameAlreadyInUse)
			}
		}
		if len(c.nics)+1+2 > maxPCIDevices {
			return vwire.Fail(op, vwire.MsgExceededMaxPCISlots)
		}
		if err := vwire.ValidateNICInterface(op, n.Interface); err != nil {
			return err
		}
		if err := resolveProfile(tx, op, c, n); err != nil {
			return err
		}
		if err := vwire.ValidateLinking(op, n, c.cluster.Version); err != nil {
			return err
		}
		// A MAC asked for is refused if taken before the plug rules; the
		// pool's next MAC is taken after every rule passed, as oVirt
		// allocates it when the command runs.
		if mac != "" {
			if _, err := c.leaseMAC(tx, op, mac, n.ID); err != nil {
				return err
			}
		}
		if c.running() && n.Plugged {
			if err := checkPlug(op, c, n); err != nil {
				return err
			}
		}
		if mac == "" {
			if n.MAC, err = c.leaseMAC(tx, op, "", n.ID); err != nil {
				return err
			}
		}
		// The vNIC is complete: plan what its host must do.
		if pl = planNIC(nil, n, c.running()); pl.action == vwire.ActionPlug {
			in := newIntent(ctx, kindNIC, op)
			in.Action, in.Add, in.New = vwire.ActionPlug, true, n
			f, err = e.markInFlight(tx, vmID, c.vm.Name, n.ID, in)
			return err
		}
		if err := tx.CreateNIC(n); err != nil {
			return err
		}
		if err := tx.BumpVMGeneration(vmID); err != nil {
			return err
		}
		return newEvent(ctx, evNicAdd).vm(c.vm).nic(n).write(tx)
	})
	if err != nil {
		return nil, e.macPoolEvent(ctx, err)
	}
	if pl.action == vwire.ActionNone {
		return n, nil
	}

	// Hot plug, then record.
	release := func(tx vwire.Tx) error { return releaseMAC(tx, c.cluster.MACPoolID, n.MAC, n.ID) }
	return e.applyNIC(ctx, c, f, pl, n, release, func(tx vwire.Tx) error {
		if err := tx.CreateNIC(n); err != nil {
			return err
		}
		if err := tx.SetNICObserved(n.ID, n.Observed, n.Synced); err != nil {
			return err
		}
		if err := tx.BumpVMGeneration(vmID); err != nil {
			return err
		}
		if err := e.endChange(tx, vmID, vwire.JobFinished); err != nil {
			return err
		}
		return newEvent(ctx, evNicAdd).vm(c.vm).nic(n).write(tx)
	})
}

// macPoolEvent writes oVirt's MAC_POOL_EMPTY warning when an allocation failed
// for lack of addresses, and passes err on.
func (e *Engine) macPoolEvent(ctx context.Context, err error) error {
	if errors.Is(err, vwire.ErrPoolExhausted) {
		e.writeEvent(ctx, newEvent(ctx, evMACPoolEmpty))
	}
	return err
}

// UpdateNIC changes a vNIC: the decision table picks one host action.
func (e *Engine) UpdateNIC(ctx context.Context, vmID, nicID string, p vwire.NICPatch) (*vwire.NIC, error) {
	return e.updateNIC(ctx, vwire.OpEditNic, vmID, nicID, p)
}

// ActivateNIC plugs a vNIC (oVirt's deprecated activate action, an update).
func (e *Engine) ActivateNIC(ctx context.Context, vmID, nicID string) (*vwire.NIC, error) {
	t := true
	return e.updateNIC(ctx, vwire.OpActivateNic, vmID, nicID, vwire.NICPatch{Plugged: &t})
}

// DeactivateNIC unplugs a vNIC.
func (e *Engine) DeactivateNIC(ctx context.Context, vmID, nicID string) (*vwire.NIC, error) {
	f := false
	return e.updateNIC(ctx, vwire.OpDeactivateNic, vmID, nicID, vwire.NICPatch{Plugged: &f})
}

func (e *Engine) updateNIC(ctx context.Context, op vwire.Op, vmID, nicID string, p vwire.NICPatch) (*vwire.NIC, error) {
	if err := e.authorizeWith(ctx, op, nicNeeds(vwire.ObjVM, vmID, nicID, p.ProfileID)); err != nil {
		return nil, err
	}
	if p.Name != nil {
		if err := vwire.ValidateNICName(op, *p.Name); err != nil {
			return nil, err
		}
	}
	if p.MAC != nil {
		mac, err := vwire.ValidateMAC(op, *p.MAC, false)
		if err != nil {
			return nil, err
		}
		p.MAC = &mac
	}

	unlock, err := e.store.LockVM(ctx, vmID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ctx = vwire.VMScoped(ctx) // the VM is locked: its writes may run READ COMMITTED
	ctx, cancel := e.detach(ctx)
	defer cancel()
	var c *vmCtx
	var f inFlight
	var old *vwire.NIC
	var n vwire.NIC
	var pl hostPlan
	var macChanged bool

	// record writes the new desired state (with what the host reported, or,
	// with no host action, the observed state read in the same
	// transaction), swaps the MAC lease and logs.
	record := func(tx vwire.Tx, ev *event) error {
		if macChanged {
			if err := releaseMAC(tx, c.cluster.MACPoolID, old.MAC, old.ID); err != nil {
				return err
			}
		}
		if err := tx.UpdateNIC(&n); err != nil {
			return err
		}
		if err := tx.BumpVMGeneration(vmID); err != nil {
			return err
		}
		if err := e.endChange(tx, vmID, vwire.JobFinished); err != nil {
			return err
		}
		return ev.write(tx)
	}
	successEvent := func() *event { return nicSuccessEvent(ctx, pl.action, c.vm, old, &n) }

	// One transaction checks the rules and either records the change
	// (nothing to do on a host) or swaps the MAC lease and marks the host
	// change in flight.
	err = e.settled(ctx, &c, func(tx vwire.Tx) (err error) {
		if c, err = loadVM(tx, vmID); err != nil || c.pending != nil {
			return err
		}
		if !editable(c.vm.Status) {
			return vwire.Fail(op, vwire.MsgNetworkCannotAddInterfaceWhenVMStatusNotUpDownLocked)
		}
		if old = c.nic(nicID); old == nil {
			return vwire.NotFound("Nic", nicID)
		}
		n = p.Apply(*old)
		if err := checkUpdate(tx, op, c, old, &n); err != nil {
			return err
		}
		if macChanged = n.MAC != old.MAC; macChanged {
			if _, err := c.leaseMAC(tx, op, n.MAC, n.ID); err != nil {
				return err
			}
		}
		if pl = planNIC(old, &n, c.running()); pl.action == vwire.ActionNone {
			n.Synced = vwire.ComputeSynced(&n, c.running())
			return record(tx, successEvent())
		}
		in := newIntent(ctx, kindNIC, op)
		in.Action, in.Old, in.New = pl.action, old, &n
		f, err = e.markInFlight(tx, vmID, c.vm.Name, n.ID, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	if pl.action == vwire.ActionNone {
		return &n, nil
	}
	release := func(tx vwire.Tx) error {
		if macChanged {
			return releaseMAC(tx, c.cluster.MACPoolID, n.MAC, n.ID)
		}
		return nil
	}
	return e.applyNIC(ctx, c, f, pl, &n, release, func(tx vwire.Tx) error { return record(tx, successEvent()) })
}

// checkUpdate applies the rules of changing vNIC old into n, in oVirt's
// order, and resolves n's profile when it changed.
func checkUpdate(tx vwire.Tx, op vwire.Op, c *vmCtx, old, n *vwire.NIC) error {
	if n.Name != old.Name {
		for _, o := range c.nics {
			if o.Name == n.Name {
				return vwire.Fail(op, vwire.MsgNetworkInterfaceNameAlreadyInUse)
			}
		}
	}
	running := c.running()
	if err := vwire.ValidateHotUpdate(op, old, n, running); err != nil {
		return err
	}
	if n.Interface != old.Interface {
		if err := vwire.ValidateNICInterface(op, n.Interface); err != nil {
			return err
		}
	}
	// The rules ask the action before the profile is resolved; it is
	// the plan's (planNIC), which the profile does not change.
	action := vwire.RequiredAction(old, n, running)
	if action == vwire.ActionUpdate && !c.cluster.Version.SupportsNetworkLinking() {
		return vwire.Fail(op, vwire.MsgHotVMInterfaceUpdateIsNotSupported, "clusterVersion", c.cluster.Version.String())
	}
	if n.ProfileID != old.ProfileID {
		if err := resolveProfile(tx, op, c, n); err != nil {
			return err
		}
	}
	if action == vwire.ActionUpdate && (old.Mirrors() || n.Mirrors()) && !c.cluster.Version.SupportsLivePortMirroring() {
		return vwire.Fail(op, vwire.MsgCannotPerformHotUpdateWithPortMirroring)
	}
	if err := vwire.ValidateLinking(op, n, c.cluster.Version); err != nil {
		return err
	}
	switch action {
	case vwire.ActionUpdate:
		if n.NetworkName != "" && !c.host.HasNetwork(n.NetworkName) {
			return vwire.Fail(op, vwire.MsgActivateDeactivateNetworkNotInVDS)
		}
	case vwire.ActionPlug:
		if err := checkPlug(op, c, n); err != nil {
			return err
		}
	case vwire.ActionUnplug:
		if !c.cluster.Version.SupportsHotPlug() {
			return vwire.Fail(op, vwire.MsgHotPlugIsNotSupported)
		}
	}
	return nil
}

// RemoveNIC removes a vNIC; a plugged vNIC of a running VM must be unplugged first.
func (e *Engine) RemoveNIC(ctx context.Context, vmID, nicID string) error {
	op := vwire.OpRemoveNic
	if err := e.authorize(ctx, op, on(vwire.PermitConfigureVMNetwork, vwire.ObjVM, vmID)); err != nil {
		return err
	}
	unlock, err := e.store.LockVM(ctx, vmID)
	if err != nil {
		return err
	}
	defer unlock()
	ctx = vwire.VMScoped(ctx) // the VM is locked: its writes may run READ COMMITTED
	if err := e.settle(ctx, vmID); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		c, err := loadVM(tx, vmID)
		if err != nil {
			return err
		}
		n := c.nic(nicID)
		if n == nil {
			return vwire.NotFound("Nic", nicID)
		}
		if c.vm.Status != vwire.VMDown && c.vm.Status != vwire.VMImageLocked && n.Plugged {
			return vwire.Fail(op, vwire.MsgCannotRemoveActiveDevice)
		}
		if err := tx.DeleteNIC(n.ID); err != nil {
			return err
		}
		if err := tx.BumpVMGeneration(vmID); err != nil {
			return err
		}
		if err := releaseMAC(tx, c.cluster.MACPoolID, n.MAC, n.ID); err != nil {
			return err
		}
		return newEvent(ctx, evNicRemove).vm(c.vm).nic(n).write(tx)
	})
}

// NICs lists a VM's vNICs.
func (e *Engine) NICs(ctx context.Context, vmID string) ([]*vwire.NIC, error) {
	var out []*vwire.NIC
	err := e.store.View(ctx, func(tx vwire.Tx) error {
		if _, err := tx.VM(vmID); err != nil {
			return err
		}
		if err := seeParent(ctx, tx, vwire.ObjVM, "VM", vmID); err != nil {
			return err
		}
		var err error
		out, err = tx.NICs(vmID)
		return err
	})
	return out, err
}

// NIC reads one vNIC of a VM.
func (e *Engine) NIC(ctx context.Context, vmID, nicID string) (*vwire.NIC, error) {
	var n *vwire.NIC
	err := e.store.View(ctx, func(tx vwire.Tx) (err error) {
		n, err = tx.NIC(nicID)
		if err == nil && n.VMID != vmID {
			err = vwire.NotFound("Nic", nicID)
		}
		return firstErr(err, seeParent(ctx, tx, vwire.ObjVM, "VM", vmID))
	})
	return n, err
}
