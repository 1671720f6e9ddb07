package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
	"github.com/spf13/cobra"
)

// Host networks (issue 16): a host's NICs, attaching a network to a host
// NIC and detaching it (oVirt's setupnetworks), syncing a host's networks,
// and a network's overlay segment (vwire's vxlan_segment).

type hostNICJSON struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	MAC    string   `json:"mac,omitempty"`
	MTU    int64    `json:"mtu,omitempty"`
	Speed  int64    `json:"speed,omitempty"` // bit/s, as oVirt
	Status string   `json:"status,omitempty"`
	IP     string   `json:"ip,omitempty"`
	Slaves []string `json:"slaves,omitempty"`
}

type attachmentJSON struct {
	ID       string   `json:"id"`
	Network  *refJSON `json:"network,omitempty"`
	HostNIC  string   `json:"host_nic,omitempty"`
	InSync   bool     `json:"in_sync"`
	Mismatch []string `json:"out_of_sync,omitempty"`
}

func (s *session) hostNetCmds(root *cobra.Command) {
	var host, network *cobra.Command
	for _, c := range root.Commands() {
		switch c.Name() {
		case "host":
			host = c
		case "network":
			network = c
		}
	}
	nics := &cobra.Command{
		Use:               "nics HOST",
		Short:             "a host's NICs and its network attachments (in sync or not, and why)",
		Args:              nargs(1),
		ValidArgsFunction: s.complete("hosts"),
		RunE:              s.do(func(k *cli, a []string) error { return k.hostNICs(a[0]) }),
	}
	var nic string
	var check time.Duration
	attach := &cobra.Command{
		Use:               "attach HOST NETWORK --nic NIC",
		Short:             "put a network of the host's cluster on one of its NICs (setupnetworks)",
		Args:              nargs(2),
		ValidArgsFunction: s.complete("hosts", "networks"),
		RunE: s.do(func(k *cli, a []string) error {
			if nic == "" {
				return usageErr("usage: vwire host attach HOST NETWORK --nic NIC")
			}
			return k.hostAttach(a[0], a[1], nic, check)
		}),
	}
	attach.Flags().StringVar(&nic, "nic", "", "the host NIC (name)")
	attach.Flags().DurationVar(&check, "check-connectivity", 0, "have the host roll back unless the engine reaches it within this time (e.g. 60s)")
	detach := &cobra.Command{
		Use:               "detach HOST NETWORK",
		Short:             "take a network off a host (setupnetworks)",
		Args:              nargs(2),
		ValidArgsFunction: s.complete("hosts", "networks"),
		RunE:              s.do(func(k *cli, a []string) error { return k.hostDetach(a[0], a[1]) }),
	}
	sync := &cobra.Command{
		Use:               "sync HOST",
		Short:             "re-apply every network of a host as defined (syncallnetworks)",
		Args:              nargs(1),
		ValidArgsFunction: s.complete("hosts"),
		RunE: s.do(func(k *cli, a []string) error {
			h, err := k.find("hosts", "host", a[0])
			if err != nil {
				return err
			}
			if err := k.c.SyncAllNetworks(k.ctx, h.ID); err != nil {
				return err
			}
			return k.done(struct {
				Synced string `json:"synced"`
			}{h.ID}, "Networks of host %s synchronised.", h.Name)
		}),
	}
	host.AddCommand(nics, attach, detach, sync)

	vxlan := &cobra.Command{
		Use:               "vxlan NETWORK SEGMENT",
		Short:             "set a network's overlay segment (VXLAN VNI; 0: none), re-applied on its hosts",
		Args:              nargs(2),
		ValidArgsFunction: s.complete("networks"),
		RunE: s.do(func(k *cli, a []string) error {
			vni, err := strconv.Atoi(a[1])
			if err != nil {
				return usageErr("segment %q: want a number (0-16777215)", a[1])
			}
			n, err := k.find("networks", "network", a[0])
			if err != nil {
				return err
			}
			if err := k.c.SetNetworkVXLAN(k.ctx, n.ID, vni); err != nil {
				return err
			}
			return k.done(struct {
				ID    string `json:"id"`
				VXLAN int    `json:"vxlan_segment"`
			}{n.ID, vni}, "Network %s: overlay segment %d.", n.Name, vni)
		}),
	}
	network.AddCommand(vxlan)
	// network add --vxlan N: the segment is set once the network exists
	// (the SDK's Network has no field for it).
	for _, add := range network.Commands() {
		if add.Name() != "add" {
			continue
		}
		var vni int
		add.Flags().IntVar(&vni, "vxlan", 0, "an overlay network: its VXLAN segment (VNI, 1-16777215)")
		run := add.RunE
		add.RunE = func(cmd *cobra.Command, a []string) error {
			if err := run(cmd, a); err != nil || vni == 0 {
				return err
			}
			k, err := s.connect(cmd.Context())
			if err != nil {
				return err
			}
			dc, _ := cmd.Flags().GetString("datacenter")
			return k.setVXLANOfNew(a[0], dc, vni)
		}
	}
}

