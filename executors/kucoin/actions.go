package kucoin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

// deadman arms the spot HF dead-cancel-all timer. The SDK's
// HfAutoCancelSetting sends the JSON key "symbol"; the API reads "symbols",
// so the request is hand-built.
func (x *Executor) deadman(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	sel := selectionOf(req.Params)
	var findings []executors.Finding
	if sel.cross || sel.isolated || sel.futures {
		findings = append(findings, executors.Finding{Severity: "info", Subject: "dead-man switch",
			Message: "KuCoin's dead-cancel-all covers spot HF orders only; margin and futures orders are not covered",
			Fix:     "cancel margin and futures orders with orders.cancel_all"})
	}
	if !sel.spot {
		return executors.Result{Status: executors.StatusSkipped, Summary: "KuCoin has a dead-man switch for spot HF orders only: nothing to do",
			Findings: findings}, nil
	}
	secs := int(req.Params.Duration("countdown") / time.Second)
	secs = min(max(secs, 5), 86400)
	var syms []string
	for s := range sel.symbols {
		syms = append(syms, s)
	}
	sort.Strings(syms)
	scope := "all symbols"
	body := map[string]any{"timeout": secs}
	if len(syms) > 0 {
		scope = strings.Join(syms, ",")
		body["symbols"] = scope
	}
	m := executors.Mutation{ID: "deadman:spot-hf", Kind: "deadman",
		Target:  fmt.Sprintf("spot HF dead-cancel-all in %ds (%s)", secs, scope),
		Request: map[string]string{"method": http.MethodPost, "path": "/api/v1/hf/orders/dead-cancel-all", "timeout": fmt.Sprint(secs), "symbols": strings.Join(syms, ",")}}
	change := executors.Change{Kind: "deadman", Target: m.Target, Product: executors.ProductSpot, ID: m.ID}
	if plan {
		return executors.Result{Status: executors.StatusWouldChange, Summary: "would arm " + m.Target,
			Changes: []executors.Change{change}, Findings: findings}, nil
	}
	var out struct {
		CurrentTime int64 `json:"currentTime"`
		TriggerTime int64 `json:"triggerTime"`
	}
	err := req.Mutate(ctx, m, func(ctx context.Context) error {
		return x.call(ctx, x.spot, "arm dead-cancel-all", true, http.MethodPost, "/api/v1/hf/orders/dead-cancel-all", body, &out)
	})
	if err != nil {
		return executors.Result{Status: executors.StatusFailed, Summary: "could not arm the dead-man switch", Findings: findings}, err
	}
	sum := "armed " + m.Target
	if out.TriggerTime > 0 {
		sum += ", triggers at " + time.Unix(out.TriggerTime, 0).UTC().Format(time.RFC3339)
	}
	return executors.Result{Status: executors.StatusChanged, Summary: sum, Changes: []executors.Change{change}, Findings: findings}, nil
}

// withdrawalItem is an item of GET /api/v1/withdrawals.
type withdrawalItem struct {
	ID        string `json:"id"`
	Currency  string `json:"currency"`
	Chain     string `json:"chain"`
	Status    string `json:"status"`
	Address   string `json:"address"`
	Memo      string `json:"memo"`
	IsInner   bool   `json:"isInner"`
	Amount    flex   `json:"amount"`
	Fee       flex   `json:"fee"`
	CreatedAt int64  `json:"createdAt"`
}

func (w withdrawalItem) public() executors.Withdrawal {
	pending := w.Status == "REVIEW" || w.Status == "PROCESSING" || w.Status == "WALLET_PROCESSING"
	return executors.Withdrawal{ID: w.ID, Asset: w.Currency, Amount: w.Amount.String(), Address: w.Address,
		Network: w.Chain, Status: w.Status, Pending: pending, Cancellable: w.Status == "PROCESSING", Created: msTime(w.CreatedAt)}
}

// withdrawalCurrencies are always checked, whatever the balances say.
var withdrawalCurrencies = []string{"USDT", "BTC", "ETH", "USDC"}

