package restapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"vwire.dev/vwire"
)

// The event stream (GET /events with Accept: text/event-stream) serves
// audit events as server-sent events. One reader per engine (eventHub)
// reads the new events once per wake-up and fans them out to every
// subscriber: a read per subscriber per wake-up made 300 subscribers cut
// the update rate from 551/s to 65/s. A subscriber that cannot keep up is
// dropped rather than allowed to hold the others back; its client
// reconnects with Last-Event-ID and catches up from the database.

// StreamLimits bound the event stream; zero values take the defaults.
type StreamLimits struct {
	// MaxSubscribers bounds the open event streams (default 512); one
	// more is refused with 503.
	MaxSubscribers int
	// KeepAlive is the interval of comment lines sent on a quiet stream
	// (default 15 s), so that proxies keep it open.
	KeepAlive time.Duration
	// DeadClient bounds one write to a subscriber (default 30 s): a
	// client that does not read ends its stream.
	DeadClient time.Duration
	// Backlog is how many batches of events may wait for one subscriber
	// (default 256) before it is dropped as too slow.
	Backlog int
}

func (l StreamLimits) withDefaults() StreamLimits {
	if l.MaxSubscribers <= 0 {
		l.MaxSubscribers = 512
	}
	if l.KeepAlive <= 0 {
		l.KeepAlive = 15 * time.Second
	}
	if l.DeadClient <= 0 {
		l.DeadClient = 30 * time.Second
	}
	if l.Backlog <= 0 {
		l.Backlog = 256
	}
	return l
}

// gapWait is how long the stream waits for a missing event id to appear.
// Ids come from a sequence when the row is written, and transactions commit
// in another order than that: a gap is usually an event about to commit
// (or one rolled back, which never will).
const gapWait = 10 * time.Second

// minReadInterval spaces the reader's reads under load: a wake-up within
// it of the last read waits for its end, so that a busy engine fans out
// one batch every 25 ms, not one per commit, and each subscriber costs a
// write per batch, not per event. An event waits at most that long.
const minReadInterval = 25 * time.Millisecond

// batch is the events one read found, in id order, shared by every
// subscriber; their server-sent-event frames are rendered once per href
// prefix, for all subscribers.
type batch struct {
	events []*vwire.Event
	late   []bool // filled a gap: committed after a higher id was sent

	mu     sync.Mutex
	frames map[string]*rendered
}

type rendered struct {
	all    []byte // every frame, in order
	frames [][]byte
}

func (b *batch) render(q *request) *rendered {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r, ok := b.frames[q.prefix]; ok {
		return r
	}
	r := &rendered{frames: make([][]byte, len(b.events))}
	for i, e := range b.events {
		data, _ := json.Marshal(q.eventNode(e).jsonValue())
		start := len(r.all)
		r.all = fmt.Appendf(r.all, "id: %d\nevent: event\ndata: %s\n\n", e.ID, data)
		r.frames[i] = r.all[start:len(r.all):len(r.all)]
	}
	if b.frames == nil {
		b.frames = map[string]*rendered{}
	}
	b.frames[q.prefix] = r
	return r
}

type subscriber struct {
	ch   chan *batch
	gone chan struct{} // closed when the hub dropped it as too slow
}

// eventSource is what the hub reads: the engine's event queries.
type eventSource interface {
	// Events lists newest first, ids above from (0: all), at most max (0: all).
	Events(ctx context.Context, from int64, max int) ([]*vwire.Event, error)
	// WatchEvents wakes the receiver when events were committed, until ctx ends.
	WatchEvents(ctx context.Context) <-chan struct{}
}

type eventHub struct {
	src eventSource
	lim StreamLimits

	mu   sync.Mutex
	subs map[*subscriber]struct{}
	gen  int                // the running reader's generation
	stop context.CancelFunc // of the running reader; nil when none runs
	pos  int64              // the highest id fanned out
	gaps map[int64]time.Time
}

// join registers a subscriber, starting the reader if none runs, and
// returns the point below which the subscriber must read the database
// itself: the reader fans out only what it reads after that point.
func (h *eventHub) join() (*subscriber, int64, error) {
	for {
		sub, low, again, err := h.tryJoin()
		if !again {
			return sub, low, err
		}
	}
}

func (h *eventHub) tryJoin() (sub *subscriber, low int64, again bool, err error) {
	h.mu.Lock()
	running := h.stop != nil
	h.mu.Unlock()
	var latest int64
	if !running {
		// The reader starts at the latest event; read before taking the
		// lock, which fan-outs hold.
		evs, err := h.src.Events(context.Background(), 0, 1)
		if len(evs) > 0 {
			latest = evs[0].ID
		}
		if err != nil {
			return nil, 0, false, err
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) >= h.lim.MaxSubscribers {
		return nil, 0, false, vwire.New(vwire.MsgTooManyStreams, "max", strconv.Itoa(h.lim.MaxSubscribers))
	}
	if h.stop == nil {
		if running {
			return nil, 0, true, nil // it stopped meanwhile: read the latest id again
		}
		ctx, cancel := context.WithCancel(context.Background())
		h.gen++
		h.stop, h.pos, h.gaps = cancel, latest, map[int64]time.Time{}
		go h.read(ctx, h.gen, h.src.WatchEvents(ctx))
	}
	sub = &subscriber{ch: make(chan *batch, h.lim.Backlog), gone: make(chan struct{})}
	h.subs[sub] = struct{}{}
	low = h.pos
	for id := range h.gaps {
		low = min(low, id-1)
	}
	return sub, low, false, nil
}

// leave unregisters a subscriber; the last one stops the reader.
func (h *eventHub) leave(sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, sub)
	if len(h.subs) == 0 && h.stop != nil {
		h.stop()
		h.stop = nil
	}
}

