package vwire

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MAC is a 48-bit MAC address. As an integer it orders and ranges cheaply.
type MAC uint64

// ParseMAC reads "HH:HH:HH:HH:HH:HH" (any case).
func ParseMAC(s string) (MAC, bool) {
	if len(s) != 17 {
		return 0, false
	}
	var m uint64
	for i := 0; i < 6; i++ {
		if i > 0 && s[3*i-1] != ':' {
			return 0, false
		}
		b, err := strconv.ParseUint(s[3*i:3*i+2], 16, 8)
		if err != nil {
			return 0, false
		}
		m = m<<8 | b
	}
	return MAC(m), true
}

// String renders the lower-case colon form, as oVirt stores MACs.
func (m MAC) String() string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x",
		byte(m>>40), byte(m>>32), byte(m>>24), byte(m>>16), byte(m>>8), byte(m))
}

// Multicast tells whether the group bit of the first octet is set.
func (m MAC) Multicast() bool { return (m>>40)&1 == 1 }

// NICInterface is the emulated device model, by its oVirt REST name.
type NICInterface string

const (
	IfaceVirtio         NICInterface = "virtio"
	IfaceE1000          NICInterface = "e1000"
	IfaceE1000E         NICInterface = "e1000e"
	IfaceRTL8139        NICInterface = "rtl8139"
	IfaceRTL8139Virtio  NICInterface = "rtl8139_virtio"
	IfaceSpaprVlan      NICInterface = "spapr_vlan"
	IfacePCIPassthrough NICInterface = "pci_passthrough"
)

// nicTypes describes every NICInterface: oVirt's description (used in audit
// ${InterfaceType}), the libvirt model, and whether an x86 guest can have it.
var nicTypes = map[NICInterface]struct {
	desc, model string
	usable      bool
}{
	IfaceVirtio:         {"VirtIO", "virtio", true},
	IfaceE1000:          {"e1000", "e1000", true},
	IfaceE1000E:         {"e1000e", "e1000e", true},
	IfaceRTL8139:        {"rtl8139", "rtl8139", true},
	IfaceRTL8139Virtio:  {"Dual mode rtl8139, VirtIO", "rtl8139", false},
	IfaceSpaprVlan:      {"sPAPR VLAN", "spapr-vlan", false},
	IfacePCIPassthrough: {"PCI Passthrough", "", false},
}

// ParseNICInterface reads an oVirt REST interface name.
func ParseNICInterface(s string) (NICInterface, bool) {
	t := NICInterface(strings.ToLower(s))
	_, ok := nicTypes[t]
	return t, ok
}

// NICInterfaces lists the known names, for error messages.
func NICInterfaces() []string {
	return []string{"e1000", "e1000e", "pci_passthrough", "rtl8139", "rtl8139_virtio", "spapr_vlan", "virtio"}
}

// Description is oVirt's text for the type, used in audit messages.
func (t NICInterface) Description() string { return nicTypes[t].desc }

// Model is the libvirt <model type>.
func (t NICInterface) Model() string { return nicTypes[t].model }

// ModelInterface maps a libvirt model back to the interface type.
func ModelInterface(model string) NICInterface {
	for t, d := range nicTypes {
		if d.model == model && d.usable {
			return t
		}
	}
	return NICInterface(model)
}

// NIC is a vNIC: desired state stored by the engine, and what its host last
// reported (Observed).
type NIC struct {
	ID        string
	VMID      string
	Name      string
	MAC       string
	Interface NICInterface
	// ProfileID empty is the empty network: dummy bridge, link forced down.
	ProfileID string
	Linked    bool
	Plugged   bool
	// Synced is true when the observed state equals the desired one.
	Synced   bool
	Observed *NICObserved
	// Denormalized from the profile, for reads and host calls.
	ProfileName   string
	NetworkID     string
	NetworkName   string
	PortMirroring bool
	Notify        GuestNotify
	BounceHold    time.Duration
	// QoS is the bandwidth of the profile's QoS entity, Filter the
	// profile's network filter ("" none); FilterParams are the vNIC's own
	// filter parameters, sorted by name.
	QoS          Bandwidth
	Filter       string
	FilterParams []FilterParam
}

// Alias is the libvirt device alias the engine gives the vNIC, as oVirt does.
func (n *NIC) Alias() string { return "ua-" + n.ID }

// Bridge is the host bridge the vNIC should sit on.
func (n *NIC) Bridge() string {
	if n.NetworkName == "" {
		return DummyBridge
	}
	return n.NetworkName
}

// Mirrors tells whether the host should mirror the vNIC's network to it:
// its profile says so and it has a network (oVirt sends the mirroring list
// [network] only then).
func (n *NIC) Mirrors() bool { return n.PortMirroring && n.NetworkName != "" }

// LinkUp is the link state the guest should see: an empty network is always down.
func (n *NIC) LinkUp() bool { return n.Linked && n.NetworkName != "" }

// NICObserved is a vNIC as its host last reported it.
type NICObserved struct {
	Present    bool
	Alias      string
	PCIAddress string
	Bridge     string
	MAC        string
	Model      string
	LinkUp     bool
	// Mirroring: the device receives a copy of its bridge's traffic. QoS,
	// Filter and FilterParams: the limits and the filter the host applied.
	Mirroring    bool
	QoS          Bandwidth
	Filter       string
	FilterParams []FilterParam
	// Error is the host's reason the vNIC's desired state could not be
	// applied (a profile change that reached it, issue 15); it stays with
	// the report while the vNIC is not synced.
	Error string
	At    time.Time
}

