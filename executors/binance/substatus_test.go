package binance

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// The keys of testdata/substatus.yaml.
const (
	statMasterKey    = "STATMASTER00000000000000000000000000000000000001"
	statMasterSecret = "statmastersecret000000000000000000000000000000001"
	statIdleKey      = "STATIDLEKEY0000000000000000000000000000000000001"
	statIdleSecret   = "statidlesecret00000000000000000000000000000000001"
	statQuietKey     = "STATQUIETKEY000000000000000000000000000000000001"
	statQuietSecret  = "statquietsecret0000000000000000000000000000000001"
)

const idleLine = "skipped (no order possible: margin and futures disabled, nothing locked in spot)"

// statusFund starts the emulator on testdata/substatus.yaml with quiet's
// key configured.
func statusFund(t *testing.T) (*emuRun, *Executor) {
	t.Helper()
	r := startEmulator(t, "substatus.yaml", statMasterKey, statMasterSecret, "hmac")
	r.acct.SubKeys = []executors.SubKey{{Sub: "quiet@fund.example", APIKey: statQuietKey, Secret: secret.New(statQuietSecret), KeyType: "hmac"}}
	e, err := New(r.acct, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	return r, e
}

// mintedOn lists, by e-mail, the sub-accounts a create-temp-key intent
// names.
func mintedOn(h *executortest.RecordingHooks) map[string]int {
	out := map[string]int{}
	for _, rec := range h.Records() {
		if rec.Mutation.Kind == "create-temp-key" && rec.Phase == executortest.PhaseIntent {
			out[rec.Mutation.Request["email"]]++
		}
	}
	return out
}

// touching lists the requests after seq that name email in their query or
// are signed with key, other than the master's read of its balances.
func touching(r *emuRun, since int64, email, key string) []string {
	var out []string
	for _, e := range r.srv.Requests() {
		if e.Seq <= since || e.Path == "/sapi/v4/sub-account/assets" {
			continue
		}
		if strings.Contains(e.Query, email) || strings.Contains(e.Query, strings.ReplaceAll(email, "@", "%40")) || (key != "" && e.Key == key) {
			out = append(out, e.Method+" "+e.Path+"?"+e.Query)
		}
	}
	return out
}

func lastSeq(r *emuRun) int64 {
	reqs := r.srv.Requests()
	if len(reqs) == 0 {
		return 0
	}
	return reqs[len(reqs)-1].Seq
}

// TestSubStatusSkipsIdleSubAccounts: a sub-account with margin and futures
// off and nothing locked in spot gets no key, configured or temporary;
// one with futures enabled or with locked funds gets a temporary key and
// is emptied.
func TestSubStatusSkipsIdleSubAccounts(t *testing.T) {
	r, e := statusFund(t)
	h := &executortest.RecordingHooks{}
	res, err := e.Do(context.Background(), cancelReq(h, executors.Params{"scope": executors.ScopeSubAccounts}))
	if err != nil {
		t.Fatalf("Do: %v (%s)", err, res.Summary)
	}
	accts := emuAccounts(t, r)
	for _, name := range []string{"futs", "locked"} {
		if n := accts[name].orders(); n != 0 {
			t.Errorf("%s: %d open orders left in the emulator, want 0", name, n)
		}
	}
	if alive := tempKeysAlive(t, r); len(alive) != 0 {
		t.Errorf("temporary keys still alive: %v", alive)
	}
	minted := mintedOn(h)
	if len(minted) != 2 || minted["futs@fund.example"] != 1 || minted["locked@fund.example"] != 1 {
		t.Errorf("temporary keys minted on %v, want one on futs and one on locked", minted)
	}
	if n := len(requestsTo(r, http.MethodPost, pathSubKeysV2)); n != 2 {
		t.Errorf("key creations in the emulator's log = %d, want 2", n)
	}
	if n := len(requestsTo(r, http.MethodGet, pathSubStatus)); n != 1 {
		t.Errorf("status reads = %d, want 1 for every sub-account", n)
	}
	for _, sub := range []struct{ email, key string }{{"idle@fund.example", ""}, {"quiet@fund.example", statQuietKey}} {
		if got := touching(r, 0, sub.email, sub.key); len(got) != 0 {
			t.Errorf("%s: requests sent for it: %v, want none beyond its balances", sub.email, got)
		}
		if !strings.Contains(res.Summary, sub.email+": "+idleLine) {
			t.Errorf("summary %q does not say %s was skipped as idle", res.Summary, sub.email)
		}
	}
	if !strings.Contains(res.Summary, "futs@fund.example: cancelled 1 order") || !strings.Contains(res.Summary, "futures are enabled on it") {
		t.Errorf("summary %q does not say futs was emptied because futures are enabled", res.Summary)
	}
	if res.Status != executors.StatusChanged || len(res.Remaining) != 0 || len(res.Findings) != 0 {
		t.Errorf("status %s remaining %v findings %v, want changed, none, none (%s)", res.Status, res.Remaining, res.Findings, res.Summary)
	}
	if res.Counts["skipped"] != 2 || res.Counts["clean"] != 2 {
		t.Errorf("counts %v, want skipped 2 (idle, quiet) and clean 2 (futs, locked)", res.Counts)
	}
}

// TestSubStatusHoldReinspects: a hold re-runs the step; the status and
// balances are read again each pass, so an idle sub-account where the
// attacker's key then locks funds with an order gets a key and is emptied.
func TestSubStatusHoldReinspects(t *testing.T) {
	r, e := statusFund(t)
	p := executors.Params{"scope": executors.ScopeSubAccounts}
	if res, err := e.Do(context.Background(), cancelReq(nil, p)); err != nil || !strings.Contains(res.Summary, "idle@fund.example: "+idleLine) {
		t.Fatalf("first pass: %v (%s), want idle skipped", err, res.Summary)
	}
	if status := placeSpot(t, r, statIdleKey, statIdleSecret, "41000"); status != http.StatusOK {
		t.Fatalf("attacker order on idle: HTTP %d", status)
	}
	h := &executortest.RecordingHooks{}
	res, err := e.Do(context.Background(), cancelReq(h, p))
	if err != nil {
		t.Fatalf("second pass: %v (%s)", err, res.Summary)
	}
	if minted := mintedOn(h); len(minted) != 1 || minted["idle@fund.example"] != 1 {
		t.Errorf("second pass minted on %v, want only idle (%s)", minted, res.Summary)
	}
	if n := emuAccounts(t, r)["idle"].orders(); n != 0 {
		t.Errorf("idle: %d open orders after the second pass, want 0", n)
	}
	if !strings.Contains(res.Summary, "locked balances seen: 410 USDT") {
		t.Errorf("summary %q does not say why idle was inspected", res.Summary)
	}
	if n := len(requestsTo(r, http.MethodGet, pathSubStatus)); n != 2 {
		t.Errorf("status reads = %d, want one per pass (2)", n)
	}
}

// TestSubStatusMissingEvidenceMints: when the status cannot be read, or
// a sub-account is missing from it, nothing is skipped on that account:
// a temporary key is minted as before.
func TestSubStatusMissingEvidenceMints(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault emulator.ScriptFault
		why   string
	}{
		{"status read refused", wafFault(http.MethodGet, pathSubStatus), "its margin/futures status could not be read"},
		{"sub-account missing from the answer", emulator.ScriptFault{Venue: "binance", Method: http.MethodGet, Path: pathSubStatus, Count: 1, Status: http.StatusOK,
			Body: `[{"email":"futs@fund.example","isSubUserEnabled":true,"isUserActive":true,"insertTime":1,"isMarginEnabled":false,"isFutureEnabled":true,"mobile":0}]`},
			"it is missing from the margin/futures status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, e := statusFund(t)
			r.srv.SetFaults(emulator.Faults{Script: []emulator.ScriptFault{tc.fault}})
			h := &executortest.RecordingHooks{}
			res, err := e.Do(context.Background(), cancelReq(h, executors.Params{"scope": executors.ScopeSubAccounts}))
			if err != nil {
				t.Fatalf("Do: %v (%s)", err, res.Summary)
			}
			if got := requestsTo(r, http.MethodGet, pathSubStatus); len(got) != 1 || got[0].Fault == "" {
				t.Fatalf("status reads %v, want one, answered by the fault", got)
			}
			if minted := mintedOn(h); minted["idle@fund.example"] != 1 {
				t.Errorf("minted on %v, want a key on idle too", minted)
			}
			if strings.Contains(res.Summary, "idle@fund.example: "+idleLine) {
				t.Errorf("summary %q skips idle without evidence", res.Summary)
			}
			if !strings.Contains(res.Summary, tc.why) {
				t.Errorf("summary %q does not say %q", res.Summary, tc.why)
			}
			if alive := tempKeysAlive(t, r); len(alive) != 0 {
				t.Errorf("temporary keys still alive: %v", alive)
			}
			if res.Status != executors.StatusChanged || len(res.Remaining) != 0 {
				t.Errorf("status %s remaining %v, want changed and none", res.Status, res.Remaining)
			}
		})
	}
}

