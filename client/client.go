// Package client is the one REST client of a vwire (or oVirt) engine that
// vwire's own programs use: the command-line client, the benchmark and the
// end-to-end tests. It speaks oVirt's REST v4 API in XML with oVirt's Go
// SDK (github.com/ovirt/go-ovirt): the SDK's types, builders and XML
// readers and writers, so that what vwire's programs send and read is what
// an oVirt script sends and reads.
//
// It does not send through the SDK's Connection, for three reasons found
// against vwire (the SDK's own services are still there: see SDK):
//
//   - the Connection closes its TCP connection after every request
//     (DisableKeepAlives), which the benchmark would measure and which
//     exhausts ephemeral ports under 64 concurrent clients;
//   - it turns a fault of any status but 401, 403, 404 and 409 into an
//     untyped error whose reason and detail are only in its text, so a
//     caller cannot tell a 400 from a 500 or show the fault's detail alone;
//   - it cannot parse the fault of a DELETE (it expects an action) nor a
//     text/plain 404 (issue 14).
//
// This package sends the SDK's XML itself over a keep-alive HTTP client and
// reads every fault into a *Fault (status, reason, detail), which unwraps to
// the SDK's typed error (*ovirtsdk4.NotFoundError, *ovirtsdk4.ConflictError,
// *ovirtsdk4.AuthError) so that callers may use errors.As on either.
//
// What the SDK's types cannot express at all, vwire's extensions to oVirt's
// API (a vNIC's reported_state, a cluster's drift_policy, a profile's
// guest_notification, the audit event stream), is read and written here
// with small typed structs (extensions.go, events.go).
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
)

// Options say how to reach an engine.
type Options struct {
	URL      string // the API root, e.g. http://127.0.0.1:8080/ovirt-engine/api
	User     string // e.g. admin@internal
	Password string
	// Token, if set, is an SSO token (see Login) sent as a bearer token
	// instead of User and Password.
	Token string
	// Timeout bounds each request (0: none); a request's context may end
	// it sooner.
	Timeout time.Duration
	// TLS configures https; CAFile, if set, adds its certificates to the
	// trusted roots of TLS (or of a new configuration).
	TLS    *tls.Config
	CAFile string
	// HTTPClient, if set, is used as is, instead of one made from Timeout
	// and TLS (tests use it to disconnect mid-request).
	HTTPClient *http.Client
	// MaxConns bounds the idle connections kept to the engine (default 64),
	// so that as many concurrent callers reuse theirs.
	MaxConns int
}

// Client is a client of one engine; it is safe for concurrent use.
type Client struct {
	opts Options
	base string
	hc   *http.Client
}

// New returns a client of the engine at o.URL; it does not contact it.
func New(o Options) (*Client, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("engine URL %q: want http(s)://host[:port]/ovirt-engine/api", o.URL)
	}
	c := &Client{opts: o, base: strings.TrimRight(o.URL, "/"), hc: o.HTTPClient}
	if c.hc == nil {
		cfg := o.TLS
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, err
			}
			if cfg == nil {
				cfg = &tls.Config{}
			} else {
				cfg = cfg.Clone()
			}
			if cfg.RootCAs == nil {
				cfg.RootCAs = x509.NewCertPool()
			}
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%s: no PEM certificate", o.CAFile)
			}
		}
		conns := o.MaxConns
		if conns <= 0 {
			conns = 64
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = cfg
		tr.MaxIdleConnsPerHost = conns
		tr.MaxIdleConns = conns
		c.hc = &http.Client{Transport: tr, Timeout: o.Timeout}
	}
	return c, nil
}

// URL is the engine's API root.
func (c *Client) URL() string { return c.base }

// SDK returns a connection of oVirt's Go SDK to the same engine, for the
// services this package does not wrap. It authenticates with an SSO token
// on its first request and must be closed.
func (c *Client) SDK() (*ovirtsdk4.Connection, error) {
	b := ovirtsdk4.NewConnectionBuilder().URL(c.base).Username(c.opts.User).Password(c.opts.Password).
		Timeout(c.opts.Timeout)
	if c.opts.TLS != nil {
		b = b.TLSConfig(c.opts.TLS)
	}
	if c.opts.CAFile != "" {
		b = b.CAFile(c.opts.CAFile)
	}
	return b.Build()
}

// Fault is the engine's refusal of a request: its HTTP status and oVirt's
// fault (reason and detail), or the text of a non-XML answer as detail.
type Fault struct {
	Method, Path string
	Status       int
	Reason       string
	Detail       string
}

// Error is the detail (oVirt writes it in brackets) and the status, as a
// user reads it: "Cannot edit Interface. … (HTTP 409)".
func (f *Fault) Error() string {
	d := strings.TrimSuffix(strings.TrimPrefix(f.Detail, "["), "]")
	if d == "" {
		d = f.Reason
	}
	if d == "" {
		d = http.StatusText(f.Status)
	}
	return fmt.Sprintf("%s (HTTP %d)", d, f.Status)
}

