package executors

import (
	"context"
	"fmt"
	"time"

	"github.com/panicbutton/panicbutton/executors/internal/budget"
)

// RequestPriority is the budget priority of a request's HTTP calls when a
// rate limit is the bottleneck (issue 12 item 3): what contains fastest
// goes first, reads that only serve the report wait.
//
//   - Top: keys.revoke naming keys (key_ids: the leaked key) or selecting
//     the keys that can withdraw.
//   - Containment: every other mutation (cancels, key deletions,
//     withdrawal cancels, the temporary keys of sub-account cancels),
//     keys.verify_rejected's probes, and any action not listed here.
//   - Read: orders.list, withdrawals.list, keys.inventory (its key
//     listings serve the revocations that follow; an executor may put its
//     per-key detail reads at Report) and snapshot.balances: the runner
//     holds a step's mutations until the earlier snapshot of what they
//     change is taken (the evidence predates the change), so a snapshot
//     at Report would hold the cancels behind every other read.
//   - Report: trades.recent.
//
// Within one cancel_all, the cancels of the most exposed symbols are sent
// first (Exposure): at one priority the budget serves waiters in the order
// they came.
func RequestPriority(req Request) budget.Priority {
	switch req.Action {
	case KeysRevoke:
		if req.Params.String("select") == "withdraw_enabled" {
			return budget.Top
		}
		for _, id := range req.Params.Strings("key_ids") {
			if id != "" {
				return budget.Top
			}
		}
	case OrdersList, WithdrawalsList, KeysInventory, SnapshotBalances:
		return budget.Read
	case TradesRecent:
		return budget.Report
	}
	return budget.Containment
}

// WithRequestPriority returns ctx carrying RequestPriority(req), for an
// executor's Do and Plan to budget every call of the request at it, as
// work begun at began (on the executor's pacer clock: budget.WithOrigin):
// where a limit is scarce, the request's late calls (a confirming
// re-list) do not wait behind work begun after it.
func WithRequestPriority(ctx context.Context, req Request, began time.Time) context.Context {
	return budget.WithOrigin(budget.WithPriority(ctx, RequestPriority(req)), began)
}

type laterConfirmKey struct{}

// WithLaterConfirmations returns ctx in which a freeze's confirming
// re-lists (ConfirmContext) go at budget.Read, behind every request of the
// step's own priority: for the sub-accounts' freezes, where at scale one
// IP budget (Binance /fapi) is spent for minutes on every sub-account's
// lists, cancels and re-lists, so that every sub-account's orders are
// listed and cancelled before any is confirmed (the orders open meanwhile
// are what the attacker still has), and the confirmations follow. Their
// step's timeout is long (10 min in the built-ins) and the budget serves
// them, oldest work first, once the cancels are through. A master's own
// freeze keeps its re-list at the step's priority: its step is short.
func WithLaterConfirmations(ctx context.Context) context.Context {
	return context.WithValue(ctx, laterConfirmKey{}, true)
}

// ConfirmContext is the context of a freeze's confirming re-list: ctx,
// Confirming, at budget.Read under WithLaterConfirmations.
func ConfirmContext(ctx context.Context) context.Context {
	ctx = Confirming(ctx)
	if later, _ := ctx.Value(laterConfirmKey{}).(bool); later {
		return budget.WithPriority(ctx, budget.Read)
	}
	return ctx
}

type confirmingKey struct{}

// Confirming returns ctx whose requests read back what its step sent (the
// re-list that confirms cancels or deletions), its priority unchanged: a
// long budget wait they meet is told as the confirmation's wait, not as
// the wait of what is still to be sent (budgetWaitText).
func Confirming(ctx context.Context) context.Context {
	return context.WithValue(ctx, confirmingKey{}, true)
}

func confirming(ctx context.Context) bool {
	c, _ := ctx.Value(confirmingKey{}).(bool)
	return c
}

// WithBudgetNotices returns ctx whose long waits for a rate-limit budget
// (budget.NoticeAfter or more) are told to the operator through
// req.Notice, once per limit and wait, naming the venue and the limit
// (name turns a bucket's name into words; nil keeps the name): a minute's
// wait for the next window is otherwise a silent terminal.
func WithBudgetNotices(ctx context.Context, req Request, venue string, name func(bucket string) string) context.Context {
	if _, ok := req.Hooks.(Noticer); !ok {
		return ctx
	}
	if name == nil {
		name = func(b string) string { return b }
	}
	return budget.WithNotice(ctx, func(ctx context.Context, w budget.LongWait) {
		req.Notice(budgetWaitText(venue, name(w.Bucket), req.Action, confirming(ctx), w))
	})
}

// meanwhile says what an action's wait leaves exposed: what the attacker
// can still do until its requests go.
var meanwhile = map[string]string{
	OrdersCancelAll:          "orders not cancelled yet stay open",
	KeysRevoke:               "keys not deleted yet stay usable by whoever holds them",
	WithdrawalsCancelPending: "withdrawals not cancelled yet can still go out",
	PositionsClose:           "positions not closed yet stay open",
}

// confirmsMeanwhile says the same for the re-reads that confirm what an
// action sent: what was sent is gone, and what is exposed is what they
// have not seen yet.
var confirmsMeanwhile = map[string]string{
	OrdersCancelAll: "these are the re-lists that confirm the cancels: an order placed since the cancels went stays open until one sees it",
	KeysRevoke:      "these are the re-lists that confirm the deletions: the keys are deleted but not confirmed gone until they are answered",
}

// budgetWaitText is the operator's line for w, whose limit is called
// limit, met by a request of action; confirm says the request is a
// re-read that confirms what the action sent (Confirming).
func budgetWaitText(venue, limit, action string, confirm bool, w budget.LongWait) string {
	wait := w.Wait.Round(time.Second)
	at := w.Until.Format("15:04:05")
	others := ""
	if w.External > 0 {
		who := "other clients of this account (its own bots, or whoever holds a leaked key)"
		if w.IP {
			who = "other programs behind this IP"
		}
		others = fmt.Sprintf(" (%s counted %d of it from %s)", venue, w.External, who)
	}
	exposed := ""
	switch m := confirmsMeanwhile[action]; {
	case confirm && m != "":
		exposed = " (" + m + ")"
	case confirm:
		exposed = " (these are the re-reads that confirm what was sent: it is not confirmed until they are answered)"
	case meanwhile[action] != "":
		exposed = " (meanwhile the " + meanwhile[action] + ")"
	}
	if w.Blocked {
		return fmt.Sprintf("%s answered 429 (too many requests) on its %s limit%s: those requests wait %s, until %s, as it asked%s; the rest go on", venue, limit, others, wait, at, exposed)
	}
	return fmt.Sprintf("%s's %s limit is spent for this window (%d per %s, less the margin kept)%s: its requests wait %s, until %s%s; the rest go on", venue, limit, w.Limit, w.Window, others, wait, at, exposed)
}

// WithSteadyBudget returns ctx whose requests spend the rate limits
// steadily over each window (budget.WithSteady): for a loop that runs as
// often as the budget allows, such as a hold's passes, so that it never
// spends a window in its first seconds and then stalls until the next.
func WithSteadyBudget(ctx context.Context) context.Context {
	return budget.WithSteady(ctx)
}
