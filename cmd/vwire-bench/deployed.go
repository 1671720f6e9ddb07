package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire/client"
	"vwire.dev/vwire/pki"
)

// deployed measures vwire as it is deployed for scale (issue 18): three
// engine processes on one PostgreSQL, a simulated host agent in a process
// of its own, and 64 clients flipping links on 1,000 vNICs of running VMs
// through all three engines, against pgbench -N (TPC-B-like with five
// small statements per transaction, no updates of the hot branch rows) on
// the same cluster in the same run. Without -db it makes that cluster
// itself, with PostgreSQL's default settings (max_connections 100, fsync
// on), in a temporary directory (root: initdb runs as user postgres).
func deployed(short bool, db string, engines, clients int) ([]row, error) {
	vms, dur := 500, 20*time.Second
	if short {
		vms, dur = 50, 3*time.Second
	}
	dir, err := os.MkdirTemp("", "vwire-bench-deployed-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	settings := "the given cluster"
	if db == "" {
		url, stop, err := privatePostgres(dir)
		if err != nil {
			return nil, fmt.Errorf("a private PostgreSQL (give -db to use another): %w", err)
		}
		defer stop()
		db, settings = url, "PostgreSQL's default settings"
	}
	var bins = map[string]string{}
	for _, b := range []string{"vwire-engine", "vwire-agent"} {
		bins[b] = filepath.Join(dir, b)
		if out, err := exec.Command("go", "build", "-o", bins[b], "vwire.dev/vwire/cmd/"+b).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build %s: %v\n%s", b, err, out)
		}
	}
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Kill()
			p.Wait()
		}
	}()
	run := func(bin, log string, env []string, args ...string) error {
		f, err := os.Create(filepath.Join(dir, log))
		if err != nil {
			return err
		}
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr, cmd.Env = f, f, append(os.Environ(), env...)
		if err := cmd.Start(); err != nil {
			return err
		}
		procs = append(procs, cmd)
		return nil
	}

	// The engines share a CA (one --data); the first makes it.
	data := filepath.Join(dir, "data")
	var urls []string
	var tr *http.Transport
	for i := 0; i < engines; i++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		if err := run(bins["vwire-engine"], fmt.Sprintf("engine%d.log", i), []string{"VWIRE_ADMIN_PASSWORD=secret"},
			"--db", db, "--data", data, "--embedded-host=false", "--listen", fmt.Sprintf("127.0.0.1:%d", port),
			"--poll-interval", "3s", "--log-level", "warn"); err != nil {
			return nil, err
		}
		base := fmt.Sprintf("https://127.0.0.1:%d", port)
		if tr == nil {
			if tr, err = trustEngineCA(filepath.Join(data, "pki", pki.CAFile)); err != nil {
				return nil, err
			}
		}
		if err := waitUp(tr, base+"/healthz"); err != nil {
			return nil, fmt.Errorf("engine %d: %w (its log: %s)", i, err, filepath.Join(dir, fmt.Sprintf("engine%d.log", i)))
		}
		urls = append(urls, base+"/ovirt-engine/api")
	}
	tr.MaxIdleConnsPerHost, tr.MaxIdleConns = clients, clients*engines
	hc := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	var apis []*client.Client
	for _, u := range urls {
		a, err := client.New(client.Options{URL: u, User: "admin@internal", Password: "secret", HTTPClient: hc})
		if err != nil {
			return nil, err
		}
		apis = append(apis, a)
	}
	a := apis[0]
	bg := context.Background()

	// The agent: added with a port nobody listens on, enrolled, then given
	// its own (as internal/e2e's load test does, for the same reason).
	agentPort, err := freePort()
	if err != nil {
		return nil, err
	}
	h, err := a.AddHost(bg, ovirtsdk4.NewHostBuilder().Name("h1").Address("127.0.0.1").Port(1).
		Cluster(ovirtsdk4.NewClusterBuilder().Name("Default").MustBuild()).MustBuild())
	if err != nil {
		return nil, err
	}
	tok, err := a.HostEnrolmentToken(bg, h.MustId())
	if err != nil {
		return nil, err
	}
	if err := run(bins["vwire-agent"], "agent.log", nil, "--hypervisor", "sim", "--listen", fmt.Sprintf("127.0.0.1:%d", agentPort),
		"--bridges", "ovirtmgmt", "--state-dir", filepath.Join(dir, "agent-state"), "--enroll-url", strings.TrimSuffix(urls[0], "/ovirt-engine/api"),
		"--enroll-token", tok.Value, "--engine-ca", filepath.Join(data, "pki", pki.CAFile), "--log-level", "warn"); err != nil {
		return nil, err
	}
	if err := waitUp(nil, fmt.Sprintf("http://127.0.0.1:%d/", agentPort)); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if _, err := a.UpdateHost(bg, h.MustId(), ovirtsdk4.NewHostBuilder().Port(int64(agentPort)).MustBuild()); err != nil {
		return nil, err
	}
	for i := 0; ; i++ {
		a.RefreshHost(bg, h.MustId())
		if hh, err := a.Host(bg, h.MustId()); err == nil && hh.MustStatus() == ovirtsdk4.HOSTSTATUS_UP {
			break
		} else if i == 80 {
			return nil, fmt.Errorf("host h1 never up")
		}
		time.Sleep(250 * time.Millisecond)
	}

	// vms running VMs of two vNICs each, made through every engine.
	profiles, err := a.Profiles(bg)
	if err != nil || len(profiles) == 0 {
		return nil, fmt.Errorf("profiles: %v", err)
	}
	profile := profiles[0].MustId()
	type target struct {
		api     *client.Client
		vm, nic string
	}
	targets := make([]target, 0, 2*vms)
	var tmu sync.Mutex
	t0 := time.Now()
	if err := parallel(16, vms, func(i int) error {
		c := apis[i%len(apis)]
		vm, err := c.AddVM(bg, blankVM(fmt.Sprintf("d%04d", i), ovirtsdk4.NewClusterBuilder().Name("Default").MustBuild(), "Blank").MustBuild())
		if err != nil {
			return fmt.Errorf("add VM: %w", err)
		}
		var ts []target
		for _, n := range []string{"nic1", "nic2"} {
			nic, err := c.AddNIC(bg, vm.MustId(), nicOn(n, profile))
			if err != nil {
				return fmt.Errorf("add vNIC: %w", err)
			}
			ts = append(ts, target{vm: vm.MustId(), nic: nic.MustId()})
		}
		if _, err := c.StartVM(bg, vm.MustId()); err != nil {
			return fmt.Errorf("start VM: %w", err)
		}
		tmu.Lock()
		targets = append(targets, ts...)
		tmu.Unlock()
		return nil
	}); err != nil {
		return nil, fmt.Errorf("setting up %d VMs: %w", vms, err)
	}
	setup := time.Since(t0)

	// The reference first, while the engines idle.
	tps, pgNote, err := pgbench(db, clients, dur)
	if err != nil {
		return nil, fmt.Errorf("pgbench: %w", err)
	}

	if err := pgstatReset(db); err != nil {
		return nil, err
	}

	// The load: each client flips links through the engines in turn.
	var failed atomic.Int64
	errs := sync.Map{}
	ctx, cancel := context.WithTimeout(bg, dur)
	defer cancel()
	cpu0 := cpuByCommand()
	self0 := cpuTime()
	start := time.Now()
	lat, n := load(ctx, clients, nil, func(i int) error {
		t := targets[i%len(targets)]
		round := i / len(targets)
		_, err := apis[(round+i%clients)%len(apis)].LinkNIC(bg, t.vm, t.nic, round%2 == 1)
		if err != nil {
			failed.Add(1)
			key := fmt.Sprintf("%d %s", client.Status(err), faultReason(err))
			c, _ := errs.LoadOrStore(key, new(atomic.Int64))
			c.(*atomic.Int64).Add(1)
		}
		return err
	})
	var done atomic.Int64
	done.Store(n)
	el := time.Since(start)
	rate := float64(done.Load()) / el.Seconds()
	cpu1, self1 := cpuByCommand(), cpuTime()
	if err := pgstatReport(db, done.Load()); err != nil {
		fmt.Fprintln(os.Stderr, "vwire-bench: pg_stat_statements:", err)
	}
	var cpuText []string
	for _, name := range []string{"vwire-engine", "vwire-agent", "postgres"} {
		cpuText = append(cpuText, fmt.Sprintf("%s %.0f µs", name, float64((cpu1[name]-cpu0[name]).Microseconds())/float64(max(done.Load(), 1))))
	}
	cpuText = append(cpuText, fmt.Sprintf("clients %.0f µs", float64((self1-self0).Microseconds())/float64(max(done.Load(), 1))))
	if os.Getenv("VWIRE_BENCH_METRICS") != "" {
		for i, u := range urls {
			req, _ := http.NewRequest("GET", strings.TrimSuffix(u, "/ovirt-engine/api")+"/metrics", nil)
			req.SetBasicAuth("admin@internal", "secret")
			if res, err := hc.Do(req); err == nil {
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				for _, l := range strings.Split(string(b), "\n") {
					if strings.HasPrefix(l, "vwire_db_") || strings.HasPrefix(l, "vwire_host_call_duration_seconds_sum") ||
						strings.HasPrefix(l, "vwire_host_call_duration_seconds_count") || strings.Contains(l, "PUT /vms/{id}/nics/{nid}") && (strings.HasPrefix(l, "vwire_rest_request_duration_seconds_sum") || strings.HasPrefix(l, "vwire_rest_request_duration_seconds_count")) ||
						strings.Contains(l, "_count{method=\"put\",route=\"PUT /vms/{id}/nics/{nid}\"") {
						fmt.Fprintf(os.Stderr, "engine%d %s\n", i, l)
					}
				}
			}
		}
	}
	var errText []string
	errs.Range(func(k, v any) bool {
		errText = append(errText, fmt.Sprintf("%d× %s", v.(*atomic.Int64).Load(), k))
		return true
	})
	sort.Strings(errText)
	note := fmt.Sprintf("%d engines, 1 agent process, %d vNICs of %d running VMs (set up in %s), %s; %d errors; CPU per update: %s (of %.1f s of 2 cores' %.0f s)",
		engines, len(targets), vms, setup.Round(time.Second), settings, failed.Load(), strings.Join(cpuText, ", "),
		totalCPU(cpu0, cpu1)+(self1-self0).Seconds(), 2*el.Seconds())
	if len(errText) > 0 {
		note += ": " + strings.Join(errText, "; ")
	}
	rows := []row{
		{fmt.Sprintf("pgbench -N, %s", pgNote), "", "", fmt.Sprintf("%.0f tx/s", tps), settings},
		{fmt.Sprintf("updates/s, %d clients, %d engine processes, PostgreSQL", clients, engines), ms(pct(lat, .5)), ms(pct(lat, .99)),
			fmt.Sprintf("%.0f/s (%.2f× pgbench -N)", rate, rate/tps), note},
	}
	if failed.Load() > 0 {
		return rows, fmt.Errorf("%d updates failed: %s", failed.Load(), strings.Join(errText, "; "))
	}
	return rows, nil
}

