package app_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"vwire.dev/vwire/app"
	"vwire.dev/vwire/hypervisor/sim"
	"vwire.dev/vwire/internal/serve"
	"vwire.dev/vwire/restapi"
)

// Servers that defend themselves (issue 11 item 5): the engine's REST API
// and the agent cut off slow and idle clients and bound their connections.

var short = serve.Limits{ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond,
	WriteTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond, MaxConns: 4}

func startEngine(t *testing.T, lim serve.Limits, ev restapi.StreamLimits) *app.EngineMain {
	t.Helper()
	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: t.TempDir(), AdminPassword: "secret",
		PollInterval: time.Hour, Out: io.Discard, Limits: lim, Events: ev}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func startAgent(t *testing.T, lim serve.Limits) *app.AgentMain {
	t.Helper()
	m := &app.AgentMain{Listen: "127.0.0.1:0", Hypervisor: sim.New("red"), Limits: lim}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// closedWithin tells whether the server closes conn within d.
func closedWithin(conn net.Conn, d time.Duration) bool {
	conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	// EOF or a reset (the server closed while the client still wrote):
	// closed; a timeout: held.
	var ne net.Error
	return !errors.As(err, &ne) || !ne.Timeout()
}

// TestSlowBodyCut: an unauthenticated client trickling its body is cut off
// after ReadTimeout, on the engine and on the agent.
func TestSlowBodyCut(t *testing.T) {
	eng := startEngine(t, short, restapi.StreamLimits{})
	ag := startAgent(t, short)
	for name, addr := range map[string]string{"engine": eng.Addr(), "agent": ag.Addr()} {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprint(conn, "POST /ovirt-engine/api/vms HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml\r\nContent-Length: 1000\r\n\r\n<vm>")
			done := make(chan bool, 1)
			go func() { done <- closedWithin(conn, 3*time.Second) }()
			for i := 0; i < 20; i++ { // a byte every 100 ms
				time.Sleep(100 * time.Millisecond)
				if _, err := conn.Write([]byte(" ")); err != nil {
					break
				}
			}
			if !<-done {
				t.Fatal("a slow body held the connection past the read timeout")
			}
		})
	}
}

// TestIdleConnsClosed: keep-alive connections are closed after IdleTimeout.
func TestIdleConnsClosed(t *testing.T) {
	eng := startEngine(t, short, restapi.StreamLimits{})
	conn, err := net.Dial("tcp", eng.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", res, err)
	}
	io.Copy(io.Discard, res.Body)
	if !closedWithin(conn, 3*time.Second) {
		t.Fatal("an idle keep-alive connection stayed past the idle timeout")
	}
}

// TestConnLimit: with MaxConns open, the next connection waits until one
// closes.
func TestConnLimit(t *testing.T) {
	lim := short
	lim.ReadHeaderTimeout, lim.ReadTimeout, lim.IdleTimeout = 10*time.Second, 10*time.Second, 10*time.Second
	for name, addr := range map[string]string{"engine": startEngine(t, lim, restapi.StreamLimits{}).Addr(), "agent": startAgent(t, lim).Addr()} {
		t.Run(name, func(t *testing.T) {
			var held []net.Conn
			for i := 0; i < lim.MaxConns; i++ {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				held = append(held, c)
			}
			time.Sleep(100 * time.Millisecond) // accepted
			hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
			got := make(chan error, 1)
			go func() {
				res, err := hc.Get("http://" + addr + "/healthz")
				if err == nil {
					res.Body.Close()
				}
				got <- err
			}()
			select {
			case err := <-got:
				t.Fatalf("a connection over the limit was served (%v)", err)
			case <-time.After(300 * time.Millisecond):
			}
			held[0].Close()
			select {
			case err := <-got:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("the waiting connection was not served after one closed")
			}
		})
	}
}

// TestEventStreamOutlivesServerTimeouts: the event stream is not cut by
// the server's read and write timeouts, and a quiet one gets keep-alive
// comment lines.
func TestEventStreamOutlivesServerTimeouts(t *testing.T) {
	eng := startEngine(t, short, restapi.StreamLimits{KeepAlive: 100 * time.Millisecond})
	req, _ := http.NewRequest("GET", eng.URL()+"/events", nil)
	req.SetBasicAuth("admin@internal", "secret")
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("event stream: %v %v", res, err)
	}
	defer res.Body.Close()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	keepalives := 0
	for deadline := time.After(time.Second); ; { // three times every timeout
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the stream ended after %d keep-alives", keepalives)
			}
			if strings.HasPrefix(l, ": keepalive") {
				keepalives++
			}
			continue
		case <-deadline:
		}
		break
	}
	if keepalives < 3 {
		t.Fatalf("%d keep-alive lines in 1 s, want about 10", keepalives)
	}
	// Still alive: a new event arrives.
	post, _ := http.NewRequest("POST", eng.URL()+"/datacenters", strings.NewReader(`<data_center><name>dc9</name><local>false</local></data_center>`))
	post.SetBasicAuth("admin@internal", "secret")
	post.Header.Set("Content-Type", "application/xml")
	pr, err := http.DefaultClient.Do(post)
	if err != nil || pr.StatusCode != 201 {
		t.Fatalf("add a data center: %v %v", pr, err)
	}
	pr.Body.Close()
	for deadline := time.After(3 * time.Second); ; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the stream ended")
			}
			if strings.HasPrefix(l, "data: ") {
				return
			}
		case <-deadline:
			t.Fatal("no event on a stream older than every server timeout")
		}
	}
}
