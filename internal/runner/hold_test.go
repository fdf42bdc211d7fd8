package runner

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

const holdPB = `name: t
targets: {all: true}
steps:
  - id: freeze
    action: orders.cancel_all
  - id: kill-key
    action: manual
    with:
      instructions: delete the key in the web UI
      verify: key_rejected
      hold: true
`

var stillAccepted = answer{res: executors.Result{Status: executors.StatusFailed, Summary: "key still accepted"},
	err: &executors.Error{Class: executors.ErrRejected, Msg: "key still accepted"}}

var keyDead = answer{res: executors.Result{Status: executors.StatusOK, Summary: "key k…y is dead: -2008"}}

func cancelled(targets ...string) answer {
	res := executors.Result{Status: executors.StatusOK, Summary: "nothing to cancel"}
	for _, t := range targets {
		res.Status = executors.StatusChanged
		res.Changes = append(res.Changes, executors.Change{Kind: "cancel-orders", Target: t})
	}
	return answer{res: res}
}

func TestHoldCatchesOrderPlacedMidRunAndEndsWhenKeyDies(t *testing.T) {
	stub := newStub().
		on(executors.OrdersCancelAll, cancelled("spot BTCUSDT (step)"), cancelled(), cancelled("spot ETHUSDT (attacker)"), cancelled()).
		on(executors.KeysVerifyRejected, stillAccepted, stillAccepted, stillAccepted, keyDead)
	rec := &memAudit{}
	o := opts(mustPlaybook(t, holdPB), rec, targets(stub))
	o.HoldInterval = time.Millisecond
	var holdEvents []string
	o.Progress = func(e Event) {
		if e.Kind == "hold" {
			holdEvents = append(holdEvents, e.Text)
		}
	}
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	res := result(t, rep, "kill-key", "acct1")
	hs, ok := res.Result.Data.(*HoldSummary)
	if !ok {
		t.Fatalf("kill-key data = %T, want *HoldSummary", res.Result.Data)
	}
	if hs.EndedBy != HoldKeyRejected || hs.Passes != 3 {
		t.Errorf("hold ended by %q after %d passes, want %q after 3", hs.EndedBy, hs.Passes, HoldKeyRejected)
	}
	if len(hs.Caught) != 1 || !strings.Contains(hs.Caught[0].Target, "attacker") {
		t.Errorf("caught = %+v, want the attacker's order", hs.Caught)
	}
	if res.Status != executors.StatusChanged {
		t.Errorf("kill-key status = %s, want changed", res.Status)
	}
	// The holder was at work during the hold: what they placed after its
	// last look, before the key died, is out of the API's sight. The run
	// cannot call that contained; a human must look (only that is left).
	if v := rep.Verdict; v.Contained || !v.OnlyManual || len(v.Left) != 1 || v.Left[0].Kind != LeftOpenOrdersPossible {
		t.Errorf("verdict = %+v, want not contained, only %s left", v, LeftOpenOrdersPossible)
	}
	// Every hold mutation is audited under the manual step.
	var intents int
	for _, e := range rec.events {
		if e.Phase == "intent" && e.Step == "kill-key" {
			intents++
		}
	}
	if intents < 3 { // one cancel per pass, each audited
		t.Errorf("intents under kill-key = %d, want one per pass (3)", intents)
		t.Errorf("no intent recorded for the hold's mutations")
	}
	caughtShown := false
	for _, e := range holdEvents {
		if strings.Contains(e, "attacker") {
			caughtShown = true
		}
	}
	if !caughtShown {
		t.Errorf("live progress never showed the caught order: %q", holdEvents)
	}
}

