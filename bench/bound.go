package bench

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

// BoundRoundTrips is the critical-path bound of suspected-key-leak, in
// round trips, rate limits aside: the longest chain of requests in which
// each one needs the answer of the one before (or must follow it, as a
// confirming re-list follows the cancels), as the executors structure
// their calls today; requests that do not need each other's answers count
// as one round trip however many there are (they could all be in flight
// at once). An account's steps follow the runner's dependencies: the
// read-only snapshot-before and inventory overlap freeze, whose cancels
// wait for snapshot-before (so the three take the longest of them); every
// later mutating step waits until the mutating step before it has sent
// its mutations (a freeze's confirming re-list goes on meanwhile:
// runner.startsOnSent), and snapshot-after until every step before it is
// done. Accounts run in parallel, so the bound is the longer of the two
// venues' sums.
//
// One round trip is the emulator's injected latency: it sleeps Latency
// once per request before answering, and loopback adds microseconds, so a
// request/response exchange takes Latency ("40 ms latency" is the RTT).
//
//	step                 Binance                                  KuCoin
//	snapshot-before  ‖   sub list → per-sub assets (2)            wallets ‖ sub users → balances (2)
//	inventory        ‖   restrictions ‖ sub list → key list →     own key ‖ sub users → per-sub keys (3)
//	                     per-key IP restriction (3)
//	freeze               list every product ‖ snapshot-before's   active symbols → per-symbol list →
//	                     own part → cancel (2; its re-list, 3,    [snapshot-before] → cancel (3;
//	                     is on no chain)                          its re-list, 4, is on no chain)
//	  first three        3 (inventory)                            3
//	revoke-withdraw-keys delete → re-list (2)                     inventory's listing, nothing to
//	                                                              delete (0)
//	withdrawals          withdraw history (1)                     accounts → per-currency list (2)
//	revoke-sub-keys      revoke-withdraw-keys' re-lists, nothing  inventory's listing → delete →
//	                     to delete (0)                            keys (2)
//	freeze-sub-accounts  status → assets → mint temporary key →   sub-accounts ‖ my-ip → mint →
//	                     list → cancel → re-list → delete key     list → per-symbol lists → cancel
//	                     (‖ assets) → probe it (8)                → re-list → delete key → probe
//	                                                              it (8)
//	master-key           manual (no request) (0)                  manual (0)
//	snapshot-after       all at once (1)                          all at once (1)
//	total                3+2+1+0+8+0+1 = 15                       3+0+2+2+8+0+1 = 16
//
// (The sub-account and key lists a step does not show were served from
// the executors' cache of the lists an earlier step made moments
// before.) "‖" marks what runs together. Bound: 16 round trips (640 ms at
// 40 ms); 18 until the later mutating steps stopped waiting for the
// freeze's re-list (2026-12-05), 17 until KuCoin's revoke-sub-keys started
// from the inventory's listing (2026-12-06). Some of these round trips are the executors' choice rather than
// the venues' (Binance's status and assets reads before minting): the
// bound measures how close the run comes to its own structure, not
// whether that structure is the shortest, and it must follow the
// executors when they change (last taken from the request log of a 1×
// run on 2026-12-06, 00:05 UTC: both venues' last requests answered at
// 702–712 ms, 16 round trips and the first burst's ~60 ms).
// The server-time sync is on no chain: it runs in the background while
// the first requests go out with the local clock.
//
// RateBound adds the rate limits.
const BoundRoundTrips = 16

// Bound is the critical-path bound of one run: the larger of the
// round-trip bound and what the rate limits allow (RateBound).
type Bound struct {
	// Time is the bound; RTT the round-trip bound alone
	// (BoundRoundTrips × latency).
	Time, RTT time.Duration
	// Limit names what sets Time: "rtt", or the rate-limit bucket whose
	// budget makes the run wait longest, with its numbers.
	Limit string
	// Busiest names the bucket whose weight is the largest share of its
	// window's limit (how close the run came to waiting; "" for an empty
	// log).
	Busiest string
}

