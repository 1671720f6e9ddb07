// Package e2e runs whole vwire deployments in-process: an engine without the
// embedded host, a vwire-agent on real libvirt and QEMU, and clients that
// speak only the REST API. What they check is read from the host itself:
// virsh, the live domain XML and /sys/class/net.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire/app"
	"vwire.dev/vwire/client"
	"vwire.dev/vwire/hypervisor/libvirt"
	"vwire.dev/vwire/internal/testenv"
)

// api is the engine's typed client (vwire.dev/vwire/client) in a test: a
// refusal or no answer fails the test, unless the caller asks for the error.
type api struct {
	*client.Client
	t *testing.T
}

var ctx0 = context.Background()

func newAPI(t *testing.T, base string, hc *http.Client) *api {
	t.Helper()
	c, err := client.New(client.Options{URL: base, User: "admin@internal", Password: "secret", Timeout: time.Minute, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	return &api{Client: c, t: t}
}

// result is a call's value and error; must(c.VM(ctx0, id)).in(t) is the
// VM, or t fails.
type result[T any] struct {
	v   T
	err error
}

func must[T any](v T, err error) result[T] { return result[T]{v, err} }

// in returns the value, failing t on the error.
func (r result[T]) in(t testing.TB) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

// nicOn is a new vNIC on a profile ("": no network).
func nicOn(name, profile string) *ovirtsdk4.NicBuilder {
	return ovirtsdk4.NewNicBuilder().Name(name).VnicProfile(client.ProfileRef(profile))
}

func (a *api) addNIC(vm string, b *ovirtsdk4.NicBuilder) *client.NIC {
	a.t.Helper()
	return must(a.AddNIC(ctx0, vm, b.MustBuild())).in(a.t)
}

func (a *api) update(vm, nic string, b *ovirtsdk4.NicBuilder) *client.NIC {
	a.t.Helper()
	return must(a.UpdateNIC(ctx0, vm, nic, b.MustBuild())).in(a.t)
}

func (a *api) nic(vm, nic string) *client.NIC {
	a.t.Helper()
	return must(a.NIC(ctx0, vm, nic)).in(a.t)
}

func (a *api) start(vm string) {
	a.t.Helper()
	must(a.StartVM(ctx0, vm)).in(a.t)
}

func (a *api) refresh(host string) {
	a.t.Helper()
	if err := a.RefreshHost(ctx0, host); err != nil {
		a.t.Fatal(err)
	}
}

// addHost registers the agent on port in Default and returns the host,
// its cluster and data center ids.
func (a *api) addHost(port int) (host, cluster, dc string) {
	a.t.Helper()
	h := must(a.AddHost(ctx0, ovirtsdk4.NewHostBuilder().Name("h1").Address("127.0.0.1").Port(int64(port)).
		Cluster(ovirtsdk4.NewClusterBuilder().Name("Default").MustBuild()).MustBuild())).in(a.t)
	cluster = h.MustCluster().MustId()
	dc = must(a.Cluster(ctx0, cluster)).in(a.t).MustDataCenter().MustId()
	return h.MustId(), cluster, dc
}

// addNetwork creates a network in dc, attached to cluster, and returns its
// id and its default profile's.
func (a *api) addNetwork(dc, cluster, name string) (network, profile string) {
	a.t.Helper()
	n := must(a.AddNetwork(ctx0, ovirtsdk4.NewNetworkBuilder().Name(name).
		DataCenter(ovirtsdk4.NewDataCenterBuilder().Id(dc).MustBuild()).MustBuild())).in(a.t)
	if err := a.AttachNetwork(ctx0, cluster, n.MustId()); err != nil {
		a.t.Fatal(err)
	}
	return n.MustId(), must(a.NetworkProfiles(ctx0, n.MustId())).in(a.t)[0].MustId()
}

// pinnedVM is a 64 MiB VM placed on host.
func pinnedVM(name, cluster, host string) *ovirtsdk4.Vm {
	return ovirtsdk4.NewVmBuilder().Name(name).Memory(64 << 20).Cluster(ovirtsdk4.NewClusterBuilder().Id(cluster).MustBuild()).
		Template(ovirtsdk4.NewTemplateBuilder().Name("Blank").MustBuild()).
		PlacementPolicy(ovirtsdk4.NewVmPlacementPolicyBuilder().HostsOfAny(ovirtsdk4.NewHostBuilder().Id(host).MustBuild()).MustBuild()).MustBuild()
}

// profileOf is a vNIC's profile id ("": no network).
func profileOf(n *client.NIC) string {
	if p, ok := n.VnicProfile(); ok {
		id, _ := p.Id()
		return id
	}
	return ""
}

// reported is what the host last reported of a vNIC (zero if nothing).
func reported(n *client.NIC) client.ReportedState {
	if n.Reported == nil {
		return client.ReportedState{}
	}
	return *n.Reported
}

// deployment is an engine and one libvirt host registered through POST /hosts.
type deployment struct {
	*api
	t       *testing.T
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
		PollInterval: poll, Out: io.Discard}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
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
	ag := &app.AgentMain{Listen: "127.0.0.1:0", Hypervisor: hv, UnplugTimeout: 3 * time.Second}
	if err := ag.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ag.Close() })
	d := &deployment{api: newAPI(t, eng.URL(), nil), t: t, eng: eng, hv: hv, consoleDir: consoleDir, networks: map[string]string{}}
	d.hostID, d.cluster, d.dc = d.addHost(ag.Port())
	if st := must(d.Host(ctx0, d.hostID)).in(t).MustStatus(); st != ovirtsdk4.HOSTSTATUS_UP {
		t.Fatalf("host: %s", st)
	}
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
	d.networks[name], profile = d.addNetwork(d.dc, d.cluster, name)
	d.refresh(d.hostID)
	return name, profile
}

func (d *deployment) networkID(name string) string { return d.networks[name] }

// vm creates a VM pinned to the host, destroyed at the end of the test.
func (d *deployment) vm(name string) string {
	d.t.Helper()
	id := must(d.AddVM(ctx0, pinnedVM(name, d.cluster, d.hostID))).in(d.t).MustId()
	d.t.Cleanup(func() { d.StopVM(ctx0, id) })
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

// faultOf is the status and detail of err's fault (0 and "" if the engine
// did not answer, or err is nil).
func faultOf(err error) (int, string) {
	if f, ok := errors.AsType[*client.Fault](err); ok {
		return f.Status, f.Detail
	}
	return 0, ""
}
