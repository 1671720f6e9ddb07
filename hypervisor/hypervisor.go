// Package hypervisor is the small interface the host agent needs from a
// hypervisor, with libvirt's semantics: a running domain has network
// devices found by alias and MAC, each on a bridge with a link state and a
// PCI address that survives live updates. Two backends implement it: sim
// (in memory, the embedded default and a fast test backend) and libvirt.
// hypervisortest holds the conformance suite both must pass.
package hypervisor

import (
	"context"
	"fmt"
)

// NIC is a network device as the agent wants it.
type NIC struct {
	Alias  string `json:"alias"`
	MAC    string `json:"macAddr"`
	Model  string `json:"nicModel"`
	Bridge string `json:"network"`
	LinkUp bool   `json:"linkActive"`
	// PortMirroring: the device receives a copy of every frame on its
	// bridge (all other ports' ingress and the bridge's own egress), kept
	// right as the bridge gains and loses ports.
	PortMirroring bool `json:"portMirroring,omitempty"`
	// Bandwidth limits the device's traffic; nil is none.
	Bandwidth *Bandwidth `json:"bandwidth,omitempty"`
	// Filter is the libvirt nwfilter applied to the device ("" none), with
	// its parameters (libvirt's <filterref>).
	Filter       string        `json:"filter,omitempty"`
	FilterParams []FilterParam `json:"filterParameters,omitempty"`
}

// Bandwidth is a device's traffic limits from the guest's point of view,
// as libvirt's <bandwidth> says them: Inbound is what the guest receives
// (shaped on the tap's egress), Outbound what it sends (shaped after an
// ifb redirect of the tap's ingress). A nil direction is unlimited.
type Bandwidth struct {
	Inbound  *Rate `json:"inbound,omitempty"`
	Outbound *Rate `json:"outbound,omitempty"`
}

// Rate is one direction's limit in libvirt's units: Average and Peak in
// kilobytes per second (1000 bytes), Burst in kibibytes. Average is
// required; Peak 0 is Average; Burst 0 is the shaper's minimum.
type Rate struct {
	Average int64 `json:"average"`
	Peak    int64 `json:"peak,omitempty"`
	Burst   int64 `json:"burst,omitempty"`
}

// FilterParam is one <parameter name= value=/> of a <filterref>.
type FilterParam struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// NICState is a network device as the hypervisor has it.
type NICState struct {
	NIC
	PCIAddress string `json:"address"`
	// Tap is the host-side device (vnetN); it changes with every plug.
	Tap string `json:"name"`
}

// Domain is a VM definition to start.
type Domain struct {
	ID        string
	Name      string
	MemoryMiB int64
	// Sockets, Cores (per socket) and Threads (per core) are the guest's
	// CPU topology; 0 counts as 1.
	Sockets, Cores, Threads int
	Kernel                  string
	Initrd                  string
	Cmdline                 string
	NICs                    []NIC
}

// DomainState is a domain as the hypervisor has it.
type DomainState struct {
	ID      string
	Name    string
	Running bool
	NICs    []NICState
}

// NICByAlias finds a device of the domain.
func (d *DomainState) NICByAlias(alias string) (NICState, bool) {
	for _, n := range d.NICs {
		if n.Alias == alias {
			return n, true
		}
	}
	return NICState{}, false
}

// Capabilities describe a host.
type Capabilities struct {
	// Bridges are the networks present; the dummy bridge is never listed.
	Bridges    []string
	Hypervisor string // "sim", "qemu", "kvm"
	// DomainType is the libvirt domain type VMs start with (kvm or qemu)
	// and DomainTypeReason why it was chosen; empty on the simulator.
	DomainType       string
	DomainTypeReason string
	LibvirtVersion   string
	QEMUVersion      string
	// Filters tells whether devices may carry a network filter here, and
	// FiltersReason why not (a missing binary libvirt needs).
	Filters       bool
	FiltersReason string
	// Shaping tells whether port mirroring and bandwidth limits can be
	// applied here, and ShapingReason why not.
	Shaping       bool
	ShapingReason string
}

// Hypervisor is what the agent drives. Every method honours ctx's deadline.
type Hypervisor interface {
	Capabilities(ctx context.Context) (Capabilities, error)
	// CreateDomain starts a transient domain with its devices.
	CreateDomain(ctx context.Context, d Domain) (DomainState, error)
	// DestroyDomain stops the domain at once (power off).
	DestroyDomain(ctx context.Context, id string) error
	Domains(ctx context.Context) ([]DomainState, error)
	Domain(ctx context.Context, id string) (DomainState, error)
	// AttachNIC hot-plugs a device and returns it with its PCI address.
	AttachNIC(ctx context.Context, domainID string, nic NIC) (NICState, error)
	// DetachNIC hot-unplugs the device with the alias and waits until the
	// hypervisor reports it removed, or ctx ends.
	DetachNIC(ctx context.Context, domainID, alias string) error
	// UpdateNIC changes a live device in place. The device is found by MAC
	// and alias; the bridge, the link state, port mirroring, bandwidth and
	// the filter (with its parameters) may change, as far as libvirt lets
	// them. It returns the device as read back from the hypervisor after
	// the change.
	UpdateNIC(ctx context.Context, domainID string, nic NIC) (NICState, error)
	// Announce makes the device announce itself on its network (QEMU's
	// announce-self: RARP from its MAC, and the guest's own gratuitous
	// ARP/NA where the driver supports it). An unknown alias is refused.
	Announce(ctx context.Context, domainID, alias string) error
	// InterfaceCounters reads the traffic counters of the running domain's
	// devices, by alias.
	InterfaceCounters(ctx context.Context, domainID string) (map[string]NICCounters, error)
}

// NICCounters are a device's traffic since its host-side device was made
// (libvirt's virDomainInterfaceStats, from the guest's point of view: Rx
// is what the guest received).
type NICCounters struct {
	RxBytes, RxPackets, RxErrors, RxDrops int64
	TxBytes, TxPackets, TxErrors, TxDrops int64
}

// BridgeManager is implemented by hypervisors whose host bridges the agent
// may create and remove itself (the simulated one; real hosts only on request).
type BridgeManager interface {
	EnsureBridges(ctx context.Context, names []string) error
	RemoveBridges(ctx context.Context, names []string) error
}

// Error codes, libvirt's virErrorNumber values, so that both backends classify
// failures alike.
const (
	ErrInternal             = 1
	ErrNoSupport            = 3
	ErrOperationFailed      = 9
	ErrSystem               = 38
	ErrNoDomain             = 42
	ErrOperationInvalid     = 55
	ErrConfigUnsupported    = 67
	ErrOperationTimeout     = 68
	ErrOperationUnsupported = 84
	ErrDeviceMissing        = 99
	// ErrAbandoned is vwire's own: a call given up at its deadline that
	// may still be carried out inside the hypervisor (libvirt goes on with
	// a job whose client left).
	ErrAbandoned = 1001
)

// Error is a hypervisor failure: libvirt's code and its own message.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf builds an Error.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}
