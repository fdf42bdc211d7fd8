package kucoin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/panicbutton/panicbutton/executors"
)

// accountItem is an item of GET /api/v1/accounts.
type accountItem struct {
	ID        string `json:"id"`
	Currency  string `json:"currency"`
	Type      string `json:"type"`
	Balance   flex   `json:"balance"`
	Available flex   `json:"available"`
	Holds     flex   `json:"holds"`
}

// marginAsset is a cross margin account item or an isolated base/quote asset.
type marginAsset struct {
	Currency  string `json:"currency"`
	Total     flex   `json:"total"`
	Available flex   `json:"available"`
	Hold      flex   `json:"hold"`
	Liability flex   `json:"liability"`
}

// subAccountBalances is an item of GET /api/v2/sub-accounts.
type subAccountBalances struct {
	SubUserID       string        `json:"subUserId"`
	SubName         string        `json:"subName"`
	MainAccounts    []subCurrency `json:"mainAccounts"`
	TradeAccounts   []subCurrency `json:"tradeAccounts"`
	TradeHFAccounts []subCurrency `json:"tradeHFAccounts"`
	MarginAccounts  []subCurrency `json:"marginAccounts"`
}

type subCurrency struct {
	Currency  string `json:"currency"`
	Balance   flex   `json:"balance"`
	Available flex   `json:"available"`
	Holds     flex   `json:"holds"`
}

// wallets of a sub-account, with the universal-transfer account type each
// sweeps from ("" for wallets funds.sweep leaves alone).
func (s subAccountBalances) wallets() []struct {
	name, transferType string
	items              []subCurrency
} {
	return []struct {
		name, transferType string
		items              []subCurrency
	}{
		{"main", "MAIN", s.MainAccounts},
		{"trade", "TRADE", s.TradeAccounts},
		// The current spec's account types have no TRADE_HF (EXCHANGES.md
		// C8): HF balances are swept as TRADE; sendSweep falls back to the
		// old TRADE_HF where TRADE is refused.
		{"trade_hf", "TRADE", s.TradeHFAccounts},
		{"margin", "", s.MarginAccounts},
	}
}

func (x *Executor) subAccountBalances(ctx context.Context) ([]subAccountBalances, error) {
	return listPaged[subAccountBalances](ctx, x, x.spot, "list sub-account balances", "/api/v2/sub-accounts", nil, 100)
}

// snapshot reads every wallet; parts that cannot be read are named in
// Snapshot.Errors (an auth failure on the first read fails the action).
func (x *Executor) snapshot(ctx context.Context, req executors.Request) (executors.Result, error) {
	snap := &executors.Snapshot{Account: x.acct.Name, Exchange: Exchange, TakenAt: x.env.Now().UTC(),
		Balances: []executors.Balance{}, Positions: []executors.Position{}}
	var unreachable error // first part that failed for a reason other than permissions
	partial := func(what string, err error) {
		snap.Errors = append(snap.Errors, fmt.Sprintf("%s: %v", what, err))
		if unreachable == nil && !errors.Is(err, executors.ErrAuth) && !errors.Is(err, executors.ErrRejected) && !errors.Is(err, executors.ErrUnsupported) {
			unreachable = err
		}
	}

	// The parts are independent reads: all go out at once (the
	// sub-accounts' balances after the calling key's record, which says
	// whether it is a master's), so the snapshot takes two round trips.
	// Each part fills its own slot; they are joined in this order.
	parts := []snapPart{
		{"accounts", x.snapAccounts},
		{"cross margin", x.snapCross},
		{"isolated margin", x.snapIsolated},
		{"futures account USDT", func(ctx context.Context, out *partResult) error { return x.snapFutures(ctx, "USDT", out) }},
		{"futures account XBT", func(ctx context.Context, out *partResult) error { return x.snapFutures(ctx, "XBT", out) }},
		{"futures positions", x.snapPositions},
	}
	if req.Params.Bool("include_sub_accounts") {
		parts = append(parts, snapPart{"sub-accounts", x.snapSubAccounts})
	}
	results := make([]partResult, len(parts))
	parallel(len(parts), len(parts), func(i int) {
		results[i].err = parts[i].read(ctx, &results[i])
	})
	if err := results[0].err; errors.Is(err, executors.ErrAuth) {
		return executors.Result{Status: executors.StatusFailed, Summary: "could not read balances"}, err
	}
	for i, r := range results {
		snap.Balances = append(snap.Balances, r.balances...)
		snap.Wallets = append(snap.Wallets, r.wallets...)
		snap.Positions = append(snap.Positions, r.positions...)
		if r.err != nil {
			what := parts[i].name
			if r.what != "" {
				what = r.what
			}
			partial(what, r.err)
		}
	}
	sort.SliceStable(snap.Balances, func(i, j int) bool {
		a, b := snap.Balances[i], snap.Balances[j]
		if a.Sub != b.Sub {
			return a.Sub < b.Sub
		}
		if a.Wallet != b.Wallet {
			return a.Wallet < b.Wallet
		}
		return a.Asset < b.Asset
	})
	subs := map[string]bool{}
	for _, b := range snap.Balances {
		if b.Sub != "" {
			subs[b.Sub] = true
		}
	}
	sum := fmt.Sprintf("%d balances, %d futures positions", len(snap.Balances), len(snap.Positions))
	if len(subs) > 0 {
		sum += fmt.Sprintf(", %d sub-accounts", len(subs))
	}
	if len(snap.Errors) > 0 {
		sum += fmt.Sprintf(" (%d parts unreadable: %s)", len(snap.Errors), strings.Join(snap.Errors, "; "))
	}
	res := executors.Result{Status: executors.StatusOK, Summary: sum, Data: snap,
		Counts: map[string]int{"balances": len(snap.Balances), "positions": len(snap.Positions)}}
	if unreachable != nil {
		// Parts were not read for a reason that is not the key's
		// permissions (network, venue down): the snapshot is incomplete
		// and must not pass for a baseline. Retryable by class.
		res.Status, res.Summary = executors.StatusFailed, "incomplete snapshot: "+sum
		return res, unreachable
	}
	return res, nil
}

