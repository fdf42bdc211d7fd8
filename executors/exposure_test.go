package executors

import "testing"

func TestExposure(t *testing.T) {
	for _, tc := range []struct {
		o    Order
		want float64
	}{
		{Order{Product: ProductSpot, Symbol: "BTCUSDT", Price: "60000", Qty: "0.5"}, 30000},
		{Order{Product: ProductSpot, Symbol: "ETH-USDC", Price: "3000", Qty: "2"}, 6000},
		{Order{Product: ProductUSDM, Symbol: "BNBUSDT", Price: "600", Qty: "10"}, 6000},
		{Order{Product: ProductFutures, Symbol: "XBTUSDTM", Price: "60000", Qty: "3"}, 180000},
		{Order{Product: ProductCoinM, Symbol: "BTCUSD_PERP", Price: "60000", Qty: "7"}, 700},
		{Order{Product: ProductCoinM, Symbol: "ETHUSD_PERP", Price: "3000", Qty: "7"}, 70},
		{Order{Product: ProductSpot, Symbol: "BTCFDUSD", Price: "60000", Qty: "1"}, 60000},
		{Order{Product: ProductSpot, Symbol: "ETHBTC", Price: "0.05", Qty: "10"}, 0},
		{Order{Product: ProductSpot, Symbol: "ETH-BTC", Price: "0.05", Qty: "10"}, 0},
		{Order{Product: ProductSpot, Symbol: "BTCUSDT", Price: "", Qty: "1"}, 0}, // a market stop: no price
	} {
		if got := Exposure(tc.o); got != tc.want {
			t.Errorf("Exposure(%s %s %s × %s) = %v, want %v", tc.o.Product, tc.o.Symbol, tc.o.Price, tc.o.Qty, got, tc.want)
		}
	}
}
