package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// TestCLIInfrastructure drives the whole system from the CLI alone: data
// centers, clusters, networks and their attachment, profiles, VMs from
// templates with memory and CPU, templates, waits, removal; the three
// output formats; and the exit code of each kind of failure.
func TestCLIInfrastructure(t *testing.T) {
	c := startCLI(t)
	must, has, exits := c.must, c.has, c.exits

	// A data center of its own, a cluster in it, a network attached there.
	must("datacenter", "add", "dc2", "--description", "the second")
	has(must("datacenters"), "Default", "dc2", "the second")
	must("cluster", "add", "c2", "--datacenter", "dc2")
	has(must("clusters"), "c2", "dc2")
	has(must("network", "add", "green", "--datacenter", "dc2", "--vlan", "12", "--attach", "c2"), "attached to cluster c2")
	has(must("networks", "--datacenter", "dc2"), "green", "12")
	if out := must("networks", "--datacenter", "Default"); strings.Contains(out, "green") {
		t.Errorf("networks of Default include green:\n%s", out)
	}
	has(must("networks", "--cluster", "c2"), "green")
	has(must("profiles", "--network", "green"), "green")
	has(must("profile", "add", "green-bounce", "--network", "green", "--guest-notification", "link_bounce"), "added to network green")
	var prof struct {
		Name    string `json:"name"`
		Network struct {
			ID string `json:"id"`
		} `json:"network"`
	}
	if err := yaml.Unmarshal([]byte(must("-o", "yaml", "profile", "show", "green-bounce")), &prof); err != nil || prof.Name != "green-bounce" || prof.Network.ID == "" {
		t.Errorf("profile show as yaml: %v %+v", err, prof)
	}
	has(must("profile", "show", "green-bounce"), "link_bounce (link down for 1s)")
	must("profile", "remove", "green-bounce")
	exits(exitNotFound, `no vNIC profile named "green-bounce"`, "profile", "show", "green-bounce")
	has(must("cluster", "update", "c2", "--drift-policy", "enforce"), "drift policy enforce")
	has(must("cluster", "show", "c2"), "enforce", "green", "dc2")
	exits(exitFailed, "drift_policy", "cluster", "update", "c2", "--drift-policy", "sometimes")
	exits(exitUsage, "usage", "cluster", "update", "c2")
	// Detached, the network can go; then the cluster and the data center.
	must("cluster", "detach", "c2", "green")
	if out := must("networks", "--cluster", "c2"); strings.Contains(out, "green") {
		t.Errorf("green still attached to c2:\n%s", out)
	}
	must("network", "attach", "green", "c2")
	must("network", "detach", "green", "c2")
	must("network", "remove", "green")
	must("cluster", "remove", "c2")
	must("datacenter", "remove", "dc2")
	exits(exitNotFound, `no data center named "dc2"`, "datacenter", "remove", "dc2")

	// A VM from Blank with its own memory and CPU, a template from it, a
	// VM from that.
	must("network", "add", "red", "--attach", "Default")
	has(must("vm", "create", "vm1", "--template", "Blank", "--cluster", "Default", "--memory", "2GiB", "--cpu", "2:2:1",
		"--comment", "made by the CLI"), "2 GiB, 2:2:1")
	var vm vmJSON
	if err := yaml.Unmarshal([]byte(must("-o", "yaml", "vm", "show", "vm1")), &vm); err != nil ||
		vm.Memory != "2147483648" || vm.CPU == nil || vm.CPU.Topology.Sockets != "2" || vm.CPU.Topology.Cores != "2" ||
		vm.Comment != "made by the CLI" || vm.Status != "down" {
		t.Errorf("vm show as yaml: %v %+v", err, vm)
	}
	// json and yaml carry the same structure.
	var fromJSON vmJSON
	if err := json.Unmarshal([]byte(must("-o", "json", "vm", "show", "vm1")), &fromJSON); err != nil || fromJSON.Memory != vm.Memory ||
		*fromJSON.CPU != *vm.CPU || fromJSON.ID != vm.ID {
		t.Errorf("vm show as json: %v %+v", err, fromJSON)
	}
	must("nic", "add", "vm1", "nic1", "--profile", "red")
	has(must("vm", "start", "vm1", "--timeout", "30s"), "VM vm1 is up")
	has(must("vm", "show", vm.ID), "up", "local")
	has(must("nic", "unplug", "vm1", "nic1"), "unplugged", "plugged false")
	if out := must("-o", "json", "nics", "vm1"); !strings.Contains(out, `"present": false`) {
		t.Errorf("after unplug the host still reports the vNIC:\n%s", out)
	}
	has(must("nic", "plug", "vm1", "nic1", "--no-wait"), "plugged true")
	exits(exitFailed, "VM is running", "vm", "remove", "vm1")
	exits(exitFailed, "un-plug the interface", "nic", "update", "vm1", "nic1", "--mac", "02:00:00:00:00:12")
	has(must("vm", "stop", "vm1"), "VM vm1 is down")
	has(must("template", "create", "t1", "--vm", "vm1", "--comment", "from vm1"), "created from VM vm1")
	has(must("templates"), "Blank", "t1", "2 GiB, 2:2:1", "from vm1")
	has(must("template", "show", "t1"), "nic1")
	must("vm", "create", "vm2", "--template", "t1")
	has(must("nics", "vm2"), "nic1", "red")
	exits(exitFailed, "", "template", "remove", "t1") // vm2 is based on it
	must("vm", "remove", "vm2")
	must("template", "remove", "t1")
	must("vm", "remove", "vm1")
	if out := must("vms"); strings.Contains(out, "vm1") {
		t.Errorf("vm1 still listed:\n%s", out)
	}
	has(must("host", "status", "local"), "up")
	var hosts []hostJSON
	if err := yaml.Unmarshal([]byte(must("--output", "yaml", "hosts")), &hosts); err != nil || len(hosts) != 1 || hosts[0].Status != "up" {
		t.Errorf("hosts as yaml: %v %+v", err, hosts)
	}

	// Exit codes.
	exits(exitUsage, "unknown command", "frobnicate")
	exits(exitUsage, "usage", "vm", "create")
	exits(exitUsage, "usage", "vm", "start", "a", "b")
	exits(exitUsage, "unknown flag", "vms", "--bogus")
	exits(exitUsage, "--output", "-o", "xml", "vms")
	exits(exitUsage, "--memory", "vm", "create", "x", "--memory", "lots")
	exits(exitUsage, "--cpu", "vm", "create", "x", "--cpu", "0:1")
	exits(exitNotFound, `no VM named "nope"`, "nics", "nope")
	exits(exitNotFound, `no template named "nope"`, "vm", "create", "x", "--template", "nope")
	exits(exitAuth, "incorrect", "--password", "wrong", "vms")
	exits(exitOK, "", "help")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/ovirt-engine/api"
	ln.Close()
	exits(exitUnreachable, "cannot reach", "--url", dead, "vms")
	if exitCode(errors.New("x")) != exitFailed {
		t.Error("a plain error is not exit 1")
	}

	// Completion: scripts for the shells, and names from the engine.
	has(must("completion", "bash"), "__start_vwire")
	has(must("completion", "zsh"), "compdef")
	has(must("completion", "fish"), "complete -c vwire")
	must("vm", "create", "vm3", "--host", "local")
	has(must("__complete", "vm", "start", ""), "vm3")
	must("nic", "add", "vm3", "eth7")
	has(must("__complete", "link", "down", "vm3", ""), "eth7")
	has(must("__complete", "network", "vm3", "eth7", ""), "ovirtmgmt")
	has(must("__complete", "network", "add", "x", "--datacenter", ""), "Default")
}

