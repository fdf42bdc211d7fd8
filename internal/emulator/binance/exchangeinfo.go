package binance

import (
	"encoding/json"
	"math"
	"strings"
)

// tickFor is a realistic price tick: about six significant digits.
func tickFor(price float64) float64 {
	if price <= 0 {
		return 0.01
	}
	return math.Pow(10, math.Floor(math.Log10(price))-6)
}

// stepFor is a realistic quantity step: about a tenth of a dollar's worth.
func stepFor(usdPrice float64) float64 {
	if usdPrice <= 0 {
		return 0.001
	}
	s := math.Pow(10, math.Floor(math.Log10(1/usdPrice)))
	if s > 1 {
		return 1
	}
	return s
}

func decimals(x float64) int {
	d := int(math.Round(-math.Log10(x)))
	if d < 0 {
		return 0
	}
	return d
}

func (st *state) symbolUSD(sym string) float64 {
	base, _, ok := splitSymbol(sym)
	if !ok {
		return 0
	}
	return st.usdValue(base, 1)
}

func handleSpotExchangeInfo(c *call) {
	all := c.st.spotSymbols()
	var want []string
	if s := c.p.Get("symbol"); s != "" {
		want = []string{s}
	} else if s := c.p.Get("symbols"); s != "" {
		var list []string
		if err := json.Unmarshal([]byte(s), &list); err != nil {
			c.fail(400, -1100, "Illegal characters found in parameter 'symbols'; legal range is '^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\\]$'.")
			return
		}
		want = list
	} else {
		want = sortedKeys(all)
	}
	symbols := []obj{}
	for _, sym := range want {
		if !all[sym] {
			c.invalidSymbol()
			return
		}
		base, quote, _ := splitSymbol(sym)
		r := c.st.spotRules(sym)
		symbols = append(symbols, obj{
			"symbol": sym, "status": "TRADING", "baseAsset": base, "baseAssetPrecision": 8,
			"quoteAsset": quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
			"baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
			"orderTypes":     []string{"LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"},
			"icebergAllowed": true, "ocoAllowed": true, "otoAllowed": true,
			"quoteOrderQtyMarketAllowed": true, "allowTrailingStop": true, "cancelReplaceAllowed": true,
			"amendAllowed": true, "isSpotTradingAllowed": true, "isMarginTradingAllowed": true,
			"filters": []obj{
				{"filterType": "PRICE_FILTER", "minPrice": f8(r.MinPrice), "maxPrice": f8(r.MaxPrice), "tickSize": f8(r.Tick)},
				{"filterType": "LOT_SIZE", "minQty": f8(r.MinQty), "maxQty": f8(r.MaxQty), "stepSize": f8(r.Step)},
				{"filterType": "ICEBERG_PARTS", "limit": 10},
				{"filterType": "MARKET_LOT_SIZE", "minQty": f8(0), "maxQty": f8(r.MarketMaxQty), "stepSize": f8(0)},
				{"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000, "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
				{"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": fnum(r.Up), "bidMultiplierDown": fnum(r.Down), "askMultiplierUp": fnum(r.Up), "askMultiplierDown": fnum(r.Down), "avgPriceMins": 5},
				{"filterType": "NOTIONAL", "minNotional": f8(r.MinNotional), "applyMinToMarket": true, "maxNotional": f8(r.MaxNotional), "applyMaxToMarket": false, "avgPriceMins": 5},
				{"filterType": "MAX_NUM_ORDERS", "maxNumOrders": r.MaxOrders},
				{"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": r.MaxAlgo},
			},
			"permissions": []string{}, "permissionSets": [][]string{{"SPOT", "MARGIN", "TRD_GRP_004", "TRD_GRP_005"}},
			"defaultSelfTradePreventionMode":  "EXPIRE_MAKER",
			"allowedSelfTradePreventionModes": []string{"EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"},
		})
	}
	c.ok(obj{
		"timezone": "UTC", "serverTime": ms(c.now),
		"rateLimits": []obj{
			{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": c.st.limits.API},
			{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": c.st.limits.SpotOrders10S},
			{"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": c.st.limits.SpotOrders1D},
			{"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
		},
		"exchangeFilters": []obj{}, "symbols": symbols,
	})
}

// usdmSymbols: every USDⓈ-M symbol the state uses, plus each USDT/USDC
// spot price (perpetuals exist for the liquid pairs).
func (st *state) usdmSymbols() map[string]bool { return st.symbolSet(symUSDM, st.computeUSDMSymbols) }

func (st *state) computeUSDMSymbols() map[string]bool {
	out := map[string]bool{}
	for sym := range st.prices {
		if !strings.Contains(sym, "_") && (strings.HasSuffix(sym, "USDT") || strings.HasSuffix(sym, "USDC")) {
			out[sym] = true
		}
	}
	for _, a := range st.accounts {
		for _, o := range a.USDMOrders {
			out[o.Symbol] = true
		}
		for _, o := range a.AlgoOrders {
			out[o.Symbol] = true
		}
		for _, p := range a.USDMPositions {
			out[p.Symbol] = true
		}
		for _, t := range a.Trades {
			if t.Product == "usdm" {
				out[t.Symbol] = true
			}
		}
	}
	return out
}

// futuresSymbols is coinmSymbols when coinm is set, else usdmSymbols.
func (st *state) futuresSymbols(coinm bool) map[string]bool {
	if coinm {
		return st.coinmSymbols()
	}
	return st.usdmSymbols()
}

// coinmSymbols: every COIN-M contract the state uses or prices.
func (st *state) coinmSymbols() map[string]bool {
	return st.symbolSet(symCOINM, st.computeCOINMSymbols)
}

func (st *state) computeCOINMSymbols() map[string]bool {
	out := map[string]bool{}
	for sym := range st.prices {
		if strings.Contains(sym, "_") {
			out[sym] = true
		}
	}
	for _, a := range st.accounts {
		for _, o := range a.COINMOrders {
			out[o.Symbol] = true
		}
		for _, p := range a.COINMPositions {
			out[p.Symbol] = true
		}
		for _, t := range a.Trades {
			if t.Product == "coinm" {
				out[t.Symbol] = true
			}
		}
	}
	return out
}

var futuresOrderTypes = []string{"LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"}

func handleUSDMExchangeInfo(c *call) {
	symbols := []obj{}
	assets := map[string]bool{}
	for _, sym := range sortedKeys(c.st.usdmSymbols()) {
		base, quote, _ := splitSymbol(sym)
		assets[quote] = true
		r := c.st.futuresRules(sym, false)
		symbols = append(symbols, obj{
			"symbol": sym, "pair": sym, "contractType": "PERPETUAL", "deliveryDate": int64(4133404800000),
			"onboardDate": int64(1569398400000), "status": "TRADING", "maintMarginPercent": "2.5000",
			"requiredMarginPercent": "5.0000", "baseAsset": base, "quoteAsset": quote, "marginAsset": quote,
			"pricePrecision": decimals(r.Tick), "quantityPrecision": decimals(r.Step), "baseAssetPrecision": 8,
			"quotePrecision": 8, "underlyingType": "COIN", "underlyingSubType": []string{}, "settlePlan": 0,
			"triggerProtect": "0.0500", "liquidationFee": "0.012500", "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
			"filters": []obj{
				{"filterType": "PRICE_FILTER", "minPrice": fnum(r.MinPrice), "maxPrice": fnum(r.MaxPrice), "tickSize": fnum(r.Tick)},
				{"filterType": "LOT_SIZE", "minQty": fnum(r.MinQty), "maxQty": fnum(r.MaxQty), "stepSize": fnum(r.Step)},
				{"filterType": "MARKET_LOT_SIZE", "minQty": fnum(r.MinQty), "maxQty": fnum(r.MarketMaxQty), "stepSize": fnum(r.Step)},
				{"filterType": "MAX_NUM_ORDERS", "limit": r.MaxOrders},
				{"filterType": "MAX_NUM_ALGO_ORDERS", "limit": r.MaxAlgo},
				{"filterType": "MIN_NOTIONAL", "notional": fnum(r.MinNotional)},
				{"filterType": "PERCENT_PRICE", "multiplierUp": fd(r.Up, 4), "multiplierDown": fd(r.Down, 4), "multiplierDecimal": "4"},
			},
			"orderTypes": futuresOrderTypes, "timeInForce": []string{"GTC", "IOC", "FOK", "GTX", "GTD"},
			"permissionSets": []string{"GRID", "COPY"},
		})
	}
	assetList := []obj{}
	for _, a := range sortedKeys(assets) {
		assetList = append(assetList, obj{"asset": a, "marginAvailable": true, "autoAssetExchange": "-10000"})
	}
	c.ok(obj{
		"timezone": "UTC", "serverTime": ms(c.now), "futuresType": "U_MARGINED",
		"rateLimits": []obj{
			{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": c.st.limits.FAPI},
			{"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": c.st.limits.FutOrders1M},
			{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": c.st.limits.FutOrders10S},
		},
		"exchangeFilters": []obj{}, "assets": assetList, "symbols": symbols,
	})
}

func handleCOINMExchangeInfo(c *call) {
	symbols := []obj{}
	for _, sym := range sortedKeys(c.st.coinmSymbols()) {
		pair := pairOf(sym)
		base := strings.TrimSuffix(pair, "USD")
		r := c.st.futuresRules(sym, true)
		contractType, delivery := "PERPETUAL", int64(4133404800000)
		if !strings.HasSuffix(sym, "_PERP") {
			contractType, delivery = "CURRENT_QUARTER", int64(1767254400000)
		}
		symbols = append(symbols, obj{
			"symbol": sym, "pair": pair, "contractType": contractType, "deliveryDate": delivery,
			"onboardDate": int64(1597042800000), "contractStatus": "TRADING", "contractSize": int(contractSize(sym)),
			"marginAsset": base, "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
			"baseAsset": base, "quoteAsset": "USD", "pricePrecision": decimals(r.Tick), "quantityPrecision": 0,
			"baseAssetPrecision": 8, "quotePrecision": 8, "equalQtyPrecision": 4, "triggerProtect": "0.0500",
			"maxMoveOrderLimit": 10000, "underlyingType": "COIN", "underlyingSubType": []string{},
			"liquidationFee": "0.015000", "marketTakeBound": "0.05",
			"filters": []obj{
				{"filterType": "PRICE_FILTER", "minPrice": fnum(r.MinPrice), "maxPrice": fnum(r.MaxPrice), "tickSize": fnum(r.Tick)},
				{"filterType": "LOT_SIZE", "minQty": fnum(r.MinQty), "maxQty": fnum(r.MaxQty), "stepSize": fnum(r.Step)},
				{"filterType": "MARKET_LOT_SIZE", "minQty": fnum(r.MinQty), "maxQty": fnum(r.MarketMaxQty), "stepSize": fnum(r.Step)},
				{"filterType": "MAX_NUM_ORDERS", "limit": r.MaxOrders},
				{"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500", "multiplierDecimal": 4},
			},
			"orderTypes": futuresOrderTypes, "timeInForce": []string{"GTC", "IOC", "FOK", "GTX"},
		})
	}
	c.ok(obj{
		"timezone": "UTC", "serverTime": ms(c.now),
		"rateLimits": []obj{
			{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": c.st.limits.DAPI},
			{"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": c.st.limits.FutOrders1M},
		},
		"exchangeFilters": []obj{}, "symbols": symbols,
	})
}
