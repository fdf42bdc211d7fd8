// Package subacct holds the venue-neutral part of orders.cancel_all on
// sub-accounts (issue 10 item 1), shared by the Binance and KuCoin
// executors: the request and audit hooks that name a sub-account, the
// per-sub-account outcome and how outcomes become one step result, the
// process memory of emptied sub-accounts and of temporary keys not proven
// deleted, and the label sweep that deletes a temporary key whose creation
// outcome is unknown. What each venue calls, how it mints a key and every
// venue-worded message stay in the venue's package.
package subacct

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// TempKeyPrefix starts the label (Binance apiName, KuCoin remark) of every
// temporary key, so a resumed run can find a key whose creation outcome was
// never recorded.
const TempKeyPrefix = "pbtmp"

// TempKeyMutationID is the ID of a create-temp-key mutation: the label
// stands for the key because the key's id exists only once the venue
// answers (the outcome record names it, masked).
func TempKeyMutationID(account, sub, label string) string {
	return "temp-key:" + account + ":" + sub + ":" + label
}

// DeleteTempKeyMutationID is the ID of a delete-temp-key mutation; masked
// is the key's masked id.
func DeleteTempKeyMutationID(account, sub, label, masked string) string {
	return "delete-temp-key:" + account + ":" + sub + ":" + label + ":" + masked
}

// WithMaskedKey returns the outcome record of a create-temp-key mutation:
// m with a copy of its request naming the key's masked id when apiKey is
// not empty (m itself is left as it was).
func WithMaskedKey(m executors.Mutation, apiKey string) executors.Mutation {
	done := m
	done.Request = map[string]string{}
	for k, v := range m.Request {
		done.Request[k] = v
	}
	if apiKey != "" {
		done.Request["api_key"] = secret.Mask(apiKey)
	}
	return done
}

// Request is req for the sub-account's own orders, its mutations renamed
// so they name the sub-account (and stay distinct per sub for resume).
func Request(req executors.Request, sub string) executors.Request {
	p := executors.Params{}
	for k, v := range req.Params {
		p[k] = v
	}
	p["scope"] = executors.ScopeAccount
	return executors.Request{Action: executors.OrdersCancelAll, Step: req.Step, Params: p,
		Hooks: hooks{inner: req.HooksOrNop(), sub: sub}}
}

// hooks prefixes a sub-account's mutations with the sub-account.
type hooks struct {
	inner executors.Hooks
	sub   string
}

func (h hooks) wrap(m executors.Mutation) executors.Mutation {
	m.ID = "sub:" + h.sub + ":" + m.ID
	m.Target = "sub " + h.sub + ": " + m.Target
	r := map[string]string{"sub": h.sub}
	for k, v := range m.Request {
		r[k] = v
	}
	m.Request = r
	return m
}

func (h hooks) Intent(ctx context.Context, m executors.Mutation) error {
	return h.inner.Intent(ctx, h.wrap(m))
}

func (h hooks) Outcome(ctx context.Context, m executors.Mutation, err error) {
	h.inner.Outcome(ctx, h.wrap(m), err)
}

// Notice passes text on to the master's hooks (executors.Noticer), naming
// the sub-account.
func (h hooks) Notice(text string) {
	executors.Request{Hooks: h.inner}.Notice("sub " + h.sub + ": " + text)
}

// PrefixChanges names the sub-account in each change; kind replaces the
// kind when not empty.
func PrefixChanges(sub, kind string, cs []executors.Change) []executors.Change {
	out := make([]executors.Change, 0, len(cs))
	for _, c := range cs {
		c.Target = "sub " + sub + ": " + c.Target
		if c.ID != "" {
			c.ID = "sub:" + sub + ":" + c.ID
		}
		if kind != "" {
			c.Kind = kind
		}
		out = append(out, c)
	}
	return out
}

