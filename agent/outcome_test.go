package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/hypervisor"
	"vwire.dev/vwire/hypervisor/sim"
)

// slowSim delays every device update: a change in progress.
type slowSim struct {
	*sim.Sim
	delay atomic.Int64
}

func (s *slowSim) UpdateNIC(ctx context.Context, id string, n hypervisor.NIC) (hypervisor.NICState, error) {
	time.Sleep(time.Duration(s.delay.Load()))
	return s.Sim.UpdateNIC(ctx, id, n)
}

type rawAnswer struct {
	Result json.RawMessage `json:"result"`
	Error  *agent.RPCError `json:"error"`
}

// post sends one raw JSON-RPC request.
func post(t *testing.T, url string, req map[string]any) rawAnswer {
	t.Helper()
	req["jsonrpc"], req["id"] = "2.0", 1
	b, _ := json.Marshal(req)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a rawAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	return a
}

func outcomeAgent(t *testing.T, o agent.Options) (*httptest.Server, *slowSim) {
	t.Helper()
	s := &slowSim{Sim: sim.New("red", "blue")}
	srv := httptest.NewServer(agent.NewServer(s, o))
	t.Cleanup(srv.Close)
	if _, err := s.CreateDomain(context.Background(), hypervisor.Domain{ID: "v1", Name: "vm1",
		NICs: []hypervisor.NIC{{Alias: "ua-n1", MAC: "02:00:00:00:00:01", Model: "virtio", Bridge: "red", LinkUp: true}}}); err != nil {
		t.Fatal(err)
	}
	return srv, s
}

func linkDown(op string, deadline int64) map[string]any {
	return map[string]any{"method": "VM.updateDevice", "op": op, "deadline": deadline,
		"params": map[string]any{"vmID": "v1", "params": map[string]any{"deviceType": "interface", "alias": "ua-n1", "linkActive": false}}}
}

func linkOf(t *testing.T, s *slowSim) bool {
	t.Helper()
	d, err := s.Domain(context.Background(), "v1")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := d.NICByAlias("ua-n1")
	return n.LinkUp
}

// TestLateRequestsNeverStart: a request whose deadline passed, or whose
// operation VM.settle fenced, is refused and changes nothing.
func TestLateRequestsNeverStart(t *testing.T) {
	srv, s := outcomeAgent(t, agent.Options{})
	a := post(t, srv.URL, linkDown("op-late", time.Now().Add(-time.Second).UnixMilli()))
	if a.Error == nil || a.Error.Code != agent.CodeNotStarted {
		t.Fatalf("request past its deadline: %+v, want code %d", a.Error, agent.CodeNotStarted)
	}
	a = post(t, srv.URL, map[string]any{"method": "VM.settle", "params": map[string]any{"vmID": "v1", "op": "op-fenced"}})
	if a.Error != nil || !strings.Contains(string(a.Result), "ua-n1") {
		t.Fatalf("settle: %s %+v", a.Result, a.Error)
	}
	a = post(t, srv.URL, linkDown("op-fenced", time.Now().Add(time.Minute).UnixMilli()))
	if a.Error == nil || a.Error.Code != agent.CodeNotStarted {
		t.Fatalf("fenced request: %+v, want code %d", a.Error, agent.CodeNotStarted)
	}
	if !linkOf(t, s) {
		t.Error("a refused request changed the link")
	}
	a = post(t, srv.URL, linkDown("op-ok", time.Now().Add(time.Minute).UnixMilli()))
	if a.Error != nil || linkOf(t, s) {
		t.Fatalf("request in time: %+v, link up %v", a.Error, linkOf(t, s))
	}
}

