package kucoin

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// spec is the KuCoin section of an emulator state file, as written by hand.
// ../STATE.md ("KuCoin venue") documents every field.
type spec struct {
	CancelDelay *time.Duration `yaml:"cancel_delay"`
	// WithdrawSettle is how long an API withdrawal takes to reach SUCCESS
	// (WALLET_PROCESSING at half of it); default 2m.
	WithdrawSettle time.Duration  `yaml:"withdraw_settle"`
	Window         time.Duration  `yaml:"window"`
	Pools          poolSpec       `yaml:"pools"`
	Prices         map[string]dec `yaml:"prices"`
	Symbols        []string       `yaml:"symbols"`
	Contracts      []string       `yaml:"contracts"`
	Masters        []userSpec     `yaml:"masters"`
}

type poolSpec struct {
	Spot       int `yaml:"spot"`
	Futures    int `yaml:"futures"`
	Management int `yaml:"management"`
	Public     int `yaml:"public"`
}

type userSpec struct {
	At          pos
	Name        string         `yaml:"name"`
	UID         int64          `yaml:"uid"`
	UserID      string         `yaml:"user_id"`
	Access      string         `yaml:"access"`
	Remarks     string         `yaml:"remarks"`
	Tags        []string       `yaml:"tags"`
	HF          *bool          `yaml:"hf"`
	Age         time.Duration  `yaml:"age"`
	Keys        []keySpec      `yaml:"keys"`
	Balances    balanceSpec    `yaml:"balances"`
	Orders      orderSpecs     `yaml:"orders"`
	Futures     futuresSpec    `yaml:"futures"`
	Withdrawals []withdrawSpec `yaml:"withdrawals"`
	// WithdrawWhitelist, when set, limits API withdrawals to these
	// addresses (the web UI's withdrawal address whitelist).
	WithdrawWhitelist []string   `yaml:"withdraw_whitelist"`
	Fills             []fillSpec `yaml:"fills"`
	Subs              []userSpec `yaml:"subs"`
}

type keySpec struct {
	At          pos
	APIKey      string        `yaml:"api_key"`
	Secret      string        `yaml:"secret"`
	Passphrase  string        `yaml:"passphrase"`
	Version     int           `yaml:"version"`
	Permission  []string      `yaml:"permission"`
	IPWhitelist []string      `yaml:"ip_whitelist"`
	Remark      string        `yaml:"remark"`
	Age         time.Duration `yaml:"age"`
	Export      *bool         `yaml:"export"`
}

type balanceSpec struct {
	Main     map[string]amountSpec   `yaml:"main"`
	Trade    map[string]amountSpec   `yaml:"trade"`
	TradeHF  map[string]amountSpec   `yaml:"trade_hf"`
	Margin   map[string]marginSpec   `yaml:"margin"`
	Isolated map[string]isolatedSpec `yaml:"isolated"`
}

// amountSpec is "100" or {balance: "100", holds: "10"}.
type amountSpec struct {
	Balance dec
	Holds   dec
}

func (a *amountSpec) decodeYAML(d *decoder, n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return a.Balance.decodeYAML(d, n)
	}
	var m struct {
		Balance dec `yaml:"balance"`
		Holds   dec `yaml:"holds"`
	}
	if err := d.decodeStruct(n, ptrElem(&m)); err != nil {
		return err
	}
	a.Balance, a.Holds = m.Balance, m.Holds
	return nil
}

// marginSpec is "100" (total) or {total, hold, liability}.
type marginSpec struct {
	Total     dec
	Hold      dec
	Liability dec
}

func (a *marginSpec) decodeYAML(d *decoder, n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return a.Total.decodeYAML(d, n)
	}
	var m struct {
		Total     dec `yaml:"total"`
		Hold      dec `yaml:"hold"`
		Liability dec `yaml:"liability"`
	}
	if err := d.decodeStruct(n, ptrElem(&m)); err != nil {
		return err
	}
	a.Total, a.Hold, a.Liability = m.Total, m.Hold, m.Liability
	return nil
}

