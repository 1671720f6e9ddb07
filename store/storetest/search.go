package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// Search expressions, built as the API's parser builds them.
func sAnd(kids ...*vwire.SearchExpr) *vwire.SearchExpr {
	return &vwire.SearchExpr{Op: vwire.SearchAnd, Kids: kids}
}

func sOr(kids ...*vwire.SearchExpr) *vwire.SearchExpr {
	return &vwire.SearchExpr{Op: vwire.SearchOr, Kids: kids}
}

func sCmp(field string, op vwire.SearchOp, value string) *vwire.SearchExpr {
	return &vwire.SearchExpr{Op: op, Field: field, Value: value}
}

func sEq(field, value string) *vwire.SearchExpr { return sCmp(field, vwire.SearchEq, value) }

func sNe(field, value string) *vwire.SearchExpr { return sCmp(field, vwire.SearchNe, value) }

// testSearch checks that a client's search (vwire.Search) selects, orders
// and pages in the database what it says, the same on every store: text
// compared case-insensitively for ASCII letters only, * a wildcard and %
// and _ plain text, the cross-object fields, NULLs of optional relations,
// every field vwire.SearchFields declares, and the refusals.
func testSearch(t *testing.T, s vwire.Store) {
	a := newFixture(t, s)
	a.host.Port = 54323
	update(t, s, func(tx vwire.Tx) error { return tx.UpdateHost(a.host) })
	b := newFixture(t, s)
	u := strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	p := "s" + u + "-" // every VM of this test's own
	vm := func(f *fixture, name string, status vwire.VMStatus, memMB int64, host string) *vwire.VM {
		return &vwire.VM{ID: uuid.NewString(), Name: p + name, ClusterID: f.cluster.ID, TemplateID: vwire.BlankTemplateID,
			Status: status, HostID: host, Memory: memMB << 20, OSType: "other", CreatedAt: time.UnixMilli(1700000000000)}
	}
	web1 := vm(a, "Web1", vwire.VMUp, 1024, a.host.ID)
	web2 := vm(a, "web2", vwire.VMDown, 2048, "")
	db1 := vm(a, "db_1", vwire.VMPoweringUp, 4096, a.host.ID)
	dbx1 := vm(b, "dbx1", vwire.VMDown, 512, "")
	dbPct := vm(b, "db%2", vwire.VMUp, 8192, b.host.ID)
	odd := vm(b, "ȺB", vwire.VMDown, 256, "")
	vms := []*vwire.VM{web1, web2, db1, dbx1, dbPct, odd}
	noVLAN := &vwire.Network{ID: uuid.NewString(), Name: "plain", DataCenterID: b.dc.ID, VMNetwork: true, MTU: 1500}
	tmpl := &vwire.Template{ID: uuid.NewString(), Name: "t" + u, ClusterID: a.cluster.ID, Memory: 2 << 30, OSType: "rhel_9x64",
		CreatedAt: time.UnixMilli(1700000000000)}
	update(t, s, func(tx vwire.Tx) error {
		for _, v := range vms {
			if err := tx.CreateVM(v); err != nil {
				return err
			}
		}
		if err := tx.CreateNetwork(noVLAN); err != nil {
			return err
		}
		return tx.CreateTemplate(tmpl)
	})
	var evIDs []int64
	update(t, s, func(tx vwire.Tx) error {
		for _, e := range []*vwire.Event{
			{Code: 1, Severity: vwire.SevNormal, Description: "e1", VMID: web1.ID},
			{Code: 2, Severity: vwire.SevNormal, Description: "e2", VMID: db1.ID},
			{Code: 3, Severity: vwire.SevError, Description: "e3"},
		} {
			e.CorrelationID = "c" + u
			if err := tx.AddEvent(e); err != nil {
				return err
			}
			evIDs = append(evIDs, e.ID)
		}
		return nil
	})
	names := map[string]string{}
	for _, v := range vms {
		names[v.ID] = strings.TrimPrefix(v.Name, p)
	}
	check := func(what string, got []string, err error, want ...string) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	mine := sEq("name", p+"*")
	err := s.View(ctx(), func(tx vwire.Tx) error {
		vmNames := func(f vwire.VMFilter) ([]string, error) {
			l, err := tx.VMs(f)
			out := []string{}
			for _, v := range l {
				out = append(out, names[v.ID])
			}
			return out, err
		}
		q := func(e *vwire.SearchExpr) vwire.VMFilter {
			return vwire.VMFilter{Search: vwire.Search{Where: sAnd(mine, e)}}
		}
		for _, tc := range []struct {
			what string
			f    vwire.VMFilter
			want []string
		}{
			{"all of them, by name", vwire.VMFilter{Search: vwire.Search{Where: mine}},
				[]string{"Web1", "db%2", "db_1", "dbx1", "web2", "ȺB"}},
			{"wildcard, any case", vwire.VMFilter{Search: vwire.Search{Where: sEq("name", strings.ToUpper(p)+"WEB*")}},
				[]string{"Web1", "web2"}},
			{"equality, any case", vwire.VMFilter{Search: vwire.Search{Where: sEq("name", strings.ToUpper(p+"web1"))}},
				[]string{"Web1"}},
			{"_ is text", vwire.VMFilter{Search: vwire.Search{Where: sEq("name", p+"db_1")}}, []string{"db_1"}},
			{"_ is text with a wildcard", vwire.VMFilter{Search: vwire.Search{Where: sEq("name", p+"db_*")}}, []string{"db_1"}},
			{"% is text", vwire.VMFilter{Search: vwire.Search{Where: sEq("name", p+"db%*")}}, []string{"db%2"}},
			{"ASCII letters fold, others do not", vwire.VMFilter{Search: vwire.Search{Where: sEq("name", p+"Ⱥb")}}, []string{"ȺB"}},
			{"Ⱥ is not ⱥ", vwire.VMFilter{Search: vwire.Search{Where: sEq("name", p+"ⱥb")}}, nil},
			{"a quote is a value", vwire.VMFilter{Search: vwire.Search{Where: sEq("name", p+"' OR '1'='1")}}, nil},
			{"or in parentheses", q(sOr(sEq("status", "UP"), sEq("status", "POWERING_UP"))), []string{"Web1", "db%2", "db_1"}},
			{"status wildcard", q(sEq("status", "d*")), []string{"dbx1", "web2", "ȺB"}},
			{"not equal", q(sNe("status", "down")), []string{"Web1", "db%2", "db_1"}},
			{"not a wildcard", q(sNe("name", p+"d*")), []string{"Web1", "web2", "ȺB"}},
			{"cluster", q(sEq("cluster", strings.ToUpper(a.cluster.Name))), []string{"Web1", "db_1", "web2"}},
			{"cluster.name", q(sEq("cluster.name", b.cluster.Name)), []string{"db%2", "dbx1", "ȺB"}},
			{"host", q(sEq("host", a.host.Name)), []string{"Web1", "db_1"}},
			{"host != includes VMs on no host", q(sNe("host", a.host.Name)), []string{"db%2", "dbx1", "web2", "ȺB"}},
			{"no host", q(sEq("host", "")), []string{"dbx1", "web2", "ȺB"}},
			{"datacenter", q(sEq("datacenter", b.dc.Name)), []string{"db%2", "dbx1", "ȺB"}},
			{"template", q(sEq("template", "blank")), []string{"Web1", "db%2", "db_1", "dbx1", "web2", "ȺB"}},
			{"memory in MB", q(sAnd(sCmp("memory", vwire.SearchGt, "1024"), sCmp("memory", vwire.SearchLe, "4096"))), []string{"db_1", "web2"}},
			{"memory =", q(sEq("memory", "512")), []string{"dbx1"}},
			{"memory !=", q(sNe("memory", "512")), []string{"Web1", "db%2", "db_1", "web2", "ȺB"}},
			{"text <, folded", q(sCmp("name", vwire.SearchLt, strings.ToUpper(p)+"E")), []string{"db%2", "db_1", "dbx1"}},
			{"text >=", q(sCmp("name", vwire.SearchGe, p+"web1")), []string{"Web1", "web2", "ȺB"}},
			{"id", q(sEq("id", strings.ToUpper(db1.ID))), []string{"db_1"}},
			{"case-sensitive", vwire.VMFilter{Search: vwire.Search{Where: sEq("name", p+"web*"), CaseSensitive: true}}, []string{"web2"}},
			{"case-sensitive <", vwire.VMFilter{Search: vwire.Search{Where: sAnd(mine, sCmp("name", vwire.SearchLt, p+"a")), CaseSensitive: true}},
				[]string{"Web1"}},
			{"case-sensitive, ids and statuses still in any case", vwire.VMFilter{Search: vwire.Search{
				Where: sAnd(sEq("id", strings.ToUpper(web1.ID)), sEq("status", "UP")), CaseSensitive: true}}, []string{"Web1"}},
			{"with a typed filter too", vwire.VMFilter{ClusterID: b.cluster.ID, Search: vwire.Search{Where: sAnd(mine, sEq("status", "down"))}},
				[]string{"dbx1", "ȺB"}},
			{"sortby name desc", vwire.VMFilter{Search: vwire.Search{Where: mine, SortBy: "name", Desc: true}},
				[]string{"ȺB", "web2", "Web1", "dbx1", "db_1", "db%2"}},
			{"sortby memory", vwire.VMFilter{Search: vwire.Search{Where: mine, SortBy: "memory"}},
				[]string{"ȺB", "dbx1", "Web1", "web2", "db_1", "db%2"}},
			{"sortby status, ties by name", vwire.VMFilter{Search: vwire.Search{Where: mine, SortBy: "status"}},
				[]string{"dbx1", "web2", "ȺB", "db_1", "Web1", "db%2"}},
			{"sortby memory desc, page 2 of 2", vwire.VMFilter{Max: 2, Search: vwire.Search{Where: mine, SortBy: "memory", Desc: true, Page: 2}},
				[]string{"web2", "Web1"}},
			{"page 4 of 2: nothing", vwire.VMFilter{Max: 2, Search: vwire.Search{Where: mine, Page: 4}}, nil},
			{"max without page", vwire.VMFilter{Max: 3, Search: vwire.Search{Where: mine}}, []string{"Web1", "db%2", "db_1"}},
		} {
			got, err := vmNames(tc.f)
			check("VMs("+tc.what+")", got, err, tc.want...)
		}

		ids := func(n int, err error, id func(int) string) ([]string, error) {
			out := []string{}
			for i := 0; i < n; i++ {
				out = append(out, id(i))
			}
			return out, err
		}
		dcs := func(e *vwire.SearchExpr) ([]string, error) {
			l, err := tx.DataCenters(vwire.DataCenterFilter{Search: vwire.Search{Where: sAnd(sOr(sEq("id", a.dc.ID), sEq("id", b.dc.ID)), e)}})
			return ids(len(l), err, func(i int) string { return l[i].ID })
		}
		got, err := dcs(sEq("clusters.name", a.cluster.Name))
		check("DataCenters(Clusters.name=a)", got, err, a.dc.ID)
		got, err = dcs(sNe("clusters.name", a.cluster.Name))
		check("DataCenters(Clusters.name!=a)", got, err, b.dc.ID)
		got, err = dcs(sEq("networks.name", "PLAIN"))
		check("DataCenters(networks.name=PLAIN)", got, err, b.dc.ID)
		got, err = dcs(sEq("status", "up"))
		if len(got) != 2 || err != nil {
			t.Errorf("DataCenters(status=up) = %v, %v", got, err)
		}

		nets := func(e *vwire.SearchExpr) ([]string, error) {
			l, err := tx.Networks(vwire.NetworkFilter{Search: vwire.Search{Where: sAnd(sOr(sEq("datacenter", a.dc.Name), sEq("datacenter", b.dc.Name)), e)}})
			return ids(len(l), err, func(i int) string { return l[i].ID })
		}
		got, err = nets(sEq("datacenter.name", strings.ToUpper(b.dc.Name)))
		check("Networks(datacenter=b)", got, err, noVLAN.ID, b.net.ID)
		got, err = nets(sEq("vlanid", "100"))
		if err == nil && len(got) != 2 {
			t.Errorf("Networks(vlanid=100) = %v", got)
		}
		got, err = nets(sNe("vlanid", "100"))
		check("Networks(vlanid!=100 includes no VLAN)", got, err, noVLAN.ID)
		got, err = nets(sAnd(sEq("clusters.name", a.cluster.Name), sCmp("mtu", vwire.SearchGt, "1500")))
		check("Networks(clusters.name=a, mtu>1500)", got, err, a.net.ID)

		ps, err := tx.Profiles(vwire.ProfileFilter{Search: vwire.Search{Where: sAnd(sEq("network", "RED"), sOr(sEq("id", a.profile.ID), sEq("id", b.profile.ID)))}})
		got, err = ids(len(ps), err, func(i int) string { return ps[i].ID })
		if err != nil || len(got) != 2 {
			t.Errorf("Profiles(network=RED) = %v, %v", got, err)
		}

		hosts, err := tx.Hosts(vwire.HostFilter{Search: vwire.Search{Where: sAnd(sEq("datacenter", a.dc.Name), sEq("address", "192.0.2.*"), sEq("status", "up"))}})
		got, err = ids(len(hosts), err, func(i int) string { return hosts[i].ID })
		check("Hosts(datacenter=a, address=192.0.2.*, up)", got, err, a.host.ID)

		cls, err := tx.Clusters(vwire.ClusterFilter{Search: vwire.Search{Where: sEq("datacenter", b.dc.Name)}})
		got, err = ids(len(cls), err, func(i int) string { return cls[i].ID })
		check("Clusters(datacenter=b)", got, err, b.cluster.ID)

		ts, err := tx.Templates(vwire.TemplateFilter{Search: vwire.Search{Where: sEq("datacenter", a.dc.Name)}})
		got, err = ids(len(ts), err, func(i int) string { return ts[i].ID })
		check("Templates(datacenter=a)", got, err, tmpl.ID)
		ts, err = tx.Templates(vwire.TemplateFilter{Search: vwire.Search{Where: sAnd(sEq("name", "blank"), sEq("datacenter", ""))}})
		got, err = ids(len(ts), err, func(i int) string { return ts[i].ID })
		check("Templates(Blank, in no data center)", got, err, vwire.BlankTemplateID)

		// Events: newest first, the search in SQL, From and Before kept.
		evNames := func(f vwire.EventFilter) ([]string, error) {
			l, err := tx.FindEvents(f)
			out := []string{}
			for _, e := range l {
				out = append(out, e.Description)
			}
			return out, err
		}
		evq := func(e *vwire.SearchExpr) vwire.Search {
			return vwire.Search{Where: sAnd(sEq("correlation_id", "c"+u), e)}
		}
		got, err = evNames(vwire.EventFilter{Search: evq(sCmp("code", vwire.SearchGe, "2"))})
		check("FindEvents(code>=2)", got, err, "e3", "e2")
		got, err = evNames(vwire.EventFilter{Search: evq(sOr(sEq("severity", "ERROR"), sEq("vm.name", p+"web1")))})
		check("FindEvents(severity=ERROR or vm.name=web1)", got, err, "e3", "e1")
		got, err = evNames(vwire.EventFilter{Search: evq(sEq("description", "E*")), From: evIDs[0]})
		check("FindEvents(from the first)", got, err, "e3", "e2")
		got, err = evNames(vwire.EventFilter{Search: evq(sEq("description", "E*")), Before: evIDs[2]})
		check("FindEvents(before the third)", got, err, "e2", "e1")
		srch := evq(sNe("vm.id", db1.ID))
		srch.SortBy, srch.Page = "code", 2
		got, err = evNames(vwire.EventFilter{Search: srch, Max: 1})
		check("FindEvents(vm.id!=db1 sortby code page 2)", got, err, "e3")

		// Every declared field runs, with every operator it takes and as a sort key.
		for c, fields := range vwire.SearchFields {
			for _, f := range fields {
				ops := []vwire.SearchOp{vwire.SearchEq, vwire.SearchNe}
				value := "x*"
				switch f.Kind {
				case vwire.SearchText:
					ops = append(ops, vwire.SearchLt, vwire.SearchLe, vwire.SearchGt, vwire.SearchGe)
				case vwire.SearchInt:
					ops = append(ops, vwire.SearchLt, vwire.SearchLe, vwire.SearchGt, vwire.SearchGe)
					value = "1"
				}
				for _, op := range ops {
					v := value
					if op != vwire.SearchEq && op != vwire.SearchNe && f.Kind == vwire.SearchText {
						v = "x"
					}
					srch := vwire.Search{Where: sOr(sCmp(f.Name, op, v), sCmp(f.Name, op, v))}
					if f.Sort {
						srch.SortBy, srch.Desc = f.Name, op == vwire.SearchNe
					}
					if err := runSearch(tx, c, srch); err != nil {
						t.Errorf("%s: search %s %d %q: %v", c, f.Name, op, v, err)
					}
				}
			}
		}

		// Refusals: what Check refuses, the store refuses too.
		for _, tc := range []struct {
			what string
			f    vwire.VMFilter
		}{
			{"unknown field", vwire.VMFilter{Search: vwire.Search{Where: sEq("colour", "red")}}},
			{"unknown sort", vwire.VMFilter{Search: vwire.Search{SortBy: "colour"}}},
			{"page without max", vwire.VMFilter{Search: vwire.Search{Page: 2}}},
			{"not a number", vwire.VMFilter{Search: vwire.Search{Where: sEq("memory", "lots")}}},
			{"< on a status", vwire.VMFilter{Search: vwire.Search{Where: sCmp("status", vwire.SearchLt, "up")}}},
			{"a join of one", vwire.VMFilter{Search: vwire.Search{Where: sAnd(mine)}}},
			{"NUL in a value", vwire.VMFilter{Search: vwire.Search{Where: sEq("name", "a\x00b")}}},
			{"not UTF-8", vwire.VMFilter{Search: vwire.Search{Where: sEq("name", "a\xffb")}}},
		} {
			if _, err := tx.VMs(tc.f); code(err) != vwire.EINVALID {
				t.Errorf("VMs(%s): %v, want EINVALID", tc.what, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func runSearch(tx vwire.Tx, c vwire.SearchCollection, s vwire.Search) error {
	var err error
	switch c {
	case vwire.SearchDataCenters:
		_, err = tx.DataCenters(vwire.DataCenterFilter{Search: s})
	case vwire.SearchClusters:
		_, err = tx.Clusters(vwire.ClusterFilter{Search: s})
	case vwire.SearchNetworks:
		_, err = tx.Networks(vwire.NetworkFilter{Search: s})
	case vwire.SearchProfiles:
		_, err = tx.Profiles(vwire.ProfileFilter{Search: s})
	case vwire.SearchHosts:
		_, err = tx.Hosts(vwire.HostFilter{Search: s})
	case vwire.SearchVMs:
		_, err = tx.VMs(vwire.VMFilter{Search: s})
	case vwire.SearchTemplates:
		_, err = tx.Templates(vwire.TemplateFilter{Search: s})
	case vwire.SearchEvents:
		_, err = tx.FindEvents(vwire.EventFilter{Search: s})
	default:
		return vwire.InvalidValue(vwire.MsgInvalidValue, "no list for "+string(c))
	}
	return err
}
