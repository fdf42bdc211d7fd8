package cli

import (
	"log/slog"

	"github.com/spf13/cobra"
)

// NewRootCmd builds the command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	var debug bool
	root := &cobra.Command{
		Use:   "panicbutton",
		Short: "Contain a leaked exchange API key in one command",
		Long: `panicbutton runs declarative incident-response playbooks against crypto exchange
accounts: it freezes trading (cancels every open order on every product),
neutralises API keys, snapshots balances before and after, and writes a
tamper-evident audit trail of every step. Dry-run is built in.

` + exitCodesHelp,
		Example: `  # rehearse against the built-in emulator (no accounts needed)
  panicbutton demo

  # see what containment would do on your accounts, change nothing
  panicbutton run suspected-key-leak --dry-run

  # contain now, without questions (scripts, runbooks)
  panicbutton run suspected-key-leak --yes`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			if debug {
				f.Logger = slog.New(slog.NewTextHandler(f.ErrOut, &slog.HandlerOptions{Level: slog.LevelDebug}))
			}
		},
	}
	root.PersistentFlags().BoolVar(&debug, "debug", false, "debug logs on stderr")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	root.AddCommand(
		newRunCmd(f),
		newPlaybooksCmd(f),
		newAccountsCmd(f),
		newAuditCmd(f),
		newEmulatorCmd(f),
		newDemoCmd(f),
		newReportCmd(f),
		newPostureCmd(f),
		newApplyCmd(f),
		newPlanCmd(f),
	)
	return root
}
