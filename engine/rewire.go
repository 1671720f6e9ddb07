package engine

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// A profile rewire is a bulk job (issue 16, point 4): every vNIC using
// profile A, optionally only in a cluster and/or on VMs a search selects,
// moves to profile B. Each vNIC goes through updateNIC, the one use case
// of a vNIC change, so the rules, the VM's lock, the change in flight, the
// host call and the vNIC's own event (934/935) are those of a single
// update: a plugged vNIC of a running VM is changed live, a VM that does
// not run gets a database change.
//
// The job is oVirt's shape with one step per VM, all made when the job is
// (so that the total is known from the first read): a step is "started"
// while it waits and while its VM is handled, then "finished", or "failed"
// with each refused vNIC and its reason (the host's own when it gave one)
// in its description. A client reads progress as the steps that ended
// over all steps. A vNIC the caller may not change is a failed step with
// the refusal, not a failed job.
//
// Concurrency is bounded per host (rewirePerHost VMs at once on one host,
// as a host serialises its libvirt calls per domain anyway and must not
// see a thousand at once) and overall (rewireWorkers), so that a rewire of
// a profile used by thousands of VMs neither floods a host nor the store.
//
// Cancel stops scheduling VMs: a VM being handled finishes, the steps not
// begun end aborted with the job. Retry is a new job over the VMs whose
// step failed, with the same profiles.
//
// The run (its cancel flag, its spec and which VMs failed) lives in this
// engine's memory: a cancel through another engine sharing the database
// ends the job aborted there, and the running engine, which reads the
// job's status as it schedules, stops; a rewire left by an engine that
// stopped is ended aborted on cancel, and cannot be retried (its spec is
// gone): a new rewire with the same request takes what is left, since a
// vNIC already on B no longer uses A.
//
// Authorization: starting a rewire needs CONFIGURE_VM_NETWORK on profile
// B (what every moved vNIC needs on it anyway, VnicProfileUser carries
// it); each vNIC then needs what updateNIC checks (CONFIGURE_VM_NETWORK on
// its VM and on B). Cancel and retry need to see the job (its owner, or an
// administrator).

// OpRewire is the rewire's operation, in the words of refusals.
var OpRewire = vwire.Op{Action: "rewire", Type: "VM network interface profile"}

var (
	opCancelJob = vwire.Op{Action: "cancel", Type: "Job"}
	opRetryJob  = vwire.Op{Action: "retry", Type: "Job"}
)

// The rewire's bounds: VMs handled at once on one host, and in all.
const (
	rewirePerHost = 4
	rewireWorkers = 32
)

// RewireSpec is one rewire request.
type RewireSpec struct {
	FromProfileID, ToProfileID string
	// ClusterID, when set, keeps the VMs of that cluster.
	ClusterID string
	// Search, when set, keeps the VMs it selects (oVirt's VM search).
	Search vwire.Search
	// VMIDs, when set, keeps these VMs only (a retry).
	VMIDs []string
}

// rewireTarget is one VM to rewire: its vNICs on the old profile.
type rewireTarget struct {
	vmID, vmName, hostID string
	nicIDs               []string
	step                 *vwire.JobStep
}

// rewireRun is a rewire running, or ended, on this engine.
type rewireRun struct {
	spec      RewireSpec
	from, to  string // profile names, for descriptions
	cancelled atomic.Bool
	done      chan struct{}
	// checked is when the job's stored status was last read (Unix ms):
	// another engine sharing the database cancels by ending it.
	checked atomic.Int64

	mu     sync.Mutex
	failed []string // VMs whose step failed, once done
}

// rewires are the runs of each engine by job id (a map of the package's
// rather than a field: an engine's struct is not this use case's file). An
// entry goes when its job is no longer stored.
var rewires sync.Map // rewireKey → *rewireRun

type rewireKey struct {
	e     *Engine
	jobID string
}

