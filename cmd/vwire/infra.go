package main

import (
	"fmt"
	"text/tabwriter"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
	"github.com/spf13/cobra"

	"vwire.dev/vwire/client"
)

// Data centers, clusters, networks (and their attachment to clusters),
// vNIC profiles and templates.

// group is a command that only holds subcommands.
func group(use, short, usage string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageErr("usage: vwire %s", usage)
		},
	}
}

func (s *session) infraCmds(root *cobra.Command) {
	root.AddCommand(s.dataCenterCmds()...)
	root.AddCommand(s.clusterCmds()...)
	root.AddCommand(s.networkCmds()...)
	root.AddCommand(s.profileCmds()...)
	root.AddCommand(s.qosCmds()...)
	root.AddCommand(s.templateCmds()...)
}

// ---- data centers

func (s *session) dataCenterCmds() []*cobra.Command {
	list := &cobra.Command{
		Use:   "datacenters",
		Short: "list data centers",
		Args:  nargs(0),
		RunE: s.do(func(k *cli, _ []string) error {
			dcs, err := k.c.DataCenters(k.ctx)
			if err != nil {
				return err
			}
			views := make([]dataCenterJSON, 0, len(dcs))
			for _, d := range dcs {
				views = append(views, dataCenterView(d))
			}
			return k.print(views, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "NAME\tSTATUS\tVERSION\tID\tDESCRIPTION")
				for _, v := range views {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", v.Name, dash(v.Status), v.Version, v.ID, v.Description)
				}
			})
		}),
	}
	dc := group("datacenter", "add or remove a data center", "datacenter add|remove …")
	var desc string
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "add a data center",
		Args:  nargs(1),
		RunE: s.do(func(k *cli, a []string) error {
			b := ovirtsdk4.NewDataCenterBuilder().Name(a[0]).Local(false)
			if desc != "" {
				b.Description(desc)
			}
			d, err := k.c.AddDataCenter(k.ctx, b.MustBuild())
			if err != nil {
				return err
			}
			v := dataCenterView(d)
			return k.done(v, "Data center %s added (id %s)", v.Name, v.ID)
		}),
	}
	add.Flags().StringVar(&desc, "description", "", "a description")
	remove := &cobra.Command{
		Use:               "remove DC",
		Short:             "remove a data center (with nothing in it)",
		Args:              nargs(1),
		ValidArgsFunction: s.complete("datacenters"),
		RunE: s.do(func(k *cli, a []string) error {
			d, err := k.find("datacenters", "data center", a[0])
			if err != nil {
				return err
			}
			if err := k.c.RemoveDataCenter(k.ctx, d.ID); err != nil {
				return err
			}
			return k.done(removed{"data_center", d.ID, d.Name}, "Data center %s removed", d.Name)
		}),
	}
	dc.AddCommand(add, remove)
	return []*cobra.Command{list, dc}
}

// ---- clusters

