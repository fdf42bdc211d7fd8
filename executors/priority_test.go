package executors

import (
	"testing"

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
			if got := budget.PriorityOf(WithRequestPriority(t.Context(), req)); got != tc.want {
				t.Errorf("context carries %s, want %s", got, tc.want)
			}
		})
	}
}
