package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/engine"
)

// LogFlag registers --log-level and --log-format on fs, for both binaries;
// the function it returns, called after parsing, builds the logger (on
// stderr, where systemd's journal takes it).
func LogFlag(fs *flag.FlagSet) func() (*slog.Logger, error) {
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	format := fs.String("log-format", "text", "log format: text (key=value) or json (one object a line, for a log collector)")
	return func() (*slog.Logger, error) {
		return NewLogger(os.Stderr, *format, *level)
	}
}

// NewLogger builds a logger writing to w in format ("text" or "json") from
// level up, whose lines carry the request id of the context they are
// logged with (WithRequestID).
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad --log-level: %w", err)
	}
	o := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler
	switch format {
	case "text", "":
		h = slog.NewTextHandler(w, o)
	case "json":
		h = slog.NewJSONHandler(w, o)
	default:
		return nil, fmt.Errorf("bad --log-format %q: text or json", format)
	}
	return slog.New(requestIDHandler{h}), nil
}

// WithRequestID returns l with a handler that adds request_id (l itself if
// its handler already does): EngineMain and AgentMain apply it to any
// logger they are given, a test's too.
func WithRequestID(l *slog.Logger) *slog.Logger {
	if _, ok := l.Handler().(requestIDHandler); ok {
		return l
	}
	return slog.New(requestIDHandler{l.Handler()})
}

// requestIDHandler adds request_id to a record logged with a context
// (InfoContext and the like) that carries one: the REST request's
// correlation id in the engine (engine.CorrelationID), the call's flow id
// in an agent (agent.FlowID, which the engine sets to the same id). A
// handler rather than a logger.With at each request: the engine's use cases
// log through the one logger they were built with, and only the context
// knows the request.
type requestIDHandler struct{ slog.Handler }

// requestID is the id ctx carries, if any.
func requestID(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	if id := engine.CorrelationID(ctx); id != "" {
		return id
	}
	return agent.FlowID(ctx)
}

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := requestID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
