package kucoin

import (
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
)

// The snapshot's reads are independent and go out together: every wallet,
// the positions and the calling key's record are in flight at once, then
// the sub-accounts' balances (which need to know the key is a master's):
// two dependent round trips.
func TestSnapshotIsTwoRoundTripsDeep(t *testing.T) {
	f := newFakeVenue(t, 2)
	wave1 := []struct {
		route string
		n     int // requests of that route in the wave
		data  any
	}{
		{"GET /api/v1/accounts", 1, []any{map[string]any{"currency": "USDT", "type": "main", "balance": "10", "available": "10", "holds": "0"}}},
		{"GET /api/v3/margin/accounts", 1, map[string]any{"accounts": []any{}}},
		{"GET /api/v3/isolated/accounts", 1, map[string]any{"assets": []any{}}},
		{"F GET /api/v1/account-overview", 2, map[string]any{"accountEquity": "0", "marginBalance": "0", "availableBalance": "0"}},
		{"F GET /api/v1/positions", 1, []any{}},
		{"GET /api/v1/user/api-key", 1, map[string]any{"apiKey": testKey, "isMaster": true, "permission": "General"}},
	}
	total := 0
	for _, w := range wave1 {
		total += w.n
	}
	b := executortest.NewBarrier(total, 3*time.Second)
	for _, w := range wave1 {
		f.handle(w.route, func(seen) (int, any) { b.Wait(); return ok(w.data) })
	}
	var subsAfterWave1 bool
	f.handle("GET /api/v2/sub-accounts", func(seen) (int, any) {
		select {
		case <-b.Opened():
			subsAfterWave1 = true
		default:
		}
		return ok(map[string]any{"currentPage": 1, "pageSize": 100, "totalNum": 1, "totalPage": 1, "items": []any{
			map[string]any{"subName": "s1", "mainAccounts": []any{map[string]any{"currency": "USDT", "balance": "5", "available": "5", "holds": "0"}}},
		}})
	})
	x := f.executor(t, executors.Env{})
	res, err := x.Do(t.Context(), req(executors.SnapshotBalances, nil, nil))
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if ok, got := b.Together(); !ok {
		t.Errorf("first-wave reads in flight together: %d of %d arrived, not all at once (all independent reads at once)", got, total)
	}
	if !subsAfterWave1 {
		t.Error("sub-account balances were read before the first wave was answered, want after the calling key's record")
	}
	snap, _ := res.Data.(*executors.Snapshot)
	if snap == nil {
		t.Fatalf("snapshot data: got %T, want *executors.Snapshot", res.Data)
	}
	var master, sub bool
	for _, bal := range snap.Balances {
		master = master || bal.Sub == "" && bal.Asset == "USDT" && bal.Total == "10"
		sub = sub || bal.Sub == "s1" && bal.Asset == "USDT" && bal.Total == "5"
	}
	if !master || !sub {
		t.Errorf("balances: got %+v, want the master's 10 USDT and sub s1's 5 USDT", snap.Balances)
	}
	if len(snap.Errors) != 0 {
		t.Errorf("snapshot errors: got %v, want none", snap.Errors)
	}
}
