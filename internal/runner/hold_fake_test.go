package runner_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/fake"
	"github.com/panicbutton/panicbutton/internal/runner"
	"github.com/panicbutton/panicbutton/playbooks"
)

const holdFakePB = `name: hold-test
targets: {all: true}
steps:
  - id: inventory
    action: keys.inventory
  - id: freeze
    action: orders.cancel_all
  - id: withdrawals
    action: withdrawals.cancel_pending
  - id: revoke
    action: keys.revoke
    irreversible: true
  - id: master-key
    action: manual
    with:
      instructions: delete the key in the web UI
      verify: key_rejected
      hold: true
`

// An attacker holding the master key acts while the hold runs: an order,
// a withdrawal and a new sub-account key appear; the hold cancels and
// deletes them, and ends when the human deletes the master key.
func TestHoldCatchesAttackerOnFakeVenue(t *testing.T) {
	pb, err := playbooks.Parse("hold.yaml", []byte(holdFakePB))
	if err != nil {
		t.Fatal(err)
	}
	v := fake.DemoVenue()
	drv := fake.DriverFor(v)
	env := executors.Env{}.Defaults()
	var targets []runner.Target
	acct := fake.DemoAccounts()[0]
	ex, err := drv.New(acct, env)
	if err != nil {
		t.Fatal(err)
	}
	targets = append(targets, runner.Target{Ref: playbooks.AccountRef{Name: acct.Name, Exchange: acct.Exchange}, Exec: ex})

	var (
		mu     sync.Mutex
		events []string
		once   sync.Once
	)
	attack := func() {
		v.AddOrders(acct.Name, executors.Order{Product: "spot", Symbol: "PUMPUSDT", Kind: "limit", Side: "BUY", Price: "1", Qty: "1000"})
		v.AddWithdrawals(acct.Name, executors.Withdrawal{ID: "att-1", Asset: "USDT", Amount: "5000", Address: "attacker", Status: "pending", Pending: true, Cancellable: true, Created: time.Now()})
		v.AddSub(acct.Name, "attacker-sub", fake.Key{ID: "attackerKey0123456789", Trade: true, Withdraw: true, Created: time.Now()})
	}
	o := runner.Options{RunID: "r", Playbook: pb, Targets: targets, HoldInterval: time.Millisecond, Hold: time.Minute,
		Progress: func(e runner.Event) {
			if e.Kind != "hold" {
				return
			}
			mu.Lock()
			events = append(events, e.Text)
			mu.Unlock()
			switch {
			case strings.HasPrefix(e.Text, "holding the line"):
				once.Do(attack)
			case strings.Contains(e.Text, "caught"):
				v.DeleteMasterKey(acct.Name) // the human deletes the key
			}
		}}
	rep, err := runner.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var hs *runner.HoldSummary
	for _, r := range rep.Results {
		if r.Step == "master-key" {
			hs, _ = r.Result.Data.(*runner.HoldSummary)
		}
	}
	if hs == nil {
		t.Fatalf("no hold summary in %+v", rep.Results)
	}
	if hs.EndedBy != runner.HoldKeyRejected {
		t.Errorf("hold ended by %q, want %q (events %q)", hs.EndedBy, runner.HoldKeyRejected, events)
	}
	if got := v.OpenOrders(acct.Name); len(got) != 0 {
		t.Errorf("open orders left: %+v", got)
	}
	for _, w := range v.Withdrawals(acct.Name) {
		if w.ID == "att-1" && w.Pending {
			t.Errorf("attacker withdrawal still pending: %+v", w)
		}
	}
	if keys := v.SubKeys(acct.Name); len(keys) != 0 {
		t.Errorf("sub keys left: %v", keys)
	}
	kinds := map[string]bool{}
	for _, c := range hs.Caught {
		kinds[c.Kind] = true
	}
	if len(kinds) < 3 {
		t.Errorf("caught kinds = %v, want an order cancel, a withdrawal cancel and a key deletion", kinds)
	}
	// The demo venue's one withdrawal no API can cancel is still leaving:
	// everything else was undone, so only that is left, and it needs a human.
	v2 := rep.Verdict
	if v2.Contained || !v2.OnlyManual || len(v2.Left) != 1 || v2.Left[0].Kind != runner.LeftWithdrawalUncancel {
		t.Errorf("verdict = %+v, want not contained with only the uncancellable withdrawal left", v2)
	}
}

// A withdrawal filed mid-run that no API can cancel is said at once, live,
// and recorded in the hold's summary; it keeps the run from being contained.
func TestHoldReportsUncancellableWithdrawalAtOnce(t *testing.T) {
	pb, err := playbooks.Parse("hold.yaml", []byte(holdFakePB))
	if err != nil {
		t.Fatal(err)
	}
	v := fake.DemoVenue()
	acct := fake.DemoAccounts()[0]
	ex, err := fake.DriverFor(v).New(acct, executors.Env{}.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		events []string
		once   sync.Once
	)
	o := runner.Options{RunID: "r", Playbook: pb, HoldInterval: time.Millisecond, Hold: time.Minute,
		Targets: []runner.Target{{Ref: playbooks.AccountRef{Name: acct.Name, Exchange: acct.Exchange}, Exec: ex}},
		Progress: func(e runner.Event) {
			if e.Kind != "hold" {
				return
			}
			mu.Lock()
			events = append(events, e.Text)
			mu.Unlock()
			switch {
			case strings.HasPrefix(e.Text, "holding the line"):
				once.Do(func() {
					v.AddWithdrawals(acct.Name, executors.Withdrawal{ID: "att-processing-7", Asset: "BTC", Amount: "3", Address: "bc1attacker",
						Status: "processing", Pending: true, Cancellable: false, Created: time.Now()})
				})
			case strings.HasPrefix(e.Text, "NEW, NEEDS A HUMAN NOW"):
				v.DeleteMasterKey(acct.Name)
			}
		}}
	rep, err := runner.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	said := false
	for _, e := range events {
		if strings.HasPrefix(e, "NEW, NEEDS A HUMAN NOW") && strings.Contains(e, "att-processing-7") {
			said = true
		}
	}
	if !said {
		t.Errorf("the uncancellable withdrawal was not reported live: %q", events)
	}
	var left bool
	for _, l := range rep.Verdict.Left {
		if l.Kind == runner.LeftWithdrawalUncancel && strings.Contains(l.Manual, "att-processing-7") {
			left = true
		}
	}
	if rep.Verdict.Contained || !left {
		t.Errorf("verdict = %+v, want not contained naming att-processing-7", rep.Verdict)
	}
}
