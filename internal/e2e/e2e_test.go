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
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire/app"
	"vwire.dev/vwire/client"
	"vwire.dev/vwire/hypervisor/libvirt"
	"vwire.dev/vwire/internal/testenv"
)

// The tests speak to engines only through vwire's typed REST client
// (vwire.dev/vwire/client: oVirt's Go SDK types over XML, every refusal a
// *client.Fault). api wraps it for a test: its helpers check the HTTP
// status of the answer as well (201 for an add, 200 otherwise) and fail
// the test on any other answer; the client's own methods, called directly,
// return the fault for the tests that expect one.

var ctx0 = context.Background()

// api is an engine's typed client in a test.
type api struct {
	*client.Client
	t *testing.T
}

// statusKey keys, in a request's context, where statusTransport writes the
// HTTP status of its answer: the typed client returns only the body of a
// 2xx, and the tests check which 2xx.
type statusKey struct{}

type statusTransport struct{ base http.RoundTripper }

func (s statusTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(r)
	if p, ok := r.Context().Value(statusKey{}).(*int); ok && resp != nil {
		*p = resp.StatusCode
	}
	return resp, err
}

var engineTransport = sync.OnceValue(func() http.RoundTripper {
	// The default transport verifies engines against the trusted CAs
	// (pki_test.go's init, which runs before any test); kept-alive
	// connections for as many concurrent clients as TestEnginesUnderLoad has.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 128
	return tr
})

// newAPI is a client of the engine at url (its API root) as admin; hc, if
// not nil, sends the requests (its timeout disconnects mid-request).
func newAPI(t *testing.T, url string, hc *http.Client) *api {
	t.Helper()
	h := http.Client{Timeout: 2 * time.Minute}
	if hc != nil {
		h = *hc
	}
	if h.Transport == nil {
		h.Transport = engineTransport()
	}
	h.Transport = statusTransport{h.Transport}
	c, err := client.New(client.Options{URL: url, User: "admin@internal", Password: "secret", HTTPClient: &h})
	if err != nil {
		t.Fatal(err)
	}
	return &api{Client: c, t: t}
}

// answer makes one call and returns the HTTP status of its answer: the 2xx
// of a success, the fault's status of a refusal, 0 if no whole answer came
// (no connection, a timeout, or a 2xx whose body was cut off: its outcome
// is as unknown as a request never answered).
func answer(call func(context.Context) error) (int, error) {
	var got int
	err := call(context.WithValue(ctx0, statusKey{}, &got))
	if err != nil {
		return client.Status(err), err
	}
	return got, nil
}

// expect makes one call and fails the test unless the engine answered it
// with status want.
func expect[T any](a *api, want int, what string, call func(context.Context) (T, error)) T {
	a.t.Helper()
	var v T
	status, err := answer(func(ctx context.Context) (err error) { v, err = call(ctx); return })
	if err != nil || status != want {
		a.t.Fatalf("%s: %d, want %d: %s", what, status, want, describe(err))
	}
	return v
}

// expectOK is expect for a call that returns only an error.
func expectOK(a *api, want int, what string, call func(context.Context) error) {
	a.t.Helper()
	expect(a, want, what, func(ctx context.Context) (struct{}, error) { return struct{}{}, call(ctx) })
}

