package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"vwire.dev/vwire"
)

// Drift is a running VM whose devices differ from the database without a
// change of vwire's in flight: someone used virsh, or a host call's effect
// was lost. The poller records what the host reports (synced=false) and,
// per the VM's cluster policy (vwire.DriftPolicy):
//
//   - report: an event when a vNIC's drift appears or changes, and one for
//     each device no vNIC of the VM accounts for, once per appearance;
//   - enforce: also puts each drifted vNIC back as the database has it,
//     through the host action a user's change would take (vwire.ObservedNIC
//     turns the host's device into the "old" side of that decision), and
//     unplugs the devices the database does not know, with an event for each.
//
// A repair never fights a user: it holds the VM's lock, re-reads the desired
// state under it, and leaves alone a VM with a change in flight or whose
// generation moved since the poll read it (its devices changed meanwhile, so
// the host's report may already be out of date).

// Audit codes of their own: oVirt has no drift events. They sit above every
// code of oVirt's AuditLogType, so they cannot be mistaken for one.
var (
	evNicDrifted         = auditType{12100, vwire.SevWarning, "Network interface ${InterfaceName} of VM ${VmName} drifted on host ${VdsName}: ${Drift}."}
	evNicDriftRepaired   = auditType{12101, vwire.SevNormal, "Network interface ${InterfaceName} of VM ${VmName} was repaired on host ${VdsName}: ${Repair}."}
	evForeignNic         = auditType{12102, vwire.SevWarning, "VM ${VmName} has a network interface unknown to the engine on host ${VdsName}: ${Device}."}
	evForeignNicUnplug   = auditType{12103, vwire.SevNormal, "Network interface ${Device} of VM ${VmName}, unknown to the engine, was unplugged from host ${VdsName}."}
	evNicDriftRepairFail = auditType{12104, vwire.SevError, "Failed to repair network interface ${InterfaceName} of VM ${VmName} on host ${VdsName}: ${Reason}."}
)

// checkDriftPolicy gives a cluster without a policy the default and
// refuses one vwire does not know.
func checkDriftPolicy(c *vwire.Cluster) error {
	if c.DriftPolicy == "" {
		c.DriftPolicy = vwire.DefaultDriftPolicy
	}
	if _, ok := vwire.ParseDriftPolicy(string(c.DriftPolicy)); !ok {
		return vwire.InvalidDriftPolicy(string(c.DriftPolicy))
	}
	return nil
}

// observedOf remembers each vNIC's observed state before a report is absorbed.
func observedOf(nics []*vwire.NIC) map[string]*vwire.NICObserved {
	m := make(map[string]*vwire.NICObserved, len(nics))
	for _, n := range nics {
		m[n.ID] = n.Observed
	}
	return m
}

// foreignKey names an unknown device within one run of the VM, so that a
// device seen in an earlier run is reported again in a new one.
func foreignKey(vm *vwire.VM, d HostNIC) string {
	return fmt.Sprintf("%d %s %s", vm.StartTime.UnixMilli(), d.Alias, strings.ToLower(d.MAC))
}

// foreignDevices are the devices of a VM's report that no vNIC accounts for:
// an alias that is not a vNIC's ("ua-<unknown id>", or libvirt's own "net1"
// for a device attached without one).
func foreignDevices(nics []*vwire.NIC, st HostVM) []HostNIC {
	known := make(map[string]bool, len(nics))
	for _, n := range nics {
		known[n.Alias()] = true
	}
	var out []HostNIC
	for _, d := range st.NICs {
		if !known[d.Alias] {
			out = append(out, d)
		}
	}
	return out
}

func foreignKeys(vm *vwire.VM, devs []HostNIC) []string {
	keys := make([]string, len(devs))
	for i, d := range devs {
		keys[i] = foreignKey(vm, d)
	}
	slices.Sort(keys)
	return keys
}

// foreignChanged tells whether a report's unknown devices differ from those
// already reported, so that a poll notices a device that appeared even when
// every vNIC is as before.
func foreignChanged(vm *vwire.VM, nics []*vwire.NIC, st HostVM) bool {
	return !slices.Equal(foreignKeys(vm, foreignDevices(nics, st)), sortedCopy(vm.ForeignNICs))
}

func deviceText(d HostNIC) string {
	alias := d.Alias
	if alias == "" {
		alias = "(no alias)"
	}
	return fmt.Sprintf("%s (MAC %s on %s)", alias, d.MAC, d.Network)
}

