package console

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
)

// maxListed bounds the rows of a list page; a search narrows it.
const maxListed = 5000

// partial tells whether the request asks only for a page's live region
// (htmx's refresh after a change), not the whole page.
func partial(r *http.Request) bool { return r.URL.Query().Get("partial") != "" }

// ---- VMs

type vmRow struct {
	VM                     *vwire.VM
	Cluster, Host          string
	NICs, Unsynced         int
	Running, CanStartOrNot bool
}

type vmsData struct {
	Search, SearchError string
	Rows                []vmRow
	Truncated           bool
	Clusters            []*vwire.Cluster
}

func (s *Server) vmsPage(w http.ResponseWriter, r *http.Request) {
	d := vmsData{Search: r.URL.Query().Get("search")}
	search, err := vwire.ParseSearch(d.Search)
	code := http.StatusOK
	if err != nil {
		d.SearchError, code = message(err), http.StatusBadRequest
	} else {
		l, err := s.eng.VMList(r.Context(), vwire.VMFilter{Search: search, Max: maxListed + 1}, engine.VMListOptions{WithNICs: true})
		if err != nil {
			if vwire.ErrorCode(err) != vwire.EINVALID {
				s.fail(w, r, err)
				return
			}
			d.SearchError, code = message(err), http.StatusBadRequest
		} else {
			if len(l.VMs) > maxListed {
				l.VMs, d.Truncated = l.VMs[:maxListed], true
			}
			d.Rows = make([]vmRow, len(l.VMs))
			for i, vm := range l.VMs {
				c := l.NICs[vm.ID]
				d.Rows[i] = vmRow{VM: vm, Cluster: l.ClusterNames[vm.ClusterID], Host: l.HostNames[vm.HostID],
					NICs: c.NICs, Unsynced: c.Unsynced, Running: vm.Status == vwire.VMUp}
			}
		}
	}
	if !partial(r) {
		// The New VM dialog's clusters; a user who sees none cannot add.
		d.Clusters, _ = s.eng.Clusters(r.Context(), vwire.ClusterFilter{})
	}
	name := "vms"
	if partial(r) {
		name = "vm-rows"
	}
	s.render(w, r, code, name, &pageData{Title: "Virtual Machines", Nav: "vms", Data: d, Partial: partial(r)})
}

// ---- one VM and its vNICs

type nicRow struct {
	NIC        *vwire.NIC
	Difference string
	Running    bool
	// Result is the outcome of the change just made to this vNIC, if any.
	Result *result
}

type vmData struct {
	VM            *vwire.VM
	Cluster, Host string
	Running       bool
	NICs          []nicRow
	// Result is the outcome of the action just made (start, stop, a vNIC
	// change), shown above the table.
	Result *result
}

// result is the outcome of a change as the console shows it inline.
type result struct {
	// Kind is "applied", "refused" or "pending".
	Kind, Text, Fix string
}

func outcome(err error, applied string) *result {
	switch {
	case err == nil:
		return &result{Kind: "applied", Text: applied}
	case vwire.IsKey(err, vwire.MsgHostOutcomeUnknown):
		return &result{Kind: "pending", Text: message(err), Fix: fix(err)}
	}
	return &result{Kind: "refused", Text: message(err), Fix: fix(err)}
}

