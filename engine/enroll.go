package engine

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"vwire.dev/vwire"
)

// Host enrolment (the flow is described in package pki): the engine hands
// out one-time tokens for a host, and signs the certificate request that
// comes with a valid token, naming the token's host. The engine keeps only
// the tokens' hashes; it never sees a host's key.

// EnrolmentTokenTTL is how long an enrolment token stays valid.
const EnrolmentTokenTTL = time.Hour

// ErrEnrolmentRefused: the enrolment token is unknown, used or expired, or
// the request is malformed. Nothing was signed.
var ErrEnrolmentRefused = errors.New("enrolment refused: the token is unknown, used or expired")

// ErrNoCA: this engine has no CA (started without TLS), so it enrols nobody.
var ErrNoCA = errors.New("this engine has no certificate authority (started with plain HTTP to hosts)")

var opEnrollHost = vwire.Op{Action: "enroll certificate of", Type: "Host"}

// EnrolmentToken makes a host's one-time enrolment token (replacing any
// earlier one) and tells when it expires. The embedded host needs none.
func (e *Engine) EnrolmentToken(ctx context.Context, hostID string) (string, time.Time, error) {
	// A token makes a host trusted: the host's own configuration permit.
	if err := e.authorize(ctx, opEnrollHost, on(vwire.PermitEditHostConfiguration, vwire.ObjHost, hostID)); err != nil {
		return "", time.Time{}, err
	}
	if e.signer == nil {
		return "", time.Time{}, ErrNoCA
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", time.Time{}, err
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	expires := e.now().Add(EnrolmentTokenTTL)
	err := e.store.Update(ctx, func(tx vwire.Tx) error {
		h, err := tx.Host(hostID)
		if err != nil {
			return err
		}
		if h.Embedded {
			return vwire.Fail(opEnrollHost, vwire.MsgEmbeddedHost)
		}
		return tx.SetEnrolmentToken(h.ID, tokenHash(token), expires)
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return token, expires, nil
}

// EnrollHost uses up token and signs csrPEM for the token's host. Any
// failure of the token is ErrEnrolmentRefused, whatever the reason, so that
// an attacker learns nothing; a bad request after a valid token spends the
// token too (the host asks for a new one).
func (e *Engine) EnrollHost(ctx context.Context, token string, csrPEM []byte) (hostID string, certPEM []byte, err error) {
	if e.signer == nil {
		return "", nil, ErrNoCA
	}
	if token == "" || len(token) > 256 {
		return "", nil, ErrEnrolmentRefused
	}
	err = e.store.Update(ctx, func(tx vwire.Tx) (err error) {
		hostID, err = tx.TakeEnrolmentToken(tokenHash(token), e.now())
		return err
	})
	if vwire.ErrorCode(err) == vwire.ENOTFOUND {
		return "", nil, ErrEnrolmentRefused
	}
	if err != nil {
		return "", nil, err
	}
	certPEM, err = e.signer.SignHost(csrPEM, hostID)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", ErrEnrolmentRefused, err)
	}
	e.log.InfoContext(ctx, "host enrolled", "host", hostID)
	return hostID, certPEM, nil
}

// RenewHostCertificate gives an enrolled host a new certificate over its
// current mutual TLS, without downtime: the host makes a new key and
// request, the engine signs it for the host's id, the host serves it to
// its next connections (oVirt's enrollcertificate).
func (e *Engine) RenewHostCertificate(ctx context.Context, hostID string) (*vwire.Host, error) {
	if err := e.authorize(ctx, opEnrollHost, on(vwire.PermitEditHostConfiguration, vwire.ObjHost, hostID)); err != nil {
		return nil, err
	}
	if e.signer == nil {
		return nil, ErrNoCA
	}
	h, err := e.Host(ctx, hostID)
	if err != nil {
		return nil, err
	}
	if h.Embedded {
		return nil, vwire.Fail(opEnrollHost, vwire.MsgEmbeddedHost)
	}
	generic := "Cannot renew the certificate of host " + h.Name + "."
	r, ok := e.client(h).(HostCertRenewer)
	if !ok {
		return nil, hostError(generic, h, errors.New("its client cannot renew certificates"))
	}
	hctx, cancel := context.WithTimeout(ctx, e.hostTimeout)
	defer cancel()
	csr, err := r.CertificateRequest(hctx)
	if err != nil {
		return nil, hostError(generic, h, err)
	}
	cert, err := e.signer.SignHost(csr, h.ID)
	if err != nil {
		return nil, hostError(generic, h, err)
	}
	if err := r.InstallCertificate(hctx, cert); err != nil {
		return nil, hostError(generic, h, err)
	}
	e.log.InfoContext(ctx, "host certificate renewed", "host", h.Name)
	return h, nil
}

// CACertificate is the engine's CA certificate (PEM) as clients fetch it
// (pki-resource); nil without a CA.
func (e *Engine) CACertificate() []byte {
	if e.signer == nil {
		return nil
	}
	return e.signer.CACertificate()
}
