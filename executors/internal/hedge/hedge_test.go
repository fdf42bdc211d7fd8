package hedge

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors/executortest"
)

func TestDelay(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name    string
		rtts    []time.Duration
		timeout time.Duration
		want    time.Duration
	}{
		{"no round trip seen: the default", nil, 5 * time.Second, Default},
		{"too few round trips: the default", []time.Duration{10 * ms, 10 * ms}, 5 * time.Second, Default},
		{"fast venue: the floor", []time.Duration{10 * ms, 12 * ms, 11 * ms}, 5 * time.Second, Min},
		{"far venue: four medians", []time.Duration{100 * ms, 900 * ms, 120 * ms, 110 * ms, 130 * ms}, 5 * time.Second, 480 * ms},
		{"slow venue: below the per-request timeout", []time.Duration{2 * time.Second, 2 * time.Second, 2 * time.Second}, 5 * time.Second, 2500 * ms},
		{"short timeout caps the default", nil, 300 * ms, 150 * ms},
		{"no per-request timeout", []time.Duration{time.Second, time.Second, time.Second}, 0, 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr Tracker
			for _, d := range tt.rtts {
				tr.Observe(d)
			}
			if got := tr.Delay(tt.timeout); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestDelayForgetsOldRoundTrips(t *testing.T) {
	var tr Tracker
	for range samples {
		tr.Observe(time.Second)
	}
	for range samples {
		tr.Observe(20 * time.Millisecond)
	}
	if got := tr.Delay(5 * time.Second); got != Min {
		t.Errorf("got %s, want %s (the slow round trips have left the window)", got, Min)
	}
}

// hang is an attempt that answers only when its context ends.
func hang(started *atomic.Int32) Attempt[string] {
	return func(ctx context.Context) (string, error) {
		started.Add(1)
		<-ctx.Done()
		return "", ctx.Err()
	}
}

func answer(v string, after time.Duration, started *atomic.Int32) Attempt[string] {
	return func(ctx context.Context) (string, error) {
		started.Add(1)
		select {
		case <-time.After(after):
			return v, nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func TestRunHedgesAHungRead(t *testing.T) {
	before := runtime.NumGoroutine()
	var tr Tracker
	var started atomic.Int32
	discarded := 0
	start := time.Now()
	res, err := Run(context.Background(), &tr, 50*time.Millisecond, hang(&started),
		func() (Attempt[string], bool) { return answer("second", 0, &started), true },
		func(string) { discarded++ })
	took := time.Since(start)
	if err != nil || res.Value != "second" || !res.Hedged || !res.Won {
		t.Fatalf("got %+v %v, want the second copy's answer", res, err)
	}
	res.Cancel()
	if took < 50*time.Millisecond || took > time.Second {
		t.Errorf("took %s, want about the 50ms delay", took)
	}
	if n := started.Load(); n != 2 {
		t.Errorf("copies sent: got %d, want 2", n)
	}
	if s, w, k := tr.Stats(); s != 1 || w != 1 || k != 0 {
		t.Errorf("stats: got sent %d won %d skipped %d, want 1 1 0", s, w, k)
	}
	executortest.SettleGoroutines(t, before)
	if discarded != 0 {
		t.Errorf("discarded: got %d, want 0 (the hung copy gave no answer)", discarded)
	}
}

func TestRunFirstAnswerWins(t *testing.T) {
	before := runtime.NumGoroutine()
	var tr Tracker
	var started atomic.Int32
	var discarded atomic.Int32
	// The first answers at 80ms, after the hedge went out at 20ms; the
	// hedge would answer at 520ms: the first wins, the hedge is cancelled.
	res, err := Run(context.Background(), &tr, 20*time.Millisecond, answer("first", 80*time.Millisecond, &started),
		func() (Attempt[string], bool) { return answer("second", 500*time.Millisecond, &started), true },
		func(string) { discarded.Add(1) })
	if err != nil || res.Value != "first" || !res.Hedged || res.Won {
		t.Fatalf("got %+v %v, want the first copy's answer after a hedge", res, err)
	}
	res.Cancel()
	executortest.SettleGoroutines(t, before)
	if s, w, _ := tr.Stats(); s != 1 || w != 0 {
		t.Errorf("stats: got sent %d won %d, want 1 0", s, w)
	}
}

func TestRunNoHedge(t *testing.T) {
	errFast := errors.New("connection reset")
	tests := []struct {
		name        string
		first       func(*atomic.Int32) Attempt[string]
		budget      bool
		wantErr     error
		wantSkipped int
	}{
		{"answered before the delay", func(s *atomic.Int32) Attempt[string] { return answer("first", 0, s) }, true, nil, 0},
		{"failed before the delay", func(s *atomic.Int32) Attempt[string] {
			return func(context.Context) (string, error) { s.Add(1); return "", errFast }
		}, true, errFast, 0},
		{"no spare budget", func(s *atomic.Int32) Attempt[string] { return answer("first", 150*time.Millisecond, s) }, false, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr Tracker
			var started atomic.Int32
			asked := 0
			res, err := Run(context.Background(), &tr, 30*time.Millisecond, tt.first(&started),
				func() (Attempt[string], bool) {
					asked++
					if !tt.budget {
						return nil, false
					}
					return answer("second", 0, &started), true
				}, nil)
			res.Cancel()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error: got %v, want %v", err, tt.wantErr)
			}
			if err == nil && res.Value != "first" {
				t.Errorf("answer: got %q, want first", res.Value)
			}
			if n := started.Load(); n != 1 || res.Hedged {
				t.Errorf("copies sent: got %d (hedged %v), want 1", n, res.Hedged)
			}
			if _, _, k := tr.Stats(); k != tt.wantSkipped {
				t.Errorf("skipped: got %d, want %d", k, tt.wantSkipped)
			}
			if !tt.budget && asked != 1 {
				t.Errorf("budget asked %d times, want once (at most one hedge per request)", asked)
			}
		})
	}
}

func TestRunBothFailReturnsTheFirstError(t *testing.T) {
	var tr Tracker
	errFirst, errSecond := errors.New("first timed out"), errors.New("second reset")
	res, err := Run(context.Background(), &tr, 10*time.Millisecond,
		func(context.Context) (string, error) { time.Sleep(60 * time.Millisecond); return "", errFirst },
		func() (Attempt[string], bool) {
			return func(context.Context) (string, error) { return "", errSecond }, true
		}, nil)
	res.Cancel()
	if !errors.Is(err, errFirst) || !res.Hedged {
		t.Errorf("got %v (hedged %v), want the first copy's error after a hedge", err, res.Hedged)
	}
}

func TestRunWaitsForTheOtherCopyWhenOneFails(t *testing.T) {
	var tr Tracker
	var started atomic.Int32
	res, err := Run(context.Background(), &tr, 10*time.Millisecond,
		func(context.Context) (string, error) {
			time.Sleep(30 * time.Millisecond)
			return "", errors.New("timed out")
		},
		func() (Attempt[string], bool) { return answer("second", 80*time.Millisecond, &started), true }, nil)
	res.Cancel()
	if err != nil || res.Value != "second" {
		t.Errorf("got %q %v, want the second copy's answer", res.Value, err)
	}
}

func TestRunDoesNotHedgeACancelledRequest(t *testing.T) {
	var tr Tracker
	var started atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	first := func(ctx context.Context) (string, error) {
		started.Add(1)
		cancel()
		time.Sleep(40 * time.Millisecond) // past the delay, not watching ctx
		return "", ctx.Err()
	}
	res, err := Run(ctx, &tr, 10*time.Millisecond, first,
		func() (Attempt[string], bool) { return answer("second", 0, &started), true }, nil)
	res.Cancel()
	if !errors.Is(err, context.Canceled) || started.Load() != 1 {
		t.Errorf("got %v with %d copies, want context.Canceled with 1", err, started.Load())
	}
}

func TestRunPanicReachesTheCaller(t *testing.T) {
	var tr Tracker
	defer func() {
		if r := recover(); r != "boom" {
			t.Errorf("recovered %v, want boom", r)
		}
	}()
	_, _ = Run(context.Background(), &tr, time.Second, func(context.Context) (string, error) { panic("boom") },
		func() (Attempt[string], bool) { return nil, false }, nil)
	t.Error("Run returned, want its attempt's panic")
}

func TestHeadroom(t *testing.T) {
	tests := []struct{ limit, weight, want int }{
		{6000, 20, 1500},
		{100, 40, 40},
		{2400, 40, 600},
	}
	for _, tt := range tests {
		if got := Headroom(tt.limit, tt.weight); got != tt.want {
			t.Errorf("Headroom(%d, %d): got %d, want %d", tt.limit, tt.weight, got, tt.want)
		}
	}
}
