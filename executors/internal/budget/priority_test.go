package budget

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors/internal/fakeclock"
)

// sched is the shared fake clock of goroutines that sleep
// (fakeclock.Sched), with settle.
type sched struct{ c *fakeclock.Sched }

func newSched(t time.Time) *sched { return &sched{fakeclock.New(t)} }

func (s *sched) now() time.Time                                   { return s.c.Now() }
func (s *sched) sleep(ctx context.Context, d time.Duration) error { return s.c.Sleep(ctx, d) }
func (s *sched) parked() int                                      { return s.c.Parked() }
func (s *sched) set(t time.Time)                                  { s.c.Set(t) }
func (s *sched) next()                                            { s.c.Next() }
func (s *sched) fire()                                            { s.c.Fire() }

// settle waits until n goroutines sleep, and stay asleep a moment (a
// waiter woken by those ahead of it may still be on its way back).
func (s *sched) settle(t *testing.T, n func() int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	stable := 0
	for stable < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines asleep, want %d", s.parked(), n())
		}
		time.Sleep(2 * time.Millisecond)
		if s.parked() == n() {
			stable++
		} else {
			stable = 0
		}
	}
}

// drain lets the sleepers run out: it waits until they sleep (settle),
// then moves the clock to the next wake-up until pending reaches 0.
func (s *sched) drain(t *testing.T, pending func() int) {
	t.Helper()
	s.settle(t, pending)
	for pending() > 0 {
		s.next()
		s.settle(t, pending)
	}
}

// grants records when each request was granted.
type grants struct {
	mu sync.Mutex
	at map[string]time.Time
	wg sync.WaitGroup
}

func (g *grants) pending(total int) func() int {
	return func() int {
		g.mu.Lock()
		defer g.mu.Unlock()
		return total - len(g.at)
	}
}

// start sends a request of weight w at priority pr through p, in the
// background.
func (g *grants) start(t *testing.T, p *Pacer, set *Set, spec Spec, name string, pr Priority, w int) {
	g.startCtx(t, p, set, spec, name, WithPriority(context.Background(), pr), w)
}

// startCtx is start with the request's context.
func (g *grants) startCtx(t *testing.T, p *Pacer, set *Set, spec Spec, name string, ctx context.Context, w int) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		r, err := p.Wait(ctx, Cost{Set: set, Spec: spec, Weight: w})
		if err != nil {
			t.Error(err)
			return
		}
		at := p.Now()
		p.SettleAll(r, None)
		g.mu.Lock()
		g.at[name] = at
		g.mu.Unlock()
	}()
}

// spentMinute returns a fake clock at now, a pacer on it and a bucket of
// 100 per clock minute whose current window is spent.
func spentMinute(now time.Time) (*sched, *Pacer, *Set, Spec) {
	clk := newSched(now)
	p := &Pacer{Now: clk.now, Sleep: clk.sleep}
	set, spec := NewSet(), minuteSpec(100)
	r, _ := p.Wait(context.Background(), Cost{Set: set, Spec: spec, Weight: 100})
	p.SettleAll(r, None)
	return clk, p, set, spec
}

// sender returns a function that sends one request of priority pr and
// weight w through p (waiting on clk as needed) and says when it went.
func sender(t *testing.T, p *Pacer, clk *fake, set *Set, spec Spec) func(pr Priority, w int) time.Time {
	return func(pr Priority, w int) time.Time {
		t.Helper()
		r, err := p.Wait(WithPriority(context.Background(), pr), Cost{Set: set, Spec: spec, Weight: w})
		if err != nil {
			t.Fatal(err)
		}
		p.SettleAll(r, None)
		return clk.t
	}
}

