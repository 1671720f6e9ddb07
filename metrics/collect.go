package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vwire.dev/vwire/engine"
)

// Collectors whose label values are only known at scrape time (the
// store's pools, the MAC pools, the hosts this engine polls): each reads
// its source in Collect and hands client_golang constant metrics.

// dbPools reports the store's connection pools (database/sql statistics).
type dbPools struct{ db DB }

var (
	poolInUse = prometheus.NewDesc("vwire_db_pool_in_use",
		"Connections of a database pool in use (read, write; lock on PostgreSQL).", []string{"pool"}, nil)
	poolMaxOpen = prometheus.NewDesc("vwire_db_pool_max_open",
		"Most open connections a database pool allows (0: unlimited).", []string{"pool"}, nil)
	poolWait = prometheus.NewDesc("vwire_db_pool_wait_total",
		"Times a caller waited for a connection of a database pool.", []string{"pool"}, nil)
	poolWaitSeconds = prometheus.NewDesc("vwire_db_pool_wait_seconds_total",
		"Time callers waited for connections of a database pool.", []string{"pool"}, nil)
)

func (dbPools) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolInUse
	ch <- poolMaxOpen
	ch <- poolWait
	ch <- poolWaitSeconds
}

func (p dbPools) Collect(ch chan<- prometheus.Metric) {
	for name, s := range p.db.PoolStats() {
		ch <- prometheus.MustNewConstMetric(poolInUse, prometheus.GaugeValue, float64(s.InUse), name)
		ch <- prometheus.MustNewConstMetric(poolMaxOpen, prometheus.GaugeValue, float64(s.MaxOpenConnections), name)
		ch <- prometheus.MustNewConstMetric(poolWait, prometheus.CounterValue, float64(s.WaitCount), name)
		ch <- prometheus.MustNewConstMetric(poolWaitSeconds, prometheus.CounterValue, s.WaitDuration.Seconds(), name)
	}
}

// macPools reports each MAC pool's size and use, read from the engine at
// scrape time (as the system: the scrape itself was authorized).
type macPools struct {
	usage func(context.Context) ([]engine.MACPoolUsage, error)
}

var (
	macUsed = prometheus.NewDesc("vwire_mac_pool_used",
		"MACs of a pool held by vNICs of VMs in the clusters using it.", []string{"pool"}, nil)
	macSize = prometheus.NewDesc("vwire_mac_pool_size",
		"Addresses in a MAC pool's ranges.", []string{"pool"}, nil)
)

// macScrapeTimeout bounds the database read of one scrape.
const macScrapeTimeout = 5 * time.Second

func (macPools) Describe(ch chan<- *prometheus.Desc) {
	ch <- macUsed
	ch <- macSize
}

func (p macPools) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), macScrapeTimeout)
	defer cancel()
	pools, err := p.usage(ctx)
	if err != nil {
		// The scrape goes on without them and names the error.
		ch <- prometheus.NewInvalidMetric(macUsed, err)
		return
	}
	for _, u := range pools {
		ch <- prometheus.MustNewConstMetric(macUsed, prometheus.GaugeValue, float64(u.Used), u.Name)
		ch <- prometheus.MustNewConstMetric(macSize, prometheus.GaugeValue, float64(u.Size), u.Name)
	}
}

// pollLag keeps, per host this engine polls, when it last answered, and
// reports the time since then at scrape time: a gauge that grows while a
// host is silent, which a poll-time gauge could not do once polls fail.
type pollLag struct {
	now   func() time.Time
	mu    sync.Mutex
	hosts map[string]*pollState
}

type pollState struct {
	// ok is the last poll the host answered (or, until one did, the first
	// poll); tried the last poll at all.
	ok, tried time.Time
}

// pollForgetAfter: a host this engine has not polled for this long is
// dropped (removed, renamed, or polled by another engine now that the
// lease moved), so that its lag does not grow for ever.
const pollForgetAfter = 10 * time.Minute

var pollLagDesc = prometheus.NewDesc("vwire_poll_lag_seconds",
	"Time since a host this engine polls last answered a poll.", []string{"host"}, nil)

func newPollLag(now func() time.Time) *pollLag {
	return &pollLag{now: now, hosts: map[string]*pollState{}}
}

func (p *pollLag) poll(host string, reached bool) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ok := p.hosts[host]
	if !ok {
		st = &pollState{ok: now}
		p.hosts[host] = st
	}
	st.tried = now
	if reached {
		st.ok = now
	}
}

func (p *pollLag) Describe(ch chan<- *prometheus.Desc) { ch <- pollLagDesc }

func (p *pollLag) Collect(ch chan<- prometheus.Metric) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for host, st := range p.hosts {
		if now.Sub(st.tried) > pollForgetAfter {
			delete(p.hosts, host)
			continue
		}
		ch <- prometheus.MustNewConstMetric(pollLagDesc, prometheus.GaugeValue, now.Sub(st.ok).Seconds(), host)
	}
}
