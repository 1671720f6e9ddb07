package sqlstore_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/internal/testenv"
	"vwire.dev/vwire/store/sqlstore"
	"vwire.dev/vwire/store/storetest"
)

func openPostgres(t *testing.T, url string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.OpenPostgres(context.Background(), url, sqlstore.PoolSizes{Read: 4, Write: 4, Lock: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestPostgres(t *testing.T) {
	urls := map[vwire.Store]string{}
	storetest.Run(t, func(t *testing.T) vwire.Store {
		u := testenv.Postgres(t)
		db := openPostgres(t, u)
		urls[db] = u
		return db
	}, func(t *testing.T, s vwire.Store) vwire.Store { return openPostgres(t, urls[s]) })
}

// TestPostgresProvisionalCommit: on PostgreSQL, a change marked in flight
// under vwire.Provisional turns its transaction's synchronous_commit off;
// the same mark without it, or a provisional transaction that marks
// nothing, keeps the setting it had (on).
func TestPostgresProvisionalCommit(t *testing.T) {
	db := openPostgres(t, testenv.Postgres(t))
	ctx := context.Background()
	level := func(ctx context.Context, mark bool) string {
		t.Helper()
		var got string
		if err := db.Update(ctx, func(tx vwire.Tx) error {
			// The change in flight names no real VM here; and the test's
			// server may run with synchronous_commit off: start from on.
			for _, q := range []string{"SELECT set_config('session_replication_role', 'replica', true)",
				"SELECT set_config('synchronous_commit', 'on', true)"} {
				if _, err := sqlstore.TxQueryForTest(tx, q); err != nil {
					return err
				}
			}
			if mark {
				if err := tx.SetPending(vwire.Pending{VMID: "vm1", EngineID: "e1", Started: time.Now(), OpID: "op1"}); err != nil {
					return err
				}
			}
			var err error
			got, err = sqlstore.TxQueryForTest(tx, "SHOW synchronous_commit")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := level(vwire.Provisional(ctx), true); got != "off" {
		t.Errorf("a provisional mark: synchronous_commit %q, want off", got)
	}
	if got := level(ctx, true); got != "on" {
		t.Errorf("a mark without Provisional: synchronous_commit %q, want on", got)
	}
	if got := level(vwire.Provisional(ctx), false); got != "on" {
		t.Errorf("a provisional transaction without a mark: synchronous_commit %q, want on", got)
	}
}

// TestPostgresOutOfConnections: a server with no connection left for the
// engine (here a role limited to two, PostgreSQL's SQLSTATE 53300 as for
// max_connections) is the store's DB_NO_CONNECTION, EUNAVAILABLE (a 503
// that says so), never a bare database error.
func TestPostgresOutOfConnections(t *testing.T) {
	u := testenv.Postgres(t)
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	role := "vwt_limited_" + strings.TrimPrefix(pu.Path, "/vwt_")[:8]
	admin, err := sqlstore.OpenPostgres(context.Background(), u, sqlstore.PoolSizes{Read: 2, Write: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE ROLE " + role + " LOGIN CONNECTION LIMIT 2",
		"GRANT ALL ON SCHEMA public TO " + role,
		"GRANT ALL ON ALL TABLES IN SCHEMA public TO " + role,
		"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO " + role,
	} {
		if err := admin.ExecForTest(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	admin.Close()
	t.Cleanup(func() {
		exec.Command("psql", os.Getenv("VWIRE_TEST_POSTGRES"), "-qc", "DROP ROLE IF EXISTS "+role).Run()
	})
	pu.User = url.User(role)
	db, err := sqlstore.OpenPostgres(context.Background(), pu.String(), sqlstore.PoolSizes{Read: 4, Write: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The write pool holds one connection; three readers at once need
	// three more than the role's two.
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- db.View(context.Background(), func(tx vwire.Tx) error {
				_, err := tx.DataCenters(vwire.DataCenterFilter{})
				time.Sleep(300 * time.Millisecond)
				return err
			})
		}()
	}
	wg.Wait()
	close(errs)
	refused := 0
	for err := range errs {
		if err == nil {
			continue
		}
		refused++
		if !vwire.IsKey(err, vwire.MsgDBNoConnection) || vwire.ErrorCode(err) != vwire.EUNAVAILABLE {
			t.Errorf("out of connections: %v (%s), want %s (%s)", err, vwire.ErrorCode(err), vwire.MsgDBNoConnection, vwire.EUNAVAILABLE)
		}
	}
	if refused == 0 {
		t.Error("three connections on a role limited to two: none refused")
	}
}

// TestPostgresPoolBudget: without sizes, an engine takes a quarter of the
// server's connections left to users, split between its pools.
func TestPostgresPoolBudget(t *testing.T) {
	db, err := sqlstore.OpenPostgres(context.Background(), testenv.Postgres(t), sqlstore.PoolSizes{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var maxConns, reserved int
	if err := db.View(context.Background(), func(tx vwire.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("psql", os.Getenv("VWIRE_TEST_POSTGRES"), "-Atc",
		"SELECT current_setting('max_connections') || ' ' || current_setting('superuser_reserved_connections')").Output()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Sscanf(string(out), "%d %d", &maxConns, &reserved)
	want := min(max((maxConns-reserved)/4, 4), 40)
	if s := db.Sizes; s.Total != want || s.Read+s.Write+s.Lock != want || s.Read < 1 || s.Write < 1 {
		t.Errorf("pools %+v for max_connections %d (reserved %d): want %d in all", s, maxConns, reserved, want)
	}
	sized, err := sqlstore.OpenPostgres(context.Background(), testenv.Postgres(t), sqlstore.PoolSizes{Total: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer sized.Close()
	if s := sized.Sizes; s.Total != 10 || s.Read+s.Write+s.Lock != 10 {
		t.Errorf("--db-max-conns 10: pools %+v", s)
	}
}
