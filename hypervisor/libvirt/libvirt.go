// Package libvirt is the hypervisor backend on a real libvirt daemon, through
// go-libvirt (libvirt's RPC over its socket, no cgo) and libvirtxml (the
// domain XML, never built from strings).
//
// Domains are transient, as VDSM's are: created with every plugged vNIC,
// gone when destroyed. A domain's UUID is the VM id and its name the VM
// name; vwire marks its domains with a metadata element and ignores others.
// Every call has a deadline; a call that misses it drops the connection,
// and the next call reconnects, which also covers a restarted libvirtd.
package libvirt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/google/uuid"
	"libvirt.org/go/libvirtxml"

	"vwire.dev/vwire"
	"vwire.dev/vwire/hypervisor"
	"vwire.dev/vwire/hypervisor/tapnet"
)

// metadataNS marks the domains vwire created.
const metadataNS = "https://vwire.dev/xmlns/vm/1"

// Options configure the backend.
type Options struct {
	// URI is the libvirt connection URI (default qemu:///system).
	URI string
	// CallTimeout bounds each libvirt call (default 20 s).
	CallTimeout time.Duration
	Logger      *slog.Logger
	// ConsoleDir, when set, receives each domain's serial console log as <id>.log.
	ConsoleDir string
	// DomainType is auto (default), kvm or qemu; see domaintype.go.
	DomainType string
}

// Hypervisor drives one libvirt daemon.
type Hypervisor struct {
	uri     *url.URL
	timeout time.Duration
	log     *slog.Logger
	console string
	domType string
	// domTypeWhy says why domType was chosen (logged, and in Capabilities);
	// domTypeWarn, when set, what is wrong with the host's KVM set-up.
	domTypeWhy, domTypeWarn string
	// facts reads /dev/kvm and QEMU's identity (tests replace it).
	facts func() kvmFacts

	// net applies port mirroring and bandwidth to taps (nil when libvirt
	// is remote: its taps are not in this kernel; netWhy says why).
	net    *tapnet.Manager
	netWhy string
	// netFault, set only by tests, makes applying to a tap fail, as a
	// kernel refusal would.
	netFault func(tap string) error
	// filterMissing names the binaries libvirt's network filters need
	// that the host lacks ("" none).
	filterMissing string

	mu sync.Mutex
	l  *golibvirt.Libvirt
	// handles remembers domain handles by UUID (see lookup).
	handles sync.Map
	devices deviceCache
}

var _ hypervisor.Hypervisor = (*Hypervisor)(nil)

