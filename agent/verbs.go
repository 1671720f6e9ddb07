package agent

// The host protocol, one verb at a time: each VDSM verb has one params type
// and one result type, which the Client marshals and decodes and the
// Server's handlers decode and return, so the contract is written once. The
// JSON names are VDSM's; the field order of each type is the order its
// members go on the wire (the protocol was first written with maps, whose
// keys encoding/json sorts, and the golden test in wire_test.go holds the
// bytes to it).

// Device is a vNIC in VDSM's legacy device form.
type Device struct {
	Type       string `json:"type"`   // "interface"
	Device     string `json:"device"` // "bridge"
	DeviceID   string `json:"deviceId,omitempty"`
	Alias      string `json:"alias"`
	MAC        string `json:"macAddr"`
	Model      string `json:"nicModel"`
	Network    string `json:"network"` // bridge; "" = the dummy bridge, link down
	LinkActive bool   `json:"linkActive"`
	// VDSM's portMirroring: the networks whose traffic the device mirrors
	// (at most its own); specParams' inbound and outbound limits in
	// libvirt's units; the nwfilter and its parameters.
	PortMirroring    []string      `json:"portMirroring,omitempty"`
	SpecParams       *SpecParams   `json:"specParams,omitempty"`
	Filter           string        `json:"filter,omitempty"`
	FilterParameters []FilterParam `json:"filterParameters,omitempty"`
}

// SpecParams is VDSM's specParams of an interface: its bandwidth (libvirt's
// units: average and peak in KB/s, burst in KiB).
type SpecParams struct {
	Inbound  *RateParams `json:"inbound,omitempty"`
	Outbound *RateParams `json:"outbound,omitempty"`
}

// RateParams is one direction of SpecParams.
type RateParams struct {
	Average int64 `json:"average"`
	Peak    int64 `json:"peak,omitempty"`
	Burst   int64 `json:"burst,omitempty"`
}

// FilterParam is one of VDSM's filterParameters.
type FilterParam struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// VMParams is VM.create's vmParams.
type VMParams struct {
	VMID    string `json:"vmId"`
	VMName  string `json:"vmName"`
	MemSize int64  `json:"memSize"` // MiB
	// VDSM's CPU topology: smp virtual CPUs in all, of cores per socket
	// and threads per core (0: 1; smp 0: one CPU).
	SMP               int      `json:"smp,omitempty"`
	SMPCoresPerSocket int      `json:"smpCoresPerSocket,omitempty"`
	SMPThreadsPerCore int      `json:"smpThreadsPerCore,omitempty"`
	Kernel            string   `json:"kernel,omitempty"`
	Initrd            string   `json:"initrd,omitempty"`
	KernelArgs        string   `json:"kernelArgs,omitempty"`
	Devices           []Device `json:"devices"`
}

// NICStats is one device of a running VM, read from the live domain.
type NICStats struct {
	Alias      string `json:"alias"`
	MAC        string `json:"macAddr"`
	Model      string `json:"nicModel"`
	Network    string `json:"network"`
	LinkActive bool   `json:"linkActive"`
	Address    string `json:"address"`
	Name       string `json:"name"`
	// What the host applied: mirroring, limits, filter (as in Device).
	PortMirroring    []string      `json:"portMirroring,omitempty"`
	SpecParams       *SpecParams   `json:"specParams,omitempty"`
	Filter           string        `json:"filter,omitempty"`
	FilterParameters []FilterParam `json:"filterParameters,omitempty"`
	// VM.getStats only: the device's traffic counters (VDSM's rx, tx,
	// rxErrors, rxDropped, …, with packets), read when it answered.
	Counters *NICCounters `json:"counters,omitempty"`
}

// NICCounters are a device's traffic counters in VDSM's names (bytes in
// rx and tx), from the guest's point of view.
type NICCounters struct {
	Rx         int64 `json:"rx"`
	Tx         int64 `json:"tx"`
	RxPackets  int64 `json:"rxPackets"`
	TxPackets  int64 `json:"txPackets"`
	RxErrors   int64 `json:"rxErrors"`
	TxErrors   int64 `json:"txErrors"`
	RxDropped  int64 `json:"rxDropped"`
	TxDropped  int64 `json:"txDropped"`
	SampleTime int64 `json:"sampleTime"` // Unix milliseconds
}

// VMStats is one running VM as the host sees it.
type VMStats struct {
	VMID   string     `json:"vmId"`
	VMName string     `json:"vmName"`
	Status string     `json:"status"` // "Up"
	NICs   []NICStats `json:"nics"`
}

