package vwire

import (
	"fmt"
	"strings"
)

// DriftPolicy says what the poller does when a running VM's devices differ
// from the database: a cluster setting, since hosts of one cluster are run
// alike. oVirt has no such setting (its engine only reports); the name and
// values are vwire's.
type DriftPolicy string

const (
	// DriftReport marks the vNIC out of sync and logs an event when the
	// drift appears; the host is left as it is (oVirt's behaviour).
	DriftReport DriftPolicy = "report"
	// DriftEnforce also makes the host match the database again, through
	// the host actions a user's change would use, and logs what it repaired.
	// A device the database does not know is unplugged.
	DriftEnforce DriftPolicy = "enforce"
)

// DefaultDriftPolicy is the policy of a new cluster: never touch a host
// behind an administrator's back unless asked to.
const DefaultDriftPolicy = DriftReport

// ParseDriftPolicy reads a policy name.
func ParseDriftPolicy(s string) (DriftPolicy, bool) {
	switch p := DriftPolicy(s); p {
	case DriftReport, DriftEnforce:
		return p, true
	}
	return "", false
}

// InvalidDriftPolicy is the fault for an unknown policy, worded as oVirt
// words a bad enum value.
func InvalidDriftPolicy(s string) *Error {
	return InvalidValue(MsgInvalidEnum,
		fmt.Sprintf("Invalid value '%s' for field 'drift_policy'. Possible values: [report, enforce]", s))
}

// Difference is one way a vNIC's device on its host differs from the
// vNIC's desired state, in words for audit messages.
type Difference struct {
	// Field is what differs: "device" (presence), or the Name of a row of
	// NICFields ("network", "link", "MAC", "model").
	Field    string
	Observed string
	Desired  string
}

// String reads "link is down, expected up".
func (d Difference) String() string {
	return fmt.Sprintf("%s is %s, expected %s", d.Field, d.Observed, d.Desired)
}

// Drift lists how a vNIC's observed device differs from its desired state,
// in a fixed order; none means in sync. This is the one comparison behind
// ComputeSynced, so that what is reported as drift is exactly what makes a
// vNIC unsynced.
func Drift(n *NIC, vmRunning bool) []Difference {
	if !vmRunning {
		return nil
	}
	o := n.Observed
	if o == nil {
		return []Difference{{"device", "not reported", "reported"}}
	}
	if !n.Plugged {
		if o.Present {
			return []Difference{{"device", "plugged", "unplugged"}}
		}
		return nil
	}
	if !o.Present {
		return []Difference{{"device", "unplugged", "plugged"}}
	}
	var ds []Difference
	for _, f := range NICFields {
		if f.Observe == nil {
			continue
		}
		if obs, want, differs := f.Observe(n, o); differs {
			ds = append(ds, Difference{f.Name, obs, want})
		}
	}
	return ds
}

// DescribeDrift joins differences for a message: "link is down, expected up;
// network is red, expected blue".
func DescribeDrift(ds []Difference) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.String()
	}
	return strings.Join(s, "; ")
}

func bridgeName(b string) string {
	switch b {
	case DummyBridge:
		return "the empty network"
	case "":
		return "no bridge"
	}
	return b
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

// ObservedNIC is the vNIC as its host has it, in the desired state's terms:
// a field the host agrees on keeps its desired value, one it does not gets
// a value standing for the observed one (each row's Adopt). With it,
// RequiredAction and ValidateHotUpdate decide how drift is repaired
// exactly as they decide a user's change from this state to the desired
// one: a live update for a Live field, a hot plug or unplug for presence,
// and an unplug then plug where a Replug field differs.
func ObservedNIC(n *NIC) NIC {
	old := *n
	o := n.Observed
	if o == nil {
		return old
	}
	old.Plugged = o.Present
	for _, f := range NICFields {
		if f.Observe == nil {
			continue
		}
		if _, _, differs := f.Observe(n, o); differs {
			f.Adopt(&old, o)
		}
	}
	return old
}
