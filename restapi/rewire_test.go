package restapi_test

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

// TestRewireREST: POST /vnicprofiles/{id}/rewire answers 202 with the job;
// the job ends finished with one step per VM naming it; the vNICs moved;
// with a search only the VMs it selects move; async=false waits; a retry
// of a job without failures and a cancel of an ended job are oVirt faults.
func TestRewireREST(t *testing.T) {
	w := newWorld(t)
	a := w.admin
	// vm1 and vm2 have nic1 on ovirtmgmt; move vm1's alone with a search.
	r := a.do("POST", "/vnicprofiles/"+w.mgmt+"/rewire", `<action><vnic_profile id="`+w.red+`"/><search>name=vm1</search></action>`)
	if r.status != 202 {
		t.Fatalf("rewire: %d %s", r.status, r.body)
	}
	var ans struct {
		Status string `xml:"status"`
		Job    struct {
			ID   string `xml:"id,attr"`
			Href string `xml:"href,attr"`
		} `xml:"job"`
	}
	if err := xml.Unmarshal([]byte(r.body), &ans); err != nil || ans.Status != "pending" || !strings.HasSuffix(ans.Job.Href, "/jobs/"+ans.Job.ID) {
		t.Fatalf("answer %s (%v)", r.body, err)
	}
	var job xmlEntity
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		job = parseX(t, a.expect(200, "GET", "/jobs/"+ans.Job.ID, ""))
		if job.Status != "started" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the job did not end")
		}
	}
	if job.Status != "finished" {
		t.Fatalf("job %+v", job)
	}
	steps := a.expect(200, "GET", "/jobs/"+ans.Job.ID+"/steps", "")
	if got := parseXList(t, steps); len(got) != 1 || got[0].Status != "finished" || !strings.Contains(steps, "<description>VM vm1: 1 vNICs moved to profile red</description>") {
		t.Fatalf("steps:\n%s", steps)
	}
	if p := parseX(t, a.expect(200, "GET", "/vms/"+w.vm1+"/nics/"+w.nic1, "")).Profile.ID; p != w.red {
		t.Fatalf("vm1's vNIC on %s, want red", p)
	}
	if p := parseX(t, a.expect(200, "GET", "/vms/"+w.vm2+"/nics/"+w.nic2, "")).Profile.ID; p != w.mgmt {
		t.Fatalf("vm2's vNIC on %s: the search must keep it", p)
	}

	// async=false waits and answers complete with the ended job.
	r = a.do("POST", "/vnicprofiles/"+w.mgmt+"/rewire", `<action><vnic_profile id="`+w.blue+`"/><cluster id="`+w.cluster+`"/><async>false</async></action>`)
	if r.status != 200 || !strings.Contains(r.body, "<status>complete</status>") || !strings.Contains(r.body, "<status>finished</status>") {
		t.Fatalf("synchronous rewire: %d %s", r.status, r.body)
	}
	if p := parseX(t, a.expect(200, "GET", "/vms/"+w.vm2+"/nics/"+w.nic2, "")).Profile.ID; p != w.blue {
		t.Fatalf("vm2's vNIC on %s, want blue", p)
	}

	// JSON, as oVirt's JSON clients write it: the answer names the job.
	js := &api{t: t, base: a.base, json: true, hc: a.hc, auth: a.auth}
	r = js.do("POST", "/vnicprofiles/"+w.blue+"/rewire", `{"vnic_profile":{"id":"`+w.mgmt+`"},"search":"name=vm2","async":"false"}`)
	if flat := strings.ReplaceAll(r.body, " ", ""); r.status != 200 || !strings.Contains(flat, `"status":"complete"`) || !strings.Contains(flat, `"status":"finished"`) {
		t.Fatalf("JSON rewire: %d %s", r.status, r.body)
	}
	r = js.do("POST", "/vnicprofiles/"+w.blue+"/rewire", `{"vnic_profile":"`+w.mgmt+`"}`)
	if r.status != 400 || !strings.Contains(r.body, "vnic_profile") {
		t.Fatalf("a reference as text: %d %s", r.status, r.body)
	}

	// A user with rights on the new profile and on vm1 only: vm2's vNIC is
	// a failed step with the refusal, not a refused job.
	bobID, bob := w.addUser(t, "bob")
	a.expect(201, "POST", "/vms/"+w.vm1+"/permissions", `<permission><role><name>UserVmManager</name></role><user id="`+bobID+`"/></permission>`)
	a.expect(201, "POST", "/vnicprofiles/"+w.red+"/permissions", `<permission><role><name>VnicProfileUser</name></role><user id="`+bobID+`"/></permission>`)
	a.expect(200, "POST", "/vnicprofiles/"+w.red+"/rewire", `<action><vnic_profile id="`+w.mgmt+`"/><async>false</async></action>`) // vm1 back
	r = bob.do("POST", "/vnicprofiles/"+w.mgmt+"/rewire", `<action><vnic_profile id="`+w.red+`"/><async>false</async></action>`)
	if r.status != 200 || !strings.Contains(r.body, "<status>failed</status>") {
		t.Fatalf("bob's rewire: %d %s", r.status, r.body)
	}
	bobJob := parseX(t, r.body)
	var done struct {
		Job struct {
			ID string `xml:"id,attr"`
		} `xml:"job"`
	}
	xml.Unmarshal([]byte(r.body), &done)
	steps = bob.expect(200, "GET", "/jobs/"+done.Job.ID+"/steps", "")
	if !strings.Contains(steps, "VM vm1: 1 vNICs moved to profile red") || !strings.Contains(steps, "VM vm2: nic1: ") || !strings.Contains(steps, "CONFIGURE_VM_NETWORK") {
		t.Fatalf("bob's steps (%s):\n%s", bobJob.Status, steps)
	}

	// Faults, in oVirt's shape.
	for _, c := range []struct {
		path, body, want string
		status           int
	}{
		{"/vnicprofiles/" + w.red + "/rewire", `<action/>`, "vnic_profile.id", 400},
		{"/vnicprofiles/" + w.red + "/rewire", `<action><vnic_profile id="` + w.red + `"/></action>`, "already use (red)", 400},
		{"/vnicprofiles/" + w.red + "/rewire", `<action><vnic_profile id="` + w.blue + `"/><search>name=</search></action>`, "search", 400},
		{"/jobs/" + ans.Job.ID + "/retry", `<action/>`, "no VM failed", 409},
		{"/jobs/" + ans.Job.ID + "/cancel", `<action/>`, "", 200},
		{"/jobs/00000000-0000-0000-0000-000000000099/cancel", `<action/>`, "", 404},
	} {
		r := a.do("POST", c.path, c.body)
		if r.status != c.status || !strings.Contains(r.body, c.want) {
			t.Errorf("POST %s %s: %d %s, want %d with %q", c.path, c.body, r.status, r.body, c.status, c.want)
		}
		if c.status >= 400 && (!strings.Contains(r.body, "<action>") || !strings.Contains(r.body, "<fault>")) {
			t.Errorf("POST %s: not oVirt's action fault:\n%s", c.path, r.body)
		}
	}
}
