package kucoin

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/internal/emulator"
)

// hfState is a KuCoin master with spot HF orders on n symbols (two each)
// and one classic order.
func hfState(n int) fstest.MapFS {
	var prices, orders []string
	for i := range n {
		sym := fmt.Sprintf("C%02d-USDT", i)
		prices = append(prices, fmt.Sprintf("%s: \"10\"", sym))
		orders = append(orders,
			fmt.Sprintf("          - {symbol: %s, side: buy, price: \"9\", size: \"1\"}", sym),
			fmt.Sprintf("          - {symbol: %s, side: sell, price: \"11\", size: \"1\"}", sym))
	}
	state := `kucoin:
  prices: {` + strings.Join(prices, ", ") + `}
  masters:
    - name: kc-master
      uid: 200000001
      keys:
        - api_key: 6650c0ffee00000000000001
          secret: 11111111-2222-4333-8444-555555555555
          passphrase: master-pass-1
          version: 3
          permission: General,Spot
      balances:
        trade_hf: {USDT: "100000"}
      orders:
        hf:
` + strings.Join(orders, "\n") + `
        classic:
          - {symbol: C00-USDT, side: buy, price: "8", size: "1"}
`
	return fstest.MapFS{"state.yaml": {Data: []byte(state)}}
}

// cancelRequests counts the spot HF cancel requests: cancel-all, and per
// symbol.
func cancelRequests(srv *emulator.Server) (all int, perSymbol map[string]int) {
	perSymbol = map[string]int{}
	for _, e := range srv.Requests() {
		switch {
		case e.Method != http.MethodDelete:
		case e.Path == "/api/v1/hf/orders/cancelAll":
			all++
		case e.Path == "/api/v1/hf/orders":
			q, _ := url.ParseQuery(e.Query)
			perSymbol[q.Get("symbol")]++
		}
	}
	return all, perSymbol
}

// TestCancelAllHFInOneRequest: with spot HF orders on hfAllMin symbols or
// more, cancel_all sends one cancel-all for them (not a request per
// symbol), audits it as one mutation, and confirms every order cancelled
// by re-listing; with fewer symbols, or symbols named, it cancels per
// symbol (a cancel-all cannot be narrowed).
func TestCancelAllHFInOneRequest(t *testing.T) {
	cases := []struct {
		name      string
		symbols   int
		params    executors.Params
		wantAll   int
		perSymbol int // cancels per symbol expected on every HF symbol
	}{
		{name: "many symbols: one cancel-all", symbols: hfAllMin, wantAll: 1},
		{name: "few symbols: a cancel each", symbols: hfAllMin - 1, perSymbol: 1},
		{name: "symbols named: a cancel each", symbols: hfAllMin, params: executors.Params{"symbols": []string{"C00-USDT", "C01-USDT"}}, perSymbol: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, base := startEmulator(t, hfState(c.symbols), "state.yaml")
			x, err := New(demoAccount(t, srv, base), executors.Env{})
			if err != nil {
				t.Fatal(err)
			}
			hooks := &executortest.RecordingHooks{}
			res, err := x.Do(t.Context(), req(executors.OrdersCancelAll, c.params, hooks))
			if err != nil || res.Status != executors.StatusChanged || len(res.Remaining) != 0 {
				t.Fatalf("cancel_all: %v, status %s, %d remaining (%s)", err, res.Status, len(res.Remaining), res.Summary)
			}
			all, per := cancelRequests(srv)
			if all != c.wantAll {
				t.Errorf("%d cancel-all requests, want %d", all, c.wantAll)
			}
			named := len(c.params.Strings("symbols"))
			for i := range c.symbols {
				sym := fmt.Sprintf("C%02d-USDT", i)
				want := c.perSymbol
				if named > 0 && i >= named {
					want = 0
				}
				if per[sym] != want {
					t.Errorf("%d per-symbol cancels of %s, want %d", per[sym], sym, want)
				}
			}
			wantOrders := 2*c.symbols + 1 // and the classic order
			if named > 0 {
				wantOrders = 2*named + 1
			}
			if res.Counts["cancelled"] != wantOrders {
				t.Errorf("%d orders reported cancelled, want %d (%s)", res.Counts["cancelled"], wantOrders, res.Summary)
			}
			wantLeft := 0
			if named > 0 {
				wantLeft = 2 * (c.symbols - named) // the symbols not named
			}
			if left := srv.OpenOrders()["kucoin:kc-master"]; left != wantLeft {
				t.Errorf("%d open orders left on the venue, want %d", left, wantLeft)
			}
			if c.wantAll > 0 {
				var intents int
				for _, m := range hooks.Intents() {
					if strings.HasPrefix(m.ID, "cancel:hf:all@") {
						intents++
						if m.Request["path"] != "/api/v1/hf/orders/cancelAll" {
							t.Errorf("cancel-all intent summary %v", m.Request)
						}
					}
				}
				if intents != 1 {
					t.Errorf("%d cancel-all intents audited, want 1", intents)
				}
			}
		})
	}
}

// TestCancelAllHFFailedSymbols: symbols the cancel-all names in
// failedSymbols are not taken as cancelled: the re-list finds their orders
// open and they are cancelled again, and the run ends confirmed.
func TestCancelAllHFFailedSymbols(t *testing.T) {
	srv, base := startEmulator(t, hfState(hfAllMin), "state.yaml")
	x, err := New(demoAccount(t, srv, base), executors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	// The first cancel-all is answered before the venue acts, with every
	// symbol failed: nothing was cancelled.
	var failed []string
	for i := range hfAllMin {
		failed = append(failed, fmt.Sprintf(`{"symbol":"C%02d-USDT","error":"system busy"}`, i))
	}
	srv.SetFaults(emulator.Faults{Script: []emulator.ScriptFault{{Venue: "kucoin", Method: http.MethodDelete,
		Path: "/api/v1/hf/orders/cancelAll", Count: 1, Status: 200,
		Body: `{"code":"200000","data":{"succeedSymbols":[],"failedSymbols":[` + strings.Join(failed, ",") + `]}}`}}})
	res, err := x.Do(t.Context(), req(executors.OrdersCancelAll, nil, &executortest.RecordingHooks{}))
	if err != nil || res.Status != executors.StatusChanged || len(res.Remaining) != 0 {
		t.Fatalf("cancel_all: %v, status %s, %d remaining (%s)", err, res.Status, len(res.Remaining), res.Summary)
	}
	all, per := cancelRequests(srv)
	if all != 2 || len(per) != 0 {
		t.Errorf("%d cancel-all and %v per-symbol requests, want the cancel-all sent again (2) and none per symbol", all, per)
	}
	if left := srv.OpenOrders()["kucoin:kc-master"]; left != 0 {
		t.Errorf("%d open orders left on the venue, want none", left)
	}
}
