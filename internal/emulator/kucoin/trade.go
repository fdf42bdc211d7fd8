package kucoin

import (
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"regexp"
	"time"
)

// Trading model (spot HF, classic, stop, OCO, margin HF): a market order
// fills at once at the price table; a limit order whose price crosses the
// table fills at the table price, otherwise it rests and puts its funds on
// hold (the quote currency for a buy, the base currency for a sell); IOC
// and FOK limits that do not cross end unfilled, a post-only limit that
// would cross is cancelled. Stop and OCO orders rest until cancelled (the
// table does not move on its own) and hold their funds. A cancel releases
// the hold when it takes effect. Fills pay a 0.1% fee in the quote
// currency. HF orders trade the trade_hf account, classic, stop and OCO
// orders the trade account, margin orders the cross or isolated margin
// account (autoBorrow borrows the shortfall up to 5x equity).

// feeRate is the fee every fill pays, in the quote currency.
var feeRate = big.NewRat(1, 1000)

// maxMarginLeverage bounds autoBorrow: liabilities may reach
// (maxMarginLeverage-1) times the equity.
const maxMarginLeverage = 5

var (
	errBalance      = errf(http.StatusOK, "200004", "Balance insufficient!")
	errNoSymbol     = errf(http.StatusBadRequest, "900001", "symbol not exists")
	errOrderMissing = errf(http.StatusBadRequest, "400100", "order not exist or not allow to be cancelled")
	errNoOrder      = errf(http.StatusBadRequest, "400100", "order not exist.")
)

var decimalRE = regexp.MustCompile(`^[0-9]{1,20}(\.[0-9]{1,20})?$`)

// num is a JSON number sent as a string ("0.1") or a bare number (0.1).
type num string

func (n *num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*n = num(s)
		return nil
	}
	var f json.Number
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("not a number: %s", b)
	}
	*n = num(f.String())
	return nil
}

// decimal parses a positive decimal parameter; present is false when it
// was not sent.
func decimal(name string, v num) (r *big.Rat, present bool, aerr *apiError) {
	if v == "" {
		return nil, false, nil
	}
	if !decimalRE.MatchString(string(v)) {
		return nil, true, badParam("%s is invalid", name)
	}
	r, _ = new(big.Rat).SetString(string(v))
	if r.Sign() <= 0 {
		return nil, true, badParam("%s must be positive", name)
	}
	return r, true, nil
}

func multipleOf(x, inc *big.Rat) bool { return new(big.Rat).Quo(x, inc).IsInt() }

func rat(s string) *big.Rat { r, _ := new(big.Rat).SetString(s); return r }

// symRules are a spot symbol's trading rules, as GET /api/v2/symbols
// shows them.
type symRules struct {
	baseMin, baseMax, baseInc, quoteMin, quoteInc, priceInc, minFunds *big.Rat
}

const (
	ruleBaseMin  = "0.00001"
	ruleBaseMax  = "10000000000"
	ruleBaseInc  = "0.00000001"
	ruleQuoteMin = "0.1"
	ruleQuoteMax = "99999999"
	ruleQuoteInc = "0.000001"
	ruleMinFunds = "0.1"
)

func (w *world) rules(sym string) symRules {
	return symRules{baseMin: rat(ruleBaseMin), baseMax: rat(ruleBaseMax), baseInc: rat(ruleBaseInc), quoteMin: rat(ruleQuoteMin),
		quoteInc: rat(ruleQuoteInc), priceInc: rat(increment(w.priceOf(sym))), minFunds: rat(ruleMinFunds)}
}

// pot is one currency of one account an order takes from or pays into.
type pot struct {
	free   func() *big.Rat  // available
	hold   func(x *big.Rat) // holds += x
	credit func(x *big.Rat) // balance += x (negative: debit)
	borrow func(x *big.Rat) // margin only: total += x, liability += x
}

func (w *world) spotPot(u *user, typ, cur string) pot {
	return pot{
		free: func() *big.Rat {
			if a := u.balances[typ][cur]; a != nil {
				return a.available()
			}
			return new(big.Rat)
		},
		hold:   func(x *big.Rat) { a := u.account(typ, cur, w); a.holds.Add(a.holds, x) },
		credit: func(x *big.Rat) { a := u.account(typ, cur, w); a.balance.Add(a.balance, x) },
	}
}

func zeroMargin() *marginAmount {
	return &marginAmount{total: new(big.Rat), hold: new(big.Rat), liability: new(big.Rat)}
}

