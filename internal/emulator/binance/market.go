package binance

import (
	"encoding/json"
	"hash/fnv"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Market data: everything derives from the price table, deterministically
// (the same state and clock give the same answers). The table price is
// the last trade and the mark price; the book is one tick either side of
// it and deepens by about a basis point per level; the day's range is a
// few percent around it; candles wander within ±1 % and close at it.

// seedOf is a stable number for sym, to vary volumes between symbols.
func seedOf(sym string) float64 {
	h := fnv.New32a()
	h.Write([]byte(sym))
	return float64(h.Sum32()%1000) / 1000
}

// mdFamily is the market a market-data route serves.
type mdFamily int

const (
	mdSpot mdFamily = iota
	mdUSDM
	mdCOINM
)

func (st *state) mdSymbols(f mdFamily) map[string]bool {
	switch f {
	case mdUSDM:
		return st.usdmSymbols()
	case mdCOINM:
		return st.coinmSymbols()
	}
	return st.spotSymbols()
}

func (st *state) mdRules(f mdFamily, sym string) symbolRules {
	if f == mdSpot {
		return st.spotRules(sym)
	}
	return st.futuresRules(sym, f == mdCOINM)
}

// px formats a price (spot: 8 decimals; futures: the tick's decimals).
func (st *state) px(f mdFamily, sym string, x float64) string {
	if f == mdSpot {
		return f8(x)
	}
	return fnum(round(x, decimals(st.mdRules(f, sym).Tick)))
}

// qx formats a quantity.
func qx(f mdFamily, x float64) string {
	if f == mdSpot {
		return f8(x)
	}
	return fnum(round(x, 8))
}

// symbolsParam reads symbol / symbols (a JSON array) for the families
// that take them; nil means all. It answers -1121 on an unknown symbol.
func (c *call) symbolsParam(f mdFamily) ([]string, bool) {
	known := c.st.mdSymbols(f)
	var want []string
	if s := c.p.Get("symbol"); s != "" {
		want = []string{s}
	} else if s := c.p.Get("symbols"); s != "" && f == mdSpot {
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			c.fail(http.StatusBadRequest, -1100, "Illegal characters found in parameter 'symbols'; legal range is '^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\\]$'.")
			return nil, false
		}
	} else {
		return sortedKeys(known), true
	}
	for _, s := range want {
		if !known[s] {
			c.invalidSymbol()
			return nil, false
		}
	}
	return want, true
}

// bookStep is the price distance between book levels: about a basis
// point, in whole ticks.
func bookStep(px, tick float64) float64 {
	return math.Max(1, math.Round(px*0.0001/tick)) * tick
}

func handleDepth(f mdFamily) func(*call) {
	return func(c *call) {
		sym, ok := c.requiredSymbol(c.st.mdSymbols(f))
		if !ok {
			return
		}
		def, most := 100, 5000
		if f != mdSpot {
			def, most = 500, 1000
		}
		limit, ok := c.intParam("limit", def, 1, most)
		if !ok {
			return
		}
		r := c.st.mdRules(f, sym)
		price := c.st.price(sym)
		step := bookStep(price, r.Tick)
		bids, asks := [][2]string{}, [][2]string{}
		for i := 0; i < limit && price > 0; i++ {
			q := r.Step * float64(10+(i*7)%13) * (1 + seedOf(sym))
			q = math.Round(q/r.Step) * r.Step
			if bp := price - r.Tick - float64(i)*step; bp > 0 {
				bids = append(bids, [2]string{c.st.px(f, sym, bp), qx(f, q)})
			}
			asks = append(asks, [2]string{c.st.px(f, sym, price+r.Tick+float64(i)*step), qx(f, q)})
		}
		out := obj{"lastUpdateId": c.now.UnixMilli() / 100, "bids": bids, "asks": asks}
		if f != mdSpot {
			out["E"], out["T"] = ms(c.now), ms(c.now)
		}
		if f == mdCOINM {
			out["symbol"], out["pair"] = sym, pairOf(sym)
		}
		c.ok(out)
	}
}

