package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/runner"
)

// printer renders a run for humans (append-only lines) or as one JSON
// document (--json), never both.
type printer struct {
	w       io.Writer
	json    bool
	start   time.Time
	now     func() time.Time
	notes   []string
	header_ map[string]any
}

func newPrinter(f *Factory, asJSON bool) *printer {
	return &printer{w: f.Out, json: asJSON, now: f.Now, start: f.Now()}
}

var statusMark = map[executors.Status]string{
	executors.StatusOK:          "ok     ",
	executors.StatusChanged:     "CHANGED",
	executors.StatusWouldChange: "WOULD  ",
	executors.StatusSkipped:     "skipped",
	executors.StatusFailed:      "FAILED ",
	executors.StatusPending:     "PENDING",
}

func (p *printer) header(pr *prepared, runID, dir string, o *RunOptions) {
	mode := "execute"
	switch {
	case o.DryRun:
		mode = "dry-run (nothing will be changed)"
	case !o.Yes:
		mode = "plan, then confirm"
	}
	names := make([]string, len(pr.targets))
	for i, t := range pr.targets {
		names[i] = t.Ref.Name + " (" + t.Ref.Exchange + ")"
	}
	p.header_ = map[string]any{"run_id": runID, "run_dir": dir, "playbook": pr.pb.Name, "mode": mode}
	if p.json {
		return
	}
	fmt.Fprintf(p.w, "panicbutton: %s — %s\n", pr.pb.Name, mode)
	fmt.Fprintf(p.w, "accounts: %s\n", strings.Join(names, ", "))
	fmt.Fprintf(p.w, "run: %s\n\n", dir)
}

func (p *printer) note(s string) {
	p.notes = append(p.notes, s)
	if !p.json {
		fmt.Fprintln(p.w, s)
	}
}

func (p *printer) elapsed() string {
	return fmt.Sprintf("%6.2fs", p.now().Sub(p.start).Seconds())
}

// planProgress is quiet: the plan is printed whole when ready.
func (p *printer) planProgress(runner.Event) {}

func (p *printer) progress(e runner.Event) {
	if p.json || e.Kind != "result" || e.Result == nil {
		return
	}
	r := e.Result
	fmt.Fprintf(p.w, "%s  %-18s %-16s %s  %s\n", p.elapsed(), r.Step, r.Account, statusMark[r.Status], r.Summary)
	if r.Status == executors.StatusWouldChange || r.Status == executors.StatusFailed {
		p.changes(r.Result.Changes, "would", 6)
	}
	if len(r.Result.Remaining) > 0 {
		p.changes(r.Result.Remaining, "still there", 10)
	}
}

func (p *printer) changes(cs []executors.Change, verb string, max int) {
	for i, c := range cs {
		if i == max {
			fmt.Fprintf(p.w, "%s      … and %d more (see plan.json)\n", strings.Repeat(" ", 8), len(cs)-max)
			break
		}
		mark := ""
		if c.Irreversible {
			mark = "  [IRREVERSIBLE]"
		}
		fmt.Fprintf(p.w, "%s      %s %s: %s%s\n", strings.Repeat(" ", 8), verb, c.Kind, c.Target, mark)
	}
}

func (p *printer) plan(plan *runner.Report) {
	if p.json {
		return
	}
	fmt.Fprintln(p.w, "PLAN (read from the live accounts just now):")
	for _, r := range plan.Results {
		fmt.Fprintf(p.w, "  %-18s %-16s %s  %s\n", r.Step, r.Account, statusMark[r.Status], r.Summary)
		if r.Status == executors.StatusWouldChange {
			p.changes(r.Result.Changes, "will", 12)
		}
	}
}

func (p *printer) final(rep *runner.Report, plan *runner.Report, dir string) {
	if p.json {
		doc := map[string]any{"run": p.header_, "results": rep, "notes": p.notes, "exit_code": verdict(rep, rep.Mode == runner.ModeDryRun)}
		if plan != nil {
			doc["plan"] = plan
		}
		b, _ := json.MarshalIndent(doc, "", "  ")
		fmt.Fprintln(p.w, string(b))
		return
	}
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
	fmt.Fprintf(p.w, "RESULT: %s in %.1fs (%s)\n", verdictText(rep), rep.Duration.Seconds(), strings.Join(counts, ", "))
	for _, r := range failed {
		fmt.Fprintf(p.w, "  FAILED  %s on %s: %s\n", r.Step, r.Account, r.Summary)
	}
	if len(pending) > 0 {
		fmt.Fprintln(p.w, "\nSTILL TO DO BY HAND (the run is not complete until these are done):")
		for _, r := range pending {
			fmt.Fprintf(p.w, "  • %s on %s: %s\n", r.Step, r.Account, r.Summary)
			for _, m := range r.Result.Manual {
				for _, line := range strings.Split(strings.TrimSpace(m.Instructions), "\n") {
					fmt.Fprintf(p.w, "      %s\n", line)
				}
			}
		}
	}
	fmt.Fprintf(p.w, "\nrun directory: %s\n", dir)
	if rep.AuditHead != "" {
		fmt.Fprintf(p.w, "audit head: %s   (check: panicbutton audit verify %s --head %s)\n", rep.AuditHead, dir, rep.AuditHead)
	}
}

func verdictText(rep *runner.Report) string {
	switch {
	case rep.Interrupted:
		return "INTERRUPTED"
	case rep.Count(executors.StatusFailed) > 0:
		return "SOME STEPS FAILED"
	case rep.Mode == runner.ModeDryRun && rep.Count(executors.StatusWouldChange) > 0:
		return "DRY RUN — changes pending, nothing was changed"
	case rep.Count(executors.StatusPending) > 0:
		return "CONTAINED, MANUAL STEPS PENDING"
	}
	return "OK"
}
