// Package report builds a run's incident report from its audit trail alone:
// a Markdown file (report.md) and a self-contained HTML page (report.html)
// that a frightened user can read at a glance.
//
// Build turns the records of audit.jsonl (as written by internal/runner)
// into a Report model: the verdict, the time to contain, a timeline of the
// steps per account, balances before and after, what was cancelled and
// revoked, what is still pending (manual steps with their instructions),
// failures, risky-key findings and the audit head hash with the verify
// result. Markdown and HTML render that model; WriteFiles reads and verifies
// a run directory and writes both files.
//
// The report never reads snapshot-*.json or results.json, and it prints
// nothing that is not in the trail (which holds no secrets).
//
// # Resumed runs
//
// A run that crashed or was interrupted with Ctrl-C can be resumed
// (panicbutton run --resume); the resumed run appends to the same trail,
// opening with a resume record (audit.IsResumeRecord), and a trail may then
// hold several end records (each but the last interrupted, see package
// audit). The report describes the run as a whole: the last end record
// gives the outcome (an end record followed by a resume record does not
// finish the run); time to contain and the timeline count from the one
// start record; each (step, account) is shown by its last result record,
// except that the copies a resumed run writes of results it keeps from
// before (listed as completed_steps in its resume record) stand for the
// original record, whose timing and details they do not repeat; and
// Resumes says when, and after what, the run was resumed.
package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/audit"
)

// VerdictKind classifies a run for the headline.
type VerdictKind string

// Verdicts, from the most to the least reassuring.
const (
	VerdictContained       VerdictKind = "contained"
	VerdictContainedManual VerdictKind = "contained-manual-pending"
	VerdictFailed          VerdictKind = "failed"
	VerdictInterrupted     VerdictKind = "interrupted"
	VerdictDryRun          VerdictKind = "dry-run"
)

// Verdict is the headline of the report.
type Verdict struct {
	Kind   VerdictKind
	Title  string // large text, e.g. "Contained"
	Detail string // one sentence under it
}

// Report is the model of one run's incident report.
type Report struct {
	RunID          string
	Playbook       string
	PlaybookFile   string
	PlaybookSHA256 string
	Mode           string // "execute" or "dry-run"
	ToolVersion    string
	Accounts       []string
	Inputs         map[string]string // masked by the runner
	ConfirmedBy    string
	PlanSHA256     string
	AuditDegraded  bool

	Started  time.Time
	Ended    time.Time // time of the last record
	Duration time.Duration
	// Finished reports that the trail has an end record.
	Finished    bool
	Interrupted bool
	AbortedAt   string
	Counts      map[string]int // statuses of the (step, account) results

	// Resumes lists the times the run was resumed, in order; empty for a
	// run that ran in one go.
	Resumes []Resume

	Verdict Verdict
	// RunVerdict is the runner's verdict from the end record (nil for runs
	// recorded before it existed): what the run saw or inferred is left.
	RunVerdict *RunVerdict
	// TimeToContain is from the start record to the last successful
	// mutation of the order-cancel and key-revoke steps; HasContainTime is
	// false when there was none.
	TimeToContain  time.Duration
	HasContainTime bool

	Steps     []Step      // the steps in the order they ran
	Timeline  []Lane      // one lane per account
	Balances  []Balances  // one per account with a snapshot
	Mutations []Mutation  // every mutation sent (intent + outcome)
	Changes   []Change    // what the results say changed, per (step, account)
	Remaining []Change    // what survived a mutation meant to remove it
	Caught    []Change    // what a hold (manual step with hold: true) undid
	Pending   []Pending   // manual steps still to do
	Failures  []Failure   // failed (step, account) results
	Notices   []Notice    // what the operator was told while steps ran (long waits)
	Findings  []Finding   // risky keys and other findings
	Audit     AuditStatus // the verify result

	// Rehearsal is the emulator attacker's side of a rehearsal (demo
	// --attacker), read from RehearsalFile beside the trail; nil otherwise.
	Rehearsal *Rehearsal
}

