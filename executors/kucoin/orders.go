package kucoin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

// Order kinds, i.e. the cancel endpoint family an open order belongs to.
const (
	kindHF          = "hf"           // spot HF: DELETE /api/v1/hf/orders?symbol=
	kindClassic     = "classic"      // classic spot/margin: DELETE /api/v1/orders?symbol=&tradeType=
	kindStop        = "stop"         // spot/margin stop: DELETE /api/v1/stop-order/cancel?symbol=&tradeType=
	kindOCO         = "oco"          // spot OCO: DELETE /api/v3/oco/orders?symbol=
	kindMarginHF    = "margin-hf"    // margin HF: DELETE /api/v3/hf/margin/orders?symbol=&tradeType=
	kindFutures     = "futures"      // futures: DELETE /api/v3/orders?symbol= (futures host)
	kindFuturesStop = "futures-stop" // futures untriggered stops: DELETE /api/v1/stopOrders?symbol=
)

// KuCoin trade types.
const (
	tradeSpot     = "TRADE"
	tradeCross    = "MARGIN_TRADE"
	tradeIsolated = "MARGIN_ISOLATED_TRADE"
)

// productOfTradeType maps a KuCoin tradeType onto a catalog product.
func productOfTradeType(tt string) string {
	switch tt {
	case tradeCross:
		return executors.ProductMargin
	case tradeIsolated:
		return executors.ProductIsolatedMargin
	}
	return executors.ProductSpot
}

// selection is which products an order action covers.
type selection struct {
	spot, cross, isolated, futures bool
	symbols                        map[string]bool // empty: all
}

// selectionOf maps the products parameter onto KuCoin's products. Empty
// means everything. "margin" covers cross AND isolated margin (a
// containment run asking for margin must not leave isolated orders
// behind); "isolated_margin" covers isolated only; usdm, coinm and futures
// all mean KuCoin Futures (USDT- and coin-margined contracts share it).
func selectionOf(p executors.Params) selection {
	s := selection{symbols: map[string]bool{}}
	for _, sym := range p.Strings("symbols") {
		s.symbols[strings.ToUpper(sym)] = true
	}
	products := p.Strings("products")
	if len(products) == 0 {
		s.spot, s.cross, s.isolated, s.futures = true, true, true, true
		return s
	}
	for _, pr := range products {
		switch pr {
		case executors.ProductSpot:
			s.spot = true
		case executors.ProductMargin:
			s.cross, s.isolated = true, true
		case executors.ProductIsolatedMargin:
			s.isolated = true
		case executors.ProductFutures, executors.ProductUSDM, executors.ProductCoinM:
			s.futures = true
		}
	}
	return s
}

func (s selection) wantSymbol(sym string) bool {
	return len(s.symbols) == 0 || s.symbols[strings.ToUpper(sym)]
}

func (s selection) wantTradeType(tt string) bool {
	switch tt {
	case tradeCross:
		return s.cross
	case tradeIsolated:
		return s.isolated
	case tradeSpot, "":
		return s.spot
	}
	return false
}

// openOrder is an executors.Order plus what is needed to cancel it.
type openOrder struct {
	executors.Order
	kind      string
	tradeType string
}

// unit is one cancel request: a kind, a trade type and a symbol.
type unit struct{ kind, tradeType, symbol string }

func (o openOrder) unit() unit { return unit{o.kind, o.tradeType, o.Symbol} }

// key names the order across lists and re-lists.
func (o openOrder) key() string { return o.Product + "|" + o.Symbol + "|" + o.ID }

// mutationID names the cancel's target; cancelUnit appends the digest of
// the orders it cancels, so the same cancel is recognised across runs.
func (u unit) mutationID() string {
	switch u.kind {
	case kindClassic, kindStop, kindMarginHF:
		return "cancel:" + u.kind + ":" + u.tradeType + ":" + u.symbol
	}
	return "cancel:" + u.kind + ":" + u.symbol
}

