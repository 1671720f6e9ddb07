// Package app assembles vwire's binaries: EngineMain and AgentMain hold the
// flags' values and expose Run and Close, so that cmd/ stays a thin wrapper
// and tests start whole binaries in-process on port 0.
package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/agent/engineport"
	"vwire.dev/vwire/console"
	"vwire.dev/vwire/engine"
	"vwire.dev/vwire/hypervisor"
	"vwire.dev/vwire/hypervisor/hostnet"
	"vwire.dev/vwire/hypervisor/sim"
	"vwire.dev/vwire/internal/serve"
	"vwire.dev/vwire/metrics"
	"vwire.dev/vwire/pki"
	"vwire.dev/vwire/restapi"
	"vwire.dev/vwire/store/sqlstore"
)

// EngineMain is the vwire-engine process.
type EngineMain struct {
	Listen  string
	DataDir string
	// DB is a PostgreSQL URL; empty means the embedded SQLite in DataDir.
	DB            string
	EmbeddedHost  bool
	AdminPassword string
	// DBMaxConns bounds this engine's PostgreSQL connections (0: a quarter
	// of the server's max_connections, at most 40).
	DBMaxConns   int
	PollInterval time.Duration
	HostTimeout  time.Duration
	Logger       *slog.Logger
	// HostLogger is the embedded host's agent's (default: Logger with
	// host=local); a test gives it a buffer of its own.
	HostLogger *slog.Logger
	// Out receives the one-time generated admin password.
	Out io.Writer
	// Limits are the API server's timeouts and connection limit (and the
	// embedded agent's); zero values take serve's defaults.
	Limits serve.Limits
	// Events bounds the event-stream subscribers and their keep-alive
	// and dead-client timeouts; zero values take restapi's defaults.
	Events restapi.StreamLimits
	// Sessions configure tokens' idle and absolute lifetimes and login
	// throttling; zero values take the engine's defaults.
	Sessions engine.SessionOptions

	// PKI turns on the engine's CA (DataDir/pki, created on first start):
	// the API, SSO and event stream over HTTPS (TLS 1.2+) unless
	// InsecureHTTP, hosts enrolled and reached over mutual TLS only.
	// vwire-engine always sets it. Unset (unit tests), the engine has no
	// CA: its API is plain HTTP and its hosts are reached in plain HTTP.
	PKI bool
	// InsecureHTTP serves the API in plain HTTP (hosts keep mutual TLS).
	InsecureHTTP bool
	// ForceInsecureHTTP allows a plain-HTTP API on a non-loopback address;
	// without it Start refuses.
	ForceInsecureHTTP bool
	// TLSCert and TLSKey are a given HTTPS certificate and key (PEM
	// files); empty: one the engine's CA issues for Listen and PublicNames.
	TLSCert, TLSKey string
	// PublicNames are the names clients reach the engine by (DNS names or
	// addresses), put in the certificate the CA issues.
	PublicNames []string
	// PKIFiles are the CA and the engine's certificates (set by Start when PKI).
	PKIFiles *pki.EngineFiles
	// MetricsListen, when set, serves /metrics there too, in plain HTTP
	// without authentication (app/metrics.go); /metrics on the API port
	// always needs an administrator's credentials.
	MetricsListen string
	// Metrics are the engine's (set by Start).
	Metrics *metrics.Engine

	Engine *engine.Engine
	// Sim is the embedded host's hypervisor, when there is one, and
	// HostNet its host networking (simulated NICs eth0 and eth1, 802.1Q
	// available, so that the embedded default shows VLAN and overlay
	// networks).
	Sim     *sim.Sim
	HostNet *hostnet.Sim

	store    *sqlstore.DB
	ln       net.Listener
	https    bool
	srv      *http.Server
	api      *restapi.Server
	agentSrv *http.Server
	pipe     *pipeListener
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	metricsSrv *metricsServer
	// unlockData releases the SQLite database's lock (sqlstore.LockSQLite).
	unlockData func()
}

