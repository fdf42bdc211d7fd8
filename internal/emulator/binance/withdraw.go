package binance

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"sort"
	"sync"
	"time"
)

var (
	reMu    sync.Mutex
	reCache = map[string]*regexp.Regexp{}
)

// regexpMatch reports whether s matches the (cached) pattern.
func regexpMatch(pattern, s string) bool {
	reMu.Lock()
	re := reCache[pattern]
	if re == nil {
		re = regexp.MustCompile(pattern)
		reCache[pattern] = re
	}
	reMu.Unlock()
	return re.MatchString(s)
}

// network is one withdrawal network of a coin.
type network struct {
	Name, Label string
	Fee, Min    float64
	Default     bool
	AddressRE   string
}

// coinNetworks lists the networks of the coins the emulator knows well;
// any other coin of the state withdraws on a network named after it,
// with no fee.
var coinNetworks = map[string][]network{
	"BTC": {{Name: "BTC", Label: "Bitcoin", Fee: 0.00002, Min: 0.0001, Default: true, AddressRE: `^(bc1|[13])[a-zA-HJ-NP-Z0-9]{25,62}$`}},
	"ETH": {{Name: "ETH", Label: "Ethereum (ERC20)", Fee: 0.0008, Min: 0.0016, Default: true, AddressRE: `^(0x)[0-9A-Fa-f]{40}$`}},
	"USDT": {
		{Name: "ETH", Label: "Ethereum (ERC20)", Fee: 3.5, Min: 10, Default: true, AddressRE: `^(0x)[0-9A-Fa-f]{40}$`},
		{Name: "TRX", Label: "Tron (TRC20)", Fee: 1, Min: 10, AddressRE: `^T[1-9A-HJ-NP-Za-km-z]{33}$`},
		{Name: "BSC", Label: "BNB Smart Chain (BEP20)", Fee: 0.29, Min: 10, AddressRE: `^(0x)[0-9A-Fa-f]{40}$`},
	},
	"USDC": {{Name: "ETH", Label: "Ethereum (ERC20)", Fee: 3.5, Min: 10, Default: true, AddressRE: `^(0x)[0-9A-Fa-f]{40}$`}},
	"BNB":  {{Name: "BSC", Label: "BNB Smart Chain (BEP20)", Fee: 0.0005, Min: 0.01, Default: true, AddressRE: `^(0x)[0-9A-Fa-f]{40}$`}},
}

// networksOf is the withdrawal networks of coin.
func networksOf(coin string) []network {
	if n, ok := coinNetworks[coin]; ok {
		return n
	}
	return []network{{Name: coin, Label: coin, Default: true}}
}

// coins is every asset the state mentions, sorted.
func (st *state) coins() []string {
	set := map[string]bool{}
	for sym := range st.prices {
		if base, quote, ok := splitSymbol(pairOf(sym)); ok {
			set[base] = true
			set[quote] = true
		}
	}
	for _, a := range st.accounts {
		for _, m := range []map[string]*bal{a.Spot, a.Funding, a.Margin} {
			for asset := range m {
				set[asset] = true
			}
		}
		for _, w := range a.Withdrawals {
			set[w.Coin] = true
		}
	}
	delete(set, "USD")
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// withdrawProcessing is how long an API withdrawal stays "processing"
// (status 4) before it completes (6) on the emulator clock.
const withdrawProcessing = 2 * time.Minute

// advanceWithdrawals completes the API withdrawals whose processing time
// has passed on the emulator clock.
func (v *Venue) advanceWithdrawals(now time.Time) {
	for _, a := range v.st.accounts {
		for _, w := range a.Withdrawals {
			if w.auto && w.Status == 4 && !now.Before(w.Completed) {
				w.Status = 6
				w.TxID = "0x" + hex.EncodeToString([]byte(w.ID))[:64]
			}
		}
	}
}

// handleWithdraw is POST /sapi/v1/capital/withdraw/apply. The key needs
// the withdrawals permission and, as on Binance, an IP restriction; the
// account's whitelist (when on) limits the addresses; the amount (fee
// included) comes out of the spot wallet (walletType 0, default) or the
// funding wallet (1) at once.
func handleWithdraw(c *call) {
	p := c.p
	if !c.key.IPRestrict {
		// Binance only lets IP-restricted keys withdraw.
		c.rejectKey()
		return
	}
	for _, name := range []string{"coin", "address", "amount"} {
		if p.Get(name) == "" {
			c.mandatory(name)
			return
		}
	}
	coin, address := p.Get("coin"), p.Get("address")
	amount, _, ok := c.decimal("amount")
	if !ok {
		return
	}
	known := false
	for _, x := range c.st.coins() {
		known = known || x == coin
	}
	if !known {
		c.fail(http.StatusBadRequest, -4018, "We don't support this asset.")
		return
	}
	var net *network
	for _, n := range networksOf(coin) {
		n := n
		if (p.Get("network") == "" && n.Default) || n.Name == p.Get("network") {
			net = &n
		}
	}
	if net == nil {
		c.fail(http.StatusBadRequest, -4019, "Current asset is not open for withdrawal.")
		return
	}
	if net.AddressRE != "" && !regexpMatch(net.AddressRE, address) {
		c.fail(http.StatusBadRequest, -4007, "Address validation is not passed.")
		return
	}
	a := c.acct
	if a.Whitelist != nil && !contains(a.Whitelist, address) {
		c.fail(http.StatusBadRequest, -4007, "Address validation is not passed.")
		return
	}
	if amount < net.Min {
		c.fail(http.StatusBadRequest, -4022, fmt.Sprintf("Not less than the minimum pick-up quantity %s.", fnum(net.Min)))
		return
	}
	if amount <= net.Fee {
		c.fail(http.StatusBadRequest, -4028, "The amount of withdrawal must be greater than the Commission.")
		return
	}
	wallet := a.Spot
	switch p.Get("walletType") {
	case "", "0":
	case "1":
		wallet = a.Funding
	default:
		c.fail(http.StatusBadRequest, -1102, "Param 'walletType' must be 0 or 1.")
		return
	}
	b := wallet[coin]
	if b == nil || b.Free+1e-12 < amount {
		c.fail(http.StatusBadRequest, -4026, "You have insufficient balance.")
		return
	}
	b.Free = math.Max(0, b.Free-amount)
	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	w := &withdrawal{ID: hex.EncodeToString(raw), Coin: coin, Network: net.Name, Amount: amount - net.Fee, Fee: net.Fee,
		Address: address, Status: 4, WithdrawOrderID: p.Get("withdrawOrderId"), Applied: c.now,
		Completed: c.now.Add(withdrawProcessing), auto: true}
	a.Withdrawals = append(a.Withdrawals, w)
	c.ok(obj{"id": w.ID})
}
