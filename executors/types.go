package executors

import "time"

// The exchange-neutral payloads of the read actions. Amounts are decimal
// strings exactly as the venue reported them (no float rounding).

// Snapshot is the payload of snapshot.balances, written by the runner to
// the run directory as snapshot-<step>.json (one per account).
type Snapshot struct {
	Account   string        `json:"account"`
	Exchange  string        `json:"exchange"`
	TakenAt   time.Time     `json:"taken_at"`
	Balances  []Balance     `json:"balances"`
	Positions []Position    `json:"positions"`
	Wallets   []WalletTotal `json:"wallets,omitempty"`
	// Errors lists the parts that could not be read (the rest is still valid).
	Errors []string `json:"errors,omitempty"`
}

// Balance is one asset in one wallet.
type Balance struct {
	Sub      string `json:"sub,omitempty"` // sub-account; empty for the account itself
	Wallet   string `json:"wallet"`        // spot, funding, margin, isolated_margin:BTCUSDT, usdm, coinm, main, trade, trade_hf, futures
	Asset    string `json:"asset"`
	Free     string `json:"free"`
	Locked   string `json:"locked"`
	Borrowed string `json:"borrowed,omitempty"`
	Total    string `json:"total"`
}

// Position is one open derivatives position.
type Position struct {
	Sub           string `json:"sub,omitempty"`
	Product       string `json:"product"` // usdm, coinm, futures
	Symbol        string `json:"symbol"`
	Side          string `json:"side"` // LONG, SHORT, BOTH
	Size          string `json:"size"` // signed
	EntryPrice    string `json:"entry_price,omitempty"`
	MarkPrice     string `json:"mark_price,omitempty"`
	UnrealizedPnL string `json:"unrealized_pnl,omitempty"`
}

// WalletTotal is a venue-computed total for one wallet.
type WalletTotal struct {
	Sub    string `json:"sub,omitempty"`
	Wallet string `json:"wallet"`
	Asset  string `json:"asset"` // quote asset of Value
	Value  string `json:"value"`
}

// Order is one open order (the payload of orders.list is []Order).
type Order struct {
	Product  string    `json:"product"`
	Symbol   string    `json:"symbol"`
	ID       string    `json:"id"`
	ClientID string    `json:"client_id,omitempty"`
	Kind     string    `json:"kind"` // limit, market, stop, algo, oco-member …
	Side     string    `json:"side"`
	Price    string    `json:"price,omitempty"`
	Qty      string    `json:"qty,omitempty"`
	ListID   string    `json:"list_id,omitempty"`
	Created  time.Time `json:"created,omitzero"`
}

// Key is one API key (the payload of keys.inventory is []Key).
type Key struct {
	Owner       string   `json:"owner"` // "master" or the sub-account (name/e-mail)
	Sub         bool     `json:"sub"`
	APIKey      string   `json:"api_key"` // masked (secret.Mask)
	Label       string   `json:"label,omitempty"`
	Permissions []string `json:"permissions"`
	CanTrade    bool     `json:"can_trade"`
	CanWithdraw bool     `json:"can_withdraw"`
	// WithdrawUnknown: the venue does not tell whether this key can
	// withdraw (Binance, for sub-account keys seen from the master).
	// Selectors and risk flags treat it as possibly enabled.
	WithdrawUnknown bool      `json:"withdraw_unknown,omitempty"`
	CanTransfer     bool      `json:"can_transfer"`
	IPRestricted    bool      `json:"ip_restricted"`
	IPs             []string  `json:"ips,omitempty"`
	Created         time.Time `json:"created,omitzero"`
	Expires         time.Time `json:"expires,omitzero"`
	Risks           []string  `json:"risks,omitempty"` // withdrawals-enabled, withdrawals-unknown, no-ip-restriction, trading-enabled, old-key
}

// Withdrawal is one withdrawal (the payload of withdrawals.list).
type Withdrawal struct {
	ID          string    `json:"id"`
	Asset       string    `json:"asset"`
	Amount      string    `json:"amount"`
	Address     string    `json:"address"`
	Network     string    `json:"network,omitempty"`
	Status      string    `json:"status"` // venue status text
	Pending     bool      `json:"pending"`
	Cancellable bool      `json:"cancellable"`
	Created     time.Time `json:"created,omitzero"`
}

// Trade is one fill (the payload of trades.recent).
type Trade struct {
	Product  string    `json:"product"`
	Symbol   string    `json:"symbol"`
	ID       string    `json:"id"`
	OrderID  string    `json:"order_id,omitempty"`
	Side     string    `json:"side"`
	Price    string    `json:"price"`
	Qty      string    `json:"qty"`
	Fee      string    `json:"fee,omitempty"`
	FeeAsset string    `json:"fee_asset,omitempty"`
	Time     time.Time `json:"time"`
}

// MayWithdraw reports whether the key can, or may (unknown), withdraw: the
// meaning of the withdraw_enabled selector.
func (k Key) MayWithdraw() bool { return k.CanWithdraw || k.WithdrawUnknown }

// KeyRisks returns the standard risk flags for a key.
func KeyRisks(k Key, now time.Time) []string {
	var r []string
	if k.CanWithdraw {
		r = append(r, "withdrawals-enabled")
	} else if k.WithdrawUnknown {
		r = append(r, "withdrawals-unknown")
	}
	if !k.IPRestricted {
		r = append(r, "no-ip-restriction")
	}
	if k.CanTrade {
		r = append(r, "trading-enabled")
	}
	if !k.Created.IsZero() && now.Sub(k.Created) > 180*24*time.Hour {
		r = append(r, "old-key")
	}
	return r
}
