package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// A host change whose call times out, is cancelled or loses its connection
// has an unknown outcome: it may be on the host. The engine never reports
// such a change as failed. Its record in flight (pending_changes) stays,
// with its reservations (a MAC), and carries the change's intent: what it
// asked of the host. The change is then settled from the host's truth:
// VM.settle fences the call's operation id, so that the host never starts
// it late, and reports the VM's devices once no call on it is in progress.
// A change the host has is recorded (with an event saying it was applied
// late); one it has not is rolled back (reservations freed, and the host
// made to match the database if it holds a third state). Whoever holds the
// VM's lock settles: the request itself right away, else the VM's next
// operation or the poller of its host.

// Kinds of changes in flight.
const (
	kindNIC   = "nic"   // AddNIC's hot plug, or updateNIC's plug, unplug or live update
	kindStart = "start" // StartVM's VM.create
	kindStop  = "stop"  // StopVM's VM.destroy
)

// intent is what a change in flight asks of the host, stored with its record.
type intent struct {
	Kind   string           `json:"kind"`
	Op     vwire.Op         `json:"op"`
	Action vwire.HostAction `json:"action,omitempty"`
	// Add: the vNIC is new (it is not in the database until recorded).
	Add bool `json:"add,omitempty"`
	// Old is the vNIC as the database has it (nil for an add), New as the
	// change makes it.
	Old *vwire.NIC `json:"old,omitempty"`
	New *vwire.NIC `json:"new,omitempty"`
	// Who asked, for the events written when it is settled.
	User        string `json:"user,omitempty"`
	UserID      string `json:"user_id,omitempty"`
	Correlation string `json:"correlation,omitempty"`
	// JobID is the change's job (jobs.go).
	JobID string `json:"job,omitempty"`
	// noJob: a step of a bulk job, which makes no job of its own (inBulk).
	noJob bool
}

func newIntent(ctx context.Context, kind string, op vwire.Op) *intent {
	p, _ := PrincipalOf(ctx)
	return &intent{Kind: kind, Op: op, User: userOf(ctx), UserID: p.UserID, Correlation: correlationOf(ctx), JobID: jobOf(ctx),
		noJob: isBulk(ctx)}
}

// hold is how long the change's own steps may keep the host busy beyond a
// call's usual time: a link bounce's hold.
func (in *intent) hold() time.Duration {
	if in.Action == vwire.ActionUpdate && in.New != nil && in.New.Notify == vwire.NotifyLinkBounce {
		return in.New.BounceHold
	}
	return 0
}

// ctx is a context for the events of the change: who asked, not who settles.
func (in *intent) ctx() context.Context {
	ctx := context.Background()
	if in.User != "" {
		ctx = WithUser(ctx, in.User)
	}
	return WithCorrelation(ctx, in.Correlation)
}

// subject names the change in events.
func (in *intent) subject() string {
	switch in.Kind {
	case kindStart:
		return "the start"
	case kindStop:
		return "the power-off"
	}
	name := ""
	if in.New != nil {
		name = in.New.Name
	}
	if in.Add {
		return "the hot plug of new interface " + name
	}
	return fmt.Sprintf("the %s of interface %s", in.Action, name)
}

// Audit events of settling (vwire's own codes).
var (
	evSettledApplied = auditType{10910, vwire.SevWarning,
		"On VM ${VmName}, ${Change} ended with an unknown outcome; host ${VdsName} had applied it, so it is recorded late. (User: ${UserName})"}
	evSettledRolledBack = auditType{10911, vwire.SevWarning,
		"On VM ${VmName}, ${Change} ended with an unknown outcome; host ${VdsName} had not applied it, so it is rolled back. (User: ${UserName})"}
)

// inFlight is a change marked in flight: its record as written.
type inFlight struct {
	p vwire.Pending
	// kind is its intent's, for the observer (observe.go).
	kind string
}

