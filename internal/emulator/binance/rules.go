package binance

import (
	"math"
)

// symbolRules are one symbol's trading filters. exchangeInfo publishes
// them and the order endpoints enforce them, so a client that reads the
// filters and follows them is never refused.
type symbolRules struct {
	Tick, MinPrice, MaxPrice float64 // PRICE_FILTER
	Step, MinQty, MaxQty     float64 // LOT_SIZE
	MarketMaxQty             float64 // MARKET_LOT_SIZE (spot: step 0, min 0)
	MinNotional, MaxNotional float64 // spot NOTIONAL / futures MIN_NOTIONAL
	Up, Down                 float64 // spot PERCENT_PRICE_BY_SIDE / futures PERCENT_PRICE multipliers
	MaxOrders, MaxAlgo       int     // MAX_NUM_ORDERS, MAX_NUM_ALGO_ORDERS per symbol
}

// niceCeil rounds x up to one significant digit (0.000078 -> 0.00008).
func niceCeil(x float64) float64 {
	if x <= 0 {
		return 0
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	return round(math.Ceil(x/p-1e-9)*p, 12)
}

// spotRules are the filters of a spot (and margin) symbol: a tick of about
// six significant digits, a step worth about a tenth of a dollar, and a
// minimum notional of 5 USD expressed in the quote asset.
func (st *state) spotRules(sym string) symbolRules {
	price := st.price(sym)
	tick := tickFor(price)
	step := stepFor(st.symbolUSD(sym))
	minNotional, maxNotional := 5.0, 9000000.0
	if _, quote, ok := splitSymbol(sym); ok {
		if usd := st.usdValue(quote, 1); usd > 0 {
			minNotional, maxNotional = niceCeil(5/usd), niceCeil(9000000/usd)
		}
	}
	return symbolRules{Tick: tick, MinPrice: tick, MaxPrice: math.Max(1000000, price*100),
		Step: step, MinQty: step, MaxQty: 9000, MarketMaxQty: 100,
		MinNotional: minNotional, MaxNotional: maxNotional, Up: 5, Down: 0.2, MaxOrders: 200, MaxAlgo: 5}
}

// futuresRules are the filters of a USDⓈ-M (coinm false) or COIN-M
// contract.
func (st *state) futuresRules(sym string, coinm bool) symbolRules {
	price := st.price(sym)
	tick := tickFor(price) * 10
	r := symbolRules{Tick: tick, MinPrice: tick, MaxPrice: math.Max(1000000, price*100), Up: 1.05, Down: 0.95,
		MaxOrders: 200, MaxAlgo: 10}
	if coinm {
		r.Step, r.MinQty, r.MaxQty, r.MarketMaxQty = 1, 1, 1000000, 60000
		return r
	}
	step := stepFor(st.symbolUSD(sym)) * 10
	r.Step, r.MinQty, r.MaxQty, r.MarketMaxQty, r.MinNotional = step, step, 1000, 120, 100
	return r
}

// onStep reports whether x is a whole number of steps (with float slack).
func onStep(x, step float64) bool {
	if step <= 0 {
		return true
	}
	n := x / step
	return math.Abs(n-math.Round(n)) < 1e-6
}
