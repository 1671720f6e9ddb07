package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire/client"
)

// TestRewireCLI: `profile rewire` follows the job with plain progress lines
// (not a terminal), then a table per VM; a rewire to a network the VMs'
// cluster lacks fails per VM with the reason and exits 1; `job retry`
// takes only those VMs; -o json carries the per-VM results; `job cancel`
// of an ended job says so.
func TestRewireCLI(t *testing.T) {
	e := startCLI(t)
	var lines bytes.Buffer
	old, oldInterval := jobProgress, pollInterval
	jobProgress, pollInterval = func() (io.Writer, bool) { return &lines, false }, 10*time.Millisecond
	defer func() { jobProgress, pollInterval = old, oldInterval }()

	e.must("network", "add", "green", "--attach", "Default")
	e.must("network", "add", "orphan") // not in the VMs' cluster
	c, err := client.New(client.Options{URL: e.m.URL(), User: "admin@internal", Password: "pw", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mgmt, err := c.FindProfile(ctx, "ovirtmgmt")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web1", "web2", "db1"} {
		vm, err := c.AddVM(ctx, ovirtsdk4.NewVmBuilder().Name(name).Cluster(ovirtsdk4.NewClusterBuilder().Name("Default").MustBuild()).
			Template(ovirtsdk4.NewTemplateBuilder().Name("Blank").MustBuild()).MustBuild())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.AddNIC(ctx, vm.MustId(), ovirtsdk4.NewNicBuilder().Name("nic1").
			VnicProfile(ovirtsdk4.NewVnicProfileBuilder().Id(mgmt.MustId()).MustBuild()).MustBuild()); err != nil {
			t.Fatal(err)
		}
		if name == "web1" {
			if _, err := c.StartVM(ctx, vm.MustId()); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The web VMs move to green, web1 live.
	out := e.must("profile", "rewire", "ovirtmgmt", "--to", "green", "--search", "name=web*")
	e.has(out, "VM    RESULT    REASON", "web1  finished  -", "web2  finished  -", "finished: Rewiring 2 vNICs of 2 VMs from profile ovirtmgmt to profile green")
	if strings.Contains(out, "db1") {
		t.Errorf("the search kept db1:\n%s", out)
	}
	e.has(lines.String(), "2/2 VMs done")

	// To a network the cluster lacks: each VM fails with the reason, exit 1.
	out, err = e.vw("profile", "rewire", "green", "--to", "orphan", "--cluster", "Default")
	if exitCode(err) != exitFailed || !strings.Contains(err.Error(), "2 of 2 VMs failed") {
		t.Fatalf("failing rewire: %v (exit %d)\n%s", err, exitCode(err), out)
	}
	e.has(out, "web1  failed", "nic1: ", "orphan")
	jobID := out[strings.Index(out, "job ")+4:]
	jobID = jobID[:strings.IndexByte(jobID, ' ')]

	// The retry takes the two failed VMs only (db1 was never on green).
	e.must("network", "attach", "orphan", "Default")
	js, err := e.vw("-o", "json", "job", "retry", jobID)
	if err != nil {
		t.Fatalf("retry: %v\n%s", err, js)
	}
	var v rewireJSON
	if err := json.Unmarshal([]byte(js), &v); err != nil || v.Job.Status != "finished" || len(v.Steps) != 2 ||
		v.Steps[0].VM != "web1" || v.Steps[0].Result != "finished" || !strings.Contains(v.Steps[0].Detail, "moved to profile orphan") {
		t.Fatalf("retry JSON %+v (%v):\n%s", v, err, js)
	}
	e.has(e.must("job", "show", jobID), "web2  failed")
	e.has(e.must("job", "cancel", jobID), "has already ended failed")
	e.exits(exitNotFound, "", "job", "cancel", "00000000-0000-0000-0000-000000000099")
	e.exits(exitUsage, "--to", "profile", "rewire", "ovirtmgmt")
}
