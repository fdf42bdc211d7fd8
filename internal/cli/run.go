package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/accounts"
	"github.com/panicbutton/panicbutton/internal/audit"
	"github.com/panicbutton/panicbutton/internal/report"
	"github.com/panicbutton/panicbutton/internal/runner"
	"github.com/panicbutton/panicbutton/playbooks"
)

// RunOptions are the flags of `panicbutton run`.
type RunOptions struct {
	Playbook      string
	Config        string
	Accounts      []string
	Tags          []string
	Inputs        []string // name=value
	Yes           bool
	DryRun        bool
	JSON          bool
	RunsDir       string
	AuditDegraded bool
	Concurrency   int
	// Resume is the run directory of an interrupted run to continue
	// (--resume); PLAYBOOK is then optional (taken from its trail).
	Resume string
	// Hold bounds holding the line (--hold): how long a manual key step
	// with hold: true keeps the account contained while the key is alive.
	Hold string
	hold time.Duration
	// Baseline is a posture baseline to report drift from (--baseline);
	// FailOn the finding severity from which the run exits 5 (--fail-on).
	Baseline string
	FailOn   string
	// PlanOut writes the dry-run's plan to this file for a later
	// `panicbutton apply` (implies --dry-run); PlanTTL is its validity.
	PlanOut string
	PlanTTL time.Duration
	// observe, when set, also sees every progress event of an executed
	// run (the demo's rehearsed human acts on them).
	observe func(runner.Event)
}

func newRunCmd(f *Factory) *cobra.Command {
	o := &RunOptions{}
	cmd := &cobra.Command{
		Use:   "run PLAYBOOK | run --resume RUN_DIR",
		Short: "Run a playbook: read real state, show the plan, confirm, execute",
		Long: `Run a playbook (a built-in name such as suspected-key-leak, or a file path).

panicbutton first reads the real state of every targeted account and prints
the exact plan: which orders would be cancelled, which keys revoked
(irreversible ones are marked). On a terminal it then asks you to type
"execute"; --yes skips the question (for scripts) and executes at once,
without a separate planning pass, to contain as fast as possible. Without a
terminal and without --yes it stops after the plan (exit 3) and changes
nothing. --dry-run never executes. A playbook that changes nothing (such as
posture-check) needs no confirmation: it runs at once, from cron or CI too.

Posture checks: for a playbook that changes nothing, every risky key
setting and pending withdrawal the key inventory and withdrawal list show is
a finding (account, masked key and label, what is risky, severity, fix);
--baseline FILE adds every change since that baseline (panicbutton posture
baseline) as a high-severity finding; exit 5 when findings at or above
--fail-on exist.

Every run gets a directory (default ./runs/<run-id>/) with the audit trail
(audit.jsonl), the plan (plan.json), balance snapshots and the results.

--plan-out FILE (implies --dry-run) saves the plan for a second person to
review (panicbutton plan show FILE) and for "panicbutton apply FILE" to
execute exactly: irreversible actions only on the targets it names, order
cancels as a scope. It expires after --plan-ttl (default 15m). See
"panicbutton apply --help".

--resume RUN_DIR continues a run that crashed or was killed, appending to
its own audit trail. Playbook, accounts and mode come from the trail (pass
the same --config and --input values again; a changed playbook or different
inputs are refused). Mutations the trail shows done are never sent again;
mutations in doubt (sent, outcome unknown) are re-checked by reading the
exchange first: sent again only if the target is still there. Read-only
steps that completed keep their results (snapshot-before stays the one
taken before containment). A tampered trail is refused (exit 2); a torn
last line left by a crash mid-write is cut off (and kept beside the trail)
only if everything before it verifies. A run that finished cannot be
resumed, except one interrupted with Ctrl-C (exit 130): resuming it
continues where it stopped. A run directory another panicbutton process is
still writing is refused.

` + exitCodesHelp,
		Example: `  # see what would happen, change nothing
  panicbutton run suspected-key-leak --dry-run

  # contain now, no questions (scripts, runbooks)
  panicbutton run suspected-key-leak --yes --input leaked_key=vmPUZE6mv9SD5VNH

  # only the accounts tagged prod, from a given accounts file
  panicbutton run freeze-trading --config ./accounts.yaml --tag prod

  # four eyes: save the plan, have it reviewed, then apply exactly it
  panicbutton run suspected-key-leak --dry-run --plan-out leak.plan.json
  panicbutton apply leak.plan.json

  # continue a run that was killed halfway
  panicbutton run --resume runs/20261121T101500Z-3fa2c1 --yes`,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.Resume != "" {
				return cobra.MaximumNArgs(1)(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				o.Playbook = args[0]
			}
			return runRun(cmd.Context(), f, o)
		},
	}
	addAccountFlags(cmd, &o.Config, &o.Accounts, &o.Tags)
	fl := cmd.Flags()
	fl.StringArrayVar(&o.Inputs, "input", nil, "playbook input as `name=value` (repeatable)")
	fl.BoolVar(&o.Yes, "yes", false, "execute without asking for confirmation")
	fl.BoolVar(&o.DryRun, "dry-run", false, "read real state and show what would be done; never execute")
	fl.BoolVar(&o.JSON, "json", false, "print one JSON document with the plan and results (no other output on stdout)")
	fl.StringVar(&o.RunsDir, "runs-dir", "", "where run directories are created (default ./runs, or $PANICBUTTON_RUNS_DIR)")
	fl.BoolVar(&o.AuditDegraded, "audit-degraded", false, "proceed with mutations even if the audit trail cannot be written (recorded, and shouted on stderr)")
	fl.IntVar(&o.Concurrency, "concurrency", 0, "accounts running one step at once; 0: every account (each account runs its steps as its own pipeline; the venues' rate limits are kept per IP and account whatever this is)")
	fl.StringVar(&o.Hold, "hold", "", "hold the line at most this `DURATION` (e.g. 45m, 2h; default "+runner.DefaultHold.String()+"): while the account's own key is still alive, keep cancelling new orders and withdrawals and deleting new sub-account keys until the key is rejected; on a terminal, answering the manual step ends it")
	fl.StringVar(&o.Resume, "resume", "", "continue the interrupted run in `RUN_DIR` (appends to its audit trail; done mutations are not repeated)")
	addPostureFlags(cmd, o)
	addPlanFlags(cmd, o)
	return cmd
}

