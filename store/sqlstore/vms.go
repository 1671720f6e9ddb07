package sqlstore

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"vwire.dev/vwire"
)

// ---- templates

const templateCols = `id, name, description, cluster_id, memory, os_type, created_at, comment, cpu_sockets, cpu_cores, cpu_threads`

func scanTemplate(s interface{ Scan(...any) error }) (*vwire.Template, error) {
	var tp vwire.Template
	var cluster sql.NullString
	var created int64
	if err := s.Scan(&tp.ID, &tp.Name, &tp.Description, &cluster, &tp.Memory, &tp.OSType, &created,
		&tp.Comment, &tp.CPU.Sockets, &tp.CPU.Cores, &tp.CPU.Threads); err != nil {
		return nil, err
	}
	tp.ClusterID = cluster.String
	tp.CreatedAt = fromMillis(created)
	return &tp, nil
}

func (t *Tx) Template(id string) (*vwire.Template, error) {
	var tp *vwire.Template
	err := t.one("Template", id, func(r *sql.Row) (err error) { tp, err = scanTemplate(r); return },
		`SELECT `+templateCols+` FROM templates WHERE id = ?`, id)
	return tp, err
}

func (t *Tx) Templates(f vwire.TemplateFilter) ([]*vwire.Template, error) {
	w := new(where).search(t.db.d, vwire.SearchTemplates, f.Search, f.Max)
	return listWhere(t, w, func(r *sql.Rows) (*vwire.Template, error) { return scanTemplate(r) },
		`SELECT `+templateCols+` FROM templates`, "name", f.Max)
}

func (t *Tx) CreateTemplate(tp *vwire.Template) error {
	_, err := t.exec(`INSERT INTO templates (`+templateCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tp.ID, tp.Name, tp.Description, nullString(tp.ClusterID), tp.Memory, tp.OSType, millis(tp.CreatedAt),
		tp.Comment, tp.CPU.Sockets, tp.CPU.Cores, tp.CPU.Threads)
	return err
}

func (t *Tx) UpdateTemplate(tp *vwire.Template) error {
	return t.execOne("Template", tp.ID, `UPDATE templates SET name = ?, description = ?, cluster_id = ?, memory = ?, os_type = ?,
		comment = ?, cpu_sockets = ?, cpu_cores = ?, cpu_threads = ? WHERE id = ?`,
		tp.Name, tp.Description, nullString(tp.ClusterID), tp.Memory, tp.OSType, tp.Comment, tp.CPU.Sockets, tp.CPU.Cores, tp.CPU.Threads, tp.ID)
}

func (t *Tx) DeleteTemplate(id string) error {
	return t.execOne("Template", id, `DELETE FROM templates WHERE id = ?`, id)
}

const templateNICSelect = `SELECT n.id, n.template_id, n.name, n.interface, n.vnic_profile_id, n.linked, n.plugged,
	COALESCE(p.name, ''), COALESCE(p.network_id, ''), COALESCE(w.name, ''), COALESCE(p.port_mirroring, FALSE), ` + nicQoSCols + `
	FROM template_nics n LEFT JOIN vnic_profiles p ON p.id = n.vnic_profile_id LEFT JOIN networks w ON w.id = p.network_id
	LEFT JOIN network_qos q ON q.id = p.qos_id`

func (t *Tx) TemplateNICs(templateID string) ([]*vwire.NIC, error) {
	return list(t, func(r *sql.Rows) (*vwire.NIC, error) {
		var n vwire.NIC
		var profile sql.NullString
		err := r.Scan(append([]any{&n.ID, &n.VMID, &n.Name, &n.Interface, &profile, &n.Linked, &n.Plugged,
			&n.ProfileName, &n.NetworkID, &n.NetworkName, &n.PortMirroring}, nicQoSDest(&n)...)...)
		n.ProfileID, n.Synced = profile.String, true
		return &n, err
	}, templateNICSelect+` WHERE n.template_id = ? ORDER BY n.name`, templateID)
}

