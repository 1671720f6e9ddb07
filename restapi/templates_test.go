package restapi_test

import (
	"encoding/xml"
	"net/url"
	"sort"
	"strings"
	"testing"
)

type xmlNic struct {
	ID        string `xml:"id,attr"`
	Name      string `xml:"name"`
	Interface string `xml:"interface"`
	Linked    string `xml:"linked"`
	Plugged   string `xml:"plugged"`
	MAC       string `xml:"mac>address"`
	Profile   struct {
		ID string `xml:"id,attr"`
	} `xml:"vnic_profile"`
}

func nicsOf(t *testing.T, a *api, path string) []xmlNic {
	t.Helper()
	var l struct {
		Nics []xmlNic `xml:"nic"`
	}
	if err := xml.Unmarshal([]byte(a.expect(200, "GET", path, "")), &l); err != nil {
		t.Fatal(err)
	}
	sort.Slice(l.Nics, func(i, j int) bool { return l.Nics[i].Name < l.Nics[j].Name })
	return l.Nics
}

// state is what must survive templates, OVF and imports: all but the MAC.
func state(ns []xmlNic) string {
	var b strings.Builder
	for _, n := range ns {
		b.WriteString(n.Name + ":" + n.Interface + ":" + n.Linked + ":" + n.Plugged + ":" + n.Profile.ID + " ")
	}
	return b.String()
}

