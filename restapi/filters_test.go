package restapi_test

import (
	"strings"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire"
)

// TestNetworkFiltersAndParameters: the filter catalogue, a profile's filter
// (oVirt's default, another, none), and a vNIC's filter parameters,
// through the API and oVirt's Go SDK.
func TestNetworkFiltersAndParameters(t *testing.T) {
	m := startEngine(t)
	a := newAPI(t, m, false)
	def, _ := vwire.NWFilterByName(vwire.DefaultNWFilter)
	clean, _ := vwire.NWFilterByName("clean-traffic")
	list := a.expect(200, "GET", "/networkfilters", "")
	if !strings.Contains(list, `<network_filter href="/ovirt-engine/api/networkfilters/`+def.ID()+`" id="`+def.ID()+`">`) ||
		!strings.Contains(list, "<name>vdsm-no-mac-spoofing</name>") || !strings.Contains(list, "<major>4</major>") {
		t.Errorf("network filters:\n%.800s", list)
	}
	if one := parseX(t, a.expect(200, "GET", "/networkfilters/"+clean.ID(), "")); one.Name != "clean-traffic" {
		t.Errorf("one filter: %+v", one)
	}
	a.expect(404, "GET", "/networkfilters/00000000-0000-0000-0000-000000000000", "")

	// The management network's profile has oVirt's default filter.
	mgmt := a.idByName("vnicprofiles", "ovirtmgmt")
	if body := a.expect(200, "GET", "/vnicprofiles/"+mgmt, ""); !strings.Contains(body, `<network_filter href="/ovirt-engine/api/networkfilters/`+def.ID()+`"`) {
		t.Errorf("ovirtmgmt's profile:\n%s", body)
	}
	net := a.idByName("networks", "ovirtmgmt")
	p := parseX(t, a.expect(201, "POST", "/networks/"+net+"/vnicprofiles", `<vnic_profile><name>p-default</name></vnic_profile>`))
	if body := a.expect(200, "GET", "/vnicprofiles/"+p.ID, ""); !strings.Contains(body, def.ID()) {
		t.Errorf("a new profile without network_filter:\n%s", body)
	}
	none := a.expect(201, "POST", "/vnicprofiles", `<vnic_profile><name>p-none</name><network id="`+net+`"/><network_filter/></vnic_profile>`)
	if strings.Contains(none, "<network_filter") {
		t.Errorf("a profile with an empty network_filter:\n%s", none)
	}
	byName := a.expect(201, "POST", "/vnicprofiles", `<vnic_profile><name>p-clean</name><network id="`+net+`"/><network_filter><name>clean-traffic</name></network_filter></vnic_profile>`)
	if !strings.Contains(byName, clean.ID()) {
		t.Errorf("a profile with clean-traffic by name:\n%s", byName)
	}
	a.expect(400, "POST", "/vnicprofiles", `<vnic_profile><name>p-bad</name><network id="`+net+`"/><network_filter id="00000000-0000-0000-0000-000000000000"/></vnic_profile>`)
	if body := a.expect(200, "PUT", "/vnicprofiles/"+p.ID, `<vnic_profile><network_filter id="`+clean.ID()+`"/></vnic_profile>`); !strings.Contains(body, clean.ID()) {
		t.Errorf("PUT of the filter:\n%s", body)
	}
	a.expect(400, "PUT", "/vnicprofiles/"+p.ID, `<vnic_profile><network_filter id="x"/></vnic_profile>`)

	// A vNIC's filter parameters.
	vm := parseX(t, a.expect(201, "POST", "/vms", `<vm><name>f1</name><cluster><name>Default</name></cluster><template><name>Blank</name></template></vm>`)).ID
	nic := parseX(t, a.expect(201, "POST", "/vms/"+vm+"/nics", `<nic><name>nic1</name><vnic_profile id="`+mgmt+`"/></nic>`))
	base := "/vms/" + vm + "/nics/" + nic.ID + "/networkfilterparameters"
	if body := a.expect(200, "GET", "/vms/"+vm+"/nics/"+nic.ID, ""); !strings.Contains(body, `rel="networkfilterparameters"`) {
		t.Errorf("the vNIC has no networkfilterparameters link:\n%s", body)
	}
	ip := parseX(t, a.expect(201, "POST", base, `<network_filter_parameter><name>IP</name><value>198.51.100.7</value></network_filter_parameter>`))
	a.expect(201, "POST", base, `<network_filter_parameter><name>IP</name><value>198.51.100.8</value></network_filter_parameter>`)
	for _, bad := range []string{
		`<network_filter_parameter><name>IP</name></network_filter_parameter>`,
		`<network_filter_parameter><name>1P</name><value>x</value></network_filter_parameter>`,
		`<network_filter_parameter><name>IP</name><value>a'b</value></network_filter_parameter>`,
	} {
		a.expect(400, "POST", base, bad)
	}
	if l := parseXList(t, a.expect(200, "GET", base, "")); len(l) != 2 {
		t.Errorf("parameters: %+v", l)
	}
	if body := a.expect(200, "PUT", base+"/"+ip.ID, `<network_filter_parameter><value>198.51.100.9</value></network_filter_parameter>`); !strings.Contains(body, "<value>198.51.100.9</value>") {
		t.Errorf("PUT:\n%s", body)
	}
	a.expect(400, "PUT", base+"/"+ip.ID, `<network_filter_parameter><value></value></network_filter_parameter>`)
	a.expect(200, "DELETE", base+"/"+ip.ID, "")
	a.expect(404, "GET", base+"/"+ip.ID, "")
	a.expect(404, "DELETE", base+"/"+ip.ID, "")
	if body := a.expect(200, "GET", "/events?max=10", ""); !strings.Contains(body, "<code>12110</code>") || !strings.Contains(body, "<code>12112</code>") {
		t.Errorf("no events of the parameters' changes:\n%.1500s", body)
	}
	// Another VM's path to the same vNIC is not found.
	vm2 := parseX(t, a.expect(201, "POST", "/vms", `<vm><name>f2</name><cluster><name>Default</name></cluster><template><name>Blank</name></template></vm>`)).ID
	a.expect(404, "GET", "/vms/"+vm2+"/nics/"+nic.ID+"/networkfilterparameters", "")

	// oVirt's Go SDK: the catalogue, a profile's filter, the parameters.
	conn, err := ovirtsdk4.NewConnectionBuilder().URL(m.URL()).Username("admin@internal").Password("secret").Timeout(30 * time.Second).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sys := conn.SystemService()
	fs, err := sys.NetworkFiltersService().List().Send()
	if err != nil || len(fs.MustFilters().Slice()) != len(vwire.NWFilters) {
		t.Fatalf("SDK network filters: %v", err)
	}
	got, err := sys.VnicProfilesService().ProfileService(mgmt).Get().Send()
	if err != nil || got.MustProfile().MustNetworkFilter().MustId() != def.ID() {
		t.Fatalf("SDK profile's filter: %v", err)
	}
	params := sys.VmsService().VmService(vm).NicsService().NicService(nic.ID).NetworkFilterParametersService()
	if _, err := params.Add().Parameter(ovirtsdk4.NewNetworkFilterParameterBuilder().Name("CTRL_IP_LEARNING").Value("dhcp").MustBuild()).Send(); err != nil {
		t.Fatal(err)
	}
	ps, err := params.List().Send()
	if err != nil || len(ps.MustParameters().Slice()) != 2 {
		t.Fatalf("SDK parameters: %v", err)
	}
}