// TestWaitTimeout: a wait that does not see its state in time exits 6,
// with the last state seen; the progress line goes where progress says.
func TestWaitTimeout(t *testing.T) {
	var line bytes.Buffer
	old, oldInterval := progress, pollInterval
	progress, pollInterval = func() io.Writer { return &line }, 10*time.Millisecond
	defer func() { progress, pollInterval = old, oldInterval }()
	k := &cli{}
	n := 0
	err := k.wait(&waitFlags{wait: true, timeout: 50 * time.Millisecond}, "VM vm1 to be up", func() (string, bool, error) {
		n++
		return "powering_up", false, nil
	})
	if exitCode(err) != exitTimeout || !strings.Contains(err.Error(), "still powering_up") || n < 2 {
		t.Fatalf("wait: %v (exit %d) after %d checks", err, exitCode(err), n)
	}
	if !strings.Contains(line.String(), "\r\033[Kwaiting for VM vm1 to be up: powering_up") || !strings.HasSuffix(line.String(), "\r\033[K") {
		t.Errorf("progress line %q", line.String())
	}
	// Reached: no error; a failed check ends the wait with its error.
	if err := k.wait(&waitFlags{wait: true, timeout: time.Second}, "x", func() (string, bool, error) { return "up", true, nil }); err != nil {
		t.Error(err)
	}
	boom := errors.New("boom")
	if err := k.wait(&waitFlags{wait: true, timeout: time.Second}, "x", func() (string, bool, error) { return "", false, boom }); !errors.Is(err, boom) {
		t.Error(err)
	}
}