func TestHoldDeadlineLeavesStepPendingAndSaysTheKeyIsAlive(t *testing.T) {
	stub := newStub().on(executors.KeysVerifyRejected, stillAccepted)
	o := opts(mustPlaybook(t, holdPB), &memAudit{}, targets(stub))
	o.Hold, o.HoldInterval = 30*time.Millisecond, time.Millisecond
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	res := result(t, rep, "kill-key", "acct1")
	if res.Status != executors.StatusPending {
		t.Fatalf("status = %s, want pending", res.Status)
	}
	if hs := res.Result.Data.(*HoldSummary); hs.EndedBy != HoldDeadline || hs.Passes == 0 {
		t.Errorf("hold = %+v, want ended by deadline after at least one pass", hs)
	}
	if !strings.Contains(res.Summary, "still alive") {
		t.Errorf("summary %q does not say the key is still alive", res.Summary)
	}
	if !rep.Verdict.OnlyManual || rep.Verdict.Text != "CONTAINED, MANUAL STEPS PENDING" {
		t.Errorf("verdict = %+v, want contained with the manual step pending", rep.Verdict)
	}
}

type scriptedManual struct {
	delay time.Duration
	done  bool
}

func (m scriptedManual) Wait(ctx context.Context, step, account, instructions string) (bool, error) {
	select {
	case <-time.After(m.delay):
		return m.done, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

func TestOperatorEndsTheHold(t *testing.T) {
	stub := newStub().on(executors.KeysVerifyRejected, stillAccepted)
	o := opts(mustPlaybook(t, holdPB), &memAudit{}, targets(stub))
	o.HoldInterval = time.Millisecond
	o.Manual = scriptedManual{delay: 20 * time.Millisecond, done: false}
	start := time.Now()
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the run took %s: the operator's answer did not end the hold", d)
	}
	hs := result(t, rep, "kill-key", "acct1").Result.Data.(*HoldSummary)
	if hs.EndedBy != HoldOperator {
		t.Errorf("ended by %q, want %q", hs.EndedBy, HoldOperator)
	}
}

func TestHoldStopsOnInterrupt(t *testing.T) {
	stub := newStub().on(executors.KeysVerifyRejected, stillAccepted)
	o := opts(mustPlaybook(t, holdPB), &memAudit{}, targets(stub))
	o.HoldInterval = time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	rep, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Interrupted {
		t.Errorf("report not interrupted")
	}
	if rep.Verdict.Contained {
		t.Errorf("verdict %+v: an interrupted run is never contained", rep.Verdict)
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("ctx = %v", ctx.Err())
	}
}

func TestVerdictNeverOverclaims(t *testing.T) {
	left := func(kind, target string) executors.Change { return executors.Change{Kind: kind, Target: target} }
	res := func(step, action string, st executors.Status, r executors.Result) StepResult {
		r.Status = st
		return StepResult{Step: step, Account: "a", Action: action, Status: st, Result: r}
	}
	scoped := func(r StepResult, scope string) StepResult { r.Scope = scope; return r }
	tests := []struct {
		name        string
		results     []StepResult
		contained   bool
		onlyManual  bool
		wantLeftLen int
	}{
		{"clean", []StepResult{res("freeze", executors.OrdersCancelAll, executors.StatusChanged, executors.Result{})}, true, false, 0},
		{"orders seen left", []StepResult{res("freeze", executors.OrdersCancelAll, executors.StatusChanged,
			executors.Result{Remaining: []executors.Change{left(LeftOpenOrders, "sub bot1 spot BTCUSDT")}})}, false, false, 1},
		{"orders inferred", []StepResult{res("freeze", executors.OrdersCancelAll, executors.StatusChanged,
			executors.Result{Remaining: []executors.Change{left(LeftOpenOrdersInferred, "sub bot2: locked USDT")}})}, false, true, 1},
		{"a later pass clears what an earlier saw", []StepResult{
			res("freeze", executors.OrdersCancelAll, executors.StatusChanged, executors.Result{Remaining: []executors.Change{left(LeftOpenOrders, "spot X")}}),
			res("freeze2", executors.OrdersCancelAll, executors.StatusChanged, executors.Result{}),
		}, true, false, 0},
		{"a later step of another scope does not clear the account's own orders", []StepResult{
			res("freeze", executors.OrdersCancelAll, executors.StatusChanged, executors.Result{Remaining: []executors.Change{left(LeftOpenOrders, "spot X")}}),
			scoped(res("freeze-sub-accounts", executors.OrdersCancelAll, executors.StatusChanged, executors.Result{}), "sub_accounts"),
		}, false, false, 1},
		{"a later pass never clears inferred orders", []StepResult{
			res("freeze", executors.OrdersCancelAll, executors.StatusChanged, executors.Result{Remaining: []executors.Change{left(LeftOpenOrdersInferred, "sub bot2")}}),
			res("freeze2", executors.OrdersCancelAll, executors.StatusChanged, executors.Result{}),
		}, false, true, 1},
		{"live key", []StepResult{res("revoke", executors.KeysRevoke, executors.StatusPending,
			executors.Result{Remaining: []executors.Change{left(LeftLiveKey, "sub bot3 key ab…cd")}, Manual: []executors.ManualStep{{Instructions: "delete it"}}})}, false, false, 1},
		{"leaked key not found", []StepResult{res("revoke", executors.KeysRevoke, executors.StatusChanged,
			executors.Result{Findings: []executors.Finding{{Severity: "high", Subject: "key ab…cd", Message: "not found on any configured account"}}})}, false, true, 1},
		{"hold's last clean pass supersedes", []StepResult{
			res("freeze", executors.OrdersCancelAll, executors.StatusChanged, executors.Result{Remaining: []executors.Change{left(LeftOpenOrders, "spot X")}}),
			res("kill", executors.Manual, executors.StatusOK, executors.Result{Data: &HoldSummary{LastPass: map[string]executors.Result{"freeze": {Status: executors.StatusOK}}}}),
		}, true, false, 0},
		{"withdrawal the venue cannot cancel", []StepResult{res("withdrawals", executors.WithdrawalsCancelPending, executors.StatusPending,
			executors.Result{Summary: "1 withdrawal pending", Manual: []executors.ManualStep{{Instructions: "call support"}}})}, false, true, 1},
		{"failed", []StepResult{res("freeze", executors.OrdersCancelAll, executors.StatusFailed, executors.Result{})}, false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := &Report{Mode: ModeExecute, Results: tt.results, Counts: map[executors.Status]int{}}
			for _, r := range tt.results {
				rep.Counts[r.Status]++
			}
			v := ComputeVerdict(rep)
			if v.Contained != tt.contained || v.OnlyManual != tt.onlyManual || len(v.Left) != tt.wantLeftLen {
				t.Errorf("verdict = %+v; want contained %v, only manual %v, %d left", v, tt.contained, tt.onlyManual, tt.wantLeftLen)
			}
			if !v.Contained && strings.HasPrefix(v.Text, "CONTAINED") {
				t.Errorf("text %q claims containment", v.Text)
			}
		})
	}
}

