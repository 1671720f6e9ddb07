package main

import (
	"flag"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"vwire.dev/vwire/internal/unitfile"
)

// TestSystemdUnit: deploy/systemd/vwire-agent.service starts this binary
// with flags it has and the configuration file deploy/ has an example of,
// whose state-dir is the unit's StateDirectory; it keeps CAP_NET_ADMIN
// alone and libvirt's sockets reachable.
func TestSystemdUnit(t *testing.T) {
	u, err := unitfile.Read("../../deploy/systemd/vwire-agent.service")
	if err != nil {
		t.Fatal(err)
	}
	s := u["Service"]
	fs := flag.NewFlagSet("vwire-agent", flag.ContinueOnError)
	agentFlags(fs)
	if err := u.ParseExec("vwire-agent", fs); err != nil {
		t.Fatal(err)
	}
	cfg := fs.Lookup("config").Value.String()
	if cfg == "" || filepath.Base(cfg) != "vwire-agent.yaml" {
		t.Fatalf("ExecStart's --config %q is not the example deploy/vwire-agent.yaml", cfg)
	}
	want := map[string]string{"Type": "simple", "User": "root", "StateDirectory": "vwire-agent", "Restart": "on-failure",
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "CapabilityBoundingSet": "CAP_NET_ADMIN",
		"AmbientCapabilities": "CAP_NET_ADMIN"}
	for k, v := range want {
		if got := s[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s=%v, want %q", k, got, v)
		}
	}
	rw := strings.Fields(strings.Join(s["ReadWritePaths"], " "))
	if !slices.Contains(rw, "/var/lib/vwire-agent") || !slices.Contains(rw, "-/run/libvirt") {
		t.Errorf("ReadWritePaths=%v", rw)
	}
	if !strings.Contains(strings.Join(s["RestrictAddressFamilies"], " "), "AF_NETLINK") {
		t.Error("netlink is not allowed")
	}
}

// TestExampleConfig: deploy/vwire-agent.yaml sets the agent's flags, its
// state-dir is the unit's state directory, and the command line wins.
func TestExampleConfig(t *testing.T) {
	fs := flag.NewFlagSet("vwire-agent", flag.ContinueOnError)
	m, o, config, logger := agentFlags(fs)
	if err := fs.Parse([]string{"--config", "../../deploy/vwire-agent.yaml", "--libvirt-timeout", "5s"}); err != nil {
		t.Fatal(err)
	}
	if err := config(); err != nil {
		t.Fatal(err)
	}
	if _, err := logger(); err != nil {
		t.Fatal(err)
	}
	if m.StateDir != "/var/lib/vwire-agent" || m.Listen != "0.0.0.0:54321" || o.hv != "libvirt" || o.callTimeout != 5*time.Second ||
		m.HostNetwork != "linux" {
		t.Fatalf("from the example: %+v %+v", m, o)
	}
}
