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
	// Field is what differs: "device", "network", "link", "mac" or "model".
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
	if o.Bridge != n.Bridge() {
		ds = append(ds, Difference{"network", bridgeName(o.Bridge), bridgeName(n.Bridge())})
	}
	if o.LinkUp != n.LinkUp() {
		ds = append(ds, Difference{"link", upDown(o.LinkUp), upDown(n.LinkUp())})
	}
	if !strings.EqualFold(o.MAC, n.MAC) {
		ds = append(ds, Difference{"MAC", o.MAC, n.MAC})
	}
	if o.Model != n.Interface.Model() {
		ds = append(ds, Difference{"model", o.Model, n.Interface.Model()})
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
// the observed value (or, for the network, a value no profile has). With
// it, RequiredAction and ValidateHotUpdate decide how drift is repaired
// exactly as they decide a user's change from this state to the desired
// one: a live update for network and link, a hot plug or unplug for
// presence, and an unplug then plug where MAC or model differ.
func ObservedNIC(n *NIC) NIC {
	old := *n
	o := n.Observed
	if o == nil {
		return old
	}
	old.Plugged = o.Present
	if o.Bridge != n.Bridge() {
		old.ProfileID, old.NetworkName = "observed:"+o.Bridge, o.Bridge
		if o.Bridge == DummyBridge {
			old.ProfileID, old.NetworkName = "", ""
		}
	}
	// The link differs: the opposite of the desired value, whatever the
	// host shows (an empty network's link is down even when Linked), so
	// that a live update is chosen.
	if o.LinkUp != n.LinkUp() {
		old.Linked = !n.Linked
	}
	if !strings.EqualFold(o.MAC, n.MAC) {
		old.MAC = strings.ToLower(o.MAC)
	}
	if o.Model != n.Interface.Model() {
		old.Interface = ModelInterface(o.Model)
	}
	return old
}
