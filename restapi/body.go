package restapi

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"vwire.dev/vwire"
)

// Reading request bodies. Both formats become the same tree (see in), and
// one pass over it (checkTree) then refuses, whatever the format:
//
//   - text XML 1.0 cannot carry (control characters, U+FFFE…): it could be
//     stored, but every XML answer showing it would be ill-formed;
//   - a field given twice (a JSON key, an XML element or an attribute and an
//     element of the same name), which would otherwise be resolved silently;
//   - a value of the wrong shape: a reference given as text
//     ("vnic_profile": "<id>" would read as no profile at all), a number or
//     boolean where the API takes a string, an object where it takes a value.
//
// Every step is linear in the size of the body, which is bounded, as are
// its depth and its number of elements.

// Limits on request bodies: anything larger or deeper is refused with a 400.
const (
	maxBody     = 1 << 20
	maxDepth    = 32
	maxElements = 20000
)

func malformed(format string, err error) error {
	return vwire.InvalidValue(vwire.MsgBadRequest, fmt.Sprintf("The request body is not valid %s: %s", format, err.Error()))
}

func badField(format string, args ...any) error {
	return vwire.InvalidValue(vwire.MsgInvalidValue, fmt.Sprintf(format, args...))
}

// parseBody reads a request body as XML or JSON into a checked tree.
func parseBody(body io.Reader, isJSON bool) (*in, error) {
	data, err := io.ReadAll(io.LimitReader(body, maxBody+1))
	if err != nil {
		return nil, vwire.InvalidValue(vwire.MsgBadRequest, "The request body cannot be read: "+err.Error())
	}
	if len(data) > maxBody {
		return nil, vwire.InvalidValue(vwire.MsgBadRequest, fmt.Sprintf("The request body is larger than %d bytes.", maxBody))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return &in{attrs: map[string]string{}}, nil
	}
	var root *in
	if isJSON {
		root, err = parseJSON(data)
	} else {
		root, err = parseXML(data)
	}
	if err != nil {
		return nil, err
	}
	if err := checkTree(root, "", true); err != nil {
		return nil, err
	}
	return root, nil
}

func parseXML(data []byte) (*in, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	// Each open element collects its text in a builder: appending to a
	// string per token would copy the text again for every comment or
	// CDATA section that splits it (quadratic in the body's size).
	type open struct {
		n    *in
		text strings.Builder
	}
	var stack []*open
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
			n := &in{name: t.Name.Local, attrs: make(map[string]string, len(t.Attr))}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					continue // a namespace declaration, not a field
				}
				if _, dup := n.attrs[a.Name.Local]; dup {
					return nil, badField("The attribute %s of %s is given twice.", a.Name.Local, n.name)
				}
				n.attrs[a.Name.Local] = a.Value
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, malformed("XML", errors.New("more than one root element"))
				}
				root = n
			} else {
				p := stack[len(stack)-1].n
				p.kids = append(p.kids, n)
			}
			stack = append(stack, &open{n: n})
		case xml.EndElement:
			top := stack[len(stack)-1]
			top.n.text = top.text.String()
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		}
	}
	if root == nil {
		return nil, malformed("XML", errors.New("no root element"))
	}
	return root, nil
}

// parseJSON reads tokens rather than decoding into a map, which would keep
// the last of two equal keys without a word.
func parseJSON(data []byte) (*in, error) {
	if !utf8.Valid(data) {
		// encoding/json would turn bad bytes into U+FFFD silently.
		return nil, malformed("JSON", errors.New("it is not UTF-8"))
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	tok, err := d.Token()
	if err != nil {
		return nil, malformed("JSON", err)
	}
	if tok != json.Delim('{') {
		return nil, malformed("JSON", errors.New("the body must be an object"))
	}
	p := &jsonReader{d: d}
	root := &in{kind: jsonObject}
	if err := p.object(root, 1); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, malformed("JSON", errors.New("trailing data after the object"))
	}
	return root, nil
}

type jsonReader struct {
	d     *json.Decoder
	count int
}

