package vwire_test

import (
	"slices"
	"strings"
	"testing"

	"vwire.dev/vwire"
)

var (
	fieldsNIC = vwire.NIC{ID: "n1", Name: "nic1", MAC: "02:00:00:00:00:01", Interface: vwire.IfaceVirtio,
		ProfileID: "p-blue", NetworkName: "blue", Linked: true, Plugged: true, Filter: vwire.DefaultNWFilter}
	fieldsObserved = vwire.NICObserved{Present: true, Alias: "ua-n1", Bridge: "blue", MAC: "02:00:00:00:00:01",
		Model: "virtio", LinkUp: true, Filter: vwire.DefaultNWFilter}
)

// TestNICFieldsTable walks the declared set: every row has the comparisons
// its kind needs, and a change of one row alone is decided by its kind
// alone, for a user's change and for drift alike.
func TestNICFieldsTable(t *testing.T) {
	// One change of each row's value between desired states, and one way
	// the host can differ in it.
	change := map[string]func(n *vwire.NIC){
		"network":        func(n *vwire.NIC) { n.ProfileID, n.NetworkName = "p-red", "red" },
		"link":           func(n *vwire.NIC) { n.Linked = false },
		"MAC":            func(n *vwire.NIC) { n.MAC = "02:00:00:00:00:02" },
		"model":          func(n *vwire.NIC) { n.Interface = vwire.IfaceE1000 },
		"name":           func(n *vwire.NIC) { n.Name = "nic2" },
		"port mirroring": func(n *vwire.NIC) { n.PortMirroring = true },
		"QoS":            func(n *vwire.NIC) { n.QoS.Outbound = vwire.Rate{Average: 1, Peak: 2, Burst: 1} },
		"network filter": func(n *vwire.NIC) { n.Filter = "clean-traffic" },
		"filter parameters": func(n *vwire.NIC) {
			n.FilterParams = []vwire.FilterParam{{Name: "IP", Value: "198.18.1.2"}}
		},
	}
	drift := map[string]func(o *vwire.NICObserved){
		"network":        func(o *vwire.NICObserved) { o.Bridge = "red" },
		"link":           func(o *vwire.NICObserved) { o.LinkUp = false },
		"MAC":            func(o *vwire.NICObserved) { o.MAC = "02:00:00:00:00:99" },
		"model":          func(o *vwire.NICObserved) { o.Model = "e1000" },
		"port mirroring": func(o *vwire.NICObserved) { o.Mirroring = true },
		"QoS":            func(o *vwire.NICObserved) { o.QoS.Inbound = vwire.Rate{Average: 5, Peak: 5, Burst: 1} },
		"network filter": func(o *vwire.NICObserved) { o.Filter = "" },
		"filter parameters": func(o *vwire.NICObserved) {
			o.FilterParams = []vwire.FilterParam{{Name: "IP", Value: "198.18.1.9"}}
		},
	}
	seen := map[string]bool{}
	for _, f := range vwire.NICFields {
		t.Run(f.Name, func(t *testing.T) {
			if f.Name == "" || seen[f.Name] {
				t.Fatalf("row %q: a name, and only one row of it", f.Name)
			}
			seen[f.Name] = true
			hostVisible := f.Kind != vwire.DatabaseOnly
			if f.Changed == nil || (f.Observe != nil) != hostVisible || (f.Adopt != nil) != hostVisible {
				t.Fatalf("row %q (%s): Changed, and Observe and Adopt exactly when the host sees it", f.Name, f.Kind)
			}
			ch, ok := change[f.Name]
			if !ok {
				t.Fatalf("row %q has no sample change in this test", f.Name)
			}
			// A user's change of this field alone.
			n := fieldsNIC
			ch(&n)
			d := vwire.DiffNIC(&fieldsNIC, &n)
			if len(d.Fields) != 1 || d.Fields[0].Name != f.Name {
				t.Errorf("diff = %v, want only %s", names(d), f.Name)
			}
			wantAction := map[vwire.FieldKind]vwire.HostAction{vwire.Live: vwire.ActionUpdate}[f.Kind]
			if got := vwire.RequiredAction(&fieldsNIC, &n, true); got != wantAction {
				t.Errorf("action = %s, want %s", got, wantAction)
			}
			if refused := vwire.ValidateHotUpdate(vwire.OpEditNic, &fieldsNIC, &n, true) != nil; refused != (f.Kind == vwire.Replug) {
				t.Errorf("refused = %v for a %s field", refused, f.Kind)
			}
			if got := vwire.RequiredAction(&fieldsNIC, &n, false); got != vwire.ActionNone {
				t.Errorf("action on a VM that does not run = %s", got)
			}
			if !hostVisible {
				return
			}
			// The host differs in this field alone.
			dr, ok := drift[f.Name]
			if !ok {
				t.Fatalf("row %q has no sample drift in this test", f.Name)
			}
			o := fieldsObserved
			dr(&o)
			m := fieldsNIC
			m.Observed = &o
			ds := vwire.Drift(&m, true)
			if len(ds) != 1 || ds[0].Field != f.Name {
				t.Errorf("drift = %v, want only %s", ds, f.Name)
			}
			if vwire.ComputeSynced(&m, true) {
				t.Error("synced with drift")
			}
			host := vwire.ObservedNIC(&m)
			if d := vwire.DiffNIC(&host, &m); len(d.Fields) != 1 || d.Fields[0].Name != f.Name {
				t.Errorf("repair diff = %v, want only %s", names(d), f.Name)
			}
			if got := vwire.RequiredAction(&host, &m, true); got != wantAction {
				t.Errorf("repair action = %s, want %s", got, wantAction)
			}
			if replug := vwire.DiffNIC(&host, &m).Replug(); replug != (f.Kind == vwire.Replug) {
				t.Errorf("repair replugs = %v for a %s field", replug, f.Kind)
			}
		})
	}
	// The hypervisor's contract: the update verb changes the bridge, the
	// link, mirroring, bandwidth and the filter with its parameters on a
	// plugged device. A new Live row needs the host to change it too.
	var live []string
	for _, f := range vwire.NICFields {
		if f.Kind == vwire.Live {
			live = append(live, f.Name)
		}
	}
	if want := []string{"network", "link", "port mirroring", "QoS", "network filter", "filter parameters"}; !slices.Equal(live, want) {
		t.Errorf("live fields = %v; the host's update verb changes %v", live, want)
	}
}

