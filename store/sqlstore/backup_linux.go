//go:build linux

package sqlstore

import (
	"errors"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// inUse tells whether any connection has the WAL database at path open:
// every SQLite connection in WAL mode holds a shared POSIX lock on the
// "dead man switch" byte of the -shm file (byte 128: the unix VFS's
// UNIX_SHM_DMS) as long as it is open. This catches what does not take
// LockSQLite's lock (a sqlite3 shell, an older engine, a store opened in
// this process). The query is an open file description lock's: unlike a
// traditional F_GETLK, it also sees this process's own locks. (Closing the
// descriptor drops this process's own POSIX locks on the file, SQLite's
// included: restore is meant for its own process, vwire-engine restore.)
func inUse(path string) (bool, error) {
	f, err := os.OpenFile(path+"-shm", os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart, Start: 128, Len: 1}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk); err != nil {
		return false, err
	}
	return lk.Type != unix.F_UNLCK, nil
}
