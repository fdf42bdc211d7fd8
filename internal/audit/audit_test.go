package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixedClock returns a clock that advances by step on every call.
func fixedClock(start time.Time, step time.Duration) func() time.Time {
	var mu sync.Mutex
	t := start
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now := t
		t = t.Add(step)
		return now
	}
}

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func testOptions() Options {
	return Options{Now: fixedClock(t0, 250*time.Millisecond), NoSync: true}
}

// sampleEvents is a finished run of 7 records.
func sampleEvents() []Event {
	return []Event{
		{Phase: PhaseStart, Result: StartInfo{Version: "test", Playbook: "suspected-key-leak", PlaybookSHA256: strings.Repeat("ab", 32), Mode: "execute", Accounts: []string{"acct-a", "acct-b"}}},
		{Step: "freeze", Account: "acct-a", Action: "orders.cancel_all", Phase: PhaseIntent, Request: map[string]string{"target": "BTCUSDT", "product": "spot"}},
		{Step: "freeze", Account: "acct-a", Action: "orders.cancel_all", Phase: PhaseOutcome, Request: map[string]string{"target": "BTCUSDT"}, Result: map[string]any{"cancelled": 3}},
		{Step: "freeze", Phase: PhaseInfo, Result: map[string]any{"summary": "2 accounts frozen"}},
		{Step: "revoke", Account: "acct-b", Action: "keys.revoke", Phase: PhaseIntent, Request: map[string]string{"target": "key 6650…"}},
		{Step: "revoke", Account: "acct-b", Action: "keys.revoke", Phase: PhaseOutcome, Result: map[string]any{"error": "rejected"}},
		{Phase: PhaseEnd, Result: map[string]any{"summary": "1 step failed"}},
	}
}

// writeLog writes events to a new log in a temp run dir and returns the
// run dir, the log file's lines (without newlines) and the head.
func writeLog(t *testing.T, events []Event) (dir string, lines []string, head string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "runs", "run-1")
	l, err := Create(dir, "run-1", testOptions())
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	for _, e := range events {
		if _, err := l.Append(e); err != nil {
			t.Fatalf("Append(%s): %v", e.Phase, err)
		}
	}
	head = l.Head()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	data, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	return dir, strings.Split(strings.TrimSuffix(string(data), "\n"), "\n"), head
}

func joinLines(lines []string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }

var prevHashRe = regexp.MustCompile(`"prev_hash":"[0-9a-f]{64}"\}$`)

// rechain recomputes prev_hash and hash of every line, as an attacker who
// knows the scheme would after editing. Lines that are not records are kept.
func rechain(t *testing.T, lines []string) []string {
	t.Helper()
	out := make([]string, len(lines))
	prev := GenesisHash
	for i, ln := range lines {
		cut := strings.LastIndex(ln, `,"hash":"`)
		if cut < 0 {
			out[i] = ln
			continue
		}
		body := prevHashRe.ReplaceAllString(ln[:cut]+"}", `"prev_hash":"`+prev+`"}`)
		sum := sha256.Sum256([]byte(prev + "\n" + body))
		h := hex.EncodeToString(sum[:])
		out[i] = body[:len(body)-1] + `,"hash":"` + h + `"}`
		prev = h
	}
	return out
}

func hashOf(t *testing.T, line string) string {
	t.Helper()
	var r Record
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatalf("parse %q: %v", line, err)
	}
	return r.Hash
}

