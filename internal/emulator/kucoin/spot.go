package kucoin

import (
	"math/big"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

const (
	read = emu.KindRead
	mut  = emu.KindMutation
	pub  = emu.KindPublic
)

// spotRoutes are the endpoints of api.kucoin.com with their pools and
// weights (EXCHANGES.md §2.2–2.7).
func spotRoutes(s *store) []route {
	g := "General"
	return append(publicSpotRoutes(), []route{
		{"GET", "/api/v1/timestamp", poolPublic, 3, pub, "", false, hTimestamp},
		{"GET", "/api/v1/my-ip", poolPublic, 0, pub, "", false, hMyIP},
		{"GET", "/api/v1/accounts", poolManagement, 5, read, g, false, hAccounts},
		{"GET", "/api/v1/hf/accounts/opened", poolSpot, 30, read, g, false, hHFOpened},
		{"GET", "/api/v3/margin/accounts", poolSpot, 15, read, g, false, hMarginAccounts},
		{"GET", "/api/v3/isolated/accounts", poolSpot, 15, read, g, false, hIsolatedAccounts},
		{"GET", "/api/v1/user/api-key", poolManagement, 20, read, g, false, hKeyInfo},
		{"GET", "/api/v2/sub/user", poolManagement, 20, read, g, true, hSubUsersV2},
		{"GET", "/api/v1/sub/user", poolManagement, 20, read, g, true, hSubUsersV1},
		{"GET", "/api/v2/sub-accounts", poolManagement, 20, read, g, true, hSubAccountsV2},
		{"GET", "/api/v1/sub-accounts/{id}", poolManagement, 15, read, g, true, hSubAccount},
		{"GET", "/api/v1/sub/api-key", poolManagement, 20, read, g, true, hSubKeys},
		{"POST", "/api/v1/sub/api-key", poolManagement, 20, mut, g, true, hCreateSubKey},
		{"POST", "/api/v1/sub/api-key/update", poolManagement, 30, mut, g, true, hSubKeyUpdate},
		{"DELETE", "/api/v1/sub/api-key", poolManagement, 30, mut, g, true, hSubKeyDelete},
		{"POST", "/api/v1/hf/orders", poolSpot, 1, mut, "Spot", false, hHFPlace},
		{"POST", "/api/v1/hf/orders/test", poolSpot, 1, read, "Spot", false, hOrderTest(false, answerHF)},
		{"POST", "/api/v1/orders/test", poolSpot, 2, read, "Spot", false, hOrderTest(true, answerClassic)},
		{"POST", "/api/v3/hf/margin/order/test", poolSpot, 5, read, "Margin", false, hOrderTest(true, answerMargin)},
		{"POST", "/api/v1/margin/order/test", poolSpot, 5, read, "Margin", false, hOrderTest(true, answerMarginV1)},
		{"DELETE", "/api/v1/hf/orders/{id}", poolSpot, 1, mut, "Spot", false, hHFCancelByID},
		{"DELETE", "/api/v1/hf/orders/client-order/{id}", poolSpot, 1, mut, "Spot", false, hHFCancelByClientOid},
		{"GET", "/api/v1/hf/orders/{id}", poolSpot, 2, read, g, false, hHFGetByID},
		{"GET", "/api/v1/hf/orders/client-order/{id}", poolSpot, 2, read, g, false, hHFGetByClientOid},
		{"GET", "/api/v1/hf/orders/done", poolSpot, 2, read, g, false, hHFDone},
		{"POST", "/api/v1/orders", poolSpot, 2, mut, "Spot", false, hClassicPlace},
		{"DELETE", "/api/v1/orders/{id}", poolSpot, 3, mut, "Spot", false, hClassicCancelByID},
		{"DELETE", "/api/v1/order/client-order/{id}", poolSpot, 3, mut, "Spot", false, hClassicCancelByClientOid},
		{"GET", "/api/v1/orders/{id}", poolSpot, 2, read, g, false, hClassicGetByID},
		{"GET", "/api/v1/order/client-order/{id}", poolSpot, 3, read, g, false, hClassicGetByClientOid},
		{"POST", "/api/v1/margin/order", poolSpot, 5, mut, "Margin", false, hMarginV1Place},
		{"POST", "/api/v1/stop-order", poolSpot, 1, mut, "Spot", false, hStopPlace},
		{"DELETE", "/api/v1/stop-order/{id}", poolSpot, 3, mut, "Spot", false, hStopCancelByID},
		{"DELETE", "/api/v1/stop-order/cancelOrderByClientOid", poolSpot, 5, mut, "Spot", false, hStopCancelByClientOid},
		{"GET", "/api/v1/stop-order/{id}", poolSpot, 3, read, g, false, hStopGetByID},
		{"GET", "/api/v1/stop-order/queryOrderByClientOid", poolSpot, 3, read, g, false, hStopGetByClientOid},
		{"POST", "/api/v3/oco/order", poolSpot, 2, mut, "Spot", false, hOCOPlace},
		{"DELETE", "/api/v3/oco/order/{id}", poolSpot, 3, mut, "Spot", false, hOCOCancelOne(false)},
		{"DELETE", "/api/v3/oco/client-order/{id}", poolSpot, 3, mut, "Spot", false, hOCOCancelOne(true)},
		{"GET", "/api/v3/oco/order/{id}", poolSpot, 2, read, g, false, hOCOGet(false)},
		{"GET", "/api/v3/oco/client-order/{id}", poolSpot, 2, read, g, false, hOCOGet(true)},
		{"GET", "/api/v3/oco/order/details/{id}", poolSpot, 2, read, g, false, hOCODetail},
		{"POST", "/api/v3/hf/margin/order", poolSpot, 5, mut, "Margin", false, hMarginPlace},
		{"DELETE", "/api/v3/hf/margin/orders/{id}", poolSpot, 5, mut, "Margin", false, hMarginCancelByID},
		{"DELETE", "/api/v3/hf/margin/orders/client-order/{id}", poolSpot, 5, mut, "Margin", false, hMarginCancelByClientOid},
		{"GET", "/api/v3/hf/margin/orders/{id}", poolSpot, 5, read, g, false, hMarginGetByID},
		{"GET", "/api/v3/hf/margin/orders/client-order/{id}", poolSpot, 5, read, g, false, hMarginGetByClientOid},
		{"GET", "/api/v3/hf/margin/orders/done", poolSpot, 10, read, g, false, hMarginDone},
		{"GET", "/api/v1/hf/orders/active/symbols", poolSpot, 2, read, g, false, hHFActiveSymbols},
		{"GET", "/api/v1/hf/orders/active", poolSpot, 2, read, g, false, hHFActive},
		{"DELETE", "/api/v1/hf/orders", poolSpot, 2, mut, "Spot", false, hHFCancelSymbol},
		{"DELETE", "/api/v1/hf/orders/cancelAll", poolSpot, 30, mut, "Spot", false, hHFCancelAll},
		{"POST", "/api/v1/hf/orders/dead-cancel-all", poolSpot, 2, mut, "Spot", false, hDeadman},
		{"GET", "/api/v1/hf/orders/dead-cancel-all/query", poolSpot, 2, read, g, false, hDeadmanQuery},
		{"GET", "/api/v1/orders", poolSpot, 2, read, g, false, hClassicList},
		{"DELETE", "/api/v1/orders", poolSpot, 20, mut, "Spot", false, hClassicCancel},
		{"GET", "/api/v1/stop-order", poolSpot, 8, read, g, false, hStopList},
		{"DELETE", "/api/v1/stop-order/cancel", poolSpot, 3, mut, "Spot", false, hStopCancel},
		{"GET", "/api/v3/oco/orders", poolSpot, 2, read, g, false, hOCOList},
		{"DELETE", "/api/v3/oco/orders", poolSpot, 3, mut, "Spot", false, hOCOCancel},
		{"GET", "/api/v3/hf/margin/order/active/symbols", poolSpot, 4, read, g, false, hMarginActiveSymbols},
		{"GET", "/api/v3/hf/margin/orders/active", poolSpot, 4, read, g, false, hMarginActive},
		{"DELETE", "/api/v3/hf/margin/orders", poolSpot, 5, mut, "Margin", false, hMarginCancel},
		{"GET", "/api/v1/withdrawals", poolManagement, 20, read, g, false, hWithdrawals},
		{"GET", "/api/v1/withdrawals/{id}", poolManagement, 20, read, g, false, hWithdrawal},
		{"DELETE", "/api/v1/withdrawals/{id}", poolManagement, 20, mut, "Transfer", false, hWithdrawalCancel},
		{"POST", "/api/v3/withdrawals", poolManagement, 5, mut, "Transfer", false, hWithdrawV3},
		{"POST", "/api/v1/withdrawals", poolManagement, 5, mut, "Transfer", false, hWithdrawV1},
		{"GET", "/api/v1/withdrawals/quotas", poolManagement, 20, read, g, false, hWithdrawalQuotas},
		{"POST", "/api/v3/accounts/universal-transfer", poolManagement, 4, mut, "InnerTransfer", false, hUniversalTransfer},
		{"GET", "/api/v1/hf/fills", poolSpot, 2, read, g, false, hHFFills},
		{"GET", "/api/v3/hf/margin/fills", poolSpot, 5, read, g, false, hMarginFills},
		{"GET", "/api/v1/fills", poolSpot, 10, read, g, false, hFills},
		{"GET", "/api/v2/symbols", poolPublic, 4, pub, "", false, hSymbolsV2},
		{"GET", "/api/v1/symbols", poolPublic, 4, pub, "", false, hSymbolsV1},
		{"GET", "/api/v2/symbols/{symbol}", poolPublic, 4, pub, "", false, hSymbol},
		{"GET", "/api/v3/currencies", poolPublic, 3, pub, "", false, hCurrencies},
		{"GET", "/api/v3/currencies/{$}", poolPublic, 3, pub, "", false, hCurrencies},
		{"GET", "/api/v3/currencies/{currency}", poolPublic, 3, pub, "", false, hCurrency},
		{"GET", "/api/v1/market/allTickers", poolPublic, 15, pub, "", false, hAllTickers},
	}...)
}

func hTimestamp(c *call) (any, *apiError) { return c.now.UnixMilli(), nil }
func hMyIP(c *call) (any, *apiError)      { return c.ip, nil }

// tick applies what the passage of time does: dead-man switches fire.
func (w *world) tick(now time.Time) {
	w.releaseDue(now)
	w.advanceWithdrawals(now)
	for _, u := range w.users {
		d := u.deadman
		if d == nil || d.triggerTime.IsZero() || now.Before(d.triggerTime) {
			continue
		}
		for _, o := range u.orders {
			if o.kind == kindHF && o.live(now) && (len(d.symbols) == 0 || contains(d.symbols, o.symbol)) {
				o.cancelAt = d.triggerTime
				w.finish(o)
			}
		}
		u.deadman = nil
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type accountJSON struct {
	ID        string `json:"id"`
	Currency  string `json:"currency"`
	Type      string `json:"type"`
	Balance   string `json:"balance"`
	Available string `json:"available"`
	Holds     string `json:"holds"`
}

func (a *amount) available() *big.Rat { return new(big.Rat).Sub(a.balance, a.holds) }

func hAccounts(c *call) (any, *apiError) {
	typ, cur := c.param("type"), c.param("currency")
	switch typ {
	case "", "main", "trade", "trade_hf", "margin", "option":
	default:
		return nil, badParam("type is invalid")
	}
	out := []accountJSON{}
	for _, t := range []string{"main", "trade", "trade_hf", "margin"} {
		if typ != "" && typ != t {
			continue
		}
		if t == "margin" {
			for _, cc := range sortedKeys(c.u.margin) {
				m := c.u.margin[cc]
				if cur != "" && cc != cur {
					continue
				}
				out = append(out, accountJSON{ID: hashHex("macc", c.u.name, cc)[:24], Currency: cc, Type: "margin",
					Balance: ratString(m.total), Available: ratString(new(big.Rat).Sub(m.total, m.hold)), Holds: ratString(m.hold)})
			}
			continue
		}
		acc := c.u.balances[t]
		for _, cc := range sortedKeys(acc) {
			if cur != "" && cc != cur {
				continue
			}
			a := acc[cc]
			out = append(out, accountJSON{ID: a.id, Currency: cc, Type: t, Balance: ratString(a.balance), Available: ratString(a.available()), Holds: ratString(a.holds)})
		}
	}
	return out, nil
}

func hHFOpened(c *call) (any, *apiError) { return c.u.hf, nil }

type marginAssetJSON struct {
	Currency           string `json:"currency"`
	Total              string `json:"total"`
	Available          string `json:"available"`
	Hold               string `json:"hold"`
	Liability          string `json:"liability"`
	LiabilityPrincipal string `json:"liabilityPrincipal"`
	LiabilityInterest  string `json:"liabilityInterest"`
	MaxBorrowSize      string `json:"maxBorrowSize"`
	BorrowEnabled      bool   `json:"borrowEnabled"`
	TransferInEnabled  bool   `json:"transferInEnabled"`
}

func marginAssetOf(c string, m *marginAmount) marginAssetJSON {
	return marginAssetJSON{
		Currency: c, Total: ratString(m.total), Available: ratString(new(big.Rat).Sub(m.total, m.hold)), Hold: ratString(m.hold),
		Liability: ratString(m.liability), LiabilityPrincipal: ratString(m.liability), LiabilityInterest: "0",
		MaxBorrowSize: "0", BorrowEnabled: true, TransferInEnabled: true,
	}
}

func debtRatio(assets, liab *big.Rat) string {
	if assets.Sign() == 0 {
		return "0"
	}
	return ratString(new(big.Rat).Quo(liab, assets))
}

func hMarginAccounts(c *call) (any, *apiError) {
	quote := orDefault(c.param("quoteCurrency"), "USDT")
	switch c.param("queryType") {
	case "", "MARGIN", "MARGIN_V2", "ALL":
	default:
		return nil, badParam("queryType is invalid")
	}
	qp := c.w.prices[quote]
	if qp == nil || qp.Sign() == 0 {
		return nil, badParam("quoteCurrency is invalid")
	}
	totalA, totalL := new(big.Rat), new(big.Rat)
	accs := []marginAssetJSON{}
	for _, cc := range sortedKeys(c.u.margin) {
		m := c.u.margin[cc]
		accs = append(accs, marginAssetOf(cc, m))
		totalA.Add(totalA, c.w.usdValue(cc, m.total))
		totalL.Add(totalL, c.w.usdValue(cc, m.liability))
	}
	return map[string]any{
		"totalAssetOfQuoteCurrency":     ratString(new(big.Rat).Quo(totalA, qp)),
		"totalLiabilityOfQuoteCurrency": ratString(new(big.Rat).Quo(totalL, qp)),
		"debtRatio":                     debtRatio(totalA, totalL),
		"status":                        "EFFECTIVE",
		"accounts":                      accs,
	}, nil
}

func hIsolatedAccounts(c *call) (any, *apiError) {
	quote := orDefault(c.param("quoteCurrency"), "USDT")
	sym := c.param("symbol")
	qp := c.w.prices[quote]
	if qp == nil || qp.Sign() == 0 {
		return nil, badParam("quoteCurrency is invalid")
	}
	totalA, totalL := new(big.Rat), new(big.Rat)
	assets := []map[string]any{}
	for _, s := range sortedKeys(c.u.isolated) {
		if sym != "" && s != sym {
			continue
		}
		iso := c.u.isolated[s]
		a := new(big.Rat).Add(c.w.usdValue(baseOf(s), iso.base.total), c.w.usdValue(quoteOf(s), iso.quote.total))
		l := new(big.Rat).Add(c.w.usdValue(baseOf(s), iso.base.liability), c.w.usdValue(quoteOf(s), iso.quote.liability))
		totalA.Add(totalA, a)
		totalL.Add(totalL, l)
		assets = append(assets, map[string]any{
			"symbol": s, "status": "EFFECTIVE", "debtRatio": debtRatio(a, l),
			"baseAsset": marginAssetOf(baseOf(s), iso.base), "quoteAsset": marginAssetOf(quoteOf(s), iso.quote),
		})
	}
	return map[string]any{
		"totalAssetOfQuoteCurrency":     ratString(new(big.Rat).Quo(totalA, qp)),
		"totalLiabilityOfQuoteCurrency": ratString(new(big.Rat).Quo(totalL, qp)),
		"timestamp":                     c.now.UnixMilli(),
		"assets":                        assets,
	}, nil
}

func keyJSON(k *apiKey) map[string]any {
	m := map[string]any{
		"remark": k.remark, "apiKey": k.key, "apiVersion": k.version, "permission": strings.Join(k.permission, ","),
		"ipWhitelist": strings.Join(k.ipList, ","), "createdAt": k.createdAt, "uid": k.owner.uid, "isMaster": k.owner.master == nil,
	}
	if k.owner.master != nil {
		m["subName"] = k.owner.name
	}
	return m
}

func hKeyInfo(c *call) (any, *apiError) { return keyJSON(c.key), nil }

func subUserJSON(s *user, v2 bool) map[string]any {
	m := map[string]any{"userId": s.userID, "uid": s.uid, "subName": s.name, "type": 0, "access": s.access, "remarks": s.remarks}
	if v2 {
		m["status"] = 2
		m["createdAt"] = s.createdAt
	}
	return m
}

func hSubUsersV2(c *call) (any, *apiError) {
	items := []map[string]any{}
	for _, s := range c.u.subs {
		items = append(items, subUserJSON(s, true))
	}
	return paginate(c.page(10, 1, 100), items), nil
}

func hSubUsersV1(c *call) (any, *apiError) {
	items := []map[string]any{}
	for _, s := range c.u.subs {
		items = append(items, subUserJSON(s, false))
	}
	return items, nil
}

func (w *world) subBalances(s *user) map[string]any {
	list := func(typ string) []map[string]string {
		out := []map[string]string{}
		if typ == "margin" {
			for _, cc := range sortedKeys(s.margin) {
				m := s.margin[cc]
				out = append(out, w.subBal(cc, m.total, m.hold))
			}
			return out
		}
		for _, cc := range sortedKeys(s.balances[typ]) {
			a := s.balances[typ][cc]
			out = append(out, w.subBal(cc, a.balance, a.holds))
		}
		return out
	}
	return map[string]any{
		"subUserId": s.userID, "subName": s.name,
		"mainAccounts": list("main"), "tradeAccounts": list("trade"), "marginAccounts": list("margin"), "tradeHFAccounts": list("trade_hf"),
	}
}

func (w *world) subBal(cc string, bal, holds *big.Rat) map[string]string {
	btc := w.prices["BTC"]
	base := new(big.Rat)
	if btc != nil && btc.Sign() > 0 {
		base.Quo(w.usdValue(cc, bal), btc)
	}
	price := "0"
	if p := w.prices[cc]; p != nil && btc != nil && btc.Sign() > 0 {
		price = ratString(new(big.Rat).Quo(p, btc))
	}
	return map[string]string{
		"currency": cc, "balance": ratString(bal), "available": ratString(new(big.Rat).Sub(bal, holds)), "holds": ratString(holds),
		"baseCurrency": "BTC", "baseCurrencyPrice": price, "baseAmount": ratString(base),
	}
}

func hSubAccountsV2(c *call) (any, *apiError) {
	items := []map[string]any{}
	for _, s := range c.u.subs {
		items = append(items, c.w.subBalances(s))
	}
	return paginate(c.page(10, 1, 100), items), nil
}

func hSubAccount(c *call) (any, *apiError) {
	id := c.r.PathValue("id")
	for _, s := range c.u.subs {
		if s.userID == id {
			return c.w.subBalances(s), nil
		}
	}
	return nil, badParam("subUserId is invalid")
}

func (c *call) subByName(name string) (*user, *apiError) {
	if name == "" {
		return nil, badParam("subName is required")
	}
	for _, s := range c.u.subs {
		if s.name == name {
			return s, nil
		}
	}
	return nil, badParam("Sub-account does not exist: %s", name)
}

func hSubKeys(c *call) (any, *apiError) {
	s, aerr := c.subByName(c.param("subName"))
	if aerr != nil {
		return nil, aerr
	}
	want := c.param("apiKey")
	out := []map[string]any{}
	for _, k := range s.keys {
		if k.deleted || (want != "" && k.key != want) {
			continue
		}
		out = append(out, keyJSON(k))
	}
	return out, nil
}

// subKeyFor finds a live key of a sub and checks its passphrase, as
// KuCoin does for update and delete.
func (c *call) subKeyFor(subName, apiKey, passphrase string) (*apiKey, *apiError) {
	s, aerr := c.subByName(subName)
	if aerr != nil {
		return nil, aerr
	}
	if apiKey == "" {
		return nil, badParam("apiKey is required")
	}
	if passphrase == "" {
		return nil, badParam("passphrase is required")
	}
	for _, k := range s.keys {
		if k.key == apiKey && !k.deleted {
			if k.passphrase != passphrase {
				return nil, badParam("Incorrect passphrase for the API key")
			}
			return k, nil
		}
	}
	return nil, badParam("API key does not exist: %s", apiKey)
}

func hSubKeyUpdate(c *call) (any, *apiError) {
	var req struct {
		SubName     string  `json:"subName"`
		APIKey      string  `json:"apiKey"`
		Passphrase  string  `json:"passphrase"`
		Permission  *string `json:"permission"`
		IPWhitelist *string `json:"ipWhitelist"`
		Expire      *string `json:"expire"`
	}
	if aerr := c.decodeBody(&req); aerr != nil {
		return nil, aerr
	}
	k, aerr := c.subKeyFor(req.SubName, req.APIKey, req.Passphrase)
	if aerr != nil {
		return nil, aerr
	}
	perms := []string{"General"}
	if req.Permission != nil && *req.Permission != "" {
		perms = nil
		for _, p := range strings.Split(*req.Permission, ",") {
			p = strings.TrimSpace(p)
			switch p {
			case "General", "Spot", "Futures", "Margin", "InnerTransfer":
				perms = append(perms, p)
			default:
				return nil, badParam("permission is invalid: %s", p)
			}
		}
		if !contains(perms, "General") {
			perms = append([]string{"General"}, perms...)
		}
	}
	var ips []string
	if req.IPWhitelist != nil {
		for _, ip := range strings.Split(*req.IPWhitelist, ",") {
			if ip = strings.TrimSpace(ip); ip != "" {
				ips = append(ips, ip)
			}
		}
		if len(ips) > 20 {
			return nil, badParam("ipWhitelist allows at most 20 addresses")
		}
	}
	if req.Expire != nil {
		switch *req.Expire {
		case "", "-1", "30", "90", "180", "360":
		default:
			return nil, badParam("expire is invalid")
		}
	}
	// The docs: "if modified, permissions and IP whitelist are reset to
	// what is sent" — an absent or empty ipWhitelist clears it.
	k.permission, k.ipList = perms, ips
	return map[string]any{"subName": k.owner.name, "apiKey": k.key, "permission": strings.Join(perms, ","), "ipWhitelist": strings.Join(ips, ",")}, nil
}

func hSubKeyDelete(c *call) (any, *apiError) {
	k, aerr := c.subKeyFor(c.param("subName"), c.param("apiKey"), c.q.Get("passphrase"))
	if aerr != nil {
		return nil, aerr
	}
	k.deleted = true
	return map[string]string{"subName": k.owner.name, "apiKey": k.key}, nil
}

// ---- orders ----

func (c *call) liveOrders(kind string) []*order {
	var out []*order
	for _, o := range c.u.orders {
		if o.kind == kind && o.live(c.now) {
			out = append(out, o)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].createdAt > out[j].createdAt })
	return out
}

// requestCancel marks o for asynchronous cancellation after the state's
// cancel delay (KuCoin: the call "only sends cancellation requests").
func (c *call) requestCancel(o *order) {
	if o.cancelAt.IsZero() {
		o.cancelAt = c.now.Add(c.w.cancelDelay)
		if o.hold != nil {
			c.w.pending = append(c.w.pending, pendingRelease{at: o.cancelAt, h: o.hold})
		}
	}
	if c.w.cancelDelay == 0 {
		c.w.finish(o)
	}
}

func symbolsOf(orders []*order) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, o := range orders {
		if !seen[o.symbol] {
			seen[o.symbol] = true
			out = append(out, o.symbol)
		}
	}
	sort.Strings(out)
	return out
}

func funds(o *order) string {
	if o.funds != "" {
		return o.funds
	}
	p, ok1 := parseRat(o.price)
	s, ok2 := parseRat(o.size)
	if !ok1 || !ok2 {
		return "0"
	}
	return ratString(new(big.Rat).Mul(p, s))
}

// remain is what is left of a field (size or funds) after deal.
func remain(total, deal string) *big.Rat {
	t, ok := parseRat(total)
	if !ok {
		return new(big.Rat)
	}
	if d, ok := parseRat(deal); ok {
		t.Sub(t, d)
	}
	if t.Sign() < 0 {
		return new(big.Rat)
	}
	return t
}

func hfOrderJSON(o *order, now time.Time) map[string]any {
	live := o.live(now)
	remainSize, remainFunds := remain(o.size, o.dealSize), remain(funds(o), orDefault(o.dealFunds, "0"))
	cancelledSize, cancelledFunds := "0", "0"
	if !live && !o.filled {
		cancelledSize, cancelledFunds = ratString(remainSize), ratString(remainFunds)
	}
	if !live {
		remainSize, remainFunds = new(big.Rat), new(big.Rat)
	}
	return map[string]any{
		"id": o.id, "clientOid": o.clientOid, "symbol": o.symbol, "opType": "DEAL", "type": o.typ, "side": o.side,
		"price": o.price, "size": o.size, "funds": funds(o), "dealSize": o.dealSize, "dealFunds": orDefault(o.dealFunds, "0"),
		"fee": orDefault(o.fee, "0"), "feeCurrency": quoteOf(o.symbol), "stp": "", "timeInForce": orDefault(o.timeInForce, "GTC"),
		"postOnly": o.postOnly, "hidden": false, "iceberg": false, "visibleSize": "0", "cancelAfter": 0, "channel": "API",
		"remark": o.remark, "tags": "partner:panicbutton", "cancelExist": !o.cancelAt.IsZero() || (!live && !o.filled),
		"tradeType": o.tradeType, "inOrderBook": live, "cancelledSize": cancelledSize, "cancelledFunds": cancelledFunds,
		"remainSize": ratString(remainSize), "remainFunds": ratString(remainFunds), "tax": "0", "active": live,
		"createdAt": o.createdAt, "lastUpdatedAt": o.createdAt,
	}
}

func hHFActiveSymbols(c *call) (any, *apiError) {
	return map[string]any{"symbols": symbolsOf(c.liveOrders(kindHF))}, nil
}

func hHFActive(c *call) (any, *apiError) {
	sym := c.param("symbol")
	if sym == "" {
		return nil, badParam("symbol is required")
	}
	out := []map[string]any{}
	for _, o := range c.liveOrders(kindHF) {
		if o.symbol == sym {
			out = append(out, hfOrderJSON(o, c.now))
		}
	}
	return out, nil
}

func hHFCancelSymbol(c *call) (any, *apiError) {
	sym := c.param("symbol")
	if sym == "" {
		return nil, badParam("symbol is required")
	}
	for _, o := range c.u.orders {
		if o.symbol == sym && (o.kind == kindHF || (o.kind == kindClassic && o.tradeType == "TRADE")) && o.live(c.now) {
			c.requestCancel(o)
		}
	}
	return "success", nil
}

func hHFCancelAll(c *call) (any, *apiError) {
	live := c.liveOrders(kindHF)
	for _, o := range live {
		c.requestCancel(o)
	}
	return map[string]any{"succeedSymbols": symbolsOf(live), "failedSymbols": []any{}}, nil
}

func hDeadman(c *call) (any, *apiError) {
	var req struct {
		Timeout *int64 `json:"timeout"`
		Symbols string `json:"symbols"`
	}
	if aerr := c.decodeBody(&req); aerr != nil {
		return nil, aerr
	}
	if req.Timeout == nil {
		return nil, badParam("timeout is required")
	}
	t := *req.Timeout
	if t == -1 {
		c.u.deadman = nil
		return map[string]any{"currentTime": c.now.Unix(), "triggerTime": 0}, nil
	}
	if t < 5 || t > 86400 {
		return nil, badParam("timeout must be -1 or between 5 and 86400")
	}
	var syms []string
	for _, s := range strings.Split(req.Symbols, ",") {
		if s = strings.TrimSpace(s); s != "" {
			syms = append(syms, s)
		}
	}
	if len(syms) > 50 {
		return nil, badParam("at most 50 symbols")
	}
	d := &deadman{timeout: t, symbols: syms, triggerTime: c.now.Add(time.Duration(t) * time.Second)}
	c.u.deadman = d
	return map[string]any{"currentTime": c.now.Unix(), "triggerTime": d.triggerTime.Unix()}, nil
}

func hDeadmanQuery(c *call) (any, *apiError) {
	d := c.u.deadman
	if d == nil {
		return nil, nil
	}
	return map[string]any{"timeout": d.timeout, "symbols": strings.Join(d.symbols, ","), "currentTime": c.now.Unix(), "triggerTime": d.triggerTime.Unix()}, nil
}

func classicOrderJSON(o *order, now time.Time) map[string]any {
	m := hfOrderJSON(o, now)
	delete(m, "active")
	delete(m, "inOrderBook")
	m["isActive"] = o.live(now)
	m["stop"] = ""
	m["stopTriggered"] = false
	m["stopPrice"] = "0"
	return m
}

func hClassicList(c *call) (any, *apiError) {
	status := orDefault(c.param("status"), "done") // KuCoin's default: done
	if status != "active" && status != "done" {
		return nil, badParam("status is invalid")
	}
	sym, tt, side, typ := c.param("symbol"), c.param("tradeType"), c.param("side"), c.param("type")
	var items []map[string]any
	var list []*order
	for _, o := range c.u.orders {
		if o.kind == kindClassic {
			list = append(list, o)
		}
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].createdAt > list[j].createdAt })
	for _, o := range list {
		if o.live(c.now) != (status == "active") {
			continue
		}
		if (sym != "" && o.symbol != sym) || (tt != "" && o.tradeType != tt) || (side != "" && o.side != side) || (typ != "" && o.typ != typ) {
			continue
		}
		items = append(items, classicOrderJSON(o, c.now))
	}
	return paginate(c.page(50, 10, 500), items), nil
}

