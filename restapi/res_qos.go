package restapi

import (
	"fmt"
	"net/http"
	"slices"

	"vwire.dev/vwire"
)

// ---- network QoS entities: /datacenters/{id}/qoss (oVirt's Qos type,
// QosMapper's network fields)

// qosTypes are the values of oVirt's QosType; vwire has network only, and
// the engine refuses the others with its own message (a valid oVirt
// request, which vwire does not serve), not as a malformed value.
var qosTypes = []string{"storage", "cpu", "network", "hostnetwork"}

func (q *request) qosNode(x *vwire.QoS) *node {
	n := &node{name: "qos", href: q.href("datacenters", x.DataCenterID, "qoss", x.ID), id: x.ID}
	n.add(str("name", x.Name), optStr("description", x.Description), str("type", string(x.Type)),
		ref("data_center", q.href("datacenters", x.DataCenterID), x.DataCenterID))
	// An unlimited direction has no values: oVirt stores and renders null.
	for _, d := range []struct {
		prefix string
		r      vwire.Rate
	}{{"inbound", x.Inbound}, {"outbound", x.Outbound}} {
		if !d.r.IsZero() {
			n.add(integer(d.prefix+"_average", int64(d.r.Average)), integer(d.prefix+"_peak", int64(d.r.Peak)),
				integer(d.prefix+"_burst", int64(d.r.Burst)))
		}
	}
	return n
}

// applyQoS merges a body into a QoS: each value given replaces the stored
// one, and -1 clears it (oVirt's IntegerMapper.mapMinusOneToNull). A type
// or data center given goes to the engine, which refuses a change of
// either.
func applyQoS(b *in, x *vwire.QoS) error {
	if v := b.strp("name"); v != nil {
		x.Name = *v
	}
	if v := b.strp("description"); v != nil {
		x.Description = *v
	}
	if v, ok := b.str("type"); ok {
		if !slices.Contains(qosTypes, v) {
			return vwire.InvalidValue(vwire.MsgInvalidEnum, fmt.Sprintf("Invalid value '%s' for field 'type'. Possible values: %v", v, qosTypes))
		}
		x.Type = vwire.QoSType(v)
	}
	if id, _, ok := b.ref("data_center"); ok && id != "" {
		x.DataCenterID = id
	}
	for _, f := range []struct {
		name string
		dst  *int
	}{
		{"inbound_average", &x.Inbound.Average}, {"inbound_peak", &x.Inbound.Peak}, {"inbound_burst", &x.Inbound.Burst},
		{"outbound_average", &x.Outbound.Average}, {"outbound_peak", &x.Outbound.Peak}, {"outbound_burst", &x.Outbound.Burst},
	} {
		v, err := b.intp(f.name, minInt32, maxInt32)
		if err != nil {
			return err
		}
		switch {
		case v == nil:
		case *v == -1:
			*f.dst = 0
		default:
			*f.dst = int(*v)
		}
	}
	return nil
}

func (s *Server) listQoSs(q *request) error {
	qs, err := s.eng.QoSs(q.ctx(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	q.write(http.StatusOK, render("qoss", qs, q.qosNode))
	return nil
}

// addQoS is oVirt's BackendQossResource.add: name and type are required,
// the data center is the path's.
func (s *Server) addQoS(q *request) error {
	dcID := q.r.PathValue("id")
	if _, err := s.eng.DataCenter(q.ctx(), dcID); err != nil {
		return err
	}
	b, err := q.body()
	if err != nil {
		return err
	}
	var missing []string
	for _, f := range []string{"name", "type"} {
		if _, ok := b.str(f); !ok {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return vwire.Incomplete("Qos", missing, "add")
	}
	x := &vwire.QoS{DataCenterID: dcID}
	if err := applyQoS(b, x); err != nil {
		return err
	}
	// The path names the data center; a body naming another is refused
	// as a move would be.
	if x.DataCenterID != dcID {
		return vwire.Fail(vwire.OpAddQoS, vwire.MsgQoSStoragePoolNotConsistent)
	}
	if err := s.eng.AddQoS(q.ctx(), x); err != nil {
		return err
	}
	q.created(q.qosNode(x))
	return nil
}

func (s *Server) getQoS(q *request) error {
	x, err := s.eng.QoS(q.ctx(), q.r.PathValue("id"), q.r.PathValue("qid"))
	if err != nil {
		return err
	}
	q.write(http.StatusOK, q.qosNode(x))
	return nil
}

func (s *Server) updateQoS(q *request) error {
	b, err := q.body()
	if err != nil {
		return err
	}
	x, err := s.eng.UpdateQoS(q.ctx(), q.r.PathValue("id"), q.r.PathValue("qid"), func(x *vwire.QoS) error { return applyQoS(b, x) })
	if err != nil {
		return err
	}
	q.write(http.StatusOK, q.qosNode(x))
	return nil
}

func (s *Server) removeQoS(q *request) error {
	if err := s.eng.RemoveQoS(q.ctx(), q.r.PathValue("id"), q.r.PathValue("qid")); err != nil {
		return err
	}
	q.done()
	return nil
}
