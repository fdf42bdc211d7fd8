package binance

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/executors/internal/retry"
	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

func newConfExecutor(t *testing.T) (*emuRun, *Executor) {
	t.Helper()
	r := startEmulator(t, "conformance.yaml", confMasterKey, confMasterSecret, "hmac")
	e, err := New(r.acct, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	return r, e
}

func doAction(t *testing.T, e executors.Executor, action string, p executors.Params, hooks executors.Hooks) (executors.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	return e.Do(ctx, executors.Request{Action: action, Step: "test", Params: executors.WithDefaults(action, p), Hooks: hooks})
}

// requestsTo lists the log entries for method+path, in order.
func requestsTo(r *emuRun, method, path string) []emu.Entry {
	var out []emu.Entry
	for _, e := range r.srv.Requests() {
		if e.Method == method && e.Path == path {
			out = append(out, e)
		}
	}
	return out
}

// TestCancelAllUnknownOutcomeConverges injects 5xx answers on the spot
// cancels. A cancel of every order on a symbol is idempotent: one whose
// outcome is unknown is sent again at once (a re-list of every product per
// failure is what emptied the budget under a storm, issue 12), up to the
// retry policy's attempts; one that keeps failing is recorded as unknown
// and sent again only after a re-list shows its orders still open. Every
// case ends with an empty book.
func TestCancelAllUnknownOutcomeConverges(t *testing.T) {
	const spotSymbols = 3 // BTCUSDT, ETHUSDT, and BNBUSDT's order list
	for _, tc := range []struct {
		name   string
		faults int  // how many spot cancels are answered 503
		after  bool // the venue executed the cancel before answering 503
		// want: spot cancels sent in all, outcomes recorded as unknown,
		// and whether the faulted symbols are sent again before any re-list
		sent, unknown int
		resentFirst   bool
	}{
		{name: "503 before the cancel", faults: 1, sent: spotSymbols + 1, resentFirst: true},
		{name: "503 after the cancel", faults: 1, after: true, sent: spotSymbols + 1, resentFirst: true},
		// Every symbol's every attempt fails in the first round.
		{name: "503 on every attempt", faults: spotSymbols * attempts, sent: spotSymbols*attempts + spotSymbols, unknown: spotSymbols},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, e := newConfExecutor(t)
			r.srv.SetFaults(emulator.Faults{Script: []emulator.ScriptFault{{Venue: "binance", Method: "DELETE", Path: "/api/v3/openOrders",
				Count: tc.faults, Status: 503, Body: `{"code":-1006,"msg":"An unexpected response was received from the message bus. Execution status unknown."}`, After: tc.after}}})
			hooks := &executortest.RecordingHooks{}
			res, err := doAction(t, e, executors.OrdersCancelAll, nil, hooks)
			if err != nil {
				t.Fatalf("cancel_all: %v (%s)", err, res.Summary)
			}
			if res.Status != executors.StatusChanged || len(res.Remaining) != 0 {
				t.Errorf("cancel_all: got %s %q remaining %d, want changed with none left", res.Status, res.Summary, len(res.Remaining))
			}
			dels := requestsTo(r, "DELETE", "/api/v3/openOrders")
			if len(dels) != tc.sent {
				t.Errorf("spot cancels sent: got %d, want %d", len(dels), tc.sent)
			}
			// Where each faulted symbol's last failure sits against the
			// first re-list, and what follows it.
			symbolOf := func(q string) string { v, _ := url.ParseQuery(q); return v.Get("symbol") }
			lastFailure := map[string]int64{}
			for _, d := range dels {
				if d.Status == 503 {
					lastFailure[symbolOf(d.Query)] = d.Seq
				}
			}
			if len(lastFailure) == 0 {
				t.Fatal("no 503 in the log: the fault did not fire")
			}
			relistAt := int64(-1)
			for _, x := range r.srv.Requests() {
				if x.Method == "GET" && x.Path == "/api/v3/openOrders" && x.Seq > dels[0].Seq && relistAt < 0 {
					relistAt = x.Seq
				}
			}
			for sym, seq := range lastFailure {
				var next *emu.Entry
				for i, d := range dels {
					if d.Seq > seq && symbolOf(d.Query) == sym {
						next = &dels[i]
						break
					}
				}
				if next == nil {
					t.Errorf("cancel of %s never sent again after its 503", sym)
					continue
				}
				if first := relistAt < 0 || next.Seq < relistAt; first != tc.resentFirst {
					t.Errorf("cancel of %s sent again at seq %d, re-list at %d: sent before the re-list %v, want %v", sym, next.Seq, relistAt, first, tc.resentFirst)
				}
			}
			// A round after the first re-lists only the products it sent
			// cancels on: here spot, not USDⓈ-M (counted before the
			// test's own look at the book below).
			spotLists, usdmLists := len(requestsTo(r, "GET", "/api/v3/openOrders")), len(requestsTo(r, "GET", "/fapi/v1/openOrders"))
			if want := map[bool]int{false: 2, true: 3}[tc.unknown > 0]; spotLists != want || usdmLists != 2 {
				t.Errorf("listings: spot %d, USDⓈ-M %d; want %d and 2 (the first listing, the confirming re-list, and a spot re-list per later round)", spotLists, usdmLists, want)
			}
			if n := r.openOrders(t); n != 0 {
				t.Errorf("open orders after cancel_all: got %d, want 0", n)
			}
			var unknown int
			for _, rec := range hooks.Records() {
				if rec.Phase == executortest.PhaseOutcome && errors.Is(rec.Err, executors.ErrUnknownOutcome) {
					unknown++
				}
			}
			if unknown != tc.unknown {
				t.Errorf("outcomes recorded as unknown: got %d, want %d", unknown, tc.unknown)
			}
			if err := hooks.Check(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestEd25519Account runs reads and a cancel-all with an Ed25519 key.
func TestEd25519Account(t *testing.T) {
	r := startEmulator(t, "ed25519.yaml", "EDMASTERKEY000000000000000000000000000000000001", `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEICTMRk5SZ3zJGjmHdaMUWEU8rDsORt7iPikcs6tc+dA+
-----END PRIVATE KEY-----
`, "ed25519")
	e, err := New(r.acct, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	res, err := doAction(t, e, executors.SnapshotBalances, nil, nil)
	if err != nil || len(res.Data.(*executors.Snapshot).Balances) == 0 {
		t.Fatalf("snapshot: %v %+v", err, res)
	}
	res, err = doAction(t, e, executors.OrdersCancelAll, nil, nil)
	if err != nil || res.Status != executors.StatusChanged || len(res.Changes) != 2 {
		t.Fatalf("cancel_all: got %v %s %q with %d changes, want changed with 2", err, res.Status, res.Summary, len(res.Changes))
	}
	var left []any
	r.get(t, "/api/v3/openOrders", nil, &left)
	if len(left) != 0 {
		t.Errorf("open spot orders: got %d, want 0", len(left))
	}
}

func TestActionsAgainstEmulator(t *testing.T) {
	r, e := newConfExecutor(t)
	t.Run("withdrawals", func(t *testing.T) {
		res, err := doAction(t, e, executors.WithdrawalsList, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		ws := res.Data.([]executors.Withdrawal)
		pending := 0
		for _, w := range ws {
			if w.Pending {
				pending++
			}
		}
		if len(ws) != 2 || pending != 1 || len(res.Findings) != 1 {
			t.Errorf("withdrawals: got %d (%d pending, %d findings), want 2 (1 pending, 1 finding)", len(ws), pending, len(res.Findings))
		}
		before := r.mutations()
		res, err = doAction(t, e, executors.WithdrawalsCancelPending, nil, nil)
		if err != nil || res.Status != executors.StatusPending || len(res.Manual) != 1 || !strings.Contains(res.Manual[0].Instructions, "wd-pending-1") {
			t.Errorf("cancel_pending: got %v %s %+v, want pending with a manual step naming wd-pending-1", err, res.Status, res.Manual)
		}
		if r.mutations() != before {
			t.Error("cancel_pending sent a mutation")
		}
	})
	t.Run("snapshot", func(t *testing.T) {
		res, err := doAction(t, e, executors.SnapshotBalances, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		snap := res.Data.(*executors.Snapshot)
		wallets := map[string]bool{}
		subs := map[string]bool{}
		for _, b := range snap.Balances {
			wallets[strings.SplitN(b.Wallet, ":", 2)[0]] = true
			if b.Sub != "" {
				subs[b.Sub] = true
			}
		}
		for _, w := range []string{walletSpot, walletUserAssets, walletMargin, "isolated_margin", walletUSDM, walletCoinM} {
			if !wallets[w] {
				t.Errorf("snapshot has no %s balance; errors: %v", w, snap.Errors)
			}
		}
		if len(subs) != 2 || len(snap.Positions) != 2 || len(snap.Errors) != 0 {
			t.Errorf("snapshot: %d subs, %d positions, errors %v; want 2, 2, none", len(subs), len(snap.Positions), snap.Errors)
		}
	})
	t.Run("trades", func(t *testing.T) {
		res, err := doAction(t, e, executors.TradesRecent, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(res.Data.([]executors.Trade)); n < 2 {
			t.Errorf("trades: got %d, want the state's 2 (%s)", n, res.Summary)
		}
	})
	t.Run("deadman", func(t *testing.T) {
		res, err := doAction(t, e, executors.OrdersDeadman, executors.Params{"countdown": 10 * time.Minute}, nil)
		if err != nil || res.Status != executors.StatusChanged || len(res.Changes) != 4 {
			t.Errorf("deadman: got %v %s %q with %d changes, want changed with 4 symbols", err, res.Status, res.Summary, len(res.Changes))
		}
	})
	t.Run("positions.close", func(t *testing.T) {
		res, err := doAction(t, e, executors.PositionsClose, nil, nil)
		if err != nil || res.Status != executors.StatusChanged || len(res.Changes) != 2 {
			t.Fatalf("close: got %v %s %q with %d changes, want changed with 2", err, res.Status, res.Summary, len(res.Changes))
		}
		var pos []struct {
			PositionAmt string `json:"positionAmt"`
		}
		r.get(t, "/fapi/v3/positionRisk", nil, &pos)
		for _, p := range pos {
			if !isZeroAmount(p.PositionAmt) {
				t.Errorf("usdm position left: %s", p.PositionAmt)
			}
		}
		if n := len(requestsTo(r, "POST", "/fapi/v1/order")) + len(requestsTo(r, "POST", "/dapi/v1/order")); n != 2 {
			t.Errorf("close orders sent: got %d, want 2", n)
		}
	})
	t.Run("funds.sweep", func(t *testing.T) {
		res, err := doAction(t, e, executors.FundsSweep, nil, nil)
		if err != nil || res.Status != executors.StatusChanged || len(res.Changes) != 3 {
			t.Fatalf("sweep: got %v %s %q with %d changes, want changed with 3", err, res.Status, res.Summary, len(res.Changes))
		}
		again, err := doAction(t, e, executors.FundsSweep, nil, nil)
		if err != nil || again.Status != executors.StatusOK {
			t.Errorf("second sweep: got %v %s %q, want ok", err, again.Status, again.Summary)
		}
	})
	t.Run("verify own key after deletion", func(t *testing.T) {
		// The master key cannot be deleted over the API; the probe of a live
		// own key must fail with the deadline.
		res, err := doAction(t, e, executors.KeysVerifyRejected, executors.Params{"interval": 10 * time.Millisecond, "deadline": 50 * time.Millisecond}, nil)
		if err == nil || res.Status != executors.StatusFailed {
			t.Errorf("verify live own key: got %v %s, want failed", err, res.Status)
		}
	})
}

// TestDryRunEveryMutatingAction: through executors.DryRun, every mutating
// action (every scope and method) reads but never mutates.
func TestDryRunEveryMutatingAction(t *testing.T) {
	r, e := newConfExecutor(t)
	dry := executors.DryRun(e)
	cases := []struct {
		action string
		params executors.Params
		want   executors.Status
	}{
		{executors.OrdersCancelAll, executors.Params{"products": []string{"spot", "futures"}}, executors.StatusWouldChange},
		{executors.OrdersDeadman, nil, executors.StatusWouldChange},
		{executors.KeysRevoke, executors.Params{"scope": "all", "method": "delete"}, executors.StatusPending},
		{executors.KeysRevoke, executors.Params{"scope": "sub_accounts", "method": "ip_lock", "select": "risky"}, executors.StatusWouldChange},
		{executors.WithdrawalsCancelPending, nil, executors.StatusPending},
		{executors.PositionsClose, nil, executors.StatusWouldChange},
		{executors.FundsSweep, executors.Params{"assets": []string{"USDT"}}, executors.StatusWouldChange},
	}
	for _, c := range cases {
		res, err := doAction(t, dry, c.action, c.params, &executortest.RecordingHooks{})
		if err != nil {
			t.Errorf("%s %v: %v", c.action, c.params, err)
			continue
		}
		if res.Status != c.want {
			t.Errorf("%s %v: got %s (%s), want %s", c.action, c.params, res.Status, res.Summary, c.want)
		}
	}
	if n := r.mutations(); n != 0 {
		t.Errorf("mutating requests in the emulator log after dry-runs: got %d, want 0", n)
	}
}

func TestInventoryAgainstEmulator(t *testing.T) {
	_, e := newConfExecutor(t)
	res, err := doAction(t, e, executors.KeysInventory, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := res.Data.([]executors.Key)
	if len(keys) != 3 {
		t.Fatalf("keys: got %d, want master + 2 sub keys", len(keys))
	}
	byOwner := map[string]executors.Key{}
	for _, k := range keys {
		byOwner[k.Owner] = k
	}
	m := byOwner["master"]
	if !m.IPRestricted || m.CanWithdraw || !m.CanTrade || m.APIKey != mask(confMasterKey) {
		t.Errorf("master key: got %+v", m)
	}
	b1 := byOwner["bot1@fund.example"]
	if !b1.Sub || b1.IPRestricted || !contains(b1.Risks, "no-ip-restriction") {
		t.Errorf("bot1 key: got %+v, want a sub key flagged no-ip-restriction", b1)
	}
	b2 := byOwner["bot2@fund.example"]
	if !b2.IPRestricted || len(b2.IPs) != 1 || b2.IPs[0] != "127.0.0.1" {
		t.Errorf("bot2 key: got %+v, want ip-restricted to 127.0.0.1", b2)
	}
	found := false
	for _, f := range res.Findings {
		if strings.Contains(f.Subject, b1.APIKey) && f.Fix != "" {
			found = true
		}
	}
	if !found {
		t.Errorf("no finding with a fix names the unrestricted key %s: %+v", b1.APIKey, res.Findings)
	}
}

// Binance's v2 IP-restriction call adds IPs; ip_lock must also remove the
// ones already allowed, or a key whitelisted to an attacker stays usable.
func TestIPLockLeavesOnlyTheSinkhole(t *testing.T) {
	r, e := newConfExecutor(t)
	res, err := doAction(t, e, executors.KeysRevoke, executors.Params{"method": "ip_lock", "ip_whitelist": []string{"192.0.2.1"}}, nil)
	if err != nil {
		t.Fatalf("ip_lock: %v (%s)", err, res.Summary)
	}
	if len(requestsTo(r, http.MethodDelete, pathSubKeyIP+"/ipList")) == 0 {
		t.Fatal("no IP was removed, but the state has a sub key already whitelisted to 127.0.0.1")
	}
	checked := 0
	for _, email := range confSubs {
		var body struct {
			Rows []subKeyRow `json:"rows"`
		}
		r.get(t, pathSubKeys, url.Values{"email": {email}}, &body)
		for _, row := range body.Rows {
			var ipr ipRestriction
			r.get(t, pathSubKeyIP, url.Values{"email": {email}, "subAccountApiKey": {row.APIKey}}, &ipr)
			if !slices.Equal(ipr.IPList, []string{"192.0.2.1"}) {
				t.Errorf("key %s of %s: IP list %v, want only the sinkhole", mask(row.APIKey), email, ipr.IPList)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no sub key checked")
	}
}

// attempts is how many times a cancel is sent before its outcome is left
// unknown for the re-list (retry.Default.Attempts).
var attempts = retry.Default.Attempts
