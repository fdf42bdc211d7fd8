package binance

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

func handleUserAsset(c *call) { c.ok(c.assetRows(c.acct.Spot, true)) }

func handleFundingAsset(c *call) { c.ok(c.assetRows(c.acct.Funding, false)) }

// assetRows lists the non-zero balances of wallet m for the asset and
// needBtcValuation parameters; the spot wallet's rows carry "ipoable".
func (c *call) assetRows(m map[string]*bal, ipoable bool) []obj {
	want := c.p.Get("asset")
	withBTC, _ := parseBool(c.p.Get("needBtcValuation"))
	out := []obj{}
	for _, asset := range sortedKeys(m) {
		b := m[asset]
		if (want != "" && asset != want) || b.Free+b.Locked == 0 {
			continue
		}
		btc := "0"
		if withBTC {
			btc = f8(c.st.valueIn(asset, b.Free+b.Locked, "BTC"))
		}
		row := obj{"asset": asset, "free": f8(b.Free), "locked": f8(b.Locked), "freeze": "0",
			"withdrawing": "0", "btcValuation": btc}
		if ipoable {
			row["ipoable"] = "0"
		}
		out = append(out, row)
	}
	return out
}

func (st *state) walletTotal(m map[string]*bal, quote string, net bool) float64 {
	sum := 0.0
	for asset, b := range m {
		v := b.Free + b.Locked
		if net {
			v -= b.Borrowed + b.Interest
		}
		sum += st.valueIn(asset, v, quote)
	}
	return sum
}

func handleWalletBalance(c *call) {
	quote := c.p.Get("quoteAsset")
	if quote == "" {
		quote = "BTC"
	}
	a := c.acct
	iso := 0.0
	for _, p := range a.Isolated {
		iso += c.st.valueIn(p.Base, p.BaseBal.Free+p.BaseBal.Locked-p.BaseBal.Borrowed-p.BaseBal.Interest, quote)
		iso += c.st.valueIn(p.Quote, p.QuoteBal.Free+p.QuoteBal.Locked-p.QuoteBal.Borrowed-p.QuoteBal.Interest, quote)
	}
	usdm, coinm := 0.0, 0.0
	for asset, v := range a.USDM {
		usdm += c.st.valueIn(asset, v, quote)
	}
	for asset, v := range a.COINM {
		coinm += c.st.valueIn(asset, v, quote)
	}
	type w struct {
		name string
		v    float64
		on   bool
	}
	wallets := []w{
		{"Spot", c.st.walletTotal(a.Spot, quote, false), true},
		{"Funding", c.st.walletTotal(a.Funding, quote, false), true},
		{"Cross Margin", c.st.walletTotal(a.Margin, quote, true), len(a.Margin) > 0},
		{"Isolated Margin", iso, len(a.Isolated) > 0},
		{"USDⓈ-M Futures", usdm, len(a.USDM) > 0},
		{"COIN-M Futures", coinm, len(a.COINM) > 0},
		{"Earn", 0, true},
		{"Options", 0, false},
		{"Trading Bots", 0, true},
		{"Copy Trading", 0, true},
	}
	out := []obj{}
	for _, x := range wallets {
		out = append(out, obj{"activate": x.on, "balance": f8(x.v), "walletName": x.name})
	}
	c.ok(out)
}

func handleAPIRestrictions(c *call) {
	k := c.key
	expiry := int64(0)
	if k.Perms[permSpot] || k.Perms[permFutures] || k.Perms[permMargin] {
		expiry = ms(k.Created.Add(90 * 24 * time.Hour))
	}
	c.ok(obj{
		"ipRestrict": k.IPRestrict, "createTime": ms(k.Created), "enableReading": k.Perms[permReading],
		"enableWithdrawals": k.Perms[permWithdrawals], "enableInternalTransfer": k.Perms[permInternalTransfer],
		"permitsUniversalTransfer": k.Perms[permUniversalTransfer], "enableMargin": k.Perms[permMargin],
		"enableFutures": k.Perms[permFutures], "enableVanillaOptions": k.Perms[permOptions],
		"enableSpotAndMarginTrading": k.Perms[permSpot], "enablePortfolioMarginTrading": false,
		"enableFixApiTrade": false, "enableFixReadOnly": false, "tradingAuthorityExpirationTime": expiry,
	})
}

