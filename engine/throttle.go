package engine

import (
	"container/list"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"vwire.dev/vwire"
)

// ThrottleOptions bound password guessing. A key (a case-folded user name,
// or a source address) may fail Limit logins in Window; the next failure
// locks it for Base, and each failure after a lockout doubles the delay up
// to Max. While locked, attempts are refused before their password is
// checked. A success resets the user name's key; a key quiet for Forget is
// forgotten. Zero values take the defaults.
type ThrottleOptions struct {
	Limit  int           // default 5
	Window time.Duration // default 1 minute
	Base   time.Duration // default 1 second
	Max    time.Duration // default 15 minutes
	Forget time.Duration // default 1 hour
	// Entries caps the keys remembered, per kind (default 10000): past it
	// the least recently seen is forgotten, so that guessing with ever new
	// names or addresses cannot grow the engine's memory.
	Entries int
}

// Throttled is the cause of a MsgLoginThrottled refusal: when the next
// attempt will be checked (restapi's Retry-After).
type Throttled struct{ RetryAfter time.Duration }

func (t *Throttled) Error() string { return "login throttled for " + t.RetryAfter.String() }

type throttle struct {
	o     ThrottleOptions
	mu    sync.Mutex
	users *strikes
	addrs *strikes
}

func newThrottle(o ThrottleOptions) *throttle {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.Limit <= 0 {
		o.Limit = 5
	}
	def(&o.Window, time.Minute)
	def(&o.Base, time.Second)
	def(&o.Max, 15*time.Minute)
	def(&o.Forget, time.Hour)
	if o.Entries <= 0 {
		o.Entries = 10000
	}
	return &throttle{o: o, users: newStrikes(o.Entries), addrs: newStrikes(o.Entries)}
}

// addrKey is the throttled unit of a source address: the address itself,
// or its /64 for IPv6, where one client commonly holds the whole prefix.
func addrKey(src string) string {
	a, err := netip.ParseAddr(src)
	if err != nil {
		return src
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// check refuses an attempt while its user name or its address is locked.
func (t *throttle) check(userKey, src string, now time.Time, login string) error {
	t.mu.Lock()
	wait := t.users.wait(userKey, now)
	if src != "" {
		wait = max(wait, t.addrs.wait(addrKey(src), now))
	}
	t.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	secs := int64((wait + time.Second - 1) / time.Second)
	return vwire.New(vwire.MsgLoginThrottled, "user", truncate(login, 64), "seconds", strconv.FormatInt(secs, 10)).
		Wrap(&Throttled{RetryAfter: time.Duration(secs) * time.Second})
}

// lockout is what a failure that locked a key reports for the audit event.
type lockout struct {
	failures int
	delay    time.Duration
}

// fail counts a failed login on both keys; locked reports a new lockout
// (the longer of the two).
func (t *throttle) fail(userKey, src string, now time.Time) (l lockout, locked bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := []*strikes{t.users}
	names := []string{userKey}
	if src != "" {
		keys, names = append(keys, t.addrs), append(names, addrKey(src))
	}
	for i, ks := range keys {
		s := ks.get(names[i], now)
		if now.Sub(s.last) > t.o.Forget {
			*s = strike{key: s.key, elem: s.elem}
		}
		s.last = now
		s.total++
		if s.level == 0 {
			if now.Sub(s.window) > t.o.Window {
				s.window, s.fails = now, 0
			}
			s.fails++
			if s.fails < t.o.Limit {
				continue
			}
		}
		s.level++
		d := t.o.Max
		if s.level < 32 {
			d = min(t.o.Base<<(s.level-1), t.o.Max)
		}
		s.until = now.Add(d)
		if !locked || d > l.delay {
			l = lockout{failures: s.total, delay: d}
		}
		locked = true
	}
	return l, locked
}

// success forgets a user name's failures (not its address's: one good
// password must not clear a spray across other names).
func (t *throttle) success(userKey string) {
	t.mu.Lock()
	t.users.remove(userKey)
	t.mu.Unlock()
}

// strike is one key's record.
type strike struct {
	key    string
	window time.Time // start of the counting window (before any lockout)
	fails  int       // failures in the window
	total  int       // failures since the key was last reset
	level  int       // lockouts so far; the next lasts Base<<(level-1)
	until  time.Time // no attempt is checked before this
	last   time.Time // last failure
	elem   *list.Element
}

// strikes is a bounded LRU of keys.
type strikes struct {
	max int
	m   map[string]*strike
	lru *list.List // front: most recently seen
}

func newStrikes(n int) *strikes { return &strikes{max: n, m: map[string]*strike{}, lru: list.New()} }

// wait is how long key is still locked; seeing a locked key keeps it from
// being evicted by a flood of other keys.
func (ks *strikes) wait(key string, now time.Time) time.Duration {
	s, ok := ks.m[key]
	if !ok {
		return 0
	}
	ks.lru.MoveToFront(s.elem)
	return s.until.Sub(now)
}

func (ks *strikes) get(key string, now time.Time) *strike {
	if s, ok := ks.m[key]; ok {
		ks.lru.MoveToFront(s.elem)
		return s
	}
	for ks.lru.Len() >= ks.max {
		old := ks.lru.Remove(ks.lru.Back()).(*strike)
		delete(ks.m, old.key)
	}
	s := &strike{key: key, window: now, last: now}
	s.elem = ks.lru.PushFront(s)
	ks.m[key] = s
	return s
}

func (ks *strikes) remove(key string) {
	if s, ok := ks.m[key]; ok {
		ks.lru.Remove(s.elem)
		delete(ks.m, key)
	}
}

func (ks *strikes) len() int { return len(ks.m) }