// Resume is one resumption of the run (a resume record in the trail).
type Resume struct {
	Seq  int64     // the resume record
	Time time.Time // when the resumed run started
	// After says how the run had stopped: ResumedAfterInterrupt (an
	// interrupted end record: Ctrl-C) or ResumedAfterCrash (no end record).
	After string
	// StoppedAt is the time of the last record before the resume record.
	StoppedAt   time.Time
	ConfirmedBy string
	// Done and InDoubt count the mutations the resumed run found done
	// (not sent again) and in doubt (re-checked) in the trail.
	Done, InDoubt int
	// Kept counts the (step, account) results kept from before.
	Kept int
	// RepairedTornLine: a torn last line was cut off the trail first.
	RepairedTornLine bool
}

// Values of Resume.After.
const (
	ResumedAfterInterrupt = "interrupted"
	ResumedAfterCrash     = "crash"
)

// Step is one playbook step as seen in the trail.
type Step struct {
	ID, Action string
}

// Lane is one account's row of the timeline.
type Lane struct {
	Account string
	Bars    []Bar
}

// Bar is one (step, account) result on the timeline; Start and End are
// offsets from the run's start.
type Bar struct {
	Step, Action string
	Status       string
	Summary      string
	Start, End   time.Duration
	Attempts     int
}

// Balances compares an account's first and last balance snapshots.
type Balances struct {
	Account     string
	BeforeStep  string
	AfterStep   string
	BeforeTaken time.Time
	AfterTaken  time.Time
	Rows        []BalanceRow
	// Errors are the parts of a snapshot that could not be read.
	Errors []string
}

// BalanceRow is one (sub-account, wallet, asset) total before and after.
type BalanceRow struct {
	Sub, Wallet, Asset string
	Before, After      string // decimal totals; "0" when absent
	Diff               string // After - Before, signed ("+1.5", "-2", "0")
	Sign               int    // sign of Diff
	// Explained is set for a decrease the run itself explains (a sweep to
	// the master, a position closed); Unexplained decreases are flagged.
	Explained   string
	Unexplained bool
}

// Mutation is one state-changing request: its intent and outcome records.
type Mutation struct {
	Account, Step, Action string
	ID, Kind, Target      string
	Irreversible          bool
	Time                  time.Time // the outcome's (or the intent's when none)
	Done                  bool      // an outcome record exists
	OK                    bool
	Error, ErrorClass     string
}

// Change is one change (or remaining item) from a step result.
type Change struct {
	Account, Step, Action string
	executors.Change
}

// Pending is a manual step a human must still take.
type Pending struct {
	Account, Step string
	executors.ManualStep
}

// Failure is one failed (step, account) result.
type Failure struct {
	Account, Step, Action string
	Error, ErrorClass     string
	Summary               string
	Attempts              int
}

// Notice is what the operator was told while a step ran (a notice record:
// a long wait for a rate limit, a CDN block), At from the run's start.
type Notice struct {
	Account, Step, Text string
	At                  time.Duration
}

// Finding is a finding of a step result.
type Finding struct {
	Account, Step string
	executors.Finding
}

// AuditStatus is the audit trail's verify result.
type AuditStatus struct {
	Head     string // hash of the last record read
	Records  int    // records read
	Intact   bool
	Complete bool
	FirstBad int64
	Problem  string
}

// stepResult is the info record the runner writes per (step, account).
type stepResult struct {
	Status     string                 `json:"status"`
	Summary    string                 `json:"summary"`
	Error      string                 `json:"error"`
	ErrorClass string                 `json:"error_class"`
	Attempts   int                    `json:"attempts"`
	Changes    []executors.Change     `json:"changes"`
	Remaining  []executors.Change     `json:"remaining"`
	Manual     []executors.ManualStep `json:"manual"`
	Findings   []executors.Finding    `json:"findings"`
	Data       json.RawMessage        `json:"data"`
	DurationMS *int64                 `json:"duration_ms"`
	Notice     string                 `json:"notice"`
}

type startInfo struct {
	Version       string            `json:"tool_version"`
	Playbook      string            `json:"playbook"`
	PlaybookFile  string            `json:"playbook_file"`
	PlaybookSHA   string            `json:"playbook_sha256"`
	Mode          string            `json:"mode"`
	Accounts      []string          `json:"accounts"`
	Inputs        map[string]string `json:"inputs"`
	ConfirmedBy   any               `json:"confirmed_by"`
	PlanSHA       string            `json:"plan_sha256"`
	AuditDegraded bool              `json:"audit_degraded"`
	// Steps, when the caller put the playbook's steps in the start record
	// (runner.Options.StartInfo["steps"]), fixes the order of the steps;
	// otherwise they are ordered as they first appear in the trail.
	Steps []json.RawMessage `json:"steps"`
}

