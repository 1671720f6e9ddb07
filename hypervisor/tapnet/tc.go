package tapnet

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"vwire.dev/vwire/hypervisor"
)

// The kernel primitives of tapnet: vwire's filter on a device's clsact,
// vwire's root htb, the ifb of a tap.

// ensureIfb makes (or finds) a tap's ifb, marks it as the tap's and brings
// it up; it returns its index.
func (m *Manager) ensureIfb(name string, tapIndex int) (int, error) {
	l, err := m.h.LinkByName(name)
	if err != nil {
		if !isNotFound(err) {
			return 0, err
		}
		if err := m.h.LinkAdd(&netlink.Ifb{LinkAttrs: netlink.LinkAttrs{Name: name, TxQLen: ifbQueue}}); err != nil && !errors.Is(err, unix.EEXIST) {
			return 0, err
		}
		if l, err = m.h.LinkByName(name); err != nil {
			return 0, err
		}
	}
	if l.Type() != "ifb" {
		return 0, fmt.Errorf("%s exists and is a %s, not an ifb", name, l.Type())
	}
	if want := ifbAliasOf(tapIndex); l.Attrs().Alias != want {
		if err := m.h.LinkSetAlias(l, want); err != nil {
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
	// the rule. It is kept if it already does what is wanted. Two agents
	// adding it at once leave two rules (two copies of every frame): all
	// but one go.
	var rules []*netlink.U32
	for _, f := range ours {
		if u, ok := f.(*netlink.U32); ok && len(u.Actions) > 0 {
			rules = append(rules, u)
		}
	}
	for _, extra := range rules[min(1, len(rules)):] {
		if err := m.h.FilterDel(extra); err != nil && !errors.Is(err, unix.ENOENT) {
			return others, fmt.Errorf("delete a second filter: %w", err)
		}
	}
	var handle uint32
	if len(rules) > 0 {
		if slices.Equal(hopsOf(rules[0]), hops) {
			return others, nil
		}
		handle = rules[0].Handle
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
// shaper's minimum (what tc takes: a full frame and a timer tick's worth).
// The buffer is the time the burst takes at the rate, in the kernel's
// ticks, computed here in floating point: netlink's Xmittime truncates to
// whole microseconds, which at high rates loses kilobytes of burst.
func htbClassFor(idx int, r hypervisor.Rate) *netlink.HtbClass {
	rate := uint64(r.Average) * 1000
	ceil := uint64(max(r.Peak, r.Average)) * 1000
	burst := minBurst(rate)
	if r.Burst > 0 {
		burst = float64(r.Burst * 1024)
	}
	cburst := burst
	if r.Burst == 0 {
		cburst = minBurst(ceil)
	}
	return &netlink.HtbClass{
		ClassAttrs: netlink.ClassAttrs{LinkIndex: idx, Parent: netlink.MakeHandle(htbMajor, 0), Handle: netlink.MakeHandle(htbMajor, htbClass)},
		Rate:       rate, Ceil: ceil, Buffer: ticks(burst, rate), Cbuffer: ticks(cburst, ceil),
	}
}

func minBurst(rate uint64) float64 { return float64(rate)/netlink.Hz() + mtu }

// ticks is the time size bytes take at rate, in the kernel's ticks.
func ticks(size float64, rate uint64) uint32 {
	return uint32(math.Round(size / float64(rate) * 1e6 * netlink.TickInUsec()))
}

// sizeOf is the bytes that ticks of time carry at rate.
func sizeOf(t uint32, rate uint64) float64 {
	return float64(t) / netlink.TickInUsec() / 1e6 * float64(rate)
}

// rateOf reads a class back in libvirt's units: rates rounded to the
// nearest KB/s, the burst to the nearest KiB, and 0 for the minimum burst
// (within what a tick or rounding can move it) and for a peak equal to the
// average.
func rateOf(c *netlink.HtbClass) hypervisor.Rate {
	r := hypervisor.Rate{Average: int64(math.Round(float64(c.Rate) / 1000)), Peak: int64(math.Round(float64(c.Ceil) / 1000))}
	if r.Peak == r.Average {
		r.Peak = 0
	}
	bytes := sizeOf(c.Buffer, c.Rate)
	minimum := minBurst(c.Rate)
	slack := math.Max(16, sizeOf(1, c.Rate)) // rounding moves it by half a tick
	if math.Abs(bytes-minimum) > slack {
		r.Burst = int64(math.Round(bytes / 1024))
	}
	return r
}
