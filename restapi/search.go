package restapi

import (
	"slices"
	"strconv"
	"strings"

	"vwire.dev/vwire"
)

// oVirt's search language, as its clients write it:
//
//	query   = [cond] ["sortby" field ["asc" | "desc"]] ["page" [N]]
//	cond    = and {"or" and}
//	and     = unary {["and"] unary}        (juxtaposed terms are joined by AND)
//	unary   = "(" cond ")" | field op value
//	op      = "=" | "!=" | "<" | "<=" | ">" | ">="
//	value   = "quoted, with \" and \\" | bare   (a bare value ends at a space or a parenthesis)
//
// Keywords and field names are case-insensitive; a field may name related
// objects (Clusters.name on data centers); * in a value is a wildcard.
// Values compare ignoring the case of ASCII letters (other letters
// exactly, the same on SQLite and PostgreSQL), or exactly with
// case_sensitive=true. A value holding bytes that are not UTF-8 reads them
// as U+FFFD, as bodies do.
// parseSearch builds the tree the store runs in SQL (vwire.Search); which
// fields a collection takes is checked against vwire.SearchFields (or, for
// the few collections still filtered here, their fields). Every refusal
// is oVirt's 400 fault, saying where the query went wrong.

// maxSearch bounds a query's length; the tree is bounded by
// vwire.MaxSearchTerms and vwire.MaxSearchDepth.
const maxSearch = 4096

// defaultPageSize is the size of a page when a query asks for a page
// without max: oVirt's default search limit.
const defaultPageSize = 100

// token kinds.
const (
	tEOF = iota
	tWord
	tQuoted
	tOp
	tOpen
	tClose
)

type token struct {
	kind int
	text string // a word or op as written; a quoted value unescaped
	at   int    // byte offset in the query
}

type searchParser struct {
	q      string
	toks   []token
	i      int
	terms  int
	search vwire.Search
}

func searchError(q, why string) error {
	return vwire.InvalidValue(vwire.MsgInvalidValue, "Cannot understand the search query "+strconv.Quote(q)+": "+why+".")
}

// lex splits a query into tokens, byte by byte: keywords are ASCII, and
// the query may hold any bytes (even ones that are not UTF-8) in values.
func lex(q string) ([]token, error) {
	var out []token
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			out = append(out, token{tOpen, "(", i})
			i++
		case c == ')':
			out = append(out, token{tClose, ")", i})
			i++
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(q) && q[j] != '"'; j++ {
				if q[j] == '\\' && j+1 < len(q) && (q[j+1] == '"' || q[j+1] == '\\') {
					j++
				}
				b.WriteByte(q[j])
			}
			if j >= len(q) {
				return nil, searchError(q, "the quote opened at byte "+strconv.Itoa(i)+" is not closed")
			}
			out = append(out, token{tQuoted, b.String(), i})
			i = j + 1
		case c == '=' || c == '!' || c == '<' || c == '>':
			op := string(c)
			if i+1 < len(q) && q[i+1] == '=' && c != '=' {
				op += "="
			}
			if op == "!" {
				return nil, searchError(q, "'!' at byte "+strconv.Itoa(i)+" must be followed by '=' (!=)")
			}
			out = append(out, token{tOp, op, i})
			i += len(op)
		default:
			j := i
			for j < len(q) && !strings.ContainsRune(" \t\n\r()\"=!<>", rune(q[j])) {
				j++
			}
			out = append(out, token{tWord, q[i:j], i})
			i = j
		}
	}
	return append(out, token{tEOF, "", len(q)}), nil
}

// parseSearch parses a query. An empty query is the zero Search.
func parseSearch(q string) (vwire.Search, error) {
	if len(q) > maxSearch {
		return vwire.Search{}, vwire.InvalidValue(vwire.MsgInvalidValue, "The search query is longer than "+strconv.Itoa(maxSearch)+" bytes.")
	}
	// Bytes that are not UTF-8 read as U+FFFD, as in bodies (body.go).
	q = strings.ToValidUTF8(q, "\uFFFD")
	if strings.ContainsRune(q, 0) {
		return vwire.Search{}, searchError(q, "it holds a NUL byte")
	}
	toks, err := lex(q)
	if err != nil {
		return vwire.Search{}, err
	}
	p := &searchParser{q: q, toks: toks}
	if !p.atKeyword("sortby") && !p.atKeyword("page") && p.peek().kind != tEOF {
		if p.search.Where, err = p.or(0); err != nil {
			return vwire.Search{}, err
		}
	}
	if p.atKeyword("sortby") {
		p.i++
		f := p.next()
		if f.kind != tWord || isKeyword(f.text) {
			return vwire.Search{}, p.fail(f, "sortby must name a field")
		}
		p.search.SortBy = strings.ToLower(f.text)
		switch {
		case p.atKeyword("asc"):
			p.i++
		case p.atKeyword("desc"):
			p.i++
			p.search.Desc = true
		}
	}
	if p.atKeyword("page") {
		p.i++
		n := p.next()
		if n.kind == tEOF {
			// A dangling "page" asks for no page, as vwire always read it.
			return p.search, nil
		}
		v, err := strconv.Atoi(n.text)
		if n.kind != tWord || err != nil || v < 1 || v > vwire.MaxSearchPage {
			return vwire.Search{}, p.fail(n, "page takes a number from 1 to "+strconv.Itoa(vwire.MaxSearchPage))
		}
		p.search.Page = v
	}
	if t := p.peek(); t.kind != tEOF {
		return vwire.Search{}, p.fail(t, "nothing may follow the condition, sortby and page")
	}
	return p.search, nil
}