// addAccountFlags adds the account-selection flags shared by several commands.
func addAccountFlags(cmd *cobra.Command, config *string, names, tags *[]string) {
	fl := cmd.Flags()
	fl.StringVar(config, "config", "", "accounts file (default $PANICBUTTON_CONFIG, then $XDG_CONFIG_HOME/panicbutton/accounts.yaml)")
	fl.StringArrayVar(names, "account", nil, "only this account (repeatable)")
	fl.StringArrayVar(tags, "tag", nil, "only accounts with this tag (repeatable)")
}

// prepared is everything a run needs once input is validated.
type prepared struct {
	pb      *playbooks.Playbook
	inputs  map[string]string
	targets []runner.Target
	// accounts are the resolved accounts by name (posture checks need
	// their key ids; never printed).
	accounts map[string]executors.Account
	// accountsPath is the accounts file as located (a saved plan pins it).
	accountsPath string
}

// prepare validates everything before anything is sent: playbook, accounts,
// inputs, targets, credentials. Every error is a usage error (exit 2).
func prepare(ctx context.Context, f *Factory, pbName, config string, names, tags, rawInputs []string) (*prepared, error) {
	pb, err := playbooks.Load(pbName)
	if err != nil {
		return nil, usageError(err)
	}
	inputs := map[string]string{}
	for _, kv := range rawInputs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageError(fmt.Errorf("--input %q: want name=value", kv))
		}
		inputs[k] = v
	}
	path, err := accounts.Locate(config, f.Getenv)
	if err != nil {
		return nil, usageError(err)
	}
	file, err := accounts.Load(path, f.Registry.Exchanges())
	if err != nil {
		return nil, usageError(err)
	}
	entries, err := file.Select(names, tags)
	if err != nil {
		return nil, usageError(err)
	}
	refs := make([]playbooks.AccountRef, len(entries))
	byName := map[string]accounts.Entry{}
	for i, e := range entries {
		refs[i] = playbooks.AccountRef{Name: e.Name, Exchange: e.Exchange, Tags: e.Tags}
		byName[e.Name] = e
	}
	if err := pb.Check(playbooks.Env{Accounts: refs, Supports: f.Registry.Supports, Inputs: inputs}); err != nil {
		return nil, usageError(err)
	}
	for _, in := range pb.Inputs {
		if _, ok := inputs[in.Name]; !ok {
			inputs[in.Name] = in.Default
		}
	}
	res := accounts.Resolver{Getenv: f.Getenv, Home: f.Getenv("HOME")}
	var targets []runner.Target
	var problems []string
	targeted := pb.Targeted(refs)
	chosen := make([]accounts.Entry, len(targeted))
	for i, ref := range targeted {
		chosen[i] = byName[ref.Name]
	}
	// All at once: secret helpers that hang cost one timeout, not one each.
	resolved := map[string]executors.Account{}
	accts, errs := res.ResolveAll(ctx, file, chosen)
	for i, ref := range targeted {
		acct, err := accts[i], errs[i]
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		resolved[ref.Name] = acct
		exec, err := f.Registry.New(acct, f.Env())
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		targets = append(targets, runner.Target{Ref: ref, Exec: exec})
	}
	if len(problems) > 0 {
		return nil, usageError(errors.New(strings.Join(problems, "\n")))
	}
	return &prepared{pb: pb, inputs: inputs, targets: targets, accounts: resolved, accountsPath: path}, nil
}