// Start opens the database, bootstraps it, starts the embedded host and the
// API listener, and returns once the API is reachable.
func (m *EngineMain) Start(ctx context.Context) error {
	if m.Logger == nil {
		m.Logger = slog.Default()
	}
	m.Logger = WithRequestID(m.Logger)
	if m.Out == nil {
		m.Out = os.Stdout
	}
	m.https = m.PKI && !m.InsecureHTTP
	if !m.https && !m.ForceInsecureHTTP && !IsLoopback(m.Listen) {
		return fmt.Errorf("%w: refusing plain HTTP on %s (serve HTTPS, listen on loopback, or force it)", ErrInsecureListen, m.Listen)
	}
	m.Metrics = metrics.NewEngine()
	dial := engineport.Options{HostTimeout: m.HostTimeout, Observe: m.Metrics.HostCall}
	var signer engine.HostSigner
	if m.PKI {
		files, err := pki.LoadOrCreateEngine(filepath.Join(m.DataDir, "pki"), pki.ListenNames(m.Listen, m.PublicNames))
		if err != nil {
			return fmt.Errorf("engine PKI: %w", err)
		}
		if m.TLSCert != "" || m.TLSKey != "" {
			if files.Server, err = pki.LoadPair(m.TLSCert, m.TLSKey); err != nil {
				return fmt.Errorf("--tls-cert/--tls-key: %w", err)
			}
		}
		m.PKIFiles, signer = files, files.CA
		dial.CA, dial.Client = files.CA.Pool(), files.Client
	}
	if m.EmbeddedHost {
		m.pipe = newPipeListener()
		dial.Embedded = m.pipe.Dial
	}
	var err error
	if m.DB == "" {
		// Held while the engine runs, so that vwire-engine restore refuses
		// to replace the database under it.
		if m.unlockData, err = sqlstore.LockSQLite(filepath.Join(m.DataDir, SQLiteFile)); err != nil {
			return err
		}
	}
	if m.store, err = OpenStore(ctx, m.DB, m.DataDir, m.DBMaxConns); err != nil {
		m.Close()
		return err
	}
	m.Engine = engine.New(m.store, engine.Options{Logger: m.Logger, PollInterval: m.PollInterval, HostTimeout: m.HostTimeout,
		Dial: engineport.DialWith(dial), Signer: signer, Sessions: m.Sessions, Observer: m.Metrics})
	generated, err := m.Engine.Bootstrap(ctx, m.AdminPassword)
	if err != nil {
		m.Close()
		return fmt.Errorf("initialise database: %w", err)
	}
	if generated != "" {
		fmt.Fprintf(m.Out, "vwire: generated password for admin@internal (shown only now, stored as a hash): %s\n", generated)
	}
	if m.EmbeddedHost {
		if err := m.startEmbeddedHost(ctx); err != nil {
			m.Close()
			return err
		}
	}
	m.ln, err = net.Listen("tcp", m.Listen)
	if err != nil {
		m.Close()
		return fmt.Errorf("listen on %s: %w", m.Listen, err)
	}
	mux := http.NewServeMux()
	api := restapi.New(m.Engine, m.Logger)
	api.Stream = m.Events
	m.api = api
	// The web console takes its own paths (/, /vms, /static/…); the REST
	// API the rest, so that its faults answer unknown paths as before.
	con := console.New(m.Engine, m.Logger, console.Options{SessionIdle: m.Sessions.IdleTimeout})
	// Both are timed by route (package metrics); /metrics itself takes
	// the API's credentials of an administrator (restapi's Protect).
	apiH, conH := m.Metrics.InstrumentREST(api.Route, api), m.Metrics.InstrumentConsole(con.Route, con)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if console.Owns(r.URL.Path) {
			conH.ServeHTTP(w, r)
			return
		}
		apiH.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.Handle("GET /metrics", api.Protect(m.Metrics.Handler()))
	m.Metrics.Attach(metrics.Sources{DB: m.store, MACPools: m.Engine.MACPoolsUsage, EventStreams: api.Subscribers, LiveStreams: con.LiveStreams})
	if m.metricsSrv, err = listenMetrics(m.MetricsListen, m.Metrics.Handler(), m.Limits, m.Logger); err != nil {
		m.ln.Close()
		m.Close()
		return err
	}
	m.srv = serve.Server(mux, m.Limits)
	m.srv.RegisterOnShutdown(api.CloseStreams)
	m.srv.RegisterOnShutdown(con.CloseStreams)
	m.ln = serve.Listener(m.ln, m.Limits.WithDefaults().MaxConns)
	if m.https {
		m.ln = serve.TLSOrLoopback(m.ln, pki.ServerConfig(m.PKIFiles.Server))
	}
	pctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		if err := m.srv.Serve(m.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("API server stopped", "err", err)
		}
	}()
	go func() {
		defer m.wg.Done()
		m.Engine.RunPoller(pctx)
	}()
	m.Logger.Info("vwire engine listening", "addr", m.Addr(), "data", m.DataDir, "embedded_host", m.EmbeddedHost)
	return nil
}

