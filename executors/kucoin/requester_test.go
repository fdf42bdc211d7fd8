package kucoin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/Kucoin/kucoin-go-sdk"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// A sub-key delete whose passphrase needs URL escaping is signed over the
// DECODED query (KuCoin's documented form), not the encoded one the SDK's
// DeleteSubApiKey signs.
func TestSubKeyDeleteSignsDecodedPassphrase(t *testing.T) {
	const subPass = "p@ss word!"
	const subAPIKey = "6650subkey00000000000001"
	f := newFakeVenue(t, 2)
	f.handle("GET /api/v1/user/api-key", func(seen) (int, any) {
		return ok(map[string]any{"apiKey": testKey, "isMaster": true, "permission": "General"})
	})
	f.handle("GET /api/v2/sub/user", func(seen) (int, any) {
		return ok(map[string]any{"currentPage": 1, "pageSize": 100, "totalNum": 1, "totalPage": 1,
			"items": []any{map[string]any{"userId": "u1", "subName": "bot1"}}})
	})
	deleted := false
	f.handle("GET /api/v1/sub/api-key", func(seen) (int, any) {
		if deleted {
			return ok([]any{})
		}
		return ok([]any{map[string]any{"subName": "bot1", "apiKey": subAPIKey, "permission": "General,Spot", "apiVersion": 2}})
	})
	f.handle("DELETE /api/v1/sub/api-key", func(r seen) (int, any) {
		if got := r.Query.Get("passphrase"); got != subPass {
			return fail(http.StatusBadRequest, "400100", "passphrase mismatch")
		}
		deleted = true
		return ok(map[string]any{"subName": "bot1", "apiKey": subAPIKey})
	})
	x := f.executor(t, executors.Env{}, executors.SubKey{Sub: "bot1", APIKey: subAPIKey, Passphrase: secret.New(subPass)})
	hooks := &executortest.RecordingHooks{}
	res, err := x.Do(t.Context(), req(executors.KeysRevoke, executors.Params{"method": "delete"}, hooks))
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if res.Status != executors.StatusChanged {
		t.Errorf("status: got %q (%s), want %q", res.Status, res.Summary, executors.StatusChanged)
	}
	var del seen
	for _, r := range f.requests() {
		if r.Method == http.MethodDelete {
			del = r
		}
	}
	if !strings.Contains(del.RawQuery, "passphrase=p%40ss+word%21") {
		t.Errorf("raw query: got %q, want the passphrase URL-encoded on the wire", del.RawQuery)
	}
	// The fake accepted the signature over the decoded form; the SDK's
	// encoded form would have been a different prehash.
	decoded := decodedQuery(del.Query)
	if !strings.Contains(decoded, "passphrase="+subPass) || decoded == del.RawQuery {
		t.Errorf("decoded query %q: want the raw passphrase, different from the wire form %q", decoded, del.RawQuery)
	}
	intents := hooks.Intents()
	if len(intents) != 1 || intents[0].ID != "delete-key:bot1:"+secret.Mask(subAPIKey) || !intents[0].Irreversible {
		t.Errorf("intents: got %+v, want one irreversible delete-key:bot1:%s", intents, secret.Mask(subAPIKey))
	}
	for _, m := range intents {
		for k, v := range m.Request {
			if strings.Contains(v, subPass) || strings.Contains(v, subAPIKey) {
				t.Errorf("mutation request summary %s=%q leaks the passphrase or full key", k, v)
			}
		}
	}
}

// The prehash of a query needing escaping differs between the documented
// (decoded) form and the SDK's encoded RequestURI.
func TestPrehashUsesDecodedQuery(t *testing.T) {
	qv := url.Values{"passphrase": {"p@ss word!"}, "apiKey": {"k1"}, "subName": {"bot 1"}}
	got := prehash("1700000000000", "delete", "/api/v1/sub/api-key", qv, "")
	want := "1700000000000DELETE/api/v1/sub/api-key?apiKey=k1&passphrase=p@ss word!&subName=bot 1"
	if got != want {
		t.Errorf("prehash: got %q, want %q", got, want)
	}
	r := sdk.NewRequest(http.MethodDelete, "/api/v1/sub/api-key", map[string]string{"passphrase": "p@ss word!", "apiKey": "k1", "subName": "bot 1"})
	if sdkForm := "1700000000000DELETE" + r.RequestURI(); sdkForm == got {
		t.Errorf("SDK RequestURI prehash %q equals the documented one; the workaround would be moot", sdkForm)
	}
}