// resumeInfo is the part of a resume record the report uses.
type resumeInfo struct {
	ConfirmedBy    any             `json:"confirmed_by"`
	Done           []string        `json:"done"`
	InDoubt        []string        `json:"in_doubt"`
	CompletedSteps []string        `json:"completed_steps"`
	Repaired       json.RawMessage `json:"repaired_torn_line"`
}

type endInfo struct {
	Verdict     *RunVerdict    `json:"verdict"`
	Counts      map[string]int `json:"counts"`
	Interrupted bool           `json:"interrupted"`
	AbortedAt   string         `json:"aborted_at"`
	DurationMS  int64          `json:"duration_ms"`
}

// RunVerdict is the runner's verdict as the end record stores it
// (runner.Verdict).
type RunVerdict struct {
	Contained  bool       `json:"contained"`
	Text       string     `json:"text"`
	OnlyManual bool       `json:"only_manual"`
	Left       []LeftItem `json:"left"`
}

// LeftItem is one thing still there at the end of the run.
type LeftItem struct {
	Account string `json:"account"`
	Step    string `json:"step"`
	Kind    string `json:"kind"`
	Target  string `json:"target"`
	Manual  string `json:"manual"`
}

// ErrNoRecords is returned by Build for an empty trail.
var ErrNoRecords = errors.New("audit trail has no records")

// containActions are the actions whose successful mutations count for the
// time to contain.
var containActions = map[string]bool{
	executors.OrdersCancelAll: true,
	executors.KeysRevoke:      true,
}

