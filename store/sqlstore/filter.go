package sqlstore

import (
	"database/sql"
	"strconv"
	"strings"
)

// where builds the WHERE clause of a filtered list from the fields a
// filter sets. Columns are constants of this package, values are always
// bound parameters; the statement text depends only on which fields are
// set, so the prepared-statement cache holds a handful per list. A
// client's search (search.go) adds its condition, order and page; its
// text depends on the search's shape, which clients choose, so such a
// statement is not cached (adhoc).
type where struct {
	conds []string
	args  []any
	// order goes before the list's own order; offset skips rows (a page).
	order  string
	offset int
	adhoc  bool
	err    error
}

// eq adds "col = v" when v is set.
func (w *where) eq(col, v string) *where {
	if v != "" {
		w.conds = append(w.conds, col+" = ?")
		w.args = append(w.args, v)
	}
	return w
}

// sql returns the clause (empty when nothing filters), then the order and
// the limit (max 0: all).
func (w *where) sql(orderBy string, max int) string {
	var b strings.Builder
	if len(w.conds) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(w.conds, " AND "))
	}
	b.WriteString(" ORDER BY ")
	if w.order != "" {
		b.WriteString(w.order)
		b.WriteString(", ")
	}
	b.WriteString(orderBy)
	if max > 0 {
		b.WriteString(" LIMIT ")
		b.WriteString(strconv.Itoa(max))
		if w.offset > 0 {
			b.WriteString(" OFFSET ")
			b.WriteString(strconv.Itoa(w.offset))
		}
	}
	return b.String()
}

// listWhere runs a filtered list: selectFrom, then the clause.
func listWhere[T any](t *Tx, w *where, scan func(*sql.Rows) (T, error), selectFrom, orderBy string, max int) ([]T, error) {
	if w.err != nil {
		return nil, w.err
	}
	query := selectFrom + w.sql(orderBy, max)
	if !w.adhoc {
		return list(t, scan, query, w.args...)
	}
	rows, err := t.q.QueryContext(t.ctx, t.db.d.rebind(query), w.args...)
	if err != nil {
		return nil, t.db.translate(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, t.db.translate(err)
		}
		out = append(out, v)
	}
	return out, t.db.translate(rows.Err())
}
