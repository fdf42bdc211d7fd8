package fake

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// relistInterval is the pause between re-lists while confirming cancel_all;
// maxRelists bounds them even when the clock does not move.
const (
	relistInterval = 250 * time.Millisecond
	maxRelists     = 100
)

func nothingToDo(why string) executors.Result {
	return executors.Result{Status: executors.StatusOK, Summary: "nothing to do: " + why}
}

// ---- snapshot.balances -------------------------------------------------

func (e *Executor) snapshot(ctx context.Context, req executors.Request) (executors.Result, error) {
	snap := &executors.Snapshot{Account: e.acct.Name, Exchange: Exchange, TakenAt: e.env.Now(),
		Balances: []executors.Balance{}, Positions: []executors.Position{}}
	var subs []string
	err := e.read(ctx, req, "read balances and positions", func(a *account) error {
		for _, b := range a.balances {
			if b.Sub == "" {
				snap.Balances = append(snap.Balances, b)
			}
		}
		for _, p := range a.positions {
			if p.Sub == "" {
				snap.Positions = append(snap.Positions, p)
			}
		}
		for _, s := range a.subs {
			subs = append(subs, s.name)
		}
		return nil
	})
	if err != nil {
		return executors.Result{}, err
	}
	if !req.Params.Bool("include_sub_accounts") {
		subs = nil
	}
	for _, s := range subs {
		err := e.read(ctx, req, "read balances of sub-account "+s, func(a *account) error {
			for _, b := range a.balances {
				if b.Sub == s {
					snap.Balances = append(snap.Balances, b)
				}
			}
			for _, p := range a.positions {
				if p.Sub == s {
					snap.Positions = append(snap.Positions, p)
				}
			}
			return nil
		})
		if err != nil {
			snap.Errors = append(snap.Errors, err.Error())
		}
	}
	wallets := map[string]bool{}
	for _, b := range snap.Balances {
		wallets[b.Sub+"/"+b.Wallet] = true
	}
	sum := fmt.Sprintf("snapshot of %s in %s and %s", plural(len(snap.Balances), "balance"), plural(len(wallets), "wallet"), plural(len(snap.Positions), "position"))
	if len(subs) > 0 {
		sum += fmt.Sprintf(" (incl. %s)", plural(len(subs), "sub-account"))
	}
	if len(snap.Errors) > 0 {
		sum += fmt.Sprintf("; %d parts unreadable", len(snap.Errors))
	}
	return executors.Result{Status: executors.StatusOK, Summary: sum, Data: snap,
		Counts: map[string]int{"balances": len(snap.Balances), "positions": len(snap.Positions)}}, nil
}

// ---- orders ------------------------------------------------------------

