// Command vwire is the command-line client of the vwire engine: data
// centers, clusters, networks and their vNIC profiles, hosts, templates,
// VMs and their vNICs (plug and unplug them, pull their cable, move them
// between networks), the audit events, log in (trusting the engine's CA on
// first use by its fingerprint), users and their permissions.
//
// It talks to the engine's oVirt-compatible REST API; see "vwire help".
// Its exit codes are for scripts: see exitCode.
package main

import (
	"cmp"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"vwire.dev/vwire/client"
)

const usage = `vwire — manage networks, VMs and their vNICs, and who may change them, through a vwire
(or oVirt) engine

Usage: vwire [global flags] <command> [arguments] [flags]

Session:
  login [--accept-fingerprint SHA256] [--password-stdin]
                                        trust the engine (its CA: --ca-file, kept, or fetched
                                        and shown by fingerprint on first use), keep a token
  logout                                end the kept token

Infrastructure:
  datacenters                           list data centers
  datacenter add NAME [--description D] | datacenter remove DC
  clusters                              list clusters
  cluster add NAME [--datacenter DC] [--description D] | cluster remove C
  cluster show C                        details, drift policy, attached networks
  cluster update C --drift-policy report|enforce
                                        what the poller does about a host's drift
  cluster attach C NET | cluster detach C NET
                                        attach a network to a cluster, or detach it
  networks [--datacenter DC] [--cluster C]
                                        list networks (--cluster: those attached to it)
  network add NAME [--datacenter DC] [--vlan N] [--mtu N] [--description D] [--attach C]…
                                        a network (and its vNIC profile of the same name)
  network attach NET C | network detach NET C | network remove NET
  profiles [--network NET]              list vNIC profiles
  profile add NAME --network NET [--guest-notification none|link_bounce|announce]
              [--link-bounce-hold DURATION] [--qos QOS] [--port-mirroring]
              [--network-filter FILTER|none] [--pass-through]
  profile update PROFILE [--description D] [--qos QOS | --no-qos] [--port-mirroring true|false]
              [--network-filter FILTER|none] [--pass-through true|false]
                                        running vNICs follow its QoS, mirroring and filter
  profile show PROFILE | profile remove PROFILE
  profile rewire PROFILE --to PROFILE [--cluster C] [--search QUERY] [--no-wait] [--timeout D]
                                        move every vNIC of a profile to another, live, as a
                                        job: a progress bar, then each VM's result (exit 1 if
                                        any VM failed)
  job show ID | job cancel ID | job retry ID
                                        a job's steps; stop a rewire (VMs in progress
                                        finish); rewire again the VMs that failed
  qos list | qos show QOS | qos remove QOS
                                        a data center's network QoS (each takes
                                        --datacenter DC, or --dc; default Default)
  qos add NAME [--description D] [--inbound-average MBPS --inbound-peak MBPS --inbound-burst MB]
               [--outbound-average MBPS --outbound-peak MBPS --outbound-burst MB]
  qos update QOS [--name N] [--description D] [--inbound-…|--outbound-… N]
                 [--no-inbound] [--no-outbound]
  hosts                                 list hosts and their status
  host show HOST                        a host's status and details (also: host status)
  host add NAME ADDRESS[:PORT] [--cluster C]
                                        add a host (port 54321 by default) and print its
                                        enrolment token and the agent's command line
  host token HOST                       a new one-time enrolment token (one hour)
  host renew HOST                       renew an enrolled host's certificate, no downtime
  host remove HOST
  host nics HOST                        a host's NICs and the networks on them (in sync or why not)
  host attach HOST NETWORK --nic NIC [--check-connectivity 60s]
                                        put a network on a host NIC (setupnetworks)
  host detach HOST NETWORK | host sync HOST
                                        take a network off a host; re-apply its networks
  network vxlan NETWORK SEGMENT         an overlay network's VXLAN segment (0: none; also network add … --vxlan N)
  templates                             list templates
  template create NAME --vm VM [--description D] [--comment C]
                                        a template from a VM (its vNICs copied, no MACs)
  template show T | template remove T

VMs and vNICs:
  vms                                   list VMs
  vm create NAME [--template T] [--cluster C] [--memory SIZE] [--cpu SOCKETS[:CORES[:THREADS]]]
            [--comment C] [--description D] [--host H]…
                                        a VM from a template (Blank and cluster Default by
                                        default; SIZE: 1GiB, 512MiB, bytes; --host: pinned)
  vm show VM | vm remove VM
  vm start VM | vm stop VM [--no-wait] [--timeout DURATION]
                                        start or power off a VM, and wait until it is up or
                                        down (2m by default)
  nics VM                               list a VM's vNICs (desired and host-reported state)
  nic add VM NAME [--profile P] [--mac M] [--interface T] [--unlinked] [--unplugged]
  nic update VM NIC [--name N] [--mac M] [--interface T] [--profile P | --no-network]
                    [--linked true|false] [--plugged true|false]
  nic remove VM NIC
  nic plug VM NIC | nic unplug VM NIC [--no-wait] [--timeout DURATION]
                                        hot-plug or hot-unplug, and wait until the host
                                        reports the device present or gone
  link up VM NIC | link down VM NIC     plug or pull the virtual cable
  network VM NIC PROFILE | network VM NIC --none
                                        move the vNIC to a profile's network, or to no network
  events [--max N] [--follow]           audit events, newest first (--follow: stream new ones)

Users and permissions:
  users                                 list users
  user add USER | user remove USER | user password USER
                                        (the new password from the terminal, or stdin's first line)
  roles                                 list roles (SuperUser, UserVmManager, VnicProfileUser, …)
  grant USER ROLE ON | revoke USER ROLE ON
  permissions ON | permissions --user USER
      where ON is --vm VM | --profile PROFILE | --network NET | --cluster C
                  | --datacenter DC | --host H | --template T | --system

  completion bash|zsh|fish|powershell   a shell completion script (names complete from the
                                        engine): source <(vwire completion bash)
  help [COMMAND]                        this text, or a command's flags

Every object is named by its name or its id; PROFILE is a vNIC profile name (a network's
default profile has the network's name) or id. An object whose name is one of a command's
subcommands (a VM named "add") is named by its id there.

Global flags (or environment), before or after the command:
  --url URL        engine API (VWIRE_URL; default: the engine last logged in to, else
                   https://127.0.0.1:8080/ovirt-engine/api)
  --ca-file FILE   the engine's CA certificate (VWIRE_CA_FILE; default: the one kept at
                   login; the engine writes it to <data>/pki/ca.pem)
  --user USER      (VWIRE_USER, default: the user logged in, else admin@internal); in
                   "permissions" --user names the user whose permissions are listed
  --password PW    (VWIRE_PASSWORD): HTTP Basic instead of the kept token
  -o, --output FORMAT
                   table (default), json or yaml (the same fields as json: oVirt's JSON names)

Exit codes:
  0  done (a wait: the state was reached)
  1  the engine refused the request (a 4xx other than below: a rule, a conflict), or
     another failure
  2  usage: an unknown command or flag, or missing or extra arguments
  3  not found: no object of that name or id (or the engine answered 404)
  4  not authenticated or not allowed: not logged in, the session ended, a wrong password,
     an engine certificate not trusted, or 403
  5  the engine cannot be reached, or it failed (5xx, or a change's outcome not known yet)
  6  a wait ran out (--timeout): the change was accepted but the state was not reached

The token and the trusted CA are kept in $VWIRE_CONFIG, else ~/.config/vwire/config.json (0600).
`

