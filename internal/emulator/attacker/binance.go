package attacker

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

// binanceBot attacks the Binance venue with one key.
type binanceBot struct {
	a    *Attacker
	cred emu.Credential
	sign func(payload string) (string, error)

	targets  []target // orders, one product after another
	withdraw *target  // nil: the key may not withdraw (or nothing to take)
	blindly  bool     // targets were set blind (the key could not read)
}

// target is one request the attacker repeats.
type target struct {
	action string // spot-order, margin-order, isolated-order, usdm-order, coinm-order, withdraw, create-key
	method string
	path   string
	params url.Values
	// KuCoin: the host prefix ("/kucoin" or "/kucoin-futures") and the JSON
	// body (a fresh clientOid is added to each order).
	host string
	body map[string]any
}

func newBinance(a *Attacker, cred emu.Credential) (*binanceBot, error) {
	b := &binanceBot{a: a, cred: cred}
	switch cred.Type {
	case "", "hmac":
		secret := []byte(cred.Secret)
		b.sign = func(p string) (string, error) {
			m := hmac.New(sha256.New, secret)
			m.Write([]byte(p))
			return hex.EncodeToString(m.Sum(nil)), nil
		}
	case "ed25519", "rsa":
		blk, _ := pem.Decode([]byte(cred.Secret))
		if blk == nil {
			return nil, fmt.Errorf("binance key %s: no private key to sign with", mask(cred.APIKey))
		}
		var priv any
		var err error
		if blk.Type == "RSA PRIVATE KEY" {
			priv, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		} else {
			priv, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		}
		if err != nil {
			return nil, fmt.Errorf("binance key %s: private key: %w", mask(cred.APIKey), err)
		}
		switch k := priv.(type) {
		case ed25519.PrivateKey:
			b.sign = func(p string) (string, error) {
				return base64.StdEncoding.EncodeToString(ed25519.Sign(k, []byte(p))), nil
			}
		case *rsa.PrivateKey:
			b.sign = func(p string) (string, error) {
				h := sha256.Sum256([]byte(p))
				sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, h[:])
				return base64.StdEncoding.EncodeToString(sig), err
			}
		default:
			return nil, fmt.Errorf("binance key %s: unsupported private key %T", mask(cred.APIKey), priv)
		}
	default:
		return nil, fmt.Errorf("binance key %s: unknown key type %q", mask(cred.APIKey), cred.Type)
	}
	return b, nil
}

func mask(k string) string {
	if len(k) <= 8 {
		return "****"
	}
	return k[:4] + "…" + k[len(k)-4:]
}

// request builds a Binance request; signed ones carry timestamp,
// recvWindow and signature in the query, as the SDKs send them.
func (b *binanceBot) request(method, path string, params url.Values, signed bool) (*http.Request, error) {
	q := url.Values{}
	for k, v := range params {
		q[k] = v
	}
	raw := q.Encode()
	if signed {
		if raw != "" {
			raw += "&"
		}
		raw += "recvWindow=5000&timestamp=" + strconv.FormatInt(b.a.cfg.Now().UnixMilli(), 10)
		sig, err := b.sign(raw)
		if err != nil {
			return nil, err
		}
		raw += "&signature=" + url.QueryEscape(sig)
	}
	u := b.a.cfg.BaseURL + "/binance" + path
	if raw != "" {
		u += "?" + raw
	}
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-MBX-APIKEY", b.cred.APIKey)
	return req, nil
}

func binanceRefusal(status int, body []byte) string {
	if status < 300 {
		return ""
	}
	var e struct {
		Code json.Number `json:"code"`
		Msg  string      `json:"msg"`
	}
	if err := decode(body, &e); err == nil && e.Code != "" {
		return fmt.Sprintf("HTTP %d %s %s", status, e.Code, e.Msg)
	}
	return fmt.Sprintf("HTTP %d", status)
}

// get performs a discovery read and decodes its answer.
func (b *binanceBot) get(ctx context.Context, path string, params url.Values, signed bool, v any) error {
	req, err := b.request(http.MethodGet, path, params, signed)
	if err != nil {
		return err
	}
	b.a.countRead()
	o := b.a.send(ctx, "discover", req, binanceRefusal)
	if o.err != nil {
		return o.err
	}
	if o.refuse != "" {
		return errors.New(o.refuse)
	}
	return decode(o.body, v)
}

