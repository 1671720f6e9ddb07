package vwire

import (
	"net"
	"slices"
	"strconv"
	"strings"
)

// Limits every entry point agrees on (REST, OVF import, the engine's rules),
// kept here so that one change moves them all.

// MaxVMNICs is the most vNICs a VM or template may have: the engine's PCI
// device limit (maxPCIDevices in engine/nics.go, oVirt's osinfo default of
// 26) less the monitor and the balloon that share the bus.
const MaxVMNICs = 24

// A VM's memory in bytes. The minimum is one MiB because hosts take memory
// in MiB (a smaller value would start a VM with none); the maximum is far
// beyond any host vwire drives, and keeps every MiB↔byte↔KiB conversion
// (OVF, libvirt) well inside int64.
const (
	MinMemory int64 = 1 << 20
	MaxMemory int64 = 16 << 40
)

// MaxVCPUs bounds a VM's virtual CPUs: what QEMU's "pc" machine, the one
// the agent defines, accepts.
const MaxVCPUs = 255

// ValidateCPU checks a VM's or template's CPU topology.
func ValidateCPU(op Op, c CPUTopology) error {
	if c.Sockets < 1 || c.Cores < 1 || c.Threads < 1 || c.Sockets > MaxVCPUs || c.Cores > MaxVCPUs ||
		c.Threads > MaxVCPUs || c.VCPUs() > MaxVCPUs {
		return Fail(op, MsgVMCPUOutOfRange, "max", strconv.Itoa(MaxVCPUs))
	}
	return nil
}

// ValidateMemory checks a VM's or template's memory size in bytes.
func ValidateMemory(op Op, bytes int64) error {
	if bytes < MinMemory || bytes > MaxMemory {
		return Fail(op, MsgVMMemoryOutOfRange, "min", strconv.FormatInt(MinMemory>>20, 10), "max", strconv.FormatInt(MaxMemory>>20, 10))
	}
	return nil
}

// ValidateMacRanges checks a MAC pool's ranges: each must be ascending, stay
// within one first octet, hold only unicast addresses and not the zero MAC
// (which no NIC may carry), and no two may overlap, or the allocator would
// hand one MAC out twice.
func ValidateMACRanges(op Op, ranges []MACRange) error {
	for _, r := range ranges {
		why := ""
		switch {
		case r.To < r.From:
			why = "the end is before the start"
		case r.From == 0:
			why = "00:00:00:00:00:00 is not a usable address"
		case r.From.Multicast() || r.To.Multicast():
			why = "multicast and broadcast addresses cannot be assigned"
		case r.From>>40 != r.To>>40:
			why = "a range must not cross the first octet"
		}
		if why != "" {
			return Fail(op, MsgMACPoolInvalidRange, "from", r.From.String(), "to", r.To.String(), "why", why)
		}
	}
	sorted := slices.Clone(ranges)
	slices.SortFunc(sorted, func(a, b MACRange) int {
		if a.From != b.From {
			return cmpMAC(a.From, b.From)
		}
		return cmpMAC(a.To, b.To)
	})
	for i := 1; i < len(sorted); i++ {
		if a, b := sorted[i-1], sorted[i]; b.From <= a.To {
			return Fail(op, MsgMACPoolRangesOverlap,
				"first", a.From.String()+"-"+a.To.String(), "second", b.From.String()+"-"+b.To.String())
		}
	}
	return nil
}

func cmpMAC(a, b MAC) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ValidateAgentAddress checks where a host's agent listens: an IP address
// or a DNS name (RFC 1123 labels), and a TCP port.
func ValidateAgentAddress(address string, port int) error {
	if port < 1 || port > 65535 || !validHostAddress(address) {
		return InvalidValue(MsgInvalidValue, "Host address "+strconv.Quote(address)+" and port "+strconv.Itoa(port)+
			" do not form a valid agent address: give an IP address or a DNS name, and a port between 1 and 65535.")
	}
	return nil
}

func validHostAddress(s string) bool {
	if net.ParseIP(s) != nil {
		return true
	}
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
