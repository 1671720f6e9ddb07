package sqlstore

import (
	"context"
	"io/fs"

	"vwire.dev/vwire"
)

// CheckpointForTest runs one background checkpoint now.
func (db *DB) CheckpointForTest(ctx context.Context) (int, error) { return db.checkpoint(ctx) }

// PragmaForTest reads a pragma on the writer's connection.
func (db *DB) PragmaForTest(ctx context.Context, name string) (string, error) {
	var v string
	err := db.write.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v)
	return v, err
}

// ExecForTest runs a raw statement on the write pool; tests use it to
// simulate states the API cannot produce (a newer schema).
func (db *DB) ExecForTest(ctx context.Context, query string) error {
	_, err := db.write.ExecContext(ctx, query)
	return err
}

// SetMigrationsForTest replaces the migrations until restore is called.
func SetMigrationsForTest(f fs.FS) (restore func()) {
	old := migrations
	migrations = f
	return func() { migrations = old }
}

// TxPragmaForTest reads a pragma on a transaction's own connection.
func TxPragmaForTest(tx vwire.Tx, name string) (string, error) {
	var v string
	err := tx.(*Tx).tx.QueryRowContext(context.Background(), "PRAGMA "+name).Scan(&v)
	return v, err
}

// MigrationsForTest is the embedded migrations' file system.
func MigrationsForTest() fs.FS { return embedded }

// TxQueryForTest runs a one-value query on a transaction's own connection.
func TxQueryForTest(tx vwire.Tx, query string) (string, error) {
	var v string
	err := tx.(*Tx).tx.QueryRowContext(context.Background(), query).Scan(&v)
	return v, err
}
