package client_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire/app"
	"vwire.dev/vwire/client"
)

func start(t *testing.T) *client.Client {
	t.Helper()
	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: t.TempDir(), EmbeddedHost: true, AdminPassword: "pw",
		PollInterval: time.Hour, Out: io.Discard}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	c, err := client.New(client.Options{URL: m.URL(), User: "admin@internal", Password: "pw", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func addVM(t *testing.T, c *client.Client, name string) string {
	t.Helper()
	vm, err := c.AddVM(context.Background(), ovirtsdk4.NewVmBuilder().Name(name).
		Cluster(ovirtsdk4.NewClusterBuilder().Name("Default").MustBuild()).
		Template(ovirtsdk4.NewTemplateBuilder().Name("Blank").MustBuild()).MustBuild())
	if err != nil {
		t.Fatal(err)
	}
	return vm.MustId()
}

func TestFindByName(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	vm := addVM(t, c, "vm1")
	got, err := c.FindVM(ctx, "vm1")
	if err != nil || got.MustId() != vm {
		t.Fatalf("FindVM by name: %v", err)
	}
	if got, err := c.FindVM(ctx, vm); err != nil || got.MustName() != "vm1" {
		t.Fatalf("FindVM by id: %v", err)
	}
	var lookup *client.LookupError
	if _, err := c.FindVM(ctx, "nope"); !errors.As(err, &lookup) || lookup.Matches != 0 || lookup.Kind != "VM" {
		t.Fatalf("missing VM: %v", err)
	}
	// vNICs resolve within their VM (oVirt keeps their names unique there).
	for _, name := range []string{"a", "b"} {
		if _, err := c.AddNIC(ctx, vm, ovirtsdk4.NewNicBuilder().Name(name).MustBuild()); err != nil {
			t.Fatal(err)
		}
	}
	n, err := c.FindNIC(ctx, vm, "b")
	if err != nil || n.MustName() != "b" {
		t.Fatalf("FindNIC: %v", err)
	}
	if _, err := c.FindNIC(ctx, vm, "c"); !errors.As(err, &lookup) || lookup.Matches != 0 {
		t.Fatalf("missing vNIC: %v", err)
	}
	// Two profiles named alike on two networks: ambiguous by name, found by id.
	cl, err := c.Cluster(ctx, mustCluster(t, c))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, net := range []string{"red", "blue"} {
		nw, err := c.AddNetwork(ctx, ovirtsdk4.NewNetworkBuilder().Name(net).
			DataCenter(ovirtsdk4.NewDataCenterBuilder().Id(cl.MustDataCenter().MustId()).MustBuild()).MustBuild())
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.AddProfile(ctx, nw.MustId(), client.ProfileSpec{Name: "same", GuestNotification: "link_bounce", LinkBounceHold: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.MustId())
	}
	if _, err := c.FindProfile(ctx, "same"); !errors.As(err, &lookup) || lookup.Matches != 2 ||
		!strings.Contains(err.Error(), "give an id") {
		t.Fatalf("ambiguous profile: %v", err)
	}
	if p, err := c.FindProfile(ctx, ids[1]); err != nil || p.MustId() != ids[1] {
		t.Fatalf("profile by id: %v", err)
	}
	if p, err := c.FindProfile(ctx, "red"); err != nil || p.MustName() != "red" {
		t.Fatalf("a network's default profile by name: %v", err)
	}
}

func mustCluster(t *testing.T, c *client.Client) string {
	t.Helper()
	vms, err := c.VMs(context.Background(), "")
	if err != nil || len(vms) == 0 {
		t.Fatalf("VMs: %v", err)
	}
	return vms[0].MustCluster().MustId()
}

func TestFaults(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	vm := addVM(t, c, "vm1")
	profiles, err := c.Profiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.AddNIC(ctx, vm, ovirtsdk4.NewNicBuilder().Name("nic1").VnicProfile(client.ProfileRef(profiles[0].MustId())).MustBuild())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartVM(ctx, vm); err != nil {
		t.Fatal(err)
	}
	got, err := c.NIC(ctx, vm, n.MustId())
	if err != nil || got.Reported == nil || !got.Reported.Present {
		t.Fatalf("reported state of a plugged vNIC of a running VM: %v %+v", err, got)
	}
	// A rule's refusal: 409, oVirt's detail, the SDK's conflict error.
	_, err = c.UpdateNIC(ctx, vm, n.MustId(), ovirtsdk4.NewNicBuilder().Mac(ovirtsdk4.NewMacBuilder().Address("02:00:00:00:00:99").MustBuild()).MustBuild())
	var fault *client.Fault
	var conflict *ovirtsdk4.ConflictError
	if !errors.As(err, &fault) || fault.Status != 409 || !strings.Contains(fault.Detail, "Please un-plug the interface") ||
		!errors.As(err, &conflict) || client.Status(err) != 409 {
		t.Fatalf("MAC change of a plugged vNIC: %T %v", err, err)
	}
	if !strings.HasSuffix(err.Error(), "(HTTP 409)") || strings.HasPrefix(err.Error(), "[") {
		t.Errorf("fault text: %q", err.Error())
	}
	// A refused DELETE: the SDK cannot read its fault; the client does.
	err = c.RemoveNIC(ctx, vm, n.MustId())
	if !errors.As(err, &fault) || fault.Status < 400 || fault.Detail == "" {
		t.Fatalf("removing a plugged vNIC: %T %v", err, err)
	}
	// Not found, by id and by path.
	if _, err := c.NIC(ctx, vm, "00000000-0000-0000-0000-000000000000"); !client.IsNotFound(err) {
		t.Fatalf("missing vNIC: %T %v", err, err)
	}
	if _, err := c.VMs(ctx, ""); err != nil {
		t.Fatal(err)
	}
	// A refused action: the fault inside <action>.
	if _, err := c.StartVM(ctx, vm); !errors.As(err, &fault) || fault.Status < 400 || fault.Detail == "" {
		t.Fatalf("starting a running VM: %T %v", err, err)
	}
	// A path the API does not have: a 404 whatever its body.
	lost, _ := client.New(client.Options{URL: c.URL() + "/nowhere", User: "admin@internal", Password: "pw"})
	if _, err := lost.VMs(ctx, ""); !client.IsNotFound(err) {
		t.Fatalf("unknown path: %T %v", err, err)
	}
	// A wrong password: the SDK's auth error.
	bad, _ := client.New(client.Options{URL: c.URL(), User: "admin@internal", Password: "wrong"})
	var auth *ovirtsdk4.AuthError
	if _, err := bad.VMs(ctx, ""); !errors.As(err, &auth) {
		t.Fatalf("wrong password: %T %v", err, err)
	}
	// No engine: no fault, status 0.
	gone, _ := client.New(client.Options{URL: "http://127.0.0.1:1/ovirt-engine/api", User: "u", Password: "p"})
	if _, err := gone.VMs(ctx, ""); err == nil || client.Status(err) != 0 {
		t.Fatalf("no engine: %v", err)
	}
}

func TestEventStream(t *testing.T) {
	c := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := c.StreamEvents(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addVM(t, c, "vm1")
	e, err := s.Next()
	if err != nil || e.ID == 0 || e.Code == 0 || e.Description == "" || e.Time.IsZero() {
		t.Fatalf("first event: %v %+v", err, e)
	}
	evs, err := c.Events(ctx, 0, 1)
	if err != nil || len(evs) != 1 {
		t.Fatalf("Events: %v", err)
	}
	// Count sees the events written after it starts.
	s2, err := c.StreamEvents(ctx, -1)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	done := make(chan struct{})
	go func() { s2.Count(&n); close(done) }()
	addVM(t, c, "vm2")
	if err := client.Wait(ctx, 20*time.Millisecond, func(context.Context) (bool, error) { return n.Load() >= 1, nil }); err != nil {
		t.Fatalf("counted %d events: %v", n.Load(), err)
	}
	s2.Close()
	<-done
}
