package restapi_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"vwire.dev/vwire/app"
	"vwire.dev/vwire/hypervisor/sim"
)

// engine starts the whole engine binary in-process: real SQLite, real HTTP,
// the embedded host reached over JSON-RPC on loopback.
func startEngine(t *testing.T) *app.EngineMain {
	t.Helper()
	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: t.TempDir(), EmbeddedHost: true, AdminPassword: "secret",
		PollInterval: time.Hour, Out: io.Discard}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

type api struct {
	t    *testing.T
	base string
	json bool
	auth func(*http.Request)
	hc   *http.Client // nil: http.DefaultClient
}

// startEngineTLS starts an engine on HTTPS with its own CA (PKI), as the
// binary does by default.
func startEngineTLS(t *testing.T) *app.EngineMain {
	t.Helper()
	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: t.TempDir(), EmbeddedHost: true, AdminPassword: "secret", PKI: true,
		PollInterval: time.Hour, Out: io.Discard}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// tlsClient trusts only the engine's CA, read from the file it publishes.
func tlsClient(t *testing.T, m *app.EngineMain) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(m.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no CA certificate in", m.CAFile())
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}
}

func newAPI(t *testing.T, m *app.EngineMain, asJSON bool) *api {
	return &api{t: t, base: m.URL(), json: asJSON, auth: func(r *http.Request) { r.SetBasicAuth("admin@internal", "secret") }}
}

type resp struct {
	status int
	header http.Header
	body   string
}

func (a *api) do(method, path, body string) resp {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	a.auth(req)
	req.Header.Set("Version", "4")
	if a.json {
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Content-Type", "application/json")
	} else {
		req.Header.Set("Accept", "application/xml")
		req.Header.Set("Content-Type", "application/xml")
	}
	hc := a.hc
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, string(b)}
}

// expect checks the status and returns the body.
func (a *api) expect(status int, method, path, body string) string {
	a.t.Helper()
	r := a.do(method, path, body)
	if r.status != status {
		a.t.Fatalf("%s %s: status %d, want %d\n%s", method, path, r.status, status, r.body)
	}
	return r.body
}

// xmlEntity is enough of any entity for the tests.
type xmlEntity struct {
	XMLName xml.Name
	ID      string `xml:"id,attr"`
	Href    string `xml:"href,attr"`
	Name    string `xml:"name"`
	Status  string `xml:"status"`
	Linked  string `xml:"linked"`
	Plugged string `xml:"plugged"`
	Synced  string `xml:"synced"`
	MAC     struct {
		Address string `xml:"address"`
	} `xml:"mac"`
	Profile struct {
		ID string `xml:"id,attr"`
	} `xml:"vnic_profile"`
	Reported struct {
		Present   string `xml:"present"`
		LinkState string `xml:"link_state"`
		Bridge    string `xml:"bridge"`
		PCI       string `xml:"pci_address"`
	} `xml:"reported_state"`
	Reason string `xml:"reason"`
	Detail string `xml:"detail"`
	Fault  *struct {
		Detail string `xml:"detail"`
	} `xml:"fault"`
}

type xmlList struct {
	Items []xmlEntity `xml:",any"`
}

func parseX(t *testing.T, body string) xmlEntity {
	t.Helper()
	var e xmlEntity
	if err := xml.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("bad XML %v:\n%s", err, body)
	}
	return e
}

func parseXList(t *testing.T, body string) []xmlEntity {
	t.Helper()
	var l xmlList
	if err := xml.Unmarshal([]byte(body), &l); err != nil {
		t.Fatalf("bad XML %v:\n%s", err, body)
	}
	return l.Items
}

func (a *api) idByName(collection, name string) string {
	a.t.Helper()
	body := a.expect(200, "GET", "/"+collection+"?search="+url.QueryEscape(`name="`+name+`"`), "")
	items := parseXList(a.t, body)
	if len(items) != 1 {
		a.t.Fatalf("search %s name=%s: %d results\n%s", collection, name, len(items), body)
	}
	return items[0].ID
}

