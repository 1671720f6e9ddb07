// Command vwire is the command-line client of the vwire engine: list, add,
// update and remove vNICs, plug and unplug them, pull their cable, move them
// between networks, start and stop VMs, and follow the audit events.
//
// It talks to the engine's oVirt-compatible REST API; see "vwire help".
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

const usage = `vwire — manage vNICs through a vwire (or oVirt) engine

Usage: vwire [global flags] <command> [arguments]

Commands:
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

VM and NIC are names or ids; PROFILE is a vNIC profile name (a network's
default profile has the network's name) or id.

Global flags (or environment):
  --url URL        engine API (VWIRE_URL, default http://127.0.0.1:8080/ovirt-engine/api)
  --user USER      (VWIRE_USER, default admin@internal)
  --password PW    (VWIRE_PASSWORD)
  --output FORMAT  table (default) or json
`

type cli struct {
	c      *client
	out    io.Writer
	asJSON bool
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vwire:", err)
		os.Exit(1)
	}
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("vwire", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	base := fs.String("url", env("VWIRE_URL", "http://127.0.0.1:8080/ovirt-engine/api"), "")
	user := fs.String("user", env("VWIRE_USER", "admin@internal"), "")
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
	k := &cli{c: newClient(*base, *user, *pw, 2*time.Minute), out: out, asJSON: *output == "json"}
	cmd, a := rest[0], rest[1:]
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
		return k.update(a[1], a[2], obj{"linked": strconv.FormatBool(a[0] == "up")})
	case "network":
		if len(a) != 3 {
			return errors.New("usage: vwire network VM NIC PROFILE|--none")
		}
		body := obj{"vnic_profile": obj{}}
		if a[2] != "--none" {
			p, err := k.profile(a[2])
			if err != nil {
				return err
			}
			body["vnic_profile"] = obj{"id": p}
		}
		return k.update(a[0], a[1], body)
	case "events":
		return k.events(a)
	}
	return fmt.Errorf("unknown command %q; see vwire help", cmd)
}

// vmByName resolves a VM by id or by an exact-name search.
func (k *cli) vmByName(ref string) (obj, error) {
	if v, err := k.c.get("/vms/" + url.PathEscape(ref)); err == nil {
		return v, nil
	}
	res, err := k.c.get("/vms?search=" + url.QueryEscape(`name="`+ref+`"`))
	if err != nil {
		return nil, err
	}
	for _, v := range res.list("vm") {
		if v.str("name") == ref {
			return v, nil
		}
	}
	return nil, fmt.Errorf("no VM named %q", ref)
}

func (k *cli) profile(ref string) (string, error) {
	p, err := k.c.find("vnicprofiles", "vnic_profile", ref)
	if err != nil {
		return "", err
	}
	return p.str("id"), nil
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
	res, err := k.c.get("/vms")
	if err != nil {
		return err
	}
	hosts := map[string]string{}
	if hs, err := k.c.get("/hosts"); err == nil {
		for _, h := range hs.list("host") {
			hosts[h.str("id")] = h.str("name")
		}
	}
	vms := res.list("vm")
	return k.print(vms, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "NAME\tSTATUS\tHOST\tID")
		for _, v := range vms {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", v.str("name"), v.str("status"), dash(hosts[v.str("host.id")]), v.str("id"))
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
	vm, err := k.vmByName(ref)
	if err != nil {
		return err
	}
	res, err := k.c.post("/vms/"+vm.str("id")+"/"+action, obj{})
	if err != nil {
		return err
	}
	v := obj(nil)
	if m, ok := res["vm"].(map[string]any); ok {
		v = m
	}
	return k.print(res, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "VM %s is %s\n", v.str("name"), v.str("status"))
	})
}

func (k *cli) nics(ref string) error {
	vm, err := k.vmByName(ref)
	if err != nil {
		return err
	}
	res, err := k.c.get("/vms/" + vm.str("id") + "/nics")
	if err != nil {
		return err
	}
	profiles := map[string]string{}
	if ps, err := k.c.get("/vnicprofiles"); err == nil {
		for _, p := range ps.list("vnic_profile") {
			profiles[p.str("id")] = p.str("name")
		}
	}
	nics := res.list("nic")
	return k.print(nics, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "NAME\tMAC\tTYPE\tPROFILE\tLINKED\tPLUGGED\tSYNCED\tHOST: PRESENT\tLINK\tBRIDGE\tPCI")
		for _, n := range nics {
			prof := "<empty network>"
			if id := n.str("vnic_profile.id"); id != "" {
				prof = dash(profiles[id])
			}
			present, link, bridge, pci := "-", "-", "-", "-"
			if rs, ok := n["reported_state"].(map[string]any); ok {
				r := obj(rs)
				present = r.str("present")
				link, bridge, pci = dash(r.str("link_state")), dash(r.str("bridge")), dash(r.str("pci_address"))
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.str("name"), n.str("mac.address"), n.str("interface"), prof,
				n.str("linked"), n.str("plugged"), n.str("synced"), present, link, bridge, pci)
		}
	})
}