// The venues' real limits (EXCHANGES.md §1.6 and §2.6, "Corrections"),
// not the 90 % the executors keep as a margin. The bench state sets none,
// so the emulator enforces these too.
const (
	binanceAPIWeight    = 6000   // /api: per IP per minute, every endpoint together
	binanceFAPIWeight   = 2400   // /fapi: per IP per minute
	binanceDAPIWeight   = 2400   // /dapi: per IP per minute
	binanceSAPIIPWeight = 12000  // an IP-limited /sapi endpoint: its own, per IP per minute
	binanceSAPIUID      = 180000 // a UID-limited /sapi endpoint: its own, per account per minute
	binanceSAPIUID1s    = 180000 // withdraw history: per account per second
	kucoinWindow        = 30 * time.Second
)

// kucoinPools is KuCoin's VIP0 quota per pool and 30 s window (per UID;
// Public per IP).
var kucoinPools = map[string]int{"Spot": 4000, "Futures": 2000, "Management": 2000, "Public": 2000}

// binanceUID lists the UID-limited /sapi endpoints (the emulator's uid()
// routes, internal/emulator/binance/routes.go; STATE.md "Binance
// endpoints"). Every other /sapi endpoint is IP-limited.
var binanceUID = map[string]bool{
	"POST /sapi/v1/margin/order":                                     true,
	"POST /sapi/v1/capital/withdraw/apply":                           true,
	"GET /sapi/v1/capital/withdraw/history":                          true, // per second
	"GET /sapi/v4/sub-account/assets":                                true,
	"GET /sapi/v1/sub-account/subAccountApi":                         true,
	"POST /sapi/v1/sub-account/subAccountApi":                        true,
	"POST /sapi/v2/sub-account/subAccountApi":                        true,
	"DELETE /sapi/v1/sub-account/subAccountApi":                      true,
	"POST /sapi/v1/sub-account/subAccountApiPermission":              true,
	"GET /sapi/v1/sub-account/subAccountApi/ipRestriction":           true,
	"POST /sapi/v2/sub-account/subAccountApi/ipRestriction":          true,
	"DELETE /sapi/v1/sub-account/subAccountApi/ipRestriction/ipList": true,
}

// binanceUIDToo is the UID weight an IP-limited /sapi endpoint charges on
// top of its IP weight (EXCHANGES.md C4).
var binanceUIDToo = map[string]int{"POST /sapi/v1/sub-account/universalTransfer": 360}

// kucoinManagement lists the spot host's endpoints in the Management pool
// (STATE.md "KuCoin endpoints"); the host's other signed endpoints are in
// the Spot pool, the futures host's in the Futures pool, and unsigned
// ones in the Public pool of the IP.
var kucoinManagement = map[string]bool{
	"GET /api/v1/accounts": true, "GET /api/v1/user/api-key": true,
	"GET /api/v2/sub/user": true, "GET /api/v1/sub/user": true,
	"GET /api/v2/sub-accounts": true, "GET /api/v1/sub-accounts/{id}": true,
	"GET /api/v1/sub/api-key": true, "POST /api/v1/sub/api-key": true,
	"POST /api/v1/sub/api-key/update": true, "DELETE /api/v1/sub/api-key": true,
	"GET /api/v1/withdrawals": true, "GET /api/v1/withdrawals/{id}": true,
	"DELETE /api/v1/withdrawals/{id}": true, "POST /api/v3/withdrawals": true,
	"POST /api/v1/withdrawals": true, "GET /api/v1/withdrawals/quotas": true,
	"POST /api/v3/accounts/universal-transfer": true,
}

// snapshotAfterRoundTrips is what must follow a run's last mutation on
// an account: snapshot-after waits for every mutating step and takes two
// round trips on either venue (sub-account list → per-sub balances).
const snapshotAfterRoundTrips = 2

