package engine_test

import (
	"testing"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
)

// TestQoSRules: a network QoS is validated with oVirt's rules and
// messages, is unique by name in its data center, stays in it, and each
// change is audited with oVirt's codes; removing one clears it from the
// profiles that name it.
func TestQoSRules(t *testing.T) { forEachStore(t, testQoSRules) }

func testQoSRules(t *testing.T) {
	e := newEnv(t)
	gold := &vwire.QoS{Name: "gold", DataCenterID: e.dc.ID, Inbound: vwire.Rate{Average: 10, Peak: 20, Burst: 5}}
	if err := e.eng.AddQoS(ctx(), gold); err != nil {
		t.Fatal(err)
	}
	if gold.Type != vwire.QoSNetwork || gold.ID == "" {
		t.Errorf("added QoS = %+v, want a network QoS with an id", gold)
	}
	if ev := e.lastEvent(); ev.Code != 10100 || ev.Description != "Network QoS gold was added. (User: admin@internal-authz)" || ev.DataCenterID != e.dc.ID {
		t.Errorf("add event = %d %q (dc %q)", ev.Code, ev.Description, ev.DataCenterID)
	}
	refusals := []struct {
		name string
		q    vwire.QoS
		want vwire.MsgKey
	}{
		{"duplicate name", vwire.QoS{Name: "gold"}, vwire.MsgQoSNameExist},
		{"no name", vwire.QoS{}, vwire.MsgQoSNameNotNull},
		{"long name", vwire.QoS{Name: "q23456789012345678901234567890123456789012345678901"}, vwire.MsgQoSNameTooLong},
		{"bad name", vwire.QoS{Name: "a b"}, vwire.MsgQoSNameInvalid},
		{"storage type", vwire.QoS{Name: "s", Type: "storage"}, vwire.MsgQoSTypeNotSupported},
		{"missing burst", vwire.QoS{Name: "m", Outbound: vwire.Rate{Average: 1, Peak: 1}}, vwire.MsgNetworkQoSMissingValues},
		{"peak below average", vwire.QoS{Name: "p", Inbound: vwire.Rate{Average: 10, Peak: 9, Burst: 1}}, vwire.MsgNetworkQoSPeakLowerThanAverage},
		{"average too high", vwire.QoS{Name: "h", Inbound: vwire.Rate{Average: vwire.MaxQoSAverage + 1, Peak: vwire.MaxQoSPeak, Burst: 1}}, vwire.MsgQoSOutOfRange},
		{"negative burst", vwire.QoS{Name: "n", Outbound: vwire.Rate{Average: 1, Peak: 1, Burst: -1}}, vwire.MsgQoSOutOfRange},
		{"missing data center", vwire.QoS{Name: "d", DataCenterID: "00000000-0000-0000-0000-00000000dead"}, vwire.MsgQoSStoragePoolNotExist},
	}
	for _, tc := range refusals {
		q := tc.q
		if q.DataCenterID == "" {
			q.DataCenterID = e.dc.ID
		}
		err := e.eng.AddQoS(ctx(), &q)
		if key(err) != tc.want || vwire.ErrorCode(err) != vwire.EINVALID {
			t.Errorf("%s: err = %v (%s), want %s (400)", tc.name, err, key(err), tc.want)
		}
	}
	if qs, _ := e.eng.QoSs(ctx(), e.dc.ID); len(qs) != 1 {
		t.Errorf("after the refusals the data center has %d QoS, want 1", len(qs))
	}

	// A QoS of another data center is not this one's, and the same name
	// there is another QoS.
	dc2 := &vwire.DataCenter{Name: "dc2"}
	if err := e.eng.AddDataCenter(ctx(), dc2); err != nil {
		t.Fatal(err)
	}
	other := &vwire.QoS{Name: "gold", DataCenterID: dc2.ID}
	if err := e.eng.AddQoS(ctx(), other); err != nil {
		t.Fatalf("the same name in another data center: %v", err)
	}
	if _, err := e.eng.QoS(ctx(), e.dc.ID, other.ID); vwire.ErrorCode(err) != vwire.ENOTFOUND {
		t.Errorf("another data center's QoS read from this one: %v", err)
	}
	if _, err := e.eng.UpdateQoS(ctx(), dc2.ID, gold.ID, func(*vwire.QoS) error { return nil }); vwire.ErrorCode(err) != vwire.ENOTFOUND {
		t.Errorf("a QoS updated through another data center: %v", err)
	}

	// Updates: the limits change, a move or a bad value is refused.
	got, err := e.eng.UpdateQoS(ctx(), e.dc.ID, gold.ID, func(q *vwire.QoS) error {
		q.Inbound, q.Outbound = vwire.Rate{}, vwire.Rate{Average: 2, Peak: 4, Burst: 8}
		return nil
	})
	if err != nil || !got.Inbound.IsZero() || got.Outbound != (vwire.Rate{Average: 2, Peak: 4, Burst: 8}) {
		t.Fatalf("update = %+v, %v", got, err)
	}
	if ev := e.lastEvent(); ev.Code != 10104 || ev.Description != "Network QoS gold was updated. (User: admin@internal-authz)" {
		t.Errorf("update event = %d %q", ev.Code, ev.Description)
	}
	if _, err := e.eng.UpdateQoS(ctx(), e.dc.ID, gold.ID, func(q *vwire.QoS) error { q.DataCenterID = dc2.ID; return nil }); key(err) != vwire.MsgQoSStoragePoolNotConsistent {
		t.Errorf("moving a QoS: %v", err)
	}
	if _, err := e.eng.UpdateQoS(ctx(), e.dc.ID, gold.ID, func(q *vwire.QoS) error { q.Outbound.Peak = 1; return nil }); key(err) != vwire.MsgNetworkQoSPeakLowerThanAverage {
		t.Errorf("peak below average on update: %v", err)
	}
	silver := &vwire.QoS{Name: "silver", DataCenterID: e.dc.ID}
	if err := e.eng.AddQoS(ctx(), silver); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.UpdateQoS(ctx(), e.dc.ID, silver.ID, func(q *vwire.QoS) error { q.Name = "gold"; return nil }); key(err) != vwire.MsgQoSNameExist {
		t.Errorf("renaming onto another QoS: %v", err)
	}
	if q, _ := e.eng.QoS(ctx(), e.dc.ID, gold.ID); q.Outbound.Peak != 4 {
		t.Errorf("a refused update changed the QoS: %+v", q)
	}

	// Removing a QoS clears it from its profiles.
	red := e.network("red")
	if _, err := e.eng.UpdateProfile(ctx(), red, func(p *vwire.VNICProfile) error { p.QoSID = gold.ID; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.RemoveQoS(ctx(), e.dc.ID, gold.ID); err != nil {
		t.Fatal(err)
	}
	if ev := e.lastEvent(); ev.Code != 10102 || ev.Description != "Network QoS gold was removed. (User: admin@internal-authz)" {
		t.Errorf("remove event = %d %q", ev.Code, ev.Description)
	}
	if p, _ := e.eng.Profile(ctx(), red); p.QoSID != "" {
		t.Errorf("profile of a removed QoS still names it: %q", p.QoSID)
	}
	if err := e.eng.RemoveQoS(ctx(), e.dc.ID, gold.ID); vwire.ErrorCode(err) != vwire.ENOTFOUND {
		t.Errorf("removing a removed QoS: %v", err)
	}
}

// TestProfileQoSAndPassThrough: a profile's QoS must exist in its
// network's data center; pass-through excludes mirroring, QoS and a
// filter, and cannot change while vNICs use the profile; a vNIC reads its
// profile's QoS.
func TestProfileQoSAndPassThrough(t *testing.T) { forEachStore(t, testProfileQoSAndPassThrough) }

func testProfileQoSAndPassThrough(t *testing.T) {
	e := newEnv(t)
	red := e.network("red")
	gold := &vwire.QoS{Name: "gold", DataCenterID: e.dc.ID, Outbound: vwire.Rate{Average: 1, Peak: 2, Burst: 3}}
	dc2 := &vwire.DataCenter{Name: "dc2"}
	if err := e.eng.AddDataCenter(ctx(), dc2); err != nil {
		t.Fatal(err)
	}
	foreign := &vwire.QoS{Name: "foreign", DataCenterID: dc2.ID}
	for _, q := range []*vwire.QoS{gold, foreign} {
		if err := e.eng.AddQoS(ctx(), q); err != nil {
			t.Fatal(err)
		}
	}
	edit := func(mutate func(p *vwire.VNICProfile)) error {
		_, err := e.eng.UpdateProfile(ctx(), red, func(p *vwire.VNICProfile) error { mutate(p); return nil })
		return err
	}
	cases := []struct {
		name   string
		mutate func(p *vwire.VNICProfile)
		want   vwire.MsgKey
	}{
		{"QoS of another data center", func(p *vwire.VNICProfile) { p.QoSID = foreign.ID }, vwire.MsgNetworkQoSInvalidDCID},
		{"missing QoS", func(p *vwire.VNICProfile) { p.QoSID = "00000000-0000-0000-0000-00000000dead" }, vwire.MsgNetworkQoSNotExists},
		{"pass-through with the default filter", func(p *vwire.VNICProfile) { p.PassThrough = true }, vwire.MsgPassThroughProfileUnsupportedProperties},
		{"pass-through with mirroring", func(p *vwire.VNICProfile) { p.PassThrough, p.NetworkFilter, p.PortMirroring = true, "", true },
			vwire.MsgPassThroughProfileUnsupportedProperties},
		{"pass-through with QoS", func(p *vwire.VNICProfile) { p.PassThrough, p.NetworkFilter, p.QoSID = true, "", gold.ID },
			vwire.MsgPassThroughProfileUnsupportedProperties},
	}
	for _, tc := range cases {
		if err := edit(tc.mutate); key(err) != tc.want || vwire.ErrorCode(err) != vwire.EINVALID {
			t.Errorf("%s: err = %v, want %s (400)", tc.name, err, tc.want)
		}
	}
	add := &vwire.VNICProfile{Name: "pt", NetworkID: mustNetworkOf(t, e, red), PassThrough: true, QoSID: gold.ID}
	if err := e.eng.AddProfile(ctx(), add); key(err) != vwire.MsgPassThroughProfileUnsupportedProperties {
		t.Errorf("adding a pass-through profile with QoS: %v", err)
	}
	add.QoSID = ""
	if err := e.eng.AddProfile(ctx(), add); err != nil {
		t.Errorf("adding a plain pass-through profile: %v", err)
	}
	add2 := &vwire.VNICProfile{Name: "far", NetworkID: add.NetworkID, QoSID: foreign.ID}
	if err := e.eng.AddProfile(ctx(), add2); key(err) != vwire.MsgNetworkQoSInvalidDCID {
		t.Errorf("adding a profile with another data center's QoS: %v", err)
	}

	// Pass-through changes while no vNIC uses the profile, not after.
	if err := edit(func(p *vwire.VNICProfile) { p.PassThrough, p.NetworkFilter = true, "" }); err != nil {
		t.Fatalf("pass-through on an unused profile: %v", err)
	}
	if err := edit(func(p *vwire.VNICProfile) { p.PassThrough, p.QoSID = false, gold.ID }); err != nil {
		t.Fatalf("back from pass-through with a QoS: %v", err)
	}
	vm := e.vm("v1")
	n := e.nic(vm.ID, engine.NICSpec{Name: "nic1", ProfileID: red})
	if got := e.stored(n.ID).QoS; got != gold.Bandwidth() {
		t.Errorf("vNIC's QoS = %v, want %v", got, gold.Bandwidth())
	}
	if err := edit(func(p *vwire.VNICProfile) { p.PassThrough, p.QoSID = true, "" }); key(err) != vwire.MsgVNICProfileInUse || vwire.ErrorCode(err) != vwire.ECONFLICT {
		t.Errorf("pass-through on a used profile: %v", err)
	}
	// What running vNICs must have may change on a used profile.
	if err := edit(func(p *vwire.VNICProfile) { p.QoSID, p.NetworkFilter = "", "clean-traffic" }); err != nil {
		t.Errorf("clearing the QoS of a used profile: %v", err)
	}
	if got := e.stored(n.ID); !got.QoS.IsZero() || got.Filter != "clean-traffic" {
		t.Errorf("vNIC after its profile changed: QoS %v, filter %q", got.QoS, got.Filter)
	}
}

// TestQoSAuthorization: oVirt checks CONFIGURE_STORAGE_POOL_NETWORK on the
// data center for every QoS command; a NetworkAdmin of the data center
// has it, a ClusterAdmin has not.
func TestQoSAuthorization(t *testing.T) { forEachStore(t, testQoSAuthorization) }

func testQoSAuthorization(t *testing.T) {
	e := newEnv(t)
	netAdmin, nu := e.user("nadia")
	e.grant(nu, vwire.RoleNetworkAdmin, vwire.ObjDataCenter, e.dc.ID)
	clAdmin, cu := e.user("carl")
	e.grant(cu, vwire.RoleClusterAdmin, vwire.ObjCluster, e.cluster.ID)
	q := &vwire.QoS{Name: "q", DataCenterID: e.dc.ID}
	if err := e.eng.AddQoS(clAdmin, q); err == nil {
		t.Fatal("a ClusterAdmin added a QoS")
	} else {
		refusedText(t, err)
	}
	if err := e.eng.AddQoS(netAdmin, q); err != nil {
		t.Fatalf("a NetworkAdmin of the data center adds a QoS: %v", err)
	}
	if _, err := e.eng.UpdateQoS(clAdmin, e.dc.ID, q.ID, func(*vwire.QoS) error { return nil }); err == nil {
		t.Error("a ClusterAdmin updated a QoS")
	}
	if err := e.eng.RemoveQoS(clAdmin, e.dc.ID, q.ID); err == nil {
		t.Error("a ClusterAdmin removed a QoS")
	}
	if err := e.eng.RemoveQoS(netAdmin, e.dc.ID, q.ID); err != nil {
		t.Errorf("a NetworkAdmin of the data center removes a QoS: %v", err)
	}
}

func mustNetworkOf(t *testing.T, e *env, profileID string) string {
	t.Helper()
	p, err := e.eng.Profile(ctx(), profileID)
	if err != nil {
		t.Fatal(err)
	}
	return p.NetworkID
}
