package executortest

import (
	"context"
	"fmt"
	"sync"

	"github.com/panicbutton/panicbutton/executors"
)

// Phases of a Record.
const (
	PhaseIntent  = "intent"
	PhaseOutcome = "outcome"
)

// Record is one call of a Hooks method.
type Record struct {
	Phase    string // PhaseIntent or PhaseOutcome
	Mutation executors.Mutation
	// Err is, for an outcome, the error the executor reported (nil: the
	// venue accepted the mutation); for an intent, the error the hooks
	// returned (non-nil: the intent was refused and must not be sent).
	Err error
}

// RecordingHooks is an executors.Hooks that records every Intent and Outcome
// in call order, and every Notice (executors.Noticer). It is safe for concurrent use. The zero value accepts every
// intent; FailIntents and FailIntentsAfter make it refuse them.
type RecordingHooks struct {
	mu        sync.Mutex
	records   []Record
	failAfter int // intents accepted before failing; -1: never fail
	failErr   error
	armed     bool
	notices   []string
}

var (
	_ executors.Hooks   = (*RecordingHooks)(nil)
	_ executors.Noticer = (*RecordingHooks)(nil)
)

// FailIntents makes every following Intent return err (an ErrAudit
// *executors.Error when err is nil).
func (h *RecordingHooks) FailIntents(err error) { h.FailIntentsAfter(0, err) }

// FailIntentsAfter accepts n more intents, then makes every following
// Intent return err (an ErrAudit *executors.Error when err is nil).
func (h *RecordingHooks) FailIntentsAfter(n int, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		err = &executors.Error{Class: executors.ErrAudit, Op: "record intent", Msg: "recording hooks told to fail"}
	}
	h.armed, h.failAfter, h.failErr = true, n, err
}

// Intent implements executors.Hooks.
func (h *RecordingHooks) Intent(_ context.Context, m executors.Mutation) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var err error
	if h.armed {
		if h.failAfter > 0 {
			h.failAfter--
		} else {
			err = h.failErr
		}
	}
	h.records = append(h.records, Record{Phase: PhaseIntent, Mutation: m, Err: err})
	return err
}

// Outcome implements executors.Hooks.
func (h *RecordingHooks) Outcome(_ context.Context, m executors.Mutation, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, Record{Phase: PhaseOutcome, Mutation: m, Err: err})
}

// Notice implements executors.Noticer.
func (h *RecordingHooks) Notice(text string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.notices = append(h.notices, text)
}

// Notices returns the notices heard, in order.
func (h *RecordingHooks) Notices() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.notices...)
}

// Records returns a copy of every record, in call order.
func (h *RecordingHooks) Records() []Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Record(nil), h.records...)
}

// Intents returns the mutations whose intent was accepted, in order.
func (h *RecordingHooks) Intents() []executors.Mutation { return h.phase(PhaseIntent, false) }

// Refused returns the mutations whose intent was refused, in order.
func (h *RecordingHooks) Refused() []executors.Mutation { return h.phase(PhaseIntent, true) }

// Outcomes returns the mutations whose outcome was recorded, in order.
func (h *RecordingHooks) Outcomes() []executors.Mutation { return h.phase(PhaseOutcome, false) }

func (h *RecordingHooks) phase(p string, refused bool) []executors.Mutation {
	var out []executors.Mutation
	for _, r := range h.Records() {
		if r.Phase != p {
			continue
		}
		if p == PhaseIntent && (r.Err != nil) != refused {
			continue
		}
		out = append(out, r.Mutation)
	}
	return out
}

// Check verifies the audit discipline of the recorded calls: every outcome
// follows an accepted intent of the same mutation ID, no outcome follows a
// refused intent, and every accepted intent has its outcome.
func (h *RecordingHooks) Check() error {
	open := map[string]int{} // accepted intents without outcome, by ID
	for i, r := range h.Records() {
		id := r.Mutation.ID
		switch r.Phase {
		case PhaseIntent:
			if r.Err == nil {
				open[id]++
			}
		case PhaseOutcome:
			if open[id] == 0 {
				return fmt.Errorf("record %d: outcome of %q without an accepted intent before it", i, id)
			}
			open[id]--
		}
	}
	for id, n := range open {
		if n > 0 {
			return fmt.Errorf("intent of %q has no outcome", id)
		}
	}
	return nil
}

// ThenOnce is a RecordingHooks that calls Then once, right after the first
// accepted outcome whose mutation's request has every field of Match: a
// test acting between a mutation and its confirmation (an attacker who
// places an order after its symbol was cancelled, while the executor
// re-lists).
type ThenOnce struct {
	RecordingHooks
	Match map[string]string
	Then  func(ctx context.Context)
	once  sync.Once
}

var _ executors.Hooks = (*ThenOnce)(nil)

// Outcome records the outcome, then calls Then if it is the first match.
func (h *ThenOnce) Outcome(ctx context.Context, m executors.Mutation, err error) {
	h.RecordingHooks.Outcome(ctx, m, err)
	if err != nil {
		return
	}
	for k, v := range h.Match {
		if m.Request[k] != v {
			return
		}
	}
	h.once.Do(func() { h.Then(ctx) })
}
