package kucoin

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"
)

// world is the mutable runtime state built from a spec. All access happens
// under store.mu.
type world struct {
	cancelDelay time.Duration
	wdSettle    time.Duration
	window      time.Duration
	pools       poolSpec
	prices      map[string]*big.Rat
	symbols     []string // spot symbols known to the venue, sorted
	contracts   []string // futures contracts, sorted

	masters []*user
	users   map[string]*user // by name
	byUID   map[int64]*user
	byUser  map[string]*user // by userId
	keys    map[string]*apiKey

	limits map[string]*pool // "uid/pool" or "ip/Public"
	seq    int64
	base   time.Time

	// pending holds orders whose cancel was requested and whose funds are
	// released when the cancel takes effect (tick).
	pending []pendingRelease
}

type user struct {
	name      string
	uid       int64
	userID    string
	access    string
	remarks   string
	tags      []string
	hf        bool
	createdAt int64
	master    *user // nil for a master
	subs      []*user
	keys      []*apiKey

	// balances: account type ("main", "trade", "trade_hf") -> currency -> amount
	balances map[string]map[string]*amount
	margin   map[string]*marginAmount
	isolated map[string]*isolatedAccount

	orders      []*order
	futAccounts map[string]*futuresAccount
	futOrders   []*futuresOrder
	positions   []*position
	withdrawals []*withdrawal
	wdWhitelist []string
	fills       []*fill
	deadman     *deadman
}

type apiKey struct {
	key        string
	secret     string
	passphrase string
	version    int
	permission []string
	ipList     []string
	remark     string
	createdAt  int64
	expiresAt  time.Time // zero: never
	export     bool
	deleted    bool
	owner      *user
}

func (k *apiKey) has(perm string) bool {
	for _, p := range k.permission {
		if p == perm || (isWithdrawPerm(p) && isWithdrawPerm(perm)) {
			return true
		}
	}
	return false
}

// isWithdrawPerm reports whether p names the withdrawal permission: the
// current spec calls it Withdrawal, older docs Transfer (EXCHANGES.md C11).
func isWithdrawPerm(p string) bool { return p == "Transfer" || p == "Withdrawal" }

type amount struct {
	id       string
	balance  *big.Rat
	holds    *big.Rat
	currency string
}

type marginAmount struct {
	total, hold, liability *big.Rat
}

type isolatedAccount struct {
	symbol      string
	base, quote *marginAmount
}

// order kinds.
const (
	kindHF       = "hf"
	kindClassic  = "classic"
	kindStop     = "stop"
	kindOCO      = "oco"
	kindMarginHF = "margin_hf"
)

type order struct {
	kind       string
	id         string
	subIDs     []string // OCO legs
	clientOid  string
	symbol     string
	side       string
	typ        string
	price      string
	size       string
	dealSize   string
	stopPrice  string
	limitPrice string
	stop       string
	tradeType  string
	createdAt  int64
	done       bool
	cancelAt   time.Time // zero: no cancel requested

	// Set on orders placed through the API (trade.go).
	funds       string   // market order by funds
	dealFunds   string   // quote filled
	fee         string   // fee paid (quote)
	timeInForce string   // GTC (default), GTT, IOC, FOK
	postOnly    bool     // maker only
	remark      string   // the caller's remark
	filled      bool     // done because it filled (not cancelled)
	hold        *holding // funds the order keeps on hold; released when it ends
	borrowSize  string   // margin: what autoBorrow borrowed
}

// live reports whether the order still shows as open at now.
func (o *order) live(now time.Time) bool {
	if o.done {
		return false
	}
	return o.cancelAt.IsZero() || now.Before(o.cancelAt)
}

type futuresAccount struct {
	currency                                  string
	balance, unrealised, posMargin, ordMargin *big.Rat
	frozen                                    *big.Rat
}

type futuresOrder struct {
	id         string
	clientOid  string
	symbol     string
	side       string
	typ        string
	price      string
	size       int64
	leverage   string
	stop       string
	stopPrice  string
	marginMode string
	reduceOnly bool
	closeOrder bool
	createdAt  int64
	isStop     bool
	done       bool
	cancelAt   time.Time

	stopPriceType string   // TP, MP, IP (stop orders)
	filled        bool     // done because it filled
	dealSize      int64    // lots filled
	avgPrice      string   // fill price
	hold          *holding // order margin on hold; released when it ends
}