// spotOrder is an item of the HF, classic, margin HF and stop order lists.
type spotOrder struct {
	ID        string `json:"id"`
	ClientOid string `json:"clientOid"`
	Symbol    string `json:"symbol"`
	Type      string `json:"type"`
	Side      string `json:"side"`
	Price     flex   `json:"price"`
	Size      flex   `json:"size"`
	Funds     flex   `json:"funds"`
	StopPrice flex   `json:"stopPrice"`
	Stop      string `json:"stop"`
	TradeType string `json:"tradeType"`
	CreatedAt int64  `json:"createdAt"`
	Active    *bool  `json:"active"`
	IsActive  *bool  `json:"isActive"`
	Status    string `json:"status"`
}

// ocoOrder is an item of GET /api/v3/oco/orders.
type ocoOrder struct {
	OrderID   string `json:"orderId"`
	Symbol    string `json:"symbol"`
	ClientOid string `json:"clientOid"`
	OrderTime int64  `json:"orderTime"`
	Status    string `json:"status"`
}

// futuresOrder is an item of the futures order and stop order lists.
type futuresOrder struct {
	ID        string `json:"id"`
	ClientOid string `json:"clientOid"`
	Symbol    string `json:"symbol"`
	Type      string `json:"type"`
	Side      string `json:"side"`
	Price     flex   `json:"price"`
	Size      flex   `json:"size"`
	Stop      string `json:"stop"`
	StopPrice flex   `json:"stopPrice"`
	CreatedAt int64  `json:"createdAt"`
	Status    string `json:"status"`
}

func (o spotOrder) order(product, kind string) executors.Order {
	qty := o.Size.String()
	if isZero(qty) && o.Funds != "" {
		qty = o.Funds.String()
	}
	return executors.Order{Product: product, Symbol: o.Symbol, ID: o.ID, ClientID: o.ClientOid, Kind: kind,
		Side: o.Side, Price: o.Price.String(), Qty: qty, Created: msTime(o.CreatedAt)}
}

// listParallel bounds how many lists or cancels of one account run at
// once (they are independent; the pacer keeps them within the pools). At
// 32, an account with 40 symbols listed and cancelled in two waves each:
// a round trip more per phase; 128, like Binance's. The shared transport
// keeps the connections of a burst (executors.IdleConnsPerHost).
const listParallel = 128

// listOrders lists every open order of the selection, the product groups
// concurrently. Groups that fail do not hide the others: the orders read
// so far come back with the errors.
func (x *Executor) listOrders(ctx context.Context, sel selection) ([]openOrder, error) {
	var groups []func() ([]openOrder, error)
	if sel.spot {
		groups = append(groups,
			func() ([]openOrder, error) { return x.listHF(ctx, sel) },
			func() ([]openOrder, error) { return x.listClassic(ctx, sel, tradeSpot) },
			func() ([]openOrder, error) { return x.listOCO(ctx, sel) })
	}
	if sel.spot || sel.cross || sel.isolated {
		groups = append(groups, func() ([]openOrder, error) { return x.listStop(ctx, sel) })
	}
	for _, tt := range []string{tradeCross, tradeIsolated} {
		if sel.wantTradeType(tt) {
			groups = append(groups,
				func() ([]openOrder, error) { return x.listMarginHF(ctx, sel, tt) },
				func() ([]openOrder, error) { return x.listClassic(ctx, sel, tt) })
		}
	}
	if sel.futures {
		// Orders and stop orders are separate lists: both go out at once
		// (one after the other, every confirming re-list took a round
		// trip more).
		groups = append(groups,
			func() ([]openOrder, error) { return x.listFutures(ctx, sel) },
			func() ([]openOrder, error) { return x.listFuturesStops(ctx, sel) })
	}
	results := make([][]openOrder, len(groups))
	errs := make([]error, len(groups))
	parallel(len(groups), listParallel, func(i int) { results[i], errs[i] = groups[i]() })

	// The same order can show up in two lists (e.g. an HF order in the
	// classic list of a venue that merges them): keep the first.
	seen := map[string]bool{}
	var uniq []openOrder
	for _, os := range results {
		for _, o := range os {
			k := o.key()
			if seen[k] {
				continue
			}
			seen[k] = true
			uniq = append(uniq, o)
		}
	}
	return uniq, errors.Join(errs...)
}

