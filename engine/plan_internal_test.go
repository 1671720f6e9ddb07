package engine

import (
	"reflect"
	"testing"
	"time"

	"vwire.dev/vwire"
)

// TestPlanNIC checks the pure planner: the action, the device(s) sent and
// sent back, the guest notification and its hold, the failure event and
// the generic text.
func TestPlanNIC(t *testing.T) {
	red := vwire.NIC{ID: "n1", Name: "nic1", MAC: "56:6f:00:00:00:01", Interface: vwire.IfaceVirtio,
		ProfileID: "p-red", NetworkID: "net-red", NetworkName: "red", Linked: true, Plugged: true}
	// with returns red changed by fn.
	with := func(fn func(n *vwire.NIC)) *vwire.NIC { n := red; fn(&n); return &n }
	// move is red moved to blue, whose profile notifies the guest by how.
	move := func(how vwire.GuestNotify, linked bool) *vwire.NIC {
		return with(func(n *vwire.NIC) {
			n.ProfileID, n.NetworkID, n.NetworkName, n.Notify, n.BounceHold = "p-blue", "net-blue", "blue", how, 3*time.Second
			n.Linked = linked
		})
	}
	unplugged := with(func(n *vwire.NIC) { n.Plugged = false })
	newMAC := with(func(n *vwire.NIC) { n.Plugged, n.MAC = false, "56:6f:00:00:00:02" })
	redDev := HostDevice{ID: "n1", Alias: "ua-n1", MAC: "56:6f:00:00:00:01", Model: "virtio", Network: "red", LinkActive: true}
	redUpd := DeviceUpdate{Alias: "ua-n1", MAC: "56:6f:00:00:00:01", Model: "virtio", Network: "red", LinkActive: true}
	blueUpd := DeviceUpdate{Alias: "ua-n1", MAC: "56:6f:00:00:00:01", Model: "virtio", Network: "blue", LinkActive: true}

	for _, tc := range []struct {
		name     string
		old, new *vwire.NIC
		running  bool
		want     hostPlan
	}{
		{name: "add to a down VM", new: &red,
			want: hostPlan{action: vwire.ActionNone}},
		{name: "add unplugged to a running VM", new: unplugged, running: true,
			want: hostPlan{action: vwire.ActionNone}},
		{name: "add plugged to a running VM: hot plug", new: &red, running: true,
			want: hostPlan{action: vwire.ActionPlug, dev: redDev, failEvent: evNicAddFailed, failNIC: &red, generic: genericPlug}},
		{name: "any change of a down VM", old: unplugged, new: move(vwire.NotifyLinkBounce, true),
			want: hostPlan{action: vwire.ActionNone}},
		{name: "name only: database only", old: &red, new: with(func(n *vwire.NIC) { n.Name = "eth9" }), running: true,
			want: hostPlan{action: vwire.ActionNone}},
		{name: "unplugged stays unplugged", old: unplugged, new: newMAC, running: true,
			want: hostPlan{action: vwire.ActionNone}},
		{name: "plug sends the new vNIC", old: unplugged, new: &red, running: true,
			want: hostPlan{action: vwire.ActionPlug, dev: redDev, failEvent: evNicPlugFailed, failNIC: unplugged, generic: genericPlug}},
		{name: "unplug sends the old vNIC (old MAC)", old: &red, new: newMAC, running: true,
			want: hostPlan{action: vwire.ActionUnplug, dev: redDev, failEvent: evNicUnplugFailed, failNIC: &red, generic: genericUnplug}},
		{name: "link down: live update, reverted to the old state", old: &red, new: with(func(n *vwire.NIC) { n.Linked = false }), running: true,
			want: hostPlan{action: vwire.ActionUpdate, update: DeviceUpdate{Alias: "ua-n1", MAC: "56:6f:00:00:00:01", Model: "virtio", Network: "red"},
				revert: redUpd, failEvent: evNicUpdateFailed, failNIC: &red, generic: genericUpdate}},
		{name: "move with link bounce: notify and hold", old: &red, new: move(vwire.NotifyLinkBounce, true), running: true,
			want: hostPlan{action: vwire.ActionUpdate, update: withNotify(blueUpd, vwire.NotifyLinkBounce, 3*time.Second), revert: redUpd,
				hold: 3 * time.Second, failEvent: evNicUpdateFailed, failNIC: &red, generic: genericUpdate}},
		{name: "move with announce: notify, no hold", old: &red, new: move(vwire.NotifyAnnounce, true), running: true,
			want: hostPlan{action: vwire.ActionUpdate, update: withNotify(blueUpd, vwire.NotifyAnnounce, 3*time.Second), revert: redUpd,
				failEvent: evNicUpdateFailed, failNIC: &red, generic: genericUpdate}},
		{name: "move with the link down: no notification", old: &red, new: move(vwire.NotifyLinkBounce, false), running: true,
			want: hostPlan{action: vwire.ActionUpdate, update: DeviceUpdate{Alias: "ua-n1", MAC: "56:6f:00:00:00:01", Model: "virtio", Network: "blue"},
				revert: redUpd, failEvent: evNicUpdateFailed, failNIC: &red, generic: genericUpdate}},
		{name: "move to the empty network: no notification", old: &red, running: true,
			new: with(func(n *vwire.NIC) { n.ProfileID, n.NetworkID, n.NetworkName, n.Notify = "", "", "", "" }),
			want: hostPlan{action: vwire.ActionUpdate, update: DeviceUpdate{Alias: "ua-n1", MAC: "56:6f:00:00:00:01", Model: "virtio", LinkActive: true},
				revert: redUpd, failEvent: evNicUpdateFailed, failNIC: &red, generic: genericUpdate}},
		{name: "another profile on the same network: no notification", old: &red, running: true,
			new: with(func(n *vwire.NIC) {
				n.ProfileID, n.Notify, n.BounceHold = "p-red2", vwire.NotifyLinkBounce, time.Second
			}),
			want: hostPlan{action: vwire.ActionUpdate, update: redUpd, revert: redUpd,
				failEvent: evNicUpdateFailed, failNIC: &red, generic: genericUpdate}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := planNIC(tc.old, tc.new, tc.running); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("planNIC:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func withNotify(u DeviceUpdate, how vwire.GuestNotify, hold time.Duration) DeviceUpdate {
	u.Notify, u.BounceHold = how, hold
	return u
}
