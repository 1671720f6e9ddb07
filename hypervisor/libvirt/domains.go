package libvirt

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"vwire.dev/vwire"
	"vwire.dev/vwire/hypervisor"
)

// Named flags, so that calls read as what they do.
const (
	affectLive    = uint32(golibvirt.DomainAffectLive)
	modifyLive    = golibvirt.DomainDeviceModifyLive
	listActive    = golibvirt.ConnectListDomainsActive
	createNone    = golibvirt.DomainCreateFlags(0)
	defaultMemMiB = 64
	unplugRecheck = 250 * time.Millisecond
	// unplugReadBound bounds one re-read of the domain while an unplug waits.
	unplugReadBound = 5 * time.Second
	versionDivisor  = 1000
)

func (h *Hypervisor) Capabilities(ctx context.Context) (hypervisor.Capabilities, error) {
	caps := hypervisor.Capabilities{Hypervisor: h.domType, DomainType: h.domType, DomainTypeReason: h.domTypeWhy,
		Filters: h.filterMissing == "", Shaping: h.net != nil, ShapingReason: h.netWhy}
	if h.filterMissing != "" {
		caps.FiltersReason = "missing " + h.filterMissing + ", which libvirt's network filters need"
	}
	if h.domTypeWarn != "" {
		// The operator sees on the host why its starts are slow.
		caps.DomainTypeReason += "; warning: " + h.domTypeWarn
	}
	err := h.call(ctx, "version", func(l *golibvirt.Libvirt) error {
		lib, err := l.ConnectGetLibVersion()
		if err != nil {
			return err
		}
		hv, err := l.ConnectGetVersion()
		if err != nil {
			return err
		}
		caps.LibvirtVersion, caps.QEMUVersion = version(lib), version(hv)
		return nil
	})
	if err != nil {
		// On a timeout fn may still be writing caps: never read it then.
		return hypervisor.Capabilities{}, err
	}
	caps.Bridges, err = bridges()
	return caps, err
}

// version renders libvirt's packed version (major*1e6 + minor*1e3 + micro).
func version(v uint64) string {
	return fmt.Sprintf("%d.%d.%d", v/(versionDivisor*versionDivisor), (v/versionDivisor)%versionDivisor, v%versionDivisor)
}