// depthWeight is the weight of a depth request by its limit.
func depthWeight(f mdFamily) func(url.Values) int {
	return func(p url.Values) int {
		n, _ := strconv.Atoi(p.Get("limit"))
		if f == mdSpot {
			switch {
			case n == 0 || n <= 100:
				return 5
			case n <= 500:
				return 25
			case n <= 1000:
				return 50
			}
			return 250
		}
		switch {
		case n > 0 && n <= 50:
			return 2
		case n > 0 && n <= 100:
			return 5
		case n == 0 || n <= 500:
			return 10
		}
		return 20
	}
}

var klineIntervals = map[string]time.Duration{
	"1s": time.Second, "1m": time.Minute, "3m": 3 * time.Minute, "5m": 5 * time.Minute, "15m": 15 * time.Minute,
	"30m": 30 * time.Minute, "1h": time.Hour, "2h": 2 * time.Hour, "4h": 4 * time.Hour, "6h": 6 * time.Hour,
	"8h": 8 * time.Hour, "12h": 12 * time.Hour, "1d": 24 * time.Hour, "3d": 72 * time.Hour, "1w": 7 * 24 * time.Hour,
	"1M": 30 * 24 * time.Hour,
}

// pathPrice is the synthetic price of sym at t: within ±1 % of the table
// price, equal to it now.
func pathPrice(price float64, sym string, t, now time.Time) float64 {
	x := float64(now.Sub(t)) / float64(6*time.Hour)
	return price * (1 + 0.01*math.Sin(x+seedOf(sym)*6)*math.Min(1, x))
}

func handleKlines(f mdFamily) func(*call) {
	return func(c *call) {
		sym, ok := c.requiredSymbol(c.st.mdSymbols(f))
		if !ok {
			return
		}
		iv := c.p.Get("interval")
		if iv == "" {
			c.mandatory("interval")
			return
		}
		d, ok := klineIntervals[iv]
		if !ok || (iv == "1s" && f != mdSpot) {
			c.fail(http.StatusBadRequest, -1120, "Invalid interval.")
			return
		}
		most := 1000
		if f != mdSpot {
			most = 1500
		}
		limit, ok := c.intParam("limit", 500, 1, most)
		if !ok {
			return
		}
		end := c.now
		if s := c.p.Get("endTime"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				c.badParam("endTime")
				return
			}
			end = time.UnixMilli(n)
		}
		var start time.Time
		if s := c.p.Get("startTime"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				c.badParam("startTime")
				return
			}
			start = time.UnixMilli(n)
		}
		if end.After(c.now) {
			end = c.now
		}
		last := end.Truncate(d)
		first := last.Add(-time.Duration(limit-1) * d)
		if !start.IsZero() {
			first = start.Add(d - 1).Truncate(d)
			if l := first.Add(time.Duration(limit-1) * d); l.Before(last) {
				last = l
			}
		}
		price := c.st.price(sym)
		r := c.st.mdRules(f, sym)
		rows := [][]any{}
		for t := first; !t.After(last); t = t.Add(d) {
			o := pathPrice(price, sym, t, c.now)
			cl := pathPrice(price, sym, t.Add(d), c.now)
			if t.Add(d).After(c.now) {
				cl = price
			}
			hi, lo := math.Max(o, cl)*1.001, math.Min(o, cl)*0.999
			vol := math.Round(r.Step*2000*(1+seedOf(sym))*(float64(d)/float64(time.Hour))/r.Step) * r.Step
			quote := vol * (o + cl) / 2
			if f == mdCOINM {
				quote = vol * contractSize(sym) / ((o + cl) / 2)
			}
			rows = append(rows, []any{ms(t), c.st.px(f, sym, o), c.st.px(f, sym, hi), c.st.px(f, sym, lo), c.st.px(f, sym, cl),
				qx(f, vol), ms(t.Add(d)) - 1, qx(f, quote), 100 + int(seedOf(sym)*900), qx(f, vol/2), qx(f, quote/2), "0"})
		}
		c.ok(rows)
	}
}

