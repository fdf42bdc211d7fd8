package budget

import (
	"context"
	"sync"
	"time"
)

// NoticeAfter is the shortest wait for a bucket that is told (WithNotice):
// shorter ones pass unseen in a run's output.
const NoticeAfter = 5 * time.Second

// LongWait is a wait of NoticeAfter or more for one bucket.
type LongWait struct {
	// Bucket is the bucket's Spec.Name; Limit and Window its budget as the
	// pacer keeps it (the venue's headers may have lowered the limit).
	Bucket string
	Limit  int
	Window time.Duration
	// Until is when the wait ends, Wait how long it is from when it was
	// told; Blocked says the venue refused a request (429) and set it
	// (else the window's budget is spent, or kept for requests that go
	// first).
	Until   time.Time
	Wait    time.Duration
	Blocked bool
	// External is the weight the venue counted in the window beyond ours
	// (its headers said so): other clients of the same account, or (IP)
	// of the same IP. On an account's limit during an incident, that may
	// be whoever holds its leaked key.
	External int
	IP       bool
}

type noticeKey struct{}

// WithNotice returns ctx whose requests tell notice of a wait for budget
// of NoticeAfter or more, with the context of the request that waits (what
// it is for may change what the wait means), so that the operator hears
// why nothing moves:
// once per bucket name and RetellAfter (waits ending a moment apart are
// one), whichever request of the process meets it first (a shared bucket's wait is told once, not by every
// account behind the IP, and so is the same per-account limit's wait of
// several accounts). A bucket whose Spec is Quiet is never told.
func WithNotice(ctx context.Context, notice func(context.Context, LongWait)) context.Context {
	return context.WithValue(ctx, noticeKey{}, notice)
}

// tell passes a wait for b until until, at now, to ctx's notice if it is
// long enough and not told yet.
func (p *Pacer) tell(ctx context.Context, c Cost, b *bucket, until, now time.Time) {
	notice, _ := ctx.Value(noticeKey{}).(func(context.Context, LongWait))
	if notice == nil || c.Spec.Quiet || until.Sub(now) < NoticeAfter {
		return
	}
	if !firstTold(c.Spec.Name, until, now) {
		return
	}
	c.Set.mu.Lock()
	w := LongWait{Bucket: c.Spec.Name, Limit: b.limit, Window: c.Spec.Window, Until: until, Wait: until.Sub(now), Blocked: b.closed || until.Equal(b.blocked),
		External: b.external, IP: c.Set.ip}
	c.Set.mu.Unlock()
	notice(ctx, w)
}

// told holds the last wait told of each bucket name.
var told struct {
	sync.Mutex
	m map[string]toldAt
}

type toldAt struct{ at, until time.Time }

// RetellAfter is how long after telling a limit's wait the same limit's
// next wait is told again: a limit that binds window after window (a
// long hold, a large fund) is news once, not once a window.
const RetellAfter = 5 * time.Minute

// firstTold reports whether the wait for bucket name until until is news,
// and records it: not when a wait of the same limit was told less than
// RetellAfter before now, nor when one told ends within NoticeAfter of it
// (KuCoin's windows start with each account's first request, so the
// accounts' ends differ by moments).
func firstTold(name string, until, now time.Time) bool {
	told.Lock()
	defer told.Unlock()
	if told.m == nil {
		told.m = map[string]toldAt{}
	}
	if last, ok := told.m[name]; ok && (now.Sub(last.at).Abs() < RetellAfter || last.until.Sub(until).Abs() < NoticeAfter) {
		return false
	}
	told.m[name] = toldAt{at: now, until: until}
	return true
}

// ForgetTold forgets the waits told so far in the process (firstTold):
// for tests that run again in one process (go test -count), whose waits
// would otherwise not be news the second time.
func ForgetTold() {
	told.Lock()
	defer told.Unlock()
	told.m = nil
}
