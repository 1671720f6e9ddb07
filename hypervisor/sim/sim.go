// Package sim is an in-memory hypervisor with libvirt's semantics and error
// texts (as measured on libvirt 9 / QEMU 7.2, see the project's reference
// notes): devices are found by MAC and alias, a live update may change only
// the bridge and the link state, the target bridge must exist, a PCI address
// is assigned at plug and kept across updates, and tap names keep growing.
// It is the embedded default and a fast test backend; it passes the same
// hypervisortest suite as the libvirt backend.
//
// Port mirroring, bandwidth and network filters are kept as the libvirt
// backend reports them: limits validated by the shared rules and kept in
// canonical form, filters known by the catalogue's names
// (hypervisor.NWFilterNames) and refused as libvirt refuses an unknown
// one: at start and plug "referenced filter is missing", at a live update
// "failed to add new filter rules". Every other filter change is live, as
// libvirt 9 does it on a bridge interface.
package sim

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/hypervisor"
)

// firstSlot is the first PCI slot a NIC gets on pc/i440fx: 0 is the host
// bridge and 1 the ISA bridge; vwire's domains have no graphics, so libvirt
// gives slot 2 to the first NIC.
const (
	firstSlot = 2
	lastSlot  = 31
)

// Sim is a simulated host.
type Sim struct {
	mu      sync.Mutex
	bridges map[string]bool
	domains map[string]*domain
	nextTap int
	// holdUnplug lists domains whose guest never answers an unplug request,
	// as a guest without an OS behaves.
	holdUnplug map[string]bool
	// announced counts announcements per domain and alias; downs counts
	// link-down transitions, as a guest's carrier_down_count would.
	announced map[string]int
	counters  map[string]hypervisor.NICCounters
	downs     map[string]int
	// latency delays every change of a domain, as a busy host would.
	latency time.Duration
}

type domain struct {
	def  hypervisor.Domain
	nics []*hypervisor.NICState
}

var _ hypervisor.Hypervisor = (*Sim)(nil)
var _ hypervisor.BridgeManager = (*Sim)(nil)

// New returns a simulated host with the given bridges and the dummy bridge.
func New(bridges ...string) *Sim {
	s := &Sim{bridges: map[string]bool{vwire.DummyBridge: true}, domains: map[string]*domain{}, holdUnplug: map[string]bool{},
		announced: map[string]int{}, downs: map[string]int{}, counters: map[string]hypervisor.NICCounters{}}
	for _, b := range bridges {
		s.bridges[b] = true
	}
	return s
}

// SetLatency makes every change of a domain (create, destroy, plug,
// unplug, update) take at least d before it happens: a slow host, for
// tests of calls that outlive their caller.
func (s *Sim) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// pause waits out the latency, or ctx.
func (s *Sim) pause(ctx context.Context) error {
	s.mu.Lock()
	d := s.latency
	s.mu.Unlock()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return hypervisor.Errorf(hypervisor.ErrOperationTimeout, "operation timed out: %v", ctx.Err())
	}
}

// HoldUnplug makes the guest of a domain ignore unplug requests (hold=true),
// or answer them again.
func (s *Sim) HoldUnplug(domainID string, hold bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holdUnplug[domainID] = hold
}

// SetLink changes a device's link behind the agent's back, as
// `virsh domif-setlink` would.
func (s *Sim) SetLink(domainID, alias string, up bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.domains[domainID]
	if !ok {
		return noDomain(domainID)
	}
	for _, n := range d.nics {
		if n.Alias == alias {
			n.LinkUp = up
			return nil
		}
	}
	return hypervisor.Errorf(hypervisor.ErrDeviceMissing, "device not found: no device found with alias %s", alias)
}

func (s *Sim) EnsureBridges(_ context.Context, names []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		s.bridges[n] = true
	}
	return nil
}

// RemoveBridges deletes bridges; devices on them stay attached to nothing,
// as a tap whose bridge was deleted.
func (s *Sim) RemoveBridges(_ context.Context, names []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		if n != vwire.DummyBridge {
			delete(s.bridges, n)
		}
	}
	return nil
}

