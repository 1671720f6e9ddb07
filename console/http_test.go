package console_test

import (
	"bufio"
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/app"
	"vwire.dev/vwire/console"
	"vwire.dev/vwire/engine"
)

// The console over plain HTTP, as a script (not a browser) reaches it:
// sessions, CSRF and cross-origin protection, permissions, bad input and
// the live stream, against an engine started as vwire-engine starts.

// sessionCookie is the console's cookie (console.cookieName).
const sessionCookie = "__Host-vwire-console"

// httpUser is one client of the console with its own session and cookie
// jar. The cookie is Secure: Go's jar sends it over http:// only to
// loopback and only since Go 1.2x (as browsers do, loopback being a secure
// context), and it drops it at logout, when the test wants to replay it.
// So the client keeps the value from Set-Cookie and sends it itself
// whenever the jar would not.
type httpUser struct {
	t      *testing.T
	base   string
	hc     *http.Client
	cookie string // the session cookie's value, "" when signed out
}

func newHTTPUser(t *testing.T, m *app.EngineMain) *httpUser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &httpUser{t: t, base: consoleURL(m), hc: &http.Client{
		Jar:     jar,
		Timeout: 20 * time.Second,
		// The test looks at every redirect itself.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// request is one request of a test.
type request struct {
	method, path string
	form         url.Values
	header       map[string]string
}

// do sends a request with the session (if any) and returns the response
// and its body.
func (u *httpUser) do(r request) (*http.Response, string) {
	u.t.Helper()
	var body io.Reader
	if r.form != nil {
		body = strings.NewReader(r.form.Encode())
	}
	req, err := http.NewRequest(r.method, u.base+r.path, body)
	if err != nil {
		u.t.Fatal(err)
	}
	if r.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	if u.cookie != "" && !u.jarSends(req.URL) {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: u.cookie})
	}
	resp, err := u.hc.Do(req)
	if err != nil {
		u.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		u.t.Fatalf("%s %s: read the body: %v", r.method, r.path, err)
	}
	if resp.StatusCode >= 500 {
		u.t.Errorf("%s %s: %s (a 5xx): %.500s", r.method, r.path, resp.Status, b)
	}
	return resp, string(b)
}

// jarSends tells whether the jar sends the session cookie to to (then
// with the value u.cookie: the jar took it from the same Set-Cookie).
func (u *httpUser) jarSends(to *url.URL) bool {
	for _, c := range u.hc.Jar.Cookies(to) {
		if c.Name == sessionCookie {
			return c.Value == u.cookie
		}
	}
	return false
}

func (u *httpUser) get(path string, header map[string]string) (*http.Response, string) {
	u.t.Helper()
	return u.do(request{method: http.MethodGet, path: path, header: header})
}

func (u *httpUser) post(path string, form url.Values, header map[string]string) (*http.Response, string) {
	u.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	return u.do(request{method: http.MethodPost, path: path, form: form, header: header})
}

// sessionSet returns the session cookie a response sets, nil if none.
func sessionSet(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			return c
		}
	}
	return nil
}

// signIn logs in through POST /login and keeps the session.
func (u *httpUser) signIn(user, password string) *http.Response {
	u.t.Helper()
	resp, body := u.post("/login", url.Values{"username": {user}, "password": {password}}, nil)
	c := sessionSet(resp)
	if resp.StatusCode != http.StatusSeeOther || c == nil || c.Value == "" {
		u.t.Fatalf("log in as %s: %s, cookie %v: %.500s", user, resp.Status, c, body)
	}
	u.cookie = c.Value
	return resp
}

var csrfMeta = regexp.MustCompile(`<meta name="vw-csrf" content="([0-9a-f]+)">`)

// csrf reads the session's CSRF token from a page.
func (u *httpUser) csrf() string {
	u.t.Helper()
	resp, body := u.get("/vms", nil)
	m := csrfMeta.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		u.t.Fatalf("GET /vms for the CSRF token: %s, token found %v", resp.Status, m != nil)
	}
	return m[1]
}

// text is how a page shows an engine error's text (html/template escaping).
func text(err error) string {
	var ve *vwire.Error
	if !errors.As(err, &ve) {
		return "(not an engine error: " + err.Error() + ")"
	}
	return html.EscapeString(ve.Text())
}