func hClassicCancel(c *call) (any, *apiError) {
	sym := c.param("symbol")
	tt := orDefault(c.param("tradeType"), "TRADE")
	switch tt {
	case "TRADE":
	case "MARGIN_TRADE", "MARGIN_ISOLATED_TRADE":
		if !c.key.has("Margin") {
			return nil, errPermission
		}
	default:
		return nil, badParam("tradeType is invalid")
	}
	ids := []string{}
	for _, o := range c.u.orders {
		if o.kind == kindClassic && o.tradeType == tt && (sym == "" || o.symbol == sym) && o.live(c.now) {
			c.w.finish(o)
			ids = append(ids, o.id)
		}
	}
	return map[string]any{"cancelledOrderIds": ids}, nil
}

func stopOrderJSON(o *order, u *user, now time.Time) map[string]any {
	return map[string]any{
		"id": o.id, "symbol": o.symbol, "userId": u.userID, "status": "NEW", "type": o.typ, "side": o.side,
		"price": o.price, "size": o.size, "funds": nil, "stp": "", "timeInForce": "GTC", "cancelAfter": -1,
		"postOnly": false, "hidden": false, "iceberg": false, "visibleSize": nil, "channel": "API", "clientOid": o.clientOid,
		"remark": nil, "tags": nil, "orderTime": o.createdAt * 1000000, "domainId": "kucoin", "tradeSource": "USER",
		"tradeType": o.tradeType, "feeCurrency": quoteOf(o.symbol), "takerFeeRate": "0.001", "makerFeeRate": "0.001",
		"createdAt": o.createdAt, "stop": o.stop, "stopTriggerTime": nil, "stopPrice": o.stopPrice,
	}
}