// Capabilities is Host.getCapabilities' answer.
type Capabilities struct {
	Bridges         []string `json:"bridges"`
	ClusterLevels   []string `json:"clusterLevels"`
	Hypervisor      string   `json:"hypervisor"`
	LibvirtVersion  string   `json:"libvirtVersion"`
	QEMUVersion     string   `json:"qemuVersion"`
	SoftwareVersion string   `json:"software_version"`
	// DomainType is kvm or qemu (TCG) on libvirt, and why it was chosen.
	DomainType       string `json:"domainType,omitempty"`
	DomainTypeReason string `json:"domainTypeReason,omitempty"`
	// vwire's own: why devices cannot carry a network filter here (a
	// binary libvirt's nwfilter needs is missing), or mirroring and
	// bandwidth limits cannot be applied; empty when they can.
	FiltersUnavailable string `json:"networkFiltersUnavailable,omitempty"`
	ShapingUnavailable string `json:"shapingUnavailable,omitempty"`
	// The host's NICs and bonds (VDSM's nics and bondings, as a list), the
	// networks realised on it as they are (VDSM's networks), and why it
	// cannot make 802.1Q VLAN devices ("" when it can). Issue 16.
	NICs     []HostNICInfo `json:"hostNics,omitempty"`
	Networks []NetworkInfo `json:"hostNetworks,omitempty"`
	NoVLAN   string        `json:"noVlan,omitempty"`
}

// HostNICInfo is a host NIC or bond.
type HostNICInfo struct {
	Name   string   `json:"name"`
	MAC    string   `json:"hwaddr"`
	MTU    int      `json:"mtu"`
	Speed  int      `json:"speed"` // Mbit/s, 0 unknown
	Up     bool     `json:"up"`
	Bond   bool     `json:"bond,omitempty"`
	Slaves []string `json:"slaves,omitempty"`
	Addr   string   `json:"addr,omitempty"` // first IPv4 address/prefix
}

// NetworkInfo is a network on the host: a bridge of its name with its MTU
// over Nic, over the VLAN device Nic.VLAN, or over a VXLAN device.
type NetworkInfo struct {
	Name  string      `json:"name"`
	MTU   int         `json:"mtu,omitempty"`
	Nic   string      `json:"nic,omitempty"`
	VLAN  int         `json:"vlan,omitempty"`
	VXLAN *VXLANAttrs `json:"vxlan,omitempty"`
}

// VXLANAttrs is an overlay's segment (vwire's own): VNI, local address,
// the remote hosts to replicate to (unicast forwarding entries), UDP port.
type VXLANAttrs struct {
	VNI     int      `json:"vni"`
	Local   string   `json:"local"`
	Remotes []string `json:"remotes,omitempty"`
	Port    int      `json:"port,omitempty"`
}

// ConfigureNetworksParams is Host.setupNetworks in its full form (issue
// 16): networks to realise (or bring in line), names to remove, VDSM's
// connectivity check (the host rolls back unless Host.setSafeNetworkConfig
// comes within connectivityTimeout seconds).
type ConfigureNetworksParams struct {
	Networks map[string]NetworkSpec `json:"networks"`
	Options  *SetupOptions          `json:"options,omitempty"`
}

// NetworkSpec is one network of ConfigureNetworksParams.
type NetworkSpec struct {
	Remove bool        `json:"remove,omitempty"`
	MTU    int         `json:"mtu,omitempty"`
	Nic    string      `json:"nic,omitempty"`
	VLAN   int         `json:"vlan,omitempty"`
	VXLAN  *VXLANAttrs `json:"vxlan,omitempty"`
}

// SetupOptions is VDSM's setupNetworks options.
type SetupOptions struct {
	ConnectivityCheck   bool `json:"connectivityCheck,omitempty"`
	ConnectivityTimeout int  `json:"connectivityTimeout,omitempty"` // seconds
}

// The verbs.
const (
	verbCapabilities         = "Host.getCapabilities"
	verbAllVMStats           = "Host.getAllVmStats"
	verbSetupNetworks        = "Host.setupNetworks"
	verbSetSafeNetworkConfig = "Host.setSafeNetworkConfig"
	verbGetStats             = "VM.getStats"
	verbSettle               = "VM.settle"
	verbCreate               = "VM.create"
	verbDestroy              = "VM.destroy"
	verbHotplugNIC           = "VM.hotplugNic"
	verbHotunplugNIC         = "VM.hotunplugNic"
	verbUpdateDevice         = "VM.updateDevice"
	// vwire's own: certificate renewal of an enrolled agent (package pki).
	verbCertRequest = "Host.certificateRequest"
	verbCertInstall = "Host.installCertificate"
)

// CertRequestResult is Host.certificateRequest's answer: the request (PEM)
// for a key the agent just made and keeps.
type CertRequestResult struct {
	CSR string `json:"csr"`
}

