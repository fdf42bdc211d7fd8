package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/audit"
	"github.com/panicbutton/panicbutton/playbooks"
)

// Holding the line (issue 10 item 3). While the manual step that deletes
// the account's own key is pending, the key still works: whoever holds the
// leaked key can place orders, file withdrawals and (KuCoin General
// permission, Binance master) create sub-account keys. A manual step with
// `verify: key_rejected` and `hold: true` therefore keeps the account
// contained while it waits: in passes, it re-runs the playbook's own
// containment steps for the account (holdActions, with their parameters)
// and probes the key; the first probe that proves the key rejected ends
// the hold. So does the operator answering the prompt, the hold deadline
// (Options.Hold) and Ctrl-C. Pacing is the executors' (they pace per venue
// pool), so the loop adds no limiter of its own, only HoldInterval between
// passes.

// DefaultHold bounds a hold when Options.Hold is zero.
const DefaultHold = 30 * time.Minute

// DefaultHoldInterval is the pause between two hold passes.
const DefaultHoldInterval = 2 * time.Second

// holdActions are the mutating actions a hold re-runs: each converges
// (re-lists and acts only on what is there), so running it again only
// catches what appeared since.
var holdActions = map[string]bool{
	executors.OrdersCancelAll:          true,
	executors.WithdrawalsCancelPending: true,
	executors.KeysRevoke:               true,
	executors.OrdersDeadman:            true,
}

// Ways a hold ends (HoldSummary.EndedBy).
// holdProbeEvery is how often the key is probed between hold passes.
const holdProbeEvery = 500 * time.Millisecond

// holdFinalProbe bounds the probe made when the hold's time is up.
const holdFinalProbe = 5 * time.Second

const (
	HoldKeyRejected = "key-rejected"
	HoldOperator    = "operator"
	HoldDeadline    = "deadline"
	HoldInterrupted = "interrupted"
)

