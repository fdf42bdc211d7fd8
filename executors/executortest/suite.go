package executortest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// callTimeout bounds every executor call of the suite.
const callTimeout = 60 * time.Second

// Run runs the conformance suite against h. Every sub-test starts from its
// own h.New. Besides each sub-test's own checks, it holds executors to:
//
//   - every returned error is an *executors.Error with one of the Err* classes;
//   - an unknown action is ErrUnsupported;
//   - Plan(orders.cancel_all) returns one Change per listed order, with the
//     order's Product, Symbol and ID;
//   - each mutating request the venue receives has exactly one accepted
//     Intent (Mutations() == accepted intents), each Outcome follows its
//     Intent, and a refused Intent sends nothing (ErrAudit, Mutations()==0);
//   - keys.revoke names sub keys by secret.Mask only (never the full id) and
//     marks deletions Irreversible; a second run sends nothing;
//   - keys.verify_rejected returns StatusOK for a rejected key and
//     StatusFailed (or an error) when the deadline passes.
func Run(t *testing.T, h Harness) {
	t.Helper()
	caps := h.Capabilities()
	if len(caps.Products) == 0 {
		t.Fatal("harness: Capabilities().Products is empty")
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"Snapshot", testSnapshot},
		{"OrdersList", testOrdersList},
		{"DryRunMutatesNothing", testDryRun},
		{"PlanCancelAllTargetsListedOrders", testPlanCancelAll},
		{"CancelAll", testCancelAll},
		{"KeysInventory", testKeysInventory},
		{"RevokeSelectWithdrawEnabled", testRevokeSelect},
		{"RevokeDelete", testRevokeDelete},
		{"RevokeReversibleMethods", testRevokeReversible},
		{"RevokeMasterIsManual", testRevokeMaster},
		{"AuditFailureSendsNothing", testAuditFailure},
		{"VerifyRejectedDeletedKey", testVerifyDeleted},
		{"VerifyRejectedLiveKeyFails", testVerifyLive},
		{"UnknownActionUnsupported", testUnknownAction},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// request builds a runner-like request: defaults applied, hooks set.
func request(action string, p executors.Params, hooks executors.Hooks) executors.Request {
	if hooks == nil {
		hooks = &RecordingHooks{}
	}
	return executors.Request{Action: action, Step: "conformance", Params: executors.WithDefaults(action, p), Hooks: hooks}
}

// checkErr fails t unless err is nil or an *executors.Error with a known class.
func checkErr(t *testing.T, op string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var e *executors.Error
	if !errors.As(err, &e) {
		t.Errorf("%s: error %q is %T, want *executors.Error", op, err, err)
		return
	}
	if e.Class == nil || executors.ClassOf(err) == "error" {
		t.Errorf("%s: error %q has class %v, want one of the executors.Err* classes", op, err, e.Class)
	}
}

// do runs e.Do and checks the error's class.
func do(t *testing.T, e executors.Executor, req executors.Request) (executors.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	res, err := e.Do(ctx, req)
	checkErr(t, "Do "+req.Action, err)
	return res, err
}

// plan runs e.Plan and checks the error's class.
func plan(t *testing.T, e executors.Executor, req executors.Request) (executors.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	res, err := e.Plan(ctx, req)
	checkErr(t, "Plan "+req.Action, err)
	return res, err
}

// mustDo runs e.Do and fails the test now on error.
func mustDo(t *testing.T, e executors.Executor, req executors.Request) executors.Result {
	t.Helper()
	res, err := do(t, e, req)
	if err != nil {
		t.Fatalf("Do %s: %v", req.Action, err)
	}
	return res
}

// mustPlan runs e.Plan and fails the test now on error.
func mustPlan(t *testing.T, e executors.Executor, req executors.Request) executors.Result {
	t.Helper()
	res, err := plan(t, e, req)
	if err != nil {
		t.Fatalf("Plan %s: %v", req.Action, err)
	}
	return res
}

func isFutures(p string) bool {
	return p == executors.ProductUSDM || p == executors.ProductCoinM || p == executors.ProductFutures
}

func listOrders(t *testing.T, e executors.Executor) []executors.Order {
	t.Helper()
	res := mustDo(t, e, request(executors.OrdersList, nil, nil))
	orders, ok := res.Data.([]executors.Order)
	if !ok {
		t.Fatalf("orders.list: Data is %T, want []executors.Order", res.Data)
	}
	return orders
}

func inventory(t *testing.T, e executors.Executor) (executors.Result, []executors.Key) {
	t.Helper()
	res := mustDo(t, e, request(executors.KeysInventory, nil, nil))
	keys, ok := res.Data.([]executors.Key)
	if !ok {
		t.Fatalf("keys.inventory: Data is %T, want []executors.Key", res.Data)
	}
	return res, keys
}

func subKeysOrSkip(t *testing.T, h Harness) []string {
	t.Helper()
	keys := h.SubKeys(t)
	if len(keys) < 2 {
		t.Fatalf("harness: got %d sub-account keys after New, want at least 2", len(keys))
	}
	return keys
}

func testSnapshot(t *testing.T, h Harness) {
	e, acct := h.New(t)
	res := mustDo(t, e, request(executors.SnapshotBalances, nil, nil))
	if res.Status != executors.StatusOK {
		t.Errorf("status: got %q, want %q", res.Status, executors.StatusOK)
	}
	snap, ok := res.Data.(*executors.Snapshot)
	if !ok || snap == nil {
		t.Fatalf("Data: got %T, want non-nil *executors.Snapshot", res.Data)
	}
	if snap.Account != acct.Name {
		t.Errorf("Snapshot.Account: got %q, want %q", snap.Account, acct.Name)
	}
	if snap.Exchange != e.Exchange() {
		t.Errorf("Snapshot.Exchange: got %q, want %q", snap.Exchange, e.Exchange())
	}
	if snap.TakenAt.IsZero() {
		t.Error("Snapshot.TakenAt is zero")
	}
	if len(snap.Balances) == 0 {
		t.Error("Snapshot.Balances: got none, want the state's balances")
	}
	for i, b := range snap.Balances {
		if b.Wallet == "" || b.Asset == "" || b.Total == "" {
			t.Errorf("Balances[%d] = %+v: want wallet, asset and total set", i, b)
		}
	}
	if slices.ContainsFunc(h.Capabilities().Products, isFutures) && len(snap.Positions) == 0 {
		t.Error("Snapshot.Positions: got none, want the state's futures position")
	}
	if got := h.Mutations(t); got != 0 {
		t.Errorf("mutations after a read: got %d, want 0", got)
	}
}

func testOrdersList(t *testing.T, h Harness) {
	e, _ := h.New(t)
	want := h.OpenOrders(t)
	if want == 0 {
		t.Fatal("harness: OpenOrders() is 0 after New, want open orders")
	}
	orders := listOrders(t, e)
	if len(orders) < want {
		t.Errorf("orders.list: got %d orders, want at least %d", len(orders), want)
	}
	symbols := map[string]map[string]bool{} // product → symbols
	for i, o := range orders {
		if o.ID == "" || o.Symbol == "" || o.Product == "" || o.Kind == "" {
			t.Errorf("order[%d] = %+v: want product, symbol, id and kind set", i, o)
		}
		if symbols[o.Product] == nil {
			symbols[o.Product] = map[string]bool{}
		}
		symbols[o.Product][o.Symbol] = true
	}
	for _, p := range h.Capabilities().Products {
		if n := len(symbols[p]); n < 2 {
			t.Errorf("product %s: got orders on %d symbols, want at least 2", p, n)
		}
	}
	if got := h.Mutations(t); got != 0 {
		t.Errorf("mutations after a read: got %d, want 0", got)
	}
}

// mutatingCases lists one request per mutating action the venue supports.
func mutatingCases(c Caps) []struct {
	name   string
	action string
	params executors.Params
} {
	type tc = struct {
		name   string
		action string
		params executors.Params
	}
	cases := []tc{{"cancel_all", executors.OrdersCancelAll, nil}}
	for _, m := range c.RevokeMethods {
		cases = append(cases, tc{"revoke_" + m, executors.KeysRevoke, executors.Params{"scope": "sub_accounts", "method": m}})
	}
	if c.DeadMan {
		cases = append(cases, tc{"deadman", executors.OrdersDeadman, nil})
	}
	if c.CancelPendingWithdrawals {
		cases = append(cases, tc{"cancel_pending_withdrawals", executors.WithdrawalsCancelPending, nil})
	}
	if c.ClosePositions {
		cases = append(cases, tc{"close_positions", executors.PositionsClose, nil})
	}
	if c.Sweep {
		cases = append(cases, tc{"sweep", executors.FundsSweep, nil})
	}
	return cases
}

func testDryRun(t *testing.T, h Harness) {
	for _, tc := range mutatingCases(h.Capabilities()) {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := h.New(t)
			orders, keys := h.OpenOrders(t), h.SubKeys(t)
			hooks := &RecordingHooks{}
			res := mustDo(t, executors.DryRun(e), request(tc.action, tc.params, hooks))
			if res.Status != executors.StatusWouldChange {
				t.Errorf("status: got %q (%s), want %q", res.Status, res.Summary, executors.StatusWouldChange)
			}
			if len(res.Changes) == 0 {
				t.Error("changes: got none, want the exact targets")
			}
			for i, c := range res.Changes {
				if c.Kind == "" || c.Target == "" {
					t.Errorf("change[%d] = %+v: want kind and target set", i, c)
				}
			}
			if res.Summary == "" {
				t.Error("summary is empty")
			}
			if got := h.Mutations(t); got != 0 {
				t.Errorf("mutations after dry-run: got %d, want 0", got)
			}
			if n := len(hooks.Records()); n != 0 {
				t.Errorf("hooks records after dry-run: got %d, want 0", n)
			}
			if got := h.OpenOrders(t); got != orders {
				t.Errorf("open orders after dry-run: got %d, want %d", got, orders)
			}
			if got := h.SubKeys(t); !sameStrings(got, keys) {
				t.Errorf("sub keys after dry-run: got %d keys, want the %d before", len(got), len(keys))
			}
			if tc.action == executors.KeysRevoke {
				for _, k := range keys {
					if !changesMention(res.Changes, secret.Mask(k)) {
						t.Errorf("changes do not name sub key %s", secret.Mask(k))
					}
				}
			}
		})
	}
}