func (b *binanceBot) act(ctx context.Context, n int) {
	var t *target
	switch {
	case b.withdraw != nil && b.a.spec.Withdraw && n%10 == 9:
		t = b.withdraw
	case len(b.targets) > 0:
		t = &b.targets[n%len(b.targets)]
	case b.withdraw != nil && b.a.spec.Withdraw:
		t = b.withdraw
	default:
		return
	}
	req, err := b.request(t.method, t.path, t.params, true)
	b.a.attempt(ctx, b.cred.APIKey, t.action, req, err, binanceRefusal)
}

// filters of one symbol, from exchangeInfo.
type symInfo struct {
	Symbol       string `json:"symbol"`
	BaseAsset    string `json:"baseAsset"`
	QuoteAsset   string `json:"quoteAsset"`
	MarginAsset  string `json:"marginAsset"`
	ContractSize json.Number
	Margin       bool             `json:"isMarginTradingAllowed"`
	Filters      []map[string]any `json:"filters"`
	tick, step   string
	minQty       float64
	minNotional  float64
}

func (s *symInfo) load() {
	for _, f := range s.Filters {
		str := func(k string) string { v, _ := f[k].(string); return v }
		num := func(k string) float64 {
			switch v := f[k].(type) {
			case string:
				x, _ := strconv.ParseFloat(v, 64)
				return x
			case json.Number:
				x, _ := v.Float64()
				return x
			}
			return 0
		}
		switch f["filterType"] {
		case "PRICE_FILTER":
			s.tick = str("tickSize")
		case "LOT_SIZE":
			s.step = str("stepSize")
			s.minQty = num("minQty")
		case "NOTIONAL":
			s.minNotional = num("minNotional")
		case "MIN_NOTIONAL":
			s.minNotional = num("notional")
		}
	}
}

type price struct {
	Symbol string      `json:"symbol"`
	Price  json.Number `json:"price"`
}

// discover reads what the key may do and which balances it can use, and
// sets the targets: one order per product and symbol it can fund (up to
// three symbols a product), and a withdrawal when the key may withdraw.
func (b *binanceBot) discover(ctx context.Context) {
	var perms struct {
		Withdraw bool `json:"enableWithdrawals"`
		Spot     bool `json:"enableSpotAndMarginTrading"`
		Futures  bool `json:"enableFutures"`
	}
	if err := b.get(ctx, "/sapi/v1/account/apiRestrictions", nil, true, &perms); err != nil {
		if len(b.targets) == 0 && b.withdraw == nil {
			// A bot holding a key it cannot read with fires blind.
			b.blind(ctx)
		}
		b.a.setFound(b.products(), "cannot read the key's permissions: "+err.Error())
		return
	}
	var targets []target
	var notes []string
	if perms.Spot {
		spot, margin, iso, note := b.discoverSpot(ctx)
		targets = append(targets, spot...)
		targets = append(targets, margin...)
		targets = append(targets, iso...)
		notes = append(notes, note...)
	}
	if perms.Futures {
		for _, coinm := range []bool{false, true} {
			t, note := b.discoverFutures(ctx, coinm)
			targets = append(targets, t...)
			notes = append(notes, note...)
		}
	}
	b.targets, b.blindly = interleave(targets), false
	b.withdraw = nil
	if perms.Withdraw {
		w, note := b.discoverWithdraw(ctx)
		b.withdraw = w
		notes = append(notes, note...)
	}
	if !perms.Spot && !perms.Futures {
		notes = append(notes, "the key has no trading permission")
	}
	b.a.setFound(b.products(), strings.Join(notes, "; "))
}

