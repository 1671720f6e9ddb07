package sqlstore

import (
	"database/sql"
	"sort"
	"strings"
	"time"

	"vwire.dev/vwire"
)

func nowMillis() int64 { return time.Now().UnixMilli() }

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// ---- data centers

const dcCols = `id, name, description, local, version, mac_pool_id`

func scanDC(s interface{ Scan(...any) error }) (*vwire.DataCenter, error) {
	var d vwire.DataCenter
	var ver string
	if err := s.Scan(&d.ID, &d.Name, &d.Description, &d.Local, &ver, &d.MACPoolID); err != nil {
		return nil, err
	}
	d.Version, _ = vwire.ParseVersion(ver)
	return &d, nil
}

func (t *Tx) DataCenter(id string) (*vwire.DataCenter, error) {
	var d *vwire.DataCenter
	err := t.one("DataCenter", id, func(r *sql.Row) (err error) { d, err = scanDC(r); return },
		`SELECT `+dcCols+` FROM data_centers WHERE id = ?`, id)
	return d, err
}

func (t *Tx) DataCenters(f vwire.DataCenterFilter) ([]*vwire.DataCenter, error) {
	w := new(where).search(t.db.d, vwire.SearchDataCenters, f.Search, f.Max)
	return listWhere(t, w, func(r *sql.Rows) (*vwire.DataCenter, error) { return scanDC(r) },
		`SELECT `+dcCols+` FROM data_centers`, "name", f.Max)
}

func (t *Tx) CreateDataCenter(d *vwire.DataCenter) error {
	_, err := t.exec(`INSERT INTO data_centers (`+dcCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		d.ID, d.Name, d.Description, d.Local, d.Version.String(), d.MACPoolID)
	return err
}

func (t *Tx) UpdateDataCenter(d *vwire.DataCenter) error {
	return t.execOne("DataCenter", d.ID, `UPDATE data_centers SET name = ?, description = ?, local = ?, version = ?, mac_pool_id = ? WHERE id = ?`,
		d.Name, d.Description, d.Local, d.Version.String(), d.MACPoolID, d.ID)
}

func (t *Tx) DeleteDataCenter(id string) error {
	return t.execOne("DataCenter", id, `DELETE FROM data_centers WHERE id = ?`, id)
}

// ---- clusters

const clusterCols = `id, name, description, data_center_id, version, mac_pool_id, drift_policy`

// clusterRow is where a cluster's columns are scanned (see vmRow).
type clusterRow struct {
	c   vwire.Cluster
	ver string
}

func (r *clusterRow) dest() []any {
	c := &r.c
	return []any{&c.ID, &c.Name, &c.Description, &c.DataCenterID, &r.ver, &c.MACPoolID, &c.DriftPolicy}
}

func (r *clusterRow) finish() *vwire.Cluster {
	c := r.c
	c.Version, _ = vwire.ParseVersion(r.ver)
	return &c
}

func scanCluster(s scanner) (*vwire.Cluster, error) { return scanRow[clusterRow, *vwire.Cluster](s) }

func (t *Tx) Cluster(id string) (*vwire.Cluster, error) {
	var c *vwire.Cluster
	err := t.one("Cluster", id, func(r *sql.Row) (err error) { c, err = scanCluster(r); return },
		`SELECT `+clusterCols+` FROM clusters WHERE id = ?`, id)
	return c, err
}

func (t *Tx) Clusters(f vwire.ClusterFilter) ([]*vwire.Cluster, error) {
	w := new(where).eq("data_center_id", f.DataCenterID).eq("mac_pool_id", f.MACPoolID).eq("name", f.Name).
		search(t.db.d, vwire.SearchClusters, f.Search, f.Max)
	return listWhere(t, w, func(r *sql.Rows) (*vwire.Cluster, error) { return scanCluster(r) },
		`SELECT `+clusterCols+` FROM clusters`, "name", f.Max)
}

func (t *Tx) CreateCluster(c *vwire.Cluster) error {
	_, err := t.exec(`INSERT INTO clusters (`+clusterCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.Description, c.DataCenterID, c.Version.String(), c.MACPoolID, driftPolicy(c))
	return err
}

func (t *Tx) UpdateCluster(c *vwire.Cluster) error {
	return t.execOne("Cluster", c.ID, `UPDATE clusters SET name = ?, description = ?, version = ?, mac_pool_id = ?, drift_policy = ? WHERE id = ?`,
		c.Name, c.Description, c.Version.String(), c.MACPoolID, driftPolicy(c), c.ID)
}

// driftPolicy is what a cluster row stores: a cluster made without a
// policy gets the default, as the column's own default gives old rows.
func driftPolicy(c *vwire.Cluster) string {
	if c.DriftPolicy == "" {
		return string(vwire.DefaultDriftPolicy)
	}
	return string(c.DriftPolicy)
}

func (t *Tx) DeleteCluster(id string) error {
	return t.execOne("Cluster", id, `DELETE FROM clusters WHERE id = ?`, id)
}

