package restapi_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
)

// TestOVirtGoSDKFaults: every refusal reaches oVirt's Go SDK as the typed
// error it maps (issue 14 point 1): a DELETE's fault is bare, a missing
// entity is its NotFoundError, a conflict its ConflictError, a bad login
// its AuthError.
func TestOVirtGoSDKFaults(t *testing.T) {
	m := startEngineTLS(t)
	connect := func(pw string) *ovirtsdk4.Connection {
		conn, err := ovirtsdk4.NewConnectionBuilder().URL(m.URL()).Username("admin@internal").Password(pw).
			CAFile(m.CAFile()).Timeout(30 * time.Second).Build()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	sys := connect("secret").SystemService()
	vm, err := sys.VmsService().Add().Vm(ovirtsdk4.NewVmBuilder().Name("f1").
		Cluster(ovirtsdk4.NewClusterBuilder().Name("Default").MustBuild()).
		Template(ovirtsdk4.NewTemplateBuilder().Name("Blank").MustBuild()).MustBuild()).Send()
	if err != nil {
		t.Fatal(err)
	}
	vmSvc := sys.VmsService().VmService(vm.MustVm().MustId())
	nic, err := vmSvc.NicsService().Add().Nic(ovirtsdk4.NewNicBuilder().Name("nic1").MustBuild()).Send()
	if err != nil {
		t.Fatal(err)
	}
	nicSvc := vmSvc.NicsService().NicService(nic.MustNic().MustId())
	if _, err := vmSvc.Start().Send(); err != nil {
		t.Fatal(err)
	}
	// Removing a plugged vNIC of a running VM: the SDK's ConflictError.
	_, err = nicSvc.Remove().Send()
	if _, ok := errors.AsType[*ovirtsdk4.ConflictError](err); !ok {
		t.Fatalf("remove of a plugged vNIC: %T %v, want ConflictError", err, err)
	}
	if _, err := vmSvc.Stop().Send(); err != nil {
		t.Fatal(err)
	}
	if _, err := nicSvc.Remove().Send(); err != nil {
		t.Fatal(err)
	}
	// Removing it again, reading it, and a VM that never was: NotFoundError.
	for what, call := range map[string]func() error{
		"remove again": func() error { _, err := nicSvc.Remove().Send(); return err },
		"get removed":  func() error { _, err := nicSvc.Get().Send(); return err },
		"missing VM": func() error {
			_, err := sys.VmsService().VmService("00000000-0000-0000-0000-000000000001").Get().Send()
			return err
		},
		"malformed id": func() error { _, err := sys.VmsService().VmService("not-an-id").Remove().Send(); return err },
	} {
		if _, ok := errors.AsType[*ovirtsdk4.NotFoundError](call()); !ok {
			t.Errorf("%s: %T %v, want NotFoundError", what, call(), call())
		}
	}
	// A wrong password: AuthError.
	_, err = connect("wrong").SystemService().VmsService().List().Send()
	if _, ok := errors.AsType[*ovirtsdk4.AuthError](err); !ok {
		t.Errorf("wrong password: %T %v, want AuthError", err, err)
	}
}

// TestUnroutedAnswersAreFaults: a path no route takes, a method a path does
// not take and an unsupported version answer oVirt's fault in XML or JSON
// as asked, never Go's text/plain.
func TestUnroutedAnswersAreFaults(t *testing.T) {
	m := startEngineTLS(t)
	hc := tlsClient(t, m)
	for _, c := range []struct {
		method, path, version string
		status                int
		allow, detail         string
	}{
		{"GET", "/ovirt-engine/api/nosuchthing", "", 404, "", "No resource at /ovirt-engine/api/nosuchthing."},
		{"GET", "/ovirt-engine/api/vms/x/nosuch", "", 404, "", "No resource at"},
		{"GET", "/elsewhere", "", 404, "", "No resource at /elsewhere."},
		{"PUT", "/ovirt-engine/api/vms", "", 405, "GET, POST, HEAD", "/ovirt-engine/api/vms does not take PUT; it takes GET, POST, HEAD."},
		{"PATCH", "/ovirt-engine/api/vms/x/nics/y", "", 405, "GET, PUT, DELETE, HEAD", "does not take PATCH"},
		{"GET", "/ovirt-engine/api/v3/vms", "", 400, "", "Unsupported API version 3: this engine serves version 4."},
		{"GET", "/ovirt-engine/api/vms", "3", 400, "", "Unsupported API version 3"},
	} {
		for _, asJSON := range []bool{false, true} {
			req, _ := http.NewRequest(c.method, m.BaseURL()+c.path, nil)
			req.SetBasicAuth("admin@internal", "secret")
			if c.version != "" {
				req.Header.Set("Version", c.version)
			}
			if asJSON {
				req.Header.Set("Accept", "application/json")
			}
			res, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != c.status || res.Header.Get("Allow") != c.allow {
				t.Errorf("%s %s: %d Allow %q, want %d %q", c.method, c.path, res.StatusCode, res.Header.Get("Allow"), c.status, c.allow)
			}
			var reason, detail string
			if asJSON {
				var f struct{ Reason, Detail string }
				if err := json.Unmarshal(body, &f); err != nil || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
					t.Errorf("%s %s as JSON: %v %q\n%s", c.method, c.path, err, res.Header.Get("Content-Type"), body)
				}
				reason, detail = f.Reason, f.Detail
			} else {
				f, err := ovirtsdk4.XMLFaultReadOne(ovirtsdk4.NewXMLReader(body), nil, "")
				if err != nil {
					t.Errorf("%s %s: the SDK cannot read the fault: %v\n%s", c.method, c.path, err, body)
					continue
				}
				reason, detail = f.MustReason(), f.MustDetail()
			}
			if reason == "" || !strings.Contains(detail, c.detail) {
				t.Errorf("%s %s (json %v): reason %q detail %q, want %q", c.method, c.path, asJSON, reason, detail, c.detail)
			}
		}
	}
}
