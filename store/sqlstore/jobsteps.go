package sqlstore

import "vwire.dev/vwire"

var _ vwire.JobStepUpdater = (*Tx)(nil)

// UpdateJobStep rewrites a step of a bulk job as its VM is handled; the
// job's last_updated follows, so that a client polling the job sees it move.
func (t *Tx) UpdateJobStep(s *vwire.JobStep) error {
	if err := t.execOne("Step", s.ID, `UPDATE job_steps SET description = ?, status = ?, start_time = ?, end_time = ? WHERE id = ?`,
		s.Description, string(s.Status), millis(s.Start), millis(s.End), s.ID); err != nil {
		return err
	}
	at := s.Start
	if s.End.After(at) {
		at = s.End
	}
	_, err := t.exec(`UPDATE jobs SET last_updated = ? WHERE id = ?`, millis(at), s.JobID)
	return err
}
