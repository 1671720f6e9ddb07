package sqlstore

import (
	"context"
	"fmt"

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
}

// startGroupCommit starts the committer of db's write transactions.
func (db *DB) startGroupCommit() {
	db.batch = make(chan *batchReq, maxBatch)
	go db.commitLoop()
}

// updateBatched queues fn for the committer and waits for its outcome.
func (db *DB) updateBatched(ctx context.Context, fn func(vwire.Tx) error) error {
	r := &batchReq{ctx: ctx, fn: fn, done: make(chan struct{})}
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
		tx := &Tx{ctx: r.ctx, tx: stx, db: db, pool: db.write}
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
		}
		stx.ExecContext(ctx, "RELEASE w")
	}
	if err := stx.Commit(); err != nil {
		failAll(reqs, db.translate(err))
		return
	}
	db.writes.Add(int64(ok))
	if ok > 0 && events {
		db.events.wake()
	}
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
