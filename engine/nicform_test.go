package engine_test

import (
	"slices"
	"testing"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
)

// NICForm is the Edit Network Interface dialog's question to the engine:
// what may change, and what would be refused. These tests hold it to the
// "one source of truth" property: what it refuses, UpdateNIC refuses with
// the same key, and what it allows, UpdateNIC applies; asking writes no
// audit event.

// sameRefusal fails unless form and update are both nil or carry the
// same message key.
func sameRefusal(t *testing.T, what string, form, update error) {
	t.Helper()
	if (form == nil) != (update == nil) || key(form) != key(update) {
		t.Errorf("%s: NICForm says %v (key %q), UpdateNIC says %v (key %q)", what, form, key(form), update, key(update))
	}
}

// eventCount is the number of events in the log, and the newest id.
func eventCount(t *testing.T, e *env) (int, int64) {
	t.Helper()
	evs, err := e.eng.Events(ctx(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 {
		return 0, 0
	}
	return len(evs), evs[0].ID
}

// usableInterface tells whether an x86 guest can have the type (the
// others are refused whatever the VM's status).
func usableInterface(t vwire.NICInterface) bool {
	return vwire.ValidateNICInterface(vwire.OpEditNic, t) == nil
}

func TestNICFormRunningPluggedVNIC(t *testing.T) { forEachStore(t, testNICFormRunningPluggedVNIC) }

func testNICFormRunningPluggedVNIC(t *testing.T) {
	e := newEnv(t)
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	e.start(vm.ID)

	f, err := e.eng.NICForm(ctx(), vm.ID, n.ID, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Running || !f.Plugged || !f.Linked || f.NIC.ID != n.ID || f.VM.ID != vm.ID {
		t.Fatalf("form of a running VM's plugged, linked vNIC: running=%v plugged=%v linked=%v", f.Running, f.Plugged, f.Linked)
	}
	if f.All != nil || f.Plug != nil {
		t.Errorf("the vNIC as it is may be kept: All=%v Plug=%v", f.All, f.Plug)
	}
	if !vwire.IsKey(f.MAC, vwire.MsgCannotPerformHotUpdate) {
		t.Errorf("MAC of a plugged vNIC on a running VM: %v, want %s", f.MAC, vwire.MsgCannotPerformHotUpdate)
	}
	// The update itself, with a new MAC, is refused with the same key,
	// and changes nothing.
	_, err = e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{MAC: ptr("00:1a:4a:16:01:99")})
	if !vwire.IsKey(err, vwire.MsgCannotPerformHotUpdate) {
		t.Errorf("UpdateNIC with a new MAC: %v, want %s", err, vwire.MsgCannotPerformHotUpdate)
	}
	sameRefusal(t, "MAC", f.MAC, err)
	if got := e.stored(n.ID); got.MAC != n.MAC {
		t.Errorf("a refused MAC change changed the MAC to %s", got.MAC)
	}

	// Every interface type: the current one is allowed (nil), every other
	// one refused with the key UpdateNIC gives when asked for it.
	if len(f.Interfaces) != len(vwire.NICInterfaces()) {
		t.Errorf("form offers %d interface types, the engine knows %d", len(f.Interfaces), len(vwire.NICInterfaces()))
	}
	for _, ch := range f.Interfaces {
		if ch.Value == n.Interface {
			if ch.Refusal != nil {
				t.Errorf("the current type %s is refused: %v", ch.Value, ch.Refusal)
			}
			continue
		}
		if !vwire.IsKey(ch.Refusal, vwire.MsgCannotPerformHotUpdate) {
			t.Errorf("type %s on a plugged vNIC of a running VM: %v, want %s", ch.Value, ch.Refusal, vwire.MsgCannotPerformHotUpdate)
		}
		iface := ch.Value
		_, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{Interface: &iface})
		sameRefusal(t, "type "+string(iface), ch.Refusal, err)
	}
	if got := e.stored(n.ID); got.Interface != n.Interface || !got.Plugged {
		t.Errorf("refused type changes changed the vNIC: type %s plugged %v", got.Interface, got.Plugged)
	}

	// Unplugged in the same update, the MAC may change: the form says so,
	// and the update does it.
	f, err = e.eng.NICForm(ctx(), vm.ID, n.ID, ptr(false), nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Plugged || f.All != nil || f.Plug != nil {
		t.Errorf("form asked unplugged: plugged=%v All=%v Plug=%v", f.Plugged, f.All, f.Plug)
	}
	if f.MAC != nil {
		t.Errorf("MAC with the card unplugged: %v, want allowed", f.MAC)
	}
	for _, ch := range f.Interfaces {
		if usableInterface(ch.Value) && ch.Refusal != nil {
			t.Errorf("type %s with the card unplugged: %v, want allowed", ch.Value, ch.Refusal)
		}
	}
	if f.NIC.Plugged != true {
		t.Errorf("asking the form unplugged changed its vNIC: %+v", f.NIC)
	}
	if got := e.stored(n.ID); !got.Plugged {
		t.Fatal("asking the form unplugged unplugged the vNIC")
	}
	got, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{Plugged: ptr(false), MAC: ptr("00:1a:4a:16:01:99")})
	sameRefusal(t, "unplug and new MAC", f.MAC, err)
	if err == nil && (got.MAC != "00:1a:4a:16:01:99" || got.Plugged) {
		t.Errorf("after unplug + new MAC: MAC %s plugged %v", got.MAC, got.Plugged)
	}
}

func TestNICFormStoppedVM(t *testing.T) { forEachStore(t, testNICFormStoppedVM) }

func testNICFormStoppedVM(t *testing.T) {
	e := newEnv(t)
	red := e.network("red")
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})

	for _, plugged := range []*bool{nil, ptr(true), ptr(false)} {
		f, err := e.eng.NICForm(ctx(), vm.ID, n.ID, plugged, ptr(false))
		if err != nil {
			t.Fatal(err)
		}
		if f.Running {
			t.Fatal("a VM never started is running")
		}
		if f.Linked {
			t.Error("form asked with the link down says linked")
		}
		if f.All != nil || f.Plug != nil || f.MAC != nil {
			t.Errorf("stopped VM (plugged=%v): All=%v Plug=%v MAC=%v, want nothing refused", plugged, f.All, f.Plug, f.MAC)
		}
		for _, ch := range f.Interfaces {
			switch {
			case usableInterface(ch.Value) && ch.Refusal != nil:
				t.Errorf("stopped VM: type %s refused: %v", ch.Value, ch.Refusal)
			case !usableInterface(ch.Value) && !vwire.IsKey(ch.Refusal, vwire.MsgVMInterfaceTypeIsNotSupportedByOS):
				// Not the VM's status: no guest can have it.
				t.Errorf("stopped VM: type %s: %v, want %s", ch.Value, ch.Refusal, vwire.MsgVMInterfaceTypeIsNotSupportedByOS)
			}
		}
		for _, ch := range f.Profiles {
			if ch.Refusal != nil {
				t.Errorf("stopped VM: profile %q refused: %v", ch.Value.Name, ch.Refusal)
			}
		}
	}
	// What the form refuses on a stopped VM, the update refuses alike.
	f, err := e.eng.NICForm(ctx(), vm.ID, n.ID, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range f.Interfaces {
		if ch.Refusal == nil {
			continue
		}
		iface := ch.Value
		_, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{Interface: &iface})
		sameRefusal(t, "stopped VM, type "+string(iface), ch.Refusal, err)
	}
	// And what it allows, the update applies: a new MAC, another profile.
	got, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{MAC: ptr("00:1a:4a:16:01:98"), ProfileID: &red})
	if err != nil {
		t.Fatalf("stopped VM: new MAC and profile red, allowed by the form, refused by UpdateNIC: %v", err)
	}
	if got.MAC != "00:1a:4a:16:01:98" || got.ProfileID != red {
		t.Errorf("after the update: MAC %s profile %s", got.MAC, got.ProfileID)
	}
}