// TestDoneWhen walks the scenario with XML, as oVirt's SDKs speak.
func TestDoneWhen(t *testing.T) {
	m := startEngine(t)
	a := newAPI(t, m, false)

	net := parseX(t, a.expect(201, "POST", "/networks", `<network><name>red</name><data_center><name>Default</name></data_center></network>`))
	cluster := a.idByName("clusters", "Default")
	r := a.do("POST", "/clusters/"+cluster+"/networks", `<network id="`+net.ID+`"/>`)
	if r.status != 201 || !strings.HasSuffix(r.header.Get("Location"), "/clusters/"+cluster+"/networks/"+net.ID) {
		t.Fatalf("attach: %d %s %s", r.status, r.header.Get("Location"), r.body)
	}
	red := a.idByName("vnicprofiles", "red")
	mgmt := a.idByName("vnicprofiles", "ovirtmgmt")

	r = a.do("POST", "/vms", `<vm><name>vm1</name><cluster><name>Default</name></cluster><template><name>Blank</name></template></vm>`)
	if r.status != 201 || r.header.Get("Location") == "" {
		t.Fatalf("add VM: %d %s", r.status, r.body)
	}
	vm := parseX(t, r.body).ID
	nic := parseX(t, a.expect(201, "POST", "/vms/"+vm+"/nics", `<nic><name>nic1</name><vnic_profile id="`+mgmt+`"/></nic>`))
	mac := nic.MAC.Address
	if mac == "" || nic.Linked != "true" || nic.Plugged != "true" {
		t.Fatalf("added nic: %+v", nic)
	}
	nicPath := "/vms/" + vm + "/nics/" + nic.ID
	if s := parseX(t, a.expect(200, "POST", "/vms/"+vm+"/start", `<action/>`)); s.Status != "complete" {
		t.Fatalf("start: %+v", s)
	}

	check := func(step string, body string, bridge, link string) {
		t.Helper()
		n := parseX(t, body)
		if n.MAC.Address != mac || n.Reported.Bridge != bridge || n.Reported.LinkState != link || n.Synced != "true" || n.Reported.PCI == "" {
			t.Fatalf("%s: %+v\n%s", step, n, body)
		}
	}
	check("pull the cable", a.expect(200, "PUT", nicPath, `<nic><linked>false</linked></nic>`), "ovirtmgmt", "down")
	check("move to red", a.expect(200, "PUT", nicPath, `<nic><vnic_profile id="`+red+`"/></nic>`), "red", "down")
	check("seed's link_state up", a.expect(200, "PUT", nicPath, `<nic><link_state>up</link_state></nic>`), "red", "up")
	check("no network", a.expect(200, "PUT", nicPath, `<nic><vnic_profile/></nic>`), ";vdsmdummy;", "down")
	check("read back", a.expect(200, "GET", nicPath, ""), ";vdsmdummy;", "down")

	f := parseX(t, a.expect(409, "PUT", nicPath, `<nic><mac><address>00:1a:4a:16:01:99</address></mac></nic>`))
	if f.XMLName.Local != "fault" || f.Reason != "Operation Failed" || !strings.HasPrefix(f.Detail, "[Cannot edit Interface. Updating some of the properties") {
		t.Fatalf("MAC change fault: %+v", f)
	}
	n := parseX(t, a.expect(200, "PUT", nicPath, `<nic><plugged>false</plugged><mac><address>00:1A:4A:16:01:99</address></mac></nic>`))
	if n.Plugged != "false" || n.MAC.Address != "00:1a:4a:16:01:99" || n.Reported.Present != "false" {
		t.Fatalf("unplug + MAC: %+v", n)
	}
	act := parseX(t, a.expect(200, "POST", nicPath+"/activate", `<action/>`))
	if act.Status != "complete" {
		t.Fatalf("activate: %+v", act)
	}
	if n := parseX(t, a.expect(200, "GET", nicPath, "")); n.Plugged != "true" || n.Reported.Present != "true" {
		t.Fatalf("after activate: %+v", n)
	}

	events := a.expect(200, "GET", "/events?max=20", "")
	for _, want := range []string{"<code>932</code>", "<code>934</code>", "Link State is DOWN.", "Link State is UP.", "<code>1014</code>", "<code>1012</code>", "<code>32</code>"} {
		if !strings.Contains(events, want) {
			t.Errorf("events lack %s", want)
		}
	}
	a.expect(200, "POST", "/vms/"+vm+"/stop", `<action/>`)
	if d := parseX(t, a.expect(200, "DELETE", nicPath, "")); d.Status != "complete" {
		t.Fatalf("delete: %+v", d)
	}
	a.expect(404, "GET", nicPath, "")

	// A 3.1-level cluster refuses an unlinked vNIC.
	old := parseX(t, a.expect(201, "POST", "/clusters", `<cluster><name>old</name><data_center><name>Default</name></data_center><version><major>3</major><minor>1</minor></version></cluster>`))
	vm2 := parseX(t, a.expect(201, "POST", "/vms", `<vm><name>vm2</name><cluster id="`+old.ID+`"/><template><name>Blank</name></template></vm>`))
	f = parseX(t, a.expect(400, "POST", "/vms/"+vm2.ID+"/nics", `<nic><name>nic1</name><linked>false</linked><vnic_profile id="`+mgmt+`"/></nic>`))
	if f.Detail != "[Cannot add Interface. Link state is set to 'Down' on the virtual machine's interface, this is not supported for clusters of version 3.1.]" {
		t.Fatalf("3.1 fault: %+v", f)
	}
}

