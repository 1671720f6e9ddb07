package client

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Session is an SSO token of the engine, as oVirt's
// /ovirt-engine/sso/oauth/token gives it.
type Session struct {
	Token string
	// Expires is when the engine ends the token at the latest; it ends
	// sooner when left unused longer than the engine's idle timeout.
	Expires time.Time
}

// engineBase is the engine's root (scheme://host[:port]) of an API URL.
func engineBase(apiURL string) string {
	base := strings.TrimRight(apiURL, "/")
	if i := strings.Index(base, "/ovirt-engine"); i >= 0 {
		base = base[:i]
	}
	return base
}

// Login trades the client's user and password for an SSO token (oVirt's
// password grant, scope ovirt-app-api). A refusal is a *Fault with the
// SSO's error text as detail.
func (c *Client) Login(ctx context.Context) (*Session, error) {
	form := url.Values{"grant_type": {"password"}, "scope": {"ovirt-app-api"},
		"username": {c.opts.User}, "password": {c.opts.Password}}
	var ans struct {
		Token string `json:"access_token"`
		Exp   string `json:"exp"`
		Error string `json:"error"`
	}
	status, err := c.ssoPost(ctx, "/ovirt-engine/sso/oauth/token", form, &ans)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK || ans.Token == "" {
		return nil, &Fault{Method: http.MethodPost, Path: "/ovirt-engine/sso/oauth/token", Status: status,
			Reason: "Login failed", Detail: ans.Error}
	}
	s := &Session{Token: ans.Token}
	if ms, err := strconv.ParseInt(ans.Exp, 10, 64); err == nil {
		s.Expires = time.UnixMilli(ms)
	}
	return s, nil
}

// Logout ends the client's token (oVirt's /services/sso-logout); ending an
// already ended token is not an error.
func (c *Client) Logout(ctx context.Context) error {
	if c.opts.Token == "" {
		return nil
	}
	status, err := c.ssoPost(ctx, "/ovirt-engine/services/sso-logout", url.Values{"token": {c.opts.Token}}, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return &Fault{Method: http.MethodPost, Path: "/ovirt-engine/services/sso-logout", Status: status}
	}
	return nil
}

// ssoPost posts a form to one of the engine's SSO endpoints and reads its
// JSON answer into ans (if not nil), whatever the status.
func (c *Client) ssoPost(ctx context.Context, path string, form url.Values, ans any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, engineBase(c.base)+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("cannot reach the engine at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, fmt.Errorf("POST %s: reading the answer: %w", path, err)
	}
	if ans != nil && len(data) > 0 {
		if err := json.Unmarshal(data, ans); err != nil && resp.StatusCode == http.StatusOK {
			return 0, fmt.Errorf("POST %s: reading the answer: %w", path, err)
		}
	}
	return resp.StatusCode, nil
}

// PKIResourcePath is where an oVirt engine, and vwire's, publishes its CA.
const PKIResourcePath = "/ovirt-engine/services/pki-resource?resource=ca-certificate&format=X509-PEM-CA"

// FirstContact is what trust on first use learns of an engine before
// trusting it: the CA it publishes, and whether the certificate it
// presented chains to that CA for the name in the URL.
type FirstContact struct {
	CA  *x509.Certificate
	PEM []byte
	// Fingerprint is the CA's SHA-256, hex pairs with colons, as the
	// engine prints it at start and openssl x509 -fingerprint -sha256 shows it.
	Fingerprint string
}

// ErrNotSignedByCA: the engine's certificate does not chain to the CA it
// publishes for the name dialled, so the CA proves nothing about it.
var ErrNotSignedByCA = errors.New("the engine's certificate is not signed by the CA it publishes")

// FetchCA fetches the CA an engine publishes at its pki-resource, without
// verifying the connection (the caller has nothing to verify it with yet),
// and checks that the certificate the engine presented on that same
// connection is signed by that CA for the URL's host name. Whether to trust
// the CA is then the caller's decision, on its fingerprint (see
// SameFingerprint); FetchCA proves only that it is the engine's own.
func FetchCA(ctx context.Context, apiURL string, timeout time.Duration) (*FirstContact, error) {
	u, err := url.Parse(apiURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("engine URL %q: trust on first use needs https://host[:port]", apiURL)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12,
		// Nothing to verify with yet: the check is below, on this connection.
		InsecureSkipVerify: true}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: timeout}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, engineBase(apiURL)+PKIResourcePath, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch the engine's CA: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("fetch the engine's CA: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch the engine's CA: HTTP %d from %s", resp.StatusCode, PKIResourcePath)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("fetch the engine's CA: the answer is not a PEM certificate")
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("fetch the engine's CA: %w", err)
	}
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		return nil, errors.New("fetch the engine's CA: no TLS certificate presented")
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	inter := x509.NewCertPool()
	for _, c := range resp.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := resp.TLS.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: u.Hostname(), Roots: pool,
		Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotSignedByCA, err)
	}
	return &FirstContact{CA: ca, PEM: pem.EncodeToMemory(block), Fingerprint: Fingerprint(ca)}, nil
}

// Fingerprint is a certificate's SHA-256, upper-case hex pairs with colons.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	pairs := make([]string, 0, len(sum))
	for i := 0; i < len(h); i += 2 {
		pairs = append(pairs, h[i:i+2])
	}
	return strings.Join(pairs, ":")
}

// SameFingerprint compares two SHA-256 fingerprints as people copy them:
// colons, spaces, case and a "SHA256:"-style prefix do not matter.
func SameFingerprint(a, b string) bool {
	norm := func(s string) string {
		s = strings.ToUpper(strings.TrimSpace(s))
		if i := strings.LastIndex(s, "="); i >= 0 { // openssl's "sha256 Fingerprint=…"
			s = s[i+1:]
		}
		s = strings.TrimPrefix(strings.TrimPrefix(s, "SHA256:"), "SHA-256:")
		return strings.NewReplacer(":", "", " ", "").Replace(s)
	}
	na := norm(a)
	return len(na) == 64 && na == norm(b)
}
