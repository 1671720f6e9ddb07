// Package netnstest builds small networks in fresh network namespaces for
// the hypervisor layer's tests: a switch namespace with a bridge and
// "taps" (veth ends), and one namespace per endpoint holding the veth's
// other end with an address in 198.18.0.0/15. Namespaces vanish with their
// last handle and socket, so a failed test leaves nothing behind.
package netnstest

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Need fails under CI=true and skips elsewhere when not root.
func Need(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("tapnet tests need root under CI=true")
	}
	t.Skip("tapnet tests need root (network namespaces)")
}

// NS is a network namespace with its netlink handle.
type NS struct {
	t *testing.T
	H netns.NsHandle
	L *netlink.Handle
	// root: the test's own namespace, where what is made must be deleted.
	root bool
}

// Root is the test's own namespace (the host's, where libvirt's filters
// apply); the bridges and ports made in it are deleted at cleanup.
func Root(t *testing.T) *NS {
	t.Helper()
	h, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	l, err := netlink.NewHandle()
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); h.Close() })
	return &NS{t: t, H: h, L: l, root: true}
}

// made deletes a link at cleanup when it is in the root namespace.
func (n *NS) made(l netlink.Link) {
	if n.root {
		n.t.Cleanup(func() { n.L.LinkDel(l) })
	}
}

// NewNS makes a namespace without leaving this goroutine's thread in it.
func NewNS(t *testing.T) *NS {
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
	n := &NS{t: t, H: h, L: l}
	n.Up(n.Link("lo"))
	return n
}

// In runs fn with the calling thread in the namespace (sockets made in fn
// stay in it).
func (n *NS) In(fn func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		n.t.Fatal(err)
	}
	defer orig.Close()
	if err := netns.Set(n.H); err != nil {
		n.t.Fatal(err)
	}
	defer netns.Set(orig)
	fn()
}

func (n *NS) Link(name string) netlink.Link {
	n.t.Helper()
	l, err := n.L.LinkByName(name)
	if err != nil {
		n.t.Fatalf("link %s: %v", name, err)
	}
	return l
}

func (n *NS) Up(l netlink.Link) {
	n.t.Helper()
	if err := n.L.LinkSetUp(l); err != nil {
		n.t.Fatalf("up %s: %v", l.Attrs().Name, err)
	}
}

// Bridge adds a bridge (no STP: ports forward at once).
func (n *NS) Bridge(name string) netlink.Link {
	n.t.Helper()
	if err := n.L.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
		n.t.Fatalf("add bridge: %v", err)
	}
	l := n.Link(name)
	n.made(l)
	n.Up(l)
	return l
}

// Endpoint is a host at the far end of a veth: its namespace and address.
type Endpoint struct {
	NS  *NS
	IP  net.IP
	Dev string // the veth end inside ns
}

// Port makes a veth pair: name stays here (on bridge, if any) as a "tap",
// its peer goes to a new namespace with address ip/24.
func (n *NS) Port(name, bridge, ip string) *Endpoint {
	n.t.Helper()
	far := NewNS(n.t)
	// A short queue: a shaper's fifo takes its length from the device, and
	// a measurement must not wait for the backlog of the one before.
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name, TxQLen: 64}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(far.H))}
	if err := n.L.LinkAdd(v); err != nil {
		n.t.Fatalf("add veth %s: %v", name, err)
	}
	l := n.Link(name)
	n.made(l)
	if bridge != "" {
		if err := n.L.LinkSetMaster(l, n.Link(bridge)); err != nil {
			n.t.Fatalf("enslave %s: %v", name, err)
		}
	}
	n.Up(l)
	peer := far.Link("eth0")
	addr, err := netlink.ParseAddr(ip + "/24")
	if err != nil {
		n.t.Fatal(err)
	}
	if err := far.L.AddrAdd(peer, addr); err != nil {
		n.t.Fatalf("address %s: %v", ip, err)
	}
	far.Up(peer)
	return &Endpoint{NS: far, IP: net.ParseIP(ip), Dev: "eth0"}
}

