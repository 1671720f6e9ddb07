package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

type sqliteDialect struct{}

// readers is the number of SQLite read connections: readers never wait for
// the writer in WAL mode, and more than the machine's cores buys nothing.
const readers = 4

func (sqliteDialect) name() string           { return "sqlite" }
func (sqliteDialect) rebind(q string) string { return q }

func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

func (sqliteDialect) uniqueViolation(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// forUpdate: SQLite's write transactions run one at a time.
func (sqliteDialect) forUpdate() string { return "" }

// outOfConnections: SQLite is a file, not a server with a connection limit.
func (sqliteDialect) outOfConnections(error) bool { return false }

func (sqliteDialect) fkViolation(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// retryable: SQLite's writers are serialised by BEGIN IMMEDIATE; nothing to retry.
func (sqliteDialect) retryable(error) bool { return false }

// OpenSQLite opens (creating if needed) the SQLite database at path, in WAL
// mode with synchronous=FULL and foreign keys on, and applies the embedded
// migrations.
// path ":memory:" is not supported: tests use a file in a temporary directory,
// which is what production runs too.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	dsn := func(txlock string) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "journal_mode(WAL)")
		// FULL: the log is synced at every commit, so an acknowledged
		// change survives a power loss, not only a crash of the process
		// (NORMAL). Group commit (groupcommit.go) shares the sync among
		// the transactions committed together; BENCHMARKS.md has its cost.
		q.Add("_pragma", "synchronous(FULL)")
		// Group commit runs each transaction under a savepoint, whose
		// sub-journal of original pages would otherwise be a temporary file.
		q.Add("_pragma", "temp_store(MEMORY)")
		q.Set("_txlock", txlock)
		return "file:" + path + "?" + q.Encode()
	}
	// The one writer keeps a large page cache: it is the only connection
	// whose cache survives commits (readers' caches are invalidated by
	// every write), and a growing database otherwise costs it a read per
	// page it touches.
	// Checkpoints run in the background (checkpoint.go).
	write, err := sql.Open("sqlite", dsn("immediate")+"&_pragma=cache_size(-131072)&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		return nil, err
	}
	// One writer: SQLite serialises writers anyway; queueing in Go is cheaper
	// than spinning on the busy timeout.
	write.SetMaxOpenConns(1)
	read, err := sql.Open("sqlite", dsn("deferred"))
	if err != nil {
		write.Close()
		return nil, err
	}
	// Every reader stays open: database/sql keeps only two idle
	// connections by default, and a reader closed and opened again pays
	// its pragmas and the parse of every statement it prepares (a fifth of
	// the engine's CPU under load, before this).
	read.SetMaxOpenConns(readers)
	read.SetMaxIdleConns(readers)
	db := &DB{d: sqliteDialect{}, write: write, read: read, closed: make(chan struct{})}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	db.startGroupCommit()
	go db.checkpointLoop()
	return db, nil
}
