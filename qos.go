package vwire

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
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

// The largest values a network QoS may hold: oVirt's defaults of
// MaxAverageNetworkQoSValue, MaxPeakNetworkQoSValue (Mbit/s) and
// MaxBurstNetworkQoSValue (MB).
const (
	MaxQoSAverage = 17179
	MaxQoSPeak    = 34359
	MaxQoSBurst   = 10240
)

// MaxQoSName is oVirt's GENERAL_NAME_SIZE for a QoS name.
const MaxQoSName = 50

// qosNamePattern is oVirt's ValidI18NName: letters of any script, digits,
// dot, underscore and dash.
var qosNamePattern = regexp.MustCompile(`^[\p{L}0-9._-]*$`)

// ValidateQoS checks a network QoS entity with oVirt's rules, in oVirt's
// order: its type (vwire has network QoS only), its name (bean
// validation), each value's range, then each direction's three values all
// or none and peak not below average (NetworkQosValidator). A zero value is
// no value: libvirt takes no average of zero, so a direction is either
// three positive values or unlimited. Uniqueness of the name in the data
// center is the store's (the engine turns its conflict into oVirt's
// message).
func ValidateQoS(op Op, q *QoS) error {
	if q.Type != QoSNetwork {
		return Fail(op, MsgQoSTypeNotSupported, "qostype", string(q.Type))
	}
	switch {
	case q.Name == "":
		return Fail(op, MsgQoSNameNotNull)
	case utf8.RuneCountInString(q.Name) > MaxQoSName:
		return Fail(op, MsgQoSNameTooLong)
	case !qosNamePattern.MatchString(q.Name):
		return Fail(op, MsgQoSNameInvalid)
	}
	for _, r := range []Rate{q.Inbound, q.Outbound} {
		for _, v := range []struct{ value, max int }{{r.Average, MaxQoSAverage}, {r.Peak, MaxQoSPeak}, {r.Burst, MaxQoSBurst}} {
			if v.value < 0 || v.value > v.max {
				return Fail(op, MsgQoSOutOfRange, "range", "0-"+strconv.Itoa(v.max))
			}
		}
	}
	for _, r := range []Rate{q.Inbound, q.Outbound} {
		if !r.IsZero() && (r.Average == 0 || r.Peak == 0 || r.Burst == 0) {
			return Fail(op, MsgNetworkQoSMissingValues)
		}
	}
	for _, r := range []Rate{q.Inbound, q.Outbound} {
		if r.Peak < r.Average {
			return Fail(op, MsgNetworkQoSPeakLowerThanAverage)
		}
	}
	return nil
}

// ValidatePassThrough is oVirt's rule for a pass-through profile: the vNIC
// is a host device, which has no port mirroring, QoS or network filter.
func ValidatePassThrough(op Op, p *VNICProfile) error {
	if p.PassThrough && (p.PortMirroring || p.QoSID != "" || p.NetworkFilter != "") {
		return Fail(op, MsgPassThroughProfileUnsupportedProperties)
	}
	return nil
}
