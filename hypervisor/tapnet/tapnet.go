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
// Every change recomputes the whole wanted state from what is asked and
// what the kernel has (reconcile), so applying twice changes nothing and a
// missed event is repaired by the next one. vwire touches only its own
// filter (priority FilterPrio, kind u32) and its own htb (handle 7e5:),
// never other qdiscs or filters of a device.
package tapnet

import (
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"os"
	"slices"
	"sort"
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
	// Namespace is the network namespace the taps live in; none (the
	// zero value) is the caller's.
	Namespace *netns.NsHandle
	Logger    *slog.Logger
	// NoWatch turns the link watcher off (tests of reconciliation alone).
	NoWatch bool
}

// Manager applies mirroring and shaping to the taps of one namespace.
type Manager struct {
	h   *netlink.Handle
	log *slog.Logger

	mu sync.Mutex
	// mirrors and shapes are what was asked, by tap name, with the
	// ifindex the tap had then: a tap of the same name made later is
	// another device and gets nothing of it.
	mirrors map[string]int
	shapes  map[string]shape
	// touched lists devices that carry vwire's filter, so that it is
	// removed from them once no longer wanted.
	touched map[int]bool
	// htbs lists devices that carry vwire's root htb.
	htbs map[int]bool

	kick chan struct{}
	done chan struct{}
	wg   sync.WaitGroup
}

type shape struct {
	index int
	bw    hypervisor.Bandwidth
}

// New opens netlink in the namespace, adopts the state a previous run left
// (so that a restarted agent keeps running VMs' mirroring and limits until
// it is told otherwise) and starts the watcher.
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
	m := &Manager{h: h, log: o.Logger, mirrors: map[string]int{}, shapes: map[string]shape{}, touched: map[int]bool{}, htbs: map[int]bool{},
		kick: make(chan struct{}, 1), done: make(chan struct{})}
	if err := m.adopt(); err != nil {
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
	if err := m.want(tap, &on, nil, false); err != nil {
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
	if err := m.want(tap, nil, bw, true); err != nil {
		return err
	}
	return m.reconcile()
}

// Apply sets a tap's mirroring and limits at once (one pass over the
// kernel's state: what a live update of a vNIC needs).
func (m *Manager) Apply(tap string, mirror bool, bw *hypervisor.Bandwidth) error {
	if err := hypervisor.ValidateBandwidth(bw); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.want(tap, &mirror, bw, true); err != nil {
		return err
	}
	return m.reconcile()
}

// want records what is asked for a tap (mirror nil: unchanged; the
// bandwidth only if setBW). Turning things off needs no tap: a tap that is
// gone has nothing left to turn off.
func (m *Manager) want(tap string, mirror *bool, bw *hypervisor.Bandwidth, setBW bool) error {
	bw = hypervisor.CanonicalBandwidth(bw)
	if (mirror == nil || !*mirror) && (!setBW || bw == nil) {
		if mirror != nil {
			delete(m.mirrors, tap)
		}
		if setBW {
			delete(m.shapes, tap)
		}
		return nil
	}
	l, err := m.h.LinkByName(tap)
	if err != nil {
		return sysErr("find tap "+tap, err)
	}
	idx := l.Attrs().Index
	if mirror != nil {
		if *mirror {
			m.mirrors[tap] = idx
		} else {
			delete(m.mirrors, tap)
		}
	}
	if setBW {
		if bw == nil {
			delete(m.shapes, tap)
		} else {
			m.shapes[tap] = shape{index: idx, bw: *bw}
		}
	}
	return nil
}

// Forget undoes everything for a tap about to go (or gone): no longer a
// mirror target, no limits, its ifb deleted.
func (m *Manager) Forget(tap string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.mirrors, tap)
	delete(m.shapes, tap)
	return m.reconcile()
}

// Reconcile brings the kernel to the wanted state (the watcher calls it on
// link events; calling it again changes nothing).
func (m *Manager) Reconcile() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reconcile()
}

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

