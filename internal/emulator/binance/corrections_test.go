package binance_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// The answers below are the venue's own bodies as reported in the sources
// of EXCHANGES.md "Corrections" (C1–C4); the executors rely on them.

// TestCorrectionUnknownKeyOnSAPI (C1): an unknown or deleted calling key
// gets 400 -2008 "Invalid Api-Key ID." on /sapi, and 401 -2015 on /api and
// the futures APIs for the same key.
func TestCorrectionUnknownKeyOnSAPI(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	unknown := h.creds("acme-master")
	unknown.APIKey = strings.Repeat("Q", 64)
	tests := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/sapi/v1/account/apiRestrictions", 400, `{"code":-2008,"msg":"Invalid Api-Key ID."}`},
		{"/sapi/v1/sub-account/list", 400, `{"code":-2008,"msg":"Invalid Api-Key ID."}`},
		{"/api/v3/account", 401, `{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := h.signed(unknown, http.MethodGet, tt.path, nil, nil)
			if got := strings.TrimSpace(string(r.Body)); r.Status != tt.wantStatus || got != tt.wantBody {
				t.Errorf("got %d %s, want %d %s", r.Status, got, tt.wantStatus, tt.wantBody)
			}
		})
	}
	// A known key refused for its IP keeps -2015 on /sapi: only an
	// unknown key is -2008.
	locked := h.creds("acme-locked")
	r := h.signed(locked, http.MethodGet, "/sapi/v1/account/apiRestrictions", nil, nil)
	if r.Status != 401 || r.code() != -2015 {
		t.Errorf("IP-locked key on /sapi: got %d %s, want 401 -2015", r.Status, r.Body)
	}
}

// TestCorrectionNoSubAccountFunction (C2): an account without the
// sub-account function gets 400 -8012 from sub-account/list.
func TestCorrectionNoSubAccountFunction(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	r := h.signed(h.creds("acme-risky"), http.MethodGet, "/sapi/v1/sub-account/list", nil, nil)
	want := `{"code":-8012,"msg":"Sub-account function is not enabled."}`
	if got := strings.TrimSpace(string(r.Body)); r.Status != 400 || got != want {
		t.Errorf("got %d %s, want 400 %s", r.Status, got, want)
	}
	if r := h.signed(h.creds("acme-master"), http.MethodGet, "/sapi/v1/sub-account/list", nil, nil); r.Status != 200 {
		t.Errorf("master: got %d %s, want 200", r.Status, r.Body)
	}
}

// TestCorrectionUniversalTransferWeight (C4): a sub-account universal
// transfer costs IP weight 1 and UID weight 360, each reported in its
// header; the UID budget is the one that runs out.
func TestCorrectionUniversalTransferWeight(t *testing.T) {
	h := newHarness(t, withLimits(t, "{sapi_uid_weight_1m: 1000, sapi_ip_weight_1m: 12000}"), testState)
	h.alignMinute()
	m := h.creds("acme-master")
	form := url.Values{"fromEmail": {"risky@acme.example"}, "fromAccountType": {"SPOT"}, "toAccountType": {"SPOT"}, "asset": {"USDT"}, "amount": {"1"}}
	for i, want := range []int{200, 200, 429} {
		r := h.signed(m, http.MethodPost, "/sapi/v1/sub-account/universalTransfer", nil, form)
		if r.Status != want {
			t.Fatalf("transfer %d: got %d %s, want %d", i+1, r.Status, r.Body, want)
		}
		if want != 200 {
			if r.code() != -1003 || r.Header.Get("Retry-After") == "" {
				t.Errorf("transfer %d: got %s Retry-After %q, want -1003 with Retry-After", i+1, r.Body, r.Header.Get("Retry-After"))
			}
			continue
		}
		if got, w := r.Header.Get("X-SAPI-USED-IP-WEIGHT-1M"), strconv.Itoa(i+1); got != w {
			t.Errorf("transfer %d: IP weight used %s, want %s", i+1, got, w)
		}
		if got, w := r.Header.Get("X-SAPI-USED-UID-WEIGHT-1M"), strconv.Itoa(360*(i+1)); got != w {
			t.Errorf("transfer %d: UID weight used %s, want %s", i+1, got, w)
		}
	}
}

// TestCorrectionOpenAlgoOrdersWeight (C3): GET /fapi/v1/openAlgoOrders
// costs 1 with a symbol and 40 without.
func TestCorrectionOpenAlgoOrdersWeight(t *testing.T) {
	h := newHarness(t, testdataFS(), testState)
	h.alignMinute()
	m := h.creds("acme-master")
	r := h.signed(m, http.MethodGet, "/fapi/v1/openAlgoOrders", url.Values{"symbol": {"BTCUSDT"}}, nil)
	if r.Status != 200 || r.Header.Get("X-MBX-USED-WEIGHT-1M") != "1" {
		t.Fatalf("with symbol: got %d used %s, want 200 used 1", r.Status, r.Header.Get("X-MBX-USED-WEIGHT-1M"))
	}
	r = h.signed(m, http.MethodGet, "/fapi/v1/openAlgoOrders", nil, nil)
	if r.Status != 200 || r.Header.Get("X-MBX-USED-WEIGHT-1M") != "41" {
		t.Errorf("without symbol: got %d used %s, want 200 used 41", r.Status, r.Header.Get("X-MBX-USED-WEIGHT-1M"))
	}
}
