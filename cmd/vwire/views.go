package main

import (
	"strconv"

	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire/client"
)

// --output json renders what the CLI fetched in the engine's JSON spelling
// (oVirt's: booleans and integers as strings), limited to the fields the
// CLI reads; the SDK's types have no JSON form of their own.

type refJSON struct {
	ID string `json:"id"`
}

func ref(id string, ok bool) *refJSON {
	if !ok || id == "" {
		return nil
	}
	return &refJSON{ID: id}
}

type vmJSON struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Status      string   `json:"status,omitempty"`
	Host        *refJSON `json:"host,omitempty"`
	Cluster     *refJSON `json:"cluster,omitempty"`
	Template    *refJSON `json:"template,omitempty"`
	Memory      string   `json:"memory,omitempty"` // bytes
	CPU         *cpuJSON `json:"cpu,omitempty"`
	Comment     string   `json:"comment,omitempty"`
	Description string   `json:"description,omitempty"`
}

type cpuJSON struct {
	Topology topologyJSON `json:"topology"`
}

type topologyJSON struct {
	Sockets string `json:"sockets"`
	Cores   string `json:"cores"`
	Threads string `json:"threads"`
}

func cpuView(c *ovirtsdk4.Cpu, ok bool) *cpuJSON {
	if !ok {
		return nil
	}
	t, ok := c.Topology()
	if !ok {
		return nil
	}
	out := &cpuJSON{}
	for _, f := range []struct {
		dst *string
		get func() (int64, bool)
	}{{&out.Topology.Sockets, t.Sockets}, {&out.Topology.Cores, t.Cores}, {&out.Topology.Threads, t.Threads}} {
		if n, ok := f.get(); ok {
			*f.dst = strconv.FormatInt(n, 10)
		}
	}
	return out
}

// shape is memory and CPU for people: "1 GiB, 1:2:1 (sockets:cores:threads)".
func shape(memory string, cpu *cpuJSON) string {
	m := "-"
	if n, err := strconv.ParseInt(memory, 10, 64); err == nil {
		m = humanBytes(n)
	}
	if cpu == nil {
		return m
	}
	t := cpu.Topology
	return m + ", " + t.Sockets + ":" + t.Cores + ":" + t.Threads
}

func (v vmJSON) shape() string { return shape(v.Memory, v.CPU) }

// humanBytes writes a size in the largest binary unit that divides it.
func humanBytes(n int64) string {
	for _, u := range []struct {
		name  string
		shift uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + " " + u.name
		}
	}
	return strconv.FormatInt(n, 10) + " B"
}

func vmView(v *ovirtsdk4.Vm) vmJSON {
	out := vmJSON{ID: v.MustId()}
	out.Name, _ = v.Name()
	if s, ok := v.Status(); ok {
		out.Status = string(s)
	}
	if h, ok := v.Host(); ok {
		out.Host = ref(h.Id())
	}
	if c, ok := v.Cluster(); ok {
		out.Cluster = ref(c.Id())
	}
	if t, ok := v.Template(); ok {
		out.Template = ref(t.Id())
	}
	if m, ok := v.Memory(); ok {
		out.Memory = strconv.FormatInt(m, 10)
	}
	out.CPU = cpuView(v.Cpu())
	out.Comment, _ = v.Comment()
	out.Description, _ = v.Description()
	return out
}

type macJSON struct {
	Address string `json:"address"`
}

type nicJSON struct {
	ID            string                `json:"id"`
	Name          string                `json:"name"`
	Interface     string                `json:"interface,omitempty"`
	MAC           *macJSON              `json:"mac,omitempty"`
	Linked        string                `json:"linked,omitempty"`
	Plugged       string                `json:"plugged,omitempty"`
	Synced        string                `json:"synced,omitempty"`
	VnicProfile   *refJSON              `json:"vnic_profile,omitempty"`
	Network       *refJSON              `json:"network,omitempty"`
	VM            *refJSON              `json:"vm,omitempty"`
	ReportedState *client.ReportedState `json:"reported_state,omitempty"`
}

