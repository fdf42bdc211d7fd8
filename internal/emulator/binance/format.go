package binance

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// f8 formats like Binance spot: 8 decimals.
func f8(x float64) string { return strconv.FormatFloat(x, 'f', 8, 64) }

// fd formats with d decimals.
func fd(x float64, d int) string { return strconv.FormatFloat(x, 'f', d, 64) }

// fnum formats with as few decimals as needed (futures style).
func fnum(x float64) string {
	if x == 0 {
		return "0"
	}
	return strconv.FormatFloat(round(x, 10), 'f', -1, 64)
}

func round(x float64, d int) float64 {
	p := math.Pow(10, float64(d))
	return math.Round(x*p) / p
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func orderStatus(o *order) string {
	if o.Executed > 0 {
		return "PARTIALLY_FILLED"
	}
	return "NEW"
}

func isStopType(t string) bool {
	return t != "LIMIT" && t != "LIMIT_MAKER" && t != "MARKET"
}

// spotOrderJSON is an open spot (or margin, with isolated set) order as
// GET /api/v3/openOrders and GET /sapi/v1/margin/openOrders show it.
func spotOrderJSON(o *order, margin bool) obj {
	working := !isStopType(o.Type)
	wt := ms(o.Time)
	if !working {
		wt = -1
	}
	m := obj{
		"symbol": o.Symbol, "orderId": o.ID, "clientOrderId": o.ClientID,
		"price": f8(o.Price), "origQty": f8(o.Qty), "executedQty": f8(o.Executed),
		"cummulativeQuoteQty": f8(o.Executed * o.Price), "status": orderStatus(o),
		"timeInForce": o.TIF, "type": o.Type, "side": o.Side, "stopPrice": f8(o.StopPrice),
		"icebergQty": f8(0), "time": ms(o.Time), "updateTime": ms(o.Time), "isWorking": working,
		"selfTradePreventionMode": "EXPIRE_MAKER",
	}
	if margin {
		m["isIsolated"] = o.Isolated
	} else {
		m["orderListId"] = o.ListID
		m["workingTime"] = wt
		m["origQuoteOrderQty"] = f8(0)
	}
	return m
}

// spotCancelJSON is one cancelled order in a cancel-all response.
func spotCancelJSON(o *order, now time.Time, margin bool) obj {
	m := obj{
		"symbol": o.Symbol, "origClientOrderId": o.ClientID, "orderId": o.ID, "orderListId": o.ListID,
		"clientOrderId": clientID(o.ID + now.UnixNano()%1000003), "price": f8(o.Price), "origQty": f8(o.Qty),
		"executedQty": f8(o.Executed), "cummulativeQuoteQty": f8(o.Executed * o.Price), "status": "CANCELED",
		"timeInForce": o.TIF, "type": o.Type, "side": o.Side,
	}
	if isStopType(o.Type) {
		m["stopPrice"] = f8(o.StopPrice)
	}
	if margin {
		m["isIsolated"] = o.Isolated
	} else {
		m["transactTime"] = ms(now)
		m["origQuoteOrderQty"] = f8(0)
		m["selfTradePreventionMode"] = "EXPIRE_MAKER"
	}
	return m
}

// futuresOrderJSON is an open USDⓈ-M (coinm false) or COIN-M order.
func futuresOrderJSON(o *order, coinm bool, st *state) obj {
	m := obj{
		"avgPrice": "0", "clientOrderId": o.ClientID, "executedQty": fnum(o.Executed), "orderId": o.ID,
		"origQty": fnum(o.Qty), "origType": o.Type, "price": fnum(o.Price), "reduceOnly": o.ReduceOnly,
		"side": o.Side, "positionSide": o.PositionSide, "status": orderStatus(o), "stopPrice": fnum(o.StopPrice),
		"closePosition": false, "symbol": o.Symbol, "time": ms(o.Time), "timeInForce": o.TIF, "type": o.Type,
		"updateTime": ms(o.Time), "workingType": "CONTRACT_PRICE", "priceProtect": false,
		"priceMatch": "NONE", "selfTradePreventionMode": "EXPIRE_MAKER", "goodTillDate": 0,
	}
	if coinm {
		m["pair"] = pairOf(o.Symbol)
		m["cumBase"] = fnum(0)
	} else {
		m["cumQuote"] = fnum(0)
	}
	return m
}

// algoOrderJSON is an open USDⓈ-M conditional (algo) order.
func algoOrderJSON(o *order) obj {
	return obj{
		"algoId": o.ID, "clientAlgoId": o.ClientID, "algoType": "CONDITIONAL", "orderType": o.Type,
		"symbol": o.Symbol, "side": o.Side, "positionSide": o.PositionSide, "timeInForce": o.TIF,
		"quantity": fnum(o.Qty), "algoStatus": "NEW", "actualOrderId": "", "actualPrice": "0.00000",
		"triggerPrice": fnum(o.StopPrice), "price": fnum(o.Price), "icebergQuantity": nil,
		"tpTriggerPrice": "0.000", "tpPrice": "0.000", "slTriggerPrice": "0.000", "slPrice": "0.000", "tpOrderType": "",
		"selfTradePreventionMode": "EXPIRE_MAKER", "workingType": "CONTRACT_PRICE", "priceMatch": "NONE",
		"closePosition": false, "priceProtect": false, "reduceOnly": o.ReduceOnly,
		"createTime": ms(o.Time), "updateTime": ms(o.Time), "triggerTime": 0, "goodTillDate": 0,
	}
}

// pairOf is the COIN-M pair of a contract ("BTCUSD_PERP" -> "BTCUSD").
func pairOf(sym string) string {
	if i := strings.Index(sym, "_"); i > 0 {
		return sym[:i]
	}
	return sym
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// parseBool reads Binance's "true"/"TRUE"/"false" parameters.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}