// bucket is one budget the venue counts requests in.
type bucket struct {
	name    string        // for Bound.Limit
	limit   int           // weight per window
	window  time.Duration // window length
	aligned bool          // windows on the clock (Binance), else from the first request (KuCoin)
	weight  int
	n       int // calls
	// mutations: every request of the bucket is a mutation, so
	// snapshot-after must follow the last of them.
	mutations bool
	unit      int // the weight of every call when they all weigh the same, else 0
}

// charge adds one request of weight w to the bucket named name.
func charge(bs map[string]*bucket, name string, limit int, window time.Duration, aligned bool, w int, mutation bool) {
	b := bs[name]
	if b == nil {
		b = &bucket{name: name, limit: limit, window: window, aligned: aligned, mutations: true, unit: w}
		bs[name] = b
	}
	b.weight += w
	b.n++
	b.mutations = b.mutations && mutation
	if b.unit != w {
		b.unit = 0
	}
}

// RateBound is the critical-path bound of a run that started at start
// with round-trip time rtt, given the venue requests it sent (reqs, the
// emulator's log): the larger of the round-trip bound (BoundRoundTrips ×
// rtt) and, for every rate-limit bucket, the earliest moment the bucket's
// last request could have been sent plus the round trips that must follow
// it.
//
// Buckets are what the venue counts requests in: Binance's IP families
// /api, /fapi and /dapi (every account behind the IP together: the bench
// runs them all from one loopback IP), each IP-limited /sapi endpoint, and
// each UID-limited /sapi endpoint per account (Entry.Account: a request
// signed by a sub-account's key, such as a temporary key, counts against
// that sub's own UID); KuCoin's pools per UID (the account whose key
// signed; Public per IP, shared by both hosts as in the emulator). A
// bucket's weight W is the sum of its requests' weights, except those the
// venue refused for the limit (429, 418: a run that respects the limits
// does not send them) and, where the venue charges after authenticating
// (Binance UID, KuCoin pools), those refused before.
//
// With limit L per window, the last request cannot go before the
// (ceil(W/L)-1)-th window after the first: on Binance's clock-aligned
// minutes that is the start of the k-th minute after the one the run
// started in (k = ceil(W/L)-1; none when it fits the first window, so a
// run that starts late in a minute waits less); on KuCoin's windows, which
// start with a pool's first request (at the earliest the run's start),
// k × 30 s. What must follow is one round trip (the request itself), plus
// snapshot-after's two when every request of the bucket is a mutation.
// The confirming re-lists, and the round trips before a bucket's first
// request, are not counted: this is a lower bound for the requests the run
// sent. It is not one for the work: a run that sends requests it does not
// need (or heavier variants, such as listing without a symbol) raises its
// own bound, so compare the requests across runs too.
//
// Not counted: order-rate limits (cancels do not count on Binance), and
// KuCoin's Cloudflare per-IP limit.
func RateBound(reqs []emu.Entry, start time.Time, rtt time.Duration) Bound {
	rttBound := time.Duration(BoundRoundTrips) * rtt
	out := Bound{Time: rttBound, RTT: rttBound, Limit: "rtt"}
	wait, limit, busiest := rateWait(reqs, start, rtt)
	out.Busiest = busiest
	if wait > out.Time {
		out.Time, out.Limit = wait, limit
	}
	return out
}

