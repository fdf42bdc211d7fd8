package binance

import (
	"net/http"
	"strings"
	"testing"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/executors/internal/budget"
	"github.com/panicbutton/panicbutton/internal/emulator"
)

// TestLongWaitIsNoticed: when Binance answers a cancel 429 with a
// Retry-After of several seconds, the executor waits that long before it
// sends on that limit again (never into the block) and the operator hears
// of the wait once, as it begins, however many cancels wait; cancel_all
// still ends with every order cancelled. Takes the 6 s wait.
func TestLongWaitIsNoticed(t *testing.T) {
	budget.ForgetTold() // its wait is news however often the test runs
	r, e := newConfExecutor(t)
	r.srv.SetFaults(emulator.Faults{Script: []emulator.ScriptFault{{Venue: "binance", Method: "DELETE", Path: "/api/v3/openOrders",
		Status: http.StatusTooManyRequests, Body: `{"code":-1003,"msg":"Too many requests; current limit of IP is 6000 requests per minute."}`,
		Headers: map[string]string{"Retry-After": "6"}}}})
	hooks := &executortest.RecordingHooks{}
	res, err := doAction(t, e, executors.OrdersCancelAll, nil, hooks)
	if err != nil || res.Status != executors.StatusChanged || len(res.Remaining) != 0 {
		t.Fatalf("cancel_all: %v, %s with %d remaining (%s)", err, res.Status, len(res.Remaining), res.Summary)
	}
	if throttled := statusCount(r, http.StatusTooManyRequests); throttled != 1 {
		t.Errorf("%d answers 429, want the scripted one: the executor sent into the block", throttled)
	}
	n := hooks.Notices()
	if len(n) != 1 || !strings.Contains(n[0], "Binance answered 429") || !strings.Contains(n[0], "wait 6s") {
		t.Errorf("notices %q: want one telling of the 6 s wait", n)
	}
}

func statusCount(r *emuRun, status int) int {
	c := 0
	for _, x := range r.srv.Requests() {
		if x.Status == status {
			c++
		}
	}
	return c
}

// TestLimitName: the notices name Binance's limits in words.
func TestLimitName(t *testing.T) {
	for _, c := range []struct{ method, path, want string }{
		{"DELETE", "/fapi/v1/allOpenOrders", "IP weight (/fapi)"},
		{"DELETE", "/sapi/v1/sub-account/subAccountApi", "account weight for DELETE /sapi/v1/sub-account/subAccountApi"},
		{"GET", "/sapi/v1/sub-account/list", "IP weight for GET /sapi/v1/sub-account/list"},
	} {
		if got := limitName(costOf(c.method, c.path, nil).bucket); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.method, c.path, got, c.want)
		}
	}
	if got := limitName("orders-10s:spot"); got != "spot order count per 10 s" {
		t.Errorf("order count: %q", got)
	}
}
