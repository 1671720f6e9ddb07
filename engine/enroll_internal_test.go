package engine

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/store/sqlstore"
)

// downHost is a host that is never reached.
type downHost struct{}

func unreached() error {
	return &HostError{Kind: ErrHostUnreached, Reason: "down", Err: errors.New("down")}
}

func (downHost) Capabilities(context.Context) (HostCaps, error)            { return HostCaps{}, unreached() }
func (downHost) AllVMStats(context.Context) ([]HostVM, error)              { return nil, unreached() }
func (downHost) VMStats(context.Context, string) (HostVM, error)           { return HostVM{}, unreached() }
func (downHost) SetupNetworks(context.Context, []string, []string) error   { return unreached() }
func (downHost) ConfigureNetworks(context.Context, HostNetworkSetup) error { return unreached() }
func (downHost) ConfirmNetworks(context.Context) error                     { return unreached() }
func (downHost) CreateVM(context.Context, HostVMSpec) (HostVM, error)      { return HostVM{}, unreached() }
func (downHost) DestroyVM(context.Context, string) error                   { return unreached() }
func (downHost) HotplugNIC(context.Context, string, HostDevice) (HostNIC, error) {
	return HostNIC{}, unreached()
}
func (downHost) HotunplugNIC(context.Context, string, HostDevice) error { return unreached() }
func (downHost) UpdateNIC(context.Context, string, DeviceUpdate) (HostNIC, error) {
	return HostNIC{}, unreached()
}
func (downHost) Settle(context.Context, string, string) (HostVM, bool, error) {
	return HostVM{}, false, unreached()
}

type fakeSigner struct{}

func (fakeSigner) SignHost(csr []byte, hostID string) ([]byte, error) {
	if string(csr) != "csr" {
		return nil, errors.New("bad request")
	}
	return []byte("certificate of " + hostID), nil
}
func (fakeSigner) CACertificate() []byte { return []byte("ca") }

// TestEnrolmentTokens: a token enrols its own host once; an expired, a
// forged, a used or a replaced token is refused, and so is a bad request
// (which spends the token); the embedded host gets none.
func TestEnrolmentTokens(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "vwire.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := New(db, Options{Dial: func(*vwire.Host) HostClient { return downHost{} }, Signer: fakeSigner{}})
	defer e.Close()
	if _, err := e.Bootstrap(ctx, "pw"); err != nil {
		t.Fatal(err)
	}
	clusters, _ := e.Clusters(ctx, vwire.ClusterFilter{})
	h, err := e.AddHost(ctx, HostSpec{Name: "h1", Address: "192.0.2.1", ClusterID: clusters[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	e.now = func() time.Time { return now }

	tok, exp, err := e.EnrolmentToken(ctx, h.ID)
	if err != nil || !exp.Equal(now.Add(EnrolmentTokenTTL)) {
		t.Fatalf("token: %v, expires %v", err, exp)
	}
	e.now = func() time.Time { return now.Add(EnrolmentTokenTTL + time.Second) }
	if _, _, err := e.EnrollHost(ctx, tok, []byte("csr")); !errors.Is(err, ErrEnrolmentRefused) {
		t.Errorf("expired token: %v, want refused", err)
	}
	e.now = func() time.Time { return now }

	tok, _, _ = e.EnrolmentToken(ctx, h.ID)
	if _, _, err := e.EnrollHost(ctx, tok+"x", []byte("csr")); !errors.Is(err, ErrEnrolmentRefused) {
		t.Errorf("forged token: %v, want refused", err)
	}
	if _, _, err := e.EnrollHost(ctx, tok, []byte("garbage")); !errors.Is(err, ErrEnrolmentRefused) {
		t.Errorf("bad request: %v, want refused", err)
	}
	if _, _, err := e.EnrollHost(ctx, tok, []byte("csr")); !errors.Is(err, ErrEnrolmentRefused) {
		t.Errorf("token spent by a bad request: %v, want refused", err)
	}

	old, _, _ := e.EnrolmentToken(ctx, h.ID)
	tok, _, _ = e.EnrolmentToken(ctx, h.ID)
	if _, _, err := e.EnrollHost(ctx, old, []byte("csr")); !errors.Is(err, ErrEnrolmentRefused) {
		t.Errorf("replaced token: %v, want refused", err)
	}
	id, cert, err := e.EnrollHost(ctx, tok, []byte("csr"))
	if err != nil || id != h.ID || string(cert) != "certificate of "+h.ID {
		t.Fatalf("enrol: %q %q %v", id, cert, err)
	}
	if _, _, err := e.EnrollHost(ctx, tok, []byte("csr")); !errors.Is(err, ErrEnrolmentRefused) {
		t.Errorf("second use: %v, want refused", err)
	}
	if _, _, err := e.EnrollHost(ctx, "", []byte("csr")); !errors.Is(err, ErrEnrolmentRefused) {
		t.Errorf("empty token: %v, want refused", err)
	}

	local, err := e.RegisterEmbeddedHost(ctx, "127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.EnrolmentToken(ctx, local.ID); !vwire.IsKey(err, vwire.MsgEmbeddedHost) {
		t.Errorf("embedded host token: %v, want %s", err, vwire.MsgEmbeddedHost)
	}
	noCA := New(db, Options{Dial: func(*vwire.Host) HostClient { return downHost{} }})
	if _, _, err := noCA.EnrolmentToken(ctx, h.ID); !errors.Is(err, ErrNoCA) {
		t.Errorf("engine without CA: %v, want ErrNoCA", err)
	}
}
