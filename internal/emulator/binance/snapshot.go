package binance

import (
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

// Snapshot implements emu.Venue: the whole current state as JSON-able
// data. Key secrets and private keys are left out (the public key id,
// type, permissions and IP restriction are in).
func (v *Venue) Snapshot() any {
	v.mu.Lock()
	defer v.mu.Unlock()
	st := v.st
	v.fireCountdowns(v.env.Clock.Now())
	v.advanceWithdrawals(v.env.Clock.Now())
	accounts := []obj{}
	for _, a := range st.accounts {
		keys := []obj{}
		for _, k := range a.Keys {
			perms := []string{}
			for _, p := range allPerms {
				if k.Perms[p] {
					perms = append(perms, p)
				}
			}
			keys = append(keys, obj{"api_key": k.APIKey, "type": k.Type, "label": k.Label, "permissions": perms,
				"ip_restrict": k.IPRestrict, "ips": append([]string{}, k.IPs...), "created": k.Created, "updated": k.Updated})
		}
		balJSON := func(b *bal) obj {
			return obj{"free": f8(b.Free), "locked": f8(b.Locked), "borrowed": f8(b.Borrowed), "interest": f8(b.Interest)}
		}
		bals := func(m map[string]*bal) obj {
			out := obj{}
			for asset, b := range m {
				out[asset] = balJSON(b)
			}
			return out
		}
		iso := obj{}
		for sym, p := range a.Isolated {
			iso[sym] = obj{p.Base: balJSON(&p.BaseBal), p.Quote: balJSON(&p.QuoteBal)}
		}
		nums := func(m map[string]float64) obj {
			out := obj{}
			for k, x := range m {
				out[k] = fnum(x)
			}
			return out
		}
		orders := func(list []*order, product string) []obj {
			out := []obj{}
			for _, o := range list {
				switch product {
				case "usdm":
					out = append(out, futuresOrderJSON(o, false, st))
				case "coinm":
					out = append(out, futuresOrderJSON(o, true, st))
				case "algo":
					out = append(out, algoOrderJSON(o))
				case "margin":
					out = append(out, spotOrderJSON(o, true))
				default:
					out = append(out, spotOrderJSON(o, false))
				}
			}
			return out
		}
		lists := []obj{}
		for _, l := range a.SpotLists {
			lists = append(lists, obj{"orderListId": l.ID, "listClientOrderId": l.ClientID, "symbol": l.Symbol,
				"contingencyType": "OCO", "orders": orders(l.Orders, "spot")})
		}
		positions := func(list []*position) []obj {
			out := []obj{}
			for _, p := range list {
				out = append(out, obj{"symbol": p.Symbol, "positionSide": p.Side, "positionAmt": fnum(p.Amount),
					"entryPrice": fnum(p.EntryPrice), "markPrice": fnum(p.MarkPrice), "leverage": p.Leverage})
			}
			return out
		}
		withdrawals := []obj{}
		for _, w := range a.Withdrawals {
			withdrawals = append(withdrawals, obj{"id": w.ID, "coin": w.Coin, "amount": fnum(w.Amount), "status": w.Status,
				"network": w.Network, "address": w.Address, "applyTime": w.Applied})
		}
		countdowns := []obj{}
		for _, id := range sortedKeys(a.Countdowns) {
			cd := a.Countdowns[id]
			countdowns = append(countdowns, obj{"product": cd.Product, "symbol": cd.Symbol, "deadline": cd.Deadline})
		}
		parent := ""
		if a.Parent != nil {
			parent = a.Parent.Name
		}
		accounts = append(accounts, obj{
			"name": a.Name, "email": a.Email, "uid": a.UID, "master": a.Master, "parent": parent, "keys": keys,
			"balances": obj{"spot": bals(a.Spot), "funding": bals(a.Funding), "margin": bals(a.Margin),
				"isolated": iso, "usdm": nums(a.USDM), "coinm": nums(a.COINM)},
			"usdm_dual_side": a.DualUSDM, "coinm_dual_side": a.DualCOINM,
			"margin_enabled": marginEnabled(a), "futures_enabled": futuresEnabled(a),
			"open_orders": obj{"spot": orders(a.SpotOrders, "spot"), "spot_lists": lists, "margin": orders(a.MarginOrders, "margin"),
				"isolated": orders(a.IsolatedOrders, "margin"), "usdm": orders(a.USDMOrders, "usdm"),
				"usdm_algo": orders(a.AlgoOrders, "algo"), "coinm": orders(a.COINMOrders, "coinm")},
			"positions":   obj{"usdm": positions(a.USDMPositions), "coinm": positions(a.COINMPositions)},
			"withdrawals": withdrawals, "trades": len(a.Trades), "countdowns": countdowns,
		})
	}
	prices := obj{}
	for s, p := range st.prices {
		prices[s] = fnum(p)
	}
	return obj{"accounts": accounts, "prices": prices}
}

// ExportAccounts implements emu.Exporter: every master account with a
// usable key (the first whose export is not false), and sub-accounts
// whose key says export: true.
func (v *Venue) ExportAccounts() []emu.AccountExport {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []emu.AccountExport
	for _, a := range v.st.accounts {
		for _, k := range a.Keys {
			if !k.exportable(a.Master) {
				continue
			}
			secret := k.Secret
			if k.Type != "hmac" {
				secret = k.PrivateKey
			}
			tags := []string{"emulator"}
			if a.Master {
				tags = append(tags, "master")
			} else {
				tags = append(tags, "sub")
			}
			out = append(out, emu.AccountExport{Name: a.Name, Exchange: "binance", KeyType: k.Type,
				APIKey: k.APIKey, Secret: secret, Tags: tags})
			break
		}
	}
	return out
}

func (k *key) exportable(master bool) bool {
	if k.Type != "hmac" && k.PrivateKey == "" {
		return false
	}
	if k.exportSet {
		return k.Export
	}
	return master
}
