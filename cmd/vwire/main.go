// Command vwire is the command-line client of the vwire engine: list, add,
// update and remove vNICs, plug and unplug them, pull their cable, move them
// between networks, start and stop VMs, follow the audit events, log in
// (trusting the engine's CA on first use by its fingerprint), and manage
// users and their permissions.
//
// It talks to the engine's oVirt-compatible REST API; see "vwire help".
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire/client"
)

const usage = `vwire — manage vNICs, and who may change them, through a vwire (or oVirt) engine

Usage: vwire [global flags] <command> [arguments]

Session:
  login [--accept-fingerprint SHA256] [--password-stdin]
                                        trust the engine (its CA: --ca-file, kept, or fetched
                                        and shown by fingerprint on first use), keep a token
  logout                                end the kept token

vNICs and VMs:
  vms                                   list VMs
  vm start VM | vm stop VM              start or power off a VM
  nics VM                               list a VM's vNICs (desired and host-reported state)
  nic add VM NAME [--profile P] [--mac M] [--interface T] [--unlinked] [--unplugged]
  nic update VM NIC [--name N] [--mac M] [--interface T] [--profile P | --no-network]
                    [--linked true|false] [--plugged true|false]
  nic remove VM NIC
  nic plug VM NIC | nic unplug VM NIC   hot-plug or hot-unplug
  link up VM NIC | link down VM NIC     plug or pull the virtual cable
  network VM NIC PROFILE | network VM NIC --none
                                        move the vNIC to a profile's network, or to no network
  events [--max N] [--follow]           audit events, newest first (--follow: stream new ones)

Hosts:
  hosts                                 list hosts
  host add NAME ADDRESS[:PORT] [--cluster C]
                                        add a host (port 54321 by default) and print its
                                        enrolment token and the agent's command line
  host token HOST                       a new one-time enrolment token (one hour)
  host renew HOST                       renew an enrolled host's certificate, no downtime
  host remove HOST

Users and permissions:
  users                                 list users
  user add USER | user remove USER | user password USER
                                        (the new password from the terminal, or stdin's first line)
  roles                                 list roles (SuperUser, UserVmManager, VnicProfileUser, …)
  grant USER ROLE ON | revoke USER ROLE ON
  permissions ON | permissions --user USER
      where ON is --vm VM | --profile PROFILE | --network NET | --cluster C
                  | --datacenter DC | --host H | --template T | --system

VM, NIC, USER, ROLE and objects are names or ids; PROFILE is a vNIC profile name (a
network's default profile has the network's name) or id.

Global flags (or environment):
  --url URL        engine API (VWIRE_URL; default: the engine last logged in to, else
                   https://127.0.0.1:8080/ovirt-engine/api)
  --ca-file FILE   the engine's CA certificate (VWIRE_CA_FILE; default: the one kept at
                   login; the engine writes it to <data>/pki/ca.pem)
  --user USER      (VWIRE_USER, default: the user logged in, else admin@internal)
  --password PW    (VWIRE_PASSWORD): HTTP Basic instead of the kept token
  --output FORMAT  table (default) or json

The token and the trusted CA are kept in $VWIRE_CONFIG, else ~/.config/vwire/config.json (0600).
`

type cli struct {
	caFile string // the CA the engine is verified with ("": the system's)
	c      *client.Client
	ctx    context.Context
	out    io.Writer
	asJSON bool
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vwire:", err)
		os.Exit(1)
	}
}

