package main

// The guest part (issue 18, "API to guest"): how long after a REST call
// starts the test guest of testdata/guest sees the change, against the same
// change made with the raw libvirt call, interleaved on one running domain.
//
// What is observed, and on which clock:
//
//   - Carrier (link flip down, up): only the guest sees it, in
//     /sys/class/net/<if>/carrier. Its watcher (vw.watch) polls every 2 ms
//     (about 4 ms under TCG: the "poll period" row) and prints each change
//     at once, stamped with the guest's monotonic clock in ns
//     ("VW-CAR t=<ns> <mac>=<carrier> …"), plus a clock line
//     ("VW-T t=<ns>") every ~0.1 s. The host stamps every console line with
//     its own clock as the line's newline reaches the log file (inotify), so
//     each line is a pair (guest time g, host arrival h) with
//     h = g + offset + delay, delay ≥ 0 the console's own (the guest's tty,
//     the emulated UART byte by byte, QEMU's writes). The offset is taken as
//     the smallest h − g over the lines within 3 s of the change (a
//     one-way minimum filter, as NTP's): that is offset + the smallest
//     delay, so a change's host time g + offset is late by at most that
//     smallest delay (the short clock lines' best case), and the window
//     keeps a drift of the guest's clock out. The console delay of the
//     change's own line is reported too (h − (g + offset)).
//   - Traffic after a network move: the most direct observable is on the
//     host, on the host's clock: the first frame from the vNIC's MAC that
//     crosses the new bridge. From the call's start the host sends an ARP
//     request for the guest's address on that bridge to the vNIC's MAC every
//     millisecond; the guest's kernel answers (no process in the guest), and
//     a promiscuous packet socket on the bridge sees the answer. Nothing
//     from that MAC can cross the bridge before the tap is on it, so the
//     first such frame is the guest receiving and sending on the new
//     network (resolution: the 1 ms between requests).

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	ovirtsdk4 "github.com/ovirt/go-ovirt"
	"golang.org/x/sys/unix"
	"libvirt.org/go/libvirtxml"

	"vwire.dev/vwire/hypervisor/libvirt"
	"vwire.dev/vwire/internal/testenv"
)

// Addresses on the two bridges (unrouted here: the host's own networks are
// 192.0.2.0/24 and 203.0.113.0/24). The bridges themselves hold none: the
// ARP requests are built by hand.
var guestNets = []struct {
	host       string
	rest, raws string // the guest's addresses for the REST vNIC and the raw one
}{
	{"198.18.1.1", "198.18.1.2", "198.18.1.3"},
	{"198.51.100.1", "198.51.100.2", "198.51.100.3"},
}

// watchEvery is the guest watcher's poll interval (vw.watch, seconds). A
// poll itself takes about 2 ms under TCG, so asking for less would mostly
// cost the guest's (and so the host's) CPU: at 2 ms its QEMU takes half a
// core.
const watchEvery = "0.002"

