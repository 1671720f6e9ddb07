// Package e2e runs whole vwire deployments in-process: an engine without the
// embedded host, a vwire-agent on real libvirt and QEMU, and clients that
// speak only the REST API. What they check is read from the host itself:
// virsh, the live domain XML and /sys/class/net.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"vwire.dev/vwire/app"
	"vwire.dev/vwire/hypervisor/libvirt"
	"vwire.dev/vwire/internal/testenv"
)

type obj = map[string]any

// client speaks JSON to the engine's REST API.
type client struct {
	t    *testing.T
	base string
}

func (c *client) do(method, path string, body any) (int, obj) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.SetBasicAuth("admin@internal", "secret")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	var o obj
	json.NewDecoder(res.Body).Decode(&o)
	return res.StatusCode, o
}

func (c *client) must(status int, method, path string, body any) obj {
	c.t.Helper()
	got, o := c.do(method, path, body)
	if got != status {
		c.t.Fatalf("%s %s: %d, want %d: %v", method, path, got, status, o)
	}
	return o
}

func str(o obj, path string) string {
	var cur any = o
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[p]
	}
	s, _ := cur.(string)
	return s
}

// deployment is an engine and one libvirt host registered through POST /hosts.
type deployment struct {
	*client
	eng     *app.EngineMain
	hv      *libvirt.Hypervisor
	hostID  string
	cluster string
	dc      string
	// consoleDir receives the guests' serial console logs.
	consoleDir string
	networks   map[string]string // name → id
}

func deploy(t *testing.T, poll time.Duration) *deployment {
	t.Helper()
	testenv.NeedLibvirt(t)
	eng := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: t.TempDir(), EmbeddedHost: false, AdminPassword: "secret",
		PollInterval: poll, Out: io.Discard, PKI: true}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	trustCA(t, eng.CAFile())
	// QEMU runs as libvirt-qemu: the console directory must be reachable by it.
	consoleDir, err := os.MkdirTemp("", "vwire-console-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(consoleDir, 0o755)
	t.Cleanup(func() { os.RemoveAll(consoleDir) })
	// Guests boot under TCG: KVM may be nested on a CI host and unable to
	// boot a guest kernel (measured: it hangs after SeaBIOS).
	hv, err := libvirt.New(libvirt.Options{URI: "qemu:///system", ConsoleDir: consoleDir, DomainType: libvirt.DomainTypeQEMU})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hv.Close() })
	d := &deployment{client: &client{t: t, base: eng.URL()}, eng: eng, hv: hv, consoleDir: consoleDir, networks: map[string]string{}}
	// The host is added, then enrolled: its agent starts with a one-time
	// token, makes its key, gets its certificate, serves mutual TLS only;
	// the host's port is set once the agent listens.
	h := d.must(201, "POST", "/hosts", obj{"name": "h1", "address": "127.0.0.1", "port": "1", "cluster": obj{"name": "Default"}})
	ag := &app.AgentMain{Listen: "127.0.0.1:0", Hypervisor: hv, UnplugTimeout: 3 * time.Second, StateDir: t.TempDir(),
		EnrollURL: eng.BaseURL(), EnrollToken: enrolmentToken(d.client, str(h, "id")), EngineCA: eng.CAFile()}
	if err := ag.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ag.Close() })
	if ag.Identity == nil {
		t.Fatal("the agent did not enrol")
	}
	d.must(200, "PUT", "/hosts/"+str(h, "id"), obj{"port": fmt.Sprint(ag.Port())})
	h = waitUp(d.client, str(h, "id"))
	checkAgentRefusesStrangers(t, ag.Port())
	d.hostID, d.cluster = str(h, "id"), str(h, "cluster.id")
	d.dc = str(d.must(200, "GET", "/clusters/"+d.cluster, nil), "data_center.id")
	return d
}

// network creates a bridge on the host and a network of the same name,
// attached to Default, and returns its profile id.
func (d *deployment) network(withBridge bool) (name, profile string) {
	d.t.Helper()
	if withBridge {
		name = testenv.Bridge(d.t, "")
	} else {
		name = "vwx" + fmt.Sprint(time.Now().UnixNano()%1e9)
	}
	n := d.must(201, "POST", "/networks", obj{"name": name, "data_center": obj{"id": d.dc}})
	d.networks[name] = str(n, "id")
	d.must(201, "POST", "/clusters/"+d.cluster+"/networks", obj{"id": str(n, "id")})
	ps := d.must(200, "GET", "/networks/"+str(n, "id")+"/vnicprofiles", nil)
	profile = str(ps["vnic_profile"].([]any)[0].(obj), "id")
	d.must(200, "POST", "/hosts/"+d.hostID+"/refresh", obj{})
	return name, profile
}

func (d *deployment) networkID(name string) string { return d.networks[name] }

// vm creates a VM pinned to the host, destroyed at the end of the test.
func (d *deployment) vm(name string) string {
	d.t.Helper()
	v := d.must(201, "POST", "/vms", obj{"name": name, "memory": "67108864", "cluster": obj{"id": d.cluster},
		"template": obj{"name": "Blank"}, "placement_policy": obj{"hosts": obj{"host": []any{obj{"id": d.hostID}}}}})
	id := str(v, "id")
	d.t.Cleanup(func() { d.do("POST", "/vms/"+id+"/stop", obj{}) })
	return id
}

// tap returns the host device of a vNIC, read from the live domain.
func (d *deployment) tap(vmID, mac string) (tap, pci string, up bool) {
	d.t.Helper()
	st, err := d.hv.Domain(context.Background(), vmID)
	if err != nil {
		d.t.Fatal(err)
	}
	for _, n := range st.NICs {
		if n.MAC == mac {
			return n.Tap, n.PCIAddress, n.LinkUp
		}
	}
	return "", "", false
}

func getlink(t *testing.T, vmID, tap string) string {
	out := testenv.Virsh(t, "domif-getlink", vmID, tap)
	return strings.TrimSpace(strings.TrimPrefix(out, tap))
}

// fmtSscan reads the slot of a PCI address "0000:00:05.0".
func fmtSscan(pci string, slot *int) (int, error) {
	var dom, bus, fn int
	return fmt.Sscanf(pci, "%x:%x:%x.%x", &dom, &bus, slot, &fn)
}