// markInFlight records a host change in flight on a VM with its intent,
// renewing the engine's heartbeat in the same transaction when a third of
// the lease time has passed since the last one (so that the change never
// looks abandoned while the engine lives, without a heartbeat write per
// change).
func (e *Engine) markInFlight(tx vwire.Tx, vmID, vmName, nicID string, in *intent) (inFlight, error) {
	now := e.now()
	if now.UnixMilli()-e.lastBeat.Load() > e.leaseTTL().Milliseconds()/3 {
		if err := tx.Heartbeat(e.id, now); err != nil {
			return inFlight{}, err
		}
		// Should the transaction roll back, the next beat comes within the
		// lease time all the same.
		e.lastBeat.Store(now.UnixMilli())
	}
	p := vwire.Pending{VMID: vmID, EngineID: e.id, NICID: nicID, Started: now, OpID: uuid.NewString()}
	if in != nil {
		// A step of a bulk job has none of its own: the bulk job's step
		// for its VM says what happened.
		if !in.noJob {
			if err := e.openJob(tx, in, vmName, now); err != nil {
				return inFlight{}, err
			}
		}
		b, err := json.Marshal(in)
		if err != nil {
			return inFlight{}, err
		}
		p.Intent, p.JobID = b, in.JobID
	}
	f := inFlight{p: p}
	if in != nil {
		f.kind = in.Kind
	}
	return f, tx.SetPending(p)
}

// hostCtx is the context of a host call: never the client's, so that a
// client that goes away cannot cut a change half-way; it names the call's
// operation and has its own deadline (the host timeout, plus the time the
// operation's own steps take, such as a link bounce's hold).
func (e *Engine) hostCtx(ctx context.Context, f inFlight, extra time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(WithOp(context.WithoutCancel(ctx), f.p.OpID), e.hostTimeout+extra)
}

// detach gives a use case that holds a VM's lock a context the client
// cannot cancel: once it acts, it finishes and records what it did.
func (e *Engine) detach(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), e.opBudget())
}

// opBudget bounds one use case once it acts: a host call, settling it, and
// a revert, each with the longest hold.
func (e *Engine) opBudget() time.Duration { return 3*e.hostTimeout + vwire.MaxBounceHold }

// settleError: the host could not be asked, the change stays unsettled.
type settleError struct{ err error }

func (e *settleError) Error() string { return "cannot settle: " + e.err.Error() }
func (e *settleError) Unwrap() error { return e.err }

// unknownOutcome handles a host call whose outcome is unknown, in the
// request that made it (which still holds the VM's lock): it settles the
// change now if the host answers, and reports the truth; otherwise it
// marks the change unknown for the next operation or the poller and
// answers that the outcome is not known yet.
func (e *Engine) unknownOutcome(ctx context.Context, f inFlight, h *vwire.Host, generic string, cause error) (applied bool, err error) {
	// Every unknown outcome passes here; settleLocked tells when it is settled.
	e.obs.Change(f.kind, OutcomeUnknown)
	applied, serr := e.settleLocked(ctx, f.p)
	if serr == nil {
		if applied {
			return true, nil
		}
		return false, vwire.New(vwire.MsgHostNotApplied, "generic", generic, "host", h.Name, "cause", cause.Error()).Wrap(cause)
	}
	e.markUnknown(ctx, f.p.VMID, cause)
	e.log.WarnContext(ctx, "outcome of a host call unknown; it will be settled", "vm", f.p.VMID, "host", h.Name, "err", cause, "settle", serr)
	return false, vwire.New(vwire.MsgHostOutcomeUnknown, "generic", generic, "host", h.Name, "cause", cause.Error()).Wrap(cause)
}

