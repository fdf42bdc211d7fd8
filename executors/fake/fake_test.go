package fake_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/executors/fake"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// harness runs the conformance suite against the demo venue's Binance-like
// account.
type harness struct{ v *fake.Venue }

func (h *harness) New(t *testing.T) (executors.Executor, executors.Account) {
	t.Helper()
	h.v = fake.DemoVenue()
	acct := fake.DemoAccounts()[0]
	e, err := fake.DriverFor(h.v).New(acct, executors.Env{}.Defaults())
	if err != nil {
		t.Fatalf("new executor: %v", err)
	}
	return e, acct
}

func (h *harness) OpenOrders(*testing.T) int   { return len(h.v.OpenOrders(fake.DemoBinance)) }
func (h *harness) SubKeys(*testing.T) []string { return h.v.SubKeys(fake.DemoBinance) }
func (h *harness) Mutations(*testing.T) int    { return h.v.Mutations(fake.DemoBinance) }
func (h *harness) Capabilities() executortest.Caps {
	return executortest.Caps{
		Products:                 fake.Products,
		CancelPendingWithdrawals: true,
		RevokeMethods:            []string{"delete", "ip_lock", "strip_permissions"},
		DeadMan:                  true,
		ClosePositions:           true,
		Sweep:                    true,
	}
}

func TestConformance(t *testing.T) { executortest.Run(t, &harness{}) }

// clock is a fake Env clock: Sleep advances Now.
type clock struct {
	mu      sync.Mutex
	now     time.Time
	slept   time.Duration
	sleeps  int
	onSleep func(n int) // called after the n-th sleep
}

