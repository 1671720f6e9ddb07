package agent

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Framing: how requests reach the server's handle and answers return,
// apart from what any verb means (handlers.go). A call is either one HTTP
// POST, or one line on a JSON-RPC stream.

// maxRequest bounds a JSON-RPC request body.
const maxRequest = 1 << 20

// ServeHTTP answers one JSON-RPC request (POST, any path), or upgrades the
// connection to a JSON-RPC stream.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), streamProtocol) {
		s.serveStream(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "JSON-RPC wants POST", http.StatusMethodNotAllowed)
		return
	}
	var resp response
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
	if err != nil || len(body) > maxRequest {
		resp = response{JSONRPC: "2.0", Error: &RPCError{Code: CodeInvalidRequest, Message: "request unreadable or larger than 1 MiB"}}
	} else {
		resp = s.handle(r.Context(), body)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

// A JSON-RPC stream is one long-lived connection carrying requests and
// answers as lines of JSON, matched by id, several calls in flight at once:
// as VDSM's own JSON-RPC rides one persistent connection. A client asks for
// it with an HTTP upgrade on the agent's port; an agent that does not know
// it answers the upgrade with an error and the client posts each call
// instead. On loopback a call over the stream costs about half of an HTTP
// POST (no headers to write and parse, no connection goroutines to hand the
// call through).
const (
	streamProtocol = "vwire-jsonrpc"
	// maxAnswer bounds one answer (Host.getAllVmStats of a large host).
	maxAnswer = 64 << 20
	// streamWriteTimeout bounds writing one message.
	streamWriteTimeout = 10 * time.Second
)

// errNoStream: the agent refused the upgrade.
var errNoStream = errors.New("the agent does not offer JSON-RPC streams")

// serveStream takes over an upgraded connection and answers its requests,
// each in its own goroutine, until the client goes or the server closes.
// At most maxStreamCalls run at once: then the stream stops reading, and
// the client's writes wait in TCP's buffers (backpressure), so that a
// client pipelining calls faster than the hypervisor answers cannot make
// the agent hold them all in memory.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot upgrade this connection", http.StatusInternalServerError)
		return
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return
	}
	// The http.Server's read and write timeouts are for one request; the
	// stream lives on, with its own deadlines set below.
	conn.SetDeadline(time.Time{})
	ctx, cancel := context.WithCancel(context.Background())
	if !s.track(conn, cancel) {
		conn.Close()
		cancel()
		return
	}
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		s.untrack(conn)
		conn.Close()
	}()
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\nConnection: Upgrade\r\n\r\n", streamProtocol)
	if rw.Flush() != nil {
		return
	}
	buffered, _ := rw.Reader.Peek(rw.Reader.Buffered())
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(buffered), conn), maxRequest+1)
	var wmu sync.Mutex
	inFlight := make(chan struct{}, s.maxStreamCalls)
	for {
		select {
		case inFlight <- struct{}{}:
		case <-ctx.Done():
			return
		}
		line, err := s.readLine(conn, br)
		if err != nil {
			// EOF, a closed server, a line begun and not finished in
			// time, or a request over the limit (the connection cannot
			// be resynchronised: it is dropped).
			return
		}
		body := bytes.Clone(line)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-inFlight }()
			out, _ := json.Marshal(s.handle(ctx, body))
			wmu.Lock()
			defer wmu.Unlock()
			conn.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
			if _, err := conn.Write(append(out, '\n')); err != nil {
				conn.Close() // the reader sees it and ends the stream
			}
		}()
	}
}

// readLine waits as long as it takes for a line to begin (an idle stream
// costs nothing), then allows streamLineTimeout for the rest of it.
func (s *Server) readLine(conn net.Conn, br *bufio.Reader) ([]byte, error) {
	if _, err := br.Peek(1); err != nil {
		return nil, err
	}
	conn.SetReadDeadline(time.Now().Add(s.streamLineTimeout))
	defer conn.SetReadDeadline(time.Time{})
	return br.ReadSlice('\n')
}

func (s *Server) track(c net.Conn, cancel func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.streams[c] = cancel
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.streams, c)
}

// Close ends every JSON-RPC stream and refuses new ones, and rolls back
// host networks the engine has not confirmed (netsetup.go); HTTP calls are
// the http.Server's to stop.
func (s *Server) Close() {
	s.closeNetworks()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c, cancel := range s.streams {
		cancel()
		c.Close()
	}
}

// stream is the client's end of a JSON-RPC stream.
type stream struct {
	conn net.Conn
	wmu  sync.Mutex

	mu      sync.Mutex
	pending map[int64]chan envelope
	err     error // set once the stream broke
}