func (s *Sim) Capabilities(ctx context.Context) (hypervisor.Capabilities, error) {
	if err := ctx.Err(); err != nil {
		return hypervisor.Capabilities{}, timeout(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var bs []string
	for b := range s.bridges {
		if b != vwire.DummyBridge {
			bs = append(bs, b)
		}
	}
	sort.Strings(bs)
	return hypervisor.Capabilities{Bridges: bs, Hypervisor: "sim", LibvirtVersion: "sim", QEMUVersion: "sim",
		Filters: true, Shaping: true}, nil
}

func noDomain(id string) error {
	return hypervisor.Errorf(hypervisor.ErrNoDomain, "Domain not found: no domain with matching uuid '%s'", id)
}

func timeout(err error) error {
	return hypervisor.Errorf(hypervisor.ErrOperationTimeout, "operation timed out: %v", err)
}

// bridgeMissing is libvirt's text when a tap cannot join a bridge at start or plug.
func bridgeMissing(name string) error {
	return hypervisor.Errorf(hypervisor.ErrSystem, "Cannot get interface MTU on '%s': No such device", name)
}

func (s *Sim) CreateDomain(ctx context.Context, def hypervisor.Domain) (hypervisor.DomainState, error) {
	if err := s.pause(ctx); err != nil {
		return hypervisor.DomainState{}, err
	}
	if err := ctx.Err(); err != nil {
		return hypervisor.DomainState{}, timeout(err)
	}
	// The libvirt backend checks limits before it asks libvirt anything.
	for _, n := range def.NICs {
		if err := hypervisor.ValidateBandwidth(n.Bandwidth); err != nil {
			return hypervisor.DomainState{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.domains[def.ID]; ok {
		return hypervisor.DomainState{}, hypervisor.Errorf(hypervisor.ErrOperationFailed,
			"operation failed: domain '%s' is already defined with uuid %s", d.def.Name, def.ID)
	}
	for _, d := range s.domains {
		if d.def.Name == def.Name {
			return hypervisor.DomainState{}, hypervisor.Errorf(hypervisor.ErrOperationFailed,
				"operation failed: domain '%s' already exists with uuid %s", def.Name, d.def.ID)
		}
	}
	d := &domain{def: def}
	seen := map[string]bool{}
	for _, n := range def.NICs {
		if err := checkNIC(n); err != nil {
			return hypervisor.DomainState{}, err
		}
		if seen[n.Alias] {
			return hypervisor.DomainState{}, dupAlias(n.Alias)
		}
		seen[n.Alias] = true
		if !s.bridges[n.Bridge] {
			return hypervisor.DomainState{}, bridgeMissing(n.Bridge)
		}
		if !knownFilter(n.Filter) {
			return hypervisor.DomainState{}, hypervisor.FilterMissing(n.Filter)
		}
		st, err := s.newNIC(d, n)
		if err != nil {
			return hypervisor.DomainState{}, err
		}
		d.nics = append(d.nics, st)
	}
	s.domains[def.ID] = d
	return d.state(), nil
}

func dupAlias(alias string) error {
	return hypervisor.Errorf(hypervisor.ErrConfigUnsupported, "unsupported configuration: non unique alias detected: %s", alias)
}

// checkNIC applies libvirt's parse-time checks.
func checkNIC(n hypervisor.NIC) error {
	if _, ok := vwire.ParseMAC(n.MAC); !ok {
		return hypervisor.Errorf(hypervisor.ErrConfigUnsupported, "XML error: unable to parse mac address '%s'", n.MAC)
	}
	if n.Model == "" {
		return hypervisor.Errorf(hypervisor.ErrConfigUnsupported, "unsupported configuration: an interface model is required")
	}
	if !strings.HasPrefix(n.Alias, "ua-") {
		return hypervisor.Errorf(hypervisor.ErrConfigUnsupported, "unsupported configuration: user aliases must start with 'ua-'")
	}
	return nil
}

// libvirtAlias is the alias libvirt gives a device attached without one.
func libvirtAlias(d *domain) string {
	for i := 0; ; i++ {
		a := fmt.Sprintf("net%d", i)
		if !slices.ContainsFunc(d.nics, func(x *hypervisor.NICState) bool { return x.Alias == a }) {
			return a
		}
	}
}

func (s *Sim) newNIC(d *domain, n hypervisor.NIC) (*hypervisor.NICState, error) {
	used := map[string]bool{}
	for _, x := range d.nics {
		used[x.PCIAddress] = true
	}
	for slot := firstSlot; slot <= lastSlot; slot++ {
		addr := fmt.Sprintf("0000:00:%02x.0", slot)
		if !used[addr] {
			st := &hypervisor.NICState{NIC: n, PCIAddress: addr, Tap: fmt.Sprintf("vnet%d", s.nextTap)}
			st.MAC = strings.ToLower(n.MAC)
			setExtras(st, n)
			s.nextTap++
			return st, nil
		}
	}
	return nil, hypervisor.Errorf(hypervisor.ErrInternal, "internal error: No more available PCI slots")
}

func (d *domain) state() hypervisor.DomainState {
	st := hypervisor.DomainState{ID: d.def.ID, Name: d.def.Name, Running: true}
	for _, n := range d.nics {
		st.NICs = append(st.NICs, clone(*n))
	}
	return st
}

// knownFilter tells whether the host has a filter of that name ("" is none).
func knownFilter(name string) bool {
	return name == "" || slices.Contains(hypervisor.NWFilterNames, name)
}

// setExtras stores a device's mirroring, limits and filter as the libvirt
// backend reports them: limits in canonical form, no parameters as nil.
func setExtras(st *hypervisor.NICState, n hypervisor.NIC) {
	st.PortMirroring = n.PortMirroring
	st.Bandwidth = hypervisor.CanonicalBandwidth(n.Bandwidth)
	st.Filter = n.Filter
	st.FilterParams = nil
	if n.Filter != "" && len(n.FilterParams) > 0 {
		st.FilterParams = slices.Clone(n.FilterParams)
	}
}

// clone copies a device so that callers cannot change the host's.
func clone(n hypervisor.NICState) hypervisor.NICState {
	n.FilterParams = slices.Clone(n.FilterParams)
	n.Bandwidth = hypervisor.CanonicalBandwidth(n.Bandwidth)
	return n
}

func (s *Sim) DestroyDomain(ctx context.Context, id string) error {
	if err := s.pause(ctx); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return timeout(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.domains[id]; !ok {
		return noDomain(id)
	}
	delete(s.domains, id)
	delete(s.holdUnplug, id)
	return nil
}

func (s *Sim) Domains(ctx context.Context) ([]hypervisor.DomainState, error) {
	if err := ctx.Err(); err != nil {
		return nil, timeout(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]hypervisor.DomainState, 0, len(s.domains))
	for _, d := range s.domains {
		out = append(out, d.state())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (s *Sim) Domain(ctx context.Context, id string) (hypervisor.DomainState, error) {
	if err := ctx.Err(); err != nil {
		return hypervisor.DomainState{}, timeout(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.domains[id]
	if !ok {
		return hypervisor.DomainState{}, noDomain(id)
	}
	return d.state(), nil
}

func (s *Sim) AttachNIC(ctx context.Context, domainID string, n hypervisor.NIC) (hypervisor.NICState, error) {
	if err := hypervisor.ValidateBandwidth(n.Bandwidth); err != nil {
		return hypervisor.NICState{}, err
	}
	if err := s.pause(ctx); err != nil {
		return hypervisor.NICState{}, err
	}
	if err := ctx.Err(); err != nil {
		return hypervisor.NICState{}, timeout(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.domains[domainID]
	if !ok {
		return hypervisor.NICState{}, noDomain(domainID)
	}
	// Like libvirt, a device attached without an alias (virsh
	// attach-interface) gets one of its own, netN, the lowest free; only
	// an alias the caller gives must start with "ua-".
	given := n
	if n.Alias == "" {
		given.Alias, n.Alias = "ua-", libvirtAlias(d)
	}
	if err := checkNIC(given); err != nil {
		return hypervisor.NICState{}, err
	}
	for _, x := range d.nics {
		if x.Alias == n.Alias {
			return hypervisor.NICState{}, dupAlias(n.Alias)
		}
	}
	if !s.bridges[n.Bridge] {
		return hypervisor.NICState{}, bridgeMissing(n.Bridge)
	}
	if !knownFilter(n.Filter) {
		return hypervisor.NICState{}, hypervisor.FilterMissing(n.Filter)
	}
	st, err := s.newNIC(d, n)
	if err != nil {
		return hypervisor.NICState{}, err
	}
	d.nics = append(d.nics, st)
	return clone(*st), nil
}

// unplugPoll is how often a held unplug looks again, like VDSM's wait loop.
const unplugPoll = 20 * time.Millisecond

func (s *Sim) DetachNIC(ctx context.Context, domainID, alias string) error {
	if err := s.pause(ctx); err != nil {
		return err
	}
	for {
		s.mu.Lock()
		d, ok := s.domains[domainID]
		if !ok {
			s.mu.Unlock()
			return noDomain(domainID)
		}
		idx := -1
		for i, x := range d.nics {
			if x.Alias == alias {
				idx = i
			}
		}
		if idx < 0 {
			s.mu.Unlock()
			return hypervisor.Errorf(hypervisor.ErrDeviceMissing, "device not found: no device found with alias %s", alias)
		}
		if !s.holdUnplug[domainID] {
			d.nics = append(d.nics[:idx], d.nics[idx+1:]...)
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return hypervisor.Errorf(hypervisor.ErrOperationTimeout,
				"operation timed out: the guest did not release device %s (no device-removed event before the deadline)", alias)
		case <-time.After(unplugPoll):
		}
	}
}

func (s *Sim) UpdateNIC(ctx context.Context, domainID string, n hypervisor.NIC) (hypervisor.NICState, error) {
	if err := hypervisor.ValidateBandwidth(n.Bandwidth); err != nil {
		return hypervisor.NICState{}, err
	}
	if err := s.pause(ctx); err != nil {
		return hypervisor.NICState{}, err
	}
	if err := ctx.Err(); err != nil {
		return hypervisor.NICState{}, timeout(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.domains[domainID]
	if !ok {
		return hypervisor.NICState{}, noDomain(domainID)
	}
	var cur *hypervisor.NICState
	for _, x := range d.nics {
		if strings.EqualFold(x.MAC, n.MAC) && (n.Alias == "" || x.Alias == n.Alias) {
			cur = x
		}
	}
	if cur == nil {
		alias := n.Alias
		if alias == "" {
			alias = "(<null>)"
		}
		return hypervisor.NICState{}, hypervisor.Errorf(hypervisor.ErrDeviceMissing,
			"device not found: no device found at address '(<null>)' matching MAC address '%s' and alias '%s'", n.MAC, alias)
	}
	if n.Model != cur.Model {
		return hypervisor.NICState{}, hypervisor.Errorf(hypervisor.ErrOperationUnsupported,
			"Operation not supported: cannot modify network device model from %s to %s", cur.Model, n.Model)
	}
	if !s.bridges[n.Bridge] {
		return hypervisor.NICState{}, hypervisor.Errorf(hypervisor.ErrOperationFailed, "operation failed: bridge %s doesn't exist", n.Bridge)
	}
	if !knownFilter(n.Filter) {
		return hypervisor.NICState{}, hypervisor.FilterRulesFailed(cur.Tap)
	}
	if cur.LinkUp && !n.LinkUp {
		s.downs[domainID+"/"+n.Alias]++
	}
	cur.Bridge = n.Bridge
	cur.LinkUp = n.LinkUp
	setExtras(cur, n)
	return clone(*cur), nil
}

// Announce records an announcement of a device; QEMU would send RARP frames.
func (s *Sim) Announce(ctx context.Context, domainID, alias string) error {
	if err := ctx.Err(); err != nil {
		return timeout(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.domains[domainID]
	if !ok {
		return noDomain(domainID)
	}
	for _, n := range d.nics {
		if n.Alias == alias {
			s.announced[domainID+"/"+alias]++
			return nil
		}
	}
	return hypervisor.Errorf(hypervisor.ErrDeviceMissing, "device not found: no device found with alias %s", alias)
}

// InterfaceCounters reports each device's counters: zero, unless a test
// set them (SetCounters). The simulated host carries no traffic.
func (s *Sim) InterfaceCounters(ctx context.Context, domainID string) (map[string]hypervisor.NICCounters, error) {
	if err := ctx.Err(); err != nil {
		return nil, timeout(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.domains[domainID]
	if !ok {
		return nil, noDomain(domainID)
	}
	out := map[string]hypervisor.NICCounters{}
	for _, n := range d.nics {
		out[n.Alias] = s.counters[domainID+"/"+n.Alias]
	}
	return out, nil
}

// SetCounters sets the counters a device reports, for tests.
func (s *Sim) SetCounters(domainID, alias string, c hypervisor.NICCounters) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters[domainID+"/"+alias] = c
}

// Announcements tells how often a device was announced.
func (s *Sim) Announcements(domainID, alias string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.announced[domainID+"/"+alias]
}

// LinkDowns tells how often a device's link went down while plugged.
func (s *Sim) LinkDowns(domainID, alias string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.downs[domainID+"/"+alias]
}