// marginPot is a currency of a margin account; get returns it (creating
// it when create is true, else possibly nil).
func marginPot(get func(create bool) *marginAmount) pot {
	return pot{
		free: func() *big.Rat {
			if m := get(false); m != nil {
				return new(big.Rat).Sub(m.total, m.hold)
			}
			return new(big.Rat)
		},
		hold:   func(x *big.Rat) { m := get(true); m.hold.Add(m.hold, x) },
		credit: func(x *big.Rat) { m := get(true); m.total.Add(m.total, x) },
		borrow: func(x *big.Rat) { m := get(true); m.total.Add(m.total, x); m.liability.Add(m.liability, x) },
	}
}

// wallet is where an order of a symbol trades: its base and quote pots.
type wallet struct {
	base, quote pot
	// equity values the whole margin account (assets and liabilities in
	// USDT) for the borrow limit; nil outside margin.
	equity func() (assets, liabilities *big.Rat)
}

func (w *world) spotWallet(u *user, typ, sym string) wallet {
	return wallet{base: w.spotPot(u, typ, baseOf(sym)), quote: w.spotPot(u, typ, quoteOf(sym))}
}

func (w *world) crossWallet(u *user, sym string) wallet {
	get := func(cur string) func(bool) *marginAmount {
		return func(create bool) *marginAmount {
			m := u.margin[cur]
			if m == nil && create {
				m = zeroMargin()
				u.margin[cur] = m
			}
			return m
		}
	}
	return wallet{base: marginPot(get(baseOf(sym))), quote: marginPot(get(quoteOf(sym))), equity: func() (*big.Rat, *big.Rat) {
		a, l := new(big.Rat), new(big.Rat)
		for c, m := range u.margin {
			a.Add(a, w.usdValue(c, m.total))
			l.Add(l, w.usdValue(c, m.liability))
		}
		return a, l
	}}
}

func (w *world) isolatedWallet(u *user, sym string) wallet {
	acc := func(create bool) *isolatedAccount {
		iso := u.isolated[sym]
		if iso == nil && create {
			iso = &isolatedAccount{symbol: sym, base: zeroMargin(), quote: zeroMargin()}
			u.isolated[sym] = iso
		}
		return iso
	}
	side := func(base bool) func(bool) *marginAmount {
		return func(create bool) *marginAmount {
			iso := acc(create)
			if iso == nil {
				return nil
			}
			if base {
				return iso.base
			}
			return iso.quote
		}
	}
	return wallet{base: marginPot(side(true)), quote: marginPot(side(false)), equity: func() (*big.Rat, *big.Rat) {
		a, l := new(big.Rat), new(big.Rat)
		if iso := acc(false); iso != nil {
			a.Add(w.usdValue(baseOf(sym), iso.base.total), w.usdValue(quoteOf(sym), iso.quote.total))
			l.Add(w.usdValue(baseOf(sym), iso.base.liability), w.usdValue(quoteOf(sym), iso.quote.liability))
		}
		return a, l
	}}
}

// holding is an amount an order keeps on hold in one pot.
type holding struct {
	p   pot
	amt *big.Rat
}

func (h *holding) release() {
	if h == nil || h.amt.Sign() == 0 {
		return
	}
	h.p.hold(new(big.Rat).Neg(h.amt))
	h.amt = new(big.Rat)
}

// pendingRelease is a hold released when a requested cancel takes effect.
type pendingRelease struct {
	at time.Time
	h  *holding
}

// finish ends an order at once (cancelled) and releases its hold.
func (w *world) finish(o *order) {
	o.done = true
	o.hold.release()
}

// releaseDue releases the holds of cancels that took effect by now.
func (w *world) releaseDue(now time.Time) {
	keep := w.pending[:0]
	for _, p := range w.pending {
		if now.Before(p.at) {
			keep = append(keep, p)
			continue
		}
		p.h.release()
	}
	w.pending = keep
}

// spotReq is the body of every spot, margin, stop and OCO order.
type spotReq struct {
	ClientOid   string `json:"clientOid"`
	Symbol      string `json:"symbol"`
	Side        string `json:"side"`
	Type        string `json:"type"`
	Price       num    `json:"price"`
	Size        num    `json:"size"`
	Funds       num    `json:"funds"`
	TimeInForce string `json:"timeInForce"`
	CancelAfter int64  `json:"cancelAfter"`
	PostOnly    bool   `json:"postOnly"`
	Remark      string `json:"remark"`
	Stp         string `json:"stp"`
	TradeType   string `json:"tradeType"`
	Stop        string `json:"stop"`
	StopPrice   num    `json:"stopPrice"`
	LimitPrice  num    `json:"limitPrice"`
	IsIsolated  bool   `json:"isIsolated"`
	AutoBorrow  bool   `json:"autoBorrow"`
	AutoRepay   bool   `json:"autoRepay"`
	MarginModel string `json:"marginModel"`
}

