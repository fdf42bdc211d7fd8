package kucoin

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	kucoin "github.com/Kucoin/kucoin-go-sdk"
)

// tradeState is a master with funds on every product, a read-only key and
// a key whitelisted for another IP.
const tradeState = `
cancel_delay: 40ms
symbols: [BTC-USDT, ETH-USDT]
contracts: [XBTUSDTM, ETHUSDTM]
masters:
  - name: trader
    uid: 700001
    keys:
      - {api_key: k-trade, secret: s-trade, passphrase: p-trade, version: 2, permission: "General,Spot,Margin,Futures"}
      - {api_key: k-read, secret: s-read, passphrase: p-read, version: 2, permission: General}
      - {api_key: k-far, secret: s-far, passphrase: p-far, version: 2, permission: "General,Spot,Margin,Futures", ip_whitelist: [203.0.113.7]}
    balances:
      trade_hf: {USDT: "10000", BTC: "1"}
      trade: {USDT: "10000", BTC: "1"}
      margin: {USDT: "1000"}
      isolated: {ETH-USDT: {base: "0", quote: "500"}}
    futures:
      accounts: {USDT: {balance: "1000"}}
`

var (
	trader  = creds{"k-trade", "s-trade", "p-trade", 2}
	readOne = creds{"k-read", "s-read", "p-read", 2}
	farKey  = creds{"k-far", "s-far", "p-far", 2}
)

// data decodes a successful SDK answer into v.
func data[T any](t *testing.T, rsp *kucoin.ApiResponse, err error) T {
	t.Helper()
	var v T
	mustOK(t, rsp, err, &v)
	return v
}

func (h *harness) balance(t *testing.T, typ, cur string) (balance, holds string) {
	t.Helper()
	rsp, err := h.client(SpotName, trader).Accounts(ctx, cur, typ)
	a := data[kucoin.AccountsModel](t, rsp, err)
	if len(a) != 1 {
		t.Fatalf("got %d %s %s accounts, want 1", len(a), typ, cur)
	}
	return a[0].Balance, a[0].Holds
}

func wantBalance(t *testing.T, h *harness, typ, cur, wantBal, wantHolds string) {
	t.Helper()
	b, hd := h.balance(t, typ, cur)
	if b != wantBal || hd != wantHolds {
		t.Errorf("%s %s: got balance %s holds %s, want %s holds %s", typ, cur, b, hd, wantBal, wantHolds)
	}
}

