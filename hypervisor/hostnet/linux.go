package hostnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"vwire.dev/vwire/hypervisor"
)

// Linux is a host's networking through netlink, in one network namespace.
//
// What vwire made is marked in the link's alias (ifalias), which the
// kernel keeps with the link: a network's bridge has "vwire:network" (and
// " nic=<name>" when a host NIC is its uplink, since a host NIC's own alias
// is the administrator's), the VLAN and VXLAN devices under it
// "vwire:uplink". Networks reads those marks back, so the agent keeps no
// state of its own and what it reports is what the kernel has.
type Linux struct {
	h    *netlink.Handle
	ns   netns.NsHandle // -1: the process's namespace
	fd   int            // a socket in ns, for ethtool
	o    LinuxOptions
	mu   sync.Mutex // one Apply at a time
	vlan struct {
		once sync.Once
		why  string
	}
}

// LinuxOptions configure Linux.
type LinuxOptions struct {
	// NetNS is the network namespace to manage; a closed or zero handle
	// (netns.None()) is the process's own. Linux keeps a copy of it.
	NetNS netns.NsHandle
	// NICs, when set, are exactly the host NICs networks may use (they
	// must exist to be listed); otherwise the rule of the package doc.
	NICs []string
	// Bridges is told of the bridges made and removed, for a hypervisor
	// that keeps its own list (the simulated one over real networking).
	Bridges hypervisor.BridgeManager
}

const (
	markNetwork = "vwire:network"
	markUplink  = "vwire:uplink"
	nicTag      = " nic="
)

var _ Host = (*Linux)(nil)

// NewLinux manages the host's networking in o.NetNS.
func NewLinux(o LinuxOptions) (*Linux, error) {
	l := &Linux{ns: -1, o: o}
	var err error
	if o.NetNS.IsOpen() && o.NetNS != 0 {
		fd, err := unix.Dup(int(o.NetNS))
		if err != nil {
			return nil, fmt.Errorf("hostnet: network namespace: %w", err)
		}
		l.ns = netns.NsHandle(fd)
		l.h, err = netlink.NewHandleAt(l.ns)
	} else {
		l.h, err = netlink.NewHandle()
	}
	if err != nil {
		l.closeNS()
		return nil, fmt.Errorf("hostnet: netlink: %w", err)
	}
	if l.fd, err = socketIn(l.ns); err != nil {
		l.fd = -1 // speeds unknown, the rest works
	}
	return l, nil
}

// NewLinuxNamed manages the namespace named name (/run/netns/name, as `ip
// netns add` makes them); "" is the process's own.
func NewLinuxNamed(name string, o LinuxOptions) (*Linux, error) {
	if name == "" {
		return NewLinux(o)
	}
	ns, err := netns.GetFromName(name)
	if err != nil {
		return nil, fmt.Errorf("hostnet: network namespace %s: %w", name, err)
	}
	defer ns.Close()
	o.NetNS = ns
	return NewLinux(o)
}

func (l *Linux) closeNS() {
	if l.ns >= 0 {
		l.ns.Close()
	}
}

// Close releases the netlink handle, the socket and the namespace.
func (l *Linux) Close() error {
	l.h.Close()
	if l.fd >= 0 {
		unix.Close(l.fd)
	}
	l.closeNS()
	return nil
}

func isMarked(lk netlink.Link, mark string) bool {
	a := lk.Attrs().Alias
	return a == mark || strings.HasPrefix(a, mark+" ")
}

// isNIC applies the package's rule of what a host NIC is.
func (l *Linux) isNIC(lk netlink.Link, byIndex map[int]netlink.Link) bool {
	a := lk.Attrs()
	if len(l.o.NICs) > 0 {
		return slices.Contains(l.o.NICs, a.Name)
	}
	if a.Name == "lo" || isMarked(lk, markNetwork) || isMarked(lk, markUplink) {
		return false
	}
	switch lk.Type() {
	case "device", "bond":
		return true
	case "veth":
		// A veth on a bridge vwire did not make is a container's port
		// (docker0's), not a NIC.
		m, ok := byIndex[a.MasterIndex]
		return !ok || m.Type() != "bridge" || isMarked(m, markNetwork)
	}
	return false
}

