package engine

import (
	"context"
	"errors"
	"time"

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
	pool *vwire.MacPool
	nets map[string]*vwire.ClusterNetwork
	// pending is a change in flight left by an operation that died.
	pending *vwire.Pending
	// dirty: a host change could not be reverted after the database
	// refused to record it; the change stays in flight, to be settled.
	dirty bool
}

// macPool is the MAC pool of the VM's cluster.
func (c *vmCtx) macPool(tx vwire.Tx) (*vwire.MacPool, error) {
	if c.pool == nil {
		p, err := tx.MacPool(c.cluster.MacPoolID)
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
	vm, err := tx.VM(vmID)
	if err != nil {
		return nil, err
	}
	c := &vmCtx{vm: vm}
	if c.cluster, err = tx.Cluster(vm.ClusterID); err != nil {
		return nil, err
	}
	if c.nics, err = tx.NICs(vmID); err != nil {
		return nil, err
	}
	if vm.HostID != "" {
		if c.host, err = tx.Host(vm.HostID); err != nil {
			return nil, err
		}
	}
	c.pending, err = tx.PendingOf(vmID)
	return c, err
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
		err := e.store.Update(ctx, func(tx vwire.Tx) error {
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
	n.ProfileName, n.NetworkID, n.NetworkName, n.PortMirroring = p.Name, cn.ID, cn.Name, p.PortMirroring
	n.Notify, n.BounceHold = p.Notify, p.BounceHold
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
func checkMACFree(tx vwire.Tx, op vwire.Op, pool *vwire.MacPool, mac string) error {
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
func leaseMAC(tx vwire.Tx, op vwire.Op, pool *vwire.MacPool, mac, nicID string) (string, error) {
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

func releaseMAC(tx vwire.Tx, poolID, mac, nicID string) error {
	m, ok := vwire.ParseMAC(mac)
	if !ok {
		return nil
	}
	return tx.ReleaseMAC(poolID, m, nicID)
}

// device is the vNIC as the host agent takes it.
func device(n *vwire.NIC) HostDevice {
	return HostDevice{ID: n.ID, Alias: n.Alias(), MAC: n.MAC,
		Model: n.Interface.Model(), Network: n.NetworkName, LinkActive: n.Linked}
}

// updateParams asks the host to put a plugged vNIC's device in the state n
// describes (the whole device, so the host need not read it first).
func updateParams(n *vwire.NIC) DeviceUpdate {
	return DeviceUpdate{Alias: n.Alias(), Network: n.NetworkName, LinkActive: n.Linked,
		MAC: n.MAC, Model: n.Interface.Model()}
}

func (e *Engine) observed(s HostNIC) *vwire.NICObserved {
	return &vwire.NICObserved{Present: true, Alias: s.Alias, PCIAddress: s.Address, Bridge: s.Network, MAC: s.MAC,
		Model: s.Model, LinkUp: s.LinkActive, At: e.now()}
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
	ctx, cancel := e.detach(ctx)
	defer cancel()
	// One transaction checks the rules and either adds the vNIC (nothing to
	// do on a host) or reserves its MAC and marks the hot plug in flight.
	var c *vmCtx
	var f inFlight
	plug := false
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
		if plug = c.running() && n.Plugged; plug {
			if err := checkPlug(op, c, n); err != nil {
				return err
			}
		}
		if mac == "" {
			if n.MAC, err = c.leaseMAC(tx, op, "", n.ID); err != nil {
				return err
			}
		}
		if plug {
			in := newIntent(ctx, kindNIC, op)
			in.Action, in.Add, in.New = vwire.ActionPlug, true, n
			f, err = e.markInFlight(tx, vmID, n.ID, in)
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
	if !plug {
		return n, nil
	}

	// Hot plug, then record.
	var u undo
	defer u.run()
	u.add(func() {
		if !c.dirty {
			e.abort(ctx, vmID, func(tx vwire.Tx) error { return releaseMAC(tx, c.cluster.MacPoolID, n.MAC, n.ID) }, nil)
		}
	})
	hctx, hcancel := e.hostCtx(ctx, f, 0)
	st, err := e.client(c.host).HotplugNIC(hctx, vmID, device(n))
	hcancel()
	if isUnknown(err) {
		u.success() // the reservation stays with the change until it is settled
		if applied, err := e.unknownOutcome(ctx, f, c.host, "Failed to activate VM Network Interface.", err); !applied {
			return nil, err
		}
		return e.NIC(ctx, vmID, n.ID)
	}
	if err != nil {
		u.success()
		e.abort(ctx, vmID, func(tx vwire.Tx) error { return releaseMAC(tx, c.cluster.MacPoolID, n.MAC, n.ID) }, newEvent(ctx, evNicAddFailed).vm(c.vm).nic(n))
		return nil, hostError("Failed to activate VM Network Interface.", c.host, err)
	}
	u.add(func() {
		e.revertHost(ctx, c, "unplug", func(ctx context.Context, h HostClient) error { return h.HotunplugNIC(ctx, vmID, device(n)) })
	})
	n.Observed = e.observed(st)
	n.Synced = vwire.ComputeSynced(n, true)
	err = e.store.Update(ctx, func(tx vwire.Tx) error {
		if err := tx.CreateNIC(n); err != nil {
			return err
		}
		if err := tx.SetNICObserved(n.ID, n.Observed, n.Synced); err != nil {
			return err
		}
		if err := tx.BumpVMGeneration(vmID); err != nil {
			return err
		}
		if err := tx.ClearPending(vmID); err != nil {
			return err
		}
		return newEvent(ctx, evNicAdd).vm(c.vm).nic(n).write(tx)
	})
	if err != nil {
		return nil, err
	}
	u.success()
	return n, nil
}

// abort ends a change whose host call failed or was reverted: in one
// transaction it undoes the reservations (fn), clears the change in flight
// and writes the failure event (if any). Failing that, the poller's repair
// of stale changes finishes the job.
func (e *Engine) abort(ctx context.Context, vmID string, fn func(tx vwire.Tx) error, ev *event) {
	ctx, cancel := e.background(ctx)
	defer cancel()
	err := e.store.Update(ctx, func(tx vwire.Tx) error {
		if fn != nil {
			if err := fn(tx); err != nil {
				return err
			}
		}
		if err := tx.ClearPending(vmID); err != nil {
			return err
		}
		if ev != nil {
			return ev.write(tx)
		}
		return nil
	})
	if err != nil {
		e.log.Error("cannot record the end of a failed change; the poller settles it once it is older than any operation", "vm", vmID, "err", err)
	}
}

// macPoolEvent writes oVirt's MAC_POOL_EMPTY warning when an allocation failed
// for lack of addresses, and passes err on.
func (e *Engine) macPoolEvent(ctx context.Context, err error) error {
	if errors.Is(err, vwire.ErrPoolExhausted) {
		e.writeEvent(ctx, newEvent(ctx, evMacPoolEmpty))
	}
	return err
}

// revertHost undoes a host change after the database refused to record it.
// A revert that fails leaves the host changed: the change then stays in
// flight with its reservations (c.dirty), marked unknown, and is settled
// from the host (recorded, since the host has it) instead of aborted.
func (e *Engine) revertHost(ctx context.Context, c *vmCtx, what string, fn func(context.Context, HostClient) error) {
	ctx, cancel := e.background(ctx)
	defer cancel()
	if err := fn(ctx, e.client(c.host)); err != nil {
		e.log.Error("cannot revert a host change the database refused; it stays in flight to be settled",
			"vm", c.vm.ID, "host", c.host.Name, "revert", what, "err", err)
		c.dirty = true
		e.markUnknown(ctx, c.vm.ID, err)
	}
}

// markUnknown marks a VM's change in flight unknown, for the next operation
// or the poller to settle. Failing that (the database is what failed), the
// poller settles it once its record is older than any operation's budget.
func (e *Engine) markUnknown(ctx context.Context, vmID string, cause error) {
	ctx, cancel := e.background(ctx)
	defer cancel()
	if err := e.store.Update(ctx, func(tx vwire.Tx) error { return tx.MarkPendingUnknown(vmID) }); err != nil {
		e.log.Error("cannot mark a change in flight unknown", "vm", vmID, "cause", cause, "err", err)
	}
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
	ctx, cancel := e.detach(ctx)
	defer cancel()
	var c *vmCtx
	var f inFlight
	var old *vwire.NIC
	var n vwire.NIC
	var action vwire.HostAction
	var macChanged bool

	// record writes the new desired state (with what the host reported, or,
	// with no host action, the observed state read in the same
	// transaction), swaps the MAC lease and logs.
	record := func(tx vwire.Tx, ev *event) error {
		if macChanged {
			if err := releaseMAC(tx, c.cluster.MacPoolID, old.MAC, old.ID); err != nil {
				return err
			}
		}
		if err := tx.UpdateNIC(&n); err != nil {
			return err
		}
		if err := tx.BumpVMGeneration(vmID); err != nil {
			return err
		}
		if err := tx.ClearPending(vmID); err != nil {
			return err
		}
		return ev.write(tx)
	}
	successEvent := func() *event { return nicSuccessEvent(ctx, action, c.vm, old, &n) }

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
		if n.Name != old.Name {
			for _, o := range c.nics {
				if o.Name == n.Name {
					return vwire.Fail(op, vwire.MsgNetworkInterfaceNameAlreadyInUse)
				}
			}
		}
		running := c.running()
		if err := vwire.ValidateHotUpdate(op, old, &n, running); err != nil {
			return err
		}
		if n.Interface != old.Interface {
			if err := vwire.ValidateNICInterface(op, n.Interface); err != nil {
				return err
			}
		}
		action = vwire.RequiredAction(old, &n, running)
		if action == vwire.ActionUpdate && !c.cluster.Version.SupportsNetworkLinking() {
			return vwire.Fail(op, vwire.MsgHotVMInterfaceUpdateIsNotSupported, "clusterVersion", c.cluster.Version.String())
		}
		if n.ProfileID != old.ProfileID {
			if err := resolveProfile(tx, op, c, &n); err != nil {
				return err
			}
		}
		if action == vwire.ActionUpdate && (old.PortMirroring || n.PortMirroring) {
			return vwire.Fail(op, vwire.MsgCannotPerformHotUpdateWithPortMirroring)
		}
		if err := vwire.ValidateLinking(op, &n, c.cluster.Version); err != nil {
			return err
		}
		switch action {
		case vwire.ActionUpdate:
			if n.NetworkName != "" && !c.host.HasNetwork(n.NetworkName) {
				return vwire.Fail(op, vwire.MsgActivateDeactivateNetworkNotInVDS)
			}
		case vwire.ActionPlug:
			if err := checkPlug(op, c, &n); err != nil {
				return err
			}
		case vwire.ActionUnplug:
			if !c.cluster.Version.SupportsHotPlug() {
				return vwire.Fail(op, vwire.MsgHotPlugIsNotSupported)
			}
		}
		if macChanged = n.MAC != old.MAC; macChanged {
			if _, err := c.leaseMAC(tx, op, n.MAC, n.ID); err != nil {
				return err
			}
		}
		if action == vwire.ActionNone {
			n.Synced = vwire.ComputeSynced(&n, c.running())
			return record(tx, successEvent())
		}
		in := newIntent(ctx, kindNIC, op)
		in.Action, in.Old, in.New = action, old, &n
		f, err = e.markInFlight(tx, vmID, n.ID, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	if action == vwire.ActionNone {
		return &n, nil
	}

	var u undo
	defer u.run()
	release := func(tx vwire.Tx) error {
		if macChanged {
			return releaseMAC(tx, c.cluster.MacPoolID, n.MAC, n.ID)
		}
		return nil
	}
	u.add(func() {
		if !c.dirty {
			e.abort(ctx, vmID, release, nil)
		}
	})

	h := e.client(c.host)
	var failEvent auditType
	var generic string
	var hold time.Duration
	var call func(hctx context.Context) error
	switch action {
	case vwire.ActionPlug:
		call = func(hctx context.Context) error {
			st, err := h.HotplugNIC(hctx, vmID, device(&n))
			if err == nil {
				n.Observed = e.observed(st)
				u.add(func() {
					e.revertHost(ctx, c, "unplug", func(ctx context.Context, h HostClient) error { return h.HotunplugNIC(ctx, vmID, device(&n)) })
				})
			}
			return err
		}
		failEvent, generic = evNicPlugFailed, "Failed to activate VM Network Interface."
	case vwire.ActionUnplug:
		// Unplug carries the old values (bz#904840): the host knows the old MAC.
		call = func(hctx context.Context) error {
			err := h.HotunplugNIC(hctx, vmID, device(old))
			if err == nil {
				n.Observed = &vwire.NICObserved{Present: false, At: e.now()}
				u.add(func() {
					e.revertHost(ctx, c, "plug", func(ctx context.Context, h HostClient) error {
						_, err := h.HotplugNIC(ctx, vmID, device(old))
						return err
					})
				})
			}
			return err
		}
		failEvent, generic = evNicUnplugFailed, "Failed to deactivate VM Network Interface."
	case vwire.ActionUpdate:
		p := updateParams(&n)
		// The new profile says how the guest learns of a move to another network.
		if n.NetworkID != old.NetworkID && n.NetworkName != "" && n.Linked {
			p.Notify, p.BounceHold = n.Notify, n.BounceHold
			if n.Notify == vwire.NotifyLinkBounce {
				hold = n.BounceHold
			}
		}
		call = func(hctx context.Context) error {
			st, err := h.UpdateNIC(hctx, vmID, p)
			if err == nil {
				n.Observed = e.observed(st)
				u.add(func() {
					e.revertHost(ctx, c, "update", func(ctx context.Context, h HostClient) error {
						_, err := h.UpdateNIC(ctx, vmID, updateParams(old))
						return err
					})
				})
			}
			return err
		}
		failEvent, generic = evNicUpdateFailed, "Failed to update VM Network Interface."
	}
	hctx, hcancel := e.hostCtx(ctx, f, hold)
	err = call(hctx)
	hcancel()
	if isUnknown(err) {
		u.success() // the reservation stays with the change until it is settled
		if applied, err := e.unknownOutcome(ctx, f, c.host, generic, err); !applied {
			return nil, err
		}
		return e.NIC(ctx, vmID, n.ID)
	}
	if err != nil {
		u.success()
		e.abort(ctx, vmID, release, newEvent(ctx, failEvent).vm(c.vm).nic(old))
		return nil, hostError(generic, c.host, err)
	}
	n.Synced = vwire.ComputeSynced(&n, true)
	if err := e.store.Update(ctx, func(tx vwire.Tx) error { return record(tx, successEvent()) }); err != nil {
		return nil, err
	}
	u.success()
	return &n, nil
}

// RemoveNIC removes a vNIC; a plugged vNIC of a running VM must be unplugged first.
func (e *Engine) RemoveNIC(ctx context.Context, vmID, nicID string) error {
	op := vwire.OpRemoveNic
	unlock, err := e.store.LockVM(ctx, vmID)
	if err != nil {
		return err
	}
	defer unlock()
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
		if err := releaseMAC(tx, c.cluster.MacPoolID, n.MAC, n.ID); err != nil {
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
		return err
	})
	return n, err
}
