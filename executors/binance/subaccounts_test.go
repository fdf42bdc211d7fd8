package binance

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/executors/internal/subacct"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// The keys of testdata/subaccounts.yaml.
const (
	subMasterKey    = "SUBMASTER000000000000000000000000000000000000001"
	subMasterSecret = "submastersecret0000000000000000000000000000000000000001"
	bot1Key         = "SUBBOT1KEY00000000000000000000000000000000000001"
	bot1Secret      = "subbot1secret000000000000000000000000000000000000001"
	bot2Key         = "SUBBOT2KEY00000000000000000000000000000000000001"
	bot2PEM         = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIODpqiPquEr0eieK4f3Ja+MXzY1odj+jISxkNnjARWJM\n-----END PRIVATE KEY-----\n"
)

// emuAccount is what the tests read of one account from the emulator's
// own state (GET /_emulator/state), not through the executor.
type emuAccount struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Keys  []struct {
		APIKey      string   `json:"api_key"`
		Label       string   `json:"label"`
		Permissions []string `json:"permissions"`
		IPRestrict  bool     `json:"ip_restrict"`
	} `json:"keys"`
	OpenOrders map[string][]json.RawMessage `json:"open_orders"`
}

func (a emuAccount) orders() int {
	n := 0
	for _, list := range a.OpenOrders {
		n += len(list)
	}
	return n
}

