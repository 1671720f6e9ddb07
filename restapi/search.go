package restapi

import (
	"slices"
	"strconv"
	"strings"

	"vwire.dev/vwire"
)

// term is one "field=value" of oVirt's search language.
type term struct {
	field, value string
	not          bool
}

// maxSearch bounds a query: matching costs up to its length times a
// field's, and oVirt's queries are short.
const maxSearch = 4096

// parseSearch understands the subset of oVirt's query language that scripts
// and the Ansible collection send: field=value (optionally quoted, with *
// wildcards) or field!=value, joined by "and"; "sortby … [asc|desc]" and
// "page N" are accepted and ignored (lists are sorted by name).
//
// Keywords are ASCII and found in q itself, case folded byte by byte
// outside quotes: an offset found in a lower-cased copy does not hold in
// the original once some character changes length when lower-cased.
func parseSearch(q string) ([]term, error) {
	if len(q) > maxSearch {
		return nil, vwire.InvalidValue(vwire.MsgInvalidValue, "The search query is longer than "+strconv.Itoa(maxSearch)+" bytes.")
	}
	q = strings.TrimSpace(q)
	if q == "" {
		return nil, nil
	}
	var parts []string
	start, inQuote := 0, false
scan:
	for i := 0; i < len(q); i++ {
		switch {
		case q[i] == '"':
			inQuote = !inQuote
		case inQuote || (i > 0 && q[i-1] != ' '):
		case wordAt(q, i, "sortby") || wordAt(q, i, "page"):
			q = q[:i]
			break scan
		case i > 0 && wordAt(q, i, "and") && i+len("and") < len(q):
			if start > i-1 {
				// "a=1 and and b=2": nothing between two joins.
				return nil, vwire.InvalidValue(vwire.MsgInvalidValue, "Cannot understand the search query "+strconv.Quote(q)+": a term is missing between two 'and'.")
			}
			parts = append(parts, q[start:i-1])
			start = i + len("and ")
			i += len("and")
		}
	}
	parts = append(parts, q[min(start, len(q)):])
	var out []term
	for _, part := range parts {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		not := false
		f, v, ok := strings.Cut(part, "!=")
		if ok {
			not = true
		} else if f, v, ok = strings.Cut(part, "="); !ok {
			return nil, vwire.InvalidValue(vwire.MsgInvalidValue, "Cannot understand the search term "+strconv.Quote(part)+": use field=value joined by 'and'.")
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		out = append(out, term{field: strings.ToLower(strings.TrimSpace(f)), value: v, not: not})
	}
	return out, nil
}

// wordAt tells whether the ASCII word w, in any case, is at q[i:] and ends
// there (at the end of q or before a space).
func wordAt(q string, i int, w string) bool {
	if len(q)-i < len(w) {
		return false
	}
	for j := 0; j < len(w); j++ {
		c := q[i+j]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[j] {
			return false
		}
	}
	end := i + len(w)
	return end == len(q) || q[end] == ' '
}

// matches tells whether an entity with the given searchable fields passes
// every term. An unknown field is an error, not a silent match.
func matches(terms []term, fields map[string]string) (bool, error) {
	for _, t := range terms {
		v, ok := fields[t.field]
		if !ok {
			var known []string
			for k := range fields {
				known = append(known, k)
			}
			return false, unknownField(t.field, known)
		}
		if glob(strings.ToLower(t.value), strings.ToLower(v)) == t.not {
			return false, nil
		}
	}
	return true, nil
}

func unknownField(field string, known []string) error {
	return vwire.InvalidValue(vwire.MsgInvalidValue, "Cannot search by "+strconv.Quote(field)+"; this collection can be searched by: "+strings.Join(sorted(known), ", ")+".")
}

// glob matches s against pattern, whose only wildcard is * (oVirt's), rune
// by rune. On a mismatch it resumes after the last star, so it never
// backtracks further: at most len(pattern)×len(s) steps.
func glob(pattern, s string) bool {
	p, t := []rune(pattern), []rune(s)
	pi, ti, star, mark := 0, 0, -1, 0
	for ti < len(t) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ti
			pi++
		case pi < len(p) && p[pi] == t[ti]:
			pi++
			ti++
		case star >= 0:
			mark++
			pi, ti = star+1, mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

func sorted(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// listParams reads search and max of a list request.
type listParams struct {
	terms []term
	max   int
}

func (q *request) listParams() (listParams, error) {
	var p listParams
	var err error
	if p.terms, err = parseSearch(q.r.URL.Query().Get("search")); err != nil {
		return p, err
	}
	if m := q.r.URL.Query().Get("max"); m != "" {
		if p.max, err = strconv.Atoi(m); err != nil || p.max < 0 {
			return p, vwire.InvalidValue(vwire.MsgInvalidValue, `Value "`+m+`" of max isn't a valid non-negative integer`)
		}
	}
	return p, nil
}

// pushDown reads, for the database's filter, the value of a search on a
// field whose stored values are canonical lower case (a status): a
// positive term without wildcard is then exactly SQL equality with the
// lowered value, the same test glob makes. It returns the value ("" when
// no term qualifies) and the max the database may apply: the request's
// when that term is the whole search, else 0 (the other terms still run
// in collect, after the database). Every term's field is checked first,
// so an unknown one is refused whatever the database returns.
func (p listParams) pushDown(field string, known ...string) (value string, max int, err error) {
	for _, t := range p.terms {
		if !slices.Contains(known, t.field) {
			return "", 0, unknownField(t.field, known)
		}
	}
	for _, t := range p.terms {
		if t.field == field && !t.not && !strings.Contains(t.value, "*") {
			value = strings.ToLower(t.value)
			break
		}
	}
	if len(p.terms) == 0 || (len(p.terms) == 1 && value != "") {
		max = p.max
	}
	return value, max, nil
}

// collect builds a collection of items that pass the search, up to max.
func collect[T any](p listParams, tag string, items []T, fields func(T) map[string]string, render func(T) *node) (*node, error) {
	out := el(tag)
	for _, it := range items {
		if p.max > 0 && len(out.kids) >= p.max {
			break
		}
		if len(p.terms) > 0 {
			ok, err := matches(p.terms, fields(it))
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		out.add(item(render(it)))
	}
	return out, nil
}
