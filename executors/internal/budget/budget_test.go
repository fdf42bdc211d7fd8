package budget

import (
	"context"
	"testing"
	"time"
)

// fake is a clock whose sleeps advance it.
type fake struct{ t time.Time }

func (f *fake) now() time.Time { return f.t }
func (f *fake) sleep(_ context.Context, d time.Duration) error {
	f.t = f.t.Add(d)
	return nil
}

func minuteSpec(limit int) Spec {
	return Spec{Name: "api", Limit: limit, Window: time.Minute, Aligned: true}
}

// TestTwoAccountsBehindOneIPShareABudget: the IP-scoped set is one per
// scope, so two accounts' requests together stay within the limit: the
// second account waits for the next window once the first spent it.
func TestTwoAccountsBehindOneIPShareABudget(t *testing.T) {
	clk := &fake{t: time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)}
	p := &Pacer{Now: clk.now, Sleep: clk.sleep}
	scope := SharedScope("test-venue", "https://api.example.test/x")
	a, b := Shared(scope), Shared(SharedScope("test-venue", "https://api.example.test"))
	if a != b {
		t.Fatal("two accounts of one host got different IP budgets")
	}
	if Shared(SharedScope("test-venue", "https://other.example.test")) == a {
		t.Fatal("another host shares the budget")
	}
	spec := minuteSpec(100)
	perMinute := map[time.Time]int{}
	for i := range 30 {
		set := a // account A's requests
		if i%2 == 1 {
			set = b // account B's
		}
		r, err := p.Wait(context.Background(), Cost{Set: set, Spec: spec, Weight: 10})
		if err != nil {
			t.Fatal(err)
		}
		p.SettleAll(r, None)
		perMinute[clk.t.Truncate(time.Minute)] += 10
	}
	for m, w := range perMinute {
		if w > 100 {
			t.Errorf("minute %s: %d weight from both accounts, want at most 100", m.Format("15:04"), w)
		}
	}
	if len(perMinute) < 3 {
		t.Errorf("300 weight at 100 a minute spread over %d minutes, want at least 3", len(perMinute))
	}
}

