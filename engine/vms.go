package engine

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// VMSpec is a VM to create.
type VMSpec struct {
	Name        string
	Description string
	Comment     string
	// CPU, if set, is the VM's CPU topology; else its template's.
	CPU            *vwire.CPUTopology
	ClusterID      string
	TemplateID     string
	Memory         int64
	OSType         string
	Kernel         string
	Initrd         string
	Cmdline        string
	PlacementHosts []string
}

func validateVMName(op vwire.Op, name string) error {
	if name == "" {
		return vwire.Incomplete("Vm", []string{"name"}, op.Action)
	}
	return vwire.ValidateName(op, name, 64, true)
}

// checkPlacement verifies that pinned hosts exist and are in the cluster.
func checkPlacement(tx vwire.HostTx, op vwire.Op, clusterID string, hosts []string) error {
	for _, id := range hosts {
		h, err := tx.Host(id)
		if vwire.ErrorCode(err) == vwire.ENOTFOUND {
			return vwire.Fail(op, vwire.MsgHostNotExist)
		} else if err != nil {
			return err
		}
		if h.ClusterID != clusterID {
			return vwire.Fail(op, vwire.MsgHostNotInVMCluster, "host", h.Name)
		}
	}
	return nil
}

// AddVM creates a VM from a template (Blank by default).
func (e *Engine) AddVM(ctx context.Context, s VMSpec) (*vwire.VM, error) {
	op := vwire.OpAddVM
	if err := e.authorize(ctx, op, on(vwire.PermitCreateVM, vwire.ObjCluster, s.ClusterID)); err != nil {
		return nil, err
	}
	if err := validateVMName(op, s.Name); err != nil {
		return nil, err
	}
	if s.TemplateID == "" {
		s.TemplateID = vwire.BlankTemplateID
	}
	vm := &vwire.VM{ID: uuid.NewString(), Name: s.Name, Description: s.Description, Comment: s.Comment, ClusterID: s.ClusterID, TemplateID: s.TemplateID,
		Status: vwire.VMDown, Memory: s.Memory, OSType: s.OSType, Kernel: s.Kernel, Initrd: s.Initrd, Cmdline: s.Cmdline,
		PlacementHosts: s.PlacementHosts, CreatedAt: e.now()}
	err := e.store.Update(ctx, func(tx vwire.Tx) error {
		cl, err := tx.Cluster(s.ClusterID)
		if vwire.ErrorCode(err) == vwire.ENOTFOUND {
			return vwire.Fail(op, vwire.MsgClusterCanNotBeEmpty)
		} else if err != nil {
			return err
		}
		tp, err := tx.Template(s.TemplateID)
		if vwire.ErrorCode(err) == vwire.ENOTFOUND {
			return vwire.Fail(op, vwire.MsgTemplateDoesNotExist)
		} else if err != nil {
			return err
		}
		if vm.Memory == 0 {
			vm.Memory = tp.Memory
		}
		if err := vwire.ValidateMemory(op, vm.Memory); err != nil {
			return err
		}
		vm.CPU = tp.CPU
		if s.CPU != nil {
			vm.CPU = *s.CPU
		}
		if err := vwire.ValidateCPU(op, vm.CPU); err != nil {
			return err
		}
		if vm.OSType == "" {
			vm.OSType = tp.OSType
		}
		if err := checkPlacement(tx, op, vm.ClusterID, vm.PlacementHosts); err != nil {
			return err
		}
		if err := tx.CreateVM(vm); err != nil {
			if vwire.ErrorCode(err) == vwire.ECONFLICT {
				return vwire.Fail(op, vwire.MsgNameAlreadyUsed)
			}
			return err
		}
		if err := copyTemplateNICs(tx, op, vm, cl); err != nil {
			return err
		}
		return newEvent(ctx, evVMAdd).vm(vm).write(tx)
	})
	if err != nil {
		return nil, err
	}
	return vm, nil
}

// VMPatch is an edit of a VM; nil fields keep their value.
type VMPatch struct {
	Name        *string
	Description *string
	Comment     *string
	// CPU and Memory of a running VM apply at its next start.
	CPU            *vwire.CPUTopology
	ClusterID      *string
	Memory         *int64
	Kernel         *string
	Initrd         *string
	Cmdline        *string
	PlacementHosts *[]string
}

