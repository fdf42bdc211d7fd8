package binance

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Trading model (spot, cross and isolated margin): a MARKET order fills
// at once at the price table; a LIMIT order whose price crosses the table
// fills at the table price, otherwise it rests and locks its funds (the
// quote asset for a BUY, the base asset for a SELL). Stop orders rest
// until cancelled (the table does not move on its own); one that would
// trigger at once is refused. A cancel releases what the order locked.
// Fills pay a 0.1% commission in the asset received.

const commissionRate = 0.001

var decimalRE = regexp.MustCompile(`^([0-9]{1,20})(\.[0-9]{1,20})?$`)

// decimal reads the decimal parameter name. present is false when it was
// not sent; ok is false (and the answer sent) when it is malformed.
func (c *call) decimal(name string) (v float64, present, ok bool) {
	s := c.p.Get(name)
	if s == "" {
		return 0, false, true
	}
	if !decimalRE.MatchString(s) {
		c.fail(http.StatusBadRequest, -1100, "Illegal characters found in parameter '"+name+"'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")
		return 0, true, false
	}
	v, _ = strconv.ParseFloat(s, 64)
	return v, true, true
}

func (c *call) notRequired(name string) {
	c.fail(http.StatusBadRequest, -1106, "Parameter '"+name+"' sent when not required.")
}

func (c *call) rejectOrder(msg string) {
	c.fail(http.StatusBadRequest, -2010, msg)
}

func (c *call) filterFailure(name string) {
	c.fail(http.StatusBadRequest, -1013, "Filter failure: "+name)
}

const insufficientBalance = "Account has insufficient balance for requested action."

// orderWindow is one ORDERS rate limit: count per interval.
type orderWindow struct {
	size     time.Duration
	limit    int
	header   string // e.g. X-MBX-ORDER-COUNT-10S
	interval string // e.g. "10 SECOND", as the -1015 message says it
}

func (v *Venue) spotOrderWindows() []orderWindow {
	l := v.st.limits
	return []orderWindow{
		{10 * time.Second, l.SpotOrders10S, "X-MBX-ORDER-COUNT-10S", "10 SECOND"},
		{24 * time.Hour, l.SpotOrders1D, "X-MBX-ORDER-COUNT-1D", "1 DAY"},
	}
}

func (v *Venue) futuresOrderWindows(coinm bool) []orderWindow {
	l := v.st.limits
	if coinm {
		return []orderWindow{{time.Minute, l.FutOrders1M, "X-MBX-ORDER-COUNT-1M", "1 MINUTE"}}
	}
	return []orderWindow{
		{10 * time.Second, l.FutOrders10S, "X-MBX-ORDER-COUNT-10S", "10 SECOND"},
		{time.Minute, l.FutOrders1M, "X-MBX-ORDER-COUNT-1M", "1 MINUTE"},
	}
}

// chargeOrders counts n new orders of the calling account against every
// window of family fam; over a limit it answers 429 -1015 (without
// Retry-After, as the venue does for order counts) and the orders are not
// placed. On success the X-MBX-ORDER-COUNT-* headers carry the counts.
func (v *Venue) chargeOrders(c *call, fam string, wins []orderWindow, n int) bool {
	for _, w := range wins {
		key := fmt.Sprintf("orders|%s|%s|%d", fam, w.header, c.acct.UID)
		cur := v.rl.win[key]
		used := 0
		if cur != nil && cur.idx == c.now.UnixNano()/int64(w.size) {
			used = cur.used
		}
		if used+n > w.limit {
			c.fail(http.StatusTooManyRequests, -1015, fmt.Sprintf("Too many new orders; current limit is %d orders per %s.", w.limit, w.interval))
			return false
		}
	}
	for _, w := range wins {
		win := v.rl.add(fmt.Sprintf("orders|%s|%s|%d", fam, w.header, c.acct.UID), w.size, c.now, n)
		c.w.Header().Set(w.header, strconv.Itoa(win.used))
	}
	return true
}

