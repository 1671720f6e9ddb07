package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// testTokens covers session tokens: what a token keeps, its use (touch),
// the sweep by absolute and idle expiry, and revocation one by one and per
// user (password change, removal).
func testTokens(t *testing.T, s vwire.Store) {
	u := &vwire.User{ID: uuid.NewString(), Name: "u" + uuid.NewString()[:6], Domain: "internal", PasswordHash: "h"}
	now := time.UnixMilli(1_800_000_000_000)
	tok := func(hash, user string, kind vwire.TokenKind, used time.Time, idle time.Duration, expires time.Time) *vwire.Token {
		return &vwire.Token{Hash: hash, UserID: user, Kind: kind, Created: now.Add(-time.Hour), LastUsed: used, Idle: idle, Expires: expires}
	}
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.CreateUser(u); err != nil {
			return err
		}
		for _, k := range []*vwire.Token{
			tok("live", u.ID, vwire.TokenSSO, now, 0, now.Add(time.Hour)),
			tok("cookie", u.ID, vwire.TokenSession, now.Add(-10*time.Minute), 5*time.Minute, now.Add(time.Hour)),
			tok("old", u.ID, vwire.TokenSSO, now, 0, now.Add(-time.Second)),
			tok("idle", u.ID, vwire.TokenSSO, now.Add(-31*time.Minute), 0, now.Add(time.Hour)),
		} {
			if err := tx.CreateToken(k); err != nil {
				return err
			}
		}
		return nil
	})
	s.View(ctx(), func(tx vwire.Tx) error {
		k, got, err := tx.Token("cookie")
		if err != nil || got.ID != u.ID || got.Name != u.Name || got.PasswordHash != "h" {
			t.Fatalf("token user: %+v, %v", got, err)
		}
		want := tok("cookie", u.ID, vwire.TokenSession, now.Add(-10*time.Minute), 5*time.Minute, now.Add(time.Hour))
		if !k.Created.Equal(want.Created) || !k.LastUsed.Equal(want.LastUsed) || !k.Expires.Equal(want.Expires) ||
			k.Idle != want.Idle || k.Kind != want.Kind || k.UserID != u.ID || k.Hash != "cookie" {
			t.Errorf("token = %+v, want %+v", k, want)
		}
		if _, _, err := tx.Token("nope"); code(err) != vwire.ENOTFOUND {
			t.Errorf("unknown token: err = %v, want not found", err)
		}
		return nil
	})
	// A touch moves last use forward, never back.
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.TouchToken("live", now.Add(2*time.Minute)); err != nil {
			return err
		}
		return tx.TouchToken("live", now.Add(time.Minute))
	})
	s.View(ctx(), func(tx vwire.Tx) error {
		if k, _, err := tx.Token("live"); err != nil || !k.LastUsed.Equal(now.Add(2*time.Minute)) {
			t.Errorf("touched token: %+v, %v", k, err)
		}
		return nil
	})
	// The sweep takes the past-end token, the one idle past the default
	// 30 minutes and the cookie idle past its own 5; it keeps the live one.
	update(t, s, func(tx vwire.Tx) error { return tx.DeleteExpiredTokens(now, 30*time.Minute) })
	s.View(ctx(), func(tx vwire.Tx) error {
		for _, h := range []string{"old", "idle", "cookie"} {
			if _, _, err := tx.Token(h); code(err) != vwire.ENOTFOUND {
				t.Errorf("expired token %s survived the sweep: %v", h, err)
			}
		}
		if _, _, err := tx.Token("live"); err != nil {
			t.Errorf("live token swept: %v", err)
		}
		return nil
	})
	update(t, s, func(tx vwire.Tx) error { return tx.DeleteToken("live") })
	s.View(ctx(), func(tx vwire.Tx) error {
		if _, _, err := tx.Token("live"); code(err) != vwire.ENOTFOUND {
			t.Errorf("deleted token: err = %v", err)
		}
		return nil
	})
	other := &vwire.User{ID: uuid.NewString(), Name: "o" + uuid.NewString()[:6], Domain: "internal", PasswordHash: "h"}
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.CreateUser(other); err != nil {
			return err
		}
		for _, k := range []*vwire.Token{
			tok("u1", u.ID, vwire.TokenSSO, now, 0, now.Add(time.Hour)),
			tok("u2", u.ID, vwire.TokenSession, now, 0, now.Add(time.Hour)),
			tok("o1", other.ID, vwire.TokenSSO, now, 0, now.Add(time.Hour)),
		} {
			if err := tx.CreateToken(k); err != nil {
				return err
			}
		}
		return tx.DeleteUserTokens(u.ID)
	})
	s.View(ctx(), func(tx vwire.Tx) error {
		for _, h := range []string{"u1", "u2"} {
			if _, _, err := tx.Token(h); code(err) != vwire.ENOTFOUND {
				t.Errorf("token %s of a user whose tokens were revoked: err = %v", h, err)
			}
		}
		if _, got, err := tx.Token("o1"); err != nil || got.ID != other.ID {
			t.Errorf("another user's token: %v, %v", got, err)
		}
		if got, err := tx.UserByName(u.Name, "internal"); err != nil || got.PasswordHash != "h" {
			t.Errorf("user by name: %v, %v", got, err)
		}
		return nil
	})
}
