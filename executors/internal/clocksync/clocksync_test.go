package clocksync

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeSync is a sync function that blocks until the test hands it its
// result, and records the contexts it ran with.
type fakeSync struct {
	results chan error

	mu   sync.Mutex
	ctxs []context.Context
}

func newFakeSync() *fakeSync { return &fakeSync{results: make(chan error)} }

func (f *fakeSync) sync(ctx context.Context) error {
	f.mu.Lock()
	f.ctxs = append(f.ctxs, ctx)
	f.mu.Unlock()
	return <-f.results
}

func (f *fakeSync) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ctxs)
}

var (
	errFirst  = errors.New("first sync failed")
	errSecond = errors.New("second sync failed")
)

// Waiters that ask while a flight that started before them runs share the
// one flight queued behind it, whatever the first one returns: a burst of
// rejections costs two syncs, and nobody gets the early flight's result.
func TestConcurrentWaitersShareOneSync(t *testing.T) {
	tests := []struct {
		name    string
		waiters int
		first   error // result of the flight running when they ask
	}{
		{"one waiter", 1, nil},
		{"three waiters", 3, nil},
		{"sixteen waiters", 16, nil},
		{"sixteen waiters, running sync fails", 16, errFirst},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fs := newFakeSync()
				s := New(fs.sync)
				s.Start(t.Context())
				synctest.Wait()
				errs := make(chan error, tt.waiters)
				for range tt.waiters {
					go func() { errs <- s.Resync(t.Context()) }()
				}
				synctest.Wait()
				if got, want := fs.calls(), 1; got != want {
					t.Fatalf("syncs while the first runs: got %d, want %d", got, want)
				}
				fs.results <- tt.first
				synctest.Wait()
				if got, want := len(errs), 0; got != want {
					t.Fatalf("waiters done when the early sync ended: got %d, want %d", got, want)
				}
				fs.results <- errSecond
				for range tt.waiters {
					if err := <-errs; !errors.Is(err, errSecond) {
						t.Errorf("Resync: got %v, want the second sync's %v", err, errSecond)
					}
				}
				synctest.Wait()
				if got, want := fs.calls(), 2; got != want {
					t.Errorf("syncs: got %d, want %d", got, want)
				}
			})
		})
	}
}

// Once a flight has finished, Start launches nothing more, while Resync
// launches a newer flight and returns its result, whether the finished one
// failed or not.
func TestAfterAFinishedSync(t *testing.T) {
	tests := []struct {
		name      string
		first     error
		resync    bool // Resync, else Start
		wantSyncs int
	}{
		{"resync after a failure", errFirst, true, 2},
		{"resync after a success", nil, true, 2},
		{"start after a failure", errFirst, false, 1},
		{"start after a success", nil, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fs := newFakeSync()
				s := New(fs.sync)
				s.Start(t.Context())
				s.Start(t.Context()) // while the first runs: no second
				synctest.Wait()
				fs.results <- tt.first
				s.Wait()
				errs := make(chan error, 1)
				if tt.resync {
					go func() { errs <- s.Resync(t.Context()) }()
				} else {
					s.Start(t.Context())
				}
				synctest.Wait()
				if got := fs.calls(); got != tt.wantSyncs {
					t.Errorf("syncs: got %d, want %d", got, tt.wantSyncs)
				}
				if !tt.resync {
					return
				}
				fs.results <- nil
				if err := <-errs; err != nil {
					t.Errorf("Resync: got %v, want the newer sync's nil", err)
				}
			})
		})
	}
}

type ctxKey struct{}

// A waiter whose context ends stops waiting with its context's error; the
// flight goes on, with the values but not the cancellation of the context
// that launched it, and so does the flight queued behind it.
func TestContext(t *testing.T) {
	tests := []struct {
		name string
		end  func(t *testing.T, ctx context.Context) (context.Context, func()) // the waiter's context, and how it ends
		want error
	}{
		{"canceled", func(_ *testing.T, ctx context.Context) (context.Context, func()) {
			ctx, cancel := context.WithCancel(ctx)
			return ctx, cancel
		}, context.Canceled},
		{"deadline", func(t *testing.T, ctx context.Context) (context.Context, func()) {
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			t.Cleanup(cancel)
			return ctx, func() { time.Sleep(2 * time.Second) }
		}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fs := newFakeSync()
				s := New(fs.sync)
				launch, cancelLaunch := context.WithCancel(context.WithValue(t.Context(), ctxKey{}, "launcher"))
				s.Start(launch)
				cancelLaunch()
				synctest.Wait()

				ctx, end := tt.end(t, t.Context())
				errs := make(chan error, 1)
				go func() { errs <- s.Resync(ctx) }()
				synctest.Wait()
				end()
				err := <-errs
				if !errors.Is(err, tt.want) || !strings.HasPrefix(err.Error(), "sync server time: ") {
					t.Errorf("Resync: got %v, want sync server time: %v", err, tt.want)
				}

				fs.results <- nil // the first flight ends, the queued one starts
				synctest.Wait()
				if got, want := fs.calls(), 2; got != want {
					t.Fatalf("syncs: got %d, want %d (the queued flight runs without its waiter)", got, want)
				}
				fs.results <- nil
				s.Wait()
				for i, c := range fs.ctxs {
					if c.Err() != nil {
						t.Errorf("sync %d: ctx error %v, want none", i+1, c.Err())
					}
					if got, want := c.Value(ctxKey{}), "launcher"; got != want {
						t.Errorf("sync %d: ctx value got %v, want %v", i+1, got, want)
					}
				}
			})
		})
	}
}

// Wait returns at once when no sync was ever started.
func TestWaitWithoutSync(t *testing.T) {
	s := New(func(context.Context) error { t.Error("sync ran"); return nil })
	s.Wait()
}