// On a terminal the hold's deadline does not take the prompt away: the
// operator can still confirm, and the key is then probed.
func TestHoldDeadlineKeepsThePrompt(t *testing.T) {
	stub := newStub().on(executors.KeysVerifyRejected, stillAccepted)
	o := opts(mustPlaybook(t, holdPB), &memAudit{}, targets(stub))
	o.Hold, o.HoldInterval = 10*time.Millisecond, time.Millisecond
	o.Manual = scriptedManual{delay: 100 * time.Millisecond, done: true}
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	res := result(t, rep, "kill-key", "acct1")
	hs := res.Result.Data.(*HoldSummary)
	if hs.EndedBy != HoldDeadline {
		t.Errorf("hold ended by %q, want %q", hs.EndedBy, HoldDeadline)
	}
	// The operator's answer was taken and checked (the stub's key is
	// still accepted, so the step stays pending and says why).
	if res.Status != executors.StatusPending || !strings.Contains(res.Summary, "operator confirmed, but") {
		t.Errorf("result = %s %q, want pending: operator confirmed, but …", res.Status, res.Summary)
	}
}

// A dry-run says the run would hold, for how long and with which steps,
// and sends nothing.
func TestDryRunSaysItWouldHold(t *testing.T) {
	stub := newStub()
	o := opts(mustPlaybook(t, holdPB), &memAudit{}, targets(stub))
	o.DryRun, o.Hold = true, 45*time.Minute
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	res := result(t, rep, "kill-key", "acct1")
	if !strings.Contains(res.Summary, "would hold the line meanwhile (at most 45m0s): re-run freeze") {
		t.Errorf("summary %q does not say it would hold", res.Summary)
	}
	if stub.sent != 0 || stub.calls[executors.KeysVerifyRejected] != 0 {
		t.Errorf("dry-run sent %d mutation(s) and %d probe(s)", stub.sent, stub.calls[executors.KeysVerifyRejected])
	}
}