// reconcile computes the wanted filters and shapers from what was asked
// and the links the kernel has, and applies the difference. m.mu is held.
func (m *Manager) reconcile() error {
	links, err := m.h.LinkList()
	if err != nil {
		return sysErr("list links", err)
	}
	byName := map[string]netlink.Link{}
	byIndex := map[int]netlink.Link{}
	for _, l := range links {
		byName[l.Attrs().Name] = l
		byIndex[l.Attrs().Index] = l
	}
	// What was asked for a device that is gone (or was replaced by
	// another of the same name) goes with it.
	for tap, idx := range m.mirrors {
		if l := byName[tap]; l == nil || l.Attrs().Index != idx {
			delete(m.mirrors, tap)
		}
	}
	for tap, s := range m.shapes {
		if l := byName[tap]; l == nil || l.Attrs().Index != s.index {
			delete(m.shapes, tap)
		}
	}

	// Mirror targets per bridge, in a stable order.
	targets := map[int][]int{}
	for _, idx := range m.mirrors {
		master := byIndex[idx].Attrs().MasterIndex
		if b, ok := byIndex[master]; ok && b.Type() == "bridge" {
			targets[master] = append(targets[master], idx)
		}
	}
	for _, t := range targets {
		sort.Ints(t)
	}
	wantIn := map[int][]hop{}
	wantEg := map[int][]hop{}
	for _, l := range links {
		a := l.Attrs()
		for _, t := range targets[a.MasterIndex] {
			if t != a.Index {
				wantIn[a.Index] = append(wantIn[a.Index], hop{netlink.TCA_EGRESS_MIRROR, t})
			}
		}
		if t := targets[a.Index]; len(t) > 0 && l.Type() == "bridge" {
			for _, t := range t {
				wantEg[a.Index] = append(wantEg[a.Index], hop{netlink.TCA_EGRESS_MIRROR, t})
			}
		}
	}

	var errs []error
	// Shapers first: an ifb must exist before a filter redirects to it.
	wantHTB := map[int]hypervisor.Rate{}
	wantIfb := map[string]bool{}
	for tap, s := range m.shapes {
		if s.bw.Inbound != nil {
			wantHTB[s.index] = *s.bw.Inbound
		}
		if s.bw.Outbound == nil {
			continue
		}
		ifb, err := m.ensureIfb(ifbName(tap), byName)
		if err != nil {
			errs = append(errs, fmt.Errorf("outbound limit of %s: %w", tap, err))
			continue
		}
		wantIfb[ifbName(tap)] = true
		wantHTB[ifb] = *s.bw.Outbound
		// The redirect is the last action: mirror copies are taken first.
		wantIn[s.index] = append(wantIn[s.index], hop{netlink.TCA_EGRESS_REDIR, ifb})
	}
	for idx, r := range wantHTB {
		if err := m.shapeRoot(idx, r); err != nil {
			errs = append(errs, fmt.Errorf("limit of %s: %w", nameOf(byIndex, idx), err))
			continue
		}
		m.htbs[idx] = true
	}
	// Devices whose limit was lifted lose vwire's htb.
	for idx := range m.htbs {
		if _, ok := wantHTB[idx]; ok {
			continue
		}
		if _, ok := byIndex[idx]; ok {
			if err := m.unshapeRoot(idx); err != nil {
				errs = append(errs, fmt.Errorf("lift the limit of %s: %w", nameOf(byIndex, idx), err))
				continue
			}
		}
		delete(m.htbs, idx)
	}

	devices := map[int]bool{}
	for i := range m.touched {
		devices[i] = true
	}
	for i := range wantIn {
		devices[i] = true
	}
	for i := range wantEg {
		devices[i] = true
	}
	for idx := range devices {
		l, ok := byIndex[idx]
		if !ok {
			delete(m.touched, idx)
			continue
		}
		if err := m.apply(l, wantIn[idx], wantEg[idx]); err != nil {
			errs = append(errs, fmt.Errorf("filters of %s: %w", l.Attrs().Name, err))
		}
	}
	// An ifb nobody redirects to any more goes, after its redirect did.
	for _, l := range links {
		a := l.Attrs()
		if l.Type() == "ifb" && len(a.Name) > len(ifbPrefix) && a.Name[:len(ifbPrefix)] == ifbPrefix && !wantIfb[a.Name] {
			if err := m.h.LinkDel(l); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("delete %s: %w", a.Name, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return sysErr("apply", err)
	}
	return nil
}

// ensureIfb makes (or finds) an ifb and brings it up; it returns its index.
func (m *Manager) ensureIfb(name string, byName map[string]netlink.Link) (int, error) {
	l, ok := byName[name]
	if !ok {
		if err := m.h.LinkAdd(&netlink.Ifb{LinkAttrs: netlink.LinkAttrs{Name: name, TxQLen: ifbQueue}}); err != nil && !errors.Is(err, unix.EEXIST) {
			return 0, err
		}
		var err error
		if l, err = m.h.LinkByName(name); err != nil {
			return 0, err
		}
	}
	if l.Attrs().Flags&unix.IFF_UP == 0 {
		if err := m.h.LinkSetUp(l); err != nil {
			return 0, err
		}
	}
	return l.Attrs().Index, nil
}

// apply puts vwire's filter on a device's ingress and egress with the
// hops wanted, or takes it away; it leaves every other filter alone.
func (m *Manager) apply(l netlink.Link, in, eg []hop) error {
	idx := l.Attrs().Index
	if len(in) == 0 && len(eg) == 0 && !m.touched[idx] {
		return nil
	}
	qs, err := m.h.QdiscList(l)
	if err != nil {
		return err
	}
	hasClsact := slices.ContainsFunc(qs, func(q netlink.Qdisc) bool { return q.Type() == "clsact" })
	if !hasClsact {
		if len(in) == 0 && len(eg) == 0 {
			delete(m.touched, idx)
			return nil
		}
		if err := m.h.QdiscAdd(&netlink.Clsact{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: idx, Handle: clsactHandle, Parent: netlink.HANDLE_CLSACT}}); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("add clsact: %w", err)
		}
	}
	m.touched[idx] = true
	left := 0
	for _, p := range []struct {
		parent uint32
		hops   []hop
	}{{ingress, in}, {egress, eg}} {
		others, err := m.setFilter(idx, p.parent, p.hops)
		if err != nil {
			return err
		}
		left += others
	}
	if len(in) == 0 && len(eg) == 0 {
		delete(m.touched, idx)
		// The clsact goes with vwire's last filter, unless someone
		// else's filters are on it.
		if left == 0 {
			err := m.h.QdiscDel(&netlink.Clsact{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: idx, Handle: clsactHandle, Parent: netlink.HANDLE_CLSACT}})
			if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) && !isNotFound(err) {
				return fmt.Errorf("delete clsact: %w", err)
			}
		}
	}
	return nil
}

