package restapi

import (
	"strconv"
	"strings"
	"testing"

	"vwire.dev/vwire"
)

// show writes a search as an S-expression, to compare trees in tests:
// (and name="x" (or status="down" status="up")) sortby name desc page 2.
func show(s vwire.Search) string {
	var b strings.Builder
	var walk func(e *vwire.SearchExpr)
	walk = func(e *vwire.SearchExpr) {
		switch e.Op {
		case vwire.SearchAnd, vwire.SearchOr:
			b.WriteString(map[vwire.SearchOp]string{vwire.SearchAnd: "(and", vwire.SearchOr: "(or"}[e.Op])
			for _, k := range e.Kids {
				b.WriteByte(' ')
				walk(k)
			}
			b.WriteByte(')')
			return
		}
		op := map[vwire.SearchOp]string{vwire.SearchEq: "=", vwire.SearchNe: "!=", vwire.SearchLt: "<",
			vwire.SearchLe: "<=", vwire.SearchGt: ">", vwire.SearchGe: ">="}[e.Op]
		b.WriteString(e.Field + op + strconv.Quote(e.Value))
	}
	if s.Where != nil {
		walk(s.Where)
	}
	if s.SortBy != "" {
		b.WriteString(" sortby " + s.SortBy)
		if s.Desc {
			b.WriteString(" desc")
		}
	}
	if s.Page > 0 {
		b.WriteString(" page " + strconv.Itoa(s.Page))
	}
	return strings.TrimSpace(b.String())
}

// TestParseSearch: the queries oVirt's clients send parse into the tree
// the store runs, and malformed ones are oVirt's 400 saying what is wrong.
// Keywords are found byte by byte, so characters whose lower case has
// another length (Ⱥ grows, the Kelvin sign shrinks) or bytes that are not
// UTF-8 neither panic nor shift anything.
func TestParseSearch(t *testing.T) {
	deep := strings.Repeat("(", vwire.MaxSearchDepth) + "name=a" + strings.Repeat(")", vwire.MaxSearchDepth)
	many := strings.TrimSuffix(strings.Repeat("name=a or ", vwire.MaxSearchTerms+1), " or ")
	cases := []struct {
		name, q string
		want    string // show of the tree; "" with err
		err     string // part of the 400's detail
	}{
		{"empty", "  ", "", ""},
		{"one term", `name=vm1`, `name="vm1"`, ""},
		{"go-ovirt-client: name and statuses", `name = "x" AND (status = down OR status = up)`,
			`(and name="x" (or status="down" status="up"))`, ""},
		{"go-ovirt-client: one status", `name = "x" AND (status = down)`, `(and name="x" status="down")`, ""},
		{"go-ovirt-client: not statuses", `(status != up AND status != down)`, `(and status!="up" status!="down")`, ""},
		{"go-ovirt-client: by name", `name=vm1`, `name="vm1"`, ""},
		{"Ansible: data center by cluster", `Clusters.name=Default`, `clusters.name="Default"`, ""},
		{"Ansible: attributes", `name="net1" and datacenter="Default"`, `(and name="net1" datacenter="Default")`, ""},
		{"quoted, not equal", `Name!="my vm"`, `name!="my vm"`, ""},
		{"and in any case", `name=a AND status=up`, `(and name="a" status="up")`, ""},
		{"juxtaposed terms are AND", `name=a status=up`, `(and name="a" status="up")`, ""},
		{"AND binds tighter than OR", `a=1 or b=2 and c=3`, `(or a="1" (and b="2" c="3"))`, ""},
		{"parentheses change it", `(a=1 or b=2) and c=3`, `(and (or a="1" b="2") c="3")`, ""},
		{"same operators flatten", `a=1 and (b=2 and c=3)`, `(and a="1" b="2" c="3")`, ""},
		{"comparisons", `memory>1024 and memory<=4096 and name>=m and name<z`,
			`(and memory>"1024" memory<="4096" name>="m" name<"z")`, ""},
		{"escapes in quotes", `name="a \"b\" \\ c"`, `name="a \"b\" \\ c"`, ""},
		{"other backslashes are text", `name="a\b"`, `name="a\\b"`, ""},
		{"wildcards", `name=a*b*`, `name="a*b*"`, ""},
		{"sortby and page", `name=a* sortby name desc page 2`, `name="a*" sortby name desc page 2`, ""},
		{"sortby asc, keywords in any case", `SORTBY Name ASC PAGE 3`, `sortby name page 3`, ""},
		{"page only", `page 1`, `page 1`, ""},
		{"keywords inside quotes are text", `name="a and b page 1"`, `name="a and b page 1"`, ""},
		{"a keyword as a value", `name=and`, `name="and"`, ""},
		{"lower case longer, page after", "name=ȺȺȺȺȺȺ page 1", `name="ȺȺȺȺȺȺ" page 1`, ""},
		{"lower case shorter", "name=\u212a\u212a\u212a\u212a", `name="` + "\u212a\u212a\u212a\u212a" + `"`, ""},
		{"bytes that are not UTF-8 in a value read as U+FFFD", "name=\xa5\xa5 and id=x", "(and name=\"\uFFFD\" id=\"x\")", ""},
		{"NUL", "name=a\x00b", "", "it holds a NUL byte"},
		{"as deep as allowed", deep, `name="a"`, ""},

		{"and twice (fuzz)", "0 And And 0", "", "an operator"},
		{"and twice between terms", "name=a and and name=b", "", "a term (field=value) is expected, at byte 11"},
		{"bytes that are not UTF-8, page after (found by FuzzParseSearch)", "\xa5\xa5\xa5 pAge", "", "an operator"},
		{"no operator", "ȺȺȺ", "", "an operator (=, !=, <, <=, >, >=) is expected"},
		{"no value", "name=", "", "a value is expected after \"name=\""},
		{"unclosed quote", `name="abc`, "", "the quote opened at byte 5 is not closed"},
		{"unclosed parenthesis", `(name=a or name=b`, "", "a ')' is missing, at the end"},
		{"stray parenthesis", `name=a)`, "", "nothing may follow"},
		{"bang alone", `name!a`, "", "'!' at byte 4 must be followed by '='"},
		{"two operators", `name==a`, "", "a value is expected"},
		{"empty parentheses", `()`, "", "a term (field=value) is expected"},
		{"or at the start", `or name=a`, "", "a term"},
		{"sortby without field", `name=a sortby`, "", "sortby must name a field"},
		{"a dangling page is no page", `name=a page`, `name="a"`, ""},
		{"lower case longer, dangling page", "name=ȺȺȺȺȺȺ page", `name="ȺȺȺȺȺȺ"`, ""},
		{"page zero", `page 0`, "", "page takes a number"},
		{"page not a number", `page two`, "", "page takes a number"},
		{"page too large", `page 99999999999`, "", "page takes a number"},
		{"condition after sortby", `sortby name name=a`, "", "nothing may follow"},
		{"too deep", "(" + deep + ")", "", "parentheses nest deeper than"},
		{"too many terms", many, "", "at most 64 terms"},
		{"too long", "name=" + strings.Repeat("a", maxSearch), "", "longer than 4096 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSearch(tc.q)
			if tc.err != "" {
				if err == nil {
					t.Fatalf("parseSearch(%q) = %s, want an error with %q", tc.q, show(got), tc.err)
				}
				if vwire.ErrorCode(err) != vwire.EINVALID || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parseSearch(%q): %v (%s), want EINVALID with %q", tc.q, err, vwire.ErrorCode(err), tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseSearch(%q): %v", tc.q, err)
			}
			if s := show(got); s != tc.want {
				t.Errorf("parseSearch(%q) = %s, want %s", tc.q, s, tc.want)
			}
		})
	}
}

