package binance

import (
	"math"
	"net/http"
	"strings"
)

// ocoLeg is one leg of a new OCO.
type ocoLeg struct {
	typ, tif, cid string
	price, stop   float64
}

// handleOCO is POST /api/v3/orderList/oco (current) and, with legacy,
// the deprecated POST /api/v3/order/oco that go-binance v2.8.7 calls.
// The two legs share one lock: the base quantity for a SELL, the quote
// at the dearer leg's price for a BUY.
func handleOCO(legacy bool) func(*call) {
	return func(c *call) {
		p := c.p
		for _, name := range []string{"symbol", "side", "quantity"} {
			if p.Get(name) == "" {
				c.mandatory(name)
				return
			}
		}
		sym, side := p.Get("symbol"), p.Get("side")
		if !c.checkSpotSymbol(sym) {
			return
		}
		if side != "BUY" && side != "SELL" {
			c.fail(http.StatusBadRequest, -1117, "Invalid side.")
			return
		}
		qty, _, ok := c.decimal("quantity")
		if !ok {
			return
		}
		var above, below ocoLeg
		if legacy {
			above, below, ok = c.legacyOCOLegs(side)
		} else {
			above, below, ok = c.ocoLegs()
		}
		if !ok {
			return
		}
		px := c.st.price(sym)
		// Which leg is the stop and which the limit, per side.
		for _, leg := range []struct {
			l     ocoLeg
			above bool
		}{{above, true}, {below, false}} {
			r := &orderReq{sym: sym, side: side, typ: leg.l.typ, qty: qty, price: leg.l.price, stop: leg.l.stop}
			if !c.checkSpotFilters(r, px) {
				return
			}
		}
		if !c.checkOCOPrices(side, above, below, px) {
			return
		}
		if !c.v.chargeOrders(c, "spot", c.v.spotOrderWindows(), 2) {
			return
		}
		a := c.acct
		w := spotWallet(a, a.Spot, sym)
		b, amt := w.base, qty
		if side == "BUY" {
			hi := 0.0
			for _, l := range []ocoLeg{above, below} {
				hi = math.Max(hi, math.Max(l.price, l.stop))
			}
			b, amt = w.quote, qty*hi
		}
		if !c.lockFunds(b, amt) {
			return
		}
		l := &orderList{ID: c.st.id(), ClientID: p.Get("listClientOrderId"), Symbol: sym, Time: c.now, lockBal: b, lockAmt: amt}
		if l.ClientID == "" {
			l.ClientID = "list" + clientID(l.ID)
		}
		orders, reports := []obj{}, []obj{}
		legs := []ocoLeg{below, above} // the stop-loss leg first, as the venue lists them
		if strings.HasPrefix(above.typ, "STOP_LOSS") {
			legs = []ocoLeg{above, below}
		}
		for _, leg := range legs {
			tif := leg.tif
			if !strings.HasSuffix(leg.typ, "_LIMIT") {
				tif = "GTC"
			}
			o := &order{ID: c.st.id(), ListID: l.ID, ClientID: leg.cid, Symbol: sym, Side: side, Type: leg.typ,
				Price: leg.price, Qty: qty, StopPrice: leg.stop, TIF: tif, PositionSide: "BOTH", Time: c.now, Updated: c.now}
			if o.ClientID == "" {
				o.ClientID = clientID(o.ID)
			}
			l.Orders = append(l.Orders, o)
			orders = append(orders, obj{"symbol": sym, "orderId": o.ID, "clientOrderId": o.ClientID})
			rep := newOrderJSON(o, "RESULT", nil, false, c.now)
			rep["orderListId"] = l.ID
			reports = append(reports, rep)
		}
		a.SpotLists = append(a.SpotLists, l)
		c.ok(obj{"orderListId": l.ID, "contingencyType": "OCO", "listStatusType": "EXEC_STARTED",
			"listOrderStatus": "EXECUTING", "listClientOrderId": l.ClientID, "transactionTime": ms(c.now),
			"symbol": sym, "orders": orders, "orderReports": reports})
	}
}

