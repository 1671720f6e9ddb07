package hostnet

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
)

// The refusals both implementations share: everything is checked, and
// every default filled in, before anything changes, so a refused call
// leaves the host as it was and the simulated host refuses what the real
// one would.

// namePattern is what a network (bridge) name may be: a Linux interface
// name narrowed to the characters oVirt's network names use.
var namePattern = regexp.MustCompile(`^[0-9A-Za-z_][0-9A-Za-z._-]*$`)

// plan is a checked Apply: the networks to realise, normalised (defaults
// filled in, remotes sorted), and the names to remove that exist.
type plan struct {
	apply  []Network
	remove []string
}

// check validates nets and remove against the host's NICs, the networks
// realised (have) and the host's VLAN support, and normalises nets.
func check(nics []NIC, have []Network, noVLAN string, nets []Network, remove []string) (plan, error) {
	byName := map[string]NIC{}
	for _, n := range nics {
		byName[n.Name] = n
	}
	slaveOf := map[string]string{}
	for _, n := range nics {
		for _, s := range n.Slaves {
			slaveOf[s] = n.Name
		}
	}
	var p plan
	seen := map[string]bool{}
	for _, name := range remove {
		if err := checkName(name); err != nil {
			return plan{}, err
		}
		seen[name] = true
		if slices.ContainsFunc(have, func(h Network) bool { return h.Name == name }) {
			p.remove = append(p.remove, name)
		}
	}
	for _, n := range nets {
		if err := checkName(n.Name); err != nil {
			return plan{}, err
		}
		if seen[n.Name] {
			return plan{}, refuse(n.Name, "named twice (to realise and to remove, or twice to realise)")
		}
		seen[n.Name] = true
		nn, err := normalise(n, byName, slaveOf, noVLAN)
		if err != nil {
			return plan{}, err
		}
		p.apply = append(p.apply, nn)
	}
	// The host as it will be: no two networks may share a device.
	final := map[string]Network{}
	for _, h := range have {
		final[h.Name] = h
	}
	for _, name := range p.remove {
		delete(final, name)
	}
	for _, n := range p.apply {
		final[n.Name] = n
	}
	owner := map[string]string{}
	for _, n := range p.apply {
		for _, k := range claims(n) {
			owner[k] = n.Name
		}
	}
	for _, h := range final {
		for _, k := range claims(h) {
			if o, ok := owner[k]; ok && o != h.Name {
				return plan{}, refuse(o, "%s is already used by network %s", strings.TrimPrefix(k, "="), h.Name)
			}
		}
	}
	return p, nil
}

// claims are the host devices a network uses exclusively: a NIC it
// enslaves, a VLAN device, a VXLAN segment (VNI and port: the kernel
// allows one device per segment).
func claims(n Network) []string {
	switch {
	case n.VXLAN != nil:
		return []string{fmt.Sprintf("=VNI %d (port %d)", n.VXLAN.VNI, n.VXLAN.Port)}
	case n.VLAN > 0:
		return []string{"=VLAN device " + VLANDevice(n.NIC, n.VLAN)}
	case n.NIC != "":
		return []string{"=host NIC " + n.NIC}
	}
	return nil
}

func checkName(name string) error {
	switch {
	case name == "":
		return refuse(name, "a network needs a name")
	case len(name) > maxName:
		return refuse(name, "the name is longer than %d bytes (a Linux interface name)", maxName)
	case name == "." || name == ".." || !namePattern.MatchString(name):
		return refuse(name, "the name may hold only letters, digits, '.', '_' and '-'")
	}
	return nil
}

