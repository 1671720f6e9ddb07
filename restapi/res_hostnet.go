package restapi

import (
	"net"
	"net/http"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
)

// Host NICs, network attachments, setupnetworks and syncallnetworks
// (issue 16), in oVirt's shapes (HostNic, NetworkAttachment, the host's
// setupnetworks action).

func (q *request) hostNICNode(hostID string, n vwire.HostNICReport) *node {
	id := engine.HostNICID(hostID, n.Name)
	out := &node{name: "host_nic", href: q.href("hosts", hostID) + "/nics/" + id, id: id}
	status := "down"
	if n.Up {
		status = "up"
	}
	out.add(str("name", n.Name), el("mac", optStr("address", n.MAC)), integer("mtu", int64(n.MTU)), str("status", status),
		ref("host", q.href("hosts", hostID), hostID))
	if n.SpeedMbps > 0 {
		// oVirt's speed is in bits per second.
		out.add(integer("speed", int64(n.SpeedMbps)*1_000_000))
	}
	if n.Addr != "" {
		out.add(ipNode(n.Addr))
	}
	if n.Bond {
		slaves := el("slaves")
		for _, s := range n.Slaves {
			sid := engine.HostNICID(hostID, s)
			slaves.add(item(&node{name: "host_nic", href: q.href("hosts", hostID) + "/nics/" + sid, id: sid}))
		}
		out.add(el("bonding", slaves))
	}
	return out
}

// ipNode is oVirt's ip of an address with prefix ("198.18.0.1/24").
func ipNode(addr string) *node {
	ip, ipn, err := net.ParseCIDR(addr)
	if err != nil {
		return el("ip", str("address", addr), str("version", "v4"))
	}
	return el("ip", str("address", ip.String()), str("netmask", net.IP(ipn.Mask).String()), str("version", "v4"))
}

func (s *Server) listHostNICs(q *request) error {
	hostID := q.r.PathValue("id")
	nics, err := s.eng.HostNICs(q.ctx(), hostID)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, render("host_nics", nics, func(n vwire.HostNICReport) *node { return q.hostNICNode(hostID, n) }))
	return nil
}

func (s *Server) getHostNIC(q *request) error {
	hostID, id := q.r.PathValue("id"), q.r.PathValue("nid")
	nics, err := s.eng.HostNICs(q.ctx(), hostID)
	if err != nil {
		return err
	}
	for _, n := range nics {
		if engine.HostNICID(hostID, n.Name) == id {
			q.write(http.StatusOK, q.hostNICNode(hostID, n))
			return nil
		}
	}
	return vwire.NotFound("HostNic", id)
}

func (q *request) attachmentNode(hostID string, v *engine.AttachmentView) *node {
	nicID := engine.HostNICID(hostID, v.NIC)
	hostHref := q.href("hosts", hostID)
	out := &node{name: "network_attachment", href: hostHref + "/networkattachments/" + v.ID, id: v.ID}
	rc := el("reported_configurations")
	for _, r := range v.Reported {
		rc.add(item(el("reported_configuration", str("name", r.Name), optStr("expected_value", r.Expected),
			optStr("actual_value", r.Actual), boolean("in_sync", r.InSync))))
	}
	nic := &node{name: "host_nic", href: hostHref + "/nics/" + nicID, id: nicID}
	nic.add(str("name", v.NIC))
	return out.add(boolean("in_sync", v.InSync), rc, ref("host", hostHref, hostID), nic,
		ref("network", q.href("networks", v.NetworkID), v.NetworkID))
}

func (s *Server) listNetworkAttachments(q *request) error {
	hostID := q.r.PathValue("id")
	l, err := s.eng.NetworkAttachments(q.ctx(), hostID)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, render("network_attachments", l, func(v *engine.AttachmentView) *node { return q.attachmentNode(hostID, v) }))
	return nil
}

func (s *Server) getNetworkAttachment(q *request) error {
	hostID := q.r.PathValue("id")
	v, err := s.eng.NetworkAttachment(q.ctx(), hostID, q.r.PathValue("aid"))
	if err != nil {
		return err
	}
	q.write(http.StatusOK, q.attachmentNode(hostID, v))
	return nil
}

// setupNetworks reads oVirt's action: modified_network_attachments (an
// existing attachment by id, or a new one; the network and host_nic by id
// or name), removed_network_attachments (by id), check_connectivity and
// connectivity_timeout (seconds). Bonds are refused until vwire does them.
func (s *Server) setupNetworks(q *request) error {
	b, err := q.body()
	if err != nil {
		return err
	}
	hostID := q.r.PathValue("id")
	for _, k := range []string{"modified_bonds", "removed_bonds", "modified_labels", "removed_labels"} {
		if c := b.child(k); c != nil && len(c.kids) > 0 {
			return vwire.Fail(vwire.OpSetupNetworks, vwire.MsgBondsNotSupported)
		}
	}
	var p engine.SetupNetworksParams
	if v, err := b.boolp("check_connectivity"); err != nil {
		return err
	} else if v != nil {
		p.CheckConnectivity = *v
	}
	t, err := b.intp("connectivity_timeout", 1, 3600)
	if err != nil {
		return err
	}
	if t != nil {
		p.Timeout = time.Duration(*t) * time.Second
	}
	mod, rem := b.child("modified_network_attachments"), b.child("removed_network_attachments")
	var nics []vwire.HostNICReport
	var nets []*vwire.ClusterNetwork
	if mod != nil && len(mod.children("network_attachment")) > 0 {
		h, err := s.eng.Host(q.ctx(), hostID)
		if err != nil {
			return err
		}
		if nics, err = s.eng.HostNICs(q.ctx(), hostID); err != nil {
			return err
		}
		if nets, err = s.eng.ClusterNetworks(q.ctx(), h.ClusterID); err != nil {
			return err
		}
	}
	if mod != nil {
		for _, a := range mod.children("network_attachment") {
			spec := engine.AttachmentSpec{}
			spec.ID, _ = a.str("id")
			if id, name, ok := a.ref("network"); ok {
				spec.NetworkID = id
				if id == "" && name != "" {
					n, err := resolve("Network", "", name, nets, func(n *vwire.ClusterNetwork) string { return n.ID },
						func(n *vwire.ClusterNetwork) string { return n.Name })
					if err != nil {
						return err
					}
					spec.NetworkID = n.ID
				}
			}
			if id, name, ok := a.ref("host_nic"); ok {
				spec.NIC = name
				if id != "" {
					n, err := resolve("HostNic", id, "", nics, func(n vwire.HostNICReport) string { return engine.HostNICID(hostID, n.Name) },
						func(n vwire.HostNICReport) string { return n.Name })
					if err != nil {
						return err
					}
					spec.NIC = n.Name
				}
			}
			p.Modified = append(p.Modified, spec)
		}
	}
	if rem != nil {
		for _, a := range rem.children("network_attachment") {
			id, _ := a.str("id")
			if id == "" {
				return vwire.Incomplete("NetworkAttachment", []string{"id"}, "setupNetworks")
			}
			p.Removed = append(p.Removed, id)
		}
	}
	if err := s.eng.SetupNetworks(q.ctx(), hostID, p); err != nil {
		return err
	}
	q.done()
	return nil
}

func (s *Server) syncAllNetworks(q *request) error {
	if _, err := q.body(); err != nil {
		return err
	}
	if err := s.eng.SyncAllNetworks(q.ctx(), q.r.PathValue("id")); err != nil {
		return err
	}
	q.done()
	return nil
}
