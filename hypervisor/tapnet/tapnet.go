// Package tapnet owns what vwire does to a host's taps in the kernel's
// traffic control, through netlink (no tc or ip binaries): port mirroring
// and shaping. libvirt cannot do either here: it has no port mirroring, and
// its <bandwidth> needs tc police and sfq, which minimal host kernels lack
// (a domain with <bandwidth> does not start on them).
//
// Port mirroring, as oVirt's VDSM does it with tc mirred but kept right:
// a mirroring tap receives a copy of every frame on its bridge. Every other
// port of the bridge gets, on its clsact ingress, one u32 match-all filter
// whose actions mirror the frame to each mirroring tap of the bridge (mirred
// egress mirror, control pipe, so that later actions and filters still
// run); the bridge device gets the same on its egress, for the frames the
// host itself sends. A watcher re-applies this whenever a link appears,
// goes or changes bridge, so that a VM started later is mirrored too.
//
// Shaping, from the guest's point of view as libvirt's <bandwidth> says it:
// what the guest receives is shaped by an htb on the tap's egress; what it
// sends is redirected from the tap's ingress (the same filter as the
// mirroring, its last action, so that mirror copies happen first) to an
// ifb made for the tap and shaped by an htb there.
//
// The state lives in the kernel, not in a process: a mirroring tap carries
// the alias "vwire:mirror", an ifb the alias "vwire:ifb-of:<tap ifindex>",
// and every change recomputes the filters from what the kernel has
// (reconcile). So applying twice changes nothing, a missed event is
// repaired by the next one, a restarted agent finds its state, and several
// agents (or several backends in one test process) on one kernel agree
// instead of undoing each other's work. vwire touches only its own filter
// (priority FilterPrio, kind u32), its own htb (handle 7e5:) and its ifbs,
// never other qdiscs or filters of a device.
package tapnet

import (
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"vwire.dev/vwire/hypervisor"
)

const (
	// FilterPrio is the priority of vwire's filter on a device's clsact
	// ingress or egress: a priority of its own, so that it is told apart
	// from anyone else's filters.
	FilterPrio = 0x7e5
	// htbMajor is the handle of vwire's root htb (7e5:) and its one class
	// (7e5:1), the default class that all traffic goes through.
	htbMajor = 0x7e5
	htbClass = 1
	// ifbPrefix starts the name of every ifb vwire makes.
	ifbPrefix = "vwq"
	// mirrorAlias marks a mirroring tap; ifbAlias (+ the tap's ifindex)
	// an ifb and the tap it shapes.
	mirrorAlias = "vwire:mirror"
	ifbAlias    = "vwire:ifb-of:"
	// ifbQueue is the frames an ifb queues (its shaper's fifo takes its
	// length from it): at 1 Mbit/s about a second, not ten.
	ifbQueue = 100
	// mtu is the frame size the shaper's minimal burst must pass.
	mtu = 1600
	// settle is how long the watcher waits for a burst of link events
	// (a plug makes several) before it reconciles once.
	settle = 20 * time.Millisecond
)

var (
	clsactHandle = netlink.MakeHandle(0xffff, 0)
	ingress      = uint32(netlink.HANDLE_MIN_INGRESS)
	egress       = uint32(netlink.HANDLE_MIN_EGRESS)
)

// Options configure a Manager.
type Options struct {
	// Namespace is the network namespace the taps live in; none (nil) is
	// the caller's.
	Namespace *netns.NsHandle
	Logger    *slog.Logger
	// NoWatch turns the link watcher off (tests of reconciliation alone).
	NoWatch bool
}

// Manager applies mirroring and shaping to the taps of one namespace.
type Manager struct {
	h   *netlink.Handle
	log *slog.Logger

	// mu orders this process's changes; other processes' changes are
	// met by reading the kernel again.
	mu sync.Mutex
	// touched lists devices this Manager put vwire's filter on, so that
	// it is taken off them when they leave their bridge.
	touched map[int]bool

	kick chan struct{}
	done chan struct{}
	wg   sync.WaitGroup
}

