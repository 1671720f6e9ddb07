package e2e

// Traffic tooling for the guest tests: endpoints on a test bridge that
// exchange unicast frames on demand, a timed download from the test guest's
// HTTP server, and a capture on a bridge counting frames by source MAC.
// Addresses are in 198.19.0.0/16 (RFC 2544's benchmarking range): the host
// uses 192.0.2.0/24 and 203.0.113.0/24, and the other guest tests
// 198.18.1.0/24 and 198.51.100.0/24.

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"
)

// endpoint is a network namespace with one veth pair: eth0 inside, with an
// address, and Port on the host, enslaved to a bridge.
type endpoint struct {
	NS   string // network namespace (ip netns)
	Port string // the bridge's side of the veth pair
	IP   string
	MAC  string // eth0's
}

// addEndpoint makes an endpoint on bridge with address ip (in cidr
// notation) and removes it at the end of the test, failed or not.
func addEndpoint(t *testing.T, bridge, cidr string) *endpoint {
	t.Helper()
	id := strings.ReplaceAll(uuid.NewString(), "-", "")[:10]
	e := &endpoint{NS: "vwt-" + id, Port: "vwe" + id, IP: strings.Split(cidr, "/")[0]}
	// The namespace goes first: deleting it deletes eth0 and so the pair;
	// the port is deleted too, in case the namespace never held it.
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", e.NS).Run()
		exec.Command("ip", "link", "del", e.Port).Run()
	})
	for _, args := range [][]string{
		{"netns", "add", e.NS},
		{"link", "add", e.Port, "type", "veth", "peer", "name", "eth0", "netns", e.NS},
		{"link", "set", e.Port, "master", bridge, "up"},
		{"-n", e.NS, "addr", "add", cidr, "dev", "eth0"},
		{"-n", e.NS, "link", "set", "eth0", "up"},
		{"-n", e.NS, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	out, err := exec.Command("ip", "-n", e.NS, "-br", "link", "show", "eth0").CombinedOutput()
	if f := strings.Fields(string(out)); err != nil || len(f) < 3 {
		t.Fatalf("ip -n %s link show eth0: %v: %s", e.NS, err, out)
	} else {
		e.MAC = f[2]
	}
	return e
}

// inNetns runs fn on a thread in the namespace ns: sockets fn opens stay in
// it, and may be used from any goroutine afterwards.
func inNetns(ns string, fn func() error) error {
	runtime.LockOSThread()
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", syscall.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer self.Close()
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	setns := func(f *os.File) error {
		return unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
	}
	if err := setns(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", ns, err)
	}
	ferr := fn()
	if err := setns(self); err != nil {
		// The thread stays locked: Go ends it with the goroutine rather
		// than give it, in the wrong namespace, to another.
		return fmt.Errorf("setns back from %s: %w", ns, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

const echoPort = 7

// exchange makes a and b exchange n UDP datagrams each way (a sends, b
// echoes), a datagram a millisecond: 2000 frames a second on the bridge (a
// TCG guest here counted every mirrored frame at twice that rate; the margin
// is for a busier host). A warm-up round first makes the bridge learn both
// MACs and the endpoints resolve each other's, so that the exchanged frames
// are unicast, forwarded only between the two ports. It returns the frames that crossed the bridge: a's datagrams that
// b received plus the echoes a received.
func exchange(t *testing.T, a, b *endpoint, n int) int {
	t.Helper()
	var lb *net.UDPConn
	if err := inNetns(b.NS, func() (err error) {
		lb, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(b.IP), Port: echoPort})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	var ca *net.UDPConn
	if err := inNetns(a.NS, func() (err error) {
		ca, err = net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(a.IP)}, &net.UDPAddr{IP: net.ParseIP(b.IP), Port: echoPort})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	var atB, atA atomic.Int64
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // b echoes
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			k, from, err := lb.ReadFromUDP(buf)
			if err != nil {
				return
			}
			atB.Add(1)
			lb.WriteToUDP(buf[:k], from)
		}
	}()
	go func() { // a counts the echoes
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			if _, err := ca.Read(buf); err != nil {
				return
			}
			atA.Add(1)
		}
	}()
	payload := make([]byte, 64)
	// Warm-up: until an echo comes back (ARP resolved both ways, MACs learnt).
	deadline := time.Now().Add(5 * time.Second)
	for atA.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no echo from %s (%s) to %s (%s) in 5 s", b.IP, b.NS, a.IP, a.NS)
		}
		ca.Write(payload)
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	atA.Store(0)
	atB.Store(0)
	start := time.Now()
	for i := 0; i < n; i++ {
		binary.BigEndian.PutUint32(payload, uint32(i))
		ca.Write(payload)
		// a frame each way per datagram: one a millisecond from a.
		if d := time.Until(start.Add(time.Duration(i+1) * time.Millisecond)); d > 0 {
			time.Sleep(d)
		}
	}
	time.Sleep(300 * time.Millisecond)
	ca.SetReadDeadline(time.Now())
	lb.SetReadDeadline(time.Now())
	wg.Wait()
	return int(atB.Load() + atA.Load())
}

