package engine_test

import (
	"strings"
	"testing"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
)

// TestRules checks each validation rule of the vNIC flows: its key, its
// oVirt text and its class (which decides the HTTP status).
func TestRules(t *testing.T) { forEachStore(t, testRules) }

func testRules(t *testing.T) {
	e := newEnvWith(t, false)
	red := e.network("red")
	// A network attached to another cluster only.
	other := &vwire.Cluster{Name: "other", DataCenterID: e.dc.ID}
	if err := e.eng.AddCluster(ctx(), other); err != nil {
		t.Fatal(err)
	}
	blue := &vwire.Network{Name: "blue", DataCenterID: e.dc.ID, VMNetwork: true}
	e.eng.AddNetwork(ctx(), blue)
	e.eng.AttachNetwork(ctx(), other.ID, blue.ID, true)
	var blueProfile string
	// A network the host lacks: attached, then its bridge removed.
	green := e.network("green")
	// Optional on the cluster: a host lacking a required network is
	// non-operational (TestRequiredNetworks), and this host must run VMs.
	greenNet := e.networkOf(green)
	e.eng.DetachNetwork(ctx(), e.cluster.ID, greenNet)
	e.eng.AttachNetwork(ctx(), e.cluster.ID, greenNet, false)
	e.sim.RemoveBridges(ctx(), []string{"green"})
	e.eng.RefreshHost(ctx(), e.host.ID)
	mirror := &vwire.VNICProfile{Name: "mirrored", NetworkID: "", PortMirroring: true}
	e.store.View(ctx(), func(tx vwire.Tx) error {
		ps, _ := tx.Profiles(vwire.ProfileFilter{})
		for _, p := range ps {
			if p.NetworkID == blue.ID {
				blueProfile = p.ID
			}
		}
		p, _ := tx.Profile(red)
		mirror.NetworkID = p.NetworkID
		return nil
	})
	if err := e.eng.AddProfile(ctx(), mirror); err != nil {
		t.Fatal(err)
	}
	passThrough := &vwire.VNICProfile{Name: "sriov", NetworkID: mirror.NetworkID, PassThrough: true}
	if err := e.eng.AddProfile(ctx(), passThrough); err != nil {
		t.Fatal(err)
	}
	// oVirt's last level: its refusal of live updates with port mirroring
	// holds (vwire's 4.8 lifts it: TestLivePortMirroring).
	// (Written to the store: the engine refuses to lower a cluster's level.)
	if err := e.store.Update(ctx(), func(tx vwire.Tx) error {
		e.cluster.Version = vwire.Version{Major: 4, Minor: 7}
		return tx.UpdateCluster(e.cluster)
	}); err != nil {
		t.Fatal(err)
	}

	up := e.vm("up")
	upNic := e.nic(up.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	mirNic := e.nic(up.ID, engine.NICSpec{Name: "nic2", ProfileID: mirror.ID})
	unplugged := e.nic(up.ID, engine.NICSpec{Name: "nic3", ProfileID: e.mgmt, Plugged: ptr(false)})
	e.start(up.ID)
	down := e.vm("down")
	downNic := e.nic(down.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt, MAC: "02:00:00:00:aa:01"})

	add := func(vmID string, s engine.NICSpec) func() error {
		return func() error { _, err := e.eng.AddNIC(ctx(), vmID, s); return err }
	}
	upd := func(vmID, nicID string, p vwire.NICPatch) func() error {
		return func() error { _, err := e.eng.UpdateNIC(ctx(), vmID, nicID, p); return err }
	}
	cases := []struct {
		name string
		do   func() error
		key  vwire.MsgKey
		code vwire.Code
		text string
	}{
		{"add: no name", add(down.ID, engine.NICSpec{}), vwire.MsgValidationVMNetworkNameNotNull, vwire.EINVALID, "[Interface name is required.]"},
		{"add: bad name", add(down.ID, engine.NICSpec{Name: "a b"}), vwire.MsgValidationNameInvalidWithDot, vwire.EINVALID, `[Name must be formed of alphanumeric characters, numbers or "-_.".]`},
		{"add: bad MAC", add(down.ID, engine.NICSpec{Name: "x", MAC: "nope"}), vwire.MsgValidationVMNetworkMACAddressInvalid, vwire.EINVALID, "MAC address must be in format"},
		{"add: multicast MAC", add(down.ID, engine.NICSpec{Name: "x", MAC: "03:00:00:00:00:01"}), vwire.MsgValidationVMNetworkMACAddressMulticast, vwire.EINVALID, "[Multi-cast MAC address is not allowed.]"},
		{"add: name in use", add(down.ID, engine.NICSpec{Name: "nic1"}), vwire.MsgNetworkInterfaceNameAlreadyInUse, vwire.ECONFLICT, "[Network interface name is already in use]"},
		{"add: type not for the OS", add(down.ID, engine.NICSpec{Name: "x", Interface: vwire.IfacePCIPassthrough}), vwire.MsgVMInterfaceTypeIsNotSupportedByOS, vwire.EINVALID, "[Cannot add Interface. The network interface type is not compatible with the selected operating system.]"},
		{"add: unknown profile", add(down.ID, engine.NICSpec{Name: "x", ProfileID: "00000000-0000-0000-0000-00000000abcd"}), vwire.MsgVNICProfileNotExists, vwire.EINVALID, "[Cannot add Interface. The specified VM network interface profile doesn't exist.]"},
		{"add: virtio vNIC on a pass-through profile", add(down.ID, engine.NICSpec{Name: "x", ProfileID: passThrough.ID}), vwire.MsgVMInterfaceTypeNotMatchProfile, vwire.ECONFLICT, "[Cannot add Interface. The network interface type doesn't match the profile."},
		{"add: network not in cluster", add(down.ID, engine.NICSpec{Name: "x", ProfileID: blueProfile}), vwire.MsgNetworkNotExistsInCurrentCluster, vwire.ECONFLICT, "[The specified Logical Network doesn't exist in the current Cluster.]"},
		{"add: MAC in use names the VM", add(up.ID, engine.NICSpec{Name: "x", MAC: "02:00:00:00:AA:01"}), vwire.MsgNetworkMACAddressInUse, vwire.ECONFLICT, "[MAC Address 02:00:00:00:aa:01 is already in use by VM or snapshot: down.]"},
		{"add: hot plug on a network the host lacks", add(up.ID, engine.NICSpec{Name: "x", ProfileID: green}), vwire.MsgActivateDeactivateNetworkNotInVDS, vwire.ECONFLICT, "The Network does not exist on the host the VM is running on."},
		{"update: MAC of plugged vNIC on running VM", upd(up.ID, upNic.ID, vwire.NICPatch{MAC: ptr("02:00:00:00:bb:01")}), vwire.MsgCannotPerformHotUpdate, vwire.ECONFLICT, "[Cannot edit Interface. Updating some of the properties"},
		{"update: type of plugged vNIC on running VM", upd(up.ID, upNic.ID, vwire.NICPatch{Interface: ptr(vwire.IfaceE1000)}), vwire.MsgCannotPerformHotUpdate, vwire.ECONFLICT, "please"[0:0]},
		{"update: empty MAC", upd(down.ID, downNic.ID, vwire.NICPatch{MAC: ptr("")}), vwire.MsgValidationVMNetworkMACAddressNotNull, vwire.EINVALID, "[MAC address is required.]"},
		{"update: name in use", upd(up.ID, upNic.ID, vwire.NICPatch{Name: ptr("nic2")}), vwire.MsgNetworkInterfaceNameAlreadyInUse, vwire.ECONFLICT, ""},
		{"update: live change with port mirroring", upd(up.ID, mirNic.ID, vwire.NICPatch{Linked: ptr(false)}), vwire.MsgCannotPerformHotUpdateWithPortMirroring, vwire.ECONFLICT, "[Cannot edit Interface. Update is not possible when 'Port Mirroring' is set on the interface of a running virtual machine.]"},
		{"update: live move to a mirrored profile", upd(up.ID, upNic.ID, vwire.NICPatch{ProfileID: &mirror.ID}), vwire.MsgCannotPerformHotUpdateWithPortMirroring, vwire.ECONFLICT, ""},
		{"update: live move to a network the host lacks", upd(up.ID, upNic.ID, vwire.NICPatch{ProfileID: &green}), vwire.MsgActivateDeactivateNetworkNotInVDS, vwire.ECONFLICT, "Either add the Network to the Host"},
		{"update: plug on a network the host lacks", upd(up.ID, unplugged.ID, vwire.NICPatch{Plugged: ptr(true), ProfileID: &green}), vwire.MsgActivateDeactivateNetworkNotInVDS, vwire.ECONFLICT, ""},
		{"update: MAC in use", upd(up.ID, unplugged.ID, vwire.NICPatch{MAC: ptr("02:00:00:00:aa:01")}), vwire.MsgNetworkMACAddressInUse, vwire.ECONFLICT, "by VM or snapshot: down."},
		{"update: unknown vNIC", upd(up.ID, "00000000-0000-0000-0000-00000000abcd", vwire.NICPatch{}), "ENTITY_NOT_FOUND", vwire.ENOTFOUND, ""},
		{"remove: plugged vNIC of a running VM", func() error { return e.eng.RemoveNIC(ctx(), up.ID, upNic.ID) }, vwire.MsgCannotRemoveActiveDevice, vwire.ECONFLICT, "[Cannot remove Interface. The VM Network Interface is plugged to a running VM.]"},
		{"start: already running", func() error { _, err := e.eng.StartVM(ctx(), up.ID); return err }, vwire.MsgVMIsRunning, vwire.ECONFLICT, "[Cannot run VM. VM is running.]"},
		{"stop: not running", func() error { _, err := e.eng.StopVM(ctx(), down.ID); return err }, vwire.MsgVMIsNotRunning, vwire.ECONFLICT, ""},
		{"remove VM: running", func() error { return e.eng.RemoveVM(ctx(), up.ID) }, vwire.MsgVMIsRunning, vwire.ECONFLICT, ""},
		{"network: name too long for a bridge", func() error {
			return e.eng.AddNetwork(ctx(), &vwire.Network{Name: "averyveryverylongname", DataCenterID: e.dc.ID})
		}, vwire.MsgNetworkNameTooLongForBridge, vwire.EINVALID, ""},
		{"network: in use cannot be removed", func() error {
			var id string
			e.store.View(ctx(), func(tx vwire.Tx) error { p, _ := tx.Profile(e.mgmt); id = p.NetworkID; return nil })
			return e.eng.RemoveNetwork(ctx(), id)
		}, vwire.MsgManagementNetworkCannotBeRemoved, vwire.ECONFLICT, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if key(err) != tc.key || vwire.ErrorCode(err) != tc.code {
				t.Fatalf("err = %v (key %q, code %s), want key %q code %s", err, key(err), vwire.ErrorCode(err), tc.key, tc.code)
			}
			if tc.text != "" && !strings.Contains("["+err.(*vwire.Error).Text()+"]", tc.text) {
				t.Fatalf("detail = %q, want it to contain %q", err.(*vwire.Error).Text(), tc.text)
			}
		})
	}
	// Refusals changed nothing.
	if st := e.stored(upNic.ID); st.MAC != upNic.MAC || st.ProfileID != e.mgmt || !st.Linked {
		t.Errorf("refused updates changed the vNIC: %+v", st)
	}
}

