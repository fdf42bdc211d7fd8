package emulator_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
	"github.com/panicbutton/panicbutton/internal/emulator/venues"
)

// demoServer loads the demo fund and returns its handler and the exported
// master accounts by exchange.
func demoServer(t *testing.T) (http.Handler, map[string]emu.AccountExport) {
	t.Helper()
	cfg := emulator.Config{Loaders: venues.DefaultLoaders()}
	fsys, name := venues.DemoState()
	vs, err := emulator.LoadState(fsys, name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	accts := map[string]emu.AccountExport{}
	for _, v := range vs {
		if x, ok := emulator.Unwrap(v).(emu.Exporter); ok {
			for _, a := range x.ExportAccounts() {
				accts[a.Exchange] = a
			}
		}
	}
	return emulator.New(cfg, vs).Handler(), accts
}

// binanceRestrictions reads the key's own settings through the venue's API
// (GET /sapi/v1/account/apiRestrictions, HMAC-signed).
func binanceRestrictions(t *testing.T, h http.Handler, a emu.AccountExport, remote string) map[string]any {
	t.Helper()
	q := "timestamp=" + strconv.FormatInt(time.Now().UnixMilli(), 10)
	m := hmac.New(sha256.New, []byte(a.Secret))
	m.Write([]byte(q))
	req := httptest.NewRequest(http.MethodGet, "/binance/sapi/v1/account/apiRestrictions?"+q+"&signature="+hex.EncodeToString(m.Sum(nil)), nil)
	req.Header.Set("X-MBX-APIKEY", a.APIKey)
	req.RemoteAddr = remote
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("apiRestrictions: %d %s", rec.Code, rec.Body)
	}
	return out
}

