package bench

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

// TestRateBound checks the rate-limit bound on synthetic request logs:
// which requests share a bucket, the wait to the window the last one must
// go in (clock-aligned on Binance, from the start on KuCoin), the round
// trips that follow, and the limit it names.
func TestRateBound(t *testing.T) {
	const rtt = 40 * time.Millisecond
	rttBound := BoundRoundTrips * rtt
	// 12:00:10 UTC: Binance's next minute window starts 50 s later.
	start := time.Date(2026, 12, 4, 12, 0, 10, 0, time.UTC)
	bn := func(n int, method, path, account string, w int, kind string) []emu.Entry {
		out := make([]emu.Entry, n)
		for i := range out {
			out[i] = emu.Entry{Venue: "binance", Method: method, Path: path, Endpoint: method + " " + path,
				Account: account, Kind: kind, Weight: w, Status: http.StatusOK}
		}
		return out
	}
	kc := func(n int, venue, method, path, account string, w int, kind string) []emu.Entry {
		out := make([]emu.Entry, n)
		for i := range out {
			out[i] = emu.Entry{Venue: venue, Method: method, Path: path, Endpoint: method + " " + path,
				Account: account, Kind: kind, Weight: w, Status: http.StatusOK}
		}
		return out
	}
	cat := func(ls ...[]emu.Entry) []emu.Entry {
		var out []emu.Entry
		for _, l := range ls {
			out = append(out, l...)
		}
		return out
	}
	withStatus := func(l []emu.Entry, status int, code string) []emu.Entry {
		for i := range l {
			l[i].Status, l[i].Code = status, code
		}
		return l
	}
	const subKeys = "/sapi/v1/sub-account/subAccountApi"
	for _, c := range []struct {
		name      string
		reqs      []emu.Entry
		start     time.Time
		want      time.Duration
		wantLimit string // prefix of Bound.Limit
	}{
		{"empty log: round trips", nil, start, rttBound, "rtt"},
		{"60 sub-key deletes fit one minute", bn(60, "DELETE", subKeys, "bn1-master", 3000, emu.KindMutation), start, rttBound, "rtt"},
		{"61 sub-key deletes: the next minute, then the delete and snapshot-after",
			bn(61, "DELETE", subKeys, "bn1-master", 3000, emu.KindMutation), start,
			50*time.Second + 3*rtt,
			"binance uid DELETE /sapi/v1/sub-account/subAccountApi (bn1-master): 61 calls × 3000 / 180000 per 1m0s → 2 windows"},
		{"243 sub-key deletes: 5 windows", bn(243, "DELETE", subKeys, "bn1-master", 3000, emu.KindMutation), start,
			50*time.Second + 3*time.Minute + 3*rtt,
			"binance uid DELETE /sapi/v1/sub-account/subAccountApi (bn1-master): 243 calls × 3000 / 180000 per 1m0s → 5 windows"},
		{"a run that starts late in a minute waits less",
			bn(61, "DELETE", subKeys, "bn1-master", 3000, emu.KindMutation), start.Add(49 * time.Second),
			time.Second + 3*rtt, "binance uid DELETE"},
		{"a wait shorter than the round-trip bound: the round trips bind",
			bn(61, "DELETE", subKeys, "bn1-master", 3000, emu.KindMutation), start.Add(49900 * time.Millisecond),
			rttBound, "rtt"},
		{"a read bucket: only the read's own round trip follows",
			bn(61, "GET", subKeys, "bn1-master", 3000, emu.KindRead), start,
			50*time.Second + rtt, "binance uid GET /sapi/v1/sub-account/subAccountApi (bn1-master): 61 calls"},
		{"UID budgets are per account: two masters' 40 deletes each fit",
			cat(bn(40, "DELETE", subKeys, "bn1-master", 3000, emu.KindMutation), bn(40, "DELETE", subKeys, "bn2-master", 3000, emu.KindMutation)),
			start, rttBound, "rtt"},
		{"UID budgets are per endpoint: 40 lists and 40 deletes fit",
			cat(bn(40, "DELETE", subKeys, "bn1-master", 3000, emu.KindMutation), bn(40, "GET", subKeys, "bn1-master", 3000, emu.KindRead)),
			start, rttBound, "rtt"},
		{"429 answers do not count",
			cat(bn(60, "DELETE", subKeys, "bn1-master", 3000, emu.KindMutation),
				withStatus(bn(5, "DELETE", subKeys, "bn1-master", 3000, emu.KindMutation), http.StatusTooManyRequests, "-1003")),
			start, rttBound, "rtt"},
		{"a key refused while authenticating is not charged to the UID",
			cat(bn(60, "DELETE", subKeys, "bn1-master", 3000, emu.KindMutation),
				withStatus(bn(5, "DELETE", subKeys, "bn1-master", 3000, emu.KindMutation), http.StatusBadRequest, "-1021")),
			start, rttBound, "rtt"},
		{"/api is one budget for the IP: a master's and its sub's requests together",
			cat(bn(50, "GET", "/api/v3/openOrders", "bn1-master", 80, emu.KindRead), bn(26, "GET", "/api/v3/openOrders", "bn1-sub01", 80, emu.KindRead)),
			start, 50*time.Second + rtt, "binance ip /api: 76 calls × 80 / 6000 per 1m0s → 2 windows"},
		{"/api and /fapi are separate IP budgets: 5600 and 2400 fit",
			cat(bn(70, "GET", "/api/v3/openOrders", "bn1-master", 80, emu.KindRead), bn(60, "GET", "/fapi/v1/openOrders", "bn2-master", 40, emu.KindRead)),
			start, rttBound, "rtt"},
		{"an IP-limited /sapi endpoint has its own 12000",
			bn(1201, "GET", "/sapi/v1/margin/openOrders", "bn1-master", 10, emu.KindRead), start,
			50*time.Second + rtt, "binance ip GET /sapi/v1/margin/openOrders: 1201 calls × 10 / 12000"},
		{"withdraw history: per-second UID windows",
			bn(21, "GET", "/sapi/v1/capital/withdraw/history", "bn1-master", 18000, emu.KindRead), start.Add(300 * time.Millisecond),
			1700*time.Millisecond + rtt, "binance uid GET /sapi/v1/capital/withdraw/history (bn1-master): 21 calls × 18000 / 180000 per 1s → 3 windows"},
		{"the longest wait binds",
			cat(bn(61, "DELETE", subKeys, "bn1-master", 3000, emu.KindMutation), bn(121, "GET", subKeys, "bn2-master", 3000, emu.KindRead)),
			start, 110*time.Second + rtt, "binance uid GET /sapi/v1/sub-account/subAccountApi (bn2-master): 121 calls"},
		{"KuCoin Management pool: windows from the first request, mixed reads and mutations",
			cat(kc(50, "kucoin", "GET", "/api/v1/sub/api-key", "kc1-master", 20, emu.KindRead), kc(34, "kucoin", "DELETE", "/api/v1/sub/api-key", "kc1-master", 30, emu.KindMutation)),
			start, 30*time.Second + rtt, "kucoin Management pool (kc1-master): 84 calls, weight 2020 / 2000 per 30s → 2 windows"},
		{"KuCoin pools are per UID and pool: the master's Management and a sub's Spot",
			cat(kc(90, "kucoin", "GET", "/api/v1/sub/api-key", "kc1-master", 20, emu.KindRead), kc(500, "kucoin", "GET", "/api/v1/hf/orders/active", "kc1sub01", 2, emu.KindRead),
				kc(99, "kucoin", "GET", "/api/v1/sub/api-key", "kc2-master", 20, emu.KindRead)),
			start, rttBound, "rtt"},
		{"KuCoin futures host: the Futures pool",
			kc(201, "kucoin-futures", "DELETE", "/api/v3/orders", "kc1-master", 10, emu.KindMutation), start,
			30*time.Second + 3*rtt, "kucoin Futures pool (kc1-master): 201 calls × 10 / 2000 per 30s → 2 windows"},
		{"KuCoin public requests share the IP's Public pool across hosts",
			cat(kc(500, "kucoin", "GET", "/api/v1/timestamp", "", 3, emu.KindPublic), kc(300, "kucoin-futures", "GET", "/api/v1/timestamp", "", 2, emu.KindPublic)),
			start, 30*time.Second + rtt, "kucoin Public pool (ip): 800 calls, weight 2100 / 2000"},
		{"KuCoin does not charge a request refused before the pool",
			cat(kc(100, "kucoin", "GET", "/api/v1/sub/api-key", "kc1-master", 20, emu.KindRead),
				withStatus(kc(10, "kucoin", "GET", "/api/v1/sub/api-key", "kc1-master", 20, emu.KindRead), http.StatusForbidden, "400007")),
			start, rttBound, "rtt"},
		{"the scripted attacker's requests are not the run's",
			func() []emu.Entry {
				l := bn(61, "DELETE", subKeys, "bn1-master", 3000, emu.KindMutation)
				l[0].Kind = emu.KindAttacker
				return l
			}(), start, rttBound, "rtt"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := RateBound(c.reqs, c.start, rtt)
			if got.Time != c.want || !strings.HasPrefix(got.Limit, c.wantLimit) {
				t.Errorf("got %s (%s), want %s (%s…)", got.Time, got.Limit, c.want, c.wantLimit)
			}
			if got.RTT != rttBound {
				t.Errorf("round-trip bound: got %s, want %s", got.RTT, rttBound)
			}
		})
	}
}

