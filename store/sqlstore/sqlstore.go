// Package sqlstore is vwire's one database/sql implementation of vwire.Store.
// A dialect per database (SQLite today, PostgreSQL next) supplies the driver,
// the placeholder style, the embedded migrations and the translation of
// constraint violations by driver code, never by message text.
//
// SQLite runs in WAL mode with two pools: one connection for writers, whose
// transactions begin IMMEDIATE so that two writers never deadlock on a lock
// upgrade, and several for readers, which WAL lets run beside the writer.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/internal/keyedmu"
)

//go:embed migrations
var embedded embed.FS

// migrations are the SQL files migrate applies (tests replace them).
var migrations fs.FS = embedded

// dialect is what differs between databases.
type dialect interface {
	name() string
	// rebind turns "?" placeholders into the database's own.
	rebind(q string) string
	// uniqueViolation tells whether err is a unique or primary key violation.
	uniqueViolation(err error) bool
	// fkViolation tells whether err is a foreign key violation.
	fkViolation(err error) bool
	// retryable tells whether a failed transaction should simply run again.
	retryable(err error) bool
	// outOfConnections tells whether the server refused a connection for
	// want of one (PostgreSQL's max_connections).
	outOfConnections(err error) bool
	// forUpdate is the clause that locks the rows a SELECT reads ("" where
	// a write transaction already excludes every other, as SQLite's).
	forUpdate() string
}

// DB is a vwire.Store on a SQL database.
type DB struct {
	d     dialect
	write *sql.DB
	read  *sql.DB
	// lock holds the connections of VM locks (PostgreSQL); nil for SQLite,
	// whose single engine locks in process.
	lock    *sql.DB
	pgLocks *pgLocks
	txOpts  *sql.TxOptions
	vmLock  keyedmu.Mutex

	// events wakes the subscribers of new audit events; on PostgreSQL a
	// LISTEN connection on pgURL feeds it with every engine's events.
	events     broadcaster
	pgURL      string
	listenOnce sync.Once
	closed     chan struct{}
	closeOnce  sync.Once
	// stmts caches prepared statements by pool and query text.
	stmts sync.Map
	// batch feeds the group committer (SQLite), nil without one.
	batch chan *batchReq

	// Sizes are the connection pools' bounds (PostgreSQL).
	Sizes PoolSizes

	// retries counts write transactions run again after a conflict;
	// conflicts those that still conflicted after every attempt (see
	// Counters).
	retries, conflicts atomic.Int64
	// writes counts committed write transactions (see Counters).
	writes atomic.Int64
}

// TxCounters are a store's counts since it opened, for metrics.
type TxCounters struct {
	// Retries: write transactions run again after a serialization
	// conflict. Conflicts: write transactions that still conflicted after
	// every attempt (the caller got TX_CONFLICT).
	Retries, Conflicts int64
	// Writes: committed write transactions (Update), each member of a
	// group commit counted, whether or not it changed a row: what an idle
	// engine must not do (vwire-bench -only hosts counts them per poll).
	Writes int64
}

// Counters reads the store's transaction counters.
func (db *DB) Counters() TxCounters {
	return TxCounters{Retries: db.retries.Load(), Conflicts: db.conflicts.Load(), Writes: db.writes.Load()}
}

// PoolStats are the connection pools' statistics by name ("read", "write",
// and on PostgreSQL "lock"), for metrics.
func (db *DB) PoolStats() map[string]sql.DBStats {
	out := map[string]sql.DBStats{}
	for name, p := range map[string]*sql.DB{"read": db.read, "write": db.write, "lock": db.lock} {
		if p != nil {
			out[name] = p.Stats()
		}
	}
	return out
}

// lockReleaseTimeout bounds the release of a VM lock.
const lockReleaseTimeout = 10 * time.Second

// readCommitted is the isolation of a VM-scoped write (vwire.VMScoped).
var readCommitted = &sql.TxOptions{Isolation: sql.LevelReadCommitted}

// maxTxRetry bounds the time a transaction that keeps losing conflicts is
// run again for (its context may end it sooner); maxTxBackoff bounds one
// wait between attempts. A bound in time, not in attempts: under contention
// (several engines adding vNICs to one MAC pool) twenty quick attempts
// were spent in under three seconds and the client got TX_CONFLICT.
const (
	maxTxRetry   = 15 * time.Second
	maxTxBackoff = 50 * time.Millisecond
)

var _ vwire.Store = (*DB)(nil)

// Close closes the pools.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		if db.closed != nil {
			close(db.closed)
		}
	})
	var err error
	for _, p := range []*sql.DB{db.write, db.read, db.lock} {
		if p != nil {
			err = errors.Join(err, p.Close())
		}
	}
	return err
}

// Dialect names the database: "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.d.name() }

