package engine

import (
	"context"
	"errors"
	"time"

	"vwire.dev/vwire"
)

// The engine's port to a host, in its own terms. The engine defines what it
// needs of a host agent (HostClient) and the types it speaks to it; an
// adapter (agent/engineport, over the JSON-RPC client) implements the port
// and the binary's wiring (app) injects it through Options.Dial. The engine
// knows neither the wire nor VDSM's device form.

// HostClient is what the engine needs of a host agent.
type HostClient interface {
	Capabilities(ctx context.Context) (HostCaps, error)
	AllVMStats(ctx context.Context) ([]HostVM, error)
	// VMStats reads one running VM with its devices' traffic counters.
	VMStats(ctx context.Context, vmID string) (HostVM, error)
	// SetupNetworks creates the bridges add and removes those of remove.
	SetupNetworks(ctx context.Context, add, remove []string) error
	// ConfigureNetworks realises networks on the host (a bridge of the
	// network's name and MTU, on a VLAN or VXLAN device over a host NIC)
	// and removes others (issue 16). With a connectivity check the host
	// rolls the change back unless the engine reaches it again within the
	// timeout (ConfirmNetworks), as VDSM's setupNetworks does.
	ConfigureNetworks(ctx context.Context, s HostNetworkSetup) error
	// ConfirmNetworks tells the host the engine still reaches it after a
	// checked ConfigureNetworks: the change is kept.
	ConfirmNetworks(ctx context.Context) error
	CreateVM(ctx context.Context, vm HostVMSpec) (HostVM, error)
	DestroyVM(ctx context.Context, vmID string) error
	// HotplugNIC plugs d and returns the device as the host has it.
	HotplugNIC(ctx context.Context, vmID string, d HostDevice) (HostNIC, error)
	// HotunplugNIC unplugs the device of d's alias; it returns once it is gone.
	HotunplugNIC(ctx context.Context, vmID string, d HostDevice) error
	// UpdateNIC puts a plugged device in the state u describes and returns
	// it as read back from the host.
	UpdateNIC(ctx context.Context, vmID string, u DeviceUpdate) (HostNIC, error)
	// Settle fences operation opID and reads the VM once no call on it is
	// in progress; found is false when the host does not run it.
	Settle(ctx context.Context, vmID, opID string) (st HostVM, found bool, err error)
}

// HostCertRenewer is what a host client offers when its host is enrolled:
// a new certificate without downtime. The host makes a new key and returns
// its certificate request (PEM); the engine signs it; the host installs the
// certificate for its next connections.
type HostCertRenewer interface {
	CertificateRequest(ctx context.Context) (csrPEM []byte, err error)
	InstallCertificate(ctx context.Context, certPEM []byte) error
}

// HostSigner signs a host's certificate request (PEM) for its id and
// returns the certificate (PEM); whatever names the request asks for, the
// certificate names only the host id.
type HostSigner interface {
	SignHost(csrPEM []byte, hostID string) (certPEM []byte, err error)
	// CACertificate is the CA's certificate (PEM).
	CACertificate() []byte
}

// Dialer returns the client for a host.
type Dialer func(h *vwire.Host) HostClient

// HostCaps is what a host reports of itself.
type HostCaps struct {
	Bridges        []string // the networks (bridges) present
	ClusterLevels  []string // the cluster levels it supports ("4.7")
	LibvirtVersion string
	// NICs are the host's physical NICs and bonds; Networks the networks
	// realised on it, as they are (issue 16).
	NICs     []HostNICInfo
	Networks []HostNetwork
	// NoVLAN says why this host cannot make 802.1Q VLAN devices ("" when
	// it can): a VLAN network is refused there with that reason.
	NoVLAN string
}

// HostNICInfo is a host NIC or bond as its host reports it.
type HostNICInfo struct {
	Name      string
	MAC       string
	MTU       int
	SpeedMbps int // 0 unknown
	Up        bool
	// Bond: a bond of Slaves.
	Bond   bool
	Slaves []string
	// Addr is its first IPv4 address with prefix ("198.18.9.1/24"), the
	// local end of an overlay on it.
	Addr string
}

// HostNetwork is a network on a host, wanted or as it is: a bridge named
// after the network with its MTU, over NIC directly, over the VLAN device
// NIC.VLAN, or over a VXLAN device (an overlay) whose underlay is NIC.
type HostNetwork struct {
	Name  string
	MTU   int    // 0: the default (1500)
	NIC   string // "": a bridge with no uplink
	VLAN  int    // 0: none
	VXLAN *HostVXLAN
}

// HostVXLAN is an overlay network's segment: its VNI, the local address
// (of the host NIC under it) and the other hosts carrying the segment, to
// which broadcast and unknown frames are replicated (head-end replication:
// unicast forwarding entries, no multicast).
type HostVXLAN struct {
	VNI     int
	Local   string
	Remotes []string
	Port    int // 0: 4789
}

