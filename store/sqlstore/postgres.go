package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
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

// retryable: a serializable transaction that lost to a concurrent one is
// run again rather than failing or, worse, silently overwriting.
func (postgresDialect) retryable(err error) bool {
	c := pgCode(err)
	return c == pgSerialization || c == pgDeadlock
}

// PoolSizes bound the connections one engine opens.
type PoolSizes struct {
	Read, Write, Lock int
}

// OpenPostgres connects to PostgreSQL and applies the embedded migrations.
// Write transactions run SERIALIZABLE and are retried when PostgreSQL
// detects a conflict; a VM's lock is an advisory lock on its own pool.
func OpenPostgres(ctx context.Context, url string, sizes PoolSizes) (*DB, error) {
	if sizes.Read == 0 {
		sizes = PoolSizes{Read: 10, Write: 10, Lock: 48}
	}
	open := func(n int) (*sql.DB, error) {
		db, err := sql.Open("pgx", url)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
		return db, nil
	}
	db := &DB{d: postgresDialect{}, txOpts: &sql.TxOptions{Isolation: sql.LevelSerializable}, pgURL: url, closed: make(chan struct{})}
	var err error
	if db.write, err = open(sizes.Write); err != nil {
		return nil, err
	}
	if db.read, err = open(sizes.Read); err != nil {
		db.write.Close()
		return nil, err
	}
	if db.lock, err = open(sizes.Lock); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.write.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// lockVMAdvisory holds a session advisory lock keyed by the VM id on a
// connection of its own; if the engine dies, PostgreSQL frees it.
func (db *DB) lockVMAdvisory(ctx context.Context, vmID string) (func(), error) {
	conn, err := db.lock.Conn(ctx)
	if err != nil {
		return nil, db.translate(err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, vmID); err != nil {
		conn.Close()
		return nil, db.translate(err)
	}
	return func() {
		// A fresh context: the unlock must happen even if the request's ended.
		ctx, cancel := context.WithTimeout(context.Background(), lockReleaseTimeout)
		defer cancel()
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, vmID); err != nil {
			// Closing the session below releases the lock anyway.
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}, nil
}

var _ vwire.Store = (*DB)(nil)
