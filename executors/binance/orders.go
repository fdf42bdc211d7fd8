package binance

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	gobinance "github.com/adshao/go-binance/v2"

	"github.com/panicbutton/panicbutton/executors"
)

// Products in the order they are listed and reported.
var productOrder = []string{executors.ProductSpot, executors.ProductMargin, executors.ProductIsolatedMargin, executors.ProductUSDM, executors.ProductCoinM}

// Kind of a USDⓈ-M algo (conditional) order; they live in a separate
// service with its own list and cancel-all (EXCHANGES.md §1.3).
const kindAlgo = "algo"

// productSet is the resolved products parameter.
type productSet struct {
	list []string
	// derived is true when the products come from the key's permissions
	// (no products parameter): then a product the account does not have
	// (e.g. no margin account) is skipped with a finding, not a failure.
	derived  bool
	findings []executors.Finding
}

// resolveProducts expands the products parameter ("futures" = usdm+coinm,
// "margin" = cross+isolated)
// or, when absent, derives every product the key can trade from its
// permissions.
func (e *Executor) resolveProducts(ctx context.Context, p executors.Params) (productSet, error) {
	if req := p.Strings("products"); len(req) > 0 {
		want := map[string]bool{}
		for _, x := range req {
			switch x {
			case executors.ProductFutures:
				want[executors.ProductUSDM], want[executors.ProductCoinM] = true, true
			case executors.ProductMargin:
				// "margin" means all margin, as on KuCoin: a freeze that
				// names margin must not leave isolated-margin orders open.
				want[executors.ProductMargin], want[executors.ProductIsolatedMargin] = true, true
			case executors.ProductSpot, executors.ProductIsolatedMargin, executors.ProductUSDM, executors.ProductCoinM:
				want[x] = true
			default:
				return productSet{}, rejected("resolve products", fmt.Sprintf("unknown product %q", x))
			}
		}
		var ps productSet
		for _, x := range productOrder {
			if want[x] {
				ps.list = append(ps.list, x)
			}
		}
		return ps, nil
	}
	perm, err := e.apiRestrictions(ctx, "read key permissions")
	if err != nil {
		return productSet{}, err
	}
	return e.productsFromPermission(perm), nil
}

// productsFromPermission derives every product the key can trade from its
// permissions; the others are named in findings.
func (e *Executor) productsFromPermission(perm *gobinance.APIKeyPermission) productSet {
	ps := productSet{derived: true}
	if perm.EnableSpotAndMarginTrading {
		ps.list = append(ps.list, executors.ProductSpot, executors.ProductMargin, executors.ProductIsolatedMargin)
	} else {
		ps.findings = append(ps.findings, executors.Finding{Severity: "info", Subject: "key " + mask(e.acct.APIKey.Reveal()),
			Message: "spot and margin skipped: the key has no spot & margin trading permission"})
	}
	if perm.EnableFutures {
		ps.list = append(ps.list, executors.ProductUSDM, executors.ProductCoinM)
	} else {
		ps.findings = append(ps.findings, executors.Finding{Severity: "info", Subject: "key " + mask(e.acct.APIKey.Reveal()),
			Message: "usdm and coinm skipped: the key has no futures permission"})
	}
	return ps
}

func (e *Executor) apiRestrictions(ctx context.Context, op string) (*gobinance.APIKeyPermission, error) {
	var perm *gobinance.APIKeyPermission
	err := e.call(ctx, op, false, func(ctx context.Context) error {
		var err error
		perm, err = e.spot.NewGetAPIKeyPermission().Do(ctx)
		return err
	})
	return perm, err
}

// openOrder is one open order with what is needed to cancel it.
type openOrder = executors.Order

// listOrders lists the open orders of every product in ps, in parallel,
// filtered to symbols when given. A derived product the account does not
// have at all (see productAbsent) is skipped with a finding; any other
// failure to list a product is an error: its orders are unknown.
func (e *Executor) listOrders(ctx context.Context, ps productSet, symbols []string) ([]openOrder, []executors.Finding, error) {
	l := e.listEach(ctx, ps, symbols)
	if err := l.firstErr(); err != nil {
		return nil, l.findings, err
	}
	return l.orders, l.findings, nil
}

