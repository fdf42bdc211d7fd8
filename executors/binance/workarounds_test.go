package binance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// The documented margin cancel-all body: orderId is an integer.
const marginCancelBody = `[{"symbol":"BNBUSDT","isIsolated":false,"origClientOrderId":"E6AP","orderId":11,"orderListId":-1,
"clientOrderId":"pXLV","price":"0.089853","origQty":"0.178622","executedQty":"0.000000",
"cummulativeQuoteQty":"0.000000","status":"CANCELED","timeInForce":"GTC","type":"LIMIT","side":"BUY"}]`

func TestWorkaroundMarginCancelDecode(t *testing.T) {
	s := newStub(t)
	s.json("DELETE /sapi/v1/margin/openOrders", 200, marginCancelBody)
	e := s.executor(t)
	ctx := context.Background()
	// The bug is real: the SDK fails to decode a successful cancel.
	if _, err := e.spot.NewCancelAllMarginOrdersService().Symbol("BNBUSDT").Do(ctx); err == nil || !isDecodeError(err) {
		t.Fatalf("SDK margin cancel-all: got %v, want its JSON decode error", err)
	}
	// The executor treats the decode error after a 2xx as cancelled.
	for _, prod := range []string{executors.ProductMargin, executors.ProductIsolatedMargin} {
		if err := e.cancelSymbol(ctx, cancelGroup{product: prod, symbol: "BNBUSDT"}); err != nil {
			t.Errorf("%s cancel: got %v, want nil", prod, err)
		}
	}
	reqs := s.requests("DELETE", "/sapi/v1/margin/openOrders")
	if len(reqs) != 3 || reqs[2].Params.Get("isIsolated") != "TRUE" {
		t.Errorf("margin cancels: got %+v, want 3 with the last isolated", reqs)
	}
	// A 5xx is still an unknown outcome, not success.
	s.json("DELETE /sapi/v1/margin/openOrders", 503, `{"code":-1006,"msg":"unknown"}`)
	if err := e.cancelSymbol(ctx, cancelGroup{product: executors.ProductMargin, symbol: "BNBUSDT"}); !errors.Is(err, executors.ErrUnknownOutcome) {
		t.Errorf("margin cancel on 503: got %v, want unknown outcome", err)
	}
}

func TestWorkaroundEmptySpotBook(t *testing.T) {
	s := newStub(t)
	s.json("DELETE /api/v3/openOrders", 400, `{"code":-2011,"msg":"Unknown order sent."}`)
	e := s.executor(t)
	ctx := context.Background()
	if _, err := e.spot.NewCancelOpenOrdersService().Symbol("BTCUSDT").Do(ctx); apiCode(err) != codeCancelRejected {
		t.Fatalf("SDK spot cancel-all on an empty book: got %v, want -2011", err)
	}
	if err := e.cancelSymbol(ctx, cancelGroup{product: executors.ProductSpot, symbol: "BTCUSDT"}); err != nil {
		t.Errorf("executor spot cancel on an empty book: got %v, want nil (success)", err)
	}
	// Other rejections still fail.
	s.json("DELETE /api/v3/openOrders", 400, `{"code":-1121,"msg":"Invalid symbol."}`)
	if err := e.cancelSymbol(ctx, cancelGroup{product: executors.ProductSpot, symbol: "NOPE"}); !errors.Is(err, executors.ErrRejected) {
		t.Errorf("spot cancel with a bad symbol: got %v, want rejected", err)
	}
}