// TestLevel31 covers the seed-era gates on a running VM.
func TestLevel31(t *testing.T) { forEachStore(t, testLevel31) }

func testLevel31(t *testing.T) {
	e := newEnv(t)
	c := &vwire.Cluster{Name: "old", DataCenterID: e.dc.ID, Version: vwire.Version{Major: 3, Minor: 1}}
	if err := e.eng.AddCluster(ctx(), c); err != nil {
		t.Fatal(err)
	}
	e.eng.RefreshHost(ctx(), e.host.ID)
	// Move the embedded host's cluster is not possible; use a standalone VM pinned nowhere: the
	// embedded host serves Default, so run the 3.1 VM's checks while it is down.
	vm, err := e.eng.AddVM(ctx(), engine.VMSpec{Name: "old", ClusterID: c.ID})
	if err != nil {
		t.Fatal(err)
	}
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
	_, err = e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{Linked: ptr(false)})
	if key(err) != vwire.MsgUnlinkingIsNotSupported || !strings.Contains(err.Error(), "clusters of version 3.1") {
		t.Fatalf("unlink on 3.1: %v", err)
	}
	_, err = e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{ProfileID: ptr("")})
	if key(err) != vwire.MsgNullNetworkIsNotSupported {
		t.Fatalf("empty network on 3.1: %v", err)
	}
	// Moving a VM with an unlinked vNIC to the 3.1 cluster is refused.
	vm2 := e.vm("new")
	e.nic(vm2.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt, Linked: ptr(false)})
	_, err = e.eng.UpdateVM(ctx(), vm2.ID, engine.VMPatch{ClusterID: &c.ID})
	if key(err) != vwire.MsgUnlinkingIsNotSupported {
		t.Fatalf("cluster change with an unlinked vNIC: %v", err)
	}
}

