package main

import (
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
	"github.com/spf13/cobra"

	"vwire.dev/vwire/client"
)

// ---- vNIC profiles: what their vNICs get (port mirroring, QoS, network
// filter, pass-through) and vwire's guest notification of a move.

func (s *session) profileCmds() []*cobra.Command {
	var netFilter string
	list := &cobra.Command{
		Use:   "profiles",
		Short: "list vNIC profiles",
		Args:  nargs(0),
		RunE: s.do(func(k *cli, _ []string) error {
			var ps []*ovirtsdk4.VnicProfile
			var err error
			if netFilter != "" {
				n, err := k.find("networks", "network", netFilter)
				if err != nil {
					return err
				}
				ps, err = k.c.NetworkProfiles(k.ctx, n.ID)
				if err != nil {
					return err
				}
			} else if ps, err = k.c.Profiles(k.ctx); err != nil {
				return err
			}
			views := make([]profileJSON, 0, len(ps))
			for _, p := range ps {
				views = append(views, profileView(p))
			}
			nets := k.names("networks")
			return k.print(views, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "NAME\tNETWORK\tID\tDESCRIPTION")
				for _, v := range views {
					n := ""
					if v.Network != nil {
						n = nets[v.Network.ID]
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", v.Name, dash(n), v.ID, v.Description)
				}
			})
		}),
	}
	list.Flags().StringVar(&netFilter, "network", "", "only the profiles of this network")
	s.completeFlag(list, "network", "networks")

	profile := group("profile", "add, show, update or remove a vNIC profile", "profile add|show|update|remove …")
	var pf struct {
		network, notify, qos, filter string
		hold                         time.Duration
		mirroring, passThrough       bool
	}
	var add *cobra.Command
	add = &cobra.Command{
		Use:   "add NAME",
		Short: "add a vNIC profile to a network",
		Args:  nargs(1),
		RunE: s.do(func(k *cli, a []string) error {
			if pf.network == "" {
				return usageErr("usage: vwire profile add NAME --network NET [--guest-notification none|link_bounce|announce] [--link-bounce-hold DURATION] " +
					"[--qos QOS] [--port-mirroring] [--network-filter FILTER|none] [--pass-through]")
			}
			n, err := k.find("networks", "network", pf.network)
			if err != nil {
				return err
			}
			spec := client.ProfileSpec{Name: a[0], GuestNotification: pf.notify, LinkBounceHold: pf.hold,
				PortMirroring: pf.mirroring, PassThrough: pf.passThrough}
			if pf.qos != "" {
				if spec.QoSID, err = k.networkQoS(n.ID, pf.qos); err != nil {
					return err
				}
			}
			if add.Flags().Changed("network-filter") {
				spec.NetworkFilter = filterArg(pf.filter)
			} else if pf.passThrough {
				// A pass-through profile has no filter (oVirt gives none).
				spec.NetworkFilter = filterArg("none")
			}
			p, err := k.c.AddProfile(k.ctx, n.ID, spec)
			if err != nil {
				return err
			}
			v := profileView(p)
			return k.done(v, "vNIC profile %s added to network %s (id %s)", v.Name, n.Name, v.ID)
		}),
	}
	add.Flags().StringVar(&pf.network, "network", "", "the network (name or id)")
	add.Flags().StringVar(&pf.notify, "guest-notification", "", "on a move to this profile's network: none, link_bounce or announce")
	add.Flags().DurationVar(&pf.hold, "link-bounce-hold", 0, "how long link_bounce holds the link down (default 1s)")
	add.Flags().StringVar(&pf.qos, "qos", "", "a network QoS of the network's data center (name or id)")
	add.Flags().BoolVar(&pf.mirroring, "port-mirroring", false, "the vNICs receive a copy of their network's traffic")
	add.Flags().StringVar(&pf.filter, "network-filter", "", "the network filter (name or id; none: no filter; default vdsm-no-mac-spoofing)")
	add.Flags().BoolVar(&pf.passThrough, "pass-through", false, "the vNICs are host devices (no mirroring, QoS or filter)")
	s.completeFlag(add, "network", "networks")
	add.RegisterFlagCompletionFunc("guest-notification", cobra.FixedCompletions([]string{"none", "link_bounce", "announce"}, cobra.ShellCompDirectiveNoFileComp))
	s.completeFlag(add, "network-filter", "networkfilters")

	show := &cobra.Command{
		Use:               "show PROFILE",
		Short:             "a vNIC profile's details",
		Args:              nargs(1),
		ValidArgsFunction: s.complete("vnicprofiles"),
		RunE: s.do(func(k *cli, a []string) error {
			p, err := k.c.FindProfile(k.ctx, a[0])
			if err != nil {
				return err
			}
			v := profileView(p)
			note, err := k.c.ProfileNotification(k.ctx, v.ID)
			if err != nil {
				return err
			}
			v.GuestNotification = note.Mode
			v.LinkBounceHold = strconv.FormatInt(note.Hold.Milliseconds(), 10)
			return k.print(v, func(w *tabwriter.Writer) {
				n, qos, filter := "", "", ""
				if v.Network != nil {
					n = k.nameOf("networks", v.Network.ID)
				}
				if v.QoS != nil {
					qos = v.QoS.ID
					if dc := k.networkDC(v.Network); dc != "" {
						if q, err := k.c.QoS(k.ctx, dc, v.QoS.ID); err == nil {
							qos, _ = q.Name()
						}
					}
				}
				if v.NetworkFilter != nil {
					filter = k.filterName(v.NetworkFilter.ID)
				}
				mode := dash(note.Mode)
				if note.Mode == "link_bounce" {
					mode += fmt.Sprintf(" (link down for %s)", note.Hold)
				}
				passThrough := ""
				if v.PassThrough != nil {
					passThrough = v.PassThrough.Mode
				}
				fmt.Fprintf(w, "Name:\t%s\nID:\t%s\nNetwork:\t%s\nGuest notification:\t%s\nPort mirroring:\t%s\nQoS:\t%s\n"+
					"Network filter:\t%s\nPass-through:\t%s\nDescription:\t%s\n",
					v.Name, v.ID, dash(n), mode, dash(v.PortMirroring), dash(qos), dash(filter), dash(passThrough), dash(v.Description))
			})
		}),
	}

	var uf struct {
		desc, qos, filter, mirroring, passThrough string
		noQoS                                     bool
	}
	var update *cobra.Command
	update = &cobra.Command{
		Use:               "update PROFILE",
		Short:             "change a vNIC profile; its running vNICs follow (QoS, mirroring, filter)",
		Args:              nargs(1),
		ValidArgsFunction: s.complete("vnicprofiles"),
		RunE: s.do(func(k *cli, a []string) error {
			if uf.noQoS && uf.qos != "" {
				return usageErr("--qos and --no-qos exclude each other")
			}
			p, err := k.c.FindProfile(k.ctx, a[0])
			if err != nil {
				return err
			}
			var u client.ProfileUpdate
			f := update.Flags()
			if f.Changed("description") {
				u.Description = &uf.desc
			}
			if uf.noQoS {
				u.QoSID = new(string)
			} else if uf.qos != "" {
				net, _ := p.Network()
				id, err := k.networkQoS(net.MustId(), uf.qos)
				if err != nil {
					return err
				}
				u.QoSID = &id
			}
			if f.Changed("network-filter") {
				u.NetworkFilter = filterArg(uf.filter)
			}
			for _, b := range []struct {
				flag, value string
				dst         **bool
			}{{"port-mirroring", uf.mirroring, &u.PortMirroring}, {"pass-through", uf.passThrough, &u.PassThrough}} {
				if !f.Changed(b.flag) {
					continue
				}
				v, err := strconv.ParseBool(b.value)
				if err != nil {
					return usageErr("--%s takes true or false, not %q", b.flag, b.value)
				}
				*b.dst = &v
			}
			if p, err = k.c.UpdateProfile(k.ctx, p.MustId(), u); err != nil {
				return err
			}
			v := profileView(p)
			return k.done(v, "vNIC profile %s updated", v.Name)
		}),
	}
	update.Flags().StringVar(&uf.desc, "description", "", "a description")
	update.Flags().StringVar(&uf.qos, "qos", "", "a network QoS of the network's data center (name or id)")
	update.Flags().BoolVar(&uf.noQoS, "no-qos", false, "no QoS")
	update.Flags().StringVar(&uf.mirroring, "port-mirroring", "", "true or false")
	update.Flags().StringVar(&uf.filter, "network-filter", "", "the network filter (name or id; none: no filter)")
	update.Flags().StringVar(&uf.passThrough, "pass-through", "", "true or false (not while vNICs use the profile)")
	s.completeFlag(update, "network-filter", "networkfilters")

	remove := &cobra.Command{
		Use:               "remove PROFILE",
		Short:             "remove a vNIC profile (no vNIC may use it)",
		Args:              nargs(1),
		ValidArgsFunction: s.complete("vnicprofiles"),
		RunE: s.do(func(k *cli, a []string) error {
			p, err := k.c.FindProfile(k.ctx, a[0])
			if err != nil {
				return err
			}
			name, _ := p.Name()
			if err := k.c.RemoveProfile(k.ctx, p.MustId()); err != nil {
				return err
			}
			return k.done(removed{"vnic_profile", p.MustId(), name}, "vNIC profile %s removed", name)
		}),
	}
	profile.AddCommand(add, show, update, remove)
	return []*cobra.Command{list, profile}
}

