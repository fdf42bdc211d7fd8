package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/posture"
	"github.com/panicbutton/panicbutton/internal/runner"
	"github.com/panicbutton/panicbutton/internal/secret"
	"github.com/panicbutton/panicbutton/playbooks"
)

// addPostureFlags adds --baseline and --fail-on to `run`.
func addPostureFlags(cmd *cobra.Command, o *RunOptions) {
	fl := cmd.Flags()
	fl.StringVar(&o.Baseline, "baseline", "", "report every change since this posture baseline `FILE` (recorded by `panicbutton posture baseline`) as a high-severity finding")
	fl.StringVar(&o.FailOn, "fail-on", "", "exit 5 when a finding of at least this `SEVERITY` exists: high, medium, low, info or none (default: high for playbooks that change nothing, such as posture-check; none for the others)")
}

// postureCheck turns the key inventory and withdrawal list of a run into
// posture findings (internal/posture) and, with --baseline, drift. Its
// review runs inside the runner, so the findings reach the audit trail,
// the report and notify.webhook messages. A nil *postureCheck does
// nothing: the run is not a posture check.
type postureCheck struct {
	f            *Factory
	failOn       string // "" = never fail on findings
	accts        map[string]posture.Account
	opts         posture.Options
	baseline     *posture.Baseline
	baselinePath string
	seen         *posture.Seen

	mu       sync.Mutex
	findings []posture.Finding
}

// newPostureCheck returns the posture check of a run, or nil when the run
// is not one: a playbook that changes something, without --baseline or
// --fail-on. Every problem (a bad --fail-on, a file that is not a
// baseline, a baseline of other accounts) is a usage error, found before
// anything is sent.
func newPostureCheck(f *Factory, o *RunOptions, p *prepared) (*postureCheck, error) {
	readOnly := !p.pb.Mutating()
	if !readOnly && o.Baseline == "" && o.FailOn == "" {
		return nil, nil
	}
	failOn := o.FailOn
	if failOn == "" {
		failOn = posture.High
		if !readOnly {
			failOn = "none"
		}
	}
	sev, err := posture.ParseFailOn(failOn)
	if err != nil {
		return nil, usageError(err)
	}
	pc := &postureCheck{f: f, failOn: sev, accts: postureAccounts(p), opts: posture.Options{Now: f.Now()}}
	if o.Baseline == "" {
		return pc, nil
	}
	b, sum, err := posture.LoadBaseline(o.Baseline)
	if err != nil {
		return nil, usageError(fmt.Errorf("--baseline: %w; nothing was sent", err))
	}
	var accts []posture.Account
	for _, t := range p.targets {
		accts = append(accts, pc.accts[t.Ref.Name])
	}
	if err := b.Check(accts); err != nil {
		return nil, usageError(fmt.Errorf("--baseline %s: %w; nothing was sent", o.Baseline, err))
	}
	pc.baseline, pc.baselinePath = b, o.Baseline
	pc.seen = posture.LoadSeen(posture.SeenPath(o.Baseline), sum)
	return pc, nil
}

// postureAccounts describes the targeted accounts for the findings: the
// masked id of each account's own key and of the sub keys whose
// passphrase the accounts file holds.
func postureAccounts(p *prepared) map[string]posture.Account {
	out := map[string]posture.Account{}
	for _, t := range p.targets {
		acct := p.accounts[t.Ref.Name]
		a := posture.Account{Name: t.Ref.Name, Exchange: t.Ref.Exchange, Tags: t.Ref.Tags}
		if !acct.APIKey.IsZero() {
			a.OwnKey = secret.Mask(acct.APIKey.Reveal())
		}
		for _, sk := range acct.SubKeys {
			if !sk.Passphrase.IsZero() {
				a.KnownSubKeys = append(a.KnownSubKeys, secret.Mask(sk.APIKey))
			}
		}
		out[t.Ref.Name] = a
	}
	return out
}

// observed extracts what a keys.inventory result saw.
func observedKeys(res *runner.StepResult) ([]executors.Key, int, bool) {
	keys, ok := res.Result.Data.([]executors.Key)
	if !ok {
		return nil, -1, false
	}
	subs := -1
	if n, ok := res.Result.Counts["sub_accounts"]; ok {
		subs = n
	}
	return keys, subs, true
}