func marginAssetJSON(asset string, b *bal) obj {
	return obj{"asset": asset, "borrowed": f8(b.Borrowed), "free": f8(b.Free), "interest": f8(b.Interest),
		"locked": f8(b.Locked), "netAsset": f8(b.Free + b.Locked - b.Borrowed - b.Interest)}
}

func marginLevel(assets, liab float64) float64 {
	if liab == 0 {
		return 999
	}
	return assets / liab
}

func handleMarginAccount(c *call) {
	a := c.acct
	var total, liab float64
	assets := []obj{}
	for _, asset := range sortedKeys(a.Margin) {
		b := a.Margin[asset]
		total += c.st.valueIn(asset, b.Free+b.Locked, "BTC")
		liab += c.st.valueIn(asset, b.Borrowed+b.Interest, "BTC")
		assets = append(assets, marginAssetJSON(asset, b))
	}
	usdt := c.st.valueIn("BTC", total, "USDT")
	c.ok(obj{
		"created": len(a.Margin) > 0, "borrowEnabled": true, "marginLevel": f8(marginLevel(total, liab)),
		"collateralMarginLevel": f8(marginLevel(total, liab)), "totalAssetOfBtc": f8(total),
		"totalLiabilityOfBtc": f8(liab), "totalNetAssetOfBtc": f8(total - liab),
		"TotalCollateralValueInUSDT": f8(usdt), "totalOpenOrderLossInUsdt": f8(0),
		"tradeEnabled": true, "transferInEnabled": true, "transferOutEnabled": true, "accountType": "MARGIN_1",
		"userAssets": assets,
	})
}

func (st *state) isoSideJSON(asset string, b bal) obj {
	net := b.Free + b.Locked - b.Borrowed - b.Interest
	return obj{"asset": asset, "borrowEnabled": true, "borrowed": f8(b.Borrowed), "free": f8(b.Free),
		"interest": f8(b.Interest), "locked": f8(b.Locked), "netAsset": f8(net),
		"netAssetOfBtc": f8(st.valueIn(asset, net, "BTC")), "repayEnabled": true, "totalAsset": f8(b.Free + b.Locked)}
}

func handleIsolatedAccount(c *call) {
	a := c.acct
	var filter map[string]bool
	if s := c.p.Get("symbols"); s != "" {
		filter = map[string]bool{}
		parts := strings.Split(s, ",")
		if len(parts) > 5 {
			c.fail(http.StatusBadRequest, -1102, "Parameter 'symbols' has too many values (max 5).")
			return
		}
		for _, p := range parts {
			filter[strings.TrimSpace(p)] = true
		}
	}
	var total, liab, net float64
	assets := []obj{}
	for _, sym := range sortedKeys(a.Isolated) {
		if filter != nil && !filter[sym] {
			continue
		}
		p := a.Isolated[sym]
		ta := c.st.valueIn(p.Base, p.BaseBal.Free+p.BaseBal.Locked, "BTC") + c.st.valueIn(p.Quote, p.QuoteBal.Free+p.QuoteBal.Locked, "BTC")
		tl := c.st.valueIn(p.Base, p.BaseBal.Borrowed+p.BaseBal.Interest, "BTC") + c.st.valueIn(p.Quote, p.QuoteBal.Borrowed+p.QuoteBal.Interest, "BTC")
		total, liab, net = total+ta, liab+tl, net+ta-tl
		price := c.st.price(sym)
		assets = append(assets, obj{
			"baseAsset": c.st.isoSideJSON(p.Base, p.BaseBal), "quoteAsset": c.st.isoSideJSON(p.Quote, p.QuoteBal),
			"symbol": sym, "isolatedCreated": true, "enabled": true, "marginLevel": f8(marginLevel(ta, tl)),
			"marginLevelStatus": "EXCESSIVE", "marginRatio": "10.00000000", "indexPrice": f8(price),
			"liquidatePrice": f8(0), "liquidateRate": f8(0), "tradeEnabled": true,
		})
	}
	out := obj{"assets": assets}
	if filter == nil {
		out["totalAssetOfBtc"] = f8(total)
		out["totalLiabilityOfBtc"] = f8(liab)
		out["totalNetAssetOfBtc"] = f8(net)
	}
	c.ok(out)
}