// HoldSummary is the Data of a held manual step's result.
type HoldSummary struct {
	Passes   int           `json:"passes"`
	EndedBy  string        `json:"ended_by"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	// Caught is every change the hold made: orders, withdrawals and keys
	// that appeared after the playbook's own steps ran.
	Caught []executors.Change `json:"caught,omitempty"`
	// LastPass maps a re-run step to its result in the last pass that
	// completed it without error: it supersedes that step's own result in
	// the verdict (the state is newer).
	LastPass map[string]executors.Result `json:"last_pass,omitempty"`
	// LastPassAt is when the last pass finished; KeyRejectedAt when the
	// probe proved the key dead (zero if it did not).
	LastPassStart time.Time `json:"last_pass_start,omitzero"`
	LastPassAt    time.Time `json:"last_pass_at,omitzero"`
	// HolderCaught counts what the passes and the lane caught of the key
	// holder's doing (orders, withdrawals, keys; not our temporary keys);
	// HolderLeft what they saw of it and could not undo (the "needs a
	// human now" items: in a storm, orders listed as the key died, their
	// cancels too late); HolderSeenAt is when the last round that saw any
	// of it ended.
	HolderCaught int       `json:"holder_caught"`
	HolderLeft   int       `json:"holder_left,omitempty"`
	HolderSeenAt time.Time `json:"holder_seen_at,omitzero"`
	// LaneRounds counts the rounds of the lane that re-ran the account's
	// own order cancels beside the passes; LaneLastStart is when the last
	// one started.
	LaneRounds    int       `json:"lane_rounds,omitempty"`
	LaneLastStart time.Time `json:"lane_last_start,omitzero"`
	// Unseen is set when the key died after its holder was seen acting
	// during the hold: an attacker still at work. What they placed between
	// the last pass's start and the key's death is out of the API's sight
	// (the key that could list it is dead), however quiet the last pass
	// was: attackers' orders come in bursts, and a pass is only a glimpse.
	Unseen        *UnseenWindow `json:"unseen,omitempty"`
	KeyRejectedAt time.Time     `json:"key_rejected_at,omitzero"`
	Probe         string        `json:"probe,omitempty"` // last probe's summary
	// New lists what appeared during the hold that the API cannot undo
	// (reported live at once).
	New    []string `json:"new,omitempty"`
	Errors []string `json:"errors,omitempty"`
}

// UnseenWindow is a time in which the holder of a key that is now dead
// may have placed orders no one can list through the API any more.
type UnseenWindow struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// RunOrders is set when the key died before the hold looked at
	// anything (no pass, no lane round) and the playbook's own cancels had
	// caught RunOrders orders placed during the run, the last placed at
	// RunSeenAt: its holder was at work, and From is the last of those
	// cancels' looks.
	RunOrders int       `json:"run_orders,omitempty"`
	RunSeenAt time.Time `json:"run_seen_at,omitzero"`
	// KeyAlive: the hold ended (deadline, operator, Ctrl-C) without the
	// key proven dead; To is when it stopped watching.
	KeyAlive bool `json:"key_alive,omitempty"`
}

// leftText is what a hold saw of its holder's doing and could not undo,
// as it follows the count of what it caught ("" when nothing).
func (hs *HoldSummary) leftText() string {
	if hs.HolderLeft == 0 {
		return ""
	}
	return fmt.Sprintf(", %d more seen that it could not undo", hs.HolderLeft)
}

// holderActions counts the changes that undo something the key's holder
// did: every caught change except our own temporary keys' clean-up.
func holderActions(cs []executors.Change) int {
	n := 0
	for _, c := range cs {
		if !strings.HasSuffix(c.Kind, "-temp-key") {
			n++
		}
	}
	return n
}

// holdSteps returns the playbook's steps a hold re-runs for an account:
// the hold-able mutating steps before the manual step that did not end
// skipped for this account (their `when` was false).
func (r *run) holdSteps(manual playbooks.Step, account string) []playbooks.Step {
	st := r.stepStatuses(account)
	var out []playbooks.Step
	for _, s := range r.o.Playbook.Steps {
		if s.ID == manual.ID {
			break
		}
		if holdActions[s.Action] && st[s.ID] != string(executors.StatusSkipped) {
			out = append(out, s)
		}
	}
	return out
}

type operatorAnswer struct {
	done bool
	err  error
}

// hold keeps the account contained until the key is proven dead, the
// operator answers, the deadline passes or ctx ends. It returns the
// summary and, when the operator answered, the answer.
func (r *run) hold(ctx context.Context, step playbooks.Step, t Target, p executors.Params) (*HoldSummary, *operatorAnswer) {
	hs := &HoldSummary{Started: r.o.Now(), LastPass: map[string]executors.Result{}}
	hctx, cancel := context.WithTimeout(ctx, r.o.Hold)
	defer cancel()
	steps := r.holdSteps(step, t.Ref.Name)
	seen := r.alreadyReported(t.Ref.Name, steps)
	r.holdEvent(step, t, fmt.Sprintf("holding the line until the key is rejected (at most %s): the key is still alive, so whoever holds it can still place orders, withdraw and create sub-account keys; every %s panicbutton re-runs %s to undo that", r.o.Hold, r.o.HoldInterval, stepIDs(steps)))
	_, _ = r.record(audit.Event{Phase: "info", Step: step.ID, Account: t.Ref.Name, Action: step.Action,
		Result: map[string]any{"hold": "start", "max_ms": r.o.Hold.Milliseconds(), "steps": stepIDs(steps)}})

	var opc chan operatorAnswer
	if r.o.Manual != nil {
		opc = make(chan operatorAnswer, 1)
		wctx, wcancel := context.WithCancel(ctx)
		defer wcancel() // the hold ended by itself: stop the prompt
		go func() {
			done, err := r.o.Manual.Wait(wctx, step.ID, t.Ref.Name, p.String("instructions")+
				"\n\n(panicbutton is holding the line meanwhile: it cancels new orders and withdrawals and deletes new sub-account keys until the key is rejected)")
			if wctx.Err() != nil && ctx.Err() == nil {
				return // the hold ended by itself; not an answer
			}
			opc <- operatorAnswer{done, err}
		}()
	}
	probe := executors.WithDefaults(executors.KeysVerifyRejected, executors.Params{})
	probe["interval"], probe["deadline"] = time.Millisecond, time.Millisecond // one probe
	if k := p.String("api_key"); k != "" {
		probe["api_key"] = k
	}
	var answer *operatorAnswer
	end := func(by string) {
		hs.EndedBy = by
	}
	h := &holding{r: r, manual: step, t: t, hs: hs, seen: seen, probe: probe}
	// The account's own orders get a lane of their own: a pass waiting for
	// a drained budget (KuCoin's Management pool, which key and withdrawal
	// listings share with the attacker) no longer holds up the cancels of
	// what the holder keeps placing.
	// The lane probes the key before each round too, and a key it finds
	// dead ends the pass in flight (pctx), however stuck it is.
	lane, steps := ownOrderSteps(steps)
	lctx, lcancel := context.WithCancel(hctx)
	pctx, pcancel := context.WithCancel(hctx)
	defer pcancel()
	var lwg sync.WaitGroup
	if len(lane) > 0 {
		lwg.Add(1)
		go func() {
			defer lwg.Done()
			if h.lane(lctx, lane) { // the key is dead
				pcancel()
			}
		}()
	}
	stopLane := func() { lcancel(); lwg.Wait() }
loop:
	for {
		// Probe first: once the key is dead the attacker can do nothing
		// more with it, and neither can we (it is the key we act with).
		if h.rejected(hctx) {
			end(HoldKeyRejected)
			break
		}
		if hctx.Err() != nil {
			break
		}
		h.mu.Lock()
		hs.Passes++
		pass := hs.Passes
		hs.LastPassStart = r.o.Now()
		h.mu.Unlock()
		// The passes spend the venues' limits steadily over each window
		// (their reads; a mutation goes at once), so that a drained
		// window never leaves a new attacker key or withdrawal waiting
		// for the next one.
		held, dead := h.round(executors.WithSteadyBudget(pctx), steps, fmt.Sprintf("pass %d", pass), map[string]any{"hold": "pass", "pass": pass}, true)
		h.mu.Lock()
		hs.LastPassAt = r.o.Now()
		h.mu.Unlock()
		if dead { // the pass (or the lane) found the key dead
			end(HoldKeyRejected)
			break
		}
		if held > 0 {
			// The holder is active: the next pass starts at once (after
			// the probe above), so that what they place before the key
			// dies stays as short a time out of sight as a pass takes.
			continue
		}
		// Between passes the key is probed every holdProbeEvery (a probe
		// is one light read): the hold ends soon after the human deletes
		// the key, and the time it died is known that closely.
		next := time.Now().Add(r.o.HoldInterval) // real time, as the timers
		for {
			wait := min(holdProbeEvery, time.Until(next))
			if wait <= 0 {
				break
			}
			timer := time.NewTimer(wait)
			select {
			case <-hctx.Done():
				timer.Stop()
				break loop
			case a := <-opc:
				timer.Stop()
				answer = &a
				end(HoldOperator)
				break loop
			case <-timer.C:
			}
			if time.Until(next) > 0 && h.rejected(hctx) {
				end(HoldKeyRejected)
				break loop
			}
		}
	}
	stopLane()
	if hs.EndedBy == "" && ctx.Err() == nil && hs.KeyRejectedAt.IsZero() {
		// The deadline may fall in a pass that started before the human
		// deleted the key: one last probe, so the run never says "still
		// alive" of a key that is dead (nor the reverse).
		pctx, pcancel := context.WithTimeout(ctx, holdFinalProbe)
		if h.rejected(pctx) {
			end(HoldKeyRejected)
		}
		pcancel()
	}
	if hs.EndedBy == "" {
		switch {
		case !hs.KeyRejectedAt.IsZero():
			end(HoldKeyRejected)
		case ctx.Err() != nil:
			end(HoldInterrupted)
		default:
			end(HoldDeadline)
		}
	}
	if answer == nil && opc != nil && hs.EndedBy == HoldDeadline {
		// --hold bounds the holding, not the operator: the prompt stays
		// until answered (or the step's own timeout, or Ctrl-C).
		r.holdEvent(step, t, "hold time is up: the key is still alive and no longer watched; answer the prompt when it is deleted")
		select {
		case a := <-opc:
			answer = &a
		case <-ctx.Done():
		}
	}
	if hs.HolderCaught > 0 || hs.HolderLeft > 0 {
		// From the older of the last looks: the pass's (sub-accounts,
		// keys, withdrawals) and the lane's (the account's own orders).
		from := hs.LastPassStart
		if !hs.LaneLastStart.IsZero() && (from.IsZero() || hs.LaneLastStart.Before(from)) {
			from = hs.LaneLastStart
		}
		if hs.EndedBy == HoldKeyRejected {
			hs.Unseen = &UnseenWindow{From: from, To: hs.KeyRejectedAt}
		} else {
			hs.Unseen = &UnseenWindow{From: from, To: r.o.Now(), KeyAlive: true}
		}
	} else if hs.EndedBy == HoldKeyRejected && hs.LastPassStart.IsZero() && hs.LaneLastStart.IsZero() {
		// The key died before the hold looked at anything (a human quick
		// in the web UI): the playbook's own cancels looked last. Orders
		// they cancelled that were placed during the run show its holder
		// at work then, and what it placed after their last look is out
		// of sight as well.
		if look, n, seen := r.runOrdersCancelled(t.Ref.Name); n > 0 {
			hs.Unseen = &UnseenWindow{From: look, To: hs.KeyRejectedAt, RunOrders: n, RunSeenAt: seen}
		}
	}
	hs.Duration = r.o.Now().Sub(hs.Started)
	_, _ = r.record(audit.Event{Phase: "info", Step: step.ID, Account: t.Ref.Name, Action: step.Action,
		Result: map[string]any{"hold": "end", "ended_by": hs.EndedBy, "passes": hs.Passes, "caught": len(hs.Caught), "probe": hs.Probe}})
	r.holdEvent(step, t, "hold ended ("+hs.EndedBy+") after "+passes(hs.Passes)+", caught "+fmt.Sprint(len(hs.Caught)))
	return hs, answer
}

// runOrdersCancelled looks at the account's own orders.cancel_all results
// (not scope sub_accounts): when the last of them started (its look), and
// how many of the orders they cancelled were placed after the run started,
// the last at seen. Venues date orders on their clock, which the
// executors keep within a second or so of ours.
func (r *run) runOrdersCancelled(account string) (look time.Time, n int, seen time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, res := range r.results {
		if res.Account != account || res.Action != executors.OrdersCancelAll || res.Scope == executors.ScopeSubAccounts {
			continue
		}
		if res.Started.After(look) {
			look = res.Started
		}
		for _, c := range res.Result.Changes {
			if c.Kind == "cancel-order" && c.Created.After(r.start) {
				n++
				if c.Created.After(seen) {
					seen = c.Created
				}
			}
		}
	}
	return look, n, seen
}

// ownOrderSteps splits the hold steps into the cancels of the account's
// own orders (ownOrderCancels), which the lane re-runs,
// and the rest, which the passes re-run. With nothing else to re-run, the
// passes keep them (no lane).
func ownOrderSteps(steps []playbooks.Step) (lane, rest []playbooks.Step) {
	for _, s := range steps {
		if ownOrderCancels(s) {
			lane = append(lane, s)
		} else {
			rest = append(rest, s)
		}
	}
	if len(rest) == 0 {
		return nil, lane
	}
	return lane, rest
}

// laneBusyGap is the pause between two lane rounds while they catch
// something: short, but a gap, so that a holder who keeps trading does not
// turn the lane into a loop that takes the whole budget of the IP.
const laneBusyGap = 250 * time.Millisecond

// holding is what a hold's passes and its lane share: the summary and
// the items already reported, guarded by mu (the lane runs beside the
// passes), and the probe of the key.
type holding struct {
	r      *run
	manual playbooks.Step
	t      Target
	probe  executors.Params
	mu     sync.Mutex
	hs     *HoldSummary
	seen   map[string]bool
}

// rejected probes the key once: true when the venue proves it dead (the
// first such probe dates the death).
func (h *holding) rejected(ctx context.Context) bool {
	vres, verr := h.t.Exec.Do(ctx, executors.Request{Action: executors.KeysVerifyRejected, Step: h.manual.ID, Params: h.probe, Hooks: executors.NopHooks{}})
	h.mu.Lock()
	defer h.mu.Unlock()
	if vres.Summary != "" && h.hs.KeyRejectedAt.IsZero() {
		// Once a probe proved the key dead, its proof stands: a later
		// probe (the lane's, the last one) that a 5xx left inconclusive
		// must not turn "dead: proof" into "not proven dead".
		h.hs.Probe = vres.Summary
	}
	if verr == nil && vres.Status == executors.StatusOK {
		if h.hs.KeyRejectedAt.IsZero() {
			h.hs.KeyRejectedAt = h.r.o.Now()
		}
		return true
	}
	return false
}

// round re-runs steps once (a pass, or a lane round: label names it in
// the live output) and books it: the summary, what it caught and what
// needs a human said live (the API cannot undo it, e.g. a withdrawal the
// venue will not cancel: a human must act now), and an audit record
// (rec, with what the round did; a quiet lane round is not recorded
// unless always). It returns how many of the holder's actions it caught
// and whether the key is known dead.
func (h *holding) round(ctx context.Context, steps []playbooks.Step, label string, rec map[string]any, always bool) (int, bool) {
	caught, news, left, errs := h.pass(ctx, steps)
	n := holderActions(caught)
	h.mu.Lock()
	if n > 0 || left > 0 {
		h.hs.HolderCaught += n
		h.hs.HolderLeft += left
		h.hs.HolderSeenAt = h.r.o.Now()
	}
	h.hs.Caught = append(h.hs.Caught, caught...)
	h.hs.New = append(h.hs.New, news...)
	dead := !h.hs.KeyRejectedAt.IsZero()
	h.mu.Unlock()
	if len(caught) > 0 {
		h.r.holdEvent(h.manual, h.t, fmt.Sprintf("%s caught %d: %s", label, len(caught), changesText(caught, 6)))
	}
	for _, item := range news {
		h.r.holdEvent(h.manual, h.t, "NEW, NEEDS A HUMAN NOW: "+item)
	}
	if len(errs) > 0 {
		h.r.holdEvent(h.manual, h.t, fmt.Sprintf("%s errors: %s", label, strings.Join(errs, "; ")))
	}
	if always || len(caught) > 0 || len(errs) > 0 {
		rec["caught"], rec["new"], rec["errors"] = len(caught), news, errs
		_, _ = h.r.record(audit.Event{Phase: "info", Step: h.manual.ID, Account: h.t.Ref.Name, Action: h.manual.Action, Result: rec})
	}
	return n, dead
}

// lane re-runs the account's own order cancels until ctx ends or the key
// is found dead (it then returns true): every HoldInterval, or
// laneBusyGap while it catches. It probes the key before each round.
func (h *holding) lane(ctx context.Context, steps []playbooks.Step) bool {
	for ctx.Err() == nil {
		if h.rejected(ctx) {
			return true
		}
		h.mu.Lock()
		h.hs.LaneRounds++
		round := h.hs.LaneRounds
		h.hs.LaneLastStart = h.r.o.Now()
		h.mu.Unlock()
		held, dead := h.round(ctx, steps, stepIDs(steps), map[string]any{"hold": "lane", "round": round}, false)
		if dead {
			return true
		}
		wait := h.r.o.HoldInterval
		if held > 0 {
			wait = min(wait, laneBusyGap)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return false
		case <-timer.C:
		}
	}
	return false
}

// pass re-runs the hold steps once. Every mutation goes through the
// audit hooks like the step's own.
// A step refused for authentication may mean the key just died (the human
// deleted it): rejected probes it, and a dead key ends the pass at once
// (nothing more can be done with it) instead of spending the hold on the
// remaining steps. What the refused step left unconfirmed (e.g. cancels
// whose re-list failed) is kept as the step's last word.
func (h *holding) pass(ctx context.Context, steps []playbooks.Step) (caught []executors.Change, news []string, left int, errs []string) {
	r, manual, t, hs := h.r, h.manual, h.t, h.hs
	for _, s := range steps {
		if ctx.Err() != nil {
			break
		}
		params, err := playbooks.RenderParams(executors.WithDefaults(s.Action, s.With),
			playbooks.TemplateData{Inputs: r.o.Inputs, Account: t.Ref, Step: s.ID})
		if err != nil {
			errs = append(errs, s.ID+": "+err.Error())
			continue
		}
		hooks := &auditHooks{r: r, step: manual.ID, account: t.Ref.Name, action: s.Action}
		res, err := t.Exec.Do(ctx, executors.Request{Action: s.Action, Step: manual.ID, Params: params, Hooks: hooks})
		if s.Action != executors.OrdersDeadman { // re-arming is not a catch
			caught = append(caught, res.Changes...)
		}
		// Refused for authentication: the key may just have died (the
		// human deleted it). If the probe says so, what the step saw
		// still stands (orders it listed open and could not cancel), but
		// its findings are about requests a dead key made, and the
		// verdict's open-orders-possible says what to check instead.
		died := err != nil && errors.Is(err, executors.ErrAuth) && ctx.Err() == nil && h.rejected(ctx)
		if died {
			res.Findings = nil
		}
		h.mu.Lock()
		if s.Action == executors.OrdersCancelAll {
			for _, c := range res.Remaining {
				if !h.seen[remainingItem(c)] {
					left++ // an order of the holder's, seen open and not cancelled
				}
			}
		}
		for _, item := range reportable(res) {
			if !h.seen[item] {
				h.seen[item] = true
				news = append(news, item)
			}
		}
		if err == nil || len(res.Remaining) > 0 {
			hs.LastPass[s.ID] = res
		}
		h.mu.Unlock()
		if err != nil {
			if ctx.Err() == nil && !died {
				errs = append(errs, s.ID+": "+err.Error())
			}
			if died {
				break
			}
			continue
		}
	}
	return caught, news, left, errs
}

// remainingItem is how reportable names a change still left.
func remainingItem(c executors.Change) string { return c.Kind + " " + c.Target }

// reportable lists, one line each, what a result says is left or needs a
// human: Remaining items, high findings and the lines of manual
// instructions (which name e.g. each pending withdrawal).
func reportable(res executors.Result) []string {
	var out []string
	for _, c := range res.Remaining {
		out = append(out, remainingItem(c))
	}
	for _, f := range res.Findings {
		if f.Severity == "high" {
			out = append(out, f.Subject+": "+f.Message)
		}
	}
	for _, m := range res.Manual {
		for _, line := range strings.Split(m.Instructions, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				out = append(out, line)
			}
		}
	}
	return out
}

// alreadyReported is what the account's own results of the hold steps
// already said, so that a hold reports only what is new.
func (r *run) alreadyReported(account string, steps []playbooks.Step) map[string]bool {
	ids := map[string]bool{}
	for _, s := range steps {
		ids[s.ID] = true
	}
	seen := map[string]bool{}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, res := range r.results {
		if res.Account == account && ids[res.Step] {
			for _, item := range reportable(res.Result) {
				seen[item] = true
			}
		}
	}
	return seen
}

func (r *run) holdEvent(step playbooks.Step, t Target, text string) {
	r.progress(Event{Kind: "hold", Step: step.ID, Account: t.Ref.Name, Text: text})
}

func stepIDs(steps []playbooks.Step) string {
	if len(steps) == 0 {
		return "(no containment step)"
	}
	ids := make([]string, len(steps))
	for i, s := range steps {
		ids[i] = s.ID
	}
	return strings.Join(ids, ", ")
}

func changesText(cs []executors.Change, max int) string {
	var parts []string
	for i, c := range cs {
		if i == max {
			parts = append(parts, fmt.Sprintf("… %d more", len(cs)-max))
			break
		}
		parts = append(parts, c.Kind+" "+c.Target)
	}
	return strings.Join(parts, ", ")
}

func passes(n int) string {
	if n == 1 {
		return "1 pass"
	}
	return fmt.Sprintf("%d passes", n)
}

// holds reports whether a manual step holds the line.
func holds(s playbooks.Step) bool {
	h, _ := s.With["hold"].(bool)
	v, _ := s.With["verify"].(string)
	return h && v == "key_rejected"
}

// holdResult adds what the hold did to a manual step's result: what it
// caught (Changes), what its last pass still saw (Remaining) and the
// summary (Data).
func holdResult(res executors.Result, hs *HoldSummary) executors.Result {
	res.Data = hs
	res.Changes = append(res.Changes, hs.Caught...)
	for _, last := range hs.LastPass {
		res.Remaining = append(res.Remaining, last.Remaining...)
	}
	rounds := ""
	if hs.LaneRounds > 0 {
		rounds = fmt.Sprintf(" and %d of the account's own orders", hs.LaneRounds)
	}
	note := fmt.Sprintf("held the line %s (%s, %s%s, caught %d)", hs.Duration.Round(time.Second), hs.EndedBy, passes(hs.Passes), rounds, len(hs.Caught))
	if hs.EndedBy != HoldKeyRejected && res.Status == executors.StatusPending {
		note += "; the key is still alive: whoever holds it can trade and withdraw again from now on"
	}
	hms := func(t time.Time) string { return t.UTC().Format("15:04:05") }
	if u := hs.Unseen; u != nil && !u.KeyAlive {
		why := fmt.Sprintf("its holder was still at work during the hold (caught %d%s, the last at %s UTC)", hs.HolderCaught, hs.leftText(), hms(hs.HolderSeenAt))
		if u.RunOrders > 0 {
			why = fmt.Sprintf("its holder was at work during the run (the playbook's cancels caught %d orders placed since it started, the last at %s UTC) and the key died before the hold's first look", u.RunOrders, hms(u.RunSeenAt))
		}
		note += fmt.Sprintf("; %s: orders placed with the key, or with sub-account keys it made, from %s UTC until it died at %s UTC cannot be seen or cancelled through the API: check Open Orders on every product of the account and its sub-accounts in the web UI",
			why, hms(u.From), hms(u.To))
	} else if hs.EndedBy == HoldKeyRejected {
		// The dead key can no longer list or cancel anything: what its
		// holder placed after the last look is out of the API's sight —
		// also when it died before the hold's first pass (a human quick
		// in the web UI), after the playbook's own steps looked last.
		last := "the playbook's own steps (it died before the hold's first pass)"
		if !hs.LastPassAt.IsZero() {
			last = "the last pass (" + hs.LastPassAt.UTC().Format("15:04:05") + " UTC)"
		}
		note += "; orders placed with the key after " + last + " until it died cannot be seen or cancelled through the API: check Open Orders on every product in the web UI"
	}
	res.Summary = res.Summary + " — " + note
	return res
}
