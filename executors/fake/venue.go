// Package fake is an in-memory exchange and its executor driver.
//
// A *Venue holds, per account name, open orders on every product (spot,
// margin, isolated_margin, usdm, coinm; limit, stop, algo and order-list
// kinds), the master key and sub-account keys, balances, futures positions,
// withdrawals, trades and a request log marking every call as read or
// mutation. DriverFor(v) returns an executors.Driver (exchange "fake") whose
// executors act on v, following the executor contract exactly; Driver()
// does the same over a fresh DemoVenue. The venue can inject faults
// (FailNext), latency (SetLatency) and hangs (Hang) for the runner's tests.
package fake

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// Exchange is the driver name of the fake venue.
const Exchange = "fake"

// DefaultClientIP is the address the venue sees the executors' requests
// come from; a key restricted to other IPs is rejected.
const DefaultClientIP = "203.0.113.7"

// Products of the fake venue, in listing order.
var Products = []string{executors.ProductSpot, executors.ProductMargin, executors.ProductIsolatedMargin, executors.ProductUSDM, executors.ProductCoinM}

// Key is an API key held by the venue. ID is the full public id.
type Key struct {
	ID       string
	Label    string
	Trade    bool
	Withdraw bool
	Transfer bool
	// IPs is the key's IP whitelist; empty means unrestricted.
	IPs     []string
	Created time.Time
}

func (k Key) clone() Key { k.IPs = slices.Clone(k.IPs); return k }

// Request is one entry of the venue's request log.
type Request struct {
	Seq      int
	Account  string
	Action   string // the catalog action the executor was performing
	Op       string // what was asked, e.g. "list spot orders", "cancel spot BTCUSDT"
	Mutation bool   // false: a read
	Err      string // the error answered, if any
}

type order struct {
	executors.Order
	pinned bool // cancel requests leave it open
}

type subAccount struct {
	name string
	keys []*Key
}

type account struct {
	name        string
	master      *Key // nil once deleted
	subs        []*subAccount
	orders      []*order
	balances    []executors.Balance
	positions   []executors.Position
	withdrawals []executors.Withdrawal
	trades      []executors.Trade
	deadman     map[string]time.Duration
}

type faultKey struct{ account, action string }

type fault struct {
	n   int
	err error
}

// Venue is an in-memory exchange. It is safe for concurrent use.
type Venue struct {
	mu       sync.Mutex
	accounts map[string]*account
	deleted  map[string]bool // key ids deleted, for rejection reasons
	faults   map[faultKey]*fault
	hangs    map[faultKey]bool
	latency  time.Duration
	clientIP string
	log      []Request
	nextID   int
}

// NewVenue returns an empty venue.
func NewVenue() *Venue {
	return &Venue{
		accounts: map[string]*account{},
		deleted:  map[string]bool{},
		faults:   map[faultKey]*fault{},
		hangs:    map[faultKey]bool{},
		clientIP: DefaultClientIP,
		nextID:   1000,
	}
}

// AddAccount creates (or replaces) the account name whose master key is master.
func (v *Venue) AddAccount(name string, master Key) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m := master.clone()
	v.accounts[name] = &account{name: name, master: &m, deadman: map[string]time.Duration{}}
}

// get returns the named account or panics: seeding an unknown account is a
// bug in the test that does it.
func (v *Venue) get(name string) *account {
	a := v.accounts[name]
	if a == nil {
		panic(fmt.Sprintf("fake: no account %q (call AddAccount first)", name))
	}
	return a
}

// AddSub adds keys to the sub-account sub of account, creating the sub.
func (v *Venue) AddSub(acct, sub string, keys ...Key) {
	v.mu.Lock()
	defer v.mu.Unlock()
	a := v.get(acct)
	var s *subAccount
	for _, x := range a.subs {
		if x.name == sub {
			s = x
		}
	}
	if s == nil {
		s = &subAccount{name: sub}
		a.subs = append(a.subs, s)
		sort.Slice(a.subs, func(i, j int) bool { return a.subs[i].name < a.subs[j].name })
	}
	for _, k := range keys {
		k := k.clone()
		s.keys = append(s.keys, &k)
	}
}

// AddOrders adds open orders to account; an empty ID gets a fresh one.
func (v *Venue) AddOrders(acct string, os ...executors.Order) {
	v.mu.Lock()
	defer v.mu.Unlock()
	a := v.get(acct)
	for _, o := range os {
		if o.ID == "" {
			v.nextID++
			o.ID = strconv.Itoa(v.nextID)
		}
		a.orders = append(a.orders, &order{Order: o})
	}
}

// PinOrders makes cancel requests leave the orders ids of account open, as
// if the venue kept them (or an attacker re-placed them at once).
func (v *Venue) PinOrders(acct string, ids ...string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, o := range v.get(acct).orders {
		if slices.Contains(ids, o.ID) {
			o.pinned = true
		}
	}
}