func runRun(ctx context.Context, f *Factory, o *RunOptions) error {
	out, err := runPlaybook(ctx, f, o)
	if err != nil {
		return err
	}
	return silentExit(out.code)
}

// runOutcome is what a finished `run` leaves behind.
type runOutcome struct {
	dir  string
	rep  *runner.Report // nil when only a plan was made
	code int
}

func runPlaybook(ctx context.Context, f *Factory, o *RunOptions) (*runOutcome, error) {
	defer TuneGC()()
	hold, err := parseHold(o.Hold)
	if err != nil {
		return nil, usageError(err)
	}
	o.hold = hold
	if err := checkPlanFlags(o); err != nil {
		return nil, err
	}
	if o.Resume != "" {
		if o.Baseline != "" || o.FailOn != "" {
			return nil, usageError(errors.New("--resume cannot be combined with --baseline or --fail-on: run the posture check again instead"))
		}
		return resumePlaybook(ctx, f, o)
	}
	p, err := prepare(ctx, f, o.Playbook, o.Config, o.Accounts, o.Tags, o.Inputs)
	if err != nil {
		return nil, err
	}
	// Posture findings (and drift from --baseline) are checked before
	// anything is sent: a bad baseline is a usage error.
	pc, err := newPostureCheck(f, o, p)
	if err != nil {
		return nil, err
	}
	runID := newRunID(f.Now())
	runsDir := o.RunsDir
	if runsDir == "" {
		runsDir = f.Getenv("PANICBUTTON_RUNS_DIR")
	}
	if runsDir == "" {
		runsDir = "runs"
	}
	dir := filepath.Join(runsDir, runID)
	log, err := audit.Create(dir, runID, audit.Options{Now: f.Now})
	if err != nil {
		if !o.AuditDegraded {
			return nil, &ExitError{Code: ExitFailed, Msg: fmt.Sprintf("cannot create the audit trail in %s: %v; nothing was sent (use --audit-degraded to proceed without it)", dir, err)}
		}
		fmt.Fprintf(f.ErrOut, "WARNING: no audit trail (%v); continuing because of --audit-degraded\n", err)
		log = nil
		_ = os.MkdirAll(dir, 0o700)
	}
	if log != nil {
		defer log.Close()
	}
	out := newPrinter(f, o.JSON)
	base := runner.Options{
		RunID: runID, Playbook: p.pb, Targets: p.targets, Inputs: p.inputs,
		RunDir: dir, Concurrency: o.Concurrency, Now: f.Now, Version: f.Version,
		AuditDegraded: o.AuditDegraded, Hold: o.hold,
		Warn:   func(msg string) { fmt.Fprintln(f.ErrOut, msg) },
		Notify: postWebhook,
	}
	if log != nil {
		base.Audit = log
	}
	if pc != nil {
		base.Review = pc.review
		out.posture = pc
	}
	out.header(p, runID, dir, o)

	// Dry-run: the run itself is the plan.
	if o.DryRun {
		opts := base
		opts.DryRun = true
		opts.Progress = out.progress
		rep, err := runner.Run(ctx, opts)
		if err != nil {
			return nil, err
		}
		saveRunFile(f, filepath.Join(dir, "plan.json"), rep)
		if o.PlanOut != "" {
			if err := savePlan(f, o, p, rep, dir, out); err != nil {
				return nil, err
			}
		}
		if log != nil {
			_ = log.Close()
			if _, _, err := report.WriteFiles(dir); err != nil {
				fmt.Fprintf(f.ErrOut, "warning: could not write the report: %v\n", err)
			}
		}
		pc.finish()
		out.final(rep, nil, dir)
		return &runOutcome{dir: dir, rep: rep, code: pc.exitCode(verdict(rep, true))}, nil
	}

	var plan *runner.Report
	confirmedBy := "--yes"
	startInfo := map[string]any{}
	if !o.Yes && !p.pb.Mutating() {
		// A playbook that changes nothing needs no confirmation (cron, CI).
		confirmedBy = "read-only playbook"
	} else if !o.Yes {
		opts := base
		opts.DryRun = true
		opts.Audit = nil // the plan pass only reads; the execution's trail pins the plan's hash
		opts.Progress = out.planProgress
		plan, err = runner.Run(ctx, opts)
		if err != nil {
			return nil, err
		}
		planSHA := saveRunFile(f, filepath.Join(dir, "plan.json"), plan)
		out.plan(plan)
		if plan.Count(executors.StatusFailed) > 0 && ctx.Err() == nil {
			fmt.Fprintln(f.ErrOut, "note: some reads failed while planning; the plan may be incomplete")
		}
		if !f.IsTTY() {
			recordPlanOnly(log, p.pb, "no terminal and no --yes: plan only, nothing executed", planSHA)
			out.note("plan only: nothing was executed (no terminal to confirm on; pass --yes to execute)")
			out.stopped(plan, ExitPlanOnly)
			return &runOutcome{dir: dir, code: ExitPlanOnly}, nil
		}
		if !hasChanges(plan) {
			out.note("nothing to change; executing the read-only and manual steps")
		}
		promptTo := f.Out
		if o.JSON {
			promptTo = f.ErrOut
		}
		ok, err := confirm(ctx, f, plan, promptTo)
		if err != nil || !ok {
			code, why := ExitPlanOnly, "not confirmed by the operator: nothing executed"
			if ctx.Err() != nil { // Ctrl-C at the prompt aborts, like anywhere else
				code, why = ExitInterrupted, "interrupted at the confirmation prompt: nothing executed"
			}
			recordPlanOnly(log, p.pb, why, planSHA)
			out.note(why)
			out.stopped(plan, code)
			return &runOutcome{dir: dir, code: code}, nil
		}
		confirmedBy = "operator"
		startInfo["plan_sha256"] = planSHA
	}
	startInfo["confirmed_by"] = confirmedBy
	opts := base
	opts.StartInfo = startInfo
	opts.Progress = out.progress
	if o.observe != nil {
		opts.Progress = func(e runner.Event) {
			out.progress(e)
			o.observe(e)
		}
	}
	if f.IsTTY() && !o.JSON {
		opts.Manual = &ttyManual{f: f}
	}
	rep, err := runner.Run(ctx, opts)
	if err != nil {
		return nil, &ExitError{Code: ExitFailed, Err: err}
	}
	saveRunFile(f, filepath.Join(dir, "results.json"), rep)
	if log != nil {
		_ = log.Close() // the report reads the finished trail
		if _, _, err := report.WriteFiles(dir); err != nil {
			fmt.Fprintf(f.ErrOut, "warning: could not write the report: %v\n", err)
		}
	}
	pc.finish()
	out.final(rep, plan, dir)
	return &runOutcome{dir: dir, rep: rep, code: pc.exitCode(verdict(rep, false))}, nil
}