// reportDrift runs in the transaction that recorded a host's report of a
// running VM (absorbVM, under the VM's lock): it logs the drift that
// appeared or changed with this report, and the unknown devices not
// reported before. before holds the vNICs' observed state until now. A VM
// with a change in flight is left alone: the change explains the difference.
//
// It returns how many drifts it reported (vNICs and unknown devices), for
// the observer, which is told once the transaction commits.
func (e *Engine) reportDrift(ctx context.Context, tx vwire.Tx, h *vwire.Host, vm *vwire.VM,
	before map[string]*vwire.NICObserved, nics []*vwire.NIC, st HostVM) (found int, err error) {
	if vm.Status != vwire.VMUp {
		return 0, nil
	}
	if p, err := tx.PendingOf(vm.ID); err != nil || p != nil {
		return 0, err
	}
	for _, n := range nics {
		now := vwire.Drift(n, true)
		if len(now) == 0 {
			continue
		}
		prev := *n
		prev.Observed = before[n.ID]
		// The same drift as the last report is not news; a new or different
		// one is (a link pulled, then the vNIC also moved).
		if prev.Observed != nil && slices.Equal(vwire.Drift(&prev, true), now) {
			continue
		}
		if err := newEvent(ctx, evNicDrifted, "Drift", vwire.DescribeDrift(now)).vm(vm).host(h).nic(n).write(tx); err != nil {
			return 0, err
		}
		found++
	}
	devs := foreignDevices(nics, st)
	keys := foreignKeys(vm, devs)
	if slices.Equal(keys, sortedCopy(vm.ForeignNICs)) {
		return found, nil
	}
	for _, d := range devs {
		if slices.Contains(vm.ForeignNICs, foreignKey(vm, d)) {
			continue
		}
		if err := newEvent(ctx, evForeignNic, "Device", deviceText(d)).vm(vm).host(h).write(tx); err != nil {
			return 0, err
		}
		found++
	}
	return found, tx.SetForeignNICs(vm.ID, keys)
}

// enforceDrift repairs, on a host just polled, the VMs of clusters that
// enforce their desired state. vms and nics are what the database held
// before the host answered; stats is the answer.
func (e *Engine) enforceDrift(ctx context.Context, h *vwire.Host, vms []*vwire.VM, nics []*vwire.NIC, stats []HostVM) {
	byID, nicsOf := byVM(stats, nics)
	var policy map[string]vwire.DriftPolicy // read only when something drifted
	for _, vm := range vms {
		st, ok := byID[vm.ID]
		if vm.Status != vwire.VMUp || !ok || !e.drifted(nicsOf[vm.ID], st) {
			continue
		}
		if policy == nil {
			policy = map[string]vwire.DriftPolicy{}
			var cls []*vwire.Cluster
			if err := e.store.View(ctx, func(tx vwire.Tx) (err error) { cls, err = tx.Clusters(vwire.ClusterFilter{}); return }); err != nil {
				e.log.WarnContext(ctx, "cannot read the clusters' drift policies", "err", err)
				return
			}
			for _, c := range cls {
				policy[c.ID] = c.DriftPolicy
			}
		}
		if policy[vm.ClusterID] != vwire.DriftEnforce {
			continue
		}
		if err := e.repairDrift(ctx, h, vm, nicsOf[vm.ID], st); err != nil {
			e.log.WarnContext(ctx, "cannot repair drift", "vm", vm.Name, "host", h.Name, "err", err)
		}
	}
}

// drifted tells whether a report differs from the desired state of a VM's
// vNICs, or shows a device none of them accounts for.
func (e *Engine) drifted(nics []*vwire.NIC, st HostVM) bool {
	if len(foreignDevices(nics, st)) > 0 {
		return true
	}
	live := make(map[string]HostNIC, len(st.NICs))
	for _, d := range st.NICs {
		live[d.Alias] = d
	}
	for _, n := range nics {
		if !vwire.ComputeSynced(withReport(e, n, live), true) {
			return true
		}
	}
	return false
}

// withReport is a copy of n whose observed state is the host's report.
func withReport(e *Engine, n *vwire.NIC, live map[string]HostNIC) *vwire.NIC {
	c := *n
	c.Observed = &vwire.NICObserved{Present: false, At: e.now()}
	if d, ok := live[n.Alias()]; ok {
		c.Observed = e.observed(d)
	}
	return &c
}

