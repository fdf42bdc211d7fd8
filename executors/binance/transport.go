package binance

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/executors/internal/budget"
	"github.com/panicbutton/panicbutton/executors/internal/hedge"
)

// Weight limits per bucket (EXCHANGES.md §1.6). The pacer keeps a safety
// margin below them so that a burst never trips a 429 (or a 418 ban).
const (
	limitAPI     = 6000   // /api/*: weight per minute per IP
	limitFutures = 2400   // /fapi/*, /dapi/*: weight per minute per IP
	limitSAPIIP  = 12000  // each IP-limited /sapi endpoint, per minute
	limitSAPIUID = 180000 // each UID-limited /sapi endpoint, per minute
	// UID weight of every sub-account API-key endpoint (list, delete,
	// permission, IP restriction).
	weightSubKeyCall = 3000
	pacerMargin      = 0.9
	// windowGuard is how far Binance's minute (and 10 s) boundaries may
	// be from the pacer's: the pacer's clock is Binance's as last measured
	// (offset error about half a round trip), and a request is counted
	// when it arrives, up to a round trip after it left. A request sent
	// that close to a boundary is charged to both windows (budget
	// Spec.Guard): without it, bursts just after our boundary drew 429s
	// from a window Binance had not yet closed.
	windowGuard = 250 * time.Millisecond
)

// cost is what one request costs against one bucket.
type cost struct {
	bucket string // e.g. "api", "fapi", "sapi-uid:DELETE /sapi/v1/sub-account/subAccountApi"
	// ip is true for limits counted per IP address (/api, /fapi, /dapi, the
	// IP-limited /sapi endpoints): they are shared by every account whose
	// requests leave from this process, so they are paced in the
	// process-wide budget of the host (see sharedBudgets).
	ip     bool
	host   string        // the request's host; set by the transport for ip costs
	limit  int           // bucket limit per window
	window time.Duration // the limit's interval
	weight int
	header string // response header reporting the bucket's used weight
}

// costOf returns the weight of a request (EXCHANGES.md §1.3–1.6; the
// weights not verified there default to 1).
func costOf(method, path string, q url.Values) cost {
	hasSymbol := q.Get("symbol") != ""
	switch {
	case strings.HasPrefix(path, "/api/"):
		c := cost{bucket: "api", ip: true, limit: limitAPI, window: time.Minute, weight: 1, header: "X-Mbx-Used-Weight-1m"}
		switch {
		case path == "/api/v3/openOrders" && method == http.MethodGet:
			c.weight = 80
			if hasSymbol {
				c.weight = 6
			}
		case path == "/api/v3/account", path == "/api/v3/myTrades":
			c.weight = 20
		}
		return c
	case strings.HasPrefix(path, "/fapi/"), strings.HasPrefix(path, "/dapi/"):
		c := cost{bucket: path[1:5], ip: true, limit: limitFutures, window: time.Minute, weight: 1, header: "X-Mbx-Used-Weight-1m"}
		switch {
		case (strings.HasSuffix(path, "/openOrders") || path == "/fapi/v1/openAlgoOrders") && method == http.MethodGet:
			// 1 with a symbol, 40 without (openAlgoOrders too:
			// EXCHANGES.md C3).
			c.weight = 40
			if hasSymbol {
				c.weight = 1
			}
		case strings.HasSuffix(path, "/countdownCancelAll"):
			c.weight = 10
		case strings.HasSuffix(path, "/positionSide/dual"):
			c.weight = 30
		case path == "/dapi/v1/userTrades":
			c.weight = 20
		case strings.HasPrefix(path, "/fapi/v3/"), path == "/fapi/v1/userTrades":
			c.weight = 5
		}
		return c
	case strings.HasPrefix(path, "/sapi/"):
		switch {
		case strings.Contains(path, "/sub-account/subAccountApi"):
			return cost{bucket: "sapi-uid:" + method + " " + path, limit: limitSAPIUID, window: time.Minute, weight: weightSubKeyCall, header: "X-Sapi-Used-Uid-Weight-1m"}
		case path == "/sapi/v4/sub-account/assets":
			return cost{bucket: "sapi-uid:" + method + " " + path, limit: limitSAPIUID, window: time.Minute, weight: 60, header: "X-Sapi-Used-Uid-Weight-1m"}
		case path == "/sapi/v1/capital/withdraw/history":
			return cost{bucket: "sapi-uid:" + method + " " + path, limit: limitSAPIUID, window: time.Second, weight: 18000, header: "X-Sapi-Used-Uid-Weight-1s"}
		}
		c := cost{bucket: "sapi-ip:" + method + " " + path, ip: true, limit: limitSAPIIP, window: time.Minute, weight: 1, header: "X-Sapi-Used-Ip-Weight-1m"}
		switch path {
		case "/sapi/v1/margin/openOrders":
			// 10 with a symbol; Binance says much more without one and
			// gives no number (EXCHANGES.md C5): count it as 40.
			c.weight = 10
			if !hasSymbol && method == http.MethodGet {
				c.weight = 40
			}
		case "/sapi/v1/margin/account", "/sapi/v1/margin/isolated/account", "/sapi/v1/margin/myTrades", pathSubStatus:
			c.weight = 10
		case "/sapi/v1/asset/wallet/balance":
			c.weight = 60
		case "/sapi/v3/asset/getUserAsset":
			c.weight = 5
		}
		// universalTransfer's IP weight is 1; its UID weight (360) is
		// charged by uidCostOf.
		return c
	}
	return cost{bucket: "other", ip: true, limit: limitAPI, window: time.Minute, weight: 1}
}

