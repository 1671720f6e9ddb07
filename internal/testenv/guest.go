package testenv

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// GuestDir is where the test guest is built (and cached between runs).
var GuestDir = envOr("VWIRE_GUEST_DIR", "/var/cache/vwire-guest")

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

var guestOnce struct {
	sync.Once
	err error
}

// Guest builds (once per process, cached on disk) the tiny Linux guest of
// testdata/guest and returns its kernel and initramfs paths.
func Guest(t testing.TB) (kernel, initrd string) {
	t.Helper()
	NeedLibvirt(t)
	guestOnce.Do(func() { guestOnce.err = BuildGuest(GuestDir) })
	if guestOnce.err != nil {
		t.Fatal(guestOnce.err)
	}
	return filepath.Join(GuestDir, "vmlinuz"), filepath.Join(GuestDir, "initramfs.cpio.gz")
}

// BuildGuest builds the test guest into dir (vmlinuz, initramfs.cpio.gz)
// unless dir's build is newer than testdata/guest/init. For a caller that
// is not a test (vwire-bench), with the build's output in the error.
func BuildGuest(dir string) error {
	_, self, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(self), "..", "..", "testdata", "guest", "build.sh")
	out, err := exec.Command("bash", script, dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("building the test guest: %v\n%s", err, out)
	}
	return nil
}

// GuestIface is one interface in a guest's status line.
type GuestIface struct {
	Name    string
	Carrier string // "1", "0" or "-"
	Downs   string
	// Rx and Tx are the interface's received and sent packet counts
	// (/sys/class/net/<if>/statistics/{rx,tx}_packets), -1 if not shown.
	Rx, Tx int64
}

// GuestLine is one status line the guest printed.
type GuestLine struct {
	Raw    string
	Ifaces map[string]GuestIface // by MAC
	Pings  map[string]string     // host address → ok/no/-
}

// ParseGuestLine reads "VW up=… eth0=<mac>,carrier=1,downs=0,rx=12,tx=9 … ping=<ip>:ok".
func ParseGuestLine(s string) (GuestLine, bool) {
	if !strings.HasPrefix(s, "VW up=") {
		return GuestLine{}, false
	}
	l := GuestLine{Raw: s, Ifaces: map[string]GuestIface{}, Pings: map[string]string{}}
	for _, f := range strings.Fields(s)[2:] {
		k, v, _ := strings.Cut(f, "=")
		if k == "ping" {
			ip, res, _ := strings.Cut(v, ":")
			l.Pings[ip] = res
			continue
		}
		parts := strings.Split(v, ",")
		ifc := GuestIface{Name: k, Rx: -1, Tx: -1}
		for _, p := range parts[1:] {
			pk, pv, _ := strings.Cut(p, "=")
			switch pk {
			case "carrier":
				ifc.Carrier = pv
			case "downs":
				ifc.Downs = pv
			case "rx", "tx":
				n, err := strconv.ParseInt(pv, 10, 64)
				if err != nil {
					n = -1
				}
				if pk == "rx" {
					ifc.Rx = n
				} else {
					ifc.Tx = n
				}
			}
		}
		l.Ifaces[parts[0]] = ifc
	}
	return l, true
}

// Console follows a guest's serial console log.
type Console struct {
	Path string
	off  int64
}

// Mark forgets everything printed so far: Wait only looks at what comes next.
func (c *Console) Mark() {
	if st, err := os.Stat(c.Path); err == nil {
		c.off = st.Size()
	}
}

// Wait returns the first status line after the mark that satisfies ok, or
// fails the test after timeout with the last line seen.
func (c *Console) Wait(t testing.TB, timeout time.Duration, what string, ok func(GuestLine) bool) GuestLine {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := "(nothing)"
	for time.Now().Before(deadline) {
		f, err := os.Open(c.Path)
		if err == nil {
			f.Seek(c.off, 0)
			r := bufio.NewReader(f)
			for {
				s, err := r.ReadString('\n')
				if err != nil {
					break // a partial line is read again next time
				}
				c.off += int64(len(s))
				if l, isStatus := ParseGuestLine(strings.TrimSpace(s)); isStatus {
					last = l.Raw
					if ok(l) {
						f.Close()
						return l
					}
				}
			}
			f.Close()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("guest never showed %s within %v; last line: %s", what, timeout, last)
	return GuestLine{}
}

// All returns every status line the guest printed so far.
func (c *Console) All(t testing.TB) []GuestLine {
	t.Helper()
	data, err := os.ReadFile(c.Path)
	if err != nil {
		t.Fatal(err)
	}
	var out []GuestLine
	for _, s := range strings.Split(string(data), "\n") {
		if l, ok := ParseGuestLine(strings.TrimSpace(s)); ok {
			out = append(out, l)
		}
	}
	return out
}
