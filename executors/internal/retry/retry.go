// Package retry is the per-request persistence of the executors (issue 12
// item 4): a request that failed for a transient reason (a 5xx, a
// timeout, a connection reset, Binance -1001/-1006/-1007, KuCoin 500000, a
// 429 the budget mis-counted) is sent again, with jittered exponential
// backoff, for as long as the caller's deadline (the playbook step's
// timeout) leaves room. A permanent error (a refusal, an auth failure) is
// never retried, and neither is a mutation whose outcome is unknown unless
// repeating it is harmless (a cancel, a delete, setting a value): the
// caller re-reads before it repeats any other.
//
// The executors own what is transient and what is repeatable; this
// package decides how long to wait and whether the deadline leaves room.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy is how a venue's requests are retried.
type Policy struct {
	// Base and Max bound the backoff: attempt n waits a uniformly random
	// duration in [Base/2, min(Max, Base·2^n)] ("equal jitter": never
	// zero, so a storm of failures does not turn into a hot loop).
	Base, Max time.Duration
	// Request is the per-request timeout: a request not answered by then
	// is abandoned (a hung connection costs seconds, not the step). A
	// read is hedged well before it (executors/internal/hedge).
	Request time.Duration
	// Attempts caps the attempts of a request whose context has no
	// deadline (tests, tools), and such a request never waits longer than
	// Max between them; with a deadline, the deadline bounds them. It also
	// caps the sends of an idempotent mutation whose outcome stays
	// unknown, deadline or not (RepeatUnknown).
	Attempts int
}

// RepeatUnknown reports whether an idempotent mutation (a cancel of every
// order on a symbol) whose outcome is unknown after attempts sends may be
// sent once more. Within the policy's Attempts only, even with time left:
// one that keeps failing goes back to its caller, whose re-list then sees
// the other symbols' new orders too, rather than waiting for this one
// until the deadline.
func (p Policy) RepeatUnknown(attempts int) bool { return attempts < p.Attempts }

// Default is the policy of both venues: requests answer in well under a
// second even far from the venue, Binance rejects a request that arrives
// more than recvWindow (5 s) after its timestamp, KuCoin one more than
// 5 s off its clock, so a request unanswered after 5 s is abandoned.
var Default = Policy{Base: 100 * time.Millisecond, Max: 2 * time.Second, Request: 5 * time.Second, Attempts: 3}

// Backoff returns the wait before attempt n+1 (n counts from 0), at least
// retryAfter when the venue named one.
func (p Policy) Backoff(n int, retryAfter time.Duration) time.Duration {
	hi := p.Base << min(n, 20)
	if hi <= 0 || hi > p.Max {
		hi = p.Max
	}
	lo := min(p.Base/2, hi)
	d := lo + time.Duration(rand.Int64N(int64(hi-lo)+1))
	return max(d, retryAfter)
}

// Room reports whether another attempt fits: after waiting wait, at least
// one more request (its timeout, or a tenth of the time left, whichever
// is smaller, and at least 50 ms) must fit before ctx's deadline. Without a
// deadline, attempts (made so far) must be below p.Attempts and wait at
// most p.Max. now is the wall clock the deadline is measured against.
func (p Policy) Room(ctx context.Context, now time.Time, attempts int, wait time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return attempts < p.Attempts && wait <= p.Max
	}
	left := dl.Sub(now) - wait
	need := max(min(p.Request, left/10), 50*time.Millisecond)
	return left >= need
}
