package engine

import (
	"testing"

	"vwire.dev/vwire"
)

// TestMaxVMNICsMatchesPCILimit keeps the root package's vNIC limit (used by
// OVF import and templates) equal to what AddNIC allows: maxPCIDevices less
// the monitor and the balloon.
func TestMaxVMNICsMatchesPCILimit(t *testing.T) {
	if got, want := vwire.MaxVMNICs, maxPCIDevices-2; got != want {
		t.Fatalf("vwire.MaxVMNICs = %d, want maxPCIDevices-2 = %d", got, want)
	}
}