// TestHigherPriorityFirstAtRollover: a containment request that starts
// waiting after three report reads is served first when the window rolls
// over, aligned windows (Binance) and windows the venue resets (KuCoin)
// alike, and across two accounts whose requests share one IP's budget.
func TestHigherPriorityFirstAtRollover(t *testing.T) {
	for _, aligned := range []bool{true, false} {
		t.Run(fmt.Sprintf("aligned=%v", aligned), func(t *testing.T) {
			t0 := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
			clk := newSched(t0)
			a := &Pacer{Now: clk.now, Sleep: clk.sleep} // account A
			b := &Pacer{Now: clk.now, Sleep: clk.sleep} // account B, same IP
			// A host of its own (the registry is process-wide: -count=N).
			set := Shared(SharedScope("prio-test", fmt.Sprintf("https://rollover-%v-%d.example.test", aligned, time.Now().UnixNano())))
			spec := Spec{Name: "api", Limit: 100, Window: time.Minute, Aligned: aligned}
			r, err := a.Wait(WithPriority(context.Background(), Report), Cost{Set: set, Spec: spec, Weight: 100})
			if err != nil {
				t.Fatal(err)
			}
			a.SettleAll(r, None)
			g := &grants{at: map[string]time.Time{}}
			pending := g.pending(4)
			for i := range 3 {
				g.start(t, a, set, spec, fmt.Sprintf("report-%d", i), Report, 60)
			}
			clk.settle(t, func() int { return 3 })
			g.start(t, b, set, spec, "containment", Containment, 60)
			clk.drain(t, pending)
			g.wg.Wait()
			c := g.at["containment"]
			if !c.Equal(t0.Add(time.Minute)) {
				t.Errorf("containment request granted at %s, want %s (the first rollover)", c.Format("15:04:05"), t0.Add(time.Minute).Format("15:04:05"))
			}
			var reports []time.Time
			for name, at := range g.at {
				if name != "containment" {
					reports = append(reports, at)
					if !at.After(c) {
						t.Errorf("%s granted at %s, not after the containment request (%s)", name, at.Format("15:04:05"), c.Format("15:04:05"))
					}
				}
			}
			sort.Slice(reports, func(i, j int) bool { return reports[i].Before(reports[j]) })
			for i := 1; i < len(reports); i++ {
				if reports[i].Sub(reports[i-1]) < time.Minute {
					t.Errorf("two report reads of 60 within one window of 100: %s and %s", reports[i-1].Format("15:04:05"), reports[i].Format("15:04:05"))
				}
			}
		})
	}
}

// TestReportLeavesRoomForContainment: once a containment request has
// waited in a window, report reads stop at 70 % of it, so a containment
// request arriving later in the window goes at once; without containment
// waiting they may use the whole window.
func TestReportLeavesRoomForContainment(t *testing.T) {
	for _, tc := range []struct {
		name      string
		contended bool
		reports   int // report reads of 10 that go in the window
	}{
		{"containment waited in the window", true, 6},
		{"no higher priority waited", false, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fake{t: time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)}
			p := &Pacer{Now: clk.now, Sleep: clk.sleep}
			set := NewSet()
			spec := minuteSpec(100)
			send := sender(t, p, clk, set, spec)
			window := clk.t
			if tc.contended {
				for range 10 {
					send(Report, 10) // fill the first window
				}
				// Waits for the next window, and goes first in it.
				window = send(Containment, 10)
				if want := clk.t.Truncate(time.Minute); !window.Equal(want) || window.Minute() != 1 {
					t.Fatalf("waiting containment request went at %s, want 06:01:00", window.Format("15:04:05"))
				}
			}
			for i := range tc.reports {
				if at := send(Report, 10); !at.Equal(window) {
					t.Fatalf("report read %d went at %s, want at once (%s)", i+1, at.Format("15:04:05"), window.Format("15:04:05"))
				}
			}
			if tc.contended {
				if at := send(Containment, 20); !at.Equal(window) {
					t.Errorf("a late containment request of 20 went at %s, want at once (%s): the reports left no room", at.Format("15:04:05"), window.Format("15:04:05"))
				}
			}
			if at := send(Report, 10); !at.After(window) {
				t.Errorf("report read %d went at %s, want it to wait for the next window", tc.reports+1, at.Format("15:04:05"))
			}
		})
	}
}

// TestEqualPriorityOldestWindowFirst: a request that has waited since the
// last window goes before requests of its priority that arrive in the new
// one, even when they reach the bucket first: a stream of newcomers
// cannot starve it.
func TestEqualPriorityOldestWindowFirst(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	clk, p, set, spec := spentMinute(t0)
	g := &grants{at: map[string]time.Time{}}
	pending := g.pending(11)
	g.start(t, p, set, spec, "old", Containment, 50)
	clk.settle(t, func() int { return 1 })
	// The window ends; ten newcomers reach the bucket before the old
	// waiter wakes.
	clk.set(t0.Add(time.Minute))
	for i := range 10 {
		g.start(t, p, set, spec, fmt.Sprintf("new-%d", i), Containment, 10)
	}
	clk.settle(t, pending)
	clk.fire()
	clk.drain(t, pending)
	g.wg.Wait()
	if got, want := g.at["old"], t0.Add(time.Minute); !got.Equal(want) {
		t.Errorf("the request waiting since the first window went at %s, want %s", got.Format("15:04:05"), want.Format("15:04:05"))
	}
	perWindow := map[time.Time]int{g.at["old"]: 50}
	for i := range 10 {
		perWindow[g.at[fmt.Sprintf("new-%d", i)].Truncate(time.Minute)] += 10
	}
	for w, n := range perWindow {
		if n > 100 {
			t.Errorf("window %s: weight %d, want at most 100", w.Format("15:04"), n)
		}
	}
	if got := perWindow[t0.Add(time.Minute)]; got != 100 {
		t.Errorf("second window: weight %d, want 100 (the old request and five newcomers)", got)
	}
}

