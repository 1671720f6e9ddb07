package vwire

import (
	"slices"
	"strings"
)

// FieldKind says what changing a vNIC field asks of the host when the vNIC
// stays plugged in a running VM.
type FieldKind int

const (
	// DatabaseOnly: the host never sees the field (the name).
	DatabaseOnly FieldKind = iota
	// Live: the host changes it on the plugged device (VDSM's update verb).
	Live
	// Replug: the device must be unplugged and plugged again. A user's
	// change is refused (CANNOT_PERFORM_HOT_UPDATE); a repair does both.
	Replug
)

func (k FieldKind) String() string {
	return [...]string{"database only", "live", "replug"}[k]
}

// NICField is one row of the declared set of vNIC fields: how it changes
// between two desired states, and, for a field the host sees, how the
// host's device is compared with the desired state and brought back to it.
type NICField struct {
	// Name is the field as drift texts call it ("network is red, expected
	// blue").
	Name string
	Kind FieldKind
	// Changed tells whether an update from old to new changes the field.
	Changed func(old, new *NIC) bool
	// Observe compares the host's device o with the desired state n: the
	// observed and desired values in words, and whether they differ. Nil
	// for a DatabaseOnly field.
	Observe func(n *NIC, o *NICObserved) (observed, desired string, differs bool)
	// Adopt gives old, a copy of n, a value standing for the host's one
	// where Observe says they differ, so that Changed(old, n) holds and a
	// repair is decided as a user's change from the host's state. Nil for
	// a DatabaseOnly field.
	Adopt func(old *NIC, o *NICObserved)
}

// NICFields is the declared set: the one place that says what a vNIC's
// host sees and what a plugged vNIC of a running VM can change live. The
// update decision table (RequiredAction), the hot-update refusal
// (ValidateHotUpdate), drift and synced (Drift, ComputeSynced) and the
// repair (ObservedNIC, the engine's converge and repairNIC) all read it.
// Drift lists differences in this order. Presence (Plugged) is not a row:
// it is the device itself, plug or unplug.
var NICFields = []NICField{
	{
		Name:    "network",
		Kind:    Live,
		Changed: func(old, new *NIC) bool { return old.ProfileID != new.ProfileID },
		Observe: func(n *NIC, o *NICObserved) (string, string, bool) {
			return bridgeName(o.Bridge), bridgeName(n.Bridge()), o.Bridge != n.Bridge()
		},
		// A network no profile has, or the empty network for the dummy
		// bridge.
		Adopt: func(old *NIC, o *NICObserved) {
			old.ProfileID, old.NetworkName = "observed:"+o.Bridge, o.Bridge
			if o.Bridge == DummyBridge {
				old.ProfileID, old.NetworkName = "", ""
			}
		},
	},
	{
		Name:    "link",
		Kind:    Live,
		Changed: func(old, new *NIC) bool { return old.Linked != new.Linked },
		Observe: func(n *NIC, o *NICObserved) (string, string, bool) {
			return upDown(o.LinkUp), upDown(n.LinkUp()), o.LinkUp != n.LinkUp()
		},
		// The opposite of the desired value, whatever the host shows (an
		// empty network's link is down even when Linked), so that a live
		// update is chosen.
		Adopt: func(old *NIC, o *NICObserved) { old.Linked = !old.Linked },
	},
	{
		Name:    "MAC",
		Kind:    Replug,
		Changed: func(old, new *NIC) bool { return old.MAC != new.MAC },
		Observe: func(n *NIC, o *NICObserved) (string, string, bool) {
			return o.MAC, n.MAC, !strings.EqualFold(o.MAC, n.MAC)
		},
		Adopt: func(old *NIC, o *NICObserved) { old.MAC = strings.ToLower(o.MAC) },
	},
	{
		Name:    "model",
		Kind:    Replug,
		Changed: func(old, new *NIC) bool { return old.Interface != new.Interface },
		Observe: func(n *NIC, o *NICObserved) (string, string, bool) {
			return o.Model, n.Interface.Model(), o.Model != n.Interface.Model()
		},
		Adopt: func(old *NIC, o *NICObserved) { old.Interface = ModelInterface(o.Model) },
	},
	{
		// The host mirrors the bridge's traffic to the device (tc mirred,
		// on every other port of the bridge). Live on vwire's level 4.8;
		// older levels keep oVirt's refusal (ValidatePortMirroringUpdate).
		Name:    "port mirroring",
		Kind:    Live,
		Changed: func(old, new *NIC) bool { return old.Mirrors() != new.Mirrors() },
		Observe: func(n *NIC, o *NICObserved) (string, string, bool) {
			return onOff(o.Mirroring), onOff(n.Mirrors()), o.Mirroring != n.Mirrors()
		},
		// A host mirroring to a device with no network is also undone
		// by the network's repair (the device moves off the dummy bridge).
		Adopt: func(old *NIC, o *NICObserved) { old.PortMirroring = o.Mirroring },
	},
	{
		// The host shapes the device's traffic (htb on the tap, and on an
		// ifb for what the guest sends).
		Name:    "QoS",
		Kind:    Live,
		Changed: func(old, new *NIC) bool { return old.QoS != new.QoS },
		Observe: func(n *NIC, o *NICObserved) (string, string, bool) {
			return o.QoS.String(), n.QoS.String(), o.QoS != n.QoS
		},
		Adopt: func(old *NIC, o *NICObserved) { old.QoS = o.QoS },
	},
	{
		// libvirt's <filterref>: libvirt swaps it on a live bridge device.
		Name:    "network filter",
		Kind:    Live,
		Changed: func(old, new *NIC) bool { return old.Filter != new.Filter },
		Observe: func(n *NIC, o *NICObserved) (string, string, bool) {
			return filterName(o.Filter), filterName(n.Filter), o.Filter != n.Filter
		},
		Adopt: func(old *NIC, o *NICObserved) { old.Filter = o.Filter },
	},
	{
		Name:    "filter parameters",
		Kind:    Live,
		Changed: func(old, new *NIC) bool { return !slices.Equal(old.FilterParams, new.FilterParams) },
		Observe: func(n *NIC, o *NICObserved) (string, string, bool) {
			return paramsText(o.FilterParams), paramsText(n.FilterParams), !slices.Equal(o.FilterParams, n.FilterParams)
		},
		Adopt: func(old *NIC, o *NICObserved) { old.FilterParams = slices.Clone(o.FilterParams) },
	},
	{
		// Unlike oVirt's REST path (the filter-parameter quirk, reference
		// §2.2), a rename of a plugged vNIC does not touch the host.
		Name:    "name",
		Kind:    DatabaseOnly,
		Changed: func(old, new *NIC) bool { return old.Name != new.Name },
	},
}

