package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/store/sqlstore"
)

// TestBackupWhileWriting: a backup taken while writers commit is a
// consistent database (every key its writers had committed when it was
// taken, none half-written), and RestoreSQLite puts it in place of another
// database, keeping that one aside.
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "vwire.db")
	db, err := sqlstore.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Each write sets two keys in one transaction: a consistent copy has
	// both or neither.
	// n numbers the writes as they start; committed counts those done.
	var n, committed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := n.Add(1)
				err := db.Update(ctx, func(tx vwire.Tx) error {
					if err := tx.SetMeta(fmt.Sprintf("a%d", i), "x"); err != nil {
						return err
					}
					return tx.SetMeta(fmt.Sprintf("b%d", i), "x")
				})
				if err != nil {
					t.Error(err)
					return
				}
				committed.Add(1)
			}
		}()
	}
	// 200 committed before the backup starts: a copy must hold them all
	// (writes merely started may or may not be in it).
	for committed.Load() < 200 {
		time.Sleep(time.Millisecond)
	}
	backup := filepath.Join(dir, "backup.db")
	if err := sqlstore.BackupSQLite(ctx, path, backup); err != nil {
		t.Fatal(err)
	}
	if err := db.Backup(ctx, filepath.Join(dir, "backup2.db")); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if err := sqlstore.BackupSQLite(ctx, path, backup); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("a backup over an existing file: %v", err)
	}

	// Restore into a new data directory, where a database already is.
	other := filepath.Join(t.TempDir(), "vwire.db")
	o, err := sqlstore.OpenSQLite(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Update(ctx, func(tx vwire.Tx) error { return tx.SetMeta("old", "yes") }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sqlstore.RestoreSQLite(ctx, other, backup); !errors.Is(err, sqlstore.ErrInUse) {
		t.Fatalf("restore over an open database: %v", err)
	}
	o.Close()
	aside, v, err := sqlstore.RestoreSQLite(ctx, other, backup)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := db.SchemaVersion(ctx); v != want {
		t.Fatalf("restored schema version %d, want %d", v, want)
	}
	r, err := sqlstore.OpenSQLite(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var a, b int
	if got, _ := r.SchemaVersion(ctx); got != v {
		t.Fatalf("opened schema version %d, want %d", got, v)
	}
	err = r.View(ctx, func(tx vwire.Tx) error {
		for i := int64(1); i <= n.Load(); i++ {
			va, err := tx.Meta(fmt.Sprintf("a%d", i))
			if err != nil {
				return err
			}
			vb, err := tx.Meta(fmt.Sprintf("b%d", i))
			if err != nil {
				return err
			}
			if va != vb {
				return fmt.Errorf("write %d half in the backup", i)
			}
			if va != "" {
				a++
			}
			if vb != "" {
				b++
			}
		}
		old, err := tx.Meta("old")
		if old != "" {
			return errors.New("the replaced database's row is in the restored one")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if a < 200 || a != b {
		t.Fatalf("restored %d/%d writes, want at least the 200 before the backup", a, b)
	}
	// The replaced database is kept, whole.
	kept, err := sqlstore.OpenSQLite(ctx, aside)
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	kept.View(ctx, func(tx vwire.Tx) error {
		if v, _ := tx.Meta("old"); v != "yes" {
			t.Errorf("the database kept aside at %s lost its row", aside)
		}
		return nil
	})
}

// TestRestoreRefuses: a file that is not a vwire database, or has a schema
// this vwire does not know, is refused (no database appears), and an
// engine's lock excludes another.
func TestRestoreRefuses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, []byte("not a database, not at all, no header here"), 0o600)
	path := filepath.Join(dir, "vwire.db")
	if _, _, err := sqlstore.RestoreSQLite(ctx, path, junk); err == nil {
		t.Fatal("restored a file that is not a database")
	}
	newer := filepath.Join(dir, "newer.db")
	db, err := sqlstore.OpenSQLite(ctx, newer)
	if err != nil {
		t.Fatal(err)
	}
	db.ExecForTest(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`)
	db.Close()
	if _, _, err := sqlstore.RestoreSQLite(ctx, path, newer); err == nil || !strings.Contains(err.Error(), "9999") {
		t.Fatalf("restored a newer schema: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused restore left a database: %v", err)
	}
	unlock, err := sqlstore.LockSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := sqlstore.LockSQLite(path); !errors.Is(err, sqlstore.ErrInUse) {
		t.Fatalf("a second lock: %v", err)
	}
}
