package restapi_test

import (
	"encoding/xml"
	"strconv"
	"strings"
	"testing"
	"time"

	"vwire.dev/vwire/hypervisor"
)

// TestVMCPUCommentAndPolicies: a VM's CPU topology and comment are stored
// as given (or taken from its template), changed by PUT, bounded, and shown
// with the memory policy and high availability oVirt's clients require.
func TestVMCPUCommentAndPolicies(t *testing.T) {
	m := startEngine(t)
	a := newAPI(t, m, false)
	body := a.expect(201, "POST", "/vms", `<vm><name>c1</name><cluster><name>Default</name></cluster><template><name>Blank</name></template>`+
		`<comment>note</comment><cpu><topology><sockets>2</sockets><cores>2</cores></topology></cpu></vm>`)
	for _, want := range []string{"<comment>note</comment>", "<sockets>2</sockets>", "<cores>2</cores>", "<threads>1</threads>",
		"<description></description>", "<guaranteed>1073741824</guaranteed>", "<ballooning>false</ballooning>",
		"<high_availability>", "<enabled>false</enabled>"} {
		if !strings.Contains(body, want) {
			t.Errorf("created VM lacks %s:\n%s", want, body)
		}
	}
	id := parseX(t, body).ID
	body = a.expect(200, "PUT", "/vms/"+id, `<vm><cpu><topology><threads>2</threads></topology></cpu><comment></comment></vm>`)
	if !strings.Contains(body, "<sockets>2</sockets>") || !strings.Contains(body, "<threads>2</threads>") || !strings.Contains(body, "<comment></comment>") {
		t.Errorf("after PUT:\n%s", body)
	}
	for _, bad := range []string{
		`<vm><cpu><topology><sockets>0</sockets></topology></cpu></vm>`,
		`<vm><cpu><topology><sockets>200</sockets><cores>2</cores></topology></cpu></vm>`,
		`<vm><cpu><topology><cores>x</cores></topology></cpu></vm>`,
	} {
		f := parseX(t, a.expect(400, "PUT", "/vms/"+id, bad))
		if f.Detail == "" {
			t.Errorf("%s: no detail", bad)
		}
	}
	if body := a.expect(200, "GET", "/vms/"+id, ""); !strings.Contains(body, "<threads>2</threads>") || !strings.Contains(body, "<sockets>2</sockets>") {
		t.Errorf("a refused PUT changed the VM:\n%s", body)
	}
	// A template from the VM has its topology; a VM from the template too.
	tpl := a.expect(201, "POST", "/templates", `<template><name>t1</name><comment>tc</comment><vm id="`+id+`"/></template>`)
	if !strings.Contains(tpl, "<threads>2</threads>") || !strings.Contains(tpl, "<comment>tc</comment>") || !strings.Contains(tpl, "<memory_policy>") ||
		!strings.Contains(tpl, "<version_number>1</version_number>") || !strings.Contains(tpl, "<base_template href=") {
		t.Errorf("template:\n%s", tpl)
	}
	vm2 := a.expect(201, "POST", "/vms", `<vm><name>c2</name><cluster><name>Default</name></cluster><template><name>t1</name></template></vm>`)
	if !strings.Contains(vm2, "<sockets>2</sockets>") || !strings.Contains(vm2, "<threads>2</threads>") {
		t.Errorf("VM from the template:\n%s", vm2)
	}
	// The VM starts with it on the (simulated) host.
	a.expect(200, "POST", "/vms/"+id+"/start", `<action/>`)
}

