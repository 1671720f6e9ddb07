package tapnet

import (
	"fmt"

	"github.com/vishvananda/netlink"

	"vwire.dev/vwire/hypervisor"
)

// State is what the kernel has for a tap: the observed state the
// backends report.
type State struct {
	// Mirror: the tap gets a copy from every other port of its bridge and
	// from the bridge's own egress.
	Mirror bool
	// Bandwidth is the limits in force, in libvirt's units and canonical
	// form (hypervisor.CanonicalBandwidth); nil is none.
	Bandwidth *hypervisor.Bandwidth
}

// Observe reads a tap's state from the kernel, not from what was asked.
func (m *Manager) Observe(tap string) (State, error) {
	var st State
	l, err := m.h.LinkByName(tap)
	if err != nil {
		return st, sysErr("read "+tap, err)
	}
	idx := l.Attrs().Index
	if st.Mirror, err = m.mirrored(l); err != nil {
		return st, sysErr("read the mirroring of "+tap, err)
	}
	var bw hypervisor.Bandwidth
	if bw.Inbound, err = m.htbRate(idx); err != nil {
		return st, sysErr("read the inbound limit of "+tap, err)
	}
	hops, err := m.ourHops(idx, ingress)
	if err != nil {
		return st, sysErr("read the filters of "+tap, err)
	}
	for _, h := range hops {
		if h.act == netlink.TCA_EGRESS_REDIR {
			if bw.Outbound, err = m.htbRate(h.index); err != nil {
				return st, sysErr("read the outbound limit of "+tap, err)
			}
		}
	}
	st.Bandwidth = hypervisor.CanonicalBandwidth(&bw)
	return st, nil
}

// mirrored tells whether every other port of the tap's bridge and the
// bridge's egress copy their frames to the tap.
func (m *Manager) mirrored(tap netlink.Link) (bool, error) {
	master := tap.Attrs().MasterIndex
	if master == 0 {
		return false, nil
	}
	want := hop{netlink.TCA_EGRESS_MIRROR, tap.Attrs().Index}
	has := func(idx int, parent uint32) (bool, error) {
		hops, err := m.ourHops(idx, parent)
		for _, h := range hops {
			if h == want {
				return true, err
			}
		}
		return false, err
	}
	if ok, err := has(master, egress); !ok || err != nil {
		return false, err
	}
	links, err := m.linkList()
	if err != nil {
		return false, err
	}
	for _, l := range links {
		a := l.Attrs()
		if a.MasterIndex != master || a.Index == tap.Attrs().Index {
			continue
		}
		if ok, err := has(a.Index, ingress); !ok || err != nil {
			return false, err
		}
	}
	return true, nil
}

// ourHops reads vwire's filter at a device's ingress or egress.
func (m *Manager) ourHops(idx int, parent uint32) ([]hop, error) {
	link := &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: idx}}
	qs, err := m.h.QdiscList(link)
	if err != nil {
		return nil, err
	}
	clsact := false
	for _, q := range qs {
		clsact = clsact || q.Type() == "clsact"
	}
	if !clsact {
		return nil, nil
	}
	fs, err := m.h.FilterList(link, parent)
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		if u, ok := f.(*netlink.U32); ok && u.Priority == FilterPrio && len(u.Actions) > 0 {
			return hopsOf(u), nil
		}
	}
	return nil, nil
}

// htbRate reads vwire's shaper of a device (nil: none).
func (m *Manager) htbRate(idx int) (*hypervisor.Rate, error) {
	link := &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: idx}}
	qs, err := m.h.QdiscList(link)
	if err != nil {
		return nil, err
	}
	ours := false
	for _, q := range qs {
		ours = ours || isOurHTB(q)
	}
	if !ours {
		return nil, nil
	}
	cs, err := m.h.ClassList(link, netlink.MakeHandle(htbMajor, 0))
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if h, ok := c.(*netlink.HtbClass); ok && h.Handle == netlink.MakeHandle(htbMajor, htbClass) {
			r := rateOf(h)
			return &r, nil
		}
	}
	return nil, fmt.Errorf("vwire's htb has no class %x:%x", htbMajor, htbClass)
}
