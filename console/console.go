// Package console is vwire's web console: the administrator's daily view of
// VMs and their vNICs (the VM list, a VM's Network Interfaces tab, the Edit
// Network Interface dialog, hosts, networks and profiles, events), served by
// the engine at / next to the REST API.
//
// # Technology, and why
//
// Server-rendered Go templates (html/template, embedded with go:embed) with
// htmx 2 (htmx.org on npm, one 52 KB file, pinned in web/package.json and
// copied into static/ by go generate, so no Node step at run time) and a
// page of our own JavaScript (static/console.js: the live stream, dialogs,
// themes). Every view is HTML the engine renders from the same engine
// queries and permission checks the REST API uses, so the console cannot
// show what a user may not see nor offer what the engine would refuse:
// which fields of a plugged vNIC can change live comes from
// engine.NICForm, which runs the update's own rules. A TypeScript front end
// on PatternFly would look more like oVirt's portal, at the cost of a build
// chain, an API client duplicating the rules, and about 1 MB shipped;
// htmx keeps the whole console under 100 KB and the rules in one place.
//
// # Security
//
// The console authenticates as the SSO endpoint does (engine.Authenticate,
// with its login throttle) and keeps an engine session (engine.IssueSession,
// ended by the engine's idle and absolute timeouts) in a cookie that is
// HttpOnly, SameSite=Strict and Secure. Every change is a POST that must
// carry the session's CSRF token (an HMAC of the session, compared in
// constant time) and pass net/http's CrossOriginProtection (Sec-Fetch-Site
// and Origin). Pages are served with a Content-Security-Policy that allows
// scripts and styles from the engine only (no inline script, no eval).
//
// # Live
//
// GET /live is a server-sent-event stream that says "changed" whenever an
// audit event was committed by any engine sharing the database
// (engine.WatchEvents): every change of a VM or vNIC, by a user, the CLI, or
// the poller finding drift, writes one. The page then re-reads the regions
// it shows, through the same queries, so nothing the user may not see ever
// travels on the stream.
package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzhttp"

	"vwire.dev/vwire/engine"
)

//go:generate go run web/copyassets.go

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure the console; zero values take the defaults.
type Options struct {
	// MaxStreams bounds the open live streams (default 256); one more is
	// answered 503 and the page falls back to refreshing every 10 s.
	MaxStreams int
	// SessionIdle is the idle time of a console session (default: the
	// engine's).
	SessionIdle time.Duration
}

// Server is the web console.
type Server struct {
	eng  *engine.Engine
	log  *slog.Logger
	mux  *http.ServeMux
	tmpl *template.Template
	opt  Options
	// csrfKey signs sessions into their CSRF tokens; new at each start,
	// so a token outlives neither its session nor the process.
	csrfKey []byte
	cop     *http.CrossOriginProtection
	// assetVersion is a digest of the static files, in their URLs, so that
	// they can be cached for a year and never served stale.
	assetVersion string

	streamsMu sync.Mutex
	streams   int
	// closing ends the live streams (CloseStreams) at shutdown.
	closing   chan struct{}
	closeOnce sync.Once
	// gz serves everything but the live stream gzipped to browsers that
	// take it (a list of 1,000 VMs is ~400 KB of HTML, ~25 KB gzipped).
	gz http.Handler
}

// New returns the console of an engine.
func New(eng *engine.Engine, log *slog.Logger, o Options) *Server {
	if log == nil {
		log = slog.Default()
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = 256
	}
	s := &Server{eng: eng, log: log, mux: http.NewServeMux(), opt: o, cop: http.NewCrossOriginProtection(), closing: make(chan struct{})}
	s.csrfKey = make([]byte, 32)
	rand.Read(s.csrfKey)
	s.assetVersion = digestStatic()
	s.tmpl = template.Must(template.New("").Funcs(s.funcs()).ParseFS(templateFS, "templates/*.html"))
	s.routes()
	s.gz = gzhttp.GzipHandler(s.mux)
	return s
}