// object reads the members of an object whose '{' was read, and its '}'.
func (p *jsonReader) object(n *in, depth int) error {
	if depth > maxDepth {
		return malformed("JSON", fmt.Errorf("deeper than %d levels", maxDepth))
	}
	seen := map[string]bool{}
	for p.d.More() {
		tok, err := p.d.Token()
		if err != nil {
			return malformed("JSON", err)
		}
		k, _ := tok.(string) // the decoder only returns strings as keys
		if seen[k] {
			return badField("The field %q is given twice.", k)
		}
		seen[k] = true
		if tok, err = p.d.Token(); err != nil {
			return malformed("JSON", err)
		}
		if tok != json.Delim('[') {
			if err := p.member(n, k, tok, depth); err != nil {
				return err
			}
			continue
		}
		// An array is the list of k's items: each becomes an element k.
		for p.d.More() {
			if tok, err = p.d.Token(); err != nil {
				return malformed("JSON", err)
			}
			if tok == json.Delim('[') {
				return malformed("JSON", fmt.Errorf("nested arrays under %q are not part of the API", k))
			}
			if err := p.member(n, k, tok, depth); err != nil {
				return err
			}
		}
		if _, err := p.d.Token(); err != nil { // ']'
			return malformed("JSON", err)
		}
	}
	if _, err := p.d.Token(); err != nil { // '}'
		return malformed("JSON", err)
	}
	return nil
}

// member adds the value that starts with tok as the element name of n; null
// is an absent field.
func (p *jsonReader) member(n *in, name string, tok json.Token, depth int) error {
	p.count++
	if p.count > maxElements {
		return malformed("JSON", fmt.Errorf("more than %d elements", maxElements))
	}
	kid := &in{name: name}
	switch v := tok.(type) {
	case nil:
		return nil
	case json.Delim: // only '{' can start a value here
		kid.kind = jsonObject
		if err := p.object(kid, depth+1); err != nil {
			return err
		}
	case bool:
		kid.kind, kid.text = jsonBool, strconv.FormatBool(v)
	case json.Number:
		kid.kind, kid.text = jsonNumber, v.String()
	case string:
		kid.kind, kid.text = jsonString, v
	}
	n.kids = append(n.kids, kid)
	return nil
}

// shape is what the API takes in a field.
type shape uint8

const (
	anyShape    shape = iota // a field the API does not read: not checked
	stringShape              // text; JSON: a string
	intShape                 // JSON: a number or a string (the engine writes strings)
	boolShape                // JSON: a boolean or a string
	objectShape              // an element with fields; a reference is one, with an id
)

var shapeNames = [...]string{"", "a string", "an integer", "a boolean", "an object"}

// shapes are the fields the handlers read, by name; every entity uses a
// name with one meaning, except the few qualified by their parent.
var shapes = map[string]shape{
	"name": stringShape, "description": stringShape, "id": stringShape, "href": stringShape, "rel": stringShape,
	"address": stringShape, "data": stringShape, "type": stringShape, "from": stringShape, "to": stringShape,
	"usage": stringShape, "guest_notification": stringShape, "interface": stringShape, "link_state": stringShape,
	"kernel": stringShape, "initrd": stringShape, "cmdline": stringShape,
	"user_name": stringShape, "password": stringShape, "search": stringShape,

	"port": intShape, "memory": intShape, "mtu": intShape, "link_bounce_hold": intShape,
	"major": intShape, "minor": intShape,
	"inbound_average": intShape, "inbound_peak": intShape, "inbound_burst": intShape,
	"outbound_average": intShape, "outbound_peak": intShape, "outbound_burst": intShape,
	"mode": stringShape,

	"allow_duplicates": boolShape, "linked": boolShape, "local": boolShape, "plugged": boolShape,
	"port_mirroring": boolShape, "required": boolShape, "regenerate_ids": boolShape,
	"reassign_bad_macs": boolShape, "empty_missing_networks": boolShape, "administrative": boolShape,
	"async": boolShape,

	"cluster": objectShape, "data_center": objectShape, "template": objectShape, "vnic_profile": objectShape,
	"network": objectShape, "mac_pool": objectShape, "vm": objectShape, "host": objectShape,
	"os": objectShape, "placement_policy": objectShape, "hosts": objectShape, "initialization": objectShape,
	"configuration": objectShape, "ranges": objectShape, "range": objectShape, "usages": objectShape,
	"version": objectShape, "vlan": objectShape, "mac": objectShape,
	"user": objectShape, "role": objectShape, "domain": objectShape, "permits": objectShape, "permit": objectShape,
	"qos": objectShape, "pass_through": objectShape,
	// host networks (issue 16)
	"vxlan_segment": intShape, "check_connectivity": boolShape, "connectivity_timeout": intShape,
	"modified_network_attachments": objectShape, "removed_network_attachments": objectShape,
	"synced_network_attachments": objectShape, "network_attachment": objectShape, "host_nic": objectShape,
	"modified_bonds": objectShape, "removed_bonds": objectShape, "modified_labels": objectShape, "removed_labels": objectShape,
}

