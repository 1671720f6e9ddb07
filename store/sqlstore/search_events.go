package sqlstore

import (
	"database/sql"

	"vwire.dev/vwire"
)

// FindEvents lists the events a filter selects, its search applied in SQL,
// newest first unless the search sorts them (ties newest first).
func (t *Tx) FindEvents(f vwire.EventFilter) ([]*vwire.Event, error) {
	w := new(where)
	w.conds, w.args = append(w.conds, "events.id > ?"), append(w.args, f.From)
	if f.Before > 0 {
		w.conds, w.args = append(w.conds, "events.id < ?"), append(w.args, f.Before)
	}
	w.search(t.db.d, vwire.SearchEvents, f.Search, f.Max)
	return listWhere(t, w, func(r *sql.Rows) (*vwire.Event, error) { return scanEvent(r) },
		`SELECT `+eventCols+` FROM events`, "id DESC", f.Max)
}