// TestNICStatisticsAndEmptySubCollections: a vNIC's statistics are its
// host's counters, read when asked, with rates between two readings; down
// or unplugged, zeros; a VM's NUMA nodes and reported devices are empty.
func TestNICStatisticsAndEmptySubCollections(t *testing.T) {
	m := startEngine(t)
	a := newAPI(t, m, false)
	vm := parseX(t, a.expect(201, "POST", "/vms", `<vm><name>s1</name><cluster><name>Default</name></cluster><template><name>Blank</name></template></vm>`)).ID
	nic := parseX(t, a.expect(201, "POST", "/vms/"+vm+"/nics", `<nic><name>nic1</name></nic>`)).ID
	base := "/vms/" + vm + "/nics/" + nic
	stats := func() map[string]string {
		var doc struct {
			Stats []struct {
				ID    string `xml:"id,attr"`
				Name  string `xml:"name"`
				Unit  string `xml:"unit"`
				Datum string `xml:"values>value>datum"`
			} `xml:"statistic"`
		}
		if err := xml.Unmarshal([]byte(a.expect(200, "GET", base+"/statistics", "")), &doc); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, s := range doc.Stats {
			out[s.Name] = s.Datum
			if s.ID == "" {
				t.Errorf("statistic %s has no id", s.Name)
			}
		}
		return out
	}
	if s := stats(); s["data.total.rx"] != "0" || s["data.current.rx"] != "0" || len(s) < 8 {
		t.Errorf("a down VM's statistics: %v", s)
	}
	a.expect(200, "POST", "/vms/"+vm+"/start", `<action/>`)
	alias := "ua-" + nic
	m.Sim.SetCounters(vm, alias, hypervisor.NICCounters{RxBytes: 1000, TxBytes: 500, RxPackets: 10, TxPackets: 5, RxErrors: 1, TxDrops: 2})
	if s := stats(); s["data.total.rx"] != "1000" || s["data.total.tx"] != "500" || s["errors.total.rx"] != "1" ||
		s["packets.total.rx"] != "10" || s["drops.total.tx"] != "2" || s["data.current.rx"] != "0" {
		t.Errorf("first reading: %v", s)
	}
	time.Sleep(50 * time.Millisecond)
	m.Sim.SetCounters(vm, alias, hypervisor.NICCounters{RxBytes: 101000, TxBytes: 500})
	s := stats()
	rate, err := strconv.ParseFloat(s["data.current.rx"], 64)
	if err != nil || rate <= 0 || s["data.current.tx"] != "0" {
		t.Errorf("second reading: rate %v (%v), %v", rate, err, s)
	}
	bps, _ := strconv.ParseFloat(s["data.current.rx.bps"], 64)
	if d := bps - 8*rate; d > 1 || d < -1 {
		t.Errorf("rx.bps %v is not 8 × %v", bps, rate)
	}
	// One statistic by its id, oVirt's name-based UUID of its name.
	one := parseX(t, a.expect(200, "GET", base+"/statistics/"+statIDOf(t, a, base, "data.total.rx"), ""))
	if one.Name != "data.total.rx" {
		t.Errorf("one statistic: %+v", one)
	}
	a.expect(404, "GET", base+"/statistics/00000000-0000-0000-0000-000000000000", "")
	// JSON: the datum is a number.
	js := &api{t: t, base: a.base, json: true, auth: a.auth}
	if body := js.expect(200, "GET", base+"/statistics", ""); !strings.Contains(body, `"datum": 101000`) {
		t.Errorf("JSON datum not a number:\n%.600s", body)
	}
	// Unplugged: zeros.
	a.expect(200, "PUT", base, `<nic><plugged>false</plugged></nic>`)
	if s := stats(); s["data.total.rx"] != "0" {
		t.Errorf("unplugged: %v", s)
	}
	for _, p := range []string{"/vms/" + vm + "/numanodes", "/vms/" + vm + "/reporteddevices", base + "/reporteddevices"} {
		if body := a.expect(200, "GET", p, ""); strings.Contains(body, "<vm_numa_node ") || strings.Contains(body, "<reported_device ") {
			t.Errorf("%s not empty:\n%s", p, body)
		}
	}
	a.expect(404, "GET", "/vms/"+vm+"/numanodes/1", "")
	a.expect(404, "GET", "/vms/00000000-0000-0000-0000-000000000009/numanodes", "")
	a.expect(404, "GET", "/vms/"+vm+"/nics/00000000-0000-0000-0000-000000000009/statistics", "")
}

func statIDOf(t *testing.T, a *api, base, name string) string {
	var doc struct {
		Stats []struct {
			ID   string `xml:"id,attr"`
			Name string `xml:"name"`
		} `xml:"statistic"`
	}
	xml.Unmarshal([]byte(a.expect(200, "GET", base+"/statistics", "")), &doc)
	for _, s := range doc.Stats {
		if s.Name == name {
			return s.ID
		}
	}
	t.Fatalf("no statistic %s", name)
	return ""
}