func (s *session) clusterCmds() []*cobra.Command {
	list := &cobra.Command{
		Use:   "clusters",
		Short: "list clusters",
		Args:  nargs(0),
		RunE: s.do(func(k *cli, _ []string) error {
			cls, err := k.c.Clusters(k.ctx)
			if err != nil {
				return err
			}
			views := make([]clusterJSON, 0, len(cls))
			for _, c := range cls {
				views = append(views, clusterView(c))
			}
			dcs := k.names("datacenters")
			return k.print(views, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "NAME\tDATA CENTER\tVERSION\tID\tDESCRIPTION")
				for _, v := range views {
					dc := ""
					if v.DataCenter != nil {
						dc = dcs[v.DataCenter.ID]
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", v.Name, dash(dc), v.Version, v.ID, v.Description)
				}
			})
		}),
	}
	cl := group("cluster", "add or remove a cluster; attach a network to it or detach one", "cluster add|remove|attach|detach …")
	var dcRef, desc string
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "add a cluster to a data center",
		Args:  nargs(1),
		RunE: s.do(func(k *cli, a []string) error {
			dc, err := k.find("datacenters", "data center", dcRef)
			if err != nil {
				return err
			}
			b := ovirtsdk4.NewClusterBuilder().Name(a[0]).DataCenter(ovirtsdk4.NewDataCenterBuilder().Id(dc.ID).MustBuild())
			if desc != "" {
				b.Description(desc)
			}
			c, err := k.c.AddCluster(k.ctx, b.MustBuild())
			if err != nil {
				return err
			}
			v := clusterView(c)
			return k.done(v, "Cluster %s added to data center %s (id %s)", v.Name, dc.Name, v.ID)
		}),
	}
	add.Flags().StringVar(&dcRef, "datacenter", "Default", "the data center (name or id)")
	add.Flags().StringVar(&desc, "description", "", "a description")
	s.completeFlag(add, "datacenter", "datacenters")
	remove := &cobra.Command{
		Use:               "remove CLUSTER",
		Short:             "remove a cluster (with no host or VM)",
		Args:              nargs(1),
		ValidArgsFunction: s.complete("clusters"),
		RunE: s.do(func(k *cli, a []string) error {
			c, err := k.find("clusters", "cluster", a[0])
			if err != nil {
				return err
			}
			if err := k.c.RemoveCluster(k.ctx, c.ID); err != nil {
				return err
			}
			return k.done(removed{"cluster", c.ID, c.Name}, "Cluster %s removed", c.Name)
		}),
	}
	attach := &cobra.Command{
		Use:               "attach CLUSTER NETWORK",
		Short:             "attach a network to a cluster (its VMs' vNICs may then use it)",
		Args:              nargs(2),
		ValidArgsFunction: s.complete("clusters", "networks"),
		RunE:              s.do(func(k *cli, a []string) error { return k.attach(a[0], a[1], true) }),
	}
	detach := &cobra.Command{
		Use:               "detach CLUSTER NETWORK",
		Short:             "detach a network from a cluster",
		Args:              nargs(2),
		ValidArgsFunction: s.complete("clusters", "networks"),
		RunE:              s.do(func(k *cli, a []string) error { return k.attach(a[0], a[1], false) }),
	}
	show := &cobra.Command{
		Use:               "show CLUSTER",
		Short:             "a cluster's details, its drift policy and attached networks",
		Args:              nargs(1),
		ValidArgsFunction: s.complete("clusters"),
		RunE: s.do(func(k *cli, a []string) error {
			o, err := k.find("clusters", "cluster", a[0])
			if err != nil {
				return err
			}
			c, err := k.c.Cluster(k.ctx, o.ID)
			if err != nil {
				return err
			}
			v := struct {
				clusterJSON
				Networks []string `json:"networks"`
			}{clusterView(c), []string{}}
			if v.DriftPolicy, err = k.c.DriftPolicy(k.ctx, o.ID); err != nil {
				return err
			}
			nets, err := k.c.ClusterNetworks(k.ctx, o.ID)
			if err != nil {
				return err
			}
			for _, n := range nets {
				name, _ := n.Name()
				v.Networks = append(v.Networks, name)
			}
			return k.print(v, func(w *tabwriter.Writer) {
				dc := ""
				if v.DataCenter != nil {
					dc = k.nameOf("datacenters", v.DataCenter.ID)
				}
				fmt.Fprintf(w, "Name:\t%s\nID:\t%s\nData center:\t%s\nVersion:\t%s\nDrift policy:\t%s\nNetworks:\t%s\nDescription:\t%s\n",
					v.Name, v.ID, dash(dc), v.Version, dash(v.DriftPolicy), dash(joinNonEmpty(", ", v.Networks...)), dash(v.Description))
			})
		}),
	}
	var drift string
	update := &cobra.Command{
		Use:               "update CLUSTER --drift-policy report|enforce",
		Short:             "set what the poller does about a vNIC whose host drifted from the engine: report it, or enforce the engine's state",
		Args:              nargs(1),
		ValidArgsFunction: s.complete("clusters"),
		RunE: s.do(func(k *cli, a []string) error {
			if drift == "" {
				return usageErr("usage: vwire cluster update CLUSTER --drift-policy report|enforce")
			}
			o, err := k.find("clusters", "cluster", a[0])
			if err != nil {
				return err
			}
			got, err := k.c.SetDriftPolicy(k.ctx, o.ID, drift)
			if err != nil {
				return err
			}
			return k.done(struct {
				ID          string `json:"id"`
				Name        string `json:"name"`
				DriftPolicy string `json:"drift_policy"`
			}{o.ID, o.Name, got}, "Cluster %s: drift policy %s", o.Name, got)
		}),
	}
	update.Flags().StringVar(&drift, "drift-policy", "", "report (mark the vNIC synced=false, one event) or enforce (also put the device back)")
	update.RegisterFlagCompletionFunc("drift-policy", cobra.FixedCompletions([]string{"report", "enforce"}, cobra.ShellCompDirectiveNoFileComp))
	cl.AddCommand(add, show, update, remove, attach, detach)
	return []*cobra.Command{list, cl}
}

