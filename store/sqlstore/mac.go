package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"vwire.dev/vwire"
)

const poolCols = `id, name, description, allow_duplicates, default_pool, ranges`

func formatRanges(rs []vwire.MACRange) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.From.String() + "-" + r.To.String()
	}
	return strings.Join(parts, ",")
}

func parseRanges(s string) ([]vwire.MACRange, error) {
	var out []vwire.MACRange
	for _, p := range splitList(s) {
		a, b, _ := strings.Cut(p, "-")
		from, ok1 := vwire.ParseMAC(a)
		to, ok2 := vwire.ParseMAC(b)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("corrupt MAC range %q", p)
		}
		out = append(out, vwire.MACRange{From: from, To: to})
	}
	return out, nil
}

func scanPool(s interface{ Scan(...any) error }) (*vwire.MACPool, error) {
	var p vwire.MACPool
	var ranges string
	if err := s.Scan(&p.ID, &p.Name, &p.Description, &p.AllowDuplicates, &p.DefaultPool, &ranges); err != nil {
		return nil, err
	}
	var err error
	p.Ranges, err = parseRanges(ranges)
	return &p, err
}

func (t *Tx) MACPool(id string) (*vwire.MACPool, error) {
	var p *vwire.MACPool
	err := t.one("MacPool", id, func(r *sql.Row) (err error) { p, err = scanPool(r); return },
		`SELECT `+poolCols+` FROM mac_pools WHERE id = ?`, id)
	return p, err
}

func (t *Tx) MACPools() ([]*vwire.MACPool, error) {
	return list(t, func(r *sql.Rows) (*vwire.MACPool, error) { return scanPool(r) },
		`SELECT `+poolCols+` FROM mac_pools ORDER BY name`)
}

func (t *Tx) CreateMACPool(p *vwire.MACPool) error {
	_, err := t.exec(`INSERT INTO mac_pools (`+poolCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		p.ID, p.Name, p.Description, p.AllowDuplicates, p.DefaultPool, formatRanges(p.Ranges))
	return err
}

func (t *Tx) UpdateMACPool(p *vwire.MACPool) error {
	return t.execOne("MacPool", p.ID, `UPDATE mac_pools SET name = ?, description = ?, allow_duplicates = ?, ranges = ? WHERE id = ?`,
		p.Name, p.Description, p.AllowDuplicates, formatRanges(p.Ranges), p.ID)
}

func (t *Tx) DeleteMACPool(id string) error {
	return t.execOne("MacPool", id, `DELETE FROM mac_pools WHERE id = ?`, id)
}

func dupKey(p *vwire.MACPool, nicID string) string {
	if p.AllowDuplicates {
		return nicID
	}
	return ""
}

// LeaseMAC records that nicID holds mac. The primary key refuses a second
// holder in a pool without duplicates; that violation is the conflict.
func (t *Tx) LeaseMAC(p *vwire.MACPool, mac vwire.MAC, nicID string) error {
	_, err := t.exec(`INSERT INTO mac_leases (pool_id, mac, dup_key, nic_id) VALUES (?, ?, ?, ?)`,
		p.ID, int64(mac), dupKey(p, nicID), nicID)
	return err
}

func (t *Tx) ReleaseMAC(poolID string, mac vwire.MAC, nicID string) error {
	_, err := t.exec(`DELETE FROM mac_leases WHERE pool_id = ? AND mac = ? AND nic_id = ?`, poolID, int64(mac), nicID)
	return err
}

func (t *Tx) MACHolder(poolID string, mac vwire.MAC) (string, error) {
	var name string
	err := t.row((`SELECT COALESCE(v.name, '') FROM mac_leases l
		LEFT JOIN nics n ON n.id = l.nic_id LEFT JOIN vms v ON v.id = n.vm_id
		WHERE l.pool_id = ? AND l.mac = ? ORDER BY v.name LIMIT 1`), poolID, int64(mac)).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return name, t.db.translate(err)
}

