package restapi

import (
	"path"
	"strconv"
	"strings"

	"vwire.dev/vwire"
)

// term is one "field=value" of oVirt's search language.
type term struct {
	field, value string
	not          bool
}

// parseSearch understands the subset of oVirt's query language that scripts
// and the Ansible collection send: field=value (optionally quoted, with *
// wildcards) or field!=value, joined by "and"; "sortby … [asc|desc]" and
// "page N" are accepted and ignored (lists are sorted by name).
func parseSearch(q string) ([]term, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil, nil
	}
	if i := indexWord(q, "sortby"); i >= 0 {
		q = strings.TrimSpace(q[:i])
	}
	if i := indexWord(q, "page"); i >= 0 {
		q = strings.TrimSpace(q[:i])
	}
	var out []term
	for _, part := range splitAnd(q) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		not := false
		f, v, ok := strings.Cut(part, "!=")
		if ok {
			not = true
		} else if f, v, ok = strings.Cut(part, "="); !ok {
			return nil, vwire.InvalidValue("Invalid value", "Cannot understand the search term "+strconv.Quote(part)+": use field=value joined by 'and'.")
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		out = append(out, term{field: strings.ToLower(strings.TrimSpace(f)), value: v, not: not})
	}
	return out, nil
}

func indexWord(s, w string) int {
	ls := strings.ToLower(s)
	for i := 0; ; {
		j := strings.Index(ls[i:], w)
		if j < 0 {
			return -1
		}
		j += i
		if (j == 0 || ls[j-1] == ' ') && (j+len(w) == len(ls) || ls[j+len(w)] == ' ') {
			return j
		}
		i = j + 1
	}
}

// splitAnd splits at " and " outside quotes.
func splitAnd(q string) []string {
	var parts []string
	inQuote := false
	start := 0
	lq := strings.ToLower(q)
	for i := 0; i < len(q); i++ {
		if q[i] == '"' {
			inQuote = !inQuote
		}
		if !inQuote && strings.HasPrefix(lq[i:], " and ") {
			parts = append(parts, q[start:i])
			start = i + 5
			i += 4
		}
	}
	return append(parts, q[start:])
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
			return false, vwire.InvalidValue("Invalid value", "Cannot search by "+strconv.Quote(t.field)+"; this collection can be searched by: "+strings.Join(sorted(known), ", ")+".")
		}
		ok, _ = path.Match(strings.ToLower(t.value), strings.ToLower(v))
		if ok == t.not {
			return false, nil
		}
	}
	return true, nil
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
			return p, vwire.InvalidValue("Invalid value", `Value "`+m+`" of max isn't a valid non-negative integer`)
		}
	}
	return p, nil
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