// defaultHold is the hold when --hold is not given (runner.DefaultHold;
// tests that do not exercise the hold shorten it).
var defaultHold = runner.DefaultHold

// parseHold validates --hold: a positive Go duration ("" is the default).
func parseHold(s string) (time.Duration, error) {
	if s == "" {
		return defaultHold, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--hold %q: want a positive duration such as 30m or 2h; nothing was sent", s)
	}
	return d, nil
}

// verdict maps a report onto the exit code: 1 if anything failed or is
// left that the API should have cleared, 4 if only manual steps remain.
func verdict(rep *runner.Report, dryRun bool) int {
	v := rep.Verdict
	switch {
	case rep.Interrupted:
		return ExitInterrupted
	case rep.Count(executors.StatusFailed) > 0:
		return ExitFailed
	case !dryRun && !v.Contained && !v.OnlyManual && len(v.Left) > 0:
		return ExitFailed
	case !dryRun && len(v.Left) > 0:
		return ExitManual
	case dryRun && (rep.Count(executors.StatusWouldChange) > 0 || rep.Count(executors.StatusPending) > 0):
		return ExitPlanOnly
	case rep.Count(executors.StatusPending) > 0:
		return ExitManual
	}
	return ExitOK
}

func hasChanges(rep *runner.Report) bool {
	return rep.Count(executors.StatusWouldChange) > 0
}

