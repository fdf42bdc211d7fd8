package kucoin

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sdk "github.com/Kucoin/kucoin-go-sdk"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/internal/budget"
	"github.com/panicbutton/panicbutton/executors/internal/clocksync"
	"github.com/panicbutton/panicbutton/executors/internal/hedge"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// Venues of a requester: the spot/margin/account host and the futures host.
const (
	venueSpot    = "spot"
	venueFutures = "futures"
)

// Rate-limit resource pools (EXCHANGES.md §2.6).
const (
	poolSpot       = "spot"
	poolFutures    = "futures"
	poolManagement = "management"
	poolPublic     = "public"
)

// callInfo is what the requester learned about one HTTP exchange; the
// caller puts an empty one in the context (withCallInfo) and reads it after
// (*sdk.ApiService).Call returns, since the SDK hides the HTTP response.
type callInfo struct {
	Status    int           // HTTP status; 0 when no response arrived
	Limit     int           // gw-ratelimit-limit (-1 when absent)
	Remaining int           // gw-ratelimit-remaining (-1 when absent)
	Reset     time.Duration // gw-ratelimit-reset
	Pool      string        // the resource pool the request was charged to
	Resynced  bool          // a 400002 made the requester resync the clock and retry
}

type callInfoKey struct{}

func withCallInfo(ctx context.Context) (context.Context, *callInfo) {
	ci := &callInfo{Limit: -1, Remaining: -1}
	return context.WithValue(ctx, callInfoKey{}, ci), ci
}

func callInfoFrom(ctx context.Context) *callInfo {
	ci, _ := ctx.Value(callInfoKey{}).(*callInfo)
	return ci
}

// credentials sign requests. The values are revealed only in sign.
type credentials struct {
	key, secret, passphrase secret.Value
	version                 int // 1, 2 or 3
}

// requester is the sdk.Requester installed on every ApiService of an
// executor (sdk.ApiRequesterOption). The ApiService itself is built without
// a key, so the SDK never signs: this type signs every request the
// documented way.
type requester struct {
	account string
	venue   string // venueSpot or venueFutures
	creds   credentials
	client  *http.Client // private; never http.DefaultClient
	env     executors.Env
	clock   *serverClock
	pacer   *pacer
	edge    *edge           // the CDN in front of the host (edgeOf)
	skew    *clocksync.Skew // counts the 400002 rejections; may be nil
	// hedges measures this host's round trips for the hedge delay and
	// counts the hedges.
	hedges hedge.Tracker
}

var _ sdk.Requester = (*requester)(nil)

// Request implements sdk.Requester: pace, sign, send, record. The first
// request starts the clock sync in the background and does not wait for
// it (unless the executor adopted its master's offset: serverClock.adopt):
// requests are signed with the offset learnt so far (none at first: the
// local clock), and a 400002 (timestamp rejected) waits for a sync started
// after the rejection, then retries once.
func (q *requester) Request(ctx context.Context, r *sdk.Request, timeout time.Duration) (*sdk.Response, error) {
	q.clock.start(ctx)
	resp, body, err := q.send(ctx, r, timeout)
	if err != nil {
		return nil, err
	}
	if timestampRejected(body) {
		if q.skew != nil {
			q.skew.Rejected()
		}
		if serr := q.clock.syncs.Resync(ctx); serr == nil {
			if ci := callInfoFrom(ctx); ci != nil {
				ci.Resynced = true
			}
			resp, body, err = q.send(ctx, r, timeout)
			if err != nil {
				return nil, err
			}
		}
	}
	return sdk.NewResponse(r, resp, body), nil
}

