package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/audit"
	"github.com/panicbutton/panicbutton/internal/secret"
	"github.com/panicbutton/panicbutton/playbooks"
)

// Target is one account the playbook runs against, with its executor.
type Target struct {
	Ref  playbooks.AccountRef
	Exec executors.Executor
}

// Recorder is the audit trail as the runner sees it (*audit.Log). It must
// be safe for concurrent use: the runner appends from every account's
// pipeline at once, so that concurrent records can share an fsync.
type Recorder interface {
	Append(e audit.Event) (audit.Record, error)
	Head() string
}

// ManualHandler lets an operator perform a manual step. Wait shows the
// instructions and blocks until the operator says it is done (true), or
// declines / is not available (false).
type ManualHandler interface {
	Wait(ctx context.Context, step, account, instructions string) (bool, error)
}

// Mode of a run.
const (
	ModeDryRun  = "dry-run"
	ModeExecute = "execute"
)

// Options configure one run.
type Options struct {
	RunID    string
	Playbook *playbooks.Playbook
	Targets  []Target
	Inputs   map[string]string
	// DryRun wraps every executor with executors.DryRun: reads are real,
	// mutations become "would …" results.
	DryRun bool
	Audit  Recorder
	// AuditDegraded lets mutations proceed when the audit trail cannot be
	// written (recorded in the start record; shouted on Warn).
	AuditDegraded bool
	// RunDir receives snapshot-<step>.json files; empty: none written.
	RunDir string
	// Concurrency caps the accounts running one step at once (manual
	// steps take no slot); 0 (the default): every target account. The
	// venues' rate limits are kept by the executors' budgets, shared by
	// every account behind one IP, not by this cap: a cap below the number
	// of accounts only makes the last ones wait for a slot while the first
	// ones wait for budget (measured at 20 accounts with the old default of
	// 8: one KuCoin master's sub-account orders stayed open 3 minutes for a
	// slot held by Binance masters waiting for /fapi windows).
	Concurrency    int
	DefaultTimeout time.Duration // per (step, account) when the step sets none; default 2m
	ManualTimeout  time.Duration // default for manual steps; default 30m
	BackoffBase    time.Duration // default 250ms
	BackoffMax     time.Duration // default 10s
	Manual         ManualHandler // nil: manual steps stay pending
	Now            func() time.Time
	Sleep          func(ctx context.Context, d time.Duration) error
	// Progress, when set, is called as results arrive (from several goroutines, serialised).
	Progress func(Event)
	// Warn receives loud operator warnings (e.g. degraded audit).
	Warn    func(msg string)
	Version string
	// StartInfo is merged into the start record (e.g. the plan's hash and
	// who confirmed the execution).
	StartInfo map[string]any
	// Notify posts notify.webhook steps; nil disables them (result skipped).
	Notify func(ctx context.Context, url string, headers map[string]string, body []byte) error
	// Resume, when set, continues the interrupted run it was loaded from
	// (LoadResume; see resume.go): Audit must append to that run's trail.
	// Mutations done in the interrupted run are not sent again, and
	// completed read-only steps keep their results.
	Resume *ResumeState
	// Hold bounds a hold-the-line manual step (hold.go); 0: DefaultHold.
	Hold time.Duration
	// HoldInterval is the pause between hold passes; 0: DefaultHoldInterval.
	HoldInterval time.Duration
	// NoHold turns hold: true off: manual steps only wait or stay pending
	// (benchmarks and report fixtures measure containment, not a human).
	NoHold bool
	// Review, when set, sees every (step, account) result before it is
	// recorded and may rewrite its findings and summary (posture checks
	// turn the key inventory into actionable findings and drift). It is
	// called from several goroutines.
	Review func(acct playbooks.AccountRef, res *StepResult)
	// Approve, when set, binds the run to an approved plan (panicbutton
	// apply): every mutation is shown to it before its intent is recorded,
	// and one it answers an error for (wrapping executors.ErrNotApproved)
	// is not sent; an info record names it in the trail. step is the step
	// whose hooks send m (a hold pass sends under its manual step's id).
	// It is called from several goroutines.
	Approve func(step, account, action string, m executors.Mutation) error
}

// Event is a progress notification.
type Event struct {
	Kind    string // step-start, start (one step on one account), result, hold, notice
	Step    string
	Account string
	Result  *StepResult
	// Text is, for hold, what the watch did; for notice, what the step's
	// executor wants the operator to know now (executors.Noticer). One line.
	Text string
}

// StepResult is the result of one (step, account).
type StepResult struct {
	Step     string `json:"step"`
	Account  string `json:"account"`
	Exchange string `json:"exchange,omitempty"`
	Action   string `json:"action"`
	// Scope is the step's `scope` parameter (e.g. sub_accounts): a later
	// result of the same action supersedes an earlier one in the verdict
	// only within one scope.
	Scope    string           `json:"scope,omitempty"`
	Status   executors.Status `json:"status"`
	Summary  string           `json:"summary"`
	Error    string           `json:"error,omitempty"`
	ErrClass string           `json:"error_class,omitempty"`
	Attempts int              `json:"attempts,omitempty"`
	Started  time.Time        `json:"started"`
	Duration time.Duration    `json:"duration_ns"`
	Result   executors.Result `json:"result"`
}