func sameStrings(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

func changesMention(cs []executors.Change, s string) bool {
	for _, c := range cs {
		if strings.Contains(c.Target, s) || strings.Contains(c.ID, s) {
			return true
		}
	}
	return false
}

func orderKey(product, symbol, id string) string { return product + "|" + symbol + "|" + id }

func testPlanCancelAll(t *testing.T, h Harness) {
	e, _ := h.New(t)
	want := map[string]bool{}
	for _, o := range listOrders(t, e) {
		want[orderKey(o.Product, o.Symbol, o.ID)] = true
	}
	res := mustPlan(t, e, request(executors.OrdersCancelAll, nil, nil))
	if res.Status != executors.StatusWouldChange {
		t.Errorf("status: got %q, want %q", res.Status, executors.StatusWouldChange)
	}
	got := map[string]bool{}
	for _, c := range res.Changes {
		k := orderKey(c.Product, c.Symbol, c.ID)
		if got[k] {
			t.Errorf("target %s planned twice", k)
		}
		got[k] = true
		if !want[k] {
			t.Errorf("planned target %s is not a listed order", k)
		}
	}
	for k := range want {
		if !got[k] {
			t.Errorf("listed order %s is not planned", k)
		}
	}
	if n := h.Mutations(t); n != 0 {
		t.Errorf("mutations after Plan: got %d, want 0", n)
	}
}

// checkHooks checks the audit discipline of a Do: intents before outcomes,
// one accepted intent per mutating request the venue received.
func checkHooks(t *testing.T, h Harness, hooks *RecordingHooks) {
	t.Helper()
	if err := hooks.Check(); err != nil {
		t.Errorf("hooks: %v", err)
	}
	intents, outcomes := len(hooks.Intents()), len(hooks.Outcomes())
	if intents != outcomes {
		t.Errorf("hooks: got %d intents and %d outcomes, want equal counts", intents, outcomes)
	}
	if got := h.Mutations(t); got != intents {
		t.Errorf("venue received %d mutating requests, want one per recorded intent (%d)", got, intents)
	}
}

func testCancelAll(t *testing.T, h Harness) {
	e, _ := h.New(t)
	hooks := &RecordingHooks{}
	res := mustDo(t, e, request(executors.OrdersCancelAll, nil, hooks))
	if res.Status != executors.StatusChanged {
		t.Errorf("status: got %q (%s), want %q", res.Status, res.Summary, executors.StatusChanged)
	}
	if len(res.Changes) == 0 {
		t.Error("changes: got none, want the cancelled orders")
	}
	if len(res.Remaining) != 0 {
		t.Errorf("remaining: got %d, want 0", len(res.Remaining))
	}
	if got := h.OpenOrders(t); got != 0 {
		t.Errorf("open orders after cancel_all: got %d, want 0", got)
	}
	if len(hooks.Intents()) == 0 {
		t.Error("hooks: got no intents, want one per cancel request")
	}
	checkHooks(t, h, hooks)

	before := h.Mutations(t)
	again := mustDo(t, e, request(executors.OrdersCancelAll, nil, nil))
	if again.Status != executors.StatusOK || !strings.Contains(again.Summary, "nothing to do") {
		t.Errorf("second cancel_all: got %q %q, want %q with \"nothing to do\"", again.Status, again.Summary, executors.StatusOK)
	}
	if got := h.Mutations(t); got != before {
		t.Errorf("second cancel_all sent %d mutating requests, want 0", got-before)
	}
}

func testKeysInventory(t *testing.T, h Harness) {
	e, _ := h.New(t)
	full := subKeysOrSkip(t, h)
	res, keys := inventory(t, e)
	var risky []executors.Key
	subs := 0
	for _, k := range keys {
		if k.Sub {
			subs++
		}
		if k.Sub && k.MayWithdraw() {
			risky = append(risky, k)
			if !slices.Contains(k.Risks, "withdrawals-enabled") && !slices.Contains(k.Risks, "withdrawals-unknown") {
				t.Errorf("key %s: risks %v lack withdrawals-enabled/unknown", k.APIKey, k.Risks)
			}
		}
	}
	if subs < len(full) {
		t.Errorf("inventory: got %d sub-account keys, want at least %d", subs, len(full))
	}
	if len(risky) == 0 {
		t.Fatal("inventory: no sub-account key with withdrawals enabled (or not known), want the state's one")
	}
	for _, k := range risky {
		found := false
		for _, f := range res.Findings {
			if strings.Contains(f.Subject, k.APIKey) && f.Fix != "" && f.Severity != "" {
				found = true
			}
		}
		if !found {
			t.Errorf("no finding (with severity and fix) names withdrawal-enabled key %s; findings: %+v", k.APIKey, res.Findings)
		}
	}
	js, err := json.Marshal(res)
	if err != nil {
		t.Fatalf("marshal result: %v", err)
	}
	for _, k := range append(full, h.SubKeys(t)...) {
		if strings.Contains(string(js), k) {
			t.Errorf("inventory result contains the full key id %s, want it masked", secret.Mask(k))
		}
	}
	if got := h.Mutations(t); got != 0 {
		t.Errorf("mutations after a read: got %d, want 0", got)
	}
}

func testRevokeSelect(t *testing.T, h Harness) {
	if len(h.Capabilities().RevokeMethods) == 0 {
		t.Skip("venue cannot revoke sub-account keys")
	}
	e, _ := h.New(t)
	_, keys := inventory(t, e)
	var want []string
	for _, k := range keys {
		if k.Sub && k.MayWithdraw() {
			want = append(want, k.APIKey)
		}
	}
	res := mustPlan(t, e, request(executors.KeysRevoke, executors.Params{
		"scope": "sub_accounts", "method": h.Capabilities().RevokeMethods[0], "select": "withdraw_enabled"}, nil))
	if len(res.Changes) != len(want) {
		t.Errorf("planned changes: got %d, want %d (the withdrawal-enabled sub keys %v)", len(res.Changes), len(want), want)
	}
	for _, k := range want {
		if !changesMention(res.Changes, k) {
			t.Errorf("plan does not name withdrawal-enabled key %s", k)
		}
	}
}

func testRevokeDelete(t *testing.T, h Harness) {
	if !h.Capabilities().hasRevoke("delete") {
		t.Skip("venue cannot delete sub-account keys")
	}
	e, _ := h.New(t)
	before := subKeysOrSkip(t, h)
	hooks := &RecordingHooks{}
	res := mustDo(t, e, request(executors.KeysRevoke, executors.Params{"scope": "sub_accounts", "method": "delete"}, hooks))
	if res.Status != executors.StatusChanged {
		t.Errorf("status: got %q (%s), want %q", res.Status, res.Summary, executors.StatusChanged)
	}
	if got := h.SubKeys(t); len(got) != 0 {
		t.Errorf("sub keys after delete: got %d still valid, want 0", len(got))
	}
	if len(res.Changes) != len(before) {
		t.Errorf("changes: got %d, want one per sub key (%d)", len(res.Changes), len(before))
	}
	for i, c := range res.Changes {
		if !c.Irreversible {
			t.Errorf("change[%d] %s: not marked irreversible", i, c.Target)
		}
	}
	intents := hooks.Intents()
	if len(intents) < len(before) {
		t.Errorf("hooks: got %d intents, want at least %d", len(intents), len(before))
	}
	for _, m := range intents {
		if !m.Irreversible {
			t.Errorf("mutation %s: not marked irreversible", m.ID)
		}
		if m.ID == "" || m.Kind == "" || m.Target == "" {
			t.Errorf("mutation %+v: want id, kind and target set", m)
		}
		for _, k := range before {
			if strings.Contains(fmt.Sprint(m), k) {
				t.Errorf("mutation %s carries the full key id %s, want it masked", m.ID, secret.Mask(k))
			}
		}
	}
	checkHooks(t, h, hooks)

	n := h.Mutations(t)
	again := mustDo(t, e, request(executors.KeysRevoke, executors.Params{"scope": "sub_accounts", "method": "delete"}, nil))
	if again.Status != executors.StatusOK {
		t.Errorf("second revoke: got %q (%s), want %q", again.Status, again.Summary, executors.StatusOK)
	}
	if got := h.Mutations(t); got != n {
		t.Errorf("second revoke sent %d mutating requests, want 0", got-n)
	}
}

func testRevokeReversible(t *testing.T, h Harness) {
	for _, m := range h.Capabilities().RevokeMethods {
		if m == "delete" {
			continue
		}
		t.Run(m, func(t *testing.T) {
			e, _ := h.New(t)
			before := subKeysOrSkip(t, h)
			hooks := &RecordingHooks{}
			res := mustDo(t, e, request(executors.KeysRevoke, executors.Params{"scope": "sub_accounts", "method": m}, hooks))
			if res.Status != executors.StatusChanged {
				t.Errorf("status: got %q (%s), want %q", res.Status, res.Summary, executors.StatusChanged)
			}
			if len(res.Changes) != len(before) {
				t.Errorf("changes: got %d, want one per sub key (%d)", len(res.Changes), len(before))
			}
			for _, c := range res.Changes {
				if c.Irreversible {
					t.Errorf("change %s: marked irreversible, want reversible for %s", c.Target, m)
				}
			}
			checkHooks(t, h, hooks)
		})
	}
}

func testRevokeMaster(t *testing.T, h Harness) {
	e, _ := h.New(t)
	hooks := &RecordingHooks{}
	res := mustDo(t, e, request(executors.KeysRevoke, executors.Params{"scope": "master"}, hooks))
	if res.Status != executors.StatusPending {
		t.Errorf("status: got %q (%s), want %q", res.Status, res.Summary, executors.StatusPending)
	}
	if len(res.Manual) == 0 {
		t.Fatal("manual steps: got none, want the UI step to delete the master key")
	}
	for i, m := range res.Manual {
		if m.Title == "" || m.Instructions == "" {
			t.Errorf("manual[%d] = %+v: want title and instructions", i, m)
		}
	}
	if len(res.Changes) != 0 {
		t.Errorf("changes: got %d, want none", len(res.Changes))
	}
	if got := h.Mutations(t); got != 0 {
		t.Errorf("mutations: got %d, want 0", got)
	}
	if n := len(hooks.Records()); n != 0 {
		t.Errorf("hooks records: got %d, want 0", n)
	}
}

func testAuditFailure(t *testing.T, h Harness) {
	cases := []struct {
		name   string
		action string
		params executors.Params
	}{
		{"cancel_all", executors.OrdersCancelAll, nil},
	}
	if ms := h.Capabilities().RevokeMethods; len(ms) > 0 {
		cases = append(cases, struct {
			name   string
			action string
			params executors.Params
		}{"revoke", executors.KeysRevoke, executors.Params{"scope": "sub_accounts", "method": ms[0]}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := h.New(t)
			orders, keys := h.OpenOrders(t), h.SubKeys(t)
			hooks := &RecordingHooks{}
			hooks.FailIntents(nil)
			res, err := do(t, e, request(tc.action, tc.params, hooks))
			if !errors.Is(err, executors.ErrAudit) {
				t.Errorf("error: got %v (status %q), want class %v", err, res.Status, executors.ErrAudit)
			}
			if res.Status == executors.StatusChanged {
				t.Errorf("status: got %q, want not changed", res.Status)
			}
			if got := h.Mutations(t); got != 0 {
				t.Errorf("mutations: got %d, want 0", got)
			}
			if len(hooks.Refused()) == 0 {
				t.Error("hooks: no refused intent recorded, want the executor to have asked")
			}
			if n := len(hooks.Outcomes()); n != 0 {
				t.Errorf("hooks: got %d outcomes, want 0", n)
			}
			if got := h.OpenOrders(t); got != orders {
				t.Errorf("open orders: got %d, want %d", got, orders)
			}
			if got := h.SubKeys(t); !sameStrings(got, keys) {
				t.Errorf("sub keys: got %d, want the %d before", len(got), len(keys))
			}
		})
	}
}

func verifyParams(key string, deadline time.Duration) executors.Params {
	return executors.Params{"api_key": key, "interval": 10 * time.Millisecond, "deadline": deadline}
}

func testVerifyDeleted(t *testing.T, h Harness) {
	if !h.Capabilities().hasRevoke("delete") {
		t.Skip("venue cannot delete sub-account keys")
	}
	e, _ := h.New(t)
	key := subKeysOrSkip(t, h)[0]
	mustDo(t, e, request(executors.KeysRevoke, executors.Params{"scope": "sub_accounts", "method": "delete", "key_ids": []string{key}}, nil))
	if slices.Contains(h.SubKeys(t), key) {
		t.Fatalf("key %s still valid after delete", secret.Mask(key))
	}
	n := h.Mutations(t)
	res := mustDo(t, e, request(executors.KeysVerifyRejected, verifyParams(key, 10*time.Second), nil))
	if res.Status != executors.StatusOK {
		t.Errorf("status: got %q (%s), want %q", res.Status, res.Summary, executors.StatusOK)
	}
	if got := h.Mutations(t); got != n {
		t.Errorf("verify sent %d mutating requests, want 0", got-n)
	}
}

func testVerifyLive(t *testing.T, h Harness) {
	e, _ := h.New(t)
	key := subKeysOrSkip(t, h)[0]
	res, err := do(t, e, request(executors.KeysVerifyRejected, verifyParams(key, 100*time.Millisecond), nil))
	if err == nil && res.Status != executors.StatusFailed {
		t.Errorf("verify of a live key: got %q (%s) and no error, want %q or an error", res.Status, res.Summary, executors.StatusFailed)
	}
	if !slices.Contains(h.SubKeys(t), key) {
		t.Errorf("key %s no longer valid after verify, want it untouched", secret.Mask(key))
	}
}

func testUnknownAction(t *testing.T, h Harness) {
	e, _ := h.New(t)
	_, err := do(t, e, request("no.such_action", nil, nil))
	if !errors.Is(err, executors.ErrUnsupported) {
		t.Errorf("Do unknown action: got %v, want class %v", err, executors.ErrUnsupported)
	}
	_, err = plan(t, e, request("no.such_action", nil, nil))
	if !errors.Is(err, executors.ErrUnsupported) {
		t.Errorf("Plan unknown action: got %v, want class %v", err, executors.ErrUnsupported)
	}
}
