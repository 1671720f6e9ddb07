package libvirt

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"vwire.dev/vwire/hypervisor"
)

// The facts of a Debian host: libvirt-qemu (uid 64055) in its own group
// (64055) and, where libvirt-daemon-system is installed, in kvm (108).
const (
	qemuUID  = 64055
	qemuGID  = 64055
	kvmGroup = 108
)

var (
	debianQEMU      = qemuIdentity{User: "libvirt-qemu", UID: qemuUID, Groups: []uint32{qemuGID, kvmGroup}}
	qemuNotInKVM    = qemuIdentity{User: "libvirt-qemu", UID: qemuUID, Groups: []uint32{qemuGID}}
	devDebian       = kvmDev{Present: true, Mode: 0o660, UID: 0, GID: kvmGroup}
	devRootOnly     = kvmDev{Present: true, Mode: 0o600, UID: 0, GID: 0}
	devWorldRW      = kvmDev{Present: true, Mode: 0o666, UID: 0, GID: 0}
	devGroupRead    = kvmDev{Present: true, Mode: 0o640, UID: 0, GID: kvmGroup}
	devOwnedByQEMU  = kvmDev{Present: true, Mode: 0o600, UID: qemuUID, GID: 0}
	libvirtOffers   = libvirtKVM{Known: true, Supported: true}
	libvirtRefuses  = libvirtKVM{Known: true, Reason: "invalid argument: KVM is not supported by '/usr/bin/qemu-system-x86_64' on this host"}
	libvirtUnknown  = libvirtKVM{Reason: "libvirt connection failed"}
	unknownQEMUUser = qemuIdentity{User: "libvirt-qemu", Err: errors.New("user: unknown user libvirt-qemu")}
)

func TestCanOpen(t *testing.T) {
	for _, tc := range []struct {
		name string
		dev  kvmDev
		qemu qemuIdentity
		want bool
	}{
		{"missing", kvmDev{}, debianQEMU, false},
		{"root only, as on the reference host", devRootOnly, debianQEMU, false},
		{"group kvm 0660, user in kvm", devDebian, debianQEMU, true},
		{"group kvm 0660, user not in kvm", devDebian, qemuNotInKVM, false},
		{"group kvm read only", devGroupRead, debianQEMU, false},
		{"world read-write", devWorldRW, qemuNotInKVM, true},
		{"owned by QEMU's user", devOwnedByQEMU, qemuNotInKVM, true},
		// The owner's bits decide for the owner, even when others have more.
		{"owner without bits", kvmDev{Present: true, Mode: 0o066, UID: qemuUID, GID: kvmGroup}, debianQEMU, false},
		{"unknown user", devWorldRW, unknownQEMUUser, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := canOpen(tc.dev, tc.qemu); got != tc.want {
				t.Errorf("canOpen(%+v, %+v) = %v, want %v", tc.dev, tc.qemu, got, tc.want)
			}
		})
	}
}