// LockVM serialises changes to one VM across every engine on the database:
// an advisory lock on PostgreSQL, a mutex in process on SQLite (which
// serves one engine).
func (db *DB) LockVM(ctx context.Context, vmID string) (func(), error) {
	if db.lock != nil {
		return db.lockVMAdvisory(ctx, vmID)
	}
	return db.vmLock.Lock(vmID), nil
}

// SchemaVersion is the highest migration applied.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.write.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// migrate applies the dialect's migrations that are not yet recorded, each in
// its own transaction. It refuses a database newer than this binary.
func (db *DB) migrate(ctx context.Context) error {
	// Engines starting together on one PostgreSQL take turns.
	if db.d.name() == "postgres" {
		conn, err := db.write.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		const migrationLock = 7236_1149 // any constant shared by every vwire engine
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
			return err
		}
		defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, migrationLock)
	}
	if _, err := db.write.ExecContext(ctx,
		`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	dir := filepath.ToSlash(filepath.Join("migrations", db.d.name()))
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return err
	}
	type mig struct {
		version int
		path    string
	}
	var all []mig
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("migration %s: name must start with a number", e.Name())
		}
		all = append(all, mig{v, dir + "/" + e.Name()})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].version < all[j].version })
	current, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if n := len(all); n > 0 && current > all[n-1].version {
		return fmt.Errorf("database schema version %d is newer than this vwire (knows %d)", current, all[n-1].version)
	}
	// Every migration not applied yet is applied, in order, not only those
	// above the highest applied: branches developed side by side may land
	// a lower number after a higher one.
	applied := map[int]bool{}
	rows, err := db.write.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range all {
		if applied[m.version] {
			continue
		}
		body, err := fs.ReadFile(migrations, m.path)
		if err != nil {
			return err
		}
		tx, err := db.write.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", m.path, err)
		}
		if _, err := tx.ExecContext(ctx, db.d.rebind(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`),
			m.version, nowMillis()); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// View runs fn in a read-only transaction.
func (db *DB) View(ctx context.Context, fn func(vwire.Tx) error) error {
	return db.run(ctx, db.read, &sql.TxOptions{ReadOnly: true}, fn)
}

// Read runs fn's reads each on its own, outside any transaction: no
// BEGIN and COMMIT around them (two round trips on PostgreSQL, a parsed
// BEGIN on SQLite), and no snapshot shared between them. For a use that
// asks one question per request, such as the caller's user row. fn must
// not write.
func (db *DB) Read(ctx context.Context, fn func(vwire.Tx) error) error {
	return fn(&Tx{ctx: ctx, q: db.read, db: db, pool: db.read})
}

// Update runs fn in a read-write transaction, committed when fn returns nil.
// A transaction that lost a conflict to another engine runs again, so that
// an update built on a stale read is never committed.
func (db *DB) Update(ctx context.Context, fn func(vwire.Tx) error) error {
	if db.batch != nil {
		return db.updateBatched(ctx, fn)
	}
	opts := db.txOpts
	if opts != nil && opts.Isolation == sql.LevelSerializable && vwire.IsVMScoped(ctx) {
		opts = readCommitted
	}
	var err error
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err = db.run(ctx, db.write, opts, fn)
		if err == nil {
			db.writes.Add(1)
		}
		if err == nil || !db.d.retryable(unwrapCause(err)) {
			return err
		}
		if time.Since(start) > maxTxRetry || ctx.Err() != nil {
			db.conflicts.Add(1)
			return err
		}
		db.retries.Add(1)
		// Jittered and growing, so that engines that conflicted together do
		// not meet again on the next attempt.
		base := min(time.Duration(attempt*attempt)*time.Millisecond/2, maxTxBackoff)
		time.Sleep(base + rand.N(base+time.Millisecond))
	}
}

// unwrapCause digs the driver error out of a translated one.
func unwrapCause(err error) error {
	var ve *vwire.Error
	if errors.As(err, &ve) && ve.Err != nil {
		return ve.Err
	}
	return err
}

func (db *DB) run(ctx context.Context, pool *sql.DB, opts *sql.TxOptions, fn func(vwire.Tx) error) error {
	stx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return db.translate(err)
	}
	tx := &Tx{ctx: ctx, tx: stx, q: stx, db: db, pool: pool}
	if err := fn(tx); err != nil {
		stx.Rollback()
		return err
	}
	if err := stx.Commit(); err != nil {
		return db.translate(err)
	}
	if tx.addedEvents {
		db.events.wake()
	}
	return nil
}

// translate turns driver errors into vwire errors, by driver code.
func (db *DB) translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return vwire.New(vwire.MsgRowNotFound).Wrap(err)
	case db.d.uniqueViolation(err):
		return vwire.New(vwire.MsgUniqueViolation).Wrap(err)
	case db.d.fkViolation(err):
		return vwire.New(vwire.MsgForeignKeyViolation).Wrap(err)
	case db.d.retryable(err):
		return vwire.New(vwire.MsgTxConflict).Wrap(err)
	case db.d.outOfConnections(err):
		return vwire.New(vwire.MsgDBNoConnection).Wrap(err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return vwire.New(vwire.MsgDBTimeout).Wrap(err)
	}
	var ve *vwire.Error
	if errors.As(err, &ve) {
		return err
	}
	return vwire.New(vwire.MsgDBError).Wrap(err)
}

