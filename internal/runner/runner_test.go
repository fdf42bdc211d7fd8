package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/audit"
	"github.com/panicbutton/panicbutton/playbooks"
)

// stubExec is a scripted executor: per action, a list of (result, error)
// answers consumed in order (the last one repeats).
type stubExec struct {
	mu      sync.Mutex
	answers map[string][]answer
	calls   map[string]int
	sent    int // mutations actually "sent" (after a successful Intent)
	block   map[string]bool
}

type answer struct {
	res executors.Result
	err error
}

func newStub() *stubExec {
	return &stubExec{answers: map[string][]answer{}, calls: map[string]int{}, block: map[string]bool{}}
}

func (s *stubExec) on(action string, as ...answer) *stubExec { s.answers[action] = as; return s }

func (s *stubExec) Exchange() string { return "stub" }

func (s *stubExec) next(action string) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.calls[action]
	s.calls[action]++
	as := s.answers[action]
	if len(as) == 0 {
		return answer{res: executors.Result{Status: executors.StatusOK, Summary: action + " done"}}
	}
	if n >= len(as) {
		n = len(as) - 1
	}
	return as[n]
}

func (s *stubExec) Do(ctx context.Context, req executors.Request) (executors.Result, error) {
	if s.block[req.Action] {
		<-ctx.Done()
		return executors.Result{}, &executors.Error{Class: executors.ErrTransient, Op: req.Action, Err: ctx.Err()}
	}
	a := s.next(req.Action)
	if executors.IsMutating(req.Action) && a.err == nil {
		m := executors.Mutation{ID: "m:" + req.Action, Kind: "cancel-orders", Target: "spot BTCUSDT"}
		if err := req.Mutate(ctx, m, func(context.Context) error {
			s.mu.Lock()
			s.sent++
			s.mu.Unlock()
			return nil
		}); err != nil {
			return executors.Result{}, err
		}
	}
	return a.res, a.err
}

func (s *stubExec) Plan(ctx context.Context, req executors.Request) (executors.Result, error) {
	return executors.Result{Status: executors.StatusWouldChange, Summary: "would " + req.Action,
		Changes: []executors.Change{{Kind: "cancel-orders", Target: "spot BTCUSDT"}}}, nil
}

// memAudit is an in-memory Recorder that can be told to fail.
type memAudit struct {
	mu     sync.Mutex
	events []audit.Event
	fail   bool
}

func (m *memAudit) Append(e audit.Event) (audit.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return audit.Record{}, errors.New("disk full")
	}
	m.events = append(m.events, e)
	return audit.Record{Seq: int64(len(m.events))}, nil
}

func (m *memAudit) Head() string { return "head" }

func (m *memAudit) phases() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, e := range m.events {
		out = append(out, e.Phase)
	}
	return out
}

func mustPlaybook(t *testing.T, src string) *playbooks.Playbook {
	t.Helper()
	pb, err := playbooks.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("parse playbook: %v", err)
	}
	return pb
}

func targets(execs ...executors.Executor) []Target {
	var out []Target
	for i, e := range execs {
		out = append(out, Target{Ref: playbooks.AccountRef{Name: fmt.Sprintf("acct%d", i+1), Exchange: "stub"}, Exec: e})
	}
	return out
}

func opts(pb *playbooks.Playbook, rec Recorder, ts []Target) Options {
	return Options{RunID: "r1", Playbook: pb, Targets: ts, Audit: rec,
		BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond}
}

func result(t *testing.T, rep *Report, step, account string) StepResult {
	t.Helper()
	for _, r := range rep.Results {
		if r.Step == step && r.Account == account {
			return r
		}
	}
	t.Fatalf("no result for %s/%s in %+v", step, account, rep.Results)
	return StepResult{}
}

const freezePB = `name: t
targets: {all: true}
steps:
  - id: snap
    action: snapshot.balances
  - id: freeze
    action: orders.cancel_all
    retries: 2
`