// AddBalances adds balances to account (Balance.Sub names a sub-account).
func (v *Venue) AddBalances(acct string, bs ...executors.Balance) {
	v.mu.Lock()
	defer v.mu.Unlock()
	a := v.get(acct)
	a.balances = append(a.balances, bs...)
}

// AddPositions adds futures positions to account.
func (v *Venue) AddPositions(acct string, ps ...executors.Position) {
	v.mu.Lock()
	defer v.mu.Unlock()
	a := v.get(acct)
	a.positions = append(a.positions, ps...)
}

// AddWithdrawals adds withdrawals to account.
func (v *Venue) AddWithdrawals(acct string, ws ...executors.Withdrawal) {
	v.mu.Lock()
	defer v.mu.Unlock()
	a := v.get(acct)
	a.withdrawals = append(a.withdrawals, ws...)
}

// AddTrades adds trades to account.
func (v *Venue) AddTrades(acct string, ts ...executors.Trade) {
	v.mu.Lock()
	defer v.mu.Unlock()
	a := v.get(acct)
	a.trades = append(a.trades, ts...)
}

// DeleteMasterKey deletes the master key of account, as a human does in the
// exchange's web UI; every later request of that account is rejected.
func (v *Venue) DeleteMasterKey(acct string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	a := v.get(acct)
	if a.master != nil {
		v.deleted[a.master.ID] = true
		a.master = nil
	}
}

// SetClientIP sets the address the venue sees requests come from.
func (v *Venue) SetClientIP(ip string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.clientIP = ip
}

// FailNext makes the next n requests of action on account fail with err
// (wrapped as ErrTransient when it is not an *executors.Error). For a
// mutating action the fault hits its mutating requests (the intent is
// recorded, the venue is untouched); for a read action its reads.
func (v *Venue) FailNext(acct, action string, n int, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.faults[faultKey{acct, action}] = &fault{n: n, err: err}
}

// SetLatency delays every request by d.
func (v *Venue) SetLatency(d time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.latency = d
}

// Hang makes every request of action on account block until its context is
// done, until ClearFaults.
func (v *Venue) Hang(acct, action string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.hangs[faultKey{acct, action}] = true
}

// ClearFaults removes every fault, hang and latency.
func (v *Venue) ClearFaults() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.faults = map[faultKey]*fault{}
	v.hangs = map[faultKey]bool{}
	v.latency = 0
}

// OpenOrders returns the open orders of account, sorted by product, symbol, id.
func (v *Venue) OpenOrders(acct string) []executors.Order {
	v.mu.Lock()
	defer v.mu.Unlock()
	a := v.accounts[acct]
	if a == nil {
		return nil
	}
	return a.listOrders(nil, nil)
}

// SubKeys returns the full ids of the sub-account keys of account that the
// venue still accepts.
func (v *Venue) SubKeys(acct string) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	a := v.accounts[acct]
	if a == nil {
		return nil
	}
	var out []string
	for _, s := range a.subs {
		for _, k := range s.keys {
			if ok, _ := v.accepts(k); ok {
				out = append(out, k.ID)
			}
		}
	}
	return out
}

// Key returns a copy of the key id of account and the sub-account owning it
// ("" for the master).
func (v *Venue) Key(acct, id string) (k Key, sub string, ok bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	a := v.accounts[acct]
	if a == nil {
		return Key{}, "", false
	}
	if a.master != nil && a.master.ID == id {
		return a.master.clone(), "", true
	}
	for _, s := range a.subs {
		for _, k := range s.keys {
			if k.ID == id {
				return k.clone(), s.name, true
			}
		}
	}
	return Key{}, "", false
}

// Balances returns the balances of account (and its subs).
func (v *Venue) Balances(acct string) []executors.Balance {
	v.mu.Lock()
	defer v.mu.Unlock()
	if a := v.accounts[acct]; a != nil {
		return slices.Clone(a.balances)
	}
	return nil
}

// Positions returns the open positions of account.
func (v *Venue) Positions(acct string) []executors.Position {
	v.mu.Lock()
	defer v.mu.Unlock()
	if a := v.accounts[acct]; a != nil {
		return slices.Clone(a.positions)
	}
	return nil
}

// Withdrawals returns the withdrawals of account.
func (v *Venue) Withdrawals(acct string) []executors.Withdrawal {
	v.mu.Lock()
	defer v.mu.Unlock()
	if a := v.accounts[acct]; a != nil {
		return slices.Clone(a.withdrawals)
	}
	return nil
}

// Deadman returns the armed countdowns of account by target ("spot",
// "usdm:BTCUSDT", …).
func (v *Venue) Deadman(acct string) map[string]time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string]time.Duration{}
	if a := v.accounts[acct]; a != nil {
		for k, d := range a.deadman {
			out[k] = d
		}
	}
	return out
}

// Requests returns the request log of account ("" for every account).
func (v *Venue) Requests(acct string) []Request {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []Request
	for _, r := range v.log {
		if acct == "" || r.Account == acct {
			out = append(out, r)
		}
	}
	return out
}

