package binance

import (
	"context"
	"fmt"
	"sync"
)

// clockSyncs runs the executor's server-time syncs in the background
// (flights) so that they overlap the first real requests: start launches
// the first one and returns at once (requests meanwhile are stamped with
// the offset learnt so far, none at first: the local clock); resync asks
// for a flight that starts after the call (so that it measures the venue's
// clock as it is now, after a -1021) and waits for it. Requests asking at
// the same time share a flight, and one asking while a flight that started
// too early is under way gets the next one: a burst of rejections costs at
// most two syncs.
type clockSyncs struct {
	mu      sync.Mutex
	started int // flights started so far
	running *clockFlight
	next    *clockFlight // to start when running ends
	last    *clockFlight // the latest finished
}

// clockFlight is one sync.
type clockFlight struct {
	seq  int // its rank among the flights started
	done chan struct{}
	err  error
}

// start launches the first sync unless one already ran or runs. sync runs
// with ctx's values but not its cancellation: it serves later requests too.
func (c *clockSyncs) start(ctx context.Context, sync func(context.Context) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flight(ctx, sync, 0)
}

// resync waits for a sync that started after this call and returns its
// error.
func (c *clockSyncs) resync(ctx context.Context, sync func(context.Context) error) error {
	c.mu.Lock()
	f := c.flight(ctx, sync, c.started)
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return fmt.Errorf("sync server time: %w", ctx.Err())
	}
}

// wait blocks until the latest flight started so far has finished (tests
// use it to see the background sync's effect).
func (c *clockSyncs) wait() {
	c.mu.Lock()
	f := c.running
	if c.next != nil {
		f = c.next
	}
	c.mu.Unlock()
	if f != nil {
		<-f.done
	}
}

// flight returns a flight ranked above after: the running or finished one
// when it qualifies, otherwise the next one (launched now when none is
// running). Callers hold c.mu.
func (c *clockSyncs) flight(ctx context.Context, sync func(context.Context) error, after int) *clockFlight {
	switch {
	case c.running != nil && c.running.seq > after:
		return c.running
	case c.running != nil:
		if c.next == nil {
			c.next = &clockFlight{done: make(chan struct{})}
		}
		return c.next
	case c.last != nil && c.last.seq > after:
		return c.last
	}
	f := &clockFlight{done: make(chan struct{})}
	c.launch(context.WithoutCancel(ctx), sync, f)
	return f
}

// launch runs f, then the queued next flight if any. Callers hold c.mu.
func (c *clockSyncs) launch(ctx context.Context, sync func(context.Context) error, f *clockFlight) {
	c.started++
	f.seq = c.started
	c.running = f
	go func() {
		f.err = sync(ctx)
		close(f.done)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.last, c.running = f, nil
		if n := c.next; n != nil {
			c.next = nil
			c.launch(ctx, sync, n)
		}
	}()
}