// Report is the outcome of a run.
type Report struct {
	RunID       string                   `json:"run_id"`
	Playbook    string                   `json:"playbook"`
	PlaybookSHA string                   `json:"playbook_sha256"`
	Mode        string                   `json:"mode"`
	Started     time.Time                `json:"started"`
	Duration    time.Duration            `json:"duration_ns"`
	Results     []StepResult             `json:"results"`
	Interrupted bool                     `json:"interrupted,omitempty"`
	Aborted     string                   `json:"aborted_at,omitempty"` // step whose failure aborted the run
	AuditHead   string                   `json:"audit_head,omitempty"`
	Counts      map[executors.Status]int `json:"counts"`
	Verdict     Verdict                  `json:"verdict"`
	// Notices are what the run told the operator while steps ran (a long
	// wait for a rate limit, a CDN block, a retry), in order.
	Notices []Notice `json:"notices,omitempty"`
}

// Notice is one notice event of the run, At from its start.
type Notice struct {
	Step    string        `json:"step"`
	Account string        `json:"account"`
	Text    string        `json:"text"`
	At      time.Duration `json:"at_ns"`
}

// Count returns how many results have status s.
func (r *Report) Count(s executors.Status) int { return r.Counts[s] }

type run struct {
	o         Options
	mu        sync.Mutex                   // guards statuses, results and notices
	statuses  map[string]map[string]string // account -> step -> status
	results   []StepResult
	notices   []Notice
	auditWarn sync.Once // the degraded-mode warning is shown once
	progMu    sync.Mutex
	resume    *resumeRun // nil unless Options.Resume
	start     time.Time  // when the run started (orders created since were placed during it)
}

// Run executes the playbook. It returns an error only when the run could
// not start (e.g. the start record could not be written); step failures are
// in the Report.
func Run(ctx context.Context, o Options) (*Report, error) {
	o = withDefaults(o)
	if o.Resume != nil && o.DryRun {
		return nil, errors.New("resume: a dry-run cannot resume a run")
	}
	start := o.Now()
	r := &run{o: o, statuses: map[string]map[string]string{}, resume: newResumeRun(o.Resume), start: start}
	mode := ModeExecute
	if o.DryRun {
		mode = ModeDryRun
	}
	rep := &Report{RunID: o.RunID, Playbook: o.Playbook.Name, PlaybookSHA: o.Playbook.SHA256, Mode: mode, Started: start}

	names := make([]string, len(o.Targets))
	for i, t := range o.Targets {
		names[i] = t.Ref.Name
	}
	startInfo := map[string]any{
		"tool_version":    o.Version,
		"playbook":        o.Playbook.Name,
		"playbook_file":   o.Playbook.File,
		"playbook_sha256": o.Playbook.SHA256,
		"mode":            mode,
		"accounts":        names,
		"inputs":          redactInputs(o.Inputs),
		"inputs_sha256":   InputsHash(o.RunID, o.Inputs), // lets a resume check the inputs (resume.go)
		"audit_degraded":  o.AuditDegraded,
		"steps":           stepList(o.Playbook.Steps),
	}
	for k, v := range o.StartInfo {
		startInfo[k] = v
	}
	opening := audit.Event{Phase: "start", Result: startInfo}
	if r.resume != nil {
		// The trail keeps its one start record: a resumed run opens with an
		// info record naming the run and head it continues (resume.go).
		opening = r.resume.openingEvent(startInfo)
	}
	if _, err := r.record(opening); err != nil && !o.AuditDegraded {
		return nil, fmt.Errorf("audit trail: cannot write the start record: %w", err)
	}
	if o.AuditDegraded {
		o.Warn("WARNING: running with --audit-degraded: mutations proceed even if the audit trail cannot be written")
	}

	r.resume.cleanupTempKeys(ctx, r) // tempkeys.go: before anything else
	rep.Aborted = r.schedule(ctx)
	rep.Interrupted = ctx.Err() != nil

	r.resume.settle(r) // resume: what became of the in-doubt mutations
	rep.Results = r.sortedResults()
	r.mu.Lock()
	rep.Notices = r.notices
	r.mu.Unlock()
	settleKeyNotFound(rep.Results) // leaked.go: one verdict for a key no account holds
	rep.Duration = o.Now().Sub(start)
	rep.Counts = map[executors.Status]int{}
	for _, res := range rep.Results {
		rep.Counts[res.Status]++
	}
	rep.Verdict = ComputeVerdict(rep)
	endResult := map[string]any{
		"counts":      rep.Counts,
		"interrupted": rep.Interrupted,
		"verdict":     rep.Verdict,
		"duration_ms": rep.Duration.Milliseconds(),
	}
	if rep.Aborted != "" {
		endResult["aborted_at"] = rep.Aborted
	}
	if _, err := r.record(audit.Event{Phase: "end", Result: endResult}); err != nil {
		o.Warn("WARNING: audit trail: cannot write the end record: " + err.Error())
	}
	if o.Audit != nil {
		rep.AuditHead = o.Audit.Head()
	}
	return rep, nil
}

func withDefaults(o Options) Options {
	if o.Concurrency <= 0 {
		o.Concurrency = max(1, len(o.Targets))
	}
	if o.DefaultTimeout <= 0 {
		o.DefaultTimeout = 2 * time.Minute
	}
	if o.ManualTimeout <= 0 {
		o.ManualTimeout = 30 * time.Minute
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = 250 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 10 * time.Second
	}
	if o.Hold <= 0 {
		o.Hold = DefaultHold
	}
	if o.HoldInterval <= 0 {
		o.HoldInterval = DefaultHoldInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = executors.SleepContext
	}
	if o.Warn == nil {
		o.Warn = func(string) {}
	}
	if o.Inputs == nil {
		o.Inputs = map[string]string{}
	}
	return o
}

// stepList is the playbook's step order, pinned in the start record so a
// report can lay out the timeline without the playbook file.
func stepList(steps []playbooks.Step) []map[string]string {
	out := make([]map[string]string, len(steps))
	for i, s := range steps {
		out[i] = map[string]string{"id": s.ID, "action": s.Action}
	}
	return out
}