func (t *Tx) ClusterNetworks(clusterID string) ([]*vwire.ClusterNetwork, error) {
	return list(t, func(r *sql.Rows) (*vwire.ClusterNetwork, error) {
		var cn vwire.ClusterNetwork
		n, err := scanNetwork(r, &cn.ClusterID, &cn.Required)
		if err != nil {
			return nil, err
		}
		cn.Network = *n
		return &cn, nil
	}, `SELECT `+prefixed("n.", netCols)+`, cn.cluster_id, cn.required FROM cluster_networks cn
		JOIN networks n ON n.id = cn.network_id WHERE cn.cluster_id = ? ORDER BY n.name`, clusterID)
}

func (t *Tx) AttachNetwork(clusterID, networkID string, required bool) error {
	_, err := t.exec(`INSERT INTO cluster_networks (cluster_id, network_id, required) VALUES (?, ?, ?)`, clusterID, networkID, required)
	return err
}

func (t *Tx) DetachNetwork(clusterID, networkID string) error {
	return t.execOne("ClusterNetwork", networkID, `DELETE FROM cluster_networks WHERE cluster_id = ? AND network_id = ?`, clusterID, networkID)
}

func (t *Tx) NetworkClusters(networkID string) ([]string, error) {
	return list(t, scanString, `SELECT cluster_id FROM cluster_networks WHERE network_id = ? ORDER BY cluster_id`, networkID)
}

func scanString(r *sql.Rows) (string, error) {
	var s string
	err := r.Scan(&s)
	return s, err
}

// prefixed qualifies a column list: prefixed("v.", "a, b") is "v.a, v.b"
// (a list may run over lines).
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i := range parts {
		parts[i] = p + strings.TrimSpace(parts[i])
	}
	return strings.Join(parts, ", ")
}

// ---- networks

const netCols = `id, name, description, data_center_id, vlan, vm_network, mtu, vxlan`

func scanNetwork(s interface{ Scan(...any) error }, extra ...any) (*vwire.Network, error) {
	var n vwire.Network
	var vlan sql.NullInt64
	dest := append([]any{&n.ID, &n.Name, &n.Description, &n.DataCenterID, &vlan, &n.VMNetwork, &n.MTU, &n.VXLAN}, extra...)
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	if vlan.Valid {
		v := int(vlan.Int64)
		n.VLAN = &v
	}
	return &n, nil
}

func vlanArg(v *int) any {
	if v == nil {
		return nil
	}
	return *v
}

func (t *Tx) Network(id string) (*vwire.Network, error) {
	var n *vwire.Network
	err := t.one("Network", id, func(r *sql.Row) (err error) { n, err = scanNetwork(r); return },
		`SELECT `+netCols+` FROM networks WHERE id = ?`, id)
	return n, err
}

func (t *Tx) Networks(f vwire.NetworkFilter) ([]*vwire.Network, error) {
	w := new(where).eq("data_center_id", f.DataCenterID).eq("name", f.Name).
		search(t.db.d, vwire.SearchNetworks, f.Search, f.Max)
	return listWhere(t, w, func(r *sql.Rows) (*vwire.Network, error) { return scanNetwork(r) },
		`SELECT `+netCols+` FROM networks`, "name, data_center_id", f.Max)
}

func (t *Tx) CreateNetwork(n *vwire.Network) error {
	_, err := t.exec(`INSERT INTO networks (`+netCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		n.ID, n.Name, n.Description, n.DataCenterID, vlanArg(n.VLAN), n.VMNetwork, n.MTU, n.VXLAN)
	return err
}

func (t *Tx) UpdateNetwork(n *vwire.Network) error {
	return t.execOne("Network", n.ID, `UPDATE networks SET name = ?, description = ?, vlan = ?, vm_network = ?, mtu = ?, vxlan = ? WHERE id = ?`,
		n.Name, n.Description, vlanArg(n.VLAN), n.VMNetwork, n.MTU, n.VXLAN, n.ID)
}

func (t *Tx) DeleteNetwork(id string) error {
	return t.execOne("Network", id, `DELETE FROM networks WHERE id = ?`, id)
}

// ---- vNIC profiles

const profileCols = `id, name, description, network_id, port_mirroring, guest_notification, link_bounce_hold_ms, network_filter,
	qos_id, pass_through`

func scanProfile(s interface{ Scan(...any) error }) (*vwire.VNICProfile, error) {
	var p vwire.VNICProfile
	var hold int64
	var qos sql.NullString
	err := s.Scan(&p.ID, &p.Name, &p.Description, &p.NetworkID, &p.PortMirroring, &p.Notify, &hold, &p.NetworkFilter,
		&qos, &p.PassThrough)
	p.BounceHold = time.Duration(hold) * time.Millisecond
	p.QoSID = qos.String
	return &p, err
}

func (t *Tx) Profile(id string) (*vwire.VNICProfile, error) {
	var p *vwire.VNICProfile
	err := t.one("VnicProfile", id, func(r *sql.Row) (err error) { p, err = scanProfile(r); return },
		`SELECT `+profileCols+` FROM vnic_profiles WHERE id = ?`, id)
	return p, err
}

