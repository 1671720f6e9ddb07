package tapnet

import (
	"testing"

	"vwire.dev/vwire/hypervisor"
)

// TestRateRoundTrip: every limit reads back as it was set, from 1 KB/s to
// 10 Gbit/s, with the minimal burst and with whole-KiB bursts. (Above
// that a kernel tick carries more than 80 bytes, and a burst of a few KiB
// cannot be told from the minimum.)
func TestRateRoundTrip(t *testing.T) {
	for _, avg := range []int64{1, 125, 1000, 12500, 125000, 1250000} {
		for _, peak := range []int64{0, avg, avg * 2} {
			for _, burst := range []int64{0, 1, 2, 64, 1024} {
				r := hypervisor.Rate{Average: avg, Peak: peak, Burst: burst}
				if hypervisor.ValidateBandwidth(&hypervisor.Bandwidth{Inbound: &r}) != nil {
					continue
				}
				want := *hypervisor.CanonicalBandwidth(&hypervisor.Bandwidth{Inbound: &r}).Inbound
				if got := rateOf(htbClassFor(1, r)); got != want {
					t.Errorf("%+v reads back as %+v", want, got)
				}
			}
		}
	}
}