// redactInputs masks input values: they may be key ids or other sensitive text.
func redactInputs(in map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range in {
		if v == "" {
			out[k] = ""
			continue
		}
		out[k] = secret.Mask(v)
	}
	return out
}

// record appends an audit event. It is safe for concurrent use.
func (r *run) record(e audit.Event) (audit.Record, error) {
	if r.o.Audit == nil {
		return audit.Record{}, nil
	}
	rec, err := r.o.Audit.Append(e) // not under a lock: concurrent appends share fsyncs
	if err != nil && r.o.AuditDegraded {
		r.auditWarn.Do(func() {
			r.o.Warn("WARNING: audit trail write failed; continuing because of --audit-degraded: " + err.Error())
		})
	}
	return rec, err
}

func (r *run) progress(e Event) {
	if r.o.Progress == nil {
		return
	}
	r.progMu.Lock()
	defer r.progMu.Unlock()
	r.o.Progress(e)
}

func (r *run) addResult(res StepResult) {
	r.mu.Lock()
	r.results = append(r.results, res)
	if r.statuses[res.Account] == nil {
		r.statuses[res.Account] = map[string]string{}
	}
	r.statuses[res.Account][res.Step] = string(res.Status)
	r.mu.Unlock()
	r.progress(Event{Kind: "result", Step: res.Step, Account: res.Account, Result: &res})
}

func (r *run) stepStatuses(account string) map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]string{}
	for k, v := range r.statuses[account] {
		out[k] = v
	}
	return out
}

func (r *run) sortedResults() []StepResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	order := map[string]int{}
	for i, s := range r.o.Playbook.Steps {
		order[s.ID] = i
	}
	acct := map[string]int{}
	for i, t := range r.o.Targets {
		acct[t.Ref.Name] = i
	}
	out := append([]StepResult(nil), r.results...)
	sort.SliceStable(out, func(i, j int) bool {
		if order[out[i].Step] != order[out[j].Step] {
			return order[out[i].Step] < order[out[j].Step]
		}
		return acct[out[i].Account] < acct[out[j].Account]
	})
	return out
}

// dependencies returns, for each step, the earlier steps it must wait for
// on the same account. Steps are ordered by what they depend on rather than
// run strictly one after another, so that independent work overlaps:
//
//   - a mutating or local step (manual, notify) is a barrier: every later
//     step waits for it, so reads after a mutation see its effect and
//     mutations happen in playbook order;
//   - manual and notify steps also wait for everything before them;
//   - a step whose `when` reads steps.X.status waits for X;
//   - a step with on_error: abort is a barrier too (its failure must stop
//     what follows before it starts).
//
// So read-only steps that precede the first mutation (snapshot-before, key
// inventory) start together with it, and the mutating step lists what it
// will change meanwhile; its mutations themselves are held (auditHooks.gate)
// until the earlier reads of the state they change are done (see
// mutationGates), so snapshot-before observes the state before any
// mutation reaches the exchange. An account's own order cancels wait only
// for the reads of its own state (ownOrderCancels): snapshot-before's reads
// of the sub-accounts, which those cancels do not change, go on meanwhile.
// A mutating step waits for the mutating steps before it only until they
// have sent their mutations (startsOnSent), not for their confirmation.
func dependencies(steps []playbooks.Step) [][]int {
	barrier := func(s playbooks.Step) bool {
		spec, _ := executors.Lookup(s.Action)
		return spec.Mutating || spec.Local || s.OnError == playbooks.OnErrorAbort
	}
	index := map[string]int{}
	deps := make([][]int, len(steps))
	for i, s := range steps {
		spec, _ := executors.Lookup(s.Action)
		for j := 0; j < i; j++ {
			if barrier(steps[j]) || spec.Local {
				deps[i] = append(deps[i], j)
			}
		}
		for _, id := range s.When.Steps() {
			if j, ok := index[id]; ok && !slices.Contains(deps[i], j) {
				deps[i] = append(deps[i], j)
			}
		}
		index[s.ID] = i
	}
	return deps
}

// startsOnSent reports whether step i, which depends on step j, may start
// once j's mutations are sent and answered (executors.MutationsSender)
// rather than when j is done: i mutates too (its mutations still follow
// j's), and does not need j's outcome — i is not local (manual, notify)
// and its when does not read j. (A step after one with on_error: abort or
// barrier waits for it on every account all the same: schedule's global
// wait.) So a freeze whose confirming re-list waits for a scarce rate
// limit does not hold back the account's key revocations meanwhile; reads
// after j still see it confirmed.
func startsOnSent(steps []playbooks.Step, i, j int) bool {
	si, _ := executors.Lookup(steps[i].Action)
	sj, _ := executors.Lookup(steps[j].Action)
	return si.Mutating && !si.Local && sj.Mutating && !sj.Local &&
		!slices.Contains(steps[i].When.Steps(), steps[j].ID)
}