// klineWeight is the futures klines weight by limit (spot: 2).
func klineWeight(f mdFamily) func(url.Values) int {
	return func(p url.Values) int {
		if f == mdSpot {
			return 2
		}
		n, _ := strconv.Atoi(p.Get("limit"))
		switch {
		case n > 0 && n < 100:
			return 1
		case n == 0 || n < 500:
			return 2
		case n <= 1000:
			return 5
		}
		return 10
	}
}

// ticker24 is one symbol's 24-hour statistics.
func (c *call) ticker24(f mdFamily, sym string) obj {
	price := c.st.price(sym)
	r := c.st.mdRules(f, sym)
	open, hi, lo := price/1.02, price*1.015, price*0.975
	vol := math.Round(r.Step*50000*(1+seedOf(sym))/r.Step) * r.Step
	m := obj{"symbol": sym, "priceChange": c.st.px(f, sym, price-open), "priceChangePercent": fd((price-open)/open*100, 3),
		"weightedAvgPrice": c.st.px(f, sym, (open+price)/2), "lastPrice": c.st.px(f, sym, price), "lastQty": qx(f, r.MinQty),
		"openPrice": c.st.px(f, sym, open), "highPrice": c.st.px(f, sym, hi), "lowPrice": c.st.px(f, sym, lo),
		"volume": qx(f, vol), "openTime": ms(c.now.Add(-24 * time.Hour)), "closeTime": ms(c.now),
		"firstId": 1000000, "lastId": 1000000 + int64(vol/r.Step)%900000, "count": int64(vol/r.Step)%900000 + 1}
	switch f {
	case mdSpot:
		m["prevClosePrice"] = f8(open)
		m["bidPrice"], m["bidQty"] = f8(price-r.Tick), f8(r.Step*10)
		m["askPrice"], m["askQty"] = f8(price+r.Tick), f8(r.Step*10)
		m["quoteVolume"] = f8(vol * price)
	case mdUSDM:
		m["quoteVolume"] = fnum(round(vol*price, 2))
	case mdCOINM:
		m["pair"] = pairOf(sym)
		m["baseVolume"] = fnum(round(vol*contractSize(sym)/price, 8))
	}
	return m
}

func handleTicker24(f mdFamily) func(*call) {
	return func(c *call) {
		syms, ok := c.symbolsParam(f)
		if !ok {
			return
		}
		if c.p.Get("symbol") != "" && f != mdCOINM {
			c.ok(c.ticker24(f, syms[0]))
			return
		}
		out := []obj{}
		for _, s := range syms {
			if p := c.p.Get("pair"); p != "" && pairOf(s) != p {
				continue
			}
			out = append(out, c.ticker24(f, s))
		}
		c.ok(out)
	}
}

func handleBookTicker(f mdFamily) func(*call) {
	return func(c *call) {
		syms, ok := c.symbolsParam(f)
		if !ok {
			return
		}
		row := func(s string) obj {
			price, r := c.st.price(s), c.st.mdRules(f, s)
			m := obj{"symbol": s, "bidPrice": c.st.px(f, s, price-r.Tick), "bidQty": qx(f, r.Step*10),
				"askPrice": c.st.px(f, s, price+r.Tick), "askQty": qx(f, r.Step*10)}
			if f != mdSpot {
				m["time"], m["lastUpdateId"] = ms(c.now), c.now.UnixMilli()/100
			}
			if f == mdCOINM {
				m["pair"] = pairOf(s)
			}
			return m
		}
		if c.p.Get("symbol") != "" && f != mdCOINM {
			c.ok(row(syms[0]))
			return
		}
		out := []obj{}
		for _, s := range syms {
			out = append(out, row(s))
		}
		c.ok(out)
	}
}

