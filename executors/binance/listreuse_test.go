package binance

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/executors/internal/budget"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

// TestRevokeStartsFromTheInventoryListing: listing a sub-account's keys
// costs UID weight 3000 of the master's 60 calls a minute, so keys.revoke
// (delete) starts from the inventory's listing made moments before, and
// its confirming re-list, which is fresh, catches a key created in
// between: that key is deleted too, in a further round.
func TestRevokeStartsFromTheInventoryListing(t *testing.T) {
	r, e := subFund(t, false)
	ctx := context.Background()
	if _, err := e.Do(ctx, executors.Request{Action: executors.KeysInventory, Step: "inventory", Params: executors.Params{"include_sub_accounts": true}}); err != nil {
		t.Fatalf("inventory: %v", err)
	}
	before := len(r.srv.Requests())
	// The attacker, holding the master key, creates a sub key after the
	// inventory listed them.
	var created struct {
		APIKey string `json:"apiKey"`
	}
	masterPost(t, r, "/sapi/v1/sub-account/subAccountApi", url.Values{"email": {"bot3@fund.example"}, "apiName": {"late"},
		"status": {"1"}, "canTrade": {"true"}}, &created)

	res, err := e.Do(ctx, executors.Request{Action: executors.KeysRevoke, Step: "revoke",
		Params: executors.Params{"scope": "sub_accounts", "method": "delete", "created_mid_run": true}})
	if err != nil {
		t.Fatalf("revoke: %v (%s)", err, res.Summary)
	}
	// Deleting started from the inventory's listing: no sub-account is
	// listed but by the confirming re-list of each round (two rounds:
	// the late key is deleted in the second), which the count below
	// bounds. (Listing before deleting would add a third listing of
	// each.)
	deletes, lists, subLists := 0, 0, 0
	for _, en := range r.srv.Requests()[before:] {
		if en.Kind == emu.KindAdmin || en.Key == subMasterKey && en.Method == http.MethodPost {
			continue
		}
		switch {
		case en.Path == "/sapi/v1/sub-account/list":
			subLists++
		case en.Method == http.MethodGet && en.Path == pathSubKeys:
			lists++
		case en.Method == http.MethodDelete && en.Path == pathSubKeys:
			deletes++
		}
	}
	if deletes == 0 {
		t.Fatal("revoke deleted nothing: the fixture has sub keys")
	}
	subs := 0
	for _, en := range r.srv.Requests()[:before] {
		if en.Method == http.MethodGet && en.Path == pathSubKeys {
			subs++ // the inventory lists each sub-account once
		}
	}
	if want := 2 * subs; subs == 0 || lists > want {
		t.Errorf("revoke listed %d times, want at most %d (a confirming re-list per sub-account and round)", lists, want)
	}
	if subLists != 0 {
		t.Errorf("revoke listed the sub-accounts %d times, want the inventory's listing (moments old) reused", subLists)
	}
	left := r.subKeys(t)
	if len(left) != 0 {
		t.Errorf("%d sub keys left after revoke, want 0 (the late key %s included)", len(left), mask(created.APIKey))
	}
	if res.Counts["done"] != res.Counts["targets"] || res.Counts["remaining"] != 0 {
		t.Errorf("counts %v: want every target done, none remaining", res.Counts)
	}
}

// TestPacerKnowsPathsBehindABasePath: behind a base URL with a path (the
// emulator's /binance, a proxy's prefix) requests are charged to the
// buckets of Binance's own paths, with their weights: before, every one
// fell to a catch-all bucket of weight 1, so the UID-limited key
// endpoints went out unpaced and drew 429s.
func TestPacerKnowsPathsBehindABasePath(t *testing.T) {
	r, e := subFund(t, false)
	if u, _ := url.Parse(e.acct.BaseURL); u.Path == "" {
		t.Fatalf("base URL %s has no path: the test needs one", e.acct.BaseURL)
	}
	if _, err := e.Do(context.Background(), executors.Request{Action: executors.KeysInventory, Step: "inventory", Params: executors.Params{"include_sub_accounts": true}}); err != nil {
		t.Fatalf("inventory: %v", err)
	}
	lists := 0
	for _, en := range r.srv.Requests() {
		if en.Method == http.MethodGet && en.Path == pathSubKeys {
			lists++
		}
	}
	used, limit := budget.Used(e.pacer.own, "sapi-uid:GET "+pathSubKeys)
	if lists == 0 || used != lists*weightSubKeyCall || limit == 0 {
		t.Errorf("key-list bucket: used %d of %d after %d listings, want %d (weight %d each)", used, limit, lists, lists*weightSubKeyCall, weightSubKeyCall)
	}
}

