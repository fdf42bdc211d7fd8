package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/panicbutton/panicbutton/internal/audit"
)

func newAuditCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify and show a run's audit trail",
		Long: `Every run writes runs/<run-id>/audit.jsonl: one JSON record per line, fsynced,
each carrying the SHA-256 hash of the previous one. The hash of the last
record (the head) is printed at the end of the run; keep it somewhere else to
detect a log that was cut short or rewritten.`,
		Example: `  # check the chain, and that it ends at the head printed by the run
  panicbutton audit verify runs/20250102T030405Z-ab12cd --head 7752595096d8dd11...

  # what happened, in order
  panicbutton audit show runs/20250102T030405Z-ab12cd`,
	}
	cmd.AddCommand(newAuditVerifyCmd(f), newAuditShowCmd(f))
	return cmd
}

type auditVerifyOptions struct {
	Path string // run directory or audit.jsonl
	Head string // expected head hash; "" to skip the check
	JSON bool
	// Plan, when set, must be the plan file the run applied.
	Plan string
}

func newAuditVerifyCmd(f *Factory) *cobra.Command {
	var o auditVerifyOptions
	cmd := &cobra.Command{
		Use:   "verify PATH",
		Short: "Verify a run's hash chain offline",
		Long: `Verify checks the hash chain of a run's audit trail. PATH is a run directory or
its audit.jsonl. It reports the first bad record of a log that was edited
(even whitespace), had records inserted, deleted or reordered, or ends in a
partial line. With --head it also checks that the log ends at that hash, which
catches a log cut short or rewritten from some record on.

A run without an end record (crashed or still running) is reported as
incomplete: that is a warning, not a failure.

A run made by "panicbutton apply" names the applied plan's hash in its start
record: verify checks that the copy in the run directory (approved-plan.json)
has that hash, and with --plan FILE that FILE is the plan that was applied.

Exit status: 0 intact, 1 not intact, 2 bad arguments or no such log.`,
		Example: `  panicbutton audit verify runs/20250102T030405Z-ab12cd
  panicbutton audit verify runs/20250102T030405Z-ab12cd/audit.jsonl \
      --head 7752595096d8dd111d49c6990cadd602d4fc60196dc9743e386f83dd376910da`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Path = args[0]
			return runAuditVerify(f, o)
		},
	}
	cmd.Flags().StringVar(&o.Head, "head", "", "expected head hash (printed at the end of the run)")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the verification report as JSON")
	cmd.Flags().StringVar(&o.Plan, "plan", "", "check that the run applied this plan `FILE` (panicbutton apply)")
	return cmd
}

func runAuditVerify(f *Factory, o auditVerifyOptions) error {
	head := strings.ToLower(strings.TrimSpace(o.Head))
	if o.Head != "" && !isHashHex(head) {
		return usageError(fmt.Errorf("invalid --head %q: want 64 hex digits", o.Head))
	}
	rep, err := audit.Verify(o.Path, head)
	if err != nil && !errors.Is(err, audit.ErrTampered) {
		if errors.Is(err, fs.ErrNotExist) {
			return usageError(err)
		}
		return &ExitError{Code: ExitFailed, Err: err}
	}
	var planMsg string
	var planErr error
	if rep.Intact() {
		planMsg, planErr = verifyApprovedPlan(o.Path, o.Plan)
	}
	if o.JSON {
		doc := any(rep)
		if planMsg != "" || planErr != nil {
			pv := map[string]any{"ok": planErr == nil, "message": planMsg}
			if planErr != nil {
				pv["message"] = planErr.Error()
			}
			doc = struct {
				audit.Report
				ApprovedPlan map[string]any `json:"approved_plan"`
			}{rep, pv}
		}
		if err := writeJSON(f.Out, doc); err != nil {
			return err
		}
		if !rep.Intact() || planErr != nil {
			return silentExit(ExitFailed)
		}
		return nil
	}
	if !rep.Intact() {
		return &ExitError{Code: ExitFailed, Msg: fmt.Sprintf("TAMPERED at seq %d: %s", rep.FirstBad, rep.Problem)}
	}
	if planErr != nil {
		return &ExitError{Code: ExitFailed, Msg: fmt.Sprintf("intact chain (%d records, head %s), but %v", rep.Records, rep.Head, planErr)}
	}
	fmt.Fprintf(f.Out, "intact: %d records, head %s\n", rep.Records, rep.Head)
	if planMsg != "" {
		fmt.Fprintln(f.Out, planMsg)
	}
	if !rep.Complete {
		fmt.Fprintln(f.ErrOut, "warning: run incomplete (no end record)")
	}
	return nil
}

func isHashHex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

type auditShowOptions struct {
	Path string // run directory or audit.jsonl
	JSON bool
}

