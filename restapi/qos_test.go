package restapi_test

import (
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
)

// xmlQoS is oVirt's qos element, as a client reads it.
type xmlQoS struct {
	ID          string `xml:"id,attr"`
	Href        string `xml:"href,attr"`
	Name        string `xml:"name"`
	Description string `xml:"description"`
	Type        string `xml:"type"`
	DataCenter  struct {
		ID   string `xml:"id,attr"`
		Href string `xml:"href,attr"`
	} `xml:"data_center"`
	InboundAverage  *int `xml:"inbound_average"`
	InboundPeak     *int `xml:"inbound_peak"`
	InboundBurst    *int `xml:"inbound_burst"`
	OutboundAverage *int `xml:"outbound_average"`
	OutboundPeak    *int `xml:"outbound_peak"`
	OutboundBurst   *int `xml:"outbound_burst"`
}

func parseQoS(t *testing.T, body string) xmlQoS {
	t.Helper()
	var q xmlQoS
	if err := xml.Unmarshal([]byte(body), &q); err != nil {
		t.Fatalf("bad XML %v:\n%s", err, body)
	}
	return q
}

func intOf(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}

// TestQoSREST: /datacenters/{id}/qoss in oVirt's XML and JSON shapes: add
// (name and type required), read, merge on PUT (-1 clears a value, as
// oVirt's mapper does), remove; refusals are oVirt's faults with oVirt's
// texts and statuses.
func TestQoSREST(t *testing.T) {
	m := startEngine(t)
	a := newAPI(t, m, false)
	dc := a.idByName("datacenters", "Default")
	base := "/datacenters/" + dc + "/qoss"
	if got := a.expect(200, "GET", base, ""); !strings.Contains(got, "<qoss/>") {
		t.Errorf("empty list = %s", got)
	}
	r := a.do("POST", base, `<qos><name>gold</name><type>network</type><description>fast</description>
		<inbound_average>10</inbound_average><inbound_peak>20</inbound_peak><inbound_burst>5</inbound_burst></qos>`)
	if r.status != 201 {
		t.Fatalf("add: %d\n%s", r.status, r.body)
	}
	q := parseQoS(t, r.body)
	if q.Name != "gold" || q.Description != "fast" || q.Type != "network" || q.DataCenter.ID != dc ||
		!strings.HasSuffix(q.Href, base+"/"+q.ID) || !strings.HasSuffix(r.header.Get("Location"), base+"/"+q.ID) ||
		intOf(q.InboundAverage) != 10 || intOf(q.InboundPeak) != 20 || intOf(q.InboundBurst) != 5 || q.OutboundAverage != nil {
		t.Errorf("added QoS:\n%s", r.body)
	}

	// PUT merges: outbound is set, inbound's values cleared with -1.
	got := parseQoS(t, a.expect(200, "PUT", base+"/"+q.ID, `<qos><outbound_average>1</outbound_average><outbound_peak>2</outbound_peak>
		<outbound_burst>3</outbound_burst><inbound_average>-1</inbound_average><inbound_peak>-1</inbound_peak><inbound_burst>-1</inbound_burst></qos>`))
	if got.Name != "gold" || got.InboundAverage != nil || intOf(got.OutboundAverage) != 1 || intOf(got.OutboundPeak) != 2 || intOf(got.OutboundBurst) != 3 {
		t.Errorf("after PUT: %+v", got)
	}
	if got := parseQoS(t, a.expect(200, "GET", base+"/"+q.ID, "")); intOf(got.OutboundBurst) != 3 {
		t.Errorf("GET after PUT: %+v", got)
	}

	// JSON: integers as strings, the list under "qos".
	js := newAPI(t, m, true)
	var list struct {
		Qos []map[string]any `json:"qos"`
	}
	if err := json.Unmarshal([]byte(js.expect(200, "GET", base, "")), &list); err != nil || len(list.Qos) != 1 {
		t.Fatalf("JSON list: %v %+v", err, list)
	}
	if j := list.Qos[0]; j["outbound_peak"] != "2" || j["type"] != "network" || j["name"] != "gold" || j["inbound_average"] != nil {
		t.Errorf("JSON QoS = %v", j)
	}
	jr := js.do("POST", base, `{"name": "silver", "type": "network", "outbound_average": 4, "outbound_peak": "8", "outbound_burst": 16}`)
	if jr.status != 201 || !strings.Contains(jr.body, `"outbound_peak": "8"`) {
		t.Errorf("JSON add: %d\n%s", jr.status, jr.body)
	}

	refusals := []struct {
		name, method, path, body string
		status                   int
		detail                   string
	}{
		{"no name or type", "POST", base, `<qos><description>x</description></qos>`, 400, "Qos [name, type] required for add"},
		{"storage QoS", "POST", base, `<qos><name>disk</name><type>storage</type></qos>`, 400,
			"[Cannot add QoS. vwire has network QoS only; the type storage is not supported.]"},
		{"unknown type", "POST", base, `<qos><name>x</name><type>fast</type></qos>`, 400, "Invalid value 'fast' for field 'type'"},
		{"duplicate name", "POST", base, `<qos><name>gold</name><type>network</type></qos>`, 400, "[Cannot add QoS. QoS element name already exists.]"},
		{"peak below average", "POST", base, `<qos><name>p</name><type>network</type><inbound_average>10</inbound_average>
			<inbound_peak>5</inbound_peak><inbound_burst>1</inbound_burst></qos>`, 400, "[Cannot add QoS. Peak cannot be set lower than Average.]"},
		{"missing value", "POST", base, `<qos><name>p</name><type>network</type><inbound_average>10</inbound_average></qos>`, 400,
			"[Cannot add QoS. All three values are needed in order to define QoS on each network directions.]"},
		{"out of range", "PUT", base + "/" + q.ID, `<qos><outbound_average>20000</outbound_average><outbound_peak>20000</outbound_peak></qos>`, 400,
			"Values are out of range\n(Legal range is: 0-17179)."},
		{"moved", "PUT", base + "/" + q.ID, `<qos><data_center id="00000000-0000-0000-0000-00000000dead"/></qos>`, 400,
			"[Cannot update QoS. Cannot change QoS data center.]"},
		{"text where an integer goes", "PUT", base + "/" + q.ID, `<qos><inbound_peak>lots</inbound_peak></qos>`, 400, "isn't a valid integer"},
		{"missing QoS", "GET", base + "/00000000-0000-0000-0000-00000000dead", "", 404, ""},
		{"missing data center", "GET", "/datacenters/00000000-0000-0000-0000-00000000dead/qoss", "", 404, ""},
	}
	for _, tc := range refusals {
		r := a.do(tc.method, tc.path, tc.body)
		if r.status != tc.status {
			t.Errorf("%s: %d, want %d\n%s", tc.name, r.status, tc.status, r.body)
			continue
		}
		if tc.detail == "" {
			continue
		}
		var f struct {
			Reason string `xml:"reason"`
			Detail string `xml:"detail"`
		}
		if err := xml.Unmarshal([]byte(r.body), &f); err != nil || !strings.Contains(f.Detail, tc.detail) {
			t.Errorf("%s: fault %q, want it to contain %q\n%s", tc.name, f.Detail, tc.detail, r.body)
		}
	}

	a.expect(200, "DELETE", base+"/"+q.ID, "")
	a.expect(404, "GET", base+"/"+q.ID, "")
	if items := parseXList(t, a.expect(200, "GET", base, "")); len(items) != 1 || items[0].Name != "silver" {
		t.Errorf("after remove: %+v", items)
	}
}

