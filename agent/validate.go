package agent

import (
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"strings"
	"unicode"

	"vwire.dev/vwire"
)

// The agent checks the form of everything it is given before any
// hypervisor sees it, on every backend: the simulated hypervisor would
// otherwise accept what libvirt refuses (a multicast MAC, a model with
// markup), and a 1 MiB VM id would become a key of the per-VM lock map.
// The engine validates too; the agent does not trust it to.

const (
	maxIDLen     = 64  // a UUID is 36; VDSM's ids are UUIDs
	maxVMNameLen = 255 // libvirt's limit of a domain name's bytes is higher; oVirt's is lower
	maxBridgeLen = 15  // IFNAMSIZ - 1
)

var (
	// idPattern is the form of VM ids and device aliases ("ua-<uuid>").
	idPattern = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z._-]*$`)
	// bridgePattern is what a Linux interface name may be, narrowed to
	// the characters oVirt's network names use (and ".", for VLAN
	// devices made on the host).
	bridgePattern = regexp.MustCompile(`^[0-9A-Za-z_][0-9A-Za-z._-]*$`)
)

// knownModels are the libvirt models an engine can ask for
// (vwire.NICInterface.Model of every interface type).
var knownModels = map[string]bool{"virtio": true, "e1000": true, "e1000e": true, "rtl8139": true, "spapr-vlan": true}

func invalidParam(name, why string) *RPCError {
	return &RPCError{Code: CodeInvalidParams, Message: fmt.Sprintf("Invalid params: %s %s", name, why)}
}

func checkID(name, v string) *RPCError {
	switch {
	case v == "":
		return nil // absent: the verb says whether it is required
	case len(v) > maxIDLen:
		return invalidParam(name, fmt.Sprintf("is longer than %d characters", maxIDLen))
	case !idPattern.MatchString(v):
		return invalidParam(name, "may hold only letters, digits, '.', '_' and '-'")
	}
	return nil
}

func checkMAC(v string) *RPCError {
	if v == "" {
		return nil
	}
	m, ok := vwire.ParseMAC(v)
	switch {
	case !ok:
		return invalidParam("macAddr", "is not a MAC address (HH:HH:HH:HH:HH:HH)")
	case m == 0:
		return invalidParam("macAddr", "is the zero MAC address")
	case m.Multicast():
		return invalidParam("macAddr", "is a multicast MAC address")
	}
	return nil
}

func checkModel(v string) *RPCError {
	if v != "" && !knownModels[v] {
		return invalidParam("nicModel", "is not a known model (virtio, e1000, e1000e, rtl8139, spapr-vlan)")
	}
	return nil
}

// checkNetwork: "" and the dummy bridge mean the empty network.
func checkNetwork(v string) *RPCError {
	switch {
	case v == "" || v == vwire.DummyBridge:
		return nil
	case len(v) > maxBridgeLen:
		return invalidParam("network", fmt.Sprintf("is longer than %d characters", maxBridgeLen))
	case v == "." || v == ".." || !bridgePattern.MatchString(v):
		return invalidParam("network", "is not a bridge name")
	}
	return nil
}

func checkVMName(v string) *RPCError {
	if len(v) > maxVMNameLen {
		return invalidParam("vmName", fmt.Sprintf("is longer than %d bytes", maxVMNameLen))
	}
	if strings.ContainsFunc(v, func(r rune) bool {
		return unicode.IsControl(r) || r == '/' || r == '<' || r == '>' || r == '&' || r == '"' || r == '\'' || r == unicode.ReplacementChar
	}) {
		return invalidParam("vmName", "holds a control character or one of / < > & \" '")
	}
	return nil
}

func checkDevice(d *Device) *RPCError {
	if d == nil {
		return nil
	}
	for _, e := range []*RPCError{checkID("alias", d.Alias), checkMAC(d.MAC), checkModel(d.Model), checkNetwork(d.Network),
		checkAttrs(&d.PortMirroring, d.SpecParams, &d.Filter, &d.FilterParameters)} {
		if e != nil {
			return e
		}
	}
	return nil
}

// allParams is the union of every verb's params (their JSON names do not
// clash), so that one decode checks any request's fields.
type allParams struct {
	VMID     string    `json:"vmID"`
	VMParams *VMParams `json:"vmParams"`
	Params   *struct {
		VMID    string  `json:"vmId"`
		NIC     *Device `json:"nic"`
		Alias   string  `json:"alias"`
		Network *string `json:"network"`
		MAC     string  `json:"macAddr"`
		Model   string  `json:"nicModel"`
		// VM.updateDevice's profile attributes.
		PortMirroring    *[]string      `json:"portMirroring"`
		SpecParams       *SpecParams    `json:"specParams"`
		Filter           *string        `json:"filter"`
		FilterParameters *[]FilterParam `json:"filterParameters"`
	} `json:"params"`
	Networks map[string]json.RawMessage `json:"networks"`
	Options  *SetupOptions              `json:"options"`
}

// validate checks the form of every field a request carries. Which fields
// a verb needs is the verb's to say (missing); a decode error is left to
// the verb too, which reports it the same way.
func validate(raw json.RawMessage) *RPCError {
	if len(raw) == 0 {
		return nil
	}
	var p allParams
	if err := json.Unmarshal(raw, &p); err != nil {
		return &RPCError{Code: CodeInvalidParams, Message: "Invalid params: " + err.Error()}
	}
	if e := checkID("vmID", p.VMID); e != nil {
		return e
	}
	if vp := p.VMParams; vp != nil {
		if e := checkID("vmId", vp.VMID); e != nil {
			return e
		}
		if e := checkVMName(vp.VMName); e != nil {
			return e
		}
		for i := range vp.Devices {
			if e := checkDevice(&vp.Devices[i]); e != nil {
				return e
			}
		}
	}
	if q := p.Params; q != nil {
		for _, e := range []*RPCError{checkID("params.vmId", q.VMID), checkDevice(q.NIC), checkID("alias", q.Alias),
			checkMAC(q.MAC), checkModel(q.Model), checkAttrs(q.PortMirroring, q.SpecParams, q.Filter, q.FilterParameters)} {
			if e != nil {
				return e
			}
		}
		if q.Network != nil {
			if e := checkNetwork(*q.Network); e != nil {
				return e
			}
		}
	}
	for name := range p.Networks {
		if name == vwire.DummyBridge {
			return invalidParam("network", "is the reserved dummy bridge")
		}
		if e := checkNetwork(name); e != nil || name == "" {
			return invalidParam("network", fmt.Sprintf("%q is not a bridge name", name))
		}
		var spec NetworkSpec
		// A malformed member is the verb's to report (its decode).
		if json.Unmarshal(p.Networks[name], &spec) == nil {
			if e := checkSpec(name, spec); e != nil {
				return e
			}
		}
	}
	if o := p.Options; o != nil && (o.ConnectivityTimeout < 0 || o.ConnectivityTimeout > maxConnectivityTimeout) {
		return invalidParam("options.connectivityTimeout", fmt.Sprintf("is out of range (0..%d seconds)", maxConnectivityTimeout))
	}
	return nil
}

const (
	// maxConnectivityTimeout bounds how long a checked setupNetworks may
	// wait for the engine (VDSM's default is 120 s).
	maxConnectivityTimeout = 3600
	// maxRemotes bounds an overlay's remote hosts (one forwarding entry
	// each, and a copy of every broadcast frame).
	maxRemotes = 1024
)

// checkSpec checks the form of one network of Host.setupNetworks: what
// hostnet would refuse on any host (bounds, addresses); what depends on
// the host (its NICs, its VLAN support) is hostnet's to refuse.
func checkSpec(name string, n NetworkSpec) *RPCError {
	field := func(f string) string { return fmt.Sprintf("networks[%s].%s", name, f) }
	if n.MTU != 0 && (n.MTU < 68 || n.MTU > 65535) {
		return invalidParam(field("mtu"), "is out of range (68..65535)")
	}
	if n.VLAN < 0 || n.VLAN > 4094 {
		return invalidParam(field("vlan"), "is out of range (1..4094)")
	}
	if n.Nic != "" && (len(n.Nic) > maxBridgeLen || !bridgePattern.MatchString(n.Nic) || n.Nic == "." || n.Nic == "..") {
		return invalidParam(field("nic"), "is not a host NIC's name")
	}
	x := n.VXLAN
	if x == nil {
		return nil
	}
	switch {
	case x.VNI < 1 || x.VNI > 1<<24-1:
		return invalidParam(field("vxlan.vni"), "is out of range (1..16777215)")
	case x.Port < 0 || x.Port > 65535:
		return invalidParam(field("vxlan.port"), "is out of range (1..65535)")
	case x.Local != "" && net.ParseIP(x.Local).To4() == nil:
		return invalidParam(field("vxlan.local"), "is not an IPv4 address")
	case len(x.Remotes) > maxRemotes:
		return invalidParam(field("vxlan.remotes"), fmt.Sprintf("has more than %d addresses", maxRemotes))
	}
	for _, r := range x.Remotes {
		if net.ParseIP(r).To4() == nil {
			return invalidParam(field("vxlan.remotes"), fmt.Sprintf("%q is not an IPv4 address", r))
		}
	}
	return nil
}
