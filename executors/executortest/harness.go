// Package executortest is the conformance suite every executor must pass
// (in the style of restic's internal/backend/test). A Harness adapts one
// venue (the in-process emulator for binance and kucoin) and Run
// exercises the executor contract against it: reads, plans, dry-run,
// cancel-all, key revocation, audit hooks and error classes.
//
// It also provides RecordingHooks, an executors.Hooks that records every
// intent and outcome, for the suite and for other tests.
package executortest

import (
	"testing"

	"github.com/panicbutton/panicbutton/executors"
)

// Harness adapts one venue (the emulator for binance or kucoin) to the
// suite. Every method may call t.Fatal on a harness failure.
type Harness interface {
	// New returns an executor for a MASTER account over a FRESH venue state
	// that has: open orders on at least two symbols on every product the
	// venue supports (incl. stop/algo/list kinds where the venue has them),
	// at least two sub-accounts with keys, one of them with withdrawals
	// enabled, balances, at least one futures position, a pending
	// withdrawal (cancellable where the venue can cancel). Each call starts
	// from a clean state; the helpers below refer to the state of the most
	// recent New.
	//
	// The executor must probe keys quickly: the suite passes short
	// interval/deadline parameters to keys.verify_rejected, so an Env whose
	// Sleep really sleeps is fine.
	New(t *testing.T) (executors.Executor, executors.Account)
	// OpenOrders counts the open orders in the venue that the executor's
	// orders.list/orders.cancel_all act on (the account itself, every
	// product in Capabilities().Products).
	OpenOrders(t *testing.T) int
	// SubKeys returns the sub-account API keys (full public ids) still
	// valid in the venue.
	SubKeys(t *testing.T) []string
	// Mutations counts the mutating requests the venue has received since
	// New.
	Mutations(t *testing.T) int
	// Capabilities says what this venue supports, so the suite skips what
	// cannot apply.
	Capabilities() Caps
}

// Caps describes what a venue (and its executor) supports.
type Caps struct {
	// Products are the product names the executor reports in Order.Product
	// (e.g. spot, margin, isolated_margin, usdm, coinm, futures); the venue
	// state has open orders on each.
	Products []string
	// CancelPendingWithdrawals: withdrawals.cancel_pending is supported and
	// the state's pending withdrawal can be cancelled through the API.
	CancelPendingWithdrawals bool
	// RevokeMethods lists the keys.revoke methods supported on sub-account
	// keys: delete, ip_lock, strip_permissions.
	RevokeMethods []string
	// DeadMan: orders.deadman is supported.
	DeadMan bool
	// ClosePositions: positions.close is supported.
	ClosePositions bool
	// Sweep: funds.sweep is supported (and the state's subs hold funds).
	Sweep bool
}

// hasRevoke reports whether the venue supports revoke method m.
func (c Caps) hasRevoke(m string) bool {
	for _, x := range c.RevokeMethods {
		if x == m {
			return true
		}
	}
	return false
}
