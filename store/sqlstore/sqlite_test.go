package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"vwire.dev/vwire"
	"vwire.dev/vwire/store/sqlstore"
	"vwire.dev/vwire/store/storetest"
)

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) vwire.Store {
		db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "vwire.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}, nil)
}

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vwire.db")
	db, err := sqlstore.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := db.SchemaVersion(context.Background())
	if err != nil || v < 1 {
		t.Fatalf("schema version = %d, %v", v, err)
	}
	if err := db.Update(context.Background(), func(tx vwire.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	db.ExecForTest(context.Background(), `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`)
	db.Close()
	if db, err := sqlstore.OpenSQLite(context.Background(), path); err == nil {
		db.Close()
		t.Fatal("opened a database with a newer schema")
	}
}
