package restapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
)

// nicNode renders a vNIC. Besides oVirt's fields it carries, read-only, what
// its host last reported (<reported_state>) next to <synced>.
func (q *request) nicNode(n *vwire.NIC) *node {
	href := q.href("vms", n.VMID, "nics", n.ID)
	out := &node{name: "nic", href: href, id: n.ID}
	out.add(actions(href, "activate", "deactivate"), str("name", n.Name),
		link("statistics", href+"/statistics"), link("reporteddevices", href+"/reporteddevices"),
		link("networkfilterparameters", href+"/networkfilterparameters"),
		str("interface", string(n.Interface)), boolean("linked", n.Linked),
		el("mac", str("address", n.MAC)), boolean("plugged", n.Plugged), boolean("synced", n.Synced),
		ref("vm", q.href("vms", n.VMID), n.VMID))
	if n.ProfileID != "" {
		out.add(ref("vnic_profile", q.href("vnicprofiles", n.ProfileID), n.ProfileID))
		if n.NetworkID != "" {
			out.add(ref("network", q.href("networks", n.NetworkID), n.NetworkID))
		}
	}
	if o := n.Observed; o != nil {
		rs := el("reported_state", boolean("present", o.Present))
		if o.Present {
			link := "down"
			if o.LinkUp {
				link = "up"
			}
			rs.add(str("link_state", link), str("bridge", o.Bridge), str("alias", o.Alias),
				optStr("pci_address", o.PCIAddress), str("mac", o.MAC), str("interface", string(vwire.ModelInterface(o.Model))),
				boolean("port_mirroring", o.Mirroring))
			if !o.QoS.IsZero() {
				rs.add(reportedQoS(o.QoS))
			}
			if o.Filter != "" {
				f := el("network_filter", str("name", o.Filter))
				if len(o.FilterParams) > 0 {
					ps := el("parameters")
					for _, p := range o.FilterParams {
						ps.add(el("parameter", str("name", p.Name), str("value", p.Value)))
					}
					f.add(ps)
				}
				rs.add(f)
			}
		}
		if o.Error != "" {
			rs.add(str("error", o.Error))
		}
		rs.add(date("time", o.At))
		out.add(rs)
	}
	return out
}

// reportedQoS is the limits a host applied, in oVirt's qos names and units.
func reportedQoS(b vwire.Bandwidth) *node {
	q := el("qos")
	for _, d := range []struct {
		dir string
		r   vwire.Rate
	}{{"inbound", b.Inbound}, {"outbound", b.Outbound}} {
		if d.r.IsZero() {
			continue
		}
		q.add(integer(d.dir+"_average", int64(d.r.Average)), integer(d.dir+"_peak", int64(d.r.Peak)), integer(d.dir+"_burst", int64(d.r.Burst)))
	}
	return q
}

// parseNic reads a nic body into a patch. link_state ("up"/"down") is the
// seed's spelling of linked and is accepted too.
func parseNic(b *in) (vwire.NICPatch, error) {
	var p vwire.NICPatch
	p.Name = b.strp("name")
	if v, ok := b.str("interface"); ok {
		t, ok := vwire.ParseNICInterface(v)
		if !ok {
			return p, vwire.InvalidValue(vwire.MsgInvalidEnum, fmt.Sprintf("Invalid value '%s' for field 'interface'. Possible values: [%s]", v, strings.Join(vwire.NICInterfaces(), ", ")))
		}
		p.Interface = &t
	}
	var err error
	if p.Linked, err = b.boolp("linked"); err != nil {
		return p, err
	}
	if v, ok := b.str("link_state"); ok {
		var up bool
		switch strings.ToLower(v) {
		case "up":
			up = true
		case "down":
		default:
			return p, vwire.InvalidValue(vwire.MsgInvalidValue, fmt.Sprintf(`Value "%s" of link_state isn't valid, it should be "up" or "down"`, v))
		}
		if p.Linked != nil && *p.Linked != up {
			return p, vwire.InvalidValue(vwire.MsgInvalidValue, "linked and link_state disagree")
		}
		p.Linked = &up
	}
	if p.Plugged, err = b.boolp("plugged"); err != nil {
		return p, err
	}
	if m := b.child("mac"); m != nil {
		p.MAC = m.strp("address")
	}
	if vp := b.child("vnic_profile"); vp != nil {
		// <vnic_profile/> (or {}) is the empty network. A reference with
		// fields but no id (by name, say) would read the same: refused,
		// as the vNIC would otherwise leave its network silently.
		id, ok := vp.str("id")
		if !ok && (len(vp.kids) > 0 || len(vp.attrs) > 0) {
			return p, vwire.InvalidValue(vwire.MsgInvalidValue, "vnic_profile must be given by id; an empty vnic_profile means no network.")
		}
		p.ProfileID = &id
	}
	return p, nil
}

// parseNicSpec reads a nic to add (its name checked present by the caller).
func parseNicSpec(b *in) (engine.NICSpec, error) {
	p, err := parseNic(b)
	if err != nil {
		return engine.NICSpec{}, err
	}
	spec := engine.NICSpec{Name: *p.Name, Linked: p.Linked, Plugged: p.Plugged}
	if p.MAC != nil {
		spec.MAC = *p.MAC
	}
	if p.Interface != nil {
		spec.Interface = *p.Interface
	}
	if p.ProfileID != nil {
		spec.ProfileID = *p.ProfileID
	}
	return spec, nil
}

