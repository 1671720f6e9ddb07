// Command vwire-bench measures vwire end to end and prints a table: the
// latency of a live vNIC change through the REST API against the raw
// libvirt call on the same domain (interleaved, one run), and the
// throughput of live vNIC updates over REST on the simulated hypervisor.
//
//	vwire-bench [-short] [-only latency,throughput,start,polling] [-db postgres://…] [-subscribers N] [-rate N]
//	vwire-bench [-short] -only guest
//	vwire-bench -only hosts [-hosts 1000] [-db postgres://…]
//
// -short runs each part for seconds, as a smoke test (.ci/run uses it).
// The guest part (guest.go) boots the test guest of testdata/guest and times
// how long after a call it sees the change; it is not run by default.
// The latency part needs libvirt (root, qemu:///system) and is skipped
// with a note without it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/google/uuid"
	ovirtsdk4 "github.com/ovirt/go-ovirt"
	"libvirt.org/go/libvirtxml"

	"vwire.dev/vwire/app"
	"vwire.dev/vwire/client"
)

type row struct {
	name, p50, p99, rate, note string
}

func main() {
	// The hosts part re-runs this binary as its agents' process.
	if n, err := strconv.Atoi(os.Getenv(agentsEnv)); err == nil {
		if err := runAgents(n); err != nil {
			fmt.Fprintf(os.Stderr, "vwire-bench agents: %v\n", err)
			os.Exit(1)
		}
		return
	}
	short := flag.Bool("short", false, "run each part for seconds (smoke test)")
	only := flag.String("only", "latency,throughput,start,polling", "parts to run (also: scale, which takes long; deployed: engine processes on PostgreSQL against pgbench; guest: API to guest, booting the test guest; hosts: many hosts polled by one engine)")
	db := flag.String("db", "", "PostgreSQL URL for the throughput part (default: SQLite) and the deployed part (default: a private cluster with default settings)")
	scaleVMs := flag.Int("scale-vms", 100000, "VMs (of 4 vNICs) the scale part populates")
	subscribers := flag.Int("subscribers", 0, "throughput: event-stream (SSE) subscribers reading every event while the updates run")
	rate := flag.Int("rate", 0, "throughput: offered load, updates/s over all clients (0: as fast as they go)")
	engines := flag.Int("engines", 3, "deployed: engine processes on the one PostgreSQL")
	clients := flag.Int("clients", 64, "deployed: concurrent clients")
	hosts := flag.Int("hosts", 1000, "hosts: simulated hosts of 50 running VMs × 2 vNICs under one engine (-short: 100)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (engine, agent and clients share this process) to the file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "vwire-bench: %v\n", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	var rows []row
	failed := false
	for _, part := range strings.Split(*only, ",") {
		var r []row
		var err error
		switch part {
		case "latency":
			r, err = latency(*short)
		case "throughput":
			r, err = throughput(*short, *db, *subscribers, *rate)
		case "start":
			r, err = startCost(*short)
		case "polling":
			r, err = polling(*short)
		case "scale":
			r, err = scale(*short, *scaleVMs)
		case "deployed":
			r, err = deployed(*short, *db, *engines, *clients)
		case "guest":
			r, err = guestLatency(*short)
		case "hosts":
			r, err = hostsScale(*short, *db, *hosts)
		default:
			err = fmt.Errorf("unknown part %q", part)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "vwire-bench: %s: %v\n", part, err)
			failed = true
		}
		rows = append(rows, r...)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "MEASURE\tP50\tP99\tRATE\tNOTE")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.name, r.p50, r.p99, r.rate, r.note)
	}
	w.Flush()
	if failed {
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(float64(len(s)-1)*p)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// Helpers building the SDK objects the parts send.

func clusterRef(id string) *ovirtsdk4.Cluster {
	return ovirtsdk4.NewClusterBuilder().Id(id).MustBuild()
}

func blankVM(name string, cluster *ovirtsdk4.Cluster, template string) *ovirtsdk4.VmBuilder {
	return ovirtsdk4.NewVmBuilder().Name(name).Cluster(cluster).Template(ovirtsdk4.NewTemplateBuilder().Name(template).MustBuild())
}

// pinnedVM is a 64 MiB VM placed on one host.
func pinnedVM(name, cluster, host string) *ovirtsdk4.Vm {
	return blankVM(name, clusterRef(cluster), "Blank").Memory(64 << 20).
		PlacementPolicy(ovirtsdk4.NewVmPlacementPolicyBuilder().HostsOfAny(ovirtsdk4.NewHostBuilder().Id(host).MustBuild()).MustBuild()).MustBuild()
}

func nicOn(name, profile string) *ovirtsdk4.Nic {
	return ovirtsdk4.NewNicBuilder().Name(name).VnicProfile(client.ProfileRef(profile)).MustBuild()
}

func startEngine(embedded bool, db string) (*app.EngineMain, *client.Client, error) {
	dir, _ := os.MkdirTemp("", "vwire-bench-")
	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: dir, DB: db, EmbeddedHost: embedded, AdminPassword: "bench",
		PollInterval: time.Hour, Out: io.Discard}
	if err := m.Start(context.Background()); err != nil {
		return nil, nil, err
	}
	c, err := client.New(client.Options{URL: m.URL(), User: "admin@internal", Password: "bench", Timeout: time.Minute, MaxConns: 256})
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, c, nil
}

