package hypervisortest

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"vwire.dev/vwire/hypervisor"
)

// The features a vNIC profile adds to a device (issue 15): port
// mirroring, bandwidth limits and a network filter, applied at start and
// at plug, reported as observed state, changed live, removed live; and the
// same refusals on every backend. Wanted values are written in canonical
// form (hypervisor.CanonicalBandwidth), which is what backends report.

func rate(avg, peak, burst int64) *hypervisor.Rate {
	return &hypervisor.Rate{Average: avg, Peak: peak, Burst: burst}
}

// runFeatures runs on its own domain, on the suite's bridges.
func runFeatures(t *testing.T, h Harness, brA, brB string) {
	hv := h.Hypervisor()
	id := uuid.NewString()
	full := nic(uuid.NewString(), "02:00:00:ab:00:01", brA, true)
	full.PortMirroring = true
	full.Bandwidth = &hypervisor.Bandwidth{Inbound: rate(125, 0, 0), Outbound: rate(250, 500, 64)}
	full.Filter = "vdsm-no-mac-spoofing"
	plain := nic(uuid.NewString(), "02:00:00:ab:00:02", brA, true)
	dom, err := hv.CreateDomain(ctx(t), hypervisor.Domain{ID: id, Name: "vwt-" + id[:8], MemoryMiB: 64,
		NICs: []hypervisor.NIC{full, plain}})
	if err != nil {
		t.Fatalf("CreateDomain with mirroring, bandwidth and a filter: %v", err)
	}
	t.Cleanup(func() { hv.DestroyDomain(context.Background(), id) })
	created, _ := dom.NICByAlias(full.Alias)
	pci := created.PCIAddress

	t.Run("AppliedAtCreate", func(t *testing.T) {
		if created.NIC.PortMirroring != full.PortMirroring || created.NIC.Filter != full.Filter ||
			!sameBandwidth(created.Bandwidth, full.Bandwidth) {
			t.Errorf("CreateDomain reported %s, want %s", describe(created.NIC, pci), describe(full, pci))
		}
		assertLive(t, hv, id, full, pci)
		p, _ := dom.NICByAlias(plain.Alias)
		assertLive(t, hv, id, plain, p.PCIAddress)
	})

	t.Run("Capabilities", func(t *testing.T) {
		caps, err := hv.Capabilities(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if !caps.Filters || !caps.Shaping {
			t.Errorf("capabilities: filters %v (%s), shaping %v (%s); want both", caps.Filters, caps.FiltersReason, caps.Shaping, caps.ShapingReason)
		}
	})

	// update changes the device live and checks what UpdateNIC and
	// Domain report.
	update := func(t *testing.T, want hypervisor.NIC) {
		t.Helper()
		got, err := hv.UpdateNIC(ctx(t), id, want)
		if err != nil {
			t.Fatalf("UpdateNIC to %s: %v", describe(want, pci), err)
		}
		if got.PCIAddress != pci || got.MAC != want.MAC || got.PortMirroring != want.PortMirroring ||
			got.Filter != want.Filter || !sameBandwidth(got.Bandwidth, want.Bandwidth) {
			t.Errorf("UpdateNIC reported %s, want %s", describe(got.NIC, got.PCIAddress), describe(want, pci))
		}
		assertLive(t, hv, id, want, pci)
	}

	t.Run("MirroringLive", func(t *testing.T) {
		off := full
		off.PortMirroring = false
		update(t, off)
		update(t, full)
		// Mirroring follows the device to another bridge.
		moved := full
		moved.Bridge = brB
		update(t, moved)
		update(t, full)
	})

	t.Run("BandwidthLive", func(t *testing.T) {
		raised := full
		raised.Bandwidth = &hypervisor.Bandwidth{Inbound: rate(250, 0, 32), Outbound: rate(250, 0, 0)}
		update(t, raised)
		inOnly := full
		inOnly.Bandwidth = &hypervisor.Bandwidth{Inbound: rate(125, 0, 0)}
		update(t, inOnly)
		// No stale limit: removed live, reported as none.
		none := full
		none.Bandwidth = nil
		update(t, none)
		update(t, full)
	})

	t.Run("FilterLive", func(t *testing.T) {
		other := full
		other.Filter = "no-ip-spoofing"
		other.FilterParams = []hypervisor.FilterParam{{Name: "IP", Value: "198.18.0.10"}}
		update(t, other)
		other.FilterParams = []hypervisor.FilterParam{{Name: "IP", Value: "198.18.0.11"}}
		update(t, other)
		none := full
		none.Filter = ""
		update(t, none)
		update(t, full)
	})

	t.Run("Refusals", func(t *testing.T) {
		badBW := full
		badBW.Bandwidth = &hypervisor.Bandwidth{Outbound: rate(0, 10, 0)}
		unknown := full
		unknown.Filter = "vwire-no-such-filter"
		if _, err := hv.UpdateNIC(ctx(t), id, badBW); code(err) != hypervisor.ErrXMLDetail {
			t.Errorf("UpdateNIC with no average: %v, want code %d", err, hypervisor.ErrXMLDetail)
		}
		_, err := hv.UpdateNIC(ctx(t), id, unknown)
		if code(err) != hypervisor.ErrOperationFailed || !strings.Contains(err.Error(), "failed to add new filter rules to '"+created.Tap+"'") {
			t.Errorf("UpdateNIC to an unknown filter: %v (code %d), want code %d, failed to add new filter rules", err, code(err), hypervisor.ErrOperationFailed)
		}
		assertLive(t, hv, id, full, pci)

		plug := nic(uuid.NewString(), "02:00:00:ab:00:03", brB, true)
		plug.Filter = unknown.Filter
		_, err = hv.AttachNIC(ctx(t), id, plug)
		if code(err) != hypervisor.ErrInternal || !strings.Contains(err.Error(), "referenced filter '"+unknown.Filter+"' is missing") {
			t.Errorf("AttachNIC with an unknown filter: %v (code %d), want code %d, referenced filter is missing", err, code(err), hypervisor.ErrInternal)
		}
		plug.Filter, plug.Bandwidth = "", badBW.Bandwidth
		if _, err := hv.AttachNIC(ctx(t), id, plug); code(err) != hypervisor.ErrXMLDetail {
			t.Errorf("AttachNIC with no average: %v, want code %d", err, hypervisor.ErrXMLDetail)
		}
		st, err := hv.Domain(ctx(t), id)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := st.NICByAlias(plug.Alias); ok {
			t.Errorf("refused plug left device %s behind", plug.Alias)
		}

		bad := uuid.NewString()
		withUnknown := nic(uuid.NewString(), "02:00:00:ab:00:04", brA, true)
		withUnknown.Filter = unknown.Filter
		_, err = hv.CreateDomain(ctx(t), hypervisor.Domain{ID: bad, Name: "vwt-" + bad[:8], MemoryMiB: 64, NICs: []hypervisor.NIC{withUnknown}})
		if err == nil {
			hv.DestroyDomain(context.Background(), bad)
		}
		if code(err) != hypervisor.ErrInternal || !strings.Contains(err.Error(), "is missing") {
			t.Errorf("CreateDomain with an unknown filter: %v (code %d), want code %d", err, code(err), hypervisor.ErrInternal)
		}
		withUnknown.Filter, withUnknown.Bandwidth = "", badBW.Bandwidth
		if _, err := hv.CreateDomain(ctx(t), hypervisor.Domain{ID: bad, Name: "vwt-" + bad[:8], MemoryMiB: 64, NICs: []hypervisor.NIC{withUnknown}}); code(err) != hypervisor.ErrXMLDetail {
			hv.DestroyDomain(context.Background(), bad)
			t.Errorf("CreateDomain with no average: %v, want code %d", err, hypervisor.ErrXMLDetail)
		}
		if _, err := hv.Domain(ctx(t), bad); code(err) != hypervisor.ErrNoDomain {
			t.Errorf("refused domain exists: %v", err)
		}
	})

	t.Run("AppliedAtPlugAndGoneAtUnplug", func(t *testing.T) {
		plug := nic(uuid.NewString(), "02:00:00:ab:00:05", brB, true)
		plug.PortMirroring = true
		plug.Bandwidth = &hypervisor.Bandwidth{Outbound: rate(125, 0, 0)}
		plug.Filter = "no-mac-spoofing"
		got, err := hv.AttachNIC(ctx(t), id, plug)
		if err != nil {
			t.Fatalf("AttachNIC: %v", err)
		}
		if !got.PortMirroring || got.Filter != plug.Filter || !sameBandwidth(got.Bandwidth, plug.Bandwidth) {
			t.Errorf("AttachNIC reported %s, want %s", describe(got.NIC, got.PCIAddress), describe(plug, got.PCIAddress))
		}
		assertLive(t, hv, id, plug, got.PCIAddress)
		off := plug
		off.PortMirroring, off.Bandwidth, off.Filter = false, nil, ""
		if _, err := hv.UpdateNIC(ctx(t), id, off); err != nil {
			t.Fatal(err)
		}
		assertLive(t, hv, id, off, got.PCIAddress)
		if _, err := hv.UpdateNIC(ctx(t), id, plug); err != nil {
			t.Fatal(err)
		}
		go h.Eject(t, id, got.PCIAddress)
		if err := hv.DetachNIC(ctx(t), id, plug.Alias); err != nil {
			t.Fatalf("DetachNIC: %v", err)
		}
		assertLive(t, hv, id, full, pci)
	})
}

func sameBandwidth(a, b *hypervisor.Bandwidth) bool {
	a, b = hypervisor.CanonicalBandwidth(a), hypervisor.CanonicalBandwidth(b)
	if a == nil || b == nil {
		return a == b
	}
	same := func(x, y *hypervisor.Rate) bool { return (x == nil && y == nil) || (x != nil && y != nil && *x == *y) }
	return same(a.Inbound, b.Inbound) && same(a.Outbound, b.Outbound)
}
