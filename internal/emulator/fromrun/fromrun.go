// Package fromrun builds an emulator state (internal/emulator/STATE.md)
// from what a run recorded, so a team can rehearse its response on the
// shape of its own fund: `panicbutton emulator --from-run RUN_DIR`.
//
// The source is the run's audit trail (audit.jsonl), which every run has
// and which holds no secret: per account, the first (pre-containment)
// balance snapshot (balances and positions, sub-accounts included), the
// key inventory (masked ids, labels, permissions, IP settings, creation
// times), the open orders the freeze step listed, and the withdrawals the
// withdrawal steps listed. Each key gets a fresh, random fake id and secret
// with the same permissions and IP settings; nothing is read from the
// accounts file or any credential.
//
// What a run does not record is approximated, and the state file says
// so in its header: market prices (the positions' mark prices, else the
// price of an order on that symbol), stop prices (an order's price), the
// kind of a KuCoin spot order (classic and HF orders become HF orders),
// and the orders of sub-accounts the run could not list.
package fromrun

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/audit"
)

// Options tune Build.
type Options struct {
	// Anonymise replaces account, sub-account, e-mail and key label names
	// with neutral ones (account-1, sub-1-2, …) and withdrawal addresses
	// with made-up ones.
	Anonymise bool
	// Now is the load reference for relative times (default time.Now).
	Now func() time.Time
}

// Summary says what Build found, for the operator.
type Summary struct {
	Accounts    []string          `json:"accounts"` // names in the state (and the accounts file it exports)
	Renamed     map[string]string `json:"renamed,omitempty"`
	SubAccounts int               `json:"sub_accounts"`
	Keys        int               `json:"keys"`
	Orders      map[string]int    `json:"orders"` // by product
	Positions   int               `json:"positions"`
	Withdrawals int               `json:"withdrawals"`
	Notes       []string          `json:"notes,omitempty"`
}

// recorded is what the trail holds for one account.
type recorded struct {
	name        string
	exchange    string
	snapshot    *executors.Snapshot
	keys        []executors.Key
	orders      []executors.Order
	haveOrders  bool
	changes     []executors.Change // order changes, when the orders themselves were not recorded
	withdrawals []executors.Withdrawal
	noPass      map[string]bool // masked KuCoin sub key ids the run had no passphrase for
}

// Build reads the run's audit trail at runDir and returns the state file
// (YAML) and a summary.
func Build(runDir string, o Options) ([]byte, *Summary, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	recs, err := audit.Read(runDir)
	if err != nil && len(recs) == 0 {
		return nil, nil, fmt.Errorf("from-run %s: %w", runDir, err)
	}
	accts, order, err := collect(recs)
	if err != nil {
		return nil, nil, fmt.Errorf("from-run %s: %w", runDir, err)
	}
	b := &builder{o: o, sum: &Summary{Orders: map[string]int{}}, names: map[string]string{}}
	doc := stateDoc{}
	for _, name := range order {
		a := accts[name]
		switch a.exchange {
		case "binance":
			if doc.Binance == nil {
				doc.Binance = &bState{Prices: map[string]string{}}
			}
			if err := b.binance(doc.Binance, a); err != nil {
				return nil, nil, err
			}
		case "kucoin":
			if doc.Kucoin == nil {
				doc.Kucoin = &kState{Prices: map[string]string{}}
			}
			b.kucoin(doc.Kucoin, a)
		default:
			b.sum.Notes = append(b.sum.Notes, fmt.Sprintf("account %s: exchange %q has no emulator venue; left out", name, a.exchange))
		}
	}
	if doc.Binance == nil && doc.Kucoin == nil {
		return nil, nil, fmt.Errorf("from-run %s: the trail records no balance snapshot or key inventory of any Binance or KuCoin account (run a playbook with snapshot.balances and keys.inventory first)", runDir)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, nil, fmt.Errorf("from-run: encode state: %w", err)
	}
	_ = enc.Close()
	body := buf.Bytes()
	head := fmt.Sprintf("# Emulator state rebuilt from the run %s by panicbutton emulator --from-run\n"+
		"# (format: internal/emulator/STATE.md). Every key is a fresh fake with the\n"+
		"# permissions and IP settings the run saw; no real id or secret is here.\n"+
		"# Approximated (the run does not record them): market prices (positions'\n"+
		"# mark prices, else an order's price), stop prices, KuCoin classic orders\n"+
		"# (as HF orders), and sub-account orders the run could not list.\n", runID(recs))
	if o.Anonymise {
		head += "# Names, labels and addresses are anonymised.\n"
	}
	for _, n := range b.sum.Notes {
		head += "# note: " + n + "\n"
	}
	if len(b.names) > 0 && o.Anonymise {
		b.sum.Renamed = b.names
	}
	return append([]byte(head), body...), b.sum, nil
}

