package fake

import (
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// Demo account names and their master keys (public ids) in DemoVenue.
const (
	DemoBinance = "binance-demo"
	DemoKuCoin  = "kucoin-demo"

	demoBinanceMaster = "bnDEMOmasterKEY0000000000000000000000000000000000000000000000a1"
	demoKuCoinMaster  = "6650demo0000000000master"
)

// DemoVenue returns a realistic small fund, with times relative to now:
// two accounts of exchange "fake", DemoBinance and DemoKuCoin, each with
// open orders on two symbols of every product (limit, stop, algo and
// order-list kinds), two sub-accounts with keys (one withdrawal-enabled and
// unrestricted: the risky key), balances, futures positions, a cancellable
// and a non-cancellable pending withdrawal and recent trades.
func DemoVenue() *Venue { return DemoVenueAt(time.Now()) }

// DemoAccounts returns the accounts matching DemoVenue, ready for a
// Registry holding DriverFor(DemoVenue()).
func DemoAccounts() []executors.Account {
	return []executors.Account{
		{Name: DemoBinance, Exchange: Exchange, Tags: []string{"demo"}, APIKey: secret.New(demoBinanceMaster), Secret: secret.New("demo-secret")},
		{Name: DemoKuCoin, Exchange: Exchange, Tags: []string{"demo"}, APIKey: secret.New(demoKuCoinMaster), Secret: secret.New("demo-secret"),
			Passphrase: secret.New("demo-passphrase"), KeyVersion: 3},
	}
}

type demoSpec struct {
	name, master  string
	subs          [2]string
	subKeys       [2]string
	spot          [2]string // symbols
	usdm, coinm   [2]string
	quote, coinmQ string
}

// DemoVenueAt is DemoVenue with an explicit clock reading.
func DemoVenueAt(now time.Time) *Venue {
	v := NewVenue()
	specs := []demoSpec{
		{name: DemoBinance, master: demoBinanceMaster,
			subs:    [2]string{"arb@demo.example", "mm-bot@demo.example"},
			subKeys: [2]string{"bnDEMOsubARB00000000000000000000000000000000000000000000000000b2", "bnDEMOsubMMBOT000000000000000000000000000000000000000000000000c3"},
			spot:    [2]string{"BTCUSDT", "ETHUSDT"}, usdm: [2]string{"BTCUSDT", "ETHUSDT"}, coinm: [2]string{"BTCUSD_PERP", "ETHUSD_PERP"},
			quote: "USDT"},
		{name: DemoKuCoin, master: demoKuCoinMaster,
			subs:    [2]string{"arb", "mmbot"},
			subKeys: [2]string{"6650demo00000000subArb01", "6650demo0000000subMmBot2"},
			spot:    [2]string{"BTC-USDT", "ETH-USDT"}, usdm: [2]string{"XBTUSDTM", "ETHUSDTM"}, coinm: [2]string{"XBTUSDM", "ETHUSDM"},
			quote: "USDT"},
	}
	for _, s := range specs {
		seedDemo(v, s, now)
	}
	return v
}

func seedDemo(v *Venue, s demoSpec, now time.Time) {
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	day := 24 * time.Hour
	v.AddAccount(s.name, Key{ID: s.master, Label: "main", Trade: true, Transfer: true, Created: ago(400 * day)})
	// The risky key: withdrawals enabled, no IP whitelist (set up during a
	// "support" call).
	v.AddSub(s.name, s.subs[0], Key{ID: s.subKeys[0], Label: "arb-bot", Trade: true, Withdraw: true, Transfer: true, Created: ago(3 * day)})
	v.AddSub(s.name, s.subs[1], Key{ID: s.subKeys[1], Label: "market-maker", Trade: true, IPs: []string{DefaultClientIP, "198.51.100.10"}, Created: ago(90 * day)})

	o := func(product, symbol, kind, side, price, qty, list string, age time.Duration) executors.Order {
		return executors.Order{Product: product, Symbol: symbol, Kind: kind, Side: side, Price: price, Qty: qty, ListID: list, Created: ago(age)}
	}
	v.AddOrders(s.name,
		o(executors.ProductSpot, s.spot[0], "limit", "BUY", "58000", "0.05", "", time.Hour),
		o(executors.ProductSpot, s.spot[0], "limit", "SELL", "72000", "0.05", "", time.Hour),
		o(executors.ProductSpot, s.spot[0], "oco-member", "SELL", "75000", "0.1", "oco-1", 2*time.Hour),
		o(executors.ProductSpot, s.spot[0], "stop", "SELL", "52000", "0.1", "oco-1", 2*time.Hour),
		o(executors.ProductSpot, s.spot[1], "limit", "BUY", "2900", "1.5", "", 30*time.Minute),
		o(executors.ProductSpot, s.spot[1], "stop", "SELL", "2500", "1.5", "", 30*time.Minute),
		o(executors.ProductMargin, s.spot[0], "limit", "BUY", "57000", "0.02", "", 5*time.Hour),
		o(executors.ProductMargin, s.spot[1], "limit", "SELL", "3600", "2", "", 5*time.Hour),
		o(executors.ProductIsolatedMargin, s.spot[0], "limit", "BUY", "56000", "0.01", "", 6*time.Hour),
		o(executors.ProductIsolatedMargin, s.spot[1], "stop", "SELL", "2400", "1", "", 6*time.Hour),
		o(executors.ProductUSDM, s.usdm[0], "limit", "SELL", "70000", "0.2", "", 10*time.Minute),
		o(executors.ProductUSDM, s.usdm[0], "algo", "SELL", "61000", "0.5", "", 10*time.Minute),
		o(executors.ProductUSDM, s.usdm[1], "limit", "BUY", "2800", "4", "", 15*time.Minute),
		o(executors.ProductCoinM, s.coinm[0], "limit", "BUY", "59000", "10", "", 20*time.Minute),
		o(executors.ProductCoinM, s.coinm[1], "stop", "BUY", "3700", "5", "", 20*time.Minute),
	)
	b := func(sub, wallet, asset, free, locked string) executors.Balance {
		return executors.Balance{Sub: sub, Wallet: wallet, Asset: asset, Free: free, Locked: locked, Total: decAdd(free, locked)}
	}
	v.AddBalances(s.name,
		b("", "spot", "BTC", "1.25000000", "0.15000000"),
		b("", "spot", "ETH", "12.50000000", "1.50000000"),
		b("", "spot", s.quote, "48210.55", "2900.00"),
		b("", "funding", s.quote, "1500.00", "0.00"),
		b("", "margin", s.quote, "5000.00", "1140.00"),
		b("", executors.ProductUSDM, s.quote, "20000.00", "4120.00"),
		b("", executors.ProductCoinM, "BTC", "0.40000000", "0.01700000"),
		b(s.subs[0], "spot", "ETH", "4.00000000", "0.00000000"),
		b(s.subs[0], "spot", s.quote, "9800.00", "0.00"),
		b(s.subs[1], "spot", "BTC", "0.30000000", "0.00000000"),
	)
	v.AddPositions(s.name,
		executors.Position{Product: executors.ProductUSDM, Symbol: s.usdm[0], Side: "LONG", Size: "0.5", EntryPrice: "63150.2", MarkPrice: "64012.7", UnrealizedPnL: "431.25"},
		executors.Position{Product: executors.ProductCoinM, Symbol: s.coinm[1], Side: "SHORT", Size: "-10", EntryPrice: "3380.5", MarkPrice: "3342.1", UnrealizedPnL: "0.0034"},
	)
	v.AddWithdrawals(s.name,
		executors.Withdrawal{ID: s.name + "-wd-1", Asset: "USDT", Amount: "25000", Address: "TXh8demoAttackerAddr0000000000000", Network: "TRX",
			Status: "awaiting approval", Pending: true, Cancellable: true, Created: ago(20 * time.Minute)},
		executors.Withdrawal{ID: s.name + "-wd-2", Asset: "BTC", Amount: "0.8", Address: "bc1qdemoattacker0000000000000000000", Network: "BTC",
			Status: "processing", Pending: true, Created: ago(15 * time.Minute)},
		executors.Withdrawal{ID: s.name + "-wd-0", Asset: "ETH", Amount: "2", Address: "0xdemoTreasury00000000000000000000000000", Network: "ETH",
			Status: "completed", Created: ago(3 * day)},
	)
	v.AddTrades(s.name,
		executors.Trade{Product: executors.ProductSpot, Symbol: s.spot[0], ID: "t-1", Side: "BUY", Price: "64100", Qty: "0.05", Fee: "0.00005", FeeAsset: "BTC", Time: ago(3 * time.Hour)},
		executors.Trade{Product: executors.ProductSpot, Symbol: s.spot[1], ID: "t-2", Side: "SELL", Price: "3310", Qty: "3", Fee: "9.93", FeeAsset: s.quote, Time: ago(2 * time.Hour)},
		executors.Trade{Product: executors.ProductUSDM, Symbol: s.usdm[0], ID: "t-3", Side: "BUY", Price: "63150.2", Qty: "0.5", Fee: "12.63", FeeAsset: s.quote, Time: ago(26 * time.Hour)},
	)
}