// schedule runs every (step, account). Accounts are independent pipelines
// (at most Concurrency in flight); within an account steps start as soon as
// the steps they depend on are done (or have sent their mutations:
// startsOnSent). It returns the step whose failure
// aborted the run, if any.
func (r *run) schedule(ctx context.Context) string {
	steps := r.o.Playbook.Steps
	deps := dependencies(steps)
	gates := mutationGates(steps)
	var (
		abortMu   sync.Mutex
		abortedAt string
		snapMu    sync.Mutex
		snaps     = map[string][]*executors.Snapshot{}
		started   = make([]sync.Once, len(steps))
	)
	aborted := func() string {
		abortMu.Lock()
		defer abortMu.Unlock()
		return abortedAt
	}
	// A step with on_error: abort is a barrier across accounts: later steps
	// of every account wait until it has finished on all of them.
	global := make([]chan struct{}, len(steps))
	remaining := make([]int, len(steps))
	var globalMu sync.Mutex
	for i := range steps {
		global[i] = make(chan struct{})
		remaining[i] = len(r.o.Targets)
	}
	finished := func(i int) {
		globalMu.Lock()
		defer globalMu.Unlock()
		if remaining[i]--; remaining[i] == 0 {
			close(global[i])
		}
	}
	// Concurrency bounds the accounts running one step at once. A slot is
	// taken per step, not per account pipeline: an account waiting at a
	// barrier for the others, or holding the line on a manual step (which
	// takes no slot: it waits for a human), never keeps the other accounts
	// from starting — with more accounts than slots, a slot per pipeline
	// deadlocked at the first barrier and left the ninth account untouched
	// until the first eight had finished holding the line.
	slots := make([]chan struct{}, len(steps))
	for i := range slots {
		slots[i] = make(chan struct{}, r.o.Concurrency)
	}
	var wg sync.WaitGroup
	for _, t := range r.o.Targets {
		wg.Add(1)
		go func(t Target) {
			defer wg.Done()
			done := make([]chan struct{}, len(steps))
			for i := range done {
				done[i] = make(chan struct{})
			}
			// own[i] is closed once step i has read the account's own
			// state (executors.OwnStateReader), at the latest when it is
			// done: the gate of a step that changes only the account's own
			// state (ownOrderCancels).
			own, closeOwn := onceClosed(len(steps))
			// sent[i] is closed once step i has sent its mutations
			// (executors.MutationsSender), at the latest when it is done:
			// what the later mutating steps wait for (startsOnSent).
			sent, closeSent := onceClosed(len(steps))
			var inner sync.WaitGroup
			for i, step := range steps {
				inner.Add(1)
				go func(i int, step playbooks.Step) {
					defer inner.Done()
					defer finished(i)
					defer close(done[i])
					defer closeOwn(i)
					defer closeSent(i)
					for _, d := range deps[i] {
						if startsOnSent(steps, i, d) {
							<-sent[d]
						} else {
							<-done[d]
						}
					}
					for j := 0; j < i; j++ {
						if steps[j].OnError == playbooks.OnErrorAbort || steps[j].Barrier {
							<-global[j]
						}
					}
					slotted := step.Action != executors.Manual
					if slotted {
						select {
						case slots[i] <- struct{}{}:
						case <-ctx.Done():
							slotted = false
						}
					}
					var res StepResult
					switch a := aborted(); {
					case a != "":
						res = r.skipped(step, t, "skipped: run aborted after step "+a+" failed")
					case ctx.Err() != nil:
						res = r.skipped(step, t, "skipped: run interrupted")
					default:
						started[i].Do(func() { r.progress(Event{Kind: "step-start", Step: step.ID}) })
						gate := earlierDone(done, gates[i])
						if ownOrderCancels(step) {
							gate = earlierDone(own, gates[i])
						}
						res = r.runOne(ctx, step, t, gate, func() { closeOwn(i) }, func() { closeSent(i) })
						if r.o.Review != nil {
							r.o.Review(t.Ref, &res)
						}
					}
					if slotted {
						<-slots[i]
					}
					r.recordResult(res)
					r.addResult(res)
					if res.Status == executors.StatusFailed && step.OnError == playbooks.OnErrorAbort {
						abortMu.Lock()
						if abortedAt == "" {
							abortedAt = step.ID
						}
						abortMu.Unlock()
					}
					if snap, ok := res.Result.Data.(*executors.Snapshot); ok && snap != nil {
						snapMu.Lock()
						snaps[step.ID] = append(snaps[step.ID], snap)
						snapMu.Unlock()
					}
				}(i, step)
			}
			inner.Wait()
		}(t)
	}
	wg.Wait()
	if r.o.RunDir != "" {
		for id, list := range snaps {
			sort.Slice(list, func(i, j int) bool { return list[i].Account < list[j].Account })
			if _, err := WriteFile(filepath.Join(r.o.RunDir, "snapshot-"+id+".json"), list); err != nil {
				r.o.Warn("WARNING: cannot write snapshot file: " + err.Error())
			}
		}
	}
	return aborted()
}

// mutationGates returns, for each step, the earlier read-only steps its
// mutations must wait for: those that read what the step changes (a
// freeze waits for snapshot-before and order lists, a key revocation for
// the key inventory). Reads of unrelated state (trades, keys while
// cancelling orders) keep overlapping.
func mutationGates(steps []playbooks.Step) [][]int {
	gates := make([][]int, len(steps))
	for i, s := range steps {
		m, _ := executors.Lookup(s.Action)
		if !m.Mutating {
			continue
		}
		for j := 0; j < i; j++ {
			if r, _ := executors.Lookup(steps[j].Action); executors.Overlaps(m, r) {
				gates[i] = append(gates[i], j)
			}
		}
	}
	return gates
}

// onceClosed returns n open channels and a function that closes the i-th,
// once however often it is called.
func onceClosed(n int) ([]chan struct{}, func(i int)) {
	chs := make([]chan struct{}, n)
	once := make([]sync.Once, n)
	for i := range chs {
		chs[i] = make(chan struct{})
	}
	return chs, func(i int) { once[i].Do(func() { close(chs[i]) }) }
}

// earlierDone returns a channel closed once done[j] is closed for every j in idx.
func earlierDone(done []chan struct{}, idx []int) <-chan struct{} {
	all := make(chan struct{})
	go func() {
		for _, j := range idx {
			<-done[j]
		}
		close(all)
	}()
	return all
}

