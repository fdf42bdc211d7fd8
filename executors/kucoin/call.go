package kucoin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	sdk "github.com/Kucoin/kucoin-go-sdk"

	"github.com/panicbutton/panicbutton/executors"
)

// wallNow is the clock ctx deadlines are compared with (tests may give
// the executor a fake Env.Now; deadlines stay on the wall clock).
var wallNow = time.Now

// defaultRetryAfter is used for 429000 when no gw-ratelimit-reset came back.
const defaultRetryAfter = 5 * time.Second

// call sends one request through svc (the spot or futures ApiService) and
// decodes the envelope's data into out (when out is non-nil). It checks the
// code of EVERY response (the SDK returns API errors with err == nil),
// treats a nil response (Call recovers panics into (nil, nil)) as an error,
// and classifies failures. For GET and DELETE, params are query parameters
// (url.Values, never a map the SDK would type-assert); for POST they are
// JSON-marshalled.
//
// mutation selects the class of ambiguous failures: a read that times out
// is ErrTransient, a mutation that times out is ErrUnknownOutcome. A
// mutation whose response cannot be decoded is still a success: the venue
// accepted it (decode errors after a successful cancel are a known SDK
// trap).
//
// It persists (issue 12 item 4; see executors/internal/retry): a read
// that failed for a passing reason (no answer, a timeout, a reset
// connection, a 5xx, 500000) and any request answered 429000 (not
// executed) are sent again, re-signed, with jittered backoff, for as long
// as ctx's deadline leaves room. Each attempt is abandoned after the
// per-request timeout. A mutation whose outcome is unknown is returned for
// the caller to re-read before it repeats it; callCancel is the exception.
func (x *Executor) call(ctx context.Context, svc *sdk.ApiService, op string, mutation bool, method, path string, params any, out any) error {
	return x.callRepeating(ctx, svc, op, mutation, false, method, path, params, out)
}

// callCancel is call for a cancel of every open order of a kind on one
// symbol, or of every spot HF order: sending it again does nothing the
// first send did not mean to do (it cancels what is open then, orders
// placed meanwhile included), so an unknown outcome (5xx, 5xxxxx, no
// answer) is repeated at once like a failed read, up to the retry
// policy's attempts, instead of costing a re-list of every kind first
// (issue 12 item 4: cancels are idempotent). The caller's re-list still
// confirms what is left.
func (x *Executor) callCancel(ctx context.Context, svc *sdk.ApiService, op, path string, params url.Values, out any) error {
	return x.callRepeating(ctx, svc, op, true, true, http.MethodDelete, path, params, out)
}

// callRepeating is call; idempotent says the mutation may be sent again
// when its outcome is unknown (callCancel).
func (x *Executor) callRepeating(ctx context.Context, svc *sdk.ApiService, op string, mutation, idempotent bool, method, path string, params any, out any) error {
	var last error // the previous attempt's error
	for attempt := 0; ; attempt++ {
		err := x.callOnce(ctx, svc, op, mutation, method, path, params, out)
		if err != nil && last != nil && ctx.Err() != nil {
			// The deadline cut this attempt short: the venue's last
			// answer says more than "deadline exceeded".
			return last
		}
		last = err
		if err == nil || !repeatable(err, idempotent) {
			return err
		}
		if idempotent && errors.Is(err, executors.ErrUnknownOutcome) && !x.retry.RepeatUnknown(attempt+1) {
			return err
		}
		ra, _ := executors.RetryAfter(err)
		wait := x.retry.Backoff(attempt, ra)
		if !x.retry.Room(ctx, wallNow(), attempt+1, wait) {
			return err
		}
		if errors.Is(err, executors.ErrRateLimited) {
			// A 429000 closed the pool until its reset (pacer.observe):
			// the pacer holds the next attempt that long, with every
			// other request on the pool, and tells the operator of a long
			// wait once for them all.
			wait = x.retry.Backoff(attempt, 0)
		}
		x.env.Logger.Debug("kucoin: retrying", "account", x.acct.Name, "op", op, "attempt", attempt+1, "class", executors.ClassOf(err), "after", wait)
		if serr := x.env.Sleep(ctx, wait); serr != nil {
			return err
		}
	}
}

// repeatable reports whether a request that failed with err may simply be
// sent again: a read that failed for a passing reason (no answer, a
// timeout, a 5xx or a 5xxxxx code), or a 429000 (not executed). A 4xx
// that is not KuCoin's envelope (a Cloudflare block) does not pass in
// seconds and is not retried here. A mutation whose outcome is unknown is
// repeated for the same passing reasons only when it is idempotent
// (callCancel).
func repeatable(err error, idempotent bool) bool {
	var e *executors.Error
	if !errors.As(err, &e) {
		return false
	}
	switch {
	case e.Class == executors.ErrRateLimited:
		return true
	case e.Class != executors.ErrTransient && (!idempotent || e.Class != executors.ErrUnknownOutcome):
		return false
	}
	return e.HTTPStatus == 0 || e.HTTPStatus >= http.StatusInternalServerError || strings.HasPrefix(e.Code, "5")
}

