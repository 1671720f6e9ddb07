package engine

import (
	"context"
	"time"

	"vwire.dev/vwire"
)

// executor does one planned host action: it makes the host call on hctx
// (the call's own context, see hostCtx), registers on u the undo of what
// the host did (run on ctx, should recording it fail), and returns what the
// host reports of the vNIC.
type executor func(e *Engine, ctx, hctx context.Context, c *vmCtx, p *hostPlan, u *undo) (*vwire.NICObserved, error)

// executors holds one executor per host action.
var executors = map[vwire.HostAction]executor{
	vwire.ActionPlug:   (*Engine).execPlug,
	vwire.ActionUnplug: (*Engine).execUnplug,
	vwire.ActionUpdate: (*Engine).execUpdate,
}

func (e *Engine) execPlug(ctx, hctx context.Context, c *vmCtx, p *hostPlan, u *undo) (*vwire.NICObserved, error) {
	st, err := e.client(c.host).HotplugNIC(hctx, c.vm.ID, p.dev)
	if err != nil {
		return nil, err
	}
	u.add(func() {
		e.revertHost(ctx, c, "unplug", func(ctx context.Context, h HostClient) error { return h.HotunplugNIC(ctx, c.vm.ID, p.dev) })
	})
	return e.observed(st), nil
}

func (e *Engine) execUnplug(ctx, hctx context.Context, c *vmCtx, p *hostPlan, u *undo) (*vwire.NICObserved, error) {
	if err := e.client(c.host).HotunplugNIC(hctx, c.vm.ID, p.dev); err != nil {
		return nil, err
	}
	u.add(func() {
		e.revertHost(ctx, c, "plug", func(ctx context.Context, h HostClient) error {
			_, err := h.HotplugNIC(ctx, c.vm.ID, p.dev)
			return err
		})
	})
	return &vwire.NICObserved{Present: false, At: e.now()}, nil
}

func (e *Engine) execUpdate(ctx, hctx context.Context, c *vmCtx, p *hostPlan, u *undo) (*vwire.NICObserved, error) {
	st, err := e.client(c.host).UpdateNIC(hctx, c.vm.ID, p.update)
	if err != nil {
		return nil, err
	}
	u.add(func() {
		e.revertHost(ctx, c, "update", func(ctx context.Context, h HostClient) error {
			_, err := h.UpdateNIC(ctx, c.vm.ID, p.revert)
			return err
		})
	})
	return e.observed(st), nil
}

// applyNIC does a planned vNIC change marked in flight (f) on the VM's host
// and records it. The change's reservations are undone by release: on a
// definite failure (with the plan's failure event), or should the record
// fail, after the host change is undone (unless that undo failed: then the
// change stays in flight, marked unknown, to be settled). An unknown
// outcome is settled from the host. On success, record writes n, which has
// the host's report, and clears the change in flight.
func (e *Engine) applyNIC(ctx context.Context, c *vmCtx, f inFlight, p hostPlan, n *vwire.NIC, release, record func(vwire.Tx) error) (*vwire.NIC, error) {
	var u undo
	defer u.run()
	u.add(func() {
		if !c.dirty {
			e.abort(ctx, c.vm.ID, release, nil)
		}
	})
	hctx, hcancel := e.hostCtx(ctx, f, p.hold)
	start := time.Now()
	obs, err := executors[p.action](e, ctx, hctx, c, &p, &u)
	hcancel()
	// One line per host action of a change, as oVirt's engine.log has one
	// per command: with the request's id (the log handler adds it from
	// ctx), it ties the REST request to the agent's log of the same call.
	attrs := []any{"action", p.action.String(), "vm", c.vm.Name, "nic", n.Name, "host", c.host.Name, "op", f.p.OpID, "duration", time.Since(start)}
	if err != nil {
		attrs = append(attrs, "err", err.Error())
	}
	e.log.InfoContext(ctx, "vNIC host action", attrs...)
	if isUnknown(err) {
		u.success() // the reservation stays with the change until it is settled
		if applied, err := e.unknownOutcome(ctx, f, c.host, p.generic, err); !applied {
			return nil, err
		}
		return e.NIC(ctx, c.vm.ID, n.ID)
	}
	if err != nil {
		u.success()
		e.abort(ctx, c.vm.ID, release, newEvent(ctx, p.failEvent).vm(c.vm).nic(p.failNIC))
		e.obs.Change(f.kind, OutcomeRefused) // every vNIC change's host failure ends here
		return nil, hostError(p.generic, c.host, err)
	}
	n.Observed = obs
	n.Synced = vwire.ComputeSynced(n, true)
	if err := e.store.Update(ctx, record); err != nil {
		return nil, err
	}
	u.success()
	e.obs.Change(f.kind, OutcomeApplied) // and every vNIC change the host did, here
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
		if err := e.endChange(tx, vmID, vwire.JobFailed); err != nil {
			return err
		}
		if ev != nil {
			return ev.write(tx)
		}
		return nil
	})
	if err != nil {
		e.log.ErrorContext(ctx, "cannot record the end of a failed change; the poller settles it once it is older than any operation", "vm", vmID, "err", err)
	}
}

// revertHost undoes a host change after the database refused to record it.
// A revert that fails leaves the host changed: the change then stays in
// flight with its reservations (c.dirty), marked unknown, and is settled
// from the host (recorded, since the host has it) instead of aborted.
func (e *Engine) revertHost(ctx context.Context, c *vmCtx, what string, fn func(context.Context, HostClient) error) {
	ctx, cancel := e.background(ctx)
	defer cancel()
	if err := fn(ctx, e.client(c.host)); err != nil {
		e.log.ErrorContext(ctx, "cannot revert a host change the database refused; it stays in flight to be settled",
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
		e.log.ErrorContext(ctx, "cannot mark a change in flight unknown", "vm", vmID, "cause", cause, "err", err)
	}
}
