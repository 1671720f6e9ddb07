package serve_test

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"vwire.dev/vwire/internal/serve"
)

// TestTLSOrLoopback: one port answers TLS to anyone and plain HTTP only to
// a peer on loopback; a plain request from another address of the machine
// gets a 400 naming https, and a silent connection holds up nobody.
func TestTLSOrLoopback(t *testing.T) {
	// httptest's certificate, for the TLS side.
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS()
	cert := ts.TLS.Certificates
	pool := ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	ts.Close()

	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	sl := serve.TLSOrLoopback(ln, &tls.Config{Certificates: cert})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			io.WriteString(w, "tls")
		} else {
			io.WriteString(w, "plain")
		}
	})}
	go srv.Serve(sl)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	// A silent client first: the others must not wait for it.
	silent, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	get := func(c *http.Client, url string) string {
		t.Helper()
		c.Timeout = 5 * time.Second
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.Status + " " + string(b)
	}
	if got := get(&http.Client{}, "http://127.0.0.1:"+itoa(port)+"/"); got != "200 OK plain" {
		t.Errorf("plain HTTP from loopback: %q", got)
	}
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "example.com"}}}
	if got := get(tlsClient, "https://127.0.0.1:"+itoa(port)+"/"); got != "200 OK tls" {
		t.Errorf("TLS from loopback: %q", got)
	}

	// Another address of this machine: a peer that is not loopback.
	other := nonLoopbackAddr(t)
	if got := get(tlsClient, "https://"+net.JoinHostPort(other, itoa(port))+"/"); got != "200 OK tls" {
		t.Errorf("TLS from %s: %q", other, got)
	}
	got := get(&http.Client{}, "http://"+net.JoinHostPort(other, itoa(port))+"/")
	if !strings.HasPrefix(got, "400 ") || !strings.Contains(got, "https://") {
		t.Errorf("plain HTTP from %s: %q, want a 400 naming https", other, got)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// nonLoopbackAddr is an IPv4 address of this machine that is not loopback.
func nonLoopbackAddr(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	t.Fatal("this machine has no IPv4 address but loopback")
	return ""
}
