package kucoin

import (
	"math/big"
	"sort"
	"strconv"
)

// futuresRoutes are the endpoints of api-futures.kucoin.com.
func futuresRoutes(s *store) []route {
	g := "General"
	return append(publicFuturesRoutes(), []route{
		{"GET", "/api/v1/timestamp", poolPublic, 2, pub, "", false, hTimestamp},
		{"GET", "/api/v1/contracts/active", poolPublic, 3, pub, "", false, hContracts},
		{"GET", "/api/v1/orders", poolFutures, 2, read, g, false, hFutOrders},
		{"GET", "/api/v1/stopOrders", poolFutures, 6, read, g, false, hFutStopOrders},
		{"DELETE", "/api/v3/orders", poolFutures, 10, mut, "Futures", false, hFutCancelV3},
		{"DELETE", "/api/v1/stopOrders", poolFutures, 15, mut, "Futures", false, hFutCancelStops},
		{"DELETE", "/api/v1/orders", poolFutures, 800, mut, "Futures", false, hFutCancelLegacy},
		{"GET", "/api/v1/account-overview", poolFutures, 5, read, g, false, hFutOverview},
		{"GET", "/api/v1/positions", poolFutures, 2, read, g, false, hFutPositions},
		{"POST", "/api/v1/orders", poolFutures, 2, mut, "Futures", false, hFutPlace},
		{"POST", "/api/v1/orders/test", poolFutures, 2, read, "Futures", false, hFutTest},
		{"POST", "/api/v1/st-orders", poolFutures, 2, mut, "Futures", false, hFutTPSL},
		{"DELETE", "/api/v1/orders/{id}", poolFutures, 1, mut, "Futures", false, hFutCancelByID},
		{"DELETE", "/api/v1/orders/client-order/{id}", poolFutures, 1, mut, "Futures", false, hFutCancelByClientOid},
		{"GET", "/api/v1/orders/{id}", poolFutures, 5, read, g, false, hFutGetByID},
		{"GET", "/api/v1/orders/byClientOid", poolFutures, 5, read, g, false, hFutGetByClientOid},
	}...)
}

func (f *futuresAccount) available() *big.Rat {
	a := new(big.Rat).Sub(f.balance, f.posMargin)
	a.Sub(a, f.ordMargin)
	a.Sub(a, f.frozen)
	if a.Sign() < 0 {
		return new(big.Rat)
	}
	return a
}

func (c *call) liveFutures(stop bool, sym string) []*futuresOrder {
	var out []*futuresOrder
	for _, o := range c.u.futOrders {
		if o.isStop == stop && o.live(c.now) && (sym == "" || o.symbol == sym) {
			out = append(out, o)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].createdAt > out[j].createdAt })
	return out
}

func (c *call) requestFuturesCancel(o *futuresOrder) {
	if o.cancelAt.IsZero() {
		o.cancelAt = c.now.Add(c.w.cancelDelay)
		if o.hold != nil {
			c.w.pending = append(c.w.pending, pendingRelease{at: o.cancelAt, h: o.hold})
		}
	}
	if c.w.cancelDelay == 0 {
		o.done = true
		o.hold.release()
	}
}

func futOrderJSON(o *futuresOrder, c *call) map[string]any {
	p, _ := parseRat(o.price)
	if p == nil {
		p = new(big.Rat)
	}
	value := new(big.Rat).Mul(p, big.NewRat(o.size, 1))
	stopType := ""
	if o.isStop {
		stopType = orDefault(o.stopPriceType, "TP")
	}
	live := o.live(c.now)
	status := "open"
	if !live {
		status = "done"
	}
	dealValue := new(big.Rat)
	if ap, ok := parseRat(o.avgPrice); ok {
		dealValue = contractValue(o.symbol, o.dealSize, ap)
	}
	return map[string]any{
		"id": o.id, "symbol": o.symbol, "type": o.typ, "side": o.side, "price": o.price, "size": o.size,
		"value": ratString(value), "dealValue": ratString(dealValue), "dealSize": o.dealSize, "stp": "", "stop": o.stop, "stopPriceType": stopType,
		"stopTriggered": false, "stopPrice": nilIfEmpty(o.stopPrice), "timeInForce": "GTC", "postOnly": false, "hidden": false,
		"iceberg": false, "leverage": o.leverage, "forceHold": false, "closeOrder": o.closeOrder, "visibleSize": 0,
		"clientOid": o.clientOid, "remark": nil, "tags": "", "isActive": live, "cancelExist": !o.cancelAt.IsZero() || (!live && !o.filled),
		"createdAt": o.createdAt, "updatedAt": o.createdAt, "endAt": nil, "orderTime": o.createdAt * 1000000,
		"settleCurrency": contractSettle(o.symbol), "marginMode": o.marginMode, "avgDealPrice": avgDeal(o), "filledSize": o.dealSize,
		"filledValue": ratString(dealValue), "status": status, "reduceOnly": o.reduceOnly,
	}
}

