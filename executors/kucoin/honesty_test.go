package kucoin

import (
	"context"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/internal/emulator"
	emkucoin "github.com/panicbutton/panicbutton/internal/emulator/kucoin"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// The tests of this file pin one rule: a step never reports done what was
// not verified. Each drives the executor against the emulator with a fault
// the executor used to read as success.

const (
	bot1Key = "6650c0ffee00000000000101"
	bot2Key = "6650c0ffee00000000000102"
)

// onFirstIntent runs fn once, when the first mutation is about to be
// sent: the reads before it are clean, the ones after it are not.
type onFirstIntent struct {
	executortest.RecordingHooks
	once sync.Once
	fn   func()
}

func (h *onFirstIntent) Intent(ctx context.Context, m executors.Mutation) error {
	h.once.Do(h.fn)
	return h.RecordingHooks.Intent(ctx, m)
}

// subKeyListDown answers the master's sub-key listing with a 503.
var subKeyListDown = emulator.Faults{Script: []emulator.ScriptFault{{Venue: emkucoin.SpotName, Method: "GET", Path: "/api/v1/sub/api-key",
	Count: 1000, Status: 503, Body: `{"code":"503000","msg":"Service unavailable"}`}}}

// TestRevokeUnconfirmedWhenRelistFails: the deletes are accepted but the
// confirming re-list fails. The deletes used to count as done (a finding
// only); they are unconfirmed: remaining, with a retryable error.
func TestRevokeUnconfirmedWhenRelistFails(t *testing.T) {
	srv, base := startEmulator(t, os.DirFS("testdata"), "state.yaml")
	x, err := New(conformanceAccount(base), executors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	hooks := &onFirstIntent{fn: func() { srv.SetFaults(subKeyListDown) }}
	res, err := x.Do(t.Context(), req(executors.KeysRevoke, executors.Params{"scope": "sub_accounts", "method": "delete"}, hooks))
	srv.SetFaults(emulator.Faults{})
	if err == nil || res.Status != executors.StatusFailed {
		t.Fatalf("revoke with the re-list down: got %s %q, err %v; want failed with an error", res.Status, res.Summary, err)
	}
	if !executors.Retryable(err) {
		t.Errorf("error class: got %s (%v), want retryable", executors.ClassOf(err), err)
	}
	if len(res.Changes) != 0 || len(res.Remaining) != 2 {
		t.Errorf("got %d changes and %d remaining, want 0 and 2 (nothing confirmed)", len(res.Changes), len(res.Remaining))
	}
	if len(hooks.Intents()) != 2 {
		t.Errorf("intents: got %d, want 2 (both deletes sent)", len(hooks.Intents()))
	}
}

// TestRevokeUpdateVerified: ip_lock and strip_permissions used to count as
// done on KuCoin's word. Here KuCoin answers success but changes nothing:
// the re-list must show it and the keys stay remaining.
func TestRevokeUpdateVerified(t *testing.T) {
	ignored := emulator.Faults{Script: []emulator.ScriptFault{{Venue: emkucoin.SpotName, Method: "POST", Path: "/api/v1/sub/api-key/update",
		Count: 1000, Status: 200, Body: `{"code":"200000","data":{}}`}}}
	for _, tc := range []struct {
		method string
		params executors.Params
		fault  bool
		want   executors.Status
	}{
		{"ip_lock", executors.Params{"ip_whitelist": []string{"192.0.2.10"}}, true, executors.StatusFailed},
		{"strip_permissions", nil, true, executors.StatusFailed},
		{"ip_lock", executors.Params{"ip_whitelist": []string{"192.0.2.10"}}, false, executors.StatusChanged},
		{"strip_permissions", nil, false, executors.StatusChanged},
	} {
		name := tc.method + " applied"
		if tc.fault {
			name = tc.method + " ignored by the venue"
		}
		t.Run(name, func(t *testing.T) {
			srv, base := startEmulator(t, os.DirFS("testdata"), "state.yaml")
			x, err := New(conformanceAccount(base), executors.Env{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.fault {
				srv.SetFaults(ignored)
			}
			p := executors.Params{"scope": "sub_accounts", "method": tc.method, "key_ids": []string{bot1Key}}
			for k, v := range tc.params {
				p[k] = v
			}
			res, err := x.Do(t.Context(), req(executors.KeysRevoke, p, &executortest.RecordingHooks{}))
			srv.SetFaults(emulator.Faults{})
			if res.Status != tc.want {
				t.Fatalf("%s: got %s %q, err %v; want %s", name, res.Status, res.Summary, err, tc.want)
			}
			wantDone, wantLeft := 1, 0
			if tc.fault {
				wantDone, wantLeft = 0, 1
				if err == nil {
					t.Error("want an error when the key is not in the wanted state")
				}
			} else if err != nil {
				t.Errorf("unexpected error: %v", err)
			}
			if len(res.Changes) != wantDone || len(res.Remaining) != wantLeft {
				t.Errorf("got %d changes, %d remaining; want %d and %d", len(res.Changes), len(res.Remaining), wantDone, wantLeft)
			}
		})
	}
}

// TestCancelAllLastRelistFailed: every cancel and every re-list fails
// (venue down) and the backoff sleep is interrupted. cancel_all used to
// report "changed … confirmed by re-listing"; it must fail.
func TestCancelAllLastRelistFailed(t *testing.T) {
	srv, base := startEmulator(t, os.DirFS("testdata"), "state.yaml")
	var stop atomic.Bool
	env := executors.Env{Sleep: func(ctx context.Context, d time.Duration) error {
		if stop.Load() {
			return context.Canceled
		}
		return executors.SleepContext(ctx, d)
	}}
	x, err := New(conformanceAccount(base), env)
	if err != nil {
		t.Fatal(err)
	}
	hooks := &onFirstIntent{fn: func() {
		srv.SetFaults(emulator.Faults{Down: []string{emkucoin.SpotName, emkucoin.FuturesName}})
		stop.Store(true)
	}}
	res, err := x.Do(t.Context(), req(executors.OrdersCancelAll, executors.Params{"confirm_timeout": 5 * time.Second}, hooks))
	srv.SetFaults(emulator.Faults{})
	if res.Status == executors.StatusChanged || err == nil {
		t.Fatalf("cancel_all with every re-list failing: got %s %q, err %v; want failed with an error", res.Status, res.Summary, err)
	}
	if strings.Contains(res.Summary, "confirmed by re-listing") {
		t.Errorf("summary %q claims a confirmation", res.Summary)
	}
	if len(res.Changes) != 0 {
		t.Errorf("changes: got %d, want 0 (no cancel confirmed)", len(res.Changes))
	}
}

// TestVerifyUnknownKeyNotDead: a key that is neither the account's own
// nor a known sub key (typo, masked id, another key of the master) used to
// be "rejected: absent-from-sub-keys". Absence proves nothing for it.
func TestVerifyUnknownKeyNotDead(t *testing.T) {
	for _, tc := range []struct{ name, key string }{
		{"typo", "6650c0ffee00000000000109"},
		{"masked id", secret.Mask(bot1Key)},
		{"the master's other key", "6650c0ffee00000000000002"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, base := startEmulator(t, os.DirFS("testdata"), "state.yaml")
			x, err := New(conformanceAccount(base), executors.Env{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := x.Do(t.Context(), req(executors.KeysVerifyRejected, executors.Params{"api_key": tc.key,
				"interval": 10 * time.Millisecond, "deadline": 50 * time.Millisecond}, nil))
			if res.Status == executors.StatusOK || res.Status == executors.StatusChanged {
				t.Fatalf("verify %s: got %s %q, want pending or failed", tc.name, res.Status, res.Summary)
			}
			if err == nil && res.Status != executors.StatusPending {
				t.Errorf("verify %s: got %s without an error, want pending", tc.name, res.Status)
			}
			if !strings.Contains(res.Summary, "cannot verify") {
				t.Errorf("summary %q does not say the key cannot be verified from this account", res.Summary)
			}
		})
	}
}

// TestVerifySeenSubKeyDead: a sub key seen listed earlier in the process
// (not in the accounts file) is proven deleted by its absence.
func TestVerifySeenSubKeyDead(t *testing.T) {
	_, base := startEmulator(t, os.DirFS("testdata"), "state.yaml")
	acct := conformanceAccount(base)
	acct.SubKeys = nil
	x, err := New(acct, executors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Do(t.Context(), req(executors.KeysInventory, nil, nil)); err != nil {
		t.Fatal(err)
	}
	// Deleted behind its back, as a human in the web UI would.
	other, err := New(conformanceAccount(base), executors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := other.Do(t.Context(), req(executors.KeysRevoke, executors.Params{"scope": "sub_accounts", "method": "delete",
		"key_ids": []string{bot2Key}}, &executortest.RecordingHooks{})); err != nil {
		t.Fatalf("delete: %v (%s)", err, res.Summary)
	}
	res, err := x.Do(t.Context(), req(executors.KeysVerifyRejected, executors.Params{"api_key": bot2Key,
		"interval": 10 * time.Millisecond, "deadline": time.Second}, nil))
	if err != nil || res.Status != executors.StatusOK {
		t.Errorf("verify: got %s %q, %v; want ok", res.Status, res.Summary, err)
	}
}