// TestJSON checks the engine's JSON: strings for booleans and integers,
// epoch-millisecond dates, collections keyed by the item type.
func TestJSON(t *testing.T) {
	m := startEngine(t)
	a := newAPI(t, m, true)
	var vm map[string]any
	json.Unmarshal([]byte(a.expect(201, "POST", "/vms", `{"name":"j1","cluster":{"name":"Default"},"template":{"name":"Blank"},"memory":"536870912"}`)), &vm)
	if vm["memory"] != "536870912" || vm["status"] != "down" {
		t.Fatalf("vm JSON: %v", vm)
	}
	if _, ok := vm["creation_time"].(float64); !ok {
		t.Errorf("creation_time is %T, want a number", vm["creation_time"])
	}
	id := vm["id"].(string)
	// Booleans as literals or strings on input.
	var nic map[string]any
	json.Unmarshal([]byte(a.expect(201, "POST", "/vms/"+id+"/nics", `{"name":"nic1","linked":false,"plugged":"true","interface":"e1000"}`)), &nic)
	if nic["linked"] != "false" || nic["plugged"] != "true" || nic["interface"] != "e1000" {
		t.Fatalf("nic JSON: %v", nic)
	}
	if _, ok := nic["vnic_profile"]; ok {
		t.Errorf("nic without a profile shows one: %v", nic)
	}
	var list map[string]any
	json.Unmarshal([]byte(a.expect(200, "GET", "/vms/"+id+"/nics", "")), &list)
	if items, ok := list["nic"].([]any); !ok || len(items) != 1 {
		t.Fatalf("collection JSON: %v", list)
	}
	if body := a.expect(200, "GET", "/templates/00000000-0000-0000-0000-000000000000/nics", ""); strings.TrimSpace(body) != "{}" {
		t.Errorf("empty collection = %q, want {}", body)
	}
	var f map[string]any
	json.Unmarshal([]byte(a.expect(400, "PUT", "/vms/"+id+"/nics/"+nic["id"].(string), `{"linked":"maybe"}`)), &f)
	if f["reason"] != "Invalid value" || !strings.Contains(f["detail"].(string), `isn't a valid boolean`) {
		t.Fatalf("bad boolean fault: %v", f)
	}
}

