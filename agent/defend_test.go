package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vwire.dev/vwire/hypervisor"
	"vwire.dev/vwire/hypervisor/sim"
)

// These tests are the agent's defences against hostile or greedy clients
// (issue 11 item 5) and its own input checks (item 4).

func rpc(method string, params any) []byte {
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	return b
}

// TestInvalidParamsRefused: what the engine (or anyone) sends is checked
// before any hypervisor call, on the simulated hypervisor too.
func TestInvalidParamsRefused(t *testing.T) {
	s := sim.New("red")
	as := NewServer(s, Options{})
	ctx := context.Background()
	if r := as.handle(ctx, rpc("VM.create", map[string]any{"vmID": "v1", "vmParams": map[string]any{"vmId": "v1", "vmName": "vm1", "memSize": 64}})); r.Error != nil {
		t.Fatal(r.Error)
	}
	dev := func(mac, model, alias, network string) map[string]any {
		return map[string]any{"vmID": "v1", "params": map[string]any{"vmId": "v1",
			"nic": map[string]any{"alias": alias, "macAddr": mac, "nicModel": model, "network": network}}}
	}
	long := strings.Repeat("a", 1<<20)
	for _, tc := range []struct {
		name   string
		method string
		params any
	}{
		{"multicast MAC", "VM.hotplugNic", dev("03:00:00:00:00:01", "virtio", "ua-n1", "red")},
		{"broadcast MAC", "VM.hotplugNic", dev("ff:ff:ff:ff:ff:ff", "virtio", "ua-n1", "red")},
		{"zero MAC", "VM.hotplugNic", dev("00:00:00:00:00:00", "virtio", "ua-n1", "red")},
		{"MAC not a MAC", "VM.hotplugNic", dev("02:00:00:00:00:0g", "virtio", "ua-n1", "red")},
		{"model with markup", "VM.hotplugNic", dev("02:00:00:00:00:01", "virtio'/><x y='", "ua-n1", "red")},
		{"unknown model", "VM.hotplugNic", dev("02:00:00:00:00:01", "ne2k_pci", "ua-n1", "red")},
		{"alias with markup", "VM.hotplugNic", dev("02:00:00:00:00:01", "virtio", "ua-<n1>", "red")},
		{"network with a slash", "VM.hotplugNic", dev("02:00:00:00:00:01", "virtio", "ua-n1", "red/x")},
		{"network too long", "VM.hotplugNic", dev("02:00:00:00:00:01", "virtio", "ua-n1", "abcdefghijklmnop")},
		{"1 MiB vmID", "VM.destroy", map[string]any{"vmID": long}},
		{"vmID with a space", "VM.getStats", map[string]any{"vmID": "v 1"}},
		{"vmName with a control character", "VM.create", map[string]any{"vmID": "v2", "vmParams": map[string]any{"vmId": "v2", "vmName": "a\x01b"}}},
		{"update to a network with markup", "VM.updateDevice", map[string]any{"vmID": "v1", "params": map[string]any{"deviceType": "interface", "alias": "ua-n1", "network": "<red>"}}},
		{"update naming a multicast MAC", "VM.updateDevice", map[string]any{"vmID": "v1", "params": map[string]any{"deviceType": "interface", "alias": "ua-n1", "macAddr": "01:00:5e:00:00:01"}}},
		{"smp not whole sockets", "VM.create", map[string]any{"vmID": "v3", "vmParams": map[string]any{"vmId": "v3", "vmName": "vm3", "smp": 3, "smpCoresPerSocket": 2}}},
		{"smp over the maximum", "VM.create", map[string]any{"vmID": "v3", "vmParams": map[string]any{"vmId": "v3", "vmName": "vm3", "smp": 256}}},
		{"negative smp", "VM.create", map[string]any{"vmID": "v3", "vmParams": map[string]any{"vmId": "v3", "vmName": "vm3", "smp": -1}}},
		{"setupNetworks with a bad name", "Host.setupNetworks", map[string]any{"networks": map[string]any{"a b": map[string]any{}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := as.handle(ctx, rpc(tc.method, tc.params))
			if r.Error == nil || r.Error.Code != CodeInvalidParams {
				got := "<nil>"
				if r.Error != nil {
					got = fmt.Sprintf("%.200s", r.Error.Error())
				}
				t.Fatalf("%s: error = %s, want code %d", tc.method, got, CodeInvalidParams)
			}
			d, err := s.Domain(ctx, "v1")
			if err != nil || len(d.NICs) != 0 {
				t.Fatalf("domain after a refused call = %+v, %v; want it unchanged", d, err)
			}
		})
	}
	if r := as.handle(ctx, rpc("VM.hotplugNic", dev("02:00:00:00:00:01", "virtio", "ua-n1", "red"))); r.Error != nil {
		t.Fatalf("a valid hot plug: %v", r.Error)
	}
}

// TestVMLocksFreed: the per-VM lock map holds only VMs with a call in
// progress, not every id ever seen.
func TestVMLocksFreed(t *testing.T) {
	as := NewServer(sim.New("red"), Options{})
	ctx := context.Background()
	for i := 0; i < 150; i++ {
		as.handle(ctx, rpc("VM.destroy", map[string]any{"vmID": fmt.Sprintf("vm-%d", i)}))
	}
	as.handle(ctx, rpc("VM.destroy", map[string]any{"vmID": strings.Repeat("x", 1<<20)}))
	as.mu.Lock()
	n := as.locks.Len()
	as.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d locks left after 151 calls ended, want 0", n)
	}
	// A lock still serialises calls on one VM while it is held.
	unlock := as.lockVM("v1")
	got := make(chan struct{})
	go func() { as.lockVM("v1")(); close(got) }()
	select {
	case <-got:
		t.Fatal("a second call took a held VM lock")
	case <-time.After(50 * time.Millisecond):
	}
	unlock()
	<-got
	as.mu.Lock()
	n = as.locks.Len()
	as.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d locks left, want 0", n)
	}
}