func names(d vwire.NICDiff) []string {
	var s []string
	for _, f := range d.Fields {
		s = append(s, f.Name)
	}
	return s
}

// withRows replaces the declared set for one test.
func withRows(t *testing.T, rows ...vwire.NICField) {
	saved := vwire.NICFields
	vwire.NICFields = append(slices.Clip(saved), rows...)
	t.Cleanup(func() { vwire.NICFields = saved })
}

// TestNewNICFieldIsOneRow: a field added to the declared set, and nowhere
// else, changes the update decision, the refusal, drift, synced and the
// repair. The rows stand in for QoS (live), port mirroring (replug) and a
// host-visible field (the device alias).
func TestNewNICFieldIsOneRow(t *testing.T) {
	plugged := fieldsNIC
	qos := plugged
	qos.Notify = vwire.NotifyAnnounce
	mirrored := plugged
	mirrored.PortMirroring = true

	// Before: neither change touches the host.
	if a := vwire.RequiredAction(&plugged, &qos, true); a != vwire.ActionNone {
		t.Fatalf("action before the row = %s", a)
	}
	if err := vwire.ValidateHotUpdate(vwire.OpEditNic, &plugged, &mirrored, true); err != nil {
		t.Fatalf("refused before the row: %v", err)
	}
	o := fieldsObserved
	o.Alias = "ua-other"
	drifted := plugged
	drifted.Observed = &o
	if ds := vwire.Drift(&drifted, true); ds != nil {
		t.Fatalf("drift before the row: %v", ds)
	}

	withRows(t,
		vwire.NICField{Name: "test live", Kind: vwire.Live,
			Changed: func(old, new *vwire.NIC) bool { return old.Notify != new.Notify },
			Observe: func(n *vwire.NIC, o *vwire.NICObserved) (string, string, bool) { return "", "", false },
			Adopt:   func(old *vwire.NIC, o *vwire.NICObserved) {}},
		vwire.NICField{Name: "test replug", Kind: vwire.Replug,
			Changed: func(old, new *vwire.NIC) bool { return old.PortMirroring != new.PortMirroring },
			Observe: func(n *vwire.NIC, o *vwire.NICObserved) (string, string, bool) { return "", "", false },
			Adopt:   func(old *vwire.NIC, o *vwire.NICObserved) {}},
		vwire.NICField{Name: "alias", Kind: vwire.Replug,
			Changed: func(old, new *vwire.NIC) bool { return old.ID != new.ID },
			Observe: func(n *vwire.NIC, o *vwire.NICObserved) (string, string, bool) {
				return o.Alias, n.Alias(), o.Alias != n.Alias()
			},
			Adopt: func(old *vwire.NIC, o *vwire.NICObserved) { old.ID = strings.TrimPrefix(o.Alias, "ua-") }},
	)

	if a := vwire.RequiredAction(&plugged, &qos, true); a != vwire.ActionUpdate {
		t.Errorf("a live row: action = %s, want update", a)
	}
	err := vwire.ValidateHotUpdate(vwire.OpEditNic, &plugged, &mirrored, true)
	if !vwire.IsKey(err, vwire.MsgCannotPerformHotUpdate) {
		t.Errorf("a replug row: err = %v, want %s", err, vwire.MsgCannotPerformHotUpdate)
	}
	unplugged := mirrored
	unplugged.Plugged = false
	if err := vwire.ValidateHotUpdate(vwire.OpEditNic, &plugged, &unplugged, true); err != nil {
		t.Errorf("a replug row with unplug refused: %v", err)
	}
	if got, want := vwire.DescribeDrift(vwire.Drift(&drifted, true)), "alias is ua-other, expected ua-n1"; got != want {
		t.Errorf("drift = %q, want %q", got, want)
	}
	if vwire.ComputeSynced(&drifted, true) {
		t.Error("synced with a drifted row")
	}
	host := vwire.ObservedNIC(&drifted)
	if !vwire.DiffNIC(&host, &drifted).Replug() {
		t.Error("a drifted replug row is not repaired by unplug and plug")
	}
}
