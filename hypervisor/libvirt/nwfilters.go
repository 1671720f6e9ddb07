package libvirt

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"

	golibvirt "github.com/digitalocean/go-libvirt"

	"vwire.dev/vwire/hypervisor"
)

// vwire's network filters, written for vwire: each does what its name says
// (the names are oVirt's catalogue, hypervisor.NWFilterNames), so that a
// host without Debian's libvirt-daemon-config-nwfilter still has them. A
// host that has a filter of that name keeps its own: the agent defines a
// filter only where none of that name exists.
//
// Directions are libvirt's: "out" is what the guest sends, "in" what it
// receives. $MAC is the vNIC's MAC (libvirt fills it in), $IP the guest's
// address (a <parameter> of the vNIC, or learnt by libvirt), and
// $DHCPSERVER, $GATEWAY_MAC parameters the vNIC must give. The rules are
// kept as XML text: they are data for libvirt, which validates them when
// they are defined (at every agent start on a host that lacks them).
var nwfilterXML = map[string]string{
	// The frame's source MAC must be the vNIC's.
	"no-mac-spoofing": `<filter name='no-mac-spoofing' chain='mac' priority='-800'>
  <rule action='drop' direction='out' priority='500'><mac match='no' srcmacaddr='$MAC'/></rule>
</filter>`,
	// An ARP packet's sender MAC must be the vNIC's.
	"no-arp-mac-spoofing": `<filter name='no-arp-mac-spoofing' chain='arp-mac' priority='-520'>
  <rule action='drop' direction='out' priority='350'><arp match='no' arpsrcmacaddr='$MAC'/></rule>
</filter>`,
	// An ARP packet's sender IP must be the guest's.
	"no-arp-ip-spoofing": `<filter name='no-arp-ip-spoofing' chain='arp-ip' priority='-510'>
  <rule action='drop' direction='out' priority='400'><arp match='no' arpsrcipaddr='$IP'/></rule>
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
	"allow-arp": `<filter name='allow-arp' chain='arp' priority='-500'>
  <rule action='accept' direction='inout' priority='500'/>
</filter>`,
	// A DHCP client: requests out to any server, answers in.
	"allow-dhcp": `<filter name='allow-dhcp' chain='ipv4' priority='-700'>
  <rule action='accept' direction='out' priority='100'>
    <ip srcipaddr='0.0.0.0' dstipaddr='255.255.255.255' protocol='udp' srcportstart='68' dstportstart='67'/>
  </rule>
  <rule action='accept' direction='in' priority='100'><ip protocol='udp' srcportstart='67' dstportstart='68'/></rule>
</filter>`,
	// A DHCP client of one server, $DHCPSERVER.
	"allow-dhcp-server": `<filter name='allow-dhcp-server' chain='ipv4' priority='-700'>
  <rule action='accept' direction='out' priority='100'>
    <ip srcipaddr='0.0.0.0' protocol='udp' srcportstart='68' dstportstart='67'/>
  </rule>
  <rule action='accept' direction='in' priority='100'>
    <ip srcipaddr='$DHCPSERVER' protocol='udp' srcportstart='67' dstportstart='68'/>
  </rule>
</filter>`,
	"allow-incoming-ipv4": `<filter name='allow-incoming-ipv4' chain='ipv4' priority='-700'>
  <rule action='accept' direction='in' priority='500'/>
</filter>`,
	"allow-ipv4": `<filter name='allow-ipv4' chain='ipv4' priority='-700'>
  <rule action='accept' direction='inout' priority='500'/>
</filter>`,
	// IPv4 from the guest must come from $IP (DHCP's 0.0.0.0 aside).
	"no-ip-spoofing": `<filter name='no-ip-spoofing' chain='ipv4-ip' priority='-710'>
  <rule action='return' direction='out' priority='100'>
    <ip srcipaddr='0.0.0.0' protocol='udp' srcportstart='68' dstportstart='67'/>
  </rule>
  <rule action='drop' direction='out' priority='500'><ip match='no' srcipaddr='$IP'/></rule>
</filter>`,
	"no-ip-multicast": `<filter name='no-ip-multicast' chain='ipv4' priority='-700'>
  <rule action='drop' direction='out' priority='400'><ip dstipaddr='224.0.0.0' dstipmask='4'/></rule>
</filter>`,
	"no-mac-broadcast": `<filter name='no-mac-broadcast' chain='mac' priority='-800'>
  <rule action='drop' direction='out' priority='500'><mac dstmacaddr='ff:ff:ff:ff:ff:ff'/></rule>
</filter>`,
	// Whatever no earlier rule accepted is dropped (the last word of
	// clean-traffic).
	"no-other-l2-traffic": `<filter name='no-other-l2-traffic' chain='root'>
  <rule action='drop' direction='inout' priority='1000'/>
</filter>`,
	// QEMU's announce-self: a RARP request from the vNIC's MAC, broadcast.
	"qemu-announce-self-rarp": `<filter name='qemu-announce-self-rarp' chain='rarp' priority='-400'>
  <rule action='accept' direction='out' priority='500'>
    <rarp srcmacaddr='$MAC' dstmacaddr='ff:ff:ff:ff:ff:ff' opcode='Request_Reverse'/>
  </rule>
</filter>`,
	"no-other-rarp-traffic": `<filter name='no-other-rarp-traffic' chain='rarp' priority='-400'>
  <rule action='drop' direction='inout' priority='1000'/>
</filter>`,
	"qemu-announce-self": `<filter name='qemu-announce-self' chain='root'>
  <filterref filter='qemu-announce-self-rarp'/>
  <filterref filter='no-other-rarp-traffic'/>
</filter>`,
	// The guest's own MAC and IP, ARP for them, IPv4 in, announcements,
	// and nothing else.
	"clean-traffic": `<filter name='clean-traffic' chain='root'>
  <filterref filter='no-mac-spoofing'/>
  <filterref filter='no-ip-spoofing'/>
  <filterref filter='allow-incoming-ipv4'/>
  <filterref filter='no-arp-spoofing'/>
  <filterref filter='allow-arp'/>
  <filterref filter='allow-dhcp'/>
  <filterref filter='allow-ipv4'/>
  <filterref filter='qemu-announce-self'/>
  <filterref filter='no-other-l2-traffic'/>
</filter>`,
	// clean-traffic, talking IPv4 only through the gateway $GATEWAY_MAC.
	"clean-traffic-gateway": `<filter name='clean-traffic-gateway' chain='root'>
  <filterref filter='clean-traffic'/>
  <rule action='drop' direction='out' priority='-50'><ip match='no' dstmacaddr='$GATEWAY_MAC'/></rule>
  <rule action='drop' direction='in' priority='-50'><ip match='no' srcmacaddr='$GATEWAY_MAC'/></rule>
</filter>`,
}

// nwfilterOrder defines filters before those that refer to them: libvirt
// refuses a reference to a filter it does not know.
var nwfilterOrder = []string{"no-mac-spoofing", "no-arp-mac-spoofing", "no-arp-ip-spoofing", "no-arp-spoofing",
	"vdsm-no-mac-spoofing", "allow-arp", "allow-dhcp", "allow-dhcp-server", "allow-incoming-ipv4", "allow-ipv4",
	"no-ip-spoofing", "no-ip-multicast", "no-mac-broadcast", "no-other-l2-traffic", "qemu-announce-self-rarp",
	"no-other-rarp-traffic", "qemu-announce-self", "clean-traffic", "clean-traffic-gateway"}

// defineNWFilters defines every filter of the catalogue the host lacks.
func defineNWFilters(l *golibvirt.Libvirt) (defined []string, err error) {
	for _, name := range nwfilterOrder {
		if _, err := l.NwfilterLookupByName(name); err == nil {
			continue
		} else if !noFilter(err) {
			return defined, err
		}
		if _, err := l.NwfilterDefineXML(nwfilterXML[name]); err != nil {
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