// latency: a REST PUT of linked (and of the network) on a running VM's vNIC
// on real libvirt, against DomainUpdateDeviceFlags made directly with
// go-libvirt on the same domain, interleaved.
func latency(short bool) ([]row, error) {
	if _, err := os.Stat("/run/libvirt/libvirt-sock"); err != nil || os.Geteuid() != 0 {
		return []row{{name: "live change latency", note: "skipped: needs root and a running libvirtd"}}, nil
	}
	n := 300
	if short {
		n = 30
	}
	brA, brB := "vwbench-a", "vwbench-b"
	lh, err := newLibvirtHost(brA, brB)
	if err != nil {
		return nil, err
	}
	defer lh.close()
	a, cl, h, profiles := lh.api, lh.cluster, lh.host, lh.profiles
	ctx := context.Background()
	vmObj, err := a.AddVM(ctx, pinnedVM("vwt-bench", cl, h))
	if err != nil {
		return nil, err
	}
	vm := vmObj.MustId()
	nic, err := a.AddNIC(ctx, vm, nicOn("nic1", profiles[brA]))
	if err != nil {
		return nil, err
	}
	// A second vNIC that only the raw calls touch, so both sides update a
	// device of the same domain without stepping on each other.
	raw, err := a.AddNIC(ctx, vm, nicOn("raw", profiles[brA]))
	if err != nil {
		return nil, err
	}
	if _, err := a.StartVM(ctx, vm); err != nil {
		return nil, err
	}
	defer a.StopVM(ctx, vm)
	l, dom, err := openDomain(vm)
	if err != nil {
		return nil, err
	}
	defer l.Disconnect()
	rawMAC := raw.MustMac().MustAddress()
	rawIface := func(bridge string, up bool) string {
		state := "down"
		if up {
			state = "up"
		}
		x := libvirtxml.DomainInterface{MAC: &libvirtxml.DomainInterfaceMAC{Address: rawMAC},
			Source: &libvirtxml.DomainInterfaceSource{Bridge: &libvirtxml.DomainInterfaceSourceBridge{Bridge: bridge}},
			Model:  &libvirtxml.DomainInterfaceModel{Type: "virtio"}, Link: &libvirtxml.DomainInterfaceLink{State: state},
			Alias: &libvirtxml.DomainAlias{Name: "ua-" + raw.MustId()}, ROM: &libvirtxml.DomainROM{Enabled: "no"}}
		s, _ := x.Marshal()
		return s
	}
	// Each kind of change runs in its own phase, REST and raw alternating
	// which goes first, so that both sides follow the same kind of call: a
	// call right after a bridge move pays for libvirtd and the kernel still
	// settling the moved tap (about 1 ms here), and a fixed order would
	// charge that to one side only.
	nicID := nic.MustId()
	pair := func(restFirst bool, rest func() error, raw func() error, restT, rawT *[]time.Duration) error {
		timed := func(fn func() error, into *[]time.Duration) error {
			t0 := time.Now()
			if err := fn(); err != nil {
				return err
			}
			*into = append(*into, time.Since(t0))
			return nil
		}
		if restFirst {
			if err := timed(rest, restT); err != nil {
				return err
			}
			return timed(raw, rawT)
		}
		if err := timed(raw, rawT); err != nil {
			return err
		}
		return timed(rest, restT)
	}
	var restLink, rawLink, restNet, rawNet, rawRead []time.Duration
	for i := 0; i < n; i++ {
		// Every call changes the state; which side goes first alternates
		// every two pairs, so that each state is reached in both orders.
		up := i%2 == 1
		err := pair(i/2%2 == 0, func() error {
			_, err := a.LinkNIC(ctx, vm, nicID, up)
			return err
		}, func() error {
			return l.DomainUpdateDeviceFlags(dom, rawIface(brA, up), golibvirt.DomainDeviceModifyLive)
		}, &restLink, &rawLink)
		if err != nil {
			return nil, err
		}
	}
	for i := 0; i < n; i++ {
		target := brA
		if i%2 == 0 {
			target = brB
		}
		err := pair(i/2%2 == 0, func() error {
			_, err := a.MoveNIC(ctx, vm, nicID, profiles[target])
			return err
		}, func() error {
			return l.DomainUpdateDeviceFlags(dom, rawIface(target, true), golibvirt.DomainDeviceModifyLive)
		}, &restNet, &rawNet)
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		if _, err := l.DomainGetXMLDesc(dom, 0); err != nil {
			return nil, err
		}
		rawRead = append(rawRead, time.Since(t0))
	}
	ratio := func(a, b []time.Duration, p float64) string {
		return fmt.Sprintf("%.2f", float64(pct(a, p))/float64(pct(b, p)))
	}
	note := fmt.Sprintf("%d interleaved pairs", n)
	return []row{
		{"link flip: REST PUT", ms(pct(restLink, .5)), ms(pct(restLink, .99)), "", note},
		{"link flip: raw DomainUpdateDeviceFlags", ms(pct(rawLink, .5)), ms(pct(rawLink, .99)), "", note},
		{"link flip: ratio REST/raw", ratio(restLink, rawLink, .5), ratio(restLink, rawLink, .99), "", "targets 1.5 / 2"},
		{"network move: REST PUT", ms(pct(restNet, .5)), ms(pct(restNet, .99)), "", note},
		{"network move: raw DomainUpdateDeviceFlags", ms(pct(rawNet, .5)), ms(pct(rawNet, .99)), "", note},
		{"network move: ratio REST/raw", ratio(restNet, rawNet, .5), ratio(restNet, rawNet, .99), "", "targets 1.5 / 2"},
		{"for scale: raw DomainGetXMLDesc", ms(pct(rawRead, .5)), ms(pct(rawRead, .99)), "", "one live XML read of the domain"},
	}, nil
}

