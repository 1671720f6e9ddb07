package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// Host networks (issue 16), as oVirt's setupnetworks: a network attachment
// puts a network of the host's cluster on one of its NICs; the host
// realises it as a bridge of the network's name and MTU over the NIC, its
// VLAN device, or a VXLAN device whose remotes are the other hosts
// carrying the network. Attachments are recorded only once the host has
// them, so that they always say what the engine last made real.

// AttachmentSpec is one modified attachment of a setupnetworks call: an
// existing one by ID (its network may be omitted), or a new one.
type AttachmentSpec struct {
	ID        string
	NetworkID string
	NIC       string
}

// SetupNetworksParams is oVirt's setupnetworks action.
type SetupNetworksParams struct {
	Modified []AttachmentSpec
	// Removed are attachment ids.
	Removed []string
	// CheckConnectivity: the host rolls the change back unless the engine
	// confirms it still reaches it within Timeout (0: DefaultConnectivityTimeout).
	CheckConnectivity bool
	Timeout           time.Duration
}

// DefaultConnectivityTimeout is oVirt's default connectivity_timeout.
const DefaultConnectivityTimeout = 120 * time.Second

// vwire's own audit codes where oVirt's for host network setup could not be
// confirmed; 519 is oVirt's VDS_SET_NONOPERATIONAL_NETWORK.
var (
	evSetupNetworks       = auditType{10940, vwire.SevNormal, "Networks of host ${VdsName} were set up: ${Changes}. (User: ${UserName})"}
	evSetupNetworksFailed = auditType{10941, vwire.SevError, "Failed to set up networks on host ${VdsName}: ${Reason}. (User: ${UserName})"}
	evSyncNetworks        = auditType{10942, vwire.SevNormal, "Networks of host ${VdsName} were synchronised: ${Networks}. (User: ${UserName})"}
	evOverlayPushFailed   = auditType{10943, vwire.SevWarning, "Host ${VdsName} did not take the new host list of overlay network ${NetworkName}: ${Reason}."}
	evNetworkRealised     = auditType{10944, vwire.SevNormal, "Network ${NetworkName} was re-applied on ${Count} host(s) after its edit${Failures}."}
	evHostNetworkMissing  = auditType{519, vwire.SevWarning, "Host ${VdsName} does not comply with the cluster ${ClusterName} networks, the following networks are missing on host: '${Networks}'"}
)

// hostNetLocks serialises the network changes of one host: two setups
// computed from the same attachments must not both apply.
var hostNetLocks sync.Map

