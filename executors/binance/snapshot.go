package binance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	gobinance "github.com/adshao/go-binance/v2"

	"github.com/panicbutton/panicbutton/executors"
)

// Wallet names of the snapshot schema (executors.Balance.Wallet).
const (
	walletSpot       = "spot"
	walletUserAssets = "user_assets" // POST /sapi/v3/asset/getUserAsset: funding and spot together, per asset
	walletMargin     = "margin"
	walletIsolated   = "isolated_margin:" // + symbol
	walletUSDM       = "usdm"
	walletCoinM      = "coinm"
)

// subAccount is one row of GET /sapi/v1/sub-account/list. The SDK's
// SubAccount decodes subUserId as a string while Binance sends a number
// (documented response: "subUserId": 123456), so every successful list
// fails to decode there: the list is fetched with the signed helper.
type subAccount struct {
	SubUserID                   json.Number `json:"subUserId"`
	Email                       string      `json:"email"`
	Remark                      string      `json:"remark"`
	IsFreeze                    bool        `json:"isFreeze"`
	CreateTime                  int64       `json:"createTime"`
	IsManagedSubAccount         bool        `json:"isManagedSubAccount"`
	IsAssetManagementSubAccount bool        `json:"isAssetManagementSubAccount"`
}

// subAccounts lists the master's sub-accounts. A key that is not a master's
// is refused with -1002, or -8012 "Sub-account function is not enabled."
// (EXCHANGES.md C2): isMaster is then false and err nil, so inventory,
// snapshot, sweep and verify proceed with no sub-accounts. Any other
// failure (a 403 WAF page, another refusal, network, rate limit) is an
// error: it does not show the account is not a master.
func (e *Executor) subAccounts(ctx context.Context) (subs []subAccount, isMaster bool, err error) {
	e.subsMu.Lock()
	if !e.subsAt.IsZero() && e.env.Now().Sub(e.subsAt) < subListReuse {
		subs, isMaster = append([]subAccount(nil), e.subs...), e.subsMaster
		e.subsMu.Unlock()
		return subs, isMaster, nil
	}
	e.subsMu.Unlock()
	subs, isMaster, err = e.listSubAccounts(ctx)
	if err == nil {
		e.subsMu.Lock()
		e.subs, e.subsMaster, e.subsAt = append([]subAccount(nil), subs...), isMaster, e.env.Now()
		e.subsMu.Unlock()
	}
	return subs, isMaster, err
}

// subListReuse is how long a listing of the sub-accounts serves the steps
// that follow it: each step of suspected-key-leak starts from it, one round
// trip each, and sub-accounts come and go far more rarely. A hold pass
// lists them again (its passes are further apart).
const subListReuse = 2 * time.Second

// listSubAccounts lists the master's sub-accounts, every page.
func (e *Executor) listSubAccounts(ctx context.Context) (subs []subAccount, isMaster bool, err error) {
	const pageSize = 200
	for page := 1; ; page++ {
		var res struct {
			SubAccounts []subAccount `json:"subAccounts"`
		}
		err := e.call(ctx, "list sub-accounts", false, func(ctx context.Context) error {
			data, err := e.signed(ctx, http.MethodGet, "/sapi/v1/sub-account/list", url.Values{"page": {strconv.Itoa(page)}, "limit": {strconv.Itoa(pageSize)}}, nil)
			if err != nil {
				return err
			}
			return json.Unmarshal(data, &res)
		})
		if err != nil {
			// A key of a non-master account is refused with -1002 or
			// -8012 and only those codes say so; a dead key (-2015,
			// -2008) is a real error.
			var ee *executors.Error
			if page == 1 && errors.As(err, &ee) && (ee.Code == fmt.Sprint(codeUnauthorized) || ee.Code == fmt.Sprint(codeNoSubFunction)) {
				return nil, false, nil
			}
			return nil, page > 1, err
		}
		subs = append(subs, res.SubAccounts...)
		if len(res.SubAccounts) < pageSize {
			return subs, true, nil
		}
	}
}

// subAccountsPart names the snapshot's part that reads the sub-accounts.
const subAccountsPart = "sub-accounts"