// repaired is one vNIC put back, with what the host reported after.
type repaired struct {
	nic   *vwire.NIC
	drift []vwire.Difference
	obs   *vwire.NICObserved
}

// repairDrift makes one VM's devices on the host match the database, under
// the VM's lock, and records what the host reports after. before are the
// VM's vNICs as the poll read them, before the host answered.
func (e *Engine) repairDrift(ctx context.Context, h *vwire.Host, seen *vwire.VM, before []*vwire.NIC, st HostVM) (err error) {
	unlock, err := e.store.LockVM(ctx, seen.ID)
	if err != nil {
		return err
	}
	defer unlock()
	ctx = vwire.VMScoped(ctx) // the VM is locked: its writes may run READ COMMITTED
	// The desired state as it is now, under the lock: a user's change that
	// committed since the poll read the VM moved its generation, and one in
	// flight is pending; either way the report is no basis for a repair.
	var c *vmCtx
	if err := e.store.View(ctx, func(tx vwire.Tx) (err error) { c, err = loadVM(tx, seen.ID); return }); err != nil {
		return err
	}
	if c.pending != nil || c.vm.Generation != seen.Generation || c.vm.HostID != h.ID || !c.running() ||
		c.cluster.DriftPolicy != vwire.DriftEnforce {
		return nil
	}
	hc := e.client(c.host)
	live := make(map[string]HostNIC, len(st.NICs))
	for _, d := range st.NICs {
		live[d.Alias] = d
	}
	var fixed []repaired
	var failed []*event
	for _, n := range c.nics {
		cur := withReport(e, n, live)
		ds := vwire.Drift(cur, true)
		if len(ds) == 0 {
			continue
		}
		obs, err := e.repairNIC(ctx, hc, c, cur, live[n.Alias()])
		if err != nil {
			e.log.WarnContext(ctx, "cannot repair a drifted vNIC", "vm", c.vm.Name, "nic", n.Name, "host", c.host.Name, "err", err)
			// A repair that keeps failing is tried at every poll, but its
			// event, like the drift's, is written when the drift appears.
			if i := slices.IndexFunc(before, func(b *vwire.NIC) bool { return b.ID == n.ID }); i < 0 || !sameObserved(before[i].Observed, cur.Observed) {
				failed = append(failed, newEvent(ctx, evNicDriftRepairFail, "Reason", reason(err)).vm(c.vm).host(c.host).nic(n))
			}
			continue
		}
		fixed = append(fixed, repaired{n, ds, obs})
	}
	var unplugged []HostNIC
	for _, d := range foreignDevices(c.nics, st) {
		hctx, cancel := context.WithTimeout(ctx, e.hostTimeout)
		err := hc.HotunplugNIC(hctx, c.vm.ID, HostDevice{Alias: d.Alias, MAC: d.MAC})
		cancel()
		if err != nil {
			e.log.WarnContext(ctx, "cannot unplug a device unknown to the engine", "vm", c.vm.Name, "device", d.Alias, "host", c.host.Name, "err", err)
			continue
		}
		unplugged = append(unplugged, d)
	}
	if len(fixed) == 0 && len(unplugged) == 0 && len(failed) == 0 {
		return nil
	}
	defer func() {
		if err == nil {
			e.obs.Drift(0, len(fixed)+len(unplugged)) // told once recorded
		}
	}()
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		for _, r := range fixed {
			r.nic.Observed = r.obs
			r.nic.Synced = vwire.ComputeSynced(r.nic, true)
			if err := tx.SetNICObserved(r.nic.ID, r.obs, r.nic.Synced); err != nil {
				return err
			}
			if err := newEvent(ctx, evNicDriftRepaired, "Repair", repairText(r.drift)).vm(c.vm).host(c.host).nic(r.nic).write(tx); err != nil {
				return err
			}
		}
		for _, ev := range failed {
			if err := ev.write(tx); err != nil {
				return err
			}
		}
		if len(unplugged) > 0 {
			keys := slices.Clone(c.vm.ForeignNICs)
			for _, d := range unplugged {
				k := foreignKey(c.vm, d)
				keys = slices.DeleteFunc(keys, func(s string) bool { return s == k })
				if err := newEvent(ctx, evForeignNicUnplug, "Device", deviceText(d)).vm(c.vm).host(c.host).write(tx); err != nil {
					return err
				}
			}
			if err := tx.SetForeignNICs(c.vm.ID, keys); err != nil {
				return err
			}
		}
		// A poll that read the host before the repair must not record the
		// devices as they were.
		return tx.BumpVMGeneration(c.vm.ID)
	})
}