func boolText(b, ok bool) string {
	if !ok {
		return ""
	}
	return strconv.FormatBool(b)
}

func nicView(n *client.NIC) nicJSON {
	out := nicJSON{ID: n.MustId(), ReportedState: n.Reported}
	out.Name, _ = n.Name()
	if t, ok := n.Interface(); ok {
		out.Interface = string(t)
	}
	if m, ok := n.Mac(); ok {
		if a, ok := m.Address(); ok {
			out.MAC = &macJSON{Address: a}
		}
	}
	out.Linked = boolText(n.Linked())
	out.Plugged = boolText(n.Plugged())
	out.Synced = boolText(n.Synced())
	if p, ok := n.VnicProfile(); ok {
		out.VnicProfile = ref(p.Id())
	}
	if nw, ok := n.Network(); ok {
		out.Network = ref(nw.Id())
	}
	if v, ok := n.Vm(); ok {
		out.VM = ref(v.Id())
	}
	return out
}

type eventJSON struct {
	ID          string `json:"id"`
	Code        string `json:"code"`
	Severity    string `json:"severity"`
	Description string `json:"description"`
	Time        string `json:"time"` // milliseconds since the epoch, as the engine writes it
}

func eventView(e *ovirtsdk4.Event) eventJSON {
	out := eventJSON{ID: e.MustId()}
	if c, ok := e.Code(); ok {
		out.Code = strconv.FormatInt(c, 10)
	}
	if s, ok := e.Severity(); ok {
		out.Severity = string(s)
	}
	out.Description, _ = e.Description()
	if t, ok := e.Time(); ok {
		out.Time = strconv.FormatInt(t.UnixMilli(), 10)
	}
	return out
}

type versionJSON struct {
	Major string `json:"major"`
	Minor string `json:"minor"`
}

func versionView(v *ovirtsdk4.Version, ok bool) *versionJSON {
	if !ok {
		return nil
	}
	out := &versionJSON{}
	if n, ok := v.Major(); ok {
		out.Major = strconv.FormatInt(n, 10)
	}
	if n, ok := v.Minor(); ok {
		out.Minor = strconv.FormatInt(n, 10)
	}
	return out
}

func (v *versionJSON) String() string {
	if v == nil {
		return "-"
	}
	return v.Major + "." + v.Minor
}

type dataCenterJSON struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	Status      string       `json:"status,omitempty"`
	Version     *versionJSON `json:"version,omitempty"`
}

func dataCenterView(d *ovirtsdk4.DataCenter) dataCenterJSON {
	out := dataCenterJSON{ID: d.MustId()}
	out.Name, _ = d.Name()
	out.Description, _ = d.Description()
	if st, ok := d.Status(); ok {
		out.Status = string(st)
	}
	out.Version = versionView(d.Version())
	return out
}

type clusterJSON struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	DataCenter  *refJSON     `json:"data_center,omitempty"`
	Version     *versionJSON `json:"version,omitempty"`
	DriftPolicy string       `json:"drift_policy,omitempty"` // vwire's
}

func clusterView(c *ovirtsdk4.Cluster) clusterJSON {
	out := clusterJSON{ID: c.MustId()}
	out.Name, _ = c.Name()
	out.Description, _ = c.Description()
	if d, ok := c.DataCenter(); ok {
		out.DataCenter = ref(d.Id())
	}
	out.Version = versionView(c.Version())
	return out
}

type vlanJSON struct {
	ID string `json:"id"`
}

type networkJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	DataCenter  *refJSON  `json:"data_center,omitempty"`
	VLAN        *vlanJSON `json:"vlan,omitempty"`
	MTU         string    `json:"mtu,omitempty"`
}

