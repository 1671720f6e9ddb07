package metrics

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"vwire.dev/vwire/agent"
)

func TestHostCallCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, "0"},
		{&agent.RPCError{Code: agent.CodeNoVM}, "1"},
		{fmt.Errorf("update: %w", &agent.RPCError{Code: 50}), "50"},
		{&agent.TransportError{Err: errors.New("connection refused")}, "unknown"},
		{&agent.UnknownError{Err: errors.New("timeout")}, "unknown"},
	} {
		if got := hostCallCode(c.err); got != c.want {
			t.Errorf("hostCallCode(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// The lag grows while a host does not answer, restarts when it does, and a
// host no longer polled is forgotten.
func TestPollLag(t *testing.T) {
	now := time.Unix(1000, 0)
	p := newPollLag(func() time.Time { return now })
	p.poll("h1", true)
	now = now.Add(5 * time.Second)
	p.poll("h1", false)
	now = now.Add(5 * time.Second)
	if got := testutil.ToFloat64(p); got != 10 {
		t.Errorf("lag after 10 s without an answer: %v", got)
	}
	p.poll("h1", true)
	if got := testutil.ToFloat64(p); got != 0 {
		t.Errorf("lag right after an answer: %v", got)
	}
	now = now.Add(pollForgetAfter + time.Second)
	if n := testutil.CollectAndCount(p); n != 0 {
		t.Errorf("%d series for a host not polled for %v", n, pollForgetAfter)
	}
}