// send paces r, then performs one signed HTTP exchange and returns the
// response with its body read (and closed). A GET still unanswered after
// the hedge delay is hedged: a second copy, signed with a fresh
// timestamp, goes out if the pool has room for it right now (it never
// waits for budget), and the first answer is used, the other cancelled
// (executors/internal/hedge). Only GETs: they are reads on both KuCoin
// hosts, so two copies cannot act twice. The server-time read is not
// hedged (it is not sent through here either).
func (q *requester) send(ctx context.Context, r *sdk.Request, timeout time.Duration) (*http.Response, []byte, error) {
	pool := q.poolOf(r.Path)
	pc := q.pacer.forPool(pool, r.BaseURI, q.edge)
	weight := weightOf(q.venue, r.Method, r.Path)
	rsv, err := pc.wait(ctx, pool, weight, usePrepaid(ctx))
	if err != nil {
		return nil, nil, err
	}
	ci := callInfoFrom(ctx)
	if ci != nil {
		ci.Pool = pool
	}
	// Signed now, in this goroutine, right after the wait for budget.
	hr, err := q.build(r)
	if err != nil {
		pc.release(rsv)
		return nil, nil, err
	}
	var a answer
	if r.Method == http.MethodGet && r.Path != "/api/v1/timestamp" {
		first := func(ctx context.Context) (answer, error) { return q.exchange(ctx, r, hr, timeout, pc, rsv) }
		second := func() (hedge.Attempt[answer], bool) {
			r2, ok := pc.spare(pool, weight)
			if !ok {
				return nil, false
			}
			return func(ctx context.Context) (answer, error) {
				hr2, err := q.build(r) // signed with its own timestamp
				if err != nil {
					pc.release(r2)
					return answer{}, err
				}
				return q.exchange(ctx, r, hr2, timeout, pc, r2)
			}, true
		}
		var res hedge.Result[answer]
		res, err = hedge.Run(ctx, &q.hedges, q.hedges.Delay(timeout), first, second, nil)
		res.Cancel()
		a = res.Value
	} else {
		a, err = q.exchange(ctx, r, hr, timeout, pc, rsv)
	}
	if ci != nil && a.resp != nil {
		ci.Status, ci.Limit, ci.Remaining, ci.Reset = a.resp.StatusCode, a.limit, a.remaining, a.reset
	}
	if err != nil {
		return nil, nil, err
	}
	return a.resp, a.body, nil
}

// answer is one HTTP exchange's response, its body and its rate-limit
// headers.
type answer struct {
	resp             *http.Response
	body             []byte
	limit, remaining int
	reset            time.Duration
}

// build builds r's HTTP request and signs it with the current time.
func (q *requester) build(r *sdk.Request) (*http.Request, error) {
	target := r.BaseURI + r.Path
	if enc := r.Query.Encode(); enc != "" {
		target += "?" + enc
	}
	var body io.Reader
	var bodyText string
	if r.Method != http.MethodGet && r.Method != http.MethodDelete && len(r.Body) > 0 {
		body = bytes.NewReader(r.Body)
		bodyText = string(r.Body)
	}
	hr, err := http.NewRequest(r.Method, target, body)
	if err != nil {
		return nil, fmt.Errorf("build request %s %s: %w", r.Method, r.Path, err)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			hr.Header.Add(k, v)
		}
	}
	hr.Header.Set("Content-Type", "application/json")
	if !q.creds.key.IsZero() {
		ts := strconv.FormatInt(q.clock.now().UnixMilli(), 10)
		for k, v := range q.creds.headers(ts, prehash(ts, r.Method, r.Path, r.Query, bodyText)) {
			hr.Header.Set(k, v)
		}
	}
	return hr, nil
}

