package restapi_test

import (
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"vwire.dev/vwire"
	"vwire.dev/vwire/app"
	"vwire.dev/vwire/engine"
	"vwire.dev/vwire/restapi"
	"vwire.dev/vwire/store/sqlstore"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// authEngine is an engine without a host, on a settable clock.
type authEngine struct {
	m   *app.EngineMain
	clk *testClock
	dir string
}

func startAuthEngine(t *testing.T) *authEngine {
	t.Helper()
	clk := &testClock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: dir, AdminPassword: "secret", PollInterval: time.Hour,
		Out: io.Discard, Sessions: engine.SessionOptions{Clock: clk.Now}}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return &authEngine{m: m, clk: clk, dir: dir}
}

// call does one request: header pairs, then the answer.
func call(t *testing.T, method, u, body string, hdr ...string) resp {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, string(b)}
}

func basic(login, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(login+":"+pw))
}

func (e *authEngine) sso(t *testing.T, path string, form url.Values, hdr ...string) (int, map[string]string, http.Header) {
	t.Helper()
	hdr = append(hdr, "Content-Type", "application/x-www-form-urlencoded", "Accept", "application/json")
	r := call(t, "POST", "http://"+e.m.Addr()+"/ovirt-engine"+path, form.Encode(), hdr...)
	var m map[string]string
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("%s: %d, not JSON: %q", path, r.status, r.body)
	}
	return r.status, m, r.header
}

func (e *authEngine) token(t *testing.T, login, pw string) string {
	t.Helper()
	code, m, _ := e.sso(t, "/sso/oauth/token", url.Values{"grant_type": {"password"}, "scope": {"ovirt-app-api"},
		"username": {login}, "password": {pw}})
	if code != 200 || m["access_token"] == "" {
		t.Fatalf("token for %s: %d %v", login, code, m)
	}
	return m["access_token"]
}

// get is GET /vms with the given headers.
func (e *authEngine) get(t *testing.T, hdr ...string) resp {
	t.Helper()
	return call(t, "GET", e.m.URL()+"/vms", "", append(hdr, "Accept", "application/xml")...)
}

// withUser adds a user to the engine's database (through the store, as the
// users' API would), with a PBKDF2 hash that the engine verifies.
func (e *authEngine) withUser(t *testing.T, name, pw string) *vwire.User {
	t.Helper()
	db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(e.dir, "vwire.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	salt := []byte(uuid.NewString()[:16])
	key, _ := pbkdf2.Key(sha256.New, pw, salt, 1000, 32)
	u := &vwire.User{ID: uuid.NewString(), Name: name, Domain: "internal",
		PasswordHash: fmt.Sprintf("pbkdf2-sha256$1000$%s$%s", hex.EncodeToString(salt), hex.EncodeToString(key))}
	if err := db.Update(context.Background(), func(tx vwire.Tx) error { return tx.CreateUser(u) }); err != nil {
		t.Fatal(err)
	}
	return u
}

// removeUser does what removing a user does: its tokens are revoked
// (DeleteUserTokens) and its row is gone.
func (e *authEngine) removeUser(t *testing.T, u *vwire.User) {
	t.Helper()
	db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(e.dir, "vwire.db"))
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(context.Background(), func(tx vwire.Tx) error { return tx.DeleteUserTokens(u.ID) })
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", filepath.Join(e.dir, "vwire.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`DELETE FROM users WHERE id = ?`, u.ID); err != nil {
		t.Fatal(err)
	}
}

func wantFault(t *testing.T, what string, r resp, status int, detail string) {
	t.Helper()
	if r.status != status || !strings.Contains(r.body, "<fault>") || !strings.Contains(r.body, detail) {
		t.Errorf("%s: %d %s, want %d with a fault saying %q", what, r.status, r.body, status, detail)
	}
	if status == 401 && r.header.Get("WWW-Authenticate") != `Basic realm="RESTAPI"` {
		t.Errorf("%s: WWW-Authenticate = %q", what, r.header.Get("WWW-Authenticate"))
	}
}