func TestNICFormProfiles(t *testing.T) { forEachStore(t, testNICFormProfiles) }

func testNICFormProfiles(t *testing.T) {
	e := newEnv(t)
	red := e.network("red")
	// A network of the data center not attached to the VM's cluster: its
	// profile is no choice for the VM.
	off := &vwire.Network{Name: "offcluster", DataCenterID: e.dc.ID, VMNetwork: true}
	if err := e.eng.AddNetwork(ctx(), off); err != nil {
		t.Fatal(err)
	}
	var offProfile string
	ps, err := e.eng.Profiles(ctx(), vwire.ProfileFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.NetworkID == off.ID {
			offProfile = p.ID
		}
	}
	if offProfile == "" {
		t.Fatal("the unattached network has no profile")
	}
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	e.start(vm.ID)

	f, err := e.eng.NICForm(ctx(), vm.ID, n.ID, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Profiles) == 0 || f.Profiles[0].Value == nil || f.Profiles[0].Value.ID != "" {
		t.Fatalf("first profile choice is not \"no network\": %+v", f.Profiles)
	}
	seen := map[string]bool{}
	for _, ch := range f.Profiles {
		seen[ch.Value.ID] = true
		if ch.Refusal != nil {
			t.Errorf("administrator, running VM, live profile move to %q refused: %v", ch.Value.Name, ch.Refusal)
		}
		if ch.Value.ID != "" && ch.Network == "" {
			t.Errorf("profile %s has no network name", ch.Value.Name)
		}
	}
	if !seen[e.mgmt] || !seen[red] {
		t.Errorf("profiles of the cluster's networks missing: ovirtmgmt %v red %v", seen[e.mgmt], seen[red])
	}
	if seen[offProfile] {
		t.Error("the profile of a network not attached to the VM's cluster is offered")
	}
	// The profile not offered is refused by the update too.
	if _, err := e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{ProfileID: &offProfile}); !vwire.IsKey(err, vwire.MsgNetworkNotExistsInCurrentCluster) {
		t.Errorf("UpdateNIC to the unattached network's profile: %v, want %s", err, vwire.MsgNetworkNotExistsInCurrentCluster)
	}
	nf, err := e.eng.NewNICForm(ctx(), vm.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(nf) == 0 || nf[0].Value.ID != "" {
		t.Errorf("new vNIC form: first choice is not \"no network\": %+v", nf)
	}
	for _, ch := range nf {
		if ch.Value.ID == offProfile {
			t.Error("new vNIC form offers the profile of a network not attached to the cluster")
		}
	}
}

