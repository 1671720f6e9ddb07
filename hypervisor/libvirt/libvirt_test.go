package libvirt_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"vwire.dev/vwire/hypervisor"
	"vwire.dev/vwire/hypervisor/hypervisortest"
	"vwire.dev/vwire/hypervisor/libvirt"
	"vwire.dev/vwire/internal/testenv"
)

type harness struct{ hv *libvirt.Hypervisor }

func (h harness) Hypervisor() hypervisor.Hypervisor { return h.hv }

func (h harness) AddBridge(t *testing.T, name string) { testenv.Bridge(t, name) }

func (h harness) RemoveBridge(t *testing.T, name string) {
	exec.Command("ip", "link", "del", name).Run()
}

// Eject writes the slot's bit to PIIX4's ACPI PCI eject register, as a guest
// kernel's _EJ0 would, until the device is gone. With no guest OS in these
// domains nothing else would ever release it.
func (h harness) Eject(t *testing.T, domainID, pci string) {
	var dom, bus, slot, fn int
	if _, err := fmt.Sscanf(pci, "%x:%x:%x.%x", &dom, &bus, &slot, &fn); err != nil {
		t.Errorf("bad PCI address %q", pci)
		return
	}
	testenv.EjectPCISlot(t, domainID, slot, func() bool {
		st, err := h.hv.Domain(context.Background(), domainID)
		if err != nil {
			return true
		}
		for _, n := range st.NICs {
			if n.PCIAddress == pci {
				return false
			}
		}
		return true
	})
}

func newHypervisor(t *testing.T) *libvirt.Hypervisor {
	testenv.NeedLibvirt(t)
	hv, err := libvirt.New(libvirt.Options{URI: "qemu:///system", CallTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hv.Close() })
	return hv
}

func TestConformance(t *testing.T) {
	hypervisortest.Run(t, harness{newHypervisor(t)})
}

// TestUnplugWithoutGuestTimesOut: with nobody to answer, DetachNIC gives up
// at the deadline and the device is still there.
func TestUnplugWithoutGuestTimesOut(t *testing.T) {
	hv := newHypervisor(t)
	br := testenv.Bridge(t, "")
	id, nic := testenv.Domain(t, hv, br)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := hv.DetachNIC(ctx, id, nic.Alias)
	if he, ok := err.(*hypervisor.Error); !ok || he.Code != hypervisor.ErrOperationTimeout {
		t.Fatalf("DetachNIC without a guest: %v", err)
	}
	st, err := hv.Domain(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.NICByAlias(nic.Alias); !ok {
		t.Fatal("device gone although no guest released it")
	}
}

// TestReconnects: the connection to libvirtd drops and the socket is gone
// for a moment, as when libvirtd restarts; the next calls work again.
func TestReconnects(t *testing.T) {
	testenv.NeedLibvirt(t)
	proxy := testenv.NewSocketProxy(t, testenv.LibvirtSocket)
	hv, err := libvirt.New(libvirt.Options{URI: "qemu:///system?socket=" + proxy.Path, CallTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer hv.Close()
	if _, err := hv.Capabilities(context.Background()); err != nil {
		t.Fatal(err)
	}
	proxy.Cut(500 * time.Millisecond)
	var lastErr error
	for i := 0; i < 50; i++ {
		if _, lastErr = hv.Domains(context.Background()); lastErr == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no reconnection after the connection dropped: %v", lastErr)
}

// TestCPUTopologyReachesDomain: the VM's sockets, cores and threads are the
// running domain's vCPUs and topology, as libvirt reports them.
func TestCPUTopologyReachesDomain(t *testing.T) {
	hv := newHypervisor(t)
	id := uuid.NewString()
	if _, err := hv.CreateDomain(context.Background(), hypervisor.Domain{ID: id, Name: "vwt-" + id[:8], MemoryMiB: 64,
		Sockets: 2, Cores: 2, Threads: 1}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hv.DestroyDomain(context.Background(), id) })
	out, err := exec.Command("virsh", "-c", "qemu:///system", "vcpucount", id, "--live", "--active").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "4" {
		t.Errorf("virsh vcpucount: %q %v, want 4", out, err)
	}
	xml, err := exec.Command("virsh", "-c", "qemu:///system", "dumpxml", id).CombinedOutput()
	if err != nil || !strings.Contains(string(xml), `sockets='2'`) || !strings.Contains(string(xml), `cores='2'`) ||
		!strings.Contains(string(xml), `threads='1'`) {
		t.Errorf("domain XML lacks the topology: %v\n%s", err, xml)
	}
}
