package engine_test

import (
	"context"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/agent/engineport"
	"vwire.dev/vwire/engine"
	"vwire.dev/vwire/hypervisor"
	"vwire.dev/vwire/hypervisor/sim"
)

// rewireHV is a simulated host whose live updates take a while (so that a
// job can be watched, or cancelled, half-way) and may be refused.
type rewireHV struct {
	*sim.Sim
	delay  atomic.Int64 // nanoseconds per update
	refuse atomic.Bool
	// busy counts the updates under way; most is the highest it reached.
	busy, most atomic.Int64
}

func (h *rewireHV) UpdateNIC(ctx context.Context, id string, n hypervisor.NIC) (hypervisor.NICState, error) {
	b := h.busy.Add(1)
	defer h.busy.Add(-1)
	for m := h.most.Load(); b > m && !h.most.CompareAndSwap(m, b); m = h.most.Load() {
	}
	time.Sleep(time.Duration(h.delay.Load()))
	if h.refuse.Load() {
		return hypervisor.NICState{}, &hypervisor.Error{Code: hypervisor.ErrOperationFailed, Message: "bridge port limit reached"}
	}
	return h.Sim.UpdateNIC(ctx, id, n)
}

// rewireEnv is an env with more simulated hosts, each with the bridges of
// the test's networks.
type rewireEnv struct {
	*env
	from, to string // profile ids
	hosts    []*vwire.Host
	hvs      map[string]*rewireHV // by host id
	sims     map[string]*sim.Sim
}

func newRewireEnv(t *testing.T, extraHosts int) *rewireEnv {
	t.Helper()
	r := &rewireEnv{hvs: map[string]*rewireHV{}, sims: map[string]*sim.Sim{}}
	var first *rewireHV
	r.env = newEnvOpts(t, envOpts{embedded: true, hv: func(s *sim.Sim) hypervisor.Hypervisor {
		first = &rewireHV{Sim: s}
		return first
	}})
	r.from, r.to = r.network("blue"), r.network("green")
	r.hosts = []*vwire.Host{r.host}
	r.hvs[r.host.ID], r.sims[r.host.ID] = first, r.sim
	for range extraHosts {
		s := sim.New("ovirtmgmt", "blue", "green")
		hv := &rewireHV{Sim: s}
		srv := httptest.NewServer(agent.NewServer(hv, agent.Options{}))
		t.Cleanup(srv.Close)
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
		p, _ := strconv.Atoi(port)
		h, err := r.eng.AddHost(ctx(), engine.HostSpec{Name: "h" + port, Address: "127.0.0.1", Port: p, ClusterID: r.cluster.ID})
		if err != nil || h.Status != vwire.HostUp {
			t.Fatalf("add host: %v %+v", err, h)
		}
		r.hosts = append(r.hosts, h)
		r.hvs[h.ID], r.sims[h.ID] = hv, s
	}
	return r
}

// vms makes n VMs with nics vNICs on the old profile each, pinned to host
// (nil: left down), a few at once.
func (r *rewireEnv) vms(prefix string, n, nics int, host *vwire.Host) []*vwire.VM {
	r.t.Helper()
	out := make([]*vwire.VM, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			spec := engine.VMSpec{Name: prefix + strconv.Itoa(i), ClusterID: r.cluster.ID}
			if host != nil {
				spec.PlacementHosts = []string{host.ID}
			}
			vm, err := r.eng.AddVM(ctx(), spec)
			if err != nil {
				errs <- err
				return
			}
			for j := range nics {
				if _, err := r.eng.AddNIC(ctx(), vm.ID, engine.NICSpec{Name: "nic" + strconv.Itoa(j+1), ProfileID: r.from}); err != nil {
					errs <- err
					return
				}
			}
			if host != nil {
				if vm, err = r.eng.StartVM(ctx(), vm.ID); err != nil {
					errs <- err
					return
				}
			}
			out[i] = vm
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		r.t.Fatal(err)
	}
	return out
}