// wallet is where a spot-like order takes and puts its assets.
type wallet struct {
	base, quote *bal
	baseAsset   string
	quoteAsset  string
}

// spotWallet is the account's spot wallet for sym.
func spotWallet(a *account, m map[string]*bal, sym string) wallet {
	base, quote, _ := splitSymbol(sym)
	get := func(asset string) *bal {
		b := m[asset]
		if b == nil {
			b = &bal{}
			m[asset] = b
		}
		return b
	}
	return wallet{base: get(base), quote: get(quote), baseAsset: base, quoteAsset: quote}
}

// orderReq is a parsed new spot or margin order.
type orderReq struct {
	sym, side, typ, tif, cid, resp string
	qty, quoteQty, price, stop     float64
}

var spotTypes = []string{"LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER"}

// parseSpotOrder reads and validates the parameters of POST
// /api/v3/order and /sapi/v1/margin/order, answering on failure.
func (c *call) parseSpotOrder() (*orderReq, bool) {
	p := c.p
	for _, name := range []string{"symbol", "side", "type"} {
		if p.Get(name) == "" {
			c.mandatory(name)
			return nil, false
		}
	}
	r := &orderReq{sym: p.Get("symbol"), side: p.Get("side"), typ: p.Get("type"), tif: p.Get("timeInForce"),
		cid: p.Get("newClientOrderId"), resp: p.Get("newOrderRespType")}
	if !c.checkSpotSymbol(r.sym) {
		return nil, false
	}
	if r.side != "BUY" && r.side != "SELL" {
		c.fail(http.StatusBadRequest, -1117, "Invalid side.")
		return nil, false
	}
	if !contains(spotTypes, r.typ) {
		c.fail(http.StatusBadRequest, -1116, "Invalid orderType.")
		return nil, false
	}
	var hasQty, hasQuote, hasPrice, hasStop, ok bool
	if r.qty, hasQty, ok = c.decimal("quantity"); !ok {
		return nil, false
	}
	if r.quoteQty, hasQuote, ok = c.decimal("quoteOrderQty"); !ok {
		return nil, false
	}
	if r.price, hasPrice, ok = c.decimal("price"); !ok {
		return nil, false
	}
	if r.stop, hasStop, ok = c.decimal("stopPrice"); !ok {
		return nil, false
	}
	limitPrice := r.typ == "LIMIT" || r.typ == "LIMIT_MAKER" || strings.HasSuffix(r.typ, "_LIMIT")
	needTIF := r.typ == "LIMIT" || strings.HasSuffix(r.typ, "_LIMIT")
	stopType := strings.HasPrefix(r.typ, "STOP_LOSS") || strings.HasPrefix(r.typ, "TAKE_PROFIT")
	switch {
	case needTIF && r.tif == "":
		c.mandatory("timeInForce")
		return nil, false
	case !needTIF && r.tif != "":
		c.notRequired("timeInForce")
		return nil, false
	case r.tif != "" && r.tif != "GTC" && r.tif != "IOC" && r.tif != "FOK":
		c.fail(http.StatusBadRequest, -1115, "Invalid timeInForce.")
		return nil, false
	case r.typ == "MARKET" && hasQty && hasQuote:
		c.notRequired("quoteOrderQty")
		return nil, false
	case r.typ == "MARKET" && !hasQty && !hasQuote:
		c.fail(http.StatusBadRequest, -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")
		return nil, false
	case r.typ != "MARKET" && hasQuote:
		c.notRequired("quoteOrderQty")
		return nil, false
	case r.typ != "MARKET" && !hasQty:
		c.mandatory("quantity")
		return nil, false
	case limitPrice && !hasPrice:
		c.mandatory("price")
		return nil, false
	case !limitPrice && hasPrice:
		c.notRequired("price")
		return nil, false
	case stopType && !hasStop:
		c.fail(http.StatusBadRequest, -1102, "Param 'stopPrice' or 'trailingDelta' must be sent, but both were empty/null!")
		return nil, false
	case !stopType && hasStop:
		c.notRequired("stopPrice")
		return nil, false
	case (hasQty && r.qty <= 0) || (hasQuote && r.quoteQty <= 0):
		c.fail(http.StatusBadRequest, -1013, "Invalid quantity.")
		return nil, false
	case hasPrice && r.price <= 0:
		c.fail(http.StatusBadRequest, -1013, "Invalid price.")
		return nil, false
	}
	if r.resp == "" {
		r.resp = "ACK"
		if r.typ == "MARKET" || r.typ == "LIMIT" {
			r.resp = "FULL"
		}
	} else if r.resp != "ACK" && r.resp != "RESULT" && r.resp != "FULL" {
		c.fail(http.StatusBadRequest, -1102, "Param 'newOrderRespType' must be ACK, RESULT or FULL.")
		return nil, false
	}
	return r, true
}

// checkSpotFilters applies the symbol's filters to r at market price px.
func (c *call) checkSpotFilters(r *orderReq, px float64) bool {
	f := c.st.spotRules(r.sym)
	if r.price > 0 && (r.price < f.MinPrice || r.price > f.MaxPrice || !onStep(r.price, f.Tick)) {
		c.filterFailure("PRICE_FILTER")
		return false
	}
	if r.stop > 0 && (r.stop < f.MinPrice || r.stop > f.MaxPrice || !onStep(r.stop, f.Tick)) {
		c.filterFailure("PRICE_FILTER")
		return false
	}
	if r.qty > 0 && (r.qty < f.MinQty || r.qty > f.MaxQty || !onStep(r.qty, f.Step)) {
		c.filterFailure("LOT_SIZE")
		return false
	}
	if r.typ == "MARKET" && r.qty > f.MarketMaxQty {
		c.filterFailure("MARKET_LOT_SIZE")
		return false
	}
	if r.price > 0 && px > 0 && (r.price > px*f.Up || r.price < px*f.Down) {
		c.filterFailure("PERCENT_PRICE_BY_SIDE")
		return false
	}
	notional := r.quoteQty
	if notional == 0 {
		at := r.price
		if at == 0 {
			at = px
			if r.stop > 0 {
				at = r.stop
			}
		}
		notional = at * r.qty
	}
	if notional < f.MinNotional-1e-12 || (r.typ != "MARKET" && notional > f.MaxNotional) {
		c.filterFailure("NOTIONAL")
		return false
	}
	return true
}

// wouldTrigger reports whether a stop order of type typ and side with
// stopPrice stop triggers at once at px.
func wouldTrigger(typ, side string, stop, px float64) bool {
	loss := strings.HasPrefix(typ, "STOP")
	switch {
	case loss && side == "SELL", !loss && side == "BUY":
		return px <= stop
	default:
		return px >= stop
	}
}

// lockFunds moves amt of b from free to locked for o (or answers -2010).
func (c *call) lockFunds(b *bal, amt float64) bool {
	if b.Free+1e-12 < amt {
		c.rejectOrder(insufficientBalance)
		return false
	}
	b.Free -= amt
	b.Locked += amt
	return true
}

// release gives back what o still holds locked.
func (o *order) release() {
	if o.lockBal != nil && o.lockAmt > 0 {
		o.lockBal.Locked = math.Max(0, o.lockBal.Locked-o.lockAmt)
		o.lockBal.Free += o.lockAmt
		o.lockAmt = 0
	}
}

// release gives back what the list still holds locked.
func (l *orderList) release() {
	if l.lockBal != nil && l.lockAmt > 0 {
		l.lockBal.Locked = math.Max(0, l.lockBal.Locked-l.lockAmt)
		l.lockBal.Free += l.lockAmt
		l.lockAmt = 0
	}
}

// fillSpot executes qty of o at px against w (from free balances) and
// records the trade; it returns the fill for the FULL answer.
func (c *call) fillSpot(a *account, o *order, w wallet, qty, px float64, product string) obj {
	quote := qty * px
	var commission float64
	var commAsset string
	if o.Side == "BUY" {
		w.quote.Free -= quote
		commission, commAsset = qty*commissionRate, w.baseAsset
		w.base.Free += qty - commission
	} else {
		w.base.Free -= qty
		commission, commAsset = quote*commissionRate, w.quoteAsset
		w.quote.Free += quote - commission
	}
	o.Executed += qty
	o.CumQuote += quote
	o.Updated = c.now
	t := &trade{ID: c.st.id(), Product: product, Symbol: o.Symbol, Side: o.Side, Price: px, Qty: qty,
		Commission: commission, CommissionAsset: commAsset, OrderID: o.ID, Time: c.now}
	a.Trades = append(a.Trades, t)
	return obj{"price": f8(px), "qty": f8(qty), "commission": f8(commission), "commissionAsset": commAsset, "tradeId": t.ID}
}

// clientIDInUse reports whether an open order of book already has cid.
func clientIDInUse(cid string, books ...[]*order) bool {
	for _, b := range books {
		for _, o := range b {
			if o.ClientID == cid {
				return true
			}
		}
	}
	return false
}

// placeSpot runs a validated spot-like order against wallet w: it fills,
// rests (locking funds) or expires the order, or answers the refusal. It
// returns the order and its fills, or nil when refused.
func (c *call) placeSpot(a *account, r *orderReq, w wallet, book *[]*order, product string) (*order, []obj) {
	px := c.st.price(r.sym)
	if r.typ == "MARKET" && px <= 0 {
		c.rejectOrder("Market is closed.")
		return nil, nil
	}
	if !c.checkSpotFilters(r, px) {
		return nil, nil
	}
	open, algo := 0, 0
	for _, o := range *book {
		if o.Symbol == r.sym {
			open++
			if isStopType(o.Type) {
				algo++
			}
		}
	}
	f := c.st.spotRules(r.sym)
	if open+1 > f.MaxOrders {
		c.filterFailure("MAX_NUM_ORDERS")
		return nil, nil
	}
	if isStopType(r.typ) && algo+1 > f.MaxAlgo {
		c.filterFailure("MAX_NUM_ALGO_ORDERS")
		return nil, nil
	}
	if r.cid != "" && clientIDInUse(r.cid, *book) {
		c.rejectOrder("Duplicate order sent.")
		return nil, nil
	}
	crosses := r.typ == "MARKET" || (px > 0 && (r.typ == "LIMIT" || r.typ == "LIMIT_MAKER") &&
		((r.side == "BUY" && r.price >= px) || (r.side == "SELL" && r.price <= px)))
	if r.typ == "LIMIT_MAKER" && crosses {
		c.rejectOrder("Order would immediately match and take.")
		return nil, nil
	}
	if isStopType(r.typ) && px > 0 && wouldTrigger(r.typ, r.side, r.stop, px) {
		c.rejectOrder("Order would trigger immediately.")
		return nil, nil
	}
	tif := r.tif
	if tif == "" && r.typ == "LIMIT_MAKER" {
		tif = "GTC"
	}
	if r.typ == "MARKET" {
		tif = "GTC"
	}
	o := &order{ID: c.st.id(), ListID: -1, ClientID: r.cid, Symbol: r.sym, Side: r.side, Type: r.typ,
		Price: r.price, Qty: r.qty, StopPrice: r.stop, TIF: tif, PositionSide: "BOTH",
		Isolated: product == "isolated", Time: c.now, Updated: c.now}
	if o.ClientID == "" {
		o.ClientID = clientID(o.ID)
	}
	if crosses {
		qty := r.qty
		if qty == 0 { // MARKET by quoteOrderQty
			qty = math.Floor(r.quoteQty/px/f.Step+1e-9) * f.Step
			o.Qty = qty
			if qty < f.MinQty {
				c.filterFailure("LOT_SIZE")
				return nil, nil
			}
		}
		need, from := qty*px, w.quote
		if r.side == "SELL" {
			need, from = qty, w.base
		}
		if from.Free+1e-12 < need {
			c.rejectOrder(insufficientBalance)
			return nil, nil
		}
		fill := c.fillSpot(a, o, w, qty, px, product)
		o.Status, o.product = "FILLED", product
		a.Closed = append(a.Closed, o)
		return o, []obj{fill}
	}
	if tif == "IOC" || tif == "FOK" {
		o.Status, o.product = "EXPIRED", product
		a.Closed = append(a.Closed, o)
		return o, []obj{}
	}
	b, amt := w.quote, r.qty*r.price
	if r.side == "SELL" {
		b, amt = w.base, r.qty
	} else if r.price == 0 { // a BUY STOP_LOSS / TAKE_PROFIT (market) reserves at its stop price
		amt = r.qty * r.stop
	}
	if !c.lockFunds(b, amt) {
		return nil, nil
	}
	o.lockBal, o.lockAmt = b, amt
	*book = append(*book, o)
	return o, []obj{}
}

// status is the order's current status.
func (o *order) status() string {
	if o.Status != "" {
		return o.Status
	}
	return orderStatus(o)
}

// newOrderJSON is the answer of a new spot or margin order in the
// requested response type.
func newOrderJSON(o *order, resp string, fills []obj, margin bool, now time.Time) obj {
	m := obj{"symbol": o.Symbol, "orderId": o.ID, "clientOrderId": o.ClientID, "transactTime": ms(now)}
	if margin {
		m["isIsolated"] = o.Isolated
	} else {
		m["orderListId"] = o.ListID
	}
	if resp == "ACK" {
		return m
	}
	m["price"], m["origQty"], m["executedQty"] = f8(o.Price), f8(o.Qty), f8(o.Executed)
	m["cummulativeQuoteQty"], m["status"], m["timeInForce"] = f8(o.CumQuote), o.status(), o.TIF
	m["type"], m["side"], m["selfTradePreventionMode"] = o.Type, o.Side, "EXPIRE_MAKER"
	if !margin {
		m["origQuoteOrderQty"] = f8(0)
		m["workingTime"] = ms(now)
		if isStopType(o.Type) && o.Status == "" {
			m["workingTime"] = -1
		}
	}
	if isStopType(o.Type) {
		m["stopPrice"] = f8(o.StopPrice)
	}
	if resp == "FULL" {
		m["fills"] = fills
	}
	return m
}

// handleSpotOrder is POST /api/v3/order.
func handleSpotOrder(c *call) {
	r, ok := c.parseSpotOrder()
	if !ok {
		return
	}
	if !c.v.chargeOrders(c, "spot", c.v.spotOrderWindows(), 1) {
		return
	}
	a := c.acct
	o, fills := c.placeSpot(a, r, spotWallet(a, a.Spot, r.sym), &a.SpotOrders, "spot")
	if o == nil {
		return
	}
	c.ok(newOrderJSON(o, r.resp, fills, false, c.now))
}

// findOrder finds an order of the account on sym by orderId or
// origClientOrderId among open (lists included) and, when closed names a
// product, that product's closed orders. It answers -1102 when neither id
// is sent; a nil order means not found.
func (c *call) findOrder(sym string, open []*order, closed string) (*order, bool) {
	idRaw, cid := c.p.Get("orderId"), c.p.Get("origClientOrderId")
	if idRaw == "" && cid == "" {
		c.fail(http.StatusBadRequest, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
		return nil, false
	}
	var id int64
	if idRaw != "" {
		n, err := strconv.ParseInt(idRaw, 10, 64)
		if err != nil {
			c.badParam("orderId")
			return nil, false
		}
		id = n
	}
	match := func(o *order) bool {
		return o.Symbol == sym && (idRaw == "" || o.ID == id) && (cid == "" || o.ClientID == cid)
	}
	for _, o := range open {
		if match(o) {
			return o, true
		}
	}
	if closed != "" {
		for _, o := range c.acct.Closed {
			if o.product == closed && match(o) {
				return o, true
			}
		}
	}
	return nil, true
}

// handleSpotGetOrder is GET /api/v3/order.
func handleSpotGetOrder(c *call) {
	sym, ok := c.requiredSymbol(c.st.spotSymbols())
	if !ok {
		return
	}
	o, ok := c.findOrder(sym, allSpotOpen(c.acct), "spot")
	if !ok {
		return
	}
	if o == nil {
		c.fail(http.StatusBadRequest, -2013, "Order does not exist.")
		return
	}
	m := spotOrderJSON(o, false)
	m["status"] = o.status()
	m["cummulativeQuoteQty"] = f8(o.CumQuote)
	if !o.Updated.IsZero() {
		m["updateTime"] = ms(o.Updated)
	}
	c.ok(m)
}

// removeOrder drops o from book.
func removeOrder(book *[]*order, o *order) bool {
	for i, x := range *book {
		if x == o {
			*book = append((*book)[:i:i], (*book)[i+1:]...)
			return true
		}
	}
	return false
}

// closeOrder marks o of product cancelled at now, releases its funds and
// keeps it for later queries.
func (c *call) closeOrder(o *order, product string) {
	o.release()
	o.Status, o.product = "CANCELED", product
	o.Updated = c.now
	c.acct.Closed = append(c.acct.Closed, o)
}

// handleSpotCancel is DELETE /api/v3/order: an order-list leg cancels the
// whole list.
func handleSpotCancel(c *call) {
	sym, ok := c.requiredSymbol(c.st.spotSymbols())
	if !ok {
		return
	}
	a := c.acct
	o, ok := c.findOrder(sym, allSpotOpen(a), "")
	if !ok {
		return
	}
	if o == nil {
		c.fail(http.StatusBadRequest, -2011, "Unknown order sent.")
		return
	}
	if o.ListID >= 0 {
		for i, l := range a.SpotLists {
			if l.ID == o.ListID {
				l.release()
				for _, x := range l.Orders {
					c.closeOrder(x, "spot")
				}
				a.SpotLists = append(a.SpotLists[:i:i], a.SpotLists[i+1:]...)
				break
			}
		}
	} else {
		removeOrder(&a.SpotOrders, o)
		c.closeOrder(o, "spot")
	}
	out := spotCancelJSON(o, c.now, false)
	if id := c.p.Get("newClientOrderId"); id != "" {
		out["clientOrderId"] = id
	}
	c.ok(out)
}

// marginWallet returns the cross-margin or isolated wallet of the order's
// symbol, answering -3003 / -11001 when that margin account does not exist.
func (c *call) marginWallet(sym string, isolated bool) (wallet, bool) {
	a := c.acct
	if isolated {
		p := a.Isolated[sym]
		if p == nil {
			c.fail(http.StatusBadRequest, -11001, "Isolated margin account does not exist.")
			return wallet{}, false
		}
		return wallet{base: &p.BaseBal, quote: &p.QuoteBal, baseAsset: p.Base, quoteAsset: p.Quote}, true
	}
	if len(a.Margin) == 0 {
		c.fail(http.StatusBadRequest, -3003, "Margin account does not exist.")
		return wallet{}, false
	}
	return spotWallet(a, a.Margin, sym), true
}

// handleMarginOrder is POST /sapi/v1/margin/order (cross, or isolated
// with isIsolated=TRUE). sideEffectType MARGIN_BUY / AUTO_BORROW_REPAY
// borrows the missing asset first, up to the account's 3x leverage.
func handleMarginOrder(c *call) {
	isolated := false
	if s := c.p.Get("isIsolated"); s != "" {
		v, ok := parseBool(s)
		if !ok {
			c.fail(http.StatusBadRequest, -1102, "Param 'isIsolated' must be TRUE or FALSE.")
			return
		}
		isolated = v
	}
	effect := c.p.Get("sideEffectType")
	if effect != "" && !contains([]string{"NO_SIDE_EFFECT", "MARGIN_BUY", "AUTO_REPAY", "AUTO_BORROW_REPAY"}, effect) {
		c.fail(http.StatusBadRequest, -1102, "Param 'sideEffectType' is not valid.")
		return
	}
	r, ok := c.parseSpotOrder()
	if !ok {
		return
	}
	w, ok := c.marginWallet(r.sym, isolated)
	if !ok {
		return
	}
	a := c.acct
	book, product := &a.MarginOrders, "margin"
	if isolated {
		book, product = &a.IsolatedOrders, "isolated"
	}
	var borrowed float64
	var borrowAsset string
	if effect == "MARGIN_BUY" || effect == "AUTO_BORROW_REPAY" {
		if borrowed, borrowAsset, ok = c.autoBorrow(r, w, isolated); !ok {
			return
		}
	}
	o, fills := c.placeSpot(a, r, w, book, product)
	if o == nil {
		if borrowed > 0 { // refused: undo the loan
			b := w.quote
			if borrowAsset == w.baseAsset {
				b = w.base
			}
			b.Free -= borrowed
			b.Borrowed -= borrowed
		}
		return
	}
	out := newOrderJSON(o, r.resp, fills, true, c.now)
	if borrowed > 0 {
		out["marginBuyBorrowAmount"] = f8(borrowed)
		out["marginBuyBorrowAsset"] = borrowAsset
	}
	c.ok(out)
}

// autoBorrow borrows what r lacks in w, as long as the wallet's total
// debt stays within twice its net value (3x leverage); beyond that the
// order is refused with -2010 like an unfunded one.
func (c *call) autoBorrow(r *orderReq, w wallet, isolated bool) (float64, string, bool) {
	px := c.st.price(r.sym)
	at := r.price
	if at == 0 {
		at = px
	}
	b, asset, need := w.quote, w.quoteAsset, r.qty*at
	if r.qty == 0 {
		need = r.quoteQty
	}
	if r.side == "SELL" {
		b, asset, need = w.base, w.baseAsset, r.qty
	}
	short := need - b.Free
	if short <= 0 {
		return 0, asset, true
	}
	var equity, debt float64
	if isolated {
		for _, x := range []struct {
			asset string
			b     *bal
		}{{w.baseAsset, w.base}, {w.quoteAsset, w.quote}} {
			equity += c.st.valueIn(x.asset, x.b.Free+x.b.Locked-x.b.Borrowed-x.b.Interest, "USDT")
			debt += c.st.valueIn(x.asset, x.b.Borrowed+x.b.Interest, "USDT")
		}
	} else {
		equity = c.st.walletTotal(c.acct.Margin, "USDT", true)
		for asset, x := range c.acct.Margin {
			debt += c.st.valueIn(asset, x.Borrowed+x.Interest, "USDT")
		}
	}
	if debt+c.st.valueIn(asset, short, "USDT") > 2*equity {
		c.rejectOrder(insufficientBalance)
		return 0, "", false
	}
	b.Free += short
	b.Borrowed += short
	return short, asset, true
}

// handleMarginCancel is DELETE /sapi/v1/margin/order; its orderId is a
// string, as the venue sends it.
func handleMarginCancel(c *call) {
	book, isolated, sym, ok := c.marginBook(true)
	if !ok {
		return
	}
	o, ok := c.findOrder(sym, *book, "")
	if !ok {
		return
	}
	if o == nil {
		c.fail(http.StatusBadRequest, -2011, "Unknown order sent.")
		return
	}
	removeOrder(book, o)
	product := "margin"
	if isolated {
		product = "isolated"
	}
	c.closeOrder(o, product)
	out := spotCancelJSON(o, c.now, true)
	out["orderId"] = strconv.FormatInt(o.ID, 10)
	c.ok(out)
}