// TestRevokeAgainListsAfresh: a hold pass revokes again moments after the
// step did. The earlier listing shows nothing left to delete, and no
// re-list would follow, so the pass lists afresh: a key the attacker
// created since is found and deleted.
func TestRevokeAgainListsAfresh(t *testing.T) {
	r, e := subFund(t, false)
	ctx := context.Background()
	req := executors.Request{Action: executors.KeysRevoke, Step: "revoke",
		Params: executors.Params{"scope": "sub_accounts", "method": "delete", "created_mid_run": true}}
	if res, err := e.Do(ctx, req); err != nil {
		t.Fatalf("first revoke: %v (%s)", err, res.Summary)
	}
	if left := r.subKeys(t); len(left) != 0 {
		t.Fatalf("%d sub keys left after the first revoke", len(left))
	}
	var created struct {
		APIKey string `json:"apiKey"`
	}
	masterPost(t, r, "/sapi/v1/sub-account/subAccountApi", url.Values{"email": {"bot1@fund.example"}, "apiName": {"later"},
		"status": {"1"}, "canTrade": {"true"}}, &created)
	if res, err := e.Do(ctx, req); err != nil {
		t.Fatalf("second revoke: %v (%s)", err, res.Summary)
	}
	if left := r.subKeys(t); len(left) != 0 {
		t.Errorf("sub keys left after the second revoke: %v, want the new key %s deleted", left, mask(created.APIKey))
	}
}