// review replaces the findings of keys.inventory and withdrawals.list
// results with posture findings (and drift). Called by the runner from
// several goroutines.
func (pc *postureCheck) review(ref playbooks.AccountRef, res *runner.StepResult) {
	a, ok := pc.accts[ref.Name]
	if !ok {
		return
	}
	var ab posture.AccountBaseline
	hasBase := false
	if pc.baseline != nil {
		ab, hasBase = pc.baseline.Find(ref.Name)
	}
	var fs []posture.Finding
	switch res.Action {
	case executors.KeysInventory:
		keys, subs, ok := observedKeys(res)
		if !ok {
			return
		}
		fs = posture.KeyFindings(a, keys, pc.opts)
		if hasBase {
			fs = append(posture.Drift(a, ab, posture.Observed{Keys: keys, SubAccountCount: subs}), fs...)
		}
	case executors.WithdrawalsList:
		ws, ok := res.Result.Data.([]executors.Withdrawal)
		if !ok {
			return
		}
		fs = posture.WithdrawalFindings(a, ws, ab.WithdrawalAddresses)
	default:
		return
	}
	pc.mu.Lock()
	if pc.seen != nil && res.Action == executors.KeysInventory {
		pc.seen.Stamp(ref.Name, fs, pc.f.Now())
	}
	pc.findings = append(pc.findings, fs...)
	pc.mu.Unlock()

	posture.Sort(fs)
	res.Result.Findings = make([]executors.Finding, len(fs))
	for i, f := range fs {
		res.Result.Findings[i] = f.Executor()
	}
	found := "no risky setting"
	if res.Action == executors.WithdrawalsList {
		found = "nothing to flag"
	}
	if len(fs) > 0 {
		found = "findings: " + severityCounts(fs)
	}
	if keys, _, ok := observedKeys(res); ok && res.Status == executors.StatusOK {
		// The executor's "N risky" counts its own flags (trading enabled
		// included); the findings are what counts here.
		sub := 0
		for _, k := range keys {
			if k.Sub {
				sub++
			}
		}
		res.Summary = fmt.Sprintf("%d keys (%d of sub-accounts); %s", len(keys), sub, found)
	} else {
		res.Summary += "; " + found
	}
	res.Result.Summary = res.Summary
}