func (s *Server) loadVM(r *http.Request, id string, res *result) (*vmData, error) {
	ctx := r.Context()
	vm, err := s.eng.VM(ctx, id)
	if err != nil {
		return nil, err
	}
	nics, err := s.eng.NICs(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &vmData{VM: vm, Running: vm.Status == vwire.VMUp, Result: res}
	if c, err := s.eng.Cluster(ctx, vm.ClusterID); err == nil {
		d.Cluster = c.Name
	}
	if vm.HostID != "" {
		if h, err := s.eng.Host(ctx, vm.HostID); err == nil {
			d.Host = h.Name
		} else {
			d.Host = vm.HostID
		}
	}
	for _, n := range nics {
		row := nicRow{NIC: n, Running: d.Running}
		if !n.Synced {
			row.Difference = vwire.DescribeDrift(vwire.Drift(n, d.Running))
		}
		d.NICs = append(d.NICs, row)
	}
	return d, nil
}

func (s *Server) vmPage(w http.ResponseWriter, r *http.Request) {
	d, err := s.loadVM(r, r.PathValue("id"), nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name := "vm"
	if partial(r) {
		name = "vm-body"
	}
	s.render(w, r, http.StatusOK, name, &pageData{Title: d.VM.Name, Nav: "vms", Data: d, Partial: partial(r)})
}

// vmAnswer re-renders the VM's body with the outcome of an action.
func (s *Server) vmAnswer(w http.ResponseWriter, r *http.Request, id string, res *result) {
	d, err := s.loadVM(r, id, res)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "vm-body", &pageData{Title: d.VM.Name, Nav: "vms", Data: d, Partial: true})
}

func (s *Server) startVM(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, err := s.eng.StartVM(r.Context(), id)
	s.vmAnswer(w, r, id, outcome(err, "The VM was started."))
}

func (s *Server) stopVM(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, err := s.eng.StopVM(r.Context(), id)
	s.vmAnswer(w, r, id, outcome(err, "The VM was stopped."))
}

// ---- hosts

type hostRow struct {
	Host    *vwire.Host
	Cluster string
	NICs    []vwire.HostNICReport
}

func (s *Server) hostsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	hs, err := s.eng.Hosts(ctx, vwire.HostFilter{})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	names := map[string]string{}
	if cls, err := s.eng.Clusters(ctx, vwire.ClusterFilter{}); err == nil {
		for _, c := range cls {
			names[c.ID] = c.Name
		}
	}
	rows := make([]hostRow, len(hs))
	for i, h := range hs {
		rows[i] = hostRow{Host: h, Cluster: names[h.ClusterID]}
		rows[i].NICs, _ = s.eng.HostNICs(ctx, h.ID)
	}
	name := "hosts"
	if partial(r) {
		name = "host-rows"
	}
	s.render(w, r, http.StatusOK, name, &pageData{Title: "Hosts", Nav: "hosts", Data: rows, Partial: partial(r)})
}

// ---- networks and profiles

type networkRow struct {
	Network  *vwire.Network
	DC       string
	Profiles []profileRow
}

type profileRow struct {
	Profile *vwire.VNICProfile
	QoS     *vwire.QoS
}

func (s *Server) networksPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	nets, err := s.eng.Networks(ctx, vwire.NetworkFilter{})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	profiles, err := s.eng.Profiles(ctx, vwire.ProfileFilter{})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	dcs, _ := s.eng.DataCenterNames(ctx)
	qos := map[string]*vwire.QoS{}
	for dc := range dcs {
		qs, _ := s.eng.QoSs(ctx, dc)
		for _, q := range qs {
			qos[q.ID] = q
		}
	}
	rows := make([]networkRow, len(nets))
	at := map[string]int{}
	for i, n := range nets {
		rows[i] = networkRow{Network: n, DC: dcs[n.DataCenterID]}
		at[n.ID] = i
	}
	for _, p := range profiles {
		if i, ok := at[p.NetworkID]; ok {
			rows[i].Profiles = append(rows[i].Profiles, profileRow{Profile: p, QoS: qos[p.QoSID]})
		}
	}
	slices.SortFunc(rows, func(a, b networkRow) int { return cmp.Compare(a.Network.Name, b.Network.Name) })
	name := "networks"
	if partial(r) {
		name = "network-rows"
	}
	s.render(w, r, http.StatusOK, name, &pageData{Title: "Networks", Nav: "networks", Data: rows, Partial: partial(r)})
}

// ---- events

type eventsData struct {
	Search, Severity, SearchError string
	Events                        []*vwire.Event
	Max                           int
}

var severities = []string{"normal", "warning", "error", "alert"}

func (s *Server) eventsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := eventsData{Search: q.Get("search"), Severity: q.Get("severity"), Max: 200}
	if m, err := strconv.Atoi(q.Get("max")); err == nil && m > 0 && m <= 2000 {
		d.Max = m
	}
	text := d.Search
	if slices.Contains(severities, d.Severity) {
		if text != "" {
			text = "(" + text + ") and "
		}
		text += "severity=" + d.Severity
	} else {
		d.Severity = ""
	}
	code := http.StatusOK
	search, err := vwire.ParseSearch(text)
	if err == nil {
		d.Events, err = s.eng.FindEvents(r.Context(), vwire.EventFilter{Search: search, Max: d.Max})
	}
	if err != nil {
		if c := vwire.ErrorCode(err); c != vwire.EINVALID {
			s.fail(w, r, err)
			return
		}
		d.SearchError, code = message(err), http.StatusBadRequest
	}
	name := "events"
	if partial(r) {
		name = "event-rows"
	}
	s.render(w, r, code, name, &pageData{Title: "Events", Nav: "events", Data: d, Partial: partial(r)})
}
