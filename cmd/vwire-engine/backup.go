package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"vwire.dev/vwire/app"
	"vwire.dev/vwire/store/sqlstore"
)

// backup copies the engine's SQLite database while the engine may run:
// vwire-engine backup --data DIR --to FILE. With --db (PostgreSQL) it
// prints the pg_dump command to use instead, and fails: vwire does not
// copy a shared database behind PostgreSQL's own tools.
func backup(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "./vwire-data", "directory of the embedded SQLite database")
	db := fs.String("db", os.Getenv("VWIRE_DB"), "PostgreSQL URL: prints the pg_dump command to use")
	to := fs.String("to", "", "file to write the backup to (must not exist)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *db != "" {
		fmt.Fprintln(stderr, "vwire-engine backup: a PostgreSQL database is backed up with pg_dump (consistent while engines run); for example:")
		fmt.Fprintf(stderr, "  pg_dump -Fc -f %s '%s'\n", orDefault(*to, "vwire.dump"), redact(*db))
		fmt.Fprintf(stderr, "and restored, engines stopped, into an empty database with:\n  pg_restore --clean --if-exists --no-owner -d '%s' %s\n", redact(*db), orDefault(*to, "vwire.dump"))
		return 2
	}
	if *to == "" {
		fmt.Fprintln(stderr, "vwire-engine backup: --to FILE is required")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	path := filepath.Join(*data, app.SQLiteFile)
	if err := sqlstore.BackupSQLite(ctx, path, *to); err != nil {
		fmt.Fprintln(stderr, "vwire-engine backup:", err)
		return 1
	}
	v, err := sqlstore.CheckBackup(ctx, *to)
	if err != nil {
		fmt.Fprintln(stderr, "vwire-engine backup: the copy does not read back:", err)
		return 1
	}
	fmt.Fprintf(stdout, "backed up %s to %s (schema version %d)\n", path, *to, v)
	return 0
}

// restore puts a backup in place of the engine's SQLite database, keeping
// the one it replaces: vwire-engine restore --data DIR --from FILE. The
// engine must be stopped.
func restore(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "./vwire-data", "directory of the embedded SQLite database")
	from := fs.String("from", "", "backup file (made by vwire-engine backup)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *from == "" {
		fmt.Fprintln(stderr, "vwire-engine restore: --from FILE is required")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	path := filepath.Join(*data, app.SQLiteFile)
	aside, v, err := sqlstore.RestoreSQLite(ctx, path, *from)
	if err != nil {
		fmt.Fprintln(stderr, "vwire-engine restore:", err)
		if errors.Is(err, sqlstore.ErrInUse) {
			fmt.Fprintln(stderr, "vwire-engine restore: stop the engine first (systemctl stop vwire-engine)")
		}
		return 1
	}
	fmt.Fprintf(stdout, "restored %s from %s (schema version %d)\n", path, *from, v)
	if aside != "" {
		fmt.Fprintf(stdout, "the database it replaced is kept as %s\n", aside)
	}
	return 0
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// redact drops a password from a database URL before it is printed.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
