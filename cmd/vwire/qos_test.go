package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"vwire.dev/vwire/app"
)

// TestCLIQoS: a data center's network QoS from the CLI (add, list, show,
// update, remove, in tables, JSON and YAML with oVirt's names), a profile
// given a QoS, mirroring, a filter and pass-through, and the exit codes of
// the engine's refusals.
func TestCLIQoS(t *testing.T) {
	t.Setenv("VWIRE_CONFIG", t.TempDir()+"/config.json")
	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: t.TempDir(), EmbeddedHost: true, AdminPassword: "pw",
		PollInterval: time.Hour, Out: io.Discard}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	vw := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(append([]string{"--url", m.URL(), "--password", "pw"}, args...), &out)
		return out.String(), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := vw(args...)
		if err != nil {
			t.Fatalf("vwire %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	has := func(out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q:\n%s", w, out)
			}
		}
	}
	exits := func(code int, want string, args ...string) {
		t.Helper()
		out, err := vw(args...)
		if got := exitCode(err); got != code || (want != "" && (err == nil || !strings.Contains(err.Error(), want))) {
			t.Errorf("vwire %s: exit %d (%v), want %d with %q\n%s", strings.Join(args, " "), got, err, code, want, out)
		}
	}

	has(must("qos", "add", "gold", "--outbound-average", "1", "--outbound-peak", "2", "--outbound-burst", "3", "--description", "slow"),
		"QoS gold added to data center Default")
	has(must("qos", "list"), "gold", "unlimited", "1/2 Mbps, 3 MB", "slow")
	has(must("qos", "show", "gold", "--dc", "Default"), "Data center:", "Default", "Outbound:", "1/2 Mbps, 3 MB")
	var q struct {
		Name           string              `json:"name"`
		Type           string              `json:"type"`
		OutboundPeak   string              `json:"outbound_peak"`
		InboundAverage string              `json:"inbound_average"`
		DataCenter     struct{ ID string } `json:"data_center"`
	}
	if err := json.Unmarshal([]byte(must("-o", "json", "qos", "show", "gold")), &q); err != nil || q.Type != "network" ||
		q.OutboundPeak != "2" || q.InboundAverage != "" || q.DataCenter.ID == "" {
		t.Errorf("qos show as json: %v %+v", err, q)
	}
	has(must("qos", "update", "gold", "--inbound-average", "5", "--inbound-peak", "6", "--inbound-burst", "7", "--no-outbound"), "QoS gold updated")
	var list []map[string]any
	if err := yaml.Unmarshal([]byte(must("-o", "yaml", "qos", "list", "--datacenter", "Default")), &list); err != nil || len(list) != 1 ||
		list[0]["inbound_peak"] != "6" || list[0]["outbound_average"] != nil {
		t.Errorf("qos list as yaml after update: %v %+v", err, list)
	}
	exits(1, "Peak cannot be set lower than Average", "qos", "add", "bad", "--inbound-average", "5", "--inbound-peak", "4", "--inbound-burst", "1")
	exits(1, "All three values are needed", "qos", "add", "bad", "--inbound-average", "5")
	has(must("__complete", "qos", "show", ""), "gold")
	exits(3, "", "qos", "show", "nope")
	exits(2, "", "qos", "update", "gold", "--no-inbound", "--inbound-peak", "1")

	// A profile with the QoS and mirroring and no filter; then changed.
	has(must("profile", "add", "limited", "--network", "ovirtmgmt", "--qos", "gold", "--port-mirroring", "--network-filter", "none"),
		"vNIC profile limited added")
	has(must("profile", "show", "limited"), "QoS:", "gold", "Port mirroring:", "true", "Network filter:", "-", "Pass-through:", "disabled")
	has(must("profile", "update", "limited", "--no-qos", "--port-mirroring", "false", "--network-filter", "clean-traffic"), "updated")
	var p struct {
		QoS           *struct{ ID string }  `json:"qos"`
		PortMirroring string                `json:"port_mirroring"`
		PassThrough   struct{ Mode string } `json:"pass_through"`
	}
	if err := json.Unmarshal([]byte(must("-o", "json", "profile", "show", "limited")), &p); err != nil || p.QoS != nil ||
		p.PortMirroring != "false" || p.PassThrough.Mode != "disabled" {
		t.Errorf("profile show as json: %v %+v", err, p)
	}
	has(must("profile", "show", "limited"), "clean-traffic")
	exits(1, "not supported on passthrough profiles", "profile", "update", "limited", "--pass-through", "true")
	has(must("profile", "update", "limited", "--pass-through", "true", "--network-filter", "none"), "updated")
	has(must("profile", "add", "pt", "--network", "ovirtmgmt", "--pass-through"), "vNIC profile pt added")
	has(must("profile", "show", "pt"), "Pass-through:", "enabled")
	exits(2, "", "profile", "update", "pt", "--pass-through", "maybe")

	has(must("qos", "remove", "gold"), "QoS gold removed")
	if out := must("qos", "list"); strings.Contains(out, "gold") {
		t.Errorf("a removed QoS is listed:\n%s", out)
	}
}
