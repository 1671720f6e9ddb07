package engine

import (
	"context"

	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// A vNIC's network filter parameters (oVirt's networkfilterparameters):
// stored with the vNIC. Changing them needs the right to configure the
// VM's network, as changing the vNIC does.

// FilterParameters lists a vNIC's filter parameters.
func (e *Engine) FilterParameters(ctx context.Context, vmID, nicID string) ([]*vwire.FilterParameter, error) {
	if _, err := e.NIC(ctx, vmID, nicID); err != nil {
		return nil, err
	}
	var out []*vwire.FilterParameter
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		out, err = tx.FilterParameters(nicID)
		return err
	})
	return out, err
}

// FilterParameter reads one filter parameter of a vNIC.
func (e *Engine) FilterParameter(ctx context.Context, vmID, nicID, id string) (*vwire.FilterParameter, error) {
	if _, err := e.NIC(ctx, vmID, nicID); err != nil {
		return nil, err
	}
	var p *vwire.FilterParameter
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		p, err = parameterOf(tx, nicID, id)
		return err
	})
	return p, err
}

func parameterOf(tx vwire.Tx, nicID, id string) (*vwire.FilterParameter, error) {
	p, err := tx.FilterParameter(id)
	if err == nil && p.NICID != nicID {
		err = vwire.NotFound("NetworkFilterParameter", id)
	}
	return p, err
}

// AddFilterParameter adds a parameter to a vNIC's filter.
func (e *Engine) AddFilterParameter(ctx context.Context, vmID, nicID string, p *vwire.FilterParameter) error {
	op := vwire.OpEditNic
	p.ID, p.NICID = uuid.NewString(), nicID
	return e.changeFilterParameters(ctx, op, vmID, nicID, func(tx vwire.Tx, vm *vwire.VM, n *vwire.NIC) (*event, error) {
		if err := vwire.ValidateFilterParameter(op, p); err != nil {
			return nil, err
		}
		if err := tx.CreateFilterParameter(p); err != nil {
			return nil, err
		}
		return newEvent(ctx, evFilterParamAdd, "ParameterName", p.Name, "ParameterValue", p.Value).vm(vm).nic(n), nil
	})
}

// UpdateFilterParameter applies mutate to a parameter of a vNIC's filter.
func (e *Engine) UpdateFilterParameter(ctx context.Context, vmID, nicID, id string, mutate func(*vwire.FilterParameter)) (*vwire.FilterParameter, error) {
	op := vwire.OpEditNic
	var p *vwire.FilterParameter
	err := e.changeFilterParameters(ctx, op, vmID, nicID, func(tx vwire.Tx, vm *vwire.VM, n *vwire.NIC) (*event, error) {
		var err error
		if p, err = parameterOf(tx, nicID, id); err != nil {
			return nil, err
		}
		mutate(p)
		p.ID, p.NICID = id, nicID
		if err := vwire.ValidateFilterParameter(op, p); err != nil {
			return nil, err
		}
		if err := tx.UpdateFilterParameter(p); err != nil {
			return nil, err
		}
		return newEvent(ctx, evFilterParamUpdate, "ParameterName", p.Name, "ParameterValue", p.Value).vm(vm).nic(n), nil
	})
	return p, err
}

// RemoveFilterParameter removes a parameter of a vNIC's filter.
func (e *Engine) RemoveFilterParameter(ctx context.Context, vmID, nicID, id string) error {
	return e.changeFilterParameters(ctx, vwire.OpEditNic, vmID, nicID, func(tx vwire.Tx, vm *vwire.VM, n *vwire.NIC) (*event, error) {
		p, err := parameterOf(tx, nicID, id)
		if err != nil {
			return nil, err
		}
		if err := tx.DeleteFilterParameter(id); err != nil {
			return nil, err
		}
		return newEvent(ctx, evFilterParamRemove, "ParameterName", p.Name).vm(vm).nic(n), nil
	})
}

// changeFilterParameters checks the caller may configure the VM's network,
// then runs change and writes its event in one transaction.
func (e *Engine) changeFilterParameters(ctx context.Context, op vwire.Op, vmID, nicID string,
	change func(tx vwire.Tx, vm *vwire.VM, n *vwire.NIC) (*event, error)) error {
	if err := e.authorize(ctx, op, on(vwire.PermitConfigureVMNetwork, vwire.ObjVM, vmID)); err != nil {
		return err
	}
	err := e.store.Update(ctx, func(tx vwire.Tx) error {
		vm, err := tx.VM(vmID)
		if err != nil {
			return err
		}
		n, err := tx.NIC(nicID)
		if err == nil && n.VMID != vmID {
			err = vwire.NotFound("Nic", nicID)
		}
		if err != nil {
			return err
		}
		ev, err := change(tx, vm, n)
		if err != nil {
			return err
		}
		return ev.write(tx)
	})
	if err != nil {
		return err
	}
	// A running device takes the new parameters live (libvirt swaps its
	// filter binding); one that does not run gets them at its next start.
	e.applyFilterParams(ctx, op, vmID, nicID)
	return nil
}