// TestRateBoundBusiest: when the round trips bind, Bound.Busiest still
// names the budget the run came closest to exhausting.
func TestRateBoundBusiest(t *testing.T) {
	start := time.Date(2026, 12, 4, 12, 0, 10, 0, time.UTC)
	var reqs []emu.Entry
	for range 45 {
		reqs = append(reqs, emu.Entry{Venue: "binance", Method: "GET", Path: "/sapi/v1/sub-account/subAccountApi",
			Endpoint: "GET /sapi/v1/sub-account/subAccountApi", Account: "bn1-master", Kind: emu.KindRead, Weight: 3000, Status: http.StatusOK})
		reqs = append(reqs, emu.Entry{Venue: "binance", Method: "GET", Path: "/api/v3/openOrders",
			Endpoint: "GET /api/v3/openOrders", Account: "bn1-master", Kind: emu.KindRead, Weight: 80, Status: http.StatusOK})
	}
	got := RateBound(reqs, start, 40*time.Millisecond)
	want := "binance uid GET /sapi/v1/sub-account/subAccountApi (bn1-master): 45 calls × 3000 = 75% of 180000 per 1m0s"
	if got.Limit != "rtt" || got.Busiest != want {
		t.Errorf("got limit %q, busiest %q; want rtt, %q", got.Limit, got.Busiest, want)
	}
}

