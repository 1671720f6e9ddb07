// Command vwire-bench measures vwire end to end and prints a table: the
// latency of a live vNIC change through the REST API against the raw
// libvirt call on the same domain (interleaved, one run), and the
// throughput of live vNIC updates over REST on the simulated hypervisor.
//
//	vwire-bench [-short] [-only latency,throughput,start,polling] [-db postgres://…] [-subscribers N] [-rate N]
//
// -short runs each part for seconds, as a smoke test (.ci/run uses it).
// The latency part needs libvirt (root, qemu:///system) and is skipped
// with a note without it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/google/uuid"
	"libvirt.org/go/libvirtxml"

	"vwire.dev/vwire/app"
)

type row struct {
	name, p50, p99, rate, note string
}

func main() {
	short := flag.Bool("short", false, "run each part for seconds (smoke test)")
	only := flag.String("only", "latency,throughput,start,polling", "parts to run (also: scale, which takes long)")
	db := flag.String("db", "", "PostgreSQL URL for the throughput part (default: SQLite)")
	scaleVMs := flag.Int("scale-vms", 100000, "VMs (of 4 vNICs) the scale part populates")
	subscribers := flag.Int("subscribers", 0, "throughput: event-stream (SSE) subscribers reading every event while the updates run")
	rate := flag.Int("rate", 0, "throughput: offered load, updates/s over all clients (0: as fast as they go)")
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

// api is a minimal JSON client of the engine.
type api struct {
	base string
	hc   *http.Client
}

func (a *api) do(method, path string, body any) (map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, rd)
	req.SetBasicAuth("admin@internal", "bench")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	res, err := a.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var o map[string]any
	json.NewDecoder(res.Body).Decode(&o)
	if res.StatusCode >= 300 {
		return o, fmt.Errorf("%s %s: HTTP %d %v", method, path, res.StatusCode, o)
	}
	return o, nil
}

func id(o map[string]any) string { s, _ := o["id"].(string); return s }

