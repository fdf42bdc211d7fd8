package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/accounts"
	"github.com/panicbutton/panicbutton/internal/audit"
	savedplan "github.com/panicbutton/panicbutton/internal/plan"
	"github.com/panicbutton/panicbutton/internal/report"
	"github.com/panicbutton/panicbutton/internal/runner"
	"github.com/panicbutton/panicbutton/playbooks"
)

// ApprovedPlanFile is the copy of the applied plan in the apply's run
// directory; the trail's start record pins its hash.
const ApprovedPlanFile = "approved-plan.json"

// ApplyOptions are the flags of `panicbutton apply`.
type ApplyOptions struct {
	File          string
	Config        string
	Inputs        []string
	JSON          bool
	RunsDir       string
	AuditDegraded bool
	Concurrency   int
	Hold          string
}

func newApplyCmd(f *Factory) *cobra.Command {
	o := &ApplyOptions{}
	cmd := &cobra.Command{
		Use:   "apply FILE",
		Short: "Execute exactly a saved, approved plan",
		Long: `Apply executes a plan saved by "panicbutton run PLAYBOOK --dry-run --plan-out
FILE", after someone reviewed it (panicbutton plan show FILE). It does not ask
again: the plan is the approval.

What it may do:
  - irreversible actions (key deletions, IP locks, permission strips,
    withdrawal cancels, transfers, position closes) touch only the targets
    the plan names (same key id, same withdrawal id, same amount). Anything
    new found at apply time — a key created since, a different amount — is
    reported as a high finding and left alone; the trail records it;
  - order cancels (and the dead-man switch) are approved as a scope: every
    open order on the plan's products, so orders placed since the plan are
    cancelled too. Containment never gets weaker with time.

Refused with exit 2, before anything is sent, when: the plan expired
(--plan-ttl when it was made, default 15m), the playbook or the accounts file
changed since (their SHA-256 is in the plan), the plan was already applied,
or the file is not a usable plan (not one, truncated, from a newer
panicbutton, or modified after it was written: its digest covers every
byte).

Already applied: each apply is recorded, before anything is sent, in a
per-user ledger ($PANICBUTTON_STATE_DIR, else $XDG_STATE_HOME/panicbutton,
else ~/.local/state/panicbutton: applied-plans/<plan hash>.json), so a
second apply of the same plan is refused from any runs directory on this
machine, by the same user. An interrupted apply is continued with
"panicbutton run --resume RUN_DIR": the resume stays bound to the same plan.

The run is a normal run (directory, audit trail, report). Its trail's start
record names the plan's hash, and the plan is copied into the run directory
as approved-plan.json; "panicbutton audit verify RUN_DIR" checks that copy
against the hash. URL inputs (webhooks carry tokens) are kept out of the
plan: pass them again with --input.

` + exitCodesHelp,
		Example: `  # person A prepares (reads only) and hands over the plan file
  panicbutton run suspected-key-leak --dry-run --plan-out leak.plan.json --plan-ttl 30m

  # person B reviews it, then executes exactly it
  panicbutton plan show leak.plan.json
  panicbutton apply leak.plan.json

  # afterwards
  panicbutton audit verify runs/<run-id>`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.File = args[0]
			return runApply(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Config, "config", "", "accounts file (default: the one the plan was made with; it must be unchanged)")
	fl.StringArrayVar(&o.Inputs, "input", nil, "an input kept out of the plan (URLs), as `name=value` (repeatable)")
	fl.BoolVar(&o.JSON, "json", false, "print one JSON document with the results (no other output on stdout)")
	fl.StringVar(&o.RunsDir, "runs-dir", "", "where run directories are created (default ./runs, or $PANICBUTTON_RUNS_DIR)")
	fl.BoolVar(&o.AuditDegraded, "audit-degraded", false, "proceed with mutations even if the audit trail cannot be written (recorded, and shouted on stderr)")
	fl.IntVar(&o.Concurrency, "concurrency", 0, "accounts processed at once; 0: every account")
	fl.StringVar(&o.Hold, "hold", "", "hold the line at most this `DURATION` (as in run)")
	return cmd
}

func runApply(ctx context.Context, f *Factory, o *ApplyOptions) error {
	out, err := applyPlan(ctx, f, o)
	if err != nil {
		return err
	}
	return silentExit(out.code)
}

// applyPlan checks everything, records the apply in the ledger, then runs
// the plan's playbook bound to it (runner.Options.Approve).
func applyPlan(ctx context.Context, f *Factory, o *ApplyOptions) (*runOutcome, error) {
	defer TuneGC()()
	refuse := func(format string, a ...any) error {
		return usageError(fmt.Errorf("apply %s: "+format+"; nothing was sent", append([]any{o.File}, a...)...))
	}
	hold, err := parseHold(o.Hold)
	if err != nil {
		return nil, usageError(err)
	}
	pl, hash, err := savedplan.ReadFile(o.File)
	if err != nil {
		return nil, refuse("%v", err)
	}
	now := f.Now()
	if pl.Expired(now) {
		return nil, refuse("the plan expired at %s (made %s, valid %s): plan again", pl.Expires.Format(time.RFC3339), pl.Created.Format(time.RFC3339), pl.TTL)
	}
	pbName := strings.TrimPrefix(pl.Playbook.File, "builtin:")
	pb, err := playbooks.Load(pbName)
	if err != nil {
		return nil, refuse("the plan's playbook %s cannot be loaded: %v", pl.Playbook.File, err)
	}
	if pb.SHA256 != pl.Playbook.SHA256 {
		return nil, refuse("the playbook %s changed since the plan was made (sha256 %s, plan has %s): plan again", pl.Playbook.File, pb.SHA256, pl.Playbook.SHA256)
	}
	cfg := o.Config
	if cfg == "" {
		cfg = pl.AccountsFile.Path
	}
	cfgPath, err := accounts.Locate(cfg, f.Getenv)
	if err != nil {
		return nil, refuse("%v", err)
	}
	sum, err := savedplan.FileSHA256(cfgPath)
	if err != nil {
		return nil, refuse("accounts file: %v", err)
	}
	if sum != pl.AccountsFile.SHA256 {
		return nil, refuse("the accounts file %s changed since the plan was made (sha256 %s, plan has %s): plan again", cfgPath, sum, pl.AccountsFile.SHA256)
	}
	given := map[string]string{}
	for _, kv := range o.Inputs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, refuse("--input %q: want name=value", kv)
		}
		given[k] = v
	}
	inputs, err := pl.CheckInputs(given)
	if err != nil {
		return nil, refuse("%v", err)
	}
	stateDir, err := savedplan.StateDir(f.Getenv)
	if err != nil {
		return nil, refuse("%v", err)
	}
	if prev, err := savedplan.LookupApplied(stateDir, hash); err != nil {
		return nil, refuse("%v", err)
	} else if prev != nil {
		return nil, refuse("%s", alreadyApplied(prev))
	}
	kv := make([]string, 0, len(inputs))
	for k, v := range inputs {
		kv = append(kv, k+"="+v)
	}
	p, err := prepare(ctx, f, pbName, cfgPath, pl.AccountNames(), nil, kv)
	if err != nil {
		return nil, err
	}
	if p.pb.SHA256 != pl.Playbook.SHA256 {
		return nil, refuse("the playbook changed while it was being read: plan again")
	}
	var got []string
	for _, t := range p.targets {
		got = append(got, t.Ref.Name+"/"+t.Ref.Exchange)
	}
	var want []string
	for _, a := range pl.Accounts {
		want = append(want, a.Name+"/"+a.Exchange)
	}
	if !slices.Equal(got, want) {
		return nil, refuse("the playbook now targets %s, the plan %s: plan again", strings.Join(got, ", "), strings.Join(want, ", "))
	}

	runID := newRunID(now)
	runsDir := o.RunsDir
	if runsDir == "" {
		runsDir = f.Getenv("PANICBUTTON_RUNS_DIR")
	}
	if runsDir == "" {
		runsDir = "runs"
	}
	dir := filepath.Join(runsDir, runID)
	absDir, _ := filepath.Abs(dir)
	// Recorded before anything is sent: a second apply is refused even if
	// this one crashes (O_EXCL: of two concurrent applies, one wins).
	if prev, err := savedplan.MarkApplied(stateDir, savedplan.Applied{PlanHash: hash, PlanID: pl.ID, At: now.UTC(), RunDir: absDir}); err != nil {
		if errors.Is(err, savedplan.ErrAlreadyApplied) {
			return nil, refuse("%s", alreadyApplied(prev))
		}
		return nil, refuse("%v", err)
	}
	log, err := audit.Create(dir, runID, audit.Options{Now: f.Now})
	if err != nil {
		if !o.AuditDegraded {
			return nil, &ExitError{Code: ExitFailed, Msg: fmt.Sprintf("cannot create the audit trail in %s: %v; nothing was sent (the plan is now marked applied: plan again, or use --audit-degraded next time)", dir, err)}
		}
		fmt.Fprintf(f.ErrOut, "WARNING: no audit trail (%v); continuing because of --audit-degraded\n", err)
		log = nil
		_ = os.MkdirAll(dir, 0o700)
	}
	if log != nil {
		defer log.Close()
	}
	if raw, err := os.ReadFile(o.File); err == nil {
		_ = os.WriteFile(filepath.Join(dir, ApprovedPlanFile), raw, 0o600)
	}

	out := newPrinter(f, o.JSON)
	out.header(p, runID, dir, &RunOptions{Yes: true})
	out.header_["approved_plan"] = hash
	out.note(fmt.Sprintf("applying plan %s (made %s, expires %s): approved targets only; order cancels as a scope",
		hash, pl.Created.Format(time.RFC3339), pl.Expires.Format(time.RFC3339)))
	approver := savedplan.NewApprover(pl)
	opts := runner.Options{
		RunID: runID, Playbook: p.pb, Targets: p.targets, Inputs: p.inputs,
		RunDir: dir, Concurrency: o.Concurrency, Now: f.Now, Version: f.Version,
		AuditDegraded: o.AuditDegraded, Hold: hold,
		Warn:     func(msg string) { fmt.Fprintln(f.ErrOut, msg) },
		Notify:   postWebhook,
		Progress: out.progress,
		Approve:  approver.Approve,
		Review: func(acct playbooks.AccountRef, res *runner.StepResult) {
			reviewRefused(res, approver.RefusedFor(res.Step, acct.Name))
		},
		StartInfo: map[string]any{
			"confirmed_by":         "approved plan",
			"approved_plan_sha256": hash,
			"approved_plan": map[string]any{
				"id": pl.ID, "file": ApprovedPlanFile, "created": pl.Created, "expires": pl.Expires,
				"state_digest": pl.StateDigest, "plan_run": pl.PlanRun,
			},
		},
	}
	if log != nil {
		opts.Audit = log
	}
	rep, err := runner.Run(ctx, opts)
	if err != nil {
		return nil, &ExitError{Code: ExitFailed, Err: err}
	}
	saveRunFile(f, filepath.Join(dir, "results.json"), rep)
	if log != nil {
		_ = log.Close()
		if _, _, err := report.WriteFiles(dir); err != nil {
			fmt.Fprintf(f.ErrOut, "warning: could not write the report: %v\n", err)
		}
	}
	if refused := approver.Refused(); len(refused) > 0 {
		// A hold pass may meet the same target again: list each once.
		seen := map[string]bool{}
		var lines []string
		for _, r := range refused {
			k := r.Account + "\x00" + r.Kind + "\x00" + r.Target
			if !seen[k] {
				seen[k] = true
				lines = append(lines, fmt.Sprintf("  • %s on %s (%s): %s", r.Kind, r.Account, r.Step, r.Target))
			}
		}
		out.header_["not_approved"] = refused // --json: what was left alone, structured
		head := fmt.Sprintf("NOT IN THE APPROVED PLAN, LEFT ALONE (%d): found at apply time; make a new plan to act on them", len(lines))
		out.note(strings.Join(append([]string{head}, lines...), "\n"))
	}
	out.final(rep, nil, dir)
	return &runOutcome{dir: dir, rep: rep, code: verdict(rep, false)}, nil
}

