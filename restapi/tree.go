package restapi

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"vwire.dev/vwire"
)

// Bodies are read into one small tree, whatever their format, so that every
// handler sees XML and JSON alike and can tell a field that is absent from
// one that is empty (oVirt's merge semantics on PUT).

// Limits on request bodies: anything larger or deeper is refused with a 400.
const (
	maxBody     = 1 << 20
	maxDepth    = 32
	maxElements = 20000
)

// in is a parsed request element.
type in struct {
	name  string
	attrs map[string]string
	text  string
	kids  []*in
}

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
	return false, vwire.InvalidValue("Invalid value", fmt.Sprintf(`Value "%s" isn't a valid boolean, it should be "true" , "false", "0" or "1"`, v))
}

// intp parses an integer field.
func (n *in) intp(name string) (*int64, error) {
	v, ok := n.str(name)
	if !ok {
		return nil, nil
	}
	i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return nil, vwire.InvalidValue("Invalid value", fmt.Sprintf(`Value "%s" of %s isn't a valid integer`, v, name))
	}
	return &i, nil
}

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

func malformed(format string, err error) error {
	return vwire.InvalidValue("Bad Request", fmt.Sprintf("The request body is not valid %s: %s", format, err.Error()))
}

// parseBody reads a request body as XML or JSON into a tree.
func parseBody(body io.Reader, isJSON bool) (*in, error) {
	data, err := io.ReadAll(io.LimitReader(body, maxBody+1))
	if err != nil {
		return nil, vwire.InvalidValue("Bad Request", "The request body cannot be read: "+err.Error())
	}
	if len(data) > maxBody {
		return nil, vwire.InvalidValue("Bad Request", fmt.Sprintf("The request body is larger than %d bytes.", maxBody))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return &in{attrs: map[string]string{}}, nil
	}
	if isJSON {
		return parseJSON(data)
	}
	return parseXML(data)
}

func parseXML(data []byte) (*in, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var stack []*in
	var root *in
	count := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, malformed("XML", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, malformed("XML", errors.New("document type declarations are not accepted"))
		case xml.StartElement:
			count++
			if count > maxElements || len(stack) >= maxDepth {
				return nil, malformed("XML", fmt.Errorf("more than %d elements or deeper than %d levels", maxElements, maxDepth))
			}
			n := &in{name: t.Name.Local, attrs: map[string]string{}}
			for _, a := range t.Attr {
				n.attrs[a.Name.Local] = a.Value
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, malformed("XML", errors.New("more than one root element"))
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(t)
			}
		}
	}
	if root == nil {
		return nil, malformed("XML", errors.New("no root element"))
	}
	return root, nil
}

func parseJSON(data []byte) (*in, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, malformed("JSON", err)
	}
	if d.More() {
		return nil, malformed("JSON", errors.New("trailing data after the object"))
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, malformed("JSON", errors.New("the body must be an object"))
	}
	count := 0
	root := &in{attrs: map[string]string{}}
	if err := fillJSON(root, obj, 1, &count); err != nil {
		return nil, malformed("JSON", err)
	}
	return root, nil
}

func fillJSON(n *in, obj map[string]any, depth int, count *int) error {
	if depth > maxDepth {
		return fmt.Errorf("deeper than %d levels", maxDepth)
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vals, isList := obj[k].([]any)
		if !isList {
			vals = []any{obj[k]}
		}
		for _, v := range vals {
			*count++
			if *count > maxElements {
				return fmt.Errorf("more than %d elements", maxElements)
			}
			kid := &in{name: k, attrs: map[string]string{}}
			switch x := v.(type) {
			case nil:
				continue
			case map[string]any:
				if err := fillJSON(kid, x, depth+1, count); err != nil {
					return err
				}
			case []any:
				return fmt.Errorf("nested arrays under %q are not part of the API", k)
			case bool:
				kid.text = strconv.FormatBool(x)
			case json.Number:
				kid.text = x.String()
			case string:
				kid.text = x
			}
			n.kids = append(n.kids, kid)
		}
	}
	return nil
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
			b.WriteString(" " + a[0] + `="` + attrEscaper.Replace(a[1]) + `"`)
		}
	}
	switch {
	case n.isText:
		b.WriteString(">" + textEscaper.Replace(n.text) + "</" + n.name + ">\n")
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
