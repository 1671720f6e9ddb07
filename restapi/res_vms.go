package restapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
)

// ---- hosts

func (q *request) hostNode(h *vwire.Host) *node {
	href := q.href("hosts", h.ID)
	n := &node{name: "host", href: href, id: h.ID}
	bridges := el("bridges")
	for _, b := range h.Networks {
		bridges.add(item(str("bridge", b)))
	}
	levels := el("cluster_levels")
	for _, l := range h.ClusterLevels {
		levels.add(item(str("cluster_level", l.String())))
	}
	return n.add(actions(href, "refresh", "setupnetworks", "syncallnetworks"),
		link("nics", href+"/nics"), link("networkattachments", href+"/networkattachments"),
		str("name", h.Name), str("address", h.Address),
		integer("port", int64(h.Port)), str("protocol", "stomp"), str("status", string(h.Status)),
		optStr("status_detail", h.StatusDetail), str("type", "rhel"),
		el("libvirt_version", str("full_version", h.LibvirtVersion)),
		boolean("embedded", h.Embedded), bridges, levels, date("last_seen", h.LastSeen),
		ref("cluster", q.href("clusters", h.ClusterID), h.ClusterID))
}

func (s *Server) listHosts(q *request) error {
	f := vwire.HostFilter{}
	var err error
	if f.Search, f.Max, err = q.searchOf(vwire.SearchHosts); err != nil {
		return err
	}
	hosts, err := s.eng.Hosts(q.ctx(), f)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, render("hosts", hosts, q.hostNode))
	return nil
}

