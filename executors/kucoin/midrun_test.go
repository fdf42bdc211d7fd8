package kucoin

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/states"
)

// TestMidRunRevocationStartsFromTheLatestListing: a revocation of every
// sub key and of those created mid-run (revoke-sub-keys) starts from the
// listing made moments before (the inventory's) instead of listing every
// sub-account's keys again (20 of the Management pool each: at ip-shared
// that listing pushed every KuCoin master's deletions into the pool's
// next window, the sub keys usable 30 s longer); a key the attacker
// created since that listing is found by the confirming re-list and
// handled in a further pass (here: it has no passphrase in the accounts
// file, so it becomes a manual step).
func TestMidRunRevocationStartsFromTheLatestListing(t *testing.T) {
	srv, base := startEmulator(t, states.FS, states.Demo)
	acct := demoAccount(t, srv, base)
	x, err := New(acct, executors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if res, err := x.Do(ctx, req(executors.KeysInventory, executors.Params{"include_sub_accounts": true}, nil)); err != nil {
		t.Fatalf("inventory: %v (%s)", err, res.Summary)
	}
	// The attacker, with the master key (its own process: it shares no
	// memory with x), creates a sub key after the inventory.
	attacker, err := New(acct, executors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	created := attackerSubKey(t, attacker, "late")
	from := len(srv.Requests())
	res, err := x.Do(ctx, req(executors.KeysRevoke, executors.Params{"scope": "sub_accounts", "method": "delete", "created_mid_run": true},
		&executortest.RecordingHooks{}))
	if res.Counts["revoked"] == 0 {
		t.Fatalf("revoke deleted nothing (%v, %s): the demo state has sub keys with passphrases, the test tests nothing", err, res.Summary)
	}
	for _, e := range srv.Requests()[from:] {
		if e.Method == http.MethodDelete {
			break
		}
		if e.Method == http.MethodGet && e.Path == "/api/v1/sub/api-key" {
			t.Errorf("the revocation listed the sub keys before its first delete: want the inventory's listing reused")
			break
		}
	}
	if !mentions(res.Manual, mask(created)) {
		t.Errorf("the key created after the inventory's listing is not handled (manual steps %+v; %s)", res.Manual, res.Summary)
	}
	if res.Status != executors.StatusPending {
		t.Errorf("status %s, want pending (a manual step for the attacker's key): %s", res.Status, res.Summary)
	}
	for _, k := range kcMaster(t, srv).Subs {
		for _, key := range k.Keys {
			if !key.Deleted && key.APIKey != created && hasPassphrase(acct, key.APIKey) {
				t.Errorf("sub %s key %s with a passphrase is still there", k.Name, key.APIKey)
			}
		}
	}
}

// demoWithAttacker starts the demo state and returns the master account,
// an executor on it, and the attacker's: another process holding the same
// master key (it shares no memory with the first).
func demoWithAttacker(t *testing.T) (executors.Account, *Executor, *Executor) {
	t.Helper()
	srv, base := startEmulator(t, states.FS, states.Demo)
	acct := demoAccount(t, srv, base)
	x, err := New(acct, executors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	attacker, err := New(acct, executors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	return acct, x, attacker
}

func hasPassphrase(a executors.Account, apiKey string) bool {
	for _, sk := range a.SubKeys {
		if sk.APIKey == apiKey && !sk.Passphrase.IsZero() {
			return true
		}
	}
	return false
}

// TestHoldPassLooksAfreshWhenNothingCanBeDeleted: a look for mid-run keys
// that starts from an earlier listing in which every key it selects lacks
// a passphrase (an attacker's key: manual steps, nothing sent, so no
// confirming re-list follows) lists afresh, so that the next key the
// attacker creates is seen at the next hold pass, not once the listing
// is two minutes old.
func TestHoldPassLooksAfreshWhenNothingCanBeDeleted(t *testing.T) {
	_, x, attacker := demoWithAttacker(t)
	ctx := context.Background()
	look := func() executors.Result {
		res, _ := x.Do(ctx, req(executors.KeysRevoke, executors.Params{"scope": "sub_accounts", "method": "delete", "created_mid_run": true},
			&executortest.RecordingHooks{}))
		return res
	}
	look() // the run's revoke-sub-keys: every key with a passphrase deleted
	first := attackerSubKey(t, attacker, "late-1")
	if res := look(); !mentions(res.Manual, mask(first)) {
		t.Fatalf("the first pass missed the attacker's key %s: %+v", mask(first), res.Manual)
	}
	second := attackerSubKey(t, attacker, "late-2")
	if res := look(); !mentions(res.Manual, mask(second)) {
		t.Errorf("the next pass missed the key created since (%s): it started from a listing in which nothing could be deleted; manual steps %+v", mask(second), res.Manual)
	}
}

// attackerSubKey creates, through attacker (an executor on the master
// key), a sub key of mmbot01 whose passphrase the accounts file does not
// hold, and returns its API key.
func attackerSubKey(t *testing.T, attacker *Executor, remark string) string {
	t.Helper()
	var created struct {
		APIKey string `json:"apiKey"`
	}
	if err := attacker.call(context.Background(), attacker.spot, "create a sub key", true, http.MethodPost, "/api/v1/sub/api-key",
		map[string]string{"subName": "mmbot01", "passphrase": "attacker-pass-1", "remark": remark, "permission": "General,Spot"}, &created); err != nil || created.APIKey == "" {
		t.Fatalf("the attacker's key: %v (%+v)", err, created)
	}
	return created.APIKey
}

// mentions reports whether a manual step's title contains s.
func mentions(steps []executors.ManualStep, s string) bool {
	for _, m := range steps {
		if strings.Contains(m.Title, s) {
			return true
		}
	}
	return false
}

// TestRetryAfterUnconfirmedRevokeListsAfresh: a revocation whose deletes
// went but whose confirming re-list failed is retried (by the runner);
// the retry does not start from the listing made before those deletes
// (it would send them again, for keys that are gone) but lists afresh,
// and confirms them.
func TestRetryAfterUnconfirmedRevokeListsAfresh(t *testing.T) {
	srv, base := startEmulator(t, os.DirFS("testdata"), "state.yaml")
	x, err := New(conformanceAccount(base), executors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	p := executors.Params{"scope": "sub_accounts", "method": "delete"}
	hooks := &onFirstIntent{fn: func() { srv.SetFaults(subKeyListDown) }}
	if res, err := x.Do(t.Context(), req(executors.KeysRevoke, p, hooks)); err == nil || len(hooks.Intents()) == 0 {
		t.Fatalf("revoke with the re-list down: %s %q, err %v, %d intents; want deletes sent and unconfirmed", res.Status, res.Summary, err, len(hooks.Intents()))
	}
	srv.SetFaults(emulator.Faults{})
	from := len(srv.Requests())
	retry := &executortest.RecordingHooks{}
	res, err := x.Do(t.Context(), req(executors.KeysRevoke, p, retry))
	if err != nil || res.Status == executors.StatusFailed {
		t.Errorf("retry: %s %q, err %v; want the deletes confirmed", res.Status, res.Summary, err)
	}
	if n := len(retry.Intents()); n != 0 {
		t.Errorf("the retry sent %d deletes again, for keys already deleted", n)
	}
	listed := false
	for _, e := range srv.Requests()[from:] {
		listed = listed || e.Method == http.MethodGet && e.Path == "/api/v1/sub/api-key"
	}
	if !listed {
		t.Error("the retry did not list the sub keys: it started from the listing made before its deletes")
	}
}

// TestKeyCreatedDuringTheDeletesIsHandled: a look for mid-run keys that
// listed afresh (nothing earlier to start from) and whose confirming
// re-list shows a key the attacker created while the deletes went out
// handles that key in a further pass (here a manual step: no passphrase),
// rather than ending "changed" with a live key it has seen.
func TestKeyCreatedDuringTheDeletesIsHandled(t *testing.T) {
	_, x, attacker := demoWithAttacker(t)
	var created string
	hooks := &onFirstIntent{fn: func() { created = attackerSubKey(t, attacker, "during") }}
	res, _ := x.Do(t.Context(), req(executors.KeysRevoke, executors.Params{"scope": "sub_accounts", "method": "delete", "created_mid_run": true}, hooks))
	if len(hooks.Intents()) == 0 || created == "" {
		t.Fatalf("no delete was sent (%s): the test tests nothing", res.Summary)
	}
	if !mentions(res.Manual, mask(created)) {
		t.Errorf("the key created while the deletes went out is not handled: %s %q, manual steps %+v", res.Status, res.Summary, res.Manual)
	}
	if res.Status == executors.StatusChanged {
		t.Errorf("status changed with a live key the re-list showed: %s", res.Summary)
	}
}
