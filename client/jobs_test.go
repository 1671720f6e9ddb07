package client_test

import (
	"context"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire/client"
)

// TestRewireJob: a rewire started through the client is watched to its
// end, with one step per VM whose result names the VM; a retry of a job
// without failures is the engine's refusal (409), a cancel of an ended job
// answers the job.
func TestRewireJob(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	from, err := c.FindProfile(ctx, "ovirtmgmt")
	if err != nil {
		t.Fatal(err)
	}
	vmA := addVM(t, c, "a")
	cl, err := c.Cluster(ctx, mustCluster(t, c))
	if err != nil {
		t.Fatal(err)
	}
	nw, err := c.AddNetwork(ctx, ovirtsdk4.NewNetworkBuilder().Name("green").
		DataCenter(ovirtsdk4.NewDataCenterBuilder().Id(cl.MustDataCenter().MustId()).MustBuild()).MustBuild())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AttachNetwork(ctx, cl.MustId(), nw.MustId()); err != nil {
		t.Fatal(err)
	}
	to, err := c.FindProfile(ctx, "green")
	if err != nil {
		t.Fatal(err)
	}
	for _, vm := range []string{vmA, addVM(t, c, "b")} {
		if _, err := c.AddNIC(ctx, vm, ovirtsdk4.NewNicBuilder().Name("nic1").
			VnicProfile(ovirtsdk4.NewVnicProfileBuilder().Id(from.MustId()).MustBuild()).MustBuild()); err != nil {
			t.Fatal(err)
		}
	}
	id, err := c.Rewire(ctx, from.MustId(), client.RewireSpec{ToID: to.MustId(), Search: "name=a or name=b"})
	if err != nil {
		t.Fatal(err)
	}
	readings := 0
	j, steps, err := c.WatchJob(ctx, id, 10*time.Millisecond, func(*client.Job, []client.Step) { readings++ })
	if err != nil || j.Status != "finished" || readings == 0 {
		t.Fatalf("job %+v after %d readings: %v", j, readings, err)
	}
	if len(steps) != 2 {
		t.Fatalf("steps %+v", steps)
	}
	if vm, what := steps[0].VMResult(); vm != "a" || what != "1 vNICs moved to profile green" || !steps[0].Ended() {
		t.Fatalf("step 1: %q %q", vm, what)
	}
	if _, err := c.RetryJob(ctx, id); client.Status(err) != 409 {
		t.Fatalf("retry without failures: %v", err)
	}
	if cj, err := c.CancelJob(ctx, id); err != nil || cj.ID != id || cj.Status != "finished" {
		t.Fatalf("cancel of an ended job: %+v %v", cj, err)
	}
}