// A key deleted before the hold's first pass (a human quick in the web UI)
// still leaves its last instants out of sight: the result says so, naming
// the playbook's own steps as the last look.
func TestHoldKeyDeadAtFirstProbeSaysWhatIsOutOfSight(t *testing.T) {
	stub := newStub().on(executors.KeysVerifyRejected, keyDead)
	o := opts(mustPlaybook(t, holdPB), &memAudit{}, targets(stub))
	o.HoldInterval = time.Millisecond
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	res := result(t, rep, "kill-key", "acct1")
	hs := res.Result.Data.(*HoldSummary)
	if hs.EndedBy != HoldKeyRejected || hs.Passes != 0 {
		t.Fatalf("hold ended by %q after %d passes, want %q before any pass", hs.EndedBy, hs.Passes, HoldKeyRejected)
	}
	if !strings.Contains(res.Summary, "after the playbook's own steps (it died before the hold's first pass) until it died cannot be seen or cancelled through the API: check Open Orders") {
		t.Errorf("summary %q does not say what is out of sight", res.Summary)
	}
}

// probeSequence answers keys.verify_rejected from a list, one answer per
// probe (the last one repeated); every other action is unsupported.
type probeSequence struct {
	answers []executors.Result
	n       int
}

func (p *probeSequence) Exchange() string { return "double" }
func (p *probeSequence) Plan(ctx context.Context, req executors.Request) (executors.Result, error) {
	return p.Do(ctx, req)
}
func (p *probeSequence) Do(_ context.Context, req executors.Request) (executors.Result, error) {
	if req.Action != executors.KeysVerifyRejected {
		return executors.Result{}, &executors.Error{Class: executors.ErrUnsupported, Msg: req.Action}
	}
	res := p.answers[min(p.n, len(p.answers)-1)]
	p.n++
	if res.Status != executors.StatusOK {
		return res, &executors.Error{Class: executors.ErrTransient, Msg: res.Summary}
	}
	return res, nil
}

// Once a probe proved the key dead, its proof is what the hold reports: a
// later probe a 5xx left inconclusive (the lane's, the last one, in a
// storm) does not turn "dead" into "not proven dead" under "done and
// verified".
func TestHoldKeepsTheProofOfDeath(t *testing.T) {
	exec := &probeSequence{answers: []executors.Result{
		{Status: executors.StatusOK, Summary: "key ab…cd is dead: probe answered -2015"},
		{Status: executors.StatusFailed, Summary: "key ab…cd not proven dead after 1ms: transient failure (-1001)"},
	}}
	h := &holding{r: &run{o: Options{Now: time.Now}}, t: Target{Exec: exec}, hs: &HoldSummary{}}
	if !h.rejected(context.Background()) {
		t.Fatal("the first probe proves the key dead")
	}
	if h.rejected(context.Background()) {
		t.Fatal("the second probe is inconclusive")
	}
	if !strings.Contains(h.hs.Probe, "is dead") || h.hs.KeyRejectedAt.IsZero() {
		t.Errorf("probe %q, rejected at %v: want the proof of death and its time kept", h.hs.Probe, h.hs.KeyRejectedAt)
	}
}