// parallel runs fn(0..n-1) with at most limit at a time and waits.
func parallel(n, limit int, fn func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, limit)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}

func (x *Executor) listHF(ctx context.Context, sel selection) ([]openOrder, error) {
	var syms struct {
		Symbols []string `json:"symbols"`
	}
	if err := x.call(ctx, x.spot, "list spot HF symbols with open orders", false, http.MethodGet, "/api/v1/hf/orders/active/symbols", nil, &syms); err != nil {
		return nil, err
	}
	return perSymbol(sel, syms.Symbols, func(sym string) ([]openOrder, error) {
		var items []spotOrder
		err := x.call(ctx, x.spot, "list spot HF orders "+sym, false, http.MethodGet, "/api/v1/hf/orders/active", q("symbol", sym), &items)
		var out []openOrder
		for _, it := range items {
			out = append(out, openOrder{Order: it.order(executors.ProductSpot, orderKind(it.Type)), kind: kindHF, tradeType: tradeSpot})
		}
		return out, err
	})
}

// perSymbol runs list for every wanted symbol concurrently and joins the
// results in symbol order.
func perSymbol(sel selection, symbols []string, list func(sym string) ([]openOrder, error)) ([]openOrder, error) {
	var syms []string
	for _, s := range sortedUnique(symbols) {
		if sel.wantSymbol(s) {
			syms = append(syms, s)
		}
	}
	results := make([][]openOrder, len(syms))
	errs := make([]error, len(syms))
	parallel(len(syms), listParallel, func(i int) { results[i], errs[i] = list(syms[i]) })
	var out []openOrder
	for _, r := range results {
		out = append(out, r...)
	}
	return out, firstClassified(errors.Join(errs...))
}

func (x *Executor) listClassic(ctx context.Context, sel selection, tt string) ([]openOrder, error) {
	// status=active is required: the endpoint defaults to done orders.
	items, err := listPaged[spotOrder](ctx, x, x.spot, "list classic "+tt+" orders", "/api/v1/orders", q("status", "active", "tradeType", tt), 500)
	var out []openOrder
	for _, it := range items {
		if !sel.wantSymbol(it.Symbol) || (it.IsActive != nil && !*it.IsActive) {
			continue
		}
		out = append(out, openOrder{Order: it.order(productOfTradeType(tt), orderKind(it.Type)), kind: kindClassic, tradeType: tt})
	}
	return out, err
}

func (x *Executor) listStop(ctx context.Context, sel selection) ([]openOrder, error) {
	items, err := listPaged[spotOrder](ctx, x, x.spot, "list stop orders", "/api/v1/stop-order", nil, 500)
	var out []openOrder
	for _, it := range items {
		tt := it.TradeType
		if tt == "" {
			tt = tradeSpot
		}
		if !sel.wantTradeType(tt) || !sel.wantSymbol(it.Symbol) || (it.Status != "" && it.Status != "NEW") {
			continue
		}
		o := it.order(productOfTradeType(tt), "stop")
		out = append(out, openOrder{Order: o, kind: kindStop, tradeType: tt})
	}
	return out, err
}

func (x *Executor) listOCO(ctx context.Context, sel selection) ([]openOrder, error) {
	items, err := listPaged[ocoOrder](ctx, x, x.spot, "list OCO orders", "/api/v3/oco/orders", nil, 500)
	var out []openOrder
	for _, it := range items {
		if !sel.wantSymbol(it.Symbol) || (it.Status != "" && it.Status != "NEW") {
			continue
		}
		out = append(out, openOrder{Order: executors.Order{Product: executors.ProductSpot, Symbol: it.Symbol, ID: it.OrderID,
			ClientID: it.ClientOid, Kind: "oco", ListID: it.OrderID, Created: msTime(it.OrderTime)}, kind: kindOCO, tradeType: tradeSpot})
	}
	return out, err
}