// setFilter makes vwire's filter at parent carry hops (none: no filter),
// changing it only if it differs; it returns how many other filters the
// parent has.
func (m *Manager) setFilter(idx int, parent uint32, hops []hop) (int, error) {
	fs, err := m.h.FilterList(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: idx}}, parent)
	if err != nil {
		return 0, fmt.Errorf("list filters: %w", err)
	}
	var ours []netlink.Filter
	others := 0
	for _, f := range fs {
		if f.Attrs().Priority == FilterPrio {
			ours = append(ours, f)
		} else {
			others++
		}
	}
	if len(hops) == 0 {
		for _, f := range ours {
			if err := m.h.FilterDel(f); err != nil && !errors.Is(err, unix.ENOENT) {
				return others, fmt.Errorf("delete filter: %w", err)
			}
		}
		return others, nil
	}
	// u32 lists its hash table as a filter too; the one with actions is
	// the rule. It is kept if it already does what is wanted.
	var handle uint32
	for _, f := range ours {
		if u, ok := f.(*netlink.U32); ok && len(u.Actions) > 0 {
			if slices.Equal(hopsOf(u), hops) {
				return others, nil
			}
			handle = u.Handle
		}
	}
	f := &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{LinkIndex: idx, Parent: parent, Priority: FilterPrio, Protocol: unix.ETH_P_ALL, Handle: handle},
	}
	for _, h := range hops {
		f.Actions = append(f.Actions, h.action())
	}
	if handle != 0 {
		err = m.h.FilterReplace(f)
	} else {
		err = m.h.FilterAdd(f)
	}
	if err != nil {
		return others, fmt.Errorf("set filter: %w", err)
	}
	return others, nil
}

