package runner

import (
	"fmt"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

// maxNotifyFindings bounds the findings one webhook message names.
const maxNotifyFindings = 20

// severityRank orders finding severities (high first).
var severityRank = map[string]int{"high": 4, "medium": 3, "low": 2, "info": 1}

// notifyFindings picks the findings of an account's earlier results that a
// notify.webhook message names, and says whether its only_on lets it post:
// "always" posts (naming the drift findings, if any); "findings" posts
// only if there is a finding of medium severity or more, and names them;
// "drift" posts only if a result reported a change since the baseline,
// and names those.
func notifyFindings(done []StepResult, onlyOn string) (fs []executors.Finding, post bool, why string) {
	var drift, notable []executors.Finding
	for _, res := range done {
		for _, f := range res.Result.Findings {
			if f.Drift {
				drift = append(drift, f)
			}
			if severityRank[f.Severity] >= severityRank["medium"] {
				notable = append(notable, f)
			}
		}
	}
	switch onlyOn {
	case "drift":
		if len(drift) == 0 {
			return nil, false, "nothing changed since the baseline (only_on: drift)"
		}
		return drift, true, ""
	case "findings":
		if len(notable) == 0 {
			return nil, false, "no finding of medium severity or more (only_on: findings)"
		}
		return notable, true, ""
	}
	return drift, true, ""
}

// findingLines renders findings for a webhook message, one line each (the
// fix on the same line: chat clients fold long lines).
func findingLines(fs []executors.Finding, max int) []string {
	var lines []string
	for i, f := range fs {
		if i == max {
			lines = append(lines, fmt.Sprintf("… and %d more findings (see the run's report)", len(fs)-max))
			break
		}
		what := f.Message
		if f.Drift && !f.FirstSeen.IsZero() {
			what += " (first seen " + f.FirstSeen.UTC().Format(time.RFC3339) + ")"
		}
		line := fmt.Sprintf("⚠ [%s] %s: %s", f.Severity, f.Subject, what)
		if f.Fix != "" {
			line += " — fix: " + f.Fix
		}
		lines = append(lines, line)
	}
	return lines
}
