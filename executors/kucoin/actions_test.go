package kucoin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// asyncBook is an HF book whose cancels take effect only after a number of
// further lists (KuCoin cancels are asynchronous requests).
type asyncBook struct {
	mu         sync.Mutex
	orders     map[string][]string // symbol → order ids
	pending    map[string]int      // symbol → lists left before the cancel lands
	lag        int                 // lists a cancel takes; <0: never lands
	cancelReqs int
}

func (b *asyncBook) install(f *fakeVenue) {
	emptyPage := func(seen) (int, any) {
		return ok(map[string]any{"currentPage": 1, "pageSize": 500, "totalNum": 0, "totalPage": 0, "items": []any{}})
	}
	for _, r := range []string{"GET /api/v1/orders", "GET /api/v1/stop-order", "GET /api/v3/oco/orders", "F GET /api/v1/orders", "F GET /api/v1/stopOrders"} {
		f.handle(r, emptyPage)
	}
	f.handle("GET /api/v3/hf/margin/order/active/symbols", func(seen) (int, any) { return ok(map[string]any{"symbols": []string{}}) })
	f.handle("GET /api/v1/hf/orders/active/symbols", func(seen) (int, any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		var syms []string
		for s, ids := range b.orders {
			if len(ids) > 0 {
				syms = append(syms, s)
			}
		}
		return ok(map[string]any{"symbols": syms})
	})
	f.handle("GET /api/v1/hf/orders/active", func(r seen) (int, any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		sym := r.Query.Get("symbol")
		if n, ok := b.pending[sym]; ok && b.lag >= 0 {
			if n <= 0 {
				delete(b.orders, sym)
				delete(b.pending, sym)
			} else {
				b.pending[sym] = n - 1
			}
		}
		var items []any
		for _, id := range b.orders[sym] {
			items = append(items, map[string]any{"id": id, "symbol": sym, "side": "buy", "type": "limit", "price": "1", "size": "2"})
		}
		return ok(items)
	})
	f.handle("DELETE /api/v1/hf/orders", func(r seen) (int, any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.cancelReqs++
		b.pending[r.Query.Get("symbol")] = b.lag
		return ok("success")
	})
}

func TestCancelAllConfirmsAsyncCancelsByRelisting(t *testing.T) {
	tests := []struct {
		name          string
		lag           int
		wantStatus    executors.Status
		wantRemaining int
	}{
		{"lands after two lists", 2, executors.StatusChanged, 0},
		{"never lands", -1, executors.StatusFailed, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeVenue(t, 2)
			b := &asyncBook{orders: map[string][]string{"BTC-USDT": {"o1", "o2"}, "ETH-USDT": {"o3"}}, pending: map[string]int{}, lag: tc.lag}
			b.install(f)
			sl := &sleeps{}
			x := f.executor(t, executors.Env{Sleep: sl.sleep})
			hooks := &executortest.RecordingHooks{}
			res, err := x.Do(t.Context(), req(executors.OrdersCancelAll, executors.Params{"products": []string{"spot"}, "confirm_timeout": 200 * time.Millisecond}, hooks))
			if res.Status != tc.wantStatus {
				t.Errorf("status: got %q (%s), want %q", res.Status, res.Summary, tc.wantStatus)
			}
			if len(res.Remaining) != tc.wantRemaining {
				t.Errorf("remaining: got %d, want %d", len(res.Remaining), tc.wantRemaining)
			}
			if tc.wantRemaining > 0 && !errors.Is(err, executors.ErrTransient) {
				t.Errorf("error with survivors: got %v, want ErrTransient (retryable)", err)
			}
			if tc.wantRemaining == 0 && err != nil {
				t.Errorf("error: %v", err)
			}
			if b.cancelReqs != 2 {
				t.Errorf("cancel requests: got %d, want 2 (one per symbol, not repeated)", b.cancelReqs)
			}
			ids := map[string]bool{}
			for _, m := range hooks.Intents() {
				target, _, _ := strings.Cut(m.ID, "@") // the rest is the order-set digest
				ids[target] = true
			}
			if !ids["cancel:hf:BTC-USDT"] || !ids["cancel:hf:ETH-USDT"] || len(ids) != 2 {
				t.Errorf("intent targets: got %v, want cancel:hf:BTC-USDT and cancel:hf:ETH-USDT", ids)
			}
			if err := hooks.Check(); err != nil {
				t.Error(err)
			}
			if len(sl.all()) == 0 {
				t.Error("no wait between re-lists, want the executor to re-list after pausing")
			}
		})
	}
}