// Same compares two reports, ignoring when they were made.
func (o *NICObserved) Same(p *NICObserved) bool {
	return o.Present == p.Present && o.Alias == p.Alias && o.PCIAddress == p.PCIAddress && o.Bridge == p.Bridge &&
		o.MAC == p.MAC && o.Model == p.Model && o.LinkUp == p.LinkUp && o.Mirroring == p.Mirroring &&
		o.QoS == p.QoS && o.Filter == p.Filter && o.Error == p.Error && slices.Equal(o.FilterParams, p.FilterParams)
}

// ComputeSynced compares desired and observed state for a vNIC of a VM in the
// given status. A VM that is not running has nothing to compare. The
// comparison itself is Drift's, so that synced and drift never disagree.
func ComputeSynced(n *NIC, vmRunning bool) bool {
	return len(Drift(n, vmRunning)) == 0
}

// NICPatch is an update of a vNIC; nil fields keep their value (oVirt's merge
// semantics for PUT).
type NICPatch struct {
	Name      *string
	MAC       *string
	Interface *NICInterface
	// ProfileID set to "" means the empty network.
	ProfileID *string
	Linked    *bool
	Plugged   *bool
}

// Apply returns a copy of n with the patch applied.
func (p *NICPatch) Apply(n NIC) NIC {
	if p.Name != nil {
		n.Name = *p.Name
	}
	if p.MAC != nil {
		n.MAC = strings.ToLower(*p.MAC)
	}
	if p.Interface != nil {
		n.Interface = *p.Interface
	}
	if p.ProfileID != nil {
		n.ProfileID = *p.ProfileID
	}
	if p.Linked != nil {
		n.Linked = *p.Linked
	}
	if p.Plugged != nil {
		n.Plugged = *p.Plugged
	}
	return n
}

// ValidateNICName checks a vNIC name (oVirt: 1–50 of [0-9a-zA-Z-_.]).
func ValidateNICName(op Op, name string) error {
	if name == "" {
		return Fail(op, MsgValidationVMNetworkNameNotNull)
	}
	return ValidateName(op, name, 50, true)
}

// ValidateMAC checks a MAC given by a client and returns its canonical form.
// Empty is allowed only when allowEmpty (add: allocate from the pool).
func ValidateMAC(op Op, s string, allowEmpty bool) (string, error) {
	if s == "" {
		if allowEmpty {
			return "", nil
		}
		return "", Fail(op, MsgValidationVMNetworkMACAddressNotNull)
	}
	m, ok := ParseMAC(s)
	if !ok || m == 0 {
		return "", Fail(op, MsgValidationVMNetworkMACAddressInvalid)
	}
	if m.Multicast() {
		return "", Fail(op, MsgValidationVMNetworkMACAddressMulticast)
	}
	return m.String(), nil
}

// ValidateNICInterface refuses types an x86 guest cannot have (oVirt's osinfo rule).
func ValidateNICInterface(op Op, t NICInterface) error {
	if d, ok := nicTypes[t]; !ok || !d.usable {
		return Fail(op, MsgVMInterfaceTypeIsNotSupportedByOS)
	}
	return nil
}

// ValidateLinking applies the seed's 3.2 gates: below 3.2 a vNIC must be
// linked and have a network.
func ValidateLinking(op Op, n *NIC, level Version) error {
	if level.SupportsNetworkLinking() {
		return nil
	}
	if !n.Linked {
		return Fail(op, MsgUnlinkingIsNotSupported, "clusterVersion", level.String())
	}
	if n.ProfileID == "" {
		return Fail(op, MsgNullNetworkIsNotSupported, "clusterVersion", level.String())
	}
	return nil
}

// HostAction is what a vNIC change requires of the VM's host.
type HostAction int

const (
	// ActionNone: database only.
	ActionNone HostAction = iota
	// ActionPlug: hot-plug the vNIC with its new values.
	ActionPlug
	// ActionUnplug: hot-unplug the vNIC with its old values.
	ActionUnplug
	// ActionUpdate: live update of the plugged device (network and/or link).
	ActionUpdate
)

func (a HostAction) String() string {
	return [...]string{"none", "plug", "unplug", "update"}[a]
}

// RequiredAction is the decision table of DESIGN.md: exactly one host action
// per update, from DiffNIC and the kinds NICFields declares. vmUp says
// whether the VM runs; a VM that does not run needs no host action. A
// plugged→plugged change of a Replug field (MAC, type) is refused by
// ValidateHotUpdate before this matters.
func RequiredAction(old, new *NIC, vmUp bool) HostAction {
	if !vmUp {
		return ActionNone
	}
	return DiffNIC(old, new).Action()
}

// ValidateHotUpdate refuses a change of a Replug field (MAC, type) on a
// vNIC that stays plugged in a running VM (oVirt's CANNOT_PERFORM_HOT_UPDATE,
// rule #9).
func ValidateHotUpdate(op Op, old, new *NIC, vmUp bool) error {
	if vmUp && DiffNIC(old, new).Replug() {
		return Fail(op, MsgCannotPerformHotUpdate)
	}
	return nil
}
