package engine

import (
	"context"
	"slices"
	"strings"
	"sync"

	"vwire.dev/vwire"
)

// A profile's attributes (port mirroring, QoS, network filter) reach every
// running vNIC that uses it, as oVirt 4.5.7 began to do for QoS: after the
// change that altered them committed, each VM with such a vNIC gets one
// host update per vNIC under its lock, then one event: what was applied,
// or which vNICs were not and the host's reason. A vNIC not updated keeps
// its host's state as observed state, with the reason (NICObserved.Error),
// so that it reads synced=false and says why; the poller's drift policy
// then reports or repairs it like any drift.

// fanOutWorkers bounds the VMs updated at once: a profile used by a
// thousand VMs must not open a thousand host calls.
const fanOutWorkers = 8

// fanOutResult is one VM's outcome.
type fanOutResult struct {
	vm      *vwire.VM
	applied []*vwire.NIC
	failed  []*vwire.NIC
	reasons []string
}

// fanOut brings every plugged vNIC of a running VM that uses one of the
// profiles to what its profile now says. It returns when every VM has been
// handled; failures are recorded, not returned (the change that caused the
// fan-out has committed and stays).
func (e *Engine) fanOut(ctx context.Context, op vwire.Op, profileIDs []string) {
	if len(profileIDs) == 0 {
		return
	}
	ctx, cancel := e.detach(ctx)
	defer cancel()
	targets, err := e.fanOutTargets(ctx, profileIDs)
	if err != nil {
		e.log.WarnContext(ctx, "cannot list the vNICs a profile change reaches", "err", err)
		return
	}
	vmIDs := make([]string, 0, len(targets))
	for id := range targets {
		vmIDs = append(vmIDs, id)
	}
	slices.Sort(vmIDs)
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(fanOutWorkers, len(vmIDs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				if err := e.applyProfiles(ctx, op, id, targets[id], false); err != nil {
					e.log.WarnContext(ctx, "cannot apply a profile change to a VM", "vm", id, "err", err)
				}
			}
		}()
	}
	for _, id := range vmIDs {
		work <- id
	}
	close(work)
	wg.Wait()
}

// fanOutTargets finds the plugged vNICs using the profiles on VMs the
// database believes run, by VM: one read per host.
func (e *Engine) fanOutTargets(ctx context.Context, profileIDs []string) (map[string]map[string]bool, error) {
	out := map[string]map[string]bool{}
	err := e.store.View(ctx, func(tx vwire.Tx) error {
		hosts, err := tx.Hosts(vwire.HostFilter{})
		if err != nil {
			return err
		}
		for _, h := range hosts {
			nics, err := tx.NICsOnHost(h.ID)
			if err != nil {
				return err
			}
			for _, n := range nics {
				if n.Plugged && slices.Contains(profileIDs, n.ProfileID) {
					if out[n.VMID] == nil {
						out[n.VMID] = map[string]bool{}
					}
					out[n.VMID][n.ID] = true
				}
			}
		}
		return nil
	})
	return out, err
}

// applyProfiles updates one VM's vNICs (ids) on its host to their desired
// state and records the outcome with one event. A vNIC's own filter
// parameters (params) have their own event already: only a failure adds one.
func (e *Engine) applyProfiles(ctx context.Context, op vwire.Op, vmID string, ids map[string]bool, params bool) error {
	unlock, err := e.store.LockVM(ctx, vmID)
	if err != nil {
		return err
	}
	defer unlock()
	ctx = vwire.VMScoped(ctx) // the VM is locked: its writes may run READ COMMITTED
	var c *vmCtx
	if err := e.store.View(ctx, func(tx vwire.Tx) (err error) { c, err = loadVM(tx, vmID); return }); err != nil {
		if vwire.ErrorCode(err) == vwire.ENOTFOUND {
			return nil // removed since
		}
		return err
	}
	if !c.running() {
		return nil // stopped since: it starts with the new attributes
	}
	res := fanOutResult{vm: c.vm}
	obs := map[string]*vwire.NICObserved{}
	hc := e.client(c.host)
	for _, n := range c.nics {
		if !ids[n.ID] || !n.Plugged {
			continue
		}
		o, err := e.pushProfile(ctx, op, hc, c, n)
		if err != nil {
			res.failed = append(res.failed, n)
			res.reasons = append(res.reasons, n.Name+": "+reason(err))
			o = failedObserved(n.Observed, reason(err))
		} else {
			res.applied = append(res.applied, n)
		}
		obs[n.ID] = o
	}
	if len(obs) == 0 {
		return nil
	}
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		for _, n := range c.nics {
			o, ok := obs[n.ID]
			if !ok {
				continue
			}
			n.Observed = o
			n.Synced = vwire.ComputeSynced(n, true)
			if err := tx.SetNICObserved(n.ID, o, n.Synced); err != nil {
				return err
			}
		}
		ev := e.fanOutEvent(ctx, c, res)
		if params {
			ev = nil
			if len(res.failed) > 0 {
				ev = newEvent(ctx, evFilterParamsNotApplied, "Reason", strings.Join(res.reasons, "; ")).vm(c.vm).host(c.host).nic(res.failed[0])
			}
		}
		if ev != nil {
			if err := ev.write(tx); err != nil {
				return err
			}
		}
		// A poll that read the host before these updates must not record
		// the devices as they were.
		return tx.BumpVMGeneration(c.vm.ID)
	})
}