// describe is a failed call as a test reports it: the fault's status,
// reason and detail, or why no answer came.
func describe(err error) string {
	if f, ok := errors.AsType[*client.Fault](err); ok {
		return fmt.Sprintf("%s %s: %d %q %q", f.Method, f.Path, f.Status, f.Reason, f.Detail)
	}
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// faultOf is the status and detail of err's fault (0 and "" if err is nil
// or the engine did not answer).
func faultOf(err error) (int, string) {
	if f, ok := errors.AsType[*client.Fault](err); ok {
		return f.Status, f.Detail
	}
	return 0, ""
}

// addHost registers a host in Default; its agent may not listen yet.
func (a *api) addHost(name string, port int) *ovirtsdk4.Host {
	a.t.Helper()
	h := ovirtsdk4.NewHostBuilder().Name(name).Address("127.0.0.1").Port(int64(port)).
		Cluster(ovirtsdk4.NewClusterBuilder().Name("Default").MustBuild()).MustBuild()
	return expect(a, 201, "add host "+name, func(ctx context.Context) (*ovirtsdk4.Host, error) { return a.AddHost(ctx, h) })
}

// setHostPort points a host at the port its agent listens on.
func (a *api) setHostPort(id string, port int) {
	a.t.Helper()
	h := ovirtsdk4.NewHostBuilder().Port(int64(port)).MustBuild()
	u := expect(a, 200, "set the port of host "+id, func(ctx context.Context) (*ovirtsdk4.Host, error) { return a.UpdateHost(ctx, id, h) })
	if p, _ := u.Port(); p != int64(port) {
		a.t.Fatalf("host %s after PUT: port %d, want %d", id, p, port)
	}
}

func (a *api) getHost(id string) *ovirtsdk4.Host {
	a.t.Helper()
	return expect(a, 200, "get host "+id, func(ctx context.Context) (*ovirtsdk4.Host, error) { return a.Host(ctx, id) })
}

func (a *api) refresh(id string) {
	a.t.Helper()
	expectOK(a, 200, "refresh host "+id, func(ctx context.Context) error { return a.RefreshHost(ctx, id) })
}

// dataCenterOf is a cluster's data center id.
func (a *api) dataCenterOf(cluster string) string {
	a.t.Helper()
	c := expect(a, 200, "get cluster "+cluster, func(ctx context.Context) (*ovirtsdk4.Cluster, error) { return a.Cluster(ctx, cluster) })
	return idOf(c.DataCenter())
}

// addNetwork creates a network in dc, attaches it to cluster, and returns
// its id and its default profile's.
func (a *api) addNetwork(dc, cluster, name string) (network, profile string) {
	a.t.Helper()
	nb := ovirtsdk4.NewNetworkBuilder().Name(name).DataCenter(ovirtsdk4.NewDataCenterBuilder().Id(dc).MustBuild()).MustBuild()
	n := expect(a, 201, "add network "+name, func(ctx context.Context) (*ovirtsdk4.Network, error) { return a.AddNetwork(ctx, nb) })
	network = idOf(n, true)
	expectOK(a, 201, "attach network "+name, func(ctx context.Context) error { return a.AttachNetwork(ctx, cluster, network) })
	ps := expect(a, 200, "list the profiles of "+name, func(ctx context.Context) ([]*ovirtsdk4.VnicProfile, error) {
		return a.NetworkProfiles(ctx, network)
	})
	if len(ps) == 0 {
		a.t.Fatalf("network %s has no vNIC profile", name)
	}
	return network, idOf(ps[0], true)
}

func (a *api) getNetwork(id string) *ovirtsdk4.Network {
	a.t.Helper()
	return expect(a, 200, "get network "+id, func(ctx context.Context) (*ovirtsdk4.Network, error) { return a.Network(ctx, id) })
}

func (a *api) getProfile(id string) *ovirtsdk4.VnicProfile {
	a.t.Helper()
	return expect(a, 200, "get profile "+id, func(ctx context.Context) (*ovirtsdk4.VnicProfile, error) { return a.Profile(ctx, id) })
}

// addProfile adds a vNIC profile with vwire's guest notification.
func (a *api) addProfile(network string, p client.ProfileSpec) *ovirtsdk4.VnicProfile {
	a.t.Helper()
	return expect(a, 201, "add profile "+p.Name, func(ctx context.Context) (*ovirtsdk4.VnicProfile, error) {
		return a.AddProfile(ctx, network, p)
	})
}

// newVM is a VM of cluster from Blank; memory 0 and host "" leave the
// engine's defaults (no placement).
func newVM(name, cluster string, memory int64, host string) *ovirtsdk4.Vm {
	b := ovirtsdk4.NewVmBuilder().Name(name).Cluster(ovirtsdk4.NewClusterBuilder().Id(cluster).MustBuild()).
		Template(ovirtsdk4.NewTemplateBuilder().Name("Blank").MustBuild())
	if memory > 0 {
		b = b.Memory(memory)
	}
	if host != "" {
		b = b.PlacementPolicy(ovirtsdk4.NewVmPlacementPolicyBuilder().HostsOfAny(ovirtsdk4.NewHostBuilder().Id(host).MustBuild()).MustBuild())
	}
	return b.MustBuild()
}

func (a *api) addVM(vm *ovirtsdk4.Vm) string {
	a.t.Helper()
	v := expect(a, 201, "add VM", func(ctx context.Context) (*ovirtsdk4.Vm, error) { return a.AddVM(ctx, vm) })
	return idOf(v, true)
}

func (a *api) getVM(id string) *ovirtsdk4.Vm {
	a.t.Helper()
	return expect(a, 200, "get VM "+id, func(ctx context.Context) (*ovirtsdk4.Vm, error) { return a.VM(ctx, id) })
}

func (a *api) updateVM(id string, vm *ovirtsdk4.Vm) *ovirtsdk4.Vm {
	a.t.Helper()
	return expect(a, 200, "update VM "+id, func(ctx context.Context) (*ovirtsdk4.Vm, error) { return a.UpdateVM(ctx, id, vm) })
}

func (a *api) start(vm string) {
	a.t.Helper()
	expect(a, 200, "start VM "+vm, func(ctx context.Context) (*ovirtsdk4.Vm, error) { return a.StartVM(ctx, vm) })
}

// vnic is a new vNIC named name on a profile ("": no network).
func vnic(name, profile string) *ovirtsdk4.NicBuilder {
	return ovirtsdk4.NewNicBuilder().Name(name).VnicProfile(client.ProfileRef(profile))
}

// set is a change of a vNIC's fields (those set in the builder).
func set() *ovirtsdk4.NicBuilder { return ovirtsdk4.NewNicBuilder() }

func (a *api) addNIC(vm string, b *ovirtsdk4.NicBuilder) *client.NIC {
	a.t.Helper()
	n := b.MustBuild()
	return expect(a, 201, "add a vNIC to "+vm, func(ctx context.Context) (*client.NIC, error) { return a.AddNIC(ctx, vm, n) })
}

func (a *api) update(vm, nic string, b *ovirtsdk4.NicBuilder) *client.NIC {
	a.t.Helper()
	n := b.MustBuild()
	return expect(a, 200, "update vNIC "+nic, func(ctx context.Context) (*client.NIC, error) { return a.UpdateNIC(ctx, vm, nic, n) })
}

func (a *api) nic(vm, nic string) *client.NIC {
	a.t.Helper()
	return expect(a, 200, "get vNIC "+nic, func(ctx context.Context) (*client.NIC, error) { return a.NIC(ctx, vm, nic) })
}

func (a *api) nics(vm string) []*client.NIC {
	a.t.Helper()
	return expect(a, 200, "list the vNICs of "+vm, func(ctx context.Context) ([]*client.NIC, error) { return a.NICs(ctx, vm) })
}

// events lists audit events, newest first (from, max: as client.Events).
func (a *api) events(from int64, max int) []*ovirtsdk4.Event {
	a.t.Helper()
	return expect(a, 200, "list events", func(ctx context.Context) ([]*ovirtsdk4.Event, error) { return a.Events(ctx, from, max) })
}

// idOf is an object's id ("" if it has none): idOf(v.Cluster()) or
// idOf(v, true).
func idOf[T interface{ Id() (string, bool) }](o T, ok bool) string {
	if !ok {
		return ""
	}
	id, _ := o.Id()
	return id
}

// macOf is a vNIC's MAC address ("" if none).
func macOf(n *client.NIC) string {
	if m, ok := n.Mac(); ok {
		a, _ := m.Address()
		return a
	}
	return ""
}

// profileOf is a vNIC's profile id ("": no network).
func profileOf(n *client.NIC) string { return idOf(n.VnicProfile()) }

// reported is what the host last reported of a vNIC (zero if nothing).
func reported(n *client.NIC) client.ReportedState {
	if n.Reported == nil {
		return client.ReportedState{}
	}
	return *n.Reported
}

// is says that a boolean attribute is present and true; isNot, present and
// false (an absent one is neither: n.Synced() unset is not "synced").
func is(v, ok bool) bool    { return ok && v }
func isNot(v, ok bool) bool { return ok && !v }

// nicText is a vNIC as a failure message shows it.
func nicText(n *client.NIC) string {
	l, _ := n.Linked()
	p, _ := n.Plugged()
	s, ok := n.Synced()
	return fmt.Sprintf("vNIC %s mac %s profile %q linked %v plugged %v synced %v (set %v) reported %+v",
		idOf(n, true), macOf(n), profileOf(n), l, p, s, ok, n.Reported)
}

// hostStatus and vmStatus read a status ("" if absent).
func hostStatus(h *ovirtsdk4.Host) ovirtsdk4.HostStatus { s, _ := h.Status(); return s }
func vmStatus(v *ovirtsdk4.Vm) ovirtsdk4.VmStatus       { s, _ := v.Status(); return s }

// eventCode, eventText, eventID read an event's fields (zero if absent).
func eventCode(e *ovirtsdk4.Event) int64  { c, _ := e.Code(); return c }
func eventText(e *ovirtsdk4.Event) string { d, _ := e.Description(); return d }
func eventID(e *ovirtsdk4.Event) int64 {
	id, _ := e.Id()
	n, _ := strconv.ParseInt(id, 10, 64)
	return n
}

// deployment is an engine and one libvirt host registered through POST /hosts.
type deployment struct {
	*api
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
	d := &deployment{api: newAPI(t, eng.URL(), nil), eng: eng, hv: hv, consoleDir: consoleDir, networks: map[string]string{}}
	// The host is added, then enrolled: its agent starts with a one-time
	// token, makes its key, gets its certificate, serves mutual TLS only;
	// the host's port is set once the agent listens.
	h := d.addHost("h1", 1)
	ag := &app.AgentMain{Listen: "127.0.0.1:0", Hypervisor: hv, UnplugTimeout: 3 * time.Second, StateDir: t.TempDir(),
		EnrollURL: eng.BaseURL(), EnrollToken: enrolmentToken(d.api, idOf(h, true)), EngineCA: eng.CAFile()}
	if err := ag.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ag.Close() })
	if ag.Identity == nil {
		t.Fatal("the agent did not enrol")
	}
	d.setHostPort(idOf(h, true), ag.Port())
	h = waitUp(d.api, idOf(h, true))
	checkAgentRefusesStrangers(t, ag.Port())
	d.hostID, d.cluster = idOf(h, true), idOf(h.Cluster())
	d.dc = d.dataCenterOf(d.cluster)
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
	id := d.addVM(newVM(name, d.cluster, 64<<20, d.hostID))
	d.t.Cleanup(func() {
		if _, err := d.StopVM(ctx0, id); err != nil {
			// Down already, or the engine cannot stop it now (a change of
			// a failed test left unsettled): its domain must not outlive
			// the test on the shared libvirtd, where the next run would
			// find its name taken.
			exec.Command("virsh", "-c", "qemu:///system", "destroy", id).Run()
		}
	})
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
