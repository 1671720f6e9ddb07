package engine

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// Templates carry vNICs without MACs: name, type, profile (or the empty
// network), linked and plugged. A VM made from a template gets them with
// fresh MACs from its cluster's pool.

var (
	opAddTemplate    = vwire.Op{Action: "add", Type: "Template"}
	opEditTemplate   = vwire.Op{Action: "edit", Type: "Template"}
	opRemoveTemplate = vwire.Op{Action: "remove", Type: "Template"}
)

// TemplateSpec is a template to make from a VM.
type TemplateSpec struct {
	Name        string
	Description string
	Comment     string
	VMID        string
}

func tmplVars(t *vwire.Template) []string { return []string{"VmTemplateName", t.Name} }

// AddTemplate makes a template from a VM that is down, copying its vNICs'
// link state, plug state, profile and type.
func (e *Engine) AddTemplate(ctx context.Context, s TemplateSpec) (*vwire.Template, error) {
	op := opAddTemplate
	if err := e.authorize(ctx, op, on(vwire.PermitCreateTemplate, vwire.ObjVM, s.VMID)); err != nil {
		return nil, err
	}
	if s.Name == "" {
		return nil, vwire.Incomplete("Template", []string{"name"}, "add")
	}
	if err := vwire.ValidateName(op, s.Name, 64, true); err != nil {
		return nil, err
	}
	unlock, err := e.store.LockVM(ctx, s.VMID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var tp *vwire.Template
	err = e.store.Update(ctx, func(tx vwire.Tx) error {
		vm, err := tx.VM(s.VMID)
		if vwire.ErrorCode(err) == vwire.ENOTFOUND {
			return vwire.Fail(op, vwire.MsgVMNotFound)
		} else if err != nil {
			return err
		}
		if vm.Status != vwire.VMDown {
			return vwire.Fail(op, vwire.MsgVMIsRunning)
		}
		tp = &vwire.Template{ID: uuid.NewString(), Name: s.Name, Description: s.Description, Comment: s.Comment,
			ClusterID: vm.ClusterID, Memory: vm.Memory, CPU: vm.CPU, OSType: vm.OSType, CreatedAt: e.now()}
		if err := tx.CreateTemplate(tp); err != nil {
			return nameConflict(op, vwire.MsgNameAlreadyUsed, err)
		}
		nics, err := tx.NICs(vm.ID)
		if err != nil {
			return err
		}
		for _, n := range nics {
			c := *n
			c.ID, c.VMID, c.MAC, c.Observed = uuid.NewString(), tp.ID, "", nil
			if err := tx.CreateTemplateNIC(&c); err != nil {
				return err
			}
		}
		if err := newEvent(ctx, evTmplAdd, tmplVars(tp)...).vm(vm).write(tx); err != nil {
			return err
		}
		ev := newEvent(ctx, evTmplAddDone, tmplVars(tp)...).vm(vm)
		ev.ev.TemplateID = tp.ID
		return ev.write(tx)
	})
	return tp, err
}

// UpdateTemplate applies mutate to a template (its name, description).
func (e *Engine) UpdateTemplate(ctx context.Context, id string, mutate func(*vwire.Template) error) (*vwire.Template, error) {
	op := opEditTemplate
	if err := e.authorize(ctx, op, on(vwire.PermitEditTemplateProperties, vwire.ObjTemplate, id)); err != nil {
		return nil, err
	}
	var tp *vwire.Template
	err := e.store.Update(ctx, func(tx vwire.Tx) (err error) {
		if tp, err = tx.Template(id); err != nil {
			return err
		}
		if id == vwire.BlankTemplateID {
			return vwire.Fail(op, vwire.MsgBlankTemplate)
		}
		if err := mutate(tp); err != nil {
			return err
		}
		tp.ID = id
		if err := vwire.ValidateName(op, tp.Name, 64, true); err != nil {
			return err
		}
		if err := vwire.ValidateCPU(op, tp.CPU); err != nil {
			return err
		}
		if err := tx.UpdateTemplate(tp); err != nil {
			return nameConflict(op, vwire.MsgNameAlreadyUsed, err)
		}
		ev := newEvent(ctx, evTmplUpdate, tmplVars(tp)...)
		ev.ev.TemplateID = tp.ID
		return ev.write(tx)
	})
	return tp, err
}

// RemoveTemplate deletes a template no VM was made from.
func (e *Engine) RemoveTemplate(ctx context.Context, id string) error {
	op := opRemoveTemplate
	if err := e.authorize(ctx, op, on(vwire.PermitDeleteTemplate, vwire.ObjTemplate, id)); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		tp, err := tx.Template(id)
		if err != nil {
			return err
		}
		if id == vwire.BlankTemplateID {
			return vwire.Fail(op, vwire.MsgBlankTemplate)
		}
		vms, err := tx.VMs(vwire.VMFilter{TemplateID: id})
		if err != nil {
			return err
		}
		var users []string
		for _, v := range vms {
			users = append(users, v.Name)
		}
		if len(users) > 0 {
			return vwire.Fail(op, vwire.MsgTemplateInUse, "names", strings.Join(users, ", "))
		}
		if err := deleteWith(tx, vwire.ObjTemplate, id, tx.DeleteTemplate); err != nil {
			return err
		}
		return newEvent(ctx, evTmplRemove, tmplVars(tp)...).write(tx)
	})
}

