package restapi

import (
	"net/http"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
)

func (q *request) templateNode(t *vwire.Template) *node {
	href := q.href("templates", t.ID)
	n := &node{name: "template", href: href, id: t.ID}
	return n.add(str("name", t.Name), str("description", t.Description), str("comment", t.Comment), link("nics", href+"/nics"),
		date("creation_time", t.CreatedAt), integer("memory", t.Memory), cpuNode(t.CPU), memoryPolicy(t.Memory), noHA(),
		el("os", el("boot", el("devices", item(str("device", "hd")))), str("type", t.OSType)),
		str("status", "ok"), str("type", "server"),
		// vwire has no template versions: each template is version 1 of
		// itself, as oVirt shows a template without sub-versions.
		el("version", integer("version_number", 1), ref("base_template", href, t.ID)),
		ref("cluster", q.href("clusters", t.ClusterID), t.ClusterID))
}

// templateNicNode is a template's vNIC: as a VM's, without MAC or host state.
func (q *request) templateNicNode(n *vwire.NIC) *node {
	href := q.href("templates", n.VMID, "nics", n.ID)
	out := &node{name: "nic", href: href, id: n.ID}
	out.add(str("name", n.Name), str("interface", string(n.Interface)), boolean("linked", n.Linked), boolean("plugged", n.Plugged),
		ref("template", q.href("templates", n.VMID), n.VMID))
	if n.ProfileID != "" {
		out.add(ref("vnic_profile", q.href("vnicprofiles", n.ProfileID), n.ProfileID))
	}
	return out
}

func (s *Server) listTemplates(q *request) error {
	f := vwire.TemplateFilter{}
	var err error
	if f.Search, f.Max, err = q.searchOf(vwire.SearchTemplates); err != nil {
		return err
	}
	ts, err := s.eng.FindTemplates(q.ctx(), f)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, render("templates", ts, q.templateNode))
	return nil
}

func (s *Server) getTemplate(q *request) error {
	t, err := s.eng.Template(q.ctx(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	n := q.templateNode(t)
	if q.allContent() {
		data, err := s.eng.ExportTemplate(q.ctx(), t.ID)
		if err != nil {
			return err
		}
		n.add(configuration(data))
	}
	q.write(http.StatusOK, n)
	return nil
}

// addTemplate makes a template from a VM (<vm id=…/>) or imports an OVF.
func (s *Server) addTemplate(q *request) error {
	b, err := q.body()
	if err != nil {
		return err
	}
	if b.child("initialization").child("configuration") != nil {
		data, o, err := s.importParams(q, b)
		if err != nil {
			return err
		}
		t, err := s.eng.ImportTemplate(q.ctx(), data, o)
		if err != nil {
			return err
		}
		q.created(q.templateNode(t))
		return nil
	}
	var missing []string
	if _, ok := b.str("name"); !ok {
		missing = append(missing, "name")
	}
	vmID, vmName, _ := b.ref("vm")
	if vmID == "" && vmName == "" {
		missing = append(missing, "vm.id|name")
	}
	if len(missing) > 0 {
		return vwire.Incomplete("Template", missing, "add")
	}
	if vmID == "" {
		vms, err := s.eng.VMs(q.ctx(), vwire.VMFilter{Name: vmName})
		if err != nil {
			return err
		}
		vm, err := resolve("VM", "", vmName, vms, func(v *vwire.VM) string { return v.ID }, func(v *vwire.VM) string { return v.Name })
		if err != nil {
			return err
		}
		vmID = vm.ID
	}
	t, err := s.eng.AddTemplate(q.ctx(), engine.TemplateSpec{Name: b.strOr("name", ""), Description: b.strOr("description", ""),
		Comment: b.strOr("comment", ""), VMID: vmID})
	if err != nil {
		return err
	}
	q.created(q.templateNode(t))
	return nil
}

func applyTemplate(b *in, t *vwire.Template) error {
	for _, f := range []struct {
		name string
		dst  *string
	}{{"name", &t.Name}, {"description", &t.Description}, {"comment", &t.Comment}} {
		if v := b.strp(f.name); v != nil {
			*f.dst = *v
		}
	}
	cpu, err := readCPU(b, t.CPU)
	if cpu != nil {
		t.CPU = *cpu
	}
	return err
}

func (s *Server) listTemplateNics(q *request) error {
	p, err := q.listParams()
	if err != nil {
		return err
	}
	nics, err := s.eng.TemplateNICs(q.ctx(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	n, err := collect(p, "nics", nics, func(n *vwire.NIC) map[string]string {
		return map[string]string{"name": n.Name, "id": n.ID}
	}, q.templateNicNode)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, n)
	return nil
}

func (s *Server) templateNic(q *request) (*vwire.NIC, error) {
	nics, err := s.eng.TemplateNICs(q.ctx(), q.r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	for _, n := range nics {
		if n.ID == q.r.PathValue("nid") {
			return n, nil
		}
	}
	return nil, vwire.NotFound("Nic", q.r.PathValue("nid"))
}

func (s *Server) getTemplateNic(q *request) error {
	n, err := s.templateNic(q)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, q.templateNicNode(n))
	return nil
}

func (s *Server) addTemplateNic(q *request) error {
	if _, err := s.eng.Template(q.ctx(), q.r.PathValue("id")); err != nil {
		return err
	}
	b, err := q.body()
	if err != nil {
		return err
	}
	if v, ok := b.str("name"); !ok || v == "" {
		return vwire.Incomplete("Nic", []string{"name"}, "add")
	}
	spec, err := parseNicSpec(b)
	if err != nil {
		return err
	}
	n, err := s.eng.AddTemplateNIC(q.ctx(), q.r.PathValue("id"), spec)
	if err != nil {
		return err
	}
	q.created(q.templateNicNode(n))
	return nil
}

func (s *Server) templateNicExists(q *request) error {
	_, err := s.templateNic(q)
	return err
}

func (s *Server) removeTemplateNic(q *request) error {
	if err := s.eng.RemoveTemplateNIC(q.ctx(), q.r.PathValue("id"), q.r.PathValue("nid")); err != nil {
		return err
	}
	q.done()
	return nil
}
