package restapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"vwire.dev/vwire"
)

// ---- networks

func (q *request) networkNode(n *vwire.Network) *node {
	h := q.href("networks", n.ID)
	out := &node{name: "network", href: h, id: n.ID}
	out.add(str("name", n.Name), optStr("description", n.Description),
		link("vnicprofiles", h+"/vnicprofiles"),
		ref("data_center", q.href("datacenters", n.DataCenterID), n.DataCenterID),
		integer("mtu", int64(n.MTU)), boolean("stp", false))
	usages := el("usages")
	if n.VMNetwork {
		usages.add(item(str("usage", "vm")))
	}
	out.add(usages)
	if n.VLAN != nil {
		out.add(&node{name: "vlan", id: itoa(*n.VLAN)})
	}
	// vwire's overlay extension (README: overlay networks).
	if n.VXLAN != 0 {
		out.add(integer("vxlan_segment", int64(n.VXLAN)))
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }

// writeNetworks lists the networks a filter and the request's search select.
func (s *Server) writeNetworks(q *request, f vwire.NetworkFilter) error {
	var err error
	if f.Search, f.Max, err = q.searchOf(vwire.SearchNetworks); err != nil {
		return err
	}
	nets, err := s.eng.Networks(q.ctx(), f)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, render("networks", nets, q.networkNode))
	return nil
}

func (s *Server) listNetworks(q *request) error {
	return s.writeNetworks(q, vwire.NetworkFilter{})
}

func applyNetwork(b *in, n *vwire.Network) error {
	if v := b.strp("name"); v != nil {
		n.Name = *v
	}
	if v := b.strp("description"); v != nil {
		n.Description = *v
	}
	if vl := b.child("vlan"); vl != nil {
		id, ok := vl.str("id")
		if !ok || id == "" {
			n.VLAN = nil
		} else {
			v, err := vl.intp("id", minInt32, maxInt32)
			if err != nil {
				return err
			}
			i := int(*v)
			n.VLAN = &i
		}
	}
	mtu, err := b.intp("mtu", minInt32, maxInt32)
	if err != nil {
		return err
	}
	if mtu != nil {
		n.MTU = int(*mtu)
	}
	seg, err := b.intp("vxlan_segment", minInt32, maxInt32)
	if err != nil {
		return err
	}
	if seg != nil {
		n.VXLAN = int(*seg)
	}
	if u := b.child("usages"); u != nil {
		n.VMNetwork = false
		for _, x := range u.children("usage") {
			if x.text == "vm" {
				n.VMNetwork = true
			}
		}
	}
	return nil
}

func (s *Server) addNetwork(q *request) error {
	b, err := q.body()
	if err != nil {
		return err
	}
	var missing []string
	if _, ok := b.str("name"); !ok {
		missing = append(missing, "name")
	}
	if id, name, _ := b.ref("data_center"); id == "" && name == "" {
		missing = append(missing, "data_center.id|name")
	}
	if len(missing) > 0 {
		return vwire.Incomplete("Network", missing, "add")
	}
	n := &vwire.Network{VMNetwork: true}
	if n.DataCenterID, err = s.refDataCenter(q, b, true); err != nil {
		return err
	}
	if err := applyNetwork(b, n); err != nil {
		return err
	}
	if err := s.eng.AddNetwork(q.ctx(), n); err != nil {
		return err
	}
	q.created(q.networkNode(n))
	return nil
}

// ---- vNIC profiles

// profileNode renders a profile; qosDCs maps its QoS to the QoS's data
// center, which the reference's href names (oVirt's
// /datacenters/{dc}/qoss/{id}).
func (q *request) profileNode(p *vwire.VNICProfile, qosDCs map[string]string) *node {
	n := &node{name: "vnic_profile", href: q.href("vnicprofiles", p.ID), id: p.ID}
	mode := "disabled"
	if p.PassThrough {
		mode = "enabled"
	}
	var qos *node
	if p.QoSID != "" {
		qos = &node{name: "qos", id: p.QoSID}
		if dc := qosDCs[p.QoSID]; dc != "" {
			qos.href = q.href("datacenters", dc, "qoss", p.QoSID)
		}
	}
	return n.add(str("name", p.Name), optStr("description", p.Description),
		el("pass_through", str("mode", mode)),
		boolean("port_mirroring", p.PortMirroring),
		str("guest_notification", string(p.Notify)),
		integer("link_bounce_hold", p.BounceHold.Milliseconds()),
		ref("network", q.href("networks", p.NetworkID), p.NetworkID), q.profileFilterNode(p), qos,
		link("permissions", q.href("vnicprofiles", p.ID, "permissions")))
}

// profileNodes is the renderer of some profiles: the data centers of
// their QoS come from one engine read for them all.
func (s *Server) profileNodes(q *request, ps ...*vwire.VNICProfile) (func(*vwire.VNICProfile) *node, error) {
	var ids []string
	for _, p := range ps {
		if p.QoSID != "" {
			ids = append(ids, p.QoSID)
		}
	}
	dcs, err := s.eng.QoSDataCenters(q.ctx(), ids)
	if err != nil {
		return nil, err
	}
	return func(p *vwire.VNICProfile) *node { return q.profileNode(p, dcs) }, nil
}