func (l *Linux) links() ([]netlink.Link, map[int]netlink.Link, error) {
	ls, err := l.h.LinkList()
	if err != nil {
		return nil, nil, fmt.Errorf("hostnet: list links: %w", err)
	}
	byIndex := make(map[int]netlink.Link, len(ls))
	for _, lk := range ls {
		byIndex[lk.Attrs().Index] = lk
	}
	return ls, byIndex, nil
}

func (l *Linux) NICs(ctx context.Context) ([]NIC, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ls, byIndex, err := l.links()
	if err != nil {
		return nil, err
	}
	return l.nics(ls, byIndex)
}

func (l *Linux) nics(ls []netlink.Link, byIndex map[int]netlink.Link) ([]NIC, error) {
	var out []NIC
	for _, lk := range ls {
		if !l.isNIC(lk, byIndex) {
			continue
		}
		a := lk.Attrs()
		n := NIC{Name: a.Name, MAC: a.HardwareAddr.String(), MTU: a.MTU, Up: a.RawFlags&unix.IFF_LOWER_UP != 0, Speed: linkSpeed(l.fd, a.Name)}
		if lk.Type() == "bond" {
			n.Bond = true
			for _, s := range ls {
				if s.Attrs().MasterIndex == a.Index {
					n.Slaves = append(n.Slaves, s.Attrs().Name)
				}
			}
			sort.Strings(n.Slaves)
		}
		addrs, err := l.h.AddrList(lk, netlink.FAMILY_V4)
		if err != nil {
			return nil, fmt.Errorf("hostnet: addresses of %s: %w", a.Name, err)
		}
		if len(addrs) > 0 {
			n.Addr = addrs[0].IPNet.String()
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (l *Linux) Networks(ctx context.Context) ([]Network, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ls, byIndex, err := l.links()
	if err != nil {
		return nil, err
	}
	return l.networks(ls, byIndex)
}

// networks reads each network back from its bridge and what is under it.
func (l *Linux) networks(ls []netlink.Link, byIndex map[int]netlink.Link) ([]Network, error) {
	var out []Network
	for _, br := range ls {
		if br.Type() != "bridge" || !isMarked(br, markNetwork) {
			continue
		}
		ba := br.Attrs()
		n := Network{Name: ba.Name, MTU: ba.MTU}
		nic := recordedNIC(br)
		for _, p := range ls {
			pa := p.Attrs()
			if pa.MasterIndex != ba.Index {
				continue
			}
			switch {
			case pa.Name == nic:
				n.NIC = nic
			case isMarked(p, markUplink) && p.Type() == "vlan":
				if parent, ok := byIndex[pa.ParentIndex]; ok {
					n.NIC = parent.Attrs().Name
				}
				n.VLAN = p.(*netlink.Vlan).VlanId
			case isMarked(p, markUplink) && p.Type() == "vxlan":
				vx := p.(*netlink.Vxlan)
				x := &VXLAN{VNI: vx.VxlanId, Port: vx.Port}
				if vx.SrcAddr != nil {
					x.Local = vx.SrcAddr.String()
				}
				if under, ok := byIndex[vx.VtepDevIndex]; ok {
					n.NIC = under.Attrs().Name
				}
				rs, err := l.remotes(pa.Index)
				if err != nil {
					return nil, err
				}
				x.Remotes = rs
				n.VXLAN = x
			}
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// recordedNIC is the host NIC a network's bridge took as its uplink.
func recordedNIC(br netlink.Link) string {
	_, nic, ok := strings.Cut(br.Attrs().Alias, nicTag)
	if !ok {
		return ""
	}
	return nic
}

var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// remotes are a VXLAN device's head-end replication list: its forwarding
// entries for the all-zero MAC (`bridge fdb append 00:00:00:00:00:00 dst`).
func (l *Linux) remotes(index int) ([]string, error) {
	fdb, err := l.h.NeighList(index, unix.AF_BRIDGE)
	if err != nil {
		return nil, fmt.Errorf("hostnet: forwarding entries: %w", err)
	}
	var out []string
	for _, e := range fdb {
		if e.LinkIndex == index && e.IP != nil && slices.Equal(e.HardwareAddr, zeroMAC) {
			out = append(out, e.IP.String())
		}
	}
	return sortedRemotes(out), nil
}

func fdbEntry(index int, ip string) *netlink.Neigh {
	return &netlink.Neigh{LinkIndex: index, Family: unix.AF_BRIDGE, State: netlink.NUD_NOARP | netlink.NUD_PERMANENT,
		Flags: netlink.NTF_SELF, HardwareAddr: zeroMAC, IP: net.ParseIP(ip)}
}

// NoVLAN probes once whether the kernel makes VLAN devices: adding one on
// a parent that does not exist fails with ENODEV when it can, EOPNOTSUPP
// when the vlan link kind is missing (no 8021q module).
func (l *Linux) NoVLAN(context.Context) string {
	l.vlan.once.Do(func() {
		probe := &netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: "vwire-vlprobe", ParentIndex: 0x7ffffff0}, VlanId: 1}
		err := l.h.LinkAdd(probe)
		switch {
		case err == nil:
			l.h.LinkDel(probe)
		case noVLANErr(err):
			l.vlan.why = noVLANReason
		}
	})
	return l.vlan.why
}

const noVLANReason = "this host's kernel has no 802.1Q VLAN support (creating a vlan link is not supported: the 8021q module is missing)"

func noVLANErr(err error) bool {
	return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPROTONOSUPPORT)
}

func (l *Linux) Apply(ctx context.Context, nets []Network, remove []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ls, byIndex, err := l.links()
	if err != nil {
		return err
	}
	nics, err := l.nics(ls, byIndex)
	if err != nil {
		return err
	}
	have, err := l.networks(ls, byIndex)
	if err != nil {
		return err
	}
	noVLAN := ""
	if slices.ContainsFunc(nets, func(n Network) bool { return n.VLAN > 0 }) {
		noVLAN = l.NoVLAN(ctx)
	}
	p, err := check(nics, have, noVLAN, nets, remove)
	if err != nil {
		return err
	}
	byName := map[string]netlink.Link{}
	for _, lk := range ls {
		byName[lk.Attrs().Name] = lk
	}
	cur := map[string]Network{}
	for _, h := range have {
		cur[h.Name] = h
	}
	// What is on the host but not vwire's is never taken over.
	for _, n := range p.apply {
		if err := foreign(n, byName, byIndex); err != nil {
			return err
		}
	}
	for _, name := range p.remove {
		if err := l.removeNetwork(cur[name], byName); err != nil {
			return err
		}
	}
	var made []string
	for _, n := range p.apply {
		if lk, ok := byName[n.Name]; ok && !isMarked(lk, markNetwork) {
			made = append(made, n.Name) // the host's own plain bridge: already there
			continue
		}
		old, had := cur[n.Name]
		if err := l.realise(n, old, had); err != nil {
			return err
		}
		made = append(made, n.Name)
	}
	if b := l.o.Bridges; b != nil {
		if err := b.RemoveBridges(ctx, p.remove); err != nil {
			return err
		}
		return b.EnsureBridges(ctx, made)
	}
	return nil
}

// foreign refuses a network whose devices would be links vwire did not
// make, or that would take a host NIC from a bridge that is not its own
// (the host's management bridge, say: taking its NIC would cut the host
// off); a plain network (no uplink) over a bridge of the host's is taken
// as it is.
func foreign(n Network, byName map[string]netlink.Link, byIndex map[int]netlink.Link) error {
	if lk, ok := byName[n.Name]; ok && !isMarked(lk, markNetwork) {
		if lk.Type() == "bridge" && n.NIC == "" && n.VXLAN == nil {
			return nil
		}
		return refuse(n.Name, "the host has a link %s (%s) that vwire did not make", n.Name, lk.Type())
	}
	if nic, ok := byName[n.NIC]; ok && n.VLAN == 0 && n.VXLAN == nil {
		if m, ok := byIndex[nic.Attrs().MasterIndex]; ok && m.Attrs().Name != n.Name {
			return refuse(n.Name, "host NIC %s is a port of %s %s", n.NIC, m.Type(), m.Attrs().Name)
		}
	}
	dev := uplinkName(n)
	if lk, ok := byName[dev]; ok && dev != "" && !isMarked(lk, markUplink) {
		return refuse(n.Name, "the host has a link %s (%s) that vwire did not make", dev, lk.Type())
	}
	return nil
}

// removeNetwork deletes a network's bridge and the devices vwire made
// under it; a host NIC is only released.
func (l *Linux) removeNetwork(n Network, byName map[string]netlink.Link) error {
	br, ok := byName[n.Name]
	if !ok {
		return nil
	}
	if err := l.dropUplink(n, br); err != nil {
		return err
	}
	if err := l.h.LinkDel(br); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("hostnet: delete bridge %s: %w", n.Name, err)
	}
	return nil
}

// dropUplink takes the device under a network's bridge away: a VLAN or
// VXLAN device vwire made is deleted, a host NIC released.
func (l *Linux) dropUplink(old Network, br netlink.Link) error {
	ls, err := l.h.LinkList()
	if err != nil {
		return fmt.Errorf("hostnet: list links: %w", err)
	}
	nic := recordedNIC(br)
	for _, p := range ls {
		pa := p.Attrs()
		var err error
		switch {
		case isMarked(p, markUplink) && (pa.MasterIndex == br.Attrs().Index || ownUplink(old, pa.Name)):
			err = l.h.LinkDel(p)
		case pa.Name == nic && pa.MasterIndex == br.Attrs().Index:
			err = l.h.LinkSetNoMaster(p)
		}
		if err != nil && !errors.Is(err, unix.ENODEV) {
			return fmt.Errorf("hostnet: take %s from %s: %w", pa.Name, old.Name, err)
		}
	}
	return l.h.LinkSetAlias(br, markNetwork)
}

// ownUplink tells whether name is the device vwire made for a network,
// even detached from its bridge (by hand, or by a change cut short).
func ownUplink(n Network, name string) bool {
	return name == VXLANDevice(n.Name) || (n.VLAN > 0 && name == VLANDevice(n.NIC, n.VLAN))
}

// realise makes n as it should be: the bridge (kept when it exists, so its
// ports stay), then the uplink, re-created only when it differs.
func (l *Linux) realise(n, old Network, had bool) error {
	br, err := l.bridge(n)
	if err != nil {
		return err
	}
	if had && sameUplink(n, old) && l.uplinkPresent(n, br) {
		if err := l.tune(n, old, br); err != nil {
			return err
		}
	} else {
		if had {
			if err := l.dropUplink(old, br); err != nil {
				return err
			}
		}
		if err := l.uplink(n, br); err != nil {
			return err
		}
	}
	// Last: a port joining may have changed the bridge's MTU.
	if br, err = l.h.LinkByIndex(br.Attrs().Index); err != nil {
		return fmt.Errorf("hostnet: bridge %s: %w", n.Name, err)
	}
	if br.Attrs().MTU != n.MTU {
		if err := l.h.LinkSetMTU(br, n.MTU); err != nil {
			return fmt.Errorf("hostnet: MTU %d on bridge %s: %w", n.MTU, n.Name, err)
		}
	}
	return nil
}

// bridge finds or makes a network's bridge, up, marked.
func (l *Linux) bridge(n Network) (netlink.Link, error) {
	br, err := l.h.LinkByName(n.Name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return nil, fmt.Errorf("hostnet: bridge %s: %w", n.Name, err)
		}
		if err := l.h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.Name}}); err != nil {
			return nil, fmt.Errorf("hostnet: add bridge %s: %w", n.Name, err)
		}
		if br, err = l.h.LinkByName(n.Name); err != nil {
			return nil, fmt.Errorf("hostnet: bridge %s: %w", n.Name, err)
		}
		// A bridge's MTU follows its smallest port (a VM's tap joining
		// with 1500 would shrink a 9000 network) unless it was changed
		// after the bridge was made: the kernel then keeps it. A change to
		// the MTU it already has is no change, hence the step aside.
		aside := n.MTU - 1
		if aside < MinMTU {
			aside = n.MTU + 1
		}
		for _, mtu := range []int{aside, n.MTU} {
			if err := l.h.LinkSetMTU(br, mtu); err != nil {
				return nil, fmt.Errorf("hostnet: MTU %d on bridge %s: %w", mtu, n.Name, err)
			}
		}
	}
	if !isMarked(br, markNetwork) {
		if err := l.h.LinkSetAlias(br, markNetwork); err != nil {
			return nil, fmt.Errorf("hostnet: mark bridge %s: %w", n.Name, err)
		}
	}
	if err := l.h.LinkSetUp(br); err != nil {
		return nil, fmt.Errorf("hostnet: bridge %s up: %w", n.Name, err)
	}
	return br, nil
}

