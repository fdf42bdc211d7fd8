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

// TestHeadersOnlyRaise: a used-weight header above the local count raises
// it (another client), one below never lowers it.
func TestHeadersOnlyRaise(t *testing.T) {
	clk := &fake{t: time.Date(2026, 12, 4, 6, 0, 1, 0, time.UTC)}
	p := &Pacer{Now: clk.now, Sleep: clk.sleep}
	set := NewSet()
	spec := minuteSpec(100)
	r, _ := p.Wait(context.Background(), Cost{Set: set, Spec: spec, Weight: 40})
	p.Settle(r, "api", Observation{Used: 5, Limit: -1}) // the venue saw less: ignored
	if used, _ := Used(set, "api"); used != 40 {
		t.Errorf("after a lower header: used %d, want 40", used)
	}
	r, _ = p.Wait(context.Background(), Cost{Set: set, Spec: spec, Weight: 10})
	p.Settle(r, "api", Observation{Used: 90, Limit: -1}) // someone else used 40
	if used, _ := Used(set, "api"); used != 90 {
		t.Errorf("after a higher header: used %d, want 90", used)
	}
	start := clk.t
	if _, err := p.Wait(context.Background(), Cost{Set: set, Spec: spec, Weight: 20}); err != nil {
		t.Fatal(err)
	}
	if !clk.t.After(start) {
		t.Error("a request that does not fit did not wait for the next window")
	}
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
