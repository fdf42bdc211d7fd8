package executortest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/panicbutton/panicbutton/executors"
)

func TestRecordingHooksFailIntentsAfter(t *testing.T) {
	tests := []struct {
		name        string
		arm         func(h *RecordingHooks)
		calls       int
		wantRefused int
	}{
		{"zero value accepts", func(*RecordingHooks) {}, 3, 0},
		{"fail all", func(h *RecordingHooks) { h.FailIntents(nil) }, 3, 3},
		{"fail after two", func(h *RecordingHooks) { h.FailIntentsAfter(2, nil) }, 5, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &RecordingHooks{}
			tc.arm(h)
			refused := 0
			for i := 0; i < tc.calls; i++ {
				m := executors.Mutation{ID: string(rune('a' + i))}
				if err := h.Intent(context.Background(), m); err != nil {
					refused++
					if !errors.Is(err, executors.ErrAudit) {
						t.Errorf("intent error: got %v, want class %v", err, executors.ErrAudit)
					}
					continue
				}
				h.Outcome(context.Background(), m, nil)
			}
			if refused != tc.wantRefused || len(h.Refused()) != tc.wantRefused {
				t.Errorf("refused: got %d (recorded %d), want %d", refused, len(h.Refused()), tc.wantRefused)
			}
			if got, want := len(h.Intents()), tc.calls-tc.wantRefused; got != want || len(h.Outcomes()) != want {
				t.Errorf("accepted intents/outcomes: got %d/%d, want %d", got, len(h.Outcomes()), want)
			}
			if err := h.Check(); err != nil {
				t.Errorf("Check: %v", err)
			}
		})
	}
}

func TestRecordingHooksCheck(t *testing.T) {
	a, b := executors.Mutation{ID: "a"}, executors.Mutation{ID: "b"}
	ctx := context.Background()
	tests := []struct {
		name    string
		play    func(h *RecordingHooks)
		wantErr bool
	}{
		{"intent then outcome", func(h *RecordingHooks) { _ = h.Intent(ctx, a); h.Outcome(ctx, a, nil) }, false},
		{"interleaved", func(h *RecordingHooks) {
			_ = h.Intent(ctx, a)
			_ = h.Intent(ctx, b)
			h.Outcome(ctx, b, errors.New("x"))
			h.Outcome(ctx, a, nil)
		}, false},
		{"outcome without intent", func(h *RecordingHooks) { h.Outcome(ctx, a, nil) }, true},
		{"outcome before intent", func(h *RecordingHooks) { h.Outcome(ctx, a, nil); _ = h.Intent(ctx, a) }, true},
		{"intent without outcome", func(h *RecordingHooks) { _ = h.Intent(ctx, a) }, true},
		{"outcome after refused intent", func(h *RecordingHooks) { h.FailIntents(nil); _ = h.Intent(ctx, a); h.Outcome(ctx, a, nil) }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &RecordingHooks{}
			tc.play(h)
			if err := h.Check(); (err != nil) != tc.wantErr {
				t.Errorf("Check: got %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestRecordingHooksConcurrent(t *testing.T) {
	h := &RecordingHooks{}
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := executors.Mutation{ID: "m"}
			if err := h.Intent(context.Background(), m); err == nil {
				h.Outcome(context.Background(), m, nil)
			}
		}()
	}
	wg.Wait()
	if got := len(h.Records()); got != 100 {
		t.Errorf("records: got %d, want 100", got)
	}
	if err := h.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
}
