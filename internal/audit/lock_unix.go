//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package audit

import (
	"errors"
	"os"
	"syscall"
)

// lockSupported reports whether lockFile really locks.
const lockSupported = true

// lockFile takes an exclusive, non-blocking advisory lock (flock(2)) on f.
// The lock belongs to f's open file description: it is released when f is
// closed, and by the kernel when the process dies, even by SIGKILL, so a
// killed run can always be resumed. It returns errWouldBlock when another
// open file description (another process, or another Log in this one)
// holds the lock.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return errWouldBlock
		default:
			return err
		}
	}
}