// CloseStreams ends every live stream (the pages reconnect by themselves):
// the engine's http.Server calls it when it shuts down, which would
// otherwise wait on them until its deadline.
func (s *Server) CloseStreams() { s.closeOnce.Do(func() { close(s.closing) }) }

// Paths the console serves; everything else at / is left to the REST API.
var consolePrefixes = []string{"/login", "/logout", "/static/", "/live", "/vms", "/hosts", "/networks", "/events"}

// Owns tells whether the console serves path (the engine's mux sends it
// the rest of /).
func Owns(path string) bool {
	if path == "/" {
		return true
	}
	for _, p := range consolePrefixes {
		if path == strings.TrimSuffix(p, "/") || strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/vms", http.StatusSeeOther) })
	s.mux.HandleFunc("GET /static/{file}", s.static)
	s.mux.HandleFunc("GET /login", s.loginPage)
	s.mux.HandleFunc("POST /login", s.login)
	s.page("POST /logout", s.logout)
	s.page("GET /live", s.live)

	s.page("GET /vms", s.vmsPage)
	s.page("GET /vms/new", s.newVMDialog)
	s.page("POST /vms", s.addVM)
	s.page("GET /vms/{id}", s.vmPage)
	s.page("POST /vms/{id}/start", s.startVM)
	s.page("POST /vms/{id}/stop", s.stopVM)
	s.page("GET /vms/{id}/nics/new", s.newNICDialog)
	s.page("POST /vms/{id}/nics", s.addNIC)
	s.page("GET /vms/{id}/nics/{nic}/edit", s.editNICDialog)
	s.page("POST /vms/{id}/nics/{nic}", s.updateNIC)
	s.page("POST /vms/{id}/nics/{nic}/link", s.quickNIC)
	s.page("POST /vms/{id}/nics/{nic}/card", s.quickNIC)
	s.page("POST /vms/{id}/nics/{nic}/remove", s.removeNIC)

	s.page("GET /hosts", s.hostsPage)
	s.page("GET /networks", s.networksPage)
	s.page("GET /events", s.eventsPage)
}

// ServeHTTP serves the console with its security headers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	if _, pattern := s.mux.Handler(r); pattern == "" {
		var allowed []string
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, p := s.mux.Handler(probe); p != "" {
				allowed = append(allowed, m)
			}
		}
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			http.Error(w, "Method not allowed here: use "+strings.Join(allowed, " or ")+".", http.StatusMethodNotAllowed)
			return
		}
		s.notFound(w, r)
		return
	}
	if r.URL.Path == "/live" {
		s.mux.ServeHTTP(w, r)
		return
	}
	s.gz.ServeHTTP(w, r)
}

// csrfToken is the session's CSRF token: an HMAC of its cookie value.
func (s *Server) csrfToken(session string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte(session))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Server) validCSRF(session, token string) bool {
	want := s.csrfToken(session)
	return len(token) == len(want) && hmac.Equal([]byte(token), []byte(want))
}

// digestStatic is a short digest of the embedded static files.
func digestStatic() string {
	h := sha256.New()
	fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := staticFS.ReadFile(p)
			h.Write([]byte(p))
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	switch {
	case strings.HasSuffix(name, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".svg"):
		w.Header().Set("Content-Type", "image/svg+xml")
	}
	if r.URL.Query().Get("v") == s.assetVersion {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, name, time.Time{}, strings.NewReader(string(b)))
}

// Route is the pattern of the console's route r takes ("GET /vms/{id}"),
// never the raw path, for the engine's metrics; "" when none takes it.
func (s *Server) Route(r *http.Request) string {
	_, pattern := s.mux.Handler(r)
	return pattern
}

// LiveStreams is the number of open live streams (/live), for metrics.
func (s *Server) LiveStreams() int {
	s.streamsMu.Lock()
	defer s.streamsMu.Unlock()
	return s.streams
}