// rewireRunOf finds a run of this engine.
func (e *Engine) rewireRunOf(jobID string) *rewireRun {
	if r, ok := rewires.Load(rewireKey{e, jobID}); ok {
		return r.(*rewireRun)
	}
	return nil
}

// RewireProfile starts a rewire as a job and returns it at once; the job
// runs in the background (see the top of this file).
func (e *Engine) RewireProfile(ctx context.Context, spec RewireSpec) (*vwire.Job, error) {
	op := OpRewire
	if spec.FromProfileID == "" || spec.ToProfileID == "" {
		return nil, vwire.Incomplete("Action", []string{"vnic_profile.id"}, "rewire")
	}
	if err := e.authorize(ctx, op, on(vwire.PermitConfigureVMNetwork, vwire.ObjProfile, spec.ToProfileID)); err != nil {
		return nil, err
	}
	if err := spec.Search.Check(vwire.SearchVMs, 0); err != nil {
		return nil, err
	}
	e.forgetRewires(ctx)
	run := &rewireRun{spec: spec, done: make(chan struct{})}
	var targets []*rewireTarget
	err := e.store.View(ctx, func(tx vwire.Tx) (err error) {
		from, err := tx.Profile(spec.FromProfileID)
		if err != nil {
			return err
		}
		to, err := tx.Profile(spec.ToProfileID)
		if vwire.ErrorCode(err) == vwire.ENOTFOUND {
			return vwire.Fail(op, vwire.MsgVNICProfileNotExists)
		} else if err != nil {
			return err
		}
		if from.ID == to.ID {
			return vwire.Fail(op, vwire.MsgRewireSameProfile, "profile", from.Name)
		}
		if spec.ClusterID != "" {
			if _, err := tx.Cluster(spec.ClusterID); err != nil {
				return err
			}
		}
		run.from, run.to = from.Name, to.Name
		targets, err = rewireTargets(tx, spec)
		return err
	})
	if err != nil {
		return nil, err
	}
	job, err := e.openRewire(ctx, run, targets)
	if err != nil {
		return nil, err
	}
	rewires.Store(rewireKey{e, job.ID}, run)
	// The job outlives the request that started it, as the user's own.
	go e.runRewire(context.WithoutCancel(ctx), job, run, targets)
	return job, nil
}

// rewireTargets are the VMs with vNICs on the old profile that the spec
// keeps, by name. The store is read whole, not through the caller's
// scope: a vNIC the caller may not change is a failed step saying so.
// One read of vNICs per VM the filters keep (ProfileUsers names VMs and
// templates alike, by name): a store query joining vNICs to VMs under a
// search would spare them, should rewires of tens of thousands of VMs
// matter.
func rewireTargets(tx vwire.Tx, spec RewireSpec) ([]*rewireTarget, error) {
	vms, err := tx.VMs(vwire.VMFilter{ClusterID: spec.ClusterID, Search: vwire.Search{Where: spec.Search.Where}})
	if err != nil {
		return nil, err
	}
	var only map[string]bool
	if spec.VMIDs != nil {
		only = map[string]bool{}
		for _, id := range spec.VMIDs {
			only[id] = true
		}
	}
	var out []*rewireTarget
	for _, vm := range vms {
		if only != nil && !only[vm.ID] {
			continue
		}
		nics, err := tx.NICs(vm.ID)
		if err != nil {
			return nil, err
		}
		t := &rewireTarget{vmID: vm.ID, vmName: vm.Name, hostID: vm.HostID}
		for _, n := range nics {
			if n.ProfileID == spec.FromProfileID {
				t.nicIDs = append(t.nicIDs, n.ID)
			}
		}
		if len(t.nicIDs) > 0 {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b *rewireTarget) int { return strings.Compare(a.vmName+a.vmID, b.vmName+b.vmID) })
	return out, nil
}

// rewireStepText is a step's description: it always begins with the VM's
// name, so that a client can show per-VM results ("VM name: what").
func rewireStepText(vmName, what string) string { return "VM " + vmName + ": " + what }

