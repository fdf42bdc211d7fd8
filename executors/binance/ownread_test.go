package binance

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/executortest"
	"github.com/panicbutton/panicbutton/internal/emulator"
)

// ownReadHooks records when a step said it had read the account's own
// state (executors.OwnStateReader).
type ownReadHooks struct {
	executortest.RecordingHooks
	mu sync.Mutex
	at time.Time
}

func (h *ownReadHooks) OwnStateRead() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.at.IsZero() {
		h.at = time.Now()
	}
}

// TestSnapshotSaysWhenOwnStateIsRead: the snapshot tells the runner it has
// read the master's own balances before the sub-accounts' assets are in
// (the master's cancels may go then), and does not when one of the
// master's own parts failed (a retry would read them again, after the
// cancels).
func TestSnapshotSaysWhenOwnStateIsRead(t *testing.T) {
	for _, failOwn := range []bool{false, true} {
		r := startEmulator(t, "conformance.yaml", "MASTERKEY0000000000000000000000000000000000000001", "mastersecret0000000000000000000000000000000000000000000001", "hmac")
		f := emulator.Faults{Latency: emulator.Duration(50 * time.Millisecond)}
		if failOwn {
			f.Script = []emulator.ScriptFault{{Venue: "binance", Method: http.MethodGet, Path: "/api/v3/account", Count: 5,
				Status: 400, Body: `{"code":-1100,"msg":"Illegal characters found in a parameter."}`}}
		}
		r.srv.SetFaults(f)
		e, err := New(r.acct, testEnv())
		if err != nil {
			t.Fatal(err)
		}
		h := &ownReadHooks{}
		res, err := doAction(t, e, executors.SnapshotBalances, executors.Params{"include_sub_accounts": true}, h)
		if err != nil {
			t.Fatalf("snapshot: %v (%s)", err, res.Summary)
		}
		var lastSub time.Time
		for _, x := range requestsTo(r, http.MethodGet, "/sapi/v4/sub-account/assets") {
			if end := x.Time.Add(x.Duration); end.After(lastSub) {
				lastSub = end
			}
		}
		if lastSub.IsZero() {
			t.Fatal("no sub-account assets read: the test tests nothing")
		}
		switch {
		case failOwn && !h.at.IsZero():
			t.Error("a master part failed, yet the snapshot said the master's state was read")
		case !failOwn && h.at.IsZero():
			t.Error("the snapshot never said the master's state was read")
		case !failOwn && !h.at.Before(lastSub):
			t.Errorf("said so at %v, after the last sub-account read ended (%v): no earlier than the whole snapshot", h.at, lastSub)
		}
	}
}

// TestFreezeSaysWhenCancelsAreSent: the account's freeze tells the runner
// once, after its cancels are answered and before its confirming re-list,
// that it has only to confirm (the account's key revocations may start);
// with scope all it does not (its sub-accounts' cancels are still to come).
func TestFreezeSaysWhenCancelsAreSent(t *testing.T) {
	for _, scope := range []string{"", executors.ScopeAll} {
		r := startEmulator(t, "conformance.yaml", "MASTERKEY0000000000000000000000000000000000000001", "mastersecret0000000000000000000000000000000000000000000001", "hmac")
		r.srv.SetFaults(emulator.Faults{Latency: emulator.Duration(20 * time.Millisecond)})
		e, err := New(r.acct, testEnv())
		if err != nil {
			t.Fatal(err)
		}
		h := &executortest.SentHooks{}
		p := executors.Params{}
		if scope != "" {
			p["scope"] = scope
		}
		res, err := doAction(t, e, executors.OrdersCancelAll, p, h)
		if err != nil {
			t.Fatalf("freeze: %v (%s)", err, res.Summary)
		}
		if res.Counts["cancelled"] == 0 {
			t.Fatalf("nothing cancelled (%s): the test tests nothing", res.Summary)
		}
		h.CheckFreezeSent(t, scope, r.srv.Requests())
	}
}
