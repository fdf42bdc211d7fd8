package fromrun

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/panicbutton/panicbutton/executors"
)

// The state document: the subset of STATE.md's format this package writes.
type stateDoc struct {
	Binance *bState `yaml:"binance,omitempty"`
	Kucoin  *kState `yaml:"kucoin,omitempty"`
}

type bState struct {
	Prices   map[string]string `yaml:"prices,omitempty"`
	Accounts []*bAccount       `yaml:"accounts"`
}

type bAccount struct {
	Name        string            `yaml:"name"`
	Email       string            `yaml:"email,omitempty"`
	Master      bool              `yaml:"master,omitempty"`
	Parent      string            `yaml:"parent,omitempty"`
	Keys        []bKey            `yaml:"keys,omitempty"`
	Spot        map[string]bBal   `yaml:"spot,omitempty"`
	Funding     map[string]bBal   `yaml:"funding,omitempty"`
	Margin      map[string]bBal   `yaml:"margin,omitempty"`
	Isolated    map[string]*bIso  `yaml:"isolated,omitempty"`
	USDM        map[string]string `yaml:"usdm,omitempty"`
	COINM       map[string]string `yaml:"coinm,omitempty"`
	USDMDual    bool              `yaml:"usdm_dual_side,omitempty"`
	COINMDual   bool              `yaml:"coinm_dual_side,omitempty"`
	Orders      *bOrders          `yaml:"orders,omitempty"`
	Positions   *bPositions       `yaml:"positions,omitempty"`
	Withdrawals []bWithdrawal     `yaml:"withdrawals,omitempty"`
	// Set on every sub-account: the trail does not record their
	// margin/futures status (GET /sapi/v1/sub-account/status).
	MarginEnabled  bool `yaml:"margin_enabled,omitempty"`
	FuturesEnabled bool `yaml:"futures_enabled,omitempty"`
}

type bKey struct {
	APIKey      string   `yaml:"api_key"`
	Secret      string   `yaml:"secret"`
	Label       string   `yaml:"label,omitempty"`
	Permissions []string `yaml:"permissions,flow"`
	IPs         []string `yaml:"ips,omitempty,flow"`
	IPRestrict  *bool    `yaml:"ip_restrict,omitempty"`
	Created     string   `yaml:"created,omitempty"`
	Export      *bool    `yaml:"export,omitempty"`
}

type bBal struct {
	Free     string `yaml:"free,omitempty"`
	Locked   string `yaml:"locked,omitempty"`
	Borrowed string `yaml:"borrowed,omitempty"`
}

type bIso struct {
	Base  bBal `yaml:"base"`
	Quote bBal `yaml:"quote"`
}

type bOrder struct {
	ID             int64  `yaml:"id,omitempty"`
	Symbol         string `yaml:"symbol"`
	Side           string `yaml:"side"`
	Type           string `yaml:"type,omitempty"`
	Price          string `yaml:"price,omitempty"`
	StopPrice      string `yaml:"stop_price,omitempty"`
	StopLimitPrice string `yaml:"stop_limit_price,omitempty"`
	Qty            string `yaml:"qty"`
	PositionSide   string `yaml:"position_side,omitempty"`
}

type bOrders struct {
	Spot      []bOrder `yaml:"spot,omitempty"`
	SpotLists []bOrder `yaml:"spot_lists,omitempty"`
	Margin    []bOrder `yaml:"margin,omitempty"`
	Isolated  []bOrder `yaml:"isolated,omitempty"`
	USDM      []bOrder `yaml:"usdm,omitempty"`
	USDMAlgo  []bOrder `yaml:"usdm_algo,omitempty"`
	COINM     []bOrder `yaml:"coinm,omitempty"`
}

type bPosition struct {
	Symbol     string `yaml:"symbol"`
	Side       string `yaml:"side,omitempty"`
	Amount     string `yaml:"amount"`
	EntryPrice string `yaml:"entry_price,omitempty"`
	MarkPrice  string `yaml:"mark_price,omitempty"`
}

type bPositions struct {
	USDM  []bPosition `yaml:"usdm,omitempty"`
	COINM []bPosition `yaml:"coinm,omitempty"`
}

