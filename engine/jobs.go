package engine

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// Jobs (oVirt's /jobs): every host change in flight is a job, written in
// the transaction that marks it in flight (a validating step, done, and an
// executing step, running) and ended in the transaction that clears it:
// finished, failed (refused, or rolled back when settled), or aborted (left
// by an engine that died, repaired by another). A change whose outcome is
// unknown stays started until it is settled. A job made before its
// operation (async=true: its id is answered at once) is the one the
// operation then uses.

type jobKey struct{}

// WithJob makes the operation run under ctx use an existing job.
func WithJob(ctx context.Context, jobID string) context.Context {
	return context.WithValue(ctx, jobKey{}, jobID)
}

func jobOf(ctx context.Context) string {
	id, _ := ctx.Value(jobKey{}).(string)
	return id
}

type bulkKey struct{}

// inBulk marks the changes made under ctx as steps of a bulk job (a
// rewire) that accounts for them: they make no job of their own, so that a
// thousand vNICs moved are one job in /jobs, not a thousand and one.
func inBulk(ctx context.Context) context.Context { return context.WithValue(ctx, bulkKey{}, true) }

func isBulk(ctx context.Context) bool { b, _ := ctx.Value(bulkKey{}).(bool); return b }

// How long ended jobs are kept, as oVirt's defaults clear them.
const (
	keepFinishedJobs = 10 * time.Minute
	keepFailedJobs   = time.Hour
)

// jobDescription says what a change does, in oVirt's words.
func (in *intent) jobDescription(vmName string) string {
	switch in.Kind {
	case kindStart:
		return "Launching VM " + vmName
	case kindStop:
		return "Stopping VM " + vmName
	}
	name := ""
	if in.New != nil {
		name = in.New.Name
	}
	switch {
	case in.Add:
		return "Adding Interface " + name + " to VM " + vmName
	case in.Action == vwire.ActionPlug:
		return "Plugging Interface " + name + " of VM " + vmName
	case in.Action == vwire.ActionUnplug:
		return "Unplugging Interface " + name + " of VM " + vmName
	}
	return "Updating Interface " + name + " of VM " + vmName
}

// openJob records the job of a change being marked in flight (or adds its
// steps to the job made for it) and sets in.JobID.
func (e *Engine) openJob(tx vwire.Tx, in *intent, vmName string, now time.Time) error {
	created := in.JobID == ""
	if created {
		in.JobID = uuid.NewString()
	}
	steps := []*vwire.JobStep{
		{Type: vwire.StepValidating, Description: "Validating", Status: vwire.JobFinished, End: now},
		{Type: vwire.StepExecuting, Description: "Executing on the host", Status: vwire.JobStarted},
	}
	for i, s := range steps {
		s.ID, s.JobID, s.Number, s.Start = uuid.NewString(), in.JobID, i+1, now
	}
	if !created {
		return tx.CreateJobStep(steps...)
	}
	j := &vwire.Job{ID: in.JobID, Description: in.jobDescription(vmName), Status: vwire.JobStarted,
		CorrelationID: in.Correlation, OwnerID: in.UserID, OwnerName: in.User, Start: now, LastUpdated: now}
	if err := tx.CreateJob(j, steps...); err != nil {
		return err
	}
	return e.sweepJobs(tx, now)
}

// sweepJobs clears ended jobs past their keeping time, at most once a minute.
func (e *Engine) sweepJobs(tx vwire.Tx, now time.Time) error {
	last := e.lastJobSweep.Load()
	if now.UnixMilli()-last < time.Minute.Milliseconds() || !e.lastJobSweep.CompareAndSwap(last, now.UnixMilli()) {
		return nil
	}
	if err := tx.DeleteJobsEnded(vwire.JobFinished, now.Add(-keepFinishedJobs)); err != nil {
		return err
	}
	for _, s := range []vwire.JobStatus{vwire.JobFailed, vwire.JobAborted} {
		if err := tx.DeleteJobsEnded(s, now.Add(-keepFailedJobs)); err != nil {
			return err
		}
	}
	return nil
}

// endChange clears a VM's change in flight and ends its job with status,
// in tx.
func (e *Engine) endChange(tx vwire.Tx, vmID string, status vwire.JobStatus) error {
	return tx.EndChange(vmID, status, e.now())
}

// BeginJob records a job for an operation about to run in the background
// (async=true), so that its id can be answered at once; run the operation
// with WithJob, then FinishJob with its error.
func (e *Engine) BeginJob(ctx context.Context, description string) (*vwire.Job, error) {
	now := e.now()
	p, _ := PrincipalOf(ctx)
	j := &vwire.Job{ID: uuid.NewString(), Description: description, Status: vwire.JobStarted, CorrelationID: correlationOf(ctx),
		OwnerID: p.UserID, OwnerName: userOf(ctx), Start: now, LastUpdated: now}
	err := e.store.Update(ctx, func(tx vwire.Tx) error {
		if err := tx.CreateJob(j); err != nil {
			return err
		}
		return e.sweepJobs(tx, now)
	})
	return j, err
}

// FinishJob ends a job made by BeginJob once its operation returned: an
// operation refused before it reached a host never touched the job, and
// fails it here with a step saying why; one that reached a host ended it
// already, unless its outcome is unknown (left started, to be settled).
func (e *Engine) FinishJob(ctx context.Context, jobID string, opErr error) {
	ctx, cancel := e.background(ctx)
	defer cancel()
	err := e.store.Update(ctx, func(tx vwire.Tx) error {
		steps, err := tx.JobSteps(jobID)
		if err != nil || len(steps) > 0 {
			return err // the change reached its host: its record ends it
		}
		now := e.now()
		status, desc := vwire.JobFinished, "Validating"
		if opErr != nil {
			var ve *vwire.Error
			status = vwire.JobFailed
			if errors.As(opErr, &ve) {
				desc = "Validating: " + ve.Text()
			}
		}
		if err := tx.CreateJobStep(&vwire.JobStep{ID: uuid.NewString(), JobID: jobID, Number: 1, Type: vwire.StepValidating,
			Description: desc, Status: status, Start: now, End: now}); err != nil {
			return err
		}
		return tx.EndJob(jobID, status, now)
	})
	if err != nil {
		e.log.ErrorContext(ctx, "cannot end a job", "job", jobID, "err", err)
	}
}

// Jobs lists the jobs the caller may see: all for an administrator, else
// its own.
func (e *Engine) Jobs(ctx context.Context, f vwire.JobFilter) ([]*vwire.Job, error) {
	var out []*vwire.Job
	err := e.view(ctx, func(tx vwire.Tx) error {
		s, err := scopeOf(ctx, tx)
		if err != nil {
			return err
		}
		if !s.admin() {
			f.OwnerID = s.user
		}
		out, err = tx.Jobs(f)
		return err
	})
	return out, err
}

// Job reads a job the caller may see, with its steps.
func (e *Engine) Job(ctx context.Context, id string) (*vwire.Job, []*vwire.JobStep, error) {
	var j *vwire.Job
	var steps []*vwire.JobStep
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		if j, err = tx.Job(id); err != nil {
			return err
		}
		s, err := scopeOf(ctx, tx)
		if err != nil {
			return err
		}
		if !s.admin() && j.OwnerID != s.user {
			return vwire.NotFound("Job", id)
		}
		steps, err = tx.JobSteps(id)
		return err
	})
	return j, steps, err
}