func TestNICFormPermissions(t *testing.T) { forEachStore(t, testNICFormPermissions) }

func testNICFormPermissions(t *testing.T) {
	e := newEnv(t)
	red, blue := e.network("red"), e.network("blue")
	vm := e.vm("vm1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	bob, bu := e.user("bob")
	e.grant(bu, vwire.RoleUserVmManager, vwire.ObjVM, vm.ID)
	e.grant(bu, vwire.RoleVnicProfileUser, vwire.ObjProfile, red)
	carol, cu := e.user("carol")
	e.grant(cu, vwire.RoleUserRole, vwire.ObjVM, vm.ID)

	before, last := eventCount(t, e)
	f, err := e.eng.NICForm(bob, vm.ID, n.ID, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.All != nil {
		t.Fatalf("bob has CONFIGURE_VM_NETWORK on the VM: All=%v", f.All)
	}
	// A profile bob may not use is one he does not see (the profile list
	// hides it too): the form does not offer it, not even to refuse it.
	offered := false
	for _, ch := range f.Profiles {
		switch ch.Value.ID {
		case blue:
			offered = true
		case red, "", e.mgmt:
			// red: VnicProfileUser; "": no profile permit needed;
			// ovirtmgmt: unchanged, so not checked (oVirt's rule).
			if ch.Refusal != nil {
				t.Errorf("profile %q: %v, want allowed", ch.Value.Name, ch.Refusal)
			}
		}
	}
	if offered {
		t.Error("profile blue, which bob may not see, is offered to him")
	}
	if seen, err := e.eng.Profiles(bob, vwire.ProfileFilter{}); err != nil || slices.ContainsFunc(seen, func(p *vwire.VNICProfile) bool { return p.ID == blue }) {
		t.Errorf("bob's profile list: %v, %v; the form's premise is that it hides blue", seen, err)
	}
	fc, err := e.eng.NICForm(carol, vm.ID, n.ID, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !vwire.IsKey(fc.All, vwire.MsgUserNotAuthorized) {
		t.Errorf("carol (UserRole: no CONFIGURE_VM_NETWORK): All=%v, want %s", fc.All, vwire.MsgUserNotAuthorized)
	}
	if !vwire.IsKey(fc.MAC, vwire.MsgUserNotAuthorized) || !vwire.IsKey(fc.Plug, vwire.MsgUserNotAuthorized) {
		t.Errorf("carol: MAC=%v Plug=%v, want the refusal of All", fc.MAC, fc.Plug)
	}
	for _, ch := range fc.Profiles {
		if !vwire.IsKey(ch.Refusal, vwire.MsgUserNotAuthorized) {
			t.Errorf("carol: profile %q: %v, want %s", ch.Value.Name, ch.Refusal, vwire.MsgUserNotAuthorized)
		}
	}
	// Asking is no attempt: no event, neither for bob's refused profile
	// nor for carol's read-only form.
	after, newest := eventCount(t, e)
	if after != before || newest != last {
		t.Errorf("NICForm wrote audit events: %d events (newest %d) before, %d (newest %d) after", before, last, after, newest)
	}

	// Trying is an attempt: the same refusal, and its event.
	_, err = e.eng.UpdateNIC(bob, vm.ID, n.ID, vwire.NICPatch{ProfileID: &blue})
	if !vwire.IsKey(err, vwire.MsgUserNotAuthorized) {
		t.Errorf("bob to blue: %v, want %s", err, vwire.MsgUserNotAuthorized)
	}
	if after, _ := eventCount(t, e); after != before+1 {
		t.Errorf("a refused update wrote %d events, want its one refusal event", after-before)
	}
	_, err = e.eng.UpdateNIC(carol, vm.ID, n.ID, vwire.NICPatch{Linked: ptr(false)})
	sameRefusal(t, "carol's link change", fc.Plug, err)
	if got := e.stored(n.ID); got.ProfileID != e.mgmt || !got.Linked {
		t.Errorf("refused updates changed the vNIC: profile %s linked %v", got.ProfileID, got.Linked)
	}
	// What the form allows bob, the update applies.
	if _, err := e.eng.UpdateNIC(bob, vm.ID, n.ID, vwire.NICPatch{ProfileID: &red}); err != nil {
		t.Errorf("bob to red, allowed by the form: %v", err)
	}
}
