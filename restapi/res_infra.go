package restapi

import (
	"net/http"
	"strconv"

	"vwire.dev/vwire"
)

func versionNode(v vwire.Version) *node {
	return el("version", integer("major", int64(v.Major)), integer("minor", int64(v.Minor)))
}

// parseVersionIn reads <version><major/><minor/></version>; absent gives zero.
func parseVersionIn(b *in) (vwire.Version, error) {
	v := b.child("version")
	if v == nil {
		return vwire.Version{}, nil
	}
	maj, err := v.intp("major", 0, maxInt32)
	if err != nil {
		return vwire.Version{}, err
	}
	min, err := v.intp("minor", 0, maxInt32)
	if err != nil {
		return vwire.Version{}, err
	}
	if maj == nil || min == nil {
		return vwire.Version{}, vwire.Incomplete("Version", []string{"major", "minor"}, "set")
	}
	return vwire.Version{Major: int(*maj), Minor: int(*min)}, nil
}

func notFoundRef(kind, key string) error {
	return vwire.New(vwire.MsgReferenceNotFound, "kind", kind, "ref", key)
}

// resolve finds an entity referenced by id or name in a request body.
func resolve[T any](kind, id, name string, all []T, idOf, nameOf func(T) string) (T, error) {
	var zero T
	for _, x := range all {
		if (id != "" && idOf(x) == id) || (id == "" && name != "" && nameOf(x) == name) {
			return x, nil
		}
	}
	if id != "" {
		return zero, notFoundRef(kind, "id="+id)
	}
	return zero, notFoundRef(kind, "name="+name)
}

func (s *Server) refDataCenter(q *request, b *in, required bool) (string, error) {
	id, name, ok := b.ref("data_center")
	if !ok || (id == "" && name == "") {
		if required {
			return "", vwire.Incomplete("Entity", []string{"data_center.id|name"}, "add")
		}
		return "", nil
	}
	dcs, err := s.eng.DataCenters(q.ctx())
	if err != nil {
		return "", err
	}
	dc, err := resolve("DataCenter", id, name, dcs, func(d *vwire.DataCenter) string { return d.ID }, func(d *vwire.DataCenter) string { return d.Name })
	if err != nil {
		return "", err
	}
	return dc.ID, nil
}

func (s *Server) refCluster(q *request, b *in, required bool) (string, error) {
	id, name, ok := b.ref("cluster")
	if !ok || (id == "" && name == "") {
		if required {
			return "", vwire.Incomplete("Entity", []string{"cluster.id|name"}, "add")
		}
		return "", nil
	}
	cls, err := s.eng.Clusters(q.ctx(), vwire.ClusterFilter{})
	if err != nil {
		return "", err
	}
	c, err := resolve("Cluster", id, name, cls, func(c *vwire.Cluster) string { return c.ID }, func(c *vwire.Cluster) string { return c.Name })
	if err != nil {
		return "", err
	}
	return c.ID, nil
}

func (s *Server) refMACPool(q *request, b *in) (string, error) {
	id, name, ok := b.ref("mac_pool")
	if !ok || (id == "" && name == "") {
		return "", nil
	}
	ps, err := s.eng.MACPools(q.ctx())
	if err != nil {
		return "", err
	}
	p, err := resolve("MacPool", id, name, ps, func(p *vwire.MACPool) string { return p.ID }, func(p *vwire.MACPool) string { return p.Name })
	if err != nil {
		return "", err
	}
	return p.ID, nil
}

// ---- data centers

func (q *request) dcNode(dc *vwire.DataCenter) *node {
	h := q.href("datacenters", dc.ID)
	n := &node{name: "data_center", href: h, id: dc.ID}
	return n.add(str("name", dc.Name), optStr("description", dc.Description),
		link("clusters", h+"/clusters"), link("networks", h+"/networks"), link("qoss", h+"/qoss"),
		boolean("local", dc.Local), str("quota_mode", "disabled"), str("status", "up"), str("storage_format", "v5"),
		el("supported_versions", item(versionNode(vwire.NewestVersion))),
		versionNode(dc.Version),
		ref("mac_pool", q.href("macpools", dc.MACPoolID), dc.MACPoolID))
}

func (s *Server) listDataCenters(q *request) error {
	f := vwire.DataCenterFilter{}
	var err error
	if f.Search, f.Max, err = q.searchOf(vwire.SearchDataCenters); err != nil {
		return err
	}
	dcs, err := s.eng.FindDataCenters(q.ctx(), f)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, render("data_centers", dcs, q.dcNode))
	return nil
}