func (s *Server) getHost(q *request) error {
	h, err := s.eng.Host(q.ctx(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	q.write(http.StatusOK, q.hostNode(h))
	return nil
}

func (s *Server) addHost(q *request) error {
	b, err := q.body()
	if err != nil {
		return err
	}
	spec := engine.HostSpec{Name: b.strOr("name", ""), Address: b.strOr("address", "")}
	port, err := b.intp("port", 0, 65535)
	if err != nil {
		return err
	}
	if port != nil {
		spec.Port = int(*port)
	}
	if spec.ClusterID, err = s.refCluster(q, b, false); err != nil {
		return err
	}
	if spec.ClusterID == "" {
		// oVirt puts a host without a cluster into Default.
		b2 := &in{kids: []*in{{name: "cluster", attrs: map[string]string{}, kids: []*in{{name: "name", text: "Default"}}}}}
		if spec.ClusterID, err = s.refCluster(q, b2, true); err != nil {
			return err
		}
	}
	h, err := s.eng.AddHost(q.ctx(), spec)
	if err != nil {
		return err
	}
	q.created(q.hostNode(h))
	return nil
}

func (s *Server) updateHost(q *request) error {
	b, err := q.body()
	if err != nil {
		return err
	}
	p := engine.HostPatch{Name: b.strp("name"), Address: b.strp("address")}
	port, err := b.intp("port", 0, 65535)
	if err != nil {
		return err
	}
	if port != nil {
		v := int(*port)
		p.Port = &v
	}
	h, err := s.eng.UpdateHost(q.ctx(), q.r.PathValue("id"), p)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, q.hostNode(h))
	return nil
}

func (s *Server) refreshHost(q *request) error {
	h, err := s.eng.RefreshHost(q.ctx(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	q.done(q.hostNode(h))
	return nil
}

// ---- VMs

func (q *request) vmNode(v *vwire.VM) *node {
	href := q.href("vms", v.ID)
	n := &node{name: "vm", href: href, id: v.ID}
	os := el("os", el("boot", el("devices", item(str("device", "hd")))), str("type", v.OSType),
		optStr("kernel", v.Kernel), optStr("initrd", v.Initrd), optStr("cmdline", v.Cmdline))
	pp := el("placement_policy", str("affinity", "migratable"))
	if len(v.PlacementHosts) > 0 {
		pp = el("placement_policy", str("affinity", "pinned"))
		hs := el("hosts")
		for _, h := range v.PlacementHosts {
			hs.add(item(ref("host", q.href("hosts", h), h)))
		}
		pp.add(hs)
	}
	n.add(actions(href, "start", "stop", "shutdown"), str("name", v.Name), str("description", v.Description),
		str("comment", v.Comment), link("nics", href+"/nics"), link("numanodes", href+"/numanodes"),
		link("reporteddevices", href+"/reporteddevices"), link("permissions", href+"/permissions"), cpuNode(v.CPU),
		date("creation_time", v.CreatedAt), integer("memory", v.Memory), memoryPolicy(v.Memory), noHA(), os, pp,
		date("start_time", v.StartTime), date("stop_time", v.StopTime),
		boolean("stateless", false), str("type", "server"), str("status", string(v.Status)),
		ref("cluster", q.href("clusters", v.ClusterID), v.ClusterID),
		ref("template", q.href("templates", v.TemplateID), v.TemplateID),
		ref("host", q.href("hosts", v.HostID), v.HostID))
	return n
}

func (s *Server) listVMs(q *request) error {
	f := vwire.VMFilter{}
	var err error
	if f.Search, f.Max, err = q.searchOf(vwire.SearchVMs); err != nil {
		return err
	}
	vms, err := s.eng.VMs(q.ctx(), f)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, render("vms", vms, q.vmNode))
	return nil
}

func (s *Server) getVMByID(q *request) (*vwire.VM, error) {
	return s.eng.VM(q.ctx(), q.r.PathValue("id"))
}

func (s *Server) getVM(q *request) error {
	v, err := s.getVMByID(q)
	if err != nil {
		return err
	}
	n := q.vmNode(v)
	if q.allContent() {
		data, err := s.eng.ExportVM(q.ctx(), v.ID)
		if err != nil {
			return err
		}
		n.add(configuration(data))
	}
	q.write(http.StatusOK, n)
	return nil
}

// allContent: oVirt's all_content, as a query parameter or a header.
func (q *request) allContent() bool {
	v := q.r.URL.Query().Get("all_content")
	if v == "" {
		v = q.r.Header.Get("All-Content")
	}
	b, _ := parseBool(v)
	return b
}

// configuration is <initialization><configuration> with the OVF.
func configuration(data []byte) *node {
	return el("initialization", el("configuration", str("data", string(data)), str("type", "ovf")))
}

// importParams reads an import request's configuration and options.
func (s *Server) importParams(q *request, b *in) (data []byte, o engine.ImportOptions, err error) {
	cfg := b.child("initialization").child("configuration")
	if t := cfg.strOr("type", "ovf"); t != "ovf" {
		return nil, o, vwire.InvalidValue(vwire.MsgInvalidEnum, "Invalid value '"+t+"' for field 'configuration.type'. Possible values: [ovf]")
	}
	d, ok := cfg.str("data")
	if !ok || d == "" {
		return nil, o, vwire.Incomplete("Configuration", []string{"data"}, "add")
	}
	if o.ClusterID, err = s.refCluster(q, b, true); err != nil {
		return nil, o, err
	}
	o.Name = b.strOr("name", "")
	o.ReassignBadMACs = true
	flags := map[string]*bool{"regenerate_ids": &o.RegenerateIDs, "reassign_bad_macs": &o.ReassignBadMACs, "empty_missing_networks": &o.EmptyMissingNetworks}
	for name, dst := range flags {
		v := q.r.URL.Query().Get(name)
		if x, ok := b.child("initialization").str(name); ok {
			v = x
		}
		if v == "" {
			continue
		}
		if *dst, err = parseBool(v); err != nil {
			return nil, o, err
		}
	}
	return []byte(d), o, nil
}

// placement reads placement_policy.hosts (by id or name).
func (s *Server) placement(q *request, b *in) (*[]string, error) {
	pp := b.child("placement_policy")
	if pp == nil || pp.child("hosts") == nil {
		return nil, nil
	}
	hosts, err := s.eng.Hosts(q.ctx(), vwire.HostFilter{})
	if err != nil {
		return nil, err
	}
	ids := []string{}
	for _, r := range pp.child("hosts").children("host") {
		id, _ := r.str("id")
		name, _ := r.str("name")
		h, err := resolve("Host", id, name, hosts, func(h *vwire.Host) string { return h.ID }, func(h *vwire.Host) string { return h.Name })
		if err != nil {
			return nil, err
		}
		ids = append(ids, h.ID)
	}
	return &ids, nil
}

func (s *Server) addVM(q *request) error {
	b, err := q.body()
	if err != nil {
		return err
	}
	if b.child("initialization").child("configuration") != nil {
		data, o, err := s.importParams(q, b)
		if err != nil {
			return err
		}
		v, err := s.eng.ImportVM(q.ctx(), data, o)
		if err != nil {
			return err
		}
		q.created(q.vmNode(v))
		return nil
	}
	var missing []string
	if _, ok := b.str("name"); !ok {
		missing = append(missing, "name")
	}
	if id, name, _ := b.ref("cluster"); id == "" && name == "" {
		missing = append(missing, "cluster.id|name")
	}
	if id, name, _ := b.ref("template"); id == "" && name == "" {
		missing = append(missing, "template.id|name")
	}
	if len(missing) > 0 {
		return vwire.Incomplete("Vm", missing, "add")
	}
	spec := engine.VMSpec{Name: b.strOr("name", ""), Description: b.strOr("description", ""), Comment: b.strOr("comment", "")}
	if spec.ClusterID, err = s.refCluster(q, b, true); err != nil {
		return err
	}
	tid, tname, _ := b.ref("template")
	ts, err := s.eng.Templates(q.ctx())
	if err != nil {
		return err
	}
	t, err := resolve("Template", tid, tname, ts, func(t *vwire.Template) string { return t.ID }, func(t *vwire.Template) string { return t.Name })
	if err != nil {
		return err
	}
	spec.TemplateID = t.ID
	if spec.CPU, err = readCPU(b, t.CPU); err != nil {
		return err
	}
	base, err := readVMBase(b)
	if err != nil {
		return err
	}
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	if base.memory != nil {
		spec.Memory = *base.memory
	}
	set(&spec.Kernel, base.kernel)
	set(&spec.Initrd, base.initrd)
	set(&spec.Cmdline, base.cmdline)
	if os := b.child("os"); os != nil {
		spec.OSType = os.strOr("type", "")
	}
	hosts, err := s.placement(q, b)
	if err != nil {
		return err
	}
	if hosts != nil {
		spec.PlacementHosts = *hosts
	}
	v, err := s.eng.AddVM(q.ctx(), spec)
	if err != nil {
		return err
	}
	q.created(q.vmNode(v))
	return nil
}

// cpuNode is a VM's or template's <cpu>: the guest's topology, which the
// host's domain has (sockets × cores × threads vCPUs).
func cpuNode(c vwire.CPUTopology) *node {
	return el("cpu", str("architecture", "x86_64"), el("topology", integer("cores", int64(c.Cores)),
		integer("sockets", int64(c.Sockets)), integer("threads", int64(c.Threads))))
}

// memoryPolicy says what the domain has: all its memory guaranteed, no
// more to grow into, no balloon (the agent defines none).
func memoryPolicy(memory int64) *node {
	return el("memory_policy", integer("guaranteed", memory), integer("max", memory), boolean("ballooning", false))
}

// noHA is oVirt's high_availability, off: vwire restarts no VM by itself.
func noHA() *node {
	return el("high_availability", boolean("enabled", false), integer("priority", 0))
}

// readCPU reads <cpu><topology> onto c: the parts given replace c's.
func readCPU(b *in, c vwire.CPUTopology) (*vwire.CPUTopology, error) {
	topo := b.child("cpu").child("topology")
	if topo == nil {
		return nil, nil
	}
	for _, f := range []struct {
		name string
		dst  *int
	}{{"sockets", &c.Sockets}, {"cores", &c.Cores}, {"threads", &c.Threads}} {
		v, err := topo.intp(f.name, 1, vwire.MaxVCPUs)
		if err != nil {
			return nil, err
		}
		if v != nil {
			*f.dst = int(*v)
		}
	}
	return &c, nil
}

// vmBase is what VM add and update read alike: memory and os's boot files.
type vmBase struct {
	memory                  *int64
	kernel, initrd, cmdline *string
}

// readVMBase reads the fields of vmBase that the body has. Memory is
// checked against the bounds the engine enforces before anything uses it.
func readVMBase(b *in) (vmBase, error) {
	var v vmBase
	var err error
	if v.memory, err = b.intp("memory", vwire.MinMemory, vwire.MaxMemory); err != nil {
		return v, err
	}
	if os := b.child("os"); os != nil {
		v.kernel, v.initrd, v.cmdline = os.strp("kernel"), os.strp("initrd"), os.strp("cmdline")
	}
	return v, nil
}

func (s *Server) updateVM(q *request) error {
	v, err := s.getVMByID(q)
	if err != nil {
		return err
	}
	b, err := q.body()
	if err != nil {
		return err
	}
	p := engine.VMPatch{Name: b.strp("name"), Description: b.strp("description"), Comment: b.strp("comment")}
	if p.CPU, err = readCPU(b, v.CPU); err != nil {
		return err
	}
	base, err := readVMBase(b)
	if err != nil {
		return err
	}
	p.Memory, p.Kernel, p.Initrd, p.Cmdline = base.memory, base.kernel, base.initrd, base.cmdline
	if b.has("cluster") {
		cid, err := s.refCluster(q, b, true)
		if err != nil {
			return err
		}
		p.ClusterID = &cid
	}
	if p.PlacementHosts, err = s.placement(q, b); err != nil {
		return err
	}
	nv, err := s.eng.UpdateVM(q.ctx(), v.ID, p)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, q.vmNode(nv))
	return nil
}

// actionBody reads an action body; it may be empty.
func (q *request) actionBody() error {
	_, err := q.body()
	return err
}

func (s *Server) startVM(q *request) error {
	async, err := q.actionParams()
	if err != nil {
		return err
	}
	if async {
		vm, err := s.eng.VM(q.ctx(), q.r.PathValue("id"))
		if err != nil {
			return err
		}
		return s.runAsync(q, "Launching VM "+vm.Name, func(ctx context.Context) error {
			_, err := s.eng.StartVM(ctx, vm.ID)
			return err
		})
	}
	v, err := s.eng.StartVM(q.ctx(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	q.done(q.vmNode(v))
	return nil
}

func (s *Server) stopVM(q *request) error {
	async, err := q.actionParams()
	if err != nil {
		return err
	}
	if async {
		vm, err := s.eng.VM(q.ctx(), q.r.PathValue("id"))
		if err != nil {
			return err
		}
		return s.runAsync(q, "Stopping VM "+vm.Name, func(ctx context.Context) error {
			_, err := s.eng.StopVM(ctx, vm.ID)
			return err
		})
	}
	v, err := s.eng.StopVM(q.ctx(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	q.done(q.vmNode(v))
	return nil
}

// ---- events

func (q *request) eventNode(e *vwire.Event) *node {
	id := strconv.FormatInt(e.ID, 10)
	n := &node{name: "event", href: q.href("events", id), id: id}
	return n.add(str("description", e.Description), integer("code", int64(e.Code)), optStr("correlation_id", e.CorrelationID),
		integer("custom_id", -1), integer("flood_rate", 30), integer("index", e.ID), str("origin", "oVirt"),
		str("severity", string(e.Severity)), date("time", e.Time), optStr("user_name", e.UserName),
		ref("vm", q.href("vms", e.VMID), e.VMID), ref("host", q.href("hosts", e.HostID), e.HostID),
		ref("cluster", q.href("clusters", e.ClusterID), e.ClusterID),
		ref("template", q.href("templates", e.TemplateID), e.TemplateID))
}

func (s *Server) listEvents(q *request) error {
	ef := vwire.EventFilter{}
	var err error
	if ef.Search, ef.Max, err = q.searchOf(vwire.SearchEvents); err != nil {
		return err
	}
	from := int64(-1)
	f := q.r.URL.Query().Get("from")
	if f == "" {
		f = q.r.Header.Get("Last-Event-ID")
	}
	if f != "" {
		if from, err = strconv.ParseInt(f, 10, 64); err != nil || from < 0 {
			return vwire.InvalidValue(vwire.MsgInvalidValue, `Value "`+f+`" of from isn't a valid event index`)
		}
	}
	if strings.Contains(q.r.Header.Get("Accept"), "text/event-stream") {
		return s.streamEvents(q, from)
	}
	ef.From = max(from, 0)
	evs, err := s.eng.FindEvents(q.ctx(), ef)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, render("events", evs, q.eventNode))
	return nil
}

func (s *Server) getEvent(q *request) error {
	id, err := strconv.ParseInt(q.r.PathValue("id"), 10, 64)
	if err != nil {
		return vwire.NotFound("Event", q.r.PathValue("id"))
	}
	e, err := s.eng.Event(q.ctx(), id)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, q.eventNode(e))
	return nil
}