func alreadyApplied(prev *savedplan.Applied) string {
	if prev == nil || prev.At.IsZero() {
		return "the plan was already applied"
	}
	return fmt.Sprintf("the plan was already applied at %s (run %s)", prev.At.Format(time.RFC3339), prev.RunDir)
}

// verifyApprovedPlan checks, for a run made by apply, that the plan copy
// in the run directory has the hash the trail's start record names, and
// that planFile (if given) is that plan. It returns a line for humans, or
// "" when the run applied no plan and none was asked about.
func verifyApprovedPlan(path, planFile string) (string, error) {
	recs, err := audit.Read(path)
	if err != nil {
		return "", fmt.Errorf("approved plan: cannot read the trail: %w", err)
	}
	want := ""
	for _, r := range recs {
		if r.Phase != "start" {
			continue
		}
		var start struct {
			Hash string `json:"approved_plan_sha256"`
		}
		if json.Unmarshal(r.Result, &start) == nil && start.Hash != "" {
			want = start.Hash
		}
	}
	if want == "" {
		if planFile != "" {
			return "", fmt.Errorf("--plan %s: this run did not apply a saved plan", planFile)
		}
		return "", nil
	}
	dir := path
	if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
		dir = filepath.Dir(path)
	}
	copyPath := filepath.Join(dir, ApprovedPlanFile)
	_, got, err := savedplan.ReadFile(copyPath)
	if err != nil {
		return "", fmt.Errorf("the approved plan %s named by the trail cannot be checked: %v", copyPath, err)
	}
	if got != want {
		return "", fmt.Errorf("%s has hash %s, the trail names plan %s", copyPath, got, want)
	}
	msg := fmt.Sprintf("approved plan: %s (%s matches the trail)", want, ApprovedPlanFile)
	if planFile != "" {
		_, h, err := savedplan.ReadFile(planFile)
		if err != nil {
			return "", fmt.Errorf("--plan %s: %v", planFile, err)
		}
		if h != want {
			return "", fmt.Errorf("--plan %s has hash %s: not the plan this run applied (%s)", planFile, h, want)
		}
		msg += fmt.Sprintf("; %s is that plan", planFile)
	}
	return msg, nil
}

