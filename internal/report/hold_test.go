package report

import (
	"strings"
	"sync"
	"testing"
)

// The report shows what the hold caught (an order the attacker placed after
// containment) and, in the verdict and its table, what is still there.
func TestReportShowsWhatTheHoldCaught(t *testing.T) {
	var (
		once   sync.Map
		mu     sync.Mutex
		orders = map[string]string{} // account -> the attacker's order id
	)
	r, _ := buildRun(t, fixture{onHold: func(t *testing.T, f *demoFund, account, text string) {
		switch {
		case strings.HasPrefix(text, "holding the line"):
			if _, dup := once.LoadOrStore(account, true); !dup {
				id := f.attackerOrder(t, account)
				mu.Lock()
				orders[account] = id
				mu.Unlock()
			}
		case strings.Contains(text, "caught"):
			f.deleteMasterKey(t, account) // the human deletes the key
		}
	}})
	var caught int
	for _, c := range r.Caught {
		if id := orders[c.Account]; id != "" && strings.Contains(c.Target, "order "+id) {
			caught++
		}
	}
	if caught != 2 || len(orders) != 2 {
		t.Errorf("caught = %+v, want the attacker's order on both accounts (%v)", r.Caught, orders)
	}
	if r.RunVerdict == nil || r.RunVerdict.Contained || len(r.RunVerdict.Left) == 0 {
		t.Fatalf("run verdict = %+v, want not contained (the demo's uncancellable withdrawals)", r.RunVerdict)
	}
	md := string(r.Markdown())
	for _, want := range []string{"### Caught while holding the line", "order " + orders[demoBinance], "### Still there: what keeps the run from being contained", "withdrawal-uncancellable"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	h := r.HTML()
	for _, want := range []string{"Caught while holding the line", "order " + orders[demoKuCoin], "Still there: what keeps the run from being contained"} {
		if !strings.Contains(string(h), want) {
			t.Errorf("html lacks %q", want)
		}
	}
	if err := wellFormed(h); err != nil {
		t.Errorf("html not well formed: %v", err)
	}
}
