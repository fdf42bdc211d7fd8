package kucoin

import (
	"math/big"
	"sort"
	"strconv"
	"time"
)

// The public start-up surface a general-purpose client calls when it
// loads markets (spot, cross and isolated margin, futures), tickers,
// books, trades, candles, fiat prices and the service status. Everything
// derives from the price table: the table price is the last trade and the
// mark; the book is one price increment either side; candles are flat at
// it. Paths and weights: KuCoin's universal SDK spec (spot/market,
// margin/market, futures/market).

// publicSpotRoutes are the spot host's public market endpoints.
func publicSpotRoutes() []route {
	return []route{
		{"GET", "/api/v1/status", poolPublic, 3, pub, "", false, hStatus},
		{"GET", "/api/v1/markets", poolPublic, 3, pub, "", false, hMarkets},
		{"GET", "/api/v1/currencies", poolPublic, 3, pub, "", false, hCurrencies},
		{"GET", "/api/v1/currencies/{currency}", poolPublic, 3, pub, "", false, hCurrency},
		{"GET", "/api/v2/currencies/{currency}", poolPublic, 3, pub, "", false, hCurrency},
		{"GET", "/api/v1/market/orderbook/level1", poolPublic, 2, pub, "", false, hLevel1},
		{"GET", "/api/v1/market/stats", poolPublic, 15, pub, "", false, hStats},
		{"GET", "/api/v1/market/orderbook/level2_20", poolPublic, 2, pub, "", false, hSpotBook},
		{"GET", "/api/v1/market/orderbook/level2_100", poolPublic, 2, pub, "", false, hSpotBook},
		{"GET", "/api/v1/market/histories", poolPublic, 3, pub, "", false, hSpotTrades},
		{"GET", "/api/v1/market/candles", poolPublic, 3, pub, "", false, hSpotCandles},
		{"GET", "/api/v1/prices", poolPublic, 3, pub, "", false, hFiatPrices},
		{"GET", "/api/v3/margin/symbols", poolPublic, 3, pub, "", false, hCrossSymbols},
		{"GET", "/api/v1/isolated/symbols", poolPublic, 3, pub, "", false, hIsolatedSymbols},
		{"GET", "/api/v1/margin/config", poolPublic, 25, pub, "", false, hMarginConfig},
		{"GET", "/api/v3/mark-price/all-symbols", poolPublic, 10, pub, "", false, hMarginMarkAll},
		{"GET", "/api/v1/mark-price/{symbol}/current", poolPublic, 2, pub, "", false, hMarginMark},
	}
}

// publicFuturesRoutes are the futures host's public market endpoints.
func publicFuturesRoutes() []route {
	return []route{
		{"GET", "/api/v1/status", poolPublic, 4, pub, "", false, hStatus},
		{"GET", "/api/v1/contracts/{symbol}", poolPublic, 3, pub, "", false, hContract},
		{"GET", "/api/v1/ticker", poolPublic, 2, pub, "", false, hFutTicker},
		{"GET", "/api/v1/allTickers", poolPublic, 5, pub, "", false, hFutAllTickers},
		{"GET", "/api/v1/level2/snapshot", poolPublic, 3, pub, "", false, hFutBook},
		{"GET", "/api/v1/level2/depth20", poolPublic, 5, pub, "", false, hFutBook},
		{"GET", "/api/v1/level2/depth100", poolPublic, 5, pub, "", false, hFutBook},
		{"GET", "/api/v1/trade/history", poolPublic, 5, pub, "", false, hFutTrades},
		{"GET", "/api/v1/kline/query", poolPublic, 3, pub, "", false, hFutCandles},
		{"GET", "/api/v1/mark-price/{symbol}/current", poolPublic, 3, pub, "", false, hFutMark},
		{"GET", "/api/v1/index/query", poolPublic, 2, pub, "", false, hFutIndex},
		{"GET", "/api/v1/funding-rate/{symbol}/current", poolPublic, 2, pub, "", false, hFutFunding},
		{"GET", "/api/v1/trade-statistics", poolPublic, 3, pub, "", false, hFutStats},
		{"GET", "/api/v1/contracts/risk-limit/{symbol}", poolPublic, 5, pub, "", false, hFutRiskLimit},
	}
}

