package console

import (
	"net/http"
	"time"
)

// liveSpacing is the least time between two "changed" messages: a burst
// of commits (a bulk rewire) makes one refresh per spacing, not one per
// event, and a single change still shows within it.
const liveSpacing = 250 * time.Millisecond

// liveKeepAlive is the interval of comments on a quiet stream.
const liveKeepAlive = 20 * time.Second

// live streams "changed" whenever an audit event was committed (by any
// engine on the database). It says nothing else: the page re-reads what it
// shows through the engine's queries, with the user's permissions. The
// session is checked again at each message, so a logged-out or expired
// session's stream ends.
func (s *Server) live(w http.ResponseWriter, r *http.Request) {
	s.streamsMu.Lock()
	if s.streams >= s.opt.MaxStreams {
		s.streamsMu.Unlock()
		w.Header().Set("Retry-After", "10")
		http.Error(w, "Too many live streams are open; the page refreshes itself every 10 s instead.", http.StatusServiceUnavailable)
		return
	}
	s.streams++
	s.streamsMu.Unlock()
	defer func() {
		s.streamsMu.Lock()
		s.streams--
		s.streamsMu.Unlock()
	}()

	// Subscribe before the stream opens: a commit between the two is
	// announced, not lost.
	ctx := r.Context()
	wake := s.eng.WatchEvents(ctx)
	rc := http.NewResponseController(w)
	// The server's write timeout is for requests, not for a stream.
	rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// retry: how soon the browser reconnects after the stream ends.
	w.Write([]byte("retry: 2000\n\n"))
	if rc.Flush() != nil {
		return
	}
	sess := sessionOf(ctx)
	keep := time.NewTicker(liveKeepAlive)
	defer keep.Stop()
	var last time.Time
	for {
		var msg string
		select {
		case <-ctx.Done():
			return
		case <-s.closing:
			return
		case _, ok := <-wake:
			if !ok {
				return
			}
			if wait := liveSpacing - time.Since(last); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
			// Drain what came during the wait: one message for all of it.
			for drained := false; !drained; {
				select {
				case <-wake:
				default:
					drained = true
				}
			}
			if _, err := s.eng.SessionUser(ctx, sess.token); err != nil {
				w.Write([]byte("event: signedout\ndata: {}\n\n"))
				rc.Flush()
				return
			}
			last = time.Now()
			msg = "event: changed\ndata: {}\n\n"
		case <-keep.C:
			msg = ": keep-alive\n\n"
		}
		rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := w.Write([]byte(msg)); err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
	}
}
