package restapi

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"vwire.dev/vwire"
)

// TestParseSearch: keywords are found in the query itself, so characters
// whose lower case has another length (Ⱥ grows, the Kelvin sign shrinks)
// neither panic nor shift the cut.
func TestParseSearch(t *testing.T) {
	cases := []struct {
		name, q string
		want    []term
		wantErr bool
	}{
		{"empty", "  ", nil, false},
		{"one term", `name=vm1`, []term{{field: "name", value: "vm1"}}, false},
		{"quoted, not equal", `Name!="my vm"`, []term{{field: "name", value: "my vm", not: true}}, false},
		{"and in any case", `name=a AND status=up`, []term{{field: "name", value: "a"}, {field: "status", value: "up"}}, false},
		{"sortby and page ignored", `name=a* sortby name desc page 2`, []term{{field: "name", value: "a*"}}, false},
		{"keywords inside quotes are text", `name="a and b page 1"`, []term{{field: "name", value: "a and b page 1"}}, false},
		{"lower case longer, page after", "name=ȺȺȺȺȺȺ page", []term{{field: "name", value: "ȺȺȺȺȺȺ"}}, false},
		{"and twice (fuzz)", "0 And And 0", nil, true},
		{"and twice between terms", "name=a and and name=b", nil, true},
		{"lower case longer, sortby after", "name=ȺȺȺȺȺȺȺȺ sortby name", []term{{field: "name", value: "ȺȺȺȺȺȺȺȺ"}}, false},
		{"lower case shorter", "name=\u212a\u212a\u212a\u212a", []term{{field: "name", value: "\u212a\u212a\u212a\u212a"}}, false},
		{"lower case shorter with and", "name=\u212a\u212a\u212a and id=x", []term{{field: "name", value: "\u212a\u212a\u212a"}, {field: "id", value: "x"}}, false},
		{"dotted I", "name=İİİİ and status=up", []term{{field: "name", value: "İİİİ"}, {field: "status", value: "up"}}, false},
		{"bytes that are not UTF-8, page after (found by FuzzParseSearch)", "\xa5\xa5\xa5 pAge", nil, true},
		{"bytes that are not UTF-8 in a value", "name=\xa5\xa5 and id=x", []term{{field: "name", value: "\xa5\xa5"}, {field: "id", value: "x"}}, false},
		{"no operator", "ȺȺȺ", nil, true},
		{"too long", "name=" + strings.Repeat("a", maxSearch), nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSearch(tc.q)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseSearch(%q) = %v, %v; want error %v", tc.q, got, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(term{})); diff != "" {
				t.Errorf("parseSearch(%q) (-want +got):\n%s", tc.q, diff)
			}
		})
	}
}

func TestGlob(t *testing.T) {
	cases := []struct {
		name, pattern, s string
		want             bool
	}{
		{"exact", "vm1", "vm1", true},
		{"prefix", "vm*", "vm12", true},
		{"suffix", "*12", "vm12", true},
		{"middle", "v*1*", "vm12", true},
		{"no match", "vm*3", "vm12", false},
		{"star matches a slash", "*nic*", "a/b nic1", true},
		{"brackets are text", "a[b", "a[b", true},
		{"question mark is text", "a?", "ab", false},
		{"runes, not bytes", "ȺȺ*", "ȺȺȺ", true},
		{"empty pattern", "", "", true},
		{"only stars", "***", "anything", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := glob(tc.pattern, tc.s); got != tc.want {
				t.Errorf("glob(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
			}
		})
	}
}

// FuzzParseSearch: any query parses without panicking (or fails with a
// 400), and its terms match any fields without panicking.
func FuzzParseSearch(f *testing.F) {
	for _, q := range []string{`name=vm1`, `name="a and b" and status!=up sortby name page 2`, "name=ȺȺȺȺȺȺ page", "name=\u212a\u212a\u212a\u212a", `name=*a*b*`, `"`, `=`} {
		f.Add(q, "vm1")
	}
	f.Fuzz(func(t *testing.T, q, value string) {
		terms, err := parseSearch(q)
		if err != nil {
			if vwire.ErrorCode(err) != vwire.EINVALID {
				t.Fatalf("parseSearch failed with %s: %v", vwire.ErrorCode(err), err)
			}
			return
		}
		fields := map[string]string{}
		for _, tm := range terms {
			if !strings.Contains(q, tm.value) {
				t.Fatalf("term value %q is not part of the query %q", tm.value, q)
			}
			fields[tm.field] = value
		}
		if _, err := matches(terms, fields); err != nil {
			t.Fatalf("matches: %v", err)
		}
		// A value matches itself when it has no star.
		for _, tm := range terms {
			if !strings.Contains(tm.value, "*") && !glob(strings.ToLower(tm.value), strings.ToLower(tm.value)) {
				t.Fatalf("%q does not match itself", tm.value)
			}
		}
	})
}
