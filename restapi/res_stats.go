package restapi

import (
	"net/http"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
)

// A vNIC's statistics (oVirt's NicStatisticalQuery names, kinds and
// units), read from its host when asked; a VM's NUMA nodes and the devices
// its guest reports, which vwire's VMs do not have: empty collections, as
// oVirt shows a VM without NUMA pinning and without a guest agent.

type statDef struct {
	name, description, kind, typ, unit string
	value                              func(s *engine.NICStatistics) float64
}

var nicStatDefs = []statDef{
	{"data.current.rx", "Receive data rate", "gauge", "decimal", "bytes_per_second", func(s *engine.NICStatistics) float64 { return s.RxRate }},
	{"data.current.tx", "Transmit data rate", "gauge", "decimal", "bytes_per_second", func(s *engine.NICStatistics) float64 { return s.TxRate }},
	{"data.current.rx.bps", "Receive data rate", "gauge", "decimal", "bits_per_second", func(s *engine.NICStatistics) float64 { return 8 * s.RxRate }},
	{"data.current.tx.bps", "Transmit data rate", "gauge", "decimal", "bits_per_second", func(s *engine.NICStatistics) float64 { return 8 * s.TxRate }},
	{"errors.total.rx", "Total receive errors", "counter", "integer", "none", func(s *engine.NICStatistics) float64 { return float64(s.Counters.RxErrors) }},
	{"errors.total.tx", "Total transmit errors", "counter", "integer", "none", func(s *engine.NICStatistics) float64 { return float64(s.Counters.TxErrors) }},
	{"data.total.rx", "Total received data", "counter", "integer", "bytes", func(s *engine.NICStatistics) float64 { return float64(s.Counters.RxBytes) }},
	{"data.total.tx", "Total transmitted data", "counter", "integer", "bytes", func(s *engine.NICStatistics) float64 { return float64(s.Counters.TxBytes) }},
	// vwire's own, from the same reading: oVirt has no packet or drop counts.
	{"packets.total.rx", "Total received packets", "counter", "integer", "none", func(s *engine.NICStatistics) float64 { return float64(s.Counters.RxPackets) }},
	{"packets.total.tx", "Total transmitted packets", "counter", "integer", "none", func(s *engine.NICStatistics) float64 { return float64(s.Counters.TxPackets) }},
	{"drops.total.rx", "Total received packets dropped", "counter", "integer", "none", func(s *engine.NICStatistics) float64 { return float64(s.Counters.RxDrops) }},
	{"drops.total.tx", "Total transmitted packets dropped", "counter", "integer", "none", func(s *engine.NICStatistics) float64 { return float64(s.Counters.TxDrops) }},
}

// statisticNode is one statistic; its id is oVirt's name-based UUID of its
// name, the same on every engine and every vNIC.
func (q *request) statisticNode(d statDef, st *engine.NICStatistics, vmID, nicID string) *node {
	id := vwire.NameUUID(d.name)
	n := &node{name: "statistic", href: q.href("vms", vmID, "nics", nicID, "statistics", id), id: id}
	nic := ref("nic", q.href("vms", vmID, "nics", nicID), nicID)
	nic.add(ref("vm", q.href("vms", vmID), vmID))
	return n.add(str("name", d.name), str("description", d.description), str("kind", d.kind), str("type", d.typ),
		str("unit", d.unit), el("values", item(el("value", decimal("datum", d.value(st))))), nic)
}

func (s *Server) nicStatistics(q *request) error {
	vmID, nicID := q.r.PathValue("id"), q.r.PathValue("nid")
	st, err := s.eng.NICStatistics(q.ctx(), vmID, nicID)
	if err != nil {
		return err
	}
	out := el("statistics")
	for _, d := range nicStatDefs {
		out.add(item(q.statisticNode(d, st, vmID, nicID)))
	}
	q.write(http.StatusOK, out)
	return nil
}

func (s *Server) nicStatistic(q *request) error {
	vmID, nicID, sid := q.r.PathValue("id"), q.r.PathValue("nid"), q.r.PathValue("sid")
	for _, d := range nicStatDefs {
		if vwire.NameUUID(d.name) != sid {
			continue
		}
		st, err := s.eng.NICStatistics(q.ctx(), vmID, nicID)
		if err != nil {
			return err
		}
		q.write(http.StatusOK, q.statisticNode(d, st, vmID, nicID))
		return nil
	}
	if _, err := s.eng.NIC(q.ctx(), vmID, nicID); err != nil {
		return err
	}
	return vwire.NotFound("Statistic", sid)
}

// emptyOfVM answers an empty collection of a VM the caller may see.
func (s *Server) emptyOfVM(collection, kind string) (list, one handler) {
	list = func(q *request) error {
		if _, err := s.eng.VM(q.ctx(), q.r.PathValue("id")); err != nil {
			return err
		}
		q.write(http.StatusOK, el(collection))
		return nil
	}
	one = func(q *request) error {
		if _, err := s.eng.VM(q.ctx(), q.r.PathValue("id")); err != nil {
			return err
		}
		return vwire.NotFound(kind, q.r.PathValue("sid"))
	}
	return list, one
}

// emptyOfNIC answers an empty collection of a vNIC the caller may see.
func (s *Server) emptyOfNIC(collection, kind string) (list, one handler) {
	list = func(q *request) error {
		if _, err := s.eng.NIC(q.ctx(), q.r.PathValue("id"), q.r.PathValue("nid")); err != nil {
			return err
		}
		q.write(http.StatusOK, el(collection))
		return nil
	}
	one = func(q *request) error {
		if _, err := s.eng.NIC(q.ctx(), q.r.PathValue("id"), q.r.PathValue("nid")); err != nil {
			return err
		}
		return vwire.NotFound(kind, q.r.PathValue("sid"))
	}
	return list, one
}
