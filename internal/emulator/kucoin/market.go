package kucoin

import (
	"math/big"
	"sort"
	"time"
)

// Public market data consistent with the symbols and contracts the state
// uses, shaped like KuCoin's so general-purpose clients (ccxt) load it.

func increment(price string) string {
	p, ok := parseRat(price)
	if !ok {
		return "0.0001"
	}
	switch {
	case p.Cmp(big.NewRat(1000, 1)) >= 0:
		return "0.1"
	case p.Cmp(big.NewRat(10, 1)) >= 0:
		return "0.01"
	case p.Cmp(big.NewRat(1, 1)) >= 0:
		return "0.001"
	}
	return "0.00001"
}

func (w *world) symbolJSON(sym string, v2 bool) map[string]any {
	base, quote := baseOf(sym), quoteOf(sym)
	market := quote
	if quote == "USDC" || quote == "USDT" {
		market = "USDS"
	}
	m := map[string]any{
		"symbol": sym, "name": sym, "baseCurrency": base, "quoteCurrency": quote, "feeCurrency": quote, "market": market,
		"baseMinSize": ruleBaseMin, "quoteMinSize": ruleQuoteMin, "baseMaxSize": ruleBaseMax, "quoteMaxSize": ruleQuoteMax,
		"baseIncrement": ruleBaseInc, "quoteIncrement": ruleQuoteInc, "priceIncrement": increment(w.priceOf(sym)),
		"priceLimitRate": "0.1", "minFunds": ruleMinFunds, "isMarginEnabled": w.marginEnabled(sym), "enableTrading": true,
		"feeCategory": 1, "makerFeeCoefficient": "1.00", "takerFeeCoefficient": "1.00", "st": false,
		"callauctionIsEnabled": false, "callauctionPriceFloor": nil, "callauctionPriceCeiling": nil,
		"callauctionFirstStageStartTime": nil, "callauctionSecondStageStartTime": nil,
		"callauctionThirdStageStartTime": nil, "tradingStartTime": nil,
	}
	if !v2 {
		delete(m, "minFunds")
	}
	return m
}

func (w *world) marginEnabled(sym string) bool {
	switch baseOf(sym) {
	case "BTC", "ETH", "SOL", "XRP", "DOGE", "ADA", "LTC", "DOT", "LINK", "AVAX", "TRX":
		return quoteOf(sym) == "USDT"
	}
	return false
}

func (c *call) symbols() []map[string]any {
	market := c.param("market")
	out := []map[string]any{}
	for _, s := range c.w.symbols {
		m := c.w.symbolJSON(s, true)
		if market != "" && m["market"] != market {
			continue
		}
		out = append(out, m)
	}
	return out
}

func hSymbolsV2(c *call) (any, *apiError) { return c.symbols(), nil }

func hSymbolsV1(c *call) (any, *apiError) {
	out := c.symbols()
	for _, m := range out {
		delete(m, "minFunds")
	}
	return out, nil
}

func hSymbol(c *call) (any, *apiError) {
	sym := c.r.PathValue("symbol")
	if !contains(c.w.symbols, sym) {
		return nil, badParam("symbol %s does not exist", sym)
	}
	return c.w.symbolJSON(sym, true), nil
}

