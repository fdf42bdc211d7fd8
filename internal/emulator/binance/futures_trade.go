package binance

import (
	"fmt"
	"math"
	"net/http"
	"strings"
)

// Futures trading model: a MARKET order, or a LIMIT order whose price
// crosses the mark price, fills at once at the mark price and updates the
// position and the wallet (realised PnL). A resting order reserves its
// initial margin (notional / leverage) out of the available balance, and
// an order the available balance cannot margin is refused (-2019).
// USDⓈ-M conditional orders live in the Algo Service (POST
// /fapi/v1/algoOrder); /fapi/v1/order refuses them with -4120, as the
// venue has since December 2025. COIN-M still takes them on /dapi/v1/order.

// defaultLeverage is the leverage of a symbol with no position.
const defaultLeverage = 10

// leverageOf is the account's leverage on sym.
func leverageOf(positions []*position, sym string) int {
	for _, p := range positions {
		if p.Symbol == sym && p.Leverage > 0 {
			return p.Leverage
		}
	}
	return defaultLeverage
}

// orderMargin is the initial margin an open order of qty at price
// reserves, in its margin asset.
func orderMargin(sym string, qty, price float64, lev int, coinm bool) float64 {
	if price <= 0 {
		return 0
	}
	if coinm {
		return qty * contractSize(sym) / price / float64(lev)
	}
	return qty * price / float64(lev)
}

// openOrderMargin sums the initial margin the open, non-reduce-only
// orders margined in asset reserve.
func openOrderMargin(a *account, asset string, coinm bool) float64 {
	book, positions := a.USDMOrders, a.USDMPositions
	if coinm {
		book, positions = a.COINMOrders, a.COINMPositions
	}
	sum := 0.0
	for _, o := range book {
		if o.ReduceOnly || marginAssetOf(o.Symbol, coinm) != asset {
			continue
		}
		price := o.Price
		if price == 0 {
			price = o.StopPrice
		}
		sum += orderMargin(o.Symbol, o.Qty-o.Executed, price, leverageOf(positions, o.Symbol), coinm)
	}
	return sum
}

// futuresAvailable is what the account can still commit in asset.
func futuresAvailable(a *account, asset string, coinm bool) float64 {
	wb, positions := a.USDM[asset], a.USDMPositions
	if coinm {
		wb, positions = a.COINM[asset], a.COINMPositions
	}
	un, im, _ := positionsMargin(positions, asset, coinm)
	return wb + un - im - openOrderMargin(a, asset, coinm)
}

var conditionalTypes = []string{"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"}

// futuresReq is a parsed new futures order.
type futuresReq struct {
	sym, side, typ, tif, ps, cid string
	qty, price, stop             float64
	reduce, reduceSent           bool
}

