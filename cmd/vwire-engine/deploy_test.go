package main

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"vwire.dev/vwire/internal/unitfile"
)

// TestSystemdUnit: deploy/systemd/vwire-engine.service starts this binary
// with flags it has and the configuration file deploy/ has an example of,
// keeps its state in its StateDirectory, and keeps the hardening the
// README promises. (systemd-analyze verify checks the rest where systemd
// is installed.)
func TestSystemdUnit(t *testing.T) {
	u, err := unitfile.Read("../../deploy/systemd/vwire-engine.service")
	if err != nil {
		t.Fatal(err)
	}
	s := u["Service"]
	fs := flag.NewFlagSet("vwire-engine", flag.ContinueOnError)
	engineFlags(fs)
	if err := u.ParseExec("vwire-engine", fs); err != nil {
		t.Fatal(err)
	}
	cfg := fs.Lookup("config").Value.String()
	if cfg == "" || !exists("../../deploy/"+filepath.Base(cfg)) {
		t.Fatalf("ExecStart's --config %q has no example in deploy/", cfg)
	}
	want := map[string]string{"Type": "simple", "User": "vwire", "StateDirectory": "vwire", "Restart": "on-failure",
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ReadWritePaths": "/var/lib/vwire", "CapabilityBoundingSet": ""}
	for k, v := range want {
		if got := s[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s=%v, want %q", k, got, v)
		}
	}
	if got := u["Install"]["WantedBy"]; len(got) != 1 || got[0] != "multi-user.target" {
		t.Errorf("WantedBy=%v", got)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestSystemdAnalyzeVerify runs systemd-analyze verify on both units,
// where systemd is installed, with their ExecStart pointed at binaries
// built from this tree (verify wants them to exist).
func TestSystemdAnalyzeVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	if testing.Short() {
		t.Skip("builds both binaries")
	}
	dir := t.TempDir()
	var units []string
	for _, name := range []string{"vwire-engine", "vwire-agent"} {
		bin := filepath.Join(dir, name)
		if out, err := exec.Command("go", "build", "-o", bin, "../"+name).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", name, err, out)
		}
		unit, err := os.ReadFile("../../deploy/systemd/" + name + ".service")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name+".service")
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/"+name, bin)), 0o644); err != nil {
			t.Fatal(err)
		}
		units = append(units, path)
	}
	if out, err := exec.Command(analyze, append([]string{"verify"}, units...)...).CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
