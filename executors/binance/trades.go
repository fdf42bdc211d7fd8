package binance

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	gobinance "github.com/adshao/go-binance/v2"
	"github.com/adshao/go-binance/v2/futures"

	"github.com/panicbutton/panicbutton/executors"
)

// maxTradeSymbols bounds the per-symbol trade queries of one call.
const maxTradeSymbols = 50

// tradeSymbols derives the symbols to query per product when none are
// given: those with open orders, open positions, and spot assets held
// (quoted in USDT).
func (e *Executor) tradeSymbols(ctx context.Context) (map[string][]string, error) {
	set := map[string]map[string]bool{}
	addSym := func(prod, sym string) {
		if set[prod] == nil {
			set[prod] = map[string]bool{}
		}
		set[prod][sym] = true
	}
	ps := productSet{list: []string{executors.ProductSpot, executors.ProductMargin, executors.ProductUSDM}, derived: true}
	orders, _, err := e.listOrders(ctx, ps, nil)
	if err != nil {
		return nil, err
	}
	for _, o := range orders {
		addSym(o.Product, o.Symbol)
	}
	if pos, err := e.openPositions(ctx, []string{executors.ProductUSDM}, nil); err == nil {
		for _, p := range pos {
			addSym(p.Product, p.Symbol)
		}
	}
	var acc *gobinance.Account
	if err := e.call(ctx, "read spot account", false, func(ctx context.Context) error {
		var err error
		acc, err = e.spot.NewGetAccountService().OmitZeroBalances(true).Do(ctx)
		return err
	}); err == nil {
		for _, b := range acc.Balances {
			if b.Asset != "USDT" && !(isZeroAmount(b.Free) && isZeroAmount(b.Locked)) {
				addSym(executors.ProductSpot, b.Asset+"USDT")
			}
		}
	}
	out := map[string][]string{}
	for prod, syms := range set {
		out[prod] = sortedKeys(syms)
	}
	return out, nil
}

// tradesRecent implements trades.recent over spot, cross margin and
// USDⓈ-M.
func (e *Executor) tradesRecent(ctx context.Context, req executors.Request) (executors.Result, error) {
	since := req.Params.Duration("since")
	if since <= 0 {
		since = 24 * time.Hour
	}
	start := e.env.Now().Add(-since).UnixMilli()
	var bySym map[string][]string
	if syms := req.Params.Strings("symbols"); len(syms) > 0 {
		bySym = map[string][]string{executors.ProductSpot: syms, executors.ProductMargin: syms, executors.ProductUSDM: syms}
	} else {
		var err error
		if bySym, err = e.tradeSymbols(ctx); err != nil {
			return executors.Result{}, err
		}
	}
	type job struct{ prod, sym string }
	var jobs []job
	for _, prod := range []string{executors.ProductSpot, executors.ProductMargin, executors.ProductUSDM} {
		for _, s := range bySym[prod] {
			if len(jobs) < maxTradeSymbols {
				jobs = append(jobs, job{prod, s})
			}
		}
	}
	var (
		mu       sync.Mutex
		trades   = []executors.Trade{}
		findings []executors.Finding
		firstErr error
	)
	parallel(ctx, len(jobs), e.concurrency, func(ctx context.Context, i int) {
		j := jobs[i]
		var got []executors.Trade
		err := e.call(ctx, fmt.Sprintf("list %s trades %s", j.prod, j.sym), false, func(ctx context.Context) error {
			switch j.prod {
			case executors.ProductSpot, executors.ProductMargin:
				var res []*gobinance.TradeV3
				var err error
				if j.prod == executors.ProductSpot {
					res, err = e.spot.NewListTradesService().Symbol(j.sym).StartTime(start).Do(ctx)
				} else {
					res, err = e.spot.NewListMarginTradesService().Symbol(j.sym).StartTime(start).Do(ctx)
				}
				for _, t := range res {
					side := "SELL"
					if t.IsBuyer {
						side = "BUY"
					}
					got = append(got, executors.Trade{Product: j.prod, Symbol: t.Symbol, ID: itoa(t.ID), OrderID: itoa(t.OrderID), Side: side,
						Price: t.Price, Qty: t.Quantity, Fee: t.Commission, FeeAsset: t.CommissionAsset, Time: msTime(t.Time)})
				}
				return err
			default:
				var res []*futures.AccountTrade
				res, err := e.fut.NewListAccountTradeService().Symbol(j.sym).StartTime(start).Do(ctx)
				for _, t := range res {
					got = append(got, executors.Trade{Product: j.prod, Symbol: t.Symbol, ID: itoa(t.ID), OrderID: itoa(t.OrderID), Side: string(t.Side),
						Price: t.Price, Qty: t.Quantity, Fee: t.Commission, FeeAsset: t.CommissionAsset, Time: msTime(t.Time)})
				}
				return err
			}
		})
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			trades = append(trades, got...)
		case errors.Is(err, executors.ErrRejected):
			// e.g. a derived symbol that does not exist (-1121): skip it.
			findings = append(findings, executors.Finding{Severity: "info", Subject: j.prod + " " + j.sym, Message: "skipped: " + err.Error()})
		default:
			if firstErr == nil {
				firstErr = err
			}
		}
	}, nil)
	if firstErr != nil {
		return executors.Result{}, firstErr
	}
	sort.SliceStable(trades, func(i, k int) bool { return trades[i].Time.Before(trades[k].Time) })
	return executors.Result{Status: executors.StatusOK, Data: trades, Findings: findings,
		Summary: fmt.Sprintf("%s in the last %s on %s", plural(len(trades), "trade"), since, plural(len(jobs), "symbol")),
		Counts:  map[string]int{"trades": len(trades), "symbols": len(jobs)}}, nil
}
