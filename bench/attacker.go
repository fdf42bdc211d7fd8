package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/attacker"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
	"github.com/panicbutton/panicbutton/internal/emulator/venues"
)

// The attacker scenario runs on the demo fund (internal/emulator/states):
// two masters with sub-accounts that hold open orders on several products.
// The key of the grid bot on the Binance sub-account northwind-trading has
// leaked, and a scripted attacker keeps trading with it while
// suspected-key-leak runs with --input leaked_key; a second one trades with
// the KuCoin market-making bot's key on sub-account mmbot01.
const (
	// AttackerSpec is the attacker on the leaked key.
	AttackerSpec = "binance:northwind-master/northwind-trading:rate=10/s"
	// KucoinAttackerSpec is the second attacker.
	KucoinAttackerSpec = "kucoin:kucoin-main/mmbot01:rate=10/s"
	// AttackerWarmUp is how long the attacker runs before panicbutton starts.
	AttackerWarmUp = time.Second
)

// AttackerOutcome is what one attacker scenario measured. Times count from
// the start of the run (-1: never happened during the run and the watch
// after it).
type AttackerOutcome struct {
	*Outcome
	// KeyRejected is when the emulator stopped knowing the leaked key.
	KeyRejected time.Duration
	// ZeroOrders is when no account (master or sub) held an open order.
	ZeroOrders time.Duration
	// OpenOrdersEnd is the open orders left on every account at the end
	// (emulator state), after the watch.
	OpenOrdersEnd map[string]int
	// AcceptedAfter is what the venues accepted from the attackers once
	// their key was gone (goal 0); Attacker is the leaked key's attacker's
	// full report, Attackers every attacker's.
	AcceptedAfter int
	Attacker      attacker.Report
	Attackers     []attacker.Report
}

// watchAfter is how long the scenario keeps watching after the run, so an
// attacker order that slips in after the run's last cancel is seen.
const watchAfter = 500 * time.Millisecond

// RunAttacker starts the demo fund with latency, starts the attacker, runs
// suspected-key-leak live (no hold) with leaked_key set to the attacker's
// key, and measures the race from the emulator's own state, sampled every
// millisecond.
func RunAttacker(ctx context.Context, latency time.Duration, dir string) (*AttackerOutcome, error) {
	cfg := emulator.Config{Loaders: venues.DefaultLoaders(), Latency: latency}
	fsys, name := venues.DemoState()
	vs, err := emulator.LoadState(fsys, name, cfg)
	if err != nil {
		return nil, fmt.Errorf("load demo state: %w", err)
	}
	srv := emulator.New(cfg, vs)
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start emulator: %w", err)
	}
	defer srv.Close()
	rep, err := srv.StartAttacker(AttackerSpec)
	if err != nil {
		return nil, err
	}
	leaked := rep.Keys[0].APIKey
	if _, err := srv.StartAttacker(KucoinAttackerSpec); err != nil {
		return nil, err
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(AttackerWarmUp):
	}

	alive := func() bool {
		for _, v := range srv.Venues() {
			if src, ok := emulator.Unwrap(v).(emu.CredentialSource); ok && src.KeyAlive(leaked) {
				return true
			}
		}
		return false
	}
	open := func() int {
		n := 0
		for _, c := range srv.OpenOrders() {
			n += c
		}
		return n
	}
	out := &AttackerOutcome{KeyRejected: -1, ZeroOrders: -1}
	start := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			now := time.Since(start)
			if out.KeyRejected < 0 && !alive() {
				out.KeyRejected = now
			}
			if out.ZeroOrders < 0 && open() == 0 {
				out.ZeroOrders = now
			}
		}
	}()
	o, runErr := RunAgainst(ctx, &Emulator{Server: srv, URL: url},
		Config{Latency: latency, Dir: filepath.Join(dir, "run"), Inputs: map[string]string{"leaked_key": leaked}})
	time.Sleep(watchAfter)
	close(stop)
	wg.Wait()
	if runErr != nil {
		return nil, runErr
	}
	out.Attackers = srv.StopAttackers()
	out.Outcome = o
	out.OpenOrdersEnd = map[string]int{}
	for acct, n := range srv.OpenOrders() {
		if n > 0 {
			out.OpenOrdersEnd[acct] = n
		}
	}
	for _, r := range out.Attackers {
		out.AcceptedAfter += r.AcceptedAfterDeleted
		if r.ID == rep.ID {
			out.Attacker = r
		}
	}
	return out, nil
}
