package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"vwire.dev/vwire"
)

// PostgreSQL's SQLSTATEs that vwire translates.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
	pgSerialization       = "40001"
	pgDeadlock            = "40P01"
	// The server has no connection left (max_connections), or is
	// starting or stopping: an engine can only ask the client to retry.
	pgTooManyConnections = "53300"
	pgCannotConnectNow   = "57P03"
)

type postgresDialect struct{}

func (postgresDialect) name() string { return "postgres" }

// rebind numbers the placeholders: "?" becomes $1, $2, … (vwire's queries
// never hold a literal question mark).
func (postgresDialect) rebind(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func (postgresDialect) uniqueViolation(err error) bool { return pgCode(err) == pgUniqueViolation }
func (postgresDialect) fkViolation(err error) bool     { return pgCode(err) == pgForeignKeyViolation }
func (postgresDialect) forUpdate() string              { return " FOR UPDATE" }
func (postgresDialect) outOfConnections(err error) bool {
	c := pgCode(err)
	return c == pgTooManyConnections || c == pgCannotConnectNow
}

// retryable: a serializable transaction that lost to a concurrent one is
// run again rather than failing or, worse, silently overwriting.
func (postgresDialect) retryable(err error) bool {
	c := pgCode(err)
	return c == pgSerialization || c == pgDeadlock
}

// PoolSizes bound the connections one engine opens. Read and Write are
// the pools of read-only and write transactions; Lock is ignored (an engine
// holds its VM locks on lockShards sessions, pglocks.go). With Read or
// Write zero, Total (the engine's budget, 0: a share of the server's
// max_connections, see autoBudget) is split between them.
type PoolSizes struct {
	Read, Write, Lock int
	Total             int
}

// Budget bounds: however large the server, an engine needs no more; however
// small, it needs at least this many to make progress.
const (
	minBudget = lockShards + 2
	maxBudget = 40
)

// autoBudget is an engine's share of the server's connections: a quarter
// of those left to ordinary users (max_connections minus the reserved
// ones), so that three engines and the administrator's tools fit on the
// default of 100 (24 each).
func autoBudget(ctx context.Context, db *sql.DB) (int, error) {
	var maxConns, reserved int
	if err := db.QueryRowContext(ctx, `SELECT current_setting('max_connections')::int,
		current_setting('superuser_reserved_connections')::int +
		COALESCE(current_setting('reserved_connections', true)::int, 0)`).Scan(&maxConns, &reserved); err != nil {
		return 0, fmt.Errorf("read max_connections: %w", err)
	}
	return min(max((maxConns-reserved)/4, minBudget), maxBudget), nil
}

// withParam adds a run-time parameter (a session default) to a connection
// URL; pgx sends parameters it does not know to the server.
func withParam(u, name, value string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + name + "=" + value
}

// OpenPostgres connects to PostgreSQL and applies the embedded migrations.
// Write transactions run SERIALIZABLE and are retried when PostgreSQL
// detects a conflict; a VM's lock is an advisory lock (pglocks.go). The
// pools are bounded (sizes); a request that finds no connection waits for
// one within its deadline, and a server out of connections is a 503.
func OpenPostgres(ctx context.Context, url string, sizes PoolSizes) (*DB, error) {
	open := func(n int) (*sql.DB, error) {
		db, err := sql.Open("pgx", withParam(url, "enable_seqscan", "off"))
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
		return db, nil
	}
	db := &DB{d: postgresDialect{}, txOpts: &sql.TxOptions{Isolation: sql.LevelSerializable}, pgURL: url, closed: make(chan struct{})}
	var err error
	if db.write, err = open(1); err != nil {
		return nil, err
	}
	if err := db.write.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if sizes.Read <= 0 || sizes.Write <= 0 {
		if sizes.Total <= 0 {
			if sizes.Total, err = autoBudget(ctx, db.write); err != nil {
				db.Close()
				return nil, err
			}
		}
		sizes.Total = max(sizes.Total, minBudget)
		sizes.Write = (sizes.Total - lockShards) / 2
		sizes.Read = sizes.Total - lockShards - sizes.Write
	}
	db.Sizes = PoolSizes{Read: sizes.Read, Write: sizes.Write, Lock: lockShards, Total: sizes.Read + sizes.Write + lockShards}
	// The migrations hold one write connection (their advisory lock) and
	// run on another: the pool is bounded to its size only after them.
	db.write.SetMaxOpenConns(max(sizes.Write, 2))
	if db.read, err = open(sizes.Read); err != nil {
		db.Close()
		return nil, err
	}
	if db.lock, err = open(lockShards); err != nil {
		db.Close()
		return nil, err
	}
	db.pgLocks = newPGLocks(db.lock)
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	db.write.SetMaxOpenConns(sizes.Write)
	db.write.SetMaxIdleConns(sizes.Write)
	return db, nil
}

// lockVMAdvisory holds a session advisory lock keyed by the VM id on a
// connection of its own; if the engine dies, PostgreSQL frees it.
func (db *DB) lockVMAdvisory(ctx context.Context, vmID string) (func(), error) {
	return db.pgLocks.lock(ctx, db, vmID)
}

var _ vwire.Store = (*DB)(nil)
