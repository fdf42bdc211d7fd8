package binance

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ---- YAML schema (see ../STATE.md) ----

type stateYAML struct {
	Limits   limitsYAML     `yaml:"limits"`
	Prices   map[string]Num `yaml:"prices"`
	Accounts []yaml.Node    `yaml:"accounts"`
}

type limitsYAML struct {
	APIWeight1M    int    `yaml:"api_weight_1m"`
	FAPIWeight1M   int    `yaml:"fapi_weight_1m"`
	DAPIWeight1M   int    `yaml:"dapi_weight_1m"`
	SAPIIPWeight   int    `yaml:"sapi_ip_weight_1m"`
	SAPIUIDWeight  int    `yaml:"sapi_uid_weight_1m"`
	SAPIUIDWeight1 int    `yaml:"sapi_uid_weight_1s"`
	Ban            string `yaml:"ban"`
	MaxBan         string `yaml:"max_ban"`
	// Order-rate limits per account (Binance's ORDERS rate limits).
	SpotOrders10S    int `yaml:"spot_orders_10s"`
	SpotOrders1D     int `yaml:"spot_orders_1d"`
	FuturesOrders10S int `yaml:"futures_orders_10s"`
	FuturesOrders1M  int `yaml:"futures_orders_1m"`
}

type accountYAML struct {
	Name        string                 `yaml:"name"`
	Email       string                 `yaml:"email"`
	UID         int64                  `yaml:"uid"`
	Master      bool                   `yaml:"master"`
	Parent      string                 `yaml:"parent"`
	Created     When                   `yaml:"created"`
	Frozen      bool                   `yaml:"frozen"`
	Remark      string                 `yaml:"remark"`
	Keys        []yaml.Node            `yaml:"keys"`
	Spot        map[string]yaml.Node   `yaml:"spot"`
	Funding     map[string]yaml.Node   `yaml:"funding"`
	Margin      map[string]yaml.Node   `yaml:"margin"`
	Isolated    map[string]isoPairYAML `yaml:"isolated"`
	USDM        map[string]Num         `yaml:"usdm"`
	COINM       map[string]Num         `yaml:"coinm"`
	DualSide    bool                   `yaml:"usdm_dual_side"`
	COINMDual   bool                   `yaml:"coinm_dual_side"`
	Orders      ordersYAML             `yaml:"orders"`
	Positions   positionsYAML          `yaml:"positions"`
	Withdrawals []withdrawalYAML       `yaml:"withdrawals"`
	// WithdrawWhitelist turns the account's withdrawal whitelist on: API
	// withdrawals may then go only to these addresses.
	WithdrawWhitelist []string    `yaml:"withdraw_whitelist"`
	Trades            []tradeYAML `yaml:"trades"`
	// MarginEnabled and FuturesEnabled turn margin / futures on (GET
	// /sapi/v1/sub-account/status) for an account the state gives no such
	// wallet, order or position.
	MarginEnabled  bool `yaml:"margin_enabled"`
	FuturesEnabled bool `yaml:"futures_enabled"`
}

type keyYAML struct {
	APIKey      string   `yaml:"api_key"`
	Type        string   `yaml:"type"`
	Secret      string   `yaml:"secret"`
	PrivateKey  string   `yaml:"private_key"`
	PublicKey   string   `yaml:"public_key"`
	Permissions []string `yaml:"permissions"`
	IPRestrict  *bool    `yaml:"ip_restrict"`
	IPs         []string `yaml:"ips"`
	Label       string   `yaml:"label"`
	Created     When     `yaml:"created"`
	Export      *bool    `yaml:"export"`
}

type balYAML struct {
	Free     Num `yaml:"free"`
	Locked   Num `yaml:"locked"`
	Borrowed Num `yaml:"borrowed"`
	Interest Num `yaml:"interest"`
}

type isoPairYAML struct {
	Base  balYAML `yaml:"base"`
	Quote balYAML `yaml:"quote"`
}

type ordersYAML struct {
	Spot      []orderYAML     `yaml:"spot"`
	SpotLists []orderListYAML `yaml:"spot_lists"`
	Margin    []orderYAML     `yaml:"margin"`
	Isolated  []orderYAML     `yaml:"isolated"`
	USDM      []orderYAML     `yaml:"usdm"`
	USDMAlgo  []orderYAML     `yaml:"usdm_algo"`
	COINM     []orderYAML     `yaml:"coinm"`
}

type orderYAML struct {
	ID           int64  `yaml:"id"`
	ClientID     string `yaml:"client_id"`
	Symbol       string `yaml:"symbol"`
	Side         string `yaml:"side"`
	Type         string `yaml:"type"`
	Price        Num    `yaml:"price"`
	Qty          Num    `yaml:"qty"`
	Executed     Num    `yaml:"executed"`
	StopPrice    Num    `yaml:"stop_price"`
	TIF          string `yaml:"tif"`
	PositionSide string `yaml:"position_side"`
	ReduceOnly   bool   `yaml:"reduce_only"`
	Time         When   `yaml:"time"`
}

type orderListYAML struct {
	ID             int64  `yaml:"id"`
	ClientID       string `yaml:"client_id"`
	Symbol         string `yaml:"symbol"`
	Side           string `yaml:"side"`
	Qty            Num    `yaml:"qty"`
	Price          Num    `yaml:"price"`
	StopPrice      Num    `yaml:"stop_price"`
	StopLimitPrice Num    `yaml:"stop_limit_price"`
	Time           When   `yaml:"time"`
}

type positionsYAML struct {
	USDM  []positionYAML `yaml:"usdm"`
	COINM []positionYAML `yaml:"coinm"`
}

type positionYAML struct {
	Symbol     string `yaml:"symbol"`
	Side       string `yaml:"side"`
	Amount     Num    `yaml:"amount"`
	EntryPrice Num    `yaml:"entry_price"`
	MarkPrice  Num    `yaml:"mark_price"`
	Leverage   int    `yaml:"leverage"`
	Isolated   bool   `yaml:"isolated"`
}

