package binance

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/adshao/go-binance/v2/delivery"
	"github.com/adshao/go-binance/v2/futures"

	"github.com/panicbutton/panicbutton/executors"
)

// position is one open futures position and how to flatten it.
type position struct {
	executors.Position
	hedge bool // the account is in hedge (dual-side) mode
}

func (p position) id() string { return "close:" + p.Product + ":" + p.Symbol + ":" + p.Side }

func (p position) closeSide() string {
	if strings.HasPrefix(p.Size, "-") {
		return "BUY"
	}
	return "SELL"
}

func (p position) qty() string { return strings.TrimPrefix(p.Size, "-") }

func (p position) change() executors.Change {
	return executors.Change{Kind: "close-position", Product: p.Product, Symbol: p.Symbol, ID: p.id(),
		Target: fmt.Sprintf("%s %s %s position %s: reduce-only market %s %s", p.Product, p.Symbol, p.Side, p.Size, strings.ToLower(p.closeSide()), p.qty())}
}

// openPositions reads the non-zero positions and the position mode of the
// futures products in prods.
func (e *Executor) openPositions(ctx context.Context, prods []string, symbols []string) ([]position, error) {
	var out []position
	for _, prod := range prods {
		var (
			hedge bool
			ps    []executors.Position
		)
		switch prod {
		case executors.ProductUSDM:
			if err := e.call(ctx, "read usdm position mode", false, func(ctx context.Context) error {
				m, err := e.fut.NewGetPositionModeService().Do(ctx)
				if err == nil {
					hedge = m.DualSidePosition
				}
				return err
			}); err != nil {
				return nil, err
			}
			var res []*futures.PositionRiskV3
			if err := e.call(ctx, "read usdm positions", false, func(ctx context.Context) error {
				var err error
				res, err = e.fut.NewGetPositionRiskV3Service().Do(ctx)
				return err
			}); err != nil {
				return nil, err
			}
			for _, p := range res {
				ps = append(ps, executors.Position{Product: prod, Symbol: p.Symbol, Side: p.PositionSide, Size: p.PositionAmt, EntryPrice: p.EntryPrice, MarkPrice: p.MarkPrice, UnrealizedPnL: p.UnRealizedProfit})
			}
		case executors.ProductCoinM:
			if err := e.call(ctx, "read coinm position mode", false, func(ctx context.Context) error {
				m, err := e.dlv.NewGetPositionModeService().Do(ctx)
				if err == nil {
					hedge = m.DualSidePosition
				}
				return err
			}); err != nil {
				return nil, err
			}
			var res []*delivery.PositionRisk
			if err := e.call(ctx, "read coinm positions", false, func(ctx context.Context) error {
				var err error
				res, err = e.dlv.NewGetPositionRiskService().Do(ctx)
				return err
			}); err != nil {
				return nil, err
			}
			for _, p := range res {
				ps = append(ps, executors.Position{Product: prod, Symbol: p.Symbol, Side: p.PositionSide, Size: p.PositionAmt, EntryPrice: p.EntryPrice, MarkPrice: p.MarkPrice, UnrealizedPnL: p.UnRealizedProfit})
			}
		default:
			continue
		}
		for _, p := range ps {
			if isZeroAmount(p.Size) || (len(symbols) > 0 && !contains(symbols, p.Symbol)) {
				continue
			}
			if p.Side == "" {
				p.Side = "BOTH"
			}
			out = append(out, position{Position: p, hedge: hedge})
		}
	}
	return out, nil
}

// closePosition sends one reduce-only market order. One-way mode sends
// reduceOnly=true; hedge mode names the positionSide instead (reduceOnly is
// not allowed there).
func (e *Executor) closePosition(ctx context.Context, p position) error {
	op := "close " + p.Product + " " + p.Symbol + " " + p.Side
	return e.call(ctx, op, true, func(ctx context.Context) error {
		switch p.Product {
		case executors.ProductUSDM:
			s := e.fut.NewCreateOrderService().Symbol(p.Symbol).Side(futures.SideType(p.closeSide())).
				Type(futures.OrderTypeMarket).Quantity(p.qty())
			if p.hedge {
				s = s.PositionSide(futures.PositionSideType(p.Side))
			} else {
				s = s.ReduceOnly(true)
			}
			_, err := s.Do(ctx)
			return err
		case executors.ProductCoinM:
			s := e.dlv.NewCreateOrderService().Symbol(p.Symbol).Side(delivery.SideType(p.closeSide())).
				Type(delivery.OrderTypeMarket).Quantity(p.qty())
			if p.hedge {
				s = s.PositionSide(delivery.PositionSideType(p.Side))
			} else {
				s = s.ReduceOnly(true)
			}
			_, err := s.Do(ctx)
			return err
		}
		return unsupported(op, "not a futures product")
	})
}

