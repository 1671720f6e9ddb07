package vwire_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"vwire.dev/vwire"
)

// TestDriftRepairAction: each kind of drift is described, makes the vNIC
// unsynced, and is repaired by the host action a user's change from the
// observed state to the desired one would take.
func TestDriftRepairAction(t *testing.T) {
	want := vwire.NIC{ID: "n1", Name: "nic1", MAC: "02:00:00:00:00:01", Interface: vwire.IfaceVirtio, ProfileID: "p-blue",
		NetworkName: "blue", Linked: true, Plugged: true}
	synced := vwire.NICObserved{Present: true, Alias: "ua-n1", Bridge: "blue", MAC: "02:00:00:00:00:01", Model: "virtio", LinkUp: true}
	tests := []struct {
		name    string
		desired func(n *vwire.NIC)
		obs     func(o *vwire.NICObserved)
		drift   string
		action  vwire.HostAction
		replug  bool
	}{
		{name: "in sync", action: vwire.ActionNone},
		{name: "link down", obs: func(o *vwire.NICObserved) { o.LinkUp = false }, drift: "link is down, expected up", action: vwire.ActionUpdate},
		{name: "link up on an unlinked vNIC", desired: func(n *vwire.NIC) { n.Linked = false }, drift: "link is up, expected down", action: vwire.ActionUpdate},
		{name: "other bridge", obs: func(o *vwire.NICObserved) { o.Bridge = "red" }, drift: "network is red, expected blue", action: vwire.ActionUpdate},
		{name: "on the dummy bridge", obs: func(o *vwire.NICObserved) { o.Bridge = vwire.DummyBridge; o.LinkUp = false },
			drift: "network is the empty network, expected blue; link is down, expected up", action: vwire.ActionUpdate},
		{name: "empty network with link up", desired: func(n *vwire.NIC) { n.ProfileID, n.NetworkName = "", "" },
			obs: func(o *vwire.NICObserved) { o.Bridge = vwire.DummyBridge }, drift: "link is up, expected down", action: vwire.ActionUpdate},
		{name: "unplugged behind the back", obs: func(o *vwire.NICObserved) { *o = vwire.NICObserved{} },
			drift: "device is unplugged, expected plugged", action: vwire.ActionPlug},
		{name: "plugged behind the back", desired: func(n *vwire.NIC) { n.Plugged = false },
			drift: "device is plugged, expected unplugged", action: vwire.ActionUnplug},
		{name: "other MAC", obs: func(o *vwire.NICObserved) { o.MAC = "02:00:00:00:00:99" },
			drift: "MAC is 02:00:00:00:00:99, expected 02:00:00:00:00:01", action: vwire.ActionNone, replug: true},
		{name: "other model", obs: func(o *vwire.NICObserved) { o.Model = "e1000"; o.LinkUp = false },
			drift: "link is down, expected up; model is e1000, expected virtio", action: vwire.ActionUpdate, replug: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := want
			o := synced
			if tc.desired != nil {
				tc.desired(&n)
			}
			if tc.obs != nil {
				tc.obs(&o)
			}
			n.Observed = &o
			if got := vwire.DescribeDrift(vwire.Drift(&n, true)); got != tc.drift {
				t.Errorf("drift = %q, want %q", got, tc.drift)
			}
			if got := vwire.ComputeSynced(&n, true); got != (tc.drift == "") {
				t.Errorf("synced = %v with drift %q", got, tc.drift)
			}
			old := vwire.ObservedNIC(&n)
			if got := vwire.RequiredAction(&old, &n, true); got != tc.action {
				t.Errorf("action = %s, want %s", got, tc.action)
			}
			if got := vwire.ValidateHotUpdate(vwire.OpEditNic, &old, &n, true) != nil; got != tc.replug {
				t.Errorf("needs unplug and plug = %v, want %v", got, tc.replug)
			}
			// The desired state itself is untouched.
			if diff := cmp.Diff(want.MAC, n.MAC); diff != "" {
				t.Error(diff)
			}
		})
	}
	if d := vwire.Drift(&vwire.NIC{Plugged: true}, false); d != nil {
		t.Errorf("a VM that does not run drifted: %v", d)
	}
}

func TestParseDriftPolicy(t *testing.T) {
	for _, s := range []string{"report", "enforce"} {
		if p, ok := vwire.ParseDriftPolicy(s); !ok || string(p) != s {
			t.Errorf("ParseDriftPolicy(%q) = %q, %v", s, p, ok)
		}
	}
	for _, s := range []string{"", "Report", "repair", "enforce "} {
		if _, ok := vwire.ParseDriftPolicy(s); ok {
			t.Errorf("ParseDriftPolicy(%q) accepted", s)
		}
	}
}