// parseFuturesOrder reads the common parameters of /fapi|dapi/v1/order
// and /fapi/v1/algoOrder (algo: triggerPrice instead of stopPrice).
func (c *call) parseFuturesOrder(coinm, algo bool) (*futuresReq, bool) {
	p := c.p
	for _, name := range []string{"symbol", "side", "type"} {
		if p.Get(name) == "" {
			c.mandatory(name)
			return nil, false
		}
	}
	r := &futuresReq{sym: p.Get("symbol"), side: upper(p.Get("side")), typ: upper(p.Get("type")),
		tif: p.Get("timeInForce"), ps: upper(p.Get("positionSide")), cid: p.Get("newClientOrderId")}
	if algo {
		r.cid = p.Get("clientAlgoId")
	}
	if !c.st.futuresSymbols(coinm)[r.sym] {
		c.invalidSymbol()
		return nil, false
	}
	if r.side != "BUY" && r.side != "SELL" {
		c.fail(http.StatusBadRequest, -1117, "Invalid side.")
		return nil, false
	}
	if !contains(futuresOrderTypes, r.typ) || (algo && !contains(conditionalTypes, r.typ)) {
		c.fail(http.StatusBadRequest, -1116, "Invalid orderType.")
		return nil, false
	}
	if !coinm && !algo && contains(conditionalTypes, r.typ) {
		c.fail(http.StatusBadRequest, -4120, "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.")
		return nil, false
	}
	var hasQty, hasPrice, hasStop, ok bool
	if r.qty, hasQty, ok = c.decimal("quantity"); !ok {
		return nil, false
	}
	if r.price, hasPrice, ok = c.decimal("price"); !ok {
		return nil, false
	}
	stopName := "stopPrice"
	if algo {
		stopName = "triggerPrice"
	}
	if r.stop, hasStop, ok = c.decimal(stopName); !ok {
		return nil, false
	}
	if raw := p.Get("reduceOnly"); raw != "" {
		v, ok := parseBool(raw)
		if !ok {
			c.fail(http.StatusBadRequest, -1102, "Param 'reduceOnly' must be true or false.")
			return nil, false
		}
		r.reduce, r.reduceSent = v, true
	}
	needPrice := r.typ == "LIMIT" || r.typ == "STOP" || r.typ == "TAKE_PROFIT"
	switch {
	case !hasQty:
		c.mandatory("quantity")
		return nil, false
	case r.qty <= 0:
		c.fail(http.StatusBadRequest, -4003, "Quantity less than or equal to zero.")
		return nil, false
	case needPrice && !hasPrice:
		c.mandatory("price")
		return nil, false
	case r.typ != "LIMIT" && r.typ != "MARKET" && r.typ != "TRAILING_STOP_MARKET" && !hasStop:
		c.mandatory(stopName)
		return nil, false
	case r.typ == "TRAILING_STOP_MARKET" && p.Get("callbackRate") == "":
		c.mandatory("callbackRate")
		return nil, false
	case needPrice && r.tif == "" && !algo:
		c.mandatory("timeInForce")
		return nil, false
	case r.tif != "" && !contains([]string{"GTC", "IOC", "FOK", "GTX", "GTD"}, r.tif):
		c.fail(http.StatusBadRequest, -1115, "Invalid timeInForce.")
		return nil, false
	case r.tif == "GTD" && p.Get("goodTillDate") == "":
		c.mandatory("goodTillDate")
		return nil, false
	}
	if r.tif == "" {
		r.tif = "GTC"
	}
	if coinm && r.qty != math.Trunc(r.qty) {
		c.fail(http.StatusBadRequest, -1111, "Precision is over the maximum defined for this asset.")
		return nil, false
	}
	dual := c.acct.DualUSDM
	if coinm {
		dual = c.acct.DualCOINM
	}
	if dual {
		if r.ps != "LONG" && r.ps != "SHORT" {
			c.fail(http.StatusBadRequest, -4061, "Order's position side does not match user's setting.")
			return nil, false
		}
		if r.reduceSent {
			c.fail(http.StatusBadRequest, -1106, "Parameter 'reduceonly' sent when not required.")
			return nil, false
		}
	} else {
		if r.ps == "" {
			r.ps = "BOTH"
		}
		if r.ps != "BOTH" {
			c.fail(http.StatusBadRequest, -4061, "Order's position side does not match user's setting.")
			return nil, false
		}
	}
	return r, true
}

// checkFuturesFilters applies the contract's filters to r at mark px.
func (c *call) checkFuturesFilters(r *futuresReq, px float64, coinm bool) bool {
	f := c.st.futuresRules(r.sym, coinm)
	fail := func(code int, msg string) bool {
		c.fail(http.StatusBadRequest, code, msg)
		return false
	}
	for _, pr := range []float64{r.price, r.stop} {
		switch {
		case pr == 0:
		case pr < f.MinPrice:
			return fail(-4013, "Price less than min price.")
		case pr > f.MaxPrice:
			return fail(-4002, "Price greater than max price.")
		case !onStep(pr, f.Tick):
			return fail(-4014, "Price not increased by tick size.")
		}
	}
	max := f.MaxQty
	if strings.HasSuffix(r.typ, "MARKET") {
		max = f.MarketMaxQty
	}
	switch {
	case !onStep(r.qty, f.Step):
		return fail(-1111, "Precision is over the maximum defined for this asset.")
	case r.qty < f.MinQty:
		return fail(-4004, "Quantity less than min quantity.")
	case r.qty > max:
		return fail(-4005, "Quantity greater than max quantity.")
	}
	if r.typ == "LIMIT" && px > 0 {
		if r.side == "BUY" && r.price > px*f.Up {
			return fail(-4016, "Price is higher than mark price multiplier cap.")
		}
		if r.side == "SELL" && r.price < px*f.Down {
			return fail(-4024, "Price is lower than mark price multiplier floor.")
		}
	}
	if !coinm && !r.reduce {
		at := r.price
		if at == 0 {
			at = px
		}
		if r.qty*at < f.MinNotional {
			return fail(-4164, fmt.Sprintf("Order's notional must be no smaller than %s (unless you choose reduce only).", fnum(f.MinNotional)))
		}
	}
	return true
}

