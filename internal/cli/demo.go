package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/panicbutton/panicbutton/internal/audit"
	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/venues"
	"github.com/panicbutton/panicbutton/internal/report"
)

// DemoOptions are the flags of `panicbutton demo`.
type DemoOptions struct {
	Dir      string
	Playbook string
	Latency  time.Duration
	// ErrorRate is the fraction of requests the emulator answers with the
	// venue's own 5xx body: the error storm that comes with the
	// volatility of an attack, rehearsed.
	ErrorRate float64
	// Hold bounds the demo's hold the line: nobody deletes the emulator's
	// master keys, so it runs until then (or until the prompt is answered).
	Hold string
	// Attacker rehearses the race: the emulator's scripted attacker uses
	// the master key and a sub-account key while the playbook runs.
	Attacker bool
	// FromRun rehearses on a state rebuilt from that run directory
	// (emulator --from-run) instead of the demo fund.
	FromRun   string
	Anonymise bool
}

func newDemoCmd(f *Factory) *cobra.Command {
	o := &DemoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Rehearse suspected-key-leak against the embedded exchange emulator",
		Long: `Starts the embedded Binance and KuCoin emulator with a demo fund (masters,
sub-accounts, keys, balances, open orders on every product, positions,
withdrawals), writes an accounts file for it, prints the plan of
suspected-key-leak over both exchanges, executes it, and verifies the audit
trail. Nothing leaves this machine.

With --attacker it rehearses the race of a real incident: the emulator's
scripted attacker uses the Binance master key, the grid bot's key on
sub-account northwind-trading (reported leaked: --input leaked_key), the
KuCoin master key (which also creates a sub-account key for itself) and the
KuCoin bot's key on mmbot01, through the same signed API, 4 actions a second
each, starting 1.5s before panicbutton. When the run holds the line on an account
and asks for its master key to be deleted by hand, the rehearsal plays the
human who, 3s later, deletes it in the web UI (and any key nobody recognises
there: those the attacker made), so the hold can prove it rejected. The terminal and the report (report.md, report.html) show what
the attacker tried, what was accepted before and after containment, and the
open orders left (from the emulator's own state). Exit 1 if anything of the
attacker was accepted after its key died.

--from-run RUN_DIR rehearses on the shape of your own fund instead: the state
is rebuilt from that run's recorded reads (see "panicbutton emulator --help"),
written to DIR/state.yaml, and the playbook runs against it.`,
		Example: `  panicbutton demo
  panicbutton demo --dir /tmp/rehearsal --latency 40ms
  panicbutton demo --attacker     # the race against a bot holding the keys
  panicbutton demo --attacker --error-rate 0.3   # ... while the exchanges answer 30 % with 5xx
  panicbutton demo --from-run runs/20261204T031500.000Z-3fa2c1 --anonymise --dir /tmp/drill`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd, f, o)
		},
	}
	cmd.Flags().BoolVar(&o.Attacker, "attacker", false, "rehearse the race: a scripted attacker uses the master key and a sub-account key while the playbook runs")
	cmd.Flags().StringVar(&o.Hold, "hold", "10s", "how long the demo holds the line after containment (`DURATION`; the master keys stay alive in the demo)")
	cmd.Flags().StringVar(&o.Dir, "dir", ".demo", "where the demo writes its accounts file and runs")
	cmd.Flags().StringVar(&o.Playbook, "playbook", "suspected-key-leak", "playbook to rehearse")
	cmd.Flags().DurationVar(&o.Latency, "latency", 40*time.Millisecond, "latency the emulator adds to every response (about a real exchange round trip)")
	cmd.Flags().Float64Var(&o.ErrorRate, "error-rate", 0, "fraction (0..1) of requests the emulator answers with the venue's own 5xx, as in the error storm of a volatile market")
	addFromRunFlags(cmd, &o.FromRun, &o.Anonymise)
	return cmd
}

