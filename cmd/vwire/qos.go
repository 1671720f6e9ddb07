package main

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
	"github.com/spf13/cobra"
)

// Network QoS entities of a data center (oVirt's qoss of type network):
// inbound and outbound average and peak in Mbit/s, burst in MB.

type qosJSON struct {
	ID              string   `json:"id"`
	Name            string   `json:"name"`
	Description     string   `json:"description,omitempty"`
	Type            string   `json:"type,omitempty"`
	DataCenter      *refJSON `json:"data_center,omitempty"`
	InboundAverage  string   `json:"inbound_average,omitempty"`
	InboundPeak     string   `json:"inbound_peak,omitempty"`
	InboundBurst    string   `json:"inbound_burst,omitempty"`
	OutboundAverage string   `json:"outbound_average,omitempty"`
	OutboundPeak    string   `json:"outbound_peak,omitempty"`
	OutboundBurst   string   `json:"outbound_burst,omitempty"`
}

func intText(v int64, ok bool) string {
	if !ok {
		return ""
	}
	return strconv.FormatInt(v, 10)
}

func qosView(q *ovirtsdk4.Qos) qosJSON {
	out := qosJSON{ID: q.MustId()}
	out.Name, _ = q.Name()
	out.Description, _ = q.Description()
	if t, ok := q.Type(); ok {
		out.Type = string(t)
	}
	if d, ok := q.DataCenter(); ok {
		out.DataCenter = ref(d.Id())
	}
	out.InboundAverage, out.InboundPeak, out.InboundBurst = intText(q.InboundAverage()), intText(q.InboundPeak()), intText(q.InboundBurst())
	out.OutboundAverage, out.OutboundPeak, out.OutboundBurst = intText(q.OutboundAverage()), intText(q.OutboundPeak()), intText(q.OutboundBurst())
	return out
}

// rateText is a direction in a table: average/peak Mbit/s, burst MB.
func rateText(avg, peak, burst string) string {
	if avg == "" && peak == "" && burst == "" {
		return "unlimited"
	}
	return fmt.Sprintf("%s/%s Mbps, %s MB", dash(avg), dash(peak), dash(burst))
}

// qosFlags are the values a QoS command may set; only the flags given are
// sent (oVirt's merge on PUT).
type qosFlags struct {
	dc, name, desc        string
	in, out               [3]int64 // average, peak, burst
	inNames, outNames     [3]string
	noInbound, noOutbound bool
}

func (f *qosFlags) register(cmd *cobra.Command, update bool) {
	cmd.Flags().StringVar(&f.dc, "datacenter", "Default", "the data center (name or id)")
	cmd.Flags().StringVar(&f.dc, "dc", "Default", "the data center (same as --datacenter)")
	cmd.Flags().StringVar(&f.desc, "description", "", "a description")
	for i, part := range []string{"average", "peak", "burst"} {
		unit := "Mbit/s"
		if part == "burst" {
			unit = "MB"
		}
		f.inNames[i], f.outNames[i] = "inbound-"+part, "outbound-"+part
		cmd.Flags().Int64Var(&f.in[i], f.inNames[i], 0, "what the guest receives: "+part+" ("+unit+")")
		cmd.Flags().Int64Var(&f.out[i], f.outNames[i], 0, "what the guest sends: "+part+" ("+unit+")")
	}
	if update {
		cmd.Flags().StringVar(&f.name, "name", "", "a new name")
		cmd.Flags().BoolVar(&f.noInbound, "no-inbound", false, "no inbound limit")
		cmd.Flags().BoolVar(&f.noOutbound, "no-outbound", false, "no outbound limit")
	}
}

// build makes the SDK's Qos of the flags given: -1 clears a value.
func (f *qosFlags) build(cmd *cobra.Command, b *ovirtsdk4.QosBuilder) (*ovirtsdk4.Qos, error) {
	if f.noInbound && anyChanged(cmd, f.inNames[:]...) || f.noOutbound && anyChanged(cmd, f.outNames[:]...) {
		return nil, usageErr("--no-inbound and --no-outbound take no values of their direction")
	}
	if cmd.Flags().Changed("description") {
		b.Description(f.desc)
	}
	if f.name != "" {
		b.Name(f.name)
	}
	in, out := f.in, f.out
	if f.noInbound {
		in = [3]int64{-1, -1, -1}
	}
	if f.noOutbound {
		out = [3]int64{-1, -1, -1}
	}
	set := func(name string, v int64, clear bool, fn func(int64) *ovirtsdk4.QosBuilder) {
		if clear || cmd.Flags().Changed(name) {
			fn(v)
		}
	}
	set(f.inNames[0], in[0], f.noInbound, b.InboundAverage)
	set(f.inNames[1], in[1], f.noInbound, b.InboundPeak)
	set(f.inNames[2], in[2], f.noInbound, b.InboundBurst)
	set(f.outNames[0], out[0], f.noOutbound, b.OutboundAverage)
	set(f.outNames[1], out[1], f.noOutbound, b.OutboundPeak)
	set(f.outNames[2], out[2], f.noOutbound, b.OutboundBurst)
	return b.Build()
}

func anyChanged(cmd *cobra.Command, names ...string) bool {
	for _, n := range names {
		if cmd.Flags().Changed(n) {
			return true
		}
	}
	return false
}

