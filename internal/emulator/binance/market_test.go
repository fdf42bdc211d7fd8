package binance_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func parseF(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// TestStartupSurface drives, through go-binance, the public and
// metadata calls a general client makes when it loads markets, and
// checks the answers agree with the price table and the symbol filters.
func TestStartupSurface(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	m := h.creds("acme-master")
	sc, fc, dc := h.spot(m), h.futures(m), h.delivery(m)
	tests := []struct {
		name string
		run  func() error
	}{
		{"spot depth", func() error {
			d, err := sc.NewDepthService().Symbol("BTCUSDT").Limit(10).Do(bg)
			if err == nil && (len(d.Bids) != 10 || len(d.Asks) != 10 || parseF(d.Bids[0].Price) >= 64000 || parseF(d.Asks[0].Price) <= 64000) {
				t.Errorf("depth: got %d bids from %s, %d asks from %s; want 10 each around 64000", len(d.Bids), d.Bids[0].Price, len(d.Asks), d.Asks[0].Price)
			}
			return err
		}},
		{"spot klines", func() error {
			k, err := sc.NewKlinesService().Symbol("BTCUSDT").Interval("1h").Limit(24).Do(bg)
			if err == nil && (len(k) != 24 || k[23].Close != "64000.00000000" || k[1].OpenTime-k[0].OpenTime != 3600000) {
				t.Errorf("klines: got %d, last close %s", len(k), k[len(k)-1].Close)
			}
			return err
		}},
		{"spot avg price", func() error {
			a, err := sc.NewAveragePriceService().Symbol("ETHUSDT").Do(bg)
			if err == nil && a.Price != "3200.00000000" {
				t.Errorf("avgPrice: got %s", a.Price)
			}
			return err
		}},
		{"spot 24hr", func() error {
			s, err := sc.NewListPriceChangeStatsService().Symbol("BTCUSDT").Do(bg)
			if err == nil && (len(s) != 1 || s[0].LastPrice != "64000.00000000" || parseF(s[0].HighPrice) < 64000 || parseF(s[0].LowPrice) > 64000) {
				t.Errorf("24hr: got %+v", s)
			}
			return err
		}},
		{"spot book ticker", func() error {
			b, err := sc.NewListBookTickersService().Do(bg)
			if err == nil && len(b) < 3 {
				t.Errorf("book tickers: got %d", len(b))
			}
			return err
		}},
		{"spot prices", func() error {
			p, err := sc.NewListPricesService().Symbols([]string{"BTCUSDT", "ETHBTC"}).Do(bg)
			if err == nil && (len(p) != 2 || p[1].Price != "0.05000000") {
				t.Errorf("prices: got %+v", p)
			}
			return err
		}},
		{"margin pairs", func() error {
			p, err := sc.NewGetMarginAllPairsService().Do(bg)
			if err == nil && (len(p) < 3 || p[0].Base == "" || !p[0].IsMarginTrade) {
				t.Errorf("margin pairs: got %+v", p)
			}
			return err
		}},
		{"isolated pairs", func() error {
			p, err := sc.NewGetIsolatedMarginAllPairsService().Do(bg)
			if err == nil && len(p) < 3 {
				t.Errorf("isolated pairs: got %d", len(p))
			}
			return err
		}},
		{"coin config", func() error {
			cs, err := sc.NewGetAllCoinsInfoService().Do(bg)
			if err != nil {
				return err
			}
			for _, c := range cs {
				if c.Coin == "USDT" && (c.Free != "100000.00000000" || len(c.NetworkList) != 3 || !c.NetworkList[0].IsDefault) {
					t.Errorf("USDT config: got %+v", c)
				}
			}
			return nil
		}},
		{"trade fee", func() error {
			f, err := sc.NewTradeFeeService().Symbol("BTCUSDT").Do(bg)
			if err == nil && (len(f) != 1 || f[0].MakerCommission != "0.001") {
				t.Errorf("trade fee: got %+v", f)
			}
			return err
		}},
		{"usdm depth", func() error {
			d, err := fc.NewDepthService().Symbol("BTCUSDT").Limit(5).Do(bg)
			if err == nil && (len(d.Bids) != 5 || parseF(d.Bids[0].Price) >= 64000) {
				t.Errorf("usdm depth: got %+v", d.Bids)
			}
			return err
		}},
		{"usdm klines", func() error {
			k, err := fc.NewKlinesService().Symbol("ETHUSDT").Interval("15m").Limit(3).Do(bg)
			if err == nil && (len(k) != 3 || k[2].Close != "3200") {
				t.Errorf("usdm klines: got %+v", k)
			}
			return err
		}},
		{"usdm premium index", func() error {
			p, err := fc.NewPremiumIndexService().Symbol("BTCUSDT").Do(bg)
			if err == nil && (len(p) != 1 || p[0].MarkPrice != "64000" || p[0].NextFundingTime == 0) {
				t.Errorf("premium index: got %+v", p)
			}
			return err
		}},
		{"usdm premium index, all", func() error {
			p, err := fc.NewPremiumIndexService().Do(bg)
			if err == nil && len(p) < 2 {
				t.Errorf("premium index: got %d symbols", len(p))
			}
			return err
		}},
		{"usdm 24hr", func() error {
			s, err := fc.NewListPriceChangeStatsService().Symbol("BTCUSDT").Do(bg)
			if err == nil && (len(s) != 1 || s[0].LastPrice != "64000") {
				t.Errorf("usdm 24hr: got %+v", s)
			}
			return err
		}},
		{"usdm prices", func() error {
			p, err := fc.NewListPricesService().Do(bg)
			if err == nil && len(p) < 2 {
				t.Errorf("usdm prices: got %+v", p)
			}
			return err
		}},
		{"usdm book tickers", func() error {
			b, err := fc.NewListBookTickersService().Symbol("ETHUSDT").Do(bg)
			if err == nil && (len(b) != 1 || parseF(b[0].AskPrice) <= 3200) {
				t.Errorf("usdm book: got %+v", b)
			}
			return err
		}},
		{"usdm leverage brackets", func() error {
			b, err := fc.NewGetLeverageBracketService().Symbol("BTCUSDT").Do(bg)
			if err == nil && (len(b) != 1 || len(b[0].Brackets) != 5 || b[0].Brackets[0].InitialLeverage != 75 || b[0].Brackets[1].NotionalFloor != 10000) {
				t.Errorf("leverage brackets: got %+v", b)
			}
			return err
		}},
		{"usdm funding rate", func() error {
			r, err := fc.NewFundingRateService().Symbol("BTCUSDT").Do(bg)
			if err == nil && len(r) == 0 {
				t.Errorf("funding rate: got none")
			}
			return err
		}},
		{"usdm open interest", func() error {
			o, err := fc.NewGetOpenInterestService().Symbol("BTCUSDT").Do(bg)
			if err == nil && parseF(o.OpenInterest) <= 0 {
				t.Errorf("open interest: got %+v", o)
			}
			return err
		}},
		{"usdm recent trades", func() error {
			tr, err := fc.NewRecentTradesService().Symbol("BTCUSDT").Limit(3).Do(bg)
			if err == nil && len(tr) != 3 {
				t.Errorf("usdm trades: got %d", len(tr))
			}
			return err
		}},
		{"coinm klines", func() error {
			k, err := dc.NewKlinesService().Symbol("BTCUSD_PERP").Interval("1d").Limit(2).Do(bg)
			if err == nil && (len(k) != 2 || k[1].Close != "64000") {
				t.Errorf("coinm klines: got %+v", k)
			}
			return err
		}},
		{"coinm 24hr", func() error {
			s, err := dc.NewListPriceChangeStatsService().Symbol("BTCUSD_PERP").Do(bg)
			if err == nil && (len(s) != 1 || s[0].Pair != "BTCUSD") {
				t.Errorf("coinm 24hr: got %+v", s)
			}
			return err
		}},
		{"coinm prices", func() error {
			p, err := dc.NewListPricesService().Do(bg)
			if err == nil && len(p) != 2 {
				t.Errorf("coinm prices: got %+v", p)
			}
			return err
		}},
		{"coinm book tickers", func() error {
			b, err := dc.NewListBookTickersService().Pair("BTCUSD").Do(bg)
			if err == nil && len(b) == 0 {
				t.Errorf("coinm book: got none")
			}
			return err
		}},
		{"coinm funding rate", func() error {
			r, err := dc.NewFundingRateService().Symbol("BTCUSD_PERP").Do(bg)
			if err == nil && len(r) == 0 {
				t.Errorf("coinm funding rate: got none")
			}
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
		})
	}
}

// TestStartupSurfaceRaw checks the answers go-binance has no call for, and
// the weights and refusals of the public surface.
func TestStartupSurfaceRaw(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	h.alignMinute()
	m := h.creds("acme-master")
	get := func(path string, q url.Values) reply {
		u := h.base + path
		if q != nil {
			u += "?" + q.Encode()
		}
		return h.do(http.MethodGet, u, "", "")
	}
	// go-binance v2.8.7's spot RecentTradesService calls the retired
	// /api/v1/trades; the current path is /api/v3/trades.
	if r := get("/api/v3/trades", url.Values{"symbol": {"BTCUSDT"}, "limit": {"5"}}); r.Status != 200 || strings.Count(string(r.Body), `"isBestMatch":true`) != 5 {
		t.Errorf("spot trades: got %d %s", r.Status, r.Body)
	}
	if r := get("/sapi/v1/system/status", nil); r.Status != 200 || string(r.Body) != "{\"msg\":\"normal\",\"status\":0}\n" {
		t.Errorf("system status: got %d %s", r.Status, r.Body)
	}
	if r := get("/api/v3/depth", url.Values{"symbol": {"BTCUSDT"}, "limit": {"1000"}}); r.Header.Get("X-MBX-USED-WEIGHT-1M") != "75" {
		t.Errorf("depth 1000 weight: got cumulative %s, want 25 (trades) + 50", r.Header.Get("X-MBX-USED-WEIGHT-1M"))
	}
	if r := get("/api/v3/ticker/24hr", nil); r.Header.Get("X-MBX-USED-WEIGHT-1M") != "155" {
		t.Errorf("24hr all: got cumulative weight %s, want 75+80", r.Header.Get("X-MBX-USED-WEIGHT-1M"))
	}
	if r := get("/api/v3/klines", url.Values{"symbol": {"BTCUSDT"}, "interval": {"7m"}}); r.Status != 400 || r.code() != -1120 {
		t.Errorf("bad interval: got %d %s", r.Status, r.Body)
	}
	if r := get("/api/v3/depth", url.Values{"symbol": {"NOPEUSDT"}}); r.Status != 400 || r.code() != -1121 {
		t.Errorf("unknown symbol: got %d %s", r.Status, r.Body)
	}
	if r := get("/fapi/v1/premiumIndex", nil); r.Status != 200 || !strings.HasPrefix(string(r.Body), "[") || r.Header.Get("X-MBX-USED-WEIGHT-1M") != "10" {
		t.Errorf("premiumIndex all: got %d %s, weight %s", r.Status, r.Body, r.Header.Get("X-MBX-USED-WEIGHT-1M"))
	}
	if r := get("/dapi/v1/premiumIndex", url.Values{"pair": {"BTCUSD"}}); r.Status != 200 || !strings.Contains(string(r.Body), `"pair":"BTCUSD"`) {
		t.Errorf("dapi premiumIndex: got %d %s", r.Status, r.Body)
	}
	if r := get("/sapi/v1/margin/allPairs", nil); r.Status != 401 || r.code() != -2014 {
		t.Errorf("margin pairs without an API key: got %d %s, want 401 -2014", r.Status, r.Body)
	}
	for _, path := range []string{"/dapi/v1/leverageBracket", "/dapi/v2/leverageBracket"} {
		r := h.signed(m, http.MethodGet, path, nil, nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"qtyCap"`) {
			t.Errorf("%s: got %d %s", path, r.Status, r.Body)
		}
	}
	if r := get("/fapi/v1/leverageBracket", nil); r.Status != 401 {
		t.Errorf("unsigned leverage brackets: got %d, want 401", r.Status)
	}
	if r := get("/dapi/v1/depth", url.Values{"symbol": {"ETHUSD_PERP"}, "limit": {"5"}}); r.Status != 200 || !strings.Contains(string(r.Body), `"pair":"ETHUSD"`) {
		t.Errorf("dapi depth: got %d %s", r.Status, r.Body)
	}
}