// UpdateVM edits a VM. Changing the cluster requires a down VM whose every
// vNIC network exists in the target cluster and whose vNICs the target's
// level supports.
func (e *Engine) UpdateVM(ctx context.Context, id string, p VMPatch) (*vwire.VM, error) {
	op := vwire.OpEditVM
	needs := []need{on(vwire.PermitEditVMProperties, vwire.ObjVM, id)}
	if p.ClusterID != nil {
		// Moving a VM creates it in the target cluster, as oVirt checks.
		needs = append(needs, on(vwire.PermitCreateVM, vwire.ObjCluster, *p.ClusterID))
	}
	if err := e.authorize(ctx, op, needs...); err != nil {
		return nil, err
	}
	if p.Name != nil {
		if err := validateVMName(op, *p.Name); err != nil {
			return nil, err
		}
	}
	unlock, err := e.store.LockVM(ctx, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := e.settle(ctx, id); err != nil {
		return nil, err
	}
	var vm *vwire.VM
	err = e.store.Update(ctx, func(tx vwire.Tx) (err error) {
		if vm, err = tx.VM(id); err != nil {
			return err
		}
		set := func(dst *string, src *string) {
			if src != nil {
				*dst = *src
			}
		}
		set(&vm.Name, p.Name)
		set(&vm.Description, p.Description)
		set(&vm.Comment, p.Comment)
		if p.CPU != nil {
			if err := vwire.ValidateCPU(op, *p.CPU); err != nil {
				return err
			}
			vm.CPU = *p.CPU
		}
		set(&vm.Kernel, p.Kernel)
		set(&vm.Initrd, p.Initrd)
		set(&vm.Cmdline, p.Cmdline)
		if p.Memory != nil {
			if err := vwire.ValidateMemory(op, *p.Memory); err != nil {
				return err
			}
			vm.Memory = *p.Memory
		}
		if p.ClusterID != nil && *p.ClusterID != vm.ClusterID {
			if err := e.changeCluster(tx, op, vm, *p.ClusterID); err != nil {
				return err
			}
		}
		if p.PlacementHosts != nil {
			vm.PlacementHosts = *p.PlacementHosts
		}
		if err := checkPlacement(tx, op, vm.ClusterID, vm.PlacementHosts); err != nil {
			return err
		}
		if err := tx.UpdateVM(vm); err != nil {
			if vwire.ErrorCode(err) == vwire.ECONFLICT {
				return vwire.Fail(op, vwire.MsgNameAlreadyUsed)
			}
			return err
		}
		return newEvent(ctx, evVMUpdate).vm(vm).write(tx)
	})
	return vm, err
}

func (e *Engine) changeCluster(tx vwire.Tx, op vwire.Op, vm *vwire.VM, target string) error {
	if vm.Status != vwire.VMDown {
		return vwire.Fail(op, vwire.MsgVMCannotChangeClusterUp)
	}
	cl, err := tx.Cluster(target)
	if vwire.ErrorCode(err) == vwire.ENOTFOUND {
		return vwire.Fail(op, vwire.MsgClusterCanNotBeEmpty)
	} else if err != nil {
		return err
	}
	nets, err := tx.ClusterNetworks(target)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, n := range nets {
		have[n.ID] = true
	}
	nics, err := tx.NICs(vm.ID)
	if err != nil {
		return err
	}
	var missing []string
	for _, n := range nics {
		if n.NetworkID != "" && !have[n.NetworkID] {
			missing = append(missing, n.Name+" ("+n.NetworkName+")")
		}
	}
	if len(missing) > 0 {
		return vwire.Fail(op, vwire.MsgNetworkNotInCluster, "networks", strings.Join(missing, ", "))
	}
	for _, n := range nics {
		if err := vwire.ValidateLinking(op, n, cl.Version); err != nil {
			return namedNIC(err, n.Name)
		}
	}
	// The MACs follow the VM into the target cluster's pool.
	if cl.MACPoolID != "" {
		oldC, err := tx.Cluster(vm.ClusterID)
		if err != nil {
			return err
		}
		if oldC.MACPoolID != cl.MACPoolID {
			newPool, err := tx.MACPool(cl.MACPoolID)
			if err != nil {
				return err
			}
			for _, n := range nics {
				if err := releaseMAC(tx, oldC.MACPoolID, n.MAC, n.ID); err != nil {
					return err
				}
				if _, err := leaseMAC(tx, op, newPool, n.MAC, n.ID); err != nil {
					return err
				}
			}
		}
	}
	vm.ClusterID = target
	return nil
}

// RemoveVM deletes a down VM with its vNICs and frees their MACs.
func (e *Engine) RemoveVM(ctx context.Context, id string) error {
	op := vwire.OpRemoveVM
	if err := e.authorize(ctx, op, on(vwire.PermitDeleteVM, vwire.ObjVM, id)); err != nil {
		return err
	}
	unlock, err := e.store.LockVM(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	ctx = vwire.VMScoped(ctx) // the VM is locked: its writes may run READ COMMITTED
	if err := e.settle(ctx, id); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		vm, err := tx.VM(id)
		if err != nil {
			return err
		}
		if vm.Status != vwire.VMDown {
			return vwire.Fail(op, vwire.MsgVMIsRunning)
		}
		if err := deleteWith(tx, vwire.ObjVM, id, tx.DeleteVM); err != nil {
			return err
		}
		return newEvent(ctx, evVMRemove).vm(vm).write(tx)
	})
}

