package engine

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"vwire.dev/vwire"
)

// ---- passwords

// Passwords are stored with argon2id in the PHC string format
// ("$argon2id$v=19$m=19456,t=2,p=1$salt$key", unpadded base64), which names
// its own parameters so that they can be raised later: a hash made with
// other parameters (or an older PBKDF2 hash) still verifies and is replaced
// on the next successful login. 19 MiB, 2 passes, 1 lane is OWASP's
// recommended minimum for argon2id; it costs about 25-40 ms of one core.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// hashPassword returns the stored form of a new password.
func hashPassword(pw string) string {
	salt := make([]byte, argonSaltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads, b64(salt), b64(key))
}

// checkPassword verifies pw against a stored hash. stale says the hash is
// not argon2id with today's parameters, so a successful login rehashes it.
func checkPassword(stored, pw string) (ok, stale bool) {
	if strings.HasPrefix(stored, "pbkdf2-sha256$") {
		return checkPBKDF2(stored, pw), true
	}
	parts := strings.Split(stored, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return false, true
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, true
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	// Bounds keep a corrupt or hostile row from costing unbounded memory.
	if err1 != nil || err2 != nil || m < 8 || m > 1<<20 || t < 1 || t > 16 || p < 1 || len(want) < 16 || len(want) > 64 {
		return false, true
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	ok = subtle.ConstantTimeCompare(got, want) == 1
	return ok, m != argonMemory || t != argonTime || p != argonThreads || len(want) != argonKeyLen || len(salt) != argonSaltLen
}

// checkPBKDF2 verifies vwire's earlier hashes, "pbkdf2-sha256$iter$salt$key".
func checkPBKDF2(stored, pw string) bool {
	parts := strings.Split(stored, "$")
	if len(parts) != 4 {
		return false
	}
	iter, err1 := strconv.Atoi(parts[1])
	salt, err2 := hex.DecodeString(parts[2])
	want, err3 := hex.DecodeString(parts[3])
	if err1 != nil || err2 != nil || err3 != nil || iter <= 0 || iter > 10_000_000 || len(want) == 0 {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, pw, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is what a login of an unknown user is checked against, so that
// it costs the same hash work as a known user's: timing does not tell
// whether a user exists.
var dummyHash = sync.OnceValue(func() string { return hashPassword(randomPassword()) })

// SplitUser splits oVirt's "user@profile" at the last "@"
// (admin@internal → admin, internal).
func SplitUser(s string) (name, domain string) {
	i := strings.LastIndex(s, "@")
	if i < 0 {
		return s, "internal"
	}
	return s[:i], s[i+1:]
}

// Credentials longer than these are refused without any hash work: no real
// user has them, and hashing megabytes per guess would be a cheap attack.
const (
	MaxLoginLen    = 512
	MaxPasswordLen = 1024
)

// ---- sessions and authentication options

// SessionOptions configure sessions (SSO tokens, persistent-auth cookies)
// and login throttling. Zero values take the defaults.
type SessionOptions struct {
	// IdleTimeout ends a token unused this long (default 30 minutes, as
	// oVirt's SSO).
	IdleTimeout time.Duration
	// MaxLifetime ends a token this long after it was issued, used or not
	// (default 10 hours).
	MaxLifetime time.Duration
	// Throttle bounds password guessing.
	Throttle ThrottleOptions
	// Clock is the time of sessions and throttling; tests inject theirs.
	Clock func() time.Time
	// HashSlots bounds the password hashes computed at once (default
	// GOMAXPROCS): each costs argon2id's memory, and a flood of logins must
	// not exhaust it.
	HashSlots int
}

const (
	DefaultIdleTimeout = 30 * time.Minute
	DefaultMaxLifetime = 10 * time.Hour
	// touchEvery bounds the writes that keep a token alive: a token used
	// more often is written at most once per touchEvery, so its idle time
	// is measured to within that.
	touchEvery = time.Minute
	// verifiedTTL and verifiedMax bound the memory of verified credentials.
	verifiedTTL = 10 * time.Minute
	verifiedMax = 4096
)

// auth is the engine's authentication state.
type auth struct {
	idle, max time.Duration
	now       func() time.Time
	slots     chan struct{}
	throttle  *throttle

	// verified remembers credentials that passed a full hash check, so that
	// scripts using HTTP Basic do not pay argon2id per request. An entry is
	// an HMAC (process-random key) of the user's id, the user's stored hash
	// and the password: a password change (a new stored hash) or a removal
	// (no user) makes it miss, so it can never keep old credentials valid.
	mu       sync.Mutex
	macKey   [32]byte
	verified map[[32]byte]time.Time
}

func newAuth(o SessionOptions) *auth {
	a := &auth{idle: o.IdleTimeout, max: o.MaxLifetime, now: o.Clock, verified: map[[32]byte]time.Time{},
		throttle: newThrottle(o.Throttle)}
	if a.idle <= 0 {
		a.idle = DefaultIdleTimeout
	}
	if a.max <= 0 {
		a.max = DefaultMaxLifetime
	}
	if a.now == nil {
		a.now = time.Now
	}
	n := o.HashSlots
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	a.slots = make(chan struct{}, n)
	rand.Read(a.macKey[:])
	return a
}

func (a *auth) mac(u *vwire.User, pw string) [32]byte {
	h := hmac.New(sha256.New, a.macKey[:])
	h.Write([]byte(u.ID))
	h.Write([]byte{0})
	h.Write([]byte(u.PasswordHash))
	h.Write([]byte{0})
	h.Write([]byte(pw))
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func (a *auth) isVerified(k [32]byte, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	exp, ok := a.verified[k]
	return ok && now.Before(exp)
}

func (a *auth) remember(k [32]byte, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.verified) >= verifiedMax {
		for k, exp := range a.verified {
			if !now.Before(exp) {
				delete(a.verified, k)
			}
		}
		if len(a.verified) >= verifiedMax {
			clear(a.verified) // all fresh: start over rather than grow
		}
	}
	a.verified[k] = now.Add(verifiedTTL)
}

// hashWork runs a password check in one of the hash slots.
func (a *auth) hashWork(ctx context.Context, fn func()) error {
	select {
	case a.slots <- struct{}{}:
	case <-ctx.Done():
		return vwire.New(vwire.MsgInternal).Wrap(ctx.Err())
	}
	defer func() { <-a.slots }()
	fn()
	return nil
}

type sourceKey struct{}

// WithSource records the network address a request came from (host, no
// port), for login throttling and its audit events.
func WithSource(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, sourceKey{}, addr)
}

func sourceOf(ctx context.Context) string {
	s, _ := ctx.Value(sourceKey{}).(string)
	return s
}

// Authenticate checks a user's password. Failed logins are throttled per
// user name (case-folded) and per source address (WithSource): past the
// limit an attempt is refused with MsgLoginThrottled, whose cause is a
// *Throttled, before its password is even looked at.
func (e *Engine) Authenticate(ctx context.Context, login, password string) (*vwire.User, error) {
	a := e.auth
	name, domain := SplitUser(login)
	userKey, src := strings.ToLower(name+"@"+domain), sourceOf(ctx)
	if len(login) > MaxLoginLen {
		userKey = "\x00long" // one key for every oversized name: no fresh keys for free
	}
	if err := a.throttle.check(userKey, src, a.now(), login); err != nil {
		return nil, err
	}
	bad := vwire.New(vwire.MsgBadCredentials, "user", truncate(login, 64))
	if len(login) > MaxLoginLen || len(password) > MaxPasswordLen {
		e.loginFailed(ctx, userKey, src, login)
		return nil, bad
	}
	var u *vwire.User
	err := e.store.Read(ctx, func(tx vwire.Tx) (err error) {
		u, err = tx.UserByName(name, domain)
		return err
	})
	if vwire.ErrorCode(err) == vwire.ENOTFOUND {
		u, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	if u != nil && a.isVerified(a.mac(u, password), a.now()) {
		a.throttle.success(userKey)
		return u, nil
	}
	var ok, stale bool
	if err := a.hashWork(ctx, func() {
		// Checked again in the slot: requests queued behind a lockout do
		// not get their guess checked.
		if a.throttle.check(userKey, src, a.now(), login) != nil {
			return
		}
		if u == nil {
			checkPassword(dummyHash(), password)
			return
		}
		ok, stale = checkPassword(u.PasswordHash, password)
	}); err != nil {
		return nil, err
	}
	if !ok {
		if err := a.throttle.check(userKey, src, a.now(), login); err != nil {
			return nil, err
		}
		e.loginFailed(ctx, userKey, src, login)
		return nil, bad
	}
	a.throttle.success(userKey)
	if stale {
		e.rehash(ctx, u, password)
	}
	a.remember(a.mac(u, password), a.now())
	return u, nil
}

// rehash replaces an older hash of a user's password after a successful
// login. A failure only leaves the old hash, which still verifies.
func (e *Engine) rehash(ctx context.Context, u *vwire.User, password string) {
	fresh := *u
	fresh.PasswordHash = hashPassword(password)
	err := e.store.Update(ctx, func(tx vwire.Tx) error {
		cur, err := tx.UserByName(u.Name, u.Domain)
		if err != nil || cur.PasswordHash != u.PasswordHash {
			return err // changed meanwhile: leave the newer one
		}
		return tx.UpdateUser(&fresh)
	})
	if err != nil {
		e.log.WarnContext(ctx, "cannot upgrade a password hash", "user", u.Name+"@"+u.Domain, "err", err)
		return
	}
	*u = fresh
}

// loginFailed counts a failed login and writes the audit event of a lockout.
func (e *Engine) loginFailed(ctx context.Context, userKey, src, login string) {
	l, locked := e.auth.throttle.fail(userKey, src, e.auth.now())
	if !locked {
		return
	}
	e.log.WarnContext(ctx, "login throttled", "user", truncate(login, 64), "source", src, "failures", l.failures, "delay", l.delay)
	ev := newEvent(ctx, evLoginLocked, "SourceIP", src, "Failures", strconv.Itoa(l.failures),
		"Delay", l.delay.String())
	ev.ev.UserName = truncate(login, 255)
	e.writeEvent(ctx, ev)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ---- tokens

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// IssueToken creates an SSO bearer token for the user; only its hash is
// stored. expires is its absolute end; unused for the idle time it ends
// sooner.
func (e *Engine) IssueToken(ctx context.Context, u *vwire.User) (token string, expires time.Time, err error) {
	return e.issue(ctx, u, vwire.TokenSSO, 0)
}

// IssueSession creates a persistent-auth session (the JSESSIONID cookie of
// Prefer: persistent-auth) for the user; idle, when positive, is the
// client's Session-TTL instead of the default idle time, capped by the
// absolute lifetime.
func (e *Engine) IssueSession(ctx context.Context, u *vwire.User, idle time.Duration) (token string, expires time.Time, err error) {
	return e.issue(ctx, u, vwire.TokenSession, min(max(idle, 0), e.auth.max))
}

func (e *Engine) issue(ctx context.Context, u *vwire.User, kind vwire.TokenKind, idle time.Duration) (string, time.Time, error) {
	var b [48]byte
	rand.Read(b[:])
	token := base64.RawURLEncoding.EncodeToString(b[:])
	now := e.auth.now()
	k := &vwire.Token{Hash: tokenHash(token), UserID: u.ID, Kind: kind, Created: now, LastUsed: now, Idle: idle,
		Expires: now.Add(e.auth.max)}
	err := e.store.Update(ctx, func(tx vwire.Tx) error {
		// Expired tokens are swept whenever a new one is issued.
		if err := tx.DeleteExpiredTokens(now, e.auth.idle); err != nil {
			return err
		}
		return tx.CreateToken(k)
	})
	return token, k.Expires, err
}

// TokenUser returns the user of a valid SSO bearer token.
func (e *Engine) TokenUser(ctx context.Context, token string) (*vwire.User, error) {
	return e.tokenUser(ctx, token, vwire.TokenSSO)
}

// SessionUser returns the user of a valid persistent-auth session cookie.
func (e *Engine) SessionUser(ctx context.Context, cookie string) (*vwire.User, error) {
	return e.tokenUser(ctx, cookie, vwire.TokenSession)
}

// tokenUser checks a token's kind, absolute end and idle time, and records
// its use at most once per touchEvery.
func (e *Engine) tokenUser(ctx context.Context, token string, kind vwire.TokenKind) (*vwire.User, error) {
	unknown := vwire.New(vwire.MsgTokenUnknown)
	if token == "" || len(token) > 256 {
		return nil, unknown
	}
	hash := tokenHash(token)
	var k *vwire.Token
	var u *vwire.User
	err := e.store.Read(ctx, func(tx vwire.Tx) (err error) {
		k, u, err = tx.Token(hash)
		return err
	})
	if vwire.ErrorCode(err) == vwire.ENOTFOUND {
		return nil, unknown
	}
	if err != nil {
		return nil, err
	}
	if k.Kind != kind {
		return nil, unknown
	}
	now, idle := e.auth.now(), e.auth.idle
	if k.Idle > 0 {
		idle = k.Idle
	}
	if !now.Before(k.Expires) || !now.Before(k.LastUsed.Add(idle)) {
		e.RevokeToken(ctx, token) // best effort: the sweep takes it otherwise
		return nil, unknown
	}
	if now.Sub(k.LastUsed) >= touchEvery {
		if err := e.store.Update(ctx, func(tx vwire.Tx) error { return tx.TouchToken(hash, now) }); err != nil {
			// The request may go on: the token was valid. It only risks
			// idling out sooner than it should.
			e.log.WarnContext(ctx, "cannot record a token's use", "err", err)
		}
	}
	return u, nil
}

// RevokeToken deletes a token of either kind (SSO logout, revoke, a
// session's logout). An unknown token is no error: revoking is idempotent.
func (e *Engine) RevokeToken(ctx context.Context, token string) error {
	if token == "" || len(token) > 256 {
		return nil
	}
	return e.store.Update(ctx, func(tx vwire.Tx) error { return tx.DeleteToken(tokenHash(token)) })
}

// RevokeUserToken is oVirt's /sso/oauth/revoke for an authenticated
// client u: it deletes token if it is u's, and with all every token of u
// (scope ovirt-ext=revoke:revoke-all). Another user's or an unknown token
// revokes nothing and is no error, so the answer tells nothing about it.
func (e *Engine) RevokeUserToken(ctx context.Context, u *vwire.User, token string, all bool) error {
	if token == "" || len(token) > 256 {
		return nil
	}
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		k, _, err := tx.Token(tokenHash(token))
		if vwire.ErrorCode(err) == vwire.ENOTFOUND || (err == nil && k.UserID != u.ID) {
			return nil
		}
		if err != nil {
			return err
		}
		if all {
			return tx.DeleteUserTokens(u.ID)
		}
		return tx.DeleteToken(k.Hash)
	})
}
