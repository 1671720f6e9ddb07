package restapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"vwire.dev/vwire"
)

// Bodies are read into one small tree, whatever their format, so that every
// handler sees XML and JSON alike and can tell a field that is absent from
// one that is empty (oVirt's merge semantics on PUT).

// in is a parsed request element.
type in struct {
	name  string
	kind  kind
	attrs map[string]string
	text  string
	kids  []*in
}

// kind is what a JSON value was; XML says nothing of types, so its
// elements are all xmlElement. checkShapes compares kinds with the field's
// shape once, after parsing, so that the accessors below can trust them.
type kind uint8

const (
	xmlElement kind = iota
	jsonObject
	jsonString
	jsonNumber
	jsonBool
)

func (n *in) child(name string) *in {
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		if k.name == name {
			return k
		}
	}
	return nil
}

func (n *in) children(name string) []*in {
	var out []*in
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		if k.name == name {
			out = append(out, k)
		}
	}
	return out
}

// has tells whether a field is present (as attribute or element).
func (n *in) has(name string) bool {
	if n == nil {
		return false
	}
	if _, ok := n.attrs[name]; ok {
		return true
	}
	return n.child(name) != nil
}

// str returns a field's text: attribute first (id, href), then element.
func (n *in) str(name string) (string, bool) {
	if n == nil {
		return "", false
	}
	if v, ok := n.attrs[name]; ok {
		return v, true
	}
	if k := n.child(name); k != nil {
		return strings.TrimSpace(k.text), true
	}
	return "", false
}

func (n *in) strOr(name, def string) string {
	if v, ok := n.str(name); ok {
		return v
	}
	return def
}

// strp returns a pointer to the field's text, nil when absent.
func (n *in) strp(name string) *string {
	if v, ok := n.str(name); ok {
		return &v
	}
	return nil
}

// boolp parses a boolean field as oVirt does: true/false/1/0, any case.
func (n *in) boolp(name string) (*bool, error) {
	v, ok := n.str(name)
	if !ok {
		return nil, nil
	}
	b, err := parseBool(v)
	if err != nil {
		return nil, err
	}
	return &b, nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, vwire.InvalidValue(vwire.MsgInvalidValue, fmt.Sprintf(`Value "%s" isn't a valid boolean, it should be "true" , "false", "0" or "1"`, v))
}

// intp parses an integer field that must lie in [lo, hi]. Callers choose
// bounds under which their conversion (to int, to a Duration…) cannot
// wrap; the range check comes before any conversion.
func (n *in) intp(name string, lo, hi int64) (*int64, error) {
	v, ok := n.str(name)
	if !ok {
		return nil, nil
	}
	i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, vwire.InvalidValue(vwire.MsgInvalidValue, fmt.Sprintf(`Value "%s" of %s isn't a valid integer`, v, name))
	}
	if err != nil || i < lo || i > hi {
		return nil, vwire.InvalidValue(vwire.MsgInvalidValue, fmt.Sprintf(`Value "%s" of %s is out of range: it must be between %d and %d`, v, name, lo, hi))
	}
	return &i, nil
}

// Bounds of integer fields that the engine validates further: they keep an
// int64 → int conversion lossless on every platform.
const (
	minInt32 = -1 << 31
	maxInt32 = 1<<31 - 1
)

// refID returns the id of a reference element (<cluster id="…"/> or
// {"cluster":{"id":"…"}}), its name when only a name is given, and whether it is present.
func (n *in) ref(name string) (id, byName string, present bool) {
	k := n.child(name)
	if k == nil {
		return "", "", false
	}
	id, _ = k.str("id")
	byName, _ = k.str("name")
	return id, byName, true
}

// ---- output

// node is a response element. Only id, href and rel are attributes (oVirt's
// rule); everything else is an element in XML and a key in JSON.
type node struct {
	name          string
	id, href, rel string
	text          string
	isText        bool
	jsonNum       *int64 // dates are epoch milliseconds in JSON
	jsonDecimal   bool   // text is a number in JSON (statistics' data)
	kids          []*node
	arr           bool // JSON: always an array under its name
}

func el(name string, kids ...*node) *node {
	n := &node{name: name}
	for _, k := range kids {
		if k != nil {
			n.kids = append(n.kids, k)
		}
	}
	return n
}

func (n *node) add(kids ...*node) *node {
	for _, k := range kids {
		if k != nil {
			n.kids = append(n.kids, k)
		}
	}
	return n
}

func str(name, v string) *node { return &node{name: name, text: v, isText: true} }

