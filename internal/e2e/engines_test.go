package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/internal/testenv"
	"vwire.dev/vwire/pki"
)

var (
	loadDuration = flag.Duration("vwire.load", 8*time.Second, "how long TestEnginesUnderLoad runs its clients (1m for the full run)")
	loadClients  = flag.Int("vwire.clients", 64, "concurrent clients of TestEnginesUnderLoad")
)

// build compiles a command of this module into dir.
func build(t *testing.T, dir, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, "vwire.dev/vwire/"+pkg)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is a vwire binary running as its own process.
type proc struct {
	cmd *exec.Cmd
	url string
}

func start(t *testing.T, bin string, logPath string, env []string, args ...string) *proc {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	return &proc{cmd: cmd}
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	for i := 0; i < 300; i++ {
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never answered", url)
}

// load counts what the clients saw.
type load struct {
	acked      atomic.Int64 // 2xx on a change
	refused    atomic.Int64 // 4xx: a rule said no (e.g. removing a plugged vNIC)
	server     atomic.Int64 // 5xx
	lost       atomic.Int64 // no answer (the engine was killed)
	serverErrs sync.Map
}

// TestEnginesUnderLoad is issue 5's "Done when": three engine processes on
// one PostgreSQL and one simulated host agent, 64 clients changing vNICs of
// the same and of different running VMs through every engine, one engine
// killed in the middle. Run the full minute with
// go test ./internal/e2e -run TestEnginesUnderLoad -vwire.load 1m
func TestEnginesUnderLoad(t *testing.T) {
	pg := testenv.Postgres(t)
	dir := t.TempDir()
	engineBin, agentBin := build(t, dir, "cmd/vwire-engine"), build(t, dir, "cmd/vwire-agent")

	agentPort := freePort(t)
	// The engines share one CA (one --data directory for its files): the
	// first makes it, the others start once it is there.
	data := filepath.Join(dir, "data")
	var engines []*proc
	for i := 0; i < 3; i++ {
		port := freePort(t)
		p := start(t, engineBin, filepath.Join(dir, fmt.Sprintf("engine%d.log", i)), []string{"VWIRE_ADMIN_PASSWORD=secret"},
			"--db", pg, "--data", data, "--embedded-host=false", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--poll-interval", "1s", "--log-level", "warn")
		p.url = fmt.Sprintf("https://127.0.0.1:%d/ovirt-engine/api", port)
		engines = append(engines, p)
		waitCA(t, data)
		waitHTTP(t, strings.TrimSuffix(p.url, "/ovirt-engine/api")+"/healthz")
	}
	c := &client{t: t, base: engines[0].url}
	h := c.must(201, "POST", "/hosts", obj{"name": "h1", "address": "127.0.0.1", "port": fmt.Sprint(agentPort), "cluster": obj{"name": "Default"}})
	start(t, agentBin, filepath.Join(dir, "agent.log"), nil, "--hypervisor", "sim", "--listen", fmt.Sprintf("127.0.0.1:%d", agentPort), "--bridges", "ovirtmgmt,red,blue",
		"--state-dir", filepath.Join(dir, "agent-state"), "--enroll-url", strings.TrimSuffix(engines[0].url, "/ovirt-engine/api"),
		"--enroll-token", enrolmentToken(c, str(h, "id")), "--engine-ca", filepath.Join(data, "pki", pki.CAFile))
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", agentPort))
	cluster := str(h, "cluster.id")
	dc := str(c.must(200, "GET", "/clusters/"+cluster, nil), "data_center.id")
	profiles := []string{""}
	for _, name := range []string{"red", "blue"} {
		n := c.must(201, "POST", "/networks", obj{"name": name, "data_center": obj{"id": dc}})
		c.must(201, "POST", "/clusters/"+cluster+"/networks", obj{"id": str(n, "id")})
		ps := c.must(200, "GET", "/networks/"+str(n, "id")+"/vnicprofiles", nil)
		profiles = append(profiles, str(ps["vnic_profile"].([]any)[0].(obj), "id"))
	}
	// The host was added before its agent enrolled: refreshed until up
	// (a failed dial stands for a moment).
	waitUp(c, str(h, "id"))
	const nVMs = 12
	var vms []string
	for i := 0; i < nVMs; i++ {
		v := c.must(201, "POST", "/vms", obj{"name": fmt.Sprintf("load%02d", i), "cluster": obj{"id": cluster}, "template": obj{"name": "Blank"}})
		for j := 0; j < 2; j++ {
			c.must(201, "POST", "/vms/"+str(v, "id")+"/nics", obj{"name": fmt.Sprintf("nic%d", j), "vnic_profile": obj{"id": profiles[1+j%2]}})
		}
		c.must(200, "POST", "/vms/"+str(v, "id")+"/start", obj{})
		vms = append(vms, str(v, "id"))
	}
	var before []any
	if evs := c.must(200, "GET", "/events?max=1", nil); evs["event"] != nil {
		before = evs["event"].([]any)
	}
	firstEvent := str(before[0].(obj), "id")

	// A live stream of events from the second engine: it must carry every
	// engine's events.
	streamed := map[string]bool{}
	var streamMu sync.Mutex
	sctx, stopStream := context.WithCancel(context.Background())
	defer stopStream()
	go streamEvents(sctx, engines[1].url, firstEvent, func(id string) {
		streamMu.Lock()
		streamed[id] = true
		streamMu.Unlock()
	})

	// The clients.
	var alive atomic.Int32
	alive.Store(3)
	var l load
	ctx, cancel := context.WithTimeout(context.Background(), *loadDuration)
	defer cancel()
	httpc := &http.Client{Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	for i := 0; i < *loadClients; i++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(id)))
			seq := 0
			for ctx.Err() == nil {
				base := engines[r.Intn(int(alive.Load()))].url
				// Half the clients share four VMs; the others spread over all.
				vm := vms[r.Intn(4)]
				if id%2 == 1 {
					vm = vms[r.Intn(len(vms))]
				}
				status, nics := call(httpc, base, "GET", "/vms/"+vm+"/nics", nil)
				if status != 200 {
					count(&l, status, "list", nil, false)
					continue
				}
				list, _ := nics["nic"].([]any)
				var nic obj
				if len(list) > 0 {
					nic = list[r.Intn(len(list))].(obj)
				}
				op := r.Intn(5)
				if nic == nil {
					op = 3
				}
				var method, path string
				var body obj
				switch op {
				case 0:
					method, path, body = "PUT", "/vms/"+vm+"/nics/"+str(nic, "id"), obj{"linked": fmt.Sprint(r.Intn(2) == 0)}
				case 1:
					p := obj{}
					if id := profiles[r.Intn(len(profiles))]; id != "" {
						p = obj{"id": id}
					}
					method, path, body = "PUT", "/vms/"+vm+"/nics/"+str(nic, "id"), obj{"vnic_profile": p}
				case 2:
					method, path, body = "PUT", "/vms/"+vm+"/nics/"+str(nic, "id"), obj{"plugged": fmt.Sprint(r.Intn(2) == 0)}
				case 3:
					if len(list) >= 6 {
						continue
					}
					seq++
					method, path, body = "POST", "/vms/"+vm+"/nics", obj{"name": fmt.Sprintf("c%d-%d", id, seq), "linked": fmt.Sprint(r.Intn(2) == 0),
						"plugged": fmt.Sprint(r.Intn(2) == 0), "vnic_profile": obj{"id": profiles[1+r.Intn(2)]}}
				case 4:
					method, path = "DELETE", "/vms/"+vm+"/nics/"+str(nic, "id")
				}
				status, resp := call(httpc, base, method, path, body)
				count(&l, status, method+" "+path, resp, true)
			}
		}(i)
	}
	// Kill one engine mid-run, without a chance to clean up.
	time.Sleep(*loadDuration / 2)
	alive.Store(2)
	engines[2].cmd.Process.Signal(syscall.SIGKILL)
	wg.Wait()
	t.Logf("clients: %d changes acknowledged, %d refused by rules, %d unanswered, %d server errors",
		l.acked.Load(), l.refused.Load(), l.lost.Load(), l.server.Load())
	if l.server.Load() > 0 {
		l.serverErrs.Range(func(k, v any) bool { t.Errorf("5xx on %v: %v", k, v); return true })
	}
	if l.acked.Load() == 0 {
		t.Fatal("no change went through")
	}

	// Let the surviving engines repair what the dead one left and poll.
	time.Sleep(5 * time.Second)
	checkConverged(t, c, vms, engineAgentClient(t, data, str(h, "id"), agentPort), profiles)

	// One audit event per acknowledged change; the unanswered requests may
	// or may not have been done, and changes that failed on the host would
	// show as failure events (there must be none).
	evs := c.must(200, "GET", "/events?from="+firstEvent, nil)
	changes, failures := 0, 0
	list, _ := evs["event"].([]any)
	for _, e := range list {
		switch str(e.(obj), "code") {
		case "932", "934", "930", "1012", "1014":
			changes++
		case "933", "935", "931", "1013", "1015":
			failures++
			t.Errorf("failure event: %s", str(e.(obj), "description"))
		}
	}
	if int64(changes) < l.acked.Load() || int64(changes) > l.acked.Load()+l.lost.Load() {
		t.Errorf("%d change events for %d acknowledged changes (%d unanswered)", changes, l.acked.Load(), l.lost.Load())
	}
	t.Logf("events: %d changes, %d failures", changes, failures)

	// Every engine answers the same list, and the stream saw all of it.
	other := (&client{t: t, base: engines[1].url}).must(200, "GET", "/events?from="+firstEvent, nil)
	otherList, _ := other["event"].([]any)
	if len(otherList) != len(list) {
		t.Errorf("engine 0 lists %d events, engine 1 %d", len(list), len(otherList))
	}
	streamMu.Lock()
	defer streamMu.Unlock()
	missing := 0
	for _, e := range list {
		if !streamed[str(e.(obj), "id")] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("the event stream of engine 1 missed %d of %d events", missing, len(list))
	}
}

