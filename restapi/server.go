// Package restapi serves vwire's REST API at /ovirt-engine/api, compatible
// with oVirt's v4 wire format so that oVirt's SDKs, its Ansible collection
// and curl scripts work unchanged: XML by default and JSON on request (with
// the engine's string-typed booleans and integers), 201 + Location on add,
// 200 on DELETE, faults with reason and detail, HTTP Basic and oVirt's SSO
// token endpoint. It is the only package that knows HTTP statuses.
package restapi

import (
	"context"
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
)

const (
	apiRoot = "/ovirt-engine/api"
	ssoRoot = "/ovirt-engine/sso"
)

// Server is the REST API.
type Server struct {
	eng *engine.Engine
	log *slog.Logger
	mux *http.ServeMux

	// Stream bounds the event stream (events.go); set it before serving.
	Stream  StreamLimits
	hubOnce sync.Once
	hub     *eventHub
	// closing ends the event streams (CloseStreams), which a graceful
	// shutdown would otherwise wait on until its deadline.
	closing   chan struct{}
	closeOnce sync.Once

	// patterns are the API's routes as registered, for Routes.
	patterns []string

	// async counts the actions running in the background (res_jobs.go);
	// asyncSlots bounds them.
	async      sync.WaitGroup
	asyncSlots chan struct{}
}

// New returns the REST API of an engine.
func New(eng *engine.Engine, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{eng: eng, log: log, mux: http.NewServeMux(), asyncSlots: make(chan struct{}, maxAsync), closing: make(chan struct{})}
	s.routes()
	return s
}

// CloseStreams ends every open event stream (their clients reconnect with
// Last-Event-ID): the engine's http.Server calls it when it shuts down.
func (s *Server) CloseStreams() { s.closeOnce.Do(func() { close(s.closing) }) }

// request carries what a handler needs about the call.
type request struct {
	w      http.ResponseWriter
	r      *http.Request
	json   bool
	prefix string // "/ovirt-engine/api" or "/ovirt-engine/api/v4"
	// internal is set on a read made to follow a link: its answer is
	// captured there. follow, on a GET with follow=, inlines links.
	internal *followRead
	follow   func(*node)
}

func (q *request) ctx() context.Context { return q.r.Context() }

func (q *request) href(parts ...string) string {
	return q.prefix + "/" + strings.Join(parts, "/")
}

func wantsJSON(r *http.Request) bool {
	if a := r.URL.Query().Get("accept"); a != "" {
		return strings.Contains(a, "json")
	}
	accept := r.Header.Get("Accept")
	// XML is the default: first in oVirt's @Produces, and what SDKs send.
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "application/xml")
}

func bodyIsJSON(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "" {
		return wantsJSON(r)
	}
	return strings.HasSuffix(mt, "json")
}

// write sends an entity or collection.
func (q *request) write(code int, n *node) {
	if q.internal != nil {
		q.internal.code, q.internal.answer = code, n
		return
	}
	if q.follow != nil && code == http.StatusOK {
		q.follow(n)
	}
	if q.json {
		q.w.Header().Set("Content-Type", "application/json")
		q.w.WriteHeader(code)
		writeJSON(q.w, n)
		return
	}
	q.w.Header().Set("Content-Type", "application/xml")
	q.w.WriteHeader(code)
	writeXML(q.w, n)
}

// fault renders err as oVirt's fault, or, for an action, as a failed action.
func (q *request) fault(err error, action bool) {
	code, reason, detail := faultOf(err)
	if code >= 500 {
		// The default logger: the binaries set it to theirs, whose handler
		// adds the request's id from the context.
		slog.ErrorContext(q.ctx(), "request failed", "method", q.r.Method, "path", q.r.URL.Path, "err", err)
	}
	if code == http.StatusUnauthorized {
		q.w.Header().Set("WWW-Authenticate", `Basic realm="RESTAPI"`)
	}
	f := el("fault", str("reason", reason), str("detail", detail))
	if action {
		q.write(code, el("action", str("status", "failed"), f))
		return
	}
	q.write(code, f)
}

// body parses the request body.
func (q *request) body() (*in, error) {
	return parseBody(http.MaxBytesReader(q.w, q.r.Body, maxBody+1), bodyIsJSON(q.r))
}

type handler func(q *request) error

var versionPrefix = regexp.MustCompile(`^/ovirt-engine/api/v(\d+)(/|$)`)