// TestHeadersCorrectBothWays: a used-weight header above the local count
// raises it (another client); one below lowers it, but never below what
// the venue can still count: its count when it answered, plus the requests
// sent after the answered one and those in flight when it went out,
// whichever order the answers come back in.
func TestHeadersCorrectBothWays(t *testing.T) {
	ctx := context.Background()
	wait := func(t *testing.T, p *Pacer, set *Set, w int) *Reservation {
		t.Helper()
		r, err := p.Wait(ctx, Cost{Set: set, Spec: minuteSpec(100), Weight: w})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	check := func(t *testing.T, set *Set, when string, want int) {
		t.Helper()
		if used, _ := Used(set, "api"); used != want {
			t.Errorf("%s: used %d, want %d", when, used, want)
		}
	}
	newPacer := func() *Pacer {
		clk := &fake{t: time.Date(2026, 12, 4, 6, 0, 1, 0, time.UTC)}
		return &Pacer{Now: clk.now, Sleep: clk.sleep}
	}

	t.Run("raise, then a request that does not fit waits", func(t *testing.T) {
		p, set := newPacer(), NewSet()
		r := wait(t, p, set, 40)
		p.Settle(r, "api", Observation{Used: 80, Limit: -1}) // someone else used 40
		check(t, set, "after a higher header", 80)
		start := p.Now()
		wait(t, p, set, 30)
		if !p.Now().After(start) {
			t.Error("a request that does not fit did not wait for the next window")
		}
	})
	t.Run("lower to what the venue counted", func(t *testing.T) {
		p, set := newPacer(), NewSet()
		a := wait(t, p, set, 40)
		p.Settle(a, "api", Observation{Used: 5, Limit: -1}) // nothing else sent: the venue counted 5
		check(t, set, "after a lower header", 5)
	})
	t.Run("requests sent after the answered one still count", func(t *testing.T) {
		p, set := newPacer(), NewSet()
		a := wait(t, p, set, 40)
		wait(t, p, set, 30) // in flight, sent after a
		p.Settle(a, "api", Observation{Used: 5, Limit: -1})
		check(t, set, "a answered with 5, 30 sent after it", 35)
	})
	t.Run("a request in flight when the answered one went out still counts", func(t *testing.T) {
		p, set := newPacer(), NewSet()
		a := wait(t, p, set, 40)
		b := wait(t, p, set, 30)
		// b is answered first, counted before a: a (in flight when b went
		// out) may still be counted.
		p.Settle(b, "api", Observation{Used: 30, Limit: -1})
		check(t, set, "b answered first with 30", 70)
		p.Settle(a, "api", Observation{Used: 70, Limit: -1})
		check(t, set, "then a with 70", 70)
	})
	t.Run("a request abandoned without an answer may still be counted", func(t *testing.T) {
		p, set := newPacer(), NewSet()
		a := wait(t, p, set, 40)
		p.Release(a) // timed out: the venue may count it when it arrives
		b := wait(t, p, set, 30)
		p.Settle(b, "api", Observation{Used: 30, Limit: -1})
		check(t, set, "b's header after a was abandoned", 70)
	})
	t.Run("an answer already settled keeps counting for later bounds", func(t *testing.T) {
		p, set := newPacer(), NewSet()
		a := wait(t, p, set, 40)
		b := wait(t, p, set, 30)
		// a answered 5xx and not counted by the venue; b's header shows it.
		p.SettleAll(a, None)
		p.Settle(b, "api", Observation{Used: 30, Limit: -1})
		// a was in flight when b went out: the venue might still count it.
		check(t, set, "b's header after a's uncounted answer", 70)
		c := wait(t, p, set, 10)
		p.Settle(c, "api", Observation{Used: 40, Limit: -1})
		check(t, set, "c's header, nothing in flight when it went out", 40)
	})
}

// TestThrottledBlocksForRetryAfter: a 429 on an aligned window blocks for
// the Retry-After, not for the rest of the window.
func TestThrottledBlocksForRetryAfter(t *testing.T) {
	clk := &fake{t: time.Date(2026, 12, 4, 6, 0, 1, 0, time.UTC)}
	p := &Pacer{Now: clk.now, Sleep: clk.sleep}
	set := NewSet()
	spec := minuteSpec(6000)
	r, _ := p.Wait(context.Background(), Cost{Set: set, Spec: spec, Weight: 1})
	p.Settle(r, "api", Observation{Used: -1, Limit: -1, Throttled: true, Reset: 3 * time.Second})
	start := clk.t
	if _, err := p.Wait(context.Background(), Cost{Set: set, Spec: spec, Weight: 1}); err != nil {
		t.Fatal(err)
	}
	if got := clk.t.Sub(start); got != 3*time.Second {
		t.Errorf("waited %s after a 429 with Retry-After 3s, want 3s", got)
	}
}

// TestThrottledClosesABucketOfUnknownLimit: a bucket whose limit nobody
// has stated is not paced, but a 429 on it still closes it until the
// reset the answer named (a venue's limit shows itself by refusing).
func TestThrottledClosesABucketOfUnknownLimit(t *testing.T) {
	clk := &fake{t: time.Date(2026, 12, 5, 6, 0, 1, 0, time.UTC)}
	p := &Pacer{Now: clk.now, Sleep: clk.sleep}
	set := NewSet()
	spec := Spec{Name: "edge", Window: 10 * time.Second}
	for range 100 { // unknown limit: never waits
		if _, err := p.Wait(context.Background(), Cost{Set: set, Spec: spec, Weight: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if !clk.t.Equal(time.Date(2026, 12, 5, 6, 0, 1, 0, time.UTC)) {
		t.Fatalf("a bucket of unknown limit paced: the clock moved to %s", clk.t)
	}
	r, _ := p.Wait(context.Background(), Cost{Set: set, Spec: spec, Weight: 1})
	p.Settle(r, "edge", Observation{Used: -1, Limit: -1, Throttled: true, Reset: 30 * time.Second})
	start := clk.t
	if _, err := p.Wait(context.Background(), Cost{Set: set, Spec: spec, Weight: 1}); err != nil {
		t.Fatal(err)
	}
	if got := clk.t.Sub(start); got != 30*time.Second {
		t.Errorf("waited %s after a 429 with a 30 s reset on a bucket of unknown limit, want 30s", got)
	}
}

// TestGuardChargesBothWindowsNearABoundary: the venue counts a request
// when it arrives, by its own clock. One sent just before our minute
// boundary may land in the venue's next minute, and one sent just after it
// in the venue's last: within Guard of a boundary a request is charged to
// both windows, so neither window of the venue can overflow.
func TestGuardChargesBothWindowsNearABoundary(t *testing.T) {
	boundary := time.Date(2026, 12, 4, 6, 1, 0, 0, time.UTC)
	clk := &fake{t: boundary.Add(-30 * time.Second)}
	p := &Pacer{Now: clk.now, Sleep: clk.sleep}
	set := NewSet()
	spec := Spec{Name: "api", Limit: 10, Window: time.Minute, Aligned: true, Guard: time.Second}
	send := func() time.Time {
		t.Helper()
		r, err := p.Wait(context.Background(), Cost{Set: set, Spec: spec, Weight: 1})
		if err != nil {
			t.Fatal(err)
		}
		p.SettleAll(r, None)
		return clk.t
	}
	for range 5 {
		send()
	}
	clk.t = boundary.Add(-500 * time.Millisecond)
	for range 5 {
		if at := send(); !at.Equal(clk.t) {
			t.Fatalf("request within the first window's budget waited until %s", at.Format("15:04:05.000"))
		}
	}
	// The first window is spent: a request 100 ms after our boundary
	// may still be counted in it by the venue, so it waits for the guard.
	clk.t = boundary.Add(100 * time.Millisecond)
	if at, want := send(), boundary.Add(time.Second); !at.Equal(want) {
		t.Errorf("first request after the boundary went at %s, want %s (boundary + guard)", at.Format("15:04:05.000"), want.Format("15:04:05.000"))
	}
	// The 5 sent 500 ms before the boundary may count in this window
	// too: with the one just sent, 4 more fit, then the next window.
	for i := range 4 {
		if at := send(); !at.Equal(boundary.Add(time.Second)) {
			t.Fatalf("request %d of the second window went at %s, want at once", i+2, at.Format("15:04:05.000"))
		}
	}
	if at, want := send(), boundary.Add(time.Minute+time.Second); !at.Equal(want) {
		t.Errorf("request beyond the second window's budget went at %s, want %s", at.Format("15:04:05.000"), want.Format("15:04:05.000"))
	}
}

// TestAnsweredAfterTheBoundaryCountsInTheNextWindow: a request sent well
// before a boundary may still arrive after it (the machine was busy, the
// network slow) and the venue counts it in its next window. One answered
// after the boundary is charged to the next window too, even when its
// answer came before that window rolled over here (the window rolls over
// when a request next comes, at least Guard after the boundary); one
// answered before the boundary is not.
func TestAnsweredAfterTheBoundaryCountsInTheNextWindow(t *testing.T) {
	boundary := time.Date(2026, 12, 4, 6, 1, 0, 0, time.UTC)
	clk := &fake{t: boundary.Add(-30 * time.Second)}
	p := &Pacer{Now: clk.now, Sleep: clk.sleep}
	set := NewSet()
	spec := Spec{Name: "fapi", Limit: 10, Window: time.Minute, Aligned: true, Guard: 250 * time.Millisecond}
	reserve := func() *Reservation {
		t.Helper()
		r, err := p.Wait(context.Background(), Cost{Set: set, Spec: spec, Weight: 1})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	clk.t = boundary.Add(-3 * time.Second)
	early := reserve()
	clk.t = boundary.Add(-2 * time.Second)
	p.SettleAll(early, None) // answered before the boundary: the venue's last window
	var slow []*Reservation
	for range 4 {
		slow = append(slow, reserve())
	}
	clk.t = boundary.Add(100 * time.Millisecond)
	for _, r := range slow {
		p.SettleAll(r, None) // answered after it: either window
	}
	clk.t = boundary.Add(time.Second)
	for i := range 6 {
		r := reserve()
		if !clk.t.Equal(boundary.Add(time.Second)) {
			t.Fatalf("request %d of the new window waited until %s: the 4 answered after the boundary leave 6", i+1, clk.t.Format("15:04:05.000"))
		}
		p.SettleAll(r, None)
	}
	reserve()
	if want := boundary.Add(time.Minute + 250*time.Millisecond); !clk.t.Equal(want) {
		t.Errorf("the 7th request of the new window went at %s, want %s: the 4 answered after the boundary may count in it",
			clk.t.Format("15:04:05.000"), want.Format("15:04:05.000"))
	}
}

// TestGuardCoversClocksThatDiffer: executors sharing an IP's set read
// the venue's clock through offsets they measured apart, so their clocks
// may differ by milliseconds. One whose clock is ahead ends a window
// early by the others' clocks; with a Guard wider than the difference no
// window overflows by either clock.
func TestGuardCoversClocksThatDiffer(t *testing.T) {
	base := time.Date(2026, 12, 4, 6, 0, 10, 0, time.UTC)
	clk := &fake{t: base}
	ahead := &Pacer{Now: clk.now, Sleep: clk.sleep}
	behind := &Pacer{Now: func() time.Time { return clk.t.Add(-40 * time.Millisecond) }, Sleep: clk.sleep}
	for _, guard := range []time.Duration{0, 100 * time.Millisecond} {
		clk.t = base
		set := NewSet()
		spec := Spec{Name: "fapi", Limit: 10, Window: time.Minute, Aligned: true, Guard: guard}
		// The venue's clock may be either: count per minute by both.
		sent := map[string]int{}
		for i := range 40 {
			p := behind // fills the set's first window, whose end is by behind's clock
			if i >= 10 {
				p = ahead // waits for its end by its own clock
			}
			r, err := p.Wait(context.Background(), Cost{Set: set, Spec: spec, Weight: 1})
			if err != nil {
				t.Fatal(err)
			}
			p.SettleAll(r, None)
			sent[clk.t.Truncate(time.Minute).Format("ahead 15:04")]++
			sent[clk.t.Add(-40*time.Millisecond).Truncate(time.Minute).Format("behind 15:04")]++
		}
		over := false
		for _, w := range sent {
			over = over || w > 10
		}
		if want := guard == 0; over != want {
			t.Errorf("guard %v: a window overflowed: %v, want %v (%v)", guard, over, want, sent)
		}
	}
}