// uidCostOf returns the UID weight an IP-limited /sapi endpoint costs on
// top of its IP weight: POST /sapi/v1/sub-account/universalTransfer is IP 1
// + UID 360 (EXCHANGES.md C4).
func uidCostOf(method, path string) (cost, bool) {
	if method == http.MethodPost && path == "/sapi/v1/sub-account/universalTransfer" {
		return cost{bucket: "sapi-uid:" + method + " " + path, limit: limitSAPIUID, window: time.Minute, weight: 360, header: "X-Sapi-Used-Uid-Weight-1m"}, true
	}
	return cost{}, false
}

// orderCostsOf returns the order-rate buckets a request counts against
// (per account): Binance counts new orders, not cancels, in its order-rate
// limits (spot 100 per 10 s; USDⓈ-M and COIN-M 300 per 10 s and 1200 per
// minute, VIP0 defaults). The executor sends new orders only to close
// positions.
func orderCostsOf(method, path string) []cost {
	if method != http.MethodPost {
		return nil
	}
	switch path {
	case "/api/v3/order", "/sapi/v1/margin/order":
		return []cost{{bucket: "orders-10s:spot", limit: 100, window: 10 * time.Second, weight: 1, header: "X-Mbx-Order-Count-10s"}}
	case "/fapi/v1/order", "/dapi/v1/order":
		f := path[1:5]
		return []cost{
			{bucket: "orders-10s:" + f, limit: 300, window: 10 * time.Second, weight: 1, header: "X-Mbx-Order-Count-10s"},
			{bucket: "orders-1m:" + f, limit: 1200, window: time.Minute, weight: 1, header: "X-Mbx-Order-Count-1m"},
		}
	}
	return nil
}

// costsOf is every charge of one request: its weight (IP or UID), the UID
// weight of an endpoint that has both, and its order-rate counts.
func costsOf(method, path string, q url.Values, host string) []cost {
	c := costOf(method, path, q)
	if c.ip {
		c.host = host
	}
	costs := []cost{c}
	if uc, ok := uidCostOf(method, path); ok {
		costs = append(costs, uc)
	}
	return append(costs, orderCostsOf(method, path)...)
}

// pacer charges each request to its buckets (executors/internal/budget)
// before it is sent. UID-scoped buckets (and order counts) are the
// account's own set; IP-scoped ones (cost.ip with a host) live in the
// process-wide shared set of the host, so executors of several accounts
// behind one IP together stay under the IP limits.
type pacer struct {
	p   *budget.Pacer
	own *budget.Set
	// scale multiplies every limit (tests shrink it); 0 means 1.
	scale float64
}