// handleFuturesTickerPrice is GET /fapi/v1|v2/ticker/price and
// /dapi/v1/ticker/price.
func handleFuturesTickerPrice(f mdFamily) func(*call) {
	return func(c *call) {
		syms, ok := c.symbolsParam(f)
		if !ok {
			return
		}
		row := func(s string) obj {
			m := obj{"symbol": s, "price": c.st.px(f, s, c.st.price(s)), "time": ms(c.now)}
			if f == mdCOINM {
				m["ps"] = pairOf(s)
			}
			return m
		}
		if c.p.Get("symbol") != "" && f == mdUSDM {
			c.ok(row(syms[0]))
			return
		}
		out := []obj{}
		for _, s := range syms {
			if p := c.p.Get("pair"); p != "" && pairOf(s) != p {
				continue
			}
			out = append(out, row(s))
		}
		c.ok(out)
	}
}

func handleAvgPrice(c *call) {
	sym, ok := c.requiredSymbol(c.st.spotSymbols())
	if !ok {
		return
	}
	c.ok(obj{"mins": 5, "price": f8(c.st.price(sym)), "closeTime": ms(c.now)})
}

// handleTrades is the recent public trades of a symbol, one every three
// seconds along the synthetic price path.
func handleTrades(f mdFamily) func(*call) {
	return func(c *call) {
		sym, ok := c.requiredSymbol(c.st.mdSymbols(f))
		if !ok {
			return
		}
		limit, ok := c.intParam("limit", 500, 1, 1000)
		if !ok {
			return
		}
		price, r := c.st.price(sym), c.st.mdRules(f, sym)
		out := []obj{}
		base := c.now.UnixMilli() / 1000
		for i := limit - 1; i >= 0; i-- {
			t := c.now.Add(-time.Duration(i) * 3 * time.Second)
			p := math.Round(pathPrice(price, sym, t, c.now)/r.Tick) * r.Tick
			q := r.Step * float64(1+i%9)
			m := obj{"id": base*10 - int64(i), "price": c.st.px(f, sym, p), "qty": qx(f, q), "time": ms(t), "isBuyerMaker": i%2 == 0}
			switch f {
			case mdSpot:
				m["quoteQty"], m["isBestMatch"] = f8(p*q), true
			case mdUSDM:
				m["quoteQty"] = fnum(round(p*q, 8))
			case mdCOINM:
				m["baseQty"] = fnum(round(q*contractSize(sym)/p, 8))
			}
			out = append(out, m)
		}
		c.ok(out)
	}
}

// handleTickerPrice is GET /api/v3/ticker/price (symbol, symbols or all).
func handleTickerPrice(c *call) {
	syms, ok := c.symbolsParam(mdSpot)
	if !ok {
		return
	}
	if c.p.Get("symbol") != "" {
		c.ok(obj{"symbol": syms[0], "price": f8(c.st.price(syms[0]))})
		return
	}
	out := []obj{}
	for _, s := range syms {
		out = append(out, obj{"symbol": s, "price": f8(c.st.price(s))})
	}
	c.ok(out)
}

// tickerWeight: with symbol one, else all (spot 24hr also by the size of symbols).
func tickerWeight(one, all int) func(url.Values) int {
	return func(p url.Values) int {
		if p.Get("symbol") != "" {
			return one
		}
		if s := p.Get("symbols"); s != "" {
			n := strings.Count(s, ",") + 1
			if one == 2 && all == 80 { // spot 24hr
				switch {
				case n <= 20:
					return 2
				case n <= 100:
					return 40
				}
				return 80
			}
			return all
		}
		return all
	}
}

// ---- /sapi market metadata ----

func handleSystemStatus(c *call) { c.ok(obj{"status": 0, "msg": "normal"}) }

func handleMarginAllPairs(c *call) {
	out := []obj{}
	for i, sym := range sortedKeys(c.st.spotSymbols()) {
		base, quote, _ := splitSymbol(sym)
		if s := c.p.Get("symbol"); s != "" && s != sym {
			continue
		}
		out = append(out, obj{"id": 351637150141315861 + int64(i), "symbol": sym, "base": base, "quote": quote,
			"isMarginTrade": true, "isBuyAllowed": true, "isSellAllowed": true})
	}
	c.ok(out)
}

