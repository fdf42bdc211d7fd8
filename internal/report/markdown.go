package report

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Markdown renders the report as Markdown (report.md).
func (r *Report) Markdown() []byte {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("# Incident report: %s\n\n", mdText(r.Playbook))
	p("## %s %s\n\n", verdictIcon(r.Verdict.Kind), strings.ToUpper(mdText(r.Verdict.Title)))
	p("%s\n\n", mdText(r.Verdict.Detail))
	if !r.Audit.Intact {
		p("> **WARNING: the audit trail is NOT intact** (first bad record: seq %d: %s). Do not trust this report; keep the file as evidence.\n\n",
			r.Audit.FirstBad, mdText(r.Audit.Problem))
	}
	if n := r.UnexplainedDecreases(); n > 0 {
		p("> **WARNING: %s went down during the run for no reason the run explains.** See Balances below.\n\n", plural(n, "balance"))
	}

	p("| | |\n|---|---|\n")
	p("| Time to contain | %s |\n", mdCell(r.containText()))
	p("| Run | `%s` |\n", mdCode(r.RunID))
	p("| Mode | %s |\n", mdCell(r.Mode))
	p("| Playbook | %s (`%s`) |\n", mdCell(r.Playbook), mdCode(r.PlaybookFile))
	p("| Playbook SHA-256 | `%s` |\n", mdCode(r.PlaybookSHA256))
	p("| Accounts | %s |\n", mdCell(strings.Join(r.Accounts, ", ")))
	p("| Started | %s |\n", r.Started.UTC().Format(time.RFC3339))
	p("| Duration | %s |\n", fmtDur(r.Duration))
	if len(r.Resumes) > 0 {
		p("| Resumed | %s |\n", mdCell(plural(len(r.Resumes), "time")))
	}
	p("| Results | %s |\n", mdCell(r.countsText()))
	p("| Audit trail | %s |\n", mdCell(r.auditText()))
	p("| Audit head | `%s` |\n\n", mdCode(r.Audit.Head))

	if len(r.Pending) > 0 {
		p("## ⚠ Still to do: %s\n\n", plural(len(r.Pending), "manual step"))
		p("The API cannot do these. Do them now, in this order, then run the playbook again to confirm.\n\n")
		for i, m := range r.Pending {
			p("### %d. %s: %s (step %s)\n\n", i+1, mdText(m.Account), mdText(m.Title), mdText(m.Step))
			p("```text\n%s\n```\n\n", strings.ReplaceAll(strings.TrimRight(m.Instructions, "\n"), "```", "'''"))
			if m.Verify != "" {
				p("Verified by: %s\n\n", mdText(m.Verify))
			}
		}
	}

	if len(r.Resumes) > 0 {
		p("## Resumed\n\nThe run stopped and was resumed with `panicbutton run --resume`, appending to the same audit trail. Times to contain and the timeline count from the first start.\n\n")
		for _, res := range r.Resumes {
			p("- %s\n", mdText(res.Text()))
		}
		p("\n")
	}

	if len(r.Failures) > 0 {
		p("## Failures\n\n| Account | Step | Action | Error class | Attempts | Error |\n|---|---|---|---|---|---|\n")
		for _, f := range r.Failures {
			msg := f.Error
			if msg == "" {
				msg = f.Summary
			}
			p("| %s | %s | %s | %s | %d | %s |\n", mdCell(f.Account), mdCell(f.Step), mdCell(f.Action), mdCell(dashIfEmpty(f.ErrorClass)), f.Attempts, mdCell(msg))
		}
		p("\n")
	}

	if len(r.Notices) > 0 {
		p("## Waits and notices\n\nWhat the run told the operator while steps ran: why a step waited.\n\n| Time (s) | Account | Step | Notice |\n|--:|---|---|---|\n")
		for _, n := range r.Notices {
			p("| %s | %s | %s | %s |\n", secs(n.At), mdCell(n.Account), mdCell(n.Step), mdCell(n.Text))
		}
		p("\n")
	}

	p("## Timeline\n\nSeconds from the start of the run; one column per account.\n\n")
	p("| Step |")
	for _, l := range r.Timeline {
		p(" %s |", mdCell(l.Account))
	}
	p("\n|---|")
	for range r.Timeline {
		p("---|")
	}
	p("\n")
	for _, s := range r.Steps {
		if !r.hasBars(s.ID) {
			continue
		}
		p("| %s (%s) |", mdCell(s.ID), mdCell(s.Action))
		for _, l := range r.Timeline {
			cell := "—"
			for _, bar := range l.Bars {
				if bar.Step == s.ID {
					cell = fmt.Sprintf("**%s** %s–%s s: %s", mdCell(bar.Status), secs(bar.Start), secs(bar.End), mdCell(bar.Summary))
				}
			}
			p(" %s |", cell)
		}
		p("\n")
	}
	p("\n")

	if len(r.Balances) > 0 {
		p("## Balances before and after\n\n")
		for _, bal := range r.Balances {
			p("### %s (%s → %s)\n\n", mdText(bal.Account), mdText(bal.BeforeStep), mdText(bal.AfterStep))
			p("| Sub-account | Wallet | Asset | Before | After | Change |\n|---|---|---|--:|--:|--:|\n")
			for _, row := range bal.Rows {
				diff := mdCell(row.Diff)
				switch {
				case row.Unexplained:
					diff = "**" + diff + " ⚠ unexplained decrease**"
				case row.Sign < 0:
					diff = "**" + diff + "** (" + mdCell(row.Explained) + ")"
				case row.Sign > 0:
					diff = "**" + diff + "**"
				}
				p("| %s | %s | %s | %s | %s | %s |\n", mdCell(subName(row.Sub)), mdCell(row.Wallet), mdCell(row.Asset), mdCell(row.Before), mdCell(row.After), diff)
			}
			for _, e := range bal.Errors {
				p("\nCould not read: %s\n", mdText(e))
			}
			p("\n")
		}
	}

	p("## Cancelled and revoked\n\n")
	if len(r.Changes) == 0 {
		p("Nothing was changed.\n\n")
	} else {
		if r.Mode == "dry-run" {
			p("Dry run: these changes **would** be made.\n\n")
		}
		p("%s.\n\n", mdText(r.changesText()))
		p("| Account | Step | Kind | Target |\n|---|---|---|---|\n")
		for _, c := range r.Changes {
			kind := c.Kind
			if c.Irreversible {
				kind += " (irreversible)"
			}
			p("| %s | %s | %s | %s |\n", mdCell(c.Account), mdCell(c.Step), mdCell(kind), mdCell(c.Target))
		}
		p("\n")
	}
	if len(r.Remaining) > 0 {
		p("### Still there after the run\n\n| Account | Step | Kind | Target |\n|---|---|---|---|\n")
		for _, c := range r.Remaining {
			p("| %s | %s | %s | %s |\n", mdCell(c.Account), mdCell(c.Step), mdCell(c.Kind), mdCell(c.Target))
		}
		p("\n")
	}
	if len(r.Caught) > 0 {
		p("### Caught while holding the line\n\nWhile the account's own key was still alive, panicbutton kept undoing what appeared after containment:\n\n| Account | Step | Kind | Target |\n|---|---|---|---|\n")
		for _, c := range r.Caught {
			p("| %s | %s | %s | %s |\n", mdCell(c.Account), mdCell(c.Step), mdCell(c.Kind), mdCell(c.Target))
		}
		p("\n")
	}
	if r.RunVerdict != nil && len(r.RunVerdict.Left) > 0 {
		p("### Still there: what keeps the run from being contained\n\n| Account | Step | Kind | Target | What to do |\n|---|---|---|---|---|\n")
		for _, l := range r.RunVerdict.Left {
			p("| %s | %s | %s | %s | %s |\n", mdCell(l.Account), mdCell(l.Step), mdCell(l.Kind), mdCell(l.Target), mdCell(l.Manual))
		}
		p("\n")
	}
	if len(r.Mutations) > 0 {
		p("### Requests sent to the exchanges\n\n| Time (s) | Account | Step | Kind | Target | Result |\n|--:|---|---|---|---|---|\n")
		for _, m := range r.Mutations {
			p("| %s | %s | %s | %s | %s | %s |\n", secs(m.Time.Sub(r.Started)), mdCell(m.Account), mdCell(m.Step), mdCell(m.Kind), mdCell(m.Target), mdCell(m.resultText()))
		}
		p("\n")
	}

	r.markdownRehearsal(p)

	if len(r.Findings) > 0 {
		p("## Risky keys and other findings\n\n| Severity | Account | Subject | Finding | Fix |\n|---|---|---|---|---|\n")
		for _, f := range r.SortedFindings() {
			p("| %s | %s | %s | %s | %s |\n", mdCell(f.Severity), mdCell(f.Account), mdCell(f.Subject), mdCell(f.Text()), mdCell(f.Fix))
		}
		p("\n")
	}

	p("## Run details\n\n| | |\n|---|---|\n")
	p("| Tool version | %s |\n", mdCell(dashIfEmpty(r.ToolVersion)))
	if r.ConfirmedBy != "" {
		p("| Confirmed by | %s |\n", mdCell(r.ConfirmedBy))
	}
	if r.PlanSHA256 != "" {
		p("| Plan SHA-256 | `%s` |\n", mdCode(r.PlanSHA256))
	}
	for _, k := range sortedKeys(r.Inputs) {
		p("| Input %s | %s |\n", mdCell(k), mdCell(dashIfEmpty(r.Inputs[k])))
	}
	if r.AuditDegraded {
		p("| Audit degraded | yes: mutations were allowed even if the trail could not be written |\n")
	}
	p("| Records | %d |\n\n", r.Audit.Records)
	p("Built from the audit trail alone. Check it with `panicbutton audit verify RUN_DIR --head %s`.\n", mdCode(r.Audit.Head))
	return b.Bytes()
}

