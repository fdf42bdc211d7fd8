package binance

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// pnl is the unrealised profit of p at its mark price (USDⓈ-M in quote,
// COIN-M in the margin coin).
func pnl(p *position, coinm bool) float64 {
	if coinm {
		cs := contractSize(p.Symbol)
		return p.Amount * cs * (1/p.EntryPrice - 1/p.MarkPrice)
	}
	return p.Amount * (p.MarkPrice - p.EntryPrice)
}

func notional(p *position, coinm bool) float64 {
	if coinm {
		return p.Amount * contractSize(p.Symbol) / p.MarkPrice
	}
	return p.Amount * p.MarkPrice
}

func marginAssetOf(sym string, coinm bool) string {
	if coinm {
		return strings.TrimSuffix(pairOf(sym), "USD")
	}
	_, q, _ := splitSymbol(sym)
	return q
}

// positionsMargin sums the unrealised PnL, initial margin and maintenance
// margin of the positions margined in asset.
func positionsMargin(positions []*position, asset string, coinm bool) (un, im, mm float64) {
	for _, p := range positions {
		if marginAssetOf(p.Symbol, coinm) == asset {
			un += pnl(p, coinm)
			im += math.Abs(notional(p, coinm)) / float64(p.Leverage)
			mm += math.Abs(notional(p, coinm)) * 0.004
		}
	}
	return un, im, mm
}

func handleUSDMBalance(c *call) {
	a := c.acct
	out := []obj{}
	for _, asset := range sortedKeys(a.USDM) {
		wb := a.USDM[asset]
		un, im, _ := positionsMargin(a.USDMPositions, asset, false)
		avail := math.Max(0, wb+un-im-openOrderMargin(a, asset, false))
		out = append(out, obj{"accountAlias": "SgsR", "asset": asset, "balance": fd(wb, 8),
			"crossWalletBalance": fd(wb, 8), "crossUnPnl": fd(un, 8), "availableBalance": fd(avail, 8),
			"maxWithdrawAmount": fd(math.Min(avail, wb), 8), "marginAvailable": true, "updateTime": ms(c.now)})
	}
	c.ok(out)
}

func usdmPositionJSON(p *position, now time.Time) obj {
	n := notional(p, false)
	im := math.Abs(n) / float64(p.Leverage)
	return obj{"symbol": p.Symbol, "positionSide": p.Side, "positionAmt": fnum(p.Amount),
		"entryPrice": fnum(p.EntryPrice), "breakEvenPrice": fnum(p.EntryPrice), "markPrice": fd(p.MarkPrice, 8),
		"unRealizedProfit": fd(pnl(p, false), 8), "liquidationPrice": "0", "isolatedMargin": "0", "notional": fd(n, 8),
		"marginAsset": marginAssetOf(p.Symbol, false), "isolatedWallet": "0", "initialMargin": fd(im, 8),
		"maintMargin": fd(math.Abs(n)*0.004, 8), "positionInitialMargin": fd(im, 8), "openOrderInitialMargin": "0",
		"adl": 1, "bidNotional": "0", "askNotional": "0", "updateTime": ms(p.Updated)}
}

func handleUSDMAccount(c *call) {
	a := c.acct
	var totWB, totUn, totIM, totMM, totOIM float64
	assets := []obj{}
	for _, asset := range sortedKeys(a.USDM) {
		wb := a.USDM[asset]
		un, im, mm := positionsMargin(a.USDMPositions, asset, false)
		oim := openOrderMargin(a, asset, false)
		totWB, totUn, totIM, totMM, totOIM = totWB+wb, totUn+un, totIM+im, totMM+mm, totOIM+oim
		avail := math.Max(0, wb+un-im-oim)
		assets = append(assets, obj{"asset": asset, "walletBalance": fd(wb, 8), "unrealizedProfit": fd(un, 8),
			"marginBalance": fd(wb+un, 8), "maintMargin": fd(mm, 8), "initialMargin": fd(im+oim, 8),
			"positionInitialMargin": fd(im, 8), "openOrderInitialMargin": fd(oim, 8), "crossWalletBalance": fd(wb, 8),
			"crossUnPnl": fd(un, 8), "availableBalance": fd(avail, 8), "maxWithdrawAmount": fd(math.Min(avail, wb), 8),
			"marginAvailable": true, "updateTime": ms(c.now)})
	}
	positions := []obj{}
	for _, p := range a.USDMPositions {
		n := notional(p, false)
		positions = append(positions, obj{"symbol": p.Symbol, "positionSide": p.Side, "positionAmt": fnum(p.Amount),
			"unrealizedProfit": fd(pnl(p, false), 8), "isolatedMargin": "0", "notional": fd(n, 8), "isolatedWallet": "0",
			"initialMargin": fd(math.Abs(n)/float64(p.Leverage), 8), "maintMargin": fd(math.Abs(n)*0.004, 8),
			"updateTime": ms(p.Updated)})
	}
	avail := math.Max(0, totWB+totUn-totIM-totOIM)
	c.ok(obj{"totalInitialMargin": fd(totIM+totOIM, 8), "totalMaintMargin": fd(totMM, 8), "totalWalletBalance": fd(totWB, 8),
		"totalUnrealizedProfit": fd(totUn, 8), "totalMarginBalance": fd(totWB+totUn, 8),
		"totalPositionInitialMargin": fd(totIM, 8), "totalOpenOrderInitialMargin": fd(totOIM, 8),
		"totalCrossWalletBalance": fd(totWB, 8), "totalCrossUnPnl": fd(totUn, 8), "availableBalance": fd(avail, 8),
		"maxWithdrawAmount": fd(math.Min(avail, totWB), 8), "assets": assets, "positions": positions})
}

