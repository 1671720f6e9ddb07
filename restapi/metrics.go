package restapi

import (
	"net/http"
	"strings"

	"vwire.dev/vwire/engine"
)

// What the engine's metrics (package metrics, wired by app) need of the
// REST API: the route a request takes, the event stream's subscribers, and
// the API's authentication in front of /metrics. restapi imports no
// metrics library.

// Route is the pattern of the route r takes, as registered ("GET
// /vms/{id}", without /ovirt-engine/api; "POST /ovirt-engine/sso/oauth/token"
// for the paths outside it), never the raw path: a label of bounded
// cardinality. "" when no route takes it (answered 404 or 405).
func (s *Server) Route(r *http.Request) string {
	if m := versionPrefix.FindStringSubmatch(r.URL.Path); m != nil && m[1] == "4" {
		r = r.Clone(r.Context())
		r.URL.Path = apiRoot + strings.TrimPrefix(r.URL.Path, apiRoot+"/v4")
	}
	_, pattern := s.mux.Handler(r)
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		return pattern
	}
	if rest, ok := strings.CutPrefix(path, apiRoot); ok {
		path = rest
		if path == "" {
			path = "/"
		}
	}
	return method + " " + path
}

// Subscribers is the number of open event streams.
func (s *Server) Subscribers() int {
	h := s.eventHub()
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Protect serves h only to a caller who authenticates as the API's clients
// do (session cookie, bearer token or HTTP Basic) and may read the
// engine's metrics (engine.AuthorizeMetrics: CONFIGURE_ENGINE on the
// system). Refusals are the API's faults: 401 with WWW-Authenticate, 403.
func (s *Server) Protect(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := &request{w: w, r: r, json: wantsJSON(r), prefix: apiRoot}
		user, err := s.authenticate(w, r)
		if err != nil {
			q.fault(err, false)
			return
		}
		ctx := engine.WithPrincipal(r.Context(), engine.Principal{UserID: user.ID, Name: user.Name, Domain: user.Domain})
		if err := s.eng.AuthorizeMetrics(ctx); err != nil {
			q.fault(err, false)
			return
		}
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}
