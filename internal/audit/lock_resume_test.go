package audit

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func requireLocking(t *testing.T) {
	t.Helper()
	if !lockSupported {
		t.Skip("no advisory locks on this OS")
	}
}

// startedLog is a run directory with a start record, its Log still open.
func startedLog(t *testing.T) (string, *Log) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run-l")
	l, err := Create(dir, "run-l", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(Event{Phase: PhaseStart}); err != nil {
		t.Fatal(err)
	}
	return dir, l
}

func TestLockExcludesASecondWriter(t *testing.T) {
	requireLocking(t)
	tests := []struct {
		name string
		// hold takes the lock on dir's trail and returns its release.
		hold func(t *testing.T, dir string) func() error
	}{
		{"created log", nil},
		{"reopened log", func(t *testing.T, dir string) func() error {
			l, err := Open(dir, testOptions())
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return l.Close
		}},
		{"Lock", func(t *testing.T, dir string) func() error {
			release, err := Lock(dir)
			if err != nil {
				t.Fatalf("Lock: %v", err)
			}
			return release
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, created := startedLog(t)
			release := created.Close
			if tt.hold != nil {
				created.Close()
				release = tt.hold(t, dir)
			}
			l, err := Open(dir, testOptions())
			if !errors.Is(err, ErrLocked) {
				if l != nil {
					l.Close()
				}
				t.Fatalf("second Open while held: got %v, want an error wrapping ErrLocked", err)
			}
			if msg := err.Error(); !strings.Contains(msg, dir) || !strings.Contains(msg, "another panicbutton process") {
				t.Errorf("error %q: want it to name %s and say another panicbutton process uses it", msg, dir)
			}
			if _, err := Lock(dir); !errors.Is(err, ErrLocked) {
				t.Errorf("Lock while held: got %v, want ErrLocked", err)
			}
			if err := release(); err != nil {
				t.Fatal(err)
			}
			l, err = Open(dir, testOptions())
			if err != nil {
				t.Fatalf("Open after the holder let go: %v", err)
			}
			defer l.Close()
			if _, err := l.Append(Event{Phase: PhaseInfo}); err != nil {
				t.Errorf("Append after re-open: %v", err)
			}
		})
	}
}

func TestCreateLocksBeforeTheFirstRecord(t *testing.T) {
	requireLocking(t)
	dir := filepath.Join(t.TempDir(), "run-c")
	l, err := Create(dir, "run-c", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := Lock(dir); !errors.Is(err, ErrLocked) {
		t.Errorf("Lock of a just-created trail: got %v, want ErrLocked", err)
	}
}

// holderEnv names the run directory whose trail the helper process locks.
const holderEnv = "PANICBUTTON_AUDIT_TEST_HOLD"

// TestHelperHoldLock is not a test: run by TestLockReleasedWhenHolderKilled
// in a child process, it opens the trail, says "locked" and waits to be
// killed.
func TestHelperHoldLock(t *testing.T) {
	dir := os.Getenv(holderEnv)
	if dir == "" {
		t.Skip("helper process only")
	}
	l, err := Open(dir, testOptions())
	if err != nil {
		os.Stdout.WriteString("error: " + err.Error() + "\n")
		os.Exit(1)
	}
	_ = l
	os.Stdout.WriteString("locked\n")
	time.Sleep(time.Minute)
	os.Exit(2)
}

func TestLockReleasedWhenHolderKilled(t *testing.T) {
	requireLocking(t)
	if testing.Short() {
		t.Skip("starts a process")
	}
	dir, l := startedLog(t)
	l.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldLock$")
	cmd.Env = append(os.Environ(), holderEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper said %q, %v; want \"locked\"", line, err)
	}
	if l, err := Open(dir, testOptions()); !errors.Is(err, ErrLocked) {
		if l != nil {
			l.Close()
		}
		t.Fatalf("Open while another process holds the trail: got %v, want ErrLocked", err)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred code runs
		t.Fatal(err)
	}
	_ = cmd.Wait()
	l, err = Open(dir, testOptions())
	if err != nil {
		t.Fatalf("Open after the holder was killed: %v", err)
	}
	l.Close()
}

// resumeEvent is a resume record's event (see the package comment).
func resumeEvent() Event {
	return Event{Phase: PhaseInfo, Result: map[string]any{"resume": ResumeMarker, "resume_number": 1}}
}

