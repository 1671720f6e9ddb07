package sim_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"vwire.dev/vwire/hypervisor"
	"vwire.dev/vwire/hypervisor/hypervisortest"
	"vwire.dev/vwire/hypervisor/sim"
)

type harness struct{ s *sim.Sim }

func (h harness) Hypervisor() hypervisor.Hypervisor { return h.s }
func (h harness) AddBridge(t *testing.T, name string) {
	h.s.EnsureBridges(context.Background(), []string{name})
}
func (h harness) RemoveBridge(t *testing.T, name string) {
	h.s.RemoveBridges(context.Background(), []string{name})
}

func (h harness) Eject(*testing.T, string, string) {}

func TestConformance(t *testing.T) {
	hypervisortest.Run(t, harness{sim.New()})
}

func TestHeldUnplugTimesOut(t *testing.T) {
	s := sim.New("br0")
	n := hypervisor.NIC{Alias: "ua-1", MAC: "02:00:00:00:00:01", Model: "virtio", Bridge: "br0", LinkUp: true}
	if _, err := s.CreateDomain(context.Background(), hypervisor.Domain{ID: "d1", Name: "d1", NICs: []hypervisor.NIC{n}}); err != nil {
		t.Fatal(err)
	}
	s.HoldUnplug("d1", true)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := s.DetachNIC(ctx, "d1", "ua-1")
	if he, ok := err.(*hypervisor.Error); !ok || he.Code != hypervisor.ErrOperationTimeout || !strings.Contains(he.Message, "ua-1") {
		t.Fatalf("DetachNIC on a held guest: err = %v, want a timeout naming ua-1", err)
	}
	st, _ := s.Domain(context.Background(), "d1")
	if _, ok := st.NICByAlias("ua-1"); !ok {
		t.Fatal("device vanished although the guest never released it")
	}
	s.HoldUnplug("d1", false)
	if err := s.DetachNIC(context.Background(), "d1", "ua-1"); err != nil {
		t.Fatalf("DetachNIC after release: %v", err)
	}
}
