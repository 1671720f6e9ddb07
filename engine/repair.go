package engine

import (
	"context"
	"errors"
	"strings"

	"vwire.dev/vwire"
)

// An engine that dies between a host call and the commit that records it
// leaves a change in flight (pending_changes), as does a call whose outcome
// its engine could not learn. The poller of the VM's host settles such a
// change once it is marked unknown or its engine stopped beating
// (outcome.go). A record without an intent is repaired here: the host is
// made to match the desired state the database holds (the unacknowledged
// change is rolled back) and the MAC leases the change had taken are freed.

// beat records that this engine is alive, and in the same statement's
// transaction renews every host lease it holds: that one write per beat is
// all an idle fleet costs, whatever its size. Both are needed only with
// several engines on one database (another takes over a dead engine's
// hosts and settles its changes in flight), but an engine cannot know that
// none will join. Changes in flight of an engine that stopped beating are
// repaired by others.
func (e *Engine) beat(ctx context.Context) {
	now := e.now()
	if now.UnixMilli()-e.lastBeat.Load() < e.leaseTTL().Milliseconds()/3 {
		return // recent enough: an unchanged fleet costs no write
	}
	var held []string
	until := now.Add(e.leaseTTL())
	if err := e.store.Update(ctx, func(tx vwire.Tx) (err error) {
		if err := tx.Heartbeat(e.id, now); err != nil {
			return err
		}
		held, err = tx.RenewHostLeases(e.id, until)
		return err
	}); err != nil {
		e.log.WarnContext(ctx, "cannot record the engine's heartbeat", "err", err)
		return
	}
	e.lastBeat.Store(now.UnixMilli())
	// The database says which leases are still this engine's: one taken
	// over while renewals failed is dropped here.
	e.leasesMu.Lock()
	clear(e.leases)
	for _, id := range held {
		e.leases[id] = until
	}
	e.leasesMu.Unlock()
}

// repairStale settles the changes in flight on a host's VMs that nobody
// carries out: outcomes their engine could not learn, and changes that
// outlived their engine.
func (e *Engine) repairStale(ctx context.Context, h *vwire.Host) {
	var stale []vwire.Pending
	if err := e.store.View(ctx, func(tx vwire.Tx) (err error) {
		// A change older than any operation's budget (detach) has ended,
		// whatever its engine failed to record.
		stale, err = tx.UnsettledPending(h.ID, e.now().Add(-e.leaseTTL()), e.now().Add(-e.opBudget()-e.leaseTTL()))
		return err
	}); err != nil || len(stale) == 0 {
		return
	}
	for _, p := range stale {
		if err := e.repairVM(ctx, p); err != nil {
			e.log.ErrorContext(ctx, "cannot settle an interrupted change yet", "vm", p.VMID, "host", h.Name, "err", err)
		}
	}
}

func (e *Engine) repairVM(ctx context.Context, p vwire.Pending) error {
	unlock, err := e.store.LockVM(ctx, p.VMID)
	if err != nil {
		return err
	}
	defer unlock()
	ctx = vwire.VMScoped(ctx) // the VM is locked: its writes may run READ COMMITTED
	// Finished meanwhile, by its engine or another repair?
	var cur *vwire.Pending
	if err := e.store.View(ctx, func(tx vwire.Tx) (err error) { cur, err = tx.PendingOf(p.VMID); return }); err != nil || cur == nil || !cur.Equal(p) {
		return err
	}
	_, err = e.settleLocked(ctx, p)
	return err
}

// settle settles a VM's change in flight left by an operation that ended
// (with an unknown outcome, or with its engine) before a new one starts.
// The caller holds the VM's lock, so no live operation on this VM can own
// the record it finds.
func (e *Engine) settle(ctx context.Context, vmID string) error {
	ctx, cancel := e.detach(ctx)
	defer cancel()
	var p *vwire.Pending
	if err := e.store.View(ctx, func(tx vwire.Tx) (err error) { p, err = tx.PendingOf(vmID); return }); err != nil || p == nil {
		return err
	}
	_, err := e.settleLocked(ctx, *p)
	return unsettledError(err)
}