// parsed is a validated order request.
type parsed struct {
	req                        spotReq
	typ, tif                   string
	price, size, funds, stopPx *big.Rat
	limitPx                    *big.Rat
}

// parseOrder decodes and validates an order body against the symbol's
// rules: side, type, symbol, increments, minimums, time in force.
func (c *call) parseOrder(needClientOid bool) (*parsed, *apiError) {
	p := &parsed{}
	if aerr := c.decodeBody(&p.req); aerr != nil {
		return nil, aerr
	}
	r := &p.req
	if needClientOid && r.ClientOid == "" {
		return nil, badParam("clientOid is required")
	}
	if len(r.ClientOid) > 40 {
		return nil, badParam("clientOid is too long (max 40 characters)")
	}
	if r.Symbol == "" {
		return nil, badParam("symbol is required")
	}
	if r.Side != "buy" && r.Side != "sell" {
		return nil, badParam("side must be buy or sell")
	}
	if !contains(c.w.symbols, r.Symbol) {
		return nil, errNoSymbol
	}
	p.typ = orDefault(r.Type, "limit")
	if p.typ != "limit" && p.typ != "market" {
		return nil, badParam("type must be limit or market")
	}
	switch r.Stp {
	case "", "CN", "CO", "CB", "DC":
	default:
		return nil, badParam("stp is invalid")
	}
	rules := c.w.rules(r.Symbol)
	var aerr *apiError
	var has bool
	if p.size, has, aerr = decimal("size", r.Size); aerr != nil {
		return nil, aerr
	}
	if has {
		if p.size.Cmp(rules.baseMin) < 0 {
			return nil, badParam("Order size below the minimum requirement.")
		}
		if p.size.Cmp(rules.baseMax) > 0 {
			return nil, badParam("Order size above the maximum requirement.")
		}
		if !multipleOf(p.size, rules.baseInc) {
			return nil, badParam("Order size increment invalid.")
		}
	}
	if p.funds, has, aerr = decimal("funds", r.Funds); aerr != nil {
		return nil, aerr
	}
	if has {
		if p.funds.Cmp(rules.minFunds) < 0 {
			return nil, badParam("Order funds below the minimum requirement.")
		}
		if !multipleOf(p.funds, rules.quoteInc) {
			return nil, badParam("Order funds increment invalid.")
		}
	}
	checkPrice := func(name string, v num) (*big.Rat, *apiError) {
		x, has, aerr := decimal(name, v)
		if aerr != nil || !has {
			return x, aerr
		}
		if !multipleOf(x, rules.priceInc) {
			return nil, badParam("Price increment invalid.")
		}
		return x, nil
	}
	if p.price, aerr = checkPrice("price", r.Price); aerr != nil {
		return nil, aerr
	}
	if p.stopPx, aerr = checkPrice("stopPrice", r.StopPrice); aerr != nil {
		return nil, aerr
	}
	if p.limitPx, aerr = checkPrice("limitPrice", r.LimitPrice); aerr != nil {
		return nil, aerr
	}
	p.tif = orDefault(r.TimeInForce, "GTC")
	switch p.tif {
	case "GTC", "IOC", "FOK":
	case "GTT":
		if r.CancelAfter <= 0 {
			return nil, badParam("cancelAfter is required for GTT")
		}
	default:
		return nil, badParam("timeInForce is invalid")
	}
	if p.typ == "limit" {
		if p.price == nil {
			return nil, badParam("price is required for limit orders")
		}
		if p.size == nil {
			return nil, badParam("size is required for limit orders")
		}
		if p.funds != nil {
			return nil, badParam("funds is not allowed for limit orders")
		}
		if new(big.Rat).Mul(p.price, p.size).Cmp(rules.minFunds) < 0 {
			return nil, badParam("Order funds below the minimum requirement.")
		}
	} else {
		if (p.size == nil) == (p.funds == nil) {
			return nil, badParam("market orders need exactly one of size and funds")
		}
		if p.price != nil || r.PostOnly {
			return nil, badParam("price and postOnly are not allowed for market orders")
		}
	}
	if c.clientOidLive(r.ClientOid) {
		return nil, badParam("clientOid duplicated")
	}
	return p, nil
}

// clientOidLive reports whether a live order of the user already uses
// the client order id.
func (c *call) clientOidLive(coid string) bool {
	if coid == "" {
		return false
	}
	for _, o := range c.u.orders {
		if o.clientOid == coid && o.live(c.now) {
			return true
		}
	}
	return false
}

// placeResult is what placing an order did.
type placeResult struct {
	o      *order
	borrow *big.Rat
}

