package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
	"github.com/spf13/cobra"
)

// VMs: list, create from a template, show, remove, start and stop (with a
// wait).

func (s *session) vmCmds(root *cobra.Command) {
	vms := &cobra.Command{
		Use:   "vms",
		Short: "list VMs",
		Args:  nargs(0),
		RunE:  s.do(func(k *cli, _ []string) error { return k.vms() }),
	}
	vm := &cobra.Command{
		Use:   "vm",
		Short: "create, show, remove, start or stop a VM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageErr("usage: vwire vm create|show|remove|start|stop …")
		},
	}
	var cf struct {
		template, cluster, memory, cpu, comment, description string
		hosts                                                []string
	}
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "create a VM from a template (its vNICs copied, with new MACs)",
		Args:  nargs(1),
		RunE: s.do(func(k *cli, a []string) error {
			b := ovirtsdk4.NewVmBuilder().Name(a[0])
			cl, err := k.find("clusters", "cluster", cf.cluster)
			if err != nil {
				return err
			}
			t, err := k.find("templates", "template", cf.template)
			if err != nil {
				return err
			}
			b.Cluster(ovirtsdk4.NewClusterBuilder().Id(cl.ID).MustBuild()).
				Template(ovirtsdk4.NewTemplateBuilder().Id(t.ID).MustBuild())
			if cf.memory != "" {
				m, err := parseSize(cf.memory)
				if err != nil {
					return usageErr("--memory: %v", err)
				}
				b.Memory(m)
			}
			if cf.cpu != "" {
				topo, err := parseTopology(cf.cpu)
				if err != nil {
					return usageErr("--cpu: %v", err)
				}
				b.Cpu(ovirtsdk4.NewCpuBuilder().Topology(topo).MustBuild())
			}
			if cf.comment != "" {
				b.Comment(cf.comment)
			}
			if len(cf.hosts) > 0 {
				var hs []*ovirtsdk4.Host
				for _, ref := range cf.hosts {
					h, err := k.find("hosts", "host", ref)
					if err != nil {
						return err
					}
					hs = append(hs, ovirtsdk4.NewHostBuilder().Id(h.ID).MustBuild())
				}
				b.PlacementPolicy(ovirtsdk4.NewVmPlacementPolicyBuilder().HostsOfAny(hs...).MustBuild())
			}
			if cf.description != "" {
				b.Description(cf.description)
			}
			v, err := k.c.AddVM(k.ctx, b.MustBuild())
			if err != nil {
				return err
			}
			view := vmView(v)
			return k.done(view, "VM %s created from template %s (id %s): %s", view.Name, t.Name, view.ID, view.shape())
		}),
	}
	f := create.Flags()
	f.StringVar(&cf.template, "template", "Blank", "the template (name or id)")
	f.StringVar(&cf.cluster, "cluster", "Default", "the cluster (name or id)")
	f.StringVar(&cf.memory, "memory", "", "memory: 1GiB, 512MiB, or bytes (default: the template's)")
	f.StringVar(&cf.cpu, "cpu", "", "CPU topology SOCKETS[:CORES[:THREADS]] (default: the template's)")
	f.StringVar(&cf.comment, "comment", "", "a comment")
	f.StringVar(&cf.description, "description", "", "a description")
	f.StringSliceVar(&cf.hosts, "host", nil, "run only on this host (repeatable: one of these)")
	s.completeFlag(create, "host", "hosts")
	s.completeFlag(create, "template", "templates")
	s.completeFlag(create, "cluster", "clusters")

	show := &cobra.Command{
		Use:               "show VM",
		Short:             "a VM's status and details",
		Args:              nargs(1),
		ValidArgsFunction: s.complete("vms"),
		RunE: s.do(func(k *cli, a []string) error {
			v, err := k.c.FindVM(k.ctx, a[0])
			if err != nil {
				return err
			}
			view := vmView(v)
			return k.print(view, func(w *tabwriter.Writer) {
				host := ""
				if view.Host != nil {
					host = k.nameOf("hosts", view.Host.ID)
				}
				cluster, template := "", ""
				if view.Cluster != nil {
					cluster = k.nameOf("clusters", view.Cluster.ID)
				}
				if view.Template != nil {
					template = k.nameOf("templates", view.Template.ID)
				}
				fmt.Fprintf(w, "Name:\t%s\nID:\t%s\nStatus:\t%s\nHost:\t%s\nCluster:\t%s\nTemplate:\t%s\nMemory, CPU:\t%s\nComment:\t%s\nDescription:\t%s\n",
					view.Name, view.ID, view.Status, dash(host), dash(cluster), dash(template), view.shape(),
					dash(view.Comment), dash(view.Description))
			})
		}),
	}
	remove := &cobra.Command{
		Use:               "remove VM",
		Short:             "remove a VM (it must be down) with its vNICs",
		Args:              nargs(1),
		ValidArgsFunction: s.complete("vms"),
		RunE: s.do(func(k *cli, a []string) error {
			v, err := k.c.FindVM(k.ctx, a[0])
			if err != nil {
				return err
			}
			if err := k.c.RemoveVM(k.ctx, v.MustId()); err != nil {
				return err
			}
			name, _ := v.Name()
			return k.done(removed{"vm", v.MustId(), name}, "VM %s removed", name)
		}),
	}
	vm.AddCommand(create, show, remove)
	for _, action := range []string{"start", "stop"} {
		var w waitFlags
		cmd := &cobra.Command{
			Use:               action + " VM",
			Short:             map[string]string{"start": "start a VM and wait until it is up", "stop": "power a VM off and wait until it is down"}[action],
			Args:              nargs(1),
			ValidArgsFunction: s.complete("vms"),
			RunE:              s.do(func(k *cli, a []string) error { return k.vmAction(action, a[0], &w) }),
		}
		w.register(cmd)
		vm.AddCommand(cmd)
	}
	root.AddCommand(vms, vm)
}