// PhasedBound is RateBound with the playbook's one dependency between
// rate-limited phases: on each account, freeze-sub-accounts (the temporary
// keys and what they send) starts only once revoke-sub-keys has deleted
// every sub key, and the two spend different budgets (the key endpoints'
// per-master UID budgets, then mostly /fapi per IP). So per venue, the
// requests from its first temporary-key creation on cannot start before
// the rate wait of the requests before it: the venue's bound is the two
// waits one after the other (the second counted from where the first
// ends, ignoring what the first phase spent of that window: still a lower
// bound). The result is the larger of RateBound and each venue's phased
// sum.
func PhasedBound(reqs []emu.Entry, start time.Time, rtt time.Duration) Bound {
	out := RateBound(reqs, start, rtt)
	for _, venue := range []string{"binance", "kucoin"} {
		var mint time.Time
		for _, e := range reqs {
			if e.Kind == emu.KindMutation && isMint(e) && venueOf(e) == venue && (mint.IsZero() || e.Time.Before(mint)) {
				mint = e.Time
			}
		}
		if mint.IsZero() {
			continue
		}
		var before, after []emu.Entry
		for _, e := range reqs {
			switch {
			case venueOf(e) != venue:
			case e.Time.Before(mint):
				before = append(before, e)
			default:
				after = append(after, e)
			}
		}
		w1, l1, _ := rateWait(before, start, rtt)
		if w1 == 0 {
			continue // the first phase fits its windows: RateBound covers the second
		}
		start2 := start.Add(w1)
		w2, l2, _ := rateWait(after, start2, rtt)
		if w2 == 0 {
			continue
		}
		if t := w1 + w2; t > out.Time {
			out.Time = t
			out.Limit = fmt.Sprintf("%s in two phases: until the first temporary key, %s; then %s", venue, l1, l2)
		}
	}
	return out
}

// isMint reports whether e creates a sub-account key (the temporary keys
// of freeze-sub-accounts).
func isMint(e emu.Entry) bool {
	return e.Method == http.MethodPost && (e.Path == "/sapi/v2/sub-account/subAccountApi" || e.Path == "/sapi/v1/sub-account/subAccountApi" || e.Path == "/api/v1/sub/api-key")
}

func venueOf(e emu.Entry) string {
	if e.Venue == "kucoin-futures" {
		return "kucoin"
	}
	return e.Venue
}

// rateWait is the longest, over the rate-limit buckets of reqs, of the
// earliest moment the bucket's last request could go plus the round trips
// that must follow it (0 when every bucket fits its first window), what
// sets it, and the busiest bucket (see RateBound).
func rateWait(reqs []emu.Entry, start time.Time, rtt time.Duration) (time.Duration, string, string) {
	var (
		out             time.Duration
		limit, busiestS string
	)
	bs := map[string]*bucket{}
	for _, e := range reqs {
		if e.Kind == emu.KindAdmin || e.Kind == emu.KindAttacker || e.Weight == 0 ||
			e.Status == http.StatusTooManyRequests || e.Status == http.StatusTeapot {
			continue
		}
		mut := e.Kind == emu.KindMutation
		switch e.Venue {
		case "binance":
			binanceCharge(bs, e, mut)
		case "kucoin", "kucoin-futures":
			kucoinCharge(bs, e, mut)
		}
	}
	names := make([]string, 0, len(bs))
	for n := range bs {
		names = append(names, n)
	}
	sort.Strings(names) // ties go to the first name: the result does not depend on map order
	busiest := 0.0
	for _, n := range names {
		b := bs[n]
		if u := float64(b.weight) / float64(b.limit); u > busiest {
			busiest = u
			busiestS = fmt.Sprintf("%s: %s = %.0f%% of %d per %s", b.name, b.calls(), 100*u, b.limit, b.window)
		}
		k := (b.weight+b.limit-1)/b.limit - 1
		if k <= 0 {
			continue // fits the first window: no wait, the round-trip bound covers it
		}
		var wait time.Duration
		if b.aligned {
			wait = start.Truncate(b.window).Add(time.Duration(k) * b.window).Sub(start)
		} else {
			wait = time.Duration(k) * b.window
		}
		tail := 1
		if b.mutations {
			tail += snapshotAfterRoundTrips
		}
		if t := wait + time.Duration(tail)*rtt; t > out {
			out = t
			limit = b.describe(k, wait, tail)
		}
	}
	return out, limit, busiestS
}

