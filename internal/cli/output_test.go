package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/venues"
	"github.com/panicbutton/panicbutton/internal/runner"
)

// lockedBuffer is an io.Writer safe for the runner's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// demoRun runs `panicbutton run args...` against the emulator's demo fund
// (what make demo runs on: a Binance and a KuCoin account, many open
// orders) with a terminal or not, and returns stdout and the exit code.
func demoRun(t *testing.T, tty bool, env map[string]string, args ...string) (string, int) {
	t.Helper()
	return demoRunIn(t, tty, "", env, args...)
}

// demoRunIn is demoRun with stdin.
func demoRunIn(t *testing.T, tty bool, stdin string, env map[string]string, args ...string) (string, int) {
	t.Helper()
	dir := t.TempDir()
	// 15 ms a request: long enough for the spinner to turn.
	cfg := emulator.Config{Loaders: venues.DefaultLoaders(), Latency: 15 * time.Millisecond}
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
	path := filepath.Join(dir, "accounts.yaml")
	if err := srv.WriteAccounts(path, base); err != nil {
		t.Fatal(err)
	}
	getenv := map[string]string{"HOME": dir, "PANICBUTTON_RUNS_DIR": filepath.Join(dir, "runs")}
	for k, v := range env {
		getenv[k] = v
	}
	// The executors' idle connections close first: the emulator waits up
	// to 2 s for every connection to go when it shuts down.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	f := &Factory{
		In: strings.NewReader(stdin), Out: out, ErrOut: errOut,
		IsTTY: func() bool { return tty }, Now: time.Now, Getenv: func(k string) string { return getenv[k] },
		Logger: NewFactory().Logger, Registry: NewRegistry(), Transport: loopbackOnly{base: tr}, Version: "test",
	}
	code := Run(context.Background(), f, append([]string{"run", "--config", path}, args...))
	if strings.Contains(errOut.String(), "error") {
		t.Logf("stderr: %s", errOut.String())
	}
	// Let a stale ticker (there should be none) show itself by writing more.
	time.Sleep(2 * tickEvery)
	if got := out.String(); len(got) == 0 {
		t.Fatalf("no output")
	}
	return out.String(), code
}

// screen replays terminal output (CR, LF, cursor up, erase line, erase
// below, colours ignored) and returns the lines left on the screen.
func screen(t *testing.T, s string) []string {
	t.Helper()
	var lines [][]rune
	row, col := 0, 0
	put := func(r rune) {
		for len(lines) <= row {
			lines = append(lines, nil)
		}
		for len(lines[row]) < col {
			lines[row] = append(lines[row], ' ')
		}
		if col < len(lines[row]) {
			lines[row][col] = r
		} else {
			lines[row] = append(lines[row], r)
		}
		col++
	}
	csi := regexp.MustCompile(`^\x1b\[([0-9;]*)([A-Za-z])`)
	for len(s) > 0 {
		if m := csi.FindStringSubmatch(s); m != nil {
			n, _ := strconv.Atoi(m[1])
			switch m[2] {
			case "A":
				row -= max(n, 1)
				if row < 0 {
					t.Fatalf("cursor moved above the first line")
				}
			case "K":
				if row < len(lines) {
					lines[row] = nil
				}
			case "J":
				if row < len(lines) {
					if col < len(lines[row]) {
						lines[row] = lines[row][:col]
					}
					lines = lines[:row+1]
				}
			case "m":
			default:
				t.Fatalf("unexpected escape %q", m[0])
			}
			s = s[len(m[0]):]
			continue
		}
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		switch r {
		case '\r':
			col = 0
		case '\n':
			row, col = row+1, 0
		default:
			put(r)
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimRight(string(l), " ")
	}
	return out
}

var (
	anyEscape = regexp.MustCompile(`\x1b`)
	sgr       = regexp.MustCompile(`\x1b\[[0-9;]*m`)
	// a result line of freeze on the first demo account
	freezeLine = regexp.MustCompile(`(?m)^ *\d+\.\d\ds  freeze +northwind-master +CHANGED  cancelled .*$`)
)

func TestRunOutputWithoutTerminal(t *testing.T) {
	out, code := demoRun(t, false, nil, "freeze-trading", "--yes")
	if code != ExitOK {
		t.Fatalf("got exit %d, want %d\n%s", code, ExitOK, out)
	}
	if anyEscape.MatchString(out) {
		t.Errorf("got escape sequences without a terminal:\n%q", out)
	}
	if got := len(freezeLine.FindAllString(out, -1)); got != 1 {
		t.Errorf("got %d freeze lines for northwind-master, want 1:\n%s", got, out)
	}
	for _, want := range []string{"panicbutton: freeze-trading — execute\n", "\nRESULT: OK in ", "\naudit head: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not contain %q:\n%s", want, out)
		}
	}
	for _, unwanted := range []string{"running…", " of 6 done", "[", "⠋"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("output contains %q, want plain append-only lines:\n%s", unwanted, out)
		}
	}
}

