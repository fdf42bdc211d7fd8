package binance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/executors/internal/hedge"
	"github.com/panicbutton/panicbutton/internal/emulator"
)

// setRequestTimeout sets the per-request timeout of every client of e.
func setRequestTimeout(e *Executor, d time.Duration) {
	for _, hc := range e.https {
		hc.Transport.(*observingTransport).timeout = d
	}
}

func readAccount(ctx context.Context, e *Executor) error {
	return e.call(ctx, "read spot account", false, func(ctx context.Context) error {
		_, err := e.spot.NewGetAccountService().Do(ctx)
		return err
	})
}

// TestHungReadIsHedged: a read the venue leaves hanging is answered by its
// hedge, signed afresh, in about the hedge delay instead of the
// per-request timeout; the hung copy is cancelled at once.
func TestHungReadIsHedged(t *testing.T) {
	r, e := newConfExecutor(t)
	const timeout = 4 * time.Second
	setRequestTimeout(e, timeout)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for range 3 { // round trips for the delay: on loopback, its floor
		if err := readAccount(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	spot := e.https[famSpot].Transport.(*observingTransport)
	if d := spot.hedges.Delay(timeout); d != hedge.Min {
		t.Fatalf("hedge delay after 3 loopback reads: got %s, want %s", d, hedge.Min)
	}
	r.srv.SetFaults(emulator.Faults{Hang: &emulator.HangFault{Venue: "binance", Method: "GET", Path: "/api/v3/account", Count: 1}})
	goroutines := runtime.NumGoroutine()
	start := time.Now()
	if err := readAccount(ctx, e); err != nil {
		t.Fatalf("hedged read: %v", err)
	}
	took := time.Since(start)
	if took < hedge.Min || took > timeout/2 {
		t.Errorf("took %s, want about the hedge delay %s (the per-request timeout is %s)", took, hedge.Min, timeout)
	}
	hung := executortest.WaitForEntry(t, r.srv.Requests, "GET", "/api/v3/account", 499)
	if hung.Duration > timeout/2 {
		t.Errorf("the hung copy was held %s, want it cancelled when the hedge answered", hung.Duration)
	}
	ok := 0
	for _, x := range requestsTo(r, "GET", "/api/v3/account") {
		if x.Status == http.StatusOK {
			ok++
		}
	}
	if ok != 4 {
		t.Errorf("account reads answered 200: got %d, want 4 (3 before the fault, then the hedge)", ok)
	}
	if s, w, k := e.Hedges(); s != 1 || w != 1 || k != 0 {
		t.Errorf("Hedges: got sent %d won %d skipped %d, want 1 1 0", s, w, k)
	}
	executortest.SettleGoroutines(t, goroutines+1)
}

// TestMutationIsNeverHedged: a cancel the venue leaves hanging is sent
// once and abandoned after the per-request timeout, never copied.
func TestMutationIsNeverHedged(t *testing.T) {
	r, e := newConfExecutor(t)
	const timeout = 900 * time.Millisecond
	setRequestTimeout(e, timeout)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for range 3 {
		if err := readAccount(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	r.srv.SetFaults(emulator.Faults{Hang: &emulator.HangFault{Venue: "binance", Method: "DELETE", Path: "/api/v3/openOrders", Count: 1}})
	start := time.Now()
	err := e.call(ctx, "cancel spot orders", true, func(ctx context.Context) error {
		_, err := e.spot.NewCancelOpenOrdersService().Symbol("BTCUSDT").Do(ctx)
		return err
	})
	took := time.Since(start)
	if !errors.Is(err, executors.ErrUnknownOutcome) {
		t.Errorf("got %v, want ErrUnknownOutcome (the cancel hung)", err)
	}
	if took < timeout {
		t.Errorf("took %s, want the per-request timeout %s (no copy may answer sooner)", took, timeout)
	}
	executortest.WaitForEntry(t, r.srv.Requests, "DELETE", "/api/v3/openOrders", 499)
	time.Sleep(100 * time.Millisecond) // a copy would be logged by now
	if n := len(requestsTo(r, "DELETE", "/api/v3/openOrders")); n != 1 {
		t.Errorf("cancels sent: got %d, want 1", n)
	}
	if s, _, k := e.Hedges(); s != 0 || k != 0 {
		t.Errorf("Hedges: got sent %d skipped %d, want 0 0", s, k)
	}
}

// slowBase answers the n-th request (from 1) after delays[n-1], or when
// its context ends.
type slowBase struct {
	delays []time.Duration
	n      atomic.Int32
}

func (b *slowBase) RoundTrip(req *http.Request) (*http.Response, error) {
	n := int(b.n.Add(1))
	d := time.Duration(0)
	if n <= len(b.delays) {
		d = b.delays[n-1]
	}
	select {
	case <-time.After(d):
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{}`)), Request: req}, nil
}

// hedgeHosts numbers the hosts TestHedgeNeedsSpareBudget makes up.
var hedgeHosts atomic.Int64

// TestHedgeNeedsSpareBudget: a hedge is charged to the request's bucket
// like any request, and it is not sent (nor waited for) when the bucket
// has no spare weight now.
func TestHedgeNeedsSpareBudget(t *testing.T) {
	// The api bucket scaled to 100 a minute, 10 kept in reserve; an account
	// read weighs 20. A hedge needs the reserve and a quarter of the limit
	// (25) left after it: 75 free before the read.
	now := time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC)
	tests := []struct {
		name        string
		used        int // weight already charged in the window
		wantSent    int32
		wantHedged  int
		wantSkipped int
		maxTook     time.Duration
	}{
		{"plenty of budget: hedged", 0, 2, 1, 0, 450 * time.Millisecond},
		{"spare budget: hedged", 25, 2, 1, 0, 450 * time.Millisecond},
		{"no spare budget: waits for the first", 30, 1, 0, 1, 2 * time.Second},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A host of its own: IP budgets are process-wide per host, and
			// a repeated run (-count) must not find the last one's charges.
			host := fmt.Sprintf("hedge-budget-%d-%d.invalid", i, hedgeHosts.Add(1))
			p := newPacer(func() time.Time { return now }, func(ctx context.Context, d time.Duration) error {
				return errors.New("the test's pacer never waits")
			})
			p.scale = 100.0 / limitAPI
			if tt.used > 0 {
				if _, err := p.wait(t.Context(), cost{bucket: "api", ip: true, host: host, limit: limitAPI, window: time.Minute, weight: tt.used}); err != nil {
					t.Fatal(err)
				}
			}
			base := &slowBase{delays: []time.Duration{700 * time.Millisecond, 0}}
			var signs atomic.Int32
			tr := &observingTransport{base: base, pacer: p, timeout: 5 * time.Second, sign: func(r *http.Request) (*http.Request, error) {
				signs.Add(1)
				return r, nil
			}}
			for range 3 {
				tr.hedges.Observe(time.Millisecond) // delay: the 250 ms floor
			}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+host+"/api/v3/account?timestamp=1&signature=x", nil)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			took := time.Since(start)
			if n := base.n.Load(); n != tt.wantSent {
				t.Errorf("requests sent: got %d, want %d", n, tt.wantSent)
			}
			if n := signs.Load(); n != tt.wantSent {
				t.Errorf("signatures: got %d, want %d (each copy signed when sent)", n, tt.wantSent)
			}
			if s, _, k := tr.hedges.Stats(); s != tt.wantHedged || k != tt.wantSkipped {
				t.Errorf("stats: got sent %d skipped %d, want %d %d", s, k, tt.wantHedged, tt.wantSkipped)
			}
			if took > tt.maxTook {
				t.Errorf("took %s, want at most %s", took, tt.maxTook)
			}
		})
	}
}

// TestHedgeable: only reads are hedged, and not the server-time read (a
// copy sent later would skew the offset it measures).
func TestHedgeable(t *testing.T) {
	tests := []struct {
		method, path string
		want         bool
	}{
		{http.MethodGet, "/api/v3/account", true},
		{http.MethodGet, "/fapi/v1/openOrders", true},
		{http.MethodGet, "/api/v3/time", false},
		{http.MethodGet, "/fapi/v1/time", false},
		{http.MethodDelete, "/api/v3/openOrders", false},
		{http.MethodPost, "/api/v3/order", false},
		{http.MethodPut, "/api/v3/userDataStream", false},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req := &http.Request{Method: tt.method, URL: &url.URL{Path: tt.path}}
			if got := hedgeable(req, tt.path); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
