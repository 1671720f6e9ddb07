package restapi_test

import (
	"net/url"
	"strings"
	"testing"
)

// TestSearchOverHTTP: every collection that takes search answers oVirt's
// clients' queries (go-ovirt-client's VM searches, Ansible's data center
// by cluster), with cross-object terms, comparisons, wildcards, quoted
// values, sortby desc and page with max; malformed queries are oVirt's 400
// fault; and a user's page is a page of what the user may see.
func TestSearchOverHTTP(t *testing.T) {
	m := startEngine(t)
	a := newAPI(t, m, false)
	dc2 := parseX(t, a.expect(201, "POST", "/datacenters", `<data_center><name>dc2</name><local>false</local><version><major>4</major><minor>7</minor></version></data_center>`)).ID
	a.expect(201, "POST", "/clusters", `<cluster><name>c2</name><data_center id="`+dc2+`"/><version><major>4</major><minor>2</minor></version></cluster>`)
	a.expect(201, "POST", "/networks", `<network><name>net1</name><data_center><name>Default</name></data_center></network>`)
	a.expect(201, "POST", "/networks", `<network><name>net2</name><data_center id="`+dc2+`"/><vlan id="100"/><mtu>9000</mtu></network>`)
	for _, v := range []struct{ name, cluster string }{{"web1", "Default"}, {"web2", "Default"}, {"db1", "Default"}, {"db2", "c2"}} {
		a.expect(201, "POST", "/vms", `<vm><name>`+v.name+`</name><cluster><name>`+v.cluster+`</name></cluster><template><name>Blank</name></template></vm>`)
	}
	a.expect(201, "POST", "/templates", `<template><name>t-web</name><vm id="`+a.idByName("vms", "web1")+`"/></template>`)
	a.expect(200, "POST", "/vms/"+a.idByName("vms", "web1")+"/start", `<action/>`)

	names := func(c *api, path string) string {
		t.Helper()
		var out []string
		for _, e := range parseXList(t, c.expect(200, "GET", path, "")) {
			out = append(out, e.Name)
		}
		return strings.Join(out, ",")
	}
	search := func(coll, q string) string { return "/" + coll + "?search=" + url.QueryEscape(q) }
	for _, tc := range []struct{ path, want string }{
		// go-ovirt-client v3.2.0's SearchVMs, exactly as it writes them.
		{search("vms", `name = "web1" AND (status = down OR status = up)`), "web1"},
		{search("vms", `name = "web2" AND (status = down)`), "web2"},
		{search("vms", `name = "web1" AND (status = down)`), ""},
		{search("vms", `(status != up AND status != down)`), ""},
		{search("vms", `name=web1`), "web1"},
		{search("vms", `NAME="WEB1"`), "web1"},
		{search("vms", `name=web* or name=db2`), "db2,web1,web2"},
		{search("vms", `cluster=c2`), "db2"},
		{search("vms", `Cluster.name=default and status=down`), "db1,web2"},
		{search("vms", `host=local`), "web1"},
		{search("vms", `host != local and datacenter = Default`), "db1,web2"},
		{search("vms", `template=blank and name>=d and name<e`), "db1,db2"},
		{search("vms", `name=* sortby name desc`), "web2,web1,db2,db1"},
		{search("vms", `sortby name desc page 2`) + "&max=3", "db1"},
		{search("vms", `sortby name asc page 2`) + "&max=2", "web1,web2"},
		{search("vms", `status=down sortby name desc`) + "&max=2", "web2,db2"},
		{search("vms", `page 1`), "db1,db2,web1,web2"},
		{search("vms", `name=WEB*`) + "&case_sensitive=true", ""},
		{search("vms", `name=web*`) + "&case_sensitive=true", "web1,web2"},
		{search("vms", `name=WEB*`) + "&case_sensitive=false", "web1,web2"},
		// The Ansible collection's ovirt_nic with network: (data centers by cluster).
		{search("datacenters", `Clusters.name=Default`), "Default"},
		{search("datacenters", `clusters.name=c*`), "dc2"},
		{search("datacenters", `networks.name=net2 or name=Default sortby name desc`), "Default,dc2"},
		{search("datacenters", `sortby name desc page 2`) + "&max=1", "dc2"},
		{search("clusters", `datacenter=dc2`), "c2"},
		{search("clusters", `sortby name desc`), "Default,c2"},
		{search("networks", `datacenter=dc2`), "net2,ovirtmgmt"},
		{search("networks", `name="net*" and datacenter="Default"`), "net1"},
		{search("networks", `vlanid > 5`), "net2"},
		{search("networks", `name=ovirtmgmt sortby datacenter desc`), "ovirtmgmt,ovirtmgmt"},
		{search("networks", `mtu>=9000 or name=net1 sortby name desc page 1`) + "&max=1", "net2"},
		{search("vnicprofiles", `network=net2`), "net2"},
		{search("vnicprofiles", `name=net* sortby name desc`), "net2,net1"},
		{search("templates", `datacenter=Default`), "t-web"},
		{search("templates", `name=blank or name=t-*`), "Blank,t-web"},
		{search("templates", `sortby name desc page 1`) + "&max=1", "t-web"},
		{search("hosts", `cluster=Default and status=up and address=*`), "local"},
		{search("hosts", `datacenter=dc2`), ""},
		{search("hosts", `sortby name desc page 2`) + "&max=1", ""},
	} {
		if got := names(a, tc.path); got != tc.want {
			t.Errorf("GET %s = %q, want %q", tc.path, got, tc.want)
		}
	}

	// Events: newest first, or as sorted; code and type are numbers.
	evs := func(c *api, q string) []string {
		t.Helper()
		var ids []string
		for _, e := range parseXList(t, c.expect(200, "GET", q, "")) {
			ids = append(ids, e.ID)
		}
		return ids
	}
	all := evs(a, "/events")
	if len(all) < 4 {
		t.Fatalf("only %d events", len(all))
	}
	if got := evs(a, search("events", `severity=normal and (code>0 or description=*)`)+"&max=2"); strings.Join(got, ",") != strings.Join(all[:2], ",") {
		t.Errorf("events, max 2: %v, want %v", got, all[:2])
	}
	if got := evs(a, search("events", `sortby id asc page 2`)+"&max=2"); len(got) != 2 || got[0] != all[len(all)-3] || got[1] != all[len(all)-4] {
		t.Errorf("events sortby id asc page 2: %v, of %v", got, all)
	}
	if got := evs(a, search("events", `vm.name=web1 and type!=0`)); len(got) == 0 || len(got) >= len(all) {
		t.Errorf("events of web1: %v, of %v", got, all)
	}

	for _, tc := range []struct{ path, detail string }{
		{search("vms", `name=(`), "a value is expected"},
		{search("vms", `name="web1`), "is not closed"},
		{search("vms", `(name=web1 or name=web2`), "a ')' is missing"},
		{search("vms", `tag="x"`), `Cannot search by "tag"`},
		{search("vms", `name=a sortby colour`), `Cannot sort by "colour"`},
		{search("vms", `memory=lots`), "memory is a whole number"},
		{search("vms", `status<up`), "only = and != apply"},
		{search("datacenters", `hosts.name=local`), `Cannot search by "hosts.name"`},
		{search("networks", `name=a and and name=b`), "a term (field=value) is expected"},
		{search("vms", `page 0`), "page takes a number"},
		{search("vnicprofiles", `colour=red`), "Cannot search by"},
		{search("events", `colour=red`), "Cannot search by"},
		{search("events", `code=9*`), "code is a whole number"},
		{search("vms", `name=a`) + "&case_sensitive=maybe", "case_sensitive isn't a valid boolean"},
	} {
		body := a.expect(400, "GET", tc.path, "")
		if !strings.Contains(body, "<fault>") || !strings.Contains(strings.NewReplacer("&#34;", `"`, "&quot;", `"`).Replace(body), tc.detail) {
			t.Errorf("GET %s: want a fault with %q:\n%s", tc.path, tc.detail, body)
		}
	}

	// A user who may see three VMs pages through those three.
	uid := parseX(t, a.expect(201, "POST", "/users", `<user><user_name>pat@internal-authz</user_name><domain><name>internal-authz</name></domain><password>pw-pat</password></user>`)).ID
	for _, vm := range []string{"web1", "db1", "db2"} {
		a.expect(201, "POST", "/vms/"+a.idByName("vms", vm)+"/permissions", `<permission><role><name>UserVmManager</name></role><user id="`+uid+`"/></permission>`)
	}
	pat := asUser(a, "pat@internal", "pw-pat")
	for _, tc := range []struct{ path, want string }{
		{"/vms", "db1,db2,web1"},
		{search("vms", `sortby name desc page 1`) + "&max=2", "web1,db2"},
		{search("vms", `sortby name desc page 2`) + "&max=2", "db1"},
		{search("vms", `name=web*`), "web1"},
		{"/vms?max=1", "db1"},
	} {
		if got := names(pat, tc.path); got != tc.want {
			t.Errorf("user: GET %s = %q, want %q", tc.path, got, tc.want)
		}
	}
	// And pages through the events it may see, oldest first when sorted.
	mine := evs(pat, "/events")
	if len(mine) < 3 || len(mine) >= len(evs(a, "/events")) {
		t.Fatalf("user sees %d events of %d", len(mine), len(evs(a, "/events")))
	}
	if got := evs(pat, search("events", `sortby id asc page 2`)+"&max=2"); len(got) != 2 || got[0] != mine[len(mine)-3] || got[1] != mine[len(mine)-4] {
		t.Errorf("user: events sortby id asc page 2: %v, of %v", got, mine)
	}
	if got := evs(pat, search("events", `page 2`)+"&max=1"); len(got) != 1 || got[0] != mine[1] {
		t.Errorf("user: events page 2 of 1: %v, of %v", got, mine)
	}
}
