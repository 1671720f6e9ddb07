package metrics

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vwire.dev/vwire/hypervisor"
)

// The agent's calls to its hypervisor (libvirt, or the simulated one),
// timed by a decorator of hypervisor.Hypervisor: the agent is unchanged,
// and a slow libvirtd shows apart from the agent's own work.

func newHypervisorCalls() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "vwire_hypervisor_call_duration_seconds",
		Help:    "Time of an agent's calls to its hypervisor, by call and code (0: success; libvirt's error code; unknown: another error, such as a deadline).",
		Buckets: callBuckets,
	}, []string{"call", "code"})
}

// hypervisorCode is a hypervisor call's code label.
func hypervisorCode(err error) string {
	var he *hypervisor.Error
	switch {
	case err == nil:
		return "0"
	case errors.As(err, &he):
		return strconv.Itoa(he.Code)
	}
	return "unknown"
}

// timeHypervisor wraps hv so that every call is timed into vec. A
// hypervisor that manages its bridges (hypervisor.BridgeManager, which the
// agent looks for) stays one.
func timeHypervisor(vec *prometheus.HistogramVec, hv hypervisor.Hypervisor) hypervisor.Hypervisor {
	t := timedHV{hv: hv, vec: vec}
	if bm, ok := hv.(hypervisor.BridgeManager); ok {
		return timedBM{t, bm}
	}
	return t
}

type timedHV struct {
	hv  hypervisor.Hypervisor
	vec *prometheus.HistogramVec
}

// done observes one call that began at start.
func (t timedHV) done(call string, start time.Time, err error) {
	t.vec.WithLabelValues(call, hypervisorCode(err)).Observe(time.Since(start).Seconds())
}

func (t timedHV) Capabilities(ctx context.Context) (c hypervisor.Capabilities, err error) {
	defer func(start time.Time) { t.done("Capabilities", start, err) }(time.Now())
	return t.hv.Capabilities(ctx)
}

func (t timedHV) CreateDomain(ctx context.Context, d hypervisor.Domain) (s hypervisor.DomainState, err error) {
	defer func(start time.Time) { t.done("CreateDomain", start, err) }(time.Now())
	return t.hv.CreateDomain(ctx, d)
}

func (t timedHV) DestroyDomain(ctx context.Context, id string) (err error) {
	defer func(start time.Time) { t.done("DestroyDomain", start, err) }(time.Now())
	return t.hv.DestroyDomain(ctx, id)
}

func (t timedHV) Domains(ctx context.Context) (ds []hypervisor.DomainState, err error) {
	defer func(start time.Time) { t.done("Domains", start, err) }(time.Now())
	return t.hv.Domains(ctx)
}

func (t timedHV) Domain(ctx context.Context, id string) (d hypervisor.DomainState, err error) {
	defer func(start time.Time) { t.done("Domain", start, err) }(time.Now())
	return t.hv.Domain(ctx, id)
}

func (t timedHV) AttachNIC(ctx context.Context, domainID string, nic hypervisor.NIC) (s hypervisor.NICState, err error) {
	defer func(start time.Time) { t.done("AttachNIC", start, err) }(time.Now())
	return t.hv.AttachNIC(ctx, domainID, nic)
}

func (t timedHV) DetachNIC(ctx context.Context, domainID, alias string) (err error) {
	defer func(start time.Time) { t.done("DetachNIC", start, err) }(time.Now())
	return t.hv.DetachNIC(ctx, domainID, alias)
}

func (t timedHV) UpdateNIC(ctx context.Context, domainID string, nic hypervisor.NIC) (s hypervisor.NICState, err error) {
	defer func(start time.Time) { t.done("UpdateNIC", start, err) }(time.Now())
	return t.hv.UpdateNIC(ctx, domainID, nic)
}

func (t timedHV) Announce(ctx context.Context, domainID, alias string) (err error) {
	defer func(start time.Time) { t.done("Announce", start, err) }(time.Now())
	return t.hv.Announce(ctx, domainID, alias)
}

func (t timedHV) InterfaceCounters(ctx context.Context, domainID string) (c map[string]hypervisor.NICCounters, err error) {
	defer func(start time.Time) { t.done("InterfaceCounters", start, err) }(time.Now())
	return t.hv.InterfaceCounters(ctx, domainID)
}

// timedBM is timedHV of a hypervisor that manages its bridges.
type timedBM struct {
	timedHV
	bm hypervisor.BridgeManager
}

func (t timedBM) EnsureBridges(ctx context.Context, names []string) (err error) {
	defer func(start time.Time) { t.done("EnsureBridges", start, err) }(time.Now())
	return t.bm.EnsureBridges(ctx, names)
}

func (t timedBM) RemoveBridges(ctx context.Context, names []string) (err error) {
	defer func(start time.Time) { t.done("RemoveBridges", start, err) }(time.Now())
	return t.bm.RemoveBridges(ctx, names)
}
