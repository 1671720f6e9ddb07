package restapi_test

import (
	"encoding/xml"
	"net/http"
	"strings"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
)

// TestJobsAndAsync: every host change is a job with its steps and the
// request's correlation id; async=true answers 202 with the job at once,
// and the job says how the action ended, refusals included.
func TestJobsAndAsync(t *testing.T) {
	m := startEngine(t)
	a := newAPI(t, m, false)
	vm := parseX(t, a.expect(201, "POST", "/vms", `<vm><name>j1</name><cluster><name>Default</name></cluster><template><name>Blank</name></template></vm>`)).ID
	nic := parseX(t, a.expect(201, "POST", "/vms/"+vm+"/nics", `<nic><name>nic1</name></nic>`)).ID
	corr := a.withHeader("Correlation-Id", "tf-run-42")
	corr.expect(200, "POST", "/vms/"+vm+"/start", `<action/>`)
	jobs := parseXList(t, a.expect(200, "GET", "/jobs?search=correlation_id%3Dtf-run-42", ""))
	if len(jobs) != 1 {
		t.Fatalf("jobs of the correlation id: %+v", jobs)
	}
	job := a.expect(200, "GET", "/jobs/"+jobs[0].ID, "")
	for _, want := range []string{"<description>Launching VM j1</description>", "<status>finished</status>", "<end_time>", `rel="steps"`, "<owner "} {
		if !strings.Contains(job, want) {
			t.Errorf("start's job lacks %s:\n%s", want, job)
		}
	}
	steps := a.expect(200, "GET", "/jobs/"+jobs[0].ID+"/steps", "")
	if strings.Count(steps, "<step ") != 2 || !strings.Contains(steps, "<type>validating</type>") || !strings.Contains(steps, "<type>executing</type>") ||
		strings.Contains(steps, "<status>started</status>") {
		t.Errorf("steps:\n%s", steps)
	}
	if ev := a.expect(200, "GET", "/events?max=3", ""); !strings.Contains(ev, "<correlation_id>tf-run-42</correlation_id>") {
		t.Errorf("the start's event lacks the correlation id:\n%s", ev)
	}

	// async=true: 202 with a pending action naming the job; the job ends.
	wait := func(jobID string) string {
		t.Helper()
		for i := 0; i < 100; i++ {
			body := a.expect(200, "GET", "/jobs/"+jobID, "")
			if !strings.Contains(body, "<status>started</status>") {
				return body
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("job %s never ended", jobID)
		return ""
	}
	r := a.do("POST", "/vms/"+vm+"/nics/"+nic+"/deactivate", `<action><async>true</async></action>`)
	if r.status != http.StatusAccepted || !strings.Contains(r.body, "<status>pending</status>") {
		t.Fatalf("async unplug: %d\n%s", r.status, r.body)
	}
	var pending struct {
		Job struct {
			ID string `xml:"id,attr"`
		} `xml:"job"`
	}
	xmlUnmarshal(t, r.body, &pending)
	if body := wait(pending.Job.ID); !strings.Contains(body, "<status>finished</status>") || !strings.Contains(body, "Unplugging Interface nic1 of VM j1") {
		t.Errorf("async unplug's job:\n%s", body)
	}
	if n := parseX(t, a.expect(200, "GET", "/vms/"+vm+"/nics/"+nic, "")); n.Plugged != "false" {
		t.Errorf("after the async unplug: plugged %s", n.Plugged)
	}
	// A refused action is a failed job, with the reason in its step.
	r = a.do("POST", "/vms/"+vm+"/start?async=true", `<action/>`)
	if r.status != http.StatusAccepted {
		t.Fatalf("async start of a running VM: %d\n%s", r.status, r.body)
	}
	xmlUnmarshal(t, r.body, &pending)
	if body := wait(pending.Job.ID); !strings.Contains(body, "<status>failed</status>") {
		t.Errorf("a refused async start's job:\n%s", body)
	}
	if steps := a.expect(200, "GET", "/jobs/"+pending.Job.ID+"/steps", ""); !strings.Contains(steps, "Validating: Cannot run VM") {
		t.Errorf("the refusal's step:\n%s", steps)
	}
	// A VM that does not exist is refused at once.
	a.expect(404, "POST", "/vms/00000000-0000-0000-0000-00000000000f/stop?async=true", `<action/>`)

	// oVirt's Go SDK: Async(true), then the job.
	conn, err := ovirtsdk4.NewConnectionBuilder().URL(m.URL()).Username("admin@internal").Password("secret").Timeout(30 * time.Second).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.SystemService().VmsService().VmService(vm).Stop().Async(true).Send(); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		got, err := conn.SystemService().VmsService().VmService(vm).Get().Send()
		if err == nil && got.MustVm().MustStatus() == ovirtsdk4.VMSTATUS_DOWN {
			break
		}
		if i == 100 {
			t.Fatalf("the async stop never ended: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	js, err := conn.SystemService().JobsService().List().Send()
	if err != nil || len(js.MustJobs().Slice()) < 4 {
		t.Fatalf("SDK jobs: %v", err)
	}
	// A user without rights sees no job.
	bobID := parseX(t, a.expect(201, "POST", "/users", `<user><user_name>bob@internal-authz</user_name><password>pw-bob</password></user>`)).ID
	_ = bobID
	if l := parseXList(t, asUser(a, "bob@internal", "pw-bob").expect(200, "GET", "/jobs", "")); len(l) != 0 {
		t.Errorf("bob sees %d jobs", len(l))
	}
}

func xmlUnmarshal(t *testing.T, body string, v any) {
	t.Helper()
	if err := xml.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("bad XML %v:\n%s", err, body)
	}
}
