package sqlstore

import (
	"database/sql"
	"strconv"
	"time"

	"vwire.dev/vwire"
)

const eventCols = `id, code, severity, description, time, user_name, vm_id, host_id, cluster_id, data_center_id, template_id, correlation_id`

func scanEvent(s interface{ Scan(...any) error }) (*vwire.Event, error) {
	var e vwire.Event
	var at int64
	if err := s.Scan(&e.ID, &e.Code, &e.Severity, &e.Description, &at, &e.UserName, &e.VMID, &e.HostID,
		&e.ClusterID, &e.DataCenterID, &e.TemplateID, &e.CorrelationID); err != nil {
		return nil, err
	}
	e.Time = fromMillis(at)
	return &e, nil
}

// AddEvent writes an audit row and sets its id.
func (t *Tx) AddEvent(e *vwire.Event) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	// RETURNING works on SQLite ≥ 3.35 and PostgreSQL alike.
	q := `INSERT INTO events (code, severity, description, time, user_name, vm_id, host_id,
		cluster_id, data_center_id, template_id, correlation_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	if t.db.pgURL != "" {
		// The id goes to every engine's listener when the transaction
		// commits; notified in the same round trip as the insert.
		q = `WITH e AS (` + q + `) SELECT e.id FROM e, pg_notify('` + eventsChannel + `', e.id::text) AS n`
	}
	err := t.row(q, e.Code, string(e.Severity), e.Description, millis(e.Time), e.UserName, e.VMID, e.HostID, e.ClusterID,
		e.DataCenterID, e.TemplateID, e.CorrelationID).Scan(&e.ID)
	if err != nil {
		return t.db.translate(err)
	}
	t.addedEvents = true
	return nil
}

func (t *Tx) Events(from int64, max int) ([]*vwire.Event, error) {
	q, args := `SELECT `+eventCols+` FROM events WHERE id > ? ORDER BY id DESC`, []any{from}
	if max > 0 {
		q, args = q+` LIMIT ?`, append(args, max)
	}
	return list(t, func(r *sql.Rows) (*vwire.Event, error) { return scanEvent(r) }, q, args...)
}

func (t *Tx) Event(id int64) (*vwire.Event, error) {
	var e *vwire.Event
	err := t.one("Event", strconv.FormatInt(id, 10), func(r *sql.Row) (err error) { e, err = scanEvent(r); return },
		`SELECT `+eventCols+` FROM events WHERE id = ?`, id)
	return e, err
}

// ---- users and SSO tokens

func (t *Tx) UserByName(name, domain string) (*vwire.User, error) {
	var u vwire.User
	err := t.one("User", name+"@"+domain, func(r *sql.Row) error {
		return r.Scan(&u.ID, &u.Name, &u.Domain, &u.PasswordHash)
	}, `SELECT id, name, domain, password_hash FROM users WHERE name = ? AND domain = ?`, name, domain)
	return &u, err
}

func (t *Tx) CreateUser(u *vwire.User) error {
	_, err := t.exec(`INSERT INTO users (id, name, domain, password_hash) VALUES (?, ?, ?, ?)`, u.ID, u.Name, u.Domain, u.PasswordHash)
	return err
}

func (t *Tx) UpdateUser(u *vwire.User) error {
	return t.execOne("User", u.ID, `UPDATE users SET password_hash = ? WHERE id = ?`, u.PasswordHash, u.ID)
}