func idFilter(s string) map[string]bool {
	if s == "" {
		return nil
	}
	m := map[string]bool{}
	for _, id := range strings.Split(s, ",") {
		m[strings.TrimSpace(id)] = true
	}
	return m
}

func hStopList(c *call) (any, *apiError) {
	sym, side, typ, tt := c.param("symbol"), c.param("side"), c.param("type"), c.param("tradeType")
	ids := idFilter(c.param("orderIds"))
	items := []map[string]any{}
	for _, o := range c.liveOrders(kindStop) {
		if (sym != "" && o.symbol != sym) || (side != "" && o.side != side) || (typ != "" && o.typ != typ) || (tt != "" && o.tradeType != tt) || (ids != nil && !ids[o.id]) {
			continue
		}
		items = append(items, stopOrderJSON(o, c.u, c.now))
	}
	return paginate(c.page(50, 10, 500), items), nil
}

func hStopCancel(c *call) (any, *apiError) {
	sym, tt := c.param("symbol"), c.param("tradeType")
	ids := idFilter(c.param("orderIds"))
	out := []string{}
	for _, o := range c.liveOrders(kindStop) {
		if (sym != "" && o.symbol != sym) || (tt != "" && o.tradeType != tt) || (ids != nil && !ids[o.id]) {
			continue
		}
		c.w.finish(o)
		out = append(out, o.id)
	}
	return map[string]any{"cancelledOrderIds": out}, nil
}

