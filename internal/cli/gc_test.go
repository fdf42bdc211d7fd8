package cli

import (
	"math"
	"runtime/debug"
	"testing"
)

// gcPercent reads GOGC's current value.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestTuneGC: a run collects less often, within a memory limit, and the
// settings come back after it; GOGC and GOMEMLIMIT set by the user win.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	restore := TuneGC()
	if got := gcPercent(); got != runGCPercent {
		t.Errorf("GOGC during a run: got %d, want %d", got, runGCPercent)
	}
	if got := debug.SetMemoryLimit(-1); got != runMemoryLimit {
		t.Errorf("memory limit during a run: got %d, want %d", got, runMemoryLimit)
	}
	restore()
	if got := gcPercent(); got != 100 {
		t.Errorf("GOGC after the run: got %d, want 100 again", got)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("memory limit after the run: got %d, want none again", got)
	}

	t.Setenv("GOGC", "50")
	t.Setenv("GOMEMLIMIT", "100MiB")
	debug.SetGCPercent(50)
	restore = TuneGC()
	if got := gcPercent(); got != 50 {
		t.Errorf("GOGC set by the user: got %d, want it kept (50)", got)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("GOMEMLIMIT set by the user: got a limit of %d, want it left alone", got)
	}
	restore()
}
