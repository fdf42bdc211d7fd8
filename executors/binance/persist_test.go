package binance

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/emulator"
)

// TestReadPersistsThroughFaults: reads answered 5xx (the venue's -1001
// body) or left hanging are sent again within the caller's deadline, and
// the action succeeds; a hung request is abandoned after the per-request
// timeout, not the step's.
func TestReadPersistsThroughFaults(t *testing.T) {
	r, e := newConfExecutor(t)
	for _, hc := range e.https {
		hc.Transport.(*observingTransport).timeout = 300 * time.Millisecond
	}
	r.srv.SetFaults(emulator.Faults{
		Hang: &emulator.HangFault{Venue: "binance", Method: "GET", Path: "/api/v3/account", Count: 1},
		Script: []emulator.ScriptFault{{Venue: "binance", Method: "GET", Path: "/sapi/v1/sub-account/list", Count: 3, Status: 500,
			Body: `{"code":-1001,"msg":"Internal error; unable to process your request. Please try again."}`}},
	})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	start := time.Now()
	res, err := e.Do(ctx, executors.Request{Action: executors.SnapshotBalances, Params: executors.Params{}})
	if err != nil || res.Status != executors.StatusOK {
		t.Fatalf("snapshot through faults: got %v %s %q, want ok", err, res.Status, res.Summary)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %s: the hung request held the action", took)
	}
	var hung, failed, ok200 int
	for _, x := range r.srv.Requests() {
		switch {
		case x.Path == "/api/v3/account" && x.Status == 499:
			hung++
		case x.Path == "/sapi/v1/sub-account/list" && x.Status == http.StatusInternalServerError:
			failed++
		case x.Path == "/sapi/v1/sub-account/list" && x.Status == http.StatusOK:
			ok200++
		}
	}
	if hung != 1 || failed != 3 || ok200 == 0 {
		t.Errorf("log: %d hung account reads (want 1), %d sub-account lists answered 500 (want 3), %d answered 200 (want some)", hung, failed, ok200)
	}
}

// TestPermanentErrorFailsAtOnce: a refusal is not retried, however much
// time the deadline leaves.
func TestPermanentErrorFailsAtOnce(t *testing.T) {
	r, e := newConfExecutor(t)
	r.srv.SetFaults(emulator.Faults{Script: []emulator.ScriptFault{{Venue: "binance", Method: "GET", Path: "/api/v3/account", Count: 0, Status: 400,
		Body: `{"code":-1102,"msg":"Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."}`}}})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	err := e.call(ctx, "read spot account", false, func(ctx context.Context) error {
		_, err := e.spot.NewGetAccountService().Do(ctx)
		return err
	})
	if err == nil {
		t.Fatal("got nil, want the refusal")
	}
	n := 0
	for _, x := range r.srv.Requests() {
		if x.Path == "/api/v3/account" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("requests sent: got %d, want 1", n)
	}
}