// Build makes the report model from a run's records (audit.Read) and the
// verify result of the same trail (audit.Verify).
func Build(records []audit.Record, verify audit.Report) (*Report, error) {
	if len(records) == 0 {
		return nil, ErrNoRecords
	}
	first := records[0]
	if first.Phase != audit.PhaseStart {
		return nil, fmt.Errorf("build report: first record (seq %d) has phase %q, want %q", first.Seq, first.Phase, audit.PhaseStart)
	}
	var si startInfo
	if err := json.Unmarshal(first.Result, &si); err != nil {
		return nil, fmt.Errorf("build report: start record: %w", err)
	}
	last := records[len(records)-1]
	r := &Report{
		RunID: first.RunID, Playbook: si.Playbook, PlaybookFile: si.PlaybookFile, PlaybookSHA256: si.PlaybookSHA,
		Mode: si.Mode, ToolVersion: si.Version, Accounts: si.Accounts, Inputs: si.Inputs,
		ConfirmedBy: confirmedBy(si.ConfirmedBy), PlanSHA256: si.PlanSHA, AuditDegraded: si.AuditDegraded,
		Started: first.Time, Ended: last.Time, Duration: last.Time.Sub(first.Time),
		Counts: map[string]int{},
		Audit: AuditStatus{Head: last.Hash, Records: len(records), Intact: verify.Intact(), Complete: verify.Complete,
			FirstBad: verify.FirstBad, Problem: verify.Problem},
	}
	if verify.Head != "" && verify.Intact() {
		r.Audit.Head = verify.Head
	}

	lanes := map[string]*Lane{}
	lane := func(acct string) *Lane {
		if l, ok := lanes[acct]; ok {
			return l
		}
		l := &Lane{Account: acct}
		lanes[acct] = l
		return l
	}
	for _, a := range r.Accounts {
		lane(a)
	}
	seenStep := map[string]bool{}
	for _, raw := range si.Steps {
		var st Step
		var id string
		if err := json.Unmarshal(raw, &id); err == nil {
			st.ID = id
		} else if err := json.Unmarshal(raw, &struct {
			ID     *string `json:"id"`
			Action *string `json:"action"`
		}{&st.ID, &st.Action}); err != nil {
			return nil, fmt.Errorf("build report: start record: steps: %w", err)
		}
		if st.ID != "" && !seenStep[st.ID] {
			seenStep[st.ID] = true
			r.Steps = append(r.Steps, st)
		}
	}
	openMut := map[string]int{} // account|step|mutation id -> index in r.Mutations
	type snap struct {
		step string
		s    executors.Snapshot
	}
	snaps := map[string][]snap{}
	explain := map[string][]string{} // account -> reasons balances may go down

	// Step results: the last record per (step, account) wins; a resumed
	// run's copy of a result it kept (keptNow) does not replace the
	// original. They are processed after the loop, in trail order.
	type result struct {
		rec audit.Record
		sr  stepResult
	}
	latest := map[[2]string]int{} // (step, account) -> index in results
	var results []*result
	keptNow := map[string]bool{} // "step/account" kept by the current resume

	for i, rec := range records[1:] {
		if audit.IsResumeRecord(rec) {
			var ri resumeInfo
			if err := json.Unmarshal(rec.Result, &ri); err != nil {
				return nil, fmt.Errorf("build report: resume record (seq %d): %w", rec.Seq, err)
			}
			prev := records[i] // the record before rec
			res := Resume{Seq: rec.Seq, Time: rec.Time, After: ResumedAfterCrash, StoppedAt: prev.Time,
				ConfirmedBy: confirmedBy(ri.ConfirmedBy), Done: len(ri.Done), InDoubt: len(ri.InDoubt),
				Kept: len(ri.CompletedSteps), RepairedTornLine: len(ri.Repaired) > 0 && string(ri.Repaired) != "null"}
			if audit.IsInterruptedEnd(prev) {
				res.After = ResumedAfterInterrupt
			}
			r.Resumes = append(r.Resumes, res)
			// The run goes on: an earlier end record no longer ends it.
			r.Finished, r.Interrupted, r.AbortedAt = false, false, ""
			keptNow = map[string]bool{}
			for _, k := range ri.CompletedSteps {
				keptNow[k] = true
			}
			continue
		}

		if rec.Step != "" && !seenStep[rec.Step] {
			seenStep[rec.Step] = true
			r.Steps = append(r.Steps, Step{ID: rec.Step, Action: rec.Action})
		}
		if rec.Step != "" && rec.Action != "" {
			for i := range r.Steps {
				if r.Steps[i].ID == rec.Step && r.Steps[i].Action == "" {
					r.Steps[i].Action = rec.Action
				}
			}
		}
		switch rec.Phase {
		case audit.PhaseEnd:
			var ei endInfo
			if err := json.Unmarshal(rec.Result, &ei); err != nil {
				return nil, fmt.Errorf("build report: end record (seq %d): %w", rec.Seq, err)
			}
			r.Finished = true
			r.RunVerdict = ei.Verdict
			r.Interrupted = ei.Interrupted
			r.AbortedAt = ei.AbortedAt
		case audit.PhaseIntent, audit.PhaseOutcome:
			key := rec.Account + "|" + rec.Step + "|" + rec.Request["mutation_id"]
			i, ok := openMut[key]
			if !ok || rec.Phase == audit.PhaseIntent {
				r.Mutations = append(r.Mutations, Mutation{Account: rec.Account, Step: rec.Step, Action: rec.Action,
					ID: rec.Request["mutation_id"], Kind: rec.Request["kind"], Target: rec.Request["target"],
					Irreversible: rec.Request["irreversible"] == "true", Time: rec.Time})
				i = len(r.Mutations) - 1
				openMut[key] = i
			}
			if rec.Phase == audit.PhaseOutcome {
				var out struct {
					OK         bool   `json:"ok"`
					Error      string `json:"error"`
					ErrorClass string `json:"error_class"`
				}
				if err := json.Unmarshal(rec.Result, &out); err != nil {
					return nil, fmt.Errorf("build report: outcome record (seq %d): %w", rec.Seq, err)
				}
				m := &r.Mutations[i]
				m.Done, m.OK, m.Error, m.ErrorClass, m.Time = true, out.OK, out.Error, out.ErrorClass, rec.Time
				delete(openMut, key)
				if out.OK && containActions[rec.Action] {
					if d := rec.Time.Sub(r.Started); !r.HasContainTime || d > r.TimeToContain {
						r.TimeToContain, r.HasContainTime = d, true
					}
				}
				if out.OK {
					switch rec.Action {
					case executors.FundsSweep:
						explain[rec.Account] = append(explain[rec.Account], "sweep:"+sweptFrom(rec.Request))
					case executors.PositionsClose:
						explain[rec.Account] = append(explain[rec.Account], "positions")
					}
				}
			}
		case audit.PhaseInfo:
			var sr stepResult
			if err := json.Unmarshal(rec.Result, &sr); err != nil {
				return nil, fmt.Errorf("build report: info record (seq %d): %w", rec.Seq, err)
			}
			if sr.Notice != "" {
				r.Notices = append(r.Notices, Notice{Account: rec.Account, Step: rec.Step, Text: sr.Notice, At: rec.Time.Sub(r.Started)})
			}
			if sr.Status == "" || sr.DurationMS == nil {
				continue // a retry, notice or operator note, not a step result
			}
			k := [2]string{rec.Step, rec.Account}
			j, seen := latest[k]
			switch {
			case !seen:
				results = append(results, &result{rec, sr})
				latest[k] = len(results) - 1
			case !keptNow[rec.Step+"/"+rec.Account]:
				results[j] = nil // superseded by a later attempt
				results = append(results, &result{rec, sr})
				latest[k] = len(results) - 1
			}
		}
	}

	for _, res := range results {
		if res == nil {
			continue
		}
		rec, sr := res.rec, res.sr
		r.Counts[sr.Status]++
		end := rec.Time.Sub(r.Started)
		start := end - time.Duration(*sr.DurationMS)*time.Millisecond
		if start < 0 {
			start = 0
		}
		attempts := max(sr.Attempts, 1)
		lane(rec.Account).Bars = append(lane(rec.Account).Bars, Bar{Step: rec.Step, Action: rec.Action,
			Status: sr.Status, Summary: sr.Summary, Start: start, End: end, Attempts: attempts})
		for _, c := range sr.Changes {
			r.Changes = append(r.Changes, Change{Account: rec.Account, Step: rec.Step, Action: rec.Action, Change: c})
			if rec.Action == executors.Manual {
				r.Caught = append(r.Caught, Change{Account: rec.Account, Step: rec.Step, Action: rec.Action, Change: c})
			}
		}
		for _, c := range sr.Remaining {
			r.Remaining = append(r.Remaining, Change{Account: rec.Account, Step: rec.Step, Action: rec.Action, Change: c})
		}
		if sr.Status != string(executors.StatusOK) && sr.Status != string(executors.StatusSkipped) {
			for _, m := range sr.Manual {
				r.Pending = append(r.Pending, Pending{Account: rec.Account, Step: rec.Step, ManualStep: m})
			}
		}
		for _, f := range sr.Findings {
			r.Findings = append(r.Findings, Finding{Account: rec.Account, Step: rec.Step, Finding: f})
		}
		if sr.Status == string(executors.StatusFailed) {
			r.Failures = append(r.Failures, Failure{Account: rec.Account, Step: rec.Step, Action: rec.Action,
				Error: sr.Error, ErrorClass: sr.ErrorClass, Summary: sr.Summary, Attempts: attempts})
		}
		if rec.Action == executors.SnapshotBalances && len(sr.Data) > 0 && string(sr.Data) != "null" {
			var s executors.Snapshot
			if err := json.Unmarshal(sr.Data, &s); err != nil {
				return nil, fmt.Errorf("build report: snapshot of %s in step %s (seq %d): %w", rec.Account, rec.Step, rec.Seq, err)
			}
			snaps[rec.Account] = append(snaps[rec.Account], snap{step: rec.Step, s: s})
		}
	}

	r.sortLists()
	// Lanes: the start record's accounts first, then any other, sorted.
	var extra []string
	for a := range lanes {
		if !contains(r.Accounts, a) {
			extra = append(extra, a)
		}
	}
	sort.Strings(extra)
	for _, a := range append(append([]string(nil), r.Accounts...), extra...) {
		r.Timeline = append(r.Timeline, *lanes[a])
		if ss := snaps[a]; len(ss) > 0 {
			r.Balances = append(r.Balances, compareSnapshots(a, ss[0].step, ss[len(ss)-1].step, ss[0].s, ss[len(ss)-1].s, explain[a]))
		}
	}
	r.Verdict = verdict(r)
	return r, nil
}