func handleIsolatedAllPairs(c *call) {
	out := []obj{}
	for _, sym := range sortedKeys(c.st.spotSymbols()) {
		base, quote, _ := splitSymbol(sym)
		if s := c.p.Get("symbol"); s != "" && s != sym {
			continue
		}
		out = append(out, obj{"symbol": sym, "base": base, "quote": quote,
			"isMarginTrade": true, "isBuyAllowed": true, "isSellAllowed": true})
	}
	c.ok(out)
}

func handleMarginAllAssets(c *call) {
	out := []obj{}
	for _, a := range c.st.coins() {
		if s := c.p.Get("asset"); s != "" && s != a {
			continue
		}
		out = append(out, obj{"assetFullName": a, "assetName": a, "isBorrowable": true, "isMortgageable": true,
			"userMinBorrow": "0.00000000", "userMinRepay": "0.00000000", "delistTime": nil})
	}
	c.ok(out)
}

// handleCoinConfig is GET /sapi/v1/capital/config/getall: every coin of
// the state with the caller's spot balance and its withdrawal networks
// (the ones POST /sapi/v1/capital/withdraw/apply accepts).
func handleCoinConfig(c *call) {
	out := []obj{}
	for _, coin := range c.st.coins() {
		b := c.acct.Spot[coin]
		if b == nil {
			b = &bal{}
		}
		nets := []obj{}
		for _, n := range networksOf(coin) {
			nets = append(nets, obj{"addressRegex": n.AddressRE, "coin": coin, "depositEnable": true, "isDefault": n.Default,
				"memoRegex": "", "minConfirm": 12, "name": n.Label, "network": n.Name, "resetAddressStatus": false,
				"specialTips": "", "unLockConfirm": 0, "withdrawEnable": true, "withdrawFee": fnum(n.Fee),
				"withdrawIntegerMultiple": "0.00000001", "withdrawMax": "9999999999", "withdrawMin": fnum(n.Min),
				"sameAddress": false, "estimatedArrivalTime": 5, "busy": false, "contractAddressUrl": "", "contractAddress": ""})
		}
		out = append(out, obj{"coin": coin, "depositAllEnable": true, "withdrawAllEnable": true, "name": coin,
			"free": f8(b.Free), "locked": f8(b.Locked), "freeze": "0", "withdrawing": "0", "ipoing": "0", "ipoable": "0",
			"storage": "0", "isLegalMoney": false, "trading": true, "networkList": nets})
	}
	c.ok(out)
}

func handleTradeFee(c *call) {
	out := []obj{}
	syms, ok := c.symbolsParam(mdSpot)
	if !ok {
		return
	}
	for _, s := range syms {
		out = append(out, obj{"symbol": s, "makerCommission": "0.001", "takerCommission": "0.001"})
	}
	c.ok(out)
}

// ---- futures metadata ----

func (c *call) premiumIndex(f mdFamily, sym string) obj {
	mark := c.st.price(sym)
	next := c.now.Truncate(8 * time.Hour).Add(8 * time.Hour)
	m := obj{"symbol": sym, "markPrice": c.st.px(f, sym, mark), "indexPrice": c.st.px(f, sym, mark*0.9998),
		"estimatedSettlePrice": c.st.px(f, sym, mark*0.9999), "lastFundingRate": "0.00010000", "interestRate": "0.00010000",
		"nextFundingTime": ms(next), "time": ms(c.now)}
	if f == mdCOINM {
		m["pair"] = pairOf(sym)
		if !strings.HasSuffix(sym, "_PERP") {
			m["lastFundingRate"], m["interestRate"], m["nextFundingTime"] = "", "", 0
		}
	}
	return m
}

func handlePremiumIndex(f mdFamily) func(*call) {
	return func(c *call) {
		syms, ok := c.symbolsParam(f)
		if !ok {
			return
		}
		if c.p.Get("symbol") != "" && f == mdUSDM {
			c.ok(c.premiumIndex(f, syms[0]))
			return
		}
		out := []obj{}
		for _, s := range syms {
			if p := c.p.Get("pair"); p != "" && pairOf(s) != p {
				continue
			}
			out = append(out, c.premiumIndex(f, s))
		}
		c.ok(out)
	}
}