func (b *bucket) describe(k int, wait time.Duration, tail int) string {
	return fmt.Sprintf("%s: %s / %d per %s → %d windows, last from +%s, then %d round trips",
		b.name, b.calls(), b.limit, b.window, k+1, wait.Round(time.Millisecond), tail)
}

// calls is "N calls × W" (or "N calls, weight W" when weights differ).
func (b *bucket) calls() string {
	if b.unit > 0 {
		return fmt.Sprintf("%d calls × %d", b.n, b.unit)
	}
	return fmt.Sprintf("%d calls, weight %d", b.n, b.weight)
}

// binanceUncharged are the codes Binance answers while authenticating,
// before it charges a UID budget (internal/emulator/binance auth.go; the
// IP budgets are charged before). -1102 and -1100 can also come later
// from a handler: leaving them out keeps the bound a lower bound.
var binanceUncharged = map[string]bool{
	"-2014": true, "-2015": true, "-2008": true, "-1102": true, "-1100": true,
	"-1131": true, "-1021": true, "-1022": true,
}

// binanceCharge counts e in Binance's buckets (see RateBound).
func binanceCharge(bs map[string]*bucket, e emu.Entry, mut bool) {
	switch {
	case strings.HasPrefix(e.Path, "/api/"):
		charge(bs, "binance ip /api", binanceAPIWeight, time.Minute, true, e.Weight, mut)
	case strings.HasPrefix(e.Path, "/fapi/"):
		charge(bs, "binance ip /fapi", binanceFAPIWeight, time.Minute, true, e.Weight, mut)
	case strings.HasPrefix(e.Path, "/dapi/"):
		charge(bs, "binance ip /dapi", binanceDAPIWeight, time.Minute, true, e.Weight, mut)
	case strings.HasPrefix(e.Path, "/sapi/"):
		if !binanceUID[e.Endpoint] {
			charge(bs, "binance ip "+e.Endpoint, binanceSAPIIPWeight, time.Minute, true, e.Weight, mut)
			if w := binanceUIDToo[e.Endpoint]; w > 0 && e.Account != "" && !binanceUncharged[e.Code] {
				charge(bs, "binance uid "+e.Endpoint+" ("+e.Account+")", binanceSAPIUID, time.Minute, true, w, mut)
			}
			return
		}
		if e.Account == "" || binanceUncharged[e.Code] {
			return // refused before the UID budget is charged
		}
		limit, window := binanceSAPIUID, time.Minute
		if e.Endpoint == "GET /sapi/v1/capital/withdraw/history" {
			limit, window = binanceSAPIUID1s, time.Second
		}
		charge(bs, "binance uid "+e.Endpoint+" ("+e.Account+")", limit, window, true, e.Weight, mut)
	}
}

// kucoinUncharged are the codes KuCoin answers before charging a pool
// (authentication, IP whitelist, permission; internal/emulator/kucoin).
var kucoinUncharged = map[string]bool{
	"400001": true, "400002": true, "400003": true, "400004": true, "400005": true,
	"400006": true, "400007": true, "400009": true, "429000": true,
}

// kucoinCharge counts e in KuCoin's pools (see RateBound).
func kucoinCharge(bs map[string]*bucket, e emu.Entry, mut bool) {
	if kucoinUncharged[e.Code] || e.Weight == 0 {
		return
	}
	pool, who := "Public", "ip"
	switch {
	case e.Kind == emu.KindPublic || e.Account == "":
	case e.Venue == "kucoin-futures":
		pool, who = "Futures", e.Account
	case kucoinManagement[e.Endpoint]:
		pool, who = "Management", e.Account
	default:
		pool, who = "Spot", e.Account
	}
	charge(bs, "kucoin "+pool+" pool ("+who+")", kucoinPools[pool], kucoinWindow, false, e.Weight, mut)
}
