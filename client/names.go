package client

import (
	"context"
	"encoding/xml"
	"fmt"
)

// Names lists the id and name of every object of a collection
// (datacenters, clusters, networks, hosts, templates, vms, vnicprofiles,
// users) that the user may see: what shell completion offers.
func (c *Client) Names(ctx context.Context, collection string) ([]Named, error) {
	data, err := c.call(ctx, "GET", "/"+esc(collection), nil)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Items []Named `xml:",any"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("reading the engine's answer: %w", err)
	}
	return doc.Items, nil
}
