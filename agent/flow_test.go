package agent_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"vwire.dev/vwire/agent"
)

// flowRecorder records each log record's level, message and the flow id of
// the context it was logged with.
type flowRecorder struct {
	mu   sync.Mutex
	recs []string
}

func (r *flowRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *flowRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *flowRecorder) WithGroup(string) slog.Handler            { return r }
func (r *flowRecorder) Handle(ctx context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Level.String()+" "+rec.Message+" "+agent.FlowID(ctx))
	return nil
}

func (r *flowRecorder) has(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.recs {
		if x == s {
			return true
		}
	}
	return false
}

// TestFlowIDReachesAgentLog: a call made with a flow id carries it to the
// agent, which logs its handling at info with that id in the context; a
// call without one (a poll) is logged at debug; an over-long flow id is an
// invalid request that changes nothing.
func TestFlowIDReachesAgentLog(t *testing.T) {
	rec := &flowRecorder{}
	srv, s := outcomeAgent(t, agent.Options{Logger: slog.New(rec)})
	c := agent.NewClient(srv.URL, nil, 5*time.Second)
	defer c.Close()
	ctx := agent.WithFlowID(context.Background(), "req-7")
	if _, err := c.UpdateNIC(ctx, "v1", agent.UpdateDeviceParams{Alias: "ua-n1", LinkActive: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AllVMStats(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !rec.has("INFO rpc req-7") || !rec.has("DEBUG rpc ") {
		t.Fatalf("agent log: %q", rec.recs)
	}
	req := linkDown("", 0)
	req["params"].(map[string]any)["params"].(map[string]any)["linkActive"] = true
	req["flow_id"] = strings.Repeat("x", 65)
	if a := post(t, srv.URL, req); a.Error == nil || a.Error.Code != agent.CodeInvalidRequest {
		t.Fatalf("an over-long flow id: %+v", a)
	}
	if linkOf(t, s) {
		t.Fatal("a refused request changed the link")
	}
}

func ptr[T any](v T) *T { return &v }