// dialStream connects to the agent at rawURL (with dial, or the network's
// when nil; over tlsConf's mutual TLS for https) and upgrades the
// connection.
func dialStream(ctx context.Context, rawURL string, dial DialFunc, tlsConf *tls.Config) (*stream, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && !(u.Scheme == "https" && tlsConf != nil) {
		return nil, errNoStream
	}
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	conn, err := dial(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if u.Scheme == "https" {
		// A refused handshake (the agent does not take our certificate,
		// or its own is not the host's) reaches nothing: a transport error.
		tc := tls.Client(conn, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		conn = tc
	}
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", streamProtocol)
	br := bufio.NewReader(conn)
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		resp.Body.Close()
		conn.Close()
		return nil, errNoStream
	}
	conn.SetDeadline(time.Time{})
	st := &stream{conn: conn, pending: map[int64]chan envelope{}}
	go st.readLoop(br)
	return st, nil
}

func (st *stream) readLoop(br *bufio.Reader) {
	for {
		line, err := readLine(br, maxAnswer)
		if err != nil {
			st.fail(err)
			return
		}
		var env envelope
		if err := json.Unmarshal(line, &env); err != nil {
			st.fail(fmt.Errorf("bad JSON-RPC answer: %w", err))
			return
		}
		st.mu.Lock()
		ch := st.pending[env.ID]
		delete(st.pending, env.ID)
		st.mu.Unlock()
		if ch != nil {
			ch <- env // buffered: never blocks
		}
	}
}

// readLine reads one line of at most max bytes.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		part, err := br.ReadSlice('\n')
		line = append(line, part...)
		if len(line) > max {
			return nil, fmt.Errorf("answer larger than %d bytes", max)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return line, err
	}
}

// fail breaks the stream: every call waiting on it fails with err.
func (st *stream) fail(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.err != nil {
		return
	}
	st.err = err
	for id, ch := range st.pending {
		close(ch)
		delete(st.pending, id)
	}
	st.conn.Close()
}

func (st *stream) broken() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.err != nil
}

// call sends one request and waits for its answer or ctx's end. A call that
// times out leaves the stream to the others; its late answer is dropped.
// A request that was not written whole never reached the agent (it reads
// whole lines; the stream is dropped after a failed write): a
// *TransportError. Once written, a call that ends without its answer has
// an unknown outcome.
func (st *stream) call(ctx context.Context, id int64, body []byte) (envelope, error) {
	ch := make(chan envelope, 1)
	st.mu.Lock()
	if st.err != nil {
		err := st.err
		st.mu.Unlock()
		return envelope{}, &TransportError{err}
	}
	st.pending[id] = ch
	st.mu.Unlock()
	line := append(body, '\n')
	st.wmu.Lock()
	if err := ctx.Err(); err != nil {
		// Expired while waiting for the others' writes: nothing was sent.
		st.wmu.Unlock()
		st.mu.Lock()
		delete(st.pending, id)
		st.mu.Unlock()
		return envelope{}, &TransportError{err}
	}
	wdl := time.Now().Add(streamWriteTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(wdl) {
		wdl = dl
	}
	st.conn.SetWriteDeadline(wdl)
	n, err := st.conn.Write(line)
	if err != nil && n > 0 {
		// Half a line on the wire: the stream cannot go on (under the
		// write lock, so that no other line follows it).
		st.fail(err)
	}
	st.wmu.Unlock()
	if err != nil {
		st.mu.Lock()
		delete(st.pending, id)
		st.mu.Unlock()
		if n < len(line) {
			return envelope{}, &TransportError{err}
		}
		return envelope{}, &UnknownError{err}
	}
	select {
	case env, ok := <-ch:
		if !ok {
			st.mu.Lock()
			defer st.mu.Unlock()
			return envelope{}, &UnknownError{st.err}
		}
		return env, nil
	case <-ctx.Done():
		st.mu.Lock()
		delete(st.pending, id)
		st.mu.Unlock()
		return envelope{}, &UnknownError{ctx.Err()}
	}
}

// post makes one call as an HTTP POST. Only a failed dial is known not to
// have reached the agent.
func (c *Client) post(ctx context.Context, body []byte) (envelope, error) {
	var r envelope
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return r, &TransportError{err}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		if isDial(err) {
			return r, &TransportError{err}
		}
		return r, &UnknownError{err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return r, &UnknownError{err}
	}
	if resp.StatusCode != http.StatusOK {
		return r, &UnknownError{fmt.Errorf("HTTP %s", resp.Status)}
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, &UnknownError{fmt.Errorf("bad JSON-RPC answer: %w", err)}
	}
	return r, nil
}
