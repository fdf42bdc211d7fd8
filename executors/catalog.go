package executors

import (
	"fmt"
	"sort"
	"time"
)

// Action names: the exchange-neutral verbs of the catalog.
const (
	SnapshotBalances         = "snapshot.balances"
	OrdersList               = "orders.list"
	OrdersCancelAll          = "orders.cancel_all"
	OrdersDeadman            = "orders.deadman"
	KeysInventory            = "keys.inventory"
	KeysRevoke               = "keys.revoke"
	KeysVerifyRejected       = "keys.verify_rejected"
	WithdrawalsList          = "withdrawals.list"
	WithdrawalsCancelPending = "withdrawals.cancel_pending"
	PositionsClose           = "positions.close"
	FundsSweep               = "funds.sweep"
	TradesRecent             = "trades.recent"
	// Manual and NotifyWebhook are performed by the runner itself, not by an
	// exchange executor.
	Manual        = "manual"
	NotifyWebhook = "notify.webhook"
)

// Products that order actions accept. Executors map them onto their venue's
// products; "futures" is shorthand for every futures product the venue has.
const (
	ProductSpot           = "spot"
	ProductMargin         = "margin"
	ProductIsolatedMargin = "isolated_margin"
	ProductUSDM           = "usdm"
	ProductCoinM          = "coinm"
	ProductFutures        = "futures"
)

// Scopes of orders.cancel_all: whose orders to cancel.
const (
	ScopeAccount     = "account"
	ScopeSubAccounts = "sub_accounts"
	ScopeAll         = "all"
)

// AllProducts lists the product names accepted by the products parameter.
var AllProducts = []string{ProductSpot, ProductMargin, ProductIsolatedMargin, ProductUSDM, ProductCoinM, ProductFutures}

// ParamType is the type of an action parameter.
type ParamType int

// Parameter types.
const (
	String ParamType = iota + 1
	StringList
	Bool
	Int
	Duration
	StringMap
)

func (t ParamType) String() string {
	switch t {
	case String:
		return "string"
	case StringList:
		return "list of strings"
	case Bool:
		return "bool"
	case Int:
		return "integer"
	case Duration:
		return "duration"
	case StringMap:
		return "map of strings"
	}
	return "unknown"
}

// ParamSpec describes one parameter of an action.
type ParamSpec struct {
	Name     string
	Type     ParamType
	Required bool
	// Enum, when set, lists the allowed values (for String) or allowed
	// elements (for StringList).
	Enum []string
	// Default is used when the parameter is absent; nil means no default.
	Default any
	Doc     string
}

// ActionSpec describes one action of the catalog.
type ActionSpec struct {
	Name string
	// Mutating actions change state on the exchange: they are audited
	// (intent/outcome), dry-run turns them into "would …" results, and they
	// need confirmation.
	Mutating bool
	// Local actions are performed by the runner (manual, notify.webhook), so
	// no executor needs to support them.
	Local  bool
	Params []ParamSpec
	Doc    string
	// Reads (read-only actions) and Affects (mutating actions) name the
	// kinds of state involved: balances, positions, orders, keys,
	// withdrawals, trades. A mutation waits for earlier reads of what it
	// affects, so e.g. snapshot-before is really taken before the freeze.
	Reads, Affects []string
}

// State kinds for ActionSpec.Reads and Affects.
const (
	StateBalances    = "balances"
	StatePositions   = "positions"
	StateOrders      = "orders"
	StateKeys        = "keys"
	StateWithdrawals = "withdrawals"
	StateTrades      = "trades"
)

// Overlaps reports whether a mutation of spec m may change what read r reads.
func Overlaps(m, r ActionSpec) bool {
	for _, a := range m.Affects {
		for _, b := range r.Reads {
			if a == b {
				return true
			}
		}
	}
	return false
}

// Param returns the spec of the named parameter.
func (a ActionSpec) Param(name string) (ParamSpec, bool) {
	for _, p := range a.Params {
		if p.Name == name {
			return p, true
		}
	}
	return ParamSpec{}, false
}

var productsParam = ParamSpec{Name: "products", Type: StringList, Enum: AllProducts,
	Doc: "products to act on; default: every product the account can trade. margin includes isolated margin; futures means every futures product (Binance usdm+coinm)"}
var symbolsParam = ParamSpec{Name: "symbols", Type: StringList,
	Doc: "restrict to these symbols (venue spelling); default: all"}