// schedule picks a host for the VM: pinned hosts if any, else the cluster's;
// it must be up, support the cluster level and carry every network of the
// VM's plugged vNICs (link state does not matter, as in oVirt).
func schedule(c *vmCtx, hosts []*vwire.Host) (*vwire.Host, []string) {
	pinned := map[string]bool{}
	for _, id := range c.vm.PlacementHosts {
		pinned[id] = true
	}
	var reasons []string
	for _, h := range hosts {
		if h.ClusterID != c.vm.ClusterID || (len(pinned) > 0 && !pinned[h.ID]) {
			continue
		}
		if h.Status != vwire.HostUp {
			reasons = append(reasons, "host "+h.Name+" is "+string(h.Status))
			continue
		}
		if !h.SupportsLevel(c.cluster.Version) {
			reasons = append(reasons, "host "+h.Name+" does not support cluster level "+c.cluster.Version.String())
			continue
		}
		var lacking []string
		for _, n := range c.nics {
			if n.Plugged && n.NetworkName != "" && !h.HasNetwork(n.NetworkName) {
				lacking = append(lacking, n.NetworkName)
			}
		}
		if len(lacking) > 0 {
			reasons = append(reasons, "host "+h.Name+" lacks networks "+strings.Join(lacking, ", "))
			continue
		}
		return h, nil
	}
	if len(reasons) == 0 {
		reasons = append(reasons, "no host in the cluster or among the pinned hosts")
	}
	return nil, reasons
}