func hFutOrders(c *call) (any, *apiError) {
	status := orDefault(c.param("status"), "done")
	if status != "active" && status != "done" {
		return nil, badParam("status is invalid")
	}
	items := []map[string]any{}
	if status == "active" {
		for _, o := range c.liveFutures(false, c.param("symbol")) {
			items = append(items, futOrderJSON(o, c))
		}
	} else {
		sym := c.param("symbol")
		for i := len(c.u.futOrders) - 1; i >= 0; i-- {
			if o := c.u.futOrders[i]; !o.live(c.now) && (sym == "" || o.symbol == sym) {
				items = append(items, futOrderJSON(o, c))
			}
		}
	}
	return paginate(c.page(50, 1, 1000), items), nil
}

func hFutStopOrders(c *call) (any, *apiError) {
	items := []map[string]any{}
	for _, o := range c.liveFutures(true, c.param("symbol")) {
		items = append(items, futOrderJSON(o, c))
	}
	return paginate(c.page(50, 1, 1000), items), nil
}

func (c *call) cancelFutures(stop bool, sym string) map[string]any {
	ids := []string{}
	for _, o := range c.liveFutures(stop, sym) {
		c.requestFuturesCancel(o)
		ids = append(ids, o.id)
	}
	return map[string]any{"cancelledOrderIds": ids}
}

func hFutCancelV3(c *call) (any, *apiError) {
	sym := c.param("symbol")
	if sym == "" {
		return nil, badParam("symbol is required")
	}
	return c.cancelFutures(false, sym), nil
}

func hFutCancelStops(c *call) (any, *apiError) { return c.cancelFutures(true, c.param("symbol")), nil }

func hFutCancelLegacy(c *call) (any, *apiError) {
	return c.cancelFutures(false, c.param("symbol")), nil
}

func (c *call) unrealised(cur string) *big.Rat {
	sum := new(big.Rat)
	for _, p := range c.u.positions {
		if p.qty == 0 || contractSettle(p.symbol) != cur {
			continue
		}
		d := new(big.Rat).Sub(p.mark, p.entry)
		sum.Add(sum, d.Mul(d, big.NewRat(p.qty, 1000))) // multiplier 0.001 base per lot (XBTUSDTM)
	}
	return sum
}

func hFutOverview(c *call) (any, *apiError) {
	cur := orDefault(c.param("currency"), "XBT")
	f := c.u.futAccounts[cur]
	if f == nil {
		f = &futuresAccount{currency: cur, balance: new(big.Rat), unrealised: new(big.Rat), posMargin: new(big.Rat), ordMargin: new(big.Rat), frozen: new(big.Rat)}
	}
	pnl := new(big.Rat).Add(f.unrealised, c.unrealised(cur))
	equity := new(big.Rat).Add(f.balance, pnl)
	risk := new(big.Rat)
	if equity.Sign() > 0 {
		risk.Quo(f.posMargin, equity)
	}
	return map[string]any{
		"accountEquity": ratFloat(equity), "unrealisedPNL": ratFloat(pnl), "marginBalance": ratFloat(f.balance),
		"positionMargin": ratFloat(f.posMargin), "orderMargin": ratFloat(f.ordMargin), "frozenFunds": ratFloat(f.frozen),
		"availableBalance": ratFloat(f.available()), "currency": cur, "riskRatio": ratFloat(risk),
		"maxWithdrawAmount": ratFloat(f.available()),
	}, nil
}

func hFutPositions(c *call) (any, *apiError) {
	cur := c.param("currency")
	out := []map[string]any{}
	for _, p := range c.u.positions {
		if p.qty == 0 || (cur != "" && contractSettle(p.symbol) != cur) {
			continue
		}
		d := new(big.Rat).Sub(p.mark, p.entry)
		pnl := d.Mul(d, big.NewRat(p.qty, 1000))
		cost := new(big.Rat).Mul(p.entry, big.NewRat(abs(p.qty), 1000))
		out = append(out, map[string]any{
			"id": hashHex("pos", c.u.name, p.symbol)[:24], "symbol": p.symbol, "autoDeposit": false, "crossMode": p.marginMode == "CROSS",
			"marginMode": p.marginMode, "positionSide": "BOTH", "leverage": p.leverage, "realLeverage": ratFloat(ratOr(dec(p.leverage), "1")),
			"delevPercentage": 0.3, "openingTimestamp": p.openedAt, "currentTimestamp": c.now.UnixMilli(), "currentQty": p.qty,
			"currentCost": ratFloat(cost), "currentComm": 0, "unrealisedCost": ratFloat(cost), "realisedGrossCost": 0,
			"realisedCost": 0, "isOpen": true, "markPrice": ratFloat(p.mark), "markValue": ratFloat(new(big.Rat).Mul(p.mark, big.NewRat(p.qty, 1000))),
			"posCost": ratFloat(cost), "posInit": ratFloat(cost), "posMargin": ratFloat(cost), "realisedPnl": 0,
			"unrealisedPnl": ratFloat(pnl), "unrealisedPnlPcnt": 0, "unrealisedRoePcnt": 0, "avgEntryPrice": ratFloat(p.entry),
			"liquidationPrice": 0, "bankruptPrice": 0, "settleCurrency": contractSettle(p.symbol), "isInverse": !isLinear(p.symbol),
			"maintMarginReq": 0.004,
		})
	}
	return out, nil
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func isLinear(sym string) bool { return contractSettle(sym) != contractBase(sym) }

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case nil:
		return ""
	}
	return ""
}
