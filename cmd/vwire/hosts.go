package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"text/tabwriter"

	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire/client"
)

// Hosts: list, add (and enrol), a new enrolment token, certificate
// renewal, removal.

func (k *cli) hosts() error {
	hs, err := k.c.Hosts(k.ctx)
	if err != nil {
		return err
	}
	type hostJSON struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Address string `json:"address"`
		Port    int64  `json:"port"`
		Status  string `json:"status"`
	}
	views := make([]hostJSON, 0, len(hs))
	for _, h := range hs {
		v := hostJSON{ID: h.MustId()}
		v.Name, _ = h.Name()
		v.Address, _ = h.Address()
		v.Port, _ = h.Port()
		st, _ := h.Status()
		v.Status = string(st)
		views = append(views, v)
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

func (k *cli) host(sub string, args []string) error {
	switch sub {
	case "add":
		fs := flag.NewFlagSet("host add", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		cluster := fs.String("cluster", "Default", "")
		var pos []string
		for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
			pos, args = append(pos, args[0]), args[1:]
		}
		if err := fs.Parse(args); err != nil {
			return err
		}
		if pos = append(pos, fs.Args()...); len(pos) != 2 {
			return errors.New("usage: vwire host add NAME ADDRESS[:PORT] [--cluster C]")
		}
		addr, port := pos[1], int64(vdsmPort)
		if h, p, err := net.SplitHostPort(pos[1]); err == nil {
			n, err := strconv.ParseInt(p, 10, 32)
			if err != nil || n <= 0 || n > 65535 {
				return fmt.Errorf("port %q: want 1-65535", p)
			}
			addr, port = h, n
		}
		h, err := k.c.AddHost(k.ctx, ovirtsdk4.NewHostBuilder().Name(pos[0]).Address(addr).Port(port).
			Cluster(ovirtsdk4.NewClusterBuilder().Name(*cluster).MustBuild()).MustBuild())
		if err != nil {
			return err
		}
		if !k.asJSON {
			fmt.Fprintf(k.out, "Host %s added (id %s); it is not trusted until its agent enrols.\n", pos[0], h.MustId())
		}
		return k.enrolmentToken(h.MustId(), net.JoinHostPort(addr, strconv.FormatInt(port, 10)))
	case "token", "renew", "remove":
		if len(args) != 1 {
			return fmt.Errorf("usage: vwire host %s HOST", sub)
		}
		h, err := k.c.FindIn(k.ctx, "hosts", args[0])
		if le, ok := errors.AsType[*client.LookupError](err); ok {
			le.Kind = "host"
		}
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
			fmt.Fprintf(k.out, "Host %s has a new certificate.\n", h.Name)
			return nil
		}
		if err := k.c.RemoveHost(k.ctx, h.ID); err != nil {
			return err
		}
		fmt.Fprintf(k.out, "Host %s removed.\n", h.Name)
		return nil
	}
	return errors.New("usage: vwire host add|token|renew|remove …")
}

// enrolmentToken asks for a host's one-time enrolment token and prints it
// with the agent's command line that uses it.
func (k *cli) enrolmentToken(hostID, listen string) error {
	tok, err := k.c.HostEnrolmentToken(k.ctx, hostID)
	if err != nil {
		return err
	}
	if k.asJSON {
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
