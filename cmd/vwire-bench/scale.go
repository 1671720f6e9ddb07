package main

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
)

// scale populates VMs with 4 vNICs each over REST (64 clients; the first
// 500 with a POST per VM and per vNIC, the rest from a template with 4
// vNICs, as an administrator creates VMs in bulk), and at 1,000
// VMs and at the full count measures listing a VM's vNICs and updating one
// (the VMs are down: the update is the database path), and the process's
// resident memory (engine and clients share this process).
func scale(short bool, total int) ([]row, error) {
	if short {
		total = 1000
	}
	m, a, err := startEngine(true, "")
	if err != nil {
		return nil, err
	}
	defer m.Close()
	// The default pool holds 65,536 MACs; 100,000 VMs of 4 vNICs need more.
	ctx := context.Background()
	pools, err := a.MACPools(ctx)
	if err != nil {
		return nil, err
	}
	pool := pools[0]
	ranges := append(pool.MustRanges().Slice(), ovirtsdk4.NewRangeBuilder().From("02:00:00:00:00:00").To("02:00:00:3f:ff:ff").MustBuild())
	if _, err := a.UpdateMACPool(ctx, pool.MustId(), ovirtsdk4.NewMacPoolBuilder().RangesOfAny(ranges...).MustBuild()); err != nil {
		return nil, err
	}
	defaultCluster := ovirtsdk4.NewClusterBuilder().Name("Default").MustBuild()
	// newNIC is vNIC j of a VM: no network, every other one unlinked.
	newNIC := func(j int) *ovirtsdk4.Nic {
		return ovirtsdk4.NewNicBuilder().Name(fmt.Sprintf("nic%d", j)).Linked(j%2 == 0).MustBuild()
	}
	// The template the bulk of the VMs come from: 4 vNICs, two of them unlinked.
	base, err := a.AddVM(ctx, blankVM("s-base", defaultCluster, "Blank").MustBuild())
	if err != nil {
		return nil, err
	}
	for j := 0; j < 4; j++ {
		if _, err := a.AddNIC(ctx, base.MustId(), newNIC(j)); err != nil {
			return nil, err
		}
	}
	if _, err := a.AddTemplate(ctx, ovirtsdk4.NewTemplateBuilder().Name("s-tmpl").
		Vm(ovirtsdk4.NewVmBuilder().Id(base.MustId()).MustBuild()).MustBuild()); err != nil {
		return nil, err
	}
	var vms []string
	var mu sync.Mutex
	var rows []row
	populated := 0
	// populate adds VMs up to upto with 64 clients: from the template (one
	// POST per VM) or from Blank with a POST per vNIC.
	populate := func(upto int, fromTemplate bool) error {
		start := time.Now()
		n := upto - populated
		var next atomic.Int64
		next.Store(int64(populated))
		var wg sync.WaitGroup
		var failed atomic.Value
		for c := 0; c < 64; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= int64(upto) {
						return
					}
					tmpl := "Blank"
					if fromTemplate {
						tmpl = "s-tmpl"
					}
					vm, err := a.AddVM(ctx, blankVM(fmt.Sprintf("s%06d", i), defaultCluster, tmpl).MustBuild())
					if err != nil {
						failed.Store(err)
						return
					}
					for j := 0; j < 4 && !fromTemplate; j++ {
						if _, err := a.AddNIC(ctx, vm.MustId(), newNIC(j)); err != nil {
							failed.Store(err)
							return
						}
					}
					mu.Lock()
					vms = append(vms, vm.MustId())
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if err, _ := failed.Load().(error); err != nil {
			return err
		}
		populated = upto
		el := time.Since(start)
		how := "a POST per VM and per vNIC"
		if fromTemplate {
			how = "VMs from a 4-vNIC template"
		}
		rows = append(rows, row{name: fmt.Sprintf("populate to %d VMs × 4 vNICs over REST: %s", upto, how),
			rate: fmt.Sprintf("%.0f vNICs/s", float64(n*4)/el.Seconds()), note: "64 clients; target ≥ 5,000 vNICs/s"})
		return nil
	}
	measure := func() error {
		r := rand.New(rand.NewSource(1))
		var list, upd []time.Duration
		for i := 0; i < 500; i++ {
			vm := vms[r.Intn(len(vms))]
			t0 := time.Now()
			nics, err := a.NICs(ctx, vm)
			if err != nil {
				return err
			}
			list = append(list, time.Since(t0))
			nic := nics[r.Intn(len(nics))].MustId()
			t0 = time.Now()
			if _, err := a.LinkNIC(ctx, vm, nic, i%2 == 0); err != nil {
				return err
			}
			upd = append(upd, time.Since(t0))
		}
		rows = append(rows,
			row{name: fmt.Sprintf("list a VM's vNICs at %d VMs", len(vms)), p50: ms(pct(list, .5)), p99: ms(pct(list, .99)), note: "target p99 ≤ 5 ms"},
			row{name: fmt.Sprintf("update a vNIC at %d VMs", len(vms)), p50: ms(pct(upd, .5)), p99: ms(pct(upd, .99)), note: "target p99 at 100k ≤ 1.25 × at 1k"},
			row{name: fmt.Sprintf("resident memory at %d VMs", len(vms)), rate: rss(), note: "engine and clients in one process; target ≤ 512 MB"})
		return nil
	}
	first := min(1000, total)
	if err := populate(first/2, false); err != nil {
		return rows, err
	}
	if err := populate(first, true); err != nil {
		return rows, err
	}
	if err := measure(); err != nil {
		return rows, err
	}
	if total > first {
		if err := populate(total, true); err != nil {
			return rows, err
		}
		if err := measure(); err != nil {
			return rows, err
		}
	}
	return rows, nil
}

func rss() string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:"))
		}
	}
	return "?"
}