func newClock() *clock { return &clock{now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.slept += d
	c.sleeps++
	n, f := c.sleeps, c.onSleep
	c.mu.Unlock()
	if f != nil {
		f(n)
	}
	return nil
}

func (c *clock) env() executors.Env { return executors.Env{Now: c.Now, Sleep: c.Sleep}.Defaults() }

const (
	master = "MASTERkey00000000000000000000001"
	k1     = "SUBkey1arb0000000000000000000001" // s1, withdraw-enabled, no IPs: risky
	k2     = "SUBkey2mm00000000000000000000002" // s2, trade, IP-restricted
	k3     = "SUBkey3old0000000000000000000003" // s2, read-only, no IPs
)

// testVenue is a small venue with account "a".
func testVenue(t *testing.T, c *clock) (*fake.Venue, *fake.Executor) {
	t.Helper()
	v := fake.NewVenue()
	v.AddAccount("a", fake.Key{ID: master, Label: "main", Trade: true, IPs: []string{fake.DefaultClientIP}})
	v.AddSub("a", "s1", fake.Key{ID: k1, Label: "arb-bot", Trade: true, Withdraw: true})
	v.AddSub("a", "s2", fake.Key{ID: k2, Label: "mm", Trade: true, IPs: []string{fake.DefaultClientIP}},
		fake.Key{ID: k3, Label: "old"})
	v.AddOrders("a",
		executors.Order{Product: "spot", Symbol: "BTCUSDT", Kind: "limit", Side: "BUY", ID: "1"},
		executors.Order{Product: "spot", Symbol: "BTCUSDT", Kind: "stop", Side: "SELL", ID: "2"},
		executors.Order{Product: "spot", Symbol: "ETHUSDT", Kind: "limit", Side: "BUY", ID: "3"},
		executors.Order{Product: "usdm", Symbol: "BTCUSDT", Kind: "algo", Side: "SELL", ID: "4"},
	)
	acct := executors.Account{Name: "a", Exchange: fake.Exchange, APIKey: secret.New(master)}
	return v, fake.New(v, acct, c.env())
}

func req(action string, p executors.Params, h executors.Hooks) executors.Request {
	return executors.Request{Action: action, Params: executors.WithDefaults(action, p), Hooks: h}
}

func TestRevokeSelectors(t *testing.T) {
	tests := []struct {
		name       string
		params     executors.Params
		wantStatus executors.Status
		wantKeys   []string // full ids whose mask the changes must name, exactly
		wantManual int
	}{
		{"all subs", executors.Params{}, executors.StatusWouldChange, []string{k1, k2, k3}, 0},
		{"withdraw enabled", executors.Params{"select": "withdraw_enabled"}, executors.StatusWouldChange, []string{k1}, 0},
		{"risky", executors.Params{"select": "risky"}, executors.StatusWouldChange, []string{k1}, 0},
		{"key ids", executors.Params{"key_ids": []string{k2}}, executors.StatusWouldChange, []string{k2}, 0},
		{"match label case-insensitive", executors.Params{"match": "ARB"}, executors.StatusWouldChange, []string{k1}, 0},
		{"match sub name", executors.Params{"match": "s2"}, executors.StatusWouldChange, []string{k2, k3}, 0},
		{"match ip", executors.Params{"match": "203.0.113"}, executors.StatusWouldChange, []string{k2}, 0},
		{"no match", executors.Params{"match": "nothing-like-this"}, executors.StatusOK, nil, 0},
		{"strip skips read-only key", executors.Params{"method": "strip_permissions"}, executors.StatusWouldChange, []string{k1, k2}, 0},
		{"ip lock", executors.Params{"method": "ip_lock"}, executors.StatusWouldChange, []string{k1, k2, k3}, 0},
		{"ip lock already locked", executors.Params{"method": "ip_lock", "ip_whitelist": []string{fake.DefaultClientIP}, "key_ids": []string{k2}}, executors.StatusOK, nil, 0},
		{"master is manual", executors.Params{"scope": "master"}, executors.StatusPending, nil, 1},
		{"all scopes", executors.Params{"scope": "all"}, executors.StatusWouldChange, []string{k1, k2, k3}, 1},
		{"all scopes withdraw enabled", executors.Params{"scope": "all", "select": "withdraw_enabled"}, executors.StatusWouldChange, []string{k1}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, e := testVenue(t, newClock())
			res, err := e.Plan(t.Context(), req(executors.KeysRevoke, tc.params, nil))
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if res.Status != tc.wantStatus {
				t.Errorf("status: got %q (%s), want %q", res.Status, res.Summary, tc.wantStatus)
			}
			if len(res.Changes) != len(tc.wantKeys) {
				t.Errorf("changes: got %d %+v, want %d", len(res.Changes), res.Changes, len(tc.wantKeys))
			}
			for _, k := range tc.wantKeys {
				if !slices.ContainsFunc(res.Changes, func(c executors.Change) bool { return strings.Contains(c.Target, secret.Mask(k)) }) {
					t.Errorf("changes do not name %s", secret.Mask(k))
				}
			}
			if len(res.Manual) != tc.wantManual {
				t.Errorf("manual steps: got %d, want %d", len(res.Manual), tc.wantManual)
			}
			if n := v.Mutations("a"); n != 0 {
				t.Errorf("mutations: got %d, want 0", n)
			}
		})
	}
}

