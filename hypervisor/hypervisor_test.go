package hypervisor_test

import (
	"slices"
	"testing"

	"vwire.dev/vwire"
	"vwire.dev/vwire/hypervisor"
)

// TestNWFilterNamesMatchCatalogue keeps the hypervisor's copy of the
// filter catalogue equal to vwire's.
func TestNWFilterNamesMatchCatalogue(t *testing.T) {
	var want []string
	for _, f := range vwire.NWFilters {
		want = append(want, f.Name)
	}
	if !slices.Equal(hypervisor.NWFilterNames, want) {
		t.Fatalf("hypervisor.NWFilterNames = %v, want vwire.NWFilters %v", hypervisor.NWFilterNames, want)
	}
}

func TestValidateBandwidth(t *testing.T) {
	ok := []*hypervisor.Bandwidth{nil, {}, {Inbound: &hypervisor.Rate{Average: 125}},
		{Outbound: &hypervisor.Rate{Average: 125, Peak: 250, Burst: 64}}}
	for _, b := range ok {
		if err := hypervisor.ValidateBandwidth(b); err != nil {
			t.Errorf("ValidateBandwidth(%+v) = %v, want nil", b, err)
		}
	}
	bad := []*hypervisor.Rate{{Average: 0}, {Average: -1}, {Average: 10, Peak: 5}, {Average: 10, Burst: -1},
		{Average: 1, Burst: 1000}, {Average: hypervisor.MaxRateKBps + 1}}
	for _, r := range bad {
		for _, b := range []*hypervisor.Bandwidth{{Inbound: r}, {Outbound: r}} {
			err := hypervisor.ValidateBandwidth(b)
			if he, ok := err.(*hypervisor.Error); !ok || he.Code != hypervisor.ErrXMLDetail {
				t.Errorf("ValidateBandwidth(%+v) = %v, want code %d", *r, err, hypervisor.ErrXMLDetail)
			}
		}
	}
}

func TestCanonicalBandwidth(t *testing.T) {
	if hypervisor.CanonicalBandwidth(&hypervisor.Bandwidth{}) != nil {
		t.Error("empty bandwidth is not nil")
	}
	in := &hypervisor.Bandwidth{Inbound: &hypervisor.Rate{Average: 100, Peak: 100, Burst: 3}}
	got := hypervisor.CanonicalBandwidth(in)
	if *got.Inbound != (hypervisor.Rate{Average: 100, Burst: 3}) || in.Inbound.Peak != 100 {
		t.Errorf("canonical %+v (input now %+v)", *got.Inbound, *in.Inbound)
	}
}