func TestRunAuditsEveryMutation(t *testing.T) {
	s := newStub().on(executors.OrdersCancelAll, answer{res: executors.Result{Status: executors.StatusChanged, Summary: "cancelled 1"}})
	rec := &memAudit{}
	rep, err := Run(context.Background(), opts(mustPlaybook(t, freezePB), rec, targets(s)))
	if err != nil {
		t.Fatal(err)
	}
	if got := result(t, rep, "freeze", "acct1").Status; got != executors.StatusChanged {
		t.Errorf("freeze status = %s, want changed", got)
	}
	// The snapshot (a read) overlaps the freeze, so only the invariants are
	// fixed: start first, end last, the intent right before its outcome,
	// one info record per (step, account).
	ph := rec.phases()
	if ph[0] != "start" || ph[len(ph)-1] != "end" {
		t.Errorf("audit phases = %v, want start first and end last", ph)
	}
	if i, o := slices.Index(ph, "intent"), slices.Index(ph, "outcome"); i < 0 || o < i {
		t.Errorf("audit phases = %v, want an intent before its outcome", ph)
	}
	if n := strings.Count(strings.Join(ph, ","), "info"); n != 2 {
		t.Errorf("info records = %d, want 2 (one per step and account)", n)
	}
}

func TestDryRunSendsNothing(t *testing.T) {
	s := newStub()
	o := opts(mustPlaybook(t, freezePB), &memAudit{}, targets(s))
	o.DryRun = true
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if s.sent != 0 {
		t.Errorf("mutations sent in dry-run = %d, want 0", s.sent)
	}
	r := result(t, rep, "freeze", "acct1")
	if r.Status != executors.StatusWouldChange || len(r.Result.Changes) != 1 {
		t.Errorf("freeze = %s %v, want would-change with 1 change", r.Status, r.Result.Changes)
	}
	if s.calls[executors.SnapshotBalances] != 1 {
		t.Errorf("reads in dry-run = %d, want 1 (reads are real)", s.calls[executors.SnapshotBalances])
	}
}

func TestAuditFailureFailsClosed(t *testing.T) {
	for _, degraded := range []bool{false, true} {
		t.Run(fmt.Sprintf("degraded=%v", degraded), func(t *testing.T) {
			s := newStub()
			rec := &memAudit{}
			o := opts(mustPlaybook(t, freezePB), rec, targets(s))
			o.AuditDegraded = degraded
			// Let the start record through, then break the trail.
			o.Progress = func(e Event) {
				if e.Kind == "step-start" && e.Step == "freeze" {
					rec.mu.Lock()
					rec.fail = true
					rec.mu.Unlock()
				}
			}
			rep, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			r := result(t, rep, "freeze", "acct1")
			if degraded {
				if s.sent != 1 || r.Status == executors.StatusFailed {
					t.Errorf("degraded: sent=%d status=%s, want 1 sent and not failed", s.sent, r.Status)
				}
				return
			}
			if s.sent != 0 {
				t.Errorf("mutations sent with a broken audit trail = %d, want 0", s.sent)
			}
			if r.Status != executors.StatusFailed || r.ErrClass != "audit" {
				t.Errorf("freeze = %s (%s), want failed (audit)", r.Status, r.ErrClass)
			}
		})
	}
}

