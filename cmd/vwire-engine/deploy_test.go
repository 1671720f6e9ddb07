package main

import (
	"bufio"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unitFile reads a systemd unit as INI: section → key → values (a key
// may repeat). Continuation lines are not used in vwire's units.
func unitFile(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.HasSuffix(line, `\`) {
				t.Fatalf("%s:%d: not a key=value in a section: %q", path, n, line)
			}
			out[section][k] = append(out[section][k], v)
		}
	}
	return out
}

// TestSystemdUnit: deploy/systemd/vwire-engine.service starts this binary
// with flags it has and the configuration file deploy/ has an example of,
// keeps its state in its StateDirectory, and keeps the hardening the
// README promises. (systemd-analyze verify checks the rest where systemd
// is installed.)
func TestSystemdUnit(t *testing.T) {
	u := unitFile(t, "../../deploy/systemd/vwire-engine.service")
	s := u["Service"]
	exec := strings.Fields(strings.Join(s["ExecStart"], ""))
	if len(exec) == 0 || filepath.Base(exec[0]) != "vwire-engine" {
		t.Fatalf("ExecStart %v does not run vwire-engine", exec)
	}
	fs := flag.NewFlagSet("vwire-engine", flag.ContinueOnError)
	engineFlags(fs)
	if err := fs.Parse(exec[1:]); err != nil || fs.NArg() != 0 {
		t.Fatalf("ExecStart's arguments %v: %v %v", exec[1:], err, fs.Args())
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