// TestSubStatusDryRun: the dry run says which sub-accounts it would skip
// and why, and mints nothing.
func TestSubStatusDryRun(t *testing.T) {
	r, e := statusFund(t)
	since := lastSeq(r)
	res, err := executors.DryRun(e).Do(context.Background(), cancelReq(nil, executors.Params{"scope": executors.ScopeSubAccounts}))
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if n := r.mutations(); n != 0 {
		t.Errorf("dry run sent %d mutations, want 0", n)
	}
	for _, want := range []string{
		"idle@fund.example: would skip: no order possible: margin and futures disabled, nothing locked in spot",
		"quiet@fund.example: would skip: no order possible",
		"futs@fund.example: would mint a temporary trading-only key", "futures are enabled on it",
		"locked@fund.example: would mint", "locked balances seen: 500 USDT",
	} {
		if !strings.Contains(res.Summary, want) {
			t.Errorf("summary %q does not say %q", res.Summary, want)
		}
	}
	if got := touching(r, since, "quiet@fund.example", statQuietKey); len(got) != 0 {
		t.Errorf("dry run sent for quiet: %v, want nothing (its configured key is not needed)", got)
	}
	for _, en := range r.srv.Requests() {
		if en.Kind == emu.KindMutation {
			t.Errorf("dry run sent a mutation: %s %s", en.Method, en.Path)
		}
	}
}