// place runs a validated order against wallet wl: it fills, rests
// (holding funds) or ends it. kind is kindHF, kindClassic or kindMarginHF;
// hf marks its fills as HF fills.
func (c *call) place(p *parsed, kind, tradeType string, wl wallet, hf bool) (*placeResult, *apiError) {
	r := &p.req
	px := rat(c.w.priceOf(r.Symbol))
	crosses := p.typ == "market" || (r.Side == "buy" && p.price.Cmp(px) >= 0) || (r.Side == "sell" && p.price.Cmp(px) <= 0)
	size := p.size
	if size == nil { // market by funds
		size = new(big.Rat).Quo(p.funds, px)
		inc := c.w.rules(r.Symbol).baseInc
		q := new(big.Rat).Quo(size, inc)
		n := new(big.Int).Quo(q.Num(), q.Denom())
		size = new(big.Rat).Mul(new(big.Rat).SetInt(n), inc)
		if size.Sign() == 0 {
			return nil, badParam("Order funds below the minimum requirement.")
		}
	}
	// What the order needs from the wallet: filled at px, or resting at
	// its own price.
	var need *big.Rat
	from := wl.quote
	switch {
	case r.Side == "sell":
		need, from = size, wl.base
	case crosses:
		need = new(big.Rat).Mul(size, px)
		need.Add(need, new(big.Rat).Mul(need, feeRate))
	default:
		need = new(big.Rat).Mul(size, p.price)
	}
	res := &placeResult{}
	if short := new(big.Rat).Sub(need, from.free()); short.Sign() > 0 {
		if wl.equity == nil || !r.AutoBorrow {
			return nil, errBalance
		}
		cur := quoteOf(r.Symbol)
		if r.Side == "sell" {
			cur = baseOf(r.Symbol)
		}
		a, l := wl.equity()
		v := c.w.usdValue(cur, short)
		eq := new(big.Rat).Sub(a, l)
		limit := new(big.Rat).Mul(eq, big.NewRat(maxMarginLeverage-1, 1))
		if eq.Sign() <= 0 || new(big.Rat).Add(l, v).Cmp(limit) > 0 {
			return nil, errBalance
		}
		from.borrow(short)
		res.borrow = short
	}
	o := &order{
		kind: kind, id: c.w.newID(), clientOid: r.ClientOid, symbol: r.Symbol, side: r.Side, typ: p.typ,
		size: ratString(size), dealSize: "0", dealFunds: "0", fee: "0", tradeType: tradeType, createdAt: c.now.UnixMilli(),
		timeInForce: p.tif, postOnly: r.PostOnly, remark: r.Remark,
	}
	if p.price != nil {
		o.price = ratString(p.price)
	} else {
		o.price = "0"
	}
	if p.funds != nil {
		o.funds = ratString(p.funds)
		if p.size == nil {
			o.size = "0"
		}
	}
	if o.clientOid == "" {
		o.clientOid = hashHex("oid", o.id)[:32]
	}
	res.o = o
	if res.borrow != nil {
		o.borrowSize = ratString(res.borrow)
	}
	c.u.orders = append(c.u.orders, o)
	switch {
	case crosses && r.PostOnly:
		o.done = true // post-only would take: cancelled
	case crosses:
		c.fillOrder(o, wl, size, px, hf)
	case p.tif == "IOC" || p.tif == "FOK":
		o.done = true
	default:
		from.hold(need)
		o.hold = &holding{p: from, amt: need}
	}
	return res, nil
}

// fillOrder fills o completely at px from wallet wl and records the fill.
func (c *call) fillOrder(o *order, wl wallet, size, px *big.Rat, hf bool) {
	funds := new(big.Rat).Mul(size, px)
	fee := new(big.Rat).Mul(funds, feeRate)
	if o.side == "buy" {
		wl.quote.credit(new(big.Rat).Neg(new(big.Rat).Add(funds, fee)))
		wl.base.credit(size)
	} else {
		wl.base.credit(new(big.Rat).Neg(size))
		wl.quote.credit(new(big.Rat).Sub(funds, fee))
	}
	o.done, o.filled = true, true
	o.dealSize, o.dealFunds, o.fee = ratString(size), ratString(funds), ratString(fee)
	if o.size == "0" {
		o.size = o.dealSize
	}
	c.w.seq++
	c.u.fills = append(c.u.fills, &fill{
		tradeID: fmt.Sprint(11000000000 + c.w.seq), orderID: o.id, symbol: o.symbol, side: o.side, liquidity: "taker",
		feeCurrency: quoteOf(o.symbol), tradeType: o.tradeType, price: px, size: size, fee: fee, hf: hf,
		createdAt: c.now.UnixMilli(), id: 19000000000 + c.w.seq,
	})
}

