package kucoin

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/emulator/states"
)

// holdOrdersList holds every futures order list (a hedged copy too) until
// a futures stop-order list is sent, or a timeout passes.
type holdOrdersList struct {
	base     http.RoundTripper
	once     sync.Once
	stops    chan struct{} // closed at the first stop-order list
	mu       sync.Mutex
	held     bool
	timedOut bool
}

func (h *holdOrdersList) RoundTrip(r *http.Request) (*http.Response, error) {
	futures := r.Method == http.MethodGet && strings.Contains(r.URL.Path, "kucoin-futures")
	switch {
	case futures && strings.HasSuffix(r.URL.Path, "/api/v1/stopOrders"):
		h.once.Do(func() { close(h.stops) })
	case futures && strings.HasSuffix(r.URL.Path, "/api/v1/orders"):
		h.mu.Lock()
		h.held = true
		h.mu.Unlock()
		select {
		case <-h.stops:
		case <-time.After(3 * time.Second):
			h.mu.Lock()
			h.timedOut = true
			h.mu.Unlock()
		}
	}
	return h.base.RoundTrip(r)
}

// TestFuturesOrdersAndStopOrdersListedAtOnce: the futures stop orders are
// listed alongside the futures orders, not after their answer: every
// confirming re-list of cancel_all took a round trip more.
func TestFuturesOrdersAndStopOrdersListedAtOnce(t *testing.T) {
	srv, base := startEmulator(t, states.FS, states.Demo)
	hold := &holdOrdersList{base: executors.SharedTransport(), stops: make(chan struct{})}
	x, err := New(demoAccount(t, srv, base), executors.Env{Transport: hold})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.listOrders(t.Context(), selectionOf(executors.WithDefaults(executors.OrdersCancelAll, nil))); err != nil {
		t.Fatal(err)
	}
	hold.mu.Lock()
	defer hold.mu.Unlock()
	if !hold.held {
		t.Fatal("no futures order list was sent: the demo account trades futures")
	}
	if hold.timedOut {
		t.Error("the futures stop orders were listed only after the futures orders' answer")
	}
}