type withdrawalYAML struct {
	ID              string `yaml:"id"`
	Coin            string `yaml:"coin"`
	Network         string `yaml:"network"`
	Amount          Num    `yaml:"amount"`
	Fee             Num    `yaml:"fee"`
	Address         string `yaml:"address"`
	TxID            string `yaml:"tx_id"`
	Status          string `yaml:"status"`
	WithdrawOrderID string `yaml:"withdraw_order_id"`
	Applied         When   `yaml:"applied"`
	Completed       When   `yaml:"completed"`
}

type tradeYAML struct {
	ID              int64  `yaml:"id"`
	Product         string `yaml:"product"`
	Symbol          string `yaml:"symbol"`
	Side            string `yaml:"side"`
	Price           Num    `yaml:"price"`
	Qty             Num    `yaml:"qty"`
	Commission      Num    `yaml:"commission"`
	CommissionAsset string `yaml:"commission_asset"`
	OrderID         int64  `yaml:"order_id"`
	Maker           bool   `yaml:"maker"`
	Time            When   `yaml:"time"`
}

// ---- runtime model ----

// Permission names used in the state and checked per endpoint.
const (
	permReading           = "reading"
	permSpot              = "spot"    // Enable Spot & Margin Trading
	permMargin            = "margin"  // Enable Margin Loan, Repay & Transfer
	permFutures           = "futures" // Enable Futures
	permWithdrawals       = "withdrawals"
	permInternalTransfer  = "internal_transfer"
	permUniversalTransfer = "universal_transfer"
	permOptions           = "options"
)

var allPerms = []string{permReading, permSpot, permMargin, permFutures, permWithdrawals, permInternalTransfer, permUniversalTransfer, permOptions}

type key struct {
	APIKey     string
	Type       string // hmac | ed25519 | rsa
	Secret     string
	PrivateKey string
	PublicKey  string
	pub        crypto.PublicKey
	Perms      map[string]bool
	IPRestrict bool
	IPs        []string
	Label      string
	Created    time.Time
	Updated    time.Time
	Export     bool
	exportSet  bool
	account    *account
}

type bal struct {
	Free, Locked, Borrowed, Interest float64
}

type isoPair struct {
	Symbol      string
	Base, Quote string
	BaseBal     bal
	QuoteBal    bal
}

type order struct {
	ID           int64
	ListID       int64 // -1 when not in a list
	ClientID     string
	Symbol       string
	Side         string
	Type         string
	Price        float64
	Qty          float64
	Executed     float64
	StopPrice    float64
	TIF          string
	PositionSide string
	ReduceOnly   bool
	Isolated     bool
	Time         time.Time

	// Set for orders placed through the API.
	Status   string    // final status once closed (FILLED, CANCELED, EXPIRED)
	Updated  time.Time // last change
	CumQuote float64   // quote (spot) or base (COIN-M) amount executed
	lockBal  *bal      // the balance the order's funds are locked in
	lockAmt  float64   // how much of lockBal.Locked is this order's
	product  string    // spot | margin | isolated | usdm | usdm_algo | coinm, once closed
}

type orderList struct {
	ID       int64
	ClientID string
	Symbol   string
	Time     time.Time
	Orders   []*order
	lockBal  *bal    // the list's legs share one lock
	lockAmt  float64 // how much of lockBal.Locked is the list's
}

type position struct {
	Symbol     string
	Side       string // BOTH | LONG | SHORT
	Amount     float64
	EntryPrice float64
	MarkPrice  float64
	Leverage   int
	Isolated   bool
	Updated    time.Time
}

type withdrawal struct {
	ID              string
	Coin            string
	Network         string
	Amount          float64
	Fee             float64
	Address         string
	TxID            string
	Status          int
	WithdrawOrderID string
	Applied         time.Time
	Completed       time.Time
	// Set for withdrawals requested through the API: the status advances
	// on the emulator clock (processing, then completed at Completed).
	auto bool
}

type trade struct {
	ID              int64
	Product         string
	Symbol          string
	Side            string
	Price           float64
	Qty             float64
	Commission      float64
	CommissionAsset string
	OrderID         int64
	Maker           bool
	Time            time.Time
}

type countdown struct {
	Product  string // usdm | coinm
	Symbol   string
	Deadline time.Time
}

type account struct {
	Name      string
	Email     string
	UID       int64
	Master    bool
	Parent    *account
	Created   time.Time
	Frozen    bool
	Remark    string
	Keys      []*key
	Spot      map[string]*bal
	Funding   map[string]*bal
	Margin    map[string]*bal
	Isolated  map[string]*isoPair
	USDM      map[string]float64
	COINM     map[string]float64
	DualUSDM  bool
	DualCOINM bool
	MarginOn  bool // margin enabled without a margin wallet (margin_enabled)
	FuturesOn bool // futures enabled without a futures wallet (futures_enabled)

	SpotOrders     []*order
	SpotLists      []*orderList
	MarginOrders   []*order
	IsolatedOrders []*order
	USDMOrders     []*order
	AlgoOrders     []*order
	COINMOrders    []*order
	USDMPositions  []*position
	COINMPositions []*position
	Withdrawals    []*withdrawal
	Trades         []*trade
	Countdowns     map[string]*countdown
	Whitelist      []string // withdrawal whitelist; nil = off
	// Closed holds orders placed through the API once they are filled,
	// cancelled or expired, so GET /api/v3/order still finds them.
	Closed []*order
}

// limits are the weight budgets per window.
type limits struct {
	API, FAPI, DAPI int
	SAPIIP, SAPIUID int
	SAPIUID1S       int
	Ban, MaxBan     time.Duration
	SpotOrders10S   int
	SpotOrders1D    int
	FutOrders10S    int
	FutOrders1M     int
}

