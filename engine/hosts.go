package engine

import (
	"context"
	"errors"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"vwire.dev/vwire"
)

func hostURL(h *vwire.Host) string {
	return "http://" + net.JoinHostPort(h.Address, strconv.Itoa(h.Port)) + "/"
}

// hostAnswer is a failed host call's answer, if the host gave one.
func hostAnswer(err error) (*HostError, bool) {
	var he *HostError
	return he, errors.As(err, &he) && he.Answered
}

// HostSpec is a host to register.
type HostSpec struct {
	Name      string
	Address   string
	Port      int
	ClusterID string
}

// AddHost registers a host agent and probes it once, so that the answer
// already says whether it is up.
func (e *Engine) AddHost(ctx context.Context, s HostSpec) (*vwire.Host, error) {
	op := vwire.OpAddHost
	if err := e.authorize(ctx, op, on(vwire.PermitCreateHost, vwire.ObjCluster, s.ClusterID)); err != nil {
		return nil, err
	}
	var missing []string
	if s.Name == "" {
		missing = append(missing, "name")
	}
	if s.Address == "" {
		missing = append(missing, "address")
	}
	if len(missing) > 0 {
		return nil, vwire.Incomplete("Host", missing, "add")
	}
	if err := vwire.ValidateName(op, s.Name, 255, true); err != nil {
		return nil, err
	}
	if s.Port == 0 {
		s.Port = vwire.DefaultAgentPort
	}
	if err := vwire.ValidateAgentAddress(s.Address, s.Port); err != nil {
		return nil, err
	}
	h := &vwire.Host{ID: uuid.NewString(), Name: s.Name, ClusterID: s.ClusterID, Address: s.Address, Port: s.Port, Status: vwire.HostConnecting}
	if err := e.createHost(ctx, op, h); err != nil {
		return nil, err
	}
	e.pollHost(ctx, h.ID)
	return e.Host(ctx, h.ID)
}

func (e *Engine) createHost(ctx context.Context, op vwire.Op, h *vwire.Host) error {
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		if _, err := tx.Cluster(h.ClusterID); vwire.ErrorCode(err) == vwire.ENOTFOUND {
			return vwire.Fail(op, vwire.MsgClusterNotExist)
		} else if err != nil {
			return err
		}
		hosts, err := tx.Hosts(vwire.HostFilter{})
		if err != nil {
			return err
		}
		for _, o := range hosts {
			if o.Name == h.Name {
				return vwire.Fail(op, vwire.MsgNameAlreadyUsed)
			}
			if o.Address == h.Address && o.Port == h.Port {
				return vwire.Fail(op, vwire.MsgHostAddressInUse, "address", h.Address, "port", strconv.Itoa(h.Port), "host", o.Name)
			}
		}
		if err := tx.CreateHost(h); err != nil {
			return err
		}
		return newEvent(ctx, evHostAdd).host(h).write(tx)
	})
}

// Host reads a host.
func (e *Engine) Host(ctx context.Context, id string) (*vwire.Host, error) {
	return get(ctx, e, vwire.ObjHost, "Host", vwire.Tx.Host, id)
}

// HostPatch edits a host; nil fields keep their value.
type HostPatch struct {
	Name    *string
	Address *string
	Port    *int
}