// repairNIC puts one drifted vNIC back as the database has it and returns
// the device as the host reports it after. n carries the host's report as
// its observed state; d is the host's device, if present. The host action
// is the one a user's change from the observed state to the desired one
// takes, checked by the same rules; each call gets its own deadline.
func (e *Engine) repairNIC(ctx context.Context, hc HostClient, c *vmCtx, n *vwire.NIC, d HostNIC) (*vwire.NICObserved, error) {
	op := vwire.OpEditNic
	old := vwire.ObservedNIC(n)
	call := func(extra int64, fn func(ctx context.Context) error) error {
		hctx, cancel := context.WithTimeout(ctx, e.hostTimeout+time.Duration(extra)*time.Millisecond)
		defer cancel()
		return fn(hctx)
	}
	plug := func() (*vwire.NICObserved, error) {
		if err := checkPlug(op, c, n); err != nil {
			return nil, err
		}
		var st HostNIC
		err := call(0, func(ctx context.Context) (err error) { st, err = hc.HotplugNIC(ctx, c.vm.ID, device(n)); return })
		if err != nil {
			return nil, err
		}
		return e.observed(st), nil
	}
	unplug := func() error {
		if !c.cluster.Version.SupportsHotPlug() {
			return vwire.Fail(op, vwire.MsgHotPlugIsNotSupported)
		}
		// The host knows the device by its own MAC, as an unplug of a
		// user's change carries the old values.
		dev := device(&old)
		dev.MAC = d.MAC
		return call(0, func(ctx context.Context) error { return hc.HotunplugNIC(ctx, c.vm.ID, dev) })
	}
	// A MAC or model cannot change live: out with the host's device, in
	// with the database's.
	if vwire.ValidateHotUpdate(op, &old, n, true) != nil {
		if err := unplug(); err != nil {
			return nil, err
		}
		return plug()
	}
	switch vwire.RequiredAction(&old, n, true) {
	case vwire.ActionPlug:
		return plug()
	case vwire.ActionUnplug:
		if err := unplug(); err != nil {
			return nil, err
		}
		return &vwire.NICObserved{Present: false, At: e.now()}, nil
	case vwire.ActionUpdate:
		if !c.cluster.Version.SupportsNetworkLinking() {
			return nil, vwire.Fail(op, vwire.MsgHotVMInterfaceUpdateIsNotSupported, "clusterVersion", c.cluster.Version.String())
		}
		if (n.Mirrors() || old.Mirrors()) && !c.cluster.Version.SupportsLivePortMirroring() {
			return nil, vwire.Fail(op, vwire.MsgCannotPerformHotUpdateWithPortMirroring)
		}
		if n.NetworkName != "" && !c.host.HasNetwork(n.NetworkName) {
			return nil, vwire.Fail(op, vwire.MsgActivateDeactivateNetworkNotInVDS)
		}
		p := updateParams(n)
		// Moved back to its network: the guest learns of it as the
		// profile says, as when a user moves it.
		if d.Network != n.Bridge() && n.NetworkName != "" && n.Linked {
			p.Notify, p.BounceHold = n.Notify, n.BounceHold
		}
		var st HostNIC
		err := call(p.BounceHold.Milliseconds(), func(ctx context.Context) (err error) { st, err = hc.UpdateNIC(ctx, c.vm.ID, p); return })
		if err != nil {
			return nil, err
		}
		return e.observed(st), nil
	}
	return nil, vwire.New(vwire.MsgNoRepairAction, "nic", n.Name)
}

// repairText says what a repair changed: "link was down, now up".
func repairText(ds []vwire.Difference) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = fmt.Sprintf("%s was %s, now %s", d.Field, d.Observed, d.Desired)
	}
	return strings.Join(s, "; ")
}

// reason is a failure's text for an event: the host's own reason when it
// gave one.
func reason(err error) string {
	if he, ok := hostAnswer(err); ok {
		return he.Reason
	}
	var ve *vwire.Error
	if errors.As(err, &ve) {
		return quoted(ve)
	}
	return err.Error()
}