// endedLog writes start, one info record and the given end record, closes
// the log and returns its dir.
func endedLog(t *testing.T, end Event) string {
	t.Helper()
	dir, l := startedLog(t)
	for _, e := range []Event{{Phase: PhaseInfo, Step: "s", Account: "a"}, end} {
		if _, err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestOpenAfterInterruptedEnd(t *testing.T) {
	interrupted := Event{Phase: PhaseEnd, Result: map[string]any{"interrupted": true, "counts": map[string]int{"ok": 1}}}
	dir := endedLog(t, interrupted)
	l, err := Open(dir, testOptions())
	if err != nil {
		t.Fatalf("Open of an interrupted run: %v", err)
	}
	defer l.Close()
	// Until the resume record, nothing else is accepted, and the refusals
	// do not fail the Log.
	for _, e := range []Event{
		{Phase: PhaseInfo, Step: "s", Account: "a", Result: map[string]any{"status": "ok"}},
		{Phase: PhaseIntent, Step: "s", Account: "a"},
		{Phase: PhaseEnd},
		{Phase: PhaseInfo, Step: "s", Result: map[string]any{"resume": ResumeMarker}},
		{Phase: PhaseInfo, Result: map[string]any{"resume": "skipped"}},
		{Phase: PhaseInfo, Result: map[string]any{"Resume": ResumeMarker}},
	} {
		if _, err := l.Append(e); !errors.Is(err, ErrResumeExpected) {
			t.Errorf("Append(%s %q %v) first after the interrupted end: got %v, want ErrResumeExpected", e.Phase, e.Step, e.Result, err)
		}
	}
	if l.Err() != nil || l.Seq() != 3 {
		t.Fatalf("after refusals: Err %v, seq %d; want nil, 3", l.Err(), l.Seq())
	}
	for _, e := range []Event{resumeEvent(), {Phase: PhaseInfo, Step: "s", Account: "a"}, {Phase: PhaseEnd, Result: map[string]any{"interrupted": false}}} {
		if _, err := l.Append(e); err != nil {
			t.Fatalf("Append(%s) after the resume record: %v", e.Phase, err)
		}
	}
	l.Close()
	rep, err := Verify(dir, l.Head())
	if err != nil || !rep.Complete || rep.Records != 6 {
		t.Errorf("Verify = %+v, %v; want intact, complete, 6 records", rep, err)
	}
	// Now it ended normally: closed for good.
	if l, err := Open(dir, testOptions()); !errors.Is(err, ErrEnded) {
		if l != nil {
			l.Close()
		}
		t.Errorf("Open after a normal end: got %v, want ErrEnded", err)
	}
}

func TestOpenRefusesEndsThatAreNotInterrupted(t *testing.T) {
	tests := []struct {
		name   string
		result any
	}{
		{"no result", nil},
		{"interrupted false", map[string]any{"interrupted": false}},
		{"interrupted as a string", map[string]any{"interrupted": "true"}},
		{"other case", map[string]any{"Interrupted": true}},
		{"not an object", []bool{true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := endedLog(t, Event{Phase: PhaseEnd, Result: tt.result})
			l, err := Open(dir, testOptions())
			if !errors.Is(err, ErrEnded) {
				if l != nil {
					l.Close()
				}
				t.Errorf("Open: got %v, want ErrEnded", err)
			}
		})
	}
}

// rawLine is a record line for rechain: seq, phase, optional step and the
// result's JSON.
func rawLine(seq int, phase, step, result string) string {
	s := `{"seq":` + strconv.Itoa(seq) + `,"time":"2025-01-02T03:04:05Z","run_id":"run-1"`
	if step != "" {
		s += `,"step":"` + step + `"`
	}
	s += `,"phase":"` + phase + `"`
	if result != "" {
		s += `,"result":` + result
	}
	return s + `,"prev_hash":"` + GenesisHash + `","hash":"` + GenesisHash + `"}`
}

func TestVerifyEndRecordRules(t *testing.T) {
	const (
		interrupted = `{"interrupted":true}`
		normal      = `{"interrupted":false}`
		resume      = `{"resume":"resumed"}`
	)
	type rec struct{ phase, step, result string }
	tests := []struct {
		name         string
		recs         []rec
		wantBad      int64 // 0: intact
		wantComplete bool
	}{
		{"interrupted, resumed, ended", []rec{{"start", "", ""}, {"end", "", interrupted}, {"info", "", resume}, {"info", "s", ""}, {"end", "", normal}}, 0, true},
		{"interrupted twice, resumed twice", []rec{{"start", "", ""}, {"end", "", interrupted}, {"info", "", resume}, {"end", "", interrupted}, {"info", "", resume}, {"end", "", normal}}, 0, true},
		{"ends interrupted", []rec{{"start", "", ""}, {"info", "s", ""}, {"end", "", interrupted}}, 0, true},
		{"resumed, then crashed", []rec{{"start", "", ""}, {"end", "", interrupted}, {"info", "", resume}, {"intent", "s", ""}}, 0, false},
		{"crashed, resumed", []rec{{"start", "", ""}, {"intent", "s", ""}, {"info", "", resume}, {"end", "", normal}}, 0, true},
		{"record after a normal end", []rec{{"start", "", ""}, {"end", "", normal}, {"info", "", resume}}, 3, false},
		{"interrupted end not followed by a resume", []rec{{"start", "", ""}, {"end", "", interrupted}, {"info", "s", ""}}, 3, false},
		{"resume record with a step", []rec{{"start", "", ""}, {"end", "", interrupted}, {"info", "s", resume}}, 3, false},
		{"end after an interrupted end", []rec{{"start", "", ""}, {"end", "", interrupted}, {"end", "", normal}}, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lines []string
			for i, r := range tt.recs {
				lines = append(lines, rawLine(i+1, r.phase, r.step, r.result))
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, FileName), joinLines(rechain(t, lines)), 0o600); err != nil {
				t.Fatal(err)
			}
			rep, err := Verify(dir, "")
			if rep.FirstBad != tt.wantBad {
				t.Fatalf("first bad = %d (%s), want %d", rep.FirstBad, rep.Problem, tt.wantBad)
			}
			if (err != nil) != (tt.wantBad != 0) || (err != nil && !errors.Is(err, ErrTampered)) {
				t.Errorf("Verify error = %v, want ErrTampered iff a record is bad", err)
			}
			if tt.wantBad == 0 && rep.Complete != tt.wantComplete {
				t.Errorf("complete = %v, want %v", rep.Complete, tt.wantComplete)
			}
		})
	}
}
