package restapi

import (
	"context"
	"net/http"
	"strings"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
)

// oVirt's /jobs with their steps, and async=true on actions: the action is
// answered at once (202, <action><status>pending</status><job/>) and runs
// in the background under that job, which says how it ended. A request
// that names no visible object is refused at once, not as a failed job.

// maxAsync bounds the actions running in the background at once.
const maxAsync = 64

func (q *request) jobRef(id string) *node { return ref("job", q.href("jobs", id), id) }

func (q *request) jobNode(j *vwire.Job) *node {
	href := q.href("jobs", j.ID)
	n := &node{name: "job", href: href, id: j.ID}
	n.add(str("description", j.Description), link("steps", href+"/steps"), boolean("auto_cleared", true),
		boolean("external", false), date("start_time", j.Start), date("end_time", j.End), date("last_updated", j.LastUpdated),
		str("status", string(j.Status)))
	if j.OwnerID != "" {
		n.add(ref("owner", q.href("users", j.OwnerID), j.OwnerID))
	}
	return n
}

func (q *request) stepNode(s *vwire.JobStep) *node {
	href := q.href("jobs", s.JobID, "steps", s.ID)
	n := &node{name: "step", href: href, id: s.ID}
	return n.add(str("description", s.Description), boolean("external", false), integer("number", int64(s.Number)),
		date("start_time", s.Start), date("end_time", s.End), str("status", string(s.Status)), str("type", string(s.Type)),
		ref("job", q.href("jobs", s.JobID), s.JobID))
}

func (s *Server) listJobs(q *request) error {
	p, err := q.listParams()
	if err != nil {
		return err
	}
	jobs, err := s.eng.Jobs(q.ctx(), vwire.JobFilter{})
	if err != nil {
		return err
	}
	n, err := collect(p, "jobs", jobs, func(j *vwire.Job) map[string]string {
		return map[string]string{"id": j.ID, "description": j.Description, "status": string(j.Status), "correlation_id": j.CorrelationID}
	}, q.jobNode)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, n)
	return nil
}

func (s *Server) getJob(q *request) error {
	j, _, err := s.eng.Job(q.ctx(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	q.write(http.StatusOK, q.jobNode(j))
	return nil
}

func (s *Server) listJobSteps(q *request) error {
	_, steps, err := s.eng.Job(q.ctx(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	out := el("steps")
	for _, st := range steps {
		out.add(item(q.stepNode(st)))
	}
	q.write(http.StatusOK, out)
	return nil
}

func (s *Server) getJobStep(q *request) error {
	_, steps, err := s.eng.Job(q.ctx(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	for _, st := range steps {
		if st.ID == q.r.PathValue("sid") {
			q.write(http.StatusOK, q.stepNode(st))
			return nil
		}
	}
	return vwire.NotFound("Step", q.r.PathValue("sid"))
}

// actionParams reads an action's body and says whether it asks to run in
// the background (<async>true</async> or ?async=true).
func (q *request) actionParams() (async bool, err error) {
	b, err := q.body()
	if err != nil {
		return false, err
	}
	a, err := b.boolp("async")
	if err != nil {
		return false, err
	}
	if a != nil {
		return *a, nil
	}
	return strings.EqualFold(q.r.URL.Query().Get("async"), "true"), nil
}

// runAsync answers 202 with the job of op, which runs in the background as
// the request's user, with its correlation id.
func (s *Server) runAsync(q *request, description string, op func(ctx context.Context) error) error {
	select {
	case s.asyncSlots <- struct{}{}:
	default:
		return vwire.New(vwire.MsgTooManyAsync, "max", "64")
	}
	j, err := s.eng.BeginJob(q.ctx(), description)
	if err != nil {
		<-s.asyncSlots
		return err
	}
	ctx := engine.WithJob(context.WithoutCancel(q.ctx()), j.ID)
	s.async.Add(1)
	go func() {
		defer s.async.Done()
		defer func() { <-s.asyncSlots }()
		s.eng.FinishJob(ctx, j.ID, op(ctx))
	}()
	q.write(http.StatusAccepted, el("action", str("status", "pending"), q.jobRef(j.ID)))
	return nil
}

// WaitAsync waits for the actions running in the background to end.
func (s *Server) WaitAsync() { s.async.Wait() }