// TestBadInput: clear 4xx faults, never a 5xx, and nothing changes.
func TestBadInput(t *testing.T) {
	m := startEngine(t)
	a := newAPI(t, m, false)
	vm := parseX(t, a.expect(201, "POST", "/vms", `<vm><name>b1</name><cluster><name>Default</name></cluster><template><name>Blank</name></template></vm>`))
	nics := "/vms/" + vm.ID + "/nics"
	cases := []struct {
		name, method, path, body string
		status                   int
		detail                   string
	}{
		{"malformed XML", "POST", nics, `<nic><name>x</name>`, 400, "not valid XML"},
		{"doctype with entities", "POST", nics, `<?xml version="1.0"?><!DOCTYPE nic [<!ENTITY x SYSTEM "file:///etc/passwd">]><nic><name>&x;</name></nic>`, 400, "document type declarations are not accepted"},
		{"too deep", "POST", nics, strings.Repeat("<a>", 40) + strings.Repeat("</a>", 40), 400, "deeper than"},
		{"oversized", "POST", nics, "<nic><name>" + strings.Repeat("x", 2<<20) + "</name></nic>", 400, "larger than"},
		{"missing name", "POST", nics, `<nic><linked>true</linked></nic>`, 400, "Nic [name] required for add"},
		{"bad boolean", "POST", nics, `<nic><name>x</name><plugged>yes</plugged></nic>`, 400, "isn't a valid boolean"},
		{"bad enum", "POST", nics, `<nic><name>x</name><interface>ne2000</interface></nic>`, 400, "Invalid value 'ne2000' for field 'interface'"},
		{"bad link_state", "POST", nics, `<nic><name>x</name><link_state>sideways</link_state></nic>`, 400, "link_state"},
		{"multicast MAC", "POST", nics, `<nic><name>x</name><mac><address>01:00:5e:00:00:01</address></mac></nic>`, 400, "Multi-cast MAC address is not allowed."},
		{"invalid MAC", "POST", nics, `<nic><name>x</name><mac><address>00:11:22</address></mac></nic>`, 400, "MAC address must be in format"},
		{"name out of pattern", "POST", nics, `<nic><name>eth 0</name></nic>`, 400, "Name must be formed of"},
		{"unknown VM", "GET", "/vms/00000000-0000-0000-0000-00000000dead/nics", "", 404, ""},
		{"unknown nic", "PUT", nics + "/not-a-uuid", `<nic><linked>false</linked></nic>`, 404, ""},
		// oVirt looks the resource up first: 404 wins over a bad body.
		{"unknown nic, bad body", "PUT", nics + "/00000000-0000-0000-0000-00000000dead", `<nic><mac><address>00:11:22</address></mac></nic>`, 404, ""},
		{"unknown nic, malformed", "PUT", nics + "/00000000-0000-0000-0000-00000000dead", `<nic><name>x</name>`, 404, ""},
		{"unknown VM, bad body", "PUT", "/vms/00000000-0000-0000-0000-00000000dead/nics/00000000-0000-0000-0000-00000000dead", `<nic><name>eth 0</name></nic>`, 404, ""},
		{"add to unknown VM", "POST", "/vms/00000000-0000-0000-0000-00000000dead/nics", `<nic><name>x</name></nic>`, 404, ""},
		{"add to unknown VM, bad body", "POST", "/vms/00000000-0000-0000-0000-00000000dead/nics", `<nic><linked>true</linked></nic>`, 404, ""},
		{"unknown nic, bad action body", "POST", nics + "/00000000-0000-0000-0000-00000000dead/deactivate", `<action>`, 404, ""},
		{"unknown profile", "POST", nics, `<nic><name>x</name><vnic_profile id="00000000-0000-0000-0000-00000000dead"/></nic>`, 400, "profile doesn't exist"},
		{"unknown cluster by name", "POST", "/vms", `<vm><name>b2</name><cluster><name>nope</name></cluster><template><name>Blank</name></template></vm>`, 400, "Entity not found: Cluster"},
		{"JSON array body", "POST", nics, `[1,2]`, 400, "must be an object"},
		{"bad max", "GET", "/events?max=lots", "", 400, "max"},
		{"bad search", "GET", "/vms?search=" + url.QueryEscape("colour=red"), "", 400, "Cannot search by"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := a.do(tc.method, tc.path, tc.body)
			if tc.name == "JSON array body" {
				req, _ := http.NewRequest("POST", a.base+tc.path, strings.NewReader(tc.body))
				a.auth(req)
				req.Header.Set("Content-Type", "application/json")
				res, _ := http.DefaultClient.Do(req)
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				r = resp{res.StatusCode, res.Header, string(b)}
			}
			if r.status != tc.status || (tc.detail != "" && !strings.Contains(r.body, tc.detail)) {
				t.Fatalf("status %d body %s; want %d containing %q", r.status, r.body, tc.status, tc.detail)
			}
		})
	}
	if items := parseXList(t, a.expect(200, "GET", nics, "")); len(items) != 0 {
		t.Fatalf("bad requests created vNICs: %v", items)
	}
}

