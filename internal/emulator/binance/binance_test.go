package binance_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	gb "github.com/adshao/go-binance/v2"
	"github.com/adshao/go-binance/v2/futures"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

var bg = context.Background()

// TestSDKReads drives every read endpoint the SDK has with the master's
// key and checks the decoded answer against the state.
func TestSDKReads(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	m := h.creds("acme-master")
	sc, fc, dc := h.spot(m), h.futures(m), h.delivery(m)
	tests := []struct {
		name string
		run  func() error
	}{
		{"spot time", func() error {
			got, err := sc.NewServerTimeService().Do(bg)
			if err == nil && abs(got-time.Now().UnixMilli()) > 5000 {
				t.Errorf("server time %d is not now", got)
			}
			return err
		}},
		{"futures time", func() error { _, err := fc.NewServerTimeService().Do(bg); return err }},
		{"delivery time", func() error { _, err := dc.NewServerTimeService().Do(bg); return err }},
		{"spot exchangeInfo", func() error {
			info, err := sc.NewExchangeInfoService().Symbol("BTCUSDT").Do(bg)
			if err != nil {
				return err
			}
			if len(info.Symbols) != 1 || info.Symbols[0].BaseAsset != "BTC" || info.Symbols[0].QuoteAsset != "USDT" {
				t.Errorf("got %+v, want BTCUSDT with BTC/USDT", info.Symbols)
			}
			if f := info.Symbols[0].LotSizeFilter(); f == nil || f.StepSize == "" {
				t.Errorf("got no LOT_SIZE filter")
			}
			return nil
		}},
		{"futures exchangeInfo", func() error {
			info, err := fc.NewExchangeInfoService().Do(bg)
			if err == nil && len(info.Symbols) < 2 {
				t.Errorf("got %d usdm symbols, want at least BTCUSDT and ETHUSDT", len(info.Symbols))
			}
			return err
		}},
		{"delivery exchangeInfo", func() error {
			info, err := dc.NewExchangeInfoService().Do(bg)
			if err == nil && len(info.Symbols) != 2 {
				t.Errorf("got %d coinm symbols, want 2", len(info.Symbols))
			}
			return err
		}},
		{"account", func() error {
			acc, err := sc.NewGetAccountService().OmitZeroBalances(true).Do(bg)
			if err != nil {
				return err
			}
			if acc.UID != 1001 || len(acc.Balances) != 2 || !acc.CanTrade || acc.CanWithdraw {
				t.Errorf("got uid %d, %d balances, canTrade %v, canWithdraw %v; want 1001, 2, true, false", acc.UID, len(acc.Balances), acc.CanTrade, acc.CanWithdraw)
			}
			return nil
		}},
		{"user asset", func() error {
			got, err := sc.NewGetUserAsset().Do(bg)
			if err == nil && len(got) != 2 {
				t.Errorf("got %d assets, want the 2 positive ones", len(got))
			}
			return err
		}},
		{"wallet balance", func() error {
			got, err := sc.NewWalletBalanceService().Do(bg)
			if err == nil && (len(got) < 6 || got[0].WalletName != "Spot" || got[0].Balance == "0.00000000") {
				t.Errorf("got %+v, want the wallets with a non-zero Spot first", got)
			}
			return err
		}},
		{"margin account", func() error {
			got, err := sc.NewGetMarginAccountService().Do(bg)
			if err == nil && len(got.UserAssets) != 2 {
				t.Errorf("got %d margin assets, want 2", len(got.UserAssets))
			}
			return err
		}},
		{"isolated account", func() error {
			got, err := sc.NewGetIsolatedMarginAccountService().Do(bg)
			if err == nil && (len(got.Assets) != 1 || got.Assets[0].Symbol != "BTCUSDT") {
				t.Errorf("got %+v, want BTCUSDT", got.Assets)
			}
			return err
		}},
		{"api restrictions", func() error {
			got, err := sc.NewGetAPIKeyPermission().Do(bg)
			if err == nil && (!got.IPRestrict || got.EnableWithdrawals || !got.EnableSpotAndMarginTrading) {
				t.Errorf("got %+v, want ip restricted, trading, no withdrawals", got)
			}
			return err
		}},
		{"sub-account assets", func() error {
			got, err := sc.NewSubAccountAssetService().Email("risky@acme.example").Do(bg)
			if err == nil && len(got.Balances) != 2 {
				t.Errorf("got %d balances, want 2", len(got.Balances))
			}
			return err
		}},
		{"sub-key ip restriction", func() error {
			got, err := sc.NewSubAccountApiIpRestrictionService().Email("locked@acme.example").SubAccountApiKey(h.creds("acme-locked").APIKey).Do(bg)
			if err == nil && (got.IpRestrict != "true" || len(got.IpList) != 1) {
				t.Errorf("got %+v, want restricted to one IP", got)
			}
			return err
		}},
		{"spot open orders", func() error {
			all, err := sc.NewListOpenOrdersService().Do(bg)
			if err != nil {
				return err
			}
			one, err := sc.NewListOpenOrdersService().Symbol("ETHUSDT").Do(bg)
			if len(all) != 5 || len(one) != 1 {
				t.Errorf("got %d open orders (%d ETHUSDT), want 5 (3 plain + 2 OCO legs) and 1", len(all), len(one))
			}
			return err
		}},
		{"margin open orders", func() error {
			cross, err := sc.NewListMarginOpenOrdersService().Do(bg)
			if err != nil {
				return err
			}
			iso, err := sc.NewListMarginOpenOrdersService().Symbol("BTCUSDT").IsIsolated(true).Do(bg)
			if len(cross) != 1 || len(iso) != 1 || !iso[0].IsIsolated {
				t.Errorf("got %d cross and %d isolated, want 1 and 1", len(cross), len(iso))
			}
			return err
		}},
		{"withdraw history", func() error {
			got, err := sc.NewListWithdrawsService().Do(bg)
			if err == nil && len(got) != 2 {
				t.Errorf("got %d withdrawals in the last 90 days, want 2", len(got))
			}
			return err
		}},
		{"spot trades", func() error {
			got, err := sc.NewListTradesService().Symbol("BTCUSDT").Do(bg)
			if err == nil && len(got) != 2 {
				t.Errorf("got %d trades, want 2", len(got))
			}
			return err
		}},
		{"margin trades", func() error {
			got, err := sc.NewListMarginTradesService().Symbol("BTCUSDT").Do(bg)
			if err == nil && len(got) != 1 {
				t.Errorf("got %d margin trades, want 1", len(got))
			}
			return err
		}},
		{"futures balance", func() error {
			got, err := fc.NewGetBalanceService().Do(bg)
			if err == nil && (len(got) != 1 || got[0].Asset != "USDT") {
				t.Errorf("got %+v, want one USDT balance", got)
			}
			return err
		}},
		{"futures account v3", func() error {
			got, err := fc.NewGetAccountV3Service().Do(bg)
			if err == nil && (len(got.Positions) != 1 || got.TotalWalletBalance != "50000.00000000") {
				t.Errorf("got %d positions, wallet %s; want 1, 50000", len(got.Positions), got.TotalWalletBalance)
			}
			return err
		}},
		{"futures position risk v3", func() error {
			got, err := fc.NewGetPositionRiskV3Service().Do(bg)
			if err == nil && (len(got) != 1 || got[0].PositionAmt != "0.5") {
				t.Errorf("got %+v, want BTCUSDT 0.5", got)
			}
			return err
		}},
		{"futures position mode", func() error {
			got, err := fc.NewGetPositionModeService().Do(bg)
			if err == nil && got.DualSidePosition {
				t.Errorf("got hedge mode, want one-way")
			}
			return err
		}},
		{"futures open orders", func() error {
			got, err := fc.NewListOpenOrdersService().Do(bg)
			if err == nil && len(got) != 2 {
				t.Errorf("got %d usdm orders, want 2 (algo orders are listed elsewhere)", len(got))
			}
			return err
		}},
		{"futures trades", func() error {
			got, err := fc.NewListAccountTradeService().Symbol("BTCUSDT").Do(bg)
			if err == nil && len(got) != 1 {
				t.Errorf("got %d usdm trades, want 1", len(got))
			}
			return err
		}},
		{"delivery balance", func() error {
			got, err := dc.NewGetBalanceService().Do(bg)
			if err == nil && (len(got) != 1 || got[0].Asset != "BTC") {
				t.Errorf("got %+v, want one BTC balance", got)
			}
			return err
		}},
		{"delivery position risk", func() error {
			got, err := dc.NewGetPositionRiskService().Do(bg)
			if err == nil && (len(got) != 1 || got[0].PositionAmt != "-10") {
				t.Errorf("got %+v, want BTCUSD_PERP -10", got)
			}
			return err
		}},
		{"delivery open orders", func() error {
			got, err := dc.NewListOpenOrdersService().Do(bg)
			if err == nil && len(got) != 2 {
				t.Errorf("got %d coinm orders, want 2", len(got))
			}
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); err != nil {
				t.Fatalf("got error %v, want none", err)
			}
		})
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestRejections: a wrong secret, an unknown key, a stale or future
// timestamp and a too large recvWindow are refused on every API family.
func TestRejections(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	good := h.creds("acme-master")
	wrongSecret := good
	wrongSecret.Secret = strings.Repeat("x", 64)
	unknown := good
	unknown.APIKey = strings.Repeat("A", 64)
	edWrong := h.creds("acme-ed")
	edWrong.Secret = h.creds("acme-master").Secret // not a PEM: the SDK cannot sign
	paths := []struct{ method, path string }{
		{http.MethodGet, "/api/v3/account"},
		{http.MethodGet, "/sapi/v1/account/apiRestrictions"},
		{http.MethodGet, "/sapi/v4/sub-account/assets"},
		{http.MethodGet, "/fapi/v3/balance"},
		{http.MethodGet, "/dapi/v1/balance"},
	}
	now := time.Now().UnixMilli()
	cases := []struct {
		name       string
		c          cred
		ts         int64
		extra      string
		wantStatus int
		wantCode   int64
	}{
		{"wrong secret", wrongSecret, now, "", 400, -1022},
		{"unknown key", unknown, now, "", 401, -2015},
		{"stale timestamp", good, now - 6000, "", 400, -1021},
		{"timestamp ahead", good, now + 3000, "", 400, -1021},
		{"stale inside a long recvWindow", good, now - 6000, "recvWindow=10000&", 200, 0},
		{"recvWindow too large", good, now, "recvWindow=70000&", 400, -1131},
	}
	for _, p := range paths {
		for _, tc := range cases {
			t.Run(p.path+"/"+tc.name, func(t *testing.T) {
				qs := tc.extra + "email=risky%40acme.example&timestamp=" + strconv.FormatInt(tc.ts, 10)
				r := h.rawSigned(tc.c, p.method, p.path, qs, "")
				if tc.name == "unknown key" && strings.HasPrefix(p.path, "/sapi/") {
					// Binance answers an unknown calling key on /sapi
					// with 400 -2008 (EXCHANGES.md C1).
					tc.wantStatus, tc.wantCode = 400, -2008
				}
				if r.Status != tc.wantStatus || r.code() != tc.wantCode {
					t.Errorf("got %d %s, want %d code %d", r.Status, r.Body, tc.wantStatus, tc.wantCode)
				}
			})
		}
	}
	t.Run("ed25519 signature by another key", func(t *testing.T) {
		other := h.creds("acme-ed")
		rsa := h.creds("acme-rsa")
		other.Secret, other.Type = rsa.Secret, "rsa" // RSA signature under an Ed25519 key
		r := h.signed(other, http.MethodGet, "/api/v3/account", nil, nil)
		if r.Status != 400 || r.code() != -1022 {
			t.Errorf("got %d %s, want 400 -1022", r.Status, r.Body)
		}
	})
	t.Run("missing api key", func(t *testing.T) {
		r := h.do(http.MethodGet, h.base+"/api/v3/account?timestamp=1", "", "")
		if r.Status != 401 || r.code() != -2014 {
			t.Errorf("got %d %s, want 401 -2014", r.Status, r.Body)
		}
	})
	t.Run("sdk wrong secret", func(t *testing.T) {
		_, err := h.spot(wrongSecret).NewGetAccountService().Do(bg)
		if apiCode(err) != -1022 {
			t.Errorf("got %v, want APIError -1022", err)
		}
	})
	t.Run("hmac signature is case-insensitive", func(t *testing.T) {
		q := url.Values{"timestamp": {strconv.FormatInt(time.Now().UnixMilli(), 10)}}.Encode()
		r := h.rawSigned(good, http.MethodGet, "/api/v3/account", q, "")
		if r.Status != 200 {
			t.Fatalf("lower case: got %d %s", r.Status, r.Body)
		}
		sigUpper := signUpper(t, good, q)
		r = h.do(http.MethodGet, h.base+"/api/v3/account?"+q+"&signature="+sigUpper, "", good.APIKey)
		if r.Status != 200 {
			t.Errorf("upper case: got %d %s, want 200", r.Status, r.Body)
		}
	})
	t.Run("param in query and body: query wins, both signed", func(t *testing.T) {
		q := url.Values{"symbol": {"ETHUSDT"}, "timestamp": {strconv.FormatInt(time.Now().UnixMilli(), 10)}}.Encode()
		r := h.rawSigned(good, http.MethodGet, "/api/v3/openOrders", q, "symbol=BTCUSDT")
		var orders []struct{ Symbol string }
		_ = json.Unmarshal(r.Body, &orders)
		if r.Status != 200 || len(orders) != 1 || orders[0].Symbol != "ETHUSDT" {
			t.Errorf("got %d %s, want the one ETHUSDT order", r.Status, r.Body)
		}
	})
}

func signUpper(t *testing.T, c cred, payload string) string {
	t.Helper()
	r := strings.ToUpper(hmacHex(c.Secret, payload))
	return r
}

// TestSpotCancelAll: order lists are cancelled with their members and
// come back as one object; an empty book answers 400 -2011.
func TestSpotCancelAll(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	sc := h.spot(h.creds("acme-master"))
	res, err := sc.NewCancelOpenOrdersService().Symbol("BTCUSDT").Do(bg)
	if err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if len(res.Orders) != 2 || len(res.OCOOrders) != 1 || len(res.OCOOrders[0].OrderReports) != 2 {
		t.Fatalf("got %d orders and %d lists, want 2 and 1 list of 2", len(res.Orders), len(res.OCOOrders))
	}
	if res.Orders[0].Status != gb.OrderStatusTypeCanceled {
		t.Errorf("got status %s, want CANCELED", res.Orders[0].Status)
	}
	left, err := sc.NewListOpenOrdersService().Symbol("BTCUSDT").Do(bg)
	if err != nil || len(left) != 0 {
		t.Errorf("after cancel: got %d orders (err %v), want 0", len(left), err)
	}
	_, err = sc.NewCancelOpenOrdersService().Symbol("BTCUSDT").Do(bg)
	if apiCode(err) != -2011 {
		t.Errorf("second cancel: got %v, want -2011", err)
	}
	r := h.signed(h.creds("acme-master"), http.MethodDelete, "/api/v3/openOrders", url.Values{"symbol": {"BTCUSDT"}}, nil)
	if r.Status != 400 || r.code() != -2011 {
		t.Errorf("raw second cancel: got %d %s, want 400 -2011", r.Status, r.Body)
	}
	r = h.signed(h.creds("acme-master"), http.MethodDelete, "/api/v3/openOrders", nil, nil)
	if r.Status != 400 || r.code() != -1102 {
		t.Errorf("no symbol: got %d %s, want 400 -1102", r.Status, r.Body)
	}
	muts := 0
	for _, e := range h.srv.Requests() {
		if e.Kind == emu.KindMutation {
			muts++
		}
	}
	if muts != 4 {
		t.Errorf("got %d mutations in the log, want 4", muts)
	}
}

// TestMarginCancelAllQuirk: the integer orderId makes go-binance's
// CancelAllMarginOrdersService fail to decode after the cancel happened.
func TestMarginCancelAllQuirk(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	m := h.creds("acme-master")
	sc := h.spot(m)
	_, err := sc.NewCancelAllMarginOrdersService().Symbol("BTCUSDT").Do(bg)
	if err == nil || !strings.Contains(err.Error(), "cannot unmarshal number") {
		t.Fatalf("got %v, want the SDK's decode error", err)
	}
	left, err := sc.NewListMarginOpenOrdersService().Symbol("BTCUSDT").Do(bg)
	if err != nil || len(left) != 0 {
		t.Fatalf("got %d cross orders left (err %v), want 0: the cancel happened", len(left), err)
	}
	iso, _ := sc.NewListMarginOpenOrdersService().Symbol("BTCUSDT").IsIsolated(true).Do(bg)
	if len(iso) != 1 {
		t.Errorf("got %d isolated orders, want the 1 untouched", len(iso))
	}
	r := h.signed(m, http.MethodDelete, "/sapi/v1/margin/openOrders", nil, url.Values{"symbol": {"BTCUSDT"}, "isIsolated": {"TRUE"}})
	var got []struct {
		OrderID    int64 `json:"orderId"`
		IsIsolated bool  `json:"isIsolated"`
	}
	if err := json.Unmarshal(r.Body, &got); err != nil || r.Status != 200 || len(got) != 1 || got[0].OrderID != 41 || !got[0].IsIsolated {
		t.Errorf("isolated cancel: got %d %s, want one isolated order 41", r.Status, r.Body)
	}
	r = h.signed(m, http.MethodGet, "/sapi/v1/margin/openOrders", url.Values{"isIsolated": {"TRUE"}}, nil)
	if r.Status != 400 || r.code() != -1102 {
		t.Errorf("isolated without symbol: got %d %s, want 400 -1102", r.Status, r.Body)
	}
}

// TestFuturesCancelAll: {"code":200} answers; plain and algo orders are
// cancelled by separate endpoints.
func TestFuturesCancelAll(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	m := h.creds("acme-master")
	fc := h.futures(m)
	if err := fc.NewCancelAllOpenOrdersService().Symbol("BTCUSDT").Do(bg); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	r := h.signed(m, http.MethodDelete, "/fapi/v1/allOpenOrders", nil, url.Values{"symbol": {"BTCUSDT"}})
	if r.Status != 200 || string(r.Body) != `{"code":200,"msg":"The operation of cancel all open order is done."}`+"\n" {
		t.Errorf("got %d %q, want the code 200 body", r.Status, r.Body)
	}
	left, _ := fc.NewListOpenOrdersService().Do(bg)
	if len(left) != 1 || left[0].Symbol != "ETHUSDT" {
		t.Errorf("got %+v, want only the ETHUSDT order", left)
	}
	algo := h.signed(m, http.MethodGet, "/fapi/v1/openAlgoOrders", nil, nil)
	var algos []struct {
		AlgoID int64 `json:"algoId"`
	}
	if err := json.Unmarshal(algo.Body, &algos); err != nil || len(algos) != 1 {
		t.Fatalf("got %s, want the algo order to survive allOpenOrders", algo.Body)
	}
	r = h.signed(m, http.MethodDelete, "/fapi/v1/algoOpenOrders", nil, url.Values{"symbol": {"BTCUSDT"}})
	if r.Status != 200 || r.code() != 200 {
		t.Errorf("algo cancel: got %d %s", r.Status, r.Body)
	}
	algo = h.signed(m, http.MethodGet, "/fapi/v1/openAlgoOrders", nil, nil)
	if string(algo.Body) != "[]\n" {
		t.Errorf("got %s, want no algo orders", algo.Body)
	}
	dc := h.delivery(m)
	if err := dc.NewCancelAllOpenOrdersService().Symbol("BTCUSD_PERP").Do(bg); err != nil {
		t.Fatalf("delivery cancel: %v", err)
	}
	dleft, _ := dc.NewListOpenOrdersService().Do(bg)
	if len(dleft) != 1 || dleft[0].Symbol != "ETHUSD_PERP" {
		t.Errorf("got %+v, want only ETHUSD_PERP", dleft)
	}
	r = h.signed(m, http.MethodGet, "/dapi/v1/openOrders", url.Values{"pair": {"ETHUSD"}}, nil)
	if !strings.Contains(string(r.Body), `"pair":"ETHUSD"`) {
		t.Errorf("pair filter: got %s", r.Body)
	}
}

// TestCountdownCancelAll: the armed timer cancels the symbol's orders
// once the emulator clock passes it.
func TestCountdownCancelAll(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	m := h.creds("acme-master")
	r := h.signed(m, http.MethodPost, "/fapi/v1/countdownCancelAll", nil, url.Values{"symbol": {"BTCUSDT"}, "countdownTime": {"5000"}})
	if r.Status != 200 || !strings.Contains(string(r.Body), `"countdownTime":"5000"`) {
		t.Fatalf("arm: got %d %s", r.Status, r.Body)
	}
	fc := h.futures(m)
	before, _ := fc.NewListOpenOrdersService().Symbol("BTCUSDT").Do(bg)
	if len(before) != 1 {
		t.Fatalf("before the deadline: got %d orders, want 1", len(before))
	}
	h.advance(6 * time.Second)
	fc = h.futures(m)
	after, err := fc.NewListOpenOrdersService().Do(bg)
	if err != nil || len(after) != 1 || after[0].Symbol != "ETHUSDT" {
		t.Errorf("after the deadline: got %+v (err %v), want only ETHUSDT", after, err)
	}
	r = h.signed(m, http.MethodPost, "/dapi/v1/countdownCancelAll", nil, url.Values{"symbol": {"ETHUSD_PERP"}, "countdownTime": {"1000"}})
	if r.Status != 200 {
		t.Fatalf("arm dapi: %d %s", r.Status, r.Body)
	}
	r = h.signed(m, http.MethodPost, "/dapi/v1/countdownCancelAll", nil, url.Values{"symbol": {"ETHUSD_PERP"}, "countdownTime": {"0"}})
	h.advance(2 * time.Second)
	dleft, _ := h.delivery(m).NewListOpenOrdersService().Symbol("ETHUSD_PERP").Do(bg)
	if r.Status != 200 || len(dleft) != 1 {
		t.Errorf("disarmed timer: got %d orders, want 1 kept", len(dleft))
	}
}

// TestFuturesClose: MARKET reduce-only in one-way mode, positionSide in
// hedge mode, and the rejections of the wrong combinations.
func TestFuturesClose(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	m := h.creds("acme-master")
	fc := h.futures(m)
	_, err := fc.NewCreateOrderService().Symbol("BTCUSDT").Side(futures.SideTypeBuy).Type(futures.OrderTypeMarket).Quantity("0.1").ReduceOnly(true).Do(bg)
	if apiCode(err) != -2022 {
		t.Errorf("reduce-only in the wrong direction: got %v, want -2022", err)
	}
	res, err := fc.NewCreateOrderService().Symbol("BTCUSDT").Side(futures.SideTypeSell).Type(futures.OrderTypeMarket).Quantity("0.5").ReduceOnly(true).Do(bg)
	if err != nil || res.Symbol != "BTCUSDT" {
		t.Fatalf("close: got %+v, %v", res, err)
	}
	pos, _ := fc.NewGetPositionRiskV3Service().Do(bg)
	if len(pos) != 0 {
		t.Errorf("got %+v, want the position closed", pos)
	}
	ed := h.creds("acme-ed")
	ec := h.futures(ed)
	_, err = ec.NewCreateOrderService().Symbol("BTCUSDT").Side(futures.SideTypeSell).PositionSide(futures.PositionSideTypeLong).Type(futures.OrderTypeMarket).Quantity("0.2").ReduceOnly(true).Do(bg)
	if apiCode(err) != -1106 {
		t.Errorf("hedge mode with reduceOnly: got %v, want -1106", err)
	}
	_, err = ec.NewCreateOrderService().Symbol("BTCUSDT").Side(futures.SideTypeSell).Type(futures.OrderTypeMarket).Quantity("0.2").Do(bg)
	if apiCode(err) != -4061 {
		t.Errorf("hedge mode without positionSide: got %v, want -4061", err)
	}
	_, err = ec.NewCreateOrderService().Symbol("BTCUSDT").Side(futures.SideTypeSell).PositionSide(futures.PositionSideTypeLong).Type(futures.OrderTypeMarket).Quantity("0.2").Do(bg)
	if err != nil {
		t.Fatalf("hedge close: %v", err)
	}
	hp, _ := ec.NewGetPositionRiskV3Service().Do(bg)
	if len(hp) != 1 || hp[0].PositionSide != "SHORT" {
		t.Errorf("got %+v, want only the SHORT left", hp)
	}
	r := h.signed(m, http.MethodPost, "/dapi/v1/order", nil, url.Values{"symbol": {"BTCUSD_PERP"}, "side": {"BUY"}, "type": {"MARKET"}, "quantity": {"10"}, "reduceOnly": {"true"}, "newOrderRespType": {"RESULT"}})
	if r.Status != 200 || !strings.Contains(string(r.Body), `"status":"FILLED"`) {
		t.Errorf("coinm close: got %d %s", r.Status, r.Body)
	}
	dpos, _ := h.delivery(m).NewGetPositionRiskService().Do(bg)
	if len(dpos) != 0 {
		t.Errorf("got %+v, want the coinm position closed", dpos)
	}
}

// TestSubKeyNeutralisation: a deleted, IP-locked or permission-stripped
// sub key is rejected with -2015 on its next call, like the venue does.
func TestSubKeyNeutralisation(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	m := h.creds("acme-master")
	risky, rsaKey, ed := h.creds("acme-risky"), h.creds("acme-rsa"), h.creds("acme-ed")
	locked := h.creds("acme-locked")
	if _, err := h.spot(locked).NewGetAccountService().Do(bg); apiCode(err) != -2015 {
		t.Errorf("key locked to another IP: got %v, want -2015", err)
	}
	for _, c := range []cred{risky, rsaKey, ed} {
		if _, err := h.spot(c).NewGetAccountService().Do(bg); err != nil {
			t.Fatalf("before: %s: %v", c.Type, err)
		}
	}
	list := h.signed(m, http.MethodGet, "/sapi/v1/sub-account/subAccountApi", url.Values{"email": {"risky@acme.example"}}, nil)
	if list.Status != 200 || !strings.Contains(string(list.Body), `"total":1`) || !strings.Contains(string(list.Body), risky.APIKey) {
		t.Fatalf("list: got %d %s", list.Status, list.Body)
	}
	r := h.signed(m, http.MethodDelete, "/sapi/v1/sub-account/subAccountApi", nil, url.Values{"email": {"risky@acme.example"}, "subAccountApiKey": {risky.APIKey}})
	if r.Status != 200 || string(r.Body) != "{}\n" || r.Header.Get("X-SAPI-USED-UID-WEIGHT-1M") != "3000" {
		t.Fatalf("delete: got %d %s (uid weight %s), want {} and 3000", r.Status, r.Body, r.Header.Get("X-SAPI-USED-UID-WEIGHT-1M"))
	}
	if _, err := h.spot(risky).NewGetAccountService().Do(bg); apiCode(err) != -2015 {
		t.Errorf("deleted key: got %v, want -2015", err)
	}
	r = h.signed(m, http.MethodPost, "/sapi/v2/sub-account/subAccountApi/ipRestriction", nil, url.Values{"email": {"rsa@acme.example"}, "subAccountApiKey": {rsaKey.APIKey}, "status": {"2"}, "ipAddress": {"198.51.100.7"}})
	if r.Status != 200 || !strings.Contains(string(r.Body), `"status":"2"`) {
		t.Fatalf("ip lock: got %d %s", r.Status, r.Body)
	}
	if _, err := h.spot(rsaKey).NewGetAccountService().Do(bg); apiCode(err) != -2015 {
		t.Errorf("ip-locked key: got %v, want -2015", err)
	}
	got, err := h.spot(m).NewSubAccountApiIpRestrictionService().Email("rsa@acme.example").SubAccountApiKey(rsaKey.APIKey).Do(bg)
	if err != nil || got.IpRestrict != "true" || len(got.IpList) != 1 || got.IpList[0] != "198.51.100.7" {
		t.Errorf("ip restriction after lock: got %+v, %v", got, err)
	}
	r = h.signed(m, http.MethodPost, "/sapi/v1/sub-account/subAccountApiPermission", nil, url.Values{"email": {"ed@acme.example"}, "subAccountApiKey": {ed.APIKey},
		"canTrade": {"false"}, "canMarginLoanRepay": {"false"}, "canFuturesTrade": {"false"}, "canUniversalTransfer": {"false"}, "canVanillaOptions": {"false"}})
	if r.Status != 200 || !strings.Contains(string(r.Body), `"canTrade":false`) {
		t.Fatalf("strip: got %d %s", r.Status, r.Body)
	}
	if _, err := h.spot(ed).NewCancelOpenOrdersService().Symbol("BTCUSDT").Do(bg); apiCode(err) != -2015 {
		t.Errorf("stripped key trading: got %v, want -2015", err)
	}
	if _, err := h.spot(ed).NewGetAccountService().Do(bg); err != nil {
		t.Errorf("stripped key reading: got %v, want it to still read", err)
	}
	_, err = h.spot(m).NewSubAccountApiAddIpRestrictionService().Email("ed@acme.example").SubAccountApiKey(ed.APIKey).Status("2").IpAddress("1.2.3.4").Do(bg)
	if err == nil || apiCode(err) != 0 || !strings.Contains(err.Error(), "404") {
		t.Errorf("SDK's discontinued v1 ip restriction: got %v, want a 404", err)
	}
	r = h.signed(m, http.MethodDelete, "/sapi/v1/sub-account/subAccountApi", nil, url.Values{"email": {"nobody@acme.example"}, "subAccountApiKey": {ed.APIKey}})
	if r.Status != 400 {
		t.Errorf("delete with a foreign email: got %d %s, want 400", r.Status, r.Body)
	}
	// An account without the sub-account function gets -8012 from the
	// list (EXCHANGES.md C2), -1002 from the other master-only endpoints.
	r = h.signed(ed, http.MethodGet, "/sapi/v1/sub-account/list", nil, nil)
	if want := `{"code":-8012,"msg":"Sub-account function is not enabled."}`; r.Status != 400 || strings.TrimSpace(string(r.Body)) != want {
		t.Errorf("sub key on sub-account/list: got %d %s, want 400 %s", r.Status, r.Body, want)
	}
	r = h.signed(ed, http.MethodGet, "/sapi/v4/sub-account/assets", url.Values{"email": {"ed@acme.example"}}, nil)
	if r.Status != 401 || r.code() != -1002 {
		t.Errorf("sub key on a master-only endpoint: got %d %s, want 401 -1002", r.Status, r.Body)
	}
}

// TestSubAccountList: subUserId is a number, which go-binance v2.8.7
// decodes as a string (it fails); the default page size is 1.
func TestSubAccountList(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	m := h.creds("acme-master")
	_, err := h.spot(m).NewSubAccountListService().Do(bg)
	if err == nil || !strings.Contains(err.Error(), "subUserId") {
		t.Errorf("SDK: got %v, want its subUserId decode error", err)
	}
	tests := []struct {
		query url.Values
		want  int
	}{
		{nil, 1},
		{url.Values{"limit": {"10"}}, 4},
		{url.Values{"limit": {"3"}, "page": {"2"}}, 1},
		{url.Values{"email": {"ed@acme.example"}, "limit": {"10"}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.query.Encode(), func(t *testing.T) {
			r := h.signed(m, http.MethodGet, "/sapi/v1/sub-account/list", tt.query, nil)
			var got struct {
				SubAccounts []struct {
					SubUserID int64  `json:"subUserId"`
					Email     string `json:"email"`
				} `json:"subAccounts"`
			}
			if err := json.Unmarshal(r.Body, &got); err != nil || len(got.SubAccounts) != tt.want {
				t.Errorf("got %s, want %d sub-accounts", r.Body, tt.want)
			}
		})
	}
}

// TestPermissions: each endpoint checks its permission.
func TestPermissions(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	readonly := h.keyAt("acme-master", 1)
	risky := h.creds("acme-risky")
	tests := []struct {
		name         string
		c            cred
		method, path string
		form         url.Values
		wantStatus   int
	}{
		{"read-only key reads", readonly, http.MethodGet, "/api/v3/account", nil, 200},
		{"read-only key cancels spot", readonly, http.MethodDelete, "/api/v3/openOrders", url.Values{"symbol": {"BTCUSDT"}}, 401},
		{"read-only key cancels futures", readonly, http.MethodDelete, "/fapi/v1/allOpenOrders", url.Values{"symbol": {"BTCUSDT"}}, 401},
		{"read-only key transfers", readonly, http.MethodPost, "/sapi/v1/sub-account/universalTransfer", url.Values{"fromEmail": {"risky@acme.example"}, "fromAccountType": {"SPOT"}, "toAccountType": {"SPOT"}, "asset": {"USDT"}, "amount": {"1"}}, 401},
		{"spot key without futures cancels futures", risky, http.MethodDelete, "/fapi/v1/allOpenOrders", url.Values{"symbol": {"BTCUSDT"}}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.signed(tt.c, tt.method, tt.path, nil, tt.form)
			if r.Status != tt.wantStatus || (tt.wantStatus == 401 && r.code() != -2015) {
				t.Errorf("got %d %s, want %d", r.Status, r.Body, tt.wantStatus)
			}
		})
	}
}

// TestUniversalTransfer sweeps a sub-account's balance to the master.
func TestUniversalTransfer(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	m := h.creds("acme-master")
	sc := h.spot(m)
	res, err := sc.NewSubAccountUniversalTransferService().FromEmail("risky@acme.example").FromAccountType("SPOT").ToAccountType("SPOT").Asset("USDT").Amount("7000").Do(bg)
	if err != nil || res.TranId == 0 {
		t.Fatalf("transfer: %+v %v", res, err)
	}
	sub, _ := sc.NewSubAccountAssetService().Email("risky@acme.example").Do(bg)
	if len(sub.Balances) != 1 || sub.Balances[0].Asset != "BTC" {
		t.Errorf("sub after sweep: got %+v, want only BTC", sub.Balances)
	}
	acc, _ := sc.NewGetAccountService().Do(bg)
	for _, b := range acc.Balances {
		if b.Asset == "USDT" && b.Free != "107000.00000000" {
			t.Errorf("master USDT: got %s, want 107000", b.Free)
		}
	}
	_, err = sc.NewSubAccountUniversalTransferService().FromEmail("risky@acme.example").FromAccountType("SPOT").ToAccountType("SPOT").Asset("USDT").Amount("1").Do(bg)
	if apiCode(err) != -3041 {
		t.Errorf("second sweep: got %v, want -3041", err)
	}
}