// TestSubStatusNarrowsTheTemporaryKeysProducts: a temporary key lists
// only the products the status says the sub-account has: none of margin
// or futures on a spot-only sub-account (each futures list without a
// symbol costs 40 of the IP's 2400 a minute), no margin where only
// futures are enabled.
func TestSubStatusNarrowsTheTemporaryKeysProducts(t *testing.T) {
	r, e := statusFund(t)
	res, err := e.Do(context.Background(), cancelReq(&executortest.RecordingHooks{}, executors.Params{"scope": executors.ScopeSubAccounts}))
	if err != nil {
		t.Fatalf("Do: %v (%s)", err, res.Summary)
	}
	byAccount := map[string][]string{}
	for _, en := range r.srv.Requests() {
		byAccount[en.Account] = append(byAccount[en.Account], en.Path)
	}
	for _, tt := range []struct {
		sub       string
		forbidden []string
		needed    string
	}{
		{"locked", []string{"/fapi/", "/dapi/", "/sapi/v1/margin/"}, "/api/v3/openOrders"},
		{"futs", []string{"/sapi/v1/margin/"}, "/fapi/v1/openOrders"},
	} {
		paths := byAccount[tt.sub]
		if !slices.Contains(paths, tt.needed) {
			t.Errorf("%s: its temporary key never listed %s (requests %v)", tt.sub, tt.needed, paths)
		}
		for _, p := range paths {
			for _, f := range tt.forbidden {
				if strings.HasPrefix(p, f) {
					t.Errorf("%s: its temporary key sent %s, a product the status says it does not have", tt.sub, p)
				}
			}
		}
	}
}