func TestWorkaroundCoinMNeverPair(t *testing.T) {
	s := newStub(t)
	s.json("GET /dapi/v1/openOrders", 200, `[{"symbol":"BTCUSD_PERP","pair":"BTCUSD","orderId":7,"type":"LIMIT","side":"BUY","price":"50000","origQty":"1","time":1}]`)
	e := s.executor(t)
	ctx := context.Background()
	// The bug is real: Pair() sends the symbol as the pair.
	if _, err := e.dlv.NewListOpenOrdersService().Symbol("BTCUSD_PERP").Pair("BTCUSD").Do(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.requests("GET", "/dapi/v1/openOrders")[0].Params.Get("pair"); got != "BTCUSD_PERP" {
		t.Fatalf("SDK Pair(BTCUSD) sent pair=%q; the bug this test guards against is gone, revisit", got)
	}
	orders, err := e.listCoinM(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := s.requests("GET", "/dapi/v1/openOrders")[1]
	if r.Params.Has("pair") || r.Params.Has("symbol") {
		t.Errorf("executor coinm list sent %q, want neither pair nor symbol (all symbols)", r.Query)
	}
	if len(orders) != 1 || orders[0].Symbol != "BTCUSD_PERP" || orders[0].Product != executors.ProductCoinM {
		t.Errorf("coinm orders: got %+v", orders)
	}
}

func TestWorkaroundAlgoOrders(t *testing.T) {
	s := newStub(t)
	s.json("GET /fapi/v1/openOrders", 200, `[{"symbol":"BTCUSDT","orderId":1,"type":"LIMIT","side":"BUY","price":"9000","origQty":"0.4","time":1}]`)
	s.json("GET /fapi/v1/openAlgoOrders", 200, `[{"algoId":900,"clientAlgoId":"a1","algoType":"CONDITIONAL","orderType":"STOP_MARKET","symbol":"ETHUSDT","side":"SELL","quantity":"2","triggerPrice":"1500","algoStatus":"NEW","createTime":1}]`)
	s.json("DELETE /fapi/v1/algoOpenOrders", 200, `{"code":200,"msg":"The operation of cancel all open order is done."}`)
	e := s.executor(t)
	ctx := context.Background()
	orders, err := e.listUSDM(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(orders) != 2 {
		t.Fatalf("usdm orders: got %d (%+v), want plain + algo", len(orders), orders)
	}
	groups := groupOrders(orders)
	var algo *cancelGroup
	for i := range groups {
		if groups[i].algo {
			algo = &groups[i]
		}
	}
	if algo == nil || algo.symbol != "ETHUSDT" || algo.id() != "cancel:usdm-algo:ETHUSDT" {
		t.Fatalf("algo group: got %+v", algo)
	}
	if err := e.cancelSymbol(ctx, *algo); err != nil {
		t.Fatalf("algo cancel: %v", err)
	}
	reqs := s.requests("DELETE", "/fapi/v1/algoOpenOrders")
	if len(reqs) != 1 || reqs[0].Params.Get("symbol") != "ETHUSDT" {
		t.Errorf("algo cancel requests: got %+v, want one for ETHUSDT", reqs)
	}
	if got := len(s.requests("DELETE", "/fapi/v1/allOpenOrders")); got != 0 {
		t.Errorf("plain cancels for the algo group: got %d, want 0", got)
	}
}

func TestWorkaroundCountdownCancelAll(t *testing.T) {
	s := newStub(t)
	s.json("GET /sapi/v1/account/apiRestrictions", 200, permJSON(true, true))
	s.json("GET /fapi/v1/openOrders", 200, `[{"symbol":"BTCUSDT","orderId":1,"type":"LIMIT","side":"BUY","price":"9000","origQty":"0.4","time":1}]`)
	s.json("GET /fapi/v1/openAlgoOrders", 200, `[]`)
	s.json("GET /dapi/v1/openOrders", 200, `[{"symbol":"BTCUSD_PERP","orderId":7,"type":"LIMIT","side":"BUY","price":"50000","origQty":"1","time":1}]`)
	s.json("POST /fapi/v1/countdownCancelAll", 200, `{"symbol":"BTCUSDT","countdownTime":"90000"}`)
	s.json("POST /dapi/v1/countdownCancelAll", 200, `{"symbol":"BTCUSD_PERP","countdownTime":"90000"}`)
	e := s.executor(t)
	hooks := &executortest.RecordingHooks{}
	res, err := e.Do(context.Background(), executors.Request{Action: executors.OrdersDeadman, Hooks: hooks,
		Params: executors.Params{"products": []string{"futures"}, "countdown": 90 * time.Second}})
	if err != nil {
		t.Fatalf("deadman: %v", err)
	}
	if res.Status != executors.StatusChanged || len(res.Changes) != 2 {
		t.Errorf("deadman: got %s %q with %d changes, want changed with 2", res.Status, res.Summary, len(res.Changes))
	}
	for _, p := range []string{"/fapi/v1/countdownCancelAll", "/dapi/v1/countdownCancelAll"} {
		reqs := s.requests("POST", p)
		if len(reqs) != 1 || reqs[0].Params.Get("countdownTime") != "90000" {
			t.Errorf("%s: got %+v, want one with countdownTime=90000", p, reqs)
		}
	}
	if got := len(hooks.Intents()); got != 2 {
		t.Errorf("intents: got %d, want 2", got)
	}
	if err := hooks.Check(); err != nil {
		t.Error(err)
	}
}

// subKeyStub answers the sub-account key endpoints for two subs.
func subKeyStub(t *testing.T) *stub {
	s := newStub(t)
	s.json("GET /sapi/v1/sub-account/list", 200, `{"subAccounts":[{"email":"bot1@fund.example","createTime":1},{"email":"bot2@fund.example","createTime":1}]}`)
	var mu sync.Mutex
	keys := map[string][]string{"bot1@fund.example": {"SUBKEYBOT1aaaaaaaaaaaaaaaaaaaa"}, "bot2@fund.example": {"SUBKEYBOT2bbbbbbbbbbbbbbbbbbbb"}}
	// What the venue holds: the executor reads ip_lock and strip back.
	stripped := map[string]bool{}
	ipLists := map[string][]string{}
	s.handle("GET /sapi/v1/sub-account/subAccountApi", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		email := r.URL.Query().Get("email")
		var rows []map[string]any
		for _, k := range keys[email] {
			rows = append(rows, map[string]any{"email": email, "apiName": "bot", "apikey": k, "canTrade": !stripped[k], "canFuturesTrade": false, "canUniversalTransfer": !stripped[k], "timestamp": 1})
		}
		writeJSON(w, 200, map[string]any{"total": len(rows), "rows": rows})
	})
	s.handle("DELETE /sapi/v1/sub-account/subAccountApi", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		p := stubParams(r)
		email, key := p.Get("email"), p.Get("subAccountApiKey")
		var left []string
		for _, k := range keys[email] {
			if k != key {
				left = append(left, k)
			}
		}
		keys[email] = left
		writeJSON(w, 200, map[string]any{})
	})
	s.handle("GET /sapi/v1/sub-account/subAccountApi/ipRestriction", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		ips := ipLists[r.URL.Query().Get("subAccountApiKey")]
		writeJSON(w, 200, map[string]any{"ipRestrict": strconv.FormatBool(len(ips) > 0), "ipList": append([]string{}, ips...), "updateTime": 1, "apiKey": "x"})
	})
	s.handle("POST /sapi/v2/sub-account/subAccountApi/ipRestriction", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		p := stubParams(r)
		ipLists[p.Get("subAccountApiKey")] = strings.Split(p.Get("ipAddress"), ",")
		writeJSON(w, 200, map[string]any{"status": "2", "ipList": ipLists[p.Get("subAccountApiKey")], "updateTime": 1, "apiKey": "x"})
	})
	s.json("POST /sapi/v1/sub-account/subAccountApi/ipRestriction", 404, `{"code":-1000,"msg":"discontinued"}`)
	s.handle("POST /sapi/v1/sub-account/subAccountApiPermission", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		stripped[stubParams(r).Get("subAccountApiKey")] = true
		writeJSON(w, 200, map[string]any{"apiName": "bot", "canTrade": false})
	})
	return s
}

