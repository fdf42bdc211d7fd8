package bench

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// Size is the shape of a generated state: how many accounts of each
// exchange and what each of them holds. Every account has the same shape.
type Size struct {
	BinanceAccounts    int
	BinanceSpotSymbols int // symbols with open spot orders (SpotOrdersPerSymbol each)
	BinanceUSDMSymbols int // symbols with one open USDⓈ-M order
	BinanceSubs        int // sub-accounts, each with BinanceKeysPerSub API keys
	BinanceKeysPerSub  int

	KucoinAccounts       int
	KucoinHFSymbols      int // symbols with open HF spot orders (SpotOrdersPerSymbol each)
	KucoinFuturesSymbols int // contracts with one open futures order
	KucoinSubs           int // sub-accounts, each with KucoinKeysPerSub API keys
	KucoinKeysPerSub     int
}

// SubWithOrdersEvery: every this many sub-accounts of a master (the 1st,
// the 5th, …) holds open orders of its own, so that freeze-sub-accounts
// has work: on Binance a spot and a USDⓈ-M order (with a USDⓈ-M wallet),
// on KuCoin a bid and an ask on HF spot. The master's key cannot cancel
// them: it takes a key of the sub-account.
const SubWithOrdersEvery = 4

// SubOrdersPerSub is how many open orders such a sub-account holds.
const SubOrdersPerSub = 2

// SpotOrdersPerSymbol is how many open spot orders each symbol has (a bid
// and an ask, as a market-making bot would leave them).
const SpotOrdersPerSymbol = 2

// Full is the size of issue 6's benchmark: 4 Binance accounts (60 spot
// symbols, 20 USDⓈ-M symbols, 12 sub-account keys: 4 sub-accounts × 3
// keys) and 3 KuCoin accounts (40 HF symbols, 10 futures symbols, 8 sub
// keys: 4 sub-accounts × 2 keys).
var Full = Size{
	BinanceAccounts: 4, BinanceSpotSymbols: 60, BinanceUSDMSymbols: 20, BinanceSubs: 4, BinanceKeysPerSub: 3,
	KucoinAccounts: 3, KucoinHFSymbols: 40, KucoinFuturesSymbols: 10, KucoinSubs: 4, KucoinKeysPerSub: 2,
}

// IPShared is issue 12's shape: many accounts behind one IP and many
// sub-accounts per master — 12 Binance masters with 20 sub-accounts each
// (2 keys per sub: 480 sub keys) and 8 KuCoin masters with 16 (2 keys:
// 256), every master with Full's symbols.
var IPShared = Size{
	BinanceAccounts: 12, BinanceSpotSymbols: 60, BinanceUSDMSymbols: 20, BinanceSubs: 20, BinanceKeysPerSub: 2,
	KucoinAccounts: 8, KucoinHFSymbols: 40, KucoinFuturesSymbols: 10, KucoinSubs: 16, KucoinKeysPerSub: 2,
}

// Scaled returns Full with every per-account count (symbols, sub-accounts)
// multiplied by f, rounded up, at least 1; the number of accounts and of
// keys per sub-account stay the same.
func Scaled(f float64) Size {
	n := func(x int) int { return max(1, int(math.Ceil(float64(x)*f))) }
	s := Full
	s.BinanceSpotSymbols, s.BinanceUSDMSymbols, s.BinanceSubs = n(s.BinanceSpotSymbols), n(s.BinanceUSDMSymbols), n(s.BinanceSubs)
	s.KucoinHFSymbols, s.KucoinFuturesSymbols, s.KucoinSubs = n(s.KucoinHFSymbols), n(s.KucoinFuturesSymbols), n(s.KucoinSubs)
	return s
}

// Orders is how many open orders the configured (master) accounts hold.
func (s Size) Orders() int {
	return s.BinanceAccounts*(s.BinanceSpotSymbols*SpotOrdersPerSymbol+s.BinanceUSDMSymbols) +
		s.KucoinAccounts*(s.KucoinHFSymbols*SpotOrdersPerSymbol+s.KucoinFuturesSymbols)
}

