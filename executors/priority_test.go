package executors

import (
	"context"
	"fmt"
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
		w       budget.LongWait
		action  string
		confirm bool
		want    []string
	}{
		{budget.LongWait{Bucket: "x", Limit: 2000, Window: 30 * time.Second, Until: until, Wait: 24 * time.Second},
			"", false, []string{"KuCoin's management pool limit is spent for this window (2000 per 30s, less the margin kept): its requests wait 24s, until 16:53:14; the rest go on"}},
		{budget.LongWait{Bucket: "x", Limit: 2000, Window: 30 * time.Second, Until: until, Wait: 24 * time.Second},
			KeysRevoke, false, []string{"wait 24s, until 16:53:14 (meanwhile the keys not deleted yet stay usable by whoever holds them); the rest go on"}},
		{budget.LongWait{Bucket: "x", Until: until, Wait: 6 * time.Second, Blocked: true, External: 1500},
			OrdersCancelAll, false, []string{"orders not cancelled yet stay open", "KuCoin answered 429 (too many requests) on its management pool limit (KuCoin counted 1500 of it from other clients of this account", "whoever holds a leaked key", "wait 6s, until 16:53:14"}},
		{budget.LongWait{Bucket: "x", Limit: 2400, Window: time.Minute, Until: until, Wait: 40 * time.Second, External: 300, IP: true},
			"", false, []string{"counted 300 of it from other programs behind this IP"}},
		// A confirming re-list's wait says what it is, not that keys
		// stay usable: they are deleted, and only the confirmation waits.
		{budget.LongWait{Bucket: "x", Limit: 2000, Window: 30 * time.Second, Until: until, Wait: 24 * time.Second},
			KeysRevoke, true, []string{"wait 24s, until 16:53:14 (these are the re-lists that confirm the deletions: the keys are deleted but not confirmed gone until they are answered); the rest go on"}},
		{budget.LongWait{Bucket: "x", Limit: 2000, Window: 30 * time.Second, Until: until, Wait: 24 * time.Second},
			OrdersCancelAll, true, []string{"(these are the re-lists that confirm the cancels: an order placed since the cancels went stays open until one sees it)"}},
		{budget.LongWait{Bucket: "x", Limit: 2000, Window: 30 * time.Second, Until: until, Wait: 24 * time.Second},
			WithdrawalsCancelPending, true, []string{"(these are the re-reads that confirm what was sent: it is not confirmed until they are answered)"}},
	} {
		got := budgetWaitText("KuCoin", "management pool", tc.action, tc.confirm, tc.w)
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

// noticeHooks records the notices of a request; it sends nothing.
type noticeHooks struct{ told []string }

func (*noticeHooks) Intent(context.Context, Mutation) error   { return nil }
func (*noticeHooks) Outcome(context.Context, Mutation, error) {}
func (h *noticeHooks) Notice(text string)                     { h.told = append(h.told, text) }

// TestConfirmingWaitIsToldAsSuch: a long budget wait met by a key
// revocation's confirming re-list (Confirming) is told as the
// confirmation's, through the notices a step's context carries; the same
// wait met by the step's deletions says the keys stay usable.
func TestConfirmingWaitIsToldAsSuch(t *testing.T) {
	for _, tc := range []struct {
		confirm bool
		want    string
	}{
		{false, "meanwhile the keys not deleted yet stay usable"},
		{true, "these are the re-lists that confirm the deletions"},
	} {
		clock := time.Date(2026, 12, 5, 23, 0, 10, 0, time.UTC) // 50 s before the minute's end
		p := &budget.Pacer{Now: func() time.Time { return clock }, Sleep: func(_ context.Context, d time.Duration) error { clock = clock.Add(d); return nil }}
		// A bucket of its own each time: waits are told once per bucket name in the process.
		spec := budget.Spec{Name: fmt.Sprintf("confirm-%v-%d", tc.confirm, time.Now().UnixNano()), Limit: 1, Window: time.Minute, Aligned: true}
		set := budget.NewSet()
		h := &noticeHooks{}
		ctx := WithBudgetNotices(t.Context(), Request{Action: KeysRevoke, Hooks: h}, "Binance", nil)
		r, err := p.Wait(ctx, budget.Cost{Set: set, Spec: spec, Weight: 1}) // a delete spends the window
		if err != nil {
			t.Fatal(err)
		}
		p.SettleAll(r, budget.None)
		next := ctx
		if tc.confirm {
			next = Confirming(ctx)
		}
		if r, err = p.Wait(next, budget.Cost{Set: set, Spec: spec, Weight: 1}); err != nil {
			t.Fatal(err)
		}
		p.SettleAll(r, budget.None)
		if len(h.told) != 1 || !strings.Contains(h.told[0], tc.want) {
			t.Errorf("confirming %v: told %q, want one notice saying %q", tc.confirm, h.told, tc.want)
		}
	}
}
