package engine

import (
	"context"

	"vwire.dev/vwire"
)

// NICForm is what an Edit Network Interface dialog may offer for one vNIC:
// for each field and each value, the refusal the engine would give a change
// of that field alone, decided by the very rules an update runs
// (checkUpdate, the permission check), never by a copy of them. A client
// that offers only what NICForm allows is refused only for what changed
// since it asked.
type NICForm struct {
	VM      *vwire.VM
	NIC     *vwire.NIC
	Running bool
	// Plugged and Linked are the card status and link state the form was
	// asked for: a change of MAC or type that is refused while the card
	// stays plugged is allowed with the card unplugged in the same update.
	Plugged, Linked bool
	// All is a refusal of any change (no permission, the VM's status, a
	// change in flight), nil when changes may be made.
	All error
	// Plug is the refusal of the asked card status and link state
	// themselves, nil when they may be applied.
	Plug error
	// MAC is the refusal of a new MAC address.
	MAC error
	// Interfaces are the interface types with the refusal of each (nil for
	// the current type, and for any allowed one).
	Interfaces []Choice[vwire.NICInterface]
	// Profiles are "no network" (ID "") and the profiles of the networks of
	// the VM's cluster, with the refusal of a move to each.
	Profiles []ProfileChoice
}

// Choice is one value a form may offer and the refusal it would get.
type Choice[T any] struct {
	Value   T
	Refusal error
}

// ProfileChoice is a profile a form may offer (the zero profile: no
// network), its network's name, and the refusal it would get.
type ProfileChoice struct {
	Value   *vwire.VNICProfile
	Network string
	Refusal error
}

// NICForm decides what the dialog may offer for the vNIC nicID of VM vmID
// when its card status and link state are set to plugged and linked (nil:
// as they are). It reads; nothing is changed and nothing is audited.
func (e *Engine) NICForm(ctx context.Context, vmID, nicID string, plugged, linked *bool) (*NICForm, error) {
	op := vwire.OpEditNic
	f := &NICForm{}
	var c *vmCtx
	var profiles []ProfileChoice
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		if err := seeParent(ctx, tx, vwire.ObjVM, "VM", vmID); err != nil {
			return err
		}
		if c, err = loadVM(tx, vmID); err != nil {
			return err
		}
		old := c.nic(nicID)
		if old == nil {
			return vwire.NotFound("Nic", nicID)
		}
		f.VM, f.NIC, f.Running = c.vm, old, c.running()
		base := *old
		if plugged != nil {
			base.Plugged = *plugged
		}
		if linked != nil {
			base.Linked = *linked
		}
		f.Plugged, f.Linked = base.Plugged, base.Linked
		switch {
		case c.pending != nil:
			f.All = vwire.Fail(op, vwire.MsgHostOutcomeUnknown, "host", hostNameOf(c), "cause", "a change is still in flight")
		case !editable(c.vm.Status):
			f.All = vwire.Fail(op, vwire.MsgNetworkCannotAddInterfaceWhenVMStatusNotUpDownLocked)
		}
		try := func(n vwire.NIC) error {
			if f.All != nil {
				return f.All
			}
			return checkUpdate(tx, op, c, old, &n)
		}
		f.Plug = try(base)
		mac := base
		mac.MAC = otherMAC(old.MAC)
		f.MAC = try(mac)
		for _, name := range vwire.NICInterfaces() {
			t, _ := vwire.ParseNICInterface(name)
			n := base
			n.Interface = t
			ch := Choice[vwire.NICInterface]{Value: t}
			if t != old.Interface {
				ch.Refusal = try(n)
			}
			f.Interfaces = append(f.Interfaces, ch)
		}
		if profiles, err = clusterProfiles(ctx, tx, c, old.ProfileID); err != nil {
			return err
		}
		for _, ch := range profiles {
			n := base
			n.ProfileID = ch.Value.ID
			if ch.Value.ID != old.ProfileID {
				ch.Refusal = try(n)
			}
			f.Profiles = append(f.Profiles, ch)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The permissions, after the rules: a user without CONFIGURE_VM_NETWORK
	// on the VM sees the form read-only, and a profile not theirs to use
	// is offered with the refusal naming it.
	if refused, _, err := e.permitted(ctx, op, nicNeeds(vwire.ObjVM, vmID, nicID, nil)); err != nil {
		return nil, err
	} else if refused != nil {
		f.All = refused
	}
	for i := range f.Profiles {
		ch := &f.Profiles[i]
		if ch.Refusal != nil || ch.Value.ID == "" || ch.Value.ID == f.NIC.ProfileID {
			continue
		}
		id := ch.Value.ID
		refused, _, err := e.permitted(ctx, op, nicNeeds(vwire.ObjVM, vmID, nicID, &id))
		if err != nil {
			return nil, err
		}
		if refused != nil {
			ch.Refusal = refused
		}
	}
	if f.All != nil {
		f.Plug, f.MAC = f.All, f.All
		for i := range f.Interfaces {
			f.Interfaces[i].Refusal = f.All
		}
		for i := range f.Profiles {
			f.Profiles[i].Refusal = f.All
		}
	}
	return f, nil
}

// NewNICForm lists the profiles a new vNIC of VM vmID may use, with the
// refusal of each (the caller's permission to use it).
func (e *Engine) NewNICForm(ctx context.Context, vmID string) ([]ProfileChoice, error) {
	var profiles []ProfileChoice
	err := e.view(ctx, func(tx vwire.Tx) error {
		if err := seeParent(ctx, tx, vwire.ObjVM, "VM", vmID); err != nil {
			return err
		}
		c, err := loadVM(tx, vmID)
		if err != nil {
			return err
		}
		profiles, err = clusterProfiles(ctx, tx, c, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	for i := range profiles {
		ch := &profiles[i]
		if ch.Value.ID == "" {
			continue
		}
		id := ch.Value.ID
		refused, _, err := e.permitted(ctx, vwire.OpAddNic, nicNeeds(vwire.ObjVM, vmID, "", &id))
		if err != nil {
			return nil, err
		}
		if refused != nil {
			ch.Refusal = refused
		}
	}
	return profiles, nil
}

// clusterProfiles lists "no network" and the profiles of the networks
// attached to the VM's cluster that the caller may see (as the profile
// list shows them), and the vNIC's current one, as the store orders them.
func clusterProfiles(ctx context.Context, tx vwire.Tx, c *vmCtx, current string) ([]ProfileChoice, error) {
	all, err := tx.Profiles(vwire.ProfileFilter{})
	if err != nil {
		return nil, err
	}
	s, err := scopeOf(ctx, tx)
	if err != nil {
		return nil, err
	}
	out := []ProfileChoice{{Value: &vwire.VNICProfile{}}}
	for _, p := range all {
		if p.ID != current {
			if ok, err := s.sees(vwire.ObjProfile, p.ID); err != nil {
				return nil, err
			} else if !ok {
				continue
			}
		}
		if cn, ok, err := c.clusterNetwork(tx, p.NetworkID); err != nil {
			return nil, err
		} else if ok {
			out = append(out, ProfileChoice{Value: p, Network: cn.Name})
		}
	}
	return out, nil
}

// otherMAC is a MAC address that differs from m (its last bit flipped),
// to ask the rules about a change of MAC whatever the new one.
func otherMAC(m string) string {
	mac, ok := vwire.ParseMAC(m)
	if !ok {
		return "02:00:00:00:00:01"
	}
	return (mac ^ 1).String()
}

func hostNameOf(c *vmCtx) string {
	if c.host != nil {
		return c.host.Name
	}
	return "(none)"
}
