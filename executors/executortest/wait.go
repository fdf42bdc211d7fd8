package executortest

import (
	"runtime"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

// WaitForEntry polls entries (an emulator's request log, e.g.
// srv.Requests) until a request for method+path answered status appears,
// and returns it; the test fails after 2 s.
func WaitForEntry(t testing.TB, entries func() []emu.Entry, method, path string, status int) emu.Entry {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		for _, e := range entries() {
			if e.Method == method && e.Path == path && e.Status == status {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s %s answered %d in the emulator's log", method, path, status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// SettleGoroutines waits until at most limit goroutines run (a cancelled
// request's goroutines must end); the test fails after 3 s.
func SettleGoroutines(t testing.TB, limit int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > limit {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: got %d, want at most %d (a cancelled copy lingers)", runtime.NumGoroutine(), limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
