package binance

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/panicbutton/panicbutton/executors"
)

// Which sub-accounts can hold an order the master cannot see (issue 12).
// Minting, using and deleting a temporary key costs UID weight 3000 per
// call against a small per-master budget, so a sub-account that provably
// holds no open order is not given one: GET /sapi/v1/sub-account/status
// (master only, IP weight 10, one request for every sub-account) says
// whether margin and futures are enabled on it, and a spot order locks
// its funds, which the master sees (subAssets). With margin and futures
// off and nothing locked in spot, no order is possible. Any missing
// evidence (the status or the balances could not be read, the sub-account
// is not in the answer) means "may hold orders": it is inspected as
// before. Each call of the step (every pass of a hold) reads the status
// again, so a sub-account whose futures get enabled or whose funds get
// locked meanwhile is inspected on the next pass.

// pathSubStatus is Binance's "Get Sub-account's Status on Margin Or
// Futures (For Master Account)".
const pathSubStatus = "/sapi/v1/sub-account/status"

// subStatusTimeout bounds the status read (retries included): it only
// saves work, so a storm on it must not hold the step.
const subStatusTimeout = 10 * time.Second

// subStatus is what the status answer says of one sub-account.
type subStatus struct {
	Email   string `json:"email"`
	Margin  bool   `json:"isMarginEnabled"`
	Futures bool   `json:"isFutureEnabled"`
}

// subStatuses is the status of every sub-account, by lower-cased e-mail,
// or the error that kept it from being read.
type subStatuses struct {
	by  map[string]subStatus
	err error
}

// readSubStatuses reads the margin/futures status of every sub-account of
// the master in one request.
func (e *Executor) readSubStatuses(ctx context.Context) subStatuses {
	ctx, cancel := context.WithTimeout(ctx, subStatusTimeout)
	defer cancel()
	var rows []subStatus
	err := e.call(ctx, "read sub-account margin/futures status", false, func(ctx context.Context) error {
		data, err := e.signed(ctx, http.MethodGet, pathSubStatus, nil, nil)
		if err != nil {
			return err
		}
		return json.Unmarshal(data, &rows)
	})
	if err != nil {
		return subStatuses{err: err}
	}
	st := subStatuses{by: make(map[string]subStatus, len(rows))}
	for _, r := range rows {
		st.by[strings.ToLower(r.Email)] = r
	}
	return st
}

// noOrderPossible reports whether the sub-account provably holds no open
// order: margin and futures disabled in the status and nothing locked in
// its spot wallet (read without error).
func (s subStatuses) noOrderPossible(email string, view subView) bool {
	if s.err != nil || view.err != nil || len(view.locked) > 0 {
		return false
	}
	st, ok := s.by[strings.ToLower(email)]
	return ok && !st.Margin && !st.Futures
}

// why says what the status adds to the reason a sub-account with nothing
// locked in spot is inspected anyway.
func (s subStatuses) why(email string) string {
	if s.err != nil {
		return "its margin/futures status could not be read (" + s.err.Error() + ")"
	}
	st, ok := s.by[strings.ToLower(email)]
	switch {
	case !ok:
		return "it is missing from the margin/futures status"
	case st.Margin && st.Futures:
		return "margin and futures are enabled on it"
	case st.Margin:
		return "margin is enabled on it"
	case st.Futures:
		return "futures are enabled on it"
	}
	return ""
}

// markIdle makes out the outcome of a sub-account that provably holds no
// open order: skipped, counted clean, no key used. It is not recorded in
// the memory of emptied sub-accounts: the next pass decides from a fresh
// status.
func markIdle(out *subOutcome, plan bool) {
	const because = "no order possible: margin and futures disabled, nothing locked in spot"
	out.Skipped, out.Clean = true, true
	out.Line = out.Sub + ": skipped (" + because + ")"
	if plan {
		out.Line = out.Sub + ": would skip: " + because
	}
}

// offProducts returns the products the status proves cannot hold an order
// on the sub-account (margin or futures disabled), with why; nil when the
// status is unknown. A temporary key's run skips them: listing USDⓈ-M and
// COIN-M orders without a symbol costs 40 of the IP's 2400 a minute each,
// and at scale those lists were the binding limit.
func (s subStatuses) offProducts(email string) map[string]string {
	if s.err != nil {
		return nil
	}
	st, ok := s.by[strings.ToLower(email)]
	if !ok {
		return nil
	}
	off := map[string]string{}
	if !st.Margin {
		const why = "margin is disabled on the sub-account (GET " + pathSubStatus + ")"
		off[executors.ProductMargin], off[executors.ProductIsolatedMargin] = why, why
	}
	if !st.Futures {
		const why = "futures are disabled on the sub-account (GET " + pathSubStatus + ")"
		off[executors.ProductUSDM], off[executors.ProductCoinM] = why, why
	}
	return off
}