// settleLocked settles a VM's change in flight from what its host has; the
// caller holds the VM's lock. It returns whether the change was applied;
// an error leaves the record in flight (the host could not be asked).
func (e *Engine) settleLocked(ctx context.Context, p vwire.Pending) (applied bool, err error) {
	var in intent
	if len(p.Intent) == 0 || json.Unmarshal(p.Intent, &in) != nil {
		// A record without intent: make the host match the database.
		return false, e.repairLocked(ctx, p)
	}
	var vm *vwire.VM
	var h *vwire.Host
	var nics []*vwire.NIC
	var pool string
	err = e.store.View(ctx, func(tx vwire.Tx) (err error) {
		if vm, err = tx.VM(p.VMID); err != nil {
			return err
		}
		if vm.HostID != "" {
			if h, err = tx.Host(vm.HostID); err != nil {
				return err
			}
		}
		cl, err := tx.Cluster(vm.ClusterID)
		if err != nil {
			return err
		}
		pool = cl.MACPoolID
		nics, err = tx.NICs(vm.ID)
		return err
	})
	if err != nil {
		return false, err
	}
	found := false
	var st HostVM
	c := (HostClient)(nil)
	if h != nil {
		c = e.client(h)
		// Long enough for a call in progress on the VM to end: the host
		// answers once it holds the VM's lock.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.hostTimeout+in.hold())
		st, found, err = c.Settle(sctx, vm.ID, p.OpID)
		cancel()
		if err != nil {
			return false, &settleError{err}
		}
	}
	evctx := in.ctx()
	switch in.Kind {
	case kindStart:
		applied = found
	case kindStop:
		applied = !found && h != nil
	default:
		applied = found && nicApplied(in, st)
	}
	if !applied && found && in.Kind == kindNIC {
		// Not applied: make the host match the database, should the
		// change's device be in a third state (others are the drift
		// policy's).
		if err := e.converge(ctx, c, vm.ID, nics, st, p.NICID); err != nil {
			return false, &settleError{err}
		}
	}
	late := newEvent(evctx, evSettledRolledBack, "Change", in.subject()).vm(vm)
	if applied {
		late = newEvent(evctx, evSettledApplied, "Change", in.subject()).vm(vm)
	}
	if h != nil {
		late = late.host(h)
	}
	err = e.store.Update(ctx, func(tx vwire.Tx) error {
		if err := e.recordSettled(evctx, tx, in, p, vm, h, nics, pool, st, applied); err != nil {
			return err
		}
		if err := tx.BumpVMGeneration(vm.ID); err != nil {
			return err
		}
		status := vwire.JobFailed // rolled back
		if applied {
			status = vwire.JobFinished
		}
		if err := e.endChange(tx, vm.ID, status); err != nil {
			return err
		}
		return late.write(tx)
	})
	if err != nil {
		return false, err
	}
	e.obs.Change(in.Kind, OutcomeSettled)
	e.log.WarnContext(ctx, "settled a change with an unknown outcome", "vm", vm.Name, "change", in.subject(), "applied", applied)
	return applied, nil
}

// nicApplied tells whether the host has a vNIC change: its device is as
// the change wants it (the one comparison that decides synced).
func nicApplied(in intent, st HostVM) bool {
	if in.New == nil {
		return false
	}
	n := *in.New
	n.Observed = &vwire.NICObserved{Present: false}
	for _, d := range st.NICs {
		if d.Alias == n.Alias() {
			n.Observed = &vwire.NICObserved{Present: true, Bridge: d.Network, MAC: d.MAC, Model: d.Model, LinkUp: d.LinkActive,
				Mirroring: d.Mirroring, QoS: d.QoS, Filter: d.Filter, FilterParams: d.FilterParams}
		}
	}
	return vwire.ComputeSynced(&n, true)
}