// Unwrap gives the SDK's typed error of the status, as its Connection
// would have returned it, so that errors.As(err, &*ovirtsdk4.NotFoundError)
// holds for a 404.
func (f *Fault) Unwrap() error {
	switch f.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		e := &ovirtsdk4.AuthError{}
		e.Code, e.Msg = f.Status, f.Error()
		return e
	case http.StatusNotFound:
		e := &ovirtsdk4.NotFoundError{}
		e.Code, e.Msg = f.Status, f.Error()
		return e
	case http.StatusConflict:
		e := &ovirtsdk4.ConflictError{}
		e.Code, e.Msg = f.Status, f.Error()
		return e
	}
	return nil
}

// Status is the HTTP status of err's fault; 0 if the engine did not answer
// (or err is nil or not a fault).
func Status(err error) int {
	if f, ok := errors.AsType[*Fault](err); ok {
		return f.Status
	}
	return 0
}

// IsNotFound says whether the engine answered 404.
func IsNotFound(err error) bool {
	_, ok := errors.AsType[*ovirtsdk4.NotFoundError](err)
	return ok
}

// call sends one request with an XML body (nil: none) and returns the body
// of a 2xx answer; any other answer is a *Fault.
func (c *Client) call(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	return c.send(ctx, method, path, body, "application/xml")
}

func (c *Client) send(ctx context.Context, method, path string, body []byte, accept string) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	c.header(req, accept)
	if body != nil {
		req.Header.Set("Content-Type", "application/xml")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the engine at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return nil, parseFault(method, path, resp.StatusCode, data)
	}
	return data, nil
}

// header authenticates with the SSO token if the client has one, else
// with HTTP Basic, which oVirt's API accepts as well and which costs no
// token request.
func (c *Client) header(req *http.Request, accept string) {
	if c.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.opts.Token)
	} else {
		req.SetBasicAuth(c.opts.User, c.opts.Password)
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("Version", "4")
}

// parseFault reads a refusal: oVirt's <fault>, an <action> carrying one
// (an action's answer), or, from an answer that is not XML (a text/plain
// 404 of an unknown path), its text. The SDK's CheckFault fails on the
// last two (issue 14); this does not.
func parseFault(method, path string, status int, data []byte) *Fault {
	f := &Fault{Method: method, Path: path, Status: status}
	trimmed := bytes.TrimSpace(data)
	if !bytes.HasPrefix(trimmed, []byte("<")) {
		f.Detail = string(trimmed)
		return f
	}
	var fault *ovirtsdk4.Fault
	switch rootElement(trimmed) {
	case "action":
		if a, err := ovirtsdk4.XMLActionReadOne(ovirtsdk4.NewXMLReader(trimmed), nil, ""); err == nil {
			fault, _ = a.Fault()
		}
	case "fault":
		if x, err := ovirtsdk4.XMLFaultReadOne(ovirtsdk4.NewXMLReader(trimmed), nil, ""); err == nil {
			fault = x
		}
	}
	if fault == nil {
		f.Detail = string(trimmed)
		return f
	}
	f.Reason, _ = fault.Reason()
	f.Detail, _ = fault.Detail()
	return f
}

// rootElement is the name of an XML document's root element ("" if none).
func rootElement(data []byte) string {
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name.Local
		}
	}
}

// encode writes v as XML with one of the SDK's writers.
func encode[T any](write func(*ovirtsdk4.XMLWriter, T, string) error, v T) ([]byte, error) {
	var b bytes.Buffer
	w := ovirtsdk4.NewXMLWriter(&b)
	if err := write(w, v, ""); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// decode reads an answer with one of the SDK's readers.
func decode[T any](data []byte, read func(*ovirtsdk4.XMLReader, *xml.StartElement, string) (T, error)) (T, error) {
	v, err := read(ovirtsdk4.NewXMLReader(data), nil, "")
	if err != nil {
		var zero T
		return zero, fmt.Errorf("reading the engine's answer: %w", err)
	}
	return v, nil
}

// decodeMany reads a collection with one of the SDK's readers.
func decodeMany[S any](data []byte, read func(*ovirtsdk4.XMLReader, *xml.StartElement) (S, error)) (S, error) {
	v, err := read(ovirtsdk4.NewXMLReader(data), nil)
	if err != nil {
		var zero S
		return zero, fmt.Errorf("reading the engine's answer: %w", err)
	}
	return v, nil
}

// esc escapes an id or name as one path segment.
func esc(s string) string { return url.PathEscape(s) }

// xmlStart is the start element the SDK's readers take (nil: the root).
type xmlStart = xml.StartElement
