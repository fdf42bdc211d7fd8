package cli

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/attacker"
	"github.com/panicbutton/panicbutton/internal/emulator/fromrun"
	"github.com/panicbutton/panicbutton/internal/emulator/venues"
)

// EmulatorOptions are the flags of `panicbutton emulator`.
type EmulatorOptions struct {
	Addr      string
	State     string // empty: the embedded demo state
	Latency   time.Duration
	Jitter    time.Duration
	Handshake time.Duration
	ErrorRate float64
	Skew      time.Duration
	// KuCoinEdge is the edge fault, LIMIT/WINDOW[:BLOCK] (emulator.ParseEdge).
	KuCoinEdge  string
	AccountsOut string
	// Attackers are scripted attacker specs started once the server listens
	// (see internal/emulator/STATE.md, "Scripted attacker").
	Attackers []string
	// FromRun builds the state from a run directory (fromrun.Build) and
	// writes it to StateOut (default: beside the accounts file, which
	// defaults to ./rehearsal/accounts.yaml); Anonymise renames.
	FromRun   string
	Anonymise bool
	StateOut  string
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
It serves until interrupted (Ctrl-C).

Rehearsal from a real run: --from-run RUN_DIR reads the run's audit trail
(never the accounts file or any secret) and rebuilds the same accounts and
sub-accounts, every key as a fresh fake key with the same permissions and IP
settings, the balances, the open orders on every product, the positions and
the withdrawals. --anonymise renames accounts, sub-accounts, labels and
addresses. It writes the state file (default ./rehearsal/state.yaml, for
later edits) and the accounts file (default ./rehearsal/accounts.yaml), so
that "panicbutton run PLAYBOOK --config rehearsal/accounts.yaml" rehearses on
the shape of your own fund. Restricted keys of the accounts themselves also
allow loopback; what a run does not record (market prices, stop prices) is
approximated and named in the state file's header.`,
		Example: `  # a rehearsal: the demo fund, and an accounts file pointing at it
  panicbutton emulator --addr 127.0.0.1:8090 --accounts-out /tmp/emu/accounts.yaml
  # then, in another terminal:
  panicbutton run suspected-key-leak --config /tmp/emu/accounts.yaml --dry-run

  # the demo fund with a leaked sub-account key being used by a bot
  panicbutton emulator --attacker binance:northwind-master/northwind-trading:rate=5/s

  # rehearse on the shape of your own fund, from a real (dry-)run
  panicbutton emulator --from-run runs/20261204T031500.000Z-3fa2c1 --anonymise
  panicbutton run suspected-key-leak --config rehearsal/accounts.yaml --dry-run

  # a slow, flaky venue
  panicbutton emulator --latency 80ms --jitter 40ms --error-rate 0.05

  # KuCoin behind the Cloudflare limit its older docs state
  panicbutton emulator --latency 40ms --kucoin-edge 500/10s:30s`,
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
	fl.DurationVar(&o.Handshake, "handshake", 0, "how long a new connection carries nothing after it is opened (a real venue's TCP+TLS handshakes: two round trips, e.g. 80ms)")
	fl.Float64Var(&o.ErrorRate, "error-rate", 0, "fraction (0..1) of requests answered with a 5xx")
	fl.DurationVar(&o.Skew, "skew", 0, "emulator clock offset from real time, e.g. 10s or -3s")
	fl.StringVar(&o.KuCoinEdge, "kucoin-edge", "", "KuCoin's CDN per-IP limit (Cloudflare 1015, from KuCoin's older docs): LIMIT/WINDOW[:BLOCK], e.g. 500/10s:30s")
	fl.StringVar(&o.AccountsOut, "accounts-out", "", "write an accounts file for the loaded state to this path")
	fl.StringArrayVar(&o.Attackers, "attacker", nil, "run a scripted attacker: VENUE:ACCOUNT[/SUB][:rate=N/s,withdraw=on|off,...] (repeatable)")
	addFromRunFlags(cmd, &o.FromRun, &o.Anonymise)
	fl.StringVar(&o.StateOut, "state-out", "", "with --from-run: where to write the state file (default: state.yaml beside the accounts file)")
	return cmd
}

