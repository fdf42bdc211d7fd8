package cli

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The whole manual-step story on a terminal: the operator confirms the
// plan; at the master-key step a human deletes the key in the exchange's
// web UI (the emulator's admin hook plays that part) and types "done";
// panicbutton then probes the key until the exchange rejects it, and only
// then reports the step done and verified.
func TestManualMasterKeyDeletionIsVerified(t *testing.T) {
	srv, cfg := startDemoEmulator(t, 5*time.Millisecond)
	keyBytes, err := os.ReadFile(filepath.Join(filepath.Dir(cfg), "northwind-master.api_key"))
	if err != nil {
		t.Fatal(err)
	}
	masterKey := strings.TrimSpace(string(keyBytes))

	inR, inW := io.Pipe()
	out := &lockedBuffer{}
	f := &Factory{In: inR, Out: out, ErrOut: &lockedBuffer{}, IsTTY: func() bool { return true },
		Now: time.Now, Getenv: func(string) string { return "" }, Logger: NewFactory().Logger,
		Registry: NewRegistry(), Transport: loopbackOnly{base: http.DefaultTransport}, Version: "test"}

	// The operator: confirm the plan, then act on the manual step.
	go func() {
		defer inW.Close()
		waitFor := func(s string) bool {
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				if strings.Contains(out.String(), s) {
					return true
				}
				time.Sleep(10 * time.Millisecond)
			}
			return false
		}
		if !waitFor(`Type "execute"`) {
			return
		}
		_, _ = io.WriteString(inW, "execute\n")
		if !waitFor("manual step master-key (northwind-master)") {
			return
		}
		if !srv.DeleteKey(masterKey) { // the human, in the exchange's web UI
			t.Error("the emulator did not know the master key")
		}
		_, _ = io.WriteString(inW, "done\n")
	}()

	code := Run(context.Background(), f, []string{"run", "suspected-key-leak", "--config", cfg,
		"--account", "northwind-master", "--runs-dir", t.TempDir()})
	got := out.String()
	if !strings.Contains(got, "done and verified") {
		t.Errorf("the master-key step was not verified:\n%s", got)
	}
	// The Binance withdrawal still needs a human (no API): exit 4, not 0.
	if code != ExitManual {
		t.Errorf("exit %d, want %d (a withdrawal Binance cannot cancel stays pending)\n%s", code, ExitManual, got)
	}
}
