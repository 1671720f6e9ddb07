package serve_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"vwire.dev/vwire/internal/serve"
)

// TestHandlerOutlivesReadTimeout: a handler that runs longer than
// ReadTimeout, after reading its body (or with none), keeps its request's
// context: the read timeout is for slow clients, not slow work.
func TestHandlerOutlivesReadTimeout(t *testing.T) {
	lim := serve.Limits{ReadTimeout: 100 * time.Millisecond, WriteTimeout: 5 * time.Second}
	srv := serve.Server(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		select {
		case <-r.Context().Done():
			http.Error(w, "cancelled", http.StatusInternalServerError)
		case <-time.After(400 * time.Millisecond):
			io.WriteString(w, "done")
		}
	}), lim)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(serve.Listener(ln, 0))
	defer srv.Close()
	for _, method := range []string{"GET", "POST"} {
		req, _ := http.NewRequest(method, "http://"+ln.Addr().String()+"/", strings.NewReader("body"))
		if method == "GET" {
			req.Body, req.ContentLength = nil, 0
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(b) != "done" {
			t.Fatalf("%s: %d %q, want the handler to finish", method, res.StatusCode, b)
		}
	}
}