// Mutations counts the mutating requests account has sent ("" for all).
func (v *Venue) Mutations(acct string) int {
	n := 0
	for _, r := range v.Requests(acct) {
		if r.Mutation {
			n++
		}
	}
	return n
}

// accepts reports whether the venue accepts requests signed with k.
func (v *Venue) accepts(k *Key) (bool, string) {
	if k == nil {
		return false, "key deleted"
	}
	if len(k.IPs) > 0 && !slices.Contains(k.IPs, v.clientIP) {
		return false, "request IP " + v.clientIP + " not in the key's whitelist"
	}
	return true, ""
}

// findKey looks a key id up in every account.
func (v *Venue) findKey(id string) *Key {
	for _, a := range v.accounts {
		if a.master != nil && a.master.ID == id {
			return a.master
		}
		for _, s := range a.subs {
			for _, k := range s.keys {
				if k.ID == id {
					return k
				}
			}
		}
	}
	return nil
}

// call is one request an executor sends.
type call struct {
	account  string
	apiKey   string // the key signing it; "" skips the check
	action   string
	op       string
	mutation bool
}

// do performs c: latency, hang, context, auth and faults, then fn under the
// venue lock. Every request that reaches the venue is logged.
func (v *Venue) do(ctx context.Context, c call, fn func(a *account) error) error {
	v.mu.Lock()
	lat, hang := v.latency, v.hangs[faultKey{c.account, c.action}]
	v.mu.Unlock()
	if hang {
		<-ctx.Done()
		return v.ctxErr(c, ctx.Err())
	}
	if err := executors.SleepContext(ctx, lat); err != nil && lat > 0 {
		return v.ctxErr(c, err)
	}
	if err := ctx.Err(); err != nil {
		return v.ctxErr(c, err)
	}

	v.mu.Lock()
	defer v.mu.Unlock()
	err := v.handle(c, fn)
	r := Request{Seq: len(v.log) + 1, Account: c.account, Action: c.action, Op: c.op, Mutation: c.mutation}
	if err != nil {
		r.Err = err.Error()
	}
	v.log = append(v.log, r)
	return err
}

func (v *Venue) handle(c call, fn func(a *account) error) error {
	a := v.accounts[c.account]
	if a == nil {
		return &executors.Error{Class: executors.ErrAuth, Op: c.op, Code: "-2015", Msg: "unknown account " + c.account, HTTPStatus: 401}
	}
	if c.apiKey != "" {
		if a.master == nil || a.master.ID != c.apiKey {
			return &executors.Error{Class: executors.ErrAuth, Op: c.op, Code: "-2015", Msg: "invalid API key " + secret.Mask(c.apiKey), HTTPStatus: 401}
		}
		if ok, why := v.accepts(a.master); !ok {
			return &executors.Error{Class: executors.ErrAuth, Op: c.op, Code: "-2015", Msg: why, HTTPStatus: 401}
		}
	}
	if f := v.faults[faultKey{c.account, c.action}]; f != nil && f.n > 0 && c.mutation == executors.IsMutating(c.action) {
		f.n--
		return withOp(f.err, c.op)
	}
	return fn(a)
}

// withOp returns err as an *executors.Error naming op.
func withOp(err error, op string) error {
	var e *executors.Error
	if errors.As(err, &e) {
		cp := *e
		if cp.Op == "" {
			cp.Op = op
		}
		return &cp
	}
	return executors.Classify(executors.ErrTransient, op, err)
}

func (v *Venue) ctxErr(c call, err error) error {
	class := executors.ErrTransient
	if c.mutation {
		class = executors.ErrUnknownOutcome
	}
	return executors.Classify(class, c.op, err)
}

// listOrders returns the open orders on products (nil: all) and symbols
// (nil: all), sorted.
func (a *account) listOrders(products, symbols []string) []executors.Order {
	var out []executors.Order
	for _, o := range a.orders {
		if (products == nil || slices.Contains(products, o.Product)) && (len(symbols) == 0 || slices.Contains(symbols, o.Symbol)) {
			out = append(out, o.Order)
		}
	}
	sortOrders(out)
	return out
}

func sortOrders(os []executors.Order) {
	sort.SliceStable(os, func(i, j int) bool {
		a, b := os[i], os[j]
		if a.Product != b.Product {
			return productRank(a.Product) < productRank(b.Product)
		}
		if a.Symbol != b.Symbol {
			return a.Symbol < b.Symbol
		}
		return a.ID < b.ID
	})
}

func productRank(p string) int {
	if i := slices.Index(Products, p); i >= 0 {
		return i
	}
	return len(Products)
}

// sub returns the named sub-account.
func (a *account) sub(name string) *subAccount {
	for _, s := range a.subs {
		if s.name == name {
			return s
		}
	}
	return nil
}

// subKey returns the key id of sub-account sub.
func (a *account) subKey(sub, id string) (*subAccount, int) {
	s := a.sub(sub)
	if s == nil {
		return nil, -1
	}
	for i, k := range s.keys {
		if k.ID == id {
			return s, i
		}
	}
	return s, -1
}

// lower-case helper for case-insensitive matching.
func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
