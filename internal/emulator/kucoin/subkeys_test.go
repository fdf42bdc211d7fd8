package kucoin

import (
	"net/http"
	"testing"
	"time"

	kucoin "github.com/Kucoin/kucoin-go-sdk"
)

const subKeyState = `
symbols: [BTC-USDT]
masters:
  - name: boss
    keys:
      - {api_key: k-boss, secret: s-boss, passphrase: p-boss, version: 2, permission: General}
    subs:
      - name: bot1
        keys: [{api_key: k-bot1, secret: s-bot1, passphrase: p-bot1-pass, version: 2, permission: "General,Spot"}]
        balances:
          trade_hf: {USDT: "1000"}
`

var boss = creds{"k-boss", "s-boss", "p-boss", 2}

type createdKey struct {
	SubName, Remark, ApiKey, ApiSecret, Passphrase, Permission, IpWhitelist string
	ApiVersion                                                              int
	CreatedAt                                                               int64
}

func TestCreateSubKeyWorksAtOnce(t *testing.T) {
	h := newHarnessYAML(t, subKeyState)
	svc := h.client(SpotName, boss)
	// The SDK sends ipWhitelist and expire even when empty.
	rsp, err := svc.CreateSubApiKey(ctx, "bot1", "n3w-pass!", "incident temp", "General,Spot", "", "")
	k := data[createdKey](t, rsp, err)
	if k.SubName != "bot1" || k.ApiKey == "" || k.ApiSecret == "" || k.Passphrase != "n3w-pass!" || k.ApiVersion != 3 || k.Permission != "General,Spot" || k.Remark != "incident temp" {
		t.Fatalf("got %+v, want a v3 General,Spot key with its secret and passphrase", k)
	}
	if e := h.lastEntry(); e.Weight != 20 || e.Endpoint != "POST /api/v1/sub/api-key" {
		t.Errorf("got %s weight %d, want POST /api/v1/sub/api-key weight 20", e.Endpoint, e.Weight)
	}
	// It works at once, on what its permissions allow, with either
	// version header.
	for _, v := range []int{2, 3} {
		nk := h.client(SpotName, creds{k.ApiKey, k.ApiSecret, k.Passphrase, v})
		rsp, err = nk.HfPlaceOrder(ctx, map[string]string{"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "60000", "size": "0.001"})
		mustOK(t, rsp, err, nil)
	}
	// It is listed.
	rsp, err = svc.SubApiKey(ctx, "bot1", "")
	keys := data[[]kucoin.SubApiKeyModel](t, rsp, err)
	found := false
	for _, x := range keys {
		found = found || x.ApiKey == k.ApiKey
	}
	if len(keys) != 2 || !found {
		t.Errorf("sub keys: got %+v, want the old and the new key", keys)
	}
	// Deleting it needs its passphrase; afterwards it is dead.
	rsp, err = svc.DeleteSubApiKey(ctx, "bot1", "n3w-pass!", k.ApiKey)
	mustOK(t, rsp, err, nil)
	rsp, err = sdkCall(h.client(SpotName, creds{k.ApiKey, k.ApiSecret, k.Passphrase, 2}), "GET", "/api/v1/user/api-key", nil)
	wantCode(t, rsp, err, "400003")
}

func TestCreateSubKeyRules(t *testing.T) {
	h := newHarnessYAML(t, subKeyState)
	create := func(c creds, sub, pass, remark, perm, ips, expire string) func() (*kucoin.ApiResponse, error) {
		return func() (*kucoin.ApiResponse, error) {
			return h.client(SpotName, c).CreateSubApiKey(ctx, sub, pass, remark, perm, ips, expire)
		}
	}
	tests := []struct {
		name   string
		do     func() (*kucoin.ApiResponse, error)
		code   string
		status int
	}{
		{"passphrase too short", create(boss, "bot1", "abc123", "r", "General", "", ""), "400100", http.StatusBadRequest},
		{"passphrase too long", create(boss, "bot1", "abcdefghijklmnopqrstuvwxyz0123456", "r", "General", "", ""), "400100", http.StatusBadRequest},
		{"passphrase with a space", create(boss, "bot1", "pass word1", "r", "General", "", ""), "400100", http.StatusBadRequest},
		{"remark missing", create(boss, "bot1", "passw0rd", "", "General", "", ""), "400100", http.StatusBadRequest},
		{"remark too long", create(boss, "bot1", "passw0rd", "abcdefghijklmnopqrstuvwxy", "General", "", ""), "400100", http.StatusBadRequest},
		{"withdrawal permission", create(boss, "bot1", "passw0rd", "r", "General,Withdrawal", "", ""), "400100", http.StatusBadRequest},
		{"old withdrawal name", create(boss, "bot1", "passw0rd", "r", "General,Transfer", "", ""), "400100", http.StatusBadRequest},
		{"bad expiry", create(boss, "bot1", "passw0rd", "r", "General", "", "7"), "400100", http.StatusBadRequest},
		{"bad IP", create(boss, "bot1", "passw0rd", "r", "General", "not-an-ip", ""), "400100", http.StatusBadRequest},
		{"unknown sub", create(boss, "ghost", "passw0rd", "r", "General", "", ""), "400100", http.StatusBadRequest},
		{"sub key cannot create", create(creds{"k-bot1", "s-bot1", "p-bot1-pass", 2}, "bot1", "passw0rd", "r", "General", "", ""), "400007", http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rsp, err := tc.do()
			wantCode(t, rsp, err, tc.code)
			if got := rsp.HttpSuccessful(); got != (tc.status == http.StatusOK) {
				t.Errorf("got HTTP success %v, want HTTP %d", got, tc.status)
			}
		})
	}
	rsp, err := h.client(SpotName, boss).SubApiKey(ctx, "bot1", "")
	if keys := data[[]kucoin.SubApiKeyModel](t, rsp, err); len(keys) != 1 {
		t.Errorf("got %d keys after refusals, want 1", len(keys))
	}

	// An IP whitelist binds the new key; expiry ends it.
	rsp, err = create(boss, "bot1", "passw0rd", "far", "General,Futures", "203.0.113.7", "")()
	far := data[createdKey](t, rsp, err)
	if far.IpWhitelist != "203.0.113.7" || far.Permission != "General,Futures" {
		t.Errorf("got %+v, want the whitelist and General,Futures", far)
	}
	rsp, err = sdkCall(h.client(SpotName, creds{far.ApiKey, far.ApiSecret, far.Passphrase, 3}), "GET", "/api/v1/user/api-key", nil)
	wantCode(t, rsp, err, "400006")

	rsp, err = create(boss, "bot1", "passw0rd", "short-lived", "General", "", "30")()
	tmp := data[createdKey](t, rsp, err)
	tmpCreds := creds{tmp.ApiKey, tmp.ApiSecret, tmp.Passphrase, 3}
	if resp, m := h.raw(t, tmpCreds, "GET", "/api/v1/user/api-key", "", nil, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("fresh 30-day key: got HTTP %d %v, want 200", resp.StatusCode, m)
	}
	h.clock.SetSkew(31 * 24 * time.Hour)
	h.signSkew = 31 * 24 * time.Hour
	defer h.clock.SetSkew(0)
	if resp, m := h.raw(t, tmpCreds, "GET", "/api/v1/user/api-key", "", nil, ""); resp.StatusCode != http.StatusUnauthorized || m["code"] != "400003" {
		t.Errorf("after 31 days: got HTTP %d %v, want 401 400003", resp.StatusCode, m)
	}
	if resp, m := h.raw(t, boss, "GET", "/api/v1/user/api-key", "", nil, ""); resp.StatusCode != http.StatusOK {
		t.Errorf("the master key (no expiry) after 31 days: got HTTP %d %v", resp.StatusCode, m)
	}
}

func TestMyIP(t *testing.T) {
	h := newHarnessYAML(t, subKeyState)
	rsp, err := sdkCall(h.client(SpotName, boss), "GET", "/api/v1/my-ip", nil)
	if ip := data[string](t, rsp, err); ip != "127.0.0.1" {
		t.Errorf("got %q, want 127.0.0.1", ip)
	}
	if e := h.lastEntry(); e.Weight != 0 {
		t.Errorf("got weight %d, want 0", e.Weight)
	}
}