func TestRetriesOnlyRetryableClasses(t *testing.T) {
	ok := answer{res: executors.Result{Status: executors.StatusChanged, Summary: "done"}}
	tests := []struct {
		name     string
		first    error
		attempts int
		status   executors.Status
	}{
		{"transient retried", &executors.Error{Class: executors.ErrTransient}, 2, executors.StatusChanged},
		{"rate limit retried", &executors.Error{Class: executors.ErrRateLimited, RetryAfter: time.Millisecond}, 2, executors.StatusChanged},
		{"unknown outcome retried", &executors.Error{Class: executors.ErrUnknownOutcome}, 2, executors.StatusChanged},
		{"auth not retried", &executors.Error{Class: executors.ErrAuth}, 1, executors.StatusFailed},
		{"rejected not retried", &executors.Error{Class: executors.ErrRejected}, 1, executors.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStub().on(executors.OrdersCancelAll, answer{err: tt.first}, ok)
			rep, err := Run(context.Background(), opts(mustPlaybook(t, freezePB), &memAudit{}, targets(s)))
			if err != nil {
				t.Fatal(err)
			}
			r := result(t, rep, "freeze", "acct1")
			if r.Attempts != tt.attempts || r.Status != tt.status {
				t.Errorf("attempts=%d status=%s, want %d %s", r.Attempts, r.Status, tt.attempts, tt.status)
			}
		})
	}
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	s := newStub().on(executors.OrdersCancelAll,
		answer{err: &executors.Error{Class: executors.ErrRateLimited, RetryAfter: 3 * time.Second}},
		answer{res: executors.Result{Status: executors.StatusChanged}})
	var slept []time.Duration
	var notices []Event
	trail := &memAudit{}
	o := opts(mustPlaybook(t, freezePB), trail, targets(s))
	o.Sleep = func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return nil }
	o.Progress = func(e Event) {
		if e.Kind == "notice" {
			notices = append(notices, e)
		}
	}
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(slept) != 1 || slept[0] != 3*time.Second {
		t.Errorf("slept %v, want [3s] (the venue's Retry-After)", slept)
	}
	// The operator hears of the failed attempt and the wait as it begins,
	// and the report keeps it (--json).
	if len(notices) != 1 || notices[0].Step != "freeze" || notices[0].Account != "acct1" ||
		!strings.Contains(notices[0].Text, "attempt 1 of") || !strings.Contains(notices[0].Text, "trying again in 3s") {
		t.Errorf("notices %+v: want one telling of the retry in 3s", notices)
	}
	if len(rep.Notices) != 1 || rep.Notices[0].Text != notices[0].Text {
		t.Errorf("report notices %+v, want the one shown", rep.Notices)
	}
	// The trail's retry record carries it too (the incident report reads it).
	kept := false
	for _, e := range trail.events {
		if r, ok := e.Result.(map[string]any); ok && r["retry"] == 1 && len(notices) == 1 && r["notice"] == notices[0].Text {
			kept = true
		}
	}
	if !kept {
		t.Error("the trail's retry record does not carry the notice")
	}
}

func TestOnErrorAbortSkipsTheRest(t *testing.T) {
	pb := mustPlaybook(t, `name: t
targets: {all: true}
steps:
  - id: freeze
    action: orders.cancel_all
    on_error: abort
  - id: after
    action: snapshot.balances
`)
	s := newStub().on(executors.OrdersCancelAll, answer{err: &executors.Error{Class: executors.ErrRejected}})
	rep, err := Run(context.Background(), opts(pb, &memAudit{}, targets(s, newStub())))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Aborted != "freeze" {
		t.Errorf("aborted at %q, want freeze", rep.Aborted)
	}
	for _, a := range []string{"acct1", "acct2"} {
		if got := result(t, rep, "after", a).Status; got != executors.StatusSkipped {
			t.Errorf("after/%s = %s, want skipped", a, got)
		}
	}
}

func TestWhenAndManual(t *testing.T) {
	pb := mustPlaybook(t, `name: t
inputs:
  leaked_key: {description: k}
targets: {all: true}
steps:
  - id: freeze
    action: orders.cancel_all
  - id: only-if-changed
    action: snapshot.balances
    when: steps.freeze.status == 'changed'
  - id: master
    action: manual
    with: {instructions: "delete key {{ .Inputs.leaked_key }} on {{ .Account.Name }}"}
`)
	s := newStub().on(executors.OrdersCancelAll, answer{res: executors.Result{Status: executors.StatusOK, Summary: "nothing"}})
	o := opts(pb, &memAudit{}, targets(s))
	o.Inputs = map[string]string{"leaked_key": "KEY123"}
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := result(t, rep, "only-if-changed", "acct1").Status; got != executors.StatusSkipped {
		t.Errorf("when false: status %s, want skipped", got)
	}
	m := result(t, rep, "master", "acct1")
	if m.Status != executors.StatusPending || len(m.Result.Manual) != 1 || m.Result.Manual[0].Instructions != "delete key KEY123 on acct1" {
		t.Errorf("manual = %s %+v, want pending with rendered instructions", m.Status, m.Result.Manual)
	}
}

type answerManual struct{ done bool }

func (a answerManual) Wait(context.Context, string, string, string) (bool, error) { return a.done, nil }

