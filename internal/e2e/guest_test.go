package e2e

import (
	"encoding/binary"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire/client"
	"vwire.dev/vwire/internal/testenv"
)

// Host addresses on the test bridges. The host's own networks here are
// 192.0.2.0/24 and 203.0.113.0/24; these two ranges are not routed.
const (
	hostA, guestA = "198.18.1.1", "198.18.1.2"
	hostB, guestB = "198.51.100.1", "198.51.100.2"
)

// addrBridge gives a bridge a host address, after checking that nothing on
// the host already routes the subnet.
func addrBridge(t *testing.T, bridge, cidr string) {
	t.Helper()
	_, subnet, _ := net.ParseCIDR(cidr)
	out, _ := exec.Command("ip", "-4", "route", "show", subnet.String()).CombinedOutput()
	if strings.TrimSpace(string(out)) != "" {
		t.Fatalf("the host already routes %s (%s); pick other test subnets", subnet, strings.TrimSpace(string(out)))
	}
	if out, err := exec.Command("ip", "addr", "add", cidr, "dev", bridge).CombinedOutput(); err != nil {
		t.Fatalf("ip addr add %s: %v %s", cidr, err, out)
	}
}

func dashed(mac string) string { return strings.ReplaceAll(mac, ":", "-") }

// guestVM is a VM booted from the test guest with its console.
type guestVM struct {
	id      string
	console *testenv.Console
}

// bootGuest configures the VM's direct kernel boot through the API, with
// addresses for the given MACs, starts it and waits for its first status line.
func (d *deployment) bootGuest(t *testing.T, vm string, consoleDir string, addrs map[string][]string) *guestVM {
	t.Helper()
	kernel, initrd := testenv.Guest(t)
	cmd := []string{"console=ttyS0", "quiet", "panic=-1", "vw.ping=" + hostA + "," + hostB}
	for mac, as := range addrs {
		for _, a := range as {
			cmd = append(cmd, "vw.addr="+dashed(mac)+","+a)
		}
	}
	d.updateVM(vm, ovirtsdk4.NewVmBuilder().Memory(192<<20).
		Os(ovirtsdk4.NewOperatingSystemBuilder().Kernel(kernel).Initrd(initrd).Cmdline(strings.Join(cmd, " ")).MustBuild()).MustBuild())
	g := &guestVM{id: vm, console: &testenv.Console{Path: filepath.Join(consoleDir, vm+".log")}}
	d.start(vm)
	g.console.Wait(t, 60*time.Second, "its first status line", func(testenv.GuestLine) bool { return true })
	return g
}

func iface(l testenv.GuestLine, mac string) (testenv.GuestIface, bool) {
	i, ok := l.Ifaces[mac]
	return i, ok
}