type state struct {
	limits   limits
	prices   map[string]float64
	accounts []*account
	byName   map[string]*account
	byEmail  map[string]*account
	keys     map[string]*key
	nextID   int64
	nextTran int64
	// symbols caches each product's symbol set (symbolSet).
	symbols [symKinds]map[string]bool
}

// The products whose symbol sets state.symbols caches.
const (
	symSpot = iota
	symUSDM
	symCOINM
	symKinds
)

// symbolSet returns the cached symbol set of one product, computing it on
// first use (parseState fills every set before the state is shared). The set only grows from the state file: every order placed
// over the API names a symbol already in it (requiredSymbol), so its
// fills and positions do too, and prices are fixed at load. Computing it
// per request walked every account's orders under the venue's lock, and
// at a few hundred cancels a second that walk was the emulator's largest
// cost (it serialised every request behind it). Callers must not modify
// the map.
func (st *state) symbolSet(kind int, compute func() map[string]bool) map[string]bool {
	if st.symbols[kind] == nil {
		st.symbols[kind] = compute()
	}
	return st.symbols[kind]
}

var (
	nameRE   = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]*$`)
	apiKeyRE = regexp.MustCompile(`^[A-Za-z0-9]{8,128}$`)
	symbolRE = regexp.MustCompile(`^[A-Z0-9]{2,20}(_[A-Z0-9]+)?$`)
)

var withdrawStatus = map[string]int{
	"email_sent": 0, "cancelled": 1, "awaiting_approval": 2, "rejected": 3,
	"processing": 4, "failure": 5, "completed": 6,
}

// parseState builds the state from the venue's YAML node.
func parseState(file string, node *yaml.Node, now time.Time) (*state, error) {
	var sy stateYAML
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		node = &yaml.Node{Kind: yaml.MappingNode}
	}
	if err := decodeStrict(file, node, &sy); err != nil {
		return nil, err
	}
	st := &state{
		prices:   map[string]float64{},
		byName:   map[string]*account{},
		byEmail:  map[string]*account{},
		keys:     map[string]*key{},
		nextID:   1000001,
		nextTran: 90000001,
	}
	lim, err := parseLimits(file, node, sy.Limits)
	if err != nil {
		return nil, err
	}
	st.limits = lim
	for sym, p := range sy.Prices {
		if !symbolRE.MatchString(sym) {
			return nil, errAt(file, findKey(node, "prices"), "prices: %q is not a symbol (like BTCUSDT or BTCUSD_PERP)", sym)
		}
		if p <= 0 {
			return nil, errAt(file, findKey(node, "prices"), "prices: %s must be positive", sym)
		}
		st.prices[sym] = float64(p)
	}
	type pending struct {
		a      *account
		parent string
		node   *yaml.Node
	}
	var subs []pending
	nextUID := int64(354937000)
	for i := range sy.Accounts {
		an := &sy.Accounts[i]
		var ay accountYAML
		if err := decodeStrict(file, an, &ay); err != nil {
			return nil, err
		}
		if ay.Name == "" {
			return nil, errAt(file, an, "account: name is required")
		}
		if !nameRE.MatchString(ay.Name) {
			return nil, errAt(file, findKey(an, "name"), "account name %q may hold only letters, digits, '.', '_' and '-'", ay.Name)
		}
		if st.byName[ay.Name] != nil {
			return nil, errAt(file, findKey(an, "name"), "duplicate account name %q", ay.Name)
		}
		if ay.Master && ay.Parent != "" {
			return nil, errAt(file, findKey(an, "parent"), "account %s: a master has no parent", ay.Name)
		}
		if !ay.Master && ay.Parent == "" {
			return nil, errAt(file, an, "account %s: set master: true, or parent: <master account name> for a sub-account", ay.Name)
		}
		nextUID += 1117
		a := &account{
			Name: ay.Name, Email: ay.Email, UID: ay.UID, Master: ay.Master,
			Created: ay.Created.at(now, now.Add(-400*24*time.Hour)), Frozen: ay.Frozen, Remark: ay.Remark,
			Spot: map[string]*bal{}, Funding: map[string]*bal{}, Margin: map[string]*bal{},
			Isolated: map[string]*isoPair{}, USDM: map[string]float64{}, COINM: map[string]float64{},
			DualUSDM: ay.DualSide, DualCOINM: ay.COINMDual, MarginOn: ay.MarginEnabled, FuturesOn: ay.FuturesEnabled, Countdowns: map[string]*countdown{},
			Whitelist: ay.WithdrawWhitelist,
		}
		if a.UID == 0 {
			a.UID = nextUID
		}
		if a.Email == "" {
			if a.Master {
				a.Email = a.Name + "@example.com"
			} else {
				a.Email = a.Name + "_virtual@" + strings.ToLower(ay.Parent) + ".example.com"
			}
		}
		if other := st.byEmail[a.Email]; other != nil {
			return nil, errAt(file, findKey(an, "email"), "account %s: email %q is already used by %s", a.Name, a.Email, other.Name)
		}
		st.byName[a.Name] = a
		st.byEmail[a.Email] = a
		st.accounts = append(st.accounts, a)
		if !a.Master {
			subs = append(subs, pending{a: a, parent: ay.Parent, node: an})
		}
		for ki := range ay.Keys {
			k, err := parseKey(file, &ay.Keys[ki], now)
			if err != nil {
				return nil, err
			}
			if st.keys[k.APIKey] != nil {
				return nil, errAt(file, findKey(&ay.Keys[ki], "api_key"), "account %s: api_key is already used by another key", a.Name)
			}
			k.account = a
			st.keys[k.APIKey] = k
			a.Keys = append(a.Keys, k)
		}
		if err := parseBalances(file, an, "spot", ay.Spot, a.Spot); err != nil {
			return nil, err
		}
		if err := parseBalances(file, an, "funding", ay.Funding, a.Funding); err != nil {
			return nil, err
		}
		if err := parseBalances(file, an, "margin", ay.Margin, a.Margin); err != nil {
			return nil, err
		}
		for sym, p := range ay.Isolated {
			base, quote, ok := splitSymbol(sym)
			if !ok {
				return nil, errAt(file, findKey(an, "isolated"), "isolated: cannot tell the base and quote assets of %q", sym)
			}
			a.Isolated[sym] = &isoPair{Symbol: sym, Base: base, Quote: quote,
				BaseBal:  bal{Free: float64(p.Base.Free), Locked: float64(p.Base.Locked), Borrowed: float64(p.Base.Borrowed), Interest: float64(p.Base.Interest)},
				QuoteBal: bal{Free: float64(p.Quote.Free), Locked: float64(p.Quote.Locked), Borrowed: float64(p.Quote.Borrowed), Interest: float64(p.Quote.Interest)}}
		}
		for asset, v := range ay.USDM {
			a.USDM[asset] = float64(v)
		}
		for asset, v := range ay.COINM {
			a.COINM[asset] = float64(v)
		}
		ordersNode := findValue(an, "orders")
		mk := func(list []orderYAML, product string, field string) ([]*order, error) {
			var out []*order
			listNode := findValue(ordersNode, field)
			for i, oy := range list {
				on := itemAt(listNode, i)
				o, err := st.buildOrder(file, on, oy, product, now, len(out))
				if err != nil {
					return nil, err
				}
				out = append(out, o)
			}
			return out, nil
		}
		if a.SpotOrders, err = mk(ay.Orders.Spot, "spot", "spot"); err != nil {
			return nil, err
		}
		if a.MarginOrders, err = mk(ay.Orders.Margin, "margin", "margin"); err != nil {
			return nil, err
		}
		if a.IsolatedOrders, err = mk(ay.Orders.Isolated, "isolated", "isolated"); err != nil {
			return nil, err
		}
		for _, o := range a.IsolatedOrders {
			o.Isolated = true
		}
		if a.USDMOrders, err = mk(ay.Orders.USDM, "usdm", "usdm"); err != nil {
			return nil, err
		}
		if a.AlgoOrders, err = mk(ay.Orders.USDMAlgo, "usdm_algo", "usdm_algo"); err != nil {
			return nil, err
		}
		if a.COINMOrders, err = mk(ay.Orders.COINM, "coinm", "coinm"); err != nil {
			return nil, err
		}
		listsNode := findValue(ordersNode, "spot_lists")
		for i, ly := range ay.Orders.SpotLists {
			ln := itemAt(listsNode, i)
			l, err := st.buildOrderList(file, ln, ly, now, i)
			if err != nil {
				return nil, err
			}
			a.SpotLists = append(a.SpotLists, l)
		}
		posNode := findValue(an, "positions")
		for _, pp := range []struct {
			list  []positionYAML
			field string
			dual  bool
			dst   *[]*position
		}{{ay.Positions.USDM, "usdm", a.DualUSDM, &a.USDMPositions}, {ay.Positions.COINM, "coinm", a.DualCOINM, &a.COINMPositions}} {
			pn := findValue(posNode, pp.field)
			for i, py := range pp.list {
				n := itemAt(pn, i)
				p, err := st.buildPosition(file, n, py, pp.field, pp.dual, now)
				if err != nil {
					return nil, err
				}
				*pp.dst = append(*pp.dst, p)
			}
		}
		wn := findValue(an, "withdrawals")
		for i, wy := range ay.Withdrawals {
			n := itemAt(wn, i)
			w, err := buildWithdrawal(file, n, wy, now, a, i)
			if err != nil {
				return nil, err
			}
			a.Withdrawals = append(a.Withdrawals, w)
		}
		tn := findValue(an, "trades")
		for i, ty := range ay.Trades {
			n := itemAt(tn, i)
			t, err := st.buildTrade(file, n, ty, now, i)
			if err != nil {
				return nil, err
			}
			a.Trades = append(a.Trades, t)
		}
	}
	for _, p := range subs {
		parent := st.byName[p.parent]
		if parent == nil {
			return nil, errAt(file, findKey(p.node, "parent"), "account %s: parent %q is not an account in this state", p.a.Name, p.parent)
		}
		if !parent.Master {
			return nil, errAt(file, findKey(p.node, "parent"), "account %s: parent %q is not a master account", p.a.Name, p.parent)
		}
		p.a.Parent = parent
	}
	// Fill the symbol caches now, while nothing else can read the state.
	st.spotSymbols()
	st.usdmSymbols()
	st.coinmSymbols()
	return st, nil
}

func parseLimits(file string, node *yaml.Node, ly limitsYAML) (limits, error) {
	l := limits{API: 6000, FAPI: 2400, DAPI: 2400, SAPIIP: 12000, SAPIUID: 180000, SAPIUID1S: 180000,
		Ban: 2 * time.Minute, MaxBan: 72 * time.Hour,
		SpotOrders10S: 100, SpotOrders1D: 200000, FutOrders10S: 300, FutOrders1M: 1200}
	set := func(dst *int, v int) {
		if v > 0 {
			*dst = v
		}
	}
	set(&l.API, ly.APIWeight1M)
	set(&l.FAPI, ly.FAPIWeight1M)
	set(&l.DAPI, ly.DAPIWeight1M)
	set(&l.SAPIIP, ly.SAPIIPWeight)
	set(&l.SAPIUID, ly.SAPIUIDWeight)
	set(&l.SAPIUID1S, ly.SAPIUIDWeight1)
	set(&l.SpotOrders10S, ly.SpotOrders10S)
	set(&l.SpotOrders1D, ly.SpotOrders1D)
	set(&l.FutOrders10S, ly.FuturesOrders10S)
	set(&l.FutOrders1M, ly.FuturesOrders1M)
	ln := findValue(node, "limits")
	for _, d := range []struct {
		s   string
		f   string
		dst *time.Duration
	}{{ly.Ban, "ban", &l.Ban}, {ly.MaxBan, "max_ban", &l.MaxBan}} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil || v <= 0 {
			return l, errAt(file, findValue(ln, d.f), "limits: %s %q is not a positive duration", d.f, d.s)
		}
		*d.dst = v
	}
	return l, nil
}

func parseKey(file string, n *yaml.Node, now time.Time) (*key, error) {
	var ky keyYAML
	if err := decodeStrict(file, n, &ky); err != nil {
		return nil, err
	}
	if ky.APIKey == "" {
		return nil, errAt(file, n, "key: api_key is required")
	}
	if !apiKeyRE.MatchString(ky.APIKey) {
		return nil, errAt(file, findValue(n, "api_key"), "key: api_key must be 8 to 128 letters and digits")
	}
	k := &key{APIKey: ky.APIKey, Type: strings.ToLower(ky.Type), Label: ky.Label, Perms: map[string]bool{},
		IPs: ky.IPs, Export: true}
	if k.Type == "" {
		k.Type = "hmac"
	}
	k.Created = ky.Created.at(now, now.Add(-90*24*time.Hour))
	k.Updated = k.Created
	if ky.Export != nil {
		k.Export, k.exportSet = *ky.Export, true
	}
	if k.Label == "" {
		k.Label = "key-" + ky.APIKey[:6]
	}
	switch k.Type {
	case "hmac":
		if ky.Secret == "" {
			return nil, errAt(file, n, "key %s: an hmac key needs a secret", maskKey(ky.APIKey))
		}
		if ky.PrivateKey != "" || ky.PublicKey != "" {
			return nil, errAt(file, n, "key %s: an hmac key has a secret, not private_key/public_key", maskKey(ky.APIKey))
		}
		k.Secret = ky.Secret
	case "ed25519", "rsa":
		if ky.Secret != "" {
			return nil, errAt(file, findKey(n, "secret"), "key %s: a %s key has private_key/public_key, not secret", maskKey(ky.APIKey), k.Type)
		}
		if ky.PublicKey == "" && ky.PrivateKey == "" {
			return nil, errAt(file, n, "key %s: a %s key needs public_key (and private_key to export it)", maskKey(ky.APIKey), k.Type)
		}
		pub, err := parseKeyPair(k.Type, ky.PrivateKey, ky.PublicKey)
		if err != nil {
			return nil, errAt(file, n, "key %s: %v", maskKey(ky.APIKey), err)
		}
		k.pub, k.PrivateKey, k.PublicKey = pub, ky.PrivateKey, ky.PublicKey
	default:
		return nil, errAt(file, findValue(n, "type"), "key %s: type %q is not hmac, ed25519 or rsa", maskKey(ky.APIKey), ky.Type)
	}
	perms := ky.Permissions
	if perms == nil {
		perms = []string{permReading}
	}
	for _, p := range perms {
		p = strings.ToLower(p)
		if !contains(allPerms, p) {
			return nil, errAt(file, findValue(n, "permissions"), "key %s: unknown permission %q (want: %s)", maskKey(ky.APIKey), p, strings.Join(allPerms, ", "))
		}
		k.Perms[p] = true
	}
	if ky.IPRestrict != nil {
		k.IPRestrict = *ky.IPRestrict
	} else {
		k.IPRestrict = len(ky.IPs) > 0
	}
	for _, ip := range ky.IPs {
		if net.ParseIP(ip) == nil {
			return nil, errAt(file, findValue(n, "ips"), "key %s: %q is not an IP address", maskKey(ky.APIKey), ip)
		}
	}
	if k.IPRestrict && len(k.IPs) == 0 {
		return nil, errAt(file, findKey(n, "ip_restrict"), "key %s: ip_restrict needs ips", maskKey(ky.APIKey))
	}
	return k, nil
}

// parseKeyPair returns the public key to verify with, from the public key
// PEM or derived from the private key; both must agree when both are given.
func parseKeyPair(typ, privPEM, pubPEM string) (crypto.PublicKey, error) {
	var fromPriv, fromPub crypto.PublicKey
	if privPEM != "" {
		b, _ := pem.Decode([]byte(privPEM))
		if b == nil {
			return nil, fmt.Errorf("private_key is not PEM")
		}
		var priv any
		var err error
		if b.Type == "RSA PRIVATE KEY" {
			priv, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		} else {
			priv, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		}
		if err != nil {
			return nil, fmt.Errorf("private_key: %w", err)
		}
		switch p := priv.(type) {
		case ed25519.PrivateKey:
			fromPriv = p.Public()
		case *rsa.PrivateKey:
			fromPriv = &p.PublicKey
		}
	}
	if pubPEM != "" {
		b, _ := pem.Decode([]byte(pubPEM))
		if b == nil {
			return nil, fmt.Errorf("public_key is not PEM")
		}
		var err error
		if b.Type == "RSA PUBLIC KEY" {
			fromPub, err = x509.ParsePKCS1PublicKey(b.Bytes)
		} else {
			fromPub, err = x509.ParsePKIXPublicKey(b.Bytes)
		}
		if err != nil {
			return nil, fmt.Errorf("public_key: %w", err)
		}
	}
	pub := fromPub
	if pub == nil {
		pub = fromPriv
	}
	switch p := pub.(type) {
	case ed25519.PublicKey:
		if typ != "ed25519" {
			return nil, fmt.Errorf("the key material is ed25519 but type is %s", typ)
		}
		if fp, ok := fromPriv.(ed25519.PublicKey); ok && !fp.Equal(p) {
			return nil, fmt.Errorf("private_key and public_key do not match")
		}
	case *rsa.PublicKey:
		if typ != "rsa" {
			return nil, fmt.Errorf("the key material is rsa but type is %s", typ)
		}
		if fp, ok := fromPriv.(*rsa.PublicKey); ok && !fp.Equal(p) {
			return nil, fmt.Errorf("private_key and public_key do not match")
		}
	default:
		return nil, fmt.Errorf("unsupported key material (want ed25519 or rsa PEM)")
	}
	return pub, nil
}

func parseBalances(file string, an *yaml.Node, field string, in map[string]yaml.Node, out map[string]*bal) error {
	for asset, n := range in {
		n := n
		if !regexp.MustCompile(`^[A-Z0-9]{2,12}$`).MatchString(asset) {
			return errAt(file, findValue(an, field), "%s: %q is not an asset name (like BTC)", field, asset)
		}
		var b balYAML
		if n.Kind == yaml.ScalarNode {
			var v Num
			if err := v.UnmarshalYAML(&n); err != nil {
				return fmt.Errorf("%s:%w", file, trimLine(err))
			}
			b.Free = v
		} else if err := decodeStrict(file, &n, &b); err != nil {
			return err
		}
		if b.Free < 0 || b.Locked < 0 || b.Borrowed < 0 || b.Interest < 0 {
			return errAt(file, &n, "%s: %s amounts must not be negative", field, asset)
		}
		out[asset] = &bal{Free: float64(b.Free), Locked: float64(b.Locked), Borrowed: float64(b.Borrowed), Interest: float64(b.Interest)}
	}
	return nil
}

// trimLine turns "line 3:5: msg" into "3:5: msg".
func trimLine(err error) error {
	return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "line "))
}

func (st *state) id() int64 {
	st.nextID++
	return st.nextID
}

var orderTypes = map[string][]string{
	"spot":      {"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT", "STOP_LOSS", "TAKE_PROFIT"},
	"margin":    {"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT", "STOP_LOSS", "TAKE_PROFIT"},
	"isolated":  {"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT", "STOP_LOSS", "TAKE_PROFIT"},
	"usdm":      {"LIMIT", "STOP", "TAKE_PROFIT", "STOP_MARKET", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"},
	"usdm_algo": {"STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT", "TRAILING_STOP_MARKET"},
	"coinm":     {"LIMIT", "STOP", "TAKE_PROFIT", "STOP_MARKET", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"},
}

func (st *state) buildOrder(file string, n *yaml.Node, oy orderYAML, product string, now time.Time, idx int) (*order, error) {
	if n == nil {
		n = &yaml.Node{}
	}
	if !symbolRE.MatchString(oy.Symbol) {
		return nil, errAt(file, n, "%s order: symbol %q is missing or not a symbol", product, oy.Symbol)
	}
	if product == "coinm" && !strings.Contains(oy.Symbol, "_") {
		return nil, errAt(file, findValue(n, "symbol"), "coinm order: symbol %q must name a contract like BTCUSD_PERP", oy.Symbol)
	}
	if product != "coinm" && strings.Contains(oy.Symbol, "_") {
		return nil, errAt(file, findValue(n, "symbol"), "%s order: symbol %q looks like a COIN-M contract", product, oy.Symbol)
	}
	side := strings.ToUpper(oy.Side)
	if side != "BUY" && side != "SELL" {
		return nil, errAt(file, findValueOr(n, "side"), "%s order: side must be BUY or SELL", product)
	}
	typ := strings.ToUpper(oy.Type)
	if typ == "" {
		typ = "LIMIT"
		if product == "usdm_algo" {
			typ = "STOP_MARKET"
		}
	}
	if !contains(orderTypes[product], typ) {
		return nil, errAt(file, findValue(n, "type"), "%s order: type %q is not one of %s", product, typ, strings.Join(orderTypes[product], ", "))
	}
	if oy.Qty <= 0 {
		return nil, errAt(file, findValueOr(n, "qty"), "%s order: qty must be positive", product)
	}
	needsPrice := !strings.HasSuffix(typ, "MARKET") && typ != "STOP_LOSS" && typ != "TAKE_PROFIT"
	if needsPrice && oy.Price <= 0 {
		return nil, errAt(file, findValueOr(n, "price"), "%s order: a %s order needs a positive price", product, typ)
	}
	needsStop := typ != "LIMIT" && typ != "LIMIT_MAKER"
	if needsStop && oy.StopPrice <= 0 && typ != "TRAILING_STOP_MARKET" {
		return nil, errAt(file, n, "%s order: a %s order needs stop_price", product, typ)
	}
	ps := strings.ToUpper(oy.PositionSide)
	if ps == "" {
		ps = "BOTH"
	}
	if ps != "BOTH" && ps != "LONG" && ps != "SHORT" {
		return nil, errAt(file, findValue(n, "position_side"), "%s order: position_side must be BOTH, LONG or SHORT", product)
	}
	tif := strings.ToUpper(oy.TIF)
	if tif == "" {
		tif = "GTC"
	}
	o := &order{ID: oy.ID, ListID: -1, ClientID: oy.ClientID, Symbol: oy.Symbol, Side: side, Type: typ,
		Price: float64(oy.Price), Qty: float64(oy.Qty), Executed: float64(oy.Executed), StopPrice: float64(oy.StopPrice),
		TIF: tif, PositionSide: ps, ReduceOnly: oy.ReduceOnly,
		Time: oy.Time.at(now, now.Add(-time.Duration(idx+1)*17*time.Minute))}
	if typ == "LIMIT_MAKER" {
		o.TIF = "GTC"
	}
	if o.ID == 0 {
		o.ID = st.id()
	}
	if o.ClientID == "" {
		o.ClientID = clientID(o.ID)
	}
	return o, nil
}

func (st *state) buildOrderList(file string, n *yaml.Node, ly orderListYAML, now time.Time, idx int) (*orderList, error) {
	if n == nil {
		n = &yaml.Node{}
	}
	if !symbolRE.MatchString(ly.Symbol) || strings.Contains(ly.Symbol, "_") {
		return nil, errAt(file, n, "spot order list: symbol %q is missing or not a spot symbol", ly.Symbol)
	}
	side := strings.ToUpper(ly.Side)
	if side != "BUY" && side != "SELL" {
		return nil, errAt(file, findValueOr(n, "side"), "spot order list: side must be BUY or SELL")
	}
	if ly.Qty <= 0 || ly.Price <= 0 || ly.StopPrice <= 0 {
		return nil, errAt(file, n, "spot order list (OCO): qty, price and stop_price must be positive")
	}
	t := ly.Time.at(now, now.Add(-time.Duration(idx+1)*41*time.Minute))
	l := &orderList{ID: ly.ID, ClientID: ly.ClientID, Symbol: ly.Symbol, Time: t}
	if l.ID == 0 {
		l.ID = st.id()
	}
	if l.ClientID == "" {
		l.ClientID = "list" + clientID(l.ID)
	}
	stopLimit := float64(ly.StopLimitPrice)
	stopType := "STOP_LOSS"
	if stopLimit > 0 {
		stopType = "STOP_LOSS_LIMIT"
	}
	// An OCO sell has a LIMIT_MAKER above and a stop below; a buy the reverse.
	stop := &order{ID: st.id(), ListID: l.ID, Symbol: l.Symbol, Side: side, Type: stopType, Price: stopLimit,
		Qty: float64(ly.Qty), StopPrice: float64(ly.StopPrice), TIF: "GTC", PositionSide: "BOTH", Time: t}
	maker := &order{ID: st.id(), ListID: l.ID, Symbol: l.Symbol, Side: side, Type: "LIMIT_MAKER", Price: float64(ly.Price),
		Qty: float64(ly.Qty), TIF: "GTC", PositionSide: "BOTH", Time: t}
	if stopType == "STOP_LOSS" {
		stop.TIF = ""
	}
	stop.ClientID, maker.ClientID = clientID(stop.ID), clientID(maker.ID)
	l.Orders = []*order{stop, maker}
	return l, nil
}

func (st *state) buildPosition(file string, n *yaml.Node, py positionYAML, product string, dual bool, now time.Time) (*position, error) {
	if n == nil {
		n = &yaml.Node{}
	}
	if !symbolRE.MatchString(py.Symbol) {
		return nil, errAt(file, n, "%s position: symbol %q is missing or not a symbol", product, py.Symbol)
	}
	if product == "coinm" && !strings.Contains(py.Symbol, "_") {
		return nil, errAt(file, findValue(n, "symbol"), "coinm position: symbol %q must name a contract like BTCUSD_PERP", py.Symbol)
	}
	side := strings.ToUpper(py.Side)
	if side == "" {
		side = "BOTH"
	}
	switch {
	case dual && side == "BOTH":
		return nil, errAt(file, n, "%s position %s: the account is in hedge mode (dual side): side must be LONG or SHORT", product, py.Symbol)
	case !dual && side != "BOTH":
		return nil, errAt(file, findValue(n, "side"), "%s position %s: the account is in one-way mode: side must be BOTH (or set %s_dual_side: true)", product, py.Symbol, product)
	}
	amt := float64(py.Amount)
	if amt == 0 {
		return nil, errAt(file, n, "%s position %s: amount must not be zero (negative is short)", product, py.Symbol)
	}
	if (side == "LONG" && amt < 0) || (side == "SHORT" && amt > 0) {
		return nil, errAt(file, findValue(n, "amount"), "%s position %s: a %s position's amount has the wrong sign", product, py.Symbol, side)
	}
	p := &position{Symbol: py.Symbol, Side: side, Amount: amt, EntryPrice: float64(py.EntryPrice), MarkPrice: float64(py.MarkPrice),
		Leverage: py.Leverage, Isolated: py.Isolated, Updated: now.Add(-3 * time.Hour)}
	if p.Leverage == 0 {
		p.Leverage = 10
	}
	if p.MarkPrice == 0 {
		p.MarkPrice = st.price(p.Symbol)
	}
	if p.EntryPrice == 0 {
		p.EntryPrice = p.MarkPrice
	}
	if p.MarkPrice == 0 {
		return nil, errAt(file, n, "%s position %s: set mark_price, or a price for %s under prices", product, py.Symbol, py.Symbol)
	}
	return p, nil
}

func buildWithdrawal(file string, n *yaml.Node, wy withdrawalYAML, now time.Time, a *account, idx int) (*withdrawal, error) {
	if n == nil {
		n = &yaml.Node{}
	}
	if wy.Coin == "" || wy.Amount <= 0 {
		return nil, errAt(file, n, "withdrawal: coin and a positive amount are required")
	}
	status := 6
	if wy.Status != "" {
		s, ok := withdrawStatus[strings.ToLower(wy.Status)]
		if !ok {
			return nil, errAt(file, findValue(n, "status"), "withdrawal: status %q is not one of email_sent, cancelled, awaiting_approval, rejected, processing, failure, completed", wy.Status)
		}
		status = s
	}
	w := &withdrawal{ID: wy.ID, Coin: wy.Coin, Network: wy.Network, Amount: float64(wy.Amount), Fee: float64(wy.Fee),
		Address: wy.Address, TxID: wy.TxID, Status: status, WithdrawOrderID: wy.WithdrawOrderID}
	w.Applied = wy.Applied.at(now, now.Add(-time.Duration(idx+1)*26*time.Hour))
	if status == 6 {
		w.Completed = wy.Completed.at(now, w.Applied.Add(4*time.Minute))
	}
	if w.ID == "" {
		w.ID = fmt.Sprintf("%032x", uint64(a.UID)*1000003+uint64(idx)*7919)
	}
	if w.Network == "" {
		w.Network = w.Coin
		if w.Coin == "USDT" || w.Coin == "USDC" {
			w.Network = "ETH"
		}
	}
	if w.Address == "" {
		w.Address = fmt.Sprintf("0x%040x", uint64(a.UID)*31+uint64(idx))
	}
	if w.TxID == "" && status == 6 {
		w.TxID = fmt.Sprintf("0x%064x", uint64(a.UID)*131+uint64(idx))
	}
	return w, nil
}

var tradeProducts = []string{"spot", "margin", "isolated", "usdm", "coinm"}

func (st *state) buildTrade(file string, n *yaml.Node, ty tradeYAML, now time.Time, idx int) (*trade, error) {
	if n == nil {
		n = &yaml.Node{}
	}
	product := ty.Product
	if product == "" {
		product = "spot"
	}
	if !contains(tradeProducts, product) {
		return nil, errAt(file, findValue(n, "product"), "trade: product %q is not one of %s", product, strings.Join(tradeProducts, ", "))
	}
	side := strings.ToUpper(ty.Side)
	if !symbolRE.MatchString(ty.Symbol) || (side != "BUY" && side != "SELL") || ty.Price <= 0 || ty.Qty <= 0 {
		return nil, errAt(file, n, "trade: symbol, side (BUY/SELL), and positive price and qty are required")
	}
	t := &trade{ID: ty.ID, Product: product, Symbol: ty.Symbol, Side: side, Price: float64(ty.Price), Qty: float64(ty.Qty),
		Commission: float64(ty.Commission), CommissionAsset: ty.CommissionAsset, OrderID: ty.OrderID, Maker: ty.Maker,
		Time: ty.Time.at(now, now.Add(-time.Duration(idx+1)*53*time.Minute))}
	if t.ID == 0 {
		t.ID = st.id()
	}
	if t.OrderID == 0 {
		t.OrderID = st.id()
	}
	if t.CommissionAsset == "" {
		if _, q, ok := splitSymbol(strings.Split(t.Symbol, "_")[0]); ok {
			t.CommissionAsset = q
		}
		if product == "coinm" {
			t.CommissionAsset = strings.TrimSuffix(strings.Split(t.Symbol, "_")[0], "USD")
		}
	}
	if t.Commission == 0 {
		t.Commission = t.Price * t.Qty * 0.001
		if product == "coinm" {
			t.Commission = t.Qty * contractSize(t.Symbol) / t.Price * 0.0005
		}
	}
	return t, nil
}

// ---- helpers over the YAML tree ----

func findKey(n *yaml.Node, name string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return n
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == name {
			return n.Content[i]
		}
	}
	return n
}

func findValue(n *yaml.Node, name string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == name {
			return n.Content[i+1]
		}
	}
	return nil
}

// itemAt is the i-th item of the list node n, or nil when there is none.
func itemAt(n *yaml.Node, i int) *yaml.Node {
	if n != nil && i < len(n.Content) {
		return n.Content[i]
	}
	return nil
}

func findValueOr(n *yaml.Node, name string) *yaml.Node {
	if v := findValue(n, name); v != nil {
		return v
	}
	return n
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func maskKey(k string) string {
	if len(k) <= 8 {
		return "****"
	}
	return k[:4] + "…" + k[len(k)-4:]
}

func clientID(id int64) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	x := uint64(id)*2654435761 + 0x9e3779b9
	b := make([]byte, 22)
	for i := range b {
		b[i] = alphabet[x%uint64(len(alphabet))]
		x = x*6364136223846793005 + 1442695040888963407
	}
	return "web_" + string(b)
}

// quoteAssets are tried longest first to split a spot symbol.
var quoteAssets = []string{"FDUSD", "USDT", "USDC", "BUSD", "TUSD", "DAI", "BTC", "ETH", "BNB", "EUR", "TRY", "BRL", "JPY", "USD"}

func splitSymbol(sym string) (base, quote string, ok bool) {
	qs := append([]string(nil), quoteAssets...)
	sort.SliceStable(qs, func(i, j int) bool { return len(qs[i]) > len(qs[j]) })
	for _, q := range qs {
		if strings.HasSuffix(sym, q) && len(sym) > len(q) {
			return strings.TrimSuffix(sym, q), q, true
		}
	}
	return "", "", false
}

// contractSize is the USD value of one COIN-M contract.
func contractSize(sym string) float64 {
	if strings.HasPrefix(sym, "BTC") {
		return 100
	}
	return 10
}

// price returns the state's price of sym (COIN-M contracts fall back to
// the coin's USDT price).
func (st *state) price(sym string) float64 {
	if p, ok := st.prices[sym]; ok {
		return p
	}
	if i := strings.Index(sym, "_"); i > 0 {
		pair := sym[:i]
		if p, ok := st.prices[pair]; ok {
			return p
		}
		if p, ok := st.prices[strings.TrimSuffix(pair, "USD")+"USDT"]; ok {
			return p
		}
	}
	return 0
}

// valueIn converts amount of asset into quote using the state's prices.
func (st *state) valueIn(asset string, amount float64, quote string) float64 {
	if amount == 0 || asset == quote {
		return amount
	}
	if p := st.prices[asset+quote]; p > 0 {
		return amount * p
	}
	if p := st.prices[quote+asset]; p > 0 {
		return amount / p
	}
	usd := st.usdValue(asset, amount)
	if quote == "USDT" {
		return usd
	}
	if p := st.usdValue(quote, 1); p > 0 {
		return usd / p
	}
	return 0
}

func (st *state) usdValue(asset string, amount float64) float64 {
	switch asset {
	case "USDT", "USDC", "FDUSD", "BUSD", "TUSD", "DAI", "USD":
		return amount
	}
	for _, q := range []string{"USDT", "USDC", "FDUSD"} {
		if p := st.prices[asset+q]; p > 0 {
			return amount * p
		}
	}
	if p := st.prices[asset+"BTC"]; p > 0 {
		return amount * p * st.usdValue("BTC", 1)
	}
	return 0
}
