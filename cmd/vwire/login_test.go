package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire/app"
	"vwire.dev/vwire/client"
	"vwire.dev/vwire/hypervisor/sim"
)

// vwireRun runs the CLI with stdin as given and returns its output.
func vwireRun(in string, args ...string) (string, error) {
	stdin = strings.NewReader(in)
	defer func() { stdin = os.Stdin }()
	var out bytes.Buffer
	err := run(args, &out)
	return out.String(), err
}

// TestCLILoginAndPermissions is issue 13 point 6 over HTTPS: trust on
// first use by fingerprint, a kept token, users and grants from the CLI,
// and a second user who may use only profile red on vm1.
func TestCLILoginAndPermissions(t *testing.T) {
	cfgDir := t.TempDir()
	t.Setenv("VWIRE_CONFIG", filepath.Join(cfgDir, "config.json"))
	for _, k := range []string{"VWIRE_URL", "VWIRE_CA_FILE", "VWIRE_USER", "VWIRE_PASSWORD"} {
		t.Setenv(k, "")
	}
	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: t.TempDir(), EmbeddedHost: true, AdminPassword: "pw", PKI: true,
		PollInterval: time.Hour, Out: io.Discard}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	url, fp := m.URL(), m.PKIFiles.CA.Fingerprint()
	must := func(in string, args ...string) string {
		t.Helper()
		out, err := vwireRun(in, args...)
		if err != nil {
			t.Fatalf("vwire %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	refused := func(in, want string, args ...string) {
		t.Helper()
		out, err := vwireRun(in, args...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("vwire %s: %v (want an error with %q)\n%s", strings.Join(args, " "), err, want, out)
		}
	}

	// Nothing kept yet: no command runs without credentials.
	refused("", "not logged in", "--url", url, "vms")
	// First use: the CA is fetched and shown, not trusted without a
	// confirmation, and not with another fingerprint.
	out, err := vwireRun("pw\n", "--url", url, "login")
	if err == nil || !strings.Contains(err.Error(), "--accept-fingerprint "+fp) || !strings.Contains(out, fp) {
		t.Fatalf("login without a confirmed fingerprint: %v\n%s", err, out)
	}
	wrong := strings.Repeat("AB:", 31) + "AB"
	refused("pw\n", "not trusted", "--url", url, "login", "--accept-fingerprint", wrong)
	if _, err := os.Stat(filepath.Join(cfgDir, "config.json")); err == nil {
		t.Fatal("a refused login kept something")
	}
	// A wrong password is refused after trusting, and keeps no token.
	refused("nope\n", "username or password is incorrect", "--url", url, "login", "--accept-fingerprint", strings.ToLower(fp))
	// The right fingerprint (any case, colons or not) and password.
	must("pw\n", "--url", url, "login", "--accept-fingerprint", strings.ReplaceAll(fp, ":", ""))
	st, err := os.Stat(filepath.Join(cfgDir, "config.json"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config: %v %v, want mode 0600", err, st)
	}
	cfg, err := loadConfig()
	if err != nil || cfg.Current != url || cfg.Engines[url].Token == "" || cfg.Engines[url].User != "admin@internal" {
		t.Fatalf("kept config: %v %+v", err, cfg)
	}
	if got, err := fileFingerprint(cfg.Engines[url].CAFile); err != nil || got != fp {
		t.Fatalf("kept CA: %v %s, want %s", err, got, fp)
	}
	// Logging in again with the fingerprint is idempotent; another is refused.
	must("pw\n", "login", "--accept-fingerprint", fp)
	refused("pw\n", "has fingerprint", "login", "--accept-fingerprint", wrong)

	// The objects: networks red and blue on cluster Default, VMs vm1 and
	// vm2 each with nic1 on ovirtmgmt.
	admin, err := client.New(client.Options{URL: url, User: "admin@internal", Password: "pw", CAFile: m.CAFile(), Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cl, err := admin.FindIn(ctx, "clusters", "Default")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"red", "blue"} {
		n, err := admin.AddNetwork(ctx, ovirtsdk4.NewNetworkBuilder().Name(name).
			DataCenter(ovirtsdk4.NewDataCenterBuilder().Name("Default").MustBuild()).MustBuild())
		if err != nil {
			t.Fatal(err)
		}
		if err := admin.AttachNetwork(ctx, cl.ID, n.MustId()); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"vm1", "vm2"} {
		if _, err := admin.AddVM(ctx, ovirtsdk4.NewVmBuilder().Name(name).
			Cluster(ovirtsdk4.NewClusterBuilder().Name("Default").MustBuild()).
			Template(ovirtsdk4.NewTemplateBuilder().Name("Blank").MustBuild()).MustBuild()); err != nil {
			t.Fatal(err)
		}
		// The kept token works: no --url, --ca-file or --password.
		must("", "nic", "add", name, "nic1", "--profile", "ovirtmgmt")
	}

	// Users and grants from the CLI.
	refused("", "no password on stdin", "user", "add", "bob")
	refused("\n", "empty password", "user", "add", "bob")
	must("bob-secret\n", "user", "add", "bob")
	if out := must("", "users"); !strings.Contains(out, "bob@internal") {
		t.Errorf("users:\n%s", out)
	}
	if out := must("", "roles"); !strings.Contains(out, "VnicProfileUser") || !strings.Contains(out, "UserVmManager") {
		t.Errorf("roles:\n%s", out)
	}
	refused("", "name one object", "grant", "bob", "UserVmManager", "--vm", "vm1", "--system")
	refused("", "usage", "grant", "bob", "UserVmManager")
	refused("", "no VM named", "grant", "bob", "UserVmManager", "--vm", "vm9")
	must("", "grant", "bob", "UserVmManager", "--vm", "vm1")
	must("", "grant", "bob@internal", "VnicProfileUser", "--profile", "red")
	if out := must("", "permissions", "--vm", "vm1"); !strings.Contains(out, "bob@internal") || !strings.Contains(out, "UserVmManager") {
		t.Errorf("permissions on vm1:\n%s", out)
	}
	var perms []struct{ User, Role, Object string }
	if err := json.Unmarshal([]byte(must("", "--output", "json", "permissions", "--user", "bob")), &perms); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range perms {
		got[p.Role] = p.Object
	}
	if got["UserVmManager"] != "VM vm1" || got["VnicProfileUser"] != "vNIC profile red" || len(perms) != 2 {
		t.Errorf("bob's permissions: %+v", perms)
	}

	// Bob, with HTTP Basic over the kept CA: vm1's vNIC to red, not to blue,
	// nothing of vm2, and only vm1 listed.
	bob := []string{"--user", "bob@internal", "--password", "bob-secret"}
	must("", append(bob, "network", "vm1", "nic1", "red")...)
	// Bob cannot see blue: by name it does not exist for him; by id it is
	// refused, naming the profile.
	refused("", `no vNIC profile named "blue"`, append(bob, "network", "vm1", "nic1", "blue")...)
	blue, err := admin.FindProfile(ctx, "blue")
	if err != nil {
		t.Fatal(err)
	}
	refused("", "403", append(bob, "network", "vm1", "nic1", blue.MustId())...)
	refused("", "blue", append(bob, "network", "vm1", "nic1", blue.MustId())...)
	refused("", `no VM named "vm2"`, append(bob, "link", "down", "vm2", "nic1")...)
	if out := must("", append(bob, "vms")...); !strings.Contains(out, "vm1") || strings.Contains(out, "vm2") {
		t.Errorf("bob's vms:\n%s", out)
	}
	refused("", "403", append(bob, "grant", "bob", "SuperUser", "--system")...)
	// Revoked, red is refused too.
	must("", "revoke", "bob", "VnicProfileUser", "--profile", "red")
	refused("", "no VnicProfileUser", "revoke", "bob", "VnicProfileUser", "--profile", "red")
	must("", append(bob, "network", "vm1", "nic1", "--none")...) // no profile: needs none
	red, err := admin.FindProfile(ctx, "red")
	if err != nil {
		t.Fatal(err)
	}
	refused("", "403", append(bob, "network", "vm1", "nic1", red.MustId())...)
	// A new password ends the old one at once.
	must("bob-new\n", "user", "password", "bob")
	refused("", "401", append(bob, "vms")...)
	must("", "user", "remove", "bob")
	if out := must("", "users"); strings.Contains(out, "bob") {
		t.Errorf("users after removal:\n%s", out)
	}

	// A host added from the CLI, enrolled with the token and fingerprint it
	// prints, comes up over mutual TLS and renews its certificate.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	agentAddr := ln.Addr().String()
	ln.Close()
	if out := must("", "host", "add", "h2", agentAddr); !strings.Contains(out, "--engine-ca-fingerprint "+fp) ||
		!strings.Contains(out, "--enroll-url "+m.BaseURL()) || !strings.Contains(out, "--listen "+agentAddr) {
		t.Errorf("host add:\n%s", out)
	}
	var tok struct {
		HostID     string `json:"host_id"`
		Token      string `json:"token"`
		Expiration string `json:"expiration"`
	}
	if err := json.Unmarshal([]byte(must("", "--output", "json", "host", "token", "h2")), &tok); err != nil || tok.Token == "" {
		t.Fatalf("host token: %v %+v", err, tok)
	}
	if exp, err := time.Parse(time.RFC3339, tok.Expiration); err != nil || time.Until(exp) < 50*time.Minute {
		t.Errorf("token expiration %q: %v", tok.Expiration, err)
	}
	// red and blue are required on the cluster: a host lacking them is non-operational.
	ag := &app.AgentMain{Listen: agentAddr, Hypervisor: sim.New("ovirtmgmt", "red", "blue"), StateDir: t.TempDir(),
		EnrollURL: m.BaseURL(), EnrollToken: tok.Token, EngineCAFingerprint: fp}
	if err := ag.Start(); err != nil {
		t.Fatal(err)
	}
	defer ag.Close()
	if ag.Identity == nil {
		t.Fatal("the agent did not enrol")
	}
	if err := admin.RefreshHost(ctx, tok.HostID); err != nil {
		t.Fatal(err)
	}
	if out := must("", "hosts"); !strings.Contains(out, "h2") || !regexp.MustCompile(`h2\s+up`).MatchString(out) {
		t.Errorf("hosts after enrolment:\n%s", out)
	}
	must("", "host", "renew", "h2")
	refused("", "no host named", "host", "token", "h9")
	refused("", "usage", "host", "add", "h3")

	// A token ended behind the CLI's back gives the way out.
	token := cfg.Engines[url].Token
	if cfg, _ = loadConfig(); cfg.Engines[url].Token == token {
		t.Error("logging in again kept the old token")
	}
	ended, _ := client.New(client.Options{URL: url, Token: cfg.Engines[url].Token, CAFile: m.CAFile()})
	if err := ended.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	refused("", "run vwire login", "vms")
	must("pw\n", "login")
	must("", "logout")
	refused("", "not logged in", "vms")
	if cfg, _ = loadConfig(); cfg.Engines[url].Token != "" {
		t.Error("logout kept the token")
	}
}
