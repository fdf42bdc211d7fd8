package binance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/secret"
)

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// msTime converts Binance epoch milliseconds (0 = unknown).
func msTime(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// mask returns the non-secret fingerprint of a public key id.
func mask(id string) string { return secret.Mask(id) }

// isZeroAmount reports whether a decimal string is zero (or empty).
func isZeroAmount(s string) bool {
	if s == "" {
		return true
	}
	f, err := strconv.ParseFloat(s, 64)
	return err == nil && f == 0
}

// parallel runs fn for each index in [0,n) with at most limit at once. It
// stops starting new work once stop reports true (e.g. after an audit
// failure) and waits for what is running.
func parallel(ctx context.Context, n, limit int, fn func(ctx context.Context, i int), stop func() bool) {
	if limit < 1 {
		limit = 1
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		if ctx.Err() != nil || (stop != nil && stop()) {
			break
		}
		sem <- struct{}{}
		if stop != nil && stop() {
			<-sem
			break
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			fn(ctx, i)
		}(i)
	}
	wg.Wait()
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// plural formats "n thing(s)".
func plural(n int, thing string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", thing)
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// unsupported returns an ErrUnsupported error for op.
func unsupported(op, msg string) error {
	return &executors.Error{Class: executors.ErrUnsupported, Op: op, Msg: msg}
}

// rejected returns an ErrRejected error for op (a bad parameter).
func rejected(op, msg string) error {
	return &executors.Error{Class: executors.ErrRejected, Op: op, Msg: msg}
}

// auditError returns the error of a refused intent: the hooks' own
// classified error, or err wrapped as ErrAudit.
func auditError(op string, err error) error {
	var ee *executors.Error
	if errors.As(err, &ee) {
		return err
	}
	return &executors.Error{Class: executors.ErrAudit, Op: "record intent to " + op, Err: err}
}

// mutate sends one audited mutation and tells apart a refused intent
// (nothing sent: returned as audit) from a failed send (returned as err).
func mutate(ctx context.Context, req executors.Request, m executors.Mutation, send func(ctx context.Context) error) (audit, err error) {
	sent := false
	err = req.Mutate(ctx, m, func(ctx context.Context) error {
		sent = true
		return send(ctx)
	})
	if err != nil && !sent && !errors.Is(err, executors.ErrNotApproved) {
		return auditError(m.Kind+" "+m.Target, err), nil
	}
	return nil, err
}