// Exit codes (documented in usage).
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitNotFound    = 3
	exitAuth        = 4
	exitUnreachable = 5
	exitTimeout     = 6
)

// codedError is an error with the exit code it gives.
type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &codedError{code, err}
}

// usageErr is a usage error (exit 2).
func usageErr(format string, a ...any) error {
	return withCode(exitUsage, fmt.Errorf(format, a...))
}

// exitCode is the exit code of what run returned.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	if ce, ok := errors.AsType[*codedError](err); ok {
		return ce.code
	}
	if le, ok := errors.AsType[*client.LookupError](err); ok {
		if le.Matches == 0 {
			return exitNotFound
		}
		return exitFailed
	}
	switch s := client.Status(err); {
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return exitAuth
	case s == http.StatusNotFound:
		return exitNotFound
	case s >= 500:
		return exitUnreachable
	case s > 0:
		return exitFailed
	}
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
		return exitAuth
	}
	if _, ok := errors.AsType[x509.HostnameError](err); ok {
		return exitAuth
	}
	if _, ok := errors.AsType[x509.CertificateInvalidError](err); ok {
		return exitAuth
	}
	if _, ok := errors.AsType[*url.Error](err); ok {
		return exitUnreachable
	}
	return exitFailed
}

type cli struct {
	caFile string // the CA the engine is verified with ("": the system's)
	c      *client.Client
	ctx    context.Context
	out    io.Writer
	format string // table, json or yaml
}

