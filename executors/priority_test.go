package executors

import (
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors/internal/budget"
)

// TestRequestPriority: the budget priority of each kind of request.
func TestRequestPriority(t *testing.T) {
	for _, tc := range []struct {
		name   string
		action string
		params Params
		want   budget.Priority
	}{
		{"leaked key named", KeysRevoke, Params{"key_ids": []string{"abc"}}, budget.Top},
		{"keys that can withdraw", KeysRevoke, Params{"select": "withdraw_enabled"}, budget.Top},
		{"empty leaked key input", KeysRevoke, Params{"key_ids": []string{""}}, budget.Containment},
		{"every other sub key", KeysRevoke, Params{"created_mid_run": true}, budget.Containment},
		{"cancel every order", OrdersCancelAll, Params{"scope": ScopeSubAccounts}, budget.Containment},
		{"cancel withdrawals", WithdrawalsCancelPending, nil, budget.Containment},
		{"probe a key", KeysVerifyRejected, nil, budget.Containment},
		{"inventory", KeysInventory, nil, budget.Read},
		{"list orders", OrdersList, nil, budget.Read},
		{"snapshot: freeze waits for it", SnapshotBalances, nil, budget.Read},
		{"trades", TradesRecent, nil, budget.Report},
		{"unknown action", "x.y", nil, budget.Containment},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := Request{Action: tc.action, Params: WithDefaults(tc.action, tc.params)}
			if got := RequestPriority(req); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			if got := budget.PriorityOf(WithRequestPriority(t.Context(), req, time.Now())); got != tc.want {
				t.Errorf("context carries %s, want %s", got, tc.want)
			}
		})
	}
}

// TestBudgetWaitText: the operator's line for a long wait names the
// venue, the limit, the wait and its end, whether the venue refused (429),
// and what others spent of the window, the account's or the IP's.
func TestBudgetWaitText(t *testing.T) {
	until := time.Date(2026, 12, 5, 16, 53, 14, 0, time.Local)
	for _, tc := range []struct {
		w      budget.LongWait
		action string
		want   []string
	}{
		{budget.LongWait{Bucket: "x", Limit: 2000, Window: 30 * time.Second, Until: until, Wait: 24 * time.Second},
			"", []string{"KuCoin's management pool limit is spent for this window (2000 per 30s, less the margin kept): its requests wait 24s, until 16:53:14; the rest go on"}},
		{budget.LongWait{Bucket: "x", Limit: 2000, Window: 30 * time.Second, Until: until, Wait: 24 * time.Second},
			KeysRevoke, []string{"wait 24s, until 16:53:14 (meanwhile the keys not deleted yet stay usable by whoever holds them); the rest go on"}},
		{budget.LongWait{Bucket: "x", Until: until, Wait: 6 * time.Second, Blocked: true, External: 1500},
			OrdersCancelAll, []string{"orders not cancelled yet stay open", "KuCoin answered 429 (too many requests) on its management pool limit (KuCoin counted 1500 of it from other clients of this account", "whoever holds a leaked key", "wait 6s, until 16:53:14"}},
		{budget.LongWait{Bucket: "x", Limit: 2400, Window: time.Minute, Until: until, Wait: 40 * time.Second, External: 300, IP: true},
			"", []string{"counted 300 of it from other programs behind this IP"}},
	} {
		got := budgetWaitText("KuCoin", "management pool", tc.action, tc.w)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%q\nwants %q", got, w)
			}
		}
	}
}

// TestConfirmContext: a freeze's confirming re-list keeps the step's
// priority, except under WithLaterConfirmations (the sub-accounts'
// freezes), where it goes at Read, behind their lists and cancels.
func TestConfirmContext(t *testing.T) {
	step := WithRequestPriority(t.Context(), Request{Action: OrdersCancelAll}, time.Now())
	if got := budget.PriorityOf(ConfirmContext(step)); got != budget.Containment {
		t.Errorf("a master's re-list at %s, want containment", got)
	}
	later := WithLaterConfirmations(step)
	if got := budget.PriorityOf(later); got != budget.Containment {
		t.Errorf("a sub-account freeze's own requests at %s, want containment", got)
	}
	if got := budget.PriorityOf(ConfirmContext(later)); got != budget.Read {
		t.Errorf("a sub-account freeze's re-list at %s, want read", got)
	}
}