// catalog is the action catalog of DESIGN.md.
var catalog = map[string]ActionSpec{
	SnapshotBalances: {Name: SnapshotBalances, Reads: []string{StateBalances, StatePositions}, Doc: "snapshot every wallet, margin and futures balance and open position (and sub-accounts for a master)",
		Params: []ParamSpec{{Name: "include_sub_accounts", Type: Bool, Default: true, Doc: "also snapshot each sub-account (master keys only)"}}},
	OrdersList: {Name: OrdersList, Reads: []string{StateOrders}, Doc: "list open orders (including conditional, stop, algo and order-list orders)",
		Params: []ParamSpec{productsParam, symbolsParam}},
	OrdersCancelAll: {Name: OrdersCancelAll, Mutating: true, Affects: []string{StateOrders, StateBalances}, Doc: "cancel every open order on the chosen products, then re-list to confirm nothing is left",
		Params: []ParamSpec{productsParam, symbolsParam,
			{Name: "confirm_timeout", Type: Duration, Default: 10 * time.Second, Doc: "how long to keep re-listing until the book is empty (cancels are asynchronous on some venues)"},
			{Name: "scope", Type: String, Enum: []string{ScopeAccount, ScopeSubAccounts, ScopeAll}, Default: ScopeAccount,
				Doc: "account: the orders of the configured key's own account; sub_accounts: the orders of every sub-account of a master (each with the sub key configured in the accounts file, or else a temporary trading-only key minted on the sub-account, audited before use and deleted at the end of the step); all: both"},
			{Name: "temporary_keys", Type: Bool, Default: true,
				Doc: "scope sub_accounts/all: mint a temporary key on a sub-account that has no usable configured key; false: such a sub-account is reported, not inspected"},
			{Name: "skip_idle", Type: Bool, Default: false,
				Doc: "scope sub_accounts/all: skip a sub-account whose balances, as the master sees them, show nothing locked or on hold (Binance shows the master only a sub-account's spot wallet, so its futures and margin orders are not seen then)"},
			{Name: "temp_key_ips", Type: StringList,
				Doc: "IP addresses a temporary key is restricted to; default: the egress IP where the venue tells it (KuCoin), else none (Binance: an Ed25519 key whose private half never leaves the process)"},
		}},
	OrdersDeadman: {Name: OrdersDeadman, Mutating: true, Affects: []string{StateOrders, StateBalances}, Doc: "arm the exchange's countdown cancel-all (dead-man switch)",
		Params: []ParamSpec{productsParam, symbolsParam,
			{Name: "countdown", Type: Duration, Default: 60 * time.Second, Doc: "time after which the exchange cancels everything unless re-armed"}}},
	KeysInventory: {Name: KeysInventory, Reads: []string{StateKeys}, Doc: "inventory the calling key and (for a master) every sub-account key; flag risky keys",
		Params: []ParamSpec{{Name: "include_sub_accounts", Type: Bool, Default: true},
			{Name: "ip_reads", Type: String, Enum: []string{"all", "spare"}, Default: "all",
				Doc: "Binance reads each sub key's IP restriction with its own call (60 a minute per master): all reads them all, waiting for budget; spare reads only what the current minute has spare and reports the others unread, so that a large inventory never delays the revocations that follow it"}}},
	KeysRevoke: {Name: KeysRevoke, Mutating: true, Affects: []string{StateKeys, StateBalances}, Doc: "neutralise API keys: delete, IP-lock or strip permissions; the master's own key becomes a manual step",
		Params: []ParamSpec{
			{Name: "scope", Type: String, Enum: []string{"sub_accounts", "master", "all"}, Default: "sub_accounts", Doc: "which keys to consider"},
			{Name: "method", Type: String, Enum: []string{"delete", "ip_lock", "strip_permissions"}, Default: "delete"},
			{Name: "select", Type: String, Enum: []string{"all", "withdraw_enabled", "risky"}, Default: "all", Doc: "selector over the keys in scope"},
			{Name: "key_ids", Type: StringList, Doc: "only these API keys (public ids)"},
			{Name: "match", Type: String, Doc: "only keys whose label/name or IP whitelist contains this text (case-insensitive)"},
			{Name: "ip_whitelist", Type: StringList, Default: []string{"192.0.2.1"}, Doc: "sinkhole IPs for method ip_lock"},
			{Name: "sweep_if_no_passphrase", Type: Bool, Default: false, Doc: "KuCoin: sweep the sub-account's funds to the master when its key cannot be revoked"},
			{Name: "created_mid_run", Type: Bool, Default: false, Doc: "also revoke every sub-account key that the run's first key listing (e.g. the inventory) did not show — a key created while the run goes on — whatever select, key_ids and match say; a hold re-running the step then deletes keys the attacker creates mid-run"},
		}},
	KeysVerifyRejected: {Name: KeysVerifyRejected, Reads: []string{StateKeys}, Doc: "probe a key until the exchange rejects it; records the proof",
		Params: []ParamSpec{
			{Name: "api_key", Type: String, Doc: "the key to probe (public id); default: the account's own key"},
			{Name: "interval", Type: Duration, Default: 5 * time.Second},
			{Name: "deadline", Type: Duration, Default: 30 * time.Second},
		}},
	WithdrawalsList: {Name: WithdrawalsList, Reads: []string{StateWithdrawals}, Doc: "recent withdrawals with status; pending ones flagged",
		Params: []ParamSpec{{Name: "since", Type: Duration, Default: 7 * 24 * time.Hour}}},
	WithdrawalsCancelPending: {Name: WithdrawalsCancelPending, Mutating: true, Affects: []string{StateWithdrawals, StateBalances}, Doc: "cancel every withdrawal still cancellable; a manual step where the venue cannot",
		Params: []ParamSpec{{Name: "since", Type: Duration, Default: 7 * 24 * time.Hour}}},
	PositionsClose: {Name: PositionsClose, Mutating: true, Affects: []string{StatePositions, StateBalances, StateOrders, StateTrades}, Doc: "flatten futures positions with reduce-only market orders",
		Params: []ParamSpec{productsParam, symbolsParam}},
	FundsSweep: {Name: FundsSweep, Mutating: true, Affects: []string{StateBalances}, Doc: "move free balances of sub-accounts to the master",
		Params: []ParamSpec{
			{Name: "sub_accounts", Type: StringList, Doc: "only these sub-accounts; default: all"},
			{Name: "assets", Type: StringList, Doc: "only these assets; default: all"},
		}},
	TradesRecent: {Name: TradesRecent, Reads: []string{StateTrades}, Doc: "trades of the last hours on the symbols held or traded",
		Params: []ParamSpec{{Name: "since", Type: Duration, Default: 24 * time.Hour}, symbolsParam}},
	Manual: {Name: Manual, Local: true, Doc: "a step a human must do; on a TTY the run waits for it, otherwise it stays pending",
		Params: []ParamSpec{
			{Name: "instructions", Type: String, Required: true},
			{Name: "verify", Type: String, Enum: []string{"key_rejected", "none"}, Default: "none", Doc: "key_rejected: after the human confirms, probe the account's key until it is rejected"},
			{Name: "api_key", Type: String, Doc: "for verify key_rejected: the key to probe; default the account's own key"},
			{Name: "hold", Type: Bool, Default: false, Doc: "with verify key_rejected: while the step is pending, keep re-running the playbook's orders.cancel_all, withdrawals.cancel_pending, keys.revoke and orders.deadman steps for the account until the key is rejected, the operator answers, or --hold expires"},
		}},
	NotifyWebhook: {Name: NotifyWebhook, Local: true, Doc: "post a JSON summary to a webhook (Slack-compatible); never blocks containment",
		Params: []ParamSpec{
			{Name: "url", Type: String, Required: true},
			{Name: "text", Type: String},
			{Name: "headers", Type: StringMap},
			{Name: "only_on", Type: String, Enum: []string{"always", "findings", "drift"}, Default: "always",
				Doc: "always: post every time; findings: only when the account's earlier steps reported a finding of medium severity or more; drift: only when they reported a change since the baseline (posture-check --baseline)"},
		}},
}