// listWithdrawals lists withdrawals per currency (the endpoint requires
// one): the common ones and every currency the account holds.
func (x *Executor) listWithdrawals(ctx context.Context, since time.Duration) ([]withdrawalItem, error) {
	curs := append([]string(nil), withdrawalCurrencies...)
	var accts []accountItem
	if err := x.call(ctx, x.spot, "read accounts", false, http.MethodGet, "/api/v1/accounts", nil, &accts); err != nil {
		return nil, err
	}
	for _, a := range accts {
		curs = append(curs, a.Currency)
	}
	// One list per currency, independent of each other: read them
	// concurrently (the pacer keeps them within the pool).
	curs = sortedUnique(curs)
	lists := make([][]withdrawalItem, len(curs))
	errs := make([]error, len(curs))
	parallel(len(curs), listParallel, func(i int) {
		params := q("currency", curs[i])
		if since > 0 {
			params.Set("startAt", fmt.Sprint(x.env.Now().Add(-since).UnixMilli()))
		}
		lists[i], errs[i] = listPaged[withdrawalItem](ctx, x, x.spot, "list "+curs[i]+" withdrawals", "/api/v1/withdrawals", params, 100)
	})
	var out []withdrawalItem
	for i := range curs {
		out = append(out, lists[i]...)
		if errs[i] != nil {
			return out, errs[i]
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt > out[j].CreatedAt })
	return out, nil
}

func withdrawalSubject(w executors.Withdrawal) string {
	return fmt.Sprintf("withdrawal %s: %s %s to %s", w.ID, w.Amount, w.Asset, w.Address)
}

func withdrawalFinding(w executors.Withdrawal) executors.Finding {
	f := executors.Finding{Severity: "high", Subject: withdrawalSubject(w), Message: "pending withdrawal, status " + w.Status}
	if w.Cancellable {
		f.Fix = "cancel it: withdrawals.cancel_pending (needs a key with the Withdrawal permission)"
	} else {
		f.Fix = "it can no longer be cancelled through the API: contact KuCoin support through the official app at once"
	}
	return f
}

func (x *Executor) withdrawalsList(ctx context.Context, req executors.Request) (executors.Result, error) {
	items, err := x.listWithdrawals(ctx, req.Params.Duration("since"))
	if err != nil {
		return executors.Result{Status: executors.StatusFailed, Summary: "could not list withdrawals"}, err
	}
	res := executors.Result{Status: executors.StatusOK, Counts: map[string]int{}}
	var ws []executors.Withdrawal
	for _, it := range items {
		w := it.public()
		ws = append(ws, w)
		if w.Pending {
			res.Counts["pending"]++
			res.Findings = append(res.Findings, withdrawalFinding(w))
		}
	}
	res.Counts["withdrawals"] = len(ws)
	res.Data = ws
	res.Summary = fmt.Sprintf("%d withdrawals, %d pending", len(ws), res.Counts["pending"])
	return res, nil
}

// manualWithdrawalStep is the UI path to cancel a withdrawal by hand.
func manualWithdrawalStep(w executors.Withdrawal, why string) executors.ManualStep {
	return executors.ManualStep{
		Title: "Cancel KuCoin withdrawal " + w.ID + " by hand",
		Instructions: why + " In the KuCoin app or web: Assets → History (Deposit & Withdrawal) → Withdrawals → " +
			fmt.Sprintf("withdrawal %s (%s %s to %s) → Cancel. If no Cancel button is shown, contact KuCoin support through the official app only.", w.ID, w.Amount, w.Asset, w.Address),
	}
}

