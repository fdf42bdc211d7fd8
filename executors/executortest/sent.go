package executortest

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

// SentHooks is RecordingHooks that also records when the step said its
// mutations were sent (executors.MutationsSender).
type SentHooks struct {
	RecordingHooks
	mu sync.Mutex
	at []time.Time
}

var _ executors.MutationsSender = (*SentHooks)(nil)

// MutationsSent implements executors.MutationsSender.
func (h *SentHooks) MutationsSent() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.at = append(h.at, time.Now())
}

// CheckFreezeSent checks what a freeze of scope told h against the
// venue's request log: with scope all nothing (its sub-accounts' cancels
// come after its own), else once, after the last cancel (DELETE) was
// answered and before the last read (GET) went — its confirming re-list.
func (h *SentHooks) CheckFreezeSent(t testing.TB, scope string, log []emu.Entry) {
	t.Helper()
	h.mu.Lock()
	at := append([]time.Time(nil), h.at...)
	h.mu.Unlock()
	if scope == executors.ScopeAll {
		if len(at) != 0 {
			t.Errorf("scope all said its mutations were sent %d times, want never", len(at))
		}
		return
	}
	if len(at) != 1 {
		t.Fatalf("said its mutations were sent %d times, want once", len(at))
	}
	var lastCancel, lastRead time.Time
	for _, e := range log {
		switch {
		case e.Method == http.MethodDelete && e.Time.Add(e.Duration).After(lastCancel):
			lastCancel = e.Time.Add(e.Duration)
		case e.Method == http.MethodGet && e.Time.After(lastRead):
			lastRead = e.Time
		}
	}
	if lastCancel.IsZero() || lastRead.IsZero() {
		t.Fatal("no cancel or no read seen by the emulator: the test tests nothing")
	}
	if at[0].Before(lastCancel) {
		t.Errorf("said so at %v, before the last cancel was answered (%v)", at[0], lastCancel)
	}
	if !at[0].Before(lastRead) {
		t.Errorf("said so at %v, after the re-list went (%v)", at[0], lastRead)
	}
}
