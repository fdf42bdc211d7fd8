package kucoin

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors/internal/budget"
)

// fakeClock is a settable clock for the pacer.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// gatedSleeps records every pacing sleep and holds it until release.
type gatedSleeps struct {
	mu      sync.Mutex
	ds      []time.Duration
	gate    chan struct{}
	waiting chan struct{}
}

func newGatedSleeps() *gatedSleeps {
	return &gatedSleeps{gate: make(chan struct{}), waiting: make(chan struct{}, 1000)}
}

func (s *gatedSleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.ds = append(s.ds, d)
	s.mu.Unlock()
	s.waiting <- struct{}{}
	select {
	case <-s.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *gatedSleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.ds...)
}

func newTestPacer(clk *fakeClock, sleep func(context.Context, time.Duration) error) *pacer {
	return &pacer{set: budget.NewSet(), p: &budget.Pacer{Now: clk.now, Sleep: sleep, MaxSleep: maxPace}}
}

// A burst of parallel requests is counted as it is sent, before any
// answer: what goes out at once stays within the pool (minus its
// reserve), and the rest sleeps until the window's reset.
func TestPacerCountsRequestsInFlight(t *testing.T) {
	for _, c := range []struct {
		name    string
		weights []int
	}{
		{"32 sub-key deletes and 32 key lists", append(repeat(30, 32), repeat(20, 32)...)},
		{"100 key lists", repeat(20, 100)},
		{"a few small reads", repeat(5, 10)},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			sl := newGatedSleeps()
			p := newTestPacer(clk, sl.sleep)
			var (
				mu         sync.Mutex
				sent, done int
				rsvs       []*reservation
				wg         sync.WaitGroup
			)
			total := 0
			for _, w := range c.weights {
				total += w
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := p.wait(t.Context(), poolManagement, w, false)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					sent += w
					done++
					rsvs = append(rsvs, r)
					mu.Unlock()
				}()
			}
			// Wait until every request has gone out or is asleep.
			for {
				mu.Lock()
				n := done
				mu.Unlock()
				if n+len(sl.all()) == len(c.weights) {
					break
				}
				time.Sleep(time.Millisecond)
			}
			mu.Lock()
			got := sent
			mu.Unlock()
			limit := defaultPoolLimit[poolManagement]
			budget := limit - reserve(limit)
			if got > budget {
				t.Errorf("weight sent before any answer: got %d, want at most %d (pool %d minus reserve)", got, budget, limit)
			}
			if want := min(total, budget-30); got < want {
				t.Errorf("weight sent at once: got %d, want at least %d", got, want)
			}
			for _, d := range sl.all() {
				if d != poolWindow {
					t.Errorf("pacing sleep: got %v, want %v (until the window's reset)", d, poolWindow)
				}
			}
			// The requests sent are answered (no headers), then the
			// window resets and the sleepers go.
			mu.Lock()
			for _, r := range rsvs {
				p.observe(r, -1, -1, 0, false, false)
			}
			mu.Unlock()
			clk.advance(poolWindow)
			close(sl.gate)
			wg.Wait()
			if sent != total {
				t.Errorf("weight sent after the reset: got %d, want %d", sent, total)
			}
		})
	}
}

func repeat(w, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = w
	}
	return out
}

// After a 429, every request to the pool sleeps until the reset the
// venue announced, not only the first one to arrive.
func TestPacerHoldsEveryWaiterAfter429(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	sl := newGatedSleeps()
	p := newTestPacer(clk, sl.sleep)
	r, err := p.wait(t.Context(), poolSpot, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	p.observe(r, 4000, 0, time.Second, true, false)

	const waiters = 5
	var wg sync.WaitGroup
	for range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.wait(t.Context(), poolSpot, 2, false); err != nil {
				t.Error(err)
			}
		}()
	}
	for range waiters {
		<-sl.waiting
	}
	ds := sl.all()
	if len(ds) != waiters {
		t.Fatalf("sleeping requests: got %d, want %d", len(ds), waiters)
	}
	for _, d := range ds {
		if d != time.Second {
			t.Errorf("sleep after the 429: got %v, want 1s (gw-ratelimit-reset)", d)
		}
	}
	clk.advance(time.Second)
	close(sl.gate)
	wg.Wait()
	if got := len(sl.all()); got != waiters {
		t.Errorf("sleeps after the reset: got %d more, want none", got-waiters)
	}
}

// An answer to a request sent before the 429 (with a healthy remaining)
// does not reopen the pool before the reset.
func TestPacerIgnoresStaleAnswersAfter429(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	var slept []time.Duration
	p := newTestPacer(clk, func(_ context.Context, d time.Duration) error {
		slept = append(slept, d)
		clk.advance(d)
		return nil
	})
	early, _ := p.wait(t.Context(), poolSpot, 2, false)
	limited, _ := p.wait(t.Context(), poolSpot, 2, false)
	p.observe(limited, 4000, 0, time.Second, true, false)
	p.observe(early, 4000, 3990, 25*time.Second, false, false)
	if _, err := p.wait(t.Context(), poolSpot, 2, false); err != nil {
		t.Fatal(err)
	}
	if len(slept) != 1 || slept[0] != time.Second {
		t.Errorf("sleeps: got %v, want [1s] (until the 429's reset)", slept)
	}
}

// The venue's remaining (which other clients of the UID also draw from)
// caps the pacer's count, minus what was sent since; requests still in
// flight are not given back by an answer that does not count them.
func TestPacerReconcilesWithHeaders(t *testing.T) {
	for _, c := range []struct {
		name      string
		inFlight  int // requests of weight 20 sent before the observed one, unanswered
		remaining int // the observed answer's header
		next      int // weight of the next request
		wantSleep bool
	}{
		{"venue has plenty", 0, 1980, 20, false},
		{"another client used most of the pool", 0, 100, 50, false},
		{"another client used nearly all of it", 0, 100, 70, true},
		{"own requests in flight are still counted", 93, 1980, 100, true},
		{"own requests in flight, room left", 80, 1980, 100, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			var slept []time.Duration
			p := newTestPacer(clk, func(_ context.Context, d time.Duration) error {
				slept = append(slept, d)
				clk.advance(d)
				return nil
			})
			for range c.inFlight {
				if _, err := p.wait(t.Context(), poolManagement, 20, false); err != nil {
					t.Fatal(err)
				}
			}
			r, err := p.wait(t.Context(), poolManagement, 20, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(slept) != 0 {
				t.Fatalf("set-up slept %v", slept)
			}
			p.observe(r, 2000, c.remaining, 20*time.Second, false, false)
			if _, err := p.wait(t.Context(), poolManagement, c.next, false); err != nil {
				t.Fatal(err)
			}
			if got := len(slept) > 0; got != c.wantSleep {
				t.Errorf("next request of weight %d slept: got %v (%v), want %v", c.next, got, slept, c.wantSleep)
			}
			if c.wantSleep && len(slept) > 0 && slept[0] != 20*time.Second {
				t.Errorf("sleep: got %v, want 20s (the venue's reset)", slept[0])
			}
		})
	}
}
