package budget

import (
	"context"
	"testing"
	"time"
)

// TestSteadySpreadsOverTheWindow: a steady loop that sends as fast as
// the budget allows spends half of what is left of a window at once and
// the rest evenly until the window ends, so the window is never spent for
// long with the loop stalled; when the window was mostly spent before the
// loop asked (the run's own burst), it spreads what is left; a request
// that is not steady (a mutation of the loop) still finds the budget the
// loop left.
func TestSteadySpreadsOverTheWindow(t *testing.T) {
	start := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	clk := &fake{t: start}
	p := &Pacer{Now: clk.now, Sleep: clk.sleep}
	set := NewSet()
	spec := Spec{Name: "pool", Limit: 100, Window: 40 * time.Second, Aligned: true}
	steady := WithSteady(context.Background())
	send := func(ctx context.Context, weight int) {
		r, err := p.Wait(ctx, Cost{Set: set, Spec: spec, Weight: weight})
		if err != nil {
			t.Fatal(err)
		}
		p.SettleAll(r, None)
	}
	sentBy := map[time.Duration]int{} // weight sent by each 10 s of the window
	for range 40 {                    // 120: past the window's 100
		send(steady, 3)
		if at := clk.t.Sub(start); at < spec.Window {
			sentBy[at.Truncate(10*time.Second)] += 3
		}
	}
	t.Logf("weight sent by each 10 s: %v", sentBy)
	// 50 at once, then 50 evenly (12.5 a quarter).
	for q, allowed := range map[time.Duration]int{0: 50 + 13, 10 * time.Second: 13, 20 * time.Second: 13, 30 * time.Second: 13} {
		if sentBy[q] > allowed+3 {
			t.Errorf("%s into the window: %d sent, want at most %d (steady)", q, sentBy[q], allowed)
		}
	}
	if sentBy[30*time.Second] == 0 {
		t.Error("nothing sent in the window's last quarter: the steady loop stalled")
	}

	// The run spent 80 of a window before the loop began 2 s into it:
	// the loop takes 10 at once, the last 10 over the 38 s left.
	w := start.Add(2 * spec.Window)
	clk.t = w
	send(context.Background(), 80)
	clk.t = w.Add(2 * time.Second)
	var at []time.Duration
	for range 10 { // 20: what is left of the window
		send(steady, 2)
		at = append(at, clk.t.Sub(w))
	}
	if at[4] > 2*time.Second || at[5] <= 2*time.Second || at[9] >= spec.Window {
		t.Errorf("steady sends at %v: want 5 at once at 2s, the other 5 spread before the window's end (40s)", at)
	}

	// Halfway through its spreading, a mutation (WithoutSteady) takes
	// what the loop left at once.
	w = start.Add(4 * spec.Window)
	clk.t = w
	for range 10 { // 30 of 100: the loop paces itself past 50 only
		send(steady, 3)
	}
	before := clk.t
	send(WithoutSteady(steady), 40)
	if clk.t != before {
		t.Errorf("a mutation in a steady loop waited %s with the window's budget unspent", clk.t.Sub(before))
	}
}