// recordSettled writes a settled change: its result when applied, the
// release of its reservations when not.
func (e *Engine) recordSettled(ctx context.Context, tx vwire.Tx, in intent, p vwire.Pending, vm *vwire.VM, h *vwire.Host,
	nics []*vwire.NIC, pool string, st HostVM, applied bool) error {
	switch in.Kind {
	case kindStart:
		if !applied {
			vm.Status, vm.HostID = vwire.VMDown, ""
			if err := tx.UpdateVM(vm); err != nil {
				return err
			}
			return newEvent(ctx, evVMRunFailed, "DueToError", ": the host did not start it").vm(vm).write(tx)
		}
		vm.Status, vm.StartTime = vwire.VMUp, e.now()
		if err := tx.UpdateVM(vm); err != nil {
			return err
		}
		if err := e.absorbStats(tx, vm, nics, st); err != nil {
			return err
		}
		return newEvent(ctx, evVMRun).vm(vm).host(h).write(tx)
	case kindStop:
		if !applied {
			ev := newEvent(ctx, evVMStopFailed).vm(vm)
			if h != nil {
				ev = ev.host(h)
			}
			return ev.write(tx)
		}
		vm.Status, vm.HostID, vm.StopTime = vwire.VMDown, "", e.now()
		if err := e.markDown(tx, vm, nics); err != nil {
			return err
		}
		return newEvent(ctx, evVMStop).vm(vm).host(h).write(tx)
	}
	var cur *vwire.NIC
	for _, n := range nics {
		if n.ID == p.NICID {
			cur = n
		}
	}
	if !applied || in.New == nil {
		keep := ""
		if cur != nil {
			keep = cur.MAC
		}
		if p.NICID != "" {
			if err := tx.ReleaseStrayLeases(p.NICID, keep); err != nil {
				return err
			}
		}
		subject := in.New
		if subject == nil {
			return nil
		}
		return newEvent(ctx, nicFailEvent(in)).vm(vm).nic(subject).write(tx)
	}
	n := *in.New
	for _, d := range st.NICs {
		if d.Alias == n.Alias() {
			n.Observed = e.observed(d)
		}
	}
	if n.Observed == nil {
		n.Observed = &vwire.NICObserved{Present: false, At: e.now()}
	}
	n.Synced = vwire.ComputeSynced(&n, vm.Status == vwire.VMUp)
	if in.Add || cur == nil {
		if err := tx.CreateNIC(&n); err != nil {
			return err
		}
		if err := tx.SetNICObserved(n.ID, n.Observed, n.Synced); err != nil {
			return err
		}
		return newEvent(ctx, evNicAdd).vm(vm).nic(&n).write(tx)
	}
	if !sameMAC(cur.MAC, n.MAC) {
		if err := releaseMAC(tx, pool, cur.MAC, cur.ID); err != nil {
			return err
		}
	}
	if err := tx.UpdateNIC(&n); err != nil {
		return err
	}
	return nicSuccessEvent(ctx, in.Action, vm, cur, &n).write(tx)
}

func sameMAC(a, b string) bool {
	x, okx := vwire.ParseMAC(a)
	y, oky := vwire.ParseMAC(b)
	return okx && oky && x == y || a == b
}

// nicFailEvent is oVirt's failure event of a vNIC change.
func nicFailEvent(in intent) auditType {
	switch {
	case in.Add:
		return evNicAddFailed
	case in.Action == vwire.ActionPlug:
		return evNicPlugFailed
	case in.Action == vwire.ActionUnplug:
		return evNicUnplugFailed
	}
	return evNicUpdateFailed
}

// nicSuccessEvent is oVirt's event of a recorded vNIC change.
func nicSuccessEvent(ctx context.Context, action vwire.HostAction, vm *vwire.VM, old, n *vwire.NIC) *event {
	switch action {
	case vwire.ActionPlug:
		return newEvent(ctx, evNicPlug).vm(vm).nic(n)
	case vwire.ActionUnplug:
		return newEvent(ctx, evNicUnplug).vm(vm).nic(n)
	}
	link := " "
	if n.Linked != old.Linked {
		link = evLinkDown
		if n.Linked {
			link = evLinkUp
		}
	}
	return newEvent(ctx, evNicUpdate, "LinkState", link).vm(vm).nic(n)
}