// openRewire records the job with one waiting step per VM, and its start
// event, in one transaction.
func (e *Engine) openRewire(ctx context.Context, run *rewireRun, targets []*rewireTarget) (*vwire.Job, error) {
	now := e.now()
	p, _ := PrincipalOf(ctx)
	nics := 0
	for _, t := range targets {
		nics += len(t.nicIDs)
	}
	job := &vwire.Job{ID: uuid.NewString(), Status: vwire.JobStarted, CorrelationID: correlationOf(ctx),
		OwnerID: p.UserID, OwnerName: userOf(ctx), Start: now, LastUpdated: now,
		Description: fmt.Sprintf("Rewiring %d vNICs of %d VMs from profile %s to profile %s", nics, len(targets), run.from, run.to)}
	err := e.store.Update(ctx, func(tx vwire.Tx) error {
		if _, ok := tx.(vwire.JobStepUpdater); !ok {
			return vwire.New(vwire.MsgInternal)
		}
		if err := tx.CreateJob(job); err != nil {
			return err
		}
		for i, t := range targets {
			t.step = &vwire.JobStep{ID: uuid.NewString(), JobID: job.ID, Number: i + 1, Type: vwire.StepExecuting,
				Description: rewireStepText(t.vmName, "waiting"), Status: vwire.JobStarted, Start: now}
			if err := tx.CreateJobStep(t.step); err != nil {
				return err
			}
		}
		if err := e.sweepJobs(tx, now); err != nil {
			return err
		}
		return newEvent(ctx, evRewireStart, "NicCount", strconv.Itoa(nics), "VmCount", strconv.Itoa(len(targets)),
			"FromProfile", run.from, "ToProfile", run.to, "JobId", job.ID).write(tx)
	})
	return job, err
}