type bWithdrawal struct {
	ID      string `yaml:"id,omitempty"`
	Coin    string `yaml:"coin"`
	Network string `yaml:"network,omitempty"`
	Amount  string `yaml:"amount"`
	Status  string `yaml:"status"`
	Applied string `yaml:"applied,omitempty"`
	Address string `yaml:"address,omitempty"`
}

// binancePerm maps the inventory's permission names onto the state's.
var binancePerm = map[string]string{
	"read": "reading", "spot_margin_trade": "spot", "margin_loan": "margin", "futures": "futures",
	"options": "options", "withdraw": "withdrawals", "internal_transfer": "internal_transfer",
	"universal_transfer": "universal_transfer",
}

func binancePerms(k executors.Key) []string {
	var out []string
	for _, p := range k.Permissions {
		if s, ok := binancePerm[p]; ok {
			out = append(out, s)
		}
	}
	if k.CanWithdraw && !contains(out, "withdrawals") {
		out = append(out, "withdrawals")
	}
	if len(out) == 0 {
		out = []string{"reading"}
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// loopbackIPs are added to a restricted key of the account itself: the
// rehearsal runs on this machine, and the tool must be able to use it.
var loopbackIPs = []string{"127.0.0.1", "::1"}

func withLoopback(ips []string) []string {
	out := append([]string(nil), ips...)
	for _, ip := range loopbackIPs {
		if !contains(out, ip) {
			out = append(out, ip)
		}
	}
	return out
}

// safeName turns an e-mail's local part into a state account name.
func safeName(s string) string {
	if i := strings.IndexByte(s, '@'); i > 0 {
		s = s[:i]
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "sub"
	}
	return b.String()
}

func (b *builder) binance(st *bState, a *recorded) error {
	b.nAcct++
	n := b.nAcct
	master := &bAccount{Name: b.name(a.name, fmt.Sprintf("account-%d", n)), Master: true}
	b.sum.Accounts = append(b.sum.Accounts, master.Name)
	used := map[string]bool{}
	for _, acc := range st.Accounts {
		used[acc.Name] = true
	}
	used[master.Name] = true
	subs := map[string]*bAccount{} // by original e-mail
	var subOrder []string
	sub := func(email string) *bAccount {
		if s, ok := subs[email]; ok {
			return s
		}
		name, mail := safeName(email), email
		if b.o.Anonymise {
			name = fmt.Sprintf("sub-%d-%d", n, len(subs)+1)
			mail = name + "@" + master.Name + ".example"
			b.names[email] = mail
		}
		for base, i := name, 2; used[name]; i++ {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		used[name] = true
		s := &bAccount{Name: name, Email: mail, Parent: master.Name}
		subs[email] = s
		subOrder = append(subOrder, email)
		return s
	}
	account := func(subEmail string) *bAccount {
		if subEmail == "" {
			return master
		}
		return sub(subEmail)
	}

	exported := false
	for i, k := range a.keys {
		acc := master
		if k.Sub {
			acc = sub(k.Owner)
		}
		key := bKey{APIKey: randString(64, alnum), Secret: randString(64, alnum), Permissions: binancePerms(k), Created: when(k.Created)}
		key.Label = k.Label
		if b.o.Anonymise && k.Label != "" {
			key.Label = fmt.Sprintf("key-%d-%d", n, i+1)
		}
		if k.IPRestricted {
			key.IPRestrict = ptr(true)
			key.IPs = k.IPs
			if !k.Sub {
				key.IPs = withLoopback(k.IPs)
			}
		}
		if !k.Sub && !exported {
			key.Export, exported = ptr(true), true
		}
		acc.Keys = append(acc.Keys, key)
		b.sum.Keys++
	}
	if !exported {
		// The run always used a key of the account itself; the inventory
		// did not list it: give the rehearsal one (read and trade).
		master.Keys = append([]bKey{{APIKey: randString(64, alnum), Secret: randString(64, alnum),
			Permissions: []string{"reading", "spot", "margin", "futures"}, IPRestrict: ptr(true), IPs: loopbackIPs, Export: ptr(true)}}, master.Keys...)
		b.sum.Notes = append(b.sum.Notes, fmt.Sprintf("account %s: no key inventory recorded; a read/trade key was made up", a.name))
		b.sum.Keys++
	}

	if s := a.snapshot; s != nil {
		for _, bal := range s.Balances {
			acc := account(bal.Sub)
			total, free, locked := dec(bal.Total), dec(bal.Free), dec(bal.Locked)
			if isZero(total) && isZero(free) && isZero(locked) && isZero(bal.Borrowed) {
				continue
			}
			bb := bBal{Free: free, Locked: nonZero(locked), Borrowed: nonZero(dec(bal.Borrowed))}
			switch w := bal.Wallet; {
			case w == "spot":
				setBal(&acc.Spot, bal.Asset, bb)
			case w == "funding":
				setBal(&acc.Funding, bal.Asset, bb)
			case w == "margin":
				setBal(&acc.Margin, bal.Asset, bb)
			case strings.HasPrefix(w, "isolated_margin:"):
				sym := strings.TrimPrefix(w, "isolated_margin:")
				if acc.Isolated == nil {
					acc.Isolated = map[string]*bIso{}
				}
				iso := acc.Isolated[sym]
				if iso == nil {
					iso = &bIso{}
					acc.Isolated[sym] = iso
				}
				if strings.HasPrefix(sym, bal.Asset) {
					iso.Base = bb
				} else {
					iso.Quote = bb
				}
			case w == "usdm" || w == "coinm":
				v := total
				if v == "" {
					v = free
				}
				m := &acc.USDM
				if w == "coinm" {
					m = &acc.COINM
				}
				if *m == nil {
					*m = map[string]string{}
				}
				(*m)[bal.Asset] = v
			}
		}
		for _, p := range s.Positions {
			acc := account(p.Sub)
			pos := bPosition{Symbol: p.Symbol, Amount: dec(p.Size), EntryPrice: dec(p.EntryPrice), MarkPrice: dec(p.MarkPrice)}
			if pos.Amount == "" || isZero(pos.Amount) {
				continue
			}
			if p.Side == "LONG" || p.Side == "SHORT" {
				pos.Side = p.Side
			}
			if acc.Positions == nil {
				acc.Positions = &bPositions{}
			}
			switch p.Product {
			case executors.ProductUSDM:
				acc.Positions.USDM = append(acc.Positions.USDM, pos)
				acc.USDMDual = acc.USDMDual || pos.Side != ""
			case executors.ProductCoinM:
				acc.Positions.COINM = append(acc.Positions.COINM, pos)
				acc.COINMDual = acc.COINMDual || pos.Side != ""
			default:
				continue
			}
			if pos.MarkPrice != "" {
				st.Prices[p.Symbol] = pos.MarkPrice
			}
			b.sum.Positions++
		}
	}

	orders := a.orders
	if !a.haveOrders {
		for _, c := range a.changes {
			orders = append(orders, executors.Order{Product: c.Product, Symbol: c.Symbol, ID: c.ID, Kind: "limit", Side: "BUY", Qty: "1"})
		}
		if len(orders) > 0 {
			b.sum.Notes = append(b.sum.Notes, fmt.Sprintf("account %s: the run recorded its orders' ids only; sides, prices and sizes are made up", a.name))
		}
	}
	b.binanceOrders(st, master, orders)

	for _, w := range a.withdrawals {
		wd := bWithdrawal{ID: w.ID, Coin: w.Asset, Network: w.Network, Amount: dec(w.Amount), Applied: when(w.Created),
			Status: strings.ReplaceAll(w.Status, "-", "_"), Address: w.Address}
		switch wd.Status {
		case "email_sent", "cancelled", "awaiting_approval", "rejected", "processing", "failure", "completed":
		default:
			wd.Status = "processing"
			if !w.Pending {
				wd.Status = "completed"
			}
		}
		if b.o.Anonymise {
			wd.Address = "0x" + randString(40, "0123456789abcdef")
		}
		if wd.Amount == "" {
			continue
		}
		master.Withdrawals = append(master.Withdrawals, wd)
		b.sum.Withdrawals++
	}

	st.Accounts = append(st.Accounts, master)
	for _, e := range subOrder {
		// Unknown, so assumed on: the rehearsal inspects each sub-account
		// as one that could hold futures and margin orders.
		subs[e].MarginEnabled, subs[e].FuturesEnabled = true, true
		st.Accounts = append(st.Accounts, subs[e])
		b.sum.SubAccounts++
	}
	if len(subOrder) > 0 {
		b.sum.Notes = append(b.sum.Notes, fmt.Sprintf("account %s: the run recorded no sub-account's margin/futures status; both are on for every sub-account, so none is skipped as unable to hold orders", master.Name))
	}
	return nil
}

func nonZero(s string) string {
	if isZero(s) {
		return ""
	}
	return s
}

func setBal(m *map[string]bBal, asset string, v bBal) {
	if *m == nil {
		*m = map[string]bBal{}
	}
	(*m)[asset] = v
}

// binanceOrders places the recorded open orders in the state.
func (b *builder) binanceOrders(st *bState, acc *bAccount, orders []executors.Order) {
	if len(orders) == 0 {
		return
	}
	o := &bOrders{}
	lists := map[string][]executors.Order{}
	var listIDs []string
	for _, x := range orders {
		price := dec(x.Price)
		if price != "" && !isZero(price) {
			if _, ok := st.Prices[x.Symbol]; !ok {
				st.Prices[x.Symbol] = price
			}
		}
		id, _ := strconv.ParseInt(x.ID, 10, 64)
		bo := bOrder{ID: id, Symbol: x.Symbol, Side: strings.ToUpper(x.Side), Price: price, Qty: dec(x.Qty)}
		if bo.Side != "BUY" && bo.Side != "SELL" {
			bo.Side = "BUY"
		}
		if bo.Qty == "" || isZero(bo.Qty) {
			bo.Qty = "1"
		}
		kind := strings.TrimPrefix(x.Kind, "list-member:")
		if strings.HasPrefix(x.Kind, "list-member:") && x.Product == executors.ProductSpot {
			if _, ok := lists[x.ListID]; !ok {
				listIDs = append(listIDs, x.ListID)
			}
			lists[x.ListID] = append(lists[x.ListID], x)
			b.sum.Orders[x.Product]++
			continue
		}
		switch kind {
		case "stop":
			bo.StopPrice = price
			switch x.Product {
			case executors.ProductSpot, executors.ProductMargin, executors.ProductIsolatedMargin:
				bo.Type = "STOP_LOSS_LIMIT"
			default:
				bo.Type = "STOP"
			}
		case "algo":
			bo.Type, bo.StopPrice, bo.Price = "STOP_MARKET", price, ""
		}
		switch x.Product {
		case executors.ProductSpot:
			o.Spot = append(o.Spot, bo)
		case executors.ProductMargin:
			o.Margin = append(o.Margin, bo)
		case executors.ProductIsolatedMargin:
			o.Isolated = append(o.Isolated, bo)
		case executors.ProductUSDM:
			if kind == "algo" {
				bo.ID = 0 // algo ids are their own sequence
				o.USDMAlgo = append(o.USDMAlgo, bo)
			} else {
				o.USDM = append(o.USDM, bo)
			}
		case executors.ProductCoinM:
			o.COINM = append(o.COINM, bo)
		default:
			continue
		}
		if kind == "algo" || kind == "stop" {
			bo.PositionSide = ""
		}
		b.sum.Orders[x.Product]++
	}
	sort.Strings(listIDs)
	for _, id := range listIDs {
		legs := lists[id]
		l := bOrder{Symbol: legs[0].Symbol, Side: strings.ToUpper(legs[0].Side), Qty: dec(legs[0].Qty)}
		for _, leg := range legs {
			if strings.HasSuffix(leg.Kind, ":stop") {
				l.StopPrice, l.StopLimitPrice = dec(leg.Price), dec(leg.Price)
			} else {
				l.Price = dec(leg.Price)
			}
		}
		if l.Price == "" || l.StopPrice == "" {
			// A list whose legs were not both recorded: keep what is known.
			if l.Price == "" {
				l.Price = l.StopPrice
			}
			if l.StopPrice == "" {
				l.StopPrice, l.StopLimitPrice = l.Price, l.Price
			}
		}
		o.SpotLists = append(o.SpotLists, l)
	}
	acc.Orders = o
}