// Outcome is what happened on one sub-account.
type Outcome struct {
	Sub     string // Binance e-mail, KuCoin subName
	Line    string // one line for the summary
	Changes []executors.Change
	Remain  []executors.Change
	Find    []executors.Finding
	Manual  []executors.ManualStep
	Err     error
	Skipped bool
	Clean   bool // inspected and left with no open order
}

// Finish builds the step's result from every sub-account's outcome and
// returns the errors of the outcomes that failed, in order; the venue
// turns them (or a failed status) into the step's error.
func Finish(outs []Outcome, plan bool) (executors.Result, []error) {
	res := executors.Result{Counts: map[string]int{"sub_accounts": len(outs)}}
	var lines []string
	var errs []error
	for _, o := range outs {
		lines = append(lines, o.Line)
		res.Changes = append(res.Changes, o.Changes...)
		res.Remaining = append(res.Remaining, o.Remain...)
		res.Findings = append(res.Findings, o.Find...)
		res.Manual = append(res.Manual, o.Manual...)
		if o.Err != nil {
			errs = append(errs, o.Err)
		}
		switch {
		case o.Skipped:
			res.Counts["skipped"]++
		case o.Clean:
			res.Counts["clean"]++
		}
	}
	for _, c := range res.Changes {
		if c.Kind == "cancel-order" {
			res.Counts["cancelled"]++
		}
	}
	res.Counts["remaining"] = len(res.Remaining)
	res.Summary = strings.Join(lines, "; ")
	switch {
	case plan && len(res.Changes) > 0:
		res.Status = executors.StatusWouldChange
	case plan:
		res.Status = executors.StatusOK
	case len(errs) == 0 && onlyInferred(res.Remaining):
		// Nothing failed; what is left only a human can reach.
		res.Status = executors.StatusPending
	case len(errs) > 0 || len(res.Remaining) > 0:
		res.Status = executors.StatusFailed
	case cancelledAny(res.Changes):
		res.Status = executors.StatusChanged
	default:
		res.Status = executors.StatusOK
	}
	return res, errs
}

// onlyInferred reports whether every remaining item is an inferred one
// (a sub-account that could not be inspected): at least one.
func onlyInferred(cs []executors.Change) bool {
	for _, c := range cs {
		if c.Kind != "open-orders-inferred" {
			return false
		}
	}
	return len(cs) > 0
}

// cancelledAny reports whether changes cancelled anything: a temporary key
// minted and deleted again changes nothing that stays.
func cancelledAny(cs []executors.Change) bool {
	for _, c := range cs {
		if c.Kind != "create-temp-key" && c.Kind != "delete-temp-key" {
			return true
		}
	}
	return false
}

// Both runs orders.cancel_all on the account itself and on its
// sub-accounts at once (scope all) and merges the two results; a part
// that failed without a result counts as failed with its error as its
// summary. rank orders the statuses: the merged status is the higher.
func Both(own, subs func() (executors.Result, error), rank map[executors.Status]int) (executors.Result, error) {
	var (
		ownRes, subsRes executors.Result
		ownErr, subsErr error
		wg              sync.WaitGroup
	)
	wg.Go(func() {
		ownRes, ownErr = own()
		if ownErr != nil && ownRes.Status == "" {
			ownRes = executors.Result{Status: executors.StatusFailed, Summary: ownErr.Error()}
		}
	})
	wg.Go(func() {
		subsRes, subsErr = subs()
		if subsErr != nil && subsRes.Status == "" {
			subsRes = executors.Result{Status: executors.StatusFailed, Summary: subsErr.Error()}
		}
	})
	wg.Wait()
	return Merge(ownRes, subsRes, rank), errors.Join(ownErr, subsErr)
}

