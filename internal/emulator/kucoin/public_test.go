package kucoin

import (
	"testing"

	kucoin "github.com/Kucoin/kucoin-go-sdk"
)

// TestPublicStartupSurface calls, through kucoin-go-sdk (spot) and its
// request builder (futures, which it does not cover), every public
// endpoint a client loads markets with, and checks each answer's shape and
// weight.
func TestPublicStartupSurface(t *testing.T) {
	h := newHarnessYAML(t, tradeState)
	spot := kucoin.NewApiService(kucoin.ApiBaseURIOption(h.srv.URL + "/" + SpotName)) // no key: public
	fut := kucoin.NewApiService(kucoin.ApiBaseURIOption(h.srv.URL + "/" + FuturesName))
	get := func(svc *kucoin.ApiService, path string, q map[string]string) func() (*kucoin.ApiResponse, error) {
		return func() (*kucoin.ApiResponse, error) { return sdkCall(svc, "GET", path, q) }
	}
	tests := []struct {
		name     string
		endpoint string
		weight   int
		do       func() (*kucoin.ApiResponse, error)
		check    func(t *testing.T, rsp *kucoin.ApiResponse, err error)
	}{
		{"service status", "GET /api/v1/status", 3, func() (*kucoin.ApiResponse, error) { return spot.ServiceStatus(ctx) }, func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if s := data[kucoin.ServiceStatusModel](t, rsp, err); s.Status != "open" {
				t.Errorf("got %+v, want open", s)
			}
		}},
		{"symbols v2", "GET /api/v2/symbols", 4, func() (*kucoin.ApiResponse, error) { return spot.SymbolsV2(ctx, "") }, func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if s := data[kucoin.SymbolsModelV2](t, rsp, err); len(s) != 2 || s[0].Symbol != "BTC-USDT" || s[0].PriceIncrement != "0.1" || s[0].BaseIncrement != ruleBaseInc {
				t.Errorf("got %+v, want BTC-USDT and ETH-USDT with their increments", s)
			}
		}},
		{"level1 ticker", "GET /api/v1/market/orderbook/level1", 2, func() (*kucoin.ApiResponse, error) { return spot.TickerLevel1(ctx, "BTC-USDT") }, func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if tk := data[kucoin.TickerLevel1Model](t, rsp, err); tk.Price != "65000" || tk.BestBid != "64999.9" || tk.BestAsk != "65000.1" {
				t.Errorf("got %+v, want 65000 with one tick either side", tk)
			}
		}},
		{"24h stats", "GET /api/v1/market/stats", 15, func() (*kucoin.ApiResponse, error) { return spot.Stats24hr(ctx, "ETH-USDT") }, func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if st := data[kucoin.Stats24hrModel](t, rsp, err); st.Last != "3400" || st.Symbol != "ETH-USDT" {
				t.Errorf("got %+v, want ETH-USDT last 3400", st)
			}
		}},
		{"markets", "GET /api/v1/markets", 3, func() (*kucoin.ApiResponse, error) { return spot.Markets(ctx) }, func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if m := data[[]string](t, rsp, err); len(m) != 1 || m[0] != "USDS" {
				t.Errorf("got %v, want [USDS]", m)
			}
		}},
		{"part order book", "GET /api/v1/market/orderbook/level2_20", 2, func() (*kucoin.ApiResponse, error) { return spot.AggregatedPartOrderBook(ctx, "BTC-USDT", 20) }, func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if b := data[kucoin.PartOrderBookModel](t, rsp, err); len(b.Bids) != 20 || len(b.Asks) != 20 || b.Bids[0][0] != "64999.9" {
				t.Errorf("got %d bids %d asks, want 20 each from 64999.9", len(b.Bids), len(b.Asks))
			}
		}},
		{"trade history", "GET /api/v1/market/histories", 3, func() (*kucoin.ApiResponse, error) { return spot.TradeHistories(ctx, "BTC-USDT") }, func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if tr := data[kucoin.TradeHistoriesModel](t, rsp, err); len(tr) == 0 || tr[0].Price != "65000" {
				t.Errorf("got %+v, want trades at 65000", tr)
			}
		}},
		{"candles", "GET /api/v1/market/candles", 3, func() (*kucoin.ApiResponse, error) { return spot.KLines(ctx, "BTC-USDT", "1hour", 0, 0) }, func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if k := data[kucoin.KLinesModel](t, rsp, err); len(k) == 0 || len(*k[0]) != 7 || (*k[0])[2] != "65000" {
				t.Errorf("got %v, want 7-field candles closing at 65000", k)
			}
		}},
		{"fiat prices", "GET /api/v1/prices", 3, func() (*kucoin.ApiResponse, error) { return spot.Prices(ctx, "USD", "BTC,ETH") }, func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if p := data[kucoin.PricesModel](t, rsp, err); len(p) != 2 || p["BTC"] != "65000" {
				t.Errorf("got %v, want BTC and ETH", p)
			}
		}},
		{"currencies v1", "GET /api/v1/currencies", 3, func() (*kucoin.ApiResponse, error) { return spot.Currencies(ctx) }, func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if cs := data[[]struct{ Currency string }](t, rsp, err); len(cs) < 3 {
				t.Errorf("got %+v, want BTC, ETH, USDT at least", cs)
			}
		}},
		{"currency v2", "GET /api/v2/currencies/{currency}", 3, func() (*kucoin.ApiResponse, error) { return spot.CurrencyV2(ctx, "USDT", "") }, func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if cur := data[struct {
				Currency string
				Chains   []struct{ ChainId, WithdrawalMinFee string }
			}](t, rsp, err); cur.Currency != "USDT" || len(cur.Chains) != 3 || cur.Chains[0].WithdrawalMinFee != "3.5" {
				t.Errorf("got %+v, want USDT on 3 chains, ERC20 fee 3.5", cur)
			}
		}},
		{"currencies v3", "GET /api/v3/currencies/", 3, func() (*kucoin.ApiResponse, error) { return spot.CurrenciesV3(ctx) }, func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			mustOK(t, rsp, err, nil)
		}},
		{"cross margin symbols", "GET /api/v3/margin/symbols", 3, func() (*kucoin.ApiResponse, error) { return spot.MarginSymbolsV3(ctx) }, func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if m := data[struct {
				Items []struct{ Symbol, PriceIncrement string }
			}](t, rsp, err); len(m.Items) != 2 || m.Items[1].Symbol != "ETH-USDT" {
				t.Errorf("got %+v, want BTC-USDT and ETH-USDT", m.Items)
			}
		}},
		{"isolated margin symbols", "GET /api/v1/isolated/symbols", 3, func() (*kucoin.ApiResponse, error) { return spot.MarginIsolatedSymbols(ctx) }, func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if m := data[[]struct {
				Symbol      string
				MaxLeverage int
			}](t, rsp, err); len(m) != 2 || m[0].MaxLeverage != 5 {
				t.Errorf("got %+v, want 2 symbols at 5x", m)
			}
		}},
		{"margin config", "GET /api/v1/margin/config", 25, func() (*kucoin.ApiResponse, error) { return spot.MarginConfig(ctx) }, func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if m := data[kucoin.MarginConfigModel](t, rsp, err); len(m.CurrencyList) != 3 || m.MaxLeverage.String() != "5" {
				t.Errorf("got %+v, want BTC, ETH, USDT at 5x", m)
			}
		}},
		{"margin mark price", "GET /api/v1/mark-price/{symbol}/current", 2, func() (*kucoin.ApiResponse, error) { return spot.CurrentMarkPrice(ctx, "BTC-USDT") }, func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if m := data[kucoin.MarkPriceModel](t, rsp, err); m.Symbol != "BTC-USDT" || m.Value.String() != "65000" {
				t.Errorf("got %+v, want BTC-USDT at 65000", m)
			}
		}},
		{"futures status", "GET /api/v1/status", 4, get(fut, "/api/v1/status", nil), func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if s := data[struct{ Status string }](t, rsp, err); s.Status != "open" {
				t.Errorf("got %+v", s)
			}
		}},
		{"contract", "GET /api/v1/contracts/{symbol}", 3, get(fut, "/api/v1/contracts/XBTUSDTM", nil), func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if c := data[struct {
				Symbol      string
				Multiplier  float64
				MaxLeverage int
			}](t, rsp, err); c.Symbol != "XBTUSDTM" || c.Multiplier != 0.001 || c.MaxLeverage != maxLeverage {
				t.Errorf("got %+v", c)
			}
		}},
		{"futures ticker", "GET /api/v1/ticker", 2, get(fut, "/api/v1/ticker", map[string]string{"symbol": "ETHUSDTM"}), func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if tk := data[struct{ Symbol, Price string }](t, rsp, err); tk.Price != "3400" {
				t.Errorf("got %+v, want 3400", tk)
			}
		}},
		{"futures tickers", "GET /api/v1/allTickers", 5, get(fut, "/api/v1/allTickers", nil), func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if tk := data[[]struct{ Symbol string }](t, rsp, err); len(tk) != 2 {
				t.Errorf("got %+v, want 2", tk)
			}
		}},
		{"futures book", "GET /api/v1/level2/depth20", 5, get(fut, "/api/v1/level2/depth20", map[string]string{"symbol": "XBTUSDTM"}), func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if b := data[struct{ Bids, Asks [][]float64 }](t, rsp, err); len(b.Bids) != 20 || b.Asks[0][0] != 65000.1 {
				t.Errorf("got %d bids, first ask %v", len(b.Bids), b.Asks)
			}
		}},
		{"futures candles", "GET /api/v1/kline/query", 3, get(fut, "/api/v1/kline/query", map[string]string{"symbol": "XBTUSDTM", "granularity": "60"}), func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if k := data[[][]float64](t, rsp, err); len(k) != 10 || k[9][4] != 65000 {
				t.Errorf("got %v", k)
			}
		}},
		{"mark price", "GET /api/v1/mark-price/{symbol}/current", 3, get(fut, "/api/v1/mark-price/XBTUSDTM/current", nil), func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if m := data[struct{ Value float64 }](t, rsp, err); m.Value != 65000 {
				t.Errorf("got %+v", m)
			}
		}},
		{"funding rate", "GET /api/v1/funding-rate/{symbol}/current", 2, get(fut, "/api/v1/funding-rate/XBTUSDTM/current", nil), func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if f := data[struct{ Value float64 }](t, rsp, err); f.Value != 0.0001 {
				t.Errorf("got %+v", f)
			}
		}},
		{"risk limits", "GET /api/v1/contracts/risk-limit/{symbol}", 5, get(fut, "/api/v1/contracts/risk-limit/XBTUSDTM", nil), func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			if r := data[[]struct{ MaxLeverage int }](t, rsp, err); len(r) == 0 || r[0].MaxLeverage != 125 {
				t.Errorf("got %+v", r)
			}
		}},
		{"unknown contract", "GET /api/v1/ticker", 2, get(fut, "/api/v1/ticker", map[string]string{"symbol": "NOPEUSDTM"}), func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			wantCode(t, rsp, err, "100001")
		}},
		{"unknown symbol", "GET /api/v1/market/orderbook/level1", 2, func() (*kucoin.ApiResponse, error) { return spot.TickerLevel1(ctx, "NOPE-USDT") }, func(t *testing.T, rsp *kucoin.ApiResponse, err error) {
			wantCode(t, rsp, err, "900001")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rsp, err := tc.do()
			tc.check(t, rsp, err)
			if e := h.lastEntry(); e.Endpoint != tc.endpoint || e.Weight != tc.weight {
				t.Errorf("got %s weight %d, want %s weight %d", e.Endpoint, e.Weight, tc.endpoint, tc.weight)
			}
		})
	}
}
