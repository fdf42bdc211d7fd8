package fake

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/panicbutton/panicbutton/executors"
)

// supported lists every non-local catalog action.
func supported() []string {
	var out []string
	for _, a := range executors.Actions() {
		if !a.Local {
			out = append(out, a.Name)
		}
	}
	return out
}

// Driver returns the fake exchange driver over a fresh DemoVenue.
func Driver() executors.Driver { return DriverFor(DemoVenue()) }

// DriverFor returns the fake exchange driver whose executors act on v; the
// account is found in v by Account.Name.
func DriverFor(v *Venue) executors.Driver {
	return executors.Driver{
		Exchange: Exchange,
		Actions:  supported(),
		New: func(acct executors.Account, env executors.Env) (executors.Executor, error) {
			return New(v, acct, env), nil
		},
	}
}

// Executor performs catalog actions on one account of a Venue.
type Executor struct {
	v    *Venue
	acct executors.Account
	env  executors.Env
}

var _ executors.Executor = (*Executor)(nil)

// New returns the executor for acct over v. acct.APIKey, when set, must be
// the account's master key in v (else every request is rejected as ErrAuth).
func New(v *Venue, acct executors.Account, env executors.Env) *Executor {
	return &Executor{v: v, acct: acct, env: env.Defaults()}
}

// Exchange implements executors.Executor.
func (e *Executor) Exchange() string { return Exchange }

// Do implements executors.Executor.
func (e *Executor) Do(ctx context.Context, req executors.Request) (executors.Result, error) {
	return e.run(ctx, req, false)
}

// Plan implements executors.Executor. It only reads.
func (e *Executor) Plan(ctx context.Context, req executors.Request) (executors.Result, error) {
	return e.run(ctx, req, true)
}

func (e *Executor) run(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	spec, ok := executors.Lookup(req.Action)
	if !ok || spec.Local {
		return executors.Result{}, &executors.Error{Class: executors.ErrUnsupported, Op: "fake " + e.acct.Name, Msg: fmt.Sprintf("action %q", req.Action)}
	}
	req.Params = executors.WithDefaults(req.Action, req.Params)
	if !spec.Mutating {
		plan = false // Plan of a read is Do
	}
	switch req.Action {
	case executors.SnapshotBalances:
		return e.snapshot(ctx, req)
	case executors.OrdersList:
		return e.ordersList(ctx, req)
	case executors.OrdersCancelAll:
		return e.cancelAll(ctx, req, plan)
	case executors.OrdersDeadman:
		return e.deadman(ctx, req, plan)
	case executors.KeysInventory:
		return e.inventory(ctx, req)
	case executors.KeysRevoke:
		return e.revoke(ctx, req, plan)
	case executors.KeysVerifyRejected:
		return e.verifyRejected(ctx, req)
	case executors.WithdrawalsList:
		return e.withdrawalsList(ctx, req)
	case executors.WithdrawalsCancelPending:
		return e.cancelWithdrawals(ctx, req, plan)
	case executors.PositionsClose:
		return e.closePositions(ctx, req, plan)
	case executors.FundsSweep:
		return e.sweep(ctx, req, plan)
	case executors.TradesRecent:
		return e.tradesRecent(ctx, req)
	}
	return executors.Result{}, &executors.Error{Class: executors.ErrUnsupported, Op: "fake " + e.acct.Name, Msg: fmt.Sprintf("action %q", req.Action)}
}

// read sends one read request.
func (e *Executor) read(ctx context.Context, req executors.Request, op string, fn func(a *account) error) error {
	return e.v.do(ctx, e.call(req, op, false), fn)
}

func (e *Executor) call(req executors.Request, op string, mutation bool) call {
	return call{account: e.acct.Name, apiKey: e.acct.APIKey.Reveal(), action: req.Action, op: op, mutation: mutation}
}

// mutate sends one mutating request through req.Mutate, so the hooks see
// its intent first; an intent error is returned as ErrAudit and nothing is
// sent.
func (e *Executor) mutate(ctx context.Context, req executors.Request, m executors.Mutation, fn func(a *account) error) error {
	sent := false
	err := req.Mutate(ctx, m, func(ctx context.Context) error {
		sent = true
		return e.v.do(ctx, e.call(req, m.Target, true), fn)
	})
	if err != nil && !sent && !errors.Is(err, executors.ErrAudit) {
		return executors.Classify(executors.ErrAudit, "record intent of "+m.ID, err)
	}
	return err
}

// products resolves the products parameter against the venue's products.
func products(p executors.Params) []string {
	want := p.Strings("products")
	if len(want) == 0 {
		return Products
	}
	var out []string
	for _, x := range Products {
		for _, w := range want {
			if w == x || (w == executors.ProductFutures && (x == executors.ProductUSDM || x == executors.ProductCoinM)) {
				out = append(out, x)
				break
			}
		}
	}
	return out
}

// ordersSummary is "14 orders on 6 symbols (spot, usdm)".
func ordersSummary(os []executors.Order) string {
	syms := map[string]bool{}
	prods := map[string]bool{}
	for _, o := range os {
		syms[o.Product+" "+o.Symbol] = true
		prods[o.Product] = true
	}
	var ps []string
	for _, p := range Products {
		if prods[p] {
			ps = append(ps, p)
		}
	}
	return fmt.Sprintf("%s on %s (%s)", plural(len(os), "order"), plural(len(syms), "symbol"), strings.Join(ps, ", "))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// listing joins up to five items, then "and N more".
func listing(items []string) string {
	if len(items) <= 5 {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:5], ", ") + fmt.Sprintf(" and %d more", len(items)-5)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
