package executortest

import (
	"sync"
	"time"
)

// Barrier proves requests are in flight together: each handler calls Wait,
// which holds it until n requests are waiting at once, or until a timeout
// passes. Together reports whether all n met. A sequential client fails:
// its first request waits out the timeout alone. (Counting arrivals is not
// enough: a sequential client's requests all arrive too, one timeout
// apart.)
type Barrier struct {
	mu       sync.Mutex
	n        int
	arrived  int
	gaveUp   int
	timeout  time.Duration
	open     chan struct{}
	openOnce sync.Once
}

// NewBarrier returns a barrier for n requests; each waits at most timeout.
func NewBarrier(n int, timeout time.Duration) *Barrier {
	return &Barrier{n: n, timeout: timeout, open: make(chan struct{})}
}

// Wait blocks until n requests are waiting or the timeout passes.
func (b *Barrier) Wait() {
	b.mu.Lock()
	b.arrived++
	if b.arrived == b.n {
		b.openOnce.Do(func() { close(b.open) })
	}
	b.mu.Unlock()
	select {
	case <-b.open:
	case <-time.After(b.timeout):
		b.mu.Lock()
		b.gaveUp++
		b.mu.Unlock()
	}
}

// Opened is closed once all n requests were waiting together.
func (b *Barrier) Opened() <-chan struct{} { return b.open }

// Together reports whether all n requests met (none gave up waiting), and
// how many arrived, for messages.
func (b *Barrier) Together() (bool, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.arrived >= b.n && b.gaveUp == 0, b.arrived
}
