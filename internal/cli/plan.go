package cli

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	savedplan "github.com/panicbutton/panicbutton/internal/plan"
	"github.com/panicbutton/panicbutton/internal/runner"
)

// addPlanFlags adds --plan-out and --plan-ttl to `run`.
func addPlanFlags(cmd *cobra.Command, o *RunOptions) {
	fl := cmd.Flags()
	fl.StringVar(&o.PlanOut, "plan-out", "", "save the plan to `FILE` (JSON, no secret) for a later \"panicbutton apply FILE\" that executes exactly it; implies --dry-run")
	fl.DurationVar(&o.PlanTTL, "plan-ttl", savedplan.DefaultTTL, "how long a plan saved with --plan-out may be applied (`DURATION`)")
}

// checkPlanFlags validates --plan-out/--plan-ttl before anything is sent.
func checkPlanFlags(o *RunOptions) error {
	if o.PlanOut == "" {
		return nil
	}
	switch {
	case o.Resume != "":
		return usageError(errors.New("--plan-out cannot be combined with --resume"))
	case o.Yes:
		return usageError(errors.New("--plan-out only plans (it implies --dry-run): drop --yes, then run panicbutton apply FILE"))
	case o.PlanTTL <= 0:
		return usageError(fmt.Errorf("--plan-ttl %s: want a positive duration such as 15m", o.PlanTTL))
	}
	o.DryRun = true
	return nil
}

// savePlan writes the dry-run's plan to o.PlanOut.
func savePlan(f *Factory, o *RunOptions, p *prepared, rep *runner.Report, runDir string, out *printer) error {
	accts := make([]savedplan.Account, len(p.targets))
	for i, t := range p.targets {
		accts[i] = savedplan.Account{Name: t.Ref.Name, Exchange: t.Ref.Exchange}
	}
	pl, err := savedplan.Build(rep, savedplan.BuildOptions{
		Playbook: p.pb, AccountsPath: p.accountsPath, Accounts: accts, Inputs: p.inputs,
		Now: f.Now(), TTL: o.PlanTTL, Tool: f.Version, PlanRun: runDir,
	})
	if err != nil {
		return &ExitError{Code: ExitFailed, Err: err}
	}
	hash, err := savedplan.WriteFile(o.PlanOut, pl)
	if err != nil {
		return &ExitError{Code: ExitFailed, Err: err}
	}
	if rep.Count("failed") > 0 {
		out.note("warning: some reads failed while planning; targets they would have shown are not in the plan, so apply will leave them alone")
	}
	out.note(fmt.Sprintf("plan saved: %s\n  plan hash: %s\n  expires:   %s (in %s)\n  review it: panicbutton plan show %s\n  apply it:  panicbutton apply %s",
		o.PlanOut, hash, pl.Expires.Format(time.RFC3339), o.PlanTTL, o.PlanOut, o.PlanOut))
	return nil
}

func newPlanCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Inspect a saved plan (run --dry-run --plan-out FILE)",
		Long: `A saved plan is what "panicbutton run PLAYBOOK --dry-run --plan-out FILE" wrote:
the exact targets read from the live accounts, for a second person to
review and "panicbutton apply FILE" to execute. See "panicbutton apply --help".`,
		Example: `  panicbutton plan show /tmp/leak.plan.json`,
	}
	cmd.AddCommand(newPlanShowCmd(f))
	return cmd
}

type planShowOptions struct {
	File string
	JSON bool
}