func emuAccounts(t *testing.T, r *emuRun) map[string]emuAccount {
	t.Helper()
	data, err := json.Marshal(r.srv.State()["binance"])
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Accounts []emuAccount `json:"accounts"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	out := map[string]emuAccount{}
	for _, a := range st.Accounts {
		out[a.Name] = a
	}
	return out
}

// tempKeysAlive lists the temporary keys the emulator still holds.
func tempKeysAlive(t *testing.T, r *emuRun) []string {
	t.Helper()
	var out []string
	for _, a := range emuAccounts(t, r) {
		for _, k := range a.Keys {
			if strings.HasPrefix(k.Label, subacct.TempKeyPrefix) {
				out = append(out, a.Name+":"+k.Label)
			}
		}
	}
	return out
}

func subFund(t *testing.T, configured bool) (*emuRun, *Executor) {
	t.Helper()
	r := startEmulator(t, "subaccounts.yaml", subMasterKey, subMasterSecret, "hmac")
	if configured {
		r.acct.SubKeys = []executors.SubKey{{Sub: "bot2@fund.example", APIKey: bot2Key, Secret: secret.New(bot2PEM), KeyType: "ed25519"}}
	}
	e, err := New(r.acct, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	return r, e
}

func cancelReq(h executors.Hooks, p executors.Params) executors.Request {
	return executors.Request{Action: executors.OrdersCancelAll, Step: "freeze", Params: p, Hooks: h}
}

// placeSpot places a spot limit order signed with a sub-account's own key,
// as an attacker holding that key would.
func placeSpot(t *testing.T, r *emuRun, key, sec, price string) int {
	t.Helper()
	form := url.Values{"symbol": {"BTCUSDT"}, "side": {"BUY"}, "type": {"LIMIT"}, "timeInForce": {"GTC"}, "quantity": {"0.01"}, "price": {price}}
	req, err := buildSigned(signParams{base: r.base, method: http.MethodPost, path: "/api/v3/order", form: form, apiKey: key,
		secret: sec, keyType: "HMAC", timestamp: time.Now().UnixMilli(), spotFamily: true})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.ReadAll(resp.Body)
	return resp.StatusCode
}

func TestCancelSubAccountOrders(t *testing.T) {
	r, e := subFund(t, true)
	before := emuAccounts(t, r)
	for _, name := range []string{"fund", "bot1", "bot2"} {
		if before[name].orders() == 0 {
			t.Fatalf("state: %s has no open order to cancel", name)
		}
	}
	h := &executortest.RecordingHooks{}
	res, err := e.Do(context.Background(), cancelReq(h, executors.Params{"scope": executors.ScopeAll}))
	if err != nil {
		t.Fatalf("Do: %v (%s)", err, res.Summary)
	}
	after := emuAccounts(t, r)
	for name, a := range after {
		if n := a.orders(); n != 0 {
			t.Errorf("%s: %d open orders left in the emulator, want 0", name, n)
		}
	}
	if alive := tempKeysAlive(t, r); len(alive) != 0 {
		t.Errorf("temporary keys still alive: %v", alive)
	}
	if got := len(after["bot1"].Keys); got != 1 {
		t.Errorf("bot1 keys = %d, want 1 (its own key is not this step's to delete)", got)
	}
	if res.Status != executors.StatusChanged || len(res.Remaining) != 0 {
		t.Errorf("status %s remaining %v, want changed and none (%s)", res.Status, res.Remaining, res.Summary)
	}
	// Audit order: on bot1 (no configured key) the temporary key's intent
	// and outcome come before any of its cancels and its deletion after;
	// bot2 uses its configured key, bot3 gets a key too (skip_idle off).
	var seq []string
	created := map[string]bool{}
	for _, rec := range h.Records() {
		m := rec.Mutation
		switch {
		case m.Kind == "create-temp-key" && rec.Phase == executortest.PhaseOutcome:
			if rec.Err != nil {
				t.Errorf("create-temp-key %s failed: %v", m.ID, rec.Err)
			}
			if m.Request["api_key"] == "" || strings.Contains(m.Request["api_key"], "0000000000") {
				t.Errorf("create-temp-key outcome names no masked key id: %v", m.Request)
			}
			created[m.Request["email"]] = true
		case m.Kind == "cancel-orders" && rec.Phase == executortest.PhaseIntent && strings.HasPrefix(m.ID, "sub:bot1@"):
			if !created["bot1@fund.example"] {
				t.Errorf("bot1 cancel %s sent before its temporary key was recorded", m.ID)
			}
		}
		if rec.Phase == executortest.PhaseIntent {
			seq = append(seq, m.Kind+" "+m.Request["email"]+m.Request["sub"])
		}
	}
	if !created["bot1@fund.example"] || !created["bot3@fund.example"] {
		t.Errorf("temporary keys created for %v, want bot1 and bot3", created)
	}
	if created["bot2@fund.example"] {
		t.Errorf("a temporary key was minted on bot2 although its key is configured")
	}
	deleted := 0
	for _, c := range res.Changes {
		if c.Kind == "delete-temp-key" {
			deleted++
			if !strings.Contains(c.Target, "rejected") {
				t.Errorf("delete-temp-key change %q does not name the probe's proof", c.Target)
			}
		}
	}
	if deleted != 2 {
		t.Errorf("deleted temporary keys = %d, want 2; intents: %v", deleted, seq)
	}
	for _, want := range []string{"bot2@fund.example", "configured key", "temporary key", "locked balances seen"} {
		if !strings.Contains(res.Summary, want) {
			t.Errorf("summary %q does not say %q", res.Summary, want)
		}
	}
	// No secret of the temporary key in any record.
	for _, rec := range h.Records() {
		for k, v := range rec.Mutation.Request {
			if strings.Contains(v, "PRIVATE KEY") || (k == "publicKey") {
				t.Errorf("record %s carries key material in %s", rec.Mutation.ID, k)
			}
		}
	}
}

func TestCancelSubAccountsDryRunMintsNothing(t *testing.T) {
	r, e := subFund(t, true)
	res, err := executors.DryRun(e).Do(context.Background(), cancelReq(nil, executors.Params{"scope": executors.ScopeSubAccounts}))
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if n := r.mutations(); n != 0 {
		t.Errorf("dry run sent %d mutations, want 0", n)
	}
	if alive := tempKeysAlive(t, r); len(alive) != 0 {
		t.Errorf("dry run minted keys: %v", alive)
	}
	if res.Status != executors.StatusWouldChange {
		t.Errorf("status %s, want would-change", res.Status)
	}
	for _, want := range []string{
		"bot1@fund.example: would mint a temporary trading-only key", "locked balances seen: 0.1 BTC, 2000 USDT",
		"bot2@fund.example: would cancel 2 orders", "configured key",
		"bot3@fund.example: would mint", "futures and margin orders",
	} {
		if !strings.Contains(res.Summary, want) {
			t.Errorf("summary %q does not say %q", res.Summary, want)
		}
	}
}

func TestCancelSubAccountsSkipIdle(t *testing.T) {
	r, e := subFund(t, true)
	res, err := e.Do(context.Background(), cancelReq(nil, executors.Params{"scope": executors.ScopeSubAccounts, "skip_idle": true}))
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if !strings.Contains(res.Summary, "bot3@fund.example: skipped (skip_idle") {
		t.Errorf("summary %q does not say bot3 was skipped", res.Summary)
	}
	if res.Counts["skipped"] != 1 {
		t.Errorf("skipped = %d, want 1", res.Counts["skipped"])
	}
	if n := emuAccounts(t, r)["bot1"].orders(); n != 0 {
		t.Errorf("bot1 orders = %d, want 0", n)
	}
}

// A hold re-runs the step every few seconds: a sub-account emptied before
// and unchanged since is not given a new key; one where the attacker
// placed an order (its locked balance changed) is.
func TestCancelSubAccountsRepeatOnlyWhereChanged(t *testing.T) {
	r, e := subFund(t, true)
	p := executors.Params{"scope": executors.ScopeSubAccounts}
	if _, err := e.Do(context.Background(), cancelReq(nil, p)); err != nil {
		t.Fatalf("first pass: %v", err)
	}
	h := &executortest.RecordingHooks{}
	res, err := e.Do(context.Background(), cancelReq(h, p))
	if err != nil {
		t.Fatalf("second pass: %v", err)
	}
	for _, rec := range h.Records() {
		if rec.Mutation.Kind == "create-temp-key" {
			t.Errorf("second pass minted a key on an unchanged sub-account: %s (%s)", rec.Mutation.ID, res.Summary)
		}
	}
	if status := placeSpot(t, r, bot1Key, bot1Secret, "41000"); status != http.StatusOK {
		t.Fatalf("attacker order: HTTP %d", status)
	}
	h = &executortest.RecordingHooks{}
	res, err = e.Do(context.Background(), cancelReq(h, p))
	if err != nil {
		t.Fatalf("third pass: %v (%s)", err, res.Summary)
	}
	minted := 0
	for _, rec := range h.Records() {
		if rec.Mutation.Kind == "create-temp-key" && rec.Phase == executortest.PhaseIntent {
			minted++
			if rec.Mutation.Request["email"] != "bot1@fund.example" {
				t.Errorf("minted on %s, want only bot1", rec.Mutation.Request["email"])
			}
		}
	}
	if minted != 1 {
		t.Errorf("third pass minted %d keys, want 1 (bot1 changed): %s", minted, res.Summary)
	}
	if n := emuAccounts(t, r)["bot1"].orders(); n != 0 {
		t.Errorf("bot1 orders after the third pass = %d, want 0", n)
	}
}

// cancelOnIntent cancels the run (Ctrl-C) when the first cancel of a
// sub-account is about to be sent.
type cancelOnIntent struct {
	executortest.RecordingHooks
	once   sync.Once
	cancel context.CancelFunc
}

func (h *cancelOnIntent) Intent(ctx context.Context, m executors.Mutation) error {
	if m.Kind == "cancel-orders" && strings.HasPrefix(m.ID, "sub:") {
		h.once.Do(h.cancel)
	}
	return h.RecordingHooks.Intent(ctx, m)
}

func TestCancelSubAccountsInterruptedDeletesTempKeys(t *testing.T) {
	r, e := subFund(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := &cancelOnIntent{cancel: cancel}
	res, err := e.Do(ctx, cancelReq(h, executors.Params{"scope": executors.ScopeSubAccounts}))
	if err == nil {
		t.Fatalf("interrupted step succeeded: %s", res.Summary)
	}
	if alive := tempKeysAlive(t, r); len(alive) != 0 {
		t.Errorf("temporary keys alive after Ctrl-C: %v", alive)
	}
	created, deleted := 0, 0
	for _, rec := range h.Records() {
		if rec.Phase != executortest.PhaseOutcome || rec.Err != nil {
			continue
		}
		switch rec.Mutation.Kind {
		case "create-temp-key":
			created++
		case "delete-temp-key":
			deleted++
		}
	}
	if created == 0 || created != deleted {
		t.Errorf("created %d temporary keys, deleted %d: want equal and > 0", created, deleted)
	}
}

// masterPost sends a signed POST as the master (as an attacker holding the
// master key would) and decodes the answer into v.
func masterPost(t *testing.T, r *emuRun, path string, form url.Values, v any) {
	t.Helper()
	req, err := buildSigned(signParams{base: r.base, method: http.MethodPost, path: path, form: form, apiKey: subMasterKey,
		secret: subMasterSecret, keyType: "HMAC", timestamp: time.Now().UnixMilli(), spotFamily: true})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: HTTP %d %s", path, resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

func TestRevokeKeyIDsNotFoundAndMidRunKeys(t *testing.T) {
	r, e := subFund(t, false)
	ctx := context.Background()
	if _, err := e.Do(ctx, executors.Request{Action: executors.KeysInventory, Step: "inventory"}); err != nil {
		t.Fatalf("inventory: %v", err)
	}
	// The attacker, holding the master key, creates a sub key mid-run.
	var created struct {
		APIKey string `json:"apiKey"`
	}
	masterPost(t, r, "/sapi/v1/sub-account/subAccountApi", url.Values{"email": {"bot3@fund.example"}, "apiName": {"innocent"},
		"status": {"1"}, "canTrade": {"true"}}, &created)

	tests := []struct {
		name        string
		params      executors.Params
		wantCode    string // a finding with this code
		wantDeleted []string
	}{
		{"unknown key", executors.Params{"key_ids": []string{"NOSUCHKEY0000000000000000000000000000000000000001"}, "match": "zzz"}, executors.FindingKeyNotFound, nil},
		{"own key", executors.Params{"key_ids": []string{subMasterKey}}, "", nil},
		{"selective with mid-run keys", executors.Params{"match": "zzz", "created_mid_run": true}, "", []string{created.APIKey}},
		{"sub key", executors.Params{"key_ids": []string{mask(bot1Key)}}, "", []string{bot1Key}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := executors.Params{"scope": "sub_accounts", "method": "delete"}
			for k, v := range tt.params {
				p[k] = v
			}
			res, err := e.Do(ctx, executors.Request{Action: executors.KeysRevoke, Step: "revoke", Params: p})
			if err != nil {
				t.Fatalf("revoke: %v (%s)", err, res.Summary)
			}
			var codes []string
			for _, f := range res.Findings {
				if f.Code != "" {
					codes = append(codes, f.Code)
					if !strings.Contains(f.Message, "not found on account fund") || strings.Contains(f.Message, "NOSUCHKEY000000000") {
						t.Errorf("finding message %q: want the masked key and the account", f.Message)
					}
				}
			}
			if got := strings.Join(codes, ","); got != tt.wantCode {
				t.Errorf("finding codes %q, want %q", got, tt.wantCode)
			}
			if tt.name == "own key" && len(res.Manual) == 0 {
				t.Errorf("own key: no manual step")
			}
			alive := map[string]bool{}
			for _, a := range emuAccounts(t, r) {
				for _, k := range a.Keys {
					alive[k.APIKey] = true
				}
			}
			for _, k := range tt.wantDeleted {
				if alive[k] {
					t.Errorf("key %s still alive", mask(k))
				}
			}
			if !alive[subMasterKey] {
				t.Errorf("master key gone")
			}
		})
	}
}
