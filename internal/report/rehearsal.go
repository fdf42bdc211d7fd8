package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// RehearsalFile is written into the run directory by `panicbutton demo
// --attacker`: what the emulator's scripted attacker tried during the run
// and what got through. It comes from the emulator's own counters, not from
// the audit trail, and the report says so.
const RehearsalFile = "rehearsal.json"

// Rehearsal is the attacker's side of a rehearsal against the emulator.
type Rehearsal struct {
	// RunStarted is when the executed run started (times below count from it).
	RunStarted time.Time `json:"run_started"`
	// Events are what the rehearsal itself did, e.g. playing the human who
	// deletes the master keys in the web UI.
	Events    []RehearsalEvent    `json:"events,omitempty"`
	Attackers []RehearsalAttacker `json:"attackers"`
	// OpenOrders is every account's open orders at the end, from the
	// emulator's state ("venue:account" -> count; zero counts included).
	OpenOrders map[string]int `json:"open_orders"`
}

// RehearsalEvent is one thing the rehearsal did.
type RehearsalEvent struct {
	Time time.Time `json:"time"`
	What string    `json:"what"`
}

// RehearsalAttacker is one attacker (one leaked key, plus any key it made
// for itself).
type RehearsalAttacker struct {
	ID       string   `json:"id"`
	Keys     []string `json:"keys"` // masked
	Products []string `json:"products"`
	Attempts int      `json:"attempts"`
	Accepted int      `json:"accepted"`
	Refused  int      `json:"refused"`
	// AcceptedBefore counts what the venue accepted before the run started;
	// AcceptedDuring, after it started, except AcceptedAfter: what was
	// accepted from a key after that key had died (should be 0).
	AcceptedBefore int `json:"accepted_before_run"`
	AcceptedDuring int `json:"accepted_during_run"`
	AcceptedAfter  int `json:"accepted_after_key_died"`
	// KeyDied is when the attacker found the last of its keys gone (nil: a
	// key it holds, e.g. one it created, is alive at the end).
	KeyDied *time.Time        `json:"key_died,omitempty"`
	Actions map[string][3]int `json:"actions"` // action -> attempts, accepted, refused
}

// OpenOrdersTotal is the sum of OpenOrders.
func (r *Rehearsal) OpenOrdersTotal() int {
	n := 0
	for _, c := range r.OpenOrders {
		n += c
	}
	return n
}

// OpenOrdersLeft lists the accounts with open orders at the end, sorted.
func (r *Rehearsal) OpenOrdersLeft() []string {
	var out []string
	for _, k := range sortedKeys(r.OpenOrders) {
		if r.OpenOrders[k] > 0 {
			out = append(out, fmt.Sprintf("%s: %d", k, r.OpenOrders[k]))
		}
	}
	return out
}

// Since is t in seconds after the run started ("-1.250" before it).
func (r *Rehearsal) Since(t time.Time) string { return secs(t.Sub(r.RunStarted)) }

// DiedText is when the attacker's key died, for the tables.
func (r *Rehearsal) DiedText(a RehearsalAttacker) string {
	if a.KeyDied == nil {
		return "a key it holds is still alive"
	}
	return r.Since(*a.KeyDied) + " s"
}

// ActionsText summarises an attacker's actions: "spot-order 30/41, withdraw 0/4".
func (a RehearsalAttacker) ActionsText() string {
	var parts []string
	for _, k := range sortedKeys(a.Actions) {
		c := a.Actions[k]
		parts = append(parts, fmt.Sprintf("%s %d/%d", k, c[1], c[0]))
	}
	return strings.Join(parts, ", ")
}

// Headline says whether the attacker was stopped: nothing accepted after
// a key died, and no key it holds still alive.
func (r *Rehearsal) Headline() string {
	after := 0
	var alive []string
	for _, a := range r.Attackers {
		after += a.AcceptedAfter
		if a.KeyDied == nil {
			alive = append(alive, a.ID)
		}
	}
	switch {
	case after > 0:
		return fmt.Sprintf("NOT STOPPED: %d actions of the attacker were accepted after its key died.", after)
	case len(alive) > 0:
		return fmt.Sprintf("NOT STOPPED: nothing was accepted after a key died, but a key the attacker holds is still alive (%s): it can trade until a human deletes it in the web UI.",
			strings.Join(alive, ", "))
	}
	if n := r.OpenOrdersTotal(); n > 0 {
		return fmt.Sprintf("STOPPED: every key the attacker held is dead, and nothing was accepted after it died — but %d open orders are left: cancel them in the web UI.", n)
	}
	return "STOPPED: every key the attacker held is dead, and nothing was accepted after it died."
}

// Stopped reports whether Headline says STOPPED.
func (r *Rehearsal) Stopped() bool { return strings.HasPrefix(r.Headline(), "STOPPED") }

// WriteRehearsal writes r into runDir (mode 0600).
func WriteRehearsal(runDir string, r *Rehearsal) error {
	sort.Slice(r.Attackers, func(i, j int) bool { return r.Attackers[i].ID < r.Attackers[j].ID })
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("write rehearsal: %w", err)
	}
	return writeFile(filepath.Join(runDir, RehearsalFile), append(b, '\n'))
}

// readRehearsal reads dir's rehearsal file; nil when there is none.
func readRehearsal(dir string) (*Rehearsal, error) {
	b, err := os.ReadFile(filepath.Join(dir, RehearsalFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", RehearsalFile, err)
	}
	var r Rehearsal
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read %s: %w", RehearsalFile, err)
	}
	return &r, nil
}

// markdownRehearsal renders the rehearsal section.
func (r *Report) markdownRehearsal(p func(string, ...any)) {
	h := r.Rehearsal
	if h == nil {
		return
	}
	p("## Rehearsal: what the attacker tried\n\n")
	p("From the emulator's own counters, not from the audit trail: during this rehearsal a scripted attacker used the keys below through the same signed API, placing orders on every product they could trade (and withdrawing where they could). Seconds count from the start of the run.\n\n")
	for _, e := range h.Events {
		p("- %s s: %s\n", h.Since(e.Time), mdText(e.What))
	}
	if len(h.Events) > 0 {
		p("\n")
	}
	p("| Attacker | Keys | Tried | Accepted before the run | Accepted since it started | Accepted after its key died | Keys died | Refused | Accepted / tried per action |\n|---|---|--:|--:|--:|--:|---|--:|---|\n")
	for _, a := range h.Attackers {
		p("| %s | %s | %d | %d | %d | %d | %s | %d | %s |\n", mdCell(a.ID), mdCell(strings.Join(a.Keys, ", ")), a.Attempts,
			a.AcceptedBefore, a.AcceptedDuring, a.AcceptedAfter, mdCell(h.DiedText(a)), a.Refused, mdCell(a.ActionsText()))
	}
	p("\n**%s**\n", mdText(h.Headline()))
	if left := h.OpenOrdersLeft(); len(left) > 0 {
		p("\n**Open orders left at the end (emulator state): %d** — %s. Nothing cancelled these: cancel them in the web UI.\n\n", h.OpenOrdersTotal(), mdText(strings.Join(left, ", ")))
	} else {
		p("\nOpen orders left at the end (emulator state): **0** on every account.\n\n")
	}
}