func lockHostNet(hostID string) func() {
	m, _ := hostNetLocks.LoadOrStore(hostID, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// tryLockHostNet is lockHostNet for a poll, which may run under a host's
// lock already (a setup polls its host): it never waits.
func tryLockHostNet(hostID string) (func(), bool) {
	m, _ := hostNetLocks.LoadOrStore(hostID, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	if !mu.TryLock() {
		return nil, false
	}
	return mu.Unlock, true
}

// hostNet is what a setup reads: the host, its report, its attachments and
// the networks involved.
type hostNet struct {
	host    *vwire.Host
	report  *vwire.HostReport
	attach  map[string]*vwire.NetworkAttachment // by id
	nets    map[string]*vwire.Network           // the cluster's, by id
	remotes map[string][]string                 // overlay network id → other hosts' addresses
}

// loadHostNet reads a host's networking in tx, with the overlay remotes
// of every network of its cluster.
func loadHostNet(tx vwire.Tx, hostID string) (*hostNet, error) {
	h, err := tx.Host(hostID)
	if err != nil {
		return nil, err
	}
	hn := &hostNet{host: h, attach: map[string]*vwire.NetworkAttachment{}, nets: map[string]*vwire.Network{}, remotes: map[string][]string{}}
	if hn.report, err = tx.HostReport(hostID); err != nil {
		return nil, err
	}
	as, err := tx.NetworkAttachments(hostID, "")
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		hn.attach[a.ID] = a
	}
	cns, err := tx.ClusterNetworks(h.ClusterID)
	if err != nil {
		return nil, err
	}
	for _, cn := range cns {
		n := cn.Network
		hn.nets[n.ID] = &n
		if n.VXLAN != 0 {
			if hn.remotes[n.ID], err = overlayRemotes(tx, n.ID, hostID); err != nil {
				return nil, err
			}
		}
	}
	// An attachment of a network since detached from the cluster still
	// names its network.
	for _, a := range as {
		if hn.nets[a.NetworkID] == nil {
			if hn.nets[a.NetworkID], err = tx.Network(a.NetworkID); err != nil {
				return nil, err
			}
		}
	}
	return hn, nil
}

// overlayRemotes lists the underlay addresses of every host but except
// that carries the network: where the VXLAN device replicates to.
func overlayRemotes(tx vwire.Tx, networkID, except string) ([]string, error) {
	as, err := tx.NetworkAttachments("", networkID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range as {
		if a.HostID == except {
			continue
		}
		r, err := tx.HostReport(a.HostID)
		if err != nil {
			return nil, err
		}
		if nic, ok := r.NIC(a.NIC); ok && nic.Addr != "" {
			out = append(out, addrOnly(nic.Addr))
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// addrOnly drops an address's prefix length.
func addrOnly(a string) string {
	if i := strings.IndexByte(a, '/'); i >= 0 {
		return a[:i]
	}
	return a
}

// desired is the network as the host must have it for attachment a.
func (hn *hostNet) desired(n *vwire.Network, a *vwire.NetworkAttachment) HostNetwork {
	d := HostNetwork{Name: n.Name, MTU: n.MTU, NIC: a.NIC}
	if n.VLAN != nil {
		d.VLAN = *n.VLAN
	}
	if n.VXLAN != 0 {
		d.VXLAN = &HostVXLAN{VNI: n.VXLAN, Remotes: hn.remotes[n.ID]}
		if nic, ok := hn.report.NIC(a.NIC); ok {
			d.VXLAN.Local = addrOnly(nic.Addr)
		}
	}
	return d
}

// SetupNetworks changes a host's network attachments as oVirt's
// setupnetworks does: validates the whole resulting set, has the host
// realise it (with the connectivity check and its rollback when asked),
// records the attachments once the host has them, and pushes the new host
// list of every overlay network the host joined or left to the other hosts
// carrying it.
func (e *Engine) SetupNetworks(ctx context.Context, hostID string, p SetupNetworksParams) error {
	op := vwire.OpSetupNetworks
	if err := e.authorize(ctx, op, on(vwire.PermitConfigureHostNetwork, vwire.ObjHost, hostID)); err != nil {
		return err
	}
	ctx, cancel := e.detach(ctx)
	defer cancel()
	unlock := lockHostNet(hostID)
	var hn *hostNet
	var after map[string]*vwire.NetworkAttachment
	var setup HostNetworkSetup
	var changes []string
	err := e.store.View(ctx, func(tx vwire.Tx) (err error) {
		if hn, err = loadHostNet(tx, hostID); err != nil {
			return err
		}
		after, setup, changes, err = hn.plan(op, p)
		return err
	})
	if err != nil {
		unlock()
		return err
	}
	joined := overlayChange(hn, after)
	err = e.configure(ctx, hn.host, setup)
	if err == nil {
		err = e.store.Update(ctx, func(tx vwire.Tx) error {
			if err := recordAttachments(tx, hn.attach, after); err != nil {
				return err
			}
			if len(changes) == 0 {
				return nil
			}
			return newEvent(ctx, evSetupNetworks, "Changes", strings.Join(changes, "; ")).host(hn.host).write(tx)
		})
	} else {
		e.writeEvent(ctx, newEvent(ctx, evSetupNetworksFailed, "Reason", err.Error()).host(hn.host))
	}
	unlock()
	if err != nil {
		return err
	}
	// What the host now reports makes the attachments' in_sync right away.
	e.pollHost(ctx, hostID)
	e.pushOverlays(ctx, hostID, joined)
	return nil
}

// plan applies p to the host's attachments and validates the result; it
// returns the attachments after the change, the host's setup and the
// changes in words.
func (hn *hostNet) plan(op vwire.Op, p SetupNetworksParams) (map[string]*vwire.NetworkAttachment, HostNetworkSetup, []string, error) {
	after := maps.Clone(hn.attach)
	byNet := map[string]*vwire.NetworkAttachment{}
	for _, a := range after {
		byNet[a.NetworkID] = a
	}
	setup := HostNetworkSetup{CheckConnectivity: p.CheckConnectivity, ConnectivityTimeout: p.Timeout}
	if setup.CheckConnectivity && setup.ConnectivityTimeout <= 0 {
		setup.ConnectivityTimeout = DefaultConnectivityTimeout
	}
	var changes []string
	for _, id := range p.Removed {
		a, ok := after[id]
		if !ok {
			return nil, setup, nil, vwire.Fail(op, vwire.MsgNetworkAttachmentNotExists, "AttachmentId", id)
		}
		delete(after, id)
		delete(byNet, a.NetworkID)
		name := hn.nets[a.NetworkID].Name
		setup.Remove = append(setup.Remove, name)
		changes = append(changes, "removed "+name+" from "+a.NIC)
	}
	seen := map[string]bool{}
	var touched []*vwire.NetworkAttachment
	for _, m := range p.Modified {
		var a vwire.NetworkAttachment
		if m.ID != "" {
			cur, ok := after[m.ID]
			if !ok {
				return nil, setup, nil, vwire.Fail(op, vwire.MsgNetworkAttachmentNotExists, "AttachmentId", m.ID)
			}
			a = *cur
			if m.NetworkID != "" && m.NetworkID != a.NetworkID {
				return nil, setup, nil, vwire.InvalidValue(vwire.MsgBadRequest, "network attachment "+m.ID+" is of another network; remove it and add a new one")
			}
		} else {
			if m.NetworkID == "" {
				return nil, setup, nil, vwire.Incomplete("NetworkAttachment", []string{"network.id|name"}, "setupNetworks")
			}
			a = vwire.NetworkAttachment{ID: uuid.NewString(), HostID: hn.host.ID, NetworkID: m.NetworkID}
			// A new attachment of a network the host already carries
			// moves it: one attachment per host and network.
			if cur := byNet[m.NetworkID]; cur != nil {
				a.ID = cur.ID
			}
		}
		if m.NIC != "" {
			a.NIC = m.NIC
		}
		n, ok := hn.nets[a.NetworkID]
		if !ok {
			return nil, setup, nil, vwire.Fail(op, vwire.MsgNetworkNotInCluster, "networks", a.NetworkID)
		}
		if seen[a.NetworkID] {
			return nil, setup, nil, vwire.Fail(op, vwire.MsgAttachmentsSameNetwork, "NetworkName", n.Name)
		}
		seen[a.NetworkID] = true
		if a.NIC == "" {
			return nil, setup, nil, vwire.Incomplete("NetworkAttachment", []string{"host_nic.id|name"}, "setupNetworks")
		}
		nic, ok := hn.report.NIC(a.NIC)
		if !ok {
			return nil, setup, nil, vwire.Fail(op, vwire.MsgHostNICNotExist, "NicName", a.NIC)
		}
		if n.VLAN != nil && *n.VLAN != 0 && hn.report.NoVLAN != "" {
			return nil, setup, nil, vwire.Fail(op, vwire.MsgHostNoVLAN, "host", hn.host.Name, "NetworkName", n.Name, "reason", hn.report.NoVLAN)
		}
		if n.VXLAN != 0 && nic.Addr == "" {
			return nil, setup, nil, vwire.Fail(op, vwire.MsgHostNICNoAddress, "NetworkName", n.Name, "NicName", a.NIC)
		}
		if old := byNet[a.NetworkID]; old != nil && old.ID != a.ID {
			delete(after, old.ID)
		}
		after[a.ID] = &a
		byNet[a.NetworkID] = &a
		touched = append(touched, &a)
		changes = append(changes, "attached "+n.Name+" to "+a.NIC)
	}
	// One untagged network per NIC: VLAN and overlay networks share it.
	untagged := map[string][]string{}
	for _, a := range after {
		n := hn.nets[a.NetworkID]
		if (n.VLAN == nil || *n.VLAN == 0) && n.VXLAN == 0 {
			untagged[a.NIC] = append(untagged[a.NIC], n.Name)
		}
	}
	for _, nic := range slices.Sorted(maps.Keys(untagged)) {
		if l := untagged[nic]; len(l) > 1 {
			slices.Sort(l)
			return nil, setup, nil, vwire.Fail(op, vwire.MsgNICNotExclusive, "NicName", nic, "networks", strings.Join(l, ", "))
		}
	}
	for _, a := range touched {
		setup.Networks = append(setup.Networks, hn.desired(hn.nets[a.NetworkID], a))
	}
	return after, setup, changes, nil
}

// recordAttachments writes the difference between before and after.
func recordAttachments(tx vwire.HostTx, before, after map[string]*vwire.NetworkAttachment) error {
	for id := range before {
		if _, ok := after[id]; !ok {
			if err := tx.DeleteNetworkAttachment(id); err != nil {
				return err
			}
		}
	}
	for id, a := range after {
		old, ok := before[id]
		switch {
		case !ok:
			if err := tx.CreateNetworkAttachment(a); err != nil {
				return err
			}
		case *old != *a:
			if err := tx.UpdateNetworkAttachment(a); err != nil {
				return err
			}
		}
	}
	return nil
}

// overlayChange names the overlay networks whose hosts change when the
// host's attachments become after: joined, left, or moved to another NIC
// (its address changes).
func overlayChange(hn *hostNet, after map[string]*vwire.NetworkAttachment) []string {
	nicOf := func(m map[string]*vwire.NetworkAttachment) map[string]string {
		out := map[string]string{}
		for _, a := range m {
			if hn.nets[a.NetworkID].VXLAN != 0 {
				out[a.NetworkID] = a.NIC
			}
		}
		return out
	}
	b, a := nicOf(hn.attach), nicOf(after)
	var out []string
	for id, nic := range b {
		if a[id] != nic {
			out = append(out, id)
		}
	}
	for id := range a {
		if _, ok := b[id]; !ok {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// configure has the host realise s: ConfigureNetworks, then with the
// connectivity check ConfirmNetworks, as VDSM wants the engine to reach it
// again before the timeout (else the host rolls back by itself).
func (e *Engine) configure(ctx context.Context, h *vwire.Host, s HostNetworkSetup) error {
	if len(s.Networks) == 0 && len(s.Remove) == 0 {
		return nil
	}
	c := e.client(h)
	hctx, cancel := context.WithTimeout(ctx, e.hostTimeout+s.ConnectivityTimeout)
	defer cancel()
	generic := "Cannot " + vwire.OpSetupNetworks.Action + " " + vwire.OpSetupNetworks.Type + "."
	if err := c.ConfigureNetworks(hctx, s); err != nil {
		return hostError(generic, h, err)
	}
	if s.CheckConnectivity {
		if err := c.ConfirmNetworks(hctx); err != nil {
			return hostError(generic, h, err)
		}
	}
	return nil
}

// pushOverlays sends the current host list of each overlay network to
// every host but from that carries it: the forwarding entries follow the
// engine's own host list. A host that does not take it keeps an old list
// (its attachment shows out of sync) and an event says so.
func (e *Engine) pushOverlays(ctx context.Context, from string, networkIDs []string) {
	for _, nid := range networkIDs {
		var as []*vwire.NetworkAttachment
		if err := e.store.View(ctx, func(tx vwire.Tx) (err error) { as, err = tx.NetworkAttachments("", nid); return }); err != nil {
			e.log.WarnContext(ctx, "cannot list overlay hosts", "network", nid, "err", err)
			continue
		}
		for _, a := range as {
			if a.HostID == from {
				continue
			}
			e.realiseOn(ctx, a.HostID, nid)
		}
	}
}

// realiseOn has one host realise its attachment of a network as the
// network is now defined; it returns the failure, also written as an event.
func (e *Engine) realiseOn(ctx context.Context, hostID, networkID string) error {
	defer lockHostNet(hostID)()
	return e.realiseHeld(ctx, hostID, networkID)
}

// realiseHeld is realiseOn under the host's lock.
func (e *Engine) realiseHeld(ctx context.Context, hostID, networkID string) error {
	var hn *hostNet
	var s HostNetworkSetup
	var name string
	err := e.store.View(ctx, func(tx vwire.Tx) (err error) {
		if hn, err = loadHostNet(tx, hostID); err != nil {
			return err
		}
		for _, a := range hn.attach {
			if a.NetworkID == networkID {
				n := hn.nets[networkID]
				name = n.Name
				s.Networks = append(s.Networks, hn.desired(n, a))
			}
		}
		return nil
	})
	if err != nil || len(s.Networks) == 0 {
		return err
	}
	if err := e.configure(ctx, hn.host, s); err != nil {
		e.writeEvent(ctx, newEvent(ctx, evOverlayPushFailed, "NetworkName", name, "Reason", err.Error()).host(hn.host))
		return err
	}
	e.pollHost(ctx, hostID)
	return nil
}

// SyncAllNetworks re-applies every attachment of a host as its network is
// defined (oVirt's syncallnetworks): what fixes an out-of-sync attachment.
func (e *Engine) SyncAllNetworks(ctx context.Context, hostID string) error {
	op := vwire.OpSyncNetworks
	if err := e.authorize(ctx, op, on(vwire.PermitConfigureHostNetwork, vwire.ObjHost, hostID)); err != nil {
		return err
	}
	ctx, cancel := e.detach(ctx)
	defer cancel()
	unlock := lockHostNet(hostID)
	var hn *hostNet
	var s HostNetworkSetup
	var names []string
	err := e.store.View(ctx, func(tx vwire.Tx) (err error) {
		if hn, err = loadHostNet(tx, hostID); err != nil {
			return err
		}
		for _, a := range hn.attach {
			n := hn.nets[a.NetworkID]
			s.Networks = append(s.Networks, hn.desired(n, a))
			names = append(names, n.Name)
		}
		return nil
	})
	if err == nil {
		slices.Sort(names)
		if err = e.configure(ctx, hn.host, s); err != nil {
			e.writeEvent(ctx, newEvent(ctx, evSetupNetworksFailed, "Reason", err.Error()).host(hn.host))
		} else {
			e.writeEvent(ctx, newEvent(ctx, evSyncNetworks, "Networks", strings.Join(names, ", ")).host(hn.host))
		}
	}
	unlock()
	if err != nil {
		return err
	}
	e.pollHost(ctx, hostID)
	return nil
}

// realiseNetwork re-applies an edited network on every host carrying it,
// as a job with one step per host (the running vNICs stay on the same
// bridge: only what is under it changes), and an event with the count.
func (e *Engine) realiseNetwork(ctx context.Context, n *vwire.Network) {
	var as []*vwire.NetworkAttachment
	names := map[string]string{}
	if err := e.store.View(ctx, func(tx vwire.Tx) (err error) {
		if as, err = tx.NetworkAttachments("", n.ID); err != nil {
			return err
		}
		for _, a := range as {
			h, err := tx.Host(a.HostID)
			if err != nil {
				return err
			}
			names[a.HostID] = h.Name
		}
		return nil
	}); err != nil || len(as) == 0 {
		return
	}
	job, jerr := e.BeginJob(ctx, "Applying network "+n.Name+" on its hosts")
	var failed []string
	for i, a := range as {
		start := e.now()
		err := e.realiseOn(ctx, a.HostID, n.ID)
		status, desc := vwire.JobFinished, "Applying network "+n.Name+" on host "+names[a.HostID]
		if err != nil {
			status, desc = vwire.JobFailed, desc+": "+err.Error()
			failed = append(failed, err.Error())
		}
		if jerr == nil {
			step := &vwire.JobStep{ID: uuid.NewString(), JobID: job.ID, Number: i + 1, Type: vwire.StepExecuting,
				Description: desc, Status: status, Start: start, End: e.now()}
			if err := e.store.Update(ctx, func(tx vwire.Tx) error { return tx.CreateJobStep(step) }); err != nil {
				e.log.WarnContext(ctx, "cannot record a job step", "job", job.ID, "err", err)
			}
		}
	}
	fails, status := "", vwire.JobFinished
	if len(failed) > 0 {
		fails, status = fmt.Sprintf("; %d failed: %s", len(failed), strings.Join(failed, "; ")), vwire.JobFailed
	}
	if jerr == nil {
		if err := e.store.Update(ctx, func(tx vwire.Tx) error { return tx.EndJob(job.ID, status, e.now()) }); err != nil {
			e.log.WarnContext(ctx, "cannot end a job", "job", job.ID, "err", err)
		}
	}
	e.writeEvent(ctx, newEvent(ctx, evNetworkRealised, "NetworkName", n.Name, "Count", strconv.Itoa(len(as)), "Failures", fails))
}

// hostOverlays names the overlay networks a host carries.
func hostOverlays(tx vwire.Tx, hostID string) ([]string, error) {
	as, err := tx.NetworkAttachments(hostID, "")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range as {
		n, err := tx.Network(a.NetworkID)
		if err != nil {
			return nil, err
		}
		if n.VXLAN != 0 {
			out = append(out, n.ID)
		}
	}
	return out, nil
}

// notOnHosts refuses to detach or remove a network that hosts (of the
// cluster, or any) still carry through an attachment: their bridges would
// be left behind with no attachment to remove them (setupnetworks first).
func notOnHosts(tx vwire.Tx, op vwire.Op, networkID, clusterID string) error {
	as, err := tx.NetworkAttachments("", networkID)
	if err != nil {
		return err
	}
	var names []string
	for _, a := range as {
		h, err := tx.Host(a.HostID)
		if err != nil {
			return err
		}
		if clusterID == "" || h.ClusterID == clusterID {
			names = append(names, h.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	return vwire.Fail(op, vwire.MsgNetworkInUseByHosts, "names", strings.Join(names, ", "))
}

// followUnderlay re-applies the overlays whose underlay address changed on
// a host, on that host (its local end) and on the others carrying them
// (their remotes). It runs from a poll, which may hold a host's lock: a
// host busy with another network change is skipped (its attachment shows
// out of sync until syncallnetworks).
func (e *Engine) followUnderlay(ctx context.Context, hostID string, networkIDs []string) {
	for _, nid := range networkIDs {
		var as []*vwire.NetworkAttachment
		if err := e.store.View(ctx, func(tx vwire.Tx) (err error) { as, err = tx.NetworkAttachments("", nid); return }); err != nil {
			continue
		}
		for _, a := range as {
			unlock, ok := tryLockHostNet(a.HostID)
			if !ok {
				continue
			}
			e.realiseHeld(ctx, a.HostID, nid)
			unlock()
		}
	}
}

// underlayMoved names the overlay networks of a host whose underlay NIC's
// address differs between two reports.
func underlayMoved(tx vwire.Tx, hostID string, old, cur *vwire.HostReport) ([]string, error) {
	as, err := tx.NetworkAttachments(hostID, "")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range as {
		o, _ := old.NIC(a.NIC)
		c, _ := cur.NIC(a.NIC)
		if o.Addr == c.Addr {
			continue
		}
		n, err := tx.Network(a.NetworkID)
		if err != nil {
			return nil, err
		}
		if n.VXLAN != 0 {
			out = append(out, n.ID)
		}
	}
	return out, nil
}