func TestManualVerifiedByProbe(t *testing.T) {
	pb := mustPlaybook(t, `name: t
targets: {all: true}
steps:
  - id: master
    action: manual
    with: {instructions: "delete it", verify: key_rejected}
`)
	for _, tt := range []struct {
		name  string
		probe answer
		want  executors.Status
	}{
		{"rejected", answer{res: executors.Result{Status: executors.StatusOK, Summary: "key rejected (-2015)"}}, executors.StatusOK},
		{"still accepted", answer{res: executors.Result{Status: executors.StatusFailed, Summary: "key still works"}}, executors.StatusPending},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newStub().on(executors.KeysVerifyRejected, tt.probe)
			o := opts(pb, &memAudit{}, targets(s))
			o.Manual = answerManual{done: true}
			rep, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if got := result(t, rep, "master", "acct1").Status; got != tt.want {
				t.Errorf("status %s, want %s", got, tt.want)
			}
		})
	}
}

func TestInterruptRecordsInFlight(t *testing.T) {
	s := newStub()
	s.block[executors.OrdersCancelAll] = true
	rec := &memAudit{}
	ctx, cancel := context.WithCancel(context.Background())
	o := opts(mustPlaybook(t, freezePB+"  - id: after\n    action: snapshot.balances\n"), rec, targets(s))
	o.Progress = func(e Event) {
		if e.Kind == "step-start" && e.Step == "freeze" {
			go func() { time.Sleep(20 * time.Millisecond); cancel() }()
		}
	}
	rep, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Interrupted {
		t.Error("report not marked interrupted")
	}
	if r := result(t, rep, "freeze", "acct1"); r.ErrClass != "interrupted" {
		t.Errorf("in-flight step class = %q, want interrupted", r.ErrClass)
	}
	if r := result(t, rep, "after", "acct1"); r.Status != executors.StatusSkipped {
		t.Errorf("later step = %s, want skipped", r.Status)
	}
	ph := rec.phases()
	if ph[len(ph)-1] != "end" {
		t.Errorf("last audit phase = %s, want end", ph[len(ph)-1])
	}
}

func TestFanOutIsConcurrentAndBounded(t *testing.T) {
	const n = 6
	var mu sync.Mutex
	inFlight, peak := 0, 0
	gate := make(chan struct{})
	var execs []executors.Executor
	for range n {
		execs = append(execs, &funcExec{do: func(ctx context.Context) {
			mu.Lock()
			inFlight++
			if inFlight > peak {
				peak = inFlight
			}
			mu.Unlock()
			select {
			case <-gate:
			case <-time.After(50 * time.Millisecond):
			}
			mu.Lock()
			inFlight--
			mu.Unlock()
		}})
	}
	o := opts(mustPlaybook(t, "name: t\ntargets: {all: true}\nsteps:\n  - id: s\n    action: snapshot.balances\n"), &memAudit{}, targets(execs...))
	o.Concurrency = 3
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if peak != 3 {
		t.Errorf("peak concurrency = %d, want 3", peak)
	}
}

// More accounts than slots, and a barrier (every account finishes a step
// before any starts a later one): a slot held for a whole account
// pipeline deadlocked here, the first account waiting at the barrier for
// accounts that waited for its slot.
func TestConcurrencyBelowAccountsWithBarrier(t *testing.T) {
	var execs []executors.Executor
	var mu sync.Mutex
	calls := 0
	for range 3 {
		execs = append(execs, &funcExec{do: func(ctx context.Context) { mu.Lock(); calls++; mu.Unlock() }})
	}
	pb := mustPlaybook(t, "name: t\ntargets: {all: true}\nsteps:\n  - id: first\n    action: snapshot.balances\n    barrier: true\n  - id: then\n    action: keys.inventory\n")
	o := opts(pb, &memAudit{}, targets(execs...))
	o.Concurrency = 1
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("run did not finish before the deadline: deadlocked")
	}
	if calls != 6 {
		t.Errorf("steps run = %d, want 6 (2 steps on 3 accounts)", calls)
	}
	for _, r := range rep.Results {
		if r.Status != executors.StatusOK {
			t.Errorf("%s on %s: %s %s, want ok", r.Step, r.Account, r.Status, r.Summary)
		}
	}
}

type funcExec struct{ do func(ctx context.Context) }

