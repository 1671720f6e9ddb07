package agent

import (
	"fmt"
	"regexp"
	"slices"

	"vwire.dev/vwire"
	"vwire.dev/vwire/hypervisor"
)

// What a vNIC profile adds to a device (issue 15): port mirroring, its
// bandwidth (VDSM's specParams) and its nwfilter with parameters, in VDSM's
// terms on the wire and the hypervisor's below.

const (
	// maxRate bounds a direction's KB/s and KiB: oVirt's largest values
	// (10 Gbit/s, 10 GiB of burst) with room to spare, so that no
	// arithmetic on them overflows.
	maxRate = 1 << 40
	// maxFilterParams bounds a device's filter parameters.
	maxFilterParams = 64
)

var (
	filterNamePattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)
	filterParamName    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)
	filterParamPattern = regexp.MustCompile(`^[A-Za-z0-9.:_/-]{1,256}$`)
)

// mirrors reads VDSM's portMirroring list: the device mirrors its own
// network when the list names it.
func mirrors(list []string, network string) bool {
	return network != "" && network != vwire.DummyBridge && slices.Contains(list, network)
}

// mirrorList is the list for a device on network.
func mirrorList(on bool, network string) []string {
	if !on || network == "" || network == vwire.DummyBridge {
		return nil
	}
	return []string{network}
}

func bandwidthOf(sp *SpecParams) *hypervisor.Bandwidth {
	if sp == nil || (sp.Inbound == nil && sp.Outbound == nil) {
		return nil
	}
	rate := func(r *RateParams) *hypervisor.Rate {
		if r == nil {
			return nil
		}
		return &hypervisor.Rate{Average: r.Average, Peak: r.Peak, Burst: r.Burst}
	}
	return &hypervisor.Bandwidth{Inbound: rate(sp.Inbound), Outbound: rate(sp.Outbound)}
}

func specOf(b *hypervisor.Bandwidth) *SpecParams {
	if b == nil || (b.Inbound == nil && b.Outbound == nil) {
		return nil
	}
	rate := func(r *hypervisor.Rate) *RateParams {
		if r == nil {
			return nil
		}
		return &RateParams{Average: r.Average, Peak: r.Peak, Burst: r.Burst}
	}
	return &SpecParams{Inbound: rate(b.Inbound), Outbound: rate(b.Outbound)}
}

func filterParamsOf(ps []FilterParam) []hypervisor.FilterParam {
	if len(ps) == 0 {
		return nil
	}
	out := make([]hypervisor.FilterParam, len(ps))
	for i, p := range ps {
		out[i] = hypervisor.FilterParam(p)
	}
	return out
}

func wireFilterParams(ps []hypervisor.FilterParam) []FilterParam {
	if len(ps) == 0 {
		return nil
	}
	out := make([]FilterParam, len(ps))
	for i, p := range ps {
		out[i] = FilterParam(p)
	}
	return out
}

// applyAttrs sets on n the profile attributes an update gives; an omitted
// one keeps n's (VDSM's rule for portMirroring). Mirroring follows the
// device's network after the update.
func (p UpdateDeviceParams) applyAttrs(n *hypervisor.NIC) {
	if p.PortMirroring != nil {
		n.PortMirroring = mirrors(*p.PortMirroring, n.Bridge)
	}
	if p.SpecParams != nil {
		n.Bandwidth = bandwidthOf(p.SpecParams)
	}
	if p.Filter != nil {
		n.Filter = *p.Filter
	}
	if p.FilterParameters != nil {
		n.FilterParams = filterParamsOf(*p.FilterParameters)
	}
}

// checkAttrs checks the form of a device's profile attributes.
func checkAttrs(mirror *[]string, sp *SpecParams, filter *string, params *[]FilterParam) *RPCError {
	if mirror != nil {
		if len(*mirror) > 1 {
			return invalidParam("portMirroring", "names more than the device's own network")
		}
		for _, n := range *mirror {
			if e := checkNetwork(n); e != nil || n == "" {
				return invalidParam("portMirroring", fmt.Sprintf("%q is not a bridge name", n))
			}
		}
	}
	if sp != nil {
		for name, r := range map[string]*RateParams{"specParams.inbound": sp.Inbound, "specParams.outbound": sp.Outbound} {
			if r == nil {
				continue
			}
			switch {
			case r.Average <= 0:
				return invalidParam(name, "needs a positive average")
			case r.Average > maxRate || r.Peak < 0 || r.Peak > maxRate || r.Burst < 0 || r.Burst > maxRate:
				return invalidParam(name, "is out of range")
			case r.Peak != 0 && r.Peak < r.Average:
				return invalidParam(name, "has a peak below its average")
			}
		}
	}
	if filter != nil && *filter != "" && !filterNamePattern.MatchString(*filter) {
		return invalidParam("filter", "is not a filter name")
	}
	if params != nil {
		if len(*params) > maxFilterParams {
			return invalidParam("filterParameters", fmt.Sprintf("has more than %d entries", maxFilterParams))
		}
		for _, p := range *params {
			if !filterParamName.MatchString(p.Name) || !filterParamPattern.MatchString(p.Value) {
				return invalidParam("filterParameters", fmt.Sprintf("%q is not a name=value libvirt accepts", p.Name))
			}
		}
	}
	return nil
}

// sameAttrs tells whether the device read back carries the attributes
// asked for. A shaper may round the bandwidth it applied: each value may
// differ by 1% or 2 units.
func sameAttrs(want hypervisor.NIC, got hypervisor.NICState) error {
	switch {
	case got.PortMirroring != want.PortMirroring:
		return fmt.Errorf("device %s reads back port mirroring %v, want %v", want.Alias, got.PortMirroring, want.PortMirroring)
	case got.Filter != want.Filter || !slices.Equal(got.FilterParams, want.FilterParams):
		return fmt.Errorf("device %s reads back filter %q %v, want %q %v", want.Alias, got.Filter, got.FilterParams, want.Filter, want.FilterParams)
	case !closeBandwidth(got.Bandwidth, want.Bandwidth):
		return fmt.Errorf("device %s reads back bandwidth %s, want %s", want.Alias, bwText(got.Bandwidth), bwText(want.Bandwidth))
	}
	return nil
}

func closeBandwidth(a, b *hypervisor.Bandwidth) bool {
	norm := func(x *hypervisor.Bandwidth) (in, out *hypervisor.Rate) {
		if x == nil {
			return nil, nil
		}
		return x.Inbound, x.Outbound
	}
	close := func(x, y int64) bool {
		d := x - y
		if d < 0 {
			d = -d
		}
		return d <= 2 || d*100 <= max(x, y)
	}
	rate := func(x, y *hypervisor.Rate) bool {
		if x == nil || y == nil {
			return x == y
		}
		peak := func(r *hypervisor.Rate) int64 {
			if r.Peak == 0 {
				return r.Average
			}
			return r.Peak
		}
		return close(x.Average, y.Average) && close(peak(x), peak(y)) && (y.Burst == 0 || x.Burst == 0 || close(x.Burst, y.Burst))
	}
	ai, ao := norm(a)
	bi, bo := norm(b)
	return rate(ai, bi) && rate(ao, bo)
}

func bwText(b *hypervisor.Bandwidth) string {
	if b == nil {
		return "none"
	}
	r := func(x *hypervisor.Rate) string {
		if x == nil {
			return "-"
		}
		return fmt.Sprintf("%d/%d/%d", x.Average, x.Peak, x.Burst)
	}
	return "in " + r(b.Inbound) + " out " + r(b.Outbound)
}