// Malformed and oversized Authorization headers get a clear error, count
// as no login failure and change nothing.
func TestMalformedAuthorization(t *testing.T) {
	e := startAuthEngine(t)
	for _, c := range []struct {
		name, auth string
		status     int
		detail     string
	}{
		{"empty", "", 401, "Authentication required"},
		{"blank", "   ", 401, "Authentication required"},
		{"bad base64", "Basic !!!notbase64", 401, "not base64"},
		{"no colon", "Basic " + base64.StdEncoding.EncodeToString([]byte("admin@internal")), 401, "not user@profile:password"},
		{"no user", basic("", "secret"), 401, "not user@profile:password"},
		{"unknown scheme", "Digest username=admin", 401, "unsupported scheme 'Digest'"},
		{"scheme only", "Basic", 401, "not user@profile:password"},
		{"empty bearer", "Bearer ", 401, "The token is unknown or expired."},
		{"forged bearer", "Bearer " + strings.Repeat("A", 64), 401, "The token is unknown or expired."},
		{"32 KiB", basic("admin@internal", strings.Repeat("x", 32<<10)), 400, "too large"},
	} {
		var r resp
		if c.auth == "" {
			r = e.get(t)
		} else {
			r = e.get(t, "Authorization", c.auth)
		}
		wantFault(t, c.name, r, c.status, c.detail)
	}
	// Multi-MB headers stop at the server's header limit: 431.
	if r := e.get(t, "Authorization", basic("admin@internal", strings.Repeat("x", 3<<20))); r.status != 431 {
		t.Errorf("3 MiB Authorization: %d", r.status)
	}
	// A multi-MB SSO form: 413, as JSON.
	code, m, _ := e.sso(t, "/sso/oauth/token", url.Values{"grant_type": {"password"}, "username": {"admin@internal"},
		"password": {strings.Repeat("x", 2<<20)}})
	if code != 413 || m["error_code"] != "invalid_request" {
		t.Errorf("2 MiB SSO form: %d %v", code, m)
	}
	// None of it was a failed login: admin is not throttled.
	if r := e.get(t, "Authorization", basic("admin@internal", "secret")); r.status != 200 {
		t.Fatalf("admin after malformed headers: %d %s", r.status, r.body)
	}
}