func (s *session) qosCmds() []*cobra.Command {
	qos := group("qos", "list, show, add, update or remove a data center's network QoS", "qos list|show|add|update|remove …")
	var lf qosFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "list a data center's network QoS",
		Args:  nargs(0),
		RunE: s.do(func(k *cli, _ []string) error {
			dc, err := k.find("datacenters", "data center", lf.dc)
			if err != nil {
				return err
			}
			qs, err := k.c.QoSs(k.ctx, dc.ID)
			if err != nil {
				return err
			}
			views := make([]qosJSON, 0, len(qs))
			for _, q := range qs {
				views = append(views, qosView(q))
			}
			return k.print(views, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "NAME\tINBOUND\tOUTBOUND\tID\tDESCRIPTION")
				for _, v := range views {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", v.Name, rateText(v.InboundAverage, v.InboundPeak, v.InboundBurst),
						rateText(v.OutboundAverage, v.OutboundPeak, v.OutboundBurst), v.ID, v.Description)
				}
			})
		}),
	}
	list.Flags().StringVar(&lf.dc, "datacenter", "Default", "the data center (name or id)")
	list.Flags().StringVar(&lf.dc, "dc", "Default", "the data center (same as --datacenter)")
	s.completeFlag(list, "datacenter", "datacenters")

	var sf qosFlags
	show := &cobra.Command{
		Use:               "show QOS",
		Short:             "a network QoS's limits",
		Args:              nargs(1),
		ValidArgsFunction: s.completeQoS(&sf.dc),
		RunE: s.do(func(k *cli, a []string) error {
			q, dcName, err := k.findQoS(sf.dc, a[0])
			if err != nil {
				return err
			}
			v := qosView(q)
			return k.print(v, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "Name:\t%s\nID:\t%s\nData center:\t%s\nInbound:\t%s\nOutbound:\t%s\nDescription:\t%s\n",
					v.Name, v.ID, dcName, rateText(v.InboundAverage, v.InboundPeak, v.InboundBurst),
					rateText(v.OutboundAverage, v.OutboundPeak, v.OutboundBurst), dash(v.Description))
			})
		}),
	}
	show.Flags().StringVar(&sf.dc, "datacenter", "Default", "the data center (name or id)")
	show.Flags().StringVar(&sf.dc, "dc", "Default", "the data center (same as --datacenter)")
	s.completeFlag(show, "datacenter", "datacenters")

	var af qosFlags
	var add *cobra.Command
	add = &cobra.Command{
		Use:   "add NAME",
		Short: "add a network QoS to a data center (a direction: all three values, or none)",
		Args:  nargs(1),
		RunE: s.do(func(k *cli, a []string) error {
			dc, err := k.find("datacenters", "data center", af.dc)
			if err != nil {
				return err
			}
			q, err := af.build(add, ovirtsdk4.NewQosBuilder().Name(a[0]).Type(ovirtsdk4.QOSTYPE_NETWORK))
			if err != nil {
				return err
			}
			if q, err = k.c.AddQoS(k.ctx, dc.ID, q); err != nil {
				return err
			}
			v := qosView(q)
			return k.done(v, "QoS %s added to data center %s (id %s)", v.Name, dc.Name, v.ID)
		}),
	}
	af.register(add, false)
	s.completeFlag(add, "datacenter", "datacenters")

	var uf qosFlags
	var update *cobra.Command
	update = &cobra.Command{
		Use:               "update QOS",
		Short:             "change a network QoS; running vNICs of its profiles follow",
		Args:              nargs(1),
		ValidArgsFunction: s.completeQoS(&uf.dc),
		RunE: s.do(func(k *cli, a []string) error {
			old, _, err := k.findQoS(uf.dc, a[0])
			if err != nil {
				return err
			}
			dcRef, _ := old.DataCenter()
			q, err := uf.build(update, ovirtsdk4.NewQosBuilder())
			if err != nil {
				return err
			}
			if q, err = k.c.UpdateQoS(k.ctx, dcRef.MustId(), old.MustId(), q); err != nil {
				return err
			}
			v := qosView(q)
			return k.done(v, "QoS %s updated", v.Name)
		}),
	}
	uf.register(update, true)
	s.completeFlag(update, "datacenter", "datacenters")

	var rf qosFlags
	remove := &cobra.Command{
		Use:               "remove QOS",
		Short:             "remove a network QoS (its profiles keep no QoS)",
		Args:              nargs(1),
		ValidArgsFunction: s.completeQoS(&rf.dc),
		RunE: s.do(func(k *cli, a []string) error {
			q, _, err := k.findQoS(rf.dc, a[0])
			if err != nil {
				return err
			}
			dcRef, _ := q.DataCenter()
			if err := k.c.RemoveQoS(k.ctx, dcRef.MustId(), q.MustId()); err != nil {
				return err
			}
			name, _ := q.Name()
			return k.done(removed{"qos", q.MustId(), name}, "QoS %s removed", name)
		}),
	}
	remove.Flags().StringVar(&rf.dc, "datacenter", "Default", "the data center (name or id)")
	remove.Flags().StringVar(&rf.dc, "dc", "Default", "the data center (same as --datacenter)")
	s.completeFlag(remove, "datacenter", "datacenters")

	qos.AddCommand(list, show, add, update, remove)
	return []*cobra.Command{qos}
}

// findQoS resolves a QoS of a data center by name or id, and names the
// data center.
func (k *cli) findQoS(dcRef, ref string) (*ovirtsdk4.Qos, string, error) {
	dc, err := k.find("datacenters", "data center", dcRef)
	if err != nil {
		return nil, "", err
	}
	q, err := k.c.FindQoS(k.ctx, dc.ID, ref)
	return q, dc.Name, err
}

// completeQoS offers the names of the QoS of the data center *dc names.
func (s *session) completeQoS(dc *string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		k, err := s.connect(cmd.Context())
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
		defer cancel()
		d, err := k.c.FindIn(ctx, "datacenters", *dc)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		qs, err := k.c.QoSs(ctx, d.ID)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var out []cobra.Completion
		for _, q := range qs {
			name, _ := q.Name()
			out = append(out, name)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
