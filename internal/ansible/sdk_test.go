package ansible_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"testing"
	"time"

	"vwire.dev/vwire/app"
)

// TestPythonSDK runs oVirt's Python SDK (built from its released sources
// as TestPlaybookTwice builds it) through testdata/sdk_checks.py: the vNIC
// workflow, the faults it maps to its typed errors, follow, statistics,
// network filters, jobs and search. Every check must pass.
func TestPythonSDK(t *testing.T) {
	tools(t)
	work := t.TempDir()
	sdk := buildSDK(t, filepath.Join(work, "sdk"))
	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: t.TempDir(), EmbeddedHost: true, AdminPassword: "secret", PKI: true,
		PollInterval: time.Hour, Out: io.Discard}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if err := m.Sim.EnsureBridges(context.Background(), []string{"pyred"}); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs("testdata/sdk_checks.py")
	if err != nil {
		t.Fatal(err)
	}
	out := run(t, work, []string{"PYTHONPATH=" + sdk}, python, script, m.URL(), m.CAFile())
	passed, failed := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r struct {
			Check  string `json:"check"`
			OK     bool   `json:"ok"`
			Detail string `json:"detail"`
		}
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		if r.OK {
			passed++
			t.Logf("ok   %s", r.Check)
		} else {
			failed++
			t.Errorf("FAIL %s: %s", r.Check, r.Detail)
		}
	}
	t.Logf("oVirt's Python SDK: %d checks passed, %d failed", passed, failed)
	if passed+failed < 25 {
		t.Fatalf("only %d checks reported:\n%s", passed+failed, out)
	}
}