// Key versions: v1 plaintext passphrase and no version header; v2 and v3
// the HMAC'd passphrase and their own version (the SDK can only send 2).
func TestKeyVersions(t *testing.T) {
	for _, v := range []int{1, 2, 3} {
		t.Run("v"+string(rune('0'+v)), func(t *testing.T) {
			f := newFakeVenue(t, v)
			f.handle("GET /api/v1/accounts", func(seen) (int, any) { return ok([]any{}) })
			x := f.executor(t, executors.Env{})
			if err := x.call(t.Context(), x.spot, "read", false, http.MethodGet, "/api/v1/accounts", nil, nil); err != nil {
				t.Fatalf("v%d request rejected: %v", v, err)
			}
			r := f.requests()[0]
			wantHeader := ""
			if v != 1 {
				wantHeader = string(rune('0' + v))
			}
			if got := r.Header.Get("KC-API-KEY-VERSION"); got != wantHeader {
				t.Errorf("KC-API-KEY-VERSION: got %q, want %q", got, wantHeader)
			}
			if v == 1 && r.Header.Get("KC-API-PASSPHRASE") != testPassphrase {
				t.Errorf("v1 passphrase: got %q, want plaintext", r.Header.Get("KC-API-PASSPHRASE"))
			}
			if v != 1 && r.Header.Get("KC-API-PASSPHRASE") == testPassphrase {
				t.Errorf("v%d passphrase: sent plaintext, want HMAC'd", v)
			}
		})
	}
}

// The clock sync overlaps the first requests: they are signed with the
// local clock, so against a venue clock an hour ahead the first one is
// rejected (400002), waits for a sync started after the rejection and is
// retried once; later requests use the offset. A later jump of the venue
// clock yields 400002, a resync and one retry again.
func TestServerTimeOffset(t *testing.T) {
	f := newFakeVenue(t, 3)
	f.handle("GET /api/v1/accounts", func(seen) (int, any) { return ok([]any{}) })
	x := f.executor(t, executors.Env{})
	for _, c := range []struct {
		name      string
		skew      time.Duration
		wantReads int // account requests sent by this call
	}{
		{"first request, venue clock an hour ahead", time.Hour, 2},
		{"offset learnt", time.Hour, 1},
		{"venue clock jumped", -time.Hour, 2},
		{"offset learnt again", -time.Hour, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			f.setSkew(c.skew)
			before := f.count(http.MethodGet, "/api/v1/accounts")
			_, _, _, rejected := x.ClockSkew()
			if err := x.call(t.Context(), x.spot, "read", false, http.MethodGet, "/api/v1/accounts", nil, nil); err != nil {
				t.Fatalf("request: %v, want it accepted (after a resync if needed)", err)
			}
			want := c.wantReads
			if _, _, _, r := x.ClockSkew(); c.name == "first request, venue clock an hour ahead" && r == rejected {
				want = 1 // on a busy machine the first sync can land before the request is signed
			}
			if got := f.count(http.MethodGet, "/api/v1/accounts") - before; got != want {
				t.Errorf("account requests: got %d, want %d", got, want)
			}
		})
	}
	if got := f.times(); got < 2 || got > 3 {
		t.Errorf("server-time requests: got %d, want 2 or 3 (the first sync, possibly overtaken by the first rejection, and one after the jump)", got)
	}
}

