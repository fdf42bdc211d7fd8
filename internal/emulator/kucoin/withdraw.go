package kucoin

import (
	"math/big"
	"regexp"
	"strings"
	"time"
)

// Withdrawals through the API (POST /api/v3/withdrawals and the
// deprecated POST /api/v1/withdrawals): the key needs the Withdrawal
// permission and an IP whitelist; with the user's withdraw_whitelist set,
// only those addresses; the chain's minimum and fee apply; amount and fee
// leave the main (funding) account at once. The withdrawal then shows as
// PROCESSING (cancellable), WALLET_PROCESSING after half the state's
// withdraw_settle (default 2m) and SUCCESS (with a walletTxId) after all of
// it, on the emulator clock.

// chainInfo is one withdrawal network of a currency.
type chainInfo struct {
	id, name string
	fee, min string
	addrRE   string
}

var knownChains = map[string][]chainInfo{
	"USDT": {
		{"eth", "ERC20", "3.5", "10", `^0x[0-9a-fA-F]{40}$`},
		{"trx", "TRC20", "1", "10", `^T[1-9A-HJ-NP-Za-km-z]{33}$`},
		{"sol", "SOL", "1", "10", `^[1-9A-HJ-NP-Za-km-z]{32,44}$`},
	},
	"USDC": {{"eth", "ERC20", "3.5", "10", `^0x[0-9a-fA-F]{40}$`}},
	"BTC":  {{"btc", "BTC", "0.0005", "0.001", `^(bc1|[13])[a-zA-HJ-NP-Z0-9]{25,62}$`}},
	"ETH":  {{"eth", "ERC20", "0.002", "0.01", `^0x[0-9a-fA-F]{40}$`}},
	"TRX":  {{"trx", "TRC20", "1", "10", `^T[1-9A-HJ-NP-Za-km-z]{33}$`}},
	"SOL":  {{"sol", "SOL", "0.01", "0.1", `^[1-9A-HJ-NP-Za-km-z]{32,44}$`}},
}

// chainsOf lists the withdrawal networks of cur; a currency the emulator
// does not know well withdraws on one network named after it.
func chainsOf(cur string) []chainInfo {
	if c, ok := knownChains[cur]; ok {
		return c
	}
	return []chainInfo{{defaultChain(cur), strings.ToUpper(defaultChain(cur)), "0.0005", "0.001", `^[0-9A-Za-z:_-]{10,100}$`}}
}

var addrCache = map[string]*regexp.Regexp{}

func addressOK(ch chainInfo, addr string) bool {
	re := addrCache[ch.addrRE] // under store.mu, like every handler
	if re == nil {
		re = regexp.MustCompile(ch.addrRE)
		addrCache[ch.addrRE] = re
	}
	return re.MatchString(addr)
}

type withdrawReq struct {
	Currency      string `json:"currency"`
	Chain         string `json:"chain"`
	Amount        num    `json:"amount"`
	Memo          string `json:"memo"`
	IsInner       bool   `json:"isInner"`
	Remark        string `json:"remark"`
	FeeDeductType string `json:"feeDeductType"`
	ToAddress     string `json:"toAddress"`    // v3
	WithdrawType  string `json:"withdrawType"` // v3: ADDRESS, UID, MAIL, PHONE
	Address       string `json:"address"`      // v1
}

func hWithdrawV3(c *call) (any, *apiError) {
	var req withdrawReq
	if aerr := c.decodeBody(&req); aerr != nil {
		return nil, aerr
	}
	switch req.WithdrawType {
	case "ADDRESS":
	case "UID", "MAIL", "PHONE":
		return nil, badParam("withdrawType %s is not supported by the emulator (no account holds an e-mail or phone; use ADDRESS)", req.WithdrawType)
	case "":
		return nil, badParam("withdrawType is required")
	default:
		return nil, badParam("withdrawType is invalid")
	}
	return c.withdraw(req, req.ToAddress)
}

func hWithdrawV1(c *call) (any, *apiError) {
	var req withdrawReq
	if aerr := c.decodeBody(&req); aerr != nil {
		return nil, aerr
	}
	return c.withdraw(req, req.Address)
}

