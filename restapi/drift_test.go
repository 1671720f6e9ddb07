package restapi_test

import (
	"encoding/json"
	"encoding/xml"
	"testing"
)

// TestClusterDriftPolicy: the policy is on the cluster, in XML and JSON,
// report by default, settable on POST and PUT, and anything else is a 400
// with oVirt's bad-enum fault that changes nothing.
func TestClusterDriftPolicy(t *testing.T) {
	m := startEngine(t)
	type cluster struct {
		ID          string `xml:"id,attr" json:"id"`
		DriftPolicy string `xml:"drift_policy" json:"drift_policy"`
		Reason      string `xml:"reason" json:"reason"`
		Detail      string `xml:"detail" json:"detail"`
	}
	const bad = "Invalid value 'repair' for field 'drift_policy'. Possible values: [report, enforce]"
	for _, tc := range []struct {
		name   string
		json   bool
		add    string
		set    func(p string) string
		parse  func([]byte, any) error
		newOne string
	}{
		{"xml", false, `<cluster><name>x1</name><data_center><name>Default</name></data_center><drift_policy>enforce</drift_policy></cluster>`,
			func(p string) string { return `<cluster><drift_policy>` + p + `</drift_policy></cluster>` }, xml.Unmarshal,
			`<cluster><name>x2</name><data_center><name>Default</name></data_center><drift_policy>repair</drift_policy></cluster>`},
		{"json", true, `{"name":"j1","data_center":{"name":"Default"},"drift_policy":"enforce"}`,
			func(p string) string { return `{"drift_policy":"` + p + `"}` }, json.Unmarshal,
			`{"name":"j2","data_center":{"name":"Default"},"drift_policy":"repair"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAPI(t, m, tc.json)
			get := func(method, path, body string, status int) cluster {
				t.Helper()
				var c cluster
				if err := tc.parse([]byte(a.expect(status, method, path, body)), &c); err != nil {
					t.Fatal(err)
				}
				return c
			}
			def := newAPI(t, m, false).idByName("clusters", "Default")
			if c := get("GET", "/clusters/"+def, "", 200); c.DriftPolicy != "report" {
				t.Errorf("Default's policy = %q, want report", c.DriftPolicy)
			}
			added := get("POST", "/clusters", tc.add, 201)
			if added.DriftPolicy != "enforce" {
				t.Errorf("added with enforce: %q", added.DriftPolicy)
			}
			if c := get("PUT", "/clusters/"+added.ID, tc.set("report"), 200); c.DriftPolicy != "report" {
				t.Errorf("PUT report: %q", c.DriftPolicy)
			}
			for _, f := range []cluster{get("PUT", "/clusters/"+added.ID, tc.set("repair"), 400), get("POST", "/clusters", tc.newOne, 400)} {
				if f.Reason != "Invalid Enum value" || f.Detail != bad {
					t.Errorf("fault = %q / %q", f.Reason, f.Detail)
				}
			}
			if c := get("GET", "/clusters/"+added.ID, "", 200); c.DriftPolicy != "report" {
				t.Errorf("a refused PUT changed the policy to %q", c.DriftPolicy)
			}
		})
	}
}
