package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Files in an agent's state directory (below "pki").
const (
	agentCertFile = "agent.pem"
	agentKeyFile  = "agent.key"
	agentCAFile   = "engine-ca.pem"
)

// EnrollPath is the engine's enrolment endpoint (unauthenticated: the
// token is the credential).
const EnrollPath = "/ovirt-engine/services/host-enroll"

// EnrollRequest is what an agent posts to EnrollPath.
type EnrollRequest struct {
	Token string `json:"token"`
	CSR   string `json:"csr"`
}

// EnrollAnswer is the engine's answer.
type EnrollAnswer struct {
	HostID      string `json:"host_id"`
	Certificate string `json:"certificate"`
	CA          string `json:"ca"`
}

// EnrollError is the engine's refusal of an enrolment (an unknown, used
// or expired token, a malformed request): its HTTP status and answer.
type EnrollError struct {
	Status int
	Answer string
}

func (e *EnrollError) Error() string {
	return fmt.Sprintf("enrol: the engine refused (HTTP %d): %s", e.Status, e.Answer)
}

// AgentIdentity is an enrolled agent's key, certificate and the engine's
// CA, kept in its state directory. Its certificate can be swapped while the
// agent serves (renewal).
type AgentIdentity struct {
	dir string

	mu      sync.Mutex
	cert    *tls.Certificate
	ca      *x509.CertPool
	caPEM   []byte
	pending crypto.Signer // the key of a renewal's CSR, until installed
}

// ErrNotEnrolled: the state directory holds no identity.
var ErrNotEnrolled = errors.New("agent not enrolled")

// LoadAgent reads the identity of stateDir; ErrNotEnrolled when there is none.
func LoadAgent(stateDir string) (*AgentIdentity, error) {
	dir := filepath.Join(stateDir, "pki")
	if _, err := os.Stat(filepath.Join(dir, agentCertFile)); errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotEnrolled
	}
	c, err := LoadPair(filepath.Join(dir, agentCertFile), filepath.Join(dir, agentKeyFile))
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, agentCAFile))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%s: no certificate", agentCAFile)
	}
	return &AgentIdentity{dir: dir, cert: &c, ca: pool, caPEM: caPEM}, nil
}

// Enroll makes the agent's key, sends its CSR with token to the engine at
// enrollURL over TLS verified with engineCA, and stores the identity in
// stateDir.
func Enroll(ctx context.Context, stateDir, enrollURL, token string, engineCA *x509.CertPool) (*AgentIdentity, error) {
	if !strings.HasPrefix(enrollURL, "https://") {
		return nil, errors.New("enrolment needs an https:// URL (the engine is verified with its CA)")
	}
	if !strings.Contains(enrollURL, EnrollPath) {
		enrollURL = strings.TrimRight(enrollURL, "/") + EnrollPath
	}
	key, err := GenerateKey()
	if err != nil {
		return nil, err
	}
	csr, err := CSR(key)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(EnrollRequest{Token: token, CSR: string(csr)})
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: engineCA}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, enrollURL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("enrol: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, &EnrollError{Status: resp.StatusCode, Answer: strings.TrimSpace(string(data))}
	}
	var a EnrollAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("enrol: bad answer: %w", err)
	}
	c, err := Pair([]byte(a.Certificate), key)
	if err != nil {
		return nil, fmt.Errorf("enrol: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(a.CA)) {
		return nil, errors.New("enrol: the answer has no CA")
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return nil, fmt.Errorf("enrol: the certificate does not chain to the CA: %w", err)
	}
	id := &AgentIdentity{dir: filepath.Join(stateDir, "pki"), cert: &c, ca: pool, caPEM: []byte(a.CA)}
	if err := WriteFile(filepath.Join(id.dir, agentCAFile), id.caPEM, 0o644); err != nil {
		return nil, err
	}
	if err := writePair(filepath.Join(id.dir, agentCertFile), filepath.Join(id.dir, agentKeyFile), c.Certificate[0], key); err != nil {
		return nil, err
	}
	return id, nil
}

// Certificate is the certificate served now.
func (a *AgentIdentity) Certificate() *tls.Certificate {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cert
}

// HostID is the host id the certificate names.
func (a *AgentIdentity) HostID() string {
	for _, u := range a.Certificate().Leaf.URIs {
		if s := u.String(); strings.HasPrefix(s, hostURIPrefix) {
			return strings.TrimPrefix(s, hostURIPrefix)
		}
	}
	return ""
}

// ServerConfig is the agent's mutual TLS.
func (a *AgentIdentity) ServerConfig() *tls.Config { return AgentServerConfig(a.ca, a.Certificate) }

// Request makes a new key (kept until Install) and returns its CSR.
func (a *AgentIdentity) Request() ([]byte, error) {
	key, err := GenerateKey()
	if err != nil {
		return nil, err
	}
	csr, err := CSR(key)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.pending = key
	a.mu.Unlock()
	return csr, nil
}

// Install takes the certificate signed for the last Request's key: it must
// chain to the engine's CA and name the same host; then it is stored and
// served to the next connections (open ones keep theirs).
func (a *AgentIdentity) Install(certPEM []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pending == nil {
		return errors.New("no certificate request pending")
	}
	c, err := Pair(certPEM, a.pending)
	if err != nil {
		return err
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: a.ca, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return err
	}
	if !sameURIs(c.Leaf, a.cert.Leaf) {
		return fmt.Errorf("%w: the new certificate names another host", ErrIdentity)
	}
	if err := writePair(filepath.Join(a.dir, agentCertFile), filepath.Join(a.dir, agentKeyFile), c.Certificate[0], a.pending); err != nil {
		return err
	}
	a.cert, a.pending = &c, nil
	return nil
}

func sameURIs(a, b *x509.Certificate) bool {
	if len(a.URIs) != len(b.URIs) {
		return false
	}
	for i := range a.URIs {
		if a.URIs[i].String() != b.URIs[i].String() {
			return false
		}
	}
	return true
}

// PKIResourcePath is where the engine publishes its CA (oVirt's URL).
const PKIResourcePath = "/ovirt-engine/services/pki-resource?resource=ca-certificate&format=X509-PEM-CA"

// ErrFingerprint: the CA the engine served is not the one the
// administrator named.
var ErrFingerprint = errors.New("the engine's CA does not have the expected fingerprint")

// FetchCA is trust on first use made safe by a fingerprint: it fetches the
// engine's CA from its pki-resource without verifying the connection, and
// accepts it only if its SHA-256 fingerprint is want (as the engine prints
// it; colons and case do not matter).
func FetchCA(ctx context.Context, engineURL, want string) (*x509.CertPool, error) {
	base := strings.TrimRight(engineURL, "/")
	if i := strings.Index(base, "/ovirt-engine"); i >= 0 {
		base = base[:i]
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		// Not verified here: the fingerprint below is the check.
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+PKIResourcePath, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch the engine's CA: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch the engine's CA: HTTP %d", resp.StatusCode)
	}
	ca, err := ParseCert(data)
	if err != nil {
		return nil, err
	}
	norm := func(s string) string { return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), ":", "")) }
	if norm(Fingerprint(ca)) != norm(want) {
		return nil, fmt.Errorf("%w: got %s", ErrFingerprint, Fingerprint(ca))
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, nil
}