func (f *funcExec) Exchange() string { return "stub" }
func (f *funcExec) Do(ctx context.Context, req executors.Request) (executors.Result, error) {
	f.do(ctx)
	return executors.Result{Status: executors.StatusOK}, nil
}
func (f *funcExec) Plan(ctx context.Context, req executors.Request) (executors.Result, error) {
	return f.Do(ctx, req)
}

func TestDependencies(t *testing.T) {
	pb := mustPlaybook(t, `name: t
targets: {all: true}
steps:
  - {id: snap, action: snapshot.balances}
  - {id: inv, action: keys.inventory}
  - {id: freeze, action: orders.cancel_all}
  - {id: list, action: orders.list}
  - {id: gate, action: keys.inventory, when: "steps.list.status == 'ok'"}
  - {id: revoke, action: keys.revoke, irreversible: true}
  - {id: human, action: manual, with: {instructions: x}}
  - {id: after, action: snapshot.balances}
`)
	got := dependencies(pb.Steps)
	want := [][]int{
		nil,                // snap: nothing before it
		nil,                // inv: reads overlap
		nil,                // freeze: starts with the reads before it
		{2},                // list: after the mutation
		{2, 3},             // gate: its when reads list
		{2},                // revoke: after the earlier mutation
		{0, 1, 2, 3, 4, 5}, // manual waits for everything
		{2, 5, 6},          // after: waits for mutations and the manual step
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("deps[%s] = %v, want %v", pb.Steps[i].ID, got[i], want[i])
		}
	}
}

// gateExec blocks snapshot.balances until orders.cancel_all has been
// called (it can only finish if the runner overlaps them), and records
// whether the snapshot had finished when the freeze's mutation was sent.
type gateExec struct {
	stubExec
	freezeCalled chan struct{}
	once         sync.Once
	mu           sync.Mutex
	snapDone     bool
	sentAfter    bool // the mutation was sent after the snapshot finished
	sent         bool
}

func (g *gateExec) Do(ctx context.Context, req executors.Request) (executors.Result, error) {
	switch req.Action {
	case executors.SnapshotBalances:
		select {
		case <-g.freezeCalled:
		case <-time.After(5 * time.Second):
			return executors.Result{}, errors.New("snapshot was not overlapped with the freeze")
		}
		time.Sleep(20 * time.Millisecond) // still reading while the freeze wants to mutate
		g.mu.Lock()
		g.snapDone = true
		g.mu.Unlock()
	case executors.OrdersCancelAll:
		g.once.Do(func() { close(g.freezeCalled) })
		err := req.Mutate(ctx, executors.Mutation{ID: "cancel:spot:BTCUSDT"}, func(context.Context) error {
			g.mu.Lock()
			g.sent, g.sentAfter = true, g.snapDone
			g.mu.Unlock()
			return nil
		})
		if err != nil {
			return executors.Result{}, err
		}
		return executors.Result{Status: executors.StatusChanged}, nil
	}
	return executors.Result{Status: executors.StatusOK}, nil
}

func TestReadsOverlapButMutationsWaitForThem(t *testing.T) {
	g := &gateExec{stubExec: *newStub(), freezeCalled: make(chan struct{})}
	rep, err := Run(context.Background(), opts(mustPlaybook(t, freezePB), &memAudit{}, targets(g)))
	if err != nil {
		t.Fatal(err)
	}
	if r := result(t, rep, "snap", "acct1"); r.Status != executors.StatusOK {
		t.Errorf("snap = %s (%s), want ok", r.Status, r.Summary)
	}
	if !g.sent || !g.sentAfter {
		t.Errorf("mutation sent=%v after the snapshot=%v, want it sent only after snapshot-before finished", g.sent, g.sentAfter)
	}
}

