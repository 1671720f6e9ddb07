// Package pki is vwire's certificate authority: the engine's CA, the
// engine's HTTPS server certificate, its client certificate towards hosts,
// and the hosts' certificates, all ECDSA P-256 from Go's crypto/x509.
//
// # Enrolment of a host
//
// Adding a host (POST /hosts) leaves it unenrolled; the administrator asks
// for a one-time enrolment token with POST /hosts/{id}/enrolmenttoken (an
// action; the answer carries <token> and <expiration>). The token is 32
// random bytes, stored only as its SHA-256, valid for one hour and for one
// use; asking again replaces it. On the host:
//
//	vwire-agent --enroll-url https://engine:8443 --enroll-token T --engine-ca ca.pem
//
// The agent makes its ECDSA key locally (it never leaves the host), sends a
// CSR to POST /ovirt-engine/services/host-enroll over TLS verified with the
// engine's CA, and gets back a certificate naming its host id (URI SAN
// urn:vwire:host:<id>) signed by the CA. It keeps key, certificate and CA
// in its state directory and from then on serves only mutual TLS: a client
// must present a certificate of the same CA naming urn:vwire:engine. The
// engine's client verifies the agent's chain and that its certificate names
// the very host it calls, so that one enrolled host cannot stand in for
// another. POST /hosts/{id}/enrollcertificate renews a host's certificate
// over the existing mutual TLS (the agent makes a new key and CSR, the
// engine signs, the agent swaps certificates without restarting).
package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Identities carried as URI SANs.
const (
	EngineURI     = "urn:vwire:engine"
	hostURIPrefix = "urn:vwire:host:"
)

// HostURI is the identity of a host in its certificate.
func HostURI(hostID string) string { return hostURIPrefix + hostID }

// Lifetimes.
const (
	caLifetime   = 10 * 365 * 24 * time.Hour
	leafLifetime = 398 * 24 * time.Hour
	// backdate absorbs clock skew between engine and hosts.
	backdate = 5 * time.Minute
)

// Files in the engine's data directory (below "pki").
const (
	CAFile        = "ca.pem"
	caKeyFile     = "ca.key"
	serverFile    = "server.pem"
	serverKeyFile = "server.key"
	clientFile    = "engine-client.pem"
	clientKeyFile = "engine-client.key"
)

// CA is the engine's certificate authority.
type CA struct {
	Cert *x509.Certificate
	key  crypto.Signer
	// PEM is the CA certificate as published (pki-resource).
	PEM []byte
}

// LoadOrCreateCA reads the CA of dir, or creates it (key readable by the
// owner only).
func LoadOrCreateCA(dir string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, caKeyFile)
	if _, err := os.Stat(certPath); err == nil {
		cert, key, err := loadPair(certPath, keyPath)
		if err != nil {
			return nil, fmt.Errorf("engine CA: %w", err)
		}
		return &CA{Cert: cert.Leaf, key: key, PEM: encodeCert(cert.Leaf.Raw)}, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ca, err := NewCA("vwire engine CA")
	if err != nil {
		return nil, err
	}
	if err := writePair(certPath, keyPath, ca.Cert.Raw, ca.key); err != nil {
		return nil, err
	}
	return ca, nil
}

// NewCA makes a CA in memory (tests, and LoadOrCreateCA).
func NewCA(name string) (*CA, error) {
	key, err := GenerateKey()
	if err != nil {
		return nil, err
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name + " " + serial.Text(16)[:8], Organization: []string{"vwire"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	return &CA{Cert: cert, key: key, PEM: encodeCert(der)}, nil
}

// Pool is a pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Fingerprint is the SHA-256 of the CA certificate, hex with colons.
func (ca *CA) Fingerprint() string { return Fingerprint(ca.Cert) }

// Fingerprint is the SHA-256 of a certificate, hex with colons.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// issue signs a leaf for pub.
func (ca *CA) issue(pub crypto.PublicKey, cn string, usage []x509.ExtKeyUsage, dns []string, ips []net.IP, uris []*url.URL, lifetime time.Duration) ([]byte, error) {
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"vwire"}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     now.Add(lifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  usage,
		DNSNames:     dns,
		IPAddresses:  ips,
		URIs:         uris,
	}
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	return x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.key)
}