// holdFor puts need on hold in the pot the order pays from, or answers
// 200004.
func holdFor(o *order, p pot, need *big.Rat) *apiError {
	if p.free().Cmp(need) < 0 {
		return errBalance
	}
	p.hold(need)
	o.hold = &holding{p: p, amt: need}
	return nil
}

// ---- HF spot ----

func hHFPlace(c *call) (any, *apiError) {
	p, aerr := c.parseOrder(false)
	if aerr != nil {
		return nil, aerr
	}
	res, aerr := c.place(p, kindHF, "TRADE", c.w.spotWallet(c.u, "trade_hf", p.req.Symbol), true)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]string{"orderId": res.o.id, "clientOid": res.o.clientOid}, nil
}

// findOrder finds an order of kinds by id (or client order id) and, when
// sym is not empty, symbol.
func (c *call) findOrder(id string, byClient bool, sym string, kinds ...string) *order {
	for i := len(c.u.orders) - 1; i >= 0; i-- {
		o := c.u.orders[i]
		if !contains(kinds, o.kind) || (sym != "" && o.symbol != sym) {
			continue
		}
		if (!byClient && o.id == id) || (byClient && o.clientOid == id) {
			return o
		}
	}
	return nil
}

// requireSymbol reads the symbol query parameter HF endpoints require.
func (c *call) requireSymbol() (string, *apiError) {
	sym := c.param("symbol")
	if sym == "" {
		return "", badParam("symbol is required")
	}
	return sym, nil
}

// cancelOne requests the asynchronous cancel of a live order.
func (c *call) cancelOne(byClient bool, kinds ...string) (*order, *apiError) {
	sym, aerr := c.requireSymbol()
	if aerr != nil {
		return nil, aerr
	}
	key := c.r.PathValue("id")
	o := c.findOrder(key, byClient, sym, kinds...)
	if o == nil || !o.live(c.now) || !o.cancelAt.IsZero() {
		return nil, errOrderMissing
	}
	c.requestCancel(o)
	return o, nil
}

func hHFCancelByID(c *call) (any, *apiError) {
	o, aerr := c.cancelOne(false, kindHF)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]string{"orderId": o.id}, nil
}

func hHFCancelByClientOid(c *call) (any, *apiError) {
	o, aerr := c.cancelOne(true, kindHF)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]string{"clientOid": o.clientOid}, nil
}

func (c *call) getOne(byClient bool, kinds ...string) (*order, *apiError) {
	sym, aerr := c.requireSymbol()
	if aerr != nil {
		return nil, aerr
	}
	o := c.findOrder(c.r.PathValue("id"), byClient, sym, kinds...)
	if o == nil {
		return nil, errNoOrder
	}
	return o, nil
}

func hHFGetByID(c *call) (any, *apiError) {
	o, aerr := c.getOne(false, kindHF)
	if aerr != nil {
		return nil, aerr
	}
	return hfOrderJSON(o, c.now), nil
}

func hHFGetByClientOid(c *call) (any, *apiError) {
	o, aerr := c.getOne(true, kindHF)
	if aerr != nil {
		return nil, aerr
	}
	return hfOrderJSON(o, c.now), nil
}

// doneOrders lists ended orders of kind (newest first) as HF "done" lists
// do: {lastId, items}.
func (c *call) doneOrders(kind, sym, tradeType string) map[string]any {
	limit := 20
	if v := c.param("limit"); v != "" {
		var n int
		if _, err := fmt.Sscan(v, &n); err == nil && n > 0 {
			limit = min(n, 100)
		}
	}
	items := []map[string]any{}
	for i := len(c.u.orders) - 1; i >= 0 && len(items) < limit; i-- {
		o := c.u.orders[i]
		if o.kind != kind || o.symbol != sym || o.live(c.now) || (tradeType != "" && o.tradeType != tradeType) {
			continue
		}
		items = append(items, hfOrderJSON(o, c.now))
	}
	return map[string]any{"lastId": c.w.seq, "items": items}
}

func hHFDone(c *call) (any, *apiError) {
	sym, aerr := c.requireSymbol()
	if aerr != nil {
		return nil, aerr
	}
	return c.doneOrders(kindHF, sym, ""), nil
}

// ---- classic spot ----

func hClassicPlace(c *call) (any, *apiError) {
	p, aerr := c.parseOrder(true)
	if aerr != nil {
		return nil, aerr
	}
	tt := orDefault(p.req.TradeType, "TRADE")
	if tt != "TRADE" {
		return nil, badParam("tradeType is invalid (margin orders: POST /api/v1/margin/order)")
	}
	res, aerr := c.place(p, kindClassic, tt, c.w.spotWallet(c.u, "trade", p.req.Symbol), false)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]string{"orderId": res.o.id}, nil
}

