package vwire

import "time"

// JobStatus is a job's or step's state, oVirt's names.
type JobStatus string

const (
	JobStarted  JobStatus = "started"
	JobFinished JobStatus = "finished"
	JobFailed   JobStatus = "failed"
	JobAborted  JobStatus = "aborted"
)

// StepType is what a step of a job does, oVirt's names.
type StepType string

const (
	StepValidating StepType = "validating"
	StepExecuting  StepType = "executing"
	StepFinalizing StepType = "finalizing"
)

// Job is one long operation (a VM's start or stop, a vNIC's hot plug,
// unplug or live change), as oVirt's /jobs shows it: who started it, with
// which correlation id, and where it is.
type Job struct {
	ID            string
	Description   string
	Status        JobStatus
	CorrelationID string
	OwnerID       string // the user who started it ("" for the engine itself)
	OwnerName     string
	Start, End    time.Time // End is zero while it runs
	LastUpdated   time.Time
}

// JobStep is one step of a job.
type JobStep struct {
	ID          string
	JobID       string
	Number      int
	Type        StepType
	Description string
	Status      JobStatus
	Start, End  time.Time
}

// JobFilter selects jobs, newest first: by owner, by correlation id.
type JobFilter struct {
	OwnerID, CorrelationID string
	Max                    int
}

// JobStepUpdater is the part of a store's Tx that rewrites a step as its
// work goes on: a bulk job (a profile rewire) has one step per VM, each
// waiting, then started, then finished or failed with the host's reason,
// so that the job shows its progress while it runs. It is not in JobTx
// (store.go) so that a store without it still builds; the engine refuses
// a bulk job on such a store.
type JobStepUpdater interface {
	// UpdateJobStep writes a step's description, status and times, and
	// marks its job updated at the step's latest time.
	UpdateJobStep(*JobStep) error
}