// throughput: live link updates over REST across running VMs on the
// embedded simulated host, with 1, 8 and 64 concurrent clients, while
// subscribers event-stream clients read every event the updates write. With
// rate > 0 the clients together offer that many updates a second, so that
// runs with and without subscribers compare at the same load (the rate
// reached and the CPU time of the process per update).
func throughput(short bool, db string, subscribers, rate int) ([]row, error) {
	vms, dur := 1000, 10*time.Second
	if short {
		vms, dur = 100, 2*time.Second
	}
	m, a, err := startEngine(true, db)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	store := "SQLite"
	if db != "" {
		store = "PostgreSQL"
	}
	bg := context.Background()
	mgmt, err := a.Profiles(bg)
	if err != nil {
		return nil, err
	}
	profile := mgmt[0].MustId()
	type target struct{ vm, nic string }
	var ts []target
	t0 := time.Now()
	defaultCluster := ovirtsdk4.NewClusterBuilder().Name("Default").MustBuild()
	for i := 0; i < vms; i++ {
		vm, err := a.AddVM(bg, blankVM(fmt.Sprintf("tp%04d", i), defaultCluster, "Blank").MustBuild())
		if err != nil {
			return nil, err
		}
		nic, err := a.AddNIC(bg, vm.MustId(), nicOn("nic1", profile))
		if err != nil {
			return nil, err
		}
		if _, err := a.StartVM(bg, vm.MustId()); err != nil {
			return nil, err
		}
		ts = append(ts, target{vm.MustId(), nic.MustId()})
	}
	setup := time.Since(t0)
	events, stopSubs, err := subscribe(a, subscribers)
	if err != nil {
		return nil, err
	}
	defer stopSubs()
	if subscribers > 0 {
		store += fmt.Sprintf(", %d subscribers", subscribers)
	}
	if rate > 0 {
		store += fmt.Sprintf(", offered %d/s", rate)
	}
	var rows []row
	for _, clients := range []int{1, 8, 64} {
		var failed atomic.Int64
		cpu0 := cpuTime()
		ctx, cancel := context.WithTimeout(context.Background(), dur)
		start := time.Now()
		lat, n := load(ctx, clients, pace(ctx, rate), func(i int) error {
			// Each pass over the vNICs flips them all: the link asked for
			// alternates per pass, not per call (with an even number of
			// vNICs, i%2 asked every vNIC for the same state every time
			// after the first pass: no-ops, which never reach the host).
			t := ts[i%len(ts)]
			_, err := a.LinkNIC(bg, t.vm, t.nic, i/len(ts)%2 == 1)
			if err != nil && failed.Add(1) == 1 {
				fmt.Fprintf(os.Stderr, "vwire-bench: throughput, %d clients: first error: %v\n", clients, err)
			}
			return err
		})
		var done atomic.Int64
		done.Store(n)
		cancel()
		el := time.Since(start)
		cpu := cpuTime() - cpu0
		rows = append(rows, row{fmt.Sprintf("updates/s, %d clients, %s", clients, store), ms(pct(lat, .5)), ms(pct(lat, .99)),
			fmt.Sprintf("%.0f/s", float64(done.Load())/el.Seconds()),
			fmt.Sprintf("%d VMs, %d errors, CPU %.0f µs/update", len(ts), failed.Load(), float64(cpu.Microseconds())/float64(max(done.Load(), 1)))})
		if failed.Load() > 0 {
			return rows, fmt.Errorf("%d updates failed", failed.Load())
		}
	}
	if subscribers > 0 {
		rows = append(rows, row{name: "events received by the subscribers", rate: fmt.Sprint(events.Load())})
	}
	rows = append(rows, row{name: "setup: VM + vNIC + start over REST", rate: fmt.Sprintf("%.0f VMs/s", float64(vms)/setup.Seconds())})
	return rows, nil
}

