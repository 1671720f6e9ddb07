package vwire

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Well-known ids, as oVirt seeds them, so that scripts that hard-code them work.
const (
	BlankTemplateID  = "00000000-0000-0000-0000-000000000000"
	DefaultMACPoolID = "58ca604b-017d-0374-0220-00000000014e"
	// DummyBridge is the isolated bridge a vNIC with an empty network sits on,
	// link forced down. VDSM's name, kept so that hosts look familiar.
	DummyBridge = ";vdsmdummy;"
	// ManagementNetwork is created with every data center.
	ManagementNetwork = "ovirtmgmt"
	// EmbeddedHostName is the in-process host the engine runs by default.
	EmbeddedHostName = "local"
	// DefaultAgentPort is VDSM's port, the default of a host's port.
	DefaultAgentPort = 54321
)

// Version is a cluster compatibility level.
type Version struct{ Major, Minor int }

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Less orders versions.
func (v Version) Less(o Version) bool {
	return v.Major < o.Major || (v.Major == o.Major && v.Minor < o.Minor)
}

// ParseVersion reads "4.8".
func ParseVersion(s string) (Version, error) {
	maj, min, ok := strings.Cut(strings.TrimSpace(s), ".")
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if !ok || err1 != nil || err2 != nil || a < 0 || b < 0 {
		return Version{}, fmt.Errorf("invalid version %q", s)
	}
	return Version{a, b}, nil
}

// SupportedVersions are the cluster levels vwire knows, oldest first.
var SupportedVersions = []Version{
	{3, 0}, {3, 1}, {3, 2}, {3, 3}, {3, 4}, {3, 5}, {3, 6},
	{4, 0}, {4, 1}, {4, 2}, {4, 3}, {4, 4}, {4, 5}, {4, 6}, {4, 7}, {4, 8},
}

// NewestVersion is the level of a new cluster when none is given.
var NewestVersion = SupportedVersions[len(SupportedVersions)-1]

// IsSupportedVersion tells whether v is a known level.
func IsSupportedVersion(v Version) bool {
	for _, s := range SupportedVersions {
		if s == v {
			return true
		}
	}
	return false
}

// Feature gates of the seed (reference §2.7).
var (
	hotPlugSince    = Version{3, 1}
	netLinkingSince = Version{3, 2}
	// vwire's own level: oVirt (through 4.7) refuses any live update of a
	// vNIC whose old or new profile mirrors; vwire's 4.8 changes mirroring
	// live.
	liveMirroringSince = Version{4, 8}
)

// SupportsHotPlug: plug/unplug on a running VM.
func (v Version) SupportsHotPlug() bool { return !v.Less(hotPlugSince) }

// SupportsNetworkLinking: unlinked vNICs, empty networks and live updates.
func (v Version) SupportsNetworkLinking() bool { return !v.Less(netLinkingSince) }

// SupportsLivePortMirroring: a plugged vNIC of a running VM may be updated
// while its old or new profile mirrors, and mirroring itself changes live.
func (v Version) SupportsLivePortMirroring() bool { return !v.Less(liveMirroringSince) }

// DataCenter groups clusters and networks.
type DataCenter struct {
	ID          string
	Name        string
	Description string
	Local       bool
	Version     Version
	MACPoolID   string
}

// Cluster is a set of hosts with one compatibility level and attached networks.
type Cluster struct {
	ID           string
	Name         string
	Description  string
	DataCenterID string
	Version      Version
	MACPoolID    string
	// DriftPolicy says whether the poller only reports a running VM's
	// devices that differ from the database, or also repairs them.
	DriftPolicy DriftPolicy
}

// Network is a logical network of a data center. On a host it is a bridge of
// the same name.
type Network struct {
	ID           string
	Name         string
	Description  string
	DataCenterID string
	VLAN         *int
	VMNetwork    bool
	MTU          int
	// VXLAN is vwire's overlay extension (issue 16): the segment's VXLAN
	// network identifier; 0 is no overlay. An overlay network is realised
	// on a host as a bridge over a VXLAN device whose underlay is the
	// attachment's host NIC, with the other hosts carrying the network as
	// its head-end replication list. REST: <vxlan_segment>.
	VXLAN int
}

