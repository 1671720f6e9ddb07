package sqlstore

import (
	"database/sql"

	"vwire.dev/vwire"
)

// ---- network QoS entities

const qosCols = `id, name, description, data_center_id, type,
	inbound_average, inbound_peak, inbound_burst, outbound_average, outbound_peak, outbound_burst`

// scanQoS reads each direction's three nullable columns as a Rate: NULL
// is no limit, which oVirt writes for a direction left out.
func scanQoS(s interface{ Scan(...any) error }) (*vwire.QoS, error) {
	var q vwire.QoS
	var v [6]sql.NullInt64
	if err := s.Scan(&q.ID, &q.Name, &q.Description, &q.DataCenterID, &q.Type,
		&v[0], &v[1], &v[2], &v[3], &v[4], &v[5]); err != nil {
		return nil, err
	}
	q.Inbound = vwire.Rate{Average: int(v[0].Int64), Peak: int(v[1].Int64), Burst: int(v[2].Int64)}
	q.Outbound = vwire.Rate{Average: int(v[3].Int64), Peak: int(v[4].Int64), Burst: int(v[5].Int64)}
	return &q, nil
}

// rateArgs stores an unlimited direction as NULLs, as oVirt does.
func rateArgs(r vwire.Rate) []any {
	if r.IsZero() {
		return []any{nil, nil, nil}
	}
	return []any{r.Average, r.Peak, r.Burst}
}

func qosArgs(q *vwire.QoS) []any {
	typ := q.Type
	if typ == "" {
		typ = vwire.QoSNetwork
	}
	args := []any{q.Name, q.Description, q.DataCenterID, string(typ)}
	args = append(args, rateArgs(q.Inbound)...)
	return append(args, rateArgs(q.Outbound)...)
}

func (t *Tx) QoS(id string) (*vwire.QoS, error) {
	var q *vwire.QoS
	err := t.one("QoS", id, func(r *sql.Row) (err error) { q, err = scanQoS(r); return },
		`SELECT `+qosCols+` FROM network_qos WHERE id = ?`, id)
	return q, err
}

func (t *Tx) QoSs(dataCenterID string) ([]*vwire.QoS, error) {
	return list(t, func(r *sql.Rows) (*vwire.QoS, error) { return scanQoS(r) },
		`SELECT `+qosCols+` FROM network_qos WHERE data_center_id = ? ORDER BY name, id`, dataCenterID)
}

func (t *Tx) CreateQoS(q *vwire.QoS) error {
	_, err := t.exec(`INSERT INTO network_qos (`+qosCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		append([]any{q.ID}, qosArgs(q)...)...)
	return err
}

// UpdateQoS writes everything but the data center, which a QoS never leaves.
func (t *Tx) UpdateQoS(q *vwire.QoS) error {
	args := qosArgs(q)
	args = append(append(args[:2:2], args[3:]...), q.ID)
	return t.execOne("QoS", q.ID, `UPDATE network_qos SET name = ?, description = ?, type = ?,
		inbound_average = ?, inbound_peak = ?, inbound_burst = ?, outbound_average = ?, outbound_peak = ?, outbound_burst = ?
		WHERE id = ?`, args...)
}

func (t *Tx) DeleteQoS(id string) error {
	return t.execOne("QoS", id, `DELETE FROM network_qos WHERE id = ?`, id)
}

func (t *Tx) QoSProfiles(qosID string) ([]string, error) {
	return list(t, scanString, `SELECT id FROM vnic_profiles WHERE qos_id = ? ORDER BY id`, qosID)
}

// ---- what a vNIC read takes from its profile's QoS and filter

// nicQoSCols are the QoS and filter columns nicSelect and templateNICSelect
// read through the joined profile (p) and QoS (q): zero when either is
// missing.
const nicQoSCols = `COALESCE(q.inbound_average, 0), COALESCE(q.inbound_peak, 0), COALESCE(q.inbound_burst, 0),
	COALESCE(q.outbound_average, 0), COALESCE(q.outbound_peak, 0), COALESCE(q.outbound_burst, 0), COALESCE(p.network_filter, '')`

// nicQoSDest are the scan destinations of nicQoSCols.
func nicQoSDest(n *vwire.NIC) []any {
	return []any{&n.QoS.Inbound.Average, &n.QoS.Inbound.Peak, &n.QoS.Inbound.Burst,
		&n.QoS.Outbound.Average, &n.QoS.Outbound.Peak, &n.QoS.Outbound.Burst, &n.Filter}
}

// fillFilterParams gives each vNIC its filter parameters, sorted by name,
// from one query over the same selection as the vNICs' (from: the joins
// and condition on the nics table n, with its args): a list costs one
// query more, not one per vNIC.
func (t *Tx) fillFilterParams(nics []*vwire.NIC, from string, args ...any) error {
	if len(nics) == 0 {
		return nil
	}
	byID := make(map[string]*vwire.NIC, len(nics))
	for _, n := range nics {
		byID[n.ID] = n
	}
	rows, err := t.query(`SELECT f.nic_id, f.name, f.value FROM nic_filter_parameters f JOIN nics n ON n.id = f.nic_id `+
		from+` ORDER BY f.nic_id, f.name, f.value, f.id`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var nicID string
		var p vwire.FilterParam
		if err := rows.Scan(&nicID, &p.Name, &p.Value); err != nil {
			return t.db.translate(err)
		}
		if n := byID[nicID]; n != nil {
			n.FilterParams = append(n.FilterParams, p)
		}
	}
	return t.db.translate(rows.Err())
}
