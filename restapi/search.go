package restapi

import (
	"slices"
	"strconv"
	"strings"

	"vwire.dev/vwire"
)

// The search language's parser is vwire.ParseSearch (the console parses
// the same queries).

const maxSearch = vwire.MaxSearchQuery

// defaultPageSize is the size of a page when a query asks for a page
// without max: oVirt's default search limit.
const defaultPageSize = 100

func parseSearch(q string) (vwire.Search, error) { return vwire.ParseSearch(q) }

// listParams reads search and max of a list request.
type listParams struct {
	search vwire.Search
	max    int
}

func (q *request) listParams() (listParams, error) {
	var p listParams
	var err error
	if p.search, err = parseSearch(q.r.URL.Query().Get("search")); err != nil {
		return p, err
	}
	if m := q.r.URL.Query().Get("max"); m != "" {
		if p.max, err = strconv.Atoi(m); err != nil || p.max < 0 {
			return p, vwire.InvalidValue(vwire.MsgInvalidValue, `Value "`+m+`" of max isn't a valid non-negative integer`)
		}
	}
	if p.search.Page > 0 && p.max == 0 {
		p.max = defaultPageSize
	}
	if cs := q.r.URL.Query().Get("case_sensitive"); cs != "" {
		if p.search.CaseSensitive, err = strconv.ParseBool(cs); err != nil {
			return p, vwire.InvalidValue(vwire.MsgInvalidValue, `Value "`+cs+`" of case_sensitive isn't a valid boolean`)
		}
	}
	return p, nil
}

// searchOf reads the search and max of a list request on a collection the
// store searches in SQL, refusing up front what the collection cannot run.
func (q *request) searchOf(c vwire.SearchCollection) (vwire.Search, int, error) {
	p, err := q.listParams()
	if err == nil {
		err = p.search.Check(c, p.max)
	}
	return p.search, p.max, err
}

// render builds a collection of items the store selected.
func render[T any](tag string, items []T, node func(T) *node) *node {
	out := el(tag)
	for _, it := range items {
		out.add(item(node(it)))
	}
	return out
}

// ---- collections searched here, after the engine's query: the small ones
// (users, roles, MAC pools, a cluster's networks, a VM's or template's
// vNICs), whose lists the store does not search

// matches tells whether an entity with the given searchable fields passes
// a condition. An unknown field is an error, not a silent match. Text is
// compared as the store does: ASCII letters case-insensitively.
func matches(e *vwire.SearchExpr, fields map[string]string, exact bool) (bool, error) {
	switch e.Op {
	case vwire.SearchAnd, vwire.SearchOr:
		want := e.Op == vwire.SearchOr // OR stops at a match, AND at a miss
		for _, k := range e.Kids {
			ok, err := matches(k, fields, exact)
			if err != nil {
				return false, err
			}
			if ok == want {
				return want, nil
			}
		}
		return !want, nil
	}
	v, ok := fields[e.Field]
	if !ok {
		var known []string
		for k := range fields {
			known = append(known, k)
		}
		return false, unknownField(e.Field, known)
	}
	pat, val := e.Value, v
	if !exact {
		pat, val = foldASCII(pat), foldASCII(val)
	}
	switch e.Op {
	case vwire.SearchEq:
		return glob(pat, val), nil
	case vwire.SearchNe:
		return !glob(pat, val), nil
	case vwire.SearchLt:
		return val < pat, nil
	case vwire.SearchLe:
		return val <= pat, nil
	case vwire.SearchGt:
		return val > pat, nil
	case vwire.SearchGe:
		return val >= pat, nil
	}
	return false, nil
}

func unknownField(field string, known []string) error {
	slices.Sort(known)
	return vwire.InvalidValue(vwire.MsgInvalidValue, "Cannot search by "+strconv.Quote(field)+"; this collection can be searched by: "+strings.Join(known, ", ")+".")
}

// foldASCII lower-cases the ASCII letters of s (as the store's SQL does).
func foldASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// glob matches s against pattern, whose only wildcard is * (oVirt's), byte
// by byte. On a mismatch it resumes after the last star, so it never
// backtracks further: at most len(pattern)×len(s) steps.
func glob(p, t string) bool {
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

// collect builds a collection of the items that pass the search, in its
// order (sortby a field, as text) and page, up to max.
func collect[T any](p listParams, tag string, items []T, fields func(T) map[string]string, node func(T) *node) (*node, error) {
	var kept []T
	var keys []string
	for _, it := range items {
		f := fields(it)
		if p.search.Where != nil {
			ok, err := matches(p.search.Where, f, p.search.CaseSensitive)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		if p.search.SortBy != "" {
			k, ok := f[p.search.SortBy]
			if !ok {
				var known []string
				for k := range f {
					known = append(known, k)
				}
				slices.Sort(known)
				return nil, vwire.InvalidValue(vwire.MsgInvalidValue, "Cannot sort by "+strconv.Quote(p.search.SortBy)+"; this collection can be sorted by: "+strings.Join(known, ", ")+".")
			}
			keys = append(keys, foldASCII(k))
		}
		kept = append(kept, it)
	}
	if p.search.SortBy != "" {
		idx := make([]int, len(kept))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			c := strings.Compare(keys[a], keys[b])
			if p.search.Desc {
				c = -c
			}
			return c
		})
		sorted := make([]T, len(kept))
		for i, j := range idx {
			sorted[i] = kept[j]
		}
		kept = sorted
	}
	if p.search.Page > 1 {
		kept = kept[min((p.search.Page-1)*p.max, len(kept)):]
	}
	if p.max > 0 && len(kept) > p.max {
		kept = kept[:p.max]
	}
	return render(tag, kept, node), nil
}