func TestRunOutputOnTerminal(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		wantColor bool
		width     int
	}{
		{"colour", nil, true, 80},
		{"NO_COLOR", map[string]string{"NO_COLOR": "1"}, false, 80},
		{"narrow terminal", map[string]string{"COLUMNS": "40"}, true, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := demoRun(t, true, tt.env, "freeze-trading", "--yes", "--concurrency", "1")
			if code != ExitOK {
				t.Fatalf("got exit %d, want %d\n%s", code, ExitOK, out)
			}
			if !strings.Contains(out, "\r\x1b[2K") || !strings.Contains(out, "\x1b[") {
				t.Errorf("got no in-place updates on a terminal:\n%q", out)
			}
			if got := sgr.MatchString(out); got != tt.wantColor {
				t.Errorf("got colour %v, want %v", got, tt.wantColor)
			}
			if tt.wantColor && !strings.Contains(out, "RESULT: "+ansiGreen+ansiBold+"OK"+ansiReset) {
				t.Errorf("the verdict is not green:\n%q", out)
			}
			// Every live line fits the terminal, so the cursor arithmetic holds.
			for _, seg := range strings.Split(out, "\r\x1b[2K")[1:] {
				line, _, _ := strings.Cut(seg, "\n")
				if n := utf8.RuneCountInString(sgr.ReplaceAllString(line, "")); n >= tt.width {
					t.Errorf("live line of %d runes on a %d-column terminal: %q", n, tt.width, line)
				}
			}
			// While in flight, rows were spinning above a progress footer.
			plain := sgr.ReplaceAllString(out, "")
			for _, want := range []string{"running…", " of 6 done, "} {
				if tt.width >= 80 && !strings.Contains(plain, want) {
					t.Errorf("live lines never showed %q", want)
				}
			}

			// What stays on the screen is the record: each result once, the
			// counts, the verdict, and no live line left over.
			scr := strings.Join(screen(t, out), "\n")
			if got := len(freezeLine.FindAllString(scr, -1)); got != 1 {
				t.Errorf("got %d freeze lines for northwind-master on the screen, want 1:\n%s", got, scr)
			}
			if !regexp.MustCompile(`freeze +kucoin-main +CHANGED .*\[\d+ cancelled, 0 remaining\]`).MatchString(scr) {
				t.Errorf("the screen does not show the counts of kucoin-main's freeze:\n%s", scr)
			}
			for _, unwanted := range []string{"running…", " of 6 done", "⠋", "⠙"} {
				if strings.Contains(scr, unwanted) {
					t.Errorf("a live line (%q) was left on the screen:\n%s", unwanted, scr)
				}
			}
			if !strings.Contains(scr, "\nRESULT: OK in ") {
				t.Errorf("no verdict on the screen:\n%s", scr)
			}
		})
	}
}

// TestRunOutputConfirmOnTerminal: the plan is read with a live footer,
// printed whole, confirmed, then executed with live progress.
func TestRunOutputConfirmOnTerminal(t *testing.T) {
	out, code := demoRunIn(t, true, "execute\n", nil, "freeze-trading")
	if code != ExitOK {
		t.Fatalf("got exit %d, want %d\n%s", code, ExitOK, out)
	}
	if !strings.Contains(sgr.ReplaceAllString(out, ""), "reading the live state for the plan: ") {
		t.Errorf("no live footer while the plan was read:\n%q", out)
	}
	scr := strings.Join(screen(t, out), "\n")
	plan := strings.Index(scr, "PLAN (read from the live accounts just now):")
	// (The prompt line itself is overwritten here: a real terminal echoes
	// the operator's answer and its newline, the test's does not.)
	prompt := strings.Index(scr, "change(s) planned.")
	result := strings.Index(scr, "\nRESULT: OK in ")
	if plan < 0 || prompt < plan || result < prompt {
		t.Errorf("got plan at %d, prompt at %d, verdict at %d; want them all, in that order:\n%s", plan, prompt, result, scr)
	}
	if got := len(freezeLine.FindAllString(scr, -1)); got != 1 {
		t.Errorf("got %d executed freeze lines for northwind-master, want 1:\n%s", got, scr)
	}
	if strings.Contains(scr, "reading the live state") || strings.Contains(scr, "running…") {
		t.Errorf("a live line was left on the screen:\n%s", scr)
	}
}

