package kucoin

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	kucoin "github.com/Kucoin/kucoin-go-sdk"
	"go.yaml.in/yaml/v3"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

var ctx = context.Background()

func TestSDKEndpoints(t *testing.T) {
	h := newHarness(t, "kucoin-test.yaml")
	spot := h.client(SpotName, masterV3)
	fut := h.client(FuturesName, masterV3)
	pg := &kucoin.PaginationParam{CurrentPage: 1, PageSize: 50}
	tests := []struct {
		name  string
		do    func() (*kucoin.ApiResponse, error)
		check func(t *testing.T, rsp *kucoin.ApiResponse)
	}{
		{"server time", func() (*kucoin.ApiResponse, error) { return spot.ServerTime(ctx) }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var ms int64
			_ = rsp.ReadData(&ms)
			if d := time.Since(time.UnixMilli(ms)); d > 5*time.Second || d < -5*time.Second {
				t.Errorf("got server time %d, want now", ms)
			}
		}},
		{"accounts", func() (*kucoin.ApiResponse, error) { return spot.Accounts(ctx, "", "") }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var a kucoin.AccountsModel
			_ = rsp.ReadData(&a)
			if len(a) != 5 { // main USDT, trade USDT+BTC, trade_hf USDT, margin USDT
				t.Errorf("got %d accounts, want 5", len(a))
			}
		}},
		{"hf accounts", func() (*kucoin.ApiResponse, error) { return spot.HfAccounts(ctx, "USDT", "trade_hf") }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var a kucoin.AccountsModel
			_ = rsp.ReadData(&a)
			if len(a) != 1 || a[0].Available != "600" || a[0].Holds != "100" {
				t.Errorf("got %+v, want one trade_hf USDT account with available 600, holds 100", a)
			}
		}},
		{"margin accounts v3", func() (*kucoin.ApiResponse, error) { return spot.MarginAccountsV3(ctx, "", "") }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var m struct {
				Liab     string `json:"totalLiabilityOfQuoteCurrency"`
				Accounts []struct{ Currency, Total string }
			}
			_ = rsp.ReadData(&m)
			if m.Liab != "50" || len(m.Accounts) != 1 || m.Accounts[0].Total != "300" {
				t.Errorf("got %+v, want liability 50 and USDT total 300", m)
			}
		}},
		{"isolated accounts v3", func() (*kucoin.ApiResponse, error) { return spot.IsolatedAccountsV3(ctx, "", "", "") }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var m struct{ Assets []struct{ Symbol string } }
			_ = rsp.ReadData(&m)
			if len(m.Assets) != 1 || m.Assets[0].Symbol != "ETH-USDT" {
				t.Errorf("got %+v, want ETH-USDT", m)
			}
		}},
		{"sub users v2", func() (*kucoin.ApiResponse, error) { return spot.SubAccountUsersV2(ctx, &kucoin.PaginationParam{}) }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var p kucoin.PaginationModel
			_ = rsp.ReadData(&p)
			var subs kucoin.SubAccountUsersModelV2
			_ = p.ReadItems(&subs)
			if p.TotalNum != 3 || len(subs) != 3 || subs[0].SubName != "sub1" || subs[0].UserId != "sub1-user-id" {
				t.Errorf("got %d subs %+v, want sub1..sub3", p.TotalNum, subs)
			}
		}},
		{"sub users v1", func() (*kucoin.ApiResponse, error) { return spot.SubAccountUsers(ctx) }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var subs kucoin.SubAccountUsersModel
			_ = rsp.ReadData(&subs)
			if len(subs) != 3 || subs[1].Uid != 900102 {
				t.Errorf("got %+v, want 3 subs, sub2 uid 900102", subs)
			}
		}},
		{"sub accounts v2", func() (*kucoin.ApiResponse, error) { return spot.SubAccountsV2(ctx, &kucoin.PaginationParam{}) }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var p kucoin.PaginationModel
			_ = rsp.ReadData(&p)
			var subs []kucoin.SubAccountModel
			_ = p.ReadItems(&subs)
			if len(subs) != 3 || len(subs[1].MainAccounts) != 1 || subs[1].MainAccounts[0].Balance != "250" {
				t.Errorf("got %+v, want sub2 main USDT 250", subs)
			}
		}},
		{"sub account", func() (*kucoin.ApiResponse, error) { return spot.SubAccount(ctx, "sub1-user-id") }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var s kucoin.SubAccountModel
			_ = rsp.ReadData(&s)
			if s.SubName != "sub1" {
				t.Errorf("got %q, want sub1", s.SubName)
			}
		}},
		{"sub api keys", func() (*kucoin.ApiResponse, error) { return spot.SubApiKey(ctx, "sub2", "") }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var ks kucoin.SubApiKeyRes
			_ = rsp.ReadData(&ks)
			if len(ks) != 1 || ks[0].ApiKey != "k-sub2-v2" || ks[0].Permission != "General,Spot" {
				t.Errorf("got %+v, want k-sub2-v2 with General,Spot", ks)
			}
		}},
		{"hf active symbols", func() (*kucoin.ApiResponse, error) { return spot.HfObtainActiveSymbols(ctx) }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var s kucoin.HfSymbolsModel
			_ = rsp.ReadData(&s)
			if strings.Join(s.Symbols, ",") != "BTC-USDT,ETH-USDT" {
				t.Errorf("got %v, want BTC-USDT,ETH-USDT", s.Symbols)
			}
		}},
		{"hf active orders", func() (*kucoin.ApiResponse, error) { return spot.HfObtainActiveOrders(ctx, "BTC-USDT") }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var os kucoin.HfOrdersModel
			_ = rsp.ReadData(&os)
			if len(os) != 1 || os[0].Id != "hf1" || !os[0].Active {
				t.Errorf("got %+v, want active hf1", os)
			}
		}},
		{"classic orders default status done", func() (*kucoin.ApiResponse, error) { return spot.Orders(ctx, map[string]string{}, pg) }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var p kucoin.PaginationModel
			_ = rsp.ReadData(&p)
			var os kucoin.OrdersModel
			_ = p.ReadItems(&os)
			if len(os) != 1 || os[0].Id != "c2" || os[0].IsActive {
				t.Errorf("got %+v, want only the done order c2", os)
			}
		}},
		{"classic orders active", func() (*kucoin.ApiResponse, error) {
			return spot.Orders(ctx, map[string]string{"status": "active", "tradeType": "TRADE"}, pg)
		}, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var p kucoin.PaginationModel
			_ = rsp.ReadData(&p)
			var os kucoin.OrdersModel
			_ = p.ReadItems(&os)
			if len(os) != 1 || os[0].Id != "c1" {
				t.Errorf("got %+v, want c1", os)
			}
		}},
		{"stop orders", func() (*kucoin.ApiResponse, error) { return spot.StopOrders(ctx, map[string]string{}, pg) }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var p kucoin.PaginationModel
			_ = rsp.ReadData(&p)
			var os kucoin.StopOrderListModel
			_ = p.ReadItems(&os)
			if len(os) != 1 || os[0].Id != "st1" || os[0].Status != "NEW" {
				t.Errorf("got %+v, want st1 NEW", os)
			}
		}},
		{"oco orders", func() (*kucoin.ApiResponse, error) { return spot.OcoOrders(ctx, map[string]string{}, pg) }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var p kucoin.PaginationModel
			_ = rsp.ReadData(&p)
			var os []struct {
				OrderID string `json:"orderId"`
			}
			_ = p.ReadItems(&os)
			if len(os) != 1 || os[0].OrderID != "oco1" {
				t.Errorf("got %+v, want oco1", os)
			}
		}},
		{"margin hf symbols", func() (*kucoin.ApiResponse, error) { return spot.HfMarginActiveSymbols(ctx, "MARGIN_TRADE") }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var s kucoin.HFMarginActiveSymbolsModel
			_ = rsp.ReadData(&s)
			if s.SymbolSize != 1 || s.Symbols[0] != "BTC-USDT" {
				t.Errorf("got %+v, want BTC-USDT", s)
			}
		}},
		{"margin hf active", func() (*kucoin.ApiResponse, error) {
			return spot.HfMarinActiveOrdersV3(ctx, &kucoin.HfMarinActiveOrdersV3Req{Symbol: "BTC-USDT", TradeType: "MARGIN_TRADE"})
		}, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var os kucoin.HfMarinActiveOrdersV3Resp
			_ = rsp.ReadData(&os)
			if len(os) != 1 || os[0].Id != "m1" {
				t.Errorf("got %+v, want m1", os)
			}
		}},
		{"withdrawals", func() (*kucoin.ApiResponse, error) {
			return spot.Withdrawals(ctx, map[string]string{"currency": "USDT", "status": "PROCESSING"}, pg)
		}, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var p kucoin.PaginationModel
			_ = rsp.ReadData(&p)
			var ws kucoin.WithdrawalsModel
			_ = p.ReadItems(&ws)
			if len(ws) != 1 || ws[0].Id != "w-proc" {
				t.Errorf("got %+v, want w-proc", ws)
			}
		}},
		{"hf fills", func() (*kucoin.ApiResponse, error) {
			return spot.HfTransactionDetails(ctx, map[string]string{"symbol": "BTC-USDT"})
		}, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var f kucoin.HfTransactionDetailsModel
			_ = rsp.ReadData(&f)
			if len(f.Items) != 1 || f.Items[0].Side != "buy" {
				t.Errorf("got %+v, want one buy", f.Items)
			}
		}},
		{"classic fills", func() (*kucoin.ApiResponse, error) { return spot.Fills(ctx, map[string]string{}, pg) }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var p kucoin.PaginationModel
			_ = rsp.ReadData(&p)
			var fs kucoin.FillsModel
			_ = p.ReadItems(&fs)
			if len(fs) != 1 || fs[0].Side != "sell" {
				t.Errorf("got %+v, want one sell", fs)
			}
		}},
		{"symbols v2", func() (*kucoin.ApiResponse, error) { return spot.SymbolsV2(ctx, "") }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var s kucoin.SymbolsModelV2
			_ = rsp.ReadData(&s)
			if len(s) != 2 || s[0].Symbol != "BTC-USDT" || !s[0].EnableTrading {
				t.Errorf("got %+v, want BTC-USDT and ETH-USDT", s)
			}
		}},
		{"symbols v1", func() (*kucoin.ApiResponse, error) { return spot.Symbols(ctx, "USDS") }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var s kucoin.SymbolsModel
			_ = rsp.ReadData(&s)
			if len(s) != 2 {
				t.Errorf("got %d symbols, want 2", len(s))
			}
		}},
		{"currencies v3", func() (*kucoin.ApiResponse, error) { return spot.CurrenciesV3(ctx) }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var cs kucoin.CurrenciesV3Model
			if err := rsp.ReadData(&cs); err != nil {
				t.Fatal(err)
			}
			if len(cs) != 3 || cs[0].Currency != "BTC" || len(cs[0].Chains) == 0 {
				t.Errorf("got %+v, want BTC, ETH, USDT with chains", cs)
			}
		}},
		{"calling key info", func() (*kucoin.ApiResponse, error) { return sdkCall(spot, "GET", "/api/v1/user/api-key", nil) }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var k struct {
				APIKey   string `json:"apiKey"`
				Version  int    `json:"apiVersion"`
				IsMaster bool   `json:"isMaster"`
				UID      int64  `json:"uid"`
			}
			_ = rsp.ReadData(&k)
			if k.APIKey != "k-master-v3" || k.Version != 3 || !k.IsMaster || k.UID != 900001 {
				t.Errorf("got %+v, want master v3 key of uid 900001", k)
			}
		}},
		{"hf opened", func() (*kucoin.ApiResponse, error) { return sdkCall(spot, "GET", "/api/v1/hf/accounts/opened", nil) }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var b bool
			_ = rsp.ReadData(&b)
			if !b {
				t.Error("got false, want true")
			}
		}},
		{"my ip", func() (*kucoin.ApiResponse, error) { return sdkCall(spot, "GET", "/api/v1/my-ip", nil) }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var ip string
			_ = rsp.ReadData(&ip)
			if ip != "127.0.0.1" {
				t.Errorf("got %q, want 127.0.0.1", ip)
			}
		}},
		{"withdrawal detail", func() (*kucoin.ApiResponse, error) { return sdkCall(spot, "GET", "/api/v1/withdrawals/w-proc", nil) }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var w struct{ CancelType string }
			_ = rsp.ReadData(&w)
			if w.CancelType != "CANCELABLE" {
				t.Errorf("got %q, want CANCELABLE", w.CancelType)
			}
		}},
		{"dead-cancel-all query unset", func() (*kucoin.ApiResponse, error) { return spot.HfQueryAutoCancelSetting(ctx) }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			if string(rsp.RawData) != "null" {
				t.Errorf("got %s, want null", rsp.RawData)
			}
		}},
		{"futures orders active", func() (*kucoin.ApiResponse, error) {
			return sdkCall(fut, "GET", "/api/v1/orders", map[string]string{"status": "active"})
		}, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var p kucoin.PaginationModel
			_ = rsp.ReadData(&p)
			if p.TotalNum != 2 {
				t.Errorf("got %d futures orders, want 2", p.TotalNum)
			}
		}},
		{"futures stop orders", func() (*kucoin.ApiResponse, error) { return sdkCall(fut, "GET", "/api/v1/stopOrders", nil) }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var p kucoin.PaginationModel
			_ = rsp.ReadData(&p)
			if p.TotalNum != 1 {
				t.Errorf("got %d stop orders, want 1", p.TotalNum)
			}
		}},
		{"futures account overview", func() (*kucoin.ApiResponse, error) {
			return sdkCall(fut, "GET", "/api/v1/account-overview", map[string]string{"currency": "USDT"})
		}, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var o struct {
				AvailableBalance float64 `json:"availableBalance"`
				UnrealisedPNL    float64 `json:"unrealisedPNL"`
			}
			_ = rsp.ReadData(&o)
			if o.AvailableBalance != 900 || o.UnrealisedPNL != 25 {
				t.Errorf("got %+v, want available 900, pnl 25", o)
			}
		}},
		{"futures positions", func() (*kucoin.ApiResponse, error) { return sdkCall(fut, "GET", "/api/v1/positions", nil) }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var ps []struct {
				Symbol     string `json:"symbol"`
				CurrentQty int64  `json:"currentQty"`
			}
			_ = rsp.ReadData(&ps)
			if len(ps) != 1 || ps[0].CurrentQty != 5 {
				t.Errorf("got %+v, want XBTUSDTM qty 5", ps)
			}
		}},
		{"futures contracts", func() (*kucoin.ApiResponse, error) { return sdkCall(fut, "GET", "/api/v1/contracts/active", nil) }, func(t *testing.T, rsp *kucoin.ApiResponse) {
			var cs []struct{ Symbol, SettleCurrency string }
			_ = rsp.ReadData(&cs)
			if len(cs) != 2 || cs[0].Symbol != "ETHUSDTM" || cs[0].SettleCurrency != "USDT" {
				t.Errorf("got %+v, want ETHUSDTM and XBTUSDTM", cs)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rsp, err := tt.do()
			mustOK(t, rsp, err, nil)
			tt.check(t, rsp)
			if e := h.lastEntry(); e.Endpoint == "" || e.Kind == "" {
				t.Errorf("got entry %+v, want endpoint and kind filled", e)
			}
		})
	}
}

