package runner

import (
	"fmt"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

// Kinds of Remaining changes (the executors' contract, issue 10).
const (
	LeftOpenOrders         = "open-orders"
	LeftOpenOrdersInferred = "open-orders-inferred"
	// LeftOpenOrdersPossible: a key died after its holder was seen at work
	// during the hold; what they placed after the hold's last look is out
	// of the API's sight.
	LeftOpenOrdersPossible = "open-orders-possible"
	LeftLiveKey            = "live-key"
	LeftWithdrawal         = "withdrawal"
	LeftWithdrawalUncancel = "withdrawal-uncancellable"
	LeftUnresolvedFinding  = "finding"
)

// Left is one thing the run saw or inferred is still there.
type Left struct {
	Account string `json:"account"`
	Step    string `json:"step"`
	Kind    string `json:"kind"`
	Target  string `json:"target"`
	// Manual is the instruction for it, when the step gave one.
	Manual string `json:"manual,omitempty"`
}

// Verdict is what a run achieved, never more (issue 10 item 4).
type Verdict struct {
	// Contained: nothing is left anywhere the run could see or infer, no
	// step failed; at most the account's own key is pending (a manual step).
	Contained bool   `json:"contained"`
	Text      string `json:"text"`
	Left      []Left `json:"left,omitempty"`
	// Failed and Pending count step results.
	Failed  int `json:"failed"`
	Pending int `json:"pending"`
	// OnlyManual: nothing failed and everything left needs a human (inferred
	// orders, uncancellable withdrawals, pending manual steps).
	OnlyManual bool `json:"only_manual"`
}

// manualKinds are left items only a human can clear.
var manualKinds = map[string]bool{LeftOpenOrdersInferred: true, LeftOpenOrdersPossible: true, LeftWithdrawalUncancel: true, LeftUnresolvedFinding: true}

// ComputeVerdict derives the verdict from the results. A step's Remaining
// counts unless a later result of the same action on the same account
// (which saw newer state) or a hold pass that re-ran the step replaces it;
// inferred orders and uncancellable withdrawals are never dropped. High
// findings of mutating steps (e.g. a leaked key found on no account) count
// as left: they need a human.
func ComputeVerdict(rep *Report) Verdict {
	v := Verdict{Failed: rep.Count(executors.StatusFailed), Pending: rep.Count(executors.StatusPending)}
	// Within a scope: freeze (the account itself) and freeze-sub-accounts
	// (scope sub_accounts) are the same action on different orders.
	type key struct{ account, action, scope string }
	// A hold's last clean pass re-ran some steps on newer state: judge
	// those steps by that pass instead of their own result.
	held := map[string]executors.Result{} // account/step -> last pass result
	for _, res := range rep.Results {
		if hs, ok := res.Result.Data.(*HoldSummary); ok && hs != nil {
			for id, last := range hs.LastPass {
				held[res.Account+"/"+id] = last
			}
		}
	}
	results := make([]StepResult, 0, len(rep.Results))
	var unseen []Left
	for _, res := range rep.Results {
		if last, ok := held[res.Account+"/"+res.Step]; ok {
			res.Result, res.Status = last, last.Status
		}
		if hs, ok := res.Result.Data.(*HoldSummary); ok {
			res.Result.Remaining = nil // its steps' passes are judged above
			if hs != nil && hs.Unseen != nil {
				unseen = append(unseen, Left{Account: res.Account, Step: res.Step, Kind: LeftOpenOrdersPossible, Target: unseenTarget(hs), Manual: unseenManual})
			}
		}
		results = append(results, res)
	}
	latest := map[key]int{}       // index of the latest result per (account, action)
	for i, res := range results { // Results are in playbook order
		if res.Status != executors.StatusSkipped && executors.IsMutating(res.Action) {
			latest[key{res.Account, res.Action, res.Scope}] = i
		}
	}
	for i, res := range results {
		mut := executors.IsMutating(res.Action)
		superseded := mut && latest[key{res.Account, res.Action, res.Scope}] != i
		manual := ""
		if len(res.Result.Manual) > 0 {
			manual = res.Result.Manual[0].Instructions
		}
		for _, c := range res.Result.Remaining {
			if superseded && !manualKinds[c.Kind] {
				continue
			}
			v.Left = append(v.Left, Left{Account: res.Account, Step: res.Step, Kind: c.Kind, Target: c.Target, Manual: manual})
		}
		if superseded && mut {
			// A leaked key found on no account (leaked.go) concerns its
			// own step, not the state a later step of the action re-read.
			for _, f := range res.Result.Findings {
				if f.Severity == "high" && f.Code == executors.FindingKeyNotFound {
					v.Left = append(v.Left, Left{Account: res.Account, Step: res.Step, Kind: LeftUnresolvedFinding, Target: f.Subject + ": " + f.Message, Manual: f.Fix})
				}
			}
		}
		if superseded || !mut {
			continue
		}
		if res.Action == executors.WithdrawalsCancelPending && res.Status == executors.StatusPending && !hasWithdrawalLeft(res.Result.Remaining) {
			// A withdrawal the venue will not cancel by API is still leaving:
			// one item per manual step (they name the withdrawals).
			if len(res.Result.Manual) == 0 {
				v.Left = append(v.Left, Left{Account: res.Account, Step: res.Step, Kind: LeftWithdrawalUncancel, Target: res.Result.Summary})
			}
			for _, m := range res.Result.Manual {
				v.Left = append(v.Left, Left{Account: res.Account, Step: res.Step, Kind: LeftWithdrawalUncancel, Target: m.Title, Manual: m.Instructions})
			}
		}
		for _, f := range res.Result.Findings {
			if f.Severity == "high" {
				v.Left = append(v.Left, Left{Account: res.Account, Step: res.Step, Kind: LeftUnresolvedFinding, Target: f.Subject + ": " + f.Message, Manual: f.Fix})
			}
		}
	}
	v.Left = dedupLeft(append(v.Left, unseen...))
	auto := 0
	for _, l := range v.Left {
		if !manualKinds[l.Kind] {
			auto++
		}
	}
	switch {
	case rep.Mode == ModeDryRun:
		v.Text = "DRY RUN — nothing was changed"
	case rep.Interrupted:
		v.Text = "INTERRUPTED — NOT CONTAINED: the run stopped before every step finished"
	case v.Failed > 0:
		v.Text = fmt.Sprintf("NOT CONTAINED — %d step result(s) failed", v.Failed)
	case auto > 0:
		v.Text = fmt.Sprintf("NOT CONTAINED — %d item(s) still there (open orders, live keys or withdrawals)", auto)
	case len(v.Left) > 0:
		v.Text = fmt.Sprintf("NOT CONTAINED — %d item(s) left that only a human can clear", len(v.Left))
		v.OnlyManual = true
	case v.Pending > 0:
		v.Contained, v.OnlyManual = true, true
		v.Text = "CONTAINED, MANUAL STEPS PENDING"
	default:
		v.Contained = true
		v.Text = "CONTAINED"
	}
	return v
}

// unseenTarget says what a hold's unseen window may hold (the target of
// its LeftOpenOrdersPossible), and why the holder is taken to be at work.
func unseenTarget(hs *HoldSummary) string {
	u := hs.Unseen
	ms := func(t time.Time) string { return t.UTC().Format("15:04:05.000") }
	switch {
	case u.KeyAlive:
		return fmt.Sprintf("orders its holder may have placed since %s UTC, the hold's last look: the key is not proven dead and no longer watched (they were at work during the hold: %d caught%s, the last at %s)",
			ms(u.From), hs.HolderCaught, hs.leftText(), ms(hs.HolderSeenAt))
	case u.RunOrders > 0:
		return fmt.Sprintf("orders its holder may have placed from %s to %s UTC, after the playbook's last look at them and before the key died, which was before the hold's first look (they were at work during the run: the playbook's cancels caught %d orders placed since it started, the last at %s)",
			ms(u.From), ms(u.To), u.RunOrders, ms(u.RunSeenAt))
	default:
		return fmt.Sprintf("orders its holder may have placed from %s to %s UTC, after the hold's last look and before the key died (they were still at work during the hold: %d caught%s, the last at %s)",
			ms(u.From), ms(u.To), hs.HolderCaught, hs.leftText(), ms(hs.HolderSeenAt))
	}
}

// unseenManual is the instruction for LeftOpenOrdersPossible.
const unseenManual = "No API call of this run listed what was placed with the key after the hold's last look (a dead key lists nothing). In the web UI of the account and of each of its sub-accounts, open Orders → Open Orders on every product (spot, margin, futures, and stop/OCO/algo orders) and cancel anything you did not place."

func dedupLeft(in []Left) []Left {
	seen := map[Left]bool{}
	var out []Left
	for _, l := range in {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

func hasWithdrawalLeft(cs []executors.Change) bool {
	for _, c := range cs {
		if c.Kind == LeftWithdrawal || c.Kind == LeftWithdrawalUncancel {
			return true
		}
	}
	return false
}
