package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// testJobStepUpdate: a bulk job's step is rewritten as its VM is handled
// (waiting, started, failed with a reason) and the job's last_updated
// follows; an unknown step is ENOTFOUND.
func testJobStepUpdate(t *testing.T, s vwire.Store) {
	t0 := time.UnixMilli(1700000000000)
	j := &vwire.Job{ID: uuid.NewString(), Description: "Rewiring", Status: vwire.JobStarted, Start: t0, LastUpdated: t0}
	st := &vwire.JobStep{ID: uuid.NewString(), JobID: j.ID, Number: 1, Type: vwire.StepExecuting, Description: "VM a: waiting", Status: vwire.JobStarted, Start: t0}
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.CreateJob(j); err != nil {
			return err
		}
		return tx.CreateJobStep(st)
	})
	st.Description, st.Status, st.End = "VM a: nic1: the host said no", vwire.JobFailed, t0.Add(time.Minute)
	update(t, s, func(tx vwire.Tx) error {
		u, ok := tx.(vwire.JobStepUpdater)
		if !ok {
			t.Fatal("the store's Tx cannot update job steps")
		}
		if err := u.UpdateJobStep(st); err != nil {
			return err
		}
		if err := u.UpdateJobStep(&vwire.JobStep{ID: uuid.NewString(), JobID: j.ID}); vwire.ErrorCode(err) != vwire.ENOTFOUND {
			t.Errorf("unknown step: err = %v, want ENOTFOUND", err)
		}
		return nil
	})
	s.View(ctx(), func(tx vwire.Tx) error {
		steps, err := tx.JobSteps(j.ID)
		if err != nil || len(steps) != 1 || steps[0].Status != vwire.JobFailed || steps[0].Description != st.Description || !steps[0].End.Equal(st.End) {
			t.Errorf("steps = %+v, %v", steps, err)
		}
		if got, err := tx.Job(j.ID); err != nil || !got.LastUpdated.Equal(st.End) || got.Status != vwire.JobStarted {
			t.Errorf("job = %+v, %v; want last_updated at the step's end, still started", got, err)
		}
		return nil
	})
}

// testJobStepsAndEnd: several steps are written in one call, in order, and
// ending the job ends its started steps and leaves finished ones alone.
func testJobStepsAndEnd(t *testing.T, s vwire.Store) {
	t0 := time.UnixMilli(1700000000000)
	j := &vwire.Job{ID: uuid.NewString(), Description: "Updating", Status: vwire.JobStarted, Start: t0, LastUpdated: t0}
	a := &vwire.JobStep{ID: uuid.NewString(), JobID: j.ID, Number: 1, Type: vwire.StepValidating, Description: "Validating", Status: vwire.JobFinished, Start: t0, End: t0}
	b := &vwire.JobStep{ID: uuid.NewString(), JobID: j.ID, Number: 2, Type: vwire.StepExecuting, Description: "Executing", Status: vwire.JobStarted, Start: t0}
	end := t0.Add(time.Second)
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.CreateJob(j); err != nil {
			return err
		}
		if err := tx.CreateJobStep(a, b); err != nil {
			return err
		}
		return tx.EndJob(j.ID, vwire.JobFailed, end)
	})
	s.View(ctx(), func(tx vwire.Tx) error {
		steps, err := tx.JobSteps(j.ID)
		if err != nil || len(steps) != 2 || steps[0].ID != a.ID || steps[1].ID != b.ID {
			t.Fatalf("steps = %+v, %v", steps, err)
		}
		if steps[0].Status != vwire.JobFinished || !steps[0].End.Equal(t0) {
			t.Errorf("the finished step was changed: %+v", steps[0])
		}
		if steps[1].Status != vwire.JobFailed || !steps[1].End.Equal(end) {
			t.Errorf("the started step: %+v, want failed at the job's end", steps[1])
		}
		if got, err := tx.Job(j.ID); err != nil || got.Status != vwire.JobFailed || !got.End.Equal(end) || !got.LastUpdated.Equal(end) {
			t.Errorf("job = %+v, %v", got, err)
		}
		return nil
	})
}

