package engine_test

import (
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"vwire.dev/vwire"
	"vwire.dev/vwire/agent/engineport"
	"vwire.dev/vwire/engine"
	"vwire.dev/vwire/store/sqlstore"
)

// clock is a settable time for sessions and throttling.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type authEnv struct {
	eng   *engine.Engine
	store *sqlstore.DB
	clk   *clock
}

// newAuthEnv is an engine with no host, a settable clock and admin's
// password "secret".
func newAuthEnv(t testing.TB, o engine.SessionOptions) *authEnv {
	t.Helper()
	db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "vwire.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &clock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	o.Clock = clk.Now
	eng := engine.New(db, engine.Options{Dial: engineport.Dial(time.Second), Sessions: o})
	t.Cleanup(eng.Close)
	if _, err := eng.Bootstrap(ctx(), "secret"); err != nil {
		t.Fatal(err)
	}
	return &authEnv{eng: eng, store: db, clk: clk}
}

func (a *authEnv) user(t testing.TB, name string) *vwire.User {
	t.Helper()
	var u *vwire.User
	a.store.View(ctx(), func(tx vwire.Tx) (err error) {
		u, err = tx.UserByName(name, "internal")
		return err
	})
	if u == nil {
		t.Fatalf("no user %s", name)
	}
	return u
}

func from(addr string) context.Context { return engine.WithSource(ctx(), addr) }

// An old PBKDF2 hash still verifies, and the first successful login
// replaces it with argon2id in its self-describing form.
func TestPasswordHashUpgrade(t *testing.T) {
	a := newAuthEnv(t, engine.SessionOptions{})
	if h := a.user(t, "admin").PasswordHash; !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("new hash = %s, want argon2id", h)
	}
	salt := []byte("0123456789abcdef")
	key, _ := pbkdf2.Key(sha256.New, "old-pw", salt, 1000, 32)
	legacy := fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", 1000, hex.EncodeToString(salt), hex.EncodeToString(key))
	u := &vwire.User{ID: uuid.NewString(), Name: "legacy", Domain: "internal", PasswordHash: legacy}
	if err := a.store.Update(ctx(), func(tx vwire.Tx) error { return tx.CreateUser(u) }); err != nil {
		t.Fatal(err)
	}
	if _, err := a.eng.Authenticate(ctx(), "legacy@internal", "wrong"); !vwire.IsKey(err, vwire.MsgBadCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if a.user(t, "legacy").PasswordHash != legacy {
		t.Fatal("a failed login changed the hash")
	}
	if _, err := a.eng.Authenticate(ctx(), "legacy@internal", "old-pw"); err != nil {
		t.Fatalf("legacy hash: %v", err)
	}
	h := a.user(t, "legacy").PasswordHash
	if !strings.HasPrefix(h, "$argon2id$") {
		t.Fatalf("hash after login = %s, want upgraded to argon2id", h)
	}
	if _, err := a.eng.Authenticate(ctx(), "legacy@internal", "old-pw"); err != nil {
		t.Fatalf("upgraded hash: %v", err)
	}
	if _, err := a.eng.Authenticate(ctx(), "legacy@internal", "wrong"); !vwire.IsKey(err, vwire.MsgBadCredentials) {
		t.Fatalf("wrong password after upgrade: %v", err)
	}
}

