package pki

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
)

// ErrIdentity: a peer's certificate chains to the CA but names someone
// else (another host, or not the engine).
var ErrIdentity = errors.New("peer certificate names another identity")

// verify checks a peer's chain against roots for usage and that its leaf
// carries the URI want.
func verify(rawCerts [][]byte, roots *x509.CertPool, usage x509.ExtKeyUsage, want string) error {
	if len(rawCerts) == 0 {
		return errors.New("peer presented no certificate")
	}
	certs := make([]*x509.Certificate, len(rawCerts))
	for i, raw := range rawCerts {
		c, err := x509.ParseCertificate(raw)
		if err != nil {
			return err
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return err
	}
	if !slices.ContainsFunc(certs[0].URIs, func(u *url.URL) bool { return u.String() == want }) {
		return fmt.Errorf("%w: want %s", ErrIdentity, want)
	}
	return nil
}

// AgentServerConfig is an enrolled agent's TLS: its certificate from get
// (swapped on renewal without a restart), and only clients whose
// certificate the engine's CA signed for the engine's identity.
func AgentServerConfig(ca *x509.CertPool, get func() *tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return get(), nil
		},
		ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs:  ca,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verify(raw, ca, x509.ExtKeyUsageClientAuth, EngineURI)
		},
	}
}

// EngineClientConfig is the engine's TLS towards host hostID: its client
// certificate, and a server chain of the engine's CA naming that host.
// Host names are not checked (hosts are reached by whatever address the
// administrator gave); the host id in the certificate is what counts.
func EngineClientConfig(ca *x509.CertPool, client tls.Certificate, hostID string) *tls.Config {
	want := HostURI(hostID)
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{client},
		// The standard verification wants a DNS or IP name; VerifyPeerCertificate
		// below does the whole chain check instead, with the host id.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verify(raw, ca, x509.ExtKeyUsageServerAuth, want)
		},
	}
}

// ServerConfig is the engine's HTTPS.
func ServerConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
}

// NewToken makes a random token of an enrolment token's form and its
// SHA-256 (the engine makes its own the same way, engine.EnrolmentToken).
func NewToken() (token string, hash []byte, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token), nil
}

// HashToken is how a token is stored and looked up.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
