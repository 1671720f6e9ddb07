package restapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
)

// The engine's PKI as its clients and hosts reach it: oVirt's pki-resource
// (the CA certificate, unauthenticated, as oVirt serves it), the host
// enrolment endpoint (the one-time token is the credential; the flow is
// described in package pki), an action giving an administrator a host's
// enrolment token, and oVirt's enrollcertificate (renewal).

const pkiResource = "/ovirt-engine/services/pki-resource"

// hostEnroll is pki.EnrollPath (restapi does not import pki: the wire is
// JSON of EnrollRequest/EnrollAnswer's form).
const hostEnroll = "/ovirt-engine/services/host-enroll"

// servicesRequest is a request outside the authenticated API.
func servicesRequest(w http.ResponseWriter, r *http.Request) *request {
	return &request{w: w, r: r, json: wantsJSON(r), prefix: apiRoot}
}

// pkiResource answers the CA certificate in the one resource and format
// vwire has (oVirt's clients ask for exactly these).
func (s *Server) pkiResource(w http.ResponseWriter, r *http.Request) {
	q := servicesRequest(w, r)
	res, format := r.URL.Query().Get("resource"), r.URL.Query().Get("format")
	ca := s.eng.CACertificate()
	switch {
	case res != "ca-certificate":
		q.fault(vwire.New(vwire.MsgBadRequest, "detail", "Unknown resource '"+res+"'; this engine serves resource=ca-certificate."), false)
	case format != "X509-PEM-CA":
		q.fault(vwire.New(vwire.MsgBadRequest, "detail", "Unknown format '"+format+"'; this engine serves format=X509-PEM-CA."), false)
	case ca == nil:
		q.fault(vwire.New(vwire.MsgBadRequest, "detail", "This engine has no certificate authority (plain HTTP)."), false)
	default:
		w.Header().Set("Content-Type", "application/x-x509-ca-cert")
		w.Header().Set("Content-Disposition", `attachment; filename="ca.pem"`)
		w.Write(ca)
	}
}

type enrollRequest struct {
	Token string `json:"token"`
	CSR   string `json:"csr"`
}

type enrollAnswer struct {
	HostID      string `json:"host_id"`
	Certificate string `json:"certificate"`
	CA          string `json:"ca"`
}

// hostEnroll signs an agent's certificate request for the host of its
// one-time token.
func (s *Server) hostEnroll(w http.ResponseWriter, r *http.Request) {
	q := servicesRequest(w, r)
	var in enrollRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); err != nil {
		q.fault(vwire.New(vwire.MsgBadRequest, "detail", "The enrolment request is not JSON {token, csr}."), false)
		return
	}
	hostID, cert, err := s.eng.EnrollHost(r.Context(), in.Token, []byte(in.CSR))
	switch {
	case errors.Is(err, engine.ErrEnrolmentRefused), errors.Is(err, engine.ErrNoCA):
		s.log.WarnContext(r.Context(), "host enrolment refused", "remote", r.RemoteAddr, "err", err)
		q.fault(vwire.New(vwire.MsgBadRequest, "detail", err.Error()), false)
		return
	case err != nil:
		q.fault(err, false)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(enrollAnswer{HostID: hostID, Certificate: string(cert), CA: string(s.eng.CACertificate())})
}

// enrolmentToken is vwire's action giving a host a one-time enrolment
// token: <action><status>complete</status><enrollment_token>
// <value>…</value><expiration>…</expiration></enrollment_token></action>.
func (s *Server) enrolmentToken(q *request) error {
	token, exp, err := s.eng.EnrolmentToken(q.ctx(), q.r.PathValue("id"))
	if errors.Is(err, engine.ErrNoCA) {
		return vwire.New(vwire.MsgBadRequest, "detail", err.Error())
	}
	if err != nil {
		return err
	}
	q.done(el("enrollment_token", str("value", token), date("expiration", exp)))
	return nil
}

// enrollCertificate is oVirt's action: it renews an enrolled host's
// certificate over its mutual TLS, without downtime.
func (s *Server) enrollCertificate(q *request) error {
	h, err := s.eng.RenewHostCertificate(q.ctx(), q.r.PathValue("id"))
	if errors.Is(err, engine.ErrNoCA) {
		return vwire.New(vwire.MsgBadRequest, "detail", err.Error())
	}
	if err != nil {
		return err
	}
	q.done(q.hostNode(h))
	return nil
}
