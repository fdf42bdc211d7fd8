package runner

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/panicbutton/panicbutton/executors"
)

// attemptExec answers orders.cancel_all with one scripted attempt per
// call; an attempt may first send mutations (through the audit hooks).
type attemptExec struct {
	mu       sync.Mutex
	attempts []mergeAttempt
	calls    int
}

type mergeAttempt struct {
	mutate []string // targets of mutations sent (and succeeding)
	res    executors.Result
	err    error
}

func (a *attemptExec) Exchange() string { return "stub" }

func (a *attemptExec) Plan(ctx context.Context, req executors.Request) (executors.Result, error) {
	return executors.Result{Status: executors.StatusOK}, nil
}

func (a *attemptExec) Do(ctx context.Context, req executors.Request) (executors.Result, error) {
	a.mu.Lock()
	at := a.attempts[min(a.calls, len(a.attempts)-1)]
	a.calls++
	a.mu.Unlock()
	for _, target := range at.mutate {
		m := executors.Mutation{ID: "cancel:" + target, Kind: "cancel-orders", Target: target}
		if err := req.Mutate(ctx, m, func(context.Context) error { return nil }); err != nil {
			return executors.Result{}, err
		}
	}
	return at.res, at.err
}

// TestRetryKeepsEarlierAttemptsChanges: when a retried step's last attempt
// finds nothing left to do because an earlier, failed attempt did it, the
// result still reports those changes (the fault suite found the report
// saying "nothing to do" after a 429 or a 5xx mid-cancel).
func TestRetryKeepsEarlierAttemptsChanges(t *testing.T) {
	transient := &executors.Error{Class: executors.ErrTransient, Op: "re-list", Msg: "503"}
	nothing := executors.Result{Status: executors.StatusOK, Summary: "nothing to do"}
	cases := []struct {
		name         string
		attempts     []mergeAttempt
		wantStatus   executors.Status
		wantAttempts int
		wantTargets  []string
		wantSummary  string
	}{
		{
			name: "failed attempt sent mutations but reported none",
			attempts: []mergeAttempt{
				{mutate: []string{"spot BTCUSDT", "spot ETHUSDT"}, res: executors.Result{Status: executors.StatusFailed, Summary: "cancels sent but the re-list failed"}, err: transient},
				{res: nothing},
			},
			wantStatus: executors.StatusChanged, wantAttempts: 2,
			wantTargets: []string{"spot BTCUSDT", "spot ETHUSDT"},
			wantSummary: "nothing to do (after 2 attempts; the earlier ones carried out 2 mutation(s))",
		},
		{
			name: "failed attempt reported its changes",
			attempts: []mergeAttempt{
				{mutate: []string{"spot BTCUSDT"}, res: executors.Result{Status: executors.StatusFailed, Summary: "1 survived",
					Changes: []executors.Change{{Kind: "cancel-order", Target: "order 1"}}}, err: transient},
				{mutate: []string{"spot ETHUSDT"}, res: executors.Result{Status: executors.StatusChanged, Summary: "cancelled 1",
					Changes: []executors.Change{{Kind: "cancel-order", Target: "order 2"}}}},
			},
			wantStatus: executors.StatusChanged, wantAttempts: 2,
			wantTargets: []string{"order 1", "order 2"},
			wantSummary: "cancelled 1 (after 2 attempts; the earlier ones carried out 1 mutation(s))",
		},
		{
			name: "failed attempt changed nothing",
			attempts: []mergeAttempt{
				{res: executors.Result{Status: executors.StatusFailed}, err: transient},
				{res: nothing},
			},
			wantStatus: executors.StatusOK, wantAttempts: 2, wantSummary: "nothing to do",
		},
		{
			name: "every attempt failed",
			attempts: []mergeAttempt{
				{mutate: []string{"spot BTCUSDT"}, res: executors.Result{Status: executors.StatusFailed, Summary: "re-list failed"}, err: transient},
				{res: executors.Result{Status: executors.StatusFailed, Summary: "listing failed"}, err: transient},
			},
			wantStatus: executors.StatusFailed, wantAttempts: 3,
			wantTargets: []string{"spot BTCUSDT"},
			wantSummary: "listing failed (after 3 attempts; the earlier ones carried out 1 mutation(s))",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pb := mustPlaybook(t, "name: p\ntargets: {all: true}\nsteps:\n  - id: freeze\n    action: orders.cancel_all\n    retries: 2\n")
			rec := &memAudit{}
			rep, err := Run(context.Background(), opts(pb, rec, targets(&attemptExec{attempts: c.attempts})))
			if err != nil {
				t.Fatal(err)
			}
			r := result(t, rep, "freeze", "acct1")
			if r.Status != c.wantStatus {
				t.Errorf("status %s, want %s", r.Status, c.wantStatus)
			}
			if r.Attempts != c.wantAttempts {
				t.Errorf("attempts %d, want %d", r.Attempts, c.wantAttempts)
			}
			var got []string
			for _, ch := range r.Result.Changes {
				got = append(got, ch.Target)
			}
			if !slices.Equal(got, c.wantTargets) {
				t.Errorf("changes %q, want %q", got, c.wantTargets)
			}
			if r.Summary != c.wantSummary && !strings.HasPrefix(r.Summary, c.wantSummary+" ") {
				t.Errorf("summary %q, want %q", r.Summary, c.wantSummary)
			}
		})
	}
}