// optStr omits empty strings.
func optStr(name, v string) *node {
	if v == "" {
		return nil
	}
	return str(name, v)
}

func boolean(name string, v bool) *node { return str(name, strconv.FormatBool(v)) }

// decimal is a number that JSON shows as a number (oVirt's xs:decimal,
// which Jackson writes unquoted), e.g. a statistic's datum.
func decimal(name string, v float64) *node {
	return &node{name: name, text: strconv.FormatFloat(v, 'f', -1, 64), isText: true, jsonDecimal: true}
}

func integer(name string, v int64) *node { return str(name, strconv.FormatInt(v, 10)) }

func date(name string, t time.Time) *node {
	if t.IsZero() {
		return nil
	}
	ms := t.UnixMilli()
	return &node{name: name, text: t.Local().Format("2006-01-02T15:04:05.000-07:00"), isText: true, jsonNum: &ms}
}

// ref is a reference to another entity: <cluster href=".." id=".."/>.
func ref(name, href, id string) *node {
	if id == "" {
		return nil
	}
	return &node{name: name, href: href, id: id}
}

func link(rel, href string) *node { return &node{name: "link", rel: rel, href: href, arr: true} }

func actions(base string, names ...string) *node {
	a := el("actions")
	for _, n := range names {
		a.add(link(n, base+"/"+n))
	}
	return a
}

// item marks n as an element of a list (JSON array).
func item(n *node) *node {
	n.arr = true
	return n
}

// Text is escaped as JAXB does: only what XML requires, so that quotes in
// messages stay readable.
var (
	textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r", "&#13;")
	attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "\n", "&#10;", "\r", "&#13;", "\t", "&#9;")
)

// xmlSafe replaces what XML 1.0 cannot carry (control characters, U+FFFE,
// bytes that are not UTF-8) with U+FFFD. Input refuses such text, but
// values also come from hosts, OVFs and older databases, and an answer
// must stay well-formed whatever it shows.
func xmlSafe(s string) string {
	for i, r := range s {
		if !isXMLChar(r) || (r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD")) {
			return strings.Map(func(r rune) rune {
				if !isXMLChar(r) {
					return utf8.RuneError
				}
				return r
			}, strings.ToValidUTF8(s, "\uFFFD"))
		}
	}
	return s
}

func writeXML(w io.Writer, n *node) error {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n")
	n.writeXML(&b, 0)
	_, err := w.Write(b.Bytes())
	return err
}

func (n *node) writeXML(b *bytes.Buffer, depth int) {
	indent := strings.Repeat("    ", depth)
	b.WriteString(indent + "<" + n.name)
	for _, a := range [][2]string{{"href", n.href}, {"id", n.id}, {"rel", n.rel}} {
		if a[1] != "" {
			b.WriteString(" " + a[0] + `="` + attrEscaper.Replace(xmlSafe(a[1])) + `"`)
		}
	}
	switch {
	case n.isText:
		b.WriteString(">" + textEscaper.Replace(xmlSafe(n.text)) + "</" + n.name + ">\n")
	case len(n.kids) == 0:
		b.WriteString("/>\n")
	default:
		b.WriteString(">\n")
		for _, k := range n.kids {
			k.writeXML(b, depth+1)
		}
		b.WriteString(indent + "</" + n.name + ">\n")
	}
}

// jsonValue renders n as the engine's Jackson does: an object of its
// attributes and children, repeated or list children as arrays, scalars as
// strings (dates as numbers).
func (n *node) jsonValue() any {
	if n.isText {
		if n.jsonNum != nil {
			return *n.jsonNum
		}
		if n.jsonDecimal {
			return json.Number(n.text)
		}
		return n.text
	}
	obj := orderedObject{}
	for _, k := range n.kids {
		v := k.jsonValue()
		if k.arr {
			obj.appendTo(k.name, v)
		} else {
			obj.set(k.name, v)
		}
	}
	for _, a := range [][2]string{{"href", n.href}, {"id", n.id}, {"rel", n.rel}} {
		if a[1] != "" {
			obj.set(a[0], a[1])
		}
	}
	return obj
}

// orderedObject keeps JSON keys in insertion order, as Jackson writes them.
type orderedObject struct {
	keys []string
	vals map[string]any
}

func (o *orderedObject) set(k string, v any) {
	if o.vals == nil {
		o.vals = map[string]any{}
	}
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *orderedObject) appendTo(k string, v any) {
	cur, _ := o.vals[k].([]any)
	o.set(k, append(cur, v))
}

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func writeJSON(w io.Writer, n *node) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(n.jsonValue())
}
