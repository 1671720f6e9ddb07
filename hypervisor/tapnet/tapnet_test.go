package tapnet_test

import (
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"vwire.dev/vwire/hypervisor"
	"vwire.dev/vwire/hypervisor/internal/netnstest"
	"vwire.dev/vwire/hypervisor/tapnet"
)

func newManager(t *testing.T, sw *netnstest.NS) *tapnet.Manager {
	t.Helper()
	m, err := tapnet.New(tapnet.Options{Namespace: &sw.H})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func observe(t *testing.T, m *tapnet.Manager, tap string) tapnet.State {
	t.Helper()
	st, err := m.Observe(tap)
	if err != nil {
		t.Fatalf("Observe %s: %v", tap, err)
	}
	return st
}

// copies counts what reaches e while fn runs.
func copies(e *netnstest.Endpoint, fn func()) uint64 {
	before := e.RxPackets()
	fn()
	return e.RxPackets() - before
}

// noTC asserts that vwire left nothing on the namespace's devices: no
// clsact, no htb, no ifb.
func noTC(t *testing.T, sw *netnstest.NS) {
	t.Helper()
	links, err := sw.L.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if l.Type() == "ifb" {
			t.Errorf("ifb %s left behind", l.Attrs().Name)
		}
		qs, err := sw.L.QdiscList(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			if q.Type() == "clsact" || q.Type() == "htb" {
				t.Errorf("%s left on %s", q.Type(), l.Attrs().Name)
			}
		}
	}
}

// TestMirror: a mirroring "tap" gets a copy of what two other ports
// exchange and of what the host sends on the bridge; a second mirroring tap
// gets copies too (also of the first one's traffic); a port added later is
// mirrored; turning mirroring off stops the copies and leaves nothing.
func TestMirror(t *testing.T) {
	netnstest.Need(t)
	sw := netnstest.NewNS(t)
	sw.Bridge("br0")
	a := sw.Port("pa", "br0", "198.18.0.1")
	b := sw.Port("pb", "br0", "198.18.0.2")
	tgt := sw.Port("pt", "br0", "198.18.0.3")
	m := newManager(t, sw)
	a.Send(b, 1) // resolve addresses first
	if n := copies(tgt, func() { a.Send(b, 200) }); n > 20 {
		t.Fatalf("target got %d packets of a→b before mirroring", n)
	}

	if err := m.SetMirror("pt", true); err != nil {
		t.Fatal(err)
	}
	if !observe(t, m, "pt").Mirror {
		t.Fatal("Observe: pt not reported mirroring")
	}
	if observe(t, m, "pa").Mirror {
		t.Fatal("Observe: pa reported mirroring")
	}
	if n := copies(tgt, func() { a.Send(b, 200) }); n < 200 {
		t.Fatalf("target got %d packets of 200 a→b with mirroring", n)
	}
	if err := m.SetMirror("pt", true); err != nil { // idempotent
		t.Fatal(err)
	}
	// Frames the host itself sends on the bridge (its egress).
	addr, _ := netlink.ParseAddr("198.18.0.254/24")
	if err := sw.L.AddrAdd(sw.Link("br0"), addr); err != nil {
		t.Fatal(err)
	}
	host := &netnstest.Endpoint{NS: sw, IP: addr.IP, Dev: "br0"}
	host.Send(b, 1)
	if n := copies(tgt, func() { host.Send(b, 100) }); n < 100 {
		t.Fatalf("target got %d packets of 100 host→b", n)
	}

	t.Run("SecondTarget", func(t *testing.T) {
		tgt2 := sw.Port("pt2", "br0", "198.18.0.5")
		if err := m.SetMirror("pt2", true); err != nil {
			t.Fatal(err)
		}
		var n1, n2 uint64
		n2 = copies(tgt2, func() { n1 = copies(tgt, func() { a.Send(b, 200) }) })
		if n1 < 200 || n2 < 200 {
			t.Fatalf("a→b copies: first target %d, second %d, want ≥200 each", n1, n2)
		}
		// The first target's own traffic reaches the second.
		tgt.Send(a, 1)
		if n := copies(tgt2, func() { tgt.Send(a, 100) }); n < 100 {
			t.Fatalf("second target got %d of the first target's 100 packets", n)
		}
		if err := m.SetMirror("pt2", false); err != nil {
			t.Fatal(err)
		}
		if n := copies(tgt2, func() { a.Send(b, 200) }); n > 20 {
			t.Fatalf("second target still got %d packets after mirroring off", n)
		}
		if n := copies(tgt, func() { a.Send(b, 200) }); n < 200 {
			t.Fatalf("first target lost its copies (%d) when the second stopped", n)
		}
	})

	t.Run("PortAddedLater", func(t *testing.T) {
		c := sw.Port("pc", "br0", "198.18.0.4")
		netnstest.WaitFor(t, "pc to be mirrored", func() bool { return observe(t, m, "pt").Mirror })
		c.Send(a, 1)
		if n := copies(tgt, func() { c.Send(a, 200) }); n < 200 {
			t.Fatalf("target got %d packets of 200 from a port added later", n)
		}
	})

	t.Run("Off", func(t *testing.T) {
		if err := m.SetMirror("pt", false); err != nil {
			t.Fatal(err)
		}
		if observe(t, m, "pt").Mirror {
			t.Fatal("pt still reported mirroring")
		}
		if n := copies(tgt, func() { a.Send(b, 200) }); n > 20 {
			t.Fatalf("target still got %d packets after mirroring off", n)
		}
		noTC(t, sw)
	})

	t.Run("TapGoes", func(t *testing.T) {
		if err := m.SetMirror("pt", true); err != nil {
			t.Fatal(err)
		}
		if err := sw.L.LinkDel(sw.Link("pt")); err != nil {
			t.Fatal(err)
		}
		// The watcher takes vwire's filters off the other ports.
		netnstest.WaitFor(t, "the filters to go with the tap", func() bool {
			for _, p := range []string{"pa", "pb", "br0"} {
				qs, _ := sw.L.QdiscList(sw.Link(p))
				for _, q := range qs {
					if q.Type() == "clsact" {
						return false
					}
				}
			}
			return true
		})
		noTC(t, sw)
	})
}

