package executors

import "context"

// DryRun wraps e so that nothing is ever mutated: read-only actions pass
// through, mutating actions return their Plan (a "would …" result naming the
// exact targets). It is the only place dry-run is implemented.
func DryRun(e Executor) Executor { return dryRun{e} }

type dryRun struct{ inner Executor }

var _ Executor = dryRun{}

func (d dryRun) Exchange() string { return d.inner.Exchange() }

func (d dryRun) Do(ctx context.Context, req Request) (Result, error) {
	if IsMutating(req.Action) {
		req.Hooks = refuseHooks{req.Hooks}
		return d.inner.Plan(ctx, req)
	}
	return d.inner.Do(ctx, req)
}

func (d dryRun) Plan(ctx context.Context, req Request) (Result, error) {
	req.Hooks = refuseHooks{req.Hooks}
	return d.inner.Plan(ctx, req)
}

// refuseHooks makes any attempt to mutate during a dry run fail before the
// request is sent: a Plan that (wrongly) calls Mutate is caught, not obeyed.
// Notices still reach the hooks it replaces (the operator of a dry run
// waits out a block too).
type refuseHooks struct{ inner Hooks }

// Notice implements Noticer.
func (h refuseHooks) Notice(text string) { Request{Hooks: h.inner}.Notice(text) }

func (refuseHooks) Intent(context.Context, Mutation) error {
	return &Error{Class: ErrAudit, Op: "dry-run", Msg: "mutation attempted during dry-run; refused"}
}
func (refuseHooks) Outcome(context.Context, Mutation, error) {}