func newPacer(now func() time.Time, sleep func(context.Context, time.Duration) error) *pacer {
	return &pacer{p: &budget.Pacer{Now: now, Sleep: sleep}, own: budget.NewSet()}
}

// set returns the budget set c is charged to.
func (p *pacer) set(c cost) *budget.Set {
	if c.ip && c.host != "" {
		return budget.Shared("binance|" + c.host)
	}
	return p.own
}

// spec is the bucket of c: an aligned window, with pacerMargin of the
// limit usable.
func (p *pacer) spec(c cost) budget.Spec {
	s := p.scale
	if s == 0 {
		s = 1
	}
	limit := int(float64(c.limit) * s)
	return budget.Spec{Name: c.bucket, Limit: limit, Window: c.window, Aligned: true, Guard: windowGuard, Reserve: limit - int(float64(limit)*pacerMargin)}
}

// wait blocks until every cost fits its bucket, then reserves them, at
// the priority ctx carries (budget.PriorityOf), or budget.Report for a
// request charged to a bucket withReportOnly named.
func (p *pacer) wait(ctx context.Context, costs ...cost) (*budget.Reservation, error) {
	only, _ := ctx.Value(reportOnlyKey{}).([]string)
	bc := make([]budget.Cost, len(costs))
	for i, c := range costs {
		bc[i] = budget.Cost{Set: p.set(c), Spec: p.spec(c), Weight: c.weight}
		if slices.Contains(only, c.bucket) {
			ctx = budget.WithPriority(ctx, budget.Report)
		}
	}
	return p.p.Wait(ctx, bc...)
}

type reportOnlyKey struct{}

// withReportOnly returns ctx whose requests charged to any of buckets
// only feed the report: they are budgeted at budget.Report whatever the
// action's priority (keys.inventory's per-key IP restriction reads).
func withReportOnly(ctx context.Context, buckets ...string) context.Context {
	return context.WithValue(ctx, reportOnlyKey{}, buckets)
}

// observe settles r with a response's headers: each bucket's used-weight
// header corrects the local count (budget.Pacer.Settle: up to it, or down
// to what the venue can still count); a 429/418 closes the buckets for
// Retry-After (at least a second).
func (p *pacer) observe(r *budget.Reservation, costs []cost, h http.Header, status int, retryAfter time.Duration) {
	throttled := throttledStatus(status)
	for _, c := range costs {
		o := budget.Observation{Used: -1, Limit: -1}
		if c.header != "" {
			if v, err := strconv.Atoi(h.Get(c.header)); err == nil {
				o.Used = v
			}
		}
		if throttled {
			o.Throttled, o.Reset = true, max(retryAfter, time.Second)
		}
		p.p.Settle(r, c.bucket, o)
	}
}

// limitName is the operator's name of a bucket (cost.bucket).
func limitName(bucket string) string {
	kind, what, _ := strings.Cut(bucket, ":")
	switch kind {
	case "api", "fapi", "dapi":
		return "IP weight (/" + kind + ")"
	case "other":
		return "IP weight"
	case "sapi-ip":
		return "IP weight for " + what
	case "sapi-uid":
		return "account weight for " + what
	case "orders-10s":
		return what + " order count per 10 s"
	case "orders-1m":
		return what + " order count per minute"
	}
	return bucket
}

// throttledStatus says an HTTP status is Binance's rate-limit answer: 429,
// or 418 (the IP banned after 429s went unheeded).
func throttledStatus(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusTeapot
}

// release settles r when no answer came.
func (p *pacer) release(r *budget.Reservation) { p.p.Release(r) }

// capture receives what the transport saw of one request: the SDK does not
// expose the HTTP status or headers, so each call puts a capture in its
// context and the transport fills it in.
type capture struct {
	mu           sync.Mutex
	status       int
	retryAfter   time.Duration
	method, path string // of the last request sent
}