// ownOrderCancels reports whether step cancels the account's own orders
// only (orders.cancel_all with no scope, or scope account, not its
// sub-accounts'). Such a step changes only the account's own state: its
// mutations need the earlier reads of that state done, not those of its
// sub-accounts (snapshot-before reads both; the master's cancels go once
// its own balances are in, a round trip before the sub-accounts' assets),
// and a hold re-runs it on its lane. Anything that moves funds between
// accounts, or acts on sub-accounts, waits for the whole reads.
func ownOrderCancels(step playbooks.Step) bool {
	scope := stepScope(step)
	return step.Action == executors.OrdersCancelAll && (scope == "" || scope == executors.ScopeAccount)
}

// stepScope is a step's `scope` parameter, "" when it has none.
func stepScope(s playbooks.Step) string {
	scope, _ := s.With["scope"].(string)
	return scope
}

func (r *run) skipped(step playbooks.Step, t Target, why string) StepResult {
	res := StepResult{Step: step.ID, Account: t.Ref.Name, Exchange: t.Ref.Exchange, Action: step.Action, Scope: stepScope(step),
		Status: executors.StatusSkipped, Summary: why, Started: r.o.Now()}
	res.Result = executors.Result{Status: res.Status, Summary: why}
	return res
}

// recordData lists the actions whose payload goes into the audit trail, so
// that a report (balances before/after, keys, withdrawals, trades) can be
// rebuilt from the trail alone.
var recordData = map[string]bool{
	executors.SnapshotBalances: true,
	executors.KeysInventory:    true,
	executors.WithdrawalsList:  true,
	executors.TradesRecent:     true,
	executors.OrdersList:       true,
	// What the mutating steps listed before acting: a rehearsal
	// (emulator --from-run) rebuilds the orders and withdrawals from it.
	executors.OrdersCancelAll:          true,
	executors.WithdrawalsCancelPending: true,
}

// recordResult writes the info record of one (step, account) result.
func (r *run) recordResult(res StepResult) {
	summary := map[string]any{
		"status":  res.Status,
		"summary": res.Summary,
	}
	if res.Error != "" {
		summary["error"] = res.Error
		summary["error_class"] = res.ErrClass
	}
	if res.Attempts > 1 {
		summary["attempts"] = res.Attempts
	}
	if len(res.Result.Changes) > 0 {
		summary["changes"] = res.Result.Changes
	}
	if len(res.Result.Remaining) > 0 {
		summary["remaining"] = res.Result.Remaining
	}
	if len(res.Result.Manual) > 0 {
		summary["manual"] = res.Result.Manual
	}
	if len(res.Result.Findings) > 0 {
		summary["findings"] = res.Result.Findings
	}
	if len(res.Result.Counts) > 0 {
		summary["counts"] = res.Result.Counts
	}
	if res.Result.Data != nil && recordData[res.Action] {
		summary["data"] = res.Result.Data
	}
	summary["duration_ms"] = res.Duration.Milliseconds()
	_, _ = r.record(audit.Event{Phase: "info", Step: res.Step, Account: res.Account, Action: res.Action, Result: summary})
}

