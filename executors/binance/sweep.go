package binance

import (
	"context"
	"fmt"
	"sync"

	gobinance "github.com/adshao/go-binance/v2"

	"github.com/panicbutton/panicbutton/executors"
)

// sweepItem is one universal transfer of a sub-account's free balance.
type sweepItem struct {
	email, asset, amount string
}

func (s sweepItem) id() string { return "sweep:" + s.email + ":" + s.asset }

func (s sweepItem) change() executors.Change {
	return executors.Change{Kind: "transfer", ID: s.id(), Symbol: s.asset,
		Target: fmt.Sprintf("move %s %s from sub %s (spot) to the master (spot)", s.amount, s.asset, s.email)}
}

// sweepPlan lists the free spot balances of the chosen sub-accounts.
func (e *Executor) sweepPlan(ctx context.Context, p executors.Params) ([]sweepItem, bool, error) {
	subs, master, err := e.subAccounts(ctx)
	if err != nil || !master {
		return nil, master, err
	}
	only := p.Strings("sub_accounts")
	assets := p.Strings("assets")
	var chosen []subAccount
	for _, s := range subs {
		if len(only) == 0 || contains(only, s.Email) {
			chosen = append(chosen, s)
		}
	}
	items := make([][]sweepItem, len(chosen))
	errs := make([]error, len(chosen))
	parallel(ctx, len(chosen), e.concurrency, func(ctx context.Context, i int) {
		email := chosen[i].Email
		var res *gobinance.SubAccountAssetServiceResponse
		errs[i] = e.call(ctx, "read sub-account assets "+email, false, func(ctx context.Context) error {
			var err error
			res, err = e.spot.NewSubAccountAssetService().Email(email).Do(ctx)
			return err
		})
		if errs[i] != nil {
			return
		}
		for _, b := range res.Balances {
			if isZeroAmount(b.Free) || (len(assets) > 0 && !contains(assets, b.Asset)) {
				continue
			}
			items[i] = append(items[i], sweepItem{email: email, asset: b.Asset, amount: b.Free})
		}
	}, nil)
	if err := firstError(errs); err != nil {
		return nil, true, err
	}
	var out []sweepItem
	for _, it := range items {
		out = append(out, it...)
	}
	return out, true, nil
}

// fundsSweep implements funds.sweep: sub-account → master universal
// transfer (POST /sapi/v1/sub-account/universalTransfer, toEmail omitted =
// the master) of every free spot balance.
func (e *Executor) fundsSweep(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	items, master, err := e.sweepPlan(ctx, req.Params)
	if err != nil {
		return executors.Result{}, err
	}
	if !master {
		return executors.Result{Status: executors.StatusOK, Summary: "nothing to do: not a master account"}, nil
	}
	if len(items) == 0 {
		return executors.Result{Status: executors.StatusOK, Summary: "nothing to do: no free balance on any sub-account"}, nil
	}
	if plan {
		var changes []executors.Change
		for _, it := range items {
			changes = append(changes, it.change())
		}
		return executors.Result{Status: executors.StatusWouldChange, Changes: changes,
			Summary: fmt.Sprintf("would move %s from sub-accounts to the master", plural(len(items), "balance"))}, nil
	}
	var (
		mu       sync.Mutex
		res      executors.Result
		firstErr error
		auditErr error
	)
	parallel(ctx, len(items), e.concurrency, func(ctx context.Context, i int) {
		it := items[i]
		m := executors.Mutation{ID: it.id(), Kind: "transfer", Target: it.change().Target,
			Request: map[string]string{"path": "/sapi/v1/sub-account/universalTransfer", "fromEmail": it.email,
				"fromAccountType": "SPOT", "toAccountType": "SPOT", "asset": it.asset, "amount": it.amount}}
		aerr, err := mutate(ctx, req, m, func(ctx context.Context) error {
			return e.call(ctx, "sweep "+it.asset+" from "+it.email, true, func(ctx context.Context) error {
				_, err := e.spot.NewSubAccountUniversalTransferService().FromEmail(it.email).
					FromAccountType("SPOT").ToAccountType("SPOT").Asset(it.asset).Amount(it.amount).Do(ctx)
				return err
			})
		})
		mu.Lock()
		defer mu.Unlock()
		switch {
		case aerr != nil:
			if auditErr == nil {
				auditErr = aerr
			}
		case err != nil:
			res.Remaining = append(res.Remaining, it.change())
			res.Findings = append(res.Findings, executors.Finding{Severity: "high", Subject: "sub " + it.email, Message: fmt.Sprintf("%s not moved: %v", it.asset, err)})
			if firstErr == nil {
				firstErr = err
			}
		default:
			res.Changes = append(res.Changes, it.change())
		}
	}, func() bool { mu.Lock(); defer mu.Unlock(); return auditErr != nil })
	if auditErr != nil {
		res.Status, res.Summary = executors.StatusFailed, auditErr.Error()
		return res, auditErr
	}
	res.Counts = map[string]int{"moved": len(res.Changes), "failed": len(res.Remaining)}
	if firstErr != nil {
		res.Status = executors.StatusFailed
		res.Summary = fmt.Sprintf("moved %d of %s; %v", len(res.Changes), plural(len(items), "balance"), firstErr)
		return res, firstErr
	}
	res.Status = executors.StatusChanged
	res.Summary = fmt.Sprintf("moved %s from sub-accounts to the master", plural(len(items), "balance"))
	return res, nil
}