// snapPart is one independent read of a snapshot.
type snapPart struct {
	name string
	read func(ctx context.Context, out *partResult) error
}

// partResult is what one part of a snapshot read.
type partResult struct {
	balances  []executors.Balance
	wallets   []executors.WalletTotal
	positions []executors.Position
	what      string // names the failed read when the part's name is not precise
	err       error
}

// snapAccounts reads the main, trade and HF wallets (GET /api/v1/accounts).
func (x *Executor) snapAccounts(ctx context.Context, out *partResult) error {
	var accts []accountItem
	if err := x.call(ctx, x.spot, "read accounts", false, http.MethodGet, "/api/v1/accounts", nil, &accts); err != nil {
		return err
	}
	for _, a := range accts {
		if isZero(a.Balance.String()) && isZero(a.Holds.String()) {
			continue
		}
		out.balances = append(out.balances, executors.Balance{Wallet: a.Type, Asset: a.Currency,
			Free: a.Available.String(), Locked: a.Holds.String(), Total: a.Balance.String()})
	}
	return nil
}

// snapCross reads the cross margin account.
func (x *Executor) snapCross(ctx context.Context, out *partResult) error {
	var cross struct {
		TotalAsset     flex          `json:"totalAssetOfQuoteCurrency"`
		TotalLiability flex          `json:"totalLiabilityOfQuoteCurrency"`
		Accounts       []marginAsset `json:"accounts"`
	}
	if err := x.call(ctx, x.spot, "read cross margin account", false, http.MethodGet, "/api/v3/margin/accounts",
		q("quoteCurrency", "USDT", "queryType", "MARGIN"), &cross); err != nil {
		return err
	}
	for _, a := range cross.Accounts {
		if b, ok := marginBalance("", "margin", a); ok {
			out.balances = append(out.balances, b)
		}
	}
	if cross.TotalAsset != "" && !isZero(cross.TotalAsset.String()) {
		out.wallets = append(out.wallets, executors.WalletTotal{Wallet: "margin", Asset: "USDT", Value: cross.TotalAsset.String()})
	}
	return nil
}

// snapIsolated reads the isolated margin accounts.
func (x *Executor) snapIsolated(ctx context.Context, out *partResult) error {
	var iso struct {
		TotalAsset flex `json:"totalAssetOfQuoteCurrency"`
		Assets     []struct {
			Symbol     string      `json:"symbol"`
			BaseAsset  marginAsset `json:"baseAsset"`
			QuoteAsset marginAsset `json:"quoteAsset"`
		} `json:"assets"`
	}
	if err := x.call(ctx, x.spot, "read isolated margin accounts", false, http.MethodGet, "/api/v3/isolated/accounts",
		q("quoteCurrency", "USDT", "queryType", "ISOLATED"), &iso); err != nil {
		return err
	}
	for _, a := range iso.Assets {
		for _, m := range []marginAsset{a.BaseAsset, a.QuoteAsset} {
			if b, ok := marginBalance("", "isolated_margin:"+a.Symbol, m); ok {
				out.balances = append(out.balances, b)
			}
		}
	}
	if iso.TotalAsset != "" && !isZero(iso.TotalAsset.String()) {
		out.wallets = append(out.wallets, executors.WalletTotal{Wallet: "isolated_margin", Asset: "USDT", Value: iso.TotalAsset.String()})
	}
	return nil
}

