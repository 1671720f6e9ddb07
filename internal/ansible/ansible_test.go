// Package ansible_test drives a vwire engine with oVirt's Ansible collection
// (ovirt.ovirt) on oVirt's Python SDK (ovirtsdk4), as an oVirt user's
// automation does, and with the SDK alone (sdk_test.go) (issue 14).
//
// What it needs, and where it comes from:
//
//   - ansible-playbook (Debian's ansible-core), python3 with pycurl
//     (python3-pycurl), gcc and libxml2's headers (gcc, libxml2-dev,
//     python3-dev): .ci/ansible-up.sh installs them;
//   - the SDK's and the collection's released sources, built here in a
//     temporary directory at each run and never committed: VWIRE_OVIRT_SDK
//     and VWIRE_OVIRT_COLLECTION name each either a git repository (its
//     tag VWIRE_OVIRT_SDK_REF, default 4.6.3, or VWIRE_OVIRT_COLLECTION_REF,
//     default 3.2.2-1, is read with git archive) or a source tree.
//     .ci/ansible-up.sh prints them when it finds them.
//
// Without the Debian tools the test skips, and fails under CI=true. The
// sources come from no registry CI reaches (neither is packaged by Debian,
// and the SDK is only on PyPI): without them the test skips with its
// reason even under CI=true.
//
// Every request the modules send and every answer go through a logging
// proxy; VWIRE_ANSIBLE_HTTPLOG names a file to keep that log in, and a
// failed test prints the exchanges answered 4xx or 5xx.
package ansible_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vwire.dev/vwire/app"
	"vwire.dev/vwire/client"
	"vwire.dev/vwire/internal/testenv"
)

// Debian's Python, which ansible-core and python3-pycurl are for (not
// whichever python3 comes first on PATH).
const (
	python       = "/usr/bin/python3"
	pythonConfig = "/usr/bin/python3-config"
)

// tools checks the Debian tools and returns ansible-playbook's path.
func tools(t *testing.T) string {
	t.Helper()
	playbook, err := exec.LookPath("ansible-playbook")
	testenv.Need(t, err == nil, "ansible-playbook (Debian's ansible-core)")
	testenv.Need(t, exec.Command(python, "-c", "import pycurl").Run() == nil, "python3-pycurl")
	_, err = exec.LookPath("gcc")
	testenv.Need(t, err == nil, "gcc")
	_, err = os.Stat("/usr/include/libxml2/libxml/xmlreader.h")
	testenv.Need(t, err == nil, "libxml2-dev")
	out, err := exec.Command(python, "-c", "import sysconfig; print(sysconfig.get_paths()['include'])").Output()
	testenv.Need(t, err == nil, "python3")
	_, err = os.Stat(filepath.Join(strings.TrimSpace(string(out)), "Python.h"))
	testenv.Need(t, err == nil, "python3-dev")
	_, err = os.Stat(pythonConfig)
	testenv.Need(t, err == nil, "python3-dev")
	return playbook
}

