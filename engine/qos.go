package engine

import (
	"context"

	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// A data center's network QoS entities (oVirt's /datacenters/{id}/qoss of
// type network). oVirt authorizes every QoS command with the command's
// action group on the data center: CONFIGURE_STORAGE_POOL_NETWORK for
// AddNetworkQoS, UpdateNetworkQoS and RemoveNetworkQoS (ActionType), so a
// NetworkAdmin of the data center may change them. A change that alters
// what running vNICs must have (the limits of a QoS in use, its removal)
// is carried to them after it committed (fanOut).

// QoSs lists the QoS entities of a data center (which must exist and be
// visible), by name.
func (e *Engine) QoSs(ctx context.Context, dcID string) ([]*vwire.QoS, error) {
	var out []*vwire.QoS
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		if err := seeDataCenter(ctx, tx, dcID); err != nil {
			return err
		}
		out, err = tx.QoSs(dcID)
		return err
	})
	return out, err
}

// QoS reads one QoS entity of a data center; one of another data center
// is missing from this one, as oVirt's sub-resource answers.
func (e *Engine) QoS(ctx context.Context, dcID, id string) (*vwire.QoS, error) {
	var q *vwire.QoS
	err := e.view(ctx, func(tx vwire.Tx) (err error) {
		if err := seeDataCenter(ctx, tx, dcID); err != nil {
			return err
		}
		q, err = qosOf(tx, dcID, id)
		return err
	})
	return q, err
}

// seeDataCenter is the QoS collection's check: its data center exists and
// the caller may see it.
func seeDataCenter(ctx context.Context, tx vwire.Tx, dcID string) error {
	if _, err := tx.DataCenter(dcID); err != nil {
		return err
	}
	return seeParent(ctx, tx, vwire.ObjDataCenter, "DataCenter", dcID)
}

func qosOf(tx vwire.Tx, dcID, id string) (*vwire.QoS, error) {
	q, err := tx.QoS(id)
	if err == nil && q.DataCenterID != dcID {
		return nil, vwire.NotFound("QoS", id)
	}
	return q, err
}

// qosEvent is an audit event of a QoS entity, on its data center.
func qosEvent(ctx context.Context, t auditType, q *vwire.QoS) *event {
	ev := newEvent(ctx, t, "QosName", q.Name)
	ev.ev.DataCenterID = q.DataCenterID
	return ev
}

// AddQoS creates a network QoS entity in q.DataCenterID. A QoS without a
// type is a network QoS, the only kind vwire has.
func (e *Engine) AddQoS(ctx context.Context, q *vwire.QoS) error {
	op := vwire.OpAddQoS
	if err := e.authorize(ctx, op, on(vwire.PermitConfigureStoragePoolNetwork, vwire.ObjDataCenter, q.DataCenterID)); err != nil {
		return err
	}
	if q.Type == "" {
		q.Type = vwire.QoSNetwork
	}
	if err := vwire.ValidateQoS(op, q); err != nil {
		return err
	}
	q.ID = uuid.NewString()
	return e.store.Update(ctx, func(tx vwire.Tx) error {
		if _, err := tx.DataCenter(q.DataCenterID); vwire.ErrorCode(err) == vwire.ENOTFOUND {
			return vwire.Fail(op, vwire.MsgQoSStoragePoolNotExist)
		} else if err != nil {
			return err
		}
		if err := tx.CreateQoS(q); err != nil {
			return nameConflict(op, vwire.MsgQoSNameExist, err)
		}
		return qosEvent(ctx, evQoSAdd, q).write(tx)
	})
}

// UpdateQoS applies mutate to a stored QoS entity of a data center and
// writes it. The entity stays in its data center (oVirt refuses a move)
// and stays a network QoS. New limits reach the running vNICs of every
// profile using it.
func (e *Engine) UpdateQoS(ctx context.Context, dcID, id string, mutate func(*vwire.QoS) error) (*vwire.QoS, error) {
	op := vwire.OpUpdateQoS
	if err := e.authorize(ctx, op, on(vwire.PermitConfigureStoragePoolNetwork, vwire.ObjDataCenter, dcID)); err != nil {
		return nil, err
	}
	var q *vwire.QoS
	var profiles []string
	var changed bool
	err := e.store.Update(ctx, func(tx vwire.Tx) (err error) {
		if q, err = qosOf(tx, dcID, id); err != nil {
			return err
		}
		old := *q
		if err := mutate(q); err != nil {
			return err
		}
		if q.DataCenterID != old.DataCenterID {
			return vwire.Fail(op, vwire.MsgQoSStoragePoolNotConsistent)
		}
		q.ID = old.ID
		if q.Type == "" {
			q.Type = vwire.QoSNetwork
		}
		if err := vwire.ValidateQoS(op, q); err != nil {
			return err
		}
		if err := tx.UpdateQoS(q); err != nil {
			return nameConflict(op, vwire.MsgQoSNameExist, err)
		}
		if changed = q.Bandwidth() != old.Bandwidth(); changed {
			if profiles, err = tx.QoSProfiles(id); err != nil {
				return err
			}
		}
		return qosEvent(ctx, evQoSUpdate, q).write(tx)
	})
	if err != nil {
		return nil, err
	}
	if changed && len(profiles) > 0 {
		e.fanOut(ctx, op, profiles)
	}
	return q, nil
}

// RemoveQoS deletes a QoS entity of a data center. As in oVirt it is not
// refused while profiles use it: the database clears it from them (ON
// DELETE SET NULL), and their running vNICs lose the limit.
func (e *Engine) RemoveQoS(ctx context.Context, dcID, id string) error {
	op := vwire.OpRemoveQoS
	if err := e.authorize(ctx, op, on(vwire.PermitConfigureStoragePoolNetwork, vwire.ObjDataCenter, dcID)); err != nil {
		return err
	}
	var profiles []string
	err := e.store.Update(ctx, func(tx vwire.Tx) error {
		q, err := qosOf(tx, dcID, id)
		if err != nil {
			return err
		}
		// An unlimited QoS limits nothing, so removing it changes no vNIC.
		if !q.Bandwidth().IsZero() {
			if profiles, err = tx.QoSProfiles(id); err != nil {
				return err
			}
		}
		if err := tx.DeleteQoS(id); err != nil {
			return err
		}
		return qosEvent(ctx, evQoSRemove, q).write(tx)
	})
	if err == nil && len(profiles) > 0 {
		e.fanOut(ctx, op, profiles)
	}
	return err
}

// QoSDataCenters maps QoS ids to their data centers: a profile's qos
// reference is /datacenters/{dc}/qoss/{id}, as oVirt renders it. It is
// asked for the QoS of profiles the caller was shown, and tells nothing
// but the data center's id (the profile's network's, by the profile rule);
// an unknown id is left out.
func (e *Engine) QoSDataCenters(ctx context.Context, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	err := e.view(ctx, func(tx vwire.Tx) error {
		for _, id := range ids {
			if _, done := out[id]; done {
				continue
			}
			q, err := tx.QoS(id)
			if vwire.ErrorCode(err) == vwire.ENOTFOUND {
				continue
			} else if err != nil {
				return err
			}
			out[id] = q.DataCenterID
		}
		return nil
	})
	return out, err
}