func TestAbortIsABarrierAcrossAccounts(t *testing.T) {
	pb := mustPlaybook(t, `name: t
targets: {all: true}
steps:
  - {id: freeze, action: orders.cancel_all, on_error: abort}
  - {id: after, action: snapshot.balances}
`)
	failing := newStub().on(executors.OrdersCancelAll, answer{err: &executors.Error{Class: executors.ErrRejected}})
	rep, err := Run(context.Background(), opts(pb, &memAudit{}, []Target{
		{Ref: playbooks.AccountRef{Name: "fast-ok"}, Exec: newStub()},
		{Ref: playbooks.AccountRef{Name: "fails"}, Exec: &delayed{inner: failing, d: 20 * time.Millisecond}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := result(t, rep, "after", "fast-ok").Status; got != executors.StatusSkipped {
		t.Errorf("after/fast-ok = %s, want skipped (abort on another account)", got)
	}
}

type delayed struct {
	inner executors.Executor
	d     time.Duration
}

func (d *delayed) Exchange() string { return d.inner.Exchange() }
func (d *delayed) Do(ctx context.Context, req executors.Request) (executors.Result, error) {
	time.Sleep(d.d)
	return d.inner.Do(ctx, req)
}
func (d *delayed) Plan(ctx context.Context, req executors.Request) (executors.Result, error) {
	return d.inner.Plan(ctx, req)
}

func TestMutationGates(t *testing.T) {
	pb := mustPlaybook(t, `name: t
targets: {all: true}
steps:
  - {id: snap, action: snapshot.balances}
  - {id: inv, action: keys.inventory}
  - {id: trades, action: trades.recent}
  - {id: freeze, action: orders.cancel_all}
  - {id: revoke, action: keys.revoke, irreversible: true}
`)
	got := mutationGates(pb.Steps)
	want := [][]int{nil, nil, nil, {0}, {0, 1}}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("gates[%s] = %v, want %v", pb.Steps[i].ID, got[i], want[i])
		}
	}
}

// slowAudit is a Recorder whose Append takes a while (an fsync) and that
// records how many Appends were in progress at once.
type slowAudit struct {
	memAudit
	mu            sync.Mutex
	inFlight, max int
}

func (s *slowAudit) Append(e audit.Event) (audit.Record, error) {
	s.mu.Lock()
	s.inFlight++
	s.max = max(s.max, s.inFlight)
	s.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	s.mu.Lock()
	s.inFlight--
	s.mu.Unlock()
	return s.memAudit.Append(e)
}

// The runner hands records to the trail concurrently (the trail groups
// concurrent fsyncs); it must not serialise them itself.
func TestAuditAppendsAreConcurrent(t *testing.T) {
	rec := &slowAudit{}
	var execs []executors.Executor
	for range 4 {
		execs = append(execs, newStub())
	}
	if _, err := Run(context.Background(), opts(mustPlaybook(t, freezePB), rec, targets(execs...))); err != nil {
		t.Fatal(err)
	}
	if rec.max < 2 {
		t.Errorf("at most %d audit appends in progress at once across 4 accounts, want concurrent appends", rec.max)
	}
}

// ownReadExec is an executor whose snapshot reads the account's own
// state, says so, and then takes a while over its sub-accounts; it records
// whether the freeze's mutation went before the snapshot had finished.
type ownReadExec struct {
	stubExec
	subsRead     chan struct{} // closed when the snapshot finishes
	mu           sync.Mutex
	sentBefore   bool // the mutation was sent before the snapshot finished
	sent         bool
	noteOwnState bool
}

func (o *ownReadExec) Do(ctx context.Context, req executors.Request) (executors.Result, error) {
	switch req.Action {
	case executors.SnapshotBalances:
		if o.noteOwnState {
			req.NoteOwnStateRead()
		}
		time.Sleep(300 * time.Millisecond) // the sub-accounts' assets
		close(o.subsRead)
	case executors.OrdersCancelAll:
		err := req.Mutate(ctx, executors.Mutation{ID: "cancel:spot:BTCUSDT"}, func(context.Context) error {
			select {
			case <-o.subsRead:
			default:
				o.mu.Lock()
				o.sentBefore = true
				o.mu.Unlock()
			}
			o.mu.Lock()
			o.sent = true
			o.mu.Unlock()
			return nil
		})
		if err != nil {
			return executors.Result{}, err
		}
		return executors.Result{Status: executors.StatusChanged}, nil
	}
	return executors.Result{Status: executors.StatusOK}, nil
}

// TestOwnCancelsWaitOnlyForOwnReads: an account's own order cancels go as
// soon as snapshot-before says it has read the account's own state (the
// sub-accounts' reads, which they do not change, go on); cancels of the
// sub-accounts' orders, and any snapshot that does not say so, still wait
// for the whole snapshot.
func TestOwnCancelsWaitOnlyForOwnReads(t *testing.T) {
	cases := []struct {
		name       string
		scope      string
		note       bool
		wantBefore bool
	}{
		{"own cancels, own state read: go at once", "", true, true},
		{"own cancels named scope account: go at once", executors.ScopeAccount, true, true},
		{"sub-accounts' cancels: wait for the whole snapshot", executors.ScopeSubAccounts, true, false},
		{"all: wait for the whole snapshot", executors.ScopeAll, true, false},
		{"the snapshot does not say: wait for it", "", false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			with := ""
			if c.scope != "" {
				with = ", with: {scope: " + c.scope + "}"
			}
			pb := mustPlaybook(t, `name: t
targets: {all: true}
steps:
  - {id: snap, action: snapshot.balances}
  - {id: freeze, action: orders.cancel_all`+with+`}
`)
			o := &ownReadExec{stubExec: *newStub(), subsRead: make(chan struct{}), noteOwnState: c.note}
			rep, err := Run(context.Background(), opts(pb, &memAudit{}, targets(o)))
			if err != nil {
				t.Fatal(err)
			}
			if r := result(t, rep, "freeze", "acct1"); r.Status != executors.StatusChanged {
				t.Fatalf("freeze = %s (%s), want changed", r.Status, r.Summary)
			}
			if !o.sent || o.sentBefore != c.wantBefore {
				t.Errorf("mutation sent=%v before the snapshot finished=%v, want %v", o.sent, o.sentBefore, c.wantBefore)
			}
		})
	}
}

// TestOwnOrderCancels: the account's own cancels are orders.cancel_all
// without a scope or with scope account, spelled either way: the hold's
// lane takes both, and nothing that reaches sub-accounts.
func TestOwnOrderCancels(t *testing.T) {
	pb := mustPlaybook(t, `name: t
targets: {all: true}
steps:
  - {id: own, action: orders.cancel_all}
  - {id: own-named, action: orders.cancel_all, with: {scope: account}}
  - {id: subs, action: orders.cancel_all, with: {scope: sub_accounts}}
  - {id: all, action: orders.cancel_all, with: {scope: all}}
  - {id: keys, action: keys.revoke, irreversible: true, with: {scope: sub_accounts, method: delete}}
`)
	lane, rest := ownOrderSteps(pb.Steps)
	var got []string
	for _, s := range lane {
		got = append(got, s.ID)
	}
	if want := []string{"own", "own-named"}; !slices.Equal(got, want) {
		t.Errorf("lane %v, want %v", got, want)
	}
	if len(rest) != 3 {
		t.Errorf("%d steps left to the passes, want 3", len(rest))
	}
}

// sentExec's freeze sends its cancel, says so, and then confirms: its
// re-list ends only once the key revocation has been called (a confirming
// read held back by a scarce rate limit) or after a while. It records
// whether the revocation was called while the freeze still confirmed.
type sentExec struct {
	stubExec
	noteSent  bool
	revoked   chan struct{}
	once      sync.Once
	mu        sync.Mutex
	overlap   bool // the revocation came while the freeze confirmed
	confirmed bool
}

func (s *sentExec) Do(ctx context.Context, req executors.Request) (executors.Result, error) {
	switch req.Action {
	case executors.OrdersCancelAll:
		if err := req.Mutate(ctx, executors.Mutation{ID: "cancel:spot:BTCUSDT"}, func(context.Context) error { return nil }); err != nil {
			return executors.Result{}, err
		}
		if s.noteSent {
			req.NoteMutationsSent()
		}
		select {
		case <-s.revoked:
		case <-time.After(300 * time.Millisecond):
		}
		s.mu.Lock()
		s.confirmed = true
		s.mu.Unlock()
		return executors.Result{Status: executors.StatusChanged}, nil
	case executors.KeysRevoke:
		s.mu.Lock()
		s.overlap = !s.confirmed
		s.mu.Unlock()
		s.once.Do(func() { close(s.revoked) })
		return executors.Result{Status: executors.StatusChanged}, nil
	}
	return executors.Result{Status: executors.StatusOK}, nil
}

// TestMutatingStepsStartOnSent: a key revocation after a freeze starts
// once the freeze's cancels are sent, while the freeze still confirms
// them; it waits for the whole freeze when the freeze does not say so,
// when its `when` reads the freeze, and when the freeze may abort the run.
func TestMutatingStepsStartOnSent(t *testing.T) {
	cases := []struct {
		name        string
		note        bool
		freeze      string // extra fields of the freeze step
		revoke      string // extra fields of the revocation step
		wantOverlap bool
	}{
		{"sent: the revocation goes while the freeze confirms", true, "", "", true},
		{"the freeze does not say: wait for it", false, "", "", false},
		{"when reads the freeze: wait for it", true, "", `, when: "steps.freeze.status == 'changed'"`, false},
		{"the freeze may abort the run: wait for it", true, ", on_error: abort", "", false},
		{"the freeze is a barrier: wait for it", true, ", barrier: true", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pb := mustPlaybook(t, `name: t
targets: {all: true}
steps:
  - {id: freeze, action: orders.cancel_all`+c.freeze+`}
  - {id: revoke, action: keys.revoke, irreversible: true, with: {scope: sub_accounts, method: delete}`+c.revoke+`}
`)
			s := &sentExec{stubExec: *newStub(), noteSent: c.note, revoked: make(chan struct{})}
			rep, err := Run(context.Background(), opts(pb, &memAudit{}, targets(s)))
			if err != nil {
				t.Fatal(err)
			}
			for _, step := range []string{"freeze", "revoke"} {
				if r := result(t, rep, step, "acct1"); r.Status != executors.StatusChanged {
					t.Fatalf("%s = %s (%s), want changed", step, r.Status, r.Summary)
				}
			}
			if s.overlap != c.wantOverlap {
				t.Errorf("revocation while the freeze confirmed = %v, want %v", s.overlap, c.wantOverlap)
			}
		})
	}
}

