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

func main() {
	m := &app.AgentMain{}
	flag.StringVar(&m.Listen, "listen", "0.0.0.0:54321", "address of the JSON-RPC endpoint")
	hv := flag.String("hypervisor", "libvirt", "hypervisor backend: libvirt or sim")
	uri := flag.String("libvirt", "qemu:///system", "libvirt: connection URI")
	callTimeout := flag.Duration("libvirt-timeout", 20*time.Second, "libvirt: deadline of each call")
	domainType := flag.String("domain-type", "auto", "libvirt: domain type, auto (kvm only when QEMU's user can open /dev/kvm and libvirt offers it), kvm or qemu (TCG)")
	flag.StringVar(&m.StateDir, "state-dir", "/var/lib/vwire", "directory for the agent's state: its key, certificate and the engine's CA (pki/), libvirt's console/<vm id>.log")
	flag.StringVar(&m.EnrollURL, "enroll-url", "", "enrol with the engine at this https:// URL (with --enroll-token and --engine-ca), once: the identity is kept in --state-dir")
	flag.StringVar(&m.EnrollToken, "enroll-token", os.Getenv("VWIRE_ENROLL_TOKEN"), "one-time enrolment token (POST /hosts/{id}/enrolmenttoken); also $VWIRE_ENROLL_TOKEN")
	flag.StringVar(&m.EngineCA, "engine-ca", "", "the engine's CA certificate (PEM), to verify the engine while enrolling")
	flag.StringVar(&m.EngineCAFingerprint, "engine-ca-fingerprint", "", "instead of --engine-ca: the SHA-256 fingerprint of the engine's CA (as the engine prints it); the CA is fetched from the engine and taken only if it matches")
	flag.BoolVar(&m.Insecure, "insecure", false, "serve plain HTTP without client certificates on a non-loopback address when not enrolled (anyone reaching the port can drive the host)")
	stateDir := &m.StateDir
	bridges := flag.String("bridges", "ovirtmgmt", "sim: comma-separated bridges the simulated host has")
	simLatency := flag.Duration("sim-latency", 0, "sim: how long every change of a domain takes (a slow host)")
	flag.StringVar(&m.HostNetwork, "host-network", "", "host networking (networks as bridges over host NICs, VLAN and VXLAN devices): linux (netlink) or sim (simulated NICs eth0, eth1); default linux with libvirt, sim with --hypervisor sim")
	flag.StringVar(&m.NetNS, "netns", "", "linux host networking: manage the network namespace of this name (/run/netns/NAME, as ip netns add makes) instead of the agent's own, as a test's second host does")
	hostNICs := flag.String("host-nics", "", "linux host networking: comma-separated names of the only links that are host NICs (default: physical NICs, bonds and veths not on a foreign bridge)")
	flag.StringVar(&m.SimNoVLAN, "sim-no-vlan", "", "sim host networking: refuse VLAN networks with this reason, as a kernel without 802.1Q")
	logger := app.LogFlag(flag.CommandLine)
	m.Limits.Flags(flag.CommandLine)
	flag.Parse()

	for _, n := range strings.Split(*hostNICs, ",") {
		if n = strings.TrimSpace(n); n != "" {
			m.HostNICs = append(m.HostNICs, n)
		}
	}
	var err error
	if m.Logger, err = logger(); err != nil {
		fmt.Fprintln(os.Stderr, "vwire-agent:", err)
		os.Exit(2)
	}
	// What logs through the default logger (the REST layer's failures)
	// takes the same format and request ids.
	slog.SetDefault(m.Logger)
	if _, err := libvirt.ParseDomainType(*domainType); err != nil {
		fmt.Fprintln(os.Stderr, "vwire-agent: bad -domain-type:", err)
		os.Exit(2)
	}
	switch *hv {
	case "sim":
		var bs []string
		for _, b := range strings.Split(*bridges, ",") {
			if b = strings.TrimSpace(b); b != "" {
				bs = append(bs, b)
			}
		}
		s := sim.New(bs...)
		s.SetLatency(*simLatency)
		m.Hypervisor = s
	case "libvirt":
		h, err := libvirt.New(libvirt.Options{URI: *uri, CallTimeout: *callTimeout, Logger: m.Logger,
			ConsoleDir: filepath.Join(*stateDir, "console"), DomainType: *domainType})
		if err != nil {
			fmt.Fprintln(os.Stderr, "vwire-agent:", err)
			os.Exit(1)
		}
		defer h.Close()
		m.Hypervisor = h
	default:
		fmt.Fprintf(os.Stderr, "vwire-agent: unknown hypervisor %q (libvirt or sim)\n", *hv)
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