// listing is what listEach read, product by product.
type listing struct {
	orders   []openOrder // of the listed products, sorted
	findings []executors.Finding
	listed   []string         // products listed (possibly empty)
	failed   []string         // products that could not be listed, in product order
	errs     map[string]error // product -> why it could not be listed
}

func (l listing) firstErr() error {
	if len(l.failed) == 0 {
		return nil
	}
	return l.errs[l.failed[0]]
}

// listEach lists every product of ps in parallel and reports each one:
// listed, skipped (a derived product the account does not have) or failed.
func (e *Executor) listEach(ctx context.Context, ps productSet, symbols []string) listing {
	type part struct {
		orders []openOrder
		err    error
	}
	parts := make([]part, len(ps.list))
	var wg sync.WaitGroup
	for i, prod := range ps.list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[i].orders, parts[i].err = e.listProduct(ctx, prod, symbols)
		}()
	}
	wg.Wait()
	l := listing{errs: map[string]error{}}
	for i, pt := range parts {
		prod := ps.list[i]
		if pt.err != nil {
			if ps.derived && productAbsent(prod, pt.err) {
				l.findings = append(l.findings, executors.Finding{Severity: "info", Subject: prod,
					Message: "product skipped: " + pt.err.Error()})
				continue
			}
			l.failed = append(l.failed, prod)
			l.errs[prod] = pt.err
			continue
		}
		l.listed = append(l.listed, prod)
		l.orders = append(l.orders, filterSymbols(pt.orders, symbols)...)
	}
	sortOrders(l.orders)
	return l
}

// productAbsent reports whether err is the venue saying the account does
// not have prod at all, so it can have no orders there. Only Binance's
// specific codes say that: a 403 WAF page, a 5xx or any other refusal
// says nothing about the orders.
func productAbsent(prod string, err error) bool {
	var ee *executors.Error
	if !errors.As(err, &ee) || !errors.Is(err, executors.ErrRejected) {
		return false
	}
	switch prod {
	case executors.ProductMargin:
		return ee.Code == fmt.Sprint(codeNoMargin)
	case executors.ProductIsolatedMargin:
		return ee.Code == fmt.Sprint(codeNoMargin) || ee.Code == fmt.Sprint(codeNoIsolated)
	}
	return false
}

func filterSymbols(orders []openOrder, symbols []string) []openOrder {
	if len(symbols) == 0 {
		return orders
	}
	var out []openOrder
	for _, o := range orders {
		if contains(symbols, o.Symbol) {
			out = append(out, o)
		}
	}
	return out
}

func sortOrders(os []openOrder) {
	rank := map[string]int{}
	for i, p := range productOrder {
		rank[p] = i
	}
	sort.SliceStable(os, func(i, j int) bool {
		a, b := os[i], os[j]
		if a.Product != b.Product {
			return rank[a.Product] < rank[b.Product]
		}
		if a.Symbol != b.Symbol {
			return a.Symbol < b.Symbol
		}
		if (a.Kind == kindAlgo) != (b.Kind == kindAlgo) {
			return b.Kind == kindAlgo
		}
		return a.ID < b.ID
	})
}

func (e *Executor) listProduct(ctx context.Context, prod string, symbols []string) ([]openOrder, error) {
	switch prod {
	case executors.ProductSpot:
		var res []*gobinance.Order
		err := e.call(ctx, "list spot open orders", false, func(ctx context.Context) error {
			var err error
			res, err = e.spot.NewListOpenOrdersService().Do(ctx)
			return err
		})
		if err != nil {
			return nil, err
		}
		return spotOrders(prod, res), nil
	case executors.ProductMargin:
		var res []*gobinance.Order
		err := e.call(ctx, "list margin open orders", false, func(ctx context.Context) error {
			var err error
			res, err = e.spot.NewListMarginOpenOrdersService().Do(ctx)
			return err
		})
		if err != nil {
			return nil, err
		}
		return spotOrders(prod, res), nil
	case executors.ProductIsolatedMargin:
		return e.listIsolated(ctx, symbols)
	case executors.ProductUSDM:
		return e.listUSDM(ctx)
	case executors.ProductCoinM:
		return e.listCoinM(ctx)
	}
	return nil, unsupported("list "+prod, "unknown product")
}

