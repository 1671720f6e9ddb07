package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"vwire.dev/vwire/app"
)

// cliEnv is an engine on its embedded host with the CLI pointed at it: the
// harness of the CLI's tests.
type cliEnv struct {
	t *testing.T
	m *app.EngineMain
}

// startCLI starts an engine for one test (its own config file and data).
func startCLI(t *testing.T) *cliEnv {
	t.Helper()
	t.Setenv("VWIRE_CONFIG", t.TempDir()+"/config.json")
	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: t.TempDir(), EmbeddedHost: true, AdminPassword: "pw",
		PollInterval: time.Hour, Out: io.Discard}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return &cliEnv{t: t, m: m}
}

// vw runs the CLI as the admin.
func (c *cliEnv) vw(args ...string) (string, error) {
	var out bytes.Buffer
	err := run(append([]string{"--url", c.m.URL(), "--password", "pw"}, args...), &out)
	return out.String(), err
}

// must runs the CLI and fails the test on an error.
func (c *cliEnv) must(args ...string) string {
	c.t.Helper()
	out, err := c.vw(args...)
	if err != nil {
		c.t.Fatalf("vwire %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// has checks that out holds every want.
func (c *cliEnv) has(out string, want ...string) {
	c.t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			c.t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// exits checks a command's exit code and that its error says want.
func (c *cliEnv) exits(code int, want string, args ...string) {
	c.t.Helper()
	out, err := c.vw(args...)
	if got := exitCode(err); got != code || (want != "" && (err == nil || !strings.Contains(err.Error(), want))) {
		c.t.Errorf("vwire %s: exit %d (%v), want %d with %q\n%s", strings.Join(args, " "), got, err, code, want, out)
	}
}
