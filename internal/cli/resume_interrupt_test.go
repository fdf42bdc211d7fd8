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
	"github.com/panicbutton/panicbutton/internal/report"
)

// TestResumeAfterCtrlC interrupts a run mid-freeze (as TestInterruptMidRun
// does), resumes it with `run --resume DIR --yes`, and checks that the
// resumed run reaches the end state of an uninterrupted run, deletes no sub
// key twice, appends after the interrupted end record, and leaves a trail
// that `audit verify` accepts and a report that says it was resumed.
func TestResumeAfterCtrlC(t *testing.T) {
	srv, base, cfg := resumeEmulator(t, 60*time.Millisecond)
	runs := t.TempDir()
	cli := func(ctx context.Context, args ...string) (int, string) {
		var out, errOut strings.Builder
		f := &Factory{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, IsTTY: func() bool { return false },
			Now: time.Now, Getenv: func(string) string { return "" }, Logger: NewFactory().Logger,
			Registry: NewRegistry(), Transport: loopbackOnly{base: http.DefaultTransport}, Version: "test"}
		code := Run(ctx, f, args)
		return code, "stdout:\n" + out.String() + "\nstderr:\n" + errOut.String()
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(300*time.Millisecond, cancel) // the freeze is in flight by then
	if code, out := cli(ctx, "run", "suspected-key-leak", "--yes", "--config", cfg, "--runs-dir", runs); code != ExitInterrupted {
		t.Fatalf("interrupted run: exit %d, want %d\n%s", code, ExitInterrupted, out)
	}
	dir := onlyRunDir(t, runs)
	if dir == "" {
		t.Fatal("no run directory")
	}
	before, err := audit.Read(dir)
	if err != nil || len(before) == 0 || !audit.IsInterruptedEnd(before[len(before)-1]) {
		t.Fatalf("interrupted trail: %d records, %v; want it to end with an interrupted end record", len(before), err)
	}
	if left := containment(t, base); len(left.OpenOrders) == 0 && len(left.Deletable) == 0 {
		t.Fatalf("the interrupt came too late: everything was contained before it, so the resume proves nothing")
	}

	code, out := cli(context.Background(), "run", "--resume", dir, "--yes", "--config", cfg)
	if code != ExitManual {
		t.Fatalf("resume: exit %d, want %d (contained, the master key's manual step pending)\n%s", code, ExitManual, out)
	}
	if !strings.Contains(out, "resuming run ") || !strings.Contains(out, "interrupted (Ctrl-C") {
		t.Errorf("resume output does not say it resumes an interrupted run\n%s", out)
	}
	if left := containment(t, base); len(left.OpenOrders) != 0 || len(left.Deletable) != 0 {
		t.Errorf("end state after Ctrl-C and resume: %+v, want no open order and no deletable sub key", left)
	}
	perKey, _ := keyDeletes(srv)
	for k, n := range perKey {
		if n != 1 {
			t.Errorf("sub key %s deleted successfully %d times, want once", k, n)
		}
	}

	recs := trailChecks(t, dir) // verifies, complete, no mutation with two ok outcomes
	if n := len(before); len(recs) <= n || !audit.IsResumeRecord(recs[n]) {
		t.Fatalf("the record after the interrupted end (seq %d) is not the resume record", n+1)
	}
	var ends []bool
	for _, r := range recs {
		if r.Phase == audit.PhaseEnd {
			ends = append(ends, audit.IsInterruptedEnd(r))
		}
	}
	if len(ends) != 2 || !ends[0] || ends[1] {
		t.Errorf("end records (interrupted?) = %v, want [true false]", ends)
	}
	if code, out := cli(context.Background(), "audit", "verify", dir); code != ExitOK {
		t.Errorf("audit verify: exit %d, want %d\n%s", code, ExitOK, out)
	}
	md, err := os.ReadFile(filepath.Join(dir, report.MarkdownFile))
	if err != nil || !strings.Contains(string(md), "Resumed") {
		t.Errorf("report.md after the resume: %v; want it written and saying the run was resumed", err)
	}

	// Finished now: another resume is refused and changes nothing.
	if code, out := cli(context.Background(), "run", "--resume", dir, "--yes", "--config", cfg); code != ExitUsage || !strings.Contains(out, "already finished") {
		t.Errorf("second resume: exit %d, want %d with \"already finished\"\n%s", code, ExitUsage, out)
	}
}

// A resume of a run directory whose trail another process is still writing
// is refused, naming the directory, and the trail is left alone.
func TestResumeRefusesARunStillWriting(t *testing.T) {
	_, _, cfg := resumeEmulator(t, 0)
	home := t.TempDir()
	env := map[string]string{"PANICBUTTON_CONFIG": cfg, "PANICBUTTON_RUNS_DIR": filepath.Join(home, "runs"), "HOME": home}
	if code, stdout, stderr := resumeCLI(env, "run", "suspected-key-leak", "--yes"); code != ExitManual {
		t.Fatalf("run: exit %d, want %d\n%s\n%s", code, ExitManual, stdout, stderr)
	}
	dir := crashedCopy(t, onlyRunDir(t, env["PANICBUTTON_RUNS_DIR"]), 1)
	log, err := audit.Open(dir, audit.Options{}) // the "running" process
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	before, _ := os.ReadFile(filepath.Join(dir, audit.FileName))
	code, stdout, stderr := resumeCLI(env, "run", "--resume", dir, "--yes")
	if code != ExitUsage || !strings.Contains(stderr, "another panicbutton process is using run directory "+dir) {
		t.Errorf("resume while locked: exit %d, want %d naming the directory\nstdout:\n%s\nstderr:\n%s", code, ExitUsage, stdout, stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, audit.FileName)); string(after) != string(before) {
		t.Errorf("a refused resume changed the trail")
	}
	log.Close()
	if code, stdout, stderr := resumeCLI(env, "run", "--resume", dir, "--yes"); code != ExitManual {
		t.Errorf("resume after the writer closed: exit %d, want %d\n%s\n%s", code, ExitManual, stdout, stderr)
	}
}
