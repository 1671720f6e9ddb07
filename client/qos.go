package client

import (
	"context"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
)

// A data center's network QoS entities (oVirt's /datacenters/{id}/qoss),
// in the SDK's Qos type: name, description, type (network), and
// inbound/outbound average and peak in Mbit/s, burst in MB. On an update
// a value of -1 clears it (oVirt's rule); a direction is all three values
// or none.

func qossPath(dcID string) string { return "/datacenters/" + esc(dcID) + "/qoss" }

// QoSs lists a data center's QoS entities.
func (c *Client) QoSs(ctx context.Context, dcID string) ([]*ovirtsdk4.Qos, error) {
	return list(c, ctx, qossPath(dcID), ovirtsdk4.XMLQosReadMany)
}

// QoS reads a QoS entity of a data center.
func (c *Client) QoS(ctx context.Context, dcID, id string) (*ovirtsdk4.Qos, error) {
	data, err := c.call(ctx, "GET", qossPath(dcID)+"/"+esc(id), nil)
	if err != nil {
		return nil, err
	}
	return decode(data, ovirtsdk4.XMLQosReadOne)
}

// FindQoS resolves a QoS entity of a data center by id or exact name.
func (c *Client) FindQoS(ctx context.Context, dcID, ref string) (*ovirtsdk4.Qos, error) {
	qs, err := c.QoSs(ctx, dcID)
	if err != nil {
		return nil, err
	}
	return pick("QoS", ref, qs)
}

// AddQoS creates a QoS entity in a data center; a QoS without a type is
// a network QoS (AddQoS sets q's type).
func (c *Client) AddQoS(ctx context.Context, dcID string, q *ovirtsdk4.Qos) (*ovirtsdk4.Qos, error) {
	if _, ok := q.Type(); !ok {
		q.SetType(ovirtsdk4.QOSTYPE_NETWORK)
	}
	return write(c, ctx, "POST", qossPath(dcID), q, ovirtsdk4.XMLQosWriteOne, ovirtsdk4.XMLQosReadOne)
}

// UpdateQoS changes the fields q sets (oVirt's merge on PUT).
func (c *Client) UpdateQoS(ctx context.Context, dcID, id string, q *ovirtsdk4.Qos) (*ovirtsdk4.Qos, error) {
	return write(c, ctx, "PUT", qossPath(dcID)+"/"+esc(id), q, ovirtsdk4.XMLQosWriteOne, ovirtsdk4.XMLQosReadOne)
}

// RemoveQoS removes a QoS entity; the profiles that used it have none.
func (c *Client) RemoveQoS(ctx context.Context, dcID, id string) error {
	return c.remove(ctx, qossPath(dcID)+"/"+esc(id))
}

// NetworkFilters lists the network filters profiles may name.
func (c *Client) NetworkFilters(ctx context.Context) ([]*ovirtsdk4.NetworkFilter, error) {
	return list(c, ctx, "/networkfilters", ovirtsdk4.XMLNetworkFilterReadMany)
}