// steps counts a job's steps by status.
func (r *rewireEnv) steps(jobID string) (map[vwire.JobStatus]int, []*vwire.JobStep) {
	r.t.Helper()
	_, steps, err := r.eng.Job(ctx(), jobID)
	if err != nil {
		r.t.Fatal(err)
	}
	n := map[vwire.JobStatus]int{}
	for _, s := range steps {
		n[s.Status]++
	}
	return n, steps
}

// wait waits for a rewire to end and returns it.
func (r *rewireEnv) wait(jobID string) *vwire.Job {
	r.t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.eng.WaitRewire(c, jobID); err != nil {
		r.t.Fatal(err)
	}
	j, _, err := r.eng.Job(ctx(), jobID)
	if err != nil {
		r.t.Fatal(err)
	}
	return j
}

// onProfile counts a VM's vNICs on a profile, in the database.
func (r *rewireEnv) onProfile(vmID, profile string) int {
	r.t.Helper()
	nics, err := r.eng.NICs(ctx(), vmID)
	if err != nil {
		r.t.Fatal(err)
	}
	n := 0
	for _, x := range nics {
		if x.ProfileID == profile {
			n++
		}
	}
	return n
}

// TestRewireThousand: a rewire of 1,000 vNICs on 20 simulated hosts
// (980 live on running VMs, 20 on VMs that do not run) ends finished with
// one finished step per VM, every vNIC on the new profile in the database
// and on its host, and progress seen while it runs.
func TestRewireThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 vNICs: run without -short")
	}
	r := newRewireEnv(t, 19)
	setup := time.Now()
	var running []*vwire.VM
	for i, h := range r.hosts {
		n := 12
		if i >= 15 {
			n = 13 // 5×13 + 15×12 = 245 VMs, 980 vNICs
		}
		r.hvs[h.ID].delay.Store(int64(time.Millisecond))
		running = append(running, r.vms("h"+strconv.Itoa(i)+"-vm", n, 4, h)...)
	}
	down := r.vms("down-vm", 20, 1, nil)
	t.Logf("setup of %d VMs with 1,000 vNICs on %d hosts: %v", len(running)+len(down), len(r.hosts), time.Since(setup))

	countJobs := func() int {
		t.Helper()
		var js []*vwire.Job
		if err := r.store.View(ctx(), func(tx vwire.Tx) (err error) { js, err = tx.Jobs(vwire.JobFilter{}); return }); err != nil {
			t.Fatal(err)
		}
		return len(js)
	}
	jobsBefore := countJobs()
	start := time.Now()
	job, err := r.eng.RewireProfile(ctx(), engine.RewireSpec{FromProfileID: r.from, ToProfileID: r.to})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(job.Description, "Rewiring 1000 vNICs of 265 VMs") {
		t.Fatalf("job description %q", job.Description)
	}
	// Progress: the ended steps rise while the job is still started.
	var midway []int
	for {
		j, steps, err := r.eng.Job(ctx(), job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(steps) != 265 {
			t.Fatalf("%d steps, want one per VM (265)", len(steps))
		}
		ended := 0
		for _, s := range steps {
			if s.Status != vwire.JobStarted {
				ended++
			}
		}
		if j.Status != vwire.JobStarted {
			break
		}
		if ended > 0 && ended < len(steps) && (len(midway) == 0 || ended > midway[len(midway)-1]) {
			midway = append(midway, ended)
		}
		time.Sleep(20 * time.Millisecond)
	}
	j := r.wait(job.ID)
	took := time.Since(start)
	t.Logf("rewire of 1,000 vNICs (265 VMs, 20 hosts): %v; ended steps seen mid-way: %v", took, midway)
	if j.Status != vwire.JobFinished {
		t.Fatalf("job %s, want finished", j.Status)
	}
	if len(midway) < 2 {
		t.Fatalf("ended steps seen while the job ran: %v, want a rising count", midway)
	}
	// The vNIC changes are steps of the rewire, not jobs of their own.
	if n := countJobs() - jobsBefore; n != 1 {
		t.Errorf("the rewire added %d jobs, want 1", n)
	}
	counts, steps := r.steps(job.ID)
	if counts[vwire.JobFinished] != 265 {
		t.Fatalf("steps by status %v, want 265 finished", counts)
	}
	if !strings.HasPrefix(steps[0].Description, "VM ") || !strings.Contains(steps[0].Description, "moved to profile green") {
		t.Fatalf("step description %q", steps[0].Description)
	}
	for _, vm := range append(running, down...) {
		if r.onProfile(vm.ID, r.from) != 0 {
			t.Fatalf("VM %s still has vNICs on the old profile", vm.Name)
		}
	}
	// On the hosts: every device of a running VM is on the new bridge.
	for _, vm := range running {
		d, err := r.sims[vm.HostID].Domain(context.Background(), vm.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range d.NICs {
			if n.Bridge != "green" {
				t.Fatalf("VM %s device %s on bridge %q on its host, want green", vm.Name, n.Alias, n.Bridge)
			}
		}
	}
	// At most 4 VMs at once on a host (each VM's vNICs one after another),
	// and the hosts were busy at once.
	most := int64(0)
	for _, hv := range r.hvs {
		if m := hv.most.Load(); m > 4 {
			t.Fatalf("a host had %d updates at once, want at most 4", m)
		} else {
			most = max(most, m)
		}
	}
	if most < 2 {
		t.Fatalf("at most %d update at once on any host: the rewire did not run VMs in parallel", most)
	}
	if evs := r.events(10960); len(evs) != 1 {
		t.Fatalf("start events %q", evs)
	}
	if evs := r.events(10961); len(evs) != 1 || !strings.Contains(evs[0], "265 VMs rewired") {
		t.Fatalf("end events %q", evs)
	}
}

// TestRewireFailedHostRetry: VMs on a host that refuses live updates are
// failed steps with the host's reason (their vNICs stay on the old
// profile); the others finish; a retry takes only the failed VMs and
// succeeds once the host accepts.
func TestRewireFailedHostRetry(t *testing.T) { forEachStore(t, testRewireFailedHostRetry) }

func testRewireFailedHostRetry(t *testing.T) {
	r := newRewireEnv(t, 1)
	good := r.vms("good", 3, 2, r.hosts[0])
	bad := r.vms("bad", 3, 2, r.hosts[1])
	stopped := r.vms("stopped", 2, 1, nil)
	r.hvs[r.hosts[1].ID].refuse.Store(true)

	job, err := r.eng.RewireProfile(ctx(), engine.RewireSpec{FromProfileID: r.from, ToProfileID: r.to})
	if err != nil {
		t.Fatal(err)
	}
	if j := r.wait(job.ID); j.Status != vwire.JobFailed {
		t.Fatalf("job %s, want failed", j.Status)
	}
	counts, steps := r.steps(job.ID)
	if counts[vwire.JobFinished] != 5 || counts[vwire.JobFailed] != 3 {
		t.Fatalf("steps %v, want 5 finished and 3 failed", counts)
	}
	for _, s := range steps {
		if s.Status == vwire.JobFailed && (!strings.HasPrefix(s.Description, "VM bad") || !strings.Contains(s.Description, "bridge port limit reached") ||
			!strings.Contains(s.Description, "nic1: ")) {
			t.Fatalf("failed step %q, want a bad VM with the host's reason per vNIC", s.Description)
		}
	}
	for _, vm := range bad {
		if r.onProfile(vm.ID, r.from) != 2 {
			t.Fatalf("VM %s: a refused live update must leave its vNICs on the old profile", vm.Name)
		}
	}
	for _, vm := range append(good, stopped...) {
		if r.onProfile(vm.ID, r.from) != 0 {
			t.Fatalf("VM %s still on the old profile", vm.Name)
		}
	}
	if evs := r.events(10962); len(evs) != 1 || !strings.Contains(evs[0], "3 failed (bad0, bad1, bad2)") {
		t.Fatalf("end events %q", evs)
	}

	r.hvs[r.hosts[1].ID].refuse.Store(false)
	retry, err := r.eng.RetryRewire(ctx(), job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if j := r.wait(retry.ID); j.Status != vwire.JobFinished {
		t.Fatalf("retry %s, want finished", j.Status)
	}
	counts, steps = r.steps(retry.ID)
	if counts[vwire.JobFinished] != 3 || len(steps) != 3 {
		t.Fatalf("retry steps %v, want the 3 failed VMs only", counts)
	}
	for _, vm := range bad {
		if r.onProfile(vm.ID, r.to) != 2 {
			t.Fatalf("VM %s not rewired by the retry", vm.Name)
		}
	}
	if _, err := r.eng.RetryRewire(ctx(), retry.ID); !vwire.IsKey(err, vwire.MsgJobNotRetryable) {
		t.Fatalf("retry of a finished job: %v, want JOB_NOT_RETRYABLE", err)
	}
}

// TestRewireCancel: a cancel stops scheduling: VMs being handled finish,
// the rest are aborted and keep their vNICs; the job ends aborted.
func TestRewireCancel(t *testing.T) { forEachStore(t, testRewireCancel) }

func testRewireCancel(t *testing.T) {
	r := newRewireEnv(t, 0)
	r.hvs[r.host.ID].delay.Store(int64(150 * time.Millisecond))
	vms := r.vms("vm", 12, 1, r.host)
	job, err := r.eng.RewireProfile(ctx(), engine.RewireSpec{FromProfileID: r.from, ToProfileID: r.to})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, _ := r.steps(job.ID); c[vwire.JobFinished] > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no step ended")
		}
	}
	if _, err := r.eng.CancelJob(ctx(), job.ID); err != nil {
		t.Fatal(err)
	}
	if j := r.wait(job.ID); j.Status != vwire.JobAborted {
		t.Fatalf("job %s, want aborted", j.Status)
	}
	counts, steps := r.steps(job.ID)
	if counts[vwire.JobAborted] == 0 || counts[vwire.JobFinished] == 0 || counts[vwire.JobFailed] != 0 || counts[vwire.JobStarted] != 0 {
		t.Fatalf("steps %v, want finished and aborted ones only", counts)
	}
	moved := 0
	for _, vm := range vms {
		moved += r.onProfile(vm.ID, r.to)
	}
	if moved != counts[vwire.JobFinished] {
		t.Fatalf("%d vNICs moved, %d steps finished", moved, counts[vwire.JobFinished])
	}
	for _, s := range steps {
		if s.Status == vwire.JobAborted && !strings.HasSuffix(s.Description, ": waiting") {
			t.Fatalf("aborted step %q was begun", s.Description)
		}
	}
	if evs := r.events(10962); len(evs) != 1 || !strings.Contains(evs[0], "ended aborted") || !strings.Contains(evs[0], "0 failed (none)") {
		t.Fatalf("end events %q", evs)
	}
	if _, err := r.eng.CancelJob(ctx(), job.ID); err != nil {
		t.Fatalf("cancel of an ended rewire: %v", err)
	}
}

