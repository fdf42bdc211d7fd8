package kucoin

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/states"
)

// TestCancelAllResendsAfterUnknownOutcome: a cancel answered 5xx has an
// unknown outcome. cancel_all settles it by re-listing, sends it again only
// when the orders are still open, and then succeeds — well before
// confirm_timeout (the fault suite found it waiting the whole timeout and
// failing, leaving the resend to a runner retry).
func TestCancelAllResendsAfterUnknownOutcome(t *testing.T) {
	cases := []struct {
		name string
		// after: the venue executes the cancel, then answers 503.
		after bool
		// DELETE requests for the faulted symbol. KuCoin cancels are
		// asynchronous: an executed cancel may still list as open at the
		// first re-list, so one (harmless) resend is allowed then.
		minSends, maxSends int
	}{
		{name: "5xx before the venue acted: resent after the re-list", after: false, minSends: 2, maxSends: 2},
		{name: "5xx after the venue acted: settled by the re-list", after: true, minSends: 1, maxSends: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, base := startEmulator(t, states.FS, states.Demo)
			x, err := New(demoAccount(t, srv, base), executors.Env{})
			if err != nil {
				t.Fatal(err)
			}
			srv.SetFaults(emulator.Faults{Script: []emulator.ScriptFault{{Venue: "kucoin", Method: http.MethodDelete,
				Path: "/api/v1/hf/orders", Count: 1, Status: 503, Body: `{"code":"503000","msg":"Service unavailable"}`, After: c.after}}})
			start := time.Now()
			res, err := x.Do(t.Context(), req(executors.OrdersCancelAll, nil, &executortest.RecordingHooks{}))
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
			sends := map[string]int{}
			for _, e := range srv.Requests() {
				if e.Method != http.MethodDelete || e.Path != "/api/v1/hf/orders" {
					continue
				}
				q, _ := url.ParseQuery(e.Query)
				sends[q.Get("symbol")]++
				if e.Fault != "" {
					faulted = q.Get("symbol")
				}
			}
			if faulted == "" {
				t.Fatal("the emulator injected no 503: the test tests nothing")
			}
			if got := sends[faulted]; got < c.minSends || got > c.maxSends {
				t.Errorf("%d cancels of %s, want %d to %d", got, faulted, c.minSends, c.maxSends)
			}
		})
	}
}
