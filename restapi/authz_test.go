package restapi_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/app"
	"vwire.dev/vwire/restapi"
)

// asUser is an API client logging in as another user.
func asUser(a *api, login, password string) *api {
	return &api{t: a.t, base: a.base, json: a.json, hc: a.hc, auth: func(r *http.Request) { r.SetBasicAuth(login, password) }}
}

func (a *api) withHeader(k, v string) *api {
	auth := a.auth
	return &api{t: a.t, base: a.base, json: a.json, hc: a.hc, auth: func(r *http.Request) { auth(r); r.Header.Set(k, v) }}
}

// world is what the authorization tests act on.
type world struct {
	m                             *app.EngineMain
	admin                         *api
	dc, cluster, host, mgmt       string
	redNet, blueNet, red, blue    string
	vm1, vm2, nic1, nic2, macPool string
	adminID, adminPerm            string
	qos                           string
}

// newWorld serves HTTPS with the engine's own CA, as a new engine does, and
// its clients verify the engine with that CA: the authorization tests run
// on the API as deployed.
func newWorld(t *testing.T) *world {
	m := startEngineTLS(t)
	a := newAPI(t, m, false)
	a.hc = tlsClient(t, m)
	w := &world{m: m, admin: a}
	w.dc = a.idByName("datacenters", "Default")
	w.cluster = a.idByName("clusters", "Default")
	w.host = parseXList(t, a.expect(200, "GET", "/hosts", ""))[0].ID
	w.mgmt = a.idByName("vnicprofiles", "ovirtmgmt")
	for _, n := range []string{"red", "blue"} {
		net := parseX(t, a.expect(201, "POST", "/networks", `<network><name>`+n+`</name><data_center id="`+w.dc+`"/></network>`))
		a.expect(201, "POST", "/clusters/"+w.cluster+"/networks", `<network id="`+net.ID+`"/>`)
		if n == "red" {
			w.redNet = net.ID
		} else {
			w.blueNet = net.ID
		}
	}
	w.red, w.blue = a.idByName("vnicprofiles", "red"), a.idByName("vnicprofiles", "blue")
	w.qos = parseX(t, a.expect(201, "POST", "/datacenters/"+w.dc+"/qoss", `<qos><name>gold</name><type>network</type></qos>`)).ID
	vm := func(name string) (string, string) {
		id := parseX(t, a.expect(201, "POST", "/vms", `<vm><name>`+name+`</name><cluster id="`+w.cluster+`"/><template><name>Blank</name></template></vm>`)).ID
		nic := parseX(t, a.expect(201, "POST", "/vms/"+id+"/nics", `<nic><name>nic1</name><vnic_profile id="`+w.mgmt+`"/></nic>`)).ID
		return id, nic
	}
	w.vm1, w.nic1 = vm("vm1")
	w.vm2, w.nic2 = vm("vm2")
	w.macPool = parseXList(t, a.expect(200, "GET", "/macpools", ""))[0].ID
	w.adminID = a.idByName("users", "admin")
	w.adminPerm = parseXList(t, a.expect(200, "GET", "/users/"+w.adminID+"/permissions", ""))[0].ID
	return w
}

// addUser creates a user through the API and returns its id and client.
func (w *world) addUser(t *testing.T, name string) (string, *api) {
	u := parseX(t, w.admin.expect(201, "POST", "/users", `<user><user_name>`+name+`@internal-authz</user_name><domain><name>internal-authz</name></domain><password>pw-`+name+`</password></user>`))
	return u.ID, asUser(w.admin, name+"@internal", "pw-"+name)
}

