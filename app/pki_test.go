package app_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/app"
	"vwire.dev/vwire/hypervisor/sim"
	"vwire.dev/vwire/pki"
)

// The engine's PKI end to end (issue 13 points 1 and 2), on real sockets
// with real TLS: HTTPS with the engine's CA, the CA published, a host
// enrolled by token, engine↔agent mutual TLS, its refusals, and renewal.

func startSecureEngine(t *testing.T) *app.EngineMain {
	t.Helper()
	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: t.TempDir(), AdminPassword: "secret", PKI: true, EmbeddedHost: true,
		PollInterval: time.Hour, Out: io.Discard}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// admin speaks to the API over HTTPS, verifying the engine with its CA file.
type admin struct {
	t    *testing.T
	m    *app.EngineMain
	http *http.Client
}

func newAdmin(t *testing.T, m *app.EngineMain) *admin {
	pool, err := pki.LoadPool(m.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	return &admin{t: t, m: m, http: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
}

func (a *admin) do(method, path, body string) (int, string) {
	a.t.Helper()
	url := path
	if !strings.HasPrefix(path, "https://") {
		url = a.m.URL() + path
	}
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.SetBasicAuth("admin@internal", "secret")
	req.Header.Set("Content-Type", "application/xml")
	resp, err := a.http.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (a *admin) expect(code int, method, path, body string) string {
	a.t.Helper()
	got, text := a.do(method, path, body)
	if got != code {
		a.t.Fatalf("%s %s: %d, want %d: %s", method, path, got, code, text)
	}
	return text
}

func field(t *testing.T, xml, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(xml)
	if m == nil {
		t.Fatalf("no %s in %s", re, xml)
	}
	return m[1]
}

// TestPKIResource: the CA is published where oVirt's clients fetch it,
// unauthenticated, and the answer parses as the CA that verifies the
// engine; other resources and formats are faults.
func TestPKIResource(t *testing.T) {
	m := startSecureEngine(t)
	if !strings.HasPrefix(m.URL(), "https://") {
		t.Fatalf("URL = %s, want https", m.URL())
	}
	// Fetched without verification (trust on first use), then compared.
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := insecure.Get(m.BaseURL() + "/ovirt-engine/services/pki-resource?resource=ca-certificate&format=X509-PEM-CA")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("pki-resource: %d %s", resp.StatusCode, body)
	}
	ca, err := pki.ParseCert(body)
	if err != nil || !ca.IsCA {
		t.Fatalf("pki-resource is not a CA certificate: %v", err)
	}
	onDisk, _ := os.ReadFile(m.CAFile())
	if !bytes.Equal(body, onDisk) {
		t.Error("pki-resource differs from the CA file")
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	verified := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err = verified.Get(m.BaseURL() + "/healthz")
	if err != nil {
		t.Fatalf("the published CA does not verify the engine: %v", err)
	}
	resp.Body.Close()
	if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("TLS state %+v", resp.TLS)
	}
	// TLS 1.1 is refused.
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get(m.BaseURL() + "/healthz"); err == nil {
		t.Error("TLS 1.1 accepted")
	}
	// Plain HTTP on the HTTPS port gets nothing of the API.
	if resp, err := http.Get("http://" + m.Addr() + "/ovirt-engine/api"); err == nil {
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered 200")
		}
		resp.Body.Close()
	}
	a := newAdmin(t, m)
	for _, q := range []string{"resource=ca-certificate&format=DER", "resource=engine-certificate&format=X509-PEM-CA", ""} {
		code, text := a.do("GET", m.BaseURL()+"/ovirt-engine/services/pki-resource?"+q, "")
		if code != 400 || !strings.Contains(text, "<fault>") {
			t.Errorf("pki-resource?%s: %d %s, want a 400 fault", q, code, text)
		}
	}
}

// TestSDKOverHTTPS: oVirt's Go SDK verifies the engine with the CA file.
func TestSDKOverHTTPS(t *testing.T) {
	m := startSecureEngine(t)
	conn, err := ovirtsdk4.NewConnectionBuilder().URL(m.URL()).Username("admin@internal").Password("secret").
		CAFile(m.CAFile()).Timeout(30 * time.Second).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hosts, err := conn.SystemService().HostsService().List().Send()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(hosts.MustHosts().Slice()); n != 1 {
		t.Errorf("%d hosts, want the embedded one", n)
	}
	// Without the CA the SDK refuses the engine.
	other, err := pki.NewCA("other")
	if err != nil {
		t.Fatal(err)
	}
	otherFile := filepath.Join(t.TempDir(), "other.pem")
	os.WriteFile(otherFile, other.PEM, 0o644)
	bad, err := ovirtsdk4.NewConnectionBuilder().URL(m.URL()).Username("admin@internal").Password("secret").
		CAFile(otherFile).Timeout(10 * time.Second).Build()
	if err == nil {
		defer bad.Close()
		if _, err := bad.SystemService().HostsService().List().Send(); err == nil {
			t.Error("the SDK accepted an engine its CA file does not vouch for")
		}
	}
}

// TestInsecureHTTPRefusedOffLoopback: plain HTTP on a non-loopback address
// needs forcing, and an agent without a certificate serves only loopback.
func TestInsecureHTTPRefusedOffLoopback(t *testing.T) {
	for _, m := range []*app.EngineMain{
		{Listen: "0.0.0.0:0", DataDir: t.TempDir(), PKI: true, InsecureHTTP: true, Out: io.Discard},
		{Listen: ":0", DataDir: t.TempDir(), Out: io.Discard},
	} {
		if err := m.Start(context.Background()); !errors.Is(err, app.ErrInsecureListen) {
			m.Close()
			t.Errorf("engine on %s in plain HTTP: err = %v, want ErrInsecureListen", m.Listen, err)
		}
	}
	forced := &app.EngineMain{Listen: "0.0.0.0:0", DataDir: t.TempDir(), PKI: true, InsecureHTTP: true, ForceInsecureHTTP: true,
		AdminPassword: "x", Out: io.Discard}
	if err := forced.Start(context.Background()); err != nil {
		t.Errorf("forced plain HTTP: %v", err)
	}
	forced.Close()
	ag := &app.AgentMain{Listen: "0.0.0.0:0", Hypervisor: sim.New()}
	if err := ag.Start(); !errors.Is(err, app.ErrInsecureListen) {
		ag.Close()
		t.Errorf("agent without certificate on 0.0.0.0: err = %v, want ErrInsecureListen", err)
	}
	ag = &app.AgentMain{Listen: "0.0.0.0:0", Hypervisor: sim.New(), Insecure: true}
	if err := ag.Start(); err != nil {
		t.Errorf("agent with --insecure: %v", err)
	}
	ag.Close()
}

// enrolledHost adds a host, gets its token, and starts an agent that
// enrols with it; it returns the host id, the agent and the token used.
func enrolledHost(t *testing.T, a *admin, name string) (string, *app.AgentMain, string) {
	t.Helper()
	h := a.expect(201, "POST", "/hosts", `<host><name>`+name+`</name><address>127.0.0.1</address><port>1</port></host>`)
	id := field(t, h, `<host href="[^"]*" id="([^"]+)"`)
	tok := a.expect(200, "POST", "/hosts/"+id+"/enrolmenttoken", `<action/>`)
	token := field(t, tok, `<value>([^<]+)</value>`)
	ag := &app.AgentMain{Listen: "127.0.0.1:0", Hypervisor: sim.New("ovirtmgmt"), StateDir: t.TempDir(),
		EnrollURL: a.m.BaseURL(), EnrollToken: token, EngineCA: a.m.CAFile()}
	if err := ag.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ag.Close() })
	if ag.Identity == nil || ag.Identity.HostID() != id {
		t.Fatalf("agent identity names %v, want host %s", ag.Identity, id)
	}
	a.expect(200, "PUT", "/hosts/"+id, `<host><port>`+strconv.Itoa(ag.Port())+`</port></host>`)
	return id, ag, token
}

