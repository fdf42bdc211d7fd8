package kucoin

import (
	"strings"
	"time"
)

// snapshot renders the whole state as JSON-able data (no secrets or
// passphrases).
func (w *world) snapshot(now time.Time) map[string]any {
	var masters []any
	for _, m := range w.masters {
		masters = append(masters, w.userSnapshot(m, now))
	}
	return map[string]any{
		"cancel_delay_ms": w.cancelDelay.Milliseconds(),
		"window_ms":       w.window.Milliseconds(),
		"pools":           map[string]int{"spot": w.pools.Spot, "futures": w.pools.Futures, "management": w.pools.Management, "public": w.pools.Public},
		"symbols":         w.symbols,
		"contracts":       w.contracts,
		"masters":         masters,
	}
}

func (w *world) userSnapshot(u *user, now time.Time) map[string]any {
	keys := []any{}
	for _, k := range u.keys {
		keys = append(keys, map[string]any{
			"api_key": k.key, "version": k.version, "permission": strings.Join(k.permission, ","),
			"ip_whitelist": strings.Join(k.ipList, ","), "remark": k.remark, "deleted": k.deleted, "passphrase_exported": k.export,
		})
	}
	bal := map[string]any{}
	for typ, acc := range u.balances {
		m := map[string]any{}
		for c, a := range acc {
			m[c] = map[string]string{"balance": ratString(a.balance), "holds": ratString(a.holds)}
		}
		bal[typ] = m
	}
	margin := map[string]any{}
	for c, m := range u.margin {
		margin[c] = map[string]string{"total": ratString(m.total), "hold": ratString(m.hold), "liability": ratString(m.liability)}
	}
	iso := map[string]any{}
	for s, a := range u.isolated {
		iso[s] = map[string]any{
			"base":  map[string]string{"total": ratString(a.base.total), "liability": ratString(a.base.liability)},
			"quote": map[string]string{"total": ratString(a.quote.total), "liability": ratString(a.quote.liability)},
		}
	}
	orders := []any{}
	for _, o := range u.orders {
		orders = append(orders, map[string]any{"kind": o.kind, "id": o.id, "symbol": o.symbol, "side": o.side, "type": o.typ,
			"price": o.price, "size": o.size, "trade_type": o.tradeType, "status": snapshotStatus(o.live(now), o.cancelAt)})
	}
	fut := []any{}
	for _, o := range u.futOrders {
		fut = append(fut, map[string]any{"id": o.id, "symbol": o.symbol, "side": o.side, "price": o.price, "size": o.size, "stop": o.isStop, "status": snapshotStatus(o.live(now), o.cancelAt)})
	}
	pos := []any{}
	for _, p := range u.positions {
		pos = append(pos, map[string]any{"symbol": p.symbol, "qty": p.qty, "entry_price": ratString(p.entry), "mark_price": ratString(p.mark)})
	}
	facc := map[string]any{}
	for c, f := range u.futAccounts {
		facc[c] = map[string]string{"balance": ratString(f.balance), "available": ratString(f.available())}
	}
	wds := []any{}
	for _, wd := range u.withdrawals {
		wds = append(wds, map[string]any{"id": wd.id, "currency": wd.currency, "amount": ratString(wd.amount), "status": wd.status})
	}
	out := map[string]any{
		"name": u.name, "uid": u.uid, "user_id": u.userID, "keys": keys, "balances": bal, "margin": margin, "isolated": iso,
		"orders": orders, "futures_orders": fut, "positions": pos, "futures_accounts": facc, "withdrawals": wds,
		"fills": len(u.fills),
	}
	if u.deadman != nil {
		out["dead_cancel_all"] = map[string]any{"timeout": u.deadman.timeout, "symbols": u.deadman.symbols, "trigger_time": u.deadman.triggerTime.UnixMilli()}
	}
	if len(u.subs) > 0 {
		subs := []any{}
		for _, s := range u.subs {
			subs = append(subs, w.userSnapshot(s, now))
		}
		out["subs"] = subs
	}
	return out
}

// snapshotStatus is an order's status in the snapshot: open,
// cancel_requested while a requested cancel is pending, or done.
func snapshotStatus(live bool, cancelAt time.Time) string {
	switch {
	case live && !cancelAt.IsZero():
		return "cancel_requested"
	case !live:
		return "done"
	}
	return "open"
}
