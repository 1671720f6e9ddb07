package restapi

import (
	"bytes"
	"encoding/xml"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"vwire.dev/vwire"
)

// TestParseBody: both formats refuse, with a 400, what would otherwise be
// coerced or resolved silently.
func TestParseBody(t *testing.T) {
	cases := []struct {
		name   string
		json   bool
		body   string
		wantOK bool
	}{
		{"XML reference with an id", false, `<nic><vnic_profile id="p1"/></nic>`, true},
		{"XML empty reference", false, `<nic><vnic_profile/></nic>`, true},
		{"XML reference as text", false, `<nic><vnic_profile>p1</vnic_profile></nic>`, false},
		{"XML duplicate element", false, `<nic><name>a</name><name>b</name></nic>`, false},
		{"XML duplicate attribute", false, `<nic><vnic_profile id="a" id="b"/></nic>`, false},
		{"XML attribute and element of one name", false, `<nic><vnic_profile id="a"><id>b</id></vnic_profile></nic>`, false},
		{"XML repeated list items", false, `<mac_pool><ranges><range><from>a</from></range><range><from>b</from></range></ranges></mac_pool>`, true},
		{"XML repeated links", false, `<vm><actions><link rel="a"/><link rel="b"/></actions><link rel="nics"/><link rel="x"/></vm>`, true},
		{"XML mixed content", false, `<nic>text<name>a</name></nic>`, false},
		{"XML value with elements", false, `<nic><name><first>a</first></name></nic>`, false},
		{"XML control character reference", false, `<vm><description>a&#1;b</description></vm>`, false},
		{"XML namespace declarations are not fields", false, `<vm xmlns="urn:x" xmlns:a="urn:a"><name>a</name></vm>`, true},
		{"JSON reference with an id", true, `{"vnic_profile":{"id":"p1"}}`, true},
		{"JSON empty reference", true, `{"vnic_profile":{}}`, true},
		{"JSON reference as a string", true, `{"vnic_profile":"p1"}`, false},
		{"JSON reference as a number", true, `{"cluster":5}`, false},
		{"JSON number for a string", true, `{"name":123}`, false},
		{"JSON boolean for a string", true, `{"description":true}`, false},
		{"JSON object for a string", true, `{"name":{"x":"y"}}`, false},
		{"JSON string for an integer", true, `{"memory":"1073741824"}`, true},
		{"JSON number for an integer", true, `{"memory":1073741824}`, true},
		{"JSON boolean for an integer", true, `{"memory":true}`, false},
		{"JSON string for a boolean", true, `{"linked":"false"}`, true},
		{"JSON boolean for a boolean", true, `{"linked":false}`, true},
		{"JSON number for a boolean", true, `{"linked":1}`, false},
		{"JSON integer VLAN id", true, `{"vlan":{"id":100}}`, true},
		{"JSON duplicate key", true, `{"name":"a","name":"b"}`, false},
		{"JSON duplicate key spelt with an escape", true, `{"name":"a","n\u0061me":"b"}`, false},
		{"JSON nested duplicate key", true, `{"vnic_profile":{"id":"a","id":"b"}}`, false},
		{"JSON array of list items", true, `{"ranges":{"range":[{"from":"a"},{"from":"b"}]}}`, true},
		{"JSON array for a single field", true, `{"name":["a","b"]}`, false},
		{"JSON nested arrays", true, `{"ranges":{"range":[[{"from":"a"}]]}}`, false},
		{"JSON control character", true, `{"description":"a\u0001b"}`, false},
		{"JSON U+FFFE", true, `{"description":"a\ufffeb"}`, false},
		{"JSON control character in a key", true, `{"a\u0001":"b"}`, false},
		{"JSON invalid UTF-8", true, "{\"description\":\"a\xffb\"}", false},
		{"JSON null is absent", true, `{"description":null}`, true},
		{"JSON trailing data", true, `{"name":"a"} {}`, false},
		{"JSON not an object", true, `"name"`, false},
		{"JSON unknown fields are not checked", true, `{"comment":5,"custom":{"a":true}}`, true},
		{"JSON items of a qualified list", true, `{"supported_versions":{"version":[{"major":"4"},{"major":"5"}]}}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseBody(strings.NewReader(tc.body), tc.json)
			if got := err == nil; got != tc.wantOK {
				t.Fatalf("parseBody(%s) = %v, want ok=%v", tc.body, err, tc.wantOK)
			}
			if err != nil && vwire.ErrorCode(err) != vwire.EINVALID {
				t.Errorf("code %s, want %s", vwire.ErrorCode(err), vwire.EINVALID)
			}
		})
	}
}

// TestParseBodySameTree: XML and JSON of one entity read the same.
func TestParseBodySameTree(t *testing.T) {
	x, err := parseBody(strings.NewReader(`<nic><name>n1</name><linked>false</linked><vnic_profile id="p1"/></nic>`), false)
	if err != nil {
		t.Fatal(err)
	}
	j, err := parseBody(strings.NewReader(`{"name":"n1","linked":false,"vnic_profile":{"id":"p1"}}`), true)
	if err != nil {
		t.Fatal(err)
	}
	read := func(n *in) []string {
		id, _, _ := n.ref("vnic_profile")
		return []string{n.strOr("name", "?"), n.strOr("linked", "?"), id}
	}
	if diff := cmp.Diff(read(x), read(j)); diff != "" {
		t.Errorf("XML and JSON differ (-XML +JSON):\n%s", diff)
	}
}

// TestParseXMLIsLinear: a body of text split by comments into a token per
// byte used to be rebuilt at every token (quadratic: gigabytes copied for
// 1 MiB). What parsing allocates must stay a small multiple of the body.
func TestParseXMLIsLinear(t *testing.T) {
	var b strings.Builder
	b.WriteString("<vm><description>")
	for b.Len() < maxBody-64 {
		b.WriteString("a<!---->")
	}
	b.WriteString("</description></vm>")
	body := b.String()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n, err := parseBody(strings.NewReader(body), false)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(n.strOr("description", "")), strings.Count(body, "a<!---->"); got != want {
		t.Fatalf("description has %d bytes, want %d", got, want)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64*uint64(len(body)) {
		t.Errorf("parsing a %d-byte body allocated %d bytes: not linear", len(body), alloc)
	}
}

// TestWriteXMLWellFormed: whatever a stored text holds, the XML answer is
// well-formed; what XML cannot carry becomes U+FFFD.
func TestWriteXMLWellFormed(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		{"plain", "a <b> & c", "a <b> & c"},
		{"control characters", "a\x01b\x1fc", "a\uFFFDb\uFFFDc"},
		{"tab, newline and carriage return stay", "a\tb\nc\rd", "a\tb\nc\rd"},
		{"U+FFFE and U+FFFF", "a\uFFFEb\uFFFF", "a\uFFFDb\uFFFD"},
		{"bytes that are not UTF-8", "a\xffb", "a\uFFFDb"},
		{"U+FFFD itself", "a\uFFFDb", "a\uFFFDb"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			n := &node{name: "vm", id: tc.text}
			n.add(str("description", tc.text))
			if err := writeXML(&buf, n); err != nil {
				t.Fatal(err)
			}
			var got struct {
				ID          string `xml:"id,attr"`
				Description string `xml:"description"`
			}
			if err := xml.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("ill-formed XML: %v\n%q", err, buf.String())
			}
			if got.Description != tc.want || got.ID != tc.want {
				t.Errorf("read back %q and id %q, want %q", got.Description, got.ID, tc.want)
			}
		})
	}
}

func TestIntpRange(t *testing.T) {
	cases := []struct {
		name, body string
		lo, hi     int64
		want       *int64
		wantErr    bool
	}{
		{"in range", `<p><v>5</v></p>`, 0, 10, ptr(int64(5)), false},
		{"absent", `<p/>`, 0, 10, nil, false},
		{"below", `<p><v>-1</v></p>`, 0, 10, nil, true},
		{"above", `<p><v>11</v></p>`, 0, 10, nil, true},
		{"beyond int64", `<p><v>18446744073710000000000</v></p>`, 0, 10, nil, true},
		{"not a number", `<p><v>five</v></p>`, 0, 10, nil, true},
		{"hold that wraps a Duration", `<p><v>18446744073710</v></p>`, 0, vwire.MaxBounceHold.Milliseconds(), nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := parseBody(strings.NewReader(tc.body), false)
			if err != nil {
				t.Fatal(err)
			}
			got, err := b.intp("v", tc.lo, tc.hi)
			if (err != nil) != tc.wantErr {
				t.Fatalf("intp = %v, %v; want error %v", got, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("intp (-want +got):\n%s", diff)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// FuzzParseXMLBody and FuzzParseJSONBody: whatever the body, reading it
// never panics, fails only with a 400, and what it accepts obeys the checks
// (no field twice, XML-safe text, bounded depth) and renders as
// well-formed XML.
func FuzzParseXMLBody(f *testing.F) {
	for _, s := range []string{
		`<nic><name>nic1</name><vnic_profile id="p"/></nic>`,
		`<vm><name>a</name><memory>1073741824</memory><os><kernel>/k</kernel></os></vm>`,
		`<mac_pool><ranges><range><from>02:00:00:00:00:00</from><to>02:00:00:00:00:0f</to></range></ranges></mac_pool>`,
		`<a><!--x-->b<![CDATA[c]]></a>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) { checkParsed(t, body, false) })
}

