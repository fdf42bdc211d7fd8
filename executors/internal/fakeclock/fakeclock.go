// Package fakeclock is a clock for tests of code that sleeps in several
// goroutines (the budget pacer, an executor under a rate limit): a Sleep
// blocks until the test moves the clock past its end, or its context is
// done.
package fakeclock

import (
	"context"
	"sync"
	"time"
)

// Sched is the clock. Create it with New.
type Sched struct {
	mu       sync.Mutex
	t        time.Time
	sleepers map[*sleeper]struct{}
}

type sleeper struct {
	until time.Time
	done  chan struct{}
}

// New returns a clock reading t.
func New(t time.Time) *Sched { return &Sched{t: t, sleepers: map[*sleeper]struct{}{}} }

// Now reads the clock.
func (s *Sched) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.t
}

// Sleep blocks until the clock reaches now+d or ctx is done.
func (s *Sched) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	sl := &sleeper{until: s.t.Add(d), done: make(chan struct{})}
	s.sleepers[sl] = struct{}{}
	s.mu.Unlock()
	select {
	case <-sl.done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		delete(s.sleepers, sl)
		s.mu.Unlock()
		return ctx.Err()
	}
}

// Parked is how many goroutines sleep.
func (s *Sched) Parked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sleepers)
}

// Set moves the clock to t without waking anyone.
func (s *Sched) Set(t time.Time) {
	s.mu.Lock()
	s.t = t
	s.mu.Unlock()
}

// Fire wakes every sleeper whose end has come.
func (s *Sched) Fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sl := range s.sleepers {
		if !sl.until.After(s.t) {
			close(sl.done)
			delete(s.sleepers, sl)
		}
	}
}

// Next moves the clock to the earliest sleeper's end, wakes those due and
// returns how far it moved.
func (s *Sched) Next() time.Duration {
	s.mu.Lock()
	first := s.first()
	moved := time.Duration(0)
	if first.After(s.t) {
		moved, s.t = first.Sub(s.t), first
	}
	s.mu.Unlock()
	s.Fire()
	return moved
}

// Peek is how far Next would move the clock now: a test whose fake venue
// keeps its own clock moves that one first, so that no request signed
// by the moved clock reaches a venue that has not moved yet.
func (s *Sched) Peek() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if first := s.first(); first.After(s.t) {
		return first.Sub(s.t)
	}
	return 0
}

// first is the earliest sleeper's end (zero if none). Callers hold s.mu.
func (s *Sched) first() time.Time {
	var first time.Time
	for sl := range s.sleepers {
		if first.IsZero() || sl.until.Before(first) {
			first = sl.until
		}
	}
	return first
}