// faultReason is a refusal's detail, short, for grouping errors.
func faultReason(err error) string {
	var f *client.Fault
	if errors.As(err, &f) {
		d := f.Detail
		if len(d) > 120 {
			d = d[:120] + "…"
		}
		return d
	}
	s := err.Error()
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// parallel runs fn(0..n-1) on k goroutines; the first error wins.
func parallel(k, n int, fn func(i int) error) error {
	next := make(chan int)
	errc := make(chan error, k)
	var wg sync.WaitGroup
	for range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	var err error
loop:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case err = <-errc:
			break loop
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	return err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// trustEngineCA waits for the engines' CA file and returns a transport
// that trusts it.
func trustEngineCA(file string) (*http.Transport, error) {
	for i := 0; i < 600; i++ {
		if pem, err := os.ReadFile(file); err == nil {
			pool := x509.NewCertPool()
			if pool.AppendCertsFromPEM(pem) {
				tr := http.DefaultTransport.(*http.Transport).Clone()
				tr.TLSClientConfig = &tls.Config{RootCAs: pool}
				return tr, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("no engine CA at %s", file)
}

func waitUp(tr *http.Transport, url string) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	if tr != nil {
		hc.Transport = tr
	}
	for i := 0; i < 600; i++ {
		if res, err := hc.Get(url); err == nil {
			res.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s never answered", url)
}

// ---- PostgreSQL: a private cluster with default settings, and pgbench

func pgBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Strings(dirs)
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries under /usr/lib/postgresql (bash .ci/postgres-up.sh installs them)")
}

// privatePostgres starts a cluster with PostgreSQL's defaults on a free
// loopback port; stop stops it.
func privatePostgres(dir string) (url string, stop func(), err error) {
	bin, err := pgBin()
	if err != nil {
		return "", nil, err
	}
	if os.Geteuid() != 0 {
		return "", nil, errors.New("initdb must run as user postgres: run vwire-bench as root, or give -db")
	}
	data := filepath.Join(dir, "pgdata")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return "", nil, err
	}
	os.Chmod(dir, 0o755)
	if out, err := exec.Command("chown", "-R", "postgres:", data).CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("chown: %v: %s", err, out)
	}
	as := func(args ...string) *exec.Cmd {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...)
	}
	if out, err := as(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres").CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	// Only where it listens is set: every other setting is the default.
	if out, err := as(filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(data, "log"), "-w",
		"-o", fmt.Sprintf("-h 127.0.0.1 -p %d -k /tmp", port)+pgstatOption(), "start").CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	stop = func() { as(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop").Run() }
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), stop, nil
}

var tpsLine = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// pgbench runs pgbench -N on a database of its own in the same cluster:
// as many clients as the benchmark's, but no more than the server's
// connections left while the engines hold theirs.
func pgbench(url string, clients int, dur time.Duration) (tps float64, note string, err error) {
	bin, err := pgBin()
	if err != nil {
		return 0, "", err
	}
	ref := strings.Replace(url, "/postgres?", "/vwire_pgbench?", 1)
	if !strings.Contains(ref, "/vwire_pgbench?") {
		return 0, "", fmt.Errorf("cannot derive a database URL from %s", url)
	}
	psql := func(sql string) error {
		out, err := exec.Command(filepath.Join(bin, "psql"), url, "-qc", sql).CombinedOutput()
		if err != nil {
			return fmt.Errorf("psql %q: %v: %s", sql, err, out)
		}
		return nil
	}
	if err := psql("DROP DATABASE IF EXISTS vwire_pgbench"); err != nil {
		return 0, "", err
	}
	if err := psql("CREATE DATABASE vwire_pgbench"); err != nil {
		return 0, "", err
	}
	if out, err := exec.Command(filepath.Join(bin, "pgbench"), "-i", "-q", "-s", "10", ref).CombinedOutput(); err != nil {
		return 0, "", fmt.Errorf("pgbench -i: %v: %s", err, out)
	}
	out, err := exec.Command(filepath.Join(bin, "psql"), url, "-Atc",
		"SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int - (SELECT count(*) FROM pg_stat_activity) - 2").Output()
	if err != nil {
		return 0, "", fmt.Errorf("psql: %v", err)
	}
	free, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	c := min(clients, max(free, 1))
	secs := strconv.Itoa(max(int(dur.Seconds()), 1))
	res, err := exec.Command(filepath.Join(bin, "pgbench"), "-N", "-n", "-c", strconv.Itoa(c), "-j", "2", "-T", secs, ref).CombinedOutput()
	if err != nil {
		return 0, "", fmt.Errorf("pgbench -N: %v: %s", err, res)
	}
	m := tpsLine.FindSubmatch(res)
	if m == nil {
		return 0, "", fmt.Errorf("no tps in pgbench's output: %s", res)
	}
	tps, _ = strconv.ParseFloat(string(m[1]), 64)
	psql("DROP DATABASE IF EXISTS vwire_pgbench")
	return tps, fmt.Sprintf("%d clients, scale 10, %s s", c, secs), nil
}

// cpuByCommand sums the CPU time (user and system) of this machine's
// processes by command name, from /proc: the engines, the agent and
// PostgreSQL's backends are separate processes.
func cpuByCommand() map[string]time.Duration {
	out := map[string]time.Duration{}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid … utime(14) stime(15): comm may hold spaces.
		open, close := strings.IndexByte(string(b), '('), strings.LastIndexByte(string(b), ')')
		if open < 0 || close < open {
			continue
		}
		comm := string(b[open+1 : close])
		fields := strings.Fields(string(b[close+2:]))
		if len(fields) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(fields[11], 10, 64)
		st, _ := strconv.ParseInt(fields[12], 10, 64)
		// Clock ticks: 100 per second on Linux.
		out[comm] += time.Duration(ut+st) * 10 * time.Millisecond
	}
	return out
}

func totalCPU(a, b map[string]time.Duration) float64 {
	var t time.Duration
	for _, n := range []string{"vwire-engine", "vwire-agent", "postgres"} {
		t += b[n] - a[n]
	}
	return t.Seconds()
}
