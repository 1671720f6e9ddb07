package app_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vwire.dev/vwire/app"
)

// testFlags is a flag set of every kind a binary uses, including a
// repeatable one, built as the binaries build theirs.
type testFlags struct {
	fs     *flag.FlagSet
	listen string
	poll   time.Duration
	embed  bool
	conns  int
	names  []string
	config func() error
}

func newTestFlags() *testFlags {
	f := &testFlags{fs: flag.NewFlagSet("vwire-test", flag.ContinueOnError)}
	f.fs.StringVar(&f.listen, "listen", "127.0.0.1:8080", "")
	f.fs.DurationVar(&f.poll, "poll-interval", 3*time.Second, "")
	f.fs.BoolVar(&f.embed, "embedded-host", true, "")
	f.fs.IntVar(&f.conns, "max-conns", 1024, "")
	f.fs.Func("public-name", "", func(v string) error { f.names = append(f.names, v); return nil })
	f.config = app.ConfigFlag(f.fs)
	return f
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigSetsFlags: every flag is set from the file by its name, a list
// sets a repeatable flag once per entry, and a flag on the command line
// wins over the file.
func TestConfigSetsFlags(t *testing.T) {
	p := writeConfig(t, "listen: 0.0.0.0:8443\npoll-interval: 5s\nembedded-host: false\nmax-conns: 2048\npublic-name: [a.example.org, 192.0.2.1]\n")
	f := newTestFlags()
	if err := f.fs.Parse([]string{"--config", p, "--listen", "127.0.0.1:9000"}); err != nil {
		t.Fatal(err)
	}
	if err := f.config(); err != nil {
		t.Fatal(err)
	}
	if f.listen != "127.0.0.1:9000" || f.poll != 5*time.Second || f.embed || f.conns != 2048 ||
		strings.Join(f.names, ",") != "a.example.org,192.0.2.1" {
		t.Fatalf("got listen %s poll %s embedded %v conns %d names %v", f.listen, f.poll, f.embed, f.conns, f.names)
	}
	// Without --config nothing is read; an empty file sets nothing.
	for _, args := range [][]string{nil, {"--config", writeConfig(t, "")}} {
		f := newTestFlags()
		if err := f.fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := f.config(); err != nil || f.listen != "127.0.0.1:8080" {
			t.Fatalf("%v: %v, listen %s", args, err, f.listen)
		}
	}
}

// TestConfigRefuses: an unknown key, a bad value, a nested value, --config
// itself in the file, a file that is no mapping or is missing: each an
// error naming what is wrong.
func TestConfigRefuses(t *testing.T) {
	for body, want := range map[string]string{
		"listen: x\nlistne: y\n":            `unknown key "listne"`,
		"poll-interval: often\n":            "poll-interval",
		"max-conns: 1.5\n":                  "max-conns",
		"listen:\n  host: x\n":              "listen",
		"config: other.yaml\n":              `unknown key "config"`,
		"- listen\n":                        "not a mapping",
		"embedded-host: [true, 3s]\n":       "embedded-host",
		"listen: [a, {b: c}]\n":             "listen",
		"poll-interval: 30\n":               "poll-interval",
		"listen: \"\"\nlisten2: x\n":        `unknown key "listen2"`,
		"public-name: a\n\tbad: tab\n":      "config",
		"max-conns: 99999999999999999999\n": "max-conns",
	} {
		f := newTestFlags()
		if err := f.fs.Parse([]string{"--config", writeConfig(t, body)}); err != nil {
			t.Fatal(err)
		}
		err := f.config()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error naming %s", body, err, want)
		}
	}
	f := newTestFlags()
	f.fs.Parse([]string{"--config", filepath.Join(t.TempDir(), "missing.yaml")})
	if err := f.config(); err == nil {
		t.Error("a missing file is no error")
	}
}