// source returns the source tree named by env (a git repository read at
// its ref, or a directory) unpacked under dir, or skips.
func source(t *testing.T, env, refEnv, ref, dir string, paths ...string) string {
	t.Helper()
	src := os.Getenv(env)
	if src == "" {
		t.Skipf("%s is not set: oVirt's released sources are on no registry CI reaches (.ci/ansible-up.sh sets it when they are on the machine)", env)
	}
	if r := os.Getenv(refEnv); r != "" {
		ref = r
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if exec.Command("git", "--git-dir", src, "rev-parse", "--verify", "-q", ref+"^{commit}").Run() == nil ||
		exec.Command("git", "--git-dir", filepath.Join(src, ".git"), "rev-parse", "--verify", "-q", ref+"^{commit}").Run() == nil {
		gitDir := src
		if _, err := os.Stat(filepath.Join(src, ".git")); err == nil {
			gitDir = filepath.Join(src, ".git")
		}
		run(t, dir, nil, "sh", "-c", fmt.Sprintf("git --git-dir %q archive %q %s | tar -x", gitDir, ref, strings.Join(paths, " ")))
		return dir
	}
	if _, err := os.Stat(filepath.Join(src, paths[0])); err != nil {
		t.Fatalf("%s=%s: neither a git repository with %s nor a source tree with %s", env, src, ref, paths[0])
	}
	run(t, dir, nil, "cp", "-a", src+"/.", dir)
	return dir
}

func run(t *testing.T, dir string, env []string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// buildSDK builds oVirt's Python SDK (its generated Python and its libxml2
// extension) and returns the directory to put on PYTHONPATH.
func buildSDK(t *testing.T, dir string) string {
	src := source(t, "VWIRE_OVIRT_SDK", "VWIRE_OVIRT_SDK_REF", "4.6.3", dir, "lib", "ext")
	lib := filepath.Join(src, "lib")
	in, err := os.ReadFile(filepath.Join(lib, "ovirtsdk4", "version.py.in"))
	if err != nil {
		t.Fatal(err)
	}
	version := os.Getenv("VWIRE_OVIRT_SDK_REF")
	if version == "" {
		version = "4.6.3"
	}
	if err := os.WriteFile(filepath.Join(lib, "ovirtsdk4", "version.py"),
		bytes.ReplaceAll(in, []byte("@RPM_VERSION@"), []byte(version)), 0o644); err != nil {
		t.Fatal(err)
	}
	inc := strings.Fields(string(run(t, src, nil, pythonConfig, "--includes")))
	suffix := strings.TrimSpace(string(run(t, src, nil, pythonConfig, "--extension-suffix")))
	cs, _ := filepath.Glob(filepath.Join(src, "ext", "*.c"))
	args := append([]string{"-O1", "-shared", "-fPIC", "-I/usr/include/libxml2"}, inc...)
	args = append(args, cs...)
	args = append(args, "-lxml2", "-o", filepath.Join(lib, "ovirtsdk4", "xml"+suffix))
	run(t, src, nil, "gcc", args...)
	run(t, src, []string{"PYTHONPATH=" + lib}, python, "-c", "import ovirtsdk4, ovirtsdk4.xml, ovirtsdk4.services")
	return lib
}

// collection unpacks the ovirt.ovirt collection and returns the directory
// to put on ANSIBLE_COLLECTIONS_PATH.
func collection(t *testing.T, dir string) string {
	into := filepath.Join(dir, "ansible_collections", "ovirt", "ovirt")
	source(t, "VWIRE_OVIRT_COLLECTION", "VWIRE_OVIRT_COLLECTION_REF", "3.2.2-1", into, "galaxy.yml", "meta", "plugins")
	return dir
}

// httpLog is a TLS reverse proxy to the engine that records every exchange.
type httpLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	refused bytes.Buffer // the exchanges answered 4xx or 5xx
	srv     *httptest.Server
}

func newHTTPLog(t *testing.T, m *app.EngineMain) *httpLog {
	t.Helper()
	pemCA, err := os.ReadFile(m.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCA)
	target, _ := url.Parse(m.BaseURL())
	rp := httputil.NewSingleHostReverseProxy(target)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	rp.Transport = tr
	l := &httpLog{}
	l.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r)
		if r.URL.Path != "/ovirt-engine/sso/oauth/token" { // the password
			l.add(r, body, rec)
		} else {
			l.add(r, nil, rec)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	l.srv.StartTLS()
	t.Cleanup(l.srv.Close)
	return l
}

func (l *httpLog) add(r *http.Request, body []byte, rec *httptest.ResponseRecorder) {
	var b bytes.Buffer
	fmt.Fprintf(&b, ">>> %s %s\n", r.Method, r.URL.RequestURI())
	for _, h := range []string{"Accept", "Content-Type", "Version", "All-Content", "Prefer"} {
		if v := r.Header.Get(h); v != "" {
			fmt.Fprintf(&b, "%s: %s\n", h, v)
		}
	}
	if len(body) > 0 {
		fmt.Fprintf(&b, "%s\n", body)
	}
	ans := rec.Body.Bytes()
	if len(ans) > 6000 {
		ans = append(ans[:6000:6000], "\n…(cut)"...)
	}
	fmt.Fprintf(&b, "<<< %d %s\n%s\n\n", rec.Code, rec.Header().Get("Content-Type"), ans)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(b.Bytes())
	if rec.Code >= 400 {
		l.refused.Write(b.Bytes())
	}
}

func (l *httpLog) mark(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.buf, "######## %s\n", s)
}

