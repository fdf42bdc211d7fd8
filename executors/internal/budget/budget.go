// Package budget keeps an executor's requests inside the venue's rate
// limits, so that no request is answered 429 (or, on Binance, 418: an IP
// ban). It is the one mechanism both venues use (issue 12 item 5); each
// venue supplies its cost table (which buckets a request is charged to,
// with what weight) and reads its own headers into an Observation.
//
// A bucket is one limit: a weight per window, counted per IP (shared by
// every account whose requests leave through the same address: see
// Shared) or per account/UID (the executor's own Set). A request waits
// until its weight fits every bucket it is charged to, reserves it, and
// is sent; its answer settles the reservation. The venue's used-weight
// header corrects the local count both ways, never beyond what it proves.
// Above our count, it raises it (other clients of the same IP or UID).
// Below it, it lowers it to what the venue can still count in its window:
// what it had counted when it answered, plus every request of ours it may
// count after that (sent after the answered one, or in flight when that
// one went out). Requests the venue did not count (say, answered 5xx in
// a storm, which the local count charged in case it did) are then not
// waited for, and none it may still count is forgotten, whatever order
// the answers come back in. A 429 closes the bucket until the reset the
// venue announced (its Retry-After).
//
// Windows are either aligned to the clock (Binance: per minute, per 10 s)
// or start with the first request and end when the venue's reset header
// says (KuCoin: 30 s from the first request of the window).
//
// Scarcity is spent in priority order (issue 12 item 3). Each request
// carries a Priority in its context (WithPriority; untagged requests are
// Containment): Top (the named leaked key, keys that can withdraw), then
// Containment (cancels, key deletions, temporary keys), Read (listings
// containment needs), Report (reads that only feed the report). A request
// that does not fit waits registered on the bucket with its priority and
// when its work began: the start of the executor action it is part of
// (WithOrigin), else when it first asked. A request takes weight only if
// no registered waiter goes before it: none of higher priority, none of
// its own priority whose work began earlier. So equal priorities are
// served in the order their work began: none starves behind newcomers,
// and the confirmation of work begun first (a freeze's re-list, after its
// cancels) is not sent behind work begun after it (another account's
// sub-account listings that came to the bucket earlier). A waiter held
// back by another wakes as soon as those ahead of it have gone, so when a
// window rolls over its waiters go highest priority first. Once a higher priority has waited on a bucket in
// a window, lower ones leave a share of the window's limit untouched
// (Report 30 %, Read 15 %): room for the higher one's next request.
//
// A wait of NoticeAfter or more is told to the notice the request's
// context carries (WithNotice, notice.go), once per bucket and wait for
// the whole process. A loop that runs as often as the budget allows (a
// hold's passes) spends its buckets steadily over each window
// (WithSteady, steady.go), keeping what it does not spend yet for the
// mutations it exists for.
package budget

import (
	"context"
	"math"
	"net/url"
	"sync"
	"time"
)

// Spec describes one bucket.
type Spec struct {
	// Name identifies the bucket within its Set, e.g. "api",
	// "sapi-uid:DELETE /sapi/v1/sub-account/subAccountApi", "spot".
	Name string
	// Limit is the weight the venue allows per Window; 0 or less means
	// unknown: not paced (until an Observation gives one).
	Limit int
	// Window is the limit's interval.
	Window time.Duration
	// Aligned windows start at multiples of Window (Binance); otherwise a
	// window starts with the first request after the previous one ended
	// and its end is corrected by the venue's reset header (KuCoin).
	Aligned bool
	// Reserve is the weight left untouched in every window (a margin for
	// requests of other clients the headers have not shown yet).
	Reserve int
	// TopReserve, when above zero, is the margin kept for a request of
	// priority Top instead of Reserve: on a venue whose limit answer is a
	// refusal, not a ban (KuCoin's 429000), the reserve is what lets our
	// own temporary key be deleted at once instead of at the window's end.
	TopReserve int
	// Guard (aligned windows) is how far the venue's window boundary may
	// be from ours: its clock's offset from ours plus a request's time in
	// flight. A request sent within Guard of a boundary may be counted in
	// either window, so it is charged to both: the window rolls over
	// Guard after the boundary, and the new one starts with the weight
	// sent since Guard before it.
	Guard time.Duration
	// Quiet buckets' long waits are not told (WithNotice): their executor
	// tells of them itself.
	Quiet bool
}