// marginBook returns the cross or isolated order book selected by
// isIsolated, answering and returning false on a bad request.
func (c *call) marginBook(needSymbol bool) (*[]*order, bool, string, bool) {
	isolated := false
	if s := c.p.Get("isIsolated"); s != "" {
		v, ok := parseBool(s)
		if !ok {
			c.fail(http.StatusBadRequest, -1102, "Param 'isIsolated' must be TRUE or FALSE.")
			return nil, false, "", false
		}
		isolated = v
	}
	sym := c.p.Get("symbol")
	if sym == "" && (needSymbol || isolated) {
		c.mandatory("symbol")
		return nil, false, "", false
	}
	if sym != "" && !c.checkSpotSymbol(sym) {
		return nil, false, "", false
	}
	if isolated {
		return &c.acct.IsolatedOrders, true, sym, true
	}
	return &c.acct.MarginOrders, false, sym, true
}

func handleMarginOpenOrders(c *call) {
	book, _, sym, ok := c.marginBook(false)
	if !ok {
		return
	}
	out := []obj{}
	for _, o := range *book {
		if sym == "" || o.Symbol == sym {
			out = append(out, spotOrderJSON(o, true))
		}
	}
	c.ok(out)
}

// handleMarginCancelAll cancels a symbol's margin orders; the response
// carries integer orderIds (go-binance v2.8.7 decodes them as strings and
// fails after the cancel has happened).
func handleMarginCancelAll(c *call) {
	book, isolated, sym, ok := c.marginBook(true)
	if !ok {
		return
	}
	product := "margin"
	if isolated {
		product = "isolated"
	}
	out := []obj{}
	var keep []*order
	for _, o := range *book {
		if o.Symbol == sym {
			c.closeOrder(o, product)
			out = append(out, spotCancelJSON(o, c.now, true))
		} else {
			keep = append(keep, o)
		}
	}
	*book = keep
	c.ok(out)
}

func handleMarginMyTrades(c *call) {
	_, isolated, sym, ok := c.marginBook(true)
	if !ok {
		return
	}
	product := "margin"
	if isolated {
		product = "isolated"
	}
	list, ok := c.tradeFilter(c.acct.Trades, product, sym, nil)
	if !ok {
		return
	}
	out := []obj{}
	for _, t := range list {
		out = append(out, obj{"commission": f8(t.Commission), "commissionAsset": t.CommissionAsset, "id": t.ID,
			"isBestMatch": true, "isBuyer": t.Side == "BUY", "isMaker": t.Maker, "orderId": t.OrderID,
			"price": f8(t.Price), "qty": f8(t.Qty), "symbol": t.Symbol, "isIsolated": isolated, "time": ms(t.Time)})
	}
	c.ok(out)
}

func handleWithdrawHistory(c *call) {
	p := c.p
	end := ms(c.now)
	if s := p.Get("endTime"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			c.badParam("endTime")
			return
		}
		end = n
	}
	start := end - 90*24*3600*1000
	if s := p.Get("startTime"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			c.badParam("startTime")
			return
		}
		start = n
		if p.Get("endTime") == "" {
			end = start + 90*24*3600*1000
		}
	}
	if end-start > 90*24*3600*1000 {
		c.fail(http.StatusBadRequest, -1127, "More than 90 days between startTime and endTime.")
		return
	}
	limit, ok := c.intParam("limit", 1000, 1, 1000)
	if !ok {
		return
	}
	offset, ok := c.intParam("offset", 0, 0, math.MaxInt)
	if !ok {
		return
	}
	status, ok := c.intParam("status", -1, math.MinInt, math.MaxInt)
	if !ok {
		return
	}
	var ids map[string]bool
	if s := p.Get("idList"); s != "" {
		ids = map[string]bool{}
		for _, id := range strings.Split(s, ",") {
			ids[id] = true
		}
	}
	var list []*withdrawal
	for _, w := range c.acct.Withdrawals {
		t := ms(w.Applied)
		if t < start || t > end || (p.Get("coin") != "" && w.Coin != p.Get("coin")) ||
			(p.Get("withdrawOrderId") != "" && w.WithdrawOrderID != p.Get("withdrawOrderId")) ||
			(status >= 0 && w.Status != status) || (ids != nil && !ids[w.ID]) {
			continue
		}
		list = append(list, w)
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].Applied.After(list[j].Applied) })
	out := []obj{}
	for _, w := range paginate(list, offset, limit) {
		m := obj{"id": w.ID, "amount": f8(w.Amount), "transactionFee": f8(w.Fee), "coin": w.Coin, "status": w.Status,
			"address": w.Address, "txId": w.TxID, "applyTime": w.Applied.UTC().Format("2006-01-02 15:04:05"),
			"network": w.Network, "transferType": 0, "info": "", "confirmNo": 0, "walletType": 0, "txKey": ""}
		if w.WithdrawOrderID != "" {
			m["withdrawOrderId"] = w.WithdrawOrderID
		}
		if w.Status == 6 {
			m["confirmNo"] = 12
			m["completeTime"] = w.Completed.UTC().Format("2006-01-02 15:04:05")
		}
		out = append(out, m)
	}
	c.ok(out)
}