// TestPriorityOf: untagged requests are containment-level.
func TestPriorityOf(t *testing.T) {
	for _, tc := range []struct {
		ctx  context.Context
		want Priority
	}{
		{context.Background(), Containment},
		{WithPriority(context.Background(), Report), Report},
		{WithPriority(context.Background(), Top), Top},
		{WithPriority(context.Background(), Priority(99)), Containment},
	} {
		if got := PriorityOf(tc.ctx); got != tc.want {
			t.Errorf("PriorityOf: got %s, want %s", got, tc.want)
		}
	}
}

// TestTopMaySpendTheReserve: where the Spec allows it (KuCoin: a 429000
// refuses, it bans nothing), a Top request goes into the reserve that
// keeps every other request waiting for the next window.
func TestTopMaySpendTheReserve(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pr      Priority
		topRes  int
		atOnce  bool
		comment string
	}{
		{"top with TopReserve", Top, 1, true, "spends the reserve"},
		{"containment with TopReserve", Containment, 1, false, "keeps the reserve"},
		{"top without TopReserve", Top, 0, false, "keeps the reserve"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fake{t: time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)}
			p := &Pacer{Now: clk.now, Sleep: clk.sleep}
			set := NewSet()
			spec := minuteSpec(100)
			spec.Reserve, spec.TopReserve = 40, tc.topRes
			send := sender(t, p, clk, set, spec)
			start := clk.t
			for range 6 {
				if at := send(Containment, 10); !at.Equal(start) {
					t.Fatalf("the first 60 went at %s, want at once", at.Format("15:04:05"))
				}
			}
			// 40 left, all of it reserve: a 30 fits only into the reserve.
			at := send(tc.pr, 30)
			if got := at.Equal(start); got != tc.atOnce {
				t.Errorf("a %s request of 30 with 40 left (reserve 40, top reserve %d) went at %s; want it to %s", tc.pr, tc.topRes, at.Format("15:04:05"), tc.comment)
			}
		})
	}
}

// TestWorkBegunFirstGoesFirst: a request of work begun earlier
// (WithOrigin: a freeze that began before another account's sub-account
// listings, now re-listing to confirm its cancels) goes before a request
// of its priority that came to the scarce bucket first but whose work
// began after, whether its work began the window before or earlier in the
// same window. Without an origin it counts from when it asked, and waits.
func TestWorkBegunFirstGoesFirst(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		origin time.Time // of "confirm"; zero: none
		first  bool      // confirm goes first
	}{
		{"began the window before", t0.Add(-50 * time.Second), true},
		{"began earlier in the window", t0.Add(2 * time.Second), true},
		{"no origin", time.Time{}, false},
		{"began after", t0.Add(30 * time.Second), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk, p, set, spec := spentMinute(t0.Add(10 * time.Second))
			g := &grants{at: map[string]time.Time{}}
			pending := g.pending(2)
			// Another account's listing, part of work begun at 06:00:05,
			// waits from 06:00:10 for the next window.
			g.startCtx(t, p, set, spec, "listing", WithOrigin(WithPriority(context.Background(), Read), t0.Add(5*time.Second)), 60)
			clk.settle(t, func() int { return 1 })
			clk.set(t0.Add(40 * time.Second))
			// The confirming re-list comes to the bucket at 06:00:40.
			ctx := WithPriority(context.Background(), Read)
			if !tc.origin.IsZero() {
				ctx = WithOrigin(ctx, tc.origin)
			}
			g.startCtx(t, p, set, spec, "confirm", ctx, 60)
			clk.drain(t, pending)
			g.wg.Wait()
			second, third := t0.Add(time.Minute), t0.Add(2*time.Minute)
			want := map[string]time.Time{"confirm": third, "listing": second}
			if tc.first {
				want = map[string]time.Time{"confirm": second, "listing": third}
			}
			for name, w := range want {
				if got := g.at[name]; !got.Equal(w) {
					t.Errorf("%s went at %s, want %s", name, got.Format("15:04:05"), w.Format("15:04:05"))
				}
			}
		})
	}
}

// TestOriginKeepsTheOutermost: work done within an action (a
// sub-account's, through its own executor) keeps the action's origin.
func TestOriginKeepsTheOutermost(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	ctx := WithOrigin(WithOrigin(context.Background(), t0), t0.Add(time.Second))
	if got := originOf(ctx); !got.Equal(t0) {
		t.Errorf("origin %s, want %s", got, t0)
	}
}
