package kucoin

import (
	"math/big"
	"net/http"
	"strconv"
)

// Futures trading model: a market order, or a limit order whose price
// crosses the contract's price, fills at once at that price and opens,
// grows, reduces or flips the position (order value / leverage moves to
// position margin); other limit orders rest with their margin on hold
// (orderMargin). Stop orders (stop up/down + stopPrice) rest untriggered
// and hold nothing, but need the margin to be available when placed.
// Linear contracts (…USDTM, …USDCM) are 0.001 base per lot, valued in the
// settlement currency; inverse contracts are 1 USD per lot, valued in the
// base coin.

// errNoContract answers an unknown futures symbol (code unverified).
func errNoContract(sym string) *apiError {
	return errf(http.StatusBadRequest, "100001", "contract %s does not exist", sym)
}

// maxLeverage is the leverage cap of every emulated contract (the
// contract list shows it).
const maxLeverage = 125

// contractValue is the value of lots at price in the settlement currency.
func contractValue(sym string, lots int64, price *big.Rat) *big.Rat {
	n := big.NewRat(abs(lots), 1)
	if isLinear(sym) {
		return n.Mul(n, price).Mul(n, big.NewRat(1, 1000))
	}
	if price.Sign() == 0 {
		return new(big.Rat)
	}
	return n.Quo(n, price)
}

func avgDeal(o *futuresOrder) string { return orDefault(o.avgPrice, "0") }

type futuresReq struct {
	ClientOid     string `json:"clientOid"`
	Symbol        string `json:"symbol"`
	Side          string `json:"side"`
	Type          string `json:"type"`
	Price         num    `json:"price"`
	Size          num    `json:"size"`
	Leverage      num    `json:"leverage"`
	Stop          string `json:"stop"`
	StopPriceType string `json:"stopPriceType"`
	StopPrice     num    `json:"stopPrice"`
	ReduceOnly    bool   `json:"reduceOnly"`
	CloseOrder    bool   `json:"closeOrder"`
	TimeInForce   string `json:"timeInForce"`
	PostOnly      bool   `json:"postOnly"`
	MarginMode    string `json:"marginMode"`
	Remark        string `json:"remark"`
	// st-orders only
	TriggerStopUpPrice   num `json:"triggerStopUpPrice"`
	TriggerStopDownPrice num `json:"triggerStopDownPrice"`
}

func (c *call) position(sym string) *position {
	for _, p := range c.u.positions {
		if p.symbol == sym {
			return p
		}
	}
	return nil
}

func (c *call) futAccount(cur string) *futuresAccount {
	f := c.u.futAccounts[cur]
	if f == nil {
		f = &futuresAccount{currency: cur, balance: new(big.Rat), unrealised: new(big.Rat), posMargin: new(big.Rat), ordMargin: new(big.Rat), frozen: new(big.Rat)}
		c.u.futAccounts[cur] = f
	}
	return f
}

// hFutPlace is POST /api/v1/orders; hFutTest is its "Add Order Test"
// (validated and answered, nothing placed); hFutTPSL is POST
// /api/v1/st-orders (the order plus take-profit / stop-loss stop orders
// that close it).
func hFutPlace(c *call) (any, *apiError) { return c.futOrder(false, false) }
func hFutTest(c *call) (any, *apiError)  { return c.futOrder(true, false) }
func hFutTPSL(c *call) (any, *apiError)  { return c.futOrder(false, true) }

