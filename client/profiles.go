package client

import (
	"context"
	"encoding/xml"
	"fmt"
	"strconv"
	"time"
)

// Notification is a vNIC profile's guest notification of a network move
// (vwire's extension): none, link_bounce or announce, and link_bounce's
// hold.
type Notification struct {
	Mode string
	Hold time.Duration
}

// ProfileNotification reads a vNIC profile's guest notification.
func (c *Client) ProfileNotification(ctx context.Context, profileID string) (Notification, error) {
	data, err := c.call(ctx, "GET", "/vnicprofiles/"+esc(profileID), nil)
	if err != nil {
		return Notification{}, err
	}
	var x struct {
		Mode string `xml:"guest_notification"`
		Hold string `xml:"link_bounce_hold"`
	}
	if err := xml.Unmarshal(data, &x); err != nil {
		return Notification{}, fmt.Errorf("reading the engine's answer: %w", err)
	}
	n := Notification{Mode: x.Mode}
	if x.Hold != "" {
		ms, err := strconv.ParseInt(x.Hold, 10, 64)
		if err != nil {
			return Notification{}, fmt.Errorf("reading the engine's answer: link_bounce_hold %q", x.Hold)
		}
		n.Hold = time.Duration(ms) * time.Millisecond
	}
	return n, nil
}
