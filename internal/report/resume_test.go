package report

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/audit"
)

// stopAtFreeze cancels the run when the first freeze result arrives: the
// freeze is done on some accounts, in flight or not started on others;
// later mutating steps may have run meanwhile (they start once a freeze's
// cancels are sent) and run again after the resume, whose results count.
func stopAtFreeze(_ *testing.T, _ *demoFund, step, _ string, cancel context.CancelFunc) {
	if step == "freeze" {
		cancel()
	}
}

// TestReportOfAResumedRun builds the report of real resumed trails: the
// runner runs suspected-key-leak on the emulator's demo fund, is stopped mid-
// freeze, and resumes (as run --resume does) ten minutes later on the clock.
func TestReportOfAResumedRun(t *testing.T) {
	const gap = 10 * time.Minute
	ref, _ := buildRun(t, fixture{live: true})
	refResults := 0
	for _, n := range ref.Counts {
		refResults += n
	}
	tests := []struct {
		name, resume string
		wantAfter    string
		wantEnds     int
	}{
		{"after a Ctrl-C", "interrupted", ResumedAfterInterrupt, 2},
		{"after a crash", "crash", ResumedAfterCrash, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, recs := buildRun(t, fixture{live: true, after: stopAtFreeze, resume: tt.resume, gap: gap})
			var ends, resumeIdx int
			for i, rec := range recs {
				if rec.Phase == audit.PhaseEnd {
					ends++
				}
				if audit.IsResumeRecord(rec) {
					resumeIdx = i
				}
			}
			if ends != tt.wantEnds || resumeIdx == 0 {
				t.Fatalf("trail: %d end records, resume record at index %d; want %d and one resume record", ends, resumeIdx, tt.wantEnds)
			}
			resumedAt := recs[resumeIdx].Time
			// Accounts whose snapshot-before completed before the stop: the
			// resumed run keeps it (the others took it after the resume).
			keptSnap := map[string]bool{}
			for _, rec := range recs[:resumeIdx] {
				if rec.Step == "snapshot-before" && rec.Phase == audit.PhaseInfo && strings.Contains(string(rec.Result), `"status":"ok"`) {
					keptSnap[rec.Account] = true
				}
			}
			if len(keptSnap) == 0 {
				t.Fatal("no snapshot-before completed before the stop: nothing was kept, the test proves little")
			}

			// The run, resumed, as a whole.
			if len(r.Resumes) != 1 {
				t.Fatalf("resumes: got %d, want 1", len(r.Resumes))
			}
			res := r.Resumes[0]
			if res.After != tt.wantAfter || res.Seq != recs[resumeIdx].Seq || !res.Time.Equal(resumedAt) || !res.StoppedAt.Equal(recs[resumeIdx-1].Time) {
				t.Errorf("resume = %+v, want after %q at seq %d, %v, stopped at %v", res, tt.wantAfter, recs[resumeIdx].Seq, resumedAt, recs[resumeIdx-1].Time)
			}
			if res.Kept == 0 || res.ConfirmedBy != "--yes" {
				t.Errorf("resume kept %d results, confirmed by %q; want some (snapshot-before), --yes", res.Kept, res.ConfirmedBy)
			}
			if !r.Finished || r.Interrupted || r.Verdict.Kind != ref.Verdict.Kind {
				t.Errorf("finished %v, interrupted %v, verdict %q; want finished, not interrupted, %q as uninterrupted",
					r.Finished, r.Interrupted, r.Verdict.Kind, ref.Verdict.Kind)
			}
			if !strings.Contains(r.Verdict.Detail, "resumed once") {
				t.Errorf("verdict detail %q does not say the run was resumed", r.Verdict.Detail)
			}
			if !r.Started.Equal(recs[0].Time) || !r.Audit.Intact || !r.Audit.Complete {
				t.Errorf("started %v, audit %+v; want the start record's time, intact and complete", r.Started, r.Audit)
			}

			// One result per (step, account): the last, or the original of a
			// kept copy.
			// A run stopped while creating a temporary key adds the
			// resumed run's clean-up of it (resume-cleanup): not a step.
			results := 0
			for _, n := range r.Counts {
				results += n
			}
			for _, lane := range r.Timeline {
				for _, b := range lane.Bars {
					if b.Step == "resume-cleanup" {
						results--
					}
				}
			}
			if results != refResults {
				t.Errorf("step results counted: got %d (%v), want %d as uninterrupted (%v)", results, r.Counts, refResults, ref.Counts)
			}
			for _, lane := range r.Timeline {
				seen := map[string]bool{}
				for _, b := range lane.Bars {
					if seen[b.Step] {
						t.Errorf("%s: step %s has two bars", lane.Account, b.Step)
					}
					seen[b.Step] = true
					switch {
					case b.Step == "snapshot-before" && keptSnap[lane.Account] != (b.End < resumedAt.Sub(r.Started)):
						t.Errorf("%s: snapshot-before bar ends at %v, resumed at %v; want it before the resume iff it was kept (%v)",
							lane.Account, b.End, resumedAt.Sub(r.Started), keptSnap[lane.Account])
					case b.Step == "revoke-sub-keys" && b.End < gap:
						t.Errorf("%s: revoke-sub-keys bar ends at %v, want the resumed run's (after %v)", lane.Account, b.End, gap)
					}
				}
			}
			if len(r.Failures) != 0 {
				t.Errorf("failures: got %+v, want none (the interrupted attempts were superseded)", r.Failures)
			}
			for _, b := range r.Balances {
				if b.BeforeStep != "snapshot-before" || b.AfterStep != "snapshot-after" || keptSnap[b.Account] != b.BeforeTaken.Before(resumedAt) || b.AfterTaken.Before(resumedAt) {
					t.Errorf("%s balances: %s at %v → %s at %v; want snapshot-before (the original when kept: %v), the resumed snapshot-after",
						b.Account, b.BeforeStep, b.BeforeTaken, b.AfterStep, b.AfterTaken, keptSnap[b.Account])
				}
			}
			if len(r.Balances) != len(ref.Balances) {
				t.Errorf("balances for %d accounts, want %d", len(r.Balances), len(ref.Balances))
			}

			// Time to contain: from the first start to the last successful
			// cancel or revoke, which came after the resume.
			var lastContain time.Time
			for _, rec := range recs {
				if rec.Phase == audit.PhaseOutcome && (rec.Action == executors.OrdersCancelAll || rec.Action == executors.KeysRevoke) &&
					strings.Contains(string(rec.Result), `"ok":true`) {
					lastContain = rec.Time
				}
			}
			if want := lastContain.Sub(recs[0].Time); !r.HasContainTime || r.TimeToContain != want || want < gap {
				t.Errorf("time to contain: got %v, want %v (from the first start, past the %v gap)", r.TimeToContain, want, gap)
			}

			md := string(r.Markdown())
			for _, want := range []string{"| Resumed | 1 time |", "## Resumed", res.Text()[:20]} {
				if !strings.Contains(md, mdText(want)) && !strings.Contains(md, want) {
					t.Errorf("report.md lacks %q", want)
				}
			}
			if html := string(r.HTML()); !strings.Contains(html, "resumed 1 time") || !strings.Contains(html, "<dt>Resumed</dt>") {
				t.Errorf("report.html does not show the resume")
			}
		})
	}
}

func TestResumeText(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 10, 0, 0, time.UTC)
	tests := []struct {
		name string
		r    Report
		want string
	}{
		{"not resumed", Report{}, ""},
		{"once after Ctrl-C", Report{Resumes: []Resume{{Time: at, After: ResumedAfterInterrupt}}},
			"The run was resumed once at 2025-06-01 12:10:00 UTC, after a Ctrl-C"},
		{"twice, last after a crash", Report{Resumes: []Resume{{After: ResumedAfterInterrupt}, {Time: at, After: ResumedAfterCrash}}},
			"The run was resumed 2 times, the last at 2025-06-01 12:10:00 UTC, after a crash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.ResumedText(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
