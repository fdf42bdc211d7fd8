package runner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/panicbutton/panicbutton/executors"
)

// A key named in keys.revoke's key_ids (the playbooks' leaked_key) is
// looked for on every targeted account; each account that does not hold it
// says so with a FindingKeyNotFound finding. Only the whole run knows
// whether it is on no configured account: settleKeyNotFound rewrites those
// findings once every account is done. Found elsewhere: each "not here"
// becomes info. Found nowhere: each says, high, "not found on any
// configured account" (listing the accounts checked and any that could not
// be), and the run goes on regardless — containment never stopped for it.
func settleKeyNotFound(all []StepResult) {
	// A hold's last pass re-ran steps: its results are judged too.
	var results []*settled
	for i := range all {
		results = append(results, &settled{all[i].Step, all[i].Account, all[i].Status, &all[i].Result})
		if hs, ok := all[i].Result.Data.(*HoldSummary); ok && hs != nil {
			for id, last := range hs.LastPass {
				last := last
				results = append(results, &settled{id, all[i].Account, last.Status, &last})
				defer func() { hs.LastPass[id] = last }()
			}
		}
	}
	settleResults(results)
}

// settled is one result settleKeyNotFound may rewrite.
type settled struct {
	Step, Account string
	Status        executors.Status
	Result        *executors.Result
}

func settleResults(results []*settled) {
	type ref struct{ res, find int }
	byStep := map[string]map[string][]ref{} // step -> subject -> findings
	for i, res := range results {
		for j, f := range res.Result.Findings {
			if f.Code != executors.FindingKeyNotFound {
				continue
			}
			if byStep[res.Step] == nil {
				byStep[res.Step] = map[string][]ref{}
			}
			byStep[res.Step][f.Subject] = append(byStep[res.Step][f.Subject], ref{i, j})
		}
	}
	for step, subjects := range byStep {
		for subject, refs := range subjects {
			missing := map[string]bool{}
			for _, r := range refs {
				missing[results[r.res].Account] = true
			}
			var holders, unchecked, checked []string
			seen := map[string]bool{}
			for _, res := range results {
				if res.Step != step || seen[res.Account] {
					continue
				}
				seen[res.Account] = true
				switch {
				case missing[res.Account]:
					checked = append(checked, res.Account)
				case res.Status == executors.StatusFailed || res.Status == executors.StatusSkipped:
					unchecked = append(unchecked, res.Account)
				default:
					holders = append(holders, res.Account)
				}
			}
			sort.Strings(holders)
			sort.Strings(unchecked)
			sort.Strings(checked)
			masked := strings.TrimPrefix(subject, "key ")
			for _, r := range refs {
				f := &results[r.res].Result.Findings[r.find]
				switch {
				case len(holders) > 0:
					f.Severity = "info"
					f.Message = fmt.Sprintf("key %s is not on account %s; it was found on %s", masked, results[r.res].Account, strings.Join(holders, ", "))
					f.Fix = ""
				default:
					// Every account's copy says it (a hold's last pass may
					// stand in for the step's own result in the verdict).
					f.Message = fmt.Sprintf("key %s not found on any configured account (checked %s): it may be the master key of an account, "+
						"or belong to an account not in the accounts file", masked, strings.Join(checked, ", "))
					if len(unchecked) > 0 {
						f.Message += fmt.Sprintf("; %s could not be checked (the step failed there)", strings.Join(unchecked, ", "))
					}
					f.Fix = executors.KeyNotFoundFix(masked)
				}
			}
		}
	}
}