// unsettledError tells a client why its operation cannot run yet.
func unsettledError(err error) error {
	var se *settleError
	if errors.As(err, &se) {
		return vwire.New(vwire.MsgChangeUnsettled).Wrap(err)
	}
	return err
}

// repairLocked makes the VM's host match the database and clears the
// change in flight; the caller holds the VM's lock.
func (e *Engine) repairLocked(ctx context.Context, p vwire.Pending) error {
	var vm *vwire.VM
	var nics []*vwire.NIC
	var h *vwire.Host
	err := e.store.View(ctx, func(tx vwire.Tx) (err error) {
		if vm, err = tx.VM(p.VMID); err != nil {
			return err
		}
		if vm.HostID != "" {
			if h, err = tx.Host(vm.HostID); err != nil {
				return err
			}
		}
		nics, err = tx.NICs(p.VMID)
		return err
	})
	if err != nil {
		return err
	}
	if h != nil {
		c := e.client(h)
		stats, err := c.AllVMStats(ctx)
		if err != nil {
			return err
		}
		for _, st := range stats {
			if st.VMID == vm.ID && (vm.Status == vwire.VMUp || vm.Status == vwire.VMPoweringUp) {
				if err := e.converge(ctx, c, vm.ID, nics, st, ""); err != nil {
					return err
				}
			}
		}
	}
	keep := ""
	for _, n := range nics {
		if n.ID == p.NICID {
			keep = n.MAC
		}
	}
	e.log.WarnContext(ctx, "repaired a change its engine left unfinished", "vm", vm.Name, "engine", p.EngineID)
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		if p.NICID != "" {
			if err := tx.ReleaseStrayLeases(p.NICID, keep); err != nil {
				return err
			}
		}
		// The VM's generation moves, so that a poll that began before the
		// repair does not record the devices as they were.
		if err := tx.BumpVMGeneration(vm.ID); err != nil {
			return err
		}
		return e.endChange(tx, vm.ID, vwire.JobAborted)
	})
}

// converge makes a running VM's devices on the host match the database:
// all of them, or with only set, the one vNIC of that id (or its device,
// should the database not know it), leaving the rest to the drift policy.
func (e *Engine) converge(ctx context.Context, c HostClient, vmID string, nics []*vwire.NIC, st HostVM, only string) error {
	live := map[string]HostNIC{}
	for _, d := range st.NICs {
		if only == "" || d.Alias == "ua-"+only {
			live[d.Alias] = d
		}
	}
	for _, n := range nics {
		if only != "" && n.ID != only {
			continue
		}
		// The host's device, compared with n field by field as drift is
		// (vwire.NICFields): what a user's change from it to n would do.
		host := vwire.ObservedNIC(withReport(e, n, live))
		diff := vwire.DiffNIC(&host, n)
		d := live[n.Alias()]
		delete(live, n.Alias())
		switch {
		case diff.Replug() || diff.Action() == vwire.ActionUnplug:
			if err := c.HotunplugNIC(ctx, vmID, HostDevice{Alias: n.Alias(), MAC: d.MAC}); err != nil {
				return err
			}
			if n.Plugged {
				if _, err := c.HotplugNIC(ctx, vmID, device(n)); err != nil {
					return err
				}
			}
		case diff.Action() == vwire.ActionPlug:
			if _, err := c.HotplugNIC(ctx, vmID, device(n)); err != nil {
				return err
			}
		case diff.Action() == vwire.ActionUpdate:
			if _, err := c.UpdateNIC(ctx, vmID, updateParams(n)); err != nil {
				return err
			}
		}
	}
	// Devices vwire plugged that the database does not know: an add that
	// never committed.
	for alias, d := range live {
		if strings.HasPrefix(alias, "ua-") {
			if err := c.HotunplugNIC(ctx, vmID, HostDevice{Alias: alias, MAC: d.MAC}); err != nil {
				return err
			}
		}
	}
	return nil
}