// SQLiteFile is the embedded database's file in the data directory.
const SQLiteFile = "vwire.db"

// OpenStore opens (and migrates) the engine's database: PostgreSQL when url
// is set, else SQLite in dataDir.
//
// maxConns bounds the PostgreSQL connections of this engine (0: a quarter of
// the server's max_connections; see sqlstore.PoolSizes).
func OpenStore(ctx context.Context, url, dataDir string, maxConns int) (*sqlstore.DB, error) {
	var db *sqlstore.DB
	var err error
	if url != "" {
		db, err = sqlstore.OpenPostgres(ctx, url, sqlstore.PoolSizes{Total: maxConns})
	} else {
		db, err = sqlstore.OpenSQLite(ctx, filepath.Join(dataDir, SQLiteFile))
	}
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}

// startEmbeddedHost runs an agent on the simulated hypervisor, reached over
// the same JSON-RPC as any host but on in-memory connections (pipe.go): no
// network, so no port to protect. It is registered as "local", at
// 127.0.0.1 port 0 (no port: nothing listens).
func (m *EngineMain) startEmbeddedHost(ctx context.Context) error {
	m.Sim = sim.New()
	m.HostNet = hostnet.NewSim(hostnet.SimOptions{Bridges: m.Sim})
	hl := m.HostLogger
	if hl == nil {
		hl = m.Logger.With("host", "local")
	}
	as := agent.NewServer(m.Metrics.Hypervisor(m.Sim), agent.Options{Logger: WithRequestID(hl), HostNet: m.HostNet, Observe: m.Metrics.Verb})
	m.agentSrv = serve.Server(as, m.Limits)
	m.agentSrv.RegisterOnShutdown(as.Close)
	go m.agentSrv.Serve(serve.Listener(m.pipe, m.Limits.WithDefaults().MaxConns))
	if _, err := m.Engine.RegisterEmbeddedHost(ctx, "127.0.0.1", 0); err != nil {
		return fmt.Errorf("register embedded host: %w", err)
	}
	return nil
}

// Store is the engine's database (nil before Start): vwire-bench reads its
// counters.
func (m *EngineMain) Store() *sqlstore.DB { return m.store }

// Addr is the API's listening address.
func (m *EngineMain) Addr() string {
	if m.ln == nil {
		return ""
	}
	return m.ln.Addr().String()
}

// URL is the API's base URL.
func (m *EngineMain) URL() string { return m.BaseURL() + "/ovirt-engine/api" }

// BaseURL is the engine's scheme and address (https://127.0.0.1:8443).
func (m *EngineMain) BaseURL() string {
	if m.https {
		return "https://" + m.Addr()
	}
	return "http://" + m.Addr()
}

// CAFile is the engine's CA certificate file ("" without PKI).
func (m *EngineMain) CAFile() string {
	if !m.PKI {
		return ""
	}
	return filepath.Join(m.DataDir, "pki", pki.CAFile)
}

// ErrInsecureListen: plain HTTP asked for on a non-loopback address
// without being forced.
var ErrInsecureListen = errors.New("insecure listen address")