// filterArg is a --network-filter value for the client: "none" is no filter.
func filterArg(v string) *string {
	if v == "none" {
		v = ""
	}
	return &v
}

// networkQoS resolves a QoS (name or id) in the data center of a network,
// where a profile of that network may take it.
func (k *cli) networkQoS(networkID, ref string) (string, error) {
	n, err := k.c.Network(k.ctx, networkID)
	if err != nil {
		return "", err
	}
	dc, ok := n.DataCenter()
	if !ok {
		return "", fmt.Errorf("network %s has no data center", networkID)
	}
	q, err := k.c.FindQoS(k.ctx, dc.MustId(), ref)
	if err != nil {
		return "", err
	}
	return q.MustId(), nil
}

// networkDC names the data center of a network ("" when unknown).
func (k *cli) networkDC(n *refJSON) string {
	if n == nil {
		return ""
	}
	net, err := k.c.Network(k.ctx, n.ID)
	if err != nil {
		return ""
	}
	dc, _ := net.DataCenter()
	if dc == nil {
		return ""
	}
	id, _ := dc.Id()
	return id
}

// filterName names a network filter by its id (the id when unknown).
func (k *cli) filterName(id string) string {
	fs, err := k.c.NetworkFilters(k.ctx)
	if err != nil {
		return id
	}
	for _, f := range fs {
		if fid, _ := f.Id(); fid == id {
			name, _ := f.Name()
			return name
		}
	}
	return id
}