func TestHFOrderLifecycle(t *testing.T) {
	h := newHarnessYAML(t, tradeState)
	svc := h.client(SpotName, trader)

	// A limit buy below the price (65000) rests and holds price × size.
	rsp, err := svc.HfPlaceOrder(ctx, map[string]string{"clientOid": "hf-rest-1", "symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "60000", "size": "0.01"})
	placed := data[struct{ OrderId, ClientOid string }](t, rsp, err)
	if placed.OrderId == "" || placed.ClientOid != "hf-rest-1" {
		t.Fatalf("got %+v, want an orderId and clientOid hf-rest-1", placed)
	}
	if e := h.lastEntry(); e.Weight != 1 || e.Endpoint != "POST /api/v1/hf/orders" {
		t.Errorf("got %s weight %d, want POST /api/v1/hf/orders weight 1", e.Endpoint, e.Weight)
	}
	wantBalance(t, h, "trade_hf", "USDT", "10000", "600")

	rsp, err = svc.HfObtainActiveOrders(ctx, "BTC-USDT")
	active := data[[]struct{ Id, Price, Size string }](t, rsp, err)
	if len(active) != 1 || active[0].Id != placed.OrderId || active[0].Price != "60000" {
		t.Fatalf("active: got %+v, want the resting order", active)
	}
	rsp, err = svc.HfObtainActiveSymbols(ctx)
	if syms := data[struct{ Symbols []string }](t, rsp, err); len(syms.Symbols) != 1 || syms.Symbols[0] != "BTC-USDT" {
		t.Errorf("active symbols: got %v, want [BTC-USDT]", syms.Symbols)
	}
	rsp, err = svc.HfOrderDetailByClientOid(ctx, "hf-rest-1", "BTC-USDT")
	if d := data[struct {
		Id     string
		Active bool
	}](t, rsp, err); d.Id != placed.OrderId || !d.Active {
		t.Errorf("detail by clientOid: got %+v, want the active order", d)
	}

	// The cancel is a request: the order stays until cancel_delay, then
	// its hold is released.
	rsp, err = svc.HfCancelOrder(ctx, placed.OrderId, "BTC-USDT")
	if c := data[struct{ OrderId string }](t, rsp, err); c.OrderId != placed.OrderId {
		t.Errorf("cancel: got %+v, want orderId %s", c, placed.OrderId)
	}
	rsp, err = svc.HfCancelOrder(ctx, placed.OrderId, "BTC-USDT")
	wantCode(t, rsp, err, "400100") // already being cancelled
	time.Sleep(60 * time.Millisecond)
	rsp, err = svc.HfObtainActiveOrders(ctx, "BTC-USDT")
	if left := data[[]struct{ Id string }](t, rsp, err); len(left) != 0 {
		t.Errorf("after the cancel took effect: got %d active orders, want 0", len(left))
	}
	wantBalance(t, h, "trade_hf", "USDT", "10000", "0")

	// A market buy by funds fills at once at the table price.
	rsp, err = svc.HfPlaceOrder(ctx, map[string]string{"clientOid": "hf-mkt-1", "symbol": "BTC-USDT", "side": "buy", "type": "market", "funds": "650"})
	mkt := data[struct{ OrderId string }](t, rsp, err)
	wantBalance(t, h, "trade_hf", "BTC", "1.01", "0")
	wantBalance(t, h, "trade_hf", "USDT", "9349.35", "0") // 650 + 0.65 fee
	rsp, err = svc.HfOrderDetail(ctx, mkt.OrderId, "BTC-USDT")
	if d := data[struct {
		Active              bool
		DealSize, DealFunds string
	}](t, rsp, err); d.Active || d.DealSize != "0.01" || d.DealFunds != "650" {
		t.Errorf("market order: got %+v, want filled 0.01 for 650", d)
	}
	rsp, err = svc.HfTransactionDetails(ctx, map[string]string{"symbol": "BTC-USDT"})
	fills := data[struct {
		Items []struct{ OrderId, Price, Size string }
	}](t, rsp, err)
	if len(fills.Items) != 1 || fills.Items[0].OrderId != mkt.OrderId || fills.Items[0].Price != "65000" {
		t.Errorf("fills: got %+v, want one fill of the market order at 65000", fills.Items)
	}
	rsp, err = svc.HfObtainFilledOrders(ctx, map[string]string{"symbol": "BTC-USDT"})
	if done := data[struct{ Items []struct{ Id string } }](t, rsp, err); len(done.Items) != 2 {
		t.Errorf("done orders: got %d, want 2 (cancelled and filled)", len(done.Items))
	}

	// A crossing limit sell fills at the table price, not its own.
	rsp, err = svc.HfPlaceOrder(ctx, map[string]string{"symbol": "BTC-USDT", "side": "sell", "type": "limit", "price": "1000", "size": "0.5"})
	data[struct{ OrderId string }](t, rsp, err)
	wantBalance(t, h, "trade_hf", "BTC", "0.51", "0")
	wantBalance(t, h, "trade_hf", "USDT", "41816.85", "0") // + 32500 − 32.5 fee
}

func TestOrderRefusals(t *testing.T) {
	h := newHarnessYAML(t, tradeState)
	place := func(c creds, body map[string]string) func() (*kucoin.ApiResponse, error) {
		return func() (*kucoin.ApiResponse, error) { return h.client(SpotName, c).HfPlaceOrder(ctx, body) }
	}
	limit := func(kv ...string) map[string]string {
		m := map[string]string{"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "60000", "size": "0.01"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name     string
		do       func() (*kucoin.ApiResponse, error)
		code     string
		httpCode int
	}{
		{"no Spot permission", place(readOne, limit()), "400007", http.StatusForbidden},
		{"IP not whitelisted", place(farKey, limit()), "400006", http.StatusForbidden},
		{"insufficient balance", place(trader, limit("size", "1")), "200004", http.StatusOK},
		{"insufficient base for a sell", place(trader, limit("side", "sell", "price", "70000", "size", "2")), "200004", http.StatusOK},
		{"unknown symbol", place(trader, limit("symbol", "NOPE-USDT")), "900001", http.StatusBadRequest},
		{"price increment", place(trader, limit("price", "60000.05")), "400100", http.StatusBadRequest},
		{"size increment", place(trader, limit("size", "0.000000001")), "400100", http.StatusBadRequest},
		{"size below minimum", place(trader, limit("size", "0.000001")), "400100", http.StatusBadRequest},
		{"bad side", place(trader, limit("side", "long")), "400100", http.StatusBadRequest},
		{"market with size and funds", place(trader, map[string]string{"symbol": "BTC-USDT", "side": "buy", "type": "market", "size": "0.01", "funds": "10"}), "400100", http.StatusBadRequest},
		{"classic without Spot", func() (*kucoin.ApiResponse, error) {
			return h.client(SpotName, readOne).CreateOrder(ctx, &kucoin.CreateOrderModel{ClientOid: "c-x", Side: "buy", Symbol: "BTC-USDT", Type: "limit", Price: "60000", Size: "0.01"})
		}, "400007", http.StatusForbidden},
		{"margin without Margin", func() (*kucoin.ApiResponse, error) {
			return h.client(SpotName, readOne).HfCreateMarinOrderV3(ctx, &kucoin.HfMarginOrderV3Req{ClientOid: "m-x", Symbol: "BTC-USDT", Side: "buy", Type: "limit", Price: "60000", Size: "0.001"})
		}, "400007", http.StatusForbidden},
		{"stop on an unknown symbol", func() (*kucoin.ApiResponse, error) {
			return h.client(SpotName, trader).CreateStopOrder(ctx, &kucoin.CreateOrderModel{ClientOid: "s-x", Side: "sell", Symbol: "NOPE-USDT", Type: "limit", Price: "1", Size: "1", StopPrice: "1"})
		}, "900001", http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rsp, err := tc.do()
			wantCode(t, rsp, err, tc.code)
			if got := rsp.HttpSuccessful(); got != (tc.httpCode == http.StatusOK) {
				t.Errorf("got HTTP success %v, want HTTP %d", got, tc.httpCode)
			}
		})
	}
	// Nothing was placed and nothing is on hold.
	wantBalance(t, h, "trade_hf", "USDT", "10000", "0")
	wantBalance(t, h, "trade_hf", "BTC", "1", "0")
	rsp, err := h.client(SpotName, trader).HfObtainActiveSymbols(ctx)
	if s := data[struct{ Symbols []string }](t, rsp, err); len(s.Symbols) != 0 {
		t.Errorf("got active symbols %v after refusals, want none", s.Symbols)
	}
}

// TestRefusalRawHTTP checks the refusal bodies and statuses as a client
// that signs by hand sees them.
func TestRefusalRawHTTP(t *testing.T) {
	h := newHarnessYAML(t, tradeState)
	body := `{"clientOid":"raw-1","symbol":"BTC-USDT","side":"buy","type":"limit","price":"60000","size":"5"}`
	resp, m := h.raw(t, trader, "POST", "/api/v1/hf/orders", "", nil, body)
	if resp.StatusCode != http.StatusOK || m["code"] != "200004" || m["msg"] != "Balance insufficient!" {
		t.Errorf("got HTTP %d %v, want 200 with code 200004 Balance insufficient!", resp.StatusCode, m)
	}
	if resp.Header.Get("gw-ratelimit-remaining") != "3999" {
		t.Errorf("got gw-ratelimit-remaining %q, want 3999 (spot pool 4000, weight 1)", resp.Header.Get("gw-ratelimit-remaining"))
	}
	resp, m = h.raw(t, readOne, "POST", "/api/v1/hf/orders", "", nil, body)
	if resp.StatusCode != http.StatusForbidden || m["code"] != "400007" {
		t.Errorf("got HTTP %d %v, want 403 400007", resp.StatusCode, m)
	}
	resp, m = h.raw(t, trader, "POST", "/api/v1/hf/orders", "", nil, `{"symbol":"BTC-USDT","side":"buy","type":"limit","price":"60000","size":"0.01"`)
	if resp.StatusCode != http.StatusBadRequest || m["code"] != "400100" {
		t.Errorf("malformed JSON: got HTTP %d %v, want 400 400100", resp.StatusCode, m)
	}
	// Amounts may be JSON numbers.
	resp, m = h.raw(t, trader, "POST", "/api/v1/hf/orders", "", nil, `{"symbol":"BTC-USDT","side":"buy","type":"limit","price":60000,"size":0.01}`)
	if resp.StatusCode != http.StatusOK || m["code"] != "200000" {
		t.Errorf("numeric amounts: got HTTP %d %v, want 200000", resp.StatusCode, m)
	}
}

func TestClassicStopOCO(t *testing.T) {
	h := newHarnessYAML(t, tradeState)
	svc := h.client(SpotName, trader)
	pg := &kucoin.PaginationParam{CurrentPage: 1, PageSize: 50}

	// Classic: placed, listed, read, cancelled by id and by clientOid.
	var ids []string
	for _, coid := range []string{"c-1", "c-2"} {
		rsp, err := svc.CreateOrder(ctx, &kucoin.CreateOrderModel{ClientOid: coid, Side: "buy", Symbol: "ETH-USDT", Type: "limit", Price: "3000", Size: "0.1"})
		ids = append(ids, data[kucoin.CreateOrderResultModel](t, rsp, err).OrderId)
	}
	wantBalance(t, h, "trade", "USDT", "10000", "600")
	rsp, err := svc.Orders(ctx, map[string]string{"status": "active"}, pg)
	var list kucoin.PaginationModel
	mustOK(t, rsp, err, &list)
	if list.TotalNum != 2 {
		t.Fatalf("classic active: got %d, want 2", list.TotalNum)
	}
	rsp, err = svc.Order(ctx, ids[0])
	if o := data[kucoin.OrderModel](t, rsp, err); o.Id != ids[0] || !o.IsActive || o.ClientOid != "c-1" {
		t.Errorf("order: got %+v, want the active c-1", o)
	}
	rsp, err = svc.CancelOrder(ctx, ids[0])
	if c := data[kucoin.CancelOrderResultModel](t, rsp, err); len(c.CancelledOrderIds) != 1 || c.CancelledOrderIds[0] != ids[0] {
		t.Errorf("cancel: got %+v", c)
	}
	rsp, err = svc.CancelOrderByClient(ctx, "c-2")
	if c := data[struct{ CancelledOrderId, ClientOid string }](t, rsp, err); c.CancelledOrderId != ids[1] || c.ClientOid != "c-2" {
		t.Errorf("cancel by client: got %+v", c)
	}
	time.Sleep(60 * time.Millisecond)
	rsp, err = svc.Orders(ctx, map[string]string{"status": "active"}, pg)
	mustOK(t, rsp, err, &list)
	if list.TotalNum != 0 {
		t.Errorf("classic active after cancels: got %d, want 0", list.TotalNum)
	}
	wantBalance(t, h, "trade", "USDT", "10000", "0")

	// Stop: holds the base of a sell; listed; cancel releases.
	rsp, err = svc.CreateStopOrder(ctx, &kucoin.CreateOrderModel{ClientOid: "s-1", Side: "sell", Symbol: "BTC-USDT", Type: "limit", Stop: "loss", StopPrice: "60000", Price: "59900", Size: "0.2"})
	stopID := data[kucoin.CreateOrderResultModel](t, rsp, err).OrderId
	wantBalance(t, h, "trade", "BTC", "1", "0.2")
	rsp, err = svc.StopOrders(ctx, map[string]string{"symbol": "BTC-USDT"}, pg)
	mustOK(t, rsp, err, &list)
	if list.TotalNum != 1 {
		t.Errorf("stop list: got %d, want 1", list.TotalNum)
	}
	rsp, err = svc.StopOrder(ctx, stopID)
	if o := data[struct{ Id, StopPrice, Stop string }](t, rsp, err); o.Id != stopID || o.StopPrice != "60000" || o.Stop != "loss" {
		t.Errorf("stop order: got %+v", o)
	}
	rsp, err = svc.StopOrderByClient(ctx, "s-1", map[string]string{})
	if l := data[[]struct{ Id string }](t, rsp, err); len(l) != 1 || l[0].Id != stopID {
		t.Errorf("stop by clientOid: got %+v", l)
	}
	rsp, err = svc.CancelStopOrder(ctx, stopID)
	if c := data[kucoin.CancelOrderResultModel](t, rsp, err); len(c.CancelledOrderIds) != 1 {
		t.Errorf("cancel stop: got %+v", c)
	}
	if e := h.lastEntry(); e.Weight != 3 {
		t.Errorf("stop cancel weight: got %d, want 3", e.Weight)
	}
	wantBalance(t, h, "trade", "BTC", "1", "0")

	// OCO: sell with take-profit above and stop below the price.
	rsp, err = svc.CreateOcoOrder(ctx, &kucoin.CreateOcoOrderModel{Side: "sell", Symbol: "BTC-USDT", Price: "70000", Size: "0.1", StopPrice: "60000", LimitPrice: "59000", TradeType: "TRADE", ClientOid: "oco-1"})
	ocoID := data[struct{ OrderId string }](t, rsp, err).OrderId
	wantBalance(t, h, "trade", "BTC", "1", "0.1")
	rsp, err = svc.OcoOrders(ctx, map[string]string{}, pg)
	mustOK(t, rsp, err, &list)
	if list.TotalNum != 1 {
		t.Errorf("OCO list: got %d, want 1", list.TotalNum)
	}
	rsp, err = svc.OcoOrderDetail(ctx, ocoID)
	if d := data[struct {
		OrderId, Status string
		Orders          []struct{ Id string }
	}](t, rsp, err); d.OrderId != ocoID || d.Status != "NEW" || len(d.Orders) != 2 {
		t.Errorf("OCO detail: got %+v", d)
	}
	rsp, err = svc.CreateOcoOrder(ctx, &kucoin.CreateOcoOrderModel{Side: "sell", Symbol: "BTC-USDT", Price: "60000", Size: "0.1", StopPrice: "59000", LimitPrice: "58000", TradeType: "TRADE", ClientOid: "oco-bad"})
	wantCode(t, rsp, err, "400100") // take-profit below the price
	rsp, err = svc.DeleteOcoOrder(ctx, ocoID)
	if c := data[kucoin.CancelOrderResultModel](t, rsp, err); len(c.CancelledOrderIds) != 2 {
		t.Errorf("OCO cancel: got %+v, want both legs", c)
	}
	wantBalance(t, h, "trade", "BTC", "1", "0")
	rsp, err = svc.OcoOrders(ctx, map[string]string{}, pg)
	mustOK(t, rsp, err, &list)
	if list.TotalNum != 0 {
		t.Errorf("OCO list after cancel: got %d, want 0", list.TotalNum)
	}
}

func TestMarginOrders(t *testing.T) {
	h := newHarnessYAML(t, tradeState)
	svc := h.client(SpotName, trader)

	// Cross: a resting buy holds USDT of the margin account.
	rsp, err := svc.HfCreateMarinOrderV3(ctx, &kucoin.HfMarginOrderV3Req{ClientOid: "m-1", Symbol: "BTC-USDT", Side: "buy", Type: "limit", Price: "60000", Size: "0.01"})
	placed := data[struct{ OrderId, ClientOid string }](t, rsp, err)
	if placed.OrderId == "" || placed.ClientOid != "m-1" {
		t.Fatalf("got %+v, want orderId and clientOid", placed)
	}
	rsp, err = svc.HfMarinActiveOrdersV3(ctx, &kucoin.HfMarinActiveOrdersV3Req{TradeType: "MARGIN_TRADE", Symbol: "BTC-USDT"})
	if l := data[[]struct{ Id string }](t, rsp, err); len(l) != 1 || l[0].Id != placed.OrderId {
		t.Errorf("margin active: got %+v", l)
	}
	rsp, err = svc.HfMarinOrderV3(ctx, &kucoin.HfMarinOrderV3Req{OrderId: placed.OrderId, Symbol: "BTC-USDT"})
	if o := data[struct {
		Id, TradeType string
	}](t, rsp, err); o.Id != placed.OrderId || o.TradeType != "MARGIN_TRADE" {
		t.Errorf("margin order: got %+v", o)
	}
	rsp, err = svc.MarginAccountsV3(ctx, "USDT", "MARGIN")
	var acc struct {
		Accounts []struct{ Currency, Hold, Liability string }
	}
	mustOK(t, rsp, err, &acc)
	if len(acc.Accounts) != 1 || acc.Accounts[0].Hold != "600" {
		t.Errorf("margin account: got %+v, want USDT hold 600", acc.Accounts)
	}
	rsp, err = svc.HfCancelMarinOrderV3(ctx, &kucoin.HfCancelMarinOrderV3Req{OrderId: placed.OrderId, Symbol: "BTC-USDT"})
	if c := data[struct{ OrderId string }](t, rsp, err); c.OrderId != placed.OrderId {
		t.Errorf("margin cancel: got %+v", c)
	}
	time.Sleep(60 * time.Millisecond)
	rsp, err = svc.HfMarinActiveOrdersV3(ctx, &kucoin.HfMarinActiveOrdersV3Req{TradeType: "MARGIN_TRADE", Symbol: "BTC-USDT"})
	if l := data[[]struct{ Id string }](t, rsp, err); len(l) != 0 {
		t.Errorf("margin active after cancel: got %d, want 0", len(l))
	}

	// Without autoBorrow a buy beyond the account is refused; with it the
	// shortfall is borrowed, up to 5x equity.
	big := &kucoin.HfMarginOrderV3Req{ClientOid: "m-2", Symbol: "BTC-USDT", Side: "buy", Type: "market", Size: "0.05"}
	rsp, err = svc.HfCreateMarinOrderV3(ctx, big)
	wantCode(t, rsp, err, "200004")
	big.AutoBorrow = true
	rsp, err = svc.HfCreateMarinOrderV3(ctx, big)
	if b := data[struct{ BorrowSize string }](t, rsp, err); b.BorrowSize != "2253.25" { // 3250 + 3.25 fee − 1000
		t.Errorf("borrowSize: got %q, want 2253.25", b.BorrowSize)
	}
	rsp, err = svc.HfMarinFillsV3(ctx, &kucoin.HfMarinFillsV3Req{TradeType: "MARGIN_TRADE", Symbol: "BTC-USDT"})
	if f := data[struct {
		Items []struct{ Size, TradeType string }
	}](t, rsp, err); len(f.Items) != 1 || f.Items[0].Size != "0.05" {
		t.Errorf("margin fills: got %+v, want the 0.05 fill", f.Items)
	}
	rsp, err = svc.HfTransactionDetails(ctx, map[string]string{"symbol": "BTC-USDT"})
	if f := data[struct{ Items []struct{ Size string } }](t, rsp, err); len(f.Items) != 0 {
		t.Errorf("spot HF fills: got %+v, want none (the fill was a margin one)", f.Items)
	}
	huge := &kucoin.HfMarginOrderV3Req{ClientOid: "m-3", Symbol: "BTC-USDT", Side: "buy", Type: "market", Size: "1", AutoBorrow: true}
	rsp, err = svc.HfCreateMarinOrderV3(ctx, huge)
	wantCode(t, rsp, err, "200004")

	// Isolated: the ETH-USDT account holds the quote.
	rsp, err = svc.HfCreateMarinOrderV3(ctx, &kucoin.HfMarginOrderV3Req{ClientOid: "i-1", Symbol: "ETH-USDT", Side: "buy", Type: "limit", Price: "3000", Size: "0.1", IsIsolated: true})
	iso := data[struct{ OrderId string }](t, rsp, err)
	rsp, err = svc.HfMarinActiveOrdersV3(ctx, &kucoin.HfMarinActiveOrdersV3Req{TradeType: "MARGIN_ISOLATED_TRADE", Symbol: "ETH-USDT"})
	if l := data[[]struct{ Id string }](t, rsp, err); len(l) != 1 || l[0].Id != iso.OrderId {
		t.Errorf("isolated active: got %+v", l)
	}
	rsp, err = svc.IsolatedAccountsV3(ctx, "ETH-USDT", "USDT", "")
	var ia struct {
		Assets []struct{ QuoteAsset struct{ Hold string } }
	}
	mustOK(t, rsp, err, &ia)
	if len(ia.Assets) != 1 || ia.Assets[0].QuoteAsset.Hold != "300" {
		t.Errorf("isolated account: got %+v, want quote hold 300", ia.Assets)
	}

	// The deprecated v1 margin order lands in the classic list.
	rsp, err = svc.CreateMarginOrder(ctx, &kucoin.CreateOrderModel{ClientOid: "v1-1", Side: "buy", Symbol: "BTC-USDT", Type: "limit", Price: "50000", Size: "0.001", MarginMode: "cross", AutoBorrow: true})
	v1 := data[kucoin.CreateOrderResultModel](t, rsp, err)
	rsp, err = svc.Orders(ctx, map[string]string{"status": "active", "tradeType": "MARGIN_TRADE"}, &kucoin.PaginationParam{CurrentPage: 1, PageSize: 10})
	var list kucoin.PaginationModel
	mustOK(t, rsp, err, &list)
	var items []struct{ Id string }
	_ = list.ReadItems(&items)
	if len(items) != 1 || items[0].Id != v1.OrderId {
		t.Errorf("classic margin list: got %+v, want the v1 order", items)
	}
}

func TestFuturesOrders(t *testing.T) {
	h := newHarnessYAML(t, tradeState)
	fut := h.client(FuturesName, trader)
	post := func(c creds, body map[string]any) (*kucoin.ApiResponse, error) {
		return sdkCall(h.client(FuturesName, c), "POST", "/api/v1/orders", body)
	}

	// A resting limit holds value / leverage as order margin.
	rsp, err := post(trader, map[string]any{"clientOid": "f-1", "symbol": "XBTUSDTM", "side": "buy", "type": "limit", "price": "60000", "size": 10, "leverage": 5})
	placed := data[struct{ OrderId, ClientOid string }](t, rsp, err)
	rsp, err = sdkCall(fut, "GET", "/api/v1/account-overview", map[string]string{"currency": "USDT"})
	if ov := data[struct{ OrderMargin, AvailableBalance float64 }](t, rsp, err); ov.OrderMargin != 120 || ov.AvailableBalance != 880 {
		t.Errorf("overview: got %+v, want order margin 120 (10 × 0.001 × 60000 / 5), available 880", ov)
	}
	rsp, err = sdkCall(fut, "GET", "/api/v1/orders", map[string]string{"status": "active"})
	var pg kucoin.PaginationModel
	mustOK(t, rsp, err, &pg)
	if pg.TotalNum != 1 {
		t.Errorf("active futures orders: got %d, want 1", pg.TotalNum)
	}
	rsp, err = sdkCall(fut, "GET", "/api/v1/orders/"+placed.OrderId, nil)
	if o := data[struct {
		Id       string
		IsActive bool
		Size     int64
	}](t, rsp, err); o.Id != placed.OrderId || !o.IsActive || o.Size != 10 {
		t.Errorf("order: got %+v", o)
	}
	rsp, err = sdkCall(fut, "DELETE", "/api/v1/orders/"+placed.OrderId, nil)
	if c := data[kucoin.CancelOrderResultModel](t, rsp, err); len(c.CancelledOrderIds) != 1 {
		t.Errorf("cancel: got %+v", c)
	}
	if e := h.lastEntry(); e.Weight != 1 || e.Endpoint != "DELETE /api/v1/orders/{id}" {
		t.Errorf("got %s weight %d, want DELETE /api/v1/orders/{id} weight 1", e.Endpoint, e.Weight)
	}
	time.Sleep(60 * time.Millisecond)
	rsp, err = sdkCall(fut, "GET", "/api/v1/account-overview", map[string]string{"currency": "USDT"})
	if ov := data[struct{ OrderMargin float64 }](t, rsp, err); ov.OrderMargin != 0 {
		t.Errorf("order margin after cancel: got %v, want 0", ov.OrderMargin)
	}

	// A market buy opens a position at the price.
	rsp, err = post(trader, map[string]any{"clientOid": "f-2", "symbol": "XBTUSDTM", "side": "buy", "type": "market", "size": 5, "leverage": 10})
	data[struct{ OrderId string }](t, rsp, err)
	rsp, err = sdkCall(fut, "GET", "/api/v1/positions", nil)
	if ps := data[[]struct {
		Symbol        string
		CurrentQty    int64
		AvgEntryPrice float64
	}](t, rsp, err); len(ps) != 1 || ps[0].CurrentQty != 5 || ps[0].AvgEntryPrice != 65000 {
		t.Errorf("positions: got %+v, want 5 XBTUSDTM at 65000", ps)
	}

	// A stop order rests in the stop list; cancel by clientOid.
	rsp, err = post(trader, map[string]any{"clientOid": "f-stop", "symbol": "XBTUSDTM", "side": "sell", "type": "limit", "price": "60000", "size": 5, "stop": "down", "stopPrice": "61000", "stopPriceType": "MP", "reduceOnly": true})
	data[struct{ OrderId string }](t, rsp, err)
	rsp, err = sdkCall(fut, "GET", "/api/v1/stopOrders", nil)
	mustOK(t, rsp, err, &pg)
	if pg.TotalNum != 1 {
		t.Errorf("stop orders: got %d, want 1", pg.TotalNum)
	}
	rsp, err = sdkCall(fut, "DELETE", "/api/v1/orders/client-order/f-stop", map[string]string{"symbol": "XBTUSDTM"})
	if c := data[struct{ ClientOid string }](t, rsp, err); c.ClientOid != "f-stop" {
		t.Errorf("cancel by clientOid: got %+v", c)
	}

	tests := []struct {
		name string
		c    creds
		body map[string]any
		code string
	}{
		{"no Futures permission", readOne, map[string]any{"clientOid": "x1", "symbol": "XBTUSDTM", "side": "buy", "type": "limit", "price": "60000", "size": 1, "leverage": 5}, "400007"},
		{"IP not whitelisted", farKey, map[string]any{"clientOid": "x2", "symbol": "XBTUSDTM", "side": "buy", "type": "limit", "price": "60000", "size": 1, "leverage": 5}, "400006"},
		{"insufficient margin", trader, map[string]any{"clientOid": "x3", "symbol": "XBTUSDTM", "side": "buy", "type": "limit", "price": "60000", "size": 1000, "leverage": 1}, "300003"},
		{"unknown contract", trader, map[string]any{"clientOid": "x4", "symbol": "NOPEUSDTM", "side": "buy", "type": "limit", "price": "1", "size": 1, "leverage": 5}, "100001"},
		{"fractional size", trader, map[string]any{"clientOid": "x5", "symbol": "XBTUSDTM", "side": "buy", "type": "limit", "price": "60000", "size": 1.5, "leverage": 5}, "400100"},
		{"leverage too high", trader, map[string]any{"clientOid": "x6", "symbol": "XBTUSDTM", "side": "buy", "type": "limit", "price": "60000", "size": 1, "leverage": 200}, "400100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rsp, err := post(tc.c, tc.body)
			wantCode(t, rsp, err, tc.code)
		})
	}
}

// TestOrderBodies checks the order JSON an SDK decodes: every field it
// reads is there and typed as the docs show.
func TestOrderBodies(t *testing.T) {
	h := newHarnessYAML(t, tradeState)
	svc := h.client(SpotName, trader)
	rsp, err := svc.HfPlaceOrder(ctx, map[string]string{"clientOid": "b-1", "symbol": "ETH-USDT", "side": "buy", "type": "limit", "price": "3000", "size": "0.5", "remark": "r1"})
	id := data[struct{ OrderId string }](t, rsp, err).OrderId
	rsp, err = svc.HfOrderDetail(ctx, id, "ETH-USDT")
	var m map[string]any
	mustOK(t, rsp, err, &m)
	for _, f := range []string{"id", "clientOid", "symbol", "opType", "type", "side", "price", "size", "funds", "dealSize", "dealFunds", "fee",
		"feeCurrency", "timeInForce", "postOnly", "remark", "cancelExist", "tradeType", "inOrderBook", "remainSize", "active", "createdAt", "lastUpdatedAt"} {
		if _, ok := m[f]; !ok {
			t.Errorf("HF order lacks %q", f)
		}
	}
	if m["remark"] != "r1" || m["remainSize"] != "0.5" || m["funds"] != "1500" {
		t.Errorf("got remark %v remainSize %v funds %v, want r1 0.5 1500", m["remark"], m["remainSize"], m["funds"])
	}
	b, _ := json.Marshal(m)
	if strings.Contains(string(b), `"price":3000`) {
		t.Errorf("price must be a string: %s", b)
	}
}

// TestCancelAllReleasesHolds: the cancel-all endpoints the executors use
// end API orders too and release what they held once the cancel takes
// effect.
func TestCancelAllReleasesHolds(t *testing.T) {
	h := newHarnessYAML(t, tradeState)
	svc := h.client(SpotName, trader)
	for _, sym := range []string{"BTC-USDT", "ETH-USDT"} {
		rsp, err := svc.HfPlaceOrder(ctx, map[string]string{"symbol": sym, "side": "buy", "type": "limit", "price": "1000", "size": "0.1"})
		mustOK(t, rsp, err, nil)
	}
	rsp, err := svc.CreateStopOrder(ctx, &kucoin.CreateOrderModel{ClientOid: "st", Side: "buy", Symbol: "BTC-USDT", Type: "limit", Stop: "entry", StopPrice: "70000", Price: "70000", Size: "0.01"})
	mustOK(t, rsp, err, nil)
	rsp, err = sdkCall(h.client(FuturesName, trader), "POST", "/api/v1/orders", map[string]any{"clientOid": "f", "symbol": "XBTUSDTM", "side": "buy", "type": "limit", "price": "60000", "size": 10, "leverage": 10})
	mustOK(t, rsp, err, nil)
	wantBalance(t, h, "trade_hf", "USDT", "10000", "200")
	wantBalance(t, h, "trade", "USDT", "10000", "700")

	rsp, err = svc.HfCancelOrders(ctx)
	mustOK(t, rsp, err, nil)
	rsp, err = svc.CancelStopOrderBy(ctx, map[string]string{"symbol": "BTC-USDT"})
	mustOK(t, rsp, err, nil)
	wantBalance(t, h, "trade", "USDT", "10000", "0") // stop cancels are immediate
	rsp, err = sdkCall(h.client(FuturesName, trader), "DELETE", "/api/v3/orders", map[string]string{"symbol": "XBTUSDTM"})
	mustOK(t, rsp, err, nil)
	wantBalance(t, h, "trade_hf", "USDT", "10000", "200") // HF cancels are requests
	time.Sleep(60 * time.Millisecond)
	wantBalance(t, h, "trade_hf", "USDT", "10000", "0")
	rsp, err = sdkCall(h.client(FuturesName, trader), "GET", "/api/v1/account-overview", map[string]string{"currency": "USDT"})
	if ov := data[struct{ OrderMargin float64 }](t, rsp, err); ov.OrderMargin != 0 {
		t.Errorf("order margin after the futures cancel-all: got %v, want 0", ov.OrderMargin)
	}
}

// TestOrderTestEndpoints: "Add Order Test" validates like the order
// endpoint but places and holds nothing.
func TestOrderTestEndpoints(t *testing.T) {
	h := newHarnessYAML(t, tradeState)
	svc := h.client(SpotName, trader)
	rsp, err := svc.HfPlaceOrderTest(ctx, &kucoin.HfPlaceOrderReq{ClientOid: "t-1", Symbol: "BTC-USDT", Side: "buy", Price: "60000", Size: "0.01"})
	if r := data[struct{ OrderId, ClientOid string }](t, rsp, err); r.OrderId == "" || r.ClientOid != "t-1" {
		t.Errorf("HF test: got %+v", r)
	}
	rsp, err = svc.CreateOrderTest(ctx, &kucoin.CreateOrderModel{ClientOid: "t-2", Side: "buy", Symbol: "BTC-USDT", Type: "limit", Price: "60000.05", Size: "0.01"})
	wantCode(t, rsp, err, "400100") // validated like a real order
	rsp, err = h.client(SpotName, readOne).HfCreateMarinOrderTestV3(ctx, &kucoin.HfMarginOrderV3Req{ClientOid: "t-3", Symbol: "BTC-USDT", Side: "buy", Type: "limit", Price: "60000", Size: "0.01"})
	wantCode(t, rsp, err, "400007")
	wantBalance(t, h, "trade_hf", "USDT", "10000", "0")
	rsp, err = svc.HfObtainActiveSymbols(ctx)
	if s := data[struct{ Symbols []string }](t, rsp, err); len(s.Symbols) != 0 {
		t.Errorf("got active symbols %v after test orders, want none", s.Symbols)
	}
}

// TestFuturesTPSLAndTest: st-orders adds closing stop orders for the
// take-profit and the stop-loss; the order test places nothing.
func TestFuturesTPSLAndTest(t *testing.T) {
	h := newHarnessYAML(t, tradeState)
	fut := h.client(FuturesName, trader)
	body := map[string]any{"clientOid": "tp-1", "symbol": "XBTUSDTM", "side": "buy", "type": "market", "size": 2, "leverage": 5,
		"triggerStopUpPrice": "70000", "triggerStopDownPrice": "60000", "stopPriceType": "MP"}
	rsp, err := sdkCall(fut, "POST", "/api/v1/orders/test", body)
	mustOK(t, rsp, err, nil)
	rsp, err = sdkCall(fut, "GET", "/api/v1/positions", nil)
	if ps := data[[]struct{ Symbol string }](t, rsp, err); len(ps) != 0 {
		t.Fatalf("order test opened %+v, want nothing", ps)
	}
	rsp, err = sdkCall(fut, "POST", "/api/v1/st-orders", body)
	placed := data[struct{ OrderId, ClientOid string }](t, rsp, err)
	if placed.ClientOid != "tp-1" {
		t.Errorf("got %+v", placed)
	}
	rsp, err = sdkCall(fut, "GET", "/api/v1/stopOrders", map[string]string{"symbol": "XBTUSDTM"})
	var pg kucoin.PaginationModel
	mustOK(t, rsp, err, &pg)
	var stops []struct {
		Side, Stop, StopPrice, StopPriceType string
		ReduceOnly                           bool
	}
	if err := pg.ReadItems(&stops); err != nil {
		t.Fatal(err)
	}
	if len(stops) != 2 {
		t.Fatalf("got %d stop orders, want the take-profit and the stop-loss", len(stops))
	}
	for _, s := range stops {
		if s.Side != "sell" || !s.ReduceOnly || s.StopPriceType != "MP" || (s.Stop == "up") != (s.StopPrice == "70000") {
			t.Errorf("got stop %+v, want a reduce-only sell at 70000 up or 60000 down", s)
		}
	}
	body["triggerStopUpPrice"] = "64000" // below the price
	rsp, err = sdkCall(fut, "POST", "/api/v1/st-orders", body)
	wantCode(t, rsp, err, "400100")
}