func TestAuthRejections(t *testing.T) {
	h := newHarness(t, "kucoin-test.yaml")
	wrongSecret := masterV3
	wrongSecret.secret = "nope"
	wrongPass := masterV3
	wrongPass.pass = "nope"
	wrongSecretV1 := masterV1
	wrongSecretV1.secret = "nope"
	unknown := masterV3
	unknown.key = "k-unknown"
	v1AsV2 := masterV1
	v1AsV2.version = 2 // a v1 key sent with the v2 header
	endpoints := []struct {
		name  string
		venue string
		do    func(svc *kucoin.ApiService) (*kucoin.ApiResponse, error)
	}{
		{"accounts", SpotName, func(s *kucoin.ApiService) (*kucoin.ApiResponse, error) { return s.Accounts(ctx, "", "") }},
		{"hf cancel", SpotName, func(s *kucoin.ApiService) (*kucoin.ApiResponse, error) {
			return s.HfSyncCancelAllOrders(ctx, "BTC-USDT")
		}},
		{"sub api keys", SpotName, func(s *kucoin.ApiService) (*kucoin.ApiResponse, error) { return s.SubApiKey(ctx, "sub1", "") }},
		{"futures cancel", FuturesName, func(s *kucoin.ApiService) (*kucoin.ApiResponse, error) {
			return sdkCall(s, "DELETE", "/api/v3/orders", map[string]string{"symbol": "XBTUSDTM"})
		}},
	}
	cases := []struct {
		name   string
		c      creds
		skew   time.Duration
		code   string
		status int
	}{
		{"wrong secret v3 (passphrase hmac fails first)", wrongSecret, 0, "400004", 401},
		{"wrong secret v1", wrongSecretV1, 0, "400005", 401},
		{"wrong passphrase", wrongPass, 0, "400004", 401},
		{"stale timestamp", masterV3, 10 * time.Second, "400002", 400},
		{"unknown key", unknown, 0, "400003", 401},
		{"version header on a v1 key", v1AsV2, 0, "400009", 401},
	}
	for _, ep := range endpoints {
		for _, tc := range cases {
			t.Run(ep.name+"/"+tc.name, func(t *testing.T) {
				h.clock.SetSkew(tc.skew)
				defer h.clock.SetSkew(0)
				rsp, err := ep.do(h.client(ep.venue, tc.c))
				wantCode(t, rsp, err, tc.code)
				if rsp.HttpSuccessful() {
					t.Errorf("got HTTP 200, want %d", tc.status)
				}
				if e := h.lastEntry(); e.Code != tc.code {
					t.Errorf("got logged code %q, want %s", e.Code, tc.code)
				}
			})
		}
	}
	t.Run("missing headers", func(t *testing.T) {
		resp, err := http.Get(h.srv.URL + "/kucoin/api/v1/accounts")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 || h.lastEntry().Code != "400001" {
			t.Errorf("got %d %s, want 400 400001", resp.StatusCode, h.lastEntry().Code)
		}
	})
	t.Run("tampered query", func(t *testing.T) {
		sq := "currency=BTC"
		_, m := h.raw(t, masterV3, "GET", "/api/v1/accounts", "currency=USDT", &sq, "")
		if m["code"] != "400005" {
			t.Errorf("got %v, want 400005", m["code"])
		}
	})
}