// guestLatency runs the guest part.
func guestLatency(short bool) ([]row, error) {
	if _, err := os.Stat(testenv.LibvirtSocket); err != nil || os.Geteuid() != 0 {
		return []row{{name: "API to guest", note: "skipped: needs root and a running libvirtd"}}, nil
	}
	n := 50
	if short {
		n = 5
	}
	// A build of its own: the tests' cache (testenv.GuestDir) is shared by
	// every checkout on the machine, and one whose init predates vw.watch
	// may rebuild it between this build and the boot.
	guestDir := testenv.GuestDir + "-bench"
	if err := testenv.BuildGuest(guestDir); err != nil {
		return nil, err
	}
	kernel, initrd := filepath.Join(guestDir, "vmlinuz"), filepath.Join(guestDir, "initramfs.cpio.gz")
	// QEMU runs as libvirt-qemu: the console directory must be reachable by it.
	consoleDir, err := os.MkdirTemp("", "vwire-bench-console-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(consoleDir)
	os.Chmod(consoleDir, 0o755)
	brs := []string{"vwguest-a", "vwguest-b"}
	lh, err := newLibvirtHostWith(libvirt.Options{ConsoleDir: consoleDir, DomainType: libvirt.DomainTypeQEMU}, brs...)
	if err != nil {
		return nil, err
	}
	defer lh.close()
	a, ctx := lh.api, context.Background()
	vmObj, err := a.AddVM(ctx, pinnedVM("vwt-bench-guest", lh.cluster, lh.host))
	if err != nil {
		return nil, err
	}
	vm := vmObj.MustId()
	nic, err := a.AddNIC(ctx, vm, nicOn("nic1", lh.profiles[brs[0]]))
	if err != nil {
		return nil, err
	}
	// A second vNIC that only the raw calls touch, as in the latency part.
	raw, err := a.AddNIC(ctx, vm, nicOn("raw", lh.profiles[brs[0]]))
	if err != nil {
		return nil, err
	}
	restMAC, rawMAC := nic.MustMac().MustAddress(), raw.MustMac().MustAddress()
	cmd := []string{"console=ttyS0", "quiet", "panic=-1", "vw.watch=" + watchEvery}
	for _, gn := range guestNets {
		cmd = append(cmd, "vw.addr="+strings.ReplaceAll(restMAC, ":", "-")+","+gn.rest+"/24",
			"vw.addr="+strings.ReplaceAll(rawMAC, ":", "-")+","+gn.raws+"/24")
	}
	if _, err := a.UpdateVM(ctx, vm, ovirtsdk4.NewVmBuilder().Memory(192<<20).
		Os(ovirtsdk4.NewOperatingSystemBuilder().Kernel(kernel).Initrd(initrd).Cmdline(strings.Join(cmd, " ")).MustBuild()).MustBuild()); err != nil {
		return nil, err
	}
	bootStart := time.Now()
	if _, err := a.StartVM(ctx, vm); err != nil {
		return nil, err
	}
	defer func() {
		if _, err := a.StopVM(ctx, vm); err != nil {
			exec.Command("virsh", "-c", "qemu:///system", "destroy", vm).Run()
		}
	}()
	con, err := followConsole(filepath.Join(consoleDir, vm+".log"))
	if err != nil {
		return nil, err
	}
	defer con.close()
	if err := con.waitCarrier(0, 90*time.Second, func(s map[string]string) bool { return s[restMAC] == "1" && s[rawMAC] == "1" }); err != nil {
		return nil, fmt.Errorf("the guest's boot: %w (a guest without vw.watch? remove %s)", err, guestDir)
	}
	boot := time.Since(bootStart)
	caps := map[string]*capture{}
	for _, b := range brs {
		c, err := captureOn(b, restMAC, rawMAC)
		if err != nil {
			return nil, err
		}
		defer c.close()
		caps[b] = c
	}
	l, dom, err := openDomain(vm)
	if err != nil {
		return nil, err
	}
	defer l.Disconnect()
	rawDev, err := liveInterface(l, dom, rawMAC)
	if err != nil {
		return nil, err
	}
	rawXML := func(bridge string, up bool) string {
		d := rawDev
		d.Source = &libvirtxml.DomainInterfaceSource{Bridge: &libvirtxml.DomainInterfaceSourceBridge{Bridge: bridge}}
		d.Link = &libvirtxml.DomainInterfaceLink{State: map[bool]string{true: "up", false: "down"}[up]}
		// What libvirt reports of the running device and refuses to be
		// given back: the tap's name and the PCI address stay as they are.
		d.Target, d.Address = nil, nil
		s, _ := d.Marshal()
		return s
	}

	// Each change is timed on the host from the call's start to the guest's
	// observation; the calls' own durations are kept for the notes.
	var restCalls, rawCalls []time.Duration
	nicID := nic.MustId()
	// Each kind of change runs in its own phase, REST and raw alternating
	// which goes first every two pairs, as in the latency part.
	order := func(i int, rest, raw func() error) error {
		if i/2%2 == 0 {
			if err := rest(); err != nil {
				return err
			}
			return raw()
		}
		if err := raw(); err != nil {
			return err
		}
		return rest()
	}
	// settle lets the guest and libvirt go quiet between changes, so that
	// each change starts from the same state.
	settle := func() { time.Sleep(100 * time.Millisecond) }

	// Link flips: each change flips the carrier; the first goes down.
	type carSample struct {
		t0    time.Time
		event carEvent
	}
	var flips [2][2][]carSample // [rest, raw][down, up]
	flip := func(k int, mac string, up bool, call func() error, calls *[]time.Duration) func() error {
		return func() error {
			from := con.mark()
			t0 := time.Now()
			if err := call(); err != nil {
				return err
			}
			*calls = append(*calls, time.Since(t0))
			want := map[bool]string{true: "1", false: "0"}[up]
			ev, err := con.waitCarrierEvent(from, 10*time.Second, func(s map[string]string) bool { return s[mac] == want })
			if err != nil {
				return fmt.Errorf("carrier %s on %s: %w", want, mac, err)
			}
			j := 0
			if up {
				j = 1
			}
			flips[k][j] = append(flips[k][j], carSample{t0, ev})
			settle()
			return nil
		}
	}
	for i := 0; i < 2*n; i++ {
		up := i%2 == 1
		err := order(i,
			flip(0, restMAC, up, func() error { _, err := a.LinkNIC(ctx, vm, nicID, up); return err }, &restCalls),
			flip(1, rawMAC, up, func() error {
				return l.DomainUpdateDeviceFlags(dom, rawXML(brs[0], up), golibvirt.DomainDeviceModifyLive)
			}, &rawCalls))
		if err != nil {
			return nil, fmt.Errorf("link flip %d: %w", i, err)
		}
	}

	// Network moves: B, A, B, … for each vNIC, its link up.
	var moves [2][]time.Duration // [rest, raw]
	var restMoveCalls, rawMoveCalls []time.Duration
	move := func(k int, mac, guestIP string, target int, call func() error, calls *[]time.Duration) func() error {
		return func() error {
			c := caps[brs[target]]
			from := c.mark()
			t0 := time.Now()
			stop := c.probe(mac, guestNets[target].host, guestIP)
			err := call()
			*calls = append(*calls, time.Since(t0))
			if err != nil {
				stop()
				return err
			}
			at, err := c.waitFrom(from, mac, 10*time.Second)
			stop()
			if err != nil {
				return fmt.Errorf("a frame from %s on %s: %w", mac, brs[target], err)
			}
			moves[k] = append(moves[k], at.Sub(t0))
			settle()
			return nil
		}
	}
	for i := 0; i < n; i++ {
		target := 1 - i%2
		err := order(i,
			move(0, restMAC, guestNets[target].rest, target, func() error {
				_, err := a.MoveNIC(ctx, vm, nicID, lh.profiles[brs[target]])
				return err
			}, &restMoveCalls),
			move(1, rawMAC, guestNets[target].raws, target, func() error {
				return l.DomainUpdateDeviceFlags(dom, rawXML(brs[target], true), golibvirt.DomainDeviceModifyLive)
			}, &rawMoveCalls))
		if err != nil {
			return nil, fmt.Errorf("network move %d: %w", i, err)
		}
	}

	// The guest's clock put on the host's, change by change (see the top).
	pairs := con.clockPairs()
	var seen, arrived [2][2][]time.Duration
	var delays []time.Duration
	for k := range flips {
		for j := range flips[k] {
			for _, s := range flips[k][j] {
				off, ok := offsetNear(pairs, s.event.g, 3e9)
				if !ok {
					return nil, fmt.Errorf("no clock line near a carrier change")
				}
				host := s.event.g + off // ns on the follower's base
				seen[k][j] = append(seen[k][j], time.Duration(host-con.ns(s.t0)))
				arrived[k][j] = append(arrived[k][j], s.event.h.Sub(s.t0))
				delays = append(delays, time.Duration(con.ns(s.event.h)-host))
			}
		}
	}
	note := func(calls []time.Duration, arr []time.Duration) string {
		s := fmt.Sprintf("%d changes; the call itself %s p50", len(calls), ms(pct(calls, .5)))
		if arr != nil {
			s += fmt.Sprintf("; its console line arrived %s p50", ms(pct(arr, .5)))
		}
		return s
	}
	split := func(d []time.Duration) (down, up []time.Duration) {
		for i, x := range d {
			if i%2 == 0 {
				down = append(down, x)
			} else {
				up = append(up, x)
			}
		}
		return down, up
	}
	restDown, restUp := split(restCalls)
	rawDown, rawUp := split(rawCalls)
	r := func(name string, d []time.Duration, note string) row {
		return row{name: name, p50: ms(pct(d, .5)), p99: ms(pct(d, .99)), note: note}
	}
	return []row{
		r("guest sees carrier down: REST PUT linked=false", seen[0][0], note(restDown, arrived[0][0])),
		r("guest sees carrier down: raw DomainUpdateDeviceFlags", seen[1][0], note(rawDown, arrived[1][0])),
		r("guest sees carrier up: REST PUT linked=true", seen[0][1], note(restUp, arrived[0][1])),
		r("guest sees carrier up: raw DomainUpdateDeviceFlags", seen[1][1], note(rawUp, arrived[1][1])),
		r("guest's frame on the new bridge: REST PUT vnic_profile", moves[0], note(restMoveCalls, nil)),
		r("guest's frame on the new bridge: raw DomainUpdateDeviceFlags", moves[1], note(rawMoveCalls, nil)),
		r("console delay of a carrier line", delays, "arrival − guest time put on the host's clock"),
		r("the guest's carrier poll period", watchPeriods(pairs), "vw.watch="+watchEvery+" s asked; what the loop takes under TCG"),
		{name: "guest boot (TCG) to both carriers up", p50: ms(boot), note: "one boot for the whole part"},
	}, nil
}

// watchPeriods are the guest watcher's poll periods, from its clock lines
// (one every 20 polls) on the guest's clock; a carrier change waits for the
// next poll, on average half a period.
func watchPeriods(pairs []clockPair) []time.Duration {
	var out []time.Duration
	last := int64(-1)
	for _, p := range pairs {
		if !p.tick {
			continue
		}
		if last >= 0 && p.g > last {
			out = append(out, time.Duration((p.g-last)/20))
		}
		last = p.g
	}
	return out
}

// liveInterface reads the running domain's interface with mac: the raw
// calls send it back changed, filter included, as the agent would.
func liveInterface(l *golibvirt.Libvirt, dom golibvirt.Domain, mac string) (libvirtxml.DomainInterface, error) {
	s, err := l.DomainGetXMLDesc(dom, 0)
	if err != nil {
		return libvirtxml.DomainInterface{}, err
	}
	var d libvirtxml.Domain
	if err := d.Unmarshal(s); err != nil {
		return libvirtxml.DomainInterface{}, err
	}
	if d.Devices != nil {
		for _, i := range d.Devices.Interfaces {
			if i.MAC != nil && strings.EqualFold(i.MAC.Address, mac) {
				return i, nil
			}
		}
	}
	return libvirtxml.DomainInterface{}, fmt.Errorf("no interface %s in the live domain", mac)
}

// clockPair is one console line: the guest's clock when it printed it and
// the host's (ns on the follower's base) when it arrived; tick for a clock
// line (VW-T), printed every 20 polls.
type clockPair struct {
	g, h int64
	tick bool
}

// offsetNear is the smallest h − g over the pairs within window ns of g.
func offsetNear(pairs []clockPair, g, window int64) (int64, bool) {
	var best int64
	ok := false
	for _, p := range pairs {
		if p.g < g-window || p.g > g+window {
			continue
		}
		if d := p.h - p.g; !ok || d < best {
			best, ok = d, true
		}
	}
	return best, ok
}

// carEvent is a VW-CAR line: the guest's time, the host's arrival time and
// every interface's carrier by MAC.
type carEvent struct {
	g     int64
	h     time.Time
	state map[string]string
}

// console follows a guest's serial log, stamping each line on arrival.
type console struct {
	base  time.Time
	f     *os.File
	ino   *os.File
	done  chan struct{}
	mu    sync.Mutex
	pairs []clockPair
	cars  []carEvent
}

func (c *console) ns(t time.Time) int64 { return int64(t.Sub(c.base)) }

// followConsole reads path (waiting for QEMU to create it) as it grows.
// inotify wakes the reader on each write, so that a line's arrival is
// stamped within microseconds rather than at the next poll.
func followConsole(path string) (*console, error) {
	var f *os.File
	var err error
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if f, err = os.Open(path); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		f.Close()
		return nil, err
	}
	if _, err := unix.InotifyAddWatch(fd, path, unix.IN_MODIFY); err != nil {
		unix.Close(fd)
		f.Close()
		return nil, err
	}
	// Non-blocking, so that the runtime's poller waits on it and close
	// ends a pending read.
	c := &console{base: time.Now(), f: f, ino: os.NewFile(uintptr(fd), "inotify"), done: make(chan struct{})}
	go c.run()
	return c, nil
}