func TestStartsOnSent(t *testing.T) {
	pb := mustPlaybook(t, `name: t
targets: {all: true}
steps:
  - {id: freeze, action: orders.cancel_all}
  - {id: list, action: orders.list}
  - {id: revoke, action: keys.revoke, irreversible: true, with: {scope: sub_accounts, method: delete}}
  - {id: human, action: manual, with: {instructions: x}}
`)
	for _, c := range []struct {
		i, j int
		want bool
	}{
		{1, 0, false}, // a read waits for the whole freeze
		{2, 0, true},  // a mutation goes once the freeze has sent
		{3, 0, false}, // manual waits for everything
		{3, 2, false},
	} {
		if got := startsOnSent(pb.Steps, c.i, c.j); got != c.want {
			t.Errorf("startsOnSent(%s, %s) = %v, want %v", pb.Steps[c.i].ID, pb.Steps[c.j].ID, got, c.want)
		}
	}
}

// TestEveryAccountAtOnceByDefault: with no Concurrency set, every target
// account runs a step at once, however many there are (the venues' rate
// limits are the budgets' to keep); with a cap, no more than it.
func TestEveryAccountAtOnceByDefault(t *testing.T) {
	const n = 20
	for _, tc := range []struct{ limit, want int }{{0, n}, {8, 8}} {
		t.Run(fmt.Sprintf("concurrency=%d", tc.limit), func(t *testing.T) {
			pb := mustPlaybook(t, `name: t
targets: {all: true}
steps:
  - {id: freeze, action: orders.cancel_all}
`)
			var mu sync.Mutex
			in, most := 0, 0
			all := make(chan struct{})
			var execs []executors.Executor
			for range n {
				execs = append(execs, &funcExec{do: func(ctx context.Context) {
					mu.Lock()
					in++
					most = max(most, in)
					if in == n {
						close(all)
					}
					mu.Unlock()
					select { // the accounts in the step wait for the others
					case <-all:
					case <-time.After(100 * time.Millisecond):
					}
					mu.Lock()
					in--
					mu.Unlock()
				}})
			}
			o := opts(pb, &memAudit{}, targets(execs...))
			o.Concurrency = tc.limit
			if _, err := Run(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			if most != tc.want {
				t.Errorf("at most %d accounts in the step at once, want %d", most, tc.want)
			}
		})
	}
}
