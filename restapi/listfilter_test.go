package restapi_test

import (
	"net/url"
	"strings"
	"testing"
)

// TestListFilters pins what a list answers when part of its search and its
// max are applied by the database: the same VMs, in the same order, as the
// whole search applied after it, whatever the case of the status, and an
// unknown field refused even when the database returns nothing.
func TestListFilters(t *testing.T) {
	m := startEngine(t)
	a := newAPI(t, m, false)
	for _, n := range []string{"d3", "d1", "u1", "d2"} {
		a.expect(201, "POST", "/vms", `<vm><name>`+n+`</name><cluster><name>Default</name></cluster><template><name>Blank</name></template></vm>`)
	}
	a.expect(200, "POST", "/vms/"+a.idByName("vms", "u1")+"/start", `<action/>`)

	names := func(path string) string {
		t.Helper()
		var out []string
		for _, e := range parseXList(t, a.expect(200, "GET", path, "")) {
			out = append(out, e.Name)
		}
		return strings.Join(out, ",")
	}
	search := func(q string) string { return "/vms?search=" + url.QueryEscape(q) }
	for _, tc := range []struct{ path, want string }{
		{"/vms", "d1,d2,d3,u1"},
		{"/vms?max=2", "d1,d2"},
		{search("status=down"), "d1,d2,d3"},
		{search("status=DOWN") + "&max=2", "d1,d2"},
		{search("status=down and name=d*") + "&max=2", "d1,d2"},
		{search("status=down and name!=d1") + "&max=1", "d2"},
		{search("status=down and status=up"), ""},
		{search("status!=down"), "u1"},
		{search("status=do*"), "d1,d2,d3"},
		{search("status=up and cluster=default"), "u1"},
		{"/hosts?search=" + url.QueryEscape("status=UP") + "&max=1", "local"},
		{"/hosts?search=" + url.QueryEscape("status=maintenance"), ""},
	} {
		if got := names(tc.path); got != tc.want {
			t.Errorf("GET %s = %q, want %q", tc.path, got, tc.want)
		}
	}
	for _, path := range []string{search("status=maintenance and colour=red"), "/hosts?search=" + url.QueryEscape("status=maintenance and colour=red")} {
		if body := a.expect(400, "GET", path, ""); !strings.Contains(body, "Cannot search by") {
			t.Errorf("GET %s: %s", path, body)
		}
	}
}
