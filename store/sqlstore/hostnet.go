package sqlstore

import (
	"database/sql"
	"encoding/json"
	"errors"

	"vwire.dev/vwire"
)

// ---- host reports: one row per host, its lists as JSON, since they are
// always read and replaced whole (a poll compares them with the host's
// answer and writes only on a change).

func (t *Tx) HostReport(hostID string) (*vwire.HostReport, error) {
	var nics, nets string
	r := &vwire.HostReport{}
	err := t.row(`SELECT nics, networks, no_vlan FROM host_reports WHERE host_id = ?`, hostID).Scan(&nics, &nets, &r.NoVLAN)
	if errors.Is(err, sql.ErrNoRows) {
		return r, nil
	}
	if err != nil {
		return nil, t.db.translate(err)
	}
	if err := unmarshalList(nics, &r.NICs); err != nil {
		return nil, err
	}
	if err := unmarshalList(nets, &r.Networks); err != nil {
		return nil, err
	}
	return r, nil
}

func unmarshalList(s string, v any) error {
	if s == "" {
		return nil
	}
	return json.Unmarshal([]byte(s), v)
}

func marshalList[T any](l []T) (string, error) {
	if len(l) == 0 {
		return "", nil
	}
	b, err := json.Marshal(l)
	return string(b), err
}

func (t *Tx) SetHostReport(hostID string, r *vwire.HostReport) error {
	nics, err := marshalList(r.NICs)
	if err != nil {
		return err
	}
	nets, err := marshalList(r.Networks)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO host_reports (host_id, nics, networks, no_vlan) VALUES (?, ?, ?, ?)
		ON CONFLICT (host_id) DO UPDATE SET nics = excluded.nics, networks = excluded.networks, no_vlan = excluded.no_vlan`,
		hostID, nics, nets, r.NoVLAN)
	return err
}

// ---- network attachments

const attachCols = `a.id, a.host_id, a.network_id, a.nic`

func scanAttachment(s interface{ Scan(...any) error }) (*vwire.NetworkAttachment, error) {
	var a vwire.NetworkAttachment
	err := s.Scan(&a.ID, &a.HostID, &a.NetworkID, &a.NIC)
	return &a, err
}

func (t *Tx) NetworkAttachment(id string) (*vwire.NetworkAttachment, error) {
	var a *vwire.NetworkAttachment
	err := t.one("NetworkAttachment", id, func(r *sql.Row) (err error) { a, err = scanAttachment(r); return },
		`SELECT `+attachCols+` FROM network_attachments a WHERE a.id = ?`, id)
	return a, err
}

func (t *Tx) NetworkAttachments(hostID, networkID string) ([]*vwire.NetworkAttachment, error) {
	return list(t, func(r *sql.Rows) (*vwire.NetworkAttachment, error) { return scanAttachment(r) },
		`SELECT `+attachCols+` FROM network_attachments a JOIN networks n ON n.id = a.network_id
		WHERE (? = '' OR a.host_id = ?) AND (? = '' OR a.network_id = ?) ORDER BY a.host_id, n.name`,
		hostID, hostID, networkID, networkID)
}

func (t *Tx) CreateNetworkAttachment(a *vwire.NetworkAttachment) error {
	_, err := t.exec(`INSERT INTO network_attachments (id, host_id, network_id, nic) VALUES (?, ?, ?, ?)`,
		a.ID, a.HostID, a.NetworkID, a.NIC)
	return err
}

func (t *Tx) UpdateNetworkAttachment(a *vwire.NetworkAttachment) error {
	return t.execOne("NetworkAttachment", a.ID, `UPDATE network_attachments SET nic = ? WHERE id = ?`, a.NIC, a.ID)
}

func (t *Tx) DeleteNetworkAttachment(id string) error {
	return t.execOne("NetworkAttachment", id, `DELETE FROM network_attachments WHERE id = ?`, id)
}