// closesPosition reports whether r reduces the position it trades
// against (hedge mode: SELL on LONG, BUY on SHORT; one-way: against the
// sign of the position).
func closesPosition(r *futuresReq, positions []*position) (bool, *position) {
	var pos *position
	for _, x := range positions {
		if x.Symbol == r.sym && x.Side == r.ps {
			pos = x
		}
	}
	switch r.ps {
	case "LONG":
		return r.side == "SELL", pos
	case "SHORT":
		return r.side == "BUY", pos
	}
	return pos != nil && pos.Amount != 0 && (pos.Amount > 0) == (r.side == "SELL"), pos
}

// fillFutures executes r at once at the mark price, with Binance's
// one-way / hedge-mode rules; it answers and returns false on refusal.
func (c *call) fillFutures(r *futuresReq, coinm bool) (qty, mark float64, ok bool) {
	a := c.acct
	positions := &a.USDMPositions
	if coinm {
		positions = &a.COINMPositions
	}
	closing, pos := closesPosition(r, *positions)
	qty = r.qty
	cur := 0.0
	if pos != nil {
		cur = pos.Amount
	}
	if r.ps != "BOTH" && closing && (pos == nil || qty > math.Abs(cur)+1e-12) {
		c.fail(http.StatusBadRequest, -2022, "ReduceOnly Order is rejected.")
		return 0, 0, false
	}
	if r.reduce {
		if !closing {
			c.fail(http.StatusBadRequest, -2022, "ReduceOnly Order is rejected.")
			return 0, 0, false
		}
		qty = math.Min(qty, math.Abs(cur))
	}
	mark = c.st.price(r.sym)
	if pos != nil {
		mark = pos.MarkPrice
	}
	if mark <= 0 {
		c.fail(http.StatusBadRequest, -4131, "The counterparty's best price does not meet the PERCENT_PRICE filter limit.")
		return 0, 0, false
	}
	asset := marginAssetOf(r.sym, coinm)
	// Only what opens or adds to a position needs margin.
	opening := qty
	if closing {
		opening = math.Max(0, qty-math.Abs(cur))
	}
	if opening > 0 && orderMargin(r.sym, opening, mark, leverageOf(*positions, r.sym), coinm) > futuresAvailable(a, asset, coinm)+1e-9 {
		c.fail(http.StatusBadRequest, -2019, "Margin is insufficient.")
		return 0, 0, false
	}
	signed := qty
	if r.side == "SELL" {
		signed = -qty
	}
	realized := 0.0
	if pos == nil {
		pos = &position{Symbol: r.sym, Side: r.ps, EntryPrice: mark, MarkPrice: mark, Leverage: leverageOf(*positions, r.sym)}
		*positions = append(*positions, pos)
	}
	newAmt := round(pos.Amount+signed, 10)
	if closing {
		closed := math.Min(math.Abs(signed), math.Abs(pos.Amount))
		part := &position{Symbol: r.sym, Amount: math.Copysign(closed, pos.Amount), EntryPrice: pos.EntryPrice, MarkPrice: mark}
		realized = pnl(part, coinm)
		if math.Abs(signed) > math.Abs(pos.Amount) {
			pos.EntryPrice = mark // flipped
		}
	} else if newAmt != 0 {
		pos.EntryPrice = (pos.EntryPrice*math.Abs(pos.Amount) + mark*math.Abs(signed)) / math.Abs(newAmt)
	}
	pos.Amount = newAmt
	pos.Updated = c.now
	if newAmt == 0 {
		var keep []*position
		for _, x := range *positions {
			if x != pos {
				keep = append(keep, x)
			}
		}
		*positions = keep
	}
	if coinm {
		a.COINM[asset] += realized
	} else {
		a.USDM[asset] += realized
	}
	return qty, mark, true
}

