// Package icmpping sends ICMP echo requests through a raw socket, for the
// tests that prove reachability across namespaces (a second host's overlay,
// a segment that must stay unreachable) without a ping binary: the caller's
// thread, locked and in the namespace wanted, is where the socket lives.
package icmpping

import (
	"encoding/binary"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// Ping sends up to 5 echo requests with the given id to dst, each given
// 400 ms for its reply, and tells whether one came. Run it on a locked OS
// thread set to the namespace to ping from.
func Ping(dst net.IP, id uint16) (bool, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return false, err
	}
	var to unix.SockaddrInet4
	copy(to.Addr[:], dst.To4())
	buf := make([]byte, 1500)
	for seq := 1; seq <= 5; seq++ {
		if err := unix.Sendto(fd, EchoRequest(id, uint16(seq)), 0, &to); err != nil {
			return false, err
		}
		deadline := time.Now().Add(400 * time.Millisecond)
		for time.Now().Before(deadline) {
			n, from, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				continue // the receive timeout: look at the clock again
			}
			src, _ := from.(*unix.SockaddrInet4)
			ihl := int(buf[0]&0x0f) * 4
			if src != nil && net.IP(src.Addr[:]).Equal(dst) && n >= ihl+8 && buf[ihl] == 0 && binary.BigEndian.Uint16(buf[ihl+4:]) == id {
				return true, nil
			}
		}
	}
	return false, nil
}

// EchoRequest is an ICMP echo request with its checksum.
func EchoRequest(id, seq uint16) []byte {
	p := make([]byte, 16)
	p[0] = 8 // echo request
	binary.BigEndian.PutUint16(p[4:], id)
	binary.BigEndian.PutUint16(p[6:], seq)
	copy(p[8:], "vwire!!!")
	var sum uint32
	for i := 0; i < len(p); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(p[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(p[2:], ^uint16(sum))
	return p
}