func hostStatus(t *testing.T, a *admin, id string) string {
	return field(t, a.expect(200, "POST", "/hosts/"+id+"/refresh", `<action/>`), `</protocol>\s*<status>([a-z_]+)</status>`)
}

// TestEnrolmentAndMutualTLS: a host enrolled by token is reached over
// mutual TLS; the token works once; a forged token is refused; the agent
// refuses clients without a certificate, with one of another CA, or with
// one of its CA that is not the engine's; the engine refuses an agent that
// presents another host's certificate; renewal swaps the certificate while
// the agent serves.
func TestEnrolmentAndMutualTLS(t *testing.T) {
	m := startSecureEngine(t)
	a := newAdmin(t, m)
	id, ag, token := enrolledHost(t, a, "h1")
	if st := hostStatus(t, a, id); st != "up" {
		t.Fatalf("enrolled host is %s, want up", st)
	}
	caPool := m.PKIFiles.CA.Pool()

	t.Run("TokenSingleUse", func(t *testing.T) {
		_, err := pki.Enroll(context.Background(), t.TempDir(), m.BaseURL(), token, caPool)
		var ee *pki.EnrollError
		if !errors.As(err, &ee) || ee.Status != http.StatusBadRequest {
			t.Errorf("second use of a token: %v, want refused", err)
		}
	})
	t.Run("ForgedToken", func(t *testing.T) {
		forged, _, _ := pki.NewToken()
		_, err := pki.Enroll(context.Background(), t.TempDir(), m.BaseURL(), forged, caPool)
		var ee *pki.EnrollError
		if !errors.As(err, &ee) || ee.Status != http.StatusBadRequest {
			t.Errorf("forged token: %v, want refused", err)
		}
	})
	t.Run("EnrolVerifiesEngine", func(t *testing.T) {
		other, _ := pki.NewCA("other")
		tok := field(t, a.expect(200, "POST", "/hosts/"+id+"/enrolmenttoken", `<action/>`), `<value>([^<]+)</value>`)
		if _, err := pki.Enroll(context.Background(), t.TempDir(), m.BaseURL(), tok, other.Pool()); err == nil {
			t.Error("enrolled with an engine the given CA does not vouch for")
		}
	})
	t.Run("TrustOnFirstUseByFingerprint", func(t *testing.T) {
		if _, err := pki.FetchCA(context.Background(), m.URL(), m.PKIFiles.CA.Fingerprint()); err != nil {
			t.Errorf("the engine's own fingerprint: %v", err)
		}
		other, _ := pki.NewCA("other")
		if _, err := pki.FetchCA(context.Background(), m.BaseURL(), other.Fingerprint()); !errors.Is(err, pki.ErrFingerprint) {
			t.Errorf("another CA's fingerprint: %v, want ErrFingerprint", err)
		}
		h := a.expect(201, "POST", "/hosts", `<host><name>tofu</name><address>127.0.0.1</address><port>3</port></host>`)
		hid := field(t, h, `<host href="[^"]*" id="([^"]+)"`)
		tok := field(t, a.expect(200, "POST", "/hosts/"+hid+"/enrolmenttoken", `<action/>`), `<value>([^<]+)</value>`)
		ag := &app.AgentMain{Listen: "127.0.0.1:0", Hypervisor: sim.New(), StateDir: t.TempDir(),
			EnrollURL: m.BaseURL(), EnrollToken: tok, EngineCAFingerprint: strings.ToLower(m.PKIFiles.CA.Fingerprint())}
		if err := ag.Start(); err != nil {
			t.Fatal(err)
		}
		defer ag.Close()
		if ag.Identity == nil || ag.Identity.HostID() != hid {
			t.Error("agent not enrolled by fingerprint")
		}
	})
	t.Run("EmbeddedHostNeedsNoToken", func(t *testing.T) {
		local := field(t, a.expect(200, "GET", "/hosts?search=name%3Dlocal", ""), `<host href="[^"]*" id="([^"]+)"`)
		a.expect(409, "POST", "/hosts/"+local+"/enrolmenttoken", `<action/>`)
	})

	url := "https://" + ag.Addr() + "/"
	call := func(cfg *tls.Config) error {
		c := agent.NewClientWith(url, agent.ClientOptions{TLS: cfg, Timeout: 5 * time.Second})
		defer c.Close()
		_, err := c.Capabilities(context.Background())
		return err
	}
	post := func(cfg *tls.Config) error {
		hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
		resp, err := hc.Post(url, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"Host.getCapabilities"}`))
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	other, _ := pki.NewCA("other")
	otherClient, _ := other.IssueEngineClient()
	hostKey, _ := pki.GenerateKey()
	csr, _ := pki.CSR(hostKey)
	hostPEM, _ := m.PKIFiles.CA.SignHost(csr, id)
	hostCert, _ := pki.Pair(hostPEM, hostKey)
	verifyAgent := &tls.Config{RootCAs: caPool, InsecureSkipVerify: true}
	t.Run("AgentRefusesNoCertificate", func(t *testing.T) {
		if err := post(verifyAgent); err == nil {
			t.Error("agent answered a client without a certificate")
		}
		if err := call(verifyAgent); err == nil {
			t.Error("agent stream accepted a client without a certificate")
		}
	})
	t.Run("AgentRefusesOtherCA", func(t *testing.T) {
		cfg := pki.EngineClientConfig(caPool, otherClient, id)
		if err := post(cfg); err == nil {
			t.Error("agent answered a client certificate of another CA")
		}
		if err := call(cfg); err == nil {
			t.Error("agent stream accepted a client certificate of another CA")
		}
	})
	t.Run("AgentRefusesNonEngineIdentity", func(t *testing.T) {
		if err := call(pki.EngineClientConfig(caPool, hostCert, id)); err == nil {
			t.Error("agent accepted a host's certificate as a client")
		}
	})
	t.Run("EngineRefusesOtherHostsCertificate", func(t *testing.T) {
		err := call(pki.EngineClientConfig(caPool, m.PKIFiles.Client, "another-host-id"))
		if !errors.Is(err, pki.ErrIdentity) {
			t.Errorf("engine client reaching host h1 as another host: err = %v, want ErrIdentity", err)
		}
		var te *agent.TransportError
		if !errors.As(err, &te) {
			t.Errorf("err = %T, want a transport error (nothing was sent)", err)
		}
		if err := call(pki.EngineClientConfig(caPool, m.PKIFiles.Client, id)); err != nil {
			t.Errorf("engine client with the right host: %v", err)
		}
	})
	t.Run("EngineRefusesImpostorAgent", func(t *testing.T) {
		// Another enrolled host's agent put at h1's address: the engine
		// refuses it, h1 is not reachable.
		id2, ag2, _ := enrolledHost(t, a, "h2")
		a.expect(200, "PUT", "/hosts/"+id2, `<host><port>2</port></host>`)
		a.expect(200, "PUT", "/hosts/"+id, `<host><port>`+strconv.Itoa(ag2.Port())+`</port></host>`)
		if st := hostStatus(t, a, id); st == "up" {
			t.Error("h1 is up while h2's agent answers at its address")
		}
		a.expect(200, "PUT", "/hosts/"+id, `<host><port>`+strconv.Itoa(ag.Port())+`</port></host>`)
		if st := hostStatus(t, a, id); st != "up" {
			t.Errorf("h1 back at its agent is %s", st)
		}
	})
	t.Run("Renewal", func(t *testing.T) {
		before := ag.Identity.Certificate().Leaf.SerialNumber
		a.expect(200, "POST", "/hosts/"+id+"/enrollcertificate", `<action/>`)
		after := ag.Identity.Certificate().Leaf
		if after.SerialNumber.Cmp(before) == 0 {
			t.Fatal("certificate not renewed")
		}
		// New connections see the new certificate, and it names the host.
		conn, err := tls.Dial("tcp", ag.Addr(), &tls.Config{RootCAs: caPool, InsecureSkipVerify: true, Certificates: []tls.Certificate{m.PKIFiles.Client}})
		if err != nil {
			t.Fatal(err)
		}
		served := conn.ConnectionState().PeerCertificates[0]
		conn.Close()
		if served.SerialNumber.Cmp(after.SerialNumber) != 0 {
			t.Error("agent still serves the old certificate")
		}
		if st := hostStatus(t, a, id); st != "up" {
			t.Errorf("host after renewal is %s", st)
		}
		// The renewed identity survives a restart of the agent.
		re, err := pki.LoadAgent(ag.StateDir)
		if err != nil || re.Certificate().Leaf.SerialNumber.Cmp(after.SerialNumber) != 0 {
			t.Errorf("stored identity after renewal: %v", err)
		}
	})
}
