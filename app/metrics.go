package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"vwire.dev/vwire/internal/serve"
)

// The metrics listener (--metrics-listen): /metrics in plain HTTP without
// authentication, for a Prometheus on the same machine or a private
// network. The engine also serves /metrics on its API port behind the
// API's authentication (restapi.Server.Protect); the agent, whose port
// speaks mutual TLS to the engine only, has only this listener.

// metricsServer is a running metrics listener.
type metricsServer struct {
	ln  net.Listener
	srv *http.Server
}

// listenMetrics serves h at /metrics on addr; an empty addr serves nothing.
func listenMetrics(addr string, h http.Handler, lim serve.Limits, log *slog.Logger) (*metricsServer, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	if !IsLoopback(addr) {
		log.Warn("metrics are served without authentication in plain HTTP: keep this address on a private network", "addr", ln.Addr().String())
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	ms := &metricsServer{ln: ln, srv: serve.Server(mux, lim)}
	go func() {
		if err := ms.srv.Serve(serve.Listener(ln, lim.WithDefaults().MaxConns)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return ms, nil
}

// addr is the listener's address ("" when none runs).
func (ms *metricsServer) addr() string {
	if ms == nil {
		return ""
	}
	return ms.ln.Addr().String()
}

func (ms *metricsServer) close() {
	if ms != nil {
		ms.srv.Close()
	}
}

// MetricsAddr is the engine's metrics listener's address ("" without
// --metrics-listen).
func (m *EngineMain) MetricsAddr() string { return m.metricsSrv.addr() }

// MetricsAddr is the agent's metrics listener's address ("" without
// --metrics-listen).
func (m *AgentMain) MetricsAddr() string { return m.metricsSrv.addr() }