// TemplateNICs lists a template's vNICs.
func (e *Engine) TemplateNICs(ctx context.Context, templateID string) ([]*vwire.NIC, error) {
	var out []*vwire.NIC
	err := e.store.View(ctx, func(tx vwire.Tx) error {
		if _, err := tx.Template(templateID); err != nil {
			return err
		}
		if err := seeParent(ctx, tx, vwire.ObjTemplate, "Template", templateID); err != nil {
			return err
		}
		var err error
		out, err = tx.TemplateNICs(templateID)
		return err
	})
	return out, err
}

// checkTemplateNIC applies the vNIC rules that hold for a template: name,
// type, profile in the template's cluster, the cluster level's gates.
func checkTemplateNIC(tx vwire.Tx, op vwire.Op, tp *vwire.Template, n *vwire.NIC, others []*vwire.NIC) error {
	if tp.ID == vwire.BlankTemplateID {
		return vwire.Fail(op, vwire.MsgBlankTemplate)
	}
	if err := vwire.ValidateNICName(op, n.Name); err != nil {
		return err
	}
	for _, o := range others {
		if o.ID != n.ID && o.Name == n.Name {
			return vwire.Fail(op, vwire.MsgNetworkInterfaceNameAlreadyInUse)
		}
	}
	if err := vwire.ValidateNICInterface(op, n.Interface); err != nil {
		return err
	}
	cl, err := tx.Cluster(tp.ClusterID)
	if err != nil {
		return err
	}
	if err := resolveProfile(tx, op, &vmCtx{cluster: cl}, n); err != nil {
		return err
	}
	return vwire.ValidateLinking(op, n, cl.Version)
}

// AddTemplateNIC adds a vNIC to a template.
func (e *Engine) AddTemplateNIC(ctx context.Context, templateID string, s NICSpec) (*vwire.NIC, error) {
	op := vwire.OpAddNic
	if err := e.authorizeWith(ctx, op, nicNeeds(vwire.ObjTemplate, templateID, "", &s.ProfileID)); err != nil {
		return nil, err
	}
	if s.Interface == "" {
		s.Interface = vwire.IfaceVirtio
	}
	n := &vwire.NIC{ID: uuid.NewString(), VMID: templateID, Name: s.Name, Interface: s.Interface, ProfileID: s.ProfileID,
		Linked: boolOr(s.Linked, true), Plugged: boolOr(s.Plugged, true), Synced: true}
	err := e.store.Update(ctx, func(tx vwire.Tx) error {
		tp, err := tx.Template(templateID)
		if err != nil {
			return err
		}
		others, err := tx.TemplateNICs(templateID)
		if err != nil {
			return err
		}
		// A VM made from the template gets every vNIC: the template may
		// hold no more than a VM may.
		if len(others)+1 > vwire.MaxVMNICs {
			return vwire.Fail(op, vwire.MsgExceededMaxPCISlots)
		}
		if err := checkTemplateNIC(tx, op, tp, n, others); err != nil {
			return err
		}
		if err := tx.CreateTemplateNIC(n); err != nil {
			return err
		}
		return e.templateNICEvent(ctx, tx, evTmplNicAdd, tp, n, " ")
	})
	return n, err
}

func (e *Engine) templateNICEvent(ctx context.Context, tx vwire.Tx, t auditType, tp *vwire.Template, n *vwire.NIC, link string) error {
	ev := newEvent(ctx, t, append(tmplVars(tp), "LinkState", link)...).nic(n)
	ev.ev.TemplateID = tp.ID
	return ev.write(tx)
}