// IssueServer makes a key and a TLS server certificate for names (host
// names or IP addresses; an empty or wildcard listen host gives none).
func (ca *CA) IssueServer(names []string) (tls.Certificate, error) {
	key, err := GenerateKey()
	if err != nil {
		return tls.Certificate{}, err
	}
	var dns []string
	var ips []net.IP
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			ips = append(ips, ip)
		} else if n != "" {
			dns = append(dns, n)
		}
	}
	cn := "vwire engine"
	if len(dns) > 0 {
		cn = dns[0]
	}
	der, err := ca.issue(key.Public(), cn, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, dns, ips, nil, leafLifetime)
	if err != nil {
		return tls.Certificate{}, err
	}
	return pair(der, key)
}

// IssueEngineClient makes the engine's client certificate towards hosts.
func (ca *CA) IssueEngineClient() (tls.Certificate, error) {
	key, err := GenerateKey()
	if err != nil {
		return tls.Certificate{}, err
	}
	u, _ := url.Parse(EngineURI)
	der, err := ca.issue(key.Public(), "vwire engine", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, nil, []*url.URL{u}, leafLifetime)
	if err != nil {
		return tls.Certificate{}, err
	}
	return pair(der, key)
}

// ErrBadCSR: a certificate request that does not parse or whose signature
// does not verify.
var ErrBadCSR = errors.New("bad certificate request")

// SignHost checks a host's CSR (PEM) and signs a server certificate naming
// only the host's id: whatever names the request asks for are ignored, the
// engine decides the identity. It returns the certificate as PEM.
func (ca *CA) SignHost(csrPEM []byte, hostID string) ([]byte, error) {
	b, _ := pem.Decode(csrPEM)
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		return nil, ErrBadCSR
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCSR, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCSR, err)
	}
	u, err := url.Parse(HostURI(hostID))
	if err != nil {
		return nil, err
	}
	der, err := ca.issue(csr.PublicKey, "vwire host "+hostID, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, nil, nil, []*url.URL{u}, leafLifetime)
	if err != nil {
		return nil, err
	}
	return encodeCert(der), nil
}

// EngineFiles loads or creates, in dir, the CA, the engine's HTTPS
// certificate (for names; re-issued when names change) and its client
// certificate towards hosts.
type EngineFiles struct {
	CA     *CA
	Server tls.Certificate
	Client tls.Certificate
}

// LoadOrCreateEngine is EngineFiles for dir.
func LoadOrCreateEngine(dir string, names []string) (*EngineFiles, error) {
	ca, err := LoadOrCreateCA(dir)
	if err != nil {
		return nil, err
	}
	f := &EngineFiles{CA: ca}
	if f.Server, err = leaf(ca, filepath.Join(dir, serverFile), filepath.Join(dir, serverKeyFile), func(c *x509.Certificate) bool {
		return covers(c, names)
	}, func() (tls.Certificate, error) { return ca.IssueServer(names) }); err != nil {
		return nil, err
	}
	if f.Client, err = leaf(ca, filepath.Join(dir, clientFile), filepath.Join(dir, clientKeyFile), func(*x509.Certificate) bool { return true },
		ca.IssueEngineClient); err != nil {
		return nil, err
	}
	return f, nil
}

// leaf loads a certificate of ca from its files when it still fits (ok),
// is not due for renewal and chains to ca; else it issues and stores one.
func leaf(ca *CA, certPath, keyPath string, ok func(*x509.Certificate) bool, make func() (tls.Certificate, error)) (tls.Certificate, error) {
	if c, _, err := loadPair(certPath, keyPath); err == nil && ok(c.Leaf) && time.Until(c.Leaf.NotAfter) > 30*24*time.Hour &&
		c.Leaf.CheckSignatureFrom(ca.Cert) == nil {
		return c, nil
	}
	c, err := make()
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writePair(certPath, keyPath, c.Certificate[0], c.PrivateKey.(crypto.Signer)); err != nil {
		return tls.Certificate{}, err
	}
	return c, nil
}

// covers tells whether c names every one of names.
func covers(c *x509.Certificate, names []string) bool {
	for _, n := range names {
		if n != "" && c.VerifyHostname(n) != nil {
			return false
		}
	}
	return true
}

// ListenNames are the names a server certificate needs for a listen
// address and the public names: the listen host unless it is a wildcard
// (then localhost and the loopback addresses, so that local clients verify).
func ListenNames(listen string, public []string) []string {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		host = listen
	}
	var names []string
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		names = append(names, "localhost", "127.0.0.1", "::1")
	} else {
		names = append(names, host)
	}
	for _, p := range public {
		for _, n := range strings.Split(p, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
	}
	return names
}

// CACertificate is the CA's certificate as PEM (engine.HostSigner).
func (ca *CA) CACertificate() []byte { return ca.PEM }