// NICDiff is what an update of a vNIC changes: its presence on the host
// and the rows of NICFields whose value differs.
type NICDiff struct {
	WasPlugged, Plugged bool
	// Fields are the changed rows, in NICFields order.
	Fields []*NICField
}

// DiffNIC compares two desired states of a vNIC. It is pure: no VM state,
// no host.
func DiffNIC(old, new *NIC) NICDiff {
	d := NICDiff{WasPlugged: old.Plugged, Plugged: new.Plugged}
	for i := range NICFields {
		if f := &NICFields[i]; f.Changed(old, new) {
			d.Fields = append(d.Fields, f)
		}
	}
	return d
}

// Changed tells whether a row of the given kind changed.
func (d NICDiff) Changed(k FieldKind) bool {
	for _, f := range d.Fields {
		if f.Kind == k {
			return true
		}
	}
	return false
}

// Replug tells whether the device stays plugged while a field it cannot
// change live changes: refused for a user, an unplug and plug for a repair.
func (d NICDiff) Replug() bool {
	return d.WasPlugged && d.Plugged && d.Changed(Replug)
}

// Action is the host action of the diff on a running VM: exactly one.
func (d NICDiff) Action() HostAction {
	switch {
	case !d.WasPlugged && d.Plugged:
		return ActionPlug
	case d.WasPlugged && !d.Plugged:
		return ActionUnplug
	case d.WasPlugged && d.Plugged && d.Changed(Live):
		return ActionUpdate
	}
	return ActionNone
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func filterName(f string) string {
	if f == "" {
		return "none"
	}
	return f
}

// paramsText says filter parameters in words: "IP=198.18.1.2, CTRL_IP_LEARNING=none".
func paramsText(ps []FilterParam) string {
	if len(ps) == 0 {
		return "none"
	}
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Name + "=" + p.Value
	}
	return strings.Join(parts, ", ")
}
