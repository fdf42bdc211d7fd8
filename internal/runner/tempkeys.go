package runner

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/audit"
)

// Temporary keys (issue 10 item 1). To cancel a sub-account's orders an
// executor may mint a temporary key on it; it records the key's creation
// (create-temp-key) before using it and its deletion (delete-temp-key) at
// the end of the step, also when the step fails or the run is
// interrupted. Only a crash (kill -9, power loss) leaves one alive: a
// resumed run therefore deletes, before anything else, every temporary
// key the trail shows created — or maybe created (an intent without
// outcome) — and not deleted.

// tempKeyKinds are the mutation kinds of temporary keys.
var tempKeyKinds = map[string]bool{"create-temp-key": true, "delete-temp-key": true}

// StepResumeCleanup is the step name of the resumed run's clean-up of
// temporary keys in the trail and the report.
const StepResumeCleanup = "resume-cleanup"

// TempKeysLeft returns, per account, the temporary keys the trail shows
// created (done or in doubt) and not deleted.
func (s *ResumeState) TempKeysLeft() map[string][]executors.TempKey {
	deleted := map[string]bool{} // account/label
	for _, m := range s.Mutations {
		if m.Kind == "delete-temp-key" && m.State == MutationDone {
			deleted[m.Account+"/"+m.Label] = true
		}
	}
	out := map[string][]executors.TempKey{}
	for _, m := range s.List("") {
		if m.Kind != "create-temp-key" || m.State == MutationFailed || m.Label == "" || deleted[m.Account+"/"+m.Label] {
			continue
		}
		out[m.Account] = append(out[m.Account], executors.TempKey{Sub: m.Sub, Label: m.Label, Masked: m.APIKey})
	}
	return out
}

// cleanupTempKeys deletes the temporary keys the interrupted run left, one
// result per account (step StepResumeCleanup).
func (rr *resumeRun) cleanupTempKeys(ctx context.Context, r *run) {
	if rr == nil {
		return
	}
	left := rr.st.TempKeysLeft()
	accounts := make([]string, 0, len(left))
	for a := range left {
		accounts = append(accounts, a)
	}
	sort.Strings(accounts)
	for _, account := range accounts {
		keys := left[account]
		var labels []string
		for _, k := range keys {
			labels = append(labels, k.Sub+"/"+k.Label)
		}
		base := StepResult{Step: StepResumeCleanup, Account: account, Action: StepResumeCleanup, Started: r.o.Now()}
		var target *Target
		for i := range r.o.Targets {
			if r.o.Targets[i].Ref.Name == account {
				target = &r.o.Targets[i]
			}
		}
		var (
			res executors.Result
			err error
		)
		cleaner, ok := executors.TempKeyCleaner(nil), false
		if target != nil {
			cleaner, ok = target.Exec.(executors.TempKeyCleaner)
			base.Exchange = target.Ref.Exchange
		}
		if !ok {
			res = executors.Result{Status: executors.StatusFailed,
				Summary: fmt.Sprintf("cannot delete the temporary keys %s left by the interrupted run: the account is not in this run", strings.Join(labels, ", "))}
			for _, k := range keys {
				res.Remaining = append(res.Remaining, executors.Change{Kind: LeftLiveKey, Target: fmt.Sprintf("sub %s: temporary key %s (%s)", k.Sub, k.Masked, k.Label)})
			}
			err = fmt.Errorf("%s", res.Summary)
		} else {
			r.progress(Event{Kind: "start", Step: StepResumeCleanup, Account: account})
			h := &auditHooks{r: r, step: StepResumeCleanup, account: account, action: StepResumeCleanup}
			res, err = cleaner.DeleteTempKeys(ctx, executors.Request{Action: StepResumeCleanup, Step: StepResumeCleanup, Hooks: h}, keys)
		}
		base.Status, base.Summary, base.Result = res.Status, res.Summary, res
		base.Duration = r.o.Now().Sub(base.Started)
		if err != nil {
			base.Error, base.ErrClass = err.Error(), string(executors.ClassOf(err))
			r.o.Warn(fmt.Sprintf("WARNING: %s: temporary keys of the interrupted run: %s", account, res.Summary))
		}
		r.recordResult(base)
		r.addResult(base)
	}
	if len(accounts) > 0 {
		_, _ = r.record(audit.Event{Phase: audit.PhaseInfo, Step: StepResumeCleanup,
			Result: map[string]any{"resume": "temporary keys of the interrupted run handled", "accounts": accounts}})
	}
}