// StartVM runs a down VM on a host: the domain is created with every plugged
// vNIC and its link state; an empty network sits on the dummy bridge, link down.
func (e *Engine) StartVM(ctx context.Context, id string) (*vwire.VM, error) {
	op := vwire.OpRunVM
	if err := e.authorize(ctx, op, on(vwire.PermitRunVM, vwire.ObjVM, id)); err != nil {
		return nil, err
	}
	unlock, err := e.store.LockVM(ctx, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ctx = vwire.VMScoped(ctx) // the VM is locked: its writes may run READ COMMITTED
	ctx, cancel := e.detach(ctx)
	defer cancel()
	if err := e.settle(ctx, id); err != nil {
		return nil, err
	}
	var c *vmCtx
	var f inFlight
	var host *vwire.Host
	err = e.store.Update(ctx, func(tx vwire.Tx) (err error) {
		if c, err = loadVM(tx, id); err != nil {
			return err
		}
		if c.vm.Status != vwire.VMDown {
			return vwire.Fail(op, vwire.MsgVMIsRunning)
		}
		var notVM []string
		for _, n := range c.nics {
			if n.NetworkID == "" {
				continue
			}
			cn, ok, err := c.clusterNetwork(tx, n.NetworkID)
			if err != nil {
				return err
			}
			if !ok {
				return vwire.Fail(op, vwire.MsgNetworkNotInCluster, "networks", n.NetworkName)
			}
			if !cn.VMNetwork {
				notVM = append(notVM, cn.Name)
			}
		}
		if len(notVM) > 0 {
			return vwire.Fail(op, vwire.MsgNotAVMNetwork, "networks", strings.Join(notVM, ", "))
		}
		hosts, err := tx.Hosts(vwire.HostFilter{ClusterID: c.vm.ClusterID})
		if err != nil {
			return err
		}
		h, reasons := schedule(c, hosts)
		if h == nil {
			return vwire.Fail(op, vwire.MsgSchedulingNoHosts, "details", strings.Join(reasons, "; "))
		}
		host, c.host = h, h
		// Powering up marks the VM busy for other engines until the host answers.
		c.vm.Status, c.vm.HostID = vwire.VMPoweringUp, h.ID
		if err := tx.BumpVMGeneration(id); err != nil {
			return err
		}
		if f, err = e.markInFlight(tx, id, c.vm.Name, "", newIntent(ctx, kindStart, op)); err != nil {
			return err
		}
		return tx.UpdateVM(c.vm)
	})
	if err != nil {
		return nil, err
	}
	vp := HostVMSpec{ID: c.vm.ID, Name: c.vm.Name, MemoryMiB: c.vm.Memory >> 20, CPU: c.vm.CPU, Kernel: c.vm.Kernel, Initrd: c.vm.Initrd, Cmdline: c.vm.Cmdline}
	plugged := make([]*vwire.NIC, 0, len(c.nics))
	for _, n := range c.nics {
		if n.Plugged {
			plugged = append(plugged, n)
		}
	}
	// oVirt writes interfaces sorted by MAC, so guests see a stable order.
	sort.Slice(plugged, func(i, j int) bool { return plugged[i].MAC < plugged[j].MAC })
	for _, n := range plugged {
		vp.Devices = append(vp.Devices, device(n))
	}
	// A start that fails puts the VM back down, saying why (cause), unless
	// the host may still run it (c.dirty): then the start stays in flight,
	// marked unknown, to be settled from the host.
	var u undo
	defer u.run()
	var cause string
	u.add(func() {
		if !c.dirty {
			e.restoreDown(ctx, c.vm, newEvent(ctx, evVMRunFailed, "DueToError", cause))
		}
	})
	hctx, hcancel := e.hostCtx(ctx, f, 0)
	st, err := e.client(host).CreateVM(hctx, vp)
	hcancel()
	if isUnknown(err) {
		u.success() // the start stays in flight until it is settled
		if applied, err := e.unknownOutcome(ctx, f, host, "Failed to run VM.", err); !applied {
			return nil, err
		}
		return e.VM(ctx, id)
	}
	if err != nil {
		herr := hostError("Failed to run VM.", host, err)
		cause = " due to a failed host call: " + quoted(herr)
		e.obs.Change(f.kind, OutcomeRefused)
		return nil, herr
	}
	u.add(func() {
		e.revertHost(ctx, c, "destroy", func(ctx context.Context, h HostClient) error { return h.DestroyVM(ctx, c.vm.ID) })
	})
	c.vm.Status, c.vm.StartTime = vwire.VMUp, e.now()
	err = e.store.Update(ctx, func(tx vwire.Tx) error {
		if err := tx.UpdateVM(c.vm); err != nil {
			return err
		}
		if err := tx.BumpVMGeneration(id); err != nil {
			return err
		}
		if err := e.endChange(tx, id, vwire.JobFinished); err != nil {
			return err
		}
		if err := e.absorbStats(tx, c.vm, c.nics, st); err != nil {
			return err
		}
		return newEvent(ctx, evVMRun).vm(c.vm).host(host).write(tx)
	})
	if err != nil {
		cause = ": " + err.Error()
		return nil, err
	}
	u.success()
	e.obs.Change(f.kind, OutcomeApplied)
	return c.vm, nil
}

// restoreDown puts a VM back to down after a failed start and logs why.
func (e *Engine) restoreDown(ctx context.Context, vm *vwire.VM, ev *event) {
	ctx, cancel := e.background(ctx)
	defer cancel()
	vm.Status, vm.HostID = vwire.VMDown, ""
	err := e.store.Update(ctx, func(tx vwire.Tx) error {
		if err := tx.UpdateVM(vm); err != nil {
			return err
		}
		if err := e.endChange(tx, vm.ID, vwire.JobFailed); err != nil {
			return err
		}
		return ev.vm(vm).write(tx)
	})
	if err != nil {
		e.log.ErrorContext(ctx, "cannot mark VM down after a failed start", "vm", vm.ID, "err", err)
	}
}

// absorbStats stores what the host reports of a VM's vNICs and their synced
// flag, writing only rows that changed.
func (e *Engine) absorbStats(tx vwire.Tx, vm *vwire.VM, nics []*vwire.NIC, st HostVM) error {
	byAlias := make(map[string]HostNIC, len(st.NICs))
	for _, s := range st.NICs {
		byAlias[s.Alias] = s
	}
	for _, n := range nics {
		var o *vwire.NICObserved
		if s, ok := byAlias[n.Alias()]; ok {
			o = e.observed(s)
		} else {
			o = &vwire.NICObserved{Present: false, At: e.now()}
		}
		// The reason a change did not reach the device stays while the
		// device still differs from its desired state.
		if prev := n.Observed; prev != nil && prev.Error != "" {
			c := *n
			c.Observed = o
			if !vwire.ComputeSynced(&c, vm.Status == vwire.VMUp) {
				o.Error = prev.Error
			}
		}
		if sameObserved(n.Observed, o) {
			continue
		}
		n.Observed = o
		n.Synced = vwire.ComputeSynced(n, vm.Status == vwire.VMUp)
		if err := tx.SetNICObserved(n.ID, o, n.Synced); err != nil {
			return err
		}
	}
	return nil
}

// sameObserved compares two reports, ignoring when they were made.
func sameObserved(a, b *vwire.NICObserved) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Same(b)
}