// attach attaches a network to a cluster, or detaches it.
func (k *cli) attach(clusterRef, networkRef string, attach bool) error {
	c, err := k.find("clusters", "cluster", clusterRef)
	if err != nil {
		return err
	}
	n, err := k.find("networks", "network", networkRef)
	if err != nil {
		return err
	}
	res := struct {
		Network string `json:"network"`
		Cluster string `json:"cluster"`
		State   string `json:"state"`
	}{n.ID, c.ID, "attached"}
	if attach {
		if err := k.c.AttachNetwork(k.ctx, c.ID, n.ID); err != nil {
			return err
		}
		return k.done(res, "Network %s attached to cluster %s", n.Name, c.Name)
	}
	if err := k.c.DetachNetwork(k.ctx, c.ID, n.ID); err != nil {
		return err
	}
	res.State = "detached"
	return k.done(res, "Network %s detached from cluster %s", n.Name, c.Name)
}

// names maps the ids of a collection's objects to their names.
func (k *cli) names(collection string) map[string]string {
	out := map[string]string{}
	if objs, err := k.c.Names(k.ctx, collection); err == nil {
		for _, o := range objs {
			out[o.ID] = o.Name
		}
	}
	return out
}

// ---- networks

func (s *session) networkCmds() []*cobra.Command {
	var dcFilter, clusterFilter string
	list := &cobra.Command{
		Use:   "networks",
		Short: "list networks (--cluster: those attached to a cluster)",
		Args:  nargs(0),
		RunE: s.do(func(k *cli, _ []string) error {
			var nets []*ovirtsdk4.Network
			var err error
			if clusterFilter != "" {
				c, err := k.find("clusters", "cluster", clusterFilter)
				if err != nil {
					return err
				}
				nets, err = k.c.ClusterNetworks(k.ctx, c.ID)
				if err != nil {
					return err
				}
			} else if nets, err = k.c.Networks(k.ctx); err != nil {
				return err
			}
			dcID := ""
			if dcFilter != "" {
				dc, err := k.find("datacenters", "data center", dcFilter)
				if err != nil {
					return err
				}
				dcID = dc.ID
			}
			views := make([]networkJSON, 0, len(nets))
			for _, n := range nets {
				v := networkView(n)
				if dcID != "" && (v.DataCenter == nil || v.DataCenter.ID != dcID) {
					continue
				}
				views = append(views, v)
			}
			dcs := k.names("datacenters")
			return k.print(views, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "NAME\tDATA CENTER\tVLAN\tMTU\tID\tDESCRIPTION")
				for _, v := range views {
					dc, vlan := "", ""
					if v.DataCenter != nil {
						dc = dcs[v.DataCenter.ID]
					}
					if v.VLAN != nil {
						vlan = v.VLAN.ID
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Name, dash(dc), dash(vlan), dash(v.MTU), v.ID, v.Description)
				}
			})
		}),
	}
	list.Flags().StringVar(&dcFilter, "datacenter", "", "only the networks of this data center")
	list.Flags().StringVar(&clusterFilter, "cluster", "", "only the networks attached to this cluster")
	s.completeFlag(list, "datacenter", "datacenters")
	s.completeFlag(list, "cluster", "clusters")

	// "network VM NIC PROFILE|--none" moves a vNIC (as before); its
	// subcommands manage networks.
	var none bool
	network := &cobra.Command{
		Use:   "network VM NIC PROFILE | network VM NIC --none | network add|attach|detach|remove …",
		Short: "move a vNIC to a profile's network (or to none); add, attach, detach or remove a network",
		Args: func(cmd *cobra.Command, a []string) error {
			if (none && len(a) != 2) || (!none && len(a) != 3) {
				return usageErr("usage: vwire network VM NIC PROFILE|--none, or vwire network add|attach|detach|remove …")
			}
			return nil
		},
		ValidArgsFunction: s.complete("vms", "nics", "vnicprofiles"),
		RunE:              s.do(func(k *cli, a []string) error { return k.moveNIC(a, none) }),
	}
	network.Flags().BoolVar(&none, "none", false, "no network (the empty network: link down)")

	var nf struct {
		dc, desc string
		vlan     int
		mtu      int
		attach   []string
	}
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "add a network to a data center (with its vNIC profile of the same name)",
		Args:  nargs(1),
		RunE: s.do(func(k *cli, a []string) error {
			dc, err := k.find("datacenters", "data center", nf.dc)
			if err != nil {
				return err
			}
			b := ovirtsdk4.NewNetworkBuilder().Name(a[0]).DataCenter(ovirtsdk4.NewDataCenterBuilder().Id(dc.ID).MustBuild())
			if nf.desc != "" {
				b.Description(nf.desc)
			}
			if nf.vlan > 0 {
				b.Vlan(ovirtsdk4.NewVlanBuilder().Id(int64(nf.vlan)).MustBuild())
			}
			if nf.mtu > 0 {
				b.Mtu(int64(nf.mtu))
			}
			// Clusters to attach to are resolved before anything is made.
			var clusters []client.Named
			for _, ref := range nf.attach {
				c, err := k.find("clusters", "cluster", ref)
				if err != nil {
					return err
				}
				clusters = append(clusters, c)
			}
			n, err := k.c.AddNetwork(k.ctx, b.MustBuild())
			if err != nil {
				return err
			}
			v := networkView(n)
			msg := fmt.Sprintf("Network %s added to data center %s (id %s), with its vNIC profile %s", v.Name, dc.Name, v.ID, v.Name)
			for _, c := range clusters {
				if err := k.c.AttachNetwork(k.ctx, c.ID, n.MustId()); err != nil {
					return fmt.Errorf("network %s added, but not attached to cluster %s: %w", v.Name, c.Name, err)
				}
				msg += "; attached to cluster " + c.Name
			}
			return k.done(v, "%s", msg)
		}),
	}
	add.Flags().StringVar(&nf.dc, "datacenter", "Default", "the data center (name or id)")
	add.Flags().StringVar(&nf.desc, "description", "", "a description")
	add.Flags().IntVar(&nf.vlan, "vlan", 0, "a VLAN id (1-4094)")
	add.Flags().IntVar(&nf.mtu, "mtu", 0, "the MTU (default: the host's)")
	add.Flags().StringSliceVar(&nf.attach, "attach", nil, "attach it to this cluster too (repeatable)")
	s.completeFlag(add, "datacenter", "datacenters")
	s.completeFlag(add, "attach", "clusters")
	attach := &cobra.Command{
		Use:               "attach NETWORK CLUSTER",
		Short:             "attach a network to a cluster",
		Args:              nargs(2),
		ValidArgsFunction: s.complete("networks", "clusters"),
		RunE:              s.do(func(k *cli, a []string) error { return k.attach(a[1], a[0], true) }),
	}
	detach := &cobra.Command{
		Use:               "detach NETWORK CLUSTER",
		Short:             "detach a network from a cluster",
		Args:              nargs(2),
		ValidArgsFunction: s.complete("networks", "clusters"),
		RunE:              s.do(func(k *cli, a []string) error { return k.attach(a[1], a[0], false) }),
	}
	remove := &cobra.Command{
		Use:               "remove NETWORK",
		Short:             "remove a network (with its vNIC profiles; no vNIC may use it)",
		Args:              nargs(1),
		ValidArgsFunction: s.complete("networks"),
		RunE: s.do(func(k *cli, a []string) error {
			n, err := k.find("networks", "network", a[0])
			if err != nil {
				return err
			}
			if err := k.c.RemoveNetwork(k.ctx, n.ID); err != nil {
				return err
			}
			return k.done(removed{"network", n.ID, n.Name}, "Network %s removed", n.Name)
		}),
	}
	network.AddCommand(add, attach, detach, remove)
	return []*cobra.Command{list, network}
}