// hMarginV1Place is POST /api/v1/margin/order (deprecated): a classic
// order on the cross (marginModel cross) or isolated margin account.
func hMarginV1Place(c *call) (any, *apiError) {
	p, aerr := c.parseOrder(true)
	if aerr != nil {
		return nil, aerr
	}
	var wl wallet
	tt := "MARGIN_TRADE"
	switch orDefault(p.req.MarginModel, "cross") {
	case "cross":
		wl = c.w.crossWallet(c.u, p.req.Symbol)
	case "isolated":
		wl, tt = c.w.isolatedWallet(c.u, p.req.Symbol), "MARGIN_ISOLATED_TRADE"
	default:
		return nil, badParam("marginModel must be cross or isolated")
	}
	if !c.w.marginEnabled(p.req.Symbol) {
		return nil, badParam("symbol %s does not support margin trading", p.req.Symbol)
	}
	res, aerr := c.place(p, kindClassic, tt, wl, false)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]any{"orderId": res.o.id, "borrowSize": nilIfEmpty(res.o.borrowSize), "loanApplyId": nil}, nil
}

func (c *call) classicByPath(byClient bool) *order {
	return c.findOrder(c.r.PathValue("id"), byClient, "", kindClassic)
}

func hClassicCancelByID(c *call) (any, *apiError) {
	o := c.classicByPath(false)
	if o == nil || !o.live(c.now) || !o.cancelAt.IsZero() {
		return nil, errOrderMissing
	}
	if o.tradeType != "TRADE" && !c.key.has("Margin") {
		return nil, errPermission
	}
	c.requestCancel(o)
	return map[string]any{"cancelledOrderIds": []string{o.id}}, nil
}

func hClassicCancelByClientOid(c *call) (any, *apiError) {
	o := c.classicByPath(true)
	if o == nil || !o.live(c.now) || !o.cancelAt.IsZero() {
		return nil, errOrderMissing
	}
	if o.tradeType != "TRADE" && !c.key.has("Margin") {
		return nil, errPermission
	}
	c.requestCancel(o)
	return map[string]any{"cancelledOrderId": o.id, "clientOid": o.clientOid}, nil
}

func hClassicGetByID(c *call) (any, *apiError) {
	o := c.classicByPath(false)
	if o == nil {
		return nil, errNoOrder
	}
	return classicOrderJSON(o, c.now), nil
}

func hClassicGetByClientOid(c *call) (any, *apiError) {
	o := c.classicByPath(true)
	if o == nil {
		return nil, errNoOrder
	}
	return classicOrderJSON(o, c.now), nil
}

// ---- stop orders ----

func hStopPlace(c *call) (any, *apiError) {
	p, aerr := c.parseOrder(true)
	if aerr != nil {
		return nil, aerr
	}
	r := &p.req
	if p.stopPx == nil {
		return nil, badParam("stopPrice is required")
	}
	stop := r.Stop
	if stop == "" {
		stop = "loss"
		if r.Side == "buy" {
			stop = "entry"
		}
	}
	if stop != "loss" && stop != "entry" {
		return nil, badParam("stop must be loss or entry")
	}
	tt := orDefault(r.TradeType, "TRADE")
	var wl wallet
	switch tt {
	case "TRADE":
		wl = c.w.spotWallet(c.u, "trade", r.Symbol)
	case "MARGIN_TRADE":
		wl = c.w.crossWallet(c.u, r.Symbol)
	case "MARGIN_ISOLATED_TRADE":
		wl = c.w.isolatedWallet(c.u, r.Symbol)
	default:
		return nil, badParam("tradeType is invalid")
	}
	if tt != "TRADE" && !c.key.has("Margin") {
		return nil, errPermission
	}
	o := &order{
		kind: kindStop, id: c.w.newID(), clientOid: r.ClientOid, symbol: r.Symbol, side: r.Side, typ: p.typ, dealSize: "0",
		dealFunds: "0", fee: "0", stop: stop, stopPrice: ratString(p.stopPx), tradeType: tt, createdAt: c.now.UnixMilli(),
		timeInForce: p.tif, postOnly: r.PostOnly, remark: r.Remark, price: "0", size: "0",
	}
	if p.price != nil {
		o.price = ratString(p.price)
	}
	if p.size != nil {
		o.size = ratString(p.size)
	}
	if p.funds != nil {
		o.funds = ratString(p.funds)
	}
	// A stop order holds what it would spend when triggered: the base
	// size for a sell, price (stop price for a market) × size or the
	// funds for a buy.
	need, from := p.size, wl.base
	if r.Side == "buy" {
		from = wl.quote
		switch {
		case p.funds != nil:
			need = p.funds
		case p.price != nil:
			need = new(big.Rat).Mul(p.price, p.size)
		default:
			need = new(big.Rat).Mul(p.stopPx, p.size)
		}
	} else if need == nil {
		need = new(big.Rat).Quo(p.funds, p.stopPx)
	}
	if aerr := holdFor(o, from, need); aerr != nil {
		return nil, aerr
	}
	c.u.orders = append(c.u.orders, o)
	return map[string]string{"orderId": o.id}, nil
}