// Lookup returns the spec of a catalog action.
func Lookup(name string) (ActionSpec, bool) {
	a, ok := catalog[name]
	return a, ok
}

// Actions returns every catalog action, sorted by name.
func Actions() []ActionSpec {
	out := make([]ActionSpec, 0, len(catalog))
	for _, a := range catalog {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// IsMutating reports whether the named action changes exchange state.
func IsMutating(action string) bool { return catalog[action].Mutating }

// Params holds an action's validated parameters. Values have the Go type of
// their ParamType: string, []string, bool, int, time.Duration,
// map[string]string. Absent parameters fall back to the spec's default.
type Params map[string]any

// String returns a string parameter ("" when absent).
func (p Params) String(name string) string { s, _ := p[name].(string); return s }

// Strings returns a list parameter (nil when absent).
func (p Params) Strings(name string) []string { s, _ := p[name].([]string); return s }

// Bool returns a bool parameter.
func (p Params) Bool(name string) bool { b, _ := p[name].(bool); return b }

// Int returns an integer parameter.
func (p Params) Int(name string) int { i, _ := p[name].(int); return i }

// Duration returns a duration parameter.
func (p Params) Duration(name string) time.Duration { d, _ := p[name].(time.Duration); return d }

// Map returns a map parameter.
func (p Params) Map(name string) map[string]string { m, _ := p[name].(map[string]string); return m }

// WithDefaults returns a copy of p with every absent parameter of the
// action set to its default.
func WithDefaults(action string, p Params) Params {
	out := Params{}
	for k, v := range p {
		out[k] = v
	}
	spec, ok := Lookup(action)
	if !ok {
		return out
	}
	for _, ps := range spec.Params {
		if _, set := out[ps.Name]; !set && ps.Default != nil {
			out[ps.Name] = ps.Default
		}
	}
	return out
}

// CheckValue checks that v has the Go type of t (as produced by a parser).
func CheckValue(t ParamType, v any) error {
	ok := false
	switch t {
	case String:
		_, ok = v.(string)
	case StringList:
		_, ok = v.([]string)
	case Bool:
		_, ok = v.(bool)
	case Int:
		_, ok = v.(int)
	case Duration:
		_, ok = v.(time.Duration)
	case StringMap:
		_, ok = v.(map[string]string)
	}
	if !ok {
		return fmt.Errorf("want %s, got %T", t, v)
	}
	return nil
}
