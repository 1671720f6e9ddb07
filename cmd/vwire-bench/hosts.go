package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/app"
	"vwire.dev/vwire/engine"
	"vwire.dev/vwire/hypervisor/sim"
)

// The hosts part: many simulated hosts, each with running VMs of two vNICs,
// polled by one engine every 3 s. The agents run in a child process (this
// binary again, with agentsEnv set), each on a loopback port of its own in
// plain HTTP, so that the engine's process accounting (getrusage of this
// process) holds the engine alone; the child reports its own CPU time.
// Changes "behind the engine's back" (sim.SetLink) are asked of the child
// over its stdin.

// agentsEnv, when set to a count, makes vwire-bench the agents' process.
const agentsEnv = "VWIRE_BENCH_AGENTS"

const (
	hostsVMs      = 50 // running VMs per host
	hostsNICs     = 2  // vNICs per VM
	hostsInterval = 3 * time.Second
)

// runAgents serves n agents on the simulated hypervisor, one loopback
// listener each, prints their ports on one line, then answers commands
// read from stdin until it closes:
//
//	link <host> <vm> <alias> <0|1>   sim.SetLink on that host  → ok | err …
//	stat                             → ok <CPU ns> <RSS>
func runAgents(n int) error {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	sims := make([]*sim.Sim, n)
	ports := make([]string, n)
	for i := range sims {
		sims[i] = sim.New("ovirtmgmt")
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		ports[i] = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		srv := &http.Server{Handler: agent.NewServer(sims[i], agent.Options{}), ReadHeaderTimeout: time.Minute}
		go srv.Serve(ln)
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ports", strings.Join(ports, " "))
	out.Flush()
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 5 && f[0] == "link":
			i, err := strconv.Atoi(f[1])
			if err == nil && (i < 0 || i >= n) {
				err = fmt.Errorf("no host %d", i)
			}
			if err == nil {
				err = sims[i].SetLink(f[2], f[3], f[4] == "1")
			}
			if err != nil {
				fmt.Fprintln(out, "err", err)
			} else {
				fmt.Fprintln(out, "ok")
			}
		case len(f) == 1 && f[0] == "stat":
			fmt.Fprintln(out, "ok", cpuTime().Nanoseconds(), strings.ReplaceAll(rss(), " ", ""))
		default:
			fmt.Fprintln(out, "err unknown command")
		}
		out.Flush()
	}
	return sc.Err()
}

// agentsProc is the child process serving the agents.
type agentsProc struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	mu    sync.Mutex
	ports []int
}

func startAgents(n int) (*agentsProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	p := &agentsProc{cmd: exec.Command(exe)}
	p.cmd.Env = append(os.Environ(), agentsEnv+"="+strconv.Itoa(n))
	p.cmd.Stderr = os.Stderr
	if p.in, err = p.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.out = bufio.NewReaderSize(stdout, 1<<20)
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	line, err := p.out.ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != n+1 || f[0] != "ports" {
		p.close()
		return nil, fmt.Errorf("agents' process: %q: %v", line, err)
	}
	for _, s := range f[1:] {
		port, err := strconv.Atoi(s)
		if err != nil {
			p.close()
			return nil, err
		}
		p.ports = append(p.ports, port)
	}
	return p, nil
}

// ask sends one command and reads its answer's fields after "ok".
func (p *agentsProc) ask(cmd string) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := fmt.Fprintln(p.in, cmd); err != nil {
		return nil, err
	}
	line, err := p.out.ReadString('\n')
	if err != nil {
		return nil, err
	}
	f := strings.Fields(line)
	if len(f) == 0 || f[0] != "ok" {
		return nil, fmt.Errorf("agents' process: %s: %s", cmd, strings.TrimSpace(line))
	}
	return f[1:], nil
}