// The executor's own-key probe records which rejection KuCoin gave.
func TestVerifyRejectedRecordsCode(t *testing.T) {
	for _, code := range []string{"400003", "400006", "400007"} {
		t.Run(code, func(t *testing.T) {
			f := newFakeVenue(t, 2)
			n := 0
			f.handle("GET /api/v1/hf/orders/active/symbols", func(seen) (int, any) {
				n++
				if n < 3 {
					return ok([]any{})
				}
				return fail(http.StatusUnauthorized, code, "rejected")
			})
			sl := &sleeps{}
			x := f.executor(t, executors.Env{Sleep: sl.sleep})
			res, err := x.Do(t.Context(), req(executors.KeysVerifyRejected, executors.Params{"interval": time.Millisecond, "deadline": time.Minute}, nil))
			if err != nil || res.Status != executors.StatusOK {
				t.Fatalf("verify: got %q %v, want ok", res.Status, err)
			}
			rj, _ := res.Data.(rejection)
			if rj.Code != code || rj.Reason != rejectReasons[code] || rj.Probes != 3 {
				t.Errorf("rejection: got %+v, want code %s reason %s after 3 probes", rj, code, rejectReasons[code])
			}
		})
	}
}

// A withdrawal cancel refused for lack of the Withdrawal permission
// becomes a manual step (and the rest are not attempted).
func TestCancelWithdrawalWithoutPermissionIsManual(t *testing.T) {
	f := newFakeVenue(t, 2)
	f.handle("GET /api/v1/accounts", func(seen) (int, any) { return ok([]any{}) })
	all := []map[string]any{
		{"id": "w1", "currency": "USDT", "amount": "100", "address": "TXa", "status": "PROCESSING"},
		{"id": "w2", "currency": "BTC", "amount": "1", "address": "bc1", "status": "PROCESSING"},
		{"id": "w3", "currency": "ETH", "amount": "2", "address": "0xa", "status": "REVIEW"},
	}
	f.handle("GET /api/v1/withdrawals", func(r seen) (int, any) {
		items := []any{}
		for _, w := range all {
			if w["currency"] == r.Query.Get("currency") {
				items = append(items, w)
			}
		}
		return ok(map[string]any{"totalPage": 1, "items": items})
	})
	for _, id := range []string{"w1", "w2"} {
		f.handle("DELETE /api/v1/withdrawals/"+id, func(seen) (int, any) { return fail(http.StatusForbidden, "400007", "Access denied") })
	}
	x := f.executor(t, executors.Env{})
	hooks := &executortest.RecordingHooks{}
	res, err := x.Do(t.Context(), req(executors.WithdrawalsCancelPending, nil, hooks))
	if err != nil {
		t.Fatalf("cancel_pending: %v", err)
	}
	if res.Status != executors.StatusPending {
		t.Errorf("status: got %q (%s), want %q", res.Status, res.Summary, executors.StatusPending)
	}
	if len(res.Manual) != 3 {
		t.Errorf("manual steps: got %d, want 3 (w3 not cancellable, the first refused, the second not attempted)", len(res.Manual))
	}
	if got := f.count(http.MethodDelete, "/api/v1/withdrawals/w1") + f.count(http.MethodDelete, "/api/v1/withdrawals/w2"); got != 1 {
		t.Errorf("cancel requests: got %d, want 1 (none once the permission is known missing)", got)
	}
	if n := len(hooks.Intents()); n != 1 {
		t.Errorf("intents: got %d, want 1", n)
	}
	for _, m := range res.Manual {
		if !strings.Contains(m.Instructions, "Withdrawals") {
			t.Errorf("manual step %q lacks the UI path", m.Instructions)
		}
	}
}

