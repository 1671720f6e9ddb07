package libvirt

import (
	"context"
	"testing"
	"time"

	"vwire.dev/vwire/internal/testenv"
)

// TestUpdateReportsTruthWithStaleCache: what the last read remembered of a
// device is only a hint. When it names a tap the kernel does not have on the
// bridge asked for (here: a made-up tap and slot, as after a replug outside
// vwire), the update reads the device back and reports it as libvirt has it.
func TestUpdateReportsTruthWithStaleCache(t *testing.T) {
	testenv.NeedLibvirt(t)
	h, err := New(Options{CallTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	brA, brB := testenv.Bridge(t, ""), testenv.Bridge(t, "")
	id, nic := testenv.Domain(t, h, brA)
	ctx := context.Background()
	live, err := h.Domain(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	truth, _ := live.NICByAlias(nic.Alias)

	// The cache is right: the update is reported without a read, correctly.
	want := nic
	want.Bridge = brB
	got, err := h.UpdateNIC(ctx, id, want)
	if err != nil {
		t.Fatal(err)
	}
	if got.Tap != truth.Tap || got.PCIAddress != truth.PCIAddress || got.Bridge != brB {
		t.Fatalf("update with a good cache = %+v, want tap %s slot %s on %s", got, truth.Tap, truth.PCIAddress, brB)
	}

	// The cache lies about the tap and slot.
	stale := got
	stale.Tap, stale.PCIAddress = "vnet-stale", "0000:00:1f.0"
	h.devices.setNIC(id, nic.Alias, &stale)
	want.Bridge, want.LinkUp = brA, false
	got, err = h.UpdateNIC(ctx, id, want)
	if err != nil {
		t.Fatal(err)
	}
	if got.Tap != truth.Tap || got.PCIAddress != truth.PCIAddress || got.Bridge != brA || got.LinkUp {
		t.Fatalf("update with a stale cache = %+v, want tap %s slot %s on %s, link down", got, truth.Tap, truth.PCIAddress, brA)
	}
	if again, _ := h.devices.nic(id, nic.Alias); again.Tap != truth.Tap {
		t.Fatalf("the read-back did not mend the cache: tap %s, want %s", again.Tap, truth.Tap)
	}
}