// handleFuturesOrder is POST /fapi|dapi/v1/order.
func handleFuturesOrder(coinm bool) func(*call) {
	return func(c *call) {
		r, ok := c.parseFuturesOrder(coinm, false)
		if !ok {
			return
		}
		a := c.acct
		book, positions := &a.USDMOrders, a.USDMPositions
		product := "usdm"
		if coinm {
			book, positions, product = &a.COINMOrders, a.COINMPositions, "coinm"
		}
		mark := c.st.price(r.sym)
		for _, p := range positions {
			if p.Symbol == r.sym {
				mark = p.MarkPrice
			}
		}
		if !c.checkFuturesFilters(r, mark, coinm) {
			return
		}
		if r.cid != "" && clientIDInUse(r.cid, *book) {
			c.fail(http.StatusBadRequest, -4116, "ClientOrderId is duplicated.")
			return
		}
		open := 0
		for _, o := range *book {
			if o.Symbol == r.sym {
				open++
			}
		}
		if open+1 > c.st.futuresRules(r.sym, coinm).MaxOrders {
			c.fail(http.StatusBadRequest, -2025, "Reach max open order limit.")
			return
		}
		crosses := r.typ == "MARKET" || (r.typ == "LIMIT" && mark > 0 &&
			((r.side == "BUY" && r.price >= mark) || (r.side == "SELL" && r.price <= mark)))
		if r.typ == "LIMIT" && r.tif == "GTX" && crosses {
			c.fail(http.StatusBadRequest, -5022, "Due to the order could not be executed as maker, the Post Only order will be rejected. The order will not be recorded in the order history")
			return
		}
		if isStopType(r.typ) && r.typ != "TRAILING_STOP_MARKET" && mark > 0 && futuresWouldTrigger(r.typ, r.side, r.stop, mark) {
			c.fail(http.StatusBadRequest, -2021, "Order would immediately trigger.")
			return
		}
		if !c.v.chargeOrders(c, product, c.v.futuresOrderWindows(coinm), 1) {
			return
		}
		o := &order{ID: c.st.id(), ListID: -1, ClientID: r.cid, Symbol: r.sym, Side: r.side, Type: r.typ,
			Price: r.price, Qty: r.qty, StopPrice: r.stop, TIF: r.tif, PositionSide: r.ps, ReduceOnly: r.reduce,
			Time: c.now, Updated: c.now, product: product}
		if r.typ == "MARKET" {
			o.Price = 0
		}
		if o.ClientID == "" {
			o.ClientID = clientID(o.ID)
		}
		switch {
		case crosses:
			qty, px, ok := c.fillFutures(r, coinm)
			if !ok {
				return
			}
			o.Qty, o.Executed, o.Status = qty, qty, "FILLED"
			o.CumQuote = qty * px
			if coinm {
				o.CumQuote = qty * contractSize(r.sym) / px
			}
			a.Trades = append(a.Trades, &trade{ID: c.st.id(), Product: product, Symbol: r.sym, Side: r.side, Price: px,
				Qty: qty, CommissionAsset: marginAssetOf(r.sym, coinm), OrderID: o.ID, Time: c.now})
			a.Closed = append(a.Closed, o)
		case r.tif == "IOC" || r.tif == "FOK":
			o.Status = "EXPIRED"
			a.Closed = append(a.Closed, o)
		default:
			if !r.reduce {
				price := r.price
				if price == 0 {
					price = r.stop
				}
				if price == 0 {
					price = mark
				}
				if orderMargin(r.sym, r.qty, price, leverageOf(positions, r.sym), coinm) > futuresAvailable(a, marginAssetOf(r.sym, coinm), coinm)+1e-9 {
					c.fail(http.StatusBadRequest, -2019, "Margin is insufficient.")
					return
				}
			}
			*book = append(*book, o)
		}
		c.ok(futuresNewOrderJSON(o, coinm, upper(c.p.Get("newOrderRespType")) == "RESULT"))
	}
}

// futuresWouldTrigger reports whether a conditional order triggers at
// once at mark: STOP(_MARKET) BUY above, SELL below; TAKE_PROFIT the
// reverse.
func futuresWouldTrigger(typ, side string, stop, mark float64) bool {
	if strings.HasPrefix(typ, "STOP") {
		if side == "BUY" {
			return mark >= stop
		}
		return mark <= stop
	}
	if side == "BUY" {
		return mark <= stop
	}
	return mark >= stop
}

// futuresNewOrderJSON is the answer of a new futures order: ACK-like
// (status NEW, nothing executed) by default, the outcome with RESULT.
func futuresNewOrderJSON(o *order, coinm, result bool) obj {
	m := futuresOrderJSON(o, coinm, nil)
	m["origQty"] = fnum(o.Qty)
	m["cumQty"] = "0"
	if result || o.Status == "" {
		m["status"] = o.status()
		m["executedQty"] = fnum(o.Executed)
		m["cumQty"] = fnum(o.Executed)
		if o.Executed > 0 {
			avg := o.CumQuote / o.Executed
			if coinm {
				avg = o.Executed * contractSize(o.Symbol) / o.CumQuote
			}
			m["avgPrice"] = fnum(avg)
		}
		if coinm {
			m["cumBase"] = fnum(o.CumQuote)
		} else {
			m["cumQuote"] = fnum(o.CumQuote)
		}
	} else {
		m["status"], m["executedQty"], m["avgPrice"] = "NEW", "0", "0.00"
	}
	return m
}