func hOCOList(c *call) (any, *apiError) {
	sym := c.param("symbol")
	ids := idFilter(c.param("orderIds"))
	items := []map[string]any{}
	for _, o := range c.liveOrders(kindOCO) {
		if (sym != "" && o.symbol != sym) || (ids != nil && !ids[o.id]) {
			continue
		}
		items = append(items, map[string]any{"orderId": o.id, "symbol": o.symbol, "clientOid": o.clientOid, "orderTime": o.createdAt, "status": "NEW"})
	}
	return paginate(c.page(50, 10, 500), items), nil
}

func hOCOCancel(c *call) (any, *apiError) {
	sym := c.param("symbol")
	ids := idFilter(c.param("orderIds"))
	out := []string{}
	for _, o := range c.liveOrders(kindOCO) {
		if (sym != "" && o.symbol != sym) || (ids != nil && !ids[o.id]) {
			continue
		}
		c.w.finish(o)
		out = append(out, o.subIDs...)
	}
	return map[string]any{"cancelledOrderIds": out}, nil
}

func marginTradeType(c *call, required bool) (string, *apiError) {
	tt := c.param("tradeType")
	switch tt {
	case "MARGIN_TRADE", "MARGIN_ISOLATED_TRADE":
		return tt, nil
	case "":
		if !required {
			return "", nil
		}
		return "", badParam("tradeType is required")
	}
	return "", badParam("tradeType is invalid")
}