// finish sorts the findings and saves the drifts' first-seen times.
func (pc *postureCheck) finish() {
	if pc == nil {
		return
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	posture.Sort(pc.findings)
	if pc.findings == nil {
		pc.findings = []posture.Finding{}
	}
	if pc.seen != nil {
		if err := pc.seen.Save(posture.SeenPath(pc.baselinePath)); err != nil {
			fmt.Fprintf(pc.f.ErrOut, "warning: could not save when each drift was first seen (%v): the next check will report them as first seen then\n", err)
		}
	}
}

// exitCode turns a run's exit code into ExitFindings when the run was
// otherwise fine and findings at or above --fail-on exist.
func (pc *postureCheck) exitCode(code int) int {
	if pc == nil || code != ExitOK {
		return code
	}
	if posture.AtOrAbove(pc.findings, pc.failOn) > 0 {
		return ExitFindings
	}
	return code
}

func (pc *postureCheck) failOnText() string {
	if pc.failOn == "" {
		return "none"
	}
	return pc.failOn
}

// addJSON adds the stable findings list to the --json document.
func (pc *postureCheck) addJSON(doc map[string]any) {
	if pc == nil {
		return
	}
	doc["findings"] = pc.findings
	doc["fail_on"] = pc.failOnText()
	if pc.baselinePath != "" {
		doc["baseline"] = pc.baselinePath
	}
}

// print shows the findings to a human, most severe first, each with its
// account, key, what is risky and the fix.
func (pc *postureCheck) print(p *printer) {
	if pc == nil {
		return
	}
	fs := pc.findings
	if len(fs) == 0 {
		what := "no risky setting found"
		if pc.baseline != nil {
			what += ", nothing changed since the baseline"
		}
		fmt.Fprintf(p.w, "\n%s %s\n", p.paint(ansiGreen+ansiBold, "FINDINGS: none —"), what)
		return
	}
	drift := 0
	for _, f := range fs {
		if f.Drift {
			drift++
		}
	}
	head := "FINDINGS: " + severityCounts(fs)
	if pc.baseline != nil {
		head += fmt.Sprintf("; %d changed since the baseline", drift)
	}
	color := ansiYellow + ansiBold
	if posture.AtOrAbove(fs, posture.High) > 0 {
		color = ansiRed + ansiBold
	}
	fmt.Fprintf(p.w, "\n%s\n", p.paint(color, head))
	for _, f := range fs {
		tag := ""
		if f.Drift {
			tag = " DRIFT"
			if !f.FirstSeen.IsZero() {
				tag += " (first seen " + f.FirstSeen.UTC().Format(time.RFC3339) + ")"
			}
		}
		fmt.Fprintf(p.w, "  [%s]%s %s, %s: %s\n", strings.ToUpper(f.Severity), tag, f.Account, f.Subject(), f.Message)
		fmt.Fprintf(p.w, "      fix: %s\n", f.Fix)
	}
	if n := posture.AtOrAbove(fs, pc.failOn); n > 0 {
		fmt.Fprintf(p.w, "%d finding(s) at or above --fail-on %s: exit %d\n", n, pc.failOn, ExitFindings)
	}
}

// countOf is "1 key", "2 keys".
func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "ss") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// severityCounts is "2 high, 1 medium".
func severityCounts(fs []posture.Finding) string {
	n := map[string]int{}
	for _, f := range fs {
		n[f.Severity]++
	}
	var parts []string
	for _, s := range posture.Severities {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	return strings.Join(parts, ", ")
}

// ---- panicbutton posture ----

func newPostureCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "posture",
		Short: "Record a baseline of your API-key settings, to catch changes later",
		Long: `A fake "support" call talks the victim into changing API settings: enabling
withdrawals on a key, lifting its IP restriction, creating a key "for
verification". The damage comes minutes or days later. Record the settings
you trust once:

  panicbutton posture baseline ~/panicbutton/baseline.json

then let a scheduler run the read-only check against it:

  panicbutton run posture-check --baseline ~/panicbutton/baseline.json

Every change since (a new key or sub-account, a permission widened, an IP
restriction lifted or widened, withdrawals switched on) is a high-severity
finding with the time it was first seen, and the check exits 5.`,
		Example: `  # record the settings you trust
  panicbutton posture baseline ~/panicbutton/baseline.json

  # every 10 minutes, from cron: page the on-call only if something changed
  panicbutton run posture-check --baseline ~/panicbutton/baseline.json --input webhook=https://hooks.example/T0KEN`,
	}
	cmd.AddCommand(newPostureBaselineCmd(f))
	return cmd
}

type postureBaselineOptions struct {
	Config   string
	Accounts []string
	Tags     []string
	Force    bool
	Timeout  time.Duration
}