// writeProfiles lists the profiles a filter and the request's search select.
func (s *Server) writeProfiles(q *request, f vwire.ProfileFilter) error {
	var err error
	if f.Search, f.Max, err = q.searchOf(vwire.SearchProfiles); err != nil {
		return err
	}
	ps, err := s.eng.Profiles(q.ctx(), f)
	if err != nil {
		return err
	}
	nodes, err := s.profileNodes(q, ps...)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, render("vnic_profiles", ps, nodes))
	return nil
}

// writeProfile answers with one profile.
func (s *Server) writeProfile(q *request, status int, p *vwire.VNICProfile) error {
	nodes, err := s.profileNodes(q, p)
	if err != nil {
		return err
	}
	if status == http.StatusCreated {
		q.created(nodes(p))
	} else {
		q.write(status, nodes(p))
	}
	return nil
}

func (s *Server) getProfile(q *request) error {
	p, err := s.eng.Profile(q.ctx(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.writeProfile(q, http.StatusOK, p)
}

func (s *Server) updateProfile(q *request) error {
	b, err := q.body()
	if err != nil {
		return err
	}
	p, err := s.eng.UpdateProfile(q.ctx(), q.r.PathValue("id"), func(p *vwire.VNICProfile) error { return applyProfile(b, p) })
	if err != nil {
		return err
	}
	return s.writeProfile(q, http.StatusOK, p)
}

func (s *Server) listProfiles(q *request) error {
	return s.writeProfiles(q, vwire.ProfileFilter{})
}

func (s *Server) listNetworkProfiles(q *request) error {
	return s.writeProfiles(q, vwire.ProfileFilter{NetworkID: q.r.PathValue("id")})
}

func applyProfile(b *in, p *vwire.VNICProfile) error {
	if v := b.strp("name"); v != nil {
		p.Name = *v
	}
	if v := b.strp("description"); v != nil {
		p.Description = *v
	}
	pm, err := b.boolp("port_mirroring")
	if err != nil {
		return err
	}
	if pm != nil {
		p.PortMirroring = *pm
	}
	if v, ok := b.str("guest_notification"); ok {
		g, ok := vwire.ParseGuestNotify(v)
		if !ok {
			return vwire.InvalidValue(vwire.MsgInvalidEnum, fmt.Sprintf("Invalid value '%s' for field 'guest_notification'. Possible values: [none, link_bounce, announce]", v))
		}
		p.Notify = g
	}
	// Bounded by the engine's own maximum, so that the conversion to a
	// Duration cannot wrap.
	hold, err := b.intp("link_bounce_hold", 0, vwire.MaxBounceHold.Milliseconds())
	if err != nil {
		return err
	}
	if hold != nil {
		p.BounceHold = time.Duration(*hold) * time.Millisecond
	}
	// <qos id="…"/> names the QoS; an empty <qos/> clears it (oVirt's
	// VnicProfileMapper). oVirt also clears on a qos named without an id,
	// which would silently undo what the client asked for: refused here.
	if id, name, ok := b.ref("qos"); ok {
		if id == "" && name != "" {
			return vwire.InvalidValue(vwire.MsgInvalidValue, `A vNIC profile's qos is named by its id (<qos id="…"/>); an empty <qos/> removes it.`)
		}
		p.QoSID = id
	}
	if pt := b.child("pass_through"); pt != nil {
		if v, ok := pt.str("mode"); ok {
			switch v {
			case "enabled", "disabled":
				p.PassThrough = v == "enabled"
			default:
				return vwire.InvalidValue(vwire.MsgInvalidEnum, fmt.Sprintf("Invalid value '%s' for field 'pass_through.mode'. Possible values: [enabled, disabled]", v))
			}
		}
	}
	return readProfileFilter(b, p)
}

func (s *Server) addProfileOn(q *request, b *in, networkID string) error {
	if _, ok := b.str("name"); !ok {
		return vwire.Incomplete("VnicProfile", []string{"name"}, "add")
	}
	p := &vwire.VNICProfile{NetworkID: networkID, Notify: vwire.NotifyNone, BounceHold: vwire.DefaultBounceHold,
		NetworkFilter: vwire.DefaultNWFilter}
	if err := applyProfile(b, p); err != nil {
		return err
	}
	// oVirt gives the default filter only to a profile that is not
	// pass-through (AddVnicProfileCommand), which may have none.
	if p.PassThrough && !b.has("network_filter") {
		p.NetworkFilter = ""
	}
	if err := s.eng.AddProfile(q.ctx(), p); err != nil {
		return err
	}
	return s.writeProfile(q, http.StatusCreated, p)
}

func (s *Server) addProfile(q *request) error {
	b, err := q.body()
	if err != nil {
		return err
	}
	id, _, _ := b.ref("network")
	if id == "" {
		return vwire.Incomplete("VnicProfile", []string{"network.id"}, "add")
	}
	return s.addProfileOn(q, b, id)
}

func (s *Server) addNetworkProfile(q *request) error {
	id := q.r.PathValue("id")
	if _, err := s.eng.Network(q.ctx(), id); err != nil {
		return err
	}
	b, err := q.body()
	if err != nil {
		return err
	}
	return s.addProfileOn(q, b, id)
}
