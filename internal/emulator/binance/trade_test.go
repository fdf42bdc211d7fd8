package binance_test

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	gb "github.com/adshao/go-binance/v2"
	"github.com/adshao/go-binance/v2/delivery"
	"github.com/adshao/go-binance/v2/futures"
)

// spotBal returns free and locked of asset in the key's spot account.
func spotBal(t *testing.T, c *gb.Client, asset string) (free, locked float64) {
	t.Helper()
	acc, err := c.NewGetAccountService().Do(bg)
	if err != nil {
		t.Fatalf("account: %v", err)
	}
	for _, b := range acc.Balances {
		if b.Asset == asset {
			f, _ := strconv.ParseFloat(b.Free, 64)
			l, _ := strconv.ParseFloat(b.Locked, 64)
			return f, l
		}
	}
	return 0, 0
}

func near(a, b float64) bool { return abs64(a-b) < 1e-6 }

func abs64(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestSpotOrders places, lists, queries and cancels spot orders through
// go-binance: a resting LIMIT locks its funds and a cancel releases them;
// MARKET and crossing LIMIT orders fill at the price table.
func TestSpotOrders(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	sc := h.spot(h.creds("acme-master"))
	free0, locked0 := spotBal(t, sc, "USDT")

	res, err := sc.NewCreateOrderService().Symbol("BTCUSDT").Side(gb.SideTypeBuy).Type(gb.OrderTypeLimit).
		TimeInForce(gb.TimeInForceTypeGTC).Quantity("0.01").Price("60000").Do(bg)
	if err != nil || res.Status != gb.OrderStatusTypeNew || res.OrderID == 0 {
		t.Fatalf("limit buy: got %+v, %v; want NEW", res, err)
	}
	if free, locked := spotBal(t, sc, "USDT"); !near(free, free0-600) || !near(locked, locked0+600) {
		t.Errorf("after the limit buy: USDT free %v locked %v, want %v and %v", free, locked, free0-600, locked0+600)
	}
	open, _ := sc.NewListOpenOrdersService().Symbol("BTCUSDT").Do(bg)
	found := false
	for _, o := range open {
		found = found || o.OrderID == res.OrderID
	}
	if !found {
		t.Errorf("open orders: %d listed, the new order %d not among them", len(open), res.OrderID)
	}
	got, err := sc.NewGetOrderService().Symbol("BTCUSDT").OrderID(res.OrderID).Do(bg)
	if err != nil || got.Status != gb.OrderStatusTypeNew || got.Price != "60000.00000000" {
		t.Errorf("get order: got %+v, %v", got, err)
	}
	cancel, err := sc.NewCancelOrderService().Symbol("BTCUSDT").OrderID(res.OrderID).Do(bg)
	if err != nil || cancel.Status != gb.OrderStatusTypeCanceled {
		t.Fatalf("cancel: got %+v, %v", cancel, err)
	}
	if free, locked := spotBal(t, sc, "USDT"); !near(free, free0) || !near(locked, locked0) {
		t.Errorf("after the cancel: USDT free %v locked %v, want them back at %v and %v", free, locked, free0, locked0)
	}
	if got, err := sc.NewGetOrderService().Symbol("BTCUSDT").OrderID(res.OrderID).Do(bg); err != nil || got.Status != gb.OrderStatusTypeCanceled {
		t.Errorf("get the cancelled order: got %+v, %v", got, err)
	}
	if _, err := sc.NewCancelOrderService().Symbol("BTCUSDT").OrderID(res.OrderID).Do(bg); apiCode(err) != -2011 {
		t.Errorf("cancel twice: got %v, want -2011", err)
	}

	btc0, _ := spotBal(t, sc, "BTC")
	usdt0, _ := spotBal(t, sc, "USDT")
	mkt, err := sc.NewCreateOrderService().Symbol("BTCUSDT").Side(gb.SideTypeBuy).Type(gb.OrderTypeMarket).Quantity("0.01").Do(bg)
	if err != nil || mkt.Status != gb.OrderStatusTypeFilled || len(mkt.Fills) != 1 || mkt.Fills[0].Price != "64000.00000000" {
		t.Fatalf("market buy: got %+v, %v; want FILLED at 64000", mkt, err)
	}
	btc1, _ := spotBal(t, sc, "BTC")
	usdt1, _ := spotBal(t, sc, "USDT")
	if !near(btc1-btc0, 0.01*0.999) || !near(usdt0-usdt1, 640) {
		t.Errorf("market buy moved BTC %v and USDT %v, want +0.00999 and -640", btc1-btc0, usdt1-usdt0)
	}
	cross, err := sc.NewCreateOrderService().Symbol("BTCUSDT").Side(gb.SideTypeSell).Type(gb.OrderTypeLimit).
		TimeInForce(gb.TimeInForceTypeGTC).Quantity("0.01").Price("63000").Do(bg)
	if err != nil || cross.Status != gb.OrderStatusTypeFilled || cross.Fills[0].Price != "64000.00000000" {
		t.Errorf("crossing limit sell: got %+v, %v; want FILLED at the table price", cross, err)
	}
	stop, err := sc.NewCreateOrderService().Symbol("BTCUSDT").Side(gb.SideTypeSell).Type(gb.OrderTypeStopLossLimit).
		TimeInForce(gb.TimeInForceTypeGTC).Quantity("0.1").Price("59900").StopPrice("60000").NewOrderRespType(gb.NewOrderRespTypeRESULT).Do(bg)
	if err != nil || stop.Status != gb.OrderStatusTypeNew {
		t.Fatalf("stop-loss limit: got %+v, %v", stop, err)
	}
	if _, locked := spotBal(t, sc, "BTC"); !near(locked, 0.35) {
		t.Errorf("BTC locked after the stop sell: got %v, want 0.25+0.1", locked)
	}
	_, err = sc.NewCreateOrderService().Symbol("BTCUSDT").Side(gb.SideTypeSell).Type(gb.OrderTypeTakeProfitLimit).
		TimeInForce(gb.TimeInForceTypeGTC).Quantity("0.1").Price("60000").StopPrice("60000").Do(bg)
	if apiCode(err) != -2010 || !strings.Contains(err.Error(), "Order would trigger immediately.") {
		t.Errorf("take-profit below the market: got %v, want -2010 Order would trigger immediately.", err)
	}
	_, err = sc.NewCreateOrderService().Symbol("BTCUSDT").Side(gb.SideTypeBuy).Type(gb.OrderTypeLimitMaker).
		Quantity("0.01").Price("65000").Do(bg)
	if apiCode(err) != -2010 || !strings.Contains(err.Error(), "Order would immediately match and take.") {
		t.Errorf("crossing limit maker: got %v, want -2010", err)
	}
	maker, err := sc.NewCreateOrderService().Symbol("BTCUSDT").Side(gb.SideTypeSell).Type(gb.OrderTypeLimitMaker).
		Quantity("0.01").Price("65000").Do(bg)
	if err != nil || maker.OrderID == 0 || maker.Status != "" {
		t.Errorf("limit maker above the market: got %+v, %v; want an ACK answer (the default for LIMIT_MAKER)", maker, err)
	}
	all, err := sc.NewCancelOpenOrdersService().Symbol("BTCUSDT").Do(bg)
	if err != nil || len(all.Orders) != 4 {
		t.Fatalf("cancel all: got %+v, %v; want the 2 state orders, the stop and the maker", all, err)
	}
	if _, locked := spotBal(t, sc, "BTC"); !near(locked, 0.25) {
		t.Errorf("BTC locked after cancel-all: got %v, want 0.25 (the state's own lock, the list is still open)", locked)
	}
}

// TestSpotOrderRefusals: every refusal carries Binance's code and HTTP
// status, and nothing is placed.
func TestSpotOrderRefusals(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	m := h.creds("acme-master")
	limit := func(extra url.Values) url.Values {
		v := url.Values{"symbol": {"BTCUSDT"}, "side": {"BUY"}, "type": {"LIMIT"}, "timeInForce": {"GTC"}, "quantity": {"0.01"}, "price": {"60000"}}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
	tests := []struct {
		name       string
		c          cred
		form       url.Values
		wantStatus int
		wantCode   int64
		wantMsg    string
	}{
		{"read-only key", h.keyAt("acme-master", 1), limit(nil), 401, -2015, "Invalid API-key, IP, or permissions for action."},
		{"key locked to another IP", h.creds("acme-locked"), limit(nil), 401, -2015, ""},
		{"insufficient balance", m, limit(url.Values{"quantity": {"2"}}), 400, -2010, "Account has insufficient balance for requested action."},
		{"insufficient base", m, limit(url.Values{"side": {"SELL"}, "quantity": {"5"}, "price": {"66000"}}), 400, -2010, "Account has insufficient balance for requested action."},
		{"unknown symbol", m, limit(url.Values{"symbol": {"DOGEUSDT"}}), 400, -1121, "Invalid symbol."},
		{"price off tick", m, limit(url.Values{"price": {"60000.001"}}), 400, -1013, "Filter failure: PRICE_FILTER"},
		{"quantity off step", m, limit(url.Values{"quantity": {"0.0100001"}}), 400, -1013, "Filter failure: LOT_SIZE"},
		{"notional too small", m, limit(url.Values{"quantity": {"0.00001"}}), 400, -1013, "Filter failure: NOTIONAL"},
		{"price far from the market", m, limit(url.Values{"price": {"1000"}}), 400, -1013, "Filter failure: PERCENT_PRICE_BY_SIDE"},
		{"no timeInForce", m, limit(url.Values{"timeInForce": {""}}), 400, -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."},
		{"no price", m, limit(url.Values{"price": {""}}), 400, -1102, ""},
		{"bad side", m, limit(url.Values{"side": {"HOLD"}}), 400, -1117, "Invalid side."},
		{"bad type", m, limit(url.Values{"type": {"ICEBERG"}}), 400, -1116, "Invalid orderType."},
		{"bad quantity", m, limit(url.Values{"quantity": {"1e3"}}), 400, -1100, ""},
		{"price on a market order", m, limit(url.Values{"type": {"MARKET"}, "timeInForce": {""}}), 400, -1106, "Parameter 'price' sent when not required."},
		{"stop without stopPrice", m, limit(url.Values{"type": {"STOP_LOSS_LIMIT"}}), 400, -1102, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.signed(tt.c, http.MethodPost, "/api/v3/order", nil, tt.form)
			var body struct {
				Code int64  `json:"code"`
				Msg  string `json:"msg"`
			}
			_ = json.Unmarshal(r.Body, &body)
			if r.Status != tt.wantStatus || body.Code != tt.wantCode || (tt.wantMsg != "" && body.Msg != tt.wantMsg) {
				t.Errorf("got %d %s, want %d %d %q", r.Status, r.Body, tt.wantStatus, tt.wantCode, tt.wantMsg)
			}
		})
	}
	open, err := h.spot(m).NewListOpenOrdersService().Symbol("BTCUSDT").Do(bg)
	if err != nil || len(open) != 4 {
		t.Errorf("after the refusals: got %d open orders (%v), want the state's 4", len(open), err)
	}
	if free, locked := spotBal(t, h.spot(m), "USDT"); free != 100000 || locked != 6400 {
		t.Errorf("after the refusals: USDT %v/%v, want 100000/6400 untouched", free, locked)
	}
}

// TestSpotOrderRateLimit: the 10-second order count is in the headers of
// accepted orders; past the limit the venue answers 429 -1015 without
// Retry-After.
func TestSpotOrderRateLimit(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	h.alignMinute()
	m := h.creds("acme-master")
	form := url.Values{"symbol": {"BTCUSDT"}, "side": {"BUY"}, "type": {"LIMIT"}, "timeInForce": {"GTC"}, "quantity": {"0.0001"}, "price": {"61000"}}
	for i := 1; i <= 100; i++ {
		r := h.signed(m, http.MethodPost, "/api/v3/order", nil, form)
		if r.Status != 200 || r.Header.Get("X-MBX-ORDER-COUNT-10S") != strconv.Itoa(i) || r.Header.Get("X-MBX-ORDER-COUNT-1D") != strconv.Itoa(i) {
			t.Fatalf("order %d: got %d %s, 10s count %q, 1d count %q", i, r.Status, r.Body, r.Header.Get("X-MBX-ORDER-COUNT-10S"), r.Header.Get("X-MBX-ORDER-COUNT-1D"))
		}
	}
	r := h.signed(m, http.MethodPost, "/api/v3/order", nil, form)
	if r.Status != 429 || r.code() != -1015 || r.Header.Get("Retry-After") != "" ||
		!strings.Contains(string(r.Body), "Too many new orders; current limit is 100 orders per 10 SECOND.") {
		t.Errorf("order 101: got %d %s (Retry-After %q), want 429 -1015 without Retry-After", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	h.advance(10 * 1e9)
	if r := h.signed(m, http.MethodPost, "/api/v3/order", nil, form); r.Status != 200 || r.Header.Get("X-MBX-ORDER-COUNT-10S") != "1" || r.Header.Get("X-MBX-ORDER-COUNT-1D") != "101" {
		t.Errorf("next window: got %d %s, counts %q/%q", r.Status, r.Body, r.Header.Get("X-MBX-ORDER-COUNT-10S"), r.Header.Get("X-MBX-ORDER-COUNT-1D"))
	}
}

// TestOCO places OCO lists through go-binance (the deprecated path it
// uses) and the current /api/v3/orderList/oco; the legs are listed, lock
// their funds once and are released by cancel-all.
func TestOCO(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	m := h.creds("acme-master")
	sc := h.spot(m)
	oco, err := sc.NewCreateOCOService().Symbol("ETHUSDT").Side(gb.SideTypeBuy).Quantity("1").Price("3100").
		StopPrice("3300").StopLimitPrice("3310").StopLimitTimeInForce(gb.TimeInForceTypeGTC).Do(bg)
	if err != nil || len(oco.Orders) != 2 || oco.ContingencyType != "OCO" {
		t.Fatalf("legacy OCO: got %+v, %v", oco, err)
	}
	if _, locked := spotBal(t, sc, "USDT"); !near(locked, 6400+3310) {
		t.Errorf("USDT locked: got %v, want 6400 + 3310 (the dearer leg)", locked)
	}
	r := h.signed(m, http.MethodPost, "/api/v3/orderList/oco", nil, url.Values{"symbol": {"BTCUSDT"}, "side": {"SELL"}, "quantity": {"0.1"},
		"aboveType": {"LIMIT_MAKER"}, "abovePrice": {"66000"}, "belowType": {"STOP_LOSS_LIMIT"}, "belowStopPrice": {"62000"},
		"belowPrice": {"61900"}, "belowTimeInForce": {"GTC"}})
	if r.Status != 200 || !strings.Contains(string(r.Body), `"listStatusType":"EXEC_STARTED"`) {
		t.Fatalf("orderList/oco: got %d %s", r.Status, r.Body)
	}
	if _, locked := spotBal(t, sc, "BTC"); !near(locked, 0.35) {
		t.Errorf("BTC locked: got %v, want 0.25 + 0.1 (once for both legs)", locked)
	}
	if open, _ := sc.NewListOpenOrdersService().Symbol("ETHUSDT").Do(bg); len(open) != 3 {
		t.Errorf("ETHUSDT open orders: got %d, want the state's 1 and 2 legs", len(open))
	}
	if open, _ := sc.NewListOpenOrdersService().Symbol("BTCUSDT").Do(bg); len(open) != 6 {
		t.Errorf("BTCUSDT open orders: got %d, want the state's 4 and 2 legs", len(open))
	}
	refusals := []struct {
		name string
		form url.Values
		code int64
	}{
		{"prices in the wrong order", url.Values{"aboveType": {"LIMIT_MAKER"}, "abovePrice": {"63000"}, "belowType": {"STOP_LOSS"}, "belowStopPrice": {"62000"}}, -2010},
		{"stop loss above in a sell", url.Values{"aboveType": {"STOP_LOSS"}, "aboveStopPrice": {"66000"}, "belowType": {"LIMIT_MAKER"}, "belowPrice": {"62000"}}, -1197},
		{"two limits", url.Values{"aboveType": {"LIMIT_MAKER"}, "abovePrice": {"66000"}, "belowType": {"LIMIT_MAKER"}, "belowPrice": {"62000"}}, -1168},
		{"unsupported leg type", url.Values{"aboveType": {"LIMIT"}, "abovePrice": {"66000"}, "belowType": {"STOP_LOSS"}, "belowStopPrice": {"62000"}}, -1158},
		{"more than the balance", url.Values{"quantity": {"5"}, "aboveType": {"LIMIT_MAKER"}, "abovePrice": {"66000"}, "belowType": {"STOP_LOSS"}, "belowStopPrice": {"62000"}}, -2010},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			tt.form.Set("symbol", "BTCUSDT")
			tt.form.Set("side", "SELL")
			if tt.form.Get("quantity") == "" {
				tt.form.Set("quantity", "0.1")
			}
			if r := h.signed(m, http.MethodPost, "/api/v3/orderList/oco", nil, tt.form); r.Status != 400 || r.code() != tt.code {
				t.Errorf("got %d %s, want 400 %d", r.Status, r.Body, tt.code)
			}
		})
	}
	res, err := sc.NewCancelOpenOrdersService().Symbol("ETHUSDT").Do(bg)
	if err != nil || len(res.OCOOrders) != 1 || len(res.Orders) != 1 {
		t.Fatalf("cancel all ETHUSDT: got %+v, %v", res, err)
	}
	if _, locked := spotBal(t, sc, "USDT"); !near(locked, 6400) {
		t.Errorf("USDT locked after cancel-all: got %v, want 6400", locked)
	}
	if res, err := sc.NewCancelOpenOrdersService().Symbol("BTCUSDT").Do(bg); err != nil || len(res.OCOOrders) != 2 {
		t.Fatalf("cancel all BTCUSDT: got %+v, %v", res, err)
	}
	if _, locked := spotBal(t, sc, "BTC"); !near(locked, 0.25) {
		t.Errorf("BTC locked after cancel-all: got %v, want the state's 0.25", locked)
	}
}

// TestMarginOrders: cross and isolated margin orders through go-binance,
// with their own wallets, cancels, borrowing and refusals.
func TestMarginOrders(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	m := h.creds("acme-master")
	sc := h.spot(m)
	res, err := sc.NewCreateMarginOrderService().Symbol("BTCUSDT").Side(gb.SideTypeBuy).Type(gb.OrderTypeLimit).
		TimeInForce(gb.TimeInForceTypeGTC).Quantity("0.01").Price("60000").Do(bg)
	if err != nil || res.Status != gb.OrderStatusTypeNew {
		t.Fatalf("margin limit: got %+v, %v", res, err)
	}
	acc, _ := sc.NewGetMarginAccountService().Do(bg)
	for _, a := range acc.UserAssets {
		if a.Asset == "USDT" && (a.Free != "4400.00000000" || a.Locked != "600.00000000") {
			t.Errorf("margin USDT: free %s locked %s, want 4400 and 600", a.Free, a.Locked)
		}
	}
	open, _ := sc.NewListMarginOpenOrdersService().Symbol("BTCUSDT").Do(bg)
	if len(open) != 2 {
		t.Errorf("margin open orders: got %d, want the state's one and the new one", len(open))
	}
	cancel, err := sc.NewCancelMarginOrderService().Symbol("BTCUSDT").OrderID(res.OrderID).Do(bg)
	if err != nil || cancel.Status != gb.OrderStatusTypeCanceled || cancel.OrderID != strconv.FormatInt(res.OrderID, 10) {
		t.Fatalf("margin cancel: got %+v, %v", cancel, err)
	}
	iso, err := sc.NewCreateMarginOrderService().Symbol("BTCUSDT").IsIsolated(true).Side(gb.SideTypeSell).Type(gb.OrderTypeLimit).
		TimeInForce(gb.TimeInForceTypeGTC).Quantity("0.05").Price("66000").Do(bg)
	if err != nil || !iso.IsIsolated {
		t.Fatalf("isolated limit: got %+v, %v", iso, err)
	}
	isoAcc, _ := sc.NewGetIsolatedMarginAccountService().Symbols("BTCUSDT").Do(bg)
	if len(isoAcc.Assets) != 1 || isoAcc.Assets[0].BaseAsset.Locked != "0.05000000" {
		t.Errorf("isolated base locked: got %+v", isoAcc.Assets)
	}
	r := h.signed(m, http.MethodPost, "/sapi/v1/margin/order", nil, url.Values{"symbol": {"BTCUSDT"}, "side": {"BUY"}, "type": {"LIMIT"},
		"timeInForce": {"GTC"}, "quantity": {"1"}, "price": {"60000"}})
	if r.Status != 400 || r.code() != -2010 || r.Header.Get("X-SAPI-USED-UID-WEIGHT-1M") == "" {
		t.Errorf("unfunded margin order: got %d %s, want 400 -2010 with a UID weight header", r.Status, r.Body)
	}
	borrow, err := sc.NewCreateMarginOrderService().Symbol("BTCUSDT").Side(gb.SideTypeBuy).Type(gb.OrderTypeLimit).
		TimeInForce(gb.TimeInForceTypeGTC).Quantity("0.1").Price("60000").SideEffectType(gb.SideEffectTypeMarginBuy).Do(bg)
	if err != nil || borrow.MarginBuyBorrowAmount != "1000.00000000" || borrow.MarginBuyBorrowAsset != "USDT" {
		t.Errorf("margin buy with borrowing: got %+v, %v; want 1000 USDT borrowed", borrow, err)
	}
	ed := h.creds("acme-ed")
	r = h.signed(ed, http.MethodPost, "/sapi/v1/margin/order", nil, url.Values{"symbol": {"BTCUSDT"}, "side": {"BUY"}, "type": {"MARKET"}, "quantity": {"0.001"}})
	if r.Status != 400 || r.code() != -3003 {
		t.Errorf("no margin account: got %d %s, want 400 -3003", r.Status, r.Body)
	}
	r = h.signed(ed, http.MethodPost, "/sapi/v1/margin/order", nil, url.Values{"symbol": {"BTCUSDT"}, "isIsolated": {"TRUE"}, "side": {"BUY"}, "type": {"MARKET"}, "quantity": {"0.001"}})
	if r.Status != 400 || r.code() != -11001 {
		t.Errorf("no isolated account: got %d %s, want 400 -11001", r.Status, r.Body)
	}
	if r := h.signed(h.keyAt("acme-master", 1), http.MethodPost, "/sapi/v1/margin/order", nil, url.Values{"symbol": {"BTCUSDT"}, "side": {"BUY"}, "type": {"MARKET"}, "quantity": {"0.001"}}); r.Status != 401 || r.code() != -2015 {
		t.Errorf("read-only key: got %d %s, want 401 -2015", r.Status, r.Body)
	}
	left, err := sc.NewListMarginOpenOrdersService().Symbol("BTCUSDT").IsIsolated(true).Do(bg)
	if err != nil || len(left) != 2 {
		t.Errorf("isolated open orders: got %d (%v), want the state's one and the new one", len(left), err)
	}
}

// TestFuturesOrders: USDⓈ-M LIMIT/MARKET orders and conditional (algo)
// orders, COIN-M limit and stop orders, through go-binance and raw HTTP.
func TestFuturesOrders(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	m := h.creds("acme-master")
	fc := h.futures(m)
	avail := func() float64 {
		bals, err := fc.NewGetBalanceService().Do(bg)
		if err != nil || len(bals) == 0 {
			t.Fatalf("balance: %v", err)
		}
		f, _ := strconv.ParseFloat(bals[0].AvailableBalance, 64)
		return f
	}
	before := avail()
	res, err := fc.NewCreateOrderService().Symbol("BTCUSDT").Side(futures.SideTypeBuy).Type(futures.OrderTypeLimit).
		TimeInForce(futures.TimeInForceTypeGTC).Quantity("0.01").Price("63000").Do(bg)
	if err != nil || res.Status != futures.OrderStatusTypeNew {
		t.Fatalf("usdm limit: got %+v, %v", res, err)
	}
	if got := avail(); !near(before-got, 63) {
		t.Errorf("available balance moved by %v, want the order's margin 63", before-got)
	}
	open, _ := fc.NewListOpenOrdersService().Symbol("BTCUSDT").Do(bg)
	if len(open) != 2 {
		t.Errorf("usdm open orders: got %d, want 2", len(open))
	}
	cancel, err := fc.NewCancelOrderService().Symbol("BTCUSDT").OrderID(res.OrderID).Do(bg)
	if err != nil || cancel.Status != futures.OrderStatusTypeCanceled {
		t.Fatalf("usdm cancel: got %+v, %v", cancel, err)
	}
	if got, err := fc.NewGetOrderService().Symbol("BTCUSDT").OrderID(res.OrderID).Do(bg); err != nil || got.Status != futures.OrderStatusTypeCanceled {
		t.Errorf("get the cancelled order: got %+v, %v", got, err)
	}
	mkt, err := fc.NewCreateOrderService().Symbol("ETHUSDT").Side(futures.SideTypeBuy).Type(futures.OrderTypeMarket).
		Quantity("0.1").NewOrderResponseType(futures.NewOrderRespTypeRESULT).Do(bg)
	if err != nil || mkt.Status != futures.OrderStatusTypeFilled || mkt.AvgPrice != "3200" {
		t.Fatalf("usdm market: got %+v, %v", mkt, err)
	}
	pos, _ := fc.NewGetPositionRiskV3Service().Symbol("ETHUSDT").Do(bg)
	if len(pos) != 1 || pos[0].PositionAmt != "0.1" {
		t.Errorf("ETHUSDT position: got %+v, want 0.1", pos)
	}
	tests := []struct {
		name string
		form url.Values
		code int64
	}{
		{"stop on the order endpoint", url.Values{"symbol": {"BTCUSDT"}, "side": {"SELL"}, "type": {"STOP_MARKET"}, "stopPrice": {"60000"}, "quantity": {"0.01"}}, -4120},
		{"margin insufficient", url.Values{"symbol": {"BTCUSDT"}, "side": {"BUY"}, "type": {"LIMIT"}, "timeInForce": {"GTC"}, "price": {"63000"}, "quantity": {"10"}}, -2019},
		{"notional too small", url.Values{"symbol": {"BTCUSDT"}, "side": {"BUY"}, "type": {"LIMIT"}, "timeInForce": {"GTC"}, "price": {"63000"}, "quantity": {"0.001"}}, -4164},
		{"price off tick", url.Values{"symbol": {"BTCUSDT"}, "side": {"BUY"}, "type": {"LIMIT"}, "timeInForce": {"GTC"}, "price": {"63000.001"}, "quantity": {"0.01"}}, -4014},
		{"price too high", url.Values{"symbol": {"BTCUSDT"}, "side": {"BUY"}, "type": {"LIMIT"}, "timeInForce": {"GTC"}, "price": {"70000"}, "quantity": {"0.01"}}, -4016},
		{"post-only crossing", url.Values{"symbol": {"BTCUSDT"}, "side": {"BUY"}, "type": {"LIMIT"}, "timeInForce": {"GTX"}, "price": {"64500"}, "quantity": {"0.01"}}, -5022},
		{"unknown symbol", url.Values{"symbol": {"DOGEUSDT"}, "side": {"BUY"}, "type": {"MARKET"}, "quantity": {"1"}}, -1121},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := h.signed(m, http.MethodPost, "/fapi/v1/order", nil, tt.form); r.Status != 400 || r.code() != tt.code {
				t.Errorf("got %d %s, want 400 %d", r.Status, r.Body, tt.code)
			}
		})
	}
	if r := h.signed(h.creds("acme-risky"), http.MethodPost, "/fapi/v1/order", nil, url.Values{"symbol": {"BTCUSDT"}, "side": {"BUY"}, "type": {"MARKET"}, "quantity": {"0.01"}}); r.Status != 401 || r.code() != -2015 {
		t.Errorf("key without futures: got %d %s, want 401 -2015", r.Status, r.Body)
	}

	algo := h.signed(m, http.MethodPost, "/fapi/v1/algoOrder", nil, url.Values{"algoType": {"CONDITIONAL"}, "symbol": {"ETHUSDT"}, "side": {"SELL"},
		"type": {"STOP_MARKET"}, "triggerPrice": {"3000"}, "quantity": {"0.1"}, "reduceOnly": {"true"}})
	if algo.Status != 200 || !strings.Contains(string(algo.Body), `"algoStatus":"NEW"`) || algo.Header.Get("X-MBX-ORDER-COUNT-10S") == "" {
		t.Fatalf("algo order: got %d %s", algo.Status, algo.Body)
	}
	if r := h.signed(m, http.MethodPost, "/fapi/v1/algoOrder", nil, url.Values{"algoType": {"CONDITIONAL"}, "symbol": {"ETHUSDT"}, "side": {"SELL"},
		"type": {"STOP_MARKET"}, "triggerPrice": {"3300"}, "quantity": {"0.1"}}); r.Status != 400 || r.code() != -2021 {
		t.Errorf("algo stop above the market: got %d %s, want -2021", r.Status, r.Body)
	}
	list := h.signed(m, http.MethodGet, "/fapi/v1/openAlgoOrders", url.Values{"symbol": {"ETHUSDT"}}, nil)
	if !strings.Contains(string(list.Body), `"triggerPrice":"3000"`) {
		t.Errorf("open algo orders: got %s", list.Body)
	}
	h.signed(m, http.MethodDelete, "/fapi/v1/algoOpenOrders", nil, url.Values{"symbol": {"ETHUSDT"}})
	if list := h.signed(m, http.MethodGet, "/fapi/v1/openAlgoOrders", url.Values{"symbol": {"ETHUSDT"}}, nil); string(list.Body) != "[]\n" {
		t.Errorf("after algo cancel-all: got %s", list.Body)
	}

	dc := h.delivery(m)
	dl, err := dc.NewCreateOrderService().Symbol("BTCUSD_PERP").Side(delivery.SideTypeBuy).Type(delivery.OrderTypeLimit).
		TimeInForce(delivery.TimeInForceTypeGTC).Quantity("1").Price("63000").Do(bg)
	if err != nil || dl.Status != delivery.OrderStatusTypeNew {
		t.Fatalf("coinm limit: got %+v, %v", dl, err)
	}
	ds, err := dc.NewCreateOrderService().Symbol("BTCUSD_PERP").Side(delivery.SideTypeBuy).Type(delivery.OrderTypeStopMarket).
		StopPrice("66000").Quantity("2").Do(bg)
	if err != nil || ds.Status != delivery.OrderStatusTypeNew {
		t.Fatalf("coinm stop: got %+v, %v", ds, err)
	}
	dopen, _ := dc.NewListOpenOrdersService().Symbol("BTCUSD_PERP").Do(bg)
	if len(dopen) != 3 {
		t.Errorf("coinm open orders: got %d, want the state's one and 2 new", len(dopen))
	}
	if _, err := dc.NewCancelOrderService().Symbol("BTCUSD_PERP").OrderID(dl.OrderID).Do(bg); err != nil {
		t.Errorf("coinm cancel: %v", err)
	}
	if err := dc.NewCancelAllOpenOrdersService().Symbol("BTCUSD_PERP").Do(bg); err != nil {
		t.Errorf("coinm cancel all: %v", err)
	}
	if dopen, _ := dc.NewListOpenOrdersService().Symbol("BTCUSD_PERP").Do(bg); len(dopen) != 0 {
		t.Errorf("coinm after cancel-all: got %d orders", len(dopen))
	}
}

