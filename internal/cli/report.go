package cli

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/panicbutton/panicbutton/internal/audit"
	"github.com/panicbutton/panicbutton/internal/report"
)

type reportOptions struct {
	RunDir string // run directory or its audit.jsonl
}

func newReportCmd(f *Factory) *cobra.Command {
	var o reportOptions
	cmd := &cobra.Command{
		Use:   "report RUN_DIR",
		Short: "Write a run's incident report (report.md and report.html)",
		Long: `Report rebuilds a run's incident report from its audit trail alone and writes
report.md and report.html (mode 0600) into the run directory. The HTML page is
self-contained (no scripts, fonts or images to fetch): open it in any browser,
print it, or attach it to a ticket. It shows the verdict, the time to contain,
a timeline of the steps per account, balances before and after (decreases the
run does not explain are flagged), what was cancelled and revoked, the manual
steps still pending with their instructions, failures, risky keys, and the
audit head hash with the verification result.

The trail is verified first. A trail that is not intact still gets a report,
marked NOT intact, and the command exits 1.

Exit status: 0 report written, 1 trail not intact or report not written,
2 bad arguments or no such run.`,
		Example: `  panicbutton report runs/20250102T030405Z-ab12cd
  xdg-open runs/20250102T030405Z-ab12cd/report.html`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.RunDir = args[0]
			return runReport(f, o)
		},
	}
	return cmd
}

func runReport(f *Factory, o reportOptions) error {
	md, html, err := report.WriteFiles(o.RunDir)
	switch {
	case err == nil:
	case md != "" && errors.Is(err, audit.ErrTampered):
		fmt.Fprintf(f.Out, "report: %s\nreport: %s\n", md, html)
		return &ExitError{Code: ExitFailed, Msg: "the audit trail is NOT intact; the report says so: " + err.Error()}
	case md != "":
		fmt.Fprintf(f.Out, "report: %s\nreport: %s\n", md, html)
		return &ExitError{Code: ExitFailed, Err: err}
	case errors.Is(err, fs.ErrNotExist):
		return usageError(fmt.Errorf("no audit trail in %s: %w", o.RunDir, err))
	default:
		return &ExitError{Code: ExitFailed, Err: err}
	}
	fmt.Fprintf(f.Out, "report: %s\nreport: %s\n", md, html)
	return nil
}
