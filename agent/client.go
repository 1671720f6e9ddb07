package agent

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Client calls an agent's JSON-RPC verbs. Every call has a deadline. Calls
// ride one JSON-RPC stream (stream.go), redialled after it breaks; with an
// agent that offers no stream, or an HTTP client given, each call is a POST.
type Client struct {
	url     string
	http    *http.Client
	tls     *tls.Config
	dial    DialFunc
	timeout time.Duration
	nextID  atomic.Int64
	// observe, when set, sees every call's verb, time and error (metrics).
	observe CallObserver

	mu       sync.Mutex
	st       *stream
	noStream bool
	closed   bool
	// A failed dial is not retried for a moment, so that calls to a host
	// that is down fail at once instead of queueing behind each other's
	// dials. A refused connection is not remembered: it costs nothing to
	// try again, and the agent may have just started (an administrator's
	// refresh right after starting it must reach it).
	dialErr  error
	dialedAt time.Time
}

// redialAfter is how long a failed dial stands for the calls that follow.
const redialAfter = time.Second

// NewClient returns a client for the agent at url ("http://host:port/").
// timeout bounds each call unless the context's deadline is sooner.
func NewClient(url string, hc *http.Client, timeout time.Duration) *Client {
	c := &Client{url: url, http: hc, timeout: timeout, noStream: hc != nil}
	if c.http == nil {
		c.http = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}}
	}
	if c.timeout == 0 {
		c.timeout = 30 * time.Second
	}
	return c
}

// DialFunc opens a connection to addr (net.Dialer.DialContext's form).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// ClientOptions set how a client reaches its agent.
type ClientOptions struct {
	// TLS, when set, is the client's mutual TLS (the URL is https://);
	// the stream and the POST fallback both use it.
	TLS *tls.Config
	// Dial replaces the network dial (the embedded host's in-memory pipe).
	Dial DialFunc
	// Timeout bounds each call unless the context's deadline is sooner.
	Timeout time.Duration
	// Observe, when set, is told of every call once it ends (the
	// engine's metrics of host calls); it must not block.
	Observe CallObserver
}

// CallObserver sees one call: its verb, how long it took and its error as
// Call returns it (nil, *RPCError, *TransportError or *UnknownError).
type CallObserver func(method string, took time.Duration, err error)

// NewClientWith returns a client for the agent at url with options o.
func NewClientWith(url string, o ClientOptions) *Client {
	c := NewClient(url, nil, o.Timeout)
	c.tls, c.dial, c.observe = o.TLS, o.Dial, o.Observe
	if c.dial == nil {
		var d net.Dialer
		c.dial = d.DialContext
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second, DialContext: c.dial}
	if o.TLS != nil {
		tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := c.dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			tc := tls.Client(conn, o.TLS)
			if err := tc.HandshakeContext(ctx); err != nil {
				conn.Close()
				// Refused at the handshake: no request was sent, as for a
				// failed dial (isDial).
				return nil, &net.OpError{Op: "dial", Net: network, Err: err}
			}
			return tc, nil
		}
	}
	c.http = &http.Client{Transport: tr}
	return c
}

// TransportError is a failure to reach the agent at all.
type TransportError struct{ Err error }

func (e *TransportError) Error() string { return "host unreachable: " + e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

// Close ends the client's stream; later calls fail.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.st != nil {
		c.st.fail(errors.New("client closed"))
	}
	return nil
}

// stream returns the open stream, dialling one if needed; nil (and no
// error) means: post the call.
func (c *Client) stream(ctx context.Context) (*stream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("client closed")
	}
	if c.noStream {
		return nil, nil
	}
	if c.st != nil && !c.st.broken() {
		return c.st, nil
	}
	if c.dialErr != nil && !errors.Is(c.dialErr, syscall.ECONNREFUSED) && time.Since(c.dialedAt) < redialAfter {
		return nil, c.dialErr
	}
	st, err := dialStream(ctx, c.url, c.dial, c.tls)
	if errors.Is(err, errNoStream) {
		c.noStream = true
		return nil, nil
	}
	c.dialErr, c.dialedAt = err, time.Now()
	if err != nil {
		return nil, err
	}
	c.st = st
	return st, nil
}