func (x *Executor) cancelWithdrawals(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	since := req.Params.Duration("since")
	items, err := x.listWithdrawals(ctx, since)
	if err != nil {
		return executors.Result{Status: executors.StatusFailed, Summary: "could not list withdrawals"}, err
	}
	res := executors.Result{Counts: map[string]int{}}
	listed := make([]executors.Withdrawal, 0, len(items))
	for _, it := range items {
		listed = append(listed, it.public())
	}
	res.Data = listed // what was seen (rehearsals rebuild it)
	var targets []executors.Withdrawal
	for _, it := range items {
		w := it.public()
		if !w.Pending {
			continue
		}
		if w.Cancellable {
			targets = append(targets, w)
			continue
		}
		res.Findings = append(res.Findings, withdrawalFinding(w))
		res.Manual = append(res.Manual, manualWithdrawalStep(w, "The API cannot cancel a withdrawal in status "+w.Status+"."))
	}
	change := func(w executors.Withdrawal) executors.Change {
		return executors.Change{Kind: "cancel-withdrawal", Target: withdrawalSubject(w), ID: w.ID}
	}
	if len(targets) == 0 {
		res.Status, res.Summary = executors.StatusOK, "no cancellable pending withdrawals: nothing to do"
		if len(res.Manual) > 0 {
			res.Status, res.Summary = executors.StatusPending, fmt.Sprintf("%d pending withdrawals the API cannot cancel: manual steps", len(res.Manual))
		}
		return res, nil
	}
	if plan {
		for _, w := range targets {
			res.Changes = append(res.Changes, change(w))
		}
		res.Status = executors.StatusWouldChange
		res.Summary = fmt.Sprintf("would cancel %d pending withdrawals", len(targets))
		return res, nil
	}
	// Rounds, until nothing is left to send or the step's deadline leaves
	// no room (FORMAT.md "Persistence"): a cancel whose outcome is
	// unknown (5xx, timeout) is never repeated blindly; the re-list after
	// each round settles it, and only a withdrawal still PROCESSING is
	// sent again.
	var errs []error
	failed := map[string]error{} // latest error of a withdrawal not settled
	noPermission := false
	var sent []executors.Withdrawal
	// relisted is the last listing of the rounds, current while no cancel
	// went out after it: the confirmation below reads it instead of
	// listing again.
	var relisted []withdrawalItem
	current := false
	round := targets
	for attempt := 0; len(round) > 0; attempt++ {
		var again []executors.Withdrawal
		current = false
		for _, w := range round {
			if noPermission {
				res.Manual = append(res.Manual, manualWithdrawalStep(w, "Our API key lacks the Withdrawal permission needed to cancel it."))
				continue
			}
			m := executors.Mutation{ID: "cancel-withdrawal:" + w.ID, Kind: "cancel-withdrawal", Target: withdrawalSubject(w),
				Request: map[string]string{"method": http.MethodDelete, "path": "/api/v1/withdrawals/" + w.ID}}
			err := req.Mutate(ctx, m, func(ctx context.Context) error {
				// data is null on success (the SDK's result model never fills).
				return x.call(ctx, x.spot, "cancel withdrawal "+w.ID, true, http.MethodDelete, "/api/v1/withdrawals/"+w.ID, nil, nil)
			})
			delete(failed, w.ID) // this send's outcome replaces the last one's
			switch {
			case errors.Is(err, executors.ErrAudit):
				res.Status, res.Summary = executors.StatusFailed, "audit trail refused a cancel intent; stopped"
				return res, err
			case codeOf(err) == "400007":
				noPermission = true
				res.Manual = append(res.Manual, manualWithdrawalStep(w, "Our API key lacks the Withdrawal permission needed to cancel it (400007)."))
			case err != nil && executors.Retryable(err):
				failed[w.ID] = err
				again = append(again, w)
			case err != nil:
				errs = append(errs, err)
			default:
				sent = append(sent, w)
			}
		}
		if len(again) == 0 {
			break
		}
		// Settle the unknown outcomes: a withdrawal no longer processing
		// was cancelled after all (or went out: either way, nothing to
		// send); one still processing is sent again, while there is time.
		after, err := x.listWithdrawals(ctx, since)
		if err != nil {
			break
		}
		relisted, current = after, true
		processing := map[string]bool{}
		for _, it := range after {
			if it.Status == "PROCESSING" {
				processing[it.ID] = true
			}
		}
		round = round[:0:0]
		for _, w := range again {
			if processing[w.ID] {
				round = append(round, w)
				continue
			}
			delete(failed, w.ID)
			sent = append(sent, w) // the confirming re-list below decides
		}
		wait := x.retry.Backoff(attempt, 0)
		if len(round) == 0 || !x.retry.Room(ctx, wallNow(), attempt+1, wait) || x.env.Sleep(ctx, wait) != nil {
			break
		}
	}
	for _, err := range failed {
		errs = append(errs, err)
	}
	// Confirm by re-listing: a cancelled withdrawal ends FAILURE. One
	// that moved on instead (its cancel's outcome was unknown, and the
	// venue went on processing it) was not cancelled: it is said so, with
	// the manual step, never counted as cancelled.
	status := map[string]string{}
	if len(sent) > 0 {
		if !current {
			var err error
			if relisted, err = x.listWithdrawals(ctx, since); err != nil {
				errs = append(errs, err)
			}
		}
		for _, it := range relisted {
			status[it.ID] = it.Status
		}
	}
	for _, w := range sent {
		switch st := status[w.ID]; st {
		case "FAILURE":
			res.Changes = append(res.Changes, change(w))
		case "PROCESSING", "":
			res.Remaining = append(res.Remaining, change(w))
		default:
			res.Remaining = append(res.Remaining, change(w))
			w.Status, w.Cancellable = st, false
			res.Findings = append(res.Findings, withdrawalFinding(w))
			res.Manual = append(res.Manual, manualWithdrawalStep(w, "It was not cancelled: the exchange went on processing it (status "+st+")."))
		}
	}
	res.Counts["cancelled"] = len(res.Changes)
	res.Counts["remaining"] = len(res.Remaining)
	res.Counts["manual"] = len(res.Manual)
	switch {
	case len(errs) > 0 || len(res.Remaining) > 0:
		res.Status = executors.StatusFailed
		res.Summary = fmt.Sprintf("cancelled %d of %d pending withdrawals", len(res.Changes), len(targets))
	case len(res.Manual) > 0:
		res.Status = executors.StatusPending
		res.Summary = fmt.Sprintf("cancelled %d withdrawals; %d need a human", len(res.Changes), len(res.Manual))
	default:
		res.Status = executors.StatusChanged
		res.Summary = fmt.Sprintf("cancelled %d pending withdrawals, confirmed by re-listing", len(res.Changes))
	}
	if len(errs) > 0 {
		return res, firstClassified(errors.Join(errs...))
	}
	return res, nil
}

