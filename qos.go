package vwire

import (
	"fmt"
	"strings"
)

// QoSType is the kind of a QoS entity (oVirt's qos type). vwire has network
// QoS only.
type QoSType string

// QoSNetwork limits a vNIC's traffic (oVirt's network QoS).
const QoSNetwork QoSType = "network"

// QoS is a data center's network QoS entity (oVirt's /datacenters/{id}/qoss
// of type network): limits that vNIC profiles name.
type QoS struct {
	ID           string
	Name         string
	Description  string
	DataCenterID string
	Type         QoSType
	// Inbound limits what the guest receives, Outbound what it sends; a
	// zero Rate is no limit in that direction.
	Inbound, Outbound Rate
}

// Bandwidth is the limits of the QoS entity.
func (q *QoS) Bandwidth() Bandwidth {
	if q == nil {
		return Bandwidth{}
	}
	return Bandwidth{Inbound: q.Inbound, Outbound: q.Outbound}
}

// Rate is one direction's limit in oVirt's units: average and peak in
// Mbit/s, burst in MB. All three are set or none (oVirt's rule).
type Rate struct {
	Average, Peak, Burst int
}

// IsZero tells whether the rate is no limit.
func (r Rate) IsZero() bool { return r == Rate{} }

func (r Rate) String() string {
	if r.IsZero() {
		return "unlimited"
	}
	return fmt.Sprintf("average %d Mbps, peak %d Mbps, burst %d MB", r.Average, r.Peak, r.Burst)
}

// Bandwidth is what a vNIC's traffic is limited to on its host: the QoS of
// its profile, denormalized. Comparable, so that desired and observed
// compare with ==.
type Bandwidth struct {
	Inbound, Outbound Rate
}

// IsZero tells whether the bandwidth is unlimited both ways.
func (b Bandwidth) IsZero() bool { return b == Bandwidth{} }

func (b Bandwidth) String() string {
	if b.IsZero() {
		return "no QoS"
	}
	var parts []string
	if !b.Inbound.IsZero() {
		parts = append(parts, "inbound "+b.Inbound.String())
	}
	if !b.Outbound.IsZero() {
		parts = append(parts, "outbound "+b.Outbound.String())
	}
	return strings.Join(parts, "; ")
}

// libvirt's units, which VDSM's specParams and the agent speak: average and
// peak in kilobytes per second (1000 bytes), burst in kibibytes. oVirt
// converts the same way (Mbit/s × 1000 / 8, MB × 1024).

// LibvirtRate is a Rate in libvirt's units.
type LibvirtRate struct {
	Average, Peak, Burst int64
}

// Libvirt converts a rate to libvirt's units.
func (r Rate) Libvirt() LibvirtRate {
	return LibvirtRate{Average: int64(r.Average) * 1000 / 8, Peak: int64(r.Peak) * 1000 / 8, Burst: int64(r.Burst) * 1024}
}

// RateFromLibvirt converts back, rounding to the nearest unit (a host's
// shaper may round what it applied).
func RateFromLibvirt(l LibvirtRate) Rate {
	round := func(v, unit int64) int { return int((v + unit/2) / unit) }
	return Rate{Average: round(l.Average*8, 1000), Peak: round(l.Peak*8, 1000), Burst: round(l.Burst, 1024)}
}