func FuzzParseJSONBody(f *testing.F) {
	for _, s := range []string{
		`{"name":"nic1","vnic_profile":{"id":"p"},"linked":false}`,
		`{"ranges":{"range":[{"from":"a","to":"b"}]}}`,
		`{"name":"a","name":"b"}`,
		`{"vlan":{"id":100},"mtu":"1500","description":"\u00e9"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) { checkParsed(t, body, true) })
}

func checkParsed(t *testing.T, body string, isJSON bool) {
	n, err := parseBody(strings.NewReader(body), isJSON)
	if err != nil {
		if vwire.ErrorCode(err) != vwire.EINVALID {
			t.Fatalf("parseBody failed with %s: %v", vwire.ErrorCode(err), err)
		}
		return
	}
	var walk func(n *in, depth int)
	walk = func(n *in, depth int) {
		if depth > maxDepth+1 {
			t.Fatalf("accepted a body deeper than %d", maxDepth)
		}
		if err := xmlText(n.name, n.text); err != nil {
			t.Fatalf("accepted text XML cannot carry: %q", n.text)
		}
		var buf bytes.Buffer
		if err := writeXML(&buf, el("x", str("v", n.text))); err != nil {
			t.Fatal(err)
		}
		var back struct {
			V string `xml:"v"`
		}
		if err := xml.Unmarshal(buf.Bytes(), &back); err != nil {
			t.Fatalf("accepted text renders as ill-formed XML: %v", err)
		}
		seen := map[string]bool{}
		for _, k := range n.kids {
			if seen[k.name] && !listItem(n.name, k.name) {
				t.Fatalf("accepted %s twice in %s", k.name, n.name)
			}
			seen[k.name] = true
			walk(k, depth+1)
		}
	}
	walk(n, 0)
}