func newRunID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	// Milliseconds keep IDs (and run directories) in time order, e.g. a
	// dry run and the execution that follows it within the same second.
	return now.UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(b[:])
}

// saveRunFile writes a run-directory JSON file (runner.WriteFile) and
// returns its SHA-256; a failure is reported, not fatal: the trail is the
// record that counts.
func saveRunFile(f *Factory, path string, v any) string {
	sum, err := runner.WriteFile(path, v)
	if err != nil {
		fmt.Fprintf(f.ErrOut, "warning: could not write %s: %v\n", path, err)
	}
	return sum
}

// recordPlanOnly closes a trail for a run that stopped after planning.
func recordPlanOnly(log *audit.Log, pb *playbooks.Playbook, why, planSHA string) {
	if log == nil {
		return
	}
	_, _ = log.Append(audit.Event{Phase: "start", Result: map[string]any{"playbook": pb.Name, "playbook_sha256": pb.SHA256, "mode": "plan"}})
	_, _ = log.Append(audit.Event{Phase: "end", Result: map[string]any{"executed": false, "reason": why, "plan_sha256": planSHA}})
}

// confirm asks for a typed confirmation on the terminal, writing the prompt
// to w (stderr with --json, so that stdout holds only the JSON document).
func confirm(ctx context.Context, f *Factory, plan *runner.Report, w io.Writer) (bool, error) {
	n, irr := 0, 0
	for _, r := range plan.Results {
		n += len(r.Result.Changes)
		for _, c := range r.Result.Changes {
			if c.Irreversible {
				irr++
			}
		}
	}
	fmt.Fprintf(w, "\n%d change(s) planned", n)
	if irr > 0 {
		fmt.Fprintf(w, ", %d of them IRREVERSIBLE", irr)
	}
	fmt.Fprint(w, ".\nType \"execute\" to carry them out (anything else aborts): ")
	line, err := f.readLine(ctx)
	if err != nil && line == "" {
		return false, err
	}
	return strings.TrimSpace(line) == "execute", nil
}