// positionsClose implements positions.close.
func (e *Executor) positionsClose(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	ps, err := e.resolveProducts(ctx, req.Params)
	if err != nil {
		return executors.Result{}, err
	}
	var prods []string
	for _, p := range ps.list {
		if p == executors.ProductUSDM || p == executors.ProductCoinM {
			prods = append(prods, p)
		}
	}
	symbols := req.Params.Strings("symbols")
	open, err := e.openPositions(ctx, prods, symbols)
	if err != nil {
		return executors.Result{}, err
	}
	if len(open) == 0 {
		return executors.Result{Status: executors.StatusOK, Summary: "nothing to do: no open futures position", Findings: ps.findings}, nil
	}
	if plan {
		var changes []executors.Change
		for _, p := range open {
			changes = append(changes, p.change())
		}
		return executors.Result{Status: executors.StatusWouldChange, Changes: changes, Findings: ps.findings,
			Summary: fmt.Sprintf("would close %s with reduce-only market orders", plural(len(open), "position"))}, nil
	}
	var (
		mu       sync.Mutex
		errs     = map[string]error{}
		auditErr error
	)
	parallel(ctx, len(open), e.concurrency, func(ctx context.Context, i int) {
		p := open[i]
		m := executors.Mutation{ID: p.id(), Kind: "close-position", Target: p.change().Target,
			Request: map[string]string{"product": p.Product, "symbol": p.Symbol, "side": p.closeSide(), "type": "MARKET", "quantity": p.qty(), "positionSide": p.Side}}
		aerr, err := mutate(ctx, req, m, func(ctx context.Context) error { return e.closePosition(ctx, p) })
		mu.Lock()
		defer mu.Unlock()
		if aerr != nil && auditErr == nil {
			auditErr = aerr
		}
		if err != nil {
			errs[p.id()] = err
		}
	}, func() bool { mu.Lock(); defer mu.Unlock(); return auditErr != nil })
	if auditErr != nil {
		return executors.Result{Status: executors.StatusFailed, Summary: auditErr.Error()}, auditErr
	}
	// Re-read: a close whose outcome is unknown is settled here.
	after, err := e.openPositions(ctx, prods, symbols)
	if err != nil {
		return executors.Result{Status: executors.StatusFailed, Summary: "orders sent but the re-read failed: " + err.Error()}, err
	}
	left := map[string]bool{}
	var res executors.Result
	for _, p := range after {
		left[p.id()] = true
		res.Remaining = append(res.Remaining, p.change())
	}
	for _, p := range open {
		if !left[p.id()] {
			res.Changes = append(res.Changes, p.change())
		} else if err := errs[p.id()]; err != nil {
			res.Findings = append(res.Findings, executors.Finding{Severity: "high", Subject: p.Product + " " + p.Symbol, Message: "close failed: " + err.Error()})
		}
	}
	res.Counts = map[string]int{"closed": len(res.Changes), "remaining": len(res.Remaining)}
	if len(after) > 0 {
		res.Status = executors.StatusFailed
		res.Summary = fmt.Sprintf("closed %s; %s still open", plural(len(res.Changes), "position"), plural(len(after), "position"))
		for _, p := range after {
			if err := errs[p.id()]; err != nil {
				return res, err
			}
		}
		return res, &executors.Error{Class: executors.ErrRejected, Op: "close positions", Msg: res.Summary}
	}
	res.Status = executors.StatusChanged
	res.Summary = fmt.Sprintf("closed %s; none left", plural(len(res.Changes), "position"))
	return res, nil
}
