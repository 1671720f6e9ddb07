package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// testQoS: network QoS entities are stored with both directions (an
// unlimited one as zero), unique by name in a data center; a profile keeps
// its QoS and pass-through mode; every read of a vNIC carries its profile's
// QoS and filter and its own filter parameters, by name; deleting a QoS
// clears it from its profiles, deleting a data center deletes its QoS.
func testQoS(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	gold := &vwire.QoS{ID: uuid.NewString(), Name: "gold", Description: "fast", DataCenterID: f.dc.ID, Type: vwire.QoSNetwork,
		Inbound: vwire.Rate{Average: 10, Peak: 20, Burst: 30}, Outbound: vwire.Rate{Average: 1, Peak: 2, Burst: 3}}
	bronze := &vwire.QoS{ID: uuid.NewString(), Name: "bronze", DataCenterID: f.dc.ID, Type: vwire.QoSNetwork,
		Outbound: vwire.Rate{Average: 5, Peak: 5, Burst: 5}}
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.CreateQoS(gold); err != nil {
			return err
		}
		return tx.CreateQoS(bronze)
	})
	other := &vwire.DataCenter{ID: uuid.NewString(), Name: "dc-" + uuid.NewString()[:8], Version: f.dc.Version, MACPoolID: f.pool.ID}
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.CreateDataCenter(other); err != nil {
			return err
		}
		// The same name in another data center is another QoS.
		return tx.CreateQoS(&vwire.QoS{ID: uuid.NewString(), Name: "gold", DataCenterID: other.ID, Type: vwire.QoSNetwork})
	})
	refusals := []struct {
		name string
		fn   func(tx vwire.Tx) error
		want vwire.Code
	}{
		{"duplicate name in a data center", func(tx vwire.Tx) error {
			return tx.CreateQoS(&vwire.QoS{ID: uuid.NewString(), Name: "gold", DataCenterID: f.dc.ID, Type: vwire.QoSNetwork})
		}, vwire.ECONFLICT},
		{"renamed onto another", func(tx vwire.Tx) error { b := *bronze; b.Name = "gold"; return tx.UpdateQoS(&b) }, vwire.ECONFLICT},
		{"missing data center", func(tx vwire.Tx) error {
			return tx.CreateQoS(&vwire.QoS{ID: uuid.NewString(), Name: "x", DataCenterID: uuid.NewString(), Type: vwire.QoSNetwork})
		}, vwire.ECONFLICT},
		{"profile naming a missing QoS", func(tx vwire.Tx) error {
			return tx.CreateProfile(&vwire.VNICProfile{ID: uuid.NewString(), Name: "ghost", NetworkID: f.net.ID, QoSID: uuid.NewString()})
		}, vwire.ECONFLICT},
		{"missing QoS", func(tx vwire.Tx) error { _, err := tx.QoS(uuid.NewString()); return err }, vwire.ENOTFOUND},
		{"update missing QoS", func(tx vwire.Tx) error { q := *gold; q.ID = uuid.NewString(); return tx.UpdateQoS(&q) }, vwire.ENOTFOUND},
		{"delete missing QoS", func(tx vwire.Tx) error { return tx.DeleteQoS(uuid.NewString()) }, vwire.ENOTFOUND},
	}
	for _, tc := range refusals {
		if err := s.Update(ctx(), tc.fn); code(err) != tc.want {
			t.Errorf("%s: err = %v (%s), want %s", tc.name, err, code(err), tc.want)
		}
	}
	s.View(ctx(), func(tx vwire.Tx) error {
		got, err := tx.QoSs(f.dc.ID)
		if d := cmp.Diff([]*vwire.QoS{bronze, gold}, got); err != nil || d != "" {
			t.Errorf("QoSs (-want +got): %v\n%s", err, d)
		}
		return nil
	})
	// An update writes both directions, an unlimited one as zero.
	gold.Description, gold.Inbound, gold.Outbound = "", vwire.Rate{}, vwire.Rate{Average: 100, Peak: 200, Burst: 300}
	update(t, s, func(tx vwire.Tx) error { return tx.UpdateQoS(gold) })
	s.View(ctx(), func(tx vwire.Tx) error {
		got, err := tx.QoS(gold.ID)
		if d := cmp.Diff(gold, got); err != nil || d != "" {
			t.Errorf("updated QoS (-want +got): %v\n%s", err, d)
		}
		return nil
	})

	// A profile with the QoS, a filter and pass-through; a vNIC on it with
	// parameters written out of order, one without any, one on no profile.
	p := &vwire.VNICProfile{ID: uuid.NewString(), Name: "q-" + uuid.NewString()[:8], NetworkID: f.net.ID, QoSID: gold.ID,
		NetworkFilter: "clean-traffic", PassThrough: true, Notify: vwire.NotifyNone}
	a := newNIC(f, "qa", "02:00:00:00:0a:01")
	a.ProfileID = p.ID
	b := newNIC(f, "qb", "02:00:00:00:0a:02")
	b.ProfileID = p.ID
	c := newNIC(f, "qc", "02:00:00:00:0a:03")
	c.ProfileID = ""
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.CreateProfile(p); err != nil {
			return err
		}
		for _, n := range []*vwire.NIC{a, b, c} {
			if err := tx.CreateNIC(n); err != nil {
				return err
			}
		}
		for _, fp := range []vwire.FilterParam{{Name: "IP", Value: "198.51.100.2"}, {Name: "CTRL_IP_LEARNING", Value: "none"}, {Name: "IP", Value: "198.51.100.1"}} {
			if err := tx.CreateFilterParameter(&vwire.FilterParameter{ID: uuid.NewString(), NICID: a.ID, Name: fp.Name, Value: fp.Value}); err != nil {
				return err
			}
		}
		return tx.CreateTemplateNIC(&vwire.NIC{ID: uuid.NewString(), VMID: vwire.BlankTemplateID, Name: "tq", Interface: vwire.IfaceVirtio, ProfileID: p.ID, Linked: true})
	})
	wantParams := []vwire.FilterParam{{Name: "CTRL_IP_LEARNING", Value: "none"}, {Name: "IP", Value: "198.51.100.1"}, {Name: "IP", Value: "198.51.100.2"}}
	wantQoS := gold.Bandwidth()
	check := func(when string, qos vwire.Bandwidth, filter string, params []vwire.FilterParam) {
		t.Helper()
		s.View(ctx(), func(tx vwire.Tx) error {
			one, err := tx.NIC(a.ID)
			if err != nil {
				t.Fatal(err)
			}
			all, err := tx.NICs(f.vm.ID)
			if err != nil {
				t.Fatal(err)
			}
			onHost, err := tx.NICsOnHost(f.host.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, set := range [][]*vwire.NIC{{one}, all, onHost} {
				for _, n := range set {
					want := struct {
						QoS    vwire.Bandwidth
						Filter string
						Params []vwire.FilterParam
					}{}
					switch n.ID {
					case a.ID:
						want.QoS, want.Filter, want.Params = qos, filter, params
					case b.ID:
						want.QoS, want.Filter = qos, filter
					}
					got := want
					got.QoS, got.Filter, got.Params = n.QoS, n.Filter, n.FilterParams
					if d := cmp.Diff(want, got); d != "" {
						t.Errorf("%s: vNIC %s (-want +got):\n%s", when, n.Name, d)
					}
				}
			}
			if len(all) != 3 || len(onHost) != 3 {
				t.Errorf("%s: %d vNICs of the VM, %d on the host, want 3", when, len(all), len(onHost))
			}
			tnics, err := tx.TemplateNICs(vwire.BlankTemplateID)
			if err != nil || len(tnics) != 1 || tnics[0].QoS != qos || tnics[0].Filter != filter {
				t.Errorf("%s: template vNICs = %+v, %v", when, tnics, err)
			}
			return nil
		})
	}
	check("with a QoS", wantQoS, "clean-traffic", wantParams)
	s.View(ctx(), func(tx vwire.Tx) error {
		got, err := tx.Profile(p.ID)
		if d := cmp.Diff(p, got); err != nil || d != "" {
			t.Errorf("profile (-want +got): %v\n%s", err, d)
		}
		users, err := tx.QoSProfiles(gold.ID)
		if d := cmp.Diff([]string{p.ID}, users); err != nil || d != "" {
			t.Errorf("QoS profiles: %v %s", err, d)
		}
		return nil
	})

	// The profile moves to another QoS and out of pass-through.
	p.QoSID, p.PassThrough = bronze.ID, false
	update(t, s, func(tx vwire.Tx) error { return tx.UpdateProfile(p) })
	check("after moving to another QoS", bronze.Bandwidth(), "clean-traffic", wantParams)

	// Deleting the QoS clears it from the profile; the vNICs are unlimited.
	update(t, s, func(tx vwire.Tx) error { return tx.DeleteQoS(bronze.ID) })
	s.View(ctx(), func(tx vwire.Tx) error {
		got, err := tx.Profile(p.ID)
		if err != nil || got.QoSID != "" {
			t.Errorf("profile of a deleted QoS = %+v, %v", got, err)
		}
		if users, err := tx.QoSProfiles(bronze.ID); err != nil || len(users) != 0 {
			t.Errorf("profiles of a deleted QoS = %v, %v", users, err)
		}
		return nil
	})
	check("after deleting the QoS", vwire.Bandwidth{}, "clean-traffic", wantParams)

	// Deleting a data center deletes its QoS entities.
	update(t, s, func(tx vwire.Tx) error { return tx.DeleteDataCenter(other.ID) })
	s.View(ctx(), func(tx vwire.Tx) error {
		if got, err := tx.QoSs(other.ID); err != nil || len(got) != 0 {
			t.Errorf("QoS of a deleted data center = %v, %v", got, err)
		}
		return nil
	})
}