func (x *Executor) listMarginHF(ctx context.Context, sel selection, tt string) ([]openOrder, error) {
	var syms struct {
		Symbols []string `json:"symbols"`
	}
	if err := x.call(ctx, x.spot, "list margin HF symbols "+tt, false, http.MethodGet, "/api/v3/hf/margin/order/active/symbols", q("tradeType", tt), &syms); err != nil {
		return nil, err
	}
	return perSymbol(sel, syms.Symbols, func(sym string) ([]openOrder, error) {
		var items []spotOrder
		err := x.call(ctx, x.spot, "list margin HF orders "+tt+" "+sym, false, http.MethodGet, "/api/v3/hf/margin/orders/active", q("symbol", sym, "tradeType", tt), &items)
		var out []openOrder
		for _, it := range items {
			out = append(out, openOrder{Order: it.order(productOfTradeType(tt), orderKind(it.Type)), kind: kindMarginHF, tradeType: tt})
		}
		return out, err
	})
}

func (x *Executor) listFutures(ctx context.Context, sel selection) ([]openOrder, error) {
	var out []openOrder
	items, err := listPaged[futuresOrder](ctx, x, x.futures, "list futures orders", "/api/v1/orders", q("status", "active"), 1000)
	for _, it := range items {
		if !sel.wantSymbol(it.Symbol) || (it.Status != "" && it.Status != "open") {
			continue
		}
		out = append(out, openOrder{Order: it.order(orderKind(it.Type)), kind: kindFutures})
	}
	return out, err
}

func (x *Executor) listFuturesStops(ctx context.Context, sel selection) ([]openOrder, error) {
	var out []openOrder
	stops, err := listPaged[futuresOrder](ctx, x, x.futures, "list futures stop orders", "/api/v1/stopOrders", nil, 500)
	for _, it := range stops {
		if !sel.wantSymbol(it.Symbol) {
			continue
		}
		out = append(out, openOrder{Order: it.order("stop"), kind: kindFuturesStop})
	}
	return out, err
}

func (o futuresOrder) order(kind string) executors.Order {
	return executors.Order{Product: executors.ProductFutures, Symbol: o.Symbol, ID: o.ID, ClientID: o.ClientOid, Kind: kind,
		Side: o.Side, Price: o.Price.String(), Qty: o.Size.String(), Created: msTime(o.CreatedAt)}
}

func orderKind(t string) string {
	if t == "" {
		return "limit"
	}
	return strings.ToLower(t)
}

func sortedUnique(ss []string) []string {
	out := slices.Clone(ss)
	sort.Strings(out)
	return slices.Compact(out)
}

func publicOrders(os []openOrder) []executors.Order {
	out := make([]executors.Order, 0, len(os))
	for _, o := range os {
		out = append(out, o.Order)
	}
	return out
}

func (x *Executor) ordersList(ctx context.Context, req executors.Request) (executors.Result, error) {
	orders, err := x.listOrders(ctx, selectionOf(req.Params))
	res := executors.Result{Status: executors.StatusOK, Data: publicOrders(orders),
		Counts: map[string]int{"open": len(orders)}}
	res.Summary = fmt.Sprintf("%d open orders%s", len(orders), describeProducts(orders))
	if err != nil {
		res.Status = executors.StatusFailed
		res.Summary += " (some lists could not be read)"
		return res, firstClassified(err)
	}
	return res, nil
}

func describeProducts(os []openOrder) string {
	n := map[string]int{}
	for _, o := range os {
		n[o.Product]++
	}
	if len(n) == 0 {
		return ""
	}
	var parts []string
	for p, c := range n {
		parts = append(parts, fmt.Sprintf("%s %d", p, c))
	}
	sort.Strings(parts)
	return " (" + strings.Join(parts, ", ") + ")"
}

// firstClassified returns the first *executors.Error inside a joined error.
func firstClassified(err error) error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if c := firstClassified(e); c != nil {
				return c
			}
		}
	}
	var e *executors.Error
	if errors.As(err, &e) {
		return e
	}
	return &executors.Error{Class: executors.ErrTransient, Op: "kucoin", Err: err}
}

