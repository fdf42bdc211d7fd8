package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
	"github.com/panicbutton/panicbutton/internal/report"
	"github.com/panicbutton/panicbutton/internal/runner"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// demoAttackers are the keys the rehearsal's attacker holds, in the demo
// state (internal/emulator/states): the Binance master's operations key,
// the Ed25519 key of the grid bot on the sub-account northwind-trading —
// the key reported as leaked (leaked_key) — the KuCoin master's key (which
// also creates a sub-account key for itself) and the KuCoin market-making
// bot's key on sub-account mmbot01.
var demoAttackers = []string{
	"binance:northwind-master:rate=4/s",
	"binance:northwind-master/northwind-trading:rate=4/s",
	"kucoin:kucoin-main:rate=4/s",
	"kucoin:kucoin-main/mmbot01:rate=4/s",
}

// demoLeakedAttacker is the demoAttackers entry whose key is the
// leaked_key input of the rehearsed run.
const demoLeakedAttacker = "binance:northwind-master/northwind-trading"

// demoWarmUp is how long the attackers run before panicbutton starts: the
// leak is under way when somebody notices.
const demoWarmUp = 1500 * time.Millisecond

// demoHumanAfter is how long the rehearsal's human takes, once panicbutton
// holds the line on an account and asks for its master key to be deleted in
// the web UI, to do it — with (as the manual step says) every other key
// they do not recognise on that account: the ones the attacker created for
// itself.
const demoHumanAfter = 3 * time.Second

// demoRehearsal is the attacker side of `demo --attacker`.
type demoRehearsal struct {
	srv    *emulator.Server
	reh    report.Rehearsal
	leaked string // the leaked sub-account key (public id)
	stop   context.CancelFunc
	humans sync.WaitGroup // one per account the human is deleting keys of

	mu    sync.Mutex // guards asked, deleted and reh.Events
	asked map[string]bool
	// deleted holds the keys the human deleted, and when.
	deleted map[string]time.Time
}

// startDemoAttackers starts the attackers and lets them warm up.
func startDemoAttackers(ctx context.Context, out io.Writer, srv *emulator.Server) (*demoRehearsal, error) {
	d := &demoRehearsal{srv: srv}
	fmt.Fprintln(out, "═══ 0/3  THE ATTACK (the emulator's scripted attacker, through the same signed API) ═══")
	for _, spec := range demoAttackers {
		rep, err := srv.StartAttacker(spec)
		if err != nil {
			return nil, fmt.Errorf("demo attacker: %w", err)
		}
		key := rep.Keys[0].APIKey
		if rep.ID == demoLeakedAttacker {
			d.leaked = key
		}
		fmt.Fprintf(out, "attacker %s: key %s, %s\n", rep.ID, secret.Mask(key), strings.TrimPrefix(rep.Spec, rep.ID+":"))
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(demoWarmUp):
	}
	for _, r := range srv.Attackers() {
		fmt.Fprintf(out, "  after %.1fs: %s tried %d actions, %d accepted; it can trade %s\n", demoWarmUp.Seconds(), r.ID, r.Attempts, r.Accepted, strings.Join(r.Products, ", "))
	}
	fmt.Fprintf(out, "The bot key %s of sub-account northwind-trading is reported leaked: panicbutton runs with --input leaked_key.\n\n", secret.Mask(d.leaked))
	return d, nil
}

// playHuman starts the rehearsal's human and returns the observer of the
// executed run's progress. The human acts when panicbutton asks, account
// by account: when the run starts holding the line on an account (its
// manual key step is pending: only the web UI can delete a master key),
// the human takes demoHumanAfter to delete that account's master key and
// the keys the attacker made there, so the hold can prove the key
// rejected and end.
func (d *demoRehearsal) playHuman(ctx context.Context) func(runner.Event) {
	d.reh.RunStarted = d.srv.Clock().Now()
	ctx, d.stop = context.WithCancel(ctx)
	d.asked = map[string]bool{}
	return func(e runner.Event) {
		if e.Kind != "hold" {
			return
		}
		d.mu.Lock()
		first := !d.asked[e.Account]
		d.asked[e.Account] = true
		d.mu.Unlock()
		if !first {
			return
		}
		d.humans.Add(1)
		go func() {
			defer d.humans.Done()
			select {
			case <-ctx.Done():
				return
			case <-time.After(demoHumanAfter):
			}
			d.deleteByHand(e.Account)
		}()
	}
}

