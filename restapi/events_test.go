package restapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/agent/engineport"
	"vwire.dev/vwire/engine"
	"vwire.dev/vwire/store/sqlstore"
)

// countingStore counts the event reads made through it.
type countingStore struct {
	vwire.Store
	reads atomic.Int64
}

type countingTx struct {
	vwire.Tx
	s *countingStore
}

func (c countingTx) Events(from int64, max int) ([]*vwire.Event, error) {
	c.s.reads.Add(1)
	return c.Tx.Events(from, max)
}

func (c *countingStore) View(ctx context.Context, fn func(vwire.Tx) error) error {
	return c.Store.View(ctx, func(tx vwire.Tx) error { return fn(countingTx{tx, c}) })
}

func newStreamServer(t *testing.T, lim StreamLimits) (*Server, *countingStore, *httptest.Server) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "vwire.db"))
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: db}
	eng := engine.New(cs, engine.Options{Dial: engineport.Dial(0)})
	if _, err := eng.Bootstrap(ctx, "secret"); err != nil {
		t.Fatal(err)
	}
	s := New(eng, nil)
	s.Stream = lim
	srv := httptest.NewServer(s)
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close(); eng.Close(); db.Close() })
	return s, cs, srv
}

func addEvent(t *testing.T, st vwire.Store, desc string) {
	t.Helper()
	if err := st.Update(context.Background(), func(tx vwire.Tx) error {
		return tx.AddEvent(&vwire.Event{Code: 1, Severity: vwire.Severity("normal"), Description: desc})
	}); err != nil {
		t.Fatal(err)
	}
}

// subscribe opens an event stream and sends its lines to the channel.
func subscribe(t *testing.T, ctx context.Context, base string, lines chan<- string) (*http.Response, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+apiRoot+"/events", nil)
	req.SetBasicAuth("admin@internal", "secret")
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		return res, err
	}
	go func() {
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	return res, nil
}

// TestEventStreamOneReadPerWakeUp: many subscribers share one database read
// per wake-up, and each gets every event.
func TestEventStreamOneReadPerWakeUp(t *testing.T) {
	_, cs, srv := newStreamServer(t, StreamLimits{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const subs, events = 50, 5
	var got [subs]atomic.Int32
	for i := 0; i < subs; i++ {
		lines := make(chan string, 100)
		if res, err := subscribe(t, ctx, srv.URL, lines); err != nil || res.StatusCode != 200 {
			t.Fatalf("subscriber %d: %v %v", i, res, err)
		}
		go func(i int) {
			for l := range lines {
				if strings.HasPrefix(l, "data: ") {
					got[i].Add(1)
				}
			}
		}(i)
	}
	before := cs.reads.Load()
	for i := 0; i < events; i++ {
		addEvent(t, cs, fmt.Sprintf("event %d", i))
		time.Sleep(20 * time.Millisecond) // one wake-up each
	}
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < subs; i++ {
		for got[i].Load() < events && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := got[i].Load(); n != events {
			t.Fatalf("subscriber %d got %d events, want %d", i, n, events)
		}
	}
	if reads := cs.reads.Load() - before; reads > 2*events {
		t.Fatalf("%d event reads for %d wake-ups of %d subscribers, want one per wake-up", reads, events, subs)
	}
}

// TestEventStreamSubscriberLimit: one subscriber over the limit gets 503
// with a fault; a place freed is taken again.
func TestEventStreamSubscriberLimit(t *testing.T) {
	_, _, srv := newStreamServer(t, StreamLimits{MaxSubscribers: 2})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, cancelFirst := context.WithCancel(ctx)
	for i := 0; i < 2; i++ {
		c := ctx
		if i == 0 {
			c = first
		}
		if res, err := subscribe(t, c, srv.URL, make(chan string, 100)); err != nil || res.StatusCode != 200 {
			t.Fatalf("subscriber %d: %v %v", i, res, err)
		}
	}
	res, err := subscribe(t, ctx, srv.URL, make(chan string, 100))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "<fault>") || !strings.Contains(string(body), "Too many event streams") {
		t.Fatalf("third subscriber: %d %s, want 503 with a fault", res.StatusCode, body)
	}
	cancelFirst()
	deadline := time.Now().Add(5 * time.Second)
	for {
		res, err := subscribe(t, ctx, srv.URL, make(chan string, 100))
		if err == nil && res.StatusCode == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no place after a subscriber left: %v %v", res, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stuckWriter is a client that never reads: a write blocks until the
// write deadline passes, or forever without one.
type stuckWriter struct {
	header   http.Header
	mu       sync.Mutex
	deadline time.Time
	wrote    int
	failed   bool // sticky, as net/http's buffered writer's error
}

func (w *stuckWriter) Header() http.Header { return w.header }
func (w *stuckWriter) WriteHeader(int)     {}
func (w *stuckWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.wrote++
	first := w.wrote == 1
	d := w.deadline
	w.mu.Unlock()
	if first {
		return len(p), nil // the headers and the catch-up go through
	}
	if d.IsZero() {
		time.Sleep(5 * time.Second) // a client that never reads, and no deadline
		return 0, errors.New("the test gave up")
	}
	time.Sleep(time.Until(d))
	w.mu.Lock()
	w.failed = true
	w.mu.Unlock()
	return 0, errors.New("i/o timeout")
}
func (w *stuckWriter) FlushError() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed {
		return errors.New("i/o timeout")
	}
	return nil
}
func (w *stuckWriter) SetWriteDeadline(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.deadline = t
	return nil
}

// TestEventStreamDeadClient: a subscriber whose writes cannot complete
// ends within DeadClient, and quiet streams get keep-alive lines.
func TestEventStreamDeadClient(t *testing.T) {
	s, cs, _ := newStreamServer(t, StreamLimits{DeadClient: 100 * time.Millisecond, KeepAlive: 30 * time.Millisecond})
	r := httptest.NewRequest("GET", apiRoot+"/events", nil)
	w := &stuckWriter{header: http.Header{}}
	done := make(chan error, 1)
	go func() { done <- s.streamEvents(&request{w: w, r: r, prefix: apiRoot}, -1) }()
	time.Sleep(50 * time.Millisecond)
	addEvent(t, cs, "for no one")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a subscriber that never reads held its stream past the dead-client timeout")
	}
	if len(s.eventHub().subs) != 0 {
		t.Fatal("the dead subscriber is still registered")
	}
}

// TestEventStreamSlowSubscriberDropped: a subscriber whose backlog is full
// is dropped; the others keep receiving.
func TestEventStreamSlowSubscriberDropped(t *testing.T) {
	s, cs, srv := newStreamServer(t, StreamLimits{Backlog: 1})
	hub := s.eventHub()
	slow, _, err := hub.join() // registered, never drained
	if err != nil {
		t.Fatal(err)
	}
	defer hub.leave(slow)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lines := make(chan string, 100)
	if res, err := subscribe(t, ctx, srv.URL, lines); err != nil || res.StatusCode != 200 {
		t.Fatalf("subscribe: %v %v", res, err)
	}
	for i := 0; i < 3; i++ {
		addEvent(t, cs, fmt.Sprintf("event %d", i))
		time.Sleep(30 * time.Millisecond)
	}
	n := 0
	for deadline := time.After(5 * time.Second); n < 3; {
		select {
		case l := <-lines:
			if strings.HasPrefix(l, "data: ") {
				n++
			}
		case <-deadline:
			t.Fatalf("the reading subscriber got %d events, want 3", n)
		}
	}
	select {
	case <-slow.gone:
	default:
		t.Fatal("the subscriber with a full backlog was not dropped")
	}
}
