package agent_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/hypervisor/sim"
)

func start(t *testing.T) (*agent.Client, *sim.Sim) {
	t.Helper()
	s := sim.New("red", "blue")
	as := agent.NewServer(s, agent.Options{UnplugTimeout: 200 * time.Millisecond})
	srv := httptest.NewServer(as)
	c := agent.NewClient(srv.URL, nil, 5*time.Second)
	t.Cleanup(func() { c.Close(); as.Close(); srv.Close() })
	return c, s
}

func rpcCode(err error) int {
	var e *agent.RPCError
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func TestVerbs(t *testing.T) {
	c, s := start(t)
	ctx := context.Background()
	caps, err := c.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(caps.Bridges, ",") != "blue,red" || len(caps.ClusterLevels) != len(vwire.SupportedVersions) {
		t.Fatalf("capabilities = %+v", caps)
	}
	dev := agent.Device{Type: "interface", Device: "bridge", Alias: "ua-n1", MAC: "02:00:00:00:00:01", Model: "virtio", Network: "", LinkActive: true}
	st, err := c.CreateVM(ctx, agent.VMParams{VMID: "v1", VMName: "vm1", MemSize: 64, Devices: []agent.Device{dev}})
	if err != nil {
		t.Fatal(err)
	}
	if got := st.NICs[0]; got.Network != vwire.DummyBridge || got.LinkActive {
		t.Fatalf("empty network device = %+v, want dummy bridge with link down", got)
	}
	if _, err := c.CreateVM(ctx, agent.VMParams{VMID: "v1", VMName: "vm1"}); rpcCode(err) != agent.CodeVMExists {
		t.Fatalf("second create: err = %v, want code %d", err, agent.CodeVMExists)
	}

	red, up := "red", true
	var re *agent.RPCError
	got, err := c.UpdateNIC(ctx, "v1", agent.UpdateDeviceParams{Alias: "ua-n1", Network: &red, LinkActive: &up})
	if err != nil || got.Network != "red" || !got.LinkActive || got.Address != st.NICs[0].Address {
		t.Fatalf("update = %+v, %v; want red, up, same address %s", got, err, st.NICs[0].Address)
	}
	// The whole device (as the engine sends it): one hypervisor update.
	blue, down := "blue", false
	got, err = c.UpdateNIC(ctx, "v1", whole(agent.UpdateDeviceParams{Alias: "ua-n1", MAC: dev.MAC, Model: dev.Model, Network: &blue, LinkActive: &down}))
	if err != nil || got.Network != "blue" || got.LinkActive || got.Address != st.NICs[0].Address {
		t.Fatalf("whole-device update = %+v, %v; want blue, down, same address %s", got, err, st.NICs[0].Address)
	}
	_, err = c.UpdateNIC(ctx, "v1", whole(agent.UpdateDeviceParams{Alias: "ua-n1", MAC: "02:00:00:00:00:99", Model: dev.Model, Network: &red, LinkActive: &up}))
	if !errors.As(err, &re) || re.Code != agent.CodeUpdateDevice || !strings.Contains(re.Reason(), "matching MAC address '02:00:00:00:00:99'") {
		t.Fatalf("whole-device update naming another MAC: err = %v, want code 56 with the hypervisor's reason", err)
	}
	if _, err = c.UpdateNIC(ctx, "v1", whole(agent.UpdateDeviceParams{Alias: "ua-n1", MAC: dev.MAC, Model: dev.Model, Network: &red, LinkActive: &up})); err != nil {
		t.Fatal(err)
	}
	missing := "green"
	_, err = c.UpdateNIC(ctx, "v1", agent.UpdateDeviceParams{Alias: "ua-n1", Network: &missing})
	if !errors.As(err, &re) || re.Code != agent.CodeUpdateDevice || !strings.Contains(re.Reason(), "bridge green doesn't exist") {
		t.Fatalf("update to a missing bridge: err = %v, want code 56 with libvirt's reason", err)
	}
	stats, err := c.AllVMStats(ctx)
	if err != nil || len(stats) != 1 || stats[0].NICs[0].Network != "red" {
		t.Fatalf("stats after a failed update = %+v, %v; want the device still on red", stats, err)
	}

	plugged, err := c.HotplugNIC(ctx, "v1", agent.Device{Alias: "ua-n2", MAC: "02:00:00:00:00:02", Model: "e1000", Network: "blue"})
	if err != nil || plugged.Address == "" || plugged.LinkActive {
		t.Fatalf("hotplug = %+v, %v", plugged, err)
	}
	s.HoldUnplug("v1", true)
	if err := c.HotunplugNIC(ctx, "v1", agent.Device{Alias: "ua-n2"}); rpcCode(err) != agent.CodeHotunplugNic {
		t.Fatalf("held unplug: err = %v, want code %d", err, agent.CodeHotunplugNic)
	}
	s.HoldUnplug("v1", false)
	if err := c.HotunplugNIC(ctx, "v1", agent.Device{Alias: "ua-n2"}); err != nil {
		t.Fatal(err)
	}
	if err := c.DestroyVM(ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	if err := c.DestroyVM(ctx, "v1"); rpcCode(err) != agent.CodeNoVM {
		t.Fatalf("destroy twice: err = %v, want code %d", err, agent.CodeNoVM)
	}
	if err := c.Call(ctx, "VM.migrate", nil, nil); rpcCode(err) != agent.CodeMethodNotFound {
		t.Fatalf("unknown verb: err = %v", err)
	}
}

// whole completes an update with the profile attributes (none of them), so
// that it describes the whole device and is one hypervisor update.
func whole(p agent.UpdateDeviceParams) agent.UpdateDeviceParams {
	mirror, filter, params := []string{}, "", []agent.FilterParam{}
	p.PortMirroring, p.SpecParams, p.Filter, p.FilterParameters = &mirror, &agent.SpecParams{}, &filter, &params
	return p
}
