package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Exit codes (documented in the root command's help).
const (
	ExitOK          = 0   // all steps ok, or nothing to do
	ExitFailed      = 1   // some step failed
	ExitUsage       = 2   // usage or validation error: nothing was sent
	ExitPlanOnly    = 3   // plan only: changes are pending (dry-run or unconfirmed)
	ExitManual      = 4   // manual steps still pending
	ExitFindings    = 5   // findings at or above --fail-on (posture checks)
	ExitInterrupted = 130 // interrupted (Ctrl-C)
)

const exitCodesHelp = `Exit codes:
  0    all steps ok (or nothing to do)
  1    some step failed
  2    usage or validation error (nothing was sent)
  3    plan only: changes are pending (dry-run, or not confirmed)
  4    manual steps are still pending
  5    findings at or above --fail-on (default for read-only playbooks
       such as posture-check: high), e.g. a key that can withdraw or a
       change since the --baseline
  130  interrupted`

// ExitError carries an exit code; Msg (if any) is printed to stderr.
type ExitError struct {
	Code int
	Msg  string
	Err  error
}

func (e *ExitError) Error() string {
	if e.Msg != "" {
		return e.Msg
	}
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("exit %d", e.Code)
}

func (e *ExitError) Unwrap() error { return e.Err }

// usageError marks err as a usage/validation problem (exit 2).
func usageError(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// silentExit returns an exit code without printing anything more.
func silentExit(code int) error { return &ExitError{Code: code} }

// exitCode is the one error→exit-code switch.
func exitCode(f *Factory, err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	switch {
	case errors.As(err, &ee):
		if msg := ee.Error(); ee.Msg != "" || ee.Err != nil {
			fmt.Fprintln(f.ErrOut, "error: "+msg)
		}
		return ee.Code
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(f.ErrOut, "interrupted")
		return ExitInterrupted
	case isCobraUsage(err):
		fmt.Fprintln(f.ErrOut, "error: "+err.Error())
		return ExitUsage
	}
	fmt.Fprintln(f.ErrOut, "error: "+err.Error())
	return ExitFailed
}

// isCobraUsage recognises cobra's own flag/argument errors.
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown flag", "unknown command", "unknown shorthand", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "requires at most", "required flag"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}
