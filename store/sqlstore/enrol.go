package sqlstore

import (
	"database/sql"
	"time"

	"vwire.dev/vwire"
)

func (t *Tx) SetEnrolmentToken(hostID, hash string, expires time.Time) error {
	_, err := t.exec(`INSERT INTO host_enrolments (host_id, token_hash, expires) VALUES (?, ?, ?)
		ON CONFLICT (host_id) DO UPDATE SET token_hash = excluded.token_hash, expires = excluded.expires`,
		hostID, hash, millis(expires))
	return err
}

func (t *Tx) TakeEnrolmentToken(hash string, now time.Time) (string, error) {
	var hostID string
	var expires int64
	if err := t.one("EnrolmentToken", "", func(r *sql.Row) error { return r.Scan(&hostID, &expires) },
		`SELECT host_id, expires FROM host_enrolments WHERE token_hash = ?`, hash); err != nil {
		return "", err
	}
	if expires <= millis(now) {
		// Not deleted: the caller's transaction fails with this; the row
		// is harmless and replaced by the host's next token.
		return "", vwire.NotFound("EnrolmentToken", "")
	}
	// A token works once.
	_, err := t.exec(`DELETE FROM host_enrolments WHERE token_hash = ?`, hash)
	return hostID, err
}
