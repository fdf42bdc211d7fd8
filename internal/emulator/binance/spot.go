package binance

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
)

func handleTime(c *call) { c.ok(obj{"serverTime": c.now.UnixMilli()}) }

// spotSymbols are the symbols spot and margin trade in this state.
func (st *state) spotSymbols() map[string]bool { return st.symbolSet(symSpot, st.computeSpotSymbols) }

func (st *state) computeSpotSymbols() map[string]bool {
	out := map[string]bool{}
	for sym := range st.prices {
		if !strings.Contains(sym, "_") {
			if _, _, ok := splitSymbol(sym); ok {
				out[sym] = true
			}
		}
	}
	for _, a := range st.accounts {
		for _, list := range [][]*order{a.SpotOrders, a.MarginOrders, a.IsolatedOrders} {
			for _, o := range list {
				out[o.Symbol] = true
			}
		}
		for _, l := range a.SpotLists {
			out[l.Symbol] = true
		}
		for sym := range a.Isolated {
			out[sym] = true
		}
		for _, t := range a.Trades {
			if t.Product == "spot" || t.Product == "margin" || t.Product == "isolated" {
				out[t.Symbol] = true
			}
		}
	}
	return out
}

// checkSymbol answers -1121 and returns false when sym is not a spot symbol.
func (c *call) checkSpotSymbol(sym string) bool {
	if !c.st.spotSymbols()[sym] {
		c.invalidSymbol()
		return false
	}
	return true
}

// requiredSymbol reads the mandatory symbol parameter, answering and
// returning false when it is missing or not in known.
func (c *call) requiredSymbol(known map[string]bool) (string, bool) {
	sym := c.p.Get("symbol")
	if sym == "" {
		c.mandatory("symbol")
		return "", false
	}
	if !known[sym] {
		c.invalidSymbol()
		return "", false
	}
	return sym, true
}

func handleSpotAccount(c *call) {
	a := c.acct
	omitZero, _ := parseBool(c.p.Get("omitZeroBalances"))
	balances := []obj{}
	for _, asset := range sortedKeys(a.Spot) {
		b := a.Spot[asset]
		if omitZero && b.Free == 0 && b.Locked == 0 {
			continue
		}
		balances = append(balances, obj{"asset": asset, "free": f8(b.Free), "locked": f8(b.Locked)})
	}
	k := c.key
	c.ok(obj{
		"makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
		"commissionRates": obj{"maker": "0.00100000", "taker": "0.00100000", "buyer": "0.00000000", "seller": "0.00000000"},
		"canTrade":        k.Perms[permSpot], "canWithdraw": k.Perms[permWithdrawals], "canDeposit": true,
		"brokered": false, "requireSelfTradePrevention": false, "preventSor": false,
		"updateTime": ms(c.now), "accountType": "SPOT", "balances": balances,
		"permissions": []string{"TRD_GRP_002"}, "uid": a.UID,
	})
}

// allSpotOpen lists an account's open spot orders (list members included),
// oldest first.
func allSpotOpen(a *account) []*order {
	out := append([]*order(nil), a.SpotOrders...)
	for _, l := range a.SpotLists {
		out = append(out, l.Orders...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

func handleSpotOpenOrders(c *call) {
	sym := c.p.Get("symbol")
	if sym != "" && !c.checkSpotSymbol(sym) {
		return
	}
	out := []obj{}
	for _, o := range allSpotOpen(c.acct) {
		if sym == "" || o.Symbol == sym {
			out = append(out, spotOrderJSON(o, false))
		}
	}
	c.ok(out)
}

// handleSpotCancelAll cancels every open order on a symbol, order lists
// as one object each; with nothing open it answers 400 -2011.
func handleSpotCancelAll(c *call) {
	sym, ok := c.requiredSymbol(c.st.spotSymbols())
	if !ok {
		return
	}
	a := c.acct
	out := []obj{}
	var keep []*order
	for _, o := range a.SpotOrders {
		if o.Symbol == sym {
			c.closeOrder(o, "spot")
			out = append(out, spotCancelJSON(o, c.now, false))
		} else {
			keep = append(keep, o)
		}
	}
	a.SpotOrders = keep
	var keepLists []*orderList
	for _, l := range a.SpotLists {
		if l.Symbol != sym {
			keepLists = append(keepLists, l)
			continue
		}
		var orders, reports []obj
		l.release()
		for _, o := range l.Orders {
			c.closeOrder(o, "spot")
			orders = append(orders, obj{"symbol": o.Symbol, "orderId": o.ID, "clientOrderId": o.ClientID})
			reports = append(reports, spotCancelJSON(o, c.now, false))
		}
		out = append(out, obj{
			"orderListId": l.ID, "contingencyType": "OCO", "listStatusType": "ALL_DONE", "listOrderStatus": "ALL_DONE",
			"listClientOrderId": l.ClientID, "transactionTime": ms(c.now), "symbol": l.Symbol,
			"orders": orders, "orderReports": reports,
		})
	}
	a.SpotLists = keepLists
	if len(out) == 0 {
		c.fail(http.StatusBadRequest, -2011, "Unknown order sent.")
		return
	}
	c.ok(out)
}

// tradeFilter applies the common startTime/endTime/fromId/orderId/limit
// parameters of the trade-history endpoints.
func (c *call) tradeFilter(list []*trade, product, sym string, match func(*trade) bool) ([]*trade, bool) {
	limit, ok := c.intParam("limit", 500, 1, 1000)
	if !ok {
		return nil, false
	}
	var start, end, fromID, orderID int64
	for name, dst := range map[string]*int64{"startTime": &start, "endTime": &end, "fromId": &fromID, "orderId": &orderID} {
		if s := c.p.Get(name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				c.badParam(name)
				return nil, false
			}
			*dst = n
		}
	}
	var out []*trade
	for _, t := range list {
		if t.Product != product || (sym != "" && t.Symbol != sym) || (match != nil && !match(t)) {
			continue
		}
		tm := ms(t.Time)
		if (start > 0 && tm < start) || (end > 0 && tm > end) || (fromID > 0 && t.ID < fromID) || (orderID > 0 && t.OrderID != orderID) {
			continue
		}
		out = append(out, t)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, true
}

func handleSpotMyTrades(c *call) {
	sym, ok := c.requiredSymbol(c.st.spotSymbols())
	if !ok {
		return
	}
	list, ok := c.tradeFilter(c.acct.Trades, "spot", sym, nil)
	if !ok {
		return
	}
	out := []obj{}
	for _, t := range list {
		out = append(out, obj{
			"symbol": t.Symbol, "id": t.ID, "orderId": t.OrderID, "orderListId": -1, "price": f8(t.Price),
			"qty": f8(t.Qty), "quoteQty": f8(t.Price * t.Qty), "commission": f8(t.Commission),
			"commissionAsset": t.CommissionAsset, "time": ms(t.Time), "isBuyer": t.Side == "BUY",
			"isMaker": t.Maker, "isBestMatch": true,
		})
	}
	c.ok(out)
}
