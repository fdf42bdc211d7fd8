package cli

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/attacker"
	"github.com/panicbutton/panicbutton/internal/emulator/venues"
)

// EmulatorOptions are the flags of `panicbutton emulator`.
type EmulatorOptions struct {
	Addr        string
	State       string // empty: the embedded demo state
	Latency     time.Duration
	Jitter      time.Duration
	ErrorRate   float64
	Skew        time.Duration
	AccountsOut string
	// Attackers are scripted attacker specs started once the server listens
	// (see internal/emulator/STATE.md, "Scripted attacker").
	Attackers []string
	// Ready, if set, is called with the base URL once the server listens
	// (tests use it).
	Ready func(baseURL string)
}

func newEmulatorCmd(f *Factory) *cobra.Command {
	o := &EmulatorOptions{}
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Run the local exchange emulator (Binance and KuCoin)",
		Long: `Runs a local emulator of the Binance and KuCoin endpoints panicbutton uses,
with real signature checks, timestamps, weights, rate limits and quirks.

One listener (loopback only) serves every venue under a path prefix:
  /binance          spot /api, /sapi, /fapi, /dapi
  /kucoin           KuCoin spot, margin and account host
  /kucoin-futures   KuCoin futures host
  /_emulator/       admin: GET state, GET requests, GET|POST faults, POST reset,
                    POST|DELETE|GET attacker

With --attacker SPEC (repeatable) a scripted attacker uses one of the state's
keys through the same signed HTTP surface a client would, placing orders on
every product the key can trade, withdrawing when it may, and (KuCoin)
creating a sub-account key for itself. SPEC is VENUE:ACCOUNT[/SUB][:OPTIONS],
options rate=N/s|N/m, withdraw=on|off, subkeys=on|off, key=API_KEY,
address=ADDR; GET /_emulator/attacker reports what it tried and what was
accepted.

Without --state it loads the embedded demo fund. With --accounts-out FILE it
writes an accounts file (secrets in 0600 files beside it) that points at
this emulator, ready for "panicbutton run PLAYBOOK --config FILE".
It serves until interrupted (Ctrl-C).`,
		Example: `  # a rehearsal: the demo fund, and an accounts file pointing at it
  panicbutton emulator --addr 127.0.0.1:8090 --accounts-out /tmp/emu/accounts.yaml
  # then, in another terminal:
  panicbutton run suspected-key-leak --config /tmp/emu/accounts.yaml --dry-run

  # the demo fund with a leaked sub-account key being used by a bot
  panicbutton emulator --attacker binance:northwind-master/northwind-trading:rate=5/s

  # a slow, flaky venue
  panicbutton emulator --latency 80ms --jitter 40ms --error-rate 0.05`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEmulator(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Addr, "addr", "127.0.0.1:0", "loopback address to listen on")
	fl.StringVar(&o.State, "state", "", "state file (default: the embedded demo state)")
	fl.DurationVar(&o.Latency, "latency", 0, "latency added to every response, e.g. 40ms")
	fl.DurationVar(&o.Jitter, "jitter", 0, "random extra latency up to this much")
	fl.Float64Var(&o.ErrorRate, "error-rate", 0, "fraction (0..1) of requests answered with a 5xx")
	fl.DurationVar(&o.Skew, "skew", 0, "emulator clock offset from real time, e.g. 10s or -3s")
	fl.StringVar(&o.AccountsOut, "accounts-out", "", "write an accounts file for the loaded state to this path")
	fl.StringArrayVar(&o.Attackers, "attacker", nil, "run a scripted attacker: VENUE:ACCOUNT[/SUB][:rate=N/s,withdraw=on|off,...] (repeatable)")
	return cmd
}

// StartEmulator loads the state named by o (the demo state when o.State is
// empty) and starts the emulator; the caller closes the server.
func StartEmulator(f *Factory, o *EmulatorOptions) (*emulator.Server, string, error) {
	var fsys fs.FS
	var name string
	if o.State == "" {
		fsys, name = venues.DemoState()
	} else {
		abs, err := filepath.Abs(o.State)
		if err != nil {
			return nil, "", usageError(fmt.Errorf("state file %s: %w", o.State, err))
		}
		fsys, name = os.DirFS(filepath.Dir(abs)), filepath.Base(abs)
	}
	faults := emulator.Faults{
		Latency:   emulator.Duration(o.Latency),
		Jitter:    emulator.Duration(o.Jitter),
		ErrorRate: o.ErrorRate,
		Skew:      emulator.Duration(o.Skew),
	}
	if o.ErrorRate < 0 || o.ErrorRate > 1 {
		return nil, "", usageError(fmt.Errorf("--error-rate %v is outside 0..1", o.ErrorRate))
	}
	if o.Latency < 0 || o.Jitter < 0 {
		return nil, "", usageError(fmt.Errorf("--latency and --jitter must not be negative"))
	}
	specs := make([]attacker.Spec, 0, len(o.Attackers))
	for _, a := range o.Attackers {
		sp, err := attacker.ParseSpec(a)
		if err != nil {
			return nil, "", usageError(fmt.Errorf("--attacker: %w", err))
		}
		specs = append(specs, sp)
	}
	cfg := emulator.Config{
		Loaders: venues.DefaultLoaders(),
		Faults:  faults,
		Now:     f.Now,
		Logger:  f.Logger,
	}
	vs, err := emulator.LoadState(fsys, name, cfg)
	if err != nil {
		return nil, "", usageError(err)
	}
	srv := emulator.New(cfg, vs)
	base, err := srv.Start(o.Addr)
	if err != nil {
		return nil, "", usageError(err)
	}
	if o.AccountsOut != "" {
		if err := srv.WriteAccounts(o.AccountsOut, base); err != nil {
			_ = srv.Close()
			return nil, "", err
		}
	}
	for _, sp := range specs {
		if _, err := srv.StartAttackerSpec(sp); err != nil {
			_ = srv.Close()
			return nil, "", usageError(fmt.Errorf("--attacker: %w", err))
		}
	}
	return srv, base, nil
}

func runEmulator(ctx context.Context, f *Factory, o *EmulatorOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	srv, base, err := StartEmulator(f, o)
	if err != nil {
		return err
	}
	defer srv.Close()
	var names []string
	for _, v := range srv.Venues() {
		names = append(names, v.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(f.Out, "%s: %s/%s\n", n, base, n)
	}
	fmt.Fprintf(f.Out, "admin: %s/_emulator/\n", base)
	if o.AccountsOut != "" {
		fmt.Fprintf(f.Out, "accounts: %s\n", o.AccountsOut)
	}
	for _, a := range srv.Attackers() {
		fmt.Fprintf(f.Out, "attacker: %s (%s); report: %s/_emulator/attacker\n", a.ID, a.Spec, base)
	}
	if o.Ready != nil {
		o.Ready(base)
	}
	<-ctx.Done()
	fmt.Fprintln(f.ErrOut, "emulator: stopped")
	return nil
}