// New connects to libvirt and makes sure the dummy bridge exists.
func New(o Options) (*Hypervisor, error) {
	if o.URI == "" {
		o.URI = string(golibvirt.QEMUSystem)
	}
	u, err := url.Parse(o.URI)
	if err != nil {
		return nil, fmt.Errorf("libvirt URI %q: %w", o.URI, err)
	}
	if o.CallTimeout == 0 {
		o.CallTimeout = 20 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	choice, err := ParseDomainType(o.DomainType)
	if err != nil {
		return nil, err
	}
	h := &Hypervisor{uri: u, timeout: o.CallTimeout, log: o.Logger, console: o.ConsoleDir, facts: hostFacts}
	ctx, cancel := context.WithTimeout(context.Background(), o.CallTimeout)
	defer cancel()
	if _, err := h.conn(ctx); err != nil {
		return nil, err
	}
	h.chooseDomainType(ctx, choice)
	if err := ensureBridge(ctx, vwire.DummyBridge); err != nil {
		return nil, fmt.Errorf("create the dummy bridge: %w", err)
	}
	err = h.call(ctx, "define network filters", func(l *golibvirt.Libvirt) error {
		defined, err := defineNWFilters(l)
		if len(defined) > 0 {
			h.log.Info("network filters defined", "filters", defined)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if h.filterMissing = missingFilterBinaries(); h.filterMissing != "" {
		h.log.Error("network filters cannot be applied on this host; devices with a filter are refused", "missing", h.filterMissing)
	}
	if u.Host != "" {
		h.netWhy = "libvirt at " + u.Host + " is remote: its taps are not in this host's kernel"
	} else if h.net, err = tapnet.New(tapnet.Options{Logger: o.Logger}); err != nil {
		h.netWhy = err.Error()
		h.log.Error("port mirroring and bandwidth cannot be applied on this host", "err", err)
	}
	return h, nil
}

// chooseDomainType decides the domain type from the host's facts and
// libvirt's own answer, and logs the choice and why.
func (h *Hypervisor) chooseDomainType(ctx context.Context, choice string) {
	f := h.facts()
	// Without the device neither the choice nor the warning needs libvirt.
	if f.Dev.Present {
		var kvm libvirtKVM
		err := h.call(ctx, "domain capabilities", func(l *golibvirt.Libvirt) error {
			kvm = askLibvirtKVM(l)
			return nil
		})
		// On a timeout the question may still be running: kvm is not read.
		f.Libvirt = libvirtKVM{Reason: fmt.Sprint(err)}
		if err == nil {
			f.Libvirt = kvm
		}
	}
	c := chooseDomainType(choice, f)
	h.domType, h.domTypeWhy, h.domTypeWarn = c.Type, c.Reason, c.Warning
	h.log.Info("libvirt domain type chosen", "domain_type", c.Type, "why", c.Reason)
	if c.Warning != "" {
		h.log.Error("host misconfigured for KVM", "problem", c.Warning)
	}
}

// DomainType returns the domain type in use and why it was chosen.
func (h *Hypervisor) DomainType() (typ, why string) { return h.domType, h.domTypeWhy }

// Close drops the connection.
func (h *Hypervisor) Close() error {
	if h.net != nil {
		h.net.Close()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.l == nil {
		return nil
	}
	err := h.l.Disconnect()
	h.l = nil
	return err
}

// conn returns a live connection, reconnecting if the old one was lost.
func (h *Hypervisor) conn(ctx context.Context) (*golibvirt.Libvirt, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.l != nil && h.l.IsConnected() {
		return h.l, nil
	}
	type result struct {
		l   *golibvirt.Libvirt
		err error
	}
	ch := make(chan result, 1)
	go func() {
		l, err := golibvirt.ConnectToURI(h.uri)
		ch <- result{l, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, hypervisor.Errorf(hypervisor.ErrSystem, "cannot connect to libvirt at %s: %v", h.uri, r.err)
		}
		if h.l != nil {
			h.log.Info("reconnected to libvirt", "uri", h.uri.String())
		}
		h.l = r.l
		return h.l, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.l != nil {
				r.l.Disconnect()
			}
		}()
		return nil, hypervisor.Errorf(hypervisor.ErrOperationTimeout, "operation timed out: connecting to libvirt at %s", h.uri)
	}
}

// drop forgets a connection that misbehaved, so that the next call reconnects.
func (h *Hypervisor) drop(l *golibvirt.Libvirt) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.l == l {
		h.l = nil
		go l.Disconnect()
	}
}

// call runs fn against libvirt with the context's deadline (or the default
// one), and translates libvirt's errors.
func (h *Hypervisor) call(ctx context.Context, what string, fn func(l *golibvirt.Libvirt) error) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.timeout)
		defer cancel()
	}
	l, err := h.conn(ctx)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- fn(l) }()
	select {
	case err := <-done:
		return h.translate(l, err)
	case <-ctx.Done():
		// The call may still be running inside libvirt; the connection is
		// dropped so that a stuck daemon does not hold later calls.
		h.drop(l)
		return hypervisor.Errorf(hypervisor.ErrAbandoned, "operation timed out: %s: %v (it may still be carried out)", what, ctx.Err())
	}
}

func (h *Hypervisor) translate(l *golibvirt.Libvirt, err error) error {
	if err == nil {
		return nil
	}
	var le golibvirt.Error
	if errors.As(err, &le) {
		return &hypervisor.Error{Code: int(le.Code), Message: le.Message}
	}
	var he *hypervisor.Error
	if errors.As(err, &he) {
		return he
	}
	// Anything else is the transport: reconnect next time.
	h.drop(l)
	return hypervisor.Errorf(hypervisor.ErrSystem, "libvirt connection failed: %v", err)
}

func parseUUID(id string) (golibvirt.UUID, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return golibvirt.UUID{}, hypervisor.Errorf(hypervisor.ErrNoDomain, "Domain not found: no domain with matching uuid '%s'", id)
	}
	return golibvirt.UUID(u), nil
}

