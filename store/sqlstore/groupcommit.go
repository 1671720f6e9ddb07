package sqlstore

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strconv"
	"sync"
	"time"

	"vwire.dev/vwire"
)

// Group commit (SQLite). Writers are serialised anyway, so concurrent
// write transactions are run one after the other inside one database
// transaction, each under its own savepoint, and committed together: a
// failing one rolls back to its savepoint alone, and the cost of a commit
// (the WAL write) is shared. A commit that fails fails every member.

// maxBatch bounds the writes committed together.
const maxBatch = 64

type batchReq struct {
	ctx  context.Context
	fn   func(vwire.Tx) error
	err  error
	done chan struct{}
	// provisional: ctx is vwire.Provisional; unsynced: the member ran
	// under it and only marked a change in flight, which needs no sync.
	provisional, unsynced bool
}

// startGroupCommit starts the committer of db's write transactions.
func (db *DB) startGroupCommit() {
	db.batch = make(chan *batchReq, maxBatch)
	go db.commitLoop()
}

// updateBatched queues fn for the committer and waits for its outcome.
func (db *DB) updateBatched(ctx context.Context, fn func(vwire.Tx) error) error {
	r := &batchReq{ctx: ctx, fn: fn, done: make(chan struct{}), provisional: vwire.IsProvisional(ctx)}
	select {
	case db.batch <- r:
	case <-ctx.Done():
		return db.translate(ctx.Err())
	case <-db.closed:
		return vwire.New(vwire.MsgDBClosed)
	}
	<-r.done
	return r.err
}

func (db *DB) commitLoop() {
	for {
		var first *batchReq
		select {
		case first = <-db.batch:
		case <-db.closed:
			return
		}
		reqs := []*batchReq{first}
	drain:
		for len(reqs) < maxBatch {
			select {
			case r := <-db.batch:
				reqs = append(reqs, r)
			default:
				break drain
			}
		}
		db.commitBatch(reqs)
		for _, r := range reqs {
			close(r.done)
		}
	}
}

func (db *DB) commitBatch(reqs []*batchReq) {
	ctx := context.Background()
	// A batch of provisional members alone commits without a sync
	// (vwire.Provisional); SQLite takes the level only outside a
	// transaction. Should any member end up needing one, the sync follows
	// the commit (syncWAL). A batch with any other member syncs as ever.
	relaxed := true
	for _, r := range reqs {
		relaxed = relaxed && r.provisional
	}
	restore := func() {}
	if relaxed {
		if _, err := db.write.ExecContext(ctx, "PRAGMA synchronous=NORMAL"); err != nil {
			relaxed = false
		} else {
			restore = sync.OnceFunc(db.restoreSync)
			defer restore()
		}
	}
	stx, err := db.write.BeginTx(ctx, db.txOpts)
	if err != nil {
		for _, r := range reqs {
			r.err = db.translate(err)
		}
		return
	}
	events, ok := false, 0
	for _, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			r.err = db.translate(err)
			continue
		}
		if _, err := stx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
			r.err = db.translate(err)
			continue
		}
		tx := &Tx{ctx: r.ctx, tx: stx, q: stx, db: db, pool: db.write}
		if err := runFn(r.fn, tx); err != nil {
			r.err = err
			if _, rerr := stx.ExecContext(ctx, "ROLLBACK TO w"); rerr != nil {
				// The transaction is unusable: fail the whole batch.
				stx.Rollback()
				failAll(reqs, db.translate(rerr))
				return
			}
		} else {
			ok++
			events = events || tx.addedEvents
			r.unsynced = tx.markedPending
		}
		stx.ExecContext(ctx, "RELEASE w")
	}
	if err := stx.Commit(); err != nil {
		failAll(reqs, db.translate(err))
		return
	}
	if relaxed {
		for _, r := range reqs {
			if r.err == nil && !r.unsynced {
				// This member recorded more than a change in flight: its
				// caller is told, so it must be on disk first.
				restore()
				if err := db.syncWAL(ctx); err != nil {
					failAll(reqs, db.translate(err))
					return
				}
				break
			}
		}
	}
	db.writes.Add(int64(ok))
	if ok > 0 && events {
		db.events.wake()
	}
}

// restoreSync puts the writer back to synchronous=FULL after a relaxed
// batch. Should that fail, the connection is closed (database/sql opens a
// new one, with FULL from its DSN) rather than left at NORMAL.
func (db *DB) restoreSync() {
	ctx := context.Background()
	if _, err := db.write.ExecContext(ctx, "PRAGMA synchronous=FULL"); err == nil {
		return
	}
	if c, err := db.write.Conn(ctx); err == nil {
		c.Raw(func(any) error { return driver.ErrBadConn })
		c.Close()
	}
}

// syncWAL makes every commit so far durable after one made at
// synchronous=NORMAL, the writer being back at FULL: a write committed at
// FULL syncs the whole log, the earlier frames with it. The value changes
// each time, since SQLite writes nothing for an update that changes
// nothing.
func (db *DB) syncWAL(ctx context.Context) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('sync', ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, strconv.FormatInt(time.Now().UnixNano(), 10))
	return err
}

// failAll gives every member of a failed batch that had not failed on its
// own the batch's error.
func failAll(reqs []*batchReq, err error) {
	for _, r := range reqs {
		if r.err == nil {
			r.err = err
		}
	}
}

// runFn runs one member; a panic fails that member, not the committer.
func runFn(fn func(vwire.Tx) error, tx *Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = vwire.New(vwire.MsgInternalPanic, "cause", fmt.Sprint(p))
		}
	}()
	return fn(tx)
}
