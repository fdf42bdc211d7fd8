package cli

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/internal/audit"
)

// ttyFactory is a terminal whose keyboard is the returned pipe writer.
func ttyFactory() (*Factory, *io.PipeWriter, *lockedBuffer) {
	inR, inW := io.Pipe()
	out := &lockedBuffer{}
	return &Factory{In: inR, Out: out, ErrOut: out, IsTTY: func() bool { return true },
		Now: time.Now, Getenv: func(string) string { return "" }, Logger: NewFactory().Logger,
		Registry: NewRegistry(), Transport: loopbackOnly{base: http.DefaultTransport}, Version: "test"}, inW, out
}

func waitForOutput(out *lockedBuffer, s string) bool {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if strings.Contains(out.String(), s) {
			return true
		}
	}
	return false
}

// Ctrl-C at the confirmation prompt aborts: exit 130, nothing sent, and
// the trail says why.
func TestCtrlCAtConfirmation(t *testing.T) {
	srv, cfg := startDemoEmulator(t, 0)
	f, inW, out := ttyFactory()
	defer inW.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		if waitForOutput(out, `Type "execute"`) {
			cancel() // the operator presses Ctrl-C instead of answering
		}
	}()
	runs := t.TempDir()
	code := Run(ctx, f, []string{"run", "freeze-trading", "--config", cfg, "--runs-dir", runs})
	if code != ExitInterrupted {
		t.Fatalf("exit %d, want %d\n%s", code, ExitInterrupted, out.String())
	}
	if n := mutationCount(srv); n != 0 {
		t.Errorf("%d mutations sent after Ctrl-C at the prompt, want 0", n)
	}
	recs, err := audit.Read(onlyRunDir(t, runs))
	if err != nil || len(recs) == 0 || !strings.Contains(string(recs[len(recs)-1].Result), "interrupted at the confirmation prompt") {
		t.Errorf("trail %v %v: want its end record to say it was interrupted at the prompt", recs, err)
	}
}

// A resume waiting at its prompt must not continue a trail that another
// resume changed meanwhile: its done/in-doubt accounting would be stale.
func TestResumeRefusesATrailChangedSinceRead(t *testing.T) {
	srv, cfg := startDemoEmulator(t, 60*time.Millisecond)
	runs := t.TempDir()
	{ // an interrupted run
		f, inW, out := ttyFactory()
		inW.Close()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(300*time.Millisecond, cancel)
		if code := Run(ctx, f, []string{"run", "suspected-key-leak", "--yes", "--config", cfg, "--runs-dir", runs}); code != ExitInterrupted {
			t.Fatalf("interrupted run: exit %d\n%s", code, out.String())
		}
	}
	dir := onlyRunDir(t, runs)
	f, inW, out := ttyFactory()
	done := make(chan int)
	go func() {
		done <- Run(context.Background(), f, []string{"run", "--resume", dir, "--config", cfg})
	}()
	if !waitForOutput(out, `Type "execute" to resume`) {
		t.Fatalf("no resume prompt:\n%s", out.String())
	}
	// Another resume continues the trail while this one waits.
	log, err := audit.Open(dir, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []audit.Event{
		{Phase: audit.PhaseInfo, Result: map[string]any{"resume": audit.ResumeMarker}},
		{Phase: audit.PhaseEnd, Result: map[string]any{"interrupted": true}},
	} {
		if _, err := log.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	log.Close()
	before := mutationCount(srv)
	_, _ = io.WriteString(inW, "execute\n")
	if code := <-done; code != ExitUsage {
		t.Fatalf("exit %d, want %d\n%s", code, ExitUsage, out.String())
	}
	if !strings.Contains(out.String(), "the trail changed since it was read") {
		t.Errorf("no explanation in:\n%s", out.String())
	}
	if n := mutationCount(srv) - before; n != 0 {
		t.Errorf("%d mutations sent by the refused resume, want 0", n)
	}
}
