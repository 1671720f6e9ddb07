package vwire

import (
	"slices"
	"strconv"
	"strings"
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
// ParseSearch builds the tree the store runs in SQL (Search); which
// fields a collection takes is checked against SearchFields (or, for
// the few collections restapi still filters, their fields). Every refusal
// is an EINVALID error (oVirt's 400 fault), saying where the query went
// wrong.

// MaxSearchQuery bounds a query's length; the tree is bounded by
// MaxSearchTerms and MaxSearchDepth.
const MaxSearchQuery = 4096

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
	search Search
}

func searchError(q, why string) error {
	return InvalidValue(MsgInvalidValue, "Cannot understand the search query "+strconv.Quote(q)+": "+why+".")
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

// ParseSearch parses a query. An empty query is the zero Search.
func ParseSearch(q string) (Search, error) {
	if len(q) > MaxSearchQuery {
		return Search{}, InvalidValue(MsgInvalidValue, "The search query is longer than "+strconv.Itoa(MaxSearchQuery)+" bytes.")
	}
	// Bytes that are not UTF-8 read as U+FFFD, as in bodies (restapi's body.go).
	q = strings.ToValidUTF8(q, "\uFFFD")
	if strings.ContainsRune(q, 0) {
		return Search{}, searchError(q, "it holds a NUL byte")
	}
	toks, err := lex(q)
	if err != nil {
		return Search{}, err
	}
	p := &searchParser{q: q, toks: toks}
	if !p.atKeyword("sortby") && !p.atKeyword("page") && p.peek().kind != tEOF {
		if p.search.Where, err = p.or(0); err != nil {
			return Search{}, err
		}
	}
	if p.atKeyword("sortby") {
		p.i++
		f := p.next()
		if f.kind != tWord || isKeyword(f.text) {
			return Search{}, p.fail(f, "sortby must name a field")
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
		if n.kind != tWord || err != nil || v < 1 || v > MaxSearchPage {
			return Search{}, p.fail(n, "page takes a number from 1 to "+strconv.Itoa(MaxSearchPage))
		}
		p.search.Page = v
	}
	if t := p.peek(); t.kind != tEOF {
		return Search{}, p.fail(t, "nothing may follow the condition, sortby and page")
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
func (p *searchParser) or(depth int) (*SearchExpr, error) {
	var kids []*SearchExpr
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
	return join(SearchOr, kids), nil
}

func (p *searchParser) and(depth int) (*SearchExpr, error) {
	var kids []*SearchExpr
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
	return join(SearchAnd, kids), nil
}

// join makes one node of kids, flattening kids of the same operator.
func join(op SearchOp, kids []*SearchExpr) *SearchExpr {
	if len(kids) == 1 {
		return kids[0]
	}
	out := &SearchExpr{Op: op}
	for _, k := range kids {
		if k.Op == op {
			out.Kids = append(out.Kids, k.Kids...)
		} else {
			out.Kids = append(out.Kids, k)
		}
	}
	return out
}

var searchOps = map[string]SearchOp{"=": SearchEq, "!=": SearchNe, "<": SearchLt,
	"<=": SearchLe, ">": SearchGt, ">=": SearchGe}

func (p *searchParser) unary(depth int) (*SearchExpr, error) {
	t := p.next()
	switch {
	case t.kind == tOpen:
		if depth+1 > MaxSearchDepth {
			return nil, p.fail(t, "parentheses nest deeper than "+strconv.Itoa(MaxSearchDepth))
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
	if p.terms++; p.terms > MaxSearchTerms {
		return nil, p.fail(t, "a query has at most "+strconv.Itoa(MaxSearchTerms)+" terms")
	}
	return &SearchExpr{Op: searchOps[op.text], Field: strings.ToLower(t.text), Value: v.text}, nil
}