// TestAuthzDoneWhen is issue 13's "done when" over REST: a user with
// UserVmManager on vm1 and VnicProfileUser on red moves vm1's vNIC to red
// but not to blue (403 naming the profile), cannot see or change vm2, sees
// only vm1 with Filter: true, and its change's event names it.
func TestAuthzDoneWhen(t *testing.T) {
	w := newWorld(t)
	a := w.admin
	bobID, bob := w.addUser(t, "bob")
	a.expect(201, "POST", "/vms/"+w.vm1+"/permissions", `<permission><role><name>UserVmManager</name></role><user id="`+bobID+`"/></permission>`)
	a.expect(201, "POST", "/vnicprofiles/"+w.red+"/permissions", `<permission><role><name>VnicProfileUser</name></role><user id="`+bobID+`"/></permission>`)

	// oVirt's JSON shape: {"permission":[{"role":{…},"user":{…},"vm":{…},"href":…,"id":…}]}.
	js := &api{t: t, base: a.base, json: true, hc: a.hc, auth: a.auth}
	var perms struct {
		Permission []struct {
			ID, Href string
			Role     struct{ ID string }
			User     struct{ ID string }
			VM       struct{ ID string } `json:"vm"`
		}
	}
	if err := json.Unmarshal([]byte(js.expect(200, "GET", "/vms/"+w.vm1+"/permissions", "")), &perms); err != nil ||
		len(perms.Permission) != 1 || perms.Permission[0].Role.ID != vwire.RoleUserVmManager || perms.Permission[0].User.ID != bobID ||
		perms.Permission[0].VM.ID != w.vm1 || !strings.HasSuffix(perms.Permission[0].Href, "/vms/"+w.vm1+"/permissions/"+perms.Permission[0].ID) {
		t.Errorf("vm1's permissions in JSON: %+v %v", perms, err)
	}
	var role struct {
		Name, Administrative, Mutable string
	}
	if err := json.Unmarshal([]byte(js.expect(200, "GET", "/roles/"+vwire.RoleVnicProfileUser, "")), &role); err != nil ||
		role.Name != "VnicProfileUser" || role.Administrative != "false" || role.Mutable != "false" {
		t.Errorf("VnicProfileUser in JSON: %+v %v", role, err)
	}
	if body := a.expect(200, "GET", "/roles/"+vwire.RoleVnicProfileUser+"/permits", ""); !strings.Contains(body, `<permit href="/ovirt-engine/api/roles/`+vwire.RoleVnicProfileUser+`/permits/9" id="9">`) ||
		!strings.Contains(body, "<name>configure_vm_network</name>") {
		t.Errorf("VnicProfileUser's permits:\n%s", body)
	}

	nicPath := "/vms/" + w.vm1 + "/nics/" + w.nic1
	f := parseX(t, bob.expect(403, "PUT", nicPath, `<nic><vnic_profile id="`+w.blue+`"/></nic>`))
	if !strings.Contains(f.Detail, "User is not authorized to perform this action") || !strings.Contains(f.Detail, "blue") {
		t.Errorf("refusal detail: %q", f.Detail)
	}
	if n := parseX(t, a.expect(200, "GET", nicPath, "")); n.Profile.ID != w.mgmt {
		t.Errorf("refused change moved the vNIC to %s", n.Profile.ID)
	}
	if n := parseX(t, bob.expect(200, "PUT", nicPath, `<nic><vnic_profile id="`+w.red+`"/></nic>`)); n.Profile.ID != w.red {
		t.Errorf("after the move: %+v", n)
	}
	// vm2: neither seen nor changed.
	bob.expect(404, "GET", "/vms/"+w.vm2, "")
	if r := bob.do("PUT", "/vms/"+w.vm2+"/nics/"+w.nic2, `<nic><vnic_profile id="`+w.red+`"/></nic>`); r.status != 403 && r.status != 404 {
		t.Errorf("bob changes vm2's vNIC: %d", r.status)
	}
	if n := parseX(t, a.expect(200, "GET", "/vms/"+w.vm2+"/nics/"+w.nic2, "")); n.Profile.ID != w.mgmt {
		t.Errorf("vm2's vNIC moved to %s", n.Profile.ID)
	}
	for _, c := range []*api{bob, bob.withHeader("Filter", "true")} {
		vms := parseXList(t, c.expect(200, "GET", "/vms", ""))
		if len(vms) != 1 || vms[0].ID != w.vm1 {
			t.Errorf("bob's VMs: %+v", vms)
		}
	}
	if vms := parseXList(t, a.withHeader("Filter", "true").expect(200, "GET", "/vms", "")); len(vms) != 2 {
		t.Errorf("admin with Filter sees %d VMs (SuperUser on the system covers all)", len(vms))
	}
	// The change's event names bob.
	if body := a.expect(200, "GET", "/events?max=20", ""); !strings.Contains(body, "was updated for VM vm1.") ||
		!strings.Contains(body, "<user_name>bob@internal-authz</user_name>") {
		t.Errorf("no event of bob's change:\n%s", body)
	}
	// A password change ends bob's sessions (Basic re-authenticates).
	a.expect(200, "PUT", "/users/"+bobID, `<user><password>other</password></user>`)
	asUser(a, "bob@internal", "other").expect(200, "GET", "/vms/"+w.vm1, "")
	a.expect(200, "DELETE", "/users/"+bobID, "")
}

