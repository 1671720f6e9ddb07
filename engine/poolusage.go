package engine

import (
	"context"

	"vwire.dev/vwire"
)

// MACPoolUsage is how full a MAC pool is.
type MACPoolUsage struct {
	ID, Name string
	// Size is the number of addresses in its ranges; Used the vNICs of
	// VMs in the clusters that take their MACs from it.
	Size uint64
	Used int
}

// MACPoolsUsage tells, for each MAC pool the caller may see (as MACPools),
// its size and how many of its addresses the VMs' vNICs hold. It counts
// vNICs rather than leases: the store offers no count of leases, and the
// two differ only by a hot plug's reservation in flight (and, in a pool
// that allows duplicates, by vNICs sharing a MAC). Four reads in one
// transaction whatever the number of VMs, so that a metrics scrape stays
// cheap.
func (e *Engine) MACPoolsUsage(ctx context.Context) ([]MACPoolUsage, error) {
	var out []MACPoolUsage
	err := e.view(ctx, func(tx vwire.Tx) error {
		out = nil // a retried transaction starts again
		if ok, err := seesMACPools(ctx, tx); err != nil || !ok {
			return err
		}
		pools, err := tx.MACPools()
		if err != nil {
			return err
		}
		clusters, err := tx.Clusters(vwire.ClusterFilter{})
		if err != nil {
			return err
		}
		vms, err := tx.VMs(vwire.VMFilter{})
		if err != nil {
			return err
		}
		counts, err := tx.NICCounts()
		if err != nil {
			return err
		}
		poolOf := make(map[string]string, len(clusters))
		for _, c := range clusters {
			poolOf[c.ID] = c.MACPoolID
		}
		used := make(map[string]int, len(pools))
		for _, vm := range vms {
			used[poolOf[vm.ClusterID]] += counts[vm.ID].NICs
		}
		for _, p := range pools {
			out = append(out, MACPoolUsage{ID: p.ID, Name: p.Name, Size: p.Size(), Used: used[p.ID]})
		}
		return nil
	})
	return out, err
}
