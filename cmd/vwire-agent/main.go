// Command vwire-agent runs a vwire host agent: VDSM's JSON-RPC verbs over
// mutual TLS (once enrolled with the engine; see package pki) on a
// hypervisor, by default the host's libvirt (qemu:///system), or the
// simulated hypervisor with --hypervisor sim. It realises the engine's
// networks on the host (package hypervisor/hostnet): through netlink with
// libvirt (--host-network linux, in the namespace --netns names if any, as
// a test's second host does), simulated with --hypervisor sim.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"vwire.dev/vwire/app"
	"vwire.dev/vwire/hypervisor/libvirt"
	"vwire.dev/vwire/hypervisor/sim"
)

// agentFlags registers the agent's flags on fs and returns the process
// they fill in and the rest of its options; after fs.Parse, config sets
// from --config the flags not given, and logger builds the logger.
func agentFlags(fs *flag.FlagSet) (m *app.AgentMain, o *agentOptions, config func() error, logger func() (*slog.Logger, error)) {
	m, o = &app.AgentMain{}, &agentOptions{}
	fs.StringVar(&m.Listen, "listen", "0.0.0.0:54321", "address of the JSON-RPC endpoint")
	fs.StringVar(&o.hv, "hypervisor", "libvirt", "hypervisor backend: libvirt or sim")
	fs.StringVar(&o.uri, "libvirt", "qemu:///system", "libvirt: connection URI")
	fs.DurationVar(&o.callTimeout, "libvirt-timeout", 20*time.Second, "libvirt: deadline of each call")
	fs.StringVar(&o.domainType, "domain-type", "auto", "libvirt: domain type, auto (kvm only when QEMU's user can open /dev/kvm and libvirt offers it), kvm or qemu (TCG)")
	fs.StringVar(&m.StateDir, "state-dir", "/var/lib/vwire", "directory for the agent's state: its key, certificate and the engine's CA (pki/), libvirt's console/<vm id>.log")
	fs.StringVar(&m.EnrollURL, "enroll-url", "", "enrol with the engine at this https:// URL (with --enroll-token and --engine-ca), once: the identity is kept in --state-dir")
	fs.StringVar(&m.EnrollToken, "enroll-token", os.Getenv("VWIRE_ENROLL_TOKEN"), "one-time enrolment token (POST /hosts/{id}/enrolmenttoken); also $VWIRE_ENROLL_TOKEN")
	fs.StringVar(&m.EngineCA, "engine-ca", "", "the engine's CA certificate (PEM), to verify the engine while enrolling")
	fs.StringVar(&m.EngineCAFingerprint, "engine-ca-fingerprint", "", "instead of --engine-ca: the SHA-256 fingerprint of the engine's CA (as the engine prints it); the CA is fetched from the engine and taken only if it matches")
	fs.BoolVar(&m.Insecure, "insecure", false, "serve plain HTTP without client certificates on a non-loopback address when not enrolled (anyone reaching the port can drive the host)")
	fs.StringVar(&o.bridges, "bridges", "ovirtmgmt", "sim: comma-separated bridges the simulated host has")
	fs.DurationVar(&o.simLatency, "sim-latency", 0, "sim: how long every change of a domain takes (a slow host)")
	fs.StringVar(&m.HostNetwork, "host-network", "", "host networking (networks as bridges over host NICs, VLAN and VXLAN devices): linux (netlink) or sim (simulated NICs eth0, eth1); default linux with libvirt, sim with --hypervisor sim")
	fs.StringVar(&m.NetNS, "netns", "", "linux host networking: manage the network namespace of this name (/run/netns/NAME, as ip netns add makes) instead of the agent's own, as a test's second host does")
	fs.StringVar(&o.hostNICs, "host-nics", "", "linux host networking: comma-separated names of the only links that are host NICs (default: physical NICs, bonds and veths not on a foreign bridge)")
	fs.StringVar(&m.SimNoVLAN, "sim-no-vlan", "", "sim host networking: refuse VLAN networks with this reason, as a kernel without 802.1Q")
	fs.StringVar(&m.MetricsListen, "metrics-listen", "", "also serve Prometheus metrics at /metrics on this address, in plain HTTP without authentication (loopback or a private network); default: off")
	logger = app.LogFlag(fs)
	m.Limits.Flags(fs)
	config = app.ConfigFlag(fs)
	return m, o, config, logger
}

// agentOptions are the flags that choose the hypervisor, not AgentMain's.
type agentOptions struct {
	hv, uri, domainType, bridges, hostNICs string
	callTimeout, simLatency                time.Duration
}

func main() {
	m, o, config, logger := agentFlags(flag.CommandLine)
	flag.Parse()
	if err := config(); err != nil {
		fmt.Fprintln(os.Stderr, "vwire-agent:", err)
		os.Exit(2)
	}
	for _, n := range strings.Split(o.hostNICs, ",") {
		if n = strings.TrimSpace(n); n != "" {
			m.HostNICs = append(m.HostNICs, n)
		}
	}
	var err error
	if m.Logger, err = logger(); err != nil {
		fmt.Fprintln(os.Stderr, "vwire-agent:", err)
		os.Exit(2)
	}
	// What logs through the default logger takes the same format.
	slog.SetDefault(m.Logger)
	if _, err := libvirt.ParseDomainType(o.domainType); err != nil {
		fmt.Fprintln(os.Stderr, "vwire-agent: bad -domain-type:", err)
		os.Exit(2)
	}
	switch o.hv {
	case "sim":
		var bs []string
		for _, b := range strings.Split(o.bridges, ",") {
			if b = strings.TrimSpace(b); b != "" {
				bs = append(bs, b)
			}
		}
		s := sim.New(bs...)
		s.SetLatency(o.simLatency)
		m.Hypervisor = s
	case "libvirt":
		h, err := libvirt.New(libvirt.Options{URI: o.uri, CallTimeout: o.callTimeout, Logger: m.Logger,
			ConsoleDir: filepath.Join(m.StateDir, "console"), DomainType: o.domainType})
		if err != nil {
			fmt.Fprintln(os.Stderr, "vwire-agent:", err)
			os.Exit(1)
		}
		defer h.Close()
		m.Hypervisor = h
	default:
		fmt.Fprintf(os.Stderr, "vwire-agent: unknown hypervisor %q (libvirt or sim)\n", o.hv)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "vwire-agent:", err)
		os.Exit(1)
	}
	<-ctx.Done()
	m.Close()
}