// snapFutures reads the futures account of one settlement currency.
func (x *Executor) snapFutures(ctx context.Context, cur string, out *partResult) error {
	var ov struct {
		AccountEquity    flex   `json:"accountEquity"`
		MarginBalance    flex   `json:"marginBalance"`
		AvailableBalance flex   `json:"availableBalance"`
		Currency         string `json:"currency"`
	}
	if err := x.call(ctx, x.futures, "read futures account "+cur, false, http.MethodGet, "/api/v1/account-overview", q("currency", cur), &ov); err != nil {
		return err
	}
	total := ov.MarginBalance.String()
	if total == "" {
		total = ov.AccountEquity.String()
	}
	if isZero(total) && isZero(ov.AccountEquity.String()) {
		return nil
	}
	asset := ov.Currency
	if asset == "" {
		asset = cur
	}
	out.balances = append(out.balances, executors.Balance{Wallet: "futures", Asset: asset,
		Free: ov.AvailableBalance.String(), Locked: subDec(total, ov.AvailableBalance.String()), Total: total})
	if ov.AccountEquity != "" {
		out.wallets = append(out.wallets, executors.WalletTotal{Wallet: "futures", Asset: asset, Value: ov.AccountEquity.String()})
	}
	return nil
}

// snapPositions reads the open futures positions.
func (x *Executor) snapPositions(ctx context.Context, out *partResult) error {
	ps, err := x.listPositions(ctx)
	if err != nil {
		return err
	}
	for _, p := range ps {
		out.positions = append(out.positions, p.public(""))
	}
	return nil
}

// snapSubAccounts reads the sub-accounts' balances when the calling key is
// a master's (two dependent requests: the key's record, then the list).
func (x *Executor) snapSubAccounts(ctx context.Context, out *partResult) error {
	self, err := x.whoami(ctx)
	if err != nil {
		out.what = "calling key (to know whether it is a master)"
		return err
	}
	if !self.IsMaster {
		return nil
	}
	subs, err := x.subAccountBalances(ctx)
	for _, s := range subs {
		for _, w := range s.wallets() {
			for _, c := range w.items {
				if isZero(c.Balance.String()) && isZero(c.Holds.String()) {
					continue
				}
				out.balances = append(out.balances, executors.Balance{Sub: s.SubName, Wallet: w.name, Asset: c.Currency,
					Free: c.Available.String(), Locked: c.Holds.String(), Total: c.Balance.String()})
			}
		}
	}
	if err != nil {
		out.what = "sub-account balances"
	}
	return err
}

func marginBalance(sub, wallet string, a marginAsset) (executors.Balance, bool) {
	if a.Currency == "" || (isZero(a.Total.String()) && isZero(a.Liability.String())) {
		return executors.Balance{}, false
	}
	b := executors.Balance{Sub: sub, Wallet: wallet, Asset: a.Currency, Free: a.Available.String(),
		Locked: a.Hold.String(), Total: a.Total.String()}
	if !isZero(a.Liability.String()) {
		b.Borrowed = a.Liability.String()
	}
	return b, true
}

// sweepTarget is one universal transfer SUB_TO_PARENT.
type sweepTarget struct {
	sub, subUserID, wallet, transferType, asset, amount string
}

func (t sweepTarget) change() executors.Change {
	return executors.Change{Kind: "transfer", Target: fmt.Sprintf("move %s %s from sub %s (%s) to the master's main account", t.amount, t.asset, t.sub, t.wallet),
		ID: "transfer:" + t.sub + ":" + t.wallet + ":" + t.asset}
}

// sweepTargets lists what funds.sweep would move: every free balance of the
// chosen subs' main and trade wallets.
func (x *Executor) sweepTargets(ctx context.Context, subs, assets []string) ([]sweepTarget, error) {
	all, err := x.subAccountBalances(ctx)
	if err != nil {
		return nil, err
	}
	var out []sweepTarget
	for _, s := range all {
		if len(subs) > 0 && !containsFold(subs, s.SubName) {
			continue
		}
		for _, w := range s.wallets() {
			if w.transferType == "" {
				continue
			}
			for _, c := range w.items {
				if !isPositive(c.Available.String()) || (len(assets) > 0 && !containsFold(assets, c.Currency)) {
					continue
				}
				out = append(out, sweepTarget{sub: s.SubName, subUserID: s.SubUserID, wallet: w.name, transferType: w.transferType,
					asset: c.Currency, amount: c.Available.String()})
			}
		}
	}
	return out, nil
}

