package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Backup and restore of an engine's SQLite database (vwire-engine backup,
// restore). A backup is SQLite's VACUUM INTO: one read transaction, so a
// consistent snapshot however many writes run meanwhile (WAL lets the
// writer go on), written as a compact database file of its own. PostgreSQL
// has pg_dump for this; Backup refuses it (ErrUsePgDump).

// ErrUsePgDump: a PostgreSQL store is backed up with pg_dump, not by vwire.
var ErrUsePgDump = errors.New("a PostgreSQL database is backed up with pg_dump -Fc and restored with pg_restore")

// ErrInUse: the database is open elsewhere (an engine runs on it).
var ErrInUse = errors.New("the database is in use")

// Backup writes a consistent copy of the database to the file to, which
// must not exist yet, while the store stays in use.
func (db *DB) Backup(ctx context.Context, to string) error {
	if db.d.name() != "sqlite" {
		return ErrUsePgDump
	}
	return vacuumInto(ctx, db.read, to)
}

// BackupSQLite writes a consistent copy of the SQLite database at path to
// the file to, without opening it as a store: no migration runs, so a
// backup taken by a newer vwire of an older engine's database leaves that
// database as it was. An engine may be running on it.
func BackupSQLite(ctx context.Context, path, to string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	conn, err := sql.Open("sqlite", "file:"+path+"?"+url.Values{"_pragma": {"busy_timeout(10000)"}}.Encode())
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := schemaVersionOf(ctx, conn); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return vacuumInto(ctx, conn, to)
}

// vacuumInto writes the snapshot next to to, syncs it and renames it into
// place, so that a crash never leaves a half-written file under the
// backup's name (VACUUM INTO does not sync what it writes).
func vacuumInto(ctx context.Context, conn *sql.DB, to string) error {
	if _, err := os.Stat(to); err == nil {
		return fmt.Errorf("%s already exists", to)
	}
	tmp := to + ".partial"
	os.Remove(tmp) // a previous attempt's
	if _, err := conn.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("backup: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, to); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(to))
}

// CheckBackup opens the file at path as a vwire SQLite database and
// returns its schema version; an error if it is not one, or if its version
// is not one this vwire knows (none, or newer than its newest migration).
func CheckBackup(ctx context.Context, path string) (int, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, err
	}
	// immutable: the file is nobody's database yet; reading it must not
	// make a -wal or -shm next to it.
	conn, err := sql.Open("sqlite", "file:"+path+"?mode=ro&immutable=1")
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var ok string
	if err := conn.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&ok); err != nil {
		return 0, fmt.Errorf("%s is not a SQLite database: %w", path, err)
	}
	if ok != "ok" {
		return 0, fmt.Errorf("%s is damaged: %s", path, ok)
	}
	v, err := schemaVersionOf(ctx, conn)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// schemaVersionOf reads a vwire database's schema version and checks that
// this vwire knows it.
func schemaVersionOf(ctx context.Context, conn *sql.DB) (int, error) {
	var v int
	err := conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("not a vwire database (no schema version): %w", err)
	}
	newest, err := newestMigration("sqlite")
	if err != nil {
		return 0, err
	}
	if v < 1 || v > newest {
		return 0, fmt.Errorf("schema version %d is not one this vwire knows (1 to %d)", v, newest)
	}
	return v, nil
}

// newestMigration is the highest migration of a dialect this vwire has.
func newestMigration(dialect string) (int, error) {
	entries, err := fs.ReadDir(migrations, "migrations/"+dialect)
	if err != nil {
		return 0, err
	}
	newest := 0
	for _, e := range entries {
		num, _, _ := strings.Cut(e.Name(), "_")
		if v, err := strconv.Atoi(num); err == nil && v > newest {
			newest = v
		}
	}
	return newest, nil
}

// LockSQLite takes the lock an engine holds on its SQLite database (a
// flock on path+".lock") for as long as it runs, so that RestoreSQLite
// refuses to replace the file under it. It fails with ErrInUse if another
// holds it.
func LockSQLite(path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is locked by another engine", ErrInUse, path)
		}
		return nil, err
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}

// RestoreSQLite replaces the SQLite database at path by the backup at
// from, after checking it (CheckBackup), and returns where the database
// it replaced was kept (path + ".before-restore-<time>", with its -wal if
// it had one; "" if there was none). It refuses while the database is in
// use: locked by an engine (LockSQLite), or open anywhere (inUse).
func RestoreSQLite(ctx context.Context, path, from string) (aside string, version int, err error) {
	if version, err = CheckBackup(ctx, from); err != nil {
		return "", 0, err
	}
	unlock, err := LockSQLite(path)
	if err != nil {
		return "", 0, err
	}
	defer unlock()
	if busy, err := inUse(path); err != nil {
		return "", 0, err
	} else if busy {
		return "", 0, fmt.Errorf("%w: %s is open (stop the engine, or whatever else has it open)", ErrInUse, path)
	}
	// Copied next to its place first, then renamed: the database is either
	// the old file or the whole backup, never half of it.
	tmp := path + ".restoring"
	if err := copyFile(from, tmp); err != nil {
		os.Remove(tmp)
		return "", 0, err
	}
	if _, err := os.Stat(path); err == nil {
		aside = path + ".before-restore-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Rename(path, aside); err != nil {
			os.Remove(tmp)
			return "", 0, err
		}
		// Its log holds its last commits if it was not closed cleanly; it
		// goes with it. The -shm is an index, rebuilt on open.
		if err := os.Rename(path+"-wal", aside+"-wal"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return aside, 0, err
		}
		os.Remove(path + "-shm")
	}
	if err := os.Rename(tmp, path); err != nil {
		return aside, 0, err
	}
	return aside, version, syncDir(filepath.Dir(path))
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