func (s *Server) listNics(q *request) error {
	p, err := q.listParams()
	if err != nil {
		return err
	}
	nics, err := s.eng.NICs(q.ctx(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	n, err := collect(p, "nics", nics, func(n *vwire.NIC) map[string]string {
		return map[string]string{"name": n.Name, "id": n.ID}
	}, q.nicNode)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, n)
	return nil
}

func (s *Server) getNic(q *request) error {
	n, err := s.eng.NIC(q.ctx(), q.r.PathValue("id"), q.r.PathValue("nid"))
	if err != nil {
		return err
	}
	q.write(http.StatusOK, q.nicNode(n))
	return nil
}

func (s *Server) addNic(q *request) error {
	n, err := func() (*vwire.NIC, error) {
		b, err := q.body()
		if err != nil {
			return nil, err
		}
		if v, ok := b.str("name"); !ok || v == "" {
			return nil, vwire.Incomplete("Nic", []string{"name"}, "add")
		}
		spec, err := parseNicSpec(b)
		if err != nil {
			return nil, err
		}
		return s.eng.AddNIC(q.ctx(), q.r.PathValue("id"), spec)
	}()
	if err != nil {
		return notFoundFirst(q, s.vmExists, err)
	}
	q.created(q.nicNode(n))
	return nil
}

func (s *Server) vmExists(q *request) error {
	_, err := s.getVMByID(q)
	return err
}

func (s *Server) nicExists(q *request) error {
	_, err := s.eng.NIC(q.ctx(), q.r.PathValue("id"), q.r.PathValue("nid"))
	return err
}

// notFoundFirst gives the 404 of a missing parent or vNIC in place of any
// other refusal, as oVirt's REST layer looks the resource up first. The
// operations look it up themselves, so only a refusal pays for the lookup.
func notFoundFirst(q *request, exists func(*request) error, err error) error {
	if err == nil || vwire.ErrorCode(err) == vwire.ENOTFOUND {
		return err
	}
	if nf := exists(q); vwire.ErrorCode(nf) == vwire.ENOTFOUND {
		return nf
	}
	return err
}

// patchNic is the PUT of a VM's or a template's vNIC: the merge of the body
// into the vNIC.
func patchNic(exists func(*request) error, update func(context.Context, string, string, vwire.NICPatch) (*vwire.NIC, error),
	render func(*request, *vwire.NIC) *node) handler {
	return func(q *request) error {
		n, err := func() (*vwire.NIC, error) {
			b, err := q.body()
			if err != nil {
				return nil, err
			}
			p, err := parseNic(b)
			if err != nil {
				return nil, err
			}
			return update(q.ctx(), q.r.PathValue("id"), q.r.PathValue("nid"), p)
		}()
		if err != nil {
			return notFoundFirst(q, exists, err)
		}
		q.write(http.StatusOK, render(q, n))
		return nil
	}
}

func (s *Server) removeNic(q *request) error {
	if err := s.eng.RemoveNIC(q.ctx(), q.r.PathValue("id"), q.r.PathValue("nid")); err != nil {
		return err
	}
	q.done()
	return nil
}

func (s *Server) activateNic(q *request) error {
	async, err := q.actionParams()
	if err == nil && async {
		return s.nicAsync(q, "Plugging", s.eng.ActivateNIC)
	}
	var n *vwire.NIC
	if err == nil {
		n, err = s.eng.ActivateNIC(q.ctx(), q.r.PathValue("id"), q.r.PathValue("nid"))
	}
	if err != nil {
		return notFoundFirst(q, s.nicExists, err)
	}
	q.done(q.nicNode(n))
	return nil
}

func (s *Server) deactivateNic(q *request) error {
	async, err := q.actionParams()
	if err == nil && async {
		return s.nicAsync(q, "Unplugging", s.eng.DeactivateNIC)
	}
	var n *vwire.NIC
	if err == nil {
		n, err = s.eng.DeactivateNIC(q.ctx(), q.r.PathValue("id"), q.r.PathValue("nid"))
	}
	if err != nil {
		return notFoundFirst(q, s.nicExists, err)
	}
	q.done(q.nicNode(n))
	return nil
}

// nicAsync runs a vNIC's plug or unplug in the background.
func (s *Server) nicAsync(q *request, verb string, op func(ctx context.Context, vmID, nicID string) (*vwire.NIC, error)) error {
	vmID, nicID := q.r.PathValue("id"), q.r.PathValue("nid")
	vm, err := s.eng.VM(q.ctx(), vmID)
	if err != nil {
		return err
	}
	n, err := s.eng.NIC(q.ctx(), vmID, nicID)
	if err != nil {
		return err
	}
	return s.runAsync(q, verb+" Interface "+n.Name+" of VM "+vm.Name, func(ctx context.Context) error {
		_, err := op(ctx, vmID, nicID)
		return err
	})
}
