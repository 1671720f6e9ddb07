package client

import (
	"context"
	"encoding/xml"
	"fmt"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
)

// NIC is a vNIC as the SDK reads it, with vwire's report of the device
// its host last saw (<reported_state>, which the SDK's Nic does not have:
// oVirt reports devices in a separate collection).
type NIC struct {
	*ovirtsdk4.Nic
	// Reported is nil if the engine has no report of the vNIC's host yet.
	Reported *ReportedState
}

// ReportedState is what the host last reported of a vNIC's device.
type ReportedState struct {
	Present    bool   `xml:"present" json:"present"`
	LinkState  string `xml:"link_state" json:"link_state,omitempty"` // up or down
	Bridge     string `xml:"bridge" json:"bridge,omitempty"`
	Alias      string `xml:"alias" json:"alias,omitempty"`
	PCIAddress string `xml:"pci_address" json:"pci_address,omitempty"`
	MAC        string `xml:"mac" json:"mac,omitempty"`
	Interface  string `xml:"interface" json:"interface,omitempty"`
	// What the host applied of the vNIC's profile (issue 15), and the
	// host's reason the vNIC's desired state could not be applied.
	PortMirroring bool            `xml:"port_mirroring" json:"port_mirroring,omitempty"`
	QoS           *ReportedQoS    `xml:"qos" json:"qos,omitempty"`
	NetworkFilter *ReportedFilter `xml:"network_filter" json:"network_filter,omitempty"`
	Error         string          `xml:"error" json:"error,omitempty"`
}

// ReportedQoS is the limits a host applied, in oVirt's units (Mbit/s, MB);
// 0 is none.
type ReportedQoS struct {
	InboundAverage  int `xml:"inbound_average" json:"inbound_average,omitempty"`
	InboundPeak     int `xml:"inbound_peak" json:"inbound_peak,omitempty"`
	InboundBurst    int `xml:"inbound_burst" json:"inbound_burst,omitempty"`
	OutboundAverage int `xml:"outbound_average" json:"outbound_average,omitempty"`
	OutboundPeak    int `xml:"outbound_peak" json:"outbound_peak,omitempty"`
	OutboundBurst   int `xml:"outbound_burst" json:"outbound_burst,omitempty"`
}

// ReportedFilter is the nwfilter a host applied, with its parameters.
type ReportedFilter struct {
	Name       string `xml:"name" json:"name"`
	Parameters []struct {
		Name  string `xml:"name" json:"name"`
		Value string `xml:"value" json:"value"`
	} `xml:"parameters>parameter" json:"parameters,omitempty"`
}

// nicReport is the part of a <nic> the SDK skips.
type nicReport struct {
	ID       string         `xml:"id,attr"`
	Reported *ReportedState `xml:"reported_state"`
}

func decodeNIC(data []byte) (*NIC, error) {
	n, err := decode(data, ovirtsdk4.XMLNicReadOne)
	if err != nil {
		return nil, err
	}
	var r nicReport
	if err := xml.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("reading the engine's answer: %w", err)
	}
	return &NIC{Nic: n, Reported: r.Reported}, nil
}

// NICs lists a VM's vNICs.
func (c *Client) NICs(ctx context.Context, vmID string) ([]*NIC, error) {
	data, err := c.call(ctx, "GET", "/vms/"+esc(vmID)+"/nics", nil)
	if err != nil {
		return nil, err
	}
	s, err := decodeMany(data, ovirtsdk4.XMLNicReadMany)
	if err != nil {
		return nil, err
	}
	var rs struct {
		NICs []nicReport `xml:"nic"`
	}
	if err := xml.Unmarshal(data, &rs); err != nil {
		return nil, fmt.Errorf("reading the engine's answer: %w", err)
	}
	reports := map[string]*ReportedState{}
	for _, r := range rs.NICs {
		reports[r.ID] = r.Reported
	}
	out := make([]*NIC, 0, len(s.Slice()))
	for _, n := range s.Slice() {
		id, _ := n.Id()
		out = append(out, &NIC{Nic: n, Reported: reports[id]})
	}
	return out, nil
}

// NIC reads a vNIC.
func (c *Client) NIC(ctx context.Context, vmID, nicID string) (*NIC, error) {
	data, err := c.call(ctx, "GET", "/vms/"+esc(vmID)+"/nics/"+esc(nicID), nil)
	if err != nil {
		return nil, err
	}
	return decodeNIC(data)
}

// FindNIC resolves a VM's vNIC by id or name.
func (c *Client) FindNIC(ctx context.Context, vmID, ref string) (*NIC, error) {
	nics, err := c.NICs(ctx, vmID)
	if err != nil {
		return nil, err
	}
	return pick("vNIC", ref, nics)
}

// AddNIC adds a vNIC to a VM.
func (c *Client) AddNIC(ctx context.Context, vmID string, n *ovirtsdk4.Nic) (*NIC, error) {
	return c.writeNIC(ctx, "POST", "/vms/"+esc(vmID)+"/nics", n)
}

// UpdateNIC changes the fields set in n of a vNIC.
func (c *Client) UpdateNIC(ctx context.Context, vmID, nicID string, n *ovirtsdk4.Nic) (*NIC, error) {
	return c.writeNIC(ctx, "PUT", "/vms/"+esc(vmID)+"/nics/"+esc(nicID), n)
}

func (c *Client) writeNIC(ctx context.Context, method, path string, n *ovirtsdk4.Nic) (*NIC, error) {
	body, err := encode(ovirtsdk4.XMLNicWriteOne, n)
	if err != nil {
		return nil, err
	}
	data, err := c.call(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	return decodeNIC(data)
}

// RemoveNIC removes a vNIC. The SDK's NicService.Remove cannot read the
// fault of a refused DELETE (issue 14); this reads it as any other.
func (c *Client) RemoveNIC(ctx context.Context, vmID, nicID string) error {
	_, err := c.call(ctx, "DELETE", "/vms/"+esc(vmID)+"/nics/"+esc(nicID), nil)
	return err
}

// PlugNIC hot-plugs (plugged true) or hot-unplugs a vNIC.
func (c *Client) PlugNIC(ctx context.Context, vmID, nicID string, plugged bool) (*NIC, error) {
	return c.UpdateNIC(ctx, vmID, nicID, ovirtsdk4.NewNicBuilder().Plugged(plugged).MustBuild())
}

// LinkNIC plugs (linked true) or pulls a vNIC's virtual cable.
func (c *Client) LinkNIC(ctx context.Context, vmID, nicID string, linked bool) (*NIC, error) {
	return c.UpdateNIC(ctx, vmID, nicID, ovirtsdk4.NewNicBuilder().Linked(linked).MustBuild())
}

// MoveNIC moves a vNIC to a profile's network, or with profileID "" to no
// network (an empty <vnic_profile/>).
func (c *Client) MoveNIC(ctx context.Context, vmID, nicID, profileID string) (*NIC, error) {
	return c.UpdateNIC(ctx, vmID, nicID, ovirtsdk4.NewNicBuilder().VnicProfile(ProfileRef(profileID)).MustBuild())
}

// ProfileRef is a reference to a vNIC profile by id; "" is no profile (no
// network), which oVirt spells as an empty <vnic_profile/>.
func ProfileRef(id string) *ovirtsdk4.VnicProfile {
	b := ovirtsdk4.NewVnicProfileBuilder()
	if id != "" {
		b = b.Id(id)
	}
	return b.MustBuild()
}
