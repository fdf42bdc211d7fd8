package binance_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestWithdraw: an IP-restricted key with the withdrawals permission
// withdraws to a whitelisted address through go-binance; the amount
// leaves the spot wallet at once, and the withdrawal shows in the history
// as processing, then completed once the emulator clock has moved on.
func TestWithdraw(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	treasury := h.keyAt("acme-master", 2)
	sc := h.spot(treasury)
	free0, _ := spotBal(t, sc, "USDT")
	res, err := sc.NewCreateWithdrawService().Coin("USDT").Address("0x1111111111111111111111111111111111111111").
		Amount("1000").WithdrawOrderID("attack-1").Do(bg)
	if err != nil || len(res.ID) != 32 {
		t.Fatalf("withdraw: got %+v, %v", res, err)
	}
	if free, _ := spotBal(t, sc, "USDT"); !near(free0-free, 1000) {
		t.Errorf("spot USDT moved by %v, want 1000", free0-free)
	}
	list, err := sc.NewListWithdrawsService().WithdrawOrderId("attack-1").Do(bg)
	if err != nil || len(list) != 1 || list[0].ID != res.ID || list[0].Status != 4 || list[0].Network != "ETH" ||
		list[0].Amount != "996.50000000" || list[0].TransactionFee != "3.50000000" {
		t.Fatalf("history: got %+v, %v; want it processing, 996.5 after the 3.5 fee, on ETH", list, err)
	}
	h.advance(3 * time.Minute)
	sc = h.spot(treasury)
	list, err = sc.NewListWithdrawsService().WithdrawOrderId("attack-1").Do(bg)
	if err != nil || len(list) != 1 || list[0].Status != 6 || list[0].TxID == "" || list[0].CompleteTime == "" {
		t.Errorf("history after 3 minutes: got %+v, %v; want it completed with a txId", list, err)
	}
	btc, err := sc.NewCreateWithdrawService().Coin("BTC").Network("BTC").Address("bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh").
		Amount("0.01").WalletType(0).Do(bg)
	if err != nil || btc.ID == "" {
		t.Errorf("BTC withdraw: got %+v, %v", btc, err)
	}
}

// TestWithdrawRefusals: the venue's codes, and nothing leaves the wallet.
func TestWithdrawRefusals(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	treasury := h.keyAt("acme-master", 2)
	ok := url.Values{"coin": {"USDT"}, "address": {"0x1111111111111111111111111111111111111111"}, "amount": {"100"}}
	with := func(kv ...string) url.Values {
		out := url.Values{}
		for name, x := range ok {
			out[name] = x
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name       string
		c          cred
		form       url.Values
		wantStatus int
		wantCode   int64
	}{
		{"key without withdrawals", h.creds("acme-master"), ok, 401, -2015},
		{"withdrawal key without IP restriction", h.creds("acme-risky"), ok, 401, -2015},
		{"address off the whitelist", treasury, with("address", "0x2222222222222222222222222222222222222222"), 400, -4007},
		{"malformed address", treasury, with("address", "not-an-address"), 400, -4007},
		{"more than the balance", treasury, with("amount", "200000"), 400, -4026},
		{"from the funding wallet, more than it holds", treasury, with("amount", "2000", "walletType", "1"), 400, -4026},
		{"below the minimum", treasury, with("amount", "5"), 400, -4022},
		{"unknown coin", treasury, with("coin", "XYZ"), 400, -4018},
		{"unknown network", treasury, with("network", "SOL"), 400, -4019},
		{"no address", treasury, with("address", ""), 400, -1102},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.signed(tt.c, http.MethodPost, "/sapi/v1/capital/withdraw/apply", nil, tt.form)
			if r.Status != tt.wantStatus || r.code() != tt.wantCode {
				t.Errorf("got %d %s, want %d %d", r.Status, r.Body, tt.wantStatus, tt.wantCode)
			}
		})
	}
	if free, _ := spotBal(t, h.spot(treasury), "USDT"); free != 100000 {
		t.Errorf("spot USDT after the refusals: got %v, want 100000", free)
	}
	if r := h.signed(treasury, http.MethodPost, "/sapi/v1/capital/withdraw/apply", nil, ok); r.Header.Get("X-SAPI-USED-UID-WEIGHT-1M") == "" {
		t.Errorf("no UID weight header: %v", r.Header)
	}
}