// TestRewireFilterAndRights: the cluster and search filters keep only the
// VMs they select; a vNIC the caller may not change is a failed step with
// the refusal; starting needs CONFIGURE_VM_NETWORK on the new profile.
func TestRewireFilterAndRights(t *testing.T) { forEachStore(t, testRewireFilterAndRights) }

func testRewireFilterAndRights(t *testing.T) {
	r := newRewireEnv(t, 0)
	web := r.vms("web", 2, 1, nil)
	db := r.vms("db", 2, 1, nil)
	s := vwire.Search{Where: &vwire.SearchExpr{Field: "name", Op: vwire.SearchEq, Value: "web*"}}
	job, err := r.eng.RewireProfile(ctx(), engine.RewireSpec{FromProfileID: r.from, ToProfileID: r.to, ClusterID: r.cluster.ID, Search: s})
	if err != nil {
		t.Fatal(err)
	}
	if j := r.wait(job.ID); j.Status != vwire.JobFinished {
		t.Fatalf("job %s", j.Status)
	}
	if c, _ := r.steps(job.ID); c[vwire.JobFinished] != 2 {
		t.Fatalf("steps %v, want the two web VMs", c)
	}
	if r.onProfile(web[0].ID, r.to) != 1 || r.onProfile(db[0].ID, r.from) != 1 {
		t.Fatal("the search did not select the web VMs alone")
	}

	uctx, u := r.user("rewirer")
	if _, err := r.eng.RewireProfile(uctx, engine.RewireSpec{FromProfileID: r.from, ToProfileID: r.to}); !vwire.IsKey(err, vwire.MsgUserNotAuthorized) {
		t.Fatalf("rewire without rights on the new profile: %v", err)
	}
	r.grant(u, vwire.RoleVnicProfileUser, vwire.ObjProfile, r.to)
	r.grant(u, vwire.RoleUserVmManager, vwire.ObjVM, db[0].ID)
	job, err = r.eng.RewireProfile(uctx, engine.RewireSpec{FromProfileID: r.from, ToProfileID: r.to})
	if err != nil {
		t.Fatal(err)
	}
	if j := r.wait(job.ID); j.Status != vwire.JobFailed || j.OwnerID != u.ID {
		t.Fatalf("job %s owned by %q", j.Status, j.OwnerID)
	}
	counts, steps := r.steps(job.ID)
	if counts[vwire.JobFinished] != 1 || counts[vwire.JobFailed] != 1 {
		t.Fatalf("steps %v, want db0 finished and db1 refused", counts)
	}
	for _, st := range steps {
		if st.Status == vwire.JobFailed && (!strings.HasPrefix(st.Description, "VM db1") || !strings.Contains(st.Description, "CONFIGURE_VM_NETWORK")) {
			t.Fatalf("refused step %q", st.Description)
		}
	}
	if _, err := r.eng.RewireProfile(ctx(), engine.RewireSpec{FromProfileID: r.to, ToProfileID: r.to}); !vwire.IsKey(err, vwire.MsgRewireSameProfile) {
		t.Fatalf("rewire to the same profile: %v", err)
	}
}