func networkView(n *ovirtsdk4.Network) networkJSON {
	out := networkJSON{ID: n.MustId()}
	out.Name, _ = n.Name()
	out.Description, _ = n.Description()
	if d, ok := n.DataCenter(); ok {
		out.DataCenter = ref(d.Id())
	}
	if v, ok := n.Vlan(); ok {
		if id, ok := v.Id(); ok {
			out.VLAN = &vlanJSON{ID: strconv.FormatInt(id, 10)}
		}
	}
	if m, ok := n.Mtu(); ok && m > 0 {
		out.MTU = strconv.FormatInt(m, 10)
	}
	return out
}

type profileJSON struct {
	ID                string           `json:"id"`
	Name              string           `json:"name"`
	Description       string           `json:"description,omitempty"`
	Network           *refJSON         `json:"network,omitempty"`
	PortMirroring     string           `json:"port_mirroring,omitempty"`
	QoS               *refJSON         `json:"qos,omitempty"`
	NetworkFilter     *refJSON         `json:"network_filter,omitempty"`
	PassThrough       *passThroughJSON `json:"pass_through,omitempty"`
	GuestNotification string           `json:"guest_notification,omitempty"` // vwire's
	LinkBounceHold    string           `json:"link_bounce_hold,omitempty"`   // milliseconds
}

type passThroughJSON struct {
	Mode string `json:"mode"`
}

func profileView(p *ovirtsdk4.VnicProfile) profileJSON {
	out := profileJSON{ID: p.MustId()}
	out.Name, _ = p.Name()
	out.Description, _ = p.Description()
	if n, ok := p.Network(); ok {
		out.Network = ref(n.Id())
	}
	out.PortMirroring = boolText(p.PortMirroring())
	if q, ok := p.Qos(); ok {
		out.QoS = ref(q.Id())
	}
	if f, ok := p.NetworkFilter(); ok {
		out.NetworkFilter = ref(f.Id())
	}
	if pt, ok := p.PassThrough(); ok {
		if m, ok := pt.Mode(); ok {
			out.PassThrough = &passThroughJSON{Mode: string(m)}
		}
	}
	return out
}

type templateJSON struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Comment     string   `json:"comment,omitempty"`
	Status      string   `json:"status,omitempty"`
	Memory      string   `json:"memory,omitempty"`
	CPU         *cpuJSON `json:"cpu,omitempty"`
	Cluster     *refJSON `json:"cluster,omitempty"`
}

func templateView(t *ovirtsdk4.Template) templateJSON {
	out := templateJSON{ID: t.MustId()}
	out.Name, _ = t.Name()
	out.Description, _ = t.Description()
	out.Comment, _ = t.Comment()
	if st, ok := t.Status(); ok {
		out.Status = string(st)
	}
	if m, ok := t.Memory(); ok {
		out.Memory = strconv.FormatInt(m, 10)
	}
	out.CPU = cpuView(t.Cpu())
	if c, ok := t.Cluster(); ok {
		out.Cluster = ref(c.Id())
	}
	return out
}

// jobJSON is a job as oVirt's JSON names it.
type jobJSON struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	Status      string `json:"status"`
	StartTime   string `json:"start_time,omitempty"`
	EndTime     string `json:"end_time,omitempty"`
}

func jobView(j *client.Job) jobJSON {
	return jobJSON{ID: j.ID, Description: j.Description, Status: j.Status, StartTime: j.StartTime, EndTime: j.EndTime}
}

// stepResultJSON is a rewire's step: its VM, oVirt's step status as the
// result, and what happened (the reasons when it failed).
type stepResultJSON struct {
	Number int    `json:"number"`
	VM     string `json:"vm"`
	Result string `json:"result"`
	Detail string `json:"description"`
}

// rewireJSON is a job with its per-VM results.
type rewireJSON struct {
	Job   jobJSON          `json:"job"`
	Steps []stepResultJSON `json:"steps"`
}

func rewireView(j *client.Job, steps []client.Step) rewireJSON {
	v := rewireJSON{Job: jobView(j), Steps: make([]stepResultJSON, 0, len(steps))}
	for _, s := range steps {
		vm, what := s.VMResult()
		v.Steps = append(v.Steps, stepResultJSON{Number: s.Number, VM: vm, Result: s.Status, Detail: what})
	}
	return v
}