// subsOf lists a master's sub-accounts in state order.
func (st *state) subsOf(m *account) []*account {
	var out []*account
	for _, a := range st.accounts {
		if a.Parent == m {
			out = append(out, a)
		}
	}
	return out
}

func handleSubAccountList(c *call) {
	page, ok := c.intParam("page", 1, 1, math.MaxInt)
	if !ok {
		return
	}
	limit, ok := c.intParam("limit", 1, 1, 200)
	if !ok {
		return
	}
	var freeze *bool
	if s := c.p.Get("isFreeze"); s != "" {
		v, ok := parseBool(s)
		if !ok {
			c.badParam("isFreeze")
			return
		}
		freeze = &v
	}
	var list []*account
	for _, s := range c.st.subsOf(c.acct) {
		if (c.p.Get("email") != "" && s.Email != c.p.Get("email")) || (freeze != nil && s.Frozen != *freeze) {
			continue
		}
		list = append(list, s)
	}
	out := []obj{}
	for _, s := range paginate(list, (page-1)*limit, limit) {
		out = append(out, obj{"subUserId": s.UID, "email": s.Email, "remark": s.Remark, "isFreeze": s.Frozen,
			"createTime": ms(s.Created), "isManagedSubAccount": false, "isAssetManagementSubAccount": false})
	}
	c.ok(obj{"subAccounts": out})
}

// subByEmail finds the caller's sub-account named by the email parameter.
func (c *call) subByEmail(name string) *account {
	email := c.p.Get(name)
	if email == "" {
		c.mandatory(name)
		return nil
	}
	s := c.st.byEmail[email]
	if s == nil || s.Parent != c.acct {
		c.fail(http.StatusBadRequest, -12002, "Sub-account does not exist or is not a sub-account of this master account.")
		return nil
	}
	return s
}

// subKey finds the sub-account's key named by subAccountApiKey.
func (c *call) subKey(sub *account) *key {
	id := c.p.Get("subAccountApiKey")
	if id == "" {
		c.mandatory("subAccountApiKey")
		return nil
	}
	for _, k := range sub.Keys {
		if k.APIKey == id {
			return k
		}
	}
	c.fail(http.StatusBadRequest, -2008, "Invalid Api-Key ID.")
	return nil
}

// subAccountKey finds the sub-account named by email and its key named by
// subAccountApiKey, answering and returning a nil key when either is bad.
func (c *call) subAccountKey() (*account, *key) {
	s := c.subByEmail("email")
	if s == nil {
		return nil, nil
	}
	return s, c.subKey(s)
}

func handleSubAccountAssets(c *call) {
	s := c.subByEmail("email")
	if s == nil {
		return
	}
	out := []obj{}
	for _, asset := range sortedKeys(s.Spot) {
		b := s.Spot[asset]
		if b.Free+b.Locked == 0 {
			continue
		}
		out = append(out, obj{"freeze": "0", "withdrawing": "0", "asset": asset, "free": fnum(b.Free), "locked": fnum(b.Locked)})
	}
	c.ok(obj{"balances": out})
}

func subKeyRow(s *account, k *key) obj {
	return obj{"email": s.Email, "apiName": k.Label, "apikey": k.APIKey, "canTrade": k.Perms[permSpot],
		"canMarginLoanRepay": k.Perms[permMargin], "canFuturesTrade": k.Perms[permFutures],
		"canUniversalTransfer": k.Perms[permUniversalTransfer], "canVanillaOptions": k.Perms[permOptions],
		"timestamp": ms(k.Updated)}
}

