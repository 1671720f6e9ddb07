package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"vwire.dev/vwire/internal/testenv"
)

// The tooling's figures: how many frames the endpoints exchange, the
// shaper limits, and what a measurement must show.
const (
	exchanged = 2000 // datagrams each way: 4000 frames on the bridge
	// A shaped rate is within [0.5, 1.5]× its limit; an unshaped one at
	// least 2× above the highest limit measured.
	shapedLow, shapedHigh = 0.5, 1.5
)

// rawGuest is the test guest in a domain of its own, on libvirt directly
// (no vwire): the control experiment for the tooling.
type rawGuest struct {
	name    string
	console *testenv.Console
}

// startRawGuest boots the test guest in a transient TCG domain with one
// virtio vNIC per MAC on bridge, and destroys it at the end of the test.
func startRawGuest(t *testing.T, bridge string, macs []string, cmdline string) *rawGuest {
	t.Helper()
	kernel, initrd := testenv.Guest(t)
	dir, err := os.MkdirTemp("", "vwire-raw-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	g := &rawGuest{name: "vwt-raw-" + uuid.NewString()[:8], console: &testenv.Console{Path: filepath.Join(dir, "console.log")}}
	var nics strings.Builder
	for _, m := range macs {
		fmt.Fprintf(&nics, "<interface type='bridge'><mac address='%s'/><source bridge='%s'/><model type='virtio'/><rom enabled='no'/></interface>\n", m, bridge)
	}
	xml := fmt.Sprintf(`<domain type='qemu'>
  <name>%s</name><memory unit='MiB'>192</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>%s</kernel><initrd>%s</initrd><cmdline>%s</cmdline></os>
  <features><acpi/><apic/></features>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    %s
    <serial type='file'><source path='%s'/></serial>
    <console type='file'><source path='%s'/></console>
    <memballoon model='none'/>
  </devices>
</domain>`, g.name, kernel, initrd, cmdline, nics.String(), g.console.Path, g.console.Path)
	file := filepath.Join(dir, "domain.xml")
	if err := os.WriteFile(file, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("virsh", "-c", "qemu:///system", "destroy", g.name).Run() })
	testenv.Virsh(t, "create", file)
	g.console.Wait(t, 60*time.Second, "its first status line", func(testenv.GuestLine) bool { return true })
	return g
}

// tapOf is the host device of the raw guest's vNIC with mac.
func (g *rawGuest) tapOf(t *testing.T, mac string) string {
	t.Helper()
	for _, l := range strings.Split(testenv.Virsh(t, "domiflist", g.name), "\n") {
		if f := strings.Fields(l); len(f) == 5 && f[4] == mac {
			return f[0]
		}
	}
	t.Fatalf("no vNIC %s in %s", mac, g.name)
	return ""
}

// nextLine is the guest's next status line.
func nextLine(t *testing.T, c *testenv.Console) testenv.GuestLine {
	t.Helper()
	c.Mark()
	return c.Wait(t, 5*time.Second, "a status line", func(testenv.GuestLine) bool { return true })
}

// rxDuring is how many packets the guest's interface with mac counted while
// a and b exchanged n datagrams each way, and the frames that crossed the
// bridge meanwhile.
func rxDuring(t *testing.T, c *testenv.Console, mac string, a, b *endpoint, n int) (rx int64, frames int) {
	t.Helper()
	before, ok := nextLine(t, c).Ifaces[mac]
	if !ok || before.Rx < 0 {
		t.Fatalf("no rx count for %s in the guest's line", mac)
	}
	frames = exchange(t, a, b, n)
	after := nextLine(t, c).Ifaces[mac]
	return after.Rx - before.Rx, frames
}