// testEndChange: ending a change in flight removes it and ends the job it
// names (and the job's started steps) in the same transaction; a change
// with no job is removed alone, and a VM with no change is left as it is.
func testEndChange(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	t0 := time.UnixMilli(1700000000000)
	end := t0.Add(time.Second)
	j := &vwire.Job{ID: uuid.NewString(), Description: "Updating", Status: vwire.JobStarted, Start: t0, LastUpdated: t0}
	st := &vwire.JobStep{ID: uuid.NewString(), JobID: j.ID, Number: 1, Type: vwire.StepExecuting, Description: "Executing", Status: vwire.JobStarted, Start: t0}
	other := &vwire.Job{ID: uuid.NewString(), Description: "Other", Status: vwire.JobStarted, Start: t0, LastUpdated: t0}
	p := vwire.Pending{VMID: f.vm.ID, EngineID: "e1", Started: t0, OpID: "op1", JobID: j.ID}
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.CreateJob(j, st); err != nil { // a job made with its step
			return err
		}
		if err := tx.CreateJob(other); err != nil {
			return err
		}
		return tx.SetPending(p)
	})
	s.View(ctx(), func(tx vwire.Tx) error {
		if got, err := tx.PendingOf(f.vm.ID); err != nil || got == nil || !got.Equal(p) {
			t.Errorf("PendingOf = %+v, %v; want %+v (with its job)", got, err, p)
		}
		return nil
	})
	update(t, s, func(tx vwire.Tx) error { return tx.EndChange(f.vm.ID, vwire.JobFinished, end) })
	check := func(when string) {
		s.View(ctx(), func(tx vwire.Tx) error {
			if got, err := tx.PendingOf(f.vm.ID); got != nil || err != nil {
				t.Errorf("%s: PendingOf = %+v, %v; want none", when, got, err)
			}
			if got, err := tx.Job(j.ID); err != nil || got.Status != vwire.JobFinished || !got.End.Equal(end) {
				t.Errorf("%s: job = %+v, %v; want finished at %v", when, got, err, end)
			}
			if steps, err := tx.JobSteps(j.ID); err != nil || len(steps) != 1 || steps[0].Status != vwire.JobFinished {
				t.Errorf("%s: steps = %+v, %v; want the step finished", when, steps, err)
			}
			if got, err := tx.Job(other.ID); err != nil || got.Status != vwire.JobStarted {
				t.Errorf("%s: another job = %+v, %v; want it untouched", when, got, err)
			}
			return nil
		})
	}
	check("ended")
	// Nothing in flight: nothing changes, no error.
	update(t, s, func(tx vwire.Tx) error { return tx.EndChange(f.vm.ID, vwire.JobFailed, end.Add(time.Hour)) })
	check("ended twice")
	// A change with no job is removed alone.
	update(t, s, func(tx vwire.Tx) error {
		return tx.SetPending(vwire.Pending{VMID: f.vm.ID, EngineID: "e1", Started: t0})
	})
	update(t, s, func(tx vwire.Tx) error { return tx.EndChange(f.vm.ID, vwire.JobFailed, end.Add(time.Hour)) })
	check("a change without a job")
}

// testRead: reads outside a transaction see what was committed, through
// one-row and many-row statements, whether or not the statement is
// prepared yet (the first and later uses).
func testRead(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	n := newNIC(f, "r1", "02:00:00:00:0b:01")
	n.ProfileID = ""
	update(t, s, func(tx vwire.Tx) error { return tx.CreateNIC(n) })
	for i := range 3 {
		if err := s.Read(ctx(), func(tx vwire.Tx) error {
			vm, err := tx.VM(f.vm.ID)
			if err != nil || vm.Name != f.vm.Name {
				t.Errorf("use %d: VM = %+v, %v", i, vm, err)
			}
			if _, err := tx.VM("no-such-vm"); vwire.ErrorCode(err) != vwire.ENOTFOUND {
				t.Errorf("use %d: a missing VM: %v, want ENOTFOUND", i, err)
			}
			nics, err := tx.NICs(f.vm.ID)
			if err != nil || len(nics) != 1 || nics[0].ID != n.ID {
				t.Errorf("use %d: NICs = %d, %v; want the fixture's one", i, len(nics), err)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // the pool-level preparation runs in the background
	}
}