func handleSubKeyList(c *call) {
	s := c.subByEmail("email")
	if s == nil {
		return
	}
	page, ok := c.intParam("page", 1, 1, math.MaxInt)
	if !ok {
		return
	}
	size, ok := c.intParam("size", 30, 1, 100)
	if !ok {
		return
	}
	var keys []*key
	for _, k := range s.Keys {
		if id := c.p.Get("subAccountApiKey"); id != "" && k.APIKey != id {
			continue
		}
		keys = append(keys, k)
	}
	rows := []obj{}
	for _, k := range paginate(keys, (page-1)*size, size) {
		rows = append(rows, subKeyRow(s, k))
	}
	c.ok(obj{"total": len(keys), "rows": rows})
}

func handleSubKeyDelete(c *call) {
	s, k := c.subAccountKey()
	if k == nil {
		return
	}
	var keep []*key
	for _, x := range s.Keys {
		if x != k {
			keep = append(keep, x)
		}
	}
	s.Keys = keep
	delete(c.st.keys, k.APIKey)
	c.ok(obj{})
}

func handleSubKeyPermission(c *call) {
	s, k := c.subAccountKey()
	if k == nil {
		return
	}
	// Every can* is optional; an absent one keeps its value (EXCHANGES.md C6).
	vals := map[string]bool{}
	for _, f := range createPerms {
		raw := c.p.Get(f.param)
		if raw == "" {
			continue
		}
		v, ok := parseBool(raw)
		if !ok {
			c.fail(http.StatusBadRequest, -1102, fmt.Sprintf("Param '%s' must be true or false.", f.param))
			return
		}
		vals[f.perm] = v
	}
	for perm, v := range vals {
		if v {
			k.Perms[perm] = true
		} else {
			delete(k.Perms, perm)
		}
	}
	k.Updated = c.now
	row := subKeyRow(s, k)
	delete(row, "email")
	c.ok(row)
}

func ipJSON(k *key) obj {
	ips := append([]string{}, k.IPs...)
	return obj{"ipRestrict": strconv.FormatBool(k.IPRestrict), "ipList": ips, "updateTime": ms(k.Updated), "apiKey": k.APIKey}
}

func handleSubKeyIPGet(c *call) {
	_, k := c.subAccountKey()
	if k == nil {
		return
	}
	c.ok(ipJSON(k))
}

// parseIPList splits a comma list of IPs; it answers and returns false
// on a malformed address.
func (c *call) parseIPList(raw string) ([]string, bool) {
	var out []string
	for _, ip := range strings.Split(raw, ",") {
		ip = strings.TrimSpace(ip)
		if ip == "" {
			continue
		}
		if net.ParseIP(ip) == nil {
			c.fail(http.StatusBadRequest, -1102, "Illegal IP address: "+ip)
			return nil, false
		}
		out = append(out, ip)
	}
	return out, true
}

// handleSubKeyIPSet is POST /sapi/v2/sub-account/subAccountApi/ipRestriction:
// status 1 lifts the restriction; status 2 restricts to trusted IPs and
// adds ipAddress to them.
func handleSubKeyIPSet(c *call) {
	_, k := c.subAccountKey()
	if k == nil {
		return
	}
	status := c.p.Get("status")
	ips, ok := c.parseIPList(c.p.Get("ipAddress"))
	if !ok {
		return
	}
	switch status {
	case "1", "":
		k.IPRestrict = false
	case "2":
		for _, ip := range ips {
			if !contains(k.IPs, ip) {
				k.IPs = append(k.IPs, ip)
			}
		}
		if len(k.IPs) == 0 {
			c.mandatory("ipAddress")
			return
		}
		k.IPRestrict = true
	case "3":
		if c.p.Get("thirdPartyName") == "" {
			c.mandatory("thirdPartyName")
			return
		}
		k.IPRestrict = true
		k.IPs = nil
	default:
		c.fail(http.StatusBadRequest, -1102, "Param 'status' must be 1, 2 or 3.")
		return
	}
	k.Updated = c.now
	out := obj{"status": status, "ipList": append([]string{}, k.IPs...), "updateTime": ms(k.Updated), "apiKey": k.APIKey}
	if status == "" {
		out["status"] = "1"
	}
	c.ok(out)
}