// request returns the method and path of the request the call sent last.
func (c *capture) request() (method, path string) {
	if c == nil {
		return "", ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.method, c.path
}

func (c *capture) get() (int, time.Duration) {
	if c == nil {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status, c.retryAfter
}

type captureKey struct{}

func withCapture(ctx context.Context, c *capture) context.Context {
	return context.WithValue(ctx, captureKey{}, c)
}

// observingTransport paces each request, then records its status,
// Retry-After and used-weight headers and reports it to Env.Observer. A
// read still unanswered after the hedge delay is hedged (see hedged).
type observingTransport struct {
	base     http.RoundTripper
	pacer    *pacer
	account  string
	observer func(account string, req *http.Request, resp *http.Response, err error)
	// timeout bounds one request from the moment it is sent (after any
	// wait for budget) until its body is read; 0 means none.
	timeout time.Duration
	// sign, when set, re-stamps and re-signs a signed request at the
	// moment it is sent (Executor.resign).
	sign func(*http.Request) (*http.Request, error)
	// prefix is the path of the base URL (e.g. the emulator's
	// "/binance"): the cost tables know Binance's paths without it.
	prefix string
	// hedges measures this client's round trips (its host's distance)
	// for the hedge delay and counts its hedges.
	hedges hedge.Tracker
}

func (t *observingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	unlockBuilt(req)
	path := strings.TrimPrefix(req.URL.Path, t.prefix)
	costs := costsOf(req.Method, path, req.URL.Query(), req.URL.Host)
	rsv, err := t.pacer.wait(req.Context(), costs...)
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	if t.sign != nil {
		// Signed now, after any wait for budget: the SDK stamped and
		// signed it when it was built, which may be a window ago.
		if req, err = t.sign(req); err != nil {
			t.pacer.release(rsv)
			return nil, err
		}
	}
	cp, _ := req.Context().Value(captureKey{}).(*capture)
	if cp != nil {
		cp.mu.Lock()
		cp.method, cp.path = req.Method, path
		cp.mu.Unlock()
	}
	var resp *http.Response
	if hedgeable(req, path) {
		resp, err = t.hedged(req, costs, rsv)
	} else {
		resp, err = t.send(req, costs, rsv)
	}
	if err == nil && cp != nil {
		cp.mu.Lock()
		cp.status, cp.retryAfter = resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After"))
		cp.mu.Unlock()
	}
	return resp, err
}

// send sends one copy of req, paced and signed already (its budget is
// rsv): its per-request timeout starts now and covers reading the body
// (the timeout is cancelled when the body is closed). The answer settles
// rsv and its round trip is recorded for the hedge delay.
func (t *observingTransport) send(req *http.Request, costs []cost, rsv *budget.Reservation) (*http.Response, error) {
	sent := req
	var cancel context.CancelFunc = func() {}
	if t.timeout > 0 {
		var ctx context.Context
		ctx, cancel = context.WithTimeout(req.Context(), t.timeout)
		sent = req.WithContext(ctx)
	}
	start := time.Now()
	resp, err := t.base.RoundTrip(sent)
	if err != nil {
		cancel()
		t.pacer.release(rsv)
	} else {
		t.hedges.Observe(time.Since(start))
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
		ra := parseRetryAfter(resp.Header.Get("Retry-After"))
		t.pacer.observe(rsv, costs, resp.Header, resp.StatusCode, ra)
	}
	if t.observer != nil {
		t.observer(t.account, redactedRequest(req), resp, err)
	}
	if resp != nil {
		// The spot SDK client copies these into unsynchronised fields of
		// the shared *Client on every response, a data race under our
		// parallel calls; the pacer has read them already.
		for _, h := range sdkRacyHeaders {
			resp.Header.Del(h)
		}
	}
	return resp, err
}

// hedgeable reports whether req may be hedged: a GET (a read: no Binance
// GET changes anything, so two copies cannot act twice) without a body,
// other than a server-time read (its round trip is the clock offset's
// error bar; a copy sent later would skew it).
func hedgeable(req *http.Request, path string) bool {
	return req.Method == http.MethodGet && (req.Body == nil || req.Body == http.NoBody) && !strings.HasSuffix(path, "/time")
}

// hedged sends req (paced already: rsv) and, if no answer has come after
// the hedge delay, a second copy, stamped and signed afresh, when the
// budget has room for it right now (it never waits for budget); the
// first answer is used, the other copy cancelled (executors/internal/hedge).
func (t *observingTransport) hedged(req *http.Request, costs []cost, rsv *budget.Reservation) (*http.Response, error) {
	first := func(ctx context.Context) (*http.Response, error) {
		return t.send(req.WithContext(ctx), costs, rsv)
	}
	second := func() (hedge.Attempt[*http.Response], bool) {
		r2, ok := t.pacer.spare(costs)
		if !ok {
			return nil, false
		}
		return func(ctx context.Context) (*http.Response, error) {
			c := req.Clone(ctx)
			if t.sign != nil {
				var err error
				if c, err = t.sign(c); err != nil {
					t.pacer.release(r2)
					return nil, err
				}
			}
			return t.send(c, costs, r2)
		}, true
	}
	res, err := hedge.Run(req.Context(), &t.hedges, t.hedges.Delay(t.timeout), first, second, func(r *http.Response) { _ = r.Body.Close() })
	if err != nil {
		return nil, err
	}
	res.Value.Body = &cancelOnClose{ReadCloser: res.Value.Body, cancel: res.Cancel}
	return res.Value, nil
}

// errNoSpare ends spare's attempt to reserve budget without waiting.
var errNoSpare = errors.New("no spare budget for a hedge")

// spare reserves costs for a hedge only if they fit now and leave the
// pacer's reserve plus hedge.Headroom untouched: a hedge never waits for
// budget and never takes from a window what a cancel will need.
func (p *pacer) spare(costs []cost) (*budget.Reservation, bool) {
	bc := make([]budget.Cost, len(costs))
	for i, c := range costs {
		spec := p.spec(c)
		spec.Reserve += hedge.Headroom(spec.Limit, c.weight)
		bc[i] = budget.Cost{Set: p.set(c), Spec: spec, Weight: c.weight}
	}
	now := &budget.Pacer{Now: p.p.Now, Sleep: func(context.Context, time.Duration) error { return errNoSpare }}
	r, err := now.Wait(context.Background(), bc...)
	return r, err == nil
}

// Hedges reports the hedged reads of this executor: copies sent, copies
// that answered first, and reads due a hedge the budget had no room for.
func (e *Executor) Hedges() (sent, won, skipped int) {
	for _, hc := range e.https {
		if t, ok := hc.Transport.(*observingTransport); ok {
			s, w, k := t.hedges.Stats()
			sent, won, skipped = sent+s, won+w, skipped+k
		}
	}
	return sent, won, skipped
}

// cancelOnClose releases a request's timeout once its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// sdkRacyHeaders are the response headers the spot SDK client stores in
// Client.UsedWeight / Client.OrderCount (go-binance client.go callAPI).
var sdkRacyHeaders = []string{"X-Mbx-Used-Weight", "X-Mbx-Used-Weight-1m", "X-Mbx-Order-Count-10s", "X-Mbx-Order-Count-1d"}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// newHTTPClient builds one client's own http.Client over env.Transport
// (executors.SharedTransport by default).
func newHTTPClient(env executors.Env, account, baseURL string, p *pacer, timeout time.Duration, sign func(*http.Request) (*http.Request, error)) *http.Client {
	prefix := ""
	if u, err := url.Parse(baseURL); err == nil {
		prefix = strings.TrimRight(u.Path, "/")
	}
	// No http.Client.Timeout: it would count the wait for budget; the
	// transport bounds each request from the moment it is sent.
	return &http.Client{
		Transport: &observingTransport{base: env.Transport, pacer: p, account: account, observer: env.Observer, timeout: timeout, sign: sign, prefix: prefix},
	}
}

// redactedRequest is what observers see: the request without the API key
// header and without the signature, so a logging or metrics observer
// cannot leak either.
func redactedRequest(r *http.Request) *http.Request {
	c := r.Clone(r.Context())
	c.Header.Del("X-MBX-APIKEY")
	if q := c.URL.Query(); q.Has("signature") {
		q.Del("signature")
		c.URL.RawQuery = q.Encode()
	}
	return c
}