// structured says whether the output is for programs (json or yaml).
func (k *cli) structured() bool { return k.format != "table" }

func main() {
	err := run(os.Args[1:], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vwire:", err)
	}
	os.Exit(exitCode(err))
}

// globals are the global flags, with what the configuration adds: the
// engine last logged in to, its CA and its token.
type globals struct {
	cfg                   *config
	url, caFile           string
	user, password, token string
	output                string
}

// session is one run of the CLI: its global flags, and the client they
// make once a command needs one.
type session struct {
	g   globals
	out io.Writer
	ran bool // a command's own code ran: an error since is not cobra's
	k   *cli
}

func run(args []string, out io.Writer) error {
	s := &session{out: out}
	root := s.root()
	root.SetArgs(args)
	root.SetOut(out)
	root.SetErr(io.Discard)
	err := root.Execute()
	if err != nil && !s.ran {
		// cobra's: an unknown command or flag, a wrong number of arguments.
		if _, ok := errors.AsType[*codedError](err); !ok {
			err = withCode(exitUsage, fmt.Errorf("%w; see vwire help", err))
		}
	}
	if err != nil && s.g.token != "" && client.Status(err) == http.StatusUnauthorized {
		return fmt.Errorf("%w\nthe session of %s at %s has ended (unused for longer than the engine's idle timeout, "+
			"revoked, or the password changed): run vwire login", err, s.g.user, s.g.url)
	}
	return err
}

const (
	defaultURL  = "https://127.0.0.1:8080/ovirt-engine/api"
	defaultUser = "admin@internal"
)

// root is the command tree.
func (s *session) root() *cobra.Command {
	root := &cobra.Command{
		Use:           "vwire",
		Short:         "manage networks, VMs and their vNICs through a vwire (or oVirt) engine",
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprint(s.out, usage)
			return nil
		},
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	pf := root.PersistentFlags()
	pf.StringVar(&s.g.url, "url", os.Getenv("VWIRE_URL"), "engine API (VWIRE_URL)")
	pf.StringVar(&s.g.caFile, "ca-file", os.Getenv("VWIRE_CA_FILE"), "the engine's CA certificate (VWIRE_CA_FILE)")
	pf.StringVar(&s.g.user, "user", os.Getenv("VWIRE_USER"), "user (VWIRE_USER)")
	pf.StringVar(&s.g.password, "password", os.Getenv("VWIRE_PASSWORD"), "password: HTTP Basic instead of the kept token (VWIRE_PASSWORD)")
	pf.StringVarP(&s.g.output, "output", "o", "table", "table, json or yaml")
	root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withCode(exitUsage, err) })
	defHelp := root.HelpFunc()
	root.SetHelpFunc(func(cmd *cobra.Command, args []string) {
		if cmd == root {
			fmt.Fprint(s.out, usage)
			return
		}
		defHelp(cmd, args)
	})

	root.AddCommand(s.loginCmd(), s.logoutCmd())
	s.infraCmds(root)
	s.rewireCmds(root) // after infraCmds: it adds to the profile group
	s.vmCmds(root)
	s.nicCmds(root)
	s.userCmds(root)
	s.hostCmds(root)
	s.hostNetCmds(root)
	return root
}