// RxPackets reads the packets the endpoint's device received.
func (e *Endpoint) RxPackets() uint64 {
	l := e.NS.Link(e.Dev)
	return l.Attrs().Statistics.RxPackets
}

// UDPTo opens a UDP socket in e's namespace towards to:port.
func (e *Endpoint) UDPTo(to *Endpoint, port int) *net.UDPConn {
	var c *net.UDPConn
	var err error
	e.NS.In(func() { c, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: to.IP, Port: port}) })
	if err != nil {
		e.NS.t.Fatal(err)
	}
	e.NS.t.Cleanup(func() { c.Close() })
	return c
}

// Listen opens a UDP socket in e's namespace on port.
func (e *Endpoint) Listen(port int) *net.UDPConn {
	var c *net.UDPConn
	var err error
	e.NS.In(func() { c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: e.IP, Port: port}) })
	if err != nil {
		e.NS.t.Fatal(err)
	}
	e.NS.t.Cleanup(func() { c.Close() })
	return c
}

// Send sends n small datagrams from e to to, then waits a moment for
// them (and their copies) to arrive.
func (e *Endpoint) Send(to *Endpoint, n int) {
	// Unconnected: the port unreachable answers must not fail the writes.
	var c *net.UDPConn
	var err error
	e.NS.In(func() { c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: e.IP}) })
	if err != nil {
		e.NS.t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < n; i++ {
		if _, err := c.WriteTo([]byte(fmt.Sprintf("frame %d", i)), &net.UDPAddr{IP: to.IP, Port: 9}); err != nil {
			e.NS.t.Fatalf("send: %v", err)
		}
	}
	time.Sleep(50 * time.Millisecond)
}

// WaitFor polls cond for up to 3 s.
func WaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// MAC is the endpoint's hardware address.
func (e *Endpoint) MAC() net.HardwareAddr {
	return e.NS.Link(e.Dev).Attrs().HardwareAddr
}

// SendFrames sends a raw Ethernet frame n times from the endpoint's device.
func (e *Endpoint) SendFrames(frame []byte, n int) {
	var fd int
	var err error
	e.NS.In(func() { fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0) })
	if err != nil {
		e.NS.t.Fatalf("packet socket: %v", err)
	}
	defer unix.Close(fd)
	sa := &unix.SockaddrLinklayer{Ifindex: e.NS.Link(e.Dev).Attrs().Index, Halen: 6}
	for i := 0; i < n; i++ {
		if err := unix.Sendto(fd, frame, 0, sa); err != nil {
			e.NS.t.Fatalf("send a frame: %v", err)
		}
	}
	time.Sleep(50 * time.Millisecond)
}

// Broadcast is ff:ff:ff:ff:ff:ff.
var Broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// EthFrame builds an Ethernet frame (padded to the 60-byte minimum).
func EthFrame(dst, src net.HardwareAddr, ethertype uint16, payload []byte) []byte {
	f := make([]byte, 14, 60)
	copy(f[0:6], dst)
	copy(f[6:12], src)
	binary.BigEndian.PutUint16(f[12:14], ethertype)
	f = append(f, payload...)
	for len(f) < 60 {
		f = append(f, 0)
	}
	return f
}

// ARPRequest builds a broadcast ARP request whose Ethernet source is src
// and whose sender is senderHW/senderIP, asking for target.
func ARPRequest(src, senderHW net.HardwareAddr, senderIP, target net.IP) []byte {
	p := make([]byte, 28)
	binary.BigEndian.PutUint16(p[0:2], 1)      // Ethernet
	binary.BigEndian.PutUint16(p[2:4], 0x0800) // IPv4
	p[4], p[5] = 6, 4
	binary.BigEndian.PutUint16(p[6:8], 1) // request
	copy(p[8:14], senderHW)
	copy(p[14:18], senderIP.To4())
	copy(p[24:28], target.To4())
	return EthFrame(Broadcast, src, 0x0806, p)
}