// StopVM powers a running VM off (oVirt's stop).
func (e *Engine) StopVM(ctx context.Context, id string) (*vwire.VM, error) {
	op := vwire.OpStopVM
	if err := e.authorize(ctx, op, on(vwire.PermitStopVM, vwire.ObjVM, id)); err != nil {
		return nil, err
	}
	unlock, err := e.store.LockVM(ctx, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ctx = vwire.VMScoped(ctx) // the VM is locked: its writes may run READ COMMITTED
	ctx, cancel := e.detach(ctx)
	defer cancel()
	if err := e.settle(ctx, id); err != nil {
		return nil, err
	}
	var c *vmCtx
	var f inFlight
	err = e.store.View(ctx, func(tx vwire.Tx) (err error) {
		c, err = loadVM(tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if c.vm.Status == vwire.VMDown || c.host == nil {
		return nil, vwire.Fail(op, vwire.MsgVMIsNotRunning)
	}
	if err := e.store.Update(ctx, func(tx vwire.Tx) (err error) {
		f, err = e.markInFlight(tx, id, c.vm.Name, "", newIntent(ctx, kindStop, op))
		return err
	}); err != nil {
		return nil, err
	}
	hctx, hcancel := e.hostCtx(ctx, f, 0)
	err = e.client(c.host).DestroyVM(hctx, id)
	hcancel()
	if isUnknown(err) {
		if applied, err := e.unknownOutcome(ctx, f, c.host, "Failed to power off VM.", err); !applied {
			return nil, err
		}
		return e.VM(ctx, id)
	}
	if err != nil && !errors.Is(err, ErrNoVM) {
		herr := hostError("Failed to power off VM.", c.host, err)
		e.abort(ctx, id, nil, newEvent(ctx, evVMStopFailed).vm(c.vm).host(c.host))
		e.obs.Change(f.kind, OutcomeRefused)
		return nil, herr
	}
	host := c.host
	c.vm.Status, c.vm.HostID, c.vm.StopTime = vwire.VMDown, "", e.now()
	err = e.store.Update(ctx, func(tx vwire.Tx) error {
		if err := e.markDown(tx, c.vm, c.nics); err != nil {
			return err
		}
		if err := tx.BumpVMGeneration(id); err != nil {
			return err
		}
		return newEvent(ctx, evVMStop).vm(c.vm).host(host).write(tx)
	})
	if err != nil {
		e.markUnknown(ctx, id, err) // the host has it; settling records it
		return nil, err
	}
	e.obs.Change(f.kind, OutcomeApplied)
	return c.vm, nil
}

// markDown records a VM as down: nothing runs, so every vNIC is in sync and
// has no observed device (oVirt resets synced on shutdown).
func (e *Engine) markDown(tx vwire.Tx, vm *vwire.VM, nics []*vwire.NIC) error {
	if err := tx.UpdateVM(vm); err != nil {
		return err
	}
	if err := e.endChange(tx, vm.ID, vwire.JobFinished); err != nil {
		return err
	}
	for _, n := range nics {
		if n.Observed == nil && n.Synced {
			continue
		}
		if err := tx.SetNICObserved(n.ID, nil, true); err != nil {
			return err
		}
	}
	return nil
}

// VM reads a VM.
func (e *Engine) VM(ctx context.Context, id string) (*vwire.VM, error) {
	vm, err := get(ctx, e, vwire.ObjVM, "VM", vwire.Tx.VM, id)
	return vm, err
}