// deleteByHand is the human in the web UI of one account: its master key
// goes, and every key the attacker created for itself on it.
func (d *demoRehearsal) deleteByHand(account string) {
	var master string
	now := d.srv.Clock().Now()
	gone := func(key string) {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.deleted == nil {
			d.deleted = map[string]time.Time{}
		}
		d.deleted[key] = now
	}
	for _, v := range d.srv.Venues() {
		x, ok := emulator.Unwrap(v).(emu.Exporter)
		if !ok {
			continue
		}
		for _, a := range x.ExportAccounts() {
			if a.Name == account && d.srv.DeleteKey(a.APIKey) {
				master = fmt.Sprintf("%s (%s)", a.Name, a.Exchange)
				gone(a.APIKey)
			}
		}
	}
	var strangers []string
	for _, r := range d.srv.Attackers() {
		if attackerAccount(r.ID) != account {
			continue
		}
		for _, k := range r.Keys {
			if k.CreatedByAttacker && d.srv.DeleteKey(k.APIKey) {
				strangers = append(strangers, fmt.Sprintf("%s on %s", secret.Mask(k.APIKey), k.Account))
				gone(k.APIKey)
			}
		}
	}
	if master == "" {
		return
	}
	what := fmt.Sprintf("the rehearsal plays the human: %s after panicbutton asked, the master key of %s is deleted in the web UI",
		fmtSeconds(demoHumanAfter), master)
	if len(strangers) > 0 {
		what += fmt.Sprintf(", with the key(s) nobody recognises (%s: the attacker made them)", strings.Join(strangers, ", "))
	}
	d.mu.Lock()
	d.reh.Events = append(d.reh.Events, report.RehearsalEvent{Time: d.srv.Clock().Now(), What: what})
	d.mu.Unlock()
}

// attackerAccount is the master account of an attacker id
// ("VENUE:ACCOUNT[/SUB]").
func attackerAccount(id string) string {
	_, rest, _ := strings.Cut(id, ":")
	acct, _, _ := strings.Cut(rest, "/")
	return acct
}

func fmtSeconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

// keyAlive reports whether any venue still knows the key.
func (d *demoRehearsal) keyAlive(key string) bool {
	for _, v := range d.srv.Venues() {
		if src, ok := emulator.Unwrap(v).(emu.CredentialSource); ok && src.KeyAlive(key) {
			return true
		}
	}
	return false
}

// finish stops the human and the attackers and builds the rehearsal.
func (d *demoRehearsal) finish() *report.Rehearsal {
	if d.stop != nil {
		d.stop()
		d.humans.Wait()
	}
	reps := d.srv.StopAttackers()
	for _, r := range reps {
		a := report.RehearsalAttacker{ID: r.ID, Products: r.Products, Attempts: r.Attempts, Accepted: r.Accepted,
			Refused: r.Refused + r.Failed, AcceptedAfter: r.AcceptedAfterDeleted, Actions: map[string][3]int{}}
		since := d.srv.AttackerAcceptedSinceID(r.ID, d.reh.RunStarted)
		a.AcceptedBefore = r.Accepted - since
		a.AcceptedDuring = since - r.AcceptedAfterDeleted
		allDead := len(r.Keys) > 0
		var died time.Time // when its last key died
		for _, k := range r.Keys {
			a.Keys = append(a.Keys, secret.Mask(k.APIKey))
			dead := k.KeyDeleted // when the attacker found it dead
			if dead == nil {
				// The attacker may have stopped trying before the key
				// died: the human's deletion, or the venue's state at
				// the end, says whether it is dead.
				d.mu.Lock()
				t, ok := d.deleted[k.APIKey]
				d.mu.Unlock()
				if !ok && !d.keyAlive(k.APIKey) {
					t, ok = d.srv.Clock().Now(), true
				}
				if ok {
					dead = &t
				}
			}
			if dead == nil {
				allDead = false
			} else if dead.After(died) {
				died = *dead
			}
			for name, c := range k.Actions {
				x := a.Actions[name]
				a.Actions[name] = [3]int{x[0] + c.Attempts, x[1] + c.Accepted, x[2] + c.Refused + c.Failed}
			}
		}
		if allDead {
			a.KeyDied = &died
		}
		d.reh.Attackers = append(d.reh.Attackers, a)
	}
	sort.Slice(d.reh.Events, func(i, j int) bool { return d.reh.Events[i].Time.Before(d.reh.Events[j].Time) })
	d.reh.OpenOrders = d.srv.OpenOrders()
	return &d.reh
}

// printRehearsal shows what the attacker tried and what was stopped.
func printRehearsal(out io.Writer, r *report.Rehearsal) (acceptedAfter int) {
	fmt.Fprintln(out, "\n═══ THE ATTACKER'S SIDE (the emulator's own counters) ═══")
	for _, e := range r.Events {
		fmt.Fprintf(out, "%6ss  %s\n", r.Since(e.Time), e.What)
	}
	for _, a := range r.Attackers {
		var after string
		if a.KeyDied != nil {
			after = fmt.Sprintf("%d after its key died (at %ss)", a.AcceptedAfter, r.Since(*a.KeyDied))
		} else {
			after = fmt.Sprintf("%d after a key died; a key it holds is STILL ALIVE", a.AcceptedAfter)
		}
		fmt.Fprintf(out, "  %s (keys %s): tried %d; accepted %d before the run, %d since it started, %s; %d refused\n      %s\n",
			a.ID, strings.Join(a.Keys, ", "), a.Attempts, a.AcceptedBefore, a.AcceptedDuring, after, a.Refused, a.ActionsText())
		acceptedAfter += a.AcceptedAfter
	}
	if left := r.OpenOrdersLeft(); len(left) > 0 {
		fmt.Fprintf(out, "  open orders left at the end: %d (%s): nothing cancelled these; cancel them in the web UI\n",
			r.OpenOrdersTotal(), strings.Join(left, ", "))
	} else {
		fmt.Fprintln(out, "  open orders left at the end: 0 on every account (emulator state)")
	}
	fmt.Fprintln(out, r.Headline())
	return acceptedAfter
}
