package libvirt

import (
	"slices"

	"vwire.dev/vwire/hypervisor"
)

// The vNIC features libvirt does not apply here (port mirroring,
// bandwidth) go to tapnet once libvirt has made the device's tap; what is
// reported is what tapnet reads back from the kernel.

// wantsNet tells whether a device asks for anything of tapnet.
func wantsNet(n hypervisor.NIC) bool {
	return n.PortMirroring || hypervisor.CanonicalBandwidth(n.Bandwidth) != nil
}

// checkNIC refuses, before libvirt is asked, what this host cannot do for
// a device: an invalid limit (as libvirt's own <bandwidth> parser would), a
// filter without the binaries it needs, mirroring or limits where tapnet
// cannot reach the taps.
func (h *Hypervisor) checkNIC(n hypervisor.NIC) error {
	if err := hypervisor.ValidateBandwidth(n.Bandwidth); err != nil {
		return err
	}
	if err := h.checkFilters(n); err != nil {
		return err
	}
	if h.net == nil && wantsNet(n) {
		return hypervisor.Errorf(hypervisor.ErrNoSupport,
			"this function is not supported: port mirroring and bandwidth of %s cannot be applied: %s", n.Alias, h.netWhy)
	}
	return nil
}

// applyNet gives a device's tap the mirroring and limits asked.
func (h *Hypervisor) applyNet(tap string, n hypervisor.NIC) error {
	if h.net == nil {
		return nil // checkNIC refused anything asked of it
	}
	if tap == "" {
		return hypervisor.Errorf(hypervisor.ErrInternal, "internal error: device %s has no tap to apply mirroring or bandwidth to", n.Alias)
	}
	if h.netFault != nil {
		if err := h.netFault(tap); err != nil {
			return err
		}
	}
	return h.net.Apply(tap, n.PortMirroring, n.Bandwidth)
}

// forgetNet undoes what tapnet did for a tap that goes.
func (h *Hypervisor) forgetNet(tap string) {
	if h.net == nil || tap == "" {
		return
	}
	if err := h.net.Forget(tap); err != nil {
		h.log.Warn("undo mirroring and bandwidth of a removed tap", "tap", tap, "err", err)
	}
}

// reconcileNet brings tapnet's state in line with the taps present (after
// a domain's taps went away with it).
func (h *Hypervisor) reconcileNet() {
	if h.net == nil {
		return
	}
	if err := h.net.Reconcile(); err != nil {
		h.log.Warn("tapnet reconcile", "err", err)
	}
}

// observeNet fills in a device's observed mirroring and limits from the
// kernel. A tap that vanished meanwhile reports none.
func (h *Hypervisor) observeNet(n *hypervisor.NICState) {
	if h.net == nil || n.Tap == "" {
		return
	}
	st, err := h.net.Observe(n.Tap)
	if err != nil {
		h.log.Debug("read a tap's mirroring and bandwidth", "tap", n.Tap, "err", err)
		return
	}
	n.PortMirroring, n.Bandwidth = st.Mirror, st.Bandwidth
}

// sameFilter tells whether a device already has the filter asked.
func sameFilter(have hypervisor.NICState, want hypervisor.NIC) bool {
	return have.Filter == want.Filter && slices.Equal(have.FilterParams, want.FilterParams)
}

// sameNet tells whether a device as last read has the mirroring and
// limits asked.
func sameNet(have hypervisor.NICState, want hypervisor.NIC) bool {
	a, b := hypervisor.CanonicalBandwidth(have.Bandwidth), hypervisor.CanonicalBandwidth(want.Bandwidth)
	same := func(x, y *hypervisor.Rate) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return have.PortMirroring == want.PortMirroring && (a == nil) == (b == nil) &&
		(a == nil || (same(a.Inbound, b.Inbound) && same(a.Outbound, b.Outbound)))
}