func runID(recs []audit.Record) string {
	if len(recs) > 0 {
		return recs[0].RunID
	}
	return ""
}

// collect picks, per account, the first recorded read of each kind.
func collect(recs []audit.Record) (map[string]*recorded, []string, error) {
	accts := map[string]*recorded{}
	var order []string
	get := func(name string) *recorded {
		if a, ok := accts[name]; ok {
			return a
		}
		a := &recorded{name: name, noPass: map[string]bool{}}
		accts[name] = a
		order = append(order, name)
		return a
	}
	for _, r := range recs {
		if r.Phase == "start" {
			var st struct {
				Accounts []string `json:"accounts"`
			}
			if json.Unmarshal(r.Result, &st) == nil {
				for _, n := range st.Accounts {
					get(n)
				}
			}
			continue
		}
		if r.Phase != "info" || r.Account == "" || len(r.Result) == 0 {
			continue
		}
		var info struct {
			Data      json.RawMessage     `json:"data"`
			Changes   []executors.Change  `json:"changes"`
			Findings  []executors.Finding `json:"findings"`
			Remaining []executors.Change  `json:"remaining"`
		}
		if json.Unmarshal(r.Result, &info) != nil {
			continue
		}
		a := get(r.Account)
		hasData := len(info.Data) > 0 && string(info.Data) != "null"
		switch r.Action {
		case executors.SnapshotBalances:
			if a.snapshot == nil && hasData {
				var s executors.Snapshot
				if err := json.Unmarshal(info.Data, &s); err == nil {
					a.snapshot = &s
					if s.Exchange != "" {
						a.exchange = s.Exchange
					}
				}
			}
		case executors.KeysInventory:
			if a.keys == nil && hasData {
				_ = json.Unmarshal(info.Data, &a.keys)
			}
		case executors.OrdersList, executors.OrdersCancelAll:
			if a.haveOrders {
				continue
			}
			if hasData {
				var os []executors.Order
				if json.Unmarshal(info.Data, &os) == nil {
					a.orders, a.haveOrders = os, true
					continue
				}
			}
			if r.Action == executors.OrdersCancelAll && a.changes == nil {
				for _, c := range append(info.Changes, info.Remaining...) {
					if c.Product != "" && c.ID != "" && c.Kind == "cancel-order" {
						a.changes = append(a.changes, c)
					}
				}
			}
		case executors.WithdrawalsList, executors.WithdrawalsCancelPending:
			if a.withdrawals == nil && hasData {
				_ = json.Unmarshal(info.Data, &a.withdrawals)
			}
		case executors.KeysRevoke:
			for _, f := range info.Findings {
				if strings.Contains(f.Message, "no passphrase") {
					if i := strings.Index(f.Subject, "key "); i >= 0 {
						id := strings.Fields(f.Subject[i+4:])
						if len(id) > 0 {
							a.noPass[strings.TrimSuffix(id[0], ",")] = true
						}
					}
				}
			}
		}
	}
	for _, a := range accts {
		if a.exchange == "" {
			a.exchange = guessExchange(a.keys)
		}
	}
	if len(order) == 0 {
		return nil, nil, errors.New("the trail names no account")
	}
	return accts, order, nil
}

// guessExchange tells the venue from the inventory's permission names.
func guessExchange(keys []executors.Key) string {
	for _, k := range keys {
		for _, p := range k.Permissions {
			switch p {
			case "General", "Spot", "Futures", "Margin":
				return "kucoin"
			case "read", "spot_margin_trade":
				return "binance"
			}
		}
	}
	return ""
}

type builder struct {
	o     Options
	sum   *Summary
	names map[string]string // original -> state name (anonymised)
	nAcct int
}

// name returns the state name for an original name.
func (b *builder) name(orig, anon string) string {
	if !b.o.Anonymise {
		return orig
	}
	if n, ok := b.names[orig]; ok {
		return n
	}
	b.names[orig] = anon
	return anon
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randString(n int, alphabet string) string {
	out := make([]byte, n)
	for i := range out {
		v, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		out[i] = alphabet[v.Int64()]
	}
	return string(out)
}

func ptr[T any](v T) *T { return &v }

// when formats a recorded time for the state (RFC 3339), empty if unknown.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// dec normalises a decimal string ("" stays "").
func dec(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		return ""
	}
	return s
}

func isZero(s string) bool {
	f, err := strconv.ParseFloat(s, 64)
	return err != nil || f == 0
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
