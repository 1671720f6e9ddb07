package sqlstore

import (
	"database/sql"
	"time"

	"vwire.dev/vwire"
)

// ---- session tokens (SSO bearer tokens and persistent-auth cookies)

func (t *Tx) CreateToken(k *vwire.Token) error {
	_, err := t.exec(`INSERT INTO sso_tokens (token_hash, user_id, kind, created, last_used, idle_ms, expires)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, k.Hash, k.UserID, string(k.Kind), millis(k.Created), millis(k.LastUsed),
		k.Idle.Milliseconds(), millis(k.Expires))
	return err
}

func (t *Tx) Token(hash string) (*vwire.Token, *vwire.User, error) {
	var k vwire.Token
	var u vwire.User
	var kind string
	var created, used, idle, expires int64
	err := t.one("Token", "", func(r *sql.Row) error {
		return r.Scan(&k.Hash, &kind, &created, &used, &idle, &expires, &u.ID, &u.Name, &u.Domain, &u.PasswordHash)
	}, `SELECT s.token_hash, s.kind, s.created, s.last_used, s.idle_ms, s.expires, u.id, u.name, u.domain, u.password_hash
		FROM sso_tokens s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`, hash)
	if err != nil {
		return nil, nil, err
	}
	k.UserID, k.Kind = u.ID, vwire.TokenKind(kind)
	k.Created, k.LastUsed, k.Expires = fromMillis(created), fromMillis(used), fromMillis(expires)
	k.Idle = time.Duration(idle) * time.Millisecond
	return &k, &u, nil
}

// TouchToken never moves last_used back: two engines (or two requests)
// touching at once keep the later use.
func (t *Tx) TouchToken(hash string, used time.Time) error {
	_, err := t.exec(`UPDATE sso_tokens SET last_used = ? WHERE token_hash = ? AND last_used < ?`,
		millis(used), hash, millis(used))
	return err
}

func (t *Tx) DeleteExpiredTokens(now time.Time, defaultIdle time.Duration) error {
	_, err := t.exec(`DELETE FROM sso_tokens WHERE expires <= ?
		OR last_used + (CASE WHEN idle_ms > 0 THEN idle_ms ELSE ? END) <= ?`,
		millis(now), defaultIdle.Milliseconds(), millis(now))
	return err
}

func (t *Tx) DeleteToken(hash string) error {
	_, err := t.exec(`DELETE FROM sso_tokens WHERE token_hash = ?`, hash)
	return err
}

func (t *Tx) DeleteUserTokens(userID string) error {
	_, err := t.exec(`DELETE FROM sso_tokens WHERE user_id = ?`, userID)
	return err
}