// lookup finds a domain by its UUID. Handles are remembered: libvirt's
// daemon resolves a domain handle by its UUID, so one looked up before stays
// good for a domain recreated with the same UUID, and a vanished domain
// fails the call that uses the handle with libvirt's own "Domain not found".
func (h *Hypervisor) lookup(l *golibvirt.Libvirt, id string) (golibvirt.Domain, error) {
	if d, ok := h.handles.Load(id); ok {
		return d.(golibvirt.Domain), nil
	}
	u, err := parseUUID(id)
	if err != nil {
		return golibvirt.Domain{}, err
	}
	d, err := l.DomainLookupByUUID(u)
	if err == nil {
		h.handles.Store(id, d)
	}
	return d, err
}

// liveXML reads and parses a running domain's XML.
func liveXML(l *golibvirt.Libvirt, d golibvirt.Domain) (*libvirtxml.Domain, error) {
	raw, err := l.DomainGetXMLDesc(d, 0)
	if err != nil {
		return nil, err
	}
	var x libvirtxml.Domain
	if err := x.Unmarshal(raw); err != nil {
		return nil, hypervisor.Errorf(hypervisor.ErrInternal, "internal error: cannot parse the domain XML: %v", err)
	}
	return &x, nil
}

func ours(x *libvirtxml.Domain) bool {
	return x.Metadata != nil && strings.Contains(x.Metadata.XML, metadataNS)
}

// state turns a live domain XML into the hypervisor's view.
func state(x *libvirtxml.Domain) hypervisor.DomainState {
	st := hypervisor.DomainState{ID: x.UUID, Name: x.Name, Running: true}
	if x.Devices == nil {
		return st
	}
	for _, i := range x.Devices.Interfaces {
		st.NICs = append(st.NICs, nicState(i))
	}
	return st
}

func nicState(i libvirtxml.DomainInterface) hypervisor.NICState {
	var n hypervisor.NICState
	if i.Alias != nil {
		n.Alias = i.Alias.Name
	}
	if i.MAC != nil {
		n.MAC = strings.ToLower(i.MAC.Address)
	}
	if i.Model != nil {
		n.Model = i.Model.Type
	}
	if i.Source != nil && i.Source.Bridge != nil {
		n.Bridge = i.Source.Bridge.Bridge
	}
	// No <link> element means up, as libvirt documents.
	n.LinkUp = i.Link == nil || i.Link.State != "down"
	if i.Target != nil {
		n.Tap = i.Target.Dev
	}
	if f := i.FilterRef; f != nil {
		n.Filter = f.Filter
		for _, p := range f.Parameters {
			n.FilterParams = append(n.FilterParams, hypervisor.FilterParam{Name: p.Name, Value: p.Value})
		}
	}
	if i.Address != nil && i.Address.PCI != nil {
		p := i.Address.PCI
		n.PCIAddress = fmt.Sprintf("%04x:%02x:%02x.%x", deref(p.Domain), deref(p.Bus), deref(p.Slot), deref(p.Function))
	}
	return n
}

func deref(p *uint) uint {
	if p == nil {
		return 0
	}
	return *p
}

func linkState(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

// iface is the <interface> of a vNIC: bridge, MAC, model (always set, or
// libvirt picks its own default), link state, vwire's alias, its network
// filter and no option ROM (iPXE would spin under TCG and is never
// wanted). Port mirroring and bandwidth are not libvirt's: tapnet applies
// them to the tap (libvirt's <bandwidth> needs tc police and sfq, which
// minimal kernels lack, and libvirt has no mirroring).
func iface(n hypervisor.NIC) libvirtxml.DomainInterface {
	var filter *libvirtxml.DomainInterfaceFilterRef
	if n.Filter != "" {
		filter = &libvirtxml.DomainInterfaceFilterRef{Filter: n.Filter}
		for _, p := range n.FilterParams {
			filter.Parameters = append(filter.Parameters, libvirtxml.DomainInterfaceFilterParam{Name: p.Name, Value: p.Value})
		}
	}
	return libvirtxml.DomainInterface{
		FilterRef: filter,
		MAC:       &libvirtxml.DomainInterfaceMAC{Address: n.MAC},
		Source:    &libvirtxml.DomainInterfaceSource{Bridge: &libvirtxml.DomainInterfaceSourceBridge{Bridge: n.Bridge}},
		Model:     &libvirtxml.DomainInterfaceModel{Type: n.Model},
		Link:      &libvirtxml.DomainInterfaceLink{State: linkState(n.LinkUp)},
		Alias:     &libvirtxml.DomainAlias{Name: n.Alias},
		ROM:       &libvirtxml.DomainROM{Enabled: "no"},
	}
}
