package binance

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// The tests of this file pin one rule: a step never reports done what was
// not verified. Each drives the executor against the emulator with a fault
// that used to be read as "nothing there".

const wafPage = `<html><head><title>403 Forbidden</title></head><body>Request blocked.</body></html>`

// wafFault answers every matching request with a 403 HTML page (a WAF
// block), not with Binance's JSON error body.
func wafFault(method, path string) emulator.ScriptFault {
	return emulator.ScriptFault{Venue: "binance", Method: method, Path: path, Count: 1000, Status: http.StatusForbidden,
		Body: wafPage, Headers: map[string]string{"Content-Type": "text/html"}}
}

// marginOrders counts the master's cross-margin open orders, read
// independently of the executor.
func (r *emuRun) marginOrders(t *testing.T) int {
	t.Helper()
	var list []map[string]any
	r.get(t, "/sapi/v1/margin/openOrders", nil, &list)
	return len(list)
}

// TestCancelAllListingRefusedIsNotAbsent: a persistent 403 WAF page on the
// cross-margin listing used to skip margin with an info finding, and the
// freeze (default, permission-derived products) reported "changed … none
// left" with the margin orders still open. The step must fail, retryably,
// without claiming any margin order, while still cancelling what it could
// list.
func TestCancelAllListingRefusedIsNotAbsent(t *testing.T) {
	r, e := newConfExecutor(t)
	r.srv.SetFaults(emulator.Faults{Script: []emulator.ScriptFault{wafFault("GET", "/sapi/v1/margin/openOrders")}})
	res, err := doAction(t, e, executors.OrdersCancelAll, nil, &executortest.RecordingHooks{})
	r.srv.SetFaults(emulator.Faults{})
	if res.Status == executors.StatusChanged || res.Status == executors.StatusOK || err == nil {
		t.Fatalf("cancel_all with margin unlistable: got %s %q, err %v; want failed with an error", res.Status, res.Summary, err)
	}
	if !executors.Retryable(err) {
		t.Errorf("error class: got %s (%v), want a retryable class", executors.ClassOf(err), err)
	}
	for _, c := range res.Changes {
		if c.Product == executors.ProductMargin {
			t.Errorf("change %q claims a margin order cancelled, want none (margin was never listed)", c.Target)
		}
	}
	if !strings.Contains(res.Summary, executors.ProductMargin) {
		t.Errorf("summary %q does not name the product whose orders are unknown", res.Summary)
	}
	if got := r.marginOrders(t); got != 2 {
		t.Errorf("margin orders in the emulator: got %d, want the 2 still open", got)
	}
	// The fault also hits the isolated listing (same path, isIsolated=TRUE):
	// only the 2 cross and 2 isolated margin orders may be left.
	if got := r.openOrders(t); got != 4 {
		t.Errorf("open orders after the freeze: got %d, want only the 4 unlistable margin orders left", got)
	}
}

// faultOnFirstIntent installs faults on the emulator when the first
// mutation is about to be sent: the initial listing is clean, the
// confirming re-list is not.
type faultOnFirstIntent struct {
	executortest.RecordingHooks
	once   sync.Once
	srv    *emulator.Server
	faults emulator.Faults
}

func (h *faultOnFirstIntent) Intent(ctx context.Context, m executors.Mutation) error {
	h.once.Do(func() { h.srv.SetFaults(h.faults) })
	return h.RecordingHooks.Intent(ctx, m)
}

// TestCancelAllConfirmRelistNeverSkips: the confirming re-list used to drop
// a product it could not list (403 WAF page) and count its orders as
// cancelled. The margin cancels are refused too here, so the orders really
// survive: the step must fail and name them (Remaining), not report
// "none left".
func TestCancelAllConfirmRelistNeverSkips(t *testing.T) {
	r, e := newConfExecutor(t)
	hooks := &faultOnFirstIntent{srv: r.srv, faults: emulator.Faults{Script: []emulator.ScriptFault{
		wafFault("GET", "/sapi/v1/margin/openOrders"),
		wafFault("DELETE", "/sapi/v1/margin/openOrders"),
	}}}
	res, err := doAction(t, e, executors.OrdersCancelAll, executors.Params{"confirm_timeout": time.Second}, hooks)
	r.srv.SetFaults(emulator.Faults{})
	if res.Status != executors.StatusFailed || err == nil {
		t.Fatalf("cancel_all with the re-list refused: got %s %q, err %v; want failed with an error", res.Status, res.Summary, err)
	}
	if got := r.marginOrders(t); got != 2 {
		t.Fatalf("margin orders in the emulator: got %d, want 2 (their cancels were refused)", got)
	}
	margin := 0
	for _, c := range res.Remaining {
		if c.Product == executors.ProductMargin {
			margin++
		}
	}
	if margin != 2 {
		t.Errorf("remaining margin orders: got %d, want 2 (outcome unconfirmed)", margin)
	}
	for _, c := range res.Changes {
		if c.Product == executors.ProductMargin {
			t.Errorf("change %q claims a margin order cancelled, want it unconfirmed", c.Target)
		}
	}
}

