// Command vwire-engine runs the vwire engine: the oVirt-compatible REST API at
// /ovirt-engine/api on an embedded SQLite database, and by default an
// in-process host agent on the simulated hypervisor, registered as host "local".
//
// vwire-engine migrate, backup and restore are the database's maintenance
// (backup.go).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"vwire.dev/vwire/app"
)

// engineFlags registers the engine's flags on fs and returns the process
// they fill in; after fs.Parse, config sets from --config the flags not
// given, and logger builds the logger.
func engineFlags(fs *flag.FlagSet) (m *app.EngineMain, config func() error, logger func() (*slog.Logger, error)) {
	m = &app.EngineMain{PKI: true}
	fs.StringVar(&m.Listen, "listen", "127.0.0.1:8080", "address of the REST API (HTTPS unless --insecure-http)")
	fs.BoolVar(&m.InsecureHTTP, "insecure-http", false, "serve the REST API, SSO and event stream in plain HTTP (refused on a non-loopback --listen unless --force-insecure-http); hosts keep mutual TLS")
	fs.BoolVar(&m.ForceInsecureHTTP, "force-insecure-http", false, "allow --insecure-http on a non-loopback address")
	fs.StringVar(&m.TLSCert, "tls-cert", "", "HTTPS certificate (PEM); default: one issued by the engine's CA in --data/pki")
	fs.StringVar(&m.TLSKey, "tls-key", "", "key of --tls-cert (PEM)")
	fs.Func("public-name", "a name or address clients reach the engine by, put in its certificate (repeatable, or comma-separated)", func(v string) error {
		m.PublicNames = append(m.PublicNames, v)
		return nil
	})
	fs.StringVar(&m.DataDir, "data", "./vwire-data", "directory of the embedded SQLite database and of the engine's CA (pki/)")
	fs.StringVar(&m.DB, "db", os.Getenv("VWIRE_DB"), "PostgreSQL URL (postgres://…); empty: embedded SQLite in --data")
	fs.IntVar(&m.DBMaxConns, "db-max-conns", 0, "most PostgreSQL connections this engine opens (0: a quarter of the server's max_connections, at most 40); running out answers 503")
	fs.BoolVar(&m.EmbeddedHost, "embedded-host", true, "run an in-process host agent on the simulated hypervisor, registered as host \"local\"")
	fs.DurationVar(&m.PollInterval, "poll-interval", 3*time.Second, "how often hosts are polled")
	fs.DurationVar(&m.HostTimeout, "host-timeout", 30*time.Second, "deadline of each host call")
	fs.DurationVar(&m.Sessions.IdleTimeout, "session-idle-timeout", 30*time.Minute, "an SSO token or persistent-auth session unused this long ends (oVirt's default: 30m)")
	fs.StringVar(&m.MetricsListen, "metrics-listen", "", "also serve Prometheus metrics at /metrics on this address, in plain HTTP without authentication (loopback or a private network); /metrics on --listen needs an administrator's credentials; default: off")
	logger = app.LogFlag(fs)
	m.Limits.Flags(fs)
	fs.IntVar(&m.Events.MaxSubscribers, "max-event-streams", 512, "most event-stream (server-sent events) subscribers at once; more get 503")
	fs.DurationVar(&m.Events.DeadClient, "event-stream-write-timeout", 30*time.Second, "an event-stream subscriber that cannot take a write within this is dropped")
	config = app.ConfigFlag(fs)
	return m, config, logger
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "migrate":
			os.Exit(migrate(os.Args[2:]))
		case "backup":
			os.Exit(backup(os.Args[2:], os.Stdout, os.Stderr))
		case "restore":
			os.Exit(restore(os.Args[2:], os.Stdout, os.Stderr))
		}
	}
	m, config, logger := engineFlags(flag.CommandLine)
	flag.Parse()
	if err := config(); err != nil {
		fmt.Fprintln(os.Stderr, "vwire-engine:", err)
		os.Exit(2)
	}

	var err error
	if m.Logger, err = logger(); err != nil {
		fmt.Fprintln(os.Stderr, "vwire-engine:", err)
		os.Exit(2)
	}
	// What logs through the default logger (the REST layer's failures)
	// takes the same format and request ids.
	slog.SetDefault(m.Logger)
	m.AdminPassword = os.Getenv("VWIRE_ADMIN_PASSWORD")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "vwire-engine:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stdout, "vwire: API at %s (user admin@internal)\n", m.URL())
	fmt.Fprintf(os.Stdout, "vwire: engine CA %s (SHA-256 %s), also at %s/ovirt-engine/services/pki-resource?resource=ca-certificate&format=X509-PEM-CA\n",
		m.CAFile(), m.PKIFiles.CA.Fingerprint(), m.BaseURL())
	<-ctx.Done()
	m.Logger.Info("shutting down")
	if err := m.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "vwire-engine:", err)
		os.Exit(1)
	}
}

// migrate applies the embedded migrations and reports the schema version:
// vwire-engine migrate [--db postgres://…] [--data DIR]
func migrate(args []string) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	data := fs.String("data", "./vwire-data", "directory of the embedded SQLite database")
	db := fs.String("db", os.Getenv("VWIRE_DB"), "PostgreSQL URL; empty: SQLite in --data")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := app.OpenStore(ctx, *db, *data, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vwire-engine migrate:", err)
		return 1
	}
	defer store.Close()
	v, err := store.SchemaVersion(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vwire-engine migrate:", err)
		return 1
	}
	fmt.Printf("%s schema version %d\n", store.Dialect(), v)
	return 0
}
