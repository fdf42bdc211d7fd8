package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/runner"
)

// printer renders a run in one of three modes, never mixed:
//
//   - --json: nothing until the end, then one JSON document;
//   - no terminal: plain append-only lines, no escape sequences at all;
//   - a terminal: the same lines (coloured unless NO_COLOR is set, with the
//     counts that matter: orders cancelled and remaining, keys revoked)
//     scroll above a live region at the bottom of the screen that is
//     redrawn in place: one line per (step, account) in flight with a
//     spinner and its elapsed time, and a footer with the progress of the
//     whole run. A (step, account) leaves the region for the record as soon
//     as it is done. While a manual step waits for the operator on this
//     terminal, nothing is redrawn.
//
// The runner calls progress from several goroutines (serialised); a ticker
// goroutine redraws the region, so the live state is guarded by mu.
type printer struct {
	w       io.Writer
	json    bool
	live    bool // redraw in place (a terminal, not --json)
	color   bool
	width   int
	start   time.Time
	now     func() time.Time
	notes   []string
	header_ map[string]any
	posture *postureCheck // findings of a posture check; nil: none

	mu       sync.Mutex
	accounts []string          // target accounts, in order
	actions  map[string]string // step id -> action
	active   bool              // the region is in use (a pass is running)
	planning bool              // the pass reads state for the plan
	rows     []*liveRow        // (step, account) in flight, in start order
	done     int               // results of this pass
	paused   int               // manual steps waiting for the operator
	drawn    int               // lines of the region on screen
	frame    int               // spinner frame
	gen      int               // ticker generation: a ticker whose gen is stale exits
	passAt   time.Time         // start of this pass
}

// liveRow is one (step, account) in flight.
type liveRow struct {
	step, account string
	started       time.Time
	manual        bool
}

// maxLiveRows bounds the region's height; the footer counts the rest.
const maxLiveRows = 10

// tickEvery is how often the live lines are redrawn.
const tickEvery = 120 * time.Millisecond

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func newPrinter(f *Factory, asJSON bool) *printer {
	p := &printer{w: f.Out, json: asJSON, now: f.Now, start: f.Now(), width: 80}
	if !asJSON && f.IsTTY != nil && f.IsTTY() {
		p.live = true
		getenv := f.Getenv
		if getenv == nil {
			getenv = func(string) string { return "" }
		}
		p.color = getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
		p.width = termWidth(f.Out, getenv)
	}
	return p
}

// termWidth is the terminal's width, else $COLUMNS, else 80.
func termWidth(w io.Writer, getenv func(string) string) int {
	if fh, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(fh.Fd())); err == nil && cols > 0 {
			return cols
		}
	}
	if n, err := strconv.Atoi(getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return 80
}

var statusMark = map[executors.Status]string{
	executors.StatusOK:          "ok     ",
	executors.StatusChanged:     "CHANGED",
	executors.StatusWouldChange: "WOULD  ",
	executors.StatusSkipped:     "skipped",
	executors.StatusFailed:      "FAILED ",
	executors.StatusPending:     "PENDING",
}

// ANSI colours, used only when p.color.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

var statusColor = map[executors.Status]string{
	executors.StatusOK:          ansiGreen,
	executors.StatusChanged:     ansiGreen + ansiBold,
	executors.StatusWouldChange: ansiYellow,
	executors.StatusSkipped:     ansiDim,
	executors.StatusFailed:      ansiRed + ansiBold,
	executors.StatusPending:     ansiYellow + ansiBold,
}

// paint wraps s in colour when colour is on.
func (p *printer) paint(color, s string) string {
	if !p.color || color == "" {
		return s
	}
	return color + s + ansiReset
}

func (p *printer) header(pr *prepared, runID, dir string, o *RunOptions) {
	mode := "execute"
	switch {
	case o.DryRun:
		mode = "dry-run (nothing will be changed)"
	case !pr.pb.Mutating():
		mode = "read-only (changes nothing, so no confirmation)"
	case !o.Yes:
		mode = "plan, then confirm"
	}
	names := make([]string, len(pr.targets))
	p.accounts = make([]string, len(pr.targets))
	for i, t := range pr.targets {
		names[i] = t.Ref.Name + " (" + t.Ref.Exchange + ")"
		p.accounts[i] = t.Ref.Name
	}
	p.actions = map[string]string{}
	for _, s := range pr.pb.Steps {
		p.actions[s.ID] = s.Action
	}
	p.header_ = map[string]any{"run_id": runID, "run_dir": dir, "playbook": pr.pb.Name, "mode": mode}
	if p.json {
		return
	}
	fmt.Fprintf(p.w, "panicbutton: %s — %s\n", p.paint(ansiBold, pr.pb.Name), mode)
	fmt.Fprintf(p.w, "accounts: %s\n", strings.Join(names, ", "))
	fmt.Fprintf(p.w, "run: %s\n\n", dir)
}

