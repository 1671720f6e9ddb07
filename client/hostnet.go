package client

import (
	"context"
	"encoding/xml"
	"fmt"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
)

// Host networks (issue 16): a host's NICs, its network attachments,
// oVirt's setupnetworks and syncallnetworks, and vwire's overlay segment
// on a network (<vxlan_segment>, which the SDK's Network lacks).

// HostNICs lists a host's NICs and bonds as the host last reported them.
func (c *Client) HostNICs(ctx context.Context, hostID string) ([]*ovirtsdk4.HostNic, error) {
	return list(c, ctx, "/hosts/"+esc(hostID)+"/nics", ovirtsdk4.XMLHostNicReadMany)
}

// NetworkAttachments lists a host's network attachments, with in_sync and
// the reported configurations.
func (c *Client) NetworkAttachments(ctx context.Context, hostID string) ([]*ovirtsdk4.NetworkAttachment, error) {
	return list(c, ctx, "/hosts/"+esc(hostID)+"/networkattachments", ovirtsdk4.XMLNetworkAttachmentReadMany)
}

// SetupNetworks is oVirt's setupnetworks: attachments to add or change
// (network and host_nic by id or name; an existing one by its id) and
// attachments to remove (by id). A timeout above zero asks for the
// connectivity check with that timeout.
func (c *Client) SetupNetworks(ctx context.Context, hostID string, modified []*ovirtsdk4.NetworkAttachment, removed []string,
	connectivity time.Duration) error {
	b := ovirtsdk4.NewActionBuilder()
	if len(modified) > 0 {
		b.ModifiedNetworkAttachmentsOfAny(modified...)
	}
	if len(removed) > 0 {
		rs := make([]*ovirtsdk4.NetworkAttachment, len(removed))
		for i, id := range removed {
			rs[i] = ovirtsdk4.NewNetworkAttachmentBuilder().Id(id).MustBuild()
		}
		b.RemovedNetworkAttachmentsOfAny(rs...)
	}
	if connectivity > 0 {
		b.CheckConnectivity(true).ConnectivityTimeout(int64(connectivity / time.Second))
	}
	body, err := encode(ovirtsdk4.XMLActionWriteOne, b.MustBuild())
	if err != nil {
		return err
	}
	_, err = c.call(ctx, "POST", "/hosts/"+esc(hostID)+"/setupnetworks", body)
	return err
}

// SyncAllNetworks re-applies every attachment of a host as defined.
func (c *Client) SyncAllNetworks(ctx context.Context, hostID string) error {
	body, err := encode(ovirtsdk4.XMLActionWriteOne, ovirtsdk4.NewActionBuilder().MustBuild())
	if err != nil {
		return err
	}
	_, err = c.call(ctx, "POST", "/hosts/"+esc(hostID)+"/syncallnetworks", body)
	return err
}

// NetworkVXLAN reads a network's overlay segment (0: none).
func (c *Client) NetworkVXLAN(ctx context.Context, networkID string) (int, error) {
	data, err := c.call(ctx, "GET", "/networks/"+esc(networkID), nil)
	if err != nil {
		return 0, err
	}
	var x struct {
		VXLAN int `xml:"vxlan_segment"`
	}
	if err := xml.Unmarshal(data, &x); err != nil {
		return 0, fmt.Errorf("reading the engine's answer: %w", err)
	}
	return x.VXLAN, nil
}

// SetNetworkVXLAN sets a network's overlay segment (0: none); the engine
// re-applies the network on every host carrying it.
func (c *Client) SetNetworkVXLAN(ctx context.Context, networkID string, vni int) error {
	body, err := xml.Marshal(struct {
		XMLName xml.Name `xml:"network"`
		VXLAN   int      `xml:"vxlan_segment"`
	}{VXLAN: vni})
	if err != nil {
		return err
	}
	_, err = c.call(ctx, "PUT", "/networks/"+esc(networkID), body)
	return err
}