func handleUSDMPositionRisk(c *call) {
	sym := c.p.Get("symbol")
	if sym != "" && !c.st.usdmSymbols()[sym] {
		c.fail(http.StatusBadRequest, -1121, "Invalid symbol.")
		return
	}
	out := []obj{}
	for _, p := range c.acct.USDMPositions {
		if sym == "" || p.Symbol == sym {
			out = append(out, usdmPositionJSON(p, c.now))
		}
	}
	c.ok(out)
}

func handlePositionMode(coinm bool) func(*call) {
	return func(c *call) {
		dual := c.acct.DualUSDM
		if coinm {
			dual = c.acct.DualCOINM
		}
		c.ok(obj{"dualSidePosition": dual})
	}
}

func handleUSDMOpenOrders(c *call) {
	sym := c.p.Get("symbol")
	if sym != "" && !c.st.usdmSymbols()[sym] {
		c.invalidSymbol()
		return
	}
	out := []obj{}
	for _, o := range c.acct.USDMOrders {
		if sym == "" || o.Symbol == sym {
			out = append(out, futuresOrderJSON(o, false, c.st))
		}
	}
	c.ok(out)
}

func handleCOINMOpenOrders(c *call) {
	sym, pair := c.p.Get("symbol"), c.p.Get("pair")
	if sym != "" && !c.st.coinmSymbols()[sym] {
		c.invalidSymbol()
		return
	}
	out := []obj{}
	for _, o := range c.acct.COINMOrders {
		if (sym == "" || o.Symbol == sym) && (pair == "" || pairOf(o.Symbol) == pair) {
			out = append(out, futuresOrderJSON(o, true, c.st))
		}
	}
	c.ok(out)
}

const cancelAllDone = "The operation of cancel all open order is done."

// cancelFutures removes the plain orders of sym from the product's book
// and returns how many it removed.
func cancelFutures(a *account, coinm bool, sym string) int {
	book := &a.USDMOrders
	if coinm {
		book = &a.COINMOrders
	}
	var keep []*order
	for _, o := range *book {
		if o.Symbol != sym {
			keep = append(keep, o)
		}
	}
	n := len(*book) - len(keep)
	*book = keep
	return n
}

// handleFuturesCancelAll is DELETE /fapi|dapi/v1/allOpenOrders: plain
// orders only (algo orders stay), answered {"code":200,...}.
func handleFuturesCancelAll(coinm bool) func(*call) {
	return func(c *call) {
		sym, ok := c.requiredSymbol(c.st.futuresSymbols(coinm))
		if !ok {
			return
		}
		cancelFutures(c.acct, coinm, sym)
		c.ok(obj{"code": 200, "msg": cancelAllDone})
	}
}

func handleOpenAlgoOrders(c *call) {
	sym := c.p.Get("symbol")
	if sym != "" && !c.st.usdmSymbols()[sym] {
		c.invalidSymbol()
		return
	}
	if t := c.p.Get("algoType"); t != "" && t != "CONDITIONAL" {
		c.fail(http.StatusBadRequest, -1102, "Param 'algoType' must be CONDITIONAL.")
		return
	}
	var id int64
	if s := c.p.Get("algoId"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			c.badParam("algoId")
			return
		}
		id = n
	}
	out := []obj{}
	for _, o := range c.acct.AlgoOrders {
		if (sym == "" || o.Symbol == sym) && (id == 0 || o.ID == id) {
			out = append(out, algoOrderJSON(o))
		}
	}
	c.ok(out)
}

// handleAlgoCancelAll is DELETE /fapi/v1/algoOpenOrders: algo orders of
// the symbol only (plain orders stay).
func handleAlgoCancelAll(c *call) {
	sym, ok := c.requiredSymbol(c.st.usdmSymbols())
	if !ok {
		return
	}
	var keep []*order
	for _, o := range c.acct.AlgoOrders {
		if o.Symbol != sym {
			keep = append(keep, o)
		}
	}
	c.acct.AlgoOrders = keep
	c.ok(obj{"code": 200, "msg": cancelAllDone})
}

