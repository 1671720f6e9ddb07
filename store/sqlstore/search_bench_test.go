package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"vwire.dev/vwire"
	"vwire.dev/vwire/internal/testenv"
	"vwire.dev/vwire/store/sqlstore"
)

// BenchmarkSearchVMs measures a client's VM searches in SQL on 10,000 VMs
// against what the API did before: list every VM and match in Go. Run with
// VWIRE_BENCH_POSTGRES=1 (and VWIRE_TEST_POSTGRES) for PostgreSQL.
func BenchmarkSearchVMs(b *testing.B) {
	const n = 10000
	var s vwire.Store
	if os.Getenv("VWIRE_BENCH_POSTGRES") != "" {
		s = openBenchPostgres(b, testenv.Postgres(b))
	} else {
		db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "vwire.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		s = db
	}
	ctx := context.Background()
	pool := &vwire.MACPool{ID: uuid.NewString(), Name: "p", Ranges: []vwire.MACRange{{}}}
	dc := &vwire.DataCenter{ID: uuid.NewString(), Name: "dc", Version: vwire.Version{Major: 4, Minor: 8}, MACPoolID: pool.ID}
	cl := &vwire.Cluster{ID: uuid.NewString(), Name: "cl", DataCenterID: dc.ID, Version: vwire.Version{Major: 4, Minor: 8}, MACPoolID: pool.ID}
	err := s.Update(ctx, func(tx vwire.Tx) error {
		if err := tx.CreateMACPool(pool); err != nil {
			return err
		}
		if err := tx.CreateDataCenter(dc); err != nil {
			return err
		}
		if err := tx.CreateCluster(cl); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			st := vwire.VMDown
			if i%10 == 0 {
				st = vwire.VMUp
			}
			v := &vwire.VM{ID: uuid.NewString(), Name: fmt.Sprintf("vm-%05d", i), ClusterID: cl.ID, TemplateID: vwire.BlankTemplateID,
				Status: st, Memory: 1 << 30, OSType: "other", CreatedAt: time.Now()}
			if err := tx.CreateVM(v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	eq := func(f, v string) *vwire.SearchExpr { return &vwire.SearchExpr{Op: vwire.SearchEq, Field: f, Value: v} }
	for _, bc := range []struct {
		name string
		f    vwire.VMFilter
		want int
	}{
		{"name=x (go-ovirt-client, Ansible)", vwire.VMFilter{Search: vwire.Search{Where: &vwire.SearchExpr{Op: vwire.SearchAnd,
			Kids: []*vwire.SearchExpr{eq("name", "VM-04242"), {Op: vwire.SearchOr, Kids: []*vwire.SearchExpr{eq("status", "down"), eq("status", "up")}}}}}}, 1},
		{"name=vm-0424*", vwire.VMFilter{Search: vwire.Search{Where: eq("name", "vm-0424*")}}, 10},
		{"cluster=cl and status=up, sortby name desc, page 3 of 20", vwire.VMFilter{Max: 20, Search: vwire.Search{
			Where:  &vwire.SearchExpr{Op: vwire.SearchAnd, Kids: []*vwire.SearchExpr{eq("cluster", "CL"), eq("status", "up")}},
			SortBy: "name", Desc: true, Page: 3}}, 20},
		{"every VM (the old way: match in Go after)", vwire.VMFilter{}, n},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				err := s.View(ctx, func(tx vwire.Tx) error {
					l, err := tx.VMs(bc.f)
					if err == nil && len(l) != bc.want {
						err = fmt.Errorf("%d VMs, want %d", len(l), bc.want)
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func openBenchPostgres(b testing.TB, url string) *sqlstore.DB {
	db, err := sqlstore.OpenPostgres(context.Background(), url, sqlstore.PoolSizes{Read: 4, Write: 4, Lock: 8})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}