// TestInventorySpareIPReads: with ip_reads spare the inventory reads only
// the IP restrictions the current minute has room for (each costs 3000 of
// the master's 180,000 UID weight a minute) and says which it left
// unread, so a fund with hundreds of sub keys does not hold the
// revocations behind minutes of report-only reads.
func TestInventorySpareIPReads(t *testing.T) {
	r, e := subFund(t, false)
	ctx := context.Background()
	// Spend the minute's budget of the endpoint but one call's worth.
	c := costOf(http.MethodGet, pathSubKeyIP, nil)
	for e.spareCalls(http.MethodGet, pathSubKeyIP) > 1 {
		rsv, err := e.pacer.wait(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		e.pacer.release(rsv)
	}
	res, err := e.Do(ctx, executors.Request{Action: executors.KeysInventory, Step: "inventory",
		Params: executors.Params{"include_sub_accounts": true, "ip_reads": "spare"}})
	if err != nil {
		t.Fatalf("inventory: %v (%s)", err, res.Summary)
	}
	reads := 0
	for _, en := range r.srv.Requests() {
		if en.Path == pathSubKeyIP {
			reads++
		}
	}
	if reads != 1 {
		t.Errorf("IP restriction reads = %d, want the 1 the minute had room for", reads)
	}
	keys, _ := res.Data.([]executors.Key)
	if len(keys) < 3 {
		t.Fatalf("inventory listed %d keys, want the master's and its sub keys", len(keys))
	}
	found := false
	for _, f := range res.Findings {
		found = found || strings.Contains(f.Message, fmt.Sprintf("not read for %s of %d", plural(len(keys)-2, "sub key"), len(keys)-1))
	}
	if !found {
		t.Errorf("no finding naming the unread IP restrictions: %+v", res.Findings)
	}
}

// TestRevokeSaysWhichListingItSaw: a revocation without created_mid_run
// that finds nothing to delete in the inventory's listing does not list
// again, and its summary says when the listing it saw was made (a key
// created since is the next created_mid_run step's).
func TestRevokeSaysWhichListingItSaw(t *testing.T) {
	_, e := subFund(t, false)
	ctx := context.Background()
	if _, err := e.Do(ctx, executors.Request{Action: executors.KeysInventory, Step: "inventory", Params: executors.Params{"include_sub_accounts": true}}); err != nil {
		t.Fatalf("inventory: %v", err)
	}
	res, err := e.Do(ctx, executors.Request{Action: executors.KeysRevoke, Step: "revoke",
		Params: executors.Params{"scope": "sub_accounts", "method": "delete", "key_ids": []string{"NOSUCHKEY0000000000000000000000000000000000000001"}}})
	if err != nil {
		t.Fatalf("revoke: %v (%s)", err, res.Summary)
	}
	if !strings.Contains(res.Summary, "sub keys as listed at ") {
		t.Errorf("summary %q: want the time of the listing the selection saw", res.Summary)
	}
}

// TestRevokeRelistsEachSubAccountAfterItsOwnDeletes: the confirming
// re-list of a sub-account's keys goes out once that sub-account's
// deletes are answered, not once every sub-account's are: both endpoints
// have a UID budget of 60 calls a minute, so at scale the re-lists wait
// for nothing but their own budget while the other deletes wait for the
// next window (at 16× the benchmark, two minutes earlier).
func TestRevokeRelistsEachSubAccountAfterItsOwnDeletes(t *testing.T) {
	r := startEmulator(t, "subaccounts.yaml", subMasterKey, subMasterSecret, "hmac")
	var armed atomic.Bool // from the revocation on
	keys := func(method string) func(*http.Request) bool {
		return func(r *http.Request) bool {
			return armed.Load() && r.Method == method && strings.HasSuffix(r.URL.Path, pathSubKeys)
		}
	}
	hold := &executortest.HoldUntil{Base: executors.SharedTransport(), Hold: keys(http.MethodDelete), After: keys(http.MethodGet), Timeout: 3 * time.Second}
	env := testEnv()
	env.Transport = hold
	e, err := New(r.acct, env)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The inventory lists first: the revocation starts from its listing,
	// so every listing it makes is a re-list.
	if _, err := e.Do(ctx, executors.Request{Action: executors.KeysInventory, Step: "inventory", Params: executors.Params{"include_sub_accounts": true}}); err != nil {
		t.Fatalf("inventory: %v", err)
	}
	armed.Store(true)
	res, err := e.Do(ctx, executors.Request{Action: executors.KeysRevoke, Step: "revoke",
		Params: executors.Params{"scope": "sub_accounts", "method": "delete"}})
	if err != nil {
		t.Fatalf("revoke: %v (%s)", err, res.Summary)
	}
	held, timedOut := hold.Result()
	if !held {
		t.Fatal("no sub-key delete was sent: the fixture has keys to delete")
	}
	if timedOut {
		t.Error("no sub-account was re-listed while one delete was unanswered: every re-list waited for every delete")
	}
	if left := r.subKeys(t); len(left) != 0 || res.Counts["remaining"] != 0 {
		t.Errorf("%d sub keys left, counts %v: want every key deleted and confirmed", len(left), res.Counts)
	}
}

// TestMidRunLookTakesTheReListsOfTheRevocationBefore: in the playbook,
// revoke-sub-keys (created_mid_run) follows revoke-withdraw-keys, whose
// confirming re-list has just listed every sub-account: it does not list
// them once more (at scale, a minute of that endpoint's budget), and its
// summary says which listings it saw. A look after a look for mid-run
// keys lists afresh (TestRevokeAgainListsAfresh).
func TestMidRunLookTakesTheReListsOfTheRevocationBefore(t *testing.T) {
	r, e := subFund(t, false)
	ctx := context.Background()
	if res, err := e.Do(ctx, executors.Request{Action: executors.KeysRevoke, Step: "revoke-withdraw-keys",
		Params: executors.Params{"scope": "sub_accounts", "method": "delete"}}); err != nil {
		t.Fatalf("first revoke: %v (%s)", err, res.Summary)
	}
	before := len(r.srv.Requests())
	res, err := e.Do(ctx, executors.Request{Action: executors.KeysRevoke, Step: "revoke-sub-keys",
		Params: executors.Params{"scope": "sub_accounts", "method": "delete", "created_mid_run": true}})
	if err != nil {
		t.Fatalf("mid-run revoke: %v (%s)", err, res.Summary)
	}
	lists := 0
	for _, en := range r.srv.Requests()[before:] {
		if en.Method == http.MethodGet && en.Path == pathSubKeys {
			lists++
		}
	}
	if lists != 0 {
		t.Errorf("the mid-run look listed %d sub-accounts again, want none: the revocation before had just re-listed them all", lists)
	}
	if !strings.Contains(res.Summary, "sub keys as listed since ") || !strings.Contains(res.Summary, "left to the hold") {
		t.Errorf("summary %q: want the time of the listings it took and who looks next", res.Summary)
	}
}
