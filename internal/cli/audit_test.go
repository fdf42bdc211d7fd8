package cli

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/internal/audit"
)

// auditTestFactory returns a Factory writing to buffers.
func auditTestFactory() (*Factory, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return &Factory{
		In:       strings.NewReader(""),
		Out:      &out,
		ErrOut:   &errOut,
		IsTTY:    func() bool { return false },
		Now:      time.Now,
		Getenv:   func(string) string { return "" },
		Logger:   slog.New(slog.DiscardHandler),
		Registry: NewRegistry(),
		Version:  "test",
	}, &out, &errOut
}

// writeAuditRun writes a finished 5-record run and returns its directory,
// the file's bytes and the head.
func writeAuditRun(t *testing.T) (string, []byte, string) {
	t.Helper()
	return writeAuditEvents(t, []audit.Event{
		{Phase: audit.PhaseStart, Result: map[string]any{"playbook": "p", "mode": "execute"}},
		{Step: "s", Account: "a", Action: "orders.cancel_all", Phase: audit.PhaseIntent, Request: map[string]string{"target": "BTCUSDT"}},
		{Step: "s", Account: "a", Action: "orders.cancel_all", Phase: audit.PhaseOutcome, Request: map[string]string{"target": "BTCUSDT"}, Result: map[string]any{"ok": true}},
		{Step: "s", Account: "a", Action: "orders.cancel_all", Phase: audit.PhaseInfo, Result: map[string]any{"status": "changed", "summary": "cancelled 1 order"}},
		{Phase: audit.PhaseEnd, Result: map[string]any{"counts": map[string]int{"changed": 1}}},
	})
}

// writeAuditEvents writes a run of events and returns its directory, the
// file's bytes and the head.
func writeAuditEvents(t *testing.T, events []audit.Event) (string, []byte, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	l, err := audit.Create(dir, "run-x", audit.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if _, err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	return dir, data, l.Head()
}

func TestAuditVerifyExitCodes(t *testing.T) {
	_, data, head := writeAuditRun(t)
	lines := strings.SplitAfter(string(data), "\n")
	lines = lines[:len(lines)-1] // SplitAfter leaves "" after the final newline
	tests := []struct {
		name       string
		content    string // "" keeps the log as written
		args       []string
		wantCode   int
		wantOut    string
		wantErrOut string
	}{
		{name: "intact", wantCode: ExitOK, wantOut: "intact: 5 records, head " + head + "\n"},
		{name: "intact with head", args: []string{"--head", head}, wantCode: ExitOK, wantOut: "intact: 5 records"},
		{name: "incomplete", content: strings.Join(lines[:3], ""), wantCode: ExitOK, wantOut: "intact: 3 records", wantErrOut: "warning: run incomplete (no end record)"},
		{name: "truncated against head", content: strings.Join(lines[:3], ""), args: []string{"--head", head}, wantCode: ExitFailed, wantErrOut: "error: TAMPERED at seq 4: head mismatch"},
		{name: "edited", content: strings.Replace(string(data), "BTCUSDT", "ETHUSDT", 1), wantCode: ExitFailed, wantErrOut: "error: TAMPERED at seq 2: hash mismatch"},
		{name: "deleted", content: lines[0] + strings.Join(lines[2:], ""), wantCode: ExitFailed, wantErrOut: "error: TAMPERED at seq 2: found seq 3 where seq 2"},
		{name: "partial last line", content: string(data[:len(data)-20]), wantCode: ExitFailed, wantErrOut: "error: TAMPERED at seq 5: partial last line"},
		{name: "last newline missing", content: string(data[:len(data)-1]), wantCode: ExitFailed, wantErrOut: "error: TAMPERED at seq 5: partial last line"},
		{name: "bad head", args: []string{"--head", "xyz"}, wantCode: ExitUsage, wantErrOut: "invalid --head"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			content := tt.content
			if content == "" {
				content = string(data)
			}
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			f, out, errOut := auditTestFactory()
			code := Run(context.Background(), f, append([]string{"audit", "verify", path}, tt.args...))
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("stdout = %q, want it to contain %q", out, tt.wantOut)
			}
			if tt.wantOut == "" && out.Len() > 0 {
				t.Errorf("stdout = %q, want nothing", out)
			}
			if !strings.Contains(errOut.String(), tt.wantErrOut) {
				t.Errorf("stderr = %q, want it to contain %q", errOut, tt.wantErrOut)
			}
			if tt.wantErrOut == "" && errOut.Len() > 0 {
				t.Errorf("stderr = %q, want nothing", errOut)
			}
		})
	}
}

func TestAuditUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"verify without path", []string{"audit", "verify"}},
		{"verify missing log", []string{"audit", "verify", filepath.Join(t.TempDir(), "nope")}},
		{"show missing log", []string{"audit", "show", filepath.Join(t.TempDir(), "nope")}},
		{"show two paths", []string{"audit", "show", "a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, errOut := auditTestFactory()
			if code := Run(context.Background(), f, tt.args); code != ExitUsage {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, ExitUsage, errOut)
			}
		})
	}
}

func TestAuditShow(t *testing.T) {
	dir, _, _ := writeAuditRun(t)
	f, out, errOut := auditTestFactory()
	if code := Run(context.Background(), f, []string{"audit", "show", dir}); code != ExitOK {
		t.Fatalf("exit code = %d, want 0 (stderr %q)", code, errOut)
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	want := []string{
		"start    -  -  -                  playbook p mode execute",
		"intent   s  a  orders.cancel_all  target=BTCUSDT",
		"outcome  s  a  orders.cancel_all  target=BTCUSDT",
		"info     s  a  orders.cancel_all  changed: cancelled 1 order",
		"end      -  -  -                  changed=1",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(got), len(want), out)
	}
	for i := range want {
		// The first column is the elapsed time of a real clock: check its shape.
		elapsed, rest, _ := strings.Cut(got[i], "  ")
		if !strings.HasPrefix(elapsed, "+") || !strings.HasSuffix(elapsed, "s") {
			t.Errorf("line %d elapsed = %q, want +N.NNNs", i+1, elapsed)
		}
		if rest != want[i] {
			t.Errorf("line %d = %q, want %q", i+1, rest, want[i])
		}
	}
	if errOut.Len() > 0 {
		t.Errorf("stderr = %q, want nothing", errOut)
	}
}

// TestAuditShowNotice: a notice the operator was shown during a step
// (a long wait for a rate limit, a CDN block) reads as one in the trail.
func TestAuditShowNotice(t *testing.T) {
	dir, _, _ := writeAuditEvents(t, []audit.Event{
		{Phase: audit.PhaseStart, Result: map[string]any{"playbook": "p", "mode": "execute"}},
		{Step: "s", Account: "a", Action: "keys.revoke", Phase: audit.PhaseInfo, Result: map[string]any{"notice": "KuCoin's management pool limit is spent: its requests wait 29s"}},
		{Phase: audit.PhaseEnd, Result: map[string]any{}},
	})
	f, out, errOut := auditTestFactory()
	if code := Run(context.Background(), f, []string{"audit", "show", dir}); code != ExitOK {
		t.Fatalf("exit code = %d (stderr %q)", code, errOut)
	}
	if want := "info   s  a  keys.revoke  notice: KuCoin's management pool limit is spent: its requests wait 29s"; !strings.Contains(out.String(), want) {
		t.Errorf("audit show:\n%s\nwant a line %q", out, want)
	}
}