// TestForeignFiltersUntouched: a clsact and a filter of someone else on a
// port survive vwire's mirroring coming and going.
func TestForeignFiltersUntouched(t *testing.T) {
	netnstest.Need(t)
	sw := netnstest.NewNS(t)
	sw.Bridge("br0")
	sw.Port("pa", "br0", "198.18.0.1")
	sw.Port("pt", "br0", "198.18.0.3")
	pa := sw.Link("pa")
	if err := sw.L.QdiscAdd(&netlink.Clsact{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: pa.Attrs().Index,
		Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}}); err != nil {
		t.Fatal(err)
	}
	foreign := &netlink.U32{FilterAttrs: netlink.FilterAttrs{LinkIndex: pa.Attrs().Index, Parent: netlink.HANDLE_MIN_INGRESS,
		Priority: 1, Protocol: 0x0003}, Actions: []netlink.Action{netlink.NewMirredAction(sw.Link("br0").Attrs().Index)}}
	foreign.Actions[0].(*netlink.MirredAction).MirredAction = netlink.TCA_EGRESS_MIRROR
	foreign.Actions[0].Attrs().Action = netlink.TC_ACT_PIPE
	if err := sw.L.FilterAdd(foreign); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, sw)
	for _, on := range []bool{true, false} {
		if err := m.SetMirror("pt", on); err != nil {
			t.Fatal(err)
		}
	}
	fs, err := sw.L.FilterList(pa, netlink.HANDLE_MIN_INGRESS)
	if err != nil {
		t.Fatal(err)
	}
	prios := map[uint16]bool{}
	for _, f := range fs {
		prios[f.Attrs().Priority] = true
	}
	if !prios[1] || prios[tapnet.FilterPrio] {
		t.Fatalf("filters on pa after mirroring on and off: priorities %v, want the foreign 1 only", prios)
	}
}

