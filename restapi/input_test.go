package restapi_test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"

	"vwire.dev/vwire"
	"vwire.dev/vwire/ovf"
)

// TestHostileInput walks issue 11's hostile inputs through the API: each
// gets a 4xx with oVirt's fault (never a 5xx) and changes nothing.
func TestHostileInput(t *testing.T) {
	m := startEngine(t)
	x := newAPI(t, m, false)
	j := newAPI(t, m, true)

	vm := parseX(t, x.expect(201, "POST", "/vms", `<vm><name>h1</name><description>ok</description><cluster><name>Default</name></cluster><template><name>Blank</name></template></vm>`))
	mgmt := x.idByName("vnicprofiles", "ovirtmgmt")
	nic := parseX(t, x.expect(201, "POST", "/vms/"+vm.ID+"/nics", `<nic><name>nic1</name><vnic_profile id="`+mgmt+`"/></nic>`))
	net := parseX(t, x.expect(201, "POST", "/networks", `<network><name>red</name><data_center><name>Default</name></data_center></network>`))
	prof := parseX(t, x.expect(201, "POST", "/networks/"+net.ID+"/vnicprofiles", `<vnic_profile><name>bounce</name><guest_notification>link_bounce</guest_notification><link_bounce_hold>500</link_bounce_hold></vnic_profile>`))
	pool := parseX(t, x.expect(201, "POST", "/macpools", `<mac_pool><name>p2</name><ranges><range><from>02:00:00:00:00:00</from><to>02:00:00:00:00:0f</to></range></ranges></mac_pool>`))
	host := parseX(t, x.expect(201, "POST", "/hosts", `<host><name>far</name><address>127.0.0.1</address><port>1</port></host>`))

	vmPath, nicPath := "/vms/"+vm.ID, "/vms/"+vm.ID+"/nics/"+nic.ID
	profPath, poolPath, hostPath := "/vnicprofiles/"+prof.ID, "/macpools/"+pool.ID, "/hosts/"+host.ID
	ovfBody := func(name string, nics int, mib int64) string {
		v := &ovf.VM{Name: name, MemoryMiB: mib, OSType: "other"}
		for i := 0; i < nics; i++ {
			v.NICs = append(v.NICs, ovf.NIC{Name: fmt.Sprintf("nic%d", i), Interface: "virtio", Linked: true, Plugged: true})
		}
		data, err := ovf.Write(v)
		if err != nil {
			t.Fatal(err)
		}
		return `<vm><cluster><name>Default</name></cluster><initialization><configuration><type>ovf</type><data>` + escape(string(data)) + `</data></configuration></initialization></vm>`
	}
	search := func(q string) string { return "/vms?search=" + url.QueryEscape(q) }

	cases := []struct {
		name         string
		api          *api
		method, path string
		body         string
		status       int
		unchanged    string // a resource that must read the same before and after
	}{
		// search= with text whose lower case has another length
		{"search, lower case longer", x, "GET", search("name=ȺȺȺȺȺȺ page"), "", 200, "/vms"},
		{"search, lower case shorter", x, "GET", search("name=\u212a\u212a\u212a\u212a"), "", 200, "/vms"},
		// characters XML 1.0 forbids
		{"control character in a JSON description", j, "PUT", vmPath, `{"description":"a\u0001b"}`, 400, vmPath},
		{"control character in a new VM's JSON description", j, "POST", "/vms", `{"name":"h2","description":"\u001b[31m","cluster":{"name":"Default"},"template":{"name":"Blank"}}`, 400, "/vms"},
		{"control character in an XML description", x, "PUT", vmPath, `<vm><description>a&#1;b</description></vm>`, 400, vmPath},
		// references are objects with ids
		{"profile as a JSON string", j, "PUT", nicPath, `{"vnic_profile":"` + prof.ID + `"}`, 400, nicPath},
		{"profile as XML text", x, "PUT", nicPath, `<nic><vnic_profile>` + prof.ID + `</vnic_profile></nic>`, 400, nicPath},
		{"profile by name", x, "PUT", nicPath, `<nic><vnic_profile><name>bounce</name></vnic_profile></nic>`, 400, nicPath},
		// numbers are range-checked before conversion
		{"hold that wraps a Duration, XML", x, "PUT", profPath, `<vnic_profile><link_bounce_hold>18446744073710</link_bounce_hold></vnic_profile>`, 400, profPath},
		{"hold that wraps a Duration, JSON number", j, "PUT", profPath, `{"link_bounce_hold":18446744073710}`, 400, profPath},
		{"hold beyond int64", x, "PUT", profPath, `<vnic_profile><link_bounce_hold>99999999999999999999999</link_bounce_hold></vnic_profile>`, 400, profPath},
		{"negative hold", x, "PUT", profPath, `<vnic_profile><link_bounce_hold>-1</link_bounce_hold></vnic_profile>`, 400, profPath},
		{"memory beyond the maximum", x, "PUT", vmPath, fmt.Sprintf(`<vm><memory>%d</memory></vm>`, vwire.MaxMemory+1), 400, vmPath},
		{"new VM with 2^62 bytes", x, "POST", "/vms", `<vm><name>h3</name><memory>4611686018427387904</memory><cluster><name>Default</name></cluster><template><name>Blank</name></template></vm>`, 400, "/vms"},
		{"zero memory", j, "PUT", vmPath, `{"memory":"0"}`, 400, vmPath},
		{"port beyond int64", x, "PUT", hostPath, `<host><port>99999999999999999999</port></host>`, 400, hostPath},
		// hosts: update checks what add checks
		{"host port -5", x, "PUT", hostPath, `<host><port>-5</port></host>`, 400, hostPath},
		{"host address with spaces", x, "PUT", hostPath, `<host><address>my host</address></host>`, 400, hostPath},
		{"new host with port -5", x, "POST", "/hosts", `<host><name>neg</name><address>192.0.2.1</address><port>-5</port></host>`, 400, "/hosts"},
		{"new host with an address with spaces", x, "POST", "/hosts", `<host><name>sp</name><address>192.0.2.1 x</address></host>`, 400, "/hosts"},
		// MAC pools
		{"pool with the zero MAC", x, "POST", "/macpools", `<mac_pool><name>z</name><ranges><range><from>00:00:00:00:00:00</from><to>00:00:00:00:00:0f</to></range></ranges></mac_pool>`, 400, "/macpools"},
		{"pool with the broadcast address", x, "POST", "/macpools", `<mac_pool><name>b</name><ranges><range><from>ff:ff:ff:ff:ff:ff</from><to>ff:ff:ff:ff:ff:ff</to></range></ranges></mac_pool>`, 400, "/macpools"},
		{"pool update to overlapping ranges", x, "PUT", poolPath, `<mac_pool><ranges><range><from>02:00:00:00:00:00</from><to>02:00:00:00:00:0f</to></range><range><from>02:00:00:00:00:08</from><to>02:00:00:00:00:1f</to></range></ranges></mac_pool>`, 400, poolPath},
		{"pool update to the zero MAC", j, "PUT", poolPath, `{"ranges":{"range":[{"from":"00:00:00:00:00:00","to":"00:00:00:00:00:01"}]}}`, 400, poolPath},
		// types and duplicates
		{"JSON number for a name", j, "PUT", nicPath, `{"name":123}`, 400, nicPath},
		{"JSON number for a new VM's name", j, "POST", "/vms", `{"name":123,"cluster":{"name":"Default"},"template":{"name":"Blank"}}`, 400, "/vms"},
		{"JSON number for a boolean", j, "PUT", nicPath, `{"linked":0}`, 400, nicPath},
		{"JSON duplicate field", j, "PUT", nicPath, `{"linked":"false","linked":"true"}`, 400, nicPath},
		{"XML duplicate field", x, "PUT", nicPath, `<nic><linked>false</linked><linked>true</linked></nic>`, 400, nicPath},
		{"XML id as attribute and element", x, "PUT", nicPath, `<nic><vnic_profile id="` + mgmt + `"><id>` + prof.ID + `</id></vnic_profile></nic>`, 400, nicPath},
		// OVF import
		{"OVF with 40 vNICs", x, "POST", "/vms", ovfBody("o40", 40, 1024), 400, "/vms"},
		{"OVF with 2^50 MiB", x, "POST", "/vms", ovfBody("ohuge", 1, 1<<50), 400, "/vms"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := x.expect(200, "GET", tc.unchanged, "")
			r := tc.api.do(tc.method, tc.path, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d\n%s", r.status, tc.status, r.body)
			}
			if tc.status >= 400 && !isFault(r.body, tc.api.json) {
				t.Errorf("the answer is not oVirt's fault:\n%s", r.body)
			}
			if after := x.expect(200, "GET", tc.unchanged, ""); after != before {
				t.Errorf("%s changed:\nbefore %s\nafter  %s", tc.unchanged, before, after)
			}
		})
	}
	// Whatever was tried, the collections are well-formed XML.
	for _, p := range []string{"/vms", "/hosts", "/macpools", "/vnicprofiles", "/vms/" + vm.ID + "/nics", "/events"} {
		if err := wellFormed(x.expect(200, "GET", p, "")); err != nil {
			t.Errorf("GET %s is not well-formed XML: %v", p, err)
		}
	}
}

func isFault(body string, isJSON bool) bool {
	if isJSON {
		return strings.Contains(body, `"reason"`) && strings.Contains(body, `"detail"`)
	}
	f := struct {
		XMLName xml.Name
		Reason  string `xml:"reason"`
		Detail  string `xml:"detail"`
	}{}
	return xml.Unmarshal([]byte(body), &f) == nil && f.XMLName.Local == "fault" && f.Reason != "" && f.Detail != ""
}

// wellFormed reads every token of an XML document.
func wellFormed(body string) error {
	d := xml.NewDecoder(bytes.NewReader([]byte(body)))
	d.Strict = true
	for {
		_, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