func TestLineFormatIsDocumentedChain(t *testing.T) {
	dir := t.TempDir()
	tokyo := time.FixedZone("JST", 9*3600)
	l, err := Create(dir, "r1", Options{Now: func() time.Time { return time.Date(2025, 1, 2, 12, 4, 5, 500_000_000, tokyo) }, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rec, err := l.Append(Event{Step: "s", Phase: PhaseStart, Request: map[string]string{"z": "1", "a": "2"}, Result: json.RawMessage(`{ "mode" : "dry-run" }`)})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	body := `{"seq":1,"time":"2025-01-02T03:04:05.5Z","run_id":"r1","step":"s","phase":"start","request":{"a":"2","z":"1"},"result":{"mode":"dry-run"},"prev_hash":"` + GenesisHash + `"}`
	sum := sha256.Sum256([]byte(GenesisHash + "\n" + body))
	wantHash := hex.EncodeToString(sum[:])
	want := body[:len(body)-1] + `,"hash":"` + wantHash + `"}` + "\n"
	if got := string(data); got != want {
		t.Errorf("line on disk:\n got %s\nwant %s", got, want)
	}
	if rec.Hash != wantHash || l.Head() != wantHash {
		t.Errorf("returned hash %s, head %s, want %s", rec.Hash, l.Head(), wantHash)
	}
}

func TestVerifyIntact(t *testing.T) {
	dir, lines, head := writeLog(t, sampleEvents())
	for _, path := range []string{dir, filepath.Join(dir, FileName)} {
		for _, want := range []string{"", head} {
			rep, err := Verify(path, want)
			if err != nil {
				t.Fatalf("Verify(%s, %q): %v", path, want, err)
			}
			if rep.Records != len(lines) || rep.Head != head || !rep.Complete || rep.FirstBad != 0 {
				t.Errorf("Verify(%s, %q) = %+v, want %d records, head %s, complete", path, want, rep, len(lines), head)
			}
		}
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	_, lines, head := writeLog(t, sampleEvents())
	n := len(lines)
	cp := func() []string { return append([]string(nil), lines...) }
	tests := []struct {
		name     string
		tamper   func() []string
		wantHead string
		// wantBad is the first bad seq; 0 means intact.
		wantBad     int64
		wantProblem string
	}{
		{name: "edited field", tamper: func() []string {
			l := cp()
			l[2] = strings.Replace(l[2], `"cancelled":3`, `"cancelled":0`, 1)
			return l
		}, wantBad: 3, wantProblem: "hash mismatch"},
		{name: "edited account", tamper: func() []string {
			l := cp()
			l[4] = strings.Replace(l[4], `"acct-b"`, `"acct-c"`, 1)
			return l
		}, wantBad: 5, wantProblem: "hash mismatch"},
		{name: "whitespace inside line", tamper: func() []string {
			l := cp()
			l[3] = strings.Replace(l[3], `,"phase"`, `, "phase"`, 1)
			return l
		}, wantBad: 4, wantProblem: "hash mismatch"},
		{name: "trailing space in line", tamper: func() []string {
			l := cp()
			l[1] += " "
			return l
		}, wantBad: 2, wantProblem: "not an audit record"},
		{name: "edited hash", tamper: func() []string {
			l := cp()
			last := l[1][len(l[1])-3]
			flip := map[bool]string{true: "1", false: "0"}[last == '0']
			l[1] = l[1][:len(l[1])-3] + flip + `"}`
			return l
		}, wantBad: 2, wantProblem: "hash mismatch"},
		{name: "edited and rehashed record", tamper: func() []string {
			l := cp()
			l[2] = strings.Replace(l[2], `"cancelled":3`, `"cancelled":0`, 1)
			r := rechain(t, l)
			l[2] = r[2] // only this line rehashed: the next prev_hash breaks
			return l
		}, wantBad: 4, wantProblem: "prev_hash"},
		{name: "inserted copy", tamper: func() []string {
			l := cp()
			return append(l[:4:4], append([]string{lines[1]}, lines[4:]...)...)
		}, wantBad: 5, wantProblem: "found seq 2 where seq 5"},
		{name: "inserted crafted record", tamper: func() []string {
			// A valid seq 4 chained to seq 3: only the original seq 4 after it breaks.
			l := cp()
			forged := rechain(t, append(cp()[:3], strings.Replace(lines[3], "2 accounts frozen", "all good", 1)))[3]
			return append(l[:3:3], append([]string{forged}, lines[3:]...)...)
		}, wantBad: 5, wantProblem: "found seq 4 where seq 5"},
		{name: "deleted record", tamper: func() []string {
			l := cp()
			return append(l[:3:3], l[4:]...)
		}, wantBad: 4, wantProblem: "found seq 5 where seq 4"},
		{name: "deleted first record", tamper: func() []string { return cp()[1:] }, wantBad: 1, wantProblem: "found seq 2 where seq 1"},
		{name: "reordered records", tamper: func() []string {
			l := cp()
			l[2], l[3] = l[3], l[2]
			return l
		}, wantBad: 3, wantProblem: "found seq 4 where seq 3"},
		{name: "truncated, no head given", tamper: func() []string { return cp()[:n-2] }, wantBad: 0},
		{name: "truncated, head given", tamper: func() []string { return cp()[:n-2] }, wantHead: head, wantBad: int64(n - 1), wantProblem: "head mismatch"},
		{name: "appended after head", tamper: func() []string { return cp() }, wantHead: hashOf(t, lines[4]), wantBad: 6, wantProblem: "after the expected head (seq 5)"},
		{name: "rewritten chain, no head given", tamper: func() []string {
			l := cp()
			l[2] = strings.Replace(l[2], `"cancelled":3`, `"cancelled":0`, 1)
			return rechain(t, l)
		}, wantBad: 0},
		{name: "rewritten chain, head given", tamper: func() []string {
			l := cp()
			l[2] = strings.Replace(l[2], `"cancelled":3`, `"cancelled":0`, 1)
			return rechain(t, l)
		}, wantHead: head, wantBad: int64(n + 1), wantProblem: "head mismatch"},
		{name: "garbage line", tamper: func() []string {
			l := cp()
			return append(l[:2:2], append([]string{"hello world"}, l[2:]...)...)
		}, wantBad: 3, wantProblem: "not an audit record"},
		{name: "blank line", tamper: func() []string {
			l := cp()
			return append(l[:1:1], append([]string{""}, l[1:]...)...)
		}, wantBad: 2, wantProblem: "not an audit record"},
		{name: "invalid json with hash suffix", tamper: func() []string {
			l := cp()
			l[1] = `{"seq":2,,"hash":"` + strings.Repeat("a", 64) + `"}`
			return l
		}, wantBad: 2, wantProblem: "not valid JSON"},
		{name: "seq gap, rechained", tamper: func() []string {
			l := cp()
			return rechain(t, append(l[:3:3], l[4:]...))
		}, wantBad: 4, wantProblem: "found seq 5 where seq 4"},
		{name: "seq duplicate, rechained", tamper: func() []string {
			l := cp()
			return rechain(t, append(l[:3:3], l[2:]...))
		}, wantBad: 4, wantProblem: "found seq 3 where seq 4"},
		{name: "run_id changed, rechained", tamper: func() []string {
			l := cp()
			l[4] = strings.Replace(l[4], `"run_id":"run-1"`, `"run_id":"run-2"`, 1)
			return rechain(t, l)
		}, wantBad: 5, wantProblem: `run_id changed from "run-1" to "run-2"`},
		{name: "first record not start, rechained", tamper: func() []string {
			l := cp()
			l[0] = strings.Replace(l[0], `"phase":"start"`, `"phase":"info"`, 1)
			return rechain(t, l)
		}, wantBad: 1, wantProblem: "first record has phase"},
		{name: "unknown phase, rechained", tamper: func() []string {
			l := cp()
			l[3] = strings.Replace(l[3], `"phase":"info"`, `"phase":"note"`, 1)
			return rechain(t, l)
		}, wantBad: 4, wantProblem: `unknown phase "note"`},
		{name: "record after end, rechained", tamper: func() []string {
			l := cp()
			extra := strings.Replace(l[3], `"seq":4`, fmt.Sprintf(`"seq":%d`, n+1), 1)
			return rechain(t, append(l, extra))
		}, wantBad: int64(n + 1), wantProblem: "after the end record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, rep := verifyBytes(joinLines(tt.tamper()), tt.wantHead)
			if rep.FirstBad != tt.wantBad {
				t.Fatalf("FirstBad = %d (%s), want %d", rep.FirstBad, rep.Problem, tt.wantBad)
			}
			if !strings.Contains(rep.Problem, tt.wantProblem) {
				t.Errorf("Problem = %q, want it to contain %q", rep.Problem, tt.wantProblem)
			}
			if tt.wantBad != 0 && rep.Records != int(tt.wantBad-1) {
				t.Errorf("Records = %d, want %d (those before the first bad)", rep.Records, tt.wantBad-1)
			}
			if len(recs) != rep.Records {
				t.Errorf("got %d records back, report says %d", len(recs), rep.Records)
			}
		})
	}
}

func TestVerifyPartialAndIncomplete(t *testing.T) {
	_, lines, _ := writeLog(t, sampleEvents())
	n := len(lines)
	full := joinLines(lines)
	tests := []struct {
		name         string
		data         []byte
		wantBad      int64
		wantComplete bool
		wantRecords  int
	}{
		{"complete", full, 0, true, n},
		{"crashed run, no end record", joinLines(lines[:4]), 0, false, 4},
		{"partial last line", full[:len(full)-40], int64(n), false, n - 1},
		{"last line without newline", full[:len(full)-1], int64(n), false, n - 1},
		{"empty", nil, 1, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, rep := verifyBytes(tt.data, "")
			if rep.FirstBad != tt.wantBad || rep.Complete != tt.wantComplete || rep.Records != tt.wantRecords {
				t.Errorf("got FirstBad=%d Complete=%v Records=%d (%s), want %d %v %d",
					rep.FirstBad, rep.Complete, rep.Records, rep.Problem, tt.wantBad, tt.wantComplete, tt.wantRecords)
			}
		})
	}
}

func TestVerifyErrors(t *testing.T) {
	dir, lines, head := writeLog(t, sampleEvents())
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, joinLines(lines[:3]), 0o600); err != nil {
		t.Fatal(err)
	}
	// Incomplete without a head: not an error.
	if rep, err := Verify(dir, ""); err != nil || rep.Complete {
		t.Errorf("Verify(incomplete) = %+v, %v; want incomplete and nil error", rep, err)
	}
	// Against the head: tampered.
	rep, err := Verify(dir, head)
	if !errors.Is(err, ErrTampered) || rep.FirstBad != 4 {
		t.Errorf("Verify(truncated, head) = %+v, %v; want FirstBad 4 and ErrTampered", rep, err)
	}
	// Missing file: an error that is not ErrTampered.
	_, err = Verify(filepath.Join(dir, "nope"), "")
	if err == nil || errors.Is(err, ErrTampered) {
		t.Errorf("Verify(missing) error = %v, want a read error", err)
	}
}