// measure sends paced UDP from one endpoint to another (about 2.8 MB/s)
// and returns the bytes per second the receiver got in a half-second
// window starting 100 ms after the first datagram arrived (what was queued
// before is drained by then: the shaper's queue is a fifo).
func measure(t *testing.T, from, to *netnstest.Endpoint, port int) float64 {
	t.Helper()
	rx := to.Listen(port)
	tx := from.UDPTo(to, port)
	var stop atomic.Bool
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		buf := make([]byte, 1400)
		tick := time.NewTicker(500 * time.Microsecond)
		defer tick.Stop()
		for end := time.Now().Add(6 * time.Second); !stop.Load() && time.Now().Before(end); {
			<-tick.C
			tx.Write(buf)
		}
	}()
	defer func() { stop.Store(true); <-sent }()
	buf := make([]byte, 2048)
	rx.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := rx.Read(buf); err != nil {
		t.Fatalf("nothing received %s→%s: %v", from.IP, to.IP, err)
	}
	first := time.Now()
	from0, until := first.Add(100*time.Millisecond), first.Add(600*time.Millisecond)
	var bytes int
	rx.SetReadDeadline(until)
	for {
		n, err := rx.Read(buf)
		if err != nil {
			break
		}
		if time.Now().After(from0) {
			bytes += n + 42 // Ethernet, IP and UDP headers: what the shaper counts
		}
	}
	return float64(bytes) / until.Sub(from0).Seconds()
}

// near asserts a measured rate is within 30% of want (bytes/s).
func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	t.Logf("%s: %.0f B/s (limit %.0f)", what, got, want)
	if got < want*0.7 || got > want*1.3 {
		t.Errorf("%s: %.0f B/s, want %.0f ±30%%", what, got, want)
	}
}

func unlimited(t *testing.T, what string, got float64) {
	t.Helper()
	t.Logf("%s: %.0f B/s (no limit)", what, got)
	if got < 4*125000 {
		t.Errorf("%s: %.0f B/s, want well above 1 Mbit/s with no limit", what, got)
	}
}

// TestShaping: a 1 Mbit/s limit holds a real transfer in each direction,
// raising it live raises the rate, and removing it removes the limit and
// everything vwire added (the stale limits of oVirt's 2024/2025 bugs).
func TestShaping(t *testing.T) {
	netnstest.Need(t)
	sw := netnstest.NewNS(t)
	sw.Bridge("br0")
	peer := sw.Port("pp", "br0", "198.18.1.1")
	guest := sw.Port("pg", "br0", "198.18.1.2")
	m := newManager(t, sw)
	mbit := &hypervisor.Rate{Average: 125} // 1 Mbit/s in KB/s

	if err := m.SetBandwidth("pg", &hypervisor.Bandwidth{Inbound: mbit}); err != nil {
		t.Fatal(err)
	}
	if got := observe(t, m, "pg").Bandwidth; !reflect.DeepEqual(got, &hypervisor.Bandwidth{Inbound: mbit}) {
		t.Fatalf("Observe = %+v, want inbound %+v only", got, *mbit)
	}
	near(t, "inbound at 1 Mbit/s", measure(t, peer, guest, 5001), 125000)
	unlimited(t, "outbound while only inbound is limited", measure(t, guest, peer, 5002))

	both := &hypervisor.Bandwidth{Inbound: mbit, Outbound: mbit}
	if err := m.SetBandwidth("pg", both); err != nil {
		t.Fatal(err)
	}
	if got := observe(t, m, "pg").Bandwidth; !reflect.DeepEqual(got, both) {
		t.Fatalf("Observe = %+v, want %+v", got, both)
	}
	near(t, "outbound at 1 Mbit/s", measure(t, guest, peer, 5003), 125000)

	two := &hypervisor.Rate{Average: 250, Peak: 250, Burst: 32}
	raised := &hypervisor.Bandwidth{Inbound: two, Outbound: two}
	if err := m.SetBandwidth("pg", raised); err != nil {
		t.Fatal(err)
	}
	if got, want := observe(t, m, "pg").Bandwidth, hypervisor.CanonicalBandwidth(raised); !reflect.DeepEqual(got, want) {
		t.Fatalf("Observe = %+v, want %+v", got, want)
	}
	near(t, "inbound raised to 2 Mbit/s", measure(t, peer, guest, 5004), 250000)
	near(t, "outbound raised to 2 Mbit/s", measure(t, guest, peer, 5005), 250000)

	if err := m.SetBandwidth("pg", nil); err != nil {
		t.Fatal(err)
	}
	if got := observe(t, m, "pg").Bandwidth; got != nil {
		t.Fatalf("Observe after removal = %+v, want nil", got)
	}
	noTC(t, sw)
	unlimited(t, "inbound after removal", measure(t, peer, guest, 5006))
	unlimited(t, "outbound after removal", measure(t, guest, peer, 5007))
}

