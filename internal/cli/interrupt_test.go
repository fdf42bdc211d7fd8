package cli

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/internal/audit"
	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/venues"
)

// startDemoEmulator starts the demo state with the given latency and
// returns the accounts file written for it.
func startDemoEmulator(t *testing.T, latency time.Duration) (*emulator.Server, string) {
	t.Helper()
	cfg := emulator.Config{Loaders: venues.DefaultLoaders(), Latency: latency}
	fsys, name := venues.DemoState()
	vs, err := emulator.LoadState(fsys, name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := emulator.New(cfg, vs)
	base, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	path := filepath.Join(t.TempDir(), "accounts.yaml")
	if err := srv.WriteAccounts(path, base); err != nil {
		t.Fatal(err)
	}
	return srv, path
}

// Ctrl-C mid-run: exit 130, what was in flight is recorded as interrupted,
// later steps are skipped, and the trail is complete and intact.
func TestInterruptMidRun(t *testing.T) {
	_, cfg := startDemoEmulator(t, 60*time.Millisecond)
	runs := t.TempDir()
	var out, errOut strings.Builder
	f := &Factory{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, IsTTY: func() bool { return false },
		Now: time.Now, Getenv: func(string) string { return "" }, Logger: NewFactory().Logger,
		Registry: NewRegistry(), Transport: loopbackOnly{base: http.DefaultTransport}, Version: "test"}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel) // the freeze is in flight by then
	code := Run(ctx, f, []string{"run", "suspected-key-leak", "--yes", "--config", cfg, "--runs-dir", runs})
	if code != ExitInterrupted {
		t.Fatalf("exit code %d, want %d\n%s\n%s", code, ExitInterrupted, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "INTERRUPTED") {
		t.Errorf("no INTERRUPTED verdict in:\n%s", out.String())
	}
	ents, err := os.ReadDir(runs)
	if err != nil || len(ents) != 1 {
		t.Fatalf("run dirs: %v %v", ents, err)
	}
	dir := filepath.Join(runs, ents[0].Name())
	rep, err := audit.Verify(dir, "")
	if err != nil || !rep.Complete {
		t.Fatalf("audit verify: %+v %v, want intact and complete", rep, err)
	}
	recs, err := audit.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	interrupted, skipped := 0, 0
	open := map[string]int{} // intents without an outcome yet
	for _, r := range recs {
		switch r.Phase {
		case "intent":
			open[r.Account+"/"+r.Request["mutation_id"]]++
		case "outcome":
			open[r.Account+"/"+r.Request["mutation_id"]]--
		}
		s := string(r.Result)
		if r.Phase == "info" && strings.Contains(s, `"error_class":"interrupted"`) {
			interrupted++
		}
		if r.Phase == "info" && strings.Contains(s, "skipped: run interrupted") {
			skipped++
		}
	}
	for id, n := range open {
		if n != 0 {
			t.Errorf("mutation %s: %d intent(s) without an outcome", id, n)
		}
	}
	if interrupted == 0 || skipped == 0 {
		t.Errorf("info records: %d interrupted in flight, %d skipped; want both > 0", interrupted, skipped)
	}
}
