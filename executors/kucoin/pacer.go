package kucoin

import (
	"context"
	"net/url"
	"sync"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

// pacer keeps every request within its resource pool's quota instead of
// letting KuCoin answer 429000. Its pools are the account's (KuCoin counts
// them per UID), except the Public pool, which KuCoin counts per IP:
// forPool hands requests to that pool to the process-wide pacer of the
// host, shared by every executor.
//
// Each pool is counted locally: a request's weight is reserved when it is
// sent (so a burst of parallel requests is counted before any answer
// comes back), and every answer's gw-ratelimit-* headers reconcile the
// count with the venue's, which also sees other clients of the same UID.
// A request whose weight the pool cannot cover before the window resets
// waits for the reset; so does every request after a 429, until the reset
// the venue announced.
type pacer struct {
	set   *poolSet
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// poolSet is the state of some pools and the lock that guards it.
type poolSet struct {
	mu    sync.Mutex
	pools map[string]*poolState
}

// publicPools is the process-wide registry of per-IP (Public pool)
// budgets, keyed by host.
var publicPools = struct {
	mu    sync.Mutex
	hosts map[string]*poolSet
}{hosts: map[string]*poolSet{}}

// forPool returns the pacer that budgets pool for requests to baseURI: p
// itself, or for the Public pool the shared pacer of baseURI's host (which
// paces with p's clock and sleep; it only holds the pool's state).
func (p *pacer) forPool(pool, baseURI string) *pacer {
	if pool != poolPublic {
		return p
	}
	u, err := url.Parse(baseURI)
	if err != nil || u.Host == "" {
		return p
	}
	publicPools.mu.Lock()
	defer publicPools.mu.Unlock()
	set := publicPools.hosts[u.Host]
	if set == nil {
		set = &poolSet{pools: map[string]*poolState{}}
		publicPools.hosts[u.Host] = set
	}
	return &pacer{set: set, now: p.now, sleep: p.sleep}
}

// poolState is the pacer's picture of one pool's current window.
type poolState struct {
	limit   int
	resetAt time.Time // end of the current window
	// sent is the weight of our requests charged to the current window,
	// reserved when they are sent: those still in flight count (the
	// venue's remaining does not count them yet), and so do those in
	// flight when the window rolled over (the venue may count them in
	// this one).
	sent int
	// external is the weight the venue counted in this window beyond
	// ours (other clients of the same UID or IP), as far as its headers
	// prove it.
	external int
	// exhausted is set by a 429: nothing goes out until resetAt.
	exhausted bool
	// inFlight holds the reservations not answered yet.
	inFlight map[*reservation]struct{}
	// gen counts the windows (rollovers).
	gen int
}

// remaining is what the pool can still take in this window, by the
// pacer's count.
func (st *poolState) remaining() int { return st.limit - st.sent - st.external }

// rollover starts a new window at now: the requests still in flight are
// charged to it (they may arrive after the reset).
func (st *poolState) rollover(now time.Time) {
	st.sent, st.external, st.exhausted = 0, 0, false
	for r := range st.inFlight {
		st.sent += r.weight
	}
	st.resetAt = now.Add(poolWindow)
	st.gen++
}

// reservation is one request's charge, returned by wait and settled by
// observe or release.
type reservation struct {
	pool   string
	weight int
	set    *poolSet
	gen    int // the window it was sent in
}

func newPacer(env executors.Env) *pacer {
	return &pacer{set: &poolSet{pools: map[string]*poolState{}}, now: env.Now, sleep: env.Sleep}
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

// state returns pool's state, creating it with the VIP0 quota and a fresh
// window when nothing is known yet (so that a first burst of parallel
// requests is paced too). Callers hold p.set.mu.
func (p *pacer) state(pool string) *poolState {
	st := p.set.pools[pool]
	if st == nil {
		st = &poolState{limit: defaultPoolLimit[pool], inFlight: map[*reservation]struct{}{}}
		st.rollover(p.now())
		p.set.pools[pool] = st
	}
	return st
}

// wait blocks until a request of the given weight fits in pool before
// the window resets, then charges it. Every request that does not fit
// (and every request after a 429) sleeps until the reset: the pool stays
// exhausted until then. The caller settles the reservation with observe
// or release.
func (p *pacer) wait(ctx context.Context, pool string, weight int) (*reservation, error) {
	for {
		p.set.mu.Lock()
		st := p.state(pool)
		now := p.now()
		if !now.Before(st.resetAt) {
			st.rollover(now)
		}
		// A request heavier than a whole window's budget still goes out
		// alone in a fresh window; a pool of unknown quota is not paced.
		fresh := st.sent == 0 && st.external == 0
		if st.limit <= 0 || !st.exhausted && (st.remaining()-weight >= reserve(st.limit) || fresh) {
			r := &reservation{pool: pool, weight: weight, set: p.set, gen: st.gen}
			st.sent += weight
			st.inFlight[r] = struct{}{}
			p.set.mu.Unlock()
			return r, nil
		}
		until := st.resetAt
		d := min(until.Sub(now), maxPace)
		p.set.mu.Unlock()
		if err := p.sleep(ctx, d); err != nil {
			return nil, err
		}
		p.set.mu.Lock()
		if st.resetAt.Equal(until) && d == until.Sub(now) {
			// Slept until the reset this waiter saw, and nothing moved it
			// since: the window is over (the first to wake starts the next
			// one; the others find it started).
			st.rollover(p.now())
		}
		p.set.mu.Unlock()
	}
}

// release settles a reservation whose request got no answer: it stays
// charged (the venue may have counted it).
func (p *pacer) release(r *reservation) {
	if r == nil {
		return
	}
	r.set.mu.Lock()
	defer r.set.mu.Unlock()
	if st := r.set.pools[r.pool]; st != nil {
		delete(st.inFlight, r)
	}
}

// observe settles a reservation with its answer's rate-limit headers
// (limit or remaining -1 when absent; reset the time to the window's end)
// and whether the venue answered 429.
func (p *pacer) observe(r *reservation, limit, remaining int, reset time.Duration, throttled bool) {
	if r == nil {
		return
	}
	r.set.mu.Lock()
	defer r.set.mu.Unlock()
	st := r.set.pools[r.pool]
	if st == nil {
		return
	}
	delete(st.inFlight, r)
	if limit > 0 {
		st.limit = limit
	}
	now := p.now()
	if throttled {
		// The pool is spent until the reset the venue announced.
		st.exhausted = true
		if reset <= 0 {
			reset = defaultRetryAfter
		}
		st.resetAt = now.Add(reset)
		return
	}
	if remaining < 0 || st.exhausted {
		// No headers; or a 429 said the pool is spent until resetAt,
		// whatever answers sent before it say.
		return
	}
	hdrReset := now.Add(reset)
	if r.gen != st.gen && hdrReset.Before(st.resetAt.Add(-poolWindow/2)) {
		// Sent before the window rolled over, and counted in the
		// window before this one.
		return
	}
	// The venue's window is the truth: adopt its end. It had counted at
	// most all we sent, so the rest of what it counted is someone
	// else's (another client of the UID or IP): a lower bound, which
	// only grows within a window. remaining() is then at most the
	// header's remaining minus what we sent since.
	st.resetAt = hdrReset
	st.external = max(st.external, st.limit-remaining-st.sent)
}