func TestAuth(t *testing.T) {
	m := startEngine(t)
	a := newAPI(t, m, false)
	a.auth = func(*http.Request) {}
	r := a.do("GET", "/vms", "")
	if r.status != 401 || r.header.Get("WWW-Authenticate") != `Basic realm="RESTAPI"` {
		t.Fatalf("no credentials: %d %v", r.status, r.header)
	}
	a.auth = func(r *http.Request) { r.SetBasicAuth("admin@internal", "wrong") }
	if r := a.do("GET", "/vms", ""); r.status != 401 {
		t.Fatalf("wrong password: %d", r.status)
	}
	// SSO password grant, as the SDKs do it.
	form := url.Values{"grant_type": {"password"}, "scope": {"ovirt-app-api"}, "username": {"admin@internal"}, "password": {"secret"}}
	req, _ := http.NewRequest("POST", "http://"+m.Addr()+"/ovirt-engine/sso/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]string
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if res.StatusCode != 200 || tok["access_token"] == "" || tok["token_type"] != "bearer" || tok["exp"] == "" {
		t.Fatalf("token: %d %v", res.StatusCode, tok)
	}
	a.auth = func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok["access_token"]) }
	a.expect(200, "GET", "/vms", "")
	// /v4 paths work and keep /v4 in hrefs.
	if body := a.expect(200, "GET", "/v4/clusters", ""); !strings.Contains(body, `href="/ovirt-engine/api/v4/clusters/`) {
		t.Errorf("v4 hrefs: %s", body)
	}
	form.Set("password", "wrong")
	res, _ = http.Post("http://"+m.Addr()+"/ovirt-engine/sso/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	var bad map[string]string
	json.NewDecoder(res.Body).Decode(&bad)
	res.Body.Close()
	if res.StatusCode != 400 || bad["error_code"] != "access_denied" {
		t.Fatalf("bad SSO login: %d %v", res.StatusCode, bad)
	}
}