func orderChange(o openOrder, kind string) executors.Change {
	target := fmt.Sprintf("%s %s %s order %s", o.Product, o.Symbol, o.Kind, o.ID)
	if o.Side != "" {
		target = fmt.Sprintf("%s %s %s %s order %s", o.Product, o.Symbol, o.Side, o.Kind, o.ID)
	}
	return executors.Change{Kind: kind, Target: target, Product: o.Product, Symbol: o.Symbol, ID: o.ID, Created: o.Created}
}

// cancelAll lists, cancels per (kind, trade type, symbol) — one audited
// mutation per cancel request, the spot HF symbols together when that
// pays (cancelJobs) — and re-lists until the book is empty or
// confirm_timeout passes (KuCoin cancels are asynchronous).
func (x *Executor) cancelAll(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	sel := selectionOf(req.Params)
	orders, err := x.listOrders(ctx, sel)
	if err != nil && len(orders) == 0 {
		return executors.Result{Status: executors.StatusFailed, Summary: "could not list open orders"}, firstClassified(err)
	}
	listErr := err
	if len(orders) == 0 {
		return executors.Result{Status: executors.StatusOK, Summary: "no open orders: nothing to do",
			Counts: map[string]int{"cancelled": 0, "remaining": 0}}, nil
	}
	if plan {
		res := executors.Result{Status: executors.StatusWouldChange, Counts: map[string]int{"orders": len(orders)}, Data: publicOrders(orders)}
		for _, o := range orders {
			res.Changes = append(res.Changes, orderChange(o, "cancel-order"))
		}
		res.Summary = fmt.Sprintf("would cancel %d open orders%s", len(orders), describeProducts(orders))
		if listErr != nil {
			res.Summary += " (some lists could not be read)"
		}
		return res, nil
	}

	cancelled := map[unit]bool{}
	failed := map[unit]error{} // latest error of each unit whose cancel failed
	// sendUnits sends the cancel requests of units not cancelled yet,
	// concurrently. Once the audit trail refuses an intent, nothing more
	// is sent. A cancel whose outcome is unknown (5xx, timeout) is sent
	// again at once a few times (callCancel); a unit whose cancel still
	// failed is sent again only after the next re-list shows its orders
	// still open.
	//
	// A unit already cancelled is sent again when the re-list shows an
	// order in it that no cancel covered yet: whoever holds a leaked key
	// may keep placing orders while we confirm, and a cancel per symbol
	// takes those too. An order a sent cancel covered is only waited for
	// (KuCoin cancels are asynchronous).
	covered := map[string]bool{} // order ids a sent cancel covered
	requests := 0                // cancel requests sent (one may cover many units)
	seen := map[string]openOrder{}
	var seenOrder []string
	note := func(os []openOrder) {
		for _, o := range os {
			k := o.key()
			if _, ok := seen[k]; !ok {
				seen[k] = o
				seenOrder = append(seenOrder, k)
			}
		}
	}
	note(orders)
	sendUnits := func(os []openOrder) error {
		note(os)
		fresh := map[unit]bool{}
		for _, o := range os {
			if !covered[o.key()] {
				fresh[o.unit()] = true
			}
		}
		var todo []unit
		sending := map[unit]bool{}
		for _, u := range unitsOf(os) {
			if !cancelled[u] || (fresh[u] && !permanent(failed[u])) {
				cancelled[u] = true
				sending[u] = true
				todo = append(todo, u)
			}
		}
		for _, o := range os {
			if sending[o.unit()] {
				covered[o.key()] = true
			}
		}
		// The most exposed units first: when the budget is the
		// bottleneck, they are the ones waiting least (issue 12 item 3).
		value := map[unit]float64{}
		for _, o := range os {
			value[o.unit()] += executors.Exposure(o.Order)
		}
		slices.SortStableFunc(todo, func(a, b unit) int { return cmp.Compare(value[b], value[a]) })
		jobs := cancelJobs(sel, todo)
		var mu sync.Mutex
		var auditErr error
		parallel(len(jobs), listParallel, func(i int) {
			mu.Lock()
			stop := auditErr != nil
			mu.Unlock()
			if stop {
				return
			}
			var errs map[unit]error
			if len(jobs[i]) == 1 {
				u := jobs[i][0]
				errs = map[unit]error{u: x.cancelUnit(ctx, req, u, idsIn(os, u))}
			} else {
				errs = x.cancelHFAll(ctx, req, jobs[i], os)
			}
			mu.Lock()
			defer mu.Unlock()
			sent := true
			for u, err := range errs {
				switch {
				case errors.Is(err, executors.ErrAudit):
					sent = false // the intent was refused: nothing went
					if auditErr == nil {
						auditErr = err
					}
				case err != nil:
					failed[u] = err
					if executors.Retryable(err) {
						delete(cancelled, u)
					}
				default:
					delete(failed, u)
				}
			}
			if sent {
				requests++
			}
		})
		return auditErr
	}
	if err := sendUnits(orders); err != nil {
		return executors.Result{Status: executors.StatusFailed, Summary: "audit trail refused a cancel intent; stopped"}, err
	}
	// What is left is to confirm: the account's next mutating step (a key
	// revocation) need not wait for the re-list.
	req.NoteMutationsSent()

	// Confirm by re-listing, for confirm_timeout of time the requests
	// could go: an edge block that holds them meanwhile (31 s) moves the
	// deadline to confirm_timeout after its end.
	confirmFrom, timeout := x.env.Now(), req.Params.Duration("confirm_timeout")
	wait := 50 * time.Millisecond
	var (
		remaining   []openOrder
		lastListErr error
	)
	for round := 0; ; round++ {
		remaining, err = x.listOrders(executors.ConfirmContext(ctx), sel)
		// Only the last re-list counts: the loop may end on a failed one
		// (deadline, or an interrupted backoff), and then nothing is
		// confirmed.
		lastListErr = err
		if err == nil && len(remaining) == 0 {
			break
		}
		if err != nil && !executors.Retryable(err) {
			// Refused for good (the key died: a human deleted it while a
			// hold pass ran): re-listing until confirm_timeout would only
			// hold the pass up.
			break
		}
		if err != nil && len(remaining) == 0 {
			remaining = nil
		}
		// Orders on targets not cancelled yet (placed since the first
		// list) get their own cancel request.
		if aerr := sendUnits(remaining); aerr != nil {
			return executors.Result{Status: executors.StatusFailed, Summary: "audit trail refused a cancel intent; stopped"}, aerr
		}
		deadline := confirmDeadline(confirmFrom, timeout, x.blockedUntil())
		if round >= 40 || !x.env.Now().Before(deadline) || ctx.Err() != nil {
			break
		}
		if serr := x.env.Sleep(ctx, wait); serr != nil {
			break
		}
		wait = min(wait*2, time.Second)
	}

	// A unit's failure stands unless the re-list settled it: a retryable
	// failure (unknown outcome) of a unit with no order left open means
	// the cancel happened after all, or a later resend succeeded.
	open := map[unit]bool{}
	for _, u := range unitsOf(remaining) {
		open[u] = true
	}
	var errs []error
	for _, u := range unitsOf(append(append([]openOrder(nil), orders...), remaining...)) {
		if err, ok := failed[u]; ok && (open[u] || !executors.Retryable(err)) {
			errs = append(errs, err)
		}
	}
	if lastListErr != nil {
		errs = append(errs, lastListErr)
	}

	res := executors.Result{Counts: map[string]int{}, Data: publicOrders(orders)} // the orders listed first (rehearsals rebuild them)
	left := map[string]bool{}
	for _, o := range remaining {
		left[o.key()] = true
		res.Remaining = append(res.Remaining, orderChange(o, "open-order"))
	}
	unconfirmed := 0
	// Every order seen, first listed or placed since (and cancelled by a
	// later round), is reported.
	for _, k := range seenOrder {
		o := seen[k]
		if left[k] {
			continue
		}
		if lastListErr != nil {
			// Not seen by a re-list that failed (in part): its cancel is
			// unconfirmed, so it counts as still open.
			unconfirmed++
			res.Remaining = append(res.Remaining, orderChange(o, "open-order"))
			continue
		}
		res.Changes = append(res.Changes, orderChange(o, "cancel-order"))
	}
	res.Counts["cancelled"] = len(res.Changes)
	res.Counts["remaining"] = len(res.Remaining)
	res.Counts["requests"] = requests
	switch {
	case lastListErr != nil:
		res.Status = executors.StatusFailed
		res.Summary = fmt.Sprintf("cancel requests sent but the last re-list failed: %d orders unconfirmed, %d open when last listed", unconfirmed, len(remaining))
	case len(remaining) > 0:
		res.Status = executors.StatusFailed
		res.Summary = fmt.Sprintf("cancelled %d orders, %d still open after %s", len(res.Changes), len(remaining), req.Params.Duration("confirm_timeout"))
	case len(errs) > 0 || listErr != nil:
		res.Status = executors.StatusFailed
		res.Summary = fmt.Sprintf("cancelled %d orders; some requests failed", len(res.Changes))
	default:
		res.Status = executors.StatusChanged
		res.Summary = fmt.Sprintf("cancelled %d orders with %d requests, confirmed by re-listing", len(res.Changes), requests)
	}
	if len(errs) > 0 {
		return res, firstClassified(errors.Join(errs...))
	}
	if listErr != nil {
		return res, firstClassified(listErr)
	}
	if len(remaining) > 0 {
		return res, &executors.Error{Class: executors.ErrTransient, Op: "confirm cancel_all",
			Msg: fmt.Sprintf("%d orders still open after re-listing", len(remaining))}
	}
	return res, nil
}

