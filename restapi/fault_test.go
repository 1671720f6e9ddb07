package restapi

import (
	"errors"
	"fmt"
	"testing"

	"vwire.dev/vwire"
)

// The renderer gives each kind of error oVirt's fault: bracketed message
// list, bare parse and lookup errors, the reasons and the vNIC's name.
func TestFaultOf(t *testing.T) {
	cases := []struct {
		name           string
		err            error
		code           int
		reason, detail string
	}{
		{"rule", vwire.Fail(vwire.OpAddNic, vwire.MsgMACPoolNotEnoughMACAddresses), 409, "Operation Failed",
			"[Cannot add Interface. Not enough MAC addresses left in MAC Address Pool.]"},
		{"rule with variables", vwire.Fail(vwire.OpAddNic, vwire.MsgNetworkMACAddressInUse, "MacAddress", "02:00:00:00:00:01", "VmName", "vm1"), 409, "Operation Failed",
			"[MAC Address 02:00:00:00:00:01 is already in use by VM or snapshot: vm1.]"},
		{"rule for one of several vNICs", vwire.Fail(vwire.OpAddVM, vwire.MsgUnlinkingIsNotSupported, "clusterVersion", "3.1").ForNIC("b"), 400, "Operation Failed",
			"[Cannot add VM. Link state is set to 'Down' on the virtual machine's interface, this is not supported for clusters of version 3.1. (vNIC b)]"},
		{"wrapped", fmt.Errorf("ctx: %w", vwire.NotFound("Nic", "x")), 404, "Not Found", "Entity not found: Nic x"},
		{"incomplete", vwire.Incomplete("Nic", []string{"name", "id"}, "add"), 400, "Incomplete parameters", "Nic [name, id] required for add"},
		{"enum", vwire.InvalidValue(vwire.MsgInvalidEnum, "Invalid value 'x'"), 400, "Invalid Enum value", "Invalid value 'x'"},
		{"free text is not a template", vwire.InvalidValue(vwire.MsgInvalidValue, "${type} ${detail}"), 400, "Invalid value", "${type} ${detail}"},
		{"host", vwire.New(vwire.MsgHostFailed, "generic", "Failed to run VM.", "host", "h1", "reason", "boom"), 400, "Operation Failed", "[Failed to run VM. Host h1: boom]"},
		{"foreign", errors.New("boom"), 500, "Operation Failed", "[Internal error.]"},
		{"key without a text", vwire.New("NO_SUCH_KEY"), 500, "Operation Failed", "[NO_SUCH_KEY]"},
	}
	for _, tc := range cases {
		code, reason, detail := faultOf(tc.err)
		if code != tc.code || reason != tc.reason || detail != tc.detail {
			t.Errorf("%s: got %d %q %q, want %d %q %q", tc.name, code, reason, detail, tc.code, tc.reason, tc.detail)
		}
	}
}
