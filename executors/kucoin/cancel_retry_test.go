package kucoin

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/executors/internal/retry"
	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/states"
)

// TestCancelAllResendsAfterUnknownOutcome: a cancel answered 5xx has an
// unknown outcome. A cancel of every order on a symbol is idempotent, so
// it is sent again at once, up to the retry policy's attempts (issue 12:
// a re-list of every kind per failure is what emptied the budget under a
// storm); one that keeps failing is settled by the re-list and sent again
// only when its orders are still open. Either way cancel_all succeeds well
// before confirm_timeout (the fault suite once found it waiting the whole
// timeout and failing, leaving the resend to a runner retry).
func TestCancelAllResendsAfterUnknownOutcome(t *testing.T) {
	attempts := retry.Default.Attempts
	cases := []struct {
		name string
		// faults: how many of the cancels are answered 503; after: the
		// venue executes the cancel, then answers 503.
		faults int
		after  bool
		// DELETE requests for the faulted symbol, and whether the one
		// after the last 503 goes before any re-list.
		minSends, maxSends int
		resentFirst        bool
	}{
		{name: "5xx before the venue acted: resent at once", faults: 1, minSends: 2, maxSends: 2, resentFirst: true},
		// The resend finds the symbol's book empty.
		{name: "5xx after the venue acted: resent at once", faults: 1, after: true, minSends: 2, maxSends: 2, resentFirst: true},
		{name: "5xx on every attempt: resent after the re-list", faults: attempts, minSends: attempts + 1, maxSends: attempts + 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, base := startEmulator(t, states.FS, states.Demo)
			x, err := New(demoAccount(t, srv, base), executors.Env{})
			if err != nil {
				t.Fatal(err)
			}
			srv.SetFaults(emulator.Faults{Script: []emulator.ScriptFault{{Venue: "kucoin", Method: http.MethodDelete,
				Path: "/api/v1/hf/orders", Count: c.faults, Status: 503, Body: `{"code":"503000","msg":"Service unavailable"}`, After: c.after}}})
			start := time.Now()
			// One symbol: the script's 503s all fall on its cancels.
			res, err := x.Do(t.Context(), req(executors.OrdersCancelAll, executors.Params{"symbols": []string{"ETH-USDT"}}, &executortest.RecordingHooks{}))
			if err != nil {
				t.Fatalf("cancel_all: %v (%s)", err, res.Summary)
			}
			if res.Status != executors.StatusChanged || len(res.Remaining) != 0 {
				t.Errorf("status %s with %d remaining, want changed and none", res.Status, len(res.Remaining))
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("cancel_all took %s, want well under the 10s confirm_timeout", d)
			}
			var faulted string
			var lastFault, relist int64 = -1, -1
			sends := map[string][]int64{}
			for _, e := range srv.Requests() {
				if e.Method == http.MethodGet && e.Path == "/api/v1/hf/orders/active/symbols" && len(sends) > 0 && relist < 0 {
					relist = e.Seq
				}
				if e.Method != http.MethodDelete || e.Path != "/api/v1/hf/orders" {
					continue
				}
				q, _ := url.ParseQuery(e.Query)
				sends[q.Get("symbol")] = append(sends[q.Get("symbol")], e.Seq)
				if e.Fault != "" {
					faulted, lastFault = q.Get("symbol"), e.Seq
				}
			}
			if faulted == "" {
				t.Fatal("the emulator injected no 503: the test tests nothing")
			}
			for _, seq := range sends[faulted] {
				if seq > lastFault {
					if first := relist < 0 || seq < relist; first != c.resentFirst {
						t.Errorf("cancel of %s sent again at seq %d, re-list at %d: before the re-list %v, want %v", faulted, seq, relist, first, c.resentFirst)
					}
					break
				}
			}
			if got := len(sends[faulted]); got < c.minSends || got > c.maxSends {
				t.Errorf("%d cancels of %s, want %d to %d", got, faulted, c.minSends, c.maxSends)
			}
		})
	}
}