func (o *futuresOrder) live(now time.Time) bool {
	if o.done {
		return false
	}
	return o.cancelAt.IsZero() || now.Before(o.cancelAt)
}

type position struct {
	symbol     string
	qty        int64
	entry      *big.Rat
	mark       *big.Rat
	leverage   string
	marginMode string
	openedAt   int64
}

type withdrawal struct {
	id, currency, chain, address, memo, status, walletTxID, remark string
	amount, fee                                                    *big.Rat
	isInner                                                        bool
	createdAt, updatedAt                                           int64
	cancelled                                                      bool
	// advances is set on withdrawals made through the API: their status
	// moves on along the emulator clock (withdraw.go).
	advances bool
}

type fill struct {
	tradeID, orderID, symbol, side, liquidity, feeCurrency, tradeType string
	price, size, fee                                                  *big.Rat
	hf                                                                bool
	createdAt                                                         int64
	id                                                                int64
}

type deadman struct {
	timeout     int64
	symbols     []string
	triggerTime time.Time
}

// buildWorld turns a validated spec into runtime state at time base.
func buildWorld(s *spec, base time.Time) *world {
	w := &world{
		cancelDelay: 150 * time.Millisecond,
		window:      30 * time.Second,
		pools:       poolSpec{Spot: 4000, Futures: 2000, Management: 2000, Public: 2000},
		prices:      map[string]*big.Rat{},
		users:       map[string]*user{},
		byUID:       map[int64]*user{},
		byUser:      map[string]*user{},
		keys:        map[string]*apiKey{},
		limits:      map[string]*pool{},
		base:        base,
	}
	if s.CancelDelay != nil {
		w.cancelDelay = *s.CancelDelay
	}
	w.wdSettle = 2 * time.Minute
	if s.WithdrawSettle > 0 {
		w.wdSettle = s.WithdrawSettle
	}
	if s.Window > 0 {
		w.window = s.Window
	}
	if s.Pools.Spot > 0 {
		w.pools.Spot = s.Pools.Spot
	}
	if s.Pools.Futures > 0 {
		w.pools.Futures = s.Pools.Futures
	}
	if s.Pools.Management > 0 {
		w.pools.Management = s.Pools.Management
	}
	if s.Pools.Public > 0 {
		w.pools.Public = s.Pools.Public
	}
	for k, v := range defaultPrices {
		w.prices[k], _ = new(big.Rat).SetString(v)
	}
	for k, v := range s.Prices {
		w.prices[k] = v.rat()
	}
	syms := map[string]bool{}
	contracts := map[string]bool{}
	for _, x := range s.Symbols {
		syms[x] = true
	}
	for _, x := range s.Contracts {
		contracts[x] = true
	}
	nextUID := int64(100000001)
	for i := range s.Masters {
		m := w.buildUser(&s.Masters[i], nil, &nextUID, syms, contracts)
		w.masters = append(w.masters, m)
	}
	for x := range syms {
		w.symbols = append(w.symbols, x)
	}
	sort.Strings(w.symbols)
	for x := range contracts {
		w.contracts = append(w.contracts, x)
	}
	sort.Strings(w.contracts)
	return w
}

var defaultPrices = map[string]string{
	"BTC": "65000", "ETH": "3400", "SOL": "150", "XRP": "0.6", "KCS": "10", "DOGE": "0.15",
	"ADA": "0.45", "TRX": "0.12", "LTC": "80", "DOT": "6.5", "LINK": "14", "AVAX": "30",
	"USDT": "1", "USDC": "1", "XBT": "65000",
}

// newID returns a deterministic 24-hex-digit id like KuCoin's.
func (w *world) newID() string {
	w.seq++
	return fmt.Sprintf("%08x%016x", w.base.Unix(), 0x1000000+w.seq)
}

func (w *world) ms(age time.Duration) int64 {
	return w.base.Add(-age).UnixMilli()
}

func hashHex(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:])
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func ratOr(d dec, def string) *big.Rat {
	if d == "" {
		r, _ := new(big.Rat).SetString(def)
		return r
	}
	return d.rat()
}

