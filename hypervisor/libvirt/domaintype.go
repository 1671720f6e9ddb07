package libvirt

// The domain type (kvm or qemu/TCG) is chosen from facts, not guessed from
// /dev/kvm's existence. libvirt alone is not a truthful source: its QEMU
// capability probe runs QEMU as the configured user but keeps
// CAP_DAC_OVERRIDE, so it reports KVM as usable even when that user cannot
// open /dev/kvm, and the domain's QEMU (which has no such capability) then
// fails with "Could not access KVM kernel module: Permission denied".
//
// Worse, libvirtd (9.0 measured) then invalidates its capability cache on
// every lookup (the probe says KVM, its own access check as the QEMU user
// says no), so every call that needs QEMU's capabilities re-probes QEMU:
// on the reference host each probe costs ~4 s (two QEMU runs, each reaped
// slowly by PID 1) and a domain start does about eight lookups, ~35 s,
// whatever the domain type. That is the "every start hangs 30 s" of issue
// 11; no client can avoid it. The agent therefore says so loudly at start-up
// (the cure is on the host: give QEMU's user access to /dev/kvm as Debian's
// packages do), and a start of a kvm domain whose QEMU could not open the
// device fails at once instead of after libvirtd's re-probing.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	golibvirt "github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"vwire.dev/vwire/hypervisor"
)

// Domain type choices (vwire-agent --domain-type).
const (
	DomainTypeAuto = "auto"
	DomainTypeKVM  = "kvm"
	DomainTypeQEMU = "qemu"
)

const (
	kvmDevice = "/dev/kvm"
	qemuConf  = "/etc/libvirt/qemu.conf"
	// Debian's libvirt is built with this user and group for QEMU.
	defaultQEMUUser  = "libvirt-qemu"
	defaultQEMUGroup = "libvirt-qemu"
)

// ParseDomainType checks a --domain-type value; "" means auto.
func ParseDomainType(s string) (string, error) {
	switch s {
	case "", DomainTypeAuto:
		return DomainTypeAuto, nil
	case DomainTypeKVM, DomainTypeQEMU:
		return s, nil
	}
	return "", fmt.Errorf("domain type %q: want auto, kvm or qemu", s)
}

// kvmDev is what the file system says about /dev/kvm.
type kvmDev struct {
	Present  bool
	Mode     fs.FileMode
	UID, GID uint32
}

// qemuIdentity is the user and groups QEMU runs as.
type qemuIdentity struct {
	User   string
	UID    uint32
	Groups []uint32 // primary (qemu.conf's group) first, then supplementary
	Err    error    // the user or group could not be resolved
}

// libvirtKVM is libvirt's own answer (domain capabilities for virttype kvm).
type libvirtKVM struct {
	Known     bool   // false when libvirt could not be asked
	Supported bool   // libvirt lists kvm for x86_64
	Reason    string // libvirt's text when it refused
}

// kvmFacts are what the decision looks at, gathered from the host or given
// by a test.
type kvmFacts struct {
	Dev     kvmDev
	QEMU    qemuIdentity
	Libvirt libvirtKVM
}

// domainTypeChoice is the decision and why.
type domainTypeChoice struct {
	Type   string
	Reason string
	// Warning is set when the host will make every start slow or fail;
	// the agent logs it at error level.
	Warning string
}

// canOpen tells whether QEMU's identity may open the device read-write
// (QEMU opens /dev/kvm O_RDWR), by the classic owner/group/other rule the
// kernel applies to a process without capabilities.
func canOpen(d kvmDev, q qemuIdentity) bool {
	if !d.Present || q.Err != nil {
		return false
	}
	const rw = 0o6
	perm := uint32(d.Mode.Perm())
	switch {
	case q.UID == d.UID:
		return (perm>>6)&rw == rw
	case inGroups(d.GID, q.Groups):
		return (perm>>3)&rw == rw
	default:
		return perm&rw == rw
	}
}