func handleSubKeyIPDelete(c *call) {
	_, k := c.subAccountKey()
	if k == nil {
		return
	}
	raw := c.p.Get("ipAddress")
	if raw == "" {
		c.mandatory("ipAddress")
		return
	}
	ips, ok := c.parseIPList(raw)
	if !ok {
		return
	}
	var keep []string
	for _, ip := range k.IPs {
		if !contains(ips, ip) {
			keep = append(keep, ip)
		}
	}
	k.IPs = keep
	k.Updated = c.now
	c.ok(ipJSON(k))
}

// wallet returns the balance entry of asset in account type t of a,
// creating it when create is set. Futures wallets are plain numbers and
// are handled by the caller.
func walletOf(a *account, t, asset, symbol string, create bool) *bal {
	var m map[string]*bal
	switch t {
	case "SPOT":
		m = a.Spot
	case "MARGIN":
		m = a.Margin
	case "ISOLATED_MARGIN":
		p := a.Isolated[symbol]
		if p == nil {
			return nil
		}
		if asset == p.Base {
			return &p.BaseBal
		}
		if asset == p.Quote {
			return &p.QuoteBal
		}
		return nil
	default:
		return nil
	}
	b := m[asset]
	if b == nil && create {
		b = &bal{}
		m[asset] = b
	}
	return b
}

var transferTypes = []string{"SPOT", "USDT_FUTURE", "COIN_FUTURE", "MARGIN", "ISOLATED_MARGIN"}

func handleUniversalTransfer(c *call) {
	p := c.p
	from, to := c.acct, c.acct
	if e := p.Get("fromEmail"); e != "" {
		if from = c.subByEmail("fromEmail"); from == nil {
			return
		}
	}
	if e := p.Get("toEmail"); e != "" {
		if to = c.subByEmail("toEmail"); to == nil {
			return
		}
	}
	ft, tt := upper(p.Get("fromAccountType")), upper(p.Get("toAccountType"))
	for name, v := range map[string]string{"fromAccountType": ft, "toAccountType": tt, "asset": p.Get("asset"), "amount": p.Get("amount")} {
		if v == "" {
			c.mandatory(name)
			return
		}
	}
	if !contains(transferTypes, ft) || !contains(transferTypes, tt) {
		c.fail(http.StatusBadRequest, -1102, "Param 'fromAccountType' or 'toAccountType' is not valid.")
		return
	}
	if from == to && ft == tt {
		c.fail(http.StatusBadRequest, -1102, "Transfer between the same account and wallet is not allowed.")
		return
	}
	asset := p.Get("asset")
	amount, err := strconv.ParseFloat(p.Get("amount"), 64)
	if err != nil || amount <= 0 || math.IsNaN(amount) {
		c.fail(http.StatusBadRequest, -1102, "Param 'amount' must be a positive number.")
		return
	}
	sym := p.Get("symbol")
	if (ft == "ISOLATED_MARGIN" || tt == "ISOLATED_MARGIN") && sym == "" {
		c.mandatory("symbol")
		return
	}
	if tt == "ISOLATED_MARGIN" && walletOf(to, tt, asset, sym, false) == nil {
		c.fail(http.StatusBadRequest, -11008, "The isolated margin pair does not hold this asset.")
		return
	}
	// debit
	switch ft {
	case "USDT_FUTURE", "COIN_FUTURE":
		m := from.USDM
		if ft == "COIN_FUTURE" {
			m = from.COINM
		}
		if m[asset] < amount {
			c.fail(http.StatusBadRequest, -3041, "Balance is not enough")
			return
		}
		m[asset] -= amount
	default:
		b := walletOf(from, ft, asset, sym, false)
		if b == nil || b.Free < amount {
			c.fail(http.StatusBadRequest, -3041, "Balance is not enough")
			return
		}
		b.Free -= amount
	}
	// credit
	switch tt {
	case "USDT_FUTURE":
		to.USDM[asset] += amount
	case "COIN_FUTURE":
		to.COINM[asset] += amount
	default:
		b := walletOf(to, tt, asset, sym, true)
		if b == nil {
			c.fail(http.StatusBadRequest, -11008, "The isolated margin pair does not hold this asset.")
			return
		}
		b.Free += amount
	}
	c.st.nextTran++
	out := obj{"tranId": c.st.nextTran}
	if id := p.Get("clientTranId"); id != "" {
		out["clientTranId"] = id
	}
	c.ok(out)
}