func runDemo(cmd *cobra.Command, f *Factory, o *DemoOptions) error {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	start := f.Now()
	if _, err := parseHold(o.Hold); err != nil {
		return usageError(err)
	}
	if o.ErrorRate < 0 || o.ErrorRate > 1 {
		return usageError(fmt.Errorf("--error-rate %v is outside 0..1", o.ErrorRate))
	}
	if o.Attacker && o.FromRun != "" {
		return usageError(fmt.Errorf("--attacker plays on the demo fund's keys: it cannot be combined with --from-run"))
	}
	fsys, name := venues.DemoState()
	if o.FromRun != "" {
		var err error
		if fsys, name, err = demoStateFromRun(f, o); err != nil {
			return err
		}
	}
	cfg := emulator.Config{Loaders: venues.DefaultLoaders(), Latency: o.Latency, Now: f.Now, Faults: emulator.Faults{ErrorRate: o.ErrorRate}}
	vs, err := emulator.LoadState(fsys, name, cfg)
	if err != nil {
		return fmt.Errorf("demo state: %w", err)
	}
	srv := emulator.New(cfg, vs)
	base, err := srv.Start("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("starting the emulator: %w", err)
	}
	defer srv.Close()

	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "accounts.yaml")
	if err := srv.WriteAccounts(cfgPath, base); err != nil {
		return fmt.Errorf("writing the demo accounts file: %w", err)
	}
	runs := filepath.Join(dir, "runs")
	fmt.Fprintf(f.Out, "emulator: %s (Binance %s/binance, KuCoin %s/kucoin)\naccounts file: %s\n\n", base, base, base, cfgPath)

	var reh *demoRehearsal
	var inputs []string
	if o.Attacker {
		if reh, err = startDemoAttackers(ctx, f.Out, srv); err != nil {
			return err
		}
		inputs = []string{"leaked_key=" + reh.leaked}
	}

	fmt.Fprintln(f.Out, "═══ 1/3  PLAN (dry-run: real reads, no changes) ═══")
	if _, err := runPlaybook(ctx, f, &RunOptions{Playbook: o.Playbook, Config: cfgPath, DryRun: true, RunsDir: runs, Inputs: inputs}); err != nil {
		return err
	}
	fmt.Fprintln(f.Out, "\n═══ 2/3  EXECUTE (as with --yes) ═══")
	exec := &RunOptions{Playbook: o.Playbook, Config: cfgPath, Yes: true, RunsDir: runs, Hold: o.Hold, Inputs: inputs}
	if reh != nil {
		exec.observe = reh.playHuman(ctx)
	}
	out, err := runPlaybook(ctx, f, exec)
	if err != nil {
		if reh != nil {
			reh.finish()
		}
		return err
	}
	acceptedAfter := 0
	if reh != nil {
		r := reh.finish()
		acceptedAfter = printRehearsal(f.Out, r)
		if err := report.WriteRehearsal(out.dir, r); err != nil {
			return err
		}
		if _, _, err := report.WriteFiles(out.dir); err != nil {
			return fmt.Errorf("rewriting the report with the attacker's side: %w", err)
		}
	}
	fmt.Fprintln(f.Out, "\n═══ 3/3  VERIFY THE AUDIT TRAIL ═══")
	head := ""
	if out.rep != nil {
		head = out.rep.AuditHead
	}
	rep, verr := audit.Verify(out.dir, head)
	if verr != nil {
		return &ExitError{Code: ExitFailed, Msg: fmt.Sprintf("audit trail does not verify: %v", verr)}
	}
	fmt.Fprintf(f.Out, "intact: %d records, head %s\n", rep.Records, rep.Head)
	fmt.Fprintf(f.Out, "\ndemo finished in %.1fs. Everything is in %s:\n", f.Now().Sub(start).Seconds(), out.dir)
	fmt.Fprintf(f.Out, "  audit.jsonl        the hash-chained trail (panicbutton audit show %s)\n", out.dir)
	fmt.Fprintf(f.Out, "  report.html        the incident report (open it in a browser); report.md for chat/tickets\n")
	fmt.Fprintln(f.Out, "  plan.json, results.json, snapshot-*.json")
	if reh == nil {
		fmt.Fprintln(f.Out, "The manual steps above are pending on purpose: no API can delete a master key; a human must.")
	} else {
		fmt.Fprintf(f.Out, "  %s     what the attacker tried (the emulator's counters; also in the report)\n", report.RehearsalFile)
	}
	// The rehearsal's exit is the race's outcome (its help): the run's own
	// verdict, printed above, may leave orders the attacker placed as its
	// key died, which is what a rehearsal is there to show.
	if out.code == ExitInterrupted || out.code == ExitFailed && reh == nil {
		return silentExit(out.code)
	}
	if acceptedAfter > 0 {
		return &ExitError{Code: ExitFailed, Msg: fmt.Sprintf("the attacker got %d actions accepted after its key died", acceptedAfter)}
	}
	return nil
}
