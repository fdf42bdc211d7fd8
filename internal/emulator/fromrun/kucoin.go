package fromrun

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/secret"
)

type kState struct {
	Prices  map[string]string `yaml:"prices,omitempty"`
	Masters []*kUser          `yaml:"masters"`
}

type kUser struct {
	Name        string        `yaml:"name"`
	Keys        []kKey        `yaml:"keys,omitempty"`
	Balances    *kBalances    `yaml:"balances,omitempty"`
	Orders      *kOrders      `yaml:"orders,omitempty"`
	Futures     *kFutures     `yaml:"futures,omitempty"`
	Withdrawals []kWithdrawal `yaml:"withdrawals,omitempty"`
	Subs        []*kUser      `yaml:"subs,omitempty"`
}

type kKey struct {
	APIKey      string   `yaml:"api_key"`
	Secret      string   `yaml:"secret"`
	Passphrase  string   `yaml:"passphrase"`
	Version     int      `yaml:"version"`
	Permission  string   `yaml:"permission"`
	IPWhitelist []string `yaml:"ip_whitelist,omitempty,flow"`
	Remark      string   `yaml:"remark,omitempty"`
	Export      *bool    `yaml:"export,omitempty"`
}

type kBal struct {
	Balance string `yaml:"balance"`
	Holds   string `yaml:"holds,omitempty"`
}

type kMargin struct {
	Total     string `yaml:"total"`
	Hold      string `yaml:"hold,omitempty"`
	Liability string `yaml:"liability,omitempty"`
}

type kIso struct {
	Base  *kMargin `yaml:"base,omitempty"`
	Quote *kMargin `yaml:"quote,omitempty"`
}

type kBalances struct {
	Main     map[string]kBal    `yaml:"main,omitempty"`
	Trade    map[string]kBal    `yaml:"trade,omitempty"`
	TradeHF  map[string]kBal    `yaml:"trade_hf,omitempty"`
	Margin   map[string]kMargin `yaml:"margin,omitempty"`
	Isolated map[string]*kIso   `yaml:"isolated,omitempty"`
}

type kOrder struct {
	ID         string `yaml:"id,omitempty"`
	Symbol     string `yaml:"symbol"`
	Side       string `yaml:"side"`
	Price      string `yaml:"price,omitempty"`
	Size       any    `yaml:"size"`
	StopPrice  string `yaml:"stop_price,omitempty"`
	LimitPrice string `yaml:"limit_price,omitempty"`
	Stop       string `yaml:"stop,omitempty"`
	TradeType  string `yaml:"trade_type,omitempty"`
}

type kOrders struct {
	HF       []kOrder `yaml:"hf,omitempty"`
	Stop     []kOrder `yaml:"stop,omitempty"`
	OCO      []kOrder `yaml:"oco,omitempty"`
	MarginHF []kOrder `yaml:"margin_hf,omitempty"`
}

type kFutAcct struct {
	Balance        string `yaml:"balance"`
	PositionMargin string `yaml:"position_margin,omitempty"`
}

type kPosition struct {
	Symbol     string `yaml:"symbol"`
	Qty        any    `yaml:"qty"`
	EntryPrice string `yaml:"entry_price,omitempty"`
	MarkPrice  string `yaml:"mark_price,omitempty"`
}

type kFutures struct {
	Accounts   map[string]kFutAcct `yaml:"accounts,omitempty"`
	Orders     []kOrder            `yaml:"orders,omitempty"`
	StopOrders []kOrder            `yaml:"stop_orders,omitempty"`
	Positions  []kPosition         `yaml:"positions,omitempty"`
}

type kWithdrawal struct {
	ID       string `yaml:"id,omitempty"`
	Currency string `yaml:"currency"`
	Chain    string `yaml:"chain,omitempty"`
	Amount   string `yaml:"amount"`
	Address  string `yaml:"address,omitempty"`
	Status   string `yaml:"status"`
	Age      string `yaml:"age,omitempty"`
}

const hexDigits = "0123456789abcdef"

// intOrString writes a whole number as a YAML integer (contract sizes).
func intOrString(s string) any {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == float64(int64(f)) {
		return int64(f)
	}
	return s
}

