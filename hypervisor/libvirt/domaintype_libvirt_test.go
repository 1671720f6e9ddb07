package libvirt_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/app"
	"vwire.dev/vwire/hypervisor"
	"vwire.dev/vwire/hypervisor/libvirt"
	"vwire.dev/vwire/internal/testenv"
)

// kvmRootOnly makes /dev/kvm openable by root alone (mode 0600, as on the
// reference host) for the rest of the test, and puts its mode back at the
// end. On a host already like that it changes nothing.
func kvmRootOnly(t *testing.T) {
	t.Helper()
	st, err := os.Stat("/dev/kvm")
	if err != nil {
		t.Skip("skipping: this host has no /dev/kvm, so there is no inaccessible KVM to choose around")
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); !ok || sys.Uid != 0 {
		t.Skip("skipping: /dev/kvm is not owned by root here")
	}
	orig := st.Mode().Perm()
	if orig == 0o600 {
		return
	}
	// Other libvirt users see the device root-only while this runs: keep
	// the window short (libvirtd re-probes QEMU meanwhile).
	if err := os.Chmod("/dev/kvm", 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Chmod("/dev/kvm", orig); err != nil {
			t.Errorf("restoring /dev/kvm's mode %v: %v", orig, err)
		}
	})
}

// TestForcedKVMFailsAtOnceWhereQEMUCannotOpenIt: with --domain-type kvm on
// a host whose QEMU user cannot open /dev/kvm, VM.create fails at once with
// VDSM's code 9 and the reason, instead of after libvirtd's re-probing (35 s
// measured with virsh on the reference host) or the call's deadline.
func TestForcedKVMFailsAtOnceWhereQEMUCannotOpenIt(t *testing.T) {
	testenv.NeedLibvirt(t)
	kvmRootOnly(t)
	hv, err := libvirt.New(libvirt.Options{URI: "qemu:///system", CallTimeout: 30 * time.Second, DomainType: libvirt.DomainTypeKVM})
	if err != nil {
		t.Fatal(err)
	}
	defer hv.Close()
	if typ, why := hv.DomainType(); typ != "kvm" || !strings.Contains(why, "VM starts will fail") {
		t.Errorf("forced kvm: type %q, reason %q", typ, why)
	}

	// Directly on the backend.
	id := uuid.NewString()
	start := time.Now()
	_, err = hv.CreateDomain(context.Background(), hypervisor.Domain{ID: id, Name: "vwt-" + id[:8], MemoryMiB: 64})
	took := time.Since(start)
	defer hv.DestroyDomain(context.Background(), id)
	var he *hypervisor.Error
	if !errors.As(err, &he) || he.Code != hypervisor.ErrOperationFailed {
		t.Fatalf("CreateDomain: %v, want a hypervisor error with code %d", err, hypervisor.ErrOperationFailed)
	}
	if !strings.Contains(he.Message, "/dev/kvm") {
		t.Errorf("reason %q does not name /dev/kvm", he.Message)
	}
	if took > 2*time.Second {
		t.Errorf("the start took %v to fail, want at once", took)
	}
	t.Logf("CreateDomain failed after %v: %s", took, he.Message)

	// And as the engine sees it: VM.create answers VDSM's code 9 with the reason.
	ag := &app.AgentMain{Listen: "127.0.0.1:0", Hypervisor: hv}
	if err := ag.Start(); err != nil {
		t.Fatal(err)
	}
	defer ag.Close()
	c := agent.NewClient("http://"+ag.Addr()+"/", nil, 30*time.Second)
	defer c.Close()
	id2 := uuid.NewString()
	start = time.Now()
	_, err = c.CreateVM(context.Background(), agent.VMParams{VMID: id2, VMName: "vwt-" + id2[:8], MemSize: 64, Devices: []agent.Device{}})
	took = time.Since(start)
	defer hv.DestroyDomain(context.Background(), id2)
	var re *agent.RPCError
	if !errors.As(err, &re) || re.Code != agent.CodeCreateErr || re.Data == nil || !strings.Contains(re.Data.Reason, "/dev/kvm") {
		t.Fatalf("VM.create: %#v (%v), want code %d with the reason", re, err, agent.CodeCreateErr)
	}
	if took > 2*time.Second {
		t.Errorf("VM.create took %v to fail, want at once", took)
	}
	t.Logf("VM.create failed after %v: code %d, %s", took, re.Code, re.Data.Reason)
}

// TestAutoPicksQEMUWhereQEMUCannotOpenKVM: auto chooses TCG there and says
// why, in DomainType and in the host's capabilities.
func TestAutoPicksQEMUWhereQEMUCannotOpenKVM(t *testing.T) {
	testenv.NeedLibvirt(t)
	kvmRootOnly(t)
	hv, err := libvirt.New(libvirt.Options{URI: "qemu:///system", CallTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer hv.Close()
	typ, why := hv.DomainType()
	if typ != "qemu" || !strings.Contains(why, "cannot open /dev/kvm") {
		t.Fatalf("auto: type %q, reason %q", typ, why)
	}
	caps, err := hv.Capabilities(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if caps.DomainType != "qemu" || !strings.HasPrefix(caps.DomainTypeReason, why) || !strings.Contains(caps.DomainTypeReason, "re-probes") {
		t.Errorf("capabilities: domain type %q, reason %q", caps.DomainType, caps.DomainTypeReason)
	}
	t.Logf("auto chose %s: %s", typ, why)
}
