package vwire_test

import (
	"strings"
	"testing"

	"vwire.dev/vwire"
)

func TestRequiredAction(t *testing.T) {
	base := vwire.NIC{ID: "n", MAC: "02:00:00:00:00:01", Interface: vwire.IfaceVirtio, ProfileID: "p1", NetworkName: "red", Linked: true, Plugged: true}
	with := func(f func(*vwire.NIC)) vwire.NIC { n := base; f(&n); return n }
	cases := []struct {
		name     string
		old, new vwire.NIC
		vmUp     bool
		want     vwire.HostAction
	}{
		{"down VM: plug is database only", with(func(n *vwire.NIC) { n.Plugged = false }), base, false, vwire.ActionNone},
		{"down VM: unplug is database only", base, with(func(n *vwire.NIC) { n.Plugged = false }), false, vwire.ActionNone},
		{"down VM: network change is database only", base, with(func(n *vwire.NIC) { n.ProfileID = "p2" }), false, vwire.ActionNone},
		{"no to yes: hot plug", with(func(n *vwire.NIC) { n.Plugged = false }), base, true, vwire.ActionPlug},
		{"no to yes with MAC change: hot plug", with(func(n *vwire.NIC) { n.Plugged = false; n.MAC = "02:00:00:00:00:09" }), base, true, vwire.ActionPlug},
		{"yes to no: hot unplug", base, with(func(n *vwire.NIC) { n.Plugged = false }), true, vwire.ActionUnplug},
		{"yes to no with MAC change: hot unplug", base, with(func(n *vwire.NIC) { n.Plugged = false; n.MAC = "02:00:00:00:00:09" }), true, vwire.ActionUnplug},
		{"yes to yes, link down: live update", base, with(func(n *vwire.NIC) { n.Linked = false }), true, vwire.ActionUpdate},
		{"yes to yes, network change: live update", base, with(func(n *vwire.NIC) { n.ProfileID = "p2" }), true, vwire.ActionUpdate},
		{"yes to yes, empty network: live update", base, with(func(n *vwire.NIC) { n.ProfileID = "" }), true, vwire.ActionUpdate},
		{"yes to yes, rename: database only", base, with(func(n *vwire.NIC) { n.Name = "other" }), true, vwire.ActionNone},
		{"no to no, anything: database only", with(func(n *vwire.NIC) { n.Plugged = false }),
			with(func(n *vwire.NIC) { n.Plugged = false; n.Linked = false; n.ProfileID = "" }), true, vwire.ActionNone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := vwire.RequiredAction(&tc.old, &tc.new, tc.vmUp); got != tc.want {
				t.Errorf("RequiredAction = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestValidateHotUpdate(t *testing.T) {
	base := vwire.NIC{MAC: "02:00:00:00:00:01", Interface: vwire.IfaceVirtio, Linked: true, Plugged: true}
	cases := []struct {
		name    string
		change  func(*vwire.NIC)
		vmUp    bool
		refused bool
	}{
		{"MAC change, plugged, running", func(n *vwire.NIC) { n.MAC = "02:00:00:00:00:02" }, true, true},
		{"type change, plugged, running", func(n *vwire.NIC) { n.Interface = vwire.IfaceE1000 }, true, true},
		{"MAC change with unplug", func(n *vwire.NIC) { n.MAC = "02:00:00:00:00:02"; n.Plugged = false }, true, false},
		{"MAC change, VM down", func(n *vwire.NIC) { n.MAC = "02:00:00:00:00:02" }, false, false},
		{"link change", func(n *vwire.NIC) { n.Linked = false }, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := base
			tc.change(&n)
			err := vwire.ValidateHotUpdate(vwire.OpEditNic, &base, &n, tc.vmUp)
			if (err != nil) != tc.refused {
				t.Fatalf("err = %v, refused = %v", err, tc.refused)
			}
			if err != nil {
				want := "[Cannot edit Interface. Updating some of the properties is not supported while the interface is plugged into a running virtual machine. Please un-plug the interface, update the properties, and then plug it back.]"
				if e := err.(*vwire.Error); "["+e.Text()+"]" != want || e.Code != vwire.ECONFLICT {
					t.Errorf("error = %q (%s), want %q (conflict)", e.Text(), e.Code, want)
				}
			}
		})
	}
}

func TestValidateMAC(t *testing.T) {
	cases := []struct {
		in, want   string
		key        vwire.MsgKey
		allowEmpty bool
	}{
		{in: "00:1A:4A:16:01:99", want: "00:1a:4a:16:01:99"},
		{in: "", allowEmpty: true},
		{in: "", key: vwire.MsgValidationVMNetworkMACAddressNotNull},
		{in: "00:1a:4a:16:01", key: vwire.MsgValidationVMNetworkMACAddressInvalid},
		{in: "00-1a-4a-16-01-99", key: vwire.MsgValidationVMNetworkMACAddressInvalid},
		{in: "zz:1a:4a:16:01:99", key: vwire.MsgValidationVMNetworkMACAddressInvalid},
		{in: "00:00:00:00:00:00", key: vwire.MsgValidationVMNetworkMACAddressInvalid},
		{in: "01:00:5e:00:00:01", key: vwire.MsgValidationVMNetworkMACAddressMulticast},
		{in: "ff:ff:ff:ff:ff:ff", key: vwire.MsgValidationVMNetworkMACAddressMulticast},
	}
	for _, tc := range cases {
		t.Run(tc.in+"/"+string(tc.key), func(t *testing.T) {
			got, err := vwire.ValidateMAC(vwire.OpAddNic, tc.in, tc.allowEmpty)
			if tc.key == "" {
				if err != nil || got != tc.want {
					t.Fatalf("ValidateMAC = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			e, ok := err.(*vwire.Error)
			if !ok || e.Key != tc.key || e.Code != vwire.EINVALID {
				t.Fatalf("err = %v, want key %s", err, tc.key)
			}
		})
	}
}

func TestValidateLinking(t *testing.T) {
	v31, v32 := vwire.Version{Major: 3, Minor: 1}, vwire.Version{Major: 3, Minor: 2}
	cases := []struct {
		name  string
		nic   vwire.NIC
		level vwire.Version
		want  string
	}{
		{"3.1 unlinked", vwire.NIC{ProfileID: "p", Linked: false}, v31,
			"[Cannot add Interface. Link state is set to 'Down' on the virtual machine's interface, this is not supported for clusters of version 3.1.]"},
		{"3.1 empty network", vwire.NIC{Linked: true}, v31, "[Cannot add Interface. You must select a network for clusters of version 3.1.]"},
		{"3.1 linked with network", vwire.NIC{ProfileID: "p", Linked: true}, v31, ""},
		{"3.2 unlinked and empty", vwire.NIC{}, v32, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := vwire.ValidateLinking(vwire.OpAddNic, &tc.nic, tc.level)
			got := ""
			if err != nil {
				got = "[" + err.(*vwire.Error).Text() + "]"
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidateNICName(t *testing.T) {
	for name, key := range map[string]vwire.MsgKey{
		"":                      vwire.MsgValidationVMNetworkNameNotNull,
		"eth 0":                 vwire.MsgValidationNameInvalidWithDot,
		"eth0;rm":               vwire.MsgValidationNameInvalidWithDot,
		strings.Repeat("n", 51): vwire.MsgValidationNameTooLong,
		"nic1.2_a-b":            "",
	} {
		err := vwire.ValidateNICName(vwire.OpAddNic, name)
		var got vwire.MsgKey
		if err != nil {
			got = err.(*vwire.Error).Key
		}
		if got != key {
			t.Errorf("ValidateNICName(%q) key = %q, want %q", name, got, key)
		}
	}
}

func TestComputeSynced(t *testing.T) {
	n := vwire.NIC{MAC: "02:00:00:00:00:01", Interface: vwire.IfaceVirtio, NetworkName: "red", Linked: true, Plugged: true}
	obs := &vwire.NICObserved{Present: true, Bridge: "red", MAC: "02:00:00:00:00:01", Model: "virtio", LinkUp: true}
	n.Observed = obs
	if !vwire.ComputeSynced(&n, true) {
		t.Error("matching report: synced = false")
	}
	o2 := *obs
	o2.LinkUp = false
	n.Observed = &o2
	if vwire.ComputeSynced(&n, true) {
		t.Error("link changed behind the engine: synced = true")
	}
	if !vwire.ComputeSynced(&n, false) {
		t.Error("VM not running: synced = false")
	}
	empty := vwire.NIC{MAC: "02:00:00:00:00:01", Interface: vwire.IfaceVirtio, Linked: true, Plugged: true,
		Observed: &vwire.NICObserved{Present: true, Bridge: vwire.DummyBridge, MAC: "02:00:00:00:00:01", Model: "virtio", LinkUp: false}}
	if !vwire.ComputeSynced(&empty, true) {
		t.Error("empty network on the dummy bridge with link down: synced = false")
	}
}