// uplinkName is the device vwire makes under n's bridge ("" none).
func uplinkName(n Network) string {
	switch {
	case n.VXLAN != nil:
		return VXLANDevice(n.Name)
	case n.VLAN > 0:
		return VLANDevice(n.NIC, n.VLAN)
	}
	return ""
}

// uplinkPresent tells whether the device n needs is on its bridge now.
func (l *Linux) uplinkPresent(n Network, br netlink.Link) bool {
	name := uplinkName(n)
	if name == "" && n.NIC == "" {
		return true
	}
	if name == "" {
		name = n.NIC
	}
	lk, err := l.h.LinkByName(name)
	return err == nil && lk.Attrs().MasterIndex == br.Attrs().Index
}

// tune changes in place what needs no new device: MTUs and remotes.
func (l *Linux) tune(n, old Network, br netlink.Link) error {
	switch {
	case n.VXLAN != nil:
		vx, err := l.h.LinkByName(VXLANDevice(n.Name))
		if err != nil {
			return fmt.Errorf("hostnet: VXLAN device of %s: %w", n.Name, err)
		}
		if err := l.setMTU(vx, n.MTU, false); err != nil {
			return err
		}
		return l.syncRemotes(vx, n.VXLAN.Remotes)
	case n.VLAN > 0:
		parent, vl, err := l.pair(n.NIC, VLANDevice(n.NIC, n.VLAN))
		if err != nil {
			return err
		}
		if err := l.setMTU(parent, n.MTU, true); err != nil {
			return err
		}
		return l.setMTU(vl, n.MTU, false)
	case n.NIC != "":
		nic, err := l.h.LinkByName(n.NIC)
		if err != nil {
			return fmt.Errorf("hostnet: host NIC %s: %w", n.NIC, err)
		}
		return l.setMTU(nic, n.MTU, true)
	}
	return nil
}