func (c *call) stopByID() (*order, *apiError) {
	o := c.findOrder(c.r.PathValue("id"), false, "", kindStop)
	if o == nil {
		return nil, errNoOrder
	}
	return o, nil
}

func hStopCancelByID(c *call) (any, *apiError) {
	o := c.findOrder(c.r.PathValue("id"), false, "", kindStop)
	if o == nil || !o.live(c.now) {
		return nil, errOrderMissing
	}
	c.w.finish(o)
	return map[string]any{"cancelledOrderIds": []string{o.id}}, nil
}

func hStopCancelByClientOid(c *call) (any, *apiError) {
	coid := c.param("clientOid")
	if coid == "" {
		return nil, badParam("clientOid is required")
	}
	o := c.findOrder(coid, true, c.param("symbol"), kindStop)
	if o == nil || !o.live(c.now) {
		return nil, errOrderMissing
	}
	c.w.finish(o)
	return map[string]any{"cancelledOrderId": o.id, "clientOid": o.clientOid}, nil
}

func hStopGetByID(c *call) (any, *apiError) {
	o, aerr := c.stopByID()
	if aerr != nil {
		return nil, aerr
	}
	return stopOrderJSON(o, c.u, c.now), nil
}

func hStopGetByClientOid(c *call) (any, *apiError) {
	coid := c.param("clientOid")
	if coid == "" {
		return nil, badParam("clientOid is required")
	}
	out := []map[string]any{}
	if o := c.findOrder(coid, true, c.param("symbol"), kindStop); o != nil {
		out = append(out, stopOrderJSON(o, c.u, c.now))
	}
	return out, nil
}

// ---- OCO ----

func hOCOPlace(c *call) (any, *apiError) {
	p, aerr := c.parseOrder(true)
	if aerr != nil {
		return nil, aerr
	}
	r := &p.req
	if p.typ != "limit" || p.price == nil || p.size == nil {
		return nil, badParam("price and size are required")
	}
	if p.stopPx == nil || p.limitPx == nil {
		return nil, badParam("stopPrice and limitPrice are required")
	}
	if tt := orDefault(r.TradeType, "TRADE"); tt != "TRADE" {
		return nil, badParam("tradeType must be TRADE")
	}
	// The take-profit leg rests at price on the far side of the market,
	// the stop leg triggers at stopPrice on the near side.
	px := rat(c.w.priceOf(r.Symbol))
	if r.Side == "sell" && (p.price.Cmp(px) <= 0 || p.stopPx.Cmp(px) >= 0) {
		return nil, badParam("sell OCO: price must be above and stopPrice below the last price %s", ratString(px))
	}
	if r.Side == "buy" && (p.price.Cmp(px) >= 0 || p.stopPx.Cmp(px) <= 0) {
		return nil, badParam("buy OCO: price must be below and stopPrice above the last price %s", ratString(px))
	}
	wl := c.w.spotWallet(c.u, "trade", r.Symbol)
	o := &order{
		kind: kindOCO, id: c.w.newID(), subIDs: []string{c.w.newID(), c.w.newID()}, clientOid: r.ClientOid, symbol: r.Symbol,
		side: r.Side, typ: "limit", price: ratString(p.price), size: ratString(p.size), dealSize: "0", dealFunds: "0", fee: "0",
		stopPrice: ratString(p.stopPx), limitPrice: ratString(p.limitPx), tradeType: "TRADE", createdAt: c.now.UnixMilli(),
		remark: r.Remark,
	}
	need, from := p.size, wl.base
	if r.Side == "buy" {
		hi := p.price
		if p.limitPx.Cmp(hi) > 0 {
			hi = p.limitPx
		}
		need, from = new(big.Rat).Mul(hi, p.size), wl.quote
	}
	if aerr := holdFor(o, from, need); aerr != nil {
		return nil, aerr
	}
	c.u.orders = append(c.u.orders, o)
	return map[string]string{"orderId": o.id}, nil
}

func (c *call) ocoByPath(byClient bool) *order {
	return c.findOrder(c.r.PathValue("id"), byClient, "", kindOCO)
}

func ocoJSON(o *order, now time.Time) map[string]any {
	st := "NEW"
	if !o.live(now) {
		st = "CANCELLED"
	}
	return map[string]any{"orderId": o.id, "symbol": o.symbol, "clientOid": o.clientOid, "orderTime": o.createdAt, "status": st}
}

