package report

import (
	"strings"
	"sync"
	"testing"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/fake"
)

// The report shows what the hold caught (an order the attacker placed after
// containment) and, in the verdict and its table, what is still there.
func TestReportShowsWhatTheHoldCaught(t *testing.T) {
	var once sync.Map
	r, _ := buildRun(t, fixture{onHold: func(v *fake.Venue, account, text string) {
		switch {
		case strings.HasPrefix(text, "holding the line"):
			if _, dup := once.LoadOrStore(account, true); !dup {
				v.AddOrders(account, executors.Order{Product: "spot", Symbol: "PUMPUSDT", Kind: "limit", Side: "BUY", Price: "1", Qty: "1000"})
			}
		case strings.Contains(text, "caught"):
			v.DeleteMasterKey(account) // the human deletes the key
		}
	}})
	var caught int
	for _, c := range r.Caught {
		if strings.Contains(c.Target, "PUMPUSDT") {
			caught++
		}
	}
	if caught != 2 {
		t.Errorf("caught = %+v, want the attacker's order on both accounts", r.Caught)
	}
	if r.RunVerdict == nil || r.RunVerdict.Contained || len(r.RunVerdict.Left) == 0 {
		t.Fatalf("run verdict = %+v, want not contained (the demo's uncancellable withdrawals)", r.RunVerdict)
	}
	md := string(r.Markdown())
	for _, want := range []string{"### Caught while holding the line", "PUMPUSDT", "### Still there: what keeps the run from being contained", "withdrawal-uncancellable"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	h := r.HTML()
	for _, want := range []string{"Caught while holding the line", "PUMPUSDT", "Still there: what keeps the run from being contained"} {
		if !strings.Contains(string(h), want) {
			t.Errorf("html lacks %q", want)
		}
	}
	if err := wellFormed(h); err != nil {
		t.Errorf("html not well formed: %v", err)
	}
}
