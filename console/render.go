package console

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"vwire.dev/vwire"
)

// pageData is what every template gets.
type pageData struct {
	Title string
	// Nav is the section the page belongs to ("vms", "hosts"…).
	Nav     string
	User    string
	CSRF    string
	Assets  string
	Partial bool
	Data    any
}

// render executes a template into a buffer first, so that a template error
// is a clean 500 and never half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, name string, d *pageData) {
	if sess := sessionOf(r.Context()); sess != nil {
		d.User = sess.user.Name + "@" + sess.user.Domain
		d.CSRF = sess.csrf
	}
	d.Assets = s.assetVersion
	var b bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&b, name, d); err != nil {
		s.log.Error("console template", "template", name, "err", err)
		http.Error(w, "The page could not be rendered.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}

// message is an error as the console shows it: oVirt's text for the
// engine's errors (the REST API's fault detail, without its brackets).
func message(err error) string {
	var ve *vwire.Error
	if !errors.As(err, &ve) {
		return "Internal error: see the engine's log."
	}
	text := ve.Text()
	if ve.NIC != "" {
		text += " (vNIC " + ve.NIC + ")"
	}
	return text
}

// statusOf maps an engine error to the HTTP status the console answers with
// (the REST API's table, for the few the console needs).
func statusOf(err error) int {
	switch vwire.ErrorCode(err) {
	case vwire.EINVALID, vwire.EINCOMPLETE, vwire.EHOST:
		return http.StatusBadRequest
	case vwire.ECONFLICT:
		return http.StatusConflict
	case vwire.ENOTFOUND:
		return http.StatusNotFound
	case vwire.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case vwire.EFORBIDDEN:
		return http.StatusForbidden
	case vwire.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// fixFor says how an administrator gets past a refusal, where the console
// knows a way: the engine decides the refusal, this only words the fix.
var fixFor = map[vwire.MsgKey]string{
	vwire.MsgCannotPerformHotUpdate:                  "Set Card Status to Unplugged first (in this same dialog), or stop the VM.",
	vwire.MsgCannotPerformHotUpdateWithPortMirroring: "Raise the cluster's compatibility level to 4.8, or unplug the vNIC first.",
	vwire.MsgActivateDeactivateNetworkNotInVDS:       "Set the network up on the VM's host (Hosts → setup networks), or choose another.",
	vwire.MsgVMInterfaceTypeNotMatchProfile:          "Pick a profile that matches the interface type (PCI pass-through profiles take PCI pass-through vNICs only).",
	vwire.MsgUserNotAuthorized:                       "Ask an administrator for a role that grants it.",
	vwire.MsgHostOutcomeUnknown:                      "Wait: the engine settles it from the host within a poll interval.",
}

// fix is the fix of err, "" when the console knows none.
func fix(err error) string {
	var ve *vwire.Error
	if errors.As(err, &ve) {
		return fixFor[ve.Key]
	}
	return ""
}

func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "console request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	http.Error(w, "Internal error: see the engine's log.", http.StatusInternalServerError)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusNotFound, "notfound", &pageData{Title: "Not found"})
}

// fail answers a read's error: a page of its own for a missing or hidden
// object, a 500 for the rest.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	if code >= 500 {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, code, "error", &pageData{Title: http.StatusText(code), Data: message(err)})
}

func (s *Server) funcs() template.FuncMap {
	return template.FuncMap{
		"msg": message,
		"fix": fix,
		"ago": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			d := time.Since(t).Round(time.Second)
			switch {
			case d < time.Minute:
				return fmt.Sprintf("%ds ago", int(d.Seconds()))
			case d < time.Hour:
				return fmt.Sprintf("%dm ago", int(d.Minutes()))
			}
			return t.Local().Format("2006-01-02 15:04")
		},
		"clock": func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") },
		"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"upper": strings.ToUpper,
		"join":  strings.Join,
		"mib":   func(b int64) string { return fmt.Sprintf("%d MiB", b>>20) },
		// q escapes a query parameter inside an htmx URL attribute, which
		// html/template does not know as a URL.
		"q":          url.QueryEscape,
		"severities": func() []string { return severities },
	}
}