// position is an item of GET /api/v1/positions (futures host).
type position struct {
	Symbol         string `json:"symbol"`
	CurrentQty     flex   `json:"currentQty"`
	IsOpen         *bool  `json:"isOpen"`
	MarginMode     string `json:"marginMode"`
	PositionSide   string `json:"positionSide"`
	AvgEntryPrice  flex   `json:"avgEntryPrice"`
	MarkPrice      flex   `json:"markPrice"`
	UnrealisedPnl  flex   `json:"unrealisedPnl"`
	SettleCurrency string `json:"settleCurrency"`
}

func (p position) open() bool {
	return !isZero(p.CurrentQty.String()) && (p.IsOpen == nil || *p.IsOpen)
}

func (p position) public(sub string) executors.Position {
	side := p.PositionSide
	if side == "" || strings.EqualFold(side, "BOTH") {
		side = "LONG"
		if strings.HasPrefix(p.CurrentQty.String(), "-") {
			side = "SHORT"
		}
	}
	return executors.Position{Sub: sub, Product: executors.ProductFutures, Symbol: p.Symbol, Side: strings.ToUpper(side),
		Size: p.CurrentQty.String(), EntryPrice: p.AvgEntryPrice.String(), MarkPrice: p.MarkPrice.String(), UnrealizedPnL: p.UnrealisedPnl.String()}
}

func (x *Executor) listPositions(ctx context.Context) ([]position, error) {
	var ps []position
	if err := x.call(ctx, x.futures, "list futures positions", false, http.MethodGet, "/api/v1/positions", nil, &ps); err != nil {
		return nil, err
	}
	var open []position
	for _, p := range ps {
		if p.open() {
			open = append(open, p)
		}
	}
	return open, nil
}

// clientOidSeq makes client order ids unique within the process.
var clientOidSeq atomic.Int64