func (c *call) futOrder(dry, tpsl bool) (any, *apiError) {
	var req futuresReq
	if aerr := c.decodeBody(&req); aerr != nil {
		return nil, aerr
	}
	if tpsl && (req.Stop != "" || req.StopPrice != "" || req.CloseOrder) {
		return nil, badParam("stop, stopPrice and closeOrder are not allowed here (use triggerStopUpPrice / triggerStopDownPrice)")
	}
	if req.ClientOid == "" || req.Symbol == "" {
		return nil, badParam("clientOid and symbol are required")
	}
	if len(req.ClientOid) > 40 {
		return nil, badParam("clientOid is too long (max 40 characters)")
	}
	if !contains(c.w.contracts, req.Symbol) {
		return nil, errNoContract(req.Symbol)
	}
	typ := orDefault(req.Type, "limit")
	if typ != "limit" && typ != "market" {
		return nil, badParam("type must be limit or market")
	}
	if req.CloseOrder {
		if dry {
			return map[string]string{"orderId": c.w.newID(), "clientOid": req.ClientOid}, nil
		}
		return c.futClose(req, typ)
	}
	if req.Side != "buy" && req.Side != "sell" {
		return nil, badParam("side must be buy or sell")
	}
	size, err := strconv.ParseInt(string(req.Size), 10, 64)
	if err != nil || size <= 0 {
		return nil, badParam("size must be a whole number of lots")
	}
	if size > 1000000 {
		return nil, badParam("size exceeds maxOrderQty 1000000")
	}
	mode := orDefault(req.MarginMode, "ISOLATED")
	if mode != "ISOLATED" && mode != "CROSS" {
		return nil, badParam("marginMode must be ISOLATED or CROSS")
	}
	tick := rat(increment(c.w.contractPrice(req.Symbol)))
	price, hasPrice, aerr := decimal("price", req.Price)
	if aerr != nil {
		return nil, aerr
	}
	if hasPrice && !multipleOf(price, tick) {
		return nil, badParam("Price must be a multiple of tickSize %s", ratString(tick))
	}
	if typ == "limit" && !hasPrice {
		return nil, badParam("price is required for limit orders")
	}
	if typ == "market" && hasPrice {
		return nil, badParam("price is not allowed for market orders")
	}
	pos := c.position(req.Symbol)
	reducing := pos != nil && pos.qty != 0 && (pos.qty > 0) != (req.Side == "buy")
	if req.ReduceOnly && (!reducing || size > abs(pos.qty)) {
		return nil, badParam("reduceOnly order would open or increase a position")
	}
	lev := int64(0)
	if req.Leverage != "" {
		l, err := strconv.ParseFloat(string(req.Leverage), 64)
		if err != nil || l < 1 || l > maxLeverage {
			return nil, badParam("leverage must be between 1 and %d", maxLeverage)
		}
		lev = int64(l)
	} else if !req.ReduceOnly {
		return nil, badParam("leverage is required")
	} else {
		lev, _ = strconv.ParseInt(pos.leverage, 10, 64)
		lev = max(lev, 1)
	}
	tif := orDefault(req.TimeInForce, "GTC")
	if tif != "GTC" && tif != "IOC" {
		return nil, badParam("timeInForce must be GTC or IOC")
	}
	px := rat(c.w.contractPrice(req.Symbol))
	orderPx := px
	if hasPrice {
		orderPx = price
	}
	margin := new(big.Rat).Quo(contractValue(req.Symbol, size, orderPx), big.NewRat(lev, 1))
	if req.ReduceOnly {
		margin = new(big.Rat)
	}
	avail := new(big.Rat)
	if f := c.u.futAccounts[contractSettle(req.Symbol)]; f != nil {
		avail = f.available()
	}
	if avail.Cmp(margin) < 0 {
		return nil, errf(http.StatusOK, "300003", "Balance insufficient. The order would cost %s.", ratString(margin))
	}
	var up, down *big.Rat
	if tpsl {
		var aerr *apiError
		if up, _, aerr = decimal("triggerStopUpPrice", req.TriggerStopUpPrice); aerr != nil {
			return nil, aerr
		}
		if down, _, aerr = decimal("triggerStopDownPrice", req.TriggerStopDownPrice); aerr != nil {
			return nil, aerr
		}
		if up == nil && down == nil {
			return nil, badParam("triggerStopUpPrice or triggerStopDownPrice is required")
		}
		if (up != nil && up.Cmp(px) <= 0) || (down != nil && down.Cmp(px) >= 0) {
			return nil, badParam("triggerStopUpPrice must be above and triggerStopDownPrice below the price %s", ratString(px))
		}
	}
	if dry {
		return map[string]string{"orderId": c.w.newID(), "clientOid": req.ClientOid}, nil
	}
	acc := c.futAccount(contractSettle(req.Symbol))
	o := &futuresOrder{
		id: c.w.newID(), clientOid: req.ClientOid, symbol: req.Symbol, side: req.Side, typ: typ, size: size,
		leverage: strconv.FormatInt(lev, 10), marginMode: mode, reduceOnly: req.ReduceOnly, createdAt: c.now.UnixMilli(),
	}
	if hasPrice {
		o.price = ratString(price)
	}
	if req.Stop != "" || req.StopPrice != "" {
		if req.Stop != "up" && req.Stop != "down" {
			return nil, badParam("stop must be up or down")
		}
		sp, has, aerr := decimal("stopPrice", req.StopPrice)
		if aerr != nil {
			return nil, aerr
		}
		if !has {
			return nil, badParam("stopPrice is required for stop orders")
		}
		o.stopPriceType = orDefault(req.StopPriceType, "TP")
		if o.stopPriceType != "TP" && o.stopPriceType != "MP" && o.stopPriceType != "IP" {
			return nil, badParam("stopPriceType must be TP, MP or IP")
		}
		o.isStop, o.stop, o.stopPrice = true, req.Stop, ratString(sp)
		c.u.futOrders = append(c.u.futOrders, o)
		return map[string]string{"orderId": o.id, "clientOid": o.clientOid}, nil
	}
	crosses := typ == "market" || (req.Side == "buy" && price.Cmp(px) >= 0) || (req.Side == "sell" && price.Cmp(px) <= 0)
	c.u.futOrders = append(c.u.futOrders, o)
	// Take-profit / stop-loss: market stop orders on the closing side.
	closing := "sell"
	if req.Side == "sell" {
		closing = "buy"
	}
	for _, t := range []struct {
		dir string
		at  *big.Rat
	}{{"up", up}, {"down", down}} {
		if t.at == nil {
			continue
		}
		c.u.futOrders = append(c.u.futOrders, &futuresOrder{id: c.w.newID(), clientOid: hashHex("tpsl", o.id, t.dir)[:32],
			symbol: o.symbol, side: closing, typ: "market", size: size, leverage: o.leverage, marginMode: mode, reduceOnly: true,
			createdAt: o.createdAt, isStop: true, stop: t.dir, stopPrice: ratString(t.at), stopPriceType: orDefault(req.StopPriceType, "TP")})
	}
	switch {
	case crosses && req.PostOnly:
		o.done = true
	case crosses:
		c.futFill(o, acc, px, lev)
	case tif == "IOC":
		o.done = true
	default:
		acc.ordMargin.Add(acc.ordMargin, margin)
		o.hold = &holding{amt: margin, p: pot{hold: func(x *big.Rat) { acc.ordMargin.Add(acc.ordMargin, x) }}}
	}
	return map[string]string{"orderId": o.id, "clientOid": o.clientOid}, nil
}

