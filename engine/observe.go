package engine

import (
	"context"
	"time"

	"vwire.dev/vwire"
)

// Observer is told what the engine does, for metrics. The engine imports
// no metrics library: app injects one (package metrics) through
// Options.Observer, and the engine calls it at the few places where an
// outcome is known. Calls must be cheap and never block: they are made on
// the use cases' own goroutines, some while a VM's lock is held.
type Observer interface {
	// Change: a change that reached a host ended as outcome. kind is the
	// change in flight's ("nic": a hot plug, unplug or live update of a
	// vNIC; "start"; "stop"). A change whose outcome was unknown is told
	// twice: "unknown" when its call left it so, "settled" once it is
	// settled from its host (recorded or rolled back), by the request
	// itself, the VM's next operation or the poller; a change left in
	// flight by a dead engine, or by a commit that failed after the host
	// acted (markUnknown's other callers), is told only "settled".
	Change(kind, outcome string)
	// Drift: found vNICs or devices newly seen to differ from the
	// database (what the report events say), repaired ones put back.
	Drift(found, repaired int)
	// PollCycle: one poll of a host (by name) took this long; reached is
	// false when the host did not answer.
	PollCycle(host string, took time.Duration, reached bool)
}

// Outcomes a change is told with (Observer.Change).
const (
	OutcomeApplied = "applied" // the host did it and it is recorded
	OutcomeRefused = "refused" // the host refused or failed it: nothing changed
	OutcomeUnknown = "unknown" // the call's outcome is not known; it will be settled
	OutcomeSettled = "settled" // an unknown outcome, settled from the host
)

// noObserver is the default: nothing watches.
type noObserver struct{}

func (noObserver) Change(string, string)                 {}
func (noObserver) Drift(int, int)                        {}
func (noObserver) PollCycle(string, time.Duration, bool) {}

// opReadMetrics names the read of the engine's metrics in a refusal.
var opReadMetrics = vwire.Op{Action: "read", Type: "Metrics"}

// AuthorizeMetrics lets the caller read the engine's metrics: they say how
// the whole system fares (every host, every MAC pool), so they take
// CONFIGURE_ENGINE on the system, which SuperUser has (and a custom role
// given on the system may). A refusal is audited like any other (10920).
func (e *Engine) AuthorizeMetrics(ctx context.Context) error {
	return e.authorize(ctx, opReadMetrics, onSystem(vwire.PermitConfigureEngine))
}