// Expired, forged, revoked and removed users' tokens are refused; revoke
// works as oVirt's (client authentication, the token in the form); a
// password change or a removal ends Basic credentials at once.
func TestTokensOverHTTP(t *testing.T) {
	e := startAuthEngine(t)
	tok := e.token(t, "admin@internal", "secret")
	if r := e.get(t, "Authorization", "Bearer "+tok); r.status != 200 {
		t.Fatalf("token: %d", r.status)
	}
	// Idle: used within 30 minutes it lives on; idle 31 it ends.
	e.clk.Add(29 * time.Minute)
	if r := e.get(t, "Authorization", "Bearer "+tok); r.status != 200 {
		t.Fatalf("token after 29 idle minutes: %d", r.status)
	}
	e.clk.Add(31 * time.Minute)
	wantFault(t, "idle token", e.get(t, "Authorization", "Bearer "+tok), 401, "unknown or expired")

	// Revoke: the client must authenticate, as in oVirt.
	tok = e.token(t, "admin@internal", "secret")
	code, m, _ := e.sso(t, "/sso/oauth/revoke", url.Values{"token": {tok}})
	if code != 400 || m["error"] != "Missing parameter: 'client_id'" {
		t.Errorf("revoke without a client: %d %v", code, m)
	}
	code, m, _ = e.sso(t, "/sso/oauth/revoke", url.Values{"token": {tok}, "client_id": {"admin@internal"}, "client_secret": {"wrong"}})
	if code != 400 || m["error_code"] != "unauthorized_client" {
		t.Errorf("revoke with a wrong secret: %d %v", code, m)
	}
	if r := e.get(t, "Authorization", "Bearer "+tok); r.status != 200 {
		t.Fatalf("token after refused revokes: %d", r.status)
	}
	code, m, _ = e.sso(t, "/sso/oauth/revoke", url.Values{"token": {tok}, "scope": {""}}, "Authorization", basic("admin@internal", "secret"))
	if code != 200 || len(m) != 0 {
		t.Errorf("revoke: %d %v", code, m)
	}
	wantFault(t, "revoked token", e.get(t, "Authorization", "Bearer "+tok), 401, "unknown or expired")
	// The SSO logout revokes too.
	tok = e.token(t, "admin@internal", "secret")
	if code, m, _ := e.sso(t, "/services/sso-logout", url.Values{"scope": {""}, "token": {tok}}); code != 200 || len(m) != 0 {
		t.Errorf("sso-logout: %d %v", code, m)
	}
	wantFault(t, "logged-out token", e.get(t, "Authorization", "Bearer "+tok), 401, "unknown or expired")

	// Another user: its token and Basic credentials work, until it is
	// removed; admin's token is untouched.
	bob := e.withUser(t, "bob", "bobpw")
	bobTok := e.token(t, "bob@internal", "bobpw")
	adminTok := e.token(t, "admin@internal", "secret")
	for _, auth := range []string{"Bearer " + bobTok, basic("bob@internal", "bobpw")} {
		if r := e.get(t, "Authorization", auth); r.status != 200 {
			t.Fatalf("bob before removal (%s): %d", auth[:6], r.status)
		}
	}
	// bob's own revoke-all ends none of admin's.
	code, _, _ = e.sso(t, "/sso/oauth/revoke", url.Values{"token": {adminTok}, "scope": {"ovirt-ext=revoke:revoke-all"},
		"client_id": {"bob@internal"}, "client_secret": {"bobpw"}})
	if r := e.get(t, "Authorization", "Bearer "+adminTok); code != 200 || r.status != 200 {
		t.Fatalf("bob revoking admin's token: %d, admin's token now %d", code, r.status)
	}
	e.removeUser(t, bob)
	wantFault(t, "removed user's token", e.get(t, "Authorization", "Bearer "+bobTok), 401, "unknown or expired")
	wantFault(t, "removed user's Basic", e.get(t, "Authorization", basic("bob@internal", "bobpw")), 401, "incorrect")
	if r := e.get(t, "Authorization", "Bearer "+adminTok); r.status != 200 {
		t.Fatalf("admin's token after bob's removal: %d", r.status)
	}

	// A password change (admin's reset) ends the old Basic password at once.
	if r := e.get(t, "Authorization", basic("admin@internal", "secret")); r.status != 200 {
		t.Fatal(r.status)
	}
	if _, err := e.m.Engine.Bootstrap(context.Background(), "changed"); err != nil {
		t.Fatal(err)
	}
	wantFault(t, "old password", e.get(t, "Authorization", basic("admin@internal", "secret")), 401, "incorrect")
	wantFault(t, "token from before the change", e.get(t, "Authorization", "Bearer "+adminTok), 401, "unknown or expired")
	if r := e.get(t, "Authorization", basic("admin@internal", "changed")); r.status != 200 {
		t.Fatalf("new password: %d", r.status)
	}
}

// Prefer: persistent-auth with Basic gives a JSESSIONID cookie that
// authenticates later requests alone, as oVirt's SDKs use it.
func TestPersistentAuth(t *testing.T) {
	e := startAuthEngine(t)
	r := e.get(t, "Authorization", basic("admin@internal", "secret"), "Prefer", "persistent-auth")
	if r.status != 200 {
		t.Fatalf("login: %d", r.status)
	}
	res := &http.Response{Header: r.header}
	var c *http.Cookie
	for _, k := range res.Cookies() {
		if k.Name == "JSESSIONID" {
			c = k
		}
	}
	if c == nil || !c.HttpOnly || c.Secure || c.Path != "/ovirt-engine/api" || c.Value == "" {
		t.Fatalf("session cookie = %+v (over plain HTTP: HttpOnly, not Secure)", c)
	}
	cookie := "JSESSIONID=" + c.Value
	if r := e.get(t, "Cookie", cookie); r.status != 200 {
		t.Fatalf("cookie alone: %d %s", r.status, r.body)
	}
	if r := e.get(t, "Cookie", cookie, "Prefer", "persistent-auth"); r.status != 200 || len((&http.Response{Header: r.header}).Cookies()) != 0 {
		t.Fatalf("cookie with persistent-auth: %d, new cookie %v", r.status, r.header["Set-Cookie"])
	}
	// The same cookie and credentials again: the session is reused.
	if r := e.get(t, "Cookie", cookie, "Authorization", basic("admin@internal", "secret"), "Prefer", "persistent-auth"); r.status != 200 ||
		r.header.Get("Set-Cookie") != "" {
		t.Fatalf("cookie and credentials: %d, Set-Cookie %q", r.status, r.header.Get("Set-Cookie"))
	}
	wantFault(t, "cookie with new-auth", e.get(t, "Cookie", cookie, "Prefer", "new-auth"), 401, "Authentication required")
	wantFault(t, "cookie as a bearer token", e.get(t, "Authorization", "Bearer "+c.Value), 401, "unknown or expired")
	wantFault(t, "forged cookie", e.get(t, "Cookie", "JSESSIONID=forged"), 401, "unknown or expired")
	e.clk.Add(31 * time.Minute)
	wantFault(t, "idle session", e.get(t, "Cookie", cookie), 401, "unknown or expired")

	// Session-TTL (minutes) is the session's own idle time.
	r = e.get(t, "Authorization", basic("admin@internal", "secret"), "Prefer", "persistent-auth", "Session-TTL", "2")
	short := "JSESSIONID=" + (&http.Response{Header: r.header}).Cookies()[0].Value
	e.clk.Add(3 * time.Minute)
	wantFault(t, "session past its Session-TTL", e.get(t, "Cookie", short), 401, "unknown or expired")

	// Over TLS the cookie is Secure.
	srv := httptest.NewTLSServer(restapi.New(e.m.Engine, nil))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/ovirt-engine/api/vms", nil)
	req.SetBasicAuth("admin@internal", "secret")
	req.Header.Set("Prefer", "persistent-auth")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if cs := res.Cookies(); res.StatusCode != 200 || len(cs) != 1 || !cs[0].Secure || !cs[0].HttpOnly {
		t.Fatalf("TLS session cookie: %d %+v", res.StatusCode, cs)
	}
}