// Set holds the state of some buckets and the lock that guards it.
type Set struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	ip      bool // a Shared set: the IP's, not an account's
}

// NewSet returns an empty set (an account's own, UID-scoped buckets).
func NewSet() *Set { return &Set{buckets: map[string]*bucket{}} }

// shared is the process-wide registry of IP-scoped sets.
var shared = struct {
	mu   sync.Mutex
	sets map[string]*Set
}{sets: map[string]*Set{}}

// Shared returns the process-wide set of scope (created on first use).
// Every executor of the process leaves through the same egress IP, so IP
// limits are kept in Shared(SharedScope(venue, baseURL)): two accounts
// behind one IP draw from one budget.
func Shared(scope string) *Set {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	s := shared.sets[scope]
	if s == nil {
		s = NewSet()
		s.ip = true
		shared.sets[scope] = s
	}
	return s
}

// SharedScope names the IP-scoped set of a venue's host: venue and the
// host of baseURL (the URL itself when it has no host).
func SharedScope(venue, baseURL string) string {
	if u, err := url.Parse(baseURL); err == nil && u.Host != "" {
		return venue + "|" + u.Host
	}
	return venue + "|" + baseURL
}

// bucket is the pacer's picture of one bucket's current window.
type bucket struct {
	spec    Spec
	limit   int
	resetAt time.Time // end of the current window
	// sent is the weight of our requests charged to this window, reserved
	// when they are sent: those still in flight count (the venue's count
	// does not show them yet), and so do those in flight when the window
	// rolled over (the venue may count them in this one).
	sent int
	// external is what the venue counted in this window beyond ours
	// (other clients of the same IP or UID), as far as its headers prove.
	external int
	// total is the weight of every request ever charged to the bucket,
	// and pending that of those sent and not answered (in flight, or
	// abandoned: the venue may still count them): a hold records both
	// when it is charged, so that its answer's header can be bounded
	// (settle).
	total, pending int
	// closed is set by a 429 on a window that follows the venue's reset
	// (not aligned): nothing goes out until resetAt.
	closed bool
	// blocked is set by a 429 on an aligned window: nothing goes out
	// until then (the venue's Retry-After), whatever the window.
	blocked  time.Time
	inFlight map[*hold]struct{}
	gen      int // counts the windows
	// recent are the sends of the last 2×Guard, and those answered in
	// it or not yet (aligned windows with a Guard): those sent near a
	// boundary, or answered after it, are carried into the next window.
	recent []send
	// waiting counts the requests waiting for this bucket, by priority
	// and by when their work began (waiter.since, in Unix nanoseconds).
	waiting map[Priority]map[int64]int
	// pressed is the highest priority that has waited for this bucket in
	// this window: lower ones leave it their share (Priority.leave).
	pressed Priority
	// changed is cancelled, and replaced, when the last waiter of a
	// priority and window leaves: the waiters it held back try again.
	changed context.Context
	signal  context.CancelFunc
	// steadyFrom and steadyBase are when a steady loop first asked in
	// window steadyGen, and the weight counted then (steadyWait).
	steadyFrom time.Time
	steadyBase int
	steadyGen  int
}

// send is one request's charge at the time it was sent.
type send struct {
	at     time.Time
	weight int
	h      *hold
}

func (b *bucket) remaining() int { return b.limit - b.sent - b.external }

