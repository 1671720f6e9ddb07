package main

import (
	"context"
	"strings"
	"testing"
)

// TestHostNetworkCommands: an overlay network added with --vxlan, attached
// to the embedded host's eth0, listed with the host's NICs, its segment
// changed on the host, detached; a wrong NIC is the engine's refusal.
func TestHostNetworkCommands(t *testing.T) {
	c := startCLI(t)
	c.must("network", "add", "ov", "--vxlan", "7000", "--attach", "Default")
	out := c.must("host", "nics", "local")
	c.has(out, "eth0", "eth1", "198.18.0.1", "10000 Mb/s")
	c.must("host", "attach", "local", "ov", "--nic", "eth0", "--check-connectivity", "30s")
	vni := func() int {
		nets, _ := c.m.HostNet.Networks(context.Background())
		for _, n := range nets {
			if n.Name == "ov" && n.VXLAN != nil {
				return n.VXLAN.VNI
			}
		}
		return 0
	}
	if v := vni(); v != 7000 {
		t.Fatalf("the host's VNI = %d, want 7000", v)
	}
	out = c.must("-o", "json", "host", "nics", "local")
	c.has(out, `"in_sync": true`, `"host_nic": "eth0"`)
	c.must("network", "vxlan", "ov", "7001")
	if v := vni(); v != 7001 {
		t.Errorf("after network vxlan the host's VNI = %d", v)
	}
	c.has(c.must("host", "sync", "local"), "synchronised")
	if out, err := c.vw("host", "attach", "local", "ov", "--nic", "eth9"); err == nil || !strings.Contains(out+err.Error(), "eth9 does not exist") {
		t.Errorf("attach to a missing NIC: %v\n%s", err, out)
	}
	c.must("host", "detach", "local", "ov")
	if out := c.must("-o", "json", "host", "nics", "local"); strings.Contains(out, `"host_nic": "eth0"`) {
		t.Errorf("still attached:\n%s", out)
	}
}
