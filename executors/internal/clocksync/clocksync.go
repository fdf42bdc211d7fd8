// Package clocksync runs the server-time syncs of an executor in the
// background, so that they overlap its first requests instead of delaying
// them, and lets a request whose timestamp the venue rejected wait for a
// sync that measured the venue's clock after the rejection.
//
// Syncs run as flights: at most one runs and at most one is queued to
// start when it ends. Callers that ask at the same time share a flight, and
// a caller asking while a flight that started too early is under way gets
// the queued one, so a burst of rejections costs at most two syncs.
//
// What a sync measures and where the offset goes (the SDK clients, the
// signer) is the executor's business: a Syncer only decides when its sync
// function runs and who waits for which run.
package clocksync

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Syncer schedules the runs (flights) of one sync function. Create it
// with New; it is safe for concurrent use.
type Syncer struct {
	sync func(context.Context) error

	mu      sync.Mutex
	started int     // flights started so far
	running *flight // in progress
	next    *flight // to start when running ends
	last    *flight // the latest finished
}

// flight is one run of the sync function.
type flight struct {
	seq  int // its rank among the flights started
	done chan struct{}
	err  error
}

// New returns a Syncer whose flights run sync. sync gets the values of the
// context of the call that launched its flight, but not its cancellation
// or deadline: a flight serves later callers too, so sync should bound
// itself.
func New(sync func(ctx context.Context) error) *Syncer {
	return &Syncer{sync: sync}
}

// Start launches the first sync in the background, unless one already ran
// or runs, and returns at once.
func (s *Syncer) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flight(ctx, 0)
}

// Resync waits for a sync that started after this call (launching one when
// none is running) and returns its error, or ctx's error, wrapped, when
// ctx ends first; the flight goes on for the other callers.
func (s *Syncer) Resync(ctx context.Context) error {
	s.mu.Lock()
	f := s.flight(ctx, s.started)
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return fmt.Errorf("sync server time: %w", ctx.Err())
	}
}

// Wait blocks until the latest flight started or queued so far has
// finished; it returns at once when there is none. Tests use it to see
// the effect of a background sync.
func (s *Syncer) Wait() {
	s.mu.Lock()
	f := s.running
	if s.next != nil {
		f = s.next
	}
	s.mu.Unlock()
	if f != nil {
		<-f.done
	}
}

// flight returns a flight ranked above after: the running or finished one
// when it qualifies, otherwise the next one (launched now when none is
// running). Callers hold s.mu.
func (s *Syncer) flight(ctx context.Context, after int) *flight {
	switch {
	case s.running != nil && s.running.seq > after:
		return s.running
	case s.running != nil:
		if s.next == nil {
			s.next = &flight{done: make(chan struct{})}
		}
		return s.next
	case s.last != nil && s.last.seq > after:
		return s.last
	}
	f := &flight{done: make(chan struct{})}
	s.launch(context.WithoutCancel(ctx), f)
	return f
}

// launch runs f in the background, then the queued next flight if any,
// with the same ctx. Callers hold s.mu.
func (s *Syncer) launch(ctx context.Context, f *flight) {
	s.started++
	f.seq = s.started
	s.running = f
	go func() {
		f.err = s.sync(ctx)
		close(f.done)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.last, s.running = f, nil
		if n := s.next; n != nil {
			s.next = nil
			s.launch(ctx, n)
		}
	}()
}

// Skew records what an executor's syncs measured, for reports: the
// offsets between the local clock and the venue's (issue 12 item 2: the
// skew a run saw), and the timestamp rejections the venue sent. It is
// safe for concurrent use; the zero value is ready.
type Skew struct {
	mu         sync.Mutex
	syncs      int
	last       time.Duration
	maxAbs     time.Duration
	rejections int
}

// Measured records one sync's offset.
func (s *Skew) Measured(offset time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncs++
	s.last = offset
	s.maxAbs = max(s.maxAbs, offset, -offset)
}

// Rejected records one timestamp rejection (-1021, 400002).
func (s *Skew) Rejected() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejections++
}

// Report returns the last and the largest absolute offset measured, the
// number of syncs and of timestamp rejections.
func (s *Skew) Report() (last, maxAbs time.Duration, syncs, rejections int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.maxAbs, s.syncs, s.rejections
}