// New opens netlink in the namespace, finds the devices that carry
// vwire's filter (an earlier run's) and starts the watcher. What an
// earlier run applied is in the kernel and stays as it is.
func New(o Options) (*Manager, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	var h *netlink.Handle
	var err error
	if o.Namespace != nil {
		h, err = netlink.NewHandleAt(*o.Namespace, unix.NETLINK_ROUTE)
	} else {
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	}
	if err != nil {
		return nil, sysErr("open netlink", err)
	}
	m := &Manager{h: h, log: o.Logger, touched: map[int]bool{}, kick: make(chan struct{}, 1), done: make(chan struct{})}
	if err := m.sweep(); err != nil {
		h.Close()
		return nil, err
	}
	if !o.NoWatch {
		updates := make(chan netlink.LinkUpdate, 64)
		opts := netlink.LinkSubscribeOptions{Namespace: o.Namespace, ErrorCallback: func(err error) {
			select {
			case <-m.done: // the subscription ending
			default:
				m.log.Warn("tapnet: link watcher", "err", err)
			}
		}}
		if err := netlink.LinkSubscribeWithOptions(updates, m.done, opts); err != nil {
			h.Close()
			return nil, sysErr("subscribe to link events", err)
		}
		m.wg.Add(2)
		go m.watch(updates)
		go m.reconciler()
	}
	return m, nil
}

// sweep looks at every device once for vwire's filter, so that a device
// an earlier run filtered is corrected even after it left its bridge
// (later passes look at bridges with mirroring taps and at what this
// Manager touched).
func (m *Manager) sweep() error {
	links, err := m.linkList()
	if err != nil {
		return sysErr("list links", err)
	}
	for _, l := range links {
		for _, parent := range []uint32{ingress, egress} {
			hops, err := m.ourHops(l.Attrs().Index, parent)
			if err != nil && !isNotFound(err) {
				return sysErr("read the filters of "+l.Attrs().Name, err)
			}
			if len(hops) > 0 {
				m.touched[l.Attrs().Index] = true
			}
		}
	}
	return nil
}

// Close stops the watcher. What is applied stays in the kernel.
func (m *Manager) Close() {
	select {
	case <-m.done:
		return
	default:
	}
	close(m.done)
	m.wg.Wait()
	m.h.Close()
}

func (m *Manager) watch(updates <-chan netlink.LinkUpdate) {
	defer m.wg.Done()
	for {
		select {
		case <-m.done:
			return
		case _, ok := <-updates:
			if !ok {
				return
			}
			select {
			case m.kick <- struct{}{}:
			default:
			}
		}
	}
}

// reconciler runs a reconciliation after each burst of link events.
func (m *Manager) reconciler() {
	defer m.wg.Done()
	for {
		select {
		case <-m.done:
			return
		case <-m.kick:
		}
		select {
		case <-m.done:
			return
		case <-time.After(settle):
		}
		// Events that came during the wait are covered by this pass.
		select {
		case <-m.kick:
		default:
		}
		if err := m.Reconcile(); err != nil {
			m.log.Warn("tapnet: reconcile after link change", "err", err)
		}
	}
}

func sysErr(what string, err error) error {
	return hypervisor.Errorf(hypervisor.ErrSystem, "tapnet: %s: %v", what, err)
}

// SetMirror makes a tap receive a copy of its bridge's traffic, or stop.
func (m *Manager) SetMirror(tap string, on bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, err := m.h.LinkByName(tap)
	if err != nil {
		if !on && isNotFound(err) {
			return m.reconcile()
		}
		return sysErr("find tap "+tap, err)
	}
	if err := m.mark(l, on); err != nil {
		return err
	}
	return m.reconcile()
}

// SetBandwidth shapes a tap's traffic (nil: no limit), replacing what it
// had; a direction no longer limited loses its qdisc, filter and ifb.
func (m *Manager) SetBandwidth(tap string, bw *hypervisor.Bandwidth) error {
	if err := hypervisor.ValidateBandwidth(bw); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l, err := m.h.LinkByName(tap)
	if err != nil {
		if hypervisor.CanonicalBandwidth(bw) == nil && isNotFound(err) {
			return m.reconcile()
		}
		return sysErr("find tap "+tap, err)
	}
	return m.shape(l, hypervisor.CanonicalBandwidth(bw))
}

