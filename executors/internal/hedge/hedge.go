// Package hedge sends a second copy of a slow read (issue 12 item 4): a
// read that has had no answer after a delay a few times longer than the
// round trips the executor has been seeing is probably stuck (a dropped
// connection, a stalled venue node), and a fresh copy usually answers in
// one round trip. Whichever answers first is used; the other is
// cancelled. A request is hedged at most once.
//
// The executors decide what may be hedged (reads only: a GET has no side
// effect on either venue, so two copies cannot do anything twice) and
// whether the rate-limit budget has room for the copy right now (a hedge
// never waits for budget). This package measures the round trips, derives
// the delay and runs the race.
package hedge

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The delay is Factor times the median of the last samples round trips,
// at least Min; before minSamples round trips have been seen it is
// Default. It is capped at half the per-request timeout, so that the copy
// has time to answer before the first is abandoned.
const (
	Factor     = 4
	Min        = 250 * time.Millisecond
	Default    = time.Second
	samples    = 32
	minSamples = 3
)

// Tracker measures an executor's round trips (one per venue host: hosts
// differ in distance) and counts its hedges. The zero value is ready.
type Tracker struct {
	mu   sync.Mutex
	ring [samples]time.Duration
	n    int // samples recorded (the ring holds the last min(n, samples))

	sent, won, skipped atomic.Int64
}

// Observe records the round trip of a request that was answered: from the
// moment it was sent until its answer (headers, or the whole body) came.
func (t *Tracker) Observe(rtt time.Duration) {
	if rtt <= 0 {
		return
	}
	t.mu.Lock()
	t.ring[t.n%samples] = rtt
	t.n++
	t.mu.Unlock()
}

// Delay is how long a read may go unanswered before it is hedged, for
// requests abandoned after timeout (0: no per-request timeout).
func (t *Tracker) Delay(timeout time.Duration) time.Duration {
	t.mu.Lock()
	d := Default
	if t.n >= minSamples {
		s := slices.Clone(t.ring[:min(t.n, samples)])
		slices.Sort(s)
		d = max(Factor*s[len(s)/2], Min)
	}
	t.mu.Unlock()
	if timeout > 0 {
		d = min(d, timeout/2)
	}
	return d
}

// Headroom is the weight a bucket of limit must still have free, beyond
// its usual reserve, after a hedge of weight is charged to it: a quarter of
// the limit, or the hedge's own weight if more. A hedge is a luxury: it is
// sent only while the budget is not what bounds the run, so it never
// takes from a window the weight a cancel or a key deletion will need.
func Headroom(limit, weight int) int {
	return max(weight, limit/4)
}

// Stats reports the hedges sent, how many of them answered first, and how
// many reads were due a hedge that the budget had no room for.
func (t *Tracker) Stats() (sent, won, skipped int) {
	return int(t.sent.Load()), int(t.won.Load()), int(t.skipped.Load())
}

// Attempt sends one copy of a request under ctx (cancelled when the other
// copy wins) and returns its answer.
type Attempt[T any] func(ctx context.Context) (T, error)

// Result is what Run returns: the answer used, and Cancel, which the
// caller calls once it is done with the answer (a body it reads later
// stays readable until then).
type Result[T any] struct {
	Value  T
	Cancel context.CancelFunc
	// Hedged is true when a second copy was sent; Won when the second
	// copy's answer is the one returned.
	Hedged, Won bool
}

// Run sends first at once. If it has not answered after delay (and ctx
// is still live), it asks second for a copy: second returns false when
// the copy may not be sent (no budget now), and then Run waits for the
// first alone. The first copy to answer without error is returned and the
// other is cancelled; its late answer, if any, goes to discard (to close a
// body), in the background. When one copy fails while the other is in
// flight, Run waits for the other; when every copy sent has failed, it
// returns the first copy's error (the original request's). A first copy
// that fails before the delay is not hedged: its error returns at once
// (retrying is the caller's business).
func Run[T any](ctx context.Context, t *Tracker, delay time.Duration, first Attempt[T], second func() (Attempt[T], bool), discard func(T)) (Result[T], error) {
	type outcome struct {
		v     T
		err   error
		i     int
		panic any // a panic of the attempt, raised again in the caller
	}
	ch := make(chan outcome, 2)
	var cancels [2]context.CancelFunc
	launch := func(i int, a Attempt[T]) {
		actx, cancel := context.WithCancel(ctx)
		cancels[i] = cancel
		go func() {
			var o outcome
			defer func() {
				o.i, o.panic = i, recover()
				ch <- o
			}()
			o.v, o.err = a(actx)
		}()
	}
	launch(0, first)
	timer := time.NewTimer(delay)
	defer timer.Stop()
	pending, hedged := 1, false
	var errs [2]error
	for {
		select {
		case o := <-ch:
			pending--
			if o.panic != nil {
				for _, c := range cancels {
					if c != nil {
						c()
					}
				}
				panic(o.panic)
			}
			if o.err == nil {
				if pending > 0 {
					// The loser answers soon after its cancel; drain it.
					loser := 1 - o.i
					cancels[loser]()
					go func() {
						l := <-ch
						if l.err == nil && discard != nil {
							discard(l.v)
						}
					}()
				}
				if o.i == 1 {
					t.won.Add(1)
				}
				return Result[T]{Value: o.v, Cancel: cancels[o.i], Hedged: hedged, Won: o.i == 1}, nil
			}
			cancels[o.i]()
			errs[o.i] = o.err
			if pending > 0 {
				continue
			}
			var zero T
			return Result[T]{Value: zero, Cancel: func() {}, Hedged: hedged}, errs[0]
		case <-timer.C:
			if hedged || ctx.Err() != nil {
				continue
			}
			a, ok := second()
			if !ok {
				t.skipped.Add(1)
				continue
			}
			hedged = true
			t.sent.Add(1)
			launch(1, a)
			pending++
		}
	}
}
