package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	ovirtsdk4 "github.com/ovirt/go-ovirt"
	"github.com/spf13/cobra"

	"vwire.dev/vwire/client"
)

// vNICs: list, add, update, remove, plug and unplug (with a wait), link,
// move between networks; and the audit events.

func (s *session) nicCmds(root *cobra.Command) {
	nics := &cobra.Command{
		Use:               "nics VM",
		Short:             "list a VM's vNICs (desired and host-reported state)",
		Args:              nargs(1),
		ValidArgsFunction: s.complete("vms"),
		RunE:              s.do(func(k *cli, a []string) error { return k.nics(a[0]) }),
	}

	nic := &cobra.Command{
		Use:   "nic",
		Short: "add, update, remove, plug or unplug a VM's vNIC",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageErr("usage: vwire nic add|update|remove|plug|unplug …")
		},
	}
	var nf nicFlagValues
	add := &cobra.Command{
		Use:               "add VM NAME",
		Short:             "add a vNIC to a VM",
		Args:              nargs(2),
		ValidArgsFunction: s.complete("vms"),
		RunE: s.do(func(k *cli, a []string) error {
			b, err := k.nicBuilder(&nf, true)
			if err != nil {
				return err
			}
			vm, err := k.c.FindVM(k.ctx, a[0])
			if err != nil {
				return err
			}
			nic, err := b.Name(a[1]).Build()
			if err != nil {
				return err
			}
			n, err := k.c.AddNIC(k.ctx, vm.MustId(), nic)
			if err != nil {
				return err
			}
			return k.printNic(n, "added")
		}),
	}
	nf.register(s, add, true)
	var uf nicFlagValues
	update := &cobra.Command{
		Use:               "update VM NIC",
		Short:             "change a vNIC's fields",
		Args:              nargs(2),
		ValidArgsFunction: s.complete("vms", "nics"),
		RunE: s.do(func(k *cli, a []string) error {
			b, err := k.nicBuilder(&uf, false)
			if err != nil {
				return err
			}
			return k.update(a[0], a[1], b)
		}),
	}
	uf.register(s, update, false)
	remove := &cobra.Command{
		Use:               "remove VM NIC",
		Short:             "remove a vNIC (unplugged first: unplug it)",
		Args:              nargs(2),
		ValidArgsFunction: s.complete("vms", "nics"),
		RunE: s.do(func(k *cli, a []string) error {
			vm, n, err := k.resolveNic(a[0], a[1])
			if err != nil {
				return err
			}
			if err := k.c.RemoveNIC(k.ctx, vm, n.MustId()); err != nil {
				return err
			}
			name, _ := n.Name()
			return k.done(removed{"vnic", n.MustId(), name}, "vNIC %s removed", name)
		}),
	}
	nic.AddCommand(add, update, remove)
	for _, sub := range []string{"plug", "unplug"} {
		var w waitFlags
		cmd := &cobra.Command{
			Use:               sub + " VM NIC",
			Short:             "hot-" + sub + " a vNIC and wait until its host reports it so",
			Args:              nargs(2),
			ValidArgsFunction: s.complete("vms", "nics"),
			RunE: s.do(func(k *cli, a []string) error {
				return k.plug(a[0], a[1], sub == "plug", &w)
			}),
		}
		w.register(cmd)
		nic.AddCommand(cmd)
	}

	link := &cobra.Command{
		Use:   "link up|down VM NIC",
		Short: "plug (up) or pull (down) a vNIC's virtual cable",
		Args: func(cmd *cobra.Command, a []string) error {
			if len(a) != 3 || (a[0] != "up" && a[0] != "down") {
				return usageErr("usage: vwire link up|down VM NIC")
			}
			return nil
		},
		ValidArgsFunction: s.complete("", "vms", "nics"),
		RunE: s.do(func(k *cli, a []string) error {
			return k.update(a[1], a[2], ovirtsdk4.NewNicBuilder().Linked(a[0] == "up"))
		}),
	}

	events := &cobra.Command{
		Use:   "events",
		Short: "audit events, newest first (--follow: then the new ones as they come)",
		Args:  nargs(0),
	}
	max := events.Flags().Int("max", 20, "how many events")
	follow := events.Flags().Bool("follow", false, "print new events as they come (oldest first)")
	interval := events.Flags().Duration("interval", time.Second, "how often --follow asks")
	events.RunE = s.do(func(k *cli, _ []string) error { return k.events(*max, *follow, *interval) })

	root.AddCommand(nics, nic, link, events)
}