// globals are the global flags, with what the configuration adds: the
// engine last logged in to, its CA and its token.
type globals struct {
	cfg                   *config
	url, caFile           string
	user, password, token string
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("vwire", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	base := fs.String("url", os.Getenv("VWIRE_URL"), "")
	caFile := fs.String("ca-file", os.Getenv("VWIRE_CA_FILE"), "")
	user := fs.String("user", os.Getenv("VWIRE_USER"), "")
	pw := fs.String("password", os.Getenv("VWIRE_PASSWORD"), "")
	output := fs.String("output", "table", "")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w\n\n%s", err, usage)
	}
	rest := fs.Args()
	if len(rest) == 0 || rest[0] == "help" || rest[0] == "-h" || rest[0] == "--help" {
		fmt.Fprint(out, usage)
		return nil
	}
	if *output != "table" && *output != "json" {
		return fmt.Errorf("--output must be table or json, not %q", *output)
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	g := &globals{cfg: cfg, url: *base, caFile: *caFile, user: *user, password: *pw}
	if rest[0] == "login" {
		return g.login(rest[1:], out)
	}
	if g.url == "" {
		g.url = cmp.Or(cfg.Current, defaultURL)
	}
	e := cfg.Engines[g.url]
	if e != nil && g.caFile == "" {
		g.caFile = e.CAFile
	}
	switch rest[0] {
	case "logout":
		return g.logout(out)
	}
	// A password given is used (HTTP Basic); else the kept token of the
	// engine, if it is the user's.
	if g.password == "" && e != nil && e.Token != "" && (g.user == "" || g.user == e.User) {
		g.user, g.token = e.User, e.Token
	}
	g.user = cmp.Or(g.user, defaultUser)
	if g.password == "" && g.token == "" {
		return fmt.Errorf("not logged in to %s: run vwire login, or give --password (VWIRE_PASSWORD)", g.url)
	}
	c, err := client.New(client.Options{URL: g.url, User: g.user, Password: g.password, Token: g.token,
		Timeout: 2 * time.Minute, CAFile: g.caFile})
	if err != nil {
		return err
	}
	err = dispatch(&cli{caFile: g.caFile, c: c, ctx: context.Background(), out: out, asJSON: *output == "json"}, rest[0], rest[1:])
	if g.token != "" && client.Status(err) == http.StatusUnauthorized {
		return fmt.Errorf("%w\nthe session of %s at %s has ended (unused for longer than the engine's idle timeout, "+
			"revoked, or the password changed): run vwire login", err, g.user, g.url)
	}
	return err
}

const (
	defaultURL  = "https://127.0.0.1:8080/ovirt-engine/api"
	defaultUser = "admin@internal"
)

func dispatch(k *cli, cmd string, a []string) error {
	switch cmd {
	case "vms":
		return k.vms()
	case "vm":
		if len(a) != 2 || (a[0] != "start" && a[0] != "stop") {
			return errors.New("usage: vwire vm start|stop VM")
		}
		return k.vmAction(a[0], a[1])
	case "nics":
		if len(a) != 1 {
			return errors.New("usage: vwire nics VM")
		}
		return k.nics(a[0])
	case "nic":
		if len(a) == 0 {
			return errors.New("usage: vwire nic add|update|remove|plug|unplug …")
		}
		return k.nic(a[0], a[1:])
	case "link":
		if len(a) != 3 || (a[0] != "up" && a[0] != "down") {
			return errors.New("usage: vwire link up|down VM NIC")
		}
		return k.update(a[1], a[2], ovirtsdk4.NewNicBuilder().Linked(a[0] == "up"))
	case "network":
		if len(a) != 3 {
			return errors.New("usage: vwire network VM NIC PROFILE|--none")
		}
		profile := ""
		if a[2] != "--none" {
			var err error
			if profile, err = k.profileID(a[2]); err != nil {
				return err
			}
		}
		return k.update(a[0], a[1], ovirtsdk4.NewNicBuilder().VnicProfile(client.ProfileRef(profile)))
	case "events":
		return k.events(a)
	case "users":
		return k.users()
	case "user":
		if len(a) == 0 {
			return errors.New("usage: vwire user add|remove|password USER")
		}
		return k.user(a[0], a[1:])
	case "roles":
		return k.roles()
	case "hosts":
		return k.hosts()
	case "host":
		if len(a) == 0 {
			return errors.New("usage: vwire host add|token|renew|remove …")
		}
		return k.host(a[0], a[1:])
	case "grant":
		return k.grant(a)
	case "revoke":
		return k.revoke(a)
	case "permissions":
		return k.permissions(a)
	}
	return fmt.Errorf("unknown command %q; see vwire help", cmd)
}

func (k *cli) print(v any, table func(w *tabwriter.Writer)) error {
	if k.asJSON {
		enc := json.NewEncoder(k.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	w := tabwriter.NewWriter(k.out, 0, 4, 2, ' ', 0)
	table(w)
	return w.Flush()
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
		fmt.Fprintln(w, "NAME\tSTATUS\tHOST\tID")
		for _, v := range views {
			host := ""
			if v.Host != nil {
				host = hosts[v.Host.ID]
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", v.Name, v.Status, dash(host), v.ID)
		}
	})
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (k *cli) vmAction(action, ref string) error {
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
	v := vmView(got)
	if v.Name == "" {
		v.Name, _ = vm.Name()
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
		fmt.Fprintln(w, "NAME\tMAC\tTYPE\tPROFILE\tLINKED\tPLUGGED\tSYNCED\tHOST: PRESENT\tLINK\tBRIDGE\tPCI")
		for _, n := range views {
			prof := "<empty network>"
			if n.VnicProfile != nil {
				prof = dash(profiles[n.VnicProfile.ID])
			}
			mac := ""
			if n.MAC != nil {
				mac = n.MAC.Address
			}
			present, link, bridge, pci := "-", "-", "-", "-"
			if r := n.ReportedState; r != nil {
				present = strconv.FormatBool(r.Present)
				link, bridge, pci = dash(r.LinkState), dash(r.Bridge), dash(r.PCIAddress)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, mac, n.Interface, prof,
				n.Linked, n.Plugged, n.Synced, present, link, bridge, pci)
		}
	})
}

// nicFlags parses the flags shared by nic add and nic update into a vNIC
// of the fields to set.
func (k *cli) nicFlags(args []string, add bool) (*ovirtsdk4.NicBuilder, []string, error) {
	fs := flag.NewFlagSet("nic", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "", "")
	mac := fs.String("mac", "", "")
	iface := fs.String("interface", "", "")
	profile := fs.String("profile", "", "")
	noNet := fs.Bool("no-network", false, "")
	linked := fs.String("linked", "", "")
	plugged := fs.String("plugged", "", "")
	unlinked := fs.Bool("unlinked", false, "")
	unplugged := fs.Bool("unplugged", false, "")
	// Positional arguments come first; flags follow them.
	var pos []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		pos, args = append(pos, args[0]), args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	pos = append(pos, fs.Args()...)
	b := ovirtsdk4.NewNicBuilder()
	if *name != "" {
		b.Name(*name)
	}
	if *mac != "" {
		b.Mac(ovirtsdk4.NewMacBuilder().Address(*mac).MustBuild())
	}
	if *iface != "" {
		b.Interface(ovirtsdk4.NicInterface(*iface))
	}
	switch {
	case *profile != "" && *noNet:
		return nil, nil, errors.New("--profile and --no-network exclude each other")
	case *profile != "":
		id, err := k.profileID(*profile)
		if err != nil {
			return nil, nil, err
		}
		b.VnicProfile(client.ProfileRef(id))
	case *noNet:
		b.VnicProfile(client.ProfileRef(""))
	}
	for _, f := range []struct {
		name, v string
		set     func(bool) *ovirtsdk4.NicBuilder
	}{{"linked", *linked, b.Linked}, {"plugged", *plugged, b.Plugged}} {
		if f.v == "" {
			continue
		}
		if f.v != "true" && f.v != "false" {
			return nil, nil, fmt.Errorf("--%s must be true or false", f.name)
		}
		f.set(f.v == "true")
	}
	if add {
		if *unlinked {
			b.Linked(false)
		}
		if *unplugged {
			b.Plugged(false)
		}
	}
	return b, pos, nil
}

func (k *cli) nic(sub string, args []string) error {
	switch sub {
	case "add":
		b, pos, err := k.nicFlags(args, true)
		if err != nil {
			return err
		}
		if len(pos) != 2 {
			return errors.New("usage: vwire nic add VM NAME [flags]")
		}
		vm, err := k.c.FindVM(k.ctx, pos[0])
		if err != nil {
			return err
		}
		nic, err := b.Name(pos[1]).Build()
		if err != nil {
			return err
		}
		n, err := k.c.AddNIC(k.ctx, vm.MustId(), nic)
		if err != nil {
			return err
		}
		return k.printNic(n, "added")
	case "update":
		b, pos, err := k.nicFlags(args, false)
		if err != nil {
			return err
		}
		if len(pos) != 2 {
			return errors.New("usage: vwire nic update VM NIC [flags]")
		}
		return k.update(pos[0], pos[1], b)
	case "remove":
		if len(args) != 2 {
			return errors.New("usage: vwire nic remove VM NIC")
		}
		vm, n, err := k.resolveNic(args[0], args[1])
		if err != nil {
			return err
		}
		if err := k.c.RemoveNIC(k.ctx, vm, n.MustId()); err != nil {
			return err
		}
		name, _ := n.Name()
		fmt.Fprintf(k.out, "vNIC %s removed\n", name)
		return nil
	case "plug", "unplug":
		if len(args) != 2 {
			return fmt.Errorf("usage: vwire nic %s VM NIC", sub)
		}
		return k.update(args[0], args[1], ovirtsdk4.NewNicBuilder().Plugged(sub == "plug"))
	}
	return fmt.Errorf("unknown nic command %q", sub)
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

func (k *cli) printNic(nic *client.NIC, what string) error {
	n := nicView(nic)
	return k.print(n, func(w *tabwriter.Writer) {
		net, mac := "<empty network>", ""
		if n.VnicProfile != nil {
			net = "profile " + n.VnicProfile.ID
		}
		if n.MAC != nil {
			mac = n.MAC.Address
		}
		fmt.Fprintf(w, "vNIC %s %s: mac %s, %s, linked %s, plugged %s, synced %s\n", n.Name, what,
			mac, net, n.Linked, n.Plugged, n.Synced)
	})
}

func (k *cli) events(args []string) error {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	max := fs.Int("max", 20, "")
	follow := fs.Bool("follow", false, "")
	interval := fs.Duration("interval", time.Second, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	evs, err := k.c.Events(k.ctx, 0, *max)
	if err != nil {
		return err
	}
	show := func(evs []*ovirtsdk4.Event) {
		if k.asJSON {
			enc := json.NewEncoder(k.out)
			for _, e := range evs {
				enc.Encode(eventView(e))
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
	if !*follow {
		if k.asJSON {
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
		time.Sleep(*interval)
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
