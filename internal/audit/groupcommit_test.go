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

// Concurrent appends share fsyncs (group commit), and still no Append of
// an intent returns before its own record is durable.
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
			rec, err := l.Append(Event{Phase: PhaseIntent, Step: "s", Result: map[string]int{"i": i}})
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

// gatedFile is a file whose fsync waits until the test opens the gate.
type gatedFile struct {
	slowFile
	gate chan struct{}
}

func (f *gatedFile) Sync() error {
	f.mu.Lock()
	n := f.buf.Len()
	f.mu.Unlock()
	<-f.gate
	f.syncs.Add(1)
	f.mu.Lock()
	f.durable = n
	f.mu.Unlock()
	return nil
}

// An outcome or a step's result does not wait for its fsync (the next
// wave of cancels must not queue behind it), but it is fsynced without
// anyone asking: by the flusher, and at the latest by Close. An intent
// still waits, and its fsync covers the records written before it.
func TestOnlyIntentsWaitForTheirFsync(t *testing.T) {
	f := &gatedFile{gate: make(chan struct{})}
	l := newLog("mem", "r", f, Options{})
	go func() { f.gate <- struct{}{} }() // the start record's fsync
	if _, err := l.Append(Event{Phase: PhaseStart}); err != nil {
		t.Fatal(err)
	}
	// Every fsync from now on blocks until the gate opens: an Append that
	// waited for its fsync would never return.
	for _, ph := range []string{PhaseOutcome, PhaseInfo} {
		if _, err := l.Append(Event{Phase: ph, Step: "s"}); err != nil {
			t.Fatal(err)
		}
	}
	intent := make(chan Record, 1)
	go func() {
		rec, err := l.Append(Event{Phase: PhaseIntent, Step: "s"})
		if err != nil {
			t.Error(err)
		}
		intent <- rec
	}()
	select {
	case <-intent:
		t.Fatal("an intent returned before any fsync covered it")
	case <-time.After(50 * time.Millisecond):
	}
	close(f.gate) // fsyncs complete from now on
	rec := <-intent
	f.mu.Lock()
	durable := f.buf.Bytes()[:f.durable]
	f.mu.Unlock()
	if !bytes.Contains(durable, []byte(rec.Hash)) || bytes.Count(durable, []byte("\n")) != 4 {
		t.Errorf("after the intent returned, durable = %q; want the start, the outcome, the info and the intent", durable)
	}

	// An outcome alone is fsynced by the flusher, soon, unasked.
	out, err := l.Append(Event{Phase: PhaseOutcome, Step: "s"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		ok := bytes.Contains(f.buf.Bytes()[:f.durable], []byte(out.Hash))
		f.mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an outcome record was never fsynced by the flusher")
		}
		time.Sleep(time.Millisecond)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
