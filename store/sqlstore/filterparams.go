package sqlstore

import (
	"database/sql"

	"vwire.dev/vwire"
)

// ---- vNICs' network filter parameters

const filterParamCols = `id, nic_id, name, value`

func scanFilterParameter(s interface{ Scan(...any) error }) (*vwire.FilterParameter, error) {
	var p vwire.FilterParameter
	err := s.Scan(&p.ID, &p.NICID, &p.Name, &p.Value)
	return &p, err
}

func (t *Tx) FilterParameters(nicID string) ([]*vwire.FilterParameter, error) {
	return list(t, func(r *sql.Rows) (*vwire.FilterParameter, error) { return scanFilterParameter(r) },
		`SELECT `+filterParamCols+` FROM nic_filter_parameters WHERE nic_id = ? ORDER BY name, id`, nicID)
}

func (t *Tx) FilterParameter(id string) (*vwire.FilterParameter, error) {
	var p *vwire.FilterParameter
	err := t.one("NetworkFilterParameter", id, func(r *sql.Row) (err error) { p, err = scanFilterParameter(r); return },
		`SELECT `+filterParamCols+` FROM nic_filter_parameters WHERE id = ?`, id)
	return p, err
}

func (t *Tx) CreateFilterParameter(p *vwire.FilterParameter) error {
	_, err := t.exec(`INSERT INTO nic_filter_parameters (`+filterParamCols+`) VALUES (?, ?, ?, ?)`, p.ID, p.NICID, p.Name, p.Value)
	return err
}

func (t *Tx) UpdateFilterParameter(p *vwire.FilterParameter) error {
	return t.execOne("NetworkFilterParameter", p.ID, `UPDATE nic_filter_parameters SET name = ?, value = ? WHERE id = ?`,
		p.Name, p.Value, p.ID)
}

func (t *Tx) DeleteFilterParameter(id string) error {
	return t.execOne("NetworkFilterParameter", id, `DELETE FROM nic_filter_parameters WHERE id = ?`, id)
}
