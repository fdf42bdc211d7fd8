package binance

// handleSubAccountStatus is GET /sapi/v1/sub-account/status (master only,
// USER_DATA, IP weight 10; developers.binance.com sub_account
// account-management "Get Sub-account's Status on Margin Or Futures"):
// every sub-account of the caller in state order, or only the one named
// by the optional email (unknown → -12002 like the other sub-account
// routes; the venue's code there is unverified).
func handleSubAccountStatus(c *call) {
	subs := c.st.subsOf(c.acct)
	if c.p.Get("email") != "" {
		s := c.subByEmail("email")
		if s == nil {
			return
		}
		subs = []*account{s}
	}
	out := []obj{}
	for _, s := range subs {
		out = append(out, obj{"email": s.Email, "isSubUserEnabled": !s.Frozen, "isUserActive": true, "insertTime": ms(s.Created),
			"isMarginEnabled": marginEnabled(s), "isFutureEnabled": futuresEnabled(s), "mobile": 0})
	}
	c.ok(out)
}

// marginEnabled reports whether the account has a cross or isolated
// margin account: the state gives it a margin wallet, an isolated pair or
// margin orders (the same test that answers -3003 / -11001 to an order,
// plus orders, which only an enabled account can hold), or margin_enabled.
func marginEnabled(a *account) bool {
	return a.MarginOn || len(a.Margin) > 0 || len(a.Isolated) > 0 || len(a.MarginOrders) > 0 || len(a.IsolatedOrders) > 0
}

// futuresEnabled reports whether the account has a USDⓈ-M or COIN-M
// account: a futures wallet (the `activate` of asset/wallet/balance),
// futures orders or positions, or futures_enabled.
func futuresEnabled(a *account) bool {
	return a.FuturesOn || len(a.USDM) > 0 || len(a.COINM) > 0 || len(a.USDMOrders) > 0 || len(a.AlgoOrders) > 0 ||
		len(a.COINMOrders) > 0 || len(a.USDMPositions) > 0 || len(a.COINMPositions) > 0
}