func (b *builder) kucoin(st *kState, a *recorded) {
	b.nAcct++
	n := b.nAcct
	master := &kUser{Name: b.name(a.name, fmt.Sprintf("account-%d", n))}
	b.sum.Accounts = append(b.sum.Accounts, master.Name)
	subs := map[string]*kUser{}
	var subOrder []string
	user := func(sub string) *kUser {
		if sub == "" {
			return master
		}
		if u, ok := subs[sub]; ok {
			return u
		}
		name := sub
		if b.o.Anonymise {
			name = fmt.Sprintf("sub%d%02d", n, len(subs)+1)
			b.names[sub] = name
		}
		u := &kUser{Name: name}
		subs[sub] = u
		subOrder = append(subOrder, sub)
		return u
	}
	exported := false
	for i, k := range a.keys {
		u := master
		if k.Sub {
			u = user(k.Owner)
		}
		key := kKey{APIKey: randString(24, hexDigits), Secret: randString(32, hexDigits), Passphrase: randString(16, alnum),
			Version: 3, Permission: strings.Join(k.Permissions, ","), Remark: k.Label}
		if key.Permission == "" {
			key.Permission = "General"
		}
		if b.o.Anonymise && k.Label != "" {
			key.Remark = fmt.Sprintf("key-%d-%d", n, i+1)
		}
		if k.IPRestricted {
			key.IPWhitelist = k.IPs
			if !k.Sub {
				key.IPWhitelist = withLoopback(k.IPs)
			}
		}
		switch {
		case !k.Sub && !exported:
			key.Export, exported = ptr(true), true
		case !k.Sub:
			key.Export = ptr(false)
		case a.noPass[k.APIKey] || a.noPass[secret.Mask(k.APIKey)]:
			// The run had no passphrase for it: neither has the rehearsal.
			key.Export = ptr(false)
		default:
			key.Export = ptr(true)
		}
		u.Keys = append(u.Keys, key)
		b.sum.Keys++
	}
	if !exported {
		master.Keys = append([]kKey{{APIKey: randString(24, hexDigits), Secret: randString(32, hexDigits), Passphrase: randString(16, alnum),
			Version: 3, Permission: "General,Spot,Margin,Futures", IPWhitelist: loopbackIPs, Export: ptr(true)}}, master.Keys...)
		b.sum.Notes = append(b.sum.Notes, fmt.Sprintf("account %s: no key inventory recorded; a read/trade key was made up", a.name))
		b.sum.Keys++
	}

	if s := a.snapshot; s != nil {
		for _, bal := range s.Balances {
			u := user(bal.Sub)
			total, locked := dec(bal.Total), dec(bal.Locked)
			if total == "" {
				total = dec(bal.Free)
			}
			if isZero(total) && isZero(bal.Borrowed) {
				continue
			}
			if u.Balances == nil {
				u.Balances = &kBalances{}
			}
			kb := kBal{Balance: total, Holds: nonZero(locked)}
			km := kMargin{Total: total, Hold: nonZero(locked), Liability: nonZero(dec(bal.Borrowed))}
			switch w := bal.Wallet; {
			case w == "main":
				u.Balances.Main = setK(u.Balances.Main, bal.Asset, kb)
			case w == "trade":
				u.Balances.Trade = setK(u.Balances.Trade, bal.Asset, kb)
			case w == "trade_hf":
				u.Balances.TradeHF = setK(u.Balances.TradeHF, bal.Asset, kb)
			case w == "margin":
				if u.Balances.Margin == nil {
					u.Balances.Margin = map[string]kMargin{}
				}
				u.Balances.Margin[bal.Asset] = km
			case strings.HasPrefix(w, "isolated_margin:") || strings.HasPrefix(w, "isolated:"):
				sym := w[strings.IndexByte(w, ':')+1:]
				if u.Balances.Isolated == nil {
					u.Balances.Isolated = map[string]*kIso{}
				}
				iso := u.Balances.Isolated[sym]
				if iso == nil {
					iso = &kIso{}
					u.Balances.Isolated[sym] = iso
				}
				if strings.HasPrefix(sym, bal.Asset+"-") {
					iso.Base = &km
				} else {
					iso.Quote = &km
				}
			case w == "futures":
				if u.Futures == nil {
					u.Futures = &kFutures{}
				}
				if u.Futures.Accounts == nil {
					u.Futures.Accounts = map[string]kFutAcct{}
				}
				u.Futures.Accounts[bal.Asset] = kFutAcct{Balance: total, PositionMargin: nonZero(locked)}
			}
		}
		for _, p := range s.Positions {
			if p.Product != executors.ProductFutures || isZero(p.Size) {
				continue
			}
			u := user(p.Sub)
			if u.Futures == nil {
				u.Futures = &kFutures{}
			}
			u.Futures.Positions = append(u.Futures.Positions, kPosition{Symbol: p.Symbol, Qty: intOrString(dec(p.Size)),
				EntryPrice: dec(p.EntryPrice), MarkPrice: dec(p.MarkPrice)})
			b.sum.Positions++
		}
	}

	orders := a.orders
	if !a.haveOrders {
		for _, c := range a.changes {
			orders = append(orders, executors.Order{Product: c.Product, Symbol: c.Symbol, ID: c.ID, Kind: "limit", Side: "buy", Qty: "1"})
		}
		if len(orders) > 0 {
			b.sum.Notes = append(b.sum.Notes, fmt.Sprintf("account %s: the run recorded its orders' ids only; sides, prices and sizes are made up", a.name))
		}
	}
	b.kucoinOrders(st, master, orders)

	now := b.o.Now()
	for _, w := range a.withdrawals {
		kw := kWithdrawal{ID: w.ID, Currency: w.Asset, Chain: strings.ToLower(w.Network), Amount: dec(w.Amount), Address: w.Address, Status: strings.ToUpper(w.Status)}
		switch kw.Status {
		case "REVIEW", "PROCESSING", "WALLET_PROCESSING", "SUCCESS", "FAILURE":
		default:
			kw.Status = "PROCESSING"
			if !w.Pending {
				kw.Status = "SUCCESS"
			}
		}
		if !w.Created.IsZero() && now.After(w.Created) {
			kw.Age = now.Sub(w.Created).Round(time.Second).String()
		}
		if b.o.Anonymise {
			kw.Address = "T" + randString(33, alnum)
		}
		if kw.Amount == "" {
			continue
		}
		master.Withdrawals = append(master.Withdrawals, kw)
		b.sum.Withdrawals++
	}
	for _, s := range subOrder {
		master.Subs = append(master.Subs, subs[s])
		b.sum.SubAccounts++
	}
	st.Masters = append(st.Masters, master)
}

