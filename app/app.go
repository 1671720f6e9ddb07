// Package app assembles vwire's binaries: EngineMain and AgentMain hold the
// flags' values and expose Run and Close, so that cmd/ stays a thin wrapper
// and tests start whole binaries in-process on port 0.
package app

import (
	"context"
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
	"vwire.dev/vwire/engine"
	"vwire.dev/vwire/hypervisor"
	"vwire.dev/vwire/hypervisor/sim"
	"vwire.dev/vwire/internal/serve"
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
	PollInterval  time.Duration
	HostTimeout   time.Duration
	Logger        *slog.Logger
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

	Engine *engine.Engine
	// Sim is the embedded host's hypervisor, when there is one.
	Sim *sim.Sim

	store    *sqlstore.DB
	ln       net.Listener
	srv      *http.Server
	agentSrv *http.Server
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// Start opens the database, bootstraps it, starts the embedded host and the
// API listener, and returns once the API is reachable.
func (m *EngineMain) Start(ctx context.Context) error {
	if m.Logger == nil {
		m.Logger = slog.Default()
	}
	if m.Out == nil {
		m.Out = os.Stdout
	}
	var err error
	if m.store, err = OpenStore(ctx, m.DB, m.DataDir); err != nil {
		return err
	}
	m.Engine = engine.New(m.store, engine.Options{Logger: m.Logger, PollInterval: m.PollInterval, HostTimeout: m.HostTimeout,
		Dial: engineport.Dial(m.HostTimeout), Sessions: m.Sessions})
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
	mux.Handle("/", api)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	m.srv = serve.Server(mux, m.Limits)
	m.ln = serve.Listener(m.ln, m.Limits.WithDefaults().MaxConns)
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

// OpenStore opens (and migrates) the engine's database: PostgreSQL when url
// is set, else SQLite in dataDir.
func OpenStore(ctx context.Context, url, dataDir string) (*sqlstore.DB, error) {
	var db *sqlstore.DB
	var err error
	if url != "" {
		db, err = sqlstore.OpenPostgres(ctx, url, sqlstore.PoolSizes{})
	} else {
		db, err = sqlstore.OpenSQLite(ctx, filepath.Join(dataDir, "vwire.db"))
	}
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}

// startEmbeddedHost runs an agent on the simulated hypervisor on loopback,
// reached over the same JSON-RPC as any host, and registers it as "local".
func (m *EngineMain) startEmbeddedHost(ctx context.Context) error {
	m.Sim = sim.New()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("embedded host: %w", err)
	}
	as := agent.NewServer(m.Sim, agent.Options{Logger: m.Logger.With("host", "local")})
	m.agentSrv = serve.Server(as, m.Limits)
	ln = serve.Listener(ln, m.Limits.WithDefaults().MaxConns)
	m.agentSrv.RegisterOnShutdown(as.Close)
	go m.agentSrv.Serve(ln)
	addr := ln.Addr().(*net.TCPAddr)
	if _, err := m.Engine.RegisterEmbeddedHost(ctx, "127.0.0.1", addr.Port); err != nil {
		return fmt.Errorf("register embedded host: %w", err)
	}
	return nil
}

// Addr is the API's listening address.
func (m *EngineMain) Addr() string {
	if m.ln == nil {
		return ""
	}
	return m.ln.Addr().String()
}

// URL is the API's base URL.
func (m *EngineMain) URL() string { return "http://" + m.Addr() + "/ovirt-engine/api" }

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
	m.wg.Wait()
	if m.Engine != nil {
		m.Engine.Close()
	}
	if m.agentSrv != nil {
		m.agentSrv.Shutdown(ctx)
	}
	if m.store != nil {
		return m.store.Close()
	}
	return nil
}

// AgentMain is the vwire-agent process.
type AgentMain struct {
	Listen     string
	Hypervisor hypervisor.Hypervisor
	Logger     *slog.Logger
	// UnplugTimeout bounds the wait for a guest to release a device (default 10 s).
	UnplugTimeout time.Duration
	// Limits are the server's timeouts and connection limit; zero values
	// take serve's defaults. A JSON-RPC stream is one connection.
	Limits serve.Limits

	ln  net.Listener
	srv *http.Server
}

// Start listens and serves the agent.
func (m *AgentMain) Start() error {
	if m.Logger == nil {
		m.Logger = slog.Default()
	}
	var err error
	if m.ln, err = net.Listen("tcp", m.Listen); err != nil {
		return fmt.Errorf("listen on %s: %w", m.Listen, err)
	}
	as := agent.NewServer(m.Hypervisor, agent.Options{Logger: m.Logger, UnplugTimeout: m.UnplugTimeout})
	m.srv = serve.Server(as, m.Limits)
	m.srv.RegisterOnShutdown(as.Close) // the JSON-RPC streams too
	go m.srv.Serve(serve.Listener(m.ln, m.Limits.WithDefaults().MaxConns))
	m.Logger.Info("vwire agent listening", "addr", m.ln.Addr().String())
	return nil
}

// Port is the listening port.
func (m *AgentMain) Port() int { return m.ln.Addr().(*net.TCPAddr).Port }

// Addr is the listening address.
func (m *AgentMain) Addr() string { return m.ln.Addr().String() }

// Close stops the agent.
func (m *AgentMain) Close() error {
	if m.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return m.srv.Shutdown(ctx)
}