func startEngine(embedded bool, db string) (*app.EngineMain, *api, error) {
	dir, _ := os.MkdirTemp("", "vwire-bench-")
	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: dir, DB: db, EmbeddedHost: embedded, AdminPassword: "bench",
		PollInterval: time.Hour, Out: io.Discard}
	if err := m.Start(context.Background()); err != nil {
		return nil, nil, err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	return m, &api{base: m.URL(), hc: &http.Client{Transport: tr, Timeout: time.Minute}}, nil
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
	vm, err := a.do("POST", "/vms", map[string]any{"name": "vwt-bench", "memory": "67108864", "cluster": map[string]any{"id": cl},
		"template": map[string]any{"name": "Blank"}, "placement_policy": map[string]any{"hosts": map[string]any{"host": []any{map[string]any{"id": h}}}}})
	if err != nil {
		return nil, err
	}
	nic, err := a.do("POST", "/vms/"+id(vm)+"/nics", map[string]any{"name": "nic1", "vnic_profile": map[string]any{"id": profiles[brA]}})
	if err != nil {
		return nil, err
	}
	// A second vNIC that only the raw calls touch, so both sides update a
	// device of the same domain without stepping on each other.
	raw, err := a.do("POST", "/vms/"+id(vm)+"/nics", map[string]any{"name": "raw", "vnic_profile": map[string]any{"id": profiles[brA]}})
	if err != nil {
		return nil, err
	}
	if _, err := a.do("POST", "/vms/"+id(vm)+"/start", map[string]any{}); err != nil {
		return nil, err
	}
	defer a.do("POST", "/vms/"+id(vm)+"/stop", map[string]any{})
	l, err := golibvirt.ConnectToURI(mustURL("qemu:///system"))
	if err != nil {
		return nil, err
	}
	defer l.Disconnect()
	u, _ := uuid.Parse(id(vm))
	dom, err := l.DomainLookupByUUID(golibvirt.UUID(u))
	if err != nil {
		return nil, err
	}
	rawMAC := raw["mac"].(map[string]any)["address"].(string)
	rawIface := func(bridge string, up bool) string {
		state := "down"
		if up {
			state = "up"
		}
		x := libvirtxml.DomainInterface{MAC: &libvirtxml.DomainInterfaceMAC{Address: rawMAC},
			Source: &libvirtxml.DomainInterfaceSource{Bridge: &libvirtxml.DomainInterfaceSourceBridge{Bridge: bridge}},
			Model:  &libvirtxml.DomainInterfaceModel{Type: "virtio"}, Link: &libvirtxml.DomainInterfaceLink{State: state},
			Alias: &libvirtxml.DomainAlias{Name: "ua-" + id(raw)}, ROM: &libvirtxml.DomainROM{Enabled: "no"}}
		s, _ := x.Marshal()
		return s
	}
	// Each kind of change runs in its own phase, REST and raw alternating
	// which goes first, so that both sides follow the same kind of call: a
	// call right after a bridge move pays for libvirtd and the kernel still
	// settling the moved tap (about 1 ms here), and a fixed order would
	// charge that to one side only.
	path := "/vms/" + id(vm) + "/nics/" + id(nic)
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
			_, err := a.do("PUT", path, map[string]any{"linked": fmt.Sprint(up)})
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
			_, err := a.do("PUT", path, map[string]any{"vnic_profile": map[string]any{"id": profiles[target]}})
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
	mgmt, err := a.do("GET", "/vnicprofiles", nil)
	if err != nil {
		return nil, err
	}
	profile := id(mgmt["vnic_profile"].([]any)[0].(map[string]any))
	type target struct{ path string }
	var ts []target
	t0 := time.Now()
	for i := 0; i < vms; i++ {
		vm, err := a.do("POST", "/vms", map[string]any{"name": fmt.Sprintf("tp%04d", i), "cluster": map[string]any{"name": "Default"}, "template": map[string]any{"name": "Blank"}})
		if err != nil {
			return nil, err
		}
		nic, err := a.do("POST", "/vms/"+id(vm)+"/nics", map[string]any{"name": "nic1", "vnic_profile": map[string]any{"id": profile}})
		if err != nil {
			return nil, err
		}
		if _, err := a.do("POST", "/vms/"+id(vm)+"/start", map[string]any{}); err != nil {
			return nil, err
		}
		ts = append(ts, target{"/vms/" + id(vm) + "/nics/" + id(nic)})
	}
	setup := time.Since(t0)
	events, stopSubs, err := subscribe(m.URL(), subscribers)
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
		var done, failed atomic.Int64
		cpu0 := cpuTime()
		var mu sync.Mutex
		var lat []time.Duration
		ctx, cancel := context.WithTimeout(context.Background(), dur)
		var wg sync.WaitGroup
		start := time.Now()
		tokens := pace(ctx, rate)
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
					t := ts[i%len(ts)]
					t1 := time.Now()
					if _, err := a.do("PUT", t.path, map[string]any{"linked": fmt.Sprint(i%2 == 0)}); err != nil {
						if failed.Add(1) == 1 {
							fmt.Fprintf(os.Stderr, "vwire-bench: throughput, %d clients: first error: %v\n", clients, err)
						}
						continue
					}
					local = append(local, time.Since(t1))
					done.Add(1)
				}
				mu.Lock()
				lat = append(lat, local...)
				mu.Unlock()
			}(c)
		}
		wg.Wait()
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
func subscribe(base string, n int) (*atomic.Int64, func(), error) {
	var events atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	stop := func() { cancel(); wg.Wait() }
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	for i := 0; i < n; i++ {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/events", nil)
		req.SetBasicAuth("admin@internal", "bench")
		req.Header.Set("Accept", "text/event-stream")
		res, err := hc.Do(req)
		if err == nil && res.StatusCode != http.StatusOK {
			res.Body.Close()
			err = fmt.Errorf("event stream: HTTP %d", res.StatusCode)
		}
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("subscriber %d: %w", i, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer res.Body.Close()
			countEvents(res.Body, &events)
		}()
	}
	return &events, stop, nil
}

// countEvents counts the frames of an event stream until it ends, cheaply
// (a vectorised search per read, not a scan per line), so that the clients
// share of the CPU stays small next to the engine's.
func countEvents(r io.Reader, n *atomic.Int64) {
	const sep = "\nid: "
	buf := make([]byte, 64<<10)
	keep := 0 // bytes of the last read kept, for a separator split across reads
	for {
		m, err := r.Read(buf[keep:])
		chunk := buf[:keep+m]
		n.Add(int64(bytes.Count(chunk, []byte(sep))))
		keep = min(len(sep)-1, len(chunk))
		copy(buf, chunk[len(chunk)-keep:])
		if err != nil {
			return
		}
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
