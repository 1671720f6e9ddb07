package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"hash/fnv"
	"math/rand/v2"
	"sync"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/internal/keyedmu"
)

// VM locks on PostgreSQL. A VM's lock must hold across engines for the
// database work and the host call of one change, so it is a session-level
// advisory lock. Holding one connection per locked VM (as vwire first did)
// made each engine open up to 48 lock connections: three engines under load
// exhausted PostgreSQL's default max_connections (100) and clients got 500s.
// Now an engine holds all its VM locks on a few sessions (lockShards): its
// own callers for one VM queue in process (keyedmu), and the winner takes
// the advisory lock with pg_try_advisory_lock, retrying with a short
// jittered backoff while another engine holds it. A session holds any
// number of advisory locks, and try-lock never blocks it, so one session
// serves every VM of its shard.

// lockShards is the number of lock sessions per engine; a VM always uses
// the same one (its lock and unlock must run on the same session).
const lockShards = 2

// Backoff while another engine holds a VM's lock.
const (
	lockBackoffMin = 500 * time.Microsecond
	lockBackoffMax = 20 * time.Millisecond
)

type pgLocks struct {
	pool   *sql.DB
	local  keyedmu.Mutex
	shards [lockShards]lockShard
}

// lockShard is one session and the mutex that serialises its use.
type lockShard struct {
	mu   sync.Mutex
	conn *sql.Conn
}

func newPGLocks(pool *sql.DB) *pgLocks {
	pool.SetMaxOpenConns(lockShards)
	pool.SetMaxIdleConns(lockShards)
	// A lock session lives as long as the engine: never recycled while it
	// may hold locks.
	pool.SetConnMaxLifetime(0)
	pool.SetConnMaxIdleTime(0)
	return &pgLocks{pool: pool}
}

func (l *pgLocks) shard(vmID string) *lockShard {
	h := fnv.New32a()
	h.Write([]byte(vmID))
	return &l.shards[h.Sum32()%lockShards]
}

// query runs one statement on the shard's session, opening it if needed.
// It never runs under a request's context: a statement cancelled half-way
// would break the session, and a session dropped releases every lock it
// holds, other callers' too. The statements used never block (try-lock,
// unlock), so a bound of their own is enough. A session that failed is
// dropped and the next call opens another.
func (s *lockShard) query(pool *sql.DB, q string, arg string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), lockReleaseTimeout)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		c, err := pool.Conn(ctx)
		if err != nil {
			return false, err
		}
		s.conn = c
	}
	var ok bool
	if err := s.conn.QueryRowContext(ctx, q, arg).Scan(&ok); err != nil {
		s.conn.Raw(func(any) error { return driver.ErrBadConn })
		s.conn.Close()
		s.conn = nil
		return false, err
	}
	return ok, nil
}

// lock takes vmID's lock, waiting for this engine's other holder in
// process and for other engines' on PostgreSQL, until ctx ends.
func (l *pgLocks) lock(ctx context.Context, db *DB, vmID string) (func(), error) {
	unlockLocal := l.local.Lock(vmID)
	s := l.shard(vmID)
	wait := lockBackoffMin
	for {
		if err := ctx.Err(); err != nil {
			unlockLocal()
			return nil, vwire.New(vwire.MsgDBTimeout).Wrap(err)
		}
		ok, err := s.query(l.pool, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, vmID)
		if err != nil {
			unlockLocal()
			return nil, db.translate(err)
		}
		if ok {
			break
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			unlockLocal()
			return nil, vwire.New(vwire.MsgDBTimeout).Wrap(ctx.Err())
		case <-t.C:
		}
		if wait *= 2; wait > lockBackoffMax {
			wait = lockBackoffMax
		}
	}
	return func() {
		// Even if the request ended; a failure drops the session, which
		// releases the lock.
		s.query(l.pool, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, vmID)
		unlockLocal()
	}, nil
}