// listOpen reads the open orders, one request per product.
func (e *Executor) listOpen(ctx context.Context, req executors.Request, prods, symbols []string) ([]executors.Order, error) {
	var out []executors.Order
	for _, p := range prods {
		err := e.read(ctx, req, "list "+p+" open orders", func(a *account) error {
			out = append(out, a.listOrders([]string{p}, symbols)...)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (e *Executor) ordersList(ctx context.Context, req executors.Request) (executors.Result, error) {
	orders, err := e.listOpen(ctx, req, products(req.Params), req.Params.Strings("symbols"))
	if err != nil {
		return executors.Result{}, err
	}
	if orders == nil {
		orders = []executors.Order{}
	}
	sum := "no open orders"
	if len(orders) > 0 {
		sum = ordersSummary(orders) + " open"
	}
	return executors.Result{Status: executors.StatusOK, Summary: sum, Data: orders, Counts: map[string]int{"orders": len(orders)}}, nil
}

func orderChange(kind string, o executors.Order) executors.Change {
	t := fmt.Sprintf("%s %s order %s (%s %s", o.Product, o.Symbol, o.ID, o.Kind, o.Side)
	if o.Qty != "" {
		t += " " + o.Qty
	}
	if o.Price != "" {
		t += " @ " + o.Price
	}
	t += ")"
	return executors.Change{Kind: kind, Target: t, Product: o.Product, Symbol: o.Symbol, ID: o.ID}
}

func orderChanges(kind string, os []executors.Order) []executors.Change {
	out := make([]executors.Change, 0, len(os))
	for _, o := range os {
		out = append(out, orderChange(kind, o))
	}
	return out
}

func (e *Executor) cancelAll(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	prods, symbols := products(req.Params), req.Params.Strings("symbols")
	orders, err := e.listOpen(ctx, req, prods, symbols)
	if err != nil {
		return executors.Result{}, err
	}
	if len(orders) == 0 {
		return nothingToDo("no open orders on " + strings.Join(prods, ", ")), nil
	}
	if plan {
		return executors.Result{Status: executors.StatusWouldChange, Summary: "would cancel " + ordersSummary(orders),
			Changes: orderChanges("cancel-order", orders), Counts: map[string]int{"orders": len(orders)}}, nil
	}

	// One cancel-all request per (product, symbol), in listing order.
	type group struct{ product, symbol string }
	var groups []group
	seen := map[group]bool{}
	for _, o := range orders {
		g := group{o.Product, o.Symbol}
		if !seen[g] {
			seen[g] = true
			groups = append(groups, g)
		}
	}
	var cancelled []executors.Order
	for _, g := range groups {
		m := executors.Mutation{
			ID:      "cancel:" + g.product + ":" + g.symbol + "@" + executors.OrderSetID(groupIDs(orders, g.product, g.symbol)),
			Kind:    "cancel-orders",
			Target:  fmt.Sprintf("cancel all open %s orders on %s", g.product, g.symbol),
			Request: map[string]string{"product": g.product, "symbol": g.symbol},
		}
		var got []executors.Order
		err := e.mutate(ctx, req, m, func(a *account) error {
			got = a.cancelSymbol(g.product, g.symbol)
			return nil
		})
		cancelled = append(cancelled, got...)
		if err != nil {
			res := executors.Result{Status: executors.StatusFailed, Changes: orderChanges("cancel-order", cancelled),
				Counts: map[string]int{"cancelled": len(cancelled)}}
			res.Summary = fmt.Sprintf("cancelled %s, then %s failed", plural(len(cancelled), "order"), m.Target)
			return res, err
		}
	}
	sortOrders(cancelled)

	remaining, waited, err := e.confirmEmpty(ctx, req, prods, symbols)
	res := executors.Result{Status: executors.StatusChanged, Changes: orderChanges("cancel-order", cancelled),
		Counts: map[string]int{"cancelled": len(cancelled), "remaining": len(remaining)}}
	if err != nil {
		res.Status = executors.StatusFailed
		res.Summary = "cancelled " + ordersSummary(cancelled) + "; could not confirm by re-listing"
		return res, err
	}
	if len(remaining) > 0 {
		res.Status = executors.StatusFailed
		res.Remaining = orderChanges("open-order", remaining)
		var ids []string
		for _, o := range remaining {
			ids = append(ids, o.Product+" "+o.Symbol+" "+o.ID)
		}
		res.Summary = fmt.Sprintf("cancelled %s; %d still open after %s: %s", ordersSummary(cancelled), len(remaining), waited, listing(ids))
		return res, nil
	}
	res.Summary = "cancelled " + ordersSummary(cancelled) + "; none left"
	return res, nil
}

// confirmEmpty re-lists until nothing is open or confirm_timeout passed
// (on the Env clock); it returns what is still open and how long it waited.
func (e *Executor) confirmEmpty(ctx context.Context, req executors.Request, prods, symbols []string) ([]executors.Order, time.Duration, error) {
	timeout := req.Params.Duration("confirm_timeout")
	start := e.env.Now()
	for i := 0; ; i++ {
		open, err := e.listOpen(ctx, req, prods, symbols)
		waited := e.env.Now().Sub(start)
		if err != nil || len(open) == 0 || waited >= timeout || i >= maxRelists {
			return open, waited, err
		}
		if err := e.env.Sleep(ctx, min(relistInterval, timeout-waited)); err != nil {
			return open, waited, executors.Classify(executors.ErrTransient, "confirm cancel_all", err)
		}
	}
}

// cancelSymbol cancels every unpinned open order on (product, symbol).
func (a *account) cancelSymbol(product, symbol string) []executors.Order {
	var cancelled []executors.Order
	kept := a.orders[:0]
	for _, o := range a.orders {
		if o.Product == product && o.Symbol == symbol && !o.pinned {
			cancelled = append(cancelled, o.Order)
			continue
		}
		kept = append(kept, o)
	}
	a.orders = kept
	return cancelled
}

func (e *Executor) deadman(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	countdown := req.Params.Duration("countdown")
	var targets []string
	for _, p := range products(req.Params) {
		syms := req.Params.Strings("symbols")
		if len(syms) == 0 {
			targets = append(targets, p)
		}
		for _, s := range syms {
			targets = append(targets, p+":"+s)
		}
	}
	if err := e.read(ctx, req, "read countdown cancel-all", func(*account) error { return nil }); err != nil {
		return executors.Result{}, err
	}
	var changes []executors.Change
	for _, t := range targets {
		changes = append(changes, executors.Change{Kind: "deadman", Target: fmt.Sprintf("arm a %s countdown cancel-all on %s", countdown, t), ID: "deadman:" + t})
	}
	if plan {
		return executors.Result{Status: executors.StatusWouldChange, Changes: changes,
			Summary: fmt.Sprintf("would arm a %s countdown cancel-all on %s", countdown, strings.Join(targets, ", "))}, nil
	}
	for i, t := range targets {
		m := executors.Mutation{ID: "deadman:" + t, Kind: "deadman", Target: changes[i].Target,
			Request: map[string]string{"target": t, "countdown": countdown.String()}}
		err := e.mutate(ctx, req, m, func(a *account) error { a.deadman[t] = countdown; return nil })
		if err != nil {
			return executors.Result{Status: executors.StatusFailed, Changes: changes[:i],
				Summary: fmt.Sprintf("armed %d of %d countdowns, then %s failed", i, len(targets), t)}, err
		}
	}
	return executors.Result{Status: executors.StatusChanged, Changes: changes,
		Summary: fmt.Sprintf("armed a %s countdown cancel-all on %s", countdown, strings.Join(targets, ", "))}, nil
}

// ---- keys --------------------------------------------------------------

// keyRef is a key as read from the venue, with its owner.
type keyRef struct {
	sub string // "" for the master
	key Key
}

func (r keyRef) owner() string {
	if r.sub == "" {
		return "master"
	}
	return r.sub
}

func (r keyRef) subject() string {
	if r.sub == "" {
		return fmt.Sprintf("key %s (master)", secret.Mask(r.key.ID))
	}
	return fmt.Sprintf("key %s (sub %s)", secret.Mask(r.key.ID), r.sub)
}

func (e *Executor) view(r keyRef) executors.Key {
	k := executors.Key{
		Owner: r.owner(), Sub: r.sub != "", APIKey: secret.Mask(r.key.ID), Label: r.key.Label,
		Permissions: []string{"read"}, CanTrade: r.key.Trade, CanWithdraw: r.key.Withdraw, CanTransfer: r.key.Transfer,
		IPRestricted: len(r.key.IPs) > 0, IPs: slices.Clone(r.key.IPs), Created: r.key.Created,
	}
	if k.CanTrade {
		k.Permissions = append(k.Permissions, "trade")
	}
	if k.CanWithdraw {
		k.Permissions = append(k.Permissions, "withdraw")
	}
	if k.CanTransfer {
		k.Permissions = append(k.Permissions, "transfer")
	}
	k.Risks = executors.KeyRisks(k, e.env.Now())
	return k
}

// risky: withdrawals enabled, or trading/transfer without an IP whitelist.
func risky(k executors.Key) bool {
	return k.CanWithdraw || (!k.IPRestricted && (k.CanTrade || k.CanTransfer))
}

func (e *Executor) finding(r keyRef, k executors.Key) executors.Finding {
	f := executors.Finding{Severity: "medium", Subject: r.subject(), Message: "risks: " + strings.Join(k.Risks, ", ")}
	if k.CanWithdraw {
		f.Severity = "high"
	}
	if r.sub == "" {
		f.Fix = "in the web UI, Account → API Management → Edit restrictions: untick \"Enable Withdrawals\" and restrict access to trusted IPs only; delete the key if it may have leaked"
	} else {
		f.Fix = fmt.Sprintf("neutralise it: keys.revoke with scope sub_accounts and match %q (or select withdraw_enabled/risky)", r.key.Label)
		if r.key.Label == "" {
			f.Fix = fmt.Sprintf("neutralise it: keys.revoke with scope sub_accounts and match %q", r.sub)
		}
	}
	return f
}

// readKeys reads the master key and (when subs) every sub-account key.
func (e *Executor) readKeys(ctx context.Context, req executors.Request, subs bool) ([]keyRef, error) {
	var out []keyRef
	var names []string
	err := e.read(ctx, req, "read API key permissions", func(a *account) error {
		if a.master != nil {
			out = append(out, keyRef{key: a.master.clone()})
		}
		for _, s := range a.subs {
			names = append(names, s.name)
		}
		return nil
	})
	if err != nil || !subs {
		return out, err
	}
	for _, n := range names {
		err := e.read(ctx, req, "list API keys of sub-account "+n, func(a *account) error {
			if s := a.sub(n); s != nil {
				for _, k := range s.keys {
					out = append(out, keyRef{sub: n, key: k.clone()})
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (e *Executor) inventory(ctx context.Context, req executors.Request) (executors.Result, error) {
	refs, err := e.readKeys(ctx, req, req.Params.Bool("include_sub_accounts"))
	if err != nil {
		return executors.Result{}, err
	}
	res := executors.Result{Status: executors.StatusOK}
	keys := []executors.Key{}
	subs := 0
	for _, r := range refs {
		k := e.view(r)
		keys = append(keys, k)
		if k.Sub {
			subs++
		}
		if risky(k) {
			res.Findings = append(res.Findings, e.finding(r, k))
		}
	}
	res.Data = keys
	res.Counts = map[string]int{"keys": len(keys), "risky": len(res.Findings)}
	res.Summary = fmt.Sprintf("%s (%d of sub-accounts), %d risky", plural(len(keys), "key"), subs, len(res.Findings))
	return res, nil
}

// revokeMethod describes one keys.revoke method.
type revokeMethod struct {
	kind, done, would string
	irreversible      bool
	// needed reports whether k still needs the change.
	needed func(k Key) bool
	// apply changes the key held by the venue.
	apply func(k *Key)
}

func revokeMethods(ips []string) map[string]revokeMethod {
	return map[string]revokeMethod{
		"delete": {kind: "delete-key", done: "deleted", would: "would delete", irreversible: true,
			needed: func(Key) bool { return true }},
		"ip_lock": {kind: "ip-lock-key", done: "IP-locked", would: "would IP-lock",
			needed: func(k Key) bool { return !sameSet(k.IPs, ips) },
			apply:  func(k *Key) { k.IPs = slices.Clone(ips) }},
		"strip_permissions": {kind: "strip-key", done: "stripped permissions of", would: "would strip permissions of",
			needed: func(k Key) bool { return k.Trade || k.Withdraw || k.Transfer },
			apply:  func(k *Key) { k.Trade, k.Withdraw, k.Transfer = false, false, false }},
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

// selectKeys applies scope, select, key_ids and match.
func (e *Executor) selectKeys(refs []keyRef, p executors.Params) []keyRef {
	scope, sel, ids, match := p.String("scope"), p.String("select"), p.Strings("key_ids"), p.String("match")
	var out []keyRef
	for _, r := range refs {
		if (scope == "sub_accounts" && r.sub == "") || (scope == "master" && r.sub != "") {
			continue
		}
		k := e.view(r)
		if (sel == "withdraw_enabled" && !k.CanWithdraw) || (sel == "risky" && !risky(k)) {
			continue
		}
		if len(ids) > 0 && !slices.Contains(ids, r.key.ID) {
			continue
		}
		if match != "" && !containsFold(r.key.Label, match) && !containsFold(r.sub, match) &&
			!slices.ContainsFunc(r.key.IPs, func(ip string) bool { return containsFold(ip, match) }) {
			continue
		}
		out = append(out, r)
	}
	return out
}

func (e *Executor) masterStep(r keyRef) executors.ManualStep {
	label := ""
	if r.key.Label != "" {
		label = fmt.Sprintf(" (label %q)", r.key.Label)
	}
	return executors.ManualStep{
		Title: "Delete the master API key " + secret.Mask(r.key.ID) + " of " + e.acct.Name,
		Instructions: fmt.Sprintf("No API call can delete the master account's own key. Sign in to the fake exchange web UI as the owner of %s, "+
			"open Account → API Management, find the API key %s%s and click Delete, then confirm here. "+
			"The tool then probes the key until the exchange rejects it.", e.acct.Name, secret.Mask(r.key.ID), label),
		Verify: "key_rejected",
	}
}

func (e *Executor) revoke(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	p := req.Params
	method, ok := revokeMethods(p.Strings("ip_whitelist"))[p.String("method")]
	if !ok {
		return executors.Result{}, &executors.Error{Class: executors.ErrUnsupported, Op: "keys.revoke", Msg: fmt.Sprintf("method %q", p.String("method"))}
	}
	scope := p.String("scope")
	refs, err := e.readKeys(ctx, req, scope != "master")
	if err != nil {
		return executors.Result{}, err
	}
	var res executors.Result
	var targets []keyRef
	already := 0
	for _, r := range e.selectKeys(refs, p) {
		switch {
		case r.sub == "":
			res.Manual = append(res.Manual, e.masterStep(r))
		case method.needed(r.key):
			targets = append(targets, r)
		default:
			already++
		}
	}
	muts := make([]executors.Mutation, len(targets))
	var names []string
	for i, r := range targets {
		m := executors.Mutation{
			ID:           method.kind + ":" + r.sub + ":" + secret.Mask(r.key.ID),
			Kind:         method.kind,
			Target:       fmt.Sprintf("sub-account key %s of %s", secret.Mask(r.key.ID), r.sub),
			Irreversible: method.irreversible,
			Request:      map[string]string{"sub": r.sub, "api_key": secret.Mask(r.key.ID), "method": p.String("method")},
		}
		if r.key.Label != "" {
			m.Target += fmt.Sprintf(" (label %q)", r.key.Label)
		}
		if p.String("method") == "ip_lock" {
			m.Request["ip_whitelist"] = strings.Join(p.Strings("ip_whitelist"), ",")
		}
		muts[i] = m
		names = append(names, fmt.Sprintf("%s (%s)", secret.Mask(r.key.ID), r.sub))
	}
	change := func(m executors.Mutation) executors.Change {
		return executors.Change{Kind: m.Kind, Target: m.Target, Irreversible: m.Irreversible, ID: m.ID}
	}
	summary := func(verb string, n int) string {
		s := ""
		if n > 0 {
			s = fmt.Sprintf("%s %s: %s", verb, plural(n, "sub-account key"), listing(names[:n]))
		}
		if already > 0 {
			s = strings.TrimPrefix(s+fmt.Sprintf("; %d already neutralised", already), "; ")
		}
		for _, m := range res.Manual {
			s = strings.TrimPrefix(s+"; master key "+strings.TrimPrefix(m.Title, "Delete the master API key ")+" needs manual deletion in the web UI", "; ")
		}
		return s
	}
	res.Counts = map[string]int{"selected": len(targets), "already": already, "manual": len(res.Manual)}

	if len(targets) == 0 && len(res.Manual) == 0 {
		why := "no keys match the selection"
		if already > 0 {
			why = fmt.Sprintf("%d selected keys already neutralised", already)
		}
		return nothingToDo(why), nil
	}
	if plan {
		for _, m := range muts {
			res.Changes = append(res.Changes, change(m))
		}
		res.Status = executors.StatusWouldChange
		if len(targets) == 0 {
			res.Status = executors.StatusPending
		}
		res.Summary = summary(method.would, len(targets))
		return res, nil
	}
	for i, r := range targets {
		err := e.mutate(ctx, req, muts[i], func(a *account) error {
			s, j := a.subKey(r.sub, r.key.ID)
			if j < 0 {
				return nil // already gone: revoking converges
			}
			if method.apply == nil {
				e.v.deleted[r.key.ID] = true
				s.keys = slices.Delete(s.keys, j, j+1)
				return nil
			}
			method.apply(s.keys[j])
			return nil
		})
		if err != nil {
			res.Status = executors.StatusFailed
			res.Summary = summary(method.done, i) + fmt.Sprintf("; failed on %s", names[i])
			return res, err
		}
		res.Changes = append(res.Changes, change(muts[i]))
	}
	res.Counts["done"] = len(targets)
	res.Status = executors.StatusChanged
	if len(res.Manual) > 0 {
		res.Status = executors.StatusPending
	}
	res.Summary = summary(method.done, len(targets))
	return res, nil
}

func (e *Executor) verifyRejected(ctx context.Context, req executors.Request) (executors.Result, error) {
	key := req.Params.String("api_key")
	if key == "" {
		key = e.acct.APIKey.Reveal()
	}
	if key == "" {
		return executors.Result{}, &executors.Error{Class: executors.ErrRejected, Op: "keys.verify_rejected", Msg: "no api_key given and the account has none"}
	}
	masked := secret.Mask(key)
	interval, deadline := req.Params.Duration("interval"), req.Params.Duration("deadline")
	maxProbes := 1
	if interval > 0 {
		maxProbes = int(deadline/interval) + 2
	}
	start := e.env.Now()
	for probes := 1; ; probes++ {
		var rejected bool
		var why string
		c := call{account: e.acct.Name, action: req.Action, op: "probe key " + masked}
		err := e.v.do(ctx, c, func(*account) error {
			k := e.v.findKey(key)
			ok, reason := e.v.accepts(k)
			rejected, why = !ok, reason
			if k == nil && !e.v.deleted[key] {
				why = "unknown key"
			}
			return nil
		})
		if err != nil {
			return executors.Result{}, err
		}
		now := e.env.Now()
		if rejected {
			return executors.Result{Status: executors.StatusOK,
				Summary: fmt.Sprintf("key %s rejected by the exchange (-2015: %s) after %s", masked, why, plural(probes, "probe")),
				Data: map[string]string{"api_key": masked, "rejected_at": now.UTC().Format(time.RFC3339Nano),
					"code": "-2015", "reason": why, "probes": strconv.Itoa(probes)}}, nil
		}
		waited := now.Sub(start)
		if waited >= deadline || probes >= maxProbes {
			return executors.Result{Status: executors.StatusFailed,
				Summary: fmt.Sprintf("key %s still accepted after %s (%s)", masked, deadline, plural(probes, "probe")),
				Counts:  map[string]int{"probes": probes}}, nil
		}
		if err := e.env.Sleep(ctx, min(interval, deadline-waited)); err != nil {
			return executors.Result{}, executors.Classify(executors.ErrTransient, "probe key "+masked, err)
		}
	}
}

// ---- withdrawals -------------------------------------------------------

func (e *Executor) readWithdrawals(ctx context.Context, req executors.Request) ([]executors.Withdrawal, error) {
	since := e.env.Now().Add(-req.Params.Duration("since"))
	var out []executors.Withdrawal
	err := e.read(ctx, req, "list withdrawals", func(a *account) error {
		for _, w := range a.withdrawals {
			if w.Created.IsZero() || !w.Created.Before(since) {
				out = append(out, w)
			}
		}
		return nil
	})
	return out, err
}

func withdrawalText(w executors.Withdrawal) string {
	s := fmt.Sprintf("withdrawal %s of %s %s to %s", w.ID, w.Amount, w.Asset, w.Address)
	if w.Network != "" {
		s += " (" + w.Network + ")"
	}
	return s
}

func (e *Executor) withdrawalsList(ctx context.Context, req executors.Request) (executors.Result, error) {
	ws, err := e.readWithdrawals(ctx, req)
	if err != nil {
		return executors.Result{}, err
	}
	if ws == nil {
		ws = []executors.Withdrawal{}
	}
	res := executors.Result{Status: executors.StatusOK, Data: ws}
	for _, w := range ws {
		if !w.Pending {
			continue
		}
		f := executors.Finding{Severity: "high", Subject: "withdrawal " + w.ID, Message: "pending " + withdrawalText(w),
			Fix: "cancel it now: withdrawals.cancel_pending"}
		if !w.Cancellable {
			f.Fix = "the API cannot cancel it: contact the exchange's support through the official app only"
		}
		res.Findings = append(res.Findings, f)
	}
	res.Counts = map[string]int{"withdrawals": len(ws), "pending": len(res.Findings)}
	res.Summary = fmt.Sprintf("%s in the last %s, %d pending", plural(len(ws), "withdrawal"), req.Params.Duration("since"), len(res.Findings))
	return res, nil
}

func (e *Executor) cancelWithdrawals(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	ws, err := e.readWithdrawals(ctx, req)
	if err != nil {
		return executors.Result{}, err
	}
	var res executors.Result
	var targets []executors.Withdrawal
	for _, w := range ws {
		switch {
		case !w.Pending:
		case w.Cancellable:
			targets = append(targets, w)
		default:
			res.Manual = append(res.Manual, executors.ManualStep{
				Title: "Stop withdrawal " + w.ID,
				Instructions: fmt.Sprintf("The API cannot cancel %s (status %s). Contact the exchange's support through the official app only, "+
					"ask them to stop it, and watch the destination address.", withdrawalText(w), w.Status),
			})
		}
	}
	if len(targets) == 0 && len(res.Manual) == 0 {
		return nothingToDo("no pending withdrawals"), nil
	}
	muts := make([]executors.Mutation, len(targets))
	for i, w := range targets {
		muts[i] = executors.Mutation{ID: "cancel-withdrawal:" + w.ID, Kind: "cancel-withdrawal", Target: "cancel " + withdrawalText(w),
			Request: map[string]string{"withdrawal_id": w.ID}}
	}
	change := func(m executors.Mutation) executors.Change {
		return executors.Change{Kind: m.Kind, Target: m.Target, ID: m.ID}
	}
	tail := ""
	if len(res.Manual) > 0 {
		tail = fmt.Sprintf("; %d not cancellable by API: manual step", len(res.Manual))
	}
	if plan {
		for _, m := range muts {
			res.Changes = append(res.Changes, change(m))
		}
		res.Status = executors.StatusWouldChange
		if len(targets) == 0 {
			res.Status = executors.StatusPending
		}
		res.Summary = fmt.Sprintf("would cancel %s", plural(len(targets), "pending withdrawal")) + tail
		return res, nil
	}
	for i, w := range targets {
		err := e.mutate(ctx, req, muts[i], func(a *account) error {
			for j := range a.withdrawals {
				x := &a.withdrawals[j]
				if x.ID != w.ID {
					continue
				}
				if !x.Pending || !x.Cancellable {
					return &executors.Error{Class: executors.ErrRejected, Op: muts[i].Target, Code: "-1", Msg: "withdrawal is no longer cancellable (status " + x.Status + ")"}
				}
				x.Pending, x.Cancellable, x.Status = false, false, "cancelled"
				return nil
			}
			return &executors.Error{Class: executors.ErrRejected, Op: muts[i].Target, Msg: "withdrawal not found"}
		})
		if err != nil {
			res.Status = executors.StatusFailed
			res.Summary = fmt.Sprintf("cancelled %d of %s, then %s failed", i, plural(len(targets), "pending withdrawal"), w.ID) + tail
			return res, err
		}
		res.Changes = append(res.Changes, change(muts[i]))
	}
	res.Status = executors.StatusChanged
	if len(res.Manual) > 0 {
		res.Status = executors.StatusPending
	}
	res.Summary = fmt.Sprintf("cancelled %s", plural(len(targets), "pending withdrawal")) + tail
	return res, nil
}

// ---- positions, sweep, trades -------------------------------------------

func (e *Executor) closePositions(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	var prods []string
	for _, p := range products(req.Params) {
		if p == executors.ProductUSDM || p == executors.ProductCoinM {
			prods = append(prods, p)
		}
	}
	symbols := req.Params.Strings("symbols")
	var open []executors.Position
	err := e.read(ctx, req, "list positions", func(a *account) error {
		for _, p := range a.positions {
			if p.Sub == "" && slices.Contains(prods, p.Product) && (len(symbols) == 0 || slices.Contains(symbols, p.Symbol)) && decSign(p.Size) != 0 {
				open = append(open, p)
			}
		}
		return nil
	})
	if err != nil {
		return executors.Result{}, err
	}
	if len(open) == 0 {
		return nothingToDo("no open positions"), nil
	}
	var res executors.Result
	var muts []executors.Mutation
	var names []string
	for _, p := range open {
		side := "SELL"
		if decSign(p.Size) < 0 {
			side = "BUY"
		}
		qty := decAbs(p.Size)
		name := fmt.Sprintf("%s %s %s %s", p.Product, p.Symbol, p.Side, p.Size)
		names = append(names, name)
		muts = append(muts, executors.Mutation{
			ID: "close-position:" + p.Product + ":" + p.Symbol + ":" + p.Side, Kind: "close-position",
			Target:  fmt.Sprintf("close %s with a reduce-only market %s %s", name, side, qty),
			Request: map[string]string{"product": p.Product, "symbol": p.Symbol, "side": side, "qty": qty, "type": "MARKET", "reduce_only": "true"},
		})
	}
	change := func(i int) executors.Change {
		return executors.Change{Kind: muts[i].Kind, Target: muts[i].Target, Product: open[i].Product, Symbol: open[i].Symbol, ID: muts[i].ID}
	}
	if plan {
		for i := range muts {
			res.Changes = append(res.Changes, change(i))
		}
		res.Status = executors.StatusWouldChange
		res.Summary = fmt.Sprintf("would close %s: %s", plural(len(open), "position"), listing(names))
		return res, nil
	}
	now := e.env.Now()
	for i, p := range open {
		err := e.mutate(ctx, req, muts[i], func(a *account) error {
			for j, x := range a.positions {
				if x.Sub == "" && x.Product == p.Product && x.Symbol == p.Symbol && x.Side == p.Side {
					a.positions = slices.Delete(a.positions, j, j+1)
					e.v.nextID++
					a.trades = append(a.trades, executors.Trade{Product: p.Product, Symbol: p.Symbol, ID: strconv.Itoa(e.v.nextID),
						Side: muts[i].Request["side"], Price: p.MarkPrice, Qty: muts[i].Request["qty"], Time: now})
					return nil
				}
			}
			return nil // already flat
		})
		if err != nil {
			res.Status = executors.StatusFailed
			res.Summary = fmt.Sprintf("closed %d of %s, then %s failed", i, plural(len(open), "position"), names[i])
			return res, err
		}
		res.Changes = append(res.Changes, change(i))
	}
	res.Status = executors.StatusChanged
	res.Summary = fmt.Sprintf("closed %s: %s", plural(len(open), "position"), listing(names))
	return res, nil
}

func (e *Executor) sweep(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	subs, assets := req.Params.Strings("sub_accounts"), req.Params.Strings("assets")
	var free []executors.Balance
	err := e.read(ctx, req, "list sub-account balances", func(a *account) error {
		for _, b := range a.balances {
			if b.Sub != "" && (len(subs) == 0 || slices.Contains(subs, b.Sub)) && (len(assets) == 0 || slices.Contains(assets, b.Asset)) && decSign(b.Free) > 0 {
				free = append(free, b)
			}
		}
		return nil
	})
	if err != nil {
		return executors.Result{}, err
	}
	if len(free) == 0 {
		return nothingToDo("no free sub-account balances"), nil
	}
	var res executors.Result
	muts := make([]executors.Mutation, len(free))
	for i, b := range free {
		muts[i] = executors.Mutation{ID: "transfer:" + b.Sub + ":" + b.Wallet + ":" + b.Asset, Kind: "transfer",
			Target:  fmt.Sprintf("move %s %s from sub-account %s (%s) to the master's spot wallet", b.Free, b.Asset, b.Sub, b.Wallet),
			Request: map[string]string{"from_sub": b.Sub, "wallet": b.Wallet, "asset": b.Asset, "amount": b.Free}}
	}
	change := func(m executors.Mutation) executors.Change {
		return executors.Change{Kind: m.Kind, Target: m.Target, ID: m.ID}
	}
	if plan {
		for _, m := range muts {
			res.Changes = append(res.Changes, change(m))
		}
		res.Status = executors.StatusWouldChange
		res.Summary = fmt.Sprintf("would move %s from sub-accounts to the master", plural(len(free), "balance"))
		return res, nil
	}
	for i, b := range free {
		err := e.mutate(ctx, req, muts[i], func(a *account) error {
			for j := range a.balances {
				x := &a.balances[j]
				if x.Sub != b.Sub || x.Wallet != b.Wallet || x.Asset != b.Asset {
					continue
				}
				amt := x.Free
				x.Total, x.Free = decSub(x.Total, amt), decSub(amt, amt)
				a.credit(b.Asset, amt)
				return nil
			}
			return nil
		})
		if err != nil {
			res.Status = executors.StatusFailed
			res.Summary = fmt.Sprintf("moved %d of %s, then %s failed", i, plural(len(free), "balance"), muts[i].Target)
			return res, err
		}
		res.Changes = append(res.Changes, change(muts[i]))
	}
	res.Status = executors.StatusChanged
	res.Summary = fmt.Sprintf("moved %s from sub-accounts to the master", plural(len(free), "balance"))
	return res, nil
}

// credit adds amt of asset to the master's spot wallet.
func (a *account) credit(asset, amt string) {
	for j := range a.balances {
		x := &a.balances[j]
		if x.Sub == "" && x.Wallet == executors.ProductSpot && x.Asset == asset {
			x.Free, x.Total = decAdd(x.Free, amt), decAdd(x.Total, amt)
			return
		}
	}
	a.balances = append(a.balances, executors.Balance{Wallet: executors.ProductSpot, Asset: asset, Free: amt, Locked: "0", Total: amt})
}

func (e *Executor) tradesRecent(ctx context.Context, req executors.Request) (executors.Result, error) {
	since := e.env.Now().Add(-req.Params.Duration("since"))
	symbols := req.Params.Strings("symbols")
	ts := []executors.Trade{}
	err := e.read(ctx, req, "list recent trades", func(a *account) error {
		for _, t := range a.trades {
			if !t.Time.Before(since) && (len(symbols) == 0 || slices.Contains(symbols, t.Symbol)) {
				ts = append(ts, t)
			}
		}
		return nil
	})
	if err != nil {
		return executors.Result{}, err
	}
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].Time.Before(ts[j].Time) })
	syms := map[string]bool{}
	for _, t := range ts {
		syms[t.Symbol] = true
	}
	return executors.Result{Status: executors.StatusOK, Data: ts, Counts: map[string]int{"trades": len(ts)},
		Summary: fmt.Sprintf("%s in the last %s on %s", plural(len(ts), "trade"), req.Params.Duration("since"), plural(len(syms), "symbol"))}, nil
}

// groupIDs lists the ids of the orders of one (product, symbol).
func groupIDs(orders []executors.Order, product, symbol string) []string {
	var ids []string
	for _, o := range orders {
		if o.Product == product && o.Symbol == symbol {
			ids = append(ids, o.ID)
		}
	}
	return ids
}
