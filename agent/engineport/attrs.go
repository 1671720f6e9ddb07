package engineport

import (
	"vwire.dev/vwire"
	"vwire.dev/vwire/agent"
)

// A profile's attributes between the engine's terms (oVirt's units) and
// VDSM's (libvirt's units: KB/s and KiB), as oVirt's engine converts them
// for VDSM.

func mirrorList(on bool, network string) []string {
	if !on || network == "" {
		return nil
	}
	return []string{network}
}

func specParams(b vwire.Bandwidth) *agent.SpecParams {
	if b.IsZero() {
		return nil
	}
	rate := func(r vwire.Rate) *agent.RateParams {
		if r.IsZero() {
			return nil
		}
		l := r.Libvirt()
		return &agent.RateParams{Average: l.Average, Peak: l.Peak, Burst: l.Burst}
	}
	return &agent.SpecParams{Inbound: rate(b.Inbound), Outbound: rate(b.Outbound)}
}

func bandwidthOf(sp *agent.SpecParams) vwire.Bandwidth {
	if sp == nil {
		return vwire.Bandwidth{}
	}
	rate := func(r *agent.RateParams) vwire.Rate {
		if r == nil {
			return vwire.Rate{}
		}
		peak := r.Peak
		if peak == 0 {
			peak = r.Average
		}
		return vwire.RateFromLibvirt(vwire.LibvirtRate{Average: r.Average, Peak: peak, Burst: r.Burst})
	}
	return vwire.Bandwidth{Inbound: rate(sp.Inbound), Outbound: rate(sp.Outbound)}
}

func filterParams(ps []vwire.FilterParam) []agent.FilterParam {
	if len(ps) == 0 {
		return nil
	}
	out := make([]agent.FilterParam, len(ps))
	for i, p := range ps {
		out[i] = agent.FilterParam(p)
	}
	return out
}

func hostFilterParams(ps []agent.FilterParam) []vwire.FilterParam {
	if len(ps) == 0 {
		return nil
	}
	out := make([]vwire.FilterParam, len(ps))
	for i, p := range ps {
		out[i] = vwire.FilterParam(p)
	}
	return out
}