// read is the one reader: on each wake-up (or, while ids are missing,
// every 200 ms) it reads the events after its position once and fans them
// out.
func (h *eventHub) read(ctx context.Context, gen int, wake <-chan struct{}) {
	var last time.Time
	for {
		h.mu.Lock()
		low, waitGaps := h.pos, len(h.gaps) > 0
		for id := range h.gaps {
			low = min(low, id-1)
		}
		h.mu.Unlock()
		wait := time.Hour
		if waitGaps {
			wait = 200 * time.Millisecond
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-wake:
		case <-t.C:
		}
		t.Stop()
		if pause := minReadInterval - time.Since(last); pause > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
		}
		last = time.Now()
		evs, err := h.src.Events(ctx, low, 0)
		if err != nil {
			continue // the next wake-up reads again
		}
		h.fanOut(gen, evs)
	}
}

// fanOut picks from evs (newest first, as the store returns them) those
// not sent yet, and queues them to every subscriber, dropping those whose
// backlog is full.
func (h *eventHub) fanOut(gen int, evs []*vwire.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if gen != h.gen || h.stop == nil {
		return // a reader stopped meanwhile: its position is no one's
	}
	b := &batch{}
	now := time.Now()
	for i := len(evs) - 1; i >= 0; i-- {
		id := evs[i].ID
		_, late := h.gaps[id]
		if id <= h.pos && !late {
			continue // sent already
		}
		delete(h.gaps, id)
		for missing := h.pos + 1; missing < id; missing++ {
			h.gaps[missing] = now
		}
		b.events = append(b.events, evs[i])
		b.late = append(b.late, late)
		h.pos = max(h.pos, id)
	}
	for id, since := range h.gaps {
		if now.Sub(since) > gapWait {
			delete(h.gaps, id) // rolled back: it will never come
		}
	}
	if len(b.events) == 0 {
		return
	}
	for sub := range h.subs {
		select {
		case sub.ch <- b:
		default:
			delete(h.subs, sub)
			close(sub.gone)
		}
	}
}

func (s *Server) eventHub() *eventHub {
	s.hubOnce.Do(func() {
		s.hub = &eventHub{src: s.eng, lim: s.Stream.withDefaults(), subs: map[*subscriber]struct{}{}}
	})
	return s.hub
}

// streamEvents serves the events as server-sent events, oldest first: those
// after from (or, without from, only new ones), then each new one as any
// engine commits it. A comment line every KeepAlive keeps proxies from
// closing a quiet stream; a write that cannot complete within DeadClient
// ends it. The server's write timeout, meant for one answer, does not
// apply: each write sets its own deadline.
func (s *Server) streamEvents(q *request, from int64) error {
	hub := s.eventHub()
	sub, low, err := hub.join()
	if err != nil {
		return err
	}
	defer hub.leave(sub)
	rc := http.NewResponseController(q.w)
	lim := hub.lim
	// sent holds the ids the catch-up sent above low: the reader may fan
	// them out too.
	sent := map[int64]struct{}{}
	var catchUp []*vwire.Event
	if from < 0 {
		from = low
	} else if from < low {
		if catchUp, err = s.eng.Events(q.ctx(), from, 0); err != nil {
			return err
		}
	}
	q.w.Header().Set("Content-Type", "text/event-stream")
	q.w.Header().Set("Cache-Control", "no-cache")
	write := func(fn func()) bool {
		rc.SetWriteDeadline(time.Now().Add(lim.DeadClient))
		fn()
		return rc.Flush() == nil
	}
	ok := write(func() {
		q.w.WriteHeader(http.StatusOK)
		for i := len(catchUp) - 1; i >= 0; i-- {
			e := catchUp[i]
			data, _ := json.Marshal(q.eventNode(e).jsonValue())
			fmt.Fprintf(q.w, "id: %d\nevent: event\ndata: %s\n\n", e.ID, data)
			if e.ID > low {
				sent[e.ID] = struct{}{}
			}
		}
	})
	if !ok {
		return nil
	}
	keepalive := time.NewTicker(lim.KeepAlive)
	defer keepalive.Stop()
	ctx := q.ctx()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.closing:
			return nil
		case <-sub.gone:
			return nil // too slow: the client reconnects with Last-Event-ID
		case <-keepalive.C:
			if !write(func() { fmt.Fprint(q.w, ": keepalive\n\n") }) {
				return nil
			}
		case b := <-sub.ch:
			// The hub reads for every subscriber; each sees only its events.
			keep, err := s.eng.VisibleEvents(ctx, b.events)
			if err != nil {
				return nil
			}
			r := b.render(q)
			ok := write(func() {
				if keep == nil && len(sent) == 0 && b.events[0].ID > from {
					q.w.Write(r.all) // the usual case: all of it, in one write
					return
				}
				for i, e := range b.events {
					if keep != nil && !keep[e.ID] {
						continue
					}
					if _, dup := sent[e.ID]; dup {
						delete(sent, e.ID)
						continue
					}
					if e.ID <= from && !b.late[i] {
						continue // the client has it
					}
					q.w.Write(r.frames[i])
				}
			})
			if !ok {
				return nil
			}
		}
	}
}