// stat is the child's CPU time and resident memory.
func (p *agentsProc) stat() (time.Duration, string, error) {
	f, err := p.ask("stat")
	if err != nil || len(f) != 2 {
		return 0, "", fmt.Errorf("agents' stat: %v %v", f, err)
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	return time.Duration(ns), f[1], err
}

func (p *agentsProc) close() {
	p.in.Close()
	p.cmd.Wait()
}

// hostNIC is a vNIC of a running VM on host number host.
type hostNIC struct {
	host           int
	vm, nic, alias string
}

// hostsScale registers n hosts (agents in the child process), starts 50 VMs
// of 2 vNICs on each through the engine's use cases directly (parallel, no
// REST), then measures the engine's idle poll cycles (CPU, database
// writes) and how soon a change made on hosts behind its back shows as
// drift.
func hostsScale(short bool, db string, n int) ([]row, error) {
	cycles, changes := 10, 60
	if short {
		n, cycles, changes = min(n, 100), 3, 50
	}
	ag, err := startAgents(n)
	if err != nil {
		return nil, err
	}
	defer ag.close()
	dir, _ := os.MkdirTemp("", "vwire-bench-hosts-")
	defer os.RemoveAll(dir)
	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: dir, DB: db, AdminPassword: "bench", PollInterval: hostsInterval, Out: io.Discard}
	if err := m.Start(context.Background()); err != nil {
		return nil, err
	}
	defer m.Close()
	e := m.Engine
	ctx := context.Background() // no principal: the engine's own calls, unchecked
	cls, err := e.Clusters(ctx, vwire.ClusterFilter{Name: "Default"})
	if err != nil || len(cls) == 0 {
		return nil, fmt.Errorf("Default cluster: %v", err)
	}
	cluster := cls[0].ID
	profiles, err := e.Profiles(ctx, vwire.ProfileFilter{})
	if err != nil || len(profiles) == 0 {
		return nil, fmt.Errorf("profiles: %v", err)
	}
	profile := profiles[0].ID
	// The default pool holds 65,536 MACs; 1,000 hosts' VMs need 100,000.
	pools, err := e.MACPools(ctx)
	if err != nil || len(pools) == 0 {
		return nil, fmt.Errorf("MAC pools: %v", err)
	}
	from, _ := vwire.ParseMAC("02:00:00:00:00:00")
	to, _ := vwire.ParseMAC("02:00:00:3f:ff:ff")
	if _, err := e.UpdateMACPool(ctx, pools[0].ID, func(p *vwire.MACPool) error {
		p.Ranges = append(p.Ranges, vwire.MACRange{From: from, To: to})
		return nil
	}); err != nil {
		return nil, err
	}
	store := "SQLite"
	if db != "" {
		store = "PostgreSQL"
	}

	// Population: workers take hosts; a host is registered (AddHost
	// probes it once), then its VMs are made and started one by one.
	t0 := time.Now()
	nics := make([][]hostNIC, n)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for failed.Load() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := populateHost(ctx, e, cluster, profile, i, ag.ports[i], &nics[i]); err != nil {
					failed.Store(fmt.Errorf("host %d: %w", i, err))
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return nil, err
	}
	setup := time.Since(t0)
	rows := []row{{name: fmt.Sprintf("hosts: register %d hosts, start %d VMs × %d vNICs (engine calls, 32 workers)", n, n*hostsVMs, hostsNICs),
		rate: fmt.Sprintf("%.0f VMs/s", float64(n*hostsVMs)/setup.Seconds()), note: fmt.Sprintf("%s; %.0f s", store, setup.Seconds())}}

	// Idle: two cycles to settle (first absorption of every VM's report),
	// then cycles of nothing changing anywhere.
	time.Sleep(2 * hostsInterval)
	counters := m.Store().Counters
	w0, c0 := counters().Writes, cpuTime()
	a0, _, err := ag.stat()
	if err != nil {
		return rows, err
	}
	idle := time.Duration(cycles) * hostsInterval
	time.Sleep(idle)
	w1, c1 := counters().Writes, cpuTime()
	a1, agRSS, err := ag.stat()
	if err != nil {
		return rows, err
	}
	perCycle := (c1 - c0) / time.Duration(cycles)
	agents := (a1 - a0) / time.Duration(cycles)
	rows = append(rows,
		row{name: fmt.Sprintf("hosts: engine CPU per idle poll cycle, %d hosts × %d VMs × %d vNICs", n, hostsVMs, hostsNICs),
			rate: ms(perCycle), note: fmt.Sprintf("%d cycles of 3 s; engine process only (agents in a child process); %.0f%% of one core", cycles,
				100*float64(perCycle)/float64(hostsInterval))},
		row{name: "hosts: engine CPU per host per cycle", rate: fmt.Sprintf("%.0f µs", float64(perCycle.Microseconds())/float64(n)), note: "the above / hosts"},
		row{name: "hosts: agents' CPU per cycle (child process, for scale)", rate: ms(agents), note: fmt.Sprintf("%d agents answering getCapabilities + getAllVmStats", n)},
		row{name: "hosts: database writes per idle cycle", rate: fmt.Sprintf("%.2f", float64(w1-w0)/float64(cycles)),
			note: fmt.Sprintf("committed write transactions, %d over %d cycles; target 0", w1-w0, cycles)},
		row{name: "hosts: resident memory", rate: rss(), note: "engine process (database cache included); agents' process: " + agRSS},
	)

	// Drift: links flipped on random vNICs (a fresh one each time) at
	// random moments, each timed until the engine's vNIC reads unsynced.
	var all []hostNIC
	for _, h := range nics {
		all = append(all, h...)
	}
	r := rand.New(rand.NewSource(1))
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	lat := make([]time.Duration, changes)
	errs := make(chan error, changes)
	var dwg sync.WaitGroup
	for k := 0; k < changes; k++ {
		t := all[k%len(all)]
		// Spread over about ten cycles, so that changes fall at every phase of the poll.
		time.Sleep(time.Duration(r.Int63n(int64(2 * 10 * hostsInterval / time.Duration(changes)))))
		start := time.Now()
		if _, err := ag.ask(fmt.Sprintf("link %d %s %s 0", t.host, t.vm, t.alias)); err != nil {
			return rows, err
		}
		dwg.Add(1)
		go func(k int) {
			defer dwg.Done()
			for time.Since(start) < 10*hostsInterval {
				nic, err := e.NIC(ctx, t.vm, t.nic)
				if err != nil {
					errs <- err
					return
				}
				if !nic.Synced {
					lat[k] = time.Since(start)
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			errs <- fmt.Errorf("vNIC %s: no drift seen in %v", t.nic, 10*hostsInterval)
		}(k)
	}
	dwg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return rows, err
	}
	rows = append(rows, row{name: "hosts: drift seen (link set down on the host → vNIC unsynced)", p50: ms(pct(lat, .5)), p99: ms(pct(lat, .99)),
		note: fmt.Sprintf("%d changes on random vNICs at random moments, read every 20 ms; target p99 ≤ 3 s (one interval)", changes)})
	return rows, nil
}

// populateHost registers host i and starts its VMs with their vNICs.
func populateHost(ctx context.Context, e *engine.Engine, cluster, profile string, i, port int, out *[]hostNIC) error {
	h, err := e.AddHost(ctx, engine.HostSpec{Name: fmt.Sprintf("h%04d", i), Address: "127.0.0.1", Port: port, ClusterID: cluster})
	if err != nil {
		return err
	}
	if h.Status != vwire.HostUp {
		return fmt.Errorf("host %s is %s: %s", h.Name, h.Status, h.StatusDetail)
	}
	for j := 0; j < hostsVMs; j++ {
		vm, err := e.AddVM(ctx, engine.VMSpec{Name: fmt.Sprintf("h%04d-%02d", i, j), ClusterID: cluster, Memory: 64 << 20, PlacementHosts: []string{h.ID}})
		if err != nil {
			return err
		}
		var made []hostNIC
		for k := 0; k < hostsNICs; k++ {
			nic, err := e.AddNIC(ctx, vm.ID, engine.NICSpec{Name: fmt.Sprintf("nic%d", k), ProfileID: profile})
			if err != nil {
				return err
			}
			made = append(made, hostNIC{host: i, vm: vm.ID, nic: nic.ID, alias: nic.Alias()})
		}
		if _, err := e.StartVM(ctx, vm.ID); err != nil {
			return err
		}
		*out = append(*out, made...)
	}
	return nil
}
