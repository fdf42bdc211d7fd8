package budget

import (
	"context"
	"time"
)

// SteadyBurst is the share of what is left of a window, when a steady
// loop first asks in it, that the loop may spend at once; the rest is
// released evenly until the window ends (WithSteady).
const SteadyBurst = 0.5

type steadyKey struct{}

// WithSteady returns ctx whose requests spend their buckets steadily:
// from the first steady request of a window on, what is left of the
// window's limit is released to them evenly until the window ends
// (SteadyBurst of it at once), the weight others count in the meantime
// (ours not steady, other clients') included. A loop that runs as often
// as the budget allows (a hold's passes) so spreads its requests over the
// window instead of spending the window in its first seconds and then
// waiting for the next one with nothing left for what it must do in
// between (delete a key the attacker just made: WithoutSteady).
func WithSteady(ctx context.Context) context.Context {
	return context.WithValue(ctx, steadyKey{}, true)
}

// WithoutSteady returns ctx whose requests are not paced steadily, even
// within a steady loop: what the loop saves its budget for.
func WithoutSteady(ctx context.Context) context.Context {
	if !steadyOf(ctx) {
		return ctx
	}
	return context.WithValue(ctx, steadyKey{}, false)
}

func steadyOf(ctx context.Context) bool {
	s, _ := ctx.Value(steadyKey{}).(bool)
	return s
}

// steadyWait is how long a steady request of weight must wait at now
// before the window's steady allowance covers it; 0 when it does now, or
// when only the window's end would (the ordinary wait then applies).
// Callers hold the set's lock.
func (b *bucket) steadyWait(now time.Time, weight int) time.Duration {
	if b.limit <= 0 || !now.Before(b.resetAt) {
		return 0
	}
	if b.steadyGen != b.gen { // gen starts at 1 (state's rollover)
		// The loop's first request in this window: what is left of it
		// from now is what the loop spreads.
		b.steadyGen, b.steadyFrom, b.steadyBase = b.gen, now, b.sent+b.external
	}
	left := float64(b.limit - b.steadyBase)
	if left <= 0 {
		return 0
	}
	burst := SteadyBurst * left
	span := float64(b.resetAt.Sub(b.steadyFrom))
	need := float64(b.sent+b.external+weight-b.steadyBase) - burst
	if need <= (left-burst)*float64(now.Sub(b.steadyFrom))/span {
		return 0
	}
	at := b.steadyFrom.Add(time.Duration(need / (left - burst) * span))
	if !at.Before(b.resetAt) {
		return 0
	}
	return max(at.Sub(now), time.Millisecond)
}
