package kucoin

import (
	"math/big"
	"sort"
	"strconv"
)

// futuresRoutes are the endpoints of api-futures.kucoin.com.
func futuresRoutes(s *store) []route {
	g := "General"
	return []route{
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
	}
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
	}
	if c.w.cancelDelay == 0 {
		o.done = true
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
		stopType = "TP"
	}
	return map[string]any{
		"id": o.id, "symbol": o.symbol, "type": o.typ, "side": o.side, "price": o.price, "size": o.size,
		"value": ratString(value), "dealValue": "0", "dealSize": 0, "stp": "", "stop": o.stop, "stopPriceType": stopType,
		"stopTriggered": false, "stopPrice": nilIfEmpty(o.stopPrice), "timeInForce": "GTC", "postOnly": false, "hidden": false,
		"iceberg": false, "leverage": o.leverage, "forceHold": false, "closeOrder": o.closeOrder, "visibleSize": 0,
		"clientOid": o.clientOid, "remark": nil, "tags": "", "isActive": o.live(c.now), "cancelExist": !o.cancelAt.IsZero(),
		"createdAt": o.createdAt, "updatedAt": o.createdAt, "endAt": nil, "orderTime": o.createdAt * 1000000,
		"settleCurrency": contractSettle(o.symbol), "marginMode": o.marginMode, "avgDealPrice": "0", "filledSize": 0,
		"filledValue": "0", "status": "open", "reduceOnly": o.reduceOnly,
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

func hFutPlace(c *call) (any, *apiError) {
	var req struct {
		ClientOid  string `json:"clientOid"`
		Symbol     string `json:"symbol"`
		Side       string `json:"side"`
		Type       string `json:"type"`
		Price      string `json:"price"`
		Size       any    `json:"size"`
		Leverage   any    `json:"leverage"`
		CloseOrder bool   `json:"closeOrder"`
		MarginMode string `json:"marginMode"`
		ReduceOnly bool   `json:"reduceOnly"`
	}
	if aerr := c.decodeBody(&req); aerr != nil {
		return nil, aerr
	}
	if req.ClientOid == "" || req.Symbol == "" {
		return nil, badParam("clientOid and symbol are required")
	}
	if !contains(c.w.contracts, req.Symbol) {
		return nil, badParam("contract %s does not exist", req.Symbol)
	}
	typ := orDefault(req.Type, "limit")
	id := c.w.newID()
	if req.CloseOrder {
		if typ != "market" {
			return nil, badParam("closeOrder requires type market")
		}
		// A market close order flattens the position at the mark price.
		for _, p := range c.u.positions {
			if p.symbol == req.Symbol && p.qty != 0 {
				cur := contractSettle(p.symbol)
				d := new(big.Rat).Sub(p.mark, p.entry)
				pnl := d.Mul(d, big.NewRat(p.qty, 1000))
				if f := c.u.futAccounts[cur]; f != nil {
					f.balance.Add(f.balance, pnl)
				}
				p.qty = 0
			}
		}
		return map[string]string{"orderId": id, "clientOid": req.ClientOid}, nil
	}
	if req.Side != "buy" && req.Side != "sell" {
		return nil, badParam("side must be buy or sell")
	}
	size, err := strconv.ParseInt(toString(req.Size), 10, 64)
	if err != nil || size <= 0 {
		return nil, badParam("size is invalid")
	}
	if typ == "market" {
		return map[string]string{"orderId": id, "clientOid": req.ClientOid}, nil // fills at once; no position model for opens
	}
	if req.Price == "" {
		return nil, badParam("price is required for limit orders")
	}
	c.u.futOrders = append(c.u.futOrders, &futuresOrder{
		id: id, clientOid: req.ClientOid, symbol: req.Symbol, side: req.Side, typ: typ, price: req.Price, size: size,
		leverage: orDefault(toString(req.Leverage), "1"), marginMode: orDefault(req.MarginMode, "ISOLATED"),
		reduceOnly: req.ReduceOnly, createdAt: c.now.UnixMilli(),
	})
	return map[string]string{"orderId": id, "clientOid": req.ClientOid}, nil
}

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