func TestConcurrentAppend(t *testing.T) {
	const workers, each = 16, 40
	dir := t.TempDir()
	l, err := Create(dir, "run-c", Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(Event{Phase: PhaseStart}); err != nil {
		t.Fatal(err)
	}
	seqs := make(chan int64, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				rec, err := l.Append(Event{Step: fmt.Sprintf("w%d", w), Phase: PhaseInfo, Request: map[string]string{"i": fmt.Sprint(i)}})
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				seqs <- rec.Seq
			}
		})
	}
	wg.Wait()
	close(seqs)
	seen := map[int64]bool{}
	for s := range seqs {
		if seen[s] {
			t.Errorf("seq %d returned twice", s)
		}
		seen[s] = true
	}
	if _, err := l.Append(Event{Phase: PhaseEnd}); err != nil {
		t.Fatal(err)
	}
	head := l.Head()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	want := 1 + workers*each + 1
	rep, err := Verify(dir, head)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Records != want || !rep.Complete {
		t.Errorf("Verify = %+v, want %d records, complete", rep, want)
	}
	recs, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d, want %d", i, r.Seq, i+1)
		}
	}
}

func TestOpenContinuesChain(t *testing.T) {
	events := sampleEvents()
	dir, _, _ := writeLog(t, events[:3])
	l, err := Open(dir, testOptions())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if l.Seq() != 3 || l.RunID() != "run-1" {
		t.Errorf("Open: seq %d run %q, want 3 run-1", l.Seq(), l.RunID())
	}
	var last Record
	for _, e := range events[3:] {
		if last, err = l.Append(e); err != nil {
			t.Fatalf("Append after Open: %v", err)
		}
	}
	if last.Seq != int64(len(events)) {
		t.Errorf("last seq = %d, want %d", last.Seq, len(events))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(dir, last.Hash)
	if err != nil {
		t.Fatalf("Verify after resume: %v", err)
	}
	if rep.Records != len(events) || !rep.Complete {
		t.Errorf("Verify = %+v, want %d records, complete", rep, len(events))
	}
	// A finished run cannot be reopened.
	if _, err := Open(dir, testOptions()); !errors.Is(err, ErrEnded) {
		t.Errorf("Open(finished) error = %v, want ErrEnded", err)
	}
}

func TestOpenRefuses(t *testing.T) {
	events := sampleEvents()
	tests := []struct {
		name    string
		content func(lines []string) []byte
		wantErr error
	}{
		{"tampered", func(l []string) []byte {
			l[1] = strings.Replace(l[1], "BTCUSDT", "ETHUSDT", 1)
			return joinLines(l)
		}, ErrTampered},
		{"partial last line", func(l []string) []byte { b := joinLines(l); return b[:len(b)-5] }, ErrTampered},
		{"empty", func([]string) []byte { return nil }, ErrTampered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, lines, _ := writeLog(t, events[:3])
			if err := os.WriteFile(filepath.Join(dir, FileName), tt.content(lines), 0o600); err != nil {
				t.Fatal(err)
			}
			l, err := Open(dir, testOptions())
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Open error = %v, want %v", err, tt.wantErr)
			}
			if l != nil {
				l.Close()
				t.Errorf("Open returned a log")
			}
		})
	}
}

