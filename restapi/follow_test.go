package restapi_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
)

// TestFollow: follow= inlines a VM's vNICs (get and list, XML and JSON),
// references further along a path, and oVirt's Go SDK reads them.
func TestFollow(t *testing.T) {
	m := startEngine(t)
	a := newAPI(t, m, false)
	mgmt := a.idByName("vnicprofiles", "ovirtmgmt")
	vm := parseX(t, a.expect(201, "POST", "/vms", `<vm><name>fo</name><cluster><name>Default</name></cluster><template><name>Blank</name></template></vm>`)).ID
	for _, n := range []string{"nic1", "nic2"} {
		a.expect(201, "POST", "/vms/"+vm+"/nics", `<nic><name>`+n+`</name><vnic_profile id="`+mgmt+`"/></nic>`)
	}
	body := a.expect(200, "GET", "/vms/"+vm+"?follow=nics", "")
	if strings.Contains(body, `rel="nics"`) || strings.Count(body, "<nic href=") != 2 || !strings.Contains(body, "<nics>") {
		t.Errorf("follow=nics:\n%s", body)
	}
	if body := a.expect(200, "GET", "/vms?follow=nics", ""); strings.Count(body, "<nic href=") != 2 {
		t.Errorf("list with follow=nics:\n%s", body)
	}
	// Along a path: each vNIC's profile in full (its name, its network).
	body = a.expect(200, "GET", "/vms/"+vm+"?follow=nics.vnic_profile", "")
	if strings.Count(body, "<name>ovirtmgmt</name>") != 2 || !strings.Contains(body, "<port_mirroring>") {
		t.Errorf("follow=nics.vnic_profile:\n%s", body)
	}
	// JSON: {"nics": {"nic": [...]}}.
	js := &api{t: t, base: a.base, json: true, auth: a.auth}
	var v struct {
		Nics struct {
			Nic []struct{ Name string } `json:"nic"`
		} `json:"nics"`
	}
	if err := json.Unmarshal([]byte(js.expect(200, "GET", "/vms/"+vm+"?follow=nics", "")), &v); err != nil || len(v.Nics.Nic) != 2 {
		t.Errorf("JSON follow: %v %+v", err, v)
	}
	// Unknown links are left alone; malformed paths are refused.
	if body := a.expect(200, "GET", "/vms/"+vm+"?follow=nosuch", ""); !strings.Contains(body, `rel="nics"`) {
		t.Errorf("follow of an unknown link changed the answer:\n%s", body)
	}
	a.expect(400, "GET", "/vms/"+vm+"?follow=a.b.c.d", "")
	a.expect(400, "GET", "/vms/"+vm+"?follow=ni-cs", "")

	// oVirt's Go SDK.
	conn, err := ovirtsdk4.NewConnectionBuilder().URL(m.URL()).Username("admin@internal").Password("secret").Timeout(30 * time.Second).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got, err := conn.SystemService().VmsService().VmService(vm).Get().Follow("nics").Send()
	if err != nil {
		t.Fatal(err)
	}
	if nics, ok := got.MustVm().Nics(); !ok || len(nics.Slice()) != 2 || nics.Slice()[0].MustName() == "" {
		t.Errorf("SDK follow: %v %v", ok, nics)
	}
}