// callOnce is one attempt of call.
func (x *Executor) callOnce(ctx context.Context, svc *sdk.ApiService, op string, mutation bool, method, path string, params any, out any) error {
	ctx, ci := withCallInfo(ctx)
	var p any = params
	if method == http.MethodGet || method == http.MethodDelete {
		q, _ := params.(url.Values)
		if q == nil {
			q = url.Values{}
		}
		p = q
	}
	req := sdk.NewRequest(method, path, p)
	if x.retry.Request > 0 {
		// The requester applies it from the moment the request is sent,
		// after any wait for budget.
		req.Timeout = x.retry.Request
	}
	rsp, err := svc.Call(ctx, req)
	if err := classify(op, mutation, ci, rsp, err); err != nil {
		x.env.Logger.Debug("kucoin request failed", "account", x.acct.Name, "op", op, "status", ci.Status, "class", executors.ClassOf(err))
		return err
	}
	if out == nil || len(rsp.RawData) == 0 || string(rsp.RawData) == "null" {
		return nil
	}
	if err := json.Unmarshal(rsp.RawData, out); err != nil {
		if mutation {
			x.env.Logger.Warn("kucoin: accepted mutation with undecodable response", "account", x.acct.Name, "op", op, "err", err)
			return nil
		}
		return &executors.Error{Class: executors.ErrRejected, Op: op, HTTPStatus: ci.Status,
			Msg: "unexpected response shape", Err: fmt.Errorf("decode %s %s: %w", method, path, err)}
	}
	return nil
}

// classify turns the outcome of (*sdk.ApiService).Call into a classified
// error, or nil when KuCoin answered code 200000.
func classify(op string, mutation bool, ci *callInfo, rsp *sdk.ApiResponse, err error) error {
	ambiguous := executors.ErrTransient
	if mutation {
		ambiguous = executors.ErrUnknownOutcome
	}
	if err != nil {
		e := &executors.Error{Op: op, HTTPStatus: ci.Status, Err: err}
		switch {
		case ci.Status == http.StatusTooManyRequests:
			// Not KuCoin's envelope: the edge's block (Cloudflare's
			// per-IP limit answers an HTML page), which lasts edgeBlock
			// for every account on the IP (the pacer holds them all).
			e.Class, e.RetryAfter = executors.ErrRateLimited, edgeBlock
			e.Msg = "the CDN in front of KuCoin refused the IP (Cloudflare 1015: too many requests from it)"
		case ci.Status == 0 || ci.Status >= 500:
			e.Class = ambiguous
		case mutation && ci.Status == http.StatusOK:
			// The venue said 200 but the body was not the envelope.
			e.Class = executors.ErrUnknownOutcome
		default:
			e.Class = executors.ErrRejected
			e.Msg = fmt.Sprintf("HTTP %d with a non-JSON body", ci.Status)
			e.Err = nil
		}
		if errors.Is(err, context.Canceled) {
			e.Class = ambiguous
		}
		if e.Err != nil && strings.Contains(e.Err.Error(), "[Parse]") {
			// The SDK's parse error quotes the request; keep only the class.
			e.Err = nil
			if e.Msg == "" {
				e.Msg = fmt.Sprintf("HTTP %d with a non-JSON body", ci.Status)
			}
		}
		return e
	}
	if rsp == nil {
		return &executors.Error{Class: ambiguous, Op: op, HTTPStatus: ci.Status,
			Msg: "the SDK returned no response (it recovered a panic)"}
	}
	if rsp.Code == sdk.ApiSuccess {
		return nil
	}
	return codeError(op, mutation, ci.Status, rsp.Code, rsp.Message, retryAfter(ci))
}

// codeError classifies a KuCoin error code (EXCHANGES.md §2.6).
func codeError(op string, mutation bool, status int, code, msg string, after time.Duration) error {
	e := &executors.Error{Op: op, Code: code, Msg: msg, HTTPStatus: status}
	switch {
	case strings.HasPrefix(code, "4000") && len(code) == 6 && code >= "400001" && code <= "400009":
		e.Class = executors.ErrAuth
	case code == "429000" || status == http.StatusTooManyRequests:
		e.Class, e.RetryAfter = executors.ErrRateLimited, after
		if e.RetryAfter <= 0 {
			e.RetryAfter = defaultRetryAfter
		}
	case status >= 500 || code == "" || strings.HasPrefix(code, "5"):
		e.Class = executors.ErrTransient
		if mutation {
			e.Class = executors.ErrUnknownOutcome
		}
	default:
		e.Class = executors.ErrRejected
	}
	return e
}

func retryAfter(ci *callInfo) time.Duration {
	if ci.Reset > 0 {
		return ci.Reset
	}
	return defaultRetryAfter
}

// codeOf returns the KuCoin code of err ("" when none).
func codeOf(err error) string {
	var e *executors.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// q builds url.Values from key/value pairs, skipping empty values.
func q(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	return v
}

// page is KuCoin's paged envelope.
type page[T any] struct {
	CurrentPage int `json:"currentPage"`
	PageSize    int `json:"pageSize"`
	TotalNum    int `json:"totalNum"`
	TotalPage   int `json:"totalPage"`
	Items       []T `json:"items"`
}

// maxPages bounds every paged listing.
const maxPages = 50

// listPaged reads every page of a paged endpoint.
func listPaged[T any](ctx context.Context, x *Executor, svc *sdk.ApiService, op, path string, params url.Values, pageSize int) ([]T, error) {
	var all []T
	for n := 1; n <= maxPages; n++ {
		qv := url.Values{}
		for k, v := range params {
			qv[k] = v
		}
		qv.Set("currentPage", fmt.Sprint(n))
		qv.Set("pageSize", fmt.Sprint(pageSize))
		var pg page[T]
		if err := x.call(ctx, svc, op, false, http.MethodGet, path, qv, &pg); err != nil {
			return all, err
		}
		all = append(all, pg.Items...)
		if len(pg.Items) == 0 || n >= pg.TotalPage {
			break
		}
	}
	return all, nil
}
