package hostnet

import (
	"runtime"
	"unsafe"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// A NIC's speed comes from ethtool (SIOCETHTOOL, ETHTOOL_GSET), on a socket
// made in the namespace of the NICs: /sys/class/net shows the namespace
// /sys was mounted in, not necessarily the one the agent manages.

// ethtoolCmd is the kernel's struct ethtool_cmd (44 bytes).
type ethtoolCmd struct {
	Cmd           uint32
	Supported     uint32
	Advertising   uint32
	Speed         uint16
	Duplex        uint8
	Port          uint8
	PhyAddress    uint8
	Transceiver   uint8
	Autoneg       uint8
	MdioSupport   uint8
	Maxtxpkt      uint32
	Maxrxpkt      uint32
	SpeedHi       uint16
	EthTpMdix     uint8
	EthTpMdixCtrl uint8
	LpAdvertising uint32
	Reserved      [2]uint32
}

// ifreqData is struct ifreq with its union holding a pointer (40 bytes).
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [16]byte
}

// socketIn makes a datagram socket in ns (ns < 0: the caller's) for
// ethtool. The thread that enters ns is never returned to the pool: its
// goroutine ends locked, so the thread ends with it.
func socketIn(ns netns.NsHandle) (int, error) {
	if ns < 0 {
		return unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	}
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // not unlocked: the thread dies with the goroutine
		if err := netns.Set(ns); err != nil {
			ch <- result{-1, err}
			return
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		ch <- result{fd, err}
	}()
	r := <-ch
	return r.fd, r.err
}

// linkSpeed is a NIC's speed in Mbit/s, 0 when unknown (no carrier, no
// ethtool support, or no socket).
func linkSpeed(fd int, name string) int {
	if fd < 0 || len(name) >= unix.IFNAMSIZ {
		return 0
	}
	cmd := ethtoolCmd{Cmd: unix.ETHTOOL_GSET}
	var ifr ifreqData
	copy(ifr.name[:], name)
	ifr.data = unsafe.Pointer(&cmd)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
		return 0
	}
	runtime.KeepAlive(&cmd)
	speed := uint32(cmd.SpeedHi)<<16 | uint32(cmd.Speed)
	if speed == 0 || speed == 0xffff || speed == 0xffffffff {
		return 0 // SPEED_UNKNOWN
	}
	return int(speed)
}