// MaxVXLAN is the largest VXLAN network identifier (24 bits).
const MaxVXLAN = 1<<24 - 1

// HostNICReport is a host's physical NIC or bond as its host last reported it.
type HostNICReport struct {
	Name      string   `json:"name"`
	MAC       string   `json:"mac,omitempty"`
	MTU       int      `json:"mtu,omitempty"`
	SpeedMbps int      `json:"speed,omitempty"`
	Up        bool     `json:"up,omitempty"`
	Bond      bool     `json:"bond,omitempty"`
	Slaves    []string `json:"slaves,omitempty"`
	// Addr is its first IPv4 address with prefix, the local end of an
	// overlay over it.
	Addr string `json:"addr,omitempty"`
}

// HostNetworkReport is a network realised on a host, as it is there: a
// bridge of the network's name over NIC, NIC's VLAN device, or a VXLAN
// device (VNI, Local, Remotes) whose underlay is NIC.
type HostNetworkReport struct {
	Name    string   `json:"name"`
	MTU     int      `json:"mtu,omitempty"`
	NIC     string   `json:"nic,omitempty"`
	VLAN    int      `json:"vlan,omitempty"`
	VNI     int      `json:"vni,omitempty"`
	Local   string   `json:"local,omitempty"`
	Remotes []string `json:"remotes,omitempty"`
}

// HostReport is what a host last reported of its networking: stored when
// it changes, not at every poll.
type HostReport struct {
	NICs     []HostNICReport
	Networks []HostNetworkReport
	// NoVLAN says why the host cannot make VLAN devices ("" when it can).
	NoVLAN string
}

// NIC finds a reported host NIC by name.
func (r *HostReport) NIC(name string) (HostNICReport, bool) {
	for _, n := range r.NICs {
		if n.Name == name {
			return n, true
		}
	}
	return HostNICReport{}, false
}

// Network finds a reported network by name.
func (r *HostReport) Network(name string) (HostNetworkReport, bool) {
	for _, n := range r.Networks {
		if n.Name == name {
			return n, true
		}
	}
	return HostNetworkReport{}, false
}

// NetworkAttachment is a network attached to a host NIC (oVirt's
// network_attachment): the host realises the network over that NIC. One
// per host and network.
type NetworkAttachment struct {
	ID        string
	HostID    string
	NetworkID string
	NIC       string // the host NIC's name
}

// ClusterNetwork is a network attached to a cluster.
type ClusterNetwork struct {
	Network
	ClusterID string
	Required  bool
}

// VNICProfile binds a vNIC to a network with properties.
type VNICProfile struct {
	ID            string
	Name          string
	Description   string
	NetworkID     string
	PortMirroring bool
	// NetworkFilter names the profile's traffic filter in the catalogue
	// (NWFilters); "" is none.
	NetworkFilter string
	// QoSID is the profile's network QoS entity; "" is none.
	QoSID string
	// PassThrough is oVirt's pass_through mode enabled: the vNIC is a host
	// device (SR-IOV), which has no mirroring, QoS or filter.
	PassThrough bool
	// Notify is how a running guest learns that its vNIC moved to this
	// profile's network; BounceHold is how long the link stays down for
	// NotifyLinkBounce.
	Notify     GuestNotify
	BounceHold time.Duration
}

// GuestNotify is what tells a guest that its vNIC's network changed. oVirt
// did nothing (the seed's closing comment); vwire offers two opt-in ways.
type GuestNotify string