// exchange sends hr (built from r by build) under ctx and the per-request
// timeout, reads its body and settles rsv (its budget) with the answer.
// A body that could not be read returns the answer (its status) with the
// error.
func (q *requester) exchange(ctx context.Context, r *sdk.Request, hr *http.Request, timeout time.Duration, pc *pacer, rsv *reservation) (answer, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	hr = hr.WithContext(ctx)
	start := time.Now()
	resp, err := q.client.Do(hr)
	if q.env.Observer != nil {
		q.env.Observer(q.account, redactedRequest(hr), resp, err)
	}
	if err != nil {
		pc.release(rsv)
		// url.Error quotes the full URL, whose query may carry a sub key's
		// passphrase (DELETE /api/v1/sub/api-key): keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return answer{}, fmt.Errorf("%s %s: %w", r.Method, r.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	a := answer{resp: resp}
	a.limit, a.remaining, a.reset = pc.settle(ctx, rsv, resp, b)
	if err != nil {
		return a, fmt.Errorf("read response of %s %s: %w", r.Method, r.Path, err)
	}
	q.hedges.Observe(time.Since(start))
	a.body = b
	return a, nil
}

// errNoSpare ends spare's attempt to reserve budget without waiting.
var errNoSpare = errors.New("no spare budget for a hedge")

// spare reserves weight in pool for a hedge only if it fits now and
// leaves the pool's reserve plus hedge.Headroom untouched: a hedge never
// waits for budget and never takes from a window what a cancel will need.
func (p *pacer) spare(pool string, weight int) (*reservation, bool) {
	spec := poolSpec(pool)
	spec.Reserve += hedge.Headroom(spec.Limit, weight)
	now := &budget.Pacer{Now: p.p.Now, Sleep: func(context.Context, time.Duration) error { return errNoSpare }}
	r, err := p.charge(context.Background(), now, pool, spec, weight, false)
	return r, err == nil
}

// redactedRequest is a copy of r safe to hand to an observer: no KC-API-*
// credentials and no passphrase in the query (sub-key delete sends one).
func redactedRequest(r *http.Request) *http.Request {
	c := r.Clone(r.Context())
	for _, h := range []string{"KC-API-KEY", "KC-API-SIGN", "KC-API-PASSPHRASE"} {
		c.Header.Del(h)
	}
	if qv := c.URL.Query(); qv.Has("passphrase") {
		qv.Set("passphrase", secret.Redacted)
		c.URL.RawQuery = qv.Encode()
	}
	return c
}

// prehash is what KuCoin signs: timestamp + METHOD + path, then "?" and the
// query string NOT URL-encoded (keys sorted, as sent), then the body. The
// SDK signs the encoded query instead, which KuCoin rejects for values that
// need escaping (EXCHANGES.md §2.1).
func prehash(ts, method, path string, q url.Values, body string) string {
	var b strings.Builder
	b.WriteString(ts)
	b.WriteString(strings.ToUpper(method))
	b.WriteString(path)
	if dq := decodedQuery(q); dq != "" {
		b.WriteString("?")
		b.WriteString(dq)
	}
	b.WriteString(body)
	return b.String()
}

// decodedQuery is url.Values.Encode without the escaping.
func decodedQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		for _, v := range q[k] {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, "&")
}