func (s *Server) applyDataCenter(q *request, b *in, dc *vwire.DataCenter) error {
	if v := b.strp("name"); v != nil {
		dc.Name = *v
	}
	if v := b.strp("description"); v != nil {
		dc.Description = *v
	}
	local, err := b.boolp("local")
	if err != nil {
		return err
	}
	if local != nil {
		dc.Local = *local
	}
	if b.has("version") {
		if dc.Version, err = parseVersionIn(b); err != nil {
			return err
		}
	}
	pool, err := s.refMACPool(q, b)
	if pool != "" {
		dc.MACPoolID = pool
	}
	return err
}

func (s *Server) addDataCenter(q *request) error {
	b, err := q.body()
	if err != nil {
		return err
	}
	if _, ok := b.str("name"); !ok {
		return vwire.Incomplete("DataCenter", []string{"name"}, "add")
	}
	dc := &vwire.DataCenter{}
	if err := s.applyDataCenter(q, b, dc); err != nil {
		return err
	}
	if err := s.eng.AddDataCenter(q.ctx(), dc); err != nil {
		return err
	}
	q.created(q.dcNode(dc))
	return nil
}

func (s *Server) listDataCenterClusters(q *request) error {
	return s.writeClusters(q, vwire.ClusterFilter{DataCenterID: q.r.PathValue("id")})
}

func (s *Server) listDataCenterNetworks(q *request) error {
	return s.writeNetworks(q, vwire.NetworkFilter{DataCenterID: q.r.PathValue("id")})
}

// ---- clusters

func (q *request) clusterNode(c *vwire.Cluster) *node {
	h := q.href("clusters", c.ID)
	n := &node{name: "cluster", href: h, id: c.ID}
	return n.add(str("name", c.Name), optStr("description", c.Description),
		link("networks", h+"/networks"),
		el("cpu", str("architecture", "x86_64")),
		str("switch_type", "legacy"),
		versionNode(c.Version),
		// vwire's own: oVirt's cluster has no drift policy.
		optStr("drift_policy", string(c.DriftPolicy)),
		ref("data_center", q.href("datacenters", c.DataCenterID), c.DataCenterID),
		ref("mac_pool", q.href("macpools", c.MACPoolID), c.MACPoolID))
}

// writeClusters lists the clusters a filter and the request's search select.
func (s *Server) writeClusters(q *request, f vwire.ClusterFilter) error {
	var err error
	if f.Search, f.Max, err = q.searchOf(vwire.SearchClusters); err != nil {
		return err
	}
	cls, err := s.eng.Clusters(q.ctx(), f)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, render("clusters", cls, q.clusterNode))
	return nil
}

func (s *Server) listClusters(q *request) error {
	return s.writeClusters(q, vwire.ClusterFilter{})
}

func (s *Server) applyCluster(q *request, b *in, c *vwire.Cluster) error {
	if v := b.strp("name"); v != nil {
		c.Name = *v
	}
	if v := b.strp("description"); v != nil {
		c.Description = *v
	}
	var err error
	if b.has("version") {
		if c.Version, err = parseVersionIn(b); err != nil {
			return err
		}
	}
	if v, ok := b.str("drift_policy"); ok {
		p, ok := vwire.ParseDriftPolicy(v)
		if !ok {
			return vwire.InvalidDriftPolicy(v)
		}
		c.DriftPolicy = p
	}
	pool, err := s.refMACPool(q, b)
	if pool != "" {
		c.MACPoolID = pool
	}
	return err
}

func (s *Server) addCluster(q *request) error {
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
		return vwire.Incomplete("Cluster", missing, "add")
	}
	c := &vwire.Cluster{}
	if c.DataCenterID, err = s.refDataCenter(q, b, true); err != nil {
		return err
	}
	if err := s.applyCluster(q, b, c); err != nil {
		return err
	}
	if err := s.eng.AddCluster(q.ctx(), c); err != nil {
		return err
	}
	q.created(q.clusterNode(c))
	return nil
}

func (q *request) clusterNetworkNode(cn *vwire.ClusterNetwork) *node {
	n := q.networkNode(&cn.Network)
	n.href = q.href("clusters", cn.ClusterID, "networks", cn.ID)
	return n.add(ref("cluster", q.href("clusters", cn.ClusterID), cn.ClusterID),
		boolean("required", cn.Required), boolean("display", false), str("status", "operational"))
}

func (s *Server) listClusterNetworks(q *request) error {
	id := q.r.PathValue("id")
	p, err := q.listParams()
	if err != nil {
		return err
	}
	nets, err := s.eng.ClusterNetworks(q.ctx(), id)
	if err != nil {
		return err
	}
	n, err := collect(p, "networks", nets, func(cn *vwire.ClusterNetwork) map[string]string {
		return map[string]string{"name": cn.Name, "id": cn.ID}
	}, q.clusterNetworkNode)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, n)
	return nil
}

