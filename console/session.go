package console

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
)

// cookieName is the console's session cookie. The __Host- prefix makes
// browsers refuse it unless Secure, for path / and without a domain, so
// no other site or path can plant or read it.
const cookieName = "__Host-vwire-console"

// maxForm bounds a console form's body.
const maxForm = 64 << 10

// session is the signed-in caller of a request.
type session struct {
	user  *vwire.User
	token string // the cookie's value
	csrf  string
}

type sessionKey struct{}

func sessionOf(ctx context.Context) *session {
	s, _ := ctx.Value(sessionKey{}).(*session)
	return s
}

// page registers a handler that needs a signed-in user: without one, a page
// redirects to the login page (an htmx request is told to, with
// HX-Redirect); a POST without the session's CSRF token, or from another
// origin, is refused 403 and changes nothing.
func (s *Server) page(pattern string, h http.HandlerFunc) {
	post := strings.HasPrefix(pattern, "POST ")
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(cookieName)
		var u *vwire.User
		if err == nil && c.Value != "" {
			u, err = s.eng.SessionUser(r.Context(), c.Value)
		}
		if u == nil || err != nil {
			if err != nil && vwire.ErrorCode(err) != vwire.EUNAUTHORIZED && !errors.Is(err, http.ErrNoCookie) {
				s.serverError(w, r, err)
				return
			}
			s.toLogin(w, r)
			return
		}
		sess := &session{user: u, token: c.Value, csrf: s.csrfToken(c.Value)}
		if post {
			if err := s.cop.Check(r); err != nil {
				http.Error(w, "Cross-origin request refused.", http.StatusForbidden)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			tok := r.Header.Get("X-CSRF-Token")
			if tok == "" {
				tok = r.PostFormValue("csrf")
			}
			if !s.validCSRF(c.Value, tok) {
				http.Error(w, "The form is stale or forged (CSRF token missing or wrong): reload the page.", http.StatusForbidden)
				return
			}
		}
		ctx := context.WithValue(r.Context(), sessionKey{}, sess)
		ctx = engine.WithPrincipal(ctx, engine.Principal{UserID: u.ID, Name: u.Name, Domain: u.Domain})
		w.Header().Set("Cache-Control", "no-store")
		h(w, r.WithContext(ctx))
	})
}

// toLogin sends the caller to the login page, back to where it was after.
func (s *Server) toLogin(w http.ResponseWriter, r *http.Request) {
	next := "/vms"
	if r.Method == http.MethodGet && r.Header.Get("HX-Request") == "" && r.URL.Path != "/live" {
		next = r.URL.RequestURI()
	}
	target := "/login?next=" + url.QueryEscape(next)
	if r.Header.Get("HX-Request") != "" {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.URL.Path == "/live" {
		http.Error(w, "Not signed in.", http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// safeNext keeps a post-login redirect on the console.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") || !Owns(strings.SplitN(next, "?", 2)[0]) {
		return "/vms"
	}
	return next
}

type loginData struct {
	Next, User, Error string
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "login", &pageData{Title: "Log in", Data: loginData{Next: safeNext(r.URL.Query().Get("next"))}})
}

// login checks the credentials as the SSO token endpoint does (same
// throttle, same errors) and opens an engine session for the cookie.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if err := s.cop.Check(r); err != nil {
		http.Error(w, "Cross-origin request refused.", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Cannot read the form.", http.StatusBadRequest)
		return
	}
	d := loginData{Next: safeNext(r.PostFormValue("next")), User: r.PostFormValue("username")}
	login := d.User
	if login != "" && !strings.Contains(login, "@") {
		login += "@internal"
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ctx := engine.WithSource(r.Context(), host)
	u, err := s.eng.Authenticate(ctx, login, r.PostFormValue("password"))
	if err == nil {
		var token string
		token, _, err = s.eng.IssueSession(ctx, u, s.opt.SessionIdle)
		if err == nil {
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: "/", HttpOnly: true, Secure: true,
				SameSite: http.SameSiteStrictMode})
			http.Redirect(w, r, d.Next, http.StatusSeeOther)
			return
		}
	}
	var t *engine.Throttled
	if errors.As(err, &t) {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(t.RetryAfter/time.Second), 10))
	}
	d.Error = message(err)
	code := http.StatusUnauthorized
	if c := vwire.ErrorCode(err); c == vwire.EINVALID || c == vwire.EUNAVAILABLE {
		code = statusOf(err)
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, code, "login", &pageData{Title: "Log in", Data: d})
}

// logout ends the engine session and the cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r.Context())
	if err := s.eng.RevokeToken(r.Context(), sess.token); err != nil {
		s.serverError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true,
		SameSite: http.SameSiteStrictMode})
	if r.Header.Get("HX-Request") != "" {
		w.Header().Set("HX-Redirect", "/login")
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