// xmlProfile is the profile's QoS and pass-through as a client reads them.
type xmlProfile struct {
	ID  string `xml:"id,attr"`
	QoS *struct {
		ID   string `xml:"id,attr"`
		Href string `xml:"href,attr"`
	} `xml:"qos"`
	PassThrough struct {
		Mode string `xml:"mode"`
	} `xml:"pass_through"`
	Filter *struct {
		ID string `xml:"id,attr"`
	} `xml:"network_filter"`
	PortMirroring string `xml:"port_mirroring"`
}

func parseProfile(t *testing.T, body string) xmlProfile {
	t.Helper()
	var p xmlProfile
	if err := xml.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("bad XML %v:\n%s", err, body)
	}
	return p
}

// TestProfileQoSREST: a profile's qos reference (set, shown with its data
// center's href, cleared by <qos/>) and pass_through mode, with oVirt's
// refusals.
func TestProfileQoSREST(t *testing.T) {
	m := startEngine(t)
	a := newAPI(t, m, false)
	dc := a.idByName("datacenters", "Default")
	net := parseX(t, a.expect(201, "POST", "/networks", `<network><name>red</name><data_center id="`+dc+`"/></network>`)).ID
	a.expect(201, "POST", "/clusters/"+a.idByName("clusters", "Default")+"/networks", `<network id="`+net+`"/>`)
	red := a.idByName("vnicprofiles", "red")
	q := parseQoS(t, a.expect(201, "POST", "/datacenters/"+dc+"/qoss", `<qos><name>gold</name><type>network</type>
		<outbound_average>1</outbound_average><outbound_peak>2</outbound_peak><outbound_burst>3</outbound_burst></qos>`))

	p := parseProfile(t, a.expect(200, "PUT", "/vnicprofiles/"+red, `<vnic_profile><qos id="`+q.ID+`"/><port_mirroring>true</port_mirroring></vnic_profile>`))
	if p.QoS == nil || p.QoS.ID != q.ID || !strings.HasSuffix(p.QoS.Href, "/datacenters/"+dc+"/qoss/"+q.ID) || p.PassThrough.Mode != "disabled" || p.PortMirroring != "true" {
		t.Errorf("profile with a QoS: %+v", p)
	}
	list := a.expect(200, "GET", "/networks/"+net+"/vnicprofiles", "")
	if !strings.Contains(list, `<qos href="/ovirt-engine/api/datacenters/`+dc+`/qoss/`+q.ID+`" id="`+q.ID+`"/>`) {
		t.Errorf("profile list does not show the QoS reference:\n%s", list)
	}
	if p := parseProfile(t, a.expect(200, "PUT", "/vnicprofiles/"+red, `<vnic_profile><description>x</description></vnic_profile>`)); p.QoS == nil {
		t.Error("a PUT without qos cleared it")
	}
	if p := parseProfile(t, a.expect(200, "PUT", "/vnicprofiles/"+red, `<vnic_profile><qos/></vnic_profile>`)); p.QoS != nil {
		t.Errorf("<qos/> did not clear the QoS: %+v", p.QoS)
	}
	// JSON: {"qos": {}} clears too, {"qos": {"id": …}} sets.
	js := newAPI(t, m, true)
	if body := js.expect(200, "PUT", "/vnicprofiles/"+red, `{"qos": {"id": "`+q.ID+`"}}`); !strings.Contains(body, q.ID) {
		t.Errorf("JSON set: %s", body)
	}

	refusals := []struct{ name, method, path, body, detail string }{
		{"pass-through with mirroring, QoS and a filter", "PUT", "/vnicprofiles/" + red, `<vnic_profile><pass_through><mode>enabled</mode></pass_through></vnic_profile>`,
			"[Cannot edit VM network interface profile. 'Port Mirroring,'Qos' and 'Network Filter' are not supported on passthrough profiles.]"},
		{"unknown mode", "PUT", "/vnicprofiles/" + red, `<vnic_profile><pass_through><mode>sometimes</mode></pass_through></vnic_profile>`,
			"Invalid value 'sometimes' for field 'pass_through.mode'"},
		{"missing QoS", "PUT", "/vnicprofiles/" + red, `<vnic_profile><qos id="00000000-0000-0000-0000-00000000dead"/></vnic_profile>`,
			"[The specified Network QoS doesn't exist.]"},
		{"a QoS by name", "PUT", "/vnicprofiles/" + red, `<vnic_profile><qos><name>gold</name></qos></vnic_profile>`, "is named by its id"},
		{"a QoS as text", "PUT", "/vnicprofiles/" + red, `{"qos": "` + q.ID + `"}`, "The field qos must be an object"},
	}
	for _, tc := range refusals {
		c := a
		if strings.HasPrefix(tc.body, "{") {
			c = js
		}
		r := c.do(tc.method, tc.path, tc.body)
		if r.status != 400 || !strings.Contains(r.body, tc.detail) {
			t.Errorf("%s: %d\n%s", tc.name, r.status, r.body)
		}
	}

	// A pass-through profile added without a filter gets none (oVirt gives
	// the default filter to the others only).
	r := a.do("POST", "/vnicprofiles", `<vnic_profile><name>pt</name><network id="`+net+`"/><pass_through><mode>enabled</mode></pass_through></vnic_profile>`)
	pt := parseProfile(t, r.body)
	if r.status != 201 || pt.PassThrough.Mode != "enabled" || pt.Filter != nil || pt.QoS != nil {
		t.Errorf("pass-through profile: %d\n%s", r.status, r.body)
	}
	// A virtio vNIC cannot use a pass-through profile (oVirt's rule: type
	// and profile match), and pass-through cannot change while a vNIC uses
	// the profile.
	vm := parseX(t, a.expect(201, "POST", "/vms", `<vm><name>v</name><cluster><name>Default</name></cluster><template><name>Blank</name></template></vm>`)).ID
	if r := a.do("POST", "/vms/"+vm+"/nics", `<nic><name>nic1</name><vnic_profile id="`+pt.ID+`"/></nic>`); r.status != 409 ||
		!strings.Contains(r.body, "doesn't match the profile") {
		t.Errorf("virtio vNIC on a pass-through profile: %d\n%s", r.status, r.body)
	}
	plain := parseProfile(t, a.expect(201, "POST", "/vnicprofiles", `<vnic_profile><name>plain</name><network id="`+net+`"/></vnic_profile>`))
	a.expect(201, "POST", "/vms/"+vm+"/nics", `<nic><name>nic1</name><vnic_profile id="`+plain.ID+`"/></nic>`)
	if r := a.do("PUT", "/vnicprofiles/"+plain.ID, `<vnic_profile><pass_through><mode>enabled</mode></pass_through><network_filter/></vnic_profile>`); r.status != 409 ||
		!strings.Contains(r.body, "are using this profile: v") {
		t.Errorf("pass-through change on a used profile: %d\n%s", r.status, r.body)
	}
}

