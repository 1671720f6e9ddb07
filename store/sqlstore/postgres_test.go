package sqlstore_test

import (
	"context"
	"testing"

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