const (
	// NotifyNone moves the vNIC silently: no carrier change, the guest keeps
	// its addresses. Right when the new network is the same L2 segment.
	NotifyNone GuestNotify = "none"
	// NotifyLinkBounce takes the link down, moves the vNIC and brings the
	// link up after BounceHold, so that the guest re-runs DHCP/SLAAC, as
	// Proxmox does. Right when the new network is a different subnet.
	NotifyLinkBounce GuestNotify = "link_bounce"
	// NotifyAnnounce asks QEMU to announce the vNIC (RARP, and the guest's
	// gratuitous ARP/NA) on the new network, so that switches learn its
	// port. Right for the same subnet reached through another port or VLAN.
	NotifyAnnounce GuestNotify = "announce"
)

// DefaultBounceHold is the link-down time of a bounce when none is set.
const DefaultBounceHold = time.Second

// MaxBounceHold bounds the hold: the update holds the VM's lock meanwhile.
const MaxBounceHold = 30 * time.Second

// ParseGuestNotify reads a notification mode.
func ParseGuestNotify(s string) (GuestNotify, bool) {
	switch g := GuestNotify(s); g {
	case NotifyNone, NotifyLinkBounce, NotifyAnnounce:
		return g, true
	}
	return "", false
}

// HostStatus follows oVirt's host states that vwire uses.
type HostStatus string

const (
	HostUp             HostStatus = "up"
	HostConnecting     HostStatus = "connecting"
	HostNonResponsive  HostStatus = "non_responsive"
	HostNonOperational HostStatus = "non_operational"
	HostMaintenance    HostStatus = "maintenance"
	HostInstalling     HostStatus = "installing"
)

// Host is a hypervisor reached through its agent.
type Host struct {
	ID        string
	Name      string
	ClusterID string
	Address   string
	Port      int
	Status    HostStatus
	// StatusDetail says why a host is not up.
	StatusDetail string
	// Networks are the bridges the host reported, sorted.
	Networks []string
	// ClusterLevels the agent supports.
	ClusterLevels  []Version
	LibvirtVersion string
	Embedded       bool
	// LastSeen is when the host last answered as of its last recorded
	// change: it is written with a change of status or report, never for
	// itself, so that polling an unchanged host writes nothing. An up
	// host answered its last poll; one not responding keeps the time it
	// last did.
	LastSeen time.Time
}

// HasNetwork tells whether the host reported a bridge for the network.
func (h *Host) HasNetwork(name string) bool {
	for _, n := range h.Networks {
		if n == name {
			return true
		}
	}
	return false
}

// SupportsLevel tells whether the agent reported the cluster level.
func (h *Host) SupportsLevel(v Version) bool {
	for _, l := range h.ClusterLevels {
		if l == v {
			return true
		}
	}
	return false
}

// VMStatus follows oVirt's VM states that vwire uses.
type VMStatus string

const (
	VMDown        VMStatus = "down"
	VMUp          VMStatus = "up"
	VMPoweringUp  VMStatus = "powering_up"
	VMImageLocked VMStatus = "image_locked"
	VMUnknown     VMStatus = "unknown"
	VMNotResp     VMStatus = "not_responding"
)

// VM is a virtual machine definition and its run state.
type VM struct {
	ID          string
	Name        string
	Description string
	Comment     string
	ClusterID   string
	TemplateID  string
	Status      VMStatus
	// HostID is the host the VM runs on, empty when down.
	HostID string
	// PlacementHosts pin the VM to these hosts.
	PlacementHosts []string
	Memory         int64
	CPU            CPUTopology
	OSType         string
	Kernel         string
	Initrd         string
	Cmdline        string
	CreatedAt      time.Time
	StartTime      time.Time
	StopTime       time.Time
	// Generation counts changes of the VM's devices (see Tx.BumpVMGeneration).
	Generation int64
	// ForeignNICs are the devices of the running domain that no vNIC of
	// the VM accounts for, as already reported (opaque keys the engine
	// makes; see Tx.SetForeignNICs), so that each is reported once.
	ForeignNICs []string
}

// NICCount is how many vNICs a VM has and how many of them are not synced
// with its host.
type NICCount struct {
	NICs, Unsynced int
}