func (w *world) buildUser(s *userSpec, master *user, nextUID *int64, syms, contracts map[string]bool) *user {
	u := &user{
		name:        s.Name,
		uid:         s.UID,
		userID:      s.UserID,
		access:      orDefault(s.Access, "All"),
		remarks:     s.Remarks,
		tags:        s.Tags,
		hf:          s.HF == nil || *s.HF,
		master:      master,
		createdAt:   w.ms(orDur(s.Age, 400*24*time.Hour)),
		balances:    map[string]map[string]*amount{},
		margin:      map[string]*marginAmount{},
		isolated:    map[string]*isolatedAccount{},
		futAccounts: map[string]*futuresAccount{},
		wdWhitelist: s.WithdrawWhitelist,
	}
	if u.uid == 0 {
		for w.byUID[*nextUID] != nil {
			*nextUID++
		}
		u.uid = *nextUID
		*nextUID++
	}
	if u.userID == "" {
		u.userID = hashHex("user", u.name)[:24]
	}
	w.users[u.name] = u
	w.byUID[u.uid] = u
	w.byUser[u.userID] = u
	for i, ks := range s.Keys {
		k := &apiKey{
			key:        ks.APIKey,
			secret:     ks.Secret,
			passphrase: ks.Passphrase,
			version:    ks.Version,
			permission: ks.Permission,
			ipList:     ks.IPWhitelist,
			remark:     orDefault(ks.Remark, fmt.Sprintf("%s key %d", u.name, i+1)),
			createdAt:  w.ms(orDur(ks.Age, 90*24*time.Hour)),
			export:     ks.Export == nil || *ks.Export,
			owner:      u,
		}
		if k.key == "" {
			k.key = hashHex("key", u.name, fmt.Sprint(i))[:24]
		}
		if k.secret == "" {
			h := hashHex("secret", k.key)
			k.secret = h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
		}
		if k.passphrase == "" {
			k.passphrase = "pass-" + hashHex("pass", k.key)[:10]
		}
		if k.version == 0 {
			k.version = 3
		}
		if len(k.permission) == 0 {
			k.permission = []string{"General"}
		}
		u.keys = append(u.keys, k)
		w.keys[k.key] = k
	}
	addBal := func(typ string, m map[string]amountSpec) {
		if len(m) == 0 {
			return
		}
		acc := map[string]*amount{}
		for _, c := range sortedKeys(m) {
			a := m[c]
			acc[c] = &amount{id: w.newID(), currency: c, balance: ratOr(a.Balance, "0"), holds: ratOr(a.Holds, "0")}
		}
		u.balances[typ] = acc
	}
	addBal("main", s.Balances.Main)
	addBal("trade", s.Balances.Trade)
	addBal("trade_hf", s.Balances.TradeHF)
	for c, m := range s.Balances.Margin {
		u.margin[c] = marginFromSpec(m)
	}
	for sym, iso := range s.Balances.Isolated {
		u.isolated[sym] = &isolatedAccount{symbol: sym, base: marginFromSpec(iso.Base), quote: marginFromSpec(iso.Quote)}
		syms[sym] = true
	}
	mk := func(kind string, os orderSpec, i int) *order {
		o := &order{
			kind:       kind,
			id:         os.ID,
			clientOid:  os.ClientOid,
			symbol:     os.Symbol,
			side:       orDefault(os.Side, "buy"),
			typ:        orDefault(os.Type, "limit"),
			price:      string(os.Price),
			size:       orDefault(string(os.Size), "1"),
			dealSize:   orDefault(string(os.DealSize), "0"),
			stopPrice:  string(os.StopPrice),
			limitPrice: string(os.LimitPrice),
			stop:       os.Stop,
			tradeType:  os.TradeType,
			createdAt:  w.ms(orDur(os.Age, time.Duration(i+1)*7*time.Minute)),
			done:       os.Done,
		}
		if o.id == "" {
			o.id = w.newID()
		}
		if o.clientOid == "" {
			o.clientOid = hashHex("oid", o.id)[:32]
		}
		if o.price == "" {
			o.price = w.priceOf(o.symbol)
		}
		switch kind {
		case kindMarginHF:
			o.tradeType = orDefault(o.tradeType, "MARGIN_TRADE")
		case kindStop:
			o.tradeType = orDefault(o.tradeType, "TRADE")
			o.stop = orDefault(o.stop, "loss")
			if o.stopPrice == "" {
				o.stopPrice = o.price
			}
		case kindOCO:
			o.tradeType = "TRADE"
			o.subIDs = []string{w.newID(), w.newID()}
			if o.stopPrice == "" {
				o.stopPrice = o.price
			}
			if o.limitPrice == "" {
				o.limitPrice = o.price
			}
		default:
			o.tradeType = orDefault(o.tradeType, "TRADE")
		}
		syms[o.symbol] = true
		return o
	}
	for i, o := range s.Orders.HF {
		u.orders = append(u.orders, mk(kindHF, o, i))
	}
	for i, o := range s.Orders.Classic {
		u.orders = append(u.orders, mk(kindClassic, o, i))
	}
	for i, o := range s.Orders.Stop {
		u.orders = append(u.orders, mk(kindStop, o, i))
	}
	for i, o := range s.Orders.OCO {
		u.orders = append(u.orders, mk(kindOCO, o, i))
	}
	for i, o := range s.Orders.MarginHF {
		u.orders = append(u.orders, mk(kindMarginHF, o, i))
	}
	for _, c := range sortedKeys(s.Futures.Accounts) {
		a := s.Futures.Accounts[c]
		u.futAccounts[c] = &futuresAccount{
			currency:   c,
			balance:    ratOr(a.Balance, "0"),
			unrealised: ratOr(a.UnrealisedPNL, "0"),
			posMargin:  ratOr(a.PositionMargin, "0"),
			ordMargin:  ratOr(a.OrderMargin, "0"),
			frozen:     ratOr(a.FrozenFunds, "0"),
		}
	}
	mkf := func(fs futuresOrderSpec, stop bool, i int) *futuresOrder {
		o := &futuresOrder{
			id:         fs.ID,
			clientOid:  fs.ClientOid,
			symbol:     fs.Symbol,
			side:       orDefault(fs.Side, "buy"),
			typ:        orDefault(fs.Type, "limit"),
			price:      string(fs.Price),
			size:       fs.Size,
			leverage:   orDefault(string(fs.Leverage), "3"),
			stop:       fs.Stop,
			stopPrice:  string(fs.StopPrice),
			marginMode: orDefault(fs.MarginMode, "ISOLATED"),
			reduceOnly: fs.ReduceOnly,
			createdAt:  w.ms(orDur(fs.Age, time.Duration(i+1)*5*time.Minute)),
			isStop:     stop,
		}
		if o.id == "" {
			o.id = w.newID()
		}
		if o.clientOid == "" {
			o.clientOid = hashHex("foid", o.id)[:32]
		}
		if o.size == 0 {
			o.size = 1
		}
		if o.price == "" {
			o.price = w.contractPrice(o.symbol)
		}
		if stop {
			o.stop = orDefault(o.stop, "down")
			if o.stopPrice == "" {
				o.stopPrice = o.price
			}
		}
		contracts[o.symbol] = true
		return o
	}
	for i, o := range s.Futures.Orders {
		u.futOrders = append(u.futOrders, mkf(o, false, i))
	}
	for i, o := range s.Futures.StopOrders {
		u.futOrders = append(u.futOrders, mkf(o, true, i))
	}
	for _, p := range s.Futures.Positions {
		pp := &position{
			symbol:     p.Symbol,
			qty:        p.Qty,
			entry:      ratOr(p.EntryPrice, w.contractPrice(p.Symbol)),
			mark:       ratOr(p.MarkPrice, w.contractPrice(p.Symbol)),
			leverage:   orDefault(string(p.Leverage), "5"),
			marginMode: orDefault(p.MarginMode, "ISOLATED"),
			openedAt:   w.ms(26 * time.Hour),
		}
		u.positions = append(u.positions, pp)
		contracts[p.Symbol] = true
	}
	for i, ws := range s.Withdrawals {
		wd := &withdrawal{
			id:         ws.ID,
			currency:   ws.Currency,
			chain:      orDefault(ws.Chain, defaultChain(ws.Currency)),
			address:    orDefault(ws.Address, "0x"+hashHex("addr", u.name, fmt.Sprint(i))[:40]),
			memo:       ws.Memo,
			status:     orDefault(ws.Status, "SUCCESS"),
			walletTxID: ws.WalletTxID,
			remark:     ws.Remark,
			amount:     ratOr(ws.Amount, "1"),
			fee:        ratOr(ws.Fee, "0"),
			isInner:    ws.IsInner,
			createdAt:  w.ms(orDur(ws.Age, time.Duration(i+1)*time.Hour)),
		}
		if wd.id == "" {
			wd.id = w.newID()
		}
		if wd.walletTxID == "" && wd.status == "SUCCESS" {
			wd.walletTxID = "0x" + hashHex("tx", wd.id)
		}
		wd.updatedAt = wd.createdAt
		u.withdrawals = append(u.withdrawals, wd)
	}
	for i, fs := range s.Fills {
		f := &fill{
			tradeID:     fmt.Sprint(11000000000 + w.seq*7 + int64(i)),
			orderID:     orDefault(fs.OrderID, w.newID()),
			symbol:      fs.Symbol,
			side:        orDefault(fs.Side, "buy"),
			liquidity:   orDefault(fs.Liquidity, "taker"),
			feeCurrency: orDefault(fs.FeeCurrency, quoteOf(fs.Symbol)),
			tradeType:   orDefault(fs.TradeType, "TRADE"),
			price:       ratOr(fs.Price, w.priceOf(fs.Symbol)),
			size:        ratOr(fs.Size, "1"),
			fee:         ratOr(fs.Fee, "0"),
			hf:          fs.HF == nil || *fs.HF,
			createdAt:   w.ms(orDur(fs.Age, time.Duration(i+1)*3*time.Minute)),
		}
		w.seq++
		f.id = 19000000000 + w.seq
		u.fills = append(u.fills, f)
		syms[fs.Symbol] = true
	}
	for i := range s.Subs {
		sub := w.buildUser(&s.Subs[i], u, nextUID, syms, contracts)
		u.subs = append(u.subs, sub)
	}
	return u
}

