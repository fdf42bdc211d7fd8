package binance

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
)

// Without a products parameter, the key's permissions and every product's
// open orders are read together (one round trip); the products the key
// cannot use answer a permission error, which is dropped in favour of the
// "skipped" finding.
func TestListsProductsWithPermissions(t *testing.T) {
	for _, action := range []string{executors.OrdersCancelAll, executors.OrdersList} {
		t.Run(action, func(t *testing.T) { testListsProductsWithPermissions(t, action) })
	}
}

func testListsProductsWithPermissions(t *testing.T, action string) {
	s := newStub(t)
	noPerm := func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 401, map[string]any{"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."})
	}
	routes := map[string]func(w http.ResponseWriter, r *http.Request){
		"GET /sapi/v1/account/apiRestrictions": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(permJSON(true, false)))
		},
		"GET /api/v3/openOrders":         func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, []any{}) },
		"GET /sapi/v1/margin/openOrders": func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, []any{}) },
		"GET /sapi/v1/margin/isolated/account": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, map[string]any{"assets": []any{}})
		},
		"GET /fapi/v1/openOrders":     noPerm,
		"GET /fapi/v1/openAlgoOrders": noPerm,
		"GET /dapi/v1/openOrders":     noPerm,
	}
	b := executortest.NewBarrier(len(routes), 3*time.Second)
	for route, h := range routes {
		s.handle(route, func(w http.ResponseWriter, r *http.Request) { b.Wait(); h(w, r) })
	}
	e := s.executor(t)
	res, err := e.Plan(t.Context(), executors.Request{Action: action, Step: "freeze",
		Params: executors.WithDefaults(action, nil), Hooks: executors.NopHooks{}})
	if err != nil {
		t.Fatalf("plan %s: %v (%s)", action, err, res.Summary)
	}
	if ok, got := b.Together(); !ok {
		t.Errorf("requests in flight together: %d of %d arrived, not all at once (permissions and every product's list)", got, len(routes))
	}
	if res.Status != executors.StatusOK {
		t.Errorf("status: got %s (%s), want ok (nothing open)", res.Status, res.Summary)
	}
	var skipped bool
	for _, f := range res.Findings {
		if strings.Contains(f.Message, "usdm and coinm skipped: the key has no futures permission") {
			skipped = true
		}
		if strings.Contains(f.Message, "-2015") || strings.Contains(f.Message, "Invalid API-key") {
			t.Errorf("finding %q: the permission error of a product the key cannot use leaked out", f.Message)
		}
	}
	if !skipped {
		t.Errorf("findings: got %+v, want usdm and coinm skipped for lack of permission", res.Findings)
	}
}

// The first request does not wait for the server-time sync: both are in
// flight together.
func TestClockSyncOverlapsFirstRequest(t *testing.T) {
	s := newStub(t)
	b := executortest.NewBarrier(2, 3*time.Second)
	s.handle("GET /api/v3/time", func(w http.ResponseWriter, r *http.Request) {
		b.Wait()
		writeJSON(w, 200, map[string]int64{"serverTime": time.Now().UnixMilli()})
	})
	s.handle("GET /api/v3/openOrders", func(w http.ResponseWriter, r *http.Request) {
		b.Wait()
		writeJSON(w, 200, []any{})
	})
	e := s.executor(t)
	if _, err := e.Do(t.Context(), executors.Request{Action: executors.OrdersList, Step: "list",
		Params: executors.WithDefaults(executors.OrdersList, executors.Params{"products": []string{"spot"}})}); err != nil {
		t.Fatalf("orders.list: %v", err)
	}
	if ok, got := b.Together(); !ok {
		t.Errorf("time sync and first request in flight together: %d of 2 arrived, not together", got)
	}
}

// Against a venue clock 10 s ahead, the first requests (stamped with the
// local clock) are rejected with -1021; each is retried once after a
// server-time request sent after its rejection, and succeeds.
func TestClockSkewResyncsAfterRejection(t *testing.T) {
	s := newStub(t)
	const skew = 10 * time.Second
	s.handle("GET /api/v3/time", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]int64{"serverTime": time.Now().Add(skew).UnixMilli()})
	})
	var (
		rejMu        sync.Mutex
		lastRejected = -1 // index in the request log of the latest rejected request
	)
	s.handle("GET /api/v3/openOrders", func(w http.ResponseWriter, r *http.Request) {
		ts, _ := strconv.ParseInt(stubParams(r).Get("timestamp"), 10, 64)
		if d := time.Now().Add(skew).UnixMilli() - ts; d > 1000 || d < -1000 {
			s.mu.Lock()
			n := len(s.reqs) - 1
			s.mu.Unlock()
			rejMu.Lock()
			lastRejected = max(lastRejected, n)
			rejMu.Unlock()
			writeJSON(w, 400, map[string]any{"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."})
			return
		}
		writeJSON(w, 200, []any{})
	})
	e := s.executor(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.Do(context.Background(), executors.Request{Action: executors.OrdersList, Step: "list",
				Params: executors.WithDefaults(executors.OrdersList, executors.Params{"products": []string{"spot"}})})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d under a 10 s skew: %v, want success after a resync", i, err)
		}
	}
	s.mu.Lock()
	reqs := append([]stubReq(nil), s.reqs...)
	s.mu.Unlock()
	if lastRejected < 0 {
		t.Fatal("no request was rejected: the test does not exercise the resync")
	}
	resynced := false
	for _, r := range reqs[lastRejected+1:] {
		resynced = resynced || r.Path == "/api/v3/time"
	}
	if !resynced {
		t.Error("no server-time request after the last -1021, want a resync after every rejection")
	}
	if n := len(s.requests("GET", "/api/v3/time")); n < 2 || n > 1+len(errs) {
		t.Errorf("server-time requests: got %d, want 2 to %d (the background sync, then rejections arriving together share one)", n, 1+len(errs))
	}
	if n := len(s.requests("GET", "/api/v3/openOrders")); n > 2*len(errs) {
		t.Errorf("order lists: got %d, want at most %d (each retried once at most)", n, 2*len(errs))
	}
}