// moveNIC is "vwire network VM NIC PROFILE|--none" (the network command's
// own action; its subcommands manage networks).
func (k *cli) moveNIC(a []string, none bool) error {
	if none && len(a) == 3 && a[2] == "--none" {
		a = a[:2]
	}
	if (none && len(a) != 2) || (!none && len(a) != 3) {
		return usageErr("usage: vwire network VM NIC PROFILE|--none")
	}
	profile := ""
	if !none {
		var err error
		if profile, err = k.profileID(a[2]); err != nil {
			return err
		}
	}
	return k.update(a[0], a[1], ovirtsdk4.NewNicBuilder().VnicProfile(client.ProfileRef(profile)))
}

func (k *cli) nics(ref string) error {
	vm, err := k.c.FindVM(k.ctx, ref)
	if err != nil {
		return err
	}
	nics, err := k.c.NICs(k.ctx, vm.MustId())
	if err != nil {
		return err
	}
	profiles := map[string]string{}
	if ps, err := k.c.Profiles(k.ctx); err == nil {
		for _, p := range ps {
			profiles[p.MustId()], _ = p.Name()
		}
	}
	views := make([]nicJSON, 0, len(nics))
	for _, n := range nics {
		views = append(views, nicView(n))
	}
	return k.print(views, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "NAME\tMAC\tTYPE\tPROFILE\tLINKED\tPLUGGED\tSYNCED\tHOST: PRESENT\tLINK\tBRIDGE\tPCI\tMIRROR\tQOS\tFILTER\tWHY NOT SYNCED")
		for _, n := range views {
			prof := "<empty network>"
			if n.VnicProfile != nil {
				prof = dash(profiles[n.VnicProfile.ID])
			}
			mac := ""
			if n.MAC != nil {
				mac = n.MAC.Address
			}
			present, link, bridge, pci, mirror, qos, filter, why := "-", "-", "-", "-", "-", "-", "-", "-"
			if r := n.ReportedState; r != nil {
				present = strconv.FormatBool(r.Present)
				link, bridge, pci, why = dash(r.LinkState), dash(r.Bridge), dash(r.PCIAddress), dash(r.Error)
				if r.Present {
					mirror, qos, filter = strconv.FormatBool(r.PortMirroring), qosText(r.QoS), "none"
					if r.NetworkFilter != nil {
						filter = r.NetworkFilter.Name
					}
				}
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, mac, n.Interface, prof,
				n.Linked, n.Plugged, n.Synced, present, link, bridge, pci, mirror, qos, filter, why)
		}
	})
}

// nicFlagValues are the flags of nic add and nic update.
type nicFlagValues struct {
	name, mac, iface, profile string
	noNet                     bool
	linked, plugged           string
	unlinked, unplugged       bool
}

func (f *nicFlagValues) register(s *session, cmd *cobra.Command, add bool) {
	fl := cmd.Flags()
	if !add {
		fl.StringVar(&f.name, "name", "", "a new name")
	}
	fl.StringVar(&f.mac, "mac", "", "MAC address (default: one from the data center's pool)")
	fl.StringVar(&f.iface, "interface", "", "device model: virtio, e1000, rtl8139, …")
	fl.StringVar(&f.profile, "profile", "", "vNIC profile (name or id): its network")
	s.completeFlag(cmd, "profile", "vnicprofiles")
	fl.BoolVar(&f.noNet, "no-network", false, "no network (the empty network: link down)")
	fl.StringVar(&f.linked, "linked", "", "true or false: the virtual cable")
	fl.StringVar(&f.plugged, "plugged", "", "true or false: the device present in the VM")
	if add {
		fl.BoolVar(&f.unlinked, "unlinked", false, "add it with its cable pulled")
		fl.BoolVar(&f.unplugged, "unplugged", false, "add it unplugged")
	}
}

