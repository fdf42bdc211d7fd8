package audit

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowFile is a file whose fsync takes a while (as on a laptop disk) and
// that records, at each Sync, how many bytes it makes durable.
type slowFile struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	durable int // bytes covered by the last completed Sync
	syncs   atomic.Int32
}

func (f *slowFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buf.Write(p)
}

func (f *slowFile) Sync() error {
	f.mu.Lock()
	n := f.buf.Len()
	f.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	f.syncs.Add(1)
	f.mu.Lock()
	f.durable = n
	f.mu.Unlock()
	return nil
}

func (f *slowFile) Close() error { return nil }

// Concurrent appends share fsyncs (group commit), and still no Append
// returns before its own record is durable.
func TestGroupCommit(t *testing.T) {
	f := &slowFile{}
	l := newLog("mem", "r", f, Options{})
	if _, err := l.Append(Event{Phase: PhaseStart}); err != nil {
		t.Fatal(err)
	}
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec, err := l.Append(Event{Phase: PhaseInfo, Step: "s", Result: map[string]int{"i": i}})
			if err != nil {
				errs <- err.Error()
				return
			}
			// The record's line must lie within what the last fsync covered.
			f.mu.Lock()
			durable := f.buf.Bytes()[:f.durable]
			f.mu.Unlock()
			if !bytes.Contains(durable, []byte(rec.Hash)) {
				errs <- "Append returned before its record was fsynced"
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := f.syncs.Load(); got >= n {
		t.Errorf("%d fsyncs for %d concurrent appends, want them shared", got, n+1)
	}
	if l.Seq() != n+1 {
		t.Errorf("seq = %d, want %d", l.Seq(), n+1)
	}
}

// Close makes every written record durable before closing, even one
// whose Append has not reached its own fsync yet.
func TestCloseSyncsWrittenRecords(t *testing.T) {
	f := &slowFile{}
	l := newLog("mem", "r", f, Options{})
	if _, err := l.Append(Event{Phase: PhaseStart}); err != nil {
		t.Fatal(err)
	}
	// Written, not yet fsynced: as if its Append were between write and wait.
	if _, err := l.write(Event{Phase: PhaseInfo, Step: "s"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.durable != f.buf.Len() {
		t.Errorf("durable bytes %d of %d written: Close left a record unsynced", f.durable, f.buf.Len())
	}
	if l.Err() != nil {
		t.Errorf("log failed: %v", l.Err())
	}
}
