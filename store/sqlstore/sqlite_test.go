package sqlstore_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

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

// TestBackgroundCheckpoint: with the writer's automatic checkpoint off, the
// background checkpoint copies the whole log, and the writer then starts the
// log over instead of growing it.
func TestBackgroundCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vwire.db")
	db, err := sqlstore.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	write := func() {
		for i := 0; i < 300; i++ {
			e := &vwire.Event{Code: 1, Severity: vwire.SevNormal, Description: strings.Repeat("x", 2000), Time: time.Now()}
			if err := db.Update(ctx, func(tx vwire.Tx) error { return tx.AddEvent(e) }); err != nil {
				t.Fatal(err)
			}
		}
	}
	var sizes []int64
	for round := 0; round < 3; round++ {
		write()
		// The engine's own background checkpoint may hold the checkpoint
		// lock at that moment: a few tries, never more.
		left, err := db.CheckpointForTest(ctx)
		for try := 0; err == nil && left != 0 && try < 5; try++ {
			time.Sleep(20 * time.Millisecond)
			left, err = db.CheckpointForTest(ctx)
		}
		if err != nil || left != 0 {
			t.Fatalf("round %d: checkpoint left %d frames, err %v", round, left, err)
		}
		st, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, st.Size())
	}
	if sizes[2] > sizes[0]*3/2 {
		t.Fatalf("log sizes after each round %v: the log grows instead of starting over", sizes)
	}
}

// TestSQLiteDurable: a commit is on disk when it is acknowledged: WAL with
// synchronous=FULL (2), which syncs the log at every commit; NORMAL (1)
// survives a process crash but not a power loss.
func TestSQLiteDurable(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "vwire.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2"} {
		if got, err := db.PragmaForTest(ctx, pragma); err != nil || got != want {
			t.Errorf("PRAGMA %s = %q, %v; want %q", pragma, got, err, want)
		}
	}
}

// TestSQLiteProvisionalCommit: under vwire.Provisional, a transaction that
// only marks a change in flight commits at synchronous=NORMAL, with no sync
// after it; one that records anything else is synced right after its
// commit (the "sync" meta row that forces it); an ordinary transaction runs
// at FULL; and the writer is back at FULL after each.
func TestSQLiteProvisionalCommit(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "vwire.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The change in flight names no real VM here.
	if err := db.ExecForTest(ctx, "PRAGMA foreign_keys=OFF"); err != nil {
		t.Fatal(err)
	}
	synced := func() string {
		var v string
		db.View(ctx, func(tx vwire.Tx) error { v, _ = tx.Meta("sync"); return nil })
		return v
	}
	run := func(ctx context.Context, write func(tx vwire.Tx) error) (level string) {
		t.Helper()
		if err := db.Update(ctx, func(tx vwire.Tx) error {
			var err error
			if level, err = sqlstore.TxPragmaForTest(tx, "synchronous"); err != nil {
				return err
			}
			return write(tx)
		}); err != nil {
			t.Fatal(err)
		}
		if got, err := db.PragmaForTest(ctx, "synchronous"); err != nil || got != "2" {
			t.Fatalf("writer left at synchronous %q, %v; want 2", got, err)
		}
		return level
	}
	mark := func(tx vwire.Tx) error {
		return tx.SetPending(vwire.Pending{VMID: "vm1", EngineID: "e1", Started: time.Now(), OpID: "op1"})
	}
	if got := run(vwire.Provisional(ctx), mark); got != "1" || synced() != "" {
		t.Errorf("a change marked in flight: committed at %s, sync row %q; want 1 and none", got, synced())
	}
	if got := run(vwire.Provisional(ctx), func(tx vwire.Tx) error { return tx.SetMeta("outcome", "x") }); got != "1" || synced() == "" {
		t.Errorf("an outcome under Provisional: committed at %s, sync row %q; want 1 and then a sync", got, synced())
	}
	before := synced()
	if got := run(ctx, mark); got != "2" || synced() != before {
		t.Errorf("an ordinary transaction: committed at %s; want 2 with no extra sync", got)
	}
}

// TestMigrationPendingJob: migration 0018 gives a change in flight written
// before it the job its intent names, so that ending the change after the
// upgrade ends that job.
func TestMigrationPendingJob(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "vwire.db")
	before := fstest.MapFS{}
	if err := fs.WalkDir(sqlstore.MigrationsForTest(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(p, "/0018_") {
			return err
		}
		b, err := fs.ReadFile(sqlstore.MigrationsForTest(), p)
		before[p] = &fstest.MapFile{Data: b}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	restore := sqlstore.SetMigrationsForTest(before)
	db, err := sqlstore.OpenSQLite(ctx, path)
	if err != nil {
		restore()
		t.Fatal(err)
	}
	for _, q := range []string{
		"PRAGMA foreign_keys=OFF",
		`INSERT INTO pending_changes (vm_id, engine_id, started, op_id, intent) VALUES ('vm1', 'e1', 1, 'op1', '{"kind":"nic","job":"job-1"}')`,
		`INSERT INTO pending_changes (vm_id, engine_id, started, op_id, intent) VALUES ('vm2', 'e1', 1, 'op2', '')`,
	} {
		if err := db.ExecForTest(ctx, q); err != nil {
			restore()
			t.Fatal(err)
		}
	}
	db.Close()
	restore()
	if db, err = sqlstore.OpenSQLite(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(ctx, func(tx vwire.Tx) error {
		for vm, want := range map[string]string{"vm1": "job-1", "vm2": ""} {
			if p, err := tx.PendingOf(vm); err != nil || p == nil || p.JobID != want {
				t.Errorf("%s: PendingOf = %+v, %v; want job %q", vm, p, err, want)
			}
		}
		return nil
	})
}

// TestMigrationLandedBelowApplied: a migration numbered below the highest
// applied one (branches merged out of order) is applied at the next open.
func TestMigrationLandedBelowApplied(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	files := fstest.MapFS{
		"migrations/sqlite/0001_a.sql": {Data: []byte(`CREATE TABLE a (x INTEGER);`)},
		"migrations/sqlite/0003_c.sql": {Data: []byte(`CREATE TABLE c (x INTEGER);`)},
	}
	restore := sqlstore.SetMigrationsForTest(files)
	defer restore()
	db, err := sqlstore.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	files["migrations/sqlite/0002_b.sql"] = &fstest.MapFile{Data: []byte(`CREATE TABLE b (x INTEGER);`)}
	if db, err = sqlstore.OpenSQLite(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.ExecForTest(context.Background(), `INSERT INTO b (x) VALUES (1)`); err != nil {
		t.Fatalf("migration 0002, landed after 0003, not applied: %v", err)
	}
	if v, err := db.SchemaVersion(context.Background()); err != nil || v != 3 {
		t.Errorf("schema version %d, %v; want 3", v, err)
	}
}
