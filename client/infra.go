package client

import (
	"context"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
)

// Data centers, clusters, networks (and their attachment to clusters),
// vNIC profiles' removal, VMs' removal: the calls of the CLI's
// infrastructure commands, in oVirt's API and the SDK's types.

// list reads a collection with one of the SDK's readers.
func list[S interface{ Slice() []T }, T any](c *Client, ctx context.Context, path string,
	read func(*ovirtsdk4.XMLReader, *xmlStart) (S, error)) ([]T, error) {
	data, err := c.call(ctx, "GET", path, nil)
	if err != nil {
		return nil, err
	}
	s, err := decodeMany(data, read)
	if err != nil {
		return nil, err
	}
	return s.Slice(), nil
}

// remove deletes one object of a collection by id.
func (c *Client) remove(ctx context.Context, path string) error {
	_, err := c.call(ctx, "DELETE", path, nil)
	return err
}

// DataCenters lists the data centers.
func (c *Client) DataCenters(ctx context.Context) ([]*ovirtsdk4.DataCenter, error) {
	return list(c, ctx, "/datacenters", ovirtsdk4.XMLDataCenterReadMany)
}

// DataCenter reads a data center.
func (c *Client) DataCenter(ctx context.Context, id string) (*ovirtsdk4.DataCenter, error) {
	data, err := c.call(ctx, "GET", "/datacenters/"+esc(id), nil)
	if err != nil {
		return nil, err
	}
	return decode(data, ovirtsdk4.XMLDataCenterReadOne)
}

// AddDataCenter creates a data center.
func (c *Client) AddDataCenter(ctx context.Context, dc *ovirtsdk4.DataCenter) (*ovirtsdk4.DataCenter, error) {
	return write(c, ctx, "POST", "/datacenters", dc, ovirtsdk4.XMLDataCenterWriteOne, ovirtsdk4.XMLDataCenterReadOne)
}

// RemoveDataCenter removes a data center.
func (c *Client) RemoveDataCenter(ctx context.Context, id string) error {
	return c.remove(ctx, "/datacenters/"+esc(id))
}

// Clusters lists the clusters.
func (c *Client) Clusters(ctx context.Context) ([]*ovirtsdk4.Cluster, error) {
	return list(c, ctx, "/clusters", ovirtsdk4.XMLClusterReadMany)
}

// AddCluster creates a cluster (in the data center it names).
func (c *Client) AddCluster(ctx context.Context, cl *ovirtsdk4.Cluster) (*ovirtsdk4.Cluster, error) {
	return write(c, ctx, "POST", "/clusters", cl, ovirtsdk4.XMLClusterWriteOne, ovirtsdk4.XMLClusterReadOne)
}

// RemoveCluster removes a cluster.
func (c *Client) RemoveCluster(ctx context.Context, id string) error {
	return c.remove(ctx, "/clusters/"+esc(id))
}

// ClusterNetworks lists the networks attached to a cluster.
func (c *Client) ClusterNetworks(ctx context.Context, clusterID string) ([]*ovirtsdk4.Network, error) {
	return list(c, ctx, "/clusters/"+esc(clusterID)+"/networks", ovirtsdk4.XMLNetworkReadMany)
}

// DetachNetwork detaches a network from a cluster.
func (c *Client) DetachNetwork(ctx context.Context, clusterID, networkID string) error {
	return c.remove(ctx, "/clusters/"+esc(clusterID)+"/networks/"+esc(networkID))
}

// Networks lists the networks.
func (c *Client) Networks(ctx context.Context) ([]*ovirtsdk4.Network, error) {
	return list(c, ctx, "/networks", ovirtsdk4.XMLNetworkReadMany)
}

// RemoveNetwork removes a network (with its vNIC profiles).
func (c *Client) RemoveNetwork(ctx context.Context, id string) error {
	return c.remove(ctx, "/networks/"+esc(id))
}

// RemoveProfile removes a vNIC profile.
func (c *Client) RemoveProfile(ctx context.Context, id string) error {
	return c.remove(ctx, "/vnicprofiles/"+esc(id))
}

// RemoveVM removes a VM (it must be down).
func (c *Client) RemoveVM(ctx context.Context, id string) error {
	return c.remove(ctx, "/vms/"+esc(id))
}