func setK(m map[string]kBal, asset string, v kBal) map[string]kBal {
	if m == nil {
		m = map[string]kBal{}
	}
	m[asset] = v
	return m
}

// kucoinOrders places the recorded open orders in the state.
func (b *builder) kucoinOrders(st *kState, u *kUser, orders []executors.Order) {
	for _, x := range orders {
		price := dec(x.Price)
		side := strings.ToLower(x.Side)
		if side != "buy" && side != "sell" {
			side = "buy"
		}
		size := dec(x.Qty)
		if size == "" || isZero(size) {
			size = "1"
		}
		if price == "" || isZero(price) {
			price = "1"
		}
		o := kOrder{ID: x.ID, Symbol: x.Symbol, Side: side, Price: price, Size: size}
		switch x.Product {
		case executors.ProductSpot, executors.ProductMargin, executors.ProductIsolatedMargin:
			if _, ok := st.Prices[x.Symbol]; !ok && x.Product == executors.ProductSpot {
				st.Prices[x.Symbol] = price
			}
			if u.Orders == nil {
				u.Orders = &kOrders{}
			}
			tt := ""
			switch x.Product {
			case executors.ProductMargin:
				tt = "MARGIN_TRADE"
			case executors.ProductIsolatedMargin:
				tt = "MARGIN_ISOLATED_TRADE"
			}
			switch {
			case x.Kind == "oco":
				o.ID = "" // the legs get generated ids
				f, _ := strconv.ParseFloat(price, 64)
				if side == "sell" {
					o.StopPrice, o.LimitPrice = trim(f*0.8), trim(f*0.79)
				} else {
					o.StopPrice, o.LimitPrice = trim(f*1.2), trim(f*1.21)
				}
				u.Orders.OCO = append(u.Orders.OCO, o)
			case strings.Contains(x.Kind, "stop"):
				o.StopPrice, o.Stop, o.TradeType = price, "loss", tt
				if side == "buy" {
					o.Stop = "entry"
				}
				u.Orders.Stop = append(u.Orders.Stop, o)
			case tt != "":
				o.TradeType = tt
				u.Orders.MarginHF = append(u.Orders.MarginHF, o)
			default:
				u.Orders.HF = append(u.Orders.HF, o)
			}
		case executors.ProductFutures:
			if u.Futures == nil {
				u.Futures = &kFutures{}
			}
			o.Size = intOrString(size)
			if strings.Contains(x.Kind, "stop") {
				o.StopPrice, o.Stop = price, "down"
				if side == "buy" {
					o.Stop = "up"
				}
				u.Futures.StopOrders = append(u.Futures.StopOrders, o)
			} else {
				u.Futures.Orders = append(u.Futures.Orders, o)
			}
		default:
			continue
		}
		b.sum.Orders[x.Product]++
	}
}

func trim(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