// ttyManual shows manual instructions and waits for the operator. Steps of
// several accounts take turns; all input goes through Factory.readLine.
type ttyManual struct {
	f  *Factory
	mu sync.Mutex
}

func (m *ttyManual) Wait(ctx context.Context, step, account, instructions string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintf(m.f.Out, "\n── manual step %s (%s) ──\n%s\n\nType \"done\" when finished, or press Enter to leave it pending: ", step, account, strings.TrimSpace(instructions))
	s, err := m.f.readLine(ctx)
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil && s == "" {
		return false, nil
	}
	return strings.EqualFold(strings.TrimSpace(s), "done"), nil
}

// resumePlaybook continues the interrupted run in o.Resume (issue 6; the
// rules are in internal/runner/resume.go). Everything is checked before
// anything is sent: the trail verifies (a torn last line aside), the run
// executed and did not finish, and the playbook, accounts and inputs are
// the ones it recorded. Every refusal is a usage error (exit 2).
func resumePlaybook(ctx context.Context, f *Factory, o *RunOptions) (*runOutcome, error) {
	defer TuneGC()()
	switch {
	case o.DryRun:
		return nil, usageError(errors.New("--resume cannot be combined with --dry-run: a resumed run executes (use run PLAYBOOK --dry-run to see the current plan)"))
	case len(o.Accounts) > 0 || len(o.Tags) > 0:
		return nil, usageError(errors.New("--resume takes the accounts from the interrupted run: drop --account and --tag"))
	}
	dir := o.Resume
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, usageError(fmt.Errorf("--resume %s: not a run directory", dir))
	}
	st, err := runner.LoadResume(dir)
	if err != nil {
		return nil, usageError(err)
	}
	pbName := o.Playbook
	if pbName == "" {
		pbName = strings.TrimPrefix(st.PlaybookFile, "builtin:")
	}
	if pbName == "" {
		return nil, usageError(fmt.Errorf("--resume %s: the trail does not name its playbook file: pass PLAYBOOK", dir))
	}
	// An interrupted apply resumes bound to the plan it applied (apply.go).
	bound, err := resumeBinding(dir, o.Inputs)
	if err != nil {
		return nil, usageError(fmt.Errorf("--resume %s: %w", dir, err))
	}
	rawInputs := o.Inputs
	if bound != nil {
		rawInputs = bound.inputs
	}
	p, err := prepare(ctx, f, pbName, o.Config, st.Accounts, nil, rawInputs)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(p.targets))
	for i, t := range p.targets {
		names[i] = t.Ref.Name
	}
	if err := st.Check(p.pb.SHA256, names, p.inputs); err != nil {
		return nil, usageError(fmt.Errorf("--resume %s: %w", dir, err))
	}

	out := newPrinter(f, o.JSON)
	out.header(p, st.RunID, dir, o)
	out.note(resumeSummary(st))
	confirmedBy := "--yes"
	if !o.Yes {
		if !f.IsTTY() {
			out.note("plan only: nothing was resumed (no terminal to confirm on; pass --yes to resume)")
			out.stopped(nil, ExitPlanOnly)
			return &runOutcome{dir: dir, code: ExitPlanOnly}, nil
		}
		promptTo := f.Out
		if o.JSON {
			promptTo = f.ErrOut // stdout holds only the JSON document
		}
		fmt.Fprint(promptTo, "Type \"execute\" to resume the run (anything else aborts): ")
		line, _ := f.readLine(ctx)
		if strings.TrimSpace(line) != "execute" {
			out.note("not confirmed: nothing was resumed")
			out.stopped(nil, ExitPlanOnly)
			return &runOutcome{dir: dir, code: ExitPlanOnly}, nil
		}
		confirmedBy = "operator"
	}

	log, err := audit.Open(dir, audit.Options{Now: f.Now})
	if err != nil {
		return nil, &ExitError{Code: ExitFailed, Msg: fmt.Sprintf("cannot re-open the audit trail in %s: %v; nothing was sent", dir, err)}
	}
	defer log.Close()
	// The trail was read (LoadResume) before the confirmation; another
	// resume may have continued it meanwhile. Continue only the trail that
	// was read, or the done/in-doubt accounting would be wrong.
	if log.Seq() != st.Seq || log.Head() != st.Head {
		return nil, usageError(fmt.Errorf("--resume %s: the trail changed since it was read (now at seq %d, read at seq %d): run --resume again; nothing was sent", dir, log.Seq(), st.Seq))
	}
	opts := runner.Options{
		RunID: st.RunID, Playbook: p.pb, Targets: p.targets, Inputs: p.inputs,
		RunDir: dir, Concurrency: o.Concurrency, Now: f.Now, Version: f.Version,
		AuditDegraded: o.AuditDegraded, Audit: log, Resume: st, Hold: o.hold,
		StartInfo: map[string]any{"confirmed_by": confirmedBy},
		Warn:      func(msg string) { fmt.Fprintln(f.ErrOut, msg) },
		Notify:    postWebhook,
		Progress:  out.progress,
	}
	if f.IsTTY() && !o.JSON {
		opts.Manual = &ttyManual{f: f}
	}
	if bound != nil {
		opts.Approve = bound.approver.Approve
		opts.Review = func(acct playbooks.AccountRef, res *runner.StepResult) {
			reviewRefused(res, bound.approver.RefusedFor(res.Step, acct.Name))
		}
		opts.StartInfo["approved_plan_sha256"] = bound.hash
		out.note("the interrupted run applied plan " + bound.hash + ": the resume is bound to it (approved targets only)")
	}
	rep, err := runner.Run(ctx, opts)
	if err != nil {
		return nil, &ExitError{Code: ExitFailed, Err: err}
	}
	saveRunFile(f, filepath.Join(dir, "results.json"), rep)
	// As after a fresh run: the report, rebuilt from the whole trail, now
	// covers the interrupted run and its resume (close first: it reads the
	// finished trail).
	_ = log.Close()
	if _, _, err := report.WriteFiles(dir); err != nil {
		fmt.Fprintf(f.ErrOut, "warning: could not write the report: %v\n", err)
	}
	out.final(rep, nil, dir)
	return &runOutcome{dir: dir, rep: rep, code: verdict(rep, false)}, nil
}

// resumeSummary says what the resumed run takes over from the trail.
func resumeSummary(st *runner.ResumeState) string {
	done, doubt := st.List(runner.MutationDone), st.List(runner.MutationInDoubt)
	s := fmt.Sprintf("resuming run %s (trail ends at seq %d, head %s): %d mutation(s) done before the interruption (not sent again), %d in doubt (re-checked against the exchange first), %d completed step result(s) kept",
		st.RunID, st.Seq, st.Head, len(done), len(doubt), len(st.Completed))
	if st.InterruptedAt > 0 { // resume after Ctrl-C (exit 130)
		s += fmt.Sprintf("\n  the run was interrupted (Ctrl-C, end record at seq %d); it continues where it stopped", st.InterruptedAt)
	}
	for _, m := range doubt {
		s += "\n  in doubt: " + m.Step + " on " + m.Account + ": " + m.Target
		if m.Irreversible {
			s += " (IRREVERSIBLE: sent again only if the exchange still shows it)"
		}
	}
	if r := st.Repaired; r != nil {
		s += fmt.Sprintf("\n  repaired: a torn last line (%d bytes, interrupted write) was cut off after seq %d and saved as %s", r.Bytes, r.AfterSeq, r.SavedAs)
	}
	return s
}