func inGroups(gid uint32, groups []uint32) bool {
	for _, g := range groups {
		if g == gid {
			return true
		}
	}
	return false
}

// describe renders the facts for a log line or an error message.
func (f kvmFacts) describe() string {
	dev := kvmDevice + " missing"
	if f.Dev.Present {
		dev = fmt.Sprintf("%s has mode %04o, owner uid %d gid %d", kvmDevice, uint32(f.Dev.Mode.Perm()), f.Dev.UID, f.Dev.GID)
	}
	who := fmt.Sprintf("QEMU's user %s (uid %d, groups %v)", f.QEMU.User, f.QEMU.UID, f.QEMU.Groups)
	if f.QEMU.Err != nil {
		who = fmt.Sprintf("QEMU's user %s is unknown (%v)", f.QEMU.User, f.QEMU.Err)
	}
	return dev + "; " + who
}

// chooseDomainType decides the domain type for a --domain-type choice.
func chooseDomainType(choice string, f kvmFacts) domainTypeChoice {
	usable := canOpen(f.Dev, f.QEMU)
	var c domainTypeChoice
	// libvirt's probe keeps CAP_DAC_OVERRIDE: it claims KVM where QEMU's
	// user cannot open it, and then re-probes QEMU on every call.
	if f.Dev.Present && !usable && f.Libvirt.Known && f.Libvirt.Supported {
		c.Warning = "libvirt reports KVM but QEMU's user cannot open " + kvmDevice + " (" + f.describe() +
			"); libvirtd then re-probes QEMU on every call, so every VM start (kvm or qemu) takes tens of seconds" +
			" and kvm starts fail. Fix the host: give " + kvmDevice + " group kvm and mode 0660 and put QEMU's user in group kvm" +
			" (Debian's udev rule and libvirt-daemon-system do), or remove KVM"
	}
	switch choice {
	case DomainTypeQEMU:
		c.Type, c.Reason = DomainTypeQEMU, "forced by --domain-type qemu"
	case DomainTypeKVM:
		c.Type, c.Reason = DomainTypeKVM, "forced by --domain-type kvm"
		if !usable {
			c.Reason += "; VM starts will fail: " + f.describe()
		}
	default:
		c.Type = DomainTypeQEMU
		switch {
		case !f.Dev.Present:
			c.Reason = "auto: " + kvmDevice + " missing"
		case f.QEMU.Err != nil:
			c.Reason = "auto: " + f.describe()
		case !usable:
			c.Reason = "auto: QEMU's user cannot open " + kvmDevice + ": " + f.describe()
		case f.Libvirt.Known && !f.Libvirt.Supported:
			c.Reason = "auto: libvirt does not offer kvm: " + f.Libvirt.Reason
		default:
			c.Type = DomainTypeKVM
			c.Reason = "auto: QEMU's user can open " + kvmDevice + " (" + f.describe() + ")"
			if f.Libvirt.Known {
				c.Reason += " and libvirt offers kvm"
			} else {
				c.Reason += "; libvirt could not be asked: " + f.Libvirt.Reason
			}
		}
	}
	return c
}

// parseQEMUConf reads user and group from a qemu.conf ("" when unset).
// Values are names or "+N" numeric ids, quoted.
func parseQEMUConf(r io.Reader) (usr, group string) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if i := strings.Index(v, "#"); i >= 0 && !strings.HasPrefix(v, `"`) {
			v = strings.TrimSpace(v[:i])
		}
		if len(v) >= 2 && v[0] == '"' {
			if end := strings.IndexByte(v[1:], '"'); end >= 0 {
				v = v[1 : 1+end]
			}
		}
		switch strings.TrimSpace(k) {
		case "user":
			usr = v
		case "group":
			group = v
		}
	}
	return usr, group
}