// expectation of a route for a user without any permission.
type expectation int

const (
	allowed   expectation = iota // the call works (login-level reads)
	refused                      // 403, or 404 where the object is not visible to the caller
	filtered                     // 200, and nothing the user may not see
	unseenRef                    // 400: the body references an object the user cannot see, which reads as missing
)

// noRights is every API route's answer to a user without permissions:
// login-level reads are allowed (the root, roles, the domain, Blank),
// lists are filtered, anything on an object it cannot see is refused.
// A route missing here fails TestEveryRouteForUserWithoutRights.
var noRights = map[string]expectation{
	"GET /{$}":                                               allowed,
	"HEAD /{$}":                                              allowed,
	"GET /datacenters":                                       filtered,
	"POST /datacenters":                                      refused,
	"GET /datacenters/{id}":                                  refused,
	"PUT /datacenters/{id}":                                  refused,
	"DELETE /datacenters/{id}":                               refused,
	"GET /datacenters/{id}/clusters":                         refused,
	"GET /datacenters/{id}/networks":                         refused,
	"GET /datacenters/{id}/qoss":                             refused,
	"POST /datacenters/{id}/qoss":                            refused,
	"GET /datacenters/{id}/qoss/{qid}":                       refused,
	"PUT /datacenters/{id}/qoss/{qid}":                       refused,
	"DELETE /datacenters/{id}/qoss/{qid}":                    refused,
	"GET /clusters":                                          filtered,
	"POST /clusters":                                         unseenRef,
	"GET /clusters/{id}":                                     refused,
	"PUT /clusters/{id}":                                     refused,
	"DELETE /clusters/{id}":                                  refused,
	"GET /clusters/{id}/networks":                            refused,
	"POST /clusters/{id}/networks":                           refused,
	"GET /clusters/{id}/networks/{nid}":                      refused,
	"DELETE /clusters/{id}/networks/{nid}":                   refused,
	"GET /networks":                                          filtered,
	"POST /networks":                                         unseenRef,
	"GET /networks/{id}":                                     refused,
	"PUT /networks/{id}":                                     refused,
	"DELETE /networks/{id}":                                  refused,
	"GET /networks/{id}/vnicprofiles":                        refused,
	"POST /networks/{id}/vnicprofiles":                       refused,
	"GET /vnicprofiles":                                      filtered,
	"POST /vnicprofiles":                                     refused,
	"GET /vnicprofiles/{id}":                                 refused,
	"PUT /vnicprofiles/{id}":                                 refused,
	"DELETE /vnicprofiles/{id}":                              refused,
	"POST /vnicprofiles/{id}/rewire":                         refused,
	"GET /macpools":                                          filtered,
	"POST /macpools":                                         refused,
	"GET /macpools/{id}":                                     refused,
	"PUT /macpools/{id}":                                     refused,
	"DELETE /macpools/{id}":                                  refused,
	"GET /hosts":                                             filtered,
	"POST /hosts":                                            unseenRef,
	"GET /hosts/{id}":                                        refused,
	"PUT /hosts/{id}":                                        refused,
	"DELETE /hosts/{id}":                                     refused,
	"POST /hosts/{id}/refresh":                               refused,
	"POST /hosts/{id}/enrolmenttoken":                        refused,
	"POST /hosts/{id}/enrollcertificate":                     refused,
	"GET /templates":                                         filtered,
	"POST /templates":                                        refused,
	"GET /templates/{id}":                                    allowed,
	"PUT /templates/{id}":                                    refused,
	"DELETE /templates/{id}":                                 refused,
	"GET /templates/{id}/nics":                               allowed,
	"POST /templates/{id}/nics":                              refused,
	"GET /templates/{id}/nics/{nid}":                         refused,
	"PUT /templates/{id}/nics/{nid}":                         refused,
	"DELETE /templates/{id}/nics/{nid}":                      refused,
	"GET /vms":                                               filtered,
	"POST /vms":                                              unseenRef,
	"GET /vms/{id}":                                          refused,
	"PUT /vms/{id}":                                          refused,
	"DELETE /vms/{id}":                                       refused,
	"POST /vms/{id}/start":                                   refused,
	"POST /vms/{id}/stop":                                    refused,
	"POST /vms/{id}/shutdown":                                refused,
	"GET /vms/{id}/nics":                                     refused,
	"POST /vms/{id}/nics":                                    refused,
	"GET /vms/{id}/nics/{nid}":                               refused,
	"GET /vms/{id}/nics/{nid}/statistics":                    refused,
	"GET /vms/{id}/nics/{nid}/networkfilterparameters":       refused,
	"POST /vms/{id}/nics/{nid}/networkfilterparameters":      refused,
	"GET /vms/{id}/nics/{nid}/networkfilterparameters/{pid}": refused,
	"PUT /vms/{id}/nics/{nid}/networkfilterparameters/{pid}": refused,
	"DELETE /vms/{id}/nics/{nid}/networkfilterparameters/{pid}": refused,
	"GET /networkfilters":                            allowed,
	"GET /networkfilters/{fid}":                      allowed,
	"GET /clusters/{id}/networkfilters":              refused,
	"GET /clusters/{id}/networkfilters/{fid}":        refused,
	"GET /vms/{id}/nics/{nid}/statistics/{sid}":      refused,
	"GET /vms/{id}/nics/{nid}/reporteddevices":       refused,
	"GET /vms/{id}/nics/{nid}/reporteddevices/{sid}": refused,
	"GET /vms/{id}/reporteddevices":                  refused,
	"GET /vms/{id}/reporteddevices/{sid}":            refused,
	"GET /vms/{id}/numanodes":                        refused,
	"GET /vms/{id}/numanodes/{sid}":                  refused,
	"PUT /vms/{id}/nics/{nid}":                       refused,
	"DELETE /vms/{id}/nics/{nid}":                    refused,
	"POST /vms/{id}/nics/{nid}/activate":             refused,
	"POST /vms/{id}/nics/{nid}/deactivate":           refused,
	"GET /jobs":                                      filtered,
	"GET /jobs/{id}":                                 refused,
	"GET /jobs/{id}/steps":                           refused,
	"GET /jobs/{id}/steps/{sid}":                     refused,
	"POST /jobs/{id}/cancel":                         refused,
	"POST /jobs/{id}/retry":                          refused,
	"GET /events":                                    filtered,
	"GET /events/{id}":                               refused,
	"GET /users":                                     filtered,
	"POST /users":                                    refused,
	"GET /users/{id}":                                refused,
	"PUT /users/{id}":                                refused,
	"DELETE /users/{id}":                             refused,
	"GET /users/{id}/permissions":                    refused,
	"POST /users/{id}/permissions":                   refused,
	"GET /users/{id}/permissions/{pid}":              refused,
	"DELETE /users/{id}/permissions/{pid}":           refused,
	"GET /domains":                                   allowed,
	"GET /domains/{id}":                              allowed,
	"GET /domains/{id}/users":                        filtered,
	"GET /domains/{id}/users/{uid}":                  refused,
	"GET /roles":                                     allowed,
	"POST /roles":                                    refused,
	"GET /roles/{id}":                                allowed,
	"PUT /roles/{id}":                                refused,
	"DELETE /roles/{id}":                             refused,
	"GET /roles/{id}/permits":                        allowed,
	"POST /roles/{id}/permits":                       refused,
	"GET /roles/{id}/permits/{pid}":                  allowed,
	"DELETE /roles/{id}/permits/{pid}":               refused,
	"GET /permissions":                               filtered,
	"POST /permissions":                              refused,
	"GET /permissions/{pid}":                         refused,
	"DELETE /permissions/{pid}":                      refused,
	"GET /datacenters/{id}/permissions":              refused,
	"POST /datacenters/{id}/permissions":             refused,
	"GET /datacenters/{id}/permissions/{pid}":        refused,
	"DELETE /datacenters/{id}/permissions/{pid}":     refused,
	"GET /clusters/{id}/permissions":                 refused,
	"POST /clusters/{id}/permissions":                refused,
	"GET /clusters/{id}/permissions/{pid}":           refused,
	"DELETE /clusters/{id}/permissions/{pid}":        refused,
	"GET /hosts/{id}/permissions":                    refused,
	"POST /hosts/{id}/permissions":                   refused,
	"GET /hosts/{id}/permissions/{pid}":              refused,
	"DELETE /hosts/{id}/permissions/{pid}":           refused,
	"GET /networks/{id}/permissions":                 refused,
	"POST /networks/{id}/permissions":                refused,
	"GET /networks/{id}/permissions/{pid}":           refused,
	"DELETE /networks/{id}/permissions/{pid}":        refused,
	"GET /vnicprofiles/{id}/permissions":             refused,
	"POST /vnicprofiles/{id}/permissions":            refused,
	"GET /vnicprofiles/{id}/permissions/{pid}":       refused,
	"DELETE /vnicprofiles/{id}/permissions/{pid}":    refused,
	"GET /templates/{id}/permissions":                allowed,
	"POST /templates/{id}/permissions":               refused,
	"GET /templates/{id}/permissions/{pid}":          refused,
	"DELETE /templates/{id}/permissions/{pid}":       refused,
	"GET /vms/{id}/permissions":                      refused,
	"POST /vms/{id}/permissions":                     refused,
	"GET /vms/{id}/permissions/{pid}":                refused,
	"DELETE /vms/{id}/permissions/{pid}":             refused,
}