// runOne runs one step on one account. gate is closed once the earlier
// steps of the account that read what this step changes have finished
// (or, for a step that changes only the account's own state, read it):
// mutations wait for it (see auditHooks.Intent), reads do not. ownRead is
// called when this step reports it has read the account's own state, sent
// when it reports its mutations sent.
func (r *run) runOne(ctx context.Context, step playbooks.Step, t Target, gate <-chan struct{}, ownRead, sent func()) StepResult {
	r.progress(Event{Kind: "start", Step: step.ID, Account: t.Ref.Name})
	started := r.o.Now()
	res := StepResult{Step: step.ID, Account: t.Ref.Name, Exchange: t.Ref.Exchange, Action: step.Action, Scope: stepScope(step), Started: started}
	if kept, ok := r.resume.kept(step, res); ok {
		return kept // resume: a completed read-only step keeps its result (resume.go)
	}
	finish := func(result executors.Result, err error) StepResult {
		res.Duration = r.o.Now().Sub(started)
		if err != nil {
			res.Error = err.Error()
			res.ErrClass = executors.ClassOf(err)
			if ctx.Err() != nil && errors.Is(err, context.Canceled) {
				res.ErrClass = "interrupted"
				res.Error = "interrupted while in flight: " + res.Error
			}
			if result.Status == "" || result.Status == executors.StatusOK {
				result.Status = executors.StatusFailed
			}
			if result.Summary == "" {
				result.Summary = res.Error
			}
		}
		res.Result = result
		res.Status = result.Status
		res.Summary = result.Summary
		return res
	}

	if step.When != nil {
		ok, err := step.When.Eval(playbooks.Vars{Inputs: r.o.Inputs, Account: t.Ref, Steps: r.stepStatuses(t.Ref.Name)})
		if err != nil {
			return finish(executors.Result{}, fmt.Errorf("when %q: %w", step.When.String(), err))
		}
		if !ok {
			return finish(executors.Result{Status: executors.StatusSkipped, Summary: "skipped: when " + step.When.String() + " is false"}, nil)
		}
	}
	params, err := playbooks.RenderParams(executors.WithDefaults(step.Action, step.With),
		playbooks.TemplateData{Inputs: r.o.Inputs, Account: t.Ref, Step: step.ID})
	if err != nil {
		return finish(executors.Result{}, fmt.Errorf("rendering parameters: %w", err))
	}

	timeout := step.Timeout
	switch {
	case timeout > 0:
	case step.Action == executors.Manual:
		timeout = r.o.ManualTimeout
		if holds(step) && !r.o.NoHold && r.o.Hold+time.Minute > timeout {
			timeout = r.o.Hold + time.Minute // the hold, then the final verification
		}
	default:
		timeout = r.o.DefaultTimeout
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	switch step.Action {
	case executors.Manual:
		return finish(r.manual(sctx, step, t, params))
	case executors.NotifyWebhook:
		return finish(r.notify(sctx, step, t, params))
	}

	exec := t.Exec
	if r.o.DryRun {
		exec = executors.DryRun(exec)
	}
	hooks := &auditHooks{r: r, step: step.ID, account: t.Ref.Name, action: step.Action, gate: gate, ownRead: ownRead, sent: sent}
	req := executors.Request{Action: step.Action, Step: step.ID, Params: params, Hooks: hooks}
	var (
		result  executors.Result
		earlier []executors.Result // results of the failed attempts before the last
		doneAt  int                // mutations done before the last attempt
	)
	for attempt := 0; ; attempt++ {
		res.Attempts = attempt + 1
		doneAt = len(hooks.succeeded())
		result, err = exec.Do(sctx, req)
		if err == nil || attempt >= step.Retries || !executors.Retryable(err) || sctx.Err() != nil {
			break
		}
		earlier = append(earlier, result)
		wait := r.backoff(attempt)
		if ra, ok := executors.RetryAfter(err); ok && ra > wait {
			wait = ra
		}
		r.notice(step.ID, t.Ref.Name, step.Action,
			fmt.Sprintf("attempt %d of %d failed (%s): trying again in %s", attempt+1, step.Retries+1, firstLine(err.Error()), wait.Round(100*time.Millisecond)),
			map[string]any{"retry": attempt + 1, "after_ms": wait.Milliseconds(), "error": err.Error(), "error_class": executors.ClassOf(err)})
		if serr := r.o.Sleep(sctx, wait); serr != nil {
			earlier = earlier[:len(earlier)-1] // result stays the last attempt's
			break
		}
	}
	if err != nil && errors.Is(sctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("step timed out after %s: %w", timeout, err)
	}
	if len(earlier) > 0 {
		result = mergeAttempts(earlier, hooks.succeeded()[:doneAt], result)
	}
	return finish(result, err)
}

// mergeAttempts keeps what failed attempts changed in the result of the
// last one. A retried step's last attempt only sees what is left (a
// cancel-all that re-lists finds "nothing to do" when the first attempt
// cancelled everything before failing), so without this the report would
// hide mutations that the trail shows were carried out. done are the
// mutations that succeeded before the last attempt.
func mergeAttempts(earlier []executors.Result, done []executors.Mutation, last executors.Result) executors.Result {
	seen := map[executors.Change]bool{}
	for _, c := range last.Changes {
		seen[c] = true
	}
	var prior []executors.Change
	for _, r := range earlier {
		for _, c := range r.Changes {
			if !seen[c] {
				seen[c] = true
				prior = append(prior, c)
			}
		}
	}
	if len(prior) == 0 {
		// The failed attempts reported nothing: name their mutations.
		for _, m := range done {
			c := executors.Change{Kind: m.Kind, Target: m.Target, Irreversible: m.Irreversible}
			if !seen[c] {
				seen[c] = true
				prior = append(prior, c)
			}
		}
	}
	if len(prior) == 0 && len(done) == 0 {
		return last
	}
	last.Changes = append(prior, last.Changes...)
	if last.Status == executors.StatusOK {
		last.Status = executors.StatusChanged
	}
	last.Summary = fmt.Sprintf("%s (after %d attempts; the earlier ones carried out %d mutation(s))", last.Summary, len(earlier)+1, len(done))
	return last
}

// backoff is exponential with full jitter: uniform in [0, min(max, base·2^n)].
func (r *run) backoff(attempt int) time.Duration {
	d := r.o.BackoffBase << attempt
	if d <= 0 || d > r.o.BackoffMax {
		d = r.o.BackoffMax
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

// manual handles a manual step: the operator does it (TTY) or it stays pending.
func (r *run) manual(ctx context.Context, step playbooks.Step, t Target, p executors.Params) (executors.Result, error) {
	instr := p.String("instructions")
	ms := executors.ManualStep{Title: step.ID, Instructions: instr}
	if v := p.String("verify"); v != "" && v != "none" {
		ms.Verify = v
	}
	pending := executors.Result{Status: executors.StatusPending, Summary: "manual step pending: " + firstLine(instr), Manual: []executors.ManualStep{ms}}
	if r.o.DryRun {
		if ms.Verify == "key_rejected" && p.Bool("hold") && !r.o.NoHold {
			pending.Summary += fmt.Sprintf(" — would hold the line meanwhile (at most %s): re-run %s until the key is rejected",
				r.o.Hold, stepIDs(r.holdSteps(step, t.Ref.Name)))
		}
		return pending, nil
	}
	var hs *HoldSummary
	var done bool
	var err error
	switch {
	case ms.Verify == "key_rejected" && p.Bool("hold") && !r.o.NoHold:
		var answer *operatorAnswer
		hs, answer = r.hold(ctx, step, t, p)
		pending = holdResult(pending, hs)
		if hs.EndedBy == HoldKeyRejected {
			res := holdResult(executors.Result{Status: executors.StatusOK, Summary: "done and verified: " + hs.Probe}, hs)
			if len(hs.Caught) > 0 {
				res.Status = executors.StatusChanged
			}
			return res, nil
		}
		if answer == nil {
			return pending, nil
		}
		done, err = answer.done, answer.err
	case r.o.Manual == nil:
		return pending, nil
	default:
		done, err = r.o.Manual.Wait(ctx, step.ID, t.Ref.Name, instr)
	}
	if err != nil {
		return pending, err
	}
	if !done {
		return pending, nil
	}
	_, _ = r.record(audit.Event{Phase: "info", Step: step.ID, Account: t.Ref.Name, Action: step.Action,
		Result: map[string]any{"operator": "confirmed done"}})
	if ms.Verify != "key_rejected" {
		return executors.Result{Status: executors.StatusOK, Summary: "done (confirmed by the operator)"}, nil
	}
	vp := executors.WithDefaults(executors.KeysVerifyRejected, executors.Params{})
	if k := p.String("api_key"); k != "" {
		vp["api_key"] = k
	}
	vres, err := t.Exec.Do(ctx, executors.Request{Action: executors.KeysVerifyRejected, Step: step.ID, Params: vp, Hooks: executors.NopHooks{}})
	if err != nil {
		pending.Summary = "operator confirmed, but verification failed: " + err.Error()
		return pending, nil
	}
	if vres.Status != executors.StatusOK && vres.Status != executors.StatusChanged {
		pending.Summary = "operator confirmed, but the key is still accepted: " + vres.Summary
		return pending, nil
	}
	if hs != nil {
		hs.KeyRejectedAt = r.o.Now()
		return holdResult(executors.Result{Status: executors.StatusOK, Summary: "done and verified: " + vres.Summary}, hs), nil
	}
	return executors.Result{Status: executors.StatusOK, Summary: "done and verified: " + vres.Summary, Data: vres.Data}, nil
}

// notify posts a notify.webhook step. A notification never blocks or
// fails containment: whatever happens (HTTP error, timeout, refused
// connection, a poster that ignores its context) the step ends within its
// timeout (at most notifyCallTimeout) with status ok, and the summary says
// whether it was delivered. The URL's path and query (which usually hold a
// token) are never put in a summary.
func (r *run) notify(ctx context.Context, step playbooks.Step, t Target, p executors.Params) (executors.Result, error) {
	const notifyCallTimeout = 10 * time.Second
	rawURL := p.String("url")
	dest := redactURL(rawURL)
	if r.o.Notify == nil {
		return executors.Result{Status: executors.StatusSkipped, Summary: "notifications disabled"}, nil
	}
	// The account's results so far, in playbook order.
	order := map[string]int{}
	for i, s := range r.o.Playbook.Steps {
		order[s.ID] = i
	}
	r.mu.Lock()
	var done []StepResult
	for _, res := range r.results {
		if res.Account == t.Ref.Name {
			done = append(done, res)
		}
	}
	r.mu.Unlock()
	sort.SliceStable(done, func(i, j int) bool { return order[done[i].Step] < order[done[j].Step] })
	findings, post, why := notifyFindings(done, p.String("only_on"))
	if !post {
		return executors.Result{Status: executors.StatusSkipped, Summary: "not notified: " + why}, nil
	}
	if r.o.DryRun {
		return executors.Result{Status: executors.StatusOK, Summary: "dry-run: would notify " + dest}, nil
	}
	statuses := map[string]string{}
	n := map[executors.Status]int{}
	for _, res := range done {
		statuses[res.Step] = string(res.Status)
		n[res.Status]++
	}
	verdict := "OK so far"
	switch {
	case n[executors.StatusFailed] > 0:
		verdict = fmt.Sprintf("SOME STEPS FAILED (%d)", n[executors.StatusFailed])
	case n[executors.StatusPending] > 0:
		verdict = fmt.Sprintf("MANUAL STEPS PENDING (%d)", n[executors.StatusPending])
	case n[executors.StatusChanged] > 0:
		verdict = "CONTAINED so far"
	}
	lines := []string{fmt.Sprintf("panicbutton %s on %s (%s): %s — run %s", r.o.Playbook.Name, t.Ref.Name, t.Ref.Exchange, verdict, r.o.RunID)}
	if text := strings.TrimSpace(p.String("text")); text != "" {
		lines = append(lines, text)
	}
	for _, res := range done {
		lines = append(lines, fmt.Sprintf("• %s: %s — %s", res.Step, res.Status, firstLine(res.Summary)))
	}
	lines = append(lines, findingLines(findings, maxNotifyFindings)...)
	msg := map[string]any{"text": strings.Join(lines, "\n"), "verdict": verdict,
		"run_id": r.o.RunID, "playbook": r.o.Playbook.Name, "account": t.Ref.Name, "exchange": t.Ref.Exchange,
		"step": step.ID, "statuses": statuses}
	if len(findings) > 0 {
		msg["findings"] = findings
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return executors.Result{Status: executors.StatusOK, Summary: "notification not sent (ignored): encoding the message: " + err.Error()}, nil
	}

	cctx, cancel := context.WithTimeout(ctx, notifyCallTimeout)
	defer cancel()
	errc := make(chan error, 1) // buffered: a poster that ignores cctx cannot block us
	go func() { errc <- r.o.Notify(cctx, rawURL, p.Map("headers"), body) }()
	select {
	case err = <-errc:
	case <-cctx.Done():
		err = fmt.Errorf("no answer in time: %w", cctx.Err())
	}
	if err != nil {
		msg := scrubURL(err.Error(), rawURL)
		// Notifications never block containment: report, don't fail the run.
		return executors.Result{Status: executors.StatusOK, Summary: "notification to " + dest + " failed (ignored): " + msg,
			Findings: []executors.Finding{{Severity: "low", Subject: "webhook " + dest, Message: "notification failed: " + msg,
				Fix: "check the webhook URL and that the service is reachable; containment was not affected"}}}, nil
	}
	return executors.Result{Status: executors.StatusOK, Summary: "notified " + dest}, nil
}

// redactURL keeps scheme and host: webhook paths and queries often embed
// tokens, and user info is a credential.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(webhook URL hidden)"
	}
	out := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		out += "/…"
	}
	return out
}

