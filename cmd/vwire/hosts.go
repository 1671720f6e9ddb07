package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"text/tabwriter"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
	"github.com/spf13/cobra"
)

// Hosts: list, show (status), add (and enrol), a new enrolment token,
// certificate renewal, removal.

type hostJSON struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Address        string   `json:"address"`
	Port           int64    `json:"port"`
	Status         string   `json:"status"`
	StatusDetail   string   `json:"status_detail,omitempty"`
	Cluster        *refJSON `json:"cluster,omitempty"`
	LibvirtVersion string   `json:"libvirt_version,omitempty"`
}

func hostView(h *ovirtsdk4.Host) hostJSON {
	v := hostJSON{ID: h.MustId()}
	v.Name, _ = h.Name()
	v.Address, _ = h.Address()
	v.Port, _ = h.Port()
	st, _ := h.Status()
	v.Status = string(st)
	v.StatusDetail, _ = h.StatusDetail()
	if c, ok := h.Cluster(); ok {
		v.Cluster = ref(c.Id())
	}
	if lv, ok := h.LibvirtVersion(); ok {
		v.LibvirtVersion, _ = lv.FullVersion()
	}
	return v
}

func (s *session) hostCmds(root *cobra.Command) {
	hosts := &cobra.Command{
		Use:   "hosts",
		Short: "list hosts and their status",
		Args:  nargs(0),
		RunE:  s.do(func(k *cli, _ []string) error { return k.hosts() }),
	}
	host := &cobra.Command{
		Use:   "host",
		Short: "show, add, enrol, renew or remove a host",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageErr("usage: vwire host show|add|token|renew|remove …")
		},
	}
	var cluster string
	add := &cobra.Command{
		Use:   "add NAME ADDRESS[:PORT]",
		Short: "add a host (port 54321 by default) and print its enrolment token and the agent's command line",
		Args:  nargs(2),
		RunE:  s.do(func(k *cli, a []string) error { return k.hostAdd(a[0], a[1], cluster) }),
	}
	add.Flags().StringVar(&cluster, "cluster", "Default", "the host's cluster (name or id)")
	s.completeFlag(add, "cluster", "clusters")
	show := &cobra.Command{
		Use:               "show HOST",
		Aliases:           []string{"status"},
		Short:             "a host's status and details",
		Args:              nargs(1),
		ValidArgsFunction: s.complete("hosts"),
		RunE: s.do(func(k *cli, a []string) error {
			h, err := k.find("hosts", "host", a[0])
			if err != nil {
				return err
			}
			got, err := k.c.Host(k.ctx, h.ID)
			if err != nil {
				return err
			}
			v := hostView(got)
			return k.print(v, func(w *tabwriter.Writer) {
				cl := ""
				if v.Cluster != nil {
					cl = k.nameOf("clusters", v.Cluster.ID)
				}
				fmt.Fprintf(w, "Name:\t%s\nID:\t%s\nStatus:\t%s\nDetail:\t%s\nAddress:\t%s\nCluster:\t%s\nlibvirt:\t%s\n",
					v.Name, v.ID, v.Status, dash(v.StatusDetail), net.JoinHostPort(v.Address, strconv.FormatInt(v.Port, 10)),
					dash(cl), dash(v.LibvirtVersion))
			})
		}),
	}
	host.AddCommand(add, show)
	for _, sub := range []struct{ use, short string }{
		{"token", "a new one-time enrolment token (one hour)"},
		{"renew", "renew an enrolled host's certificate, no downtime"},
		{"remove", "remove a host (it must run no VM)"},
	} {
		host.AddCommand(&cobra.Command{
			Use:               sub.use + " HOST",
			Short:             sub.short,
			Args:              nargs(1),
			ValidArgsFunction: s.complete("hosts"),
			RunE:              s.do(func(k *cli, a []string) error { return k.host(sub.use, a[0]) }),
		})
	}
	root.AddCommand(hosts, host)
}

func (k *cli) hosts() error {
	hs, err := k.c.Hosts(k.ctx)
	if err != nil {
		return err
	}
	views := make([]hostJSON, 0, len(hs))
	for _, h := range hs {
		views = append(views, hostView(h))
	}
	return k.print(views, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "NAME\tSTATUS\tADDRESS\tID")
		for _, v := range views {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", v.Name, v.Status, net.JoinHostPort(v.Address, strconv.FormatInt(v.Port, 10)), v.ID)
		}
	})
}

// vdsmPort is VDSM's port, the agent's default.
const vdsmPort = 54321

func (k *cli) hostAdd(name, address, cluster string) error {
	addr, port := address, int64(vdsmPort)
	if h, p, err := net.SplitHostPort(address); err == nil {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil || n <= 0 || n > 65535 {
			return usageErr("port %q: want 1-65535", p)
		}
		addr, port = h, n
	}
	h, err := k.c.AddHost(k.ctx, ovirtsdk4.NewHostBuilder().Name(name).Address(addr).Port(port).
		Cluster(ovirtsdk4.NewClusterBuilder().Name(cluster).MustBuild()).MustBuild())
	if err != nil {
		return err
	}
	if !k.structured() {
		fmt.Fprintf(k.out, "Host %s added (id %s); it is not trusted until its agent enrols.\n", name, h.MustId())
	}
	return k.enrolmentToken(h.MustId(), net.JoinHostPort(addr, strconv.FormatInt(port, 10)))
}

func (k *cli) host(sub, ref string) error {
	h, err := k.find("hosts", "host", ref)
	if err != nil {
		return err
	}
	switch sub {
	case "token":
		return k.enrolmentToken(h.ID, "")
	case "renew":
		if err := k.c.RenewHostCertificate(k.ctx, h.ID); err != nil {
			return err
		}
		return k.done(struct {
			Renewed string `json:"renewed"`
			ID      string `json:"id"`
		}{"host certificate", h.ID}, "Host %s has a new certificate.", h.Name)
	}
	if err := k.c.RemoveHost(k.ctx, h.ID); err != nil {
		return err
	}
	return k.done(removed{"host", h.ID, h.Name}, "Host %s removed.", h.Name)
}

// enrolmentToken asks for a host's one-time enrolment token and prints it
// with the agent's command line that uses it.
func (k *cli) enrolmentToken(hostID, listen string) error {
	tok, err := k.c.HostEnrolmentToken(k.ctx, hostID)
	if err != nil {
		return err
	}
	if k.structured() {
		return k.print(struct {
			HostID     string `json:"host_id"`
			Token      string `json:"token"`
			Expiration string `json:"expiration"`
		}{hostID, tok.Value, tok.Expiration.Format("2006-01-02T15:04:05Z07:00")}, nil)
	}
	fmt.Fprintf(k.out, "Enrolment token (one use, until %s):\n  %s\n", tok.Expiration.Local().Format("2006-01-02 15:04:05"), tok.Value)
	trust := "--engine-ca <the engine's ca.pem>"
	if k.caFile != "" {
		if fp, err := fileFingerprint(k.caFile); err == nil {
			trust = "--engine-ca-fingerprint " + fp
		}
	}
	if listen == "" {
		listen = "<address:port>"
	}
	base := k.c.URL()
	if i := strings.Index(base, "/ovirt-engine"); i >= 0 {
		base = base[:i]
	}
	fmt.Fprintf(k.out, "On the host, as root:\n  vwire-agent --listen %s --state-dir /var/lib/vwire \\\n    --enroll-url %s --enroll-token %s \\\n    %s\n",
		listen, base, tok.Value, trust)
	return nil
}