// pushProfile updates one plugged vNIC whose profile changed. A change in
// flight (a user's or a repair's, left by an engine that died) is the
// poller's to settle first; a cluster level below 4.8 keeps oVirt's refusal
// of a live mirroring change.
func (e *Engine) pushProfile(ctx context.Context, op vwire.Op, hc HostClient, c *vmCtx, n *vwire.NIC) (*vwire.NICObserved, error) {
	if c.pending != nil {
		return nil, vwire.New(vwire.MsgChangeNotRepaired)
	}
	if o := n.Observed; !c.cluster.Version.SupportsLivePortMirroring() && (o == nil || o.Mirroring != n.Mirrors()) {
		return nil, vwire.Fail(op, vwire.MsgCannotPerformHotUpdateWithPortMirroring)
	}
	hctx, cancel := context.WithTimeout(ctx, e.hostTimeout)
	defer cancel()
	st, err := hc.UpdateNIC(hctx, c.vm.ID, updateParams(n))
	if err != nil {
		return nil, err
	}
	return e.observed(st), nil
}

// failedObserved keeps what the host last reported of a vNIC, with the
// reason the new desired state could not be applied.
func failedObserved(prev *vwire.NICObserved, why string) *vwire.NICObserved {
	o := vwire.NICObserved{}
	if prev != nil {
		o = *prev
	}
	o.Error = why
	return &o
}

// fanOutEvent is the VM's one event: applied to every vNIC, or oVirt's
// alert naming the vNICs that were not (with the hosts' reasons).
func (e *Engine) fanOutEvent(ctx context.Context, c *vmCtx, r fanOutResult) *event {
	names := func(ns []*vwire.NIC) string {
		s := make([]string, len(ns))
		for i, n := range ns {
			s[i] = n.Name
		}
		return strings.Join(s, ", ")
	}
	profiles := map[string]bool{}
	for _, n := range append(slices.Clone(r.applied), r.failed...) {
		profiles[n.ProfileName] = true
	}
	pnames := make([]string, 0, len(profiles))
	for p := range profiles {
		pnames = append(pnames, p)
	}
	slices.Sort(pnames)
	if len(r.failed) > 0 {
		return newEvent(ctx, evProfileNotApplied, "ProfileName", strings.Join(pnames, ", "), "VnicNames", names(r.failed),
			"Reason", strings.Join(r.reasons, "; ")).vm(c.vm).host(c.host)
	}
	return newEvent(ctx, evProfileApplied, "ProfileName", strings.Join(pnames, ", "), "VnicNames", names(r.applied)).vm(c.vm).host(c.host)
}

// The fan-out's events: oVirt's alert for vNICs a profile change did not
// reach (VNICS_OUT_OF_SYNC_ON_PROFILE_UPDATE, with the hosts' reasons
// added), and vwire's own for a change applied to every vNIC of a VM.
var (
	evProfileNotApplied      = auditType{11292, vwire.SevAlert, "Update to network interface profile ${ProfileName} was not applied to virtual network interfaces [${VnicNames}] of VM ${VmName}. The actual configuration on the interfaces may differ from the displayed one. Reason: ${Reason}"}
	evFilterParamsNotApplied = auditType{12121, vwire.SevWarning, "The network filter parameters of Interface ${InterfaceName} of VM ${VmName} are stored but were not applied on host ${VdsName}: ${Reason}"}
	evProfileApplied         = auditType{12120, vwire.SevNormal, "Update to network interface profile ${ProfileName} was applied live to virtual network interfaces [${VnicNames}] of VM ${VmName} on host ${VdsName}."}
)

// applyFilterParams pushes a vNIC's changed filter parameters to its
// running device, after the change committed.
func (e *Engine) applyFilterParams(ctx context.Context, op vwire.Op, vmID, nicID string) {
	ctx, cancel := e.detach(ctx)
	defer cancel()
	if err := e.applyProfiles(ctx, op, vmID, map[string]bool{nicID: true}, true); err != nil {
		e.log.WarnContext(ctx, "cannot apply filter parameters to a running vNIC", "vm", vmID, "nic", nicID, "err", err)
	}
}