// HostNetworkSetup is one ConfigureNetworks call: the networks to realise
// (created, or brought in line with the spec), those to remove, and the
// connectivity check.
type HostNetworkSetup struct {
	Networks []HostNetwork
	Remove   []string
	// CheckConnectivity: the host keeps the change only if the engine
	// confirms within ConnectivityTimeout.
	CheckConnectivity   bool
	ConnectivityTimeout time.Duration
}

// HostDevice is a vNIC's device as the engine asks a host to have it.
type HostDevice struct {
	ID         string // the vNIC's id
	Alias      string
	MAC        string
	Model      string
	Network    string // the bridge; "" is the dummy bridge, link down
	LinkActive bool
	// Mirroring, QoS, Filter, FilterParams: the profile's port mirroring,
	// QoS (oVirt's units) and network filter, the vNIC's filter parameters.
	Mirroring    bool
	QoS          vwire.Bandwidth
	Filter       string
	FilterParams []vwire.FilterParam
}

// DeviceUpdate is the state a plugged device is to take: the whole device
// (so the host need not read it first), and how the guest learns of a move
// to another network.
type DeviceUpdate struct {
	Alias      string
	MAC        string
	Model      string
	Network    string // "" is the dummy bridge, link down
	LinkActive bool
	// Notify is how the guest learns of a move ("" or none: not at all);
	// BounceHold is how long a link bounce keeps the link down.
	Notify     vwire.GuestNotify
	BounceHold time.Duration
	// As in HostDevice.
	Mirroring    bool
	QoS          vwire.Bandwidth
	Filter       string
	FilterParams []vwire.FilterParam
}

// HostVMSpec is a VM to start on a host, with its plugged devices.
type HostVMSpec struct {
	ID        string
	Name      string
	MemoryMiB int64
	CPU       vwire.CPUTopology
	Kernel    string
	Initrd    string
	Cmdline   string
	Devices   []HostDevice
}

// HostNIC is one device of a running VM as the host reports it.
type HostNIC struct {
	Alias      string
	MAC        string
	Model      string
	Network    string // the bridge it is on
	LinkActive bool
	Address    string // its PCI address
	Name       string // the host's name of it (the tap device)
	// What the host applied.
	Mirroring    bool
	QoS          vwire.Bandwidth
	Filter       string
	FilterParams []vwire.FilterParam
	// Counters are its traffic, when the call reads them (VMStats).
	Counters *HostNICCounters
}

// HostNICCounters are a device's traffic counters from the guest's point of
// view (received is rx), as the host read them at SampledAt.
type HostNICCounters struct {
	RxBytes, RxPackets, RxErrors, RxDrops int64
	TxBytes, TxPackets, TxErrors, TxDrops int64
	SampledAt                             time.Time
}

// HostVM is one running VM as the host reports it.
type HostVM struct {
	VMID   string
	VMName string
	Status string
	NICs   []HostNIC
}

// How a host call failed, as the port classifies it (errors.Is).
var (
	// ErrHostRefused: the host answered with an error; nothing was done.
	ErrHostRefused = errors.New("host refused")
	// ErrNoVM: the host answered that it does not run the VM.
	ErrNoVM = errors.New("VM not on host")
	// ErrHostUnreached: the call never reached the host; nothing was done.
	ErrHostUnreached = errors.New("host not reached")
	// ErrOutcomeUnknown: the call may or may not have been carried out;
	// settle it with Settle.
	ErrOutcomeUnknown = errors.New("outcome unknown")
)

// HostError is a failed host call, classified by the port's adapter. Its
// text is the adapter's error's.
type HostError struct {
	// Kind is ErrHostRefused, ErrNoVM, ErrHostUnreached or ErrOutcomeUnknown.
	Kind error
	// Answered: the host answered, and Code (VDSM's) and Reason (the
	// host's own, or the generic text) are its.
	Answered bool
	Code     int
	// Reason is the host's reason when it answered; when it was not
	// reached, why not.
	Reason string
	Err    error
}

func (e *HostError) Error() string        { return e.Err.Error() }
func (e *HostError) Unwrap() error        { return e.Err }
func (e *HostError) Is(target error) bool { return target != nil && target == e.Kind }

// isUnknown tells whether err leaves a host call's outcome unknown.
func isUnknown(err error) bool { return errors.Is(err, ErrOutcomeUnknown) }

type opKey struct{}

// WithOp names the operation a host call carries out, so that Settle can
// fence it. The engine sets it on each call of a change in flight.
func WithOp(ctx context.Context, opID string) context.Context {
	return context.WithValue(ctx, opKey{}, opID)
}

// OpID is the operation a host call carries out ("" if none): the port's
// adapter sends it with the call.
func OpID(ctx context.Context) string {
	s, _ := ctx.Value(opKey{}).(string)
	return s
}
