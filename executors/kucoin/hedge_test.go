package kucoin

import (
	"context"
	"errors"
	"net/http"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/executors/internal/hedge"
	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

// entriesTo lists the emulator's log entries for method+path.
func entriesTo(srv *emulator.Server, method, path string) []emu.Entry {
	var out []emu.Entry
	for _, e := range srv.Requests() {
		if e.Method == method && e.Path == path {
			out = append(out, e)
		}
	}
	return out
}

// newHedgeExecutor runs the executor against the emulator with a
// per-request timeout of timeout, after three reads (the round trips the
// hedge delay is derived from: on loopback, its floor).
func newHedgeExecutor(t *testing.T, ctx context.Context, timeout time.Duration) (*emulator.Server, *Executor) {
	t.Helper()
	srv, base := startEmulator(t, os.DirFS("testdata"), "state.yaml")
	x, err := New(conformanceAccount(base), executors.Env{Transport: &http.Transport{DisableKeepAlives: true}})
	if err != nil {
		t.Fatal(err)
	}
	x.retry.Request = timeout
	for range 3 {
		if err := x.call(ctx, x.spot, "accounts", false, http.MethodGet, "/api/v1/accounts", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	return srv, x
}

// TestHungReadIsHedged: a read KuCoin leaves hanging is answered by its
// hedge (signed with its own timestamp) in about the hedge delay instead
// of the per-request timeout; the hung copy is cancelled at once and no
// goroutine is left behind.
func TestHungReadIsHedged(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	const timeout = 4 * time.Second
	srv, x := newHedgeExecutor(t, ctx, timeout)
	srv.SetFaults(emulator.Faults{Hang: &emulator.HangFault{Venue: "kucoin", Method: "GET", Path: "/api/v1/accounts", Count: 1}})
	goroutines := runtime.NumGoroutine()
	var accounts []struct {
		Currency string `json:"currency"`
	}
	start := time.Now()
	if err := x.call(ctx, x.spot, "accounts", false, http.MethodGet, "/api/v1/accounts", nil, &accounts); err != nil {
		t.Fatalf("hedged read: %v", err)
	}
	took := time.Since(start)
	if len(accounts) == 0 {
		t.Error("the hedged read returned no accounts")
	}
	if took < hedge.Min || took > timeout/2 {
		t.Errorf("took %s, want about the hedge delay %s (the per-request timeout is %s)", took, hedge.Min, timeout)
	}
	hung := executortest.WaitForEntry(t, srv.Requests, "GET", "/api/v1/accounts", 499)
	if hung.Duration > timeout/2 {
		t.Errorf("the hung copy was held %s, want it cancelled when the hedge answered", hung.Duration)
	}
	ok := 0
	for _, e := range entriesTo(srv, "GET", "/api/v1/accounts") {
		if e.Status == http.StatusOK && e.Code == "" {
			ok++
		}
	}
	if ok != 4 {
		t.Errorf("account reads answered 200: got %d, want 4 (3 before the fault, then the hedge)", ok)
	}
	executortest.SettleGoroutines(t, goroutines+1)
}

// TestMutationIsNeverHedged: a cancel-all KuCoin leaves hanging is sent
// once and abandoned after the per-request timeout, never copied.
func TestMutationIsNeverHedged(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	const timeout = 900 * time.Millisecond
	srv, x := newHedgeExecutor(t, ctx, timeout)
	const path = "/api/v1/hf/orders/cancelAll"
	srv.SetFaults(emulator.Faults{Hang: &emulator.HangFault{Venue: "kucoin", Method: "DELETE", Path: path, Count: 1}})
	start := time.Now()
	err := x.call(ctx, x.spot, "cancel all", true, http.MethodDelete, path, nil, nil)
	took := time.Since(start)
	if !errors.Is(err, executors.ErrUnknownOutcome) {
		t.Errorf("got %v, want ErrUnknownOutcome (the cancel hung)", err)
	}
	if took < timeout {
		t.Errorf("took %s, want the per-request timeout %s (no copy may answer sooner)", took, timeout)
	}
	executortest.WaitForEntry(t, srv.Requests, "DELETE", path, 499)
	time.Sleep(100 * time.Millisecond) // a copy would be logged by now
	if n := len(entriesTo(srv, "DELETE", path)); n != 1 {
		t.Errorf("cancels sent: got %d, want 1", n)
	}
}

// TestHedgeNeedsSparePool: a hedge is charged to the request's pool and
// is not sent when the pool has no spare weight now.
func TestHedgeNeedsSparePool(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := newTestPacer(clk, func(context.Context, time.Duration) error { return errors.New("never waits") })
	limit := defaultPoolLimit[poolSpot]
	// A hedge of 40 must leave the reserve and a quarter of the pool
	// free: 1120 before the first fits; the second finds 1080.
	if _, err := p.wait(t.Context(), poolSpot, limit-reserve(limit)-limit/4-40, false); err != nil {
		t.Fatal(err)
	}
	r1, ok := p.spare(poolSpot, 40)
	if !ok {
		t.Fatal("first hedge: got no budget, want room for it")
	}
	p.release(r1)
	if _, ok := p.spare(poolSpot, 40); ok {
		t.Error("second hedge: got budget, want none (it would leave less than a quarter of the pool)")
	}
	if _, err := p.wait(t.Context(), poolSpot, 40, false); err != nil {
		t.Errorf("a plain request of 40: got %v, want it to fit (the reserve is kept for it)", err)
	}
}