// hfAllMin is how many spot HF symbols with open orders make one
// DELETE /api/v1/hf/orders/cancelAll cost no more than a cancel per
// symbol (30 against 2 each: 15).
var hfAllMin = weightOf(venueSpot, http.MethodDelete, "/api/v1/hf/orders/cancelAll") /
	weightOf(venueSpot, http.MethodDelete, "/api/v1/hf/orders")

// cancelJobs groups the units to cancel into requests: one each, except
// that spot HF units go in one cancel-all request when the action covers
// every symbol (cancel-all cannot be narrowed to some) and there are at
// least hfAllMin of them. That request costs no more budget than theirs,
// saves a request per symbol in the busiest wave of the run, and takes
// too the HF orders the attacker places meanwhile on symbols not listed
// yet. The order of todo (most exposed first) is kept; the cancel-all
// goes where its first unit was.
func cancelJobs(sel selection, todo []unit) [][]unit {
	var hf []unit
	if len(sel.symbols) == 0 && sel.spot {
		for _, u := range todo {
			if u.kind == kindHF {
				hf = append(hf, u)
			}
		}
	}
	all := len(hf) >= hfAllMin
	var jobs [][]unit
	for _, u := range todo {
		switch {
		case !all || u.kind != kindHF:
			jobs = append(jobs, []unit{u})
		case u == hf[0]:
			jobs = append(jobs, hf)
		}
	}
	return jobs
}

