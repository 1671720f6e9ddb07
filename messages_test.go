package vwire_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"testing"

	"vwire.dev/vwire"
)

// TestMessageKeys walks every MsgKey constant declared in messages.go and
// proves it has a text and a code in the catalogue, that no two constants
// share a key, and that the catalogue holds no text without a constant.
func TestMessageKeys(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "messages.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	declared := map[vwire.MsgKey]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			v := s.(*ast.ValueSpec)
			if id, ok := v.Type.(*ast.Ident); !ok || id.Name != "MsgKey" {
				t.Errorf("constant %s is not declared as a MsgKey", v.Names[0].Name)
				continue
			}
			for i, name := range v.Names {
				lit, ok := v.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Errorf("%s: value is not a string literal", name.Name)
					continue
				}
				key, _ := strconv.Unquote(lit.Value)
				if other, dup := declared[vwire.MsgKey(key)]; dup {
					t.Errorf("%s and %s share the key %s", name.Name, other, key)
				}
				declared[vwire.MsgKey(key)] = name.Name
			}
		}
	}
	if len(declared) < 60 {
		t.Fatalf("found only %d keys in messages.go", len(declared))
	}
	for key, name := range declared {
		m, ok := vwire.MessageOf(key)
		switch {
		case !ok:
			t.Errorf("%s (%s) has no text", name, key)
		case m.Text == "":
			t.Errorf("%s (%s) has an empty text", name, key)
		case m.Code == "":
			t.Errorf("%s (%s) has no code", name, key)
		}
		if got := vwire.ErrorCode(vwire.New(key)); ok && got != m.Code {
			t.Errorf("%s: an error for it has code %s, want %s", name, got, m.Code)
		}
	}
	for _, key := range vwire.MessageKeys() {
		if _, ok := declared[key]; !ok {
			t.Errorf("the text of %s has no constant", key)
		}
	}
}

// A key with no text is an internal error, never a silent success.
func TestUnknownKey(t *testing.T) {
	if c := vwire.ErrorCode(vwire.New("NO_SUCH_KEY")); c != vwire.EINTERNAL {
		t.Fatalf("code = %s, want internal", c)
	}
}
