package sqlstore

import (
	"strconv"
	"strings"
)

// where builds the WHERE clause of a filtered list from the fields a
// filter sets. Columns are constants of this package, values are always
// bound parameters; the statement text depends only on which fields are
// set, so the prepared-statement cache holds a handful per list.
type where struct {
	conds []string
	args  []any
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
	b.WriteString(orderBy)
	if max > 0 {
		b.WriteString(" LIMIT ")
		b.WriteString(strconv.Itoa(max))
	}
	return b.String()
}