// 300 wrong passwords in a row: five are checked, the rest refused before
// any check, so that even the right password is refused during the
// lockout; the lockout is an audit event naming the name tried and the
// address; the delay doubles per failure after a lockout, up to its cap;
// a changed case of the name is the same name; success resets.
func TestLoginThrottle300(t *testing.T) {
	start := time.Now()
	a := newAuthEnv(t, engine.SessionOptions{Throttle: engine.ThrottleOptions{Max: 8 * time.Second}})
	var bad, throttled int
	var checked time.Duration
	for i := range 300 {
		login := "admin@internal"
		if i%2 == 0 {
			login = "ADMIN@Internal" // another case: the same throttled name
		}
		t0 := time.Now()
		_, err := a.eng.Authenticate(from("192.0.2.7"), login, fmt.Sprintf("guess%d", i))
		switch {
		case vwire.IsKey(err, vwire.MsgBadCredentials):
			bad++
			checked += time.Since(t0)
		case vwire.IsKey(err, vwire.MsgLoginThrottled):
			throttled++
		default:
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if bad != 5 || throttled != 295 {
		t.Fatalf("checked %d, throttled %d; want 5 and 295", bad, throttled)
	}
	// The right password while locked out is refused unchecked.
	_, err := a.eng.Authenticate(from("192.0.2.7"), "admin@internal", "secret")
	var th *engine.Throttled
	if !vwire.IsKey(err, vwire.MsgLoginThrottled) || !errors.As(err, &th) || th.RetryAfter != time.Second {
		t.Fatalf("right password during lockout: %v (%+v), want throttled for 1s", err, th)
	}
	// So is it from elsewhere: the user name is locked, not only the address.
	if _, err := a.eng.Authenticate(from("198.51.100.1"), "admin@internal", "secret"); !vwire.IsKey(err, vwire.MsgLoginThrottled) {
		t.Fatalf("right password from another address during lockout: %v", err)
	}
	var ev *vwire.Event
	a.store.View(ctx(), func(tx vwire.Tx) error {
		evs, _ := tx.Events(0, 0)
		for _, e := range evs {
			if e.Code == 10950 {
				ev = e
			}
		}
		return nil
	})
	if ev == nil || ev.UserName != "ADMIN@Internal" || !strings.Contains(ev.Description, "'192.0.2.7'") ||
		!strings.Contains(ev.Description, "5 failed logins") {
		t.Fatalf("lockout event = %+v", ev)
	}
	// Each failure after a lockout doubles the delay, up to Max (8 s).
	for _, want := range []time.Duration{2, 4, 8, 8} {
		a.clk.Add(time.Hour / 120) // 30 s: past any lockout, within Forget
		_, err := a.eng.Authenticate(from("192.0.2.7"), "admin@internal", "again")
		if !vwire.IsKey(err, vwire.MsgBadCredentials) {
			t.Fatalf("attempt after the lockout: %v, want checked", err)
		}
		_, err = a.eng.Authenticate(from("192.0.2.7"), "admin@internal", "secret")
		if !errors.As(err, &th) || th.RetryAfter != want*time.Second {
			t.Fatalf("delay = %v (%v), want %v", th, err, want*time.Second)
		}
	}
	a.clk.Add(time.Minute)
	if _, err := a.eng.Authenticate(from("192.0.2.8"), "admin@internal", "secret"); err != nil {
		t.Fatalf("right password after the lockout: %v", err)
	}
	// The success reset the name: five more failures before a lockout.
	for i := range 5 {
		if _, err := a.eng.Authenticate(from("192.0.2.9"), "admin@internal", "x"); !vwire.IsKey(err, vwire.MsgBadCredentials) {
			t.Fatalf("failure %d after a success: %v", i+1, err)
		}
	}
	t.Logf("300 attempts + checks: %v wall, %v in the 5 checked guesses (%v each)", time.Since(start), checked, checked/5)
}

// One address guessing many names is locked out as an address; unknown
// names are throttled exactly as known ones.
func TestLoginThrottlePerAddress(t *testing.T) {
	a := newAuthEnv(t, engine.SessionOptions{})
	for i := range 5 {
		if _, err := a.eng.Authenticate(from("2001:db8::1"), fmt.Sprintf("user%d@internal", i), "x"); !vwire.IsKey(err, vwire.MsgBadCredentials) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	// Same /64, another name, the right password: the address is locked.
	if _, err := a.eng.Authenticate(from("2001:db8::2"), "admin@internal", "secret"); !vwire.IsKey(err, vwire.MsgLoginThrottled) {
		t.Fatalf("another name from the locked /64: %v", err)
	}
	if _, err := a.eng.Authenticate(from("192.0.2.1"), "admin@internal", "secret"); err != nil {
		t.Fatalf("another address: %v", err)
	}
}

// Huge credentials are refused without hash work, and count as failures.
func TestHugeCredentials(t *testing.T) {
	a := newAuthEnv(t, engine.SessionOptions{})
	huge := strings.Repeat("x", 4<<20)
	t0 := time.Now()
	for _, c := range [][2]string{{huge, "pw"}, {"admin@internal", huge}} {
		if _, err := a.eng.Authenticate(from("192.0.2.1"), c[0], c[1]); !vwire.IsKey(err, vwire.MsgBadCredentials) {
			t.Fatalf("huge credentials: %v", err)
		}
	}
	t.Logf("two 4 MiB credentials refused in %v", time.Since(t0))
}

// Tokens end when idle for the idle time, a use refreshes it (written at
// most once a minute), and all end at the absolute lifetime.
func TestTokenExpiry(t *testing.T) {
	a := newAuthEnv(t, engine.SessionOptions{IdleTimeout: 30 * time.Minute, MaxLifetime: 2 * time.Hour})
	admin := a.user(t, "admin")
	tok, exp, err := a.eng.IssueToken(ctx(), admin)
	if err != nil || !exp.Equal(a.clk.Now().Add(2*time.Hour)) {
		t.Fatalf("issue: %v %v", exp, err)
	}
	lastUsed := func() time.Time {
		var k *vwire.Token
		a.store.View(ctx(), func(tx vwire.Tx) error {
			sum := sha256.Sum256([]byte(tok))
			k, _, _ = tx.Token(hex.EncodeToString(sum[:]))
			return nil
		})
		return k.LastUsed
	}
	issued := a.clk.Now()
	a.clk.Add(30 * time.Second)
	if _, err := a.eng.TokenUser(ctx(), tok); err != nil {
		t.Fatal(err)
	}
	if !lastUsed().Equal(issued) {
		t.Fatalf("a use within the minute wrote last use %v", lastUsed())
	}
	// Used every 29 minutes, it lives past its first 30.
	for range 3 {
		a.clk.Add(29 * time.Minute)
		if u, err := a.eng.TokenUser(ctx(), tok); err != nil || u.ID != admin.ID {
			t.Fatalf("token used within its idle time at +%v: %v", a.clk.Now().Sub(issued), err)
		}
		if !lastUsed().Equal(a.clk.Now()) {
			t.Fatalf("last use %v, want %v", lastUsed(), a.clk.Now())
		}
	}
	// Idle 31 minutes: ended.
	a.clk.Add(31 * time.Minute)
	if _, err := a.eng.TokenUser(ctx(), tok); !vwire.IsKey(err, vwire.MsgTokenUnknown) {
		t.Fatalf("idle token: %v", err)
	}
	// The absolute end, even when used all along.
	tok2, _, _ := a.eng.IssueToken(ctx(), admin)
	for range 5 {
		a.clk.Add(20 * time.Minute)
		if _, err := a.eng.TokenUser(ctx(), tok2); err != nil {
			t.Fatalf("busy token at +%v: %v", a.clk.Now().Sub(issued), err)
		}
	}
	a.clk.Add(20 * time.Minute)
	if _, err := a.eng.TokenUser(ctx(), tok2); !vwire.IsKey(err, vwire.MsgTokenUnknown) {
		t.Fatalf("token past its absolute end: %v", err)
	}
}

// Forged, revoked and another kind's tokens are refused; a user's tokens
// end with a password change or the user's removal (DeleteUserTokens), and
// a session's Session-TTL is its own idle time.
func TestTokenRevocation(t *testing.T) {
	a := newAuthEnv(t, engine.SessionOptions{})
	admin := a.user(t, "admin")
	for _, forged := range []string{"", "forged", strings.Repeat("A", 64), strings.Repeat("x", 1<<20)} {
		if _, err := a.eng.TokenUser(ctx(), forged); !vwire.IsKey(err, vwire.MsgTokenUnknown) {
			t.Errorf("forged token %.10q: %v", forged, err)
		}
	}
	tok, _, _ := a.eng.IssueToken(ctx(), admin)
	sess, _, _ := a.eng.IssueSession(ctx(), admin, 5*time.Minute)
	if _, err := a.eng.SessionUser(ctx(), tok); !vwire.IsKey(err, vwire.MsgTokenUnknown) {
		t.Errorf("bearer token as a session cookie: %v", err)
	}
	if _, err := a.eng.TokenUser(ctx(), sess); !vwire.IsKey(err, vwire.MsgTokenUnknown) {
		t.Errorf("session cookie as a bearer token: %v", err)
	}
	a.clk.Add(6 * time.Minute)
	if _, err := a.eng.SessionUser(ctx(), sess); !vwire.IsKey(err, vwire.MsgTokenUnknown) {
		t.Errorf("session idle past its Session-TTL: %v", err)
	}
	if _, err := a.eng.TokenUser(ctx(), tok); err != nil {
		t.Errorf("token within the default idle time: %v", err)
	}
	if err := a.eng.RevokeToken(ctx(), tok); err != nil {
		t.Fatal(err)
	}
	if _, err := a.eng.TokenUser(ctx(), tok); !vwire.IsKey(err, vwire.MsgTokenUnknown) {
		t.Errorf("revoked token: %v", err)
	}
	// A new admin password (Bootstrap's reset) ends admin's tokens.
	tok, _, _ = a.eng.IssueToken(ctx(), admin)
	if _, err := a.eng.Bootstrap(ctx(), "new-secret"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.eng.TokenUser(ctx(), tok); !vwire.IsKey(err, vwire.MsgTokenUnknown) {
		t.Errorf("token after a password change: %v", err)
	}
	if _, err := a.eng.Authenticate(ctx(), "admin@internal", "secret"); !vwire.IsKey(err, vwire.MsgBadCredentials) {
		t.Errorf("old password after the change (remembered?): %v", err)
	}
	// Revoke-all through the revoke endpoint's use case, and only one's own.
	u := &vwire.User{ID: uuid.NewString(), Name: "bob", Domain: "internal"}
	a.store.Update(ctx(), func(tx vwire.Tx) error { return tx.CreateUser(u) })
	bob1, _, _ := a.eng.IssueToken(ctx(), u)
	bob2, _, _ := a.eng.IssueSession(ctx(), u, 0)
	mine, _, _ := a.eng.IssueToken(ctx(), admin)
	a.eng.RevokeUserToken(ctx(), admin, bob1, true) // not admin's: nothing
	if _, err := a.eng.TokenUser(ctx(), bob1); err != nil {
		t.Errorf("another user's revoke ended bob's token: %v", err)
	}
	a.eng.RevokeUserToken(ctx(), u, bob1, true)
	_, err1 := a.eng.TokenUser(ctx(), bob1)
	_, err2 := a.eng.SessionUser(ctx(), bob2)
	_, err3 := a.eng.TokenUser(ctx(), mine)
	if !vwire.IsKey(err1, vwire.MsgTokenUnknown) || !vwire.IsKey(err2, vwire.MsgTokenUnknown) || err3 != nil {
		t.Errorf("revoke-all: bob's %v, %v; admin's %v", err1, err2, err3)
	}
}

// Unknown and known users cost the same hash work: the median time of a
// wrong password for each is within a factor of two (a loose check, as
// timing on a shared machine is noisy; BenchmarkAuthenticate measures).
func TestAuthenticateTimingUnknownUser(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	a := newAuthEnv(t, engine.SessionOptions{Throttle: engine.ThrottleOptions{Limit: 1 << 30}})
	// Alternate the two, so that whatever else the machine runs weighs on
	// both alike; compare medians.
	a.eng.Authenticate(ctx(), "admin@internal", "wrong") // warm the dummy hash
	var ks, us []time.Duration
	for range 15 {
		for _, login := range []string{"admin@internal", "nobody@internal"} {
			t0 := time.Now()
			a.eng.Authenticate(ctx(), login, "wrong")
			if d := time.Since(t0); login == "admin@internal" {
				ks = append(ks, d)
			} else {
				us = append(us, d)
			}
		}
	}
	slices.Sort(ks)
	slices.Sort(us)
	known, unknown := ks[len(ks)/2], us[len(us)/2]
	t.Logf("median wrong-password login: known user %v, unknown user %v", known, unknown)
	if unknown < known/2 || unknown > known*2 {
		t.Errorf("unknown user %v vs known %v: timing tells whether a user exists", unknown, known)
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	a := newAuthEnv(b, engine.SessionOptions{Throttle: engine.ThrottleOptions{Limit: 1 << 30}})
	for _, c := range []struct{ name, login, pw string }{
		{"KnownUserWrongPassword", "admin@internal", "wrong"},
		{"UnknownUser", "nobody@internal", "wrong"},
		{"RightPasswordRemembered", "admin@internal", "secret"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				a.eng.Authenticate(ctx(), c.login, c.pw)
			}
		})
	}
}
