package libvirt

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/google/uuid"
	"libvirt.org/go/libvirtxml"

	"vwire.dev/vwire/hypervisor"
)

// vwire's network filters, written for vwire: each does what its name says
// (the names are oVirt's catalogue, hypervisor.NWFilterNames), so that a
// host without Debian's libvirt-daemon-config-nwfilter still has them.
//
// Directions are libvirt's: "out" is what the guest sends, "in" what it
// receives. $MAC is the vNIC's MAC (libvirt fills it in), $IP the guest's
// address (a <parameter> of the vNIC, or learnt by libvirt), and
// $DHCPSERVER, $GATEWAY_MAC parameters the vNIC must give.
//
// Every rule is in the root chain, ordered by priority: spoofing drops
// first (negated matches), then what is accepted, then catch-all drops.
// Sub-chains are avoided on purpose: with ebtables-nft (Debian 12's) a
// frame that falls off the end of a libvirt sub-chain is accepted, not
// returned, so a check in a later chain never sees it (measured: with the
// MAC check in chain 'mac' and the ARP check in 'arp-mac', ARP from a
// foreign sender MAC passed; TestNoMACSpoofingDropsForeignFrames).
//
// The rules are kept as XML text: they are data for libvirt, which
// validates them when they are defined.
var nwfilterXML = map[string]string{
	// The frame's source MAC must be the vNIC's.
	"no-mac-spoofing": `<filter name='no-mac-spoofing' chain='root'>
  <rule action='drop' direction='out' priority='-500'><mac match='no' srcmacaddr='$MAC'/></rule>
</filter>`,
	// An ARP packet's sender MAC must be the vNIC's.
	"no-arp-mac-spoofing": `<filter name='no-arp-mac-spoofing' chain='root'>
  <rule action='drop' direction='out' priority='-450'><arp match='no' arpsrcmacaddr='$MAC'/></rule>
</filter>`,
	// An ARP packet's sender IP must be the guest's.
	"no-arp-ip-spoofing": `<filter name='no-arp-ip-spoofing' chain='root'>
  <rule action='drop' direction='out' priority='-440'><arp match='no' arpsrcipaddr='$IP'/></rule>
</filter>`,
	"no-arp-spoofing": `<filter name='no-arp-spoofing' chain='root'>
  <filterref filter='no-arp-mac-spoofing'/>
  <filterref filter='no-arp-ip-spoofing'/>
</filter>`,
	// VDSM's default: neither frames nor ARP from another MAC.
	"vdsm-no-mac-spoofing": `<filter name='vdsm-no-mac-spoofing' chain='root'>
  <filterref filter='no-mac-spoofing'/>
  <filterref filter='no-arp-mac-spoofing'/>
</filter>`,
	// IPv4 from the guest must come from $IP; a DHCP request from
	// 0.0.0.0 is let through first.
	"no-ip-spoofing": `<filter name='no-ip-spoofing' chain='root'>
  <rule action='accept' direction='out' priority='-420'>
    <ip srcipaddr='0.0.0.0' dstipaddr='255.255.255.255' protocol='udp' srcportstart='68' dstportstart='67'/>
  </rule>
  <rule action='drop' direction='out' priority='-410'><ip match='no' srcipaddr='$IP'/></rule>
</filter>`,
	"no-ip-multicast": `<filter name='no-ip-multicast' chain='root'>
  <rule action='drop' direction='out' priority='-400'><ip dstipaddr='224.0.0.0' dstipmask='4'/></rule>
</filter>`,
	"no-mac-broadcast": `<filter name='no-mac-broadcast' chain='root'>
  <rule action='drop' direction='out' priority='-400'><mac dstmacaddr='ff:ff:ff:ff:ff:ff'/></rule>
</filter>`,
	"allow-arp": `<filter name='allow-arp' chain='root'>
  <rule action='accept' direction='inout' priority='500'><arp/></rule>
</filter>`,
	// A DHCP client: requests out to any server, answers in.
	"allow-dhcp": `<filter name='allow-dhcp' chain='root'>
  <rule action='accept' direction='out' priority='100'>
    <ip srcipaddr='0.0.0.0' dstipaddr='255.255.255.255' protocol='udp' srcportstart='68' dstportstart='67'/>
  </rule>
  <rule action='accept' direction='in' priority='100'><ip protocol='udp' srcportstart='67' dstportstart='68'/></rule>
</filter>`,
	// A DHCP client of one server, $DHCPSERVER.
	"allow-dhcp-server": `<filter name='allow-dhcp-server' chain='root'>
  <rule action='accept' direction='out' priority='100'>
    <ip srcipaddr='0.0.0.0' protocol='udp' srcportstart='68' dstportstart='67'/>
  </rule>
  <rule action='accept' direction='in' priority='100'>
    <ip srcipaddr='$DHCPSERVER' protocol='udp' srcportstart='67' dstportstart='68'/>
  </rule>
</filter>`,
	"allow-incoming-ipv4": `<filter name='allow-incoming-ipv4' chain='root'>
  <rule action='accept' direction='in' priority='500'><ip/></rule>
</filter>`,
	"allow-ipv4": `<filter name='allow-ipv4' chain='root'>
  <rule action='accept' direction='inout' priority='500'><ip/></rule>
</filter>`,
	// Whatever no earlier rule accepted is dropped (the last word of
	// clean-traffic).
	"no-other-l2-traffic": `<filter name='no-other-l2-traffic' chain='root'>
  <rule action='drop' direction='inout' priority='1000'/>
</filter>`,
	// QEMU's announce-self: a RARP request from the vNIC's MAC, broadcast.
	"qemu-announce-self-rarp": `<filter name='qemu-announce-self-rarp' chain='root'>
  <rule action='accept' direction='out' priority='500'>
    <rarp srcmacaddr='$MAC' dstmacaddr='ff:ff:ff:ff:ff:ff' opcode='Request_Reverse'/>
  </rule>
</filter>`,
	"no-other-rarp-traffic": `<filter name='no-other-rarp-traffic' chain='root'>
  <rule action='drop' direction='inout' priority='510'><rarp/></rule>
</filter>`,
	"qemu-announce-self": `<filter name='qemu-announce-self' chain='root'>
  <filterref filter='qemu-announce-self-rarp'/>
  <filterref filter='no-other-rarp-traffic'/>
</filter>`,
	// The guest's own MAC and IP, ARP and IPv4, announcements, and
	// nothing else.
	"clean-traffic": `<filter name='clean-traffic' chain='root'>
  <filterref filter='no-mac-spoofing'/>
  <filterref filter='no-ip-spoofing'/>
  <filterref filter='no-arp-spoofing'/>
  <filterref filter='allow-arp'/>
  <filterref filter='allow-ipv4'/>
  <filterref filter='qemu-announce-self'/>
  <filterref filter='no-other-l2-traffic'/>
</filter>`,
	// clean-traffic, talking IPv4 only through the gateway $GATEWAY_MAC.
	"clean-traffic-gateway": `<filter name='clean-traffic-gateway' chain='root'>
  <filterref filter='clean-traffic'/>
  <rule action='drop' direction='out' priority='-300'><ip match='no' dstmacaddr='$GATEWAY_MAC'/></rule>
  <rule action='drop' direction='in' priority='-300'><ip match='no' srcmacaddr='$GATEWAY_MAC'/></rule>
</filter>`,
}