func (c *console) close() { c.ino.Close(); <-c.done; c.f.Close() }

func (c *console) run() {
	defer close(c.done)
	r := bufio.NewReader(c.f)
	var partial string
	ev := make([]byte, 4096)
	for {
		for {
			s, err := r.ReadString('\n')
			if err != nil {
				partial += s // the rest comes with a later write
				break
			}
			c.line(strings.TrimSpace(partial+s), time.Now())
			partial = ""
		}
		// A deadline as well: a missed event costs 50 ms, not the run.
		c.ino.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := c.ino.Read(ev); err != nil && !os.IsTimeout(err) {
			return
		}
	}
}

// line records a clock line or a carrier line.
func (c *console) line(s string, at time.Time) {
	f := strings.Fields(s)
	if len(f) < 2 || (f[0] != "VW-T" && f[0] != "VW-CAR") || !strings.HasPrefix(f[1], "t=") {
		return
	}
	g, err := strconv.ParseInt(f[1][2:], 10, 64)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pairs = append(c.pairs, clockPair{g, c.ns(at), f[0] == "VW-T"})
	if f[0] == "VW-CAR" {
		st := map[string]string{}
		for _, kv := range f[2:] {
			if mac, v, ok := strings.Cut(kv, "="); ok {
				st[mac] = v
			}
		}
		c.cars = append(c.cars, carEvent{g, at, st})
	}
}

