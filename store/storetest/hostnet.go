package storetest

import (
	"reflect"
	"testing"

	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// testHostNetworks: a network's overlay segment, a host's report, and
// network attachments (unique per host and network, gone with their host
// or network).
func testHostNetworks(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	f.net.VXLAN = 4242
	update(t, s, func(tx vwire.Tx) error { return tx.UpdateNetwork(f.net) })
	update(t, s, func(tx vwire.Tx) error {
		n, err := tx.Network(f.net.ID)
		if err != nil || n.VXLAN != 4242 {
			t.Errorf("network's segment = %v, %v; want 4242", n, err)
		}
		r, err := tx.HostReport(f.host.ID)
		if err != nil || len(r.NICs) != 0 || r.NoVLAN != "" {
			t.Errorf("report before any = %+v, %v; want empty", r, err)
		}
		return nil
	})
	want := &vwire.HostReport{
		NICs: []vwire.HostNICReport{{Name: "eth0", MAC: "52:54:00:00:00:01", MTU: 9000, SpeedMbps: 10000, Up: true, Addr: "198.18.9.1/24"},
			{Name: "bond0", Bond: true, Slaves: []string{"eth1", "eth2"}}},
		Networks: []vwire.HostNetworkReport{{Name: "red", MTU: 9000, NIC: "eth0", VNI: 4242, Local: "198.18.9.1", Remotes: []string{"198.18.9.2"}}},
		NoVLAN:   "the kernel has no 8021q",
	}
	update(t, s, func(tx vwire.Tx) error { return tx.SetHostReport(f.host.ID, want) })
	update(t, s, func(tx vwire.Tx) error { return tx.SetHostReport(f.host.ID, want) }) // replaces, no conflict
	update(t, s, func(tx vwire.Tx) error {
		got, err := tx.HostReport(f.host.ID)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("report = %+v, %v; want %+v", got, err, want)
		}
		return nil
	})

	a := &vwire.NetworkAttachment{ID: uuid.NewString(), HostID: f.host.ID, NetworkID: f.net.ID, NIC: "eth0"}
	update(t, s, func(tx vwire.Tx) error { return tx.CreateNetworkAttachment(a) })
	err := s.Update(ctx(), func(tx vwire.Tx) error {
		return tx.CreateNetworkAttachment(&vwire.NetworkAttachment{ID: uuid.NewString(), HostID: f.host.ID, NetworkID: f.net.ID, NIC: "eth1"})
	})
	if code(err) != vwire.ECONFLICT {
		t.Errorf("second attachment of a network to a host: %v; want ECONFLICT", err)
	}
	a.NIC = "bond0"
	update(t, s, func(tx vwire.Tx) error { return tx.UpdateNetworkAttachment(a) })
	update(t, s, func(tx vwire.Tx) error {
		got, err := tx.NetworkAttachment(a.ID)
		if err != nil || *got != *a {
			t.Errorf("attachment = %+v, %v; want %+v", got, err, a)
		}
		for _, q := range [][2]string{{f.host.ID, ""}, {"", f.net.ID}, {f.host.ID, f.net.ID}} {
			l, err := tx.NetworkAttachments(q[0], q[1])
			if err != nil || len(l) != 1 || *l[0] != *a {
				t.Errorf("attachments %v = %v, %v; want the one", q, l, err)
			}
		}
		if l, err := tx.NetworkAttachments(uuid.NewString(), ""); err != nil || len(l) != 0 {
			t.Errorf("another host's attachments = %v, %v; want none", l, err)
		}
		if _, err := tx.NetworkAttachment(uuid.NewString()); code(err) != vwire.ENOTFOUND {
			t.Errorf("missing attachment: %v; want ENOTFOUND", err)
		}
		if err := tx.DeleteNetworkAttachment(uuid.NewString()); code(err) != vwire.ENOTFOUND {
			t.Errorf("delete missing attachment: %v; want ENOTFOUND", err)
		}
		return nil
	})
	// A host's attachments and report go with it.
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.DeleteVM(f.vm.ID); err != nil {
			return err
		}
		return tx.DeleteHost(f.host.ID)
	})
	update(t, s, func(tx vwire.Tx) error {
		if l, err := tx.NetworkAttachments("", f.net.ID); err != nil || len(l) != 0 {
			t.Errorf("attachments after host removal = %v, %v; want none", l, err)
		}
		if r, err := tx.HostReport(f.host.ID); err != nil || len(r.NICs) != 0 {
			t.Errorf("report after host removal = %+v, %v; want empty", r, err)
		}
		return nil
	})
}