func (c *call) withdraw(req withdrawReq, addr string) (any, *apiError) {
	// Withdrawal needs an IP whitelist on the key (the permission's rule);
	// a sub-account key can never hold it.
	if len(c.key.ipList) == 0 || c.u.master != nil {
		return nil, errPermission
	}
	if req.Currency == "" || addr == "" || req.Amount == "" {
		return nil, badParam("currency, address and amount are required")
	}
	if !contains(c.w.currencies(), req.Currency) {
		return nil, badParam("currency %s does not exist", req.Currency)
	}
	chains := chainsOf(req.Currency)
	ch := chains[0]
	if req.Chain != "" {
		found := false
		for _, x := range chains {
			if strings.EqualFold(x.id, req.Chain) {
				ch, found = x, true
			}
		}
		if !found {
			return nil, badParam("chain %s is not supported for %s", req.Chain, req.Currency)
		}
	}
	amt, _, aerr := decimal("amount", req.Amount)
	if aerr != nil {
		return nil, aerr
	}
	if !addressOK(ch, addr) {
		return nil, badParam("withdrawal address %s is invalid for %s on %s", addr, req.Currency, ch.name)
	}
	if len(c.u.wdWhitelist) > 0 && !contains(c.u.wdWhitelist, addr) {
		return nil, badParam("withdrawal address is not in the address whitelist")
	}
	fee := rat(ch.fee)
	if req.IsInner {
		fee = new(big.Rat)
	}
	if amt.Cmp(rat(ch.min)) < 0 {
		return nil, badParam("amount is below the minimum withdrawal %s %s", ch.min, req.Currency)
	}
	debit, sent := new(big.Rat).Add(amt, fee), amt
	switch req.FeeDeductType {
	case "", "INTERNAL":
	case "EXTERNAL":
		if amt.Cmp(fee) <= 0 {
			return nil, badParam("amount must exceed the fee %s", ch.fee)
		}
		debit, sent = amt, new(big.Rat).Sub(amt, fee)
	default:
		return nil, badParam("feeDeductType must be INTERNAL or EXTERNAL")
	}
	a := c.u.balances["main"][req.Currency]
	if a == nil || a.available().Cmp(debit) < 0 {
		// field report: KuCoin answers 400100 "account.available.amount"
		return nil, badParam("account.available.amount")
	}
	a.balance.Sub(a.balance, debit)
	wd := &withdrawal{
		id: c.w.newID(), currency: req.Currency, chain: ch.id, address: addr, memo: req.Memo, status: "PROCESSING",
		remark: req.Remark, amount: sent, fee: fee, isInner: req.IsInner, createdAt: c.now.UnixMilli(), advances: true,
	}
	wd.updatedAt = wd.createdAt
	c.u.withdrawals = append(c.u.withdrawals, wd)
	return map[string]string{"withdrawalId": wd.id}, nil
}

// advanceWithdrawals moves API withdrawals along PROCESSING →
// WALLET_PROCESSING → SUCCESS on the emulator clock.
func (w *world) advanceWithdrawals(now time.Time) {
	wdDoneAfter, wdWalletAfter := w.wdSettle, w.wdSettle/2
	for _, u := range w.users {
		for _, wd := range u.withdrawals {
			if !wd.advances || wd.cancelled {
				continue
			}
			age := now.Sub(time.UnixMilli(wd.createdAt))
			switch {
			case age >= wdDoneAfter && wd.status != "SUCCESS":
				wd.status, wd.walletTxID = "SUCCESS", "0x"+hashHex("tx", wd.id)
				wd.updatedAt = time.UnixMilli(wd.createdAt).Add(wdDoneAfter).UnixMilli()
			case age >= wdWalletAfter && age < wdDoneAfter && wd.status == "PROCESSING":
				wd.status = "WALLET_PROCESSING"
				wd.updatedAt = time.UnixMilli(wd.createdAt).Add(wdWalletAfter).UnixMilli()
			}
		}
	}
}

func hWithdrawalQuotas(c *call) (any, *apiError) {
	cur := c.param("currency")
	if cur == "" {
		return nil, badParam("currency is required")
	}
	if !contains(c.w.currencies(), cur) {
		return nil, badParam("currency %s does not exist", cur)
	}
	chains := chainsOf(cur)
	ch := chains[0]
	if want := c.param("chain"); want != "" {
		found := false
		for _, x := range chains {
			if strings.EqualFold(x.id, want) {
				ch, found = x, true
			}
		}
		if !found {
			return nil, badParam("chain %s is not supported for %s", want, cur)
		}
	}
	avail := new(big.Rat)
	if a := c.u.balances["main"][cur]; a != nil {
		avail = a.available()
	}
	return map[string]any{
		"currency": cur, "limitBTCAmount": "2000000", "usedBTCAmount": "0", "quotaCurrency": "USDT", "limitQuotaCurrencyAmount": "2000000",
		"usedQuotaCurrencyAmount": "0", "remainAmount": ratString(avail), "availableAmount": ratString(avail),
		"withdrawMinFee": ch.fee, "innerWithdrawMinFee": "0", "withdrawMinSize": ch.min, "isWithdrawEnabled": true,
		"precision": 8, "chain": strings.ToUpper(ch.name), "reason": nil, "lockedAmount": "0",
	}, nil
}
