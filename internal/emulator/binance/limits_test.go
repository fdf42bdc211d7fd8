package binance_test

import (
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// withLimits is the test state with a limits section, so that tests
// reach the limits in a few requests.
func withLimits(t testing.TB, limits string) fs.FS {
	t.Helper()
	b, err := fs.ReadFile(testdataFS(), testState)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "binance:\n", "binance:\n  limits: "+limits+"\n", 1)
	return fstest.MapFS{testState: {Data: []byte(s)}}
}

func retryAfterSecs(t *testing.T, r reply) int {
	t.Helper()
	n, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil {
		t.Fatalf("Retry-After %q: %v", r.Header.Get("Retry-After"), err)
	}
	return n
}

// TestAPIWeightLimit: /api weight per IP per minute, 429 -1003 with
// Retry-After, then 418 bans for a client that keeps going, escalating.
func TestAPIWeightLimit(t *testing.T) {
	h := newHarness(t, withLimits(t, "{api_weight_1m: 50, ban: 2m}"), testState)
	h.alignMinute()
	m := h.creds("acme-master")
	steps := []struct {
		wantStatus int
		wantUsed   string
	}{
		{200, "20"}, {200, "40"}, {429, "60"}, {418, ""}, {418, ""},
	}
	for i, s := range steps {
		r := h.signed(m, http.MethodGet, "/api/v3/account", nil, nil)
		if r.Status != s.wantStatus {
			t.Fatalf("request %d: got %d %s, want %d", i+1, r.Status, r.Body, s.wantStatus)
		}
		if s.wantUsed != "" && r.Header.Get("X-MBX-USED-WEIGHT-1M") != s.wantUsed {
			t.Errorf("request %d: got used weight %q, want %s", i+1, r.Header.Get("X-MBX-USED-WEIGHT-1M"), s.wantUsed)
		}
		switch s.wantStatus {
		case 429:
			if r.code() != -1003 || !strings.Contains(string(r.Body), "current limit is 50 request weight per 1 MINUTE") {
				t.Errorf("429 body: got %s", r.Body)
			}
			if ra := retryAfterSecs(t, r); ra < 1 || ra > 60 {
				t.Errorf("429 Retry-After: got %d, want 1..60", ra)
			}
		case 418:
			if r.code() != -1003 || !strings.Contains(string(r.Body), "IP banned until") {
				t.Errorf("418 body: got %s", r.Body)
			}
			if ra := retryAfterSecs(t, r); ra < 110 || ra > 120 {
				t.Errorf("418 Retry-After: got %d, want about 120", ra)
			}
		}
	}
	// The ban covers every /api endpoint, public ones included, but not /sapi.
	if r := h.do(http.MethodGet, h.base+"/api/v3/time", "", ""); r.Status != 418 {
		t.Errorf("public endpoint during the ban: got %d, want 418", r.Status)
	}
	if r := h.signed(m, http.MethodGet, "/sapi/v1/account/apiRestrictions", nil, nil); r.Status != 200 {
		t.Errorf("/sapi during an /api ban: got %d %s, want 200", r.Status, r.Body)
	}
	// After the ban and a fresh window, a second offence bans for longer.
	h.advance(3 * time.Minute)
	m2 := h.creds("acme-master")
	for range 2 {
		h.signed(m2, http.MethodGet, "/api/v3/account", nil, nil)
	}
	if r := h.signed(m2, http.MethodGet, "/api/v3/account", nil, nil); r.Status != 429 {
		t.Fatalf("new window: got %d, want 429 first", r.Status)
	}
	r := h.signed(m2, http.MethodGet, "/api/v3/account", nil, nil)
	if r.Status != 418 || retryAfterSecs(t, r) < 230 {
		t.Errorf("second ban: got %d Retry-After %s, want 418 for about 4 minutes", r.Status, r.Header.Get("Retry-After"))
	}
}

// TestSAPIAndFuturesLimits: /sapi UID and IP endpoint budgets answer
// 429 and never 418; /fapi has its own per-IP budget.
func TestSAPIAndFuturesLimits(t *testing.T) {
	h := newHarness(t, withLimits(t, "{sapi_uid_weight_1m: 7000, sapi_ip_weight_1m: 25, fapi_weight_1m: 45}"), testState)
	h.alignMinute()
	m := h.creds("acme-master")
	q := url.Values{"email": {"locked@acme.example"}, "subAccountApiKey": {h.creds("acme-locked").APIKey}}
	for i, want := range []int{200, 200, 429, 429} {
		r := h.signed(m, http.MethodGet, "/sapi/v1/sub-account/subAccountApi/ipRestriction", q, nil)
		if r.Status != want {
			t.Fatalf("uid request %d: got %d %s, want %d", i+1, r.Status, r.Body, want)
		}
		if got, wantUsed := r.Header.Get("X-SAPI-USED-UID-WEIGHT-1M"), strconv.Itoa(3000*(i+1)); got != wantUsed {
			t.Errorf("uid request %d: got used %s, want %s", i+1, got, wantUsed)
		}
		if want == 429 && (r.code() != -1003 || r.Header.Get("Retry-After") == "") {
			t.Errorf("uid 429: got %s Retry-After %q", r.Body, r.Header.Get("Retry-After"))
		}
	}
	// Each IP-limited /sapi endpoint has its own budget.
	for i, want := range []int{200, 200, 429} {
		r := h.signed(m, http.MethodGet, "/sapi/v1/margin/account", nil, nil)
		if r.Status != want || r.Header.Get("X-SAPI-USED-IP-WEIGHT-1M") != strconv.Itoa(10*(i+1)) {
			t.Errorf("ip request %d: got %d used %s, want %d", i+1, r.Status, r.Header.Get("X-SAPI-USED-IP-WEIGHT-1M"), want)
		}
	}
	if r := h.signed(m, http.MethodGet, "/sapi/v1/margin/isolated/account", nil, nil); r.Status != 200 {
		t.Errorf("another /sapi endpoint: got %d, want 200", r.Status)
	}
	for i, want := range []int{200, 429, 429} {
		r := h.signed(m, http.MethodGet, "/fapi/v1/openOrders", nil, nil)
		if r.Status != want {
			t.Errorf("fapi request %d: got %d %s, want %d", i+1, r.Status, r.Body, want)
		}
	}
	_, err := h.futures(m).NewGetBalanceService().Do(bg)
	if apiCode(err) != -1003 {
		t.Errorf("SDK over the fapi limit: got %v, want -1003", err)
	}
}

// TestWithdrawHistoryPerSecond: withdraw history costs 18000 UID weight
// against a per-second budget (about ten calls a second).
func TestWithdrawHistoryPerSecond(t *testing.T) {
	h := newHarness(t, withLimits(t, "{sapi_uid_weight_1s: 40000}"), testState)
	m := h.creds("acme-master")
	now := time.Now()
	h.adv.Store(int64(now.Truncate(time.Second).Add(time.Second).Sub(now) + 50*time.Millisecond))
	for i, want := range []int{200, 200, 429} {
		r := h.signed(m, http.MethodGet, "/sapi/v1/capital/withdraw/history", nil, nil)
		if r.Status != want || r.Header.Get("X-SAPI-USED-UID-WEIGHT-1S") != strconv.Itoa(18000*(i+1)) {
			t.Errorf("request %d: got %d used %s, want %d", i+1, r.Status, r.Header.Get("X-SAPI-USED-UID-WEIGHT-1S"), want)
		}
	}
}
