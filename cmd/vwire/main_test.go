package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire/app"
	"vwire.dev/vwire/client"
)

func TestCLI(t *testing.T) {
	t.Setenv("VWIRE_CONFIG", t.TempDir()+"/config.json")
	m := &app.EngineMain{Listen: "127.0.0.1:0", DataDir: t.TempDir(), EmbeddedHost: true, AdminPassword: "pw",
		PollInterval: time.Hour, Out: io.Discard}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	vw := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(append([]string{"--url", m.URL(), "--password", "pw"}, args...), &out)
		return out.String(), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := vw(args...)
		if err != nil {
			t.Fatalf("vwire %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	// A VM to work on, made through the API the CLI uses.
	c, err := client.New(client.Options{URL: m.URL(), User: "admin@internal", Password: "pw", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddVM(context.Background(), ovirtsdk4.NewVmBuilder().Name("vm1").
		Cluster(ovirtsdk4.NewClusterBuilder().Name("Default").MustBuild()).
		Template(ovirtsdk4.NewTemplateBuilder().Name("Blank").MustBuild()).MustBuild()); err != nil {
		t.Fatal(err)
	}
	must("nic", "add", "vm1", "nic1", "--profile", "ovirtmgmt", "--mac", "02:00:00:00:00:11")
	must("nic", "add", "vm1", "nic2", "--unlinked", "--unplugged")
	must("vm", "start", "vm1")
	must("link", "down", "vm1", "nic1")
	must("network", "vm1", "nic1", "--none")
	out := must("nics", "vm1")
	for _, want := range []string{"nic1", "02:00:00:00:00:11", "<empty network>", ";vdsmdummy;", "nic2"} {
		if !strings.Contains(out, want) {
			t.Errorf("nics table lacks %q:\n%s", want, out)
		}
	}
	// --output json keeps the engine's JSON names and spelling.
	var nics []struct {
		Name          string `json:"name"`
		Linked        string `json:"linked"`
		ReportedState struct {
			Bridge string `json:"bridge"`
		} `json:"reported_state"`
	}
	if err := json.Unmarshal([]byte(must("--output", "json", "nics", "vm1")), &nics); err != nil || len(nics) != 2 ||
		nics[0].Name != "nic1" || nics[0].Linked != "false" || nics[0].ReportedState.Bridge != ";vdsmdummy;" {
		t.Fatalf("json output: %v %+v", err, nics)
	}
	// A refusal exits non-zero with the engine's message.
	_, err = vw("nic", "update", "vm1", "nic1", "--mac", "02:00:00:00:00:12")
	if err == nil || !strings.Contains(err.Error(), "Please un-plug the interface") || !strings.Contains(err.Error(), "409") {
		t.Fatalf("refused update: %v", err)
	}
	must("nic", "unplug", "vm1", "nic1")
	must("nic", "update", "vm1", "nic1", "--mac", "02:00:00:00:00:12")
	must("nic", "plug", "vm1", "nic1")
	ev := must("events", "--max", "5")
	if !strings.Contains(ev, "1012") || !strings.Contains(ev, "was plugged to VM vm1") {
		t.Errorf("events:\n%s", ev)
	}
	must("vm", "stop", "vm1")
	must("nic", "remove", "vm1", "nic2")
	if _, err := vw("nic", "remove", "vm1", "nope"); err == nil {
		t.Error("removing a missing vNIC succeeded")
	}
	if _, err := vw("frobnicate"); err == nil {
		t.Error("unknown command succeeded")
	}
}
