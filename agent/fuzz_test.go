package agent

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/hypervisor/sim"
)

// FuzzHandle feeds the agent's request handler arbitrary request lines,
// as a client of its JSON-RPC endpoint or stream could send them. Seeds are
// in testdata/fuzz/FuzzHandle. Whatever comes in, the handler answers with
// JSON-RPC, leaves no VM lock behind, never gives the hypervisor a
// device whose MAC or model the agent should have refused, and never
// realises a host network the hypervisor's bridges do not have.
func FuzzHandle(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		hv := sim.New("red", "blue")
		// A short unplug wait: a fuzzed unplug must not stall the run. The
		// call budget leaves room for a machine busy with fuzz workers (a
		// call whose budget ends before it starts is refused, not run).
		s := NewServer(hv, Options{CallTimeout: time.Second, UnplugTimeout: 10 * time.Millisecond})
		defer s.Close() // and a checked network change's timer with it
		ctx := context.Background()
		if r := s.handle(ctx, rpc("VM.create", map[string]any{"vmID": "v1", "vmParams": map[string]any{"vmId": "v1", "vmName": "vm1", "memSize": 64,
			"devices": []any{map[string]any{"type": "interface", "alias": "ua-n1", "macAddr": "02:00:00:00:00:01", "nicModel": "virtio", "network": "red", "linkActive": true}}}})); r.Error != nil {
			t.Fatal(r.Error)
		}
		resp := s.handle(ctx, body)
		out, err := json.Marshal(resp)
		if err != nil {
			t.Fatalf("answer does not marshal: %v", err)
		}
		var back map[string]any
		if err := json.Unmarshal(out, &back); err != nil || back["jsonrpc"] != "2.0" || (back["result"] == nil) == (back["error"] == nil) {
			t.Fatalf("answer %s is not JSON-RPC 2.0 with one of result and error", out)
		}
		if n := s.locks.Len(); n != 0 {
			t.Fatalf("%d VM locks left after the call", n)
		}
		nets, err := s.net.Networks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		caps, err := hv.Capabilities(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nets {
			if checkNetwork(n.Name) != nil || !slices.Contains(caps.Bridges, n.Name) {
				t.Fatalf("network %v realised; the hypervisor's bridges are %v", n, caps.Bridges)
			}
		}
		doms, err := hv.Domains(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range doms {
			if checkID("vmID", d.ID) != nil || d.ID == "" {
				t.Fatalf("the hypervisor got a domain with id %q", d.ID)
			}
			for _, n := range d.NICs {
				m, ok := vwire.ParseMAC(n.MAC)
				if !ok || m == 0 || m.Multicast() || (n.Model != "" && !knownModels[n.Model]) || checkID("alias", n.Alias) != nil {
					t.Fatalf("the hypervisor got device %+v", n)
				}
				if checkNetwork(n.Bridge) != nil {
					t.Fatalf("the hypervisor got device %+v on bridge %q", n, n.Bridge)
				}
			}
		}
	})
}
