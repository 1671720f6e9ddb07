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
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Status  string   `json:"status,omitempty"`
	Host    *refJSON `json:"host,omitempty"`
	Cluster *refJSON `json:"cluster,omitempty"`
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
