package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// walkthroughMarker precedes each fenced block of README.md that
// TestREADMEWalkthrough runs.
const walkthroughMarker = "<!-- walkthrough: run by cmd/vwire/readme_test.go -->"

// walkthrough extracts the marked shell blocks of a README, in order.
func walkthrough(readme string) ([]string, error) {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(readme))
	marked, in, blocks := false, false, 0
	for sc.Scan() {
		l := sc.Text()
		switch {
		case in && strings.TrimSpace(l) == "```":
			in = false
		case in:
			lines = append(lines, l)
		case marked && strings.TrimSpace(l) == "```sh":
			in, marked = true, false
			blocks++
		case strings.TrimSpace(l) == walkthroughMarker:
			marked = true
		case marked && strings.TrimSpace(l) != "":
			return nil, fmt.Errorf("the marker is followed by %q, not a ```sh block", l)
		}
	}
	if blocks == 0 {
		return nil, fmt.Errorf("no block marked %s", walkthroughMarker)
	}
	return lines, nil
}

// expectExit is a walkthrough line's expected failure: "# exit N".
var expectExit = regexp.MustCompile(`#\s*exit (\d+)\b`)

// script makes the walkthrough a bash script that stops at the first
// command that fails, or that does not fail as its comment says ("# exit 3"):
// the engine on port, the binaries already built into bin/.
func script(lines []string, port int) string {
	var b strings.Builder
	b.WriteString("set -euo pipefail\n")
	for i, l := range lines {
		l = strings.ReplaceAll(l, "127.0.0.1:8080", "127.0.0.1:"+strconv.Itoa(port))
		// The test built the binaries (from this checkout) before.
		l = strings.Replace(l, "go build -o bin/ ./cmd/...", "true", 1)
		if m := expectExit.FindStringSubmatch(l); m != nil {
			cmd := strings.TrimSpace(l[:strings.Index(l, "#")])
			fmt.Fprintf(&b, "echo '$ %s'\nif %s; then rc=0; else rc=$?; fi\n", strings.ReplaceAll(cmd, "'", `'\''`), cmd)
			fmt.Fprintf(&b, "[ $rc = %s ] || { echo \"README walkthrough line %d: exit $rc, want %s\" >&2; exit 99; }\n", m[1], i+1, m[1])
			continue
		}
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			fmt.Fprintf(&b, "echo '$ %s'\n", strings.ReplaceAll(t, "'", `'\''`))
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}

// TestREADMEWalkthrough runs README.md's walkthrough start to end as a
// newcomer would on a fresh machine: the binaries built from this
// checkout, a new engine (HTTPS, its own CA, the embedded simulated host)
// on a free loopback port in an empty directory, a fresh home (so a fresh
// ~/.config/vwire), trust on first use by the fingerprint the engine
// printed. Any command that fails, or does not fail where the README says
// it exits non-zero, fails the test; so does output the README promises
// and the run lacks.
func TestREADMEWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries and runs an engine")
	}
	for _, tool := range []string{"bash", "curl", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the walkthrough needs %s: %v", tool, err)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines, err := walkthrough(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	home := t.TempDir()
	bin := filepath.Join(work, "bin")
	start := time.Now()
	build := exec.Command("go", "build", "-o", bin+"/", "vwire.dev/vwire/cmd/vwire", "vwire.dev/vwire/cmd/vwire-engine")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built the binaries in %s", time.Since(start).Round(time.Millisecond))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	sh := script(lines, port)
	if err := os.WriteFile(filepath.Join(work, "walkthrough.sh"), []byte(sh), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "walkthrough.sh")
	cmd.Dir = work
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "VWIRE_") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			continue
		}
		env = append(env, kv)
	}
	// The CLI's default engine is the README's port 8080; this one's is not.
	cmd.Env = append(env, "HOME="+home, "VWIRE_URL=https://127.0.0.1:"+strconv.Itoa(port)+"/ovirt-engine/api")
	out, err := os.Create(filepath.Join(work, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out // files, not pipes: the engine's background job must not hold Wait
	// Its own process group, so that the engine it starts in the
	// background is stopped with it, whatever happens.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	start = time.Now()
	err = cmd.Start()
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	took := time.Since(start)
	// The walkthrough stops its engine; whatever is left of the group is
	// stopped here, and gone before the temporary directories are removed.
	pgid := cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	for i := 0; i < 150 && syscall.Kill(-pgid, 0) == nil; i++ {
		if i == 100 {
			syscall.Kill(-pgid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
	got, _ := os.ReadFile(filepath.Join(work, "out.txt"))
	if err != nil {
		t.Fatalf("the README walkthrough failed after %s: %v\n%s", took.Round(time.Millisecond), err, got)
	}
	t.Logf("the README walkthrough ran in %s", took.Round(time.Millisecond))
	if os.Getenv("VWIRE_README_SHOW") != "" {
		t.Logf("output:\n%s", got)
	}
	// What the README's comments promise, in the order it promises them.
	text := string(got)
	pos := 0
	for _, want := range []string{
		"engine CA vwire-data/pki/ca.pem (SHA-256 ",
		"Trusted; the CA is kept in " + home + "/.config/vwire/",
		"Logged in to https://127.0.0.1:" + strconv.Itoa(port),
		"Default", "local", "up",
		"Network red added to data center Default",
		"Network red attached to cluster Default",
		"Network blue attached to cluster Default",
		"VM vm1 created from template Blank",
		"1 GiB, 1:2:1",
		"VM vm1 is up",
		"linked false",
		"profile red",
		"nic1 ",
		"unplugged",
		"plugged true",
		"Link State is DOWN",
		"<name>vm1</name>",
		"<status>up</status>",
		"bob has UserVmManager on VM vm1",
		"bob has VnicProfileUser on vNIC profile red",
		"UserVmManager    VM vm1",
		"Logged in to",
		"vm1",
		"<empty network>",
		"profile red",
		`no vNIC profile named "blue"`,
		"User is not authorized to perform this action",
		"(User: bob@internal-authz)",
		"bob no longer has VnicProfileUser",
		"VM vm1 is down",
		"Template base created from VM vm1",
		"VM vm2 created from template base",
		"VM vm2 removed",
		"Template base removed",
		"VM vm1 removed",
		"Network blue removed",
	} {
		i := strings.Index(text[pos:], want)
		if i < 0 {
			t.Fatalf("the walkthrough's output lacks %q after byte %d:\n%s", want, pos, text)
		}
		pos += i + len(want)
	}
	// Bob saw vm1 only, and the engine was stopped by the walkthrough.
	if strings.Contains(text, "vm2") && strings.Index(text, "vm2") < strings.Index(text, "bob no longer") {
		t.Errorf("vm2 appears before it was made:\n%s", text)
	}
}