// Apply sets a tap's mirroring and limits at once (what a live update of
// a vNIC needs).
func (m *Manager) Apply(tap string, mirror bool, bw *hypervisor.Bandwidth) error {
	if err := hypervisor.ValidateBandwidth(bw); err != nil {
		return err
	}
	bw = hypervisor.CanonicalBandwidth(bw)
	m.mu.Lock()
	defer m.mu.Unlock()
	l, err := m.h.LinkByName(tap)
	if err != nil {
		if !mirror && bw == nil && isNotFound(err) {
			return m.reconcile()
		}
		return sysErr("find tap "+tap, err)
	}
	if err := m.mark(l, mirror); err != nil {
		return err
	}
	return m.shape(l, bw)
}

// Forget undoes everything for a tap about to go (or gone): no longer a
// mirror target, no limits, its ifb deleted.
func (m *Manager) Forget(tap string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, err := m.h.LinkByName(tap)
	if err != nil {
		if isNotFound(err) {
			return m.reconcile() // its ifb goes as an orphan
		}
		return sysErr("find tap "+tap, err)
	}
	if err := m.mark(l, false); err != nil {
		return err
	}
	return m.shape(l, nil)
}

// Reconcile brings the kernel's filters in line with the marks (the
// watcher calls it on link events; calling it again changes nothing).
func (m *Manager) Reconcile() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reconcile()
}

// mark sets or clears a tap's mirroring mark.
func (m *Manager) mark(l netlink.Link, mirror bool) error {
	has := l.Attrs().Alias == mirrorAlias
	if has == mirror {
		return nil
	}
	alias := ""
	if mirror {
		alias = mirrorAlias
	}
	if err := m.h.LinkSetAlias(l, alias); err != nil {
		return sysErr("mark "+l.Attrs().Name, err)
	}
	return nil
}

// shape gives a tap its limits: the inbound htb on the tap, the outbound
// ifb and its htb; then the filters follow (reconcile). An ifb no longer
// wanted loses its mark first, so that the redirect to it goes before it.
func (m *Manager) shape(tap netlink.Link, bw *hypervisor.Bandwidth) error {
	idx := tap.Attrs().Index
	var in, out *hypervisor.Rate
	if bw != nil {
		in, out = bw.Inbound, bw.Outbound
	}
	var err error
	if in != nil {
		err = m.shapeRoot(idx, *in)
	} else {
		err = m.unshapeRoot(idx)
	}
	if err != nil {
		return sysErr("inbound limit of "+tap.Attrs().Name, err)
	}
	name := ifbName(tap.Attrs().Name)
	var stale netlink.Link
	if out != nil {
		ifb, err := m.ensureIfb(name, idx)
		if err == nil {
			err = m.shapeRoot(ifb, *out)
		}
		if err != nil {
			return sysErr("outbound limit of "+tap.Attrs().Name, err)
		}
	} else if l, err := m.h.LinkByName(name); err == nil && l.Type() == "ifb" && l.Attrs().Alias == ifbAliasOf(idx) {
		if err := m.h.LinkSetAlias(l, ""); err != nil {
			return sysErr("release "+name, err)
		}
		stale = l
	}
	if err := m.reconcile(); err != nil {
		return err
	}
	if stale != nil {
		if err := m.h.LinkDel(stale); err != nil && !isNotFound(err) {
			return sysErr("delete "+name, err)
		}
	}
	return nil
}

func ifbAliasOf(tapIndex int) string { return ifbAlias + strconv.Itoa(tapIndex) }

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV) || errors.Is(err, os.ErrNotExist)
}

// ifbName is the ifb of a tap: "vwq" + the tap's name, or + a hash of it
// when that would pass Linux's 15 characters.
func ifbName(tap string) string {
	if len(ifbPrefix)+len(tap) <= 15 {
		return ifbPrefix + tap
	}
	h := fnv.New32a()
	h.Write([]byte(tap))
	return fmt.Sprintf("%s%08x", ifbPrefix, h.Sum32())
}