type isolatedSpec struct {
	Base  marginSpec `yaml:"base"`
	Quote marginSpec `yaml:"quote"`
}

type orderSpecs struct {
	HF       []orderSpec `yaml:"hf"`
	Classic  []orderSpec `yaml:"classic"`
	Stop     []orderSpec `yaml:"stop"`
	OCO      []orderSpec `yaml:"oco"`
	MarginHF []orderSpec `yaml:"margin_hf"`
}

type orderSpec struct {
	At         pos
	ID         string        `yaml:"id"`
	ClientOid  string        `yaml:"client_oid"`
	Symbol     string        `yaml:"symbol"`
	Side       string        `yaml:"side"`
	Type       string        `yaml:"type"`
	Price      dec           `yaml:"price"`
	Size       dec           `yaml:"size"`
	DealSize   dec           `yaml:"deal_size"`
	StopPrice  dec           `yaml:"stop_price"`
	LimitPrice dec           `yaml:"limit_price"`
	Stop       string        `yaml:"stop"`
	TradeType  string        `yaml:"trade_type"`
	Done       bool          `yaml:"done"`
	Age        time.Duration `yaml:"age"`
}

type futuresSpec struct {
	Accounts   map[string]futuresAccountSpec `yaml:"accounts"`
	Orders     []futuresOrderSpec            `yaml:"orders"`
	StopOrders []futuresOrderSpec            `yaml:"stop_orders"`
	Positions  []positionSpec                `yaml:"positions"`
}

type futuresAccountSpec struct {
	Balance        dec `yaml:"balance"`
	UnrealisedPNL  dec `yaml:"unrealised_pnl"`
	PositionMargin dec `yaml:"position_margin"`
	OrderMargin    dec `yaml:"order_margin"`
	FrozenFunds    dec `yaml:"frozen_funds"`
}

type futuresOrderSpec struct {
	At         pos
	ID         string        `yaml:"id"`
	ClientOid  string        `yaml:"client_oid"`
	Symbol     string        `yaml:"symbol"`
	Side       string        `yaml:"side"`
	Type       string        `yaml:"type"`
	Price      dec           `yaml:"price"`
	Size       int64         `yaml:"size"`
	Leverage   dec           `yaml:"leverage"`
	Stop       string        `yaml:"stop"`
	StopPrice  dec           `yaml:"stop_price"`
	MarginMode string        `yaml:"margin_mode"`
	ReduceOnly bool          `yaml:"reduce_only"`
	Age        time.Duration `yaml:"age"`
}

type positionSpec struct {
	At         pos
	Symbol     string `yaml:"symbol"`
	Qty        int64  `yaml:"qty"`
	EntryPrice dec    `yaml:"entry_price"`
	MarkPrice  dec    `yaml:"mark_price"`
	Leverage   dec    `yaml:"leverage"`
	MarginMode string `yaml:"margin_mode"`
}

type withdrawSpec struct {
	At         pos
	ID         string        `yaml:"id"`
	Currency   string        `yaml:"currency"`
	Chain      string        `yaml:"chain"`
	Amount     dec           `yaml:"amount"`
	Fee        dec           `yaml:"fee"`
	Address    string        `yaml:"address"`
	Memo       string        `yaml:"memo"`
	Status     string        `yaml:"status"`
	WalletTxID string        `yaml:"wallet_tx_id"`
	IsInner    bool          `yaml:"is_inner"`
	Remark     string        `yaml:"remark"`
	Age        time.Duration `yaml:"age"`
}

type fillSpec struct {
	At          pos
	Symbol      string        `yaml:"symbol"`
	Side        string        `yaml:"side"`
	Price       dec           `yaml:"price"`
	Size        dec           `yaml:"size"`
	Fee         dec           `yaml:"fee"`
	FeeCurrency string        `yaml:"fee_currency"`
	Liquidity   string        `yaml:"liquidity"`
	OrderID     string        `yaml:"order_id"`
	HF          *bool         `yaml:"hf"`
	TradeType   string        `yaml:"trade_type"`
	Age         time.Duration `yaml:"age"`
}

