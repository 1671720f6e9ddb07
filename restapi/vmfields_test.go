package restapi_test

import (
	"strings"
	"testing"
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
	if !strings.Contains(tpl, "<threads>2</threads>") || !strings.Contains(tpl, "<comment>tc</comment>") || !strings.Contains(tpl, "<memory_policy>") {
		t.Errorf("template:\n%s", tpl)
	}
	vm2 := a.expect(201, "POST", "/vms", `<vm><name>c2</name><cluster><name>Default</name></cluster><template><name>t1</name></template></vm>`)
	if !strings.Contains(vm2, "<sockets>2</sockets>") || !strings.Contains(vm2, "<threads>2</threads>") {
		t.Errorf("VM from the template:\n%s", vm2)
	}
	// The VM starts with it on the (simulated) host.
	a.expect(200, "POST", "/vms/"+id+"/start", `<action/>`)
}
