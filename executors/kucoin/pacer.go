package kucoin

import (
	"context"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/internal/budget"
)

// pacer keeps every request within its resource pool's quota instead of
// letting KuCoin answer 429000, with the executors' one budget mechanism
// (executors/internal/budget); this file is KuCoin's cost table: its
// pools, their VIP0 quotas and its gw-ratelimit-* headers. The pools are
// the account's (KuCoin counts them per UID), except the Public pool,
// which KuCoin counts per IP: forPool hands requests to that pool to the
// process-wide set of the host, shared by every executor.
//
// A request's weight is reserved when it is sent (so a burst of parallel
// requests is counted before any answer comes back), and every answer's
// headers reconcile the count with the venue's, which also sees other
// clients of the same UID: up to it, or down to what the venue can still
// count (budget.Pacer.Settle). A request the pool
// cannot cover before the window resets waits for the reset; so does
// every request after a 429, until the reset the venue announced. Waiters
// go in the priority their context carries (Do tags it with
// executors.RequestPriority): a revocation of a leaked key before a
// snapshot's reads.
type pacer struct {
	set *budget.Set
	p   *budget.Pacer
}

// reservation is one request's charge, returned by wait and settled by
// observe or release.
type reservation struct {
	r    *budget.Reservation
	pool string
}

func newPacer(env executors.Env) *pacer {
	return &pacer{set: budget.NewSet(), p: &budget.Pacer{Now: env.Now, Sleep: env.Sleep, MaxSleep: maxPace}}
}

// forPool returns the pacer that budgets pool for requests to baseURI: p
// itself, or for the Public pool the shared set of baseURI's host.
func (p *pacer) forPool(pool, baseURI string) *pacer {
	if pool != poolPublic {
		return p
	}
	return &pacer{set: budget.Shared(budget.SharedScope("kucoin", baseURI)), p: p.p}
}

// defaultPoolLimit is each pool's VIP0 quota per window (EXCHANGES.md
// §2.6), assumed until the venue's gw-ratelimit headers say otherwise.
var defaultPoolLimit = map[string]int{poolSpot: 4000, poolFutures: 2000, poolManagement: 2000, poolPublic: 2000}

// poolWindow is the length of KuCoin's rate-limit window.
const poolWindow = 30 * time.Second

// reserve is how much of a pool the pacer keeps untouched.
func reserve(limit int) int {
	return max(10, limit/50)
}

// maxPace caps one pacing sleep (KuCoin windows are 30 s); a waiter that
// wakes before the reset checks again.
const maxPace = 30 * time.Second

func poolSpec(pool string) budget.Spec {
	limit := defaultPoolLimit[pool]
	// A Top request (the leaked key, keys that withdraw, the deletion of
	// our own temporary key) may spend the reserve but one unit: a 429000
	// from KuCoin refuses the request, it bans nothing.
	return budget.Spec{Name: pool, Limit: limit, Window: poolWindow, Reserve: reserve(limit), TopReserve: 1}
}

// wait blocks until a request of the given weight fits in pool before
// the window resets, then charges it. The caller settles the reservation
// with observe or release.
func (p *pacer) wait(ctx context.Context, pool string, weight int) (*reservation, error) {
	r, err := p.p.Wait(ctx, budget.Cost{Set: p.set, Spec: poolSpec(pool), Weight: weight})
	if err != nil {
		return nil, err
	}
	return &reservation{r: r, pool: pool}, nil
}

// release settles a reservation whose request got no answer: it stays
// charged (the venue may have counted it).
func (p *pacer) release(r *reservation) {
	if r != nil {
		p.p.Release(r.r)
	}
}

// observe settles a reservation with its answer's rate-limit headers
// (limit or remaining -1 when absent; reset the time to the window's end)
// and whether the venue answered 429.
func (p *pacer) observe(r *reservation, limit, remaining int, reset time.Duration, throttled bool) {
	if r == nil {
		return
	}
	o := budget.Observation{Used: -1, Limit: limit, Throttled: throttled}
	if throttled {
		o.Reset = reset
		if o.Reset <= 0 {
			o.Reset = defaultRetryAfter
		}
	} else if remaining >= 0 {
		o.Reset = reset
		if limit > 0 {
			o.Used = limit - remaining
		}
	}
	p.p.Settle(r.r, r.pool, o)
}