func hOCOCancelOne(byClient bool) func(c *call) (any, *apiError) {
	return func(c *call) (any, *apiError) {
		o := c.ocoByPath(byClient)
		if o == nil || !o.live(c.now) {
			return nil, errOrderMissing
		}
		c.w.finish(o)
		return map[string]any{"cancelledOrderIds": o.subIDs}, nil
	}
}

func hOCOGet(byClient bool) func(c *call) (any, *apiError) {
	return func(c *call) (any, *apiError) {
		o := c.ocoByPath(byClient)
		if o == nil {
			return nil, errNoOrder
		}
		return ocoJSON(o, c.now), nil
	}
}

func hOCODetail(c *call) (any, *apiError) {
	o := c.ocoByPath(false)
	if o == nil {
		return nil, errNoOrder
	}
	m := ocoJSON(o, c.now)
	legSt := "NEW"
	if !o.live(c.now) {
		legSt = "CANCELLED"
	}
	m["orders"] = []map[string]any{
		{"id": o.subIDs[0], "symbol": o.symbol, "side": o.side, "price": o.price, "stopPrice": o.price, "size": o.size, "status": legSt},
		{"id": o.subIDs[1], "symbol": o.symbol, "side": o.side, "price": o.limitPrice, "stopPrice": o.stopPrice, "size": o.size, "status": legSt},
	}
	return m, nil
}

// ---- margin HF ----

func hMarginPlace(c *call) (any, *apiError) {
	p, aerr := c.parseOrder(true)
	if aerr != nil {
		return nil, aerr
	}
	if !c.w.marginEnabled(p.req.Symbol) {
		return nil, badParam("symbol %s does not support margin trading", p.req.Symbol)
	}
	wl, tt := c.w.crossWallet(c.u, p.req.Symbol), "MARGIN_TRADE"
	if p.req.IsIsolated {
		wl, tt = c.w.isolatedWallet(c.u, p.req.Symbol), "MARGIN_ISOLATED_TRADE"
	}
	res, aerr := c.place(p, kindMarginHF, tt, wl, true)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]any{"orderId": res.o.id, "clientOid": res.o.clientOid, "borrowSize": nilIfEmpty(res.o.borrowSize), "loanApplyId": nil}, nil
}

func hMarginCancelByID(c *call) (any, *apiError) {
	o, aerr := c.cancelOne(false, kindMarginHF)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]string{"orderId": o.id}, nil
}

func hMarginCancelByClientOid(c *call) (any, *apiError) {
	o, aerr := c.cancelOne(true, kindMarginHF)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]string{"clientOid": o.clientOid}, nil
}

func hMarginGetByID(c *call) (any, *apiError) {
	o, aerr := c.getOne(false, kindMarginHF)
	if aerr != nil {
		return nil, aerr
	}
	return hfOrderJSON(o, c.now), nil
}

func hMarginGetByClientOid(c *call) (any, *apiError) {
	o, aerr := c.getOne(true, kindMarginHF)
	if aerr != nil {
		return nil, aerr
	}
	return hfOrderJSON(o, c.now), nil
}

func hMarginDone(c *call) (any, *apiError) {
	tt, aerr := marginTradeType(c, true)
	if aerr != nil {
		return nil, aerr
	}
	sym, aerr := c.requireSymbol()
	if aerr != nil {
		return nil, aerr
	}
	return c.doneOrders(kindMarginHF, sym, tt), nil
}

// ---- order tests ----

// hOrderTest answers the "Add Order Test" endpoints: the request is
// authenticated, permission-checked and validated like the real order,
// and answered with an order id, but nothing is placed or held (docs:
// "the order will not enter the matching system").
func hOrderTest(needClientOid bool, answer func(id, coid string) any) func(c *call) (any, *apiError) {
	return func(c *call) (any, *apiError) {
		p, aerr := c.parseOrder(needClientOid)
		if aerr != nil {
			return nil, aerr
		}
		id := c.w.newID()
		coid := p.req.ClientOid
		if coid == "" {
			coid = hashHex("oid", id)[:32]
		}
		return answer(id, coid), nil
	}
}

func answerHF(id, coid string) any   { return map[string]string{"orderId": id, "clientOid": coid} }
func answerClassic(id, _ string) any { return map[string]string{"orderId": id} }
func answerMargin(id, coid string) any {
	return map[string]any{"orderId": id, "clientOid": coid, "borrowSize": nil, "loanApplyId": nil}
}
func answerMarginV1(id, _ string) any {
	return map[string]any{"orderId": id, "borrowSize": nil, "loanApplyId": nil}
}