// TestStandaloneHost registers a separate agent through POST /hosts and runs
// a VM pinned to it, as a deployment without the embedded host does.
func TestStandaloneHost(t *testing.T) {
	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: t.TempDir(), EmbeddedHost: false, AdminPassword: "secret",
		PollInterval: time.Hour, Out: io.Discard}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ag := &app.AgentMain{Listen: "127.0.0.1:0", Hypervisor: sim.New("ovirtmgmt")}
	if err := ag.Start(); err != nil {
		t.Fatal(err)
	}
	defer ag.Close()
	a := newAPI(t, m, false)
	if items := parseXList(t, a.expect(200, "GET", "/hosts", "")); len(items) != 0 {
		t.Fatalf("hosts without the embedded one: %v", items)
	}
	h := parseX(t, a.expect(201, "POST", "/hosts", `<host><name>h1</name><address>127.0.0.1</address><port>`+strconv.Itoa(ag.Port())+`</port><cluster><name>Default</name></cluster></host>`))
	if h.Status != "up" {
		t.Fatalf("registered host: %+v", h)
	}
	a.expect(409, "POST", "/hosts", `<host><name>h2</name><address>127.0.0.1</address><port>`+strconv.Itoa(ag.Port())+`</port></host>`)
	dead := parseX(t, a.expect(201, "POST", "/hosts", `<host><name>dead</name><address>127.0.0.1</address><port>1</port></host>`))
	if dead.Status != "non_responsive" {
		t.Fatalf("unreachable host: %+v", dead)
	}
	vm := parseX(t, a.expect(201, "POST", "/vms", `<vm><name>p1</name><cluster><name>Default</name></cluster><template><name>Blank</name></template>`+
		`<placement_policy><hosts><host><name>h1</name></host></hosts></placement_policy></vm>`))
	mgmt := a.idByName("vnicprofiles", "ovirtmgmt")
	nic := parseX(t, a.expect(201, "POST", "/vms/"+vm.ID+"/nics", `<nic><name>nic1</name><vnic_profile id="`+mgmt+`"/></nic>`))
	a.expect(200, "POST", "/vms/"+vm.ID+"/start", `<action/>`)
	if got := a.expect(200, "GET", "/vms/"+vm.ID, ""); !strings.Contains(got, `<host href="/ovirt-engine/api/hosts/`+h.ID+`" id="`+h.ID+`"/>`) {
		t.Fatalf("VM not on h1:\n%s", got)
	}
	n := parseX(t, a.expect(200, "PUT", "/vms/"+vm.ID+"/nics/"+nic.ID, `<nic><linked>false</linked></nic>`))
	if n.Reported.LinkState != "down" || n.Synced != "true" {
		t.Fatalf("link down on the standalone host: %+v", n)
	}
	// A VM pinned to the unreachable host cannot start, and says why.
	vm2 := parseX(t, a.expect(201, "POST", "/vms", `<vm><name>p2</name><cluster><name>Default</name></cluster><template><name>Blank</name></template>`+
		`<placement_policy><hosts><host id="`+dead.ID+`"/></hosts></placement_policy></vm>`))
	f := parseX(t, a.expect(409, "POST", "/vms/"+vm2.ID+"/start", `<action/>`))
	if f.Status != "failed" || f.Fault == nil || !strings.Contains(f.Fault.Detail, "host dead is non_responsive") {
		t.Fatalf("start on a dead host: %+v", f)
	}
}