// normalise checks one network and fills in its defaults.
func normalise(n Network, nics map[string]NIC, slaveOf map[string]string, noVLAN string) (Network, error) {
	n = n.Clone()
	if n.MTU != 0 && (n.MTU < MinMTU || n.MTU > MaxMTU) {
		return Network{}, refuse(n.Name, "MTU %d is out of range (%d..%d)", n.MTU, MinMTU, MaxMTU)
	}
	if n.NIC != "" {
		nic, ok := nics[n.NIC]
		if !ok {
			return Network{}, refuse(n.Name, "%s is not a host NIC (host NICs: %s)", n.NIC, nicNames(nics))
		}
		if b, ok := slaveOf[nic.Name]; ok {
			return Network{}, refuse(n.Name, "host NIC %s is a slave of bond %s; use the bond", nic.Name, b)
		}
	}
	switch {
	case n.VLAN < 0 || n.VLAN > 4094:
		return Network{}, refuse(n.Name, "VLAN %d is out of range (1..4094)", n.VLAN)
	case n.VLAN > 0 && n.VXLAN != nil:
		return Network{}, refuse(n.Name, "a network is either on a VLAN or an overlay, not both")
	case n.VLAN > 0 && n.NIC == "":
		return Network{}, refuse(n.Name, "a VLAN network needs a host NIC")
	case n.VLAN > 0 && noVLAN != "":
		return Network{}, refuse(n.Name, "VLAN %d cannot be realised: %s", n.VLAN, noVLAN)
	case n.VLAN > 0 && len(VLANDevice(n.NIC, n.VLAN)) > maxName:
		return Network{}, refuse(n.Name, "the VLAN device name %s is longer than %d bytes", VLANDevice(n.NIC, n.VLAN), maxName)
	case n.VXLAN != nil:
		return normaliseOverlay(n, nics)
	}
	if n.MTU == 0 {
		n.MTU = DefaultMTU
	}
	return n, nil
}

func normaliseOverlay(n Network, nics map[string]NIC) (Network, error) {
	x := n.VXLAN
	if x.VNI < 1 || x.VNI > MaxVNI {
		return Network{}, refuse(n.Name, "VNI %d is out of range (1..%d)", x.VNI, MaxVNI)
	}
	if x.Port == 0 {
		x.Port = VXLANPort
	}
	if x.Port < 1 || x.Port > 65535 {
		return Network{}, refuse(n.Name, "VXLAN port %d is out of range (1..65535)", x.Port)
	}
	if x.Local != "" {
		ip := net.ParseIP(x.Local).To4()
		if ip == nil {
			return Network{}, refuse(n.Name, "VXLAN local address %q is not an IPv4 address", x.Local)
		}
		x.Local = ip.String()
	}
	switch {
	case n.NIC == "" && x.Local == "":
		return Network{}, refuse(n.Name, "an overlay needs a host NIC or a local address for its underlay")
	case n.NIC == "":
		// The underlay is the NIC holding the local address.
		for _, nic := range nics {
			if addrIP(nic.Addr) == x.Local {
				n.NIC = nic.Name
			}
		}
		if n.NIC == "" {
			return Network{}, refuse(n.Name, "no host NIC has the overlay's local address %s", x.Local)
		}
	case x.Local == "":
		if x.Local = addrIP(nics[n.NIC].Addr); x.Local == "" {
			return Network{}, refuse(n.Name, "host NIC %s has no IPv4 address for the overlay's underlay", n.NIC)
		}
	}
	var remotes []string
	for _, r := range x.Remotes {
		ip := net.ParseIP(r).To4()
		if ip == nil {
			return Network{}, refuse(n.Name, "VXLAN remote %q is not an IPv4 address", r)
		}
		// The engine's list of the hosts carrying the network may name
		// this one: replicating to itself is no use.
		if ip.String() != x.Local {
			remotes = append(remotes, ip.String())
		}
	}
	x.Remotes = sortedRemotes(remotes)
	// The underlay carries each frame with 50 bytes more: its MTU is the
	// fabric's, which this host cannot know to be larger, so it is never
	// raised for an overlay (it is for a VLAN, whose frames it carries as
	// they are).
	limit := nics[n.NIC].MTU - VXLANOverhead
	if n.MTU == 0 {
		n.MTU = limit
	}
	if n.MTU > limit {
		return Network{}, refuse(n.Name, "MTU %d is more than %s's MTU %d less VXLAN's %d bytes (at most %d)",
			n.MTU, n.NIC, nics[n.NIC].MTU, VXLANOverhead, limit)
	}
	if n.MTU < MinMTU {
		return Network{}, refuse(n.Name, "host NIC %s's MTU %d leaves no room for an overlay", n.NIC, nics[n.NIC].MTU)
	}
	return n, nil
}

// addrIP is the address of "a.b.c.d/len".
func addrIP(cidr string) string {
	ip, _, err := net.ParseCIDR(cidr)
	if err != nil {
		return ""
	}
	return ip.String()
}

func nicNames(nics map[string]NIC) string {
	var names []string
	for n := range nics {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