// currencies lists every currency of the state: symbol legs, balances,
// withdrawals.
func (w *world) currencies() []string {
	seen := map[string]bool{}
	for _, s := range w.symbols {
		seen[baseOf(s)], seen[quoteOf(s)] = true, true
	}
	for _, u := range w.users {
		for _, acc := range u.balances {
			for c := range acc {
				seen[c] = true
			}
		}
		for c := range u.margin {
			seen[c] = true
		}
		for _, wd := range u.withdrawals {
			seen[wd.currency] = true
		}
	}
	out := make([]string, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

var fullNames = map[string]string{
	"BTC": "Bitcoin", "ETH": "Ethereum", "USDT": "Tether", "USDC": "USD Coin", "SOL": "Solana", "XRP": "XRP",
	"KCS": "KuCoin Token", "DOGE": "Dogecoin", "ADA": "Cardano", "TRX": "TRON", "LTC": "Litecoin", "DOT": "Polkadot",
	"LINK": "Chainlink", "AVAX": "Avalanche",
}

func (w *world) currencyJSON(cur string) map[string]any {
	chains := []map[string]any{}
	for _, ch := range chainsOf(cur) {
		chains = append(chains, map[string]any{
			"chainName": ch.name, "withdrawalMinSize": ch.min, "depositMinSize": "0.0001", "withdrawFeeRate": "0",
			"withdrawalMinFee": ch.fee, "isWithdrawEnabled": true, "isDepositEnabled": true, "confirms": 12, "preConfirms": 6,
			"contractAddress": "", "withdrawPrecision": 8, "maxWithdraw": nil, "maxDeposit": nil, "needTag": false,
			"chainId": ch.id, "depositFeeRate": nil, "withdrawMaxFee": nil, "depositTierFee": nil,
		})
	}
	return map[string]any{
		"currency": cur, "name": cur, "fullName": orDefault(fullNames[cur], cur), "precision": 8, "confirms": nil,
		"contractAddress": nil, "isMarginEnabled": true, "isDebitEnabled": true, "chains": chains,
	}
}

func hCurrencies(c *call) (any, *apiError) {
	out := []map[string]any{}
	for _, cur := range c.w.currencies() {
		out = append(out, c.w.currencyJSON(cur))
	}
	return out, nil
}

func hCurrency(c *call) (any, *apiError) {
	cur := c.r.PathValue("currency")
	if !contains(c.w.currencies(), cur) {
		return nil, badParam("currency %s does not exist", cur)
	}
	return c.w.currencyJSON(cur), nil
}

func hAllTickers(c *call) (any, *apiError) {
	out := []map[string]any{}
	for _, s := range c.w.symbols {
		p := c.w.priceOf(s)
		out = append(out, map[string]any{
			"symbol": s, "symbolName": s, "buy": p, "bestBidSize": "1", "sell": p, "bestAskSize": "1", "changeRate": "0",
			"changePrice": "0", "high": p, "low": p, "vol": "1000", "volValue": "1000", "last": p, "averagePrice": p,
			"takerFeeRate": "0.001", "makerFeeRate": "0.001", "takerCoefficient": "1", "makerCoefficient": "1",
		})
	}
	return map[string]any{"time": c.now.UnixMilli(), "ticker": out}, nil
}

func hContracts(c *call) (any, *apiError) {
	out := []map[string]any{}
	for _, s := range c.w.contracts {
		out = append(out, c.w.contractJSON(s))
	}
	return out, nil
}

func (w *world) contractJSON(s string) map[string]any {
	base, settle := contractBase(s), contractSettle(s)
	linear := isLinear(s)
	quote := "USD"
	if linear {
		quote = settle
	}
	mult := 0.001
	if !linear {
		mult = -1
	}
	p := w.contractPrice(s)
	return map[string]any{
		"symbol": s, "rootSymbol": settle, "type": "FFWCSX", "firstOpenDate": int64(1585555200000), "expireDate": nil,
		"settleDate": nil, "baseCurrency": base, "quoteCurrency": quote, "settleCurrency": settle, "maxOrderQty": 1000000,
		"maxPrice": 1000000.0, "lotSize": 1, "tickSize": ratFloat(ratOr(dec(increment(p)), "0.1")), "indexPriceTickSize": 0.01,
		"multiplier": mult, "initialMargin": 0.008, "maintainMargin": 0.004, "maxRiskLimit": 100000, "minRiskLimit": 100000,
		"riskStep": 50000, "makerFeeRate": 0.0002, "takerFeeRate": 0.0006, "takerFixFee": 0, "makerFixFee": 0,
		"settlementFee": nil, "isDeleverage": true, "isQuanto": false, "isInverse": !linear, "markMethod": "FairPrice",
		"fairMethod": "FundingRate", "fundingBaseSymbol": "." + base + "INT8H", "fundingQuoteSymbol": "." + quote + "INT8H",
		"fundingRateSymbol": "." + s + "FPI8H", "indexSymbol": "." + s, "settlementSymbol": "", "status": "Open",
		"fundingFeeRate": 0.0001, "predictedFundingFeeRate": 0.0001, "fundingRateGranularity": 28800000,
		"openInterest": "1000000", "turnoverOf24h": 1e8, "volumeOf24h": 1000.0, "markPrice": ratFloat(ratOr(dec(p), "1")),
		"indexPrice": ratFloat(ratOr(dec(p), "1")), "lastTradePrice": ratFloat(ratOr(dec(p), "1")),
		"nextFundingRateTime": int64(8 * time.Hour / time.Millisecond), "maxLeverage": 125, "sourceExchanges": []string{"binance", "okex"},
		"premiumsSymbol1M": ".XBTUSDTMPI", "premiumsSymbol8H": ".XBTUSDTMPI8H", "fundingBaseSymbol1M": ".XBTINT",
		"fundingQuoteSymbol1M": ".USDTINT", "lowPrice": ratFloat(ratOr(dec(p), "1")), "highPrice": ratFloat(ratOr(dec(p), "1")),
		"priceChgPct": 0, "priceChg": 0, "k": 490, "m": 300, "f": 1.3, "mmrLimit": 0.3, "mmrLevConstant": 125,
		"supportCross": true, "buyLimit": 1e6, "sellLimit": 0,
	}
}
