package kucoin

import (
	"net/http"
	"testing"
	"time"

	kucoin "github.com/Kucoin/kucoin-go-sdk"
)

const withdrawState = `
withdraw_settle: 1s
masters:
  - name: funder
    keys:
      - {api_key: k-wd, secret: s-wd, passphrase: p-wd, version: 2, permission: "General,Withdrawal", ip_whitelist: [127.0.0.1]}
      - {api_key: k-wd-any-ip, secret: s-any, passphrase: p-any, version: 2, permission: "General,Withdrawal"}
      - {api_key: k-wd-far, secret: s-far, passphrase: p-far, version: 2, permission: "General,Withdrawal", ip_whitelist: [203.0.113.7]}
      - {api_key: k-gen, secret: s-gen, passphrase: p-gen, version: 2, permission: "General,Spot", ip_whitelist: [127.0.0.1]}
    balances:
      main: {USDT: "1000", BTC: "0.5"}
    subs:
      - name: s1
        keys: [{api_key: k-s1, secret: s-s1, passphrase: p-s1, version: 2, permission: "General,Spot"}]
        balances: {main: {USDT: "100"}}
  - name: careful
    withdraw_whitelist: ["0x1111111111111111111111111111111111111111"]
    keys:
      - {api_key: k-wl, secret: s-wl, passphrase: p-wl, version: 2, permission: "General,Transfer", ip_whitelist: [127.0.0.0/8]}
    balances:
      main: {USDT: "1000"}
`

var (
	wdKey  = creds{"k-wd", "s-wd", "p-wd", 2}
	outETH = "0x2222222222222222222222222222222222222222"
)

func TestWithdrawalLifecycle(t *testing.T) {
	h := newHarnessYAML(t, withdrawState)
	svc := h.client(SpotName, wdKey)

	rsp, err := sdkCall(svc, "POST", "/api/v3/withdrawals", map[string]any{"currency": "USDT", "toAddress": outETH, "amount": 100, "withdrawType": "ADDRESS", "chain": "eth", "remark": "out"})
	id := data[struct{ WithdrawalId string }](t, rsp, err).WithdrawalId
	if id == "" {
		t.Fatal("got no withdrawalId")
	}
	if e := h.lastEntry(); e.Weight != 5 || e.Endpoint != "POST /api/v3/withdrawals" {
		t.Errorf("got %s weight %d, want POST /api/v3/withdrawals weight 5", e.Endpoint, e.Weight)
	}
	// 100 + the ERC20 fee 3.5 leave the main account at once.
	rsp, err = svc.Accounts(ctx, "USDT", "main")
	if a := data[kucoin.AccountsModel](t, rsp, err); len(a) != 1 || a[0].Balance != "896.5" {
		t.Errorf("main USDT: got %+v, want 896.5", a)
	}
	list := func() kucoin.WithdrawalsModel {
		t.Helper()
		rsp, err := svc.Withdrawals(ctx, map[string]string{"currency": "USDT"}, &kucoin.PaginationParam{CurrentPage: 1, PageSize: 10})
		var p kucoin.PaginationModel
		mustOK(t, rsp, err, &p)
		var ws kucoin.WithdrawalsModel
		if err := p.ReadItems(&ws); err != nil {
			t.Fatal(err)
		}
		return ws
	}
	if ws := list(); len(ws) != 1 || ws[0].Id != id || ws[0].Status != "PROCESSING" || ws[0].Amount != "100" || ws[0].Fee != "3.5" || ws[0].Chain != "eth" {
		t.Fatalf("history: got %+v, want the withdrawal PROCESSING, amount 100, fee 3.5", ws)
	}
	// The deprecated v1 endpoint (what the SDK calls), on TRC20, fee taken
	// from the amount.
	rsp, err = svc.ApplyWithdrawal(ctx, "USDT", "TXYZabcdefghijkmnopqrstuvwxyz12345", "20", map[string]string{"chain": "trx", "feeDeductType": "EXTERNAL"})
	v1 := data[struct{ WithdrawalId string }](t, rsp, err).WithdrawalId
	rsp, err = sdkCall(svc, "GET", "/api/v1/withdrawals/"+v1, nil)
	if d := data[struct{ Amount, Fee, Status, CancelType string }](t, rsp, err); d.Amount != "19" || d.Fee != "1" || d.CancelType != "CANCELABLE" {
		t.Errorf("v1 detail: got %+v, want amount 19, fee 1, CANCELABLE", d)
	}
	rsp, err = svc.CancelWithdrawal(ctx, v1)
	mustOK(t, rsp, err, nil)

	// Half the settle time: WALLET_PROCESSING; then SUCCESS with a tx id.
	byID := func() *kucoin.WithdrawalModel {
		for _, w := range list() {
			if w.Id == id {
				return w
			}
		}
		t.Fatalf("withdrawal %s is not listed", id)
		return nil
	}
	time.Sleep(600 * time.Millisecond)
	if w := byID(); w.Status != "WALLET_PROCESSING" || w.WalletTxId != "" {
		t.Errorf("after half the settle time: got %+v, want WALLET_PROCESSING", w)
	}
	time.Sleep(500 * time.Millisecond)
	if done := byID(); done.Status != "SUCCESS" || done.WalletTxId == "" {
		t.Errorf("after the settle time: got %+v, want SUCCESS with a walletTxId", done)
	}
	rsp, err = svc.CancelWithdrawal(ctx, id)
	wantCode(t, rsp, err, "400100") // no longer PROCESSING
	rsp, err = svc.Accounts(ctx, "USDT", "main")
	if a := data[kucoin.AccountsModel](t, rsp, err); len(a) != 1 || a[0].Balance != "896.5" {
		t.Errorf("main USDT after the v1 cancel: got %+v, want 896.5 (the 20 refunded)", a)
	}
	rsp, err = svc.WithdrawalQuotas(ctx, "USDT", "trx")
	if q := data[struct{ WithdrawMinFee, WithdrawMinSize, AvailableAmount string }](t, rsp, err); q.WithdrawMinFee != "1" || q.WithdrawMinSize != "10" || q.AvailableAmount != "896.5" {
		t.Errorf("quotas: got %+v", q)
	}
}