func (p *printer) note(s string) {
	p.notes = append(p.notes, s)
	if !p.json {
		p.mu.Lock()
		p.endPass()
		p.mu.Unlock()
		fmt.Fprintln(p.w, s)
	}
}

func (p *printer) elapsed() string {
	return fmt.Sprintf("%6.2fs", p.now().Sub(p.start).Seconds())
}

// planProgress is quiet without a terminal (the plan is printed whole when
// ready) but for notices (a long wait the reading cannot avoid); on a
// terminal the footer shows how far the reading has got.
func (p *printer) planProgress(e runner.Event) {
	switch {
	case p.live:
		p.liveEvent(e, true)
	case !p.json && e.Kind == "notice":
		p.progress(e)
	}
}

func (p *printer) progress(e runner.Event) {
	switch {
	case p.json:
	case p.live:
		p.liveEvent(e, false)
	case e.Kind == "result" && e.Result != nil:
		p.appendResult(e.Result, false)
	case e.Kind == "hold" || e.Kind == "notice":
		p.mu.Lock()
		fmt.Fprintf(p.w, "%s  %-18s %-16s %s  %s\n", p.elapsed(), e.Step, e.Account, textMark[e.Kind], e.Text)
		p.mu.Unlock()
	}
}

// textMark is the status column of the events that carry a line of text.
var textMark = map[string]string{"hold": "HOLD   ", "notice": "NOTICE "}

// liveEvent updates the region with one runner event.
func (p *printer) liveEvent(e runner.Event, planning bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.active {
		p.active, p.planning, p.done, p.rows, p.paused, p.passAt = true, planning, 0, nil, 0, p.now()
		p.startTicker()
	}
	switch e.Kind {
	case "start":
		row := &liveRow{step: e.Step, account: e.Account, started: p.now(), manual: p.actions[e.Step] == executors.Manual}
		p.rows = append(p.rows, row)
		if row.manual && !planning {
			// The operator is about to be prompted on this terminal.
			p.paused++
			p.clearRegion()
			return
		}
	case "hold", "notice":
		p.clearRegion()
		fmt.Fprintf(p.w, "%s  %-18s %-16s %s  %s\n", p.elapsed(), e.Step, e.Account, p.paint(ansiYellow+ansiBold, textMark[e.Kind]), e.Text)
	case "result":
		if e.Result == nil {
			return
		}
		p.done++
		for i, row := range p.rows {
			if row.step == e.Step && row.account == e.Account {
				p.rows = append(p.rows[:i], p.rows[i+1:]...)
				if row.manual && !planning {
					p.paused--
				}
				break
			}
		}
		if !planning {
			p.clearRegion()
			p.appendResult(e.Result, true)
		}
	}
	p.redraw()
}

// appendResult prints one result as a permanent line (the only output
// without a terminal). On a terminal the status is coloured and the
// counts are added.
func (p *printer) appendResult(r *runner.StepResult, tty bool) {
	mark := statusMark[r.Status]
	summary := r.Summary
	if tty {
		mark = p.paint(statusColor[r.Status], mark)
		if c := countsText(r); c != "" && !strings.Contains(summary, c) {
			summary += "  [" + c + "]"
		}
	}
	fmt.Fprintf(p.w, "%s  %-18s %-16s %s  %s\n", p.elapsed(), r.Step, r.Account, mark, summary)
	if r.Status == executors.StatusWouldChange || r.Status == executors.StatusFailed {
		p.changes(r.Result.Changes, "would", 6)
	}
	if len(r.Result.Remaining) > 0 {
		p.changes(r.Result.Remaining, "still there", 10)
	}
}

// countsText is the few numbers that matter for a result: orders cancelled
// and remaining, keys revoked.
func countsText(r *runner.StepResult) string {
	res := r.Result
	count := func(key string, fallback int) int {
		if n, ok := res.Counts[key]; ok {
			return n
		}
		return fallback
	}
	would := r.Status == executors.StatusWouldChange
	var parts []string
	switch r.Action {
	case executors.OrdersCancelAll:
		if would {
			parts = append(parts, fmt.Sprintf("%d to cancel", len(res.Changes)))
			break
		}
		parts = append(parts, fmt.Sprintf("%d cancelled", count("cancelled", len(res.Changes))),
			fmt.Sprintf("%d remaining", count("remaining", len(res.Remaining))))
	case executors.KeysRevoke:
		if would {
			parts = append(parts, fmt.Sprintf("%d key(s) to revoke", len(res.Changes)))
		} else {
			parts = append(parts, fmt.Sprintf("%d key(s) revoked", len(res.Changes)))
		}
		if len(res.Remaining) > 0 {
			parts = append(parts, fmt.Sprintf("%d remaining", len(res.Remaining)))
		}
		if len(res.Manual) > 0 {
			parts = append(parts, fmt.Sprintf("%d by hand", len(res.Manual)))
		}
	default:
		if len(res.Changes) > 0 {
			verb := "changed"
			if would {
				verb = "to change"
			}
			parts = append(parts, fmt.Sprintf("%d %s", len(res.Changes), verb))
		}
	}
	return strings.Join(parts, ", ")
}