// TestEveryRouteForUserWithoutRights walks every route the server has: a
// user without permissions is allowed, refused (403/404) or shown a
// filtered list, and nothing changes in the database.
func TestEveryRouteForUserWithoutRights(t *testing.T) {
	w := newWorld(t)
	_, nobody := w.addUser(t, "nobody")
	hidden := []string{w.dc, w.cluster, w.host, w.mgmt, w.redNet, w.blueNet, w.red, w.blue, w.vm1, w.vm2, w.nic1, w.macPool, w.adminID, w.adminPerm}
	// A job of the administrator's (a start and stop of vm2), which the user
	// must not see.
	w.admin.expect(200, "POST", "/vms/"+w.vm2+"/start", `<action/>`)
	w.admin.expect(200, "POST", "/vms/"+w.vm2+"/stop", `<action/>`)
	adminJob := parseXList(t, w.admin.expect(200, "GET", "/jobs", ""))[0].ID
	ids := map[string]string{
		"datacenters": w.dc, "clusters": w.cluster, "hosts": w.host, "networks": w.redNet, "vnicprofiles": w.red,
		"templates": "00000000-0000-0000-0000-000000000000", "vms": w.vm1, "macpools": w.macPool, "users": w.adminID,
		"roles": "00000000-0000-0000-0000-000000000001", "domains": "696e7465726e616c2d617574687a", "events": "1",
		"jobs": adminJob,
	}
	bodies := map[string]string{
		"datacenters": `<data_center><name>dcx</name></data_center>`, "clusters": `<cluster><name>clx</name><data_center id="` + w.dc + `"/></cluster>`,
		"networks": `<network><name>netx</name><data_center id="` + w.dc + `"/></network>`, "vnicprofiles": `<vnic_profile><name>px</name><network id="` + w.redNet + `"/></vnic_profile>`,
		"macpools":  `<mac_pool><name>mx</name><ranges><range><from>02:00:00:00:10:00</from><to>02:00:00:00:10:ff</to></range></ranges></mac_pool>`,
		"hosts":     `<host><name>hx</name><address>127.0.0.1</address><cluster id="` + w.cluster + `"/></host>`,
		"templates": `<template><name>tx</name><vm id="` + w.vm1 + `"/></template>`, "vms": `<vm><name>vmx</name><cluster id="` + w.cluster + `"/><template><name>Blank</name></template></vm>`,
		"nics": `<nic><name>nicx</name><vnic_profile id="` + w.red + `"/></nic>`, "permissions": `<permission><role><name>SuperUser</name></role><user id="` + w.adminID + `"/><vm id="` + w.vm1 + `"/></permission>`,
		"users": `<user><user_name>x</user_name><password>x</password></user>`, "roles": `<role><name>rx</name><permits><permit id="1"/></permits></role>`,
		"permits": `<permit id="2"/>`, "networks-sub": `<network id="` + w.blueNet + `"/>`,
		"qoss":                    `<qos><name>qx</name><type>network</type></qos>`,
		"rewire":                  `<action><vnic_profile id="` + w.blue + `"/></action>`,
		"networkfilterparameters": `<network_filter_parameter><name>IP</name><value>198.51.100.1</value></network_filter_parameter>`,
	}
	snapshot := func() string {
		var b strings.Builder
		for _, c := range []string{"datacenters", "clusters", "hosts", "networks", "vnicprofiles", "templates", "vms", "macpools", "users", "roles", "permissions",
			"vms/" + w.vm1 + "/nics", "vms/" + w.vm1 + "/permissions", "datacenters/" + w.dc + "/qoss", "clusters/" + w.cluster + "/networks", "roles/00000000-0000-0000-0000-000000000001/permits"} {
			b.WriteString(w.admin.expect(200, "GET", "/"+c, ""))
		}
		return b.String()
	}
	before := snapshot()
	statuses := map[int]int{}
	routes := restapi.New(w.m.Engine, nil).Routes()
	if len(routes) < 100 {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, route := range routes {
		method, pattern, _ := strings.Cut(route, " ")
		segs := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
		last := segs[0]
		for i, s := range segs {
			switch s {
			case "{id}":
				segs[i] = ids[segs[0]]
			case "{nid}":
				segs[i] = map[string]string{"clusters": w.redNet, "vms": w.nic1}[segs[0]] + "x"[:boolInt(segs[0] == "templates")]
			case "{pid}":
				segs[i] = map[bool]string{true: "1300", false: w.adminPerm}[segs[i-1] == "permits"]
			case "{uid}":
				segs[i] = w.adminID
			case "{fid}":
				segs[i] = vwire.NWFilters[0].ID()
			case "{qid}":
				segs[i] = w.qos
			case "{$}":
				segs[i] = ""
			default:
				last = s
			}
		}
		path := "/" + strings.Join(segs, "/")
		body := ""
		if method == "POST" || method == "PUT" {
			body = bodies[last]
			if last == "networks" && segs[0] == "clusters" {
				body = bodies["networks-sub"]
			}
			if body == "" {
				body = "<action/>"
			}
		}
		r := nobody.do(method, path, body)
		statuses[r.status]++
		want, ok := noRights[route]
		if !ok {
			t.Errorf("route %s has no case in noRights: say what a user without rights gets", route)
			continue
		}
		switch want {
		case allowed:
			if r.status != 200 {
				t.Errorf("%s (%s): %d, want allowed\n%s", route, path, r.status, r.body)
			}
		case refused:
			if r.status != 403 && r.status != 404 {
				t.Errorf("%s (%s): %d, want 403 or 404\n%s", route, path, r.status, r.body)
			}
		case unseenRef:
			if r.status != 400 || !strings.Contains(r.body, "Entity not found") {
				t.Errorf("%s (%s): %d, want 400 naming a missing reference\n%s", route, path, r.status, r.body)
			}
		case filtered:
			if r.status != 200 {
				t.Errorf("%s (%s): %d, want a filtered 200\n%s", route, path, r.status, r.body)
			}
			for _, id := range hidden {
				if strings.Contains(r.body, id) {
					t.Errorf("%s shows %s to a user without rights", route, id)
				}
			}
		}
	}
	t.Logf("%d routes; answers by status: %v", len(routes), statuses)
	if after := snapshot(); after != before {
		t.Errorf("refused calls changed the database:\nbefore %s\nafter  %s", before, after)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestEventStreamFiltered: the event stream, read once for every
// subscriber, shows a user only the events of what it may see.
func TestEventStreamFiltered(t *testing.T) {
	w := newWorld(t)
	bobID, _ := w.addUser(t, "bob")
	w.admin.expect(201, "POST", "/vms/"+w.vm1+"/permissions", `<permission><role><name>UserVmManager</name></role><user id="`+bobID+`"/></permission>`)
	req, _ := http.NewRequest("GET", w.m.URL()+"/events", nil)
	req.SetBasicAuth("bob@internal", "pw-bob")
	req.Header.Set("Accept", "text/event-stream")
	res, err := w.admin.hc.Do(req) // the event stream over the same HTTPS
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	w.admin.expect(200, "PUT", "/vms/"+w.vm2, `<vm><description>two</description></vm>`)
	w.admin.expect(200, "PUT", "/vms/"+w.vm1, `<vm><description>one</description></vm>`)
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("stream ended")
			}
			if strings.Contains(l, w.vm2) || strings.Contains(l, "VM vm2") {
				t.Fatalf("bob's stream shows vm2: %s", l)
			}
			if strings.Contains(l, "VM vm1 configuration was updated") {
				return
			}
		case <-timeout:
			t.Fatal("no event of vm1 on bob's stream")
		}
	}
}