// A sub key without a passphrase in the accounts file: said so per key, a
// manual step, and its sub-account swept to the master when opted in.
func TestRevokeWithoutPassphraseFallsBack(t *testing.T) {
	const known, unknown = "6650subkey00000000000010", "6650subkey00000000000011"
	f := newFakeVenue(t, 2)
	f.handle("GET /api/v1/user/api-key", func(seen) (int, any) { return ok(map[string]any{"apiKey": testKey, "isMaster": true}) })
	f.handle("GET /api/v2/sub/user", func(seen) (int, any) {
		return ok(map[string]any{"totalPage": 1, "items": []any{
			map[string]any{"userId": "u1", "subName": "bot1"}, map[string]any{"userId": "u2", "subName": "bot2"}}})
	})
	deleted := false
	f.handle("GET /api/v1/sub/api-key", func(r seen) (int, any) {
		if r.Query.Get("subName") == "bot1" {
			if deleted {
				return ok([]any{})
			}
			return ok([]any{map[string]any{"subName": "bot1", "apiKey": known, "permission": "General,Spot"}})
		}
		return ok([]any{map[string]any{"subName": "bot2", "apiKey": unknown, "permission": "General,Spot"}})
	})
	f.handle("GET /api/v2/sub-accounts", func(seen) (int, any) {
		return ok(map[string]any{"totalPage": 1, "items": []any{
			map[string]any{"subUserId": "u2", "subName": "bot2",
				"mainAccounts":  []any{map[string]any{"currency": "USDT", "balance": "50", "available": "50", "holds": "0"}},
				"tradeAccounts": []any{map[string]any{"currency": "BTC", "balance": "0.5", "available": "0.4", "holds": "0.1"}}},
		}})
	})
	f.handle("DELETE /api/v1/sub/api-key", func(seen) (int, any) { deleted = true; return ok(map[string]any{}) })
	var transfers []map[string]any
	f.handle("POST /api/v3/accounts/universal-transfer", func(r seen) (int, any) {
		transfers = append(transfers, mustJSON(t, r.Body))
		return ok(map[string]any{"orderId": "t1"})
	})
	x := f.executor(t, executors.Env{}, executors.SubKey{Sub: "bot1", APIKey: known, Passphrase: secret.New("bot1pass")})

	plan, err := x.Plan(t.Context(), req(executors.KeysRevoke, executors.Params{"sweep_if_no_passphrase": true}, nil))
	if err != nil || plan.Status != executors.StatusWouldChange || len(plan.Changes) != 3 {
		t.Fatalf("plan: got %q %d changes %v, want would-change with 1 delete and 2 transfers", plan.Status, len(plan.Changes), err)
	}
	res, err := x.Do(t.Context(), req(executors.KeysRevoke, executors.Params{"sweep_if_no_passphrase": true}, nil))
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if res.Status != executors.StatusPending {
		t.Errorf("status: got %q (%s), want %q (a key still needs a human)", res.Status, res.Summary, executors.StatusPending)
	}
	if len(res.Manual) != 1 || !strings.Contains(res.Manual[0].Instructions, secret.Mask(unknown)) || !strings.Contains(res.Manual[0].Instructions, "bot2") {
		t.Errorf("manual: got %+v, want one step naming bot2 and key %s", res.Manual, secret.Mask(unknown))
	}
	found := false
	for _, fd := range res.Findings {
		found = found || (strings.Contains(fd.Subject, secret.Mask(unknown)) && strings.Contains(fd.Message, "passphrase"))
	}
	if !found {
		t.Errorf("findings %+v: want one saying key %s has no passphrase", res.Findings, secret.Mask(unknown))
	}
	if len(transfers) != 2 {
		t.Fatalf("transfers: got %d, want 2 (USDT from main, BTC from trade)", len(transfers))
	}
	for _, tr := range transfers {
		if tr["type"] != "SUB_TO_PARENT" || tr["fromUserId"] != "u2" || tr["toAccountType"] != "MAIN" {
			t.Errorf("transfer %v: want SUB_TO_PARENT from u2 to MAIN", tr)
		}
	}
	if transfers[1]["amount"] != "0.4" {
		t.Errorf("trade transfer amount: got %v, want the available 0.4", transfers[1]["amount"])
	}
	if got := f.count(http.MethodDelete, "/api/v1/sub/api-key"); got != 1 {
		t.Errorf("deletes: got %d, want 1 (only the key with a passphrase)", got)
	}
}

