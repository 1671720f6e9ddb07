// Package agent is vwire's host agent: a JSON-RPC 2.0 server over HTTP with
// VDSM's verbs (Host.getCapabilities, Host.getAllVmStats, VM.create,
// VM.destroy, VM.hotplugNic, VM.hotunplugNic, VM.updateDevice, VM.getStats,
// Host.setupNetworks) and VDSM's error codes, on top of a hypervisor.Hypervisor.
// Client is the engine's side of the same protocol.
//
// Unlike VDSM, an error carries the hypervisor's own reason (data.reason)
// next to the generic text, so that the engine can show why a host refused.
package agent

import (
	"encoding/json"
	"fmt"

	"vwire.dev/vwire/hypervisor"
)

// VDSM error codes (lib/vdsm/common/define.py) that the agent uses.
const (
	CodeNoVM          = 1
	CodeVMExists      = 4
	CodeCreateErr     = 9
	CodeMissParam     = 11
	CodeUnexpected    = 16
	CodeHotplugNic    = 49
	CodeHotunplugNic  = 50
	CodeUpdateDevice  = 56
	CodeSetupNetworks = 70
	// JSON-RPC's own codes.
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
)

// generic texts, as VDSM words them.
var codeText = map[int]string{
	CodeNoVM:          "Virtual machine does not exist",
	CodeVMExists:      "Virtual machine already exists",
	CodeCreateErr:     "Error creating the requested VM",
	CodeMissParam:     "Missing required parameter",
	CodeUnexpected:    "Unexpected exception",
	CodeHotplugNic:    "Failed to hotplug NIC",
	CodeHotunplugNic:  "Failed to hotunplug NIC",
	CodeUpdateDevice:  "Failed to update device",
	CodeSetupNetworks: "Failed to set up networks",
}

// RPCError is a JSON-RPC error with VDSM's code and the hypervisor's reason.
type RPCError struct {
	Code    int        `json:"code"`
	Message string     `json:"message"`
	Data    *ErrorData `json:"data,omitempty"`
}

// ErrorData carries the hypervisor's own reason and libvirt's error code.
type ErrorData struct {
	Reason      string `json:"reason"`
	LibvirtCode int    `json:"libvirtCode,omitempty"`
}

func (e *RPCError) Error() string {
	if e.Data != nil && e.Data.Reason != "" {
		return fmt.Sprintf("%s: %s", e.Message, e.Data.Reason)
	}
	return e.Message
}

// Reason is the hypervisor's text, or the generic message when there is none.
func (e *RPCError) Reason() string {
	if e.Data != nil && e.Data.Reason != "" {
		return e.Data.Reason
	}
	return e.Message
}

func rpcError(code int, cause error) *RPCError {
	e := &RPCError{Code: code, Message: codeText[code]}
	if cause != nil {
		e.Data = &ErrorData{Reason: cause.Error()}
		if he, ok := cause.(*hypervisor.Error); ok {
			e.Data.LibvirtCode = he.Code
		}
	}
	return e
}

type request struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
	// Deadline (Unix milliseconds) and Op (operation id) are vwire's
	// members: see outcome.go.
	Deadline int64  `json:"deadline,omitempty"`
	Op       string `json:"op,omitempty"`
}

type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *RPCError       `json:"error,omitempty"`
}

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
}

// VMParams is VM.create's vmParams.
type VMParams struct {
	VMID       string   `json:"vmId"`
	VMName     string   `json:"vmName"`
	MemSize    int64    `json:"memSize"` // MiB
	Kernel     string   `json:"kernel,omitempty"`
	Initrd     string   `json:"initrd,omitempty"`
	KernelArgs string   `json:"kernelArgs,omitempty"`
	Devices    []Device `json:"devices"`
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
}

func statsOf(d hypervisor.DomainState) VMStats {
	s := VMStats{VMID: d.ID, VMName: d.Name, Status: "Up", NICs: []NICStats{}}
	for _, n := range d.NICs {
		s.NICs = append(s.NICs, nicStats(n))
	}
	return s
}

func nicStats(n hypervisor.NICState) NICStats {
	return NICStats{Alias: n.Alias, MAC: n.MAC, Model: n.Model, Network: n.Bridge, LinkActive: n.LinkUp, Address: n.PCIAddress, Name: n.Tap}
}
