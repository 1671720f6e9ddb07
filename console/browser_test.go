package console_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/input"
	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/proto"

	"vwire.dev/vwire/app"
)

// The browser test drives Debian's Chromium, headless, through the Chrome
// DevTools protocol (go-rod) against an engine started as vwire-engine
// starts (its CA, HTTPS, the embedded simulated host), at
// http://127.0.0.1:<port>/ as an administrator would open it.

// artifactsDir is where screenshots go: $VWIRE_ARTIFACTS/console, by
// default artifacts/console at the repository's root (CI keeps the folder).
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("VWIRE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "artifacts")
	}
	dir = filepath.Join(dir, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chromium finds the browser: under CI=true it must be there.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true and no Chromium: .ci/run installs Debian's chromium")
	}
	t.Skip("no Chromium on this machine (apt-get install chromium)")
	return ""
}

// browser starts a headless Chromium of its own (a new profile, no
// network but loopback) and returns a page of it, width×height.
func browser(t *testing.T, width, height int) *rod.Page {
	exe := chromium(t)
	l := launcher.New().Bin(exe).Headless(true).NoSandbox(true).Leakless(false).UserDataDir(t.TempDir()).
		Set("disable-gpu").Set("disable-background-networking").Set("disable-component-update").
		Set("disable-sync").Set("disable-quic").Set("disable-dev-shm-usage").Set("no-first-run").
		Set("font-render-hinting", "none")
	u, err := l.Launch()
	if err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	t.Cleanup(l.Kill)
	b := rod.New().ControlURL(u)
	if err := b.Connect(); err != nil {
		t.Fatalf("connect to Chromium: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	p, err := b.Page(proto.TargetCreateTarget{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetViewport(&proto.EmulationSetDeviceMetricsOverride{Width: width, Height: height, DeviceScaleFactor: 1}); err != nil {
		t.Fatal(err)
	}
	return p
}

// step runs fn (rod's Must calls) on p with a deadline, failing the test
// with what it was doing and the page's main content.
func step(t *testing.T, p *rod.Page, what string, fn func(p *rod.Page)) {
	t.Helper()
	sp := p.Timeout(20 * time.Second)
	if err := rod.Try(func() { fn(sp) }); err != nil {
		html := ""
		rod.Try(func() { html = p.Timeout(3 * time.Second).MustElement("main").MustHTML() })
		t.Fatalf("%s: %v\n<main> was: %.3000s", what, err, html)
	}
}

// startEngine starts an engine as vwire-engine does (PKI, HTTPS, plain
// HTTP for loopback, the embedded host).
func startEngine(t *testing.T) *app.EngineMain {
	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: t.TempDir(), AdminPassword: "secret", EmbeddedHost: true,
		PKI: true, PollInterval: 500 * time.Millisecond, HostTimeout: 5 * time.Second, Out: &bytes.Buffer{}}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// consoleURL is the console as a user on the engine's machine opens it.
func consoleURL(m *app.EngineMain) string { return "http://" + m.Addr() }

// login signs in through the login page.
func login(t *testing.T, p *rod.Page, base, user, password string) {
	t.Helper()
	step(t, p, "log in", func(p *rod.Page) {
		p.MustNavigate(base + "/vms")
		p.MustElement("#username").MustInput(user)
		p.MustElement("#password").MustInput(password).MustType(input.Enter)
		p.MustElement("#vm-list")
	})
}

// shot saves a full-page screenshot and checks it is not blank.
func shot(t *testing.T, p *rod.Page, name string) {
	t.Helper()
	var buf []byte
	step(t, p, "screenshot "+name, func(p *rod.Page) {
		p.MustWaitStable()
		buf = p.MustScreenshotFullPage()
	})
	path := filepath.Join(artifactsDir(t), name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := notBlank(buf); err != nil {
		t.Errorf("screenshot %s: %v", path, err)
	}
}

// notBlank decodes a PNG and wants enough pixels unlike the background and
// enough colours: a page that rendered text, tables and badges.
func notBlank(b []byte) error {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return err
	}
	r := img.Bounds()
	bg := img.At(r.Min.X, r.Min.Y)
	colours := map[[3]uint32]bool{}
	differ, total := 0, 0
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		for x := r.Min.X; x < r.Max.X; x += 2 {
			c := img.At(x, y)
			cr, cg, cb, _ := c.RGBA()
			colours[[3]uint32{cr >> 12, cg >> 12, cb >> 12}] = true
			if c != bg {
				differ++
			}
			total++
		}
	}
	if len(colours) < 24 || differ*100 < total*3 {
		return fmt.Errorf("looks blank: %d colours, %d of %d sampled pixels unlike the background", len(colours), differ, total)
	}
	return nil
}

// axe runs axe-core (npm's, pinned in console/web) in the page: no
// violation of WCAG 2.1 A/AA (labels, contrast, names of controls…).
func axe(t *testing.T, p *rod.Page, view string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("web", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("axe-core: %v (.ci/run runs npm ci in console/web)", err)
		}
		t.Logf("axe-core not installed (npm ci in console/web): %s not checked", view)
		return
	}
	var out string
	step(t, p, "axe "+view, func(p *rod.Page) {
		// As the DevTools console runs it: the page's CSP is for the page.
		if _, err := (proto.RuntimeEvaluate{Expression: string(src)}).Call(p); err != nil {
			panic(err)
		}
		out = p.MustEval(`() => axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
			.then(r => JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
				nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ") + ": " + n.failureSummary)}))))`).Str()
	})
	if out != "[]" {
		t.Errorf("axe-core, %s: %s", view, out)
	}
}

// colourScheme sets prefers-color-scheme, as a browser set to dark or light.
func colourScheme(t *testing.T, p *rod.Page, scheme string) {
	t.Helper()
	err := proto.EmulationSetEmulatedMedia{Features: []*proto.EmulationMediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}.Call(p)
	if err != nil {
		t.Fatal(err)
	}
}

// cookie reads the console's session cookie as the browser keeps it.
func cookie(t *testing.T, p *rod.Page) *proto.NetworkCookie {
	t.Helper()
	cs, err := p.Cookies(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Name == "__Host-vwire-console" {
			return c
		}
	}
	t.Fatalf("no console cookie among %d", len(cs))
	return nil
}

// textOf reads an element's text, once it exists. It asks the page, not
// an element handle, so that a live refresh replacing the element between
// two calls does not matter.
func textOf(t *testing.T, p *rod.Page, sel string) string {
	t.Helper()
	var s string
	step(t, p, "text of "+sel, func(p *rod.Page) {
		p.MustWait(`() => document.querySelector(` + strconv.Quote(sel) + `) !== null`)
		s = p.MustEval(`(s) => document.querySelector(s).textContent`, sel).Str()
	})
	return strings.TrimSpace(s)
}

// waitFor polls a JavaScript condition (a function's body returning a
// boolean), returning how long it took.
func waitFor(t *testing.T, p *rod.Page, what, js string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	if err := p.Timeout(within).Wait(rod.Eval(`() => { try { return !!(` + js + `) } catch (e) { return false } }`)); err != nil {
		html := ""
		rod.Try(func() { html = p.Timeout(3 * time.Second).MustElement("main").MustHTML() })
		t.Fatalf("%s: not within %v: %v\n<main> was: %.3000s", what, within, err, html)
	}
	return time.Since(start)
}