func (t *Tx) CreateTemplateNIC(n *vwire.NIC) error {
	_, err := t.exec(`INSERT INTO template_nics (id, template_id, name, interface, vnic_profile_id, linked, plugged) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		n.ID, n.VMID, n.Name, string(n.Interface), nullString(n.ProfileID), n.Linked, n.Plugged)
	return err
}

func (t *Tx) UpdateTemplateNIC(n *vwire.NIC) error {
	return t.execOne("Nic", n.ID, `UPDATE template_nics SET name = ?, interface = ?, vnic_profile_id = ?, linked = ?, plugged = ? WHERE id = ?`,
		n.Name, string(n.Interface), nullString(n.ProfileID), n.Linked, n.Plugged, n.ID)
}

func (t *Tx) DeleteTemplateNIC(id string) error {
	return t.execOne("Nic", id, `DELETE FROM template_nics WHERE id = ?`, id)
}

// ---- VMs

const vmCols = `id, name, description, cluster_id, template_id, status, host_id, placement_hosts, memory, os_type,
	kernel, initrd, cmdline, created_at, start_time, stop_time, comment, cpu_sockets, cpu_cores, cpu_threads`

// vmSelect reads the generation and the foreign devices too, which only
// BumpVMGeneration and SetForeignNICs write.
const vmSelect = `SELECT ` + vmCols + `, generation, foreign_nics FROM vms`

// vmRow is where a VM's columns (vmSelect's) are scanned, so that a
// statement joining other rows can scan them all at once (VMContext).
type vmRow struct {
	v                         vwire.VM
	host                      sql.NullString
	placement, foreign        string
	created, started, stopped int64
}

func (r *vmRow) dest() []any {
	v := &r.v
	return []any{&v.ID, &v.Name, &v.Description, &v.ClusterID, &v.TemplateID, &v.Status, &r.host, &r.placement,
		&v.Memory, &v.OSType, &v.Kernel, &v.Initrd, &v.Cmdline, &r.created, &r.started, &r.stopped,
		&v.Comment, &v.CPU.Sockets, &v.CPU.Cores, &v.CPU.Threads, &v.Generation, &r.foreign}
}

func (r *vmRow) finish() *vwire.VM {
	v := r.v
	v.ForeignNICs = splitList(r.foreign)
	v.HostID = r.host.String
	v.PlacementHosts = splitList(r.placement)
	v.CreatedAt, v.StartTime, v.StopTime = fromMillis(r.created), fromMillis(r.started), fromMillis(r.stopped)
	return &v
}

func scanVM(s scanner) (*vwire.VM, error) { return scanRow[vmRow, *vwire.VM](s) }

// scanner is a row to scan: *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

// scanRow scans an entity through its row struct R: where its columns go
// (dest) and the entity they make (finish). Row structs let one statement
// joining several entities scan them all at once (VMContext).
func scanRow[R any, T any, P interface {
	*R
	dest() []any
	finish() T
}](s scanner) (T, error) {
	var r R
	if err := s.Scan(P(&r).dest()...); err != nil {
		var zero T
		return zero, err
	}
	return P(&r).finish(), nil
}

func vmArgs(v *vwire.VM) []any {
	return []any{v.Name, v.Description, v.ClusterID, v.TemplateID, string(v.Status), nullString(v.HostID),
		strings.Join(v.PlacementHosts, ","), v.Memory, v.OSType, v.Kernel, v.Initrd, v.Cmdline,
		millis(v.CreatedAt), millis(v.StartTime), millis(v.StopTime), v.Comment, v.CPU.Sockets, v.CPU.Cores, v.CPU.Threads}
}

func (t *Tx) VM(id string) (*vwire.VM, error) {
	var v *vwire.VM
	err := t.one("VM", id, func(r *sql.Row) (err error) { v, err = scanVM(r); return },
		vmSelect+` WHERE id = ?`, id)
	return v, err
}

func (t *Tx) VMs(f vwire.VMFilter) ([]*vwire.VM, error) {
	w := new(where).eq("cluster_id", f.ClusterID).eq("host_id", f.HostID).eq("template_id", f.TemplateID).
		eq("name", f.Name).eq("status", string(f.Status)).search(t.db.d, vwire.SearchVMs, f.Search, f.Max)
	return listWhere(t, w, func(r *sql.Rows) (*vwire.VM, error) { return scanVM(r) }, vmSelect, "name", f.Max)
}

func (t *Tx) CountVMs(status vwire.VMStatus) (int, error) {
	var n int
	err := t.row(`SELECT COUNT(*) FROM vms WHERE ? = '' OR status = ?`, string(status), string(status)).Scan(&n)
	return n, t.db.translate(err)
}

func (t *Tx) CreateVM(v *vwire.VM) error {
	_, err := t.exec(`INSERT INTO vms (`+vmCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		append([]any{v.ID}, vmArgs(v)...)...)
	return err
}

func (t *Tx) UpdateVM(v *vwire.VM) error {
	return t.execOne("VM", v.ID, `UPDATE vms SET name = ?, description = ?, cluster_id = ?, template_id = ?, status = ?, host_id = ?,
		placement_hosts = ?, memory = ?, os_type = ?, kernel = ?, initrd = ?, cmdline = ?, created_at = ?, start_time = ?, stop_time = ?,
		comment = ?, cpu_sockets = ?, cpu_cores = ?, cpu_threads = ? WHERE id = ?`, append(vmArgs(v), v.ID)...)
}

func (t *Tx) BumpVMGeneration(id string) error {
	return t.execOne("VM", id, `UPDATE vms SET generation = generation + 1 WHERE id = ?`, id)
}

func (t *Tx) SetForeignNICs(vmID string, keys []string) error {
	for _, k := range keys {
		if strings.Contains(k, ",") {
			return vwire.New(vwire.MsgBadDeviceKey, "key", strconv.Quote(k))
		}
	}
	return t.execOne("VM", vmID, `UPDATE vms SET foreign_nics = ? WHERE id = ?`, strings.Join(keys, ","), vmID)
}

func (t *Tx) AcquireHostLease(hostID, owner string, until, now time.Time) (bool, error) {
	var got string
	err := t.row((`INSERT INTO host_leases (host_id, owner, expires) VALUES (?, ?, ?)
		ON CONFLICT (host_id) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
		WHERE host_leases.owner = excluded.owner OR host_leases.expires < ?
		RETURNING owner`), hostID, owner, millis(until), millis(now)).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil // another owner's lease is still valid
	}
	return got == owner, t.db.translate(err)
}

func (t *Tx) RenewHostLeases(owner string, until time.Time) ([]string, error) {
	return list(t, func(r *sql.Rows) (id string, err error) { err = r.Scan(&id); return },
		`UPDATE host_leases SET expires = ? WHERE owner = ? RETURNING host_id`, millis(until), owner)
}

func (t *Tx) DeleteVM(id string) error {
	// Leases are not tied by a foreign key (a lease may exist before its vNIC
	// row, while a hot plug runs), so they go with the VM's vNICs here.
	if _, err := t.exec(`DELETE FROM mac_leases WHERE nic_id IN (SELECT id FROM nics WHERE vm_id = ?)`, id); err != nil {
		return err
	}
	return t.execOne("VM", id, `DELETE FROM vms WHERE id = ?`, id)
}

// ---- vNICs

// nicSelect joins the profile, network and QoS a vNIC uses, which every
// read needs, and tells whether the vNIC has filter parameters: those come
// from one more query per read (fillFilterParams), made only then.
const nicSelect = `SELECT n.id, n.vm_id, n.name, n.mac, n.interface, n.vnic_profile_id, n.linked, n.plugged, n.synced,
	n.obs_present, n.obs_alias, n.obs_pci, n.obs_bridge, n.obs_mac, n.obs_model, n.obs_link, n.obs_at,
	n.obs_mirroring, n.obs_qos, n.obs_filter, n.obs_filter_params, n.obs_error,
	COALESCE(p.name, ''), COALESCE(p.network_id, ''), COALESCE(w.name, ''), COALESCE(p.port_mirroring, FALSE),
	COALESCE(p.guest_notification, 'none'), COALESCE(p.link_bounce_hold_ms, 0), ` + nicQoSCols + `,
	EXISTS (SELECT 1 FROM nic_filter_parameters f WHERE f.nic_id = n.id)
	FROM nics n LEFT JOIN vnic_profiles p ON p.id = n.vnic_profile_id LEFT JOIN networks w ON w.id = p.network_id
	LEFT JOIN network_qos q ON q.id = p.qos_id`

// scanNIC reads a row of nicSelect, and whether the vNIC has filter
// parameters.
func scanNIC(s interface{ Scan(...any) error }) (*vwire.NIC, bool, error) {
	var n vwire.NIC
	var profile sql.NullString
	var o vwire.NICObserved
	var at, hold int64
	var qos, obsParams string
	var params bool
	dest := append([]any{&n.ID, &n.VMID, &n.Name, &n.MAC, &n.Interface, &profile, &n.Linked, &n.Plugged, &n.Synced,
		&o.Present, &o.Alias, &o.PCIAddress, &o.Bridge, &o.MAC, &o.Model, &o.LinkUp, &at,
		&o.Mirroring, &qos, &o.Filter, &obsParams, &o.Error,
		&n.ProfileName, &n.NetworkID, &n.NetworkName, &n.PortMirroring, &n.Notify, &hold}, nicQoSDest(&n)...)
	if err := s.Scan(append(dest, &params)...); err != nil {
		return nil, false, err
	}
	n.BounceHold = time.Duration(hold) * time.Millisecond
	if !profile.Valid {
		n.Notify = ""
	}
	n.ProfileID = profile.String
	if at != 0 {
		o.At = fromMillis(at)
		if err := unmarshalObs(qos, &o.QoS); err != nil {
			return nil, false, err
		}
		if err := unmarshalObs(obsParams, &o.FilterParams); err != nil {
			return nil, false, err
		}
		n.Observed = &o
	}
	return &n, params, nil
}

// unmarshalObs reads an observed value stored as JSON; ” is its zero value.
func unmarshalObs(s string, v any) error {
	if s == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("reading a vNIC's observed state: %w", err)
	}
	return nil
}

// marshalObs stores an observed value as JSON; its zero value is ”.
func marshalObs(zero bool, v any) string {
	if zero {
		return ""
	}
	b, _ := json.Marshal(v) // plain structs and slices of strings: cannot fail
	return string(b)
}

func (t *Tx) NIC(id string) (*vwire.NIC, error) {
	var n *vwire.NIC
	var params bool
	err := t.one("Nic", id, func(r *sql.Row) (err error) { n, params, err = scanNIC(r); return }, nicSelect+` WHERE n.id = ?`, id)
	if err != nil {
		return nil, err
	}
	if params {
		err = t.fillFilterParams([]*vwire.NIC{n}, `WHERE n.id = ?`, id)
	}
	return n, err
}

// readNICs lists the vNICs nicSelect and its tail (joins, condition,
// order) select; cond is the same selection for their filter parameters.
func (t *Tx) readNICs(tail, cond string, args ...any) ([]*vwire.NIC, error) {
	var params bool
	nics, err := list(t, func(r *sql.Rows) (*vwire.NIC, error) {
		n, p, err := scanNIC(r)
		params = params || p
		return n, err
	}, nicSelect+tail, args...)
	if err != nil || !params {
		return nics, err
	}
	return nics, t.fillFilterParams(nics, cond, args...)
}

func (t *Tx) NICs(vmID string) ([]*vwire.NIC, error) {
	return t.readNICs(` WHERE n.vm_id = ? ORDER BY n.name`, `WHERE n.vm_id = ?`, vmID)
}

func (t *Tx) NICsOnHost(hostID string) ([]*vwire.NIC, error) {
	return t.readNICs(` JOIN vms v ON v.id = n.vm_id WHERE v.host_id = ? ORDER BY n.vm_id, n.name`,
		`JOIN vms v ON v.id = n.vm_id WHERE v.host_id = ?`, hostID)
}

func (t *Tx) NICCounts() (map[string]vwire.NICCount, error) {
	type row struct {
		vm string
		c  vwire.NICCount
	}
	rows, err := list(t, func(r *sql.Rows) (row, error) {
		var x row
		err := r.Scan(&x.vm, &x.c.NICs, &x.c.Unsynced)
		return x, err
	}, `SELECT vm_id, COUNT(*), SUM(CASE WHEN synced THEN 0 ELSE 1 END) FROM nics GROUP BY vm_id`)
	if err != nil {
		return nil, err
	}
	out := make(map[string]vwire.NICCount, len(rows))
	for _, x := range rows {
		out[x.vm] = x.c
	}
	return out, nil
}

func (t *Tx) CreateNIC(n *vwire.NIC) error {
	_, err := t.exec(`INSERT INTO nics (id, vm_id, name, mac, interface, vnic_profile_id, linked, plugged, synced) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		n.ID, n.VMID, n.Name, n.MAC, string(n.Interface), nullString(n.ProfileID), n.Linked, n.Plugged, n.Synced)
	return err
}

func (t *Tx) UpdateNIC(n *vwire.NIC) error {
	return t.execOne("Nic", n.ID, `UPDATE nics SET name = ?, mac = ?, interface = ?, vnic_profile_id = ?, linked = ?, plugged = ?, synced = ?,
		`+obsSet+` WHERE id = ?`,
		append(append([]any{n.Name, n.MAC, string(n.Interface), nullString(n.ProfileID), n.Linked, n.Plugged, n.Synced},
			obsArgs(n.Observed)...), n.ID)...)
}

func (t *Tx) DeleteNIC(id string) error {
	return t.execOne("Nic", id, `DELETE FROM nics WHERE id = ?`, id)
}

func (t *Tx) SetNICObserved(id string, o *vwire.NICObserved, synced bool) error {
	return t.execOne("Nic", id, `UPDATE nics SET synced = ?, `+obsSet+` WHERE id = ?`,
		append(append([]any{synced}, obsArgs(o)...), id)...)
}

// obsSet and obsArgs write a vNIC's observed state; nil is "none seen".
const obsSet = `obs_present = ?, obs_alias = ?, obs_pci = ?, obs_bridge = ?, obs_mac = ?, obs_model = ?, obs_link = ?, obs_at = ?,
	obs_mirroring = ?, obs_qos = ?, obs_filter = ?, obs_filter_params = ?, obs_error = ?`

func obsArgs(o *vwire.NICObserved) []any {
	if o == nil {
		return []any{false, "", "", "", "", "", false, int64(0), false, "", "", "", ""}
	}
	return []any{o.Present, o.Alias, o.PCIAddress, o.Bridge, o.MAC, o.Model, o.LinkUp, millis(o.At),
		o.Mirroring, marshalObs(o.QoS.IsZero(), o.QoS), o.Filter, marshalObs(len(o.FilterParams) == 0, o.FilterParams), o.Error}
}

func (t *Tx) ProfileUsers(profileID string) ([]string, error) {
	return list(t, scanString, `SELECT v.name FROM nics n JOIN vms v ON v.id = n.vm_id WHERE n.vnic_profile_id = ?
		UNION SELECT tp.name FROM template_nics n JOIN templates tp ON tp.id = n.template_id WHERE n.vnic_profile_id = ?
		ORDER BY 1`, profileID, profileID)
}

func (t *Tx) NetworkUsers(networkID string) ([]string, error) {
	return list(t, scanString, `SELECT DISTINCT v.name FROM nics n JOIN vms v ON v.id = n.vm_id
		JOIN vnic_profiles p ON p.id = n.vnic_profile_id WHERE p.network_id = ? ORDER BY v.name`, networkID)
}

func (t *Tx) SetPending(p vwire.Pending) error {
	t.markedPending = true
	insert := `INSERT INTO pending_changes (vm_id, engine_id, nic_id, started, op_id, intent, unknown, job_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	if t.db.d.name() == "postgres" && vwire.IsProvisional(t.ctx) {
		// The mark needs no flush of the log to disk (vwire.Provisional):
		// the transaction's synchronous_commit is turned off by the
		// statement itself (SET LOCAL would be one more round trip).
		insert = `WITH c AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true))
			INSERT INTO pending_changes (vm_id, engine_id, nic_id, started, op_id, intent, unknown, job_id)
			SELECT ?, ?, ?, ?::BIGINT, ?, ?, ?::BOOLEAN, ? FROM c`
	}
	_, err := t.exec(insert+`
		ON CONFLICT (vm_id) DO UPDATE SET engine_id = excluded.engine_id, nic_id = excluded.nic_id, started = excluded.started,
		op_id = excluded.op_id, intent = excluded.intent, unknown = excluded.unknown, job_id = excluded.job_id`,
		p.VMID, p.EngineID, p.NICID, millis(p.Started), p.OpID, string(p.Intent), p.Unknown, p.JobID)
	return err
}

func (t *Tx) ClearPending(vmID string) error {
	_, err := t.exec(`DELETE FROM pending_changes WHERE vm_id = ?`, vmID)
	return err
}

func (t *Tx) EndChange(vmID string, status vwire.JobStatus, at time.Time) error {
	started := string(vwire.JobStarted)
	if t.db.d.name() == "postgres" {
		// One statement: the change removed, its job and steps ended. The
		// job is compared with "=", a scalar subquery (at most one change
		// per VM): with "IN" PostgreSQL joined every job step and job to
		// the change, 0.4 ms per change on a table of recent jobs.
		_, err := t.exec(`WITH p AS (DELETE FROM pending_changes WHERE vm_id = $1 RETURNING job_id),
			s AS (UPDATE job_steps SET status = $2, end_time = $3 WHERE job_id = (SELECT job_id FROM p) AND status = $4)
			UPDATE jobs SET status = $2, end_time = $3, last_updated = $3 WHERE id = (SELECT job_id FROM p) AND status = $4`,
			vmID, string(status), millis(at), started)
		return err
	}
	var jobID string
	err := t.row(`DELETE FROM pending_changes WHERE vm_id = ? RETURNING job_id`, vmID).Scan(&jobID)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && jobID == "") {
		return nil
	}
	if err != nil {
		return t.db.translate(err)
	}
	return t.EndJob(jobID, status, at)
}

// vmContextQuery reads a VM, its cluster, its host and its change in
// flight in one row: the host's and the change's columns are zero values
// when the VM has none (their ids then empty).
var vmContextQuery = `SELECT ` + prefixed("v.", vmCols+`, generation, foreign_nics`) + `, ` + prefixed("c.", clusterCols) + `,
	COALESCE(h.id, ''), COALESCE(h.name, ''), COALESCE(h.cluster_id, ''), COALESCE(h.address, ''), COALESCE(h.port, 0),
	COALESCE(h.status, ''), COALESCE(h.status_detail, ''), COALESCE(h.networks, ''), COALESCE(h.cluster_levels, ''),
	COALESCE(h.libvirt_version, ''), COALESCE(h.embedded, FALSE), COALESCE(h.last_seen, 0),
	COALESCE(p.vm_id, ''), COALESCE(p.engine_id, ''), COALESCE(p.nic_id, ''), COALESCE(p.started, 0), COALESCE(p.op_id, ''),
	COALESCE(p.intent, ''), COALESCE(p.unknown, FALSE), COALESCE(p.job_id, '')
	FROM vms v JOIN clusters c ON c.id = v.cluster_id LEFT JOIN hosts h ON h.id = v.host_id
	LEFT JOIN pending_changes p ON p.vm_id = v.id WHERE v.id = ?`

func (t *Tx) VMContext(vmID string) (*vwire.VM, *vwire.Cluster, *vwire.Host, *vwire.Pending, error) {
	var vr vmRow
	var cr clusterRow
	var hr hostRow
	var pr pendingRow
	dest := append(append(append(vr.dest(), cr.dest()...), hr.dest()...), pr.dest()...)
	if err := t.one("VM", vmID, func(r *sql.Row) error { return r.Scan(dest...) }, vmContextQuery, vmID); err != nil {
		return nil, nil, nil, nil, err
	}
	var h *vwire.Host
	if hr.h.ID != "" {
		h = hr.finish()
	}
	var p *vwire.Pending
	if pr.p.VMID != "" {
		q := pr.finish()
		p = &q
	}
	return vr.finish(), cr.finish(), h, p, nil
}

func (t *Tx) MarkPendingUnknown(vmID string) error {
	_, err := t.exec(`UPDATE pending_changes SET unknown = TRUE WHERE vm_id = ?`, vmID)
	return err
}

const pendingColumns = `p.vm_id, p.engine_id, p.nic_id, p.started, p.op_id, p.intent, p.unknown, p.job_id`

// pendingRow is where a change in flight's columns are scanned.
type pendingRow struct {
	p       vwire.Pending
	started int64
	intent  string
}

func (r *pendingRow) dest() []any {
	p := &r.p
	return []any{&p.VMID, &p.EngineID, &p.NICID, &r.started, &p.OpID, &r.intent, &p.Unknown, &p.JobID}
}

func (r *pendingRow) finish() vwire.Pending {
	p := r.p
	p.Started = fromMillis(r.started)
	if r.intent != "" {
		p.Intent = []byte(r.intent)
	}
	return p
}

func scanPending(s scanner) (vwire.Pending, error) { return scanRow[pendingRow, vwire.Pending](s) }

func (t *Tx) UnsettledPending(hostID string, since, startedBefore time.Time) ([]vwire.Pending, error) {
	return list(t, func(r *sql.Rows) (vwire.Pending, error) { return scanPending(r) },
		`SELECT `+pendingColumns+` FROM pending_changes p JOIN vms v ON v.id = p.vm_id
		LEFT JOIN engines e ON e.id = p.engine_id
		WHERE v.host_id = ? AND (p.unknown OR COALESCE(e.heartbeat, 0) < ? OR p.started < ?) ORDER BY p.vm_id`,
		hostID, millis(since), millis(startedBefore))
}

func (t *Tx) Heartbeat(engineID string, now time.Time) error {
	_, err := t.exec(`INSERT INTO engines (id, heartbeat) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET heartbeat = excluded.heartbeat`,
		engineID, millis(now))
	return err
}

func (t *Tx) ReleaseStrayLeases(nicID, keep string) error {
	if keep == "" {
		_, err := t.exec(`DELETE FROM mac_leases WHERE nic_id = ?`, nicID)
		return err
	}
	m, _ := vwire.ParseMAC(keep)
	_, err := t.exec(`DELETE FROM mac_leases WHERE nic_id = ? AND mac <> ?`, nicID, int64(m))
	return err
}

func (t *Tx) PendingOf(vmID string) (*vwire.Pending, error) {
	p, err := scanPending(t.row(`SELECT `+pendingColumns+` FROM pending_changes p WHERE p.vm_id = ?`, vmID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return &p, t.db.translate(err)
}
