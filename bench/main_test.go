package bench

import (
	"os"
	"testing"
)

// TestMain serves the emulator instead when this binary was started as
// the emulator's own process (StartEmulatorProcess).
func TestMain(m *testing.M) {
	if ServeEmulatorChild() {
		return
	}
	os.Exit(m.Run())
}