// TestPhasedBound: freeze-sub-accounts starts only once the sub keys are
// deleted, so a run whose deletions need a second minute (the master's
// UID budget) and whose temporary keys' lists then need a second /fapi
// window waits for both, one after the other; RateBound alone would count
// them as overlapping.
func TestPhasedBound(t *testing.T) {
	const rtt = 40 * time.Millisecond
	start := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	entry := func(at time.Duration, method, path, account string, w int, kind string) emu.Entry {
		return emu.Entry{Time: start.Add(at), Venue: "binance", Method: method, Path: path, Endpoint: method + " " + path,
			Account: account, Kind: kind, Weight: w, Status: http.StatusOK}
	}
	var deletes, lists []emu.Entry
	for i := range 120 { // 2 minutes of the master's delete budget
		deletes = append(deletes, entry(time.Duration(i)*time.Second, "DELETE", "/sapi/v1/sub-account/subAccountApi", "bn1-master", 3000, emu.KindMutation))
	}
	mint := entry(121*time.Second, "POST", "/sapi/v2/sub-account/subAccountApi", "bn1-master", 3000, emu.KindMutation)
	for i := range 120 { // 4800 of /fapi's 2400 a minute: 2 windows
		lists = append(lists, entry(122*time.Second+time.Duration(i)*time.Second, "GET", "/fapi/v1/openOrders", "bn1-sub01", 40, emu.KindRead))
	}
	reqs := append(append(append([]emu.Entry{}, deletes...), mint), lists...)

	plain := RateBound(reqs, start, rtt)
	phased := PhasedBound(reqs, start, rtt)
	// Deletes: the second minute, then 3 round trips (they are
	// mutations: snapshot-after follows); the lists: from there, the
	// next minute, then 1 round trip.
	wantPhased := time.Minute + 3*rtt + (time.Minute - 3*rtt) + rtt
	if phased.Time != wantPhased {
		t.Errorf("phased bound = %v, want %v (%s)", phased.Time, wantPhased, phased.Limit)
	}
	if plain.Time >= phased.Time {
		t.Errorf("RateBound %v not below the phased %v: the phases should add up", plain.Time, phased.Time)
	}
	if !strings.HasPrefix(phased.Limit, "binance in two phases") {
		t.Errorf("phased limit %q, want it named as two phases", phased.Limit)
	}
	// Without a temporary key there is no second phase.
	if got := PhasedBound(append(append([]emu.Entry{}, deletes...), lists...), start, rtt); got.Time != RateBound(append(append([]emu.Entry{}, deletes...), lists...), start, rtt).Time {
		t.Errorf("without a mint the phased bound %v differs from RateBound", got.Time)
	}
}