// nwfilterOrder defines filters before those that refer to them: libvirt
// refuses a reference to a filter it does not know.
var nwfilterOrder = []string{"no-mac-spoofing", "no-arp-mac-spoofing", "no-arp-ip-spoofing", "no-arp-spoofing",
	"vdsm-no-mac-spoofing", "no-ip-spoofing", "no-ip-multicast", "no-mac-broadcast", "allow-arp", "allow-dhcp",
	"allow-dhcp-server", "allow-incoming-ipv4", "allow-ipv4", "no-other-l2-traffic", "qemu-announce-self-rarp",
	"no-other-rarp-traffic", "qemu-announce-self", "clean-traffic", "clean-traffic-gateway"}

// nwfilterNS makes the UUIDs of vwire's filters: the same on every host,
// so that a filter vwire defined is told apart from the host's own.
var nwfilterNS = uuid.MustParse("6f1c9b52-3d0e-4c59-9a53-7677697265ff")

func nwfilterUUID(name string) string {
	return uuid.NewSHA1(nwfilterNS, []byte("nwfilter/"+name)).String()
}

// nwfilterDef is a filter's definition with vwire's UUID.
func nwfilterDef(name string) (string, error) {
	var f libvirtxml.NWFilter
	if err := f.Unmarshal(nwfilterXML[name]); err != nil {
		return "", fmt.Errorf("network filter %s: %w", name, err)
	}
	f.UUID = nwfilterUUID(name)
	return f.Marshal()
}