func newAuditShowCmd(f *Factory) *cobra.Command {
	var o auditShowOptions
	cmd := &cobra.Command{
		Use:   "show PATH",
		Short: "Show a run's timeline",
		Long: `Show prints a run's audit trail as a timeline, one line per record: time since
the start, phase, step, account, action and a short summary (the target of a
mutation, its error if it failed, a step's status and summary). PATH is a run
directory or its audit.jsonl. The chain is verified too: a problem is reported
on stderr without hiding the timeline.

Exit status: 0 every record was shown, 1 a line could not be read (the records
before it are shown), 2 bad arguments or no such log.`,
		Example: `  panicbutton audit show runs/20250102T030405Z-ab12cd
  panicbutton audit show runs/20250102T030405Z-ab12cd --json | jq '.[] | select(.phase=="outcome")'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Path = args[0]
			return runAuditShow(f, o)
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the records as a JSON array")
	return cmd
}

func runAuditShow(f *Factory, o auditShowOptions) error {
	// Read returns the records before an unreadable line: show those.
	recs, readErr := audit.Read(o.Path)
	if errors.Is(readErr, fs.ErrNotExist) {
		return usageError(readErr)
	}
	if o.JSON {
		if recs == nil {
			recs = []audit.Record{}
		}
		if err := writeJSON(f.Out, recs); err != nil {
			return err
		}
	} else if err := writeTimeline(f.Out, recs); err != nil {
		return err
	}
	switch rep, err := audit.Verify(o.Path, ""); {
	case errors.Is(err, audit.ErrTampered):
		fmt.Fprintf(f.ErrOut, "warning: audit trail is not intact: TAMPERED at seq %d: %s\n", rep.FirstBad, rep.Problem)
	case err == nil && !rep.Complete:
		fmt.Fprintln(f.ErrOut, "warning: run incomplete (no end record)")
	}
	if readErr != nil {
		return &ExitError{Code: ExitFailed, Msg: fmt.Sprintf("showed %d records, then stopped: %v", len(recs), readErr)}
	}
	return nil
}

func writeTimeline(w io.Writer, recs []audit.Record) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range recs {
		elapsed := r.Time.Sub(recs[0].Time).Seconds()
		fmt.Fprintf(tw, "%+.3fs\t%s\t%s\t%s\t%s\t%s\n", elapsed, r.Phase, dash(r.Step), dash(r.Account), dash(r.Action), recordSummary(r))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write timeline: %w", err)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// recordSummary is the short last column of audit show. It knows the
// fields the runner writes and falls back to a "summary" member.
func recordSummary(r audit.Record) string {
	var res map[string]any
	_ = json.Unmarshal(r.Result, &res) // not an object: no fields to show
	str := func(k string) string {
		switch v := res[k].(type) {
		case string:
			return v
		case float64, bool:
			return fmt.Sprint(v)
		}
		return ""
	}
	var parts []string
	add := func(prefix, v string) {
		if v != "" {
			parts = append(parts, prefix+v)
		}
	}
	switch r.Phase {
	case audit.PhaseStart:
		add("playbook ", str("playbook"))
		add("mode ", str("mode"))
		if accts, ok := res["accounts"].([]any); ok {
			parts = append(parts, fmt.Sprintf("%d accounts", len(accts)))
		}
		add("version ", str("tool_version"))
	case audit.PhaseIntent, audit.PhaseOutcome:
		if t := r.Request["target"]; t != "" {
			parts = append(parts, "target="+t)
		} else {
			parts = append(parts, sortedPairs(r.Request)...)
		}
		if r.Phase == audit.PhaseOutcome {
			add("error: ", str("error"))
		}
		return strings.Join(parts, " ")
	case audit.PhaseInfo:
		if st := str("status"); st != "" {
			parts = append(parts, st+":")
		}
		if n := str("retry"); n != "" {
			parts = append(parts, "retry "+n+" after "+str("after_ms")+"ms")
		} else {
			add("notice: ", str("notice"))
		}
		if str("summary") == "" {
			add("error: ", str("error"))
		}
	case audit.PhaseEnd:
		if counts, ok := res["counts"].(map[string]any); ok {
			m := make(map[string]string, len(counts))
			for k, v := range counts {
				m[k] = fmt.Sprint(v)
			}
			parts = append(parts, sortedPairs(m)...)
		}
		if str("interrupted") == "true" {
			parts = append(parts, "interrupted")
		}
		add("aborted at ", str("aborted_at"))
		add("", str("reason"))
	}
	add("", str("summary"))
	return strings.Join(parts, " ")
}

// sortedPairs renders m as key=value, sorted by key.
func sortedPairs(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + m[k]
	}
	return out
}