// validate checks what the types alone cannot, reporting file:line:col.
func (s *spec) validate(file string) error {
	at := func(p pos, format string, args ...any) error {
		return fmt.Errorf("%s:%d:%d: %s", file, p.Line, p.Col, fmt.Sprintf(format, args...))
	}
	if len(s.Masters) == 0 {
		return fmt.Errorf("%s: kucoin state has no masters", file)
	}
	keys := map[string]bool{}
	names := map[string]bool{}
	uids := map[int64]bool{}
	var checkUser func(u *userSpec, master bool) error
	checkUser = func(u *userSpec, master bool) error {
		if u.Name == "" {
			return at(u.At, "user needs a name")
		}
		if names[u.Name] {
			return at(u.At, "duplicate user name %q", u.Name)
		}
		names[u.Name] = true
		if u.UID != 0 {
			if uids[u.UID] {
				return at(u.At, "duplicate uid %d", u.UID)
			}
			uids[u.UID] = true
		}
		if !master && len(u.Subs) > 0 {
			return at(u.At, "sub user %q cannot have subs", u.Name)
		}
		for _, k := range u.Keys {
			if k.APIKey != "" {
				if keys[k.APIKey] {
					return at(k.At, "duplicate api_key %q", k.APIKey)
				}
				keys[k.APIKey] = true
			}
			if k.Version != 0 && (k.Version < 1 || k.Version > 3) {
				return at(k.At, "key version must be 1, 2 or 3, got %d", k.Version)
			}
			for _, p := range k.Permission {
				if !validPermission(p) {
					return at(k.At, "unknown permission %q (want General, Spot, Margin, Futures, InnerTransfer, Transfer or Withdrawal, Earn)", p)
				}
			}
		}
		for _, o := range allOrders(&u.Orders) {
			if o.Symbol == "" {
				return at(o.At, "order needs a symbol")
			}
			if !strings.Contains(o.Symbol, "-") {
				return at(o.At, "spot symbol %q must look like BASE-QUOTE", o.Symbol)
			}
			if o.Side != "" && o.Side != "buy" && o.Side != "sell" {
				return at(o.At, "side must be buy or sell, got %q", o.Side)
			}
		}
		for _, o := range append(append([]futuresOrderSpec{}, u.Futures.Orders...), u.Futures.StopOrders...) {
			if o.Symbol == "" {
				return at(o.At, "futures order needs a symbol")
			}
			if o.Side != "" && o.Side != "buy" && o.Side != "sell" {
				return at(o.At, "side must be buy or sell, got %q", o.Side)
			}
		}
		for _, p := range u.Futures.Positions {
			if p.Symbol == "" {
				return at(p.At, "position needs a symbol")
			}
		}
		for _, w := range u.Withdrawals {
			if w.Currency == "" {
				return at(w.At, "withdrawal needs a currency")
			}
			switch w.Status {
			case "", "REVIEW", "PROCESSING", "WALLET_PROCESSING", "SUCCESS", "FAILURE":
			default:
				return at(w.At, "withdrawal status must be REVIEW, PROCESSING, WALLET_PROCESSING, SUCCESS or FAILURE, got %q", w.Status)
			}
		}
		for _, f := range u.Fills {
			if f.Symbol == "" {
				return at(f.At, "fill needs a symbol")
			}
		}
		for i := range u.Subs {
			if err := checkUser(&u.Subs[i], false); err != nil {
				return err
			}
		}
		return nil
	}
	for i := range s.Masters {
		if err := checkUser(&s.Masters[i], true); err != nil {
			return err
		}
	}
	return nil
}

func allOrders(o *orderSpecs) []orderSpec {
	var all []orderSpec
	all = append(all, o.HF...)
	all = append(all, o.Classic...)
	all = append(all, o.Stop...)
	all = append(all, o.OCO...)
	all = append(all, o.MarginHF...)
	return all
}

var permissions = []string{"General", "Spot", "Margin", "Futures", "InnerTransfer", "Transfer", "Withdrawal", "Earn"}

func validPermission(p string) bool {
	for _, q := range permissions {
		if p == q {
			return true
		}
	}
	return false
}