func (c *call) liveMargin(tt, sym string) []*order {
	var out []*order
	for _, o := range c.liveOrders(kindMarginHF) {
		if o.tradeType == tt && (sym == "" || o.symbol == sym) {
			out = append(out, o)
		}
	}
	return out
}

func hMarginActiveSymbols(c *call) (any, *apiError) {
	tt, aerr := marginTradeType(c, true)
	if aerr != nil {
		return nil, aerr
	}
	syms := symbolsOf(c.liveMargin(tt, ""))
	return map[string]any{"symbolSize": len(syms), "symbols": syms}, nil
}

func hMarginActive(c *call) (any, *apiError) {
	tt, aerr := marginTradeType(c, true)
	if aerr != nil {
		return nil, aerr
	}
	sym := c.param("symbol")
	if sym == "" {
		return nil, badParam("symbol is required")
	}
	out := []map[string]any{}
	for _, o := range c.liveMargin(tt, sym) {
		out = append(out, hfOrderJSON(o, c.now))
	}
	return out, nil
}

func hMarginCancel(c *call) (any, *apiError) {
	tt, aerr := marginTradeType(c, true)
	if aerr != nil {
		return nil, aerr
	}
	sym := c.param("symbol")
	if sym == "" {
		return nil, badParam("symbol is required")
	}
	for _, o := range c.liveMargin(tt, sym) {
		c.requestCancel(o)
	}
	return "success", nil
}

