package restapi_test

import (
	"net/http/httptest"
	"testing"

	"vwire.dev/vwire/restapi"
)

// TestRoute: the route label of a request is its pattern as registered,
// never its raw path; /v4 is the same route; an unknown path has none.
func TestRoute(t *testing.T) {
	s := restapi.New(nil, nil)
	for _, c := range []struct{ method, path, want string }{
		{"GET", "/ovirt-engine/api/vms/0b5c8d1e-aaaa-bbbb-cccc-000000000001", "GET /vms/{id}"},
		{"GET", "/ovirt-engine/api/v4/vms/0b5c8d1e-aaaa-bbbb-cccc-000000000001", "GET /vms/{id}"},
		{"PUT", "/ovirt-engine/api/vms/x/nics/y", "PUT /vms/{id}/nics/{nid}"},
		{"GET", "/ovirt-engine/api", "GET /"},
		{"POST", "/ovirt-engine/sso/oauth/token", "POST /ovirt-engine/sso/oauth/token"},
		{"GET", "/ovirt-engine/api/nosuchthing", ""},
		{"PATCH", "/ovirt-engine/api/vms", ""},
	} {
		if got := s.Route(httptest.NewRequest(c.method, c.path, nil)); got != c.want {
			t.Errorf("Route(%s %s) = %q, want %q", c.method, c.path, got, c.want)
		}
	}
}