func TestWithdrawalRefusals(t *testing.T) {
	h := newHarnessYAML(t, withdrawState)
	v3 := func(c creds, body map[string]any) func() (*kucoin.ApiResponse, error) {
		return func() (*kucoin.ApiResponse, error) {
			return sdkCall(h.client(SpotName, c), "POST", "/api/v3/withdrawals", body)
		}
	}
	usdt := func(kv ...any) map[string]any {
		m := map[string]any{"currency": "USDT", "toAddress": outETH, "amount": "50", "withdrawType": "ADDRESS", "chain": "eth"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name   string
		do     func() (*kucoin.ApiResponse, error)
		code   string
		status int
	}{
		{"no Withdrawal permission", v3(creds{"k-gen", "s-gen", "p-gen", 2}, usdt()), "400007", http.StatusForbidden},
		{"withdrawal key without an IP whitelist", v3(creds{"k-wd-any-ip", "s-any", "p-any", 2}, usdt()), "400007", http.StatusForbidden},
		{"IP not whitelisted", v3(creds{"k-wd-far", "s-far", "p-far", 2}, usdt()), "400006", http.StatusForbidden},
		{"sub-account key", v3(creds{"k-s1", "s-s1", "p-s1", 2}, usdt()), "400007", http.StatusForbidden},
		{"insufficient balance", v3(wdKey, usdt("amount", "997")), "400100", http.StatusBadRequest},
		{"below the chain minimum", v3(wdKey, usdt("amount", "5")), "400100", http.StatusBadRequest},
		{"address of another chain", v3(wdKey, usdt("chain", "trx")), "400100", http.StatusBadRequest},
		{"unknown chain", v3(wdKey, usdt("chain", "bsc")), "400100", http.StatusBadRequest},
		{"withdrawType missing", v3(wdKey, usdt("withdrawType", "")), "400100", http.StatusBadRequest},
		{"unknown currency", v3(wdKey, usdt("currency", "NOPE")), "400100", http.StatusBadRequest},
		{"address not in the whitelist", v3(creds{"k-wl", "s-wl", "p-wl", 2}, usdt()), "400100", http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rsp, err := tc.do()
			wantCode(t, rsp, err, tc.code)
			if got := rsp.HttpSuccessful(); got != (tc.status == http.StatusOK) {
				t.Errorf("got HTTP success %v, want HTTP %d", got, tc.status)
			}
		})
	}
	// Nothing left any account.
	rsp, err := h.client(SpotName, wdKey).Accounts(ctx, "USDT", "main")
	if a := data[kucoin.AccountsModel](t, rsp, err); len(a) != 1 || a[0].Balance != "1000" {
		t.Errorf("main USDT after refusals: got %+v, want 1000", a)
	}
	// The whitelisted address goes through (a CIDR IP whitelist, the
	// older permission name Transfer).
	rsp, err = v3(creds{"k-wl", "s-wl", "p-wl", 2}, usdt("toAddress", "0x1111111111111111111111111111111111111111"))()
	mustOK(t, rsp, err, nil)
}