// reviewRefused reports, in a step's result, the mutations the approved
// plan did not cover. When they are the step's only failure (the
// executor's first error is the refusal and every remaining target is a
// refused one), the step is not marked failed: it did what was approved.
// What was left alone stays in Remaining, so the verdict still names it.
func reviewRefused(res *runner.StepResult, refused []savedplan.Refusal) {
	if len(refused) == 0 {
		return
	}
	for _, r := range refused {
		dup := false
		for _, f := range res.Result.Findings {
			if strings.Contains(f.Message, r.Target) && strings.Contains(f.Message, "not in the approved plan") {
				dup = true
			}
		}
		if !dup {
			res.Result.Findings = append(res.Result.Findings, r.Finding())
		}
	}
	if res.ErrClass == "not-approved" && res.Status == executors.StatusFailed && len(res.Result.Remaining) <= len(refused) {
		res.Status = executors.StatusOK
		if len(res.Result.Changes) > 0 {
			res.Status = executors.StatusChanged
		}
		res.Result.Status = res.Status
		res.Error, res.ErrClass = "", ""
	}
	res.Summary = fmt.Sprintf("%s; %d target(s) not in the approved plan left alone", res.Summary, len(refused))
	res.Result.Summary = res.Summary
}

// resumeBound is the approved plan an interrupted apply was bound to.
type resumeBound struct {
	hash     string
	approver *savedplan.Approver
	inputs   []string // name=value, the plan's (hidden ones given again)
}