func (b *bucket) rollover(now time.Time) {
	b.sent, b.external, b.closed = 0, 0, false
	carried := map[*hold]bool{}
	if g := b.spec.Guard; b.spec.Aligned && g > 0 {
		// Sent within Guard of the boundary just passed, or answered after
		// it (a request arrives before its answer, but may arrive after
		// the boundary however early it was sent: a busy machine, a slow
		// network): the venue may count them in the window starting now.
		// The window rolls over when a request next comes, up to Guard
		// after the boundary or later, by when those in flight at the
		// boundary may have been answered.
		boundary := now.Add(-g).Truncate(b.spec.Window)
		for _, s := range b.recent {
			late := !s.h.unsent && (s.h.ended.IsZero() || !s.h.ended.Before(boundary.Add(-g)))
			if !s.at.Before(boundary.Add(-g)) || late {
				b.sent += s.weight
				carried[s.h] = true
			}
		}
	}
	for h := range b.inFlight {
		if !carried[h] {
			b.sent += h.weight
		}
	}
	if b.spec.Aligned {
		g := b.spec.Guard
		b.resetAt = now.Add(-g).Truncate(b.spec.Window).Add(b.spec.Window + g)
	} else {
		b.resetAt = now.Add(b.spec.Window)
	}
	b.gen++
	// Who still waits has waited in this window too.
	b.pressed = 0
	for p, since := range b.waiting {
		if len(since) > 0 && p > b.pressed {
			b.pressed = p
		}
	}
}

// ahead reports whether a registered waiter goes before a request of
// priority p whose work began at since: one of higher priority, or one of
// the same priority whose work began earlier.
func (b *bucket) ahead(p Priority, since int64) bool {
	for q, waiters := range b.waiting {
		if q > p && len(waiters) > 0 {
			return true
		}
		if q == p {
			for s := range waiters {
				if s < since {
					return true
				}
			}
		}
	}
	return false
}

// notify wakes the waiters held back by others.
func (b *bucket) notify() {
	if b.signal != nil {
		b.signal()
	}
	b.changed, b.signal = context.WithCancel(context.Background())
}

// hold is one request's charge to one bucket.
type hold struct {
	set    *Set
	name   string
	weight int
	gen    int
	// before is the bucket's total when the request was charged (what was
	// charged earlier), pending the weight then in flight.
	before, pending int
	// ended is when the request was answered or given up (zero while in
	// flight); unsent, that it never left (Wait gave it back).
	ended  time.Time
	unsent bool
}

// Cost is one charge of a request: Weight against the bucket Spec of Set.
type Cost struct {
	Set    *Set
	Spec   Spec
	Weight int
}

// Reservation is a request's charges, returned by Wait and settled by
// Settle (with the answer) or Release (no answer came).
type Reservation struct {
	holds []*hold
}

// waiter is one Wait call: its priority and the buckets it is registered
// on as waiting. Only its own goroutine touches it; the counts it stands
// for in a bucket are guarded by the bucket's Set.
type waiter struct {
	prio   Priority
	steady bool  // WithSteady
	since  int64 // when its work began (Unix ns): WithOrigin, else when it first asked
	regs   []reg
}

// reg is a waiter's registration on one bucket.
type reg struct {
	set *Set
	b   *bucket
}

// registered reports whether w waits for b.
func (w *waiter) registered(b *bucket) bool {
	for _, r := range w.regs {
		if r.b == b {
			return true
		}
	}
	return false
}

// register records that w waits for b of set. Callers hold set.mu.
func (w *waiter) register(set *Set, b *bucket) {
	if w.registered(b) {
		return
	}
	w.regs = append(w.regs, reg{set: set, b: b})
	if b.waiting == nil {
		b.waiting = map[Priority]map[int64]int{}
	}
	if b.waiting[w.prio] == nil {
		b.waiting[w.prio] = map[int64]int{}
	}
	b.waiting[w.prio][w.since]++
	b.pressed = max(b.pressed, w.prio)
}