// TestOldLevelsOnRunningVMs: 3.0 refuses hot plug; 3.1 allows it but refuses
// live updates (the seed's gates), with the seed-era texts.
func TestOldLevelsOnRunningVMs(t *testing.T) { forEachStore(t, testOldLevelsOnRunningVMs) }

func testOldLevelsOnRunningVMs(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		level   vwire.Version
		plugKey vwire.MsgKey
		updKey  vwire.MsgKey
	}{
		{vwire.Version{Major: 3, Minor: 0}, vwire.MsgHotPlugIsNotSupported, vwire.MsgHotVMInterfaceUpdateIsNotSupported},
		{vwire.Version{Major: 3, Minor: 1}, "", vwire.MsgHotVMInterfaceUpdateIsNotSupported},
	} {
		t.Run(tc.level.String(), func(t *testing.T) {
			c := &vwire.Cluster{Name: "c" + strings.ReplaceAll(tc.level.String(), ".", ""), DataCenterID: e.dc.ID, Version: tc.level}
			if err := e.eng.AddCluster(ctx(), c); err != nil {
				t.Fatal(err)
			}
			h := newHost(t, e, c.ID)
			vm, err := e.eng.AddVM(ctx(), engine.VMSpec{Name: "vm" + c.Name, ClusterID: c.ID, PlacementHosts: []string{h.ID}})
			if err != nil {
				t.Fatal(err)
			}
			n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: e.mgmt})
			e.start(vm.ID)
			_, err = e.eng.AddNIC(ctx(), vm.ID, engine.NICSpec{Name: "nic2", ProfileID: e.mgmt})
			if key(err) != tc.plugKey {
				t.Fatalf("hot plug: %v, want key %q", err, tc.plugKey)
			}
			if tc.plugKey != "" && !strings.Contains(err.Error(), "only supported for Clusters of version 3.1 and above") {
				t.Fatalf("hot plug text: %v", err)
			}
			_, err = e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{Name: ptr("renamed"), ProfileID: ptr(e.mgmt)})
			if err != nil {
				t.Fatalf("a rename needs no live update: %v", err)
			}
			red := e.network("r" + c.Name)
			e.eng.AttachNetwork(ctx(), c.ID, e.networkOf(red), true)
			_, err = e.eng.UpdateNIC(ctx(), vm.ID, n.ID, vwire.NICPatch{ProfileID: &red})
			if key(err) != tc.updKey || !strings.Contains(err.Error(), "not supported for clusters of version "+tc.level.String()) {
				t.Fatalf("live update: %v, want key %q", err, tc.updKey)
			}
		})
	}
}
