package binance

import (
	"context"
	"fmt"
	"net/http"

	"github.com/panicbutton/panicbutton/executors"
)

// Do implements executors.Executor.
func (e *Executor) Do(ctx context.Context, req executors.Request) (executors.Result, error) {
	return e.run(ctx, req, false)
}

// Plan implements executors.Executor: mutating actions read the current
// state and return the exact targets; read-only actions are the same as Do.
func (e *Executor) Plan(ctx context.Context, req executors.Request) (executors.Result, error) {
	return e.run(ctx, req, true)
}

func (e *Executor) run(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	req.Params = executors.WithDefaults(req.Action, req.Params)
	e.startSync(ctx)
	// When a rate limit is scarce, its budget goes first to what
	// contains fastest (executors.RequestPriority), and at equal priority
	// to work begun first.
	ctx = executors.WithRequestPriority(ctx, req, e.pacer.p.Now())
	ctx = executors.WithBudgetNotices(ctx, req, "Binance", limitName)
	var (
		res executors.Result
		err error
	)
	switch req.Action {
	case executors.SnapshotBalances:
		res, err = e.snapshot(ctx, req)
	case executors.OrdersList:
		res, err = e.ordersList(ctx, req)
	case executors.OrdersCancelAll:
		res, err = e.cancelAllScoped(ctx, req, plan)
	case executors.OrdersDeadman:
		res, err = e.deadman(ctx, req, plan)
	case executors.KeysInventory:
		// Its key listings serve the revocations that follow (listReuse);
		// each key's IP restriction only the report.
		res, err = e.keysInventory(withReportOnly(ctx, costOf(http.MethodGet, pathSubKeyIP, nil).bucket), req)
	case executors.KeysRevoke:
		res, err = e.keysRevoke(ctx, req, plan)
		executors.NoteKeysNotFound(&res)
	case executors.KeysVerifyRejected:
		res, err = e.verifyRejected(ctx, req)
	case executors.WithdrawalsList:
		res, err = e.withdrawalsList(ctx, req)
	case executors.WithdrawalsCancelPending:
		res, err = e.withdrawalsCancelPending(ctx, req, plan)
	case executors.PositionsClose:
		res, err = e.positionsClose(ctx, req, plan)
	case executors.FundsSweep:
		res, err = e.fundsSweep(ctx, req, plan)
	case executors.TradesRecent:
		res, err = e.tradesRecent(ctx, req)
	default:
		err = unsupported(req.Action, fmt.Sprintf("binance has no action %q", req.Action))
	}
	if err != nil && res.Status == "" {
		res = executors.Result{Status: executors.StatusFailed, Summary: err.Error()}
	}
	return res, err
}
