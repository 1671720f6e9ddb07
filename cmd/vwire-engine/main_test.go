package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/app"
)

// TestBackupRestoreWhileEngineRuns: vwire-engine backup copies the
// database while an engine writes to it; restore refuses the running
// engine's database, and into a new data directory gives a database an
// engine opens with the same schema version and every row the backup
// caught, with none half-written.
func TestBackupRestoreWhileEngineRuns(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: dir, AdminPassword: "secret", PollInterval: time.Hour, Out: io.Discard}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// One writer, so the data centers the backup has are dc-0 to dc-k.
	var made atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := m.Engine.AddDataCenter(ctx, &vwire.DataCenter{Name: fmt.Sprintf("dc-%d", i)}); err != nil {
				t.Error(err)
				return
			}
			made.Add(1)
		}
	}()
	for made.Load() < 20 {
		time.Sleep(5 * time.Millisecond)
	}
	before := made.Load()
	file := filepath.Join(t.TempDir(), "vwire.backup")
	var out, errb bytes.Buffer
	if rc := backup([]string{"--data", dir, "--to", file}, &out, &errb); rc != 0 {
		t.Fatalf("backup: %d %s", rc, errb.String())
	}
	close(stop)
	wg.Wait()
	if !strings.Contains(out.String(), "schema version") {
		t.Fatalf("backup said %q", out.String())
	}
	out.Reset()
	errb.Reset()
	if rc := restore([]string{"--data", dir, "--from", file}, &out, &errb); rc != 1 || !strings.Contains(errb.String(), "in use") {
		t.Fatalf("restore under a running engine: %d %s", rc, errb.String())
	}

	fresh := t.TempDir()
	if rc := restore([]string{"--data", fresh, "--from", file}, &out, &errb); rc != 0 {
		t.Fatalf("restore: %d %s", rc, errb.String())
	}
	m2 := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: fresh, PollInterval: time.Hour, Out: io.Discard}
	if err := m2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	want, err := app.OpenStore(ctx, "", dir, 0) // the running engine's, read beside it
	if err != nil {
		t.Fatal(err)
	}
	wv, err := want.SchemaVersion(ctx)
	want.Close()
	if err != nil {
		t.Fatal(err)
	}
	got, err := app.OpenStore(ctx, "", fresh, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if gv, err := got.SchemaVersion(ctx); err != nil || gv != wv {
		t.Fatalf("restored schema version %d, %v; want %d", gv, err, wv)
	}
	dcs, err := m2.Engine.DataCenters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, dc := range dcs {
		if strings.HasPrefix(dc.Name, "dc-") {
			names = append(names, dc.Name)
		}
	}
	if int64(len(names)) < before {
		t.Fatalf("restored %d data centers, the backup began after %d", len(names), before)
	}
	for i := range names {
		if !slices.Contains(names, fmt.Sprintf("dc-%d", i)) {
			t.Fatalf("restored data centers are not dc-0 to dc-%d: %v", len(names)-1, names)
		}
	}
	if !slices.ContainsFunc(dcs, func(dc *vwire.DataCenter) bool { return dc.Name == "Default" }) {
		t.Fatal("the bootstrap's data center is not in the restored database")
	}

	// Over an existing database, once its engine is stopped: the old one
	// is kept aside.
	m.Close()
	out.Reset()
	if rc := restore([]string{"--data", dir, "--from", file}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "kept as") {
		t.Fatalf("restore over a stopped engine's database: %d %s %s", rc, out.String(), errb.String())
	}
}

// TestBackupPostgres: with --db, backup names pg_dump and its command,
// without the URL's password, and fails.
func TestBackupPostgres(t *testing.T) {
	var out, errb bytes.Buffer
	rc := backup([]string{"--db", "postgres://vwire:s3cret@db/vwire", "--to", "x.dump"}, &out, &errb)
	if rc == 0 || !strings.Contains(errb.String(), "pg_dump -Fc -f x.dump 'postgres://vwire:xxxxx@db/vwire'") ||
		!strings.Contains(errb.String(), "pg_restore") || strings.Contains(errb.String(), "s3cret") {
		t.Fatalf("backup --db: %d %q", rc, errb.String())
	}
}

// TestExampleConfig: deploy/vwire-engine.yaml sets the engine's flags (it
// names no unknown key and every value parses), and a flag on the command
// line wins over it.
func TestExampleConfig(t *testing.T) {
	fs := flag.NewFlagSet("vwire-engine", flag.ContinueOnError)
	m, config, logger := engineFlags(fs)
	if err := fs.Parse([]string{"--config", "../../deploy/vwire-engine.yaml", "--poll-interval", "7s"}); err != nil {
		t.Fatal(err)
	}
	if err := config(); err != nil {
		t.Fatal(err)
	}
	if _, err := logger(); err != nil {
		t.Fatal(err)
	}
	if m.Listen != "0.0.0.0:8443" || m.DataDir != "/var/lib/vwire" || m.PollInterval != 7*time.Second || m.EmbeddedHost {
		t.Fatalf("from the example: %+v", m)
	}
}
