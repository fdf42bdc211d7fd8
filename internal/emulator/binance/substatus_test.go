package binance_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"testing/fstest"
)

// subStatusState has one master whose sub-accounts cover every way a
// margin or futures account shows in the state, and a second master.
const subStatusState = `binance:
  prices: {BTCUSDT: 64000, ETHUSDT: 3200, BTCUSD_PERP: 64000}
  accounts:
    - name: m
      email: m@fund.example
      master: true
      keys:
        - {api_key: MKEY0000000000000000000000000000000000000000000001, secret: msecret000000000000000000000000000000000000000000001, permissions: [reading, spot]}
    - name: idle
      email: idle@fund.example
      parent: m
      keys:
        - {api_key: IDLEKEY00000000000000000000000000000000000000000001, secret: idlesecret00000000000000000000000000000000000000001, permissions: [reading, spot]}
      spot: {USDT: {free: 50, locked: 10}}
    - name: cross
      email: cross@fund.example
      parent: m
      margin: {USDT: 100}
    - name: iso
      email: iso@fund.example
      parent: m
      isolated: {BTCUSDT: {base: {free: 0.1}, quote: {free: 100}}}
    - name: usdm
      email: usdm@fund.example
      parent: m
      usdm: {USDT: 100}
    - name: coinm
      email: coinm@fund.example
      parent: m
      coinm: {BTC: 1}
    - name: orders
      email: orders@fund.example
      parent: m
      frozen: true
      orders:
        usdm: [{symbol: BTCUSDT, side: BUY, price: 60000, qty: 0.01}]
        margin: [{symbol: BTCUSDT, side: BUY, price: 60000, qty: 0.01}]
    - name: flagged
      email: flagged@fund.example
      parent: m
      margin_enabled: true
      futures_enabled: true
    - name: other
      email: other@fund.example
      master: true
    - name: otherSub
      email: othersub@fund.example
      parent: other
`

type subStatusRow struct {
	Email            string `json:"email"`
	IsSubUserEnabled bool   `json:"isSubUserEnabled"`
	IsUserActive     bool   `json:"isUserActive"`
	InsertTime       int64  `json:"insertTime"`
	IsMarginEnabled  bool   `json:"isMarginEnabled"`
	IsFutureEnabled  bool   `json:"isFutureEnabled"`
}

// TestSubAccountStatus: GET /sapi/v1/sub-account/status answers every
// sub-account of the caller (or the one named by email) with margin and
// futures enabled where the state gives it such an account, and refuses
// what the other sub-account routes refuse.
func TestSubAccountStatus(t *testing.T) {
	h := newHarness(t, fstest.MapFS{"s.yaml": {Data: []byte(subStatusState)}}, "s.yaml")
	m := h.creds("m")
	r := h.signed(m, http.MethodGet, "/sapi/v1/sub-account/status", nil, nil)
	if r.Status != 200 {
		t.Fatalf("got %d %s, want 200", r.Status, r.Body)
	}
	if got := r.Header.Get("X-Sapi-Used-Ip-Weight-1m"); got != "10" {
		t.Errorf("IP weight header = %q, want 10", got)
	}
	var rows []subStatusRow
	if err := json.Unmarshal(r.Body, &rows); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
	want := []struct {
		email           string
		margin, futures bool
		enabled         bool
	}{
		{"idle@fund.example", false, false, true},
		{"cross@fund.example", true, false, true},
		{"iso@fund.example", true, false, true},
		{"usdm@fund.example", false, true, true},
		{"coinm@fund.example", false, true, true},
		{"orders@fund.example", true, true, false},
		{"flagged@fund.example", true, true, true},
	}
	if len(rows) != len(want) {
		t.Fatalf("got %d rows %s, want %d (the other master's sub-account must not show)", len(rows), r.Body, len(want))
	}
	for i, w := range want {
		g := rows[i]
		if g.Email != w.email || g.IsMarginEnabled != w.margin || g.IsFutureEnabled != w.futures || g.IsSubUserEnabled != w.enabled || !g.IsUserActive || g.InsertTime == 0 {
			t.Errorf("row %d: got %+v, want %s margin %v futures %v enabled %v", i, g, w.email, w.margin, w.futures, w.enabled)
		}
	}

	one := h.signed(m, http.MethodGet, "/sapi/v1/sub-account/status", url.Values{"email": {"usdm@fund.example"}}, nil)
	rows = nil
	if err := json.Unmarshal(one.Body, &rows); err != nil || one.Status != 200 || len(rows) != 1 || rows[0].Email != "usdm@fund.example" || !rows[0].IsFutureEnabled {
		t.Errorf("email=usdm: got %d %s, want one row with futures enabled", one.Status, one.Body)
	}

	// The pinned SDK decodes the answer.
	sdk, err := h.spot(m).NewSubAccountMarginFuturesStatusService().Email("cross@fund.example").Do(context.Background())
	if err != nil || len(sdk) != 1 || !sdk[0].IsMarginEnabled || sdk[0].IsFutureEnabled {
		t.Errorf("go-binance: got %+v, %v; want cross@ with margin only", sdk, err)
	}

	tests := []struct {
		name       string
		c          cred
		email      string
		wantStatus int
		wantCode   int64
	}{
		{"unknown email", m, "nobody@fund.example", 400, -12002},
		{"another master's sub-account", m, "othersub@fund.example", 400, -12002},
		{"sub-account key", h.creds("idle"), "", 401, -1002},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{}
			if tt.email != "" {
				q.Set("email", tt.email)
			}
			r := h.signed(tt.c, http.MethodGet, "/sapi/v1/sub-account/status", q, nil)
			if r.Status != tt.wantStatus || r.code() != tt.wantCode {
				t.Errorf("got %d %s, want %d %d", r.Status, r.Body, tt.wantStatus, tt.wantCode)
			}
		})
	}
}
