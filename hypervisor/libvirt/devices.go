package libvirt

import (
	"os"
	"path/filepath"
	"sync"

	golibvirt "github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"vwire.dev/vwire/hypervisor"
)

// deviceCache remembers the network devices of each running domain as
// libvirt last described them, so that a live update needs no read of the
// whole domain XML to report the device's PCI slot and tap (a read costs
// about as much as a sixth of the update itself).
//
// Every read of a domain takes a sequence number before it asks libvirt and
// stores its result only if no later read stored one first: a poll that read
// a domain before a hot plug cannot overwrite what the plug read back. What
// the cache holds is only ever a hint: UpdateNIC uses it after the kernel
// confirms the tap it names sits on the bridge just asked for, and reads the
// domain back otherwise.
type deviceCache struct {
	mu   sync.Mutex
	seq  uint64
	doms map[string]cachedDomain
}

type cachedDomain struct {
	seq  uint64
	nics map[string]hypervisor.NICState // by alias; nil for a domain gone
}

// begin takes the sequence number of a read about to be made.
func (c *deviceCache) begin() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	return c.seq
}

// store records a domain's devices as a read numbered seq found them.
func (c *deviceCache) store(id string, seq uint64, nics []hypervisor.NICState) {
	m := make(map[string]hypervisor.NICState, len(nics))
	for _, n := range nics {
		m[n.Alias] = n
	}
	c.put(id, cachedDomain{seq: seq, nics: m})
}

// gone records that a domain stopped; reads begun before cannot revive it.
func (c *deviceCache) gone(id string) { c.put(id, cachedDomain{seq: c.begin()}) }

func (c *deviceCache) put(id string, d cachedDomain) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.doms == nil {
		c.doms = map[string]cachedDomain{}
	}
	if cur, ok := c.doms[id]; ok && cur.seq > d.seq {
		return
	}
	c.doms[id] = d
}

// prune drops what a full listing numbered seq no longer found.
func (c *deviceCache) prune(seq uint64, running map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, d := range c.doms {
		if d.seq < seq && !running[id] {
			delete(c.doms, id)
		}
	}
}

func (c *deviceCache) nic(id, alias string) (hypervisor.NICState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.doms[id].nics[alias]
	return n, ok
}

// setNIC records one device after a change to it, or its removal (n nil).
func (c *deviceCache) setNIC(id, alias string, n *hypervisor.NICState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.doms[id]
	if !ok || d.nics == nil {
		return
	}
	m := make(map[string]hypervisor.NICState, len(d.nics))
	for k, v := range d.nics {
		m[k] = v
	}
	if n == nil {
		delete(m, alias)
	} else {
		m[alias] = *n
	}
	d.nics = m
	c.doms[id] = d
}

// read reads a running domain's XML and remembers its devices.
func (h *Hypervisor) read(l *golibvirt.Libvirt, d golibvirt.Domain) (*libvirtxml.Domain, hypervisor.DomainState, error) {
	seq := h.devices.begin()
	x, err := liveXML(l, d)
	if err != nil {
		return nil, hypervisor.DomainState{}, err
	}
	st := state(x)
	for i := range st.NICs {
		h.observeNet(&st.NICs[i])
	}
	h.devices.store(st.ID, seq, st.NICs)
	return x, st, nil
}

// onBridge tells whether the kernel has the tap enslaved to the bridge.
// It answers only for a libvirt on this host: a remote daemon's taps are not
// in this kernel.
func (h *Hypervisor) onBridge(tap, bridge string) bool {
	if h.uri.Host != "" || tap == "" {
		return false
	}
	master, err := os.Readlink(filepath.Join("/sys/class/net", tap, "master"))
	return err == nil && filepath.Base(master) == bridge
}