func (x *Executor) clientOid(prefix string) string {
	return fmt.Sprintf("pb-%s-%d-%d", prefix, x.env.Now().UnixMilli(), clientOidSeq.Add(1))
}

// closePositions flattens futures positions with closeOrder market orders
// (closeOrder ignores side and size), then re-reads the positions.
func (x *Executor) closePositions(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	sel := selectionOf(req.Params)
	if !sel.futures {
		return executors.Result{Status: executors.StatusOK, Summary: "no futures product selected: nothing to do"}, nil
	}
	all, err := x.listPositions(ctx)
	if err != nil {
		return executors.Result{Status: executors.StatusFailed, Summary: "could not list futures positions"}, err
	}
	var ps []position
	for _, p := range all {
		if sel.wantSymbol(p.Symbol) {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return executors.Result{Status: executors.StatusOK, Summary: "no open futures positions: nothing to do"}, nil
	}
	change := func(p position) executors.Change {
		pp := p.public("")
		return executors.Change{Kind: "close-position", Target: fmt.Sprintf("futures %s %s %s contracts", p.Symbol, pp.Side, p.CurrentQty),
			Product: executors.ProductFutures, Symbol: p.Symbol, ID: "close-position:futures:" + p.Symbol}
	}
	res := executors.Result{Counts: map[string]int{}}
	if plan {
		for _, p := range ps {
			res.Changes = append(res.Changes, change(p))
		}
		res.Status, res.Summary = executors.StatusWouldChange, fmt.Sprintf("would close %d futures positions at market", len(ps))
		return res, nil
	}
	var errs []error
	for _, p := range ps {
		c := change(p)
		body := map[string]any{"clientOid": x.clientOid("close"), "symbol": p.Symbol, "closeOrder": true, "type": "market"}
		if p.MarginMode != "" {
			body["marginMode"] = p.MarginMode
		}
		m := executors.Mutation{ID: c.ID, Kind: "close-position", Target: c.Target,
			Request: map[string]string{"method": http.MethodPost, "path": "/api/v1/orders", "symbol": p.Symbol, "closeOrder": "true", "type": "market"}}
		err := req.Mutate(ctx, m, func(ctx context.Context) error {
			return x.call(ctx, x.futures, "close futures position "+p.Symbol, true, http.MethodPost, "/api/v1/orders", body, nil)
		})
		if errors.Is(err, executors.ErrAudit) {
			res.Status, res.Summary = executors.StatusFailed, "audit trail refused a close intent; stopped"
			return res, err
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	// Confirm: market close orders fill quickly; re-read a few times.
	var left []position
	for i := 0; i < 10; i++ {
		after, err := x.listPositions(ctx)
		if err != nil {
			errs = append(errs, err)
			break
		}
		left = left[:0]
		for _, p := range after {
			if sel.wantSymbol(p.Symbol) {
				left = append(left, p)
			}
		}
		if len(left) == 0 || x.env.Sleep(ctx, 100*time.Millisecond) != nil {
			break
		}
	}
	open := map[string]bool{}
	for _, p := range left {
		open[p.Symbol] = true
		res.Remaining = append(res.Remaining, change(p))
	}
	for _, p := range ps {
		if !open[p.Symbol] {
			res.Changes = append(res.Changes, change(p))
		}
	}
	res.Counts["closed"], res.Counts["remaining"] = len(res.Changes), len(res.Remaining)
	if len(errs) > 0 || len(left) > 0 {
		res.Status = executors.StatusFailed
		res.Summary = fmt.Sprintf("closed %d of %d futures positions", len(res.Changes), len(ps))
		if len(errs) > 0 {
			return res, firstClassified(errors.Join(errs...))
		}
		return res, &executors.Error{Class: executors.ErrTransient, Op: "confirm positions.close", Msg: fmt.Sprintf("%d positions still open", len(left))}
	}
	res.Status, res.Summary = executors.StatusChanged, fmt.Sprintf("closed %d futures positions, confirmed", len(res.Changes))
	return res, nil
}

// trade is an item of GET /api/v1/hf/fills and GET /api/v1/fills.
type trade struct {
	ID          flex   `json:"id"`
	TradeID     flex   `json:"tradeId"`
	OrderID     string `json:"orderId"`
	Symbol      string `json:"symbol"`
	Side        string `json:"side"`
	Price       flex   `json:"price"`
	Size        flex   `json:"size"`
	Fee         flex   `json:"fee"`
	FeeCurrency string `json:"feeCurrency"`
	CreatedAt   int64  `json:"createdAt"`
	TradeTime   int64  `json:"tradeTime"`
}

func (t trade) public(product string) executors.Trade {
	id := t.TradeID.String()
	if id == "" {
		id = t.ID.String()
	}
	at := msTime(t.CreatedAt)
	if t.TradeTime > 0 {
		at = msTime(t.TradeTime)
	}
	return executors.Trade{Product: product, Symbol: t.Symbol, ID: id, OrderID: t.OrderID, Side: t.Side,
		Price: t.Price.String(), Qty: t.Size.String(), Fee: t.Fee.String(), FeeAsset: t.FeeCurrency, Time: at}
}

// tradesRecent reads spot HF fills per symbol (the symbols asked for, else
// those with open orders or non-quote balances) and the classic fills of
// every symbol, keeping those since the cut-off.
func (x *Executor) tradesRecent(ctx context.Context, req executors.Request) (executors.Result, error) {
	startAt := x.env.Now().Add(-req.Params.Duration("since"))
	wanted := req.Params.Strings("symbols")
	symbols := wanted
	if len(symbols) == 0 {
		symbols = x.heldSymbols(ctx)
	}
	var errs []error
	var out []executors.Trade
	keep := func(t trade) bool {
		tr := t.public(executors.ProductSpot)
		return !tr.Time.Before(startAt) && (len(wanted) == 0 || containsFold(wanted, t.Symbol))
	}
	for _, sym := range sortedUnique(symbols) {
		var data struct {
			Items  []trade `json:"items"`
			LastID flex    `json:"lastId"`
		}
		params := q("symbol", sym, "startAt", fmt.Sprint(startAt.UnixMilli()), "limit", "100")
		if err := x.call(ctx, x.spot, "list spot HF fills "+sym, false, http.MethodGet, "/api/v1/hf/fills", params, &data); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, t := range data.Items {
			if keep(t) {
				out = append(out, t.public(executors.ProductSpot))
			}
		}
	}
	classic, err := listPaged[trade](ctx, x, x.spot, "list classic fills", "/api/v1/fills", q("startAt", fmt.Sprint(startAt.UnixMilli())), 500)
	if err != nil {
		errs = append(errs, err)
	}
	for _, t := range classic {
		if keep(t) {
			out = append(out, t.public(executors.ProductSpot))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	res := executors.Result{Status: executors.StatusOK, Data: out, Counts: map[string]int{"trades": len(out)},
		Summary: fmt.Sprintf("%d trades since %s", len(out), startAt.UTC().Format(time.RFC3339))}
	if len(errs) > 0 {
		res.Status = executors.StatusFailed
		res.Summary += " (some fills could not be read)"
		return res, firstClassified(errors.Join(errs...))
	}
	return res, nil
}

func containsFold(ss []string, s string) bool {
	for _, x := range ss {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// heldSymbols guesses the spot symbols worth reading fills for: those with
// open HF orders and ASSET-USDT for every non-USDT asset held in trading
// accounts. Read errors only shrink the guess.
func (x *Executor) heldSymbols(ctx context.Context) []string {
	var syms []string
	var active struct {
		Symbols []string `json:"symbols"`
	}
	if x.call(ctx, x.spot, "list spot HF symbols with open orders", false, http.MethodGet, "/api/v1/hf/orders/active/symbols", nil, &active) == nil {
		syms = append(syms, active.Symbols...)
	}
	var accts []accountItem
	if x.call(ctx, x.spot, "list accounts", false, http.MethodGet, "/api/v1/accounts", nil, &accts) == nil {
		for _, a := range accts {
			if (a.Type == "trade" || a.Type == "trade_hf") && a.Currency != "USDT" && isPositive(a.Balance.String()) {
				syms = append(syms, a.Currency+"-USDT")
			}
		}
	}
	return syms
}