// UpdateHost edits a host's name or agent address.
func (e *Engine) UpdateHost(ctx context.Context, id string, p HostPatch) (*vwire.Host, error) {
	if err := e.authorize(ctx, vwire.OpEditHost, on(vwire.PermitEditHostConfiguration, vwire.ObjHost, id)); err != nil {
		return nil, err
	}
	op := vwire.OpEditHost
	var h *vwire.Host
	err := e.store.Update(ctx, func(tx vwire.Tx) (err error) {
		if h, err = tx.Host(id); err != nil {
			return err
		}
		if h.Embedded && (p.Address != nil || p.Port != nil) {
			return vwire.Fail(op, vwire.MsgEmbeddedHost)
		}
		if p.Name != nil {
			if err := vwire.ValidateName(op, *p.Name, 255, true); err != nil {
				return err
			}
			h.Name = *p.Name
		}
		if p.Address != nil {
			h.Address = *p.Address
		}
		if p.Port != nil {
			h.Port = *p.Port
		}
		// The same rules as on add: an address an agent can listen at,
		// and not another host's.
		if p.Address != nil || p.Port != nil {
			if err := vwire.ValidateAgentAddress(h.Address, h.Port); err != nil {
				return err
			}
			hosts, err := tx.Hosts(vwire.HostFilter{})
			if err != nil {
				return err
			}
			for _, o := range hosts {
				if o.ID != h.ID && o.Address == h.Address && o.Port == h.Port {
					return vwire.Fail(op, vwire.MsgHostAddressInUse, "address", h.Address, "port", strconv.Itoa(h.Port), "host", o.Name)
				}
			}
		}
		if err := tx.UpdateHost(h); err != nil {
			if vwire.ErrorCode(err) == vwire.ECONFLICT {
				return vwire.Fail(op, vwire.MsgNameAlreadyUsed)
			}
			return err
		}
		return newEvent(ctx, evHostUpdate).host(h).write(tx)
	})
	return h, err
}

// RemoveHost deletes a host that runs no VM.
func (e *Engine) RemoveHost(ctx context.Context, id string) error {
	if err := e.authorize(ctx, vwire.OpRemoveHost, on(vwire.PermitDeleteHost, vwire.ObjHost, id)); err != nil {
		return err
	}
	op := vwire.OpRemoveHost
	var overlays []string
	err := e.store.Update(ctx, func(tx vwire.Tx) error {
		h, err := tx.Host(id)
		if err != nil {
			return err
		}
		if overlays, err = hostOverlays(tx, id); err != nil {
			return err
		}
		if h.Embedded {
			return vwire.Fail(op, vwire.MsgEmbeddedHost)
		}
		vms, err := tx.VMs(vwire.VMFilter{HostID: id})
		if err != nil {
			return err
		}
		if len(vms) > 0 {
			names := make([]string, len(vms))
			for i, v := range vms {
				names[i] = v.Name
			}
			return vwire.Fail(op, vwire.MsgHostHasRunningVMs, "names", strings.Join(names, ", "))
		}
		if err := deleteWith(tx, vwire.ObjHost, id, tx.DeleteHost); err != nil {
			return err
		}
		return newEvent(ctx, evHostRemove).host(h).write(tx)
	})
	if err == nil && len(overlays) > 0 {
		// The hosts left on its overlays stop replicating to it.
		ctx, cancel := e.detach(ctx)
		defer cancel()
		e.pushOverlays(ctx, id, overlays)
	}
	return err
}

// RegisterEmbeddedHost records the in-process agent as host "local" of the
// Default cluster (or updates its address, which changes at every start).
func (e *Engine) RegisterEmbeddedHost(ctx context.Context, address string, port int) (*vwire.Host, error) {
	var h *vwire.Host
	err := e.store.Update(ctx, func(tx vwire.Tx) error {
		hosts, err := tx.Hosts(vwire.HostFilter{})
		if err != nil {
			return err
		}
		for _, o := range hosts {
			if o.Embedded {
				h = o
				h.Address, h.Port = address, port
				return tx.UpdateHost(h)
			}
		}
		clusters, err := tx.Clusters(vwire.ClusterFilter{Name: "Default", Max: 1})
		if err != nil {
			return err
		}
		if len(clusters) == 0 {
			return errors.New("no cluster named Default for the embedded host")
		}
		h = &vwire.Host{ID: uuid.NewString(), Name: vwire.EmbeddedHostName, ClusterID: clusters[0].ID, Address: address, Port: port,
			Status: vwire.HostConnecting, Embedded: true}
		if err := tx.CreateHost(h); err != nil {
			return err
		}
		return newEvent(ctx, evHostAdd).host(h).write(tx)
	})
	if err != nil {
		return nil, err
	}
	e.pollHost(ctx, h.ID)
	return e.Host(ctx, h.ID)
}

