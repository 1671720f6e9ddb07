package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	ovirtsdk4 "github.com/ovirt/go-ovirt"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"vwire.dev/vwire"
	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/app"
	"vwire.dev/vwire/client"
	"vwire.dev/vwire/engine"
	"vwire.dev/vwire/hypervisor/sim"
)

// startEngine starts an engine as the binary does, but in plain HTTP on
// loopback (no PKI), with its metrics listener too.
func startEngine(t *testing.T) *app.EngineMain {
	t.Helper()
	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: t.TempDir(), AdminPassword: "secret", EmbeddedHost: true,
		PollInterval: 200 * time.Millisecond, HostTimeout: 5 * time.Second, Out: &bytes.Buffer{}, MetricsListen: "127.0.0.1:0"}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// scrape reads a /metrics answer; user "" sends no credentials.
func scrape(t *testing.T, url, user, password string) (int, map[string]*dto.MetricFamily) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return resp.StatusCode, fams
}

// value is a counter's or gauge's value, or a histogram's count, of the
// series of name with (at least) labels; 0 when absent.
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return 0
	}
	sum := 0.0
next:
	for _, m := range f.Metric {
		for k, v := range labels {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

func TestEngineMetrics(t *testing.T) {
	bg := context.Background()
	m := startEngine(t)
	url := m.BaseURL() + "/metrics"

	// The API port's /metrics takes an administrator's credentials.
	if code, _ := scrape(t, url, "", ""); code != http.StatusUnauthorized {
		t.Fatalf("/metrics without credentials: %d, want 401", code)
	}
	if code, _ := scrape(t, url, "admin@internal", "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("/metrics with a wrong password: %d, want 401", code)
	}
	if _, err := m.Engine.AddUser(bg, "bob", "bob-password-1234"); err != nil {
		t.Fatal(err)
	}
	if code, _ := scrape(t, url, "bob@internal", "bob-password-1234"); code != http.StatusForbidden {
		t.Fatalf("/metrics as a user without CONFIGURE_ENGINE: %d, want 403", code)
	}
	// A Prometheus account as the README describes it: a custom role
	// with CONFIGURE_ENGINE, given on the system.
	prom, err := m.Engine.AddUser(bg, "prometheus", "prometheus-password-1234")
	if err != nil {
		t.Fatal(err)
	}
	role := &vwire.Role{Name: "MetricsReader", Administrative: true, Permits: []vwire.Permit{vwire.PermitConfigureEngine, vwire.PermitLogin}}
	if err := m.Engine.AddRole(bg, role); err != nil {
		t.Fatal(err)
	}
	if err := m.Engine.AddPermission(bg, &vwire.Permission{UserID: prom.ID, RoleID: role.ID, Object: vwire.System}); err != nil {
		t.Fatal(err)
	}
	if code, _ := scrape(t, url, "prometheus@internal", "prometheus-password-1234"); code != http.StatusOK {
		t.Fatalf("/metrics as a user with a role holding CONFIGURE_ENGINE on the system: %d, want 200", code)
	}
	code, before := scrape(t, url, "admin@internal", "secret")
	if code != http.StatusOK {
		t.Fatalf("/metrics as admin: %d", code)
	}

	// A running VM with a vNIC, then a link change through the REST API.
	api, err := client.New(client.Options{URL: m.URL(), User: "admin@internal", Password: "secret", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cls, err := m.Engine.Clusters(bg, vwire.ClusterFilter{})
	if err != nil || len(cls) == 0 {
		t.Fatalf("clusters: %v %v", cls, err)
	}
	prof, err := api.FindProfile(bg, "ovirtmgmt")
	if err != nil {
		t.Fatal(err)
	}
	vm, err := m.Engine.AddVM(bg, engine.VMSpec{Name: "vm1", ClusterID: cls[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	nic, err := api.AddNIC(bg, vm.ID, ovirtsdk4.NewNicBuilder().Name("nic1").VnicProfile(client.ProfileRef(prof.MustId())).MustBuild())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.StartVM(bg, vm.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := api.LinkNIC(bg, vm.ID, nic.MustId(), false); err != nil {
		t.Fatal(err)
	}
	// A console page, for its histogram.
	if resp, err := http.Get(m.BaseURL() + "/login"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	// Drift behind the engine's back: the poller finds it.
	if err := m.Sim.SetLink(vm.ID, "ua-"+nic.MustId(), true); err != nil {
		t.Fatal(err)
	}

	var after map[string]*dto.MetricFamily
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, after = scrape(t, url, "admin@internal", "secret")
		if value(after, "vwire_drift_found_total", nil) >= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	moved := func(name string, labels map[string]string) {
		t.Helper()
		b, a := value(before, name, labels), value(after, name, labels)
		if a <= b {
			t.Errorf("%s%v: %v before, %v after: did not move", name, labels, b, a)
		}
	}
	moved("vwire_changes_total", map[string]string{"kind": "nic", "outcome": "applied"})
	moved("vwire_changes_total", map[string]string{"kind": "start", "outcome": "applied"})
	moved("vwire_rest_request_duration_seconds", map[string]string{"route": "PUT /vms/{id}/nics/{nid}", "code": "200"})
	moved("vwire_rest_request_duration_seconds", map[string]string{"route": "POST /vms/{id}/start"})
	moved("vwire_host_call_duration_seconds", map[string]string{"verb": "VM.updateDevice", "code": "0"})
	moved("vwire_host_call_duration_seconds", map[string]string{"verb": "VM.create", "code": "0"})
	moved("vwire_agent_verb_duration_seconds", map[string]string{"verb": "VM.updateDevice", "code": "0"})
	moved("vwire_hypervisor_call_duration_seconds", map[string]string{"call": "UpdateNIC", "code": "0"})
	moved("vwire_console_request_duration_seconds", map[string]string{"route": "GET /login", "code": "200"})
	moved("vwire_drift_found_total", nil)
	moved("vwire_poll_duration_seconds", map[string]string{"host": "local"})
	if v := value(after, "vwire_mac_pool_used", nil); v < 1 {
		t.Errorf("vwire_mac_pool_used: %v, want the vNIC's MAC", v)
	}
	if v := value(after, "vwire_mac_pool_size", nil); v < 1 {
		t.Errorf("vwire_mac_pool_size: %v", v)
	}
	if _, ok := after["vwire_poll_lag_seconds"]; !ok {
		t.Error("no vwire_poll_lag_seconds")
	}
	if v := value(after, "vwire_db_pool_max_open", nil); v == 0 {
		t.Log("vwire_db_pool_max_open is 0 (unlimited pools)")
	}
	for name := range after {
		if strings.Contains(name, "/") {
			t.Errorf("metric %q", name)
		}
	}
	// No raw path as a route: every route label is a pattern.
	for _, mf := range []string{"vwire_rest_request_duration_seconds", "vwire_console_request_duration_seconds"} {
		for _, s := range after[mf].GetMetric() {
			for _, lp := range s.Label {
				if lp.GetName() == "route" && strings.Contains(lp.GetValue(), vm.ID) {
					t.Errorf("%s has a raw path as route: %q", mf, lp.GetValue())
				}
			}
		}
	}

	// An open event stream is counted as a subscriber, and is no request
	// of the latency histogram.
	req, _ := http.NewRequest("GET", m.URL()+"/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.SetBasicAuth("admin@internal", "secret")
	sctx, stop := context.WithCancel(bg)
	resp, err := http.DefaultClient.Do(req.WithContext(sctx))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("event stream: %v %v", resp, err)
	}
	var streaming map[string]*dto.MetricFamily
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, streaming = scrape(t, url, "admin@internal", "secret"); value(streaming, "vwire_event_stream_subscribers", nil) == 1 {
			break
		}
	}
	if v := value(streaming, "vwire_event_stream_subscribers", nil); v != 1 {
		t.Errorf("vwire_event_stream_subscribers with one stream open: %v", v)
	}
	stop()
	resp.Body.Close()
	if v := value(streaming, "vwire_rest_request_duration_seconds", map[string]string{"route": "GET /events"}); v != 0 {
		t.Errorf("the event stream was timed as a request (%v)", v)
	}

	// The metrics listener serves the same without authentication.
	code, plain := scrape(t, "http://"+m.MetricsAddr()+"/metrics", "", "")
	if code != http.StatusOK || plain["vwire_changes_total"] == nil {
		t.Errorf("metrics listener: %d, %d families", code, len(plain))
	}

	checkDashboard(t, m)
	checkREADME(t, m)
}

// checkDashboard: every metric the Grafana dashboard queries is in the
// engine's registry, once the engine has been exercised.
func checkDashboard(t *testing.T, m *app.EngineMain) {
	t.Helper()
	raw, err := os.ReadFile("../deploy/grafana/vwire.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("deploy/grafana/vwire.json: %v", err)
	}
	fams, err := m.Metrics.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]dto.MetricType{}
	for _, f := range fams {
		have[f.GetName()] = f.GetType()
	}
	name := regexp.MustCompile(`\b(?:vwire|go|process)_[a-z0-9_]+`)
	checked := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				checked++
				if _, ok := have[n]; ok {
					continue
				}
				base := n
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					base = strings.TrimSuffix(base, suffix)
				}
				if typ, ok := have[base]; !ok || base == n || typ != dto.MetricType_HISTOGRAM {
					t.Errorf("panel %q queries %s, which the engine does not export", p.Title, n)
				}
			}
		}
	}
	if checked < 15 {
		t.Errorf("only %d metric names in the dashboard", checked)
	}
}

// checkREADME: the README's Metrics section names every vwire metric.
func checkREADME(t *testing.T, m *app.EngineMain) {
	t.Helper()
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	fams, err := m.Metrics.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if n := f.GetName(); strings.HasPrefix(n, "vwire_") && !strings.Contains(readme, "`"+n) {
			t.Errorf("README does not list %s", n)
		}
	}
}

func TestAgentMetrics(t *testing.T) {
	a := &app.AgentMain{Listen: "127.0.0.1:0", Hypervisor: sim.New(), MetricsListen: "127.0.0.1:0"}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	c := agent.NewClient("http://"+a.Addr()+"/", nil, 5*time.Second)
	defer c.Close()
	if _, err := c.Capabilities(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.DestroyVM(context.Background(), uuid.NewString()); err == nil {
		t.Fatal("destroying a VM the host lacks succeeded")
	}
	code, fams := scrape(t, "http://"+a.MetricsAddr()+"/metrics", "", "")
	if code != http.StatusOK {
		t.Fatalf("agent /metrics: %d", code)
	}
	if v := value(fams, "vwire_agent_verb_duration_seconds", map[string]string{"verb": "Host.getCapabilities", "code": "0"}); v != 1 {
		t.Errorf("Host.getCapabilities observed %v times, want 1", v)
	}
	if v := value(fams, "vwire_agent_verb_duration_seconds", map[string]string{"verb": "VM.destroy", "code": "1"}); v != 1 {
		t.Errorf("VM.destroy of a missing VM (noVM, code 1) observed %v times, want 1: %v", v, fams["vwire_agent_verb_duration_seconds"])
	}
	if v := value(fams, "vwire_hypervisor_call_duration_seconds", map[string]string{"call": "Capabilities", "code": "0"}); v < 1 {
		t.Errorf("hypervisor Capabilities observed %v times", v)
	}
	if v := value(fams, "vwire_hypervisor_call_duration_seconds", map[string]string{"call": "DestroyDomain", "code": "42"}); v != 1 {
		t.Errorf("hypervisor DestroyDomain of a missing domain (libvirt's 42) observed %v times: %v", v, fams["vwire_hypervisor_call_duration_seconds"])
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no Go collector")
	}
}
