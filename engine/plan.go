package engine

import (
	"time"

	"vwire.dev/vwire"
)

// hostPlan is what a vNIC change asks of a running VM's host, decided by
// planNIC from the change alone and done by the action's executor (see
// execute.go).
type hostPlan struct {
	action vwire.HostAction
	// dev is the device a plug sends (the new vNIC) or an unplug sends (the
	// old vNIC: the host knows the old MAC, bz#904840); the undo of either
	// sends it back the other way.
	dev HostDevice
	// update is the device state a live update sends; revert the state its
	// undo sends (the old vNIC's).
	update, revert DeviceUpdate
	// hold is how long the guest notification (a link bounce) keeps the
	// host busy beyond a call's usual time.
	hold time.Duration
	// failEvent is the event of a definite failure, naming failNIC;
	// generic is the text of the client's error.
	failEvent auditType
	failNIC   *vwire.NIC
	generic   string
}

// Generic texts of failed vNIC host calls.
const (
	genericPlug   = "Failed to activate VM Network Interface."
	genericUnplug = "Failed to deactivate VM Network Interface."
	genericUpdate = "Failed to update VM Network Interface."
)

// planNIC turns a vNIC change into a host action: old is the vNIC as the
// database has it (nil for a vNIC being added), new as the change makes it,
// with its profile resolved; running says whether the VM runs on a host.
// The action reads only fields the profile does not fill (vwire.DiffNIC),
// so the rules may ask vwire.RequiredAction before the profile is resolved
// and get the same action.
func planNIC(old, new *vwire.NIC, running bool) hostPlan {
	if old == nil {
		if !running || !new.Plugged {
			return hostPlan{action: vwire.ActionNone}
		}
		return hostPlan{action: vwire.ActionPlug, dev: device(new),
			failEvent: evNicAddFailed, failNIC: new, generic: genericPlug}
	}
	p := hostPlan{action: vwire.RequiredAction(old, new, running), failNIC: old}
	switch p.action {
	case vwire.ActionPlug:
		p.dev, p.failEvent, p.generic = device(new), evNicPlugFailed, genericPlug
	case vwire.ActionUnplug:
		p.dev, p.failEvent, p.generic = device(old), evNicUnplugFailed, genericUnplug
	case vwire.ActionUpdate:
		p.update, p.revert = updateParams(new), updateParams(old)
		// The new profile says how the guest learns of a move to another network.
		if new.NetworkID != old.NetworkID && new.NetworkName != "" && new.Linked {
			p.update.Notify, p.update.BounceHold = new.Notify, new.BounceHold
			if new.Notify == vwire.NotifyLinkBounce {
				p.hold = new.BounceHold
			}
		}
		p.failEvent, p.generic = evNicUpdateFailed, genericUpdate
	default:
		p.failNIC = nil
	}
	return p
}
