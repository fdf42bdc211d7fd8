package executors

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Error classes. Every executor error wraps exactly one of them; test with
// errors.Is.
var (
	// ErrAuth: credentials rejected (bad/revoked key, IP, permission, signature).
	ErrAuth = errors.New("authentication rejected")
	// ErrRateLimited: the venue throttled us; see RetryAfter.
	ErrRateLimited = errors.New("rate limited")
	// ErrTransient: network error, timeout, 5xx — safe to retry a read.
	ErrTransient = errors.New("transient failure")
	// ErrUnknownOutcome: a mutation whose result is unknown (5xx, timeout);
	// re-check by reading before any retry.
	ErrUnknownOutcome = errors.New("outcome unknown")
	// ErrRejected: the venue refused the request (bad parameter, business rule).
	ErrRejected = errors.New("rejected by exchange")
	// ErrUnsupported: the action or product does not exist on this venue.
	ErrUnsupported = errors.New("unsupported")
	// ErrAudit: the audit trail could not record an intent; nothing was sent.
	ErrAudit = errors.New("audit trail unavailable")
	// ErrAlreadyDone is returned by Hooks.Intent when the mutation completed
	// in an earlier, interrupted run that is being resumed: Request.Mutate
	// then skips sending it and reports success.
	ErrAlreadyDone = errors.New("already done in the resumed run")
	// ErrNotApproved is returned by Hooks.Intent when a run is bound to an
	// approved plan (panicbutton apply) and the mutation is not in it:
	// nothing is sent, and the executor reports the target as not done
	// and carries on with the others (it is not an audit failure).
	ErrNotApproved = errors.New("not in the approved plan")
)

// Error is a classified executor error.
type Error struct {
	Class      error         // one of the Err* classes
	Op         string        // what was being done, e.g. "cancel spot BTCUSDT"
	Code       string        // venue error code, e.g. "-2015", "400003"
	Msg        string        // venue message (never contains secrets)
	HTTPStatus int           // 0 when no response
	RetryAfter time.Duration // for ErrRateLimited
	Err        error         // underlying error, optional
}

func (e *Error) Error() string {
	s := e.Op
	if s != "" {
		s += ": "
	}
	s += e.Class.Error()
	if e.Code != "" || e.Msg != "" {
		// "(CODE msg)", "(CODE)" or "(msg)": no stray space when one is empty.
		s += " (" + strings.TrimSpace(e.Code+" "+e.Msg) + ")"
	} else if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(", retry after %s", e.RetryAfter)
	}
	return s
}

// Is makes errors.Is(err, ErrAuth) etc. work.
func (e *Error) Is(target error) bool { return target == e.Class }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Classify wraps err in an *Error of class c.
func Classify(c error, op string, err error) error {
	return &Error{Class: c, Op: op, Err: err}
}

// Retryable reports whether the runner may retry a step that failed with
// err: transient failures, rate limits and unknown outcomes (executors
// re-check state before re-sending, so retrying converges). Validation,
// auth, rejection, unsupported and audit errors are never retried.
func Retryable(err error) bool {
	return errors.Is(err, ErrTransient) || errors.Is(err, ErrRateLimited) || errors.Is(err, ErrUnknownOutcome)
}

// RetryAfter returns the wait the venue asked for, if any.
func RetryAfter(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return e.RetryAfter, true
	}
	return 0, false
}

// ClassOf returns the class name of err for reports ("auth", "rate-limited", …).
func ClassOf(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrAuth):
		return "auth"
	case errors.Is(err, ErrRateLimited):
		return "rate-limited"
	case errors.Is(err, ErrUnknownOutcome):
		return "unknown-outcome"
	case errors.Is(err, ErrTransient):
		return "transient"
	case errors.Is(err, ErrRejected):
		return "rejected"
	case errors.Is(err, ErrUnsupported):
		return "unsupported"
	case errors.Is(err, ErrAudit):
		return "audit"
	case errors.Is(err, ErrNotApproved):
		return "not-approved"
	}
	return "error"
}
