package kucoin

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/executors/internal/fakeclock"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// TestRevocationGoesBeforeSnapshotReads (issue 12 item 3): a snapshot
// reads many pages of sub-account balances through the Management pool,
// which the venue says holds 60 per window (one request per window after
// the pacer's reserve). A keys.revoke of a named key, started while the
// snapshot waits for the pool, takes every window until its deletion is
// sent: no snapshot page goes out between its first request and the
// delete, and the snapshot still completes afterwards.
func TestRevocationGoesBeforeSnapshotReads(t *testing.T) {
	const subAPIKey = "6650subkey00000000000009"
	const pages = 12
	f := newFakeVenue(t, 2)
	f.headers.Set("gw-ratelimit-limit", "60")
	f.handle("GET /api/v1/user/api-key", func(seen) (int, any) {
		return ok(map[string]any{"apiKey": testKey, "isMaster": true, "permission": "General"})
	})
	empty := func(seen) (int, any) { return ok([]any{}) }
	f.handle("GET /api/v1/accounts", empty)
	f.handle("GET /api/v3/margin/accounts", func(seen) (int, any) { return ok(map[string]any{"accounts": []any{}}) })
	f.handle("GET /api/v3/isolated/accounts", func(seen) (int, any) { return ok(map[string]any{"assets": []any{}}) })
	f.handle("F GET /api/v1/account-overview", func(seen) (int, any) { return ok(map[string]any{"currency": "USDT"}) })
	f.handle("F GET /api/v1/positions", empty)
	f.handle("GET /api/v2/sub-accounts", func(r seen) (int, any) {
		n, _ := strconv.Atoi(r.Query.Get("currentPage"))
		return ok(map[string]any{"currentPage": n, "pageSize": 1, "totalNum": pages, "totalPage": pages,
			"items": []any{map[string]any{"subUserId": "u" + r.Query.Get("currentPage"), "subName": "s" + r.Query.Get("currentPage")}}})
	})
	f.handle("GET /api/v2/sub/user", func(seen) (int, any) {
		return ok(map[string]any{"currentPage": 1, "pageSize": 100, "totalNum": 1, "totalPage": 1,
			"items": []any{map[string]any{"userId": "u1", "subName": "bot1"}}})
	})
	var mu sync.Mutex
	deleted := false
	f.handle("GET /api/v1/sub/api-key", func(seen) (int, any) {
		mu.Lock()
		defer mu.Unlock()
		if deleted {
			return ok([]any{})
		}
		return ok([]any{map[string]any{"subName": "bot1", "apiKey": subAPIKey, "permission": "General,Spot", "apiVersion": 2}})
	})
	f.handle("DELETE /api/v1/sub/api-key", func(seen) (int, any) {
		mu.Lock()
		deleted = true
		mu.Unlock()
		return ok(map[string]any{"subName": "bot1", "apiKey": subAPIKey})
	})
	clk := fakeclock.New(time.Now())
	x := f.executor(t, executors.Env{Now: clk.Now, Sleep: clk.Sleep},
		executors.SubKey{Sub: "bot1", APIKey: subAPIKey, Passphrase: secret.New("sub-pass")})

	pagesSeen := func() int { return f.count(http.MethodGet, "/api/v2/sub-accounts") }
	// quiet waits until nothing moves: no new request, the same sleepers.
	quiet := func() {
		t.Helper()
		last, stable := -1, 0
		for deadline := time.Now().Add(10 * time.Second); stable < 20; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the executor never came to rest")
			}
			now := len(f.requests())*1000 + clk.Parked()
			if now == last {
				stable++
			} else {
				last, stable = now, 0
			}
		}
	}
	advance := func() {
		// The venue's clock moves with ours: requests are signed by it.
		// It moves first: a request woken by ours must find it moved.
		d := clk.Peek()
		f.mu.Lock()
		f.skew += d
		f.mu.Unlock()
		if moved := clk.Next(); moved != d {
			f.mu.Lock()
			f.skew += moved - d
			f.mu.Unlock()
		}
	}

	var wg sync.WaitGroup
	var snapErr, revokeErr error
	var revokeRes executors.Result
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, snapErr = x.Do(t.Context(), req(executors.SnapshotBalances, nil, nil))
	}()
	// Let the snapshot spend the pool and queue for it.
	for i := 0; pagesSeen() < 2; i++ {
		quiet()
		if i > 50 {
			for _, r := range f.requests() {
				t.Log(r.Method, r.Path, r.RawQuery)
			}
			t.Fatalf("the snapshot read %d pages", pagesSeen())
		}
		advance()
	}
	quiet()
	if clk.Parked() == 0 {
		t.Fatal("the snapshot is not waiting for the pool: it does not saturate it")
	}
	before := len(f.requests())
	revoked := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(revoked)
		revokeRes, revokeErr = x.Do(t.Context(), req(executors.KeysRevoke,
			executors.Params{"scope": "sub_accounts", "method": "delete", "key_ids": []string{subAPIKey}}, &executortest.RecordingHooks{}))
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		quiet()
		select {
		case <-done:
			running = false
		default:
			advance()
		}
	}
	if snapErr != nil {
		t.Fatalf("snapshot: %v", snapErr)
	}
	if revokeErr != nil || revokeRes.Status != executors.StatusChanged {
		t.Fatalf("revoke: %s %q, err %v; want changed", revokeRes.Status, revokeRes.Summary, revokeErr)
	}
	reqs := f.requests()
	first, del := -1, -1
	for i := before; i < len(reqs); i++ {
		r := reqs[i]
		if first < 0 && r.Path != "/api/v2/sub-accounts" {
			first = i
		}
		if r.Method == http.MethodDelete && r.Path == "/api/v1/sub/api-key" {
			del = i
			break
		}
	}
	if first < 0 || del < 0 {
		t.Fatalf("no revocation requests seen after the snapshot queued (first %d, delete %d)", first, del)
	}
	between := 0
	for _, r := range reqs[first:del] {
		if r.Path == "/api/v2/sub-accounts" {
			between++
		}
	}
	if between > 0 {
		t.Errorf("%d snapshot pages went out between the revocation's first request and its delete, want 0", between)
	}
	read := map[string]bool{} // a slow read may be hedged: count pages once
	for _, r := range reqs {
		if r.Path == "/api/v2/sub-accounts" {
			read[r.Query.Get("currentPage")] = true
		}
	}
	if len(read) != pages {
		t.Errorf("snapshot pages read: got %d, want %d", len(read), pages)
	}
	var left int
	for _, r := range reqs[del:] {
		if r.Path == "/api/v2/sub-accounts" {
			left++
		}
	}
	if left == 0 {
		t.Error("no snapshot page was left after the delete: the snapshot did not saturate the pool while the revocation ran")
	}
	t.Logf("revocation: %d requests from its first to its delete; snapshot pages after the delete: %d of %d", del-first+1, left, pages)
}
