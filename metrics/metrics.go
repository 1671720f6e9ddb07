// Package metrics is vwire's Prometheus instrumentation (client_golang):
// the engine's (REST and console latency by route, host calls by verb and
// VDSM code, changes by outcome, drift, database transactions and pools,
// polls, event streams, MAC pools) and the agent's (verbs by code).
//
// Each binary gets a registry of its own, not the default one, so that a
// test may run several engines in one process. The engine reports through
// hooks the other packages offer and app wires: engine.Observer (changes,
// drift, polls), agent.ClientOptions.Observe (host calls),
// agent.Options.Observe (verbs), restapi's and console's Route (routes),
// and scrape-time reads (sqlstore's counters and pool statistics, event
// and live streams, engine.MACPoolsUsage). The engine never imports this
// package.
package metrics

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/hypervisor"
)

// callBuckets cover a host call or a poll: from a millisecond to the
// default host timeout (30 s) and beyond.
var callBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// newRegistry is a registry with the Go runtime's and the process's
// collectors, as the default registry has them.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// handler serves a registry. A collector that fails (the database is
// down) leaves its metrics out of the scrape and says why in the answer's
// errors, instead of failing the whole scrape.
func handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Registry: reg})
}

// newVerbs is the agent's histogram of verbs (also the embedded host's, in
// the engine's registry).
func newVerbs() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "vwire_agent_verb_duration_seconds",
		Help:    "Time an agent took to answer a JSON-RPC verb, by verb and answer code (0: success; VDSM's codes otherwise).",
		Buckets: callBuckets,
	}, []string{"verb", "code"})
}

// Agent is the agent's metrics.
type Agent struct {
	reg   *prometheus.Registry
	verbs *prometheus.HistogramVec
	hv    *prometheus.HistogramVec
}

// NewAgent returns the agent's metrics in a registry of their own.
func NewAgent() *Agent {
	a := &Agent{reg: newRegistry(), verbs: newVerbs(), hv: newHypervisorCalls()}
	a.reg.MustRegister(a.verbs, a.hv)
	return a
}

// Hypervisor wraps the agent's hypervisor so that its calls are timed.
func (a *Agent) Hypervisor(hv hypervisor.Hypervisor) hypervisor.Hypervisor {
	return timeHypervisor(a.hv, hv)
}

// Verb observes one answered verb (agent.Options.Observe).
func (a *Agent) Verb(verb string, took time.Duration, code int) {
	a.verbs.WithLabelValues(verb, strconv.Itoa(code)).Observe(took.Seconds())
}

// Handler serves the agent's metrics.
func (a *Agent) Handler() http.Handler { return handler(a.reg) }

// Gatherer is the agent's registry.
func (a *Agent) Gatherer() prometheus.Gatherer { return a.reg }

// hostCallCode is a host call's code label: "0" on success, the agent's
// (VDSM's) code when it answered with an error, "unknown" when it did not
// answer (never reached, or the outcome is unknown).
func hostCallCode(err error) string {
	var re *agent.RPCError
	switch {
	case err == nil:
		return "0"
	case errors.As(err, &re):
		return strconv.Itoa(re.Code)
	}
	return "unknown"
}

// instrument times h's requests into vec by route, method and status. A
// server-sent-event stream (the REST event stream, the console's /live)
// is left out: it lasts as long as its client, and is counted by the
// subscriber gauges instead. route gives the request's route pattern,
// "" when none takes it.
func instrument(vec *prometheus.HistogramVec, route func(*http.Request) string, h http.Handler) http.Handler {
	timed := promhttp.InstrumentHandlerDuration(vec, h, promhttp.WithLabelFromRequest("route", func(r *http.Request) string {
		if p := route(r); p != "" {
			return p
		}
		return "unrouted"
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
			h.ServeHTTP(w, r)
			return
		}
		timed.ServeHTTP(w, r)
	})
}
