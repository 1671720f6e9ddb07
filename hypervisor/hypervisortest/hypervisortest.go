// Package hypervisortest is the conformance suite of hypervisor.Hypervisor.
// Every backend (sim, libvirt) runs it, so that the simulation cannot drift
// from what a real host does.
package hypervisortest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"vwire.dev/vwire"
	"vwire.dev/vwire/hypervisor"
)

// Harness gives the suite a hypervisor and control over the host's bridges.
type Harness interface {
	Hypervisor() hypervisor.Hypervisor
	// AddBridge creates a bridge on the host for the rest of the test.
	AddBridge(t *testing.T, name string)
	// RemoveBridge deletes a bridge behind the hypervisor's back.
	RemoveBridge(t *testing.T, name string)
	// Eject plays the guest's part of a hot-unplug: it releases the device at
	// the PCI address once the hypervisor has asked for it. A backend whose
	// guests answer by themselves does nothing.
	Eject(t *testing.T, domainID, pci string)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// code returns the hypervisor error code of err, -1 when err is not one.
func code(err error) int {
	var he *hypervisor.Error
	if errors.As(err, &he) {
		return he.Code
	}
	return -1
}

func nic(id, mac, bridge string, up bool) hypervisor.NIC {
	return hypervisor.NIC{Alias: "ua-" + id, MAC: mac, Model: "virtio", Bridge: bridge, LinkUp: up}
}

// short makes unique bridge names that fit Linux's 15 characters.
func short(prefix string) string {
	return prefix + strings.ReplaceAll(uuid.NewString(), "-", "")[:15-len(prefix)]
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	hv := h.Hypervisor()
	brA, brB := short("vwa"), short("vwb")
	h.AddBridge(t, brA)
	h.AddBridge(t, brB)

	id := uuid.NewString()
	nicA := nic(uuid.NewString(), "02:00:00:aa:00:01", brA, true)
	nicB := nic(uuid.NewString(), "02:00:00:aa:00:02", vwire.DummyBridge, false)
	dom, err := hv.CreateDomain(ctx(t), hypervisor.Domain{ID: id, Name: "vwt-" + id[:8], MemoryMiB: 64,
		NICs: []hypervisor.NIC{nicA, nicB}})
	if err != nil {
		t.Fatalf("CreateDomain: %v", err)
	}
	t.Cleanup(func() { hv.DestroyDomain(context.Background(), id) })

	t.Run("CreatedDevices", func(t *testing.T) {
		if !dom.Running || dom.ID != id {
			t.Fatalf("domain state = %+v, want running %s", dom, id)
		}
		for _, want := range []hypervisor.NIC{nicA, nicB} {
			got, ok := dom.NICByAlias(want.Alias)
			if !ok {
				t.Fatalf("device %s missing from %+v", want.Alias, dom.NICs)
			}
			if !reflect.DeepEqual(got.NIC, want) {
				t.Errorf("device %s = %+v, want %+v", want.Alias, got.NIC, want)
			}
			if got.PCIAddress == "" {
				t.Errorf("device %s has no PCI address", want.Alias)
			}
		}
	})

	t.Run("PCIAddresses", func(t *testing.T) {
		a, _ := dom.NICByAlias(nicA.Alias)
		b, _ := dom.NICByAlias(nicB.Alias)
		if a.PCIAddress != "0000:00:02.0" || b.PCIAddress != "0000:00:03.0" {
			t.Errorf("PCI addresses %s and %s, want 0000:00:02.0 and 0000:00:03.0 (pc machine, no graphics)", a.PCIAddress, b.PCIAddress)
		}
	})

	t.Run("CapabilitiesHideDummyBridge", func(t *testing.T) {
		caps, err := hv.Capabilities(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, b := range caps.Bridges {
			have[b] = true
		}
		if !have[brA] || !have[brB] || have[vwire.DummyBridge] {
			t.Errorf("bridges = %v, want %s and %s without %s", caps.Bridges, brA, brB, vwire.DummyBridge)
		}
	})

	before, _ := dom.NICByAlias(nicA.Alias)

	t.Run("LinkDownUpKeepsDevice", func(t *testing.T) {
		for _, up := range []bool{false, true} {
			want := nicA
			want.LinkUp = up
			got, err := hv.UpdateNIC(ctx(t), id, want)
			if err != nil {
				t.Fatalf("UpdateNIC link=%v: %v", up, err)
			}
			assertLive(t, hv, id, want, before.PCIAddress)
			if got.PCIAddress != before.PCIAddress {
				t.Errorf("update reported PCI %s, want %s", got.PCIAddress, before.PCIAddress)
			}
		}
	})

	t.Run("BridgeMoveKeepsMACAndSlot", func(t *testing.T) {
		want := nicA
		want.Bridge = brB
		if _, err := hv.UpdateNIC(ctx(t), id, want); err != nil {
			t.Fatalf("UpdateNIC to %s: %v", brB, err)
		}
		assertLive(t, hv, id, want, before.PCIAddress)
		want.Bridge, want.LinkUp = vwire.DummyBridge, false
		if _, err := hv.UpdateNIC(ctx(t), id, want); err != nil {
			t.Fatalf("UpdateNIC to dummy: %v", err)
		}
		assertLive(t, hv, id, want, before.PCIAddress)
		if _, err := hv.UpdateNIC(ctx(t), id, nicA); err != nil {
			t.Fatalf("UpdateNIC back: %v", err)
		}
		assertLive(t, hv, id, nicA, before.PCIAddress)
	})

	t.Run("UpdateRefusals", func(t *testing.T) {
		missing := short("vwx")
		cases := []struct {
			name     string
			nic      hypervisor.NIC
			domain   string
			wantCode int
			wantText string
		}{
			{"ChangeMAC", func() hypervisor.NIC { n := nicA; n.MAC = "02:00:00:aa:00:99"; return n }(), id,
				hypervisor.ErrDeviceMissing, "matching MAC address '02:00:00:aa:00:99'"},
			{"ChangeModel", func() hypervisor.NIC { n := nicA; n.Model = "e1000"; return n }(), id,
				hypervisor.ErrOperationUnsupported, "cannot modify network device model from virtio to e1000"},
			{"MissingBridge", func() hypervisor.NIC { n := nicA; n.Bridge = missing; return n }(), id,
				hypervisor.ErrOperationFailed, "bridge " + missing + " doesn't exist"},
			{"UnknownDomain", nicA, uuid.NewString(), hypervisor.ErrNoDomain, "Domain not found"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := hv.UpdateNIC(ctx(t), tc.domain, tc.nic)
				if code(err) != tc.wantCode || err == nil || !strings.Contains(err.Error(), tc.wantText) {
					t.Fatalf("err = %v (code %d), want code %d containing %q", err, code(err), tc.wantCode, tc.wantText)
				}
				assertLive(t, hv, id, nicA, before.PCIAddress)
			})
		}
	})

	t.Run("Announce", func(t *testing.T) {
		if err := hv.Announce(ctx(t), id, nicA.Alias); err != nil {
			t.Fatalf("Announce %s: %v", nicA.Alias, err)
		}
		// QEMU ignores unknown names silently; the backend must not.
		if err := hv.Announce(ctx(t), id, "ua-nope"); code(err) != hypervisor.ErrDeviceMissing {
			t.Fatalf("Announce of an unknown alias: err = %v, want code %d", err, hypervisor.ErrDeviceMissing)
		}
	})

	t.Run("InterfaceCounters", func(t *testing.T) {
		got, err := hv.InterfaceCounters(ctx(t), id)
		if err != nil {
			t.Fatalf("InterfaceCounters: %v", err)
		}
		for _, alias := range []string{nicA.Alias, nicB.Alias} {
			c, ok := got[alias]
			if !ok {
				t.Errorf("no counters for %s in %v", alias, got)
			}
			if c.RxBytes < 0 || c.TxBytes < 0 || c.RxPackets < 0 || c.TxPackets < 0 {
				t.Errorf("counters of %s = %+v", alias, c)
			}
		}
		if _, err := hv.InterfaceCounters(ctx(t), uuid.NewString()); code(err) != hypervisor.ErrNoDomain {
			t.Errorf("counters of a missing domain: %v, want code %d", err, hypervisor.ErrNoDomain)
		}
	})

	t.Run("HotPlugAndUnplug", func(t *testing.T) {
		extra := nic(uuid.NewString(), "02:00:00:aa:00:03", brB, false)
		got, err := hv.AttachNIC(ctx(t), id, extra)
		if err != nil {
			t.Fatalf("AttachNIC: %v", err)
		}
		if got.PCIAddress == "" || got.PCIAddress == before.PCIAddress {
			t.Errorf("plugged device PCI = %q, want a new slot", got.PCIAddress)
		}
		assertLive(t, hv, id, extra, got.PCIAddress)
		if _, err := hv.AttachNIC(ctx(t), id, extra); err == nil {
			t.Errorf("second AttachNIC with alias %s succeeded, want refusal", extra.Alias)
		}
		go h.Eject(t, id, got.PCIAddress)
		if err := hv.DetachNIC(ctx(t), id, extra.Alias); err != nil {
			t.Fatalf("DetachNIC: %v", err)
		}
		st, err := hv.Domain(ctx(t), id)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := st.NICByAlias(extra.Alias); ok {
			t.Errorf("device %s still present after DetachNIC", extra.Alias)
		}
		assertLive(t, hv, id, nicA, before.PCIAddress)
	})

	t.Run("PlugOnMissingBridgeFails", func(t *testing.T) {
		extra := nic(uuid.NewString(), "02:00:00:aa:00:04", short("vwy"), true)
		if _, err := hv.AttachNIC(ctx(t), id, extra); err == nil {
			t.Fatal("AttachNIC on a missing bridge succeeded")
		}
		st, _ := hv.Domain(ctx(t), id)
		if _, ok := st.NICByAlias(extra.Alias); ok {
			t.Errorf("failed plug left device %s behind", extra.Alias)
		}
	})

	t.Run("CreateOnMissingBridgeLeavesNothing", func(t *testing.T) {
		bad := uuid.NewString()
		_, err := hv.CreateDomain(ctx(t), hypervisor.Domain{ID: bad, Name: "vwt-" + bad[:8], MemoryMiB: 64,
			NICs: []hypervisor.NIC{nic(uuid.NewString(), "02:00:00:aa:00:05", short("vwz"), true)}})
		if err == nil {
			hv.DestroyDomain(context.Background(), bad)
			t.Fatal("CreateDomain on a missing bridge succeeded")
		}
		if _, err := hv.Domain(ctx(t), bad); code(err) != hypervisor.ErrNoDomain {
			t.Errorf("Domain after failed create: err = %v, want code %d", err, hypervisor.ErrNoDomain)
		}
	})

	t.Run("CreateTwiceRefused", func(t *testing.T) {
		_, err := hv.CreateDomain(ctx(t), hypervisor.Domain{ID: id, Name: "vwt-other", MemoryMiB: 64})
		if code(err) != hypervisor.ErrOperationFailed || !strings.Contains(err.Error(), "is already defined with uuid "+id) {
			t.Fatalf("second CreateDomain with the same id: %v", err)
		}
	})

	t.Run("NICFeatures", func(t *testing.T) { runFeatures(t, h, brA, brB) })

	t.Run("DestroyRemovesDomain", func(t *testing.T) {
		other := uuid.NewString()
		if _, err := hv.CreateDomain(ctx(t), hypervisor.Domain{ID: other, Name: "vwt-" + other[:8], MemoryMiB: 64}); err != nil {
			t.Fatal(err)
		}
		if err := hv.DestroyDomain(ctx(t), other); err != nil {
			t.Fatal(err)
		}
		doms, err := hv.Domains(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range doms {
			if d.ID == other {
				t.Errorf("destroyed domain %s still listed", other)
			}
		}
		if err := hv.DestroyDomain(ctx(t), other); code(err) != hypervisor.ErrNoDomain {
			t.Errorf("second destroy: err = %v, want code %d", err, hypervisor.ErrNoDomain)
		}
	})
}

// assertLive checks a device of the running domain against want and its slot.
func assertLive(t *testing.T, hv hypervisor.Hypervisor, id string, want hypervisor.NIC, pci string) {
	t.Helper()
	st, err := hv.Domain(ctx(t), id)
	if err != nil {
		t.Fatalf("Domain: %v", err)
	}
	got, ok := st.NICByAlias(want.Alias)
	if !ok {
		t.Fatalf("device %s missing", want.Alias)
	}
	if !reflect.DeepEqual(got.NIC, want) || got.PCIAddress != pci {
		t.Fatalf("live device = %s, want %s", describe(got.NIC, got.PCIAddress), describe(want, pci))
	}
}

func describe(n hypervisor.NIC, pci string) string {
	bw := "none"
	if b := n.Bandwidth; b != nil {
		bw = fmt.Sprintf("in %v out %v", rateText(b.Inbound), rateText(b.Outbound))
	}
	return fmt.Sprintf("{mac %s model %s bridge %s link %v pci %s mirroring %v bandwidth %s filter %q %v}",
		n.MAC, n.Model, n.Bridge, n.LinkUp, pci, n.PortMirroring, bw, n.Filter, n.FilterParams)
}

func rateText(r *hypervisor.Rate) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%d/%d/%d", r.Average, r.Peak, r.Burst)
}