// RunPoller polls hosts each interval until ctx ends. With several engines
// on one database, a host is polled by the engine holding its lease; when
// that engine dies its lease expires and another takes over.
func (e *Engine) RunPoller(ctx context.Context) {
	// The heartbeat has its own ticker: a poll cycle held up by a frozen
	// host must not make this engine's changes in flight look abandoned.
	go func() {
		hb := time.NewTicker(e.leaseTTL() / 4)
		defer hb.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-hb.C:
				e.beat(ctx)
			}
		}
	}()
	t := time.NewTicker(e.pollInterval)
	defer t.Stop()
	for {
		e.beat(ctx)
		e.pollLeased(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// leaseTTL is how long a host stays with its poller without renewal.
func (e *Engine) leaseTTL() time.Duration { return 3 * e.pollInterval }

func (e *Engine) pollLeased(ctx context.Context) {
	var hosts []*vwire.Host
	if err := e.store.View(ctx, func(tx vwire.Tx) (err error) { hosts, err = tx.Hosts(vwire.HostFilter{}); return }); err != nil {
		e.log.WarnContext(ctx, "cannot list hosts to poll", "err", err)
		return
	}
	var wg sync.WaitGroup
	for _, h := range hosts {
		if !e.holdLease(ctx, h.ID) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.pollHost(ctx, h.ID)
		}()
	}
	wg.Wait()
}

// holdLease tells whether this engine polls the host, acquiring its lease
// if this engine does not hold it. A held lease is renewed with all the
// others by the heartbeat (beat: one statement), not here, so that a poll
// of an unchanged fleet writes nothing; only a lease whose renewals have
// failed down to a third of its time is taken again here, host by host.
func (e *Engine) holdLease(ctx context.Context, hostID string) bool {
	now := e.now()
	e.leasesMu.Lock()
	until, ok := e.leases[hostID]
	e.leasesMu.Unlock()
	if ok && until.Sub(now) > e.leaseTTL()/3 {
		return true
	}
	var mine bool
	err := e.store.Update(ctx, func(tx vwire.Tx) (err error) {
		mine, err = tx.AcquireHostLease(hostID, e.id, now.Add(e.leaseTTL()), now)
		return err
	})
	e.leasesMu.Lock()
	defer e.leasesMu.Unlock()
	if err != nil || !mine {
		delete(e.leases, hostID)
		return false
	}
	e.leases[hostID] = now.Add(e.leaseTTL())
	return true
}

// PollAll polls every host once, concurrently, whoever holds the leases.
func (e *Engine) PollAll(ctx context.Context) {
	var hosts []*vwire.Host
	if err := e.store.View(ctx, func(tx vwire.Tx) (err error) { hosts, err = tx.Hosts(vwire.HostFilter{}); return }); err != nil {
		e.log.WarnContext(ctx, "cannot list hosts to poll", "err", err)
		return
	}
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.pollHost(ctx, h.ID)
		}()
	}
	wg.Wait()
}