// ---- withdrawals, transfers, fills ----

func withdrawalJSON(wd *withdrawal, detail bool) map[string]any {
	m := map[string]any{
		"id": wd.id, "currency": wd.currency, "chain": wd.chain, "status": wd.status, "address": wd.address, "memo": wd.memo,
		"isInner": wd.isInner, "amount": ratString(wd.amount), "fee": ratString(wd.fee), "walletTxId": nilIfEmpty(wd.walletTxID),
		"createdAt": wd.createdAt, "updatedAt": wd.updatedAt, "remark": wd.remark,
	}
	if detail {
		ct := "NON_CANCELABLE"
		if wd.status == "PROCESSING" {
			ct = "CANCELABLE"
		}
		m["cancelType"] = ct
		m["failureReason"] = nil
		m["returnStatus"] = "NOT_RETURN"
		if wd.cancelled {
			m["failureReason"] = "cancelled by user"
			m["returnStatus"] = "RETURNED"
		}
	}
	return m
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func hWithdrawals(c *call) (any, *apiError) {
	cur := c.param("currency")
	if cur == "" {
		return nil, badParam("currency is required")
	}
	st := c.param("status")
	switch st {
	case "", "REVIEW", "PROCESSING", "WALLET_PROCESSING", "SUCCESS", "FAILURE":
	default:
		return nil, badParam("status is invalid")
	}
	var start, end int64
	if v := c.param("startAt"); v != "" {
		start, _ = strconv.ParseInt(v, 10, 64)
	}
	if v := c.param("endAt"); v != "" {
		end, _ = strconv.ParseInt(v, 10, 64)
	}
	items := []map[string]any{}
	list := append([]*withdrawal(nil), c.u.withdrawals...)
	sort.SliceStable(list, func(i, j int) bool { return list[i].createdAt > list[j].createdAt })
	for _, wd := range list {
		if wd.currency != cur || (st != "" && wd.status != st) || (start > 0 && wd.createdAt < start) || (end > 0 && wd.createdAt > end) {
			continue
		}
		items = append(items, withdrawalJSON(wd, false))
	}
	return paginate(c.page(50, 10, 500), items), nil
}

func (c *call) withdrawalByID() (*withdrawal, *apiError) {
	id := c.r.PathValue("id")
	for _, wd := range c.u.withdrawals {
		if wd.id == id {
			return wd, nil
		}
	}
	return nil, badParam("withdrawal does not exist: %s", id)
}

func hWithdrawal(c *call) (any, *apiError) {
	wd, aerr := c.withdrawalByID()
	if aerr != nil {
		return nil, aerr
	}
	return withdrawalJSON(wd, true), nil
}

func hWithdrawalCancel(c *call) (any, *apiError) {
	wd, aerr := c.withdrawalByID()
	if aerr != nil {
		return nil, aerr
	}
	if wd.status != "PROCESSING" {
		return nil, badParam("withdrawal cannot be cancelled in status %s", wd.status)
	}
	wd.status, wd.cancelled, wd.updatedAt = "FAILURE", true, c.now.UnixMilli()
	a := c.u.account("main", wd.currency, c.w)
	a.balance.Add(a.balance, new(big.Rat).Add(wd.amount, wd.fee))
	return nil, nil // KuCoin answers data:null
}

func (u *user) account(typ, cur string, w *world) *amount {
	if u.balances[typ] == nil {
		u.balances[typ] = map[string]*amount{}
	}
	a := u.balances[typ][cur]
	if a == nil {
		a = &amount{id: w.newID(), currency: cur, balance: new(big.Rat), holds: new(big.Rat)}
		u.balances[typ][cur] = a
	}
	return a
}

// funds returns the available amount pointer-holder for a universal
// transfer account type, or nil if unsupported.
func (w *world) transferAccount(u *user, typ, tag, cur string) (avail func() *big.Rat, add func(*big.Rat), aerr *apiError) {
	switch typ {
	case "MAIN":
		a := u.account("main", cur, w)
		return a.available, func(x *big.Rat) { a.balance.Add(a.balance, x) }, nil
	case "TRADE":
		// The current spec has one TRADE type covering the classic and the
		// HF trading account (EXCHANGES.md C8): it draws from trade, then
		// trade_hf, and pays into trade.
		t, hf := u.balances["trade"][cur], u.balances["trade_hf"][cur]
		avail := func() *big.Rat {
			s := new(big.Rat)
			for _, a := range []*amount{t, hf} {
				if a != nil {
					s.Add(s, a.available())
				}
			}
			return s
		}
		add := func(x *big.Rat) {
			if x.Sign() >= 0 {
				a := u.account("trade", cur, w)
				a.balance.Add(a.balance, x)
				return
			}
			left := new(big.Rat).Neg(x)
			for _, a := range []*amount{t, hf} {
				if a == nil || left.Sign() == 0 {
					continue
				}
				take := a.available()
				if take.Cmp(left) > 0 {
					take = new(big.Rat).Set(left)
				}
				a.balance.Sub(a.balance, take)
				left.Sub(left, take)
			}
		}
		return avail, add, nil
	case "TRADE_HF":
		return nil, nil, badParam("accountType TRADE_HF is not supported (use TRADE; it covers the HF trading account)")
	case "MARGIN", "MARGIN_V2":
		m := u.margin[cur]
		if m == nil {
			m = &marginAmount{total: new(big.Rat), hold: new(big.Rat), liability: new(big.Rat)}
			u.margin[cur] = m
		}
		return func() *big.Rat { return new(big.Rat).Sub(m.total, m.hold) }, func(x *big.Rat) { m.total.Add(m.total, x) }, nil
	case "CONTRACT":
		f := u.futAccounts[cur]
		if f == nil {
			f = &futuresAccount{currency: cur, balance: new(big.Rat), unrealised: new(big.Rat), posMargin: new(big.Rat), ordMargin: new(big.Rat), frozen: new(big.Rat)}
			u.futAccounts[cur] = f
		}
		return f.available, func(x *big.Rat) { f.balance.Add(f.balance, x) }, nil
	case "ISOLATED", "ISOLATED_V2":
		iso := u.isolated[tag]
		if iso == nil {
			return nil, nil, badParam("isolated account %q does not exist", tag)
		}
		m := iso.quote
		if cur == baseOf(tag) {
			m = iso.base
		} else if cur != quoteOf(tag) {
			return nil, nil, badParam("currency %s is not in %s", cur, tag)
		}
		return func() *big.Rat { return new(big.Rat).Sub(m.total, m.hold) }, func(x *big.Rat) { m.total.Add(m.total, x) }, nil
	}
	return nil, nil, badParam("accountType %q is invalid", typ)
}

func hUniversalTransfer(c *call) (any, *apiError) {
	var req struct {
		ClientOid       string `json:"clientOid"`
		Type            string `json:"type"`
		Currency        string `json:"currency"`
		Amount          string `json:"amount"`
		FromUserID      string `json:"fromUserId"`
		FromAccountType string `json:"fromAccountType"`
		FromAccountTag  string `json:"fromAccountTag"`
		ToUserID        string `json:"toUserId"`
		ToAccountType   string `json:"toAccountType"`
		ToAccountTag    string `json:"toAccountTag"`
	}
	if aerr := c.decodeBody(&req); aerr != nil {
		return nil, aerr
	}
	if req.ClientOid == "" || req.Currency == "" || req.FromAccountType == "" || req.ToAccountType == "" {
		return nil, badParam("clientOid, currency, fromAccountType and toAccountType are required")
	}
	amt, ok := parseRat(req.Amount)
	if !ok || amt.Sign() <= 0 {
		return nil, badParam("amount is invalid")
	}
	from, to := c.u, c.u
	findSub := func(id string) (*user, *apiError) {
		if c.u.master != nil {
			return nil, errPermission
		}
		for _, s := range c.u.subs {
			if s.userID == id || strconv.FormatInt(s.uid, 10) == id {
				return s, nil
			}
		}
		return nil, badParam("user %q is not a sub-account of this account", id)
	}
	var aerr *apiError
	switch req.Type {
	case "INTERNAL":
	case "SUB_TO_PARENT":
		if req.FromUserID == "" {
			return nil, badParam("fromUserId is required for SUB_TO_PARENT")
		}
		if from, aerr = findSub(req.FromUserID); aerr != nil {
			return nil, aerr
		}
	case "PARENT_TO_SUB":
		if req.ToUserID == "" {
			return nil, badParam("toUserId is required for PARENT_TO_SUB")
		}
		if to, aerr = findSub(req.ToUserID); aerr != nil {
			return nil, aerr
		}
	default:
		return nil, badParam("type is invalid")
	}
	avail, take, aerr := c.w.transferAccount(from, req.FromAccountType, req.FromAccountTag, req.Currency)
	if aerr != nil {
		return nil, aerr
	}
	_, give, aerr := c.w.transferAccount(to, req.ToAccountType, req.ToAccountTag, req.Currency)
	if aerr != nil {
		return nil, aerr
	}
	if avail().Cmp(amt) < 0 {
		return nil, errf(http.StatusOK, "200004", "account.available.amount: balance insufficient")
	}
	take(new(big.Rat).Neg(amt))
	give(amt)
	return map[string]string{"orderId": c.w.newID()}, nil
}

func fillJSON(f *fill) map[string]any {
	return map[string]any{
		"id": f.id, "symbol": f.symbol, "tradeId": f.tradeID, "orderId": f.orderID, "counterOrderId": hashHex("counter", f.tradeID)[:24],
		"side": f.side, "liquidity": f.liquidity, "forceTaker": false, "price": ratString(f.price), "size": ratString(f.size),
		"funds": ratString(new(big.Rat).Mul(f.price, f.size)), "fee": ratString(f.fee), "feeRate": "0.001", "feeCurrency": f.feeCurrency,
		"stop": "", "tradeType": f.tradeType, "type": "limit", "taxRate": "0", "tax": "0", "createdAt": f.createdAt,
	}
}

func (c *call) fillsFor(hf bool, sym string) []*fill {
	var out []*fill
	for _, f := range c.u.fills {
		if f.hf == hf && (sym == "" || f.symbol == sym) {
			out = append(out, f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].createdAt > out[j].createdAt })
	return out
}

func hHFFills(c *call) (any, *apiError) { return c.hfFills("TRADE") }

// hMarginFills is GET /api/v3/hf/margin/fills: the fills of margin HF
// orders of tradeType.
func hMarginFills(c *call) (any, *apiError) {
	tt, aerr := marginTradeType(c, true)
	if aerr != nil {
		return nil, aerr
	}
	return c.hfFills(tt)
}

func (c *call) hfFills(tradeType string) (any, *apiError) {
	sym := c.param("symbol")
	if sym == "" {
		return nil, badParam("symbol is required")
	}
	limit := 20
	if v, err := strconv.Atoi(c.param("limit")); err == nil && v > 0 {
		limit = min(v, 100)
	}
	items := []map[string]any{}
	var last int64
	for _, f := range c.fillsFor(true, sym) {
		if len(items) == limit {
			break
		}
		if f.tradeType != tradeType {
			continue
		}
		items = append(items, fillJSON(f))
		last = f.id
	}
	return map[string]any{"items": items, "lastId": last}, nil
}

func hFills(c *call) (any, *apiError) {
	items := []map[string]any{}
	for _, f := range c.fillsFor(false, c.param("symbol")) {
		items = append(items, fillJSON(f))
	}
	return paginate(c.page(50, 10, 500), items), nil
}