// handleCountdown arms (countdownTime > 0) or disarms (0) the dead-man
// switch that cancels the symbol's orders when the emulator clock passes
// the deadline.
func handleCountdown(product string) func(*call) {
	return func(c *call) {
		sym, ok := c.requiredSymbol(c.st.futuresSymbols(product == "coinm"))
		if !ok {
			return
		}
		raw := c.p.Get("countdownTime")
		if raw == "" {
			c.mandatory("countdownTime")
			return
		}
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 {
			c.badParam("countdownTime")
			return
		}
		id := product + "|" + sym
		if n == 0 {
			delete(c.acct.Countdowns, id)
		} else {
			c.acct.Countdowns[id] = &countdown{Product: product, Symbol: sym, Deadline: c.now.Add(time.Duration(n) * time.Millisecond)}
		}
		c.ok(obj{"symbol": sym, "countdownTime": raw})
	}
}

// fireCountdowns cancels the orders of every countdown whose deadline has
// passed on the emulator clock.
func (v *Venue) fireCountdowns(now time.Time) {
	for _, a := range v.st.accounts {
		for id, cd := range a.Countdowns {
			if now.Before(cd.Deadline) {
				continue
			}
			n := cancelFutures(a, cd.Product == "coinm", cd.Symbol)
			delete(a.Countdowns, id)
			v.log.Info("binance: countdown cancel-all fired", "account", a.Name, "product", cd.Product, "symbol", cd.Symbol, "cancelled", n)
		}
	}
}

func handleFuturesUserTrades(coinm bool) func(*call) {
	return func(c *call) {
		sym, pair := c.p.Get("symbol"), c.p.Get("pair")
		product := "usdm"
		if coinm {
			product = "coinm"
			if sym == "" && pair == "" {
				c.mandatory("symbol")
				return
			}
		} else if sym == "" {
			c.mandatory("symbol")
			return
		}
		list, ok := c.tradeFilter(c.acct.Trades, product, sym, func(t *trade) bool {
			return pair == "" || pairOf(t.Symbol) == pair
		})
		if !ok {
			return
		}
		out := []obj{}
		for _, t := range list {
			m := obj{"buyer": t.Side == "BUY", "commission": fnum(t.Commission), "commissionAsset": t.CommissionAsset,
				"id": t.ID, "maker": t.Maker, "orderId": t.OrderID, "price": fnum(t.Price), "qty": fnum(t.Qty),
				"realizedPnl": "0", "side": t.Side, "positionSide": "BOTH", "symbol": t.Symbol, "time": ms(t.Time)}
			if coinm {
				m["pair"] = pairOf(t.Symbol)
				m["marginAsset"] = marginAssetOf(t.Symbol, true)
				m["baseQty"] = fnum(t.Qty * contractSize(t.Symbol) / t.Price)
			} else {
				m["quoteQty"] = fnum(t.Qty * t.Price)
			}
			out = append(out, m)
		}
		c.ok(out)
	}
}

func handleCOINMBalance(c *call) {
	a := c.acct
	out := []obj{}
	for _, asset := range sortedKeys(a.COINM) {
		wb := a.COINM[asset]
		un, im, _ := positionsMargin(a.COINMPositions, asset, true)
		avail := math.Max(0, wb+un-im-openOrderMargin(a, asset, true))
		out = append(out, obj{"accountAlias": "SgsR", "asset": asset, "balance": fd(wb, 8),
			"withdrawAvailable": fd(math.Min(avail, wb), 8), "crossWalletBalance": fd(wb, 8), "crossUnPnl": fd(un, 8),
			"availableBalance": fd(avail, 8), "updateTime": ms(c.now)})
	}
	c.ok(out)
}

func handleCOINMPositionRisk(c *call) {
	marginAsset, pair := c.p.Get("marginAsset"), c.p.Get("pair")
	out := []obj{}
	for _, p := range c.acct.COINMPositions {
		if (marginAsset != "" && marginAssetOf(p.Symbol, true) != marginAsset) || (pair != "" && pairOf(p.Symbol) != pair) {
			continue
		}
		n := notional(p, true)
		out = append(out, obj{"symbol": p.Symbol, "positionAmt": fnum(p.Amount), "entryPrice": fd(p.EntryPrice, 8),
			"breakEvenPrice": fd(p.EntryPrice, 8), "markPrice": fd(p.MarkPrice, 8), "unRealizedProfit": fd(pnl(p, true), 8),
			"liquidationPrice": "0", "leverage": strconv.Itoa(p.Leverage), "maxQty": "100", "marginType": "cross",
			"isolatedMargin": "0.00000000", "isAutoAddMargin": "false", "positionSide": p.Side,
			"notionalValue": fd(n, 8), "isolatedWallet": "0", "updateTime": ms(p.Updated)})
	}
	c.ok(out)
}