// TestSettleWaitsForChangeInProgress: VM.settle answers after the change
// that holds the VM, with the device as that change left it.
func TestSettleWaitsForChangeInProgress(t *testing.T) {
	srv, s := outcomeAgent(t, agent.Options{})
	s.delay.Store(int64(300 * time.Millisecond))
	done := make(chan rawAnswer, 1)
	go func() { done <- post(t, srv.URL, linkDown("op-1", time.Now().Add(time.Minute).UnixMilli())) }()
	time.Sleep(50 * time.Millisecond)
	c := agent.NewClient(srv.URL, nil, 5*time.Second)
	defer c.Close()
	st, found, err := c.Settle(ctxT(t), "v1", "op-1")
	if err != nil || !found || len(st.NICs) != 1 || st.NICs[0].LinkActive {
		t.Fatalf("settle = %+v, %v, %v; want the device with its link down", st, found, err)
	}
	if a := <-done; a.Error != nil {
		t.Fatalf("the change in progress: %+v", a.Error)
	}
	if _, found, err := c.Settle(ctxT(t), "nope", ""); found || err != nil {
		t.Errorf("settle of an unknown VM: found %v, err %v; want not found", found, err)
	}
}

// TestBounceHoldHasItsOwnBudget: a link bounce whose hold is longer than
// the agent's call timeout completes.
func TestBounceHoldHasItsOwnBudget(t *testing.T) {
	srv, _ := outcomeAgent(t, agent.Options{CallTimeout: 200 * time.Millisecond})
	c := agent.NewClient(srv.URL, nil, 5*time.Second)
	defer c.Close()
	blue, up := "blue", true
	got, err := c.UpdateNIC(ctxT(t), "v1", agent.UpdateDeviceParams{Alias: "ua-n1", Network: &blue, LinkActive: &up,
		Notify: "link_bounce", BounceHoldMs: 400})
	if err != nil || got.Network != "blue" || !got.LinkActive {
		t.Fatalf("bounce with a hold over the call timeout: %+v, %v", got, err)
	}
}

// abandoningSim gives up on every device update at once, as libvirt's
// backend does at a call's deadline, and carries it out a little later,
// as libvirtd goes on with a job whose client left.
type abandoningSim struct {
	*sim.Sim
	late time.Duration
}

func (s *abandoningSim) UpdateNIC(ctx context.Context, id string, n hypervisor.NIC) (hypervisor.NICState, error) {
	go func() {
		time.Sleep(s.late)
		s.Sim.UpdateNIC(context.Background(), id, n)
	}()
	return hypervisor.NICState{}, hypervisor.Errorf(hypervisor.ErrAbandoned, "operation timed out: update (it may still be carried out)")
}

// TestAbandonedChangeIsUnknownUntilItCannotLand: a change the hypervisor
// abandoned is answered "unknown", not "failed", even though reading the
// device back shows it not applied yet; VM.settle refuses to call it
// settled while it may still land, and afterwards reports it as it landed.
func TestAbandonedChangeIsUnknownUntilItCannotLand(t *testing.T) {
	s := &abandoningSim{Sim: sim.New("red", "blue"), late: 100 * time.Millisecond}
	srv := httptest.NewServer(agent.NewServer(s, agent.Options{CallTimeout: 150 * time.Millisecond}))
	defer srv.Close()
	if _, err := s.CreateDomain(context.Background(), hypervisor.Domain{ID: "v1", Name: "vm1",
		NICs: []hypervisor.NIC{{Alias: "ua-n1", MAC: "02:00:00:00:00:01", Model: "virtio", Bridge: "red", LinkUp: true}}}); err != nil {
		t.Fatal(err)
	}
	c := agent.NewClient(srv.URL, nil, 5*time.Second)
	defer c.Close()
	red, down := "red", false
	_, err := c.UpdateNIC(ctxT(t), "v1", whole(agent.UpdateDeviceParams{Alias: "ua-n1", MAC: "02:00:00:00:00:01", Model: "virtio", Network: &red, LinkActive: &down}))
	if !agent.IsUnknown(err) {
		t.Fatalf("abandoned update: err = %v, want an unknown outcome", err)
	}
	if _, _, err := c.Settle(ctxT(t), "v1", "op"); !agent.IsUnknown(err) {
		t.Fatalf("settle while the abandoned update may land: err = %v, want unknown", err)
	}
	time.Sleep(350 * time.Millisecond) // past twice the call timeout
	st, found, err := c.Settle(ctxT(t), "v1", "op")
	if err != nil || !found || st.NICs[0].LinkActive {
		t.Fatalf("settle after: %+v, %v, %v; want the update landed (link down)", st, found, err)
	}
}
