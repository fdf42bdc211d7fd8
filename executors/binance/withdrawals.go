package binance

import (
	"context"
	"fmt"
	"strings"
	"time"

	gobinance "github.com/adshao/go-binance/v2"

	"github.com/panicbutton/panicbutton/executors"
)

// withdrawStatus names Binance's withdrawal status codes (EXCHANGES.md §1.5)
// and whether each is still pending.
var withdrawStatus = map[int]struct {
	name    string
	pending bool
}{
	0: {"email-sent", true}, 1: {"cancelled", false}, 2: {"awaiting-approval", true}, 3: {"rejected", false},
	4: {"processing", true}, 5: {"failure", false}, 6: {"completed", false},
}

func (e *Executor) listWithdrawals(ctx context.Context, since time.Duration) ([]executors.Withdrawal, error) {
	if since <= 0 || since > 90*24*time.Hour {
		since = 90 * 24 * time.Hour // the endpoint's maximum window
	}
	start := e.env.Now().Add(-since).UnixMilli()
	var res []*gobinance.Withdraw
	err := e.call(ctx, "list withdrawals", false, func(ctx context.Context) error {
		var err error
		res, err = e.spot.NewListWithdrawsService().StartTime(start).Do(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]executors.Withdrawal, 0, len(res))
	for _, w := range res {
		st, ok := withdrawStatus[w.Status]
		name := st.name
		if !ok {
			name = fmt.Sprintf("status-%d", w.Status)
		}
		created, _ := time.Parse(time.DateTime, w.ApplyTime)
		out = append(out, executors.Withdrawal{ID: w.ID, Asset: w.Coin, Amount: w.Amount, Address: w.Address,
			Network: w.Network, Status: name, Pending: st.pending, Cancellable: false, Created: created})
	}
	return out, nil
}

// withdrawalsList implements withdrawals.list.
func (e *Executor) withdrawalsList(ctx context.Context, req executors.Request) (executors.Result, error) {
	ws, err := e.listWithdrawals(ctx, req.Params.Duration("since"))
	if err != nil {
		return executors.Result{}, err
	}
	var findings []executors.Finding
	for _, w := range ws {
		if w.Pending {
			findings = append(findings, executors.Finding{Severity: "high", Subject: "withdrawal " + w.ID,
				Message: fmt.Sprintf("pending withdrawal of %s %s to %s (%s)", w.Amount, w.Asset, w.Address, w.Status),
				Fix:     "if you did not make it: contact Binance support through the official app at once; Binance has no API to cancel it"})
		}
	}
	return executors.Result{Status: executors.StatusOK, Data: ws, Findings: findings,
		Summary: fmt.Sprintf("%s, %d pending", plural(len(ws), "withdrawal"), len(findings)),
		Counts:  map[string]int{"withdrawals": len(ws), "pending": len(findings)}}, nil
}

// withdrawalsCancelPending implements withdrawals.cancel_pending: Binance
// has no API to cancel a withdrawal, so pending ones become a manual step.
// Nothing is ever sent.
func (e *Executor) withdrawalsCancelPending(ctx context.Context, req executors.Request, _ bool) (executors.Result, error) {
	ws, err := e.listWithdrawals(ctx, req.Params.Duration("since"))
	if err != nil {
		return executors.Result{}, err
	}
	var pending []string
	for _, w := range ws {
		if w.Pending {
			pending = append(pending, fmt.Sprintf("%s: %s %s to %s (%s, applied %s)", w.ID, w.Amount, w.Asset, w.Address, w.Status, w.Created.Format(time.DateTime)))
		}
	}
	if len(pending) == 0 {
		return executors.Result{Status: executors.StatusOK, Summary: "nothing to do: no pending withdrawal", Counts: map[string]int{"pending": 0}, Data: ws}, nil
	}
	return executors.Result{Status: executors.StatusPending,
		Summary: fmt.Sprintf("%s pending; Binance has no API to cancel a withdrawal: manual step", plural(len(pending), "withdrawal")),
		Manual: []executors.ManualStep{{Title: "Stop pending Binance withdrawals",
			Instructions: "Binance has no API to cancel a withdrawal. In the app or at binance.com open Wallet → Transaction History → Withdrawal; " +
				"a withdrawal still awaiting e-mail confirmation can be refused by not confirming it (or via the e-mail's cancel link). " +
				"For anything else contact Binance support through the official app at once and ask them to stop it. Pending:\n- " + strings.Join(pending, "\n- ")}},
		Counts: map[string]int{"pending": len(pending)}, Data: ws}, nil
}