// IsLoopback tells whether a listen address is on loopback only (a name
// other than localhost, or an empty host, is not).
func IsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		host = listen
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Close stops everything Start started.
func (m *EngineMain) Close() error {
	if m.cancel != nil {
		m.cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if m.srv != nil {
		m.srv.Shutdown(ctx)
	}
	m.metricsSrv.close()
	if m.api != nil {
		m.api.WaitAsync() // background actions end before the engine does
	}
	m.wg.Wait()
	if m.Engine != nil {
		m.Engine.Close()
	}
	if m.agentSrv != nil {
		m.agentSrv.Shutdown(ctx)
	}
	if m.pipe != nil {
		m.pipe.Close()
	}
	var err error
	if m.store != nil {
		err = m.store.Close()
	}
	if m.unlockData != nil {
		m.unlockData()
		m.unlockData = nil
	}
	return err
}

// AgentMain is the vwire-agent process.
type AgentMain struct {
	Listen     string
	Hypervisor hypervisor.Hypervisor
	// HostNet is the host's networking the agent manages: hostnet.Linux
	// on a real host (in a network namespace of its own for a test's
	// second host), hostnet.Sim with the simulated hypervisor; nil takes
	// agent.Options' default.
	HostNet hostnet.Host
	// HostNetwork chooses HostNet when it is nil: "linux" (netlink, in
	// NetNS when set: a test's second host keeps its networking in a
	// namespace of its own), "sim" (simulated NICs; SimNoVLAN, when set,
	// is why VLANs are refused), or "" for linux on libvirt and sim on the
	// simulated hypervisor. HostNICs limits linux's host NICs to these.
	HostNetwork string
	NetNS       string
	HostNICs    []string
	SimNoVLAN   string
	Logger      *slog.Logger
	// UnplugTimeout bounds the wait for a guest to release a device (default 10 s).
	UnplugTimeout time.Duration
	// Limits are the server's timeouts and connection limit; zero values
	// take serve's defaults. A JSON-RPC stream is one connection.
	Limits serve.Limits

	// StateDir keeps the agent's identity (StateDir/pki: key, certificate,
	// engine CA); empty: none is kept (a test agent in plain HTTP).
	StateDir string
	// EnrollURL, EnrollToken and EngineCA (a PEM file) enrol an agent that
	// has no identity yet (package pki describes the flow).
	EnrollURL, EnrollToken, EngineCA string
	// EngineCAFingerprint, instead of EngineCA, is the SHA-256 of the
	// engine's CA: it is fetched from the engine's pki-resource and taken
	// only if it matches.
	EngineCAFingerprint string
	// Insecure allows plain HTTP on a non-loopback address to an agent
	// without an identity; without it Start refuses.
	Insecure bool

	// Identity is the agent's, once enrolled (nil: plain HTTP).
	Identity *pki.AgentIdentity

	// MetricsListen, when set, serves the agent's /metrics there, in
	// plain HTTP without authentication (app/metrics.go).
	MetricsListen string
	// Metrics are the agent's (set by Start).
	Metrics *metrics.Agent

	metricsSrv *metricsServer
	ln         net.Listener
	srv        *http.Server
	as         *agent.Server
	closeHN    func()
}

// hostNet makes the agent's host networking as HostNetwork says.
func (m *AgentMain) hostNet() error {
	if m.HostNet != nil {
		return nil
	}
	bm, simulated := m.Hypervisor.(hypervisor.BridgeManager)
	kind := m.HostNetwork
	if kind == "" {
		kind = "linux"
		if simulated {
			kind = "sim"
		}
	}
	switch kind {
	case "sim":
		if m.NetNS != "" || len(m.HostNICs) > 0 {
			return errors.New("--netns and --host-nics are for --host-network linux")
		}
		m.HostNet = hostnet.NewSim(hostnet.SimOptions{Bridges: bm, NoVLAN: m.SimNoVLAN})
	case "linux":
		if m.NetNS != "" && !simulated {
			// Its taps are made in the agent's namespace, where a bridge
			// in another could never take them.
			return errors.New("--netns is for a simulated hypervisor: a real one's VMs join bridges in the agent's own namespace")
		}
		o := hostnet.LinuxOptions{NICs: m.HostNICs}
		if simulated {
			// Real host networking under a simulated hypervisor: its
			// taps join the bridges made here.
			o.Bridges = bm
		}
		l, err := hostnet.NewLinuxNamed(m.NetNS, o)
		if err != nil {
			return err
		}
		m.HostNet, m.closeHN = l, func() { l.Close() }
	default:
		return fmt.Errorf("unknown host network %q (linux or sim)", kind)
	}
	return nil
}

// identity loads the agent's identity, or enrols it when asked to.
func (m *AgentMain) identity(ctx context.Context) (*pki.AgentIdentity, error) {
	if m.StateDir == "" {
		if m.EnrollToken != "" {
			return nil, errors.New("enrolment needs a state directory to keep the agent's key in")
		}
		return nil, nil
	}
	id, err := pki.LoadAgent(m.StateDir)
	switch {
	case err == nil:
		return id, nil
	case !errors.Is(err, pki.ErrNotEnrolled):
		return nil, err
	case m.EnrollToken == "":
		return nil, nil
	case (m.EngineCA == "" && m.EngineCAFingerprint == "") || m.EnrollURL == "":
		return nil, errors.New("enrolment needs the engine's URL and its CA certificate or the CA's fingerprint (--enroll-url, --engine-ca or --engine-ca-fingerprint)")
	}
	var pool *x509.CertPool
	if m.EngineCA != "" {
		pool, err = pki.LoadPool(m.EngineCA)
	} else {
		pool, err = pki.FetchCA(ctx, m.EnrollURL, m.EngineCAFingerprint)
	}
	if err != nil {
		return nil, err
	}
	id, err = pki.Enroll(ctx, m.StateDir, m.EnrollURL, m.EnrollToken, pool)
	if err != nil {
		return nil, err
	}
	m.Logger.Info("enrolled with the engine", "host_id", id.HostID())
	return id, nil
}

// Start listens and serves the agent.
func (m *AgentMain) Start() error {
	if m.Logger == nil {
		m.Logger = slog.Default()
	}
	m.Logger = WithRequestID(m.Logger)
	var err error
	if m.Identity == nil {
		if m.Identity, err = m.identity(context.Background()); err != nil {
			return fmt.Errorf("agent identity: %w", err)
		}
	}
	if m.Identity == nil && !m.Insecure && !IsLoopback(m.Listen) {
		return fmt.Errorf("%w: an agent without a certificate serves only loopback; enrol it (--enroll-url, --enroll-token, --engine-ca) or pass --insecure", ErrInsecureListen)
	}
	if err := m.hostNet(); err != nil {
		return fmt.Errorf("host networking: %w", err)
	}
	if m.ln, err = net.Listen("tcp", m.Listen); err != nil {
		m.Close()
		return fmt.Errorf("listen on %s: %w", m.Listen, err)
	}
	m.Metrics = metrics.NewAgent()
	o := agent.Options{Logger: m.Logger, UnplugTimeout: m.UnplugTimeout, HostNet: m.HostNet, Observe: m.Metrics.Verb}
	ln := serve.Listener(m.ln, m.Limits.WithDefaults().MaxConns)
	if m.Identity != nil {
		o.Identity = m.Identity
		ln = tls.NewListener(ln, m.Identity.ServerConfig())
	}
	m.as = agent.NewServer(m.Metrics.Hypervisor(m.Hypervisor), o)
	m.srv = serve.Server(m.as, m.Limits)
	m.srv.RegisterOnShutdown(m.as.Close) // the JSON-RPC streams too
	if m.metricsSrv, err = listenMetrics(m.MetricsListen, m.Metrics.Handler(), m.Limits, m.Logger); err != nil {
		m.ln.Close()
		m.Close()
		return err
	}
	go m.srv.Serve(ln)
	m.Logger.Info("vwire agent listening", "addr", m.ln.Addr().String(), "mutual_tls", m.Identity != nil)
	return nil
}

// Port is the listening port.
func (m *AgentMain) Port() int { return m.ln.Addr().(*net.TCPAddr).Port }

// Addr is the listening address.
func (m *AgentMain) Addr() string { return m.ln.Addr().String() }

// Close stops the agent.
func (m *AgentMain) Close() error {
	var err error
	m.metricsSrv.close()
	if m.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = m.srv.Shutdown(ctx)
		// Shutdown runs it in a goroutine; the rollback of unconfirmed
		// host networks it does must end before the process does.
		m.as.Close()
	}
	if m.closeHN != nil {
		m.closeHN()
		m.closeHN = nil
	}
	return err
}