// TestRewireCancelFromAnotherEngine: an engine sharing the database that
// does not run the rewire cancels it by ending it aborted; the engine that
// runs it reads that and starts no more VMs.
func TestRewireCancelFromAnotherEngine(t *testing.T) {
	r := newRewireEnv(t, 0)
	r.hvs[r.host.ID].delay.Store(int64(100 * time.Millisecond))
	vms := r.vms("vm", 16, 1, r.host)
	other := engine.New(r.store, engine.Options{HostTimeout: 5 * time.Second, Dial: engineport.Dial(5 * time.Second)})
	t.Cleanup(other.Close)
	job, err := r.eng.RewireProfile(ctx(), engine.RewireSpec{FromProfileID: r.from, ToProfileID: r.to})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	j, err := other.CancelJob(ctx(), job.ID)
	if err != nil || j.Status != vwire.JobAborted {
		t.Fatalf("cancel through the other engine: %+v %v", j, err)
	}
	if j := r.wait(job.ID); j.Status != vwire.JobAborted {
		t.Fatalf("job %s, want aborted", j.Status)
	}
	counts, _ := r.steps(job.ID)
	moved := 0
	for _, vm := range vms {
		moved += r.onProfile(vm.ID, r.to)
	}
	if counts[vwire.JobAborted] == 0 || moved != counts[vwire.JobFinished] || moved >= len(vms) {
		t.Fatalf("steps %v, %d vNICs moved: the running engine went on after the cancel", counts, moved)
	}
}
