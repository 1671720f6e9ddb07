package sqlstore

import (
	"database/sql"
	"strings"
	"time"

	"vwire.dev/vwire"
)

// ---- jobs and their steps

const jobCols = `id, description, status, correlation_id, owner_id, owner_name, start_time, end_time, last_updated`

func scanJob(s interface{ Scan(...any) error }) (*vwire.Job, error) {
	var j vwire.Job
	var start, end, updated int64
	if err := s.Scan(&j.ID, &j.Description, &j.Status, &j.CorrelationID, &j.OwnerID, &j.OwnerName, &start, &end, &updated); err != nil {
		return nil, err
	}
	j.Start, j.End, j.LastUpdated = fromMillis(start), fromMillis(end), fromMillis(updated)
	return &j, nil
}

func (t *Tx) CreateJob(j *vwire.Job, steps ...*vwire.JobStep) error {
	q := `INSERT INTO jobs (` + jobCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	args := []any{j.ID, j.Description, string(j.Status), j.CorrelationID, j.OwnerID, j.OwnerName,
		millis(j.Start), millis(j.End), millis(j.LastUpdated)}
	if len(steps) > 0 && t.db.d.name() == "postgres" {
		// One round trip: the job's insert a data-modifying CTE of its
		// steps' (the steps' foreign key is checked at the statement's end).
		sq, sargs := stepsInsert(steps)
		_, err := t.exec(`WITH j AS (`+q+`) `+sq, append(args, sargs...)...)
		return err
	}
	if _, err := t.exec(q, args...); err != nil {
		return err
	}
	return t.CreateJobStep(steps...)
}

func (t *Tx) EndJob(id string, status vwire.JobStatus, at time.Time) error {
	started := string(vwire.JobStarted)
	if t.db.d.name() == "postgres" {
		// One statement, one round trip: the steps' update as a
		// data-modifying CTE of the job's (PostgreSQL runs both).
		_, err := t.exec(`WITH s AS (UPDATE job_steps SET status = $1, end_time = $2 WHERE job_id = $3 AND status = $4)
			UPDATE jobs SET status = $1, end_time = $2, last_updated = $2 WHERE id = $3 AND status = $4`,
			string(status), millis(at), id, started)
		return err
	}
	if _, err := t.exec(`UPDATE job_steps SET status = ?, end_time = ? WHERE job_id = ? AND status = ?`,
		string(status), millis(at), id, started); err != nil {
		return err
	}
	_, err := t.exec(`UPDATE jobs SET status = ?, end_time = ?, last_updated = ? WHERE id = ? AND status = ?`,
		string(status), millis(at), millis(at), id, started)
	return err
}

func (t *Tx) Job(id string) (*vwire.Job, error) {
	var j *vwire.Job
	err := t.one("Job", id, func(r *sql.Row) (err error) { j, err = scanJob(r); return },
		`SELECT `+jobCols+` FROM jobs WHERE id = ?`, id)
	return j, err
}

func (t *Tx) Jobs(f vwire.JobFilter) ([]*vwire.Job, error) {
	w := new(where).eq("owner_id", f.OwnerID).eq("correlation_id", f.CorrelationID)
	return list(t, func(r *sql.Rows) (*vwire.Job, error) { return scanJob(r) },
		`SELECT `+jobCols+` FROM jobs`+w.sql("start_time DESC, id", f.Max), w.args...)
}

const stepCols = `id, job_id, number, type, description, status, start_time, end_time`

func scanStep(s interface{ Scan(...any) error }) (*vwire.JobStep, error) {
	var st vwire.JobStep
	var start, end int64
	if err := s.Scan(&st.ID, &st.JobID, &st.Number, &st.Type, &st.Description, &st.Status, &start, &end); err != nil {
		return nil, err
	}
	st.Start, st.End = fromMillis(start), fromMillis(end)
	return &st, nil
}

// CreateJobStep inserts steps in one statement (a change opens two).
func (t *Tx) CreateJobStep(steps ...*vwire.JobStep) error {
	if len(steps) == 0 {
		return nil
	}
	q, args := stepsInsert(steps)
	_, err := t.exec(q, args...)
	return err
}

// stepsInsert is the one INSERT of several job steps.
func stepsInsert(steps []*vwire.JobStep) (string, []any) {
	q := `INSERT INTO job_steps (` + stepCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)` +
		strings.Repeat(`, (?, ?, ?, ?, ?, ?, ?, ?)`, len(steps)-1)
	args := make([]any, 0, 8*len(steps))
	for _, s := range steps {
		args = append(args, s.ID, s.JobID, s.Number, string(s.Type), s.Description, string(s.Status), millis(s.Start), millis(s.End))
	}
	return q, args
}

func (t *Tx) JobSteps(jobID string) ([]*vwire.JobStep, error) {
	return list(t, func(r *sql.Rows) (*vwire.JobStep, error) { return scanStep(r) },
		`SELECT `+stepCols+` FROM job_steps WHERE job_id = ? ORDER BY number`, jobID)
}

func (t *Tx) DeleteJobsEnded(status vwire.JobStatus, before time.Time) error {
	_, err := t.exec(`DELETE FROM jobs WHERE status = ? AND end_time > 0 AND end_time < ?`, string(status), millis(before))
	return err
}
