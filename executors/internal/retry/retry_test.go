package retry

import (
	"context"
	"testing"
	"time"
)

func TestBackoffBounds(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Max: 2 * time.Second}
	for n := range 12 {
		hi := min(p.Base<<n, p.Max)
		for range 200 {
			d := p.Backoff(n, 0)
			if d < p.Base/2 || d > hi {
				t.Fatalf("attempt %d: got %s, want within [%s, %s]", n, d, p.Base/2, hi)
			}
		}
	}
	if got := p.Backoff(0, 7*time.Second); got != 7*time.Second {
		t.Errorf("with Retry-After 7s: got %s, want 7s", got)
	}
}

func TestRoom(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Max: 2 * time.Second, Request: 5 * time.Second, Attempts: 3}
	now := time.Now()
	withDeadline := func(d time.Duration) context.Context {
		ctx, cancel := context.WithDeadline(context.Background(), now.Add(d))
		t.Cleanup(cancel)
		return ctx
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		ctx      context.Context
		attempts int
		wait     time.Duration
		want     bool
	}{
		{"deadline far", withDeadline(time.Minute), 40, time.Second, true},
		{"deadline leaves a short request", withDeadline(time.Second), 40, 100 * time.Millisecond, true},
		{"wait passes the deadline", withDeadline(time.Second), 1, 2 * time.Second, false},
		{"too little left after the wait", withDeadline(time.Second), 1, 980 * time.Millisecond, false},
		{"no deadline, attempts left", context.Background(), 2, time.Second, true},
		{"no deadline, attempts spent", context.Background(), 3, time.Second, false},
		{"no deadline, wait too long", context.Background(), 1, 5 * time.Second, false},
		{"cancelled", cancelled, 1, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Room(tt.ctx, now, tt.attempts, tt.wait); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// An idempotent mutation of unknown outcome is sent at most Attempts
// times, whatever its deadline leaves.
func TestRepeatUnknown(t *testing.T) {
	p := Policy{Attempts: 3}
	for sends, want := range []bool{true, true, true, false, false} {
		if got := p.RepeatUnknown(sends); got != want {
			t.Errorf("RepeatUnknown(%d) = %v, want %v", sends, got, want)
		}
	}
}
