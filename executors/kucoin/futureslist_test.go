package kucoin

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/internal/emulator/states"
)

// TestFuturesOrdersAndStopOrdersListedAtOnce: the futures stop orders are
// listed alongside the futures orders, not after their answer: every
// confirming re-list of cancel_all took a round trip more.
func TestFuturesOrdersAndStopOrdersListedAtOnce(t *testing.T) {
	srv, base := startEmulator(t, states.FS, states.Demo)
	futures := func(path string) func(*http.Request) bool {
		return func(r *http.Request) bool {
			return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "kucoin-futures") && strings.HasSuffix(r.URL.Path, path)
		}
	}
	// Every futures order list is held, a hedged copy too: its answer
	// would let a stop-order list that waits for it go.
	hold := &executortest.HoldUntil{Base: executors.SharedTransport(), Hold: futures("/api/v1/orders"), After: futures("/api/v1/stopOrders"),
		Every: true, Timeout: 3 * time.Second}
	x, err := New(demoAccount(t, srv, base), executors.Env{Transport: hold})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.listOrders(t.Context(), selectionOf(executors.WithDefaults(executors.OrdersCancelAll, nil))); err != nil {
		t.Fatal(err)
	}
	held, timedOut := hold.Result()
	if !held {
		t.Fatal("no futures order list was sent: the demo account trades futures")
	}
	if timedOut {
		t.Error("the futures stop orders were listed only after the futures orders' answer")
	}
}
