package pki_test

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"vwire.dev/vwire/pki"
)

// TestSignHostNamesOnlyTheHost: whatever a CSR asks for, the certificate
// names the host id the engine enrols, for server use only.
func TestSignHostNamesOnlyTheHost(t *testing.T) {
	ca, err := pki.NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := pki.GenerateKey()
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "evil"},
		DNSNames: []string{"engine.example"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}}, key)
	csr := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	certPEM, err := ca.SignHost(csr, "h1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := pki.ParseCert(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.DNSNames) != 0 || len(c.IPAddresses) != 0 || len(c.URIs) != 1 || c.URIs[0].String() != pki.HostURI("h1") {
		t.Errorf("names: dns %v ip %v uri %v", c.DNSNames, c.IPAddresses, c.URIs)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("a host certificate is good for client authentication")
	}
	if _, err := ca.SignHost([]byte("not a csr"), "h1"); !errors.Is(err, pki.ErrBadCSR) {
		t.Errorf("garbage CSR: %v", err)
	}
	// A CSR whose signature does not match its key.
	block, _ := pem.Decode(csr)
	block.Bytes[len(block.Bytes)-3] ^= 0xff
	if _, err := ca.SignHost(pem.EncodeToMemory(block), "h1"); !errors.Is(err, pki.ErrBadCSR) {
		t.Errorf("forged CSR: %v", err)
	}
}

// TestEngineFilesPersist: the CA is made once and kept; the server
// certificate is re-issued when the names change, and covers them.
func TestEngineFilesPersist(t *testing.T) {
	dir := t.TempDir()
	f1, err := pki.LoadOrCreateEngine(dir, pki.ListenNames("0.0.0.0:8443", []string{"engine.example,10.1.2.3"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"localhost", "127.0.0.1", "engine.example", "10.1.2.3"} {
		if err := f1.Server.Leaf.VerifyHostname(n); err != nil {
			t.Errorf("server certificate does not cover %s: %v", n, err)
		}
	}
	if st, _ := os.Stat(filepath.Join(dir, "ca.key")); st.Mode().Perm() != 0o600 {
		t.Errorf("CA key mode %v", st.Mode())
	}
	f2, err := pki.LoadOrCreateEngine(dir, pki.ListenNames("0.0.0.0:8443", []string{"engine.example,10.1.2.3"}))
	if err != nil {
		t.Fatal(err)
	}
	if !f2.CA.Cert.Equal(f1.CA.Cert) || !f2.Server.Leaf.Equal(f1.Server.Leaf) {
		t.Error("a second start made new certificates")
	}
	f3, err := pki.LoadOrCreateEngine(dir, []string{"other.example"})
	if err != nil {
		t.Fatal(err)
	}
	if !f3.CA.Cert.Equal(f1.CA.Cert) || f3.Server.Leaf.VerifyHostname("other.example") != nil {
		t.Error("new names: the CA must stay, the server certificate must cover them")
	}
	if _, err := f3.Client.Leaf.Verify(x509.VerifyOptions{Roots: f3.CA.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("engine client certificate: %v", err)
	}
	if cfg := pki.ServerConfig(f3.Server); cfg.MinVersion < tls.VersionTLS12 {
		t.Error("server allows TLS below 1.2")
	}
}
