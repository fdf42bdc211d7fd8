package binance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/adshao/go-binance/v2/common"

	"github.com/panicbutton/panicbutton/executors"
)

// Binance error codes the executor acts on (EXCHANGES.md §1.6).
const (
	codeDisconnected   = -1001
	codeUnauthorized   = -1002
	codeTooMany        = -1003
	codeUnknownStatus  = -1006
	codeTimeout        = -1007
	codeTooManyOrders  = -1015
	codeBadTimestamp   = -1021
	codeBadSignature   = -1022
	codeCancelRejected = -2011
	codeBadKeyFormat   = -2014
	codeRejectedKey    = -2015
	// codeInvalidKeyID is "Invalid Api-Key ID.": what /sapi answers a
	// deleted or unknown calling key (EXCHANGES.md C1; /api answers the
	// same key -2015).
	codeInvalidKeyID = -2008
	// codeNoSubFunction is "Sub-account function is not enabled.": what
	// sub-account/list answers an account without sub-accounts
	// (EXCHANGES.md C2).
	codeNoSubFunction = -8012
	// codeNoMargin is "Margin account does not exist." (developers.binance.com
	// margin_trading/best-practice): the account has no (cross or isolated)
	// margin account, so it has no margin orders.
	codeNoMargin = -3003
	// codeNoIsolated is "Isolated margin account does not exist."
	codeNoIsolated = -11001
)

// apiCode returns the Binance error code of err (0 when err is not an API
// error).
func apiCode(err error) int64 {
	var ae *common.APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}

// classify maps a failed request onto the executor error classes. status
// and retryAfter are what the transport saw (0 when no response arrived).
// A mutation whose outcome cannot be known (5xx, timeout, network error,
// undecodable success) is ErrUnknownOutcome: the caller must re-read before
// sending it again.
func classify(op string, mutation bool, status int, retryAfter time.Duration, err error) error {
	var already *executors.Error
	if errors.As(err, &already) {
		return err
	}
	unknown := executors.ErrTransient
	if mutation {
		unknown = executors.ErrUnknownOutcome
	}
	e := &executors.Error{Op: op, HTTPStatus: status, Err: redactURL(err)}
	var ae *common.APIError
	switch {
	case errors.As(err, &ae):
		if ae.IsValid() {
			e.Code = strconv.FormatInt(ae.Code, 10)
			e.Msg = ae.Message
		} else {
			e.Msg = "unexpected non-JSON error body"
		}
		e.Err = nil // the SDK error repeats Code/Msg, or carries a raw body
		switch {
		case ae.Code == codeRejectedKey || ae.Code == codeInvalidKeyID || ae.Code == codeBadKeyFormat || ae.Code == codeBadSignature || ae.Code == codeUnauthorized:
			e.Class = executors.ErrAuth
		case status == http.StatusTooManyRequests || status == http.StatusTeapot || ae.Code == codeTooMany || ae.Code == codeTooManyOrders:
			e.Class = executors.ErrRateLimited
			e.RetryAfter = retryAfter
		case status >= 500 || ae.Code == codeDisconnected || ae.Code == codeUnknownStatus || ae.Code == codeTimeout:
			e.Class = unknown
		case ae.Code == codeBadTimestamp:
			// Rejected before execution; a resync and retry already failed.
			e.Class = executors.ErrTransient
		case status == http.StatusUnauthorized:
			e.Class = executors.ErrAuth
		case !ae.IsValid():
			// A 4xx without Binance's JSON error body (a 403 WAF or 404
			// HTML page) did not come from the API: it says nothing about
			// the account (never "absent", never a clean refusal).
			e.Msg = fmt.Sprintf("unexpected non-JSON error body (HTTP %d, e.g. a WAF block)", status)
			e.Class = unknown
		default:
			e.Class = executors.ErrRejected
		}
	case errors.Is(err, context.Canceled):
		e.Class = unknown
	case errors.Is(err, context.DeadlineExceeded):
		e.Class = unknown
	case isNetError(err):
		e.Class = unknown
	case isDecodeError(err):
		// The venue answered 2xx but the body did not decode: for a
		// mutation the request was probably executed.
		e.Class = unknown
	default:
		e.Class = unknown
	}
	return e
}

// redactURL drops the query string from a *url.Error: it carries the
// signature and parameters such as a sub-account's full API key id, which
// must not reach results, logs or the audit trail.
func redactURL(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	u := ue.URL
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u = u[:i]
	}
	return &url.Error{Op: ue.Op, URL: u, Err: ue.Err}
}

func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne)
}

func isDecodeError(err error) bool {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	return errors.As(err, &te) || errors.As(err, &se)
}

// signingError reports a credential that cannot sign (malformed PEM, wrong
// key type). The signer's message never contains key material.
func signingError(op string, err error) error {
	return &executors.Error{Class: executors.ErrAuth, Op: op, Msg: "cannot sign with the configured secret", Err: fmt.Errorf("sign: %w", err)}
}