// UpdateTemplateNIC changes a template vNIC; a MAC does not apply.
func (e *Engine) UpdateTemplateNIC(ctx context.Context, templateID, nicID string, p vwire.NICPatch) (*vwire.NIC, error) {
	op := vwire.OpEditNic
	if err := e.authorizeWith(ctx, op, nicNeeds(vwire.ObjTemplate, templateID, nicID, p.ProfileID)); err != nil {
		return nil, err
	}
	var n vwire.NIC
	err := e.store.Update(ctx, func(tx vwire.Tx) error {
		tp, err := tx.Template(templateID)
		if err != nil {
			return err
		}
		nics, err := tx.TemplateNICs(templateID)
		if err != nil {
			return err
		}
		var old *vwire.NIC
		for _, x := range nics {
			if x.ID == nicID {
				old = x
			}
		}
		if old == nil {
			return vwire.NotFound("Nic", nicID)
		}
		p.MAC = nil
		n = p.Apply(*old)
		if err := checkTemplateNIC(tx, op, tp, &n, nics); err != nil {
			return err
		}
		if err := tx.UpdateTemplateNIC(&n); err != nil {
			return err
		}
		link := " "
		if n.Linked != old.Linked {
			link = evLinkDown
			if n.Linked {
				link = evLinkUp
			}
		}
		return e.templateNICEvent(ctx, tx, evTmplNicUpdate, tp, &n, link)
	})
	return &n, err
}

// RemoveTemplateNIC removes a template vNIC.
func (e *Engine) RemoveTemplateNIC(ctx context.Context, templateID, nicID string) error {
	if err := e.authorize(ctx, vwire.OpRemoveNic, on(vwire.PermitConfigureTemplateNetwork, vwire.ObjTemplate, templateID)); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		tp, err := tx.Template(templateID)
		if err != nil {
			return err
		}
		nics, err := tx.TemplateNICs(templateID)
		if err != nil {
			return err
		}
		for _, n := range nics {
			if n.ID == nicID {
				if err := tx.DeleteTemplateNIC(nicID); err != nil {
					return err
				}
				return e.templateNICEvent(ctx, tx, evTmplNicRemove, tp, n, " ")
			}
		}
		return vwire.NotFound("Nic", nicID)
	})
}

// copyTemplateNICs gives a new VM its template's vNICs with fresh MACs; a
// vNIC whose network the VM's cluster lacks is refused, naming both.
func copyTemplateNICs(tx vwire.Tx, op vwire.Op, vm *vwire.VM, cl *vwire.Cluster) error {
	tnics, err := tx.TemplateNICs(vm.TemplateID)
	if err != nil || len(tnics) == 0 {
		return err
	}
	pool, err := tx.MACPool(cl.MACPoolID)
	if err != nil {
		return err
	}
	cns, err := tx.ClusterNetworks(cl.ID)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, cn := range cns {
		have[cn.ID] = true
	}
	var missing []string
	for _, t := range tnics {
		if t.NetworkID != "" && !have[t.NetworkID] {
			missing = append(missing, t.Name+" ("+t.NetworkName+")")
		}
	}
	if len(missing) > 0 {
		return vwire.Fail(op, vwire.MsgNetworkNotInCluster, "networks", strings.Join(missing, ", "))
	}
	nics := make([]vwire.NIC, len(tnics))
	ids := make([]string, len(tnics))
	for i, t := range tnics {
		nics[i] = *t
		nics[i].ID, nics[i].VMID = uuid.NewString(), vm.ID
		ids[i] = nics[i].ID
		if err := vwire.ValidateLinking(op, &nics[i], cl.Version); err != nil {
			return namedNIC(err, t.Name)
		}
	}
	if len(nics) == 0 {
		return nil
	}
	// One search of the pool for all the vNICs' MACs.
	macs, err := tx.AllocateMACs(pool, ids)
	if err != nil {
		return poolExhausted(op, err)
	}
	for i := range nics {
		nics[i].MAC = macs[i].String()
		if err := tx.CreateNIC(&nics[i]); err != nil {
			return err
		}
	}
	return nil
}

// namedNIC adds the vNIC's name to a rule's message, so that a fault about
// several vNICs says which one is at fault.
func namedNIC(err error, name string) error {
	var ve *vwire.Error
	if errors.As(err, &ve) {
		return ve.ForNIC(name)
	}
	return err
}