// SubOrders is how many open orders the sub-accounts hold.
func (s Size) SubOrders() int {
	with := func(subs int) int { return (subs + SubWithOrdersEvery - 1) / SubWithOrdersEvery }
	n := s.BinanceAccounts * with(s.BinanceSubs)
	if s.KucoinHFSymbols > 0 {
		n += s.KucoinAccounts * with(s.KucoinSubs)
	}
	return n * SubOrdersPerSub
}

// SubKeys is how many sub-account API keys the state holds.
func (s Size) SubKeys() int {
	return s.BinanceAccounts*s.BinanceSubs*s.BinanceKeysPerSub + s.KucoinAccounts*s.KucoinSubs*s.KucoinKeysPerSub
}

// base returns a three-letter coin name for i (BAA, BAB, …), distinct from
// every real coin the venues know by default.
func base(i int) string {
	return string([]byte{'B' + byte(i/676%20), 'A' + byte(i/26%26), 'A' + byte(i%26)})
}

// alnum returns a deterministic letters-and-digits string of length n.
func alnum(seed string, n int) string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	h := uint64(14695981039346656037)
	for _, c := range []byte(seed) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	out := make([]byte, n)
	for i := range out {
		h ^= h >> 33
		h *= 0xff51afd7ed558ccd
		h ^= h >> 29
		out[i] = chars[h%uint64(len(chars))]
	}
	return string(out)
}

func hex24(seed string) string {
	const chars = "0123456789abcdef"
	a := alnum(seed, 24)
	out := make([]byte, len(a))
	for i := range a {
		out[i] = chars[int(a[i])%16]
	}
	return string(out)
}

type m = map[string]any

// State returns the emulator state of size s as YAML (format:
// internal/emulator/STATE.md, "Binance venue" and "KuCoin venue"). The
// configured accounts are the masters; their keys have every permission
// the playbook needs (trading on every product, sub-account management,
// transfers), and every KuCoin sub key is exported with its passphrase so
// that the master can delete it.
func State(s Size) ([]byte, error) {
	doc := m{}
	if s.BinanceAccounts > 0 {
		doc["binance"] = binanceState(s)
	}
	if s.KucoinAccounts > 0 {
		doc["kucoin"] = kucoinState(s)
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode generated state: %w", err)
	}
	return out, nil
}

// WriteState writes State(s) to dir/state.yaml and returns its path.
func WriteState(dir string, s Size) (string, error) {
	data, err := State(s)
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "state.yaml")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		return "", fmt.Errorf("write generated state: %w", err)
	}
	return p, nil
}

func binanceState(s Size) m {
	prices := m{}
	nsym := max(s.BinanceSpotSymbols, s.BinanceUSDMSymbols)
	for i := range nsym {
		prices[base(i)+"USDT"] = 10 + i
	}
	var accounts []m
	for a := range s.BinanceAccounts {
		name := fmt.Sprintf("bn%d-master", a+1)
		var spot, usdm []m
		for i := range s.BinanceSpotSymbols {
			sym := base(i) + "USDT"
			spot = append(spot,
				m{"symbol": sym, "side": "BUY", "price": 5 + i, "qty": 1},
				m{"symbol": sym, "side": "SELL", "price": 20 + i, "qty": 1})
		}
		for i := range s.BinanceUSDMSymbols {
			usdm = append(usdm, m{"symbol": base(i) + "USDT", "side": "BUY", "price": 5 + i, "qty": 1})
		}
		accounts = append(accounts, m{
			"name": name, "uid": 500000000 + a*1000, "master": true, "created": "-400d",
			"keys": []m{{
				"api_key": alnum(name+"/key", 64), "secret": alnum(name+"/secret", 64), "label": "ops",
				"permissions": []string{"reading", "spot", "margin", "futures", "internal_transfer", "universal_transfer"},
				"ips":         []string{"127.0.0.1"}, "created": "-100d",
			}},
			"spot":   m{"USDT": 1000000},
			"usdm":   m{"USDT": 100000},
			"orders": m{"spot": spot, "usdm": usdm},
		})
		for j := range s.BinanceSubs {
			sub := fmt.Sprintf("bn%d-sub%02d", a+1, j+1)
			var keys []m
			for k := range s.BinanceKeysPerSub {
				kn := fmt.Sprintf("%s-k%d", sub, k+1)
				keys = append(keys, m{"api_key": alnum(kn+"/key", 64), "secret": alnum(kn+"/secret", 64), "label": kn,
					"permissions": []string{"reading", "spot"}, "created": "-30d"})
			}
			acct := m{"name": sub, "uid": 500000000 + a*1000 + j + 1, "parent": name,
				"created": "-300d", "keys": keys, "spot": m{"USDT": 1000}}
			if j%SubWithOrdersEvery == 0 {
				sym := base(j%nsym) + "USDT"
				acct["usdm"] = m{"USDT": 10000}
				acct["orders"] = m{
					"spot": []m{{"symbol": sym, "side": "BUY", "price": 5 + j%nsym, "qty": 1}},
					"usdm": []m{{"symbol": sym, "side": "BUY", "price": 5 + j%nsym, "qty": 1}},
				}
			}
			accounts = append(accounts, acct)
		}
	}
	return m{"prices": prices, "accounts": accounts}
}