// Repeated failures over HTTP: Basic and the SSO password grant are
// throttled alike, with Retry-After and oVirt's fault; the right password
// is refused during the lockout.
func TestThrottleOverHTTP(t *testing.T) {
	e := startAuthEngine(t)
	for i := range 5 {
		wantFault(t, fmt.Sprintf("wrong password %d", i), e.get(t, "Authorization", basic("admin@internal", "wrong")), 401, "incorrect")
	}
	r := e.get(t, "Authorization", basic("Admin@internal", "secret"))
	wantFault(t, "right password during lockout", r, 401, "too many failed logins")
	if r.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
	}
	code, m, h := e.sso(t, "/sso/oauth/token", url.Values{"grant_type": {"password"}, "username": {"admin@internal"}, "password": {"secret"}})
	if code != 400 || m["error_code"] != "access_denied" || !strings.Contains(m["error"], "too many failed logins") || h.Get("Retry-After") == "" {
		t.Errorf("SSO during lockout: %d %v %v", code, m, h)
	}
	r = e.get(t, "Authorization", basic("admin@internal", "secret"), "Prefer", "persistent-auth")
	if r.status != 401 || r.header.Get("Set-Cookie") != "" {
		t.Errorf("persistent-auth during lockout: %d %v", r.status, r.header)
	}
	e.clk.Add(2 * time.Second)
	if r := e.get(t, "Authorization", basic("admin@internal", "secret")); r.status != 200 {
		t.Fatalf("after the lockout: %d", r.status)
	}
}

// BenchmarkBasicAuth is the cost of a request authenticated with HTTP
// Basic (its password verified once, then remembered), with a bearer token,
// and with the session cookie.
func BenchmarkBasicAuth(b *testing.B) {
	clk := &testClock{t: time.Now()}
	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: b.TempDir(), AdminPassword: "secret", PollInterval: time.Hour,
		Out: io.Discard, Sessions: engine.SessionOptions{Clock: clk.Now}}
	if err := m.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	h := restapi.New(m.Engine, nil)
	run := func(b *testing.B, hdr ...string) {
		req := httptest.NewRequest("GET", "/ovirt-engine/api/clusters", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		}
	}
	b.Run("Basic", func(b *testing.B) { run(b, "Authorization", basic("admin@internal", "secret")) })
	w := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/ovirt-engine/api/clusters", nil)
	req.SetBasicAuth("admin@internal", "secret")
	req.Header.Set("Prefer", "persistent-auth")
	h.ServeHTTP(w, req)
	b.Run("Cookie", func(b *testing.B) { run(b, "Cookie", "JSESSIONID="+w.Result().Cookies()[0].Value) })
	u, _ := m.Engine.Authenticate(context.Background(), "admin@internal", "secret")
	tok, _, _ := m.Engine.IssueToken(context.Background(), u)
	b.Run("Bearer", func(b *testing.B) { run(b, "Authorization", "Bearer "+tok) })
}
