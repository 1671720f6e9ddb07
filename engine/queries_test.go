package engine_test

import (
	"testing"

	"vwire.dev/vwire"
)

// TestQueryFilters pins what the typed filters of the engine's queries
// select, and that a filter naming a missing parent is ENOTFOUND.
func TestQueryFilters(t *testing.T) {
	e := newEnv(t)
	red := e.network("red")
	e.vm("a")
	e.vm("b")

	notFound := func(what string, err error) {
		t.Helper()
		if vwire.ErrorCode(err) != vwire.ENOTFOUND {
			t.Errorf("%s: err = %v, want ENOTFOUND", what, err)
		}
	}
	cls, err := e.eng.Clusters(ctx(), vwire.ClusterFilter{DataCenterID: e.dc.ID})
	if err != nil || len(cls) != 1 || cls[0].ID != e.cluster.ID {
		t.Errorf("clusters of the data center = %v, %v", cls, err)
	}
	_, err = e.eng.Clusters(ctx(), vwire.ClusterFilter{DataCenterID: "missing"})
	notFound("clusters of a missing data center", err)

	nets, err := e.eng.Networks(ctx(), vwire.NetworkFilter{DataCenterID: e.dc.ID})
	if err != nil || len(nets) != 2 {
		t.Errorf("networks of the data center = %v, %v", nets, err)
	}
	_, err = e.eng.Networks(ctx(), vwire.NetworkFilter{DataCenterID: "missing"})
	notFound("networks of a missing data center", err)

	p, _ := e.eng.Profile(ctx(), red)
	ps, err := e.eng.Profiles(ctx(), vwire.ProfileFilter{NetworkID: p.NetworkID})
	if err != nil || len(ps) != 1 || ps[0].ID != red {
		t.Errorf("profiles of red = %v, %v", ps, err)
	}
	_, err = e.eng.Profiles(ctx(), vwire.ProfileFilter{NetworkID: "missing"})
	notFound("profiles of a missing network", err)

	n, err := e.eng.NetworkToAttach(ctx(), e.cluster.ID, "", "red")
	if err != nil || n.ID != p.NetworkID {
		t.Errorf("network to attach by name = %v, %v", n, err)
	}
	if _, err := e.eng.NetworkToAttach(ctx(), e.cluster.ID, p.NetworkID, "blue"); !vwire.IsKey(err, vwire.MsgNetworkIDNameMismatch) {
		t.Errorf("id and name disagreeing: %v", err)
	}

	vms, err := e.eng.VMs(ctx(), vwire.VMFilter{Name: "b"})
	if err != nil || len(vms) != 1 || vms[0].Name != "b" {
		t.Errorf("VMs named b = %v, %v", vms, err)
	}
	sum, err := e.eng.Summary(ctx())
	if err != nil || sum.VMs != 2 || sum.ActiveVMs != 0 || sum.Hosts != 1 || sum.ActiveHosts != 1 || sum.InstanceID == "" {
		t.Errorf("summary = %+v, %v", sum, err)
	}
}
