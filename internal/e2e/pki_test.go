package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/client"
	"vwire.dev/vwire/pki"
)

// Deployments under test are secure as in production (issue 13): the
// engine serves HTTPS with its own CA, hosts are enrolled with a one-time
// token and reached over mutual TLS. The test binary's default HTTP
// transport, which the typed clients of the tests use (newAPI), verifies
// engines against the CAs of the deployments made so far (trusted), by
// chain and host name.

var trusted struct {
	sync.Mutex
	pool *x509.CertPool
}

// trustCA adds an engine's CA (its PEM file) to what the test's clients
// verify engines with.
func trustCA(t *testing.T, caFile string) {
	t.Helper()
	data, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	trusted.Lock()
	defer trusted.Unlock()
	if trusted.pool == nil {
		trusted.pool = x509.NewCertPool()
	}
	if !trusted.pool.AppendCertsFromPEM(data) {
		t.Fatalf("%s: no certificate", caFile)
	}
}

func trustedPool() *x509.CertPool {
	trusted.Lock()
	defer trusted.Unlock()
	if trusted.pool == nil {
		return x509.NewCertPool()
	}
	return trusted.pool.Clone()
}

func init() {
	// The standard verification, against a pool that grows with each
	// deployment (a tls.Config's RootCAs cannot change once in use).
	http.DefaultTransport.(*http.Transport).TLSClientConfig = &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no server certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: trustedPool(), Intermediates: inter, DNSName: cs.ServerName})
			return err
		},
	}
}

// enrolmentToken asks the engine for a host's one-time enrolment token.
func enrolmentToken(a *api, hostID string) string {
	a.t.Helper()
	tok := expect(a, 200, "enrolment token of host "+hostID, func(ctx context.Context) (*client.EnrolmentToken, error) {
		return a.HostEnrolmentToken(ctx, hostID)
	})
	if tok.Value == "" {
		a.t.Fatalf("no enrolment token in %+v", tok)
	}
	return tok.Value
}

// waitUp refreshes a host until it is up.
func waitUp(a *api, hostID string) *ovirtsdk4.Host {
	a.t.Helper()
	for i := 0; ; i++ {
		a.refresh(hostID)
		if h := a.getHost(hostID); hostStatus(h) == ovirtsdk4.HOSTSTATUS_UP {
			return h
		} else if i == 40 {
			d, _ := h.StatusDetail()
			a.t.Fatalf("host never up: status %q (%s)", hostStatus(h), d)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// engineAgentClient reads an agent as the engine does: over mutual TLS with
// the engine's client certificate from its data directory, verifying the
// host id in the agent's certificate.
func engineAgentClient(t *testing.T, dataDir, hostID string, port int) *agent.Client {
	t.Helper()
	dir := filepath.Join(dataDir, "pki")
	cert, err := pki.LoadPair(filepath.Join(dir, "engine-client.pem"), filepath.Join(dir, "engine-client.key"))
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pki.LoadPool(filepath.Join(dir, pki.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	return agent.NewClientWith(fmt.Sprintf("https://127.0.0.1:%d/", port),
		agent.ClientOptions{TLS: pki.EngineClientConfig(pool, cert, hostID), Timeout: 10 * time.Second})
}

// checkAgentRefusesStrangers: the enrolled agent answers no client without
// a certificate and none with a certificate of another CA.
func checkAgentRefusesStrangers(t *testing.T, port int) {
	t.Helper()
	other, err := pki.NewCA("stranger")
	if err != nil {
		t.Fatal(err)
	}
	otherClient, _ := other.IssueEngineClient()
	for name, cfg := range map[string]*tls.Config{
		"no certificate":            {InsecureSkipVerify: true},
		"certificate of another CA": {InsecureSkipVerify: true, Certificates: []tls.Certificate{otherClient}},
	} {
		c := agent.NewClientWith(fmt.Sprintf("https://127.0.0.1:%d/", port), agent.ClientOptions{TLS: cfg, Timeout: 5 * time.Second})
		if _, err := c.Capabilities(context.Background()); err == nil {
			t.Errorf("the enrolled agent answered a client with %s", name)
		}
		c.Close()
	}
}

// waitCA waits for an engine process to make its CA in dataDir, and trusts it.
func waitCA(t *testing.T, dataDir string) {
	t.Helper()
	f := filepath.Join(dataDir, "pki", pki.CAFile)
	for i := 0; i < 300; i++ {
		if _, err := os.Stat(f); err == nil {
			trustCA(t, f)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no engine CA at %s", f)
}
