//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package audit

import "os"

// lockSupported reports whether lockFile really locks.
const lockSupported = false

// lockFile is a no-op where flock(2) is not available (Windows, Plan 9,
// Solaris, …): there, nothing stops two processes from appending to the
// same trail, and the operator must make sure a run is no longer running
// before resuming it. A later version may use LockFileEx on Windows.
func lockFile(f *os.File) error { return nil }