func TestWorkaroundSubKeyEndpoints(t *testing.T) {
	cases := []struct {
		method, path, httpMethod string
		check                    func(t *testing.T, r stubReq)
	}{
		{"delete", "/sapi/v1/sub-account/subAccountApi", "DELETE", func(t *testing.T, r stubReq) {}},
		{"ip_lock", "/sapi/v2/sub-account/subAccountApi/ipRestriction", "POST", func(t *testing.T, r stubReq) {
			if r.Params.Get("status") != "2" || r.Params.Get("ipAddress") != "192.0.2.1,192.0.2.2" {
				t.Errorf("ip lock params: got %q, want status=2 ipAddress=192.0.2.1,192.0.2.2", r.Body)
			}
		}},
		{"strip_permissions", "/sapi/v1/sub-account/subAccountApiPermission", "POST", func(t *testing.T, r stubReq) {
			for _, p := range []string{"canTrade", "canMarginLoanRepay", "canFuturesTrade", "canUniversalTransfer", "canVanillaOptions"} {
				if r.Params.Get(p) != "false" {
					t.Errorf("strip: %s=%q, want false", p, r.Params.Get(p))
				}
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.method, func(t *testing.T) {
			s := subKeyStub(t)
			e := s.executor(t)
			hooks := &executortest.RecordingHooks{}
			res, err := e.Do(context.Background(), executors.Request{Action: executors.KeysRevoke, Hooks: hooks,
				Params: executors.Params{"scope": "sub_accounts", "method": c.method, "select": "all", "ip_whitelist": []string{"192.0.2.1", "192.0.2.2"}}})
			if err != nil {
				t.Fatalf("revoke: %v (%s)", err, res.Summary)
			}
			if res.Status != executors.StatusChanged || len(res.Changes) != 2 {
				t.Errorf("revoke: got %s %q with %d changes, want changed with 2", res.Status, res.Summary, len(res.Changes))
			}
			reqs := s.requests(c.httpMethod, c.path)
			if len(reqs) != 2 {
				t.Fatalf("%s %s: got %d requests, want 2", c.httpMethod, c.path, len(reqs))
			}
			for _, r := range reqs {
				if !strings.HasSuffix(r.Params.Get("email"), "@fund.example") || !strings.HasPrefix(r.Params.Get("subAccountApiKey"), "SUBKEYBOT") {
					t.Errorf("request params: got %q", r.Body)
				}
				if strings.Contains(r.Body, "%40") {
					t.Errorf("e-mail sent escaped like no SDK spot call: %q", r.Body)
				}
				c.check(t, r)
			}
			if got := len(s.requests("POST", "/sapi/v1/sub-account/subAccountApi/ipRestriction")); got != 0 {
				t.Errorf("requests to the discontinued v1 ip path: got %d, want 0", got)
			}
			for _, m := range hooks.Intents() {
				if strings.Contains(m.ID, "SUBKEYBOT1aaaaaaaaaaaaaaaaaaaa") || strings.Contains(m.Target, "SUBKEYBOT2bbbbbbbbbbbbbbbbbbbb") {
					t.Errorf("mutation shows a full key id: %+v", m)
				}
				if (m.Kind == "delete-key") != m.Irreversible {
					t.Errorf("mutation %s: irreversible %v", m.ID, m.Irreversible)
				}
			}
			if err := hooks.Check(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestRevokeMasterIsManual(t *testing.T) {
	s := subKeyStub(t)
	e := s.executor(t)
	hooks := &executortest.RecordingHooks{}
	res, err := e.Do(context.Background(), executors.Request{Action: executors.KeysRevoke, Hooks: hooks,
		Params: executors.Params{"scope": "master"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != executors.StatusPending || len(res.Manual) != 1 || len(res.Changes) != 0 {
		t.Fatalf("got %s with %d manual steps and %d changes, want pending, 1, 0", res.Status, len(res.Manual), len(res.Changes))
	}
	if !strings.Contains(res.Manual[0].Instructions, "Account → API Management") || res.Manual[0].Verify != "key_rejected" {
		t.Errorf("manual step: %+v", res.Manual[0])
	}
	if strings.Contains(res.Manual[0].Instructions, stubKey) {
		t.Error("manual step shows the full key")
	}
	if len(hooks.Records()) != 0 {
		t.Errorf("hooks saw %d records, want none", len(hooks.Records()))
	}
}

// TestPacerUIDBudget: 70 sub-key calls of 3000 UID weight must not put more
// than 180000 into any minute: the pacer waits for the next minute.
func TestPacerUIDBudget(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	var slept time.Duration
	p := newPacer(func() time.Time { return now }, func(_ context.Context, d time.Duration) error {
		slept += d
		now = now.Add(d)
		return nil
	})
	c := costOf("DELETE", "/sapi/v1/sub-account/subAccountApi", nil)
	if c.weight != weightSubKeyCall || c.limit != limitSAPIUID {
		t.Fatalf("cost: got %+v", c)
	}
	perMinute := map[time.Time]int{}
	for i := 0; i < 70; i++ {
		r, err := p.wait(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		p.observe(r, []cost{c}, http.Header{}, 200, 0)
		perMinute[now.Truncate(time.Minute)] += c.weight
		now = now.Add(100 * time.Millisecond)
	}
	for m, w := range perMinute {
		if w > limitSAPIUID {
			t.Errorf("minute %s: %d UID weight, want at most %d", m.Format("15:04"), w, limitSAPIUID)
		}
	}
	if slept == 0 || len(perMinute) < 2 {
		t.Errorf("pacer never waited (slept %s over %d minutes)", slept, len(perMinute))
	}
	// A venue-reported usage above ours is taken as the floor.
	h := http.Header{}
	h.Set("X-SAPI-USED-UID-WEIGHT-1M", "179000")
	r, err := p.wait(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	p.observe(r, []cost{c}, h, 200, 0)
	before := now
	if _, err := p.wait(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if !now.After(before) {
		t.Error("pacer ignored the used-weight header")
	}
	// 429 with Retry-After closes the bucket for that long.
	c2 := costOf("GET", "/api/v3/account", nil)
	r2, _ := p.wait(context.Background(), c2)
	p.observe(r2, []cost{c2}, http.Header{}, 429, 5*time.Second)
	before = now
	_, _ = p.wait(context.Background(), c2)
	if got := now.Sub(before); got < 5*time.Second {
		t.Errorf("after a 429 with Retry-After 5s the pacer waited %s", got)
	}
}

// TestWorkaroundSubAccountListDecode: Binance sends subUserId as a number;
// the SDK's SubAccount wants a string, so its list fails on every real
// answer. The executor's own list decodes it.
func TestWorkaroundSubAccountListDecode(t *testing.T) {
	s := newStub(t)
	s.json("GET /sapi/v1/sub-account/list", 200, `{"subAccounts":[{"subUserId":123456,"email":"testsub@gmail.com","remark":"remark","isFreeze":false,"createTime":1544433328000,"isManagedSubAccount":false,"isAssetManagementSubAccount":false}]}`)
	e := s.executor(t)
	ctx := context.Background()
	if _, err := e.spot.NewSubAccountListService().Do(ctx); err == nil || !isDecodeError(err) {
		t.Fatalf("SDK sub-account list: got %v, want its JSON decode error", err)
	}
	subs, master, err := e.listSubAccounts(ctx)
	if err != nil || !master || len(subs) != 1 || subs[0].Email != "testsub@gmail.com" || subs[0].SubUserID.String() != "123456" {
		t.Errorf("subAccounts: got %+v master=%v err=%v, want the one sub and master", subs, master, err)
	}
	// A non-master key is refused with -1002: not a master, no error.
	s.json("GET /sapi/v1/sub-account/list", 401, `{"code":-1002,"msg":"You are not authorized to execute this request."}`)
	if subs, master, err := e.listSubAccounts(ctx); err != nil || master || len(subs) != 0 {
		t.Errorf("non-master: got %v %v %v, want no subs, not master, no error", subs, master, err)
	}
	// An account without the sub-account function answers -8012
	// (EXCHANGES.md C2): no sub-accounts, no error.
	s.json("GET /sapi/v1/sub-account/list", 400, `{"code":-8012,"msg":"Sub-account function is not enabled."}`)
	if subs, master, err := e.listSubAccounts(ctx); err != nil || master || len(subs) != 0 {
		t.Errorf("-8012: got %v %v %v, want no subs, not master, no error", subs, master, err)
	}
	// A dead key is an error, not "not a master": -2015, or -2008 as
	// /sapi answers a deleted calling key (C1).
	for _, body := range []string{`{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}`, `{"code":-2008,"msg":"Invalid Api-Key ID."}`} {
		s.json("GET /sapi/v1/sub-account/list", 401, body)
		if _, _, err := e.listSubAccounts(ctx); !errors.Is(err, executors.ErrAuth) {
			t.Errorf("dead key %s: got %v, want auth error", body, err)
		}
	}
}

// TestErrorsHideQuery: a network error's URL carries the signature and
// parameters such as a sub key's full id; classified errors drop the query.
func TestErrorsHideQuery(t *testing.T) {
	s := newStub(t)
	e := s.executor(t)
	s.srv.Close()
	_, err := e.subKeyIP(context.Background(), "bot1@fund.example", "SUBKEYBOT1aaaaaaaaaaaaaaaaaaaa")
	if err == nil {
		t.Fatal("want an error from a closed server")
	}
	for _, bad := range []string{"SUBKEYBOT1aaaaaaaaaaaaaaaaaaaa", "signature=", stubSecret} {
		if strings.Contains(err.Error(), bad) {
			t.Errorf("error %q contains %q", err, bad)
		}
	}
}

// TestClosePositionsHedgeMode: in hedge (dual-side) mode each side is
// closed with its positionSide and without reduceOnly (which Binance
// refuses there); in one-way mode with reduceOnly=true.
func TestClosePositionsHedgeMode(t *testing.T) {
	for _, hedge := range []bool{true, false} {
		t.Run(map[bool]string{true: "hedge", false: "one-way"}[hedge], func(t *testing.T) {
			s := newStub(t)
			var mu sync.Mutex
			closed := false
			s.json("GET /fapi/v1/positionSide/dual", 200, fmt.Sprintf(`{"dualSidePosition":%t}`, hedge))
			s.handle("GET /fapi/v3/positionRisk", func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				if closed {
					writeJSON(w, 200, []any{})
					return
				}
				if hedge {
					writeJSON(w, 200, []map[string]string{{"symbol": "BTCUSDT", "positionSide": "LONG", "positionAmt": "0.5"}, {"symbol": "BTCUSDT", "positionSide": "SHORT", "positionAmt": "-0.2"}})
					return
				}
				writeJSON(w, 200, []map[string]string{{"symbol": "BTCUSDT", "positionSide": "BOTH", "positionAmt": "-0.7"}})
			})
			s.handle("POST /fapi/v1/order", func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				if len(s.requests("POST", "/fapi/v1/order")) == map[bool]int{true: 2, false: 1}[hedge] {
					closed = true
				}
				writeJSON(w, 200, map[string]any{"orderId": 1, "symbol": "BTCUSDT", "status": "FILLED"})
			})
			e := s.executor(t)
			res, err := e.Do(context.Background(), executors.Request{Action: executors.PositionsClose, Hooks: &executortest.RecordingHooks{},
				Params: executors.Params{"products": []string{"usdm"}}})
			if err != nil || res.Status != executors.StatusChanged {
				t.Fatalf("close: got %v %s %q", err, res.Status, res.Summary)
			}
			got := map[string]string{}
			for _, r := range s.requests("POST", "/fapi/v1/order") {
				p := r.Params
				if hedge && p.Has("reduceOnly") {
					t.Errorf("hedge mode order sent reduceOnly: %q", r.Body)
				}
				if !hedge && (p.Get("reduceOnly") != "true" || p.Has("positionSide")) {
					t.Errorf("one-way order: got %q, want reduceOnly=true and no positionSide", r.Body)
				}
				got[p.Get("positionSide")+"/"+p.Get("side")] = p.Get("quantity")
			}
			want := map[string]string{"LONG/SELL": "0.5", "SHORT/BUY": "0.2"}
			if !hedge {
				want = map[string]string{"/BUY": "0.7"}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("close orders: got %v, want %v", got, want)
			}
		})
	}
}

// TestOwnHTTPClientsAndObserver: each SDK client has its own http.Client
// (never http.DefaultClient) over Env.Transport, and Env.Observer sees
// every exchange with its status.
func TestOwnHTTPClientsAndObserver(t *testing.T) {
	s := newStub(t)
	s.json("GET /api/v3/account", 200, `{"balances":[]}`)
	var (
		mu       sync.Mutex
		statuses []int
		baseUsed int
		leaked   int // observed requests still carrying the API key or signature
	)
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		baseUsed++
		mu.Unlock()
		return http.DefaultTransport.RoundTrip(r)
	})
	e, err := New(executors.Account{Name: "obs", APIKey: secret.New(stubKey), Secret: secret.New(stubSecret), BaseURL: s.srv.URL},
		executors.Env{Transport: base, Observer: func(account string, req *http.Request, resp *http.Response, err error) {
			mu.Lock()
			defer mu.Unlock()
			if account == "obs" && resp != nil {
				statuses = append(statuses, resp.StatusCode)
			}
			if req.Header.Get("X-MBX-APIKEY") != "" || req.URL.Query().Has("signature") {
				leaked++
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	clients := []*http.Client{e.spot.HTTPClient, e.fut.HTTPClient, e.dlv.HTTPClient}
	for i, c := range clients {
		if c == http.DefaultClient {
			t.Errorf("client %d is http.DefaultClient", i)
		}
		for j := i + 1; j < len(clients); j++ {
			if c == clients[j] {
				t.Errorf("clients %d and %d share an http.Client", i, j)
			}
		}
	}
	if e.spot.BaseURL != s.srv.URL || e.fut.BaseURL != s.srv.URL || e.dlv.BaseURL != s.srv.URL {
		t.Errorf("base URLs: %s %s %s, want %s", e.spot.BaseURL, e.fut.BaseURL, e.dlv.BaseURL, s.srv.URL)
	}
	if _, err := e.Do(context.Background(), executors.Request{Action: executors.OrdersList, Params: executors.Params{"products": []string{"spot"}}}); err == nil {
		t.Fatal("orders.list against a stub without the route: want an error")
	}
	e.clocks.Wait() // the server-time sync runs in the background
	mu.Lock()
	defer mu.Unlock()
	if baseUsed < 2 || len(statuses) != baseUsed {
		t.Errorf("base transport used %d times, observer saw %v; want every exchange observed", baseUsed, statuses)
	}
	if !slices.Contains(statuses, 404) {
		t.Errorf("observer statuses: got %v, want the 404 among them", statuses)
	}
	if leaked != 0 {
		t.Errorf("observer saw %d requests with the API key header or signature, want them redacted", leaked)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