// unregister removes w's registration on b (if any). Callers hold the
// mutex of b's set.
func (w *waiter) unregister(b *bucket) {
	for i, r := range w.regs {
		if r.b != b {
			continue
		}
		w.regs = append(w.regs[:i], w.regs[i+1:]...)
		waiters := b.waiting[w.prio]
		if waiters[w.since]--; waiters[w.since] <= 0 {
			delete(waiters, w.since)
			if len(waiters) == 0 {
				delete(b.waiting, w.prio)
			}
			b.notify()
		}
		return
	}
}

// leave unregisters w from every bucket but keep (nil: all).
func (w *waiter) leave(keep *bucket) {
	for _, r := range append([]reg(nil), w.regs...) {
		if r.b == keep {
			continue
		}
		r.set.mu.Lock()
		w.unregister(r.b)
		r.set.mu.Unlock()
	}
}

// Pacer waits for budget. Now and Sleep are the clock (tests fake them).
type Pacer struct {
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// MaxSleep caps one pacing sleep; a waiter that wakes before the
	// window ends checks again. Zero means no cap.
	MaxSleep time.Duration
}

// state returns the bucket of spec in set, creating it with a fresh
// window. Callers hold set.mu.
func (p *Pacer) state(set *Set, spec Spec, now time.Time) *bucket {
	b := set.buckets[spec.Name]
	if b == nil {
		b = &bucket{spec: spec, limit: spec.Limit, inFlight: map[*hold]struct{}{}}
		b.rollover(now)
		b.notify()
		set.buckets[spec.Name] = b
	}
	return b
}

// Wait blocks until every cost fits its bucket before the window ends,
// then charges them all. A request that does not fit waits for the end of
// the window (and every request after a 429 waits for the reset the venue
// announced). A request heavier than a whole window's budget still goes
// out alone in a fresh window; a bucket of unknown limit is not paced.
// Costs are charged in order: a request never holds one bucket while it
// waits for another. The request's priority is PriorityOf(ctx): it waits
// behind every waiter that goes before it (see the package comment).
func (p *Pacer) Wait(ctx context.Context, costs ...Cost) (*Reservation, error) {
	r := &Reservation{}
	since := originOf(ctx)
	if since.IsZero() {
		since = p.Now()
	}
	w := &waiter{prio: PriorityOf(ctx), steady: steadyOf(ctx), since: since.UnixNano()}
	defer w.leave(nil)
	for i := 0; i < len(costs); {
		c := costs[i]
		h, b, d, until, held := p.try(c, w)
		if h != nil {
			r.holds = append(r.holds, h)
			i++
			continue
		}
		// Give back what is held: waiting holding it would starve others.
		p.giveBack(r)
		r.holds = r.holds[:0]
		i = 0
		// It waits for this bucket now, no longer for any other.
		w.leave(b)
		// Held back by waiters ahead: theirs is the wait to tell. A
		// steady loop's waits are its pace, not news.
		if held == nil && !w.steady {
			p.tell(ctx, c, b, until, p.Now())
		}
		full := true
		if p.MaxSleep > 0 && d > p.MaxSleep {
			d, full = p.MaxSleep, false
		}
		woken, err := p.sleep(ctx, d, held)
		if err != nil {
			return nil, err
		}
		if full && !woken {
			p.wake(c, until)
		}
	}
	return r, nil
}