func (k *cli) vms() error {
	vms, err := k.c.VMs(k.ctx, "")
	if err != nil {
		return err
	}
	hosts := map[string]string{}
	if hs, err := k.c.Hosts(k.ctx); err == nil {
		for _, h := range hs {
			hosts[h.MustId()], _ = h.Name()
		}
	}
	views := make([]vmJSON, 0, len(vms))
	for _, v := range vms {
		views = append(views, vmView(v))
	}
	return k.print(views, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "NAME\tSTATUS\tHOST\tMEMORY, CPU\tID")
		for _, v := range views {
			host := ""
			if v.Host != nil {
				host = hosts[v.Host.ID]
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", v.Name, v.Status, dash(host), v.shape(), v.ID)
		}
	})
}

// nameOf is the name of an object of a collection by id, or the id.
func (k *cli) nameOf(collection, id string) string {
	if o, err := k.c.FindIn(k.ctx, collection, id); err == nil && o.Name != "" {
		return o.Name
	}
	return id
}

// vmAction starts or stops a VM and waits until it is up or down.
func (k *cli) vmAction(action, ref string, w *waitFlags) error {
	vm, err := k.c.FindVM(k.ctx, ref)
	if err != nil {
		return err
	}
	var got *ovirtsdk4.Vm
	if action == "start" {
		got, err = k.c.StartVM(k.ctx, vm.MustId())
	} else {
		got, err = k.c.StopVM(k.ctx, vm.MustId())
	}
	if err != nil {
		return err
	}
	if got == nil { // an answer without the VM: read it
		if got, err = k.c.VM(k.ctx, vm.MustId()); err != nil {
			return err
		}
	}
	name, _ := vm.Name()
	want := ovirtsdk4.VMSTATUS_UP
	if action == "stop" {
		want = ovirtsdk4.VMSTATUS_DOWN
	}
	if w.enabled() {
		err := k.wait(w, fmt.Sprintf("VM %s to be %s", name, want), func() (string, bool, error) {
			if st, ok := got.Status(); ok && st == want {
				return string(st), true, nil
			}
			v, err := k.c.VM(k.ctx, vm.MustId())
			if err != nil {
				return "", false, err
			}
			got = v
			st, _ := v.Status()
			return string(st), st == want, nil
		})
		if err != nil {
			return err
		}
	}
	v := vmView(got)
	if v.Name == "" {
		v.Name = name
	}
	// The action's answer as the engine wrote it, reduced to what the CLI
	// reads: a 2xx action is oVirt's "complete".
	res := struct {
		Status string `json:"status"`
		VM     vmJSON `json:"vm"`
	}{"complete", v}
	return k.print(res, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "VM %s is %s\n", v.Name, v.Status)
	})
}

// parseSize reads a memory size: bytes, or a number with a binary unit
// (KiB, MiB, GiB, TiB; K, M, G, T alike).
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		shift  uint
	}{{"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}, {"K", 10}, {"M", 20}, {"G", 30}, {"T", 40}, {"B", 0}}
	num, shift := strings.TrimSpace(s), uint(0)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(num), strings.ToUpper(u.suffix)) {
			num, shift = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("%q: want bytes or a number with KiB, MiB, GiB or TiB", s)
	}
	return n << shift, nil
}

// parseTopology reads SOCKETS[:CORES[:THREADS]].
func parseTopology(s string) (*ovirtsdk4.CpuTopology, error) {
	parts := strings.Split(s, ":")
	if len(parts) > 3 {
		return nil, fmt.Errorf("%q: want SOCKETS[:CORES[:THREADS]]", s)
	}
	v := []int64{1, 1, 1}
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: want SOCKETS[:CORES[:THREADS]], each at least 1", s)
		}
		v[i] = n
	}
	return ovirtsdk4.NewCpuTopologyBuilder().Sockets(v[0]).Cores(v[1]).Threads(v[2]).MustBuild(), nil
}
