package hypervisor

// NWFilterNames are the network filters vwire offers (oVirt's catalogue:
// libvirt's standard filters and VDSM's vdsm-no-mac-spoofing). The libvirt
// backend defines each on its host where the host lacks it, and the
// simulator knows exactly these. The list mirrors vwire.NWFilters (the
// hypervisor layer does not import vwire); a test keeps them equal.
var NWFilterNames = []string{"allow-arp", "allow-dhcp", "allow-dhcp-server", "allow-incoming-ipv4", "allow-ipv4",
	"clean-traffic", "clean-traffic-gateway", "no-arp-ip-spoofing", "no-arp-mac-spoofing", "no-arp-spoofing",
	"no-ip-multicast", "no-ip-spoofing", "no-mac-broadcast", "no-mac-spoofing", "no-other-l2-traffic",
	"no-other-rarp-traffic", "qemu-announce-self", "qemu-announce-self-rarp", "vdsm-no-mac-spoofing"}

// FilterMissing is libvirt's refusal of a device whose <filterref> names a
// filter the host does not have, at domain start and at hot plug.
func FilterMissing(name string) *Error {
	return Errorf(ErrInternal, "internal error: referenced filter '%s' is missing", name)
}

// FilterRulesFailed is libvirt's refusal of a live update to a filter it
// cannot instantiate on the device's tap (an unknown filter among them);
// the old rules stay.
func FilterRulesFailed(tap string) *Error {
	return Errorf(ErrOperationFailed, "operation failed: failed to add new filter rules to '%s' - attempting to restore old rules", tap)
}