// sleep sleeps for d, or (held non-nil: the request was held back by
// waiters ahead of it) until held is done, whichever comes first; woken
// says held ended it.
func (p *Pacer) sleep(ctx context.Context, d time.Duration, held context.Context) (woken bool, err error) {
	if held == nil {
		return false, p.Sleep(ctx, d)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(held, cancel)
	err = p.Sleep(sctx, d)
	if signalled := !stop(); err != nil && signalled && ctx.Err() == nil {
		return true, nil
	}
	return false, err
}

// try charges c if it fits now and no waiter goes before w, else
// registers w as waiting for c's bucket and returns the bucket, how long
// to wait, the end of the wait it saw (a window's end, or a 429's block)
// and, when w was held back by waiters ahead of it, a context done when
// they have gone.
func (p *Pacer) try(c Cost, w *waiter) (*hold, *bucket, time.Duration, time.Time, context.Context) {
	c.Set.mu.Lock()
	defer c.Set.mu.Unlock()
	now := p.Now()
	b := p.state(c.Set, c.Spec, now)
	if !now.Before(b.resetAt) {
		b.rollover(now)
	}
	if now.Before(b.blocked) {
		w.register(c.Set, b)
		return nil, b, b.blocked.Sub(now), b.blocked, nil
	}
	if b.ahead(w.prio, w.since) {
		w.register(c.Set, b)
		return nil, b, max(b.resetAt.Sub(now), time.Millisecond), b.resetAt, b.changed
	}
	if w.steady && !b.closed {
		// Not registered: a steady request paces itself, it does not
		// hold anyone back.
		if d := b.steadyWait(now, c.Weight); d > 0 {
			return nil, b, d, now.Add(d), nil
		}
	}
	reserve := c.Spec.Reserve
	if w.prio == Top && c.Spec.TopReserve > 0 {
		reserve = min(reserve, c.Spec.TopReserve)
	}
	if b.pressed > w.prio {
		reserve = max(reserve, int(math.Ceil(w.prio.leave()*float64(b.limit))))
	}
	fresh := b.sent == 0 && b.external == 0
	if !b.closed && (b.limit <= 0 || b.remaining()-c.Weight >= reserve || fresh) {
		w.unregister(b)
		h := &hold{set: c.Set, name: c.Spec.Name, weight: c.Weight, gen: b.gen, before: b.total, pending: b.pending}
		b.sent += c.Weight
		b.total += c.Weight
		b.pending += c.Weight
		b.inFlight[h] = struct{}{}
		if g := b.spec.Guard; b.spec.Aligned && g > 0 {
			keep := b.recent[:0]
			for _, s := range b.recent {
				if now.Sub(s.at) < 2*g || (!s.h.unsent && (s.h.ended.IsZero() || now.Sub(s.h.ended) < 2*g)) {
					keep = append(keep, s)
				}
			}
			b.recent = append(keep, send{at: now, weight: c.Weight, h: h})
		}
		return h, b, 0, time.Time{}, nil
	}
	w.register(c.Set, b)
	return nil, b, max(b.resetAt.Sub(now), time.Millisecond), b.resetAt, nil
}

// wake ends what the waiter slept for when it slept all of it and nothing
// moved that end since: the 429's block, or the window (the first to wake
// starts the next one; the others find it started).
func (p *Pacer) wake(c Cost, until time.Time) {
	c.Set.mu.Lock()
	defer c.Set.mu.Unlock()
	b := c.Set.buckets[c.Spec.Name]
	if b == nil {
		return
	}
	now := p.Now()
	switch {
	case !b.blocked.IsZero() && b.blocked.Equal(until):
		b.blocked = time.Time{}
	case b.resetAt.Equal(until) && (!b.spec.Aligned || !now.Before(until)):
		// An aligned window only once it has ended by this waiter's
		// clock too (executors sharing an IP's set may read clocks a
		// few milliseconds apart: see Spec.Guard).
		b.rollover(now)
	}
}

// Release settles a reservation whose request got no answer: its weight
// stays charged (the venue may have counted it), and stays in flight for
// every later answer's bound (the venue may still count it: see settle).
func (p *Pacer) Release(r *Reservation) { p.drop(r, false) }

// giveBack drops the charges of a reservation whose request was never
// sent (Wait gives them back while it waits): the weight stays charged,
// as in Release, but no later answer waits for it.
func (p *Pacer) giveBack(r *Reservation) { p.drop(r, true) }

func (p *Pacer) drop(r *Reservation, unsent bool) {
	if r == nil {
		return
	}
	for _, h := range r.holds {
		h.set.mu.Lock()
		if b := h.set.buckets[h.name]; b != nil {
			if _, ok := b.inFlight[h]; ok {
				delete(b.inFlight, h)
				h.ended, h.unsent = p.Now(), unsent
				if unsent {
					b.pending -= h.weight
				}
			}
		}
		h.set.mu.Unlock()
	}
}

// Observation is what an answer says about one bucket. Fields the answer
// did not carry are negative (Used, Limit) or zero (Reset).
type Observation struct {
	// Used is the weight the venue counted in its current window,
	// this request included (Binance X-MBX-USED-WEIGHT-1M; KuCoin
	// limit minus gw-ratelimit-remaining).
	Used int
	// Limit is the bucket's limit as the venue states it (KuCoin
	// gw-ratelimit-limit).
	Limit int
	// Reset is the time left until the venue's window ends (KuCoin
	// gw-ratelimit-reset; a 429's Retry-After).
	Reset time.Duration
	// Throttled is a 429 (or 418): the bucket is closed until Reset.
	Throttled bool
}

// None is an Observation of an answer that said nothing about a bucket.
var None = Observation{Used: -1, Limit: -1}

// Settle settles the reservation's charge to the bucket named name with
// what the answer said about it (see Observation). Charges to buckets the
// answer said nothing about are settled with None by SettleAll.
func (p *Pacer) Settle(r *Reservation, name string, o Observation) {
	if r == nil {
		return
	}
	for _, h := range r.holds {
		if h.name == name {
			p.settle(h, o)
		}
	}
}

// SettleAll settles every charge of r with o.
func (p *Pacer) SettleAll(r *Reservation, o Observation) {
	if r == nil {
		return
	}
	for _, h := range r.holds {
		p.settle(h, o)
	}
}

// defaultThrottle is how long a bucket stays closed after a 429 that
// named no reset.
const defaultThrottle = 5 * time.Second

func (p *Pacer) settle(h *hold, o Observation) {
	h.set.mu.Lock()
	defer h.set.mu.Unlock()
	b := h.set.buckets[h.name]
	if b == nil {
		return
	}
	if _, ok := b.inFlight[h]; !ok {
		return // settled already
	}
	now := p.Now()
	delete(b.inFlight, h)
	h.ended = now
	b.pending -= h.weight
	if o.Limit > 0 {
		b.limit = o.Limit
	}
	if o.Throttled {
		reset := o.Reset
		if reset <= 0 {
			reset = defaultThrottle
		}
		if b.spec.Aligned {
			if until := now.Add(reset); until.After(b.blocked) {
				b.blocked = until
			}
			return
		}
		b.closed = true
		b.resetAt = now.Add(reset)
		return
	}
	if b.closed {
		// A 429 said the bucket is spent until resetAt, whatever answers
		// sent before it say.
		return
	}
	if h.gen != b.gen && (b.spec.Aligned || o.Reset <= 0 || now.Add(o.Reset).Before(b.resetAt.Add(-b.spec.Window/2))) {
		// Sent before the window rolled over, and counted in the window
		// before this one.
		return
	}
	if !b.spec.Aligned && o.Reset > 0 {
		// The venue's window is the truth: adopt its end.
		b.resetAt = now.Add(o.Reset)
	}
	if o.Used >= 0 {
		// The venue had counted at most all we sent; the rest is someone
		// else's: a lower bound.
		b.external = max(b.external, o.Used-b.sent)
		// And it can count at most what it had counted, plus what we sent
		// after this request and what was in flight when this one went
		// out (it may arrive later than this one, and be answered
		// earlier). When that is less than we charged, the venue did
		// not count some of ours (a 5xx it does not charge): the count
		// comes down to it, others' share first.
		if bound := o.Used + (b.total - h.before - h.weight) + h.pending; bound < b.sent+b.external {
			if bound >= b.sent {
				b.external = bound - b.sent
			} else {
				b.sent, b.external = bound, 0
			}
		}
	}
}

// Used returns the weight counted in the current window of the bucket
// name of set (ours and what the venue showed beyond ours), and its limit.
func Used(set *Set, name string) (used, limit int) {
	set.mu.Lock()
	defer set.mu.Unlock()
	b := set.buckets[name]
	if b == nil {
		return 0, 0
	}
	return b.sent + b.external, b.limit
}
