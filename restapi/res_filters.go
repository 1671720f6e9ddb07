package restapi

import (
	"net/http"

	"vwire.dev/vwire"
)

// Network filters (oVirt's /networkfilters, the catalogue every profile
// names its filter from), a profile's network_filter, and a vNIC's
// networkfilterparameters.

func (q *request) networkFilterNode(f vwire.NWFilter) *node {
	n := &node{name: "network_filter", href: q.href("networkfilters", f.ID()), id: f.ID()}
	return n.add(str("name", f.Name), el("version", integer("major", int64(f.Major)), integer("minor", int64(f.Minor))))
}

func (q *request) writeNetworkFilters() {
	out := el("network_filters")
	for _, f := range vwire.NWFilters {
		out.add(item(q.networkFilterNode(f)))
	}
	q.write(http.StatusOK, out)
}

func (s *Server) listNetworkFilters(q *request) error {
	q.writeNetworkFilters()
	return nil
}

func (s *Server) getNetworkFilter(q *request) error {
	f, ok := vwire.NWFilterByID(q.r.PathValue("fid"))
	if !ok {
		return vwire.NotFound("NetworkFilter", q.r.PathValue("fid"))
	}
	q.write(http.StatusOK, q.networkFilterNode(f))
	return nil
}

// A cluster's network filters are the catalogue: every host offers it.
func (s *Server) listClusterNetworkFilters(q *request) error {
	if _, err := s.eng.Cluster(q.ctx(), q.r.PathValue("id")); err != nil {
		return err
	}
	q.writeNetworkFilters()
	return nil
}

func (s *Server) getClusterNetworkFilter(q *request) error {
	if _, err := s.eng.Cluster(q.ctx(), q.r.PathValue("id")); err != nil {
		return err
	}
	return s.getNetworkFilter(q)
}

// profileFilterNode is a profile's <network_filter/> reference (none: nil).
func (q *request) profileFilterNode(p *vwire.VNICProfile) *node {
	f, ok := vwire.NWFilterByName(p.NetworkFilter)
	if !ok {
		return nil
	}
	return ref("network_filter", q.href("networkfilters", f.ID()), f.ID())
}

// readProfileFilter reads <network_filter id=…/> (or by name) onto p;
// an empty <network_filter/> is none.
func readProfileFilter(b *in, p *vwire.VNICProfile) error {
	id, name, present := b.ref("network_filter")
	switch {
	case !present:
		return nil
	case id == "" && name == "":
		p.NetworkFilter = ""
		return nil
	case id != "":
		f, ok := vwire.NWFilterByID(id)
		if !ok || (name != "" && name != f.Name) {
			return vwire.Fail(vwire.OpEditProfile, vwire.MsgNetworkFilterNotExist)
		}
		p.NetworkFilter = f.Name
	default:
		if _, ok := vwire.NWFilterByName(name); !ok {
			return vwire.Fail(vwire.OpEditProfile, vwire.MsgNetworkFilterNotExist)
		}
		p.NetworkFilter = name
	}
	return nil
}

// ---- a vNIC's filter parameters

func (q *request) filterParameterNode(vmID string, p *vwire.FilterParameter) *node {
	href := q.href("vms", vmID, "nics", p.NICID, "networkfilterparameters", p.ID)
	n := &node{name: "network_filter_parameter", href: href, id: p.ID}
	nic := ref("nic", q.href("vms", vmID, "nics", p.NICID), p.NICID)
	return n.add(str("name", p.Name), str("value", p.Value), nic)
}

func (s *Server) listFilterParameters(q *request) error {
	vmID, nicID := q.r.PathValue("id"), q.r.PathValue("nid")
	ps, err := s.eng.FilterParameters(q.ctx(), vmID, nicID)
	if err != nil {
		return err
	}
	out := el("network_filter_parameters")
	for _, p := range ps {
		out.add(item(q.filterParameterNode(vmID, p)))
	}
	q.write(http.StatusOK, out)
	return nil
}

func (s *Server) getFilterParameter(q *request) error {
	vmID := q.r.PathValue("id")
	p, err := s.eng.FilterParameter(q.ctx(), vmID, q.r.PathValue("nid"), q.r.PathValue("pid"))
	if err != nil {
		return err
	}
	q.write(http.StatusOK, q.filterParameterNode(vmID, p))
	return nil
}

func (s *Server) addFilterParameter(q *request) error {
	b, err := q.body()
	if err != nil {
		return err
	}
	var missing []string
	for _, f := range []string{"name", "value"} {
		if _, ok := b.str(f); !ok {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return vwire.Incomplete("NetworkFilterParameter", missing, "add")
	}
	vmID := q.r.PathValue("id")
	p := &vwire.FilterParameter{Name: b.strOr("name", ""), Value: b.strOr("value", "")}
	if err := s.eng.AddFilterParameter(q.ctx(), vmID, q.r.PathValue("nid"), p); err != nil {
		return err
	}
	q.created(q.filterParameterNode(vmID, p))
	return nil
}

func (s *Server) updateFilterParameter(q *request) error {
	b, err := q.body()
	if err != nil {
		return err
	}
	vmID := q.r.PathValue("id")
	name, value := b.strp("name"), b.strp("value")
	p, err := s.eng.UpdateFilterParameter(q.ctx(), vmID, q.r.PathValue("nid"), q.r.PathValue("pid"), func(p *vwire.FilterParameter) {
		if name != nil {
			p.Name = *name
		}
		if value != nil {
			p.Value = *value
		}
	})
	if err != nil {
		return err
	}
	q.write(http.StatusOK, q.filterParameterNode(vmID, p))
	return nil
}

func (s *Server) removeFilterParameter(q *request) error {
	if err := s.eng.RemoveFilterParameter(q.ctx(), q.r.PathValue("id"), q.r.PathValue("nid"), q.r.PathValue("pid")); err != nil {
		return err
	}
	q.done()
	return nil
}
