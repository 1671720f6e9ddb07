package restapi_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
)

// TestSearchWithSDK sends the searches oVirt's clients build through
// oVirt's Go SDK itself (its encoding of search, max): go-ovirt-client
// v3.2.0's SearchVMs strings and the Ansible collection's data center by
// cluster; a malformed one is the SDK's typed error for a 400.
func TestSearchWithSDK(t *testing.T) {
	m := startEngine(t)
	conn, err := ovirtsdk4.NewConnectionBuilder().URL(m.URL()).Username("admin@internal").Password("secret").
		Insecure(true).Timeout(30 * time.Second).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sys := conn.SystemService()
	for _, n := range []string{"tf-1", "tf-2"} {
		_, err := sys.VmsService().Add().Vm(ovirtsdk4.NewVmBuilder().Name(n).
			Cluster(ovirtsdk4.NewClusterBuilder().Name("Default").MustBuild()).
			Template(ovirtsdk4.NewTemplateBuilder().Name("Blank").MustBuild()).MustBuild()).Send()
		if err != nil {
			t.Fatal(err)
		}
	}
	vms := func(q string, max int64) string {
		t.Helper()
		req := sys.VmsService().List().Search(q)
		if max > 0 {
			req = req.Max(max)
		}
		res, err := req.Send()
		if err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
		var names []string
		for _, v := range res.MustVms().Slice() {
			names = append(names, v.MustName())
		}
		return strings.Join(names, ",")
	}
	for _, tc := range []struct {
		q    string
		max  int64
		want string
	}{
		{`name = "tf-1" AND (status = down OR status = up OR status = wait_for_launch)`, 0, "tf-1"},
		{`name = "tf-2" AND (status = down)`, 0, "tf-2"},
		{`(status != up AND status != down)`, 0, ""},
		{`name=tf-*  sortby name desc`, 0, "tf-2,tf-1"},
		{`name=tf-* sortby name desc page 2`, 1, "tf-1"},
		{`cluster="Default" and template=Blank and name!=tf-2`, 0, "tf-1"},
	} {
		if got := vms(tc.q, tc.max); got != tc.want {
			t.Errorf("search %q max %d = %q, want %q", tc.q, tc.max, got, tc.want)
		}
	}
	dcs, err := sys.DataCentersService().List().Search("Clusters.name=Default").Send()
	if err != nil || len(dcs.MustDataCenters().Slice()) != 1 || dcs.MustDataCenters().Slice()[0].MustName() != "Default" {
		t.Errorf("data centers by Clusters.name=Default: %v %v", dcs, err)
	}
	_, err = sys.VmsService().List().Search(`name = "tf-1" AND (status = down`).Send()
	if err == nil || !strings.Contains(err.Error(), "a ')' is missing") {
		t.Errorf("unclosed parenthesis: %v", err)
	}
	var authErr *ovirtsdk4.AuthError
	if errors.As(err, &authErr) {
		t.Errorf("a 400 is not an AuthError: %v", err)
	}
}