func newPostureBaselineCmd(f *Factory) *cobra.Command {
	o := &postureBaselineOptions{}
	cmd := &cobra.Command{
		Use:   "baseline FILE",
		Short: "Record every account's API keys, permissions, IP lists and sub-accounts in FILE",
		Long: `baseline reads, for every configured account (read-only requests only), each
API key of the account and its sub-accounts — masked id, label, permissions,
IP list, creation time — the sub-accounts, and the addresses of recent
withdrawals, and writes them to FILE (JSON, mode 0600). There is no secret
in it. Keep it: "panicbutton run posture-check --baseline FILE" reports every
change since.

Record it when the settings are the ones you trust. An existing FILE is
only replaced with --force: a baseline recorded after a compromise would
hide it. Nothing is written if any account's keys could not be read.

Exit status: 0 written, 1 an account could not be read (nothing written),
2 usage or configuration error (nothing was sent).`,
		Example: `  panicbutton posture baseline ~/panicbutton/baseline.json
  panicbutton posture baseline --force --tag prod ./baseline-prod.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPostureBaseline(cmd.Context(), f, o, args[0])
		},
	}
	addAccountFlags(cmd, &o.Config, &o.Accounts, &o.Tags)
	cmd.Flags().BoolVar(&o.Force, "force", false, "replace FILE if it exists")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 2*time.Minute, "time limit per account")
	return cmd
}

func runPostureBaseline(ctx context.Context, f *Factory, o *postureBaselineOptions, path string) error {
	if _, err := os.Stat(path); err == nil && !o.Force {
		return usageError(fmt.Errorf("%s exists: pass --force to replace it (a baseline recorded after a compromise would hide it); nothing was sent", path))
	}
	p, err := prepare(ctx, f, "posture-check", o.Config, o.Accounts, o.Tags, nil)
	if err != nil {
		return err
	}
	accts := postureAccounts(p)
	type read struct {
		obs  posture.Observed
		err  error
		warn string
	}
	reads := make([]read, len(p.targets))
	var wg sync.WaitGroup
	for i, t := range p.targets {
		wg.Add(1)
		go func(i int, t runner.Target) {
			defer wg.Done()
			actx, cancel := context.WithTimeout(ctx, o.Timeout)
			defer cancel()
			r := &reads[i]
			req := executors.Request{Action: executors.KeysInventory, Step: "baseline",
				Params: executors.WithDefaults(executors.KeysInventory, nil), Hooks: executors.NopHooks{}}
			res, err := t.Exec.Do(actx, req)
			sr := runner.StepResult{Result: res}
			keys, subs, ok := observedKeys(&sr)
			switch {
			case err != nil:
				r.err = err
			case res.Status != executors.StatusOK || !ok:
				r.err = errors.New(res.Summary)
			}
			r.obs = posture.Observed{Keys: keys, SubAccountCount: subs}
			req.Action, req.Params = executors.WithdrawalsList, executors.WithDefaults(executors.WithdrawalsList, nil)
			wres, werr := t.Exec.Do(actx, req)
			if ws, ok := wres.Data.([]executors.Withdrawal); ok && werr == nil {
				r.obs.Withdrawals = ws
			} else {
				msg := wres.Summary
				if werr != nil {
					msg = werr.Error()
				}
				r.warn = "recent withdrawal addresses not recorded (" + msg + "): every pending withdrawal will count as to a new address"
			}
		}(i, t)
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	b := &posture.Baseline{Format: posture.BaselineFormat, Version: posture.BaselineVersion,
		Recorded: f.Now().UTC(), Tool: f.Version}
	var failed []string
	for i, t := range p.targets {
		r := reads[i]
		if r.err != nil {
			failed = append(failed, fmt.Sprintf("%s: cannot read its keys: %v", t.Ref.Name, r.err))
			continue
		}
		b.Accounts = append(b.Accounts, posture.Record(accts[t.Ref.Name], r.obs))
	}
	if len(failed) > 0 {
		return &ExitError{Code: ExitFailed, Msg: strings.Join(failed, "\n") + "\nnothing was written: a baseline missing an account's keys would report them all as new"}
	}
	sort.Slice(b.Accounts, func(i, j int) bool { return b.Accounts[i].Account < b.Accounts[j].Account })
	if err := b.Write(path); err != nil {
		return &ExitError{Code: ExitFailed, Msg: fmt.Sprintf("cannot write the baseline: %v", err)}
	}
	risky := 0
	for i, t := range p.targets {
		ab, _ := b.Find(t.Ref.Name)
		fmt.Fprintf(f.Out, "%s (%s): %s, %s with keys, %s\n", ab.Account, ab.Exchange, countOf(len(ab.Keys), "key"),
			countOf(len(ab.SubAccounts), "sub-account"), countOf(len(ab.WithdrawalAddresses), "withdrawal address"))
		if reads[i].warn != "" {
			fmt.Fprintf(f.ErrOut, "warning: %s: %s\n", t.Ref.Name, reads[i].warn)
		}
		risky += posture.AtOrAbove(posture.KeyFindings(accts[t.Ref.Name], reads[i].obs.Keys, posture.Options{Now: f.Now()}), posture.High)
	}
	fmt.Fprintf(f.Out, "baseline written to %s (no secret in it; keep it): check against it with\n  panicbutton run posture-check --baseline %s\n", path, path)
	if risky > 0 {
		fmt.Fprintf(f.Out, "note: %d high-risk setting(s) were recorded as they are; the check still reports them (panicbutton run posture-check)\n", risky)
	}
	return nil
}
