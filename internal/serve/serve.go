// Package serve builds the http.Servers of vwire's binaries (the engine's
// REST API, the agent's JSON-RPC endpoint) with the limits every server
// exposed to a network needs: a client that sends its headers or body
// slowly, never reads its answer, or holds idle connections open is cut
// off, and the number of connections is bounded.
//
// ReadTimeout bounds only the reading of a request: net/http clears the
// read deadline once the body has been read (its background read for a
// closed connection has none), so a handler that runs longer (a host
// call, an event stream) keeps its context; TestHandlerOutlivesReadTimeout
// guards that.
package serve

import (
	"flag"
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits of one server; zero values take the defaults.
type Limits struct {
	// ReadHeaderTimeout bounds reading a request's headers (default 10 s).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, headers and body
	// (default 30 s).
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from its headers' end to its answer's
	// end (default 2 min: a host call with its retries and holds fits).
	// Handlers that stream (server-sent events) extend it per write.
	WriteTimeout time.Duration
	// IdleTimeout bounds a keep-alive connection's wait for its next
	// request (default 60 s).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers (default 64 KiB).
	MaxHeaderBytes int
	// MaxConns bounds the open connections (default 1024); more wait in
	// the kernel's accept queue until one closes.
	MaxConns int
}

// WithDefaults fills in the zero values.
func (l Limits) WithDefaults() Limits {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&l.ReadHeaderTimeout, 10*time.Second)
	def(&l.ReadTimeout, 30*time.Second)
	def(&l.WriteTimeout, 2*time.Minute)
	def(&l.IdleTimeout, time.Minute)
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = 64 << 10
	}
	if l.MaxConns <= 0 {
		l.MaxConns = 1024
	}
	return l
}

// Server returns an http.Server for h with the limits.
func Server(h http.Handler, l Limits) *http.Server {
	l = l.WithDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}

// Listener bounds the connections accepted from ln and open at once to
// max: Accept waits while max are open.
func Listener(ln net.Listener, max int) net.Listener {
	if max <= 0 {
		max = Limits{}.WithDefaults().MaxConns
	}
	return &limitListener{Listener: ln, sem: make(chan struct{}, max), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	sem       chan struct{}
	closeOnce sync.Once
	done      chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

// limitConn gives its slot back when closed, once; a hijacked connection
// (the agent's JSON-RPC stream) holds its slot until it closes too.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// Flags registers the limits as command-line flags on fs, with the
// defaults as their values.
func (l *Limits) Flags(fs *flag.FlagSet) {
	*l = l.WithDefaults()
	fs.DurationVar(&l.ReadHeaderTimeout, "read-header-timeout", l.ReadHeaderTimeout, "deadline for reading a request's headers")
	fs.DurationVar(&l.ReadTimeout, "read-timeout", l.ReadTimeout, "deadline for reading a whole request, headers and body")
	fs.DurationVar(&l.WriteTimeout, "write-timeout", l.WriteTimeout, "deadline for answering a request, from its headers' end (event streams excepted)")
	fs.DurationVar(&l.IdleTimeout, "idle-timeout", l.IdleTimeout, "how long an idle keep-alive connection stays open")
	fs.IntVar(&l.MaxHeaderBytes, "max-header-bytes", l.MaxHeaderBytes, "largest request headers accepted")
	fs.IntVar(&l.MaxConns, "max-conns", l.MaxConns, "most connections open at once; more wait to be accepted")
}