// liveLines renders the region (mu held).
func (p *printer) liveLines() []string {
	spin := p.paint(ansiCyan, spinner[p.frame%len(spinner)])
	total := len(p.accounts) * len(p.actions)
	since := secs(p.now().Sub(p.passAt))
	if p.planning {
		return []string{spin + " " + p.fit(fmt.Sprintf("reading the live state for the plan: %d of %d checks done  %s", p.done, total, since), 2)}
	}
	var lines []string
	for i, row := range p.rows {
		if i == maxLiveRows {
			break
		}
		what := "running…"
		if row.manual {
			what = "waiting for the operator"
		}
		lines = append(lines, spin+" "+p.fit(fmt.Sprintf("%6s  %-18s %-16s %s", secs(p.now().Sub(row.started)), row.step, row.account, what), 2))
	}
	footer := fmt.Sprintf("%d of %d done, %d running", p.done, total, len(p.rows))
	if len(p.rows) > maxLiveRows {
		footer += fmt.Sprintf(" (%d not shown)", len(p.rows)-maxLiveRows)
	}
	if waiting := total - p.done - len(p.rows); waiting > 0 {
		footer += fmt.Sprintf(", %d waiting", waiting)
	}
	lines = append(lines, p.paint(ansiDim, p.fit(fmt.Sprintf("%6s  %s", since, footer), 0)))
	return lines
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

// fit truncates s so that a line of prefix+len(s) runes stays shorter than
// the terminal: a wrapped line would break the cursor arithmetic.
func (p *printer) fit(s string, prefix int) string {
	max := p.width - 1 - prefix
	if max < 8 {
		max = 8
	}
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	rs := []rune(s)
	return string(rs[:max-1]) + "…"
}

// redraw repaints the region in place (mu held). The cursor always rests
// at the start of the line below the region.
func (p *printer) redraw() {
	if !p.active || p.paused > 0 {
		return
	}
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	lines := p.liveLines()
	for _, l := range lines {
		b.WriteString("\r\x1b[2K")
		b.WriteString(l)
		b.WriteString("\n")
	}
	if len(lines) < p.drawn {
		b.WriteString("\x1b[J")
	}
	p.drawn = len(lines)
	_, _ = io.WriteString(p.w, b.String())
}

// clearRegion erases the region from the screen (mu held).
func (p *printer) clearRegion() {
	if p.drawn > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA\r\x1b[J", p.drawn)
	}
	p.drawn = 0
}

// endPass erases the region and stops its ticker (mu held).
func (p *printer) endPass() {
	p.clearRegion()
	p.active = false
	p.gen++
}

// startTicker redraws the region until the pass ends (mu held).
func (p *printer) startTicker() {
	p.gen++
	gen := p.gen
	go func() {
		t := time.NewTicker(tickEvery)
		defer t.Stop()
		for range t.C {
			p.mu.Lock()
			if p.gen != gen {
				p.mu.Unlock()
				return
			}
			p.frame++
			p.redraw()
			p.mu.Unlock()
		}
	}()
}

func (p *printer) changes(cs []executors.Change, verb string, max int) {
	for i, c := range cs {
		if i == max {
			fmt.Fprintf(p.w, "%s      … and %d more (see plan.json)\n", strings.Repeat(" ", 8), len(cs)-max)
			break
		}
		mark := ""
		if c.Irreversible {
			mark = "  " + p.paint(ansiRed+ansiBold, "[IRREVERSIBLE]")
		}
		fmt.Fprintf(p.w, "%s      %s %s: %s%s\n", strings.Repeat(" ", 8), verb, c.Kind, c.Target, mark)
	}
}

func (p *printer) plan(plan *runner.Report) {
	p.planTitled(plan, "PLAN (read from the live accounts just now):")
}

// planTitled prints a plan under title (plan show: a saved plan's time).
func (p *printer) planTitled(plan *runner.Report, title string) {
	if p.json {
		return
	}
	p.mu.Lock()
	p.endPass()
	p.mu.Unlock()
	fmt.Fprintln(p.w, title)
	for _, r := range plan.Results {
		fmt.Fprintf(p.w, "  %-18s %-16s %s  %s\n", r.Step, r.Account, p.paint(statusColor[r.Status], statusMark[r.Status]), r.Summary)
		if r.Status == executors.StatusWouldChange {
			p.changes(r.Result.Changes, "will", 12)
		}
	}
}

// stopped ends a run that executed nothing (plan only, not confirmed): with
// --json it prints the one JSON document (plan, notes, exit code); for
// humans the notes already said it all.
func (p *printer) stopped(plan *runner.Report, code int) {
	if !p.json {
		return
	}
	doc := map[string]any{"run": p.header_, "notes": p.notes, "exit_code": code, "executed": false}
	if plan != nil {
		doc["plan"] = plan
	}
	_ = writeJSON(p.w, doc)
}

func (p *printer) final(rep *runner.Report, plan *runner.Report, dir string) {
	if p.json {
		doc := map[string]any{"run": p.header_, "results": rep, "notes": p.notes, "exit_code": p.posture.exitCode(verdict(rep, rep.Mode == runner.ModeDryRun))}
		if plan != nil {
			doc["plan"] = plan
		}
		p.posture.addJSON(doc)
		_ = writeJSON(p.w, doc)
		return
	}
	p.mu.Lock()
	p.endPass()
	p.mu.Unlock()
	fmt.Fprintln(p.w)
	var pending, failed []runner.StepResult
	for _, r := range rep.Results {
		switch r.Status {
		case executors.StatusPending:
			pending = append(pending, r)
		case executors.StatusFailed:
			failed = append(failed, r)
		}
	}
	counts := make([]string, 0, len(rep.Counts))
	for s, n := range rep.Counts {
		counts = append(counts, fmt.Sprintf("%d %s", n, s))
	}
	sort.Strings(counts)
	fmt.Fprintf(p.w, "RESULT: %s in %.1fs (%s)\n", p.paint(verdictColor(rep), verdictText(rep)), rep.Duration.Seconds(), strings.Join(counts, ", "))
	for _, r := range failed {
		fmt.Fprintf(p.w, "  %s  %s on %s: %s\n", p.paint(ansiRed+ansiBold, "FAILED"), r.Step, r.Account, r.Summary)
	}
	if left := rep.Verdict.Left; len(left) > 0 {
		fmt.Fprintf(p.w, "\n%s\n", p.paint(ansiRed+ansiBold, "STILL THERE (seen or inferred; the run is not contained until these are gone):"))
		for _, l := range left {
			fmt.Fprintf(p.w, "  • %s on %s (%s): %s\n", l.Kind, l.Account, l.Step, l.Target)
			if l.Manual != "" {
				fmt.Fprintf(p.w, "      %s\n", firstLineOf(l.Manual))
			}
		}
	}
	if len(pending) > 0 {
		fmt.Fprintf(p.w, "\n%s\n", p.paint(ansiYellow+ansiBold, "STILL TO DO BY HAND (the run is not complete until these are done):"))
		for _, r := range pending {
			fmt.Fprintf(p.w, "  • %s on %s: %s\n", r.Step, r.Account, r.Summary)
			for _, m := range r.Result.Manual {
				for _, line := range strings.Split(strings.TrimSpace(m.Instructions), "\n") {
					fmt.Fprintf(p.w, "      %s\n", line)
				}
			}
		}
	}
	p.posture.print(p)
	fmt.Fprintf(p.w, "\nrun directory: %s\n", dir)
	if rep.AuditHead != "" {
		fmt.Fprintf(p.w, "audit head: %s   (check: panicbutton audit verify %s --head %s)\n", rep.AuditHead, dir, rep.AuditHead)
	}
}

// verdictColor is green for OK, red for failures, yellow for the rest.
func verdictColor(rep *runner.Report) string {
	switch verdictText(rep) {
	case "OK":
		return ansiGreen + ansiBold
	case "SOME STEPS FAILED", "INTERRUPTED":
		return ansiRed + ansiBold
	}
	if !rep.Verdict.Contained && rep.Mode != runner.ModeDryRun {
		return ansiRed + ansiBold
	}
	return ansiYellow + ansiBold
}

func verdictText(rep *runner.Report) string {
	switch {
	case rep.Mode != runner.ModeDryRun && !rep.Interrupted && rep.Count(executors.StatusFailed) == 0 && !rep.Verdict.Contained && rep.Verdict.Text != "":
		return rep.Verdict.Text
	case rep.Interrupted:
		return "INTERRUPTED"
	case rep.Count(executors.StatusFailed) > 0:
		return "SOME STEPS FAILED"
	case rep.Mode == runner.ModeDryRun && rep.Count(executors.StatusWouldChange) > 0:
		return "DRY RUN — changes pending, nothing was changed"
	case rep.Mode == runner.ModeDryRun:
		return "DRY RUN — nothing would change, nothing was changed"
	case rep.Count(executors.StatusPending) > 0:
		return "CONTAINED, MANUAL STEPS PENDING"
	}
	return "OK"
}

// writeJSON prints v as one indented JSON document (the --json output of
// every command).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

func firstLineOf(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