// TestInfraCRUD exercises the plain entities end to end.
func TestInfraCRUD(t *testing.T) {
	m := startEngine(t)
	a := newAPI(t, m, false)
	dc := parseX(t, a.expect(201, "POST", "/datacenters", `<data_center><name>dc2</name><local>false</local><version><major>4</major><minor>7</minor></version></data_center>`))
	if body := a.expect(200, "GET", "/datacenters/"+dc.ID+"/networks", ""); !strings.Contains(body, "<name>ovirtmgmt</name>") {
		t.Errorf("new data center lacks ovirtmgmt:\n%s", body)
	}
	a.expect(409, "POST", "/datacenters", `<data_center><name>dc2</name><local>false</local></data_center>`)
	cl := parseX(t, a.expect(201, "POST", "/clusters", `<cluster><name>c2</name><data_center id="`+dc.ID+`"/><version><major>4</major><minor>2</minor></version></cluster>`))
	if body := a.expect(200, "GET", "/clusters/"+cl.ID+"/networks", ""); !strings.Contains(body, "<name>ovirtmgmt</name>") {
		t.Errorf("new cluster lacks ovirtmgmt:\n%s", body)
	}
	a.expect(200, "PUT", "/clusters/"+cl.ID, `<cluster><version><major>4</major><minor>6</minor></version></cluster>`)
	f := parseX(t, a.expect(400, "PUT", "/clusters/"+cl.ID, `<cluster><version><major>4</major><minor>1</minor></version></cluster>`))
	if !strings.Contains(f.Detail, "Decreasing the compatibility version") {
		t.Errorf("decrease: %+v", f)
	}
	a.expect(400, "PUT", "/clusters/"+cl.ID, `<cluster><version><major>9</major><minor>9</minor></version></cluster>`)
	n := parseX(t, a.expect(201, "POST", "/networks", `<network><name>v100</name><data_center id="`+dc.ID+`"/><vlan id="100"/><mtu>9000</mtu></network>`))
	if body := a.expect(200, "PUT", "/networks/"+n.ID, `<network><description>tagged</description></network>`); !strings.Contains(body, `<vlan id="100"/>`) || !strings.Contains(body, "<mtu>9000</mtu>") || !strings.Contains(body, "<description>tagged</description>") {
		t.Errorf("network update merged badly:\n%s", body)
	}
	a.expect(400, "POST", "/networks", `<network><name>bad</name><data_center id="`+dc.ID+`"/><vlan id="5000"/></network>`)
	p := parseX(t, a.expect(201, "POST", "/networks/"+n.ID+"/vnicprofiles", `<vnic_profile><name>mirror</name><port_mirroring>true</port_mirroring></vnic_profile>`))
	if body := a.expect(200, "PUT", "/vnicprofiles/"+p.ID, `<vnic_profile><name>mirror2</name></vnic_profile>`); !strings.Contains(body, "<port_mirroring>true</port_mirroring>") {
		t.Errorf("profile update:\n%s", body)
	}
	a.expect(200, "DELETE", "/vnicprofiles/"+p.ID, "")
	a.expect(404, "GET", "/vnicprofiles/"+p.ID, "")
	pool := parseX(t, a.expect(201, "POST", "/macpools", `<mac_pool><name>p2</name><ranges><range><from>02:00:00:00:00:00</from><to>02:00:00:00:00:0f</to></range></ranges></mac_pool>`))
	a.expect(400, "POST", "/macpools", `<mac_pool><name>p3</name><ranges><range><from>02:00:00:00:00:0f</from><to>02:00:00:00:00:00</to></range></ranges></mac_pool>`)
	a.expect(200, "PUT", "/clusters/"+cl.ID, `<cluster><mac_pool id="`+pool.ID+`"/></cluster>`)
	// A DELETE's refusal is a bare <fault>, as oVirt's SDKs parse it.
	f = parseX(t, a.expect(409, "DELETE", "/macpools/"+pool.ID, ""))
	if f.XMLName.Local != "fault" || !strings.Contains(f.Detail, "c2") {
		t.Errorf("removing a pool in use: %+v", f)
	}
	a.expect(409, "DELETE", "/datacenters/"+dc.ID, "")
	a.expect(200, "DELETE", "/clusters/"+cl.ID, "")
	a.expect(200, "DELETE", "/macpools/"+pool.ID, "")
	a.expect(200, "DELETE", "/networks/"+n.ID, "")
	a.expect(200, "DELETE", "/datacenters/"+dc.ID, "")
	a.expect(404, "GET", "/datacenters/"+dc.ID, "")
}

// TestEventStream: server-sent events carry each new event as it commits,
// and resume after Last-Event-ID.
func TestEventStream(t *testing.T) {
	m := startEngine(t)
	a := newAPI(t, m, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", a.base+"/events", nil)
	req.SetBasicAuth("admin@internal", "secret")
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	a.expect(201, "POST", "/vms", `<vm><name>s1</name><cluster><name>Default</name></cluster><template><name>Blank</name></template></vm>`)
	deadline := time.After(5 * time.Second)
	for {
		select {
		case l := <-lines:
			if strings.HasPrefix(l, "data: ") && strings.Contains(l, `"code":"34"`) && strings.Contains(l, "VM s1 was created") {
				return
			}
		case <-deadline:
			t.Fatal("no event for the new VM on the stream within 5 s")
		}
	}
}