// TestShapingAndMirroringShareIngress: an outbound-limited tap that other
// taps mirror still has its frames copied (mirror actions before the
// redirect), and each feature leaves when turned off without the other's
// state going.
func TestShapingAndMirroringShareIngress(t *testing.T) {
	netnstest.Need(t)
	sw := netnstest.NewNS(t)
	sw.Bridge("br0")
	peer := sw.Port("pp", "br0", "198.18.2.1")
	guest := sw.Port("pg", "br0", "198.18.2.2")
	tgt := sw.Port("pt", "br0", "198.18.2.3")
	m := newManager(t, sw)
	if err := m.SetMirror("pt", true); err != nil {
		t.Fatal(err)
	}
	bw := &hypervisor.Bandwidth{Outbound: &hypervisor.Rate{Average: 1000}}
	if err := m.SetBandwidth("pg", bw); err != nil {
		t.Fatal(err)
	}
	guest.Send(peer, 1)
	if n := copies(tgt, func() { guest.Send(peer, 200) }); n < 200 {
		t.Fatalf("target got %d of 200 packets from the shaped tap", n)
	}
	// Fewer than the shaper queues (ifbQueue): none is dropped.
	if n := copies(peer, func() { guest.Send(peer, 50) }); n < 50 {
		t.Fatalf("peer got %d of 50 packets through the shaper", n)
	}
	if err := m.SetMirror("pt", false); err != nil {
		t.Fatal(err)
	}
	if got := observe(t, m, "pg").Bandwidth; !reflect.DeepEqual(got, bw) {
		t.Fatalf("limit after mirroring off = %+v, want %+v", got, bw)
	}
	if err := m.Forget("pg"); err != nil {
		t.Fatal(err)
	}
	noTC(t, sw)
}

// TestAdoptsAfterRestart: a new Manager (a restarted agent) reports and
// keeps what the previous one applied, and can take it away.
func TestAdoptsAfterRestart(t *testing.T) {
	netnstest.Need(t)
	sw := netnstest.NewNS(t)
	sw.Bridge("br0")
	sw.Port("pa", "br0", "198.18.3.1")
	sw.Port("pt", "br0", "198.18.3.2")
	m1, err := tapnet.New(tapnet.Options{Namespace: &sw.H})
	if err != nil {
		t.Fatal(err)
	}
	bw := &hypervisor.Bandwidth{Inbound: &hypervisor.Rate{Average: 500, Peak: 1000, Burst: 64}, Outbound: &hypervisor.Rate{Average: 300}}
	if err := m1.SetMirror("pt", true); err != nil {
		t.Fatal(err)
	}
	if err := m1.SetBandwidth("pt", bw); err != nil {
		t.Fatal(err)
	}
	m1.Close()
	m2 := newManager(t, sw)
	st := observe(t, m2, "pt")
	if !st.Mirror || !reflect.DeepEqual(st.Bandwidth, bw) {
		t.Fatalf("after restart: %+v, want mirroring and %+v", st, bw)
	}
	// A reconcile of the adopted state changes nothing.
	if err := m2.Reconcile(); err != nil {
		t.Fatal(err)
	}
	if st2 := observe(t, m2, "pt"); !reflect.DeepEqual(st, st2) {
		t.Fatalf("reconcile changed the adopted state: %+v → %+v", st, st2)
	}
	if err := m2.Forget("pt"); err != nil {
		t.Fatal(err)
	}
	noTC(t, sw)
}