func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// TestTemplatesAndOVF walks issue 6's "Done when" through the REST API.
func TestTemplatesAndOVF(t *testing.T) {
	m := startEngine(t)
	a := newAPI(t, m, false)
	cluster := a.idByName("clusters", "Default")
	var red, blue string
	for _, n := range []string{"red", "blue"} {
		net := parseX(t, a.expect(201, "POST", "/networks", `<network><name>`+n+`</name><data_center><name>Default</name></data_center></network>`))
		a.expect(201, "POST", "/clusters/"+cluster+"/networks", `<network id="`+net.ID+`"/>`)
	}
	red, blue = a.idByName("vnicprofiles", "red"), a.idByName("vnicprofiles", "blue")
	vm := parseX(t, a.expect(201, "POST", "/vms", `<vm><name>src</name><cluster id="`+cluster+`"/><template><name>Blank</name></template></vm>`))
	for _, body := range []string{
		`<nic><name>a</name><vnic_profile id="` + red + `"/></nic>`,
		`<nic><name>b</name><linked>false</linked><vnic_profile id="` + red + `"/></nic>`,
		`<nic><name>c</name><plugged>false</plugged></nic>`,
		`<nic><name>d</name><interface>e1000</interface><linked>false</linked><plugged>false</plugged><vnic_profile id="` + blue + `"/></nic>`,
	} {
		a.expect(201, "POST", "/vms/"+vm.ID+"/nics", body)
	}
	orig := nicsOf(t, a, "/vms/"+vm.ID+"/nics")

	// Template from the VM: same states, no MACs.
	tp := parseX(t, a.expect(201, "POST", "/templates", `<template><name>t1</name><vm id="`+vm.ID+`"/></template>`))
	tnics := nicsOf(t, a, "/templates/"+tp.ID+"/nics")
	if state(tnics) != state(orig) {
		t.Fatalf("template vNICs\n%s\nwant\n%s", state(tnics), state(orig))
	}
	for _, n := range tnics {
		if n.MAC != "" {
			t.Errorf("template vNIC %s has a MAC %s", n.Name, n.MAC)
		}
	}
	// Edit a template vNIC: link it.
	a.expect(200, "PUT", "/templates/"+tp.ID+"/nics/"+tnics[1].ID, `<nic><linked>true</linked></nic>`)
	a.expect(400, "PUT", "/templates/"+tp.ID+"/nics/"+tnics[1].ID, `<nic><interface>pci_passthrough</interface></nic>`)
	tnics = nicsOf(t, a, "/templates/"+tp.ID+"/nics")
	if tnics[1].Linked != "true" {
		t.Fatalf("template vNIC b after the edit: %+v", tnics[1])
	}
	if ev := a.expect(200, "GET", "/events?max=1", ""); !strings.Contains(ev, "<code>940</code>") {
		t.Errorf("no 940 event for the template vNIC edit:\n%s", ev)
	}

	// A VM from the template: the template's states, new MACs.
	vm2 := parseX(t, a.expect(201, "POST", "/vms", `<vm><name>fromt</name><cluster id="`+cluster+`"/><template id="`+tp.ID+`"/></vm>`))
	n2 := nicsOf(t, a, "/vms/"+vm2.ID+"/nics")
	if state(n2) != state(tnics) {
		t.Fatalf("VM from template\n%s\nwant\n%s", state(n2), state(tnics))
	}
	macs := map[string]bool{}
	for _, n := range append(append([]xmlNic{}, orig...), n2...) {
		if n.MAC == "" || macs[n.MAC] {
			t.Errorf("MAC %q empty or used twice", n.MAC)
		}
		macs[n.MAC] = true
	}

	// OVF export, and import as a copy while the original exists.
	full := a.expect(200, "GET", "/vms/"+vm.ID+"?all_content=true", "")
	var withCfg struct {
		Data string `xml:"initialization>configuration>data"`
		Type string `xml:"initialization>configuration>type"`
	}
	xml.Unmarshal([]byte(full), &withCfg)
	if withCfg.Type != "ovf" || !strings.Contains(withCfg.Data, "<rasd:ResourceType>10</rasd:ResourceType>") {
		t.Fatalf("all_content: %s", full)
	}
	imp := func(query, name string, status int) resp {
		t.Helper()
		r := a.do("POST", "/vms"+query, `<vm><name>`+name+`</name><cluster id="`+cluster+`"/><initialization><regenerate_ids>true</regenerate_ids>`+
			`<configuration><type>ovf</type><data>`+escape(withCfg.Data)+`</data></configuration></initialization></vm>`)
		if r.status != status {
			t.Fatalf("import %s: %d %s", query, r.status, r.body)
		}
		return r
	}
	r := imp("?reassign_bad_macs=false", "copy0", 409)
	if f := parseX(t, r.body); !strings.Contains(f.Detail, "is already in use by VM or snapshot: src") {
		t.Fatalf("refusal does not name the MAC's VM: %s", f.Detail)
	}
	copyVM := parseX(t, imp("", "copy", 201).body)
	n3 := nicsOf(t, a, "/vms/"+copyVM.ID+"/nics")
	if state(n3) != state(orig) {
		t.Fatalf("imported copy\n%s\nwant\n%s", state(n3), state(orig))
	}
	for _, n := range n3 {
		if macs[n.MAC] {
			t.Errorf("imported vNIC %s collides on MAC %s", n.Name, n.MAC)
		}
	}
	if ev := a.expect(200, "GET", "/events?max=10", ""); !strings.Contains(ev, "<code>833</code>") || !strings.Contains(ev, "<code>1152</code>") {
		t.Errorf("import events missing:\n%s", ev)
	}

	// Import into a cluster without red: refused naming the vNICs, or on the empty network on request.
	other := parseX(t, a.expect(201, "POST", "/clusters", `<cluster><name>other</name><data_center><name>Default</name></data_center></cluster>`))
	cfg := `<initialization><regenerate_ids>true</regenerate_ids><configuration><type>ovf</type><data>` + escape(withCfg.Data) + `</data></configuration></initialization>`
	f := parseX(t, a.expect(409, "POST", "/vms", `<vm><name>o1</name><cluster id="`+other.ID+`"/>`+cfg+`</vm>`))
	if !strings.Contains(f.Detail, "a (red)") || !strings.Contains(f.Detail, "d (blue)") {
		t.Fatalf("missing networks not named: %s", f.Detail)
	}
	o2 := parseX(t, a.expect(201, "POST", "/vms?empty_missing_networks=true", `<vm><name>o2</name><cluster id="`+other.ID+`"/>`+cfg+`</vm>`))
	for _, n := range nicsOf(t, a, "/vms/"+o2.ID+"/nics") {
		if n.Profile.ID != "" {
			t.Errorf("vNIC %s kept a profile from another cluster", n.Name)
		}
	}

	// Template OVF round trip.
	tfull := a.expect(200, "GET", "/templates/"+tp.ID+"?all_content=true", "")
	xml.Unmarshal([]byte(tfull), &withCfg)
	tp2 := parseX(t, a.expect(201, "POST", "/templates", `<template><name>t2</name><cluster id="`+cluster+`"/><initialization><regenerate_ids>true</regenerate_ids>`+
		`<configuration><type>ovf</type><data>`+escape(withCfg.Data)+`</data></configuration></initialization></template>`))
	if got := nicsOf(t, a, "/templates/"+tp2.ID+"/nics"); state(got) != state(tnics) {
		t.Fatalf("template round trip\n%s\nwant\n%s", state(got), state(tnics))
	}

	// Cluster moves: a cluster lacking a network, and a 3.1 cluster while a vNIC is unlinked.
	f = parseX(t, a.expect(409, "PUT", "/vms/"+vm.ID, `<vm><cluster id="`+other.ID+`"/></vm>`))
	if !strings.Contains(f.Detail, "a (red)") || !strings.Contains(f.Detail, "b (red)") || !strings.Contains(f.Detail, "d (blue)") {
		t.Fatalf("cluster move fault does not name the vNICs and networks: %s", f.Detail)
	}
	old := parseX(t, a.expect(201, "POST", "/clusters", `<cluster><name>old</name><data_center><name>Default</name></data_center><version><major>3</major><minor>1</minor></version></cluster>`))
	for _, n := range []string{red, blue} {
		var p struct {
			Network struct {
				ID string `xml:"id,attr"`
			} `xml:"network"`
		}
		xml.Unmarshal([]byte(a.expect(200, "GET", "/vnicprofiles/"+n, "")), &p)
		a.expect(201, "POST", "/clusters/"+old.ID+"/networks", `<network id="`+p.Network.ID+`"/>`)
	}
	f = parseX(t, a.expect(400, "PUT", "/vms/"+vm.ID, `<vm><cluster id="`+old.ID+`"/></vm>`))
	if !strings.Contains(f.Detail, "Link state is set to 'Down'") || !strings.Contains(f.Detail, "clusters of version 3.1") || !strings.Contains(f.Detail, "vNIC b") {
		t.Fatalf("3.1 move fault: %s", f.Detail)
	}
	// Hostile OVF: a clear 400, nothing created.
	for _, bad := range []string{"not xml", `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Envelope><Content><Name>&e;</Name></Content></Envelope>`} {
		r := a.do("POST", "/vms", `<vm><name>bad</name><cluster id="`+cluster+`"/><initialization><configuration><type>ovf</type><data>`+escape(bad)+`</data></configuration></initialization></vm>`)
		if r.status != 400 || !strings.Contains(r.body, "invalid OVF") {
			t.Fatalf("hostile OVF: %d %s", r.status, r.body)
		}
	}
	if got := parseXList(t, a.expect(200, "GET", "/vms?search="+url.QueryEscape("name=bad"), "")); len(got) != 0 {
		t.Fatalf("a hostile OVF created %d VMs", len(got))
	}
}