func TestRevokeDo(t *testing.T) {
	tests := []struct {
		method string
		check  func(t *testing.T, v *fake.Venue)
	}{
		{"delete", func(t *testing.T, v *fake.Venue) {
			for _, k := range []string{k1, k2, k3} {
				if _, _, ok := v.Key("a", k); ok {
					t.Errorf("key %s: still present, want deleted", secret.Mask(k))
				}
			}
		}},
		{"ip_lock", func(t *testing.T, v *fake.Venue) {
			for _, k := range []string{k1, k2, k3} {
				got, _, _ := v.Key("a", k)
				if !slices.Equal(got.IPs, []string{"192.0.2.1"}) {
					t.Errorf("key %s IPs: got %v, want [192.0.2.1]", secret.Mask(k), got.IPs)
				}
			}
			if got := v.SubKeys("a"); len(got) != 0 {
				t.Errorf("accepted sub keys after ip_lock: got %d, want 0", len(got))
			}
		}},
		{"strip_permissions", func(t *testing.T, v *fake.Venue) {
			for _, k := range []string{k1, k2, k3} {
				got, _, _ := v.Key("a", k)
				if got.Trade || got.Withdraw || got.Transfer {
					t.Errorf("key %s: got %+v, want no permissions", secret.Mask(k), got)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			v, e := testVenue(t, newClock())
			hooks := &executortest.RecordingHooks{}
			res, err := e.Do(t.Context(), req(executors.KeysRevoke, executors.Params{"method": tc.method}, hooks))
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if res.Status != executors.StatusChanged {
				t.Errorf("status: got %q (%s), want %q", res.Status, res.Summary, executors.StatusChanged)
			}
			if err := hooks.Check(); err != nil {
				t.Errorf("hooks: %v", err)
			}
			if got, want := v.Mutations("a"), len(hooks.Intents()); got != want {
				t.Errorf("mutations: got %d, want %d (one per intent)", got, want)
			}
			tc.check(t, v)
			if _, _, ok := v.Key("a", master); !ok {
				t.Error("master key gone, want it untouched")
			}
		})
	}
}

func TestRevokeMasterDoesNotMutate(t *testing.T) {
	v, e := testVenue(t, newClock())
	res, err := e.Do(t.Context(), req(executors.KeysRevoke, executors.Params{"scope": "all"}, nil))
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if res.Status != executors.StatusPending {
		t.Errorf("status: got %q, want %q", res.Status, executors.StatusPending)
	}
	if len(res.Manual) != 1 || !strings.Contains(res.Manual[0].Instructions, "API Management") || res.Manual[0].Verify != "key_rejected" {
		t.Errorf("manual: got %+v, want one API Management step verified by key_rejected", res.Manual)
	}
	if _, _, ok := v.Key("a", master); !ok {
		t.Error("master key deleted, want it untouched")
	}
	if got := len(v.SubKeys("a")); got != 0 {
		t.Errorf("sub keys: got %d accepted, want 0", got)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name      string
		action    string
		setup     func(v *fake.Venue)
		timeout   time.Duration
		wantClass error
		wantCtx   error
		wantRetry time.Duration
	}{
		{name: "transient mutation", action: executors.OrdersCancelAll, wantClass: executors.ErrTransient,
			setup: func(v *fake.Venue) {
				v.FailNext("a", executors.OrdersCancelAll, 1, &executors.Error{Class: executors.ErrTransient})
			}},
		{name: "plain error becomes transient", action: executors.OrdersList, wantClass: executors.ErrTransient,
			setup: func(v *fake.Venue) { v.FailNext("a", executors.OrdersList, 1, errors.New("connection reset")) }},
		{name: "rate limited read", action: executors.OrdersList, wantClass: executors.ErrRateLimited, wantRetry: 3 * time.Second,
			setup: func(v *fake.Venue) {
				v.FailNext("a", executors.OrdersList, 1, &executors.Error{Class: executors.ErrRateLimited, RetryAfter: 3 * time.Second, HTTPStatus: 429})
			}},
		{name: "hang read", action: executors.SnapshotBalances, timeout: 20 * time.Millisecond, wantClass: executors.ErrTransient, wantCtx: context.DeadlineExceeded,
			setup: func(v *fake.Venue) { v.Hang("a", executors.SnapshotBalances) }},
		{name: "deleted master key", action: executors.OrdersList, wantClass: executors.ErrAuth,
			setup: func(v *fake.Venue) { v.DeleteMasterKey("a") }},
		{name: "master key not whitelisted", action: executors.KeysInventory, wantClass: executors.ErrAuth,
			setup: func(v *fake.Venue) { v.SetClientIP("198.51.100.99") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, e := testVenue(t, newClock())
			tc.setup(v)
			before := len(v.OpenOrders("a"))
			ctx := t.Context()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			hooks := &executortest.RecordingHooks{}
			_, err := e.Do(ctx, req(tc.action, nil, hooks))
			if !errors.Is(err, tc.wantClass) {
				t.Fatalf("error: got %v, want class %v", err, tc.wantClass)
			}
			var xe *executors.Error
			if !errors.As(err, &xe) || xe.Op == "" {
				t.Errorf("error %v: want an *executors.Error naming its op", err)
			}
			if tc.wantCtx != nil && !errors.Is(err, tc.wantCtx) {
				t.Errorf("error: got %v, want it to wrap %v", err, tc.wantCtx)
			}
			if got, _ := executors.RetryAfter(err); got != tc.wantRetry {
				t.Errorf("retry after: got %s, want %s", got, tc.wantRetry)
			}
			if got := len(v.OpenOrders("a")); got != before {
				t.Errorf("open orders: got %d, want %d (untouched)", got, before)
			}
			if err := hooks.Check(); err != nil {
				t.Errorf("hooks: %v", err)
			}
			v.ClearFaults()
		})
	}
}

func TestFailNextThenConverges(t *testing.T) {
	v, e := testVenue(t, newClock())
	v.FailNext("a", executors.OrdersCancelAll, 2, &executors.Error{Class: executors.ErrUnknownOutcome, HTTPStatus: 503})
	for i := 1; i <= 2; i++ {
		hooks := &executortest.RecordingHooks{}
		res, err := e.Do(t.Context(), req(executors.OrdersCancelAll, nil, hooks))
		if !executors.Retryable(err) {
			t.Fatalf("attempt %d: got %v, want a retryable error", i, err)
		}
		if res.Status != executors.StatusFailed {
			t.Errorf("attempt %d status: got %q, want %q", i, res.Status, executors.StatusFailed)
		}
		outs := hooks.Records()
		if len(outs) != 2 || outs[1].Phase != executortest.PhaseOutcome || !errors.Is(outs[1].Err, executors.ErrUnknownOutcome) {
			t.Errorf("attempt %d hooks: got %+v, want an intent then a failed outcome", i, outs)
		}
	}
	if got := len(v.OpenOrders("a")); got != 4 {
		t.Fatalf("open orders after failed attempts: got %d, want 4", got)
	}
	res, err := e.Do(t.Context(), req(executors.OrdersCancelAll, nil, nil))
	if err != nil {
		t.Fatalf("third attempt: %v", err)
	}
	if res.Status != executors.StatusChanged || res.Summary != "cancelled 4 orders on 3 symbols (spot, usdm); none left" {
		t.Errorf("third attempt: got %q %q, want changed, \"cancelled 4 orders on 3 symbols (spot, usdm); none left\"", res.Status, res.Summary)
	}
	// 2 failed + 3 (product, symbol) cancels.
	if got := v.Mutations("a"); got != 5 {
		t.Errorf("mutating requests: got %d, want 5", got)
	}
}

func TestAuditFailureSendsNothing(t *testing.T) {
	v, e := testVenue(t, newClock())
	hooks := &executortest.RecordingHooks{}
	hooks.FailIntentsAfter(1, nil)
	res, err := e.Do(t.Context(), req(executors.OrdersCancelAll, nil, hooks))
	if !errors.Is(err, executors.ErrAudit) {
		t.Fatalf("error: got %v, want class %v", err, executors.ErrAudit)
	}
	if res.Status != executors.StatusFailed {
		t.Errorf("status: got %q, want %q", res.Status, executors.StatusFailed)
	}
	if got := v.Mutations("a"); got != 1 {
		t.Errorf("mutating requests: got %d, want 1 (only the intent that was recorded)", got)
	}
	if got := len(v.OpenOrders("a")); got != 2 {
		t.Errorf("open orders: got %d, want 2 (BTCUSDT spot cancelled only)", got)
	}
}

func TestCancelAllSurvivors(t *testing.T) {
	c := newClock()
	v, e := testVenue(t, c)
	v.PinOrders("a", "3")
	res, err := e.Do(t.Context(), req(executors.OrdersCancelAll, executors.Params{"confirm_timeout": 2 * time.Second}, nil))
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if res.Status != executors.StatusFailed {
		t.Errorf("status: got %q, want %q", res.Status, executors.StatusFailed)
	}
	if len(res.Remaining) != 1 || res.Remaining[0].ID != "3" || res.Remaining[0].Symbol != "ETHUSDT" {
		t.Errorf("remaining: got %+v, want spot ETHUSDT order 3", res.Remaining)
	}
	if len(res.Changes) != 3 {
		t.Errorf("changes: got %d, want 3 cancelled orders", len(res.Changes))
	}
	if !strings.Contains(res.Summary, "1 still open after 2s") {
		t.Errorf("summary: got %q, want it to say 1 still open after 2s", res.Summary)
	}
	if c.slept != 2*time.Second {
		t.Errorf("waited on the Env clock: got %s, want 2s", c.slept)
	}
}

func TestCancelAllProductsAndSymbols(t *testing.T) {
	tests := []struct {
		name   string
		params executors.Params
		want   []string // ids cancelled
	}{
		{"spot", executors.Params{"products": []string{"spot"}}, []string{"1", "2", "3"}},
		{"futures shorthand", executors.Params{"products": []string{"futures"}}, []string{"4"}},
		{"symbol", executors.Params{"symbols": []string{"BTCUSDT"}}, []string{"1", "2", "4"}},
		{"spot symbol", executors.Params{"products": []string{"spot"}, "symbols": []string{"ETHUSDT"}}, []string{"3"}},
		{"nothing there", executors.Params{"products": []string{"coinm"}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, e := testVenue(t, newClock())
			res, err := e.Do(t.Context(), req(executors.OrdersCancelAll, tc.params, nil))
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			var got []string
			for _, c := range res.Changes {
				got = append(got, c.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("cancelled: got %v, want %v", got, tc.want)
			}
			if left := len(v.OpenOrders("a")); left != 4-len(tc.want) {
				t.Errorf("open orders: got %d, want %d", left, 4-len(tc.want))
			}
			if tc.want == nil && (res.Status != executors.StatusOK || !strings.HasPrefix(res.Summary, "nothing to do")) {
				t.Errorf("got %q %q, want ok \"nothing to do…\"", res.Status, res.Summary)
			}
		})
	}
}

func TestVerifyRejected(t *testing.T) {
	tests := []struct {
		name       string
		key        string
		setup      func(v *fake.Venue, c *clock)
		wantStatus executors.Status
		wantProbes int
		wantSlept  time.Duration
	}{
		{name: "live key until deadline", key: k1, wantStatus: executors.StatusFailed, wantProbes: 7, wantSlept: 30 * time.Second},
		{name: "deleted while probing", key: k1, wantStatus: executors.StatusOK, wantProbes: 3, wantSlept: 10 * time.Second,
			setup: func(v *fake.Venue, c *clock) {
				e := fake.New(v, executors.Account{Name: "a", APIKey: secret.New(master)}, executors.Env{})
				c.onSleep = func(n int) {
					if n == 2 {
						_, _ = e.Do(context.Background(), req(executors.KeysRevoke, executors.Params{"key_ids": []string{k1}}, nil))
					}
				}
			}},
		{name: "ip-locked key is rejected", key: k2, wantStatus: executors.StatusOK, wantProbes: 1,
			setup: func(v *fake.Venue, _ *clock) { v.SetClientIP("198.51.100.1") }},
		{name: "unknown key", key: "NEVERexisted000000000000", wantStatus: executors.StatusOK, wantProbes: 1},
		{name: "master deleted in the UI", key: "", wantStatus: executors.StatusOK, wantProbes: 1,
			setup: func(v *fake.Venue, _ *clock) { v.DeleteMasterKey("a") }},
		{name: "master still live", key: "", wantStatus: executors.StatusFailed, wantProbes: 7, wantSlept: 30 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			v, e := testVenue(t, c)
			if tc.setup != nil {
				tc.setup(v, c)
			}
			p := executors.Params{"interval": 5 * time.Second, "deadline": 30 * time.Second}
			if tc.key != "" {
				p["api_key"] = tc.key
			}
			res, err := e.Do(t.Context(), req(executors.KeysVerifyRejected, p, nil))
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if res.Status != tc.wantStatus {
				t.Errorf("status: got %q (%s), want %q", res.Status, res.Summary, tc.wantStatus)
			}
			probes := 0
			for _, r := range v.Requests("a") {
				if strings.HasPrefix(r.Op, "probe key") {
					probes++
				}
			}
			if probes != tc.wantProbes {
				t.Errorf("probes: got %d, want %d", probes, tc.wantProbes)
			}
			if c.slept != tc.wantSlept {
				t.Errorf("slept: got %s, want %s", c.slept, tc.wantSlept)
			}
			if k := tc.key; k != "" && strings.Contains(res.Summary, k) {
				t.Errorf("summary %q contains the full key", res.Summary)
			}
		})
	}
}

func TestDemoActions(t *testing.T) {
	tests := []struct {
		action     string
		params     executors.Params
		wantStatus executors.Status
		wantSum    string
		check      func(t *testing.T, v *fake.Venue, res executors.Result)
	}{
		{executors.WithdrawalsCancelPending, nil, executors.StatusPending, "cancelled 1 pending withdrawal; 1 not cancellable by API: manual step",
			func(t *testing.T, v *fake.Venue, res executors.Result) {
				var pending []string
				for _, w := range v.Withdrawals(fake.DemoBinance) {
					if w.Pending {
						pending = append(pending, w.ID)
					}
				}
				if !slices.Equal(pending, []string{"binance-demo-wd-2"}) {
					t.Errorf("pending after cancel: got %v, want [binance-demo-wd-2]", pending)
				}
				if len(res.Manual) != 1 || !strings.Contains(res.Manual[0].Instructions, "binance-demo-wd-2") {
					t.Errorf("manual: got %+v, want a step for binance-demo-wd-2", res.Manual)
				}
			}},
		{executors.PositionsClose, nil, executors.StatusChanged, "closed 2 positions: usdm BTCUSDT LONG 0.5, coinm ETHUSD_PERP SHORT -10",
			func(t *testing.T, v *fake.Venue, res executors.Result) {
				if got := v.Positions(fake.DemoBinance); len(got) != 0 {
					t.Errorf("positions after close: got %+v, want none", got)
				}
				if res.Changes[1].Target != "close coinm ETHUSD_PERP SHORT -10 with a reduce-only market BUY 10" {
					t.Errorf("change: got %q", res.Changes[1].Target)
				}
			}},
		{executors.FundsSweep, executors.Params{"assets": []string{"ETH"}}, executors.StatusChanged, "moved 1 balance from sub-accounts to the master",
			func(t *testing.T, v *fake.Venue, _ executors.Result) {
				for _, b := range v.Balances(fake.DemoBinance) {
					if b.Asset != "ETH" || b.Wallet != "spot" {
						continue
					}
					want := map[string][2]string{"": {"16.50000000", "18.00000000"}, "arb@demo.example": {"0.00000000", "0.00000000"}}[b.Sub]
					if b.Free != want[0] || b.Total != want[1] {
						t.Errorf("ETH of %q: got free %s total %s, want %s %s", b.Sub, b.Free, b.Total, want[0], want[1])
					}
				}
			}},
		{executors.OrdersDeadman, executors.Params{"products": []string{"usdm"}, "countdown": 2 * time.Minute}, executors.StatusChanged, "armed a 2m0s countdown cancel-all on usdm",
			func(t *testing.T, v *fake.Venue, _ executors.Result) {
				if got := v.Deadman(fake.DemoBinance); got["usdm"] != 2*time.Minute || len(got) != 1 {
					t.Errorf("deadman: got %v, want usdm: 2m", got)
				}
			}},
		{executors.SnapshotBalances, executors.Params{"include_sub_accounts": false}, executors.StatusOK, "snapshot of 7 balances in 5 wallets and 2 positions",
			func(t *testing.T, v *fake.Venue, res executors.Result) {
				for _, b := range res.Data.(*executors.Snapshot).Balances {
					if b.Sub != "" {
						t.Errorf("balance of sub %s in a snapshot without sub-accounts", b.Sub)
					}
				}
			}},
		{executors.TradesRecent, nil, executors.StatusOK, "2 trades in the last 24h0m0s on 2 symbols", nil},
		{executors.WithdrawalsList, nil, executors.StatusOK, "3 withdrawals in the last 168h0m0s, 2 pending", nil},
		{executors.KeysInventory, nil, executors.StatusOK, "3 keys (2 of sub-accounts), 2 risky",
			func(t *testing.T, v *fake.Venue, res executors.Result) {
				var subjects []string
				for _, f := range res.Findings {
					subjects = append(subjects, f.Severity+" "+f.Subject)
				}
				want := []string{"medium key bnDE…00a1 (master)", "high key bnDE…00b2 (sub arb@demo.example)"}
				if !slices.Equal(subjects, want) {
					t.Errorf("findings: got %v, want %v", subjects, want)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.action, func(t *testing.T) {
			v := fake.DemoVenue()
			reg := executors.NewRegistry(fake.DriverFor(v))
			e, err := reg.New(fake.DemoAccounts()[0], executors.Env{})
			if err != nil {
				t.Fatalf("new: %v", err)
			}
			res, err := e.Do(t.Context(), req(tc.action, tc.params, nil))
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if res.Status != tc.wantStatus || res.Summary != tc.wantSum {
				t.Errorf("got %q %q, want %q %q", res.Status, res.Summary, tc.wantStatus, tc.wantSum)
			}
			if tc.check != nil {
				tc.check(t, v, res)
			}
		})
	}
}

func TestDriver(t *testing.T) {
	d := fake.Driver()
	if d.Exchange != "fake" {
		t.Errorf("exchange: got %q, want fake", d.Exchange)
	}
	for _, a := range executors.Actions() {
		if got, want := slices.Contains(d.Actions, a.Name), !a.Local; got != want {
			t.Errorf("Actions contains %s: got %v, want %v", a.Name, got, want)
		}
	}
	for _, acct := range fake.DemoAccounts() {
		e, err := d.New(acct, executors.Env{}.Defaults())
		if err != nil {
			t.Fatalf("new %s: %v", acct.Name, err)
		}
		res, err := e.Do(t.Context(), req(executors.OrdersList, nil, nil))
		if err != nil {
			t.Fatalf("orders.list on %s: %v", acct.Name, err)
		}
		if n := len(res.Data.([]executors.Order)); n != 15 {
			t.Errorf("%s open orders: got %d, want 15", acct.Name, n)
		}
	}
	e, _ := d.New(executors.Account{Name: "nobody", Exchange: "fake"}, executors.Env{}.Defaults())
	if _, err := e.Do(t.Context(), req(executors.OrdersList, nil, nil)); !errors.Is(err, executors.ErrAuth) {
		t.Errorf("unknown account: got %v, want class %v", err, executors.ErrAuth)
	}
}

func TestConcurrentUse(t *testing.T) {
	v := fake.DemoVenue()
	accts := fake.DemoAccounts()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 4; i++ {
		for _, acct := range accts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := fake.New(v, acct, executors.Env{})
				for _, a := range []string{executors.OrdersList, executors.OrdersCancelAll, executors.KeysRevoke, executors.SnapshotBalances} {
					if _, err := e.Do(context.Background(), req(a, nil, nil)); err != nil {
						errs <- err
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Do: %v", err)
	}
	for _, acct := range accts {
		if n := len(v.OpenOrders(acct.Name)); n != 0 {
			t.Errorf("%s open orders: got %d, want 0", acct.Name, n)
		}
		if n := len(v.SubKeys(acct.Name)); n != 0 {
			t.Errorf("%s sub keys: got %d, want 0", acct.Name, n)
		}
	}
}