// connect makes the client of the engine from the global flags, the
// configuration and the kept token.
func (s *session) connect(ctx context.Context) (*cli, error) {
	if s.k != nil {
		return s.k, nil
	}
	g := &s.g
	if g.output != "table" && g.output != "json" && g.output != "yaml" {
		return nil, usageErr("--output must be table, json or yaml, not %q", g.output)
	}
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	g.cfg = cfg
	if g.url == "" {
		g.url = cmp.Or(cfg.Current, defaultURL)
	}
	e := cfg.Engines[g.url]
	if e != nil && g.caFile == "" {
		g.caFile = e.CAFile
	}
	// A password given is used (HTTP Basic); else the kept token of the
	// engine, if it is the user's.
	if g.password == "" && e != nil && e.Token != "" && (g.user == "" || g.user == e.User) {
		g.user, g.token = e.User, e.Token
	}
	g.user = cmp.Or(g.user, defaultUser)
	if g.password == "" && g.token == "" {
		return nil, withCode(exitAuth, fmt.Errorf("not logged in to %s: run vwire login, or give --password (VWIRE_PASSWORD)", g.url))
	}
	c, err := client.New(client.Options{URL: g.url, User: g.user, Password: g.password, Token: g.token,
		Timeout: 2 * time.Minute, CAFile: g.caFile})
	if err != nil {
		return nil, err
	}
	s.k = &cli{caFile: g.caFile, c: c, ctx: ctx, out: s.out, format: g.output}
	return s.k, nil
}

// do makes a command's RunE: connect, then f.
func (s *session) do(f func(k *cli, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		s.ran = true
		k, err := s.connect(cmd.Context())
		if err != nil {
			return err
		}
		return f(k, args)
	}
}

// nargs checks the number of positional arguments, with the command's
// usage line in the error.
func nargs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErr("usage: %s", cmd.UseLine())
		}
		return nil
	}
}

// complete offers the names of a collection's objects for the first
// positional arguments (one collection per position).
func (s *session) complete(collections ...string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) >= len(collections) || collections[len(args)] == "" {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		if collections[len(args)] == "nics" { // the vNICs of the VM before
			return s.nicNames(cmd, args[len(args)-1])
		}
		return s.names(cmd, collections[len(args)])
	}
}

// nicNames offers the names of a VM's vNICs.
func (s *session) nicNames(cmd *cobra.Command, vmRef string) ([]cobra.Completion, cobra.ShellCompDirective) {
	k, err := s.connect(cmd.Context())
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
	defer cancel()
	vm, err := k.c.FindVM(ctx, vmRef)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	nics, err := k.c.NICs(ctx, vm.MustId())
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []cobra.Completion
	for _, n := range nics {
		name, _ := n.Name()
		out = append(out, name)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeFlag offers the names of a collection's objects for a flag.
func (s *session) completeFlag(cmd *cobra.Command, flag, collection string) {
	cmd.RegisterFlagCompletionFunc(flag, func(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return s.names(cmd, collection)
	})
}

func (s *session) names(cmd *cobra.Command, collection string) ([]cobra.Completion, cobra.ShellCompDirective) {
	k, err := s.connect(cmd.Context())
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
	defer cancel()
	objs, err := k.c.Names(ctx, collection)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []cobra.Completion
	for _, o := range objs {
		out = append(out, cmp.Or(o.Name, o.ID))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// print writes v as json or yaml, or as the table table writes.
func (k *cli) print(v any, table func(w *tabwriter.Writer)) error {
	switch k.format {
	case "json":
		enc := json.NewEncoder(k.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = k.out.Write(b)
		return err
	}
	w := tabwriter.NewWriter(k.out, 0, 4, 2, ' ', 0)
	table(w)
	return w.Flush()
}

// done reports a change: its text in a table, else v.
func (k *cli) done(v any, format string, a ...any) error {
	return k.print(v, func(w *tabwriter.Writer) { fmt.Fprintf(w, format+"\n", a...) })
}

// removed is what a removal answers in json or yaml.
type removed struct {
	Removed string `json:"removed"` // the kind of object
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
}

// find resolves an object of a collection by name or id, naming its kind
// when none matches.
func (k *cli) find(collection, kind, ref string) (client.Named, error) {
	o, err := k.c.FindIn(k.ctx, collection, ref)
	if le, ok := errors.AsType[*client.LookupError](err); ok {
		le.Kind = kind
	}
	return o, err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// joinNonEmpty joins the non-empty strings.
func joinNonEmpty(sep string, ss ...string) string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, sep)
}