func (t *Tx) Profiles(f vwire.ProfileFilter) ([]*vwire.VNICProfile, error) {
	w := new(where).eq("network_id", f.NetworkID).search(t.db.d, vwire.SearchProfiles, f.Search, f.Max)
	return listWhere(t, w, func(r *sql.Rows) (*vwire.VNICProfile, error) { return scanProfile(r) },
		`SELECT `+profileCols+` FROM vnic_profiles`, "name, id", f.Max)
}

func (t *Tx) CreateProfile(p *vwire.VNICProfile) error {
	_, err := t.exec(`INSERT INTO vnic_profiles (`+profileCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.Name, p.Description, p.NetworkID, p.PortMirroring, notifyOf(p), p.BounceHold.Milliseconds(), p.NetworkFilter,
		nullString(p.QoSID), p.PassThrough)
	return err
}

// notifyOf stores an unset mode as none.
func notifyOf(p *vwire.VNICProfile) string {
	if p.Notify == "" {
		return string(vwire.NotifyNone)
	}
	return string(p.Notify)
}

func (t *Tx) UpdateProfile(p *vwire.VNICProfile) error {
	return t.execOne("VnicProfile", p.ID, `UPDATE vnic_profiles SET name = ?, description = ?, port_mirroring = ?,
		guest_notification = ?, link_bounce_hold_ms = ?, network_filter = ?, qos_id = ?, pass_through = ? WHERE id = ?`,
		p.Name, p.Description, p.PortMirroring, notifyOf(p), p.BounceHold.Milliseconds(), p.NetworkFilter,
		nullString(p.QoSID), p.PassThrough, p.ID)
}

func (t *Tx) DeleteProfile(id string) error {
	return t.execOne("VnicProfile", id, `DELETE FROM vnic_profiles WHERE id = ?`, id)
}

// ---- hosts

const hostCols = `id, name, cluster_id, address, port, status, status_detail, networks, cluster_levels, libvirt_version, embedded, last_seen`

// hostRow is where a host's columns are scanned (see vmRow).
type hostRow struct {
	h            vwire.Host
	nets, levels string
	seen         int64
}

func (r *hostRow) dest() []any {
	h := &r.h
	return []any{&h.ID, &h.Name, &h.ClusterID, &h.Address, &h.Port, &h.Status, &h.StatusDetail,
		&r.nets, &r.levels, &h.LibvirtVersion, &h.Embedded, &r.seen}
}

func (r *hostRow) finish() *vwire.Host {
	h := r.h
	h.Networks = splitList(r.nets)
	for _, l := range splitList(r.levels) {
		if v, err := vwire.ParseVersion(l); err == nil {
			h.ClusterLevels = append(h.ClusterLevels, v)
		}
	}
	h.LastSeen = fromMillis(r.seen)
	return &h
}

func scanHost(s scanner) (*vwire.Host, error) { return scanRow[hostRow, *vwire.Host](s) }

func hostArgs(h *vwire.Host) []any {
	nets := append([]string(nil), h.Networks...)
	sort.Strings(nets)
	levels := make([]string, len(h.ClusterLevels))
	for i, l := range h.ClusterLevels {
		levels[i] = l.String()
	}
	return []any{h.Name, h.ClusterID, h.Address, h.Port, string(h.Status), h.StatusDetail,
		strings.Join(nets, ","), strings.Join(levels, ","), h.LibvirtVersion, h.Embedded, millis(h.LastSeen)}
}

func (t *Tx) Host(id string) (*vwire.Host, error) {
	var h *vwire.Host
	err := t.one("Host", id, func(r *sql.Row) (err error) { h, err = scanHost(r); return },
		`SELECT `+hostCols+` FROM hosts WHERE id = ?`, id)
	return h, err
}

func (t *Tx) Hosts(f vwire.HostFilter) ([]*vwire.Host, error) {
	w := new(where).eq("cluster_id", f.ClusterID).eq("name", f.Name).eq("status", string(f.Status)).
		search(t.db.d, vwire.SearchHosts, f.Search, f.Max)
	return listWhere(t, w, func(r *sql.Rows) (*vwire.Host, error) { return scanHost(r) },
		`SELECT `+hostCols+` FROM hosts`, "name", f.Max)
}

func (t *Tx) CountHosts(status vwire.HostStatus) (int, error) {
	var n int
	err := t.row(`SELECT COUNT(*) FROM hosts WHERE ? = '' OR status = ?`, string(status), string(status)).Scan(&n)
	return n, t.db.translate(err)
}

func (t *Tx) CreateHost(h *vwire.Host) error {
	_, err := t.exec(`INSERT INTO hosts (`+hostCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		append([]any{h.ID}, hostArgs(h)...)...)
	return err
}

func (t *Tx) UpdateHost(h *vwire.Host) error {
	return t.execOne("Host", h.ID, `UPDATE hosts SET name = ?, cluster_id = ?, address = ?, port = ?, status = ?, status_detail = ?,
		networks = ?, cluster_levels = ?, libvirt_version = ?, embedded = ?, last_seen = ? WHERE id = ?`,
		append(hostArgs(h), h.ID)...)
}

func (t *Tx) DeleteHost(id string) error {
	return t.execOne("Host", id, `DELETE FROM hosts WHERE id = ?`, id)
}