// tapTx is how many frames a host device sent (to the guest, for a tap).
func tapTx(t *testing.T, dev string) int64 {
	t.Helper()
	data, err := os.ReadFile("/sys/class/net/" + dev + "/statistics/tx_packets")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func tc(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("tc", args...).CombinedOutput(); err != nil {
		t.Fatalf("tc %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// TestGuestTrafficTooling proves the guest side and the tooling of the
// profile-attribute tests on libvirt alone, with tc and a MAC change done
// by hand: a guest vNIC counts the frames mirrored to it and not others; a
// timed download from the guest measures an htb limit on an ifb redirect of
// its tap; a capture on the bridge hears a MAC the guest took.
func TestGuestTrafficTooling(t *testing.T) {
	testenv.NeedLibvirt(t)
	br := testenv.Bridge(t, "")
	addrBridge(t, br, "198.19.20.1/24")
	addrBridge(t, br, "198.19.21.1/24")
	a := addEndpoint(t, br, "198.19.20.11/24")
	b := addEndpoint(t, br, "198.19.20.12/24")
	// mac1 promiscuous, mac2 taking another MAC, mac3 neither.
	const mac1, mac2, mac3, spoof = "52:54:00:19:20:01", "52:54:00:19:20:02", "52:54:00:19:20:03", "52:54:00:19:20:99"
	g := startRawGuest(t, br, []string{mac1, mac2, mac3}, guestCmdline(
		map[string][]string{mac1: {"198.19.20.2/24"}, mac2: {"198.19.21.2/24"}},
		[]string{"198.19.20.1", "198.19.21.1"}, "vw.promisc="+dashed(mac1), "vw.blob=8", "vw.mac="+dashed(mac2)+","+dashed(spoof)))
	g.console.Wait(t, 30*time.Second, "both vNICs up and the host answering", func(l testenv.GuestLine) bool {
		i1, ok1 := l.Ifaces[mac1]
		i2, ok2 := l.Ifaces[spoof]
		return ok1 && ok2 && i1.Carrier == "1" && i2.Carrier == "1" && l.Pings["198.19.20.1"] == "ok" && l.Pings["198.19.21.1"] == "ok"
	})
	tap1, tap3 := g.tapOf(t, mac1), g.tapOf(t, mac3)

	t.Run("Mirroring", func(t *testing.T) {
		rx, frames := rxDuring(t, g.console, mac1, a, b, exchanged)
		t.Logf("no mirroring: the guest counted %d packets while %d frames crossed the bridge", rx, frames)
		if frames < exchanged*2*9/10 {
			t.Fatalf("only %d of %d frames crossed the bridge", frames, exchanged*2)
		}
		if rx > int64(frames)/20 {
			t.Errorf("without mirroring the guest counted %d packets of %d exchanged by others", rx, frames)
		}
		for _, p := range []string{a.Port, b.Port} {
			tc(t, "qdisc", "add", "dev", p, "clsact")
			tc(t, "filter", "add", "dev", p, "ingress", "u32", "match", "u32", "0", "0",
				"action", "mirred", "egress", "mirror", "dev", tap1, "pipe", "action", "mirred", "egress", "mirror", "dev", tap3)
		}
		rx3 := nextLine(t, g.console).Ifaces[mac3].Rx
		sent3 := tapTx(t, tap3)
		rx, frames = rxDuring(t, g.console, mac1, a, b, exchanged)
		rx3 = nextLine(t, g.console).Ifaces[mac3].Rx - rx3
		sent3 = tapTx(t, tap3) - sent3
		t.Logf("mirrored: the guest counted %d packets while %d frames crossed the bridge", rx, frames)
		t.Logf("mirrored to a vNIC not promiscuous: its tap sent %d frames, the guest counted %d", sent3, rx3)
		if rx < int64(frames)*3/4 || rx > int64(frames)*3/2 {
			t.Errorf("with both ports mirrored the guest counted %d packets for %d frames", rx, frames)
		}
		// virtio-net's receive filter: without promiscuous mode, frames for
		// other MACs are dropped before the guest counts them.
		if sent3 < int64(frames)*3/4 || rx3 > sent3/20 {
			t.Errorf("a vNIC not promiscuous: its tap sent %d mirrored frames, the guest counted %d", sent3, rx3)
		}
		for _, p := range []string{a.Port, b.Port} {
			tc(t, "qdisc", "del", "dev", p, "clsact")
		}
		rx, frames = rxDuring(t, g.console, mac1, a, b, exchanged)
		t.Logf("mirroring removed: the guest counted %d packets while %d frames crossed the bridge", rx, frames)
		if rx > int64(frames)/20 {
			t.Errorf("mirroring removed, the guest counted %d packets of %d", rx, frames)
		}
	})

	t.Run("Shaping", func(t *testing.T) {
		url := "http://198.19.20.2/blob"
		free := timedDownload(t, url, 0, 8<<20, time.Minute)
		t.Logf("unshaped: %v", free)
		ifb := "vwi" + strings.ReplaceAll(uuid.NewString(), "-", "")[:10]
		// A queue as deep as the product's shaper keeps (tapnet's ifbQueue
		// and more): with the ifb's default 32 frames, TCP from a slow TCG
		// guest loses whole windows at the limit and waits out
		// retransmission timers, measuring a third of the rate.
		if out, err := exec.Command("ip", "link", "add", ifb, "txqueuelen", "1000", "type", "ifb").CombinedOutput(); err != nil {
			t.Fatalf("ip link add %s type ifb: %v: %s", ifb, err, out)
		}
		t.Cleanup(func() { exec.Command("ip", "link", "del", ifb).Run() })
		exec.Command("ip", "link", "set", ifb, "up").Run()
		// A 1 MiB burst, as oVirt's smallest (1 MB): the download skips
		// past it before it starts the clock.
		tc(t, "qdisc", "add", "dev", ifb, "root", "handle", "1:", "htb", "default", "1")
		tc(t, "class", "add", "dev", ifb, "parent", "1:", "classid", "1:1", "htb", "rate", "1mbit", "ceil", "1mbit", "burst", "1024k")
		tc(t, "qdisc", "add", "dev", tap1, "clsact")
		tc(t, "filter", "add", "dev", tap1, "ingress", "u32", "match", "u32", "0", "0", "action", "mirred", "egress", "redirect", "dev", ifb)
		const skip = 1<<20 + 256<<10
		one := timedDownload(t, url, skip, 500_000, time.Minute)
		t.Logf("1 Mbit/s: %v", one)
		tc(t, "class", "change", "dev", ifb, "parent", "1:", "classid", "1:1", "htb", "rate", "2mbit", "ceil", "2mbit", "burst", "1024k")
		two := timedDownload(t, url, skip, 1_000_000, time.Minute)
		t.Logf("2 Mbit/s: %v", two)
		tc(t, "qdisc", "del", "dev", tap1, "clsact")
		again := timedDownload(t, url, 0, 8<<20, time.Minute)
		t.Logf("unshaped again: %v", again)
		checkShaped(t, "1 Mbit/s", one, 1000)
		checkShaped(t, "2 Mbit/s", two, 2000)
		checkFree(t, "unshaped", free, 2000)
		checkFree(t, "unshaped again", again, 2000)
	})

	t.Run("MACChange", func(t *testing.T) {
		n := captureFrom(t, br, []string{mac1, mac2, spoof}, 0, func() { time.Sleep(3 * time.Second) })
		t.Logf("heard on the bridge in 3 s: %v", n)
		if n[spoof] == 0 || n[mac1] == 0 {
			t.Errorf("the bridge did not hear the guest: %v", n)
		}
		if n[mac2] != 0 {
			t.Errorf("frames from %s, the MAC the guest replaced: %v", mac2, n)
		}
	})

	t.Run("Filter", func(t *testing.T) {
		// libvirt's stock no-mac-spoofing, under a name of the test's own.
		name := "vwt-no-mac-spoofing-" + uuid.NewString()[:8]
		dir := t.TempDir()
		write := func(file, content string) string {
			f := filepath.Join(dir, file)
			if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			return f
		}
		testenv.Virsh(t, "nwfilter-define", write("filter.xml", `<filter name='`+name+`' chain='mac' priority='-800'>
  <rule action='return' direction='out' priority='500'><mac srcmacaddr='$MAC'/></rule>
  <rule action='drop' direction='out' priority='500'><mac/></rule>
</filter>`))
		t.Cleanup(func() { exec.Command("virsh", "-c", "qemu:///system", "nwfilter-undefine", name).Run() })
		iface := func(filter string) string {
			ref := ""
			if filter != "" {
				ref = "<filterref filter='" + filter + "'/>"
			}
			return write("iface.xml", fmt.Sprintf("<interface type='bridge'><mac address='%s'/><source bridge='%s'/><model type='virtio'/><rom enabled='no'/>%s</interface>", mac2, br, ref))
		}
		listen := func(what string) map[string]int {
			n := captureFrom(t, br, []string{mac1, spoof}, 0, func() { time.Sleep(4 * time.Second) })
			t.Logf("%s: heard on the bridge in 4 s: %v", what, n)
			if n[mac1] == 0 {
				t.Fatalf("%s: nothing heard from %s, unfiltered", what, mac1)
			}
			return n
		}
		testenv.Virsh(t, "update-device", g.name, iface(name), "--live")
		if n := listen("filtered"); n[spoof] != 0 {
			t.Errorf("the filter let %d frames from %s through", n[spoof], spoof)
		}
		testenv.Virsh(t, "update-device", g.name, iface(""), "--live")
		if n := listen("filter removed"); n[spoof] == 0 {
			t.Errorf("nothing heard from %s once its filter was removed", spoof)
		}
	})
}

// checkShaped fails the test unless d is within [shapedLow, shapedHigh]× the
// limit (kbit/s).
func checkShaped(t *testing.T, what string, d download, limitKbps float64) {
	t.Helper()
	if k := d.Kbps(); k < shapedLow*limitKbps || k > shapedHigh*limitKbps {
		t.Errorf("%s: measured %v, want within [%.1f, %.1f]× %.0f kbit/s", what, d, shapedLow, shapedHigh, limitKbps)
	}
}

// checkFree fails the test unless d is at least twice the highest limit
// (kbit/s) measured.
func checkFree(t *testing.T, what string, d download, highestKbps float64) {
	t.Helper()
	if d.Kbps() < 2*highestKbps {
		t.Errorf("%s: measured %v, want at least 2× %.0f kbit/s", what, d, highestKbps)
	}
}