func (p *searchParser) peek() token { return p.toks[p.i] }

func (p *searchParser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *searchParser) fail(t token, why string) error {
	at := "at the end"
	if t.kind != tEOF {
		at = "at byte " + strconv.Itoa(t.at) + " (" + strconv.Quote(t.text) + ")"
	}
	return searchError(p.q, why+", "+at)
}

var keywords = []string{"and", "or", "sortby", "page", "asc", "desc"}

func isKeyword(w string) bool { return slices.Contains(keywords, strings.ToLower(w)) }

// atKeyword tells whether the next token is the bare word kw, in any case.
func (p *searchParser) atKeyword(kw string) bool {
	t := p.peek()
	return t.kind == tWord && strings.EqualFold(t.text, kw)
}

// or parses terms joined by OR; depth counts the parentheses around it.
func (p *searchParser) or(depth int) (*vwire.SearchExpr, error) {
	var kids []*vwire.SearchExpr
	for {
		e, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		kids = append(kids, e)
		if !p.atKeyword("or") {
			break
		}
		p.i++
	}
	return join(vwire.SearchOr, kids), nil
}

func (p *searchParser) and(depth int) (*vwire.SearchExpr, error) {
	var kids []*vwire.SearchExpr
	for {
		e, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		kids = append(kids, e)
		if p.atKeyword("and") {
			p.i++
			continue
		}
		// Juxtaposed terms are joined by AND, as oVirt's search does.
		if t := p.peek(); (t.kind == tWord && !isKeyword(t.text)) || t.kind == tOpen {
			continue
		}
		break
	}
	return join(vwire.SearchAnd, kids), nil
}

// join makes one node of kids, flattening kids of the same operator.
func join(op vwire.SearchOp, kids []*vwire.SearchExpr) *vwire.SearchExpr {
	if len(kids) == 1 {
		return kids[0]
	}
	out := &vwire.SearchExpr{Op: op}
	for _, k := range kids {
		if k.Op == op {
			out.Kids = append(out.Kids, k.Kids...)
		} else {
			out.Kids = append(out.Kids, k)
		}
	}
	return out
}

var searchOps = map[string]vwire.SearchOp{"=": vwire.SearchEq, "!=": vwire.SearchNe, "<": vwire.SearchLt,
	"<=": vwire.SearchLe, ">": vwire.SearchGt, ">=": vwire.SearchGe}

func (p *searchParser) unary(depth int) (*vwire.SearchExpr, error) {
	t := p.next()
	switch {
	case t.kind == tOpen:
		if depth+1 > vwire.MaxSearchDepth {
			return nil, p.fail(t, "parentheses nest deeper than "+strconv.Itoa(vwire.MaxSearchDepth))
		}
		e, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tClose {
			return nil, p.fail(c, "a ')' is missing")
		}
		return e, nil
	case t.kind != tWord || isKeyword(t.text):
		return nil, p.fail(t, "a term (field=value) is expected")
	}
	op := p.next()
	if op.kind != tOp {
		return nil, p.fail(op, "an operator (=, !=, <, <=, >, >=) is expected after "+strconv.Quote(t.text))
	}
	v := p.next()
	if v.kind != tWord && v.kind != tQuoted {
		return nil, p.fail(v, "a value is expected after "+strconv.Quote(t.text+op.text))
	}
	if p.terms++; p.terms > vwire.MaxSearchTerms {
		return nil, p.fail(t, "a query has at most "+strconv.Itoa(vwire.MaxSearchTerms)+" terms")
	}
	return &vwire.SearchExpr{Op: searchOps[op.text], Field: strings.ToLower(t.text), Value: v.text}, nil
}

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