// scrubURL removes every form of raw (as given, as normalised by net/url,
// its path and its query) from msg.
func scrubURL(msg, raw string) string {
	if raw == "" {
		return msg
	}
	dest := redactURL(raw)
	olds := []string{raw}
	if u, err := url.Parse(raw); err == nil {
		olds = append(olds, u.String(), u.Redacted())
		if len(u.EscapedPath()) > 1 {
			olds = append(olds, u.EscapedPath(), u.Path)
		}
		if u.RawQuery != "" {
			olds = append(olds, u.RawQuery)
		}
	}
	sort.Slice(olds, func(i, j int) bool { return len(olds[i]) > len(olds[j]) })
	for _, o := range olds {
		if o != "" {
			msg = strings.ReplaceAll(msg, o, dest)
		}
	}
	return msg
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// auditHooks records every mutation around the executor's send.
type auditHooks struct {
	r                     *run
	step, account, action string
	// gate holds every mutation until the earlier steps of the account are
	// done, so that e.g. snapshot-before really is taken before anything
	// changes, while the mutating step's own reads (listing what to cancel)
	// overlap with them.
	gate <-chan struct{}
	// ownRead, if set, is called when the step reports it has read the
	// account's own state (OwnStateRead).
	ownRead func()
	// sent, if set, is called when the step reports its mutations sent
	// (MutationsSent).
	sent func()

	mu   sync.Mutex
	done []executors.Mutation // mutations whose send succeeded, in order
}

// Notice implements executors.Noticer: the operator hears text now, as a
// "notice" event, and the trail keeps it (an info record {"notice": text},
// which resume and the report pass over), so that a review of the
// incident sees why a step waited.
func (h *auditHooks) Notice(text string) {
	h.r.notice(h.step, h.account, h.action, text, nil)
}

// notice tells the operator text now (a "notice" event), lists it in the
// run's Report, and keeps it in the trail: an info record whose result is
// fields with "notice" set to text, which resume passes over (it has no
// status). It is the run's one source of notices.
func (r *run) notice(step, account, action, text string, fields map[string]any) {
	if fields == nil {
		fields = map[string]any{}
	}
	fields["notice"] = text
	_, _ = r.record(audit.Event{Phase: "info", Step: step, Account: account, Action: action, Result: fields})
	r.mu.Lock()
	r.notices = append(r.notices, Notice{Step: step, Account: account, Text: text, At: r.o.Now().Sub(r.start)})
	r.mu.Unlock()
	r.progress(Event{Kind: "notice", Step: step, Account: account, Text: text})
}

// OwnStateRead implements executors.OwnStateReader.
func (h *auditHooks) OwnStateRead() {
	if h.ownRead != nil {
		h.ownRead()
	}
}

// MutationsSent implements executors.MutationsSender.
func (h *auditHooks) MutationsSent() {
	if h.sent != nil {
		h.sent()
	}
}

// succeeded returns the mutations sent successfully so far.
func (h *auditHooks) succeeded() []executors.Mutation {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]executors.Mutation(nil), h.done...)
}

