package kucoin

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
	emkucoin "github.com/panicbutton/panicbutton/internal/emulator/kucoin"
	"github.com/panicbutton/panicbutton/internal/emulator/states"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// demoAccount builds the executor account from what the emulator exports
// for --accounts-out (the way a user configures the demo).
func demoAccount(t *testing.T, srv *emulator.Server, base string) executors.Account {
	t.Helper()
	for _, v := range srv.Venues() {
		ex, ok := v.(emu.Exporter)
		if !ok {
			continue
		}
		for _, a := range ex.ExportAccounts() {
			if a.Exchange != Exchange {
				continue
			}
			acct := executors.Account{Name: a.Name, Exchange: a.Exchange, APIKey: secret.New(a.APIKey), Secret: secret.New(a.Secret),
				Passphrase: secret.New(a.Passphrase), KeyVersion: a.KeyVersion, BaseURL: base + "/kucoin"}
			for _, sk := range a.SubKeys {
				acct.SubKeys = append(acct.SubKeys, executors.SubKey{Sub: sk.Sub, APIKey: sk.APIKey, Passphrase: secret.New(sk.Passphrase)})
			}
			return acct
		}
	}
	t.Fatal("the demo state exports no kucoin account")
	return executors.Account{}
}

// The suspected-key-leak flow over the demo fund: snapshot, freeze, revoke
// sub keys (one without a passphrase: manual step and sweep), withdrawals,
// the master key as a manual step, verification, snapshot. The demo
// master key lacks the Margin, InnerTransfer and Transfer permissions, so
// those parts must fail loudly (or become manual steps), never silently.
func TestSuspectedKeyLeakFlowOverDemoState(t *testing.T) {
	srv, base := startEmulator(t, states.FS, states.Demo)
	acct := demoAccount(t, srv, base)
	x, err := New(acct, executors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	hooks := &executortest.RecordingHooks{}
	run := func(action string, p executors.Params) (executors.Result, error) {
		t.Helper()
		return x.Do(ctx, req(action, p, hooks))
	}

	before, err := run(executors.SnapshotBalances, nil)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	snap := before.Data.(*executors.Snapshot)
	subs := map[string]bool{}
	for _, b := range snap.Balances {
		subs[b.Sub] = true
	}
	for _, s := range []string{"", "mmbot01", "arbbot02", "hedge03"} {
		if !subs[s] {
			t.Errorf("snapshot: no balances for %q, want master and every sub", s)
		}
	}
	if len(snap.Positions) != 2 || len(snap.Errors) != 0 {
		t.Errorf("snapshot: got %d positions and errors %v, want 2 and none", len(snap.Positions), snap.Errors)
	}

	listed, err := run(executors.OrdersList, nil)
	if err != nil {
		t.Fatalf("orders.list: %v", err)
	}
	var margin int
	for _, o := range listed.Data.([]executors.Order) {
		if o.Product == executors.ProductMargin || o.Product == executors.ProductIsolatedMargin {
			margin++
		}
	}

	// The demo master can trade margin, so every product is frozen.
	freeze, err := run(executors.OrdersCancelAll, executors.Params{"products": []string{"spot", "margin", "futures"}, "confirm_timeout": 2 * time.Second})
	if err != nil || freeze.Status != executors.StatusChanged || len(freeze.Remaining) != 0 || margin == 0 {
		t.Errorf("cancel_all: got %q, %d remaining, %v (margin orders listed: %d); want changed, none left", freeze.Status, len(freeze.Remaining), err, margin)
	}

	// hedge03's passphrase is not exported: its key becomes a manual step
	// and, as asked, its funds are swept to the master (the demo master has
	// the InnerTransfer permission).
	revoke, err := run(executors.KeysRevoke, executors.Params{"scope": "sub_accounts", "method": "delete", "sweep_if_no_passphrase": true})
	if err != nil {
		t.Errorf("revoke: %v", err)
	}
	swept := 0
	for _, c := range revoke.Changes {
		if c.Kind == "transfer" && strings.Contains(c.Target, "hedge03") {
			swept++
		}
	}
	if swept == 0 {
		t.Errorf("revoke: no transfer out of hedge03 in %+v, want its funds swept", revoke.Changes)
	}
	if len(revoke.Manual) != 1 || !strings.Contains(revoke.Manual[0].Instructions, "hedge03") {
		t.Errorf("revoke manual steps: got %+v, want one for hedge03's key", revoke.Manual)
	}
	deleted := 0
	for _, c := range revoke.Changes {
		if c.Kind == "delete-key" {
			deleted++
		}
	}
	if deleted != 2 {
		t.Errorf("revoke: got %d deleted keys, want 2 (mmbot01, arbbot02)", deleted)
	}

	wd, err := run(executors.WithdrawalsCancelPending, nil)
	if err != nil || wd.Status != executors.StatusPending || len(wd.Manual) != 1 {
		t.Errorf("withdrawals: got %q %d manual steps, %v; want pending with one manual step (no Withdrawal permission)", wd.Status, len(wd.Manual), err)
	}

	master, err := run(executors.KeysRevoke, executors.Params{"scope": "master"})
	if err != nil || master.Status != executors.StatusPending || len(master.Manual) != 1 || master.Manual[0].Verify != "key_rejected" {
		t.Errorf("master: got %q %+v %v, want pending with a key_rejected manual step", master.Status, master.Manual, err)
	}

	gone, err := run(executors.KeysVerifyRejected, executors.Params{"api_key": "6650a1b2c3d4e5f600000101", "interval": 10 * time.Millisecond, "deadline": time.Second})
	if err != nil || gone.Status != executors.StatusOK {
		t.Errorf("verify deleted mmbot01 key: got %q %v, want ok", gone.Status, err)
	}

	if _, err := run(executors.SnapshotBalances, nil); err != nil {
		t.Errorf("snapshot after: %v", err)
	}
	if err := hooks.Check(); err != nil {
		t.Errorf("hooks: %v", err)
	}
	if got, want := countMutations(srv), len(hooks.Intents()); got != want {
		t.Errorf("emulator mutations: got %d, want one per intent (%d)", got, want)
	}
	for _, e := range srv.Requests() {
		if strings.Contains(e.Fault, emkucoin.FlagEncodedQuery) {
			t.Errorf("%s %s was signed over the URL-encoded query, want the decoded form", e.Method, e.Path)
		}
		if e.Status == 429 {
			t.Errorf("%s %s hit a rate limit", e.Method, e.Path)
		}
	}
	if !slices.ContainsFunc(srv.Requests(), func(e emu.Entry) bool {
		return e.Path == "/api/v1/sub/api-key" && e.Method == "DELETE" && e.Status == 200
	}) {
		t.Error("no successful sub-key delete in the request log")
	}
}
