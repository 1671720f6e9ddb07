package vwire_test

import (
	"testing"

	"vwire.dev/vwire"
)

func mac(t *testing.T, s string) vwire.MAC {
	t.Helper()
	m, ok := vwire.ParseMAC(s)
	if !ok {
		t.Fatalf("bad MAC %q in the test", s)
	}
	return m
}

// TestValidateMacRanges: a pool never holds the zero MAC, a multicast or the
// broadcast address, a reversed range or two ranges that overlap (the
// allocator would hand one MAC out twice).
func TestValidateMACRanges(t *testing.T) {
	r := func(from, to string) vwire.MACRange { return vwire.MACRange{From: mac(t, from), To: mac(t, to)} }
	cases := []struct {
		name   string
		ranges []vwire.MACRange
		want   vwire.MsgKey // the key of the error, "" for none
	}{
		{"one unicast range", []vwire.MACRange{r("02:00:00:00:00:00", "02:00:00:00:ff:ff")}, ""},
		{"two disjoint ranges, any order", []vwire.MACRange{r("02:00:00:00:01:00", "02:00:00:00:01:ff"), r("02:00:00:00:00:00", "02:00:00:00:00:ff")}, ""},
		{"adjacent ranges", []vwire.MACRange{r("02:00:00:00:00:00", "02:00:00:00:00:ff"), r("02:00:00:00:01:00", "02:00:00:00:01:ff")}, ""},
		{"zero MAC alone", []vwire.MACRange{r("00:00:00:00:00:00", "00:00:00:00:00:00")}, vwire.MsgMACPoolInvalidRange},
		{"range starting at the zero MAC", []vwire.MACRange{r("00:00:00:00:00:00", "00:00:00:00:00:0f")}, vwire.MsgMACPoolInvalidRange},
		{"broadcast", []vwire.MACRange{r("ff:ff:ff:ff:ff:ff", "ff:ff:ff:ff:ff:ff")}, vwire.MsgMACPoolInvalidRange},
		{"multicast", []vwire.MACRange{r("01:00:5e:00:00:00", "01:00:5e:00:00:ff")}, vwire.MsgMACPoolInvalidRange},
		{"from after to", []vwire.MACRange{r("02:00:00:00:00:0f", "02:00:00:00:00:00")}, vwire.MsgMACPoolInvalidRange},
		{"crossing the first octet", []vwire.MACRange{r("02:ff:ff:ff:ff:ff", "04:00:00:00:00:01")}, vwire.MsgMACPoolInvalidRange},
		{"overlapping ranges", []vwire.MACRange{r("02:00:00:00:00:00", "02:00:00:00:00:ff"), r("02:00:00:00:00:80", "02:00:00:00:01:ff")}, vwire.MsgMACPoolRangesOverlap},
		{"one range inside another", []vwire.MACRange{r("02:00:00:00:00:00", "02:00:00:00:ff:ff"), r("02:00:00:00:00:10", "02:00:00:00:00:20")}, vwire.MsgMACPoolRangesOverlap},
		{"the same range twice", []vwire.MACRange{r("02:00:00:00:00:00", "02:00:00:00:00:0f"), r("02:00:00:00:00:00", "02:00:00:00:00:0f")}, vwire.MsgMACPoolRangesOverlap},
		{"sharing one address", []vwire.MACRange{r("02:00:00:00:00:00", "02:00:00:00:00:10"), r("02:00:00:00:00:10", "02:00:00:00:00:20")}, vwire.MsgMACPoolRangesOverlap},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := vwire.ValidateMACRanges(vwire.OpAddMACPool, tc.ranges)
			var got vwire.MsgKey
			if err != nil {
				got = err.(*vwire.Error).Key
			}
			if got != tc.want {
				t.Errorf("ValidateMacRanges = %v (key %q), want key %q", err, got, tc.want)
			}
		})
	}
}

func TestValidateAgentAddress(t *testing.T) {
	cases := []struct {
		name    string
		address string
		port    int
		ok      bool
	}{
		{"IPv4", "192.0.2.1", 54321, true},
		{"IPv6", "2001:db8::1", 54321, true},
		{"DNS name", "host-1.example.org", 1, true},
		{"DNS name with the root dot", "host.example.org.", 65535, true},
		{"negative port", "192.0.2.1", -5, false},
		{"port zero", "192.0.2.1", 0, false},
		{"port too large", "192.0.2.1", 65536, false},
		{"empty address", "", 54321, false},
		{"address with a space", "host one", 54321, false},
		{"address with a path", "host/x", 54321, false},
		{"address with user info", "u@host", 54321, false},
		{"label starting with a hyphen", "-host.example.org", 54321, false},
		{"empty label", "host..example.org", 54321, false},
		{"label too long", string(make([]byte, 64)), 54321, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := vwire.ValidateAgentAddress(tc.address, tc.port)
			if got := err == nil; got != tc.ok {
				t.Errorf("ValidateAgentAddress(%q, %d) = %v, want ok=%v", tc.address, tc.port, err, tc.ok)
			}
			if err != nil && vwire.ErrorCode(err) != vwire.EINVALID {
				t.Errorf("code %s, want %s", vwire.ErrorCode(err), vwire.EINVALID)
			}
		})
	}
}

func TestValidateMemory(t *testing.T) {
	cases := []struct {
		name  string
		bytes int64
		ok    bool
	}{
		{"one MiB", 1 << 20, true},
		{"the maximum", vwire.MaxMemory, true},
		{"zero", 0, false},
		{"negative", -1 << 30, false},
		{"less than a MiB", 1 << 19, false},
		{"above the maximum", vwire.MaxMemory + 1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := vwire.ValidateMemory(vwire.OpAddVM, tc.bytes)
			if got := err == nil; got != tc.ok {
				t.Errorf("ValidateMemory(%d) = %v, want ok=%v", tc.bytes, err, tc.ok)
			}
		})
	}
}

// FuzzParseMAC: ParseMAC never panics, accepts exactly the 17-character
// colon form, and what it accepts renders back to the same text (in lower
// case) and parses to the same value.
func FuzzParseMAC(f *testing.F) {
	for _, s := range []string{"00:1a:4a:16:01:51", "FF:FF:FF:FF:FF:FF", "00:00:00:00:00:00", "00:1a:4a:16:01", "0g:1a:4a:16:01:51", "001a4a160151zzzzz", "+1:1a:4a:16:01:51", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, ok := vwire.ParseMAC(s)
		if !ok {
			if m != 0 {
				t.Errorf("ParseMAC(%q) failed but returned %v", s, m)
			}
			return
		}
		if m > 1<<48-1 {
			t.Fatalf("ParseMAC(%q) = %#x, more than 48 bits", s, uint64(m))
		}
		back := m.String()
		if len(s) != 17 || !equalFoldASCII(back, s) {
			t.Fatalf("ParseMAC(%q) = %s: not the same address", s, back)
		}
		if m2, ok := vwire.ParseMAC(back); !ok || m2 != m {
			t.Fatalf("ParseMAC(%q) = %v, %v; want %v", back, m2, ok, m)
		}
	})
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