// runRewire handles every VM, at most rewirePerHost at once per host (VMs
// that do not run count as one more "host": theirs are database changes)
// and rewireWorkers in all, then ends the job.
func (e *Engine) runRewire(ctx context.Context, job *vwire.Job, run *rewireRun, targets []*rewireTarget) {
	defer close(run.done)
	byHost := map[string][]*rewireTarget{}
	for _, t := range targets {
		byHost[t.hostID] = append(byHost[t.hostID], t)
	}
	slots := make(chan struct{}, rewireWorkers)
	var (
		wg                  sync.WaitGroup
		mu                  sync.Mutex
		done, skipped       int
		failed, failedNames []string
	)
	stop := func() bool { return run.cancelled.Load() || e.rewireEndedElsewhere(ctx, job.ID, run) }
	for _, queue := range byHost {
		next := make(chan *rewireTarget, len(queue))
		for _, t := range queue {
			next <- t
		}
		close(next)
		for range min(rewirePerHost, len(queue)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for t := range next {
					if stop() {
						mu.Lock()
						skipped++
						mu.Unlock()
						continue
					}
					slots <- struct{}{}
					// Cancelled while waiting for a slot: not begun.
					if run.cancelled.Load() {
						<-slots
						mu.Lock()
						skipped++
						mu.Unlock()
						continue
					}
					ok := e.rewireVM(ctx, run, t)
					<-slots
					mu.Lock()
					if ok {
						done++
					} else {
						failed = append(failed, t.vmID)
						failedNames = append(failedNames, t.vmName)
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	run.mu.Lock()
	run.failed = failed
	run.mu.Unlock()

	status, ev := vwire.JobFinished, evRewireDone
	switch {
	case run.cancelled.Load() && skipped > 0: // a cancel after the last VM began changed nothing
		status, ev = vwire.JobAborted, evRewireFailed
	case len(failed) > 0:
		status, ev = vwire.JobFailed, evRewireFailed
	}
	slices.Sort(failedNames)
	if len(failedNames) == 0 {
		failedNames = []string{"none"}
	}
	bctx, cancel := e.background(ctx)
	defer cancel()
	err := e.store.Update(bctx, func(tx vwire.Tx) error {
		// Steps never begun (a cancel) end with the job, aborted.
		if err := tx.EndJob(job.ID, status, e.now()); err != nil {
			return err
		}
		return newEvent(ctx, ev, "FromProfile", run.from, "ToProfile", run.to, "JobId", job.ID, "Status", string(status),
			"Done", strconv.Itoa(done), "Failed", strconv.Itoa(len(failed)), "FailedVms", strings.Join(failedNames, ", "),
			"Skipped", strconv.Itoa(skipped)).write(tx)
	})
	if err != nil {
		e.log.ErrorContext(ctx, "cannot end a rewire job", "job", job.ID, "err", err)
	}
}

// rewireEndedElsewhere says whether the job was ended by another engine
// sharing the database (a cancel there: the run is not in its memory);
// the stored status is read at most every rewireCheckEvery.
func (e *Engine) rewireEndedElsewhere(ctx context.Context, jobID string, run *rewireRun) bool {
	now := e.now().UnixMilli()
	last := run.checked.Load()
	if now-last < rewireCheckEvery.Milliseconds() || !run.checked.CompareAndSwap(last, now) {
		return false
	}
	var j *vwire.Job
	if err := e.store.View(ctx, func(tx vwire.Tx) (err error) { j, err = tx.Job(jobID); return }); err != nil {
		return false // unknown: go on; the steps record what is done
	}
	if j.Status != vwire.JobStarted {
		run.cancelled.Store(true)
		return true
	}
	return false
}

// rewireCheckEvery bounds the reads of a running rewire's stored status.
const rewireCheckEvery = 200 * time.Millisecond

// rewireVM moves one VM's vNICs through updateNIC and records its step:
// started, then finished or failed with each vNIC's reason. It says
// whether every vNIC moved.
func (e *Engine) rewireVM(ctx context.Context, run *rewireRun, t *rewireTarget) bool {
	st := *t.step
	st.Description, st.Start = rewireStepText(t.vmName, fmt.Sprintf("rewiring %d vNICs", len(t.nicIDs))), e.now()
	e.writeStep(ctx, &st)
	// Each vNIC's change is its own (its own job, as any change in flight),
	// not a step of the rewire's job.
	nctx := WithJob(ctx, "")
	to := run.spec.ToProfileID
	var reasons []string
	moved := 0
	for _, id := range t.nicIDs {
		name, err := e.rewireNIC(nctx, t.vmID, id, to)
		if err != nil {
			reasons = append(reasons, name+": "+reason(err))
			continue
		}
		moved++
	}
	st.End, st.Status = e.now(), vwire.JobFinished
	st.Description = rewireStepText(t.vmName, fmt.Sprintf("%d vNICs moved to profile %s", moved, run.to))
	if len(reasons) > 0 {
		st.Status = vwire.JobFailed
		st.Description = rewireStepText(t.vmName, strings.Join(reasons, "; "))
	}
	e.writeStep(ctx, &st)
	return len(reasons) == 0
}

// rewireNIC moves one vNIC, unless it left the old profile since the job
// was made (someone else moved it: not ours to undo). It returns the
// vNIC's name for the step's text.
func (e *Engine) rewireNIC(ctx context.Context, vmID, nicID, to string) (string, error) {
	name := nicID
	var cur *vwire.NIC
	err := e.store.View(ctx, func(tx vwire.Tx) (err error) { cur, err = tx.NIC(nicID); return })
	if err != nil {
		return name, err
	}
	name = cur.Name
	if cur.ProfileID == to {
		return name, nil
	}
	_, err = e.UpdateNIC(inBulk(ctx), vmID, nicID, vwire.NICPatch{ProfileID: &to})
	return name, err
}

// writeStep records a step's progress; a failure to record it is logged,
// as the VM's change itself has its own record.
func (e *Engine) writeStep(ctx context.Context, st *vwire.JobStep) {
	bctx, cancel := e.background(ctx)
	defer cancel()
	err := e.store.Update(bctx, func(tx vwire.Tx) error { return tx.(vwire.JobStepUpdater).UpdateJobStep(st) })
	if err != nil {
		e.log.ErrorContext(ctx, "cannot record a rewire step", "job", st.JobID, "step", st.ID, "err", err)
	}
}

// CancelJob stops a rewire: no VM is begun after it; a VM being handled
// finishes; the job then ends aborted. A rewire left started by an engine
// that stopped is ended aborted at once. Any other job is refused: a
// single host change cannot be stopped half-way.
func (e *Engine) CancelJob(ctx context.Context, jobID string) (*vwire.Job, error) {
	j, _, err := e.Job(ctx, jobID)
	if err != nil {
		return nil, err
	}
	if run := e.rewireRunOf(jobID); run != nil {
		if j.Status == vwire.JobStarted {
			run.cancelled.Store(true)
		}
		return j, nil
	}
	if j.Status != vwire.JobStarted {
		return nil, vwire.Fail(opCancelJob, vwire.MsgJobNotRunning, "job", jobID, "why", "it has ended "+string(j.Status))
	}
	if !strings.HasPrefix(j.Description, "Rewiring ") {
		return nil, vwire.Fail(opCancelJob, vwire.MsgJobNotRunning, "job", jobID, "why", "a single host change finishes on its own")
	}
	// A rewire no engine of this process runs: another engine sharing the
	// database runs it (it reads the job ended and stops scheduling), or
	// its engine stopped. Either way the job ends aborted now.
	err = e.store.Update(ctx, func(tx vwire.Tx) error { return tx.EndJob(jobID, vwire.JobAborted, e.now()) })
	if err != nil {
		return nil, err
	}
	j, _, err = e.Job(ctx, jobID)
	return j, err
}

// RetryRewire starts a new rewire, with the same profiles, over the VMs
// whose step failed in an ended rewire.
func (e *Engine) RetryRewire(ctx context.Context, jobID string) (*vwire.Job, error) {
	j, _, err := e.Job(ctx, jobID)
	if err != nil {
		return nil, err
	}
	run := e.rewireRunOf(jobID)
	if run == nil {
		return nil, vwire.Fail(opRetryJob, vwire.MsgJobNotRetryable, "job", jobID, "why", "it is not a rewire this engine ran")
	}
	if j.Status == vwire.JobStarted {
		return nil, vwire.Fail(opRetryJob, vwire.MsgJobNotRetryable, "job", jobID, "why", "it is still running")
	}
	run.mu.Lock()
	failed := slices.Clone(run.failed)
	run.mu.Unlock()
	if len(failed) == 0 {
		return nil, vwire.Fail(opRetryJob, vwire.MsgJobNotRetryable, "job", jobID, "why", "no VM failed")
	}
	spec := run.spec
	spec.VMIDs = failed
	return e.RewireProfile(ctx, spec)
}

// WaitRewire waits until a rewire of this process ends, or ctx does; it
// returns at once for any other job.
func (e *Engine) WaitRewire(ctx context.Context, jobID string) error {
	run := e.rewireRunOf(jobID)
	if run == nil {
		return nil
	}
	select {
	case <-run.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// forgetRewires drops the runs whose jobs were cleared, so that the map
// does not grow with every rewire ever run.
func (e *Engine) forgetRewires(ctx context.Context) {
	rewires.Range(func(k, v any) bool {
		key := k.(rewireKey)
		if key.e != e {
			return true
		}
		select {
		case <-v.(*rewireRun).done:
		default:
			return true
		}
		err := e.store.View(ctx, func(tx vwire.Tx) error { _, err := tx.Job(key.jobID); return err })
		if vwire.ErrorCode(err) == vwire.ENOTFOUND {
			rewires.Delete(k)
		}
		return true
	})
}