// futFill fills o completely at px: it reduces an opposite position
// (realising its PnL) and opens or grows one with the rest.
func (c *call) futFill(o *futuresOrder, acc *futuresAccount, px *big.Rat, lev int64) {
	signed := o.size
	if o.side == "sell" {
		signed = -signed
	}
	p := c.position(o.symbol)
	if p == nil {
		p = &position{symbol: o.symbol, entry: new(big.Rat), mark: px, leverage: strconv.FormatInt(lev, 10), marginMode: o.marginMode, openedAt: c.now.UnixMilli()}
		c.u.positions = append(c.u.positions, p)
	}
	rest := signed
	if p.qty != 0 && (p.qty > 0) != (signed > 0) {
		closing := min(abs(signed), abs(p.qty))
		if isLinear(o.symbol) {
			d := new(big.Rat).Sub(px, p.entry)
			if p.qty < 0 {
				d.Neg(d)
			}
			acc.balance.Add(acc.balance, d.Mul(d, big.NewRat(closing, 1000)))
		}
		// Release the closed share of the position margin.
		plev, _ := strconv.ParseInt(p.leverage, 10, 64)
		share := new(big.Rat).Quo(contractValue(o.symbol, closing, p.entry), big.NewRat(max(plev, 1), 1))
		acc.posMargin.Sub(acc.posMargin, share)
		if acc.posMargin.Sign() < 0 {
			acc.posMargin.SetInt64(0)
		}
		if p.qty > 0 {
			p.qty -= closing
			rest = signed + closing
		} else {
			p.qty += closing
			rest = signed - closing
		}
	}
	if rest != 0 {
		if p.qty == 0 {
			p.entry = new(big.Rat).Set(px)
			p.openedAt = c.now.UnixMilli()
		} else {
			tot := new(big.Rat).Mul(p.entry, big.NewRat(abs(p.qty), 1))
			tot.Add(tot, new(big.Rat).Mul(px, big.NewRat(abs(rest), 1)))
			p.entry = tot.Quo(tot, big.NewRat(abs(p.qty)+abs(rest), 1))
		}
		p.qty += rest
		p.leverage = strconv.FormatInt(lev, 10)
		acc.posMargin.Add(acc.posMargin, new(big.Rat).Quo(contractValue(o.symbol, rest, px), big.NewRat(lev, 1)))
	}
	p.mark = px
	o.done, o.filled, o.dealSize, o.avgPrice = true, true, o.size, ratString(px)
}