// cancelHFAll cancels the spot HF orders of every symbol with one
// DELETE /api/v1/hf/orders/cancelAll, audited as one mutation covering
// the orders of units (all of kind HF), and returns each unit's error: the
// request's, or for a symbol the venue lists in failedSymbols, a transient
// error naming its reason (the next re-list sends that symbol its own
// cancel if its orders are still open).
func (x *Executor) cancelHFAll(ctx context.Context, req executors.Request, units []unit, os []openOrder) map[unit]error {
	const path = "/api/v1/hf/orders/cancelAll"
	var ids []string
	for _, u := range units {
		ids = append(ids, idsIn(os, u)...)
	}
	m := executors.Mutation{
		ID:      "cancel:" + kindHF + ":all@" + executors.OrderSetID(ids),
		Kind:    "cancel-orders",
		Target:  fmt.Sprintf("spot HF orders on every symbol (%d open on %d symbols)", len(ids), len(units)),
		Request: map[string]string{"method": http.MethodDelete, "path": path},
	}
	var out struct {
		FailedSymbols []struct {
			Symbol string `json:"symbol"`
			Error  string `json:"error"`
		} `json:"failedSymbols"`
	}
	failed := map[string]string{}
	err := req.Mutate(ctx, m, func(ctx context.Context) error {
		if err := x.callCancel(ctx, x.spot, "cancel spot HF orders on every symbol", path, nil, &out); err != nil {
			return err
		}
		var names []string
		for _, f := range out.FailedSymbols {
			failed[f.Symbol] = f.Error
			names = append(names, f.Symbol+" ("+f.Error+")")
		}
		if len(names) > 0 {
			// The trail's outcome says which symbols were not cancelled.
			return &executors.Error{Class: executors.ErrTransient, Op: "cancel spot HF orders on every symbol",
				Msg: "not cancelled on " + strings.Join(names, ", ")}
		}
		return nil
	})
	res := make(map[unit]error, len(units))
	for _, u := range units {
		switch reason, ok := failed[u.symbol]; {
		case ok:
			res[u] = &executors.Error{Class: executors.ErrTransient, Op: "cancel spot HF orders on " + u.symbol,
				Msg: "the cancel-all did not cancel this symbol: " + reason}
		case len(failed) > 0:
			res[u] = nil // cancelled; only other symbols failed
		default:
			res[u] = err
		}
	}
	return res
}