// snapshot implements snapshot.balances.
func (e *Executor) snapshot(ctx context.Context, req executors.Request) (executors.Result, error) {
	snap := &executors.Snapshot{Account: e.acct.Name, Exchange: "binance", TakenAt: e.env.Now().UTC(),
		Balances: []executors.Balance{}, Positions: []executors.Position{}}
	var (
		mu          sync.Mutex
		wg          sync.WaitGroup
		authErr     error
		unreachable error // first part that failed for a reason other than permissions
		failures    int
	)
	add := func(bs []executors.Balance, ps []executors.Position, ws []executors.WalletTotal) {
		mu.Lock()
		defer mu.Unlock()
		snap.Balances = append(snap.Balances, bs...)
		snap.Positions = append(snap.Positions, ps...)
		snap.Wallets = append(snap.Wallets, ws...)
	}
	fail := func(part string, err error) {
		mu.Lock()
		defer mu.Unlock()
		failures++
		snap.Errors = append(snap.Errors, fmt.Sprintf("%s: %v", part, err))
		if errors.Is(err, executors.ErrAuth) && authErr == nil {
			authErr = err
		}
		if unreachable == nil && !errors.Is(err, executors.ErrAuth) && !errors.Is(err, executors.ErrRejected) && !errors.Is(err, executors.ErrUnsupported) {
			unreachable = err
		}
	}
	parts := map[string]func(ctx context.Context) error{
		"spot": func(ctx context.Context) error {
			var acc *gobinance.Account
			err := e.call(ctx, "read spot account", false, func(ctx context.Context) error {
				var err error
				acc, err = e.spot.NewGetAccountService().OmitZeroBalances(true).Do(ctx)
				return err
			})
			if err != nil {
				return err
			}
			var bs []executors.Balance
			for _, b := range acc.Balances {
				if isZeroAmount(b.Free) && isZeroAmount(b.Locked) {
					continue
				}
				bs = append(bs, executors.Balance{Wallet: walletSpot, Asset: b.Asset, Free: b.Free, Locked: b.Locked, Total: addDec(b.Free, b.Locked)})
			}
			add(bs, nil, nil)
			return nil
		},
		"user assets": func(ctx context.Context) error {
			var res []gobinance.UserAssetRecord
			err := e.call(ctx, "read user assets", false, func(ctx context.Context) error {
				var err error
				res, err = e.spot.NewGetUserAsset().Do(ctx)
				return err
			})
			if err != nil {
				return err
			}
			var bs []executors.Balance
			for _, a := range res {
				locked := addDec(a.Locked, addDec(a.Freeze, a.Withdrawing))
				bs = append(bs, executors.Balance{Wallet: walletUserAssets, Asset: a.Asset, Free: a.Free, Locked: locked, Total: addDec(a.Free, locked)})
			}
			add(bs, nil, nil)
			return nil
		},
		"wallet totals": func(ctx context.Context) error {
			var res []*gobinance.WalletBalance
			err := e.call(ctx, "read wallet totals", false, func(ctx context.Context) error {
				var err error
				res, err = e.spot.NewWalletBalanceService().QuoteAsset("BTC").Do(ctx)
				return err
			})
			if err != nil {
				return err
			}
			var ws []executors.WalletTotal
			for _, w := range res {
				ws = append(ws, executors.WalletTotal{Wallet: w.WalletName, Asset: "BTC", Value: w.Balance})
			}
			add(nil, nil, ws)
			return nil
		},
		"cross margin": func(ctx context.Context) error {
			var acc *gobinance.MarginAccount
			err := e.call(ctx, "read cross margin account", false, func(ctx context.Context) error {
				var err error
				acc, err = e.spot.NewGetMarginAccountService().Do(ctx)
				return err
			})
			if err != nil {
				return err
			}
			var bs []executors.Balance
			for _, a := range acc.UserAssets {
				if isZeroAmount(a.Free) && isZeroAmount(a.Locked) && isZeroAmount(a.Borrowed) && isZeroAmount(a.NetAsset) {
					continue
				}
				bs = append(bs, executors.Balance{Wallet: walletMargin, Asset: a.Asset, Free: a.Free, Locked: a.Locked, Borrowed: a.Borrowed, Total: addDec(a.Free, a.Locked)})
			}
			add(bs, nil, nil)
			return nil
		},
		"isolated margin": func(ctx context.Context) error {
			_, acc, err := e.isolatedSymbols(ctx)
			if err != nil {
				return err
			}
			var bs []executors.Balance
			for _, a := range acc.Assets {
				for _, u := range []gobinance.IsolatedUserAsset{a.BaseAsset, a.QuoteAsset} {
					if u.Asset == "" || (isZeroAmount(u.Free) && isZeroAmount(u.Locked) && isZeroAmount(u.Borrowed)) {
						continue
					}
					bs = append(bs, executors.Balance{Wallet: walletIsolated + a.Symbol, Asset: u.Asset, Free: u.Free, Locked: u.Locked, Borrowed: u.Borrowed, Total: addDec(u.Free, u.Locked)})
				}
			}
			add(bs, nil, nil)
			return nil
		},
		"usdm": func(ctx context.Context) error {
			return e.futuresPart(ctx, walletUSDM, add,
				func(ctx context.Context) ([]futuresBalance, error) {
					bal, err := e.fut.NewGetBalanceService().Do(ctx)
					out := make([]futuresBalance, len(bal))
					for i, b := range bal {
						out[i] = futuresBalance{b.Asset, b.Balance, b.AvailableBalance, b.CrossUnPnl}
					}
					return out, err
				},
				func(ctx context.Context) ([]futuresPosition, error) {
					pos, err := e.fut.NewGetPositionRiskV3Service().Do(ctx)
					out := make([]futuresPosition, len(pos))
					for i, p := range pos {
						out[i] = futuresPosition{p.Symbol, p.PositionSide, p.PositionAmt, p.EntryPrice, p.MarkPrice, p.UnRealizedProfit}
					}
					return out, err
				})
		},
		"coinm": func(ctx context.Context) error {
			return e.futuresPart(ctx, walletCoinM, add,
				func(ctx context.Context) ([]futuresBalance, error) {
					bal, err := e.dlv.NewGetBalanceService().Do(ctx)
					out := make([]futuresBalance, len(bal))
					for i, b := range bal {
						out[i] = futuresBalance{b.Asset, b.Balance, b.AvailableBalance, b.CrossUnPnl}
					}
					return out, err
				},
				func(ctx context.Context) ([]futuresPosition, error) {
					pos, err := e.dlv.NewGetPositionRiskService().Do(ctx)
					out := make([]futuresPosition, len(pos))
					for i, p := range pos {
						out[i] = futuresPosition{p.Symbol, p.PositionSide, p.PositionAmt, p.EntryPrice, p.MarkPrice, p.UnRealizedProfit}
					}
					return out, err
				})
		},
	}
	if req.Params.Bool("include_sub_accounts") {
		parts[subAccountsPart] = func(ctx context.Context) error {
			subs, master, err := e.subAccounts(ctx)
			if err != nil || !master {
				return err
			}
			errs := make([]error, len(subs))
			parallel(ctx, len(subs), e.concurrency, func(ctx context.Context, i int) {
				email := subs[i].Email
				var res *gobinance.SubAccountAssetServiceResponse
				errs[i] = e.call(ctx, "read sub-account assets "+email, false, func(ctx context.Context) error {
					var err error
					res, err = e.spot.NewSubAccountAssetService().Email(email).Do(ctx)
					return err
				})
				if errs[i] != nil {
					return
				}
				var bs []executors.Balance
				for _, b := range res.Balances {
					if isZeroAmount(b.Free) && isZeroAmount(b.Locked) {
						continue
					}
					bs = append(bs, executors.Balance{Sub: email, Wallet: walletSpot, Asset: b.Asset, Free: b.Free, Locked: b.Locked, Total: addDec(b.Free, b.Locked)})
				}
				add(bs, nil, nil)
			}, nil)
			return errors.Join(errs...)
		}
	}
	names := sortedKeys(parts)
	// Once every part but the sub-accounts' is in, the account's own
	// balances are read: its own order cancels may go (the runner's
	// gate), while the sub-accounts' assets, a round trip longer (list,
	// then one read each), are still being read. Only if every one of
	// those parts was read: a part that failed may fail the step, and a
	// retry would read the account's balances again, after the cancels;
	// then the cancels wait for the whole step, as for any other read.
	// (The one case left: the step's deadline passing while the
	// sub-accounts are read; its retry, if the playbook allows one, reads
	// the account's balances after the cancels began.)
	var (
		own       sync.WaitGroup
		ownFailed atomic.Bool
	)
	for _, name := range names {
		isOwn := name != subAccountsPart
		wg.Add(1)
		if isOwn {
			own.Add(1)
		}
		go func() {
			defer wg.Done()
			err := parts[name](ctx)
			if err != nil {
				fail(name, err)
			}
			if isOwn {
				if err != nil {
					ownFailed.Store(true)
				}
				own.Done()
			}
		}()
	}
	own.Wait()
	if !ownFailed.Load() {
		req.NoteOwnStateRead()
	}
	wg.Wait()
	sortSnapshot(snap)
	if authErr != nil && failures == len(names) {
		return executors.Result{Status: executors.StatusFailed, Summary: "snapshot failed: " + authErr.Error(), Data: snap}, authErr
	}
	if err := ctx.Err(); err != nil {
		cerr := classify("snapshot balances", false, 0, 0, err)
		return executors.Result{Status: executors.StatusFailed, Summary: cerr.Error(), Data: snap}, cerr
	}
	subs := map[string]bool{}
	for _, b := range snap.Balances {
		if b.Sub != "" {
			subs[b.Sub] = true
		}
	}
	summary := fmt.Sprintf("%s, %s", plural(len(snap.Balances), "balance"), plural(len(snap.Positions), "open position"))
	if len(subs) > 0 {
		summary += fmt.Sprintf(" (incl. %s)", plural(len(subs), "sub-account"))
	}
	res := executors.Result{Status: executors.StatusOK, Data: snap,
		Counts: map[string]int{"balances": len(snap.Balances), "positions": len(snap.Positions), "errors": len(snap.Errors)}}
	if len(snap.Errors) > 0 {
		summary += fmt.Sprintf("; %s could not be read", plural(len(snap.Errors), "part"))
		for _, e := range snap.Errors {
			res.Findings = append(res.Findings, executors.Finding{Severity: "low", Subject: "snapshot", Message: e})
		}
	}
	res.Summary = summary
	if unreachable != nil {
		// Parts were not read for a reason that is not the key's
		// permissions (network, venue down): the snapshot is incomplete
		// and must not pass for a baseline. Retryable by class.
		res.Status, res.Summary = executors.StatusFailed, "incomplete snapshot: "+summary
		return res, unreachable
	}
	return res, nil
}