// blockingHV holds every Capabilities call until release is closed, and
// counts the calls in progress.
type blockingHV struct {
	hypervisor.Hypervisor
	release      chan struct{}
	now, maxSeen atomic.Int32
}

func (b *blockingHV) Capabilities(ctx context.Context) (hypervisor.Capabilities, error) {
	n := b.now.Add(1)
	defer b.now.Add(-1)
	for {
		m := b.maxSeen.Load()
		if n <= m || b.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return b.Hypervisor.Capabilities(ctx)
}

// upgrade opens a JSON-RPC stream to srv by hand.
func upgrade(t *testing.T, srv *httptest.Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: agent\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", streamProtocol)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v, %v", resp, err)
	}
	return conn, br
}

// TestStreamBoundsCallsInFlight: a client pipelining many calls gets at
// most MaxStreamCalls running at once; the rest wait unread.
func TestStreamBoundsCallsInFlight(t *testing.T) {
	hv := &blockingHV{Hypervisor: sim.New("red"), release: make(chan struct{})}
	as := NewServer(hv, Options{MaxStreamCalls: 8})
	srv := httptest.NewServer(as)
	defer func() { as.Close(); srv.Close() }()
	conn, br := upgrade(t, srv)
	const calls = 200
	go func() {
		for i := 0; i < calls; i++ {
			fmt.Fprintf(conn, `{"jsonrpc":"2.0","id":%d,"method":"Host.getCapabilities"}`+"\n", i)
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for hv.now.Load() < 8 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // time for more to start, if they could
	if got := hv.maxSeen.Load(); got != 8 {
		t.Fatalf("%d calls in flight on one stream, want the bound 8", got)
	}
	close(hv.release)
	for i := 0; i < calls; i++ {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
	}
	if got := hv.maxSeen.Load(); got > 8 {
		t.Fatalf("%d calls in flight on one stream, want at most 8", got)
	}
}

// TestStreamIdleStaysHalfLineDropped: a stream idle between lines stays
// open, past the http.Server's read timeout too; one whose line stops
// half-way is dropped after StreamLineTimeout.
func TestStreamIdleStaysHalfLineDropped(t *testing.T) {
	as := NewServer(sim.New("red"), Options{StreamLineTimeout: 200 * time.Millisecond})
	srv := httptest.NewUnstartedServer(as)
	srv.Config.ReadTimeout = 100 * time.Millisecond
	srv.Config.WriteTimeout = 100 * time.Millisecond
	srv.Start()
	defer func() { as.Close(); srv.Close() }()

	conn, br := upgrade(t, srv)
	time.Sleep(400 * time.Millisecond) // idle: longer than every timeout
	fmt.Fprintf(conn, `{"jsonrpc":"2.0","id":1,"method":"Host.getCapabilities"}`+"\n")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, `"bridges"`) {
		t.Fatalf("a call after an idle while: %q, %v", line, err)
	}

	conn2, br2 := upgrade(t, srv)
	fmt.Fprint(conn2, `{"jsonrpc":"2.0","id":1,"meth`)
	conn2.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := io.ReadAll(br2); err != nil {
		t.Fatalf("half a line: %v, want the agent to close the stream", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("half a line held the stream %v", el)
	}
}

// TestVMLocksUnderConcurrency: concurrent calls on a few VMs
// leave no locks behind.
func TestVMLocksUnderConcurrency(t *testing.T) {
	as := NewServer(sim.New("red"), Options{})
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			as.handle(context.Background(), rpc("VM.destroy", map[string]any{"vmID": fmt.Sprintf("v%d", i%5)}))
		}(i)
	}
	wg.Wait()
	if as.locks.Len() != 0 {
		t.Fatalf("%d locks left", as.locks.Len())
	}
}