// InstallCertParams is Host.installCertificate's params: the certificate
// (PEM) the engine signed for the last request.
type InstallCertParams struct {
	Certificate string `json:"certificate"`
}

// NoParams is the params of the verbs that take none (Host.getCapabilities,
// Host.getAllVmStats): {}.
type NoParams struct{}

// SetupNetworksParams is VDSM's setupNetworks, reduced to bridges:
// networks[name] = {} creates, {"remove": true} removes.
type SetupNetworksParams struct {
	Networks map[string]NetworkAttrs `json:"networks"`
}

// NetworkAttrs is one network of Host.setupNetworks. It is an alias of an
// unnamed struct, not a named type, because a malformed member's error text
// names the Go type that holds it, and that text is on the wire.
type NetworkAttrs = struct {
	Remove bool `json:"remove,omitempty"`
}

// MessageResult is the answer of the verbs that report only that they did
// it (Host.setupNetworks, VM.destroy).
type MessageResult struct {
	Message string `json:"message"`
}

// VMIDParams names one VM (VM.destroy, VM.getStats).
type VMIDParams struct {
	VMID string `json:"vmID"`
}

// CreateParams is VM.create's params. vmParams.vmId, when empty, is vmID.
type CreateParams struct {
	VMID     string   `json:"vmID"`
	VMParams VMParams `json:"vmParams"`
}

// CreateResult is VM.create's answer: the VM as it started.
type CreateResult struct {
	VMList VMStats `json:"vmList"`
}

// NICParams is the params of VM.hotplugNic and VM.hotunplugNic: VDSM names
// the VM twice, at the top and next to the device.
type NICParams struct {
	Params NICDevice `json:"params"`
	VMID   string    `json:"vmID"`
}

// NICDevice is NICParams' params member.
type NICDevice struct {
	NIC  Device `json:"nic"`
	VMID string `json:"vmId"`
}

// HotplugResult is VM.hotplugNic's answer: the device as the host has it.
type HotplugResult struct {
	VMList HotplugVMList `json:"vmList"`
}

// HotplugVMList is HotplugResult's vmList.
type HotplugVMList struct {
	Devices []NICStats `json:"devices"`
}

// HotunplugResult is VM.hotunplugNic's answer, an empty vmList.
type HotunplugResult struct {
	VMList struct{} `json:"vmList"`
}

// UpdateDeviceRequest is VM.updateDevice's params.
type UpdateDeviceRequest struct {
	Params UpdateDeviceParams `json:"params"`
	VMID   string             `json:"vmID"`
}

// UpdateDeviceParams is VM.updateDevice's params for an interface. Network
// and LinkActive omitted keep the current values; Network "" is the dummy
// bridge with link down (VDSM's rule).
type UpdateDeviceParams struct {
	DeviceType string  `json:"deviceType"`
	Alias      string  `json:"alias"`
	Network    *string `json:"network,omitempty"`
	LinkActive *bool   `json:"linkActive,omitempty"`
	// MAC and Model, when given with Network and LinkActive, describe the
	// whole device, so the agent need not read it first; the hypervisor
	// refuses them if they are not the device's.
	MAC   string `json:"macAddr,omitempty"`
	Model string `json:"nicModel,omitempty"`
	// Notify tells the guest of a move to another network: "link_bounce"
	// (link down, move, link up after BounceHoldMs) or "announce" (QEMU's
	// announce-self for the device); empty or "none" does nothing.
	Notify       string `json:"notify,omitempty"`
	BounceHoldMs int64  `json:"bounceHoldMs,omitempty"`
	// Omitted keeps the device's current value (VDSM's rule for
	// portMirroring); the engine sends them all. An empty SpecParams is no
	// limit; Filter "" is no filter.
	PortMirroring    *[]string      `json:"portMirroring,omitempty"`
	SpecParams       *SpecParams    `json:"specParams,omitempty"`
	Filter           *string        `json:"filter,omitempty"`
	FilterParameters *[]FilterParam `json:"filterParameters,omitempty"`
}

// UpdateDeviceResult is VM.updateDevice's answer: the device as read back
// from the host, and VDSM's empty vmList.
type UpdateDeviceResult struct {
	Device NICStats `json:"device"`
	VMList struct{} `json:"vmList"`
}

// SettleParams is VM.settle's params: the VM, and the operation to fence.
// An alias of an unnamed struct, as NetworkAttrs, to keep its decode
// errors' text.
type SettleParams = struct {
	Op   string `json:"op"`
	VMID string `json:"vmID"`
}

// Host.getAllVmStats, VM.getStats and VM.settle answer []VMStats.
