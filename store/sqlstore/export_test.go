package sqlstore

import "context"

// CheckpointForTest runs one background checkpoint now.
func (db *DB) CheckpointForTest(ctx context.Context) (int, error) { return db.checkpoint(ctx) }