func (l *Linux) pair(a, b string) (netlink.Link, netlink.Link, error) {
	la, err := l.h.LinkByName(a)
	if err != nil {
		return nil, nil, fmt.Errorf("hostnet: %s: %w", a, err)
	}
	lb, err := l.h.LinkByName(b)
	if err != nil {
		return nil, nil, fmt.Errorf("hostnet: %s: %w", b, err)
	}
	return la, lb, nil
}

// setMTU sets a link's MTU; raiseOnly never lowers it (a host NIC's MTU
// serves other traffic too).
func (l *Linux) setMTU(lk netlink.Link, mtu int, raiseOnly bool) error {
	cur := lk.Attrs().MTU
	if cur == mtu || (raiseOnly && cur > mtu) {
		return nil
	}
	if err := l.h.LinkSetMTU(lk, mtu); err != nil {
		return fmt.Errorf("hostnet: MTU %d on %s: %w", mtu, lk.Attrs().Name, err)
	}
	return nil
}

// uplink makes the device under n's bridge and enslaves it. A device of
// the same name vwire made before (left detached by a change cut short) is
// replaced; one vwire did not make was refused (foreign).
func (l *Linux) uplink(n Network, br netlink.Link) error {
	if name := uplinkName(n); name != "" {
		if old, err := l.h.LinkByName(name); err == nil && isMarked(old, markUplink) {
			if err := l.h.LinkDel(old); err != nil {
				return fmt.Errorf("hostnet: delete the stale %s: %w", name, err)
			}
		}
	}
	var dev netlink.Link
	switch {
	case n.VXLAN != nil:
		under, err := l.h.LinkByName(n.NIC)
		if err != nil {
			return fmt.Errorf("hostnet: host NIC %s: %w", n.NIC, err)
		}
		vx := &netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: VXLANDevice(n.Name), MTU: n.MTU}, VxlanId: n.VXLAN.VNI,
			VtepDevIndex: under.Attrs().Index, SrcAddr: net.ParseIP(n.VXLAN.Local), Port: n.VXLAN.Port, Learning: false}
		if err := l.h.LinkAdd(vx); err != nil {
			return fmt.Errorf("hostnet: add VXLAN device %s (VNI %d): %w", vx.Name, n.VXLAN.VNI, err)
		}
		if dev, err = l.h.LinkByName(vx.Name); err != nil {
			return err
		}
	case n.VLAN > 0:
		parent, err := l.h.LinkByName(n.NIC)
		if err != nil {
			return fmt.Errorf("hostnet: host NIC %s: %w", n.NIC, err)
		}
		if err := l.setMTU(parent, n.MTU, true); err != nil {
			return err
		}
		vl := &netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: VLANDevice(n.NIC, n.VLAN), ParentIndex: parent.Attrs().Index, MTU: n.MTU}, VlanId: n.VLAN}
		if err := l.h.LinkAdd(vl); err != nil {
			if noVLANErr(err) {
				return refuse(n.Name, "VLAN %d cannot be realised: %s", n.VLAN, noVLANReason)
			}
			return fmt.Errorf("hostnet: add VLAN device %s: %w", vl.Name, err)
		}
		if dev, err = l.h.LinkByName(vl.Name); err != nil {
			return err
		}
		if err := l.h.LinkSetUp(parent); err != nil {
			return fmt.Errorf("hostnet: %s up: %w", n.NIC, err)
		}
	case n.NIC != "":
		nic, err := l.h.LinkByName(n.NIC)
		if err != nil {
			return fmt.Errorf("hostnet: host NIC %s: %w", n.NIC, err)
		}
		if err := l.setMTU(nic, n.MTU, true); err != nil {
			return err
		}
		// Recorded before it is enslaved: a change cut short in between
		// still knows to release it.
		if err := l.h.LinkSetAlias(br, markNetwork+nicTag+n.NIC); err != nil {
			return fmt.Errorf("hostnet: mark bridge %s: %w", n.Name, err)
		}
		if err := l.h.LinkSetMaster(nic, br); err != nil {
			return fmt.Errorf("hostnet: put %s on bridge %s: %w", n.NIC, n.Name, err)
		}
		if err := l.h.LinkSetUp(nic); err != nil {
			return fmt.Errorf("hostnet: %s up: %w", n.NIC, err)
		}
		return nil
	default:
		return nil
	}
	if err := l.h.LinkSetAlias(dev, markUplink); err != nil {
		l.h.LinkDel(dev)
		return fmt.Errorf("hostnet: mark %s: %w", dev.Attrs().Name, err)
	}
	if err := l.h.LinkSetMaster(dev, br); err != nil {
		return fmt.Errorf("hostnet: put %s on bridge %s: %w", dev.Attrs().Name, n.Name, err)
	}
	if err := l.h.LinkSetUp(dev); err != nil {
		return fmt.Errorf("hostnet: %s up: %w", dev.Attrs().Name, err)
	}
	if n.VXLAN != nil {
		return l.syncRemotes(dev, n.VXLAN.Remotes)
	}
	return nil
}

// syncRemotes makes a VXLAN device's replication list exactly want.
func (l *Linux) syncRemotes(vx netlink.Link, want []string) error {
	idx := vx.Attrs().Index
	have, err := l.remotes(idx)
	if err != nil {
		return err
	}
	for _, r := range have {
		if !slices.Contains(want, r) {
			if err := l.h.NeighDel(fdbEntry(idx, r)); err != nil && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("hostnet: remove remote %s from %s: %w", r, vx.Attrs().Name, err)
			}
		}
	}
	for _, r := range want {
		if !slices.Contains(have, r) {
			if err := l.h.NeighAppend(fdbEntry(idx, r)); err != nil {
				return fmt.Errorf("hostnet: add remote %s to %s: %w", r, vx.Attrs().Name, err)
			}
		}
	}
	return nil
}
