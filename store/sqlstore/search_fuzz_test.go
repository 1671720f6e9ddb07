package sqlstore_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"vwire.dev/vwire"
	"vwire.dev/vwire/internal/testenv"
	"vwire.dev/vwire/store/sqlstore"
)

// fuzzVM is a VM as the search sees it, for the reference evaluation.
type fuzzVM struct {
	id, name, description, status, cluster, host string
	memoryMB                                     int64
}

// fuzzWorld is a store with VMs whose names hold what LIKE and case
// folding must get right: %, _, \, quotes, ASCII cases, other letters.
type fuzzWorld struct {
	s   vwire.Store
	vms []fuzzVM
}

var fuzzValues = []string{"", "*", "a*", "*b", "A%B", "a_b", `a\b`, "ab", "AB", "Ab*", "ȺB", "ⱥb", "*%*", "*_*", `*\*`,
	"o'brien", "a?b", "[a]*", "*?*", "*[*", "down", "UP", "d*", "c1", "C2", "h1", "x", "100", "2048", "-1", "web*", "WEB1"}

func newFuzzWorld(t testing.TB, s vwire.Store) *fuzzWorld {
	w := &fuzzWorld{s: s}
	ctx := context.Background()
	pool := &vwire.MACPool{ID: uuid.NewString(), Name: "p", Ranges: []vwire.MACRange{{}}}
	dc := &vwire.DataCenter{ID: uuid.NewString(), Name: "dc", Version: vwire.Version{Major: 4, Minor: 8}, MACPoolID: pool.ID}
	c1 := &vwire.Cluster{ID: uuid.NewString(), Name: "c1", DataCenterID: dc.ID, Version: vwire.Version{Major: 4, Minor: 8}, MACPoolID: pool.ID}
	c2 := &vwire.Cluster{ID: uuid.NewString(), Name: "C2", DataCenterID: dc.ID, Version: vwire.Version{Major: 4, Minor: 8}, MACPoolID: pool.ID}
	h1 := &vwire.Host{ID: uuid.NewString(), Name: "h1", ClusterID: c1.ID, Address: "192.0.2.1", Port: 1, Status: vwire.HostUp}
	names := []string{"a%b", "a_b", `a\b`, "ab", "AB", "Ab", "axb", "ȺB", "ⱥb", "o'brien", "web1", "WEB2", "%", "_", "a?b", "[a]", "A?B", ""}
	err := s.Update(ctx, func(tx vwire.Tx) error {
		for _, fn := range []func() error{
			func() error { return tx.CreateMACPool(pool) },
			func() error { return tx.CreateDataCenter(dc) },
			func() error { return tx.CreateCluster(c1) },
			func() error { return tx.CreateCluster(c2) },
			func() error { return tx.CreateHost(h1) },
		} {
			if err := fn(); err != nil {
				return err
			}
		}
		for i, n := range names {
			if n == "" {
				continue // names are required
			}
			v := fuzzVM{id: uuid.NewString(), name: n, description: names[(i+3)%len(names)], status: []string{"down", "up"}[i%2],
				cluster: []string{"c1", "C2"}[i%3%2], memoryMB: int64(512 << (i % 4))}
			cl := c1.ID
			if v.cluster == "C2" {
				cl = c2.ID
			}
			var host string
			if v.status == "up" {
				host, v.host = h1.ID, "h1"
			}
			w.vms = append(w.vms, v)
			err := tx.CreateVM(&vwire.VM{ID: v.id, Name: v.name, Description: v.description, ClusterID: cl, TemplateID: vwire.BlankTemplateID,
				Status: vwire.VMStatus(v.status), HostID: host, Memory: v.memoryMB << 20, OSType: "other", CreatedAt: time.UnixMilli(1)})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// expr decodes a search tree from fuzz bytes, at most depth joins deep.
func fuzzExpr(data []byte, pos *int, depth int, extra string) *vwire.SearchExpr {
	next := func() int {
		if *pos >= len(data) {
			return 0
		}
		b := int(data[*pos])
		*pos++
		return b
	}
	k := next()
	if depth < 3 && k%5 < 2 {
		e := &vwire.SearchExpr{Op: []vwire.SearchOp{vwire.SearchAnd, vwire.SearchOr}[k%5]}
		n := 2 + next()%2
		for i := 0; i < n; i++ {
			e.Kids = append(e.Kids, fuzzExpr(data, pos, depth+1, extra))
		}
		return e
	}
	fields := []string{"name", "description", "status", "cluster", "host", "memory"}
	f := fields[next()%len(fields)]
	ops := []vwire.SearchOp{vwire.SearchEq, vwire.SearchNe, vwire.SearchLt, vwire.SearchLe, vwire.SearchGt, vwire.SearchGe}
	op := ops[next()%len(ops)]
	if f == "status" {
		op = ops[next()%2]
	}
	vi := next()
	v := extra
	if vi < 250 {
		v = fuzzValues[vi%len(fuzzValues)]
	}
	if f == "memory" {
		v = strconv.Itoa([]int{512, 1024, 2048, 4096, 0, -1}[vi%6])
	} else if op != vwire.SearchEq && op != vwire.SearchNe {
		v = strings.ReplaceAll(v, "*", "")
	}
	return &vwire.SearchExpr{Op: op, Field: f, Value: v}
}

// fold and like are the reference: ASCII letters fold, * is any run.
func fold(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

func like(p, s string) bool {
	if p == "" {
		return s == ""
	}
	if p[0] == '*' {
		for i := 0; i <= len(s); i++ {
			if like(p[1:], s[i:]) {
				return true
			}
		}
		return false
	}
	return s != "" && p[0] == s[0] && like(p[1:], s[1:])
}

func (v fuzzVM) match(e *vwire.SearchExpr, exact bool) bool {
	switch e.Op {
	case vwire.SearchAnd:
		for _, k := range e.Kids {
			if !v.match(k, exact) {
				return false
			}
		}
		return true
	case vwire.SearchOr:
		for _, k := range e.Kids {
			if v.match(k, exact) {
				return true
			}
		}
		return false
	}
	if e.Field == "memory" {
		n, _ := strconv.ParseInt(e.Value, 10, 64)
		m := v.memoryMB
		return map[vwire.SearchOp]bool{vwire.SearchEq: m == n, vwire.SearchNe: m != n, vwire.SearchLt: m < n,
			vwire.SearchLe: m <= n, vwire.SearchGt: m > n, vwire.SearchGe: m >= n}[e.Op]
	}
	col := map[string]string{"name": v.name, "description": v.description, "status": v.status, "cluster": v.cluster, "host": v.host}[e.Field]
	c, p := fold(col), fold(e.Value)
	if exact && e.Field != "status" {
		c, p = col, e.Value
	}
	switch e.Op {
	case vwire.SearchEq:
		return like(p, c)
	case vwire.SearchNe:
		return !like(p, c)
	case vwire.SearchLt:
		return c < p
	case vwire.SearchLe:
		return c <= p
	case vwire.SearchGt:
		return c > p
	}
	return c >= p
}

// FuzzSearchSQL: a search tree the store runs selects exactly the VMs a
// plain Go evaluation of the same tree selects, in the same order, on
// SQLite (and on PostgreSQL with VWIRE_FUZZ_POSTGRES=1): the translation
// to SQL, the escaping for LIKE and the case folding agree with their
// definition, whatever the values.
func FuzzSearchSQL(f *testing.F) {
	f.Add([]byte{0, 2, 0, 0, 3, 1, 0, 5, 1, 2}, "x")
	f.Add([]byte{1, 3, 0, 3, 4, 0, 0, 1, 7, 2, 1, 250}, "a%_\\*")
	f.Add([]byte{4, 0, 2, 251}, "ȺB")
	var s vwire.Store
	if os.Getenv("VWIRE_FUZZ_POSTGRES") != "" {
		s = openBenchPostgres(f, testenv.Postgres(f))
	} else {
		db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(f.TempDir(), "vwire.db"))
		if err != nil {
			f.Fatal(err)
		}
		f.Cleanup(func() { db.Close() })
		s = db
	}
	w := newFuzzWorld(f, s)
	f.Fuzz(func(t *testing.T, data []byte, extra string) {
		if strings.ContainsRune(extra, 0) || !utf8.ValidString(extra) {
			extra = "x"
		}
		pos := 0
		e := fuzzExpr(data, &pos, 0, extra)
		exact := len(data) > 0 && data[len(data)-1]&0x80 != 0
		var want []string
		for _, v := range w.vms {
			if v.match(e, exact) {
				want = append(want, v.id)
			}
		}
		// The store orders by name (bytes); so does this.
		slices.SortFunc(want, func(a, b string) int { return strings.Compare(w.name(a), w.name(b)) })
		var got []string
		err := w.s.View(context.Background(), func(tx vwire.Tx) error {
			l, err := tx.VMs(vwire.VMFilter{Search: vwire.Search{Where: e, CaseSensitive: exact}})
			for _, v := range l {
				got = append(got, v.ID)
			}
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", show(e), err)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("%s (case-sensitive %v): store %v, reference %v", show(e), exact, w.names(got), w.names(want))
		}
	})
}

func (w *fuzzWorld) name(id string) string {
	for _, v := range w.vms {
		if v.id == id {
			return v.name
		}
	}
	return ""
}

func (w *fuzzWorld) names(ids []string) []string {
	out := []string{}
	for _, id := range ids {
		out = append(out, w.name(id))
	}
	return out
}

func show(e *vwire.SearchExpr) string {
	switch e.Op {
	case vwire.SearchAnd, vwire.SearchOr:
		parts := []string{}
		for _, k := range e.Kids {
			parts = append(parts, show(k))
		}
		return "(" + strings.Join(parts, map[vwire.SearchOp]string{vwire.SearchAnd: " and ", vwire.SearchOr: " or "}[e.Op]) + ")"
	}
	op := map[vwire.SearchOp]string{vwire.SearchEq: "=", vwire.SearchNe: "!=", vwire.SearchLt: "<",
		vwire.SearchLe: "<=", vwire.SearchGt: ">", vwire.SearchGe: ">="}[e.Op]
	return e.Field + op + strconv.Quote(e.Value)
}