func verdictIcon(k VerdictKind) string {
	switch k {
	case VerdictContained:
		return "✅"
	case VerdictContainedManual:
		return "⚠️"
	case VerdictDryRun:
		return "ℹ️"
	}
	return "❌"
}

func (r *Report) hasBars(step string) bool {
	for _, l := range r.Timeline {
		for _, b := range l.Bars {
			if b.Step == step {
				return true
			}
		}
	}
	return false
}

func (r *Report) containText() string {
	if !r.HasContainTime {
		if r.Mode == "dry-run" {
			return "— (dry run: nothing was sent)"
		}
		return "— (no order was cancelled and no key revoked)"
	}
	return fmtDur(r.TimeToContain) + " (from the start to the last order cancelled / key revoked)"
}

func (r *Report) countsText() string {
	var parts []string
	for _, k := range sortedKeys(r.Counts) {
		parts = append(parts, fmt.Sprintf("%d %s", r.Counts[k], k))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func (r *Report) auditText() string {
	if !r.Audit.Intact {
		return fmt.Sprintf("NOT INTACT: seq %d: %s", r.Audit.FirstBad, r.Audit.Problem)
	}
	s := fmt.Sprintf("intact, %d records", r.Audit.Records)
	if !r.Audit.Complete {
		s += ", incomplete (no end record)"
	}
	return s
}

// changesText summarises the changes by kind, e.g. "30 cancel-order, 4 delete-key".
func (r *Report) changesText() string {
	n := map[string]int{}
	for _, c := range r.Changes {
		n[c.Kind]++
	}
	var parts []string
	for _, k := range sortedKeys(n) {
		parts = append(parts, fmt.Sprintf("%d × %s", n[k], k))
	}
	return strings.Join(parts, ", ")
}

func (m Mutation) resultText() string {
	switch {
	case !m.Done:
		return "no outcome recorded (interrupted?)"
	case m.OK:
		return "ok"
	case m.ErrorClass != "":
		return "failed (" + m.ErrorClass + "): " + m.Error
	}
	return "failed: " + m.Error
}

var severityRank = map[string]int{"high": 0, "medium": 1, "low": 2, "info": 3}

// SortedFindings returns the findings, most severe first.
func (r *Report) SortedFindings() []Finding {
	out := append([]Finding(nil), r.Findings...)
	sort.SliceStable(out, func(i, j int) bool {
		ri, ok := severityRank[out[i].Severity]
		if !ok {
			ri = 4
		}
		rj, ok := severityRank[out[j].Severity]
		if !ok {
			rj = 4
		}
		return ri < rj
	})
	return out
}

func subName(s string) string {
	if s == "" {
		return "(main)"
	}
	return s
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// fmtDur prints a duration for humans: "850 ms", "2.41 s", "3 min 05 s".
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%d min %02d s", int(d.Minutes()), int(d.Seconds())%60)
}

// secs prints an offset in seconds with millisecond precision.
func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "<", "&lt;", ">", "&gt;", "|", `\|`, "#", `\#`,
)

// mdText escapes s for Markdown running text and makes it one line.
func mdText(s string) string {
	return mdEscaper.Replace(strings.Join(strings.Fields(s), " "))
}

// mdCell escapes s for a table cell (one line, | escaped).
func mdCell(s string) string { return mdText(s) }

// mdCode makes s safe inside an inline code span.
func mdCode(s string) string {
	return strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "`", "'")
}