// TestTwoManagersAgree: two Managers on one kernel (two agents, or two
// backends in one test process) keep each other's mirroring and limits.
func TestTwoManagersAgree(t *testing.T) {
	netnstest.Need(t)
	sw := netnstest.NewNS(t)
	sw.Bridge("br0")
	a := sw.Port("pa", "br0", "198.18.8.1")
	b := sw.Port("pb", "br0", "198.18.8.2")
	t1 := sw.Port("pt1", "br0", "198.18.8.3")
	t2 := sw.Port("pt2", "br0", "198.18.8.4")
	m1, m2 := newManager(t, sw), newManager(t, sw)
	// The copies a target gets are shaped by its inbound limit too: one
	// high enough that a burst of small frames is not dropped.
	bw := &hypervisor.Bandwidth{Inbound: &hypervisor.Rate{Average: 125000}, Outbound: &hypervisor.Rate{Average: 300}}
	if err := m1.Apply("pt1", true, bw); err != nil {
		t.Fatal(err)
	}
	if err := m2.Apply("pt2", true, bw); err != nil {
		t.Fatal(err)
	}
	// Both watchers have had their turn at the link changes.
	time.Sleep(100 * time.Millisecond)
	for _, m := range []*tapnet.Manager{m1, m2} {
		for _, tap := range []string{"pt1", "pt2"} {
			if st := observe(t, m, tap); !st.Mirror || !reflect.DeepEqual(st.Bandwidth, bw) {
				t.Fatalf("%s seen by a Manager: mirror %v, %s, want mirroring and %s", tap, st.Mirror, bwText(st.Bandwidth), bwText(bw))
			}
		}
	}
	a.Send(b, 1)
	var n1, n2 uint64
	n2 = copies(t2, func() { n1 = copies(t1, func() { a.Send(b, 200) }) })
	if n1 < 200 || n2 < 200 {
		t.Fatalf("copies: %d and %d, want ≥200 each", n1, n2)
	}
	if err := m1.Forget("pt1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if st := observe(t, m1, "pt2"); !st.Mirror || !reflect.DeepEqual(st.Bandwidth, bw) {
		t.Fatalf("pt2 after the other Manager forgot pt1: %+v", st)
	}
	if st := observe(t, m2, "pt1"); st.Mirror || st.Bandwidth != nil {
		t.Fatalf("pt1 after Forget: %+v", st)
	}
	if err := m2.Forget("pt2"); err != nil {
		t.Fatal(err)
	}
	noTC(t, sw)
}

