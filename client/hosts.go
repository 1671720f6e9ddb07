package client

import (
	"context"
	"encoding/xml"
	"fmt"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
)

// UpdateHost changes a host's fields set in h (e.g. its port, once its
// agent listens) and returns the host as the engine answers.
func (c *Client) UpdateHost(ctx context.Context, id string, h *ovirtsdk4.Host) (*ovirtsdk4.Host, error) {
	return write(c, ctx, "PUT", "/hosts/"+esc(id), h, ovirtsdk4.XMLHostWriteOne, ovirtsdk4.XMLHostReadOne)
}

// EnrolmentToken is a host's one-time enrolment token (vwire's, not
// oVirt's: the SDK has no service for it): its agent presents it once,
// with its certificate request, to be enrolled (package pki).
type EnrolmentToken struct {
	Value      string
	Expiration time.Time
}

// HostEnrolmentToken asks the engine for a new one-time enrolment token of
// a host (POST /hosts/{id}/enrolmenttoken), replacing any earlier one.
func (c *Client) HostEnrolmentToken(ctx context.Context, hostID string) (*EnrolmentToken, error) {
	body, err := encode(ovirtsdk4.XMLActionWriteOne, ovirtsdk4.NewActionBuilder().MustBuild())
	if err != nil {
		return nil, err
	}
	data, err := c.call(ctx, "POST", "/hosts/"+esc(hostID)+"/enrolmenttoken", body)
	if err != nil {
		return nil, err
	}
	// <action><status>complete</status><enrollment_token><value>…</value>
	// <expiration>…</expiration></enrollment_token></action>
	var x struct {
		Token *struct {
			Value      string `xml:"value"`
			Expiration string `xml:"expiration"`
		} `xml:"enrollment_token"`
	}
	if err := xml.Unmarshal(data, &x); err != nil {
		return nil, fmt.Errorf("reading the engine's answer: %w", err)
	}
	if x.Token == nil || x.Token.Value == "" {
		return nil, fmt.Errorf("reading the engine's answer: no enrollment_token value in %.200q", data)
	}
	tok := &EnrolmentToken{Value: x.Token.Value}
	if x.Token.Expiration != "" {
		if tok.Expiration, err = time.Parse("2006-01-02T15:04:05.000-07:00", x.Token.Expiration); err != nil {
			return nil, fmt.Errorf("reading the engine's answer: expiration: %w", err)
		}
	}
	return tok, nil
}