func spotOrders(prod string, res []*gobinance.Order) []openOrder {
	out := make([]openOrder, 0, len(res))
	for _, o := range res {
		ord := openOrder{Product: prod, Symbol: o.Symbol, ID: itoa(o.OrderID), ClientID: o.ClientOrderID,
			Kind: orderKind(string(o.Type)), Side: string(o.Side), Price: o.Price, Qty: o.OrigQuantity, Created: msTime(o.Time)}
		if o.OrderListId > 0 {
			ord.ListID = itoa(o.OrderListId)
			ord.Kind = "list-member:" + ord.Kind
		}
		out = append(out, ord)
	}
	return out
}

// orderKind maps a venue order type onto the neutral kind.
func orderKind(t string) string {
	t = strings.ToUpper(t)
	switch {
	case t == "LIMIT" || t == "LIMIT_MAKER":
		return "limit"
	case t == "MARKET":
		return "market"
	case strings.Contains(t, "STOP") || strings.Contains(t, "TAKE_PROFIT") || strings.Contains(t, "TRAILING"):
		return "stop"
	case t == "":
		return "unknown"
	}
	return strings.ToLower(t)
}

// isolatedSymbols lists the symbols of the isolated margin accounts.
func (e *Executor) isolatedSymbols(ctx context.Context) ([]string, *gobinance.IsolatedMarginAccount, error) {
	var acc *gobinance.IsolatedMarginAccount
	err := e.call(ctx, "read isolated margin account", false, func(ctx context.Context) error {
		var err error
		acc, err = e.spot.NewGetIsolatedMarginAccountService().Do(ctx)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	var syms []string
	for _, a := range acc.Assets {
		syms = append(syms, a.Symbol)
	}
	sort.Strings(syms)
	return syms, acc, nil
}

// listIsolated lists isolated margin orders symbol by symbol (the symbol
// is mandatory there), in parallel.
func (e *Executor) listIsolated(ctx context.Context, filter []string) ([]openOrder, error) {
	syms, _, err := e.isolatedSymbols(ctx)
	if err != nil {
		return nil, err
	}
	if len(filter) > 0 {
		var keep []string
		for _, s := range syms {
			if contains(filter, s) {
				keep = append(keep, s)
			}
		}
		syms = keep
	}
	results := make([][]openOrder, len(syms))
	errs := make([]error, len(syms))
	parallel(ctx, len(syms), e.concurrency, func(ctx context.Context, i int) {
		var res []*gobinance.Order
		errs[i] = e.call(ctx, "list isolated margin open orders "+syms[i], false, func(ctx context.Context) error {
			var err error
			res, err = e.spot.NewListMarginOpenOrdersService().Symbol(syms[i]).IsIsolated(true).Do(ctx)
			return err
		})
		results[i] = spotOrders(executors.ProductIsolatedMargin, res)
	}, nil)
	var out []openOrder
	for i := range syms {
		if errs[i] != nil {
			return nil, errs[i]
		}
		out = append(out, results[i]...)
	}
	if err := ctx.Err(); err != nil {
		return nil, classify("list isolated margin open orders", false, 0, 0, err)
	}
	return out, nil
}

func (e *Executor) listUSDM(ctx context.Context) ([]openOrder, error) {
	var (
		plain, algo []openOrder
		perr, aerr  error
		wg          sync.WaitGroup
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		perr = e.call(ctx, "list usdm open orders", false, func(ctx context.Context) error {
			res, err := e.fut.NewListOpenOrdersService().Do(ctx)
			for _, o := range res {
				plain = append(plain, openOrder{Product: executors.ProductUSDM, Symbol: o.Symbol, ID: itoa(o.OrderID),
					ClientID: o.ClientOrderID, Kind: orderKind(string(o.Type)), Side: string(o.Side), Price: o.Price,
					Qty: o.OrigQuantity, Created: msTime(o.Time)})
			}
			return err
		})
	}()
	go func() {
		defer wg.Done()
		algo, aerr = e.listAlgo(ctx)
	}()
	wg.Wait()
	if perr != nil {
		return nil, perr
	}
	if aerr != nil {
		return nil, aerr
	}
	return append(plain, algo...), nil
}

// algoOrder is one item of GET /fapi/v1/openAlgoOrders (not in the SDK).
type algoOrder struct {
	AlgoID       int64  `json:"algoId"`
	ClientAlgoID string `json:"clientAlgoId"`
	AlgoType     string `json:"algoType"`
	OrderType    string `json:"orderType"`
	Symbol       string `json:"symbol"`
	Side         string `json:"side"`
	Quantity     string `json:"quantity"`
	Price        string `json:"price"`
	TriggerPrice string `json:"triggerPrice"`
	AlgoStatus   string `json:"algoStatus"`
	CreateTime   int64  `json:"createTime"`
}

// decodeAlgoOrders accepts a bare array or an object wrapping it in
// "orders", "rows" or "data" (the documentation shows the fields, not the
// envelope).
func decodeAlgoOrders(data []byte) ([]algoOrder, error) {
	var list []algoOrder
	if err := json.Unmarshal(data, &list); err == nil {
		return list, nil
	}
	var env struct {
		Orders []algoOrder `json:"orders"`
		Rows   []algoOrder `json:"rows"`
		Data   []algoOrder `json:"data"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, err
	}
	return append(append(env.Orders, env.Rows...), env.Data...), nil
}

// listAlgo lists USDⓈ-M algo orders: GET /fapi/v1/openAlgoOrders, which
// the SDK does not have.
func (e *Executor) listAlgo(ctx context.Context) ([]openOrder, error) {
	var list []algoOrder
	err := e.call(ctx, "list usdm algo orders", false, func(ctx context.Context) error {
		data, err := e.signed(ctx, http.MethodGet, "/fapi/v1/openAlgoOrders", nil, nil)
		if err != nil {
			return err
		}
		list, err = decodeAlgoOrders(data)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]openOrder, 0, len(list))
	for _, a := range list {
		if a.AlgoStatus != "" && a.AlgoStatus != "NEW" {
			continue
		}
		price := a.TriggerPrice
		if price == "" || isZeroAmount(price) {
			price = a.Price
		}
		out = append(out, openOrder{Product: executors.ProductUSDM, Symbol: a.Symbol, ID: itoa(a.AlgoID),
			ClientID: a.ClientAlgoID, Kind: kindAlgo, Side: a.Side, Price: price, Qty: a.Quantity, Created: msTime(a.CreateTime)})
	}
	return out, nil
}

// listCoinM lists COIN-M orders for every symbol in one call. It never uses
// the SDK's Pair(), which sends the symbol as the pair (EXCHANGES.md §1.3).
func (e *Executor) listCoinM(ctx context.Context) ([]openOrder, error) {
	var out []openOrder
	err := e.call(ctx, "list coinm open orders", false, func(ctx context.Context) error {
		res, err := e.dlv.NewListOpenOrdersService().Do(ctx)
		out = out[:0]
		for _, o := range res {
			out = append(out, openOrder{Product: executors.ProductCoinM, Symbol: o.Symbol, ID: itoa(o.OrderID),
				ClientID: o.ClientOrderID, Kind: orderKind(string(o.Type)), Side: string(o.Side), Price: o.Price,
				Qty: o.OrigQuantity, Created: msTime(o.Time)})
		}
		return err
	})
	return out, err
}

// ordersList implements orders.list.
func (e *Executor) ordersList(ctx context.Context, req executors.Request) (executors.Result, error) {
	// Like the freeze: the permissions call and every product's listing go
	// out together when the products come from the key's permissions.
	ps, l, err := e.resolveAndList(ctx, req.Params, req.Params.Strings("symbols"))
	if err != nil {
		return executors.Result{}, err
	}
	if err := l.firstErr(); err != nil {
		return executors.Result{}, err
	}
	orders, findings := l.orders, l.findings
	if orders == nil {
		orders = []openOrder{}
	}
	groups := groupOrders(orders)
	counts := map[string]int{"orders": len(orders)}
	for _, o := range orders {
		counts[o.Product]++
	}
	return executors.Result{
		Status:   executors.StatusOK,
		Summary:  fmt.Sprintf("%s on %s (%s)", plural(len(orders), "open order"), plural(len(symbolsOf(groups)), "symbol"), strings.Join(ps.list, ", ")),
		Data:     orders,
		Counts:   counts,
		Findings: append(ps.findings, findings...),
	}, nil
}

// cancelGroup is one cancel-all call: a product, a symbol, and whether it
// targets the algo service.
type cancelGroup struct {
	product string
	symbol  string
	algo    bool
	orders  []openOrder
}

func (g cancelGroup) id() string {
	if g.algo {
		return "cancel:usdm-algo:" + g.symbol
	}
	return "cancel:" + g.product + ":" + g.symbol
}

// orderSetID identifies the orders this cancel targets (see executors.OrderSetID).
func (g cancelGroup) orderSetID() string {
	ids := make([]string, len(g.orders))
	for i, o := range g.orders {
		ids[i] = o.ID
	}
	return executors.OrderSetID(ids)
}

func (g cancelGroup) label() string {
	if g.algo {
		return "usdm algo " + g.symbol
	}
	return g.product + " " + g.symbol
}

// byExposure returns groups sorted by their orders' exposure, highest
// first (executors.Exposure); equal ones keep their order.
func byExposure(groups []cancelGroup) []cancelGroup {
	value := map[string]float64{} // group id -> its orders' exposure
	for _, g := range groups {
		for _, o := range g.orders {
			value[g.id()] += executors.Exposure(o)
		}
	}
	out := slices.Clone(groups)
	slices.SortStableFunc(out, func(a, b cancelGroup) int { return cmp.Compare(value[b.id()], value[a.id()]) })
	return out
}

func groupOrders(orders []openOrder) []cancelGroup {
	idx := map[string]int{}
	var out []cancelGroup
	for _, o := range orders {
		g := cancelGroup{product: o.Product, symbol: o.Symbol, algo: o.Kind == kindAlgo}
		if i, ok := idx[g.id()]; ok {
			out[i].orders = append(out[i].orders, o)
			continue
		}
		g.orders = []openOrder{o}
		idx[g.id()] = len(out)
		out = append(out, g)
	}
	return out
}

func symbolsOf(groups []cancelGroup) []string {
	set := map[string]bool{}
	for _, g := range groups {
		set[g.product+"/"+g.symbol] = true
	}
	return sortedKeys(set)
}

func orderChange(o openOrder) executors.Change {
	what := o.Kind
	if o.Side != "" {
		what += " " + strings.ToLower(o.Side)
	}
	if o.Qty != "" {
		what += " " + o.Qty
	}
	if o.Price != "" && !isZeroAmount(o.Price) {
		what += " @ " + o.Price
	}
	return executors.Change{Kind: "cancel-order", Product: o.Product, Symbol: o.Symbol, ID: o.ID, Created: o.Created,
		Target: fmt.Sprintf("%s %s order %s (%s)", o.Product, o.Symbol, o.ID, what)}
}

// cancelRequest describes the request of a cancel group (no secrets).
func (g cancelGroup) request() map[string]string {
	m := map[string]string{"symbol": g.symbol}
	switch {
	case g.algo:
		m["method"], m["path"] = http.MethodDelete, "/fapi/v1/algoOpenOrders"
	case g.product == executors.ProductSpot:
		m["method"], m["path"] = http.MethodDelete, "/api/v3/openOrders"
	case g.product == executors.ProductMargin:
		m["method"], m["path"] = http.MethodDelete, "/sapi/v1/margin/openOrders"
	case g.product == executors.ProductIsolatedMargin:
		m["method"], m["path"], m["isIsolated"] = http.MethodDelete, "/sapi/v1/margin/openOrders", "TRUE"
	case g.product == executors.ProductUSDM:
		m["method"], m["path"] = http.MethodDelete, "/fapi/v1/allOpenOrders"
	case g.product == executors.ProductCoinM:
		m["method"], m["path"] = http.MethodDelete, "/dapi/v1/allOpenOrders"
	}
	return m
}

// cancelSymbol sends the one cancel-all call of g.
func (e *Executor) cancelSymbol(ctx context.Context, g cancelGroup) error {
	op := "cancel " + g.label()
	return e.callCancel(ctx, op, func(ctx context.Context) error {
		switch {
		case g.algo:
			_, err := e.signed(ctx, http.MethodDelete, "/fapi/v1/algoOpenOrders", nil, url.Values{"symbol": {g.symbol}})
			return err
		case g.product == executors.ProductSpot:
			_, err := e.spot.NewCancelOpenOrdersService().Symbol(g.symbol).Do(ctx)
			if apiCode(err) == codeCancelRejected {
				// -2011 "Unknown order sent." on an empty book: nothing
				// left to cancel is success; the re-list confirms it.
				return nil
			}
			return err
		case g.product == executors.ProductMargin, g.product == executors.ProductIsolatedMargin:
			s := e.spot.NewCancelAllMarginOrdersService().Symbol(g.symbol)
			if g.product == executors.ProductIsolatedMargin {
				s = s.IsIsolated(true)
			}
			_, err := s.Do(ctx)
			return marginCancelOutcome(ctx, err)
		case g.product == executors.ProductUSDM:
			return e.fut.NewCancelAllOpenOrdersService().Symbol(g.symbol).Do(ctx)
		case g.product == executors.ProductCoinM:
			return e.dlv.NewCancelAllOpenOrdersService().Symbol(g.symbol).Do(ctx)
		}
		return unsupported(op, "unknown product")
	})
}

// marginCancelOutcome works around the SDK's margin cancel-all decoder: the
// venue returns an integer orderId that the SDK decodes into a string, so a
// successful cancel comes back as a JSON type error. A decode error after a
// 2xx means the venue executed the cancel; the re-list confirms it. -2011 on
// an empty book is success too.
func marginCancelOutcome(ctx context.Context, err error) error {
	if err == nil || apiCode(err) == codeCancelRejected {
		return nil
	}
	if cp, ok := ctx.Value(captureKey{}).(*capture); ok {
		if status, _ := cp.get(); status >= 200 && status < 300 && isDecodeError(err) {
			return nil
		}
	}
	return err
}

// cancelAll implements orders.cancel_all (and its plan). It cancels what
// it could list even when a product could not be listed (its orders are
// then unknown and the step fails), and it confirms by re-listing exactly
// the products it listed: a product the re-list cannot read keeps its
// orders as remaining (unconfirmed), never as cancelled.
func (e *Executor) cancelAll(ctx context.Context, req executors.Request, plan bool) (executors.Result, error) {
	symbols := req.Params.Strings("symbols")
	ps, first, err := e.resolveAndList(ctx, req.Params, symbols)
	if err != nil {
		return executors.Result{}, err
	}
	listErr := first.firstErr()
	if listErr != nil && (plan || len(first.listed) == 0) {
		return executors.Result{}, listErr
	}
	orders := first.orders
	findings := append(ps.findings, first.findings...)
	for _, p := range first.failed {
		findings = append(findings, executors.Finding{Severity: "high", Subject: p,
			Message: "open orders unknown: the product could not be listed: " + first.errs[p].Error(),
			Fix:     "run the step again; if it keeps failing, cancel the orders of " + p + " in the Binance UI"})
	}
	unlistedNote := ""
	if len(first.failed) > 0 {
		unlistedNote = fmt.Sprintf("; %s could not be listed: its orders are unknown", strings.Join(first.failed, ", "))
	}
	groups := groupOrders(orders)
	if len(orders) == 0 {
		if listErr != nil {
			return executors.Result{Status: executors.StatusFailed, Summary: "no open orders on " + strings.Join(first.listed, ", ") + unlistedNote,
				Findings: findings, Counts: map[string]int{"cancelled": 0, "remaining": 0}}, listErr
		}
		return executors.Result{Status: executors.StatusOK, Summary: "nothing to do: no open orders on " + strings.Join(ps.list, ", "),
			Findings: findings, Counts: map[string]int{"cancelled": 0, "remaining": 0}}, nil
	}
	if plan {
		changes := make([]executors.Change, 0, len(orders))
		for _, o := range orders {
			changes = append(changes, orderChange(o))
		}
		return executors.Result{Status: executors.StatusWouldChange,
			Summary: fmt.Sprintf("would cancel %s on %s (%s)", plural(len(orders), "order"), plural(len(symbolsOf(groups)), "symbol"), strings.Join(productsOf(groups), ", ")),
			Changes: changes, Data: orders, Findings: findings,
			Counts: map[string]int{"orders": len(orders), "symbols": len(symbolsOf(groups))}}, nil
	}

	timeout := req.Params.Duration("confirm_timeout")
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	deadline := e.env.Now().Add(timeout)
	initial := orders
	seen := append([]openOrder(nil), orders...)
	seenKey := map[string]bool{}
	for _, o := range orders {
		seenKey[orderKey(o)] = true
	}
	// The confirming re-list reads exactly the products listed above, and
	// skips none: any product it cannot read fails the step.
	confirm := productSet{list: first.listed}
	var (
		lastErrs  map[string]error // group id -> error of its latest cancel
		auditErr  error
		relistErr error                // first error of the latest re-list
		relistBad []string             // products the latest re-list could not read
		cancelled = map[string]bool{}  // order key -> seen cancelled
		finalErrs = map[string]error{} // group id -> latest cancel error
		giveUp    = map[string]bool{}  // group ids refused for good
	)
	// Rounds go on while orders survive and confirm_timeout allows: a
	// cancel is sent again at once on a passing failure (callCancel), and
	// what the re-list still shows (a cancel that kept failing, an order
	// placed meanwhile) is cancelled in the next round (issue 12 item 4).
	// The cap only bounds a venue that keeps accepting cancels it never
	// carries out.
	const maxRounds = 20
	for round := 0; len(groups) > 0 && round < maxRounds; round++ {
		if round > 0 && !e.env.Now().Before(deadline) {
			break
		}
		lastErrs, auditErr = e.cancelGroups(ctx, req, groups)
		if auditErr != nil {
			return executors.Result{Status: executors.StatusFailed, Summary: "audit trail refused a cancel: " + auditErr.Error(), Findings: findings}, auditErr
		}
		if round == 0 {
			// What is left is to confirm: the account's next mutating
			// step (a key revocation) need not wait for the re-list.
			req.NoteMutationsSent()
		}
		// Re-list before anything else: a cancel that failed even after
		// being sent again (callCancel) is repeated only for the orders
		// the re-list still shows.
		// The first re-list reads every product listed; a later round's
		// reads only the products it sent cancels on (the others were
		// confirmed by the re-list before it, and the hold looks again):
		// a full re-list per round, 80 weight on /fapi alone, is what a
		// 5xx storm's rounds could not afford (issue 12).
		relist := confirm
		if round > 0 {
			relist = productSet{list: productsOf(groups)}
		}
		rl := e.listEach(executors.ConfirmContext(ctx), relist, symbols)
		after := rl.orders
		if round > 0 {
			// Orders of products not re-listed stand as the last re-list
			// showed them.
			again := map[string]bool{}
			for _, p := range relist.list {
				again[p] = true
			}
			for _, o := range orders {
				if !again[o.Product] {
					after = append(after, o)
				}
			}
			sortOrders(after)
		}
		relistErr, relistBad = rl.firstErr(), rl.failed
		if relistErr != nil {
			// Orders of a product the re-list could not read are
			// unconfirmed: they stay open as far as this step knows.
			for _, o := range orders {
				if rl.errs[o.Product] != nil {
					after = append(after, o)
				}
			}
			sortOrders(after)
		}
		left := map[string]bool{}
		for _, o := range after {
			left[orderKey(o)] = true
		}
		for _, o := range orders {
			if !left[orderKey(o)] {
				cancelled[orderKey(o)] = true
			}
		}
		for _, o := range after {
			if !seenKey[orderKey(o)] {
				seenKey[orderKey(o)] = true
				seen = append(seen, o)
			}
		}
		orders = after
		// Survivors are cancelled again (after this re-list), except where
		// the venue refused the cancel for good (auth, bad parameter).
		for _, g := range groups {
			delete(finalErrs, g.id())
		}
		for id, err := range lastErrs {
			finalErrs[id] = err
			if !executors.Retryable(err) {
				giveUp[id] = true
			}
		}
		if relistErr != nil {
			break // nothing is sent again on a re-list that could not be read
		}
		groups = groups[:0]
		for _, g := range groupOrders(after) {
			if !giveUp[g.id()] {
				groups = append(groups, g)
			}
		}
	}

	// Every order seen is reported: those listed first and those placed
	// since that a later round cancelled (an attacker still trading).
	var changes []executors.Change
	for _, o := range seen {
		if cancelled[orderKey(o)] {
			changes = append(changes, orderChange(o))
		}
	}
	counts := map[string]int{"cancelled": len(changes), "remaining": len(orders)}
	if len(orders) == 0 && listErr == nil {
		return executors.Result{Status: executors.StatusChanged,
			Summary: fmt.Sprintf("cancelled %s on %s (%s); none left", plural(len(changes), "order"), plural(len(symbolsOf(groupOrders(initial))), "symbol"), strings.Join(productsOf(groupOrders(initial)), ", ")),
			Changes: changes, Findings: findings, Counts: counts, Data: initial}, nil
	}
	remaining := make([]executors.Change, 0, len(orders))
	for _, o := range orders {
		remaining = append(remaining, orderChange(o))
	}
	var firstErr error
	for _, g := range groupOrders(orders) {
		if err := finalErrs[g.id()]; err != nil {
			findings = append(findings, executors.Finding{Severity: "high", Subject: g.label(), Message: "cancel failed: " + err.Error()})
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	summary := fmt.Sprintf("cancelled %s; %s survived on %s", plural(len(changes), "order"), plural(len(orders), "order"), strings.Join(symbolsOf(groupOrders(orders)), ", "))
	if len(orders) == 0 {
		summary = fmt.Sprintf("cancelled %s on %s (%s); none left there", plural(len(changes), "order"), plural(len(symbolsOf(groupOrders(initial))), "symbol"), strings.Join(productsOf(groupOrders(initial)), ", "))
	}
	if relistErr != nil {
		for _, p := range relistBad {
			findings = append(findings, executors.Finding{Severity: "high", Subject: p,
				Message: "cancels sent but the re-list failed: the outcome is unconfirmed, its orders are counted as remaining: " + relistErr.Error(),
				Fix:     "run the step again: it re-lists before cancelling"})
		}
		summary = fmt.Sprintf("cancelled %s; %s unconfirmed or still open: the re-list of %s failed", plural(len(changes), "order"), plural(len(orders), "order"), strings.Join(relistBad, ", "))
	}
	summary += unlistedNote
	res := executors.Result{Status: executors.StatusFailed, Summary: summary,
		Changes: changes, Remaining: remaining, Findings: findings, Counts: counts, Data: initial}
	switch {
	case firstErr != nil && !executors.Retryable(firstErr):
	case relistErr != nil:
		firstErr = relistErr
	case listErr != nil && firstErr == nil:
		firstErr = listErr
	}
	if firstErr == nil {
		firstErr = &executors.Error{Class: executors.ErrRejected, Op: "cancel all orders", Msg: fmt.Sprintf("%s still open after cancelling", plural(len(orders), "order"))}
	}
	return res, firstErr
}

func orderKey(o openOrder) string { return o.Product + "|" + o.Kind + "|" + o.Symbol + "|" + o.ID }

func productsOf(groups []cancelGroup) []string {
	set := map[string]bool{}
	for _, g := range groups {
		set[g.product] = true
	}
	var out []string
	for _, p := range productOrder {
		if set[p] {
			out = append(out, p)
		}
	}
	return out
}

// cancelGroups cancels every group in parallel, one audited mutation per
// (product, symbol) call. It returns each group's error and the first audit
// error (after which nothing more is sent).
func (e *Executor) cancelGroups(ctx context.Context, req executors.Request, groups []cancelGroup) (map[string]error, error) {
	// The most exposed symbols first: when the budget is the bottleneck,
	// they are the ones waiting least (issue 12 item 3).
	groups = byExposure(groups)
	var (
		mu       sync.Mutex
		errs     = map[string]error{}
		auditErr error
	)
	stopped := func() bool { mu.Lock(); defer mu.Unlock(); return auditErr != nil }
	parallel(ctx, len(groups), e.concurrency, func(ctx context.Context, i int) {
		g := groups[i]
		m := executors.Mutation{ID: g.id() + "@" + g.orderSetID(), Kind: "cancel-orders",
			Target:  fmt.Sprintf("%s on %s", plural(len(g.orders), "open order"), g.label()),
			Request: g.request()}
		sent := false
		err := req.Mutate(ctx, m, func(ctx context.Context) error {
			sent = true
			return e.cancelSymbol(ctx, g)
		})
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if !sent {
				if auditErr == nil {
					auditErr = auditError("cancel "+g.label(), err)
				}
				return
			}
			errs[g.id()] = err
		}
	}, stopped)
	return errs, auditErr
}