func (c *console) mark() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.cars) }

func (c *console) clockPairs() []clockPair {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]clockPair(nil), c.pairs...)
}

// waitCarrierEvent returns the first carrier line from index from on that
// satisfies ok. It polls: the times it returns were taken on arrival.
func (c *console) waitCarrierEvent(from int, timeout time.Duration, ok func(map[string]string) bool) (carEvent, error) {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		c.mu.Lock()
		for i := from; i < len(c.cars); i++ {
			if ok(c.cars[i].state) {
				e := c.cars[i]
				c.mu.Unlock()
				return e, nil
			}
		}
		from = len(c.cars)
		c.mu.Unlock()
	}
	return carEvent{}, fmt.Errorf("not seen by the guest within %v", timeout)
}

func (c *console) waitCarrier(from int, timeout time.Duration, ok func(map[string]string) bool) error {
	_, err := c.waitCarrierEvent(from, timeout, ok)
	return err
}

// capture is a promiscuous packet socket on a bridge keeping the arrival
// times of frames from the MACs it watches. Promiscuous: the guest's ARP
// answer is unicast and is seen whatever the bridge's own MAC is then (a
// bridge may take a joining port's MAC).
type capture struct {
	fd     int
	ifi    *net.Interface
	watch  map[string]bool
	done   chan struct{}
	mu     sync.Mutex
	frames []frame
}

