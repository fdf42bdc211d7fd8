package report

import (
	"strings"
	"testing"
	"time"
)

func TestRehearsalHeadline(t *testing.T) {
	start := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	died := start.Add(700 * time.Millisecond)
	tests := []struct {
		name      string
		attackers []RehearsalAttacker
		want      string
		stopped   bool
	}{
		{"all dead, nothing after", []RehearsalAttacker{{ID: "binance:m", KeyDied: &died}, {ID: "binance:m/s", KeyDied: &died}},
			"STOPPED: every key the attacker held is dead", true},
		{"a key alive", []RehearsalAttacker{{ID: "binance:m", KeyDied: &died}, {ID: "kucoin:k"}},
			"NOT STOPPED: nothing was accepted after a key died, but a key the attacker holds is still alive (kucoin:k)", false},
		{"accepted after", []RehearsalAttacker{{ID: "binance:m", KeyDied: &died, AcceptedAfter: 2}},
			"NOT STOPPED: 2 actions of the attacker were accepted after its key died.", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Rehearsal{RunStarted: start, Attackers: tt.attackers}
			if got := r.Headline(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("got %q, want it to start with %q", got, tt.want)
			}
			if got := r.Stopped(); got != tt.stopped {
				t.Errorf("Stopped: got %v, want %v", got, tt.stopped)
			}
		})
	}
}

// The rehearsal section renders in both formats, with the attacker's
// figures, the headline and the open orders left.
func TestRehearsalSection(t *testing.T) {
	start := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	died := start.Add(850 * time.Millisecond)
	r := &Report{Rehearsal: &Rehearsal{RunStarted: start,
		Events: []RehearsalEvent{{Time: start.Add(3 * time.Second), What: "the rehearsal plays the human"}},
		Attackers: []RehearsalAttacker{{ID: "binance:m/s", Keys: []string{"q5r1…liLi"}, Attempts: 31, Accepted: 10,
			AcceptedBefore: 7, AcceptedDuring: 3, KeyDied: &died, Refused: 21, Actions: map[string][3]int{"spot-order": {16, 5, 11}}}},
		OpenOrders: map[string]int{"binance:s": 14, "binance:m": 0}}}
	md := string(r.Markdown())
	for _, want := range []string{"## Rehearsal: what the attacker tried", "| binance:m/s | q5r1…liLi | 31 | 7 | 3 | 0 | 0.850 s | 21 | spot-order 5/16 |",
		"- 3.000 s: the rehearsal plays the human", "**STOPPED: every key", "**Open orders left at the end (emulator state): 14** — binance:s: 14."} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	html := string(r.HTML())
	for _, want := range []string{`<section id="rehearsal">`, "<td>binance:m/s</td>", "STOPPED: every key", "binance:s: 14"} {
		if !strings.Contains(html, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	if strings.Contains(string((&Report{}).Markdown()), "Rehearsal") {
		t.Error("a report without a rehearsal shows the section")
	}
}