// A temporary key's executor adopts its master's server-clock offsets:
// against a venue clock an hour ahead its first request is accepted at
// once (no 400002, no retry), and it sends no server-time request of its
// own. A master that has not measured its clock passes nothing on.
func TestSubExecutorAdoptsTheMastersClock(t *testing.T) {
	f := newFakeVenue(t, 3)
	f.handle("GET /api/v1/accounts", func(seen) (int, any) { return ok([]any{}) })
	f.setSkew(time.Hour)
	x := f.executor(t, executors.Env{})
	fresh, err := x.subExecutor(testKey, secret.New(testSecret), secret.New(testPassphrase), 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.call(t.Context(), x.spot, "read", false, http.MethodGet, "/api/v1/accounts", nil, nil); err != nil {
		t.Fatalf("master: %v", err)
	}
	for _, c := range x.clocks {
		c.syncs.Wait()
	}
	times, reads := f.times(), f.count(http.MethodGet, "/api/v1/accounts")
	sub, err := x.subExecutor(testKey, secret.New(testSecret), secret.New(testPassphrase), 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.call(t.Context(), sub.spot, "read", false, http.MethodGet, "/api/v1/accounts", nil, nil); err != nil {
		t.Fatalf("temporary key: %v", err)
	}
	if got := f.count(http.MethodGet, "/api/v1/accounts") - reads; got != 1 {
		t.Errorf("the temporary key's read was sent %d times, want once (signed with the master's offset)", got)
	}
	if _, _, syncs, rejections := sub.ClockSkew(); syncs != 0 || rejections != 0 || f.times() != times {
		t.Errorf("temporary key: %d syncs, %d rejections, %d server-time requests, want none", syncs, rejections, f.times()-times)
	}
	// fresh was built before the master measured anything: it syncs.
	if err := fresh.call(t.Context(), fresh.spot, "read", false, http.MethodGet, "/api/v1/accounts", nil, nil); err != nil {
		t.Fatalf("executor built before the master's sync: %v", err)
	}
	for _, c := range fresh.clocks {
		c.syncs.Wait()
	}
	if _, _, syncs, _ := fresh.ClockSkew(); syncs == 0 {
		t.Error("executor built before the master's sync: no sync of its own, want one (it had no offset to adopt)")
	}
}

// countingTransport counts round trips over the default transport.
type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// The executor uses its own http.Client over env.Transport and never
// touches http.DefaultClient (which the SDK's BasicRequester mutates).
func TestPrivateHTTPClient(t *testing.T) {
	before := *http.DefaultClient
	f := newFakeVenue(t, 2)
	f.handle("GET /api/v1/accounts", func(seen) (int, any) { return ok([]any{}) })
	ct := &countingTransport{}
	var observed []int
	env := executors.Env{Transport: ct, Observer: func(account string, r *http.Request, resp *http.Response, err error) {
		if resp != nil {
			observed = append(observed, resp.StatusCode)
		}
	}}
	x := f.executor(t, env)
	if err := x.call(t.Context(), x.spot, "read", false, http.MethodGet, "/api/v1/accounts", nil, nil); err != nil {
		t.Fatal(err)
	}
	// The time sync runs in the background: give it a moment.
	for deadline := time.Now().Add(5 * time.Second); ct.n.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if got := ct.n.Load(); got != 2 {
		t.Errorf("round trips through env.Transport: got %d, want 2 (time sync and the request)", got)
	}
	if len(observed) != 1 || observed[0] != http.StatusOK {
		t.Errorf("observer saw statuses %v, want [200]", observed)
	}
	after := *http.DefaultClient
	if after.Transport != before.Transport || after.Timeout != before.Timeout {
		t.Errorf("http.DefaultClient changed: got transport %v timeout %v, want %v %v", after.Transport, after.Timeout, before.Transport, before.Timeout)
	}
}

// The pacer waits for the pool's reset instead of hitting 429 when
// gw-ratelimit-remaining is nearly exhausted; 429000 maps to ErrRateLimited
// with RetryAfter = gw-ratelimit-reset.
func TestRateLimitPacingAnd429(t *testing.T) {
	f := newFakeVenue(t, 2)
	f.headers.Set("gw-ratelimit-limit", "2000")
	f.headers.Set("gw-ratelimit-remaining", "12")
	f.headers.Set("gw-ratelimit-reset", "1500")
	f.handle("GET /api/v1/accounts", func(seen) (int, any) { return ok([]any{}) })
	sl := &sleeps{}
	x := f.executor(t, executors.Env{Sleep: sl.sleep})
	for i := 0; i < 2; i++ {
		if err := x.call(t.Context(), x.spot, "read", false, http.MethodGet, "/api/v1/accounts", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	ds := sl.all()
	if len(ds) != 1 || ds[0] <= time.Second || ds[0] > 1500*time.Millisecond {
		t.Errorf("pacing sleeps: got %v, want one of about 1.5s before the second request", ds)
	}

	f.handle("GET /api/v1/hf/orders/active/symbols", func(seen) (int, any) {
		return fail(http.StatusTooManyRequests, "429000", "Too Many Requests")
	})
	err := x.call(t.Context(), x.spot, "list", false, http.MethodGet, "/api/v1/hf/orders/active/symbols", nil, nil)
	if !errors.Is(err, executors.ErrRateLimited) {
		t.Fatalf("429000: got %v, want ErrRateLimited", err)
	}
	if d, _ := executors.RetryAfter(err); d != 1500*time.Millisecond {
		t.Errorf("RetryAfter: got %v, want 1.5s (gw-ratelimit-reset)", d)
	}
}

// panicTransport panics inside the SDK's Call, which recovers and returns
// (nil, nil).
type panicTransport struct{}

func (panicTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/api/v1/timestamp" {
		return nil, errors.New("no clock here")
	}
	panic("boom")
}

// Call swallows panics into (nil, nil): the executor must not read a nil
// response as success.
func TestNilResponseIsAnError(t *testing.T) {
	x, err := New(executors.Account{Name: "a", APIKey: secret.New(testKey), Secret: secret.New(testSecret),
		Passphrase: secret.New(testPassphrase), BaseURL: "http://127.0.0.1:1"}, executors.Env{Transport: panicTransport{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mutation bool
		want     error
	}{{false, executors.ErrTransient}, {true, executors.ErrUnknownOutcome}} {
		err := x.call(t.Context(), x.spot, "op", tc.mutation, http.MethodGet, "/api/v1/accounts", nil, nil)
		if !errors.Is(err, tc.want) {
			t.Errorf("mutation=%v: got %v, want class %v", tc.mutation, err, tc.want)
		}
	}
}

// The SDK's DeleteOcoOrders panics before Call (so no recover): the
// executor hand-builds the OCO cancel.
func TestOCOCancelIsHandBuilt(t *testing.T) {
	func() {
		defer func() {
			if recover() == nil {
				t.Error("sdk DeleteOcoOrders did not panic; the workaround may no longer be needed")
			}
		}()
		svc := sdk.NewApiService(sdk.ApiBaseURIOption("http://127.0.0.1:1"))
		_, _ = svc.DeleteOcoOrders(context.Background(), "BTC-USDT", "id1")
	}()

	f := newFakeVenue(t, 2)
	emptyPage := func(seen) (int, any) {
		return ok(map[string]any{"currentPage": 1, "pageSize": 500, "totalNum": 0, "totalPage": 0, "items": []any{}})
	}
	for _, r := range []string{"GET /api/v1/orders", "GET /api/v1/stop-order", "F GET /api/v1/orders", "F GET /api/v1/stopOrders"} {
		f.handle(r, emptyPage)
	}
	f.handle("GET /api/v1/hf/orders/active/symbols", func(seen) (int, any) { return ok(map[string]any{"symbols": []string{}}) })
	f.handle("GET /api/v3/hf/margin/order/active/symbols", func(seen) (int, any) { return ok(map[string]any{"symbols": []string{}}) })
	var cancelled atomic.Bool
	f.handle("GET /api/v3/oco/orders", func(seen) (int, any) {
		if cancelled.Load() {
			return emptyPage(seen{})
		}
		return ok(map[string]any{"currentPage": 1, "pageSize": 500, "totalNum": 1, "totalPage": 1,
			"items": []any{map[string]any{"orderId": "oco1", "symbol": "BTC-USDT", "status": "NEW"}}})
	})
	f.handle("DELETE /api/v3/oco/orders", func(r seen) (int, any) {
		if r.Query.Get("symbol") != "BTC-USDT" {
			return fail(http.StatusBadRequest, "400100", "symbol")
		}
		cancelled.Store(true)
		return ok(map[string]any{"cancelledOrderIds": []string{"oco1"}})
	})
	x := f.executor(t, executors.Env{})
	hooks := &executortest.RecordingHooks{}
	res, err := x.Do(t.Context(), req(executors.OrdersCancelAll, nil, hooks))
	if err != nil {
		t.Fatalf("cancel_all: %v", err)
	}
	if res.Status != executors.StatusChanged || len(res.Changes) != 1 || res.Changes[0].ID != "oco1" {
		t.Errorf("result: got %q %+v, want changed with the OCO order oco1", res.Status, res.Changes)
	}
	want := "cancel:oco:BTC-USDT@" + executors.OrderSetID([]string{"oco1"})
	if ids := hooks.Intents(); len(ids) != 1 || ids[0].ID != want {
		t.Errorf("intents: got %+v, want one %s", ids, want)
	}
}

// strip_permissions sends exactly subName, apiKey, passphrase, permission
// and the key's CURRENT ipWhitelist (the SDK's UpdateSubApiKey sends
// ipWhitelist:"" and expire:"", wiping the whitelist).
func TestStripPermissionsSendsOnlyIntendedFields(t *testing.T) {
	const subAPIKey = "6650subkey00000000000002"
	for _, tc := range []struct {
		name, whitelist string
		wantKeys        []string
	}{
		{"with whitelist", "10.1.1.1,10.1.1.2", []string{"apiKey", "ipWhitelist", "passphrase", "permission", "subName"}},
		{"without whitelist", "", []string{"apiKey", "passphrase", "permission", "subName"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeVenue(t, 2)
			f.handle("GET /api/v1/user/api-key", func(seen) (int, any) { return ok(map[string]any{"apiKey": testKey, "isMaster": true}) })
			f.handle("GET /api/v2/sub/user", func(seen) (int, any) {
				return ok(map[string]any{"totalPage": 1, "items": []any{map[string]any{"userId": "u2", "subName": "bot2"}}})
			})
			var perm atomic.Value // the key's permissions: the executor reads the strip back
			perm.Store("General,Spot,Transfer")
			f.handle("GET /api/v1/sub/api-key", func(seen) (int, any) {
				return ok([]any{map[string]any{"subName": "bot2", "apiKey": subAPIKey, "permission": perm.Load(), "ipWhitelist": tc.whitelist}})
			})
			var body map[string]any
			f.handle("POST /api/v1/sub/api-key/update", func(r seen) (int, any) {
				body = mustJSON(t, r.Body)
				perm.Store("General")
				return ok(map[string]any{"subName": "bot2", "apiKey": subAPIKey, "permission": "General"})
			})
			x := f.executor(t, executors.Env{}, executors.SubKey{Sub: "bot2", APIKey: subAPIKey, Passphrase: secret.New("bot2pass")})
			res, err := x.Do(t.Context(), req(executors.KeysRevoke, executors.Params{"method": "strip_permissions"}, nil))
			if err != nil || res.Status != executors.StatusChanged {
				t.Fatalf("strip: got %q %v, want changed", res.Status, err)
			}
			var keys []string
			for k := range body {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if !slices.Equal(keys, tc.wantKeys) {
				t.Errorf("update body fields: got %v, want %v", keys, tc.wantKeys)
			}
			if body["permission"] != "General" || body["passphrase"] != "bot2pass" {
				t.Errorf("update body: got permission %v, passphrase set %v; want General and the sub passphrase", body["permission"], body["passphrase"] != nil)
			}
			if tc.whitelist != "" && body["ipWhitelist"] != tc.whitelist {
				t.Errorf("ipWhitelist: got %v, want the existing %q preserved", body["ipWhitelist"], tc.whitelist)
			}
		})
	}
}

// orders.deadman sends "symbols" (the SDK's HfAutoCancelSetting sends
// "symbol", which the API ignores).
func TestDeadmanSendsSymbols(t *testing.T) {
	f := newFakeVenue(t, 2)
	var body map[string]any
	f.handle("POST /api/v1/hf/orders/dead-cancel-all", func(r seen) (int, any) {
		body = mustJSON(t, r.Body)
		return ok(map[string]any{"currentTime": 1700000000, "triggerTime": 1700000030})
	})
	x := f.executor(t, executors.Env{})
	res, err := x.Do(t.Context(), req(executors.OrdersDeadman, executors.Params{"products": []string{"spot"},
		"symbols": []string{"ETH-USDT", "BTC-USDT"}, "countdown": 30 * time.Second}, nil))
	if err != nil || res.Status != executors.StatusChanged {
		t.Fatalf("deadman: got %q %v, want changed", res.Status, err)
	}
	if body["symbols"] != "BTC-USDT,ETH-USDT" || body["timeout"] != float64(30) {
		t.Errorf("body: got %v, want symbols BTC-USDT,ETH-USDT and timeout 30", body)
	}
	if _, has := body["symbol"]; has {
		t.Errorf("body has the SDK's wrong field \"symbol\": %v", fmtKeys(body))
	}
}

func TestBaseURLs(t *testing.T) {
	tests := []struct {
		base, futures, wantBase, wantFutures string
	}{
		{"", "", ProductionBaseURL, ProductionFuturesBaseURL},
		{"http://127.0.0.1:9/kucoin", "", "http://127.0.0.1:9/kucoin", "http://127.0.0.1:9/kucoin-futures"},
		{"http://127.0.0.1:9/kucoin/", "", "http://127.0.0.1:9/kucoin", "http://127.0.0.1:9/kucoin-futures"},
		{"https://openapi-sandbox.example", "", "https://openapi-sandbox.example", ProductionFuturesBaseURL},
		{"http://a:1/kucoin", "http://b:2/f", "http://a:1/kucoin", "http://b:2/f"},
	}
	for _, tc := range tests {
		t.Run(tc.base, func(t *testing.T) {
			b, fu, err := baseURLs(tc.base, tc.futures)
			if err != nil || b != tc.wantBase || fu != tc.wantFutures {
				t.Errorf("baseURLs(%q, %q): got %q %q %v, want %q %q", tc.base, tc.futures, b, fu, err, tc.wantBase, tc.wantFutures)
			}
		})
	}
	if _, _, err := baseURLs("ftp://x", ""); err == nil {
		t.Error("baseURLs(ftp://x): got no error, want one")
	}
}

// A network failure on a sub-key delete must not leak the passphrase that
// travels in its query string.
func TestTransportErrorsHideQuery(t *testing.T) {
	x, err := New(executors.Account{Name: "a", APIKey: secret.New(testKey), Secret: secret.New(testSecret),
		Passphrase: secret.New(testPassphrase), BaseURL: "http://127.0.0.1:1"}, executors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	err = x.call(t.Context(), x.spot, "delete", true, http.MethodDelete, "/api/v1/sub/api-key", q("passphrase", "s3cret-pass", "apiKey", "k"), nil)
	if !errors.Is(err, executors.ErrUnknownOutcome) {
		t.Errorf("class: got %v, want ErrUnknownOutcome", err)
	}
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q leaks the passphrase", err)
	}
}

// The observer sees status and rate-limit headers but no credentials.
func TestObserverSeesNoCredentials(t *testing.T) {
	f := newFakeVenue(t, 1)
	f.headers.Set("gw-ratelimit-remaining", "1999")
	f.handle("DELETE /api/v1/sub/api-key", func(seen) (int, any) { return ok(nil) })
	var got []*http.Request
	var remaining []string
	x := f.executor(t, executors.Env{Observer: func(_ string, r *http.Request, resp *http.Response, _ error) {
		got = append(got, r)
		remaining = append(remaining, resp.Header.Get("gw-ratelimit-remaining"))
	}})
	err := x.call(t.Context(), x.spot, "delete", true, http.MethodDelete, "/api/v1/sub/api-key", q("passphrase", "sub-secret-pass", "apiKey", "k1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || remaining[0] != "1999" {
		t.Fatalf("observer calls: got %d with remaining %v, want 1 with 1999", len(got), remaining)
	}
	r := got[0]
	if strings.Contains(r.URL.String(), "sub-secret-pass") {
		t.Errorf("observed URL %q carries the passphrase", r.URL)
	}
	for _, h := range []string{"KC-API-KEY", "KC-API-SIGN", "KC-API-PASSPHRASE"} {
		if r.Header.Get(h) != "" {
			t.Errorf("observed header %s is set, want it removed", h)
		}
	}
	if sent := f.requests()[0]; sent.Query.Get("passphrase") != "sub-secret-pass" || sent.Header.Get("KC-API-PASSPHRASE") != testPassphrase {
		t.Error("redaction leaked into the request actually sent")
	}
}

// capture is an sdk.Requester that records the request and sends nothing.
type capture struct{ body string }

func (c *capture) Request(_ context.Context, r *sdk.Request, _ time.Duration) (*sdk.Response, error) {
	c.body = string(r.Body)
	return nil, errors.New("not sent")
}

// The SDK calls this package avoids send fields the API reads differently:
// UpdateSubApiKey always sends ipWhitelist and expire (an empty whitelist
// resets it), HfAutoCancelSetting sends "symbol" instead of "symbols".
func TestSDKBodiesThatNeedHandBuilding(t *testing.T) {
	c := &capture{}
	svc := sdk.NewApiService(sdk.ApiBaseURIOption("http://127.0.0.1:1"), sdk.ApiRequesterOption(c))
	_, _ = svc.UpdateSubApiKey(t.Context(), "bot1", "pass", "k1", "General", "", "")
	body := mustJSON(t, c.body)
	if _, ok := body["ipWhitelist"]; !ok {
		t.Errorf("SDK UpdateSubApiKey body %s: no ipWhitelist; the hand-built update may no longer be needed", c.body)
	}
	_, _ = svc.HfAutoCancelSetting(t.Context(), 30, "BTC-USDT")
	body = mustJSON(t, c.body)
	if _, ok := body["symbols"]; ok {
		t.Errorf("SDK HfAutoCancelSetting body %s sends symbols; the hand-built request may no longer be needed", c.body)
	}
}

// A temporary key's creation and deletion are charged before the creation,
// and the deletion's first attempt then goes without waiting for a drained pool;
// a second deletion (a retry) waits for the window like any request.
func TestPrepaidDeletionSkipsOneWait(t *testing.T) {
	if tempKeyWeight != 50 {
		t.Errorf("a temporary key is charged %d, want its creation's 20 + its deletion's 30", tempKeyWeight)
	}
	f := newFakeVenue(t, 2)
	f.headers.Set("gw-ratelimit-limit", "2000")
	f.headers.Set("gw-ratelimit-remaining", "12") // below the Management reserve
	f.headers.Set("gw-ratelimit-reset", "1500")
	f.handle("GET /api/v1/sub/api-key", func(seen) (int, any) { return ok([]any{}) })
	f.handle("DELETE /api/v1/sub/api-key", func(seen) (int, any) { return ok(nil) })
	sl := &sleeps{}
	x := f.executor(t, executors.Env{Sleep: sl.sleep})
	if err := x.call(t.Context(), x.spot, "list", false, http.MethodGet, pathSubAPIKey, q("subName", "s1"), nil); err != nil {
		t.Fatal(err)
	}
	del := func(ctx context.Context) {
		t.Helper()
		if err := x.call(ctx, x.spot, "delete", true, http.MethodDelete, pathSubAPIKey, q("subName", "s1", "apiKey", "k", "passphrase", "p"), nil); err != nil {
			t.Fatal(err)
		}
	}
	prepaid := withPrepaid(t.Context())
	del(prepaid)
	if ds := sl.all(); len(ds) != 0 {
		t.Errorf("the prepaid deletion waited %v, want no wait", ds)
	}
	del(prepaid) // its one free pass is spent
	if ds := sl.all(); len(ds) != 1 || ds[0] <= time.Second {
		t.Errorf("a second deletion waited %v, want about 1.5s for the window", ds)
	}
}

// A temporary key's creation waits for the Management pool before it is
// sent, in the caller's context: a pass ended meanwhile (the master key
// died) sends nothing and makes no key, instead of waiting out the window
// in a context nothing cancels.
func TestTempKeyCreationWaitEndsWithThePass(t *testing.T) {
	f := newFakeVenue(t, 2)
	f.headers.Set("gw-ratelimit-limit", "2000")
	f.headers.Set("gw-ratelimit-remaining", "12") // below the Management reserve
	f.headers.Set("gw-ratelimit-reset", "25000")
	f.handle("GET /api/v1/sub/api-key", func(seen) (int, any) { return ok([]any{}) })
	created := 0
	f.handle("POST /api/v1/sub/api-key", func(seen) (int, any) {
		created++
		return ok(map[string]any{"apiKey": "k", "apiSecret": "s", "apiVersion": 3})
	})
	blocked := make(chan struct{}, 1)
	x := f.executor(t, executors.Env{Sleep: func(ctx context.Context, _ time.Duration) error {
		blocked <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}})
	if err := x.call(t.Context(), x.spot, "list", false, http.MethodGet, pathSubAPIKey, q("subName", "s1"), nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-blocked; cancel() }() // the pass ends while the creation waits
	hooks := &executortest.RecordingHooks{}
	_, err := x.mintTempKey(ctx, req(executors.OrdersCancelAll, nil, hooks), "s1", nil)
	if err == nil || !strings.Contains(err.Error(), "not sent") {
		t.Errorf("mint: got %v, want not sent", err)
	}
	if created != 0 {
		t.Errorf("%d creations sent, want none", created)
	}
	var outs []error
	for _, r := range hooks.Records() {
		if r.Phase == executortest.PhaseOutcome {
			outs = append(outs, r.Err)
		}
	}
	if len(outs) != 1 || outs[0] == nil || !strings.Contains(outs[0].Error(), "not sent") {
		t.Errorf("outcomes %v, want the one saying nothing was sent", outs)
	}
}
