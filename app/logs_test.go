package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/app"
	"vwire.dev/vwire/engine"
)

// syncBuffer is a bytes.Buffer several goroutines log into.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines are the buffer's JSON log lines carrying request_id id.
func (s *syncBuffer) lines(t *testing.T, id string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("a log line is not JSON: %q: %v", sc.Text(), err)
		}
		if m["request_id"] == id {
			out = append(out, m)
		}
	}
	return out
}

// rest calls the engine's API in XML as admin, with a Correlation-Id
// header when corr is set, and returns the body.
func rest(t *testing.T, m *app.EngineMain, method, path, body, corr string) string {
	t.Helper()
	req, err := http.NewRequest(method, m.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin@internal", "secret")
	req.Header.Set("Content-Type", "application/xml")
	if corr != "" {
		req.Header.Set("Correlation-Id", corr)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		t.Fatalf("%s %s: %s %s", method, path, res.Status, data)
	}
	if corr != "" && res.Header.Get("Correlation-Id") != corr {
		t.Fatalf("answered Correlation-Id %q", res.Header.Get("Correlation-Id"))
	}
	return string(data)
}

var idAttr = regexp.MustCompile(`<(vm|nic|vnic_profile) href="[^"]*" id="([^"]*)"`)

// firstID is the id of the first element named kind in an XML answer.
func firstID(t *testing.T, kind, xml string) string {
	t.Helper()
	for _, m := range idAttr.FindAllStringSubmatch(xml, -1) {
		if m[1] == kind {
			return m[2]
		}
	}
	t.Fatalf("no %s id in %s", kind, xml)
	return ""
}

// TestRequestIDFollowsChange: a vNIC change made with a Correlation-Id
// shows that id as request_id in a JSON line of the engine's log and of
// the agent's (the embedded host, over the same JSON-RPC as any host, with
// a log of its own), and the engine's polls carry none.
func TestRequestIDFollowsChange(t *testing.T) {
	var engLog, agentLog syncBuffer
	el, err := app.NewLogger(&engLog, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	al, err := app.NewLogger(&agentLog, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: t.TempDir(), AdminPassword: "secret", EmbeddedHost: true,
		PollInterval: 50 * time.Millisecond, Out: io.Discard, Logger: el, HostLogger: al}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	vm := firstID(t, "vm", rest(t, m, "POST", "/vms", `<vm><name>vm1</name><cluster><name>Default</name></cluster><template><name>Blank</name></template></vm>`, ""))
	mg := firstID(t, "vnic_profile", rest(t, m, "GET", "/vnicprofiles?search=name%3Dovirtmgmt", "", ""))
	nic := firstID(t, "nic", rest(t, m, "POST", "/vms/"+vm+"/nics", `<nic><name>nic1</name><vnic_profile id="`+mg+`"/></nic>`, ""))
	rest(t, m, "POST", "/vms/"+vm+"/start", `<action/>`, "")
	const corr = "ops-test-42"
	rest(t, m, "PUT", "/vms/"+vm+"/nics/"+nic, `<nic><linked>false</linked></nic>`, corr)

	eng := engLog.lines(t, corr)
	if !hasMsg(eng, "vNIC host action") {
		t.Fatalf("no engine line of the change with request_id %s; engine log:\n%s", corr, engLog.String())
	}
	ag := agentLog.lines(t, corr)
	found := false
	for _, l := range ag {
		if l["msg"] == "rpc" && l["method"] == "VM.updateDevice" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no agent line of VM.updateDevice with request_id %s; agent log:\n%s", corr, agentLog.String())
	}
	time.Sleep(200 * time.Millisecond) // a few polls
	for _, l := range agentLog.lines(t, corr) {
		if l["method"] != "VM.updateDevice" {
			t.Errorf("a call the change did not make carries its id: %v", l)
		}
	}
}

func hasMsg(lines []map[string]any, msg string) bool {
	for _, l := range lines {
		if l["msg"] == msg {
			return true
		}
	}
	return false
}

// TestNewLogger: text and JSON both carry request_id from the context,
// whether the engine's correlation id or an agent call's flow id; a
// logger given to EngineMain is wrapped once; a bad format or level is
// an error naming the flag.
func TestNewLogger(t *testing.T) {
	var b syncBuffer
	l, err := app.NewLogger(&b, "text", "debug")
	if err != nil {
		t.Fatal(err)
	}
	l.With("host", "local").InfoContext(engine.WithCorrelation(context.Background(), "c-1"), "one")
	app.WithRequestID(l).DebugContext(agent.WithFlowID(context.Background(), "f-2"), "two")
	l.Info("three")
	out := b.String()
	if !strings.Contains(out, "msg=one host=local request_id=c-1") || !strings.Contains(out, "msg=two request_id=f-2") ||
		strings.Count(out, "request_id") != 2 {
		t.Fatalf("text log:\n%s", out)
	}
	if _, err := app.NewLogger(&b, "xml", "info"); err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Fatalf("format xml: %v", err)
	}
	if _, err := app.NewLogger(&b, "json", "loud"); err == nil || !strings.Contains(err.Error(), "--log-level") {
		t.Fatalf("level loud: %v", err)
	}
}
