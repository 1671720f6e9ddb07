package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"vwire.dev/vwire"
)

// NICStatistics are a vNIC's traffic as its host counts it, read when
// asked, and the rates since the previous reading this engine made of it.
type NICStatistics struct {
	// Live: the VM runs and the vNIC is plugged, and the counters are the
	// host's; otherwise everything is zero, as oVirt shows it.
	Live     bool
	Counters HostNICCounters
	// RxRate and TxRate are bytes per second since the previous reading
	// (0 at the first, or when the device was made anew in between).
	RxRate, TxRate float64
}

// NICStatistics reads a vNIC's traffic counters from its host.
func (e *Engine) NICStatistics(ctx context.Context, vmID, nicID string) (*NICStatistics, error) {
	n, err := e.NIC(ctx, vmID, nicID) // seeing the VM is the right to read it
	if err != nil {
		return nil, err
	}
	var vm *vwire.VM
	var h *vwire.Host
	err = e.store.View(ctx, func(tx vwire.Tx) (err error) {
		if vm, err = tx.VM(vmID); err != nil || vm.HostID == "" {
			return err
		}
		h, err = tx.Host(vm.HostID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if vm.Status != vwire.VMUp || h == nil || !n.Plugged {
		return &NICStatistics{}, nil
	}
	hctx, cancel := context.WithTimeout(ctx, e.hostTimeout)
	defer cancel()
	st, err := e.client(h).VMStats(hctx, vmID)
	if errors.Is(err, ErrNoVM) {
		return &NICStatistics{}, nil // stopped meanwhile
	}
	if err != nil {
		return nil, hostError("Cannot read the statistics of Interface "+n.Name+".", h, err)
	}
	for _, d := range st.NICs {
		if d.Alias == n.Alias() && d.Counters != nil {
			out := &NICStatistics{Live: true, Counters: *d.Counters}
			out.RxRate, out.TxRate = e.samples.rates(nicID, *d.Counters)
			return out, nil
		}
	}
	return &NICStatistics{}, nil // not on the host (yet): nothing counted
}

// nicSamples keeps the last counters read of each vNIC, bounded.
type nicSamples struct {
	mu   sync.Mutex
	last map[string]HostNICCounters
}

// maxSamples bounds the memory of rates: past it, old readings are
// forgotten (the next reading of those vNICs has no rate).
const maxSamples = 100_000

func newNICSamples() *nicSamples { return &nicSamples{last: map[string]HostNICCounters{}} }

// rates records cur and returns the receive and transmit rates since the
// previous reading, in bytes per second.
func (s *nicSamples) rates(nicID string, cur HostNICCounters) (rx, tx float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, ok := s.last[nicID]
	if len(s.last) >= maxSamples && !ok {
		for id, c := range s.last {
			if cur.SampledAt.Sub(c.SampledAt) > time.Hour {
				delete(s.last, id)
			}
		}
		if len(s.last) >= maxSamples {
			clear(s.last)
		}
	}
	s.last[nicID] = cur
	dt := cur.SampledAt.Sub(prev.SampledAt).Seconds()
	if !ok || dt <= 0 || cur.RxBytes < prev.RxBytes || cur.TxBytes < prev.TxBytes {
		return 0, 0 // first reading, clock went back, or a new device
	}
	return float64(cur.RxBytes-prev.RxBytes) / dt, float64(cur.TxBytes-prev.TxBytes) / dt
}
