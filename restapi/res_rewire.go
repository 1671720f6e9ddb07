package restapi

import (
	"net/http"
	"strings"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
)

// A profile rewire, a vwire extension (issue 16): every vNIC using a
// profile moves to another, as a job with one step per VM.
//
//	POST /vnicprofiles/{id}/rewire
//	<action>
//	  <vnic_profile id="B"/>         the profile the vNICs move to (required)
//	  <cluster id="C"/>              only VMs of this cluster (optional)
//	  <search>name=web*</search>     only VMs this VM search selects (optional)
//	  <async>false</async>           wait for the job to end (optional)
//	</action>
//
// answers 202 <action><status>pending</status><job href="/jobs/{id}" id/></action>
// at once (a bulk change is a job by default, unlike oVirt's actions); with
// <async>false</async> it answers 200 with status complete once the job
// ended, whatever its result (the job says it). GET /jobs/{id} shows the
// job (started, finished, failed: some VM failed, aborted: cancelled) and
// GET /jobs/{id}/steps one step per VM: its description begins with
// "VM <name>: " and says what was done, or each vNIC refused and why (the
// host's reason, or the refusal of a vNIC the caller may not change).
//
//	POST /jobs/{id}/cancel   <action/>  → 200 <action><status>complete</status><job/></action>
//
// stops scheduling VMs: the VMs being handled finish, the job ends aborted.
// oVirt's own verb on a job is end (for external jobs); vwire's jobs are
// its own, so cancel is an extension with oVirt's action shape.
//
//	POST /jobs/{id}/retry    <action/>  → 202 <action><status>pending</status><job/></action>
//
// starts a new rewire, same profiles, over the VMs whose step failed.

func (s *Server) rewireProfile(q *request) error {
	b, err := q.body()
	if err != nil {
		return err
	}
	spec := engine.RewireSpec{FromProfileID: q.r.PathValue("id")}
	to, _, ok := b.ref("vnic_profile")
	if !ok || to == "" {
		return vwire.Incomplete("Action", []string{"vnic_profile.id"}, "rewire")
	}
	spec.ToProfileID = to
	if id, byName, ok := b.ref("cluster"); ok {
		if id == "" {
			return vwire.InvalidValue(vwire.MsgInvalidValue, "cluster must be given by id"+byNameNote(byName)+".")
		}
		spec.ClusterID = id
	}
	if text, ok := b.str("search"); ok && strings.TrimSpace(text) != "" {
		if spec.Search, err = parseSearch(text); err != nil {
			return err
		}
		if spec.Search.SortBy != "" || spec.Search.Page > 0 {
			return vwire.InvalidValue(vwire.MsgInvalidValue, "A rewire's search selects VMs: sortby and page do not apply.")
		}
	}
	async, err := bulkAsync(q, b)
	if err != nil {
		return err
	}
	j, err := s.eng.RewireProfile(q.ctx(), spec)
	if err != nil {
		return err
	}
	return s.answerJob(q, j.ID, async)
}

// bulkAsync reads <async> (or ?async=): a bulk job answers at once
// unless asked to wait.
func bulkAsync(q *request, b *in) (bool, error) {
	if a, err := b.boolp("async"); err != nil {
		return false, err
	} else if a != nil {
		return *a, nil
	}
	if v := q.r.URL.Query().Get("async"); v != "" {
		return strings.EqualFold(v, "true"), nil
	}
	return true, nil
}

func byNameNote(name string) string {
	if name == "" {
		return ""
	}
	return " (not by name: " + name + ")"
}

// answerJob answers a bulk job: 202 pending at once, or 200 complete once
// it ended.
func (s *Server) answerJob(q *request, jobID string, async bool) error {
	if async {
		q.write(http.StatusAccepted, el("action", str("status", "pending"), q.jobRef(jobID)))
		return nil
	}
	if err := s.eng.WaitRewire(q.ctx(), jobID); err != nil {
		return err
	}
	j, _, err := s.eng.Job(q.ctx(), jobID)
	if err != nil {
		return err
	}
	q.done(q.jobNode(j))
	return nil
}

func (s *Server) cancelJob(q *request) error {
	if _, err := q.body(); err != nil {
		return err
	}
	j, err := s.eng.CancelJob(q.ctx(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	q.done(q.jobNode(j))
	return nil
}

func (s *Server) retryJob(q *request) error {
	b, err := q.body()
	if err != nil {
		return err
	}
	async, err := bulkAsync(q, b)
	if err != nil {
		return err
	}
	j, err := s.eng.RetryRewire(q.ctx(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.answerJob(q, j.ID, async)
}