// TestQoSGoSDK: oVirt's Go SDK adds, lists, updates and removes a network
// QoS and gives a profile that QoS, unchanged.
func TestQoSGoSDK(t *testing.T) {
	m := startEngine(t)
	conn, err := ovirtsdk4.NewConnectionBuilder().URL(m.URL()).Username("admin@internal").Password("secret").
		Insecure(true).Timeout(30 * time.Second).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sys := conn.SystemService()
	dcs, err := sys.DataCentersService().List().Search("name=Default").Send()
	if err != nil {
		t.Fatal(err)
	}
	dc := dcs.MustDataCenters().Slice()[0]
	qoss := sys.DataCentersService().DataCenterService(dc.MustId()).QossService()
	added, err := qoss.Add().Qos(ovirtsdk4.NewQosBuilder().Name("gold").Type(ovirtsdk4.QOSTYPE_NETWORK).
		InboundAverage(10).InboundPeak(20).InboundBurst(5).MustBuild()).Send()
	if err != nil {
		t.Fatal(err)
	}
	q := added.MustQos()
	if q.MustType() != ovirtsdk4.QOSTYPE_NETWORK || q.MustInboundPeak() != 20 || q.MustDataCenter().MustId() != dc.MustId() {
		t.Errorf("added %+v", q)
	}
	if _, ok := q.OutboundAverage(); ok {
		t.Error("an unlimited direction has values")
	}
	upd, err := qoss.QosService(q.MustId()).Update().Qos(ovirtsdk4.NewQosBuilder().OutboundAverage(1).OutboundPeak(1).OutboundBurst(1).MustBuild()).Send()
	if err != nil || upd.MustQos().MustOutboundBurst() != 1 || upd.MustQos().MustInboundAverage() != 10 {
		t.Fatalf("update: %v", err)
	}
	_, err = qoss.Add().Qos(ovirtsdk4.NewQosBuilder().Name("cpu").Type(ovirtsdk4.QOSTYPE_CPU).MustBuild()).Send()
	if err == nil || !strings.Contains(err.Error(), "network QoS only") {
		t.Errorf("a CPU QoS: %v", err)
	}

	profiles, err := sys.VnicProfilesService().List().Send()
	if err != nil {
		t.Fatal(err)
	}
	mgmt := profiles.MustProfiles().Slice()[0]
	pr, err := sys.VnicProfilesService().ProfileService(mgmt.MustId()).Update().Profile(ovirtsdk4.NewVnicProfileBuilder().
		Qos(ovirtsdk4.NewQosBuilder().Id(q.MustId()).MustBuild()).MustBuild()).Send()
	if err != nil {
		t.Fatal(err)
	}
	if pq, ok := pr.MustProfile().Qos(); !ok || pq.MustId() != q.MustId() {
		t.Errorf("profile's QoS = %v", pq)
	}
	if mode := pr.MustProfile().MustPassThrough().MustMode(); mode != ovirtsdk4.VNICPASSTHROUGHMODE_DISABLED {
		t.Errorf("pass-through mode = %s", mode)
	}
	list, err := qoss.List().Send()
	if err != nil || len(list.MustQoss().Slice()) != 1 {
		t.Fatalf("list: %v", err)
	}
	if _, err := qoss.QosService(q.MustId()).Remove().Send(); err != nil {
		t.Fatal(err)
	}
	after, err := sys.VnicProfilesService().ProfileService(mgmt.MustId()).Get().Send()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := after.MustProfile().Qos(); ok {
		t.Error("a removed QoS is still the profile's")
	}
}
