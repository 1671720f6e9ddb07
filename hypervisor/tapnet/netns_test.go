package tapnet_test

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// The tests build their own small networks, each in fresh network
// namespaces that vanish with their last handle and socket: a switch
// namespace with a bridge and the "taps" (veth ends), and one namespace per
// endpoint holding the veth's other end with an address in 198.18.0.0/15.

// need fails under CI=true and skips elsewhere when not root.
func need(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("tapnet tests need root under CI=true")
	}
	t.Skip("tapnet tests need root (network namespaces)")
}

// ns is a network namespace with its netlink handle.
type ns struct {
	t *testing.T
	h netns.NsHandle
	l *netlink.Handle
}

// newNS makes a namespace without leaving this goroutine's thread in it.
func newNS(t *testing.T) *ns {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	h, err := netns.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := netns.Set(orig); err != nil {
		t.Fatal(err) // the thread stays locked and dies with the goroutine
	}
	l, err := netlink.NewHandleAt(h)
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); h.Close() })
	n := &ns{t: t, h: h, l: l}
	n.up(n.link("lo"))
	return n
}

// in runs fn with the calling thread in the namespace (sockets made in fn
// stay in it).
func (n *ns) in(fn func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		n.t.Fatal(err)
	}
	defer orig.Close()
	if err := netns.Set(n.h); err != nil {
		n.t.Fatal(err)
	}
	defer netns.Set(orig)
	fn()
}

func (n *ns) link(name string) netlink.Link {
	n.t.Helper()
	l, err := n.l.LinkByName(name)
	if err != nil {
		n.t.Fatalf("link %s: %v", name, err)
	}
	return l
}

func (n *ns) up(l netlink.Link) {
	n.t.Helper()
	if err := n.l.LinkSetUp(l); err != nil {
		n.t.Fatalf("up %s: %v", l.Attrs().Name, err)
	}
}

// bridge adds a bridge (no STP: ports forward at once).
func (n *ns) bridge(name string) netlink.Link {
	n.t.Helper()
	if err := n.l.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
		n.t.Fatalf("add bridge: %v", err)
	}
	l := n.link(name)
	n.up(l)
	return l
}

// endpoint is a host at the far end of a veth: its namespace and address.
type endpoint struct {
	ns  *ns
	ip  net.IP
	dev string // the veth end inside ns
}

// port makes a veth pair: name stays here (on bridge, if any) as a "tap",
// its peer goes to a new namespace with address ip/24.
func (n *ns) port(name, bridge, ip string) *endpoint {
	n.t.Helper()
	far := newNS(n.t)
	// A short queue: a shaper's fifo takes its length from the device, and
	// a measurement must not wait for the backlog of the one before.
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name, TxQLen: 64}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(far.h))}
	if err := n.l.LinkAdd(v); err != nil {
		n.t.Fatalf("add veth %s: %v", name, err)
	}
	l := n.link(name)
	if bridge != "" {
		if err := n.l.LinkSetMaster(l, n.link(bridge)); err != nil {
			n.t.Fatalf("enslave %s: %v", name, err)
		}
	}
	n.up(l)
	peer := far.link("eth0")
	addr, err := netlink.ParseAddr(ip + "/24")
	if err != nil {
		n.t.Fatal(err)
	}
	if err := far.l.AddrAdd(peer, addr); err != nil {
		n.t.Fatalf("address %s: %v", ip, err)
	}
	far.up(peer)
	return &endpoint{ns: far, ip: net.ParseIP(ip), dev: "eth0"}
}

// rxPackets reads the packets the endpoint's device received.
func (e *endpoint) rxPackets() uint64 {
	l := e.ns.link(e.dev)
	return l.Attrs().Statistics.RxPackets
}

// udpTo opens a UDP socket in e's namespace towards to:port.
func (e *endpoint) udpTo(to *endpoint, port int) *net.UDPConn {
	var c *net.UDPConn
	var err error
	e.ns.in(func() { c, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: to.ip, Port: port}) })
	if err != nil {
		e.ns.t.Fatal(err)
	}
	e.ns.t.Cleanup(func() { c.Close() })
	return c
}

// listen opens a UDP socket in e's namespace on port.
func (e *endpoint) listen(port int) *net.UDPConn {
	var c *net.UDPConn
	var err error
	e.ns.in(func() { c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: e.ip, Port: port}) })
	if err != nil {
		e.ns.t.Fatal(err)
	}
	e.ns.t.Cleanup(func() { c.Close() })
	return c
}

// send sends n small datagrams from e to to, then waits a moment for
// them (and their copies) to arrive.
func (e *endpoint) send(to *endpoint, n int) {
	// Unconnected: the port unreachable answers must not fail the writes.
	var c *net.UDPConn
	var err error
	e.ns.in(func() { c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: e.ip}) })
	if err != nil {
		e.ns.t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < n; i++ {
		if _, err := c.WriteTo([]byte(fmt.Sprintf("frame %d", i)), &net.UDPAddr{IP: to.ip, Port: 9}); err != nil {
			e.ns.t.Fatalf("send: %v", err)
		}
	}
	time.Sleep(50 * time.Millisecond)
}

// waitFor polls cond for up to 3 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