func sortSnapshot(s *executors.Snapshot) {
	sort.SliceStable(s.Balances, func(i, j int) bool {
		a, b := s.Balances[i], s.Balances[j]
		if a.Sub != b.Sub {
			return a.Sub < b.Sub
		}
		if a.Wallet != b.Wallet {
			return a.Wallet < b.Wallet
		}
		return a.Asset < b.Asset
	})
	sort.SliceStable(s.Positions, func(i, j int) bool {
		a, b := s.Positions[i], s.Positions[j]
		if a.Product != b.Product {
			return a.Product < b.Product
		}
		if a.Symbol != b.Symbol {
			return a.Symbol < b.Symbol
		}
		return a.Side < b.Side
	})
	sort.SliceStable(s.Wallets, func(i, j int) bool { return s.Wallets[i].Wallet < s.Wallets[j].Wallet })
}

// addDec adds two decimal strings exactly ("" counts as 0).
func addDec(a, b string) string { return decOp(a, b, false) }

// subDec subtracts b from a exactly.
func subDec(a, b string) string { return decOp(a, b, true) }

func decOp(a, b string, sub bool) string {
	x, ok1 := new(big.Rat).SetString(orZero(a))
	y, ok2 := new(big.Rat).SetString(orZero(b))
	if !ok1 || !ok2 {
		return a
	}
	if sub {
		x.Sub(x, y)
	} else {
		x.Add(x, y)
	}
	return trimDec(x.FloatString(8))
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

func trimDec(s string) string {
	for len(s) > 1 && s[len(s)-1] == '0' && containsDot(s) {
		s = s[:len(s)-1]
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	if s == "-0" {
		return "0"
	}
	return s
}

func containsDot(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return true
		}
	}
	return false
}

