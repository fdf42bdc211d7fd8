package kucoin

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/internal/emulator/states"
)

// sentHooks records when a step said its mutations were sent
// (executors.MutationsSender).
type sentHooks struct {
	executortest.RecordingHooks
	mu sync.Mutex
	at []time.Time
}

func (h *sentHooks) MutationsSent() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.at = append(h.at, time.Now())
}

// TestFreezeSaysWhenCancelsAreSent: the master's freeze tells the runner
// once, after its cancels are answered and before its confirming re-list,
// that it has only to confirm (the account's key revocations may start);
// with scope all it does not (its sub-accounts' cancels are still to come).
func TestFreezeSaysWhenCancelsAreSent(t *testing.T) {
	for _, scope := range []string{"", executors.ScopeAll} {
		srv, base := startEmulator(t, states.FS, states.Demo)
		x, err := New(demoAccount(t, srv, base), executors.Env{})
		if err != nil {
			t.Fatal(err)
		}
		h := &sentHooks{}
		p := executors.Params{"confirm_timeout": 2 * time.Second}
		if scope != "" {
			p["scope"] = scope
		}
		res, err := x.Do(t.Context(), req(executors.OrdersCancelAll, p, h))
		if err != nil || len(res.Changes) == 0 {
			t.Fatalf("freeze: %v, %d cancelled (%s); want some cancelled", err, len(res.Changes), res.Summary)
		}
		if scope == executors.ScopeAll {
			if len(h.at) != 0 {
				t.Errorf("scope all said its mutations were sent %d times, want never", len(h.at))
			}
			continue
		}
		if len(h.at) != 1 {
			t.Fatalf("said its mutations were sent %d times, want once", len(h.at))
		}
		var lastCancel, lastList time.Time
		for _, e := range srv.Requests() {
			switch {
			case e.Method == http.MethodDelete:
				if end := e.Time.Add(e.Duration); end.After(lastCancel) {
					lastCancel = end
				}
			case e.Method == http.MethodGet && e.Time.After(lastList):
				lastList = e.Time
			}
		}
		if lastCancel.IsZero() || lastList.IsZero() {
			t.Fatal("no cancel or no list seen by the emulator: the test tests nothing")
		}
		if h.at[0].Before(lastCancel) {
			t.Errorf("said so at %v, before the last cancel was answered (%v)", h.at[0], lastCancel)
		}
		if !h.at[0].Before(lastList) {
			t.Errorf("said so at %v, after the re-list went (%v)", h.at[0], lastList)
		}
	}
}