// brackets are the leverage tiers every contract shares here.
var brackets = []struct {
	lev  int
	cap  float64
	mmr  float64
	qcap float64 // COIN-M: in coins
}{{75, 10000, 0.005, 5}, {50, 100000, 0.01, 10}, {25, 500000, 0.02, 50}, {10, 2000000, 0.05, 150}, {5, 10000000, 0.1, 500}}

func bracketsJSON(coinm bool) []obj {
	out := []obj{}
	floor, qfloor, cum := 0.0, 0.0, 0.0
	prevMMR := 0.0
	for i, b := range brackets {
		if coinm {
			cum += qfloor * (b.mmr - prevMMR)
			out = append(out, obj{"bracket": i + 1, "initialLeverage": b.lev, "qtyCap": b.qcap, "qtylFloor": qfloor,
				"maintMarginRatio": b.mmr, "cum": round(cum, 8)})
		} else {
			cum += floor * (b.mmr - prevMMR)
			out = append(out, obj{"bracket": i + 1, "initialLeverage": b.lev, "notionalCap": b.cap, "notionalFloor": floor,
				"maintMarginRatio": b.mmr, "cum": round(cum, 8)})
		}
		floor, qfloor, prevMMR = b.cap, b.qcap, b.mmr
	}
	return out
}

// handleLeverageBracket is GET /fapi/v1/leverageBracket, /dapi/v2/
// leverageBracket (by symbol) and, with byPair, /dapi/v1/leverageBracket.
func handleLeverageBracket(f mdFamily, byPair bool) func(*call) {
	return func(c *call) {
		known := c.st.mdSymbols(f)
		if s := c.p.Get("symbol"); s != "" && !known[s] {
			c.invalidSymbol()
			return
		}
		out := []obj{}
		seen := map[string]bool{}
		for _, s := range sortedKeys(known) {
			if want := c.p.Get("symbol"); want != "" && s != want {
				continue
			}
			if byPair {
				pair := pairOf(s)
				if seen[pair] || (c.p.Get("pair") != "" && c.p.Get("pair") != pair) {
					continue
				}
				seen[pair] = true
				out = append(out, obj{"pair": pair, "brackets": bracketsJSON(true)})
				continue
			}
			out = append(out, obj{"symbol": s, "brackets": bracketsJSON(f == mdCOINM)})
		}
		if c.p.Get("symbol") != "" && f == mdUSDM {
			c.ok(out[0])
			return
		}
		c.ok(out)
	}
}

func handleFundingRate(f mdFamily) func(*call) {
	return func(c *call) {
		limit, ok := c.intParam("limit", 100, 1, 1000)
		if !ok {
			return
		}
		syms, ok := c.symbolsParam(f)
		if !ok {
			return
		}
		out := []obj{}
		last := c.now.Truncate(8 * time.Hour)
		for _, s := range syms {
			if f == mdCOINM && !strings.HasSuffix(s, "_PERP") {
				continue
			}
			for i := min(limit, 3) - 1; i >= 0; i-- {
				out = append(out, obj{"symbol": s, "fundingTime": ms(last.Add(-time.Duration(i) * 8 * time.Hour)),
					"fundingRate": "0.00010000", "markPrice": c.st.px(f, s, c.st.price(s))})
			}
		}
		if len(out) > limit {
			out = out[len(out)-limit:]
		}
		c.ok(out)
	}
}

func handleOpenInterest(f mdFamily) func(*call) {
	return func(c *call) {
		sym, ok := c.requiredSymbol(c.st.mdSymbols(f))
		if !ok {
			return
		}
		r := c.st.mdRules(f, sym)
		m := obj{"symbol": sym, "openInterest": qx(f, math.Round(r.Step*80000*(1+seedOf(sym))/r.Step)*r.Step), "time": ms(c.now)}
		if f == mdCOINM {
			m["pair"], m["contractType"] = pairOf(sym), "PERPETUAL"
		}
		c.ok(m)
	}
}
