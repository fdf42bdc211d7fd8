package playbooks

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/yamlx"
)

// Env is the context a playbook is checked against before a run.
type Env struct {
	Accounts []AccountRef                       // configured accounts
	Supports func(exchange, action string) bool // from the executors registry; nil skips that check
	Inputs   map[string]string                  // --input name=value given by the user
}

// Check reports, all at once and with positions, what stops the playbook
// from running in env: required inputs missing, unknown inputs given,
// targets that match no account (and each named account, tag or exchange
// that matches nothing), and actions that a targeted account's exchange
// does not support. A step whose when condition is false for an account
// whatever the earlier steps do is not held against that account.
func (p *Playbook) Check(env Env) error {
	var d yamlx.Diagnostics
	add := func(pos Pos, format string, args ...any) {
		d.AddAt(pos.File, pos.Line, pos.Col, format, args...)
	}
	file := Pos{File: p.File}

	// inputs
	declaredNames := make([]string, len(p.Inputs))
	inputs := map[string]string{}
	for i, in := range p.Inputs {
		declaredNames[i] = in.Name
		v, given := env.Inputs[in.Name]
		switch {
		case given:
			inputs[in.Name] = v
		case in.Required:
			add(in.Pos, "input %s is required: pass --input %s=VALUE", in.Name, in.Name)
		default:
			inputs[in.Name] = in.Default
		}
	}
	var unknown []string
	for name := range env.Inputs {
		if !slices.Contains(declaredNames, name) {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		add(file, "unknown input %q given%s", name, declared(declaredNames))
	}

	// targets
	t := p.Targets
	each := func(what string, list []string, pos []Pos, match func(AccountRef, string) bool) {
		for i, v := range list {
			found := false
			for _, a := range env.Accounts {
				if match(a, v) {
					found = true
					break
				}
			}
			if !found {
				at := t.Pos
				if i < len(pos) {
					at = pos[i]
				}
				add(at, "targets: %s %q matches no configured account", what, v)
			}
		}
	}
	each("account", t.Accounts, t.accountPos, func(a AccountRef, v string) bool { return a.Name == v })
	each("tag", t.Tags, t.tagPos, func(a AccountRef, v string) bool { return slices.Contains(a.Tags, v) })
	each("exchange", t.Exchanges, t.exchPos, func(a AccountRef, v string) bool { return a.Exchange == v })
	targeted := p.Targeted(env.Accounts)
	if len(targeted) == 0 {
		add(t.Pos, "targets match no configured account (%s)", describeAccounts(env.Accounts))
	}

	// support
	if env.Supports != nil {
		for _, st := range p.Steps {
			var missing = map[string][]string{}
			var exchanges []string
			for _, a := range targeted {
				if env.Supports(a.Exchange, st.Action) {
					continue
				}
				if ok, known := st.When.partial(Vars{Inputs: inputs, Account: a}); known && !ok {
					continue // the step never runs on this account
				}
				if _, seen := missing[a.Exchange]; !seen {
					exchanges = append(exchanges, a.Exchange)
				}
				missing[a.Exchange] = append(missing[a.Exchange], a.Name)
			}
			for _, ex := range exchanges {
				add(st.Pos, "step %s: action %s is not supported on %s (accounts: %s); limit the step with when: account.exchange != '%s'",
					st.ID, st.Action, ex, strings.Join(missing[ex], ", "), ex)
			}
		}
	}
	return d.Err()
}

func describeAccounts(accts []AccountRef) string {
	if len(accts) == 0 {
		return "no accounts are configured"
	}
	names := make([]string, len(accts))
	for i, a := range accts {
		names[i] = a.Name
	}
	return "configured: " + strings.Join(names, ", ")
}

// Targeted returns the accounts of accts the playbook targets, in order.
func (p *Playbook) Targeted(accts []AccountRef) []AccountRef {
	var out []AccountRef
	for _, a := range accts {
		if p.Targets.Matches(a) {
			out = append(out, a)
		}
	}
	return out
}

// Matches reports whether the targets select a.
func (t Targets) Matches(a AccountRef) bool {
	if t.All {
		return true
	}
	if len(t.Accounts) == 0 && len(t.Tags) == 0 && len(t.Exchanges) == 0 {
		return false
	}
	if len(t.Accounts) > 0 && !slices.Contains(t.Accounts, a.Name) {
		return false
	}
	if len(t.Exchanges) > 0 && !slices.Contains(t.Exchanges, a.Exchange) {
		return false
	}
	if len(t.Tags) > 0 && !slices.ContainsFunc(t.Tags, func(tag string) bool { return slices.Contains(a.Tags, tag) }) {
		return false
	}
	return true
}

// Mutating reports whether any step of the playbook changes exchange state.
func (p *Playbook) Mutating() bool {
	return slices.ContainsFunc(p.Steps, func(s Step) bool { return executors.IsMutating(s.Action) })
}

// String describes a step for messages: "step ID (action)".
func (s Step) String() string { return fmt.Sprintf("step %s (%s)", s.ID, s.Action) }