// as is a context acting as a user, as the console's requests do.
func as(u *vwire.User) context.Context {
	return engine.WithPrincipal(context.Background(), engine.Principal{UserID: u.ID, Name: u.Name, Domain: u.Domain})
}

func TestHTTPConsole(t *testing.T) {
	m := startEngine(t)
	bg := context.Background()
	eng := m.Engine

	cls, err := eng.Clusters(bg, vwire.ClusterFilter{})
	if err != nil || len(cls) == 0 {
		t.Fatalf("clusters: %v %v", cls, err)
	}
	profiles, err := eng.Profiles(bg, vwire.ProfileFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var mgmt string
	for _, p := range profiles {
		if p.Name == "ovirtmgmt" {
			mgmt = p.ID
		}
	}
	if mgmt == "" {
		t.Fatal("no ovirtmgmt profile")
	}
	web, err := eng.AddVM(bg, engine.VMSpec{Name: "web1", ClusterID: cls[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	db, err := eng.AddVM(bg, engine.VMSpec{Name: "payroll", ClusterID: cls[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	webNIC, err := eng.AddNIC(bg, web.ID, engine.NICSpec{Name: "nic1", ProfileID: mgmt})
	if err != nil {
		t.Fatal(err)
	}
	dbNIC, err := eng.AddNIC(bg, db.ID, engine.NICSpec{Name: "nic1", ProfileID: mgmt})
	if err != nil {
		t.Fatal(err)
	}
	linked := func(vmID, nicID string) bool {
		t.Helper()
		n, err := eng.NIC(bg, vmID, nicID)
		if err != nil {
			t.Fatal(err)
		}
		return n.Linked
	}
	setLinked := func(vmID, nicID string, to bool) {
		t.Helper()
		if _, err := eng.UpdateNIC(bg, vmID, nicID, vwire.NICPatch{Linked: &to}); err != nil {
			t.Fatal(err)
		}
	}
	webLink := "/vms/" + web.ID + "/nics/" + webNIC.ID + "/link?to=false"

	t.Run("NoSessionGoesToLogin", func(t *testing.T) {
		u := newHTTPUser(t, m)
		resp, _ := u.get("/vms", nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Fvms" {
			t.Errorf("GET /vms without a session: %s to %q, want 303 to /login?next=%%2Fvms", resp.Status, resp.Header.Get("Location"))
		}
		resp, _ = u.get("/vms/"+web.ID+"?tab=nics", nil)
		if want := "/login?next=" + url.QueryEscape("/vms/"+web.ID+"?tab=nics"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Errorf("GET a VM without a session: %s to %q, want 303 to %q", resp.Status, resp.Header.Get("Location"), want)
		}
		resp, body := u.get("/vms", map[string]string{"HX-Request": "true"})
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("HX-Redirect") != "/login?next=%2Fvms" {
			t.Errorf("htmx GET /vms without a session: %s, HX-Redirect %q, want 401 and HX-Redirect to the login page",
				resp.Status, resp.Header.Get("HX-Redirect"))
		}
		if strings.Contains(body, "web1") {
			t.Error("htmx GET /vms without a session shows a VM")
		}
		// A change without a session changes nothing.
		resp, _ = u.post(webLink, nil, nil)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?") {
			t.Errorf("POST without a session: %s to %q, want 303 to the login page", resp.Status, resp.Header.Get("Location"))
		}
		if !linked(web.ID, webNIC.ID) {
			t.Fatal("a POST without a session took the link down")
		}
		// A cookie that is no session, or no longer one: the login page,
		// never a server error.
		for _, bad := range []string{"garbage", strings.Repeat("x", 3000), "a.b.c", "%00%ff"} {
			resp, _ := u.do(request{method: http.MethodGet, path: "/vms", header: map[string]string{"Cookie": sessionCookie + "=" + bad}})
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?") {
				t.Errorf("GET /vms with the cookie %.20q: %s, want 303 to the login page", bad, resp.Status)
			}
		}
		// The login page itself needs none.
		resp, body = u.get("/login?next=%2Fvms", nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="password"`) {
			t.Errorf("GET /login: %s", resp.Status)
		}
	})

	t.Run("LoginRefused", func(t *testing.T) {
		u := newHTTPUser(t, m)
		resp, body := u.post("/login", url.Values{"username": {"admin"}, "password": {"wrong"}, "next": {"/vms"}}, nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("wrong password: %s, want 401", resp.Status)
		}
		want := text(vwire.New(vwire.MsgBadCredentials, "user", "admin@internal"))
		if !strings.Contains(body, want) {
			t.Errorf("wrong password: the page lacks the engine's refusal %q: %.2000s", want, body)
		}
		if c := sessionSet(resp); c != nil {
			t.Errorf("wrong password set the session cookie: %v", c)
		}
		if len(resp.Header.Values("Set-Cookie")) != 0 {
			t.Errorf("wrong password set cookies: %q", resp.Header.Values("Set-Cookie"))
		}
		// The name typed stays in the form; the password does not.
		if !strings.Contains(body, `value="admin"`) || strings.Contains(body, "wrong") {
			t.Errorf("the refused login page should keep the user name and not the password")
		}
	})

	t.Run("LoginSetsStrictCookie", func(t *testing.T) {
		u := newHTTPUser(t, m)
		resp := u.signIn("admin", "secret")
		if loc := resp.Header.Get("Location"); loc != "/vms" {
			t.Errorf("after login: redirect to %q, want /vms", loc)
		}
		c := sessionSet(resp)
		if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" {
			t.Errorf("session cookie %q: want HttpOnly, Secure, SameSite=Strict, Path=/ and no Domain (a __Host- cookie)", c.String())
		}
		base, _ := url.Parse(u.base)
		t.Logf("Go's cookie jar sends the Secure cookie to %s: %v", base.Host, u.jarSends(base))
		resp, body := u.get("/vms", nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "web1") || !strings.Contains(body, "payroll") {
			t.Fatalf("GET /vms as admin: %s", resp.Status)
		}
		if !strings.Contains(body, "admin@internal") {
			t.Error("the page does not name the signed-in user")
		}
		h := resp.Header
		if !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") || h.Get("X-Frame-Options") != "DENY" ||
			h.Get("Cache-Control") != "no-store" {
			t.Errorf("page headers: CSP %q, X-Frame-Options %q, Cache-Control %q", h.Get("Content-Security-Policy"),
				h.Get("X-Frame-Options"), h.Get("Cache-Control"))
		}
	})

	t.Run("LoginNextStaysOnConsole", func(t *testing.T) {
		for _, tc := range []struct{ next, want string }{
			{"//evil.example/x", "/vms"},
			{"https://evil.example", "/vms"},
			{"http://evil.example/vms", "/vms"},
			{`/\evil.example`, "/vms"},
			{"/\r\nLocation: //evil.example", "/vms"},
			{"/ovirt-engine/api", "/vms"}, // not the console's
			{"", "/vms"},
			{"/vms/" + web.ID, "/vms/" + web.ID}, // the console's own: kept
			{"/events?severity=error", "/events?severity=error"},
		} {
			u := newHTTPUser(t, m)
			resp, body := u.post("/login", url.Values{"username": {"admin"}, "password": {"secret"}, "next": {tc.next}}, nil)
			if resp.StatusCode != http.StatusSeeOther || sessionSet(resp) == nil {
				t.Errorf("login with next %q: %s: %.300s", tc.next, resp.Status, body)
				continue
			}
			loc := resp.Header.Get("Location")
			if loc != tc.want {
				t.Errorf("login with next %q: redirect to %q, want %q", tc.next, loc, tc.want)
			}
			if l, err := url.Parse(loc); err != nil || l.Host != "" || l.Scheme != "" || strings.HasPrefix(loc, "//") {
				t.Errorf("login with next %q: redirect %q leaves the console", tc.next, loc)
			}
		}
		// The login page carries only a safe next in its form.
		u := newHTTPUser(t, m)
		_, body := u.get("/login?next="+url.QueryEscape("//evil.example/x"), nil)
		if strings.Contains(body, "evil.example") || !strings.Contains(body, `name="next" value="/vms"`) {
			t.Errorf("GET /login?next=//evil.example/x: the form's next is not /vms")
		}
	})

	t.Run("PostNeedsCSRFAndSameOrigin", func(t *testing.T) {
		u := newHTTPUser(t, m)
		u.signIn("admin", "secret")
		tok := u.csrf()
		other := newHTTPUser(t, m)
		other.signIn("admin", "secret")
		otherTok := other.csrf()
		if otherTok == tok {
			t.Fatal("two sessions have the same CSRF token")
		}
		refused := []struct {
			name   string
			form   url.Values
			header map[string]string
			body   string
		}{
			{"no token", nil, nil, "CSRF"},
			{"wrong token", url.Values{"csrf": {strings.Repeat("0", len(tok))}}, nil, "CSRF"},
			{"short token", url.Values{"csrf": {tok[:10]}}, nil, "CSRF"},
			{"wrong token in the header", nil, map[string]string{"X-CSRF-Token": strings.Repeat("a", len(tok))}, "CSRF"},
			{"another session's token", url.Values{"csrf": {otherTok}}, nil, "CSRF"},
			{"cross-site fetch", url.Values{"csrf": {tok}}, map[string]string{"Sec-Fetch-Site": "cross-site"}, "Cross-origin"},
			{"same-site fetch", url.Values{"csrf": {tok}}, map[string]string{"Sec-Fetch-Site": "same-site"}, "Cross-origin"},
			{"another origin", url.Values{"csrf": {tok}}, map[string]string{"Origin": "http://evil.example"}, "Cross-origin"},
			{"another origin, https", url.Values{"csrf": {tok}}, map[string]string{"Origin": "https://evil.example"}, "Cross-origin"},
		}
		for _, tc := range refused {
			resp, body := u.post(webLink, tc.form, tc.header)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, tc.body) {
				t.Errorf("POST link down, %s: %s %q, want 403 (%s)", tc.name, resp.Status, strings.TrimSpace(body), tc.body)
			}
			if !linked(web.ID, webNIC.ID) {
				t.Fatalf("POST link down, %s: refused, yet the link is down", tc.name)
			}
		}
		// The right token, in the form (a plain form post) or in the
		// header (htmx), from the same origin: applied.
		resp, body := u.post(webLink, url.Values{"csrf": {tok}}, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Applied.") {
			t.Errorf("POST link down with the token: %s: %.1000s", resp.Status, body)
		}
		if linked(web.ID, webNIC.ID) {
			t.Error("POST link down with the token: the link is still up")
		}
		up := "/vms/" + web.ID + "/nics/" + webNIC.ID + "/link?to=true"
		resp, body = u.post(up, nil, map[string]string{"X-CSRF-Token": tok, "HX-Request": "true",
			"Sec-Fetch-Site": "same-origin", "Origin": u.base})
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Applied.") {
			t.Errorf("htmx POST link up with the token: %s: %.1000s", resp.Status, body)
		}
		if !linked(web.ID, webNIC.ID) {
			t.Error("htmx POST link up with the token: the link is still down")
		}
		// The login form is cross-origin protected too (login CSRF).
		resp, _ = newHTTPUser(t, m).post("/login", url.Values{"username": {"admin"}, "password": {"secret"}},
			map[string]string{"Sec-Fetch-Site": "cross-site"})
		if resp.StatusCode != http.StatusForbidden || sessionSet(resp) != nil {
			t.Errorf("cross-site POST /login: %s, cookie %v, want 403 and no session", resp.Status, sessionSet(resp))
		}
	})

	t.Run("Permissions", func(t *testing.T) {
		alice, err := eng.AddUser(bg, "alice", "pw-alice-1")
		if err != nil {
			t.Fatal(err)
		}
		// UserRole: use of one VM (run, stop, console), not its network.
		if err := eng.AddPermission(bg, &vwire.Permission{UserID: alice.ID, RoleID: vwire.RoleUserRole,
			Object: vwire.ObjectRef{Type: vwire.ObjVM, ID: web.ID}}); err != nil {
			t.Fatal(err)
		}
		u := newHTTPUser(t, m)
		u.signIn("alice", "pw-alice-1")
		tok := u.csrf()

		resp, body := u.get("/vms", nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "/vms/"+web.ID) {
			t.Errorf("alice's VM list: %s, lists web1 %v", resp.Status, strings.Contains(body, "/vms/"+web.ID))
		}
		if strings.Contains(body, db.ID) || strings.Contains(body, "payroll") {
			t.Error("alice's VM list shows payroll, a VM she has no permission on")
		}
		if !strings.Contains(body, "1 VMs") {
			t.Errorf("alice's VM list does not count 1 VM")
		}

		// Nor do the other pages or the events show payroll.
		for _, p := range []string{"/events", "/hosts", "/networks", "/vms?search=status%3Ddown"} {
			resp, body := u.get(p, nil)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s as alice: %s", p, resp.Status)
			}
			if strings.Contains(body, db.ID) || strings.Contains(body, "payroll") {
				t.Errorf("GET %s as alice shows payroll", p)
			}
		}

		// The engine hides what she cannot see: not found, not forbidden.
		_, engErr := eng.VM(as(alice), db.ID)
		if vwire.ErrorCode(engErr) != vwire.ENOTFOUND {
			t.Fatalf("engine: alice reading payroll: %v, want not found", engErr)
		}
		resp, body = u.get("/vms/"+db.ID, nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET payroll as alice: %s, want 404 as the engine says %v", resp.Status, engErr)
		}
		if strings.Contains(body, "payroll") {
			t.Error("the not-found page of payroll names it")
		}
		resp, _ = u.get("/vms/"+db.ID+"/nics/"+dbNIC.ID+"/edit", map[string]string{"HX-Request": "true"})
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET payroll's Edit dialog as alice: %s, want 404", resp.Status)
		}
		resp, body = u.get("/vms/"+web.ID, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "web1") {
			t.Errorf("GET web1 as alice: %s", resp.Status)
		}

		// Her VM's Edit dialog: read-only, with the engine's refusal.
		f, err := eng.NICForm(as(alice), web.ID, webNIC.ID, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !vwire.IsKey(f.All, vwire.MsgUserNotAuthorized) {
			t.Fatalf("engine: alice's NICForm All = %v, want %s (UserRole lacks CONFIGURE_VM_NETWORK)", f.All, vwire.MsgUserNotAuthorized)
		}
		resp, body = u.get("/vms/"+web.ID+"/nics/"+webNIC.ID+"/edit", map[string]string{"HX-Request": "true"})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET web1's Edit dialog as alice: %s", resp.Status)
		}
		if !strings.Contains(body, text(f.All)) {
			t.Errorf("alice's Edit dialog lacks the refusal %q: %.3000s", text(f.All), body)
		}
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`<input id="nic-name"[^>]*\bdisabled\b`),
			regexp.MustCompile(`<select id="nic-profile"[^>]*\bdisabled\b`),
			regexp.MustCompile(`<select id="nic-type"[^>]*\bdisabled\b`),
			regexp.MustCompile(`<button type="submit" class="primary"[^>]*\bdisabled\b`),
		} {
			if !want.MatchString(body) {
				t.Errorf("alice's Edit dialog is not read-only: no match for %s", want)
			}
		}
		if !regexp.MustCompile(`<input id="nic-mac"[^>]*\b(readonly|disabled)\b`).MatchString(body) {
			t.Errorf("BUG: alice's read-only Edit dialog (NICForm.All set) leaves the MAC address field editable: " +
				"nicDialog.options (console/nics.go) returns when Locked before it sets MACLocked")
		}

		// A change of the VM she cannot see: refused, and it stays hidden.
		resp, body = u.post("/vms/"+db.ID+"/nics/"+dbNIC.ID+"/link?to=false", url.Values{"csrf": {tok}}, nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST payroll's link down as alice: %s, want 404", resp.Status)
		}
		if strings.Contains(body, "payroll") || strings.Contains(body, "Applied.") {
			t.Errorf("POST payroll's link down as alice: the answer names payroll or says applied: %.1000s", body)
		}
		if !linked(db.ID, dbNIC.ID) {
			t.Error("alice took payroll's link down")
		}
		// A change of her own VM's network: refused, with the reason.
		resp, body = u.post(webLink, url.Values{"csrf": {tok}}, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Refused.") || !strings.Contains(body, text(f.All)) {
			t.Errorf("POST web1's link down as alice: %s, want the refusal %q: %.1000s", resp.Status, text(f.All), body)
		}
		if !linked(web.ID, webNIC.ID) {
			t.Error("alice took web1's link down without CONFIGURE_VM_NETWORK")
		}
	})

	t.Run("BadInput", func(t *testing.T) {
		u := newHTTPUser(t, m)
		u.signIn("admin", "secret")
		tok := u.csrf()

		_, serr := vwire.ParseSearch("name=(")
		if serr == nil {
			t.Fatal(`ParseSearch("name=(") accepted it`)
		}
		resp, body := u.get("/vms?search=name%3D%28", nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, text(serr)) {
			t.Errorf("search name=(: %s, want 400 with %q", resp.Status, text(serr))
		}
		resp, _ = u.get("/vms?partial=rows&search=name%3D%28", map[string]string{"HX-Request": "true"})
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("search name=( (htmx refresh): %s, want 400", resp.Status)
		}
		resp, _ = u.get("/events?search=name%3D%28", nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("events search name=(: %s, want 400", resp.Status)
		}

		// What a search says comes back escaped, never as markup.
		xss := `"><script>alert(1)</script><img src=x onerror=alert(2)>`
		resp, body = u.get("/vms?search="+url.QueryEscape(xss), nil)
		if resp.StatusCode >= 500 || strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
			t.Errorf("search %q: %s, and it comes back as markup", xss, resp.Status)
		}
		resp, body = u.get("/events?search="+url.QueryEscape(xss), nil)
		if resp.StatusCode >= 500 || strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
			t.Errorf("events search %q: %s, and it comes back as markup", xss, resp.Status)
		}

		before, err := eng.NICs(bg, web.ID)
		if err != nil {
			t.Fatal(err)
		}
		resp, body = u.post("/vms/"+web.ID+"/nics", url.Values{"csrf": {tok}, "name": {"nic9"}, "interface": {"bogus"},
			"profile": {mgmt}, "linked": {"true"}, "plugged": {"true"}}, map[string]string{"HX-Request": "true"})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Refused.") ||
			!strings.Contains(body, html.EscapeString(`"bogus"`)) || !strings.Contains(body, "New Network Interface") {
			t.Errorf("add a vNIC of type bogus: %s, want 422 and the dialog with its refusal: %.2000s", resp.Status, body)
		}
		if !strings.Contains(body, `value="nic9"`) {
			t.Error("the refused dialog lost the name typed")
		}
		after, err := eng.NICs(bg, web.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(before) {
			t.Errorf("a refused vNIC was added: %d vNICs, were %d", len(after), len(before))
		}
		// A duplicate name: the engine's refusal, in the dialog.
		resp, body = u.post("/vms/"+web.ID+"/nics", url.Values{"csrf": {tok}, "name": {"nic1"}, "interface": {"virtio"},
			"profile": {mgmt}}, map[string]string{"HX-Request": "true"})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Refused.") {
			t.Errorf("add a second nic1: %s, want 422 with the refusal: %.1000s", resp.Status, body)
		}
		// A link button that says neither up nor down.
		resp, body = u.post("/vms/"+web.ID+"/nics/"+webNIC.ID+"/link", url.Values{"csrf": {tok}}, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Refused.") || !linked(web.ID, webNIC.ID) {
			t.Errorf("POST link without to: %s: %.500s", resp.Status, body)
		}

		notFound := func(path string) string {
			t.Helper()
			resp, body := u.get(path, nil)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s: %s, want 404", path, resp.Status)
			}
			return body
		}
		notFound("/vms/not-a-uuid")
		notFound("/vms/" + "00000000-0000-0000-0000-00000000dead")
		notFound("/vms/" + web.ID + "/nics/00000000-0000-0000-0000-00000000dead/edit")
		notFound("/vms/" + db.ID + "/nics/" + webNIC.ID + "/edit") // a vNIC of another VM
		// Paths the console owns but has no page for: its own not-found page.
		for _, p := range []string{"/vmsx", "/vms/a/b/c/d", "/hosts/x", "/static/nothing.js", "/eventsfoo"} {
			if !console.Owns(p) {
				t.Errorf("console.Owns(%q) = false", p)
				continue
			}
			if body := notFound(p); p != "/static/nothing.js" && !strings.Contains(body, "There is nothing at this address") {
				t.Errorf("GET %s: not the console's not-found page: %.300s", p, body)
			}
		}
		// Paths it does not own go to the REST API, which answers them.
		for _, p := range []string{"/nowhere", "/ovirt-engine/api/nowhere"} {
			if console.Owns(p) {
				t.Errorf("console.Owns(%q) = true", p)
			}
			if body := notFound(p); strings.Contains(body, "There is nothing at this address") {
				t.Errorf("GET %s: the console answered a path it does not own", p)
			}
		}
		// A method the console has no route for.
		resp, _ = u.do(request{method: http.MethodDelete, path: "/vms/" + web.ID})
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("DELETE /vms/{id}: %s, want a 4xx", resp.Status)
		}
		t.Logf("DELETE /vms/{id}: %s (Allow %q)", resp.Status, resp.Header.Get("Allow"))
		if _, err := eng.VM(bg, web.ID); err != nil {
			t.Errorf("DELETE /vms/{id} removed the VM: %v", err)
		}
	})

	t.Run("Live", func(t *testing.T) {
		resp, _ := newHTTPUser(t, m).get("/live", nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET /live without a session: %s, want 401", resp.Status)
		}

		u := newHTTPUser(t, m)
		u.signIn("admin", "secret")
		lines, stop := openLive(t, u)
		defer stop()
		waitLine(t, lines, "retry: ", 2*time.Second, "the stream's first line")
		// live.go subscribes to the events only after it flushed that
		// first line: a commit in between would be missed (reported).
		// Let the handler subscribe first.
		time.Sleep(100 * time.Millisecond)
		setLinked(web.ID, webNIC.ID, false)
		start := time.Now()
		waitLine(t, lines, "event: changed", 2*time.Second, "a committed change")
		t.Logf("event: changed %v after the commit", time.Since(start).Round(time.Millisecond))
		setLinked(web.ID, webNIC.ID, true)
		waitLine(t, lines, "event: changed", 2*time.Second, "a second committed change")
	})

	t.Run("Logout", func(t *testing.T) {
		u := newHTTPUser(t, m)
		u.signIn("admin", "secret")
		tok := u.csrf()
		lines, stop := openLive(t, u)
		defer stop()
		waitLine(t, lines, "retry: ", 2*time.Second, "the stream's first line")

		resp, _ := u.post("/logout", nil, nil)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST /logout without the token: %s, want 403", resp.Status)
		}
		if resp, _ := u.get("/vms", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("a refused logout ended the session: GET /vms %s", resp.Status)
		}
		resp, _ = u.post("/logout", url.Values{"csrf": {tok}}, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Errorf("POST /logout: %s to %q, want 303 to /login", resp.Status, resp.Header.Get("Location"))
		}
		if c := sessionSet(resp); c == nil || c.MaxAge >= 0 || c.Value != "" {
			t.Errorf("POST /logout does not delete the cookie: %v", c)
		}
		// The old cookie, kept by a thief or a stale tab, no longer works.
		resp, _ = u.get("/vms", nil)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?") {
			t.Errorf("GET /vms after logout: %s to %q, want 303 to the login page", resp.Status, resp.Header.Get("Location"))
		}
		resp, _ = u.post(webLink, url.Values{"csrf": {tok}}, nil)
		if resp.StatusCode != http.StatusSeeOther || !linked(web.ID, webNIC.ID) {
			t.Errorf("POST with the old session and token after logout: %s, link up %v", resp.Status, linked(web.ID, webNIC.ID))
		}
		if resp, _ := u.get("/live", nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET /live after logout: %s, want 401", resp.Status)
		}
		// The stream opened before says so at the next change and ends.
		setLinked(web.ID, webNIC.ID, false)
		waitLine(t, lines, "event: signedout", 2*time.Second, "the logged-out session's stream")
		setLinked(web.ID, webNIC.ID, true)
	})
}

// openLive opens GET /live with u's session and returns its lines.
func openLive(t *testing.T, u *httpUser) (<-chan string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.base+"/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: u.cookie})
	req.Header.Set("Accept", "text/event-stream")
	// No client timeout: the stream stays open until the test ends it.
	hc := &http.Client{CheckRedirect: u.hc.CheckRedirect}
	resp, err := hc.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		cancel()
		t.Fatalf("GET /live: %s, Content-Type %q, want 200 text/event-stream", resp.Status, resp.Header.Get("Content-Type"))
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" {
		t.Errorf("GET /live is %s-encoded: a compressed stream is buffered", ce)
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		r := bufio.NewReader(resp.Body)
		for {
			l, err := r.ReadString('\n')
			if l = strings.TrimRight(l, "\n"); l != "" {
				lines <- l
			}
			if err != nil {
				return
			}
		}
	}()
	return lines, func() { cancel(); resp.Body.Close() }
}

// waitLine waits for a line of the stream that starts with prefix.
func waitLine(t *testing.T, lines <-chan string, prefix string, within time.Duration, what string) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("%s: the stream ended before %q", what, prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return
			}
		case <-deadline:
			t.Fatalf("%s: no %q within %v", what, prefix, within)
		}
	}
}
