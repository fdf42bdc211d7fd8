package binance

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

// deadman implements orders.deadman: arm the USDⓈ-M / COIN-M countdown
// cancel-all (POST /fapi/v1/countdownCancelAll, /dapi/v1/countdownCancelAll;
// not in the SDK) for every symbol with open futures orders.
func (e *Executor) deadman(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	ps, err := e.resolveProducts(ctx, req.Params)
	if err != nil {
		return executors.Result{}, err
	}
	var fut productSet
	fut.derived = ps.derived
	for _, p := range ps.list {
		if p == executors.ProductUSDM || p == executors.ProductCoinM {
			fut.list = append(fut.list, p)
		}
	}
	if len(fut.list) == 0 {
		return executors.Result{Status: executors.StatusOK, Summary: "nothing to do: no futures product selected (binance has no spot countdown cancel over REST)", Findings: ps.findings}, nil
	}
	countdown := req.Params.Duration("countdown")
	if countdown <= 0 {
		countdown = time.Minute
	}
	orders, findings, err := e.listOrders(ctx, fut, req.Params.Strings("symbols"))
	if err != nil {
		return executors.Result{}, err
	}
	findings = append(ps.findings, findings...)
	type target struct{ product, symbol string }
	seen := map[target]bool{}
	var targets []target
	for _, o := range orders {
		t := target{o.Product, o.Symbol}
		if !seen[t] {
			seen[t] = true
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 {
		return executors.Result{Status: executors.StatusOK, Summary: "nothing to do: no open futures orders", Findings: findings}, nil
	}
	ms := countdown.Milliseconds()
	change := func(t target) executors.Change {
		return executors.Change{Kind: "deadman", Product: t.product, Symbol: t.symbol,
			Target: fmt.Sprintf("%s %s: cancel all after %s unless re-armed", t.product, t.symbol, countdown)}
	}
	var names []string
	for _, t := range targets {
		names = append(names, t.product+" "+t.symbol)
	}
	if plan {
		var changes []executors.Change
		for _, t := range targets {
			changes = append(changes, change(t))
		}
		return executors.Result{Status: executors.StatusWouldChange, Changes: changes, Findings: findings,
			Summary: fmt.Sprintf("would arm a %s countdown cancel-all on %s: %s", countdown, plural(len(targets), "symbol"), strings.Join(names, ", "))}, nil
	}
	var (
		mu       sync.Mutex
		changes  []executors.Change
		firstErr error
		auditErr error
	)
	parallel(ctx, len(targets), e.concurrency, func(ctx context.Context, i int) {
		t := targets[i]
		path := "/fapi/v1/countdownCancelAll"
		if t.product == executors.ProductCoinM {
			path = "/dapi/v1/countdownCancelAll"
		}
		m := executors.Mutation{ID: "deadman:" + t.product + ":" + t.symbol, Kind: "deadman", Target: change(t).Target,
			Request: map[string]string{"method": http.MethodPost, "path": path, "symbol": t.symbol, "countdownTime": fmt.Sprint(ms)}}
		aerr, err := mutate(ctx, req, m, func(ctx context.Context) error {
			return e.call(ctx, "arm countdown cancel-all "+t.product+" "+t.symbol, true, func(ctx context.Context) error {
				_, err := e.signed(ctx, http.MethodPost, path, nil, url.Values{"symbol": {t.symbol}, "countdownTime": {fmt.Sprint(ms)}})
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
			findings = append(findings, executors.Finding{Severity: "high", Subject: t.product + " " + t.symbol, Message: "countdown not armed: " + err.Error()})
			if firstErr == nil {
				firstErr = err
			}
		default:
			changes = append(changes, change(t))
		}
	}, func() bool { mu.Lock(); defer mu.Unlock(); return auditErr != nil })
	if auditErr != nil {
		return executors.Result{Status: executors.StatusFailed, Summary: auditErr.Error(), Changes: changes, Findings: findings}, auditErr
	}
	if firstErr != nil {
		return executors.Result{Status: executors.StatusFailed, Changes: changes, Findings: findings,
			Summary: fmt.Sprintf("armed %d of %d countdowns: %v", len(changes), len(targets), firstErr)}, firstErr
	}
	return executors.Result{Status: executors.StatusChanged, Changes: changes, Findings: findings,
		Summary: fmt.Sprintf("armed a %s countdown cancel-all on %s: %s", countdown, plural(len(targets), "symbol"), strings.Join(names, ", "))}, nil
}