// TestRolesAndPermits: a custom role from permits, its permits changed,
// removed once unused; predefined roles cannot change.
func TestRolesAndPermits(t *testing.T) {
	w := newWorld(t)
	a := w.admin
	r := parseX(t, a.expect(201, "POST", "/roles", `<role><name>NicEditor</name><administrative>false</administrative><permits><permit id="9"/><permit><name>login</name></permit></permits></role>`))
	base := "/roles/" + r.ID + "/permits"
	if ps := parseXList(t, a.expect(200, "GET", base, "")); len(ps) != 2 || ps[0].ID != "9" || ps[1].ID != "1300" {
		t.Errorf("permits: %+v", ps)
	}
	if u := parseX(t, a.expect(200, "PUT", "/roles/"+r.ID, `<role><name>NicEditor2</name></role>`)); u.Name != "NicEditor2" {
		t.Errorf("renamed role: %+v", u)
	}
	a.expect(409, "PUT", "/roles/00000000-0000-0000-0000-000000000001", `<role><name>x</name></role>`)
	a.expect(201, "POST", base, `<permit id="22"/>`)
	a.expect(200, "GET", base+"/22", "")
	a.expect(200, "DELETE", base+"/22", "")
	a.expect(404, "DELETE", base+"/22", "")
	a.expect(400, "POST", base, `<permit id="424242"/>`)
	a.expect(409, "POST", "/roles/00000000-0000-0000-0000-000000000001/permits", `<permit id="22"/>`)
	a.expect(409, "DELETE", "/roles/00000000-0000-0000-0000-000000000001", "")
	bobID, _ := w.addUser(t, "bob")
	a.expect(201, "POST", "/users/"+bobID+"/permissions", `<permission><role id="`+r.ID+`"/><vm id="`+w.vm1+`"/></permission>`)
	a.expect(409, "DELETE", "/roles/"+r.ID, "")
	a.expect(200, "DELETE", "/users/"+bobID, "")
	a.expect(200, "DELETE", "/roles/"+r.ID, "")
	a.expect(404, "GET", "/roles/"+r.ID, "")
}
