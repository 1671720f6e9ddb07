package metrics

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vwire.dev/vwire/engine"
	"vwire.dev/vwire/hypervisor"
	"vwire.dev/vwire/store/sqlstore"
)

// Engine is the engine's metrics. It is made before the engine (it is the
// engine's Observer) and given the scrape-time sources once the rest is
// wired (Attach).
type Engine struct {
	reg *prometheus.Registry

	rest, console *prometheus.HistogramVec
	hostCalls     *prometheus.HistogramVec
	verbs         *prometheus.HistogramVec
	hv            *prometheus.HistogramVec
	changes       *prometheus.CounterVec
	driftFound    prometheus.Counter
	driftRepaired prometheus.Counter
	pollDuration  *prometheus.HistogramVec
	polls         *pollLag
}

var _ engine.Observer = (*Engine)(nil)

// changeKinds and outcomes are every label pair of vwire_changes_total,
// created at zero so that a rate is defined before the first change.
var (
	changeKinds = []string{"nic", "start", "stop"}
	outcomes    = []string{engine.OutcomeApplied, engine.OutcomeRefused, engine.OutcomeUnknown, engine.OutcomeSettled}
)

// NewEngine returns the engine's metrics in a registry of their own, with
// the Go runtime's and the process's collectors.
func NewEngine() *Engine {
	m := &Engine{
		reg: newRegistry(),
		rest: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vwire_rest_request_duration_seconds",
			Help: "Time the REST API took to answer, by route pattern (\"GET /vms/{id}\", \"unrouted\" for 404/405), method and HTTP status; event streams excluded.",
		}, []string{"route", "method", "code"}),
		console: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vwire_console_request_duration_seconds",
			Help: "Time the web console took to answer, by route pattern, method and HTTP status; its live stream excluded.",
		}, []string{"route", "method", "code"}),
		hostCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vwire_host_call_duration_seconds",
			Help:    "Time of the engine's calls to host agents, by verb and code (0: success; the agent's VDSM code; unknown: no answer).",
			Buckets: callBuckets,
		}, []string{"verb", "code"}),
		verbs: newVerbs(),
		hv:    newHypervisorCalls(),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vwire_changes_total",
			Help: "Changes that reached a host, by kind (nic, start, stop) and outcome (applied, refused, unknown; settled: an unknown one settled from its host).",
		}, []string{"kind", "outcome"}),
		driftFound: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vwire_drift_found_total",
			Help: "vNICs and unknown devices newly found to differ from the database by a poll (one per drift event).",
		}),
		driftRepaired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vwire_drift_repaired_total",
			Help: "Drifted vNICs put back and unknown devices unplugged under the enforce policy.",
		}),
		pollDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vwire_poll_duration_seconds",
			Help:    "Time of one poll cycle of a host by this engine (reading it, recording, repairing drift, settling).",
			Buckets: callBuckets,
		}, []string{"host"}),
		polls: newPollLag(time.Now),
	}
	for _, k := range changeKinds {
		for _, o := range outcomes {
			m.changes.WithLabelValues(k, o)
		}
	}
	m.reg.MustRegister(m.rest, m.console, m.hostCalls, m.verbs, m.hv, m.changes, m.driftFound, m.driftRepaired, m.pollDuration, m.polls)
	return m
}

// Change counts a change's outcome (engine.Observer).
func (m *Engine) Change(kind, outcome string) { m.changes.WithLabelValues(kind, outcome).Inc() }

// Drift counts drift found and repaired (engine.Observer).
func (m *Engine) Drift(found, repaired int) {
	m.driftFound.Add(float64(found))
	m.driftRepaired.Add(float64(repaired))
}

// PollCycle times a poll and keeps when the host last answered
// (engine.Observer).
func (m *Engine) PollCycle(host string, took time.Duration, reached bool) {
	m.pollDuration.WithLabelValues(host).Observe(took.Seconds())
	m.polls.poll(host, reached)
}

// HostCall times one call to a host agent (agent.ClientOptions.Observe).
func (m *Engine) HostCall(verb string, took time.Duration, err error) {
	m.hostCalls.WithLabelValues(verb, hostCallCode(err)).Observe(took.Seconds())
}

// Verb times a verb the embedded host answered (agent.Options.Observe).
func (m *Engine) Verb(verb string, took time.Duration, code int) {
	m.verbs.WithLabelValues(verb, strconv.Itoa(code)).Observe(took.Seconds())
}

// Hypervisor wraps the embedded host's hypervisor so that its calls are
// timed.
func (m *Engine) Hypervisor(hv hypervisor.Hypervisor) hypervisor.Hypervisor {
	return timeHypervisor(m.hv, hv)
}

// InstrumentREST times the REST API's requests; route is restapi's Route.
func (m *Engine) InstrumentREST(route func(*http.Request) string, h http.Handler) http.Handler {
	return instrument(m.rest, route, h)
}

// InstrumentConsole times the console's requests; route is console's Route.
func (m *Engine) InstrumentConsole(route func(*http.Request) string, h http.Handler) http.Handler {
	return instrument(m.console, route, h)
}

// Handler serves the engine's metrics (app puts authentication in front).
func (m *Engine) Handler() http.Handler { return handler(m.reg) }

// Gatherer is the engine's registry.
func (m *Engine) Gatherer() prometheus.Gatherer { return m.reg }

// DB is what the metrics read of the store: *sqlstore.DB.
type DB interface {
	Counters() sqlstore.TxCounters
	PoolStats() map[string]sql.DBStats
}

// Sources are what the metrics read at scrape time; a nil one is left out.
type Sources struct {
	DB DB
	// MACPools is engine.MACPoolsUsage.
	MACPools func(context.Context) ([]engine.MACPoolUsage, error)
	// EventStreams is restapi's Subscribers; LiveStreams console's.
	EventStreams func() int
	LiveStreams  func() int
}

// Attach registers the scrape-time metrics of s. Call it once.
func (m *Engine) Attach(s Sources) {
	if s.DB != nil {
		db := s.DB
		m.reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "vwire_db_tx_retries_total",
				Help: "Write transactions run again after a serialization conflict.",
			}, func() float64 { return float64(db.Counters().Retries) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "vwire_db_tx_conflicts_total",
				Help: "Write transactions that still conflicted after every attempt (their callers got TX_CONFLICT).",
			}, func() float64 { return float64(db.Counters().Conflicts) }),
			dbPools{db})
	}
	if s.MACPools != nil {
		m.reg.MustRegister(macPools{s.MACPools})
	}
	if s.EventStreams != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vwire_event_stream_subscribers",
			Help: "Open REST event streams (GET /events as server-sent events).",
		}, func() float64 { return float64(s.EventStreams()) }))
	}
	if s.LiveStreams != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vwire_console_live_streams",
			Help: "Open live streams of the web console (/live).",
		}, func() float64 { return float64(s.LiveStreams()) }))
	}
}
