package sqlstore

import (
	"context"
	"time"
)

// SQLite copies its write-ahead log back into the database file in
// checkpoints. Left to itself it does so inside the commit that crosses
// 1,000 pages of log, and that commit (and, with group commit, every writer
// waiting behind it) then also waits for the file writes and the fsync. The
// writer's automatic checkpoint is off instead, and this loop checkpoints in
// the background on a reading connection: a PASSIVE checkpoint never blocks
// the writer. Should readers keep the log from being reset so that it grows
// past maxWALFrames, a RESTART checkpoint waits for them (up to the busy
// timeout) and lets the writer start the log over.
const (
	checkpointEvery = 250 * time.Millisecond
	maxWALFrames    = 16384 // 64 MiB of 4 KiB pages
)

func (db *DB) checkpointLoop() {
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-db.closed:
			return
		case <-t.C:
		}
		if _, err := db.checkpoint(context.Background()); err != nil && db.closedNow() {
			return
		}
	}
}

// checkpoint runs one background checkpoint and reports the frames of log
// still to copy.
func (db *DB) checkpoint(ctx context.Context) (left int, err error) {
	var busy, logFrames, done int
	if err := db.read.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &done); err != nil {
		return 0, err
	}
	if logFrames > maxWALFrames {
		if err := db.read.QueryRowContext(ctx, `PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &logFrames, &done); err != nil {
			return 0, err
		}
	}
	return logFrames - done, nil
}

func (db *DB) closedNow() bool {
	select {
	case <-db.closed:
		return true
	default:
		return false
	}
}
