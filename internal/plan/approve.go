package plan

import (
	"errors"
	"sort"
	"strings"
	"sync"

	"github.com/panicbutton/panicbutton/executors"
)

// Approver decides, mutation by mutation, whether an apply may send it
// (runner.Options.Approve) and remembers what it refused.
//
//   - Order cancels and the dead-man switch (orders.cancel_all,
//     orders.deadman) are approved as a scope: any such mutation of an
//     account and action the plan has is allowed, so orders placed since
//     the plan are cancelled too.
//   - Every other mutation (key deletion, IP lock, permission strip,
//     withdrawal cancel, transfer, position close) is allowed only when it
//     is one of the plan's targets for that account and action: the same
//     id; for transfers and position closes also the same target text
//     (amount, size). Anything else was found at apply time: it is
//     refused, nothing is sent, and Refused lists it.
type Approver struct {
	scopes  map[string]bool               // account \x00 action
	targets map[string][]executors.Change // account \x00 action

	mu      sync.Mutex
	refused []Refusal
}

// Refusal is one mutation an apply did not send.
type Refusal struct {
	Step     string `json:"step"`
	Account  string `json:"account"`
	Action   string `json:"action"`
	Kind     string `json:"kind"`
	Target   string `json:"target"`
	Approved string `json:"approved,omitempty"` // the approved target with the same id, if it differed
}

// NewApprover builds the approver of p.
func NewApprover(p *Plan) *Approver {
	a := &Approver{scopes: map[string]bool{}, targets: map[string][]executors.Change{}}
	for _, s := range p.Steps {
		for _, sa := range s.Accounts {
			k := sa.Account + "\x00" + s.Action
			if scoped(s.Action) {
				a.scopes[k] = true
			}
			a.targets[k] = append(a.targets[k], sa.Targets...)
		}
	}
	return a
}

// Approve implements runner.Options.Approve.
func (a *Approver) Approve(step, account, action string, m executors.Mutation) error {
	k := account + "\x00" + action
	if a.scopes[k] && (m.Kind == "cancel-orders" || m.Kind == "deadman") {
		return nil
	}
	approved := ""
	for _, c := range a.targets[k] {
		if !sameID(c, m) {
			continue
		}
		if (m.Kind == "transfer" || m.Kind == "close-position") && c.Target != m.Target {
			approved = c.Target
			continue
		}
		return nil
	}
	if m.Kind == "ip-unlist-key" { // the second request of an approved IP lock
		suffix := strings.TrimPrefix(m.ID, "ip-unlist-key:")
		for _, c := range a.targets[k] {
			if c.Kind == "ip-lock-key" && (c.ID == "ip-lock-key:"+suffix) {
				return nil
			}
		}
	}
	a.mu.Lock()
	a.refused = append(a.refused, Refusal{Step: step, Account: account, Action: action, Kind: m.Kind, Target: m.Target, Approved: approved})
	a.mu.Unlock()
	why := "found at apply time; left alone"
	if approved != "" {
		why = "differs from the approved target (" + approved + "); left alone"
	}
	return &executors.Error{Class: executors.ErrNotApproved, Op: m.Kind + " " + m.Target, Err: errors.New(why)}
}

// sameID matches a planned change with a mutation: executors give a
// change the mutation's id, or (withdrawal cancels) the venue's id that
// the mutation id carries after its kind.
func sameID(c executors.Change, m executors.Mutation) bool {
	if c.ID == "" || m.ID == "" {
		return false
	}
	return c.ID == m.ID || c.Kind+":"+c.ID == m.ID
}

// Refused returns what the apply did not send, in a stable order.
func (a *Approver) Refused() []Refusal {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := append([]Refusal(nil), a.refused...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Account != out[j].Account {
			return out[i].Account < out[j].Account
		}
		return out[i].Target < out[j].Target
	})
	return out
}

// RefusedFor returns the refusals of one (step, account).
func (a *Approver) RefusedFor(step, account string) []Refusal {
	var out []Refusal
	for _, r := range a.Refused() {
		if r.Step == step && r.Account == account {
			out = append(out, r)
		}
	}
	return out
}

// Finding turns a refusal into the finding the apply reports.
func (r Refusal) Finding() executors.Finding {
	msg := "found at apply time, not in the approved plan: left alone (" + r.Kind + ")"
	if r.Approved != "" {
		msg = "differs from the approved plan (approved: " + r.Approved + "): left alone (" + r.Kind + ")"
	}
	return executors.Finding{Severity: "high", Subject: r.Target, Message: msg,
		Fix: "make a new plan (panicbutton run PLAYBOOK --dry-run --plan-out FILE) to include it, have it approved and apply it; or run the playbook directly"}
}