// setVXLANOfNew sets the segment of a network just added, found by its
// name in its data center.
func (k *cli) setVXLANOfNew(name, dcRef string, vni int) error {
	dc, err := k.find("datacenters", "data center", dcRef)
	if err != nil {
		return err
	}
	nets, err := k.c.Networks(k.ctx)
	if err != nil {
		return err
	}
	for _, n := range nets {
		nn, _ := n.Name()
		d, ok := n.DataCenter()
		if nn == name && ok && d.MustId() == dc.ID {
			if err := k.c.SetNetworkVXLAN(k.ctx, n.MustId(), vni); err != nil {
				return fmt.Errorf("network %s added, but not its overlay segment: %w", name, err)
			}
			if !k.structured() {
				fmt.Fprintf(k.out, "Overlay segment %d.\n", vni)
			}
			return nil
		}
	}
	return fmt.Errorf("network %s added, but not found to set its overlay segment", name)
}

func (k *cli) hostNICs(hostRef string) error {
	h, err := k.find("hosts", "host", hostRef)
	if err != nil {
		return err
	}
	nics, err := k.c.HostNICs(k.ctx, h.ID)
	if err != nil {
		return err
	}
	atts, err := k.c.NetworkAttachments(k.ctx, h.ID)
	if err != nil {
		return err
	}
	var out struct {
		NICs        []hostNICJSON    `json:"host_nics"`
		Attachments []attachmentJSON `json:"network_attachments"`
	}
	for _, n := range nics {
		v := hostNICJSON{ID: n.MustId()}
		v.Name, _ = n.Name()
		if m, ok := n.Mac(); ok {
			v.MAC, _ = m.Address()
		}
		v.MTU, _ = n.Mtu()
		v.Speed, _ = n.Speed()
		st, _ := n.Status()
		v.Status = string(st)
		if ip, ok := n.Ip(); ok {
			v.IP, _ = ip.Address()
		}
		if b, ok := n.Bonding(); ok {
			if sl, ok := b.Slaves(); ok {
				for _, s := range sl.Slice() {
					v.Slaves = append(v.Slaves, s.MustId())
				}
			}
		}
		out.NICs = append(out.NICs, v)
	}
	for _, a := range atts {
		v := attachmentJSON{ID: a.MustId()}
		if n, ok := a.Network(); ok {
			v.Network = ref(n.Id())
		}
		if hn, ok := a.HostNic(); ok {
			v.HostNIC, _ = hn.Name()
		}
		v.InSync, _ = a.InSync()
		if rc, ok := a.ReportedConfigurations(); ok {
			for _, r := range rc.Slice() {
				if in, _ := r.InSync(); !in {
					name, _ := r.Name()
					exp, _ := r.ExpectedValue()
					act, _ := r.ActualValue()
					v.Mismatch = append(v.Mismatch, fmt.Sprintf("%s is %s, expected %s", name, dash(act), dash(exp)))
				}
			}
		}
		out.Attachments = append(out.Attachments, v)
	}
	return k.print(out, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "NIC\tSTATUS\tMAC\tMTU\tSPEED\tIP\tNETWORKS")
		for _, n := range out.NICs {
			var nets []string
			for _, a := range out.Attachments {
				if a.HostNIC == n.Name && a.Network != nil {
					s := k.nameOf("networks", a.Network.ID)
					if !a.InSync {
						s += " (out of sync: " + strings.Join(a.Mismatch, "; ") + ")"
					}
					nets = append(nets, s)
				}
			}
			speed := ""
			if n.Speed > 0 {
				speed = strconv.FormatInt(n.Speed/1_000_000, 10) + " Mb/s"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", n.Name, dash(n.Status), dash(n.MAC), n.MTU, dash(speed), dash(n.IP),
				dash(strings.Join(nets, ", ")))
		}
	})
}

func (k *cli) hostAttach(hostRef, netRef, nic string, check time.Duration) error {
	h, err := k.find("hosts", "host", hostRef)
	if err != nil {
		return err
	}
	n, err := k.find("networks", "network", netRef)
	if err != nil {
		return err
	}
	a := ovirtsdk4.NewNetworkAttachmentBuilder().Network(ovirtsdk4.NewNetworkBuilder().Id(n.ID).MustBuild()).
		HostNic(ovirtsdk4.NewHostNicBuilder().Name(nic).MustBuild()).MustBuild()
	if err := k.c.SetupNetworks(k.ctx, h.ID, []*ovirtsdk4.NetworkAttachment{a}, nil, check); err != nil {
		return err
	}
	return k.done(struct {
		Host    string `json:"host"`
		Network string `json:"network"`
		NIC     string `json:"host_nic"`
	}{h.ID, n.ID, nic}, "Network %s is on host %s's %s.", n.Name, h.Name, nic)
}

func (k *cli) hostDetach(hostRef, netRef string) error {
	h, err := k.find("hosts", "host", hostRef)
	if err != nil {
		return err
	}
	n, err := k.find("networks", "network", netRef)
	if err != nil {
		return err
	}
	atts, err := k.c.NetworkAttachments(k.ctx, h.ID)
	if err != nil {
		return err
	}
	for _, a := range atts {
		if an, ok := a.Network(); ok && an.MustId() == n.ID {
			if err := k.c.SetupNetworks(k.ctx, h.ID, nil, []string{a.MustId()}, 0); err != nil {
				return err
			}
			return k.done(removed{"network attachment", a.MustId(), n.Name}, "Network %s is off host %s.", n.Name, h.Name)
		}
	}
	return usageErr("network %s is not attached to host %s", n.Name, h.Name)
}