// resumeBinding returns the binding of the run in dir when it was made by
// apply (its start record names a plan), checking the plan copy's hash; nil
// for any other run. An apply's resume may touch only what the plan
// approved, however long after the plan it happens.
func resumeBinding(dir string, given []string) (*resumeBound, error) {
	recs, err := audit.Read(dir)
	if err != nil && len(recs) == 0 {
		return nil, nil // LoadResume reports the trail's problems
	}
	want := ""
	for _, r := range recs {
		if r.Phase != "start" {
			continue
		}
		var start struct {
			Hash string `json:"approved_plan_sha256"`
		}
		if json.Unmarshal(r.Result, &start) == nil && start.Hash != "" {
			want = start.Hash
		}
	}
	if want == "" {
		return nil, nil
	}
	pl, got, err := savedplan.ReadFile(filepath.Join(dir, ApprovedPlanFile))
	if err != nil {
		return nil, fmt.Errorf("the run applied plan %s, but its copy cannot be read: %w", want, err)
	}
	if got != want {
		return nil, fmt.Errorf("the run applied plan %s, but %s has hash %s", want, ApprovedPlanFile, got)
	}
	m := map[string]string{}
	for _, kv := range given {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--input %q: want name=value", kv)
		}
		m[k] = v
	}
	inputs, err := pl.CheckInputs(m)
	if err != nil {
		return nil, err
	}
	kv := make([]string, 0, len(inputs))
	for k, v := range inputs {
		kv = append(kv, k+"="+v)
	}
	return &resumeBound{hash: want, approver: savedplan.NewApprover(pl), inputs: kv}, nil
}