func confirmedBy(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func verdict(r *Report) Verdict {
	v := baseVerdict(r)
	if len(r.Resumes) > 0 && r.Mode != "dry-run" {
		v.Detail += " " + r.ResumedText() + "."
	}
	return v
}

// ResumedText says in one sentence (without the full stop) how often the
// run was resumed, the last time when and after what; "" when it was not.
func (r *Report) ResumedText() string {
	n := len(r.Resumes)
	if n == 0 {
		return ""
	}
	last := r.Resumes[n-1]
	after := "a crash"
	if last.After == ResumedAfterInterrupt {
		after = "a Ctrl-C"
	}
	times := "once"
	if n > 1 {
		times = fmt.Sprintf("%d times, the last", n)
	}
	return fmt.Sprintf("The run was resumed %s at %s, after %s", times, last.Time.UTC().Format("2006-01-02 15:04:05 MST"), after)
}

// Text describes one resume for the report's lists.
func (res Resume) Text() string {
	after := "crashed or was killed (no end record)"
	if res.After == ResumedAfterInterrupt {
		after = "was interrupted (Ctrl-C)"
	}
	s := fmt.Sprintf("at seq %d, %s: the run %s at %s; %d mutation(s) done before were not sent again, %d in doubt were re-checked, %s kept",
		res.Seq, res.Time.UTC().Format("2006-01-02 15:04:05 MST"), after, res.StoppedAt.UTC().Format("15:04:05 MST"),
		res.Done, res.InDoubt, plural(res.Kept, "step result"))
	if res.ConfirmedBy != "" {
		s += "; confirmed by " + res.ConfirmedBy
	}
	if res.RepairedTornLine {
		s += "; a torn last line was cut off the trail first"
	}
	return s
}

func baseVerdict(r *Report) Verdict {
	failed := r.Counts[string(executors.StatusFailed)]
	pending := len(r.Pending) + r.Counts[string(executors.StatusPending)]
	switch {
	case r.Mode == "dry-run":
		n := r.Counts[string(executors.StatusWouldChange)]
		return Verdict{VerdictDryRun, "Dry run: nothing was changed",
			fmt.Sprintf("This was a rehearsal. %s would change something; run again without --dry-run to contain.", plural(n, "step result"))}
	case !r.Finished:
		return Verdict{VerdictInterrupted, "Run did not finish",
			"The audit trail has no end record: the run crashed or is still running. Containment may be incomplete: resume it (panicbutton run --resume RUN_DIR) or run the playbook again."}
	case r.Interrupted:
		return Verdict{VerdictInterrupted, "Interrupted",
			"The run was stopped before every step finished. Containment may be incomplete: resume it (panicbutton run --resume RUN_DIR) or run the playbook again."}
	case failed > 0:
		d := fmt.Sprintf("%s failed; see Failures below and run the playbook again.", plural(failed, "step result"))
		if r.AbortedAt != "" {
			d = fmt.Sprintf("Step %s failed and aborted the run; see Failures below and run the playbook again.", r.AbortedAt)
		}
		return Verdict{VerdictFailed, "Not contained: a step failed", d}
	case r.RunVerdict != nil && !r.RunVerdict.Contained:
		left := r.RunVerdict.Left
		names := make([]string, 0, 3)
		for i, l := range left {
			if i == 3 {
				names = append(names, fmt.Sprintf("and %d more", len(left)-3))
				break
			}
			names = append(names, l.Kind+" on "+l.Account+": "+l.Target)
		}
		return Verdict{VerdictFailed, "Not contained: " + plural(len(left), "item") + " left",
			"The run saw or inferred what is still there (" + strings.Join(names, "; ") + "). See \"Still there\" below: each needs the instruction given."}
	case pending > 0:
		return Verdict{VerdictContainedManual, "Contained — manual steps pending",
			fmt.Sprintf("Everything the API can do is done. %s still need a human: see the box below.", plural(len(r.Pending), "manual step"))}
	}
	return Verdict{VerdictContained, "Contained", "Every step succeeded and nothing is left to do."}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

type balKey struct{ sub, wallet, asset string }

func sumBalances(s executors.Snapshot) (map[balKey]*big.Rat, map[balKey]int) {
	sums := map[balKey]*big.Rat{}
	scales := map[balKey]int{}
	for _, b := range s.Balances {
		k := balKey{b.Sub, b.Wallet, b.Asset}
		v, ok := new(big.Rat).SetString(b.Total)
		if !ok {
			continue
		}
		if sums[k] == nil {
			sums[k] = new(big.Rat)
		}
		sums[k].Add(sums[k], v)
		scales[k] = max(scales[k], scale(b.Total))
	}
	return sums, scales
}

// scale is the number of digits after the decimal point.
func scale(s string) int {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

func compareSnapshots(acct, beforeStep, afterStep string, before, after executors.Snapshot, explain []string) Balances {
	b := Balances{Account: acct, BeforeStep: beforeStep, AfterStep: afterStep, BeforeTaken: before.TakenAt, AfterTaken: after.TakenAt}
	b.Errors = append(append(b.Errors, before.Errors...), after.Errors...)
	bs, bsc := sumBalances(before)
	as, asc := sumBalances(after)
	keys := map[balKey]bool{}
	for k := range bs {
		keys[k] = true
	}
	for k := range as {
		keys[k] = true
	}
	var order []balKey
	for k := range keys {
		order = append(order, k)
	}
	sort.Slice(order, func(i, j int) bool {
		x, y := order[i], order[j]
		if x.sub != y.sub {
			return x.sub < y.sub
		}
		if x.wallet != y.wallet {
			return x.wallet < y.wallet
		}
		return x.asset < y.asset
	})
	zero := new(big.Rat)
	for _, k := range order {
		bv, av := bs[k], as[k]
		if bv == nil {
			bv = zero
		}
		if av == nil {
			av = zero
		}
		sc := max(bsc[k], asc[k])
		d := new(big.Rat).Sub(av, bv)
		row := BalanceRow{Sub: k.sub, Wallet: k.wallet, Asset: k.asset,
			Before: bv.FloatString(sc), After: av.FloatString(sc), Diff: d.FloatString(sc), Sign: d.Sign()}
		if row.Sign > 0 {
			row.Diff = "+" + row.Diff
		}
		if row.Sign < 0 {
			row.Explained = explanation(k, explain)
			row.Unexplained = row.Explained == ""
		}
		b.Rows = append(b.Rows, row)
	}
	explainOverlap(b.Rows)
	return b
}

// Binance's user-assets view (POST /sapi/v3/asset/getUserAsset) counts the
// spot wallet again, together with funding: one withdrawal from spot shows
// as a decrease in both rows. overlapOf names the wallet a view repeats.
var overlapOf = map[string]string{"user_assets": "spot"}

// explainOverlap explains a decrease in a view that repeats another wallet
// when that wallet went down by at least as much: it is the same money, and
// the wallet's own row carries the flag. A larger decrease in the view (the
// funding part went down too) stays unexplained.
func explainOverlap(rows []BalanceRow) {
	diffs := map[balKey]*big.Rat{}
	for _, r := range rows {
		if d, ok := new(big.Rat).SetString(r.Diff); ok {
			diffs[balKey{r.Sub, r.Wallet, r.Asset}] = d
		}
	}
	for i := range rows {
		r := &rows[i]
		base, ok := overlapOf[r.Wallet]
		if !ok || !r.Unexplained {
			continue
		}
		own, view := diffs[balKey{r.Sub, base, r.Asset}], diffs[balKey{r.Sub, r.Wallet, r.Asset}]
		if own != nil && view != nil && own.Cmp(view) <= 0 {
			r.Unexplained = false
			r.Explained = "the same decrease as the " + base + " row (this view includes " + base + ")"
		}
	}
}

// sweptFrom is "sub:asset" of a funds.sweep transfer's request as the
// executors record it: Binance names the sub-account by e-mail
// (fromEmail, asset), KuCoin by name (subName, currency).
func sweptFrom(req map[string]string) string {
	sub, asset := req["req.fromEmail"], req["req.asset"]
	if sub == "" {
		sub = req["req.subName"]
	}
	if asset == "" {
		asset = req["req.currency"]
	}
	return sub + ":" + asset
}

// explanation names what in this run explains a decrease of k, or "".
func explanation(k balKey, explain []string) string {
	for _, e := range explain {
		switch {
		case k.sub != "" && e == "sweep:"+k.sub+":"+k.asset:
			return "swept to the master account by this run"
		case e == "positions" && isDerivativesWallet(k.wallet):
			return "positions closed by this run (fees and realised PnL)"
		}
	}
	return ""
}

func isDerivativesWallet(w string) bool {
	switch w {
	case executors.ProductUSDM, executors.ProductCoinM, executors.ProductFutures, "margin", "isolated_margin":
		return true
	}
	return strings.HasPrefix(w, "isolated_margin:")
}

// UnexplainedDecreases counts balance rows that went down for no reason the
// run explains.
func (r *Report) UnexplainedDecreases() int {
	n := 0
	for _, b := range r.Balances {
		for _, row := range b.Rows {
			if row.Unexplained {
				n++
			}
		}
	}
	return n
}

// Succeeded returns the mutations the exchange accepted, by kind.
func (r *Report) Succeeded() map[string]int {
	out := map[string]int{}
	for _, m := range r.Mutations {
		if m.Done && m.OK {
			out[m.Kind]++
		}
	}
	return out
}

// sortLists orders the per-(step, account) lists by step (in the order the
// steps ran) and account (in the start record's order), keeping the trail's
// order inside each (step, account): accounts run concurrently, so the
// trail interleaves them.
func (r *Report) sortLists() {
	stepIdx := map[string]int{}
	for i, s := range r.Steps {
		stepIdx[s.ID] = i
	}
	acctIdx := map[string]int{}
	for i, a := range r.Accounts {
		acctIdx[a] = i
	}
	less := func(s1, a1, s2, a2 string) bool {
		if stepIdx[s1] != stepIdx[s2] {
			return stepIdx[s1] < stepIdx[s2]
		}
		i, ok1 := acctIdx[a1]
		j, ok2 := acctIdx[a2]
		if ok1 != ok2 {
			return ok1
		}
		if i != j {
			return i < j
		}
		return !ok1 && a1 < a2
	}
	sort.SliceStable(r.Mutations, func(i, j int) bool {
		a, b := r.Mutations[i], r.Mutations[j]
		if a.Step != b.Step || a.Account != b.Account {
			return less(a.Step, a.Account, b.Step, b.Account)
		}
		// Requests an executor sends in parallel reach the trail in any
		// order: by time, then by what they did, so that the same run
		// always reads the same.
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Target < b.Target
	})
	sort.SliceStable(r.Changes, func(i, j int) bool {
		return less(r.Changes[i].Step, r.Changes[i].Account, r.Changes[j].Step, r.Changes[j].Account)
	})
	sort.SliceStable(r.Remaining, func(i, j int) bool {
		return less(r.Remaining[i].Step, r.Remaining[i].Account, r.Remaining[j].Step, r.Remaining[j].Account)
	})
	sort.SliceStable(r.Pending, func(i, j int) bool {
		return less(r.Pending[i].Step, r.Pending[i].Account, r.Pending[j].Step, r.Pending[j].Account)
	})
	sort.SliceStable(r.Failures, func(i, j int) bool {
		return less(r.Failures[i].Step, r.Failures[i].Account, r.Failures[j].Step, r.Failures[j].Account)
	})
	sort.SliceStable(r.Findings, func(i, j int) bool {
		return less(r.Findings[i].Step, r.Findings[i].Account, r.Findings[j].Step, r.Findings[j].Account)
	})
}

// ChangeCount is how many changes of one kind a step result made on an account.
type ChangeCount struct {
	Account, Kind string
	N             int
}

// ChangeSummary counts the changes per account and kind, in report order.
func (r *Report) ChangeSummary() []ChangeCount {
	var out []ChangeCount
	idx := map[[2]string]int{}
	for _, c := range r.Changes {
		k := [2]string{c.Account, c.Kind}
		i, ok := idx[k]
		if !ok {
			out = append(out, ChangeCount{Account: c.Account, Kind: c.Kind})
			i = len(out) - 1
			idx[k] = i
		}
		out[i].N++
	}
	return out
}