func kucoinState(s Size) m {
	prices := m{}
	for i := range s.KucoinHFSymbols {
		prices[base(i)+"-USDT"] = fmt.Sprint(10 + i)
	}
	var masters []m
	for a := range s.KucoinAccounts {
		name := fmt.Sprintf("kc%d-master", a+1)
		var hf, futures []m
		for i := range s.KucoinHFSymbols {
			sym := base(i) + "-USDT"
			hf = append(hf,
				m{"symbol": sym, "side": "buy", "price": fmt.Sprint(5 + i), "size": "1"},
				m{"symbol": sym, "side": "sell", "price": fmt.Sprint(20 + i), "size": "1"})
		}
		for i := range s.KucoinFuturesSymbols {
			futures = append(futures, m{"symbol": base(i) + "USDTM", "side": "buy", "price": fmt.Sprint(5 + i), "size": 1, "leverage": "2"})
		}
		var subs []m
		for j := range s.KucoinSubs {
			sub := fmt.Sprintf("kc%dsub%02d", a+1, j+1)
			var keys []m
			for k := range s.KucoinKeysPerSub {
				kn := fmt.Sprintf("%s-k%d", sub, k+1)
				keys = append(keys, m{"api_key": hex24(kn + "/key"), "secret": alnum(kn+"/secret", 32),
					"passphrase": alnum(kn+"/pass", 12), "version": 3, "permission": "General,Spot",
					"remark": kn, "export": true})
			}
			su := m{"name": sub, "uid": 700000000 + a*1000 + j + 1, "access": "Spot", "keys": keys,
				"balances": m{"main": m{"USDT": "100"}}}
			if j%SubWithOrdersEvery == 0 && s.KucoinHFSymbols > 0 {
				i := j % s.KucoinHFSymbols
				sym := base(i) + "-USDT"
				su["balances"] = m{"main": m{"USDT": "100"}, "trade_hf": m{"USDT": "1000", base(i): "10"}}
				su["orders"] = m{"hf": []m{
					{"symbol": sym, "side": "buy", "price": fmt.Sprint(5 + i), "size": "1"},
					{"symbol": sym, "side": "sell", "price": fmt.Sprint(20 + i), "size": "1"},
				}}
			}
			subs = append(subs, su)
		}
		masters = append(masters, m{
			"name": name, "uid": 600000000 + a*1000,
			"keys": []m{{
				"api_key": hex24(name + "/key"), "secret": alnum(name+"/secret", 32), "passphrase": alnum(name+"/pass", 12),
				"version": 3, "permission": "General,Spot,Margin,Futures,InnerTransfer,Transfer",
				"ip_whitelist": []string{"127.0.0.1", "::1"}, "remark": "ops", "export": true,
			}},
			"balances": m{"main": m{"USDT": "100000"}, "trade_hf": m{"USDT": "1000000"}},
			"orders":   m{"hf": hf},
			"futures":  m{"accounts": m{"USDT": m{"balance": "100000"}}, "orders": futures},
			"subs":     subs,
		})
	}
	// cancel_delay 0: cancels take effect at once. The venue's default
	// (150 ms, KuCoin's asynchronous cancels) is server-side processing
	// time, which the round-trip bound does not model.
	return m{"cancel_delay": "0s", "prices": prices, "masters": masters}
}
