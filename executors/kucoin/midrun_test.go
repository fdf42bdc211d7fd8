package kucoin

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
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
	var created struct {
		APIKey string `json:"apiKey"`
	}
	if err := attacker.call(ctx, attacker.spot, "create a sub key", true, http.MethodPost, "/api/v1/sub/api-key",
		map[string]string{"subName": "mmbot01", "passphrase": "attacker-pass-1", "remark": "late", "permission": "General,Spot"}, &created); err != nil || created.APIKey == "" {
		t.Fatalf("the attacker's key: %v (%+v)", err, created)
	}
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
	found := false
	for _, m := range res.Manual {
		found = found || strings.Contains(m.Title, mask(created.APIKey))
	}
	if !found {
		t.Errorf("the key created after the inventory's listing is not handled (manual steps %+v; %s)", res.Manual, res.Summary)
	}
	if res.Status != executors.StatusPending {
		t.Errorf("status %s, want pending (a manual step for the attacker's key): %s", res.Status, res.Summary)
	}
	for _, k := range kcMaster(t, srv).Subs {
		for _, key := range k.Keys {
			if !key.Deleted && key.APIKey != created.APIKey && hasPassphrase(acct, key.APIKey) {
				t.Errorf("sub %s key %s with a passphrase is still there", k.Name, key.APIKey)
			}
		}
	}
}

func hasPassphrase(a executors.Account, apiKey string) bool {
	for _, sk := range a.SubKeys {
		if sk.APIKey == apiKey && !sk.Passphrase.IsZero() {
			return true
		}
	}
	return false
}