func TestRunOutputJSON(t *testing.T) {
	tests := []struct {
		name     string
		tty      bool
		args     []string
		wantCode int
		wantMode string
	}{
		{"terminal, execute", true, []string{"freeze-trading", "--yes", "--json"}, ExitOK, "execute"},
		{"terminal, dry run", true, []string{"freeze-trading", "--dry-run", "--json"}, ExitPlanOnly, "dry-run"},
		{"no terminal, execute", false, []string{"freeze-trading", "--yes", "--json"}, ExitOK, "execute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := demoRun(t, tt.tty, nil, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("got exit %d, want %d\n%s", code, tt.wantCode, out)
			}
			if anyEscape.MatchString(out) {
				t.Errorf("got escape sequences with --json:\n%q", out)
			}
			dec := json.NewDecoder(strings.NewReader(out))
			var doc struct {
				Results struct {
					Mode    string `json:"mode"`
					Results []struct {
						Step, Account, Status string
					} `json:"results"`
				} `json:"results"`
				ExitCode int `json:"exit_code"`
			}
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("stdout is not a JSON document: %v\n%s", err, out)
			}
			if dec.More() || strings.TrimSpace(out[dec.InputOffset():]) != "" {
				t.Errorf("got more than one JSON document on stdout:\n%s", out)
			}
			if doc.Results.Mode != tt.wantMode || doc.ExitCode != tt.wantCode || len(doc.Results.Results) != 6 {
				t.Errorf("got mode %q, exit_code %d, %d results; want %q, %d, 6 (3 steps × 2 accounts)",
					doc.Results.Mode, doc.ExitCode, len(doc.Results.Results), tt.wantMode, tt.wantCode)
			}
		})
	}
}

func TestFit(t *testing.T) {
	p := &printer{width: 20}
	tests := []struct{ in, want string }{
		{"short", "short"},
		{"exactly seventeen", "exactly seventeen"},
		{"much longer than the terminal", "much longer than…"},
		{"ünïcödé ünïcödé ünïcödé", "ünïcödé ünïcödé …"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := p.fit(tt.in, 2); got != tt.want {
				t.Errorf("fit(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestNoticeLines: a notice (an executor telling of a long wait, such as
// KuCoin's CDN blocking the IP) is a line of its own at once, with a
// terminal or without, while planning as while running; --json keeps
// stdout for the document.
func TestNoticeLines(t *testing.T) {
	const text = "KuCoin's CDN is refusing requests from this IP: every KuCoin request of the run waits 31s"
	notice := runner.Event{Kind: "notice", Step: "freeze", Account: "kucoin-main", Text: text}
	for _, c := range []struct {
		name      string
		tty, json bool
		plan      bool
		want      bool
	}{
		{"plain", false, false, false, true},
		{"plain plan", false, false, true, true},
		{"terminal", true, false, false, true},
		{"terminal plan", true, false, true, true},
		{"json", false, true, false, false},
		{"json plan", false, true, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := &lockedBuffer{}
			f := &Factory{Out: out, IsTTY: func() bool { return c.tty }, Now: time.Now, Getenv: func(string) string { return "" }}
			p := newPrinter(f, c.json)
			p.actions = map[string]string{"freeze": "orders.cancel_all"}
			progress := p.progress
			if c.plan {
				progress = p.planProgress
			}
			progress(runner.Event{Kind: "start", Step: "freeze", Account: "kucoin-main"})
			progress(notice)
			p.mu.Lock()
			p.gen++ // stop the live region's ticker
			p.mu.Unlock()
			got := strings.ReplaceAll(regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`).ReplaceAllString(out.String(), ""), "\r", "")
			line := regexp.MustCompile(`(?m)^ *\d+\.\d\ds  freeze +kucoin-main +NOTICE +` + regexp.QuoteMeta(text) + `$`)
			if has := line.MatchString(got); has != c.want {
				t.Errorf("notice line shown: %v, want %v; output:\n%q", has, c.want, got)
			}
		})
	}
}