func (b *binanceBot) products() []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range b.targets {
		p := strings.TrimSuffix(t.action, "-order")
		if b.blindly {
			p += " (blind)"
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if b.withdraw != nil {
		out = append(out, "withdraw")
	}
	return out
}

// blind sets one spot order on the first listed symbol: what a bot whose
// key answers nothing keeps trying.
func (b *binanceBot) blind(ctx context.Context) {
	var info struct {
		Symbols []symInfo `json:"symbols"`
	}
	if err := b.get(ctx, "/api/v3/exchangeInfo", nil, false, &info); err != nil || len(info.Symbols) == 0 {
		return
	}
	var prices []price
	s := info.Symbols[0]
	s.load()
	px := 1.0
	if err := b.get(ctx, "/api/v3/ticker/price", nil, false, &prices); err == nil {
		for _, p := range prices {
			if p.Symbol == s.Symbol {
				px, _ = p.Price.Float64()
			}
		}
	}
	if t, ok := orderTarget("spot-order", "/api/v3/order", s, px, "BUY", nil); ok {
		b.targets, b.blindly = []target{t}, true
	}
}

// orderTarget is a resting LIMIT order: a BUY 10 % under the price (3 %
// for futures, whose band is 5 %), or a SELL 10 % over, sized at twice the
// minimum notional (futures: 1.2 times; COIN-M: one contract).
func orderTarget(action, path string, s symInfo, px float64, side string, extra url.Values) (target, bool) {
	if px <= 0 || s.tick == "" || s.step == "" {
		return target{}, false
	}
	off := 0.10
	if action == "usdm-order" || action == "coinm-order" {
		off = 0.03
	}
	p := px * (1 - off)
	if side == "SELL" {
		p = px * (1 + off)
	}
	var qty float64
	if action == "coinm-order" {
		qty = 1
	} else {
		notional := s.minNotional * 2
		if action == "usdm-order" {
			notional = s.minNotional * 1.2
		}
		if notional <= 0 {
			notional = 10
		}
		qty = math.Max(notional/p, s.minQty)
	}
	params := url.Values{
		"symbol": {s.Symbol}, "side": {side}, "type": {"LIMIT"}, "timeInForce": {"GTC"},
		"price": {roundTo(p, s.tick, false)}, "quantity": {roundTo(qty, s.step, true)},
	}
	for k, v := range extra {
		params[k] = v
	}
	return target{action: action, method: http.MethodPost, path: path, params: params}, true
}

// roundTo rounds x to a multiple of step (a decimal string), up or down.
func roundTo(x float64, step string, up bool) string {
	st, err := strconv.ParseFloat(step, 64)
	if err != nil || st <= 0 {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	n := x / st
	if up {
		n = math.Ceil(n - 1e-9)
	} else {
		n = math.Floor(n + 1e-9)
	}
	if n < 1 {
		n = 1
	}
	dec := 0
	if i := strings.IndexByte(step, '.'); i >= 0 {
		dec = len(strings.TrimRight(step[i+1:], "0"))
	}
	return strconv.FormatFloat(n*st, 'f', dec, 64)
}

func num(v json.Number) float64 {
	f, _ := v.Float64()
	return f
}

// fund picks, for up to three symbols, the side the balances can pay for.
func fund(syms []symInfo, prices map[string]float64, free func(asset string) float64, action, path string, extra url.Values, ok func(symInfo) bool) []target {
	var out []target
	for _, s := range syms {
		if len(out) == 3 {
			break
		}
		if ok != nil && !ok(s) {
			continue
		}
		px := prices[s.Symbol]
		buy, okb := orderTarget(action, path, s, px, "BUY", extra)
		if !okb {
			continue
		}
		q, _ := strconv.ParseFloat(buy.params.Get("quantity"), 64)
		bp, _ := strconv.ParseFloat(buy.params.Get("price"), 64)
		if free(s.QuoteAsset) >= q*bp*1.01 {
			out = append(out, buy)
			continue
		}
		if sell, oks := orderTarget(action, path, s, px, "SELL", extra); oks {
			q, _ := strconv.ParseFloat(sell.params.Get("quantity"), 64)
			if free(s.BaseAsset) >= q {
				out = append(out, sell)
			}
		}
	}
	return out
}

func (b *binanceBot) discoverSpot(ctx context.Context) (spot, margin, iso []target, notes []string) {
	var info struct {
		Symbols []symInfo `json:"symbols"`
	}
	var prices []price
	if err := b.get(ctx, "/api/v3/exchangeInfo", nil, false, &info); err != nil {
		return nil, nil, nil, []string{"spot exchangeInfo: " + err.Error()}
	}
	if err := b.get(ctx, "/api/v3/ticker/price", nil, false, &prices); err != nil {
		return nil, nil, nil, []string{"spot prices: " + err.Error()}
	}
	px := map[string]float64{}
	for _, p := range prices {
		px[p.Symbol] = num(p.Price)
	}
	for i := range info.Symbols {
		info.Symbols[i].load()
	}
	var acct struct {
		Balances []struct {
			Asset string      `json:"asset"`
			Free  json.Number `json:"free"`
		} `json:"balances"`
	}
	if err := b.get(ctx, "/api/v3/account", nil, true, &acct); err != nil {
		notes = append(notes, "spot account: "+err.Error())
	} else {
		bal := map[string]float64{}
		for _, x := range acct.Balances {
			bal[x.Asset] = num(x.Free)
		}
		spot = fund(info.Symbols, px, func(a string) float64 { return bal[a] }, "spot-order", "/api/v3/order", nil, nil)
	}
	var m struct {
		Assets []struct {
			Asset string      `json:"asset"`
			Free  json.Number `json:"free"`
		} `json:"userAssets"`
	}
	if err := b.get(ctx, "/sapi/v1/margin/account", nil, true, &m); err == nil {
		bal := map[string]float64{}
		for _, x := range m.Assets {
			bal[x.Asset] = num(x.Free)
		}
		margin = fund(info.Symbols, px, func(a string) float64 { return bal[a] }, "margin-order", "/sapi/v1/margin/order", nil,
			func(s symInfo) bool { return s.Margin })
	}
	var ia struct {
		Assets []struct {
			Symbol string `json:"symbol"`
			Base   struct {
				Asset string      `json:"asset"`
				Free  json.Number `json:"free"`
			} `json:"baseAsset"`
			Quote struct {
				Asset string      `json:"asset"`
				Free  json.Number `json:"free"`
			} `json:"quoteAsset"`
		} `json:"assets"`
	}
	if err := b.get(ctx, "/sapi/v1/margin/isolated/account", nil, true, &ia); err == nil {
		bySym := map[string]symInfo{}
		for _, s := range info.Symbols {
			bySym[s.Symbol] = s
		}
		for _, pair := range ia.Assets {
			s, ok := bySym[pair.Symbol]
			if !ok {
				continue
			}
			bal := map[string]float64{pair.Base.Asset: num(pair.Base.Free), pair.Quote.Asset: num(pair.Quote.Free)}
			iso = append(iso, fund([]symInfo{s}, px, func(a string) float64 { return bal[a] }, "isolated-order",
				"/sapi/v1/margin/order", url.Values{"isIsolated": {"TRUE"}}, nil)...)
			if len(iso) == 3 {
				break
			}
		}
	}
	return spot, margin, iso, notes
}

func (b *binanceBot) discoverFutures(ctx context.Context, coinm bool) ([]target, []string) {
	prefix, action, balPath := "/fapi/v1", "usdm-order", "/fapi/v2/balance"
	if coinm {
		prefix, action, balPath = "/dapi/v1", "coinm-order", "/dapi/v1/balance"
	}
	var bals []struct {
		Asset     string      `json:"asset"`
		Available json.Number `json:"availableBalance"`
	}
	if err := b.get(ctx, balPath, nil, true, &bals); err != nil {
		return nil, []string{action + ": " + err.Error()}
	}
	avail := map[string]float64{}
	funded := false
	for _, x := range bals {
		avail[x.Asset] = num(x.Available)
		funded = funded || avail[x.Asset] > 0
	}
	if !funded {
		return nil, nil
	}
	var info struct {
		Symbols []symInfo `json:"symbols"`
	}
	var prices []price
	if err := b.get(ctx, prefix+"/exchangeInfo", nil, false, &info); err != nil {
		return nil, []string{action + " exchangeInfo: " + err.Error()}
	}
	if err := b.get(ctx, prefix+"/ticker/price", nil, false, &prices); err != nil {
		return nil, []string{action + " prices: " + err.Error()}
	}
	px := map[string]float64{}
	for _, p := range prices {
		px[p.Symbol] = num(p.Price)
	}
	var dual struct {
		Dual bool `json:"dualSidePosition"`
	}
	_ = b.get(ctx, prefix+"/positionSide/dual", nil, true, &dual)
	var extra url.Values
	if dual.Dual {
		extra = url.Values{"positionSide": {"LONG"}}
	}
	var out []target
	sort.Slice(info.Symbols, func(i, j int) bool { return info.Symbols[i].Symbol < info.Symbols[j].Symbol })
	for _, s := range info.Symbols {
		if len(out) == 3 {
			break
		}
		s.load()
		t, ok := orderTarget(action, prefix+"/order", s, px[s.Symbol], "BUY", extra)
		if !ok {
			continue
		}
		p, _ := strconv.ParseFloat(t.params.Get("price"), 64)
		q, _ := strconv.ParseFloat(t.params.Get("quantity"), 64)
		if coinm {
			// One contract's margin at 5x, in the margin coin.
			cs := num(s.ContractSize)
			if cs <= 0 || avail[s.MarginAsset] < cs/p/5 {
				continue
			}
		} else if avail[s.MarginAsset] < q*p/5 {
			continue
		}
		out = append(out, t)
	}
	return out, nil
}

// outsideAddresses are the attacker's own addresses, one per address
// family; the first that fits the network's pattern is used.
var outsideAddresses = []string{
	"0xa77ac4e5a77ac4e5a77ac4e5a77ac4e5a77ac4e5",
	"bc1qa77ac4e5a77ac4e5a77ac4e5a77ac4e5a77ac4",
	"TA77ac4e5A77ac4e5A77ac4e5A77ac4e5Z",
}

func (b *binanceBot) discoverWithdraw(ctx context.Context) (*target, []string) {
	var coins []struct {
		Coin     string      `json:"coin"`
		Free     json.Number `json:"free"`
		Networks []struct {
			Network string      `json:"network"`
			Enabled bool        `json:"withdrawEnable"`
			Min     json.Number `json:"withdrawMin"`
			Fee     json.Number `json:"withdrawFee"`
			Regex   string      `json:"addressRegex"`
		} `json:"networkList"`
	}
	if err := b.get(ctx, "/sapi/v1/capital/config/getall", nil, true, &coins); err != nil {
		return nil, []string{"withdraw: " + err.Error()}
	}
	for _, c := range coins {
		for _, n := range c.Networks {
			if !n.Enabled {
				continue
			}
			amount := math.Max(num(n.Min), 2*num(n.Fee))
			if amount <= 0 {
				// No minimum and no fee: a hundredth of what is there.
				amount = math.Floor(num(c.Free)*1e6) / 1e8
			}
			if amount <= 0 || num(c.Free) < amount {
				continue
			}
			addr := b.a.spec.Address
			if addr == "" {
				addr = pickAddress(n.Regex)
			}
			if addr == "" {
				continue
			}
			return &target{action: "withdraw", method: http.MethodPost, path: "/sapi/v1/capital/withdraw/apply",
				params: url.Values{"coin": {c.Coin}, "network": {n.Network}, "address": {addr},
					"amount": {strconv.FormatFloat(amount, 'f', -1, 64)}}}, nil
		}
	}
	return nil, []string{"withdraw: no coin with enough free balance"}
}

func pickAddress(pattern string) string {
	re, err := regexp.Compile(pattern)
	for _, a := range outsideAddresses {
		if pattern == "" || (err == nil && re.MatchString(a)) {
			return a
		}
	}
	return ""
}

// interleave orders targets so that consecutive actions hit different
// products (spot, margin, usdm, spot, margin, usdm, …).
func interleave(ts []target) []target {
	groups := map[string][]target{}
	var order []string
	for _, t := range ts {
		if _, ok := groups[t.action]; !ok {
			order = append(order, t.action)
		}
		groups[t.action] = append(groups[t.action], t)
	}
	var out []target
	for i := 0; len(out) < len(ts); i++ {
		for _, g := range order {
			if i < len(groups[g]) {
				out = append(out, groups[g][i])
			}
		}
	}
	return out
}