// futuresBalance and futuresPosition are the fields the snapshot takes
// from the USDⓈ-M and COIN-M SDK types (which differ only in type).
type futuresBalance struct{ asset, balance, available, crossUnPnl string }

type futuresPosition struct{ symbol, side, amount, entry, mark, pnl string }

// futuresPart reads one futures product's balances and positions at once
// (they are independent) and adds the non-zero ones to the snapshot.
func (e *Executor) futuresPart(ctx context.Context, product string,
	add func([]executors.Balance, []executors.Position, []executors.WalletTotal),
	balances func(context.Context) ([]futuresBalance, error),
	positions func(context.Context) ([]futuresPosition, error)) error {
	var bal []futuresBalance
	var pos []futuresPosition
	err := both(func() error {
		return e.call(ctx, "read "+product+" balance", false, func(ctx context.Context) error {
			var err error
			bal, err = balances(ctx)
			return err
		})
	}, func() error {
		return e.call(ctx, "read "+product+" positions", false, func(ctx context.Context) error {
			var err error
			pos, err = positions(ctx)
			return err
		})
	})
	if err != nil {
		return err
	}
	var bs []executors.Balance
	for _, b := range bal {
		if isZeroAmount(b.balance) && isZeroAmount(b.crossUnPnl) {
			continue
		}
		bs = append(bs, executors.Balance{Wallet: product, Asset: b.asset, Free: b.available, Locked: subDec(b.balance, b.available), Total: b.balance})
	}
	var ps []executors.Position
	for _, p := range pos {
		if isZeroAmount(p.amount) {
			continue
		}
		ps = append(ps, executors.Position{Product: product, Symbol: p.symbol, Side: p.side, Size: p.amount,
			EntryPrice: p.entry, MarkPrice: p.mark, UnrealizedPnL: p.pnl})
	}
	add(bs, ps, nil)
	return nil
}