func newPlanShowCmd(f *Factory) *cobra.Command {
	o := &planShowOptions{}
	cmd := &cobra.Command{
		Use:   "show FILE",
		Short: "Print a saved plan as the dry-run printed it",
		Long: `Prints a saved plan: its hash, playbook, accounts, creation and expiry, then
the plan as the dry-run printed it, and the exact approved targets per step
and account. The plan's digest is checked first: a plan modified after it
was written, truncated, not a plan, or from a newer panicbutton is refused
(exit 2). Reads nothing from any exchange.

Exit status: 0 shown (also when expired: it says so), 2 not a usable plan.`,
		Example: `  panicbutton plan show /tmp/leak.plan.json
  panicbutton plan show /tmp/leak.plan.json --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.File = args[0]
			return runPlanShow(f, o)
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the plan (with its hash) as JSON")
	return cmd
}

func runPlanShow(f *Factory, o *planShowOptions) error {
	pl, hash, err := savedplan.ReadFile(o.File)
	if err != nil {
		return usageError(fmt.Errorf("%s: %w", o.File, err))
	}
	if o.JSON {
		return writeJSON(f.Out, map[string]any{"plan_hash": hash, "expired": pl.Expired(f.Now()), "plan": pl})
	}
	printPlanHeader(f, pl, hash)
	out := newPrinter(f, false)
	if pl.Report != nil {
		out.planTitled(pl.Report, "PLAN (read from the live accounts at "+pl.Created.Format(time.RFC3339)+"):")
	}
	printApproved(f, pl)
	return nil
}

func printPlanHeader(f *Factory, pl *savedplan.Plan, hash string) {
	w := f.Out
	fmt.Fprintf(w, "plan %s\n", hash)
	fmt.Fprintf(w, "  playbook:  %s (%s, sha256 %s)\n", pl.Playbook.Name, pl.Playbook.File, pl.Playbook.SHA256)
	fmt.Fprintf(w, "  accounts:  ")
	names := make([]string, len(pl.Accounts))
	for i, a := range pl.Accounts {
		names[i] = a.Name + " (" + a.Exchange + ")"
	}
	fmt.Fprintln(w, strings.Join(names, ", "))
	fmt.Fprintf(w, "  accounts file: %s (sha256 %s)\n", pl.AccountsFile.Path, pl.AccountsFile.SHA256)
	if len(pl.Inputs)+len(pl.HiddenInputs) > 0 {
		var kv []string
		for k, v := range pl.Inputs {
			kv = append(kv, k+"="+v)
		}
		for k := range pl.HiddenInputs {
			kv = append(kv, k+"=(kept out of the plan; pass it again to apply)")
		}
		sort.Strings(kv)
		fmt.Fprintf(w, "  inputs:    %s\n", strings.Join(kv, ", "))
	}
	fmt.Fprintf(w, "  state:     sha256 %s (the reads it was computed from)\n", pl.StateDigest)
	state := "valid"
	if pl.Expired(f.Now()) {
		state = "EXPIRED: plan again"
	}
	fmt.Fprintf(w, "  created:   %s\n  expires:   %s (%s)\n", pl.Created.Format(time.RFC3339), pl.Expires.Format(time.RFC3339), state)
	if pl.PlanRun != "" {
		fmt.Fprintf(w, "  dry-run:   %s\n", pl.PlanRun)
	}
	fmt.Fprintln(w)
}

// printApproved lists what apply may do: the scopes and exact targets.
func printApproved(f *Factory, pl *savedplan.Plan) {
	w := f.Out
	fmt.Fprintln(w, "\nAPPROVED (apply does exactly this; anything new at apply time is reported, not touched):")
	any := false
	for _, s := range pl.Steps {
		if !s.Mutating {
			continue
		}
		for _, sa := range s.Accounts {
			if s.Scope == "" && len(sa.Targets) == 0 {
				continue
			}
			any = true
			fmt.Fprintf(w, "  %-18s %-16s", s.ID, sa.Account)
			if s.Scope != "" {
				n := 0
				var per []string
				products := make([]string, 0, len(sa.Orders))
				for p := range sa.Orders {
					products = append(products, p)
				}
				sort.Strings(products)
				for _, p := range products {
					k := 0
					for _, ids := range sa.Orders[p] {
						k += len(ids)
					}
					n += k
					per = append(per, fmt.Sprintf("%s %d", p, k))
				}
				fmt.Fprintf(w, " scope: %s", s.Scope)
				if n > 0 {
					fmt.Fprintf(w, "; %d open when planned (%s)", n, strings.Join(per, ", "))
				}
				fmt.Fprintln(w)
				continue
			}
			fmt.Fprintln(w)
			for _, c := range sa.Targets {
				mark := ""
				if c.Irreversible {
					mark = "  [IRREVERSIBLE]"
				}
				fmt.Fprintf(w, "        %s: %s%s\n", c.Kind, c.Target, mark)
			}
		}
	}
	if !any {
		fmt.Fprintln(w, "  nothing: the plan changes nothing")
	}
}
