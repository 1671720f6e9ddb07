package storetest

import (
	"testing"
	"time"

	"vwire.dev/vwire"
)

// testEnrolmentTokens: a host's enrolment token is found by its hash once,
// a second use, an expired token and a replaced token are not found, and
// a removed host takes its token with it.
func testEnrolmentTokens(t *testing.T, s vwire.Store) {
	f := newFixture(t, s)
	now := time.UnixMilli(1700000000000)
	take := func(hash string, at time.Time) (string, error) {
		var id string
		err := s.Update(ctx(), func(tx vwire.Tx) (err error) { id, err = tx.TakeEnrolmentToken(hash, at); return })
		return id, err
	}
	set := func(hash string, expires time.Time) {
		update(t, s, func(tx vwire.Tx) error { return tx.SetEnrolmentToken(f.host.ID, hash, expires) })
	}
	set("h1", now.Add(time.Hour))
	if id, err := take("h1", now); err != nil || id != f.host.ID {
		t.Fatalf("take valid token: %q, %v", id, err)
	}
	if _, err := take("h1", now); code(err) != vwire.ENOTFOUND {
		t.Errorf("second use: err = %v, want not found", err)
	}
	set("h2", now.Add(time.Hour))
	if _, err := take("h2", now.Add(2*time.Hour)); code(err) != vwire.ENOTFOUND {
		t.Errorf("expired token: err = %v, want not found", err)
	}
	set("h3", now.Add(time.Hour))
	set("h4", now.Add(time.Hour)) // replaces h3
	if _, err := take("h3", now); code(err) != vwire.ENOTFOUND {
		t.Errorf("replaced token: err = %v, want not found", err)
	}
	if _, err := take("nope", now); code(err) != vwire.ENOTFOUND {
		t.Errorf("unknown token: err = %v, want not found", err)
	}
	update(t, s, func(tx vwire.Tx) error {
		if err := tx.DeleteVM(f.vm.ID); err != nil {
			return err
		}
		return tx.DeleteHost(f.host.ID)
	})
	if _, err := take("h4", now); code(err) != vwire.ENOTFOUND {
		t.Errorf("token of a removed host: err = %v, want not found", err)
	}
}