func (h *auditHooks) summary(m executors.Mutation) map[string]string {
	s := map[string]string{"mutation_id": m.ID, "kind": m.Kind, "target": m.Target}
	if m.Irreversible {
		s["irreversible"] = "true"
	}
	for k, v := range m.Request {
		s["req."+k] = v
	}
	return s
}

func (h *auditHooks) Intent(ctx context.Context, m executors.Mutation) error {
	if h.r.resume != nil {
		// Resume: ErrAlreadyDone for a mutation done before the crash (resume.go).
		if err := h.r.resume.intent(h.r, h.step, h.account, h.action, m); err != nil {
			return err
		}
	}
	if h.r.o.Approve != nil {
		if err := h.r.o.Approve(h.step, h.account, h.action, m); err != nil {
			_, _ = h.r.record(audit.Event{Phase: "info", Step: h.step, Account: h.account, Action: h.action, Request: h.summary(m),
				Result: map[string]any{"not_approved": true, "sent": false, "reason": err.Error()}})
			return err
		}
	}
	if h.gate != nil {
		select {
		case <-h.gate:
		case <-ctx.Done():
			return &executors.Error{Class: executors.ErrTransient, Op: m.Target, Msg: "not sent: interrupted while waiting for earlier steps", Err: ctx.Err()}
		}
	}
	_, err := h.r.record(audit.Event{Phase: "intent", Step: h.step, Account: h.account, Action: h.action, Request: h.summary(m)})
	if err != nil && !h.r.o.AuditDegraded {
		return &executors.Error{Class: executors.ErrAudit, Op: m.Target, Msg: "intent not recorded, mutation not sent", Err: err}
	}
	return nil
}

func (h *auditHooks) Outcome(ctx context.Context, m executors.Mutation, err error) {
	res := map[string]any{"ok": err == nil}
	if err == nil {
		h.mu.Lock()
		h.done = append(h.done, m)
		h.mu.Unlock()
	}
	if err != nil {
		res["error"] = err.Error()
		res["error_class"] = executors.ClassOf(err)
	}
	_, _ = h.r.record(audit.Event{Phase: "outcome", Step: h.step, Account: h.account, Action: h.action, Request: h.summary(m), Result: res})
}

// WriteFile writes v as indented JSON to a run-directory file (mode 0600)
// and returns the SHA-256 of the bytes written (e.g. the plan's hash that
// the trail pins).
func WriteFile(path string, v any) (string, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", err
	}
	b = append(b, '\n')
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