// failingFile fails its failAt-th write (1-based) or every sync.
type failingFile struct {
	bytes.Buffer
	writes   int
	failAt   int
	failSync bool
}

func (f *failingFile) Write(p []byte) (int, error) {
	f.writes++
	if f.writes == f.failAt {
		n, _ := f.Buffer.Write(p[:len(p)/2])
		return n, errors.New("disk full")
	}
	return f.Buffer.Write(p)
}

func (f *failingFile) Sync() error {
	if f.failSync {
		return errors.New("sync failed")
	}
	return nil
}

func (f *failingFile) Close() error { return nil }

func TestFailClosed(t *testing.T) {
	tests := []struct {
		name string
		// setup returns a log whose third append fails.
		setup   func(t *testing.T) *Log
		wantErr string
	}{
		{"write error", func(t *testing.T) *Log {
			return newLog("mem", "r", &failingFile{failAt: 3}, Options{NoSync: true})
		}, "disk full"},
		{"sync error", func(t *testing.T) *Log {
			ff := &failingFile{}
			l := newLog("mem", "r", ff, Options{})
			// Let the first two records through, durable (an intent
			// waits for its fsync), then fail syncs.
			for _, e := range []Event{{Phase: PhaseStart}, {Phase: PhaseIntent}} {
				if _, err := l.Append(e); err != nil {
					t.Fatal(err)
				}
			}
			ff.failSync = true
			return l
		}, "sync failed"},
		{"file closed underneath", func(t *testing.T) *Log {
			l, err := Create(t.TempDir(), "r", Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range []Event{{Phase: PhaseStart}, {Phase: PhaseInfo}} {
				if _, err := l.Append(e); err != nil {
					t.Fatal(err)
				}
			}
			l.f.(*os.File).Close()
			return l
		}, "file already closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.setup(t)
			for l.Seq() < 2 {
				phase := PhaseInfo
				if l.Seq() == 0 {
					phase = PhaseStart
				}
				if _, err := l.Append(Event{Phase: phase}); err != nil {
					t.Fatalf("Append before failure: %v", err)
				}
			}
			head := l.Head()
			_, err := l.Append(Event{Phase: PhaseIntent})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("failing Append error = %v, want it to contain %q", err, tt.wantErr)
			}
			for i := range 3 {
				_, err2 := l.Append(Event{Phase: PhaseInfo})
				if err2 != err {
					t.Errorf("Append %d after failure error = %v, want the first failure %v", i, err2, err)
				}
			}
			if l.Err() != err {
				t.Errorf("Err() = %v, want %v", l.Err(), err)
			}
			if l.Head() != head || l.Seq() != 2 {
				t.Errorf("after failure head/seq = %s/%d, want %s/2", l.Head(), l.Seq(), head)
			}
		})
	}
}

