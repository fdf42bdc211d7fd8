package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A bad --hold is refused before anything is read or sent: exit 2, no run
// directory, and the message names the flag.
func TestHoldBadDurationExitsUsage(t *testing.T) {
	for _, bad := range []string{"soon", "-5m", "0", "10"} {
		t.Run(bad, func(t *testing.T) {
			runs := t.TempDir()
			_, errOut, code := runCLI(t, "run", "suspected-key-leak", "--yes", "--runs-dir", runs,
				"--config", filepath.Join(runs, "missing.yaml"), "--hold", bad)
			if code != ExitUsage {
				t.Errorf("exit = %d, want %d (stderr %q)", code, ExitUsage, errOut)
			}
			if !strings.Contains(errOut, "--hold") || !strings.Contains(errOut, "nothing was sent") {
				t.Errorf("stderr %q does not name --hold and say nothing was sent", errOut)
			}
			if ents, _ := os.ReadDir(runs); len(ents) != 0 {
				t.Errorf("run directory created: %v", ents)
			}
		})
	}
}

func TestParseHold(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{{"", defaultHold.String()}, {"45m", "45m0s"}, {"2h", "2h0m0s"}, {"90s", "1m30s"}}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseHold(tt.in)
			if err != nil || got.String() != tt.want {
				t.Errorf("parseHold(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
			}
		})
	}
}

// The demo's hold is bounded too, and a bad value is refused before the
// emulator even starts.
func TestDemoHoldBadDuration(t *testing.T) {
	dir := t.TempDir()
	_, errOut, code := runCLI(t, "demo", "--dir", dir, "--hold", "forever")
	if code != ExitUsage || !strings.Contains(errOut, "--hold") {
		t.Errorf("exit %d, stderr %q; want %d naming --hold", code, errOut, ExitUsage)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("the demo wrote %v before refusing", ents)
	}
}

// The demo's --error-rate is a fraction; anything else is refused before
// the emulator starts.
func TestDemoBadErrorRate(t *testing.T) {
	for _, v := range []string{"1.5", "-0.1"} {
		dir := t.TempDir()
		_, errOut, code := runCLI(t, "demo", "--dir", dir, "--error-rate", v)
		if code != ExitUsage || !strings.Contains(errOut, "--error-rate") {
			t.Errorf("--error-rate %s: exit %d, stderr %q; want %d naming --error-rate", v, code, errOut, ExitUsage)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("--error-rate %s: the demo wrote %v before refusing", v, ents)
		}
	}
}