func marginFromSpec(m marginSpec) *marginAmount {
	return &marginAmount{total: ratOr(m.Total, "0"), hold: ratOr(m.Hold, "0"), liability: ratOr(m.Liability, "0")}
}

func orDur(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func baseOf(sym string) string {
	b, _, _ := strings.Cut(sym, "-")
	return b
}

func quoteOf(sym string) string {
	_, q, ok := strings.Cut(sym, "-")
	if !ok {
		return "USDT"
	}
	return q
}

// priceOf returns a plausible price of a spot symbol in its quote currency.
func (w *world) priceOf(sym string) string {
	if p, ok := w.prices[sym]; ok {
		return ratString(p)
	}
	b, q := w.prices[baseOf(sym)], w.prices[quoteOf(sym)]
	if b != nil && q != nil && q.Sign() > 0 {
		return ratString(new(big.Rat).Quo(b, q))
	}
	return "1"
}

// usdValue values amount of currency c in USDT (0 if unknown).
func (w *world) usdValue(c string, a *big.Rat) *big.Rat {
	p := w.prices[c]
	if p == nil {
		return new(big.Rat)
	}
	return new(big.Rat).Mul(p, a)
}

// contractBase maps a futures contract to its base currency: XBTUSDTM -> XBT.
func contractBase(sym string) string {
	for _, suf := range []string{"USDTM", "USDCM", "USDM"} {
		if strings.HasSuffix(sym, suf) {
			return strings.TrimSuffix(sym, suf)
		}
	}
	return strings.TrimSuffix(sym, "M")
}

// contractSettle is the settlement currency of a contract.
func contractSettle(sym string) string {
	switch {
	case strings.HasSuffix(sym, "USDTM"):
		return "USDT"
	case strings.HasSuffix(sym, "USDCM"):
		return "USDC"
	default:
		return contractBase(sym) // inverse contracts settle in the base coin
	}
}

func (w *world) contractPrice(sym string) string {
	if p, ok := w.prices[sym]; ok {
		return ratString(p)
	}
	if p := w.prices[contractBase(sym)]; p != nil {
		return ratString(p)
	}
	return "1"
}

func defaultChain(c string) string {
	switch c {
	case "BTC":
		return "btc"
	case "USDT", "ETH", "USDC", "LINK":
		return "eth"
	case "TRX":
		return "trx"
	case "SOL":
		return "sol"
	}
	return strings.ToLower(c)
}