// Call invokes method with params and decodes the result into out (if non-nil).
// Errors are *RPCError (the agent answered), *TransportError (the request
// never reached the agent: nothing was done) or *UnknownError (it may have
// been carried out). The request carries ctx's deadline (or the client's
// timeout, if sooner), the operation id of WithOp and the flow id of
// WithFlowID.
func (c *Client) Call(ctx context.Context, method string, params, out any) (err error) {
	if c.observe != nil {
		start := time.Now()
		defer func() { c.observe(method, time.Since(start), err) }()
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	p, err := json.Marshal(params)
	if err != nil {
		return err
	}
	id := c.nextID.Add(1)
	dl, _ := ctx.Deadline()
	body, _ := json.Marshal(request{JSONRPC: "2.0", ID: json.RawMessage(strconv.FormatInt(id, 10)), Method: method, Params: p,
		Deadline: dl.UnixMilli(), Op: opOf(ctx), FlowID: FlowID(ctx)})
	st, err := c.stream(ctx)
	if err != nil {
		return &TransportError{err}
	}
	var r envelope
	if st != nil {
		r, err = st.call(ctx, id, body)
	} else {
		r, err = c.post(ctx, body)
	}
	if err != nil {
		return err
	}
	if r.Error != nil {
		return r.Error
	}
	if out != nil {
		if err := json.Unmarshal(r.Result, out); err != nil {
			return &UnknownError{fmt.Errorf("bad %s result: %w", method, err)}
		}
	}
	return nil
}

// Capabilities calls Host.getCapabilities.
func (c *Client) Capabilities(ctx context.Context) (Capabilities, error) {
	var caps Capabilities
	return caps, c.Call(ctx, verbCapabilities, NoParams{}, &caps)
}

// VMStats calls VM.getStats: one VM with its devices' traffic counters.
func (c *Client) VMStats(ctx context.Context, vmID string) (VMStats, error) {
	var out []VMStats
	if err := c.Call(ctx, verbGetStats, VMIDParams{VMID: vmID}, &out); err != nil {
		return VMStats{}, err
	}
	if len(out) != 1 {
		return VMStats{}, &RPCError{Code: CodeUnexpected, Message: fmt.Sprintf("VM.getStats answered %d VMs, want 1", len(out))}
	}
	return out[0], nil
}

// AllVMStats calls Host.getAllVmStats.
func (c *Client) AllVMStats(ctx context.Context) ([]VMStats, error) {
	var out []VMStats
	return out, c.Call(ctx, verbAllVMStats, NoParams{}, &out)
}

// SetupNetworks creates (and with remove, deletes) bridges.
func (c *Client) SetupNetworks(ctx context.Context, add, remove []string) error {
	p := SetupNetworksParams{Networks: map[string]NetworkAttrs{}}
	for _, n := range add {
		p.Networks[n] = NetworkAttrs{}
	}
	for _, n := range remove {
		p.Networks[n] = NetworkAttrs{Remove: true}
	}
	return c.Call(ctx, verbSetupNetworks, p, nil)
}

// ConfigureNetworks calls Host.setupNetworks in its full form (issue 16).
func (c *Client) ConfigureNetworks(ctx context.Context, p ConfigureNetworksParams) error {
	return c.Call(ctx, verbSetupNetworks, p, nil)
}

// SetSafeNetworkConfig calls Host.setSafeNetworkConfig: the engine still
// reaches the host after a checked setupNetworks, which is then kept.
func (c *Client) SetSafeNetworkConfig(ctx context.Context) error {
	return c.Call(ctx, verbSetSafeNetworkConfig, NoParams{}, nil)
}

// CreateVM calls VM.create.
func (c *Client) CreateVM(ctx context.Context, vp VMParams) (VMStats, error) {
	var out CreateResult
	err := c.Call(ctx, verbCreate, CreateParams{VMID: vp.VMID, VMParams: vp}, &out)
	return out.VMList, err
}

// DestroyVM calls VM.destroy.
func (c *Client) DestroyVM(ctx context.Context, vmID string) error {
	return c.Call(ctx, verbDestroy, VMIDParams{VMID: vmID}, nil)
}

func nicParams(vmID string, d Device) NICParams {
	return NICParams{VMID: vmID, Params: NICDevice{VMID: vmID, NIC: d}}
}

// HotplugNIC calls VM.hotplugNic and returns the device as the host has it.
func (c *Client) HotplugNIC(ctx context.Context, vmID string, d Device) (NICStats, error) {
	var out HotplugResult
	if err := c.Call(ctx, verbHotplugNIC, nicParams(vmID, d), &out); err != nil {
		return NICStats{}, err
	}
	if len(out.VMList.Devices) == 0 {
		return NICStats{}, &UnknownError{fmt.Errorf("VM.hotplugNic answered without the device")}
	}
	return out.VMList.Devices[0], nil
}

// HotunplugNIC calls VM.hotunplugNic; it returns once the device is gone.
func (c *Client) HotunplugNIC(ctx context.Context, vmID string, d Device) error {
	return c.Call(ctx, verbHotunplugNIC, nicParams(vmID, d), nil)
}

// Settle fences the operation opID (the agent will never start it) and
// returns the VM as the host has it once no call on it is in progress;
// found is false when the VM does not run there.
func (c *Client) Settle(ctx context.Context, vmID, opID string) (st VMStats, found bool, err error) {
	var out []VMStats
	err = c.Call(ctx, verbSettle, SettleParams{VMID: vmID, Op: opID}, &out)
	var re *RPCError
	if errors.As(err, &re) && re.Code == CodeNoVM {
		return VMStats{}, false, nil
	}
	if err != nil {
		return VMStats{}, false, err
	}
	if len(out) == 0 {
		return VMStats{}, false, &UnknownError{fmt.Errorf("VM.settle answered without the VM")}
	}
	return out[0], true, nil
}

// UpdateNIC calls VM.updateDevice for an interface and returns the device as
// read back from the host.
func (c *Client) UpdateNIC(ctx context.Context, vmID string, p UpdateDeviceParams) (NICStats, error) {
	p.DeviceType = "interface"
	var out UpdateDeviceResult
	err := c.Call(ctx, verbUpdateDevice, UpdateDeviceRequest{VMID: vmID, Params: p}, &out)
	return out.Device, err
}

// CertificateRequest calls Host.certificateRequest.
func (c *Client) CertificateRequest(ctx context.Context) ([]byte, error) {
	var out CertRequestResult
	err := c.Call(ctx, verbCertRequest, NoParams{}, &out)
	return []byte(out.CSR), err
}

// InstallCertificate calls Host.installCertificate.
func (c *Client) InstallCertificate(ctx context.Context, certPEM []byte) error {
	return c.Call(ctx, verbCertInstall, InstallCertParams{Certificate: string(certPEM)}, nil)
}