// pace hands out rate tokens a second until ctx ends; nil for no pacing.
// load runs clients goroutines, client c calling call(c), call(c+clients),
// … (each waiting for a token when tokens is not nil) until ctx ends, and
// returns the latencies of the calls that succeeded and their number.
func load(ctx context.Context, clients int, tokens <-chan struct{}, call func(i int) error) ([]time.Duration, int64) {
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			var local []time.Duration
			for i := c; ctx.Err() == nil; i += clients {
				if tokens != nil {
					select {
					case <-tokens:
					case <-ctx.Done():
						continue
					}
				}
				t1 := time.Now()
				if call(i) != nil {
					continue
				}
				local = append(local, time.Since(t1))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	return lat, int64(len(lat))
}

func pace(ctx context.Context, rate int) <-chan struct{} {
	if rate <= 0 {
		return nil
	}
	// Up to 50 ms of tokens wait for a busy client, so that a late update
	// is made up for; beyond that they are lost.
	ch := make(chan struct{}, max(1, rate/20))
	go func() {
		t := time.NewTicker(time.Second / time.Duration(rate))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				select {
				case ch <- struct{}{}:
				default: // every client busy for 50 ms: the token is lost
				}
			}
		}
	}()
	return ch
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// subscribe opens n event streams (GET /events, text/event-stream) that
// count the events they receive until stop is called.
func subscribe(a *client.Client, n int) (*atomic.Int64, func(), error) {
	var events atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	stop := func() { cancel(); wg.Wait() }
	for i := 0; i < n; i++ {
		s, err := a.StreamEvents(ctx, -1)
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("subscriber %d: %w", i, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.Close()
			s.Count(&events)
		}()
	}
	return &events, stop, nil
}

// openDomain connects to the system's libvirt and finds the VM's domain
// (its UUID is the VM's id); the caller disconnects.
func openDomain(vm string) (*golibvirt.Libvirt, golibvirt.Domain, error) {
	l, err := golibvirt.ConnectToURI(mustURL("qemu:///system"))
	if err != nil {
		return nil, golibvirt.Domain{}, err
	}
	u, _ := uuid.Parse(vm)
	dom, err := l.DomainLookupByUUID(golibvirt.UUID(u))
	if err != nil {
		l.Disconnect()
		return nil, golibvirt.Domain{}, err
	}
	return l, dom, nil
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