// TestFuturesOrderRateLimit: the state's futures_orders_10s limit applies
// per account to /fapi/v1/order and /fapi/v1/algoOrder together.
func TestFuturesOrderRateLimit(t *testing.T) {
	b, err := fs.ReadFile(testdataFS(), testState)
	if err != nil {
		t.Fatal(err)
	}
	state := strings.Replace(string(b), "binance:\n", "binance:\n  limits: {futures_orders_10s: 2}\n", 1)
	h := newHarness(t, fstest.MapFS{"s.yaml": {Data: []byte(state)}}, "s.yaml")
	h.alignMinute()
	m := h.creds("acme-master")
	order := url.Values{"symbol": {"BTCUSDT"}, "side": {"BUY"}, "type": {"LIMIT"}, "timeInForce": {"GTC"}, "price": {"63000"}, "quantity": {"0.01"}}
	if r := h.signed(m, http.MethodPost, "/fapi/v1/order", nil, order); r.Status != 200 || r.Header.Get("X-MBX-ORDER-COUNT-10S") != "1" || r.Header.Get("X-MBX-ORDER-COUNT-1M") != "1" {
		t.Fatalf("first order: got %d %s, counts %q/%q", r.Status, r.Body, r.Header.Get("X-MBX-ORDER-COUNT-10S"), r.Header.Get("X-MBX-ORDER-COUNT-1M"))
	}
	algo := url.Values{"algoType": {"CONDITIONAL"}, "symbol": {"BTCUSDT"}, "side": {"SELL"}, "type": {"STOP_MARKET"}, "triggerPrice": {"60000"}, "quantity": {"0.01"}}
	if r := h.signed(m, http.MethodPost, "/fapi/v1/algoOrder", nil, algo); r.Status != 200 || r.Header.Get("X-MBX-ORDER-COUNT-10S") != "2" {
		t.Fatalf("algo order: got %d %s", r.Status, r.Body)
	}
	r := h.signed(m, http.MethodPost, "/fapi/v1/order", nil, order)
	if r.Status != 429 || r.code() != -1015 || r.Header.Get("Retry-After") != "" {
		t.Errorf("third order: got %d %s, want 429 -1015 without Retry-After", r.Status, r.Body)
	}
	if open, _ := h.futures(m).NewListOpenOrdersService().Symbol("BTCUSDT").Do(bg); len(open) != 2 {
		t.Errorf("open orders: got %d, want the state's one and the first new one", len(open))
	}
}