// Tx implements vwire.Tx.
type Tx struct {
	ctx context.Context
	// tx is the transaction; nil for Read, whose statements run on the
	// pool (q) each on its own.
	tx   *sql.Tx
	q    queryer
	db   *DB
	pool *sql.DB
	// addedEvents: subscribers are woken after the commit.
	addedEvents bool
	// markedPending: the transaction marked a change in flight, which a
	// Provisional context lets commit without a sync (groupcommit.go).
	markedPending bool
}

// queryer runs a statement in a transaction or on a pool.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// errNotPrepared: a Read's statement has no pool-level preparation yet; it
// runs unprepared this time.
var errNotPrepared = errors.New("not prepared yet")

// stmt returns a prepared statement for a query in this transaction.
// Compiling SQL dominated the cost of a change, so statements are prepared
// once per pool and then per connection (Tx.StmtContext prepares on the
// transaction's own connection). The pool-level statement is made in the
// background: preparing on a pool needs a free connection, and a writer
// holding SQLite's only one must not wait for itself. Until it exists the
// transaction prepares the query for its own use.
func (t *Tx) stmt(query string) (*sql.Stmt, error) {
	key := stmtKey{t.pool, query}
	if s, ok := t.db.stmts.Load(key); ok {
		if ps, ok := s.(*sql.Stmt); ok {
			if t.tx == nil {
				return ps, nil
			}
			return t.tx.StmtContext(t.ctx, ps), nil
		}
	} else if _, busy := t.db.stmts.LoadOrStore(key, preparing{}); !busy {
		go t.db.prepare(key)
	}
	if t.tx == nil {
		return nil, errNotPrepared
	}
	return t.tx.PrepareContext(t.ctx, t.db.d.rebind(query))
}

type stmtKey struct {
	pool  *sql.DB
	query string
}

// preparing marks a statement whose pool-level preparation is under way.
type preparing struct{}

func (db *DB) prepare(key stmtKey) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := key.pool.PrepareContext(ctx, db.d.rebind(key.query))
	if err != nil {
		db.stmts.Delete(key) // try again on a later use
		return
	}
	db.stmts.Store(key, s)
}

// row runs a query expected to return one row.
func (t *Tx) row(query string, args ...any) *sql.Row {
	s, err := t.stmt(query)
	if err != nil {
		// QueryRow on the transaction reports the same error at Scan (a
		// Read's statement not prepared yet runs unprepared).
		return t.q.QueryRowContext(t.ctx, t.db.d.rebind(query), args...)
	}
	return s.QueryRowContext(t.ctx, args...)
}

func (t *Tx) exec(query string, args ...any) (sql.Result, error) {
	s, err := t.stmt(query)
	if errors.Is(err, errNotPrepared) {
		r, err := t.q.ExecContext(t.ctx, t.db.d.rebind(query), args...)
		return r, t.db.translate(err)
	}
	if err != nil {
		return nil, t.db.translate(err)
	}
	r, err := s.ExecContext(t.ctx, args...)
	return r, t.db.translate(err)
}

// execOne runs a statement that must touch exactly one row.
func (t *Tx) execOne(kind, id, query string, args ...any) error {
	r, err := t.exec(query, args...)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return vwire.NotFound(kind, id)
	}
	return nil
}

func (t *Tx) query(query string, args ...any) (*sql.Rows, error) {
	s, err := t.stmt(query)
	if errors.Is(err, errNotPrepared) {
		rows, err := t.q.QueryContext(t.ctx, t.db.d.rebind(query), args...)
		return rows, t.db.translate(err)
	}
	if err != nil {
		return nil, t.db.translate(err)
	}
	rows, err := s.QueryContext(t.ctx, args...)
	return rows, t.db.translate(err)
}

// one scans a single row; a missing row is ENOTFOUND naming kind and id.
func (t *Tx) one(kind, id string, scan func(*sql.Row) error, query string, args ...any) error {
	err := scan(t.row(query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return vwire.NotFound(kind, id)
	}
	return t.db.translate(err)
}

// list scans every row with scan.
func list[T any](t *Tx, scan func(*sql.Rows) (T, error), query string, args ...any) ([]T, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, t.db.translate(err)
		}
		out = append(out, v)
	}
	return out, t.db.translate(rows.Err())
}

// Meta reads a key of the meta table, "" when unset.
func (t *Tx) Meta(key string) (string, error) {
	var v string
	err := t.row((`SELECT value FROM meta WHERE key = ?`), key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, t.db.translate(err)
}

// SetMeta writes a key of the meta table.
func (t *Tx) SetMeta(key, value string) error {
	_, err := t.exec(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}
