package libvirt_test

import (
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/google/uuid"

	"vwire.dev/vwire/hypervisor/internal/netnstest"
)

// TestNoMACSpoofingDropsForeignFrames proves vwire's default filter with
// real frames: vdsm-no-mac-spoofing, bound by libvirt's nwfilter to a
// bridge port (a veth standing in for a guest's tap, through the same
// nwfilter binding libvirt makes for a domain's interface), drops frames
// and ARP whose source is not the port's MAC and lets the port's own
// through; without the binding the foreign frames pass.
func TestNoMACSpoofingDropsForeignFrames(t *testing.T) {
	newHypervisor(t) // defines the filters where missing
	root := netnstest.Root(t)
	suffix := strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	br := root.Bridge("vwf" + suffix)
	guest := root.Port("vwg"+suffix, br.Attrs().Name, "198.18.6.1")
	other := root.Port("vwo"+suffix, br.Attrs().Name, "198.18.6.2")
	own := guest.MAC()
	foreign := net.HardwareAddr{0x02, 0x00, 0x00, 0xdd, 0x00, 0x99}

	u, _ := url.Parse(string(golibvirt.QEMUSystem))
	l, err := golibvirt.ConnectToURI(u)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Disconnect()
	binding, err := l.NwfilterBindingCreateXML(fmt.Sprintf(`<filterbinding>
  <owner><name>vwt-%s</name><uuid>%s</uuid></owner>
  <portdev name='vwg%s'/>
  <mac address='%s'/>
  <filterref filter='vdsm-no-mac-spoofing'/>
</filterbinding>`, suffix, uuid.NewString(), suffix, own), 0)
	if err != nil {
		t.Fatalf("bind vdsm-no-mac-spoofing to the port: %v", err)
	}
	bound := true
	defer func() {
		if bound {
			l.NwfilterBindingDelete(binding)
		}
	}()

	heard := func(frame []byte) uint64 {
		before := other.RxPackets()
		guest.SendFrames(frame, 100)
		return other.RxPackets() - before
	}
	const experimental = 0x88b5 // IEEE's local experimental EtherType
	payload := []byte("vwire spoofing test")
	ownFrame := netnstest.EthFrame(netnstest.Broadcast, own, experimental, payload)
	spoofed := netnstest.EthFrame(netnstest.Broadcast, foreign, experimental, payload)
	ownARP := netnstest.ARPRequest(own, own, guest.IP, other.IP)
	spoofedARP := netnstest.ARPRequest(own, foreign, guest.IP, other.IP)

	// A few frames of the guest's own IPv6 start-up may cross too.
	if n := heard(ownFrame); n < 100 {
		t.Errorf("frames from the port's own MAC: %d of 100 heard", n)
	}
	if n := heard(spoofed); n > 10 {
		t.Errorf("frames from a foreign MAC: %d of 100 heard, want none", n)
	}
	if n := heard(ownARP); n < 100 {
		t.Errorf("ARP from the port's own MAC: %d of 100 heard", n)
	}
	if n := heard(spoofedARP); n > 10 {
		t.Errorf("ARP with a foreign sender MAC: %d of 100 heard, want none", n)
	}
	if t.Failed() {
		out, _ := exec.Command("ebtables", "-t", "nat", "-L", "--Lc").CombinedOutput()
		t.Logf("ebtables rules and counters:\n%s", out)
	}

	if err := l.NwfilterBindingDelete(binding); err != nil {
		t.Fatal(err)
	}
	bound = false
	if n := heard(spoofed); n < 100 {
		t.Errorf("without the filter, frames from a foreign MAC: %d of 100 heard (the filter was not what dropped them)", n)
	}
}
