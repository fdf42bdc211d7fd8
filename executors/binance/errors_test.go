package binance

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

// TestErrorClasses drives real requests through the executor's clients and
// checks that each venue answer lands in the right executor class, for a
// read and for a mutation.
func TestErrorClasses(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		body       string
		retryAfter string
		read, mut  error
		code       string
		wantRA     time.Duration
	}{
		{"revoked key", 401, `{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}`, "", executors.ErrAuth, executors.ErrAuth, "-2015", 0},
		{"deleted key on /sapi", 400, `{"code":-2008,"msg":"Invalid Api-Key ID."}`, "", executors.ErrAuth, executors.ErrAuth, "-2008", 0},
		{"disconnected", 500, `{"code":-1001,"msg":"Internal error; unable to process your request. Please try again."}`, "", executors.ErrTransient, executors.ErrUnknownOutcome, "-1001", 0},
		{"bad key format", 401, `{"code":-2014,"msg":"API-key format invalid."}`, "", executors.ErrAuth, executors.ErrAuth, "-2014", 0},
		{"bad signature", 400, `{"code":-1022,"msg":"Signature for this request is not valid."}`, "", executors.ErrAuth, executors.ErrAuth, "-1022", 0},
		{"unauthorized", 401, `{"code":-1002,"msg":"You are not authorized to execute this request."}`, "", executors.ErrAuth, executors.ErrAuth, "-1002", 0},
		{"429", 429, `{"code":-1003,"msg":"Too many requests."}`, "7", executors.ErrRateLimited, executors.ErrRateLimited, "-1003", 7 * time.Second},
		{"418 ban", 418, `{"code":-1003,"msg":"Way too many requests; IP banned until 1700000000000."}`, "120", executors.ErrRateLimited, executors.ErrRateLimited, "-1003", 120 * time.Second},
		{"too many orders", 429, `{"code":-1015,"msg":"Too many new orders."}`, "", executors.ErrRateLimited, executors.ErrRateLimited, "-1015", 0},
		{"503 html", 503, `<html>Service Unavailable</html>`, "", executors.ErrTransient, executors.ErrUnknownOutcome, "", 0},
		{"500 unknown status", 500, `{"code":-1006,"msg":"An unexpected response was received from the message bus. Execution status unknown."}`, "", executors.ErrTransient, executors.ErrUnknownOutcome, "-1006", 0},
		{"timeout code", 400, `{"code":-1007,"msg":"Timeout waiting for response from backend server."}`, "", executors.ErrTransient, executors.ErrUnknownOutcome, "-1007", 0},
		{"bad param", 400, `{"code":-1102,"msg":"Mandatory parameter 'symbol' was not sent."}`, "", executors.ErrRejected, executors.ErrRejected, "-1102", 0},
		{"bad symbol", 400, `{"code":-1121,"msg":"Invalid symbol."}`, "", executors.ErrRejected, executors.ErrRejected, "-1121", 0},
		// A WAF page is not a clean refusal: nothing about the account can
		// be concluded from it (a listing must not read it as "absent").
		{"waf 403", 403, `<html>Forbidden</html>`, "", executors.ErrTransient, executors.ErrUnknownOutcome, "", 0},
		{"html 404", 404, `<html>Not Found</html>`, "", executors.ErrTransient, executors.ErrUnknownOutcome, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStub(t)
			answer := func(w http.ResponseWriter, r *http.Request) {
				if c.retryAfter != "" {
					w.Header().Set("Retry-After", c.retryAfter)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(c.status)
				_, _ = w.Write([]byte(c.body))
			}
			s.handle("GET /api/v3/account", answer)
			s.handle("DELETE /fapi/v1/allOpenOrders", answer)
			e := s.executor(t)
			ctx := context.Background()
			read := e.call(ctx, "read spot account", false, func(ctx context.Context) error {
				_, err := e.spot.NewGetAccountService().Do(ctx)
				return err
			})
			e2 := s.executor(t) // fresh pacer: a 429 must not delay the next case
			mut := e2.cancelSymbol(ctx, cancelGroup{product: executors.ProductUSDM, symbol: "BTCUSDT"})
			for _, x := range []struct {
				name string
				err  error
				want error
			}{{"read", read, c.read}, {"mutation", mut, c.mut}} {
				var ee *executors.Error
				if !errors.As(x.err, &ee) {
					t.Fatalf("%s: got %T %v, want *executors.Error", x.name, x.err, x.err)
				}
				if !errors.Is(x.err, x.want) {
					t.Errorf("%s: got class %s (%v), want %s", x.name, executors.ClassOf(x.err), x.err, x.want)
				}
				if ee.Code != c.code {
					t.Errorf("%s: code got %q, want %q", x.name, ee.Code, c.code)
				}
				if ee.HTTPStatus != c.status {
					t.Errorf("%s: http status got %d, want %d", x.name, ee.HTTPStatus, c.status)
				}
				if ra, _ := executors.RetryAfter(x.err); ra != c.wantRA {
					t.Errorf("%s: retry-after got %s, want %s", x.name, ra, c.wantRA)
				}
			}
		})
	}
}

// TestNetworkErrorClass: no response at all is transient for a read and an
// unknown outcome for a mutation.
func TestNetworkErrorClass(t *testing.T) {
	s := newStub(t)
	e := s.executor(t)
	s.srv.Close() // nothing listens any more
	ctx := context.Background()
	read := e.call(ctx, "read", false, func(ctx context.Context) error {
		_, err := e.spot.NewGetAccountService().Do(ctx)
		return err
	})
	if !errors.Is(read, executors.ErrTransient) {
		t.Errorf("read: got %v (%s), want transient", read, executors.ClassOf(read))
	}
	mut := e.cancelSymbol(ctx, cancelGroup{product: executors.ProductSpot, symbol: "BTCUSDT"})
	if !errors.Is(mut, executors.ErrUnknownOutcome) {
		t.Errorf("mutation: got %v (%s), want unknown-outcome", mut, executors.ClassOf(mut))
	}
}

// TestTimestampResync: -1021 triggers one server-time resync and one retry.
func TestTimestampResync(t *testing.T) {
	s := newStub(t)
	n := 0
	s.handle("GET /api/v3/account", func(w http.ResponseWriter, r *http.Request) {
		n++
		if n == 1 {
			writeJSON(w, 400, map[string]any{"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."})
			return
		}
		writeJSON(w, 200, map[string]any{"balances": []any{}})
	})
	e := s.executor(t)
	err := e.call(context.Background(), "read", false, func(ctx context.Context) error {
		_, err := e.spot.NewGetAccountService().Do(ctx)
		return err
	})
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if got := len(s.requests("GET", "/api/v3/account")); got != 2 {
		t.Errorf("account requests: got %d, want 2 (one retry)", got)
	}
	if got := len(s.requests("GET", "/api/v3/time")); got != 1 {
		t.Errorf("time syncs: got %d, want 1", got)
	}
	// A second -1021 in a row is not retried again.
	n = 0
	s.handle("GET /api/v3/account", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 400, map[string]any{"code": -1021, "msg": "Timestamp for this request was 1000ms ahead of the server's time."})
	})
	err = e.call(context.Background(), "read", false, func(ctx context.Context) error {
		_, err := e.spot.NewGetAccountService().Do(ctx)
		return err
	})
	if !errors.Is(err, executors.ErrTransient) {
		t.Errorf("persistent -1021: got %v, want transient", err)
	}
	if got := len(s.requests("GET", "/api/v3/account")); got != 4 {
		t.Errorf("account requests: got %d, want 4", got)
	}
}