// hostFacts reads the file-system facts: /dev/kvm and QEMU's identity as
// libvirt resolves it (qemu.conf's user and group, the built-in default
// otherwise, plus the user's supplementary groups, as getgrouplist gives).
func hostFacts() kvmFacts {
	var f kvmFacts
	if st, err := os.Stat(kvmDevice); err == nil {
		f.Dev.Present, f.Dev.Mode = true, st.Mode()
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			f.Dev.UID, f.Dev.GID = sys.Uid, sys.Gid
		}
	}
	usr, group := defaultQEMUUser, defaultQEMUGroup
	if file, err := os.Open(qemuConf); err == nil {
		u, g := parseQEMUConf(file)
		file.Close()
		if u != "" {
			usr = u
		}
		if g != "" {
			group = g
		}
	}
	f.QEMU = resolveQEMU(usr, group)
	return f
}

func resolveQEMU(usr, group string) qemuIdentity {
	q := qemuIdentity{User: usr}
	var u *user.User
	var err error
	if n, ok := strings.CutPrefix(usr, "+"); ok {
		u, err = user.LookupId(n)
		if err != nil {
			// A numeric user need not exist in /etc/passwd.
			id, perr := strconv.ParseUint(n, 10, 32)
			if perr != nil {
				q.Err = fmt.Errorf("bad user %q", usr)
				return q
			}
			q.UID, err = uint32(id), nil
		}
	} else {
		u, err = user.Lookup(usr)
	}
	if err != nil {
		q.Err = err
		return q
	}
	gid, err := lookupGroup(group)
	if err != nil {
		q.Err = err
		return q
	}
	q.Groups = []uint32{gid}
	if u == nil {
		return q
	}
	id, _ := strconv.ParseUint(u.Uid, 10, 32)
	q.UID = uint32(id)
	gids, err := u.GroupIds()
	if err != nil {
		q.Err = fmt.Errorf("groups of %s: %w", usr, err)
		return q
	}
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil && !inGroups(uint32(n), q.Groups) {
			q.Groups = append(q.Groups, uint32(n))
		}
	}
	return q
}

func lookupGroup(group string) (uint32, error) {
	if n, ok := strings.CutPrefix(group, "+"); ok {
		id, err := strconv.ParseUint(n, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("bad group %q", group)
		}
		return uint32(id), nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return 0, err
	}
	id, err := strconv.ParseUint(g.Gid, 10, 32)
	return uint32(id), err
}

// askLibvirtKVM asks libvirt whether it offers kvm domains for x86_64.
func askLibvirtKVM(l *golibvirt.Libvirt) libvirtKVM {
	raw, err := l.ConnectGetDomainCapabilities(nil, golibvirt.OptString{"x86_64"}, nil, golibvirt.OptString{DomainTypeKVM}, 0)
	if err != nil {
		var le golibvirt.Error
		if errors.As(err, &le) {
			return libvirtKVM{Known: true, Reason: le.Message}
		}
		return libvirtKVM{Reason: err.Error()}
	}
	var caps libvirtxml.DomainCaps
	if err := caps.Unmarshal(raw); err != nil {
		return libvirtKVM{Reason: "cannot parse libvirt's domain capabilities: " + err.Error()}
	}
	return libvirtKVM{Known: true, Supported: caps.Domain == DomainTypeKVM}
}

// kvmPreflight refuses a kvm domain whose QEMU could not open /dev/kvm, at
// once: libvirt would only say so after re-probing QEMU (see above), which
// outlasts any call deadline. The facts are read again for each start, as
// the host may have been fixed since the agent started.
func (h *Hypervisor) kvmPreflight() error {
	if h.domType != DomainTypeKVM {
		return nil
	}
	f := h.facts()
	// A missing device or an unknown user libvirt reports itself, at once.
	if !f.Dev.Present || f.QEMU.Err != nil || canOpen(f.Dev, f.QEMU) {
		return nil
	}
	return hypervisor.Errorf(hypervisor.ErrOperationFailed,
		"operation failed: domain type kvm, but QEMU cannot open %s (%s); its QEMU fails there with 'Could not access KVM kernel module: Permission denied'",
		kvmDevice, f.describe())
}