// ServeHTTP routes a request. /ovirt-engine/api/v4/… is the same API with
// hrefs that keep the /v4.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m := versionPrefix.FindStringSubmatch(r.URL.Path); m != nil {
		if m[1] != "4" {
			s.bare(w, r, vwire.New(vwire.MsgUnsupportedAPIVersion, "version", m[1]))
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = apiRoot + strings.TrimPrefix(r.URL.Path, apiRoot+"/v4")
		r2 = r2.WithContext(context.WithValue(r2.Context(), prefixKey{}, apiRoot+"/v4"))
		r = r2
	} else if v := r.Header.Get("Version"); v != "" && v != "4" && strings.HasPrefix(r.URL.Path, apiRoot) {
		s.bare(w, r, vwire.New(vwire.MsgUnsupportedAPIVersion, "version", truncate(v, 16)))
		return
	}
	corr := sanitizeCorrelation(r.Header.Get("Correlation-Id"))
	if corr == "" {
		corr = sanitizeCorrelation(r.URL.Query().Get("correlation_id"))
	}
	if corr == "" {
		corr = uuid.NewString()
	}
	w.Header().Set("Correlation-Id", corr)
	r = r.WithContext(engine.WithCorrelation(r.Context(), corr))
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.unrouted(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// unrouted answers a request no route takes with oVirt's fault, in XML or
// JSON as asked, instead of the mux's text/plain: 405 (with Allow) when the
// path takes other methods, else 404. Clients parse every non-2xx body as
// a fault.
func (s *Server) unrouted(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" {
			allowed = append(allowed, m)
		}
	}
	path := truncate(r.URL.Path, 256)
	if len(allowed) == 0 {
		s.bare(w, r, vwire.New(vwire.MsgNoSuchPath, "path", path))
		return
	}
	if slices.Contains(allowed, http.MethodGet) {
		allowed = append(allowed, http.MethodHead)
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	s.bare(w, r, vwire.New(vwire.MsgMethodNotAllowed, "path", path, "method", truncate(r.Method, 16),
		"allowed", strings.Join(allowed, ", ")))
}

// bare answers err as a fault outside any route (no authentication yet).
func (s *Server) bare(w http.ResponseWriter, r *http.Request, err error) {
	q := &request{w: w, r: r, json: wantsJSON(r), prefix: apiRoot}
	q.fault(err, false)
}

// truncate bounds a client's text echoed in a fault.
func truncate(v string, n int) string {
	if len(v) <= n {
		return v
	}
	return strings.ToValidUTF8(v[:n], "") + "…"
}

type prefixKey struct{}

var corrPattern = regexp.MustCompile(`[^0-9a-zA-Z_-]`)

func sanitizeCorrelation(s string) string {
	s = corrPattern.ReplaceAllString(s, "")
	if len(s) > 36 {
		s = s[:36]
	}
	return s
}

// Routes lists the authenticated API's routes ("GET /vms/{id}"), under
// /ovirt-engine/api: a test walks them all, so that a new route cannot
// escape the permission checks unnoticed.
func (s *Server) Routes() []string { return slices.Clone(s.patterns) }

// api registers an authenticated API handler.
func (s *Server) api(pattern string, h handler, isAction bool) {
	method, path, _ := strings.Cut(pattern, " ")
	// Only an action's fault is wrapped in <action>: a DELETE's, as every
	// other request's, is a bare <fault> (oVirt's SDKs parse nothing else).
	isAction = isAction && method == http.MethodPost
	s.patterns = append(s.patterns, pattern)
	s.mux.HandleFunc(method+" "+apiRoot+path, func(w http.ResponseWriter, r *http.Request) {
		q := &request{w: w, r: r, json: wantsJSON(r), prefix: apiRoot}
		if p, ok := r.Context().Value(prefixKey{}).(string); ok {
			q.prefix = p
		}
		var user *vwire.User
		if fr, ok := r.Context().Value(followKey{}).(*followRead); ok {
			user, q.internal = fr.user, fr // authenticated by the request that follows
		} else {
			var err error
			if user, err = s.authenticate(w, r); err != nil {
				q.fault(err, false)
				return
			}
		}
		q.r = r.WithContext(engine.WithPrincipal(r.Context(), engine.Principal{UserID: user.ID, Name: user.Name, Domain: user.Domain}))
		q.r = withFilter(q.r)
		if method == http.MethodGet && q.internal == nil {
			paths, err := followPaths(r)
			if err != nil {
				q.fault(err, false)
				return
			}
			if paths != nil {
				f := &follower{s: s, q: q, user: user}
				q.follow = func(n *node) { f.expand(n, paths) }
			}
		}
		defer func() {
			if p := recover(); p != nil {
				s.log.ErrorContext(r.Context(), "panic in handler", "path", r.URL.Path, "panic", p)
				q.fault(vwire.New(vwire.MsgInternal), isAction)
			}
		}()
		if err := h(q); err != nil {
			q.fault(err, isAction)
		}
	})
}

// withFilter carries oVirt's "Filter: true" (header or ?filter=true) into
// the engine's context: the user-level view, only objects the caller has
// permissions on. Without it a user who is no administrator on the system
// gets that view anyway (the engine decides; see engine/authz.go).
func withFilter(r *http.Request) *http.Request {
	if strings.EqualFold(r.Header.Get("Filter"), "true") || strings.EqualFold(r.URL.Query().Get("filter"), "true") {
		return r.WithContext(engine.WithFilter(r.Context()))
	}
	return r
}
