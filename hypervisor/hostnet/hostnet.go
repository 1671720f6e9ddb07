// Package hostnet is the host's networking as the agent owns it (issue
// 16): the host NICs it may build on, and the networks it realises, each a
// Linux bridge named after the network with the network's MTU, whose uplink
// is a host NIC itself, an 802.1Q VLAN device <nic>.<vlan> on one, or a
// VXLAN device (an overlay: head-end replication to a list of remote
// hosts, no multicast) whose underlay is one.
//
// Two implementations share one model and one set of refusals (check.go):
// Linux, through netlink in a network namespace of the caller's choice, and
// Sim, in memory, for the simulated hypervisor and the embedded host.
//
// What counts as a host NIC (Linux): every link that is a physical device
// (no link kind), a bond or a veth (the stand-in for a NIC in namespaces),
// except lo and what vwire made; with LinuxOptions.NICs set, exactly those
// names. Bridges, taps, VLAN, VXLAN, macvlan, ifb and the like never are.
package hostnet

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Host is the host's networking as the agent owns it.
type Host interface {
	// NICs are the host NICs and bonds networks may be built on.
	NICs(ctx context.Context) ([]NIC, error)
	// Networks are the networks vwire realised on the host, as they are.
	Networks(ctx context.Context) ([]Network, error)
	// Apply realises nets (creates them, or brings them in line: only the
	// device under a network's bridge is re-created, so the bridge and its
	// ports, the taps of running VMs, stay) and removes the networks named
	// in remove (the bridge and what vwire made under it, never a host
	// NIC). It checks everything first: a refused network (*RefusedError)
	// changes nothing. Applying what is already there changes nothing.
	Apply(ctx context.Context, nets []Network, remove []string) error
	// NoVLAN says why this host cannot make 802.1Q VLAN devices ("" when
	// it can); a network with a VLAN is refused with that reason.
	NoVLAN(ctx context.Context) string
}

// NIC is a host NIC or bond.
type NIC struct {
	Name   string
	MAC    string
	MTU    int
	Speed  int // Mbit/s, 0 unknown
	Up     bool
	Bond   bool
	Slaves []string
	Addr   string // first IPv4 address with prefix, "" none
}

// Network is a network on the host, wanted or as it is. MTU 0 is 1500, or
// for an overlay the underlay NIC's MTU less VXLAN's 50 bytes of headers.
type Network struct {
	Name  string
	MTU   int
	NIC   string // "": a bridge with no uplink (an overlay: the NIC holding VXLAN.Local)
	VLAN  int    // 0: none
	VXLAN *VXLAN
}

// VXLAN is an overlay's segment. Local "" is the underlay NIC's first IPv4
// address; Port 0 is 4789 (IANA's).
type VXLAN struct {
	VNI     int
	Local   string
	Remotes []string
	Port    int
}

const (
	// DefaultMTU is a network's MTU when it gives none.
	DefaultMTU = 1500
	// VXLANOverhead is what VXLAN adds on the underlay (IPv4): outer
	// Ethernet 14, IP 20, UDP 8, VXLAN 8.
	VXLANOverhead = 50
	// VXLANPort is IANA's VXLAN port.
	VXLANPort = 4789
	// MaxVNI is the largest 24-bit VNI.
	MaxVNI = 1<<24 - 1
	// MinMTU and MaxMTU are the kernel's bounds of an Ethernet MTU.
	MinMTU = 68
	MaxMTU = 65535
	// maxName is IFNAMSIZ - 1.
	maxName = 15
)

// RefusedError is a network the host will not realise as asked, and why.
type RefusedError struct {
	Network string
	Reason  string
}

func (e *RefusedError) Error() string { return fmt.Sprintf("network %s: %s", e.Network, e.Reason) }

func refuse(net, format string, a ...any) error {
	return &RefusedError{Network: net, Reason: fmt.Sprintf(format, a...)}
}

// VLANDevice is the name of a network's VLAN device.
func VLANDevice(nic string, vlan int) string { return fmt.Sprintf("%s.%d", nic, vlan) }

// VXLANDevice is the name of a network's VXLAN device: "vx-" and the
// network's name, shortened with a hash of the whole name to fit 15 bytes.
func VXLANDevice(network string) string {
	if n := "vx-" + network; len(n) <= maxName {
		return n
	}
	var h uint32 = 2166136261 // FNV-1a: stable across runs and versions
	for i := 0; i < len(network); i++ {
		h ^= uint32(network[i])
		h *= 16777619
	}
	return fmt.Sprintf("vx-%s-%04x", network[:7], h&0xffff)
}

// Equal tells whether two networks are the same once normalised.
func (n Network) Equal(o Network) bool {
	if n.Name != o.Name || n.MTU != o.MTU || n.NIC != o.NIC || n.VLAN != o.VLAN || (n.VXLAN == nil) != (o.VXLAN == nil) {
		return false
	}
	if n.VXLAN == nil {
		return true
	}
	a, b := n.VXLAN, o.VXLAN
	return a.VNI == b.VNI && a.Local == b.Local && a.Port == b.Port && slices.Equal(sortedRemotes(a.Remotes), sortedRemotes(b.Remotes))
}

// sameUplink tells whether two normalised networks have the same device
// under their bridge (remotes and MTU aside, which change in place).
func sameUplink(a, b Network) bool {
	if a.NIC != b.NIC || a.VLAN != b.VLAN || (a.VXLAN == nil) != (b.VXLAN == nil) {
		return false
	}
	return a.VXLAN == nil || (a.VXLAN.VNI == b.VXLAN.VNI && a.VXLAN.Local == b.VXLAN.Local && a.VXLAN.Port == b.VXLAN.Port)
}

func sortedRemotes(rs []string) []string {
	out := slices.Clone(rs)
	slices.Sort(out)
	return slices.Compact(out)
}

// Clone copies a network deeply (its VXLAN and remotes).
func (n Network) Clone() Network {
	if n.VXLAN != nil {
		x := *n.VXLAN
		x.Remotes = slices.Clone(x.Remotes)
		n.VXLAN = &x
	}
	return n
}

// String is the network in words, for logs and refusals.
func (n Network) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s mtu %d", n.Name, n.MTU)
	switch {
	case n.VXLAN != nil:
		fmt.Fprintf(&b, " vxlan %d local %s port %d remotes %v", n.VXLAN.VNI, n.VXLAN.Local, n.VXLAN.Port, n.VXLAN.Remotes)
		if n.NIC != "" {
			fmt.Fprintf(&b, " over %s", n.NIC)
		}
	case n.VLAN > 0:
		fmt.Fprintf(&b, " on %s", VLANDevice(n.NIC, n.VLAN))
	case n.NIC != "":
		fmt.Fprintf(&b, " on %s", n.NIC)
	}
	return b.String()
}