// TestRevokeSubAccountListRefusedIsNotNonMaster: a 403 WAF page (or any
// refusal but -1002) on the sub-account list used to read as "not a master
// account" and keys.revoke answered ok "nothing to do" with every sub key
// alive.
func TestRevokeSubAccountListRefusedIsNotNonMaster(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     emulator.ScriptFault
		retryable bool
	}{
		{"403 waf page", wafFault("GET", "/sapi/v1/sub-account/list"), true},
		{"another refusal", emulator.ScriptFault{Venue: "binance", Method: "GET", Path: "/sapi/v1/sub-account/list", Count: 1000,
			Status: http.StatusBadRequest, Body: `{"code":-1102,"msg":"Param 'page' must be a positive number."}`}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, e := newConfExecutor(t)
			r.srv.SetFaults(emulator.Faults{Script: []emulator.ScriptFault{tc.fault}})
			res, err := doAction(t, e, executors.KeysRevoke, executors.Params{"scope": "sub_accounts", "method": "delete"}, &executortest.RecordingHooks{})
			r.srv.SetFaults(emulator.Faults{})
			if err == nil || res.Status == executors.StatusOK || res.Status == executors.StatusChanged {
				t.Fatalf("keys.revoke with the sub-account list refused: got %s %q, err %v; want failed with an error", res.Status, res.Summary, err)
			}
			if got := executors.Retryable(err); got != tc.retryable {
				t.Errorf("retryable: got %v (%s: %v), want %v", got, executors.ClassOf(err), err, tc.retryable)
			}
			if got := len(r.subKeys(t)); got != 2 {
				t.Errorf("sub keys: got %d, want both untouched", got)
			}
		})
	}
}

// TestCancelAllNoMarginAccountSkipped: the one refusal that does mean "no
// margin orders" (-3003 "Margin account does not exist.") still skips the
// derived product with a finding, and the confirming re-list does not ask
// again.
func TestCancelAllNoMarginAccountSkipped(t *testing.T) {
	r, e := newConfExecutor(t)
	noMargin := func(path string) emulator.ScriptFault {
		return emulator.ScriptFault{Venue: "binance", Method: "GET", Path: path, Count: 1000, Status: http.StatusBadRequest,
			Body: `{"code":-3003,"msg":"Margin account does not exist."}`}
	}
	r.srv.SetFaults(emulator.Faults{Script: []emulator.ScriptFault{noMargin("/sapi/v1/margin/openOrders"), noMargin("/sapi/v1/margin/isolated/account")}})
	res, err := doAction(t, e, executors.OrdersCancelAll, nil, &executortest.RecordingHooks{})
	r.srv.SetFaults(emulator.Faults{})
	if err != nil || res.Status != executors.StatusChanged {
		t.Fatalf("cancel_all without a margin account: got %s %q, err %v; want changed", res.Status, res.Summary, err)
	}
	skipped := 0
	for _, f := range res.Findings {
		if strings.Contains(f.Message, "product skipped") {
			skipped++
		}
	}
	if skipped != 2 {
		t.Errorf("skip findings: got %d, want 2 (margin, isolated_margin): %+v", skipped, res.Findings)
	}
	if got := len(requestsTo(r, "GET", "/sapi/v1/margin/openOrders")); got != 1 {
		t.Errorf("cross-margin listings: got %d, want 1 (the skipped product is not re-listed)", got)
	}
}

