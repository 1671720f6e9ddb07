package engineport

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/engine"
)

// TestSameWire: each call through the port sends the bytes the agent client
// sends for the wire types the engine built before it had a port of its own.
func TestSameWire(t *testing.T) {
	var bodies []string
	mask := regexp.MustCompile(`"(deadline|id)":[0-9]+`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, mask.ReplaceAllString(string(b), `"$1":0`))
		w.Header().Set("Content-Type", "application/json")
		io.Copy(w, bytes.NewReader([]byte(`{"jsonrpc":"2.0","id":1,"result":{}}`)))
	}))
	defer srv.Close()
	ac := agent.NewClient(srv.URL, srv.Client(), 5*time.Second)
	pc := New(agent.NewClient(srv.URL, srv.Client(), 5*time.Second))
	ctx := context.Background()
	op := engine.WithOp(ctx, "op-1")
	red, up := "red", true
	none, noFilter, noParams := []string{}, "", []agent.FilterParam{}
	wire := agent.Device{Type: "interface", Device: "bridge", DeviceID: "d1", Alias: "ua-d1", MAC: "02:00:00:00:00:01", Model: "virtio", Network: "red", LinkActive: true}
	dev := engine.HostDevice{ID: "d1", Alias: "ua-d1", MAC: "02:00:00:00:00:01", Model: "virtio", Network: "red", LinkActive: true}
	for _, tc := range []struct {
		name      string
		old, port func()
	}{
		{"capabilities", func() { ac.Capabilities(ctx) }, func() { pc.Capabilities(ctx) }},
		{"all stats", func() { ac.AllVMStats(ctx) }, func() { pc.AllVMStats(ctx) }},
		{"setup networks", func() { ac.SetupNetworks(ctx, []string{"green"}, nil) }, func() { pc.SetupNetworks(ctx, []string{"green"}, nil) }},
		{"create", func() {
			ac.CreateVM(agent.WithOp(ctx, "op-1"), agent.VMParams{VMID: "v1", VMName: "vm1", MemSize: 64, Kernel: "k", Initrd: "i", KernelArgs: "c", Devices: []agent.Device{wire}})
		}, func() {
			pc.CreateVM(op, engine.HostVMSpec{ID: "v1", Name: "vm1", MemoryMiB: 64, Kernel: "k", Initrd: "i", Cmdline: "c", Devices: []engine.HostDevice{dev}})
		}},
		{"create without devices", func() {
			ac.CreateVM(ctx, agent.VMParams{VMID: "v1", VMName: "vm1", MemSize: 64})
		}, func() { pc.CreateVM(ctx, engine.HostVMSpec{ID: "v1", Name: "vm1", MemoryMiB: 64}) }},
		{"destroy", func() { ac.DestroyVM(agent.WithOp(ctx, "op-1"), "v1") }, func() { pc.DestroyVM(op, "v1") }},
		{"hotplug", func() { ac.HotplugNIC(ctx, "v1", wire) }, func() { pc.HotplugNIC(ctx, "v1", dev) }},
		{"hotunplug", func() { ac.HotunplugNIC(ctx, "v1", wire) }, func() { pc.HotunplugNIC(ctx, "v1", dev) }},
		{"hotunplug by alias", func() {
			ac.HotunplugNIC(ctx, "v1", agent.Device{Type: "interface", Device: "bridge", Alias: "ua-d1", MAC: "02:00:00:00:00:01"})
		}, func() { pc.HotunplugNIC(ctx, "v1", engine.HostDevice{Alias: "ua-d1", MAC: "02:00:00:00:00:01"}) }},
		{"update", func() {
			ac.UpdateNIC(ctx, "v1", agent.UpdateDeviceParams{Alias: "ua-d1", Network: &red, LinkActive: &up, MAC: "02:00:00:00:00:01", Model: "virtio",
				PortMirroring: &none, SpecParams: &agent.SpecParams{}, Filter: &noFilter, FilterParameters: &noParams})
		}, func() {
			pc.UpdateNIC(ctx, "v1", engine.DeviceUpdate{Alias: "ua-d1", Network: "red", LinkActive: true, MAC: "02:00:00:00:00:01", Model: "virtio"})
		}},
		{"update with a bounce", func() {
			ac.UpdateNIC(ctx, "v1", agent.UpdateDeviceParams{Alias: "ua-d1", Network: &red, LinkActive: &up, MAC: "02:00:00:00:00:01", Model: "virtio",
				Notify: "link_bounce", BounceHoldMs: 1500,
				PortMirroring: &none, SpecParams: &agent.SpecParams{}, Filter: &noFilter, FilterParameters: &noParams})
		}, func() {
			pc.UpdateNIC(ctx, "v1", engine.DeviceUpdate{Alias: "ua-d1", Network: "red", LinkActive: true, MAC: "02:00:00:00:00:01", Model: "virtio",
				Notify: vwire.NotifyLinkBounce, BounceHold: 1500 * time.Millisecond})
		}},
		{"settle", func() { ac.Settle(ctx, "v1", "op-1") }, func() { pc.Settle(ctx, "v1", "op-1") }},
	} {
		bodies = nil
		tc.old()
		tc.port()
		if len(bodies) != 2 || bodies[0] != bodies[1] {
			t.Errorf("%s: the port sent\n%s\nthe client sent\n%s", tc.name, at(bodies, 1), at(bodies, 0))
		}
		if wantOp := tc.name == "create" || tc.name == "destroy"; wantOp != bytes.Contains([]byte(at(bodies, 1)), []byte(`"deadline":0,"op":"op-1"}`)) {
			t.Errorf("%s: op id sent %v, want %v: %s", tc.name, !wantOp, wantOp, at(bodies, 1))
		}
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(nothing)"
}