func (s *Server) findClusterNetwork(q *request, clusterID, networkID string) (*vwire.ClusterNetwork, error) {
	return s.eng.ClusterNetwork(q.ctx(), clusterID, networkID)
}

func (s *Server) getClusterNetwork(q *request) error {
	cn, err := s.findClusterNetwork(q, q.r.PathValue("id"), q.r.PathValue("nid"))
	if err != nil {
		return err
	}
	q.write(http.StatusOK, q.clusterNetworkNode(cn))
	return nil
}

// attachClusterNetwork attaches an existing network by id or name.
func (s *Server) attachClusterNetwork(q *request) error {
	clusterID := q.r.PathValue("id")
	b, err := q.body()
	if err != nil {
		return err
	}
	id, _ := b.str("id")
	name, _ := b.str("name")
	if id == "" && name == "" {
		return vwire.Incomplete("Network", []string{"id|name"}, "add")
	}
	found, err := s.eng.NetworkToAttach(q.ctx(), clusterID, id, name)
	if err != nil {
		return err
	}
	required := true
	if r, err := b.boolp("required"); err != nil {
		return err
	} else if r != nil {
		required = *r
	}
	if err := s.eng.AttachNetwork(q.ctx(), clusterID, found.ID, required); err != nil {
		return err
	}
	q.created(q.clusterNetworkNode(&vwire.ClusterNetwork{Network: *found, ClusterID: clusterID, Required: required}))
	return nil
}

func (s *Server) detachClusterNetwork(q *request) error {
	clusterID, nid := q.r.PathValue("id"), q.r.PathValue("nid")
	if _, err := s.findClusterNetwork(q, clusterID, nid); err != nil {
		return err
	}
	if err := s.eng.DetachNetwork(q.ctx(), clusterID, nid); err != nil {
		return err
	}
	q.done()
	return nil
}

// ---- MAC pools

func (q *request) macPoolNode(p *vwire.MACPool) *node {
	rs := el("ranges")
	for _, r := range p.Ranges {
		rs.add(item(el("range", str("from", r.From.String()), str("to", r.To.String()))))
	}
	n := &node{name: "mac_pool", href: q.href("macpools", p.ID), id: p.ID}
	return n.add(str("name", p.Name), optStr("description", p.Description),
		boolean("allow_duplicates", p.AllowDuplicates), boolean("default_pool", p.DefaultPool), rs)
}

func (s *Server) listMACPools(q *request) error {
	p, err := q.listParams()
	if err != nil {
		return err
	}
	ps, err := s.eng.MACPools(q.ctx())
	if err != nil {
		return err
	}
	n, err := collect(p, "mac_pools", ps, func(m *vwire.MACPool) map[string]string {
		return map[string]string{"name": m.Name, "id": m.ID}
	}, q.macPoolNode)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, n)
	return nil
}

func applyMACPool(b *in, p *vwire.MACPool) error {
	if v := b.strp("name"); v != nil {
		p.Name = *v
	}
	if v := b.strp("description"); v != nil {
		p.Description = *v
	}
	dup, err := b.boolp("allow_duplicates")
	if err != nil {
		return err
	}
	if dup != nil {
		p.AllowDuplicates = *dup
	}
	if rs := b.child("ranges"); rs != nil {
		p.Ranges = nil
		for i, r := range rs.children("range") {
			from, ok1 := vwire.ParseMAC(r.strOr("from", ""))
			to, ok2 := vwire.ParseMAC(r.strOr("to", ""))
			if !ok1 || !ok2 {
				return vwire.InvalidValue(vwire.MsgInvalidValue, "MAC range "+strconv.Itoa(i+1)+" needs 'from' and 'to' in the form HH:HH:HH:HH:HH:HH.")
			}
			p.Ranges = append(p.Ranges, vwire.MACRange{From: from, To: to})
		}
	}
	return nil
}

func (s *Server) addMACPool(q *request) error {
	b, err := q.body()
	if err != nil {
		return err
	}
	if _, ok := b.str("name"); !ok {
		return vwire.Incomplete("MacPool", []string{"name"}, "add")
	}
	p := &vwire.MACPool{}
	if err := applyMACPool(b, p); err != nil {
		return err
	}
	if err := s.eng.AddMACPool(q.ctx(), p); err != nil {
		return err
	}
	q.created(q.macPoolNode(p))
	return nil
}
