package executors

import (
	"strconv"
	"strings"
)

// Exposure is roughly what an open order puts at risk, in US dollars: the
// value a cancel takes off the market. Under a scarce rate budget the
// cancels of the most exposed symbols go first (issue 12 item 3).
//
//   - An order quoted in a dollar stablecoin (BTCUSDT, ETH-USDC, XBTUSDTM)
//     is worth price × quantity. KuCoin futures quantities are contracts of
//     an unknown multiplier: price × contracts still ranks them.
//   - A coin-margined contract (Binance COIN-M) is worth its face value:
//     100 USD for BTC, 10 USD for the others.
//   - An order quoted in another coin (ETHBTC) is worth 0 here: its value
//     in dollars is unknown without a price, so it goes after the known
//     ones (it is cancelled all the same).
func Exposure(o Order) float64 {
	qty := parseAmount(o.Qty)
	if o.Product == ProductCoinM {
		if strings.HasPrefix(o.Symbol, "BTC") {
			return qty * 100
		}
		return qty * 10
	}
	if !dollarQuoted(o.Symbol) {
		return 0
	}
	return parseAmount(o.Price) * qty
}

// dollarQuotes are the quote assets counted as dollars, longest first
// (so that BTCFDUSD is not read as quoted in USD).
var dollarQuotes = []string{"FDUSD", "USDT", "USDC", "TUSD", "BUSD", "USD"}

// dollarQuoted reads Binance (BTCUSDT, BTCUSD_PERP) and KuCoin (BTC-USDT,
// XBTUSDTM: the M of a futures contract dropped) symbols.
func dollarQuoted(symbol string) bool {
	s := strings.ToUpper(strings.TrimSuffix(strings.TrimSuffix(symbol, "_PERP"), "M"))
	s = strings.ReplaceAll(s, "-", "")
	for _, q := range dollarQuotes {
		if strings.HasSuffix(s, q) && len(s) > len(q) {
			return true
		}
	}
	return false
}

func parseAmount(s string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 || f != f {
		return 0
	}
	return f
}