func hmacBase64(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// headers returns the KC-API-* headers for one request.
func (c credentials) headers(ts, pre string) map[string]string {
	sec := c.secret.Reveal()
	h := map[string]string{
		"KC-API-KEY":       c.key.Reveal(),
		"KC-API-SIGN":      hmacBase64(sec, pre),
		"KC-API-TIMESTAMP": ts,
	}
	if c.version == 1 {
		h["KC-API-PASSPHRASE"] = c.passphrase.Reveal()
	} else {
		h["KC-API-PASSPHRASE"] = hmacBase64(sec, c.passphrase.Reveal())
		h["KC-API-KEY-VERSION"] = strconv.Itoa(c.version)
	}
	return h
}

// envelope reports whether body looks like KuCoin's JSON envelope (an
// object), not a page of the CDN in front of it.
func envelope(body []byte) bool {
	b := bytes.TrimSpace(body)
	return len(b) > 0 && b[0] == '{'
}

// timestampRejected reports whether body is KuCoin's envelope with code
// 400002 (the timestamp is outside the window). Every answer passes here,
// lists of hundreds of orders among them: a body that does not even hold
// the digits is not decoded.
func timestampRejected(body []byte) bool {
	return bytes.Contains(body, []byte("400002")) && responseCode(body) == "400002"
}

// responseCode extracts the envelope's code ("" when the body is not one).
func responseCode(body []byte) string {
	var env struct {
		Code json.RawMessage `json:"code"`
	}
	if json.Unmarshal(body, &env) != nil {
		return ""
	}
	return strings.Trim(string(env.Code), `"`)
}

func rateHeaders(h http.Header) (limit, remaining int, reset time.Duration) {
	atoi := func(name string) int {
		v := h.Get(name)
		if v == "" {
			return -1
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return -1
		}
		return n
	}
	limit, remaining = atoi("gw-ratelimit-limit"), atoi("gw-ratelimit-remaining")
	if ms := atoi("gw-ratelimit-reset"); ms > 0 {
		reset = time.Duration(ms) * time.Millisecond
	}
	return limit, remaining, reset
}

// poolOf maps a path onto its resource pool (EXCHANGES.md §2.6).
func (q *requester) poolOf(path string) string {
	if q.venue == venueFutures {
		if path == "/api/v1/timestamp" {
			return poolPublic
		}
		return poolFutures
	}
	switch {
	case path == "/api/v1/timestamp", path == "/api/v1/my-ip":
		return poolPublic
	case strings.HasPrefix(path, "/api/v1/hf/"), strings.HasPrefix(path, "/api/v3/hf/"),
		strings.HasPrefix(path, "/api/v1/orders"), strings.HasPrefix(path, "/api/v1/stop-order"),
		strings.HasPrefix(path, "/api/v3/oco/"), strings.HasPrefix(path, "/api/v3/margin/"),
		strings.HasPrefix(path, "/api/v3/isolated/"), strings.HasPrefix(path, "/api/v1/fills"):
		return poolSpot
	}
	return poolManagement
}

// prepaidKey marks a context whose first request was charged ahead (a
// temporary key's creation and deletion: mintTempKey charges both before
// the creation) and goes without waiting for budget.
type prepaidKey struct{}

// withPrepaid returns ctx whose first request goes without waiting for
// budget (it was charged ahead); later ones (retries) wait as usual.
func withPrepaid(ctx context.Context) context.Context {
	return context.WithValue(ctx, prepaidKey{}, new(atomic.Bool))
}

func usePrepaid(ctx context.Context) bool {
	used, ok := ctx.Value(prepaidKey{}).(*atomic.Bool)
	return ok && used.CompareAndSwap(false, true)
}

// weightOf estimates the request weight (KUS per-endpoint weights) so the
// pacer can keep its own count between responses.
func weightOf(venue, method, path string) int {
	if venue == venueFutures {
		switch {
		case method == http.MethodDelete && path == "/api/v3/orders":
			return 10
		case method == http.MethodDelete && path == "/api/v1/stopOrders":
			return 15
		case path == "/api/v1/stopOrders":
			return 6
		case path == "/api/v1/account-overview":
			return 5
		}
		return 2
	}
	switch {
	case path == "/api/v1/hf/accounts/opened":
		return 30
	case strings.HasPrefix(path, "/api/v1/sub-accounts/"):
		return 15
	case path == "/api/v1/hf/orders/cancelAll", path == "/api/v1/sub/api-key/update",
		path == "/api/v1/sub/api-key" && method == http.MethodDelete:
		return 30
	case path == "/api/v1/user/api-key", strings.HasPrefix(path, "/api/v1/sub/"), strings.HasPrefix(path, "/api/v2/sub"),
		strings.HasPrefix(path, "/api/v1/withdrawals"), path == "/api/v1/orders" && method == http.MethodDelete:
		return 20
	case strings.HasPrefix(path, "/api/v3/margin/"), strings.HasPrefix(path, "/api/v3/isolated/"):
		return 15
	case path == "/api/v1/stop-order":
		return 8
	case path == "/api/v1/fills":
		// Classic fills: 10 (KuCoin universal SDK spec, EXCHANGES.md C9).
		return 10
	case path == "/api/v1/stop-order/cancel", path == "/api/v3/oco/orders" && method == http.MethodDelete:
		// Stop-order and OCO cancels: 3 (EXCHANGES.md C9).
		return 3
	case path == "/api/v1/accounts", strings.HasPrefix(path, "/api/v3/hf/margin/orders") && method == http.MethodDelete:
		return 5
	case strings.HasPrefix(path, "/api/v3/hf/margin/"), path == "/api/v3/accounts/universal-transfer":
		return 4
	case path == "/api/v1/timestamp":
		return 3
	}
	return 2
}

// serverClock holds the offset between the local clock and one KuCoin
// host's (each host keeps its own: a timestamp rejected by one host is
// resynced against that host). Its syncs run in the background (see
// clocksync): the first request starts one, a 400002 waits for one that
// started after the rejection.
type serverClock struct {
	syncs   *clocksync.Syncer // runs sync
	client  *http.Client
	now0    func() time.Time
	base    string          // the host whose clock this is
	timeout time.Duration   // of one sync; 10 s when zero
	skew    *clocksync.Skew // records each measured offset; may be nil
	// pacer, when set, budgets each sync like any request to the host:
	// the Public pool's weight and the edge (which counts every request
	// of the IP, and whose block a sync must wait out too).
	pacer *pacer
	edge  *edge
	venue string

	// started decides, once, on the first request, that this clock
	// syncs (unless adopt did so first: then it does not).
	started sync.Once

	mu     sync.Mutex
	offset time.Duration
	at     time.Time // when offset was measured (local clock); zero before
}

// newServerClock returns the clock of the host at base, not yet synced.
func newServerClock(client *http.Client, now0 func() time.Time, base string) *serverClock {
	c := &serverClock{client: client, now0: now0, base: base}
	c.syncs = clocksync.New(c.sync)
	return c
}

// adoptFresh is how long an offset measured by one executor serves the
// executors of its temporary keys instead of a sync of their own: a local
// clock drifts by microseconds a minute.
const adoptFresh = time.Minute

// start begins the clock's first sync in the background, on the first
// request, unless the clock adopted an offset (adopt).
func (c *serverClock) start(ctx context.Context) {
	c.started.Do(func() { c.syncs.Start(ctx) })
}

// adopt makes from's offset this clock's, if from measured it less than
// adoptFresh ago; the clock then sends no first sync. A temporary key's
// executor adopts its master's (the same host): it signs its first
// requests with the venue's clock where the local clock would be refused
// if it is off by more than KuCoin's 5 s, and its sync costs the edge and
// the Public pool nothing. A 400002 still resyncs (Request).
func (c *serverClock) adopt(from *serverClock) {
	from.mu.Lock()
	off, at := from.offset, from.at
	from.mu.Unlock()
	if age := c.now0().Sub(at); at.IsZero() || age < 0 || age >= adoptFresh {
		return
	}
	c.started.Do(func() {
		c.mu.Lock()
		c.offset, c.at = off, at
		c.mu.Unlock()
	})
}

func (c *serverClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now0().Add(c.offset)
}

// sync reads GET /api/v1/timestamp and sets the offset (server time minus
// the local midpoint of the round trip).
func (c *serverClock) sync(ctx context.Context) error {
	timeout := c.timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/timestamp", nil)
	if err != nil {
		return fmt.Errorf("sync server time: %w", err)
	}
	var pc *pacer
	var rsv *reservation
	if c.pacer != nil {
		pc = c.pacer.forPool(poolPublic, c.base, c.edge)
		if rsv, err = pc.wait(ctx, poolPublic, weightOf(c.venue, http.MethodGet, "/api/v1/timestamp"), false); err != nil {
			return fmt.Errorf("sync server time: %w", err)
		}
	}
	before := c.now0()
	resp, err := c.client.Do(hr)
	if err != nil {
		if pc != nil {
			pc.release(rsv)
		}
		return fmt.Errorf("sync server time: %w", err)
	}
	defer resp.Body.Close()
	after := c.now0()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if pc != nil {
		pc.settle(ctx, rsv, resp, body)
	}
	if err != nil {
		return fmt.Errorf("sync server time: read: %w", err)
	}
	var env struct {
		Code string `json:"code"`
		Data int64  `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("sync server time: decode: %w", err)
	}
	if env.Code != sdk.ApiSuccess || env.Data == 0 {
		return fmt.Errorf("sync server time: code %s", env.Code)
	}
	mid := before.Add(after.Sub(before) / 2)
	off := time.UnixMilli(env.Data).Sub(mid)
	if c.skew != nil {
		c.skew.Measured(-off) // local minus server, as Binance reports it
	}
	c.mu.Lock()
	c.offset, c.at = off, after
	c.mu.Unlock()
	return nil
}
