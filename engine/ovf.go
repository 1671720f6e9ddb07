package engine

import (
	"context"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"vwire.dev/vwire"
	"vwire.dev/vwire/ovf"
)

// Export and import in oVirt's OVF carry every vNIC attribute: name, type,
// MAC (VMs only), network and profile (or none), linked and plugged.

var (
	opImportVM       = vwire.Op{Action: "import", Type: "VM"}
	opImportTemplate = vwire.Op{Action: "import", Type: "Template"}
)

func ovfNIC(n *vwire.NIC) ovf.NIC {
	return ovf.NIC{ID: n.ID, Name: n.Name, MAC: n.MAC, Interface: string(n.Interface), Network: n.NetworkName,
		Profile: n.ProfileName, Linked: n.Linked, Plugged: n.Plugged}
}

// ExportVM renders a VM and its vNICs as OVF.
func (e *Engine) ExportVM(ctx context.Context, id string) ([]byte, error) {
	if err := e.authorize(ctx, vwire.Op{Action: "export", Type: "VM"}, on(vwire.PermitImportExportVM, vwire.ObjVM, id)); err != nil {
		return nil, err
	}
	var doc *ovf.VM
	err := e.store.View(ctx, func(tx vwire.Tx) error {
		vm, err := tx.VM(id)
		if err != nil {
			return err
		}
		cl, err := tx.Cluster(vm.ClusterID)
		if err != nil {
			return err
		}
		doc = &ovf.VM{ID: vm.ID, Name: vm.Name, Description: vm.Description, TemplateID: vm.TemplateID,
			ClusterVersion: cl.Version.String(), MemoryMiB: vm.Memory >> 20, OSType: vm.OSType}
		if tp, err := tx.Template(vm.TemplateID); err == nil {
			doc.TemplateName = tp.Name
		}
		nics, err := tx.NICs(id)
		for _, n := range nics {
			doc.NICs = append(doc.NICs, ovfNIC(n))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return ovf.Write(doc)
}

// ExportTemplate renders a template and its vNICs as OVF.
func (e *Engine) ExportTemplate(ctx context.Context, id string) ([]byte, error) {
	if err := e.authorize(ctx, vwire.Op{Action: "export", Type: "Template"}, on(vwire.PermitEditTemplateProperties, vwire.ObjTemplate, id)); err != nil {
		return nil, err
	}
	var doc *ovf.VM
	err := e.store.View(ctx, func(tx vwire.Tx) error {
		tp, err := tx.Template(id)
		if err != nil {
			return err
		}
		doc = &ovf.VM{ID: tp.ID, Name: tp.Name, Description: tp.Description, Template: true, MemoryMiB: tp.Memory >> 20, OSType: tp.OSType}
		if tp.ClusterID != "" {
			if cl, err := tx.Cluster(tp.ClusterID); err == nil {
				doc.ClusterVersion = cl.Version.String()
			}
		}
		nics, err := tx.TemplateNICs(id)
		for _, n := range nics {
			doc.NICs = append(doc.NICs, ovfNIC(n))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return ovf.Write(doc)
}

// ImportOptions steer an OVF import.
type ImportOptions struct {
	ClusterID string
	// Name replaces the OVF's name (a copy next to its original needs one).
	Name string
	// RegenerateIDs gives the VM and its vNICs new ids (oVirt's regenerate_ids).
	RegenerateIDs bool
	// ReassignBadMACs gives a vNIC whose MAC is taken a new one from the pool
	// (oVirt's reassign_bad_macs, on by default); off, such an import is refused.
	ReassignBadMACs bool
	// EmptyMissingNetworks puts vNICs whose network the cluster lacks on the
	// empty network; off, such an import is refused naming them.
	EmptyMissingNetworks bool
}

func badOVF(op vwire.Op, err error) error {
	return vwire.Fail(op, vwire.MsgOVFInvalid, "why", err.Error())
}

// importNICs maps the OVF's vNICs onto the target cluster: network by name,
// profile by name on it (else the network's own), the level's gates.
func importNICs(tx vwire.Tx, op vwire.Op, cl *vwire.Cluster, doc *ovf.VM, o ImportOptions) ([]*vwire.NIC, error) {
	cns, err := tx.ClusterNetworks(cl.ID)
	if err != nil {
		return nil, err
	}
	profiles, err := tx.Profiles(vwire.ProfileFilter{})
	if err != nil {
		return nil, err
	}
	// A document may list any number of vNICs; a VM may not have more
	// than its PCI bus holds.
	if len(doc.NICs) > vwire.MaxVMNICs {
		return nil, badOVF(op, errString("the OVF has "+strconv.Itoa(len(doc.NICs))+" vNICs; a VM may have at most "+strconv.Itoa(vwire.MaxVMNICs)))
	}
	var missing []string
	var out []*vwire.NIC
	names := map[string]bool{}
	for _, x := range doc.NICs {
		t, ok := vwire.ParseNICInterface(x.Interface)
		if !ok {
			return nil, badOVF(op, errString("vNIC "+x.Name+" has an unknown type "+x.Interface))
		}
		n := &vwire.NIC{ID: x.ID, Name: x.Name, MAC: x.MAC, Interface: t, Linked: x.Linked, Plugged: x.Plugged, Synced: true}
		if err := vwire.ValidateNICName(op, n.Name); err != nil {
			return nil, namedNIC(err, n.Name)
		}
		if names[n.Name] {
			return nil, namedNIC(vwire.Fail(op, vwire.MsgNetworkInterfaceNameAlreadyInUse), n.Name)
		}
		names[n.Name] = true
		if err := vwire.ValidateNICInterface(op, t); err != nil {
			return nil, namedNIC(err, n.Name)
		}
		if x.Network != "" {
			var net *vwire.ClusterNetwork
			for _, cn := range cns {
				if cn.Name == x.Network {
					net = cn
				}
			}
			if net == nil {
				if !o.EmptyMissingNetworks {
					missing = append(missing, n.Name+" ("+x.Network+")")
					continue
				}
			} else {
				for _, p := range profiles {
					if p.NetworkID == net.ID && (p.Name == x.Profile || (n.ProfileID == "" && p.Name == net.Name)) {
						n.ProfileID, n.ProfileName = p.ID, p.Name
					}
				}
				if n.ProfileID == "" {
					for _, p := range profiles {
						if p.NetworkID == net.ID {
							n.ProfileID, n.ProfileName = p.ID, p.Name
							break
						}
					}
				}
				n.NetworkID, n.NetworkName = net.ID, net.Name
			}
		}
		if err := vwire.ValidateLinking(op, n, cl.Version); err != nil {
			return nil, namedNIC(err, n.Name)
		}
		out = append(out, n)
	}
	if len(missing) > 0 {
		return nil, vwire.Fail(op, vwire.MsgOVFNetworksMissing, "networks", strings.Join(missing, ", "))
	}
	return out, nil
}

// ovfMemory is the document's memory in bytes, 0 when it gives none. The
// size is checked in MiB, before the shift that would wrap it, against the
// bounds a VM added through the API has.
func ovfMemory(op vwire.Op, doc *ovf.VM) (int64, error) {
	if doc.MemoryMiB == 0 {
		return 0, nil
	}
	if doc.MemoryMiB < 0 || doc.MemoryMiB > vwire.MaxMemory>>20 {
		return 0, vwire.ValidateMemory(op, vwire.MaxMemory+1) // out of range: its message
	}
	bytes := doc.MemoryMiB << 20
	return bytes, vwire.ValidateMemory(op, bytes)
}

type errString string

func (e errString) Error() string { return string(e) }

// ImportVM creates a VM from an OVF, keeping each vNIC's MAC when it is free.
func (e *Engine) ImportVM(ctx context.Context, data []byte, o ImportOptions) (*vwire.VM, error) {
	op := opImportVM
	if err := e.authorize(ctx, op, on(vwire.PermitImportExportVM, vwire.ObjCluster, o.ClusterID)); err != nil {
		return nil, err
	}
	doc, err := ovf.Read(data)
	if err != nil {
		return nil, badOVF(op, err)
	}
	if doc.Template {
		return nil, badOVF(op, errString("the OVF describes a template; import it through /templates"))
	}
	if o.Name != "" {
		doc.Name = o.Name
	}
	if err := validateVMName(op, doc.Name); err != nil {
		return nil, err
	}
	memory, err := ovfMemory(op, doc)
	if err != nil {
		return nil, err
	}
	vm := &vwire.VM{ID: doc.ID, Name: doc.Name, Description: doc.Description, ClusterID: o.ClusterID, TemplateID: vwire.BlankTemplateID,
		Status: vwire.VMDown, Memory: memory, CPU: vwire.DefaultCPU, OSType: doc.OSType, CreatedAt: e.now()}
	if _, err := uuid.Parse(vm.ID); err != nil || o.RegenerateIDs {
		vm.ID = uuid.NewString()
	}
	var reassigned [][3]string
	err = e.store.Update(ctx, func(tx vwire.Tx) error {
		reassigned = nil
		cl, err := tx.Cluster(o.ClusterID)
		if vwire.ErrorCode(err) == vwire.ENOTFOUND {
			return vwire.Fail(op, vwire.MsgClusterCanNotBeEmpty)
		} else if err != nil {
			return err
		}
		if _, err := tx.VM(vm.ID); err == nil {
			return vwire.Fail(op, vwire.MsgOVFIDExists, "what", "VM", "id", vm.ID)
		}
		if _, err := tx.Template(doc.TemplateID); err == nil {
			vm.TemplateID = doc.TemplateID
		}
		if vm.Memory == 0 {
			vm.Memory = 1 << 30
		}
		if vm.OSType == "" {
			vm.OSType = "other"
		}
		nics, err := importNICs(tx, op, cl, doc, o)
		if err != nil {
			return err
		}
		pool, err := tx.MACPool(cl.MACPoolID)
		if err != nil {
			return err
		}
		if err := tx.CreateVM(vm); err != nil {
			if vwire.ErrorCode(err) == vwire.ECONFLICT {
				return vwire.Fail(op, vwire.MsgNameAlreadyUsed)
			}
			return err
		}
		for _, n := range nics {
			if _, err := uuid.Parse(n.ID); err != nil || o.RegenerateIDs {
				n.ID = uuid.NewString()
			}
			n.VMID = vm.ID
			mac, err := vwire.ValidateMAC(op, n.MAC, true)
			if err != nil {
				return namedNIC(err, n.Name)
			}
			n.MAC, err = leaseMAC(tx, op, pool, mac, n.ID)
			if vwire.IsKey(err, vwire.MsgNetworkMACAddressInUse) && o.ReassignBadMACs {
				if n.MAC, err = leaseMAC(tx, op, pool, "", n.ID); err == nil {
					reassigned = append(reassigned, [3]string{n.Name, mac, n.MAC})
				}
			}
			if err != nil {
				return err
			}
			if err := tx.CreateNIC(n); err != nil {
				return err
			}
		}
		for _, r := range reassigned {
			if err := newEvent(ctx, evMacReassigned, "IfaceName", r[0], "MACAddr", r[1], "NewMACAddr", r[2]).vm(vm).write(tx); err != nil {
				return err
			}
		}
		return newEvent(ctx, evVMImport, "ClusterName", cl.Name).vm(vm).write(tx)
	})
	if err != nil {
		return nil, err
	}
	return vm, nil
}

// ImportTemplate creates a template from an OVF.
func (e *Engine) ImportTemplate(ctx context.Context, data []byte, o ImportOptions) (*vwire.Template, error) {
	op := opImportTemplate
	if err := e.authorize(ctx, op, on(vwire.PermitCreateTemplate, vwire.ObjCluster, o.ClusterID)); err != nil {
		return nil, err
	}
	doc, err := ovf.Read(data)
	if err != nil {
		return nil, badOVF(op, err)
	}
	if o.Name != "" {
		doc.Name = o.Name
	}
	if err := vwire.ValidateName(op, doc.Name, 64, true); err != nil {
		return nil, err
	}
	memory, err := ovfMemory(op, doc)
	if err != nil {
		return nil, err
	}
	tp := &vwire.Template{ID: doc.ID, Name: doc.Name, Description: doc.Description, ClusterID: o.ClusterID,
		Memory: memory, CPU: vwire.DefaultCPU, OSType: doc.OSType, CreatedAt: e.now()}
	if _, err := uuid.Parse(tp.ID); err != nil || o.RegenerateIDs || tp.ID == vwire.BlankTemplateID {
		tp.ID = uuid.NewString()
	}
	err = e.store.Update(ctx, func(tx vwire.Tx) error {
		cl, err := tx.Cluster(o.ClusterID)
		if vwire.ErrorCode(err) == vwire.ENOTFOUND {
			return vwire.Fail(op, vwire.MsgClusterCanNotBeEmpty)
		} else if err != nil {
			return err
		}
		if _, err := tx.Template(tp.ID); err == nil {
			return vwire.Fail(op, vwire.MsgOVFIDExists, "what", "template", "id", tp.ID)
		}
		if tp.Memory == 0 {
			tp.Memory = 1 << 30
		}
		if tp.OSType == "" {
			tp.OSType = "other"
		}
		nics, err := importNICs(tx, op, cl, doc, o)
		if err != nil {
			return err
		}
		if err := tx.CreateTemplate(tp); err != nil {
			return nameConflict(op, vwire.MsgNameAlreadyUsed, err)
		}
		for _, n := range nics {
			if _, err := uuid.Parse(n.ID); err != nil || o.RegenerateIDs {
				n.ID = uuid.NewString()
			}
			n.VMID, n.MAC = tp.ID, ""
			if err := tx.CreateTemplateNIC(n); err != nil {
				return err
			}
		}
		ev := newEvent(ctx, evTmplImport, "VmTemplateName", tp.Name, "ClusterName", cl.Name)
		ev.ev.TemplateID = tp.ID
		return ev.write(tx)
	})
	if err != nil {
		return nil, err
	}
	return tp, nil
}
