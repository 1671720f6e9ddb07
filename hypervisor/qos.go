package hypervisor

// Bandwidth validation and canonical form, shared by both backends so that
// the simulator refuses exactly what a real host refuses and both report
// the same value for the same limits.

// ErrXMLDetail is libvirt's VIR_ERR_XML_DETAIL: a value of the device's
// definition is out of its domain (libvirt's own <bandwidth> parser answers
// with it, and vwire's shaper keeps libvirt's rules).
const ErrXMLDetail = 35

// Limits of a Rate. The shaper (htb) keeps a burst as the time it takes
// at the rate, in 32-bit ticks of 1/15.625 µs, so a burst may last at most
// maxBurstSeconds at the average rate; rates are bounded so that their
// bytes per second stay far inside 64 bits.
const (
	MaxRateKBps     = 1 << 32 // 4.3 TB/s: beyond any NIC
	MaxBurstKiB     = 1 << 22 // 4 GiB
	maxBurstSeconds = 60
)

// ValidateBandwidth applies the rules libvirt's <bandwidth> parser and
// the shaper share: every present direction has an average, no value is
// negative or beyond the limits, a peak is not below its average, and a
// burst drains within a minute at the average rate.
func ValidateBandwidth(b *Bandwidth) error {
	if b == nil {
		return nil
	}
	for _, d := range []struct {
		name string
		r    *Rate
	}{{"inbound", b.Inbound}, {"outbound", b.Outbound}} {
		r := d.r
		if r == nil {
			continue
		}
		switch {
		case r.Average <= 0:
			return Errorf(ErrXMLDetail, "XML error: Missing mandatory average attribute in <%s> (got %d, must be positive)", d.name, r.Average)
		case r.Peak < 0 || r.Burst < 0:
			return Errorf(ErrXMLDetail, "XML error: negative peak or burst in <%s>", d.name)
		case r.Average > MaxRateKBps || r.Peak > MaxRateKBps:
			return Errorf(ErrXMLDetail, "XML error: rate in <%s> above %d KB/s", d.name, int64(MaxRateKBps))
		case r.Peak != 0 && r.Peak < r.Average:
			return Errorf(ErrXMLDetail, "XML error: peak %d below average %d in <%s>", r.Peak, r.Average, d.name)
		case r.Burst > MaxBurstKiB || r.Burst*1024 > r.Average*1000*maxBurstSeconds:
			return Errorf(ErrXMLDetail, "XML error: burst %d KiB in <%s> is too large for average %d KB/s (at most %d s of traffic, %d KiB)",
				r.Burst, d.name, r.Average, maxBurstSeconds, int64(MaxBurstKiB))
		}
	}
	return nil
}

// CanonicalBandwidth is the form both backends report: no limit is nil,
// and a peak equal to the average is 0 (what Rate says it means), so that
// desired and observed limits compare equal whichever way they were said.
// It returns a copy; b is not changed.
func CanonicalBandwidth(b *Bandwidth) *Bandwidth {
	if b == nil || (b.Inbound == nil && b.Outbound == nil) {
		return nil
	}
	canon := func(r *Rate) *Rate {
		if r == nil {
			return nil
		}
		c := *r
		if c.Peak == c.Average {
			c.Peak = 0
		}
		return &c
	}
	return &Bandwidth{Inbound: canon(b.Inbound), Outbound: canon(b.Outbound)}
}