// nicFlags parses the flags shared by nic add and nic update into a body.
func (k *cli) nicFlags(args []string, add bool) (obj, []string, error) {
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
	body := obj{}
	if *name != "" {
		body["name"] = *name
	}
	if *mac != "" {
		body["mac"] = obj{"address": *mac}
	}
	if *iface != "" {
		body["interface"] = *iface
	}
	switch {
	case *profile != "" && *noNet:
		return nil, nil, errors.New("--profile and --no-network exclude each other")
	case *profile != "":
		id, err := k.profile(*profile)
		if err != nil {
			return nil, nil, err
		}
		body["vnic_profile"] = obj{"id": id}
	case *noNet:
		body["vnic_profile"] = obj{}
	}
	for flagName, v := range map[string]string{"linked": *linked, "plugged": *plugged} {
		if v == "" {
			continue
		}
		if v != "true" && v != "false" {
			return nil, nil, fmt.Errorf("--%s must be true or false", flagName)
		}
		body[flagName] = v
	}
	if add {
		if *unlinked {
			body["linked"] = "false"
		}
		if *unplugged {
			body["plugged"] = "false"
		}
	}
	return body, pos, nil
}

func (k *cli) nic(sub string, args []string) error {
	switch sub {
	case "add":
		body, pos, err := k.nicFlags(args, true)
		if err != nil {
			return err
		}
		if len(pos) != 2 {
			return errors.New("usage: vwire nic add VM NAME [flags]")
		}
		vm, err := k.vmByName(pos[0])
		if err != nil {
			return err
		}
		body["name"] = pos[1]
		n, err := k.c.post("/vms/"+vm.str("id")+"/nics", body)
		if err != nil {
			return err
		}
		return k.printNic(n, "added")
	case "update":
		body, pos, err := k.nicFlags(args, false)
		if err != nil {
			return err
		}
		if len(pos) != 2 {
			return errors.New("usage: vwire nic update VM NIC [flags]")
		}
		return k.update(pos[0], pos[1], body)
	case "remove":
		if len(args) != 2 {
			return errors.New("usage: vwire nic remove VM NIC")
		}
		vm, n, err := k.resolveNic(args[0], args[1])
		if err != nil {
			return err
		}
		if _, err := k.c.delete("/vms/" + vm + "/nics/" + n.str("id")); err != nil {
			return err
		}
		fmt.Fprintf(k.out, "vNIC %s removed\n", n.str("name"))
		return nil
	case "plug", "unplug":
		if len(args) != 2 {
			return fmt.Errorf("usage: vwire nic %s VM NIC", sub)
		}
		return k.update(args[0], args[1], obj{"plugged": strconv.FormatBool(sub == "plug")})
	}
	return fmt.Errorf("unknown nic command %q", sub)
}

func (k *cli) resolveNic(vmRef, nicRef string) (string, obj, error) {
	vm, err := k.vmByName(vmRef)
	if err != nil {
		return "", nil, err
	}
	n, err := k.c.nic(vm.str("id"), nicRef)
	if err != nil {
		return "", nil, err
	}
	return vm.str("id"), n, nil
}

func (k *cli) update(vmRef, nicRef string, body obj) error {
	vm, n, err := k.resolveNic(vmRef, nicRef)
	if err != nil {
		return err
	}
	res, err := k.c.put("/vms/"+vm+"/nics/"+n.str("id"), body)
	if err != nil {
		return err
	}
	return k.printNic(res, "updated")
}

func (k *cli) printNic(n obj, what string) error {
	return k.print(n, func(w *tabwriter.Writer) {
		net := "<empty network>"
		if n.str("vnic_profile.id") != "" {
			net = "profile " + n.str("vnic_profile.id")
		}
		fmt.Fprintf(w, "vNIC %s %s: mac %s, %s, linked %s, plugged %s, synced %s\n", n.str("name"), what,
			n.str("mac.address"), net, n.str("linked"), n.str("plugged"), n.str("synced"))
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
	res, err := k.c.get("/events?max=" + strconv.Itoa(*max))
	if err != nil {
		return err
	}
	evs := res.list("event")
	show := func(evs []obj) {
		if k.asJSON {
			enc := json.NewEncoder(k.out)
			for _, e := range evs {
				enc.Encode(e)
			}
			return
		}
		for _, e := range evs {
			t := ""
			if ms, err := strconv.ParseInt(e.str("time"), 10, 64); err == nil {
				t = time.UnixMilli(ms).Format("2006-01-02 15:04:05")
			}
			fmt.Fprintf(k.out, "%-6s %s  %-5s %-7s %s\n", e.str("id"), t, e.str("code"), e.str("severity"), e.str("description"))
		}
	}
	if !*follow {
		if k.asJSON {
			return k.print(evs, nil)
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
		last, _ = strconv.ParseInt(evs[0].str("id"), 10, 64)
	}
	for {
		time.Sleep(*interval)
		res, err := k.c.get("/events?from=" + strconv.FormatInt(last, 10))
		if err != nil {
			return err
		}
		evs := res.list("event")
		for i := len(evs) - 1; i >= 0; i-- {
			show(evs[i : i+1])
			if id, _ := strconv.ParseInt(evs[i].str("id"), 10, 64); id > last {
				last = id
			}
		}
	}
}