type frame struct {
	mac string
	at  time.Time
}

func captureOn(bridge string, macs ...string) (*capture, error) {
	ifi, err := net.InterfaceByName(bridge)
	if err != nil {
		return nil, err
	}
	const ethPAll = 0x0003
	proto := int(htons(ethPAll))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	fail := func(err error) (*capture, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("capture on %s: %w", bridge, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(ethPAll), Ifindex: ifi.Index}); err != nil {
		return fail(err)
	}
	mreq := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		return fail(err)
	}
	// A receive timeout, so that the reader sees close.
	tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fail(err)
	}
	c := &capture{fd: fd, ifi: ifi, watch: map[string]bool{}, done: make(chan struct{})}
	for _, m := range macs {
		c.watch[strings.ToLower(m)] = true
	}
	go c.run()
	return c, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (c *capture) run() {
	buf := make([]byte, 2048)
	for {
		select {
		case <-c.done:
			return
		default:
		}
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		at := time.Now()
		if err != nil || n < 14 {
			continue
		}
		if mac := net.HardwareAddr(buf[6:12]).String(); c.watch[mac] {
			c.mu.Lock()
			c.frames = append(c.frames, frame{mac, at})
			c.mu.Unlock()
		}
	}
}

func (c *capture) close() { close(c.done); time.Sleep(150 * time.Millisecond); unix.Close(c.fd) }