// TestSearchCheck: what parses but a collection cannot run is refused
// before the database, with oVirt's 400.
func TestSearchCheck(t *testing.T) {
	cases := []struct {
		c   vwire.SearchCollection
		q   string
		max int
		err string
	}{
		{vwire.SearchVMs, `name = "x" AND (status = down OR status = up)`, 0, ""},
		{vwire.SearchVMs, `cluster=Default and host=h* and template=Blank and datacenter=dc sortby status desc`, 0, ""},
		{vwire.SearchDataCenters, `Clusters.name=Default`, 0, ""},
		{vwire.SearchNetworks, `datacenter=Default and vlanid>10`, 0, ""},
		{vwire.SearchTemplates, `datacenter=Default`, 0, ""},
		{vwire.SearchVMs, `page 2`, 10, ""},
		{vwire.SearchVMs, `colour=red`, 0, `Cannot search by "colour"; this collection can be searched by: name, id`},
		{vwire.SearchVMs, `tag="x"`, 0, `Cannot search by "tag"`},
		{vwire.SearchDataCenters, `hosts.name=h1`, 0, `Cannot search by "hosts.name"`},
		{vwire.SearchVMs, `name=a sortby colour`, 0, `Cannot sort by "colour"; this collection can be sorted by: name`},
		{vwire.SearchDataCenters, `sortby clusters.name`, 0, `Cannot sort by "clusters.name"`},
		{vwire.SearchVMs, `memory=lots`, 0, `memory is a whole number`},
		{vwire.SearchVMs, `memory=1*`, 0, `memory is a whole number`},
		{vwire.SearchVMs, `status>down`, 0, `only = and != apply to it`},
		{vwire.SearchVMs, `name>a*`, 0, `A wildcard (*) only applies to = and !=`},
		{vwire.SearchVMs, `page 2`, 0, `page needs a page size`},
	}
	for _, tc := range cases {
		s, err := parseSearch(tc.q)
		if err != nil {
			t.Fatalf("parseSearch(%q): %v", tc.q, err)
		}
		err = s.Check(tc.c, tc.max)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: Check(%q): %v", tc.c, tc.q, err)
		case tc.err != "" && (err == nil || vwire.ErrorCode(err) != vwire.EINVALID || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: Check(%q) = %v, want EINVALID with %q", tc.c, tc.q, err, tc.err)
		}
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
		{"multibyte", "ȺȺ*", "ȺȺȺ", true},
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

// FuzzParseSearch: any query parses without panicking or fails with a 400;
// a parsed query stays within the bounds, every value comes from the query,
// it prints and parses back to the same tree, and its condition matches
// any fields without panicking.
func FuzzParseSearch(f *testing.F) {
	for _, q := range []string{`name=vm1`, `name="a and b" and status!=up sortby name page 2`, "name=ȺȺȺȺȺȺ page 1",
		"name=\u212a\u212a\u212a\u212a", `name=*a*b*`, `"`, `=`, `name = "x" AND (status = down OR status = up)`,
		`Clusters.name=Default`, `(a=1 or (b<2 and c>=3)) d!="\"q\""`} {
		f.Add(q, "vm1")
	}
	f.Fuzz(func(t *testing.T, q, value string) {
		s, err := parseSearch(q)
		if err != nil {
			if vwire.ErrorCode(err) != vwire.EINVALID {
				t.Fatalf("parseSearch failed with %s: %v", vwire.ErrorCode(err), err)
			}
			return
		}
		fields := map[string]string{}
		terms := 0
		var walk func(e *vwire.SearchExpr, depth int)
		walk = func(e *vwire.SearchExpr, depth int) {
			if e.Op == vwire.SearchAnd || e.Op == vwire.SearchOr {
				if depth > vwire.MaxSearchDepth {
					t.Fatalf("%q nests joins %d deep", q, depth)
				}
				if len(e.Kids) < 2 {
					t.Fatalf("%q: a join of %d", q, len(e.Kids))
				}
				for _, k := range e.Kids {
					walk(k, depth+1)
				}
				return
			}
			terms++
			if !strings.Contains(strings.ToValidUTF8(q, "\uFFFD"), e.Value) && !strings.Contains(q, `"`) {
				t.Fatalf("term value %q is not part of the query %q", e.Value, q)
			}
			fields[e.Field] = value
		}
		if s.Where != nil {
			walk(s.Where, 0)
			if _, err := matches(s.Where, fields, false); err != nil {
				t.Fatalf("matches: %v", err)
			}
		}
		if terms > vwire.MaxSearchTerms {
			t.Fatalf("%q has %d terms", q, terms)
		}
		back, err := parseSearch(format(s))
		if err != nil || show(back) != show(s) {
			t.Fatalf("%q = %s; printed %q, parsed back %s, %v", q, show(s), format(s), show(back), err)
		}
	})
}

// format writes a search back in the query language, every value quoted.
func format(s vwire.Search) string {
	var b strings.Builder
	var walk func(e *vwire.SearchExpr, top bool)
	walk = func(e *vwire.SearchExpr, top bool) {
		switch e.Op {
		case vwire.SearchAnd, vwire.SearchOr:
			if !top {
				b.WriteByte('(')
			}
			for i, k := range e.Kids {
				if i > 0 {
					b.WriteString(map[vwire.SearchOp]string{vwire.SearchAnd: " and ", vwire.SearchOr: " or "}[e.Op])
				}
				walk(k, false)
			}
			if !top {
				b.WriteByte(')')
			}
			return
		}
		op := map[vwire.SearchOp]string{vwire.SearchEq: "=", vwire.SearchNe: "!=", vwire.SearchLt: "<",
			vwire.SearchLe: "<=", vwire.SearchGt: ">", vwire.SearchGe: ">="}[e.Op]
		b.WriteString(e.Field + op + `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(e.Value) + `"`)
	}
	if s.Where != nil {
		walk(s.Where, true)
	}
	if s.SortBy != "" {
		b.WriteString(" sortby " + s.SortBy)
		if s.Desc {
			b.WriteString(" desc")
		}
	}
	if s.Page > 0 {
		b.WriteString(" page " + strconv.Itoa(s.Page))
	}
	return b.String()
}