// StartEmulator loads the state named by o (the demo state when o.State is
// empty) and starts the emulator; the caller closes the server.
func StartEmulator(f *Factory, o *EmulatorOptions) (*emulator.Server, string, error) {
	if o.FromRun != "" {
		if err := buildFromRun(f, o); err != nil {
			return nil, "", err
		}
	}
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
		Handshake: emulator.Duration(o.Handshake),
		ErrorRate: o.ErrorRate,
		Skew:      emulator.Duration(o.Skew),
	}
	if o.ErrorRate < 0 || o.ErrorRate > 1 {
		return nil, "", usageError(fmt.Errorf("--error-rate %v is outside 0..1", o.ErrorRate))
	}
	if o.KuCoinEdge != "" {
		e, err := emulator.ParseEdge(o.KuCoinEdge)
		if err != nil {
			return nil, "", usageError(fmt.Errorf("--kucoin-edge: %w", err))
		}
		faults.Edge = e
	}
	if o.Latency < 0 || o.Jitter < 0 || o.Handshake < 0 {
		return nil, "", usageError(fmt.Errorf("--latency, --jitter and --handshake must not be negative"))
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
	for _, a := range srv.StopAttackers() {
		fmt.Fprintf(f.ErrOut, "attacker %s: tried %d, accepted %d (%d after its key died), refused %d\n",
			a.ID, a.Attempts, a.Accepted, a.AcceptedAfterDeleted, a.Refused+a.Failed)
	}
	fmt.Fprintln(f.ErrOut, "emulator: stopped")
	return nil
}

// addFromRunFlags adds --from-run and --anonymise (emulator, demo).
func addFromRunFlags(cmd *cobra.Command, fromRun *string, anonymise *bool) {
	cmd.Flags().StringVar(fromRun, "from-run", "", "build the emulator state from this run directory's recorded reads (`RUN_DIR`; no secret is read)")
	cmd.Flags().BoolVar(anonymise, "anonymise", false, "with --from-run: replace account, sub-account, label and address names")
}

// buildFromRun writes the state built from o.FromRun and points o at it.
func buildFromRun(f *Factory, o *EmulatorOptions) error {
	if o.State != "" {
		return usageError(fmt.Errorf("--from-run and --state are exclusive"))
	}
	if fi, err := os.Stat(o.FromRun); err != nil || !fi.IsDir() {
		return usageError(fmt.Errorf("--from-run %s: not a run directory", o.FromRun))
	}
	if o.AccountsOut == "" {
		if o.StateOut != "" {
			o.AccountsOut = filepath.Join(filepath.Dir(o.StateOut), "accounts.yaml")
		} else {
			o.AccountsOut = filepath.Join("rehearsal", "accounts.yaml")
		}
	}
	if o.StateOut == "" {
		o.StateOut = filepath.Join(filepath.Dir(o.AccountsOut), "state.yaml")
	}
	state, sum, err := fromrun.Build(o.FromRun, fromrun.Options{Anonymise: o.Anonymise, Now: f.Now})
	if err != nil {
		return usageError(err)
	}
	for _, d := range []string{filepath.Dir(o.StateOut), filepath.Dir(o.AccountsOut)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if err := os.WriteFile(o.StateOut, state, 0o600); err != nil {
		return fmt.Errorf("writing the state file: %w", err)
	}
	o.State = o.StateOut
	n := 0
	for _, c := range sum.Orders {
		n += c
	}
	fmt.Fprintf(f.ErrOut, "state from run %s: %s; %d sub-accounts, %d keys (fresh fakes), %d open orders, %d positions, %d withdrawals\nstate file: %s\n",
		o.FromRun, strings.Join(sum.Accounts, ", "), sum.SubAccounts, sum.Keys, n, sum.Positions, sum.Withdrawals, o.StateOut)
	for _, note := range sum.Notes {
		fmt.Fprintln(f.ErrOut, "note: "+note)
	}
	return nil
}

// demoStateFromRun builds the demo's state from o.FromRun into
// DIR/state.yaml and returns where to load it from.
func demoStateFromRun(f *Factory, o *DemoOptions) (fs.FS, string, error) {
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, "", err
	}
	eo := &EmulatorOptions{FromRun: o.FromRun, Anonymise: o.Anonymise,
		StateOut: filepath.Join(dir, "state.yaml"), AccountsOut: filepath.Join(dir, "accounts.yaml")}
	if err := buildFromRun(f, eo); err != nil {
		return nil, "", err
	}
	return os.DirFS(dir), "state.yaml", nil
}