// A withdrawal cancel whose outcome is unknown (5xx) is settled by a
// re-list and sent again while the withdrawal is still processing, in
// rounds within the step's deadline (FORMAT.md "Persistence"), not left
// to the step's retries. One the venue went on processing instead was
// not cancelled: a manual step, never counted as cancelled.
func TestCancelWithdrawalPersistsThroughUnknownOutcomes(t *testing.T) {
	for _, c := range []struct {
		name    string
		movesOn bool // after the first 503, the venue moves it to WALLET_PROCESSING
		// after the first 503, the venue answers 400007 (the key lacks the
		// Withdrawal permission): a manual step, not a failure
		noPermission bool
		deletes      int
		status       executors.Status
		cancelled    int
	}{
		{name: "503 twice, then cancelled", deletes: 3, status: executors.StatusChanged, cancelled: 1},
		{name: "503, then the venue went on processing it", movesOn: true, deletes: 1, status: executors.StatusFailed},
		// The demo fund's key: without the Withdrawal permission, after a
		// 503 that came before the venue looked at the key.
		{name: "503, then no permission", noPermission: true, deletes: 2, status: executors.StatusPending},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeVenue(t, 2)
			f.handle("GET /api/v1/accounts", func(seen) (int, any) { return ok([]any{}) })
			var mu sync.Mutex
			st, deletes := "PROCESSING", 0
			f.handle("GET /api/v1/withdrawals", func(r seen) (int, any) {
				mu.Lock()
				defer mu.Unlock()
				items := []any{}
				if r.Query.Get("currency") == "USDT" {
					items = append(items, map[string]any{"id": "w1", "currency": "USDT", "amount": "100", "address": "TXa", "status": st})
				}
				return ok(map[string]any{"totalPage": 1, "items": items})
			})
			f.handle("DELETE /api/v1/withdrawals/w1", func(seen) (int, any) {
				mu.Lock()
				defer mu.Unlock()
				deletes++
				switch {
				case c.noPermission && deletes > 1:
					return fail(http.StatusForbidden, "400007", "Access denied")
				case c.movesOn:
					st = "WALLET_PROCESSING"
					return fail(http.StatusServiceUnavailable, "503000", "Service unavailable")
				case c.noPermission, deletes <= 2:
					return fail(http.StatusServiceUnavailable, "503000", "Service unavailable")
				}
				st = "FAILURE"
				return ok(nil)
			})
			x := f.executor(t, executors.Env{})
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			hooks := &executortest.RecordingHooks{}
			res, _ := x.Do(ctx, req(executors.WithdrawalsCancelPending, nil, hooks))
			if err := hooks.Check(); err != nil {
				t.Error(err)
			}
			if n := len(hooks.Intents()); n != c.deletes {
				t.Errorf("intents: got %d, want one per cancel sent (%d)", n, c.deletes)
			}
			if res.Status != c.status || len(res.Changes) != c.cancelled {
				t.Errorf("got %s %q with %d cancelled, want %s with %d", res.Status, res.Summary, len(res.Changes), c.status, c.cancelled)
			}
			if got := f.count(http.MethodDelete, "/api/v1/withdrawals/w1"); got != c.deletes {
				t.Errorf("cancel requests: got %d, want %d", got, c.deletes)
			}
			if c.noPermission && (len(res.Manual) != 1 || !strings.Contains(res.Manual[0].Instructions, "400007")) {
				t.Errorf("manual steps: got %+v, want one naming the missing permission", res.Manual)
			}
			if c.movesOn && (len(res.Manual) != 1 || !strings.Contains(res.Manual[0].Instructions, "not cancelled")) {
				t.Errorf("manual steps: got %+v, want one saying it was not cancelled", res.Manual)
			}
		})
	}
}
