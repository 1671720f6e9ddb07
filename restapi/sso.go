package restapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
)

// Bounds on what authentication reads, so that huge credentials are a clear
// 400 and never reach a hash or the throttle's memory.
const (
	maxAuthHeader = 8 << 10  // an Authorization header
	maxSSOForm    = 16 << 10 // the SSO endpoints' form (body or query)
)

// sessionCookie is the servlet container's session cookie that oVirt's
// Prefer: persistent-auth keeps the engine session in.
const sessionCookie = "JSESSIONID"

// ssoError answers as oVirt's SSO does: HTTP 400 (or the given code) and
// JSON with error_code and error; SDKs read those, Python prefers
// error_description.
func ssoError(w http.ResponseWriter, code int, kind, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error_code": kind, "error": msg, "error_description": msg})
}

// ssoForm parses an SSO endpoint's parameters (body or query, as the
// servlet's getParameter reads them) within maxSSOForm; false when it
// already answered.
func ssoForm(w http.ResponseWriter, r *http.Request) bool {
	if len(r.URL.RawQuery) > maxSSOForm {
		ssoError(w, http.StatusRequestURITooLong, "invalid_request", "The query string is too large.")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSSOForm)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			ssoError(w, http.StatusRequestEntityTooLarge, "invalid_request",
				"The form is too large: at most "+strconv.Itoa(maxSSOForm)+" bytes.")
			return false
		}
		ssoError(w, http.StatusBadRequest, "invalid_request", "Cannot read the form: "+err.Error())
		return false
	}
	return true
}

// sourceCtx marks the request's context with its peer address for the
// login throttle. Forwarded-for headers are not trusted: any client can
// send them.
func sourceCtx(r *http.Request) *http.Request {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return r.WithContext(engine.WithSource(r.Context(), host))
}

// retryAfter sets Retry-After when err is a login throttle's refusal.
func retryAfter(w http.ResponseWriter, err error) {
	var t *engine.Throttled
	if errors.As(err, &t) {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(t.RetryAfter/time.Second), 10))
	}
}

// ssoToken is oVirt's password grant: form parameters in, JSON out.
func (s *Server) ssoToken(w http.ResponseWriter, r *http.Request) {
	if !ssoForm(w, r) {
		return
	}
	r = sourceCtx(r)
	grant := r.Form.Get("grant_type")
	switch {
	case grant == "":
		ssoError(w, http.StatusBadRequest, "invalid_request", "Missing parameter: 'grant_type'")
		return
	case grant != "password":
		ssoError(w, http.StatusBadRequest, "unsupported_grant_type", "The grant type '"+grant+"' is not supported; use 'password'.")
		return
	case r.Form.Get("username") == "":
		ssoError(w, http.StatusBadRequest, "invalid_request", "Missing parameter: 'username'")
		return
	}
	scope := r.Form.Get("scope")
	if scope == "" {
		scope = "ovirt-app-api"
	}
	u, err := s.eng.Authenticate(r.Context(), r.Form.Get("username"), r.Form.Get("password"))
	if err != nil {
		_, _, detail := faultOf(err)
		retryAfter(w, err)
		ssoError(w, http.StatusBadRequest, "access_denied", detail)
		return
	}
	token, exp, err := s.eng.IssueToken(r.Context(), u)
	if err != nil {
		ssoError(w, http.StatusInternalServerError, "server_error", "Cannot issue a token.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{
		"access_token": token,
		"scope":        scope + " ovirt-ext=token-info:authz-search ovirt-ext=token-info:public-authz-search ovirt-ext=token-info:validate ovirt-ext=token:password-access",
		"exp":          strconv.FormatInt(exp.UnixMilli(), 10),
		"token_type":   "bearer",
	})
}

