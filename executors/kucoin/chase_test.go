package kucoin

import (
	"context"
	"net/http"
	"testing"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/internal/emulator/states"
)

// TestCancelAllChasesOrdersPlacedWhileConfirming: an order placed on a
// symbol after its cancel was carried out shows in the confirming re-list
// with an id no cancel covered; cancel_all cancels the symbol again
// (instead of waiting for it until confirm_timeout and failing, as it
// did), reports that order among those it cancelled, and ends confirmed.
func TestCancelAllChasesOrdersPlacedWhileConfirming(t *testing.T) {
	srv, base := startEmulator(t, states.FS, states.Demo)
	x, err := New(demoAccount(t, srv, base), executors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := x.listOrders(t.Context(), selectionOf(executors.WithDefaults(executors.OrdersCancelAll, nil)))
	if err != nil {
		t.Fatal(err)
	}
	placed := ""
	// Right after ETH-USDT's first hf cancel is answered, the holder of the
	// key places one more order there.
	hooks := &executortest.ThenOnce{Match: map[string]string{"path": "/api/v1/hf/orders", "symbol": "ETH-USDT"}}
	hooks.Then = func(ctx context.Context) {
		var out struct {
			OrderID string `json:"orderId"`
		}
		body := map[string]any{"clientOid": "chase-test-1", "symbol": "ETH-USDT", "side": "buy", "type": "limit", "price": "3000", "size": "0.01"}
		if err := x.call(ctx, x.spot, "place order", true, http.MethodPost, "/api/v1/hf/orders", body, &out); err != nil {
			t.Errorf("place an order on ETH-USDT while confirming: %v", err)
			return
		}
		placed = out.OrderID
	}
	p := executors.WithDefaults(executors.OrdersCancelAll, nil)
	res, err := x.Do(t.Context(), executors.Request{Action: executors.OrdersCancelAll, Step: "test", Params: p, Hooks: hooks})
	if err != nil {
		t.Fatalf("cancel_all: %v (%s)", err, res.Summary)
	}
	if placed == "" {
		t.Fatal("no order was placed while confirming: the test tests nothing")
	}
	if res.Status != executors.StatusChanged || len(res.Remaining) != 0 {
		t.Errorf("status %s, %d remaining: want changed, none left (%s)", res.Status, len(res.Remaining), res.Summary)
	}
	reported := false
	for _, c := range res.Changes {
		reported = reported || c.ID == placed
	}
	if !reported {
		t.Errorf("the order placed while confirming (%s) is not among the %d cancelled", placed, len(res.Changes))
	}
	if got, want := res.Counts["cancelled"], len(first)+1; got != want {
		t.Errorf("cancelled count %d, want %d (listed first) + 1", got, len(first))
	}
	if n := srv.OpenOrders(); n["kucoin:kucoin-main"] != 0 {
		t.Errorf("emulator: %v open orders, want none on kucoin-main", n)
	}
}