// nicBuilder makes a vNIC of the fields the flags set.
func (k *cli) nicBuilder(f *nicFlagValues, add bool) (*ovirtsdk4.NicBuilder, error) {
	b := ovirtsdk4.NewNicBuilder()
	if f.name != "" {
		b.Name(f.name)
	}
	if f.mac != "" {
		b.Mac(ovirtsdk4.NewMacBuilder().Address(f.mac).MustBuild())
	}
	if f.iface != "" {
		b.Interface(ovirtsdk4.NicInterface(f.iface))
	}
	switch {
	case f.profile != "" && f.noNet:
		return nil, usageErr("--profile and --no-network exclude each other")
	case f.profile != "":
		id, err := k.profileID(f.profile)
		if err != nil {
			return nil, err
		}
		b.VnicProfile(client.ProfileRef(id))
	case f.noNet:
		b.VnicProfile(client.ProfileRef(""))
	}
	for _, x := range []struct {
		name, v string
		set     func(bool) *ovirtsdk4.NicBuilder
	}{{"linked", f.linked, b.Linked}, {"plugged", f.plugged, b.Plugged}} {
		if x.v == "" {
			continue
		}
		if x.v != "true" && x.v != "false" {
			return nil, usageErr("--%s must be true or false", x.name)
		}
		x.set(x.v == "true")
	}
	if add {
		if f.unlinked {
			b.Linked(false)
		}
		if f.unplugged {
			b.Plugged(false)
		}
	}
	return b, nil
}

// profileID resolves a vNIC profile's name or id. An id of a profile the
// user cannot see is sent as is: the engine's answer (403 naming the
// profile, or 404) says more than "no such profile".
func (k *cli) profileID(ref string) (string, error) {
	p, err := k.c.FindProfile(k.ctx, ref)
	if err == nil {
		return p.MustId(), nil
	}
	if _, notFound := errors.AsType[*client.LookupError](err); notFound && uuid.Validate(ref) == nil {
		return ref, nil
	}
	return "", err
}

func (k *cli) resolveNic(vmRef, nicRef string) (string, *client.NIC, error) {
	vm, err := k.c.FindVM(k.ctx, vmRef)
	if err != nil {
		return "", nil, err
	}
	n, err := k.c.FindNIC(k.ctx, vm.MustId(), nicRef)
	if err != nil {
		return "", nil, err
	}
	return vm.MustId(), n, nil
}

func (k *cli) update(vmRef, nicRef string, b *ovirtsdk4.NicBuilder) error {
	vm, n, err := k.resolveNic(vmRef, nicRef)
	if err != nil {
		return err
	}
	patch, err := b.Build()
	if err != nil {
		return err
	}
	res, err := k.c.UpdateNIC(k.ctx, vm, n.MustId(), patch)
	if err != nil {
		return err
	}
	return k.printNic(res, "updated")
}

// plug hot-plugs or hot-unplugs a vNIC and, on a running VM, waits until
// its host reports the device present or gone.
func (k *cli) plug(vmRef, nicRef string, plugged bool, w *waitFlags) error {
	vm, n, err := k.resolveNic(vmRef, nicRef)
	if err != nil {
		return err
	}
	res, err := k.c.PlugNIC(k.ctx, vm, n.MustId(), plugged)
	if err != nil {
		return err
	}
	name, _ := res.Name()
	want := map[bool]string{true: "plugged", false: "unplugged"}[plugged]
	if w.enabled() && k.vmRunning(vm) {
		err := k.wait(w, fmt.Sprintf("vNIC %s to be reported %s", name, want), func() (string, bool, error) {
			got, err := k.c.NIC(k.ctx, vm, n.MustId())
			if err != nil {
				return "", false, err
			}
			res = got
			r := got.Reported
			switch {
			case r == nil:
				return "not reported", !plugged, nil
			case r.Present:
				return "present", plugged, nil
			}
			return "absent", !plugged, nil
		})
		if err != nil {
			return err
		}
	}
	return k.printNic(res, want)
}

