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

// ProfileSpec is a new vNIC profile: oVirt's port mirroring, QoS,
// network filter and pass-through, and vwire's guest notification of a
// network move.
type ProfileSpec struct {
	Name string
	// GuestNotification is none, link_bounce or announce ("": the default).
	GuestNotification string
	// LinkBounceHold is how long link_bounce holds the link down (0: the
	// default).
	LinkBounceHold time.Duration
	PortMirroring  bool
	// QoSID is a QoS entity of the network's data center ("": none).
	QoSID string
	// NetworkFilter names a network filter by name or id; nil is the
	// engine's default (oVirt's vdsm-no-mac-spoofing), "" none.
	NetworkFilter *string
	// PassThrough makes the profile's vNICs host devices (oVirt's
	// pass_through mode enabled), which have no mirroring, QoS or filter.
	PassThrough bool
}

// profileXML is a profile body: the fields the SDK writes for a profile,
// and vwire's own, with oVirt's clearing forms (<qos/>, <network_filter/>).
type profileXML struct {
	XMLName           xml.Name        `xml:"vnic_profile"`
	Name              string          `xml:"name,omitempty"`
	Description       *string         `xml:"description"`
	PortMirroring     *bool           `xml:"port_mirroring"`
	QoS               *idRef          `xml:"qos"`
	NetworkFilter     *filterRef      `xml:"network_filter"`
	PassThrough       *passThroughXML `xml:"pass_through"`
	GuestNotification string          `xml:"guest_notification,omitempty"`
	LinkBounceHold    string          `xml:"link_bounce_hold,omitempty"`
}

type idRef struct {
	ID string `xml:"id,attr,omitempty"`
}

// filterRef names a filter by id (a UUID) or by name; empty is none.
type filterRef struct {
	ID   string `xml:"id,attr,omitempty"`
	Name string `xml:"name,omitempty"`
}

func filterRefOf(ref string) *filterRef {
	if isUUID(ref) {
		return &filterRef{ID: ref}
	}
	return &filterRef{Name: ref}
}

type passThroughXML struct {
	Mode string `xml:"mode"`
}

func passThroughOf(on bool) *passThroughXML {
	if on {
		return &passThroughXML{Mode: "enabled"}
	}
	return &passThroughXML{Mode: "disabled"}
}

// AddProfile adds a vNIC profile to a network.
func (c *Client) AddProfile(ctx context.Context, networkID string, p ProfileSpec) (*ovirtsdk4.VnicProfile, error) {
	x := profileXML{Name: p.Name, GuestNotification: p.GuestNotification}
	if p.LinkBounceHold > 0 {
		x.LinkBounceHold = strconv.FormatInt(p.LinkBounceHold.Milliseconds(), 10)
	}
	if p.PortMirroring {
		x.PortMirroring = &p.PortMirroring
	}
	if p.QoSID != "" {
		x.QoS = &idRef{ID: p.QoSID}
	}
	if p.NetworkFilter != nil {
		x.NetworkFilter = filterRefOf(*p.NetworkFilter)
	}
	if p.PassThrough {
		x.PassThrough = passThroughOf(true)
	}
	return c.writeProfile(ctx, "POST", "/networks/"+esc(networkID)+"/vnicprofiles", x)
}

// ProfileUpdate changes a vNIC profile: nil fields keep their value.
type ProfileUpdate struct {
	Description   *string
	PortMirroring *bool
	// QoSID names a QoS entity of the network's data center; "" clears it.
	QoSID *string
	// NetworkFilter names a network filter by name or id; "" is none.
	NetworkFilter *string
	PassThrough   *bool
}

// UpdateProfile changes a vNIC profile.
func (c *Client) UpdateProfile(ctx context.Context, id string, u ProfileUpdate) (*ovirtsdk4.VnicProfile, error) {
	x := profileXML{Description: u.Description, PortMirroring: u.PortMirroring}
	if u.QoSID != nil {
		x.QoS = &idRef{ID: *u.QoSID}
	}
	if u.NetworkFilter != nil {
		x.NetworkFilter = filterRefOf(*u.NetworkFilter)
	}
	if u.PassThrough != nil {
		x.PassThrough = passThroughOf(*u.PassThrough)
	}
	return c.writeProfile(ctx, "PUT", "/vnicprofiles/"+esc(id), x)
}

func (c *Client) writeProfile(ctx context.Context, method, path string, x profileXML) (*ovirtsdk4.VnicProfile, error) {
	body, err := xml.Marshal(x)
	if err != nil {
		return nil, err
	}
	data, err := c.call(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	return decode(data, ovirtsdk4.XMLVnicProfileReadOne)
}

// isUUID tells an id (8-4-4-4-12 hex digits) from a name.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if r != '-' {
				return false
			}
		case !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F'):
			return false
		}
	}
	return true
}
