package cli

import (
	"os"
	"runtime/debug"
)

// Garbage collection during a run. A live run is a burst: hundreds of
// requests at once, each allocating its request, its answer's JSON and
// its audit record, on a heap whose live part stays small. With Go's
// default (GOGC=100) the collector runs many times in that second and,
// on a two-core machine, takes one of the two processors while it marks:
// a 1× benchmark run spent ~15 % of its CPU in the collector. A run
// trades memory for that time.
const (
	// runGCPercent is GOGC during a run: the heap may grow to five times
	// its live part before a collection.
	runGCPercent = 400
	// runMemoryLimit is the soft memory limit during a run: past it the
	// collector runs as often as it must, whatever runGCPercent allows.
	runMemoryLimit = 1 << 30
)

// TuneGC sets the collector for a run (runGCPercent, runMemoryLimit) and
// returns the function that restores the previous settings. GOGC and
// GOMEMLIMIT in the environment win: each is left alone when set.
func TuneGC() (restore func()) {
	oldPercent, oldLimit := -2, int64(-1)
	if os.Getenv("GOGC") == "" {
		oldPercent = debug.SetGCPercent(runGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		oldLimit = debug.SetMemoryLimit(runMemoryLimit)
	}
	return func() {
		if oldPercent != -2 {
			debug.SetGCPercent(oldPercent)
		}
		if oldLimit >= 0 {
			debug.SetMemoryLimit(oldLimit)
		}
	}
}