// bridges lists the host's Linux bridges, without the dummy one.
func bridges() ([]string, error) {
	entries, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return nil, hypervisor.Errorf(hypervisor.ErrSystem, "cannot list host interfaces: %v", err)
	}
	var out []string
	for _, e := range entries {
		if e.Name() == vwire.DummyBridge {
			continue
		}
		if _, err := os.Stat(filepath.Join("/sys/class/net", e.Name(), "bridge")); err == nil {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// ensureBridge creates an isolated bridge (no ports, no addresses) if missing.
func ensureBridge(ctx context.Context, name string) error {
	if _, err := os.Stat(filepath.Join("/sys/class/net", name, "bridge")); err == nil {
		return nil
	}
	for _, args := range [][]string{{"link", "add", name, "type", "bridge"}, {"link", "set", name, "up"}} {
		if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

func (h *Hypervisor) domainXML(d hypervisor.Domain) (string, error) {
	mem := d.MemoryMiB
	if mem <= 0 {
		mem = defaultMemMiB
	}
	sockets, cores, threads := max(d.Sockets, 1), max(d.Cores, 1), max(d.Threads, 1)
	ifaces := make([]libvirtxml.DomainInterface, len(d.NICs))
	for i, n := range d.NICs {
		ifaces[i] = iface(n)
	}
	x := &libvirtxml.Domain{
		Type: h.domType, Name: d.Name, UUID: d.ID,
		Metadata: &libvirtxml.DomainMetadata{XML: `<vwire:vm xmlns:vwire="` + metadataNS + `"/>`},
		Memory:   &libvirtxml.DomainMemory{Value: uint(mem), Unit: "MiB"},
		VCPU:     &libvirtxml.DomainVCPU{Value: uint(sockets * cores * threads)},
		CPU: &libvirtxml.DomainCPU{Topology: &libvirtxml.DomainCPUTopology{
			Sockets: sockets, Dies: 1, Cores: cores, Threads: threads}},
		OS: &libvirtxml.DomainOS{
			Type:    &libvirtxml.DomainOSType{Arch: "x86_64", Machine: "pc", Type: "hvm"},
			Kernel:  d.Kernel,
			Initrd:  d.Initrd,
			Cmdline: d.Cmdline,
		},
		// ACPI is what a guest answers a PCI unplug request through.
		Features:   &libvirtxml.DomainFeatureList{ACPI: &libvirtxml.DomainFeature{}, APIC: &libvirtxml.DomainFeatureAPIC{}},
		OnPoweroff: "destroy", OnCrash: "destroy",
		Devices: &libvirtxml.DomainDeviceList{
			Interfaces: ifaces,
			MemBalloon: &libvirtxml.DomainMemBalloon{Model: "none"},
		},
	}
	if h.console != "" {
		if err := os.MkdirAll(h.console, 0o750); err != nil {
			return "", hypervisor.Errorf(hypervisor.ErrSystem, "cannot create the console directory: %v", err)
		}
		log := filepath.Join(h.console, d.ID+".log")
		x.Devices.Serials = []libvirtxml.DomainSerial{{
			Source: &libvirtxml.DomainChardevSource{File: &libvirtxml.DomainChardevSourceFile{Path: log, Append: "off"}},
		}}
	}
	return x.Marshal()
}

func (h *Hypervisor) CreateDomain(ctx context.Context, d hypervisor.Domain) (hypervisor.DomainState, error) {
	if err := h.kvmPreflight(); err != nil {
		return hypervisor.DomainState{}, err
	}
	for _, n := range d.NICs {
		if err := h.checkNIC(n); err != nil {
			return hypervisor.DomainState{}, err
		}
	}
	raw, err := h.domainXML(d)
	if err != nil {
		return hypervisor.DomainState{}, err
	}
	var st hypervisor.DomainState
	err = h.call(ctx, "create domain", func(l *golibvirt.Libvirt) error {
		dom, err := l.DomainCreateXML(raw, createNone)
		if err != nil {
			return err
		}
		if _, st, err = h.read(l, dom); err != nil {
			return err
		}
		// The taps exist now; a domain whose mirroring or limits cannot
		// be applied does not run (it would run unshaped or unseen).
		for i := range st.NICs {
			n := &st.NICs[i]
			want, ok := nicOf(d.NICs, n.Alias)
			if !ok || !wantsNet(want) {
				continue
			}
			if err := h.applyNet(n.Tap, want); err != nil {
				if derr := l.DomainDestroy(dom); derr != nil {
					h.log.Error("destroy a domain whose mirroring or bandwidth failed", "domain", d.ID, "err", derr)
				}
				h.devices.gone(d.ID)
				h.reconcileNet()
				return err
			}
			h.observeNet(n)
		}
		return nil
	})
	if err != nil {
		// On a timeout fn may still be running and writing st: never read it then.
		return hypervisor.DomainState{}, err
	}
	return st, nil
}

func nicOf(nics []hypervisor.NIC, alias string) (hypervisor.NIC, bool) {
	for _, n := range nics {
		if n.Alias == alias {
			return n, true
		}
	}
	return hypervisor.NIC{}, false
}

// DestroyDomain stops the domain; libvirt removes its taps before it
// answers, so tapnet's state for them (mirror filters on the other ports,
// ifbs) is undone right after. Domains that die on their own are undone
// by tapnet's watcher when their taps go.
func (h *Hypervisor) DestroyDomain(ctx context.Context, id string) error {
	defer h.handles.Delete(id)
	defer h.devices.gone(id)
	defer h.reconcileNet()
	return h.call(ctx, "destroy domain", func(l *golibvirt.Libvirt) error {
		dom, err := h.lookup(l, id)
		if err != nil {
			return err
		}
		return l.DomainDestroy(dom)
	})
}

func (h *Hypervisor) Domains(ctx context.Context) ([]hypervisor.DomainState, error) {
	var out []hypervisor.DomainState
	err := h.call(ctx, "list domains", func(l *golibvirt.Libvirt) error {
		seq := h.devices.begin()
		doms, _, err := l.ConnectListAllDomains(1, listActive)
		if err != nil {
			return err
		}
		running := map[string]bool{}
		for _, d := range doms {
			x, st, err := h.read(l, d)
			if golibvirt.IsNotFound(err) {
				continue // it went away between the list and the read
			}
			if err != nil {
				return err
			}
			running[st.ID] = true
			if ours(x) {
				out = append(out, st)
			}
		}
		h.devices.prune(seq, running)
		return nil
	})
	if err != nil {
		// On a timeout fn may still be running and appending to out: never
		// read it then.
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (h *Hypervisor) Domain(ctx context.Context, id string) (hypervisor.DomainState, error) {
	var st hypervisor.DomainState
	err := h.call(ctx, "read domain", func(l *golibvirt.Libvirt) error {
		dom, err := h.lookup(l, id)
		if err != nil {
			return err
		}
		_, st, err = h.read(l, dom)
		return err
	})
	if err != nil {
		// On a timeout fn may still be running and writing st: never read it then.
		return hypervisor.DomainState{}, err
	}
	return st, nil
}

// InterfaceCounters reads each device's counters from its tap
// (virDomainInterfaceStats; the guest's view: what it received is rx).
func (h *Hypervisor) InterfaceCounters(ctx context.Context, id string) (map[string]hypervisor.NICCounters, error) {
	out := map[string]hypervisor.NICCounters{}
	err := h.call(ctx, "read interface counters", func(l *golibvirt.Libvirt) error {
		dom, err := h.lookup(l, id)
		if err != nil {
			return err
		}
		x, _, err := h.read(l, dom)
		if err != nil || x.Devices == nil {
			return err
		}
		for _, n := range x.Devices.Interfaces {
			if n.Alias == nil || n.Target == nil || n.Target.Dev == "" {
				continue
			}
			var c hypervisor.NICCounters
			c.RxBytes, c.RxPackets, c.RxErrors, c.RxDrops, c.TxBytes, c.TxPackets, c.TxErrors, c.TxDrops, err =
				l.DomainInterfaceStats(dom, n.Target.Dev)
			if err != nil {
				return err
			}
			out[n.Alias.Name] = c
		}
		return nil
	})
	if err != nil {
		// On a timeout fn may still be running and writing out: never read it then.
		return nil, err
	}
	return out, nil
}

// liveNIC finds a device of a running domain by alias.
func (h *Hypervisor) liveNIC(l *golibvirt.Libvirt, dom golibvirt.Domain, alias string) (*libvirtxml.DomainInterface, error) {
	x, _, err := h.read(l, dom)
	if err != nil {
		return nil, err
	}
	if x.Devices != nil {
		for i := range x.Devices.Interfaces {
			if a := x.Devices.Interfaces[i].Alias; a != nil && a.Name == alias {
				return &x.Devices.Interfaces[i], nil
			}
		}
	}
	return nil, nil
}

// readDevice reads a device back from the live domain after a change.
func (h *Hypervisor) readDevice(l *golibvirt.Libvirt, dom golibvirt.Domain, alias, change string) (hypervisor.NICState, error) {
	got, err := h.liveNIC(l, dom, alias)
	if err != nil {
		return hypervisor.NICState{}, err
	}
	if got == nil {
		return hypervisor.NICState{}, hypervisor.Errorf(hypervisor.ErrInternal, "internal error: device %s missing right after it was %s", alias, change)
	}
	return nicState(*got), nil
}

// onDevice runs fn with n's <interface> XML on the domain: the common part
// of plugging and updating a device.
func (h *Hypervisor) onDevice(ctx context.Context, what, id string, n hypervisor.NIC,
	fn func(l *golibvirt.Libvirt, dom golibvirt.Domain, raw string) (hypervisor.NICState, error)) (hypervisor.NICState, error) {
	x := iface(n)
	raw, err := x.Marshal()
	if err != nil {
		return hypervisor.NICState{}, err
	}
	var st hypervisor.NICState
	err = h.call(ctx, what, func(l *golibvirt.Libvirt) error {
		dom, err := h.lookup(l, id)
		if err != nil {
			return err
		}
		st, err = fn(l, dom, raw)
		return err
	})
	if err != nil {
		// On a timeout fn may still be running and writing st: never read it then.
		return hypervisor.NICState{}, err
	}
	return st, nil
}

// AttachNIC plugs the device, then applies its mirroring and limits to
// the new tap. If that fails, the device is unplugged again (as VDSM does)
// and the plug fails: a device must not run unshaped or unseen.
func (h *Hypervisor) AttachNIC(ctx context.Context, id string, n hypervisor.NIC) (hypervisor.NICState, error) {
	if err := h.checkNIC(n); err != nil {
		return hypervisor.NICState{}, err
	}
	return h.onDevice(ctx, "attach device", id, n, func(l *golibvirt.Libvirt, dom golibvirt.Domain, raw string) (hypervisor.NICState, error) {
		if err := l.DomainAttachDeviceFlags(dom, raw, affectLive); err != nil {
			return hypervisor.NICState{}, err
		}
		st, err := h.readDevice(l, dom, n.Alias, "attached")
		if err != nil || !wantsNet(n) {
			return st, err
		}
		if err := h.applyNet(st.Tap, n); err != nil {
			if derr := l.DomainDetachDeviceAlias(dom, n.Alias, affectLive); derr != nil {
				h.log.Error("unplug a device whose mirroring or bandwidth failed", "domain", id, "alias", n.Alias, "err", derr)
			}
			h.forgetNet(st.Tap)
			return hypervisor.NICState{}, err
		}
		h.observeNet(&st)
		h.devices.setNIC(id, n.Alias, &st)
		return st, nil
	})
}

// DetachNIC asks the guest to release the device and waits for libvirt's
// device-removed event (re-reading the domain now and then, in case an event
// is lost) until ctx ends.
func (h *Hypervisor) DetachNIC(ctx context.Context, id, alias string) error {
	var dom golibvirt.Domain
	var events <-chan any
	var tap string
	evCtx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	err := h.call(ctx, "detach device", func(l *golibvirt.Libvirt) error {
		var err error
		if dom, err = h.lookup(l, id); err != nil {
			return err
		}
		cur, err := h.liveNIC(l, dom, alias)
		if err != nil {
			return err
		}
		if cur == nil {
			return hypervisor.Errorf(hypervisor.ErrDeviceMissing, "device not found: no device found with alias %s", alias)
		}
		if cur.Target != nil {
			tap = cur.Target.Dev
		}
		// Subscribe before asking, so that a fast guest's answer is not missed.
		if ch, err := l.SubscribeEvents(evCtx, golibvirt.DomainEventIDDeviceRemoved, golibvirt.OptDomain{dom}); err == nil {
			events = ch
		} else {
			h.log.Warn("cannot subscribe to device-removed events; polling instead", "err", err)
		}
		return l.DomainDetachDeviceAlias(dom, alias, affectLive)
	})
	if err != nil {
		return err
	}
	tick := time.NewTicker(unplugRecheck)
	defer tick.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if m, ok := ev.(*golibvirt.DomainEventCallbackDeviceRemovedMsg); ok && m.Msg.DevAlias == alias && m.Msg.Dom.UUID == dom.UUID {
				h.log.Debug("device removed", "domain", id, "alias", alias, "seen_by", "event")
				h.devices.setNIC(id, alias, nil)
				h.forgetNet(tap)
				return nil
			}
		case <-tick.C:
			if ctx.Err() != nil {
				continue // the deadline's case answers: not released in time
			}
			// The read changes nothing, so the wait's deadline striking
			// during it must not abandon it: that would drop the
			// connection and turn "the guest did not release it" into an
			// unknown outcome. It has its own bound instead.
			gone := false
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(h.timeout, unplugReadBound))
			err := h.call(rctx, "read domain", func(l *golibvirt.Libvirt) error {
				cur, err := h.liveNIC(l, dom, alias)
				gone = cur == nil
				return err
			})
			cancel()
			if err != nil {
				return err
			}
			if gone {
				h.log.Debug("device removed", "domain", id, "alias", alias, "seen_by", "poll")
				h.forgetNet(tap)
				return nil
			}
		case <-ctx.Done():
			return hypervisor.Errorf(hypervisor.ErrOperationTimeout,
				"operation timed out: the guest did not release device %s (no device-removed event before the deadline)", alias)
		}
	}
}

// UpdateNIC changes a live device in place. The XML sent names the device by
// MAC and alias as asked, so that libvirt itself refuses a MAC or model
// change. Every device vwire plugs has its option ROM off, which libvirt
// refuses to change, so iface's <rom enabled='no'/> matches.
//
// libvirt changes its live definition only after QEMU (set_link) and the
// kernel (moving the tap between bridges) did what was asked, so reading the
// domain back would show what the call already confirmed. The device is
// reported from what the last read of the domain knew (slot, tap) once the
// kernel confirms that tap is on the bridge asked for and the filter did
// not change; otherwise, or when nothing is known of the device, it is read
// back. Port mirroring and bandwidth are then applied to the tap and read
// back from the kernel.
//
// libvirt (9.0, measured) changes a bridge interface's filter live in
// every way: another filter, other parameters, a filter added or removed.
// It refuses only a filter it cannot instantiate (an unknown name:
// "failed to add new filter rules", code 9), keeping the old rules.
func (h *Hypervisor) UpdateNIC(ctx context.Context, id string, n hypervisor.NIC) (hypervisor.NICState, error) {
	if err := h.checkNIC(n); err != nil {
		return hypervisor.NICState{}, err
	}
	return h.onDevice(ctx, "update device", id, n, func(l *golibvirt.Libvirt, dom golibvirt.Domain, raw string) (hypervisor.NICState, error) {
		if err := l.DomainUpdateDeviceFlags(dom, raw, modifyLive); err != nil {
			return hypervisor.NICState{}, err
		}
		var st hypervisor.NICState
		if known, ok := h.devices.nic(id, n.Alias); ok && strings.EqualFold(known.MAC, n.MAC) && h.onBridge(known.Tap, n.Bridge) && sameFilter(known, n) {
			st = known
			st.Bridge, st.LinkUp = n.Bridge, n.LinkUp
			// Neither the bridge nor mirroring nor limits changed, and the
			// last read found them applied: nothing for tapnet (which
			// would double the cost of a link flip).
			if known.Bridge == n.Bridge && sameNet(known, n) {
				h.devices.setNIC(id, n.Alias, &st)
				return st, nil
			}
		} else {
			var err error
			if st, err = h.readDevice(l, dom, n.Alias, "updated"); err != nil {
				return st, err
			}
		}
		// Mirroring and limits follow the device, also to another bridge.
		if err := h.applyNet(st.Tap, n); err != nil {
			return hypervisor.NICState{}, err
		}
		h.observeNet(&st)
		h.devices.setNIC(id, n.Alias, &st)
		return st, nil
	})
}

// announceArgs are QEMU's announce-self timings (ms): three rounds, as the
// reference measurements used.
const announceQMP = `{"execute":"announce-self","arguments":{"initial":50,"max":550,"rounds":3,"step":100,"interfaces":[%q]}}`

// Announce runs QEMU's announce-self for one device. QEMU silently ignores
// an unknown interface name, so the alias is checked against the live
// domain first; the QEMU device id is the libvirt alias.
func (h *Hypervisor) Announce(ctx context.Context, id, alias string) error {
	return h.call(ctx, "announce device", func(l *golibvirt.Libvirt) error {
		dom, err := h.lookup(l, id)
		if err != nil {
			return err
		}
		cur, err := h.liveNIC(l, dom, alias)
		if err != nil {
			return err
		}
		if cur == nil {
			return hypervisor.Errorf(hypervisor.ErrDeviceMissing, "device not found: no device found with alias %s", alias)
		}
		out, err := l.QEMUDomainMonitorCommand(dom, fmt.Sprintf(announceQMP, alias), 0)
		if err != nil {
			return err
		}
		if strings.Contains(out, `"error"`) {
			return hypervisor.Errorf(hypervisor.ErrInternal, "internal error: announce-self failed: %s", out)
		}
		return nil
	})
}
