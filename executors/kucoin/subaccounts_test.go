package kucoin

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/executors/internal/subacct"
	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/states"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// kcUser is what the tests read of a KuCoin user from the emulator's own
// state (GET /_emulator/state), not through the executor.
type kcUser struct {
	Name string `json:"name"`
	Keys []struct {
		APIKey     string `json:"api_key"`
		Remark     string `json:"remark"`
		Permission string `json:"permission"`
		IPs        string `json:"ip_whitelist"`
		Deleted    bool   `json:"deleted"`
	} `json:"keys"`
	Orders []struct {
		Status string `json:"status"`
	} `json:"orders"`
	FuturesOrders []struct {
		Status string `json:"status"`
	} `json:"futures_orders"`
	Subs []kcUser `json:"subs"`
}

func (u kcUser) open() int {
	n := 0
	for _, o := range u.Orders {
		if o.Status == "open" || o.Status == "active" {
			n++
		}
	}
	for _, o := range u.FuturesOrders {
		if o.Status == "open" || o.Status == "active" {
			n++
		}
	}
	return n
}

func kcMaster(t *testing.T, srv *emulator.Server) kcUser {
	t.Helper()
	data, err := json.Marshal(srv.State()["kucoin"])
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Masters []kcUser `json:"masters"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Masters) == 0 {
		t.Fatalf("no kucoin master in the state: %s", data)
	}
	return st.Masters[0]
}

func TestCancelSubAccountOrdersKuCoin(t *testing.T) {
	srv, base := startEmulator(t, states.FS, states.Demo)
	acct := demoAccount(t, srv, base)
	// mmbot01's key is configured with its secret: it is used, no key minted there.
	for i, sk := range acct.SubKeys {
		if sk.Sub == "mmbot01" {
			acct.SubKeys[i].Secret = secret.New("1f7e2d3c-4b5a-4968-8776-a5b4c3d2e1f0")
		}
	}
	before := kcMaster(t, srv)
	open := 0
	for _, s := range before.Subs {
		open += s.open()
	}
	if open == 0 {
		t.Fatalf("demo state: no open sub-account order; statuses %+v", before.Subs)
	}
	x, err := New(acct, executors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	hooks := &executortest.RecordingHooks{}
	res, err := x.Do(context.Background(), req(executors.OrdersCancelAll, executors.Params{"scope": executors.ScopeSubAccounts}, hooks))
	if err != nil {
		t.Fatalf("Do: %v (%s)", err, res.Summary)
	}
	after := kcMaster(t, srv)
	for _, s := range after.Subs {
		if n := s.open(); n != 0 {
			t.Errorf("sub %s: %d open orders left, want 0", s.Name, n)
		}
		for _, k := range s.Keys {
			if strings.HasPrefix(k.Remark, subacct.TempKeyPrefix) && !k.Deleted {
				t.Errorf("sub %s: temporary key %s alive", s.Name, k.Remark)
			}
		}
	}
	minted := map[string]string{}
	for _, r := range hooks.Records() {
		if r.Mutation.Kind == "create-temp-key" && r.Phase == executortest.PhaseIntent {
			minted[r.Mutation.Request["sub"]] = r.Mutation.Request["ipWhitelist"]
			if r.Mutation.Request["passphrase"] != secret.Redacted {
				t.Errorf("create-temp-key record carries a passphrase: %v", r.Mutation.Request)
			}
		}
	}
	if _, ok := minted["mmbot01"]; ok {
		t.Errorf("a key was minted on mmbot01 although its key is configured")
	}
	if len(minted) != 2 {
		t.Errorf("keys minted on %v, want arbbot02 and hedge03 (%s)", minted, res.Summary)
	}
	for sub, ip := range minted {
		if ip == "" || ip == "none" {
			t.Errorf("temporary key on %s not IP-restricted (my-ip not used)", sub)
		}
	}
	if !strings.Contains(res.Summary, "configured key") || !strings.Contains(res.Summary, "temporary key") {
		t.Errorf("summary %q: want the configured key and the temporary keys named", res.Summary)
	}
}

// TestSubAccountStepsSpareTheManagementPool: the steps that follow one
// another reuse the sub-account listing of the last 2 s, and a temporary
// key created on the first answer is not listed again once its probe
// proved it dead: each of those requests is a round trip on the step's
// path and 20 of the Management pool.
func TestSubAccountStepsSpareTheManagementPool(t *testing.T) {
	srv, base := startEmulator(t, states.FS, states.Demo)
	x, err := New(demoAccount(t, srv, base), executors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if res, err := x.Do(ctx, req(executors.KeysInventory, executors.Params{"include_sub_accounts": true}, nil)); err != nil {
		t.Fatalf("inventory: %v (%s)", err, res.Summary)
	}
	from := len(srv.Requests())
	// A withdraw-key revocation right after starts from the inventory's
	// listing of the keys: no listing before its deletions (its
	// confirming re-list after them is fresh).
	res, err := x.Do(ctx, req(executors.KeysRevoke, executors.Params{"scope": "sub_accounts", "method": "delete",
		"select": "withdraw_enabled"}, &executortest.RecordingHooks{}))
	if err != nil {
		t.Fatalf("withdraw-key revoke: %v (%s)", err, res.Summary)
	}
	if !strings.Contains(res.Summary, "sub keys as listed at ") {
		t.Errorf("summary %q: want it to say which listing the selection saw (keys created since are not in it)", res.Summary)
	}
	for _, e := range srv.Requests()[from:] {
		if e.Method == "DELETE" {
			break
		}
		if e.Path == "/api/v1/sub/api-key" {
			t.Errorf("the withdraw-key revocation listed the sub keys before deleting: want the inventory's listing reused")
			break
		}
	}
	from = len(srv.Requests())
	// A revocation right after: it lists the sub keys again (fresh),
	// but not the sub-accounts.
	if res, err := x.Do(ctx, req(executors.KeysRevoke, executors.Params{"scope": "sub_accounts", "method": "delete",
		"key_ids": []string{"000000000000000000000000"}}, &executortest.RecordingHooks{})); err != nil {
		t.Fatalf("revoke: %v (%s)", err, res.Summary)
	}
	subLists := 0
	for _, e := range srv.Requests()[from:] {
		if e.Path == "/api/v2/sub/user" {
			subLists++
		}
	}
	from = len(srv.Requests())
	if res, err := x.Do(ctx, req(executors.OrdersCancelAll, executors.Params{"scope": executors.ScopeSubAccounts}, &executortest.RecordingHooks{})); err != nil {
		t.Fatalf("cancel: %v (%s)", err, res.Summary)
	}
	lastDelete, listsAfter := -1, 0
	reqs := srv.Requests()[from:]
	for i, e := range reqs {
		if e.Method == "DELETE" && e.Path == "/api/v1/sub/api-key" {
			lastDelete = i
		}
	}
	for _, e := range reqs[lastDelete+1:] {
		if e.Method == "GET" && e.Path == "/api/v1/sub/api-key" {
			listsAfter++
		}
	}
	if subLists != 0 {
		t.Errorf("the revocation listed the sub-accounts %d times, want the inventory's listing reused", subLists)
	}
	if lastDelete < 0 || listsAfter != 0 {
		t.Errorf("after the last temporary key's deletion (#%d) the sub keys were listed %d times, want none", lastDelete, listsAfter)
	}
}