// futClose is closeOrder: a market close flattens the position at its
// mark price; side and size are ignored.
func (c *call) futClose(req futuresReq, typ string) (any, *apiError) {
	if typ != "market" {
		return nil, badParam("closeOrder requires type market")
	}
	id := c.w.newID()
	for _, p := range c.u.positions {
		if p.symbol == req.Symbol && p.qty != 0 {
			cur := contractSettle(p.symbol)
			d := new(big.Rat).Sub(p.mark, p.entry)
			pnl := d.Mul(d, big.NewRat(p.qty, 1000))
			if f := c.u.futAccounts[cur]; f != nil {
				f.balance.Add(f.balance, pnl)
			}
			side := "sell"
			if p.qty < 0 {
				side = "buy"
			}
			c.u.futOrders = append(c.u.futOrders, &futuresOrder{id: id, clientOid: req.ClientOid, symbol: p.symbol, side: side,
				typ: "market", size: abs(p.qty), leverage: p.leverage, marginMode: p.marginMode, closeOrder: true,
				createdAt: c.now.UnixMilli(), done: true, filled: true, dealSize: abs(p.qty), avgPrice: ratString(p.mark)})
			p.qty = 0
		}
	}
	return map[string]string{"orderId": id, "clientOid": req.ClientOid}, nil
}

func (c *call) futByID(id string, byClient bool, sym string) *futuresOrder {
	for i := len(c.u.futOrders) - 1; i >= 0; i-- {
		o := c.u.futOrders[i]
		if sym != "" && o.symbol != sym {
			continue
		}
		if (!byClient && o.id == id) || (byClient && o.clientOid == id) {
			return o
		}
	}
	return nil
}

func hFutCancelByID(c *call) (any, *apiError) {
	o := c.futByID(c.r.PathValue("id"), false, "")
	if o == nil || !o.live(c.now) || !o.cancelAt.IsZero() {
		return nil, errOrderMissing
	}
	c.requestFuturesCancel(o)
	return map[string]any{"cancelledOrderIds": []string{o.id}}, nil
}

func hFutCancelByClientOid(c *call) (any, *apiError) {
	sym, aerr := c.requireSymbol()
	if aerr != nil {
		return nil, aerr
	}
	o := c.futByID(c.r.PathValue("id"), true, sym)
	if o == nil || !o.live(c.now) || !o.cancelAt.IsZero() {
		return nil, errOrderMissing
	}
	c.requestFuturesCancel(o)
	return map[string]string{"clientOid": o.clientOid}, nil
}

func hFutGetByID(c *call) (any, *apiError) {
	o := c.futByID(c.r.PathValue("id"), false, "")
	if o == nil {
		return nil, errNoOrder
	}
	return futOrderJSON(o, c), nil
}

func hFutGetByClientOid(c *call) (any, *apiError) {
	coid := c.param("clientOid")
	if coid == "" {
		return nil, badParam("clientOid is required")
	}
	o := c.futByID(coid, true, "")
	if o == nil {
		return nil, errNoOrder
	}
	return futOrderJSON(o, c), nil
}
