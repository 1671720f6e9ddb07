// Package testenv gives tests the real components they need (a libvirt
// daemon, Linux bridges, domains) and decides when a test may skip: locally
// a missing component is a skip with its reason, under CI=true it is a failure.
package testenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"vwire.dev/vwire/hypervisor"
)

// LibvirtSocket is where libvirtd listens.
const LibvirtSocket = "/run/libvirt/libvirt-sock"

// CI tells whether the tests run in CI, where nothing may be skipped.
func CI() bool { return os.Getenv("CI") == "true" }

// Need skips (locally) or fails (CI) a test whose component is missing.
func Need(t testing.TB, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if CI() {
		t.Fatalf("%s is required under CI=true (.ci/run sets it up)", what)
	}
	t.Skipf("skipping: %s is not available here (bash .ci/run sets it up as root)", what)
}

// NeedLibvirt requires a running libvirtd with QEMU, and root for bridges.
func NeedLibvirt(t testing.TB) {
	t.Helper()
	_, err := os.Stat(LibvirtSocket)
	Need(t, err == nil && os.Geteuid() == 0, "a running libvirtd ("+LibvirtSocket+") and root")
}

var bridgeSeq struct {
	sync.Mutex
	n int
}

// Bridge creates a Linux bridge for the rest of the test and returns its
// name; an empty name gets a unique one ("vw" + 13 characters).
func Bridge(t testing.TB, name string) string {
	t.Helper()
	if name == "" {
		bridgeSeq.Lock()
		bridgeSeq.n++
		name = fmt.Sprintf("vw%d%s", bridgeSeq.n%10, strings.ReplaceAll(uuid.NewString(), "-", "")[:12])
		bridgeSeq.Unlock()
	}
	// No STP and no forwarding delay: a port forwards as soon as it joins.
	for _, args := range [][]string{{"link", "add", name, "type", "bridge", "stp_state", "0", "forward_delay", "0"}, {"link", "set", name, "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", name).Run() })
	return name
}

// Master returns the bridge a host interface (a tap) is enslaved to.
func Master(t testing.TB, dev string) string {
	t.Helper()
	target, err := os.Readlink("/sys/class/net/" + dev + "/master")
	if err != nil {
		return ""
	}
	return target[strings.LastIndex(target, "/")+1:]
}

// Virsh runs virsh on qemu:///system and returns its trimmed output.
func Virsh(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("virsh", append([]string{"-c", "qemu:///system"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("virsh %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// EjectPCISlot plays a guest kernel's part of a PCI hot-unplug on a pc
// machine: it writes the slot's bit to PIIX4's ACPI eject register (port
// 0xae08) until gone reports the device removed, for up to 10 s.
func EjectPCISlot(t testing.TB, domainID string, slot int, gone func() bool) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		exec.Command("virsh", "-c", "qemu:///system", "qemu-monitor-command", domainID, "--hmp",
			fmt.Sprintf("o /w 0xae08 0x%x", 1<<slot)).Run()
		if gone() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Domain starts a small domain with one vNIC on bridge and destroys it at the end.
func Domain(t testing.TB, hv hypervisor.Hypervisor, bridge string) (string, hypervisor.NIC) {
	t.Helper()
	id := uuid.NewString()
	nic := hypervisor.NIC{Alias: "ua-" + uuid.NewString(), MAC: "02:00:00:bb:00:01", Model: "virtio", Bridge: bridge, LinkUp: true}
	if _, err := hv.CreateDomain(context.Background(), hypervisor.Domain{ID: id, Name: "vwt-" + id[:8], MemoryMiB: 64, NICs: []hypervisor.NIC{nic}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hv.DestroyDomain(context.Background(), id) })
	return id, nic
}

// SocketProxy forwards a unix socket to another; Cut drops every connection
// and refuses new ones for a while, which a client sees as a daemon restart.
type SocketProxy struct {
	Path   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

// NewSocketProxy listens on a new socket in a temporary directory.
func NewSocketProxy(t testing.TB, target string) *SocketProxy {
	t.Helper()
	p := &SocketProxy{Path: t.TempDir() + "/proxy.sock", target: target}
	p.listen(t)
	t.Cleanup(func() { p.Cut(0) })
	return p
}

func (p *SocketProxy) listen(t testing.TB) {
	ln, err := net.Listen("unix", p.Path)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("unix", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

// Cut closes every connection and the listener; after down it listens again
// (down 0: never).
func (p *SocketProxy) Cut(down time.Duration) {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	os.Remove(p.Path)
	if down > 0 {
		time.Sleep(down)
		p.listen(nilTB{})
	}
}

// nilTB lets listen run outside a test's goroutine; a failure to listen
// again shows as the client never reconnecting.
type nilTB struct{ testing.TB }

func (nilTB) Fatal(args ...any) {}

// Postgres returns the URL of a new, empty database on the server named by
// VWIRE_TEST_POSTGRES (an admin URL), dropped at the end of the test.
func Postgres(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("VWIRE_TEST_POSTGRES")
	Need(t, admin != "", "PostgreSQL (VWIRE_TEST_POSTGRES=postgres://…)")
	name := "vwt_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	psql := func(sql string) error {
		out, err := exec.Command("psql", admin, "-v", "ON_ERROR_STOP=1", "-qc", sql).CombinedOutput()
		if err != nil {
			return fmt.Errorf("psql %q: %v: %s", sql, err, out)
		}
		return nil
	}
	if err := psql("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { psql("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