// TestVersionHeaderTwoOrThree: a v2 or v3 key works with either header
// (EXCHANGES.md C10), as the unmodified SDK (always 2) uses it.
func TestVersionHeaderTwoOrThree(t *testing.T) {
	h := newHarness(t, "kucoin-test.yaml")
	for _, c := range []creds{masterV3, sub2V2} {
		for _, hdr := range []int{2, 3} {
			cc := c
			cc.version = hdr
			t.Run(c.key+"/"+strconv.Itoa(hdr), func(t *testing.T) {
				rsp, err := sdkCall(h.client(SpotName, cc), "GET", "/api/v1/user/api-key", nil)
				mustOK(t, rsp, err, nil)
			})
		}
	}
}

func TestKeyVersions(t *testing.T) {
	h := newHarness(t, "kucoin-test.yaml")
	for _, c := range []creds{masterV1, sub2V2, masterV3} {
		t.Run("v"+strconv.Itoa(c.version), func(t *testing.T) {
			var k struct {
				Version int `json:"apiVersion"`
			}
			rsp, err := sdkCall(h.client(SpotName, c), "GET", "/api/v1/user/api-key", nil)
			mustOK(t, rsp, err, &k)
			if k.Version != c.version {
				t.Errorf("got apiVersion %d, want %d", k.Version, c.version)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, "kucoin-ratelimit.yaml")
	c := creds{"k-rl", "s-rl", "p-rl", 3}
	svc := h.client(SpotName, c)
	// Spot pool of 5, HF active symbols costs 2: two calls pass, the third is refused.
	for i := 0; i < 2; i++ {
		rsp, err := svc.HfObtainActiveSymbols(ctx)
		mustOK(t, rsp, err, nil)
	}
	rsp, err := svc.HfObtainActiveSymbols(ctx)
	wantCode(t, rsp, err, "429000")
	resp, m := h.raw(t, c, "GET", "/api/v1/hf/orders/active/symbols", "", nil, "")
	if resp.StatusCode != 429 || m["code"] != "429000" {
		t.Fatalf("got %d %v, want 429 429000", resp.StatusCode, m["code"])
	}
	if got := resp.Header.Get("gw-ratelimit-limit"); got != "5" {
		t.Errorf("got limit header %q, want 5", got)
	}
	if got := resp.Header.Get("gw-ratelimit-remaining"); got != "1" {
		t.Errorf("got remaining header %q, want 1", got)
	}
	if reset, _ := strconv.Atoi(resp.Header.Get("gw-ratelimit-reset")); reset <= 0 || reset > 30000 {
		t.Errorf("got reset %d ms, want in (0, 30000]", reset)
	}
	// The management pool is separate and still has room.
	okR(t, nil2(svc.Accounts(ctx, "", "")))
	// The window resets after 30 s (emulator clock).
	h.clock.SetSkew(31 * time.Second)
	r2, m2 := h.raw(t, c, "GET", "/api/v1/my-ip", "", nil, "")
	_ = m2
	if r2.StatusCode != 200 {
		t.Fatalf("public after reset: got %d, want 200", r2.StatusCode)
	}
	h.clock.SetSkew(0)
	// Public pool is per IP: 7 points, timestamp weighs 3.
	h2 := newHarness(t, "kucoin-ratelimit.yaml")
	pubSvc := kucoin.NewApiService(kucoin.ApiBaseURIOption(h2.srv.URL + "/kucoin"))
	okR(t, nil2(pubSvc.ServerTime(ctx)))
	okR(t, nil2(pubSvc.ServerTime(ctx)))
	rsp, err = pubSvc.ServerTime(ctx)
	wantCode(t, rsp, err, "429000")
}

// result carries an SDK call's answer (and where to decode its data) so
// that a call can be checked in one line.
type result struct {
	rsp *kucoin.ApiResponse
	err error
	v   any
}

func nil2(rsp *kucoin.ApiResponse, err error) result { return result{rsp, err, nil} }

func okR(t *testing.T, r result) {
	t.Helper()
	mustOK(t, r.rsp, r.err, r.v)
}

func codeR(t *testing.T, r result, code string) {
	t.Helper()
	wantCode(t, r.rsp, r.err, code)
}

func TestQuirksAndAsyncCancel(t *testing.T) {
	h := newHarness(t, "kucoin-test.yaml")
	svc := h.client(SpotName, masterV3)
	fut := h.client(FuturesName, masterV3)

	t.Run("hf cancel by symbol is async and answers success", func(t *testing.T) {
		rsp, err := svc.HfSyncCancelAllOrders(ctx, "BTC-USDT")
		var s string
		mustOK(t, rsp, err, &s)
		if s != "success" {
			t.Errorf("got data %q, want success", s)
		}
		var os kucoin.HfOrdersModel
		okR(t, nil3(svc.HfObtainActiveOrders(ctx, "BTC-USDT"))(&os))
		if len(os) != 1 {
			t.Fatalf("immediate re-list: got %d orders, want 1 (cancel still pending)", len(os))
		}
		time.Sleep(200 * time.Millisecond) // the state's cancel delay is 150ms
		okR(t, nil3(svc.HfObtainActiveOrders(ctx, "BTC-USDT"))(&os))
		if len(os) != 0 {
			t.Errorf("later re-list: got %d orders, want 0", len(os))
		}
		// ...and the classic spot order on that symbol went too.
		var p kucoin.PaginationModel
		okR(t, nil3(svc.Orders(ctx, map[string]string{"status": "active"}, &kucoin.PaginationParam{}))(&p))
		if p.TotalNum != 0 {
			t.Errorf("got %d classic active orders, want 0", p.TotalNum)
		}
	})
	t.Run("hf cancelAll", func(t *testing.T) {
		var r kucoin.HfCancelOrdersResultModel
		okR(t, nil3(svc.HfCancelOrders(ctx))(&r))
		if strings.Join(r.SucceedSymbols, ",") != "ETH-USDT" {
			t.Errorf("got %v, want ETH-USDT", r.SucceedSymbols)
		}
	})
	t.Run("margin cancel", func(t *testing.T) {
		var s string
		okR(t, nil3(svc.HfCancelAllMarginOrdersV3(ctx, &kucoin.HfCancelAllMarginOrdersV3Req{Symbol: "BTC-USDT", TradeType: "MARGIN_TRADE"}))(&s))
		if s != "success" {
			t.Errorf("got %q, want success", s)
		}
	})
	t.Run("stop and oco cancel", func(t *testing.T) {
		var r struct{ CancelledOrderIds []string }
		okR(t, nil3(svc.CancelStopOrderBy(ctx, map[string]string{"symbol": "BTC-USDT"}))(&r))
		if len(r.CancelledOrderIds) != 1 || r.CancelledOrderIds[0] != "st1" {
			t.Errorf("got %v, want [st1]", r.CancelledOrderIds)
		}
		// DeleteOcoOrders panics inside the SDK; hand-roll it.
		okR(t, nil3(sdkCall(svc, "DELETE", "/api/v3/oco/orders", map[string]string{"symbol": "BTC-USDT"}))(&r))
		if len(r.CancelledOrderIds) != 2 {
			t.Errorf("got %v, want the two legs of oco1", r.CancelledOrderIds)
		}
	})
	t.Run("futures v3 cancel excludes stops", func(t *testing.T) {
		var r struct{ CancelledOrderIds []string }
		okR(t, nil3(sdkCall(fut, "DELETE", "/api/v3/orders", map[string]string{"symbol": "XBTUSDTM"}))(&r))
		if strings.Join(r.CancelledOrderIds, ",") != "f1" {
			t.Errorf("got %v, want [f1]", r.CancelledOrderIds)
		}
		codeR(t, nil2to(sdkCall(fut, "DELETE", "/api/v3/orders", nil)), "400100")
		var p kucoin.PaginationModel
		okR(t, nil3(sdkCall(fut, "GET", "/api/v1/stopOrders", nil))(&p))
		if p.TotalNum != 1 {
			t.Errorf("got %d stop orders, want 1 untouched", p.TotalNum)
		}
	})
	t.Run("futures close position", func(t *testing.T) {
		body := map[string]any{"clientOid": "close-1", "symbol": "XBTUSDTM", "closeOrder": true, "type": "market"}
		okR(t, nil2(sdkCall(fut, "POST", "/api/v1/orders", body)))
		var ps []any
		okR(t, nil3(sdkCall(fut, "GET", "/api/v1/positions", nil))(&ps))
		if len(ps) != 0 {
			t.Errorf("got %d positions, want 0", len(ps))
		}
	})
	t.Run("cancel withdrawal answers data null", func(t *testing.T) {
		rsp, err := svc.CancelWithdrawal(ctx, "w-proc")
		mustOK(t, rsp, err, nil)
		if string(rsp.RawData) != "null" {
			t.Errorf("got data %s, want null", rsp.RawData)
		}
		codeR(t, nil2to(svc.CancelWithdrawal(ctx, "w-done")), "400100")
	})
	t.Run("dead-cancel-all fires on the emulator clock", func(t *testing.T) {
		h3 := newHarness(t, "kucoin-test.yaml")
		s3 := h3.client(SpotName, masterV3)
		var r kucoin.HfAutoCancelSettingRes
		okR(t, nil3(s3.HfAutoCancelSetting(ctx, 5, "ETH-USDT"))(&r))
		cur, _ := r.CurrentTime.Int64()
		trig, _ := r.TriggerTime.Int64()
		if trig-cur != 5 {
			t.Errorf("got trigger-current %d s, want 5", trig-cur)
		}
		h3.clock.SetSkew(6 * time.Second) // SDK timestamps are 6 s behind: sign by hand
		_, m := h3.raw(t, masterV3, "GET", "/api/v1/hf/orders/active/symbols", "", nil, "")
		if m["code"] != "400002" {
			t.Fatalf("got %v, want 400002 with a skewed clock", m["code"])
		}
		h3.clock.SetSkew(0)
		// A skewed check is awkward for clients; fire via the world directly.
		h3.spot.st.mu.Lock()
		h3.spot.st.w.tick(time.Now().Add(6 * time.Second))
		h3.spot.st.mu.Unlock()
		var syms kucoin.HfSymbolsModel
		okR(t, nil3(s3.HfObtainActiveSymbols(ctx))(&syms))
		if len(syms.Symbols) != 0 {
			t.Errorf("got %v, want none (SDK sends 'symbol', so the switch covers all pairs)", syms.Symbols)
		}
	})
}

// nil3 lets a test decode data in one line: okR(t, nil3(call)(&v)).
func nil3(rsp *kucoin.ApiResponse, err error) func(v any) result {
	return func(v any) result { return result{rsp, err, v} }
}

func nil2to(rsp *kucoin.ApiResponse, err error) result { return result{rsp, err, nil} }

func TestSubKeyDeleteSigning(t *testing.T) {
	h := newHarness(t, "kucoin-test.yaml")
	q := url.Values{"apiKey": {"k-sub1"}, "subName": {"sub1"}, "passphrase": {"p@ss word!"}}
	encoded := q.Encode() // what kucoin-go-sdk sends and signs: passphrase=p%40ss+word%21
	decoded, _ := url.QueryUnescape(encoded)

	t.Run("wrong sub passphrase", func(t *testing.T) {
		bad := url.Values{"apiKey": {"k-sub1"}, "subName": {"sub1"}, "passphrase": {"wrong"}}.Encode()
		resp, m := h.raw(t, masterV3, "DELETE", "/api/v1/sub/api-key", bad, nil, "")
		if resp.StatusCode != 400 || m["code"] != "400100" {
			t.Errorf("got %d %v, want 400 400100", resp.StatusCode, m["code"])
		}
	})
	t.Run("decoded form (documented) accepted, not flagged", func(t *testing.T) {
		h := newHarness(t, "kucoin-test.yaml")
		resp, m := h.raw(t, masterV3, "DELETE", "/api/v1/sub/api-key", encoded, &decoded, "")
		if resp.StatusCode != 200 || m["code"] != "200000" {
			t.Fatalf("got %d %v, want 200 200000", resp.StatusCode, m)
		}
		if f := h.lastEntry().Fault; f != "" {
			t.Errorf("got fault %q, want none", f)
		}
	})
	t.Run("sdk encoded form accepted and flagged, then key is dead", func(t *testing.T) {
		svc := h.client(SpotName, masterV3)
		var r kucoin.DeleteSubApiKeyRes
		okR(t, nil3(svc.DeleteSubApiKey(ctx, "sub1", "p@ss word!", "k-sub1"))(&r))
		if r.ApiKey != "k-sub1" {
			t.Errorf("got %q, want k-sub1", r.ApiKey)
		}
		if f := h.lastEntry().Fault; f != FlagEncodedQuery {
			t.Errorf("got fault %q, want %q", f, FlagEncodedQuery)
		}
		codeR(t, nil2to(h.client(SpotName, sub1).Accounts(ctx, "", "")), "400003")
	})
}

func TestKeysBehaveLikeKeys(t *testing.T) {
	h := newHarness(t, "kucoin-test.yaml")
	master := h.client(SpotName, masterV3)
	sub := h.client(SpotName, sub2V2)
	okR(t, nil2(sub.HfSyncCancelAllOrders(ctx, "BTC-USDT")))

	// Strip to General with the hand-rolled body (only the fields meant).
	body := map[string]string{"subName": "sub2", "apiKey": "k-sub2-v2", "passphrase": "p-sub2", "permission": "General"}
	var r kucoin.UpdateSubApiKeyRes
	okR(t, nil3(sdkCall(master, "POST", "/api/v1/sub/api-key/update", body))(&r))
	if r.Permission != "General" {
		t.Errorf("got %q, want General", r.Permission)
	}
	rsp, err := sub.HfSyncCancelAllOrders(ctx, "BTC-USDT")
	wantCode(t, rsp, err, "400007")
	okR(t, nil2(sub.Accounts(ctx, "", ""))) // still reads

	// IP-lock it elsewhere: 400006 on the next call.
	body["ipWhitelist"] = "198.51.100.4"
	okR(t, nil2(sdkCall(master, "POST", "/api/v1/sub/api-key/update", body)))
	rsp, err = sub.Accounts(ctx, "", "")
	wantCode(t, rsp, err, "400006")

	// The SDK's UpdateSubApiKey sends ipWhitelist:"" and so wipes the lock.
	okR(t, nil2(master.UpdateSubApiKey(ctx, "sub2", "p-sub2", "k-sub2-v2", "General,Spot", "", "")))
	okR(t, nil2(sub.Accounts(ctx, "", "")))

	// Wrong sub passphrase on update is refused.
	body["passphrase"] = "guess"
	codeR(t, nil2to(sdkCall(master, "POST", "/api/v1/sub/api-key/update", body)), "400100")

	// A key whitelisted elsewhere never gets in.
	codeR(t, nil2to(h.client(SpotName, locked).Accounts(ctx, "", "")), "400006")
	// Sub keys cannot manage sub keys; master General-only key cannot cancel.
	codeR(t, nil2to(sub.SubApiKey(ctx, "sub1", "")), "400007")
	codeR(t, nil2to(h.client(SpotName, masterV1).HfCancelOrders(ctx)), "400007")
}

func TestUniversalTransferSweepsSub(t *testing.T) {
	h := newHarness(t, "kucoin-test.yaml")
	svc := h.client(SpotName, masterV3)
	var subs kucoin.SubAccountUsersModel
	okR(t, nil3(svc.SubAccountUsers(ctx))(&subs))
	req := &kucoin.UniversalTransferReq{ClientOid: "sweep-1", Type: "SUB_TO_PARENT", Currency: "USDT", Amount: "250",
		FromUserId: subs[1].UserId, FromAccountType: "MAIN", ToAccountType: "MAIN"}
	var res kucoin.UniversalTransferRes
	okR(t, nil3(svc.UniversalTransfer(ctx, req))(&res))
	if res.OrderId == "" {
		t.Error("got empty orderId")
	}
	var a kucoin.AccountsModel
	okR(t, nil3(svc.Accounts(ctx, "USDT", "main"))(&a))
	if len(a) != 1 || a[0].Balance != "1250" {
		t.Errorf("got %+v, want master main USDT 1250", a)
	}
	codeR(t, nil2to(svc.UniversalTransfer(ctx, req)), "200004") // the sub is empty now
}

func TestBadStateReportsPosition(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"file", "", "kucoin-bad.yaml:5:9: key version must be 1, 2 or 3, got 7"},
		{"unknown field", "masters:\n  - name: a\n    kees: []\n", "s.yaml:3:5: unknown field \"kees\""},
		{"bad amount", "masters:\n  - name: a\n    balances: {main: {USDT: lots}}\n", "s.yaml:3:29: invalid decimal amount \"lots\""},
		{"bad duration", "cancel_delay: soon\nmasters: [{name: a}]\n", "s.yaml:1:15: invalid duration"},
		{"no masters", "pools: {spot: 1}\n", "s.yaml: kucoin state has no masters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file, src := "s.yaml", []byte(tt.yaml)
			if tt.yaml == "" {
				file = testdataPath("kucoin-bad.yaml")
				var err error
				if src, err = os.ReadFile(file); err != nil {
					t.Fatal(err)
				}
			}
			var doc yaml.Node
			if err := yaml.Unmarshal(src, &doc); err != nil {
				t.Fatal(err)
			}
			_, err := Load(file, &doc, emu.Env{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestExportAndReset(t *testing.T) {
	h := newHarness(t, "kucoin-test.yaml")
	accs := h.spot.ExportAccounts()
	if len(accs) != 3 {
		t.Fatalf("got %d exported accounts, want 3 master keys", len(accs))
	}
	a := accs[0]
	if a.Name != "km" || a.APIKey != "k-master-v3" || a.KeyVersion != 3 || a.Passphrase != "pm3" {
		t.Errorf("got %+v, want km with the v3 key", a)
	}
	var subs []string
	for _, s := range a.SubKeys {
		subs = append(subs, s.Sub+"="+s.APIKey)
	}
	if got := strings.Join(subs, ","); got != "sub1=k-sub1,sub2=k-sub2-v2" {
		t.Errorf("got sub keys %s, want sub1 and sub2 (sub3's passphrase is not exported)", got)
	}
	svc := h.client(SpotName, masterV3)
	okR(t, nil2(svc.DeleteSubApiKey(ctx, "sub2", "p-sub2", "k-sub2-v2")))
	codeR(t, nil2to(h.client(SpotName, sub2V2).Accounts(ctx, "", "")), "400003")
	h.spot.Reset()
	okR(t, nil2(h.client(SpotName, sub2V2).Accounts(ctx, "", "")))
	if _, ok := h.spot.Snapshot().(map[string]any)["masters"]; !ok {
		t.Error("got snapshot without masters")
	}
}

func TestDemoStateLoads(t *testing.T) {
	b, err := os.ReadFile("../states/kucoin-demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	vs, err := Load("kucoin-demo.yaml", &doc, emu.Env{})
	if err != nil {
		t.Fatalf("demo state: %v", err)
	}
	accs := vs[0].(*Venue).ExportAccounts()
	if len(accs) != 1 || len(accs[0].SubKeys) != 2 {
		t.Errorf("got %+v, want one master with two exported sub keys", accs)
	}
}

func BenchmarkEmulatorKuCoin(b *testing.B) {
	h := newHarness(b, "kucoin-test.yaml")
	svc := h.client(SpotName, masterV1)
	h.spot.st.w.pools = poolSpec{Spot: 1 << 30, Futures: 1 << 30, Management: 1 << 30, Public: 1 << 30}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rsp, err := svc.HfObtainActiveOrders(ctx, "BTC-USDT")
		if err != nil || rsp.Code != "200000" {
			b.Fatalf("got %v %v", rsp, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
