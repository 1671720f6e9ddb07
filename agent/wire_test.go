package agent_test

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/hypervisor/sim"
)

var update = flag.Bool("update", false, "rewrite testdata/wire.golden from the code as it is")

// TestWireGolden proves the bytes on the wire: for one call per verb (and
// the protocol's refusals), the request the Client sends and the answer the
// Server gives must equal what the code sent before the protocol was typed
// (testdata/wire.golden was written by that code). Only the request's
// deadline, which is a clock reading, is masked.
func TestWireGolden(t *testing.T) {
	s := sim.New("red", "blue")
	as := agent.NewServer(s, agent.Options{UnplugTimeout: 200 * time.Millisecond,
		Now: func() time.Time { return time.UnixMilli(1700000000000) }})
	var mu sync.Mutex
	var log bytes.Buffer
	deadline := regexp.MustCompile(`"deadline":[0-9]+`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		as.ServeHTTP(rec, r)
		mu.Lock()
		log.WriteString("> " + deadline.ReplaceAllString(string(body), `"deadline":0`) + "\n")
		log.WriteString("< " + rec.Body.String())
		mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	defer srv.Close()
	defer as.Close()
	// An HTTP client given: every call is a POST, so each is one request.
	c := agent.NewClient(srv.URL, srv.Client(), 5*time.Second)
	ctx := context.Background()
	red, up, down := "red", true, false
	dev := agent.Device{Type: "interface", Device: "bridge", DeviceID: "d1", Alias: "ua-n1", MAC: "02:00:00:00:00:01", Model: "virtio", Network: "blue", LinkActive: true}
	steps := []func(){
		func() { c.Capabilities(ctx) },
		func() { c.SetupNetworks(ctx, []string{"green"}, []string{"blue2"}) },
		func() {
			c.CreateVM(ctx, agent.VMParams{VMID: "v1", VMName: "vm1", MemSize: 64, Kernel: "k", Devices: []agent.Device{dev}})
		},
		func() { c.AllVMStats(ctx) },
		func() { c.Call(ctx, "VM.getStats", map[string]string{"vmID": "v1"}, nil) },
		func() {
			c.HotplugNIC(ctx, "v1", agent.Device{Type: "interface", Device: "bridge", Alias: "ua-n2", MAC: "02:00:00:00:00:02", Model: "e1000", Network: "red"})
		},
		func() {
			c.UpdateNIC(ctx, "v1", agent.UpdateDeviceParams{Alias: "ua-n1", Network: &red, LinkActive: &down})
		},
		func() {
			c.UpdateNIC(ctx, "v1", whole(agent.UpdateDeviceParams{Alias: "ua-n1", MAC: dev.MAC, Model: dev.Model, Network: &red, LinkActive: &up, Notify: "none"}))
		},
		func() { c.HotunplugNIC(ctx, "v1", agent.Device{Alias: "ua-n2"}) },
		func() { c.Settle(agent.WithOp(ctx, "op-1"), "v1", "op-0") },
		func() { c.DestroyVM(agent.WithOp(ctx, "op-2"), "v1") },
		// Refusals: no VM, a missing and a malformed parameter, an unknown verb.
		func() { c.DestroyVM(ctx, "v1") },
		func() { c.Settle(ctx, "v1", "") },
		func() { c.HotplugNIC(ctx, "v1", agent.Device{Alias: "ua-n3"}) },
		func() { c.HotplugNIC(ctx, "v1", agent.Device{Alias: "ua n3", MAC: "02:00:00:00:00:03"}) },
		func() { c.Call(ctx, "VM.create", map[string]any{"vmParams": map[string]any{"memSize": "x"}}, nil) },
		func() { c.UpdateNIC(ctx, "v1", agent.UpdateDeviceParams{Alias: "ua-n1", BounceHoldMs: -1}) },
		func() { c.Call(ctx, "VM.migrate", nil, nil) },
		// Malformed fields only a verb's own params decode sees: the text
		// names Go's types, so it pins them too.
		func() {
			c.Call(ctx, "VM.updateDevice", map[string]any{"vmID": "v1", "params": map[string]any{"linkActive": "x"}}, nil)
		},
		func() {
			c.Call(ctx, "VM.updateDevice", map[string]any{"vmID": "v1", "params": map[string]any{"bounceHoldMs": "x"}}, nil)
		},
		func() { c.Call(ctx, "VM.settle", map[string]any{"vmID": "v1", "op": 5}, nil) },
		func() {
			c.Call(ctx, "VM.hotplugNic", map[string]any{"vmID": "v1", "params": map[string]any{"nic": map[string]any{"linkActive": "x"}}}, nil)
		},
		func() {
			c.Call(ctx, "Host.setupNetworks", map[string]any{"networks": map[string]any{"x": map[string]any{"remove": "x"}}}, nil)
		},
		func() { c.Call(ctx, "Host.setupNetworks", map[string]any{"networks": 5}, nil) },
		func() { c.Call(ctx, "Host.getAllVmStats", []int{1}, nil) },
		func() { c.Call(ctx, "VM.destroy", map[string]any{"vmID": ""}, nil) },
		func() { c.Call(ctx, "VM.create", map[string]any{"vmParams": map[string]any{"vmId": "v9"}}, nil) },
		func() { c.Call(ctx, "VM.getStats", map[string]any{"vmID": "v9"}, nil) },
		// Renewal verbs on an agent that is not enrolled (plain HTTP).
		func() { c.CertificateRequest(ctx) },
		func() { c.InstallCertificate(ctx, []byte("-----BEGIN CERTIFICATE-----\n")) },
		// The full form (issue 16): a VLAN network, an overlay, checked and
		// confirmed; a refusal (no such NIC); what the host then reports.
		func() {
			c.ConfigureNetworks(ctx, agent.ConfigureNetworksParams{Networks: map[string]agent.NetworkSpec{
				"vl":    {MTU: 9000, Nic: "eth0", VLAN: 100},
				"ov":    {Nic: "eth1", VXLAN: &agent.VXLANAttrs{VNI: 5001, Remotes: []string{"198.19.0.3", "198.19.0.2"}}},
				"green": {Remove: true}},
				Options: &agent.SetupOptions{ConnectivityCheck: true, ConnectivityTimeout: 60}})
		},
		func() { c.SetSafeNetworkConfig(ctx) },
		func() {
			c.ConfigureNetworks(ctx, agent.ConfigureNetworksParams{Networks: map[string]agent.NetworkSpec{"bad": {Nic: "eth9"}}})
		},
		func() {
			c.ConfigureNetworks(ctx, agent.ConfigureNetworksParams{Networks: map[string]agent.NetworkSpec{"bad": {VXLAN: &agent.VXLANAttrs{VNI: 1 << 24}}}})
		},
		func() { c.Capabilities(ctx) },
	}
	for _, step := range steps {
		step()
	}
	got := log.String()
	if *update {
		if err := os.WriteFile("testdata/wire.golden", []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile("testdata/wire.golden")
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Errorf("line %d:\n got %s\nwant %s", i+1, g, w)
			}
		}
	}
}