// TestGuestSeesEveryChange proves each live change made through the REST
// API from inside a running Linux guest, reading what it prints on its
// serial console.
func TestGuestSeesEveryChange(t *testing.T) {
	d := deploy(t, time.Hour)
	netA, profA := d.network(true)
	netB, profB := d.network(true)
	addrBridge(t, netA, hostA+"/24")
	addrBridge(t, netB, hostB+"/24")

	vm := d.vm("vwt-guest")
	n1 := d.addNIC(vm, vnic("nic1", profA))
	n2 := d.addNIC(vm, vnic("nic2", profB).Linked(false))
	mac1, mac2 := macOf(n1), macOf(n2)
	nic1 := idOf(n1, true)
	// move1 moves nic1 to a profile's network ("": none).
	move1 := func(profile string) { d.update(vm, nic1, set().VnicProfile(client.ProfileRef(profile))) }
	// nic1 holds an address in both subnets, so that a move shows as which
	// host address answers.
	g := d.bootGuest(t, vm, d.consoleDir, map[string][]string{mac1: {guestA + "/24", guestB + "/24"}})
	c := g.console

	c.Wait(t, 30*time.Second, "nic1 up and "+hostA+" answering", func(l testenv.GuestLine) bool {
		i, ok := iface(l, mac1)
		return ok && i.Carrier == "1" && l.Pings[hostA] == "ok"
	})

	t.Run("UnlinkedFromBoot", func(t *testing.T) {
		// Every line since boot: nic2 never had carrier. (The kernel counts
		// one carrier-down when the driver binds, linked or not.)
		seen := 0
		for _, l := range c.All(t) {
			if i, ok := iface(l, mac2); ok {
				seen++
				if i.Carrier != "0" || i.Downs != l.Ifaces[mac1].Downs {
					t.Fatalf("nic2, unlinked since start: %s", l.Raw)
				}
			}
		}
		if seen == 0 {
			t.Fatal("nic2 never showed in the guest")
		}
	})

	t.Run("LinkDownUp", func(t *testing.T) {
		c.Mark()
		d.update(vm, nic1, set().Linked(false))
		c.Wait(t, 10*time.Second, "nic1 carrier 0", func(l testenv.GuestLine) bool { i, _ := iface(l, mac1); return i.Carrier == "0" })
		d.update(vm, nic1, set().Linked(true))
		c.Wait(t, 10*time.Second, "nic1 carrier 1", func(l testenv.GuestLine) bool { i, _ := iface(l, mac1); return i.Carrier == "1" })
	})

	t.Run("NetworkChange", func(t *testing.T) {
		c.Mark()
		move1(profB)
		l := c.Wait(t, 15*time.Second, hostB+" answering and "+hostA+" not", func(l testenv.GuestLine) bool {
			return l.Pings[hostB] == "ok" && l.Pings[hostA] == "no"
		})
		if i, ok := iface(l, mac1); !ok || i.Carrier != "1" {
			t.Fatalf("nic1 after the move (same MAC expected): %s", l.Raw)
		}
	})

	t.Run("EmptyNetwork", func(t *testing.T) {
		c.Mark()
		move1("")
		c.Wait(t, 15*time.Second, "carrier 0 and no host answering", func(l testenv.GuestLine) bool {
			i, _ := iface(l, mac1)
			return i.Carrier == "0" && l.Pings[hostA] == "no" && l.Pings[hostB] == "no"
		})
		move1(profA)
		c.Wait(t, 15*time.Second, hostA+" answering again", func(l testenv.GuestLine) bool {
			i, _ := iface(l, mac1)
			return i.Carrier == "1" && l.Pings[hostA] == "ok"
		})
	})

	t.Run("HotPlugAndUnplug", func(t *testing.T) {
		c.Mark()
		n3 := d.addNIC(vm, vnic("nic3", profA))
		mac3 := macOf(n3)
		c.Wait(t, 15*time.Second, "a new interface "+mac3+" with carrier", func(l testenv.GuestLine) bool {
			i, ok := iface(l, mac3)
			return ok && i.Carrier == "1"
		})
		// The API answers once libvirt reported the device removed.
		u := d.update(vm, idOf(n3, true), set().Plugged(false))
		if !isNot(u.Plugged()) || u.Reported == nil || u.Reported.Present {
			t.Fatalf("after unplug: %s", nicText(u))
		}
		if tp, _, _ := d.tap(vm, mac3); tp != "" {
			t.Fatalf("device still in the live domain after the unplug answered")
		}
		c.Mark()
		c.Wait(t, 10*time.Second, mac3+" gone", func(l testenv.GuestLine) bool { _, ok := iface(l, mac3); return !ok })
	})

	t.Run("LinkBounceNotification", func(t *testing.T) {
		// A profile on network B that bounces the link on arrival.
		nb := d.addProfile(d.networkID(netB), client.ProfileSpec{Name: "bounceB", GuestNotification: "link_bounce",
			LinkBounceHold: 800 * time.Millisecond})
		c.Mark()
		before := c.Wait(t, 5*time.Second, "a status line", func(testenv.GuestLine) bool { return true })
		downs0, _ := strconv.Atoi(before.Ifaces[mac1].Downs)
		move1(idOf(nb, true))
		l := c.Wait(t, 15*time.Second, "a carrier bounce and "+hostB+" answering", func(l testenv.GuestLine) bool {
			i, _ := iface(l, mac1)
			downs, _ := strconv.Atoi(i.Downs)
			return downs > downs0 && i.Carrier == "1" && l.Pings[hostB] == "ok"
		})
		t.Logf("bounce seen: %s", l.Raw)
	})

	t.Run("AnnounceNotification", func(t *testing.T) {
		na := d.addProfile(d.networkID(netA), client.ProfileSpec{Name: "annA", GuestNotification: "announce"})
		// Control: a silent move sends no RARP.
		silent := captureRARP(t, netB, mac1, func() { move1(profB) })
		if silent != 0 {
			t.Errorf("a move without notification sent %d RARP frames", silent)
		}
		n := captureRARP(t, netA, mac1, func() { move1(idOf(na, true)) })
		if n == 0 {
			t.Fatal("no RARP from the vNIC's MAC on the new bridge after an announce")
		}
		t.Logf("announce: %d RARP frames from %s on %s", n, mac1, netA)
	})
}

// captureRARP counts RARP frames (ethertype 0x8035) from mac on a bridge
// during act and the second after it.
func captureRARP(t *testing.T, bridge, mac string, act func()) int {
	t.Helper()
	fd := packetSocket(t, bridge)
	defer syscall.Close(fd)
	want, _ := net.ParseMAC(mac)
	count := 0
	done := make(chan struct{})
	go func() { act(); close(done) }()
	deadline := time.Time{}
	buf := make([]byte, 2048)
	for {
		select {
		case <-done:
			if deadline.IsZero() {
				deadline = time.Now().Add(time.Second)
			}
			done = nil
		default:
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return count
		}
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil || n < 14 {
			continue
		}
		if net.HardwareAddr(buf[6:12]).String() == want.String() && binary.BigEndian.Uint16(buf[12:14]) == 0x8035 {
			count++
		}
	}
}

// packetSocket opens a raw packet socket bound to dev, every protocol, with
// a 100 ms receive timeout so that a capture loop can look at its clock.
func packetSocket(t *testing.T, dev string) int {
	t.Helper()
	const ethPAll = 0x0003
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, int(htons(ethPAll)))
	if err != nil {
		t.Fatalf("packet socket: %v", err)
	}
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(ethPAll), Ifindex: ifi.Index}); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	tv := syscall.NsecToTimeval(int64(100 * time.Millisecond))
	syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	return fd
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
