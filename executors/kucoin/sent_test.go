package kucoin

import (
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/internal/emulator/states"
)

// TestFreezeSaysWhenCancelsAreSent: the master's freeze tells the runner
// once, after its cancels are answered and before its confirming re-list,
// that it has only to confirm (the account's key revocations may start);
// with scope all it does not (its sub-accounts' cancels are still to come).
func TestFreezeSaysWhenCancelsAreSent(t *testing.T) {
	for _, scope := range []string{"", executors.ScopeAll} {
		srv, base := startEmulator(t, states.FS, states.Demo)
		x, err := New(demoAccount(t, srv, base), executors.Env{})
		if err != nil {
			t.Fatal(err)
		}
		h := &executortest.SentHooks{}
		p := executors.Params{"confirm_timeout": 2 * time.Second}
		if scope != "" {
			p["scope"] = scope
		}
		res, err := x.Do(t.Context(), req(executors.OrdersCancelAll, p, h))
		if err != nil || len(res.Changes) == 0 {
			t.Fatalf("freeze: %v, %d cancelled (%s); want some cancelled", err, len(res.Changes), res.Summary)
		}
		h.CheckFreezeSent(t, scope, srv.Requests())
	}
}
