package budget

import (
	"context"
	"time"
)

// Priority orders requests waiting for the same bucket: when a bucket is
// scarce, a request goes only when no waiter of higher priority waits for
// it, and lower priorities leave a share of the window (see leave) once a
// higher one has waited in it. Higher values go first.
type Priority int

// The priorities, lowest first.
const (
	// Report is a read that only feeds the report (snapshots, trades,
	// the inventory's per-key IP restrictions): it waits.
	Report Priority = iota + 1
	// Read is a read containment needs (key and order listings).
	Read
	// Containment is a cancel, a key deletion, a temporary key's
	// creation, probe or deletion: the default of an untagged request.
	Containment
	// Top is the named leaked key and keys that can withdraw.
	Top
)

func (p Priority) String() string {
	switch p {
	case Report:
		return "report"
	case Read:
		return "read"
	case Containment:
		return "containment"
	case Top:
		return "top"
	}
	return "unknown"
}

// leave is the share of a window's limit a priority leaves untouched while
// a higher one has waited for the bucket in this window: room for the
// higher one's next request without waiting for the next window.
// Containment leaves none (Top goes first through the waiters' order).
func (p Priority) leave() float64 {
	switch p {
	case Report:
		return 0.30
	case Read:
		return 0.15
	}
	return 0
}

type priorityKey struct{}

// WithPriority returns ctx carrying p: every request sent with it (or a
// context derived from it) is budgeted at p.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// PriorityOf returns the priority ctx carries; Containment when none (an
// untagged request is never starved by tagged ones).
func PriorityOf(ctx context.Context) Priority {
	if p, ok := ctx.Value(priorityKey{}).(Priority); ok && p >= Report && p <= Top {
		return p
	}
	return Containment
}

type originKey struct{}

// WithOrigin returns ctx whose requests are part of work begun at t (on
// the pacer's clock): an executor's action, from its start. Where a
// bucket is scarce, requests of equal priority go in the order their work
// began (see the package comment), so a request that comes to it late in
// its work (a freeze's confirming re-list) is not sent behind work begun
// after. An origin already in ctx is kept: work done within an action
// (a sub-account's, through its own executor) is part of that action.
func WithOrigin(ctx context.Context, t time.Time) context.Context {
	if !originOf(ctx).IsZero() {
		return ctx
	}
	return context.WithValue(ctx, originKey{}, t)
}

func originOf(ctx context.Context) time.Time {
	t, _ := ctx.Value(originKey{}).(time.Time)
	return t
}