// download is one timed transfer from a guest's HTTP server.
type download struct {
	Bytes   int64         // measured (after the skipped ones)
	Elapsed time.Duration // from the skip-th byte to the last one
}

// Rate is the measured rate in bytes per second.
func (d download) Rate() float64 { return float64(d.Bytes) / d.Elapsed.Seconds() }

// Kbps is the measured rate in kbit/s (1000 bits).
func (d download) Kbps() float64 { return d.Rate() * 8 / 1000 }

func (d download) String() string {
	return fmt.Sprintf("%.0f kbit/s (%d bytes in %v)", d.Kbps(), d.Bytes, d.Elapsed.Round(time.Millisecond))
}

// timedDownload fetches the first skip+n bytes of url (an HTTP range) and
// times the last n: skipping lets a shaper's burst pass before the clock
// starts. The whole range is read, so that no data of a cut transfer stays
// queued in a shaper and slows the next one; it fails the test if that takes
// longer than timeout.
func timedDownload(t *testing.T, url string, skip, n int64, timeout time.Duration) download {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=0-%d", skip+n-1))
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent {
		t.Fatalf("GET %s bytes 0-%d: %s", url, skip+n-1, resp.Status)
	}
	if skip > 0 {
		if _, err := io.CopyN(io.Discard, resp.Body, skip); err != nil {
			t.Fatalf("GET %s: the first %d bytes: %v after %v", url, skip, err, time.Since(start))
		}
		start = time.Now()
	}
	got, err := io.Copy(io.Discard, resp.Body)
	if err != nil || got != n {
		t.Fatalf("GET %s: %d of %d bytes after the first %d: %v (after %v)", url, got, n, skip, err, time.Since(start))
	}
	return download{Bytes: got, Elapsed: time.Since(start)}
}

// captureFrom counts the frames a bridge's host side receives from each of
// macs during act and for settle after it. Frames a bridge forwards between
// two of its ports are not seen here; frames to the host (broadcast, or to
// an address of the bridge) are.
func captureFrom(t *testing.T, bridge string, macs []string, settle time.Duration, act func()) map[string]int {
	t.Helper()
	fd := packetSocket(t, bridge)
	defer syscall.Close(fd)
	count := map[string]int{}
	want := map[string]bool{}
	for _, m := range macs {
		hw, err := net.ParseMAC(m)
		if err != nil {
			t.Fatal(err)
		}
		want[hw.String()] = true
		count[hw.String()] = 0
	}
	done := make(chan struct{})
	go func() { act(); close(done) }()
	var deadline time.Time
	buf := make([]byte, 2048)
	for {
		select {
		case <-done:
			deadline = time.Now().Add(settle)
			done = nil
		default:
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return count
		}
		n, from, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil || n < 14 {
			continue
		}
		if ll, ok := from.(*syscall.SockaddrLinklayer); ok && ll.Pkttype == syscall.PACKET_OUTGOING {
			continue
		}
		if src := net.HardwareAddr(buf[6:12]).String(); want[src] {
			count[src]++
		}
	}
}

// guestCmdline is the test guest's kernel command line: its addresses by
// MAC, the host addresses it pings, and extra arguments (vw.promisc=1,
// vw.mac=…, vw.blob=…).
func guestCmdline(addrs map[string][]string, pings []string, extra ...string) string {
	cmd := []string{"console=ttyS0", "quiet", "panic=-1"}
	if len(pings) > 0 {
		cmd = append(cmd, "vw.ping="+strings.Join(pings, ","))
	}
	for mac, as := range addrs {
		for _, a := range as {
			cmd = append(cmd, "vw.addr="+dashed(mac)+","+a)
		}
	}
	return strings.Join(append(cmd, extra...), " ")
}
