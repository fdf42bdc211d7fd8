package binance

import (
	"context"
	"slices"
	"strconv"
	"testing"

	gobinance "github.com/adshao/go-binance/v2"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
)

// TestCancelAllChasesOrdersPlacedWhileConfirming: an order placed after
// its symbol's cancel shows in the confirming re-list; cancel_all cancels
// it in the next round, ends confirmed with none left, and reports it
// among the orders it cancelled (it reported only those listed first).
func TestCancelAllChasesOrdersPlacedWhileConfirming(t *testing.T) {
	r := startEmulator(t, "conformance.yaml", confMasterKey, confMasterSecret, "hmac")
	x, err := New(r.acct, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	before := r.openOrders(t)
	var placed int64
	// Right after ETHUSDT's first cancel-all is answered, the holder of
	// the key places one more order there.
	hooks := &executortest.ThenOnce{Match: map[string]string{"path": "/api/v3/openOrders", "symbol": "ETHUSDT"}}
	// The key's holder has a client of its own (the executor's SDK
	// clients are read only under its clock lock).
	holder := gobinance.NewClient(confMasterKey, confMasterSecret)
	holder.BaseURL = x.spot.BaseURL
	hooks.Then = func(ctx context.Context) {
		o, err := holder.NewCreateOrderService().Symbol("ETHUSDT").Side(gobinance.SideTypeBuy).Type(gobinance.OrderTypeLimit).
			TimeInForce(gobinance.TimeInForceTypeGTC).Quantity("0.01").Price("2000").Do(ctx)
		if err != nil {
			t.Errorf("place an order on ETHUSDT while confirming: %v", err)
			return
		}
		placed = o.OrderID
	}
	p := executors.WithDefaults(executors.OrdersCancelAll, executors.Params{"products": []string{executors.ProductSpot}})
	res, err := x.Do(t.Context(), executors.Request{Action: executors.OrdersCancelAll, Step: "test", Params: p, Hooks: hooks})
	if err != nil {
		t.Fatalf("cancel_all: %v (%s)", err, res.Summary)
	}
	if placed == 0 {
		t.Fatal("no order was placed while confirming: the test tests nothing")
	}
	if res.Status != executors.StatusChanged || len(res.Remaining) != 0 {
		t.Errorf("status %s, %d remaining: want changed, none left (%s)", res.Status, len(res.Remaining), res.Summary)
	}
	reported := false
	for _, c := range res.Changes {
		reported = reported || c.Symbol == "ETHUSDT" && c.ID == strconv.FormatInt(placed, 10)
	}
	if !reported {
		t.Errorf("the order placed while confirming (%d) is not among the %d cancelled: %+v", placed, len(res.Changes), res.Changes)
	}
	if got := r.openOrders(t); got >= before {
		t.Errorf("emulator: %d open orders after, %d before", got, before)
	}
}

// TestCancelsMostExposedFirst: one cancel at a time (as when the budget
// is the bottleneck), the symbols go in the order of what their orders
// put at risk, highest first: BTCUSDT (12000 USDT), then BNBUSDT's OCO
// (5975), then ETHUSDT (2500) — not in the order the venue listed them.
func TestCancelsMostExposedFirst(t *testing.T) {
	r := startEmulator(t, "conformance.yaml", confMasterKey, confMasterSecret, "hmac")
	x, err := New(r.acct, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	x.concurrency = 1
	hooks := &executortest.RecordingHooks{}
	p := executors.WithDefaults(executors.OrdersCancelAll, executors.Params{"products": []string{executors.ProductSpot}})
	res, err := x.Do(t.Context(), executors.Request{Action: executors.OrdersCancelAll, Step: "test", Params: p, Hooks: hooks})
	if err != nil {
		t.Fatalf("cancel_all: %v (%s)", err, res.Summary)
	}
	var got []string
	for _, m := range hooks.Intents() {
		got = append(got, m.Request["symbol"])
	}
	if want := []string{"BTCUSDT", "BNBUSDT", "ETHUSDT"}; !slices.Equal(got, want) {
		t.Errorf("cancel order %v, want %v", got, want)
	}
}
