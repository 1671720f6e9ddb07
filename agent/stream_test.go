package agent_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/hypervisor/sim"
)

// TestStreamCarriesConcurrentCalls: many calls in flight at once share one
// connection and each gets its own answer.
func TestStreamCarriesConcurrentCalls(t *testing.T) {
	as := agent.NewServer(sim.New("red", "blue"), agent.Options{})
	srv := httptest.NewUnstartedServer(as)
	var conns atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	c := agent.NewClient(srv.URL, nil, 5*time.Second)
	defer func() { c.Close(); as.Close(); srv.Close() }()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i%2 == 0 {
				caps, err := c.Capabilities(ctxT(t))
				if err == nil && len(caps.Bridges) != 2 {
					t.Errorf("capabilities = %+v", caps)
				}
				errs <- err
				return
			}
			_, err := c.AllVMStats(ctxT(t))
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("40 calls opened %d connections, want 1 stream", n)
	}
}

// TestStreamFallsBackToPOST: an agent that refuses the upgrade is called
// with a POST per call.
func TestStreamFallsBackToPOST(t *testing.T) {
	as := agent.NewServer(sim.New("red"), agent.Options{})
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			http.Error(w, "no upgrades here", http.StatusBadRequest)
			return
		}
		posts.Add(1)
		as.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c := agent.NewClient(srv.URL, nil, 5*time.Second)
	defer c.Close()
	for i := 0; i < 3; i++ {
		if _, err := c.Capabilities(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	if posts.Load() != 3 {
		t.Fatalf("%d POSTs, want 3", posts.Load())
	}
}

// TestStreamRedialsAfterBreak: when the agent drops the stream (a restart),
// the client fails what was in flight and dials again for the next call; a
// stopped agent is unreachable.
func TestStreamRedialsAfterBreak(t *testing.T) {
	s := sim.New("red")
	first := agent.NewServer(s, agent.Options{})
	var handler atomic.Value
	handler.Store(http.Handler(first))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	defer srv.Close()
	c := agent.NewClient(srv.URL, nil, 5*time.Second)
	defer c.Close()
	if _, err := c.Capabilities(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	first.Close() // the stream breaks; a closed agent refuses new streams
	// A call written on the stream before the client saw it break has an
	// unknown outcome; once it knows, calls fail as not sent.
	var err error
	for i := 0; i < 20; i++ {
		_, err = c.Capabilities(ctxT(t))
		var te *agent.TransportError
		if errors.As(err, &te) {
			break
		}
		if err != nil && !agent.IsUnknown(err) {
			t.Fatalf("call on a broken stream: err = %v, want unknown or not sent", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, ok := err.(*agent.TransportError); !ok {
		t.Fatalf("call to a closed agent: err = %v, want a transport error", err)
	}
	second := agent.NewServer(s, agent.Options{})
	defer second.Close()
	handler.Store(http.Handler(second))
	time.Sleep(1100 * time.Millisecond) // past the pause after a failed dial
	if _, err := c.Capabilities(ctxT(t)); err != nil {
		t.Fatalf("call after the agent came back: %v", err)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestRefusedDialIsNotRemembered: a call right after a refused connection
// reaches an agent that has just started listening (a failed dial that
// took time would stand for a moment; a refusal costs nothing to retry).
func TestRefusedDialIsNotRemembered(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := agent.NewClient("http://"+addr+"/", nil, 5*time.Second)
	defer c.Close()
	_, err = c.Capabilities(ctxT(t))
	if _, ok := errors.AsType[*agent.TransportError](err); !ok {
		t.Fatalf("call to a closed port: %v, want a TransportError", err)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	as := agent.NewServer(sim.New("red"), agent.Options{})
	srv := &http.Server{Handler: as}
	go srv.Serve(ln)
	defer func() { as.Close(); srv.Close() }()
	if caps, err := c.Capabilities(ctxT(t)); err != nil || len(caps.Bridges) != 1 {
		t.Fatalf("call once the agent listens: %+v, %v", caps, err)
	}
}
