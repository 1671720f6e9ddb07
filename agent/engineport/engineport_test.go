package engineport

import (
	"context"
	"errors"
	"testing"

	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/engine"
)

// TestClassify: every error of the agent client maps to the engine's kind,
// with the host's code and reason, and keeps its text and its cause.
func TestClassify(t *testing.T) {
	cause := errors.New("connection refused")
	plain := errors.New("json: unsupported value")
	for _, tc := range []struct {
		name     string
		err      error
		kind     error
		answered bool
		code     int
		reason   string
	}{
		{"refused", &agent.RPCError{Code: agent.CodeUpdateDevice, Message: "Failed to update device", Data: &agent.ErrorData{Reason: "no such bridge"}},
			engine.ErrHostRefused, true, agent.CodeUpdateDevice, "no such bridge"},
		{"refused without reason", &agent.RPCError{Code: agent.CodeHotplugNic, Message: "Failed to hotplug NIC"},
			engine.ErrHostRefused, true, agent.CodeHotplugNic, "Failed to hotplug NIC"},
		{"no VM", &agent.RPCError{Code: agent.CodeNoVM, Message: "Virtual machine does not exist"},
			engine.ErrNoVM, true, agent.CodeNoVM, "Virtual machine does not exist"},
		{"unknown answered", &agent.RPCError{Code: agent.CodeOutcomeUnknown, Message: "Outcome of the request unknown", Data: &agent.ErrorData{Reason: "broken"}},
			engine.ErrOutcomeUnknown, true, agent.CodeOutcomeUnknown, "broken"},
		{"not reached", &agent.TransportError{Err: cause}, engine.ErrHostUnreached, false, 0, "connection refused"},
		{"unknown", &agent.UnknownError{Err: context.DeadlineExceeded}, engine.ErrOutcomeUnknown, false, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := classify(tc.err)
			var he *engine.HostError
			if !errors.As(got, &he) {
				t.Fatalf("classify(%v) = %#v, want a *engine.HostError", tc.err, got)
			}
			if !errors.Is(got, tc.kind) || he.Answered != tc.answered || he.Code != tc.code || he.Reason != tc.reason {
				t.Errorf("got kind %v answered %v code %d reason %q, want %v %v %d %q", he.Kind, he.Answered, he.Code, he.Reason,
					tc.kind, tc.answered, tc.code, tc.reason)
			}
			if got.Error() != tc.err.Error() || !errors.Is(got, tc.err) {
				t.Errorf("text %q, want %q, wrapping the client's error", got.Error(), tc.err.Error())
			}
			for _, other := range []error{engine.ErrHostRefused, engine.ErrNoVM, engine.ErrHostUnreached, engine.ErrOutcomeUnknown} {
				if other != tc.kind && errors.Is(got, other) {
					t.Errorf("also %v", other)
				}
			}
		})
	}
	if got := classify(plain); got != plain {
		t.Errorf("classify(plain) = %v, want it unchanged", got)
	}
	if classify(nil) != nil {
		t.Error("classify(nil) != nil")
	}
}