// ssoLogout is oVirt's /services/sso-logout: the token in the form ends;
// holding it is the authority, as in oVirt. The answer is {} whatever the
// token was.
func (s *Server) ssoLogout(w http.ResponseWriter, r *http.Request) {
	if !ssoForm(w, r) {
		return
	}
	if err := s.eng.RevokeToken(r.Context(), r.Form.Get("token")); err != nil {
		ssoError(w, http.StatusInternalServerError, "server_error", "Cannot revoke the token.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte("{}\n"))
}

// ssoRevoke is oVirt's /sso/oauth/revoke (OAuthRevokeServlet): the token in
// a form parameter, the client authenticated by client_id and
// client_secret, as form parameters or HTTP Basic. vwire has no OAuth
// client registry, so the client is a user (client_id user@profile,
// client_secret the password, throttled like any login) and may revoke its
// own tokens; scope ovirt-ext=revoke:revoke-all ends all of them. An
// unknown or another user's token answers {} too, as in oVirt.
func (s *Server) ssoRevoke(w http.ResponseWriter, r *http.Request) {
	if len(r.Header.Get("Authorization")) > maxAuthHeader {
		ssoError(w, http.StatusBadRequest, "invalid_request", "The Authorization header is too large.")
		return
	}
	if !ssoForm(w, r) {
		return
	}
	r = sourceCtx(r)
	token := r.Form.Get("token")
	if token == "" {
		ssoError(w, http.StatusBadRequest, "invalid_request", "Missing parameter: 'token'")
		return
	}
	id, secret := r.Form.Get("client_id"), r.Form.Get("client_secret")
	if id == "" && secret == "" {
		id, secret, _ = r.BasicAuth()
	}
	for _, p := range [][2]string{{"client_id", id}, {"client_secret", secret}} {
		if p[1] == "" {
			ssoError(w, http.StatusBadRequest, "invalid_request", "Missing parameter: '"+p[0]+"'")
			return
		}
	}
	u, err := s.eng.Authenticate(r.Context(), id, secret)
	if err != nil {
		_, _, detail := faultOf(err)
		retryAfter(w, err)
		ssoError(w, http.StatusBadRequest, "unauthorized_client", detail)
		return
	}
	all := slices.Contains(strings.Fields(r.Form.Get("scope")), "ovirt-ext=revoke:revoke-all")
	if err := s.eng.RevokeUserToken(r.Context(), u, token, all); err != nil {
		ssoError(w, http.StatusInternalServerError, "server_error", "Cannot revoke the token.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte("{}\n"))
}

// prefers says whether a Prefer header of the request names want
// (persistent-auth, new-auth); oVirt reads each comma-separated value.
func prefers(r *http.Request, want string) bool {
	for _, h := range r.Header.Values("Prefer") {
		for _, v := range strings.Split(h, ",") {
			if strings.EqualFold(strings.TrimSpace(v), want) {
				return true
			}
		}
	}
	return false
}

// authenticate accepts, in oVirt's order: the persistent-auth session
// cookie (alone, or with Prefer: persistent-auth, unless Prefer: new-auth),
// a bearer token from the SSO endpoint, or HTTP Basic. HTTP Basic with
// Prefer: persistent-auth opens a session and sets its cookie (Session-TTL:
// minutes sets its idle time). A refusal is a vwire error; a throttled one
// also sets Retry-After.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*vwire.User, error) {
	auth := r.Header.Get("Authorization")
	if len(auth) > maxAuthHeader {
		return nil, vwire.New(vwire.MsgCredentialsTooLarge, "what", "Authorization header", "max", strconv.Itoa(maxAuthHeader))
	}
	r = sourceCtx(r)
	ctx := r.Context()
	persistent := prefers(r, "persistent-auth")
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" && (auth == "" || persistent) && !prefers(r, "new-auth") {
		u, err := s.eng.SessionUser(ctx, c.Value)
		if err == nil || auth == "" {
			return u, err
		}
	}
	scheme, cred, _ := strings.Cut(strings.TrimSpace(auth), " ")
	cred = strings.TrimSpace(cred)
	switch {
	case auth == "":
		return nil, vwire.New(vwire.MsgAuthRequired, "sso", ssoRoot)
	case strings.EqualFold(scheme, "bearer"):
		return s.eng.TokenUser(ctx, cred)
	case !strings.EqualFold(scheme, "basic"):
		return nil, vwire.New(vwire.MsgBadAuthorization, "why", "unsupported scheme '"+truncateScheme(scheme)+"'; use Basic or Bearer")
	}
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		return nil, vwire.New(vwire.MsgBadAuthorization, "why", "the Basic credentials are not base64")
	}
	login, pw, ok := strings.Cut(string(raw), ":")
	if !ok || login == "" {
		return nil, vwire.New(vwire.MsgBadAuthorization, "why", "the Basic credentials are not user@profile:password")
	}
	u, err := s.eng.Authenticate(ctx, login, pw)
	if err != nil {
		retryAfter(w, err)
		return nil, err
	}
	if persistent {
		var ttl time.Duration
		if m, err := strconv.Atoi(r.Header.Get("Session-TTL")); err == nil && m > 0 {
			ttl = time.Duration(m) * time.Minute
		}
		token, _, err := s.eng.IssueSession(ctx, u, ttl)
		if err != nil {
			return nil, err
		}
		// No Expires: a browser-session cookie, as the servlet container's;
		// the engine ends the session itself.
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: apiRoot, HttpOnly: true,
			Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	}
	return u, nil
}

func truncateScheme(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}
