package client

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
)

// LookupError is a name that matched no object, or more than one.
type LookupError struct {
	Kind    string // "VM", "vNIC", "vNIC profile"
	Ref     string // the name or id looked up
	Matches int    // 0, or how many objects have that name
}

func (e *LookupError) Error() string {
	if e.Matches == 0 {
		return fmt.Sprintf("no %s named %q", e.Kind, e.Ref)
	}
	return fmt.Sprintf("%d %ss are named %q; give an id", e.Matches, e.Kind, e.Ref)
}

// pick resolves ref among objs: an id wins, else exactly one name must match.
func pick[T interface {
	Id() (string, bool)
	Name() (string, bool)
}](kind, ref string, objs []T) (T, error) {
	var hits []T
	for _, o := range objs {
		if id, _ := o.Id(); id == ref {
			return o, nil
		}
		if name, _ := o.Name(); name == ref {
			hits = append(hits, o)
		}
	}
	if len(hits) == 1 {
		return hits[0], nil
	}
	var zero T
	return zero, &LookupError{Kind: kind, Ref: ref, Matches: len(hits)}
}

// Wait calls cond every interval until it holds, fails, or ctx ends.
func Wait(ctx context.Context, interval time.Duration, cond func(context.Context) (bool, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := cond(ctx)
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waited in vain: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// action posts an action (start, stop, refresh, …) and returns its answer.
func (c *Client) action(ctx context.Context, path string) (*ovirtsdk4.Action, error) {
	body, err := encode(ovirtsdk4.XMLActionWriteOne, ovirtsdk4.NewActionBuilder().MustBuild())
	if err != nil {
		return nil, err
	}
	data, err := c.call(ctx, "POST", path, body)
	if err != nil {
		return nil, err
	}
	return decode(data, ovirtsdk4.XMLActionReadOne)
}

// VMs lists the VMs; search, if not empty, is oVirt's search expression.
func (c *Client) VMs(ctx context.Context, search string) ([]*ovirtsdk4.Vm, error) {
	path := "/vms"
	if search != "" {
		path += "?search=" + url.QueryEscape(search)
	}
	data, err := c.call(ctx, "GET", path, nil)
	if err != nil {
		return nil, err
	}
	s, err := decodeMany(data, ovirtsdk4.XMLVmReadMany)
	if err != nil {
		return nil, err
	}
	return s.Slice(), nil
}

// VM reads a VM by id.
func (c *Client) VM(ctx context.Context, id string) (*ovirtsdk4.Vm, error) {
	data, err := c.call(ctx, "GET", "/vms/"+esc(id), nil)
	if err != nil {
		return nil, err
	}
	return decode(data, ovirtsdk4.XMLVmReadOne)
}

// FindVM resolves a VM by id or by its exact name.
func (c *Client) FindVM(ctx context.Context, ref string) (*ovirtsdk4.Vm, error) {
	v, err := c.VM(ctx, ref)
	if err == nil {
		return v, nil
	}
	if Status(err) == 0 {
		return nil, err // no answer: a search would fail alike
	}
	vms, err := c.VMs(ctx, `name="`+ref+`"`)
	if err != nil {
		return nil, err
	}
	return pick("VM", ref, vms)
}

// AddVM creates a VM.
func (c *Client) AddVM(ctx context.Context, vm *ovirtsdk4.Vm) (*ovirtsdk4.Vm, error) {
	return write(c, ctx, "POST", "/vms", vm, ovirtsdk4.XMLVmWriteOne, ovirtsdk4.XMLVmReadOne)
}

// UpdateVM changes a VM's fields set in vm.
func (c *Client) UpdateVM(ctx context.Context, id string, vm *ovirtsdk4.Vm) (*ovirtsdk4.Vm, error) {
	return write(c, ctx, "PUT", "/vms/"+esc(id), vm, ovirtsdk4.XMLVmWriteOne, ovirtsdk4.XMLVmReadOne)
}

// StartVM starts a VM and returns it as the engine answered (nil if the
// action's answer carries no VM).
func (c *Client) StartVM(ctx context.Context, id string) (*ovirtsdk4.Vm, error) {
	return c.vmAction(ctx, id, "start")
}

// StopVM powers a VM off.
func (c *Client) StopVM(ctx context.Context, id string) (*ovirtsdk4.Vm, error) {
	return c.vmAction(ctx, id, "stop")
}

func (c *Client) vmAction(ctx context.Context, id, action string) (*ovirtsdk4.Vm, error) {
	a, err := c.action(ctx, "/vms/"+esc(id)+"/"+action)
	if err != nil {
		return nil, err
	}
	vm, _ := a.Vm()
	return vm, nil
}

// write sends v with an SDK writer and reads the answer with an SDK reader.
func write[T any](c *Client, ctx context.Context, method, path string, v T,
	w func(*ovirtsdk4.XMLWriter, T, string) error, r func(*ovirtsdk4.XMLReader, *xmlStart, string) (T, error)) (T, error) {
	var zero T
	body, err := encode(w, v)
	if err != nil {
		return zero, err
	}
	data, err := c.call(ctx, method, path, body)
	if err != nil {
		return zero, err
	}
	return decode(data, r)
}

// Hosts lists the hosts.
func (c *Client) Hosts(ctx context.Context) ([]*ovirtsdk4.Host, error) {
	data, err := c.call(ctx, "GET", "/hosts", nil)
	if err != nil {
		return nil, err
	}
	s, err := decodeMany(data, ovirtsdk4.XMLHostReadMany)
	if err != nil {
		return nil, err
	}
	return s.Slice(), nil
}

// Host reads a host.
func (c *Client) Host(ctx context.Context, id string) (*ovirtsdk4.Host, error) {
	data, err := c.call(ctx, "GET", "/hosts/"+esc(id), nil)
	if err != nil {
		return nil, err
	}
	return decode(data, ovirtsdk4.XMLHostReadOne)
}

// AddHost registers a host.
func (c *Client) AddHost(ctx context.Context, h *ovirtsdk4.Host) (*ovirtsdk4.Host, error) {
	return write(c, ctx, "POST", "/hosts", h, ovirtsdk4.XMLHostWriteOne, ovirtsdk4.XMLHostReadOne)
}

// RefreshHost makes the engine read the host's state now.
func (c *Client) RefreshHost(ctx context.Context, id string) error {
	_, err := c.action(ctx, "/hosts/"+esc(id)+"/refresh")
	return err
}

// RenewHostCertificate renews an enrolled host's certificate (oVirt's
// enrollcertificate action): a new key and certificate on the host, with
// no downtime.
func (c *Client) RenewHostCertificate(ctx context.Context, id string) error {
	_, err := c.action(ctx, "/hosts/"+esc(id)+"/enrollcertificate")
	return err
}

// RemoveHost removes a host (it must have no running VM).
func (c *Client) RemoveHost(ctx context.Context, id string) error {
	_, err := c.call(ctx, "DELETE", "/hosts/"+esc(id), nil)
	return err
}

// Cluster reads a cluster.
func (c *Client) Cluster(ctx context.Context, id string) (*ovirtsdk4.Cluster, error) {
	data, err := c.call(ctx, "GET", "/clusters/"+esc(id), nil)
	if err != nil {
		return nil, err
	}
	return decode(data, ovirtsdk4.XMLClusterReadOne)
}

// AddNetwork creates a network.
func (c *Client) AddNetwork(ctx context.Context, n *ovirtsdk4.Network) (*ovirtsdk4.Network, error) {
	return write(c, ctx, "POST", "/networks", n, ovirtsdk4.XMLNetworkWriteOne, ovirtsdk4.XMLNetworkReadOne)
}

// Network reads a network.
func (c *Client) Network(ctx context.Context, id string) (*ovirtsdk4.Network, error) {
	data, err := c.call(ctx, "GET", "/networks/"+esc(id), nil)
	if err != nil {
		return nil, err
	}
	return decode(data, ovirtsdk4.XMLNetworkReadOne)
}

// AttachNetwork attaches a network to a cluster.
func (c *Client) AttachNetwork(ctx context.Context, clusterID, networkID string) error {
	n := ovirtsdk4.NewNetworkBuilder().Id(networkID).MustBuild()
	_, err := write(c, ctx, "POST", "/clusters/"+esc(clusterID)+"/networks", n, ovirtsdk4.XMLNetworkWriteOne, ovirtsdk4.XMLNetworkReadOne)
	return err
}

// NetworkProfiles lists a network's vNIC profiles.
func (c *Client) NetworkProfiles(ctx context.Context, networkID string) ([]*ovirtsdk4.VnicProfile, error) {
	return c.profiles(ctx, "/networks/"+esc(networkID)+"/vnicprofiles")
}

// Profiles lists every vNIC profile.
func (c *Client) Profiles(ctx context.Context) ([]*ovirtsdk4.VnicProfile, error) {
	return c.profiles(ctx, "/vnicprofiles")
}

func (c *Client) profiles(ctx context.Context, path string) ([]*ovirtsdk4.VnicProfile, error) {
	data, err := c.call(ctx, "GET", path, nil)
	if err != nil {
		return nil, err
	}
	s, err := decodeMany(data, ovirtsdk4.XMLVnicProfileReadMany)
	if err != nil {
		return nil, err
	}
	return s.Slice(), nil
}

// Profile reads a vNIC profile.
func (c *Client) Profile(ctx context.Context, id string) (*ovirtsdk4.VnicProfile, error) {
	data, err := c.call(ctx, "GET", "/vnicprofiles/"+esc(id), nil)
	if err != nil {
		return nil, err
	}
	return decode(data, ovirtsdk4.XMLVnicProfileReadOne)
}

// FindProfile resolves a vNIC profile by id or name (a network's default
// profile has the network's name).
func (c *Client) FindProfile(ctx context.Context, ref string) (*ovirtsdk4.VnicProfile, error) {
	ps, err := c.Profiles(ctx)
	if err != nil {
		return nil, err
	}
	return pick("vNIC profile", ref, ps)
}

// AddTemplate creates a template (from the VM t names).
func (c *Client) AddTemplate(ctx context.Context, t *ovirtsdk4.Template) (*ovirtsdk4.Template, error) {
	return write(c, ctx, "POST", "/templates", t, ovirtsdk4.XMLTemplateWriteOne, ovirtsdk4.XMLTemplateReadOne)
}

// MACPools lists the MAC pools.
func (c *Client) MACPools(ctx context.Context) ([]*ovirtsdk4.MacPool, error) {
	data, err := c.call(ctx, "GET", "/macpools", nil)
	if err != nil {
		return nil, err
	}
	s, err := decodeMany(data, ovirtsdk4.XMLMacPoolReadMany)
	if err != nil {
		return nil, err
	}
	return s.Slice(), nil
}

// UpdateMACPool changes a MAC pool's fields set in p.
func (c *Client) UpdateMACPool(ctx context.Context, id string, p *ovirtsdk4.MacPool) (*ovirtsdk4.MacPool, error) {
	return write(c, ctx, "PUT", "/macpools/"+esc(id), p, ovirtsdk4.XMLMacPoolWriteOne, ovirtsdk4.XMLMacPoolReadOne)
}

// Events lists audit events, newest first: those with ids above from (0:
// any), at most max (0: the engine's default).
func (c *Client) Events(ctx context.Context, from int64, max int) ([]*ovirtsdk4.Event, error) {
	q := url.Values{}
	if from > 0 {
		q.Set("from", strconv.FormatInt(from, 10))
	}
	if max > 0 {
		q.Set("max", strconv.Itoa(max))
	}
	path := "/events"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	data, err := c.call(ctx, "GET", path, nil)
	if err != nil {
		return nil, err
	}
	s, err := decodeMany(data, ovirtsdk4.XMLEventReadMany)
	if err != nil {
		return nil, err
	}
	return s.Slice(), nil
}