// streamEvents reads server-sent events after from and reports their ids.
func streamEvents(ctx context.Context, base, from string, seen func(id string)) {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/events?from="+from, nil)
	req.SetBasicAuth("admin@internal", "secret")
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
			seen(id)
		}
	}
}

func call(hc *http.Client, base, method, path string, body obj) (int, obj) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.SetBasicAuth("admin@internal", "secret")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return 0, nil
	}
	defer res.Body.Close()
	var o obj
	json.NewDecoder(bufio.NewReader(res.Body)).Decode(&o)
	return res.StatusCode, o
}

func count(l *load, status int, what string, resp obj, change bool) {
	switch {
	case status == 0:
		l.lost.Add(1)
	case status >= 500:
		l.server.Add(1)
		l.serverErrs.Store(what, fmt.Sprintf("%d %v", status, resp))
	case status >= 400:
		l.refused.Add(1)
	case change:
		l.acked.Add(1)
	}
}

// checkConverged compares every vNIC's desired state, as the API gives it,
// with what the host agent reports, and checks that no MAC is used twice.
func checkConverged(t *testing.T, c *client, vms []string, ac *agent.Client, profiles []string) {
	t.Helper()
	defer ac.Close()
	stats, err := ac.AllVMStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]agent.NICStats{}
	for _, s := range stats {
		for _, n := range s.NICs {
			live[s.VMID+"/"+n.Alias] = n
		}
	}
	bridges := map[string]string{}
	for _, p := range profiles[1:] {
		pr := c.must(200, "GET", "/vnicprofiles/"+p, nil)
		bridges[p] = str(c.must(200, "GET", "/networks/"+str(pr, "network.id"), nil), "name")
	}
	macs := map[string]string{}
	total := 0
	for _, vm := range vms {
		nics := c.must(200, "GET", "/vms/"+vm+"/nics", nil)
		list, _ := nics["nic"].([]any)
		for _, x := range list {
			n := x.(obj)
			total++
			id := str(n, "id")
			if other, dup := macs[str(n, "mac.address")]; dup {
				t.Errorf("MAC %s on %s and %s", str(n, "mac.address"), other, id)
			}
			macs[str(n, "mac.address")] = id
			d, present := live[vm+"/ua-"+id]
			delete(live, vm+"/ua-"+id)
			plugged := str(n, "plugged") == "true"
			bridge := bridges[str(n, "vnic_profile.id")]
			if bridge == "" {
				bridge = vwire.DummyBridge
			}
			wantUp := str(n, "linked") == "true" && bridge != vwire.DummyBridge
			switch {
			case plugged != present:
				t.Errorf("nic %s: plugged %v, on the host %v", id, plugged, present)
			case present && (d.Network != bridge || d.LinkActive != wantUp || d.MAC != str(n, "mac.address")):
				t.Errorf("nic %s: desired bridge %s link %v mac %s; host has %s %v %s", id, bridge, wantUp, str(n, "mac.address"), d.Network, d.LinkActive, d.MAC)
			case str(n, "synced") != "true":
				// The surviving engines poll the host (one took over the dead
				// engine's lease if it held it) and see that it matches.
				t.Errorf("nic %s matches the host but is not synced: %v", id, n["reported_state"])
			}
		}
	}
	for k := range live {
		t.Errorf("device %s on the host has no vNIC in the database", k)
	}
	t.Logf("%d vNICs on %d VMs checked against the host", total, len(vms))
}