// legacyOCOLegs reads the deprecated endpoint's price, stopPrice and
// stopLimitPrice: the limit leg is a LIMIT_MAKER at price, the other a
// STOP_LOSS(_LIMIT); for a SELL the limit is above, for a BUY below.
func (c *call) legacyOCOLegs(side string) (above, below ocoLeg, ok bool) {
	p := c.p
	for _, name := range []string{"price", "stopPrice"} {
		if p.Get(name) == "" {
			c.mandatory(name)
			return above, below, false
		}
	}
	price, _, ok1 := c.decimal("price")
	stop, _, ok2 := c.decimal("stopPrice")
	stopLimit, hasStopLimit, ok3 := c.decimal("stopLimitPrice")
	if !ok1 || !ok2 || !ok3 {
		return above, below, false
	}
	limit := ocoLeg{typ: "LIMIT_MAKER", price: price, cid: p.Get("limitClientOrderId")}
	stopLeg := ocoLeg{typ: "STOP_LOSS", stop: stop, cid: p.Get("stopClientOrderId")}
	if hasStopLimit {
		tif := p.Get("stopLimitTimeInForce")
		if tif == "" {
			c.mandatory("stopLimitTimeInForce")
			return above, below, false
		}
		if tif != "GTC" && tif != "IOC" && tif != "FOK" {
			c.fail(http.StatusBadRequest, -1115, "Invalid timeInForce.")
			return above, below, false
		}
		stopLeg.typ, stopLeg.price, stopLeg.tif = "STOP_LOSS_LIMIT", stopLimit, tif
	}
	if side == "SELL" {
		return limit, stopLeg, true
	}
	return stopLeg, limit, true
}

var ocoTypes = []string{"STOP_LOSS_LIMIT", "STOP_LOSS", "LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"}

// ocoLegs reads the current endpoint's above* and below* parameters.
func (c *call) ocoLegs() (above, below ocoLeg, ok bool) {
	read := func(prefix string) (ocoLeg, bool) {
		var l ocoLeg
		l.typ = c.p.Get(prefix + "Type")
		if l.typ == "" {
			c.mandatory(prefix + "Type")
			return l, false
		}
		if !contains(ocoTypes, l.typ) {
			c.fail(http.StatusBadRequest, -1158, "Order type not supported in OCO.")
			return l, false
		}
		var hasPrice, hasStop, ok bool
		if l.price, hasPrice, ok = c.decimal(prefix + "Price"); !ok {
			return l, false
		}
		if l.stop, hasStop, ok = c.decimal(prefix + "StopPrice"); !ok {
			return l, false
		}
		l.tif, l.cid = c.p.Get(prefix+"TimeInForce"), c.p.Get(prefix+"ClientOrderId")
		needPrice := l.typ == "LIMIT_MAKER" || strings.HasSuffix(l.typ, "_LIMIT")
		switch {
		case needPrice && !hasPrice:
			c.mandatory(prefix + "Price")
			return l, false
		case l.typ != "LIMIT_MAKER" && !hasStop:
			c.fail(http.StatusBadRequest, -1102, "Param '"+prefix+"StopPrice' or '"+prefix+"TrailingDelta' must be sent, but both were empty/null!")
			return l, false
		case strings.HasSuffix(l.typ, "_LIMIT") && l.tif == "":
			c.mandatory(prefix + "TimeInForce")
			return l, false
		case l.tif != "" && l.tif != "GTC" && l.tif != "IOC" && l.tif != "FOK":
			c.fail(http.StatusBadRequest, -1115, "Invalid timeInForce.")
			return l, false
		}
		return l, true
	}
	if above, ok = read("above"); !ok {
		return above, below, false
	}
	if below, ok = read("below"); !ok {
		return above, below, false
	}
	if above.typ == "LIMIT_MAKER" && below.typ == "LIMIT_MAKER" {
		c.fail(http.StatusBadRequest, -1168, "At least one OCO order must be contingent.")
		return above, below, false
	}
	return above, below, true
}

// checkOCOPrices applies the OCO rules: for a SELL the limit or
// take-profit leg is above the market and the stop-loss below it; for a
// BUY the reverse.
func (c *call) checkOCOPrices(side string, above, below ocoLeg, px float64) bool {
	isLoss := func(l ocoLeg) bool { return strings.HasPrefix(l.typ, "STOP_LOSS") }
	fail := func(code int, msg string) bool {
		c.fail(http.StatusBadRequest, code, msg)
		return false
	}
	if side == "SELL" {
		if isLoss(above) {
			return fail(-1197, "A stop loss order in a sell OCO must be below.")
		}
		if !isLoss(below) {
			if below.typ == "LIMIT_MAKER" {
				return fail(-1166, "A limit order in a sell OCO must be above.")
			}
			return fail(-1199, "A take profit order in a sell OCO must be above.")
		}
	} else {
		if isLoss(below) {
			return fail(-1196, "A stop loss order in a buy OCO must be above.")
		}
		if !isLoss(above) {
			if above.typ == "LIMIT_MAKER" {
				return fail(-1165, "A limit order in a buy OCO must be below.")
			}
			return fail(-1198, "A take profit order in a buy OCO must be below.")
		}
	}
	if px <= 0 {
		return true
	}
	trigger := func(l ocoLeg) float64 {
		if l.typ == "LIMIT_MAKER" {
			return l.price
		}
		return l.stop
	}
	if !(trigger(above) > px && px > trigger(below)) {
		c.rejectOrder("The relationship of the prices for the orders is not correct.")
		return false
	}
	return true
}