// kucoinKeyInfo reads the key's own settings through the venue's API
// (GET /api/v1/user/api-key, signed with key version 3).
func kucoinKeyInfo(t *testing.T, h http.Handler, a emu.AccountExport, remote string) map[string]any {
	t.Helper()
	sign := func(s string) string {
		m := hmac.New(sha256.New, []byte(a.Secret))
		m.Write([]byte(s))
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	req := httptest.NewRequest(http.MethodGet, "/kucoin/api/v1/user/api-key", nil)
	for k, v := range map[string]string{"KC-API-KEY": a.APIKey, "KC-API-SIGN": sign(ts + "GET/api/v1/user/api-key"),
		"KC-API-TIMESTAMP": ts, "KC-API-PASSPHRASE": sign(a.Passphrase), "KC-API-KEY-VERSION": "3"} {
		req.Header.Set(k, v)
	}
	req.RemoteAddr = remote
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out struct {
		Code string         `json:"code"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Code != "200000" {
		t.Fatalf("api-key: %d %s", rec.Code, rec.Body)
	}
	return out.Data
}

// POST /_emulator/edit-key changes a key the way the venue's web UI does:
// the venue's own API then reports the new settings, and the key works
// from an IP that was not on its list once the restriction is lifted.
func TestAdminEditKey(t *testing.T) {
	h, accts := demoServer(t)
	bn, kc := accts["binance"], accts["kucoin"]

	if r := binanceRestrictions(t, h, bn, "127.0.0.1:1"); r["enableWithdrawals"] != false || r["ipRestrict"] != true {
		t.Fatalf("binance before: %v, want withdrawals off, IP-restricted", r)
	}
	if r := binanceRestrictions(t, h, bn, "198.51.100.7:1"); r["code"] == nil {
		t.Fatalf("binance from an IP not on the list: %v, want an error code", r)
	}
	rec := get(t, h, http.MethodPost, "/_emulator/edit-key", `{"api_key": "`+bn.APIKey+`", "withdrawals": true, "ips": []}`, "127.0.0.1:1")
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), bn.Secret) {
		t.Fatalf("edit-key: %d %s", rec.Code, rec.Body)
	}
	if r := binanceRestrictions(t, h, bn, "198.51.100.7:1"); r["enableWithdrawals"] != true || r["ipRestrict"] != false {
		t.Errorf("binance after, from any IP: %v, want withdrawals on, no IP restriction", r)
	}

	rec = get(t, h, http.MethodPost, "/_emulator/edit-key", `{"api_key": "`+kc.APIKey+`", "permissions": ["General", "Spot"], "withdrawals": true, "ips": ["203.0.113.5", "127.0.0.1"]}`, "127.0.0.1:1")
	if rec.Code != http.StatusOK {
		t.Fatalf("edit-key kucoin: %d %s", rec.Code, rec.Body)
	}
	if r := kucoinKeyInfo(t, h, kc, "127.0.0.1:1"); r["permission"] != "General,Spot,Transfer" || r["ipWhitelist"] != "203.0.113.5,127.0.0.1" {
		t.Errorf("kucoin after: permission %v, ipWhitelist %v; want General,Spot,Transfer and 203.0.113.5,127.0.0.1", r["permission"], r["ipWhitelist"])
	}

	for _, tt := range []struct {
		name, body string
		code       int
		want       string
	}{
		{"unknown key", `{"api_key": "nosuchkey0000", "ips": []}`, 404, "no such key"},
		{"nothing to change", `{"api_key": "` + kc.APIKey + `"}`, 400, "nothing to change"},
		{"unknown field", `{"api_key": "` + kc.APIKey + `", "withdrawal": true}`, 400, "unknown fields refused"},
		{"bad permission", `{"api_key": "` + bn.APIKey + `", "permissions": ["reading", "godmode"]}`, 400, "godmode"},
		{"bad IP", `{"api_key": "` + kc.APIKey + `", "ips": ["not-an-ip"]}`, 400, "not an IP address"},
		{"withdrawals on a kucoin sub key", `{"api_key": "6650a1b2c3d4e5f600000101", "withdrawals": true}`, 400, "a sub-account key cannot have the Transfer permission"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(t, h, http.MethodPost, "/_emulator/edit-key", tt.body, "127.0.0.1:1")
			if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.want) {
				t.Errorf("got %d %s, want %d containing %q", rec.Code, rec.Body, tt.code, tt.want)
			}
		})
	}
	if rec := get(t, h, http.MethodPost, "/_emulator/edit-key", `{"api_key": "`+kc.APIKey+`", "ips": []}`, "192.0.2.1:1"); rec.Code != http.StatusForbidden {
		t.Errorf("edit-key from a non-loopback client: %d, want 403", rec.Code)
	}
}

// POST /_emulator/create-key creates a key for a master or a sub-account;
// the new key signs requests like any other.
func TestAdminCreateKey(t *testing.T) {
	h, _ := demoServer(t)
	rec := get(t, h, http.MethodPost, "/_emulator/create-key",
		`{"venue": "binance", "account": "northwind-master", "api_key": "NewVerificationKey0001", "secret": "s3cret-for-the-test", "label": "verification", "permissions": ["reading", "spot", "withdrawals"]}`, "127.0.0.1:1")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"permissions":["reading","spot","withdrawals"]`) || strings.Contains(rec.Body.String(), "s3cret") {
		t.Fatalf("create-key binance: %d %s", rec.Code, rec.Body)
	}
	r := binanceRestrictions(t, h, emu.AccountExport{APIKey: "NewVerificationKey0001", Secret: "s3cret-for-the-test"}, "198.51.100.7:1")
	if r["enableWithdrawals"] != true || r["ipRestrict"] != false {
		t.Errorf("the new key's restrictions: %v, want withdrawals on and no IP restriction", r)
	}

	rec = get(t, h, http.MethodPost, "/_emulator/create-key",
		`{"venue": "kucoin", "account": "mmbot01", "api_key": "6650bad0000000000000beef", "secret": "sub-secret", "passphrase": "sub-pass", "permissions": ["Spot"]}`, "127.0.0.1:1")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"account":"mmbot01"`) {
		t.Fatalf("create-key kucoin sub: %d %s", rec.Code, rec.Body)
	}
	info := kucoinKeyInfo(t, h, emu.AccountExport{APIKey: "6650bad0000000000000beef", Secret: "sub-secret", Passphrase: "sub-pass"}, "127.0.0.1:1")
	if info["permission"] != "General,Spot" || info["isMaster"] != false {
		t.Errorf("the new sub key: %v, want General,Spot on a sub-account", info)
	}

	for _, tt := range []struct {
		name, body string
		code       int
		want       string
	}{
		{"unknown account", `{"venue": "kucoin", "account": "nobody"}`, 404, "nobody"},
		{"no venue", `{"account": "mmbot01"}`, 400, "venue and account required"},
		{"duplicate key", `{"venue": "kucoin", "account": "mmbot01", "api_key": "6650bad0000000000000beef"}`, 400, "already used"},
		{"withdrawals on a kucoin sub key", `{"venue": "kucoin", "account": "mmbot01", "permissions": ["Transfer"]}`, 400, "cannot have the Transfer permission"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(t, h, http.MethodPost, "/_emulator/create-key", tt.body, "127.0.0.1:1")
			if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.want) {
				t.Errorf("got %d %s, want %d containing %q", rec.Code, rec.Body, tt.code, tt.want)
			}
		})
	}
}