func hStatus(c *call) (any, *apiError) { return map[string]string{"status": "open", "msg": ""}, nil }

func hMarkets(c *call) (any, *apiError) {
	seen := map[string]bool{}
	out := []string{}
	for _, s := range c.w.symbols {
		m, _ := c.w.symbolJSON(s, true)["market"].(string)
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out, nil
}

// spotSymbol reads the required, known symbol parameter.
func (c *call) spotSymbol() (string, *apiError) {
	sym := c.param("symbol")
	if sym == "" {
		return "", badParam("symbol is required")
	}
	if !contains(c.w.symbols, sym) {
		return "", errNoSymbol
	}
	return sym, nil
}

// bidAsk is the book around the table price: one increment either side.
func bidAsk(px, inc *big.Rat) (bid, ask *big.Rat) {
	bid = new(big.Rat).Sub(px, inc)
	if bid.Sign() <= 0 {
		bid = new(big.Rat).Set(inc)
	}
	return bid, new(big.Rat).Add(px, inc)
}

func (w *world) spotBidAsk(sym string) (px, bid, ask *big.Rat) {
	px = rat(w.priceOf(sym))
	bid, ask = bidAsk(px, rat(increment(w.priceOf(sym))))
	return px, bid, ask
}

func hLevel1(c *call) (any, *apiError) {
	sym, aerr := c.spotSymbol()
	if aerr != nil {
		return nil, aerr
	}
	px, bid, ask := c.w.spotBidAsk(sym)
	return map[string]any{
		"time": c.now.UnixMilli(), "sequence": strconv.FormatInt(c.now.UnixMilli(), 10), "price": ratString(px), "size": "0.01",
		"bestBid": ratString(bid), "bestBidSize": "1", "bestAsk": ratString(ask), "bestAskSize": "1",
	}, nil
}

func hStats(c *call) (any, *apiError) {
	sym, aerr := c.spotSymbol()
	if aerr != nil {
		return nil, aerr
	}
	px, bid, ask := c.w.spotBidAsk(sym)
	p := ratString(px)
	return map[string]any{
		"time": c.now.UnixMilli(), "symbol": sym, "buy": ratString(bid), "sell": ratString(ask), "changeRate": "0", "changePrice": "0",
		"high": p, "low": p, "vol": "1000", "volValue": ratString(new(big.Rat).Mul(px, big.NewRat(1000, 1))), "last": p,
		"averagePrice": p, "takerFeeRate": "0.001", "makerFeeRate": "0.001", "takerCoefficient": "1", "makerCoefficient": "1",
	}, nil
}

// levels is n book levels from start, stepping by step (negative for bids).
func levels(start, step *big.Rat, n int) [][]string {
	out := [][]string{}
	p := new(big.Rat).Set(start)
	for i := 0; i < n && p.Sign() > 0; i++ {
		out = append(out, []string{ratString(p), "1"})
		p = new(big.Rat).Add(p, step)
	}
	return out
}

func hSpotBook(c *call) (any, *apiError) {
	sym, aerr := c.spotSymbol()
	if aerr != nil {
		return nil, aerr
	}
	n := 20
	if c.r.URL.Path[len(c.r.URL.Path)-3:] == "100" {
		n = 100
	}
	_, bid, ask := c.w.spotBidAsk(sym)
	inc := rat(increment(c.w.priceOf(sym)))
	return map[string]any{
		"time": c.now.UnixMilli(), "sequence": strconv.FormatInt(c.now.UnixMilli(), 10),
		"bids": levels(bid, new(big.Rat).Neg(inc), n), "asks": levels(ask, inc, n),
	}, nil
}

func hSpotTrades(c *call) (any, *apiError) {
	sym, aerr := c.spotSymbol()
	if aerr != nil {
		return nil, aerr
	}
	p := c.w.priceOf(sym)
	out := []map[string]any{}
	for i := 0; i < 3; i++ {
		t := c.now.Add(-time.Duration(i) * time.Second)
		side := "buy"
		if i%2 == 1 {
			side = "sell"
		}
		out = append(out, map[string]any{"sequence": strconv.FormatInt(t.UnixMilli(), 10), "price": p, "size": "0.01", "side": side, "time": t.UnixNano()})
	}
	return out, nil
}

var candleSeconds = map[string]int64{
	"1min": 60, "3min": 180, "5min": 300, "15min": 900, "30min": 1800, "1hour": 3600, "2hour": 7200, "4hour": 14400,
	"6hour": 21600, "8hour": 28800, "12hour": 43200, "1day": 86400, "1week": 604800, "1month": 2592000,
}

func hSpotCandles(c *call) (any, *apiError) {
	sym, aerr := c.spotSymbol()
	if aerr != nil {
		return nil, aerr
	}
	step, ok := candleSeconds[c.param("type")]
	if !ok {
		return nil, badParam("type is invalid")
	}
	p := c.w.priceOf(sym)
	end := c.now.Unix() / step * step
	out := [][]string{}
	for i := int64(0); i < 10; i++ {
		t := end - i*step
		out = append(out, []string{strconv.FormatInt(t, 10), p, p, p, p, "10", ratString(new(big.Rat).Mul(rat(p), big.NewRat(10, 1)))})
	}
	return out, nil
}

func hFiatPrices(c *call) (any, *apiError) {
	if b := c.param("base"); b != "" && b != "USD" {
		return nil, badParam("base %s is not supported (the emulator prices in USD)", b)
	}
	want := idFilter(c.param("currencies"))
	out := map[string]string{}
	for _, cur := range c.w.currencies() {
		if want != nil && !want[cur] {
			continue
		}
		if p := c.w.prices[cur]; p != nil {
			out[cur] = ratString(p)
		}
	}
	return out, nil
}

func (w *world) marginSymbols() []string {
	var out []string
	for _, s := range w.symbols {
		if w.marginEnabled(s) {
			out = append(out, s)
		}
	}
	return out
}

func hCrossSymbols(c *call) (any, *apiError) {
	want := c.param("symbol")
	items := []map[string]any{}
	for _, s := range c.w.marginSymbols() {
		if want != "" && s != want {
			continue
		}
		m := c.w.symbolJSON(s, true)
		items = append(items, map[string]any{
			"symbol": s, "name": s, "enableTrading": true, "market": m["market"], "baseCurrency": baseOf(s), "quoteCurrency": quoteOf(s),
			"baseIncrement": ruleBaseInc, "baseMinSize": ruleBaseMin, "quoteIncrement": ruleQuoteInc, "quoteMinSize": ruleQuoteMin,
			"baseMaxSize": ruleBaseMax, "quoteMaxSize": ruleQuoteMax, "priceIncrement": m["priceIncrement"], "feeCurrency": quoteOf(s),
			"priceLimitRate": "0.1", "minFunds": ruleMinFunds,
		})
	}
	return map[string]any{"timestamp": c.now.UnixMilli(), "items": items}, nil
}

func hIsolatedSymbols(c *call) (any, *apiError) {
	out := []map[string]any{}
	for _, s := range c.w.marginSymbols() {
		out = append(out, map[string]any{
			"symbol": s, "symbolName": s, "baseCurrency": baseOf(s), "quoteCurrency": quoteOf(s), "maxLeverage": maxMarginLeverage,
			"flDebtRatio": "0.97", "tradeEnable": true, "autoRenewMaxDebtRatio": "0.96", "baseBorrowEnable": true,
			"quoteBorrowEnable": true, "baseTransferInEnable": true, "quoteTransferInEnable": true,
			"baseBorrowCoefficient": "1", "quoteBorrowCoefficient": "1",
		})
	}
	return out, nil
}

func hMarginConfig(c *call) (any, *apiError) {
	seen := map[string]bool{}
	cur := []string{}
	for _, s := range c.w.marginSymbols() {
		for _, x := range []string{baseOf(s), quoteOf(s)} {
			if !seen[x] {
				seen[x] = true
				cur = append(cur, x)
			}
		}
	}
	sort.Strings(cur)
	return map[string]any{"currencyList": cur, "maxLeverage": maxMarginLeverage, "warningDebtRatio": "0.95", "liqDebtRatio": "0.97"}, nil
}

func (w *world) marginMark(sym string, now time.Time) map[string]any {
	return map[string]any{"symbol": sym, "timePoint": now.UnixMilli(), "value": ratFloat(rat(w.priceOf(sym)))}
}

func hMarginMarkAll(c *call) (any, *apiError) {
	out := []map[string]any{}
	for _, s := range c.w.marginSymbols() {
		out = append(out, c.w.marginMark(s, c.now))
	}
	return out, nil
}

func hMarginMark(c *call) (any, *apiError) {
	sym := c.r.PathValue("symbol")
	if !contains(c.w.marginSymbols(), sym) {
		return nil, errNoSymbol
	}
	return c.w.marginMark(sym, c.now), nil
}

// ---- futures ----

// futSymbol reads the contract from the symbol query parameter or path.
func (c *call) futSymbol() (string, *apiError) {
	sym := c.r.PathValue("symbol")
	if sym == "" {
		sym = c.param("symbol")
	}
	if sym == "" {
		return "", badParam("symbol is required")
	}
	if !contains(c.w.contracts, sym) {
		return "", errNoContract(sym)
	}
	return sym, nil
}

func hContract(c *call) (any, *apiError) {
	sym, aerr := c.futSymbol()
	if aerr != nil {
		return nil, aerr
	}
	return c.w.contractJSON(sym), nil
}

func (c *call) futTicker(sym string) map[string]any {
	px := rat(c.w.contractPrice(sym))
	bid, ask := bidAsk(px, rat(increment(c.w.contractPrice(sym))))
	return map[string]any{
		"sequence": c.now.UnixMilli(), "symbol": sym, "side": "buy", "size": 1, "tradeId": strconv.FormatInt(c.now.UnixMilli(), 10),
		"price": ratString(px), "bestBidPrice": ratString(bid), "bestBidSize": 10, "bestAskPrice": ratString(ask), "bestAskSize": 10,
		"ts": c.now.UnixNano(),
	}
}

func hFutTicker(c *call) (any, *apiError) {
	sym, aerr := c.futSymbol()
	if aerr != nil {
		return nil, aerr
	}
	return c.futTicker(sym), nil
}

func hFutAllTickers(c *call) (any, *apiError) {
	out := []map[string]any{}
	for _, s := range c.w.contracts {
		out = append(out, c.futTicker(s))
	}
	return out, nil
}

func hFutBook(c *call) (any, *apiError) {
	sym, aerr := c.futSymbol()
	if aerr != nil {
		return nil, aerr
	}
	n := 20
	switch c.r.URL.Path[len(c.r.URL.Path)-3:] {
	case "100", "hot": // depth100, snapshot
		n = 100
	}
	px := rat(c.w.contractPrice(sym))
	inc := rat(increment(c.w.contractPrice(sym)))
	bid, ask := bidAsk(px, inc)
	num := func(ls [][]string) [][]any {
		out := [][]any{}
		for _, l := range ls {
			out = append(out, []any{ratFloat(rat(l[0])), 10})
		}
		return out
	}
	return map[string]any{"symbol": sym, "sequence": c.now.UnixMilli(), "bids": num(levels(bid, new(big.Rat).Neg(inc), n)),
		"asks": num(levels(ask, inc, n)), "ts": c.now.UnixNano()}, nil
}

func hFutTrades(c *call) (any, *apiError) {
	sym, aerr := c.futSymbol()
	if aerr != nil {
		return nil, aerr
	}
	p := c.w.contractPrice(sym)
	out := []map[string]any{}
	for i := 0; i < 3; i++ {
		t := c.now.Add(-time.Duration(i) * time.Second)
		out = append(out, map[string]any{"sequence": t.UnixMilli(), "contractId": 1, "tradeId": strconv.FormatInt(t.UnixMilli(), 10),
			"makerOrderId": hashHex("mk", sym, t.String())[:24], "takerOrderId": hashHex("tk", sym, t.String())[:24], "ts": t.UnixNano(),
			"size": 1, "price": p, "side": "buy"})
	}
	return out, nil
}

func hFutCandles(c *call) (any, *apiError) {
	sym, aerr := c.futSymbol()
	if aerr != nil {
		return nil, aerr
	}
	g, err := strconv.ParseInt(c.param("granularity"), 10, 64)
	switch g {
	case 1, 5, 15, 30, 60, 120, 240, 480, 720, 1440, 10080:
	default:
		err = strconv.ErrSyntax
	}
	if err != nil {
		return nil, badParam("granularity is invalid")
	}
	p := ratFloat(rat(c.w.contractPrice(sym)))
	step := g * 60000
	end := c.now.UnixMilli() / step * step
	out := [][]any{}
	for i := int64(9); i >= 0; i-- {
		out = append(out, []any{end - i*step, p, p, p, p, 100})
	}
	return out, nil
}

func hFutMark(c *call) (any, *apiError) {
	sym, aerr := c.futSymbol()
	if aerr != nil {
		return nil, aerr
	}
	p := ratFloat(rat(c.w.contractPrice(sym)))
	return map[string]any{"symbol": sym, "granularity": 1000, "timePoint": c.now.UnixMilli(), "value": p, "indexPrice": p}, nil
}

func hFutIndex(c *call) (any, *apiError) {
	sym, aerr := c.futSymbol()
	if aerr != nil {
		return nil, aerr
	}
	p := ratFloat(rat(c.w.contractPrice(sym)))
	item := map[string]any{"symbol": "." + sym, "granularity": 1000, "timePoint": c.now.UnixMilli(), "value": p,
		"decomposionList": []map[string]any{{"exchange": "kucoin", "price": p, "weight": 1}}}
	return map[string]any{"dataList": []any{item}, "hasMore": false}, nil
}

func hFutFunding(c *call) (any, *apiError) {
	sym, aerr := c.futSymbol()
	if aerr != nil {
		return nil, aerr
	}
	return map[string]any{"symbol": "." + sym + "FPI8H", "granularity": 28800000, "timePoint": c.now.Truncate(8 * time.Hour).UnixMilli(),
		"value": 0.0001, "predictedValue": 0.0001, "fundingRateCap": 0.003, "fundingRateFloor": -0.003}, nil
}

func hFutStats(c *call) (any, *apiError) {
	return map[string]any{"turnoverOf24h": 1e8}, nil
}

func hFutRiskLimit(c *call) (any, *apiError) {
	sym, aerr := c.futSymbol()
	if aerr != nil {
		return nil, aerr
	}
	out := []map[string]any{}
	for i, lev := range []int{125, 100, 75, 50, 20, 10, 5} {
		out = append(out, map[string]any{"symbol": sym, "level": i + 1, "maxRiskLimit": 100000 * (i + 1), "minRiskLimit": 100000 * i,
			"maxLeverage": lev, "initialMargin": 1 / float64(lev), "maintainMargin": 0.5 / float64(lev)})
	}
	return out, nil
}