// ---- templates

func (s *session) templateCmds() []*cobra.Command {
	list := &cobra.Command{
		Use:   "templates",
		Short: "list templates",
		Args:  nargs(0),
		RunE: s.do(func(k *cli, _ []string) error {
			ts, err := k.c.Templates(k.ctx)
			if err != nil {
				return err
			}
			views := make([]templateJSON, 0, len(ts))
			for _, t := range ts {
				views = append(views, templateView(t))
			}
			return k.print(views, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "NAME\tMEMORY, CPU\tID\tCOMMENT")
				for _, v := range views {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", v.Name, shape(v.Memory, v.CPU), v.ID, v.Comment)
				}
			})
		}),
	}
	tmpl := group("template", "create, show or remove a template", "template create|show|remove …")
	var tf struct{ vm, desc, comment string }
	create := &cobra.Command{
		Use:   "create NAME --vm VM",
		Short: "create a template from a VM (its vNICs copied, without MACs)",
		Args:  nargs(1),
		RunE: s.do(func(k *cli, a []string) error {
			if tf.vm == "" {
				return usageErr("usage: vwire template create NAME --vm VM [--description D] [--comment C]")
			}
			vm, err := k.c.FindVM(k.ctx, tf.vm)
			if err != nil {
				return err
			}
			b := ovirtsdk4.NewTemplateBuilder().Name(a[0]).Vm(ovirtsdk4.NewVmBuilder().Id(vm.MustId()).MustBuild())
			if tf.desc != "" {
				b.Description(tf.desc)
			}
			if tf.comment != "" {
				b.Comment(tf.comment)
			}
			t, err := k.c.AddTemplate(k.ctx, b.MustBuild())
			if err != nil {
				return err
			}
			v := templateView(t)
			vmName, _ := vm.Name()
			return k.done(v, "Template %s created from VM %s (id %s)", v.Name, vmName, v.ID)
		}),
	}
	create.Flags().StringVar(&tf.vm, "vm", "", "the VM (name or id)")
	create.Flags().StringVar(&tf.desc, "description", "", "a description")
	create.Flags().StringVar(&tf.comment, "comment", "", "a comment")
	s.completeFlag(create, "vm", "vms")
	show := &cobra.Command{
		Use:               "show TEMPLATE",
		Short:             "a template's details and vNICs",
		Args:              nargs(1),
		ValidArgsFunction: s.complete("templates"),
		RunE: s.do(func(k *cli, a []string) error {
			o, err := k.find("templates", "template", a[0])
			if err != nil {
				return err
			}
			t, err := k.c.Template(k.ctx, o.ID)
			if err != nil {
				return err
			}
			nics, err := k.c.TemplateNICs(k.ctx, o.ID)
			if err != nil {
				return err
			}
			v := struct {
				templateJSON
				NICs []string `json:"nics"`
			}{templateView(t), []string{}}
			for _, n := range nics {
				name, _ := n.Name()
				v.NICs = append(v.NICs, name)
			}
			return k.print(v, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "Name:\t%s\nID:\t%s\nStatus:\t%s\nMemory, CPU:\t%s\nvNICs:\t%s\nComment:\t%s\nDescription:\t%s\n",
					v.Name, v.ID, dash(v.Status), shape(v.Memory, v.CPU), dash(joinNonEmpty(", ", v.NICs...)),
					dash(v.Comment), dash(v.Description))
			})
		}),
	}
	remove := &cobra.Command{
		Use:               "remove TEMPLATE",
		Short:             "remove a template (no VM may be based on it)",
		Args:              nargs(1),
		ValidArgsFunction: s.complete("templates"),
		RunE: s.do(func(k *cli, a []string) error {
			t, err := k.find("templates", "template", a[0])
			if err != nil {
				return err
			}
			if err := k.c.RemoveTemplate(k.ctx, t.ID); err != nil {
				return err
			}
			return k.done(removed{"template", t.ID, t.Name}, "Template %s removed", t.Name)
		}),
	}
	tmpl.AddCommand(create, show, remove)
	return []*cobra.Command{list, tmpl}
}