// Merge merges the account's own result and its sub-accounts'.
func Merge(own, subs executors.Result, rank map[executors.Status]int) executors.Result {
	out := executors.Result{Summary: own.Summary + "; sub-accounts: " + subs.Summary, Counts: map[string]int{}}
	out.Status = own.Status
	if rank[subs.Status] > rank[out.Status] {
		out.Status = subs.Status
	}
	for _, r := range []executors.Result{own, subs} {
		out.Changes = append(out.Changes, r.Changes...)
		out.Remaining = append(out.Remaining, r.Remaining...)
		out.Findings = append(out.Findings, r.Findings...)
		out.Manual = append(out.Manual, r.Manual...)
		for k, v := range r.Counts {
			out.Counts[k] += v
		}
	}
	return out
}

// CleanState is what the master saw of a sub-account when it was left
// with no open order.
type CleanState struct {
	Fingerprint string
	Keys        int // sub keys seen listed under it then
	At          time.Time
}

// Memory remembers, per executor, which sub-accounts were left with no
// open order and what the master saw of them then, so that a later pass
// (the hold re-runs the step every few seconds) does not mint a key on a
// sub-account where nothing changed; and the temporary keys (by label) not
// proven deleted, per sub-account: every later call tries again and
// reports them until they are gone. L is what the venue needs to delete
// such a key.
type Memory[L any] struct {
	mu    sync.Mutex
	clean map[string]CleanState
	live  map[string]map[string]L
}

// Get returns the state a sub-account was left clean in, if it was.
func (m *Memory[L]) Get(sub string) (CleanState, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.clean[sub]
	return st, ok
}

// Set records a sub-account as left clean in st (ok) or forgets it.
func (m *Memory[L]) Set(sub string, st CleanState, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ok {
		if m.clean == nil {
			m.clean = map[string]CleanState{}
		}
		m.clean[sub] = st
	} else {
		delete(m.clean, sub)
	}
}

// AddLive records a temporary key not proven deleted.
func (m *Memory[L]) AddLive(sub, label string, lt L) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.live == nil {
		m.live = map[string]map[string]L{}
	}
	if m.live[sub] == nil {
		m.live[sub] = map[string]L{}
	}
	m.live[sub][label] = lt
}

// TakeLive returns the sub-account's temporary keys not proven deleted, by
// label, and forgets them (the caller reports again those still alive).
func (m *Memory[L]) TakeLive(sub string) map[string]L {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.live[sub]
	delete(m.live, sub)
	return out
}

// Listed is a key listed under a sub-account.
type Listed struct {
	Label  string // Binance apiName, KuCoin remark
	APIKey string
}

// WorthSweeping reports whether a temporary key whose deletion failed
// with err should be looked for by label (SweepLabel): not when the venue
// refused the key we sign with (the master key died: a human deleted it
// while a hold pass ran), since no listing with it can succeed, and the
// wait for a drained pool before learning so only holds the hold's end.
func WorthSweeping(err error) bool { return !errors.Is(err, executors.ErrAuth) }

// SweepLabel deletes every key labelled label that list shows, until a
// listing shows none (true), for at most six listings 300 ms apart; else
// it returns false and the last error (a listing's or a deletion's, or
// "still listed"). A listing refused for authentication ends it at once.
func SweepLabel(ctx context.Context, sleep func(context.Context, time.Duration) error, label string,
	list func(context.Context) ([]Listed, error), del func(ctx context.Context, apiKey string) error) (bool, error) {
	var last error
	for attempt := 0; attempt < 6; attempt++ {
		if attempt > 0 {
			_ = sleep(ctx, 300*time.Millisecond)
		}
		rows, err := list(ctx)
		if err != nil {
			last = err
			if errors.Is(err, executors.ErrAuth) {
				break // the key we list with is refused: no retry can list
			}
			continue
		}
		left := 0
		for _, r := range rows {
			if r.Label == label {
				left++
				if err := del(ctx, r.APIKey); err != nil {
					last = err
				}
			}
		}
		if left == 0 {
			return true, nil
		}
	}
	if last == nil {
		last = errors.New("still listed")
	}
	return false, last
}
