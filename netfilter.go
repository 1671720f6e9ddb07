package vwire

import (
	"crypto/md5"
	"encoding/hex"
	"regexp"
	"strings"
)

// NWFilter is one of the traffic filters a vNIC profile may name
// (libvirt's nwfilters, oVirt's network_filter table): vwire offers
// libvirt's standard filters and oVirt's vdsm-no-mac-spoofing, with oVirt's
// version of each.
type NWFilter struct {
	Name         string
	Major, Minor int
}

// DefaultNWFilter is the filter oVirt gives a new vNIC profile.
const DefaultNWFilter = "vdsm-no-mac-spoofing"

// NWFilters is the catalogue, by name.
var NWFilters = func() []NWFilter {
	names := []string{"allow-arp", "allow-dhcp", "allow-dhcp-server", "allow-incoming-ipv4", "allow-ipv4",
		"clean-traffic", "clean-traffic-gateway", "no-arp-ip-spoofing", "no-arp-mac-spoofing", "no-arp-spoofing",
		"no-ip-multicast", "no-ip-spoofing", "no-mac-broadcast", "no-mac-spoofing", "no-other-l2-traffic",
		"no-other-rarp-traffic", "qemu-announce-self", "qemu-announce-self-rarp", DefaultNWFilter}
	out := make([]NWFilter, len(names))
	for i, n := range names {
		out[i] = NWFilter{Name: n, Major: 4, Minor: 0}
	}
	return out
}()

// ID is the filter's id: the name-based UUID of its name (as Java's
// UUID.nameUUIDFromBytes makes it), the same on every engine.
func (f NWFilter) ID() string { return NameUUID(f.Name) }

// NWFilterByID finds a filter of the catalogue.
func NWFilterByID(id string) (NWFilter, bool) {
	for _, f := range NWFilters {
		if f.ID() == strings.ToLower(id) {
			return f, true
		}
	}
	return NWFilter{}, false
}

// NWFilterByName finds a filter of the catalogue.
func NWFilterByName(name string) (NWFilter, bool) {
	for _, f := range NWFilters {
		if f.Name == name {
			return f, true
		}
	}
	return NWFilter{}, false
}

// NameUUID is Java's UUID.nameUUIDFromBytes of name (MD5, version 3): the
// ids oVirt derives from names (statistics, filters).
func NameUUID(name string) string {
	sum := md5.Sum([]byte(name))
	sum[6] = sum[6]&0x0f | 0x30
	sum[8] = sum[8]&0x3f | 0x80
	h := hex.EncodeToString(sum[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// FilterParam is a filter parameter as the host sees it: name and value.
type FilterParam struct {
	Name, Value string
}

// FilterParameter is a variable of a vNIC's network filter (libvirt's
// <parameter name='IP' value='…'/>), stored with the vNIC.
type FilterParameter struct {
	ID    string
	NICID string
	Name  string
	Value string
}

var (
	filterParamName  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)
	filterParamValue = regexp.MustCompile(`^[A-Za-z0-9.:_/-]{1,256}$`)
)

// ValidateFilterParameter checks a parameter as libvirt's nwfilter reads
// it: a variable name of letters, digits and underscores, and a value (an
// address, a port, a range) without spaces, quotes or markup.
func ValidateFilterParameter(op Op, p *FilterParameter) error {
	if !filterParamName.MatchString(p.Name) || !filterParamValue.MatchString(p.Value) {
		return Fail(op, MsgBadFilterParameter)
	}
	return nil
}