var qualifiedShapes = map[string]shape{"vlan.id": intShape}

func shapeOf(parent, name string) shape {
	if s, ok := qualifiedShapes[parent+"."+name]; ok {
		return s
	}
	return shapes[name]
}

func (s shape) acceptsJSON(k kind) bool {
	switch s {
	case stringShape:
		return k == jsonString
	case intShape:
		return k == jsonNumber || k == jsonString
	case boolShape:
		return k == jsonBool || k == jsonString
	case objectShape:
		return k == jsonObject
	}
	return true
}

var kindNames = [...]string{"an element", "an object", "a string", "a number", "a boolean"}

// checkTree applies the rules of the file's comment to n and below; parent
// is the name of n's parent. The root is always an object.
func checkTree(n *in, parent string, root bool) error {
	if err := xmlText(n.name, n.name); err != nil {
		return err
	}
	if err := xmlText(n.name, n.text); err != nil {
		return err
	}
	for k, v := range n.attrs {
		if err := xmlText(k, k); err != nil {
			return err
		}
		if err := xmlText(k, v); err != nil {
			return err
		}
	}
	want := shapeOf(parent, n.name)
	if root {
		want = objectShape
	}
	if n.kind == xmlElement {
		hasText := strings.TrimSpace(n.text) != ""
		switch {
		case hasText && len(n.kids) > 0:
			return badField("The element %s mixes text and elements.", n.name)
		case hasText && want == objectShape:
			return badField("The field %s must be an element with fields (a reference with an id), not text.", n.name)
		case len(n.kids) > 0 && want != objectShape && want != anyShape:
			return badField("The field %s must be %s, not an element with fields.", n.name, shapeNames[want])
		}
	} else if !want.acceptsJSON(n.kind) {
		what := n.name
		if what == "" {
			what = "body"
		}
		return badField("The field %s must be %s, not %s.", what, shapeNames[want], kindNames[n.kind])
	}
	if len(n.kids) > 1 || len(n.attrs) > 0 {
		if err := checkRepeats(n); err != nil {
			return err
		}
	}
	for _, k := range n.kids {
		if err := checkTree(k, n.name, false); err != nil {
			return err
		}
	}
	return nil
}

// checkRepeats refuses a field given twice. Only the items of a list may
// repeat: range in ranges, host in hosts, version in supported_versions…,
// and link, oVirt's one list without a container.
func checkRepeats(n *in) error {
	seen := make(map[string]bool, len(n.kids))
	for _, k := range n.kids {
		if _, ok := n.attrs[k.name]; ok {
			return badField("The field %s of %s is given twice (as an attribute and as an element).", k.name, n.name)
		}
		if seen[k.name] && !listItem(n.name, k.name) {
			return badField("The field %s of %s is given twice.", k.name, n.name)
		}
		seen[k.name] = true
	}
	return nil
}

func listItem(parent, name string) bool {
	return name == "link" || parent == name+"s" || strings.HasSuffix(parent, "_"+name+"s")
}

// xmlText refuses text that XML 1.0 cannot carry.
func xmlText(field, s string) error {
	if i := strings.IndexFunc(s, func(r rune) bool { return !isXMLChar(r) }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return badField("The field %s contains the character %U, which XML 1.0 does not allow.", field, r)
	}
	return nil
}

// isXMLChar is XML 1.0's Char production.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || (r >= 0x20 && r <= 0xD7FF) ||
		(r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}