func (c *capture) mark() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.frames) }

// waitFrom returns the arrival of the first frame from mac from index from on.
func (c *capture) waitFrom(from int, mac string, timeout time.Duration) (time.Time, error) {
	mac = strings.ToLower(mac)
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		c.mu.Lock()
		for i := from; i < len(c.frames); i++ {
			if c.frames[i].mac == mac {
				at := c.frames[i].at
				c.mu.Unlock()
				return at, nil
			}
		}
		from = len(c.frames)
		c.mu.Unlock()
	}
	return time.Time{}, fmt.Errorf("none within %v", timeout)
}

// probe sends, every millisecond until stop, an ARP request for guestIP
// from hostIP to mac on the bridge: whatever the guest's ARP cache holds,
// its kernel answers, so that the guest sends on the bridge as soon as it
// can hear there.
func (c *capture) probe(mac, hostIP, guestIP string) (stop func()) {
	dst, _ := net.ParseMAC(mac)
	src := c.ifi.HardwareAddr
	f := make([]byte, 0, 42)
	f = append(f, dst...)
	f = append(f, src...)
	f = binary.BigEndian.AppendUint16(f, 0x0806)
	f = binary.BigEndian.AppendUint16(f, 1)      // Ethernet
	f = binary.BigEndian.AppendUint16(f, 0x0800) // IPv4
	f = append(f, 6, 4)
	f = binary.BigEndian.AppendUint16(f, 1) // request
	f = append(f, src...)
	f = append(f, net.ParseIP(hostIP).To4()...)
	f = append(f, make([]byte, 6)...)
	f = append(f, net.ParseIP(guestIP).To4()...)
	to := &unix.SockaddrLinklayer{Protocol: htons(0x0806), Ifindex: c.ifi.Index, Halen: 6}
	copy(to.Addr[:], dst)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			unix.Sendto(c.fd, f, 0, to)
			select {
			case <-quit:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(quit); <-done }
}
