package binance

import (
	"net/http"
	"net/url"

	"github.com/panicbutton/panicbutton/internal/emulator/emu"
)

// buildRoutes is the endpoint table. Weights are Binance's documented
// request weights; where the docs give none (marked "unverified" in
// STATE.md) the value is the closest documented sibling's.
func (v *Venue) buildRoutes() map[string]*route {
	withSymbol := func(with, without int) func(url.Values) int {
		return func(p url.Values) int {
			if p.Get("symbol") != "" {
				return with
			}
			return without
		}
	}
	dapiOpen := func(p url.Values) int {
		if p.Get("symbol") != "" || p.Get("pair") != "" {
			return 1
		}
		return 40
	}
	// COIN-M trades: 20 with symbol, 40 with pair (EXCHANGES.md C7).
	dapiTrades := func(p url.Values) int {
		if p.Get("symbol") == "" && p.Get("pair") != "" {
			return 40
		}
		return 20
	}
	myTradesWeight := func(p url.Values) int {
		if p.Get("orderId") != "" {
			return 5
		}
		return 20
	}
	pub := func(m, path string, f family, w int, h func(*call)) *route {
		return &route{method: m, path: path, fam: f, sec: secNone, kind: emu.KindPublic, weight: fixed(w), handle: h}
	}
	pubW := func(m, path string, f family, w func(url.Values) int, h func(*call)) *route {
		return &route{method: m, path: path, fam: f, sec: secNone, kind: emu.KindPublic, weight: w, handle: h}
	}
	apiKey := func(m, path string, f family, w int, h func(*call)) *route {
		return &route{method: m, path: path, fam: f, sec: secAPIKey, kind: emu.KindPublic, weight: fixed(w), handle: h}
	}
	read := func(m, path string, f family, w func(url.Values) int, h func(*call)) *route {
		return &route{method: m, path: path, fam: f, sec: secSigned, kind: emu.KindRead, weight: w, handle: h}
	}
	mut := func(m, path string, f family, perm string, w func(url.Values) int, h func(*call)) *route {
		return &route{method: m, path: path, fam: f, sec: secSigned, kind: emu.KindMutation, perm: perm, weight: w, handle: h}
	}
	uid := func(r *route) *route { r.uid = true; return r }
	master := func(r *route) *route { r.master = true; return r }
	perSecond := func(r *route) *route { r.uid, r.perSecond = true, true; return r }
	uidToo := func(w int, r *route) *route { r.uidWeight = fixed(w); return r }
	noSubs := func(r *route) *route { r.noSubFunction = true; return r }

	list := []*route{
		// spot /api
		pub(http.MethodGet, "/api/v3/ping", famAPI, 1, func(c *call) { c.ok(obj{}) }),
		pub(http.MethodGet, "/api/v3/time", famAPI, 1, handleTime),
		pub(http.MethodGet, "/api/v3/exchangeInfo", famAPI, 20, handleSpotExchangeInfo),
		pubW(http.MethodGet, "/api/v3/ticker/price", famAPI, tickerWeight(2, 4), handleTickerPrice),
		pubW(http.MethodGet, "/api/v3/depth", famAPI, depthWeight(mdSpot), handleDepth(mdSpot)),
		pub(http.MethodGet, "/api/v3/trades", famAPI, 25, handleTrades(mdSpot)),
		pubW(http.MethodGet, "/api/v3/klines", famAPI, klineWeight(mdSpot), handleKlines(mdSpot)),
		pubW(http.MethodGet, "/api/v3/uiKlines", famAPI, klineWeight(mdSpot), handleKlines(mdSpot)),
		pub(http.MethodGet, "/api/v3/avgPrice", famAPI, 2, handleAvgPrice),
		pubW(http.MethodGet, "/api/v3/ticker/24hr", famAPI, tickerWeight(2, 80), handleTicker24(mdSpot)),
		pubW(http.MethodGet, "/api/v3/ticker/bookTicker", famAPI, tickerWeight(2, 4), handleBookTicker(mdSpot)),
		read(http.MethodGet, "/api/v3/account", famAPI, fixed(20), handleSpotAccount),
		read(http.MethodGet, "/api/v3/openOrders", famAPI, withSymbol(6, 80), handleSpotOpenOrders),
		mut(http.MethodDelete, "/api/v3/openOrders", famAPI, permSpot, fixed(1), handleSpotCancelAll),
		read(http.MethodGet, "/api/v3/myTrades", famAPI, myTradesWeight, handleSpotMyTrades),
		mut(http.MethodPost, "/api/v3/order", famAPI, permSpot, fixed(1), handleSpotOrder),
		read(http.MethodGet, "/api/v3/order", famAPI, fixed(4), handleSpotGetOrder),
		mut(http.MethodDelete, "/api/v3/order", famAPI, permSpot, fixed(1), handleSpotCancel),
		mut(http.MethodPost, "/api/v3/orderList/oco", famAPI, permSpot, fixed(1), handleOCO(false)),
		mut(http.MethodPost, "/api/v3/order/oco", famAPI, permSpot, fixed(1), handleOCO(true)),

		// wallet, margin, sub-accounts /sapi
		pub(http.MethodGet, "/sapi/v1/system/status", famSAPI, 1, handleSystemStatus),
		apiKey(http.MethodGet, "/sapi/v1/margin/allPairs", famSAPI, 1, handleMarginAllPairs),
		apiKey(http.MethodGet, "/sapi/v1/margin/allAssets", famSAPI, 1, handleMarginAllAssets),
		apiKey(http.MethodGet, "/sapi/v1/margin/isolated/allPairs", famSAPI, 10, handleIsolatedAllPairs),
		read(http.MethodGet, "/sapi/v1/capital/config/getall", famSAPI, fixed(10), handleCoinConfig),
		read(http.MethodGet, "/sapi/v1/asset/tradeFee", famSAPI, fixed(1), handleTradeFee),
		read(http.MethodPost, "/sapi/v3/asset/getUserAsset", famSAPI, fixed(5), handleUserAsset),
		read(http.MethodPost, "/sapi/v1/asset/get-funding-asset", famSAPI, fixed(1), handleFundingAsset),
		read(http.MethodGet, "/sapi/v1/asset/wallet/balance", famSAPI, fixed(60), handleWalletBalance),
		read(http.MethodGet, "/sapi/v1/account/status", famSAPI, fixed(1), func(c *call) { c.ok(obj{"data": "Normal"}) }),
		read(http.MethodGet, "/sapi/v1/account/apiRestrictions", famSAPI, fixed(1), handleAPIRestrictions),
		read(http.MethodGet, "/sapi/v1/margin/account", famSAPI, fixed(10), handleMarginAccount),
		read(http.MethodGet, "/sapi/v1/margin/isolated/account", famSAPI, fixed(10), handleIsolatedAccount),
		read(http.MethodGet, "/sapi/v1/margin/openOrders", famSAPI, fixed(10), handleMarginOpenOrders),
		mut(http.MethodDelete, "/sapi/v1/margin/openOrders", famSAPI, permSpot, fixed(1), handleMarginCancelAll),
		read(http.MethodGet, "/sapi/v1/margin/myTrades", famSAPI, fixed(10), handleMarginMyTrades),
		uid(mut(http.MethodPost, "/sapi/v1/margin/order", famSAPI, permSpot, fixed(6), handleMarginOrder)),
		mut(http.MethodDelete, "/sapi/v1/margin/order", famSAPI, permSpot, fixed(10), handleMarginCancel),
		perSecond(read(http.MethodGet, "/sapi/v1/capital/withdraw/history", famSAPI, fixed(18000), handleWithdrawHistory)),
		uid(mut(http.MethodPost, "/sapi/v1/capital/withdraw/apply", famSAPI, permWithdrawals, fixed(900), handleWithdraw)),
		noSubs(master(read(http.MethodGet, "/sapi/v1/sub-account/list", famSAPI, fixed(1), handleSubAccountList))),
		master(uid(read(http.MethodGet, "/sapi/v4/sub-account/assets", famSAPI, fixed(60), handleSubAccountAssets))),
		master(read(http.MethodGet, "/sapi/v1/sub-account/status", famSAPI, fixed(10), handleSubAccountStatus)),
		master(uid(read(http.MethodGet, "/sapi/v1/sub-account/subAccountApi", famSAPI, fixed(3000), handleSubKeyList))),
		master(uid(mut(http.MethodPost, "/sapi/v1/sub-account/subAccountApi", famSAPI, permSpot, fixed(3000), handleSubKeyCreate(false)))),
		master(uid(mut(http.MethodPost, "/sapi/v2/sub-account/subAccountApi", famSAPI, permSpot, fixed(3000), handleSubKeyCreate(true)))),
		master(uid(mut(http.MethodDelete, "/sapi/v1/sub-account/subAccountApi", famSAPI, permSpot, fixed(3000), handleSubKeyDelete))),
		master(uid(mut(http.MethodPost, "/sapi/v1/sub-account/subAccountApiPermission", famSAPI, permSpot, fixed(3000), handleSubKeyPermission))),
		master(uid(read(http.MethodGet, "/sapi/v1/sub-account/subAccountApi/ipRestriction", famSAPI, fixed(3000), handleSubKeyIPGet))),
		master(uid(mut(http.MethodPost, "/sapi/v2/sub-account/subAccountApi/ipRestriction", famSAPI, permSpot, fixed(3000), handleSubKeyIPSet))),
		master(uid(mut(http.MethodDelete, "/sapi/v1/sub-account/subAccountApi/ipRestriction/ipList", famSAPI, permSpot, fixed(3000), handleSubKeyIPDelete))),
		// IP 1 + UID 360 (EXCHANGES.md C4).
		uidToo(360, master(mut(http.MethodPost, "/sapi/v1/sub-account/universalTransfer", famSAPI, permInternalTransfer, fixed(1), handleUniversalTransfer))),

		// USDⓈ-M futures /fapi
		pub(http.MethodGet, "/fapi/v1/ping", famFAPI, 1, func(c *call) { c.ok(obj{}) }),
		pub(http.MethodGet, "/fapi/v1/time", famFAPI, 1, handleTime),
		pub(http.MethodGet, "/fapi/v1/exchangeInfo", famFAPI, 1, handleUSDMExchangeInfo),
		pubW(http.MethodGet, "/fapi/v1/depth", famFAPI, depthWeight(mdUSDM), handleDepth(mdUSDM)),
		pubW(http.MethodGet, "/fapi/v1/klines", famFAPI, klineWeight(mdUSDM), handleKlines(mdUSDM)),
		pubW(http.MethodGet, "/fapi/v1/premiumIndex", famFAPI, tickerWeight(1, 10), handlePremiumIndex(mdUSDM)),
		pubW(http.MethodGet, "/fapi/v1/ticker/24hr", famFAPI, tickerWeight(1, 40), handleTicker24(mdUSDM)),
		pubW(http.MethodGet, "/fapi/v1/ticker/price", famFAPI, tickerWeight(1, 2), handleFuturesTickerPrice(mdUSDM)),
		pubW(http.MethodGet, "/fapi/v2/ticker/price", famFAPI, tickerWeight(1, 2), handleFuturesTickerPrice(mdUSDM)),
		pubW(http.MethodGet, "/fapi/v1/ticker/bookTicker", famFAPI, tickerWeight(2, 5), handleBookTicker(mdUSDM)),
		pub(http.MethodGet, "/fapi/v1/trades", famFAPI, 5, handleTrades(mdUSDM)),
		pub(http.MethodGet, "/fapi/v1/fundingRate", famFAPI, 1, handleFundingRate(mdUSDM)),
		pub(http.MethodGet, "/fapi/v1/openInterest", famFAPI, 1, handleOpenInterest(mdUSDM)),
		read(http.MethodGet, "/fapi/v1/leverageBracket", famFAPI, fixed(1), handleLeverageBracket(mdUSDM, false)),
		read(http.MethodGet, "/fapi/v3/balance", famFAPI, fixed(5), handleUSDMBalance),
		read(http.MethodGet, "/fapi/v2/balance", famFAPI, fixed(5), handleUSDMBalance),
		read(http.MethodGet, "/fapi/v3/account", famFAPI, fixed(5), handleUSDMAccount),
		read(http.MethodGet, "/fapi/v3/positionRisk", famFAPI, fixed(5), handleUSDMPositionRisk),
		read(http.MethodGet, "/fapi/v1/positionSide/dual", famFAPI, fixed(30), handlePositionMode(false)),
		read(http.MethodGet, "/fapi/v1/openOrders", famFAPI, withSymbol(1, 40), handleUSDMOpenOrders),
		mut(http.MethodDelete, "/fapi/v1/allOpenOrders", famFAPI, permFutures, fixed(1), handleFuturesCancelAll(false)),
		read(http.MethodGet, "/fapi/v1/openAlgoOrders", famFAPI, withSymbol(1, 40), handleOpenAlgoOrders),
		mut(http.MethodDelete, "/fapi/v1/algoOpenOrders", famFAPI, permFutures, fixed(1), handleAlgoCancelAll),
		mut(http.MethodPost, "/fapi/v1/countdownCancelAll", famFAPI, permFutures, fixed(10), handleCountdown("usdm")),
		mut(http.MethodPost, "/fapi/v1/order", famFAPI, permFutures, fixed(0), handleFuturesOrder(false)),
		mut(http.MethodDelete, "/fapi/v1/order", famFAPI, permFutures, fixed(1), handleFuturesCancel(false)),
		read(http.MethodGet, "/fapi/v1/order", famFAPI, fixed(1), handleFuturesGetOrder(false)),
		mut(http.MethodPost, "/fapi/v1/algoOrder", famFAPI, permFutures, fixed(0), handleAlgoOrder),
		read(http.MethodGet, "/fapi/v1/userTrades", famFAPI, fixed(5), handleFuturesUserTrades(false)),

		// COIN-M futures /dapi
		pub(http.MethodGet, "/dapi/v1/ping", famDAPI, 1, func(c *call) { c.ok(obj{}) }),
		pub(http.MethodGet, "/dapi/v1/time", famDAPI, 1, handleTime),
		pub(http.MethodGet, "/dapi/v1/exchangeInfo", famDAPI, 1, handleCOINMExchangeInfo),
		pubW(http.MethodGet, "/dapi/v1/depth", famDAPI, depthWeight(mdCOINM), handleDepth(mdCOINM)),
		pubW(http.MethodGet, "/dapi/v1/klines", famDAPI, klineWeight(mdCOINM), handleKlines(mdCOINM)),
		pub(http.MethodGet, "/dapi/v1/premiumIndex", famDAPI, 10, handlePremiumIndex(mdCOINM)),
		pubW(http.MethodGet, "/dapi/v1/ticker/24hr", famDAPI, tickerWeight(1, 40), handleTicker24(mdCOINM)),
		pubW(http.MethodGet, "/dapi/v1/ticker/price", famDAPI, tickerWeight(1, 2), handleFuturesTickerPrice(mdCOINM)),
		pubW(http.MethodGet, "/dapi/v1/ticker/bookTicker", famDAPI, tickerWeight(2, 5), handleBookTicker(mdCOINM)),
		pub(http.MethodGet, "/dapi/v1/trades", famDAPI, 5, handleTrades(mdCOINM)),
		pub(http.MethodGet, "/dapi/v1/fundingRate", famDAPI, 1, handleFundingRate(mdCOINM)),
		pub(http.MethodGet, "/dapi/v1/openInterest", famDAPI, 1, handleOpenInterest(mdCOINM)),
		read(http.MethodGet, "/dapi/v1/leverageBracket", famDAPI, fixed(1), handleLeverageBracket(mdCOINM, true)),
		read(http.MethodGet, "/dapi/v2/leverageBracket", famDAPI, fixed(1), handleLeverageBracket(mdCOINM, false)),
		read(http.MethodGet, "/dapi/v1/balance", famDAPI, fixed(1), handleCOINMBalance),
		read(http.MethodGet, "/dapi/v1/positionRisk", famDAPI, fixed(1), handleCOINMPositionRisk),
		read(http.MethodGet, "/dapi/v1/positionSide/dual", famDAPI, fixed(30), handlePositionMode(true)),
		read(http.MethodGet, "/dapi/v1/openOrders", famDAPI, dapiOpen, handleCOINMOpenOrders),
		mut(http.MethodDelete, "/dapi/v1/allOpenOrders", famDAPI, permFutures, fixed(1), handleFuturesCancelAll(true)),
		mut(http.MethodPost, "/dapi/v1/countdownCancelAll", famDAPI, permFutures, fixed(10), handleCountdown("coinm")),
		mut(http.MethodPost, "/dapi/v1/order", famDAPI, permFutures, fixed(0), handleFuturesOrder(true)),
		mut(http.MethodDelete, "/dapi/v1/order", famDAPI, permFutures, fixed(1), handleFuturesCancel(true)),
		read(http.MethodGet, "/dapi/v1/order", famDAPI, fixed(1), handleFuturesGetOrder(true)),
		read(http.MethodGet, "/dapi/v1/userTrades", famDAPI, dapiTrades, handleFuturesUserTrades(true)),
	}
	m := make(map[string]*route, len(list))
	for _, r := range list {
		m[r.method+" "+r.path] = r
	}
	return m
}
