package report

import "time"

// Text is the finding as the report shows it: a change since the
// operator's posture baseline is marked DRIFT, with when a check first
// saw it.
func (f Finding) Text() string {
	if !f.Drift {
		return f.Message
	}
	mark := "DRIFT since the baseline"
	if !f.FirstSeen.IsZero() {
		mark += " (first seen " + f.FirstSeen.UTC().Format(time.RFC3339) + ")"
	}
	return mark + ": " + f.Message
}