func TestAppendRules(t *testing.T) {
	l, err := Create(t.TempDir(), "r", Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	steps := []struct {
		name    string
		event   Event
		wantErr error // nil: succeeds; errAny: any error
	}{
		{"info before start", Event{Phase: PhaseInfo}, errAny},
		{"unknown phase", Event{Phase: "note"}, errAny},
		{"start", Event{Phase: PhaseStart}, nil},
		{"second start", Event{Phase: PhaseStart}, errAny},
		{"unmarshalable result", Event{Phase: PhaseInfo, Result: make(chan int)}, errAny},
		{"info after bad result", Event{Phase: PhaseInfo}, nil},
		{"end", Event{Phase: PhaseEnd}, nil},
		{"after end", Event{Phase: PhaseInfo}, ErrEnded},
	}
	for _, s := range steps {
		_, err := l.Append(s.event)
		switch {
		case s.wantErr == nil && err != nil:
			t.Errorf("%s: got error %v, want none", s.name, err)
		case s.wantErr == errAny && err == nil, s.wantErr != nil && s.wantErr != errAny && !errors.Is(err, s.wantErr):
			t.Errorf("%s: got error %v, want %v", s.name, err, s.wantErr)
		}
	}
	if got := l.Seq(); got != 3 {
		t.Errorf("seq after rules = %d, want 3", got)
	}
	l.Close()
	if _, err := l.Append(Event{Phase: PhaseInfo}); !errors.Is(err, ErrEnded) && !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close error = %v, want ErrClosed or ErrEnded", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

var errAny = errors.New("any error")

func TestAppendAfterClose(t *testing.T) {
	l, err := Create(t.TempDir(), "r", Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(Event{Phase: PhaseStart}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(Event{Phase: PhaseInfo}); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close error = %v, want ErrClosed", err)
	}
}

func TestCreateModesAndExclusive(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runs", "run-m")
	l, err := Create(dir, "run-m", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(Event{Phase: PhaseStart}); err != nil {
		t.Fatalf("Append with fsync: %v", err)
	}
	l.Close()
	for _, tt := range []struct {
		path string
		want os.FileMode
	}{{dir, 0o700}, {filepath.Dir(dir), 0o700}, {l.Path(), 0o600}} {
		fi, err := os.Stat(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != tt.want {
			t.Errorf("mode of %s = %v, want %v", tt.path, got, tt.want)
		}
	}
	if _, err := Create(dir, "run-m", Options{}); !errors.Is(err, os.ErrExist) {
		t.Errorf("second Create error = %v, want os.ErrExist", err)
	}
	if _, err := Create(t.TempDir(), "", Options{}); err == nil {
		t.Errorf("Create with empty run id: got nil error")
	}
}

func TestReadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	l, err := Create(dir, "run-r", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	var written []Record
	for _, e := range sampleEvents() {
		r, err := l.Append(e)
		if err != nil {
			t.Fatal(err)
		}
		written = append(written, r)
	}
	l.Close()
	got, err := Read(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(written) {
		t.Fatalf("Read returned %d records, want %d", len(got), len(written))
	}
	for i := range got {
		g, w := got[i], written[i]
		if g.Seq != w.Seq || !g.Time.Equal(w.Time) || g.Hash != w.Hash || g.PrevHash != w.PrevHash ||
			g.Phase != w.Phase || g.Step != w.Step || string(g.Result) != string(w.Result) || fmt.Sprint(g.Request) != fmt.Sprint(w.Request) {
			t.Errorf("record %d: got %+v, want %+v", i, g, w)
		}
	}
	if want := t0.Add(250 * time.Millisecond); !got[1].Time.Equal(want) {
		t.Errorf("time of seq 2 = %v, want %v", got[1].Time, want)
	}
}