// sameNWFilter compares two definitions as libvirtxml reads them.
func sameNWFilter(a, b string) bool {
	var fa, fb libvirtxml.NWFilter
	if fa.Unmarshal(a) != nil || fb.Unmarshal(b) != nil {
		return false
	}
	ma, erra := fa.Marshal()
	mb, errb := fb.Marshal()
	return erra == nil && errb == nil && ma == mb
}

// defineNWFilters defines every filter of the catalogue the host lacks,
// and updates in place those an older vwire defined (its UUID) whose rules
// changed since; libvirt re-applies them to the devices using them. A
// filter of that name that is not vwire's is the host's and stays.
func defineNWFilters(l *golibvirt.Libvirt) (defined []string, err error) {
	for _, name := range nwfilterOrder {
		want, err := nwfilterDef(name)
		if err != nil {
			return defined, err
		}
		have, err := l.NwfilterLookupByName(name)
		switch {
		case err == nil && uuid.UUID(have.UUID).String() != nwfilterUUID(name):
			continue // the host's own filter of that name
		case err == nil:
			cur, err := l.NwfilterGetXMLDesc(have, 0)
			if err != nil {
				return defined, err
			}
			if sameNWFilter(cur, want) {
				continue
			}
		case !noFilter(err):
			return defined, err
		}
		if _, err := l.NwfilterDefineXML(want); err != nil {
			return defined, fmt.Errorf("define network filter %s: %w", name, err)
		}
		defined = append(defined, name)
	}
	return defined, nil
}

func noFilter(err error) bool {
	var le golibvirt.Error
	return errors.As(err, &le) && le.Code == uint32(golibvirt.ErrNoNwfilter)
}

// filterBinaries are what libvirt's nwfilter driver runs to instantiate a
// filter (ebtables for the layer-2 rules, iptables for the rest).
var filterBinaries = []string{"ebtables", "iptables"}

// lookPath finds a binary (tests replace it).
var lookPath = exec.LookPath

// missingFilterBinaries names the binaries libvirt's nwfilter driver needs
// that this host lacks ("" none). libvirtd looks them up in the same
// system directories, so the agent's view is the daemon's.
func missingFilterBinaries() string {
	var missing []string
	for _, b := range filterBinaries {
		if _, err := lookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	return strings.Join(missing, " and ")
}

// checkFilters refuses devices with a filter on a host that cannot apply
// filters; libvirt would fail deep inside instantiation otherwise.
func (h *Hypervisor) checkFilters(nics ...hypervisor.NIC) error {
	if h.filterMissing == "" {
		return nil
	}
	for _, n := range nics {
		if n.Filter != "" {
			return hypervisor.Errorf(hypervisor.ErrConfigUnsupported,
				"unsupported configuration: network filter '%s' of %s cannot be applied: this host lacks %s, which libvirt's network filters need (install the ebtables and iptables packages)",
				n.Filter, n.Alias, h.filterMissing)
		}
	}
	return nil
}