// hop is one action of vwire's filter: mirror to (or redirect to) a device.
type hop struct {
	act   netlink.MirredAct
	index int
}

func (h hop) action() netlink.Action {
	a := netlink.NewMirredAction(h.index)
	a.MirredAction = h.act
	if h.act == netlink.TCA_EGRESS_MIRROR {
		a.Action = netlink.TC_ACT_PIPE
	} else {
		a.Action = netlink.TC_ACT_STOLEN
	}
	return a
}

// linkList lists links, again if the dump was interrupted by a change
// (frequent on a busy host: the list would be partial).
func (m *Manager) linkList() ([]netlink.Link, error) {
	var err error
	for range 5 {
		var links []netlink.Link
		if links, err = m.h.LinkList(); err == nil {
			return links, nil
		}
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	return nil, err
}

// reconcile computes the filters from the kernel's links and marks and
// applies the difference. m.mu is held. Devices that vanish meanwhile are
// skipped: their own link event brings another pass.
func (m *Manager) reconcile() error {
	links, err := m.linkList()
	if err != nil {
		return sysErr("list links", err)
	}
	byIndex := map[int]netlink.Link{}
	ports := map[int][]int{} // bridge → its ports
	for _, l := range links {
		a := l.Attrs()
		byIndex[a.Index] = l
		if a.MasterIndex != 0 {
			ports[a.MasterIndex] = append(ports[a.MasterIndex], a.Index)
		}
	}
	targets := map[int][]int{} // bridge → its mirroring taps
	redirect := map[int]int{}  // tap → its ifb
	var orphans []netlink.Link
	for _, l := range links {
		a := l.Attrs()
		if a.Alias == mirrorAlias {
			if b, ok := byIndex[a.MasterIndex]; ok && b.Type() == "bridge" {
				targets[a.MasterIndex] = append(targets[a.MasterIndex], a.Index)
			}
		}
		if l.Type() == "ifb" && strings.HasPrefix(a.Alias, ifbAlias) {
			tap, err := strconv.Atoi(strings.TrimPrefix(a.Alias, ifbAlias))
			if t, ok := byIndex[tap]; err == nil && ok && ifbName(t.Attrs().Name) == a.Name {
				redirect[tap] = a.Index
			} else {
				orphans = append(orphans, l) // its tap is gone
			}
		}
	}
	for _, t := range targets {
		sort.Ints(t)
	}

	wantIn := map[int][]hop{}
	wantEg := map[int][]hop{}
	devices := map[int]bool{}
	for i := range m.touched {
		devices[i] = true
	}
	for _, l := range links {
		if l.Type() != "bridge" {
			continue
		}
		b := l.Attrs().Index
		for _, t := range targets[b] {
			wantEg[b] = append(wantEg[b], hop{netlink.TCA_EGRESS_MIRROR, t})
		}
		// A bridge with targets, or with vwire's filter still on its
		// egress (its last target just went, perhaps in another
		// process), has all its ports looked at.
		if len(targets[b]) == 0 {
			hops, err := m.ourHops(b, egress)
			if err != nil && !isNotFound(err) {
				return sysErr("read the filters of "+l.Attrs().Name, err)
			}
			if len(hops) == 0 {
				continue
			}
		}
		devices[b] = true
		for _, p := range ports[b] {
			devices[p] = true
			for _, t := range targets[b] {
				if t != p {
					wantIn[p] = append(wantIn[p], hop{netlink.TCA_EGRESS_MIRROR, t})
				}
			}
		}
	}
	// The redirect is the last action: mirror copies are taken first.
	for tap, ifb := range redirect {
		devices[tap] = true
		wantIn[tap] = append(wantIn[tap], hop{netlink.TCA_EGRESS_REDIR, ifb})
	}

	var errs []error
	for idx := range devices {
		l, ok := byIndex[idx]
		if !ok {
			delete(m.touched, idx)
			continue
		}
		if err := m.apply(l, wantIn[idx], wantEg[idx]); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("filters of %s: %w", l.Attrs().Name, err))
		}
	}
	for _, l := range orphans {
		if err := m.h.LinkDel(l); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", l.Attrs().Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return sysErr("apply", err)
	}
	return nil
}
