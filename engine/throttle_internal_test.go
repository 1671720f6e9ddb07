package engine

import (
	"fmt"
	"testing"
	"time"
)

// Guessing with ever new names from ever new addresses cannot grow the
// throttle past its cap; the oldest keys go first, and a locked key that
// is still being tried stays.
func TestThrottleBounded(t *testing.T) {
	th := newThrottle(ThrottleOptions{Entries: 100})
	now := time.Unix(1_800_000_000, 0)
	for range 5 {
		th.fail("victim@internal", "192.0.2.1", now)
	}
	for i := range 100_000 {
		th.fail(fmt.Sprintf("u%d@internal", i), fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), now)
		if i%50 == 0 && th.check("victim@internal", "", now, "victim") == nil {
			t.Fatalf("after %d other keys the locked victim was forgotten", i)
		}
	}
	if n, m := th.users.len(), th.addrs.len(); n > 100 || m > 100 {
		t.Fatalf("throttle holds %d names and %d addresses, cap 100", n, m)
	}
}

func TestAddrKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":             "192.0.2.1",
		"::ffff:192.0.2.1":      "192.0.2.1",
		"2001:db8:1:2:3:4:5:6":  "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::99": "2001:db8:1:2::/64",
		"not an address":        "not an address",
	} {
		if got := addrKey(in); got != want {
			t.Errorf("addrKey(%q) = %q, want %q", in, got, want)
		}
	}
}
