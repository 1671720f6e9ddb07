package client

import (
	"context"
	"encoding/xml"
	"fmt"
	"strconv"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
)

// vwire's extensions to oVirt's API, which the SDK's types do not carry:
// written with encoding/xml, read back with the SDK where it can.

// DriftPolicy reads a cluster's drift policy (report or enforce).
func (c *Client) DriftPolicy(ctx context.Context, clusterID string) (string, error) {
	data, err := c.call(ctx, "GET", "/clusters/"+esc(clusterID), nil)
	if err != nil {
		return "", err
	}
	var x struct {
		DriftPolicy string `xml:"drift_policy"`
	}
	if err := xml.Unmarshal(data, &x); err != nil {
		return "", fmt.Errorf("reading the engine's answer: %w", err)
	}
	return x.DriftPolicy, nil
}

// SetDriftPolicy sets a cluster's drift policy and returns the one the
// engine answers with.
func (c *Client) SetDriftPolicy(ctx context.Context, clusterID, policy string) (string, error) {
	body, err := xml.Marshal(struct {
		XMLName     xml.Name `xml:"cluster"`
		DriftPolicy string   `xml:"drift_policy"`
	}{DriftPolicy: policy})
	if err != nil {
		return "", err
	}
	data, err := c.call(ctx, "PUT", "/clusters/"+esc(clusterID), body)
	if err != nil {
		return "", err
	}
	var x struct {
		DriftPolicy string `xml:"drift_policy"`
	}
	if err := xml.Unmarshal(data, &x); err != nil {
		return "", fmt.Errorf("reading the engine's answer: %w", err)
	}
	return x.DriftPolicy, nil
}

// ProfileSpec is a new vNIC profile with vwire's guest notification of a
// network move.
type ProfileSpec struct {
	Name string
	// GuestNotification is none, link_bounce or announce ("": the default).
	GuestNotification string
	// LinkBounceHold is how long link_bounce holds the link down (0: the
	// default).
	LinkBounceHold time.Duration
}

// AddProfile adds a vNIC profile to a network.
func (c *Client) AddProfile(ctx context.Context, networkID string, p ProfileSpec) (*ovirtsdk4.VnicProfile, error) {
	x := struct {
		XMLName           xml.Name `xml:"vnic_profile"`
		Name              string   `xml:"name"`
		GuestNotification string   `xml:"guest_notification,omitempty"`
		LinkBounceHold    string   `xml:"link_bounce_hold,omitempty"`
	}{Name: p.Name, GuestNotification: p.GuestNotification}
	if p.LinkBounceHold > 0 {
		x.LinkBounceHold = strconv.FormatInt(p.LinkBounceHold.Milliseconds(), 10)
	}
	body, err := xml.Marshal(x)
	if err != nil {
		return nil, err
	}
	data, err := c.call(ctx, "POST", "/networks/"+esc(networkID)+"/vnicprofiles", body)
	if err != nil {
		return nil, err
	}
	return decode(data, ovirtsdk4.XMLVnicProfileReadOne)
}
