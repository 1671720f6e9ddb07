package vwire

import "testing"

// TestNameUUID: the ids oVirt derives from names are Java's
// UUID.nameUUIDFromBytes (MD5, version 3, IETF variant).
func TestNameUUID(t *testing.T) {
	if got := NameUUID(""); got != "d41d8cd9-8f00-3204-a980-0998ecf8427e" {
		t.Errorf("NameUUID(\"\") = %s, want Java's d41d8cd9-8f00-3204-a980-0998ecf8427e", got)
	}
	if a, b := NameUUID("data.total.rx"), NameUUID("data.total.tx"); a == b || a[14] != '3' {
		t.Errorf("NameUUID ids %s and %s", a, b)
	}
	f, ok := NWFilterByName(DefaultNWFilter)
	if !ok {
		t.Fatal("the default filter is not in the catalogue")
	}
	if g, ok := NWFilterByID(f.ID()); !ok || g != f {
		t.Errorf("by id: %+v %v", g, ok)
	}
}

func TestValidateFilterParameter(t *testing.T) {
	for _, c := range []struct {
		name, value string
		ok          bool
	}{
		{"IP", "198.51.100.7", true}, {"CTRL_IP_LEARNING", "dhcp", true}, {"MAC", "02:00:00:00:00:01", true},
		{"IPV6", "2001:db8::1", true}, {"IP", "198.51.100.0/24", true},
		{"", "x", false}, {"1IP", "x", false}, {"IP", "", false}, {"IP", "a b", false}, {"IP", "'x'", false},
		{"IP", "<x/>", false},
	} {
		err := ValidateFilterParameter(OpEditNic, &FilterParameter{Name: c.name, Value: c.value})
		if (err == nil) != c.ok {
			t.Errorf("%q=%q: %v, want ok %v", c.name, c.value, err, c.ok)
		}
	}
}