// AllocateMAC leases the first free MAC at or after the pool's cursor.
func (t *Tx) AllocateMAC(p *vwire.MACPool, nicID string) (vwire.MAC, error) {
	macs, err := t.AllocateMACs(p, []string{nicID})
	if err != nil {
		return 0, err
	}
	return macs[0], nil
}

// AllocateMACs finds the first free MACs at or after the pool's cursor,
// wrapping once around all ranges, leases one to each vNIC in order and
// moves the cursor past the last. It reads used MACs in ordered batches, so
// a dense pool costs a few queries, not one per address, and several vNICs
// cost one search.
func (t *Tx) AllocateMACs(p *vwire.MACPool, nicIDs []string) ([]vwire.MAC, error) {
	var cursor int64
	// The pool's row is locked (PostgreSQL): allocations in one pool take
	// turns, so that two of them never pick the same free MAC, whatever
	// the isolation (a VM-scoped write runs READ COMMITTED, where the second
	// reads the cursor the first moved once it commits).
	if err := t.row(`SELECT next_mac FROM mac_pools WHERE id = ?`+t.db.d.forUpdate(), p.ID).Scan(&cursor); err != nil {
		return nil, t.db.translate(err)
	}
	var macs []vwire.MAC
	for _, seg := range segments(p.Ranges, vwire.MAC(cursor)) {
		if len(macs) == len(nicIDs) {
			break
		}
		free, err := t.freeMACs(p.ID, seg.From, seg.To, len(nicIDs)-len(macs))
		if err != nil {
			return nil, err
		}
		macs = append(macs, free...)
	}
	if len(macs) < len(nicIDs) {
		return nil, vwire.ErrPoolExhausted
	}
	for i, m := range macs {
		if err := t.LeaseMAC(p, m, nicIDs[i]); err != nil {
			return nil, err
		}
	}
	if _, err := t.exec(`UPDATE mac_pools SET next_mac = ? WHERE id = ?`, int64(macs[len(macs)-1])+1, p.ID); err != nil {
		return nil, err
	}
	return macs, nil
}

// segments orders the ranges so that the search starts at cursor and wraps.
func segments(rs []vwire.MACRange, cursor vwire.MAC) []vwire.MACRange {
	start := -1
	for i, r := range rs {
		if cursor >= r.From && cursor <= r.To {
			start = i
			break
		}
	}
	if start < 0 {
		return rs
	}
	out := []vwire.MACRange{{From: cursor, To: rs[start].To}}
	for i := 1; i < len(rs); i++ {
		out = append(out, rs[(start+i)%len(rs)])
	}
	if cursor > rs[start].From {
		out = append(out, vwire.MACRange{From: rs[start].From, To: cursor - 1})
	}
	return out
}

const freeScanBatch = 512

// freeMACs returns up to k free MACs of [from, to], lowest first.
func (t *Tx) freeMACs(poolID string, from, to vwire.MAC, k int) ([]vwire.MAC, error) {
	var free []vwire.MAC
	next := from
	for next <= to && len(free) < k {
		used, err := list(t, func(r *sql.Rows) (int64, error) {
			var m int64
			return m, r.Scan(&m)
		}, `SELECT DISTINCT mac FROM mac_leases WHERE pool_id = ? AND mac >= ? AND mac <= ? ORDER BY mac LIMIT `+fmt.Sprint(freeScanBatch),
			poolID, int64(next), int64(to))
		if err != nil {
			return nil, err
		}
		for _, m := range used {
			for ; next < vwire.MAC(m) && len(free) < k; next++ {
				free = append(free, next)
			}
			if len(free) == k {
				return free, nil
			}
			next = vwire.MAC(m) + 1
		}
		if len(used) < freeScanBatch {
			for ; next <= to && len(free) < k; next++ {
				free = append(free, next)
			}
		}
	}
	return free, nil
}
