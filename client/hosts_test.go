package client_test

import (
	"context"
	"io"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire/app"
	"vwire.dev/vwire/client"
)

// TestHostEnrolmentToken: a host added without its agent gets a one-time
// token over HTTPS (the engine's CA trusted), each one new, and its port
// can be set once its agent listens; an unknown host's token is a 404.
func TestHostEnrolmentToken(t *testing.T) {
	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: t.TempDir(), EmbeddedHost: false, AdminPassword: "pw",
		PollInterval: time.Hour, Out: io.Discard, PKI: true}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	c, err := client.New(client.Options{URL: m.URL(), User: "admin@internal", Password: "pw", Timeout: time.Minute, CAFile: m.CAFile()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, err := c.AddHost(ctx, ovirtsdk4.NewHostBuilder().Name("h1").Address("127.0.0.1").Port(1).
		Cluster(ovirtsdk4.NewClusterBuilder().Name("Default").MustBuild()).MustBuild())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.HostEnrolmentToken(ctx, h.MustId())
	if err != nil {
		t.Fatal(err)
	}
	if len(tok.Value) < 32 {
		t.Errorf("token %q", tok.Value)
	}
	if left := time.Until(tok.Expiration); left < 50*time.Minute || left > 61*time.Minute {
		t.Errorf("token expires %v (in %v), want in an hour", tok.Expiration, left)
	}
	again, err := c.HostEnrolmentToken(ctx, h.MustId())
	if err != nil || again.Value == tok.Value {
		t.Errorf("second token %+v (%v), want a new one", again, err)
	}
	if _, err := c.HostEnrolmentToken(ctx, "00000000-0000-0000-0000-00000000dead"); !client.IsNotFound(err) {
		t.Errorf("token of an unknown host: %v, want a 404", err)
	}

	u, err := c.UpdateHost(ctx, h.MustId(), ovirtsdk4.NewHostBuilder().Port(54321).MustBuild())
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := u.Port(); p != 54321 {
		t.Errorf("port after update %d", p)
	}
	if got, err := c.Host(ctx, h.MustId()); err != nil || got.MustPort() != 54321 {
		t.Errorf("host read back: port %v (%v)", got, err)
	}
}