// sendSweep performs one universal transfer through req.Mutate. HF
// balances go out as TRADE, the current spec's type (EXCHANGES.md C8);
// when the venue refuses that before moving anything, a second transfer
// (its own audit intent) tries the old TRADE_HF that older accounts know.
func (x *Executor) sendSweep(ctx context.Context, req executors.Request, t sweepTarget) error {
	err := x.sendSweepAs(ctx, req, t, t.transferType, "")
	if t.wallet == "trade_hf" && errors.Is(err, executors.ErrRejected) && !errors.Is(err, executors.ErrAudit) {
		return x.sendSweepAs(ctx, req, t, "TRADE_HF", ":TRADE_HF")
	}
	return err
}

func (x *Executor) sendSweepAs(ctx context.Context, req executors.Request, t sweepTarget, fromType, idSuffix string) error {
	c := t.change()
	body := map[string]any{"clientOid": x.clientOid("sweep"), "type": "SUB_TO_PARENT", "currency": t.asset, "amount": t.amount,
		"fromUserId": t.subUserID, "fromAccountType": fromType, "toAccountType": "MAIN"}
	m := executors.Mutation{ID: c.ID + idSuffix, Kind: "transfer", Target: c.Target,
		Request: map[string]string{"method": http.MethodPost, "path": "/api/v3/accounts/universal-transfer", "type": "SUB_TO_PARENT",
			"currency": t.asset, "amount": t.amount, "fromUserId": t.subUserID, "subName": t.sub, "fromAccountType": fromType, "toAccountType": "MAIN"}}
	return req.Mutate(ctx, m, func(ctx context.Context) error {
		return x.call(ctx, x.spot, "sweep "+t.asset+" from sub "+t.sub, true, http.MethodPost, "/api/v3/accounts/universal-transfer", body, nil)
	})
}

// sweep moves the free balances of sub-accounts to the master.
func (x *Executor) sweep(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	self, err := x.whoami(ctx)
	if err != nil {
		return executors.Result{Status: executors.StatusFailed, Summary: "could not read the calling key"}, err
	}
	if !self.IsMaster {
		return executors.Result{Status: executors.StatusSkipped, Summary: "the calling key is not a master key: no sub-accounts to sweep"}, nil
	}
	targets, err := x.sweepTargets(ctx, req.Params.Strings("sub_accounts"), req.Params.Strings("assets"))
	if err != nil {
		return executors.Result{Status: executors.StatusFailed, Summary: "could not read sub-account balances"}, err
	}
	if len(targets) == 0 {
		return executors.Result{Status: executors.StatusOK, Summary: "no free sub-account balances: nothing to do"}, nil
	}
	res := executors.Result{Counts: map[string]int{}}
	if plan {
		for _, t := range targets {
			res.Changes = append(res.Changes, t.change())
		}
		res.Status, res.Summary = executors.StatusWouldChange, fmt.Sprintf("would move %d sub-account balances to the master", len(targets))
		return res, nil
	}
	errs, err := x.sendSweeps(ctx, req, targets, &res)
	if err != nil {
		return res, err
	}
	res.Counts["moved"], res.Counts["failed"] = len(res.Changes), len(res.Remaining)
	if len(errs) > 0 {
		res.Status, res.Summary = executors.StatusFailed, fmt.Sprintf("moved %d of %d sub-account balances", len(res.Changes), len(targets))
		return res, firstClassified(errors.Join(errs...))
	}
	res.Status, res.Summary = executors.StatusChanged, fmt.Sprintf("moved %d sub-account balances to the master", len(res.Changes))
	return res, nil
}

// sendSweeps moves each target's balance to the master, one after
// another: a sent move goes to res.Changes, a failed one to res.Remaining
// with its error in errs. An audit trail that refuses an intent stops
// them: res says so and the refusal is returned as stop.
func (x *Executor) sendSweeps(ctx context.Context, req executors.Request, targets []sweepTarget, res *executors.Result) (errs []error, stop error) {
	for _, t := range targets {
		err := x.sendSweep(ctx, req, t)
		if errors.Is(err, executors.ErrAudit) {
			res.Status, res.Summary = executors.StatusFailed, "audit trail refused a transfer intent; stopped"
			return errs, err
		}
		if err != nil {
			errs = append(errs, err)
			res.Remaining = append(res.Remaining, t.change())
			continue
		}
		res.Changes = append(res.Changes, t.change())
	}
	return errs, nil
}
