package budget

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestLongWaitsAreToldOnce: a wait of NoticeAfter or more for a bucket is
// told to the notice the request's context carries, once per limit and
// RetellAfter however many requests (of however many accounts) meet it;
// shorter waits, contexts without a notice and Quiet buckets tell
// nothing; a 429's block says so.
func TestLongWaitsAreToldOnce(t *testing.T) {
	ForgetTold()
	clk := &fake{t: time.Date(2026, 12, 4, 6, 0, 10, 0, time.UTC)} // 50 s before the minute's end
	p := &Pacer{Now: clk.now, Sleep: clk.sleep}
	set := NewSet()
	spec := minuteSpec(3)
	var told []LongWait
	ctx := WithNotice(context.Background(), func(_ context.Context, w LongWait) { told = append(told, w) })
	send := func(n int) {
		for range n {
			r, err := p.Wait(ctx, Cost{Set: set, Spec: spec, Weight: 1})
			if err != nil {
				t.Fatal(err)
			}
			p.SettleAll(r, None)
		}
	}
	send(7) // 3 a minute: two waits for a new window, a minute apart
	if len(told) != 1 {
		t.Fatalf("told %d waits (%+v), want 1: the limit binding again a minute later is no news", len(told), told)
	}
	want := LongWait{Bucket: "api", Limit: 3, Window: time.Minute, Until: time.Date(2026, 12, 4, 6, 1, 0, 0, time.UTC), Wait: 50 * time.Second}
	if told[0] != want {
		t.Errorf("first wait told %+v, want %+v", told[0], want)
	}
	clk.t = clk.t.Add(RetellAfter) // RetellAfter later, it is news again
	send(4)
	if len(told) != 2 {
		t.Errorf("a wait %s after the first told %d times in all, want 2", RetellAfter, len(told))
	}
	clk.t = clk.t.Add(RetellAfter)

	// Two accounts' own buckets of one limit, spent for the same window:
	// one wait told, not one per account; so too for windows that start
	// with each account's first request and end a moment apart.
	base := clk.t.Truncate(time.Minute).Add(10 * time.Second)
	for _, spec := range []Spec{{Name: "api-b", Limit: 3, Window: time.Minute, Aligned: true}, {Name: "pool", Limit: 3, Window: 30 * time.Second}} {
		told = nil
		for i, own := range []*Set{NewSet(), NewSet()} {
			clk.t = base.Add(time.Duration(i) * 700 * time.Millisecond)
			for range 4 {
				r, _ := p.Wait(ctx, Cost{Set: own, Spec: spec, Weight: 1})
				p.SettleAll(r, None)
			}
		}
		if len(told) != 1 {
			t.Errorf("%s: two accounts' waits for one window told %d times, want once: %+v", spec.Name, len(told), told)
		}
	}

	// A wait under NoticeAfter tells nothing.
	clk.t = base.Add(RetellAfter).Truncate(time.Minute).Add(57 * time.Second)
	told = nil
	for range 4 {
		r, _ := p.Wait(ctx, Cost{Set: set, Spec: spec, Weight: 1})
		p.SettleAll(r, None)
	}
	if len(told) != 0 {
		t.Errorf("a 3 s wait was told: %+v", told)
	}

	// A Quiet bucket, or a request without a notice, tells nothing.
	quiet := spec
	quiet.Name, quiet.Quiet = "edge", true
	clk.t = base.Add(2 * RetellAfter).Truncate(time.Minute)
	for range 4 {
		r, _ := p.Wait(ctx, Cost{Set: set, Spec: quiet, Weight: 1})
		p.SettleAll(r, None)
		r, _ = p.Wait(context.Background(), Cost{Set: set, Spec: minuteSpec(3), Weight: 1})
		p.SettleAll(r, None)
	}
	if len(told) != 0 {
		t.Errorf("told %+v: a quiet bucket, or a request that did not ask", told)
	}

	// A 429's block is told as one.
	clk.t = base.Add(4 * RetellAfter).Truncate(time.Minute).Add(time.Second)
	blockStart := clk.t
	r, _ := p.Wait(ctx, Cost{Set: set, Spec: spec, Weight: 1})
	p.Settle(r, "api", Observation{Used: -1, Limit: -1, Throttled: true, Reset: 20 * time.Second})
	r, _ = p.Wait(ctx, Cost{Set: set, Spec: spec, Weight: 1})
	p.SettleAll(r, None)
	if len(told) != 1 || !told[0].Blocked || !told[0].Until.Equal(blockStart.Add(20*time.Second)) {
		t.Errorf("after a 429 with Retry-After 20s, told %+v, want the block, 20 s long", told)
	}
}

// TestLongWaitTellsWhatOthersSpent: the wait told says how much of the
// window the venue counted beyond ours (its headers), and whether the
// limit is the IP's: on an account's limit during an incident, that may
// be whoever holds the leaked key.
func TestLongWaitTellsWhatOthersSpent(t *testing.T) {
	ForgetTold()
	clk := &fake{t: time.Date(2026, 12, 4, 7, 0, 10, 0, time.UTC)}
	p := &Pacer{Now: clk.now, Sleep: clk.sleep}
	var told []LongWait
	ctx := WithNotice(context.Background(), func(_ context.Context, w LongWait) { told = append(told, w) })
	for _, c := range []struct {
		set *Set
		ip  bool
	}{{NewSet(), false}, {Shared(fmt.Sprintf("test-venue|others|%d", time.Now().UnixNano())), true}} { // process-wide: a new one each -count
		told = nil
		clk.t = clk.t.Add(time.Minute).Truncate(time.Minute).Add(10 * time.Second)
		spec := Spec{Name: fmt.Sprintf("others-%v", c.ip), Limit: 10, Window: time.Minute, Aligned: true}
		r, _ := p.Wait(ctx, Cost{Set: c.set, Spec: spec, Weight: 1})
		p.Settle(r, spec.Name, Observation{Used: 9, Limit: -1}) // 8 of the 9 are someone else's
		r, _ = p.Wait(ctx, Cost{Set: c.set, Spec: spec, Weight: 2})
		p.SettleAll(r, None)
		if len(told) != 1 || told[0].External != 8 || told[0].IP != c.ip {
			t.Errorf("ip %v: told %+v, want one wait with 8 counted for others", c.ip, told)
		}
	}
}