func (l *httpLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// caFile writes the proxy's certificate, the CA the SDK is given.
func (l *httpLog) caFile(t *testing.T, dir string) string {
	p := filepath.Join(dir, "proxy-ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: l.srv.Certificate().Raw})
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// result is the output of testdata/callback_plugins/vwire_json.py, as much as the test reads.
type result struct {
	Plays []struct {
		Tasks []struct {
			Task struct {
				Name string `json:"name"`
			} `json:"task"`
			Hosts map[string]map[string]any `json:"hosts"`
		} `json:"tasks"`
	} `json:"plays"`
	Stats map[string]struct {
		Changed     int `json:"changed"`
		Failures    int `json:"failures"`
		Unreachable int `json:"unreachable"`
		Ok          int `json:"ok"`
		Skipped     int `json:"skipped"`
	} `json:"stats"`
}

// step is one task's outcome on localhost.
type step struct {
	name, module, outcome, msg string
}

func (r *result) steps() []step {
	var out []step
	for _, p := range r.Plays {
		for _, task := range p.Tasks {
			h := task.Hosts["localhost"]
			s := step{name: task.Task.Name, outcome: "ok"}
			if a, ok := h["action"].(string); ok {
				s.module = a
			}
			switch {
			case h["failed"] == true:
				s.outcome = "FAILED"
			case h["skipped"] == true:
				s.outcome = "skipped"
			case h["changed"] == true:
				s.outcome = "changed"
			}
			if m, ok := h["msg"].(string); ok && s.outcome == "FAILED" {
				s.msg, _, _ = strings.Cut(m, "\n")
				if e, ok := h["exception"].(string); ok {
					lines := strings.Split(strings.TrimSpace(e), "\n")
					s.msg += " | " + lines[len(lines)-1]
				}
			}
			out = append(out, s)
		}
	}
	return out
}

// runPlaybook runs one playbook of testdata and logs each step's outcome;
// a failed step fails the test.
func runPlaybook(t *testing.T, hl *httpLog, playbook string, env []string, vars, name, file string) *result {
	t.Helper()
	pb, err := filepath.Abs(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	hl.mark(name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, playbook, "-i", "localhost,", "-c", "local", "-e", vars, pb)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var r result
	if jerr := json.Unmarshal(stdout.Bytes(), &r); jerr != nil {
		t.Fatalf("%s: %v (exit %v)\nstdout:\n%s\nstderr:\n%s", name, jerr, err, stdout.String(), stderr.String())
	}
	var b strings.Builder
	failed := 0
	for _, s := range r.steps() {
		fmt.Fprintf(&b, "  %-34s %-34s %s", s.name, s.module, s.outcome)
		if s.msg != "" {
			fmt.Fprintf(&b, ": %s", s.msg)
		}
		b.WriteString("\n")
		if s.outcome == "FAILED" {
			failed++
		}
	}
	st := r.Stats["localhost"]
	t.Logf("%s (exit %v): ok=%d changed=%d failed=%d skipped=%d\n%s", name, err, st.Ok, st.Changed, failed, st.Skipped, b.String())
	if failed != 0 || st.Failures != 0 || st.Unreachable != 0 || err != nil {
		t.Errorf("%s: %d steps failed, unreachable=%d (exit %v)\nstderr:\n%s", name, failed, st.Unreachable, err, stderr.String())
	}
	return &r
}

func TestPlaybookTwice(t *testing.T) {
	playbook := tools(t)
	work := t.TempDir()
	sdk := buildSDK(t, filepath.Join(work, "sdk"))
	colls := collection(t, filepath.Join(work, "collections"))

	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: t.TempDir(), EmbeddedHost: true, AdminPassword: "secret", PKI: true,
		PollInterval: time.Second, Out: io.Discard}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	// The host's administrator creates the new network's bridge (as
	// `ip link add ansnet type bridge` on a real host).
	if err := m.Sim.EnsureBridges(context.Background(), []string{"ansnet"}); err != nil {
		t.Fatal(err)
	}
	hl := newHTTPLog(t, m)
	t.Cleanup(func() {
		if p := os.Getenv("VWIRE_ANSIBLE_HTTPLOG"); p != "" {
			os.WriteFile(p, []byte(hl.String()), 0o644)
		}
		if t.Failed() {
			hl.mu.Lock()
			t.Log("requests answered 4xx or 5xx (VWIRE_ANSIBLE_HTTPLOG=file keeps every exchange):\n" + hl.refused.String())
			hl.mu.Unlock()
		}
	})

	cb, err := filepath.Abs("testdata/callback_plugins")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PYTHONPATH=" + sdk,
		"ANSIBLE_COLLECTIONS_PATH=" + colls,
		"ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false",
		"ANSIBLE_STDOUT_CALLBACK=vwire_json",
		"ANSIBLE_CALLBACK_PLUGINS=" + cb,
		"ANSIBLE_HOME=" + filepath.Join(work, "home"),
		"ANSIBLE_LOCAL_TEMP=" + filepath.Join(work, "tmp"),
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_RETRY_FILES_ENABLED=false",
		"ANSIBLE_LOCALHOST_WARNING=false",
		"ANSIBLE_INVENTORY_UNPARSED_WARNING=false",
		"ANSIBLE_PYTHON_INTERPRETER=" + python,
	}
	vars, _ := json.Marshal(map[string]string{
		"engine_url":      hl.srv.URL + "/ovirt-engine/api",
		"engine_password": "secret",
		"engine_ca":       hl.caFile(t, work),
		"keep_going":      "true",
	})
	play := func(name, file string) *result {
		t.Helper()
		return runPlaybook(t, hl, playbook, env, string(vars), name, file)
	}
	runs := []*result{play("run 1", "vnic.yml"), play("run 2", "vnic.yml")}
	if c := runs[1].Stats["localhost"].Changed; c != 0 {
		t.Errorf("second run: changed=%d, want 0", c)
	}
	// The walk ended where the play declares it: the first run's
	// declarations after the walk change nothing either.
	for _, s := range runs[0].steps() {
		if (s.name == "the VM runs" || s.name == "the vNIC as it ended") && s.outcome != "ok" {
			t.Errorf("first run, %q after the walk: %s, want ok", s.name, s.outcome)
		}
	}
	if t.Failed() {
		return
	}

	// Through the API: the vNIC is where the playbook put it.
	c, err := client.New(client.Options{URL: m.URL(), User: "admin@internal", Password: "secret", CAFile: m.CAFile(), Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	vm, err := c.FindVM(ctx, "ansvm")
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := vm.Status(); st != "up" {
		t.Errorf("VM status %s, want up", st)
	}
	prof, err := c.FindProfile(ctx, "ansprof")
	if err != nil {
		t.Fatal(err)
	}
	nics, err := c.NICs(ctx, vm.MustId())
	if err != nil {
		t.Fatal(err)
	}
	if len(nics) != 1 {
		t.Fatalf("%d vNICs, want 1", len(nics))
	}
	n := nics[0]
	name, _ := n.Name()
	plugged, _ := n.Plugged()
	linked, _ := n.Linked()
	var profID string
	if p, ok := n.VnicProfile(); ok {
		profID, _ = p.Id()
	}
	if name != "nic1" || !plugged || linked || profID != prof.MustId() {
		t.Errorf("vNIC %s: plugged %v linked %v profile %s; want nic1 plugged, unlinked, on %s", name, plugged, linked, profID, prof.MustId())
	}
	if n.Reported == nil || !n.Reported.Present || n.Reported.LinkState != "down" || n.Reported.Bridge != "ansnet" {
		t.Errorf("host's report of the vNIC: %+v; want present, link down, on bridge ansnet", n.Reported)
	}

	// Removing it all, twice: the second run finds nothing to remove, and
	// nothing is left behind.
	play("teardown 1", "teardown.yml")
	if c := play("teardown 2", "teardown.yml").Stats["localhost"].Changed; c != 0 {
		t.Errorf("second teardown: changed=%d, want 0", c)
	}
	if vms, err := c.VMs(ctx, ""); err != nil || len(vms) != 0 {
		t.Errorf("VMs left: %d %v", len(vms), err)
	}
	if _, err := c.FindProfile(ctx, "ansprof"); err == nil {
		t.Error("profile ansprof left")
	}
	nets, err := c.Networks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		if name, _ := n.Name(); name == "ansnet" {
			t.Error("network ansnet left")
		}
	}
}