// TestVerifyUnknownKeyNotDead: a key that is neither the account's own nor
// ever seen under a sub-account (a typo, a masked id, the master's other
// key) used to be "dead: absence". Absence proves nothing for it.
func TestVerifyUnknownKeyNotDead(t *testing.T) {
	for _, tc := range []struct {
		name, key string
	}{
		{"typo", "BOT1KEY000000000000000000000000000000000000000009"},
		{"masked id", secret.Mask(confSubKeyBot1)},
		{"the master's other key", "MASTERKEY0000000000000000000000000000000000000002"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, e := newConfExecutor(t)
			res, err := doAction(t, e, executors.KeysVerifyRejected, executors.Params{"api_key": tc.key,
				"interval": 10 * time.Millisecond, "deadline": 50 * time.Millisecond}, nil)
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

// TestVerifyKnownSubKeyDead: absence does prove deletion of a key seen
// listed earlier in the process, or named in the accounts file's sub_keys.
func TestVerifyKnownSubKeyDead(t *testing.T) {
	t.Run("seen earlier in the run", func(t *testing.T) {
		r, e := newConfExecutor(t)
		if _, err := doAction(t, e, executors.KeysInventory, nil, nil); err != nil {
			t.Fatal(err)
		}
		deleteSubKey(t, r, "bot1@fund.example", confSubKeyBot1)
		res, err := doAction(t, e, executors.KeysVerifyRejected, executors.Params{"api_key": confSubKeyBot1,
			"interval": 10 * time.Millisecond, "deadline": time.Second}, nil)
		if err != nil || res.Status != executors.StatusOK {
			t.Errorf("verify: got %s %q, %v; want ok", res.Status, res.Summary, err)
		}
	})
	t.Run("in the accounts file", func(t *testing.T) {
		r := startEmulator(t, "conformance.yaml", confMasterKey, confMasterSecret, "hmac")
		acct := r.acct
		acct.SubKeys = []executors.SubKey{{Sub: "bot1@fund.example", APIKey: confSubKeyBot1}}
		e, err := New(acct, testEnv())
		if err != nil {
			t.Fatal(err)
		}
		deleteSubKey(t, r, "bot1@fund.example", confSubKeyBot1)
		res, err := doAction(t, e, executors.KeysVerifyRejected, executors.Params{"api_key": confSubKeyBot1,
			"interval": 10 * time.Millisecond, "deadline": time.Second}, nil)
		if err != nil || res.Status != executors.StatusOK {
			t.Errorf("verify: got %s %q, %v; want ok", res.Status, res.Summary, err)
		}
	})
}

const confSubKeyBot1 = "BOT1KEY000000000000000000000000000000000000000001"

// deleteSubKey deletes a sub key behind the executor's back (another
// executor instance, as a human in the web UI would).
func deleteSubKey(t *testing.T, r *emuRun, email, key string) {
	t.Helper()
	other, err := New(r.acct, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	err = other.call(t.Context(), "delete sub key", true, func(ctx context.Context) error {
		_, err := other.signed(ctx, http.MethodDelete, pathSubKeys, nil, map[string][]string{"email": {email}, "subAccountApiKey": {key}})
		return err
	})
	if err != nil {
		t.Fatalf("delete %s: %v", secret.Mask(key), err)
	}
}

// TestRevokeIPLockAndStripVerified: ip_lock and strip_permissions used to
// be reported done on the venue's word. The venue here answers 200 but
// changes nothing: the re-read must show the key is not in the wanted
// state, and the step fails with it in Remaining.
func TestRevokeIPLockAndStripVerified(t *testing.T) {
	for _, tc := range []struct {
		method string
		params executors.Params
		path   string
	}{
		{"ip_lock", executors.Params{"ip_whitelist": []string{"10.9.9.9"}}, pathSubKeyIPv2},
		{"strip_permissions", nil, pathSubKeyPerms},
	} {
		t.Run(tc.method, func(t *testing.T) {
			r, e := newConfExecutor(t)
			p := executors.Params{"scope": "sub_accounts", "method": tc.method, "key_ids": []string{confSubKeyBot1}}
			for k, v := range tc.params {
				p[k] = v
			}
			r.srv.SetFaults(emulator.Faults{Script: []emulator.ScriptFault{{Venue: "binance", Method: "POST", Path: tc.path, Count: 1000,
				Status: 200, Body: `{}`}}})
			res, err := doAction(t, e, executors.KeysRevoke, p, &executortest.RecordingHooks{})
			r.srv.SetFaults(emulator.Faults{})
			if err == nil || res.Status != executors.StatusFailed {
				t.Fatalf("%s ignored by the venue: got %s %q, err %v; want failed with an error", tc.method, res.Status, res.Summary, err)
			}
			if len(res.Remaining) != 1 || len(res.Changes) != 0 {
				t.Errorf("%s: got %d changes, %d remaining; want 0 and 1", tc.method, len(res.Changes), len(res.Remaining))
			}
		})
	}
	// And when the venue does it, the re-read confirms it.
	for _, tc := range []struct {
		method string
		params executors.Params
	}{
		{"ip_lock", executors.Params{"ip_whitelist": []string{"10.9.9.9"}}},
		{"strip_permissions", nil},
	} {
		t.Run(tc.method+" confirmed", func(t *testing.T) {
			_, e := newConfExecutor(t)
			p := executors.Params{"scope": "sub_accounts", "method": tc.method, "key_ids": []string{confSubKeyBot1}}
			for k, v := range tc.params {
				p[k] = v
			}
			res, err := doAction(t, e, executors.KeysRevoke, p, &executortest.RecordingHooks{})
			if err != nil || res.Status != executors.StatusChanged || len(res.Changes) != 1 {
				t.Errorf("%s: got %s %q (%d changes), %v; want changed with 1", tc.method, res.Status, res.Summary, len(res.Changes), err)
			}
		})
	}
}
