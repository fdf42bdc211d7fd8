package kucoin

import (
	"testing"

	kucoin "github.com/Kucoin/kucoin-go-sdk"
)

// TestTransferTradeCoversHF: the current spec's TRADE account type moves
// HF balances too; TRADE_HF is not in it (EXCHANGES.md C8).
func TestTransferTradeCoversHF(t *testing.T) {
	h := newHarness(t, "kucoin-test.yaml")
	svc := h.client(SpotName, masterV3)
	send := func(from string, amount string) (*kucoin.ApiResponse, error) {
		return svc.UniversalTransfer(ctx, &kucoin.UniversalTransferReq{ClientOid: "c8-" + from + amount, Type: "INTERNAL", Currency: "USDT",
			Amount: amount, FromAccountType: from, ToAccountType: "MAIN"})
	}
	rsp, err := send("TRADE_HF", "1")
	wantCode(t, rsp, err, "400100")
	// trade 500 + trade_hf 600 available (700 − 100 on hold).
	rsp, err = send("TRADE", "1101")
	wantCode(t, rsp, err, "200004")
	rsp, err = send("TRADE", "1100")
	mustOK(t, rsp, err, nil)
	for _, tc := range []struct{ typ, bal, holds string }{{"main", "2100", "0"}, {"trade", "0", "0"}, {"trade_hf", "100", "100"}} {
		rsp, err := svc.Accounts(ctx, "USDT", tc.typ)
		a := data[kucoin.AccountsModel](t, rsp, err)
		if len(a) != 1 || a[0].Balance != tc.bal || a[0].Holds != tc.holds {
			t.Errorf("%s USDT: got %+v, want balance %s holds %s", tc.typ, a, tc.bal, tc.holds)
		}
	}
}

// TestWithdrawalPermissionName: the permission is called Withdrawal in the
// current spec and Transfer in older docs; either grants it (C11).
func TestWithdrawalPermissionName(t *testing.T) {
	h := newHarnessYAML(t, `
masters:
  - name: m
    keys:
      - {api_key: k-new, secret: s-new, passphrase: p-new, version: 2, permission: "General,Withdrawal"}
      - {api_key: k-gen, secret: s-gen, passphrase: p-gen, version: 2, permission: General}
    withdrawals:
      - {id: w1, currency: USDT, amount: "10", status: PROCESSING}
      - {id: w2, currency: USDT, amount: "10", status: PROCESSING}
`)
	rsp, err := h.client(SpotName, creds{"k-gen", "s-gen", "p-gen", 2}).CancelWithdrawal(ctx, "w1")
	wantCode(t, rsp, err, "400007")
	rsp, err = h.client(SpotName, creds{"k-new", "s-new", "p-new", 2}).CancelWithdrawal(ctx, "w2")
	mustOK(t, rsp, err, nil)
}