// vmRunning says whether a VM runs on a host (so that its host reports
// its devices).
func (k *cli) vmRunning(id string) bool {
	v, err := k.c.VM(k.ctx, id)
	if err != nil {
		return false
	}
	st, _ := v.Status()
	return st != ovirtsdk4.VMSTATUS_DOWN && st != ""
}

func (k *cli) printNic(nic *client.NIC, what string) error {
	n := nicView(nic)
	return k.print(n, func(w *tabwriter.Writer) {
		net, mac := "<empty network>", ""
		if n.VnicProfile != nil {
			net = "profile " + n.VnicProfile.ID
			if p, err := k.c.Profile(k.ctx, n.VnicProfile.ID); err == nil {
				if name, ok := p.Name(); ok {
					net = "profile " + name
				}
			}
		}
		if n.MAC != nil {
			mac = n.MAC.Address
		}
		fmt.Fprintf(w, "vNIC %s %s: mac %s, %s, linked %s, plugged %s, synced %s\n", n.Name, what,
			mac, net, n.Linked, n.Plugged, n.Synced)
	})
}

func (k *cli) events(max int, follow bool, interval time.Duration) error {
	evs, err := k.c.Events(k.ctx, 0, max)
	if err != nil {
		return err
	}
	show := func(evs []*ovirtsdk4.Event) {
		switch k.format {
		case "json", "yaml":
			for _, e := range evs {
				if k.format == "yaml" {
					fmt.Fprintln(k.out, "---")
					k.print(eventView(e), nil)
				} else {
					json.NewEncoder(k.out).Encode(eventView(e)) // one object per line
				}
			}
			return
		}
		for _, e := range evs {
			v := eventView(e)
			t := ""
			if tm, ok := e.Time(); ok {
				t = tm.Local().Format("2006-01-02 15:04:05")
			}
			fmt.Fprintf(k.out, "%-6s %s  %-5s %-7s %s\n", v.ID, t, v.Code, v.Severity, v.Description)
		}
	}
	if !follow {
		if k.structured() {
			views := make([]eventJSON, 0, len(evs))
			for _, e := range evs {
				views = append(views, eventView(e))
			}
			return k.print(views, nil)
		}
		show(evs)
		return nil
	}
	// Following prints oldest first, then polls for events after the newest.
	var last int64
	for i := len(evs) - 1; i >= 0; i-- {
		show(evs[i : i+1])
	}
	if len(evs) > 0 {
		last, _ = strconv.ParseInt(evs[0].MustId(), 10, 64)
	}
	for {
		time.Sleep(interval)
		evs, err := k.c.Events(k.ctx, last, 0)
		if err != nil {
			return err
		}
		for i := len(evs) - 1; i >= 0; i-- {
			show(evs[i : i+1])
			if id, _ := strconv.ParseInt(evs[i].MustId(), 10, 64); id > last {
				last = id
			}
		}
	}
}

// qosText says in a table cell what limits a host applied: "in 10, out 1
// Mbit/s" (averages), or "none".
func qosText(q *client.ReportedQoS) string {
	if q == nil || (q.InboundAverage == 0 && q.OutboundAverage == 0) {
		return "none"
	}
	var parts []string
	if q.InboundAverage > 0 {
		parts = append(parts, fmt.Sprintf("in %d", q.InboundAverage))
	}
	if q.OutboundAverage > 0 {
		parts = append(parts, fmt.Sprintf("out %d", q.OutboundAverage))
	}
	return strings.Join(parts, ", ") + " Mbit/s"
}