// permanent reports whether err is a failure that sending again cannot fix.
func permanent(err error) bool { return err != nil && !executors.Retryable(err) }

func unitsOf(os []openOrder) []unit {
	var out []unit
	seen := map[unit]bool{}
	for _, o := range os {
		u := o.unit()
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

func idsIn(os []openOrder, u unit) []string {
	var ids []string
	for _, o := range os {
		if o.unit() == u {
			ids = append(ids, o.ID)
		}
	}
	return ids
}

// cancelUnit sends the one cancel request of u through req.Mutate.
func (x *Executor) cancelUnit(ctx context.Context, req executors.Request, u unit, ids []string) error {
	n := len(ids)
	svc := x.spot
	var path string
	var params = q("symbol", u.symbol)
	product := productOfTradeType(u.tradeType)
	switch u.kind {
	case kindHF:
		path = "/api/v1/hf/orders"
	case kindClassic:
		path = "/api/v1/orders"
		params.Set("tradeType", u.tradeType)
	case kindStop:
		path = "/api/v1/stop-order/cancel"
		params.Set("tradeType", u.tradeType)
	case kindOCO:
		// Hand-built: the SDK's DeleteOcoOrders panics (EXCHANGES.md §2.1).
		path = "/api/v3/oco/orders"
	case kindMarginHF:
		path = "/api/v3/hf/margin/orders"
		params.Set("tradeType", u.tradeType)
	case kindFutures:
		svc, path, product = x.futures, "/api/v3/orders", executors.ProductFutures
	case kindFuturesStop:
		svc, path, product = x.futures, "/api/v1/stopOrders", executors.ProductFutures
	default:
		return &executors.Error{Class: executors.ErrUnsupported, Op: "cancel " + u.kind}
	}
	summary := map[string]string{"method": http.MethodDelete, "path": path}
	for k := range params {
		summary[k] = params.Get(k)
	}
	m := executors.Mutation{
		ID:      u.mutationID() + "@" + executors.OrderSetID(ids),
		Kind:    "cancel-orders",
		Target:  fmt.Sprintf("%s %s %s orders (%d open)", product, u.symbol, u.kind, n),
		Request: summary,
	}
	op := fmt.Sprintf("cancel %s %s orders on %s", product, u.kind, u.symbol)
	return req.Mutate(ctx, m, func(ctx context.Context) error {
		return x.callCancel(ctx, svc, op, path, params, nil)
	})
}

// confirmDeadline is when a confirmation that started at from and may
// take timeout ends: timeout after from, or after the end of an edge
// block that is later than from (blockedUntil).
func confirmDeadline(from time.Time, timeout time.Duration, blockedUntil time.Time) time.Time {
	if blockedUntil.After(from) {
		from = blockedUntil
	}
	return from.Add(timeout)
}