// TestDuplicateRuleRemoved: a second vwire rule on a port (two agents
// that added it at the same moment) is removed, and the frames are still
// copied once.
func TestDuplicateRuleRemoved(t *testing.T) {
	netnstest.Need(t)
	sw := netnstest.NewNS(t)
	sw.Bridge("br0")
	a := sw.Port("pa", "br0", "198.18.9.1")
	b := sw.Port("pb", "br0", "198.18.9.2")
	tgt := sw.Port("pt", "br0", "198.18.9.3")
	m := newManager(t, sw)
	if err := m.SetMirror("pt", true); err != nil {
		t.Fatal(err)
	}
	pa := sw.Link("pa")
	dup := &netlink.U32{FilterAttrs: netlink.FilterAttrs{LinkIndex: pa.Attrs().Index, Parent: netlink.HANDLE_MIN_INGRESS,
		Priority: tapnet.FilterPrio, Protocol: 0x0003}, Actions: []netlink.Action{netlink.NewMirredAction(sw.Link("pt").Attrs().Index)}}
	dup.Actions[0].(*netlink.MirredAction).MirredAction = netlink.TCA_EGRESS_MIRROR
	dup.Actions[0].Attrs().Action = netlink.TC_ACT_PIPE
	if err := sw.L.FilterAdd(dup); err != nil {
		t.Fatal(err)
	}
	rules := func() int {
		fs, err := sw.L.FilterList(pa, netlink.HANDLE_MIN_INGRESS)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, f := range fs {
			if u, ok := f.(*netlink.U32); ok && u.Priority == tapnet.FilterPrio && len(u.Actions) > 0 {
				n++
			}
		}
		return n
	}
	if n := rules(); n != 2 {
		t.Fatalf("%d rules before reconcile, want the 2 made", n)
	}
	if err := m.Reconcile(); err != nil {
		t.Fatal(err)
	}
	if n := rules(); n != 1 {
		t.Fatalf("%d rules after reconcile, want 1", n)
	}
	a.Send(b, 1)
	if n := copies(tgt, func() { a.Send(b, 100) }); n < 100 || n > 110 {
		t.Fatalf("the target got %d copies of 100, want one each", n)
	}
}

// TestPortLeavingBridgeAfterRestart: a port that leaves a mirrored bridge
// after the agent restarted loses vwire's filter (its frames must not go
// on being copied to the old bridge's mirroring taps).
func TestPortLeavingBridgeAfterRestart(t *testing.T) {
	netnstest.Need(t)
	sw := netnstest.NewNS(t)
	sw.Bridge("br0")
	sw.Bridge("br1")
	sw.Port("pa", "br0", "198.18.11.1")
	sw.Port("pt", "br0", "198.18.11.2")
	m1, err := tapnet.New(tapnet.Options{Namespace: &sw.H})
	if err != nil {
		t.Fatal(err)
	}
	if err := m1.SetMirror("pt", true); err != nil {
		t.Fatal(err)
	}
	m1.Close()
	m2 := newManager(t, sw)
	if err := sw.L.LinkSetMaster(sw.Link("pa"), sw.Link("br1")); err != nil {
		t.Fatal(err)
	}
	if err := m2.Reconcile(); err != nil {
		t.Fatal(err)
	}
	qs, err := sw.L.QdiscList(sw.Link("pa"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		if q.Type() == "clsact" {
			t.Fatal("pa left the mirrored bridge and kept vwire's filter")
		}
	}
	if !observe(t, m2, "pt").Mirror {
		t.Fatal("pt lost its mirroring")
	}
}

func TestRefusesInvalidBandwidth(t *testing.T) {
	netnstest.Need(t)
	sw := netnstest.NewNS(t)
	sw.Port("pg", "", "198.18.4.1")
	m := newManager(t, sw)
	err := m.SetBandwidth("pg", &hypervisor.Bandwidth{Inbound: &hypervisor.Rate{Average: 0}})
	if he, ok := err.(*hypervisor.Error); !ok || he.Code != hypervisor.ErrXMLDetail || !strings.Contains(he.Message, "average") {
		t.Fatalf("SetBandwidth with no average: %v", err)
	}
	noTC(t, sw)
}

func bwText(b *hypervisor.Bandwidth) string {
	if b == nil {
		return "no limit"
	}
	r := func(r *hypervisor.Rate) string {
		if r == nil {
			return "-"
		}
		return fmt.Sprintf("%d/%d/%d", r.Average, r.Peak, r.Burst)
	}
	return "in " + r(b.Inbound) + " out " + r(b.Outbound)
}