func TestChooseDomainType(t *testing.T) {
	for _, tc := range []struct {
		name        string
		choice      string
		facts       kvmFacts
		want        string
		whyHas      string // a part of the reason
		wantWarning bool
	}{
		{"auto, device missing", DomainTypeAuto, kvmFacts{QEMU: debianQEMU}, "qemu", "/dev/kvm missing", false},
		{"auto, device not accessible to QEMU's user", DomainTypeAuto,
			kvmFacts{Dev: devRootOnly, QEMU: debianQEMU, Libvirt: libvirtOffers}, "qemu", "QEMU's user cannot open /dev/kvm", true},
		{"auto, user not in the device's group", DomainTypeAuto,
			kvmFacts{Dev: devDebian, QEMU: qemuNotInKVM, Libvirt: libvirtOffers}, "qemu", "groups [64055]", true},
		{"auto, accessible and offered", DomainTypeAuto,
			kvmFacts{Dev: devDebian, QEMU: debianQEMU, Libvirt: libvirtOffers}, "kvm", "libvirt offers kvm", false},
		{"auto, accessible but libvirt's domain capabilities lack kvm", DomainTypeAuto,
			kvmFacts{Dev: devDebian, QEMU: debianQEMU, Libvirt: libvirtRefuses}, "qemu", "KVM is not supported", false},
		{"auto, accessible, libvirt could not be asked", DomainTypeAuto,
			kvmFacts{Dev: devDebian, QEMU: debianQEMU, Libvirt: libvirtUnknown}, "kvm", "could not be asked", false},
		{"auto, QEMU's user unknown", DomainTypeAuto,
			kvmFacts{Dev: devWorldRW, QEMU: unknownQEMUUser, Libvirt: libvirtOffers}, "qemu", "unknown", true},
		{"forced kvm, accessible", DomainTypeKVM,
			kvmFacts{Dev: devDebian, QEMU: debianQEMU, Libvirt: libvirtOffers}, "kvm", "forced", false},
		{"forced kvm, not accessible", DomainTypeKVM,
			kvmFacts{Dev: devRootOnly, QEMU: debianQEMU, Libvirt: libvirtOffers}, "kvm", "VM starts will fail", true},
		{"forced kvm, device missing", DomainTypeKVM, kvmFacts{QEMU: debianQEMU}, "kvm", "/dev/kvm missing", false},
		{"forced qemu, accessible", DomainTypeQEMU,
			kvmFacts{Dev: devDebian, QEMU: debianQEMU, Libvirt: libvirtOffers}, "qemu", "forced by --domain-type qemu", false},
		// Forcing TCG does not make libvirtd's re-probing go away: warn.
		{"forced qemu, not accessible", DomainTypeQEMU,
			kvmFacts{Dev: devRootOnly, QEMU: debianQEMU, Libvirt: libvirtOffers}, "qemu", "forced", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := chooseDomainType(tc.choice, tc.facts)
			if got.Type != tc.want {
				t.Errorf("type = %q, want %q (reason %q)", got.Type, tc.want, got.Reason)
			}
			if !strings.Contains(got.Reason, tc.whyHas) {
				t.Errorf("reason %q does not say %q", got.Reason, tc.whyHas)
			}
			if (got.Warning != "") != tc.wantWarning {
				t.Errorf("warning = %q, want one: %v", got.Warning, tc.wantWarning)
			}
		})
	}
}

func TestParseDomainType(t *testing.T) {
	for in, want := range map[string]string{"": "auto", "auto": "auto", "kvm": "kvm", "qemu": "qemu"} {
		if got, err := ParseDomainType(in); err != nil || got != want {
			t.Errorf("ParseDomainType(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"KVM", "tcg", "xen"} {
		if _, err := ParseDomainType(in); err == nil {
			t.Errorf("ParseDomainType(%q) accepted", in)
		}
	}
}

func TestParseQEMUConf(t *testing.T) {
	for _, tc := range []struct{ name, conf, user, group string }{
		{"Debian's commented defaults", "#user = \"libvirt-qemu\"\n#group = \"libvirt-qemu\"\n", "", ""},
		{"names", "user = \"qemu\"\ngroup = \"kvm\"\n", "qemu", "kvm"},
		{"numeric, spaces, trailing comment", "  user=\"+0\"  # root\ngroup = \"+108\"\n", "+0", "+108"},
		{"other keys ignored", "dynamic_ownership = 1\nuser = \"qemu\"\n", "qemu", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, g := parseQEMUConf(strings.NewReader(tc.conf))
			if u != tc.user || g != tc.group {
				t.Errorf("got user %q group %q, want %q %q", u, g, tc.user, tc.group)
			}
		})
	}
}

// TestKVMPreflight: a kvm start on a host whose QEMU cannot open the device
// fails at once with code 9 and the facts; a missing device is left to
// libvirt, which says so itself at once.
func TestKVMPreflight(t *testing.T) {
	for _, tc := range []struct {
		name     string
		domType  string
		facts    kvmFacts
		wantFail bool
	}{
		{"kvm, not accessible", DomainTypeKVM, kvmFacts{Dev: devRootOnly, QEMU: debianQEMU}, true},
		{"kvm, accessible", DomainTypeKVM, kvmFacts{Dev: devDebian, QEMU: debianQEMU}, false},
		{"kvm, missing: libvirt's own answer", DomainTypeKVM, kvmFacts{QEMU: debianQEMU}, false},
		{"qemu, not accessible", DomainTypeQEMU, kvmFacts{Dev: devRootOnly, QEMU: debianQEMU}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &Hypervisor{domType: tc.domType, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
				facts: func() kvmFacts { return tc.facts }}
			err := h.kvmPreflight()
			if !tc.wantFail {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var he *hypervisor.Error
			if !errors.As(err, &he) || he.Code != hypervisor.ErrOperationFailed {
				t.Fatalf("err = %v, want a hypervisor.Error with code %d", err, hypervisor.ErrOperationFailed)
			}
			if !strings.Contains(he.Message, "/dev/kvm") || !strings.Contains(he.Message, "libvirt-qemu") {
				t.Errorf("message %q does not name the device and the user", he.Message)
			}
		})
	}
}