// hopsOf reads back the hops of a filter's mirred actions.
func hopsOf(u *netlink.U32) []hop {
	var out []hop
	for _, a := range u.Actions {
		if mr, ok := a.(*netlink.MirredAction); ok {
			out = append(out, hop{mr.MirredAction, mr.Ifindex})
		}
	}
	return out
}

func nameOf(byIndex map[int]netlink.Link, idx int) string {
	if l, ok := byIndex[idx]; ok {
		return l.Attrs().Name
	}
	return fmt.Sprintf("ifindex %d", idx)
}

// shapeRoot gives a device vwire's root htb with one default class at
// rate r (unshapeRoot lifts the limit).
func (m *Manager) shapeRoot(idx int, r hypervisor.Rate) error {
	link := &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: idx}}
	qs, err := m.h.QdiscList(link)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(qs, isOurHTB) {
		q := netlink.NewHtb(netlink.QdiscAttrs{LinkIndex: idx, Handle: netlink.MakeHandle(htbMajor, 0), Parent: netlink.HANDLE_ROOT})
		q.Defcls = htbClass
		if err := m.h.QdiscReplace(q); err != nil {
			return fmt.Errorf("add htb: %w", err)
		}
	}
	want := htbClassFor(idx, r)
	cs, err := m.h.ClassList(link, netlink.MakeHandle(htbMajor, 0))
	if err != nil {
		return err
	}
	for _, c := range cs {
		if h, ok := c.(*netlink.HtbClass); ok && h.Handle == want.Handle && h.Rate == want.Rate && h.Ceil == want.Ceil &&
			h.Buffer == want.Buffer && h.Cbuffer == want.Cbuffer {
			return nil
		}
	}
	// Replacing the class changes the limit in place: no moment without one.
	if err := m.h.ClassReplace(want); err != nil {
		return fmt.Errorf("set htb class: %w", err)
	}
	return nil
}

func isOurHTB(q netlink.Qdisc) bool {
	return q.Type() == "htb" && q.Attrs().Parent == netlink.HANDLE_ROOT && q.Attrs().Handle == netlink.MakeHandle(htbMajor, 0)
}

// unshapeRoot removes vwire's root htb; the kernel puts back the default.
func (m *Manager) unshapeRoot(idx int) error {
	qs, err := m.h.QdiscList(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: idx}})
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return err
	}
	for _, q := range qs {
		if isOurHTB(q) {
			if err := m.h.QdiscDel(q); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("delete htb: %w", err)
			}
		}
	}
	return nil
}

// htbClassFor turns a Rate (KB/s of 1000 bytes, burst in KiB) into the
// class: rate = average, ceil = peak (or average), buffer = burst, or the
// shaper's minimum (one tick's worth of the rate and a full frame).
func htbClassFor(idx int, r hypervisor.Rate) *netlink.HtbClass {
	peak := max(r.Peak, r.Average)
	attrs := netlink.HtbClassAttrs{Rate: uint64(r.Average) * 8000, Ceil: uint64(peak) * 8000}
	if r.Burst > 0 {
		attrs.Buffer = uint32(r.Burst * 1024)
		attrs.Cbuffer = attrs.Buffer
	}
	// NewHtbClass leaves a zero buffer at the minimum (rate/Hz + MTU).
	return netlink.NewHtbClass(netlink.ClassAttrs{LinkIndex: idx, Parent: netlink.MakeHandle(htbMajor, 0),
		Handle: netlink.MakeHandle(htbMajor, htbClass)}, attrs)
}

// rateOf reads a class back in libvirt's units: rates rounded to the
// nearest KB/s, the burst to the nearest KiB, and 0 for the minimum burst
// (within 1%: ticks are coarse) and for a peak equal to the average.
func rateOf(c *netlink.HtbClass) hypervisor.Rate {
	r := hypervisor.Rate{Average: int64(math.Round(float64(c.Rate) / 1000)), Peak: int64(math.Round(float64(c.Ceil) / 1000))}
	if r.Peak == r.Average {
		r.Peak = 0
	}
	bytes := float64(netlink.Xmitsize(c.Rate, c.Buffer))
	minimum := float64(c.Rate)/netlink.Hz() + mtu
	if math.Abs(bytes-minimum) > math.Max(16, minimum/100) {
		r.Burst = int64(math.Round(bytes / 1024))
	}
	return r
}
