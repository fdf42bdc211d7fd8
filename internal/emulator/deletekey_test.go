package emulator_test

import (
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

// POST /_emulator/delete-key deletes a key as the exchange's web UI does:
// from its next request the venue rejects it as an unknown key.
func TestAdminDeleteKey(t *testing.T) {
	cfg := emulator.Config{Loaders: venues.DefaultLoaders()}
	fsys, name := venues.DemoState()
	vs, err := emulator.LoadState(fsys, name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := emulator.New(cfg, vs)
	h := srv.Handler()
	keys := map[string]string{} // exchange -> master api key
	for _, v := range vs {
		if x, ok := emulator.Unwrap(v).(emu.Exporter); ok {
			for _, a := range x.ExportAccounts() {
				keys[a.Exchange] = a.APIKey
			}
		}
	}
	probe := map[string]func(key string) string{ // -> the body of a (badly signed) request with key
		"binance": func(key string) string {
			req := httptest.NewRequest(http.MethodGet, "/binance/api/v3/account?timestamp=1&signature=00", nil)
			req.Header.Set("X-MBX-APIKEY", key)
			return serve(h, req)
		},
		"kucoin": func(key string) string {
			req := httptest.NewRequest(http.MethodGet, "/kucoin/api/v1/accounts", nil)
			for k, v := range map[string]string{"KC-API-KEY": key, "KC-API-SIGN": "x", "KC-API-TIMESTAMP": strconv.FormatInt(time.Now().UnixMilli(), 10), "KC-API-PASSPHRASE": "x", "KC-API-KEY-VERSION": "3"} {
				req.Header.Set(k, v)
			}
			return serve(h, req)
		},
	}
	gone := map[string]string{"binance": "-2015", "kucoin": "400003"}
	for ex, key := range keys {
		if key == "" {
			t.Fatalf("%s: no exported master key", ex)
		}
		if body := probe[ex](key); strings.Contains(body, gone[ex]) {
			t.Fatalf("%s: key rejected as unknown before deletion: %s", ex, body)
		}
		if rec := get(t, h, http.MethodPost, "/_emulator/delete-key", `{"api_key":"`+key+`"}`, "127.0.0.1:1"); rec.Code != http.StatusOK {
			t.Fatalf("%s: delete-key: %d %s", ex, rec.Code, rec.Body)
		}
		if body := probe[ex](key); !strings.Contains(body, gone[ex]) {
			t.Errorf("%s: after delete-key, got %s, want %s", ex, body, gone[ex])
		}
		if rec := get(t, h, http.MethodPost, "/_emulator/delete-key", `{"api_key":"`+key+`"}`, "127.0.0.1:1"); rec.Code != http.StatusNotFound {
			t.Errorf("%s: deleting twice: got %d, want 404", ex, rec.Code)
		}
	}
}

func serve(h http.Handler, req *http.Request) string {
	req.RemoteAddr = "127.0.0.1:5000"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Body.String()
}
