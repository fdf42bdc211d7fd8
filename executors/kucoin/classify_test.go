package kucoin

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

// Every KuCoin failure maps onto one error class; reads and mutations
// differ only where the outcome is ambiguous.
func TestErrorClassification(t *testing.T) {
	tests := []struct {
		name         string
		status       int
		body         any // envelope, or []byte for a raw body
		wantRead     error
		wantMutation error
		wantCode     string
	}{
		{"missing header", 401, env("400001", "Please check the header"), executors.ErrAuth, executors.ErrAuth, "400001"},
		{"timestamp", 401, env("400002", "KC-API-TIMESTAMP Invalid"), executors.ErrAuth, executors.ErrAuth, "400002"},
		{"unknown key", 401, env("400003", "KC-API-KEY not exists"), executors.ErrAuth, executors.ErrAuth, "400003"},
		{"passphrase", 401, env("400004", "Invalid KC-API-PASSPHRASE"), executors.ErrAuth, executors.ErrAuth, "400004"},
		{"signature", 401, env("400005", "Invalid KC-API-SIGN"), executors.ErrAuth, executors.ErrAuth, "400005"},
		{"ip", 403, env("400006", "invalid ip"), executors.ErrAuth, executors.ErrAuth, "400006"},
		{"permission", 403, env("400007", "Access Denied"), executors.ErrAuth, executors.ErrAuth, "400007"},
		{"rate limit", 429, env("429000", "Too Many Requests"), executors.ErrRateLimited, executors.ErrRateLimited, "429000"},
		{"parameter error with HTTP 200", 200, env("400100", "account.available.amount"), executors.ErrRejected, executors.ErrRejected, "400100"},
		{"business code", 200, env("200004", "Balance insufficient"), executors.ErrRejected, executors.ErrRejected, "200004"},
		{"server error", 500, env("500000", "Internal Server Error"), executors.ErrTransient, executors.ErrUnknownOutcome, "500000"},
		{"gateway html", 502, []byte("<html>bad gateway</html>"), executors.ErrTransient, executors.ErrUnknownOutcome, ""},
		{"cloudflare 1015", 429, []byte("<html>error 1015</html>"), executors.ErrRateLimited, executors.ErrRateLimited, ""},
		{"forbidden html", 403, []byte("<html>forbidden</html>"), executors.ErrRejected, executors.ErrRejected, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeVenue(t, 2)
			f.handle("GET /api/v1/accounts", func(seen) (int, any) { return tc.status, tc.body })
			x := f.executor(t, executors.Env{})
			for _, mutation := range []bool{false, true} {
				want := tc.wantRead
				if mutation {
					want = tc.wantMutation
				}
				err := x.call(t.Context(), x.spot, "op", mutation, http.MethodGet, "/api/v1/accounts", nil, nil)
				if !errors.Is(err, want) {
					t.Errorf("mutation=%v: got %v, want class %v", mutation, err, want)
				}
				var e *executors.Error
				if !errors.As(err, &e) {
					t.Fatalf("error %v is %T, want *executors.Error", err, err)
				}
				if e.Code != tc.wantCode || e.HTTPStatus != tc.status {
					t.Errorf("code/status: got %q/%d, want %q/%d", e.Code, e.HTTPStatus, tc.wantCode, tc.status)
				}
			}
		})
	}
}

func env(code, msg string) map[string]any { return map[string]any{"code": code, "msg": msg} }

// Network failures: reads are transient, mutations of unknown outcome.
func TestNetworkErrorClass(t *testing.T) {
	f := newFakeVenue(t, 2)
	acct := f.account()
	f.srv.Close()
	x, err := New(acct, executors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.call(t.Context(), x.spot, "read", false, http.MethodGet, "/api/v1/accounts", nil, nil); !errors.Is(err, executors.ErrTransient) {
		t.Errorf("read: got %v, want ErrTransient", err)
	}
	if err := x.call(t.Context(), x.spot, "cancel", true, http.MethodDelete, "/api/v1/hf/orders", q("symbol", "BTC-USDT"), nil); !errors.Is(err, executors.ErrUnknownOutcome) {
		t.Errorf("mutation: got %v, want ErrUnknownOutcome", err)
	}
}

// A request that outlives its context is ambiguous, not rejected.
func TestTimeoutClass(t *testing.T) {
	f := newFakeVenue(t, 2)
	f.handle("GET /api/v1/accounts", func(seen) (int, any) { time.Sleep(300 * time.Millisecond); return ok([]any{}) })
	x := f.executor(t, executors.Env{})
	_ = x.call(t.Context(), x.spot, "warm up clock sync", false, http.MethodGet, "/api/v1/nothing", nil, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := x.call(ctx, x.spot, "read", false, http.MethodGet, "/api/v1/accounts", nil, nil); !errors.Is(err, executors.ErrTransient) {
		t.Errorf("timed-out read: got %v, want ErrTransient", err)
	}
}