// Template is a VM template. Blank is the only one a fresh install holds.
type Template struct {
	ID          string
	Name        string
	Description string
	Comment     string
	ClusterID   string
	Memory      int64
	CPU         CPUTopology
	OSType      string
	CreatedAt   time.Time
}

// CPUTopology is a VM's virtual CPUs as its guest sees them: sockets of
// cores of threads (libvirt's <cpu><topology>, oVirt's cpu.topology).
type CPUTopology struct{ Sockets, Cores, Threads int }

// VCPUs is the number of virtual CPUs of the topology.
func (c CPUTopology) VCPUs() int { return c.Sockets * c.Cores * c.Threads }

// DefaultCPU is one socket of one core of one thread (Blank's).
var DefaultCPU = CPUTopology{Sockets: 1, Cores: 1, Threads: 1}

// MACRange is an inclusive range of MAC addresses.
type MACRange struct{ From, To MAC }

// MACPool allocates MACs to vNICs of the clusters that use it.
type MACPool struct {
	ID              string
	Name            string
	Description     string
	AllowDuplicates bool
	DefaultPool     bool
	Ranges          []MACRange
}

// Size is the number of addresses in the pool's ranges.
func (p *MACPool) Size() uint64 {
	var n uint64
	for _, r := range p.Ranges {
		n += uint64(r.To-r.From) + 1
	}
	return n
}

// Severity of an audit event.
type Severity string

const (
	SevNormal  Severity = "normal"
	SevWarning Severity = "warning"
	SevError   Severity = "error"
	SevAlert   Severity = "alert"
)

// Event is one audit log entry.
type Event struct {
	ID            int64
	Code          int
	Severity      Severity
	Description   string
	Time          time.Time
	UserName      string
	VMID          string
	HostID        string
	ClusterID     string
	DataCenterID  string
	TemplateID    string
	CorrelationID string
}

// User is an engine user.
type User struct {
	ID           string
	Name         string // "admin"
	Domain       string // "internal"
	PasswordHash string
}

var (
	namePattern        = regexp.MustCompile(`^[0-9a-zA-Z_-]+$`)
	nameWithDotPattern = regexp.MustCompile(`^[0-9a-zA-Z_.-]+$`)
)

// ValidateName checks an entity name (letters, digits, "-" and "_"; with
// withDot also "."), at most max characters.
func ValidateName(op Op, name string, max int, withDot bool) error {
	switch {
	case withDot && !nameWithDotPattern.MatchString(name):
		return Fail(op, MsgValidationNameInvalidWithDot)
	case !withDot && !namePattern.MatchString(name):
		return Fail(op, MsgValidationNameInvalid)
	case len(name) > max:
		return Fail(op, MsgValidationNameTooLong, "max", strconv.Itoa(max))
	}
	return nil
}

// ValidateNetwork checks a network definition. The name becomes a Linux
// bridge name on every host, hence at most 15 characters.
func ValidateNetwork(op Op, n *Network) error {
	if err := ValidateName(op, n.Name, 256, false); err != nil {
		return err
	}
	if len(n.Name) > 15 {
		return Fail(op, MsgNetworkNameTooLongForBridge)
	}
	if n.Name == DummyBridge {
		return Fail(op, MsgNetworkNameReserved, "NetworkName", n.Name)
	}
	if n.VLAN != nil && (*n.VLAN < 0 || *n.VLAN > 4094) {
		return Fail(op, MsgNetworkVLANOutOfRange)
	}
	if n.MTU != 0 && (n.MTU < 68 || n.MTU > 65535) {
		return Fail(op, MsgNetworkMTUOutOfRange)
	}
	if n.VXLAN < 0 || n.VXLAN > MaxVXLAN {
		return Fail(op, MsgNetworkVXLANOutOfRange)
	}
	// An overlay is its own segment: a VLAN tag under it means nothing.
	if n.VXLAN != 0 && n.VLAN != nil && *n.VLAN != 0 {
		return Fail(op, MsgNetworkVXLANWithVLAN)
	}
	return nil
}