// handleAlgoOrder is POST /fapi/v1/algoOrder: a USDⓈ-M conditional order
// rests in the Algo Service (GET /fapi/v1/openAlgoOrders lists it, DELETE
// /fapi/v1/algoOpenOrders cancels it) until its trigger price is reached.
func handleAlgoOrder(c *call) {
	if t := c.p.Get("algoType"); t == "" {
		c.mandatory("algoType")
		return
	} else if t != "CONDITIONAL" {
		c.fail(http.StatusBadRequest, -1102, "Param 'algoType' must be CONDITIONAL.")
		return
	}
	closeAll := false
	if raw := c.p.Get("closePosition"); raw != "" {
		v, ok := parseBool(raw)
		if !ok {
			c.fail(http.StatusBadRequest, -1102, "Param 'closePosition' must be true or false.")
			return
		}
		closeAll = v
	}
	if closeAll {
		if c.p.Get("quantity") != "" {
			c.fail(http.StatusBadRequest, -4137, "Quantity must be zero with closePosition equals true")
			return
		}
		c.p.Set("quantity", "0.001") // placeholder through the shared checks; closes the whole position
	}
	r, ok := c.parseFuturesOrder(false, true)
	if !ok {
		return
	}
	a := c.acct
	mark := c.st.price(r.sym)
	for _, p := range a.USDMPositions {
		if p.Symbol == r.sym {
			mark = p.MarkPrice
		}
	}
	if closeAll {
		r.qty, r.reduce = 0, true
	} else if !c.checkFuturesFilters(r, mark, false) {
		return
	}
	if r.typ != "TRAILING_STOP_MARKET" && mark > 0 && futuresWouldTrigger(r.typ, r.side, r.stop, mark) {
		c.fail(http.StatusBadRequest, -2021, "Order would immediately trigger.")
		return
	}
	open := 0
	for _, o := range a.AlgoOrders {
		if o.Symbol == r.sym {
			open++
		}
	}
	if open+1 > c.st.futuresRules(r.sym, false).MaxAlgo {
		c.fail(http.StatusBadRequest, -4045, "Reach max stop order limit.")
		return
	}
	if r.cid != "" {
		for _, o := range a.AlgoOrders {
			if o.ClientID == r.cid {
				c.fail(http.StatusBadRequest, -4116, "ClientOrderId is duplicated.")
				return
			}
		}
	}
	if !c.v.chargeOrders(c, "usdm", c.v.futuresOrderWindows(false), 1) {
		return
	}
	o := &order{ID: c.st.id(), ListID: -1, ClientID: r.cid, Symbol: r.sym, Side: r.side, Type: r.typ,
		Price: r.price, Qty: r.qty, StopPrice: r.stop, TIF: r.tif, PositionSide: r.ps, ReduceOnly: r.reduce,
		Time: c.now, Updated: c.now}
	if o.ClientID == "" {
		o.ClientID = clientID(o.ID)
	}
	a.AlgoOrders = append(a.AlgoOrders, o)
	out := algoOrderJSON(o)
	out["closePosition"] = closeAll
	c.ok(out)
}

// futuresCancelJSON is a cancelled futures order, as DELETE /fapi|dapi/v1/order answers.
func futuresCancelJSON(o *order, coinm bool) obj {
	m := futuresOrderJSON(o, coinm, nil)
	m["status"] = "CANCELED"
	m["origQty"] = fnum(o.Qty)
	m["cumQty"] = fnum(o.Executed)
	m["updateTime"] = ms(o.Updated)
	return m
}

// handleFuturesCancel is DELETE /fapi|dapi/v1/order.
func handleFuturesCancel(coinm bool) func(*call) {
	return func(c *call) {
		sym, ok := c.requiredSymbol(c.st.futuresSymbols(coinm))
		if !ok {
			return
		}
		a := c.acct
		book, product := &a.USDMOrders, "usdm"
		if coinm {
			book, product = &a.COINMOrders, "coinm"
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
		c.closeOrder(o, product)
		c.ok(futuresCancelJSON(o, coinm))
	}
}

// handleFuturesGetOrder is GET /fapi|dapi/v1/order.
func handleFuturesGetOrder(coinm bool) func(*call) {
	return func(c *call) {
		sym, ok := c.requiredSymbol(c.st.futuresSymbols(coinm))
		if !ok {
			return
		}
		a := c.acct
		book, product := a.USDMOrders, "usdm"
		if coinm {
			book, product = a.COINMOrders, "coinm"
		}
		o, ok := c.findOrder(sym, book, product)
		if !ok {
			return
		}
		if o == nil {
			c.fail(http.StatusBadRequest, -2013, "Order does not exist.")
			return
		}
		m := futuresNewOrderJSON(o, coinm, true)
		m["time"] = ms(o.Time)
		c.ok(m)
	}
}