// pollHost reads a host's capabilities and VM stats and stores what changed.
func (e *Engine) pollHost(ctx context.Context, id string) {
	// Never the client's context (a refresh, a host added): what the poll
	// changes on the host (bridges, drift repair, settling) runs to its end.
	ctx, cancel := e.detach(ctx)
	defer cancel()
	start := time.Now()
	h, err := e.Host(ctx, id)
	if err != nil {
		return
	}
	stored := *h // as the database had it: what the poll compares with
	// The whole cycle (absorbing, repairing, settling) is timed; reached
	// is set once the host answered.
	var reached bool
	defer func() { e.obs.PollCycle(h.Name, time.Since(start), reached) }()
	// What the database believes runs there, read before the host answers:
	// a VM whose generation moves meanwhile was changed under the poll.
	var vms []*vwire.VM
	var nics []*vwire.NIC
	if err := e.store.View(ctx, func(tx vwire.Tx) (err error) {
		if vms, err = tx.VMs(vwire.VMFilter{HostID: id}); err != nil {
			return err
		}
		nics, err = tx.NICsOnHost(id)
		return err
	}); err != nil {
		return
	}
	// Never the client's context: a refresh that sets up bridges finishes.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.hostTimeout)
	defer cancel()
	c := e.client(h)
	caps, err := c.Capabilities(pctx)
	if err == nil && h.Embedded {
		caps, err = e.syncEmbeddedBridges(pctx, h, c, caps)
	}
	var stats []HostVM
	if err == nil {
		stats, err = c.AllVMStats(pctx)
	}
	prev := h.Status
	reached = err == nil
	if reached {
		e.seen.Store(id, e.now())
	}
	if err != nil {
		h.Status, h.StatusDetail = vwire.HostNonResponsive, err.Error()
	} else {
		e.applyCaps(ctx, h, caps)
		if moved := e.absorbReport(ctx, h, caps); len(moved) > 0 {
			defer e.followUnderlay(ctx, h.ID, moved)
		}
	}
	if prev != h.Status || reached && hostChanged(&stored, h) {
		uerr := e.store.Update(ctx, func(tx vwire.Tx) error {
			cur, err := tx.Host(id)
			if err != nil {
				return err
			}
			// A required network newly missing (or another one now) is
			// news once, not at every poll.
			if missing, ok := strings.CutPrefix(h.StatusDetail, requiredPrefix); ok && h.StatusDetail != cur.StatusDetail {
				cl, err := tx.Cluster(cur.ClusterID)
				if err != nil {
					return err
				}
				if err := newEvent(ctx, evHostNetworkMissing, "ClusterName", cl.Name, "Networks", missing).host(cur).write(tx); err != nil {
					return err
				}
			}
			// Only the observed fields change; a concurrent edit of name or address wins.
			cur.Status, cur.StatusDetail, cur.Networks, cur.ClusterLevels, cur.LibvirtVersion = h.Status, h.StatusDetail, h.Networks, h.ClusterLevels, h.LibvirtVersion
			// LastSeen is written with what else changed, never for itself
			// (an unchanged host costs no write): a host that stops
			// answering gets the time this engine last reached it.
			if reached {
				cur.LastSeen = e.now()
			} else if t, ok := e.seen.Load(id); ok && t.(time.Time).After(cur.LastSeen) {
				cur.LastSeen = t.(time.Time)
			}
			if err := tx.UpdateHost(cur); err != nil {
				return err
			}
			if prev != h.Status {
				t := evHostStatus
				if h.Status == vwire.HostNonResponsive {
					t = evHostNonResp
				}
				if err := newEvent(ctx, t, "HostStatus", strings.ToUpper(string(h.Status))).host(cur).write(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if uerr != nil {
			e.log.WarnContext(ctx, "cannot record host poll", "host", h.Name, "err", uerr)
		}
	}
	if reached {
		e.absorbHostStats(ctx, h, vms, nics, stats)
		e.enforceDrift(ctx, h, vms, nics, stats)
		e.repairStale(ctx, h)
	}
}

// hostChanged tells whether what the host reported differs from the
// database, so that an unchanged host costs no write (not even of its
// LastSeen: an up host was seen at its last poll).
func hostChanged(cur, h *vwire.Host) bool {
	return cur.StatusDetail != h.StatusDetail || cur.LibvirtVersion != h.LibvirtVersion ||
		!slices.Equal(cur.Networks, sortedCopy(h.Networks)) || !slices.Equal(cur.ClusterLevels, h.ClusterLevels)
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// applyCaps updates the host's view from its capabilities: networks, levels,
// and whether it can serve its cluster.
func (e *Engine) applyCaps(ctx context.Context, h *vwire.Host, caps HostCaps) {
	// A network the host realised is a bridge VMs can use, whether or not
	// the agent also lists it among its bridges.
	h.Networks = slices.Clone(caps.Bridges)
	for _, n := range caps.Networks {
		if !slices.Contains(h.Networks, n.Name) {
			h.Networks = append(h.Networks, n.Name)
		}
	}
	h.ClusterLevels = nil
	for _, l := range caps.ClusterLevels {
		if v, err := vwire.ParseVersion(l); err == nil {
			h.ClusterLevels = append(h.ClusterLevels, v)
		}
	}
	h.LibvirtVersion = caps.LibvirtVersion
	h.Status, h.StatusDetail = vwire.HostUp, ""
	var cl *vwire.Cluster
	var cns []*vwire.ClusterNetwork
	if err := e.store.View(ctx, func(tx vwire.Tx) (err error) {
		if cl, err = tx.Cluster(h.ClusterID); err != nil {
			return err
		}
		cns, err = tx.ClusterNetworks(h.ClusterID)
		return err
	}); err != nil {
		return
	}
	if !h.SupportsLevel(cl.Version) {
		h.Status, h.StatusDetail = vwire.HostNonOperational, "the host does not support cluster level "+cl.Version.String()
		return
	}
	// A host lacking a network its cluster requires stays up with a
	// warning: its status detail names what is missing and event 519
	// (oVirt's) is logged when it appears. oVirt makes such a host
	// non-operational; vwire does not, because a host without its
	// management bridge (ovirtmgmt, required on the Default cluster)
	// would then run nothing at all, even VMs on networks it has. A VM
	// still starts or plugs only where its networks are (the start and
	// plug checks), and placement skips hosts lacking them.
	if missing := missingRequired(h, cns); len(missing) > 0 {
		h.StatusDetail = requiredDetail(missing)
	} else if strings.HasPrefix(h.StatusDetail, requiredPrefix) {
		h.StatusDetail = ""
	}
}

// missingRequired names the required networks of a cluster a host lacks.
func missingRequired(h *vwire.Host, cns []*vwire.ClusterNetwork) []string {
	var missing []string
	for _, cn := range cns {
		if cn.Required && cn.VMNetwork && !h.HasNetwork(cn.Name) {
			missing = append(missing, cn.Name)
		}
	}
	slices.Sort(missing)
	return missing
}

// requiredDetail is the status detail of a host missing required networks.
func requiredDetail(missing []string) string {
	return requiredPrefix + strings.Join(missing, ", ")
}

const requiredPrefix = "the host lacks required cluster networks: "

// absorbReport stores what the host reported of its NICs and networks when
// it changed since the last report: an unchanged host costs no write. It
// names the overlays whose underlay address moved (followUnderlay).
func (e *Engine) absorbReport(ctx context.Context, h *vwire.Host, caps HostCaps) []string {
	r := reportOf(caps)
	var cur *vwire.HostReport
	if err := e.store.View(ctx, func(tx vwire.Tx) (err error) { cur, err = tx.HostReport(h.ID); return }); err != nil {
		return nil
	}
	if sameReport(cur, r) {
		return nil
	}
	var moved []string
	if err := e.store.Update(ctx, func(tx vwire.Tx) (err error) {
		if moved, err = underlayMoved(tx, h.ID, cur, r); err != nil {
			return err
		}
		return tx.SetHostReport(h.ID, r)
	}); err != nil {
		e.log.WarnContext(ctx, "cannot record host networks", "host", h.Name, "err", err)
		return nil
	}
	return moved
}

func reportOf(caps HostCaps) *vwire.HostReport {
	r := &vwire.HostReport{NoVLAN: caps.NoVLAN}
	for _, n := range caps.NICs {
		r.NICs = append(r.NICs, vwire.HostNICReport{Name: n.Name, MAC: n.MAC, MTU: n.MTU, SpeedMbps: n.SpeedMbps, Up: n.Up,
			Bond: n.Bond, Slaves: slices.Clone(n.Slaves), Addr: n.Addr})
	}
	slices.SortFunc(r.NICs, func(a, b vwire.HostNICReport) int { return strings.Compare(a.Name, b.Name) })
	for _, n := range caps.Networks {
		hn := vwire.HostNetworkReport{Name: n.Name, MTU: n.MTU, NIC: n.NIC, VLAN: n.VLAN}
		if n.VXLAN != nil {
			hn.VNI, hn.Local, hn.Remotes = n.VXLAN.VNI, n.VXLAN.Local, sortedCopy(n.VXLAN.Remotes)
		}
		r.Networks = append(r.Networks, hn)
	}
	slices.SortFunc(r.Networks, func(a, b vwire.HostNetworkReport) int { return strings.Compare(a.Name, b.Name) })
	return r
}

// sameReport compares two reports, an empty list equal to none.
func sameReport(a, b *vwire.HostReport) bool {
	norm := func(r *vwire.HostReport) *vwire.HostReport {
		c := &vwire.HostReport{NoVLAN: r.NoVLAN}
		for _, n := range r.NICs {
			if len(n.Slaves) == 0 {
				n.Slaves = nil
			}
			c.NICs = append(c.NICs, n)
		}
		for _, n := range r.Networks {
			if len(n.Remotes) == 0 {
				n.Remotes = nil
			}
			c.Networks = append(c.Networks, n)
		}
		return c
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// syncEmbeddedBridges makes the embedded host carry every network of its
// cluster, as the embedded default promises.
func (e *Engine) syncEmbeddedBridges(ctx context.Context, h *vwire.Host, c HostClient, caps HostCaps) (HostCaps, error) {
	var nets []*vwire.ClusterNetwork
	if err := e.store.View(ctx, func(tx vwire.Tx) (err error) { nets, err = tx.ClusterNetworks(h.ClusterID); return }); err != nil {
		return caps, err
	}
	var add []string
	for _, n := range nets {
		if !slices.Contains(caps.Bridges, n.Name) {
			add = append(add, n.Name)
		}
	}
	if len(add) == 0 {
		return caps, nil
	}
	if err := c.SetupNetworks(ctx, add, nil); err != nil {
		return caps, err
	}
	return c.Capabilities(ctx)
}

// RefreshHost polls one host now (oVirt's refresh action).
func (e *Engine) RefreshHost(ctx context.Context, id string) (*vwire.Host, error) {
	if err := e.authorize(ctx, vwire.Op{Action: "refresh", Type: "Host"}, on(vwire.PermitManipulateHost, vwire.ObjHost, id)); err != nil {
		return nil, err
	}
	if _, err := e.Host(ctx, id); err != nil {
		return nil, err
	}
	e.pollHost(ctx, id)
	return e.Host(ctx, id)
}

// refreshClusterHosts re-polls the embedded hosts of a cluster after its
// networks changed, so that they carry the new ones at once.
func (e *Engine) refreshClusterHosts(ctx context.Context, clusterID string) {
	var hosts []*vwire.Host
	if err := e.store.View(ctx, func(tx vwire.Tx) (err error) {
		hosts, err = tx.Hosts(vwire.HostFilter{ClusterID: clusterID})
		return
	}); err != nil {
		return
	}
	for _, h := range hosts {
		if h.Embedded {
			e.pollHost(ctx, h.ID)
		}
	}
}

// byVM indexes a host's report and the database's vNICs by VM.
func byVM(stats []HostVM, nics []*vwire.NIC) (map[string]HostVM, map[string][]*vwire.NIC) {
	byID := make(map[string]HostVM, len(stats))
	for _, s := range stats {
		byID[s.VMID] = s
	}
	nicsOf := map[string][]*vwire.NIC{}
	for _, n := range nics {
		nicsOf[n.VMID] = append(nicsOf[n.VMID], n)
	}
	return byID, nicsOf
}

// absorbHostStats stores the observed vNIC state of the VMs the database
// believed run on the host when the poll began; a VM the host no longer has
// is down. Only VMs whose report differs take the VM's lock and a write.
func (e *Engine) absorbHostStats(ctx context.Context, h *vwire.Host, vms []*vwire.VM, nics []*vwire.NIC, stats []HostVM) {
	byID, nicsOf := byVM(stats, nics)
	for _, vm := range vms {
		// A VM left powering up by an engine that died mid-start is settled
		// here too: up if the host has it, down if not.
		if vm.Status != vwire.VMUp && vm.Status != vwire.VMPoweringUp {
			continue
		}
		st, present := byID[vm.ID]
		if present && vm.Status == vwire.VMUp && !e.statsDiffer(nicsOf[vm.ID], st) && !foreignChanged(vm, nicsOf[vm.ID], st) {
			continue
		}
		e.absorbVM(ctx, h, vm, byID)
	}
}

// statsDiffer tells whether a host report changes any vNIC's observed state.
func (e *Engine) statsDiffer(nics []*vwire.NIC, st HostVM) bool {
	byAlias := make(map[string]HostNIC, len(st.NICs))
	for _, s := range st.NICs {
		byAlias[s.Alias] = s
	}
	for _, n := range nics {
		o := &vwire.NICObserved{Present: false}
		if s, ok := byAlias[n.Alias()]; ok {
			o = e.observed(s)
		}
		if !sameObserved(n.Observed, o) {
			return true
		}
	}
	return false
}

func (e *Engine) absorbVM(ctx context.Context, h *vwire.Host, seen *vwire.VM, byID map[string]HostVM) {
	unlock, err := e.store.LockVM(ctx, seen.ID)
	if err != nil {
		return
	}
	defer unlock()
	ctx = vwire.VMScoped(ctx) // the VM is locked: its writes may run READ COMMITTED
	drifts := 0               // reported in the transaction, told once it commits
	err = e.store.Update(ctx, func(tx vwire.Tx) error {
		drifts = 0
		vm, err := tx.VM(seen.ID)
		// A change made after the poll began would be undone by its answer.
		if err != nil || vm.Generation != seen.Generation || vm.HostID != h.ID ||
			(vm.Status != vwire.VMUp && vm.Status != vwire.VMPoweringUp) {
			return err
		}
		// A change in flight with its intent is settled from the host
		// (outcome.go), never guessed from a poll: its request may still
		// be on its way to the host.
		if p, err := tx.PendingOf(vm.ID); err != nil || p != nil && len(p.Intent) > 0 {
			return err
		}
		nics, err := tx.NICs(vm.ID)
		if err != nil {
			return err
		}
		st, ok := byID[vm.ID]
		if !ok {
			wasUp := vm.Status == vwire.VMUp
			vm.Status, vm.HostID, vm.StopTime = vwire.VMDown, "", e.now()
			if err := e.markDown(tx, vm, nics); err != nil || !wasUp {
				return err
			}
			return newEvent(ctx, evVMDownError, "ExitMessage", "the domain is no longer on host "+h.Name).vm(vm).write(tx)
		}
		if vm.Status == vwire.VMPoweringUp {
			vm.Status = vwire.VMUp
			if vm.StartTime.IsZero() {
				vm.StartTime = e.now()
			}
			if err := tx.UpdateVM(vm); err != nil {
				return err
			}
		}
		before := observedOf(nics)
		if err := e.absorbStats(tx, vm, nics, st); err != nil {
			return err
		}
		drifts, err = e.reportDrift(ctx, tx, h, vm, before, nics, st)
		return err
	})
	if err != nil {
		e.log.WarnContext(ctx, "cannot record VM stats", "vm", seen.ID, "err", err)
	} else if drifts > 0 {
		e.obs.Drift(drifts, 0)
	}
}
